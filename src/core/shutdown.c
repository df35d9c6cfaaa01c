/* The core's runtime-wide calls: the shutdown check (is every task
 * spawned so far finished?), the task counts, and which runtime and worker
 * the calling thread is on.
 *
 * DESIGN (the protocol as a whole is described in runtime.c)
 * A check does a seq_cst RMW on one shared word, then compares finished
 * with spawned counts: the RMW chain makes the last of two concurrent
 * checks see both workers' last finishes, and reading `finished` (acquire)
 * before `spawned` means a task counted finished has its own spawns
 * counted too, so "all finished" is never seen early. A worker that
 * finishes a task while the runtime closes checks (worker.c), and so does
 * the thread freeing the runtime; the last check to match signals it. */
#include <pthread.h>

#include "base/common.h"
#include "core/worker.h"

void weft__runtime_counts(const weft_runtime_t* rt, uint64_t* spawned,
                          uint64_t* finished) {
  uint64_t f = 0;
  for (unsigned i = 0; i < rt->nworkers; i++)
    /* acquire: pairs with the release store in count_finished, so the
     * spawns those tasks made are visible to the loads below. */
    f +=
        atomic_load_explicit(&rt->workers[i]->n_finished, memory_order_acquire);
  /* relaxed: ordered after the acquire loads above. */
  uint64_t s = atomic_load_explicit(&rt->ext_spawned, memory_order_relaxed);
  for (unsigned i = 0; i < rt->nworkers; i++)
    /* relaxed: as above. */
    s += atomic_load_explicit(&rt->workers[i]->n_spawned, memory_order_relaxed);
  *spawned = s;
  *finished = f;
}

void weft__runtime_check_done(weft_runtime_t* rt) {
  uint64_t spawned, finished;
  /* seq_cst RMW on one shared word: of two checks, the later reads from
   * the earlier, so it sees the counts stored before the earlier one (file
   * comment). TSan models this, unlike a fence. */
  atomic_fetch_add_explicit(&rt->checks, 1, memory_order_seq_cst);
  weft__runtime_counts(rt, &spawned, &finished);
  if (finished != spawned)
    return;
  pthread_mutex_lock(&rt->done_lock);
  rt->all_done = 1;
  pthread_cond_broadcast(&rt->done_cv);
  pthread_mutex_unlock(&rt->done_lock);
}

int weft__runtime_closing(void) {
  weft__worker_t* w = weft__worker_self();
  /* relaxed: a late view only costs the caller one more failed await. */
  return w != NULL &&
         atomic_load_explicit(&w->rt->closing, memory_order_relaxed);
}

/* The calling thread's runtime and worker, for any layer. */
weft_runtime_t* weft_current_runtime(void) {
  weft__worker_t* w = weft__worker_self();
  return w != NULL ? w->rt : NULL;
}

int weft_worker_id(void) {
  weft__worker_t* w = weft__worker_self();
  return w != NULL ? (int)w->index : -1;
}
