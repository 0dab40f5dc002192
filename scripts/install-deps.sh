#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Install everything the build, the unit tests and the integration tests need, on a fresh
# Debian 12, as root. Idempotent: apt only runs for what is missing, npm ci only when
# tests/op/node_modules is older than the lock file.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(build-essential autoconf automake libtool autoconf-archive pkg-config
      apache2 apache2-dev libapr1-dev libaprutil1-dev libcurl4-openssl-dev libssl-dev
      libjansson-dev libmemcached-dev libmemcached-tools memcached check valgrind clang
      python3-pytest python3-requests python3-cryptography wrk apache2-utils
      glewlwyd)   # an independently written OpenID Provider (test_330_independent_op.py)
# An existing node/npm (e.g. Node 20 from elsewhere) is kept; Debian's only if none.
command -v node >/dev/null 2>&1 || PKGS+=(nodejs)
command -v npm >/dev/null 2>&1 || PKGS+=(npm)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps: missing packages (${missing[*]}); run as root" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  # Update the lists only when they are absent or older than a day.
  if [[ -z $(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -n1) ]]; then
    apt-get update -q
  fi
  echo "install-deps: installing ${missing[*]}"
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The browser tests (tests/browser, test_900_browser.py) use Debian's chromium; on a developer's
# machine they skip, saying so, where it cannot be installed; in CI (CI=true) both are failures.
if [[ ! -x /usr/bin/chromium && $(id -u) -eq 0 ]]; then
  echo "install-deps: installing chromium"
  if [[ -z $(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -n1) ]]; then
    apt-get update -q || true
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium \
    || { echo "install-deps: chromium could not be installed; the browser tests will skip" \
              "(CI=true: fail)" >&2; [[ ${CI:-} != true ]] || exit 1; }
fi
if [[ ${CI:-} == true && ! -x /usr/bin/chromium ]]; then
  echo "install-deps: CI=true and /usr/bin/chromium missing: the browser test cannot run" >&2
  exit 1
fi

# apt starts the services on install: the tests start their own on free ports, so stop
# these and keep them from coming back at boot.
if [[ $(id -u) -eq 0 ]] && command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
  for svc in apache2 memcached glewlwyd; do
    if systemctl is-enabled --quiet "$svc" 2>/dev/null || systemctl is-active --quiet "$svc" 2>/dev/null; then
      systemctl disable --now --quiet "$svc" 2>/dev/null || true
    fi
  done
elif [[ $(id -u) -eq 0 ]]; then
  # No systemd (containers): the init scripts, if they left something running.
  for svc in apache2 memcached glewlwyd; do
    [[ -x /etc/init.d/$svc ]] && /etc/init.d/$svc status >/dev/null 2>&1 && /etc/init.d/$svc stop >/dev/null 2>&1 || true
  done
fi

# The test OpenID Provider's node dependencies, from the committed lock file.
op=tests/op
if [[ ! -d $op/node_modules || $op/package-lock.json -nt $op/node_modules/.package-lock.json ]]; then
  echo "install-deps: npm ci in $op"
  (cd "$op" && npm ci --no-audit --no-fund)
fi
# playwright-core for the browser tests (it drives /usr/bin/chromium; no browser download).
br=tests/browser
if [[ ! -d $br/node_modules || $br/package-lock.json -nt $br/node_modules/.package-lock.json ]]; then
  echo "install-deps: npm ci in $br"
  (cd "$br" && npm ci --no-audit --no-fund)
fi
# jose for the hostile OpenID Provider (tests/hostile_op, test_600_hostile_op.py).
ho=tests/hostile_op
if [[ ! -d $ho/node_modules || $ho/package-lock.json -nt $ho/node_modules/.package-lock.json ]]; then
  echo "install-deps: npm ci in $ho"
  (cd "$ho" && npm ci --no-audit --no-fund)
fi
echo "install-deps: ok (node $(node --version), npm $(npm --version))"
