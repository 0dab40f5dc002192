# SPDX-License-Identifier: Apache-2.0
"""Rotating the module secret (RTSessionSecret NEW OLD, docs/directives.md): sessions sealed
under the old secret live on through a graceful restart with both (refresh, idle-timeout touch,
logout); new sessions are sealed under the new one; once the old secret is dropped, a session
sealed under the new one still works and a cookie only the old one could open starts a new
login."""
import secrets as pysecrets
import time

import pytest

from rtstest.client import login, location
from rtstest.sessions import SessionReader
from rtstest.storm import XHR_HEADERS
from test_200_lifetime import item_ttl

COOKIE = "__Host-rtsession"
AT_TTL = 4


def cookie_of(browser) -> str:
    value = browser.cookies.get(COOKIE, domain="127.0.0.1")
    assert value
    return value


@pytest.mark.mpm
def test_secret_rotation(httpd_for, make_config, op, browser, pki, session_secret, ports, echo,
                         leak_check):
    old, new = session_secret, pysecrets.token_urlsafe(36)
    leak_check.append(new)
    by_old = SessionReader(old, ports["memcached"])
    by_new = SessionReader(new, ports["memcached"])

    def conf(secrets: str) -> str:
        return make_config(session_secret=secrets, refresh_window=0, server_extra="\n".join((
            "RTSessionLogoutPath /rtsession/logout", "RTSessionLogoutRedirect /bye",
            "RTSessionIdleTimeout 60", "RTSessionTouchInterval 1")))

    op.settings(access_token_ttl=AT_TTL)
    h = httpd_for("main", conf(old))
    from rtstest.client import Browser
    with Browser(pki.ca_cert) as other:
        login(browser, f"{h.url}/app/")
        login(other, f"{h.url}/app/")
        a, b = cookie_of(browser), cookie_of(other)
    rec = by_old.read(a)
    assert rec is not None and by_new.read(a) is None, "not sealed under the only secret"
    at1 = rec["a"]

    # both secrets, the new one first: the old session goes on
    h = httpd_for("main", conf(f"{new} {old}"))
    assert browser.get(f"{h.url}/app/both", headers=XHR_HEADERS).status_code == 200
    # refresh (the access token expires)
    time.sleep(max(0.0, rec["ae"] / 1000 - time.time() + 0.1))
    r = browser.get(f"{h.url}/app/refreshed", headers=XHR_HEADERS)
    assert r.status_code == 200 and r.json()["headers"]["x-access-token"] != at1
    reader = by_old if by_old.read(a) is not None else by_new
    assert reader.read(a)["g"] == rec["g"] + 1, "the session did not refresh"
    assert op.counters()["invalid_grant"] == 0
    # idle-timeout touch
    time.sleep(2.1)                      # past the touch interval, the item ages
    before = item_ttl(reader, a)
    assert browser.get(f"{h.url}/app/touched", headers=XHR_HEADERS).status_code == 200
    after = item_ttl(reader, a)
    assert before is not None and after is not None and after > before, \
        f"no touch under the old secret: ttl {before} -> {after}"
    # logout
    r = browser.post(f"{h.url}/rtsession/logout", headers={"Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 302
    assert by_old.read(a) is None and by_new.read(a) is None, "the record survived the logout"
    stale = browser.get(f"{h.url}/app/x", headers={**XHR_HEADERS, "Cookie": f"{COOKIE}={a}"})
    assert stale.status_code == 401

    # a new login is sealed under the new secret
    browser.cookies.clear()
    login(browser, f"{h.url}/app/")
    c = cookie_of(browser)
    assert by_new.read(c) is not None and by_old.read(c) is None

    # the old secret dropped
    h = httpd_for("main", conf(new))
    echo.clear()
    r = browser.get(f"{h.url}/app/new-only", headers=XHR_HEADERS)
    assert r.status_code == 200 and echo.records(), "a session sealed under the new secret ended"
    with Browser(pki.ca_cert) as other:
        other.cookies.set(COOKIE, b, domain="127.0.0.1", path="/")
        assert other.get(f"{h.url}/app/old-only", headers=XHR_HEADERS).status_code == 401
        r = other.get(f"{h.url}/app/old-only")
        assert r.status_code == 302 and "/auth?" in location(r), \
            "a cookie only the dropped secret opens did not start a new login"
    assert len(echo.records()) == 1
