#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Smoke test of the Debian package on this machine, as root (CI): install
# build-deb/libapache2-mod-rtsession_*.deb with apt-get (dependencies resolved by name), check
# that the maintainer scripts enabled the module and that Debian's configuration passes
# `apache2ctl -t` with it, run a copy of that configuration (own port and run/log dirs) to show
# the enabled, unconfigured module is inert, run the login, version and rtsessionctl integration
# tests against the INSTALLED module and tool, then purge the package and check that nothing of
# it is left.
# Build the package first with scripts/build-deb.sh. The system apache2 service is not started:
# a policy-rc.d refuses service starts while the package is installed and purged (Debian's
# mechanism for that; an existing one is kept), and the script fails if apache2 runs afterwards
# when it did not before.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
pkg=libapache2-mod-rtsession
so=/usr/lib/apache2/modules/mod_rtsession.so
ctl=/usr/sbin/rtsessionctl
ctl_man=/usr/share/man/man8/rtsessionctl.8.gz
avail=/etc/apache2/mods-available
enabled=/etc/apache2/mods-enabled

fail() { echo "test-deb: FAIL: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || fail "run as root (it installs and purges a package)"
arch=$(dpkg-architecture -qDEB_HOST_ARCH 2>/dev/null || dpkg --print-architecture)
debs=("$top/build-deb/${pkg}_"*"_$arch.deb")
[[ -f ${debs[0]} ]] || fail "no build-deb/${pkg}_*_$arch.deb: run scripts/build-deb.sh first"
((${#debs[@]} == 1)) || fail "several packages in build-deb/: ${debs[*]}"
deb=${debs[0]}
if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" && [[ ${CI:-} != true ]]; then
  fail "$pkg is already installed here; this test purges it at the end (set CI=true to go on)"
fi

apache_running() {   # the system service, by its pid file (never by process name)
  local pid
  pid=$(cat /var/run/apache2/apache2.pid 2>/dev/null) || return 1
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null
}
was_running=0
apache_running && was_running=1

work=$(mktemp -d "${TMPDIR:-/tmp}/rts-deb.XXXXXX")
chmod 755 "$work"           # httpd's children (www-data) use the run dir of the inert check
policy=/usr/sbin/policy-rc.d
own_policy=0
copy_pid=""
cleanup() {
  local rc=$?
  if [[ -n $copy_pid ]] && kill -0 "$copy_pid" 2>/dev/null; then kill "$copy_pid" || true; fi
  if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q installed; then
    DEBIAN_FRONTEND=noninteractive apt-get purge -y -q -o DPkg::Lock::Timeout=300 "$pkg" >/dev/null 2>&1 || true
  fi
  ((own_policy)) && rm -f "$policy"
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\n# scripts/test-deb.sh: no service starts while it runs\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  own_policy=1
fi

ls /etc/apache2/mods-enabled >"$work/enabled.before"
echo "== test-deb: apt-get install $(basename "$deb")"
t0=$(date +%s)
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=300 "$deb" \
  >"$work/install.log" 2>&1 || { cat "$work/install.log"; fail "apt-get install"; }
dpkg-query -W -f='${Status} ${Version}\n' "$pkg"
for f in "$so" "$avail/rtsession.load" "$avail/rtsession.conf" "$ctl" "$ctl_man"; do
  [[ -f $f ]] || fail "$f not installed"
done
grep -qx "LoadModule rtsession_module $so" "$avail/rtsession.load" || fail "rtsession.load does not load $so"
# dh_apache2's postinst enables the module on a fresh install (as Debian's module packages do)
[[ -L $enabled/rtsession.load ]] || fail "the postinst did not enable the module"
# ... and nothing else: no module the admin did not ask for (a2enmod follows "# Depends:")
ls /etc/apache2/mods-enabled >"$work/enabled.after"
extra=$(comm -13 "$work/enabled.before" "$work/enabled.after" | grep -vx 'rtsession\.\(load\|conf\)' | tr '\n' ' ' || true)
[[ -z $extra ]] || fail "installing the package also enabled: $extra"
a2enmod -q rtsession                     # what an admin types; a no-op now
apache2ctl -t 2>&1 | tee "$work/configtest.log"
grep -q "Syntax OK" "$work/configtest.log" || fail "apache2ctl -t with the module enabled"
apache2ctl -M 2>/dev/null | grep -q "rtsession_module (shared)" || fail "apache2ctl -M does not list rtsession_module"

echo "== test-deb: Debian's configuration with the module enabled and not configured is inert"
# A copy of /etc/apache2 on a free loopback port with its own pid, run, lock and log dirs.
conf=$work/apache2
cp -a /etc/apache2 "$conf"
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf 'Listen 127.0.0.1:%s\n' "$port" >"$conf/ports.conf"
mkdir -p "$work/run" "$work/lock" "$work/log"
cat >>"$conf/envvars" <<EOF
export APACHE_PID_FILE=$work/run/apache2.pid APACHE_RUN_DIR=$work/run
export APACHE_LOCK_DIR=$work/lock APACHE_LOG_DIR=$work/log
EOF
copy_httpd() {   # apache2 itself, not apache2ctl: under systemd, apache2ctl start asks systemctl
  # shellcheck source=/dev/null
  (export APACHE_CONFDIR=$conf; . "$conf/envvars"; /usr/sbin/apache2 -d "$conf" -k "$1")
}
copy_httpd start || fail "the configuration copy did not start"
for _ in $(seq 50); do [[ -s $work/run/apache2.pid ]] && break; sleep 0.1; done
copy_pid=$(cat "$work/run/apache2.pid" 2>/dev/null) || fail "no pid file from the configuration copy"
for path in / /rtsession/callback /rtsession/logout /rtsession-status; do
  code=$(/usr/bin/python3 - "http://127.0.0.1:$port$path" <<'PY'
import sys, urllib.request, urllib.error
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=10).status)
except urllib.error.HTTPError as e:
    print(e.code)
except Exception:
    print("000")
PY
)
  echo "GET $path -> $code"
  [[ $code != 000 && $code != 5* ]] || fail "GET $path answered $code"
  [[ $path == / || $code == 404 ]] || fail "GET $path answered $code: an unconfigured module must not take it"
done
copy_httpd stop
for _ in $(seq 50); do kill -0 "$copy_pid" 2>/dev/null || break; sleep 0.1; done
! kill -0 "$copy_pid" 2>/dev/null || fail "the configuration copy did not stop"
copy_pid=""
if grep -E '\[(rtsession|core):(emerg|alert|crit|error)\]|RTS[0-9]{5}' "$work/log/error.log" \
   | grep -v RTS10318; then
  fail "the unconfigured module logged errors (above)"
fi

echo "== test-deb: login, version and rtsessionctl tests against $so and $ctl"
rc=0
RTS_MODULE=$so RTS_CTL=$ctl /usr/bin/python3 -m pytest -ra -p no:cacheprovider \
  tests/integration/test_100_login.py tests/integration/test_020_version.py \
  tests/integration/test_850_rtsessionctl.py || rc=$?
((rc == 0)) || fail "integration tests against the installed module (pytest exit $rc)"

echo "== test-deb: apt-get purge $pkg"
DEBIAN_FRONTEND=noninteractive apt-get purge -y -q -o DPkg::Lock::Timeout=300 "$pkg" >"$work/purge.log" 2>&1 \
  || { cat "$work/purge.log"; fail "apt-get purge"; }
for f in "$so" "$ctl" "$ctl_man" "$avail/rtsession.load" "$avail/rtsession.conf" "$enabled/rtsession.load" "$enabled/rtsession.conf"; do
  [[ ! -e $f && ! -L $f ]] || fail "$f is still there after the purge"
done
! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q installed || fail "$pkg still installed"
apache2ctl -t >/dev/null 2>&1 || fail "apache2ctl -t after the purge"
if ((!was_running)) && apache_running; then
  fail "the system apache2 runs now and did not before"
fi
echo "test-deb: ok (install, configtest, inert when unconfigured, login through the installed module, rtsessionctl, purge) in $(( $(date +%s) - t0 )) s"
