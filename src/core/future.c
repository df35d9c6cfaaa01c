/* Futures: a one-shot result completed by any thread and awaited by tasks
 * (which park) or plain threads (which block).
 *
 * DESIGN
 * A spin lock guards the waiter list, the callback list and the done flag;
 * completion takes both lists under the lock, marks the future done
 * (release), and wakes and calls them outside it, in registration order for
 * callbacks. A parking task registers its waiter node (on its own stack)
 * under the lock and releases the lock only once it is switched out (the
 * post-switch action), so a completion on another thread cannot resume it
 * half-saved. Cancellation of a waiting task withdraws its node only (the
 * future may have other waiters); a withdrawn node is never woken by the
 * completion, because it is no longer on the list. Thread waiters block on
 * their own condition variable; with a timeout, they withdraw their own
 * node, under the same lock, when it expires.
 */
#include "base/alloc.h"
#include "base/list.h"
#include "core/future.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/common.h"
#include "base/sanitizer.h"
#include "core/wait.h"
#include "core/worker.h"

typedef struct weft__cb_s {
  struct weft__cb_s* next;
  weft_future_cb cb;
  void* arg;
} weft__cb_t;

struct weft_future_s {
  /* relaxed increments by holders, acq_rel decrements (see release). */
  _Atomic uint32_t refs;
  weft__spin_t lock;
  /* 1 once completed: release store under `lock`, acquire loads anywhere. */
  _Atomic uint8_t done;
  int status;                       /* final once done */
  void* result;                     /* final once done */
  weft__waiter_t* waiters;          /* under `lock` */
  weft__cb_t* callbacks;            /* under `lock`, newest first */
  struct weft_future_s* cache_next; /* in a worker's cache (free) */
};

/* Every wait of a lock, queue, channel or event makes a future and drops
 * it: a per-worker free list turns the malloc and free of each into a few
 * instructions and keeps the memory hot. A future goes to the cache of the
 * thread that drops it (any worker); threads outside the runtime use the
 * heap. Off while a memory checker watches, so a use after release is
 * still reported. */
enum { kFutureCacheMax = 256 };

static weft_future_t* cache_take(void) {
  weft__worker_t* w = weft__worker_self();
  if (w == NULL || w->future_cache == NULL)
    return NULL;
  weft_future_t* f = w->future_cache;
  w->future_cache = f->cache_next;
  w->nfuture_cache--;
  return f;
}

static int cache_put(weft_future_t* f) {
  weft__worker_t* w = weft__worker_self();
  if (w == NULL || w->nfuture_cache >= kFutureCacheMax ||
      w->future_cache_closed || weft__heap_checked())
    return 0;
  f->cache_next = w->future_cache;
  w->future_cache = f;
  w->nfuture_cache++;
  return 1;
}

void weft__future_cache_drain(weft__worker_t* w) {
  w->future_cache_closed = 1;
  while (w->future_cache != NULL) {
    weft_future_t* f = w->future_cache;
    w->future_cache = f->cache_next;
    free(f);
  }
  w->nfuture_cache = 0;
}

int weft_future_new(weft_future_t** out) {
  if (out == NULL)
    return WEFT_EINVAL;
  /* The allocation-failure injection covers cached futures too. */
  if (weft__alloc_fail())
    return WEFT_ENOMEM;
  weft_future_t* f = cache_take();
  if (f != NULL)
    memset(f, 0, sizeof(*f));
  else if ((f = calloc(1, sizeof(*f))) == NULL)
    return WEFT_ENOMEM;
  atomic_init(&f->refs, 1);
  atomic_init(&f->done, 0);
  *out = f;
  return 0;
}

weft_future_t* weft_future_retain(weft_future_t* f) {
  if (f != NULL)
    /* relaxed: the caller holds a reference, so the count cannot reach
     * zero meanwhile; taking one publishes nothing. */
    atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
  return f;
}

void weft_future_release(weft_future_t* f) {
  if (f == NULL)
    return;
  /* acq_rel: the last holder must see every other holder's writes before
   * freeing (acquire), and publish ours (release). */
  if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1)
    return;
  weft__cb_t* cb = f->callbacks;
  while (cb != NULL) {
    weft__cb_t* next = cb->next;
    free(cb);
    cb = next;
  }
  if (!cache_put(f))
    free(f);
}

static int is_done(const weft_future_t* f) {
  /* acquire: pairs with the release store in weft__future_complete, so
   * status and result are visible. */
  return atomic_load_explicit(&f->done, memory_order_acquire);
}

static void run_callbacks(weft_future_t* f, weft__cb_t* newest_first) {
  weft__cb_t* fifo = weft__list_reverse(newest_first);
  while (fifo != NULL) {
    weft__cb_t* next = fifo->next;
    fifo->cb(f, fifo->arg);
    free(fifo);
    fifo = next;
  }
}

int weft__future_complete(weft_future_t* f, int status, void* result) {
  weft__spin_lock(&f->lock);
  /* relaxed: under the lock, which every writer of `done` holds. */
  if (atomic_load_explicit(&f->done, memory_order_relaxed)) {
    weft__spin_unlock(&f->lock);
    return WEFT_EBUSY;
  }
  f->status = status;
  f->result = result;
  /* release: publishes status and result to lock-free readers. */
  atomic_store_explicit(&f->done, 1, memory_order_release);
  weft__waiter_t* wt = f->waiters;
  weft__cb_t* cbs = f->callbacks;
  f->waiters = NULL;
  f->callbacks = NULL;
  /* Callbacks may release the last reference: keep one until we are done. */
  weft_future_retain(f);
  weft__spin_unlock(&f->lock);
  while (wt != NULL) {
    /* The node lives on the waiter's stack: read next before waking. */
    weft__waiter_t* next = wt->next;
    weft__waiter_wake(wt);
    wt = next;
  }
  run_callbacks(f, cbs);
  weft_future_release(f);
  return 0;
}

int weft_future_set_result(weft_future_t* f, void* result) {
  if (f == NULL)
    return WEFT_EINVAL;
  return weft__future_complete(f, 0, result);
}

int weft_future_set_error(weft_future_t* f, int err) {
  if (f == NULL || err >= 0)
    return WEFT_EINVAL;
  return weft__future_complete(f, err, NULL);
}

int weft_future_cancel(weft_future_t* f) {
  if (f == NULL)
    return WEFT_EINVAL;
  return weft__future_complete(f, WEFT_ECANCELED, NULL);
}

static int collect(const weft_future_t* f, void** result) {
  WEFT_CHECK(is_done(f));
  if (f->status == 0 && result != NULL)
    *result = f->result;
  return f->status;
}

int weft_future_result(const weft_future_t* f, void** result) {
  if (f == NULL)
    return WEFT_EINVAL;
  if (!is_done(f))
    return WEFT_EAGAIN;
  return collect(f, result);
}

int weft_future_done(const weft_future_t* f) {
  return f != NULL && is_done(f);
}

int weft_future_add_callback(weft_future_t* f, weft_future_cb cb, void* arg) {
  if (f == NULL || cb == NULL)
    return WEFT_EINVAL;
  weft__cb_t* node = weft__malloc(sizeof(*node));
  if (node == NULL)
    return WEFT_ENOMEM;
  node->cb = cb;
  node->arg = arg;
  weft__spin_lock(&f->lock);
  /* relaxed: under the lock. */
  if (!atomic_load_explicit(&f->done, memory_order_relaxed)) {
    node->next = f->callbacks;
    f->callbacks = node;
    weft__spin_unlock(&f->lock);
    return 0;
  }
  weft__spin_unlock(&f->lock);
  cb(f, arg); /* already done: run it now, on this thread */
  free(node);
  return 0;
}

weft_task_t* weft__future_withdraw(weft_future_t* f, weft_task_t* task) {
  weft__spin_lock(&f->lock);
  weft_task_t* fiber = weft__waiter_withdraw(&f->waiters, task);
  weft__spin_unlock(&f->lock);
  return fiber;
}

int weft__future_watch(weft_future_t* f, weft__waiter_t* node) {
  weft__spin_lock(&f->lock);
  /* relaxed: under the lock, which every writer of `done` holds. */
  int done = atomic_load_explicit(&f->done, memory_order_relaxed);
  if (!done) {
    node->next = f->waiters;
    f->waiters = node;
  }
  weft__spin_unlock(&f->lock);
  return done;
}

int weft__future_unwatch(weft_future_t* f, weft__waiter_t* node) {
  int found = 0;
  weft__spin_lock(&f->lock);
  for (weft__waiter_t** p = &f->waiters; *p != NULL; p = &(*p)->next) {
    if (*p == node) {
      *p = node->next;
      found = 1;
      break;
    }
  }
  weft__spin_unlock(&f->lock);
  return found;
}

/* ---- Waiting ----------------------------------------------------------- */

static int future_done(const void* obj) {
  return is_done(obj);
}

static weft__waitable_t waitable(weft_future_t* f) {
  return (weft__waitable_t){&f->lock, &f->waiters, future_done, f};
}

/* A cancelled wait is withdrawn from the future's list (others may still
 * wait on it). The waiter holds a reference while it waits (await_in_task),
 * so under its lock wait_future is alive. */
static void* future_cancel_locked(weft_task_t* t) {
  return weft_future_retain(t->wait_future);
}

static void future_cancel(weft_task_t* t, void* what) {
  weft_future_t* f = what;
  weft__wait_deliver_withdrawn(t, weft__future_withdraw(f, t));
  weft_future_release(f);
}

static void future_describe(weft_task_t* t, char* buf, size_t n) {
  snprintf(buf, n, "future %p", (void*)t->wait_future);
}

static const weft__wait_kind_t kFutureWait = {"future", future_cancel_locked,
                                              future_cancel, future_describe};

/* Both waits hold a reference of their own: whoever completes the future
 * may release it as soon as it is done, before the woken waiter has read
 * the result (as weft_await does for tasks). */
/* `owned`: the caller holds a reference for the whole wait, so the wait
 * takes none of its own (sync primitives, which own their futures). */
static int await_in_task(weft__worker_t* w, weft_future_t* f, void** result,
                         int owned) {
  weft_task_t* cur = w->current;
  /* relaxed: see await.c's closing(); the shutdown also cancels. */
  if (atomic_load_explicit(&w->rt->closing, memory_order_relaxed) ||
      weft__take_cancel(cur))
    return WEFT_ECANCELED;
  if (!owned)
    weft_future_retain(f);
  weft__waitable_t on = waitable(f);
  int status = weft__wait_park_on_obj(cur, &kFutureWait, f, &on, 1);
  if (status == 0)
    status = collect(f, result);
  if (!owned)
    weft_future_release(f);
  return status; /* WEFT_ECANCELED: the canceller took the request */
}

static int await_blocking(weft_future_t* f, const struct timespec* deadline,
                          void** result) {
  weft_future_retain(f);
  weft__waitable_t on = waitable(f);
  int status = weft__wait_block_on(&on, deadline);
  if (status == 0)
    status = collect(f, result);
  weft_future_release(f);
  return status;
}

int weft__future_await_until(weft_future_t* f, uint64_t deadline_ns,
                             void** result) {
  struct timespec deadline = {(time_t)(deadline_ns / 1000000000u),
                              (long)(deadline_ns % 1000000000u)};
  return await_blocking(f, &deadline, result);
}

/* weft_future_await, with `owned` as in await_in_task. */
static int await_future(weft_future_t* f, void** result, int owned) {
  if (is_done(f))
    return collect(f, result);
  weft__worker_t* w = weft__worker_self();
  if (w == NULL)
    return await_blocking(f, NULL, result);
  if (w->current == NULL)
    return WEFT_EPERM;
  return await_in_task(w, f, result, owned);
}

int weft_future_await(weft_future_t* f, void** result) {
  if (f == NULL)
    return WEFT_EINVAL;
  return await_future(f, result, 0);
}

int weft__future_await_owned(weft_future_t* f, void** result) {
  return await_future(f, result, 1);
}

int weft_task_future(weft_task_t* t, weft_future_t** out) {
  if (t == NULL || out == NULL)
    return WEFT_EINVAL;
  int done_already = 0;
  weft__spin_lock(&t->lock);
  if (t->future == NULL) {
    int err = weft_future_new(&t->future);
    if (err != 0) {
      weft__spin_unlock(&t->lock);
      return err;
    }
    /* acquire: pairs with the release store of DONE in task_complete,
     * which also runs under this lock. */
    done_already = atomic_load_explicit(&t->phase, memory_order_acquire) ==
                   WEFT_PHASE_DONE;
  }
  *out = weft_future_retain(t->future);
  weft__spin_unlock(&t->lock);
  /* Made after the task finished: complete it here (task_complete saw no
   * future, so nobody else will). */
  if (done_already)
    weft__future_complete(*out, t->status, t->status == 0 ? t->result : NULL);
  return 0;
}
