#!/usr/bin/env bash
# demo.sh: installs what the build needs if any is missing (apt-get, as
# root or through sudo: see ensure-deps.sh), builds the release preset and
# reproduces the asyncio guide's benchmark: a local HTTP server answers every
# request after one second; N URLs are fetched one after another (small N)
# and all at once, for N = 5 ... 10,000, beside the guide's figures. Then a
# CPU table: fib across 1..all threads. DEMO_URLS overrides the N list.
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=scripts/ensure-deps.sh
. scripts/ensure-deps.sh
weft_ensure_deps "${WEFT_DEB_BUILD_PACKAGES[@]}"

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

# ---- The guide's table: N URLs, each answered after one second ----------
server_err=$(mktemp)
"$bench" http-server --delay-ms 1000 2>"$server_err" >/dev/null &
server=$!
trap 'kill -TERM $server 2>/dev/null; rm -f "$server_err"' EXIT
port=
for _ in $(seq 100); do
  port=$(sed -n 's/.*listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$server_err")
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { echo "http-server did not start" >&2; exit 1; }

# The guide's own figures (asyncio + aiohttp, sync = requests).
declare -A guide_sync=([5]=5.2 [10]=10.4 [20]=20.8 [50]=52.1 [100]=104.5)
declare -A guide_async=([5]=1.1 [10]=1.2 [20]=1.4 [50]=2.1 [100]=3.8)
urls=${DEMO_URLS:-"5 10 20 50 100 1000 10000"}
fetch_rows=()
for n in $urls; do
  seq_s=-
  if [ "$n" -le 10 ]; then
    echo "== fetch $n URLs one after another" >&2
    seq_s=$(field seconds "$("$bench" fetch --port "$port" --urls "$n" --sequential --threads 1)")
  fi
  echo "== fetch $n URLs at once" >&2
  con_s=$(field seconds "$("$bench" fetch --port "$port" --urls "$n")")
  fetch_rows+=("$n ${guide_sync[$n]:--} ${guide_async[$n]:--} $seq_s $con_s")
done
kill -TERM $server 2>/dev/null
wait $server 2>/dev/null || true

echo
echo "Fetching N URLs from a local server that answers each after 1 s"
echo "(guide: Python requests and asyncio+aiohttp; weft: this machine, $cpus CPUs)"
printf '%s\n' "${fetch_rows[@]}" | awk '
  function f(x) { return x == "-" ? "-" : sprintf("%.2fs", x) }
  BEGIN { printf "%8s %12s %14s %16s %16s\n", "URLs", "guide sync", "guide asyncio",
          "weft sequential", "weft concurrent" }
  { printf "%8s %12s %14s %16s %16s\n", $1, ($2 == "-" ? "-" : $2 "s"),
           ($3 == "-" ? "-" : $3 "s"), f($4), f($5) }'

# ---- CPU: fib across 1..all threads -------------------------------------
threads=(1)
t=2
while [ "$t" -lt "$cpus" ]; do threads+=("$t"); t=$((t * 2)); done
[ "$cpus" -gt 1 ] && threads+=("$cpus")
for t in "${threads[@]}"; do run fib --n 30 --threads "$t"; done

echo
echo "fib(30) as a task per call, weft-bench (release build), $(uname -m)"
printf '%s\n' "${rows[@]}" | awk '
  BEGIN { printf "%-8s %8s %10s %12s %10s\n", "bench", "threads", "seconds", "spawns/s", "speed-up" }
  NR == 1 { base = $3 }
  { printf "%-8s %8s %10.4f %12.3g %9.2fx\n", $1, $2, $3, $4, base / $3 }'
