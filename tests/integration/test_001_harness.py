# SPDX-License-Identifier: Apache-2.0
"""The harness itself, without mod_rtsession: httpd starts from the generated config,
proxies to the echo backend (the plain-proxy baseline), restarts gracefully, stops; a child
that dies on a signal fails the test that saw it."""
import os
import signal
import subprocess

import pytest

from rtstest.client import Browser
from rtstest.errorlog import CRASH_RE
from rtstest.wait import wait_until

PLAIN_PROXY = """
<Location /plain>
  ProxyPass {backend}/plain
</Location>
"""


@pytest.fixture
def plain(httpd_for, backend):
    return httpd_for("plain", PLAIN_PROXY.format(backend=backend.url), with_module=False)


def test_plain_proxy_echo(plain, echo, pki):
    with Browser(pki.ca_cert) as b:
        r = b.get(f"{plain.url}/plain/x?a=1&b=two", headers={"X-Probe": "p1", "Cookie": "c=3"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["path"] == "/plain/x"
    assert body["query"] == {"a": ["1"], "b": ["two"]}
    assert body["headers"]["x-probe"] == "p1"
    assert body["cookies"] == {"c": "3"}
    rec = echo.last()
    assert rec["path"] == "/plain/x"
    assert rec["headers"]["x-forwarded-host"] == f"127.0.0.1:{plain.port}"


def test_graceful_restart_applies_new_config(plain, httpd_for, backend, pki):
    gen = plain.generation
    h = httpd_for("plain", PLAIN_PROXY.format(backend=backend.url) + "\n# changed\n",
                  with_module=False)
    assert h.generation == gen + 1
    with Browser(pki.ca_cert) as b:
        assert b.get(f"{h.url}/plain/").status_code == 200


def test_configtest_reports_errors(plain):
    plain.install("NoSuchDirective here\n")
    try:
        r = plain.configtest()
        assert r.returncode != 0
        assert "NoSuchDirective" in r.stdout + r.stderr
    finally:
        plain.install("")   # next test reinstalls its own


def test_memcached_answers(memcached):
    memcached.flush_all()
    assert memcached.item_count() == 0


@pytest.mark.mpm
def test_child_crash_fails_the_test(plain, pki, log_expect):
    """A child killed by SIGSEGV (as a crash in the module would) is logged by httpd at notice
    (AH00052); the after-test check and the end-of-session check both report it. This test
    declares it (log_expect) so that it passes; any other test that sees one fails."""
    with Browser(pki.ca_cert) as b:   # the children are up and serving
        assert b.get(f"{plain.url}/plain/before").status_code == 200
    crash = []
    for _ in range(3):   # a child of the previous generation may be exiting on its own
        out = subprocess.run(["ps", "--ppid", str(plain.pid()), "-o", "pid=,stat="],
                             capture_output=True, text=True, timeout=10).stdout.split("\n")
        live = [int(p.split()[0]) for p in out if p.strip() and not p.split()[1].startswith("Z")]
        assert live, "no httpd child found"
        child = live[-1]   # the newest
        os.kill(child, signal.SIGSEGV)
        try:
            wait_until(lambda: any(CRASH_RE.search(line) for line in plain.error_log.lines()), 5,
                       what=f"httpd to log the exit of child {child}")
        except AssertionError:
            continue
        crash = [line for line in plain.error_log.lines() if CRASH_RE.search(line)]
        break
    assert len(crash) == 1 and f"child pid {child} exit signal Segmentation fault" in crash[0], crash
    assert crash == plain.error_log.bad_lines(), "the after-test check would not fail on it"
    assert crash == plain.error_log.unaccepted_crashes(), "the end-of-session check would miss it"
    log_expect.append("AH00052")   # caused on purpose; without this line the test fails
    with Browser(pki.ca_cert) as b:   # httpd replaced the child
        assert b.get(f"{plain.url}/plain/after").status_code == 200
