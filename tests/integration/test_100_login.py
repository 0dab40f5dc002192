# SPDX-License-Identifier: Apache-2.0
"""Full login through mod_rtsession: redirect to the OP, code exchange at the callback,
back at the original URL with identity headers for the backend."""
import re

import pytest

from rtstest.client import login, set_cookie_headers, start_login

COOKIE = "__Host-rtsession"
SPOOFS = {"X-Remote-User": "mallory", "X-Remote-Email": "mallory@evil.test",
          "X-Remote-Name": "Mallory", "X-Access-Token": "forged-token"}


def session_cookie_header(resp) -> str:
    found = [h for h in set_cookie_headers(resp) if h.startswith(COOKIE + "=")]
    assert len(found) == 1, f"expected one {COOKIE} Set-Cookie, got {len(found)}"
    return found[0]


def assert_identity(rec, alice, op):
    h = rec["headers"]
    assert h.get("x-remote-user") == alice["sub"]
    assert h.get("x-remote-email") == alice["email"]
    assert h.get("x-remote-name") == alice["name"]
    assert "x-access-token" in h, "no access token header"
    status = op.userinfo(h["x-access-token"]).status_code
    assert status == 200, "forwarded access token not accepted by the OP's userinfo"
    assert COOKIE not in rec["cookies"] and "rtsession" not in rec["cookies"], \
        "the session cookie reached the backend"


def test_unauthenticated_redirects_to_op(httpd, op, browser, echo):
    auth_url, params = start_login(browser, f"{httpd.url}/app/some/page?x=1")
    assert auth_url.startswith(op.metadata()["authorization_endpoint"] + "?")
    assert params["client_id"] == "rts-test"
    assert params["redirect_uri"] == f"{httpd.url}/rtsession/callback"
    assert set(params["scope"].split()) == {"openid", "email", "profile", "offline_access"}
    assert len(params["state"]) >= 16 and len(params["nonce"]) >= 16
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", params["code_challenge"])
    assert echo.records() == [], "an unauthenticated request reached the backend"


@pytest.mark.mpm
def test_login_roundtrip(httpd, op, browser, echo):
    op.reset_counters()
    alice = op.users()["alice"]
    url = f"{httpd.url}/app/deep/path?q=1&r=two%20words"
    res = login(browser, url)

    # Back at the original URL, path and query preserved.
    assert res.callback_response.headers["Location"] in (url, url.replace(httpd.url, ""))
    assert res.final.status_code == 200
    body = res.final.json()
    assert body["path"] == "/app/deep/path"
    assert body["query"] == {"q": ["1"], "r": ["two words"]}
    assert_identity(echo.last(), alice, op)

    # The session cookie: __Host- prefix rules, HttpOnly, SameSite=Lax, opaque value.
    header = session_cookie_header(res.callback_response)
    attrs = [a.strip().lower() for a in header.split(";")[1:]]
    assert "secure" in attrs and "httponly" in attrs
    assert "samesite=lax" in attrs and "path=/" in attrs
    assert not any(a.startswith("domain=") for a in attrs)
    value = header.split(";")[0].split("=", 1)[1]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43,}", value), "session cookie is not 43+ chars of base64url"

    # One code exchange, and a second request does not go to the OP.
    assert op.counters()["authorization_code_grants"] == 1
    before = op.counters()
    r = browser.get(f"{httpd.url}/app/again")
    assert r.status_code == 200
    assert_identity(echo.last(), alice, op)
    after = op.counters()
    assert after["token_requests"] == before["token_requests"]
    assert after["authorization_requests"] == before["authorization_requests"]


def test_spoofed_identity_headers_are_removed(httpd, op, browser, echo):
    alice = op.users()["alice"]
    # Without a session: the request never reaches the backend.
    r = browser.get(f"{httpd.url}/app/", headers=SPOOFS)
    assert r.status_code == 302
    assert echo.records() == []
    # With a session: the module's values replace the client's.
    login(browser, f"{httpd.url}/app/")
    for variant in (SPOOFS, {k.lower(): v for k, v in SPOOFS.items()}):
        r = browser.get(f"{httpd.url}/app/spoof", headers=variant)
        assert r.status_code == 200
        rec = echo.last()
        assert_identity(rec, alice, op)
        for name, value in SPOOFS.items():
            assert echo.header_values(rec, name) != [value] and value not in echo.header_values(rec, name), \
                f"spoofed {name} reached the backend"


def test_underscore_variant_does_not_reach_backend(httpd, op, browser, echo):
    # httpd drops headers with underscores for CGI, not for proxy: check our names only
    login(browser, f"{httpd.url}/app/")
    r = browser.get(f"{httpd.url}/app/u", headers={"X_Remote_User": "mallory"})
    assert r.status_code == 200
    rec = echo.last()
    assert rec["headers"].get("x-remote-user") == op.users()["alice"]["sub"]


def test_other_cookies_pass_through(httpd, browser, echo):
    login(browser, f"{httpd.url}/app/")
    browser.cookies.set("app_pref", "dark", domain="127.0.0.1", path="/")
    r = browser.get(f"{httpd.url}/app/c")
    assert r.status_code == 200
    cookies = echo.last()["cookies"]
    assert cookies.get("app_pref") == "dark"
    assert not [c for c in cookies if "rtsession" in c]


def test_client_secret_post(httpd_for, make_config, op, browser, echo):
    h = httpd_for("post", make_config("rts-post"))
    op.reset_counters()
    res = login(browser, f"{h.url}/app/post?via=post")
    assert res.auth_params["client_id"] == "rts-post"
    assert res.final.status_code == 200
    assert_identity(echo.last(), op.users()["alice"], op)
    codes = [e for e in op.token_log() if e["grant_type"] == "authorization_code"]
    assert [(e["client_id"], e["status"]) for e in codes] == [("rts-post", 200)]
