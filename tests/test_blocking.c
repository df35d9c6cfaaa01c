/* The blocking-call executor (blocking.c): results, concurrency, the
 * thread bound, keep-alive, statistics, cancellation, plain threads,
 * shutdown and bad arguments.
 *
 * No test depends on timing. Calls that must overlap meet at a
 * pthread_barrier (a pool that cannot run them at once deadlocks, and the
 * ctest timeout reports it); calls that must stay blocked wait on a
 * semaphore the test posts. Where a test waits for the executor to reach
 * a state by itself (a thread leaving after its keep-alive, a counter
 * dropping after a call returns), it polls weft_blocking_stats with short
 * sleeps up to a generous bound: that waits for an event, and only a hang
 * makes it fail. */
#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <unistd.h>

#include "helpers.h"

/* Polls below give up after this many 1 ms sleeps: a hang guard only. */
#define POLL_BOUND 20000

/* ---- Call bodies -------------------------------------------------------- */

static int call_ret_arg(void* arg, void** result) {
  *result = arg;
  return 0;
}

static int call_ret_status(void* arg, void** result) {
  (void)result;
  return (int)(intptr_t)arg;
}

static int call_gettid(void* arg, void** result) {
  (void)arg;
  *result = (void*)(intptr_t)weft_test_gettid();
  return 0;
}

static int call_barrier(void* arg, void** result) {
  pthread_barrier_wait(arg);
  *result = (void*)1;
  return 0;
}

/* Polls `rt`'s executor from a task until pred holds or POLL_BOUND ms. */
typedef int (*stats_pred)(const weft_blocking_stats_t* s);

static int poll_stats(weft_runtime_t* rt, stats_pred pred,
                      weft_blocking_stats_t* s) {
  for (int i = 0; i < POLL_BOUND; i++) {
    if (!WEFT_EXPECT_OK(weft_blocking_stats(rt, s)))
      return 0;
    if (pred(s))
      return 1;
    if (weft_current_task() != NULL)
      weft_sleep_ms(1);
    else
      sched_yield();
  }
  return 0;
}

static int all_idle(const weft_blocking_stats_t* s) {
  return s->busy == 0 && s->queued == 0;
}

static int no_threads(const weft_blocking_stats_t* s) {
  return s->threads == 0;
}

/* ---- Results ------------------------------------------------------------ */

static int main_results(void* arg, void** result) {
  void* res = NULL;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_run_blocking(call_ret_arg, (void*)42, &res));
  WEFT_EXPECT_EQ((intptr_t)res, 42);
  /* A NULL result pointer is fine. */
  WEFT_EXPECT_OK(weft_run_blocking(call_ret_arg, (void*)43, NULL));
  res = (void*)7;
  WEFT_EXPECT_ERR(weft_run_blocking(call_ret_status,
                                    (void*)(intptr_t)WEFT_ETIMEDOUT, &res),
                  WEFT_ETIMEDOUT);
  WEFT_EXPECT_EQ((intptr_t)res, 7); /* untouched on failure */
  /* fn's status comes back unchanged, even one that is not a weft code. */
  WEFT_EXPECT_EQ(weft_run_blocking(call_ret_status, (void*)5, NULL), 5);
  /* The call ran on another thread than the task's worker. */
  WEFT_EXPECT_OK(weft_run_blocking(call_gettid, NULL, &res));
  WEFT_EXPECT((intptr_t)res != weft_test_gettid());
  return 0;
}

static void test_blocking_returns_result_and_status(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_results, NULL, NULL));
}

static int main_submit(void* arg, void** result) {
  weft_future_t* f;
  void* res = NULL;
  (void)arg;
  (void)result;
  /* rt NULL in a task: the current runtime. */
  WEFT_EXPECT_OK(weft_submit_blocking(NULL, call_ret_arg, (void*)9, &f));
  WEFT_EXPECT_OK(weft_future_await(f, &res));
  WEFT_EXPECT_EQ((intptr_t)res, 9);
  weft_future_release(f);
  WEFT_EXPECT_OK(weft_submit_blocking(weft_current_runtime(), call_ret_status,
                                      (void*)(intptr_t)WEFT_EBUSY, &f));
  WEFT_EXPECT_ERR(weft_future_await(f, NULL), WEFT_EBUSY);
  weft_future_release(f);
  return 0;
}

static void test_blocking_submit_gives_a_future(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_submit, NULL, NULL));
}

/* ---- 64 at once --------------------------------------------------------- */

#define N_AT_ONCE 64

static int task_barrier_call(void* arg, void** result) {
  return weft_run_blocking(call_barrier, arg, result);
}

/* 64 tasks each make a blocking call that waits at a barrier of 64: they
 * can only all return if 64 executor threads run at the same time. */
static int main_64_at_once(void* arg, void** result) {
  pthread_barrier_t barrier;
  weft_task_t* tasks[N_AT_ONCE];
  (void)arg;
  (void)result;
  pthread_barrier_init(&barrier, NULL, N_AT_ONCE);
  for (int i = 0; i < N_AT_ONCE; i++)
    WEFT_EXPECT_OK(
        weft_spawn(NULL, task_barrier_call, &barrier, NULL, &tasks[i]));
  for (int i = 0; i < N_AT_ONCE; i++) {
    void* res = NULL;
    WEFT_EXPECT_OK(weft_await(tasks[i], &res));
    WEFT_EXPECT_EQ((intptr_t)res, 1);
    weft_task_release(tasks[i]);
  }
  weft_blocking_stats_t s;
  WEFT_EXPECT_OK(weft_blocking_stats(weft_current_runtime(), &s));
  WEFT_EXPECT(s.threads >= N_AT_ONCE); /* keep-alive is 10 s */
  /* Every call's thread has returned from the barrier; the executor's own
   * bookkeeping settles right after. */
  poll_stats(weft_current_runtime(), all_idle, &s);
  pthread_barrier_destroy(&barrier);
  return 0;
}

static void test_blocking_64_calls_run_at_once(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_64_at_once, NULL, NULL));
}

/* ---- The thread bound --------------------------------------------------- */

#define BOUND 4
#define BOUND_CALLS 16

typedef struct {
  pthread_barrier_t barrier; /* of BOUND: a full pool meets there */
  weft_runtime_t* rt;
  atomic_int running;
  atomic_int max_running;
  atomic_int max_threads_seen;
} bound_t;

static void atomic_max(atomic_int* m, int v) {
  /* relaxed: a running maximum read after every call has been awaited. */
  int cur = atomic_load_explicit(m, memory_order_relaxed);
  /* relaxed: as above; the loop retries on a lost race. */
  while (v > cur &&
         !atomic_compare_exchange_weak_explicit(m, &cur, v,
                                                memory_order_relaxed,
                                                memory_order_relaxed)) {
  }
}

static int call_bounded(void* arg, void** result) {
  bound_t* b = arg;
  weft_blocking_stats_t s;
  (void)result;
  /* relaxed: a counter whose peak is all that matters. */
  int now = atomic_fetch_add_explicit(&b->running, 1, memory_order_relaxed);
  atomic_max(&b->max_running, now + 1);
  if (weft_blocking_stats(b->rt, &s) == 0)
    atomic_max(&b->max_threads_seen, (int)s.threads);
  /* 16 calls meet in 4 rounds of 4, so the pool must reach its bound. */
  pthread_barrier_wait(&b->barrier);
  /* relaxed: as above. */
  atomic_fetch_sub_explicit(&b->running, 1, memory_order_relaxed);
  return 0;
}

static int main_bound(void* arg, void** result) {
  bound_t* b = arg;
  weft_future_t* f[BOUND_CALLS];
  (void)result;
  b->rt = weft_current_runtime();
  for (int i = 0; i < BOUND_CALLS; i++)
    WEFT_EXPECT_OK(weft_submit_blocking(NULL, call_bounded, b, &f[i]));
  for (int i = 0; i < BOUND_CALLS; i++) {
    WEFT_EXPECT_OK(weft_future_await(f[i], NULL));
    weft_future_release(f[i]);
  }
  weft_blocking_stats_t s;
  WEFT_EXPECT_OK(weft_blocking_stats(b->rt, &s));
  WEFT_EXPECT(s.threads <= BOUND);
  return 0;
}

static void test_blocking_pool_never_exceeds_max_threads(void** state) {
  (void)state;
  bound_t b = {.rt = NULL};
  weft_config_t cfg = {.workers = 2, .blocking_max_threads = BOUND};
  weft_runtime_t* rt;
  weft_task_t* t;
  weft_test_reset_failures();
  pthread_barrier_init(&b.barrier, NULL, BOUND);
  WEFT_ASSERT_OK(weft_runtime_new(&cfg, &rt));
  WEFT_ASSERT_OK(weft_spawn(rt, main_bound, &b, NULL, &t));
  WEFT_ASSERT_OK(weft_await(t, NULL));
  weft_task_release(t);
  WEFT_ASSERT_OK(weft_runtime_free(rt));
  pthread_barrier_destroy(&b.barrier);
  WEFT_ASSERT_NO_FAILURES();
  assert_int_equal(atomic_load(&b.max_running), BOUND);
  assert_true(atomic_load(&b.max_threads_seen) <= BOUND);
}

/* ---- Keep-alive --------------------------------------------------------- */

static int main_keepalive(void* arg, void** result) {
  pthread_barrier_t barrier;
  weft_future_t* f[8];
  weft_blocking_stats_t s;
  weft_runtime_t* rt = weft_current_runtime();
  (void)arg;
  (void)result;
  pthread_barrier_init(&barrier, NULL, 8);
  for (int i = 0; i < 8; i++)
    WEFT_EXPECT_OK(weft_submit_blocking(NULL, call_barrier, &barrier, &f[i]));
  for (int i = 0; i < 8; i++) {
    WEFT_EXPECT_OK(weft_future_await(f[i], NULL));
    weft_future_release(f[i]);
  }
  /* With a 1 ms keep-alive, all 8 threads leave soon after the calls end:
   * poll until they have (this waits for the event; it times nothing). */
  WEFT_EXPECT(poll_stats(rt, no_threads, &s));
  WEFT_EXPECT_EQ(s.threads, 0);
  /* The pool starts threads again on demand. */
  void* res = NULL;
  WEFT_EXPECT_OK(weft_run_blocking(call_ret_arg, (void*)3, &res));
  WEFT_EXPECT_EQ((intptr_t)res, 3);
  WEFT_EXPECT(poll_stats(rt, no_threads, &s));
  pthread_barrier_destroy(&barrier);
  return 0;
}

static void test_blocking_idle_threads_leave_after_keepalive(void** state) {
  (void)state;
  weft_config_t cfg = {.workers = 2, .blocking_keepalive_ms = 1};
  weft_runtime_t* rt;
  weft_task_t* t;
  weft_test_reset_failures();
  WEFT_ASSERT_OK(weft_runtime_new(&cfg, &rt));
  WEFT_ASSERT_OK(weft_spawn(rt, main_keepalive, NULL, NULL, &t));
  WEFT_ASSERT_OK(weft_await(t, NULL));
  weft_task_release(t);
  WEFT_ASSERT_OK(weft_runtime_free(rt));
  WEFT_ASSERT_NO_FAILURES();
}

/* ---- Statistics --------------------------------------------------------- */

typedef struct {
  sem_t gate;    /* posted by the test to let a call finish */
  sem_t started; /* posted by each call as it starts */
  atomic_int ran;
} gate_t;

static int call_gated(void* arg, void** result) {
  gate_t* g = arg;
  /* relaxed: read after the call's future completed (which orders it). */
  atomic_fetch_add_explicit(&g->ran, 1, memory_order_relaxed);
  sem_post(&g->started);
  while (sem_wait(&g->gate) != 0) {
  }
  *result = g;
  return 0;
}

static void gate_init(gate_t* g) {
  sem_init(&g->gate, 0, 0);
  sem_init(&g->started, 0, 0);
  atomic_init(&g->ran, 0);
}

static void gate_destroy(gate_t* g) {
  sem_destroy(&g->gate);
  sem_destroy(&g->started);
}

static int two_busy_one_queued(const weft_blocking_stats_t* s) {
  return s->busy == 2 && s->queued == 1;
}

/* Pool of 2, three gated calls: two run, one waits, until the gate opens. */
static int main_stats(void* arg, void** result) {
  gate_t* g = arg;
  weft_future_t* f[3];
  weft_blocking_stats_t s;
  weft_runtime_t* rt = weft_current_runtime();
  (void)result;
  WEFT_EXPECT_OK(weft_blocking_stats(rt, &s));
  WEFT_EXPECT_EQ(s.threads, 0); /* nothing starts before a call comes */
  for (int i = 0; i < 3; i++)
    WEFT_EXPECT_OK(weft_submit_blocking(NULL, call_gated, g, &f[i]));
  WEFT_EXPECT(poll_stats(rt, two_busy_one_queued, &s));
  WEFT_EXPECT_EQ(s.threads, 2);
  WEFT_EXPECT_EQ(s.busy, 2);
  WEFT_EXPECT_EQ(s.queued, 1);
  for (int i = 0; i < 3; i++)
    sem_post(&g->gate);
  for (int i = 0; i < 3; i++) {
    void* res = NULL;
    WEFT_EXPECT_OK(weft_future_await(f[i], &res));
    WEFT_EXPECT(res == g);
    weft_future_release(f[i]);
  }
  WEFT_EXPECT(poll_stats(rt, all_idle, &s));
  WEFT_EXPECT_EQ(s.threads, 2); /* idle now, and kept alive (10 s) */
  return 0;
}

static void test_blocking_stats_show_busy_and_queued(void** state) {
  (void)state;
  gate_t g;
  weft_config_t cfg = {.workers = 2, .blocking_max_threads = 2};
  weft_runtime_t* rt;
  weft_task_t* t;
  gate_init(&g);
  weft_test_reset_failures();
  WEFT_ASSERT_OK(weft_runtime_new(&cfg, &rt));
  WEFT_ASSERT_OK(weft_spawn(rt, main_stats, &g, NULL, &t));
  WEFT_ASSERT_OK(weft_await(t, NULL));
  weft_task_release(t);
  WEFT_ASSERT_OK(weft_runtime_free(rt));
  WEFT_ASSERT_NO_FAILURES();
  assert_int_equal(atomic_load(&g.ran), 3);
  gate_destroy(&g);
}

/* ---- Cancellation ------------------------------------------------------- */

static int task_run_gated(void* arg, void** result) {
  return weft_run_blocking(call_gated, arg, result);
}

/* A task awaiting a blocking call is cancelled: it returns WEFT_ECANCELED
 * while the call is still blocked; the call then finishes and its
 * abandoned future is freed by the executor (ASan/TSan watch that). */
static int main_cancel(void* arg, void** result) {
  gate_t* g = arg;
  weft_task_t* t;
  weft_blocking_stats_t s;
  (void)result;
  WEFT_EXPECT_OK(weft_spawn(NULL, task_run_gated, g, NULL, &t));
  /* The call has started (on the executor), and the task waits for it. */
  while (sem_trywait(&g->started) != 0)
    WEFT_EXPECT_OK(weft_yield());
  WEFT_YIELD_UNTIL(weft_task_state(t) == WEFT_TASK_SUSPENDED);
  WEFT_EXPECT_OK(weft_cancel(t));
  WEFT_EXPECT_ERR(weft_await(t, NULL), WEFT_ECANCELED);
  weft_task_release(t);
  WEFT_EXPECT_OK(weft_blocking_stats(weft_current_runtime(), &s));
  WEFT_EXPECT_EQ(s.busy, 1); /* still blocked on the gate */
  sem_post(&g->gate);
  WEFT_EXPECT(poll_stats(weft_current_runtime(), all_idle, &s));
  /* The task's worker was never blocked: a fresh call works. */
  WEFT_EXPECT_OK(weft_run_blocking(call_ret_arg, NULL, NULL));
  return 0;
}

static void test_blocking_cancel_awaiting_task(void** state) {
  (void)state;
  gate_t g;
  gate_init(&g);
  for (int i = 0; i < 20; i++)
    WEFT_ASSERT_OK(weft_test_run(2, main_cancel, &g, NULL));
  assert_int_equal(atomic_load(&g.ran), 20);
  gate_destroy(&g);
}

/* The holder cancels a submitted call's future before a thread takes it:
 * the call is skipped (concurrent.futures' Future.cancel()). */
static int main_cancel_queued(void* arg, void** result) {
  gate_t* g = arg;
  weft_future_t* first;
  weft_future_t* second;
  weft_blocking_stats_t s;
  (void)result;
  WEFT_EXPECT_OK(weft_submit_blocking(NULL, call_gated, g, &first));
  WEFT_EXPECT_OK(weft_submit_blocking(NULL, call_gated, g, &second));
  while (sem_trywait(&g->started) != 0)
    WEFT_EXPECT_OK(weft_yield());
  WEFT_EXPECT_OK(weft_future_cancel(second)); /* one thread: still queued */
  sem_post(&g->gate);
  WEFT_EXPECT_OK(weft_future_await(first, NULL));
  WEFT_EXPECT_ERR(weft_future_await(second, NULL), WEFT_ECANCELED);
  WEFT_EXPECT(poll_stats(weft_current_runtime(), all_idle, &s));
  /* relaxed: the executor finished with both calls (all_idle, under its
   * lock) before this read. */
  WEFT_EXPECT_EQ(atomic_load_explicit(&g->ran, memory_order_relaxed), 1);
  weft_future_release(first);
  weft_future_release(second);
  return 0;
}

static void test_blocking_cancelled_future_skips_queued_call(void** state) {
  (void)state;
  gate_t g;
  weft_config_t cfg = {.workers = 2, .blocking_max_threads = 1};
  weft_runtime_t* rt;
  weft_task_t* t;
  gate_init(&g);
  weft_test_reset_failures();
  WEFT_ASSERT_OK(weft_runtime_new(&cfg, &rt));
  WEFT_ASSERT_OK(weft_spawn(rt, main_cancel_queued, &g, NULL, &t));
  WEFT_ASSERT_OK(weft_await(t, NULL));
  weft_task_release(t);
  WEFT_ASSERT_OK(weft_runtime_free(rt));
  WEFT_ASSERT_NO_FAILURES();
  gate_destroy(&g);
}

/* ---- Plain threads ------------------------------------------------------ */

static int call_nested(void* arg, void** result) {
  /* On an executor thread, which belongs to no runtime: runs inline. */
  void* inner = NULL;
  int err = weft_run_blocking(call_gettid, arg, &inner);
  if (err != 0)
    return err;
  *result = (void*)(intptr_t)((intptr_t)inner == weft_test_gettid());
  return 0;
}

static void* plain_thread(void* arg) {
  weft_runtime_t* rt = arg;
  weft_future_t* f;
  void* res = NULL;
  WEFT_EXPECT_OK(weft_submit_blocking(rt, call_ret_arg, (void*)11, &f));
  WEFT_EXPECT_OK(weft_future_await(f, &res)); /* blocks this thread */
  WEFT_EXPECT_EQ((intptr_t)res, 11);
  weft_future_release(f);
  WEFT_EXPECT_OK(weft_submit_blocking(rt, call_ret_arg, (void*)12, &f));
  WEFT_EXPECT_OK(weft_future_wait_for(f, 60000, &res));
  WEFT_EXPECT_EQ((intptr_t)res, 12);
  weft_future_release(f);
  /* weft_run_blocking from a thread outside any runtime: fn runs here. */
  WEFT_EXPECT_OK(weft_run_blocking(call_gettid, NULL, &res));
  WEFT_EXPECT_EQ((intptr_t)res, weft_test_gettid());
  /* And on an executor thread, the same. */
  WEFT_EXPECT_OK(weft_submit_blocking(rt, call_nested, NULL, &f));
  WEFT_EXPECT_OK(weft_future_await(f, &res));
  WEFT_EXPECT_EQ((intptr_t)res, 1);
  weft_future_release(f);
  return NULL;
}

static void test_blocking_from_plain_thread(void** state) {
  (void)state;
  weft_config_t cfg = {.workers = 2};
  weft_runtime_t* rt;
  pthread_t th;
  weft_test_reset_failures();
  WEFT_ASSERT_OK(weft_runtime_new(&cfg, &rt));
  assert_int_equal(pthread_create(&th, NULL, plain_thread, rt), 0);
  pthread_join(th, NULL);
  WEFT_ASSERT_OK(weft_runtime_free(rt));
  WEFT_ASSERT_NO_FAILURES();
}

/* ---- Shutdown ----------------------------------------------------------- */

static void post_gate(weft_future_t* f, void* arg) {
  (void)f;
  sem_post(arg);
}

/* Pool of 1: call A holds the thread on a gate, B and C wait behind it.
 * The runtime is freed meanwhile. The executor's shutdown first cancels
 * the calls that never started: B's completion callback opens A's gate,
 * so A ends only once the shutdown is under way, and weft_runtime_free
 * returns after A's thread is gone. */
static void test_blocking_shutdown_cancels_queued_calls(void** state) {
  (void)state;
  gate_t g;
  weft_config_t cfg = {.workers = 2, .blocking_max_threads = 1};
  weft_runtime_t* rt;
  weft_future_t* f[3];
  gate_init(&g);
  weft_test_reset_failures();
  WEFT_ASSERT_OK(weft_runtime_new(&cfg, &rt));
  for (int i = 0; i < 3; i++)
    WEFT_ASSERT_OK(weft_submit_blocking(rt, call_gated, &g, &f[i]));
  while (sem_wait(&g.started) != 0) {
  }
  WEFT_ASSERT_OK(weft_future_add_callback(f[1], post_gate, &g.gate));
  WEFT_ASSERT_OK(weft_runtime_free(rt));
  void* res = NULL;
  WEFT_ASSERT_OK(weft_future_result(f[0], &res));
  assert_ptr_equal(res, &g);
  WEFT_ASSERT_ERR(weft_future_result(f[1], NULL), WEFT_ECANCELED);
  WEFT_ASSERT_ERR(weft_future_result(f[2], NULL), WEFT_ECANCELED);
  assert_int_equal(atomic_load(&g.ran), 1);
  for (int i = 0; i < 3; i++)
    weft_future_release(f[i]);
  WEFT_ASSERT_NO_FAILURES();
  gate_destroy(&g);
}

/* ---- Bad arguments and closed runtimes ---------------------------------- */

static atomic_int closed_status;

/* Detached, sleeping until the shutdown cancels it; then submits. */
static int task_submit_on_shutdown(void* arg, void** result) {
  weft_future_t* f = NULL;
  (void)result;
  sem_post(arg); /* started: the shutdown will cancel, not skip, it */
  int err = weft_sleep_ms(60 * 60 * 1000);
  WEFT_EXPECT_ERR(err, WEFT_ECANCELED);
  /* As every await during the shutdown, a blocking call is cancelled. */
  WEFT_EXPECT_ERR(weft_run_blocking(call_ret_arg, NULL, NULL), WEFT_ECANCELED);
  int st = weft_submit_blocking(NULL, call_ret_arg, NULL, &f);
  /* relaxed: read by the test thread after weft_runtime_free joined every
   * worker. */
  atomic_store_explicit(&closed_status, st, memory_order_relaxed);
  weft_future_release(f);
  return err;
}

typedef struct {
  sem_t ran;
  int status; /* written before `ran` is posted, read after */
} outside_t;

static void on_worker_outside_task(void* arg) {
  outside_t* o = arg;
  o->status = weft_run_blocking(call_ret_arg, NULL, NULL);
  sem_post(&o->ran);
}

static void test_blocking_bad_arguments(void** state) {
  (void)state;
  weft_future_t* f = NULL;
  weft_blocking_stats_t s;
  weft_runtime_t* rt;
  outside_t outside = {.status = 1};
  weft_config_t cfg = {.workers = 1};
  weft_test_reset_failures();
  /* Outside any runtime, rt NULL means nothing. */
  WEFT_ASSERT_ERR(weft_submit_blocking(NULL, call_ret_arg, NULL, &f),
                  WEFT_EINVAL);
  assert_null(f);
  WEFT_ASSERT_ERR(weft_run_blocking(NULL, NULL, NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_blocking_stats(NULL, &s), WEFT_EINVAL);
  WEFT_ASSERT_OK(weft_runtime_new(&cfg, &rt));
  WEFT_ASSERT_ERR(weft_submit_blocking(rt, NULL, NULL, &f), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_submit_blocking(rt, call_ret_arg, NULL, NULL),
                  WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_blocking_stats(rt, NULL), WEFT_EINVAL);
  assert_null(f);
  /* A worker outside any task may not wait: EPERM, and nothing queued. */
  sem_init(&outside.ran, 0, 0);
  WEFT_ASSERT_OK(weft_call_soon(rt, on_worker_outside_task, &outside));
  while (sem_wait(&outside.ran) != 0) {
  }
  WEFT_ASSERT_ERR(outside.status, WEFT_EPERM);
  WEFT_ASSERT_OK(
      weft_spawn(rt, task_submit_on_shutdown, &outside.ran, NULL, NULL));
  while (sem_wait(&outside.ran) != 0) {
  }
  sem_destroy(&outside.ran);
  atomic_store(&closed_status, 1);
  WEFT_ASSERT_OK(weft_runtime_free(rt));
  assert_int_equal(atomic_load(&closed_status), WEFT_ECLOSED);
  WEFT_ASSERT_NO_FAILURES();
}

/* ---- A bounded shutdown leaves a stuck call behind ---------------------- */

static int read_pipe(void* arg, void** result) {
  int* fds = arg;
  char c;
  (void)result;
  /* Blocks until the test writes: a call the runtime cannot interrupt. */
  return read(fds[0], &c, 1) == 1 ? 0 : WEFT_EINVAL;
}

/* Threads in the process, from /proc. */
static int thread_count(void) {
  int n = 0;
  DIR* d = opendir("/proc/self/task");
  struct dirent* e;
  if (d == NULL)
    return -1;
  while ((e = readdir(d)) != NULL)
    n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

static void test_shutdown_bounds_the_wait_for_running_calls(void** state) {
  (void)state;
  weft_runtime_t* rt;
  weft_future_t* f;
  int fds[2];
  weft_config_t cfg = {.workers = 1};
  assert_int_equal(pipe(fds), 0);
  int before = thread_count();
  WEFT_ASSERT_OK(weft_runtime_new(&cfg, &rt));
  WEFT_ASSERT_OK(weft_submit_blocking(rt, read_pipe, fds, &f));
  /* Wait until the call runs (its thread is in read()). */
  weft_blocking_stats_t st;
  do {
    sched_yield();
    WEFT_ASSERT_OK(weft_blocking_stats(rt, &st));
  } while (st.busy == 0);
  /* A zero grace: the call still blocks, so the runtime goes without it. */
  WEFT_ASSERT_ERR(weft_runtime_shutdown(rt, 0), WEFT_ETIMEDOUT);
  /* The call goes on: let it finish; its future completes, and its thread
   * frees the executor and leaves. */
  assert_int_equal(write(fds[1], "x", 1), 1);
  WEFT_ASSERT_OK(weft_future_await(f, NULL));
  weft_future_release(f);
  while (thread_count() > before)
    sched_yield();
  close(fds[0]);
  close(fds[1]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_blocking_returns_result_and_status),
      cmocka_unit_test(test_shutdown_bounds_the_wait_for_running_calls),
      cmocka_unit_test(test_blocking_submit_gives_a_future),
      cmocka_unit_test(test_blocking_64_calls_run_at_once),
      cmocka_unit_test(test_blocking_pool_never_exceeds_max_threads),
      cmocka_unit_test(test_blocking_idle_threads_leave_after_keepalive),
      cmocka_unit_test(test_blocking_stats_show_busy_and_queued),
      cmocka_unit_test(test_blocking_cancel_awaiting_task),
      cmocka_unit_test(test_blocking_cancelled_future_skips_queued_call),
      cmocka_unit_test(test_blocking_from_plain_thread),
      cmocka_unit_test(test_blocking_shutdown_cancels_queued_calls),
      cmocka_unit_test(test_blocking_bad_arguments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
