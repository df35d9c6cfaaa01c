/* The runtime as a whole: weft_run, spawning and awaiting from threads
 * outside the runtime, and the views over all tasks (weft_task_count,
 * weft_task_visit). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "helpers.h"

static int count_cb(weft_task_t* t, void* arg) {
  (void)t;
  ++*(int*)arg;
  return 0;
}

static int main_run_inside(void* arg, void** result) {
  (void)arg;
  (void)result;
  void* r = NULL;
  WEFT_EXPECT_ERR(weft_run(weft_test_ret_arg, NULL, NULL, &r), WEFT_EPERM);
  return 0;
}

static void test_runtime_run_returns_main_status_and_result(void** state) {
  weft_config_t cfg = {.workers = 2, .stack_size = 0};
  void* r = NULL;
  (void)state;
  WEFT_ASSERT_OK(weft_run(weft_test_ret_arg, (void*)99, &cfg, &r));
  assert_ptr_equal(r, (void*)99);
  WEFT_ASSERT_OK(
      weft_run(weft_test_ret_arg, (void*)5, NULL, &r)); /* defaults */
  assert_ptr_equal(r, (void*)5);
  WEFT_ASSERT_ERR(weft_run(weft_test_ret_status, (void*)(intptr_t)-EIO, &cfg,
                           NULL),
                  -EIO);
  WEFT_ASSERT_ERR(weft_run(NULL, NULL, &cfg, NULL), WEFT_EINVAL);
  weft_test_reset_failures();
  WEFT_ASSERT_OK(weft_run(main_run_inside, NULL, &cfg, NULL));
  WEFT_ASSERT_NO_FAILURES();
}

/* ---- Foreign threads, count and visit --------------------------------- */

static int sleep_then_ret(void* arg, void** result) {
  int rc = weft_sleep_ms(20);
  *result = arg;
  return rc;
}

typedef struct {
  weft_runtime_t* rt;
  int base;
} foreign_t;

static void* foreign_main(void* arg) {
  foreign_t* f = arg;
  weft_task_t* t[50];
  for (int i = 0; i < 50; i++)
    WEFT_EXPECT_OK(weft_spawn(f->rt,
                              i % 10 == 0 ? sleep_then_ret : weft_test_ret_arg,
                              (void*)(intptr_t)(f->base + i), NULL, &t[i]));
  for (int i = 0; i < 50; i++) {
    void* r = NULL;
    WEFT_EXPECT_OK(weft_await(t[i], &r)); /* blocks this thread */
    WEFT_EXPECT(r == (void*)(intptr_t)(f->base + i));
    WEFT_EXPECT(weft_task_done(t[i]));
    weft_task_release(t[i]);
  }
  return NULL;
}

static void test_runtime_spawn_and_await_from_foreign_threads(void** state) {
  weft_config_t cfg = {.workers = 2, .stack_size = 0};
  foreign_t f[3];
  pthread_t th[3];
  weft_runtime_t* rt;
  (void)state;
  weft_test_reset_failures();
  WEFT_ASSERT_OK(weft_runtime_new(&cfg, &rt));
  for (int i = 0; i < 3; i++) {
    f[i] = (foreign_t){rt, 1000 * (i + 1)};
    assert_int_equal(pthread_create(&th[i], NULL, foreign_main, &f[i]), 0);
  }
  for (int i = 0; i < 3; i++)
    assert_int_equal(pthread_join(th[i], NULL), 0);
  weft_test_assert_no_live_tasks(rt);
  WEFT_ASSERT_OK(weft_runtime_free(rt));
  WEFT_ASSERT_NO_FAILURES();
}

enum { kSleepers = 10 };

static int find_sleepers(weft_task_t* t, void* arg) {
  unsigned* mask = arg;
  int i;
  if (sscanf(weft_task_name(t), "sleeper-%d", &i) == 1 && i >= 0 &&
      i < kSleepers)
    *mask |= 1u << i;
  return 0;
}

static int cancel_sleepers(weft_task_t* t, void* arg) {
  (void)arg;
  if (strncmp(weft_task_name(t), "sleeper-", 8) == 0)
    WEFT_EXPECT_OK(weft_cancel(t));
  return 0;
}

static int stop_at_first(weft_task_t* t, void* arg) {
  (void)t;
  ++*(int*)arg;
  return 7;
}

static void test_runtime_task_count_and_visit_see_live_tasks(void** state) {
  weft_config_t cfg = {.workers = 2, .stack_size = 0};
  weft_runtime_t* rt;
  weft_task_t* t[kSleepers];
  char name[32];
  unsigned mask = 0;
  int calls = 0;
  (void)state;
  weft_test_reset_failures();
  WEFT_ASSERT_OK(weft_runtime_new(&cfg, &rt));
  assert_int_equal(weft_task_count(rt), 0);
  for (int i = 0; i < kSleepers; i++) {
    weft_spawn_opts_t opts = {.name = name, .stack_size = 0};
    snprintf(name, sizeof(name), "sleeper-%d", i);
    WEFT_ASSERT_OK(weft_spawn(rt, weft_test_sleep_hour, NULL, &opts, &t[i]));
  }
  assert_true(weft_task_count(rt) >= kSleepers);
  WEFT_ASSERT_OK(weft_task_visit(rt, find_sleepers, &mask));
  assert_int_equal(mask, (1u << kSleepers) - 1);
  assert_int_equal(weft_task_visit(rt, stop_at_first, &calls), 7);
  assert_int_equal(calls, 1);
  WEFT_ASSERT_OK(weft_task_visit(rt, cancel_sleepers, NULL));
  for (int i = 0; i < kSleepers; i++) {
    WEFT_ASSERT_ERR(weft_await(t[i], NULL), WEFT_ECANCELED);
    assert_true(weft_task_cancelled(t[i]));
    weft_task_release(t[i]);
  }
  weft_test_assert_no_live_tasks(rt);
  calls = 0;
  WEFT_ASSERT_OK(weft_task_visit(rt, count_cb, &calls));
  assert_int_equal(calls, 0);
  WEFT_ASSERT_OK(weft_runtime_free(rt));
  WEFT_ASSERT_NO_FAILURES();
}

/* weft.h: weft_task_count() counts tasks "spawned and not yet finished". A
 * task whose await has returned has finished, so the count must not include
 * it any more. */
static void test_runtime_task_count_zero_once_awaited(void** state) {
  weft_config_t cfg = {.workers = 2, .stack_size = 0};
  weft_runtime_t* rt;
  int stale = 0;
  (void)state;
  WEFT_ASSERT_OK(weft_runtime_new(&cfg, &rt));
  for (int i = 0; i < 10000; i++) {
    weft_task_t* t;
    WEFT_ASSERT_OK(weft_spawn(rt, weft_test_ret_arg, NULL, NULL, &t));
    WEFT_ASSERT_OK(weft_await(t, NULL));
    stale += weft_task_count(rt) != 0;
    weft_task_release(t);
  }
  weft_test_assert_no_live_tasks(rt);
  WEFT_ASSERT_OK(weft_runtime_free(rt));
  if (stale != 0)
    fail_msg("weft_task_count() still counted an awaited task %d times "
             "in 10000",
             stale);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_runtime_run_returns_main_status_and_result),
      cmocka_unit_test(test_runtime_spawn_and_await_from_foreign_threads),
      cmocka_unit_test(test_runtime_task_count_and_visit_see_live_tasks),
      cmocka_unit_test(test_runtime_task_count_zero_once_awaited),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
