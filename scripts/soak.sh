#!/usr/bin/env bash
# soak.sh [SECONDS] [BUILD]: runs `weft-bench soak` (rounds of 100,000 tasks
# and 1,000 TCP connections with random cancellations, on every CPU) for
# SECONDS (default 300), then checks that the process's resident memory,
# once the runtime is freed and glibc has trimmed its arenas, is back
# within 8 MiB of where it started. Not part of the default test run.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-300}
build=${2:-build/release}
cmake --build "$build" --target weft-bench >/dev/null
json=$("$build/bench/weft-bench" soak --seconds "$secs")
echo "$json"
field() { sed -n "s/.*\"$1\":\\([0-9]*\\).*/\\1/p" <<<"$json"; }
start=$(field rss_start_kb)
end=$(field rss_end_kb)
if [ "$end" -gt $((start + 8192)) ]; then
  echo "soak: memory did not come back: ${start} KiB at start, ${end} KiB after" >&2
  exit 1
fi
echo "soak: ok (${start} KiB at start, $(field rss_peak_kb) KiB at the peak, ${end} KiB after)"
