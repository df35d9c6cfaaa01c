#!/usr/bin/env bash
# fuzz.sh [SECONDS]: builds the libFuzzer targets in tests/fuzz/ with clang
# (installed from Debian if missing, as root) under ASan+UBSan and runs each
# for SECONDS (default 60) from its seed corpus in tests/fuzz/corpus/.
# New inputs go to build/fuzz/corpus-<name>/; crashes to build/fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
if ! command -v clang >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update && apt-get install -y --no-install-recommends clang
fi
out=build/fuzz
mkdir -p "$out"
flags=(-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
       -Iinclude -Isrc)
clang "${flags[@]}" tests/fuzz/fuzz_http_parse.c src/http_parse.c \
      -o "$out/fuzz_http_parse"
mkdir -p "$out/corpus-http"
"$out/fuzz_http_parse" -max_total_time="$secs" -artifact_prefix="$out/" \
  -print_final_stats=1 "$out/corpus-http" tests/fuzz/corpus/http 2>&1 |
  grep -v '^#[0-9]' || true
# libFuzzer exits non-zero on a finding and leaves crash-* behind.
if ls "$out"/crash-* "$out"/leak-* "$out"/timeout-* >/dev/null 2>&1; then
  echo "fuzz: findings in $out" >&2
  exit 1
fi
