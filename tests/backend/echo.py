#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Echo backend for mod_rtsession tests: answers every request with JSON describing it
(method, path, query, headers, cookies) and records what it received, so tests can
check what httpd forwarded (identity headers, scrubbed spoofs, stripped cookies).

In-process:  srv = EchoServer(port=0); srv.start(); ... srv.records(); srv.stop()
Standalone:  /usr/bin/python3 tests/backend/echo.py --port 8081  (GET /__records -> JSON)
Stdlib only.
"""
import argparse
import collections
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

MAX_RECORDS = 1000
MAX_BODY = 1024 * 1024


def _parse_cookies(header_values):
    """Lenient (unlike http.cookies): every name=value pair of every Cookie header."""
    cookies = {}
    for value in header_values:
        for pair in value.split(";"):
            name, sep, val = pair.strip().partition("=")
            if name and sep:
                cookies[name] = val
    return cookies


def _header_dict(headers):
    """Lower-cased names; repeated headers joined with ', '."""
    out = {}
    for k, v in headers.items():
        k = k.lower()
        out[k] = f"{out[k]}, {v}" if k in out else v
    return out


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"     # keep-alive, as mod_proxy reuses connections
    server_version = "rts-echo/1"

    def _answer(self):
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(length, MAX_BODY)) if length else b""
        if self.command == "GET" and parts.path == "/__records":
            return self._send(200, self.server.records())
        record = {
            "time": time.time(),
            "method": self.command,
            "path": parts.path,
            "query": parse_qs(parts.query, keep_blank_values=True),
            "raw_query": parts.query,
            "headers": _header_dict(self.headers),
            "header_list": [[k, v] for k, v in self.headers.items()],   # in order, repeats kept
            "cookies": _parse_cookies(self.headers.get_all("Cookie") or []),
            "body_length": len(body),
        }
        self.server.record(record)
        return self._send(200, record)

    def _send(self, status, obj):
        data = json.dumps(obj, indent=1).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _answer

    def log_message(self, fmt, *args):
        if self.server.verbose:
            super().log_message(fmt, *args)


class EchoServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog is 5: a burst of proxied requests would overflow it and
    # wait for TCP SYN retransmits (1 s, 3 s), which looks like a slow module.
    request_queue_size = 1024

    def __init__(self, host="127.0.0.1", port=0, verbose=False):
        super().__init__((host, port), _Handler)
        self.verbose = verbose
        self._records = collections.deque(maxlen=MAX_RECORDS)
        self._lock = threading.Lock()
        self._thread = None

    @property
    def port(self):
        return self.server_address[1]

    def record(self, rec):
        with self._lock:
            self._records.append(rec)

    def records(self):
        with self._lock:
            return list(self._records)

    def clear(self):
        with self._lock:
            self._records.clear()

    def start(self):
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="echo-backend", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self.shutdown()
        self.server_close()
        if self._thread:
            self._thread.join(timeout=5)


def header_values(record, name):
    """All values of one header (case-insensitive) in a record."""
    return [v for k, v in record["header_list"] if k.lower() == name.lower()]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    srv = EchoServer(args.host, args.port, verbose=args.verbose)
    print(f"echo backend on http://{args.host}:{srv.port}", flush=True)
    try:
        srv.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()


if __name__ == "__main__":
    import signal
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    main()
