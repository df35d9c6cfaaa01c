/* Combinators: weft_gather (order, fail-fast, collect, cancellation of the
 * caller), weft_wait (the three modes, timeouts, cancellation) and
 * weft_as_completed (completion order, timeout, end, plain threads).
 *
 * Completion orders are made deterministic with gates (futures a child
 * awaits before it returns) that the test or another child opens; sleeps
 * appear only where a timeout is the thing tested. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "helpers.h"

#define FAIL_A (-7001)

/* A child task: waits for its gate (if any), then opens `opens` (if any)
 * and returns `status` with `result`. */
typedef struct {
  weft_future_t* gate;
  weft_future_t* opens;
  int status;
  void* result;
  atomic_int* finish_seq; /* if set, the child takes a number when done */
  atomic_int ran;         /* the body started */
  atomic_int seen;        /* what the gate's await returned */
  atomic_int order;       /* the number it took */
} child_t;

static int child_fn(void* arg, void** result) {
  child_t* c = arg;
  atomic_fetch_add(&c->ran, 1);
  int rc = c->gate != NULL ? weft_future_await(c->gate, NULL) : 0;
  atomic_store(&c->seen, rc);
  if (rc != 0)
    return rc;
  if (c->finish_seq != NULL)
    atomic_store(&c->order, atomic_fetch_add(c->finish_seq, 1));
  if (c->opens != NULL)
    weft_future_set_result(c->opens, NULL);
  *result = c->result;
  return c->status;
}

static void children_init(child_t* c, size_t n, int gated) {
  memset(c, 0, n * sizeof(*c));
  for (size_t i = 0; i < n; i++) {
    c[i].result = (void*)(intptr_t)(100 + i);
    if (gated)
      WEFT_EXPECT_OK(weft_future_new(&c[i].gate));
  }
}

static void spawn_children(child_t* c, weft_task_t** t, size_t n) {
  for (size_t i = 0; i < n; i++)
    WEFT_EXPECT_OK(weft_spawn(NULL, child_fn, &c[i], NULL, &t[i]));
}

/* Opens every gate still closed, awaits and releases every task. */
static void finish_children(child_t* c, weft_task_t** t, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (c[i].gate != NULL)
      weft_future_set_result(c[i].gate, NULL); /* EBUSY if open: fine */
  for (size_t i = 0; i < n; i++) {
    weft_await(t[i], NULL);
    weft_task_release(t[i]);
    weft_future_release(c[i].gate);
  }
}

static int count_ran(child_t* c, size_t n) {
  int sum = 0;
  for (size_t i = 0; i < n; i++)
    sum += atomic_load(&c[i].ran);
  return sum;
}

/* ---- gather ----------------------------------------------------------- */

/* Child i waits for child i+1, so they finish last-to-first. */
static int main_gather_order(void* arg, void** result) {
  enum { N = 8 };
  child_t c[N];
  weft_task_t* t[N];
  void* results[N];
  int statuses[N];
  atomic_int seq = 0;
  (void)arg;
  (void)result;
  children_init(c, N, 1);
  weft_future_release(c[N - 1].gate);
  c[N - 1].gate = NULL;
  for (size_t i = 0; i < N; i++) {
    c[i].finish_seq = &seq;
    c[i].opens = i > 0 ? c[i - 1].gate : NULL;
  }
  spawn_children(c, t, N);
  WEFT_EXPECT_OK(weft_gather(t, N, 0, results, statuses));
  for (size_t i = 0; i < N; i++) {
    WEFT_EXPECT_EQ(atomic_load(&c[i].order), N - 1 - i);
    WEFT_EXPECT_EQ(statuses[i], 0);
    WEFT_EXPECT(results[i] == (void*)(intptr_t)(100 + i));
    WEFT_EXPECT(weft_task_done(t[i]));
  }
  finish_children(c, t, N);
  return 0;
}

static void test_gather_preserves_input_order(void** state) {
  (void)state;
  assert_int_equal(weft_test_run(4, main_gather_order, NULL, NULL), 0);
}

/* Child 2 fails once the others are waiting on gates that never open. */
static int main_gather_fail_fast(void* arg, void** result) {
  enum { N = 5 };
  child_t c[N];
  weft_task_t* t[N];
  void* results[N];
  int statuses[N];
  (void)arg;
  (void)result;
  children_init(c, N, 1);
  c[2].status = FAIL_A;
  spawn_children(c, t, N);
  WEFT_EXPECT_OK(WEFT_YIELD_UNTIL(count_ran(c, N) == N));
  weft_future_set_result(c[2].gate, NULL);
  WEFT_EXPECT_ERR(weft_gather(t, N, 0, results, statuses), FAIL_A);
  for (size_t i = 0; i < N; i++) {
    WEFT_EXPECT(weft_task_done(t[i]));
    WEFT_EXPECT(results[i] == NULL);
    if (i == 2)
      continue;
    WEFT_EXPECT_EQ(statuses[i], WEFT_ECANCELED);
    WEFT_EXPECT_EQ(atomic_load(&c[i].seen), WEFT_ECANCELED);
  }
  WEFT_EXPECT_EQ(statuses[2], FAIL_A);
  finish_children(c, t, N);
  return 0;
}

static void test_gather_fail_fast_cancels_the_others(void** state) {
  (void)state;
  assert_int_equal(weft_test_run(4, main_gather_fail_fast, NULL, NULL), 0);
}

static int main_gather_collect(void* arg, void** result) {
  enum { N = 6 };
  child_t c[N];
  weft_task_t* t[N];
  void* results[N];
  int statuses[N];
  (void)arg;
  (void)result;
  children_init(c, N, 0);
  for (size_t i = 1; i < N; i += 2)
    c[i].status = -(int)(7100 + i);
  spawn_children(c, t, N);
  WEFT_EXPECT_OK(weft_gather(t, N, WEFT_GATHER_COLLECT, results, statuses));
  for (size_t i = 0; i < N; i++) {
    WEFT_EXPECT_EQ(statuses[i], c[i].status);
    WEFT_EXPECT(results[i] == (c[i].status == 0 ? c[i].result : NULL));
  }
  /* NULL arrays are allowed; the tasks are done, so this returns at once. */
  WEFT_EXPECT_OK(weft_gather(t, N, WEFT_GATHER_COLLECT, NULL, NULL));
  WEFT_EXPECT_ERR(weft_gather(t, N, 0, NULL, NULL), c[1].status);
  finish_children(c, t, N);
  return 0;
}

static void test_gather_collect_returns_every_status(void** state) {
  (void)state;
  assert_int_equal(weft_test_run(4, main_gather_collect, NULL, NULL), 0);
}

static int main_gather_arguments(void* arg, void** result) {
  weft_task_t* t[2] = {NULL, NULL};
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_gather(NULL, 0, 0, NULL, NULL));
  WEFT_EXPECT_OK(weft_gather(t, 0, WEFT_GATHER_COLLECT, NULL, NULL));
  WEFT_EXPECT_ERR(weft_gather(NULL, 2, 0, NULL, NULL), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_gather(t, 2, 0, NULL, NULL), WEFT_EINVAL);
  t[0] = weft_current_task();
  t[1] = weft_current_task();
  WEFT_EXPECT_ERR(weft_gather(t, 2, 0, NULL, NULL), WEFT_EDEADLK);
  WEFT_EXPECT_ERR(weft_gather(t, 1, 99, NULL, NULL), WEFT_EINVAL);
  return 0;
}

static void test_gather_of_nothing_and_bad_arguments(void** state) {
  weft_task_t* t = NULL;
  (void)state;
  assert_int_equal(weft_test_run(2, main_gather_arguments, NULL, NULL), 0);
  WEFT_ASSERT_ERR(weft_gather(&t, 1, 0, NULL, NULL), WEFT_ENOTTASK);
  WEFT_ASSERT_ERR(weft_wait(&t, 1, WEFT_ALL_COMPLETED, -1, NULL, NULL, NULL,
                            NULL),
                  WEFT_ENOTTASK);
}

/* The caller of gather is cancelled by another task. */
typedef struct {
  child_t c[6];
  weft_task_t* t[6];
  int statuses[6];
  unsigned flags;
  weft_future_t* cleanup; /* children await it after their cancellation */
  atomic_int cleaning;
} gatherer_t;

static int cleanup_child(void* arg, void** result) {
  gatherer_t* g = ((child_t*)arg)->result;
  int rc = child_fn(arg, result);
  if (rc == WEFT_ECANCELED && g->cleanup != NULL) {
    atomic_fetch_add(&g->cleaning, 1);
    weft_future_await(g->cleanup, NULL); /* cleanup may await */
  }
  return rc;
}

static int gatherer_fn(void* arg, void** result) {
  gatherer_t* g = arg;
  (void)result;
  for (size_t i = 0; i < 6; i++) {
    g->c[i].result = g;
    WEFT_EXPECT_OK(weft_spawn(NULL, cleanup_child, &g->c[i], NULL, &g->t[i]));
  }
  return weft_gather(g->t, 6, g->flags, NULL, g->statuses);
}

static int main_gather_cancelled(void* arg, void** result) {
  gatherer_t g;
  weft_task_t* gt;
  int twice = (int)(intptr_t)arg;
  (void)result;
  for (unsigned flags = 0; flags <= WEFT_GATHER_COLLECT; flags++) {
    memset(&g, 0, sizeof(g));
    g.flags = flags;
    for (size_t i = 0; i < 6; i++)
      WEFT_EXPECT_OK(weft_future_new(&g.c[i].gate));
    if (twice)
      WEFT_EXPECT_OK(weft_future_new(&g.cleanup));
    WEFT_EXPECT_OK(weft_spawn(NULL, gatherer_fn, &g, NULL, &gt));
    WEFT_EXPECT_OK(WEFT_YIELD_UNTIL(count_ran(g.c, 6) == 6));
    WEFT_EXPECT_OK(weft_cancel(gt));
    if (twice) {
      /* Every child is in its cleanup: cancel the gatherer again while it
       * reaps them. */
      WEFT_EXPECT_OK(WEFT_YIELD_UNTIL(atomic_load(&g.cleaning) == 6));
      weft_cancel(gt);
      weft_future_set_result(g.cleanup, NULL);
    }
    WEFT_EXPECT_ERR(weft_await(gt, NULL), WEFT_ECANCELED);
    for (size_t i = 0; i < 6; i++) {
      WEFT_EXPECT(weft_task_done(g.t[i]));
      WEFT_EXPECT_EQ(g.statuses[i], WEFT_ECANCELED);
      WEFT_EXPECT_EQ(atomic_load(&g.c[i].seen), WEFT_ECANCELED);
      weft_task_release(g.t[i]);
      weft_future_release(g.c[i].gate);
    }
    weft_future_release(g.cleanup);
    weft_task_release(gt);
  }
  return 0;
}

static void test_gather_caller_cancelled_cancels_every_task(void** state) {
  (void)state;
  assert_int_equal(weft_test_run(4, main_gather_cancelled, (void*)0, NULL), 0);
  assert_int_equal(weft_test_run(4, main_gather_cancelled, (void*)1, NULL), 0);
}

/* The runtime shuts down while a task gathers (on one worker, where a
 * gather that spun on its failing awaits would never let its children
 * run). */
typedef struct {
  atomic_int ran;
  int variant; /* 1: the gatherer first; 2: children may not start */
  weft_task_t* t[4];
  int rc;
} shutdown_t;

static int hour_child(void* arg, void** result) {
  atomic_fetch_add(&((shutdown_t*)arg)->ran, 1);
  return weft_test_sleep_hour(NULL, result);
}

static int gather_them(void* arg, void** result) {
  shutdown_t* s = arg;
  (void)result;
  s->rc = weft_gather(s->t, 4, 0, NULL, NULL);
  for (size_t i = 0; i < 4; i++)
    weft_task_release(s->t[i]);
  return s->rc;
}

/* The gatherer first or last, children left unstarted or not: the
 * shutdown ends them in some order, and the gatherer, whose awaits all
 * fail from then on, must neither loop nor leave before they end. */
static int main_shutdown(void* arg, void** result) {
  shutdown_t* s = arg;
  weft_task_t* g = NULL;
  (void)result;
  if (s->variant & 1)
    WEFT_EXPECT_OK(weft_spawn(NULL, gather_them, s, NULL, &g));
  for (size_t i = 0; i < 4; i++)
    WEFT_EXPECT_OK(weft_spawn(NULL, hour_child, s, NULL, &s->t[i]));
  if (!(s->variant & 1))
    WEFT_EXPECT_OK(weft_spawn(NULL, gather_them, s, NULL, &g));
  int rc = WEFT_YIELD_UNTIL(weft_task_state(g) == WEFT_TASK_SUSPENDED &&
                            ((s->variant & 2) || atomic_load(&s->ran) == 4));
  weft_task_release(g); /* detached: the shutdown ends it */
  return rc;
}

static void test_gather_during_shutdown(void** state) {
  (void)state;
  for (int variant = 0; variant < 4; variant++) {
    shutdown_t s = {.variant = variant};
    assert_int_equal(weft_test_run_detached(1, main_shutdown, &s, NULL), 0);
    assert_int_equal(s.rc, WEFT_ECANCELED);
  }
}

/* ---- wait ------------------------------------------------------------- */

static int main_wait_all(void* arg, void** result) {
  enum { N = 4 };
  child_t c[N];
  weft_task_t* t[N];
  weft_task_t* done[N];
  weft_task_t* pending[N];
  size_t nd = 99, np = 99;
  (void)arg;
  (void)result;
  children_init(c, N, 0);
  c[1].status = FAIL_A;
  spawn_children(c, t, N);
  WEFT_EXPECT_OK(
      weft_wait(t, N, WEFT_ALL_COMPLETED, -1, done, &nd, pending, &np));
  WEFT_EXPECT_EQ(nd, N);
  WEFT_EXPECT_EQ(np, 0);
  for (size_t i = 0; i < N; i++)
    WEFT_EXPECT(done[i] == t[i]); /* input order */
  /* FIRST_EXCEPTION with the failure already there: returns at once. */
  WEFT_EXPECT_OK(
      weft_wait(t, N, WEFT_FIRST_EXCEPTION, -1, NULL, &nd, NULL, &np));
  WEFT_EXPECT_EQ(nd, N);
  WEFT_EXPECT_OK(weft_wait(t, 0, WEFT_ALL_COMPLETED, -1, NULL, &nd, NULL, &np));
  WEFT_EXPECT_EQ(nd, 0);
  WEFT_EXPECT_EQ(np, 0);
  WEFT_EXPECT_ERR(weft_wait(t, N, (weft_wait_mode_t)7, -1, NULL, NULL, NULL,
                            NULL),
                  WEFT_EINVAL);
  finish_children(c, t, N);
  return 0;
}

static void test_wait_all_completed(void** state) {
  (void)state;
  assert_int_equal(weft_test_run(4, main_wait_all, NULL, NULL), 0);
}

static int main_wait_first_completed(void* arg, void** result) {
  enum { N = 3 };
  child_t c[N];
  weft_task_t* t[N];
  weft_task_t* done[N];
  weft_task_t* pending[N];
  size_t nd = 99, np = 99;
  (void)arg;
  (void)result;
  children_init(c, N, 1);
  spawn_children(c, t, N);
  weft_future_set_result(c[1].gate, NULL);
  WEFT_EXPECT_OK(
      weft_wait(t, N, WEFT_FIRST_COMPLETED, -1, done, &nd, pending, &np));
  WEFT_EXPECT_EQ(nd, 1);
  WEFT_EXPECT_EQ(np, 2);
  WEFT_EXPECT(done[0] == t[1]);
  WEFT_EXPECT(pending[0] == t[0] && pending[1] == t[2]);
  finish_children(c, t, N);
  return 0;
}

static void test_wait_first_completed(void** state) {
  (void)state;
  assert_int_equal(weft_test_run(4, main_wait_first_completed, NULL, NULL), 0);
}

static int main_wait_first_exception(void* arg, void** result) {
  enum { N = 3 };
  child_t c[N];
  weft_task_t* t[N];
  weft_task_t* done[N];
  weft_task_t* pending[N];
  size_t nd = 99, np = 99;
  (void)arg;
  (void)result;
  children_init(c, N, 1);
  c[1].status = FAIL_A;
  spawn_children(c, t, N);
  /* A success does not end FIRST_EXCEPTION: t0 is done before the wait. */
  weft_future_set_result(c[0].gate, NULL);
  WEFT_EXPECT_OK(weft_await(t[0], NULL));
  weft_future_set_result(c[1].gate, NULL);
  WEFT_EXPECT_OK(
      weft_wait(t, N, WEFT_FIRST_EXCEPTION, -1, done, &nd, pending, &np));
  WEFT_EXPECT_EQ(nd, 2);
  WEFT_EXPECT_EQ(np, 1);
  WEFT_EXPECT(done[0] == t[0] && done[1] == t[1]);
  WEFT_EXPECT(pending[0] == t[2]);
  /* Without a failure, FIRST_EXCEPTION waits for all. */
  weft_future_set_result(c[2].gate, NULL);
  WEFT_EXPECT_OK(
      weft_wait(&t[2], 1, WEFT_FIRST_EXCEPTION, -1, done, &nd, pending, &np));
  WEFT_EXPECT_EQ(nd, 1);
  WEFT_EXPECT_EQ(np, 0);
  finish_children(c, t, N);
  return 0;
}

static void test_wait_first_exception(void** state) {
  (void)state;
  assert_int_equal(weft_test_run(4, main_wait_first_exception, NULL, NULL), 0);
}

static int main_wait_timeout(void* arg, void** result) {
  enum { N = 3 };
  child_t c[N];
  weft_task_t* t[N];
  weft_task_t* pending[N];
  size_t nd = 99, np = 99;
  (void)arg;
  (void)result;
  children_init(c, N, 1);
  spawn_children(c, t, N);
  WEFT_EXPECT_OK(
      weft_wait(t, N, WEFT_ALL_COMPLETED, 0, NULL, &nd, pending, &np));
  WEFT_EXPECT_EQ(nd, 0);
  WEFT_EXPECT_EQ(np, N);
  weft_future_set_result(c[0].gate, NULL);
  WEFT_EXPECT_OK(weft_await(t[0], NULL));
  uint64_t start = weft_now_ns();
  WEFT_EXPECT_OK(
      weft_wait(t, N, WEFT_ALL_COMPLETED, 30, NULL, &nd, pending, &np));
  WEFT_EXPECT(weft_now_ns() - start >= 30 * 1000000u);
  WEFT_EXPECT_EQ(nd, 1);
  WEFT_EXPECT_EQ(np, 2);
  WEFT_EXPECT(pending[0] == t[1] && pending[1] == t[2]);
  for (size_t i = 1; i < N; i++)
    WEFT_EXPECT(!weft_task_done(t[i]));
  /* The callbacks of the timed-out wait run later, on a freed-by-then
   * caller frame: they must only touch their own state. */
  finish_children(c, t, N);
  return 0;
}

static void test_wait_timeout_leaves_pending(void** state) {
  (void)state;
  assert_int_equal(weft_test_run(4, main_wait_timeout, NULL, NULL), 0);
}

typedef struct {
  weft_task_t** t;
  size_t n;
  size_t nd;
  size_t np;
} waiter_t;

static int waiter_fn(void* arg, void** result) {
  waiter_t* w = arg;
  (void)result;
  return weft_wait(w->t, w->n, WEFT_ALL_COMPLETED, -1, NULL, &w->nd, NULL,
                   &w->np);
}

static int main_wait_cancelled(void* arg, void** result) {
  enum { N = 3 };
  child_t c[N];
  weft_task_t* t[N];
  weft_task_t* wt;
  waiter_t w = {t, N, 99, 99};
  (void)arg;
  (void)result;
  children_init(c, N, 1);
  spawn_children(c, t, N);
  WEFT_EXPECT_OK(weft_spawn(NULL, waiter_fn, &w, NULL, &wt));
  WEFT_EXPECT_OK(WEFT_YIELD_UNTIL(count_ran(c, N) == N));
  WEFT_EXPECT_OK(weft_cancel(wt));
  WEFT_EXPECT_ERR(weft_await(wt, NULL), WEFT_ECANCELED);
  WEFT_EXPECT_EQ(w.np, N); /* left running */
  for (size_t i = 0; i < N; i++) {
    WEFT_EXPECT(!weft_task_done(t[i]));
    WEFT_EXPECT_EQ(atomic_load(&c[i].seen), 0);
  }
  weft_task_release(wt);
  finish_children(c, t, N);
  for (size_t i = 0; i < N; i++)
    WEFT_EXPECT_EQ(atomic_load(&c[i].seen), 0); /* ended normally */
  return 0;
}

static void test_wait_cancelled_leaves_tasks_running(void** state) {
  (void)state;
  assert_int_equal(weft_test_run(4, main_wait_cancelled, NULL, NULL), 0);
}

/* ---- as_completed ----------------------------------------------------- */

/* Opens the gate in arg: registered after the iterator's own callback, so
 * the iterator has counted the finished task before the next can finish
 * (callbacks run in registration order). */
static void open_gate(weft_future_t* f, void* arg) {
  (void)f;
  weft_future_set_result(arg, NULL);
}

static int main_as_completed_order(void* arg, void** result) {
  enum { N = 5 };
  static const size_t order[N] = {3, 1, 4, 0, 2};
  child_t c[N];
  weft_task_t* t[N];
  weft_task_t* got;
  weft_as_completed_t* it;
  (void)arg;
  (void)result;
  children_init(c, N, 1);
  spawn_children(c, t, N);
  WEFT_EXPECT_OK(weft_as_completed_new(t, N, -1, &it));
  for (size_t k = 0; k + 1 < N; k++) {
    weft_future_t* f;
    WEFT_EXPECT_OK(weft_task_future(t[order[k]], &f));
    WEFT_EXPECT_OK(
        weft_future_add_callback(f, open_gate, c[order[k + 1]].gate));
    weft_future_release(f);
  }
  weft_future_set_result(c[order[0]].gate, NULL);
  for (size_t k = 0; k < N; k++) {
    got = NULL;
    WEFT_EXPECT_OK(weft_as_completed_next(it, &got));
    WEFT_EXPECT(got == t[order[k]]);
  }
  WEFT_EXPECT_ERR(weft_as_completed_next(it, &got), WEFT_ECLOSED);
  WEFT_EXPECT_ERR(weft_as_completed_next(it, &got), WEFT_ECLOSED);
  weft_as_completed_free(it);
  finish_children(c, t, N);
  return 0;
}

static void test_as_completed_order_is_completion_order(void** state) {
  (void)state;
  assert_int_equal(weft_test_run(4, main_as_completed_order, NULL, NULL), 0);
}

static int main_as_completed_timeout(void* arg, void** result) {
  enum { N = 2 };
  child_t c[N];
  weft_task_t* t[N];
  weft_task_t* got = NULL;
  weft_as_completed_t* it;
  (void)arg;
  (void)result;
  children_init(c, N, 1);
  spawn_children(c, t, N);
  uint64_t start = weft_now_ns();
  WEFT_EXPECT_OK(weft_as_completed_new(t, N, 30, &it));
  WEFT_EXPECT_ERR(weft_as_completed_next(it, &got), WEFT_ETIMEDOUT);
  WEFT_EXPECT(weft_now_ns() - start >= 30 * 1000000u);
  /* A task that finished after the deadline is still handed out. */
  weft_future_set_result(c[1].gate, NULL);
  WEFT_EXPECT_OK(weft_await(t[1], NULL));
  WEFT_EXPECT_OK(weft_as_completed_next(it, &got));
  WEFT_EXPECT(got == t[1]);
  WEFT_EXPECT_ERR(weft_as_completed_next(it, &got), WEFT_ETIMEDOUT);
  weft_as_completed_free(it); /* t[0]'s callback still to come */
  WEFT_EXPECT_OK(weft_as_completed_new(t, 0, 0, &it));
  WEFT_EXPECT_ERR(weft_as_completed_next(it, &got), WEFT_ECLOSED);
  weft_as_completed_free(it);
  weft_as_completed_free(NULL);
  finish_children(c, t, N);
  return 0;
}

static void test_as_completed_timeout(void** state) {
  (void)state;
  assert_int_equal(weft_test_run(4, main_as_completed_timeout, NULL, NULL), 0);
}

static int iterate_fn(void* arg, void** result) {
  weft_task_t* got;
  (void)result;
  return weft_as_completed_next(arg, &got);
}

static int main_as_completed_cancelled(void* arg, void** result) {
  child_t c[1];
  weft_task_t* t[1];
  weft_task_t* it_task;
  weft_task_t* got = NULL;
  weft_as_completed_t* it;
  (void)arg;
  (void)result;
  children_init(c, 1, 1);
  spawn_children(c, t, 1);
  WEFT_EXPECT_OK(weft_as_completed_new(t, 1, -1, &it));
  WEFT_EXPECT_OK(weft_spawn(NULL, iterate_fn, it, NULL, &it_task));
  WEFT_EXPECT_OK(weft_cancel(it_task));
  WEFT_EXPECT_ERR(weft_await(it_task, NULL), WEFT_ECANCELED);
  weft_task_release(it_task);
  WEFT_EXPECT(!weft_task_done(t[0]));
  /* The iterator still works after a cancelled next. */
  weft_future_set_result(c[0].gate, NULL);
  WEFT_EXPECT_OK(weft_as_completed_next(it, &got));
  WEFT_EXPECT(got == t[0]);
  weft_as_completed_free(it);
  finish_children(c, t, 1);
  return 0;
}

static void test_as_completed_cancelled(void** state) {
  (void)state;
  assert_int_equal(weft_test_run(2, main_as_completed_cancelled, NULL, NULL),
                   0);
}

/* The test's own thread iterates (it blocks in next). */
static void test_as_completed_from_plain_thread(void** state) {
  enum { N = 4 };
  weft_config_t cfg = {.workers = 2};
  weft_runtime_t* rt;
  weft_task_t* t[N];
  weft_task_t* got;
  weft_as_completed_t* it;
  int seen[N] = {0};
  (void)state;
  WEFT_ASSERT_OK(weft_runtime_new(&cfg, &rt));
  for (size_t i = 0; i < N; i++)
    WEFT_ASSERT_OK(weft_spawn(rt, weft_test_ret_arg, (void*)i, NULL, &t[i]));
  WEFT_ASSERT_OK(weft_as_completed_new(t, N, 10000, &it));
  for (size_t k = 0; k < N; k++) {
    WEFT_ASSERT_OK(weft_as_completed_next(it, &got));
    void* r = NULL;
    WEFT_ASSERT_OK(weft_task_result(got, &r));
    seen[(size_t)r]++;
  }
  WEFT_ASSERT_ERR(weft_as_completed_next(it, &got), WEFT_ECLOSED);
  weft_as_completed_free(it);
  for (size_t i = 0; i < N; i++) {
    assert_int_equal(seen[i], 1);
    weft_task_release(t[i]);
  }
  WEFT_ASSERT_OK(weft_runtime_free(rt));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gather_preserves_input_order),
      cmocka_unit_test(test_gather_fail_fast_cancels_the_others),
      cmocka_unit_test(test_gather_collect_returns_every_status),
      cmocka_unit_test(test_gather_of_nothing_and_bad_arguments),
      cmocka_unit_test(test_gather_caller_cancelled_cancels_every_task),
      cmocka_unit_test(test_gather_during_shutdown),
      cmocka_unit_test(test_wait_all_completed),
      cmocka_unit_test(test_wait_first_completed),
      cmocka_unit_test(test_wait_first_exception),
      cmocka_unit_test(test_wait_timeout_leaves_pending),
      cmocka_unit_test(test_wait_cancelled_leaves_tasks_running),
      cmocka_unit_test(test_as_completed_order_is_completion_order),
      cmocka_unit_test(test_as_completed_timeout),
      cmocka_unit_test(test_as_completed_cancelled),
      cmocka_unit_test(test_as_completed_from_plain_thread),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
