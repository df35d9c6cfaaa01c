#!/usr/bin/env bash
# fuzz.sh [SECONDS [TARGET...]]: builds the libFuzzer targets in tests/fuzz/
# with clang (installed if missing, see ensure-deps.sh) under ASan+UBSan
# and runs each for SECONDS (default 60) from its seed corpus in
# tests/fuzz/corpus/. Targets: http (the HTTP/1.1 parser) and stream (the
# stream reader: readline/readuntil/readexactly on a real stream in a real
# runtime); default both. New inputs go to build/fuzz/corpus-<name>/;
# findings to build/fuzz/<name>-crash-* (or -leak-, -timeout-). Once one
# is fixed, copy it into tests/fuzz/corpus/<name>/: ctest (label fuzz)
# replays that folder in every preset.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(http stream)
# shellcheck source=scripts/ensure-deps.sh
. scripts/ensure-deps.sh
command -v clang >/dev/null || weft_ensure_deps clang
out=build/fuzz
mkdir -p "$out"
flags=(-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
       -D_GNU_SOURCE -Iinclude -Isrc)

# The stream target links the whole library, built here with the same
# flags (CMake's presets use gcc), and the context switch of this machine.
# Coverage guides by the reader and the target only: the scheduler's paths
# vary from run to run and would only add noise to the corpus.
build_stream() {
  local srcs=() ctx allow=$out/stream-coverage.txt
  printf 'src:*src/io/stream.c\nsrc:*fuzz_stream_reader.c\nfun:*\n' >"$allow"
  case "$(uname -m)" in
    x86_64 | amd64) ctx=src/core/ctx_x86_64.S ;;
    aarch64 | arm64) ctx=src/core/ctx_aarch64.S ;;
    *) ctx="" ;;
  esac
  for f in src/*.c src/*/*.c; do
    [ "$f" = src/core/ctx_ucontext.c ] && [ -n "$ctx" ] && continue
    # Built without TLS (tls_off.c): the reader is what is fuzzed here.
    case $f in src/io/tls.c | src/io/tls_ctx.c) continue ;; esac
    srcs+=("$f")
  done
  [ -n "$ctx" ] && srcs+=("$ctx") || flags+=(-DWEFT_USE_UCONTEXT=1)
  # shellcheck disable=SC2046 # pkg-config prints several words
  clang "${flags[@]}" -fsanitize-coverage-allowlist="$allow" \
        tests/fuzz/fuzz_stream_reader.c "${srcs[@]}" \
        $(pkg-config --libs libuv 2>/dev/null || echo -luv) -lpthread -lm \
        -o "$out/fuzz_stream_reader"
}

for t in "${targets[@]}"; do
  case "$t" in
    http)
      clang "${flags[@]}" tests/fuzz/fuzz_http_parse.c src/http/http_parse.c \
            -o "$out/fuzz_http_parse"
      bin=$out/fuzz_http_parse ;;
    stream)
      build_stream
      bin=$out/fuzz_stream_reader ;;
    *) echo "fuzz: unknown target '$t' (http, stream)" >&2; exit 2 ;;
  esac
  mkdir -p "$out/corpus-$t"
  echo "fuzz: $t for ${secs}s"
  # -timeout: a call that hangs is a finding too (the stream reader waits).
  "$bin" -max_total_time="$secs" -timeout=10 -artifact_prefix="$out/$t-" \
    -print_final_stats=1 "$out/corpus-$t" "tests/fuzz/corpus/$t" 2>&1 |
    grep -v '^#[0-9]' || true
done
# libFuzzer exits non-zero on a finding and leaves crash-* behind.
if ls "$out"/*crash-* "$out"/*leak-* "$out"/*timeout-* >/dev/null 2>&1; then
  echo "fuzz: findings in $out" >&2
  exit 1
fi
