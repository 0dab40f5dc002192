# SPDX-License-Identifier: Apache-2.0
"""What every benchmark needs, started on loopback and stopped again: the test CA, memcached,
the test OP, a static backend (httpd serving a small file over plain HTTP, so the baseline
measures httpd + mod_proxy and not Python), httpd instances for the plain proxy, for
mod_rtsession and for Debian's mod_auth_openidc, wrk, and memcached's stats. The module under
test is $RTS_MODULE, else build/'s (scripts/build.sh; rtstest/paths.py)."""
import os
import re
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import unquote

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent / "integration"))
# rtstest.paths reads RTS_GEN_DIR at import time: pick the bench's own dir first.
os.environ.setdefault("RTS_GEN_DIR", tempfile.mkdtemp(prefix="rts-bench-"))

from rtstest import mc, paths  # noqa: E402
from rtstest.certs import make_pki  # noqa: E402
from rtstest.client import Browser, login  # noqa: E402
from rtstest.httpd import Httpd  # noqa: E402
from rtstest.ports import free_ports  # noqa: E402
from rtstest.procs import OP, Memcached  # noqa: E402
from rtstest.rtsconf import Client, rts_config  # noqa: E402

OPENIDC_SO = Path("/usr/lib/apache2/modules/mod_auth_openidc.so")
BENCH_PATH = "/app/bench"
BODY = b'{"ok":true,"bench":"small static response"}\n'
LOG_LEVEL = os.environ.get("RTS_BENCH_LOGLEVEL", "warn")   # trace logging would be measured


class BenchHttpd(Httpd):
    """An Httpd with extra LoadModule lines (mod_auth_openidc) and a quiet log level."""

    def __init__(self, name, port, pki, with_module=True, extra_modules=(), module=None):
        super().__init__(name, port, pki, with_module=with_module, log_level=LOG_LEVEL,
                         module=module)
        self.extra_modules = list(extra_modules)

    def _modules_conf(self) -> str:
        return super()._modules_conf() + "".join(f"LoadModule {n} {p}\n"
                                                 for n, p in self.extra_modules)


class BigMemcached(Memcached):
    """memcached with more memory than the harness's 64 MB (100,000 sessions need ~110 MB)."""

    def __init__(self, port, log_path, mem_mb: int):
        super().__init__(port, log_path)
        self.mem_mb = mem_mb

    def _spawn(self, argv, cwd=None, env=None):
        argv = [str(a) for a in argv]
        argv[argv.index("-m") + 1] = str(self.mem_mb)
        super()._spawn(argv, cwd, env)


class Env:
    """The cast of a benchmark. Use as a context manager: everything stops on exit."""

    def __init__(self, n_httpd: int = 3, access_token_ttl: int = 600, n_memcached: int = 1,
                 memcached_mb: int = 64, op_config: dict | None = None):
        self.gen = paths.ensure_gen_dir()
        self.pki = make_pki(self.gen / "pki")
        self.mc_ports = free_ports(n_memcached)
        self.op_port, self.backend_port, *self.httpd_ports = free_ports(2 + n_httpd)
        self.client = Client("rts-test", "basic-" + secrets.token_urlsafe(24), "client_secret_basic")
        self.session_secret = secrets.token_urlsafe(36)
        self.access_token_ttl = access_token_ttl
        self.memcached_mb = memcached_mb
        self.op_config = dict(op_config or {})   # extra op.mjs config keys (tests/op/README.md)
        self.memcacheds: list[Memcached] = []
        self.op: OP | None = None
        self.httpds: list[Httpd] = []
        self.backend: Httpd | None = None

    # --- lifecycle ---
    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        for i, p in enumerate(self.mc_ports):
            self.memcacheds.append(BigMemcached(p, self.gen / f"memcached-{i}.log",
                                                self.memcached_mb).start())
        redirect_uris = []
        for p in self.httpd_ports:
            redirect_uris += [f"https://127.0.0.1:{p}/rtsession/callback",
                              f"https://127.0.0.1:{p}/oidc/redirect_uri"]
        self.op = OP(self.op_port, [{"client_id": self.client.client_id,
                                     "client_secret": self.client.secret,
                                     "token_endpoint_auth_method": self.client.auth_method,
                                     "redirect_uris": redirect_uris}],
                     self.pki, self.gen, access_token_ttl=self.access_token_ttl,
                     id_token_ttl=self.access_token_ttl)
        self.op.config.update(self.op_config)
        self.op.start()
        self.backend = self._start_backend()

    def stop(self):
        for h in [*self.httpds, *([self.backend] if self.backend else [])]:
            try:
                h.stop()
            except Exception as e:   # noqa: BLE001 - stop the rest anyway
                print(f"stopping httpd-{h.name}: {e}", file=sys.stderr)
        if self.op:
            self.op.stop()
        for server in self.memcacheds:
            server.stop()

    # --- the cast ---
    @property
    def memcached(self) -> Memcached:
        return self.memcacheds[0]

    @property
    def backend_url(self) -> str:
        return f"http://127.0.0.1:{self.backend_port}"

    def _start_backend(self) -> Httpd:
        """httpd answering every /app/* path... with one small static file, over plain HTTP."""
        h = BenchHttpd("bench-backend", free_ports(1)[0], self.pki, with_module=False)
        docroot = h.root / "static"
        (docroot / "app").mkdir(parents=True, exist_ok=True)
        (docroot / "app" / "bench").write_bytes(BODY)
        (docroot / "app" / "storm").write_bytes(BODY)
        docroot.chmod(0o755)
        (docroot / "app").chmod(0o755)
        h.install(f"""Listen 127.0.0.1:{self.backend_port} http
<VirtualHost 127.0.0.1:{self.backend_port}>
  SSLEngine off
  DocumentRoot "{docroot}"
  <Directory "{docroot}">
    Require all granted
  </Directory>
  # the storm benchmark checks which access token each request was forwarded with
  <Location /app/storm>
    Header always set X-Echo-Access-Token "expr=%{{req:X-Access-Token}}"
    # session_bytes.py counts the heavy session's groups (RTSessionClaimHeader X-Remote-Groups)
    Header always set X-Echo-Remote-Groups "expr=%{{req:X-Remote-Groups}}"
  </Location>
</VirtualHost>
""")
        return h.start()

    def httpd(self, name: str, test_conf: str, with_module: bool = True, extra_modules=(),
              module=None) -> Httpd:
        port = self.httpd_ports[len(self.httpds)]
        h = BenchHttpd(name, port, self.pki, with_module=with_module, extra_modules=extra_modules,
                       module=module)
        h.install(test_conf)
        self.httpds.append(h.start())
        return h

    def memcached_arg(self) -> str:
        return " ".join(server.server_arg for server in self.memcacheds)

    def plain_conf(self) -> str:
        return f"<Location /app>\n  ProxyPass {self.backend_url}/app\n</Location>\n"

    def rts_conf(self, **kw) -> str:
        args = dict(op_url=self.op.url, memcached=self.memcached_arg(), ca_file=self.pki.ca_cert,
                    client=self.client, session_secret=self.session_secret,
                    backend_url=self.backend_url)
        args.update(kw)
        return rts_config(**args)

    def openidc_conf(self, port: int) -> str:
        return f"""OIDCProviderMetadataURL {self.op.discovery_url}
OIDCClientID {self.client.client_id}
OIDCClientSecret {self.client.secret}
OIDCProviderTokenEndpointAuth client_secret_basic
OIDCRedirectURI https://127.0.0.1:{port}/oidc/redirect_uri
OIDCCryptoPassphrase {secrets.token_urlsafe(24)}
OIDCScope "openid email profile offline_access"
OIDCPKCEMethod S256
OIDCCABundlePath "{self.pki.ca_cert}"
OIDCCacheType memcache
OIDCMemCacheServers "127.0.0.1:{self.memcached.port}"
OIDCSessionType server-cache
OIDCPassClaimsAs headers
<Location /oidc>
  AuthType openid-connect
  Require valid-user
</Location>
<Location /app>
  AuthType openid-connect
  Require valid-user
  ProxyPass {self.backend_url}/app
</Location>
"""

    def openidc_httpd(self, name: str = "openidc") -> Httpd:
        if not OPENIDC_SO.exists():
            raise RuntimeError("mod_auth_openidc is not installed: "
                               "apt-get install libapache2-mod-auth-openidc")
        port = self.httpd_ports[len(self.httpds)]
        return self.httpd(name, self.openidc_conf(port), with_module=False,
                          extra_modules=[("auth_openidc_module", OPENIDC_SO)])

    def login(self, h: Httpd, cookie_name: str, user: str = "alice",
              password: str | None = None) -> str:
        """A scripted browser login through h; returns the session cookie's value."""
        with Browser(self.pki.ca_cert) as b:
            res = login(b, f"{h.url}{BENCH_PATH}", user=user, password=password)
            assert res.final.status_code == 200, f"login through {h.name}: {res.final.status_code}"
            for c in b.cookies:
                if c.name == cookie_name:
                    return c.value
        raise AssertionError(f"no {cookie_name} cookie after logging in through {h.name}")


# --- memcached ---
def mc_command(port: int, command: str) -> str:
    return mc.command(("127.0.0.1", port), command).decode("utf-8", "replace")


def mc_stats(port: int, sub: str = "") -> dict:
    out = {}
    for line in mc_command(port, f"stats {sub}".strip()).splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "STAT":
            try:
                out[parts[1]] = int(parts[2])
            except ValueError:
                out[parts[1]] = parts[2]
    return out


MC_OPS = ("cmd_get", "cmd_set", "cmd_touch", "delete_hits", "delete_misses", "cas_hits",
          "cas_misses", "cas_badval")


def mc_ops(ports) -> dict:
    total = dict.fromkeys(MC_OPS, 0)
    for p in ports:
        st = mc_stats(p)
        for k in MC_OPS:
            total[k] += int(st.get(k, 0))
    return total


def mc_items(port: int) -> list[dict]:
    """Every item (key, size as memcached accounts it) from lru_crawler metadump all."""
    items = []
    for line in mc_command(port, "lru_crawler metadump all").splitlines():
        if not line.startswith("key="):
            continue
        fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
        items.append({"key": unquote(fields["key"]), "size": int(fields.get("size", 0)),
                      "exp": fields.get("exp")})
    return items


# --- wrk ---
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)$", text)
    assert m, f"unparsed wrk latency {text!r}"
    return float(m.group(1)) * _UNITS[m.group(2)]


def wrk(url: str, headers: dict | None = None, connections: int = 32, threads: int = 2,
        duration: int = 10) -> dict:
    """{rps, p50_ms, p99_ms, requests, non2xx, errors} from one wrk run."""
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency"]
    for k, v in (headers or {}).items():
        argv += ["-H", f"{k}: {v}"]
    out = subprocess.run(argv + [url], capture_output=True, text=True,
                         timeout=duration + 60).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    total = re.search(r"(\d+) requests in", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    assert rps and p50 and p99 and total, f"unparsed wrk output:\n{out}"
    return {"rps": float(rps.group(1)), "p50_ms": _ms(p50.group(1)), "p99_ms": _ms(p99.group(1)),
            "requests": int(total.group(1)), "non2xx": int(non2xx.group(1)) if non2xx else 0,
            "errors": sum(int(x) for x in errors.groups()) if errors else 0}


def nproc() -> int:
    return os.cpu_count() or 0


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])
