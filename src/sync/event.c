/* weft_event_t: asyncio.Event. A flag, and the waiters for it, all woken
 * by weft_event_set (see sync.h for the waiting scheme). */
#include <stdlib.h>

#include "base/alloc.h"
#include "sync/sync.h"

struct weft_event_s {
  /* 1 while set: release stores under `spin`, acquire loads anywhere. */
  _Atomic int set;
  weft__spin_t spin;
  weft__sync_list_t waiters; /* under spin */
};

int weft_event_new(weft_event_t** out) {
  if (out == NULL)
    return WEFT_EINVAL;
  weft_event_t* ev = weft__calloc(1, sizeof(*ev));
  if (ev == NULL)
    return WEFT_ENOMEM;
  atomic_init(&ev->set, 0);
  *out = ev;
  return 0;
}

int weft_event_free(weft_event_t* ev) {
  if (ev == NULL)
    return 0;
  weft__spin_lock(&ev->spin);
  int busy = !weft__sync_empty(&ev->waiters);
  weft__spin_unlock(&ev->spin);
  if (busy)
    return WEFT_EBUSY;
  free(ev);
  return 0;
}

int weft_event_set(weft_event_t* ev) {
  if (ev == NULL)
    return WEFT_EINVAL;
  weft__spin_lock(&ev->spin);
  /* release: a waiter that sees the flag (acquire) sees what the setter
   * wrote before setting it. */
  atomic_store_explicit(&ev->set, 1, memory_order_release);
  weft__sync_wake_all(&ev->waiters, 0);
  weft__spin_unlock(&ev->spin);
  return 0;
}

int weft_event_clear(weft_event_t* ev) {
  if (ev == NULL)
    return WEFT_EINVAL;
  /* relaxed: clearing publishes nothing; waiters that were woken by the
   * set stay woken, as in asyncio. */
  atomic_store_explicit(&ev->set, 0, memory_order_relaxed);
  return 0;
}

int weft_event_is_set(const weft_event_t* ev) {
  /* acquire: pairs with the release store in weft_event_set. */
  return ev != NULL &&
         atomic_load_explicit(&((weft_event_t*)ev)->set, memory_order_acquire);
}

int weft_event_wait(weft_event_t* ev) {
  if (ev == NULL)
    return WEFT_EINVAL;
  if (weft_event_is_set(ev))
    return 0;
  weft__sync_node_t node;
  int rc = weft__sync_node_init(&node);
  if (rc != 0)
    return rc;
  weft__spin_lock(&ev->spin);
  /* relaxed: the spin lock orders it against weft_event_set. */
  int set = atomic_load_explicit(&ev->set, memory_order_relaxed);
  if (!set)
    weft__sync_push(&ev->waiters, &node);
  weft__spin_unlock(&ev->spin);
  if (!set) {
    rc = weft_future_await(node.future, NULL);
    /* A wake-up is not consumed, so a cancelled waiter just leaves. */
    weft__spin_lock(&ev->spin);
    if (node.linked)
      weft__sync_unlink(&ev->waiters, &node);
    weft__spin_unlock(&ev->spin);
  }
  weft_future_release(node.future);
  return rc;
}
