# SPDX-License-Identifier: Apache-2.0
"""The module against an OpenID Provider we did not write: Glewlwyd (Debian package), with
one-time-use (rotating) refresh tokens and its reuse detection on (rtstest/glewlwyd.py).
Login, the two-host refresh storm, a refresh token revoked at the provider, logout; and
what Glewlwyd itself does with a reused refresh token (docs/providers.md, glewlwyd)."""
import os
import secrets
import time

import pytest

from rtstest.client import LoginResult, finish_login, start_login
from rtstest.faultproxy import FaultProxy
from rtstest.glewlwyd import Glewlwyd, GlewlwydClient, available
from rtstest.ports import free_ports
from rtstest.rtsconf import Client, rts_config
from rtstest.sessions import SessionReader
from rtstest.storm import XHR_HEADERS, Storm

pytestmark = pytest.mark.independent_op

COOKIE = "__Host-rtsession"


@pytest.fixture(scope="module")
def glewlwyd(gen_dir, pki, ports):
    missing = available()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"glewlwyd is required in CI: {missing}")
        pytest.skip(f"glewlwyd not installed: {missing}")
    client = GlewlwydClient("rts-glewlwyd", "gw-" + secrets.token_urlsafe(24))
    redirect_uris = [f"https://127.0.0.1:{p}/rtsession/callback" for p in ports["httpd"]]
    g = Glewlwyd(free_ports(1)[0], gen_dir, pki, client, redirect_uris).start()
    yield g
    g.stop()


@pytest.fixture
def gw(glewlwyd):
    """Glewlwyd with its default access-token lifetime again after the test."""
    yield glewlwyd
    if glewlwyd.current_ttl != glewlwyd.access_token_ttl:
        glewlwyd.settings(access_token_ttl=glewlwyd.access_token_ttl)


@pytest.fixture
def gw_config(glewlwyd, memcached, pki, session_secret, backend, leak_check):
    """gw_config(**overrides) -> the standard module config, provider Glewlwyd."""
    leak_check.append(glewlwyd.client.secret)
    client = Client(glewlwyd.client.client_id, glewlwyd.client.secret, glewlwyd.client.auth_method)

    def make(**kw) -> str:
        return rts_config(op_url=glewlwyd.issuer, memcached=memcached.server_arg,
                          ca_file=pki.ca_cert, client=client, session_secret=session_secret,
                          backend_url=backend.url, **kw)
    return make


@pytest.fixture
def sessions(session_secret, ports, glewlwyd):
    """Session records of this client of this provider (the keys are bound to both)."""
    return SessionReader(session_secret, ports["memcached"], issuer=glewlwyd.issuer,
                         client_id=glewlwyd.client.client_id)


def gw_login(browser, gw, url: str, user: str = "alice") -> LoginResult:
    result = LoginResult()
    auth_url, _ = start_login(browser, url, result)
    result.callback_url = gw.authenticate(browser, auth_url, user)
    finish_login(browser, result.callback_url, result)
    return result


def session_cookie(browser) -> str:
    return browser.cookies.get(COOKIE, domain="127.0.0.1")


def wait_for_expiry(record: dict, margin: float = 0.05):
    delay = record["ae"] / 1000 - time.time() + margin
    assert delay < 10, f"the access token lives {delay:.0f} s more: the short lifetime was not applied"
    if delay > 0:
        time.sleep(delay)


def test_login(httpd_for, gw_config, gw, browser, echo):
    h = httpd_for("main", gw_config())
    res = gw_login(browser, gw, f"{h.url}/app/hello")
    assert res.final.status_code == 200 and res.final.json()["path"] == "/app/hello"
    headers = echo.last()["headers"]
    assert headers["x-remote-email"] == "alice@example.test"
    assert headers["x-remote-user"] and headers["x-access-token"]
    assert browser.get(f"{h.url}/app/again").status_code == 200


def test_refresh_storm_two_hosts(httpd_for, gw_config, gw, browser, sessions, pki):
    """50 concurrent requests with an expired access token over two httpd instances sharing
    memcached, three expiries in a row: all succeed, Glewlwyd issues exactly one refresh
    token per expiry (its table gains one row) and that newest token is still enabled (a
    spent one presented again would have disabled it: reuse detection)."""
    conf = gw_config(refresh_window=0)
    h1, h2 = httpd_for("main", conf), httpd_for("second", conf)
    gw.settings(access_token_ttl=3)
    gw_login(browser, gw, f"{h1.url}/app/")
    cookie = session_cookie(browser)
    storm = Storm(pki.ca_cert, [h1.url, h2.url], COOKIE, cookie, n=50)
    try:
        assert {s.status for s in storm.warm()} == {200}
        for rnd in range(3):
            record = sessions.read(cookie)
            wait_for_expiry(record)
            before = {t["gpor_id"] for t in gw.refresh_tokens()}
            shots = storm.fire()
            statuses = sorted({s.status for s in shots})
            assert statuses == [200], f"round {rnd}: statuses {statuses}"
            new = [t for t in gw.refresh_tokens() if t["gpor_id"] not in before]
            assert len(new) == 1, f"round {rnd}: {len(new)} refresh grants"
            assert new[0]["gpor_enabled"] == 1, f"round {rnd}: the chain was broken (reuse)"
            tokens = {s.access_token for s in shots}
            assert len(tokens) == 1, f"round {rnd}: requests went on with {len(tokens)} access tokens"
            assert gw.userinfo(tokens.pop()).status_code == 200, f"round {rnd}: dead access token"
            assert sessions.read(cookie)["g"] == record["g"] + 1
        assert browser.get(f"{h2.url}/app/after").status_code == 200
    finally:
        storm.close()


@pytest.fixture
def gw_proxy(glewlwyd, pki):
    """A FaultProxy before Glewlwyd, to count the module's token calls."""
    fp = FaultProxy("127.0.0.1", glewlwyd.port, upstream_tls=True, ca_file=pki.ca_cert,
                    tls_cert=pki.server_cert, tls_key=pki.server_key)
    yield fp
    fp.close()


def test_refresh_token_revoked_at_provider(httpd_for, gw_config, gw, gw_proxy, browser, echo,
                                           sessions, log_expect):
    """An administrator disables the session's refresh token at Glewlwyd, which then refuses
    it with 400 and an empty body. Once the access token expires the session ends cleanly:
    an XHR gets 401 with WWW-Authenticate, a navigation a new login, and the provider sees
    one token call, not one per request (issue 11 item 1)."""
    h = httpd_for("main", gw_config(metadata_url=gw.discovery_url.replace(gw.url, gw_proxy.url), issuer=gw.issuer,
                                    refresh_window=0))
    gw.settings(access_token_ttl=2)
    gw_login(browser, gw, f"{h.url}/app/")
    logged_in = time.time()
    cookie = session_cookie(browser)
    assert gw.revoke_refresh_tokens("alice") >= 1
    time.sleep(max(0.0, logged_in + 2.1 - time.time()))     # the access token has expired
    gw_proxy.requests.clear()
    echo.clear()
    seen = []
    for kind in ("xhr", "xhr", "nav", "xhr", "nav"):
        r = browser.get(f"{h.url}/app/{kind}", headers=XHR_HEADERS if kind == "xhr" else {})
        seen.append((kind, r.status_code, r.headers.get("WWW-Authenticate") is not None,
                     r.headers.get("Location", "")))
    token_calls = len(gw_proxy.requests_to("/api/oidc/token"))
    summary = f"{[(k, s) for k, s, _, _ in seen]}, {token_calls} token calls"
    assert token_calls == 1, summary
    for kind, status, www_auth, loc in seen:
        if kind == "xhr":
            assert status == 401 and www_auth, summary
        else:
            assert status == 302 and loc.startswith(gw_proxy.url + "/api/oidc/auth?"), summary
    assert sessions.read(cookie) is None, "the ended session is still in memcached"
    assert echo.records() == []
    assert any("HTTP 400" in line for line in h.error_log.lines()), \
        "no log line names the provider's status"
    res = gw_login(browser, gw, f"{h.url}/app/back")
    assert res.final.status_code == 200 and res.final.json()["path"] == "/app/back"


def test_logout(httpd_for, gw_config, gw, browser, sessions):
    """Local logout on every host, RFC 7009 revocation that Glewlwyd applies (the refresh
    token is disabled in its table), and RP-initiated logout accepted by Glewlwyd."""
    conf = gw_config(server_extra="RTSessionLogoutPath /rtsession/logout\n"
                                  "RTSessionLogoutRedirect /bye")
    h1, h2 = httpd_for("main", conf), httpd_for("second", conf)
    gw.set_post_logout_redirect_uri(f"{h2.url}/rtsession/logout")
    before = {t["gpor_id"] for t in gw.refresh_tokens()}
    gw_login(browser, gw, f"{h1.url}/app/")
    cookie = session_cookie(browser)
    mine = [t for t in gw.refresh_tokens() if t["gpor_id"] not in before]
    assert [t["gpor_enabled"] for t in mine] == [1]
    assert browser.get(f"{h2.url}/app/x", headers=XHR_HEADERS).status_code == 200

    r = browser.post(f"{h2.url}/rtsession/logout", headers={"Sec-Fetch-Site": "same-origin"})
    assert r.status_code == 302
    assert sessions.read(cookie) is None
    for h in (h1, h2):
        stale = browser.get(f"{h.url}/app/x", headers={**XHR_HEADERS, "Cookie": f"{COOKIE}={cookie}"})
        assert stale.status_code == 401
    revoked = [t for t in gw.refresh_tokens() if t["gpor_id"] == mine[0]["gpor_id"]]
    assert revoked[0]["gpor_enabled"] == 0, "the refresh token still works at Glewlwyd"
    end = r.headers["Location"]
    assert end.startswith(gw.issuer + "/end_session?")
    params = dict(p.split("=", 1) for p in end.split("?", 1)[1].split("&"))
    assert params.get("id_token_hint") and params.get("state") and params.get("post_logout_redirect_uri")
    gw.end_session(browser, end)
    # Glewlwyd's session is over: a new visit needs the password again
    auth = browser.get(f"{h1.url}/app/").headers["Location"]
    r = browser.get(auth)
    assert r.status_code == 302 and "/login.html?" in r.headers["Location"]


def _code_flow(gw, browser, redirect_uri: str) -> dict:
    """Glewlwyd's token response for a fresh authorization-code login, we being the client."""
    import base64
    import hashlib
    import requests
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    auth = requests.Request("GET", gw.issuer + "/auth", params={
        "response_type": "code", "client_id": gw.client.client_id, "redirect_uri": redirect_uri,
        "scope": "openid email profile offline_access", "state": "s1", "nonce": "n1",
        "code_challenge": challenge, "code_challenge_method": "S256"}).prepare().url
    callback = gw.authenticate(browser, auth)
    params = dict(p.split("=", 1) for p in callback.split("?", 1)[1].split("&"))
    r = gw.token({"grant_type": "authorization_code", "code": params["code"],
                  "redirect_uri": redirect_uri, "code_verifier": verifier})
    assert r.status_code == 200, f"code grant: {r.status_code}"
    return {"callback_params": params, **r.json()}


def test_glewlwyd_rotation_and_reuse_detection(gw, browser, ports):
    """What docs/providers.md says of Glewlwyd, checked: every refresh rotates; presenting a
    spent refresh token is refused and disables the newest one of the chain (reuse
    detection); refusals are 400 with an empty body, a wrong client secret too."""
    redirect_uri = f"https://127.0.0.1:{ports['httpd'][0]}/rtsession/callback"
    t1 = _code_flow(gw, browser, redirect_uri)
    assert "iss" not in t1["callback_params"], "Glewlwyd now sends iss in the authorization response"
    assert t1["token_type"] == "bearer" and "refresh_expires_in" not in t1
    r = gw.token({"grant_type": "refresh_token", "refresh_token": t1["refresh_token"]})
    assert r.status_code == 200
    t2 = r.json()
    assert t2["refresh_token"] != t1["refresh_token"], "no rotation"
    assert "id_token" not in t2, "Glewlwyd now sends an ID token on refresh"
    reused = gw.token({"grant_type": "refresh_token", "refresh_token": t1["refresh_token"]})
    assert (reused.status_code, reused.content) == (400, b"")
    newest = gw.token({"grant_type": "refresh_token", "refresh_token": t2["refresh_token"]})
    assert (newest.status_code, newest.content) == (400, b""), \
        "the newest refresh token survived the reuse of a spent one: no reuse detection"
    t3 = _code_flow(gw, browser, redirect_uri)
    wrong = gw.token({"grant_type": "refresh_token", "refresh_token": t3["refresh_token"]},
                     secret="not-the-secret")
    assert (wrong.status_code, wrong.content) == (400, b""), "a client-auth failure looks different now"
    meta = gw.admin.get(gw.discovery_url, timeout=10).json()
    assert "refresh_token" not in meta["grant_types_supported"]
    assert "authorization_response_iss_parameter_supported" not in meta
