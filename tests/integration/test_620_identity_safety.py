# SPDX-License-Identifier: Apache-2.0
"""Identity safety (issue 11, items 5, 6 and 10): a session belongs to one client of one
provider; every claim that becomes REMOTE_USER, a header, an environment variable or a log line
passes one rule; identity headers are scrubbed server-wide; error pages carry no internal
detail; configtest refuses an http:// provider elsewhere than on loopback."""
import time

import pytest

from rtstest.client import authenticate_at_op, location, login, query_params, start_login
from rtstest.httpd import Httpd
from rtstest.ports import free_ports

COOKIE = "__Host-rtsession"
NAV = {"Accept": "text/html,application/xhtml+xml", "Sec-Fetch-Mode": "navigate"}
PASSWORD = "hostile-claims"

# name claims the OP hands out as they are (tests/op: POST /admin/users)
HOSTILE_NAMES = {
    "crlf": "Eve\r\nX-Injected: yes",
    "lf": "Eve\nX-Injected: yes",
    "cr": "Eve\rX-Injected: yes",
    "nul": "admin\u0000evil",
}
UTF8_NAME = "Jos\u00e9 \u5c71\u7530"


def add_user(op, key: str, name: str) -> str:
    username = f"idn-{key}"
    op.add_user(username, PASSWORD, f"sub-{username}", name=name, email=f"{username}@example.test",
                groups=["staff"])
    return username


def login_as(browser, url: str, username: str):
    """Logs in up to the module's answer to the callback (not following it)."""
    auth_url, _ = start_login(browser, url)
    callback = authenticate_at_op(browser, auth_url, user=username, password=PASSWORD)
    return browser.get(callback)


def session_cookie_set(r) -> bool:
    return any(h.startswith(COOKIE + "=") and not h.startswith(COOKIE + "=;")
               and "max-age=0" not in h.lower() for h in r.raw.headers.getlist("Set-Cookie"))


def header_bytes(value: str) -> bytes:
    """http.server decodes header octets as ISO-8859-1: the bytes the backend received."""
    return value.encode("latin-1")


def no_injected_header(records):
    for rec in records:
        names = [k.lower() for k, _ in rec["header_list"]]
        assert "x-injected" not in names, f"a claim split a header: {rec['header_list']}"


# ---- item 5: a session belongs to one client of one provider ----

def test_cookie_of_one_client_is_unknown_to_another(httpd_for, make_config, browser, echo):
    """Two servers with different client ids share RTSessionSecret and memcached; the browser
    sends app1's cookie to app2 (same host, other port: cookies ignore ports)."""
    app1 = httpd_for("main", make_config())
    app2 = httpd_for("second", make_config(client_id="rts-post"))
    login(browser, f"{app1.url}/app/")
    cookie = browser.cookies.get(COOKIE)
    assert cookie
    echo.clear()
    r = browser.get(f"{app2.url}/app/x")
    assert r.status_code == 302, f"app2 accepted app1's session ({r.status_code})"
    params = query_params(location(r))
    assert params["client_id"] == "rts-post"
    assert echo.records() == [], "app2 passed a request on with app1's identity"
    # app2 cleared the cookie it did not know (one cookie jar per host); app1's session is intact
    browser.cookies.set(COOKIE, cookie, domain="127.0.0.1", path="/")
    assert browser.get(f"{app1.url}/app/x").status_code == 200


# ---- item 6: one rule for every claim that leaves the module ----

@pytest.fixture
def name_user_httpd(httpd_for, make_config):
    """REMOTE_USER from the display name, as many intranets configure."""
    return httpd_for("main", make_config(location_extra="  RTSessionUserClaim name"))


@pytest.mark.parametrize("key", sorted(HOSTILE_NAMES))
def test_unusable_user_claim_refuses_login(name_user_httpd, op, browser, echo, log_expect, key):
    log_expect.append("RTS10010")
    username = add_user(op, key, HOSTILE_NAMES[key])
    r = login_as(browser, f"{name_user_httpd.url}/app/", username)
    assert r.status_code == 403
    assert not session_cookie_set(r)
    assert "Reference:" in r.text and "X-Injected" not in r.text
    assert browser.get(f"{name_user_httpd.url}/app/").status_code == 302   # a new login
    no_injected_header(echo.records())
    assert not any(rec["path"].startswith("/app") for rec in echo.records())
    name_user_httpd.error_log.assert_has_tag("RTS10010")
    # the log line names the claim and the reason, never the value
    assert not any("X-Injected" in line or "evil" in line
                   for line in name_user_httpd.error_log.lines())


def test_utf8_user_claim_passes_unchanged(name_user_httpd, op, browser, echo):
    username = add_user(op, "utf8", UTF8_NAME)
    r = login_as(browser, f"{name_user_httpd.url}/app/", username)
    assert r.status_code == 302 and session_cookie_set(r)
    assert browser.get(location(r)).status_code == 200
    seen = echo.last()["headers"]
    assert header_bytes(seen["x-remote-user"]) == UTF8_NAME.encode()
    assert header_bytes(seen["x-remote-name"]) == UTF8_NAME.encode()


@pytest.mark.parametrize("key", ["crlf", "lf", "cr", "utf8"])
def test_claim_header_and_environment_neutralised(httpd_for, make_config, backend, op, browser,
                                                  echo, key):
    """With the user from sub, the hostile name still reaches a claim header and RTS_CLAIM_name:
    each control character becomes a space; UTF-8 passes unchanged."""
    extra = f"""<Location /env>
  AuthType rtsession
  Require valid-user
  RequestHeader set X-Env-Name "%{{RTS_CLAIM_name}}e"
  ProxyPass {backend.url}/env
</Location>
"""
    h = httpd_for("main", make_config(server_extra=extra))
    name = HOSTILE_NAMES.get(key, UTF8_NAME)
    username = add_user(op, f"hdr-{key}", name)
    r = login_as(browser, f"{h.url}/app/", username)
    assert r.status_code == 302
    assert browser.get(location(r)).status_code == 200
    assert browser.get(f"{h.url}/env/x").status_code == 200
    app, env = echo.records()[-2:]
    expected = name.replace("\r", " ").replace("\n", " ").encode()
    assert header_bytes(app["headers"]["x-remote-name"]) == expected
    assert app["headers"]["x-remote-user"] == f"sub-{username}"
    assert header_bytes(env["headers"]["x-env-name"]) == expected
    no_injected_header(echo.records())


def test_unusable_user_claim_on_existing_session_is_refused(httpd_for, make_config, op, browser,
                                                            echo, log_expect):
    """A session made while REMOTE_USER came from sub; the configuration now takes it from the
    (hostile) name: the request is refused with a page, never passed on."""
    log_expect.append("RTS10330")
    h = httpd_for("main", make_config())
    username = add_user(op, "session", HOSTILE_NAMES["crlf"])
    r = login_as(browser, f"{h.url}/app/", username)
    assert r.status_code == 302 and session_cookie_set(r)
    h = httpd_for("main", make_config(location_extra="  RTSessionUserClaim name"))
    # a kept-alive connection may still reach a child of the old configuration (prefork)
    for adapter in browser.adapters.values():
        adapter.close()
    echo.clear()
    r = browser.get(f"{h.url}/app/x")
    assert r.status_code == 403
    assert "Reference:" in r.text and "X-Injected" not in r.text
    assert echo.records() == []
    h.error_log.assert_has_tag("RTS10330")
    assert not any("X-Injected" in line for line in h.error_log.lines())


def test_identity_headers_scrubbed_everywhere_on_the_server(httpd_for, make_config, backend,
                                                             browser, echo):
    """Names configured in /app are removed in a sibling location without the module's auth,
    and in one with RTSessionUserHeader off, in every spelling a CGI backend would merge."""
    b = backend.url
    extra = f"""<Location /open>
  ProxyPass {b}/open
</Location>
<Location /nouser>
  AuthType rtsession
  Require valid-user
  RTSessionUserHeader off
  ProxyPass {b}/nouser
</Location>
"""
    h = httpd_for("main", make_config(server_extra=extra))
    spoof = {"X-Remote-User": "mallory", "X-Remote-Email": "mallory@evil.test",
             "X_Remote_Name": "Mallory", "X-Access-Token": "forged"}
    assert browser.get(f"{h.url}/open/x", headers=spoof).status_code == 200
    seen = echo.last()["headers"]
    for name in ("x-remote-user", "x-remote-email", "x-remote-name", "x_remote_name",
                 "x-access-token"):
        assert name not in seen, f"{name} reached the backend through /open"
    login(browser, f"{h.url}/app/")
    assert browser.get(f"{h.url}/nouser/x", headers=spoof).status_code == 200
    seen = echo.last()["headers"]
    assert "x-remote-user" not in seen, "a spoofed user header passed RTSessionUserHeader off"
    assert "x-remote-email" not in seen and "x-access-token" not in seen


def test_pass_leaves_remote_user_unset(httpd_for, make_config, backend, browser, echo):
    """mod_log_config's %u prints - for no user and "" for an empty one; a CGI or FastCGI
    backend gets REMOTE_USER exactly when %u is not -."""
    h = httpd_for("main", make_config(server_extra=f"""CustomLog logs/identity_log "%u %U"
<Location /maybe>
  AuthType rtsession
  Require valid-user
  RTSessionUnauthAction pass
  ProxyPass {backend.url}/maybe
</Location>
"""))
    log = h.root / "logs" / "identity_log"
    assert browser.get(f"{h.url}/maybe/anon").status_code == 200
    deadline = time.time() + 5
    line = None
    while time.time() < deadline and line is None:
        found = [ln for ln in (log.read_text().splitlines() if log.exists() else [])
                 if ln.endswith(" /maybe/anon")]
        line = found[-1] if found else None
        time.sleep(0.05)
    assert line is not None, "no access log line"
    assert line.split(" ")[0] == "-", f"REMOTE_USER is set (empty) for an anonymous request: {line}"


# ---- item 10: pages in the user's terms; configuration checks ----

def test_provider_down_page_has_no_internal_detail(httpd_for, make_config, browser, log_expect):
    log_expect.extend(["RTS10020"])
    (port,) = free_ports(1)
    h = httpd_for("second", make_config(
        metadata_url=f"https://127.0.0.1:{port}/.well-known/openid-configuration"))
    r = browser.get(f"{h.url}/app/", headers=NAV)
    assert r.status_code == 502
    assert "Reference:" in r.text
    for detail in ("127.0.0.1", "Connection refused", str(port), "https://", "well-known",
                   "fetching"):
        assert detail not in r.text, f"the error page shows {detail!r}"
    h.error_log.assert_has_tag("RTS10020")   # the details are in the log line


def configtest(pki, gen_dir, text: str):
    h = Httpd("identity-configtest", 1, pki)
    h.install(text)
    return h.configtest()


def test_http_provider_refused_unless_loopback(make_config, pki, gen_dir):
    r = configtest(pki, gen_dir, make_config(
        metadata_url="http://op.example.test/.well-known/openid-configuration"))
    assert r.returncode != 0
    assert "RTS10305" in r.stderr and "http://op.example.test" in r.stderr
    for url in ("http://127.0.0.1.example.test/.well-known/openid-configuration",
                "http://[::2]:1/.well-known/openid-configuration"):
        r = configtest(pki, gen_dir, make_config(metadata_url=url))
        assert r.returncode != 0 and "RTS10305" in r.stderr, url
    for url in ("http://127.0.0.1:1/.well-known/openid-configuration",
                "http://localhost:1/.well-known/openid-configuration",
                "http://[::1]:1/.well-known/openid-configuration"):
        r = configtest(pki, gen_dir, make_config(metadata_url=url))
        assert r.returncode == 0, f"{url}: {r.stderr}"


def test_missing_directive_names_the_virtual_host(make_config, pki, gen_dir):
    r = configtest(pki, gen_dir, """<VirtualHost *:443>
  ServerName app.example.test
  RTSessionProviderMetadataURL https://op.example.test/.well-known/openid-configuration
</VirtualHost>
""")
    assert r.returncode != 0
    lines = [ln for ln in r.stderr.splitlines() if "RTS10301" in ln]
    assert lines, r.stderr
    assert all("app.example.test (<VirtualHost *:443> at " in ln for ln in lines), lines
    assert not any("app.example.test:0" in ln for ln in lines), lines
