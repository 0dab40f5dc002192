#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Configure and build OUT of the source tree, in build/ beside the sources (VPATH: the sources
# stay free of build products, and several builds, e.g. build-san/, share one tree).
# BUILD_DIR picks another directory (relative to the source tree, or absolute); CONFIGURE_FLAGS
# are passed to configure. autogen runs only when configure is missing or stale; configure only
# when the build dir is unconfigured, configure is newer, or CONFIGURE_FLAGS changed.
# The module is $BUILD_DIR/mod_rtsession/.libs/mod_rtsession.so.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
build=${BUILD_DIR:-build}
[[ $build == /* ]] || build=$src/$build
flags=${CONFIGURE_FLAGS:-}

# configure refuses a VPATH build of a tree that was configured in place ("source directory
# already configured"). That in-tree build is a developer's own (flags, a module an httpd may
# be loading): say what to do rather than remove it. In CI (CI=true) the tree is a fresh
# checkout whose config.status can only be a build product, so clean it.
if [[ -f $src/config.status ]]; then
  if [[ ${CI:-} == true ]]; then
    echo "build: the source tree was configured in place; CI=true: make distclean there first"
    make -C "$src" distclean >/dev/null
  else
    echo "build: $src was configured in the source tree (config.status), and an out-of-tree" \
         "build needs a clean tree. Remove that in-tree build with:" >&2
    echo "  make -C '$src' distclean" >&2
    echo "then run $0 again (the module will be in ${build#"$src"/}/mod_rtsession/.libs/)." >&2
    exit 1
  fi
fi

if [[ ! -x configure || configure.ac -nt configure ]]; then
  ./autogen.sh
fi
mkdir -p "$build"
stamp=$build/.configure-flags   # the flags of the last configure, to notice a change
if [[ ! -f $build/Makefile || configure -nt $build/config.status || ! -f $stamp \
      || $(cat "$stamp") != "$flags" ]]; then
  # shellcheck disable=SC2086  # CONFIGURE_FLAGS is a word list
  (cd "$build" && "$src/configure" $flags)
  printf '%s' "$flags" >"$stamp"
fi
make -C "$build" -j"$(nproc 2>/dev/null || echo 2)"
echo "build: ok ($build/mod_rtsession/.libs/mod_rtsession.so)"
