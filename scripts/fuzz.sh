#!/usr/bin/env bash
# fuzz.sh [SECONDS]: builds the libFuzzer targets in tests/fuzz/ with clang
# (installed from Debian if missing, as root) under ASan+UBSan and runs each
# for SECONDS (default 60) from its seed corpus in tests/fuzz/corpus/.
# New inputs go to build/fuzz/corpus-<name>/; crashes to build/fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
if ! command -v clang >/dev/null; then
  apt-get update && apt-get install -y clang
fi
out=build/fuzz
mkdir -p "$out"
flags=(-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
       -Iinclude -Isrc)
clang "${flags[@]}" tests/fuzz/fuzz_http_parse.c src/http_parse.c \
      -o "$out/fuzz_http_parse"
mkdir -p "$out/corpus-http"
"$out/fuzz_http_parse" -max_total_time="$secs" -artifact_prefix="$out/" \
  "$out/corpus-http" tests/fuzz/corpus/http
