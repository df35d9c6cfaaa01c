#!/usr/bin/env bash
# check-embed-consumer.sh SOURCE_DIR CONSUMER_DIR CC [CFLAGS]
# Configures the project in CONSUMER_DIR (tests/embed), which takes weft's
# source from SOURCE_DIR with FetchContent, builds it and runs its programs
# (shared and static). The configure step itself fails if embedded weft
# defines more than its libraries or changes the parent's build type.
# CFLAGS are the build's own (sanitizer builds need them at link time too).
# WEFT_EMBED_JOBS (default 1) sets the build's parallelism: ctest runs other
# tests beside this one.
set -euo pipefail

src=${1:?usage: check-embed-consumer.sh SOURCE_DIR CONSUMER_DIR CC [CFLAGS]}
consumer=${2:?consumer dir}
cc=${3:?C compiler}
cflags=${4:-}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/weft-embed.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

step() { printf '== %s\n' "$*"; }

step "FetchContent from $src"
cmake -S "$consumer" -B "$tmp/build" \
      -DWEFT_SOURCE_DIR="$src" \
      -DCMAKE_C_COMPILER="$cc" \
      -DCMAKE_C_FLAGS="$cflags" >"$tmp/configure.log" 2>&1 ||
  { cat "$tmp/configure.log"; exit 1; }
# Only the consumer's targets and weft's libraries are there to build.
cmake --build "$tmp/build" -j "${WEFT_EMBED_JOBS:-1}" >"$tmp/build.log" 2>&1 ||
  { cat "$tmp/build.log"; exit 1; }
cache=$tmp/build/CMakeCache.txt
grep -q '^CMAKE_BUILD_TYPE:STRING=$' "$cache" ||
  { echo "the parent's CMAKE_BUILD_TYPE was changed:"; grep CMAKE_BUILD_TYPE "$cache"; exit 1; }
"$tmp/build/embed"
"$tmp/build/embed_static"
step "ok"
