#!/usr/bin/env bash
# check-abi-exports.sh LIBWEFT_SO
# Fails if libweft.so defines a dynamic symbol outside the public API: every
# exported name must start with weft_ and must not be internal (weft__*).
set -euo pipefail

lib=${1:?usage: check-abi-exports.sh path/to/libweft.so}
[ -f "$lib" ] || { echo "no such file: $lib" >&2; exit 2; }

syms=$(nm -D --defined-only "$lib") || { echo "nm failed on $lib" >&2; exit 2; }

bad=$(printf '%s\n' "$syms" | awk '
  NF >= 2 {
    name = $NF
    sub(/@.*/, "", name)                  # drop symbol versions
    if (name ~ /^(_init|_fini|__bss_start|_edata|_end)$/) next
    if (name ~ /^weft_/ && name !~ /^weft__/) next
    print "  " $0
  }')

if [ -n "$bad" ]; then
  echo "$lib exports symbols outside the weft_* API:"
  printf '%s\n' "$bad"
  exit 1
fi
n=$(printf '%s\n' "$syms" | grep -c ' weft_' || true)
echo "ok: $lib exports $n weft_* symbols and nothing else"
