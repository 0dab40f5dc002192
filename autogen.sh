#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Regenerates configure and the Makefile.in files (needs autoconf, automake, libtool, autoconf-archive).
set -e
cd "$(dirname "$0")"
autoreconf -fi
