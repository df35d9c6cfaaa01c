/* Permits: the counter under the lock and the semaphore (see sync.h).
 *
 * DESIGN
 * The fast paths are one CAS on `state` while nobody waits. A waiter takes
 * the spin lock, and either still finds a permit or sets the waiters bit
 * and joins the list; from then on a release goes through the spin lock
 * and hands its permit to the oldest waiter (FIFO, no barging). The spin
 * lock orders every change of the bit, so "bit set" and "list non-empty"
 * agree whenever the lock is free.
 */
#include "sync/sync.h"

#define ONE ((size_t)2) /* one permit in `state` */

void weft__permits_init(weft__permits_t* p, size_t value, size_t limit) {
  atomic_init(&p->state, value * ONE);
  p->limit = limit;
  /* seq_cst, but only at creation: nobody else can see `p` yet. */
  atomic_flag_clear(&p->spin.flag);
  p->waiters.head = p->waiters.tail = NULL;
}

int weft__permits_try(weft__permits_t* p) {
  /* relaxed: only a guess for the CAS below, which orders. */
  size_t s = atomic_load_explicit(&p->state, memory_order_relaxed);
  while ((s & WEFT__PERMITS_WAITERS) == 0 && s >= ONE) {
    /* acquire on success: pairs with the release CAS in
     * weft__permits_release, so the previous holder's writes are seen. */
    if (atomic_compare_exchange_weak_explicit(&p->state, &s, s - ONE,
                                              memory_order_acquire,
                                              memory_order_relaxed))
      return 0;
  }
  return WEFT_EAGAIN;
}

/* Under the spin lock: takes a permit (0) or joins the queue (1). */
static int take_or_enqueue(weft__permits_t* p, weft__sync_node_t* node) {
  /* relaxed: the CAS below orders; the spin lock orders the bit. */
  size_t s = atomic_load_explicit(&p->state, memory_order_relaxed);
  for (;;) {
    if (s & WEFT__PERMITS_WAITERS)
      break;
    size_t next = s >= ONE ? s - ONE : WEFT__PERMITS_WAITERS;
    /* acquire: as in weft__permits_try, when a permit is taken. */
    if (atomic_compare_exchange_weak_explicit(&p->state, &s, next,
                                              memory_order_acquire,
                                              memory_order_relaxed)) {
      if (s >= ONE)
        return 0;
      break;
    }
  }
  weft__sync_push(&p->waiters, node);
  return 1;
}

/* After a failed await: withdraws the node, or passes on the permit that
 * was handed to it meanwhile. */
static void withdraw(weft__permits_t* p, weft__sync_node_t* node) {
  weft__spin_lock(&p->spin);
  if (node->linked) {
    weft__sync_unlink(&p->waiters, node);
    if (weft__sync_empty(&p->waiters))
      /* relaxed: permits are 0 while the bit is set, and the spin lock
       * orders this against every other change of the bit. */
      atomic_fetch_and_explicit(&p->state, ~WEFT__PERMITS_WAITERS,
                                memory_order_relaxed);
    weft__spin_unlock(&p->spin);
    return;
  }
  weft__spin_unlock(&p->spin);
  weft__permits_release(p);
}

int weft__permits_acquire(weft__permits_t* p) {
  if (weft__permits_try(p) == 0)
    return 0;
  weft__sync_node_t node;
  int rc = weft__sync_node_init(&node);
  if (rc != 0)
    return rc;
  weft__spin_lock(&p->spin);
  int queued = take_or_enqueue(p, &node);
  weft__spin_unlock(&p->spin);
  if (queued) {
    rc = weft_future_await(node.future, NULL);
    if (rc != 0)
      withdraw(p, &node);
  }
  weft_future_release(node.future);
  return rc;
}

/* Slow release: hands the permit to the oldest waiter. 1 if the waiters
 * bit was gone by the time the spin lock was held (retry the fast path). */
static int hand_off(weft__permits_t* p) {
  weft__spin_lock(&p->spin);
  weft__sync_node_t* n = weft__sync_pop(&p->waiters);
  if (n == NULL) {
    weft__spin_unlock(&p->spin);
    return 1;
  }
  if (weft__sync_empty(&p->waiters))
    /* relaxed: the permit goes to `n` through its future (which orders
     * its wake-up); permits stay 0. */
    atomic_fetch_and_explicit(&p->state, ~WEFT__PERMITS_WAITERS,
                              memory_order_relaxed);
  weft_future_set_result(n->future, NULL);
  weft__spin_unlock(&p->spin);
  return 0;
}

int weft__permits_release(weft__permits_t* p) {
  /* relaxed: a guess for the CAS. */
  size_t s = atomic_load_explicit(&p->state, memory_order_relaxed);
  for (;;) {
    if (s & WEFT__PERMITS_WAITERS) {
      if (hand_off(p) == 0)
        return 0;
      /* relaxed: reload after the bit went; the CAS orders. */
      s = atomic_load_explicit(&p->state, memory_order_relaxed);
      continue;
    }
    if (s / ONE >= p->limit)
      return WEFT_ELIMIT;
    /* release: publishes the holder's writes to the next acquirer (pairs
     * with the acquire CAS in weft__permits_try). */
    if (atomic_compare_exchange_weak_explicit(&p->state, &s, s + ONE,
                                              memory_order_release,
                                              memory_order_relaxed))
      return 0;
  }
}

size_t weft__permits_value(const weft__permits_t* p) {
  /* relaxed: a snapshot for the caller; orders nothing. */
  return atomic_load_explicit(&((weft__permits_t*)p)->state,
                              memory_order_relaxed) /
         ONE;
}

int weft__permits_waiting(const weft__permits_t* p) {
  /* relaxed: a snapshot for the caller; orders nothing. */
  return (atomic_load_explicit(&((weft__permits_t*)p)->state,
                               memory_order_relaxed) &
          WEFT__PERMITS_WAITERS) != 0;
}
