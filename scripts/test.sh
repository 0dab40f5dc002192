#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Everything CI runs: dependencies, build, C unit tests (make check), then the integration
# suite: the tests marked `mpm` under worker and prefork, and the whole suite under event
# LAST, so the final line of output is pytest's summary. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
bash scripts/build.sh          # out of tree, in build/

echo "== unit tests (make check in build/)"
if ! make -C build check; then
  cat build/tests/test-suite.log 2>/dev/null || true
  exit 1
fi

export RTS_MODULE="$PWD/build/mod_rtsession/.libs/mod_rtsession.so"
PYTEST=(/usr/bin/python3 -m pytest -ra -p no:cacheprovider)

run_pytest() {   # pytest's exit 5 (nothing collected) is a failure too
  local rc=0
  "${PYTEST[@]}" "$@" || rc=$?
  if [[ $rc -eq 5 ]]; then echo "pytest collected no tests: failing" >&2; fi
  return $rc
}

status=0

# The Debian package: build it (scripts/build-deb.sh), install it here, configtest, a login
# through the installed module, purge (scripts/test-deb.sh). Root only: it installs a package.
if [[ $(id -u) -eq 0 ]]; then
  echo "== Debian package: build, install, smoke test, purge"
  { bash scripts/build-deb.sh && bash scripts/test-deb.sh; } || status=1
else
  echo "== Debian package: skipped (needs root to install the package)"
fi

for mpm in worker prefork; do
  echo "== integration tests marked mpm, RTS_MPM=$mpm"
  RTS_MPM=$mpm run_pytest -m mpm tests/integration || status=1
done

# ASan + UBSan: a second out-of-tree build of the same sources in build-san/ (configure
# --enable-sanitizers), loaded into Debian's apache2 with libasan preloaded (httpd only:
# rtstest/httpd.py sets LD_PRELOAD from RTS_HTTPD_PRELOAD). The libasan is the one of the
# compiler that built the module, asked from it (any arch, any gcc version). Leak detection is
# off: httpd frees pools wholesale at exit and LSan reports those by the hundred. Any ASan/UBSan
# report in an error log fails the test that saw it (conftest.py) and the run (the grep below).
# The fuzz corpora are replayed under it too.
san_run() {
  # the gen dir outside the checkout: httpd's children (www-data) must reach it, and a checkout
  # may sit below a private directory
  local san=build-san top=$PWD gen cc asan
  gen=$(mktemp -d "${TMPDIR:-/tmp}/rts-san-gen.XXXXXX")
  BUILD_DIR=$san CONFIGURE_FLAGS="-q --enable-sanitizers" bash scripts/build.sh >/dev/null || return 1
  make -C "$san/tests" fuzz/rts_fuzz_replay >/dev/null \
    && (cd "$san/tests" && srcdir="$top/tests" sh "$top/tests/fuzz/replay.sh") || return 1
  # the compiler configure chose for build-san/ (CC), asked where its libasan is
  cc=$(sed -n 's/^CC = //p' "$san/Makefile")
  asan=$(readlink -f "$(${cc:-gcc} -print-file-name=libasan.so)")
  if [[ ! -f $asan ]]; then
    echo "sanitizer build: '${cc:-gcc} -print-file-name=libasan.so' names no library (gcc's ASan runtime is needed)" >&2
    return 1
  fi
  local rc=0
  RTS_MPM=event RTS_GEN_DIR="$gen" RTS_MODULE="$top/$san/mod_rtsession/.libs/mod_rtsession.so" \
  RTS_HTTPD_PRELOAD="$asan" \
  ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:halt_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_pytest tests/integration/test_100_login.py tests/integration/test_110_errors.py \
      tests/integration/test_300_refresh.py \
      tests/integration/test_600_hostile_op.py tests/integration/test_610_secrecy.py || rc=1
  if grep -lE '==[0-9]+==ERROR: (Address|Leak)Sanitizer|runtime error: ' "$gen"/httpd-*/logs/error_log; then
    echo "sanitizer reports in the error logs above" >&2
    rc=1
  fi
  return $rc
}

echo "== sanitizer build (ASan+UBSan, build-san/, logs in \${TMPDIR:-/tmp}/rts-san-gen.*): fuzz corpora, login, errors, refresh, hostile-OP, secrecy tests"
san_run || status=1

echo "== integration tests, RTS_MPM=event"
RTS_MPM=event run_pytest tests/integration || status=1
exit $status
