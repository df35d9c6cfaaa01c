#!/usr/bin/env bash
# demo.sh: installs what is missing (as root), builds the release preset and
# runs the fib and spawn benchmarks at 1 thread and at every CPU, as a table.
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=scripts/ensure-deps.sh
. scripts/ensure-deps.sh
weft_ensure_deps

echo "== building (release)"
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target weft-bench

bench=build/release/bench/weft-bench
cpus=$(nproc)
threads=(1)
[ "$cpus" -gt 1 ] && threads+=("$cpus")

# field NAME JSON: the value of "NAME": in a one-line JSON object.
field() {
  sed -n "s/.*\"$1\":\\([^,}]*\\).*/\\1/p" <<<"$2" | tr -d '"'
}

rows=()
run() {
  local out
  echo "== $bench $*" >&2
  out=$("$bench" "$@")
  rows+=("$(field bench "$out") $(field threads "$out") $(field seconds "$out") $(field ops_per_s "$out")")
}

for t in "${threads[@]}"; do run fib --n 30 --threads "$t"; done
for t in "${threads[@]}"; do run spawn --m 1000000 --threads "$t"; done

echo
echo "weft-bench (release build), $cpus CPUs, $(uname -m)"
printf '%s\n' "${rows[@]}" | awk '
  BEGIN { printf "%-8s %8s %10s %12s %10s\n", "bench", "threads", "seconds", "ops/s", "ns/op" }
  { printf "%-8s %8s %10.4f %12.3g %10.1f\n", $1, $2, $3, $4, ($4 > 0 ? 1e9 / $4 : 0) }'
