#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Scale: hot-path requests/s of one logged-in session with 1 session in memcached, then with
100,000 (written directly in the module's record format, rtstest/sessions.py: the real
session's record sealed under 100,000 other random cookies), then with 1 again.
Target: the figure at 100,000 sessions within 5% of the figure at 1 session.
Usage: /usr/bin/python3 tests/bench/scale.py [--sessions 100000] [--duration 10]"""
import argparse
import secrets
import socket
import statistics
import sys
import time


import benchlib as bl
from rtstest import mc
from rtstest.sessions import SessionReader

COOKIE = "__Host-rtsession"


def populate(reader: SessionReader, port: int, record: dict, n: int, ttl: int = 3600) -> float:
    """Writes n sealed session records, pipelined in batches; returns seconds taken."""
    t0 = time.time()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        batch = []
        for i in range(n):
            key, value = reader.seal(secrets.token_urlsafe(32), record)
            batch.append(f"set {key} 0 {ttl} {len(value)}\r\n".encode() + value + b"\r\n")
            if len(batch) == 500 or i == n - 1:
                s.sendall(b"".join(batch))
                want, got = len(batch), b""
                while got.count(b"\r\n") < want:
                    got += s.recv(65536)
                assert got.count(b"STORED\r\n") == want, got[:200]
                batch = []
    return time.time() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=100_000)
    ap.add_argument("--duration", type=int, default=10)
    args = ap.parse_args()
    runs = []
    with bl.Env(n_httpd=1, memcached_mb=512) as env:
        h = env.httpd("rts", env.rts_conf())
        cookie = env.login(h, COOKIE)
        port = env.memcached.port
        reader = SessionReader(env.session_secret, port)
        key = reader.store_key(cookie)
        raw = reader.raw(key)
        record = reader.read(cookie)
        headers = {"Cookie": f"{COOKIE}={cookie}"}
        url = h.url + bl.BENCH_PATH
        bl.wrk(url, headers, 32, 2, 2)     # warm-up

        def measure(label):
            items = bl.mc_stats(port)["curr_items"]
            r = bl.wrk(url, headers, 32, 2, args.duration)
            runs.append((label, items, r))
            print(f"{label:14s} items {items:7d}  {r['rps']:8.0f} req/s  p50 {r['p50_ms']:.3f} ms  "
                  f"p99 {r['p99_ms']:.3f} ms  non-2xx {r['non2xx']}", flush=True)

        measure("1 session")
        took = populate(reader, port, record, args.sessions)
        print(f"wrote {args.sessions} sessions in {took:.1f} s", flush=True)
        measure(f"{args.sessions} sessions")
        bl.mc_command(port, "flush_all")
        time.sleep(1.1)   # flush_all marks items older than "now" (second resolution)
        assert mc.set_item(("127.0.0.1", port), key, raw, 3600)
        measure("1 session")
        slabs = bl.mc_stats(port)
    one = statistics.mean(r["rps"] for label, _, r in runs if label == "1 session")
    many = next(r["rps"] for label, _, r in runs if label != "1 session")
    ratio = many / one
    print(f"\nscale, nproc {bl.nproc()}, load average {bl.loadavg()}, memcached bytes {slabs.get('bytes')}")
    print(f"{'sessions':>10s} {'req/s':>8s}")
    print(f"{1:10d} {one:8.0f}   (mean of the runs before and after)")
    print(f"{args.sessions:10d} {many:8.0f}   ratio {ratio:.3f} "
          f"(target >= 0.95: {'met' if ratio >= 0.95 else 'MISSED'})")
    bad = any(r["non2xx"] or r["errors"] for _, _, r in runs)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
