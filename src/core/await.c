/* The await points: weft_await, weft_yield, weft_sleep_*, and their
 * cancellation (weft_cancel).
 *
 * DESIGN: cancellation
 * A request sets the task's `cancel` flag under its lock and looks at what
 * the task waits on (its wait descriptor, also under the lock):
 *  - a sleep: a message goes to the worker whose heap holds the timer; that
 *    worker (the only one that touches the heap) withdraws the sleep and
 *    wakes the task with WEFT_ECANCELED;
 *  - a task (weft_await, including a child running inline on the awaiter's
 *    stack): the request is forwarded to that task, as asyncio does, and the
 *    awaiter goes on waiting for it; a forwarded request counts as delivered;
 *  - a future, or a task awaited with weft_await_shielded: the waiter's node
 *    is taken off that object's list (others may still wait on it), the
 *    request is taken, and the task wakes with WEFT_ECANCELED; if the
 *    completion took the node first, the request stays for the next await;
 *  - nothing (running, or queued): the flag waits for the next await point.
 * Timeout scopes (timeout.c) are cancellations made by a timer.
 * Every await point takes a pending request (weft__take_cancel) before it
 * waits, under the same lock the sleep or join registration takes, so a
 * request is either seen there or finds the registered wait: never lost.
 *
 *   canceller                        task going to sleep
 *   ---------                        -------------------
 *   lock(t)                          lock(t)
 *   cancel = 1                       if cancel: take it, return ECANCELED
 *   if wait == SLEEP: post message   wait = SLEEP, seq++
 *   unlock(t)                        unlock(t); add timer; park
 */
#include <pthread.h>
#include <string.h>

#include "base/common.h"
#include "core/future.h"
#include "core/worker.h"

static int closing(weft_runtime_t* rt) {
  /* relaxed: a late view only delays the shutdown's cancellation to the
   * next await, and the shutdown also cancels each task by its flag. */
  return atomic_load_explicit(&rt->closing, memory_order_relaxed);
}

static int collect(const weft_task_t* t, void** result) {
  /* acquire: pairs with the release store of DONE in task_complete. */
  WEFT_CHECK(atomic_load_explicit(&t->phase, memory_order_acquire) ==
             WEFT_PHASE_DONE);
  if (WEFT_UNLIKELY(t->rt->debug))
    weft__task_observed((weft_task_t*)t);
  if (t->status == 0 && result != NULL)
    *result = t->result;
  return t->status;
}

static void set_join_wait(weft_task_t* cur, weft_task_t* t) {
  weft__spin_lock(&cur->lock);
  cur->wait_kind = WEFT_WAIT_JOIN;
  cur->wait_task = t;
  weft__spin_unlock(&cur->lock);
}

static void clear_wait(weft_task_t* cur) {
  weft__spin_lock(&cur->lock);
  cur->wait_kind = WEFT_WAIT_NONE;
  cur->wait_task = NULL;
  weft__spin_unlock(&cur->lock);
}

static void post_unlock(weft__worker_t* w, void* lock) {
  (void)w;
  weft__spin_unlock(lock);
}

static int is_done(const weft_task_t* t) {
  /* acquire: pairs with the release store of DONE in task_complete. */
  return atomic_load_explicit(&t->phase, memory_order_acquire) ==
         WEFT_PHASE_DONE;
}

static int never_started(const weft_task_t* t) {
  /* relaxed: QUEUED is only stored at spawn, before the push that gave us
   * t, and t is in our own deque, so no other thread can start it. */
  return atomic_load_explicit(&t->phase, memory_order_relaxed) ==
         WEFT_PHASE_QUEUED;
}

/* A task waits for another: registers on its waiter list and parks.
 * `kind` says what a cancellation of the waiter does: WEFT_WAIT_JOIN
 * forwards it to t (the waiter goes on waiting), WEFT_WAIT_SHIELD withdraws
 * the wait (the waiter returns WEFT_ECANCELED, t runs on). */
static int join_parked_held(weft_task_t* cur, weft_task_t* t, uint8_t kind,
                            void** result) {
  weft__waiter_t node;
  memset(&node, 0, sizeof(node));
  node.fiber = cur->host;
  node.task = cur;
  weft__spin_lock(&cur->lock);
  cur->wait_kind = kind;
  cur->wait_task = t;
  weft__spin_unlock(&cur->lock);
  weft__spin_lock(&t->lock);
  if (is_done(t)) {
    weft__spin_unlock(&t->lock);
  /* relaxed: as in future.c's cancel_requested(): a withdrawing canceller
   * that came between publishing the wait and listing the node found no
   * node, so the request is taken here. (A forwarding one needs no node.) */
  } else if (kind == WEFT_WAIT_SHIELD &&
             atomic_load_explicit(&cur->cancel, memory_order_relaxed)) {
    weft__spin_unlock(&t->lock);
    node.withdrawn = 1;
    weft__take_cancel(cur);
  } else {
    node.next = t->waiters;
    t->waiters = &node;
    /* t's lock is released once this fiber is switched out. */
    weft__park(post_unlock, &t->lock);
  }
  clear_wait(cur);
  if (node.withdrawn)
    return WEFT_ECANCELED;
  return collect(t, result);
}

static int join_parked(weft_task_t* cur, weft_task_t* t, uint8_t kind,
                       void** result) {
  /* Our own reference for the wait: the handle's owner may release it as
   * soon as t ends (main awaits t, then releases it, while we are woken but
   * not yet run), and we still read t's status after waking. */
  weft_task_retain(t);
  int status = join_parked_held(cur, t, kind, result);
  weft__task_release(t);
  return status;
}

/* A plain thread waits for a task: blocks on a condition variable. */
static int join_blocking(weft_task_t* t, void** result) {
  pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
  pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
  int done = 0;
  weft__waiter_t node = {.mu = &mu, .cv = &cv, .done = &done};
  weft__spin_lock(&t->lock);
  if (is_done(t)) {
    weft__spin_unlock(&t->lock);
    return collect(t, result);
  }
  node.next = t->waiters;
  t->waiters = &node;
  weft_task_retain(t); /* as in join_parked */
  weft__spin_unlock(&t->lock);
  pthread_mutex_lock(&mu);
  while (!done)
    pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
  pthread_cond_destroy(&cv);
  pthread_mutex_destroy(&mu);
  int status = collect(t, result);
  weft__task_release(t);
  return status;
}

/* What weft_await and weft_await_shielded do before they wait: argument
 * and context checks, the plain-thread and already-done cases, and a
 * pending cancellation. Returns the call's result, or kGoOn with the
 * worker and the running task when the caller must wait. */
enum { kGoOn = 1 };

static int await_prologue(weft_task_t* t, void** result,
                          weft__worker_t** wp, weft_task_t** curp) {
  if (t == NULL)
    return WEFT_EINVAL;
  weft__worker_t* w = weft__worker_self();
  if (w == NULL)
    return join_blocking(t, result);
  weft_task_t* cur = w->current;
  if (cur == NULL)
    return WEFT_EPERM;
  if (t == cur)
    return WEFT_EDEADLK;
  if (is_done(t))
    return collect(t, result);
  if (closing(w->rt) || weft__take_cancel(cur))
    return WEFT_ECANCELED;
  *wp = w;
  *curp = cur;
  return kGoOn;
}

int weft_await(weft_task_t* t, void** result) {
  weft__worker_t* w;
  weft_task_t* cur;
  int pre = await_prologue(t, result, &w, &cur);
  if (pre != kGoOn)
    return pre;
  /* Fork–join fast path: t is the newest task on our own deque and has
   * never run (the deque also holds woken fibers, which must resume on
   * their own stacks), so no other worker has it; pop it and run it here,
   * on this stack. The pop returns t, or NULL if a thief took it. */
  if (weft__deque_peek(&w->deque) == t && never_started(t) &&
      weft__deque_pop(&w->deque) == t) {
    set_join_wait(cur, t);
    weft__run_inline(w, t);
    clear_wait(cur);
    int status = collect(t, result);
    weft__task_release(t); /* the queue's reference, handed to us */
    return status;
  }
  /* Awaiting a task that is running us inline (up our own stack) would
   * wait for itself. Only the slow path can meet one: the fast path only
   * takes tasks that never started. */
  for (weft_task_t* up = cur->outer; up != NULL; up = up->outer)
    if (up == t)
      return WEFT_EDEADLK;
  return join_parked(cur, t, WEFT_WAIT_JOIN, result);
}

int weft_yield(void) {
  weft__worker_t* w = weft__worker_self();
  if (w == NULL || w->current == NULL)
    return WEFT_ENOTTASK;
  weft_task_t* cur = w->current;
  if (closing(w->rt) || weft__take_cancel(cur))
    return WEFT_ECANCELED;
  weft__park(weft__yield_post, w->fiber);
  w = weft__worker_self();
  if (closing(w->rt) || weft__take_cancel(cur))
    return WEFT_ECANCELED;
  return 0;
}

int weft_sleep_ns(uint64_t ns) {
  weft__worker_t* w = weft__worker_self();
  if (w == NULL || w->current == NULL)
    return WEFT_ENOTTASK;
  weft_task_t* cur = w->current;
  if (closing(w->rt))
    return WEFT_ECANCELED;
  if (ns == 0)
    return weft_yield();
  uint64_t now = weft__now_ns();
  uint64_t deadline = ns > UINT64_MAX - now ? UINT64_MAX : now + ns;
  weft__spin_lock(&cur->lock);
  /* relaxed: under the task's lock. */
  if (atomic_load_explicit(&cur->cancel, memory_order_relaxed)) {
    /* relaxed: under the task's lock. */
    atomic_store_explicit(&cur->cancel, 0, memory_order_relaxed);
    weft__spin_unlock(&cur->lock);
    return WEFT_ECANCELED;
  }
  uint64_t seq = ++cur->wait_seq;
  cur->wait_kind = WEFT_WAIT_SLEEP;
  cur->wait_worker = w;
  cur->wake_status = 0;
  weft__spin_unlock(&cur->lock);
  if (weft__timers_add(w, deadline, cur, seq) != 0) {
    /* A cancel message posted meanwhile finds no sleep and does nothing;
     * its request stays pending for the next await. */
    clear_wait(cur);
    return WEFT_ENOMEM;
  }
  weft__park(NULL, NULL);
  return cur->wake_status;
}

int weft_sleep_ms(uint64_t ms) {
  if (ms > UINT64_MAX / 1000000u)
    ms = UINT64_MAX / 1000000u;
  return weft_sleep_ns(ms * 1000000u);
}

/* On the worker whose heap holds the task's timer. */
static void on_cancel_sleep(weft__worker_t* w, weft__msg_t* m) {
  weft_task_t* t = weft__container_of(m, weft_task_t, cancel_msg);
  int wake = 0;
  weft__spin_lock(&t->lock);
  t->cancel_msg_pending = 0;
  /* relaxed: under the task's lock. */
  if (t->wait_kind == WEFT_WAIT_SLEEP && t->wait_worker == w &&
      atomic_load_explicit(&t->cancel, memory_order_relaxed)) {
    /* relaxed: under the task's lock. */
    atomic_store_explicit(&t->cancel, 0, memory_order_relaxed);
    t->wait_kind = WEFT_WAIT_NONE;
    t->wake_status = WEFT_ECANCELED;
    wake = 1;
  }
  weft__spin_unlock(&t->lock);
  if (wake) {
    weft__timers_note_stale(w);
    weft__wake_fiber(t->host);
  }
  weft__task_release(t);
}

static void clear_cancel(weft_task_t* t) {
  weft__spin_lock(&t->lock);
  /* relaxed: under the task's lock. */
  atomic_store_explicit(&t->cancel, 0, memory_order_relaxed);
  weft__spin_unlock(&t->lock);
}

/* A withdrawn wait counts as the delivery: the request is taken before the
 * task wakes, so its next await does not see it again. */
static void deliver_by_withdrawal(weft_task_t* t, weft_task_t* fiber) {
  if (fiber == NULL)
    return; /* already woken by a completion: the request stays pending */
  clear_cancel(t);
  weft__wake_fiber(fiber);
}

static void withdraw_from_task(weft_task_t* awaited, weft_task_t* t) {
  weft__spin_lock(&awaited->lock);
  weft_task_t* fiber = weft__waiter_withdraw(&awaited->waiters, t);
  weft__spin_unlock(&awaited->lock);
  deliver_by_withdrawal(t, fiber);
}

static void forward_to(weft_task_t* t, weft_task_t* forward) {
  if (weft_cancel(forward) == 0) {
    /* Delivered by forwarding, unless the wait ended meanwhile. */
    weft__spin_lock(&t->lock);
    if (t->wait_kind == WEFT_WAIT_JOIN && t->wait_task == forward)
      /* relaxed: under the task's lock. */
      atomic_store_explicit(&t->cancel, 0, memory_order_relaxed);
    weft__spin_unlock(&t->lock);
  }
}

int weft_cancel(weft_task_t* t) {
  weft__worker_t* post_to = NULL;
  weft_task_t* forward = NULL;
  weft_task_t* shielded = NULL;
  weft_future_t* future = NULL;
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
  switch (t->wait_kind) {
    case WEFT_WAIT_SLEEP:
      if (!t->cancel_msg_pending) {
        t->cancel_msg_pending = 1;
        t->cancel_msg.fn = on_cancel_sleep;
        weft_task_retain(t);
        post_to = t->wait_worker;
      }
      break;
    case WEFT_WAIT_IO:
      if (!t->cancel_msg_pending) {
        t->cancel_msg_pending = 1;
        t->cancel_msg.fn = weft__io_on_cancel;
        weft_task_retain(t);
        post_to = t->wait_worker;
      }
      break;
    case WEFT_WAIT_JOIN:
      forward = weft_task_retain(t->wait_task);
      break;
    case WEFT_WAIT_SHIELD:
      shielded = weft_task_retain(t->wait_task);
      break;
    case WEFT_WAIT_FUTURE:
      future = weft_future_retain(t->wait_future);
      break;
  }
  weft__spin_unlock(&t->lock);
  if (post_to != NULL)
    weft__inbox_post(post_to, &t->cancel_msg);
  if (forward != NULL) {
    forward_to(t, forward);
    weft__task_release(forward);
  }
  if (shielded != NULL) {
    withdraw_from_task(shielded, t);
    weft__task_release(shielded);
  }
  if (future != NULL) {
    deliver_by_withdrawal(t, weft__future_withdraw(future, t));
    weft_future_release(future);
  }
  return 0;
}

int weft_await_shielded(weft_task_t* t, void** result) {
  weft__worker_t* w;
  weft_task_t* cur;
  int pre = await_prologue(t, result, &w, &cur);
  if (pre != kGoOn)
    return pre;
  /* Never inline: a shielded task must be able to run on without us. */
  return join_parked(cur, t, WEFT_WAIT_SHIELD, result);
}

int weft_wait_for(weft_task_t* t, uint64_t timeout_ms, void** result) {
  weft_timeout_t* tm;
  if (t == NULL)
    return WEFT_EINVAL;
  int err = weft_timeout_enter(timeout_ms, &tm);
  if (err != 0)
    return err;
  /* On timeout the scope cancels us; weft_await forwards that to t and
   * goes on waiting until t has ended. */
  int status = weft_await(t, result);
  return weft_timeout_exit(tm) == WEFT_ETIMEDOUT ? WEFT_ETIMEDOUT : status;
}
