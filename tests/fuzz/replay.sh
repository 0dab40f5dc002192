#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# make check: every seed corpus through its fuzz target, without libFuzzer (tests/fuzz/README.md).
set -e
bin=./fuzz/rts_fuzz_replay
corpus=${srcdir:-.}/fuzz/corpus
for t in jws jwks token_response session cookie return_url form provider_meta logout; do
    "$bin" "$t" "$corpus/$t"
done
