/* Queues: FIFO, LIFO and priority order, maxsize backpressure, try_*,
 * task_done/join, shutdown (draining and immediate) with waiters on both
 * sides, cancelled getters and putters losing nothing, argument errors. */
#include <stdint.h>

#include "helpers.h"

static void test_queue_argument_errors(void** state) {
  weft_queue_t* q;
  void* item;
  (void)state;
  WEFT_ASSERT_ERR(weft_queue_new(WEFT_QUEUE_FIFO, 0, NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_queue_new((weft_queue_kind_t)7, 0, &q), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_queue_put(NULL, NULL, 0), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_queue_try_put(NULL, NULL, 0), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_queue_get(NULL, &item), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_queue_try_get(NULL, &item), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_queue_task_done(NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_queue_join(NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_queue_shutdown(NULL, 0), WEFT_EINVAL);
  assert_int_equal(weft_queue_size(NULL), 0);
  WEFT_ASSERT_OK(weft_queue_free(NULL));
  WEFT_ASSERT_OK(weft_queue_new(WEFT_QUEUE_FIFO, 0, &q));
  WEFT_ASSERT_ERR(weft_queue_get(q, NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_queue_try_get(q, NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_queue_task_done(q), WEFT_ELIMIT);
  WEFT_ASSERT_OK(weft_queue_join(q)); /* nothing unfinished: no wait */
  WEFT_ASSERT_OK(weft_queue_free(q));
}

static void drain_expect(weft_queue_t* q, const intptr_t* want, int n) {
  void* item = NULL;
  for (int i = 0; i < n; i++) {
    WEFT_ASSERT_OK(weft_queue_try_get(q, &item));
    assert_int_equal((intptr_t)item, want[i]);
  }
  WEFT_ASSERT_ERR(weft_queue_try_get(q, &item), WEFT_EAGAIN);
}

/* 200 items (more than the initial store) go in 1..200; each kind hands
 * them back in its own order. */
static void test_queue_fifo_lifo_order(void** state) {
  static intptr_t fifo[200], lifo[200];
  weft_queue_t *f, *l;
  (void)state;
  WEFT_ASSERT_OK(weft_queue_new(WEFT_QUEUE_FIFO, 0, &f));
  WEFT_ASSERT_OK(weft_queue_new(WEFT_QUEUE_LIFO, 0, &l));
  for (intptr_t i = 1; i <= 200; i++) {
    WEFT_ASSERT_OK(weft_queue_put(f, (void*)i, 0));
    WEFT_ASSERT_OK(weft_queue_try_put(l, (void*)i, 0));
    fifo[i - 1] = i;
    lifo[200 - i] = i;
  }
  assert_int_equal(weft_queue_size(f), 200);
  drain_expect(f, fifo, 200);
  drain_expect(l, lifo, 200);
  WEFT_ASSERT_OK(weft_queue_free(f));
  WEFT_ASSERT_OK(weft_queue_free(l));
}

/* Smallest priority first; equal priorities keep their put order. */
static void test_queue_priority_order(void** state) {
  static const int64_t prio[] = {5, 1, 3, 1, -2, 5, 3, 1, 0, -2};
  static const intptr_t want[] = {5, 10, 9, 2, 4, 8, 3, 7, 1, 6};
  weft_queue_t* q;
  (void)state;
  WEFT_ASSERT_OK(weft_queue_new(WEFT_QUEUE_PRIORITY, 0, &q));
  for (intptr_t i = 1; i <= 10; i++)
    WEFT_ASSERT_OK(weft_queue_put(q, (void*)i, prio[i - 1]));
  drain_expect(q, want, 10);
  WEFT_ASSERT_OK(weft_queue_free(q));
}

static void test_queue_priority_many(void** state) {
  weft_queue_t* q;
  void* item;
  int64_t last = INT64_MIN;
  (void)state;
  WEFT_ASSERT_OK(weft_queue_new(WEFT_QUEUE_PRIORITY, 0, &q));
  for (intptr_t i = 0; i < 1000; i++)
    WEFT_ASSERT_OK(
        weft_queue_put(q, (void*)((i * 7919) % 1000), (i * 7919) % 1000));
  while (weft_queue_try_get(q, &item) == 0) {
    assert_true((intptr_t)item >= last);
    last = (intptr_t)item;
  }
  assert_int_equal(last, 999);
  WEFT_ASSERT_OK(weft_queue_free(q));
}

static int put_one(void* arg, void** result) {
  (void)result;
  return weft_queue_put(arg, (void*)77, 0);
}

static int get_one(void* arg, void** result) {
  return weft_queue_get(arg, result);
}

static int join_q(void* arg, void** result) {
  (void)result;
  return weft_queue_join(arg);
}

static int all_suspended(weft_task_t** t, int n) {
  for (int i = 0; i < n; i++)
    if (weft_task_state(t[i]) != WEFT_TASK_SUSPENDED)
      return 0;
  return 1;
}

static void spawn_n(weft_task_fn fn, void* arg, weft_task_t** t, int n) {
  for (int i = 0; i < n; i++)
    WEFT_EXPECT_OK(weft_spawn(NULL, fn, arg, NULL, &t[i]));
  WEFT_EXPECT_OK(WEFT_YIELD_UNTIL(all_suspended(t, n)));
}

static void await_n(weft_task_t** t, int n, int want) {
  for (int i = 0; i < n; i++) {
    WEFT_EXPECT_ERR(weft_await(t[i], NULL), want);
    weft_task_release(t[i]);
  }
}

/* maxsize 2: a third put waits until a get frees a slot. */
static int main_backpressure(void* arg, void** result) {
  weft_queue_t* q;
  weft_task_t* t;
  void* item = NULL;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_queue_new(WEFT_QUEUE_FIFO, 2, &q));
  WEFT_EXPECT_OK(weft_queue_put(q, (void*)1, 0));
  WEFT_EXPECT_OK(weft_queue_try_put(q, (void*)2, 0));
  WEFT_EXPECT_ERR(weft_queue_try_put(q, (void*)3, 0), WEFT_EAGAIN);
  spawn_n(put_one, q, &t, 1);
  WEFT_EXPECT_EQ(weft_queue_size(q), 2);
  WEFT_EXPECT_OK(weft_queue_get(q, &item));
  WEFT_EXPECT(item == (void*)1);
  await_n(&t, 1, 0);
  WEFT_EXPECT_EQ(weft_queue_size(q), 2);
  WEFT_EXPECT_OK(weft_queue_get(q, &item));
  WEFT_EXPECT(item == (void*)2);
  WEFT_EXPECT_OK(weft_queue_get(q, &item));
  WEFT_EXPECT(item == (void*)77);
  WEFT_EXPECT_OK(weft_queue_free(q));
  return 0;
}

static void test_queue_backpressure(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_backpressure, NULL, NULL));
}

/* join waits for one task_done per put; an extra task_done is refused. */
static int main_join(void* arg, void** result) {
  weft_queue_t* q;
  weft_task_t* t[2];
  void* item = NULL;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_queue_new(WEFT_QUEUE_LIFO, 0, &q));
  WEFT_EXPECT_OK(weft_queue_put(q, (void*)1, 0));
  WEFT_EXPECT_OK(weft_queue_put(q, (void*)2, 0));
  spawn_n(join_q, q, t, 2);
  WEFT_EXPECT_OK(weft_queue_get(q, &item));
  WEFT_EXPECT_OK(weft_queue_get(q, &item));
  WEFT_EXPECT_OK(weft_queue_task_done(q));
  WEFT_EXPECT(all_suspended(t, 2)); /* one item still unfinished */
  WEFT_EXPECT_OK(weft_queue_task_done(q));
  await_n(t, 2, 0);
  WEFT_EXPECT_ERR(weft_queue_task_done(q), WEFT_ELIMIT);
  WEFT_EXPECT_OK(weft_queue_free(q));
  return 0;
}

static void test_queue_task_done_join(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_join, NULL, NULL));
}

/* Draining shutdown: waiting putters fail, items stay for getters, then
 * gets fail. Immediate shutdown: items dropped (join returns), waiting
 * getters fail. */
static int main_shutdown(void* arg, void** result) {
  weft_queue_t *full, *empty;
  weft_task_t *putters[3], *getters[3], *joiner;
  void* item = NULL;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_queue_new(WEFT_QUEUE_FIFO, 1, &full));
  WEFT_EXPECT_OK(weft_queue_new(WEFT_QUEUE_PRIORITY, 0, &empty));
  WEFT_EXPECT_OK(weft_queue_put(full, (void*)1, 0));
  spawn_n(put_one, full, putters, 3);
  spawn_n(get_one, empty, getters, 3);
  WEFT_EXPECT_ERR(weft_queue_free(empty), WEFT_EBUSY);
  WEFT_EXPECT_OK(weft_queue_shutdown(full, 0));
  await_n(putters, 3, WEFT_ECLOSED);
  WEFT_EXPECT_ERR(weft_queue_put(full, (void*)2, 0), WEFT_ECLOSED);
  WEFT_EXPECT_OK(weft_queue_get(full, &item));
  WEFT_EXPECT(item == (void*)1);
  WEFT_EXPECT_ERR(weft_queue_get(full, &item), WEFT_ECLOSED);
  WEFT_EXPECT_OK(weft_queue_shutdown(empty, 1));
  await_n(getters, 3, WEFT_ECLOSED);
  /* Immediate shutdown of a queue with items and a joiner. */
  WEFT_EXPECT_OK(weft_queue_free(empty));
  WEFT_EXPECT_OK(weft_queue_new(WEFT_QUEUE_FIFO, 0, &empty));
  WEFT_EXPECT_OK(weft_queue_put(empty, (void*)1, 0));
  WEFT_EXPECT_OK(weft_queue_put(empty, (void*)2, 0));
  spawn_n(join_q, empty, &joiner, 1);
  WEFT_EXPECT_OK(weft_queue_shutdown(empty, 1));
  await_n(&joiner, 1, 0);
  WEFT_EXPECT_EQ(weft_queue_size(empty), 0);
  WEFT_EXPECT_ERR(weft_queue_try_get(empty, &item), WEFT_ECLOSED);
  WEFT_EXPECT_OK(weft_queue_free(full));
  WEFT_EXPECT_OK(weft_queue_free(empty));
  return 0;
}

static void test_queue_shutdown(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_shutdown, NULL, NULL));
}

/* Cancelled getter: the next item reaches a later getter. Cancelled
 * putter: its item never enters. */
static int main_cancel(void* arg, void** result) {
  weft_queue_t* q;
  weft_task_t* t[2];
  void* item = NULL;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_queue_new(WEFT_QUEUE_FIFO, 1, &q));
  spawn_n(get_one, q, t, 2);
  WEFT_EXPECT_OK(weft_cancel(t[0]));
  await_n(t, 1, WEFT_ECANCELED);
  WEFT_EXPECT_OK(weft_queue_put(q, (void*)5, 0));
  WEFT_EXPECT_OK(weft_await(t[1], &item));
  WEFT_EXPECT(item == (void*)5);
  weft_task_release(t[1]);
  WEFT_EXPECT_OK(weft_queue_put(q, (void*)6, 0));
  spawn_n(put_one, q, t, 1);
  WEFT_EXPECT_OK(weft_cancel(t[0]));
  await_n(t, 1, WEFT_ECANCELED);
  WEFT_EXPECT_OK(weft_queue_get(q, &item));
  WEFT_EXPECT(item == (void*)6);
  WEFT_EXPECT_ERR(weft_queue_try_get(q, &item), WEFT_EAGAIN);
  WEFT_EXPECT_OK(weft_queue_free(q));
  return 0;
}

static void test_queue_cancel(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_cancel, NULL, NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_queue_argument_errors),
      cmocka_unit_test(test_queue_fifo_lifo_order),
      cmocka_unit_test(test_queue_priority_order),
      cmocka_unit_test(test_queue_priority_many),
      cmocka_unit_test(test_queue_backpressure),
      cmocka_unit_test(test_queue_task_done_join),
      cmocka_unit_test(test_queue_shutdown),
      cmocka_unit_test(test_queue_cancel),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
