# SPDX-License-Identifier: Apache-2.0
"""At LogLevel rtsession:trace8 the error log of the login, refresh, concurrent refresh, reuse
and error scenarios holds no access token, refresh token, ID token (nor its payload or
signature), authorization code, state, client secret, module secret or session cookie value;
and every line the core writes for a request carries that request's id."""
import re
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from rtstest.client import Browser, authenticate_at_op, login, query_params, start_login
from rtstest.errorlog import TAG_RE
from rtstest.sessions import SessionReader
from rtstest.storm import XHR_HEADERS

COOKIE = "__Host-rtsession"
LOGIN_COOKIE = "__Host-rtsession_login"
TRACE_CONF = "LogLevel info rtsession:trace8\n"
RID_RE = re.compile(r"\[rid [A-Za-z0-9+/@_=-]+\] RTS\d{5}:")


def jwt_parts(token: str) -> list[str]:
    """The payload and signature of a JWT: neither may be logged on its own either."""
    parts = token.split(".") if token else []
    return parts[1:] if len(parts) == 3 else []


def test_no_secret_in_trace8_log(httpd_for, make_config, op, echo, pki, clients,
                                 session_secret, ports, used_browsers, log_expect):
    log_expect.append("RTS10010")   # the error scenarios: a failed login callback
    # due 1 s after each login or refresh (the window is at most half the token's lifetime)
    op.settings(access_token_ttl=2)
    h = httpd_for("main", make_config(server_extra=TRACE_CONF, refresh_window=1))
    sessions = SessionReader(session_secret, ports["memcached"])
    secrets: list[str] = [c.secret for c in clients.values()] + [session_secret]
    records = []

    def browser() -> Browser:
        b = Browser(pki.ca_cert)
        used_browsers.append(b)
        return b

    def remember_session(b: Browser):
        cookie = b.cookies.get(COOKIE, domain="127.0.0.1")
        assert cookie, "no session cookie"
        secrets.append(cookie)
        rec = sessions.read(cookie)
        assert rec is not None, "no session record in memcached"
        records.append(rec)
        return cookie

    # 1. login
    alice = browser()
    res = login(alice, f"{h.url}/app/")
    assert res.final.status_code == 200
    secrets += [query_params(res.callback_url)["code"], res.auth_params["state"],
                res.auth_params["nonce"], res.auth_params["code_challenge"]]
    cookie = remember_session(alice)

    # 2. a refresh
    time.sleep(1.2)
    assert alice.get(f"{h.url}/app/refresh").status_code == 200
    remember_session(alice)
    assert records[-1]["g"] == 2

    # 3. concurrent requests at the next expiry: one refresh, the others wait or follow
    time.sleep(1.2)
    with ThreadPoolExecutor(max_workers=8) as pool:
        def one(i):
            with requests.Session() as s:
                s.trust_env = False
                return s.get(f"{h.url}/app/c{i}", verify=str(pki.ca_cert), timeout=20,
                             headers={**XHR_HEADERS, "Cookie": f"{COOKIE}={cookie}"}).status_code
        assert set(pool.map(one, range(8))) == {200}
    remember_session(alice)
    assert records[-1]["g"] == 3

    # 4. reuse: the previous refresh token replayed at the provider revokes the grant; the
    # next refresh gets invalid_grant and ends the session
    stolen = records[-2]["r"]
    r = op.http.post(op.metadata()["token_endpoint"],
                     data={"grant_type": "refresh_token", "refresh_token": stolen},
                     auth=(clients["rts-test"].client_id, clients["rts-test"].secret), timeout=10)
    assert r.status_code == 400
    time.sleep(1.2)
    assert alice.get(f"{h.url}/app/api", headers=XHR_HEADERS).status_code == 401
    assert sessions.read(cookie) is None

    # 5. a callback whose state is not this browser's, and an API call without a session
    bob = browser()
    _, params = start_login(bob, f"{h.url}/app/")
    secrets += [params["state"], params["nonce"]]
    r = bob.get(f"{h.url}/rtsession/callback?code=abcdefgh1234&state=x{params['state'][1:]}")
    assert r.status_code == 400
    ref = re.search(r"Reference: ([^<\s]+)<", r.text)
    assert ref and ref.group(1) != "-", "the error page shows no request reference"
    reference = ref.group(1)
    assert browser().get(f"{h.url}/app/x", headers=XHR_HEADERS).status_code == 401

    # 6. the token endpoint fails at the callback
    carol = browser()
    auth_url, params = start_login(carol, f"{h.url}/app/")
    callback = authenticate_at_op(carol, auth_url)
    secrets += [params["state"], query_params(callback)["code"]]
    op.settings(token_down="503")
    assert carol.get(callback).status_code == 502
    op.settings(token_down=False)

    # 7. a fresh login after all that still works
    dave = browser()
    res = login(dave, f"{h.url}/app/")
    secrets += [query_params(res.callback_url)["code"], res.auth_params["state"]]
    remember_session(dave)

    for rec in records:
        for key in ("a", "r", "i"):
            if rec.get(key):
                secrets.append(rec[key])
                secrets += jwt_parts(rec[key])
    secrets += [rec["headers"]["x-access-token"] for rec in echo.records()
                if "x-access-token" in rec["headers"]]

    lines = h.error_log.lines()
    text = "\n".join(lines)
    # the log really is at trace level for the module, and covers every scenario
    for tag in ("RTS10002", "RTS10011", "RTS10057", "RTS10053", "RTS10010", "RTS10400"):
        assert f"{tag}:" in text, f"{tag} missing: the scenarios did not run as expected"
    leaked = [i for i, s in enumerate(x for x in secrets if x and len(x) >= 8) if s in text]
    assert not leaked, f"{len(leaked)} secret values appear in the error log " \
                       f"(indexes {leaked[:10]} of the collected values)"

    # the error page's reference finds that request's log line
    assert any(f"[rid {reference}] RTS10010:" in line for line in lines), \
        "the error page's reference is not the id of the request's log line"
    # every line the module writes for a request carries the request's id
    core_lines = [line for line in lines
                  if "[client " in line and any(t.startswith("RTS") for t in TAG_RE.findall(line))]
    assert core_lines
    missing = [line for line in core_lines if not RID_RE.search(line)]
    assert not missing, "lines without [rid ...]:\n" + "\n".join(missing[:5])
