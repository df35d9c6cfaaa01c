/* Task sets: argument errors; join_next in finishing order with statuses
 * and results, children leaving the set; fail-fast (the first failure
 * cancels the rest and closes the set) and KEEP_GOING; cancel_all from a
 * plain thread; tasks that add themselves (a server's handlers); DISCARD
 * (a set nobody joins stays empty); join_next's timeout and cancellation;
 * shutdown with and without grace; free with children running. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "helpers.h"

#define ITEM(n) ((void*)(intptr_t)(n))

static void test_taskset_errors(void** state) {
  weft_taskset_t* set;
  (void)state;
  WEFT_ASSERT_ERR(weft_taskset_new(0, NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_taskset_new(64, &set), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_taskset_spawn(NULL, weft_test_ret_arg, NULL, NULL, NULL),
                  WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_taskset_add(NULL, NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_taskset_join_next(NULL, -1, NULL, NULL, NULL),
                  WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_taskset_cancel_all(NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_taskset_close(NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_taskset_shutdown(NULL, 0), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_taskset_failed(NULL), WEFT_EINVAL);
  assert_int_equal(weft_taskset_size(NULL), 0);
  weft_taskset_free(NULL);
  WEFT_ASSERT_OK(weft_taskset_new(0, &set));
  WEFT_ASSERT_ERR(weft_taskset_spawn(set, NULL, NULL, NULL, NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_taskset_add(set, NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_taskset_join_next(set, -1, NULL, NULL, NULL),
                  WEFT_ECLOSED); /* empty */
  weft_taskset_free(set);
}

/* --- join_next -----------------------------------------------------------*/

typedef struct {
  weft_event_t* go;
  int value; /* > 0: result; < 0: status */
} child_arg_t;

static int child(void* arg, void** result) {
  child_arg_t* c = arg;
  int rc = weft_event_wait(c->go);
  if (rc != 0)
    return rc;
  if (c->value < 0)
    return c->value;
  *result = ITEM(c->value);
  return 0;
}

static int main_join_order(void* arg, void** result) {
  weft_taskset_t* set;
  child_arg_t c[3];
  weft_task_t* t[3];
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_taskset_new(WEFT_TASKSET_KEEP_GOING, &set));
  for (int i = 0; i < 3; i++) {
    WEFT_EXPECT_OK(weft_event_new(&c[i].go));
    c[i].value = i == 1 ? WEFT_ELIMIT : 10 + i;
    WEFT_EXPECT_OK(weft_taskset_spawn(set, child, &c[i], NULL, &t[i]));
  }
  WEFT_EXPECT_EQ(weft_taskset_size(set), 3);
  WEFT_EXPECT_ERR(weft_taskset_join_next(set, 0, NULL, NULL, NULL),
                  WEFT_ETIMEDOUT);
  static const int order[3] = {2, 1, 0};
  for (int k = 0; k < 3; k++) {
    int i = order[k];
    weft_task_t* got = NULL;
    int status = 99;
    void* res = NULL;
    WEFT_EXPECT_OK(weft_event_set(c[i].go));
    WEFT_EXPECT_OK(weft_taskset_join_next(set, -1, &got, &status, &res));
    WEFT_EXPECT(got == t[i]);
    if (i == 1) {
      WEFT_EXPECT_EQ(status, WEFT_ELIMIT);
    } else {
      WEFT_EXPECT_EQ(status, 0);
      WEFT_EXPECT_EQ((intptr_t)res, 10 + i);
    }
    weft_task_release(got);
    WEFT_EXPECT_EQ(weft_taskset_size(set), 2 - k); /* it left the set */
  }
  WEFT_EXPECT_ERR(weft_taskset_join_next(set, -1, NULL, NULL, NULL),
                  WEFT_ECLOSED);
  WEFT_EXPECT_EQ(weft_taskset_failed(set), WEFT_ELIMIT); /* kept going */
  weft_taskset_free(set);
  for (int i = 0; i < 3; i++) {
    WEFT_EXPECT(weft_task_done(t[i]));
    weft_task_release(t[i]);
    WEFT_EXPECT_OK(weft_event_free(c[i].go));
  }
  return 0;
}

static void test_taskset_join_next_in_finishing_order(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_join_order, NULL, NULL));
  WEFT_ASSERT_OK(weft_test_run(3, main_join_order, NULL, NULL));
}

/* --- Failure -------------------------------------------------------------*/

static int fail_now(void* arg, void** result) {
  (void)arg;
  (void)result;
  return WEFT_ELIMIT;
}

static int main_fail_fast(void* arg, void** result) {
  weft_taskset_t* set;
  int status;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_taskset_new(0, &set));
  for (int i = 0; i < 3; i++)
    WEFT_EXPECT_OK(
        weft_taskset_spawn(set, weft_test_sleep_hour, NULL, NULL, NULL));
  WEFT_EXPECT_OK(weft_taskset_spawn(set, fail_now, NULL, NULL, NULL));
  WEFT_EXPECT_OK(weft_taskset_join_next(set, -1, NULL, &status, NULL));
  WEFT_EXPECT_EQ(status, WEFT_ELIMIT); /* first to finish: the failure */
  for (int i = 0; i < 3; i++) {
    WEFT_EXPECT_OK(weft_taskset_join_next(set, -1, NULL, &status, NULL));
    WEFT_EXPECT_EQ(status, WEFT_ECANCELED);
  }
  WEFT_EXPECT_ERR(weft_taskset_spawn(set, fail_now, NULL, NULL, NULL),
                  WEFT_ECLOSED);
  WEFT_EXPECT_EQ(weft_taskset_failed(set), WEFT_ELIMIT);
  weft_taskset_free(set);
  return 0;
}

static void test_taskset_fail_fast(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_fail_fast, NULL, NULL));
}

/* --- Cancelling from outside, and handlers that add themselves ----------*/

typedef struct {
  weft_taskset_t* set;
  _Atomic int added;
} handler_ctx_t;

/* A connection handler's pattern: join the set, then serve. */
static int handler(void* arg, void** result) {
  handler_ctx_t* h = arg;
  (void)result;
  int rc = weft_taskset_add(h->set, weft_current_task());
  if (rc != 0)
    return rc;
  atomic_fetch_add(&h->added, 1);
  return weft_sleep_ms(3600 * 1000);
}

static void* cancel_from_thread(void* arg) {
  return (void*)(intptr_t)weft_taskset_cancel_all(arg);
}

static int main_handlers(void* arg, void** result) {
  handler_ctx_t h = {0};
  weft_task_t* t[4];
  pthread_t th;
  void* rc = NULL;
  int status;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(
      weft_taskset_new(WEFT_TASKSET_KEEP_GOING | WEFT_TASKSET_DISCARD, &h.set));
  for (int i = 0; i < 4; i++)
    WEFT_EXPECT_OK(weft_spawn(NULL, handler, &h, NULL, &t[i]));
  WEFT_EXPECT_OK(WEFT_YIELD_UNTIL(atomic_load(&h.added) == 4));
  WEFT_EXPECT_EQ(weft_taskset_size(h.set), 4);
  WEFT_EXPECT_EQ(pthread_create(&th, NULL, cancel_from_thread, h.set), 0);
  WEFT_EXPECT_EQ(pthread_join(th, &rc), 0);
  WEFT_EXPECT_EQ((intptr_t)rc, 0);
  /* DISCARD: join_next waits for the set to empty, then says so. */
  WEFT_EXPECT_ERR(weft_taskset_join_next(h.set, -1, NULL, &status, NULL),
                  WEFT_ECLOSED);
  WEFT_EXPECT_EQ(weft_taskset_size(h.set), 0);
  WEFT_EXPECT_EQ(weft_taskset_failed(h.set), 0); /* cancelled: no failure */
  for (int i = 0; i < 4; i++)
    WEFT_EXPECT_ERR(weft_test_finish(t[i]), WEFT_ECANCELED);
  /* Closed: a late handler is refused and ends at once. */
  WEFT_EXPECT_OK(weft_taskset_close(h.set));
  weft_task_t* late;
  WEFT_EXPECT_OK(weft_spawn(NULL, handler, &h, NULL, &late));
  WEFT_EXPECT_ERR(weft_test_finish(late), WEFT_ECLOSED);
  weft_taskset_free(h.set);
  return 0;
}

static void test_taskset_handlers_and_cancel_all(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_handlers, NULL, NULL));
}

/* DISCARD keeps a busy set small: many short children, nobody joins. */
static int main_discard(void* arg, void** result) {
  weft_taskset_t* set;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(
      weft_taskset_new(WEFT_TASKSET_KEEP_GOING | WEFT_TASKSET_DISCARD, &set));
  for (int i = 0; i < 200; i++) {
    WEFT_EXPECT_OK(weft_taskset_spawn(set,
                                      i == 50 ? fail_now : weft_test_ret_arg,
                                      NULL, NULL, NULL));
    if (i % 20 == 0)
      WEFT_EXPECT_OK(weft_yield());
  }
  WEFT_EXPECT_ERR(weft_taskset_join_next(set, -1, NULL, NULL, NULL),
                  WEFT_ECLOSED);
  WEFT_EXPECT_EQ(weft_taskset_size(set), 0);
  WEFT_EXPECT_EQ(weft_taskset_failed(set), WEFT_ELIMIT);
  weft_taskset_free(set);
  return 0;
}

static void test_taskset_discard(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_discard, NULL, NULL));
}

/* --- Waits: timeout and cancellation -------------------------------------*/

static int joiner(void* arg, void** result) {
  (void)result;
  return weft_taskset_join_next(arg, -1, NULL, NULL, NULL);
}

static int main_join_cancelled(void* arg, void** result) {
  weft_taskset_t* set;
  weft_task_t* j;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_taskset_new(0, &set));
  WEFT_EXPECT_OK(
      weft_taskset_spawn(set, weft_test_sleep_hour, NULL, NULL, NULL));
  WEFT_EXPECT_ERR(weft_taskset_join_next(set, 5, NULL, NULL, NULL),
                  WEFT_ETIMEDOUT);
  WEFT_EXPECT_OK(weft_spawn(NULL, joiner, set, NULL, &j));
  WEFT_EXPECT_OK(WEFT_YIELD_UNTIL(weft_task_state(j) == WEFT_TASK_SUSPENDED));
  WEFT_EXPECT_OK(weft_cancel(j));
  WEFT_EXPECT_ERR(weft_test_finish(j), WEFT_ECANCELED);
  WEFT_EXPECT_EQ(weft_taskset_size(set), 1); /* the child is untouched */
  weft_taskset_free(set);                    /* cancels it and waits */
  return 0;
}

static void test_taskset_join_timeout_and_cancel(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_join_cancelled, NULL, NULL));
}

/* --- Shutdown ------------------------------------------------------------*/

static int short_job(void* arg, void** result) {
  (void)arg;
  *result = ITEM(5);
  return weft_sleep_ms(1);
}

static int main_shutdown(void* arg, void** result) {
  weft_taskset_t* set;
  int status;
  void* res = NULL;
  (void)arg;
  (void)result;
  /* Grace long enough for the short job: nothing is cancelled. */
  WEFT_EXPECT_OK(weft_taskset_new(0, &set));
  WEFT_EXPECT_OK(weft_taskset_spawn(set, short_job, NULL, NULL, NULL));
  WEFT_EXPECT_OK(weft_taskset_shutdown(set, 3600 * 1000));
  WEFT_EXPECT_ERR(weft_taskset_spawn(set, short_job, NULL, NULL, NULL),
                  WEFT_ECLOSED);
  WEFT_EXPECT_OK(weft_taskset_join_next(set, -1, NULL, &status, &res));
  WEFT_EXPECT_EQ(status, 0);
  WEFT_EXPECT_EQ((intptr_t)res, 5);
  weft_taskset_free(set);
  /* A sleeper outlives a short grace: cancelled, and waited for. */
  WEFT_EXPECT_OK(weft_taskset_new(0, &set));
  WEFT_EXPECT_OK(
      weft_taskset_spawn(set, weft_test_sleep_hour, NULL, NULL, NULL));
  WEFT_EXPECT_OK(weft_taskset_shutdown(set, 5));
  WEFT_EXPECT_OK(weft_taskset_join_next(set, 0, NULL, &status, NULL));
  WEFT_EXPECT_EQ(status, WEFT_ECANCELED);
  weft_taskset_free(set);
  /* No grace. */
  WEFT_EXPECT_OK(weft_taskset_new(0, &set));
  WEFT_EXPECT_OK(
      weft_taskset_spawn(set, weft_test_sleep_hour, NULL, NULL, NULL));
  WEFT_EXPECT_OK(weft_taskset_shutdown(set, 0));
  WEFT_EXPECT_EQ(weft_taskset_size(set), 1); /* finished, not joined */
  weft_taskset_free(set);
  /* Free with children running cancels and waits for them. */
  WEFT_EXPECT_OK(weft_taskset_new(0, &set));
  for (int i = 0; i < 3; i++)
    WEFT_EXPECT_OK(
        weft_taskset_spawn(set, weft_test_sleep_hour, NULL, NULL, NULL));
  weft_taskset_free(set);
  return 0;
}

static void test_taskset_shutdown(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_shutdown, NULL, NULL));
  WEFT_ASSERT_OK(weft_test_run(2, main_shutdown, NULL, NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_taskset_errors),
      cmocka_unit_test(test_taskset_join_next_in_finishing_order),
      cmocka_unit_test(test_taskset_fail_fast),
      cmocka_unit_test(test_taskset_handlers_and_cancel_all),
      cmocka_unit_test(test_taskset_discard),
      cmocka_unit_test(test_taskset_join_timeout_and_cancel),
      cmocka_unit_test(test_taskset_shutdown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
