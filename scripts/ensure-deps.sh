#!/usr/bin/env bash
# ensure-deps.sh: installs the Debian packages weft's build needs, if any is
# missing. Needs root for apt-get only when something is missing.
# Sourced by demo.sh and test-all.sh; can also be run on its own.
set -euo pipefail

WEFT_DEB_PACKAGES=(cmake make gcc libc6-dev libuv1-dev libcmocka-dev
                   pkg-config valgrind binutils clang-format
                   libssl-dev openssl libcurl4-openssl-dev)

weft_ensure_deps() {
  local missing=() p
  for p in "${WEFT_DEB_PACKAGES[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    return 0
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "missing packages (${missing[*]}) and no apt-get: install them by hand" >&2
    return 1
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing packages: ${missing[*]}" >&2
    echo "run this script as root (sudo $0), or install them:" >&2
    echo "  sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    return 1
  fi
  echo "== installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  weft_ensure_deps
fi
