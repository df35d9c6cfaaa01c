/* Errors: every code's name and message, codes from libuv, and the
 * argument and context errors of the task API (NULLs, out-of-range sizes,
 * calls from the wrong place). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <uv.h>

#include "helpers.h"

/* ---- Argument and context errors -------------------------------------- */

static int never_runs(void* arg, void** result) {
  (void)result;
  *(int*)arg = 1;
  return 0;
}

static int count_cb(weft_task_t* t, void* arg) {
  (void)t;
  ++*(int*)arg;
  return 0;
}

static void test_error_argument_errors(void** state) {
  weft_config_t big = {.workers = 1, .stack_size = ((size_t)1 << 30) + 1};
  weft_config_t cfg = {.workers = 1, .stack_size = 0};
  weft_spawn_opts_t huge = {.name = "huge", .stack_size = big.stack_size};
  weft_runtime_t* rt = (weft_runtime_t*)&big;
  weft_task_t* t = NULL;
  int ran = 0;
  (void)state;
  WEFT_ASSERT_ERR(weft_runtime_new(NULL, NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_runtime_new(&big, &rt), WEFT_EINVAL);
  assert_ptr_equal(rt, (weft_runtime_t*)&big); /* untouched on error */
  WEFT_ASSERT_OK(weft_runtime_free(NULL));
  assert_int_equal(weft_runtime_workers(NULL), 0);
  assert_int_equal(weft_task_count(NULL), 0);
  WEFT_ASSERT_ERR(weft_spawn(NULL, never_runs, &ran, NULL, &t), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_await(NULL, NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_yield(), WEFT_ENOTTASK);
  WEFT_ASSERT_ERR(weft_sleep_ms(1), WEFT_ENOTTASK);
  WEFT_ASSERT_ERR(weft_sleep_ns(1), WEFT_ENOTTASK);
  WEFT_ASSERT_ERR(weft_cancel(NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_task_result(NULL, NULL), WEFT_EINVAL);
  assert_string_equal(weft_task_name(NULL), "");
  assert_int_equal(weft_task_id(NULL), 0);
  assert_int_equal(weft_task_state(NULL), 0);
  assert_int_equal(weft_task_done(NULL), 0);
  assert_int_equal(weft_task_cancelled(NULL), 0);

  WEFT_ASSERT_OK(weft_runtime_new(&cfg, &rt));
  WEFT_ASSERT_ERR(weft_spawn(rt, NULL, NULL, NULL, &t), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_spawn(rt, never_runs, &ran, &huge, &t), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_task_visit(NULL, count_cb, &ran), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_task_visit(rt, NULL, NULL), WEFT_EINVAL);
  assert_null(t);
  WEFT_ASSERT_OK(weft_runtime_free(rt));
  assert_int_equal(ran, 0);
}

static int await_parent(void* arg, void** result) {
  (void)result;
  return weft_await(arg, NULL);
}

static int main_context_errors(void* arg, void** result) {
  weft_task_t* self = weft_current_task();
  weft_task_t* t;
  (void)arg;
  (void)result;
  WEFT_EXPECT_ERR(weft_await(self, NULL), WEFT_EDEADLK);
  WEFT_EXPECT_ERR(weft_runtime_free(weft_current_runtime()), WEFT_EPERM);
  /* A child run inline on our stack (one worker, awaited at once) must not
   * be able to await us either: it would wait for itself. */
  WEFT_EXPECT_OK(weft_spawn(NULL, await_parent, self, NULL, &t));
  WEFT_EXPECT_ERR(weft_await(t, NULL), WEFT_EDEADLK);
  weft_task_release(t);
  return 0;
}

static void test_error_context_errors_inside_task(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_context_errors, NULL, NULL));
}

static void test_error_names_and_messages(void** state) {
  (void)state;
#define CHECK_CODE(name, value, msg)                                           \
  assert_int_equal(WEFT_##name, value);                                        \
  assert_string_equal(weft_err_name(WEFT_##name), #name);                      \
  assert_string_equal(weft_strerror(WEFT_##name), msg);
  WEFT_ERRNO_MAP(CHECK_CODE)
#undef CHECK_CODE
  assert_int_equal(WEFT_EINVAL, UV_EINVAL);
  assert_int_equal(WEFT_ECANCELED, UV_ECANCELED);
  assert_non_null(weft_err_name(0));
  assert_true(weft_err_name(0)[0] != '\0');
  assert_non_null(weft_strerror(0));
  assert_true(weft_strerror(0)[0] != '\0');
  assert_string_equal(weft_err_name(UV_ECONNRESET), "ECONNRESET");
  assert_string_equal(weft_strerror(UV_ECONNRESET), uv_strerror(UV_ECONNRESET));
  assert_string_equal(weft_err_name(UV_EOF), "EOF");
  char v[32];
  snprintf(v, sizeof(v), "%d.%d.%d", WEFT_VERSION_MAJOR, WEFT_VERSION_MINOR,
           WEFT_VERSION_PATCH);
  assert_string_equal(weft_version(), v);
}

/* A code neither weft nor libuv knows still gets a name and a message,
 * and asking for them leaks nothing (libuv's uv_err_name/uv_strerror
 * malloc a string for unknown codes; the _r variants do not). */
static void test_error_unknown_code(void** state) {
  (void)state;
  for (int i = 0; i < 2; i++) {
    const char* name = weft_err_name(-123456);
    const char* msg = weft_strerror(-123456);
    assert_non_null(name);
    assert_non_null(msg);
    assert_true(name[0] != '\0' && msg[0] != '\0');
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_error_argument_errors),
      cmocka_unit_test(test_error_context_errors_inside_task),
      cmocka_unit_test(test_error_names_and_messages),
      cmocka_unit_test(test_error_unknown_code),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
