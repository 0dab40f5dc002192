# SPDX-License-Identifier: Apache-2.0
"""memcached's text protocol, for the tests and benchmarks that look at or stage store items
directly (one connection per command; the module's own client is libmemcached)."""
import socket

Addr = tuple[str, int]
# how each reply of the commands used here ends
REPLY_ENDS = (b"END\r\n", b"OK\r\n", b"ERROR\r\n", b"STORED\r\n", b"NOT_STORED\r\n",
              b"DELETED\r\n", b"NOT_FOUND\r\n", b"EXISTS\r\n")


def _read_until(s: socket.socket, ends) -> bytes:
    data = b""
    while not data.endswith(ends):
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        data += chunk
    return data


def command(addr: Addr, line: str, timeout: float = 10) -> bytes:
    """One command without a data block (stats, flush_all, lru_crawler metadump ...): its reply."""
    with socket.create_connection(addr, timeout=timeout) as s:
        s.sendall(line.encode() + b"\r\n")
        return _read_until(s, REPLY_ENDS)


def get(addr: Addr, key: str, timeout: float = 10) -> bytes | None:
    """The value of key, or None when memcached has none. Reads exactly the announced length,
    so a value's bytes are never taken for the end of the reply."""
    with socket.create_connection(addr, timeout=timeout) as s:
        s.sendall(f"get {key}\r\n".encode())
        data = _read_until(s, (b"\r\n",))
        if not data.startswith(b"VALUE "):
            return None
        header, rest = data.split(b"\r\n", 1)
        want = int(header.split()[3]) + len(b"\r\nEND\r\n")
        while len(rest) < want:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            rest += chunk
    return rest[:want - len(b"\r\nEND\r\n")]


def set_item(addr: Addr, key: str, value: bytes, ttl: int, timeout: float = 10) -> bool:
    """Stores value under key for ttl seconds; True when memcached answers STORED."""
    with socket.create_connection(addr, timeout=timeout) as s:
        s.sendall(f"set {key} 0 {ttl} {len(value)}\r\n".encode() + value + b"\r\n")
        return _read_until(s, REPLY_ENDS) == b"STORED\r\n"
