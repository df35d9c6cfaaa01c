/* Deterministic mode: a run that replays.
 *
 * DESIGN
 * One worker. Whatever makes a task runnable still lands where it always
 * does (the LIFO slot, the deque, the yield queue, the global queue); but
 * the worker never runs from those queues directly. At each decision it
 * moves their tasks, in a fixed order, into one `ready` array and draws the
 * next task from it with a generator seeded by the user's seed. Same seed
 * and same program: same draws, same order. Different seeds explore
 * different interleavings, which is how a test finds an ordering bug and
 * how its seed then replays it.
 *
 * A task that yields joins the draw at once, so it may run again before
 * the others (as it may with several workers) or after them.
 *
 * What could break the replay is an event whose moment is set by real
 * time: an executor call or a thread-pool request (files, DNS) finishing,
 * a timer coming due, another thread spawning or waking a task. Those are
 * admitted only at quiet points: when every task in `ready` got there by
 * yielding (or none is left), and every kQuietEvery picks. There the worker
 * first lets every executor call and pool request in flight finish (it blocks
 * for them: they take no virtual time), polls the loop without blocking, and
 * takes the global queue, sorting what it admitted by task id (its order is a
 * race between threads). Only if nothing at all can run, not even a task that
 * yielded, does the clock jump to the earliest timer and fire it (as trio's
 * autojump and tokio's paused clock do: a task polling for a sleeper in a
 * yield loop spins). The clock is virtual: weft_now_ns() and every sleep
 * and timeout of the runtime's tasks read it, so an hour's sleep takes no
 * time and sleeps never race the computation around them.
 *
 * A call that waits for one of the runtime's tasks would wait forever for
 * a worker that waits for it; so while a task could run instead, the wait
 * is bounded (kPatienceMs, real time) and its end logged: from there the
 * run is live but need not repeat.
 *
 * Outside the seed's reach: readiness of sockets and pipes (polled at the
 * same points, so runs over loopback repeat, runs against a real network
 * need not), signals, and threads outside the runtime.
 */
#include "debug/det.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/common.h"
#include "core/future.h"
#include "core/worker.h"

/* An executor call of a deterministic runtime (hooks.h's call_*). */
typedef struct weft__det_call_s weft__det_call_t;
struct weft__det_call_s {
  weft__det_call_t* next;
  uint64_t seq;          /* submission order: the order of completion */
  weft_future_t* future; /* holds the executor's reference */
  int status;
  void* result;
};

struct weft__det_s {
  uint64_t seed;
  uint64_t rng;    /* xorshift64* state; never 0 */
  uint64_t now_ns; /* the virtual clock; the worker's thread only */
  /* Runnable tasks to draw from, the worker's only. An entry is a task
   * pointer with kYielded or'ed in for a task that yielded to get there
   * (headers are aligned, so bit 0 is free). */
  uintptr_t* ready;
  size_t len;
  size_t cap;
  size_t fresh; /* entries without kYielded */
  unsigned picks_since_quiet;
  /* Executor calls in flight. Incremented by the submitter, decremented
   * by an executor thread once the call has returned. */
  _Atomic unsigned calls;
  uint64_t next_call;        /* numbers calls in submission order;
                                under done_lock */
  pthread_mutex_t done_lock; /* guards `done` */
  weft__det_call_t* done;    /* returned calls, for the worker */
  uv_timer_t patience;       /* bounds settle()'s wait; on the worker's loop */
  int timer_ready;
  int impatient; /* the patience timer fired */
  int warned;
};

/* Real milliseconds settle() waits for calls while a task could run. */
enum { kPatienceMs = 1000 };

enum { kYielded = 1 };

/* A quiet point at least every this many picks, so tasks that keep waking
 * each other cannot shut out a call's end or the loop (the tick's
 * maintenance interval, worker.c). */
enum { kQuietEvery = 61 };


/* ---- Seeds ----------------------------------------------------------------
 */

static uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15u;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
  return x ^ (x >> 31);
}

static uint64_t draw_seed(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t s = splitmix64((uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^
                          ((uint64_t)getpid() << 16));
  s %= 1000000000u; /* short enough to type back in */
  weft__log(WEFT_LOG_WARN,
            "deterministic mode: seed %llu (replay with "
            "weft_config_t.seed = %llu, or WEFT_SEED=%llu where the config "
            "has WEFT_CONFIG_ENV)",
            (unsigned long long)(s + 1), (unsigned long long)(s + 1),
            (unsigned long long)(s + 1));
  return s + 1;
}

/* WEFT_SEED: 1 and *seed (0: draw one) if set to a number, else 0. */
static int env_seed(uint64_t* seed) {
  const char* e = getenv("WEFT_SEED");
  char* end;
  if (e == NULL || e[0] == '\0')
    return 0;
  unsigned long long v = strtoull(e, &end, 10);
  if (*end != '\0' || e[0] == '-') {
    weft__log(WEFT_LOG_WARN, "WEFT_SEED='%s' is not a number; ignored", e);
    return 0;
  }
  *seed = v;
  return 1;
}

uint64_t weft__det_seed(const weft_config_t* config, int use_env) {
  uint64_t seed = 0;
  if (!use_env || !env_seed(&seed)) {
    if (config == NULL || !config->deterministic)
      return 0;
    seed = config->seed;
  }
  return seed != 0 ? seed : draw_seed();
}

static int det_clock(uint64_t* now);

weft__det_t* weft__det_new(uint64_t seed) {
  weft__det_t* d = weft__calloc(1, sizeof(*d));
  if (d == NULL)
    return NULL;
  /* Room for one task at least, so a decision never finds none. */
  d->ready = weft__malloc(64 * sizeof(*d->ready));
  if (d->ready == NULL) {
    free(d);
    return NULL;
  }
  d->cap = 64;
  if (pthread_mutex_init(&d->done_lock, NULL) != 0) {
    free(d->ready);
    free(d);
    return NULL;
  }
  d->seed = seed;
  d->rng = splitmix64(seed) | 1;
  /* Before this runtime's workers start, which read the clock. */
  weft__clock_virtual_hold(det_clock);
  return d;
}

void weft__det_free(weft__det_t* d) {
  if (d == NULL)
    return;
  weft__clock_virtual_release(); /* its workers have stopped */
  pthread_mutex_destroy(&d->done_lock);
  free(d->ready);
  free(d);
}

uint64_t weft__det_seed_of(const weft__det_t* d) {
  return d != NULL ? d->seed : 0;
}

/* The virtual clock's reader (base/clock.c): the calling thread's, if it
 * is a worker in deterministic mode. */
static int det_clock(uint64_t* now) {
  weft__worker_t* w = weft__worker_self();
  if (w == NULL || w->det == NULL)
    return 0;
  *now = w->det->now_ns;
  return 1;
}

/* ---- Executor calls -------------------------------------------------------
 */

static void* call_begin(weft_runtime_t* rt) {
  weft__det_t* d = rt->det;
  weft__det_call_t* c = weft__calloc(1, sizeof(*c));
  if (c == NULL)
    return NULL;
  /* Submitted from the worker's tasks (a plain thread's submission races
   * with them anyway): the numbering follows the task order. */
  pthread_mutex_lock(&d->done_lock);
  c->seq = d->next_call++;
  pthread_mutex_unlock(&d->done_lock);
  /* relaxed: the worker reads it only after the submitting task parked on
   * the call's future, which orders this before (future lock). */
  atomic_fetch_add_explicit(&d->calls, 1, memory_order_relaxed);
  return c;
}

/* One call fewer in flight; wakes the worker, which may wait for it. */
static void call_gone(weft_runtime_t* rt) {
  /* release: the worker that reads the new count (acquire, settle) must
   * also see the record pushed under done_lock before it. */
  atomic_fetch_sub_explicit(&rt->det->calls, 1, memory_order_release);
  uv_async_send(&rt->workers[0]->wake);
}

static void call_end(weft_runtime_t* rt, void* call, weft_future_t* future,
                     int status, void* result) {
  weft__det_t* d = rt->det;
  weft__det_call_t* c = call;
  c->future = future;
  c->status = status;
  c->result = result;
  pthread_mutex_lock(&d->done_lock);
  c->next = d->done;
  d->done = c;
  pthread_mutex_unlock(&d->done_lock);
  call_gone(rt);
}

static void call_drop(weft_runtime_t* rt, void* call) {
  free(call);
  call_gone(rt);
}

static int by_seq(const void* a, const void* b) {
  uint64_t x = (*(weft__det_call_t* const*)a)->seq;
  uint64_t y = (*(weft__det_call_t* const*)b)->seq;
  return (x > y) - (x < y);
}

static void complete_one(weft__det_call_t* c) {
  weft__future_complete(c->future, c->status, c->result);
  weft_future_release(c->future);
  free(c);
}

/* Completes the futures of the calls that returned, in submission order
 * (their callbacks run in that order; their awaiters wake into this
 * worker's queues). */
static void complete_calls(weft__det_t* d) {
  pthread_mutex_lock(&d->done_lock);
  weft__det_call_t* list = d->done;
  d->done = NULL;
  pthread_mutex_unlock(&d->done_lock);
  size_t n = 0;
  for (weft__det_call_t* c = list; c != NULL; c = c->next)
    n++;
  weft__det_call_t** sorted = n > 1 ? weft__malloc(n * sizeof(*sorted)) : NULL;
  if (sorted == NULL) { /* one call, or out of memory: list order */
    while (list != NULL) {
      weft__det_call_t* next = list->next;
      complete_one(list);
      list = next;
    }
    return;
  }
  n = 0;
  for (weft__det_call_t* c = list; c != NULL; c = c->next)
    sorted[n++] = c;
  qsort(sorted, n, sizeof(*sorted), by_seq);
  for (size_t i = 0; i < n; i++)
    complete_one(sorted[i]);
  free(sorted);
}

/* ---- Gathering what can run -----------------------------------------------
 */

/* Room for `more` tasks; on failure, whatever fits is taken now and the
 * rest stays queued for the next decision. */
static size_t room(weft__det_t* d, size_t more) {
  if (d->cap - d->len < more) {
    size_t cap = d->cap ? d->cap : 64;
    while (cap - d->len < more)
      cap *= 2;
    uintptr_t* r = weft__realloc(d->ready, cap * sizeof(*r));
    if (r != NULL) {
      d->ready = r;
      d->cap = cap;
    }
  }
  return d->cap - d->len;
}

static void add(weft__det_t* d, weft_task_t* t, uintptr_t tag) {
  d->ready[d->len++] = (uintptr_t)t | tag;
  d->fresh += tag == 0;
}

static void gather_local(weft__worker_t* w, weft__det_t* d) {
  size_t space = room(d, (size_t)weft__deque_len(&w->deque) + 1);
  weft_task_t* t;
  while (space > 0 && (t = weft__worker_take_local(w)) != NULL) {
    add(d, t, 0);
    space--;
  }
}

static void gather_global(weft__worker_t* w, weft__det_t* d) {
  weft_task_t* chain;
  size_t n = weft__inject_len(&w->rt->global);
  if (n == 0)
    return;
  n = weft__inject_pop(&w->rt->global, room(d, n), &chain);
  for (size_t i = 0; i < n; i++) {
    weft_task_t* t = chain;
    chain = chain->next;
    t->next = NULL;
    add(d, t, 0);
  }
}

static void gather_yielded(weft__worker_t* w, weft__det_t* d) {
  weft_task_t* t;
  while (!weft__fifo_empty(&w->yielded) && room(d, 1) > 0 &&
         (t = weft__worker_take_yielded(w)) != NULL)
    add(d, t, kYielded);
}

static uint64_t id_of(uintptr_t e) {
  return ((const weft_task_t*)(e & ~(uintptr_t)kYielded))->id;
}

static int by_id(const void* a, const void* b) {
  uint64_t x = id_of(*(const uintptr_t*)a);
  uint64_t y = id_of(*(const uintptr_t*)b);
  return (x > y) - (x < y);
}

/* ---- Quiet points -----------------------------------------------------------
 */

static void on_patience(uv_timer_t* timer) {
  weft__det_t* d = timer->data;
  d->impatient = 1;
}

/* Waits for every executor call and pool request in flight, running the
 * loop's callbacks meanwhile. If a task could run instead (it yielded or
 * was woken meanwhile, or a timer is pending) and the wait passes
 * kPatienceMs of real time, it gives up and says so: the call may be
 * waiting for that task. */
static void settle(weft__worker_t* w, weft__det_t* d) {
  int armed = 0;
  for (;;) {
    uv_run(&w->loop, UV_RUN_NOWAIT);
    weft__inbox_drain(w);
    /* acquire: pairs with the release decrement in weft__det_call_end.
     * A stopping worker has no task left to wake. */
    /* relaxed: see the field. */
    if (atomic_load_explicit(&w->stop, memory_order_relaxed) ||
        (w->pool_reqs == 0 &&
         atomic_load_explicit(&d->calls, memory_order_acquire) == 0))
      break;
    if (d->impatient) {
      if (!d->warned)
        weft__log(WEFT_LOG_WARN,
                  "deterministic mode: an executor call or a "
                  "file or DNS request has run for %d ms while tasks wait; "
                  "going on without it (if it waits for one of them, runs "
                  "of this seed may differ from here)",
                  kPatienceMs);
      d->warned = 1;
      break;
    }
    if (!armed && (d->len > 0 || weft__worker_has_queued(w) ||
                   weft__timers_next(w) != UINT64_MAX)) {
      /* The loop's clock is stale: a timer on it could be due at once. */
      uv_update_time(&w->loop);
      uv_timer_start(&d->patience, on_patience, kPatienceMs, 0);
      armed = 1;
    }
    /* Each completion wakes the loop: a pool request by its own async,
     * an executor call by weft__det_call_end's. */
    uv_run(&w->loop, UV_RUN_ONCE);
  }
  if (armed)
    uv_timer_stop(&d->patience);
  d->impatient = 0;
  complete_calls(d);
}

/* Moves the clock to the earliest live timer and fires what is due then.
 * Returns 0 if no timer is left. */
static int advance_clock(weft__worker_t* w, weft__det_t* d) {
  uint64_t next = weft__timers_next(w);
  if (next == UINT64_MAX)
    return 0;
  if (next > d->now_ns)
    d->now_ns = next;
  weft__timers_run(w, d->now_ns);
  return 1;
}

/* Only tasks that yielded are left to draw: admits outside events, and if
 * nothing at all can run moves the clock until something can. */
static void quiet_point(weft__worker_t* w, weft__det_t* d) {
  for (;;) {
    settle(w, d);
    size_t from = d->len;
    gather_local(w, d);
    gather_global(w, d);
    qsort(d->ready + from, d->len - from, sizeof(*d->ready), by_id);
    if (d->len > 0 || !advance_clock(w, d))
      break;
  }
}

static weft_task_t* draw(weft__det_t* d) {
  /* xorshift64*: fast, and plenty for picking an index. */
  d->rng ^= d->rng >> 12;
  d->rng ^= d->rng << 25;
  d->rng ^= d->rng >> 27;
  uint64_t r = d->rng * 0x2545f4914f6cdd1du;
  size_t i = (size_t)((r >> 32) % d->len);
  uintptr_t e = d->ready[i];
  d->ready[i] = d->ready[--d->len];
  d->fresh -= !(e & kYielded);
  return (weft_task_t*)(e & ~(uintptr_t)kYielded);
}

weft_task_t* weft__det_next(weft__worker_t* w) {
  weft__det_t* d = w->det;
  if (WEFT_UNLIKELY(!d->timer_ready)) {
    /* Closed with the loop's other handles (weft__io_close_all). */
    uv_timer_init(&w->loop, &d->patience);
    d->patience.data = d;
    d->timer_ready = 1;
  }
  weft__inbox_drain(w);
  gather_local(w, d);
  gather_yielded(w, d);
  if (d->fresh == 0 || ++d->picks_since_quiet >= kQuietEvery) {
    d->picks_since_quiet = 0;
    quiet_point(w, d);
  }
  return d->len > 0 ? draw(d) : NULL;
}

void weft__det_hooks(weft__hooks_t* hooks) {
  hooks->next_task = weft__det_next;
  hooks->virtual_time = 1;
  hooks->call_begin = call_begin;
  hooks->call_end = call_end;
  hooks->call_drop = call_drop;
}
