# SPDX-License-Identifier: Apache-2.0
"""SetHandler rtsession-status: the module's counters in the Prometheus text format, summed
across every process of the server (shared memory made at startup), moving with logins,
failed logins and refreshes, and never showing token or user data."""
import re
import time

import pytest
import requests

from rtstest.client import Browser, login, start_login

STATUS_PATH = "/rts-status"
PID_LOG = "pid_log"
CONTENT_TYPE = "text/plain; version=0.0.4"

STATUS_CONF = f"""
<Location {STATUS_PATH}>
  SetHandler rtsession-status
  Require all granted
</Location>
# which child served what: proves the counters are summed across processes
CustomLog logs/{PID_LOG} "%P %U %>s"
"""

# Children live for a few connections only, and every request of this test is a connection of
# its own: logins, refreshes and status reads are served by many short-lived processes (under
# any MPM), whose counts must all add up in the shared memory.
RECYCLE_CONF = STATUS_CONF + "MaxConnectionsPerChild 3\n"

COUNTERS = [
    "rtsession_logins_started_total", "rtsession_logins_completed_total",
    "rtsession_logins_failed_total", "rtsession_refreshes_started_total",
    "rtsession_refreshes_succeeded_total", "rtsession_refreshes_failed_total",
    "rtsession_refresh_intent_waits_total", "rtsession_refresh_intent_wait_seconds_total",
    "rtsession_invalid_grant_total", "rtsession_sessions_ended_by_reuse_total",
    "rtsession_backchannel_logouts_total", "rtsession_memcached_errors_total",
    "rtsession_provider_errors_total", "rtsession_memcached_failed_fast_total",
    # issue 11 items 1-3, 10: each kind of refresh ending counted for what it is
    "rtsession_sessions_ended_refused_total", "rtsession_sessions_ended_lost_refresh_total",
    "rtsession_refresh_backoff_total", "rtsession_token_client_auth_failures_total",
    # issue 11 item 7
    "rtsession_backchannel_index_overflow_total", "rtsession_backchannel_late_logins_refused_total",
    "rtsession_backchannel_ended_at_check_total", "rtsession_backchannel_index_restored_total",
]
HISTOGRAMS = ["rtsession_token_request_duration_seconds",
              "rtsession_memcached_request_duration_seconds"]

SAMPLE_RE = re.compile(r'^(?P<name>[a-z_]+)(?:\{(?P<labels>[a-z_]+="[^"\\\n]*"'
                       r'(?:,[a-z_]+="[^"\\\n]*")*)\})? (?P<value>[0-9]+(?:\.[0-9]+)?)$')
COMMENT_RE = re.compile(r"^# (?P<kind>HELP|TYPE) (?P<name>[a-z_]+) (?P<text>.+)$")


def parse(text: str) -> tuple[dict, dict]:
    """Strict parse of the exposition: ({(name, labels): value}, {family: type}).
    Fails on any line that is not a HELP, TYPE or sample line."""
    samples, types, helps = {}, {}, set()
    assert text.endswith("\n"), "the exposition must end with a newline"
    for line in text.splitlines():
        m = COMMENT_RE.match(line)
        if m:
            if m.group("kind") == "TYPE":
                assert m.group("text") in ("counter", "histogram"), line
                assert m.group("name") not in types, f"TYPE twice: {line}"
                types[m.group("name")] = m.group("text")
            else:
                assert m.group("name") not in helps, f"HELP twice: {line}"
                helps.add(m.group("name"))
            continue
        m = SAMPLE_RE.match(line)
        assert m, f"not a Prometheus sample line: {line!r}"
        name = m.group("name")
        family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in types else name
        assert family in types, f"sample before its TYPE line: {line!r}"
        key = (name, m.group("labels") or "")
        assert key not in samples, f"duplicate sample {key}"
        samples[key] = float(m.group("value"))
    assert set(types) == helps, "every family needs HELP and TYPE"
    return samples, types


def fetch_status(h, pki) -> requests.Response:
    """A status read over a new connection (so it may land on any child)."""
    with requests.Session() as s:
        s.trust_env = False
        return s.get(h.url + STATUS_PATH, verify=str(pki.ca_cert), timeout=10,
                     headers={"Connection": "close"})


def status(h, pki) -> dict:
    r = fetch_status(h, pki)
    assert r.status_code == 200, f"status page: HTTP {r.status_code}"
    return parse(r.text)[0]


def total(samples: dict, name: str) -> float:
    """Sum of a family's samples over all label sets."""
    return sum(v for (n, _), v in samples.items() if n == name)


def value(samples: dict, name: str, labels: str = "") -> float:
    return samples[(name, labels)]


def pids_serving(h, path_prefix: str) -> set:
    log = h.root / "logs" / PID_LOG
    pids = set()
    for line in log.read_text().splitlines() if log.exists() else []:
        pid, path, _ = line.split(" ", 2)
        if path.startswith(path_prefix):
            pids.add(pid)
    return pids


def test_status_format(httpd_for, make_config, pki):
    h = httpd_for("main", make_config(server_extra=STATUS_CONF))
    r = fetch_status(h, pki)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith(CONTENT_TYPE)
    assert r.headers.get("Cache-Control") == "no-store"
    samples, types = parse(r.text)
    for c in COUNTERS:
        assert types.get(c) == "counter", f"{c} missing or not a counter"
    for hist in HISTOGRAMS:
        assert types.get(hist) == "histogram", f"{hist} missing or not a histogram"
        buckets = [(k[1], v) for k, v in samples.items() if k[0] == hist + "_bucket"]
        assert buckets[-1][0] == 'le="+Inf"'
        values = [v for _, v in buckets]
        assert values == sorted(values), f"{hist} buckets are not cumulative"
        assert values[-1] == value(samples, hist + "_count")
    assert set(types) == set(COUNTERS + HISTOGRAMS), "unexpected metric families"
    causes = {k[1] for k in samples if k[0] == "rtsession_logins_failed_total"}
    assert 'cause="invalid_state"' in causes and 'cause="store_unavailable"' in causes
    # only GET
    with requests.Session() as s:
        s.trust_env = False
        r = s.post(h.url + STATUS_PATH, verify=str(pki.ca_cert), timeout=10)
    assert r.status_code == 405


@pytest.mark.mpm
def test_status_counts_summed_across_processes(httpd_for, make_config, op, pki,
                                               used_browsers):
    """Logins, a failed login and refreshes made over separate connections, served by several
    (short-lived) children, all show up in the status page, read from any child."""
    # refresh due 2 s after login: the window is at most half the token's lifetime
    op.settings(access_token_ttl=4)
    h = httpd_for("main", make_config(server_extra=RECYCLE_CONF, refresh_window=2))
    log = h.root / "logs" / PID_LOG
    if log.exists():
        log.write_text("")                # only this test's requests
    before = status(h, pki)
    op.reset_counters()

    browsers = []
    last_login = 0.0
    # New browsers (connections) until logins were served by two children, bounded.
    while len(browsers) < 4 or (len(pids_serving(h, "/rtsession/callback")) < 2
                                and len(browsers) < 16):
        b = Browser(pki.ca_cert)
        b.headers["Connection"] = "close"
        used_browsers.append(b)
        login(b, f"{h.url}/app/")
        browsers.append(b)
        last_login = time.time()
    n = len(browsers)
    assert len(pids_serving(h, "/rtsession/callback")) >= 2, \
        f"{n} logins over new connections were all served by one child"

    # a login response whose state is not this browser's
    b = Browser(pki.ca_cert)
    b.headers["Connection"] = "close"
    used_browsers.append(b)
    _, params = start_login(b, f"{h.url}/app/")
    r = b.get(f"{h.url}/rtsession/callback?code=x&state=not-{params['state'][:8]}")
    assert r.status_code == 400

    after_login = status(h, pki)
    d = {name: total(after_login, name) - total(before, name)
         for name in ("rtsession_logins_started_total", "rtsession_logins_completed_total",
                      "rtsession_token_request_duration_seconds_count",
                      "rtsession_memcached_request_duration_seconds_count")}
    assert d["rtsession_logins_started_total"] == n + 1
    assert d["rtsession_logins_completed_total"] == n
    failed = 'cause="invalid_state"'
    assert value(after_login, "rtsession_logins_failed_total", failed) \
        - value(before, "rtsession_logins_failed_total", failed) == 1
    assert d["rtsession_token_request_duration_seconds_count"] == n
    assert d["rtsession_memcached_request_duration_seconds_count"] >= 3 * n

    # every browser's access token is now due: one refresh each
    time.sleep(max(0.0, last_login + 2.3 - time.time()))
    for b in browsers:
        r = b.get(f"{h.url}/app/after")
        assert r.status_code == 200
    assert op.counters()["refresh_grants"] == n
    after_refresh = status(h, pki)
    assert total(after_refresh, "rtsession_refreshes_started_total") \
        - total(before, "rtsession_refreshes_started_total") == n
    assert total(after_refresh, "rtsession_refreshes_succeeded_total") \
        - total(before, "rtsession_refreshes_succeeded_total") == n
    assert total(after_refresh, "rtsession_refreshes_failed_total") \
        == total(before, "rtsession_refreshes_failed_total")
    assert total(after_refresh, "rtsession_token_request_duration_seconds_count") \
        - total(before, "rtsession_token_request_duration_seconds_count") == 2 * n
    assert total(after_refresh, "rtsession_memcached_errors_total") \
        == total(before, "rtsession_memcached_errors_total")

    # Every child shows the same sums: read the page over new connections until two
    # children answered (bounded), comparing what each saw.
    seen = []
    for _ in range(30):
        seen.append(status(h, pki))
        if len(pids_serving(h, STATUS_PATH)) >= 3:   # the earlier reads count too
            break
    assert len(pids_serving(h, STATUS_PATH)) >= 2, "status was always served by one child"
    for s in seen:
        assert total(s, "rtsession_logins_completed_total") \
            == total(after_refresh, "rtsession_logins_completed_total")
        assert total(s, "rtsession_refreshes_succeeded_total") \
            == total(after_refresh, "rtsession_refreshes_succeeded_total")
    assert "alice" not in fetch_status(h, pki).text


def test_status_survives_graceful_restart(httpd_for, make_config, pki, used_browsers):
    h = httpd_for("main", make_config(server_extra=STATUS_CONF))
    b = Browser(pki.ca_cert)
    used_browsers.append(b)
    start_login(b, f"{h.url}/app/")
    before = total(status(h, pki), "rtsession_logins_started_total")
    assert before >= 1
    h.graceful()
    assert total(status(h, pki), "rtsession_logins_started_total") >= before

