#!/usr/bin/env bash
# check-install-consumer.sh BUILD_DIR CONSUMER_DIR LIBDIR CC [CFLAGS]
# Installs BUILD_DIR into a temporary prefix, then builds and runs the
# consumer in CONSUMER_DIR twice: with find_package(weft CONFIG) (shared and
# static targets) and with `pkg-config --cflags --libs weft`. CFLAGS are the
# build's own (sanitizer builds need them at link time too).
set -euo pipefail

build=${1:?usage: check-install-consumer.sh BUILD_DIR CONSUMER_DIR LIBDIR CC [CFLAGS]}
consumer=${2:?consumer dir}
libdir=${3:?libdir relative to the prefix}
cc=${4:?C compiler}
cflags=${5:-}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/weft-consumer.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

step() { printf '== %s\n' "$*"; }

step "install into $prefix"
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" ||
  { cat "$tmp/install.log"; exit 1; }

export LD_LIBRARY_PATH=$prefix/$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

step "find_package(weft CONFIG)"
cmake -S "$consumer" -B "$tmp/build" \
      -DCMAKE_PREFIX_PATH="$prefix" \
      -DCMAKE_C_COMPILER="$cc" \
      -DCMAKE_C_FLAGS="$cflags" \
      -DCMAKE_BUILD_TYPE=Debug >"$tmp/configure.log" ||
  { cat "$tmp/configure.log"; exit 1; }
cmake --build "$tmp/build" >"$tmp/build.log" 2>&1 ||
  { cat "$tmp/build.log"; exit 1; }
"$tmp/build/consumer"
"$tmp/build/consumer_static"

step "pkg-config --cflags --libs weft"
export PKG_CONFIG_PATH=$prefix/$libdir/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
pc_flags=$(pkg-config --cflags --libs weft)
echo "pkg-config: $pc_flags"
# shellcheck disable=SC2086 # word splitting of the flag lists is intended
"$cc" $cflags "$consumer/main.c" -o "$tmp/consumer_pc" $pc_flags
"$tmp/consumer_pc"

step "ok"
