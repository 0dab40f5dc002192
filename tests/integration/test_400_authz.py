# SPDX-License-Identifier: Apache-2.0
"""Apache-side request handling: what a request without a session gets per location
(RTSessionUnauthAction) and how navigations are told from XHR/API requests."""
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from rtstest.client import location, login

COOKIE = "__Host-rtsession"
NAV = {"Accept": "text/html,application/xhtml+xml", "Sec-Fetch-Mode": "navigate"}


def location_block(backend_url: str, path: str, *lines: str) -> str:
    body = "\n".join("  " + line for line in lines)
    return f"""<Location {path}>
  AuthType rtsession
  Require valid-user
  RTSessionUserHeader X-Remote-User
  RTSessionClaimHeader X-Remote-Email email
  ProxyPass {backend_url}{path}
{body}
</Location>
"""


@pytest.fixture
def authz_httpd(httpd_for, make_config, backend):
    extra = "".join([
        location_block(backend.url, "/login", "RTSessionUnauthAction login"),
        location_block(backend.url, "/api", "RTSessionUnauthAction 401"),
        location_block(backend.url, "/open", "RTSessionUnauthAction pass"),
        location_block(backend.url, "/auto", "RTSessionUnauthAction auto"),
    ])
    return httpd_for("main", make_config(server_extra=extra))


def to_op(r) -> bool:
    return r.status_code == 302 and "/auth?" in location(r)


@pytest.mark.parametrize("headers,navigation", [
    (NAV, True),
    ({"Accept": "text/html"}, True),                                  # no Sec-Fetch-*: Accept
    ({"Accept": "text/html", "X-Requested-With": "XMLHttpRequest"}, False),
    ({"Accept": "application/json"}, False),
    ({"Accept": "text/html", "Sec-Fetch-Mode": "cors"}, False),       # fetch() wins over Accept
    ({"Accept": "*/*", "Sec-Fetch-Mode": "navigate"}, True),
    ({}, False),
])
def test_auto_tells_navigation_from_xhr(authz_httpd, browser, headers, navigation):
    browser.headers.clear()
    r = browser.get(f"{authz_httpd.url}/auto/x", headers=headers)
    if navigation:
        assert to_op(r)
    else:
        assert r.status_code == 401 and "WWW-Authenticate" in r.headers


def test_auto_post_is_401(authz_httpd, browser):
    assert browser.post(f"{authz_httpd.url}/auto/x", data={"a": "b"}).status_code == 401


def test_default_is_auto(authz_httpd, browser):
    assert to_op(browser.get(f"{authz_httpd.url}/app/x", headers=NAV))
    browser.headers.clear()
    assert browser.get(f"{authz_httpd.url}/app/x",
                       headers={"Accept": "application/json"}).status_code == 401


def test_login_action_redirects_xhr_too(authz_httpd, browser):
    browser.headers.clear()
    assert to_op(browser.get(f"{authz_httpd.url}/login/x",
                             headers={"X-Requested-With": "XMLHttpRequest"}))


def test_401_action_refuses_navigation(authz_httpd, browser, echo):
    r = browser.get(f"{authz_httpd.url}/api/x", headers=NAV)
    assert r.status_code == 401
    assert echo.records() == []


def test_pass_action_goes_on_without_identity(authz_httpd, browser, echo):
    r = browser.get(f"{authz_httpd.url}/open/x",
                    headers={**NAV, "X-Remote-User": "mallory", "X-Remote_Email": "m@evil.test"})
    assert r.status_code == 200
    seen = echo.last()["headers"]
    assert "x-remote-user" not in seen, "a spoofed identity header reached the backend"
    assert "x-remote-email" not in seen and "x-remote_email" not in seen


def test_pass_action_with_session_has_identity(authz_httpd, browser, echo):
    login(browser, f"{authz_httpd.url}/app/")
    r = browser.get(f"{authz_httpd.url}/open/x", headers=NAV)
    assert r.status_code == 200
    seen = echo.last()["headers"]
    assert seen.get("x-remote-user") and seen.get("x-remote-email") == "alice@example.test"


def test_pass_action_with_dead_session_clears_cookie(authz_httpd, browser, echo):
    browser.cookies.set(COOKIE, "A" * 43, domain="127.0.0.1", path="/")
    r = browser.get(f"{authz_httpd.url}/open/x", headers=NAV)
    assert r.status_code == 200
    assert COOKIE not in echo.last()["cookies"]
    assert any(h.startswith(COOKIE + "=;") or "max-age=0" in h.lower()
               for h in r.raw.headers.getlist("Set-Cookie"))


def test_bad_unauth_action_fails_configtest(httpd_for, make_config):
    h = httpd_for("main", make_config())
    original = h.test_conf.read_text()
    h.install(make_config(location_extra="  RTSessionUnauthAction maybe"))
    try:
        r = h.configtest()
    finally:
        h.install(original)
    assert r.returncode != 0 and "RTSessionUnauthAction" in r.stdout + r.stderr


# ---- Require claim ----

def claim_block(backend_url: str, path: str, require: str, forbidden: bool = True) -> str:
    send403 = "AuthzSendForbiddenOnFailure On" if forbidden else ""
    return f"""<Location {path}>
  AuthType rtsession
  {send403}
  {require}
  ProxyPass {backend_url}{path}
</Location>
"""


@pytest.fixture
def claims_httpd(httpd_for, make_config, backend):
    b = backend.url
    extra = "".join([
        claim_block(b, "/staff", "Require claim groups:staff"),
        claim_block(b, "/builders", "Require claim groups:builders"),
        claim_block(b, "/either", "Require claim groups:builders groups:readers"),
        claim_block(b, "/all", "<RequireAll>\n    Require claim groups:staff\n"
                               "    Require claim email:alice@example.test\n  </RequireAll>"),
        claim_block(b, "/bobonly", "<RequireAll>\n    Require claim groups:staff\n"
                                  "    Require claim email:bob@example.test\n  </RequireAll>"),
        claim_block(b, "/any", "<RequireAny>\n    Require claim groups:builders\n"
                               "    Require claim email:alice@example.test\n  </RequireAny>"),
        claim_block(b, "/verified", "Require claim email_verified:true"),
        claim_block(b, "/nosuch", "Require claim department:hr"),
        f"""<Location /env>
  AuthType rtsession
  Require valid-user
  RequestHeader set X-Env-Email "%{{RTS_CLAIM_email}}e"
  RequestHeader set X-Env-Groups "%{{RTS_CLAIM_groups}}e"
  RequestHeader set X-Env-Sub "%{{RTS_CLAIM_sub}}e"
  ProxyPass {b}/env
</Location>
""",
    ])
    return httpd_for("main", make_config(server_extra=extra))


@pytest.mark.parametrize("path,alice,bob", [
    ("/staff", 200, 403),
    ("/builders", 403, 200),
    ("/either", 200, 200),
    ("/all", 200, 403),
    ("/bobonly", 403, 403),
    ("/any", 200, 200),
    ("/verified", 200, 200),
    ("/nosuch", 403, 403),
])
def test_require_claim(claims_httpd, pki, path, alice, bob, log_expect):
    from rtstest.client import Browser
    log_expect.append("AH01631")        # mod_authz_core logs each denial
    for user, want in (("alice", alice), ("bob", bob)):
        b = Browser(pki.ca_cert)
        try:
            login(b, f"{claims_httpd.url}/app/", user=user)
            r = b.get(f"{claims_httpd.url}{path}/x")
            assert r.status_code == want, f"{user} at {path}: {r.status_code}"
            if want == 403:
                assert "logged in" in r.text and "not allowed" in r.text
        finally:
            b.close()


def test_require_claim_denial_without_forbidden_on_failure(httpd_for, make_config, backend,
                                                          pki, log_expect):
    """httpd's default for a denied authenticated user is 401; the page still says why."""
    from rtstest.client import Browser
    log_expect.append("AH01631")
    h = httpd_for("main", make_config(server_extra=claim_block(
        backend.url, "/staff", "Require claim groups:staff", forbidden=False)))
    b = Browser(pki.ca_cert)
    try:
        login(b, f"{h.url}/app/", user="bob")
        r = b.get(f"{h.url}/staff/x")
        assert r.status_code == 401 and "logged in" in r.text and "not allowed" in r.text
        assert "/auth?" not in r.headers.get("Location", "")
    finally:
        b.close()


def test_require_claim_quoted_value(httpd_for, make_config, backend, browser, log_expect):
    h = httpd_for("main", make_config(server_extra=claim_block(
        backend.url, "/name", 'Require claim "name:Alice Liddell"')))
    login(browser, f"{h.url}/app/")
    assert browser.get(f"{h.url}/name/x").status_code == 200


def test_require_claim_without_session_logs_in(claims_httpd, browser):
    assert to_op(browser.get(f"{claims_httpd.url}/staff/x", headers=NAV))
    browser.headers.clear()
    assert browser.get(f"{claims_httpd.url}/staff/x",
                       headers={"Accept": "application/json"}).status_code == 401


def test_identity_environment_variables(claims_httpd, browser, echo):
    login(browser, f"{claims_httpd.url}/app/")
    r = browser.get(f"{claims_httpd.url}/env/x")
    assert r.status_code == 200
    seen = echo.last()["headers"]
    assert seen["x-env-email"] == "alice@example.test"
    assert seen["x-env-groups"] == "staff,readers"
    assert seen["x-env-sub"] == seen["x-remote-user"] and seen["x-env-sub"] != "(null)"


def test_bad_require_claim_fails_configtest(httpd_for, make_config, backend):
    h = httpd_for("main", make_config())
    original = h.test_conf.read_text()
    h.install(make_config(server_extra=claim_block(backend.url, "/bad", "Require claim staff")))
    try:
        r = h.configtest()
    finally:
        h.install(original)
    assert r.returncode != 0 and "NAME:VALUE" in r.stdout + r.stderr


# ---- Debian packaging: a2enmod rtsession ----

A2ENMOD = shutil.which("a2enmod") or "/usr/sbin/a2enmod"


@pytest.mark.skipif(not (os.path.exists(A2ENMOD) and os.path.isdir("/etc/apache2")),
                    reason="Debian's apache2 layout is not installed")
def test_a2enmod_rtsession(tmp_path):
    """conf/rtsession.load + .conf enable with a2enmod in a copy of /etc/apache2 and pass
    configtest, commented out as shipped and with every example uncommented."""
    from rtstest import paths
    top = Path(__file__).resolve().parents[2]
    confdir = tmp_path / "apache2"
    shutil.copytree("/etc/apache2", confdir, symlinks=True)
    load = (top / "conf" / "rtsession.load").read_text()
    assert "# Depends:" in load
    (confdir / "mods-available" / "rtsession.load").write_text(
        load.replace("/usr/lib/apache2/modules/mod_rtsession.so", str(paths.module_path())))
    conf = (top / "conf" / "rtsession.conf").read_text()
    (confdir / "mods-available" / "rtsession.conf").write_text(conf)
    env = {**os.environ, "APACHE_CONFDIR": str(confdir)}
    # the package enables the module on install: a2enmod must not pull in mod_proxy as well
    # (the module does not use it; the admin enables it for ProxyPass, docs/install.md)
    for mod in ("proxy", "proxy_http"):
        for ext in ("load", "conf"):
            (confdir / "mods-enabled" / f"{mod}.{ext}").unlink(missing_ok=True)
    r = subprocess.run([A2ENMOD, "-q", "rtsession"], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert (confdir / "mods-enabled" / "rtsession.load").exists()
    assert not (confdir / "mods-enabled" / "proxy.load").exists()

    def configtest():
        return subprocess.run(["apache2ctl", "-t"], env=env, capture_output=True, text=True)
    r = configtest()
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run([A2ENMOD, "-q", "proxy_http"], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    # every example uncommented, with readable secret files
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "client-secret").write_text("client-secret-value\n")
    (secrets / "module-secret").write_text("m" * 48 + "\n")
    active = re.sub(r"(?m)^(\s*)#(\s*)(RTSession|<|Auth|Require|ProxyPass)", r"\1\2\3", conf)
    active = active.replace("/etc/apache2/rtsession", str(secrets))
    (confdir / "mods-available" / "rtsession.conf").write_text(active)
    r = configtest()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "RTSessionLogoutPath /rtsession/logout" in active
