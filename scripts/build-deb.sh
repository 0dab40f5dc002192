#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Build the Debian package: build-deb/libapache2-mod-rtsession_<version>_<arch>.deb, with
# `dpkg-buildpackage -us -uc -b` and debian/, in a copy of the sources (build-deb/src, removed
# afterwards): the package build runs `make distclean` and autoreconf, which must not touch the
# working tree's own build. Missing build dependencies (debian/control) are installed with
# apt-get when run as root. `--lintian` also runs lintian on the .deb (installed if missing).
# The full build log is build-deb/build.log.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
out=$top/build-deb
lint=0
for a in "$@"; do
  case $a in
    --lintian) lint=1 ;;
    *) echo "usage: $0 [--lintian]" >&2; exit 2 ;;
  esac
done

# debian/changelog must package the version configure.ac builds.
upstream=$(sed -nE 's/^AC_INIT\(\[[^]]*\], *\[([^]]*)\].*/\1/p' configure.ac)
debver=$(sed -nE '1s/^[^ ]+ \(([^)]+)\).*/\1/p' debian/changelog)
if [[ ${debver%-*} != "$upstream" ]]; then
  echo "build-deb: debian/changelog is at $debver but configure.ac builds $upstream;" \
       "add a debian/changelog entry (dch -v $upstream-1)" >&2
  exit 1
fi

apt_install() {   # apt-get, as root, updating the lists only when they are absent or old
  if [[ $(id -u) -ne 0 ]]; then
    echo "build-deb: missing $*; run as root or install them" >&2
    return 1
  fi
  if [[ -z $(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -n1) ]]; then
    apt-get update -q
  fi
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 "$@"
}

if ! command -v dpkg-buildpackage >/dev/null || ! command -v dh >/dev/null; then
  apt_install install -y -q --no-install-recommends dpkg-dev debhelper
fi
if ! dpkg-checkbuilddeps 2>/dev/null; then
  echo "build-deb: installing the build dependencies of debian/control"
  apt_install build-dep -y -q --no-install-recommends "$top"
fi

rm -rf "$out"
mkdir -p "$out/src"
# The sources without build products: what git tracks plus new, not ignored files (so an
# uncommitted change is packaged as it is); from a release tarball, the tree less what the
# tests and a previous build leave (dpkg-buildpackage's clean step distcleans the rest).
if [[ -e .git ]] && command -v git >/dev/null; then   # a checkout (.git: a dir, or a file in a worktree)
  git ls-files -z --cached --others --exclude-standard \
    | while IFS= read -r -d '' f; do [[ -e $f ]] && printf '%s\0' "$f"; done \
    | tar --null -T - -cf - | tar -C "$out/src" -xf -
else
  tar --exclude=./build-deb --exclude=./build --exclude=./build-san --exclude=./tests/gen --exclude=node_modules \
      -cf - . | tar -C "$out/src" -xf -
fi

start=$(date +%s)
DEB_BUILD_OPTIONS="parallel=$(nproc 2>/dev/null || echo 2) ${DEB_BUILD_OPTIONS:-}"
export DEB_BUILD_OPTIONS
echo "build-deb: dpkg-buildpackage -us -uc -b in build-deb/src (log: build-deb/build.log)"
if ! (cd "$out/src" && dpkg-buildpackage -us -uc -b) >"$out/build.log" 2>&1; then
  tail -n 60 "$out/build.log" >&2
  echo "build-deb: dpkg-buildpackage failed (build-deb/build.log; sources kept in build-deb/src)" >&2
  exit 1
fi
rm -rf "$out/src"

arch=$(dpkg-architecture -qDEB_HOST_ARCH)
deb=$out/libapache2-mod-rtsession_${debver}_${arch}.deb
[[ -f $deb ]] || { echo "build-deb: $deb was not produced" >&2; exit 1; }
grep -E '^# (TOTAL|PASS|FAIL|ERROR):' "$out/build.log" | tr '\n' ' ' | sed 's/^/build-deb: make check: /; s/ $/\n/' || true
echo "build-deb: ok, $deb ($(du -k "$deb" | cut -f1) KiB) in $(( $(date +%s) - start )) s"

if ((lint)); then
  command -v lintian >/dev/null || apt_install install -y -q --no-install-recommends lintian
  echo "build-deb: lintian $(basename "$deb")"
  lintian --info --display-info "$deb" || true
fi
