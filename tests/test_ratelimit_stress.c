/* The rate limiter across 4 workers with random cancellations: no window
 * of a period ever holds more than N grants (checked so that a slow
 * machine can hide a violation but never invent one), every task that is
 * not cancelled gets all its grants (a lost wake-up would hang), and a
 * cancelled waiter takes no grant. Seeded, so the cancellations repeat. */
#include <pthread.h>
#include <stdlib.h>

#include "helpers.h"

enum { kMax = 8, kPeriodMs = 40, kTasks = 120, kEach = 2 };
#define NS_PER_MS 1000000ull

typedef struct {
  uint64_t before;
  uint64_t after;
} grant_t;

typedef struct {
  weft_ratelimit_t* rl;
  pthread_mutex_t mu;
  grant_t grants[kTasks * kEach];
  size_t n;
} ctx_t;

static int taker(void* arg, void** result) {
  ctx_t* c = arg;
  int got = 0;
  for (int i = 0; i < kEach; i++) {
    uint64_t before = weft_now_ns();
    int rc = weft_ratelimit_acquire(c->rl);
    if (rc != 0) {
      *result = (void*)(intptr_t)got;
      return rc;
    }
    uint64_t after = weft_now_ns();
    pthread_mutex_lock(&c->mu);
    c->grants[c->n++] = (grant_t){before, after};
    pthread_mutex_unlock(&c->mu);
    got++;
  }
  *result = (void*)(intptr_t)got;
  return 0;
}

static int cmp_after(const void* a, const void* b) {
  uint64_t x = ((const grant_t*)a)->after, y = ((const grant_t*)b)->after;
  return (x > y) - (x < y);
}

/* A definite violation: kMax + 1 grants all inside [min before, after]
 * shorter than a period. */
static void check_windows(ctx_t* c) {
  qsort(c->grants, c->n, sizeof(c->grants[0]), cmp_after);
  for (size_t i = 0; i + kMax < c->n; i++) {
    uint64_t first = c->grants[i].before;
    for (size_t k = i; k <= i + kMax; k++)
      if (c->grants[k].before < first)
        first = c->grants[k].before;
    if (!WEFT_EXPECT(c->grants[i + kMax].after - first >=
                     kPeriodMs * NS_PER_MS))
      return;
  }
}

static int main_stress(void* arg, void** result) {
  static ctx_t c = {.mu = PTHREAD_MUTEX_INITIALIZER};
  weft_task_t* t[kTasks];
  size_t granted = 0;
  (void)arg;
  (void)result;
  c.n = 0;
  srand(7);
  WEFT_EXPECT_OK(weft_ratelimit_new(kMax, kPeriodMs, &c.rl));
  for (int i = 0; i < kTasks; i++)
    WEFT_EXPECT_OK(weft_spawn(NULL, taker, &c, NULL, &t[i]));
  /* Cancel about a sixth of them, while they wait or before they start. */
  for (int i = 0; i < kTasks; i++)
    if (rand() % 6 == 0)
      weft_cancel(t[i]);
  for (int i = 0; i < kTasks; i++) {
    void* got = NULL;
    int st = weft_await(t[i], &got);
    if (st == 0)
      WEFT_EXPECT_EQ((intptr_t)got, kEach);
    else
      WEFT_EXPECT_ERR(st, WEFT_ECANCELED);
    if (st == 0)
      granted += kEach;
    weft_task_release(t[i]);
  }
  /* Grants recorded = grants of finished tasks + partial ones of
   * cancelled tasks: never fewer than the finished tasks' share. */
  WEFT_EXPECT(c.n >= granted);
  check_windows(&c);
  WEFT_EXPECT_OK(weft_ratelimit_free(c.rl));
  return 0;
}

static void test_ratelimit_stress_four_workers(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(4, main_stress, NULL, NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ratelimit_stress_four_workers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
