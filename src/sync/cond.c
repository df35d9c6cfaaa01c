/* weft_cond_t: asyncio.Condition over a weft_lock_t (see sync.h for the
 * waiting scheme). Every call but free needs the caller to own the lock
 * (weft__lock_owned), not merely someone to hold it. A notified waiter that is
 * cancelled before it runs passes its notification to the next waiter, so none
 * is lost. */
#include <sched.h>
#include <stdlib.h>

#include "base/alloc.h"
#include "sync/sync.h"
#include "core/worker.h"

struct weft_cond_s {
  weft_lock_t* lock;
  weft__spin_t spin;
  weft__sync_list_t waiters; /* under spin */
};

int weft_cond_new(weft_lock_t* lock, weft_cond_t** out) {
  if (lock == NULL || out == NULL)
    return WEFT_EINVAL;
  weft_cond_t* cond = weft__calloc(1, sizeof(*cond));
  if (cond == NULL)
    return WEFT_ENOMEM;
  cond->lock = lock;
  *out = cond;
  return 0;
}

int weft_cond_free(weft_cond_t* cond) {
  if (cond == NULL)
    return 0;
  weft__spin_lock(&cond->spin);
  int busy = !weft__sync_empty(&cond->waiters);
  weft__spin_unlock(&cond->spin);
  if (busy)
    return WEFT_EBUSY;
  free(cond);
  return 0;
}

/* Wakes up to n waiters, oldest first. */
static void wake(weft_cond_t* cond, size_t n) {
  weft__spin_lock(&cond->spin);
  weft__sync_node_t* node;
  while (n > 0 && (node = weft__sync_pop(&cond->waiters)) != NULL) {
    weft_future_set_result(node->future, NULL);
    n--;
  }
  weft__spin_unlock(&cond->spin);
}

/* Lets the lock's holder run before the next try. Unlike weft_yield, it
 * switches even while the runtime shuts down (when every await returns at
 * once), so a holder on this worker can still get to its release. */
static void let_others_run(void) {
  weft__worker_t* w = weft__worker_self();
  if (w != NULL && w->current != NULL)
    weft__park(weft__yield_post, w->fiber);
  else
    sched_yield();
}

/* Re-acquires the lock whatever happens: a cancellation delivered meanwhile
 * is remembered in *rc, and the acquire is tried again. */
static void reacquire(weft_lock_t* lock, int* rc) {
  int err;
  while ((err = weft_lock_acquire(lock)) != 0) {
    if (*rc == 0)
      *rc = err;
    let_others_run();
  }
}

int weft_cond_wait(weft_cond_t* cond) {
  if (cond == NULL)
    return WEFT_EINVAL;
  if (!weft__lock_owned(cond->lock))
    return WEFT_EPERM;
  weft__sync_node_t node;
  int rc = weft__sync_node_init(&node);
  if (rc != 0)
    return rc;
  weft__spin_lock(&cond->spin);
  weft__sync_push(&cond->waiters, &node);
  weft__spin_unlock(&cond->spin);
  weft_lock_release(cond->lock);
  rc = weft_future_await(node.future, NULL);
  int notified = rc == 0;
  if (rc != 0) {
    weft__spin_lock(&cond->spin);
    notified = !node.linked;
    if (node.linked)
      weft__sync_unlink(&cond->waiters, &node);
    weft__spin_unlock(&cond->spin);
  }
  weft_future_release(node.future);
  reacquire(cond->lock, &rc);
  /* Failing (cancelled during the wait or the re-acquire) after taking a
   * notification: it goes to the next waiter. */
  if (rc != 0 && notified)
    wake(cond, 1);
  return rc;
}

int weft_cond_wait_for(weft_cond_t* cond, int (*pred)(void* arg), void* arg) {
  if (cond == NULL || pred == NULL)
    return WEFT_EINVAL;
  while (!pred(arg)) {
    int rc = weft_cond_wait(cond);
    if (rc != 0)
      return rc;
  }
  return 0;
}

int weft_cond_notify(weft_cond_t* cond, size_t n) {
  if (cond == NULL)
    return WEFT_EINVAL;
  if (!weft__lock_owned(cond->lock))
    return WEFT_EPERM;
  wake(cond, n);
  return 0;
}

int weft_cond_notify_all(weft_cond_t* cond) {
  return weft_cond_notify(cond, SIZE_MAX);
}
