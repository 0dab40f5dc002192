# SPDX-License-Identifier: Apache-2.0
"""A real browser (Debian's chromium, driven by playwright-core from tests/browser/): log in
through the provider's form, land on the original page with the identity, let the access
token expire, fire 30 parallel fetch() calls that all succeed behind one refresh at the
provider, log out (when the module has a logout path), and be asked to log in again.
Screenshots of every step go to $RTS_GEN_DIR/browser/<test name>/."""
import base64
import hashlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from rtstest import paths

CHROMIUM = Path("/usr/bin/chromium")
BROWSER_DIR = paths.TESTS_DIR / "browser"
SCRIPT = BROWSER_DIR / "flow.mjs"
LOGOUT_PATH = "/rtsession/logout"
ACCESS_TOKEN_TTL = 5
REFRESH_WINDOW = 2
PARALLEL = 30


def spki_hash(cert_path: Path) -> str:
    """base64(SHA-256(SubjectPublicKeyInfo)), the form --ignore-certificate-errors-spki-list
    takes: chromium then trusts this key (and only this key) without the CA."""
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    spki = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


def skip_unless_ci(reason: str):
    """A developer without chromium skips; CI (CI=true) must run the browser test: fail."""
    if os.environ.get("CI") == "true":
        pytest.fail("CI=true: " + reason)
    pytest.skip(reason)


def ensure_playwright():
    """playwright-core from the committed lock file (npm ci), as for the OP."""
    if not CHROMIUM.exists():
        skip_unless_ci("chromium is not installed (apt-get install chromium; see "
                    "scripts/install-deps.sh): the browser tests cannot run here")
    marker = BROWSER_DIR / "node_modules" / "playwright-core" / "package.json"
    lock = BROWSER_DIR / "package-lock.json"
    if not marker.exists() or lock.stat().st_mtime > marker.stat().st_mtime:
        npm = shutil.which("npm")
        assert npm, "npm is needed for tests/browser (scripts/install-deps.sh)"
        r = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=BROWSER_DIR,
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, f"npm ci in tests/browser failed:\n{r.stderr[-2000:]}"


def logout_supported(httpd_for, make_config) -> str | None:
    """The module's logout path, or None while the directive does not exist in this build."""
    probe = make_config(server_extra=f"RTSessionLogoutPath {LOGOUT_PATH}\n")
    try:
        httpd_for("main", probe)
    except AssertionError as e:
        if "Invalid command 'RTSessionLogoutPath'" in str(e):
            return None
        raise
    return LOGOUT_PATH


def test_browser_login_refresh_logout(httpd_for, make_config, op, echo, pki, gen_dir,
                                      request):
    ensure_playwright()
    logout = logout_supported(httpd_for, make_config)
    extra = f"RTSessionLogoutPath {logout}\n" if logout else ""
    h = httpd_for("main", make_config(refresh_window=REFRESH_WINDOW, server_extra=extra))
    op.settings(access_token_ttl=ACCESS_TOKEN_TTL)
    op.reset_counters()
    out_dir = gen_dir / "browser" / request.node.name
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    config = {
        "protected_url": f"{h.url}/app/page",
        "api_url": f"{h.url}/app/api",
        "out_dir": str(out_dir),
        "spki": spki_hash(pki.server_cert),
        "user": "alice",
        "password": "wonderland",
        # past the expiry itself, not only the refresh window
        "expire_wait_ms": int((ACCESS_TOKEN_TTL + 0.5) * 1000),
        "parallel": PARALLEL,
        "logout_url": f"{h.url}{logout}" if logout else None,
    }
    config_path = out_dir / "config.json"
    config_path.write_text(json.dumps(config))
    started = time.monotonic()
    r = subprocess.run(["node", str(SCRIPT), str(config_path)], cwd=BROWSER_DIR,
                       capture_output=True, text=True, timeout=180)
    elapsed = time.monotonic() - started
    (out_dir / "result.json").write_text(r.stdout)
    (out_dir / "stderr.txt").write_text(r.stderr)
    lines = [line for line in r.stdout.splitlines() if line.startswith("{")]
    assert lines, f"flow.mjs printed no result (exit {r.returncode}); see {out_dir}/stderr.txt"
    result = json.loads(lines[-1])
    assert r.returncode == 0 and "error" not in result, \
        f"browser flow failed: {result.get('error')} (screenshots in {out_dir})"
    steps = {s["name"]: s for s in result["steps"]}
    print(f"browser flow took {elapsed:.1f} s; screenshots in {out_dir}")

    s = steps["login_page"]
    assert s["first_url_is_protected"] and s["redirected_to_op"], "no redirect to the OP"
    assert s["login_form"], "the OP login form was not shown"

    s = steps["logged_in"]
    assert s["url_is_protected"] and s["path"] == "/app/page", "not back on the original page"
    assert s["user"] == op.users()["alice"]["sub"] or s["user"] == "alice"
    assert s["email"] == "alice@example.test"
    assert s["has_access_token"]

    s = steps["parallel_fetch"]
    assert s["statuses"] == [200] * PARALLEL, f"fetch statuses: {s['statuses']}"
    assert s["all_tokens_present"] and s["renewed"], "the backend did not get a new token"
    assert s["distinct_tokens"] == 1, "the parallel calls saw different access tokens"
    counters = op.counters()
    assert counters["refresh_grants"] == 1, f"the OP saw {counters['refresh_grants']} refreshes"
    assert counters["invalid_grant"] == 0

    for n in ("01-login-page", "02-logged-in", "03-parallel-fetch"):
        assert (out_dir / f"{n}.png").stat().st_size > 1000, f"screenshot {n} missing"

    if not logout:
        skip_unless_ci("logged in, refreshed once for 30 parallel fetches; logout step skipped: "
                    "this build has no RTSessionLogoutPath directive yet")
    s = steps["login_again"]
    assert not s["backend_reached"], "the protected page was served after logout"
    assert s["redirected_to_op"], "after logout the protected page did not send to the OP"
    assert s["login_form"], "after logout the OP did not ask for the credentials again"
    for n in ("04-logged-out", "05-login-again"):
        assert (out_dir / f"{n}.png").stat().st_size > 1000, f"screenshot {n} missing"
