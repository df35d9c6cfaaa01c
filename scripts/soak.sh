#!/usr/bin/env bash
# soak.sh [SECONDS] [BUILD]: runs `weft-bench soak` (rounds of 100,000 tasks,
# 1,000 echo connections and 500 HTTP requests through one client to
# weft_http_serve, with random cancellations, resets and blocking calls cut
# short by timeouts, on every CPU) for SECONDS (default 300). It prints
# resident memory, heap in use, descriptors and live tasks every minute,
# and fails if an HTTP request is lost or answered with another's
# response, or if the heap, the descriptors or the tasks grow without
# bound (the lowest value over the last quarter of the run exceeds the
# highest over the first quarter by more than a margin; RSS is not judged
# while the run goes on, as task stacks keep the pages they touched, see
# bench/bench_soak.c). Then checks that the process's resident memory, once the
# runtime is freed and glibc has trimmed its arenas, is back within 8 MiB
# of where it started. Not part of the default test run.
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
