# SPDX-License-Identifier: Apache-2.0
"""Session lifetime: the idle timeout (slid by memcached touch, no rewrite of the record), the
absolute maximum lifetime, both enforced on every request and on every host."""
import socket
import time

import pytest

from rtstest.client import location, login, set_cookie_headers
from rtstest.sessions import SessionReader

COOKIE = "__Host-rtsession"
XHR = {"Accept": "application/json", "Sec-Fetch-Mode": "cors"}


@pytest.fixture
def sessions(session_secret, ports):
    return SessionReader(session_secret, ports["memcached"])


def session_cookie(browser) -> str:
    return browser.cookies.get(COOKIE, domain="127.0.0.1")


def cleared_session_cookie(resp) -> bool:
    return any(h.startswith(COOKIE + "=;") or (h.startswith(COOKIE + "=")
                                               and "max-age=0" in h.lower())
               for h in set_cookie_headers(resp))


def lifetime_config(make_config, **directives) -> str:
    extra = "\n".join(f"{k} {v}" for k, v in directives.items())
    # refresh never due: the record is written only at login, so any later life is the touch's
    return make_config(refresh_window=0, server_extra=extra)


def test_idle_timeout_slides_with_activity_then_ends(httpd_for, make_config, op, browser,
                                                     sessions):
    op.settings(access_token_ttl=600)
    conf = lifetime_config(make_config, RTSessionIdleTimeout=4, RTSessionTouchInterval=1)
    h1, h2 = httpd_for("main", conf), httpd_for("second", conf)
    login(browser, f"{h1.url}/app/")
    cookie = session_cookie(browser)
    written = sessions.read(cookie)["t"]
    # active on both hosts for 8 s, twice the idle timeout: the session survives
    for i in range(4):
        time.sleep(2)
        host = (h1, h2)[i % 2]
        r = browser.get(f"{host.url}/app/active", headers=XHR)
        assert r.status_code == 200, f"active session ended after {2 * (i + 1)} s"
    record = sessions.read(cookie)
    assert record is not None and record["t"] == written, \
        "the slide rewrote the record instead of touching it"
    # then idle for longer than the timeout: gone from memcached, 401 on both hosts
    time.sleep(5.5)
    assert sessions.read(cookie) is None
    r = browser.get(f"{h2.url}/app/idle", headers=XHR)
    assert r.status_code == 401 and cleared_session_cookie(r)
    r = browser.get(f"{h1.url}/app/idle")
    assert r.status_code == 302 and "/auth" in location(r)


def test_idle_timeout_without_activity(httpd_for, make_config, op, browser, sessions):
    op.settings(access_token_ttl=600)
    h = httpd_for("main", lifetime_config(make_config, RTSessionIdleTimeout=2,
                                          RTSessionTouchInterval=1))
    login(browser, f"{h.url}/app/")
    cookie = session_cookie(browser)
    assert sessions.read(cookie) is not None
    time.sleep(3.5)
    assert sessions.read(cookie) is None
    assert browser.get(f"{h.url}/app/x", headers=XHR).status_code == 401


def test_max_lifetime_ends_active_session(httpd_for, make_config, op, browser, sessions):
    op.settings(access_token_ttl=600)
    h = httpd_for("main", lifetime_config(make_config, RTSessionIdleTimeout="off",
                                          RTSessionMaxLifetime=3))
    login(browser, f"{h.url}/app/")
    cookie = session_cookie(browser)
    for _ in range(2):
        time.sleep(1)
        assert browser.get(f"{h.url}/app/x", headers=XHR).status_code == 200
    time.sleep(1.5)
    r = browser.get(f"{h.url}/app/x")
    assert r.status_code == 302 and "/auth" in location(r)
    assert cleared_session_cookie(r)
    assert sessions.read(cookie) is None


def item_ttl(sessions, cookie) -> int | None:
    """Seconds memcached still gives the session item (meta get 't' flag), None when absent."""
    with socket.create_connection(sessions.addr, timeout=5) as s:
        s.sendall(f"mg {sessions.store_key(cookie)} t\r\n".encode())
        line = s.recv(4096).decode()
    if not line.startswith("HD"):
        return None
    return int(next(f[1:] for f in line.split() if f.startswith("t")))


def test_default_item_expiry_is_idle_timeout(httpd_for, make_config, browser, sessions):
    """Without directives the item lives 1 h (idle default), not the 8 h maximum."""
    h = httpd_for("main", make_config())
    login(browser, f"{h.url}/app/")
    ttl = item_ttl(sessions, session_cookie(browser))
    assert ttl is not None and 3500 <= ttl <= 3601, f"item ttl {ttl}"


def test_touch_sets_item_expiry(httpd_for, make_config, op, browser, sessions):
    op.settings(access_token_ttl=600)
    h = httpd_for("main", lifetime_config(make_config, RTSessionIdleTimeout=30,
                                          RTSessionTouchInterval=2))
    login(browser, f"{h.url}/app/")
    cookie = session_cookie(browser)
    time.sleep(1)
    assert browser.get(f"{h.url}/app/x", headers=XHR).status_code == 200
    before = item_ttl(sessions, cookie)
    assert before is not None and before <= 30
    time.sleep(2.5)                      # slot 1: this request touches
    assert browser.get(f"{h.url}/app/x", headers=XHR).status_code == 200
    after = item_ttl(sessions, cookie)
    assert after is not None and after > before, f"no touch: ttl {before} -> {after}"


@pytest.mark.parametrize("directive,value", [("RTSessionMaxLifetime", "0"),
                                             ("RTSessionMaxLifetime", "soon"),
                                             ("RTSessionIdleTimeout", "-3"),
                                             ("RTSessionTouchInterval", "0")])
def test_bad_durations_fail_configtest(httpd_for, make_config, directive, value):
    h = httpd_for("main", make_config())
    original = h.test_conf.read_text()
    h.install(lifetime_config(make_config, **{directive: value}))
    try:
        r = h.configtest()
    finally:
        h.install(original)
    assert r.returncode != 0 and directive in r.stdout + r.stderr
