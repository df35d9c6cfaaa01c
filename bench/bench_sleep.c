/* weft-bench sleep: many tasks sleeping at once.
 *
 * The ideal wall time is `ms`: what goes beyond it is the cost of spawning,
 * arming, firing and joining that many sleepers. "rss_per_task_kb" (printed
 * after "result") is the growth of the peak resident set over the body,
 * divided by the tasks: what one sleeping task costs in memory, stack page
 * and handle included.
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

static int sleep_task(void* arg, void** result) {
  const uint64_t* ms = arg;
  int err = weft_sleep_ms(*ms);

  *result = (void*)(uintptr_t)(err == 0);
  return err;
}

static int run_sleep(const uint64_t* p, bench_result_t* out) {
  size_t tasks = p[0];
  uint64_t ms = p[1];
  weft_task_t** h = malloc(tasks * sizeof(*h));
  uint64_t woke = 0;
  long rss0;
  size_t n;
  int err;
  int status;
  uint64_t t0;

  if (h == NULL)
    return bench_error("sleep: handles", WEFT_ENOMEM);
  rss0 = bench_max_rss_kb();
  t0 = bench_now_ns();
  /* Every task gets the same &ms: stride 0. */
  n = bench_spawn_n(sleep_task, (char*)&ms, 0, tasks, h, &err);
  status = bench_join(h, n, &woke);
  out->seconds = bench_since(t0);
  free(h);
  if (err != 0 || status != 0)
    return bench_error("sleep", err != 0 ? err : status);
  if (woke != tasks)
    return bench_wrong("sleep", "%llu of %zu tasks woke",
                       (unsigned long long)woke, tasks);
  out->ops = tasks;
  out->result = woke;
  snprintf(out->extra, sizeof(out->extra), ",\"rss_per_task_kb\":%.3g",
           (double)(bench_max_rss_kb() - rss0) / (double)tasks);
  return 0;
}

const bench_t bench_sleep = {
    .name = "sleep",
    .help = "tasks sleep ms at once; ideal seconds = ms/1000; ops = tasks",
    .repeatable = 1,
    .run = run_sleep,
    .params = {{"tasks", 100000, 1u << 26}, {"ms", 1000, 86400000}},
};
