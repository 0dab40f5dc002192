# SPDX-License-Identifier: Apache-2.0
"""Error paths of the login flow: bad callbacks, OP and memcached failures, return-URL
protection, garbage cookies, configuration errors."""
from urllib.parse import urlencode, urlsplit

import pytest

from rtstest.client import authenticate_at_op, login, query_params, start_login
from rtstest.procs import Memcached
from rtstest.ports import free_ports

COOKIE = "__Host-rtsession"


def no_session_cookie(resp):
    from rtstest.client import set_cookie_headers
    return not [h for h in set_cookie_headers(resp)
                if h.startswith(COOKIE + "=") and not h.startswith(COOKIE + "=;")
                and "max-age=0" not in h.lower()]


def callback(httpd, **params):
    return f"{httpd.url}/rtsession/callback?{urlencode(params)}"


def test_wrong_state_is_rejected(httpd, browser, echo):
    auth_url, _ = start_login(browser, f"{httpd.url}/app/")
    cb = authenticate_at_op(browser, auth_url)
    p = query_params(cb)
    r = browser.get(callback(httpd, code=p["code"], state="not-" + p["state"], iss=p.get("iss", "")))
    assert r.status_code == 400
    assert no_session_cookie(r)
    assert browser.get(f"{httpd.url}/app/").status_code == 302
    assert echo.records() == []


def test_missing_state_is_rejected(httpd, browser):
    auth_url, _ = start_login(browser, f"{httpd.url}/app/")
    cb = authenticate_at_op(browser, auth_url)
    r = browser.get(callback(httpd, code=query_params(cb)["code"]))
    assert r.status_code == 400
    assert no_session_cookie(r)


def test_callback_replay_is_rejected(httpd, pki, browser):
    res = login(browser, f"{httpd.url}/app/")
    assert res.final.status_code == 200
    r = browser.get(res.callback_url)            # same browser, same URL again
    assert r.status_code == 400
    from rtstest.client import Browser
    with Browser(pki.ca_cert) as other:           # and from a fresh browser
        r = other.get(res.callback_url)
        assert r.status_code == 400
        assert no_session_cookie(r)


def test_access_denied_at_callback(httpd, browser):
    _, params = start_login(browser, f"{httpd.url}/app/")
    r = browser.get(callback(httpd, error="access_denied", error_description="user said no",
                             state=params["state"]))
    assert 400 <= r.status_code < 500
    assert not r.is_redirect, "error at the callback must not start a new login (loop)"
    assert no_session_cookie(r)


def test_op_metadata_unreachable(httpd_for, make_config, browser, echo, log_expect):
    log_expect.append("RTS10020")   # discovery fetch failed
    closed = free_ports(1)[0]
    h = httpd_for("main", make_config(
        metadata_url=f"https://127.0.0.1:{closed}/.well-known/openid-configuration"))
    r = browser.get(f"{h.url}/app/", headers={"Accept": "text/html"})
    assert r.status_code in (502, 503)
    assert echo.records() == []


def test_token_endpoint_down_at_callback(httpd, op, browser, log_expect):
    log_expect.append("RTS10010")   # login callback failed
    auth_url, _ = start_login(browser, f"{httpd.url}/app/")
    cb = authenticate_at_op(browser, auth_url)
    op.settings(token_down="503")
    r = browser.get(cb)
    assert r.status_code in (502, 503)
    assert no_session_cookie(r)


def test_memcached_down(httpd_for, make_config, gen_dir, browser, echo, log_expect):
    log_expect.append("RTS10004")   # memcached failed loading a session
    mc = Memcached(free_ports(1)[0], gen_dir / "memcached-down.log").start()
    try:
        h = httpd_for("main", make_config(memcached=mc.server_arg))
        assert login(browser, f"{h.url}/app/").final.status_code == 200
        mc.stop()
        echo.clear()
        r = browser.get(f"{h.url}/app/after")
        assert r.status_code == 503
        assert echo.records() == []
    finally:
        mc.stop()


@pytest.mark.parametrize("path,returns", [
    ("/app/https://evil.test/", "/app/https://evil.test/"),      # a path on this origin
    ("/app/?next=https://evil.test/&u=//evil.test/", "/app/?next=https://evil.test/&u=//evil.test/"),
    ("//app/x", "/"),                                             # a scheme-relative URL
    ("/app/%0D%0ALocation:%20https://evil.test/", "/app/%0D%0ALocation:%20https://evil.test/"),
    ("/app/" + "x" * 2100, "/"),                                  # over RTS_RETURN_URL_MAX
], ids=["absolute-in-path", "hostile-query", "scheme-relative", "crlf", "over-long"])
def test_return_url_stays_same_origin(httpd, browser, echo, path, returns):
    """The return URL is the original request URI, carried in the pending login: after the
    login the callback redirects exactly to it when it is a safe path on this origin, else to
    "/", never off-site, never with a split header."""
    res = login(browser, httpd.url + path)
    dest = res.callback_response.headers["Location"]
    parts = urlsplit(dest)
    assert not parts.scheme and not parts.netloc and not dest.startswith(("//", "/\\")), \
        f"callback redirects off-origin: {dest}"
    assert dest == returns, f"{path[:40]}: returns to {dest[:60]!r}, want {returns[:60]!r}"
    assert "\r" not in dest and "\n" not in dest
    if returns != "/":   # the browser landed on the page it asked for
        assert res.final.status_code == 200 and echo.last()["path"].startswith("/app/")


@pytest.mark.parametrize("value", ["garbage", "A" * 43, "x" * 4000, "%00%ff", ""],
                         ids=["garbage", "43-chars", "4000-chars", "escapes", "empty"])
def test_unknown_session_cookie_means_login(httpd, browser, echo, value):
    browser.cookies.set(COOKIE, value, domain="127.0.0.1", path="/")
    r = browser.get(f"{httpd.url}/app/")
    assert r.status_code == 302
    assert "/auth?" in r.headers["Location"]
    assert echo.records() == []


def _configtest_without(httpd_for, make_config, drop=None, replace=None):
    h = httpd_for("main", make_config())
    text = make_config()
    if drop:
        text = "\n".join(line for line in text.splitlines() if not line.startswith(drop + " "))
    if replace:
        text = "\n".join(replace[1] if line.startswith(replace[0] + " ") else line
                         for line in text.splitlines())
    original = h.test_conf.read_text()
    h.install(text)
    try:
        return h.configtest()
    finally:
        h.install(original)


def test_configtest_missing_client_id(httpd_for, make_config):
    r = _configtest_without(httpd_for, make_config, drop="RTSessionClientID")
    assert r.returncode != 0
    assert "RTSessionClientID" in r.stdout + r.stderr


def test_configtest_short_secret(httpd_for, make_config):
    r = _configtest_without(httpd_for, make_config,
                            replace=("RTSessionSecret", "RTSessionSecret " + "s" * 31))
    assert r.returncode != 0
    assert "RTSessionSecret" in r.stdout + r.stderr


def test_configtest_endpoint_paths_collide(httpd_for, make_config):
    # the core's checks (rts_config_finish) run under configtest: a logout endpoint on the
    # redirect URI's path would never answer (the callback is served first)
    r = _configtest_without(httpd_for, make_config,
                            replace=("RTSessionRedirectURI",
                                     "RTSessionRedirectURI /rtsession/callback\n"
                                     "RTSessionLogoutPath /rtsession/callback"))
    assert r.returncode != 0
    assert "RTS10370" in r.stdout + r.stderr
    assert "RTSessionLogoutPath" in r.stdout + r.stderr
