/* Futures: completion exactly once, waiting from tasks and plain threads,
 * completion from a foreign thread, callbacks, cancellation of a waiter,
 * timeouts, task futures and weft_call_soon. */
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>

#include "helpers.h"

static void test_future_completes_exactly_once(void** state) {
  weft_future_t* f;
  void* r = NULL;
  (void)state;
  WEFT_ASSERT_OK(weft_future_new(&f));
  WEFT_ASSERT_ERR(weft_future_result(f, &r), WEFT_EAGAIN);
  assert_int_equal(weft_future_done(f), 0);
  WEFT_ASSERT_OK(weft_future_set_result(f, (void*)7));
  WEFT_ASSERT_ERR(weft_future_set_result(f, (void*)8), WEFT_EBUSY);
  WEFT_ASSERT_ERR(weft_future_set_error(f, WEFT_EINVAL), WEFT_EBUSY);
  WEFT_ASSERT_ERR(weft_future_cancel(f), WEFT_EBUSY);
  WEFT_ASSERT_OK(weft_future_result(f, &r));
  assert_ptr_equal(r, (void*)7);
  WEFT_ASSERT_OK(weft_future_await(f, &r)); /* done: no waiting */
  weft_future_release(f);
}

static void test_future_argument_errors(void** state) {
  weft_future_t* f;
  (void)state;
  WEFT_ASSERT_ERR(weft_future_new(NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_future_set_result(NULL, NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_future_await(NULL, NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_future_add_callback(NULL, NULL, NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_task_future(NULL, &f), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_call_soon(NULL, NULL, NULL), WEFT_EINVAL);
  WEFT_ASSERT_OK(weft_future_new(&f));
  WEFT_ASSERT_ERR(weft_future_set_error(f, 5), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_future_set_error(f, 0), WEFT_EINVAL);
  assert_int_equal(weft_future_done(f), 0);
  weft_future_release(f);
  weft_future_release(NULL);
}

static int await_future(void* f, void** result) {
  return weft_future_await(f, result);
}

/* A thread the runtime does not know completes the future. */
static void* foreign_completer(void* arg) {
  weft_future_set_result(arg, (void*)42);
  return NULL;
}

static int main_await_foreign(void* arg, void** result) {
  weft_future_t* f;
  pthread_t th;
  void* r = NULL;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_future_new(&f));
  WEFT_EXPECT_EQ(pthread_create(&th, NULL, foreign_completer, f), 0);
  WEFT_EXPECT_OK(weft_future_await(f, &r));
  WEFT_EXPECT_EQ((intptr_t)r, 42);
  pthread_join(th, NULL);
  weft_future_release(f);
  return 0;
}

static void test_future_completed_from_foreign_thread(void** state) {
  (void)state;
  for (int i = 0; i < 200; i++)
    WEFT_ASSERT_OK(weft_test_run(2, main_await_foreign, NULL, NULL));
}

static int set_error_later(void* arg, void** result) {
  (void)result;
  WEFT_EXPECT_OK(weft_yield());
  return weft_future_set_error(arg, WEFT_ETIMEDOUT);
}

static void on_done(weft_future_t* f, void* arg) {
  /* relaxed: read on the test thread after the runtime is freed. */
  atomic_fetch_add_explicit((atomic_int*)arg, 1, memory_order_relaxed);
  WEFT_EXPECT(weft_future_done(f));
}

/* Many tasks await one future; a task completes it with an error; every
 * waiter and every callback sees it, once. */
static int main_many_waiters(void* arg, void** result) {
  atomic_int* calls = arg;
  weft_future_t* f;
  weft_task_t* waiters[32];
  weft_task_t* setter;
  (void)result;
  WEFT_EXPECT_OK(weft_future_new(&f));
  for (int i = 0; i < 3; i++)
    WEFT_EXPECT_OK(weft_future_add_callback(f, on_done, calls));
  for (int i = 0; i < 32; i++)
    WEFT_EXPECT_OK(weft_spawn(NULL, await_future, f, NULL, &waiters[i]));
  WEFT_EXPECT_OK(weft_spawn(NULL, set_error_later, f, NULL, &setter));
  for (int i = 0; i < 32; i++) {
    WEFT_EXPECT_ERR(weft_await(waiters[i], NULL), WEFT_ETIMEDOUT);
    weft_task_release(waiters[i]);
  }
  WEFT_EXPECT_OK(weft_await(setter, NULL));
  weft_task_release(setter);
  /* Registered after completion: runs at once, here. */
  WEFT_EXPECT_OK(weft_future_add_callback(f, on_done, calls));
  weft_future_release(f);
  return 0;
}

static void test_future_many_waiters_and_callbacks(void** state) {
  atomic_int calls;
  (void)state;
  atomic_init(&calls, 0);
  WEFT_ASSERT_OK(weft_test_run(4, main_many_waiters, &calls, NULL));
  assert_int_equal(atomic_load(&calls), 4);
}

/* Cancelling a task that awaits a future withdraws only its wait. */
static int main_cancel_waiter(void* arg, void** result) {
  weft_future_t* f;
  weft_task_t *a, *b;
  void* r = NULL;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_future_new(&f));
  WEFT_EXPECT_OK(weft_spawn(NULL, await_future, f, NULL, &a));
  WEFT_EXPECT_OK(weft_spawn(NULL, await_future, f, NULL, &b));
  WEFT_EXPECT_EQ(WEFT_YIELD_UNTIL(weft_task_state(a) == WEFT_TASK_SUSPENDED &&
                                  weft_task_state(b) == WEFT_TASK_SUSPENDED),
                 0);
  WEFT_EXPECT_OK(weft_cancel(a));
  WEFT_EXPECT_ERR(weft_await(a, NULL), WEFT_ECANCELED);
  WEFT_EXPECT_EQ(weft_future_done(f), 0); /* the future is untouched */
  WEFT_EXPECT_OK(weft_future_set_result(f, (void*)5));
  WEFT_EXPECT_OK(weft_await(b, &r));
  WEFT_EXPECT_EQ((intptr_t)r, 5);
  weft_task_release(a);
  weft_task_release(b);
  weft_future_release(f);
  return 0;
}

static void test_future_cancel_withdraws_only_that_waiter(void** state) {
  (void)state;
  for (int i = 0; i < 50; i++) {
    WEFT_ASSERT_OK(weft_test_run(1, main_cancel_waiter, NULL, NULL));
    WEFT_ASSERT_OK(weft_test_run(2, main_cancel_waiter, NULL, NULL));
  }
}

static int main_wait_timeout(void* arg, void** result) {
  weft_future_t* f;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_future_new(&f));
  WEFT_EXPECT_ERR(weft_future_wait_for(f, 5, NULL), WEFT_ETIMEDOUT);
  /* The timeout is spent: later awaits are not cancelled by it. */
  WEFT_EXPECT_OK(weft_sleep_ms(1));
  WEFT_EXPECT_OK(weft_future_set_result(f, NULL));
  WEFT_EXPECT_OK(weft_future_wait_for(f, 5, NULL));
  weft_future_release(f);
  return 0;
}

static void test_future_wait_times_out_in_task_and_thread(void** state) {
  weft_future_t* f;
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_wait_timeout, NULL, NULL));
  WEFT_ASSERT_OK(weft_future_new(&f));
  WEFT_ASSERT_ERR(weft_future_wait_for(f, 5, NULL), WEFT_ETIMEDOUT);
  WEFT_ASSERT_OK(weft_future_set_result(f, (void*)3));
  WEFT_ASSERT_OK(weft_future_wait_for(f, 5, NULL));
  weft_future_release(f);
}

/* A plain thread blocks on a future that a task completes. */
static int complete_arg(void* arg, void** result) {
  (void)result;
  WEFT_EXPECT_OK(weft_sleep_ms(1));
  return weft_future_set_result(arg, (void*)9);
}

static void test_future_plain_thread_waits_for_task(void** state) {
  weft_runtime_t* rt;
  weft_config_t cfg = {.workers = 2};
  weft_future_t* f;
  void* r = NULL;
  (void)state;
  WEFT_ASSERT_OK(weft_runtime_new(&cfg, &rt));
  WEFT_ASSERT_OK(weft_future_new(&f));
  WEFT_ASSERT_OK(weft_spawn(rt, complete_arg, f, NULL, NULL));
  WEFT_ASSERT_OK(weft_future_await(f, &r));
  assert_ptr_equal(r, (void*)9);
  weft_future_release(f);
  WEFT_ASSERT_OK(weft_runtime_free(rt));
}

static void test_future_of_task(void** state) {
  weft_runtime_t* rt;
  weft_config_t cfg = {.workers = 2};
  weft_task_t* t;
  weft_future_t *f1, *f2;
  void* r = NULL;
  (void)state;
  WEFT_ASSERT_OK(weft_runtime_new(&cfg, &rt));
  WEFT_ASSERT_OK(weft_spawn(rt, weft_test_ret_arg, (void*)11, NULL, &t));
  WEFT_ASSERT_OK(weft_task_future(t, &f1)); /* maybe before it ends */
  WEFT_ASSERT_OK(weft_future_await(f1, &r));
  assert_ptr_equal(r, (void*)11);
  WEFT_ASSERT_OK(weft_task_future(t, &f2)); /* surely after */
  assert_ptr_equal(f1, f2);
  WEFT_ASSERT_OK(weft_future_result(f2, &r));
  weft_future_release(f1);
  weft_future_release(f2);
  weft_task_release(t);
  WEFT_ASSERT_OK(
      weft_spawn(rt, weft_test_ret_status, (void*)(intptr_t)-77, NULL, &t));
  WEFT_ASSERT_OK(weft_await(t, NULL) == -77 ? 0 : -1);
  WEFT_ASSERT_OK(weft_task_future(t, &f1)); /* made after it ended */
  WEFT_ASSERT_ERR(weft_future_await(f1, NULL), -77);
  weft_future_release(f1);
  weft_task_release(t);
  WEFT_ASSERT_OK(weft_runtime_free(rt));
}

static sem_t soon_done;

static void soon(void* arg) {
  *(int*)arg = weft_worker_id() >= 0 && weft_current_task() == NULL;
  sem_post(&soon_done);
}

static void test_future_call_soon_runs_on_a_worker(void** state) {
  weft_runtime_t* rt;
  weft_config_t cfg = {.workers = 2};
  int on_worker = 0;
  (void)state;
  sem_init(&soon_done, 0, 0);
  WEFT_ASSERT_OK(weft_runtime_new(&cfg, &rt));
  WEFT_ASSERT_OK(weft_call_soon(rt, soon, &on_worker));
  sem_wait(&soon_done);
  assert_int_equal(on_worker, 1);
  WEFT_ASSERT_OK(weft_runtime_free(rt));
  sem_destroy(&soon_done);
}

/* The waiter borrows the future; the completer releases the only
 * reference right after setting it, before the woken waiter runs (one
 * worker: main keeps running). The waiter's own reference keeps the future
 * alive until it has read the result (ASan saw a use after free before). */
static int borrowing_waiter(void* f, void** result) {
  return weft_future_await(f, result);
}

static int main_completes_and_releases(void* arg, void** result) {
  weft_future_t* f;
  weft_task_t* waiter;
  void* got = NULL;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_future_new(&f));
  WEFT_EXPECT_OK(weft_spawn(NULL, borrowing_waiter, f, NULL, &waiter));
  WEFT_EXPECT_EQ(WEFT_YIELD_UNTIL(weft_task_state(waiter) ==
                                  WEFT_TASK_SUSPENDED),
                 0);
  WEFT_EXPECT_OK(weft_future_set_result(f, (void*)42));
  weft_future_release(f);
  WEFT_EXPECT_OK(weft_await(waiter, &got));
  WEFT_EXPECT_EQ((intptr_t)got, 42);
  weft_task_release(waiter);
  return 0;
}

static void test_future_released_by_completer_while_awaited(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_completes_and_releases, NULL, NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_future_completes_exactly_once),
      cmocka_unit_test(test_future_argument_errors),
      cmocka_unit_test(test_future_completed_from_foreign_thread),
      cmocka_unit_test(test_future_many_waiters_and_callbacks),
      cmocka_unit_test(test_future_cancel_withdraws_only_that_waiter),
      cmocka_unit_test(test_future_wait_times_out_in_task_and_thread),
      cmocka_unit_test(test_future_plain_thread_waits_for_task),
      cmocka_unit_test(test_future_of_task),
      cmocka_unit_test(test_future_call_soon_runs_on_a_worker),
      cmocka_unit_test(test_future_released_by_completer_while_awaited),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
