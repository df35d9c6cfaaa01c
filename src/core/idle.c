/* Idle workers: searching, parking, and waking exactly one.
 *
 * DESIGN (after tokio's idle.rs and Go's proc.go "Worker thread parking")
 * A worker with nothing to run first searches (steals) if fewer than half
 * the workers are already searching; a worker that finds nothing parks in
 * uv_run(UV_RUN_ONCE), which sleeps until I/O, its timer or its
 * uv_async_t. Whoever makes work available calls weft__idle_notify(): if
 * some worker is searching, it will find the work, so nobody is woken;
 * otherwise one parked worker is taken off the sleeper list, counted as
 * searching, and sent its uv_async_t. A worker that finds work while it
 * was the last searcher wakes one more (weft__idle_stop_searching returns
 * 1), so parallelism ramps up one worker at a time with no herd.
 *
 * Why no wake-up is lost. Two sides, each a store then a load, with a
 * seq_cst operation between (Dekker):
 *
 *   notifier                          parking worker
 *   --------                          --------------
 *   push work (queue store)           state -= unparked(, searching)
 *   state += 0 (seq_cst RMW)            (seq_cst RMW, weft__idle_park)
 *   if no searcher and someone        re-check every queue (worker.c:
 *                                       park_recheck)
 *     parked: pop a sleeper, send     if work: weft__idle_unpark, go on
 *     its async                       else uv_run(ONCE)
 *
 * Both RMWs are on the same word, so one reads from the other: either the
 * notifier's comes first, and (release/acquire through the RMW chain) the
 * worker's re-check sees the work, or the worker's comes first, and then
 * the notifier reads it parked and wakes it. uv_async_send is sticky: if it
 * lands before uv_run blocks, uv_run returns at once. The same argument covers
 * the last searcher giving up (it parks through the same RMW and re-check).
 *
 * One exception, deliberate: a worker pushing onto its own deque notifies
 * without the fence (fence = 0). If that notify misses a worker that was
 * parking, no work is lost: the pusher is awake and will run the task
 * itself; only parallelism is late, and the pusher's maintenance tick
 * (every 61 tasks, worker.c) notifies again with the RMW while its deque
 * is not empty. That keeps a full fence off the spawn fast path.
 */
#include "base/alloc.h"
#include "core/idle.h"

#include <stdlib.h>
#include <uv.h>

#include "base/common.h"
#include "core/worker.h"

#define SEARCH_ONE 1u
#define UNPARK_ONE (1u << 16)
#define SEARCHING(s) ((s)&0xffffu)
#define UNPARKED(s) ((s) >> 16)

int weft__idle_init(weft__idle_t* idle, unsigned nworkers) {
  idle->nworkers = nworkers;
  atomic_init(&idle->state, nworkers * UNPARK_ONE);
  atomic_init(&idle->unwatched, 0);
  idle->nsleepers = 0;
  idle->sleepers = weft__calloc(nworkers, sizeof(*idle->sleepers));
  if (idle->sleepers == NULL)
    return WEFT_ENOMEM;
  if (pthread_mutex_init(&idle->lock, NULL) != 0) {
    free(idle->sleepers);
    return WEFT_ENOMEM;
  }
  return 0;
}

void weft__idle_term(weft__idle_t* idle) {
  pthread_mutex_destroy(&idle->lock);
  free(idle->sleepers);
}

static int should_wake(uint32_t s, unsigned nworkers) {
  return SEARCHING(s) == 0 && UNPARKED(s) < nworkers;
}

/* Takes a parked worker other than `self` off the list. A worker that
 * makes work runnable from inside its own uv_run (a timer or I/O callback
 * while it parks) will run that work itself; waking it would only cost a
 * system call. Lock held. */
static weft__worker_t* pop_sleeper(weft__idle_t* idle, weft__worker_t* self) {
  for (unsigned i = idle->nsleepers; i-- > 0;) {
    weft__worker_t* w = idle->sleepers[i];
    if (w == self)
      continue;
    idle->sleepers[i] = idle->sleepers[--idle->nsleepers];
    w->parked = 0;
    return w;
  }
  return NULL;
}

void weft__idle_notify(weft__idle_t* idle, int fence) {
  uint32_t s;
  if (fence)
    /* seq_cst RMW on `state` itself: the StoreLoad of the protocol above.
     * It is ordered with the parker's seq_cst RMW on the same word: if it
     * comes later it reads the parked count; if earlier, the parker's RMW
     * reads from it, so our queue store happens before the parker's
     * re-check. (A fence would do too, but TSan does not model fences.) */
    s = atomic_fetch_add_explicit(&idle->state, 0, memory_order_seq_cst);
  else
    /* relaxed: a hint (see fence = 0 above); re-read under the lock. */
    s = atomic_load_explicit(&idle->state, memory_order_relaxed);
  if (!should_wake(s, idle->nworkers))
    return;
  weft__worker_t* w = NULL;
  pthread_mutex_lock(&idle->lock);
  /* relaxed: state changes that matter here happen under this lock. */
  s = atomic_load_explicit(&idle->state, memory_order_relaxed);
  if (should_wake(s, idle->nworkers))
    w = pop_sleeper(idle, weft__worker_self());
  if (w != NULL) {
    /* seq_cst: a parking worker's re-check must see the new searcher. */
    atomic_fetch_add_explicit(&idle->state, UNPARK_ONE + SEARCH_ONE,
                              memory_order_seq_cst);
  }
  pthread_mutex_unlock(&idle->lock);
  if (w != NULL)
    uv_async_send(&w->wake);
}

int weft__idle_start_searching(weft__idle_t* idle) {
  /* relaxed: the half-the-workers cap is a heuristic; a race lets one
   * extra worker search, which costs a little CPU and nothing else. */
  uint32_t s = atomic_load_explicit(&idle->state, memory_order_relaxed);
  if (2 * SEARCHING(s) >= idle->nworkers)
    return 0;
  /* seq_cst: notifiers that see this searcher skip the wake-up, so it must
   * be ordered with their RMW (it will find their work or re-check). */
  atomic_fetch_add_explicit(&idle->state, SEARCH_ONE, memory_order_seq_cst);
  return 1;
}

int weft__idle_stop_searching(weft__idle_t* idle) {
  /* seq_cst: see start_searching; the last searcher leaving must be
   * ordered with notifiers' RMWs. */
  uint32_t prev =
      atomic_fetch_sub_explicit(&idle->state, SEARCH_ONE, memory_order_seq_cst);
  return SEARCHING(prev) == 1;
}

int weft__idle_park(weft__idle_t* idle, weft__worker_t* w, int searching) {
  uint32_t dec = UNPARK_ONE + (searching ? SEARCH_ONE : 0);
  pthread_mutex_lock(&idle->lock);
  idle->sleepers[idle->nsleepers++] = w;
  w->parked = 1;
  /* seq_cst: the parking side of the protocol above. */
  uint32_t prev =
      atomic_fetch_sub_explicit(&idle->state, dec, memory_order_seq_cst);
  pthread_mutex_unlock(&idle->lock);
  return searching && SEARCHING(prev) == 1;
}

int weft__idle_unpark(weft__idle_t* idle, weft__worker_t* w) {
  int notified = 1;
  pthread_mutex_lock(&idle->lock);
  if (w->parked) {
    notified = 0;
    w->parked = 0;
    for (unsigned i = 0; i < idle->nsleepers; i++) {
      if (idle->sleepers[i] == w) {
        idle->sleepers[i] = idle->sleepers[--idle->nsleepers];
        break;
      }
    }
    /* seq_cst: counted awake again before it looks for work. */
    atomic_fetch_add_explicit(&idle->state, UNPARK_ONE, memory_order_seq_cst);
  }
  pthread_mutex_unlock(&idle->lock);
  return notified;
}

int weft__idle_others_awake(weft__idle_t* idle) {
  /* relaxed: a hint for the LIFO watch (worker.c), which only decides
   * whether to wake up periodically. */
  return UNPARKED(atomic_load_explicit(&idle->state, memory_order_relaxed)) > 0;
}
