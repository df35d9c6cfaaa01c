/* weft-bench pingpong: pairs of tasks passing a turn back and forth.
 *
 * A yield-based exchange until the sync issue brings public channels: the
 * public API has no primitive yet that parks a task until another task
 * signals it (only await, sleep and yield), so each side waits for its turn
 * by calling weft_yield() until the pair's sequence number reaches it. That
 * measures a round trip through the scheduler (two hand-offs, each seen after
 * one or more yields), not a channel; replace it with the public channel when
 * there is one, and keep the parameters and the output.
 */
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "bench.h"

/* One pair's shared state, a cache line each so that pairs on different
 * workers do not slow each other down. */
typedef struct pp_pair_s {
  /* Hand-offs so far: even means it is ping's turn, odd pong's. Each side
   * stores it only when it is its turn; both read it. */
  alignas(64) _Atomic uint64_t seq;
} pp_pair_t;

/* What one side's task gets. Written before the spawn, read-only after. */
typedef struct pp_side_s {
  pp_pair_t* pair;
  uint64_t parity; /* 0: ping, which moves first; 1: pong */
  uint64_t rounds;
} pp_side_t;

/* Yields until the pair's sequence number is `want`. */
static int wait_turn(pp_pair_t* pair, uint64_t want) {
  /* acquire: pairs with the peer's release store in side_task(), so what the
   * peer did before passing the turn is visible here. */
  while (atomic_load_explicit(&pair->seq, memory_order_acquire) != want) {
    int err = weft_yield();
    if (err != 0)
      return err;
  }
  return 0;
}

static int side_task(void* arg, void** result) {
  const pp_side_t* s = arg;
  uint64_t r;
  int err = 0;

  for (r = 0; r < s->rounds; r++) {
    uint64_t mine = 2 * r + s->parity;
    err = wait_turn(s->pair, mine);
    if (err != 0)
      break;
    /* release: passes the turn; pairs with the peer's acquire load in
     * wait_turn(). */
    atomic_store_explicit(&s->pair->seq, mine + 1, memory_order_release);
  }
  *result = (void*)(uintptr_t)r;
  return err;
}

/* Checks every pair made all its hand-offs. Returns 0, or 1 after saying
 * which did not. */
static int check_pairs(pp_pair_t* pairs, size_t n, uint64_t rounds) {
  for (size_t i = 0; i < n; i++) {
    /* relaxed: every side task has been joined, which ordered its stores. */
    uint64_t seq = atomic_load_explicit(&pairs[i].seq, memory_order_relaxed);
    if (seq != 2 * rounds)
      return bench_wrong("pingpong", "pair %zu made %llu hand-offs, not %llu",
                         i, (unsigned long long)seq,
                         (unsigned long long)(2 * rounds));
  }
  return 0;
}

/* Sides 2i (ping) and 2i+1 (pong) play on pairs[i]: spawned next to each
 * other, so a pair tends to start on one worker. */
static void setup(pp_pair_t* pairs, pp_side_t* sides, size_t n,
                  uint64_t rounds) {
  for (size_t i = 0; i < 2 * n; i++) {
    if (i % 2 == 0)
      atomic_init(&pairs[i / 2].seq, 0);
    sides[i] =
        (pp_side_t){.pair = &pairs[i / 2], .parity = i % 2, .rounds = rounds};
  }
}

static int play(pp_side_t* sides, size_t n, weft_task_t** h,
                bench_result_t* out) {
  uint64_t sum = 0;
  size_t spawned;
  int err;
  int status;
  uint64_t t0 = bench_now_ns();

  spawned =
      bench_spawn_n(side_task, (char*)sides, sizeof(*sides), 2 * n, h, &err);
  status = bench_join(h, spawned, &sum);
  out->seconds = bench_since(t0);
  out->result = sum / 2;
  if (err == 0)
    err = status;
  return err != 0 ? bench_error("pingpong", err) : 0;
}

static int run_pingpong(const uint64_t* p, bench_result_t* out) {
  size_t n = p[0];
  uint64_t rounds = p[1];
  pp_pair_t* pairs = aligned_alloc(alignof(pp_pair_t), n * sizeof(*pairs));
  pp_side_t* sides = malloc(2 * n * sizeof(*sides));
  weft_task_t** h = malloc(2 * n * sizeof(*h));
  int err = WEFT_ENOMEM;

  if (pairs != NULL && sides != NULL && h != NULL) {
    setup(pairs, sides, n, rounds);
    err = play(sides, n, h, out);
    if (err == 0)
      err = check_pairs(pairs, n, rounds);
  } else {
    bench_error("pingpong: pairs", err);
  }
  free(h);
  free(sides);
  free(pairs);
  out->ops = n * rounds;
  return err;
}

const bench_t bench_pingpong = {
    .name = "pingpong",
    .help = "pairs of tasks make round trips (yield-based for now); "
            "ops = pairs*rounds",
    .run = run_pingpong,
    .params = {{"pairs", 1000, 1u << 24}, {"rounds", 100, 1u << 30}},
};
