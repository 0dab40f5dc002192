# SPDX-License-Identifier: Apache-2.0
"""A scripted browser for the login flow: every hop is a separate request (no automatic
redirects) so tests can assert on each one."""
import html
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urljoin, urlsplit

import requests

HTTP_TIMEOUT = 10
MAX_HOPS = 10
USERS = {"alice": "wonderland", "bob": "builder"}
AUTH_PARAMS = ("response_type", "client_id", "redirect_uri", "scope", "state", "nonce",
               "code_challenge", "code_challenge_method")


class Browser(requests.Session):
    """requests.Session that trusts the test CA, never follows redirects by itself and
    always has a timeout."""

    def __init__(self, ca_file):
        super().__init__()
        self.verify = str(ca_file)
        # Else REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE from the environment override verify,
        # and *_proxy variables could route loopback traffic elsewhere.
        self.trust_env = False
        # What a browser sends for a top-level navigation: the module redirects only those to
        # the provider and answers 401 to API-style requests.
        self.headers["Accept"] = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        self.headers["Sec-Fetch-Mode"] = "navigate"

    # Session.get/options default allow_redirects=True before request() sees it.
    def get(self, url, **kw):
        kw.setdefault("allow_redirects", False)
        return self.request("GET", url, **kw)

    def options(self, url, **kw):
        kw.setdefault("allow_redirects", False)
        return self.request("OPTIONS", url, **kw)

    def request(self, method, url, **kw):
        kw.setdefault("allow_redirects", False)
        kw.setdefault("timeout", HTTP_TIMEOUT)
        return super().request(method, url, **kw)


def query_params(url: str) -> dict:
    """Single-valued query parameters of a URL."""
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}


def location(r: requests.Response) -> str:
    assert r.is_redirect, f"expected a redirect, got {r.status_code} from {r.url}"
    return urljoin(r.url, r.headers["Location"])


def set_cookie_headers(r: requests.Response) -> list[str]:
    return r.raw.headers.getlist("Set-Cookie") if r.raw is not None else []


@dataclass
class LoginResult:
    hops: list = field(default_factory=list)   # every requests.Response, in order
    auth_redirect: requests.Response = None     # the RP's 302 to the OP
    auth_params: dict = None                    # query of that authorization URL
    callback_url: str = None                    # where the OP sent the browser back
    callback_response: requests.Response = None  # the RP's answer to the callback
    final: requests.Response = None             # the RP's answer at the original URL


def start_login(browser: Browser, url: str, result: LoginResult | None = None):
    """GET a protected URL; expect 302 to the OP's authorization endpoint with all
    parameters. Returns (authorization URL, its parameters)."""
    r = browser.get(url)
    if result is not None:
        result.hops.append(r)
        result.auth_redirect = r
    assert r.status_code == 302, f"GET {url}: expected 302 to the OP, got {r.status_code}"
    auth_url = location(r)
    params = query_params(auth_url)
    missing = [p for p in AUTH_PARAMS if not params.get(p)]
    assert not missing, f"authorization request lacks {missing}"
    assert params["response_type"] == "code"
    assert params["code_challenge_method"] == "S256"
    if result is not None:
        result.auth_params = params
    return auth_url, params


def authenticate_at_op(browser: Browser, auth_url: str, user: str = "alice",
                       password: str | None = None, redirect_prefix: str | None = None,
                       result: LoginResult | None = None) -> str:
    """Drive the OP: authorization endpoint -> login form -> POST credentials -> redirects,
    stopping (without following) at the redirect to the RP. Returns that callback URL.
    redirect_prefix defaults to the redirect_uri of the authorization request."""
    password = USERS[user] if password is None else password
    redirect_prefix = redirect_prefix or query_params(auth_url)["redirect_uri"]
    hops = result.hops if result is not None else []
    url, method, data = auth_url, "GET", None
    for _ in range(MAX_HOPS):
        r = browser.request(method, url, data=data)
        hops.append(r)
        if r.is_redirect:
            nxt = location(r)
            if nxt.startswith(redirect_prefix):
                return nxt
            url, method, data = nxt, "GET", None
            continue
        assert r.status_code == 200, f"OP {method} {urlsplit(url).path}: {r.status_code}"
        form = re.search(r'<form[^>]*method="post"[^>]*action="([^"]+)"', r.text)
        assert form, f"no login form at {urlsplit(url).path}"
        assert data is None, "login failed: the OP showed the form again"
        url, method = urljoin(r.url, html.unescape(form.group(1))), "POST"
        data = {"username": user, "password": password}
    raise AssertionError(f"no redirect back to {redirect_prefix} after {MAX_HOPS} hops")


def finish_login(browser: Browser, callback_url: str, result: LoginResult | None = None):
    """GET the callback, expect 302 back to the original URL and GET it."""
    r = browser.get(callback_url)
    if result is not None:
        result.hops.append(r)
        result.callback_response = r
    assert r.status_code == 302, f"callback: expected 302, got {r.status_code}"
    final = browser.get(location(r))
    if result is not None:
        result.hops.append(final)
        result.final = final
    return final


def login(browser: Browser, url: str, user: str = "alice", password: str | None = None) -> LoginResult:
    """The whole flow from a protected URL back to it, logged in."""
    result = LoginResult()
    auth_url, _ = start_login(browser, url, result)
    result.callback_url = authenticate_at_op(browser, auth_url, user, password, result=result)
    finish_login(browser, result.callback_url, result)
    return result
