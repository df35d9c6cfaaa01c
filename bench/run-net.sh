#!/usr/bin/env bash
# run-net.sh [BUILD_DIR] [ROUNDS]
#
# The network benchmarks: the TCP echo server (plain libuv ref_echo, then
# weft-bench echo-server at 1 and 2 workers, and 2 with --reuseport) under
# echoload, and the HTTP server (1 and 2 workers; then --work-us 1000, then
# --delay-ms 10) under wrk. Runs every case once per round, interleaved (A B C ... A B C ...) so
# that machine noise hits all alike, ROUNDS rounds (default 5), and prints
# the median of each case: throughput, mean latency and the server's CPU
# microseconds per operation (round trip or request), and each weft echo
# case over ref_echo. All medians are per column, over the rounds.
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
#   DELAY_MS [10]                      the sleeping case (HTTP_CONNS conns)
#   WRK [wrk]                          installed with apt-get if missing
#                                      (only when an HTTP case runs)
#   CASES                              a space-separated subset of the case
#                                      names below (default: all)
#   QUIET_BUSY [15]  QUIET_MAX [120]   before each run, wait up to QUIET_MAX
#                                      s until the machine was at most
#                                      QUIET_BUSY % busy over one second (a
#                                      shared machine); the log shows it
# Needs: the release build (weft-bench, ref_echo and echoload, the load
# generator built from bench/echoload.c), taskset, and wrk for the HTTP
# cases.
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
delay_ms=${DELAY_MS:-10}
wrk=${WRK:-wrk}
quiet_busy=${QUIET_BUSY:-15}
quiet_max=${QUIET_MAX:-120}
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
  "http-delay-w1|http|$bench http-server --threads 1 --delay-ms $delay_ms"
  "http-delay-w2|http|$bench http-server --threads 2 --delay-ms $delay_ms"
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

[ -x "$bench" ] && [ -x "$ref" ] && [ -x "$echoload" ] ||
  die "build weft-bench, ref_echo and echoload in $build"
if [[ " ${cases[*]} " == *"|http|"* || " ${cases[*]} " == *"|work|"* ]] &&
  ! command -v "$wrk" >/dev/null; then
  apt-get install -y wrk >/dev/null || die "wrk is missing (apt-get install wrk)"
fi

# -- one run --

# How busy every CPU together was over the next second, in percent.
cpu_busy() {
  local a b total=0 idle
  read -r -a a </proc/stat
  sleep 1
  read -r -a b </proc/stat
  for k in 1 2 3 4 5 6 7 8; do
    total=$((total + b[k] - a[k]))
  done
  idle=$((b[4] - a[4] + b[5] - a[5]))
  echo $(((total - idle) * 100 / (total > 0 ? total : 1)))
}

# Waits for a quiet machine (QUIET_BUSY, QUIET_MAX); sets $busy to the last
# reading, which the round's log line shows.
wait_quiet() {
  local t0=$SECONDS
  busy=$(cpu_busy)
  while [ "$busy" -gt "$quiet_busy" ] && [ $((SECONDS - t0)) -lt "$quiet_max" ]; do
    busy=$(cpu_busy)
  done
}

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

# Runs the client; prints "<throughput> <mean latency in µs> <operations>".
run_client() {
  local kind=$1 out
  case $kind in
  echo)
    out=$(taskset -c "$client_cpus" "$echoload" "$port" "$echo_conns" \
      "$secs" "$echo_size" run) || die "echoload failed: $out"
    [[ "$out" == *'"errors":0'* ]] || die "echoload errors: $out"
    echo "$(sed -n 's/.*"rtt_per_sec":\([^,]*\).*/\1/p' <<<"$out")" \
      "$(sed -n 's/.*"lat_mean_us":\([^,]*\).*/\1/p' <<<"$out")" \
      "$(sed -n 's/.*"round_trips":\([^,]*\).*/\1/p' <<<"$out")"
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
         / requests in / {n = $1}
         /^ +Latency/ {l = $2; u = l; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", l);
                       l *= (u == "ms" ? 1000 : u == "s" ? 1e6 : 1)}
         END {print r, l, n}' <<<"$out"
    ;;
  esac
}

# -- the rounds --

for ((r = 1; r <= rounds; r++)); do
  for c in "${cases[@]}"; do
    IFS='|' read -r name kind cmd <<<"$c"
    wait_quiet
    start_server "$cmd"
    read -r thr lat ops < <(run_client "$kind")
    stop_server
    # The server's CPU time per operation: what a busy machine distorts
    # far less than the throughput.
    cpu=$(sed -n 's/.*"cpu_s":\([^,}]*\).*/\1/p' "$tmp/server.out")
    cpu_op=$(awk -v c="$cpu" -v n="$ops" 'BEGIN {printf "%.3f", c * 1e6 / n}')
    echo "$thr $lat $cpu_op" >>"$tmp/$name"
    echo "round $r $name: $thr/s, $lat us, $cpu_op cpu-us/op" \
      "(busy before: $busy%)" >&2
  done
done

printf '%-18s %12s %9s %10s  %s\n' case per_s lat_us cpu_us_op \
  "vs echo-ref (per_s, cpu)"
ref_thr=
ref_cpu=
for c in "${cases[@]}"; do
  name=${c%%|*}
  thr=$(awk '{print $1}' "$tmp/$name" | median)
  lat=$(awk '{print $2}' "$tmp/$name" | median)
  cpu=$(awk '{print $3}' "$tmp/$name" | median)
  if [ "$name" = echo-ref ]; then
    ref_thr=$thr
    ref_cpu=$cpu
  fi
  ratio=
  if [[ "$name" == echo-* && -n "$ref_thr" && "$name" != echo-ref ]]; then
    ratio=$(awk -v a="$thr" -v b="$ref_thr" -v c="$cpu" -v d="$ref_cpu" \
      'BEGIN {printf "%.3f %.3f", a / b, c / d}')
  fi
  printf '%-18s %12.1f %9.1f %10.3f  %s\n' "$name" "$thr" "$lat" "$cpu" "$ratio"
done
echo "(rounds $rounds, $secs s each; server on CPUs $server_cpus, client on" \
  "CPUs $client_cpus; echo: $echo_conns conns x $echo_size B;" \
  "http: wrk -t1 -c$http_conns; work: --work-us $work_us, wrk -t1 -c$work_conns;" \
  "delay: --delay-ms $delay_ms, wrk -t1 -c$http_conns)"
