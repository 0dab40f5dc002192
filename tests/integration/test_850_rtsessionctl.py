# SPDX-License-Identifier: Apache-2.0
"""rtsessionctl, the administrator's tool (docs/rtsessionctl.md), against the real test bed:
end-user ends every session of one user through the back-channel index (and says it cannot
without it), show prints a session's metadata and never a token, check finds a wrong client
secret, a wrong issuer, a memcached without CAS (-C) and an unreachable one, gen-secret."""
import re
import subprocess
import time

import pytest

from rtstest import mc, paths
from rtstest.client import Browser, login
from rtstest.ports import free_ports
from rtstest.procs import Memcached

COOKIE = "__Host-rtsession"
XHR = {"Accept": "application/json", "Sec-Fetch-Mode": "cors"}
BC = "RTSessionBackchannelLogoutPath /rtsession/backchannel-logout"


def ctl(*args, stdin: str | None = None) -> subprocess.CompletedProcess:
    exe = paths.ctl_path()
    if not exe.is_file():
        pytest.fail(f"rtsessionctl not built: {exe}")
    r = subprocess.run([str(exe), *map(str, args)], input=stdin, capture_output=True,
                       text=True, timeout=30)
    # shown by pytest when the test fails
    print("$ rtsessionctl", *args, "->", r.returncode, "\n" + r.stdout + r.stderr)
    return r


def logged_in(pki, h, user: str, echo):
    """A new browser logged in as user; (browser, cookie, sub, access token)."""
    b = Browser(pki.ca_cert)
    login(b, f"{h.url}/app/", user=user)
    r = b.get(f"{h.url}/app/who", headers=XHR)
    assert r.status_code == 200, r.status_code
    rec = echo.last()
    headers = {k.lower(): v for k, v in rec["headers"].items()}
    return b, b.cookies.get(COOKIE, domain="127.0.0.1"), headers["x-remote-user"], \
        headers["x-access-token"]


def test_end_user_ends_every_session_of_one_user(httpd_for, make_config, pki, echo):
    h = httpd_for("main", make_config(server_extra=BC))
    a1, _, alice, _ = logged_in(pki, h, "alice", echo)
    a2, _, alice2, _ = logged_in(pki, h, "alice", echo)
    bob, _, bob_sub, _ = logged_in(pki, h, "bob", echo)
    assert alice == alice2 != bob_sub
    try:
        r = ctl("-f", h.test_conf, "end-user", alice)
        assert r.returncode == 0, r.stderr
        assert f"ended 2 session(s) of {alice}" in r.stdout, r.stdout
        for b in (a1, a2):
            assert b.get(f"{h.url}/app/after", headers=XHR).status_code == 401
        assert bob.get(f"{h.url}/app/after", headers=XHR).status_code == 200
        # nothing left to end; still a success
        r = ctl("-f", h.test_conf, "end-user", alice)
        assert r.returncode == 0 and "ended 0 session(s)" in r.stdout, r.stdout + r.stderr
    finally:
        for b in (a1, a2, bob):
            b.close()


def test_end_user_without_index_says_it_cannot(httpd_for, make_config):
    h = httpd_for("main", make_config())
    r = ctl("-f", h.test_conf, "end-user", "anyone")
    assert r.returncode == 1
    assert "RTSessionBackchannelLogoutPath" in r.stderr and "cannot be found" in r.stderr


def test_show_prints_metadata_and_no_token(httpd_for, make_config, pki, echo, sessions):
    h = httpd_for("main", make_config())
    b, cookie, sub, access_token = logged_in(pki, h, "alice", echo)
    try:
        rec = sessions.read(cookie)
        secrets = [cookie, access_token, rec["r"], rec["i"]]
        for how in ({"stdin": cookie + "\n"}, {"stdin": f"{COOKIE}={cookie}"}):
            r = ctl("-f", h.test_conf, "show", **how)
            assert r.returncode == 0, r.stderr
            assert re.search(rf"^user \(sub\): +{re.escape(sub)}$", r.stdout, re.M), r.stdout
            assert re.search(r"^generation: +1$", r.stdout, re.M), r.stdout
            assert re.search(r"^refresh intent: +none$", r.stdout, re.M), r.stdout
            assert "access token expires:  20" in r.stdout
            for s in secrets:
                assert s not in r.stdout and s not in r.stderr
        r = ctl("-f", h.test_conf, "show", cookie)     # as an argument too
        assert r.returncode == 0 and sub in r.stdout
        # another secret opens nothing: keys are derived as the module derives them
        other = paths.GEN_DIR / "ctl-other-secret"
        other.write_text("x" * 40 + "\n")
        r = ctl("-f", h.test_conf, "--secret-file", other, "show", stdin=cookie)
        assert r.returncode == 1 and "not found" in r.stdout, r.stdout
        r = ctl("-f", h.test_conf, "show", stdin="not-a-cookie")
        assert r.returncode == 2
    finally:
        b.close()


def test_show_reads_intent_backoff_and_lost_answers(httpd_for, make_config, pki, echo,
                                                    sessions, memcached):
    """A record staged as the module writes one mid-refresh (generation 7, an intent held for
    30 s, backoff step 2 for 90 s, one lost answer): show reports each field."""
    h = httpd_for("main", make_config())
    b, cookie, sub, _ = logged_in(pki, h, "alice", echo)
    b.close()
    rec = sessions.read(cookie)
    now_ms = int(time.time() * 1000)
    rec.update(g=7, lo="intent-owner-x", lu=now_ms + 30_000, ra=now_ms + 90_000, rs=2, rl=1)
    key, value = sessions.seal(cookie, rec)
    assert mc.set_item(("127.0.0.1", memcached.port), key, value, 600)
    r = ctl("-f", h.test_conf, "show", stdin=cookie)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert re.search(r"^generation: +7$", out, re.M), out
    assert re.search(r"^refresh intent: +held until \S+ \(in (29|30)s\)$", out, re.M), out
    assert re.search(r"^refresh backoff: +step 2, no token call before \S+ \(in 1m 2\ds\)$",
                     out, re.M), out
    assert re.search(r"^lost refresh answers: +1 \(the refresh token may be spent\)$", out, re.M)
    assert "intent-owner-x" not in out and rec["r"] not in out and rec["a"] not in out


def check_lines(out: str) -> dict:
    """{check name: (verdict, detail)} of check's output."""
    found = {}
    for ln in out.splitlines():
        m = re.match(r"^(OK|FAIL|WARN|SKIP) +([^:]+(?::\d+)?): (.*)$", ln)
        if m:
            found[m.group(2)] = (m.group(1), m.group(3))
    return found


def test_check_passes_against_the_test_bed(make_config, memcached, gen_dir):
    conf = gen_dir / "ctl-check.conf"
    conf.write_text(make_config())
    r = ctl("-f", conf, "check")
    assert r.returncode == 0, r.stdout + r.stderr
    found = check_lines(r.stdout)
    for name in ("configuration", "module secret", "discovery", "issuer", "jwks",
                 "client credentials (rts-test, client_secret_basic)",
                 f"memcached 127.0.0.1:{memcached.port}"):
        assert found.get(name, ("?",))[0] == "OK", (name, r.stdout)
    assert "invalid_grant" in found["client credentials (rts-test, client_secret_basic)"][1]
    # client_secret_post from the other client's configuration
    conf.write_text(make_config("rts-post"))
    r = ctl("-f", conf, "check")
    assert r.returncode == 0, r.stdout


def test_check_names_each_problem(make_config, memcached, gen_dir):
    conf = gen_dir / "ctl-check.conf"
    conf.write_text(make_config())
    wrong = gen_dir / "ctl-wrong-client-secret"
    wrong.write_text("not-the-client-secret\n")
    nocas_port, dead_port = free_ports(2)
    nocas = Memcached(nocas_port, gen_dir / "memcached-ctl-nocas.log", extra_args=("-C",)).start()
    try:
        r = ctl("-f", conf, "--client-secret-file", wrong, "--memcached",
                f"{memcached.server_arg} --SERVER=127.0.0.1:{nocas_port} "
                f"--SERVER=127.0.0.1:{dead_port}", "--memcached-timeout", "300ms", "check")
    finally:
        nocas.stop()
    assert r.returncode == 1, r.stdout
    found = check_lines(r.stdout)
    verdict, detail = found["client credentials (rts-test, client_secret_basic)"]
    assert verdict == "FAIL" and ("invalid_client" in detail or "401" in detail), detail
    assert found[f"memcached 127.0.0.1:{memcached.port}"][0] == "OK", r.stdout
    verdict, detail = found[f"memcached 127.0.0.1:{nocas_port}"]
    assert verdict == "FAIL" and "-C" in detail, detail
    verdict, detail = found[f"memcached 127.0.0.1:{dead_port}"]
    assert verdict == "FAIL" and "unreachable" in detail, detail
    assert r.stdout.rstrip().endswith("3 check(s) failed"), r.stdout

    r = ctl("-f", conf, "--issuer", "https://127.0.0.1:1/not-the-issuer", "check")
    found = check_lines(r.stdout)
    assert r.returncode == 1 and found["issuer"][0] == "FAIL", r.stdout
    assert "not-the-issuer" in found["issuer"][1]


def test_config_file_like_httpd_reads_it(make_config, clients, gen_dir):
    """Include (a directory, relative to ServerRoot), line continuations, quoting, and the
    virtual host merged over the main server: the first one with RTSession directives, or the
    one --vhost names."""
    root = gen_dir / "ctl-root"
    (root / "sites").mkdir(parents=True, exist_ok=True)
    post_secret = root / "post-secret"
    post_secret.write_text(clients["rts-post"].secret + "\n")
    (root / "main.conf").write_text(f'ServerRoot "{root}"\nInclude sites\n')
    (root / "sites" / "00-main.conf").write_text(
        make_config().replace("RTSessionHTTPTimeout 5", "RTSessionHTTPTimeout \\\n   5"))
    (root / "sites" / "10-vhosts.conf").write_text(f"""
<VirtualHost 127.0.0.1:1>
  ServerName plain.example
</VirtualHost>
<VirtualHost 127.0.0.1:2>
  ServerName a.example
  ServerAlias alias-a.example
  RTSessionClientID "rts-post"
  RTSessionClientSecretFile post-secret
  RTSessionTokenEndpointAuth client_secret_post
</VirtualHost>
<VirtualHost 127.0.0.1:3>
  ServerName b.example
  RTSessionIssuer 'https://127.0.0.1:1/b'
</VirtualHost>
""")
    r = ctl("-v", "-f", root / "main.conf", "check")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "<VirtualHost 127.0.0.1:2> (the first of 2 virtual hosts" in r.stderr, r.stderr
    assert check_lines(r.stdout)["client credentials (rts-post, client_secret_post)"][0] == "OK"
    r = ctl("-f", root / "main.conf", "--vhost", "alias-a.example", "check")
    assert r.returncode == 0, r.stdout
    r = ctl("-f", root / "main.conf", "--vhost", "b.example", "check")
    found = check_lines(r.stdout)
    assert r.returncode == 1 and found["issuer"][0] == "FAIL" and "/b" in found["issuer"][1]
    r = ctl("-f", root / "main.conf", "--vhost", "nowhere.example", "check")
    assert r.returncode == 2 and "nowhere.example" in r.stderr


def test_gen_secret():
    seen = set()
    for _ in range(3):
        r = ctl("gen-secret")
        assert r.returncode == 0
        s = r.stdout.strip()
        assert re.fullmatch(r"[A-Za-z0-9_-]{64}", s), s     # 48 bytes, base64url
        seen.add(s)
    assert len(seen) == 3
    r = ctl("gen-secret", "32")
    assert r.returncode == 0 and re.fullmatch(r"[A-Za-z0-9_-]{43}", r.stdout.strip())
    assert ctl("gen-secret", "16").returncode == 2
