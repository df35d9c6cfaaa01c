#!/usr/bin/env bash
# run-suite.sh [BUILD_DIR] [RUNS]
# Runs every weft-bench subcommand at 1 thread and at every CPU, RUNS times
# (default 5), interleaving the thread counts (A B A B ...) so that machine
# noise hits both alike, and prints one line per benchmark and thread count
# with the median seconds and the median ns per op.
# Also runs the plain C fib reference (bench/ref_fib.c) for the fib ratio.
#
# Environment:
#   THREADS ["1 <nproc>"]  the thread counts, space-separated
#                          (bench/run-all.sh passes 1..N)
#   CASES [all]            a space-separated subset of the benchmark names
set -euo pipefail
build=${1:-build/release}
runs=${2:-5}
bench="$build/bench/weft-bench"
ref="$build/bench/ref_fib"
# Each count once, in the order given ("1 1" on a 1-CPU machine is "1").
read -r -a threads <<<"$(tr -s ' \t' '\n' <<<"${THREADS:-1 $(nproc)}" |
  awk 'NF && !seen[$0]++' | tr '\n' ' ')"

cases=(
  "fib --n 30"
  "spawn --m 1000000"
  "yield --tasks 1000 --yields 1000"
  "chain --depth 100000"
  "pingpong --pairs 1000 --rounds 100"
  "sleep --tasks 100000 --ms 1000"
  "switch --n 10000000"
  "blocking --calls 1000 --ms 10 --pool 64"
  "future-rtt --n 100000"
  "lock --n 10000000"
  "sem --tasks 1000 --value 10 --rounds 100"
)
if [ -n "${CASES:-}" ]; then
  all_cases=("${cases[@]}")
  cases=()
  for c in "${all_cases[@]}"; do
    if [[ " $CASES " == *" ${c%% *} "* ]]; then
      cases+=("$c")
    fi
  done
fi

field() { sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p"; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for c in "${cases[@]}"; do
  name=${c%% *}
  for ((r = 0; r < runs; r++)); do
    for t in "${threads[@]}"; do
      # shellcheck disable=SC2086
      "$bench" $c --threads "$t" >>"$tmp/$name.$t"
    done
    if [ "$name" = fib ]; then
      "$ref" --n 30 >>"$tmp/fib.ref"
    fi
  done
done

printf '%-9s %-7s %12s %12s\n' bench threads median_s ns_per_op
for c in "${cases[@]}"; do
  name=${c%% *}
  for t in "${threads[@]}"; do
    f="$tmp/$name.$t"
    s=$(field seconds <"$f" | median)
    ops=$(tail -n 1 "$f" | field ops)
    printf '%-9s %-7s %12.6f %12.1f\n' "$name" "$t" "$s" \
      "$(awk -v s="$s" -v o="$ops" 'BEGIN {print s / o * 1e9}')"
  done
done
if [ -f "$tmp/fib.ref" ]; then
  s=$(field seconds <"$tmp/fib.ref" | median)
  printf '%-9s %-7s %12.6f   (plain C, bench/ref_fib.c)\n' fib-ref 1 "$s"
fi
