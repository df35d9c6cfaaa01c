#!/usr/bin/env bash
# run-all.sh [--net] [BUILD_DIR] [RUNS]
# run-all.sh --plot DATA_FILE
#
# The whole weft-bench CPU suite over a range of worker counts, as data and
# as a scaling plot. Runs bench/run-suite.sh (RUNS runs of every benchmark,
# default 5, the thread counts interleaved, medians) at every thread count
# in THREADS, writes the medians with the speed-up over 1 thread to
# build/bench-results/scaling-<date>.dat, and renders "speed-up vs threads"
# for PLOT_BENCHES (and the ideal, speed-up = threads) with gnuplot into
# PLOT. --plot renders PLOT again from a data file this script wrote,
# without running anything.
#
# --net also runs bench/run-net.sh (RUNS rounds; its own environment, see
# there, except NET_CASES below) and keeps its table in build/bench-results/net-<date>.txt; the
# network cases are not plotted.
#
# Environment (defaults in brackets):
#   THREADS ["1 2 ... nproc"]   thread counts, space-separated (sorted,
#                               and 1, the speed-up's base, always added)
#   CASES [all]                 a subset of run-suite.sh's benchmarks
#   NET_CASES [all]             a subset of run-net.sh's cases (its CASES)
#   PLOT_BENCHES ["fib spawn yield chain pingpong"]
#   PLOT [docs/perf-scaling.png] the PNG written (relative to the cwd)
#   RESULTS [build/bench-results] where the data files go
#   QUIET_BUSY [15]  QUIET_MAX [120]  before the suite, wait up to QUIET_MAX
#                               s until the machine was at most QUIET_BUSY %
#                               busy over one second (as run-net.sh does);
#                               the data file records the last reading
# Needs: the release build (weft-bench, ref_fib); gnuplot for the plot
# (installed with apt-get, as root, if missing: gnuplot-nox; without it the
# data is still written and the plot is skipped).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
results=${RESULTS:-build/bench-results}
plot=${PLOT:-docs/perf-scaling.png}
plot_benches=${PLOT_BENCHES:-fib spawn yield chain pingpong}

die() {
  echo "run-all: $*" >&2
  exit 1
}

# -- the plot --

have_gnuplot() {
  command -v gnuplot >/dev/null && return 0
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "run-all: installing gnuplot-nox" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      gnuplot-nox >/dev/null 2>&1 || true
  fi
  command -v gnuplot >/dev/null
}

# render_plot DATA PNG: one line per benchmark of PLOT_BENCHES found in
# DATA (a block per benchmark, "# bench <name>" before it, columns
# threads median_s ns_per_op speedup), and the ideal line.
render_plot() {
  local dat=$1 png=$2 term title plots="" b idx maxt n=0
  # Distinct, readable on white (matplotlib's tab10).
  local colors=('#1f77b4' '#ff7f0e' '#2ca02c' '#d62728' '#9467bd' '#8c564b'
    '#e377c2' '#7f7f7f' '#bcbd22' '#17becf')
  if ! have_gnuplot; then
    echo "run-all: no gnuplot (apt-get install gnuplot-nox): plot skipped" >&2
    return 0
  fi
  if gnuplot -e 'set terminal' 2>&1 | grep -q pngcairo; then
    term="pngcairo size 900,600 enhanced font 'sans,11'"
  else
    term="png size 900,600"
  fi
  title=$(sed -n 's/^# machine: //p' "$dat" | head -n 1)
  maxt=$(awk '!/^#/ && NF {if ($1 > m) m = $1} END {print m + 0}' "$dat")
  [ "$maxt" -ge 1 ] || die "no data in $dat"
  for b in $plot_benches; do
    # gnuplot's index: the block's number, counting from 0.
    idx=$(awk -v b="$b" '/^# bench / {if ($3 == b) {print n + 0; exit} n++}' "$dat")
    [ -n "$idx" ] || continue
    plots+="'$dat' index $idx using 1:4 with linespoints linewidth 2"
    plots+=" pointsize 1.2 linecolor rgb '${colors[n % ${#colors[@]}]}' title '$b', "
    n=$((n + 1))
  done
  [ -n "$plots" ] || die "none of '$plot_benches' is in $dat"
  mkdir -p "$(dirname "$png")"
  gnuplot <<EOF
set terminal $term
set output '$png'
set title "weft-bench speed-up over 1 worker thread\n{/*0.8 $title}"
set xlabel 'worker threads (--threads)'
set ylabel 'speed-up (median time at 1 thread / at N)'
set key top left
set grid
set xrange [1:$((maxt > 1 ? maxt : 2))]
set xtics 1
set yrange [0:*]
plot $plots x title 'ideal (= threads)' with lines dashtype 2 linecolor 'gray40'
EOF
  echo "run-all: plot in $png" >&2
}

if [ "${1:-}" = --plot ]; then
  [ -f "${2:-}" ] || die "usage: run-all.sh --plot DATA_FILE"
  render_plot "$2" "$plot"
  exit 0
fi

# -- the runs --

# How busy every CPU together was over the next second, in percent.
cpu_busy() {
  local a b total=0 idle k
  read -r -a a </proc/stat
  sleep 1
  read -r -a b </proc/stat
  for k in 1 2 3 4 5 6 7 8; do
    total=$((total + b[k] - a[k]))
  done
  idle=$((b[4] - a[4] + b[5] - a[5]))
  echo $(((total - idle) * 100 / (total > 0 ? total : 1)))
}

net=0
if [ "${1:-}" = --net ]; then
  net=1
  shift
fi
build=${1:-build/release}
runs=${2:-5}
if [ ! -x "$build/bench/weft-bench" ] || [ ! -x "$build/bench/ref_fib" ]; then
  die "build weft-bench and ref_fib in $build first"
fi

# Sorted, each once, with 1 (the speed-up's base) always in.
# shellcheck disable=SC2086 # split on purpose: a list of numbers
threads=$(printf '%s\n' 1 ${THREADS:-$(seq 1 "$(nproc)")} | sort -n -u | tr '\n' ' ')
threads=${threads% }

mkdir -p "$results"
stamp=$(date -u +%Y%m%d-%H%M%S)
dat="$results/scaling-$stamp.dat"
raw="$results/scaling-$stamp.txt"
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
machine="$(nproc) CPUs, ${cpu:-unknown CPU}, $(uname -sr)"

t0=$SECONDS
busy=$(cpu_busy)
while [ "$busy" -gt "${QUIET_BUSY:-15}" ] && [ $((SECONDS - t0)) -lt "${QUIET_MAX:-120}" ]; do
  busy=$(cpu_busy)
done
echo "run-all: run-suite.sh, threads $threads, $runs runs (busy before: $busy%)" >&2
THREADS="$threads" CASES="${CASES:-}" "$root/bench/run-suite.sh" "$build" "$runs" | tee "$raw"

# run-suite.sh prints "bench threads median_s ns_per_op" rows; regroup them
# into one block per benchmark (two blank lines between: gnuplot's index)
# with the speed-up over the benchmark's 1-thread median.
{
  echo "# weft-bench scaling: bench/run-all.sh $build $runs (THREADS=\"$threads\")"
  echo "# machine: $machine"
  echo "# date: $(date -u '+%Y-%m-%d %H:%M UTC'), commit:" \
    "$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "# machine busy before the run: $busy% (over 1 s, every CPU)"
  echo "# medians of $runs runs; speedup = median_s at 1 thread / median_s"
  awk 'NR > 1 && $1 != "fib-ref" && NF >= 4 {
         if (!($1 in seen)) {seen[$1] = 1; order[++n] = $1}
         rows[$1] = rows[$1] $2 " " $3 " " $4 "\n"
         if ($2 == 1) base[$1] = $3
       }
       END {
         for (i = 1; i <= n; i++) {
           b = order[i]
           if (i > 1) printf "\n\n"
           printf "# bench %s\n# threads median_s ns_per_op speedup\n", b
           m = split(rows[b], line, "\n")
           for (k = 1; k < m; k++) {
             split(line[k], f, " ")
             printf "%s %s %s %.3f\n", f[1], f[2], f[3], base[b] / f[2]
           }
         }
       }' "$raw"
  sed -n 's/^fib-ref *1 *\([0-9.]*\).*/# fib-ref (plain C, bench\/ref_fib.c): \1 s/p' "$raw"
} >"$dat"
echo "run-all: data in $dat" >&2

if [ "$net" = 1 ]; then
  CASES="${NET_CASES:-}" "$root/bench/run-net.sh" "$build" "$runs" | tee "$results/net-$stamp.txt"
fi

render_plot "$dat" "$plot"
