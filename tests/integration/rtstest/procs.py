# SPDX-License-Identifier: Apache-2.0
"""The supporting cast, each logging to tests/gen/*.log: memcached, the test OP (node),
and the echo backend (a thread in the pytest process)."""
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import requests

from . import mc, paths, sessions
from .ports import port_open
from .wait import Timeout, wait_until

sys.path.insert(0, str(paths.BACKEND_SCRIPT.parent))
from echo import EchoServer, header_values  # noqa: E402  (tests/backend/echo.py)

HTTP_TIMEOUT = 10


class _Proc:
    """A child process with its stdout/stderr in one log file, stopped by its pid."""
    name = "proc"

    def __init__(self, log_path: Path):
        self.log_path = log_path
        self.proc = None

    def _spawn(self, argv, cwd=None, env=None):
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        log.write(f"--- start: {' '.join(map(str, argv))}\n".encode())
        log.flush()
        self.proc = subprocess.Popen([str(a) for a in argv], stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=cwd, env=env,
                                     start_new_session=True)
        log.close()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 10):
        if not self.running:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)

    def _wait_or_stop(self, predicate, timeout, what, interval=0.1, before_stop=None):
        """Wait for readiness; on failure do not leave the process behind."""
        try:
            wait_until(predicate, timeout, interval=interval, what=what)
        except BaseException:
            if before_stop:
                before_stop()
            self.stop()
            raise

    def _check_alive(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}, see {self.log_path}")


class Memcached(_Proc):
    name = "memcached"

    def __init__(self, port: int, log_path: Path, extra_args: tuple = ()):
        super().__init__(log_path)
        self.port = port
        self.extra_args = tuple(extra_args)     # e.g. ("-C",): CAS disabled

    @property
    def server_arg(self) -> str:
        return f"--SERVER=127.0.0.1:{self.port}"

    def start(self, timeout: float = 10):
        argv = ["memcached", "-l", "127.0.0.1", "-p", self.port, "-U", "0", "-m", "64",
                *self.extra_args]
        if os.geteuid() == 0:
            argv[1:1] = ["-u", "nobody"]
        self._spawn(argv)

        def up():
            self._check_alive()
            return port_open(self.port)
        self._wait_or_stop(up, timeout, f"memcached on port {self.port}")
        return self

    def flush_all(self):
        assert mc.command(("127.0.0.1", self.port), "flush_all", timeout=5).startswith(b"OK")

    def item_count(self) -> int:
        data = mc.command(("127.0.0.1", self.port), "stats", timeout=5)
        for line in data.decode().splitlines():
            if line.startswith("STAT curr_items "):
                return int(line.split()[2])
        raise AssertionError("memcached stats without curr_items")


def node_argv() -> list[str]:
    """node, plus the flag Node 18 (Debian 12's nodejs) needs for the WebCrypto global."""
    node = shutil.which("node") or "node"
    try:
        major = int(subprocess.run([node, "--version"], capture_output=True, text=True,
                                   timeout=10).stdout.strip().lstrip("v").split(".")[0])
    except (OSError, ValueError, subprocess.TimeoutExpired):
        major = 20
    return [node, "--experimental-global-webcrypto"] if major < 19 else [node]


def ensure_op_dependencies(timeout: float = 300):
    """npm ci in tests/op when node_modules is missing (scripts/install-deps.sh does it too)."""
    if (paths.OP_DIR / "node_modules" / "oidc-provider").is_dir():
        return
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=paths.OP_DIR, check=True,
                   timeout=timeout, stdin=subprocess.DEVNULL)


class OP(_Proc):
    """The test OpenID Provider (tests/op/op.mjs) and its admin API."""
    name = "op"

    def __init__(self, port: int, clients: list[dict], pki, gen_dir: Path,
                 access_token_ttl: int = 600, id_token_ttl: int = 600):
        super().__init__(gen_dir / "op.log")
        self.port = port
        self.pki = pki
        self.url = f"https://127.0.0.1:{port}"
        self.issuer = self.url
        self.discovery_url = f"{self.url}/.well-known/openid-configuration"
        self.userinfo_url = f"{self.url}/me"
        self.token_url = f"{self.url}/token"
        self.config_path = gen_dir / "op-config.json"
        self.config = {"port": port, "clients": clients,
                       "access_token_ttl": access_token_ttl, "id_token_ttl": id_token_ttl}
        self.http = requests.Session()
        self.http.verify = str(pki.ca_cert)
        self.http.trust_env = False   # REQUESTS_CA_BUNDLE would override verify

    def start(self, timeout: float = 30, attempts: int = 2):
        """Starts node and waits for discovery. Twice (CI, bench) a live node never listened
        within 30 s and logged nothing; a second attempt is cheap, and what the stuck process
        was doing goes to the OP log first."""
        ensure_op_dependencies()
        self.config_path.write_text(json.dumps(self.config, indent=2))
        sessions.DEFAULT_ISSUER = self.issuer   # what session records are bound to

        def up():
            self._check_alive()
            return self.http.get(self.discovery_url, timeout=2).status_code == 200
        for attempt in range(1, attempts + 1):
            # the OP delivers back-channel logout to the RP's https URL: trust the test CA
            self._spawn([*node_argv(), paths.OP_DIR / "op.mjs", self.config_path,
                         "--cert", self.pki.server_cert, "--key", self.pki.server_key],
                        cwd=paths.OP_DIR,
                        env={**os.environ, "NODE_EXTRA_CA_CERTS": str(self.pki.ca_cert)})
            try:
                self._wait_or_stop(up, timeout, f"OP discovery at {self.discovery_url}",
                                   interval=0.2, before_stop=self._note_stuck)
                return self
            except Timeout:
                if attempt == attempts:
                    raise

    def _note_stuck(self):
        """Where a node that does not come up is waiting, for the log (Linux /proc)."""
        if not self.running:
            return
        pid = self.proc.pid
        try:
            wchan = Path(f"/proc/{pid}/wchan").read_text()
            state = [ln for ln in Path(f"/proc/{pid}/status").read_text().splitlines()
                     if ln.startswith(("State", "Threads"))]
        except OSError as e:
            wchan, state = f"? ({e})", []
        with open(self.log_path, "a") as log:
            log.write(f"--- not up in time: pid {pid} wchan {wchan} {' '.join(state)}\n")

    def metadata(self) -> dict:
        return self._ok(self.http.get(self.discovery_url, timeout=HTTP_TIMEOUT)).json()

    # --- admin API (tests/op/op.mjs handleAdmin) ---
    def counters(self) -> dict:
        return self._ok(self.http.get(f"{self.url}/admin/counters", timeout=HTTP_TIMEOUT)).json()

    def reset_counters(self):
        self._ok(self.http.post(f"{self.url}/admin/reset-counters", timeout=HTTP_TIMEOUT))

    def settings(self, **changes) -> dict:
        """With no arguments: the current settings. Else apply e.g. access_token_ttl=5."""
        if not changes:
            return self._ok(self.http.get(f"{self.url}/admin/settings", timeout=HTTP_TIMEOUT)).json()
        return self._ok(self.http.post(f"{self.url}/admin/settings", json=changes,
                                       timeout=HTTP_TIMEOUT)).json()

    def reset_settings(self):
        self.settings(access_token_ttl=self.config["access_token_ttl"],
                      id_token_ttl=self.config["id_token_ttl"], token_delay_ms=0,
                      token_delay_after_ms=0, token_down=False)

    def token_log(self) -> list[dict]:
        return self._ok(self.http.get(f"{self.url}/admin/token-log", timeout=HTTP_TIMEOUT)).json()

    def revoke_grants(self, sub: str | None = None) -> int:
        body = {"sub": sub} if sub else {}
        return self._ok(self.http.post(f"{self.url}/admin/revoke-grants", json=body,
                                       timeout=HTTP_TIMEOUT)).json()["revoked"]

    def users(self) -> dict:
        return self._ok(self.http.get(f"{self.url}/admin/users", timeout=HTTP_TIMEOUT)).json()

    def add_user(self, username: str, password: str, sub: str, **claims) -> dict:
        """Adds (or replaces) a test user whose claims may be hostile (POST /admin/users)."""
        return self._ok(self.http.post(f"{self.url}/admin/users", timeout=HTTP_TIMEOUT,
                                       json={"username": username, "password": password,
                                             "sub": sub, "claims": claims})).json()

    def userinfo(self, access_token: str) -> requests.Response:
        """GET /me with the bearer token: 200 while valid, 401 once expired or revoked."""
        return self.http.get(self.userinfo_url, headers={"Authorization": f"Bearer {access_token}"},
                             timeout=HTTP_TIMEOUT)

    @staticmethod
    def _ok(r: requests.Response) -> requests.Response:
        assert r.status_code == 200, f"OP admin call {r.request.method} {r.url} -> {r.status_code}"
        return r


class Backend:
    """The echo backend (tests/backend/echo.py) on a thread in this process."""

    def __init__(self, port: int = 0):
        self.server = EchoServer(port=port)
        self.port = self.server.port
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self):
        self.server.start()
        return self

    def stop(self):
        self.server.stop()

    def records(self) -> list[dict]:
        return self.server.records()

    def last(self) -> dict:
        recs = self.records()
        assert recs, "the backend received no request"
        return recs[-1]

    def clear(self):
        self.server.clear()

    header_values = staticmethod(header_values)
