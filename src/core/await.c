/* The await points: weft_await, weft_yield, weft_sleep_*, and the kinds
 * of wait they park in (a join, a shielded join, a sleep). How a wait is
 * parked, withdrawn and cancelled is core/wait.c's.
 */
#include <pthread.h>
#include <string.h>

#include "base/common.h"
#include "core/future.h"
#include "core/wait.h"
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

static const weft__wait_kind_t kJoin;
static const weft__wait_kind_t kShielded;

static void set_join_wait(weft_task_t* cur, weft_task_t* t) {
  weft__spin_lock(&cur->lock);
  cur->wait_kind = &kJoin;
  cur->wait_task = t;
  weft__spin_unlock(&cur->lock);
}

static void clear_wait(weft_task_t* cur) {
  weft__spin_lock(&cur->lock);
  cur->wait_kind = NULL;
  cur->wait_task = NULL;
  weft__spin_unlock(&cur->lock);
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

static int task_done(const void* obj) {
  return is_done(obj);
}

static weft__waitable_t waitable(weft_task_t* t) {
  return (weft__waitable_t){&t->lock, &t->waiters, task_done, t};
}

/* A task waits for another. `kind` says what a cancellation of the waiter
 * does: kJoin forwards it to t (the waiter goes on waiting), kShielded
 * withdraws the wait (the waiter returns WEFT_ECANCELED, t runs on). */
static int join_parked(weft_task_t* cur, weft_task_t* t,
                       const weft__wait_kind_t* kind, void** result) {
  /* Our own reference for the wait: the handle's owner may release it as
   * soon as t ends (main awaits t, then releases it, while we are woken but
   * not yet run), and we still read t's status after waking. The kinds'
   * cancel and describe rely on it too. */
  weft_task_retain(t);
  weft__waitable_t on = waitable(t);
  int status = weft__wait_park_on_obj(cur, kind, t, &on, kind == &kShielded);
  if (status == 0)
    status = collect(t, result);
  weft__task_release(t);
  return status;
}

/* A plain thread waits for a task: blocks on a condition variable. */
static int join_blocking(weft_task_t* t, void** result) {
  weft_task_retain(t); /* as in join_parked */
  weft__waitable_t on = waitable(t);
  weft__wait_block_on(&on, NULL);
  int status = collect(t, result);
  weft__task_release(t);
  return status;
}

/* What weft_await and weft_await_shielded do before they wait: argument
 * and context checks, the plain-thread and already-done cases, and a
 * pending cancellation. Returns the call's result, or kGoOn with the
 * worker and the running task when the caller must wait. */
enum { kGoOn = 1 };

static int await_prologue(weft_task_t* t, void** result, int shielded,
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
  if (closing(w->rt))
    return WEFT_ECANCELED;
  /* A request already pending: a shielded await ends at once (t runs
   * on); a plain one hands it to t and waits for t, as a request that
   * comes during the wait would (asyncio's rule). */
  if (weft__take_cancel(cur)) {
    if (shielded)
      return WEFT_ECANCELED;
    weft_cancel(t);
  }
  *wp = w;
  *curp = cur;
  return kGoOn;
}

int weft_await(weft_task_t* t, void** result) {
  weft__worker_t* w;
  weft_task_t* cur;
  int pre = await_prologue(t, result, 0, &w, &cur);
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
  return join_parked(cur, t, &kJoin, result);
}

int weft_yield(void) {
  weft__worker_t* w = weft__worker_self();
  if (w == NULL || w->current == NULL)
    return WEFT_ENOTTASK;
  weft_task_t* cur = w->current;
  if (closing(w->rt) || weft__take_cancel(cur))
    return WEFT_ECANCELED;
  weft__park_yield();
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
  /* The heap is under the driver, held until we are switched out: the
   * timer cannot fire on another thread before (driver.c). */
  weft__driver_borrow_own(w);
  weft__spin_lock(&cur->lock);
  if (weft__cancel_take_locked(cur)) {
    weft__spin_unlock(&cur->lock);
    return WEFT_ECANCELED;
  }
  uint64_t seq = ++cur->wait_seq;
  cur->wait_kind = &weft__wait_sleep;
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

/* ---- The kinds of wait -----------------------------------------------------
 */

/* A sleep's cancel message, on the worker whose heap holds its timer. */
static void on_cancel_sleep(weft__worker_t* w, weft__msg_t* m) {
  weft_task_t* t = weft__container_of(m, weft_task_t, cancel_msg);
  int wake = 0;
  weft__spin_lock(&t->lock);
  t->cancel_msg_pending = 0;
  if (t->wait_kind == &weft__wait_sleep && t->wait_worker == w &&
      weft__cancel_take_locked(t)) {
    t->wait_kind = NULL;
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

static void* sleep_cancel_locked(weft_task_t* t) {
  return weft__wait_cancel_message(t, on_cancel_sleep);
}

static void sleep_describe(weft_task_t* t, char* buf, size_t n) {
  weft__worker_t* w = t->wait_worker;
  snprintf(buf, n, "sleep (timer on worker %u)", w ? w->index : 0u);
}

const weft__wait_kind_t weft__wait_sleep = {"sleep", sleep_cancel_locked,
                                            weft__wait_post_message,
                                            sleep_describe};

/* Joins hold a reference to the awaited task while they wait (see
 * join_parked; an inline child is held by its awaiter), so under the
 * waiter's lock wait_task is alive. */
static void* join_cancel_locked(weft_task_t* t) {
  return weft_task_retain(t->wait_task);
}

/* Forwards the request to the awaited task; delivered by forwarding,
 * unless the wait ended meanwhile. */
static void join_cancel(weft_task_t* t, void* what) {
  weft_task_t* forward = what;
  if (weft_cancel(forward) == 0) {
    weft__spin_lock(&t->lock);
    if (t->wait_kind == &kJoin && t->wait_task == forward)
      weft__cancel_take_locked(t);
    weft__spin_unlock(&t->lock);
  }
  weft__task_release(forward);
}

static void shielded_cancel(weft_task_t* t, void* what) {
  weft_task_t* awaited = what;
  weft__spin_lock(&awaited->lock);
  weft_task_t* fiber = weft__waiter_withdraw(&awaited->waiters, t);
  weft__spin_unlock(&awaited->lock);
  weft__wait_deliver_withdrawn(t, fiber);
  weft__task_release(awaited);
}

static void join_describe(weft_task_t* t, char* buf, size_t n) {
  char label[80];
  weft__task_label(t->wait_task, label, sizeof(label));
  snprintf(buf, n, "task %s%s", label,
           t->wait_kind == &kShielded ? " (shielded)" : "");
}

static const weft__wait_kind_t kJoin = {"join", join_cancel_locked, join_cancel,
                                        join_describe};
static const weft__wait_kind_t kShielded = {"shielded join", join_cancel_locked,
                                            shielded_cancel, join_describe};

int weft_await_shielded(weft_task_t* t, void** result) {
  weft__worker_t* w;
  weft_task_t* cur;
  int pre = await_prologue(t, result, 1, &w, &cur);
  if (pre != kGoOn)
    return pre;
  /* Never inline: a shielded task must be able to run on without us. */
  return join_parked(cur, t, &kShielded, result);
}
