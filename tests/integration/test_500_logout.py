# SPDX-License-Identifier: Apache-2.0
"""Logout: local (record gone on every host, cookie expired), CSRF rule, RFC 7009 revocation
seen by the provider, RP-initiated logout at the provider and its checked return."""
import html
import re
from urllib.parse import urljoin

import pytest

from rtstest.client import location, login, query_params, set_cookie_headers
from rtstest.sessions import SessionReader

COOKIE = "__Host-rtsession"
LOGOUT_COOKIE = "__Host-rtsession_logout"
XHR = {"Accept": "application/json", "Sec-Fetch-Mode": "cors"}
SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}


@pytest.fixture
def sessions(session_secret, ports):
    return SessionReader(session_secret, ports["memcached"])


def logout_config(make_config, *lines: str) -> str:
    return make_config(server_extra="\n".join(("RTSessionLogoutPath /rtsession/logout",
                                               "RTSessionLogoutRedirect /bye") + lines))


def cleared(resp, name: str) -> bool:
    return any(h.startswith(name + "=;") or (h.startswith(name + "=") and "max-age=0" in h.lower())
               for h in set_cookie_headers(resp))


def cookie_value(resp, name: str) -> str | None:
    for h in set_cookie_headers(resp):
        if h.startswith(name + "="):
            return h.split(";", 1)[0].split("=", 1)[1]
    return None


def logged_in(browser, h):
    login(browser, f"{h.url}/app/")
    cookie = browser.cookies.get(COOKIE, domain="127.0.0.1")
    assert cookie
    return cookie


def confirm_at_op(browser, end_session_url: str) -> str:
    """Drive the OP's logout confirmation page; returns where the OP sends the browser."""
    r = browser.get(end_session_url)
    assert r.status_code == 200, f"end_session: {r.status_code}"
    action = re.search(r'<form[^>]*action="([^"]+)"', r.text)
    xsrf = re.search(r'name="xsrf" value="([^"]+)"', r.text)
    assert action and xsrf, "no logout confirmation form at the OP"
    r = browser.post(urljoin(r.url, html.unescape(action.group(1))),
                     data={"xsrf": xsrf.group(1), "logout": "yes"})
    return location(r)


def test_logout_everywhere_with_revocation_and_provider_logout(httpd_for, make_config, op,
                                                               browser, sessions):
    conf = logout_config(make_config)
    h1, h2 = httpd_for("main", conf), httpd_for("second", conf)
    op.settings(access_token_ttl=600)
    cookie = logged_in(browser, h1)
    at = sessions.read(cookie)["a"]
    assert browser.get(f"{h2.url}/app/x", headers=XHR).status_code == 200
    op.reset_counters()

    r = browser.post(f"{h2.url}/rtsession/logout", headers=SAME_ORIGIN)
    assert r.status_code == 302
    assert r.headers.get("Cache-Control") == "no-store"
    assert cleared(r, COOKIE)
    # the record is gone for every host
    assert sessions.read(cookie) is None
    for h in (h1, h2):
        stale = browser.get(f"{h.url}/app/x", headers={**XHR, "Cookie": f"{COOKIE}={cookie}"})
        assert stale.status_code == 401
    # RFC 7009: refresh token and access token revoked at the provider
    counters = op.counters()
    assert counters["revocations"] == 2 and counters["revocations_ok"] == 2
    assert op.userinfo(at).status_code == 401, "the access token still works at the provider"
    # RP-initiated logout with the required parameters
    end = location(r)
    assert end.startswith(op.url + "/session/end")
    params = query_params(end)
    assert params.get("id_token_hint") and params.get("state")
    assert params["post_logout_redirect_uri"] == f"{h2.url}/rtsession/logout"
    assert cookie_value(r, LOGOUT_COOKIE) == params["state"]
    back = confirm_at_op(browser, end)
    assert back.startswith(f"{h2.url}/rtsession/logout?")
    assert query_params(back)["state"] == params["state"]
    r = browser.get(back, headers={"Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 302 and location(r) == f"{h2.url}/bye"
    assert cleared(r, LOGOUT_COOKIE)
    assert op.counters()["end_sessions"] >= 1
    # and a new visit needs a new login at the OP
    assert "/auth?" in location(browser.get(f"{h1.url}/app/"))


def test_logout_return_with_wrong_state(httpd_for, make_config, browser):
    h = httpd_for("main", logout_config(make_config))
    browser.cookies.set(LOGOUT_COOKIE, "A" * 43, domain="127.0.0.1", path="/")
    r = browser.get(f"{h.url}/rtsession/logout?state={'B' * 43}")
    assert r.status_code == 400 and cleared(r, LOGOUT_COOKIE)


@pytest.mark.parametrize("method,site,allowed", [
    ("GET", "same-origin", True),
    ("GET", "none", True),
    ("GET", None, False),
    ("GET", "cross-site", False),
    ("GET", "same-site", False),
    ("POST", None, True),
    ("POST", "cross-site", False),
])
def test_logout_csrf_rule(httpd_for, make_config, op, browser, sessions, method, site, allowed):
    h = httpd_for("main", logout_config(make_config, "RTSessionLogoutAtProvider off"))
    cookie = logged_in(browser, h)
    headers = {"Sec-Fetch-Site": site} if site else {}
    r = browser.request(method, f"{h.url}/rtsession/logout", headers=headers)
    if allowed:
        assert r.status_code == 302 and location(r) == f"{h.url}/bye"
        assert sessions.read(cookie) is None
    else:
        assert r.status_code == 403 and not cleared(r, COOKIE)
        assert sessions.read(cookie) is not None
        assert browser.get(f"{h.url}/app/x", headers=XHR).status_code == 200


def test_logout_local_only_return_and_no_revocation(httpd_for, make_config, op, browser,
                                                    sessions):
    h = httpd_for("main", logout_config(make_config, "RTSessionLogoutAtProvider off",
                                        "RTSessionRevokeOnLogout off"))
    cookie = logged_in(browser, h)
    op.reset_counters()
    r = browser.get(f"{h.url}/rtsession/logout?return=%2Fapp%2Fagain", headers=SAME_ORIGIN)
    assert r.status_code == 302 and location(r) == f"{h.url}/app/again"
    assert cleared(r, COOKIE) and sessions.read(cookie) is None
    assert op.counters()["revocations"] == 0
    # a return URL elsewhere is not followed
    r = browser.get(f"{h.url}/rtsession/logout?return=https%3A%2F%2Fevil.test%2F",
                    headers=SAME_ORIGIN)
    assert location(r) == f"{h.url}/bye"


def test_logout_without_session(httpd_for, make_config, browser, op):
    h = httpd_for("main", logout_config(make_config))
    r = browser.post(f"{h.url}/rtsession/logout")
    assert r.status_code == 302 and location(r) == f"{h.url}/bye"


def test_logout_path_off_by_default(httpd, browser, echo):
    r = browser.post(f"{httpd.url}/rtsession/logout", headers=SAME_ORIGIN)
    assert r.status_code == 404


def test_logout_other_methods(httpd_for, make_config, browser):
    h = httpd_for("main", logout_config(make_config))
    assert browser.request("PUT", f"{h.url}/rtsession/logout").status_code == 405


# ---- back-channel logout ----

BC_PATH = "/rtsession/backchannel-logout"
BC_EVENT = "http://schemas.openid.net/event/backchannel-logout"


def bc_config(make_config) -> str:
    return make_config(server_extra=f"RTSessionBackchannelLogoutPath {BC_PATH}")


def op_signed(op, claims: dict, header: dict | None = None) -> str:
    body = {"claims": claims, **({"header": header} if header else {})}
    r = op.http.post(f"{op.url}/admin/sign", json=body, timeout=10)
    assert r.status_code == 200
    return r.json()["jwt"]


def own_signed(claims: dict, kid: str) -> str:
    """Signed with a key of our own, under the OP's kid: a forged token."""
    import base64
    import json
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    def enc(o):
        return base64.urlsafe_b64encode(json.dumps(o).encode()).rstrip(b"=").decode()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    signing_input = f"{enc({'alg': 'RS256', 'kid': kid, 'typ': 'logout+jwt'})}.{enc(claims)}"
    sig = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + base64.urlsafe_b64encode(sig).rstrip(b"=").decode()


def logout_claims(op, clients, **kw) -> dict:
    import time
    claims = {"iss": op.url, "aud": clients["rts-test"].client_id, "iat": int(time.time()),
              "jti": f"j-{time.monotonic_ns()}", "events": {BC_EVENT: {}}}
    claims.update(kw)
    return {k: v for k, v in claims.items() if v is not None}


def post_logout_token(browser, h, token: str):
    import requests
    return requests.post(f"{h.url}{BC_PATH}", data={"logout_token": token},
                         verify=browser.verify, timeout=10)


def test_backchannel_logout_by_sid_on_every_host(httpd_for, make_config, op, clients, browser,
                                                 sessions, pki):
    from rtstest.client import Browser
    conf = bc_config(make_config)
    h1, h2 = httpd_for("main", conf), httpd_for("second", conf)
    cookie = logged_in(browser, h1)
    sid = sessions.read(cookie).get("sid")
    assert sid, "the OP's ID token carried no sid"
    other = Browser(pki.ca_cert)              # alice in another browser: another OP session
    try:
        other_cookie = logged_in(other, h2)
        assert sessions.read(other_cookie)["sid"] != sid
        r = post_logout_token(browser, h2, op_signed(op, logout_claims(op, clients, sid=sid,
                                                                       sub=sessions.read(cookie)["s"])))
        assert r.status_code == 200 and r.headers.get("Cache-Control") == "no-store"
        assert sessions.read(cookie) is None
        for h in (h1, h2):
            assert browser.get(f"{h.url}/app/x", headers=XHR).status_code == 401
        # that OP session only: the other browser stays logged in
        assert sessions.read(other_cookie) is not None
        assert other.get(f"{h1.url}/app/x", headers=XHR).status_code == 200
    finally:
        other.close()


def test_backchannel_logout_by_sub_ends_all_sessions_of_user(httpd_for, make_config, op,
                                                             clients, browser, sessions, pki):
    from rtstest.client import Browser
    h = httpd_for("main", bc_config(make_config))
    cookie = logged_in(browser, h)
    sub = sessions.read(cookie)["s"]
    second, bob = Browser(pki.ca_cert), Browser(pki.ca_cert)
    try:
        second_cookie = logged_in(second, h)
        login(bob, f"{h.url}/app/", user="bob")
        bob_cookie = bob.cookies.get(COOKIE, domain="127.0.0.1")
        r = post_logout_token(browser, h, op_signed(op, logout_claims(op, clients, sub=sub)))
        assert r.status_code == 200
        assert sessions.read(cookie) is None and sessions.read(second_cookie) is None
        assert sessions.read(bob_cookie) is not None
    finally:
        second.close()
        bob.close()


@pytest.mark.parametrize("case", ["bad_signature", "wrong_aud", "nonce", "no_events",
                                  "no_sid_no_sub", "wrong_iss", "garbage", "missing"])
def test_backchannel_logout_invalid(httpd_for, make_config, op, clients, browser, sessions,
                                    case, log_expect):
    log_expect.append("RTS10511")
    h = httpd_for("main", bc_config(make_config))
    cookie = logged_in(browser, h)
    record = sessions.read(cookie)
    good = dict(sid=record["sid"], sub=record["s"])
    if case == "bad_signature":
        kid = op.http.get(f"{op.url}/jwks", timeout=10).json()["keys"][0]["kid"]
        token = own_signed(logout_claims(op, clients, **good), kid)
    elif case == "wrong_aud":
        token = op_signed(op, logout_claims(op, clients, aud="someone-else", **good))
    elif case == "nonce":
        token = op_signed(op, logout_claims(op, clients, nonce="n-1", **good))
    elif case == "no_events":
        token = op_signed(op, logout_claims(op, clients, events=None, **good))
    elif case == "no_sid_no_sub":
        token = op_signed(op, logout_claims(op, clients))
    elif case == "wrong_iss":
        token = op_signed(op, logout_claims(op, clients, iss="https://evil.test", **good))
    elif case == "garbage":
        token = "not-a-jwt"
    else:
        token = ""
    r = post_logout_token(browser, h, token)
    assert r.status_code == 400
    assert r.headers.get("Cache-Control") == "no-store"
    assert r.headers.get("Content-Type", "").startswith("application/json")
    assert r.json()["error"] == "invalid_request"
    assert sessions.read(cookie) is not None
    assert browser.get(f"{h.url}/app/x", headers=XHR).status_code == 200


def test_backchannel_logout_needs_form_post(httpd_for, make_config, browser):
    h = httpd_for("main", bc_config(make_config))
    assert browser.get(f"{h.url}{BC_PATH}").status_code == 405
    import requests
    r = requests.post(f"{h.url}{BC_PATH}", json={"logout_token": "x"}, verify=browser.verify,
                      timeout=10)
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


def test_backchannel_logout_replay_refused(httpd_for, make_config, op, clients, browser,
                                           sessions, log_expect):
    log_expect.append("RTS10511")
    h = httpd_for("main", bc_config(make_config))
    cookie = logged_in(browser, h)
    sid = sessions.read(cookie)["sid"]
    token = op_signed(op, logout_claims(op, clients, sid=sid))
    assert post_logout_token(browser, h, token).status_code == 200
    assert sessions.read(cookie) is None
    cookie = logged_in(browser, h)
    assert sessions.read(cookie)["sid"] == sid, "the OP started a new session"
    r = post_logout_token(browser, h, token)
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    assert sessions.read(cookie) is not None
