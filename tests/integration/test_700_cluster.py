# SPDX-License-Identifier: Apache-2.0
"""The cluster: three memcached servers (consistent hashing), two httpd instances with the same
configuration. Sessions created through one work through the other; a memcached server dying
under load costs only its own sessions (503 + Retry-After, failed fast, while it is away; no
key moves), logins meanwhile land on the other servers and stay there; a restarted server
needs no httpd restart; `apachectl graceful` under load fails no request and loses no session.
libmemcached replicas are refused; the binary protocol they would need behaves like the text
protocol, including a refresh after a server was killed."""
import threading
import time
from collections import Counter

import pytest
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from rtstest.client import Browser, login
from rtstest.ports import free_ports
from rtstest.procs import Memcached
from rtstest.sessions import SessionReader
from rtstest.storm import XHR_HEADERS, Storm

COOKIE = "__Host-rtsession"
N_USERS = 12          # enough sessions that the servers share them
# A server that fails (refused or timed out) is failed fast by a per-process circuit breaker
# (core/rts_store_memcached.c): its sessions get 503 + Retry-After at once, no key moves to
# another server. A request racing with the death may still see 200.
LOAD_AFTER_KILL = 6.0
REJOIN = 3.0          # the breaker probes once per second per child
SETTLED = 3.0         # the last seconds of load: the dead server's users must only see 503


@pytest.fixture
def cluster(gen_dir):
    mcs = [Memcached(p, gen_dir / f"memcached-cluster-{i}.log")
           for i, p in enumerate(free_ports(3))]
    try:
        for mc in mcs:
            mc.start()
        yield mcs
    finally:
        for mc in mcs:
            mc.stop()


def cluster_conf(cluster, make_config, **kw) -> str:
    return make_config(memcached=" ".join(mc.server_arg for mc in cluster), **kw)


@pytest.fixture
def cluster_httpds(cluster, httpd_for, make_config):
    conf = cluster_conf(cluster, make_config)
    return httpd_for("main", conf), httpd_for("second", conf)


def cookie_of(browser) -> str:
    return browser.cookies.get(COOKIE, domain="127.0.0.1")


def server_of(cluster, session_secret, cookie) -> int:
    """Index of the memcached server holding this session (asked directly)."""
    holders = []
    for i, mc in enumerate(cluster):
        reader = SessionReader(session_secret, mc.port)
        if mc.running and reader.raw(reader.store_key(cookie)) is not None:
            holders.append(i)
    assert len(holders) == 1, f"session held by servers {holders}"
    return holders[0]


def xhr(pki, url, cookie, timeout=10):
    with requests.Session() as s:
        s.verify = str(pki.ca_cert)
        s.trust_env = False
        return s.get(url, headers={**XHR_HEADERS, "Cookie": f"{COOKIE}={cookie}"},
                     timeout=timeout, allow_redirects=False)


class Load:
    """Background XHR load: each thread loops over its cookies and both httpd instances,
    recording (time, user index, status). A request that got no answer (connection closed or
    reset, timeout) is recorded in errors, never hidden: a child that crashes mid-request looks
    exactly like that to the client. It is then sent once more on a new connection, as
    browsers do for a GET on a kept-alive connection the server closed (RFC 9112 section
    9.3.1), and the retry's status is recorded; a retry that fails too is status 0."""

    def __init__(self, pki, urls, cookies, threads=4, pause=0.005):
        self.urls, self.cookies, self.pause = urls, cookies, pause
        self.results: list[tuple[float, int, int]] = []
        self.errors: list[str] = []
        self.nthreads = threads
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()
        self.threads = []
        for t in range(threads):
            s = requests.Session()
            s.verify = str(pki.ca_cert)
            s.trust_env = False
            # no transparent retry by urllib3: every failure goes through _run
            s.mount("https://", HTTPAdapter(max_retries=Retry(total=0, read=False, status=0,
                                                              redirect=0, raise_on_status=False)))
            s.headers.update(XHR_HEADERS)
            self.threads.append(threading.Thread(target=self._run, args=(t, threads, s)))

    def _get(self, s, url, user) -> int:
        try:
            return s.get(url, headers={"Cookie": f"{COOKIE}={self.cookies[user]}"},
                         timeout=15, allow_redirects=False).status_code
        except Exception as e:   # noqa: BLE001 - a connection failure counts as a failed request
            with self.lock:
                self.errors.append(f"{time.time():.3f} {url}: {repr(e)[:200]}")
            return 0

    def _run(self, t, nthreads, s):
        i = t
        while not self.stop_flag.is_set():
            user = i % len(self.cookies)
            url = self.urls[(i // len(self.cookies)) % len(self.urls)] + f"/app/load/{user}"
            status = self._get(s, url, user)
            if status == 0:
                s.close()   # the next attempt opens a new connection
                status = self._get(s, url, user)
            with self.lock:
                self.results.append((time.time(), user, status))
            i += nthreads
            time.sleep(self.pause)
        s.close()

    def __enter__(self):
        for th in self.threads:
            th.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        for th in self.threads:
            th.join(timeout=30)

    def snapshot(self):
        with self.lock:
            return list(self.results)


def login_users(pki, url, n):
    cookies = []
    for i in range(n):
        with Browser(pki.ca_cert) as b:
            login(b, f"{url}/app/login/{i}", user="alice" if i % 2 == 0 else "bob")
            cookies.append(cookie_of(b))
    return cookies


def kill_under_load(pki, urls, cookies, victim, lost):
    """Kills the memcached server victim while a Load runs over cookies (lost: the indexes of
    the users whose sessions it holds) and checks the failover: all 200 before the kill; after
    it, not one failure for the other users; for the lost ones 503 (failed fast, the session
    kept for when the server returns), never a 401 (no key moved, nothing looks logged out)."""
    with Load(pki, urls, cookies) as load:
        time.sleep(1.0)
        killed_at = time.time()
        victim.proc.kill()
        victim.proc.wait(timeout=10)
        time.sleep(LOAD_AFTER_KILL)
    results = load.snapshot()
    # a memcached server's death must not cost an HTTP connection: no request unanswered
    assert not load.errors, f"requests without an answer: {len(load.errors)} {load.errors[:3]}"
    before = [r for r in results if r[0] < killed_at]
    after = [r for r in results if r[0] >= killed_at]
    assert before and after and {s for _, _, s in before} == {200}
    kept_statuses = Counter(s for _, u, s in after if u not in lost)
    assert set(kept_statuses) == {200}, \
        f"other servers' sessions failed: {kept_statuses} {load.errors[:3]}"
    settled = killed_at + LOAD_AFTER_KILL - SETTLED
    lost_late = Counter(s for t, u, s in after if u in lost and t > settled)
    assert lost_late and set(lost_late) == {503}, \
        f"dead server's sessions in the last {SETTLED} s: {lost_late} (want only 503) " \
        f"{load.errors[:3]}"
    lost_any = Counter(s for _, u, s in after if u in lost)
    assert set(lost_any) <= {200, 503}, f"dead server's sessions: {lost_any} {load.errors[:3]}"


@pytest.mark.mpm
def test_cluster_failover_and_restart(cluster, cluster_httpds, pki, session_secret, log_expect):
    """Sessions are spread over the three servers and work through both httpd instances.
    Killing one server under load: the others' sessions keep working without a single
    failure; the dead server's users get 503 (failed fast), never a 5xx loop nor a 401; new
    logins meanwhile land on the other servers. Restarting the server (empty) needs no httpd
    restart: its old users get 401 (a clean new login), the sessions created during the outage
    are still there (nothing moved), and new sessions land on it again."""
    log_expect.extend(["RTS10004", "RTS10600", "RTS10601", "RTS10001"])
    h1, h2 = cluster_httpds
    cookies = login_users(pki, h1.url, N_USERS)
    placement = [server_of(cluster, session_secret, c) for c in cookies]
    # 12 sessions on 3 servers: all on one server has a chance of 3^-11
    assert len(set(placement)) >= 2, f"sessions not spread over the servers: {Counter(placement)}"
    for c in cookies:   # created through h1, used through h2
        assert xhr(pki, f"{h2.url}/app/other", c).status_code == 200

    victim = Counter(placement).most_common(1)[0][0]
    lost = {u for u, s in enumerate(placement) if s == victim}
    kept = set(range(N_USERS)) - lost
    kill_under_load(pki, [h1.url, h2.url], cookies, cluster[victim], lost)

    # users log in again at once, through either instance, while the server is down: their
    # new sessions are placed on the live servers
    relog = login_users(pki, h2.url, 6)
    for c in relog:
        assert xhr(pki, f"{h1.url}/app/relogged", c).status_code == 200
        assert server_of(cluster, session_secret, c) != victim

    # restart the server on its port (empty): no httpd restart
    cluster[victim].start()
    time.sleep(REJOIN)
    for u in lost:      # their records died with the process: a clean new login
        assert xhr(pki, f"{h2.url}/app/gone", cookies[u]).status_code == 401
    for c in relog:     # created during the outage, not moved: still there
        assert xhr(pki, f"{h1.url}/app/kept", c).status_code == 200
    deadline = time.time() + 20
    landed = False
    while not landed and time.time() < deadline:
        fresh = login_users(pki, h1.url, 3)
        landed = any(server_of(cluster, session_secret, c) == victim for c in fresh)
        for c in fresh:
            assert xhr(pki, f"{h2.url}/app/fresh", c).status_code == 200
    assert landed, "the restarted memcached server never received a session"
    for u in kept:
        assert xhr(pki, f"{h2.url}/app/still", cookies[u]).status_code == 200


def test_cluster_dead_server_costs_one_login(cluster, httpd_for, make_config, pki,
                                             session_secret, log_expect):
    """A server that stays down past RTSessionMemcachedDeadAfter is taken as dead: within the
    grace its users get 503 (it may come back with their sessions); after it, an XHR gets 401
    and a navigation is sent to log in (RTS10005), never a 503 for ever; the new session lands
    on a live server and works through both instances."""
    # RTS10010: a login in a child that has not yet met the dead server may try it once
    log_expect.extend(["RTS10004", "RTS10600", "RTS10010"])
    conf = cluster_conf(cluster, make_config, server_extra="RTSessionMemcachedDeadAfter 2\n")
    h1, h2 = httpd_for("main", conf), httpd_for("second", conf)
    cookies = login_users(pki, h1.url, 6)
    placement = [server_of(cluster, session_secret, c) for c in cookies]
    victim = Counter(placement).most_common(1)[0][0]
    lost = [c for c, s in zip(cookies, placement) if s == victim]
    cluster[victim].proc.kill()
    cluster[victim].proc.wait(timeout=10)
    # within the grace: failed fast, 503 + Retry-After (a request racing the death may fail
    # with 503 after the refused connection: the same answer)
    r = xhr(pki, f"{h1.url}/app/during", lost[0])
    assert r.status_code == 503 and r.headers.get("Retry-After"), r.status_code
    time.sleep(2.5)

    def navigate(cookie):
        with Browser(pki.ca_cert) as b:
            b.cookies.set(COOKIE, cookie, domain="127.0.0.1")
            r = b.get(f"{h1.url}/app/nav", allow_redirects=False)
            return r.status_code if r.status_code != 302 else r.headers["Location"]

    # every child counts the grace from its own first failure (a child that had no request
    # for that server meanwhile starts it later): poll until every one has passed it
    deadline = time.time() + 12
    statuses = navs = []
    while time.time() < deadline:
        statuses = [xhr(pki, f"{h1.url}/app/after", c).status_code for c in lost * 3]
        navs = [navigate(c) for c in lost * 2]
        assert set(statuses) <= {401, 503}, statuses
        assert all(n == 503 or (isinstance(n, str) and "/auth" in n) for n in navs), navs
        if set(statuses) == {401} and 503 not in navs:
            break
        time.sleep(0.5)
    assert set(statuses) == {401} and 503 not in navs, f"after the grace: {statuses} {navs}"
    relog = []
    for i in range(3):
        for attempt in range(4):
            # a child that has not yet met the dead server may have placed the login's
            # single-use marker there: that login answers 503 once, the next one goes on
            try:
                relog += login_users(pki, h2.url, 1)
                break
            except AssertionError as e:
                assert "got 503" in str(e) and attempt < 3, e
    for c in relog:
        assert server_of(cluster, session_secret, c) != victim
        assert xhr(pki, f"{h1.url}/app/relogged", c).status_code == 200
    assert "RTS10005" in (h1.root / "logs" / "error_log").read_text()


@pytest.mark.mpm
def test_cluster_graceful_under_load(cluster, cluster_httpds, pki, session_secret):
    """apachectl graceful on both instances while requests flow: no request fails and no
    session is lost."""
    h1, h2 = cluster_httpds
    cookies = login_users(pki, h1.url, 6)
    with Load(pki, [h1.url, h2.url], cookies) as load:
        time.sleep(0.5)
        h1.graceful()
        time.sleep(0.5)
        h2.graceful()
        time.sleep(0.5)
        h1.graceful()
        time.sleep(0.5)
    statuses = Counter(s for _, _, s in load.snapshot())
    assert statuses and set(statuses) == {200}, f"statuses under graceful: {statuses} {load.errors}"
    # A graceful restart closes each idle kept-alive connection once, so a thread's request
    # may meet a closed connection once per restart (retried above, answered 200); more than
    # that is not the graceful (a crashing child is caught by the error-log check too).
    assert len(load.errors) <= load.nthreads * 3, \
        f"{len(load.errors)} requests without an answer under 3 graceful restarts: {load.errors[:5]}"
    assert statuses[200] > 50, f"too little load to mean anything: {statuses}"
    for c in cookies:
        assert xhr(pki, f"{h2.url}/app/after", c).status_code == 200
        server_of(cluster, session_secret, c)   # still stored exactly once


def test_cluster_storm_one_refresh(cluster, httpd_for, make_config, op, pki, session_secret):
    """The refresh storm on the cluster: 60 concurrent requests of an expired session over
    both instances, two expiries: one refresh grant each, all 200."""
    from rtstest.storm import Storm
    conf = cluster_conf(cluster, make_config, refresh_window=0)   # due only once expired
    h1, h2 = httpd_for("main", conf), httpd_for("second", conf)
    op.settings(access_token_ttl=3)
    with Browser(pki.ca_cert) as b:
        login(b, f"{h1.url}/app/")
        cookie = cookie_of(b)
    home = cluster[server_of(cluster, session_secret, cookie)]
    reader = SessionReader(session_secret, home.port)
    storm = Storm(pki.ca_cert, [h1.url, h2.url], COOKIE, cookie, n=60)
    try:
        assert {s.status for s in storm.warm()} == {200}
        for rnd in range(2):
            record = reader.read(cookie)
            delay = record["ae"] / 1000 - time.time() + 0.05
            if delay > 0:
                time.sleep(delay)
            op.reset_counters()
            shots = storm.fire()
            statuses = Counter(s.status for s in shots)
            assert set(statuses) == {200}, f"round {rnd}: {statuses}"
            counters = op.counters()
            assert counters["refresh_grants"] == 1, f"round {rnd}: {counters['refresh_grants']} grants"
            assert counters["invalid_grant"] == 0 and counters["grants_revoked"] == 0
            assert reader.read(cookie)["g"] == record["g"] + 1
    finally:
        storm.close()


# --- replicas, and the binary protocol they would need (docs/deployment.md, "What `add` and CAS
# guarantee; replicas are refused") ---

REPLICAS = "--BINARY-PROTOCOL --NUMBER-OF-REPLICAS=1"
ACCESS_TTL = 30       # s; the survivors' tokens must still be valid until the failover is over
STORM_PER_SESSION = 6


def test_cluster_replicas_refused(cluster, httpd_for, make_config):
    """--NUMBER-OF-REPLICAS is refused at configuration time: libmemcached copies only `set`
    to replicas (the store writes with add and cas) and its replicated delete desynchronises
    connections (measured: 7 and 8 of 12 logins failed, gets answered with another key's
    record). The binary protocol alone is accepted."""
    h = httpd_for("second", cluster_conf(cluster, make_config))
    original = h.test_conf.read_text()
    try:
        for extra in (REPLICAS, "--NUMBER-OF-REPLICAS=2"):
            h.install(make_config(memcached=" ".join(mc.server_arg for mc in cluster)
                                  + " " + extra))
            r = h.configtest()
            assert r.returncode != 0, f"{extra}: configtest passed"
            assert "--NUMBER-OF-REPLICAS is not supported" in r.stdout + r.stderr
        h.install(make_config(memcached=" ".join(mc.server_arg for mc in cluster)
                              + " --BINARY-PROTOCOL --NUMBER-OF-REPLICAS=0"))
        r = h.configtest()
        assert r.returncode == 0, r.stdout + r.stderr
    finally:
        h.install(original)


def binary_conf(cluster, make_config) -> str:
    return make_config(memcached=" ".join(mc.server_arg for mc in cluster) + " --BINARY-PROTOCOL",
                       refresh_window=0,   # a refresh is due only once the token has expired
                       server_extra="RTSessionLogoutPath /rtsession/logout\n"
                                    "RTSessionLogoutAtProvider off")


def test_cluster_binary_protocol_failover_and_refresh(cluster, httpd_for, make_config, op, pki,
                                                      session_secret, log_expect):
    """The binary protocol (the one replication would need) runs the whole flow across both
    instances: login, hot path, logout (the record is gone from every server). Killing a
    server under load behaves as with the text protocol: its sessions are failed fast (503,
    never a 5xx loop), the others keep working without a single failure. Then the survivors' tokens
    expire and a storm over both instances refreshes each exactly once (CAS on the surviving
    servers; no invalid_grant, nothing revoked)."""
    log_expect.extend(["RTS10004", "RTS10600"])    # the store errors of the failover window
    conf = binary_conf(cluster, make_config)
    h1, h2 = httpd_for("main", conf), httpd_for("second", conf)
    op.settings(access_token_ttl=ACCESS_TTL)

    # logout through the other instance: the record leaves every server
    with Browser(pki.ca_cert) as b:
        login(b, f"{h1.url}/app/leaving")
        leaving = cookie_of(b)
        server_of(cluster, session_secret, leaving)
        r = b.get(f"{h2.url}/rtsession/logout", headers={"Sec-Fetch-Site": "same-origin"})
        assert r.status_code == 302
    readers = [SessionReader(session_secret, mc.port) for mc in cluster]
    assert not [i for i, rd in enumerate(readers) if rd.raw(rd.store_key(leaving)) is not None]
    assert xhr(pki, f"{h1.url}/app/after-logout", leaving).status_code == 401

    first_login = time.time()
    cookies = login_users(pki, h1.url, N_USERS)
    last_login = time.time()
    placement = [server_of(cluster, session_secret, c) for c in cookies]
    assert len(set(placement)) >= 2, f"sessions not spread over the servers: {Counter(placement)}"
    generations = {}
    for u, c in enumerate(cookies):
        assert xhr(pki, f"{h2.url}/app/other", c).status_code == 200
        generations[u] = SessionReader(session_secret, cluster[placement[u]].port).read(c)["g"]

    victim = Counter(placement).most_common(1)[0][0]
    lost = {u for u, s in enumerate(placement) if s == victim}
    kept = sorted(set(range(N_USERS)) - lost)
    kill_under_load(pki, [h1.url, h2.url], cookies, cluster[victim], lost)
    failover_done = time.time()
    # no refresh may have been due yet, or the storm below would find nothing to refresh
    assert failover_done < first_login + ACCESS_TTL - 1, \
        f"failover phase too slow for the {ACCESS_TTL} s tokens"

    # the survivors' access tokens expire: one refresh grant each, through both instances
    time.sleep(max(0.0, last_login + ACCESS_TTL + 0.5 - time.time()))
    op.reset_counters()
    for u in kept:
        storm = Storm(pki.ca_cert, [h1.url, h2.url], COOKIE, cookies[u], n=STORM_PER_SESSION)
        try:
            shots = storm.fire()
        finally:
            storm.close()
        statuses = Counter(s.status for s in shots)
        assert set(statuses) == {200}, f"user {u} after the kill: {statuses}"
        tokens = {s.access_token for s in shots}
        assert len(tokens) == 1 and None not in tokens, f"user {u}: not one access token"
        record = SessionReader(session_secret, cluster[placement[u]].port).read(cookies[u])
        assert record is not None and record["g"] == generations[u] + 1, f"user {u}"
    counters = op.counters()
    assert counters["refresh_grants"] == len(kept), \
        f"{counters['refresh_grants']} refresh grants for {len(kept)} sessions"
    assert counters["invalid_grant"] == 0 and counters["grants_revoked"] == 0
