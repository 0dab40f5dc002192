#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds every fuzz target with clang's libFuzzer + ASan + UBSan (directly, not through
# configure: the core needs nothing but its pkg-config libraries) and runs each for
# FUZZ_SECONDS against a working copy of its seed corpus. New inputs stay in OUT/work/<target>,
# crashes in OUT/crash-<target>-*. Exits non-zero if a target crashes.
#   tests/fuzz/fuzz.sh [SECONDS] [TARGET...]     (make fuzz FUZZ_SECONDS=600)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
core=$src/mod_rtsession/core
out=${FUZZ_OUT:-$here/out}
seconds=${1:-${FUZZ_SECONDS:-60}}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(jws jwks token_response session cookie return_url form provider_meta logout)
CC=${FUZZ_CC:-clang}
mkdir -p "$out/obj" "$out/work"

pkgs="apr-1 apr-util-1 openssl jansson libcurl libmemcached"
cflags="-g -O1 -std=c11 -D_GNU_SOURCE -fno-omit-frame-pointer -fsanitize=address,undefined
        -fno-sanitize-recover=undefined -I$core -I$here $(pkg-config --cflags $pkgs)"
libs=$(pkg-config --libs $pkgs)

objs=()
for c in "$core"/*.c "$here/fuzz_common.c" "$here/fuzz_sign.c"; do
  o=$out/obj/$(basename "${c%.c}").o
  if [[ ! -f $o || $c -nt $o ]]; then
    $CC $cflags -fsanitize=fuzzer-no-link -c "$c" -o "$o"
  fi
  objs+=("$o")
done

status=0
for t in "${targets[@]}"; do
  bin=$out/fuzz_$t
  $CC $cflags -fsanitize=fuzzer "$here/fuzz_$t.c" "${objs[@]}" $libs -o "$bin"
  mkdir -p "$out/work/$t"
  echo "== fuzz_$t for ${seconds}s"
  rc=0
  (cd "$out" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
     "$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -timeout=10 \
     -artifact_prefix="$out/crash-$t-" -print_final_stats=1 \
     "$out/work/$t" "$here/corpus/$t" >"$out/$t.log" 2>&1) || rc=$?
  runs=$(grep -Eo 'Done [0-9]+ runs' "$out/$t.log" | grep -Eo '[0-9]+' || echo "?")
  echo "fuzz_$t: exit $rc, $runs executions (log: $out/$t.log)"
  ((rc == 0)) || { status=1; tail -40 "$out/$t.log"; }
done
exit $status
