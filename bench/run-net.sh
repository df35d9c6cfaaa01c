#!/usr/bin/env bash
# run-net.sh [BUILD_DIR] [ROUNDS]
#
# The network benchmarks: the TCP echo server (plain libuv ref_echo, then
# weft-bench echo-server at 1 and 2 workers, and 2 with --reuseport) under
# echoload, and the HTTP server (1 and 2 workers; then --work-us 1000) under
# wrk. Runs every case once per round, interleaved (A B C ... A B C ...) so
# that machine noise hits all alike, ROUNDS rounds (default 5), and prints
# the median of each case (and each weft echo case over ref_echo).
#
# Every server is pinned to SERVER_CPUS and every client to CLIENT_CPUS
# (taskset), so client and server do not fight over a core; on a 2-core
# machine the defaults put the server on CPU 1 and the client on CPU 0
# (then the 2-worker cases share one CPU: they measure what a second worker
# costs, not what it gains; give SERVER_CPUS two CPUs where there are more).
#
# Environment (defaults in brackets):
#   SERVER_CPUS [1]  CLIENT_CPUS [0]   taskset CPU lists
#   SECS [5]                           seconds per run
#   ECHO_CONNS [100]  ECHO_SIZE [64]   echoload connections, message bytes
#   HTTP_CONNS [100]                   wrk connections (-t1) for plain hello
#   WORK_US [1000]  WORK_CONNS [64]    the CPU-work case
#   ECHOLOAD_SRC [../shared/tools/echoload.c from the repository root]
#   WRK [wrk]                          installed with apt-get if missing
#   CASES                              a space-separated subset of the case
#                                      names below (default: all)
# Needs: the release build (weft-bench, ref_echo), cc, taskset, wrk.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build/release}" && pwd)
rounds=${2:-5}
server_cpus=${SERVER_CPUS:-1}
client_cpus=${CLIENT_CPUS:-0}
secs=${SECS:-5}
echo_conns=${ECHO_CONNS:-100}
echo_size=${ECHO_SIZE:-64}
http_conns=${HTTP_CONNS:-100}
work_us=${WORK_US:-1000}
work_conns=${WORK_CONNS:-64}
echoload_src=${ECHOLOAD_SRC:-$root/../shared/tools/echoload.c}
wrk=${WRK:-wrk}
bench="$build/bench/weft-bench"
ref="$build/bench/ref_echo"
echoload="$build/bench/echoload"

# name|client|server command (no --port: the server announces its port)
all_cases=(
  "echo-ref|echo|$ref"
  "echo-w1|echo|$bench echo-server --threads 1"
  "echo-w2|echo|$bench echo-server --threads 2"
  "echo-w2-reuseport|echo|$bench echo-server --threads 2 --reuseport"
  "http-w1|http|$bench http-server --threads 1"
  "http-w2|http|$bench http-server --threads 2"
  "http-work-w1|work|$bench http-server --threads 1 --work-us $work_us"
  "http-work-w2|work|$bench http-server --threads 2 --work-us $work_us"
)
cases=()
for c in "${all_cases[@]}"; do
  if [ -z "${CASES:-}" ] || [[ " $CASES " == *" ${c%%|*} "* ]]; then
    cases+=("$c")
  fi
done

tmp=$(mktemp -d /tmp/weft-run-net.XXXXXX)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

die() {
  echo "run-net: $*" >&2
  exit 1
}

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# -- tools --

[ -x "$bench" ] && [ -x "$ref" ] || die "build weft-bench and ref_echo in $build"
if ! command -v "$wrk" >/dev/null; then
  apt-get install -y wrk >/dev/null || die "wrk is missing (apt-get install wrk)"
fi
[ -f "$echoload_src" ] || die "no echoload source at $echoload_src"
cc -O2 -o "$echoload" "$echoload_src" || die "cannot build echoload"

# -- one run --

# Starts the server (pinned) and sets $port once it listens.
start_server() {
  # Emptied first: the poll below must not read the last server's port
  # before the server's shell truncates the file for this one.
  rm -f "$tmp/server.out"
  : >"$tmp/server.err"
  # shellcheck disable=SC2086
  taskset -c "$server_cpus" $1 >"$tmp/server.out" 2>"$tmp/server.err" &
  server_pid=$!
  for ((i = 0; i < 3000; i++)); do
    port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' \
      "$tmp/server.err" 2>/dev/null || true)
    [ -n "$port" ] && return 0
    kill -0 "$server_pid" 2>/dev/null || die "server died: $(cat "$tmp/server.err")"
    sleep 0.01
  done
  die "server did not listen: $1"
}

stop_server() {
  local rc=0
  kill -TERM "$server_pid"
  wait "$server_pid" || rc=$?
  server_pid=
  [ "$rc" -eq 0 ] || die "server exited $rc: $(cat "$tmp/server.err")"
}

# Runs the client; prints "<throughput> <mean latency in µs>".
run_client() {
  local kind=$1 out
  case $kind in
  echo)
    out=$(taskset -c "$client_cpus" "$echoload" "$port" "$echo_conns" \
      "$secs" "$echo_size" run)
    [[ "$out" == *'"errors":0'* ]] || die "echoload errors: $out"
    echo "$(sed -n 's/.*"rtt_per_sec":\([^,]*\).*/\1/p' <<<"$out")" \
      "$(sed -n 's/.*"lat_mean_us":\([^,]*\).*/\1/p' <<<"$out")"
    ;;
  http | work)
    local c=$http_conns
    [ "$kind" = work ] && c=$work_conns
    out=$(taskset -c "$client_cpus" "$wrk" -t1 -c"$c" -d"${secs}s" \
      "http://127.0.0.1:$port/")
    if grep -q -E "Non-2xx|Socket errors" <<<"$out"; then
      die "wrk reports errors: $out"
    fi
    awk '/Requests\/sec:/ {r = $2}
         /^ +Latency/ {l = $2; u = l; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", l);
                       l *= (u == "ms" ? 1000 : u == "s" ? 1e6 : 1)}
         END {print r, l}' <<<"$out"
    ;;
  esac
}

# -- the rounds --

for ((r = 1; r <= rounds; r++)); do
  for c in "${cases[@]}"; do
    IFS='|' read -r name kind cmd <<<"$c"
    start_server "$cmd"
    run_client "$kind" >>"$tmp/$name"
    stop_server
    echo "round $r $name: $(tail -n 1 "$tmp/$name")" >&2
  done
done

printf '%-18s %14s %14s  %s\n' case median_per_s median_lat_us "vs echo-ref"
ref_med=
for c in "${cases[@]}"; do
  name=${c%%|*}
  thr=$(awk '{print $1}' "$tmp/$name" | median)
  lat=$(awk '{print $2}' "$tmp/$name" | median)
  [ "$name" = echo-ref ] && ref_med=$thr
  ratio=
  if [[ "$name" == echo-* && -n "$ref_med" && "$name" != echo-ref ]]; then
    ratio=$(awk -v a="$thr" -v b="$ref_med" 'BEGIN {printf "%.3f", a / b}')
  fi
  printf '%-18s %14.1f %14.1f  %s\n' "$name" "$thr" "$lat" "$ratio"
done
echo "(rounds $rounds, $secs s each; server on CPUs $server_cpus, client on" \
  "CPUs $client_cpus; echo: $echo_conns conns x $echo_size B;" \
  "http: wrk -t1 -c$http_conns; work: --work-us $work_us, wrk -t1 -c$work_conns)"
