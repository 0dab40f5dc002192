# SPDX-License-Identifier: Apache-2.0
"""The module against a deliberately misbehaving OpenID Provider (tests/hostile_op): one test
per fault. A rejected login must end with an error page (no redirect loop), set no session
cookie, leave the browser logged out, forward nothing to the backend and, where the fault
shows before the token request, never redeem the code. The status of each rejection is
asserted exactly (docs/security.md explains the choice of 400/403/502)."""
import base64
import secrets as pysecrets
import time

import pytest
import requests

from rtstest import paths
from rtstest.client import location, query_params, set_cookie_headers
from rtstest.ports import free_ports
from rtstest.procs import _Proc, node_argv
from rtstest.rtsconf import Client

COOKIE = "__Host-rtsession"
HOSTILE_DIR = paths.TESTS_DIR / "hostile_op"
CLIENT_ID = "rts-hostile"


class HostileOP(_Proc):
    """tests/hostile_op/hostile_op.mjs and its admin API."""
    name = "hostile-op"

    def __init__(self, port, pki, secret, gen_dir):
        super().__init__(gen_dir / "hostile-op.log")
        self.port = port
        self.pki = pki
        self.secret = secret
        self.url = f"https://127.0.0.1:{port}"
        self.http = requests.Session()
        self.http.verify = str(pki.ca_cert)
        self.http.trust_env = False

    def start(self, timeout=30):
        if not (HOSTILE_DIR / "node_modules" / "jose").is_dir():
            import subprocess
            subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=HOSTILE_DIR, check=True,
                           timeout=300, stdin=subprocess.DEVNULL)
        self._spawn([*node_argv(), HOSTILE_DIR / "hostile_op.mjs", "--port", self.port,
                     "--cert", self.pki.server_cert, "--key", self.pki.server_key,
                     "--client-id", CLIENT_ID, "--secret", self.secret], cwd=HOSTILE_DIR)

        def up():
            self._check_alive()
            try:
                return self.http.get(self.url + "/admin/state", timeout=2).status_code == 200
            except requests.RequestException:
                return False
        self._wait_or_stop(up, timeout, f"hostile OP at {self.url}", interval=0.2)
        return self

    def _post(self, path, body=None):
        r = self.http.post(self.url + path, json=body or {}, timeout=10)
        assert r.status_code == 200, f"hostile OP {path}: {r.status_code}"
        return r.json()

    def scenario(self, name):
        self._post("/admin/scenario", {"name": name})

    def reset(self):
        self._post("/admin/reset")

    def rotate(self):
        return self._post("/admin/rotate")["kid"]

    def state(self):
        r = self.http.get(self.url + "/admin/state", timeout=10)
        assert r.status_code == 200
        return r.json()


@pytest.fixture(scope="module")
def hostile(gen_dir, pki):
    op = HostileOP(free_ports(1)[0], pki, "hostile-" + pysecrets.token_urlsafe(24), gen_dir).start()
    yield op
    op.stop()


BC_PATH = "/rtsession/backchannel-logout"


def _hostile_instance(hostile, httpd_for, make_config, leak_check, server_extra=""):
    hostile.reset()
    client = Client(CLIENT_ID, hostile.secret, "client_secret_basic")
    h = httpd_for("hostile", make_config(op_url=hostile.url, client=client, http_timeout=2,
                                         server_extra=server_extra))
    h.graceful()
    h.error_log.mark()
    leak_check.append(hostile.secret)
    return h


@pytest.fixture
def hostile_httpd(hostile, httpd_for, make_config, leak_check):
    """The instance that trusts the hostile OP, restarted gracefully so that no metadata or
    JWKS cached by an earlier test hides this test's provider behaviour."""
    yield _hostile_instance(hostile, httpd_for, make_config, leak_check)
    leak_check.extend(hostile.state()["issued"])


@pytest.fixture
def bc_hostile_httpd(hostile, httpd_for, make_config, leak_check):
    """The same with the back-channel logout endpoint (issue 5)."""
    yield _hostile_instance(hostile, httpd_for, make_config, leak_check,
                            server_extra=f"RTSessionBackchannelLogoutPath {BC_PATH}")
    leak_check.extend(hostile.state()["issued"])


def no_session_cookie(resp):
    return not [h for h in set_cookie_headers(resp)
                if h.startswith(COOKIE + "=") and not h.startswith(COOKIE + "=;")
                and "max-age=0" not in h.lower()]


def to_callback(browser, h, hostile):
    """Protected URL -> RP's 302 -> hostile /authorize -> 302 back; returns the callback URL."""
    r = browser.get(f"{h.url}/app/")
    assert r.status_code == 302, f"expected a redirect to the OP, got {r.status_code}"
    auth = location(r)
    assert auth.startswith(hostile.url + "/authorize?")
    r = browser.get(auth)
    assert r.status_code == 302
    cb = location(r)
    assert cb.startswith(f"{h.url}/rtsession/callback?")
    return cb


def login(browser, h, hostile):
    """The whole flow; returns (callback response, callback URL)."""
    cb = to_callback(browser, h, hostile)
    return browser.get(cb), cb


def assert_logged_in(browser, h, r, echo, sub="hostile-alice"):
    assert r.status_code == 302, f"callback: expected 302, got {r.status_code}"
    assert not no_session_cookie(r)
    final = browser.get(location(r))
    assert final.status_code == 200
    users = echo.header_values(echo.last(), "X-Remote-User")
    assert users == [sub]


def assert_rejected(browser, h, r, echo, status, hostile=None, redeemed=True):
    assert r.status_code == status, f"expected {status}, got {r.status_code}"
    assert not r.is_redirect, "an error at the callback must not start a new login (loop)"
    assert no_session_cookie(r)
    assert echo.records() == [], "something reached the backend"
    again = browser.get(f"{h.url}/app/")
    assert again.status_code == 302 and "/authorize?" in again.headers["Location"], \
        "the browser is logged in after a rejected login"
    assert echo.records() == []
    if hostile is not None:
        tokens = hostile.state()["counters"]["token"]
        assert tokens == (1 if redeemed else 0), f"token endpoint called {tokens} times"


# ---------------------------------------------------------------- accepted

@pytest.mark.parametrize("scenario", ["good", "es256", "ps256", "kid_absent_single",
                                      "kid_absent_multi", "pkce_required"])
def test_accepted(hostile, hostile_httpd, browser, echo, scenario):
    """A correct provider; ES256 and PS256 tokens; no kid with one key, and with several keys
    (each candidate key is tried, the one that verifies wins); a provider that enforces PKCE."""
    hostile.scenario(scenario)
    r, _ = login(browser, hostile_httpd, hostile)
    assert_logged_in(browser, hostile_httpd, r, echo)
    log = hostile.state()["token_log"]
    assert len(log) == 1 and log[0]["pkce_ok"] and log[0]["redirect_uri_ok"]


def test_access_token_jwt_with_absurd_exp(hostile, hostile_httpd, browser, echo):
    """No expires_in and a JWT access token whose exp is past year 9999: the expiry is
    unknown (no overflow: the sanitizer run aborts on one), the login works and the next
    request does not refresh."""
    hostile.scenario("at_jwt_huge_exp")
    r, _ = login(browser, hostile_httpd, hostile)
    assert_logged_in(browser, hostile_httpd, r, echo)
    assert browser.get(f"{hostile_httpd.url}/app/again").status_code == 200
    assert hostile.state()["counters"]["token"] == 1


def test_client_secret_basic_at_token_endpoint(hostile, hostile_httpd, browser, echo):
    r, _ = login(browser, hostile_httpd, hostile)
    assert_logged_in(browser, hostile_httpd, r, echo)
    log = hostile.state()["token_log"]
    assert [(e["auth_method"], e["client_ok"], e["grant_type"]) for e in log] == \
        [("client_secret_basic", True, "authorization_code")]


def test_userinfo_is_never_trusted(hostile, hostile_httpd, browser, echo):
    """The module takes identity from the validated ID token only: a userinfo endpoint that
    names another subject is never called, its values never reach the backend."""
    hostile.scenario("userinfo_sub_mismatch")
    r, _ = login(browser, hostile_httpd, hostile)
    assert_logged_in(browser, hostile_httpd, r, echo)
    assert hostile.state()["counters"]["userinfo"] == 0
    assert echo.header_values(echo.last(), "X-Remote-Email") == ["alice@hostile.test"]


def test_key_rotation_needs_one_jwks_refetch(hostile, hostile_httpd, browser, pki, echo):
    r, _ = login(browser, hostile_httpd, hostile)
    assert_logged_in(browser, hostile_httpd, r, echo)
    before = hostile.state()["counters"]["jwks"]
    hostile.rotate()                      # the old key leaves the JWKS
    time.sleep(0.2)                       # a refetch right after a fetch is never done
    from rtstest.client import Browser
    with Browser(pki.ca_cert) as second:
        r, _ = login(second, hostile_httpd, hostile)
        assert_logged_in(second, hostile_httpd, r, echo)
    assert hostile.state()["counters"]["jwks"] - before == 1


def test_jwks_refetch_is_rate_limited(hostile, hostile_httpd, browser, echo):
    """Tokens naming an unknown kid cause at most one JWKS refetch per RTSession's minimum
    interval (10 s), not one per login attempt (the same connection: the same process)."""
    r, _ = login(browser, hostile_httpd, hostile)
    assert_logged_in(browser, hostile_httpd, r, echo)
    echo.clear()
    browser.cookies.clear()
    before = hostile.state()["counters"]["jwks"]
    hostile.scenario("unknown_kid")
    time.sleep(0.2)
    for _ in range(4):
        r, _ = login(browser, hostile_httpd, hostile)
        assert r.status_code == 403
    assert hostile.state()["counters"]["jwks"] - before == 1
    assert echo.records() == []


# ---------------------------------------------------------------- rejected: the ID token

# scenario -> what the module must log as the reason (so that a fault is refused for the
# right reason, not by accident of another check)
ID_TOKEN_FAULTS = {
    "bad_rs256_sig": "signature does not verify (RS256)",
    "bad_es256_sig": "signature does not verify (ES256)",
    "alg_none": "empty signature",
    "hs256_unknown_secret": "none or HMAC is never accepted",
    "hs256_public_key": "none or HMAC is never accepted",
    "wrong_iss": "iss is not the expected issuer",
    "wrong_aud": "aud does not contain the client_id",
    "missing_aud": "aud missing",
    "expired": "expired (exp)",
    "missing_exp": "exp missing",
    "missing_iat": "iat missing",
    "missing_sub": "sub missing",
    "sub_control_chars": "sub is not 1..255 printable ASCII",
    "wrong_nonce": "nonce does not match",
    "missing_nonce": "nonce missing",
    "nbf_future": "not yet valid (nbf)",
    "iat_future": "issued in the future (iat)",
    "multi_aud_no_azp": "several audiences but no azp",
    "wrong_azp": "azp is not the client_id",
    "wrong_at_hash": "at_hash does not match",
    "typ_at_jwt": "typ header is not JWT",
    "crit_unknown": '"crit"',
    "embedded_jwk": "signature does not verify (RS256)",
    "unknown_kid": "no key in the JWKS has the token's kid",
    "alg_key_mismatch": "no key in the JWKS suits algorithm ES256",
}


def rejected_after_token_request(hostile, h, browser, echo, scenario, status, reason):
    """One faulty login: the exact status, the logged reason (RTS10010), the usual guarantees."""
    hostile.scenario(scenario)
    r, _ = login(browser, h, hostile)
    assert_rejected(browser, h, r, echo, status, hostile)
    lines = [line for line in h.error_log.lines() if "RTS10010" in line]
    assert any(reason in line for line in lines), f"no RTS10010 line with the reason {reason!r}"


@pytest.mark.parametrize("scenario", sorted(ID_TOKEN_FAULTS))
def test_id_token_rejected(hostile, hostile_httpd, browser, echo, scenario):
    rejected_after_token_request(hostile, hostile_httpd, browser, echo, scenario, 403,
                                 ID_TOKEN_FAULTS[scenario])


# ---------------------------------------------------------------- rejected: before the token request

@pytest.mark.parametrize("scenario", ["discovery_issuer_mismatch",
                                      "discovery_http_token_endpoint"])
def test_discovery_rejected(hostile, hostile_httpd, browser, echo, log_expect, scenario):
    """Another issuer in the discovery document (OIDC Discovery §4.3), or a token endpoint
    over plain http: no authorization request at all."""
    log_expect.append("RTS10020")   # discovery document invalid
    hostile.scenario(scenario)
    r = browser.get(f"{hostile_httpd.url}/app/")
    assert r.status_code == 502
    assert not r.is_redirect
    assert echo.records() == []
    c = hostile.state()["counters"]
    assert c["discovery"] >= 1 and c["authorize"] == 0 and c["token"] == 0


@pytest.mark.parametrize("scenario,status", [
    ("state_mismatch", 400), ("state_missing", 400), ("auth_wrong_iss", 400),
    ("auth_iss_missing", 400), ("access_denied", 403)])
def test_authorization_response_rejected(hostile, hostile_httpd, browser, echo,
                                         scenario, status):
    hostile.scenario(scenario)
    r, _ = login(browser, hostile_httpd, hostile)
    assert_rejected(browser, hostile_httpd, r, echo, status, hostile, redeemed=False)


def test_code_replayed_in_same_browser(hostile, hostile_httpd, browser, echo):
    r, cb = login(browser, hostile_httpd, hostile)
    assert_logged_in(browser, hostile_httpd, r, echo)
    echo.clear()
    r = browser.get(cb)
    assert r.status_code == 400
    assert no_session_cookie(r)
    assert echo.records() == []
    assert hostile.state()["counters"]["token"] == 1, "the replayed code was redeemed again"


def test_callback_from_another_browser(hostile, hostile_httpd, browser, pki, echo):
    """A callback URL carried to another browser (login CSRF / code injection) is refused
    without redeeming the code."""
    cb = to_callback(browser, hostile_httpd, hostile)
    from rtstest.client import Browser
    with Browser(pki.ca_cert) as other:
        r = other.get(cb)
        assert_rejected(other, hostile_httpd, r, echo, 400, hostile, redeemed=False)


# ---------------------------------------------------------------- rejected: the token endpoint

TOKEN_FAULTS = {
    "token_error": "(token_error)",
    "token_server_error": "unexpected HTTP status 500",
    "token_type_missing": "token_type missing",
    "token_type_unknown": "token_type is not Bearer",
    "token_garbage": "not a JSON object",
    "id_token_missing": "(no_id_token)",
    "access_token_missing": "access_token missing",
    "token_oversized": "(token_error)",
    "token_expires_in_string": "expires_in is not a non-negative integer",
    "token_redirect": "unexpected HTTP status 307",
    "jwks_garbage": "(invalid_id_token)",
    "jwks_oversized": "(invalid_id_token)",
}


@pytest.mark.parametrize("scenario", sorted(TOKEN_FAULTS))
def test_token_response_rejected(hostile, hostile_httpd, browser, echo, log_expect, scenario):
    log_expect.append("RTS10010")   # login callback failed
    if scenario.startswith("jwks_"):
        log_expect.append("RTS10021")   # JWKS unusable
    rejected_after_token_request(hostile, hostile_httpd, browser, echo, scenario, 502,
                                 TOKEN_FAULTS[scenario])


def test_token_endpoint_never_answers(hostile, hostile_httpd, browser, echo, log_expect):
    """RTSessionHTTPTimeout 2: an error page after about 2 s, never a hang."""
    log_expect.append("RTS10010")   # login callback failed
    hostile.scenario("token_hang")
    cb = to_callback(browser, hostile_httpd, hostile)
    t0 = time.monotonic()
    r = browser.get(cb, timeout=30)
    elapsed = time.monotonic() - t0
    assert 1.5 <= elapsed < 10, f"answered after {elapsed:.1f} s"
    assert_rejected(browser, hostile_httpd, r, echo, 502, hostile)


def test_client_secret_basic_encoding(hostile):
    """The hostile OP decodes client_secret_basic as RFC 6749 §2.3.1 says (form-encoded id and
    secret): a guard that the accepted cases really test the module's encoding."""
    hostile.reset()
    creds = base64.b64encode(f"{CLIENT_ID}:{hostile.secret}".encode()).decode()
    r = hostile.http.post(hostile.url + "/token", data={"grant_type": "authorization_code",
                                                        "code": "nope"},
                          headers={"Authorization": "Basic " + creds}, timeout=10)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    r = hostile.http.post(hostile.url + "/token", data={"grant_type": "authorization_code",
                                                        "code": "nope"},
                          headers={"Authorization": "Basic " + base64.b64encode(
                              f"{CLIENT_ID}:wrong".encode()).decode()}, timeout=10)
    assert r.status_code == 401
    hostile.reset()


def test_callback_params_are_single_valued(hostile, hostile_httpd, browser, echo):
    """A second state or code parameter in the callback (parameter pollution) is refused."""
    cb = to_callback(browser, hostile_httpd, hostile)
    p = query_params(cb)
    r = browser.get(cb + "&state=" + p["state"] + "x")
    assert 400 <= r.status_code < 500
    assert no_session_cookie(r)
    assert echo.records() == []


# ---------------------------------------------------------------- back-channel logout

def post_logout_token(h, hostile, variant):
    token = hostile._post("/admin/logout-token", {"variant": variant})["logout_token"]
    r = requests.post(f"{h.url}{BC_PATH}", data={"logout_token": token},
                      verify=str(hostile.pki.ca_cert), timeout=10)
    return r, token


def test_backchannel_good_logout_token_ends_session(hostile, bc_hostile_httpd, browser, echo,
                                                    leak_check):
    h = bc_hostile_httpd
    r, _ = login(browser, h, hostile)
    assert_logged_in(browser, h, r, echo)
    r, token = post_logout_token(h, hostile, "good")
    leak_check.append(token)
    assert r.status_code == 200
    again = browser.get(f"{h.url}/app/")
    assert again.status_code == 302 and "/authorize?" in again.headers["Location"]


@pytest.mark.parametrize("variant", [
    "missing_events", "wrong_event", "events_not_object", "nonce_present", "wrong_aud",
    "wrong_iss", "bad_sig", "alg_none", "hs256", "no_sub_no_sid", "expired", "missing_iat",
    "id_token_typ"])
def test_backchannel_bad_logout_token_is_refused(hostile, bc_hostile_httpd, browser, echo,
                                                 leak_check, variant):
    h = bc_hostile_httpd
    r, _ = login(browser, h, hostile)
    assert_logged_in(browser, h, r, echo)
    r, token = post_logout_token(h, hostile, variant)
    leak_check.append(token)
    assert r.status_code == 400
    assert browser.get(f"{h.url}/app/still").status_code == 200, "the session did not stay"
