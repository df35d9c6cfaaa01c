/* Task groups (asyncio.TaskGroup, structured concurrency): weft_group_new,
 * weft_group_spawn, weft_group_wait, weft_group_free. Built on the public
 * API only, like combinators.c.
 *
 * DESIGN
 * The group keeps a reference to every child and registers a completion
 * callback on each (weft_task_future + weft_future_add_callback). The
 * callback runs on the thread that finished the child; it counts the child
 * off `pending` and, for the first child that failed (a negative status
 * other than WEFT_ECANCELED: a child cancelled on its own is not a
 * failure, as in asyncio), records the status, closes the group and
 * cancels every sibling (weft_cancel works from any thread).
 *
 * `pending` counts children not seen finished plus spawns in flight (from
 * their reservation to their callback's registration), so the owner never
 * sees an empty group while a spawn is half done. The owner's wait installs
 * a wake future and the callback that brings `pending` to 0 completes it;
 * both test and change `pending` under the group's mutex, so no wake-up is
 * lost (the race is drawn in combinators.c). The wait that sees
 * `pending == 0` closes the group under the same lock, so no child can
 * join a group that was found idle.
 *
 * The children array only grows (realloc) in weft_group_spawn while the
 * group is open, under the lock, with room reserved for the spawns in
 * flight; once `closed` is set it never moves again, so a callback or the
 * owner may walk its first `n` entries without the lock after reading `n`
 * and the pointer under it. Entries appended later by spawns that were in
 * flight are cancelled by their spawner.
 *
 * Lifetimes: callbacks may run after weft_group_free (a child finishing
 * during shutdown), so the group is reference counted: the owner's handle
 * plus one per registered callback; the last holder releases the children
 * and frees the group. Releasing a child's handle inside a completion
 * callback is safe: the scheduler holds its own reference until the task
 * has fully ended.
 *
 * Cancellation of the owner while it waits: the wait is withdrawn (the
 * request is spent), every child is cancelled and the wait resumes; each
 * further cancellation re-cancels them. In a runtime that shuts down every
 * await fails at once, so the owner stops waiting there
 * (weft__runtime_closing) and leaves the children to the shutdown.
 */
#include <pthread.h>
#include <stdlib.h>

#include "base/alloc.h"
#include "weft.h"
#include "core/runtime.h"

struct weft_group_s {
  pthread_mutex_t lock;
  weft_runtime_t* rt;   /* for spawns from outside a task; set once */
  size_t refs;          /* the owner's + one per registered callback; lock */
  weft_task_t** tasks;  /* a reference per child; grows while open; lock */
  size_t n;             /* children stored in tasks; lock */
  size_t cap;           /* room in tasks; lock */
  size_t inflight;      /* spawns with room reserved, not yet stored; lock */
  size_t pending;       /* children not seen finished + spawns; lock */
  int failed;           /* status of the first failed child, or 0; lock */
  int closed;           /* spawns get WEFT_ECLOSED; lock */
  weft_future_t* wake;  /* the owner's signal for pending == 0; lock */
  weft_future_t* spare; /* a signal made in advance; the owner's */
  int waited;           /* weft_group_wait returned; the owner's */
  int result;           /* what it returned; the owner's */
};

int weft_group_new(weft_group_t** out) {
  if (out == NULL)
    return WEFT_EINVAL;
  weft_group_t* g = weft__calloc(1, sizeof(*g));
  if (g == NULL)
    return WEFT_ENOMEM;
  if (weft_future_new(&g->spare) != 0) {
    free(g);
    return WEFT_ENOMEM;
  }
  if (pthread_mutex_init(&g->lock, NULL) != 0) {
    weft_future_release(g->spare);
    free(g);
    return WEFT_ENOMEM;
  }
  g->rt = weft_current_runtime();
  g->refs = 1;
  *out = g;
  return 0;
}

static void group_destroy(weft_group_t* g) {
  for (size_t i = 0; i < g->n; i++)
    weft_task_release(g->tasks[i]);
  free(g->tasks);
  weft_future_release(g->spare);
  pthread_mutex_destroy(&g->lock);
  free(g);
}

/* Gives back one reference; the last frees the group. Any thread. */
static void group_release(weft_group_t* g) {
  pthread_mutex_lock(&g->lock);
  int last = --g->refs == 0;
  pthread_mutex_unlock(&g->lock);
  if (last)
    group_destroy(g);
}

/* The owner's wake future, if the group just went idle. Lock held. */
static weft_future_t* take_wake(weft_group_t* g) {
  weft_future_t* wake = NULL;
  if (g->pending == 0 && g->wake != NULL) {
    wake = g->wake;
    g->wake = NULL;
  }
  return wake;
}

static void signal_wake(weft_future_t* wake) {
  if (wake == NULL)
    return;
  weft_future_set_result(wake, NULL);
  weft_future_release(wake);
}

/* Counts one child or spawn off `pending`. */
static void drop_pending(weft_group_t* g) {
  pthread_mutex_lock(&g->lock);
  g->pending--;
  weft_future_t* wake = take_wake(g);
  pthread_mutex_unlock(&g->lock);
  signal_wake(wake);
}

/* Closes the group and cancels every child stored so far. Any thread. */
static void cancel_children(weft_group_t* g) {
  pthread_mutex_lock(&g->lock);
  g->closed = 1;
  weft_task_t** tasks = g->tasks; /* never moves once closed */
  size_t n = g->n;
  pthread_mutex_unlock(&g->lock);
  for (size_t i = 0; i < n; i++)
    weft_cancel(tasks[i]); /* WEFT_EBUSY for a finished one: fine */
}

/* A child finished: runs on the thread that completed it. Short, and never
 * awaits (weft_future_cb). */
static void on_child_done(weft_future_t* f, void* arg) {
  weft_group_t* g = arg;
  int status = weft_future_result(f, NULL);
  int first_failure = 0;
  pthread_mutex_lock(&g->lock);
  if (status < 0 && status != WEFT_ECANCELED && g->failed == 0) {
    g->failed = status;
    first_failure = 1;
  }
  pthread_mutex_unlock(&g->lock);
  if (first_failure)
    cancel_children(g);
  drop_pending(g);
  group_release(g);
}

/* ---- spawn ------------------------------------------------------------ */

/* Reserves room and a `pending` count for one spawn, if the group is open. */
static int reserve(weft_group_t* g) {
  int err = 0;
  pthread_mutex_lock(&g->lock);
  if (g->closed) {
    err = WEFT_ECLOSED;
  } else if (g->n + g->inflight == g->cap) {
    size_t cap = g->cap == 0 ? 8 : 2 * g->cap;
    weft_task_t** tasks = weft__realloc(g->tasks, cap * sizeof(*tasks));
    if (tasks == NULL) {
      err = WEFT_ENOMEM;
    } else {
      g->tasks = tasks;
      g->cap = cap;
    }
  }
  if (err == 0) {
    g->inflight++;
    g->pending++;
  }
  pthread_mutex_unlock(&g->lock);
  return err;
}

/* The spawn failed: gives the reservation back. */
static void unreserve(weft_group_t* g) {
  pthread_mutex_lock(&g->lock);
  g->inflight--;
  pthread_mutex_unlock(&g->lock);
  drop_pending(g);
}

/* Stores the child (using the reserved room) and takes a reference for its
 * callback. Returns 1 if the group closed since the reservation. */
static int store(weft_group_t* g, weft_task_t* t) {
  pthread_mutex_lock(&g->lock);
  g->inflight--;
  g->tasks[g->n++] = t;
  g->refs++;
  int closed = g->closed;
  pthread_mutex_unlock(&g->lock);
  return closed;
}

/* Registers the child's callback, which then owns a group reference and
 * its `pending` count. Not under the lock: for a child that has already
 * finished the callback runs right here. */
static int watch_child(weft_group_t* g, weft_task_t* t) {
  weft_future_t* f;
  int err = weft_task_future(t, &f);
  if (err == 0) {
    err = weft_future_add_callback(f, on_child_done, g);
    weft_future_release(f);
  }
  if (err != 0) {
    weft_cancel(t); /* the owner's final sweep awaits it */
    drop_pending(g);
    group_release(g);
  }
  return err;
}

int weft_group_spawn(weft_group_t* g, weft_task_fn fn, void* arg,
                     const weft_spawn_opts_t* opts, weft_task_t** out) {
  if (g == NULL || fn == NULL)
    return WEFT_EINVAL;
  int err = reserve(g);
  if (err != 0)
    return err;
  weft_runtime_t* rt = weft_current_runtime();
  weft_task_t* t;
  err = weft_spawn(rt != NULL ? rt : g->rt, fn, arg, opts, &t);
  if (err != 0) {
    unreserve(g);
    return err;
  }
  if (store(g, t))
    weft_cancel(t); /* a sibling failed or the owner was cancelled */
  err = watch_child(g, t);
  if (err == 0 && out != NULL)
    *out = weft_task_retain(t);
  return err;
}

/* ---- wait and free ----------------------------------------------------- */

/* Closes the group if it is idle (pending == 0); otherwise installs `f`
 * as the owner's wake future. Returns 1 when idle. */
static int close_or_arm(weft_group_t* g, weft_future_t* f) {
  pthread_mutex_lock(&g->lock);
  int idle = g->pending == 0;
  if (idle)
    g->closed = 1;
  else if (f != NULL)
    g->wake = weft_future_retain(f); /* the group's reference */
  pthread_mutex_unlock(&g->lock);
  return idle;
}

/* Waits until `pending` is 0, then closes the group (in the critical
 * section that sees it 0). Returns 0, or the future wait's error:
 * WEFT_ECANCELED (the request is spent) or WEFT_ENOMEM. */
static int wait_idle(weft_group_t* g) {
  while (!close_or_arm(g, NULL)) {
    weft_future_t* f = g->spare;
    g->spare = NULL;
    if (f == NULL && weft_future_new(&f) != 0)
      return WEFT_ENOMEM;
    if (close_or_arm(g, f)) {
      g->spare = f; /* not needed after all */
      return 0;
    }
    int err = weft_future_await(f, NULL);
    pthread_mutex_lock(&g->lock);
    int withdraw = g->wake == f;
    if (withdraw)
      g->wake = NULL;
    pthread_mutex_unlock(&g->lock);
    if (withdraw)
      weft_future_release(f);
    weft_future_release(f);
    if (err != 0)
      return err;
  }
  return 0;
}

/* Awaits t to its end with weft_await, which goes on waiting through
 * cancellations that arrive while it waits (it forwards them to t); one
 * already pending makes it return at once, so that one is forwarded here. */
static void reap_one(weft_task_t* t) {
  while (!weft_task_done(t)) {
    if (weft_await(t, NULL) != WEFT_ECANCELED || weft_task_done(t))
      return;
    if (weft__runtime_closing())
      return;
    weft_cancel(t);
  }
}

/* Awaits every stored child that has not finished: those whose callback
 * could not be registered, or all of them when no wake future could be
 * made. The group is closed, so the array no longer moves. */
static void sweep(weft_group_t* g) {
  pthread_mutex_lock(&g->lock);
  g->closed = 1;
  weft_task_t** tasks = g->tasks;
  size_t n = g->n;
  pthread_mutex_unlock(&g->lock);
  for (size_t i = 0; i < n; i++)
    reap_one(tasks[i]);
}

/* Waits until every child finished, cancelling them all first if `cancel`.
 * Returns 1 if the caller was cancelled meanwhile, else 0. */
static int drain(weft_group_t* g, int cancel) {
  int cancelled = 0;
  for (;;) {
    if (cancel)
      cancel_children(g);
    int err = wait_idle(g);
    if (err == WEFT_ECANCELED) {
      cancelled = cancel = 1;
      if (!weft__runtime_closing())
        continue;
      cancel_children(g); /* closes it; the shutdown awaits the children */
      return cancelled;
    }
    if (err != 0)
      cancel_children(g); /* WEFT_ENOMEM: no wake future; sweep awaits */
    sweep(g);
    return cancelled;
  }
}

int weft_group_wait(weft_group_t* g) {
  if (g == NULL)
    return WEFT_EINVAL;
  if (g->waited)
    return g->result;
  int cancelled = drain(g, 0);
  pthread_mutex_lock(&g->lock);
  g->result = cancelled ? WEFT_ECANCELED : g->failed;
  pthread_mutex_unlock(&g->lock);
  g->waited = 1;
  return g->result;
}

int weft_group_free(weft_group_t* g) {
  if (g == NULL)
    return 0;
  /* A cancellation spent while freeing is requested again, so the caller's
   * next await still gets it. */
  if (!g->waited && drain(g, 1) && weft_current_task() != NULL)
    weft_cancel(weft_current_task());
  group_release(g);
  return 0;
}
