#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Demo orchestration for scripts/demo.sh: memcached, the test OP, the echo backend and
httpd with mod_rtsession on fixed loopback ports, daemonized, with pid files and logs in
a run dir (default /tmp/rtsession-demo, env RTS_DEMO_DIR). A second `start` stops what
the first started; `stop` stops everything. After starting, one scripted login prints
the identity headers the backend received."""
import json
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rtstest import paths  # noqa: E402
from rtstest.certs import make_pki  # noqa: E402
from rtstest.client import Browser, login  # noqa: E402
from rtstest.ports import port_open  # noqa: E402
from rtstest.procs import ensure_op_dependencies, node_argv  # noqa: E402
from rtstest.rtsconf import Client, rts_config  # noqa: E402
from rtstest.wait import wait_until  # noqa: E402

RUN = Path(os.environ.get("RTS_DEMO_DIR", "/tmp/rtsession-demo"))
HTTPD_PORT, OP_PORT, MC_PORT, BACKEND_PORT = 8443, 9443, 21211, 8081
SERVICES = ("backend", "op", "memcached")   # started as daemons with pid files here


def pid_file(name):
    return RUN / f"{name}.pid"


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def stop_pid(name, timeout=10):
    f = pid_file(name)
    if not f.exists():
        return
    pid = int(f.read_text().strip() or 0)
    if pid and alive(pid):
        os.kill(pid, signal.SIGTERM)
        try:
            wait_until(lambda: not alive(pid), timeout, what=f"{name} (pid {pid}) to stop")
        except AssertionError:
            os.kill(pid, signal.SIGKILL)
    f.unlink(missing_ok=True)
    print(f"stopped {name}")


def daemon(name, argv, cwd=None):
    log = open(RUN / f"{name}.log", "ab")
    p = subprocess.Popen([str(a) for a in argv], stdout=log, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, cwd=cwd, start_new_session=True)
    pid_file(name).write_text(f"{p.pid}\n")
    return p


def httpd_cmd(*args):
    root = RUN / "httpd"
    return subprocess.run(["/usr/sbin/apache2", "-d", root, "-f", root / "conf" / "httpd.conf", *args],
                          capture_output=True, text=True, timeout=60)


def stop_all():
    root = RUN / "httpd"
    if (root / "logs" / "httpd.pid").exists():
        pid = int((root / "logs" / "httpd.pid").read_text().strip() or 0)
        httpd_cmd("-k", "stop")
        if pid:
            wait_until(lambda: not alive(pid), 20, what="demo httpd to stop")
        print("stopped httpd")
    for name in SERVICES:
        stop_pid(name)


def secrets_file():
    """Secrets survive restarts of the demo, so a browser session stays meaningful."""
    f = RUN / "secrets.json"
    if not f.exists():
        f.write_text(json.dumps({"client_secret": secrets.token_urlsafe(24),
                                 "session_secret": secrets.token_urlsafe(36)}))
        f.chmod(0o600)
    return json.loads(f.read_text())


def start():
    RUN.mkdir(parents=True, exist_ok=True)
    RUN.chmod(0o755)
    stop_all()
    for port in (HTTPD_PORT, OP_PORT, MC_PORT, BACKEND_PORT):
        assert not port_open(port), f"port {port} is in use by something this demo did not start"
    pki = make_pki(RUN / "pki")
    sec = secrets_file()
    client = Client("rts-test", sec["client_secret"], "client_secret_basic")
    httpd_url = f"https://127.0.0.1:{HTTPD_PORT}"
    op_url = f"https://127.0.0.1:{OP_PORT}"

    mc_argv = ["memcached", "-l", "127.0.0.1", "-p", MC_PORT, "-U", "0", "-m", "64"]
    if os.geteuid() == 0:
        mc_argv[1:1] = ["-u", "nobody"]
    daemon("memcached", mc_argv)
    daemon("backend", ["/usr/bin/python3", paths.BACKEND_SCRIPT, "--port", BACKEND_PORT])

    ensure_op_dependencies()
    op_conf = RUN / "op-config.json"
    op_conf.write_text(json.dumps({"port": OP_PORT, "access_token_ttl": 300, "id_token_ttl": 300,
                                   "clients": [{"client_id": client.client_id,
                                                "client_secret": client.secret,
                                                "token_endpoint_auth_method": client.auth_method,
                                                "redirect_uris": [f"{httpd_url}/rtsession/callback"]}]}))
    daemon("op", [*node_argv(), paths.OP_DIR / "op.mjs", op_conf, "--cert", pki.server_cert,
                  "--key", pki.server_key], cwd=paths.OP_DIR)
    for port, name in ((MC_PORT, "memcached"), (BACKEND_PORT, "backend"), (OP_PORT, "op")):
        wait_until(lambda: port_open(port), 30, what=f"{name} on port {port} (see {RUN}/{name}.log)")

    # httpd: the harness's generator, with the server root in the run dir.
    os.environ["RTS_GEN_DIR"] = str(RUN)
    paths.GEN_DIR = RUN
    from rtstest.httpd import Httpd
    h = Httpd("demo", HTTPD_PORT, pki)
    h.root = RUN / "httpd"
    h.conf, h.test_conf = h.root / "conf" / "httpd.conf", h.root / "conf" / "test.conf"
    h.pid_file = h.root / "logs" / "httpd.pid"
    h.install(rts_config(op_url=op_url, memcached=f"--SERVER=127.0.0.1:{MC_PORT}",
                         ca_file=pki.ca_cert, client=client, session_secret=sec["session_secret"],
                         backend_url=f"http://127.0.0.1:{BACKEND_PORT}"))
    h.start()

    print(f"""
mod_rtsession demo is running (run dir {RUN}: pid files and logs)
  open:         {httpd_url}/app/   (trust {pki.ca_cert}, or accept the warning)
  log in as:    alice / wonderland   or   bob / builder
  OP:           {op_url}  (admin: {op_url}/admin/counters)
  backend:      http://127.0.0.1:{BACKEND_PORT}/__records
  httpd log:    {h.root}/logs/error_log
  stop:         scripts/demo.sh stop
""")
    try:
        scripted_login(httpd_url, pki)
    except (AssertionError, OSError) as e:
        sys.exit(f"scripted login failed: {e}\n(the demo stays up; see {h.root}/logs/error_log)")


def scripted_login(httpd_url, pki):
    with Browser(pki.ca_cert) as b:
        res = login(b, f"{httpd_url}/app/hello?from=demo")
        body = res.final.json()
    print(f"scripted login as alice: {res.final.status_code} at {body['path']}")
    print("identity headers the backend received:")
    for name in ("x-remote-user", "x-remote-email", "x-remote-name"):
        print(f"  {name}: {body['headers'].get(name)}")
    print(f"  x-access-token: {'present' if 'x-access-token' in body['headers'] else 'absent'}")


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else "start"
    if cmd == "start":
        start()
    elif cmd == "stop":
        stop_all()
    else:
        sys.exit("usage: demo.py [start|stop]")


if __name__ == "__main__":
    main()
