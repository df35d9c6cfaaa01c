/* weft_runtime_metrics: a snapshot of the runtime's counters, read from
 * any thread without stopping a worker.
 *
 * DESIGN
 * Each worker counter (worker.h) has one writer, the worker's own thread,
 * which adds 1 with a relaxed load and store (weft__worker_count): no
 * read-modify-write, no fence, nothing shared written on the spawn, run or
 * steal paths beyond the worker's own line. A reader loads each counter
 * relaxed: it gets a whole value that some moment of the run had, which
 * is all a statistic needs. Nothing else is ordered by these counters, so
 * nothing stronger is paid for.
 *
 * The task counts come from weft__runtime_counts (shutdown.c), which reads
 * the finished counts before the spawned ones, so alive never goes
 * negative. The queue depths are the hints the scheduler itself uses. The
 * executor's figures come from weft_blocking_stats, under its lock. */
#include <string.h>

#include "base/common.h"
#include "core/worker.h"

static void worker_metrics(weft__worker_t* w, weft_worker_metrics_t* m) {
  /* relaxed (all six): owner-only counters with no data hanging on them;
   * an untorn, possibly slightly old value is the contract (file
   * comment). */
  m->tasks_run = atomic_load_explicit(&w->n_run, memory_order_relaxed);
  /* relaxed: as above. */
  m->steals = atomic_load_explicit(&w->n_stolen, memory_order_relaxed);
  /* relaxed: as above. */
  m->parks = atomic_load_explicit(&w->n_parks, memory_order_relaxed);
  /* relaxed: as above. */
  m->wakeups = atomic_load_explicit(&w->n_wakeups, memory_order_relaxed);
  /* relaxed: as above. */
  m->io_callbacks =
      atomic_load_explicit(&w->n_io_callbacks, memory_order_relaxed);
  /* relaxed: as above (written by the worker itself, driver.c). */
  m->loops_served = atomic_load_explicit(&w->n_drives, memory_order_relaxed);
  m->local_queue_depth = (uint64_t)weft__deque_len(&w->deque);
  /* relaxed: only whether the LIFO slot is full, as a hint. */
  if (atomic_load_explicit(&w->lifo, memory_order_relaxed) != NULL)
    m->local_queue_depth++;
}

int weft_runtime_metrics(const weft_runtime_t* rt, weft_metrics_t* out,
                         weft_worker_metrics_t* workers, size_t nworkers_cap) {
  weft_blocking_stats_t bs;
  uint64_t spawned, finished;
  if (rt == NULL || out == NULL)
    return WEFT_EINVAL;
  if (workers != NULL && nworkers_cap < rt->nworkers)
    return WEFT_EINVAL;
  if (weft_blocking_stats(rt, &bs) != 0)
    return WEFT_EINVAL; /* the runtime is being freed */
  weft__runtime_counts(rt, &spawned, &finished);
  memset(out, 0, sizeof(*out));
  out->nworkers = rt->nworkers;
  out->tasks_spawned = spawned;
  out->tasks_finished = finished;
  out->tasks_alive = spawned - finished; /* spawned >= finished (shutdown.c) */
  out->global_queue_depth = weft__inject_len((weft__inject_t*)&rt->global);
  out->blocking_threads = bs.threads;
  out->blocking_busy = bs.busy;
  out->blocking_queued = bs.queued;
  for (unsigned i = 0; workers != NULL && i < rt->nworkers; i++)
    worker_metrics(rt->workers[i], &workers[i]);
  return 0;
}
