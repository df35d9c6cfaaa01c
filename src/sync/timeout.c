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
 * so exit takes it back if no await consumed it yet, and reports
 * WEFT_ETIMEDOUT. A scope whose deadline passed while its worker was busy
 * (no timer could run) reports WEFT_ETIMEDOUT too, with nothing to take
 * back: a deadline is only enforced at awaits, there is no preemption. A closed scope's heap entry goes stale; if exit runs on
 * the heap's own worker it counts it, so the heap drops stale entries in a
 * rebuild instead of waiting for their deadlines.
 */
#include <stdlib.h>

#include "base/alloc.h"
#include "base/common.h"
#include "sync/timeout.h"
#include "core/worker.h"

enum { kOpen = 0, kFired = 1, kClosed = 2 };

struct weft_timeout_s {
  /* relaxed increments are never needed (two holders from the start);
   * acq_rel decrements (see drop_ref). */
  _Atomic uint32_t refs;
  weft__spin_t lock;
  uint8_t state;          /* kOpen, kFired, kClosed; under `lock` */
  weft_task_t* task;      /* the scope's task; one reference */
  weft__worker_t* home;   /* worker whose heap holds the entry */
  uint64_t deadline;      /* read-only */
};

static void drop_ref(weft_timeout_t* tm) {
  /* acq_rel: the last holder sees the other's writes before freeing. */
  if (atomic_fetch_sub_explicit(&tm->refs, 1, memory_order_acq_rel) != 1)
    return;
  weft_task_release(tm->task);
  free(tm);
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
  tm->home = w;
  uint64_t now = weft__now_ns();
  uint64_t ns = ms > UINT64_MAX / 1000000u ? UINT64_MAX : ms * 1000000u;
  uint64_t deadline = ns > UINT64_MAX - now ? UINT64_MAX : now + ns;
  tm->deadline = deadline;
  weft_task_t* tagged =
      (weft_task_t*)((uintptr_t)tm | WEFT_TIMER_TAG_TIMEOUT);
  if (weft__timers_add(w, deadline, tagged, 0) != 0) {
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
    weft__take_cancel(tm->task);
    err = WEFT_ETIMEDOUT;
  } else {
    /* Past the deadline, but its worker was busy (this very task may have
     * held it) and has not fired it: closed now, nothing to take back. */
    if (weft__now_ns() >= tm->deadline)
      err = WEFT_ETIMEDOUT;
    if (weft__worker_self() == tm->home)
      weft__timers_note_stale(tm->home);
  }
  drop_ref(tm);
  return err;
}

void weft__timeout_fire(weft_timeout_t* tm) {
  weft__spin_lock(&tm->lock);
  if (tm->state == kOpen) {
    tm->state = kFired;
    weft_cancel(tm->task);
  }
  weft__spin_unlock(&tm->lock);
  drop_ref(tm);
}

int weft__timeout_live(weft_timeout_t* tm) {
  weft__spin_lock(&tm->lock);
  int live = tm->state == kOpen;
  weft__spin_unlock(&tm->lock);
  return live;
}

void weft__timeout_drop(weft_timeout_t* tm) {
  drop_ref(tm);
}
