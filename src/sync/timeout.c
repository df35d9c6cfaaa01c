/* Timeout scopes, weft_timeout_enter/exit (asyncio.timeout()).
 *
 * DESIGN
 * A scope is a small heap object with two references: the scope's owner
 * (freed at exit) and the timer heap of the worker it was entered on. At
 * the deadline that worker fires it: under the scope's lock, a still-open
 * scope is marked FIRED and its task cancelled (weft_cancel, so a sleep is
 * withdrawn, an await forwarded, a future wait withdrawn). Exit marks an
 * open scope CLOSED under the same lock; if it finds FIRED instead, the
 * cancellation has been requested already (it was done under the lock),
 * so exit takes it back (weft__cancel_uncancel: one request off the task's
 * count, and the pending delivery if no await consumed it yet) and reports
 * WEFT_ETIMEDOUT. Requests are counted, and the scope notes the count at
 * enter (asyncio 3.11's cancelling()/uncancel()): if more remain at exit,
 * someone else cancelled the task too, perhaps in the same delivery, so the
 * pending delivery is left alone and exit reports WEFT_ECANCELED; the
 * outside cancellation is never swallowed. A scope whose deadline passed while
 * its worker was busy (no timer could run) reports WEFT_ETIMEDOUT too, with
 * nothing to take back: a deadline is only enforced at awaits, there is no
 * preemption. A closed scope's heap entry goes stale; if exit runs on the
 * heap's own worker it counts it, so the heap drops stale entries in a rebuild
 * instead of waiting for their deadlines.
 */
#include <stdlib.h>

#include "base/alloc.h"
#include "base/common.h"
#include "core/future.h"
#include "core/wait.h"
#include "core/worker.h"

enum { kOpen = 0, kFired = 1, kClosed = 2 };

struct weft_timeout_s {
  /* relaxed increments are never needed (two holders from the start);
   * acq_rel decrements (see drop_ref). */
  _Atomic uint32_t refs;
  weft__spin_t lock;
  uint8_t state;        /* kOpen, kFired, kClosed; under `lock` */
  weft_task_t* task;    /* the scope's task; one reference */
  uint32_t base;        /* the task's cancel requests at enter; read-only */
  weft__worker_t* home; /* worker whose heap holds the entry */
  uint64_t deadline;    /* read-only */
};

static void drop_ref(weft_timeout_t* tm) {
  /* acq_rel: the last holder sees the other's writes before freeing. */
  if (atomic_fetch_sub_explicit(&tm->refs, 1, memory_order_acq_rel) != 1)
    return;
  weft_task_release(tm->task);
  free(tm);
}

static const weft__timer_ops_t kScopeTimer;

static uint64_t deadline_after_ms(uint64_t ms) {
  uint64_t now = weft__now_ns();
  uint64_t ns = ms > UINT64_MAX / 1000000u ? UINT64_MAX : ms * 1000000u;
  return ns > UINT64_MAX - now ? UINT64_MAX : now + ns;
}

int weft_timeout_enter(uint64_t ms, weft_timeout_t** out) {
  weft__worker_t* w = weft__worker_self();
  if (out == NULL)
    return WEFT_EINVAL;
  if (w == NULL || w->current == NULL)
    return WEFT_ENOTTASK;
  weft_timeout_t* tm = weft__calloc(1, sizeof(*tm));
  if (tm == NULL)
    return WEFT_ENOMEM;
  atomic_init(&tm->refs, 2);
  tm->state = kOpen;
  tm->task = weft_task_retain(w->current);
  tm->base = weft__cancel_requests(tm->task);
  tm->home = w;
  uint64_t deadline = deadline_after_ms(ms);
  tm->deadline = deadline;
  if (weft__timers_add_entry(w, deadline, &kScopeTimer, tm) != 0) {
    weft_task_release(tm->task);
    free(tm);
    return WEFT_ENOMEM;
  }
  *out = tm;
  return 0;
}

int weft_timeout_exit(weft_timeout_t* tm) {
  if (tm == NULL)
    return WEFT_EINVAL;
  weft__spin_lock(&tm->lock);
  uint8_t was = tm->state;
  if (was == kOpen)
    tm->state = kClosed;
  weft__spin_unlock(&tm->lock);
  int err = 0;
  if (was == kFired) {
    int others = weft__cancel_uncancel(tm->task, tm->base);
    err = others ? WEFT_ECANCELED : WEFT_ETIMEDOUT;
  } else {
    /* Past the deadline, but its worker was busy (this very task may have
     * held it) and has not fired it: closed now, nothing to take back. */
    if (weft__now_ns() >= tm->deadline)
      err = WEFT_ETIMEDOUT;
    /* The count is a heuristic: skipped when the heap's driver is
     * taken (driver.c). */
    if (weft__worker_self() == tm->home && weft__driver_try(tm->home)) {
      weft__timers_note_stale(tm->home);
      weft__driver_release(tm->home);
    }
  }
  drop_ref(tm);
  return err;
}

static void scope_fire(void* obj) {
  weft_timeout_t* tm = obj;
  weft__spin_lock(&tm->lock);
  if (tm->state == kOpen) {
    tm->state = kFired;
    weft_cancel(tm->task);
  }
  weft__spin_unlock(&tm->lock);
  drop_ref(tm);
}

static int scope_live(void* obj) {
  weft_timeout_t* tm = obj;
  weft__spin_lock(&tm->lock);
  int live = tm->state == kOpen;
  weft__spin_unlock(&tm->lock);
  return live;
}

static void scope_drop(void* obj) {
  drop_ref(obj);
}

/* The scope's timer entry: fired at the deadline, live while the scope is
 * open; either way the heap's reference goes with the entry. */
static const weft__timer_ops_t kScopeTimer = {scope_fire, scope_live,
                                              scope_drop};

/* ---- Awaits with a deadline: a scope around the plain await ------------- */

int weft_wait_for(weft_task_t* t, int64_t timeout_ms, void** result) {
  weft_timeout_t* tm;
  if (t == NULL)
    return WEFT_EINVAL;
  if (timeout_ms < 0)
    return weft_await(t, result); /* no timeout, as everywhere */
  int err = weft_timeout_enter((uint64_t)timeout_ms, &tm);
  if (err != 0)
    return err;
  /* On timeout the scope cancels us; weft_await forwards that to t and
   * goes on waiting until t has ended. */
  int status = weft_await(t, result);
  int ended = weft_timeout_exit(tm);
  return ended != 0 ? ended : status;
}

int weft_future_wait_for(weft_future_t* f, int64_t timeout_ms, void** result) {
  if (f == NULL)
    return WEFT_EINVAL;
  if (weft_future_done(f))
    return weft_future_result(f, result);
  if (timeout_ms < 0)
    return weft_future_await(f, result); /* no timeout, as everywhere */
  weft__worker_t* w = weft__worker_self();
  if (w == NULL)
    return weft__future_await_until(f, deadline_after_ms((uint64_t)timeout_ms),
                                    result);
  if (w->current == NULL)
    return WEFT_EPERM;
  weft_timeout_t* tm;
  int err = weft_timeout_enter((uint64_t)timeout_ms, &tm);
  if (err != 0)
    return err;
  int status = weft_future_await(f, result);
  int ended = weft_timeout_exit(tm);
  return ended != 0 ? ended : status;
}
