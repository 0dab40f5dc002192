# SPDX-License-Identifier: Apache-2.0
"""Refresh under real faults, through the fault-injecting proxy (rtstest/faultproxy.py) in front
of the test OP (rotation on every use, reuse revokes the grant): an answer lost in flight, a
refusal that is not invalid_grant, an outage, the client's credentials refused
(docs/design.md, "Refresh outcomes"; issue 11 items 1, 2 and 10)."""
import re
import time
from urllib.parse import parse_qs

import pytest

from rtstest.client import login
from rtstest.sessions import session_cookie
from rtstest.storm import XHR_HEADERS



STATUS_PATH = "/rts-status"
STATUS_CONF = f"""
<Location {STATUS_PATH}>
  SetHandler rtsession-status
  Require all granted
</Location>
"""


def metric(browser, h, sample: str) -> float:
    """One sample of the status page, e.g. 'rtsession_sessions_ended_refused_total'."""
    text = browser.get(h.url + STATUS_PATH).text
    m = re.search(rf"^{re.escape(sample)} ([0-9.]+)$", text, re.M)
    assert m, f"{sample} not on the status page"
    return float(m.group(1))


def refresh_presentations(fault_proxy, refresh_token: str) -> list[dict]:
    """The token requests that presented this refresh token, as the proxy saw them."""
    out = []
    for r in fault_proxy.requests_to("/token"):
        form = parse_qs(r["body"].decode())
        if form.get("grant_type") == ["refresh_token"] and form.get("refresh_token") == [refresh_token]:
            out.append(r)
    return out


def logged_in(httpd_for, proxied_config, op, browser, sessions, **conf):
    """A session through the proxy whose access token lives 2 s and is due after 1 s."""
    op.settings(access_token_ttl=2)
    h = httpd_for("main", proxied_config(refresh_window=1, **conf))
    login(browser, f"{h.url}/app/")
    cookie = session_cookie(browser)
    return h, cookie, sessions.read(cookie)


def test_lost_answer_presented_again_once_then_ends_without_theft(
        httpd_for, proxied_config, fault_proxy, op, browser, sessions):
    """The provider rotates, the answer is lost on its way back (the proxy closes the kept-alive
    connection): the module does not re-send at once (libcurl would), keeps the session, and
    presents the token once more after the backoff; the OP sees a reuse and refuses; the
    session ends with RTS10062, not as theft (RTS10053)."""
    h, cookie, record = logged_in(httpd_for, proxied_config, op, browser, sessions)
    rt1 = record["r"]
    op.reset_counters()
    fault_proxy.fault("/token", "drop_after_forward", count=1)
    time.sleep(1.1)
    r = browser.get(f"{h.url}/app/valid", headers=XHR_HEADERS)
    assert r.status_code == 200, "a valid access token must go on after a lost refresh answer"
    after_loss = sessions.read(cookie)
    assert after_loss["g"] == 1 and after_loss.get("rl") == 1 and after_loss.get("ra")
    assert len(refresh_presentations(fault_proxy, rt1)) == 1, \
        "the lost token request was sent again at once"
    assert op.counters()["refresh_grants"] == 1           # the OP did rotate
    # after the backoff the token is presented once more; the OP sees the reuse
    time.sleep(max(0.0, after_loss["ra"] / 1000 - time.time()) + 0.1)
    r = browser.get(f"{h.url}/app/after", headers=XHR_HEADERS)
    assert r.status_code == 401 and "WWW-Authenticate" in r.headers
    shown = refresh_presentations(fault_proxy, rt1)
    assert len(shown) == 2, f"refresh token presented {len(shown)} times"
    assert shown[1]["time"] - shown[0]["time"] >= 0.9, "presented again before the backoff"
    assert op.counters()["refresh_token_reuse"] == 1
    assert sessions.read(cookie) is None
    h.error_log.assert_has_tag("RTS10063")
    h.error_log.assert_has_tag("RTS10062")
    assert not any("RTS10053:" in line for line in h.error_log.lines()), \
        "a refusal after a lost answer was counted as theft"
    # a navigation starts a new login
    r = browser.get(f"{h.url}/app/page")
    assert r.status_code == 302 and "/auth?" in r.headers["Location"]


@pytest.mark.parametrize("status", [400, 403])
def test_refusal_without_invalid_grant_ends_session(
        httpd_for, proxied_config, fault_proxy, op, browser, sessions, echo, status):
    """A refusal with an HTML body (400 or 403, as some providers send) ends the session at
    the first answer: XHR 401 with WWW-Authenticate, then a navigation logs in again and comes
    back to the URL; one token call, no 503 loop."""
    h, cookie, record = logged_in(httpd_for, proxied_config, op, browser, sessions,
                                  server_extra=STATUS_CONF)
    counted = {name: metric(browser, h, name) for name in (
        "rtsession_sessions_ended_refused_total", "rtsession_sessions_ended_by_reuse_total",
        'rtsession_provider_errors_total{endpoint="token"}',
        'rtsession_refreshes_failed_total{cause="refused"}')}
    fault_proxy.fault("/token", "status_after_forward", count=1, status=status)
    time.sleep(1.1)
    echo.clear()
    r = browser.get(f"{h.url}/app/api", headers=XHR_HEADERS)
    assert r.status_code == 401 and "WWW-Authenticate" in r.headers
    assert sessions.read(cookie) is None, "the refused session is still in memcached"
    assert len(refresh_presentations(fault_proxy, record["r"])) == 1
    assert echo.records() == []
    # counted for what it is: a refusal, neither theft nor a provider error
    moved = {name: metric(browser, h, name) - v for name, v in counted.items()}
    assert moved == {"rtsession_sessions_ended_refused_total": 1,
                     "rtsession_sessions_ended_by_reuse_total": 0,
                     'rtsession_provider_errors_total{endpoint="token"}': 0,
                     'rtsession_refreshes_failed_total{cause="refused"}': 1}, moved
    r = browser.get(f"{h.url}/app/page")
    assert r.status_code == 302 and "/auth?" in r.headers["Location"]
    res = login(browser, f"{h.url}/app/page")
    assert res.final.status_code == 200 and res.final.json()["path"] == "/app/page"
    line = next(x for x in h.error_log.lines() if "RTS10059:" in x)
    assert f"HTTP {status}" in line and "error=none" in line


def test_outage_backoff_bounds_token_calls(httpd_for, proxied_config, fault_proxy, op, browser,
                                           sessions):
    """The token endpoint answers 503 for a while: ten requests with an expired token within a
    second get 503 + Retry-After and cost at most two token calls; once the OP is back and the
    backoff over, the session refreshes."""
    h, cookie, record = logged_in(httpd_for, proxied_config, op, browser, sessions)
    op.settings(token_down="503")
    time.sleep(max(0.0, record["ae"] / 1000 - time.time()) + 0.05)     # expired
    op.reset_counters()
    codes, retry_after = [], []
    started = time.time()
    for _ in range(10):
        r = browser.get(f"{h.url}/app/x", headers=XHR_HEADERS)
        codes.append(r.status_code)
        retry_after.append(r.headers.get("Retry-After"))
        time.sleep(0.08)
    assert time.time() - started < 1.5
    assert codes == [503] * 10, codes
    assert all(v and 1 <= int(v) <= 2 for v in retry_after), retry_after
    calls = op.counters()["token_requests"]
    assert 1 <= calls <= 2, f"{calls} token calls for 10 requests"
    rec = sessions.read(cookie)
    assert rec is not None and rec["g"] == 1 and rec.get("rs", 0) >= 1
    op.settings(token_down=False)
    time.sleep(max(0.0, rec["ra"] / 1000 - time.time()) + 0.1)
    r = browser.get(f"{h.url}/app/back", headers=XHR_HEADERS)
    assert r.status_code == 200
    assert sessions.read(cookie)["g"] == 2


def test_client_auth_failure_keeps_session(httpd_for, proxied_config, fault_proxy, op, browser,
                                           sessions, log_expect):
    """A 401 at refresh is the client's own authentication failing (configuration): logged at
    error level naming the directives, the session kept (its valid token goes on), backoff."""
    log_expect.append("RTS10406")
    h, cookie, record = logged_in(httpd_for, proxied_config, op, browser, sessions)
    fault_proxy.fault("/token", "status_after_forward", count=1, status=401)
    time.sleep(1.1)
    r = browser.get(f"{h.url}/app/x", headers=XHR_HEADERS)
    assert r.status_code == 200
    r = browser.get(f"{h.url}/app/y", headers=XHR_HEADERS)            # within the backoff
    assert r.status_code == 200
    assert len(fault_proxy.requests_to("/token")) == 2                # login + one refresh
    rec = sessions.read(cookie)
    assert rec is not None and rec["r"] == record["r"] and rec.get("rs") == 1
    line = next(x for x in h.error_log.lines() if "RTS10406:" in x)
    assert "[rtsession:error]" in line and "HTTP 401" in line
    for directive in ("RTSessionClientID", "RTSessionClientSecret", "RTSessionTokenEndpointAuth"):
        assert directive in line


def test_wrong_client_secret_at_login_is_named(httpd_for, make_config, clients, op, browser,
                                               log_expect):
    """The most common setup mistake: the secret is wrong. The login fails with a page that
    says so in user terms, and the log line names the client authentication and the
    directives, not a provider outage."""
    log_expect.extend(["RTS10406", "RTS10010"])
    conf = make_config().replace(f"RTSessionClientSecret {clients['rts-test'].secret}",
                                 "RTSessionClientSecret not-the-registered-secret")
    h = httpd_for("main", conf)
    with pytest.raises(Exception):
        login(browser, f"{h.url}/app/")
    line = next(x for x in h.error_log.lines() if "RTS10406:" in x)
    assert "[rtsession:error]" in line and "grant_type=authorization_code" in line
    assert "invalid_client" in line and "RTSessionClientSecret" in line
    assert "not-the-registered-secret" not in "\n".join(h.error_log.lines())
