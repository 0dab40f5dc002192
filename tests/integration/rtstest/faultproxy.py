# SPDX-License-Identifier: Apache-2.0
"""A fault-injecting HTTP/1.1 proxy between the module and a provider (issue 11 item 9).

    fp = FaultProxy("127.0.0.1", op_port, upstream_tls=True, ca_file=pki.ca_cert,
                    tls_cert=pki.server_cert, tls_key=pki.server_key)
    fp.fault("/token", "drop_after_forward", count=1)
    ... fp.requests ... fp.clear() ... fp.close()

Client connections are kept alive (the module's libcurl reuses them, which is what a fault
after forwarding must hit); each forwarded request goes to the upstream on a fresh connection
of its own, so the proxy itself never re-sends a request. The discovery document is rewritten
so that every endpoint URL naming the upstream names the proxy instead, except `issuer` (ID
tokens keep matching: configure the module with RTSessionIssuer = the upstream's issuer).

Modes (fault()):
  pass                  forward, answer
  delay                 wait delay_ms, then forward and answer
  drop_after_forward    forward, read the whole answer, close the client connection silently
  reset_before_forward  read the request, RST the client; the upstream never sees it
  reset_after_forward   forward, read the whole answer, RST the client
  status_after_forward  forward, discard the answer, answer `status` with a small HTML page
  hang                  read the request, never forward, never answer, until clear()/close()
"""
import json
import socket
import ssl
import struct
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from .ports import free_ports

MODES = ("pass", "delay", "drop_after_forward", "reset_before_forward", "reset_after_forward",
         "status_after_forward", "hang")
DISCOVERY_SUFFIX = "/.well-known/openid-configuration"
MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 16 * 1024 * 1024
CLIENT_IDLE_TIMEOUT = 120.0      # a kept-alive client connection with nothing to say
UPSTREAM_TIMEOUT = 30.0
HOP_BY_HOP = ("connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade")


@dataclass
class _Fault:
    prefix: str
    mode: str
    remaining: int | None
    delay_ms: int
    status: int


class _Reader:
    """Buffered reads of HTTP/1.1 messages from a socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        if not data:
            return False
        self.buf += data
        return True

    def head(self) -> bytes | None:
        """Start line + headers (without the blank line); None on a clean close before any byte."""
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > MAX_HEADER_BYTES:
                raise ValueError("header section too large")
            if not self._fill():
                if self.buf.strip():
                    raise ValueError("connection closed inside a header section")
                return None
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        return head.lstrip(b"\r\n")

    def exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self._fill():
                raise ValueError("connection closed inside a body")
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def line(self) -> bytes:
        while b"\r\n" not in self.buf:
            if len(self.buf) > MAX_HEADER_BYTES or not self._fill():
                raise ValueError("bad chunked framing")
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def chunked(self) -> tuple[bytes, bytes]:
        """(raw bytes as received, decoded body)."""
        raw, body = b"", b""
        while True:
            size_line = self.line()
            raw += size_line + b"\r\n"
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                while True:                      # trailers up to the blank line
                    t = self.line()
                    raw += t + b"\r\n"
                    if not t:
                        return raw, body
            chunk = self.exact(size + 2)
            raw += chunk
            body += chunk[:-2]
            if len(body) > MAX_BODY_BYTES:
                raise ValueError("body too large")

    def until_close(self) -> bytes:
        while self._fill():
            if len(self.buf) > MAX_BODY_BYTES:
                raise ValueError("body too large")
        data, self.buf = self.buf, b""
        return data


def _parse_head(head: bytes) -> tuple[str, list[tuple[str, str]]]:
    lines = head.decode("latin-1").split("\r\n")
    headers = []
    for ln in lines[1:]:
        name, sep, value = ln.partition(":")
        if not sep:
            raise ValueError(f"bad header line {ln!r}")
        headers.append((name.strip(), value.strip()))
    return lines[0], headers


def _get(headers, name) -> str | None:
    for k, v in headers:
        if k.lower() == name:
            return v
    return None


def _tokens(headers, name) -> set[str]:
    return {t.strip().lower() for k, v in headers if k.lower() == name for t in v.split(",")}


def _body(reader: _Reader, headers, no_body: bool, is_response: bool) -> tuple[bytes, bytes, bool]:
    """(raw body as framed on the wire, decoded body, framed-by-close)."""
    if no_body:
        return b"", b"", False
    if "chunked" in _tokens(headers, "transfer-encoding"):
        raw, body = reader.chunked()
        return raw, body, False
    length = _get(headers, "content-length")
    if length is not None:
        n = int(length)
        if n < 0 or n > MAX_BODY_BYTES:
            raise ValueError("bad Content-Length")
        data = reader.exact(n)
        return data, data, False
    if is_response:
        data = reader.until_close()
        return data, data, True
    return b"", b"", False


def _serialize(start: str, headers, body: bytes) -> bytes:
    return ("\r\n".join([start] + [f"{k}: {v}" for k, v in headers]) + "\r\n\r\n").encode("latin-1") + body


def _reset(sock):
    """Close with RST instead of FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class FaultProxy:
    def __init__(self, upstream_host: str, upstream_port: int, *, upstream_tls: bool = False,
                 ca_file=None, tls_cert=None, tls_key=None):
        """upstream_tls: speak HTTPS to the upstream (verified with ca_file). tls_cert/tls_key:
        serve HTTPS to clients with that certificate (else plain HTTP)."""
        self.upstream_host, self.upstream_port = upstream_host, upstream_port
        self.upstream_scheme = "https" if upstream_tls else "http"
        self._up_ctx = None
        if upstream_tls:
            self._up_ctx = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        self._srv_ctx = None
        if tls_cert:
            self._srv_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._srv_ctx.load_cert_chain(str(tls_cert), str(tls_key))
        self.port = free_ports(1)[0]
        self.url = f"{'https' if tls_cert else 'http'}://127.0.0.1:{self.port}"
        self.discovery_url = self.url + DISCOVERY_SUFFIX
        self.requests: list[dict] = []
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        self._release = threading.Event()        # set: hung requests give up
        self._closing = threading.Event()
        self._conns: set = set()
        self._conn_seq = 0
        self._threads: list[threading.Thread] = []
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", self.port))
        self._listener.listen(128)
        self._listener.settimeout(0.2)           # close() cannot interrupt a blocking accept()
        self._accepter = threading.Thread(target=self._accept_loop, name=f"faultproxy-{self.port}",
                                          daemon=True)
        self._accepter.start()

    # --- control ---
    def fault(self, path_prefix: str, mode: str, count: int | None = None, delay_ms: int = 0,
              status: int = 502):
        """Apply `mode` to requests whose path starts with path_prefix: every one (count None)
        or the next `count`. The newest matching fault with requests left wins."""
        assert mode in MODES, f"unknown fault mode {mode!r}"
        assert count is None or count > 0
        with self._lock:
            self._faults.insert(0, _Fault(path_prefix, mode, count, delay_ms, status))

    def clear(self):
        """All faults off; hung requests are released (their connections closed)."""
        with self._lock:
            self._faults.clear()
            release, self._release = self._release, threading.Event()
        release.set()

    def close(self):
        self._closing.set()
        self.clear()
        self._accepter.join(timeout=5)
        self._listener.close()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in self._threads:
            t.join(timeout=5)

    def requests_to(self, path_prefix: str) -> list[dict]:
        return [r for r in list(self.requests) if r["path"].startswith(path_prefix)]

    # --- internals ---
    def _take_fault(self, path: str) -> _Fault | None:
        with self._lock:
            for f in self._faults:
                if path.startswith(f.prefix) and f.remaining != 0:
                    if f.remaining is not None:
                        f.remaining -= 1
                    return f
        return None

    def _accept_loop(self):
        while not self._closing.is_set():
            try:
                sock, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            sock.settimeout(None)
            with self._lock:
                self._conn_seq += 1
                seq = self._conn_seq
            t = threading.Thread(target=self._serve, args=(sock, seq), daemon=True,
                                 name=f"faultproxy-{self.port}-c{seq}")
            self._threads = [x for x in self._threads if x.is_alive()] + [t]
            t.start()

    def _serve(self, sock, seq: int):
        raw = sock
        with self._lock:
            self._conns.add(raw)
        try:
            sock.settimeout(CLIENT_IDLE_TIMEOUT)
            if self._srv_ctx:
                sock = self._srv_ctx.wrap_socket(sock, server_side=True)   # detaches raw
                with self._lock:
                    self._conns.discard(raw)
                    self._conns.add(sock)
            reader = _Reader(sock)
            while not self._closing.is_set():
                if not self._one_request(sock, reader, seq):
                    break
        except (OSError, ValueError):   # ssl.SSLError is an OSError
            pass
        finally:
            with self._lock:
                self._conns.discard(raw)
                self._conns.discard(sock)
            try:
                sock.close()
            except OSError:
                pass

    def _one_request(self, sock, reader: _Reader, seq: int) -> bool:
        """Serve one request; False when the client connection is done."""
        head = reader.head()
        if head is None:
            return False
        start, headers = _parse_head(head)
        method, target, version = start.split(" ", 2)
        if "100-continue" in _tokens(headers, "expect"):
            sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
            headers = [(k, v) for k, v in headers if k.lower() != "expect"]
        _, body, _ = _body(reader, headers, False, False)
        path = urlsplit(target).path or "/"
        fault = self._take_fault(path)
        mode = fault.mode if fault else "pass"
        rec = {"time": time.time(), "method": method, "path": path, "target": target,
               "mode": mode, "upstream_status": None, "conn": seq, "body": body}
        self.requests.append(rec)
        client_close = "close" in _tokens(headers, "connection") or version == "HTTP/1.0"

        if mode == "reset_before_forward":
            _reset(sock)
            return False
        if mode == "hang":
            release = self._release
            while not release.wait(0.2) and not self._closing.is_set():
                pass
            return False
        if mode == "delay" and fault.delay_ms:
            self._release.wait(fault.delay_ms / 1000)

        try:
            status_line, rheaders, rbody, by_close = self._forward(method, target, headers, body, path)
        except (OSError, ValueError, ssl.SSLError) as e:
            rec["upstream_error"] = repr(e)
            page = b"upstream unreachable\n"
            sock.sendall(_serialize("HTTP/1.1 502 Bad Gateway", [
                ("Content-Type", "text/plain"), ("Content-Length", str(len(page))),
                ("Connection", "close")], page))
            return False
        rec["upstream_status"] = int(status_line.split(" ", 2)[1])

        if mode == "drop_after_forward":
            sock.close()                 # FIN (and no TLS close_notify): not a byte of answer
            return False
        if mode == "reset_after_forward":
            _reset(sock)
            return False
        if mode == "status_after_forward":
            page = (f"<html><body><h1>{fault.status} from the fault proxy</h1></body></html>\n"
                    ).encode()
            sock.sendall(_serialize(f"HTTP/1.1 {fault.status} Proxy Fault",
                                    [("Content-Type", "text/html"),
                                     ("Content-Length", str(len(page)))], page))
            return not client_close

        out = [(k, v) for k, v in rheaders if k.lower() not in HOP_BY_HOP]
        if by_close:
            out = [(k, v) for k, v in out if k.lower() != "content-length"]
            out.append(("Content-Length", str(len(rbody))))
        if client_close:
            out.append(("Connection", "close"))
        sock.sendall(_serialize(status_line, out, rbody))
        return not client_close

    def _forward(self, method, target, headers, body, path):
        """Send the request upstream on a new connection; (status line, headers, body raw as
        framed, whether it was framed by close). The discovery document comes back rewritten."""
        discovery = method == "GET" and path.endswith(DISCOVERY_SUFFIX)
        out = [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP
               and not (discovery and k.lower() == "accept-encoding")]
        out.append(("Connection", "close"))
        up = socket.create_connection((self.upstream_host, self.upstream_port),
                                      timeout=UPSTREAM_TIMEOUT)
        try:
            if self._up_ctx:
                up = self._up_ctx.wrap_socket(up, server_hostname=self.upstream_host)
            if _get(headers, "transfer-encoding"):
                # the body was de-chunked above: send it with a length
                out = [(k, v) for k, v in out if k.lower() not in ("transfer-encoding", "content-length")]
                out.append(("Content-Length", str(len(body))))
            up.sendall(_serialize(f"{method} {target} HTTP/1.1", out, body))
            reader = _Reader(up)
            while True:
                head = reader.head()
                if head is None:
                    raise ValueError("upstream closed without answering")
                status_line, rheaders = _parse_head(head)
                status = int(status_line.split(" ", 2)[1])
                if status >= 200 or status == 101:
                    break                        # skip interim 1xx answers
            no_body = method == "HEAD" or status in (204, 304)
            raw, decoded, by_close = _body(reader, rheaders, no_body, True)
        finally:
            up.close()
        if discovery and status == 200:
            rewritten = self._rewrite_discovery(decoded)
            if rewritten is not None:
                rheaders = [(k, v) for k, v in rheaders
                            if k.lower() not in ("content-length", "transfer-encoding")]
                rheaders.append(("Content-Length", str(len(rewritten))))
                return status_line, rheaders, rewritten, False
        return status_line, rheaders, raw, by_close

    def _rewrite_discovery(self, body: bytes) -> bytes | None:
        try:
            doc = json.loads(body)
        except ValueError:
            return None
        if not isinstance(doc, dict):
            return None
        upstream = f"{self.upstream_scheme}://{self.upstream_host}:{self.upstream_port}"

        def rewrite(obj, top):
            for k, v in obj.items():
                if top and k == "issuer":
                    continue
                if isinstance(v, str) and (v == upstream or v.startswith(upstream + "/")):
                    obj[k] = self.url + v[len(upstream):]
                elif isinstance(v, dict):            # e.g. mtls_endpoint_aliases
                    rewrite(v, False)
        rewrite(doc, True)
        return json.dumps(doc).encode()
