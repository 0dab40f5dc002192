#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Hot path: requests/s and latency with wrk over HTTPS on loopback (32 connections, 2 threads),
interleaved A B C A B C, three rounds:
  A  the same httpd proxying the same static backend without authentication,
  B  mod_rtsession with a valid session cookie (no refresh due),
  C  Debian's mod_auth_openidc (memcache cache, server-side session, same OP/backend/MPM).
Prints per-run figures, the medians, B/A and C/A, the added p99, memcached ops per request, and
the CPU time per request of the variant's httpd (its children, from /proc) and of memcached.
Then the latency without load (1 connection, 5 s each): what the module adds to one request
when no queueing hides or inflates it.
Usage: /usr/bin/python3 tests/bench/hotpath.py [--duration 10] [--rounds 3] [--no-openidc]
Env: RTS_MODULE (the module under test; default build/, from scripts/build.sh), RTS_MPM
(event|worker|prefork)."""
import argparse
import os
import statistics
import sys
from pathlib import Path

import benchlib as bl
from rtstest.httpd import mpm

RTS_COOKIE = "__Host-rtsession"
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(marker: str) -> float:
    """User + system CPU of every live process whose command line contains marker."""
    total = 0
    for d in Path("/proc").iterdir():
        try:
            if not d.name.isdigit():
                continue
            cmdline = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if marker not in cmdline:
                continue
            fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            continue
    return total / TICKS


def pin_process(pid: int, cpus) -> None:
    """Every thread of pid onto cpus."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        os.sched_setaffinity(int(task.name), cpus)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--no-openidc", action="store_true")
    ap.add_argument("--baseline-module", metavar="SO",
                    help="another build of mod_rtsession (e.g. of the previous release), measured "
                         "as variant B0 in the same interleaved rounds: a before/after figure")
    ap.add_argument("--unloaded-seconds", type=int, default=5)
    ap.add_argument("--memcached-own-cpu", action="store_true",
                    help="memcached on the last CPU, everything else on the others: memcached "
                         "as on another host, the web host one CPU smaller (needs nproc >= 2)")
    args = ap.parse_args()

    unloaded = {}
    cpus = sorted(os.sched_getaffinity(0))
    if args.memcached_own_cpu:
        assert len(cpus) >= 2, "--memcached-own-cpu needs 2 CPUs"
        os.sched_setaffinity(0, cpus[:-1])    # inherited by everything started from here
    with bl.Env(n_httpd=4 if args.baseline_module else 3) as env:
        if args.memcached_own_cpu:
            pin_process(env.memcached.proc.pid, cpus[-1:])
        plain = env.httpd("plain", env.plain_conf(), with_module=False)
        rts = env.httpd("rts", env.rts_conf())
        variants = {"A plain proxy": (plain, {}),
                    "B mod_rtsession": (rts, {"Cookie": f"{RTS_COOKIE}={env.login(rts, RTS_COOKIE)}"})}
        if args.baseline_module:
            base_h = env.httpd("rts-baseline", env.rts_conf(), module=args.baseline_module)
            variants["B0 baseline module"] = (
                base_h, {"Cookie": f"{RTS_COOKIE}={env.login(base_h, RTS_COOKIE)}"})
        if not args.no_openidc:
            try:
                oidc = env.openidc_httpd()
                cookie = env.login(oidc, "mod_auth_openidc_session")
                variants["C mod_auth_openidc"] = (oidc, {"Cookie": f"mod_auth_openidc_session={cookie}"})
            except (RuntimeError, AssertionError) as e:
                print(f"mod_auth_openidc skipped: {e}", file=sys.stderr)
        results = {k: [] for k in variants}
        mc_port = [env.memcached.port]
        mc_marker = f"-p {env.memcached.port} "
        markers = {k: f"{h.root}/conf/" for k, (h, _) in variants.items()}
        for k, (h, headers) in variants.items():     # warm up: connections, caches
            bl.wrk(h.url + bl.BENCH_PATH, headers, args.connections, 2, 2)
        for rnd in range(args.rounds):
            for k, (h, headers) in variants.items():
                before = bl.mc_ops(mc_port)
                cpu0, mc_cpu0 = cpu_seconds(markers[k]), cpu_seconds(mc_marker)
                r = bl.wrk(h.url + bl.BENCH_PATH, headers, args.connections, 2, args.duration)
                cpu1, mc_cpu1 = cpu_seconds(markers[k]), cpu_seconds(mc_marker)
                after = bl.mc_ops(mc_port)
                n = max(r["requests"], 1)
                r["mc"] = {op: (after[op] - before[op]) / n for op in bl.MC_OPS}
                r["httpd_us"] = 1e6 * (cpu1 - cpu0) / n
                r["mc_us"] = 1e6 * (mc_cpu1 - mc_cpu0) / n
                results[k].append(r)
                print(f"round {rnd + 1} {k:20s} {r['rps']:9.0f} req/s  p50 {r['p50_ms']:.3f} ms  "
                      f"p99 {r['p99_ms']:.3f} ms  httpd {r['httpd_us']:.0f} us/req  "
                      f"memcached {r['mc_us']:.1f} us/req  non-2xx {r['non2xx']}  errors {r['errors']}",
                      flush=True)
        unloaded = {k: bl.wrk(h.url + bl.BENCH_PATH, headers, 1, 1, args.unloaded_seconds)
                    for k, (h, headers) in variants.items()}

    print(f"\nhot path, {args.connections} connections, 2 wrk threads, {args.duration} s x "
          f"{args.rounds} rounds, MPM {mpm()}, "
          f"nproc {bl.nproc()}, load average {bl.loadavg()}"
          + (f", memcached alone on CPU {cpus[-1]}, the rest on {cpus[:-1]}"
             if args.memcached_own_cpu else ""))
    print(f"{'variant':22s} {'req/s (median)':>15s} {'ratio':>7s} {'p50 ms':>8s} {'p99 ms':>8s} "
          f"{'+p99 ms':>8s} {'get/req':>8s} {'set/req':>8s} {'touch/req':>9s} {'httpd us':>9s} "
          f"{'+us':>6s} {'mc us':>6s} {'non2xx':>7s}")
    base = results["A plain proxy"]
    base_p99 = statistics.median(r["p99_ms"] for r in base)
    base_cpu = statistics.median(r["httpd_us"] for r in base)
    for k, runs in results.items():
        rps = statistics.median(r["rps"] for r in runs)
        p50 = statistics.median(r["p50_ms"] for r in runs)
        p99 = statistics.median(r["p99_ms"] for r in runs)
        mc = {op: statistics.median(r["mc"][op] for r in runs) for op in bl.MC_OPS}
        cpu = statistics.median(r["httpd_us"] for r in runs)
        mc_cpu = statistics.median(r["mc_us"] for r in runs)
        # the ratio of each round's adjacent runs, then the median: robust to the machine's drift
        ratio = statistics.median(r["rps"] / b["rps"] for r, b in zip(runs, base))
        print(f"{k:22s} {rps:15.0f} {ratio:7.2f} {p50:8.3f} {p99:8.3f} "
              f"{p99 - base_p99:+8.3f} {mc['cmd_get']:8.2f} {mc['cmd_set']:8.2f} "
              f"{mc['cmd_touch']:9.3f} {cpu:9.0f} {cpu - base_cpu:+6.0f} {mc_cpu:6.1f} "
              f"{sum(r['non2xx'] + r['errors'] for r in runs):7d}")
    print("ratio: the median of the per-round ratios (each round's runs are adjacent in time); "
          "httpd us: CPU time (user + system) of the variant's httpd per request, the backend "
          "httpd not included; +us: over the plain proxy; mc us: memcached's CPU per request")
    print("per-round ratios: " + "  ".join(
        f"{k.split()[0]}/A " + " ".join(f"{r['rps'] / b['rps']:.2f}" for r, b in zip(runs, base))
        for k, runs in results.items() if runs is not base))
    print(f"\nwithout load: 1 connection, {args.unloaded_seconds} s each")
    print(f"{'variant':22s} {'req/s':>8s} {'p50 ms':>8s} {'p99 ms':>8s} {'+p50 ms':>8s} {'+p99 ms':>8s}")
    a = unloaded["A plain proxy"]
    for k, r in unloaded.items():
        print(f"{k:22s} {r['rps']:8.0f} {r['p50_ms']:8.3f} {r['p99_ms']:8.3f} "
              f"{r['p50_ms'] - a['p50_ms']:+8.3f} {r['p99_ms'] - a['p99_ms']:+8.3f}")
    bad = [k for k, runs in results.items()
           if any(r["non2xx"] or r["errors"] for r in runs + [unloaded[k]])]
    if bad:
        print(f"WARNING: non-2xx answers or socket errors in {bad}: the figures are not valid")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
