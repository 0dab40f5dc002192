#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Start a demo on loopback: memcached, the test OP, the echo backend and httpd with
# mod_rtsession, then log in once by script. Run again to restart; `demo.sh stop` stops.
# The orchestration is tests/integration/rtstest/demo.py.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ${1:-} != stop ]]; then
  bash scripts/install-deps.sh
  bash scripts/build.sh      # out of tree, in build/
fi
export RTS_MODULE="${RTS_MODULE:-$PWD/build/mod_rtsession/.libs/mod_rtsession.so}"
exec /usr/bin/python3 tests/integration/rtstest/demo.py "${@:-start}"
