/* Shared test helpers: see helpers.h. */
#include "helpers.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Failures noted by WEFT_EXPECT* on any thread since the last reset. */
static atomic_int failures;

void weft_test_note_failure(const char* file, int line, const char* what) {
  fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
  fflush(stderr);
  atomic_fetch_add(&failures, 1);
}

int weft_test_expect_eq(const char* file, int line, const char* a,
                        const char* b, long long va, long long vb) {
  char msg[512];
  if (va == vb)
    return 1;
  snprintf(msg, sizeof(msg), "%s == %s (%lld != %lld)", a, b, va, vb);
  weft_test_note_failure(file, line, msg);
  return 0;
}

int weft_test_expect_err(const char* file, int line, const char* expr, int got,
                         int want) {
  char msg[512];
  if (got == want)
    return 1;
  snprintf(msg, sizeof(msg), "%s returned %d (%s), expected %d (%s)", expr, got,
           weft_err_name(got), want, weft_err_name(want));
  weft_test_note_failure(file, line, msg);
  return 0;
}

int weft_test_failures(void) {
  return atomic_load(&failures);
}

void weft_test_reset_failures(void) {
  atomic_store(&failures, 0);
}

long weft_test_gettid(void) {
  return (long)syscall(SYS_gettid);
}

void weft_test_assert_no_live_tasks(weft_runtime_t* rt) {
  uint64_t give_up = weft_now_ns() + 10ull * 1000 * 1000 * 1000;
  size_t n;
  while ((n = weft_task_count(rt)) != 0 && weft_now_ns() < give_up)
    sched_yield();
  if (n != 0) {
    print_error("weft_task_count() is %zu after every task was awaited\n", n);
    fail();
  }
}

static int run_main(unsigned workers, weft_task_fn fn, void* arg, void** result,
                    int check_live) {
  /* WEFT_CONFIG_ENV: WEFT_SEED=N in the environment may run any test
   * deterministically, and WEFT_DEBUG=1 in debug mode. */
  weft_config_t cfg = {.workers = workers, .flags = WEFT_CONFIG_ENV};
  weft_spawn_opts_t opts = {.name = "main", .stack_size = 0};
  weft_runtime_t* rt = NULL;
  weft_task_t* t = NULL;
  weft_test_reset_failures();
  WEFT_ASSERT_OK(weft_runtime_new(&cfg, &rt));
  /* WEFT_SEED (deterministic mode, one worker) may run any test. */
  assert_int_equal(weft_runtime_workers(rt),
                   weft_runtime_seed(rt) != 0 ? 1 : workers);
  WEFT_ASSERT_OK(weft_spawn(rt, fn, arg, &opts, &t));
  int status = weft_await(t, result);
  assert_true(weft_task_done(t));
  weft_task_release(t);
  if (check_live)
    weft_test_assert_no_live_tasks(rt);
  WEFT_ASSERT_OK(weft_runtime_free(rt));
  WEFT_ASSERT_NO_FAILURES();
  return status;
}

int weft_test_run(unsigned workers, weft_task_fn fn, void* arg, void** result) {
  return run_main(workers, fn, arg, result, 1);
}

int weft_test_run_detached(unsigned workers, weft_task_fn fn, void* arg,
                           void** result) {
  return run_main(workers, fn, arg, result, 0);
}

int weft_test_ret_arg(void* arg, void** result) {
  *result = arg;
  return 0;
}

int weft_test_ret_status(void* arg, void** result) {
  (void)result;
  return (int)(intptr_t)arg;
}

int weft_test_sleep_hour(void* arg, void** result) {
  (void)arg;
  (void)result;
  return weft_sleep_ms(3600 * 1000);
}

weft_task_t* weft_test_spawn(weft_task_fn fn, void* arg) {
  weft_task_t* t = NULL;
  WEFT_EXPECT_OK(weft_spawn(NULL, fn, arg, NULL, &t));
  return t;
}

void weft_test_until_parked(weft_task_t* t) {
  WEFT_EXPECT_OK(WEFT_YIELD_UNTIL(weft_task_state(t) == WEFT_TASK_SUSPENDED));
}

int weft_test_finish(weft_task_t* t) {
  int rc = weft_await(t, NULL);
  weft_task_release(t);
  return rc;
}
