"""The harness itself, without mod_rtsession: httpd starts from the generated config,
proxies to the echo backend (the plain-proxy baseline), restarts gracefully, stops."""
import pytest

from rtstest.client import Browser

PLAIN_PROXY = """
<Location /plain>
  ProxyPass {backend}/plain
</Location>
"""


@pytest.fixture
def plain(httpd_for, backend):
    return httpd_for("plain", PLAIN_PROXY.format(backend=backend.url), with_module=False)


def test_plain_proxy_echo(plain, echo, pki):
    with Browser(pki.ca_cert) as b:
        r = b.get(f"{plain.url}/plain/x?a=1&b=two", headers={"X-Probe": "p1", "Cookie": "c=3"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["path"] == "/plain/x"
    assert body["query"] == {"a": ["1"], "b": ["two"]}
    assert body["headers"]["x-probe"] == "p1"
    assert body["cookies"] == {"c": "3"}
    rec = echo.last()
    assert rec["path"] == "/plain/x"
    assert rec["headers"]["x-forwarded-host"] == f"127.0.0.1:{plain.port}"


def test_graceful_restart_applies_new_config(plain, httpd_for, backend, pki):
    gen = plain.generation
    h = httpd_for("plain", PLAIN_PROXY.format(backend=backend.url) + "\n# changed\n",
                  with_module=False)
    assert h.generation == gen + 1
    with Browser(pki.ca_cert) as b:
        assert b.get(f"{h.url}/plain/").status_code == 200


def test_configtest_reports_errors(plain):
    plain.install("NoSuchDirective here\n")
    try:
        r = plain.configtest()
        assert r.returncode != 0
        assert "NoSuchDirective" in r.stdout + r.stderr
    finally:
        plain.install("")   # next test reinstalls its own


def test_memcached_answers(memcached):
    memcached.flush_all()
    assert memcached.item_count() == 0
