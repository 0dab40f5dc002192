# SPDX-License-Identifier: Apache-2.0
"""Free loopback ports, picked by the harness (bind to port 0, note it, release it)."""
import random
import socket


# Below the kernel's ephemeral range (net.ipv4.ip_local_port_range, 32768-60999 on Debian): a
# port from that range can be taken as the local port of some outgoing connection between the
# moment we pick it and the moment the service binds it (seen once: the OP never came up).
PICK_RANGE = (20000, 32000)
# Ports handed out by this process: two calls must not return the same port before either
# service has bound it (a benchmark picks its memcached ports and its OP port separately).
_handed_out: set[int] = set()


def free_ports(n: int) -> list[int]:
    socks, ports = [], []
    try:
        for port in random.sample(range(*PICK_RANGE), PICK_RANGE[1] - PICK_RANGE[0]):
            if len(ports) == n:
                break
            if port in _handed_out:
                continue
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                s.close()
                continue
            socks.append(s)
            ports.append(port)
    finally:
        for s in socks:
            s.close()
    assert len(ports) == n, f"only {len(ports)} free loopback ports in {PICK_RANGE}"
    _handed_out.update(ports)
    return ports


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
