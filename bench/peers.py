#!/usr/bin/env python3
"""weft-bench beside the peer runtimes' programs, interleaved (run-peers.sh).

usage: peers.py WEFT_BENCH PEER_BIN_DIR [REPS]

Each case runs weft and every peer that has it once per round (A B C A B C
...), REPS rounds, warm (--warmup 1 / WARMUP=1: the body once untimed in
the same process) and cold (--warmup 0 / WARMUP=0), at 1 and 2 threads
(THREADS, MODES="warm cold" and CASES="yield pingpong ..." to change).
Prints one markdown table per mode: median ns per
unit, and weft's ratio to the best peer (below 1: weft is faster). A peer
program takes `<bench> <threads> <params...>` and prints one JSON line with
"seconds", as weft-bench does (docs/benchmarks.md).
"""
import json
import os
import statistics
import subprocess
import sys

weft = sys.argv[1]
bindir = sys.argv[2]
reps = int(sys.argv[3]) if len(sys.argv) > 3 else 5
threads = [int(t) for t in os.environ.get("THREADS", "1 2").split()]
only = os.environ.get("CASES", "").split()

# label, weft args, peer args (bench name first), units, peers that have it
Y = 1000000  # yields in every yield case, spread over the tasks
CASES = [
    ("fib 30", ["fib", "--n", "30"], ["fib", "30"], 1346268,
     ["tokio", "go", "tbb", "omp-llvm"]),
    ("spawn 1M detached", ["spawn", "--m", "1000000", "--detach"],
     ["spawn_many", "1000000"], 1000000, ["tokio", "go", "tbb", "omp-llvm"]),
    ("spawn 1M joined", ["spawn", "--m", "1000000"],
     ["spawn_many_join", "1000000"], 1000000, ["tokio"]),
    ("chain 100k", ["chain", "--depth", "100000"],
     ["chained_spawn", "100000"], 100000, ["tokio", "go", "tbb"]),
] + [
    (f"yield {t} tasks", ["yield", "--tasks", str(t), "--yields", str(Y // t)],
     ["yield_many", str(t), str(Y // t)], Y, ["tokio", "go"])
    for t in (10, 100, 1000, 10000)
] + [
    (f"pingpong {p} pairs", ["pingpong", "--pairs", str(p), "--rounds",
                             str(100000 // p)],
     ["ping_pong", str(p), str(100000 // p)], 100000, ["tokio", "go"])
    for p in (1, 100, 1000)
]
PEERS = {"tokio": "bench_tokio", "go": "bench_go", "tbb": "bench_tbb",
         "omp-llvm": "bench_omp_llvm"}


def once(cmd, warm):
    env = dict(os.environ, WARMUP=str(warm))
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, env=env,
                             timeout=300).stdout.strip().splitlines()
        return json.loads(out[-1])["seconds"] if out else None
    except (subprocess.TimeoutExpired, ValueError, KeyError, IndexError):
        return None


def table(warm):
    names = ["weft"] + list(PEERS)
    mode = "warm (--warmup 1)" if warm else "cold (--warmup 0)"
    print(f"\n### {mode}, median of {reps}, ns per unit\n")
    print("| case | threads | " + " | ".join(names) + " | weft / best |")
    print("|---|---" + "|---" * len(names) + "|---|")
    for t in threads:
        for label, wargs, pargs, units, has in CASES:
            if only and wargs[0] not in only:
                continue
            cmds = {"weft": [weft] + wargs + ["--threads", str(t),
                                              "--warmup", str(warm)]}
            for p in has:
                b = os.path.join(bindir, PEERS[p])
                if os.access(b, os.X_OK):
                    cmds[p] = [b, pargs[0], str(t)] + pargs[1:]
            times = {k: [] for k in cmds}
            for _ in range(reps):
                for k, c in cmds.items():
                    s = once(c, warm)
                    if s is not None:
                        times[k].append(s)
            med = {k: statistics.median(v) * 1e9 / units
                   for k, v in times.items() if v}
            peers = {k: v for k, v in med.items() if k != "weft"}
            best = min(peers, key=peers.get) if peers else None
            ratio = (f"{med['weft'] / peers[best]:.2f} ({best})"
                     if best and "weft" in med else "—")
            cells = [f"{med[n]:.0f}" if n in med else "—" for n in names]
            print(f"| {label} | {t} | " + " | ".join(cells) + f" | {ratio} |",
                  flush=True)


for mode in os.environ.get("MODES", "warm cold").split():
    table(1 if mode == "warm" else 0)
