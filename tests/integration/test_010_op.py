# SPDX-License-Identifier: Apache-2.0
"""The test OP behaves as mod_rtsession assumes: PKCE code flow, refresh tokens that
rotate on every use, and reuse detection that revokes the whole grant."""
import base64
import hashlib
import secrets
import time

import pytest

from rtstest.client import Browser, authenticate_at_op, query_params


def pkce_pair():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


class DirectClient:
    """We act as the confidential client ourselves, against the OP only."""

    def __init__(self, op, client, redirect_uri, ca):
        self.op, self.client, self.redirect_uri = op, client, redirect_uri
        self.browser = Browser(ca)
        self.meta = op.metadata()

    def code_flow(self, user="alice", scope="openid email profile offline_access"):
        verifier, challenge = pkce_pair()
        state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        req = self.browser.prepare_request(__import__("requests").Request(
            "GET", self.meta["authorization_endpoint"], params={
                "response_type": "code", "client_id": self.client.client_id,
                "redirect_uri": self.redirect_uri, "scope": scope, "state": state,
                "nonce": nonce, "code_challenge": challenge, "code_challenge_method": "S256"}))
        callback = authenticate_at_op(self.browser, req.url, user)
        params = query_params(callback)
        assert params["state"] == state
        assert params["iss"] == self.op.issuer
        return self.token({"grant_type": "authorization_code", "code": params["code"],
                           "redirect_uri": self.redirect_uri, "code_verifier": verifier})

    def refresh(self, refresh_token):
        return self.token({"grant_type": "refresh_token", "refresh_token": refresh_token})

    def token(self, form):
        # a back-channel call, as a relying party makes it: JSON, not a browser navigation
        headers = {"Accept": "application/json", "Sec-Fetch-Mode": None}
        if self.client.auth_method == "client_secret_basic":
            return self.browser.post(self.meta["token_endpoint"], data=form, headers=headers,
                                     auth=(self.client.client_id, self.client.secret))
        return self.browser.post(self.meta["token_endpoint"], headers=headers, data={
            **form, "client_id": self.client.client_id, "client_secret": self.client.secret})


@pytest.fixture
def direct(op, clients, ports, pki):
    op.reset_counters()
    redirect_uri = f"https://127.0.0.1:{ports['httpd'][0]}/rtsession/callback"
    return lambda client_id="rts-test": DirectClient(op, clients[client_id], redirect_uri, pki.ca_cert)


def test_discovery(op):
    meta = op.metadata()
    assert meta["issuer"] == op.issuer
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert {"authorization_code", "refresh_token"} <= set(meta["grant_types_supported"])
    assert meta["userinfo_endpoint"] == op.userinfo_url
    assert {"client_secret_basic", "client_secret_post"} <= set(meta["token_endpoint_auth_methods_supported"])


@pytest.mark.parametrize("client_id", ["rts-test", "rts-post"])
def test_code_flow_issues_all_tokens_and_claims(direct, op, client_id):
    r = direct(client_id).code_flow()
    assert r.status_code == 200, r.text
    tok = r.json()
    assert {"access_token", "id_token", "refresh_token"} <= set(tok)
    assert 0 < tok["expires_in"] <= op.config["access_token_ttl"]
    ui = op.userinfo(tok["access_token"])
    assert ui.status_code == 200, "fresh access token rejected by userinfo"
    alice = op.users()["alice"]
    assert ui.json()["sub"] == alice["sub"]
    payload = tok["id_token"].split(".")[1]
    claims = __import__("json").loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["email"] == "alice@example.test"
    assert claims["name"] == "Alice Liddell"
    assert claims["groups"] == ["staff", "readers"]
    assert "nonce" in claims
    assert op.counters()["authorization_code_grants"] == 1


def test_pkce_is_required(op, pki, clients, ports):
    b = Browser(pki.ca_cert)
    r = b.get(op.metadata()["authorization_endpoint"], params={
        "response_type": "code", "client_id": "rts-test", "scope": "openid",
        "redirect_uri": f"https://127.0.0.1:{ports['httpd'][0]}/rtsession/callback",
        "state": "s", "nonce": "n"})
    # Without code_challenge the OP refuses, by redirecting the error to the client.
    assert r.status_code in (302, 303)
    err = query_params(r.headers["Location"])
    assert err["error"] == "invalid_request"
    assert "PKCE" in err["error_description"]


def test_wrong_password_shows_form_again(op, pki, ports):
    b = Browser(pki.ca_cert)
    _, challenge = pkce_pair()
    req_url = b.prepare_request(__import__("requests").Request("GET", op.metadata()["authorization_endpoint"], params={
        "response_type": "code", "client_id": "rts-test", "scope": "openid",
        "redirect_uri": f"https://127.0.0.1:{ports['httpd'][0]}/rtsession/callback",
        "state": "s", "nonce": "n", "code_challenge": challenge,
        "code_challenge_method": "S256"})).url
    with pytest.raises(AssertionError, match="showed the form again"):
        authenticate_at_op(b, req_url, "alice", "not-the-password")
    assert op.counters()["login_failures"] >= 1


def test_refresh_rotates_every_time(direct, op):
    c = direct()
    tok = c.code_flow().json()
    seen = {tok["refresh_token"]}
    for _ in range(3):
        r = c.refresh(tok["refresh_token"])
        assert r.status_code == 200, r.text
        tok = r.json()
        assert tok["refresh_token"] not in seen, "refresh token was not rotated"
        seen.add(tok["refresh_token"])
        status = op.userinfo(tok["access_token"]).status_code
        assert status == 200
    counters = op.counters()
    assert counters["refresh_grants"] == 3
    assert counters["refresh_grant_errors"] == 0


def test_reuse_of_refresh_token_revokes_the_grant(direct, op):
    c = direct()
    first = c.code_flow().json()
    rt1 = first["refresh_token"]
    second = c.refresh(rt1)
    assert second.status_code == 200
    rt2, at2 = second.json()["refresh_token"], second.json()["access_token"]
    status = op.userinfo(at2).status_code
    assert status == 200

    replay = c.refresh(rt1)                     # RT1 again: reuse
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"

    newest = c.refresh(rt2)                     # the newest one is dead too
    assert newest.status_code == 400
    assert newest.json()["error"] == "invalid_grant"
    status_at2 = op.userinfo(at2).status_code    # and so are the grant's access tokens
    status_at1 = op.userinfo(first["access_token"]).status_code
    assert (status_at1, status_at2) == (401, 401)

    counters = op.counters()
    assert counters["refresh_grants"] == 1
    assert counters["refresh_grant_errors"] == 2
    assert counters["refresh_token_reuse"] == 1
    assert counters["invalid_grant"] == 2
    assert counters["grants_revoked"] == 1
    log = [e for e in op.token_log() if e["grant_type"] == "refresh_token"]
    assert [e["status"] for e in log] == [200, 400, 400]
    assert log[1]["error_detail"] == "refresh token already used"
    assert log[0]["refresh_token_sha256_12"] == log[1]["refresh_token_sha256_12"]


def test_short_access_token_ttl_at_runtime(direct, op):
    op.settings(access_token_ttl=2)
    tok = direct().code_flow().json()
    assert tok["expires_in"] <= 2
    before = op.userinfo(tok["access_token"]).status_code
    time.sleep(3.1)
    after = op.userinfo(tok["access_token"]).status_code
    assert (before, after) == (200, 401)


def test_token_endpoint_faults(direct, op):
    c = direct()
    tok = c.code_flow().json()
    op.settings(token_down="503")
    r = c.refresh(tok["refresh_token"])
    assert r.status_code == 503
    op.settings(token_down="drop")
    with pytest.raises(__import__("requests").exceptions.ConnectionError):
        c.refresh(tok["refresh_token"])
    op.settings(token_down=False, token_delay_ms=700)
    t0 = time.monotonic()
    r = c.refresh(tok["refresh_token"])          # not consumed by the refused attempts
    assert r.status_code == 200
    assert time.monotonic() - t0 >= 0.7
    entries = op.token_log()[-3:]
    assert [e["error"] for e in entries[:2]] == ["token_down:503", "token_down:drop"]
    assert entries[2]["answered"] - entries[2]["received"] >= 0.7
    assert op.counters()["token_requests_refused"] == 2


def test_admin_is_loopback_only_and_validates(op):
    r = op.http.post(f"{op.url}/admin/settings", json={"nope": 1}, timeout=5)
    assert r.status_code == 400
    r = op.http.post(f"{op.url}/admin/settings", json={"token_down": "maybe"}, timeout=5)
    assert r.status_code == 400
