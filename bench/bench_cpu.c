/* weft-bench: the scheduler's own costs, with no I/O and no timers.
 *
 *   fib    fork-join recursion: a task per call with n >= 2
 *   spawn  spawn m empty tasks, then join them all
 *   yield  many tasks yielding to the scheduler over and over
 *   chain  each task spawns the next and ends
 */
#include <stdatomic.h>
#include <stdlib.h>

#include "bench.h"

/* ------------------------------------------------------------------------
 * fib
 * ------------------------------------------------------------------------ */

static int fib_task(void* arg, void** result);

/* fib(n) the fork-join way: fib(n-1) in a child task, fib(n-2) right here,
 * then await the child. Errors travel back as the task's status. */
static int fib(uint64_t n, uint64_t* out) {
  weft_task_t* child;
  void* a = NULL;
  uint64_t b = 0;
  int err;
  int status;

  if (n < 2) {
    *out = n;
    return 0;
  }
  err = weft_spawn(NULL, fib_task, (void*)(uintptr_t)(n - 1), NULL, &child);
  if (err != 0)
    return err;
  err = fib(n - 2, &b);
  /* Await even after an error: the child must end before its handle goes. */
  status = weft_await(child, &a);
  weft_task_release(child);
  if (err != 0)
    return err;
  *out = (uintptr_t)a + b;
  return status;
}

static int fib_task(void* arg, void** result) {
  uint64_t v = 0;
  int err = fib((uintptr_t)arg, &v);

  *result = (void*)(uintptr_t)v;
  return err;
}

/* fib(n) by a loop, to check against. F(92) is the last that fits. */
static uint64_t fib_loop(uint64_t n) {
  uint64_t a = 0;
  uint64_t b = 1;

  for (uint64_t i = 0; i < n; i++) {
    uint64_t t = a + b;
    a = b;
    b = t;
  }
  return a;
}

static int run_fib(const uint64_t* p, bench_result_t* out) {
  uint64_t n = p[0];
  uint64_t v = 0;
  uint64_t t0 = bench_now_ns();
  int err = fib(n, &v);

  out->seconds = bench_since(t0);
  if (err != 0)
    return bench_error("fib", err);
  if (v != fib_loop(n))
    return bench_wrong("fib", "fib(%llu) gave %llu, not %llu",
                       (unsigned long long)n, (unsigned long long)v,
                       (unsigned long long)fib_loop(n));
  /* Calls with n >= 2 (one spawn each) number F(n+1) - 1: counted, not
   * measured, so the hot path carries no counter. */
  out->ops = fib_loop(n + 1) - 1;
  out->result = v;
  return 0;
}

const bench_t bench_fib = {
    .name = "fib",
    .help = "fib(n-1) in a child task, fib(n-2) inline, await; ops = tasks "
            "spawned",
    .repeatable = 1,
    .run = run_fib,
    .params = {{"n", 30, 92}},
};

/* ------------------------------------------------------------------------
 * spawn
 * ------------------------------------------------------------------------ */

static int empty_task(void* arg, void** result) {
  *result = arg;
  return 0;
}

/* Spawns empty_task(i) into h[i] for i in [0, m); returns how many were
 * spawned, the first failure in *err. */
static size_t spawn_indexed(weft_task_t** h, size_t m, int* err) {
  size_t i;

  *err = 0;
  for (i = 0; i < m; i++) {
    *err = weft_spawn(NULL, empty_task, (void*)(uintptr_t)i, NULL, &h[i]);
    if (*err != 0)
      break;
  }
  return i;
}

/* Joins h[0..n) in spawn order; counts tasks whose status or result (their
 * index) is not what empty_task() gives. */
static uint64_t join_indexed(weft_task_t** h, size_t n) {
  uint64_t bad = 0;

  for (size_t i = 0; i < n; i++) {
    void* res = NULL;
    int status = weft_await(h[i], &res);
    weft_task_release(h[i]);
    bad += status != 0 || (uintptr_t)res != i;
  }
  return bad;
}

/* --detach: the tasks are detached and count themselves down; the last one
 * sets the event the body waits on. The shape of tokio's spawn_many (and
 * Go's): headers go back to the cache as tasks end instead of living until
 * their handles are joined. */
typedef struct {
  _Atomic uint64_t left;
  _Atomic uint64_t ran;
  weft_event_t* done;
} countdown_t;

static int countdown_task(void* arg, void** result) {
  countdown_t* c = arg;

  (void)result;
  /* relaxed: a count read after the event, which orders it. */
  atomic_fetch_add_explicit(&c->ran, 1, memory_order_relaxed);
  /* acq_rel: the last decrement sees every other task's count (acquire)
   * before it sets the event. */
  if (atomic_fetch_sub_explicit(&c->left, 1, memory_order_acq_rel) == 1)
    return weft_event_set(c->done);
  return 0;
}

static int run_spawn_detached(size_t m, bench_result_t* out) {
  countdown_t c;
  int err = weft_event_new(&c.done);
  uint64_t t0;
  size_t i;

  if (err != 0)
    return bench_error("spawn: event", err);
  atomic_init(&c.left, m);
  atomic_init(&c.ran, 0);
  t0 = bench_now_ns();
  for (i = 0; i < m; i++)
    if ((err = weft_spawn(NULL, countdown_task, &c, NULL, NULL)) != 0)
      break;
  /* Those that were spawned still count down; take the rest off. */
  if (i < m &&
      atomic_fetch_sub_explicit(&c.left, m - i, memory_order_acq_rel) == m - i)
    weft_event_set(c.done);
  int werr = weft_event_wait(c.done);
  out->seconds = bench_since(t0);
  weft_event_free(c.done);
  if (err != 0 || werr != 0)
    return bench_error("spawn --detach", err != 0 ? err : werr);
  /* relaxed: the event ordered every task's count before the wait ended. */
  uint64_t ran = atomic_load_explicit(&c.ran, memory_order_relaxed);
  if (ran != m)
    return bench_wrong("spawn", "%llu of %zu tasks ran",
                       (unsigned long long)ran, m);
  out->ops = m;
  out->result = m;
  return 0;
}

static int run_spawn(const uint64_t* p, bench_result_t* out) {
  size_t m = p[0];
  if (p[1])
    return run_spawn_detached(m, out);
  weft_task_t** h = malloc(m * sizeof(*h));
  size_t n;
  uint64_t bad;
  int err;
  uint64_t t0;

  if (h == NULL)
    return bench_error("spawn: handles", WEFT_ENOMEM);
  t0 = bench_now_ns();
  n = spawn_indexed(h, m, &err);
  bad = join_indexed(h, n);
  out->seconds = bench_since(t0);
  free(h);
  if (err != 0)
    return bench_error("weft_spawn", err);
  if (bad != 0)
    return bench_wrong("spawn", "%llu of %zu tasks", (unsigned long long)bad,
                       m);
  out->ops = m;
  out->result = m;
  return 0;
}

const bench_t bench_spawn = {
    .name = "spawn",
    .help = "spawn m empty tasks, then await them all in order (--detach: "
            "detached, counted down to an event); ops = m",
    .repeatable = 1,
    .run = run_spawn,
    .params = {{"m", 1000000, 1u << 30}, {"detach", 0, 1, 1}},
};

/* ------------------------------------------------------------------------
 * yield
 * ------------------------------------------------------------------------ */

typedef struct yield_slot_s {
  uint64_t want; /* yields to make; written before the spawn */
  uint64_t done; /* yields made; written by the task, read after its join */
} yield_slot_t;

static int yield_task(void* arg, void** result) {
  yield_slot_t* s = arg;
  uint64_t done = 0;
  int err = 0;

  /* A local count: a shared one would bounce between workers. */
  while (done < s->want && (err = weft_yield()) == 0)
    done++;
  s->done = done;
  *result = (void*)(uintptr_t)done;
  return err;
}

/* Checks every task made all its yields. Returns 0, or 1 after saying which
 * did not. */
static int check_yields(const yield_slot_t* slots, size_t tasks) {
  for (size_t i = 0; i < tasks; i++) {
    if (slots[i].done != slots[i].want)
      return bench_wrong("yield", "task %zu yielded %llu times, not %llu", i,
                         (unsigned long long)slots[i].done,
                         (unsigned long long)slots[i].want);
  }
  return 0;
}

static int run_yield(const uint64_t* p, bench_result_t* out) {
  size_t tasks = p[0];
  yield_slot_t* slots = calloc(tasks, sizeof(*slots));
  weft_task_t** h = malloc(tasks * sizeof(*h));
  uint64_t sum = 0;
  size_t n;
  int err;
  int status;
  uint64_t t0;

  if (slots == NULL || h == NULL) {
    free(slots);
    free(h);
    return bench_error("yield: slots", WEFT_ENOMEM);
  }
  for (size_t i = 0; i < tasks; i++)
    slots[i].want = p[1];
  t0 = bench_now_ns();
  n = bench_spawn_n(yield_task, (char*)slots, sizeof(*slots), tasks, h, &err);
  status = bench_join(h, n, &sum);
  out->seconds = bench_since(t0);
  free(h);
  if (err != 0 || status != 0) {
    free(slots);
    return bench_error("yield", err != 0 ? err : status);
  }
  err = check_yields(slots, tasks);
  free(slots);
  out->ops = tasks * p[1];
  out->result = sum;
  return err;
}

const bench_t bench_yield = {
    .name = "yield",
    .help = "each task calls weft_yield() `yields` times; ops = tasks*yields",
    .repeatable = 1,
    .run = run_yield,
    .params = {{"tasks", 1000, 1u << 24}, {"yields", 1000, 1u << 30}},
};

/* ------------------------------------------------------------------------
 * chain
 * ------------------------------------------------------------------------ */

/* Link `left` of the chain (the last is 1): spawns the next link and returns
 * its handle as the result without awaiting it, so the link ends at once.
 * Handles are the only completion signal the public API has yet; the body
 * follows them down the chain. */
static int chain_link(void* arg, void** result) {
  uintptr_t left = (uintptr_t)arg;
  weft_task_t* next = NULL;

  if (left > 1) {
    int err = weft_spawn(NULL, chain_link, (void*)(left - 1), NULL, &next);
    if (err != 0)
      return err;
  }
  *result = next;
  return 0;
}

/* Awaits the chain from its first link; returns the links that ended well
 * and the first bad status in *err. */
static uint64_t follow_chain(weft_task_t* h, int* err) {
  uint64_t links = 0;

  *err = 0;
  while (h != NULL) {
    void* next = NULL;
    int status = weft_await(h, &next);
    weft_task_release(h);
    if (status != 0) {
      *err = status;
      break;
    }
    links++;
    h = next;
  }
  return links;
}

static int run_chain(const uint64_t* p, bench_result_t* out) {
  uint64_t depth = p[0];
  weft_task_t* first;
  uint64_t links = 0;
  int err;
  uint64_t t0 = bench_now_ns();

  err = weft_spawn(NULL, chain_link, (void*)(uintptr_t)depth, NULL, &first);
  if (err == 0)
    links = follow_chain(first, &err);
  out->seconds = bench_since(t0);
  if (err != 0)
    return bench_error("chain", err);
  if (links != depth)
    return bench_wrong("chain", "%llu links, not %llu",
                       (unsigned long long)links, (unsigned long long)depth);
  out->ops = depth;
  out->result = links;
  return 0;
}

const bench_t bench_chain = {
    .name = "chain",
    .help = "each task spawns the next and ends; ops = depth",
    .repeatable = 1,
    .run = run_chain,
    .params = {{"depth", 100000, 1u << 30}},
};
