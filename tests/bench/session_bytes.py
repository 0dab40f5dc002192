#!/usr/bin/python3
"""Bytes per session in memcached, and items written per login and per refresh, for
mod_rtsession (and mod_auth_openidc unless --no-openidc), each on its own memcached.
Item sizes are memcached's own (lru_crawler metadump: key + value + item header).
The heavy session (20 groups, a long JWT access token) is the real session record re-sealed
with those values in the module's record format (rtstest/sessions.py), since the test OP
issues opaque access tokens.
Usage: /usr/bin/python3 tests/bench/session_bytes.py [--no-openidc]"""
import argparse
import base64
import json
import os
import sys
import time

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

import benchlib as bl
from rtstest.sessions import SessionReader, _hkdf

COOKIE = "__Host-rtsession"
TARGET = 1400


def items_by_prefix(port):
    out = {}
    for it in bl.mc_items(port):
        prefix = ":".join(it["key"].split(":")[:2]) if it["key"].startswith("rts:") else it["key"][:12]
        out.setdefault(prefix, []).append(it["size"])
    return out


def item_overhead(port) -> int:
    """memcached's per-item bytes beyond key and value, measured with a probe item."""
    key, value = "rts-bench-probe", b"x" * 100
    bl.mc_command(port, f"set {key} 0 60 {len(value)}\r\n{value.decode()}")
    size = next(i["size"] for i in bl.mc_items(port) if i["key"] == key)
    bl.mc_command(port, f"delete {key}")
    return size - len(key) - len(value)


def b64(d: bytes) -> str:
    return base64.urlsafe_b64encode(d).rstrip(b"=").decode()


def heavy_record(rec: dict) -> dict:
    """The record with a 20-group identity and a ~1 KB RS256 JWT access token in place of the
    test OP's values: every string field that carries a token or claims is replaced in shape."""
    heavy = dict(rec)
    claims = {"iss": "https://idp.example.test/realms/corp", "sub": "f3c1a2b4-9d8e-4c7f-a6b5-0e1d2c3b4a59",
              "aud": ["rts-test", "api://backend"], "exp": int(time.time()) + 300,
              "iat": int(time.time()), "scope": "openid email profile offline_access",
              "groups": [f"/org/department-{i:02d}/team-{i:02d}-members" for i in range(20)],
              "email": "alice.liddell@example.test", "name": "Alice Liddell"}
    jwt = ".".join([b64(json.dumps({"alg": "RS256", "kid": "k" * 43, "typ": "at+jwt"}).encode()),
                    b64(json.dumps(claims).encode()), b64(os.urandom(256))])
    heavy["a"] = jwt
    # the ID token (and any stored claims) carry the 20 groups too
    if isinstance(rec.get("i"), str) and rec["i"].count(".") == 2:
        h, p, sig = rec["i"].split(".")
        payload = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
        payload["groups"] = claims["groups"]
        heavy["i"] = ".".join([h, b64(json.dumps(payload).encode()), sig])
    if isinstance(rec.get("c"), dict):
        heavy["c"] = {**rec["c"], "groups": claims["groups"]}
    elif isinstance(rec.get("c"), str) and "groups" in rec["c"]:
        c = json.loads(rec["c"])
        c["groups"] = claims["groups"]
        heavy["c"] = json.dumps(c, separators=(",", ":"))
    return heavy, claims["groups"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-openidc", action="store_true")
    args = ap.parse_args()
    with bl.Env(n_httpd=2, n_memcached=2, access_token_ttl=62) as env:
        mc_rts, mc_oidc = env.memcacheds
        rts = env.httpd("rts", env.rts_conf(memcached=mc_rts.server_arg))
        overhead = item_overhead(mc_rts.port)
        before = bl.mc_ops([mc_rts.port])
        cookie = env.login(rts, COOKIE)
        after_login = bl.mc_ops([mc_rts.port])
        items_login = items_by_prefix(mc_rts.port)
        reader = SessionReader(env.session_secret, mc_rts.port)
        key = reader.store_key(cookie)
        sealed = reader.raw(key)
        rec = reader.read(cookie)
        session_item = next(i["size"] for i in bl.mc_items(mc_rts.port) if i["key"] == key)
        # a refresh: the access token is due 2 s after login (window 60 s)
        time.sleep(2.2)
        import requests
        r = requests.get(f"{rts.url}{bl.BENCH_PATH}", headers={"Cookie": f"{COOKIE}={cookie}"},
                         verify=str(env.pki.ca_cert), timeout=10)
        assert r.status_code == 200 and reader.read(cookie)["g"] == rec["g"] + 1, "no refresh"
        after_refresh = bl.mc_ops([mc_rts.port])
        items_refresh = items_by_prefix(mc_rts.port)
        session_item_2 = next(i["size"] for i in bl.mc_items(mc_rts.port) if i["key"] == key)

        # heavy: the same record, re-sealed with heavy values in the module's format
        heavy, groups = heavy_record(rec)
        seal_key = _hkdf(reader.key_seal, cookie.encode(), b"rtsession session v1")
        plain = json.dumps(heavy, separators=(",", ":")).encode()
        heavy_sealed = os.urandom(12) + AESGCM(seal_key).encrypt(os.urandom(12), plain, key.encode())
        heavy_item = len(key) + len(heavy_sealed) + overhead

        oidc_rows = []
        if not args.no_openidc:
            try:
                oidc = env.httpd("openidc", env.openidc_conf(env.httpd_ports[1]).replace(
                    f"127.0.0.1:{env.memcached.port}", f"127.0.0.1:{mc_oidc.port}"),
                    with_module=False, extra_modules=[("auth_openidc_module", bl.OPENIDC_SO)])
                ob = bl.mc_ops([mc_oidc.port])
                env.login(oidc, "mod_auth_openidc_session")
                oa = bl.mc_ops([mc_oidc.port])
                its = bl.mc_items(mc_oidc.port)
                oidc_rows = [("mod_auth_openidc items after 1 login",
                              ", ".join(sorted(str(i["size"]) for i in its)) + " bytes"),
                             ("mod_auth_openidc writes per login (set)", oa["cmd_set"] - ob["cmd_set"])]
            except (RuntimeError, AssertionError) as e:
                oidc_rows = [("mod_auth_openidc", f"skipped: {e}")]

    rows = [
        ("session record (sealed value) bytes", len(sealed)),
        ("session item in memcached (metadump size)", session_item),
        ("  target", f"<= {TARGET}: {'met' if session_item <= TARGET else 'MISSED'}"),
        ("memcached per-item overhead (probe)", overhead),
        ("record fields", ",".join(f"{k}:{type(v).__name__}" for k, v in sorted(rec.items()))),
        ("record token lengths a/r/i", "/".join(str(len(rec.get(k, "") or "")) for k in ("a", "r", "i"))),
        ("items after 1 login (by key prefix)", {k: v for k, v in items_login.items()}),
        ("writes per login (set/add/cas: cmd_set)", after_login["cmd_set"] - before["cmd_set"]),
        ("deletes per login", after_login["delete_hits"] - before["delete_hits"]),
        ("gets per login", after_login["cmd_get"] - before["cmd_get"]),
        ("session item after 1 refresh", session_item_2),
        ("items after 1 refresh (by key prefix)", {k: v for k, v in items_refresh.items()}),
        ("writes per refresh (cmd_set, incl. the CAS-taken intent)",
         after_refresh["cmd_set"] - after_login["cmd_set"]),
        ("heavy session: 20 groups, JWT access token bytes", f"{len(heavy['a'])} ({len(groups)} groups)"),
        ("heavy session item (re-sealed, computed)", heavy_item),
        *oidc_rows,
    ]
    print(f"\nbytes per session, nproc {bl.nproc()}, load average {bl.loadavg()}")
    for k, v in rows:
        print(f"{k:58s} {v}")
    return 0 if session_item <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
