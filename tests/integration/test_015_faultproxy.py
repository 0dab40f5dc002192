# SPDX-License-Identifier: Apache-2.0
"""The fault proxy (rtstest/faultproxy.py) against a tiny local upstream: keep-alive, framing,
the discovery rewrite and every fault mode. No httpd, no OP."""
import http.client
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from rtstest.certs import make_pki
from rtstest.faultproxy import FaultProxy


class _Upstream(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _send(self, status, body: bytes, ctype="text/plain", chunked=False):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(body), 7):
                piece = body[i:i + 7]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def do_GET(self):
        self.server.seen.append(("GET", self.path, b""))
        base = f"{self.server.scheme}://127.0.0.1:{self.server.server_port}"
        if self.path == "/.well-known/openid-configuration":
            doc = {"issuer": base, "authorization_endpoint": base + "/auth",
                   "token_endpoint": base + "/token", "jwks_uri": base + "/jwks",
                   "service_documentation": "https://elsewhere.example/doc",
                   "mtls_endpoint_aliases": {"token_endpoint": base + "/mtls/token"},
                   "scopes_supported": ["openid"]}
            self._send(200, json.dumps(doc).encode(), "application/json",
                       chunked=self.server.chunked_discovery)
        elif self.path == "/chunked":
            self._send(200, b"a body sent in several chunks", chunked=True)
        else:
            self._send(200, b"hello " + self.path.encode())

    def do_POST(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    break
                body += self.rfile.read(size)
                self.rfile.readline()
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.seen.append(("POST", self.path, body))
        self._send(200, b'{"echo": %s}' % json.dumps(body.decode()).encode(), "application/json")


def _server(ssl_ctx=None):
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    srv.daemon_threads = True
    srv.seen, srv.chunked_discovery, srv.scheme = [], False, "http"
    if ssl_ctx:
        srv.socket = ssl_ctx.wrap_socket(srv.socket, server_side=True)
        srv.scheme = "https"
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


@pytest.fixture
def upstream():
    srv = _server()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def fp(upstream):
    p = FaultProxy("127.0.0.1", upstream.server_port)
    yield p
    p.close()


def raw_request(port, method="GET", path="/x", body=b"", timeout=5.0):
    """One request on a fresh socket; returns the socket (for the caller to read)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(f"{method} {path} HTTP/1.1\r\nHost: t\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
    return s


def read_all(s) -> bytes:
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk


def test_keep_alive_and_framing(fp, upstream):
    c = http.client.HTTPConnection("127.0.0.1", fp.port, timeout=5)
    c.request("GET", "/one")
    r = c.getresponse()
    assert (r.status, r.read()) == (200, b"hello /one")
    c.request("POST", "/token", body=b"grant_type=refresh_token",
              headers={"Content-Type": "application/x-www-form-urlencoded"})
    r = c.getresponse()
    assert json.loads(r.read()) == {"echo": "grant_type=refresh_token"}
    c.request("GET", "/chunked")                      # a chunked answer goes through intact
    r = c.getresponse()
    assert r.read() == b"a body sent in several chunks"
    c.request("POST", "/up", body=iter([b"chunk", b"ed body"]), encode_chunked=True)
    r = c.getresponse()
    assert json.loads(r.read()) == {"echo": "chunked body"}
    c.close()
    assert [r["path"] for r in fp.requests] == ["/one", "/token", "/chunked", "/up"]
    assert len({r["conn"] for r in fp.requests}) == 1, "the client connection was not kept alive"
    assert all(r["mode"] == "pass" and r["upstream_status"] == 200 for r in fp.requests)
    assert fp.requests[1]["body"] == b"grant_type=refresh_token"
    assert [s[1] for s in upstream.seen] == ["/one", "/token", "/chunked", "/up"]


@pytest.mark.parametrize("chunked", [False, True])
def test_discovery_rewritten_except_issuer(fp, upstream, chunked):
    upstream.chunked_discovery = chunked
    r = requests.get(fp.discovery_url, timeout=5)
    base = f"http://127.0.0.1:{upstream.server_port}"
    doc = r.json()
    assert int(r.headers["Content-Length"]) == len(r.content)
    assert doc["issuer"] == base
    assert doc["token_endpoint"] == fp.url + "/token"
    assert doc["authorization_endpoint"] == fp.url + "/auth"
    assert doc["jwks_uri"] == fp.url + "/jwks"
    assert doc["mtls_endpoint_aliases"]["token_endpoint"] == fp.url + "/mtls/token"
    assert doc["service_documentation"] == "https://elsewhere.example/doc"


def test_delay(fp):
    fp.fault("/slow", "delay", delay_ms=400)
    t0 = time.monotonic()
    assert requests.get(fp.url + "/slow", timeout=5).status_code == 200
    assert time.monotonic() - t0 >= 0.4
    t0 = time.monotonic()
    assert requests.get(fp.url + "/fast", timeout=5).status_code == 200
    assert time.monotonic() - t0 < 0.3
    assert [r["mode"] for r in fp.requests] == ["delay", "pass"]


def test_drop_after_forward(fp, upstream):
    fp.fault("/token", "drop_after_forward")
    s = raw_request(fp.port, "POST", "/token", b"x=1")
    assert read_all(s) == b"", "the client got bytes of the answer"
    s.close()
    assert upstream.seen == [("POST", "/token", b"x=1")]
    assert fp.requests[0]["mode"] == "drop_after_forward"
    assert fp.requests[0]["upstream_status"] == 200


@pytest.mark.parametrize("mode,forwarded", [("reset_before_forward", False),
                                             ("reset_after_forward", True)])
def test_reset(fp, upstream, mode, forwarded):
    fp.fault("/token", mode)
    s = raw_request(fp.port, "POST", "/token", b"x=1")
    with pytest.raises(ConnectionResetError):
        read_all(s)
    s.close()
    assert upstream.seen == ([("POST", "/token", b"x=1")] if forwarded else [])
    assert fp.requests[0]["upstream_status"] == (200 if forwarded else None)


def test_status_after_forward_keeps_connection(fp, upstream):
    fp.fault("/token", "status_after_forward", status=503)
    c = http.client.HTTPConnection("127.0.0.1", fp.port, timeout=5)
    c.request("POST", "/token", body=b"x=1")
    r = c.getresponse()
    assert r.status == 503 and r.getheader("Content-Type") == "text/html"
    assert b"<html>" in r.read()
    c.request("GET", "/after")
    assert c.getresponse().read() == b"hello /after"
    c.close()
    assert [s[1] for s in upstream.seen] == ["/token", "/after"]
    assert fp.requests[0]["upstream_status"] == 200


def test_hang_until_clear(fp, upstream):
    fp.fault("/token", "hang")
    s = raw_request(fp.port, "POST", "/token", b"x=1", timeout=0.5)
    with pytest.raises(socket.timeout):
        s.recv(1)
    assert upstream.seen == []
    s.settimeout(5)
    fp.clear()
    assert read_all(s) == b"", "clear() did not release the hung connection"
    s.close()
    assert requests.get(fp.url + "/token", timeout=5).status_code == 200


def test_count_then_pass_and_newest_wins(fp, upstream):
    fp.fault("/t", "status_after_forward", status=500)
    fp.fault("/token", "status_after_forward", count=2, status=502)
    got = [requests.post(fp.url + "/token", timeout=5).status_code for _ in range(3)]
    assert got == [502, 502, 500]
    assert requests.get(fp.url + "/other", timeout=5).status_code == 200


def test_upstream_down_is_502(upstream):
    p = FaultProxy("127.0.0.1", upstream.server_port)
    upstream.shutdown()
    upstream.server_close()
    try:
        r = requests.get(p.url + "/x", timeout=5)
        assert r.status_code == 502
        assert p.requests[0]["upstream_status"] is None
    finally:
        p.close()


def test_tls_both_sides(tmp_path):
    import ssl
    pki = make_pki(tmp_path / "pki")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(pki.server_cert), str(pki.server_key))
    srv = _server(ctx)
    p = FaultProxy("127.0.0.1", srv.server_port, upstream_tls=True, ca_file=pki.ca_cert,
                   tls_cert=pki.server_cert, tls_key=pki.server_key)
    try:
        assert p.url.startswith("https://")
        doc = requests.get(p.discovery_url, verify=str(pki.ca_cert), timeout=5).json()
        assert doc["issuer"] == f"https://127.0.0.1:{srv.server_port}"
        assert doc["token_endpoint"] == p.url + "/token"
        p.fault("/token", "drop_after_forward", count=1)
        with pytest.raises(requests.ConnectionError):
            requests.post(p.url + "/token", data=b"a=b", verify=str(pki.ca_cert), timeout=5)
        assert srv.seen[-1] == ("POST", "/token", b"a=b")
    finally:
        p.close()
        srv.shutdown()
        srv.server_close()


def test_module_through_proxy(httpd_for, proxied_config, fault_proxy, op, browser):
    """The fault_proxy/proxied_config fixtures: the module reaches every endpoint through the
    proxy, the issuer still matches, and a refresh goes through it too."""
    from rtstest.client import login
    # due 1 s after login (the refresh window is at most half the token's lifetime)
    op.settings(access_token_ttl=2)
    h = httpd_for("main", proxied_config(refresh_window=1))
    login(browser, f"{h.url}/app/")
    time.sleep(1.2)
    assert browser.get(f"{h.url}/app/again").status_code == 200
    paths = [r["path"] for r in fault_proxy.requests]
    assert "/.well-known/openid-configuration" in paths and "/jwks" in paths
    tokens = [r for r in fault_proxy.requests if r["path"] == "/token"]
    assert [b"refresh_token" in r["body"] for r in tokens] == [False, True]
    module_calls = [r for r in fault_proxy.requests if r["path"] in
                    ("/.well-known/openid-configuration", "/jwks", "/token")]
    assert all(r["upstream_status"] == 200 for r in module_calls)
