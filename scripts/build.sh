#!/usr/bin/env bash
# Configure and build in the source tree (autogen only when configure is missing or stale).
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ! -x configure || configure.ac -nt configure ]]; then
  ./autogen.sh
fi
if [[ ! -f Makefile || configure -nt config.status ]]; then
  ./configure ${CONFIGURE_FLAGS:-}
fi
make -j"$(nproc 2>/dev/null || echo 2)"
echo "build: ok ($(pwd)/mod_rtsession/.libs/mod_rtsession.so)"
