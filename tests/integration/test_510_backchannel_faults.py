# SPDX-License-Identifier: Apache-2.0
"""Back-channel logout when things race or fail, and pending logins that cost the store nothing
(issue 11, items 7 and 8): the OP's own delivery ends the session; a login whose callback lands
after a logout of its user creates no session; concurrent logins of one user are all ended; a
user with more sessions than the index holds keeps none after a logout; anonymous navigations
write nothing to memcached; a callback cannot be replayed; a pending login of an earlier version
still completes."""
import base64
import hashlib
import hmac
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from rtstest import mc
from rtstest.client import (Browser, authenticate_at_op, location, login, query_params,
                            set_cookie_headers, start_login)
from rtstest.sessions import SessionReader, seal_key
from test_500_logout import (BC_PATH, XHR, bc_config, confirm_at_op, logged_in, logout_claims,
                             op_signed, post_logout_token)

COOKIE = "__Host-rtsession"
PENDING_COOKIE = "__Host-rtsession_login"
INDEX_MAX = 64


@pytest.fixture
def sessions(session_secret, ports):
    return SessionReader(session_secret, ports["memcached"])


def mc_stats(ports) -> dict:
    data = mc.command(("127.0.0.1", ports["memcached"]), "stats", timeout=5).decode()
    return {f[1]: f[2] for f in (line.split() for line in data.splitlines())
            if len(f) == 3 and f[0] == "STAT"}


def cookie_set(resp, name: str) -> str | None:
    for h in set_cookie_headers(resp):
        if h.startswith(name + "="):
            return h.split(";", 1)[0].split("=", 1)[1]
    return None


def test_op_delivers_backchannel_logout(httpd_for, ports, make_config, op, clients, browser,
                                        sessions):
    """The OP's own delivery, not a token the test posts: ending the OP session (RP-initiated
    logout straight at the OP, bypassing the module's logout) makes the OP POST a logout token
    to the module, which ends the session on every host."""
    h = httpd_for("main", bc_config(make_config))
    assert h.port == ports["httpd"][0], "the OP's backchannel_logout_uri names another port"
    cookie = logged_in(browser, h)
    assert sessions.read(cookie)["sid"]
    op.reset_counters()
    end = f"{op.url}/session/end?" + urlencode({"client_id": clients["rts-test"].client_id})
    confirm_at_op(browser, end)
    counters = op.counters()
    assert counters["backchannel_errors"] == 0, "the OP could not deliver (see op.log)"
    assert counters["backchannel_logouts"] == 1
    assert sessions.read(cookie) is None
    r = browser.get(f"{h.url}/app/x", headers={**XHR, "Cookie": f"{COOKIE}={cookie}"})
    assert r.status_code == 401


def test_late_callback_after_logout_creates_no_session(httpd_for, make_config, op, clients,
                                                       browser, sessions, pki):
    """A login in flight (the user authenticated at the OP, the callback not yet back) when a
    logout of the user arrives must not create its session afterwards."""
    h = httpd_for("main", bc_config(make_config))
    first = logged_in(browser, h)
    sub = sessions.read(first)["s"]
    late = Browser(pki.ca_cert)
    try:
        auth_url, _ = start_login(late, f"{h.url}/app/late")
        callback_url = authenticate_at_op(late, auth_url)
        r = post_logout_token(browser, h, op_signed(op, logout_claims(op, clients, sub=sub)))
        assert r.status_code == 200
        assert sessions.read(first) is None
        r = late.get(callback_url)
        assert r.status_code == 400, f"late callback: {r.status_code}"
        assert cookie_set(r, COOKIE) is None
        assert late.cookies.get(COOKIE, domain="127.0.0.1") is None
        # the next login, begun after the logout, works (no login refused for good)
        login(late, f"{h.url}/app/again")
        again = late.cookies.get(COOKIE, domain="127.0.0.1")
        assert again and sessions.read(again) is not None
    finally:
        late.close()


def test_concurrent_logins_all_ended(httpd_for, make_config, op, clients, sessions, pki):
    """Logins of one user completing at once all land in the index (compare-and-swap): one
    logout by sub ends every one of them."""
    h = httpd_for("main", bc_config(make_config))
    browsers = [Browser(pki.ca_cert) for _ in range(6)]
    try:
        callbacks = []
        for b in browsers:
            auth_url, _ = start_login(b, f"{h.url}/app/")
            callbacks.append(authenticate_at_op(b, auth_url))
        with ThreadPoolExecutor(len(browsers)) as pool:
            answers = list(pool.map(lambda bc: bc[0].get(bc[1]), zip(browsers, callbacks)))
        assert [a.status_code for a in answers] == [302] * len(browsers)
        cookies = [b.cookies.get(COOKIE, domain="127.0.0.1") for b in browsers]
        assert all(sessions.read(c) is not None for c in cookies)
        sub = sessions.read(cookies[0])["s"]
        r = post_logout_token(browsers[0], h, op_signed(op, logout_claims(op, clients, sub=sub)))
        assert r.status_code == 200
        survivors = [c for c in cookies if sessions.read(c) is not None]
        assert not survivors, f"{len(survivors)} of {len(cookies)} sessions survived the logout"
    finally:
        for b in browsers:
            b.close()


def test_more_sessions_than_the_index_holds(httpd_for, make_config, op, clients, browser,
                                            sessions):
    """65 sessions of one user (one browser logging in again and again through the OP's single
    sign-on): the 65th login ends the oldest, and one logout by sub leaves none."""
    h = httpd_for("main", bc_config(make_config))
    cookies = []
    for i in range(INDEX_MAX + 1):
        if cookies:
            browser.cookies.clear(domain="127.0.0.1", path="/", name=COOKIE)
        login(browser, f"{h.url}/app/{i}")
        cookies.append(browser.cookies.get(COOKIE, domain="127.0.0.1"))
    assert len(set(cookies)) == INDEX_MAX + 1
    assert sessions.read(cookies[0]) is None, "the oldest session outlives a full index"
    assert sessions.read(cookies[-1]) is not None
    h.error_log.assert_has_tag("RTS10514")
    sub = sessions.read(cookies[-1])["s"]
    r = post_logout_token(browser, h, op_signed(op, logout_claims(op, clients, sub=sub)))
    assert r.status_code == 200
    survivors = [c for c in cookies if sessions.read(c) is not None]
    assert not survivors, f"{len(survivors)} sessions survived the logout of their user"


def test_anonymous_navigations_write_nothing(httpd, op, browser, ports, pki):
    """A flood of unauthenticated navigations adds nothing to memcached (before: one pending
    login item each, evicting real sessions); the login still works afterwards."""
    before = mc_stats(ports)
    with Browser(pki.ca_cert) as anonymous:
        for i in range(300):
            r = anonymous.get(f"{httpd.url}/app/{i}")
            assert r.status_code == 302 and "/auth?" in location(r)
            anonymous.cookies.clear()
    after = mc_stats(ports)
    assert int(after["cmd_set"]) - int(before["cmd_set"]) == 0, "navigations wrote to memcached"
    assert int(after["curr_items"]) <= int(before["curr_items"])
    login(browser, f"{httpd.url}/app/")
    assert browser.cookies.get(COOKIE, domain="127.0.0.1")


def test_callback_replay_refused(httpd, op, browser, sessions, pki):
    """The callback URL with its pending-login cookie, presented again after the login
    completed: refused, and the code is not sent to the OP a second time."""
    auth_url, _ = start_login(browser, f"{httpd.url}/app/")
    pending = browser.cookies.get(PENDING_COOKIE, domain="127.0.0.1")
    assert pending and "." in pending, "the pending login is not a sealed cookie"
    callback_url = authenticate_at_op(browser, auth_url)
    assert browser.get(callback_url).status_code == 302
    op.reset_counters()
    with Browser(pki.ca_cert) as attacker:
        replay = attacker.get(callback_url, cookies={PENDING_COOKIE: pending})
    assert replay.status_code == 400
    assert cookie_set(replay, COOKIE) is None
    counters = op.counters()
    assert counters["authorization_code_grants"] == 0 and counters["grant_errors"] == 0


def test_pending_login_of_earlier_version_completes(httpd, op, browser, session_secret, ports,
                                                    clients, sessions):
    """After an upgrade, a login started by the previous version (the state alone in the cookie,
    its record in memcached, sealed) completes."""
    reader = SessionReader(session_secret, ports["memcached"])
    b64 = lambda d: base64.urlsafe_b64encode(d).rstrip(b"=").decode()  # noqa: E731
    state, nonce, verifier = (b64(os.urandom(32)) for _ in range(3))
    key = "rts:p:" + b64(hmac.new(reader.key_id, b"p:" + state.encode(), hashlib.sha256).digest())
    plain = json.dumps({"n": nonce, "v": verifier, "u": "/app/old", "t": int(time.time())},
                       separators=(",", ":")).encode()
    iv = os.urandom(12)
    sealed = iv + AESGCM(seal_key(reader.key_seal, state.encode(), b"rtsession pending v1")) \
        .encrypt(iv, plain, key.encode())
    assert mc.set_item(reader.addr, key, sealed, 600)
    auth_url = f"{op.url}/auth?" + urlencode({
        "response_type": "code", "client_id": clients["rts-test"].client_id,
        "redirect_uri": f"{httpd.url}/rtsession/callback", "scope": "openid profile email",
        "state": state, "nonce": nonce, "code_challenge_method": "S256",
        "code_challenge": b64(hashlib.sha256(verifier.encode()).digest())})
    callback_url = authenticate_at_op(browser, auth_url)
    browser.cookies.set(PENDING_COOKIE, state, domain="127.0.0.1", path="/", secure=True)
    r = browser.get(callback_url)
    assert r.status_code == 302 and location(r).endswith("/app/old")
    cookie = browser.cookies.get(COOKIE, domain="127.0.0.1")
    assert cookie and sessions.read(cookie) is not None
    assert mc.get(reader.addr, key) is None   # consumed
    assert query_params(callback_url)["state"] == state
