/* weft_barrier_t: asyncio.Barrier (see sync.h for the waiting scheme).
 * The last of `parties` arrivals releases the others and starts a new
 * generation; a waiter that is cancelled, or weft_barrier_abort, breaks the
 * barrier for good: every waiter, now and later, gets WEFT_ECLOSED. */
#include <stdlib.h>

#include "base/alloc.h"
#include "sync/sync.h"

struct weft_barrier_s {
  size_t parties;
  weft__spin_t spin;
  size_t count;              /* arrivals in this generation; under spin */
  weft__sync_list_t waiters; /* this generation's; under spin */
  /* 1 once broken: stores under spin, relaxed loads for the snapshot. */
  _Atomic int broken;
};

int weft_barrier_new(size_t parties, weft_barrier_t** out) {
  if (parties == 0 || out == NULL)
    return WEFT_EINVAL;
  weft_barrier_t* b = weft__calloc(1, sizeof(*b));
  if (b == NULL)
    return WEFT_ENOMEM;
  b->parties = parties;
  atomic_init(&b->broken, 0);
  *out = b;
  return 0;
}

int weft_barrier_free(weft_barrier_t* b) {
  if (b == NULL)
    return 0;
  weft__spin_lock(&b->spin);
  int busy = !weft__sync_empty(&b->waiters);
  weft__spin_unlock(&b->spin);
  if (busy)
    return WEFT_EBUSY;
  free(b);
  return 0;
}

/* Under spin: marks the barrier broken and fails every waiter. */
static void break_locked(weft_barrier_t* b) {
  /* relaxed: the spin lock orders it for waiters; readers of the snapshot
   * need nothing else. */
  atomic_store_explicit(&b->broken, 1, memory_order_relaxed);
  weft__sync_wake_all(&b->waiters, WEFT_ECLOSED);
}

/* Under spin: counts an arrival; 1 if it completed the generation. */
static int arrive_locked(weft_barrier_t* b, weft__sync_node_t* node) {
  node->index = b->count++;
  if (b->count < b->parties) {
    weft__sync_push(&b->waiters, node);
    return 0;
  }
  b->count = 0;
  weft__sync_wake_all(&b->waiters, 0);
  return 1;
}

int weft_barrier_wait(weft_barrier_t* b, size_t* index) {
  if (b == NULL)
    return WEFT_EINVAL;
  weft__sync_node_t node;
  int rc = weft__sync_node_init(&node);
  if (rc != 0)
    return rc;
  weft__spin_lock(&b->spin);
  int last = 0;
  if (weft_barrier_broken(b))
    rc = WEFT_ECLOSED;
  else
    last = arrive_locked(b, &node);
  weft__spin_unlock(&b->spin);
  if (rc == 0 && !last) {
    rc = weft_future_await(node.future, NULL);
    weft__spin_lock(&b->spin);
    if (node.linked) { /* withdrawn: it breaks the barrier */
      weft__sync_unlink(&b->waiters, &node);
      break_locked(b);
    }
    weft__spin_unlock(&b->spin);
  }
  weft_future_release(node.future);
  if (rc == 0 && index != NULL)
    *index = node.index;
  return rc;
}

int weft_barrier_abort(weft_barrier_t* b) {
  if (b == NULL)
    return WEFT_EINVAL;
  weft__spin_lock(&b->spin);
  break_locked(b);
  b->count = 0;
  weft__spin_unlock(&b->spin);
  return 0;
}

int weft_barrier_broken(const weft_barrier_t* b) {
  /* relaxed: a snapshot; the spin lock orders the waiters' view. */
  return b != NULL && atomic_load_explicit(&((weft_barrier_t*)b)->broken,
                                           memory_order_relaxed);
}
