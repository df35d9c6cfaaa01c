/* weft_ratelimit_t: argument errors, the sliding-window bound (checked on
 * the recorded acquisition times, not on speed), FIFO order among waiters,
 * and cancelled waiters (direct, and by a timeout scope) that take nothing
 * and let the next one go. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "helpers.h"

#define NS_PER_MS 1000000ull

static void test_errors(void** state) {
  weft_ratelimit_t* rl;
  (void)state;
  WEFT_ASSERT_ERR(weft_ratelimit_new(1, 10, NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_ratelimit_new(0, 10, &rl), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_ratelimit_new(1, 0, &rl), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_ratelimit_new(SIZE_MAX, 10, &rl), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_ratelimit_acquire(NULL), WEFT_EINVAL);
  WEFT_ASSERT_OK(weft_ratelimit_free(NULL));
  WEFT_ASSERT_OK(weft_ratelimit_new(1, 10, &rl));
  /* The head waiter sleeps on the timers: tasks only. */
  WEFT_ASSERT_ERR(weft_ratelimit_acquire(rl), WEFT_ENOTTASK);
  WEFT_ASSERT_OK(weft_ratelimit_free(rl));
}

/* --- The window bound ----------------------------------------------------*/

#define W_MAX 3
#define W_PERIOD_MS 20
#define W_TASKS 8
#define W_EACH 3

/* One acquisition: the limiter granted it somewhere in [before, after]. */
typedef struct {
  uint64_t before;
  uint64_t after;
} grant_t;

typedef struct {
  weft_ratelimit_t* rl;
  pthread_mutex_t mu;
  grant_t grants[W_TASKS * W_EACH];
  size_t n;
} window_ctx_t;

static int window_taker(void* arg, void** result) {
  window_ctx_t* c = arg;
  (void)result;
  for (int i = 0; i < W_EACH; i++) {
    uint64_t before = weft_now_ns();
    int rc = weft_ratelimit_acquire(c->rl);
    if (rc != 0)
      return rc;
    uint64_t after = weft_now_ns();
    pthread_mutex_lock(&c->mu);
    c->grants[c->n++] = (grant_t){before, after};
    pthread_mutex_unlock(&c->mu);
  }
  return 0;
}

static int cmp_after(const void* a, const void* b) {
  uint64_t x = ((const grant_t*)a)->after, y = ((const grant_t*)b)->after;
  return (x > y) - (x < y);
}

static int main_window(void* arg, void** result) {
  window_ctx_t c = {.mu = PTHREAD_MUTEX_INITIALIZER};
  weft_task_t* t[W_TASKS];
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_ratelimit_new(W_MAX, W_PERIOD_MS, &c.rl));
  for (int i = 0; i < W_TASKS; i++)
    t[i] = weft_test_spawn(window_taker, &c);
  for (int i = 0; i < W_TASKS; i++)
    WEFT_EXPECT_OK(weft_test_finish(t[i]));
  WEFT_EXPECT_EQ(c.n, W_TASKS * W_EACH);
  qsort(c.grants, c.n, sizeof(c.grants[0]), cmp_after);
  /* No W_MAX + 1 grants within one period. Each grant happened between
   * its `before` and `after`, so W_MAX + 1 acquisitions whose whole
   * [earliest before, latest after] is shorter than a period were surely
   * granted within one: that is a violation however slow the machine is
   * (a slow machine can only hide one, never invent one). A limiter that
   * let too many through would show such a window near 0 ms. */
  for (size_t i = 0; i + W_MAX < c.n; i++) {
    uint64_t first = c.grants[i].before;
    for (size_t k = i; k <= i + W_MAX; k++)
      first = c.grants[k].before < first ? c.grants[k].before : first;
    uint64_t span = c.grants[i + W_MAX].after - first;
    if (!WEFT_EXPECT(span >= W_PERIOD_MS * NS_PER_MS))
      break;
  }
  WEFT_EXPECT_OK(weft_ratelimit_free(c.rl));
  return 0;
}

static void test_window_never_exceeded(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_window, NULL, NULL));
  WEFT_ASSERT_OK(weft_test_run(3, main_window, NULL, NULL));
}

/* --- FIFO and cancellation ----------------------------------------------*/

typedef struct {
  weft_ratelimit_t* rl;
  pthread_mutex_t mu; /* takers on several workers record under it */
  int order[8];
  int n;
} fifo_ctx_t;

typedef struct {
  fifo_ctx_t* ctx;
  int id;
} fifo_arg_t;

static int fifo_taker(void* arg, void** result) {
  fifo_arg_t* a = arg;
  (void)result;
  int rc = weft_ratelimit_acquire(a->ctx->rl);
  if (rc != 0)
    return rc;
  pthread_mutex_lock(&a->ctx->mu);
  a->ctx->order[a->ctx->n++] = a->id;
  pthread_mutex_unlock(&a->ctx->mu);
  return 0;
}

/* One slot per 10 ms, taken by main: waiters 0..3 queue in that order and
 * are admitted in that order, one per period. */
static int main_fifo(void* arg, void** result) {
  fifo_ctx_t ctx = {.mu = PTHREAD_MUTEX_INITIALIZER};
  fifo_arg_t args[4];
  weft_task_t* t[4];
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_ratelimit_new(1, 10, &ctx.rl));
  WEFT_EXPECT_OK(weft_ratelimit_acquire(ctx.rl));
  for (int i = 0; i < 4; i++) {
    args[i] = (fifo_arg_t){&ctx, i};
    t[i] = weft_test_spawn(fifo_taker, &args[i]);
    weft_test_until_parked(t[i]);
  }
  WEFT_EXPECT_ERR(weft_ratelimit_free(ctx.rl), WEFT_EBUSY);
  for (int i = 0; i < 4; i++)
    WEFT_EXPECT_OK(weft_test_finish(t[i]));
  WEFT_EXPECT_EQ(ctx.n, 4);
  for (int i = 0; i < 4; i++)
    WEFT_EXPECT_EQ(ctx.order[i], i);
  WEFT_EXPECT_OK(weft_ratelimit_free(ctx.rl));
  return 0;
}

static void test_fifo_order(void** state) {
  (void)state;
  /* On the virtual clock: on a loaded machine the 10 ms could pass before
   * a waiter parks, which then takes its slot at once and is never seen
   * suspended (the test hung there under TSan). */
  for (uint64_t seed = 1; seed <= 4; seed++) {
    weft_config_t cfg = {.deterministic = 1, .seed = seed};
    WEFT_ASSERT_OK(weft_run(main_fifo, NULL, &cfg, NULL));
    WEFT_ASSERT_NO_FAILURES();
  }
}

/* One slot per 20 ms, taken by main. Waiter 0 is first in line (asleep on
 * the clock), 1 and 2 wait behind it. Cancelling 1 (not first) and then 0
 * (first) leaves 2 alone in line: it alone is admitted, and the limiter
 * is left with no waiter. */
static int main_cancel(void* arg, void** result) {
  fifo_ctx_t ctx = {.mu = PTHREAD_MUTEX_INITIALIZER};
  fifo_arg_t args[3];
  weft_task_t* t[3];
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_ratelimit_new(1, 20, &ctx.rl));
  WEFT_EXPECT_OK(weft_ratelimit_acquire(ctx.rl));
  for (int i = 0; i < 3; i++) {
    args[i] = (fifo_arg_t){&ctx, i};
    t[i] = weft_test_spawn(fifo_taker, &args[i]);
    weft_test_until_parked(t[i]);
  }
  WEFT_EXPECT_OK(weft_cancel(t[1]));
  WEFT_EXPECT_ERR(weft_test_finish(t[1]), WEFT_ECANCELED);
  WEFT_EXPECT_OK(weft_cancel(t[0]));
  WEFT_EXPECT_ERR(weft_test_finish(t[0]), WEFT_ECANCELED);
  WEFT_EXPECT_OK(weft_test_finish(t[2]));
  WEFT_EXPECT_EQ(ctx.n, 1);
  WEFT_EXPECT_EQ(ctx.order[0], 2);
  WEFT_EXPECT_OK(weft_ratelimit_free(ctx.rl));
  return 0;
}

static void test_cancelled_waiter_lets_next_go(void** state) {
  (void)state;
  /* On the virtual clock the 20 ms cannot pass while main is still
   * cancelling (a loaded machine made waiter 0 get its slot first). */
  for (uint64_t seed = 1; seed <= 4; seed++) {
    weft_config_t cfg = {.deterministic = 1, .seed = seed};
    WEFT_ASSERT_OK(weft_run(main_cancel, NULL, &cfg, NULL));
    WEFT_ASSERT_NO_FAILURES();
  }
}

static int timed_taker(void* arg, void** result) {
  weft_timeout_t* tm;
  (void)result;
  WEFT_EXPECT_OK(weft_timeout_enter(5, &tm));
  WEFT_EXPECT_ERR(weft_ratelimit_acquire(arg), WEFT_ECANCELED);
  WEFT_EXPECT_ERR(weft_timeout_exit(tm), WEFT_ETIMEDOUT);
  return 0;
}

/* A slot per hour, taken: a timeout scope bounds the wait, and the
 * limiter is left without waiters. */
static int main_timeout(void* arg, void** result) {
  weft_ratelimit_t* rl;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_ratelimit_new(1, 3600 * 1000, &rl));
  WEFT_EXPECT_OK(weft_ratelimit_acquire(rl));
  WEFT_EXPECT_OK(weft_test_finish(weft_test_spawn(timed_taker, rl)));
  WEFT_EXPECT_OK(weft_ratelimit_free(rl));
  return 0;
}

static void test_timeout_scope_bounds_wait(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_timeout, NULL, NULL));
}

/* --- As callers see it, on the virtual clock -----------------------------*/

/* Deterministic mode: time moves only when nothing can run, so what a
 * caller reads right after acquire returns is exactly when it returned.
 * Then the promise can be checked with no slack: among the return times,
 * any D_MAX + 1 consecutive ones span at least a period, and (the limiter
 * wastes nothing) grant k + D_MAX comes exactly one period after grant k.
 * Seeds vary the order the takers run in. Issue 16: seen from the callers,
 * 5 per 200 ms gave 6 within 199.9 ms. */
#define D_MAX 5
#define D_PERIOD_MS 200
#define D_TASKS 6
#define D_EACH 4

typedef struct {
  weft_ratelimit_t* rl;
  uint64_t seen[D_TASKS * D_EACH];
  size_t n;
} det_ctx_t;

static int det_taker(void* arg, void** result) {
  det_ctx_t* c = arg;
  (void)result;
  for (int i = 0; i < D_EACH; i++) {
    int rc = weft_ratelimit_acquire(c->rl);
    if (rc != 0)
      return rc;
    c->seen[c->n++] = weft_now_ns(); /* one worker: no lock needed */
    if (i % 2 == 0)
      WEFT_EXPECT_OK(weft_yield()); /* let others queue in between */
  }
  return 0;
}

static int main_det(void* arg, void** result) {
  det_ctx_t c = {0};
  weft_task_t* t[D_TASKS];
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_ratelimit_new(D_MAX, D_PERIOD_MS, &c.rl));
  for (int i = 0; i < D_TASKS; i++)
    t[i] = weft_test_spawn(det_taker, &c);
  for (int i = 0; i < D_TASKS; i++)
    WEFT_EXPECT_OK(weft_test_finish(t[i]));
  WEFT_EXPECT_EQ(c.n, D_TASKS * D_EACH);
  for (size_t i = 1; i < c.n; i++)
    WEFT_EXPECT(c.seen[i] >= c.seen[i - 1]);
  for (size_t i = 0; i + D_MAX < c.n; i++) {
    uint64_t span = c.seen[i + D_MAX] - c.seen[i];
    if (!WEFT_EXPECT_EQ(span, D_PERIOD_MS * NS_PER_MS))
      break;
  }
  WEFT_EXPECT_OK(weft_ratelimit_free(c.rl));
  return 0;
}

static void test_window_holds_as_callers_see_it(void** state) {
  (void)state;
  for (uint64_t seed = 1; seed <= 8; seed++) {
    weft_config_t cfg = {.deterministic = 1, .seed = seed};
    WEFT_ASSERT_OK(weft_run(main_det, NULL, &cfg, NULL));
    WEFT_ASSERT_NO_FAILURES();
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_window_never_exceeded),
      cmocka_unit_test(test_window_holds_as_callers_see_it),
      cmocka_unit_test(test_fifo_order),
      cmocka_unit_test(test_cancelled_waiter_lets_next_go),
      cmocka_unit_test(test_timeout_scope_bounds_wait),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
