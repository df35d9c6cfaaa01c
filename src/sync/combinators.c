/* Combinators over tasks: weft_gather, weft_wait and weft_as_completed
 * (asyncio's gather, wait and as_completed), built on the public API only:
 * weft_task_future + weft_future_add_callback to learn when each task
 * finishes, and a fresh weft_future_t as the "wake me" signal the caller
 * awaits.
 *
 * DESIGN
 * One `watch` per call observes n tasks. A completion callback per task
 * (slot) appends the task's index to `order` (so the order is the
 * completion order), counts it, and notes the first failure, all under the
 * watch's mutex. The waiter states what it waits for (`need` completions,
 * or any failure when `stop_on_error`) and installs its wake future, under
 * the same mutex; the callback that satisfies the condition takes the wake
 * future out and completes it after unlocking. Both sides test and change
 * the state under one lock, so the wake-up cannot be lost:
 *
 *   waiter                            completion callback
 *   ------                            -------------------
 *   lock(w)                           lock(w)
 *   if satisfied: unlock, return      record index, count, failure
 *   w->wake = f                       if w->wake && satisfied: take it
 *   unlock(w)                         unlock(w)
 *   await f                           set_result(taken)
 *   lock(w); drop f if still there
 *
 * Lifetimes: callbacks may run after the waiter has returned (weft_wait's
 * timeout, a cancelled wait, a freed as_completed iterator), on whatever
 * thread completes the task. So the watch is reference counted: the waiter
 * holds one reference and each registered callback one; the last holder
 * frees it. The callbacks touch only the watch, never the caller's arrays
 * or tasks. Callbacks run in registration order and after the task is DONE,
 * so weft_task_result() of a task the watch counted never says EAGAIN.
 * A mutex rather than a lock-free word: the state is several fields that
 * change together, the critical sections are a few stores, and neither
 * side ever waits while holding it.
 *
 * Cancellation of the waiting task withdraws only its wait (the future
 * await returns WEFT_ECANCELED, the request is then spent). gather then
 * cancels its tasks and waits on the watch again until all finished; a
 * further cancellation of the caller re-cancels them and the wait goes on,
 * and gather remembers to return WEFT_ECANCELED. weft_wait and
 * as_completed return WEFT_ECANCELED and leave the tasks running, as
 * asyncio.wait does. A runtime that shuts down makes every await fail at
 * once: the cleanup notices that (weft__runtime_closing) rather than
 * spinning, and leaves the tasks to the shutdown, which cancels them
 * and waits for them.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "weft.h"
#include "core/runtime.h"

typedef struct watch_s watch_t;

/* One per task: what its callback needs to find the watch and the index. */
typedef struct {
  watch_t* w;
  size_t index;
} slot_t;

struct watch_s {
  pthread_mutex_t lock;
  size_t refs;          /* the waiter's + one per registered callback; lock */
  size_t n;             /* tasks watched; set once, before any callback */
  size_t ndone;         /* callbacks run so far; lock */
  size_t nfailed;       /* of them, with a negative status; lock */
  size_t first_failed;  /* index of the first failure, n if none; lock */
  size_t need;          /* the waiter's condition: ndone >= need; lock */
  int stop_on_error;    /* ... or nfailed > 0; lock */
  weft_future_t* wake;  /* the waiter's signal while it waits; lock */
  weft_future_t* spare; /* a signal made in advance; the waiter's */
  size_t* order;        /* order[0..ndone): indices by completion; lock */
  slot_t slots[];       /* written once before registration, then read-only */
};

static int satisfied(const watch_t* w) {
  return w->ndone >= w->need || (w->stop_on_error && w->nfailed > 0);
}

static void watch_free(watch_t* w) {
  weft_future_release(w->spare);
  pthread_mutex_destroy(&w->lock);
  free(w);
}

/* Gives back one reference; the last frees the watch. Any thread. */
static void watch_release(watch_t* w) {
  pthread_mutex_lock(&w->lock);
  int last = --w->refs == 0;
  pthread_mutex_unlock(&w->lock);
  if (last)
    watch_free(w);
}

/* A task finished: runs on the thread that completed it. Must stay short
 * and never await (weft_future_cb). */
static void on_task_done(weft_future_t* f, void* arg) {
  slot_t* s = arg;
  watch_t* w = s->w;
  weft_future_t* wake = NULL;
  int status = weft_future_result(f, NULL);
  pthread_mutex_lock(&w->lock);
  w->order[w->ndone++] = s->index;
  if (status < 0 && w->nfailed++ == 0)
    w->first_failed = s->index;
  if (w->wake != NULL && satisfied(w)) {
    wake = w->wake;
    w->wake = NULL;
  }
  pthread_mutex_unlock(&w->lock);
  if (wake != NULL) {
    weft_future_set_result(wake, NULL);
    weft_future_release(wake);
  }
  watch_release(w);
}

/* Registers the callback of slot i. On error, the callback never runs. */
static int watch_add(watch_t* w, weft_task_t* t, size_t i) {
  weft_future_t* f;
  int err = weft_task_future(t, &f);
  if (err != 0)
    return err;
  w->slots[i].w = w;
  w->slots[i].index = i;
  pthread_mutex_lock(&w->lock);
  w->refs++;
  pthread_mutex_unlock(&w->lock);
  /* Not under the lock: a finished task's callback runs right here. */
  err = weft_future_add_callback(f, on_task_done, &w->slots[i]);
  weft_future_release(f);
  if (err != 0)
    watch_release(w);
  return err;
}

/* Creates a watch over tasks[0..n) holding the caller's reference. The
 * spare future makes the first wait allocation-free, so gather and wait
 * cannot fail once they started watching. On error, callbacks registered
 * so far keep the watch alive until they run. */
static int watch_new(weft_task_t* const* tasks, size_t n, watch_t** out) {
  if (n > (SIZE_MAX - sizeof(watch_t)) / (sizeof(slot_t) + sizeof(size_t)))
    return WEFT_ENOMEM;
  size_t bytes = sizeof(watch_t) + n * (sizeof(slot_t) + sizeof(size_t));
  watch_t* w = weft__calloc(1, bytes);
  if (w == NULL)
    return WEFT_ENOMEM;
  if (pthread_mutex_init(&w->lock, NULL) != 0) {
    free(w);
    return WEFT_ENOMEM;
  }
  if (weft_future_new(&w->spare) != 0) {
    watch_free(w);
    return WEFT_ENOMEM;
  }
  w->refs = 1;
  w->n = n;
  w->first_failed = n;
  w->order = (size_t*)&w->slots[n];
  for (size_t i = 0; i < n; i++) {
    int err = watch_add(w, tasks[i], i);
    if (err != 0) {
      watch_release(w);
      return err;
    }
  }
  *out = w;
  return 0;
}

/* Waits until `need` tasks finished (or one failed, with stop_on_error), at
 * most timeout_ms (< 0: no limit). Returns 0, or what the future wait
 * returned: WEFT_ETIMEDOUT, WEFT_ECANCELED (the request is then spent),
 * WEFT_ENOMEM. The condition may hold even then: look at the watch. */
static int watch_wait(watch_t* w, size_t need, int stop_on_error,
                      int64_t timeout_ms) {
  weft_future_t* f = w->spare;
  int err = 0;
  w->spare = NULL;
  if (f == NULL && (err = weft_future_new(&f)) != 0)
    return err;
  pthread_mutex_lock(&w->lock);
  w->need = need;
  w->stop_on_error = stop_on_error;
  int ready = satisfied(w);
  if (!ready)
    w->wake = weft_future_retain(f); /* the watch's reference */
  pthread_mutex_unlock(&w->lock);
  if (!ready && timeout_ms != 0)
    err = timeout_ms < 0 ? weft_future_await(f, NULL)
                         : weft_future_wait_for(f, timeout_ms, NULL);
  else if (!ready)
    err = WEFT_ETIMEDOUT;
  pthread_mutex_lock(&w->lock);
  int withdraw = w->wake == f;
  if (withdraw)
    w->wake = NULL;
  pthread_mutex_unlock(&w->lock);
  if (withdraw)
    weft_future_release(f);
  weft_future_release(f);
  return err;
}

/* ---- Shared checks and cleanup --------------------------------------- */

/* Awaits t to its end (the fallback when no wake future can be made).
 * weft_await goes on waiting through cancellations that arrive while it
 * waits (it forwards them to t); one already pending when it starts makes
 * it return at once, so that one is forwarded here. */
static void reap_one(weft_task_t* t) {
  while (!weft_task_done(t)) {
    if (weft_await(t, NULL) != WEFT_ECANCELED || weft_task_done(t))
      return;
    if (weft__runtime_closing())
      return; /* the shutdown cancels t and waits for it */
    weft_cancel(t);
  }
}

/* Cancels every task and waits until all of them finished. Returns 1 if
 * the caller was cancelled meanwhile (its request must not be lost), else
 * 0. Each cancellation of the caller re-cancels the tasks (a no-op for
 * those already cancelled or done) and the wait goes on, except in a
 * runtime that shuts down: every await fails there, and the shutdown
 * itself waits for the tasks. */
static int cancel_and_reap(watch_t* w, weft_task_t* const* tasks, size_t n) {
  int cancelled = 0;
  for (;;) {
    for (size_t i = 0; i < n; i++)
      weft_cancel(tasks[i]); /* WEFT_EBUSY for a finished one: fine */
    int err = watch_wait(w, n, 0, -1);
    if (err == 0)
      return cancelled;
    if (err != WEFT_ECANCELED)
      break; /* WEFT_ENOMEM */
    cancelled = 1;
    if (weft__runtime_closing())
      return cancelled;
  }
  for (size_t i = 0; i < n; i++)
    reap_one(tasks[i]);
  return cancelled;
}

/* Arguments every combinator checks. From a task only. */
static int check_tasks(weft_task_t* const* tasks, size_t n) {
  weft_task_t* self = weft_current_task();
  if (self == NULL)
    return WEFT_ENOTTASK;
  if (n > 0 && tasks == NULL)
    return WEFT_EINVAL;
  for (size_t i = 0; i < n; i++) {
    if (tasks[i] == NULL)
      return WEFT_EINVAL;
    if (tasks[i] == self)
      return WEFT_EDEADLK;
  }
  return 0;
}

/* ---- gather ---------------------------------------------------------- */

/* Stores every task's status and result, in input order. A task the
 * shutdown left running counts as cancelled. */
static void gather_fill(weft_task_t* const* tasks, size_t n, void** results,
                        int* statuses) {
  for (size_t i = 0; i < n; i++) {
    void* result = NULL;
    int status = weft_task_result(tasks[i], &result);
    if (status == WEFT_EAGAIN)
      status = WEFT_ECANCELED;
    if (results != NULL)
      results[i] = status == 0 ? result : NULL;
    if (statuses != NULL)
      statuses[i] = status;
  }
}

int weft_gather(weft_task_t* const* tasks, size_t n, unsigned flags,
                void** results, int* statuses) {
  if (flags & ~WEFT_GATHER_COLLECT)
    return WEFT_EINVAL;
  int err = check_tasks(tasks, n);
  if (err != 0 || n == 0)
    return err;
  int fail_fast = !(flags & WEFT_GATHER_COLLECT);
  watch_t* w;
  err = watch_new(tasks, n, &w);
  if (err != 0)
    return err;
  err = watch_wait(w, n, fail_fast, -1); /* 0 or WEFT_ECANCELED */
  pthread_mutex_lock(&w->lock);
  size_t failed = w->first_failed;
  int all_done = w->ndone == n;
  pthread_mutex_unlock(&w->lock);
  if (!all_done && cancel_and_reap(w, tasks, n))
    err = WEFT_ECANCELED;
  watch_release(w);
  gather_fill(tasks, n, results, statuses);
  if (err != 0)
    return err;
  return fail_fast && failed < n ? weft_task_result(tasks[failed], NULL) : 0;
}

/* ---- wait ------------------------------------------------------------ */

static void wait_sort(weft_task_t* const* tasks, size_t n, weft_task_t** done,
                      size_t* ndone, weft_task_t** pending, size_t* npending) {
  size_t nd = 0;
  size_t np = 0;
  for (size_t i = 0; i < n; i++) {
    if (weft_task_done(tasks[i])) {
      if (done != NULL)
        done[nd] = tasks[i];
      nd++;
    } else {
      if (pending != NULL)
        pending[np] = tasks[i];
      np++;
    }
  }
  if (ndone != NULL)
    *ndone = nd;
  if (npending != NULL)
    *npending = np;
}

int weft_wait(weft_task_t* const* tasks, size_t n, weft_wait_mode_t mode,
              int64_t timeout_ms, weft_task_t** done, size_t* ndone,
              weft_task_t** pending, size_t* npending) {
  int err = check_tasks(tasks, n);
  if (err != 0)
    return err;
  if (mode != WEFT_ALL_COMPLETED && mode != WEFT_FIRST_COMPLETED &&
      mode != WEFT_FIRST_EXCEPTION)
    return WEFT_EINVAL;
  if (n > 0) {
    watch_t* w;
    err = watch_new(tasks, n, &w);
    if (err != 0)
      return err;
    size_t need = mode == WEFT_FIRST_COMPLETED ? 1 : n;
    err = watch_wait(w, need, mode == WEFT_FIRST_EXCEPTION, timeout_ms);
    watch_release(w);
    if (err == WEFT_ETIMEDOUT)
      err = 0; /* a timeout is an answer: the pending set says it */
  }
  wait_sort(tasks, n, done, ndone, pending, npending);
  return err;
}

/* ---- as_completed ---------------------------------------------------- */

struct weft_as_completed_s {
  watch_t* w;           /* holds the iterator's reference */
  size_t n;             /* tasks */
  size_t handed;        /* handed out so far; the iterating caller's */
  int has_deadline;     /* set once by _new */
  uint64_t deadline_ns; /* weft_now_ns() clock; set once by _new */
  weft_task_t* tasks[]; /* the caller's handles, copied; borrowed */
};

int weft_as_completed_new(weft_task_t* const* tasks, size_t n,
                          int64_t timeout_ms, weft_as_completed_t** out) {
  if (out == NULL || (n > 0 && tasks == NULL))
    return WEFT_EINVAL;
  for (size_t i = 0; i < n; i++)
    if (tasks[i] == NULL)
      return WEFT_EINVAL;
  if (n > SIZE_MAX / 2 / sizeof(weft_task_t*))
    return WEFT_ENOMEM;
  weft_as_completed_t* it =
      weft__calloc(1, sizeof(*it) + n * sizeof(it->tasks[0]));
  if (it == NULL)
    return WEFT_ENOMEM;
  if (n > 0)
    memcpy(it->tasks, tasks, n * sizeof(it->tasks[0]));
  it->n = n;
  if (timeout_ms >= 0) {
    it->has_deadline = 1;
    it->deadline_ns = weft_now_ns() + (uint64_t)timeout_ms * 1000000u;
  }
  int err = watch_new(tasks, n, &it->w);
  if (err != 0) {
    free(it);
    return err;
  }
  *out = it;
  return 0;
}

/* The milliseconds left before the deadline, rounded up so the wait ends
 * at or after it; 0 once it has passed; -1 without one. */
static int64_t time_left_ms(const weft_as_completed_t* it) {
  if (!it->has_deadline)
    return -1;
  uint64_t now = weft_now_ns();
  if (now >= it->deadline_ns)
    return 0;
  return (int64_t)((it->deadline_ns - now + 999999u) / 1000000u);
}

/* Takes the next finished task, if any. */
static int take_next(weft_as_completed_t* it, weft_task_t** task) {
  watch_t* w = it->w;
  pthread_mutex_lock(&w->lock);
  int have = it->handed < w->ndone;
  if (have)
    *task = it->tasks[w->order[it->handed++]];
  pthread_mutex_unlock(&w->lock);
  return have;
}

int weft_as_completed_next(weft_as_completed_t* it, weft_task_t** task) {
  if (it == NULL || task == NULL)
    return WEFT_EINVAL;
  for (;;) {
    /* Finished tasks are handed out even past the deadline: a result
     * already produced is never lost to a timeout. */
    if (take_next(it, task))
      return 0;
    if (it->handed == it->n)
      return WEFT_ECLOSED;
    int64_t left = time_left_ms(it);
    if (left == 0)
      return WEFT_ETIMEDOUT;
    int err = watch_wait(it->w, it->handed + 1, 0, left);
    if (err != 0 && err != WEFT_ETIMEDOUT)
      return err; /* WEFT_ECANCELED, WEFT_ENOMEM */
  }
}

int weft_as_completed_free(weft_as_completed_t* it) {
  if (it == NULL)
    return 0;
  watch_release(it->w);
  free(it);
  return 0;
}
