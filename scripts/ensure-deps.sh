#!/usr/bin/env bash
# ensure-deps.sh [PACKAGE...]: installs the Debian packages weft's build and
# tests need (or the ones named), if any is missing. Nothing is installed,
# and no root is needed, when all are there. Otherwise apt-get runs as root:
# directly when this runs as root (a fresh Debian container has no sudo),
# through sudo when it does not (a developer's machine), so the scripts that
# call it (demo.sh, test-all.sh, fuzz.sh) work verbatim both ways and build
# as the calling user. Sourced by those scripts; can also be run on its own.
set -euo pipefail

# What building the library, its tests and its benchmarks needs (demo.sh).
WEFT_DEB_BUILD_PACKAGES=(cmake make gcc libc6-dev libuv1-dev libcmocka-dev
                         pkg-config libssl-dev)
# Everything test-all.sh runs: clang for the fuzz targets (scripts/fuzz.sh),
# Valgrind for the memcheck pass, clang-format for ctest `format`, openssl
# for the TLS tests' certificates, libcurl for examples/curl_multi.c.
WEFT_DEB_PACKAGES=(cmake make gcc clang libc6-dev libuv1-dev libcmocka-dev
                   pkg-config valgrind binutils clang-format
                   libssl-dev openssl libcurl4-openssl-dev)

# weft_as_root COMMAND...: runs the command as root, through sudo if needed.
weft_as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo env DEBIAN_FRONTEND=noninteractive "$@"
  else
    echo "need root for: $* (run as root, or install sudo)" >&2
    return 1
  fi
}

# weft_ensure_deps [PACKAGE...]: default WEFT_DEB_PACKAGES.
weft_ensure_deps() {
  local missing=() p want=("$@")
  [ ${#want[@]} -gt 0 ] || want=("${WEFT_DEB_PACKAGES[@]}")
  for p in "${want[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    return 0
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "missing packages (${missing[*]}) and no apt-get: install them by hand" >&2
    return 1
  fi
  echo "== installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  weft_as_root apt-get update
  weft_as_root apt-get install -y --no-install-recommends "${missing[@]}"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  weft_ensure_deps "$@"
fi
