# SPDX-License-Identifier: Apache-2.0
"""The module says which version it is, with the libraries it runs with: in the startup log line
(RTS10318) and, under ServerTokens Full, in httpd's Server banner."""
import re
from pathlib import Path

from rtstest.client import Browser

CONFIGURE_AC = Path(__file__).resolve().parents[2] / "configure.ac"


def declared_version() -> str:
    m = re.search(r"AC_INIT\(\[mod_rtsession\], \[([^\]]+)\]", CONFIGURE_AC.read_text())
    assert m, "configure.ac declares no version"
    return m.group(1)


def test_startup_line_and_banner_name_the_version(httpd_for, make_config, pki):
    version = declared_version()
    h = httpd_for("main", "ServerTokens Full\n" + make_config())
    log = (h.root / "logs" / "error_log").read_text()
    lines = [ln for ln in log.splitlines() if "RTS10318" in ln]
    assert lines, "no RTS10318 startup line"
    assert f"mod_rtsession {version} (libcurl/" in lines[-1]
    for lib in ("OpenSSL/3.", "libmemcached/", "jansson/", "APR/"):
        assert lib in lines[-1]
    with Browser(pki.ca_cert) as b:
        r = b.get(f"{h.url}/rtsession-alive-does-not-matter")
    assert f"mod_rtsession/{version}" in r.headers.get("Server", "")
