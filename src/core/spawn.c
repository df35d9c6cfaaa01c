/* weft_spawn, and the views over all tasks (count, visit). */
#include <string.h>

#include "base/alloc.h"
#include "base/common.h"
#include "base/opts.h"
#include "core/local.h"
#include "core/worker.h"

#define WEFT_ID_BLOCK 1024u

static uint64_t next_id(weft_runtime_t* rt, weft__worker_t* w) {
  if (w == NULL)
    /* relaxed: only uniqueness matters. */
    return atomic_fetch_add_explicit(&rt->next_id, 1, memory_order_relaxed);
  if (WEFT_UNLIKELY(w->id_next == w->id_end)) {
    /* relaxed: only uniqueness matters. */
    w->id_next = atomic_fetch_add_explicit(&rt->next_id, WEFT_ID_BLOCK,
                                           memory_order_relaxed);
    w->id_end = w->id_next + WEFT_ID_BLOCK;
  }
  return w->id_next++;
}

/* Copies the name (up to 31 bytes). WEFT_ENOMEM if it cannot. */
static int set_name(weft_task_t* t, const char* name) {
  if (name == NULL)
    return 0;
  size_t n = strnlen(name, 31);
  char* copy = weft__malloc(n + 1);
  if (copy == NULL)
    return WEFT_ENOMEM;
  memcpy(copy, name, n);
  copy[n] = '\0';
  /* relaxed: published with the task by the release store of refs. */
  atomic_store_explicit(&t->name, copy, memory_order_relaxed);
  return 0;
}

int weft_spawn(weft_runtime_t* rt, weft_task_fn fn, void* arg,
               const weft_spawn_opts_t* opts, weft_task_t** out) {
  weft__worker_t* w = weft__worker_self();
  if (fn == NULL)
    return WEFT_EINVAL;
  if (rt == NULL) {
    if (w == NULL)
      return WEFT_EINVAL;
    rt = w->rt;
  }
  weft_spawn_opts_t copy; /* the caller's, as this version reads it */
  if (opts != NULL) {
    if (WEFT__OPTS_READ(&copy, opts, stack_size) != 0)
      return WEFT_EINVAL;
    opts = &copy;
  }
  if (opts != NULL && opts->stack_size > ((size_t)1 << 30))
    return WEFT_EINVAL;
  /* acquire: pairs with the seq_cst store in weft_runtime_free, so a spawn
   * that sees closing == 0 is counted before the shutdown's checks end. */
  if (atomic_load_explicit(&rt->closing, memory_order_acquire))
    return WEFT_ECLOSED;
  if (w != NULL && w->rt != rt)
    w = NULL;
  weft_task_t* t = weft__task_alloc(rt, w);
  if (t == NULL)
    return WEFT_ENOMEM;
  t->fn = fn;
  t->arg = arg;
  t->id = next_id(rt, w);
  if (opts != NULL) {
    if (set_name(t, opts->name) != 0) {
      weft__task_discard(t);
      return WEFT_ENOMEM;
    }
    t->stack_req = opts->stack_size;
  }
  t->dbg_handle = out != NULL;
  /* Values the spawning task carries, for the keys that copy them
   * (contextvars' copy of the context at create_task). */
  if (w != NULL && w->current != NULL &&
      WEFT_UNLIKELY(w->current->locals != NULL) &&
      weft__locals_inherit(t, w->current) != 0) {
    weft__task_discard(t);
    return WEFT_ENOMEM;
  }
  /* relaxed: published by the queue push below. */
  atomic_store_explicit(&t->phase, WEFT_PHASE_QUEUED, memory_order_relaxed);
  /* release: a visitor that retains the task (acquire CAS) sees the fields
   * above. */
  atomic_store_explicit(&t->refs, out != NULL ? 2 : 1, memory_order_release);
  if (out != NULL)
    *out = t;
  if (w != NULL) {
    /* relaxed load + store: the owner is the only writer. */
    atomic_store_explicit(&w->n_spawned,
                          atomic_load_explicit(&w->n_spawned,
                                               memory_order_relaxed) +
                              1,
                          memory_order_relaxed);
    weft__worker_push(w, t);
  } else {
    /* relaxed: read by shutdown checks after the RMW and acquire loads
     * described in runtime.c; the global-queue mutex orders it before the
     * task runs. */
    atomic_fetch_add_explicit(&rt->ext_spawned, 1, memory_order_relaxed);
    weft__inject_push(&rt->global, t, t, 1);
    weft__idle_notify(&rt->idle, 1);
  }
  return 0;
}

size_t weft_task_count(const weft_runtime_t* rt) {
  uint64_t spawned, finished;
  if (rt == NULL)
    return 0;
  weft__runtime_counts(rt, &spawned, &finished);
  return spawned > finished ? (size_t)(spawned - finished) : 0;
}

int weft_task_visit(weft_runtime_t* rt, weft_task_visit_cb cb, void* arg) {
  if (rt == NULL || cb == NULL)
    return WEFT_EINVAL;
  return weft__slabs_visit(rt, cb, arg);
}

/* weft_call_soon's message: runs fn(arg) on the worker that drains it. */
typedef struct {
  weft__msg_t msg;
  void (*fn)(void* arg);
  void* arg;
} call_soon_t;

static void on_call_soon(weft__worker_t* w, weft__msg_t* m) {
  call_soon_t* c = weft__container_of(m, call_soon_t, msg);
  (void)w;
  c->fn(c->arg);
  free(c);
}

int weft_call_soon(weft_runtime_t* rt, void (*fn)(void* arg), void* arg) {
  if (rt == NULL || fn == NULL)
    return WEFT_EINVAL;
  /* acquire: as in weft_spawn; a call accepted before shutdown is in an
   * inbox before the stop message that follows it. */
  if (atomic_load_explicit(&rt->closing, memory_order_acquire))
    return WEFT_ECLOSED;
  call_soon_t* c = weft__malloc(sizeof(*c));
  if (c == NULL)
    return WEFT_ENOMEM;
  c->msg.fn = on_call_soon;
  c->fn = fn;
  c->arg = arg;
  /* relaxed: round robin; any worker will do. */
  unsigned i =
      atomic_fetch_add_explicit(&rt->next_call_soon, 1, memory_order_relaxed);
  weft__inbox_post(rt->workers[i % rt->nworkers], &c->msg);
  return 0;
}
