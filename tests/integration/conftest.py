# SPDX-License-Identifier: Apache-2.0
"""Fixtures: the test CA, memcached, the OP and the echo backend once per session; httpd
instances per configuration; error-log and secret-leak checks after every test."""
import secrets as pysecrets
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from rtstest import paths  # noqa: E402
from rtstest.certs import make_pki  # noqa: E402
from rtstest.client import Browser  # noqa: E402
from rtstest.errorlog import CRASH_RE, TAG_ONLY_RE, TAG_RE  # noqa: E402
from rtstest.faultproxy import FaultProxy  # noqa: E402
from rtstest.httpd import Httpd  # noqa: E402
from rtstest.ports import free_ports  # noqa: E402
from rtstest.procs import OP, Backend, Memcached  # noqa: E402
from rtstest.rtsconf import Client, rts_config  # noqa: E402

N_HTTPD_PORTS = 6   # the OP must know every redirect_uri before it starts


def pytest_configure(config):
    config.addinivalue_line("markers", "mpm: also run under the worker and prefork MPMs "
                                       "(scripts/test.sh)")
    config.addinivalue_line("markers", "independent_op: against an OpenID Provider written "
                                       "independently of this project (Glewlwyd, test_330)")


@pytest.fixture(scope="session")
def gen_dir() -> Path:
    return paths.ensure_gen_dir()


@pytest.fixture(scope="session")
def pki(gen_dir):
    return make_pki(gen_dir / "pki")


@pytest.fixture(scope="session")
def ports():
    mc, op, *httpd = free_ports(2 + N_HTTPD_PORTS)
    return {"memcached": mc, "op": op, "httpd": httpd}


@pytest.fixture(scope="session")
def clients() -> dict:
    return {
        "rts-test": Client("rts-test", "basic-" + pysecrets.token_urlsafe(24), "client_secret_basic"),
        "rts-post": Client("rts-post", "post-" + pysecrets.token_urlsafe(24), "client_secret_post"),
    }


@pytest.fixture(scope="session")
def session_secret() -> str:
    return pysecrets.token_urlsafe(36)   # 48 characters


@pytest.fixture(scope="session")
def memcached(gen_dir, ports):
    mc = Memcached(ports["memcached"], gen_dir / "memcached.log").start()
    yield mc
    mc.stop()


@pytest.fixture(scope="session")
def op(gen_dir, ports, pki, clients):
    redirect_uris = [f"https://127.0.0.1:{p}/rtsession/callback" for p in ports["httpd"]]
    op = OP(ports["op"], [{"client_id": c.client_id, "client_secret": c.secret,
                          "token_endpoint_auth_method": c.auth_method,
                          "redirect_uris": redirect_uris,
                          "post_logout_redirect_uris": [u.replace("/callback", "/logout")
                                                        for u in redirect_uris],
                          # one URI only (the OP's rule); it makes ID tokens carry sid
                          "backchannel_logout_uri":
                              redirect_uris[0].replace("/callback", "/backchannel-logout")}
                         for c in clients.values()],
            pki, gen_dir).start()
    yield op
    op.stop()


@pytest.fixture(scope="session")
def _op_fault_proxy(op, pki):
    fp = FaultProxy("127.0.0.1", op.port, upstream_tls=True, ca_file=pki.ca_cert,
                    tls_cert=pki.server_cert, tls_key=pki.server_key)
    yield fp
    fp.close()


@pytest.fixture
def fault_proxy(_op_fault_proxy):
    """The FaultProxy (rtstest/faultproxy.py) in front of the session OP, HTTPS on both sides,
    with no faults and an empty request list; cleared again after the test. Point an httpd at
    it with proxied_config."""
    _op_fault_proxy.clear()
    _op_fault_proxy.requests.clear()
    yield _op_fault_proxy
    _op_fault_proxy.clear()


@pytest.fixture
def proxied_config(make_config, fault_proxy, op):
    """proxied_config(client_id="rts-test", **overrides): make_config with the module talking
    to the OP through fault_proxy (discovery, token, JWKS, userinfo, revocation, end_session:
    every endpoint URL in the rewritten discovery document); the issuer stays the OP's."""
    def make(client_id: str = "rts-test", **kw) -> str:
        return make_config(client_id, metadata_url=fault_proxy.discovery_url, issuer=op.issuer,
                           **kw)
    return make


@pytest.fixture(scope="session")
def backend():
    b = Backend().start()
    yield b
    b.stop()


@pytest.fixture
def echo(backend):
    """The backend with its records cleared for this test."""
    backend.clear()
    return backend


@pytest.fixture
def sessions(session_secret, ports):
    """A reader of the session records in the session memcached (rtstest/sessions.py)."""
    from rtstest.sessions import SessionReader
    return SessionReader(session_secret, ports["memcached"])


@pytest.fixture
def log_expect():
    """Tags a test expects at error level (or a child crash, AH00052, which fails every test
    at any level): e.g. log_expect.append("RTS10012"). Exact tags only, no wildcards."""
    return []


@pytest.fixture
def leak_check():
    """Extra values (tokens, cookies) that must not appear in the error log."""
    return []


class HttpdPool:
    """Named httpd instances on the session's ports, started on first use."""

    def __init__(self, pki, ports):
        self.pki = pki
        # the OP's backchannel_logout_uri names the first port: it is always "main"'s
        self.main_port, *rest = ports
        self.free = list(rest)
        self.instances: dict[str, Httpd] = {}

    def get(self, name: str, with_module: bool = True) -> Httpd:
        if name not in self.instances:
            assert name == "main" or self.free, \
                "out of httpd ports: raise N_HTTPD_PORTS in conftest.py"
            port = self.main_port if name == "main" else self.free.pop(0)
            self.instances[name] = Httpd(name, port, self.pki, with_module=with_module)
        return self.instances[name]

    def stop_all(self):
        for h in self.instances.values():
            h.stop()
        # a child crash outside a test's window (between tests, at a restart, at the stop)
        crashes = [line for h in self.instances.values() for line in h.error_log.unaccepted_crashes()]
        assert not crashes, "httpd child exited on a signal:\n" + "\n".join(crashes[:10])


@pytest.fixture(scope="session")
def httpd_pool(pki, ports):
    pool = HttpdPool(pki, ports["httpd"])
    yield pool
    pool.stop_all()


@pytest.fixture(scope="session")
def make_config(op, memcached, pki, clients, session_secret, backend):
    """make_config(client_id="rts-test", **overrides) -> standard module config text."""
    def make(client_id: str = "rts-test", **kw) -> str:
        args = dict(op_url=op.url, memcached=memcached.server_arg, ca_file=pki.ca_cert,
                    client=clients[client_id], session_secret=session_secret,
                    backend_url=backend.url)
        args.update(kw)
        return rts_config(**args)
    return make


def ensure_config(h: Httpd, text: str) -> Httpd:
    """Start h with this config, or gracefully restart it if its config differs."""
    if h.pid() is None:
        h.install(text)
        return h.start()
    if not h.test_conf.exists() or h.test_conf.read_text() != text:
        h.reload(text)
    return h


@pytest.fixture
def used_httpds(request):
    """Every httpd a test touched; their logs are checked after the test."""
    return []


@pytest.fixture
def httpd_for(httpd_pool, used_httpds, used_browsers):
    """httpd_for(name, config_text, with_module=True) -> a running Httpd with that config.
    After a change of configuration (a graceful restart) the test's browsers drop their
    kept-alive connections: the old children close them, and one may be closed just as a
    request is sent on it ("Remote end closed connection without response")."""
    def get(name: str, text: str, with_module: bool = True) -> Httpd:
        h = httpd_pool.get(name, with_module)
        generation = h.generation
        h = ensure_config(h, text)
        if h.generation != generation:
            for b in used_browsers:
                for adapter in b.adapters.values():
                    adapter.close()
        h.error_log.mark()
        used_httpds.append(h)
        return h
    return get


@pytest.fixture
def httpd(httpd_for, make_config):
    """The main instance with the standard config (client rts-test, basic auth)."""
    return httpd_for("main", make_config())


@pytest.fixture
def used_browsers():
    """Browsers of this test; their rtsession cookies are checked against the logs."""
    return []


@pytest.fixture
def browser(pki, used_browsers):
    """A fresh scripted browser (see rtstest.client)."""
    b = Browser(pki.ca_cert)
    used_browsers.append(b)
    yield b
    b.close()   # the cookie jar stays readable for the after-test checks


def _rts_values(browsers, backend) -> list:
    values = []
    for b in browsers:
        values += [c.value for c in b.cookies if "rtsession" in c.name]
    if backend is not None:
        for rec in backend.records():
            values += [v for k, v in rec["header_list"] if k.lower() == "x-access-token"]
    return values


@pytest.fixture(autouse=True)
def _after_each_test(request, used_httpds, used_browsers, log_expect, leak_check):
    """After each test: reset OP fault settings, check logs for errors and leaked secrets."""
    yield
    fixtures = request.fixturenames
    if "op" in fixtures:
        request.getfixturevalue("op").reset_settings()
    if not used_httpds:
        return
    secret_values = list(leak_check)
    if "clients" in fixtures or "make_config" in fixtures:
        secret_values += [c.secret for c in request.getfixturevalue("clients").values()]
        secret_values.append(request.getfixturevalue("session_secret"))
    backend = request.getfixturevalue("backend") if "backend" in fixtures else None
    secret_values += _rts_values(used_browsers, backend)
    for h in used_httpds:
        h.error_log.assert_no_sanitizer_reports()
        h.error_log.assert_status_texts_known()
        h.error_log.assert_no_secrets(secret_values)
        # exact tags only: a wildcard would switch the check off for the whole test
        bad = [t for t in log_expect if not TAG_ONLY_RE.fullmatch(t)]
        assert not bad, f"log_expect takes exact tags (RTSnnnnn, AHnnnnn), not {bad}"
        h.error_log.assert_clean(expected_tags=log_expect)
        h.error_log.accepted_crashes.update(
            line for line in h.error_log.lines()
            if CRASH_RE.search(line) and set(TAG_RE.findall(line)) & set(log_expect))
