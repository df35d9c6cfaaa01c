/* weft-bench stranded: how long work waits behind a computation.
 *
 * Two tasks move to worker 0: a victim and a hog. The victim yields (or
 * sleeps 1 ms) in a loop; the hog computes `ms` milliseconds without any
 * await, `rounds` times, yielding in between. The other workers are idle.
 * The victim records the longest gap between two of its resumptions: what
 * its yield or sleep waited behind the hog. Printed as "max_wait_ms"
 * (result: the victim's rounds). Before the driver (docs/design.md, "A busy
 * worker strands nothing") the gap was the whole computation.
 */
#include <stdatomic.h>
#include <stdio.h>

#include "bench.h"
#include "core/worker.h"
#include "io/io.h"

enum { kYieldVictim = 0, kSleepVictim = 1 };
static const char* const kVictims[] = {"yield", "sleep", NULL};

typedef struct {
  uint64_t ms;
  uint64_t rounds;
  int sleeper;
  atomic_int victim_ready;
  atomic_int hog_done;
  uint64_t max_gap_ns;
  uint64_t victim_rounds;
} scene_t;

static void to_worker0(void) {
  weft__io_move_to(weft_current_runtime()->workers[0]);
  weft__io_leave();
}

static int victim(void* arg, void** result) {
  scene_t* s = arg;
  (void)result;
  to_worker0();
  atomic_store(&s->victim_ready, 1);
  uint64_t last = bench_now_ns();
  while (!atomic_load(&s->hog_done)) {
    int err = s->sleeper ? weft_sleep_ms(1) : weft_yield();
    if (err != 0)
      return err;
    uint64_t now = bench_now_ns();
    if (now - last > s->max_gap_ns)
      s->max_gap_ns = now - last;
    last = now;
    s->victim_rounds++;
  }
  return 0;
}

static int hog(void* arg, void** result) {
  scene_t* s = arg;
  volatile uint64_t sink = 1;
  (void)result;
  to_worker0();
  while (!atomic_load(&s->victim_ready))
    weft_yield();
  for (uint64_t r = 0; r < s->rounds; r++) {
    to_worker0(); /* a yield may have let another worker take us */
    uint64_t end = bench_now_ns() + s->ms * 1000000u;
    while (bench_now_ns() < end)
      for (int i = 0; i < 1000; i++)
        sink = sink * 6364136223846793005ull + 1;
    weft_yield();
  }
  atomic_store(&s->hog_done, 1);
  return 0;
}

static int run_stranded(const uint64_t* p, bench_result_t* out) {
  scene_t s = {.ms = p[0], .rounds = p[1], .sleeper = p[2] == kSleepVictim};
  weft_task_t* t[2];
  int err;
  if (weft_runtime_workers(weft_current_runtime()) < 2)
    return bench_wrong("stranded", "needs --threads 2 or more");
  uint64_t t0 = bench_now_ns();
  if ((err = weft_spawn(NULL, victim, &s, NULL, &t[0])) != 0)
    return bench_error("stranded: spawn", err);
  if ((err = weft_spawn(NULL, hog, &s, NULL, &t[1])) != 0)
    return bench_error("stranded: spawn", err);
  int status = 0;
  for (int i = 0; i < 2; i++) {
    int st = weft_await(t[i], NULL);
    if (st != 0)
      status = st;
    weft_task_release(t[i]);
  }
  out->seconds = bench_since(t0);
  if (status != 0)
    return bench_error("stranded", status);
  out->ops = s.rounds;
  out->result = s.victim_rounds;
  snprintf(out->extra, sizeof(out->extra), ",\"max_wait_ms\":%.3f",
           (double)s.max_gap_ns / 1e6);
  return 0;
}

const bench_t bench_stranded = {
    .name = "stranded",
    .help = "a yielder or 1 ms sleeper beside a task computing ms without "
            "awaiting, on worker 0; max_wait_ms = its longest wait",
    .run = run_stranded,
    .params = {{"ms", 300, 60000},
               {"rounds", 5, 1000},
               {"victim", kYieldVictim, 1, .names = kVictims}},
    .threads = 2,
};
