/* Task sets that supervise (tokio's JoinSet, a supervisor's child list):
 * weft_taskset_*. Built on the public API, like group.c.
 *
 * DESIGN
 * One mutex guards everything. Each child has an entry: on the `running`
 * list from its adoption (weft_taskset_spawn or weft_taskset_add) until its
 * completion callback (weft_task_future + weft_future_add_callback) moves
 * it to the FIFO `done` list, from which weft_taskset_join_next hands
 * children out in the order they finished; with WEFT_TASKSET_DISCARD the
 * callback frees the entry instead, so a long-lived set (a server's) never
 * grows with finished children. The first failure (a negative status
 * other than WEFT_ECANCELED) is recorded; unless WEFT_TASKSET_KEEP_GOING,
 * it also closes the set and cancels every running sibling.
 *
 * Waiting (join_next, shutdown, free) uses one `wake` future, made on
 * demand under the mutex and completed (and dropped) by the next callback
 * that changes the set; every waiter holds a reference to the one it
 * waits on. The condition is tested and the future taken under the same
 * mutex the callback holds to change the set and take the future, so no
 * wake-up is lost.
 *
 * weft_cancel is called under the mutex (cancel_all, a first failure):
 * it takes only the task's spin lock and never runs completion callbacks,
 * which run outside the task's lock (core/task.c), so there is no cycle.
 *
 * Lifetimes: callbacks may run after weft_taskset_free (a child finishing
 * during the runtime's shutdown), so the set counts references: the
 * owner's plus one per registered callback; the last frees it.
 */
#include <pthread.h>
#include <stdlib.h>

#include "base/alloc.h"
#include "core/runtime.h"
#include "weft.h"

typedef struct entry_s {
  struct entry_s* prev;
  struct entry_s* next;
  weft_task_t* task; /* one reference */
  weft_taskset_t* set;
  int status; /* once done */
  void* result;
} entry_t;

struct weft_taskset_s {
  pthread_mutex_t mu;
  unsigned flags;     /* read-only */
  weft_runtime_t* rt; /* for spawns from outside a task; read-only */
  size_t refs;        /* the owner's + one per registered callback; mu */
  entry_t* running;   /* children not finished; mu */
  entry_t* done;      /* finished, not joined: oldest first; mu */
  entry_t* done_tail;
  size_t nrunning;     /* mu */
  size_t ndone;        /* mu */
  int closed;          /* adds and spawns get WEFT_ECLOSED; mu */
  int failed;          /* the first failure's status, or 0; mu */
  weft_future_t* wake; /* completed at the next change; mu */
};

int weft_taskset_new(unsigned flags, weft_taskset_t** out) {
  if (out == NULL ||
      (flags & ~(unsigned)(WEFT_TASKSET_KEEP_GOING | WEFT_TASKSET_DISCARD)))
    return WEFT_EINVAL;
  weft_taskset_t* set = weft__calloc(1, sizeof(*set));
  if (set == NULL)
    return WEFT_ENOMEM;
  if (pthread_mutex_init(&set->mu, NULL) != 0) {
    free(set);
    return WEFT_ENOMEM;
  }
  set->flags = flags;
  set->rt = weft_current_runtime();
  set->refs = 1;
  *out = set;
  return 0;
}

static void entry_free(entry_t* e) {
  weft_task_release(e->task);
  free(e);
}

static void set_destroy(weft_taskset_t* set) {
  while (set->done != NULL) {
    entry_t* e = set->done;
    set->done = e->next;
    entry_free(e);
  }
  pthread_mutex_destroy(&set->mu);
  free(set);
}

static void unlink_running(weft_taskset_t* set, entry_t* e) {
  if (e->prev != NULL)
    e->prev->next = e->next;
  else
    set->running = e->next;
  if (e->next != NULL)
    e->next->prev = e->prev;
  e->prev = e->next = NULL;
  set->nrunning--;
}

static void push_done(weft_taskset_t* set, entry_t* e) {
  e->next = NULL;
  if (set->done_tail != NULL)
    set->done_tail->next = e;
  else
    set->done = e;
  set->done_tail = e;
  set->ndone++;
}

/* Under mu: cancels every running child. */
static void cancel_running(weft_taskset_t* set) {
  for (entry_t* e = set->running; e != NULL; e = e->next)
    weft_cancel(e->task); /* WEFT_EBUSY if it just finished: fine */
}

/* Under mu: the waiters' future, taken to be completed after unlocking. */
static weft_future_t* take_wake(weft_taskset_t* set) {
  weft_future_t* wake = set->wake;
  set->wake = NULL;
  return wake;
}

static void signal_wake(weft_future_t* wake) {
  if (wake != NULL) {
    weft_future_set_result(wake, NULL);
    weft_future_release(wake);
  }
}

/* A child finished: on the thread that completed it. Never awaits. */
static void on_child_done(weft_future_t* f, void* arg) {
  entry_t* e = arg;
  weft_taskset_t* set = e->set;
  e->status = weft_future_result(f, &e->result);
  pthread_mutex_lock(&set->mu);
  unlink_running(set, e);
  if (e->status < 0 && e->status != WEFT_ECANCELED && set->failed == 0) {
    set->failed = e->status;
    if (!(set->flags & WEFT_TASKSET_KEEP_GOING)) {
      set->closed = 1;
      cancel_running(set);
    }
  }
  int discard = set->flags & WEFT_TASKSET_DISCARD;
  if (!discard)
    push_done(set, e);
  weft_future_t* wake = take_wake(set);
  int last = --set->refs == 0;
  pthread_mutex_unlock(&set->mu);
  signal_wake(wake);
  if (discard)
    entry_free(e);
  if (last)
    set_destroy(set);
}

int weft_taskset_add(weft_taskset_t* set, weft_task_t* task) {
  weft_future_t* f;
  if (set == NULL || task == NULL)
    return WEFT_EINVAL;
  entry_t* e = weft__calloc(1, sizeof(*e));
  if (e == NULL)
    return WEFT_ENOMEM;
  int err = weft_task_future(task, &f);
  if (err != 0) {
    free(e);
    return err;
  }
  e->task = weft_task_retain(task);
  e->set = set;
  pthread_mutex_lock(&set->mu);
  if (set->closed) {
    pthread_mutex_unlock(&set->mu);
    weft_future_release(f);
    entry_free(e);
    return WEFT_ECLOSED;
  }
  e->next = set->running;
  if (set->running != NULL)
    set->running->prev = e;
  set->running = e;
  set->nrunning++;
  set->refs++; /* the callback's */
  pthread_mutex_unlock(&set->mu);
  /* Not under mu: for a child already finished it runs right here. */
  err = weft_future_add_callback(f, on_child_done, e);
  weft_future_release(f);
  if (err != 0) {
    pthread_mutex_lock(&set->mu);
    unlink_running(set, e);
    set->refs--; /* the owner's is still held: never the last */
    pthread_mutex_unlock(&set->mu);
    entry_free(e);
  }
  return err;
}

int weft_taskset_spawn(weft_taskset_t* set, weft_task_fn fn, void* arg,
                       const weft_spawn_opts_t* opts, weft_task_t** out) {
  weft_task_t* t;
  if (set == NULL || fn == NULL)
    return WEFT_EINVAL;
  pthread_mutex_lock(&set->mu);
  int closed = set->closed;
  pthread_mutex_unlock(&set->mu);
  if (closed)
    return WEFT_ECLOSED;
  weft_runtime_t* rt = weft_current_runtime();
  int err = weft_spawn(rt != NULL ? rt : set->rt, fn, arg, opts, &t);
  if (err != 0)
    return err;
  err = weft_taskset_add(set, t);
  if (err != 0)
    weft_cancel(t); /* closed meanwhile, or no memory: it must not run on */
  if (err == 0 && out != NULL)
    *out = t;
  else
    weft_task_release(t);
  return err;
}

/* ---- Waiting ------------------------------------------------------------ */

/* Under mu: a reference to the wake future, made if needed; NULL when no
 * memory. */
static weft_future_t* wake_ref(weft_taskset_t* set) {
  if (set->wake == NULL && weft_future_new(&set->wake) != 0)
    set->wake = NULL;
  return weft_future_retain(set->wake);
}

static uint64_t deadline_of(int64_t timeout_ms) {
  if (timeout_ms < 0)
    return UINT64_MAX;
  uint64_t ns = (uint64_t)timeout_ms * 1000000u;
  uint64_t now = weft_now_ns();
  return ns > UINT64_MAX - now ? UINT64_MAX - 1 : now + ns;
}

/* Waits on `f` until the deadline: 0, WEFT_ETIMEDOUT, WEFT_ECANCELED. */
static int wait_until(weft_future_t* f, uint64_t deadline) {
  int rc;
  if (deadline == UINT64_MAX) {
    rc = weft_future_await(f, NULL);
  } else {
    uint64_t now = weft_now_ns();
    uint64_t left_ms =
        now >= deadline ? 0 : (deadline - now + 999999) / 1000000;
    rc = left_ms == 0 ? WEFT_ETIMEDOUT : weft_future_wait_for(f, left_ms, NULL);
  }
  weft_future_release(f);
  return rc;
}

int weft_taskset_join_next(weft_taskset_t* set, int64_t timeout_ms,
                           weft_task_t** task, int* status, void** result) {
  if (set == NULL)
    return WEFT_EINVAL;
  uint64_t deadline = deadline_of(timeout_ms);
  for (;;) {
    pthread_mutex_lock(&set->mu);
    entry_t* e = set->done;
    if (e != NULL) {
      set->done = e->next;
      if (set->done == NULL)
        set->done_tail = NULL;
      set->ndone--;
      pthread_mutex_unlock(&set->mu);
      if (status != NULL)
        *status = e->status;
      if (result != NULL && e->status == 0)
        *result = e->result;
      if (task != NULL)
        *task = weft_task_retain(e->task);
      entry_free(e);
      return 0;
    }
    if (set->nrunning == 0) {
      pthread_mutex_unlock(&set->mu);
      return WEFT_ECLOSED; /* empty */
    }
    weft_future_t* f = wake_ref(set);
    pthread_mutex_unlock(&set->mu);
    if (f == NULL)
      return WEFT_ENOMEM;
    int rc = wait_until(f, deadline);
    if (rc != 0)
      return rc;
  }
}

/* Waits until no child runs, or the deadline: 0, WEFT_ETIMEDOUT,
 * WEFT_ECANCELED, WEFT_ENOMEM. */
static int wait_idle(weft_taskset_t* set, uint64_t deadline) {
  for (;;) {
    pthread_mutex_lock(&set->mu);
    if (set->nrunning == 0) {
      pthread_mutex_unlock(&set->mu);
      return 0;
    }
    weft_future_t* f = wake_ref(set);
    pthread_mutex_unlock(&set->mu);
    if (f == NULL)
      return WEFT_ENOMEM;
    int rc = wait_until(f, deadline);
    if (rc != 0)
      return rc;
  }
}

int weft_taskset_cancel_all(weft_taskset_t* set) {
  if (set == NULL)
    return WEFT_EINVAL;
  pthread_mutex_lock(&set->mu);
  cancel_running(set);
  pthread_mutex_unlock(&set->mu);
  return 0;
}

int weft_taskset_close(weft_taskset_t* set) {
  if (set == NULL)
    return WEFT_EINVAL;
  pthread_mutex_lock(&set->mu);
  set->closed = 1;
  pthread_mutex_unlock(&set->mu);
  return 0;
}

size_t weft_taskset_size(const weft_taskset_t* set) {
  if (set == NULL)
    return 0;
  weft_taskset_t* m = (weft_taskset_t*)set; /* the mutex is mutable */
  pthread_mutex_lock(&m->mu);
  size_t n = m->nrunning + m->ndone;
  pthread_mutex_unlock(&m->mu);
  return n;
}

int weft_taskset_failed(const weft_taskset_t* set) {
  if (set == NULL)
    return WEFT_EINVAL;
  weft_taskset_t* m = (weft_taskset_t*)set;
  pthread_mutex_lock(&m->mu);
  int failed = m->failed;
  pthread_mutex_unlock(&m->mu);
  return failed;
}

/* Cancels the running children and waits for them, through cancellations
 * of the caller (each one re-cancels them); gives up only when the
 * runtime shuts down, whose own cancellation then ends them. Returns 1 if
 * the caller was cancelled meanwhile. */
static int cancel_and_reap(weft_taskset_t* set) {
  int cancelled = 0;
  for (;;) {
    weft_taskset_cancel_all(set);
    int rc = wait_idle(set, UINT64_MAX);
    if (rc == 0)
      return cancelled;
    if (rc == WEFT_ECANCELED)
      cancelled = 1;
    if (weft__runtime_closing() || rc == WEFT_ENOMEM)
      return cancelled;
  }
}

int weft_taskset_shutdown(weft_taskset_t* set, int64_t grace_ms) {
  if (set == NULL)
    return WEFT_EINVAL;
  weft_taskset_close(set);
  int rc = grace_ms != 0 ? wait_idle(set, deadline_of(grace_ms)) : 0;
  if (rc == WEFT_ENOMEM)
    return rc;
  int cancelled = rc == WEFT_ECANCELED;
  if (rc != 0 || grace_ms == 0)
    cancelled |= cancel_and_reap(set);
  return cancelled ? WEFT_ECANCELED : 0;
}

int weft_taskset_free(weft_taskset_t* set) {
  if (set == NULL)
    return 0;
  weft_taskset_close(set);
  if (cancel_and_reap(set) && weft_current_task() != NULL)
    weft_cancel(weft_current_task()); /* spent here: asked again */
  pthread_mutex_lock(&set->mu);
  int last = --set->refs == 0;
  pthread_mutex_unlock(&set->mu);
  if (last)
    set_destroy(set);
  return 0;
}
