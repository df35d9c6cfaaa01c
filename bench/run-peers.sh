#!/usr/bin/env bash
# run-peers.sh [BUILD_DIR] [REPS]
# weft beside the peer runtimes (tokio, Go, oneTBB, OpenMP) on the same
# benchmarks, interleaved, warm and cold, at 1 and 2 threads (THREADS),
# with the yield sweep (10..10,000 tasks) and the ping-pong sweep (1..1,000
# pairs). Prints markdown tables of median ns per unit (bench/peers.py).
#
# The peers' programs are not part of this repository. Point PEERS_DIR at a
# folder holding them in the layout peers.py expects (cpu/run.sh that builds
# cpu/build/bench_tokio, bench_go, ...): it is copied to BUILD_DIR/peers and
# built there (Go, cargo with Debian's tokio crates, g++ with oneTBB, clang
# with libomp). Without PEERS_DIR, or without python3, this prints why and
# exits 0: nothing else in the repository needs the peers.
set -euo pipefail
build=${1:-build/release}
reps=${2:-5}
bench="$build/bench/weft-bench"
if [ -z "${PEERS_DIR:-}" ] || [ ! -x "${PEERS_DIR}/cpu/run.sh" ]; then
  echo "run-peers.sh: no peer programs (set PEERS_DIR to their folder); skipped"
  exit 0
fi
if ! command -v python3 >/dev/null; then
  echo "run-peers.sh: python3 is needed to drive the peers; skipped"
  exit 0
fi
if [ ! -x "$bench" ]; then
  echo "run-peers.sh: $bench not built (cmake --preset release && cmake --build --preset release)" >&2
  exit 1
fi
work="$build/peers"
if [ ! -x "$work/cpu/build/bench_tokio" ]; then
  rm -rf "$work"
  cp -r "$PEERS_DIR" "$work"
  chmod -R u+w "$work"
  # cargo offline on Debian's crate registry (librust-tokio-dev).
  cfg="$work/cpu/src/rust/.cargo/config.toml"
  mkdir -p "$(dirname "$cfg")"
  [ -f "$cfg" ] || printf '%s\n' '[source.crates-io]' 'replace-with = "debian"' \
    '[source.debian]' 'directory = "/usr/share/cargo/registry"' \
    '[net]' 'offline = true' >"$cfg"
  "$work/cpu/run.sh" build
fi
echo "# weft beside the peers: $(uname -m), $(nproc) CPUs, $(date -u +%F)"
exec python3 "$(dirname "$0")/peers.py" "$bench" "$work/cpu/build" "$reps"
