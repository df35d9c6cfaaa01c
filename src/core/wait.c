/* The wait protocol: park, withdraw, wake and cancel, for every kind of
 * wait.
 *
 * DESIGN: cancellation
 * A request sets the task's `cancel` flag under its lock and asks the
 * kind of wait the task is in (its descriptor, also under the lock) what
 * to do:
 *  - a sleep or an I/O operation: a message goes to the worker that owns
 *    the timer or the handle; that worker (the only one that touches them)
 *    withdraws the wait and wakes the task with WEFT_ECANCELED;
 *  - a task (weft_await, including a child running inline on the awaiter's
 *    stack): the request is forwarded to that task, as asyncio does, and
 *    the awaiter goes on waiting for it; a forwarded request counts as
 *    delivered;
 *  - a future, or a task awaited with weft_await_shielded: the waiter's
 *    node is taken off that object's list (others may still wait on it),
 *    the request is taken, and the task wakes with WEFT_ECANCELED; if the
 *    completion took the node first, the request stays for the next await;
 *  - nothing (running, queued, or a primitive that checks at its await):
 *    the flag waits for the next await point.
 * Timeout scopes (sync/timeout.c) are cancellations made by a timer.
 * Requests are counted (cancel_requests, asyncio's cancelling()), so a
 * scope that takes its own request back (weft__cancel_uncancel) can tell
 * whether someone else's landed too and must not swallow it.
 * Every await point takes a pending request (weft__take_cancel) before it
 * waits, under the same lock the wait's registration takes, so a request
 * is either seen there or finds the registered wait: never lost.
 *
 *   canceller                        task going to sleep
 *   ---------                        -------------------
 *   lock(t)                          lock(t)
 *   cancel = 1                       if cancel: take it, return ECANCELED
 *   kind->cancel_locked(t)           kind = sleep, seq++
 *   unlock(t)                        unlock(t); add timer; park
 *   kind->cancel(t, what)
 */
#include "core/wait.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "base/common.h"
#include "core/worker.h"

int weft__cancel_take_locked(weft_task_t* t) {
  /* relaxed: under the task's lock, which weft_cancel holds to set it. */
  int had = atomic_load_explicit(&t->cancel, memory_order_relaxed);
  if (had)
    /* relaxed: under the task's lock. */
    atomic_store_explicit(&t->cancel, 0, memory_order_relaxed);
  return had;
}

uint32_t weft__cancel_requests(weft_task_t* t) {
  weft__spin_lock(&t->lock);
  uint32_t n = t->cancel_requests;
  weft__spin_unlock(&t->lock);
  return n;
}

int weft__cancel_uncancel(weft_task_t* t, uint32_t base) {
  weft__spin_lock(&t->lock);
  if (t->cancel_requests > 0)
    t->cancel_requests--;
  int others = t->cancel_requests > base;
  /* Only the caller's request is left to deliver: take it back. With
   * others, the pending delivery may be theirs: leave it for the next
   * await (delivering twice is safe, losing one is not). */
  if (!others)
    weft__cancel_take_locked(t);
  weft__spin_unlock(&t->lock);
  return others;
}

void weft__wait_set(weft_task_t* t, const weft__wait_kind_t* kind) {
  weft__spin_lock(&t->lock);
  t->wait_kind = kind;
  weft__spin_unlock(&t->lock);
}

/* The kind and its object together: one take of the lock, not two (a
 * wait costs two fewer locked instructions each way). */
static void wait_publish(weft_task_t* t, const weft__wait_kind_t* kind,
                         int with_obj, void* obj) {
  weft__spin_lock(&t->lock);
  t->wait_kind = kind;
  if (with_obj)
    t->wait_obj = obj;
  weft__spin_unlock(&t->lock);
}

/* ---- Waking ------------------------------------------------------------- */

void weft__waiter_wake(weft__waiter_t* wt) {
  if (wt->notify != NULL) {
    wt->notify(wt); /* a watcher: it owns what happens next */
    return;
  }
  if (wt->fiber != NULL) {
    weft__wake_fiber(wt->fiber);
    return;
  }
  pthread_mutex_lock(wt->mu);
  *wt->done = 1;
  pthread_cond_signal(wt->cv);
  pthread_mutex_unlock(wt->mu);
}

weft_task_t* weft__waiter_withdraw(weft__waiter_t** head, weft_task_t* task) {
  for (weft__waiter_t** p = head; *p != NULL; p = &(*p)->next) {
    weft__waiter_t* wt = *p;
    if (wt->task == task) {
      *p = wt->next;
      wt->withdrawn = 1;
      return wt->fiber;
    }
  }
  return NULL;
}

/* Takes `node` off the list if it is still there. The list's lock held. */
static int unlink_node(weft__waiter_t** head, weft__waiter_t* node) {
  for (weft__waiter_t** p = head; *p != NULL; p = &(*p)->next) {
    if (*p == node) {
      *p = node->next;
      return 1;
    }
  }
  return 0;
}

/* ---- Parking a task ----------------------------------------------------- */

static void post_unlock(weft__worker_t* w, void* lock) {
  (void)w;
  weft__spin_unlock(lock);
}

static int cancel_requested(weft_task_t* t) {
  /* relaxed: a canceller stores the flag under the task's lock before it
   * takes the object's lock to look for our node; we hold the object's
   * lock, so either it already looked (and we see the flag) or it will
   * find the node. */
  return atomic_load_explicit(&t->cancel, memory_order_relaxed);
}

/* A request that came before the wait was published found no kind to
 * act on: act on it now, as its canceller would have (a join forwards it
 * to the awaited task, and the wait goes on). */
static void forward_pending(weft_task_t* cur, const weft__wait_kind_t* kind) {
  void* what = NULL;
  weft__spin_lock(&cur->lock);
  /* relaxed: under the task's lock, which weft_cancel holds to set it. */
  if (atomic_load_explicit(&cur->cancel, memory_order_relaxed))
    what = kind->cancel_locked(cur);
  weft__spin_unlock(&cur->lock);
  if (what != NULL)
    kind->cancel(cur, what);
}

static int park_on(weft_task_t* cur, const weft__wait_kind_t* kind,
                   int with_obj, void* obj, const weft__waitable_t* on,
                   int withdraws);

int weft__wait_park_on(weft_task_t* cur, const weft__wait_kind_t* kind,
                       const weft__waitable_t* on, int withdraws) {
  return park_on(cur, kind, 0, NULL, on, withdraws);
}

int weft__wait_park_on_obj(weft_task_t* cur, const weft__wait_kind_t* kind,
                           void* obj, const weft__waitable_t* on,
                           int withdraws) {
  return park_on(cur, kind, 1, obj, on, withdraws);
}

static int park_on(weft_task_t* cur, const weft__wait_kind_t* kind,
                   int with_obj, void* obj, const weft__waitable_t* on,
                   int withdraws) {
  weft__waiter_t node;
  memset(&node, 0, sizeof(node));
  node.fiber = cur->host;
  node.task = cur;
  wait_publish(cur, kind, with_obj, obj);
  if (!withdraws)
    forward_pending(cur, kind);
  weft__spin_lock(on->lock);
  if (on->done(on->obj)) {
    weft__spin_unlock(on->lock);
  } else if (withdraws && cancel_requested(cur)) {
    /* A withdrawing canceller that came between publishing the wait and
     * listing the node found no node: the request is taken here. (A
     * forwarding one needs no node.) */
    weft__spin_unlock(on->lock);
    node.withdrawn = 1;
    weft__take_cancel(cur);
  } else {
    node.next = *on->waiters;
    *on->waiters = &node;
    /* The object's lock is released once this fiber is switched out. */
    weft__park(post_unlock, on->lock);
  }
  wait_publish(cur, NULL, with_obj, NULL);
  return node.withdrawn ? WEFT_ECANCELED : 0;
}

/* ---- Blocking a plain thread --------------------------------------------- */

int weft__wait_block_on(const weft__waitable_t* on,
                        const struct timespec* deadline) {
  pthread_condattr_t attr;
  pthread_cond_t cv;
  pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
  int done = 0;
  int timed_out = 0;
  weft__waiter_t node = {.mu = &mu, .cv = &cv, .done = &done};
  weft__spin_lock(on->lock);
  if (on->done(on->obj)) {
    weft__spin_unlock(on->lock);
    return 0;
  }
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&cv, &attr);
  pthread_condattr_destroy(&attr);
  node.next = *on->waiters;
  *on->waiters = &node;
  weft__spin_unlock(on->lock);
  pthread_mutex_lock(&mu);
  while (!done && !timed_out) {
    if (deadline == NULL)
      pthread_cond_wait(&cv, &mu);
    else if (pthread_cond_timedwait(&cv, &mu, deadline) == ETIMEDOUT)
      timed_out = 1;
  }
  pthread_mutex_unlock(&mu);
  int status = 0;
  if (timed_out) {
    /* Off the list, unless the completion took us meanwhile: then it
     * signals (or has signalled) under mu, and we must wait for that. */
    weft__spin_lock(on->lock);
    int still_listed = unlink_node(on->waiters, &node);
    weft__spin_unlock(on->lock);
    pthread_mutex_lock(&mu);
    while (!still_listed && !done)
      pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    if (still_listed)
      status = WEFT_ETIMEDOUT;
  }
  pthread_cond_destroy(&cv);
  pthread_mutex_destroy(&mu);
  return status;
}

/* ---- Cancelling ------------------------------------------------------------
 */

void weft__wait_deliver_withdrawn(weft_task_t* t, weft_task_t* fiber) {
  if (fiber == NULL)
    return; /* already woken by a completion: the request stays pending */
  /* A withdrawn wait counts as the delivery: the request is taken before
   * the task wakes, so its next await does not see it again. */
  weft__spin_lock(&t->lock);
  weft__cancel_take_locked(t);
  weft__spin_unlock(&t->lock);
  weft__wake_fiber(fiber);
}

void* weft__wait_cancel_message(weft_task_t* t,
                                void (*fn)(weft__worker_t* w, weft__msg_t* m)) {
  if (t->cancel_msg_pending)
    return NULL;
  t->cancel_msg_pending = 1;
  t->cancel_msg.fn = fn;
  weft_task_retain(t); /* the message's; its handler releases it */
  return t->wait_worker;
}

void weft__wait_post_message(weft_task_t* t, void* worker) {
  weft__inbox_post(worker, &t->cancel_msg);
}

static int is_done(const weft_task_t* t) {
  /* acquire: pairs with the release store of DONE in task_complete. */
  return atomic_load_explicit(&t->phase, memory_order_acquire) ==
         WEFT_PHASE_DONE;
}

int weft_cancel(weft_task_t* t) {
  if (t == NULL)
    return WEFT_EINVAL;
  weft__spin_lock(&t->lock);
  if (is_done(t)) {
    weft__spin_unlock(&t->lock);
    return WEFT_EBUSY;
  }
  /* relaxed: under the task's lock; await points read it under the lock
   * too (weft__take_cancel's unlocked read is only a fast path). */
  atomic_store_explicit(&t->cancel, 1, memory_order_relaxed);
  t->cancel_requests++;
  const weft__wait_kind_t* kind = t->wait_kind;
  void* what = kind != NULL ? kind->cancel_locked(t) : NULL;
  weft__spin_unlock(&t->lock);
  if (what != NULL)
    kind->cancel(t, what);
  return 0;
}
