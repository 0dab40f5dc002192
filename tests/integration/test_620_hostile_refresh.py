# SPDX-License-Identifier: Apache-2.0
"""Refresh against the hostile OP (tests/hostile_op): the login is normal, the FIRST refresh
answer is spoilt (REFRESH_FAULTS in hostile_op.mjs), later ones are correct.

- An ID token that fails validation after the provider rotated (wrong iss/aud/sub, alg none,
  bad signature): the old refresh token is spent and the new tokens are not trustworthy, so the
  session ends: a navigation starts a new login, the record is gone, nothing reaches the backend.
- An answer the module cannot use (not JSON, oversized, wrong token_type): the session is kept;
  with a valid access token the request goes on with it, with an expired one it gets 503 +
  Retry-After; a later attempt (the provider now answers correctly) continues the session.
- The refresh outcome rules (docs/design.md, "Refresh outcomes"): the backoff after an unusable
  answer is shared, and the well-formed new refresh token of an unusable 200 is kept."""
import time

import pytest

from rtstest.client import location
from rtstest.rtsconf import Client
from rtstest.sessions import SessionReader
from rtstest.storm import XHR_HEADERS
# the hostile OP fixture (one per module) and its login helpers
from test_600_hostile_op import (CLIENT_ID, COOKIE, assert_logged_in, hostile,  # noqa: F401
                                 login, no_session_cookie)

ID_TOKEN_FAULTS = ["id_wrong_iss", "id_wrong_aud", "id_wrong_sub", "id_alg_none", "id_bad_sig"]
UNUSABLE = ["garbage", "huge", "token_type_wrong"]
AT_TTL = 2              # seconds; refresh window 0: the refresh is due at expiry


@pytest.fixture
def sessions(session_secret, ports, hostile):
    # records are bound to the issuer and client id (rts_secret_derive): the hostile OP's
    return SessionReader(session_secret, ports["memcached"], issuer=hostile.url,
                         client_id=CLIENT_ID)


def refresh_instance(hostile, httpd_for, make_config, leak_check, refresh_window=0):
    hostile.reset()
    # the window applies as configured when the token lives at least twice as long
    hostile._post("/admin/refresh", {"access_token_ttl": AT_TTL + 2 * refresh_window})
    client = Client(CLIENT_ID, hostile.secret, "client_secret_basic")
    h = httpd_for("hostile", make_config(op_url=hostile.url, client=client, http_timeout=2,
                                         refresh_window=refresh_window))
    h.graceful()          # no metadata or JWKS cached by an earlier test
    h.error_log.mark()
    leak_check.append(hostile.secret)
    return h


@pytest.fixture
def refresh_httpd(hostile, httpd_for, make_config, leak_check):
    yield refresh_instance(hostile, httpd_for, make_config, leak_check)
    leak_check.extend(hostile.state()["issued"])


def logged_in(browser, h, hostile, echo, sessions):
    """Logs in; returns (cookie, the session record, the access token the backend got)."""
    r, _ = login(browser, h, hostile)
    assert_logged_in(browser, h, r, echo)
    cookie = browser.cookies.get(COOKIE, domain="127.0.0.1")
    return cookie, sessions.read(cookie), echo.last()["headers"]["x-access-token"]


def refreshes(hostile) -> list[dict]:
    return [e for e in hostile.state()["token_log"] if e["grant_type"] == "refresh_token"]


def sleep_until(epoch_ms: int, margin: float = 0.05):
    delay = epoch_ms / 1000 - time.time() + margin
    if delay > 0:
        time.sleep(delay)


def until_refreshed(browser, h, echo, at1, timeout=6.0):
    """XHR requests until one is answered 200 with a new access token (honouring Retry-After);
    returns the statuses seen on the way."""
    statuses = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        echo.clear()
        r = browser.get(f"{h.url}/app/later", headers=XHR_HEADERS)
        statuses.append(r.status_code)
        if r.status_code == 200 and echo.last()["headers"]["x-access-token"] != at1:
            return statuses
        assert r.status_code in (200, 503), f"while the session is kept: {statuses}"
        time.sleep(min(float(r.headers.get("Retry-After", "0.2")), 2.0) + 0.05)
    raise AssertionError(f"the session never refreshed after the fault: {statuses}")


@pytest.mark.parametrize("fault", ID_TOKEN_FAULTS)
def test_refresh_id_token_rejected_ends_session(hostile, refresh_httpd, browser, echo, sessions,
                                                fault):
    """The provider rotated, then sent an ID token that fails validation: the session ends
    (RTS10055): the navigation gets a new login that returns to it, the cookie is cleared, the
    record is deleted, nothing reaches the backend, and the spoilt tokens are never used."""
    h = refresh_httpd
    cookie, rec, _ = logged_in(browser, h, hostile, echo, sessions)
    hostile._post("/admin/refresh", {"fault": fault})
    sleep_until(rec["ae"])
    echo.clear()
    r = browser.get(f"{h.url}/app/after")
    assert r.status_code == 302 and location(r).startswith(hostile.url + "/authorize?"), \
        f"{fault}: expected a new login, got {r.status_code} {r.headers.get('Location')}"
    assert no_session_cookie(r)
    assert sessions.read(cookie) is None, f"{fault}: the session record survived"
    assert echo.records() == [], f"{fault}: a request reached the backend"
    assert [(e["fault"], e["rt_index"]) for e in refreshes(hostile)] == [(fault, 0)]
    # an XHR with the old cookie: 401, never the spoilt tokens
    browser.cookies.set(COOKIE, cookie, domain="127.0.0.1", path="/")
    r = browser.get(f"{h.url}/app/xhr", headers=XHR_HEADERS)
    assert r.status_code == 401 and "WWW-Authenticate" in r.headers
    assert echo.records() == [] and len(refreshes(hostile)) == 1


@pytest.mark.parametrize("fault", UNUSABLE)
def test_refresh_unusable_answer_keeps_session(hostile, refresh_httpd, browser, echo, sessions,
                                               log_expect, fault):
    """An answer the module cannot use, with an expired access token: 503 + Retry-After, the
    session kept (same record, same subject); once the provider answers correctly the session
    continues with a new access token, after exactly one more token call."""
    log_expect.append("RTS10054")   # refresh failed transiently, session kept
    h = refresh_httpd
    cookie, rec, at1 = logged_in(browser, h, hostile, echo, sessions)
    hostile._post("/admin/refresh", {"fault": fault})
    sleep_until(rec["ae"])
    echo.clear()
    r = browser.get(f"{h.url}/app/after", headers=XHR_HEADERS)
    assert r.status_code == 503, f"{fault}: {r.status_code}"
    assert int(r.headers["Retry-After"]) >= 1
    assert echo.records() == []
    # a 200 refused for token_type carries a well-formed new refresh token: kept in g+1
    salvaged = 1 if fault == "token_type_wrong" else 0
    kept = sessions.read(cookie)
    assert kept is not None and kept["g"] == rec["g"] + salvaged, \
        f"{fault}: session not kept as it was"
    assert kept["s"] == rec["s"] and kept["a"] == rec["a"]
    assert [e["fault"] for e in refreshes(hostile)] == [fault]
    statuses = until_refreshed(browser, h, echo, at1)
    assert set(statuses) <= {200, 503}
    assert [e["fault"] for e in refreshes(hostile)] == [fault, None], \
        f"{fault}: token calls {refreshes(hostile)}"
    assert sessions.read(cookie)["g"] == rec["g"] + 1 + salvaged


def test_refresh_unusable_answer_valid_access_token(hostile, httpd_for, make_config, leak_check,
                                                    browser, echo, sessions, log_expect):
    """The refresh is due (window) but the access token is still valid: an unusable answer
    costs the user nothing, the request goes on with the current access token."""
    log_expect.append("RTS10054")
    h = refresh_instance(hostile, httpd_for, make_config, leak_check, refresh_window=4)
    cookie, rec, at1 = logged_in(browser, h, hostile, echo, sessions)
    hostile._post("/admin/refresh", {"fault": "garbage"})
    sleep_until(rec["ae"] - 4000)     # due, 4 s of validity left
    echo.clear()
    r = browser.get(f"{h.url}/app/after", headers=XHR_HEADERS)
    assert r.status_code == 200 and echo.last()["headers"]["x-access-token"] == at1
    assert [e["fault"] for e in refreshes(hostile)] == ["garbage"]
    statuses = until_refreshed(browser, h, echo, at1, timeout=3.5)
    assert set(statuses) == {200}, f"a valid access token was refused: {statuses}"
    leak_check.extend(hostile.state()["issued"])


def test_refresh_unusable_answer_backoff_is_shared(hostile, refresh_httpd, browser, echo,
                                                   sessions, log_expect):
    """After a sent-but-unusable answer the next requests within the backoff make no token call
    (503 + Retry-After), and there is one further attempt after it (issue 11, items 1-2)."""
    log_expect.append("RTS10054")
    h = refresh_httpd
    cookie, rec, at1 = logged_in(browser, h, hostile, echo, sessions)
    hostile._post("/admin/refresh", {"fault": "garbage"})
    sleep_until(rec["ae"])
    for _ in range(3):
        r = browser.get(f"{h.url}/app/after", headers=XHR_HEADERS)
        assert r.status_code == 503 and int(r.headers["Retry-After"]) >= 1
    assert len(refreshes(hostile)) == 1, "a token call per request instead of a shared backoff"
    until_refreshed(browser, h, echo, at1)
    assert len(refreshes(hostile)) == 2


def test_refresh_unusable_200_keeps_new_refresh_token(hostile, refresh_httpd, browser, echo,
                                                      sessions, log_expect):
    """A 200 the parser refuses (token_type MAC) whose refresh_token is well-formed: the
    provider rotated, so the further attempt presents the NEW refresh token, never the spent
    one (a reuse-detecting provider would revoke the family)."""
    log_expect.append("RTS10054")
    h = refresh_httpd
    cookie, rec, at1 = logged_in(browser, h, hostile, echo, sessions)
    hostile._post("/admin/refresh", {"fault": "token_type_wrong"})
    sleep_until(rec["ae"])
    assert browser.get(f"{h.url}/app/after", headers=XHR_HEADERS).status_code == 503
    until_refreshed(browser, h, echo, at1)
    log = refreshes(hostile)
    assert [(e["rt_index"], e["fault"]) for e in log] == [(0, "token_type_wrong"), (1, None)], \
        f"refresh tokens presented: {[(e['rt_index'], e['fault']) for e in log]}"
