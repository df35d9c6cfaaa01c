/* Task headers: allocation, references, completion.
 *
 * DESIGN
 * Lifecycle: spawn (QUEUED, in exactly one queue) -> a worker takes it from
 * that queue, or an awaiter pops it from its own deque's bottom and runs it
 * inline -> RUNNING <-> SUSPENDED at awaits -> DONE (status and result
 * published, waiters woken) -> freed when the last reference goes.
 * Exactly one party starts a task because a queued task is in exactly one
 * queue slot and every way of starting it takes it out of that slot (a deque
 * pop or steal, a global-queue pop); the fork–join fast path only runs a
 * task it popped itself. So no claim flag is needed and no stale queue
 * entries exist (a CAS claim on each task would also work; this is cheaper and
 * simpler, see docs/design.md).
 *
 * References: one per handle given out by weft_spawn/weft_task_retain, plus
 * one the scheduler holds until the task finishes (and its stack is back in
 * the pool). Headers come from 256-task slabs that are only freed with the
 * runtime, so a stale pointer (a timer entry, a visitor) always points at
 * some task header: that is what makes lazy timer deletion and
 * weft_task_visit's retain-if-alive safe.
 */
#include "base/alloc.h"
#include "core/task.h"

#include <stddef.h>
#include <string.h>

#include "core/future.h"
#include "core/local.h"
#include "core/wait.h"
#include "core/worker.h"

#if !defined(WEFT_USE_UCONTEXT)
_Static_assert(offsetof(weft_task_t, ctx) + sizeof(weft__ctx_t) <=
                   WEFT_CACHELINE,
               "the fields a switch touches fit the header's first line");
#endif

enum { kSlabTasks = 256 };
typedef struct weft__slab_s {
  struct weft__slab_s* next;
  void* raw; /* what calloc returned: the slab is aligned inside it */
  weft_task_t tasks[kSlabTasks];
} weft__slab_t;

/* Maps a new slab and pushes its headers on *list. slab_lock held. calloc
 * rather than aligned_alloc and memset: fresh pages come zeroed from the
 * kernel and calloc does not write them again, so each page is first
 * touched by the worker that uses its headers. */
static int add_slab(weft_runtime_t* rt, weft_task_t** list, size_t* n) {
  void* raw = weft__calloc(1, sizeof(weft__slab_t) + _Alignof(weft__slab_t));
  if (raw == NULL)
    return WEFT_ENOMEM;
  uintptr_t a = _Alignof(weft__slab_t);
  weft__slab_t* s = (weft__slab_t*)(((uintptr_t)raw + a - 1) & ~(a - 1));
  s->raw = raw;
  s->next = rt->slabs;
  rt->slabs = s;
  for (size_t i = kSlabTasks; i-- > 0;) {
    s->tasks[i].next = *list;
    *list = &s->tasks[i];
    (*n)++;
  }
  return 0;
}

/* Moves up to `max` headers from the runtime's free list to `w`, mapping a
 * new slab if it has none. slab_lock held. */
static int refill_cache(weft_runtime_t* rt, weft__worker_t* w, size_t max) {
  while (rt->free_tasks != NULL && w->ntask_cache < max) {
    weft_task_t* t = rt->free_tasks;
    rt->free_tasks = t->next;
    rt->nfree_tasks--;
    t->next = w->task_cache;
    w->task_cache = t;
    w->ntask_cache++;
  }
  if (w->task_cache != NULL)
    return 0;
  return add_slab(rt, &w->task_cache, &w->ntask_cache);
}

/* A header for a thread outside the workers. slab_lock held. */
static weft_task_t* alloc_shared(weft_runtime_t* rt) {
  if (rt->free_tasks == NULL &&
      add_slab(rt, &rt->free_tasks, &rt->nfree_tasks) != 0)
    return NULL;
  weft_task_t* t = rt->free_tasks;
  rt->free_tasks = t->next;
  rt->nfree_tasks--;
  return t;
}

weft_task_t* weft__task_alloc(weft_runtime_t* rt, weft__worker_t* w) {
  weft_task_t* t;
  if (w != NULL) {
    if (WEFT_UNLIKELY(w->task_cache == NULL)) {
      pthread_mutex_lock(&rt->slab_lock);
      int err = refill_cache(rt, w, WEFT_TASK_CACHE_MAX / 2);
      pthread_mutex_unlock(&rt->slab_lock);
      if (err != 0)
        return NULL;
    }
    t = w->task_cache;
    w->task_cache = t->next;
    w->ntask_cache--;
  } else {
    pthread_mutex_lock(&rt->slab_lock);
    t = alloc_shared(rt);
    pthread_mutex_unlock(&rt->slab_lock);
    if (t == NULL)
      return NULL;
  }
  /* wait_seq and lock survive reuse: a stale timer entry must never match
   * a later sleep of the same header. */
  t->next = NULL;
  t->rt = rt;
  t->result = NULL;
  t->status = 0;
  t->stack = NULL;
  t->stack_canary = 0;
  t->stack_req = 0;
  t->host = NULL;
  t->inner = NULL;
  t->outer = NULL;
  /* Not reset here: the fields under `lock` (waiters, wait_kind,
   * cancel_msg_pending), which a stale timer entry may read under the lock
   * at any time. They are already clean: completion empties the waiters
   * and the wait under the lock, and a pending cancel message holds a
   * reference, so the header is not freed before it is handled. */
  /* relaxed: not yet visible to any other thread (refs is still 0, so a
   * visitor skips it; the queue push publishes it). */
  atomic_store_explicit(&t->cancel, 0, memory_order_relaxed);
  t->cancel_requests = 0; /* as `cancel`: not yet visible */
  /* relaxed: as above. */
  atomic_store_explicit(&t->last_worker, -1, memory_order_relaxed);
  /* relaxed: as above. */
  atomic_store_explicit(&t->dbg_awaited, 0, memory_order_relaxed);
  t->dbg_handle = 0;
  t->locals = NULL;
  return t;
}

static void task_free(weft_task_t* t) {
  weft_runtime_t* rt = t->rt;
  weft__worker_t* w = weft__worker_self();
  /* One predictable branch: debug mode's never-awaited report (hooks.h). */
  if (WEFT_UNLIKELY(rt->hooks.task_freed != NULL))
    rt->hooks.task_freed(t);
  if (t->future != NULL) {
    weft_future_release(t->future);
    t->future = NULL;
  }
  /* relaxed: refs is 0, nobody else can reach the header (a plain load
   * and store: an exchange would put a locked instruction on every free). */
  char* name = atomic_load_explicit(&t->name, memory_order_relaxed);
  if (name != NULL) {
    free(name);
    /* relaxed: as above. */
    atomic_store_explicit(&t->name, NULL, memory_order_relaxed);
  }
  /* relaxed: as above. */
  atomic_store_explicit(&t->phase, WEFT_PHASE_FREE, memory_order_relaxed);
  if (w != NULL && w->rt == rt) {
    t->next = w->task_cache;
    w->task_cache = t;
    if (++w->ntask_cache <= WEFT_TASK_CACHE_MAX)
      return;
    pthread_mutex_lock(&rt->slab_lock);
    while (w->ntask_cache > WEFT_TASK_CACHE_MAX / 2) {
      weft_task_t* x = w->task_cache;
      w->task_cache = x->next;
      w->ntask_cache--;
      x->next = rt->free_tasks;
      rt->free_tasks = x;
      rt->nfree_tasks++;
    }
    pthread_mutex_unlock(&rt->slab_lock);
    return;
  }
  pthread_mutex_lock(&rt->slab_lock);
  t->next = rt->free_tasks;
  rt->free_tasks = t;
  rt->nfree_tasks++;
  pthread_mutex_unlock(&rt->slab_lock);
}

void weft__task_discard(weft_task_t* t) {
  task_free(t);
}

void weft__task_release(weft_task_t* t) {
  /* acq_rel: the last release must see every other holder's writes before
   * the header is reused (acquire), and publish ours (release). */
  if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1)
    task_free(t);
}

/* Takes a reference only if the task is alive (refs > 0): for visitors,
 * which find headers in slabs without holding a reference. */
int weft__task_try_retain(weft_task_t* t) {
  /* relaxed: the CAS below decides. */
  uint32_t n = atomic_load_explicit(&t->refs, memory_order_relaxed);
  while (n != 0) {
    /* acquire: pairs with the release store of refs at spawn, so the
     * fields written before it are visible; relaxed on failure: retry. */
    if (atomic_compare_exchange_weak_explicit(&t->refs, &n, n + 1,
                                              memory_order_acquire,
                                              memory_order_relaxed))
      return 1;
  }
  return 0;
}

void weft__task_complete(weft__worker_t* w, weft_task_t* t, int status) {
  /* Before the task is seen done: an awaiter finds its values destroyed. */
  if (WEFT_UNLIKELY(t->locals != NULL))
    weft__locals_finish(t);
  t->status = status;
  /* Counted before the waiters wake, so an awaiter that returns sees the
   * task gone from weft_task_count(). */
  weft__worker_count_finished(w);
  weft__spin_lock(&t->lock);
  weft__waiter_t* wt = t->waiters;
  t->waiters = NULL;
  t->wait_kind = NULL;
  weft_future_t* f = t->future;
  /* release: publishes status and result to anyone who reads DONE with
   * acquire (weft_task_result, weft_await's fast check). */
  atomic_store_explicit(&t->phase, WEFT_PHASE_DONE, memory_order_release);
  weft__spin_unlock(&t->lock);
  if (f != NULL)
    weft__future_complete(f, status, status == 0 ? t->result : NULL);
  while (wt != NULL) {
    /* The node lives on the waiter's stack: read next before waking it. */
    weft__waiter_t* next = wt->next;
    weft__waiter_wake(wt);
    wt = next;
  }
}

int weft__take_cancel(weft_task_t* t) {
  /* relaxed: a fast "nothing pending" check; the decision is taken under
   * the lock, which orders it with weft_cancel(). */
  if (WEFT_LIKELY(!atomic_load_explicit(&t->cancel, memory_order_relaxed)))
    return 0;
  weft__spin_lock(&t->lock);
  int had = weft__cancel_take_locked(t);
  weft__spin_unlock(&t->lock);
  return had;
}

void weft__slabs_term(weft_runtime_t* rt) {
  weft__slab_t* s = rt->slabs;
  while (s != NULL) {
    weft__slab_t* next = s->next;
    free(s->raw);
    s = next;
  }
  rt->slabs = NULL;
  rt->free_tasks = NULL;
}

int weft__slabs_visit(weft_runtime_t* rt, int (*cb)(weft_task_t*, void*),
                      void* arg) {
  return weft__slabs_visit_ex(rt, 0, cb, arg);
}

int weft__slabs_visit_ex(weft_runtime_t* rt, int done,
                         int (*cb)(weft_task_t*, void*), void* arg) {
  /* Slabs are only ever added at the head, so a snapshot of the list taken
   * under the lock can be walked without it. */
  pthread_mutex_lock(&rt->slab_lock);
  weft__slab_t* s = rt->slabs;
  pthread_mutex_unlock(&rt->slab_lock);
  for (; s != NULL; s = s->next) {
    for (size_t i = 0; i < kSlabTasks; i++) {
      weft_task_t* t = &s->tasks[i];
      if (!weft__task_try_retain(t))
        continue;
      /* acquire: with the retain, the task's fields are visible. */
      uint8_t phase = atomic_load_explicit(&t->phase, memory_order_acquire);
      int r = 0;
      if (phase != WEFT_PHASE_FREE && (done || phase != WEFT_PHASE_DONE))
        r = cb(t, arg);
      weft__task_release(t);
      if (r != 0)
        return r;
    }
  }
  return 0;
}

void weft__task_label(weft_task_t* t, char* buf, size_t n) {
  /* acquire: pairs with the release store of a lazily made name; a name
   * given at spawn was published with the task. Stable while the caller
   * holds a reference (it is freed with the header). */
  const char* name = atomic_load_explicit(&t->name, memory_order_acquire);
  if (name != NULL)
    snprintf(buf, n, "'%s' (id %llu)", name, (unsigned long long)t->id);
  else
    snprintf(buf, n, "'Task-%llu' (id %llu)", (unsigned long long)t->id,
             (unsigned long long)t->id);
}
