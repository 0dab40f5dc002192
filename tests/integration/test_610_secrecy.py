# SPDX-License-Identifier: Apache-2.0
"""What the module keeps secret: nothing readable in a memcached dump, no off-origin return URL
however the request target is spelled, and one pending-login cookie however many logins a
browser starts. (Secrets in the error log at trace8: test_810_log_secrecy.py.)"""
import socket
import ssl
from urllib.parse import unquote, urljoin, urlsplit

import pytest

from rtstest import mc
from rtstest.client import authenticate_at_op, location, login, query_params, set_cookie_headers
from rtstest.sessions import SessionReader

COOKIE = "__Host-rtsession"
PENDING = "__Host-rtsession_login"


def _recv_until(s, end: bytes) -> bytes:
    buf = b""
    while not buf.endswith(end):
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        buf += chunk
    return buf


def memcached_dump(port: int) -> bytes:
    """Every key (lru_crawler metadump all) and the value of every key, concatenated."""
    addr = ("127.0.0.1", port)
    meta = mc.command(addr, "lru_crawler metadump all")
    keys = [unquote(line.split()[0][len("key="):]) for line in meta.decode().splitlines()
            if line.startswith("key=")]
    return b"\n".join([meta, *(mc.get(addr, k) or b"" for k in keys)]), keys


def identity_values(echo) -> list[str]:
    rec = echo.last()
    values = []
    for h in ("X-Remote-User", "X-Remote-Email", "X-Remote-Name", "X-Access-Token"):
        values += echo.header_values(rec, h)
    return values


def test_memcached_dump_holds_no_token_claim_or_cookie(httpd, browser, echo, memcached,
                                                       session_secret):
    res = login(browser, f"{httpd.url}/app/")
    assert res.final.status_code == 200
    cookie = browser.cookies.get(COOKIE, domain="127.0.0.1")
    record = SessionReader(session_secret, memcached.port).read(cookie)
    assert record is not None, "no session record: the dump would prove nothing"
    secrets = [cookie, record["a"], record["i"], record.get("r"), record["s"],
               *identity_values(echo), query_params(res.callback_url)["code"]]
    # the ID token's parts and the refresh token separately: a partial copy is a leak too
    secrets += record["i"].split(".")
    secrets = [v for v in secrets if v and len(v) >= 5]
    assert len(secrets) >= 8
    dump, keys = memcached_dump(memcached.port)
    assert keys, "metadump listed no keys"
    found = [i for i, v in enumerate(secrets) if v.encode() in dump]
    assert not found, f"values #{found} of {len(secrets)} readable in the memcached dump"


def raw_get(h, target: str, cookie: str | None = None):
    """A request line exactly as given (no client-side normalisation). Returns (status,
    headers as a list of (name, value))."""
    ctx = ssl.create_default_context(cafile=str(h.pki.ca_cert))
    with socket.create_connection(("127.0.0.1", h.port), timeout=10) as raw, \
            ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
        req = (f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{h.port}\r\n"
               "Accept: text/html\r\nSec-Fetch-Mode: navigate\r\nConnection: close\r\n")
        if cookie:
            req += f"Cookie: {cookie}\r\n"
        s.sendall((req + "\r\n").encode("latin-1"))
        data = _recv_until(s, b"\x00never")
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    status = int(head[0].split()[1])
    headers = [tuple(x.strip() for x in line.split(":", 1)) for line in head[1:] if ":" in line]
    return status, headers


def same_origin(h, dest: str) -> bool:
    parts = urlsplit(dest)
    return (parts.scheme in ("", "https") and parts.netloc in ("", f"127.0.0.1:{h.port}")
            and not dest.startswith(("//", "/\\")) and "\\" not in parts.path[:2])


LONG = "/app/" + "a" * 2100      # over RTS_RETURN_URL_MAX (2048)
OFF_HOST = "off-host"            # the login's redirect_uri names the target's host


# What each request target must get, exactly: httpd's own 400/404 where it never reaches the
# module, else a login (302) that returns to the target itself when it is a safe same-origin
# path (rts_return_url_ok), or to "/" when it is not.
RETURN_URL_VARIANTS = {
    "//app/x": (302, "/"),
    "///app/x": (302, "/"),
    "//evil.example/app/": (404, None),
    "/\\evil.example/app/": (404, None),
    "/app/\\/evil": (302, "/"),
    # absolute-form: httpd takes the host from it, the module builds the redirect_uri on it,
    # and the provider's exact redirect_uri matching refuses the login (docs/security.md)
    "https://evil.example/app/": (302, OFF_HOST),
    "http://evil.example/app/": (302, "/"),
    "/%2F%2Fevil.example/app/": (404, None),
    "/%5Cevil.example/app/": (404, None),
    "/app/%2F%2Fevil": (404, None),      # AllowEncodedSlashes off
    "//%61pp/x": (302, "/"),
    "/app/..//evil": (404, None),        # httpd normalises it to //evil, outside /app
    "javascript:alert(1)": (400, None),
    "/app/?u=//evil": (302, "/app/?u=//evil"),
    "/app//evil.example/": (302, "/app//evil.example/"),
    "/app/https://evil.example/": (302, "/app/https://evil.example/"),
    # CR/LF stay percent-encoded in the Location: no header splitting
    "/app/%0d%0aLocation:%20https://evil.example/": (302, "/app/%0d%0aLocation:%20https://evil.example/"),
    "/app/?x=%0d%0aSet-Cookie:%20a=b": (302, "/app/?x=%0d%0aSet-Cookie:%20a=b"),
    LONG: (302, "/"),
}


@pytest.mark.parametrize("target", list(RETURN_URL_VARIANTS),
                         ids=lambda t: "long" if t == LONG else t.replace("/", "_"))
def test_return_url_variants(httpd, browser, target):
    """However the request target is spelled: exactly the status it must get, and a login
    returns exactly where it must (the target itself, or "/"), never off this origin."""
    want_status, want_return = RETURN_URL_VARIANTS[target]
    status, headers = raw_get(httpd, target)
    assert status == want_status, f"{target!r}: {status}, want {want_status}"
    if status != 302:
        return
    loc = dict(headers)["Location"]
    if want_return == OFF_HOST:
        assert not query_params(loc)["redirect_uri"].startswith(httpd.url + "/")
        assert browser.get(loc).status_code == 400   # refused by the provider
        return
    assert query_params(loc)["redirect_uri"] == httpd.url + "/rtsession/callback"
    pending = [v for k, v in headers if k.lower() == "set-cookie" and v.startswith(PENDING + "=")]
    assert len(pending) == 1
    browser.cookies.set(PENDING, pending[0].split(";")[0].split("=", 1)[1], domain="127.0.0.1",
                        path="/")
    cb = authenticate_at_op(browser, loc)
    r = browser.get(cb)
    assert r.status_code == 302
    dest = r.headers["Location"]
    assert same_origin(httpd, dest), f"{target!r}: the login returns off-origin: {dest!r}"
    assert dest == want_return, f"{target!r}: returns to {dest!r}, want {want_return!r}"


def test_stale_pending_logins_do_not_pile_up(httpd, browser, echo):
    """Ten logins started and abandoned: one pending cookie name, overwritten each time; only
    the latest can complete; the Cookie header stays small."""
    auth_urls = []
    for i in range(10):
        r = browser.get(f"{httpd.url}/app/p{i}")
        assert r.status_code == 302
        names = {h.split("=", 1)[0] for h in set_cookie_headers(r)}
        assert names == {PENDING}, f"login {i} set {sorted(names)}"
        auth_urls.append(location(r))
    jar = [c for c in browser.cookies if "rtsession" in c.name]
    assert [c.name for c in jar] == [PENDING]
    # state and the sealed pending login (nonce, verifier, return URL): a few hundred bytes
    assert len(jar[0].value) < 400
    # the latest login completes and returns where it started ...
    r = browser.get(authenticate_at_op(browser, auth_urls[-1]))
    assert r.status_code == 302 and urljoin(httpd.url, r.headers["Location"]).endswith("/app/p9")
    assert echo.records() == []
    # ... and an abandoned (older) one can never complete
    r = browser.get(authenticate_at_op(browser, auth_urls[0]))
    assert r.status_code == 400


def test_session_id_is_new_at_every_login(httpd, browser, echo):
    """Session fixation: a cookie planted before the login (valid shape, unknown id) is
    replaced, and two logins never share an id."""
    planted = "A" * 43
    browser.cookies.set(COOKIE, planted, domain="127.0.0.1", path="/")
    assert login(browser, f"{httpd.url}/app/").final.status_code == 200
    first = browser.cookies.get(COOKIE, domain="127.0.0.1")
    assert first and first != planted
    browser.cookies.clear()
    assert login(browser, f"{httpd.url}/app/").final.status_code == 200
    second = browser.cookies.get(COOKIE, domain="127.0.0.1")
    assert second and second not in (first, planted)


def test_tampered_record_starts_a_new_login(httpd, browser, memcached, session_secret):
    """A record that does not open (tampered with, or sealed under a retired secret) is no
    session: the next navigation goes to the provider again, and the log says why in words
    (RTS10003 "invalid token"), with neither the cookie nor a meaningless status code."""
    assert login(browser, f"{httpd.url}/app/").final.status_code == 200
    cookie = browser.cookies.get(COOKIE, domain="127.0.0.1")
    reader = SessionReader(session_secret, memcached.port)
    key = reader.store_key(cookie)
    sealed = bytearray(reader.raw(key))
    sealed[len(sealed) // 2] ^= 1
    assert mc.set_item(("127.0.0.1", memcached.port), key, bytes(sealed), 600)
    r = browser.get(f"{httpd.url}/app/", allow_redirects=False)
    assert r.status_code == 302 and urlsplit(location(r)).path.endswith("/auth")
    lines = [line for line in httpd.error_log.lines() if "RTS10003" in line]
    assert lines and all("invalid token" in line for line in lines), "RTS10003 not logged as text"
