#!/usr/bin/env bash
# Everything CI runs: dependencies, build, C unit tests (make check), then the integration
# suite: the tests marked `mpm` under worker and prefork, and the whole suite under event
# LAST, so the final line of output is pytest's summary. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
bash scripts/build.sh

echo "== unit tests (make check)"
if ! make check; then
  cat tests/test-suite.log 2>/dev/null || true
  exit 1
fi

export RTS_MODULE="$PWD/mod_rtsession/.libs/mod_rtsession.so"
PYTEST=(/usr/bin/python3 -m pytest -ra -p no:cacheprovider)

run_pytest() {   # pytest's exit 5 (nothing collected) is a failure too
  local rc=0
  "${PYTEST[@]}" "$@" || rc=$?
  if [[ $rc -eq 5 ]]; then echo "pytest collected no tests: failing" >&2; fi
  return $rc
}

status=0
for mpm in worker prefork; do
  echo "== integration tests marked mpm, RTS_MPM=$mpm"
  RTS_MPM=$mpm run_pytest -m mpm tests/integration || status=1
done

echo "== integration tests, RTS_MPM=event"
RTS_MPM=event run_pytest tests/integration || status=1
exit $status
