#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Bytes per session in memcached, and items written per login and per refresh, for
mod_rtsession (and mod_auth_openidc unless --no-openidc), each on its own memcached.
Item sizes are memcached's own (lru_crawler metadump: key + value + item header).
Two real logins through httpd, each measured after the login and after one refresh:
- normal: the test OP's defaults (opaque access token, alice with 2 groups);
- heavy: the test OP in heavy mode (tests/op/README.md: "access_token_format": "jwt",
  "heavy_user_groups": 20), user "heavy": an RS256 JWT access token carrying 20 long group
  names, which the ID token carries too.
Token lengths are those the OP issued (its token log). No token value is printed.
Usage: /usr/bin/python3 tests/bench/session_bytes.py [--no-openidc]"""
import argparse
import base64
import json
import sys
import time

import requests

import benchlib as bl
from rtstest.sessions import SessionReader

COOKIE = "__Host-rtsession"
OIDC_COOKIE = "mod_auth_openidc_session"
TARGET = 1400
HEAVY_GROUPS = 20
HEAVY_OP = {"access_token_format": "jwt", "heavy_user_groups": HEAVY_GROUPS}
HEAVY_USER = ("heavy", "heavy-session")
# the static backend echoes these request headers on /app/storm (benchlib.Env._start_backend)
HEAVY_LOCATION = "  RTSessionClaimHeader X-Remote-Groups groups"
ECHO_PATH = "/app/storm"


def mc_items(port) -> list[dict]:
    """bl.mc_items, retried until it lists curr_items items: the crawler can miss an item that
    the LRU maintainer moves between sub-LRUs during the dump."""
    best = []
    for _ in range(10):
        items = bl.mc_items(port)
        if len(items) == bl.mc_stats(port)["curr_items"]:
            return items
        best = max(best, items, key=len)
        time.sleep(0.2)
    print(f"warning: lru_crawler metadump on port {port} lists {len(best)} items, stats "
          f"curr_items {bl.mc_stats(port)['curr_items']}", file=sys.stderr)
    return best


def items_by_prefix(port):
    out = {}
    for it in mc_items(port):
        prefix = ":".join(it["key"].split(":")[:2]) if it["key"].startswith("rts:") else it["key"][:12]
        out.setdefault(prefix, []).append(it["size"])
    return out


def item_overhead(port) -> int:
    """memcached's per-item bytes beyond key and value, measured with a probe item."""
    key, value = "rts-bench-probe", b"x" * 100
    bl.mc_command(port, f"set {key} 0 60 {len(value)}\r\n{value.decode()}")
    size = next(i["size"] for i in mc_items(port) if i["key"] == key)
    bl.mc_command(port, f"delete {key}")
    return size - len(key) - len(value)


def item_size(port, key):
    return next((i["size"] for i in mc_items(port) if i["key"] == key), None)


def issued_lengths(op, grant_type) -> str:
    """access/refresh/ID token lengths of the OP's last successful grant of this type."""
    e = [e for e in op.token_log() if e["grant_type"] == grant_type and e["status"] == 200][-1]
    return "/".join(str(e.get(k)) for k in ("access_token_length", "refresh_token_length",
                                            "id_token_length"))


def jwt_groups(token: str):
    """Number of groups in a JWT's payload, or None when the token is not a JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except ValueError:
        return None
    return len(claims.get("groups", []))


def record_fields(reader, cookie) -> str:
    """Field names and types of the session as rtstest.sessions.SessionReader.read() gives it."""
    try:
        rec = reader.read(cookie)
    except Exception as e:   # noqa: BLE001 - the reader may lag behind a record format change
        return f"unreadable by SessionReader ({type(e).__name__})"
    if not isinstance(rec, dict):
        return f"SessionReader.read() gave {type(rec).__name__}"
    return ",".join(f"{k}:{type(v).__name__}" for k, v in sorted(rec.items()))


def measure_rts(env, h, mc, user="alice", password=None, path=bl.BENCH_PATH) -> dict:
    """A real login through h, then one refresh: memcached items, writes, and token lengths.
    The access token is due 2 s after login (TTL 4 s, refresh window 2 s)."""
    m = {}
    op_before = env.op.counters()
    before = bl.mc_ops([mc.port])
    cookie = env.login(h, COOKIE, user=user, password=password)
    after_login = bl.mc_ops([mc.port])
    m["items_login"] = items_by_prefix(mc.port)
    reader = SessionReader(env.session_secret, mc.port)
    key = reader.store_key(cookie)
    m["sealed"] = len(reader.raw(key) or b"")
    m["fields"] = record_fields(reader, cookie)
    m["item_login"] = item_size(mc.port, key)
    m["issued_login"] = issued_lengths(env.op, "authorization_code")
    m["writes_login"] = after_login["cmd_set"] - before["cmd_set"]
    m["deletes_login"] = after_login["delete_hits"] - before["delete_hits"]
    m["gets_login"] = after_login["cmd_get"] - before["cmd_get"]

    time.sleep(2.2)
    r = requests.get(f"{h.url}{path}", headers={"Cookie": f"{COOKIE}={cookie}"},
                     verify=str(env.pki.ca_cert), timeout=10)
    refreshes = env.op.counters()["refresh_grants"] - op_before["refresh_grants"]
    assert r.status_code == 200 and refreshes == 1, \
        f"no refresh: status {r.status_code}, {refreshes} refresh grants"
    after_refresh = bl.mc_ops([mc.port])
    m["items_refresh"] = items_by_prefix(mc.port)
    m["item_refresh"] = item_size(mc.port, key)
    m["issued_refresh"] = issued_lengths(env.op, "refresh_token")
    m["writes_refresh"] = after_refresh["cmd_set"] - after_login["cmd_set"]
    m["response"] = r
    return m


def measure_openidc(env, mc, user="alice", password=None):
    """mod_auth_openidc on its own memcached: items after one login, and its writes."""
    if not bl.OPENIDC_SO.exists():
        return [("mod_auth_openidc", "skipped: not installed")]
    try:
        port = env.httpd_ports[len(env.httpds)]
        oidc = env.httpd(f"openidc-{user}", env.openidc_conf(port).replace(
            f"127.0.0.1:{env.memcached.port}", f"127.0.0.1:{mc.port}"),
            with_module=False, extra_modules=[("auth_openidc_module", bl.OPENIDC_SO)])
        ob, cb = bl.mc_ops([mc.port]), env.op.counters()
        env.login(oidc, OIDC_COOKIE, user=user, password=password)
        oa, ca = bl.mc_ops([mc.port]), env.op.counters()
        items = mc_items(mc.port)
    except (RuntimeError, AssertionError) as e:
        return [("mod_auth_openidc", f"skipped: {e}")]
    # its cache keys are "<section>:<name>": s session, n nonce, d/j provider metadata/JWKS, ...
    by_section = {}
    for it in sorted(items, key=lambda i: i["key"]):
        by_section.setdefault(it["key"].split(":")[0], []).append(it["size"])
    return [("mod_auth_openidc items after 1 login (by key section)",
             f"{by_section} total {sum(i['size'] for i in items)}"),
            ("mod_auth_openidc writes per login (set)", oa["cmd_set"] - ob["cmd_set"]),
            # the OP refuses an audience-bound (JWT) access token at userinfo: then the peer
            # stores no userinfo claims, and its session item is smaller than it would be
            ("mod_auth_openidc userinfo calls at login / refused",
             f"{ca['userinfo'] - cb['userinfo']} / {ca['userinfo_errors'] - cb['userinfo_errors']}")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-openidc", action="store_true")
    args = ap.parse_args()

    # normal session: the test OP's defaults
    with bl.Env(n_httpd=2, n_memcached=2, access_token_ttl=4) as env:
        mc_rts, mc_oidc = env.memcacheds
        rts = env.httpd("rts", env.rts_conf(memcached=mc_rts.server_arg, refresh_window=2))
        overhead = item_overhead(mc_rts.port)
        n = measure_rts(env, rts, mc_rts)
        oidc_rows = [] if args.no_openidc else measure_openidc(env, mc_oidc)

    # heavy session: the OP in heavy mode, a second cast
    with bl.Env(n_httpd=2, n_memcached=2, access_token_ttl=4, op_config=HEAVY_OP) as env:
        mc_rts, mc_oidc = env.memcacheds
        rts = env.httpd("rts-heavy", env.rts_conf(memcached=mc_rts.server_arg, refresh_window=2,
                                                  location_extra=HEAVY_LOCATION))
        hv = measure_rts(env, rts, mc_rts, *HEAVY_USER, path=ECHO_PATH)
        # what the module forwarded after the refresh: the JWT access token and the ID token's groups
        at_groups = jwt_groups(hv["response"].headers.get("X-Echo-Access-Token", ""))
        id_groups = len([g for g in hv["response"].headers.get("X-Echo-Remote-Groups", "").split(",")
                         if g.strip()])
        assert at_groups == HEAVY_GROUPS and id_groups == HEAVY_GROUPS, \
            f"heavy session: {at_groups} groups in the access token, {id_groups} in the ID token"
        heavy_oidc_rows = [] if args.no_openidc else measure_openidc(env, mc_oidc, *HEAVY_USER)

    rows = [
        ("session record (sealed value) bytes", n["sealed"]),
        ("session item in memcached (metadump size)", n["item_login"]),
        ("  target", f"<= {TARGET}: {'met' if n['item_login'] <= TARGET else 'MISSED'}"),
        ("memcached per-item overhead (probe)", overhead),
        ("record fields (SessionReader.read)", n["fields"]),
        ("tokens as issued, access/refresh/ID bytes", n["issued_login"]),
        ("items after 1 login (by key prefix)", n["items_login"]),
        ("writes per login (set/add/cas: cmd_set)", n["writes_login"]),
        ("deletes per login", n["deletes_login"]),
        ("gets per login", n["gets_login"]),
        ("session item after 1 refresh", n["item_refresh"]),
        ("items after 1 refresh (by key prefix)", n["items_refresh"]),
        ("writes per refresh (cmd_set, incl. the CAS-taken intent)", n["writes_refresh"]),
        *oidc_rows,
        (f"heavy session: JWT access token, {HEAVY_GROUPS} groups (real login)", ""),
        ("  tokens as issued at login, access/refresh/ID bytes", hv["issued_login"]),
        ("  groups in the forwarded access token / ID token", f"{at_groups} / {id_groups}"),
        ("  session record (sealed value) bytes", hv["sealed"]),
        ("  session item in memcached (metadump size)", hv["item_login"]),
        ("  items after 1 login (by key prefix)", hv["items_login"]),
        ("  writes per login (cmd_set)", hv["writes_login"]),
        ("  tokens as issued at refresh, access/refresh/ID bytes", hv["issued_refresh"]),
        ("  session item after 1 refresh", hv["item_refresh"]),
        ("  items after 1 refresh (by key prefix)", hv["items_refresh"]),
        ("  writes per refresh (cmd_set)", hv["writes_refresh"]),
        *[(f"  {k}", v) for k, v in heavy_oidc_rows],
    ]
    print(f"\nbytes per session, nproc {bl.nproc()}, load average {bl.loadavg()}")
    for k, v in rows:
        print(f"{k:58s} {v}")
    return 0 if n["item_login"] <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
