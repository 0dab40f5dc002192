# SPDX-License-Identifier: Apache-2.0
"""Many concurrent requests of one session, as a browser's page fires them, spread over
several httpd instances. Used by the refresh tests and by tests/bench/storm.py."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import requests

HTTP_TIMEOUT = 30
# what fetch() sends: not a navigation, so an ended session is answered 401, not redirected
XHR_HEADERS = {"Accept": "application/json", "Sec-Fetch-Mode": "cors"}


@dataclass
class Shot:
    status: int
    started: float
    finished: float
    access_token: str | None      # what the backend received
    retry_after: str | None

    @property
    def latency(self) -> float:
        return self.finished - self.started


class Storm:
    def __init__(self, ca_file, base_urls: list[str], cookie_name: str, cookie_value: str,
                 n: int, path: str = "/app/storm"):
        self.urls = [f"{base_urls[i % len(base_urls)]}{path}" for i in range(n)]
        self.cookie = f"{cookie_name}={cookie_value}"
        self.sessions = []
        for _ in range(n):
            s = requests.Session()
            s.verify = str(ca_file)
            s.trust_env = False
            s.headers.update(XHR_HEADERS)
            self.sessions.append(s)
        self.pool = ThreadPoolExecutor(max_workers=n)

    def _one(self, i: int, barrier: threading.Barrier | None) -> Shot:
        if barrier is not None:
            barrier.wait(timeout=HTTP_TIMEOUT)
        started = time.time()
        r = self.sessions[i].get(self.urls[i], headers={"Cookie": self.cookie},
                                 timeout=HTTP_TIMEOUT, allow_redirects=False)
        finished = time.time()
        # the echo backend answers JSON; a static httpd backend echoes the token in a header
        at = r.headers.get("X-Echo-Access-Token")
        if at is None and r.status_code == 200 \
                and r.headers.get("Content-Type", "").startswith("application/json"):
            at = r.json().get("headers", {}).get("x-access-token")
        return Shot(r.status_code, started, finished, at, r.headers.get("Retry-After"))

    def warm(self) -> list[Shot]:
        """Opens every connection (TLS handshakes) before the storm, as a busy page has."""
        return list(self.pool.map(lambda i: self._one(i, None), range(len(self.urls))))

    def fire(self) -> list[Shot]:
        barrier = threading.Barrier(len(self.urls))
        futures = [self.pool.submit(self._one, i, barrier) for i in range(len(self.urls))]
        return [f.result(timeout=2 * HTTP_TIMEOUT) for f in futures]

    def close(self):
        self.pool.shutdown(wait=True)
        for s in self.sessions:
            s.close()


def refresh_response_time(token_log: list[dict]) -> float:
    """The provider's own time for the refresh grants in a token log (seconds, the slowest)."""
    times = [e["answered"] - e["received"] for e in token_log
             if e.get("grant_type") == "refresh_token" and e.get("answered")]
    return max(times) if times else 0.0
