#!/usr/bin/env bash
# check-ctx-cross.sh: builds the aarch64 context switch with a cross
# compiler and runs tests/port/ctx_pingpong.c under qemu-user. Needs the
# Debian packages gcc-aarch64-linux-gnu and qemu-user (not installed by
# the test scripts: this is a manual check for the non-native backend).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
aarch64-linux-gnu-gcc -O2 -static -Isrc -o "$out/ctx_pingpong" \
  tests/port/ctx_pingpong.c src/core/ctx_make.c src/core/ctx_aarch64.S
qemu-aarch64 "$out/ctx_pingpong"
