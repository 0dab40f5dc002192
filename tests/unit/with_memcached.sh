#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# make check's wrapper for the unit runner: starts a memcached on a free loopback port for the
# live store tests (test_rts_store.c) and sets RTS_TEST_MEMCACHED, and one started with -C for
# RTS_TEST_MEMCACHED_NOCAS, unless RTS_TEST_MEMCACHED is already set.
# Without memcached the live tests skip, except in CI (CI=true), where that is a failure.
set -u
if [ -n "${RTS_TEST_MEMCACHED:-}" ]; then
    exec "$@"
fi
mc=$(command -v memcached || true)
[ -z "$mc" ] && [ -x /usr/bin/memcached ] && mc=/usr/bin/memcached
if [ -z "$mc" ]; then
    echo "with_memcached: memcached not found (Debian: memcached): live store tests skipped" \
         "(a failure when CI=true)" >&2
    exec "$@"
fi
user=
[ "$(id -u)" -eq 0 ] && user="-u nobody"
pids=
# shellcheck disable=SC2317  # called by the trap
stop_all() { for p in $pids; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap stop_all EXIT INT TERM

# start_mc EXTRA_FLAGS: one memcached on a free loopback port; sets $port or exits 99
start_mc() {
    for _ in 1 2 3 4 5; do
        port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        # shellcheck disable=SC2086
        "$mc" -l 127.0.0.1 -p "$port" -U 0 -m 16 $user $1 &
        pid=$!
        i=0
        while [ $i -lt 50 ]; do
            if ! kill -0 "$pid" 2>/dev/null; then pid=; break; fi   # port taken meanwhile: retry
            if /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null; then
                pids="$pids $pid"
                echo "with_memcached: memcached $1 pid $pid on 127.0.0.1:$port" >&2
                return 0
            fi
            sleep 0.1
            i=$((i + 1))
        done
        [ -n "$pid" ] && kill "$pid" 2>/dev/null
    done
    echo "with_memcached: could not start memcached on loopback" >&2
    exit 99   # automake: hard error
}

start_mc ""
live=127.0.0.1:$port
start_mc "-C"    # CAS disabled: the store must refuse to work (test_store_live_cas_disabled_refused)
nocas=127.0.0.1:$port
RTS_TEST_MEMCACHED=$live RTS_TEST_MEMCACHED_NOCAS=$nocas "$@"
rc=$?
exit $rc
