/* Channels: FIFO order, try_* on full and empty, close with waiters on both
 * sides, cancelled senders and receivers lose nothing, timeouts, plain
 * threads, and many tasks over 4 workers receiving every item once. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "helpers.h"

static void test_chan_argument_errors(void** state) {
  weft_chan_t* ch;
  void* item;
  (void)state;
  WEFT_ASSERT_ERR(weft_chan_new(0, &ch), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_chan_new(1, NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_chan_send(NULL, NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_chan_recv(NULL, &item), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_chan_try_send(NULL, NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_chan_try_recv(NULL, &item), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_chan_close(NULL), WEFT_EINVAL);
  WEFT_ASSERT_OK(weft_chan_free(NULL));
  WEFT_ASSERT_OK(weft_chan_new(1, &ch));
  WEFT_ASSERT_ERR(weft_chan_recv(ch, NULL), WEFT_EINVAL);
  WEFT_ASSERT_OK(weft_chan_free(ch));
}

/* Without a runtime: the fast paths, FIFO order, full/empty, close. */
static void test_chan_fifo_try_and_close(void** state) {
  weft_chan_t* ch;
  void* item = NULL;
  (void)state;
  WEFT_ASSERT_OK(weft_chan_new(3, &ch));
  WEFT_ASSERT_ERR(weft_chan_try_recv(ch, &item), WEFT_EAGAIN);
  for (intptr_t i = 1; i <= 3; i++)
    WEFT_ASSERT_OK(weft_chan_send(ch, (void*)i));
  WEFT_ASSERT_ERR(weft_chan_try_send(ch, (void*)4), WEFT_EAGAIN);
  WEFT_ASSERT_OK(weft_chan_recv(ch, &item));
  assert_ptr_equal(item, (void*)1);
  WEFT_ASSERT_OK(weft_chan_try_send(ch, (void*)4));
  WEFT_ASSERT_OK(weft_chan_close(ch));
  WEFT_ASSERT_OK(weft_chan_close(ch)); /* twice is harmless */
  WEFT_ASSERT_ERR(weft_chan_send(ch, (void*)5), WEFT_ECLOSED);
  WEFT_ASSERT_ERR(weft_chan_try_send(ch, (void*)5), WEFT_ECLOSED);
  for (intptr_t i = 2; i <= 4; i++) {
    WEFT_ASSERT_OK(weft_chan_recv(ch, &item)); /* drains after close */
    assert_ptr_equal(item, (void*)i);
  }
  WEFT_ASSERT_ERR(weft_chan_recv(ch, &item), WEFT_ECLOSED);
  WEFT_ASSERT_ERR(weft_chan_try_recv(ch, &item), WEFT_ECLOSED);
  WEFT_ASSERT_OK(weft_chan_free(ch));
}

/* A plain thread sends through a channel of one slot (it blocks while
 * full); the test's thread receives, in order. */
static void* thread_sender(void* arg) {
  for (intptr_t i = 1; i <= 2000; i++)
    WEFT_EXPECT_OK(weft_chan_send(arg, (void*)i));
  WEFT_EXPECT_OK(weft_chan_close(arg));
  return NULL;
}

static void test_chan_plain_threads(void** state) {
  weft_chan_t* ch;
  pthread_t th;
  void* item;
  intptr_t want = 1;
  (void)state;
  WEFT_ASSERT_OK(weft_chan_new(1, &ch));
  assert_int_equal(pthread_create(&th, NULL, thread_sender, ch), 0);
  while (weft_chan_recv(ch, &item) == 0)
    assert_ptr_equal(item, (void*)want++);
  assert_int_equal(want, 2001);
  pthread_join(th, NULL);
  WEFT_ASSERT_OK(weft_chan_free(ch));
  WEFT_ASSERT_NO_FAILURES();
}

static int send_one(void* arg, void** result) {
  (void)result;
  return weft_chan_send(arg, (void*)99);
}

static int recv_one(void* arg, void** result) {
  return weft_chan_recv(arg, result);
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

/* Close wakes waiting senders (ECLOSED) and, once drained, receivers. */
static int main_close_with_waiters(void* arg, void** result) {
  weft_chan_t *full, *empty;
  weft_task_t *senders[3], *receivers[3];
  void* item = NULL;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_chan_new(1, &full));
  WEFT_EXPECT_OK(weft_chan_new(1, &empty));
  WEFT_EXPECT_OK(weft_chan_send(full, (void*)1));
  spawn_n(send_one, full, senders, 3);
  spawn_n(recv_one, empty, receivers, 3);
  WEFT_EXPECT_ERR(weft_chan_free(full), WEFT_EBUSY);
  WEFT_EXPECT_OK(weft_chan_close(full));
  WEFT_EXPECT_OK(weft_chan_close(empty));
  await_n(senders, 3, WEFT_ECLOSED);
  await_n(receivers, 3, WEFT_ECLOSED);
  WEFT_EXPECT_OK(weft_chan_recv(full, &item));
  WEFT_EXPECT(item == (void*)1);
  WEFT_EXPECT_ERR(weft_chan_recv(full, &item), WEFT_ECLOSED);
  WEFT_EXPECT_OK(weft_chan_free(full));
  WEFT_EXPECT_OK(weft_chan_free(empty));
  return 0;
}

static void test_chan_close_with_waiters(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_close_with_waiters, NULL, NULL));
}

/* A parked receiver is cancelled: the next item is not lost to it. A
 * parked sender is cancelled: its item never enters the channel. */
static int main_cancel_waiters(void* arg, void** result) {
  weft_chan_t* ch;
  weft_task_t* t;
  void* item = NULL;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_chan_new(1, &ch));
  spawn_n(recv_one, ch, &t, 1);
  WEFT_EXPECT_OK(weft_cancel(t));
  await_n(&t, 1, WEFT_ECANCELED);
  WEFT_EXPECT_OK(weft_chan_send(ch, (void*)1));
  spawn_n(send_one, ch, &t, 1);
  WEFT_EXPECT_OK(weft_cancel(t));
  await_n(&t, 1, WEFT_ECANCELED);
  WEFT_EXPECT_OK(weft_chan_recv(ch, &item));
  WEFT_EXPECT(item == (void*)1);
  WEFT_EXPECT_ERR(weft_chan_try_recv(ch, &item), WEFT_EAGAIN);
  WEFT_EXPECT_OK(weft_chan_free(ch));
  return 0;
}

static void test_chan_cancel_waiters(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_cancel_waiters, NULL, NULL));
}

/* A timeout scope bounds a receive; the channel is usable afterwards. */
static int main_timeout(void* arg, void** result) {
  weft_chan_t* ch;
  weft_timeout_t* tm;
  void* item = NULL;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_chan_new(1, &ch));
  WEFT_EXPECT_OK(weft_timeout_enter(1, &tm));
  WEFT_EXPECT_ERR(weft_chan_recv(ch, &item), WEFT_ECANCELED);
  WEFT_EXPECT_ERR(weft_timeout_exit(tm), WEFT_ETIMEDOUT);
  WEFT_EXPECT_OK(weft_chan_send(ch, (void*)3));
  WEFT_EXPECT_OK(weft_chan_recv(ch, &item));
  WEFT_EXPECT(item == (void*)3);
  WEFT_EXPECT_OK(weft_chan_free(ch));
  return 0;
}

static void test_chan_timeout(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_timeout, NULL, NULL));
}

/* Ping-pong between two tasks on two workers: every exchange parks one
 * side, so a lost wake-up hangs (the ctest timeout catches it). */
typedef struct {
  weft_chan_t *a, *b;
} pair_t;

static int ponger(void* arg, void** result) {
  pair_t* p = arg;
  void* item;
  (void)result;
  while (weft_chan_recv(p->a, &item) == 0)
    WEFT_EXPECT_OK(weft_chan_send(p->b, item));
  return 0;
}

static int main_pingpong(void* arg, void** result) {
  pair_t p;
  weft_task_t* t;
  void* item = NULL;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_chan_new(1, &p.a));
  WEFT_EXPECT_OK(weft_chan_new(1, &p.b));
  WEFT_EXPECT_OK(weft_spawn(NULL, ponger, &p, NULL, &t));
  for (intptr_t i = 0; i < 20000; i++) {
    WEFT_EXPECT_OK(weft_chan_send(p.a, (void*)i));
    WEFT_EXPECT_OK(weft_chan_recv(p.b, &item));
    WEFT_EXPECT(item == (void*)i);
  }
  WEFT_EXPECT_OK(weft_chan_close(p.a));
  await_n(&t, 1, 0);
  WEFT_EXPECT_OK(weft_chan_free(p.a));
  WEFT_EXPECT_OK(weft_chan_free(p.b));
  return 0;
}

static void test_chan_pingpong(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_pingpong, NULL, NULL));
}

/* Tasks on 4 workers send; the test's thread (outside the runtime)
 * receives, blocking whenever the channel is empty. Each sender's items
 * arrive in its own order. */
typedef struct {
  weft_chan_t* ch;
  intptr_t base;
} sender_arg_t;

static int sender_task(void* arg, void** result) {
  sender_arg_t* a = arg;
  (void)result;
  for (intptr_t i = 0; i < 1000; i++)
    WEFT_EXPECT_OK(weft_chan_send(a->ch, (void*)(a->base + i)));
  return 0;
}

static void test_chan_tasks_to_thread(void** state) {
  weft_runtime_t* rt;
  weft_config_t cfg = {.workers = 4};
  weft_chan_t* ch;
  weft_task_t* t[4];
  sender_arg_t args[4];
  intptr_t next[4] = {0, 0, 0, 0};
  void* item;
  (void)state;
  WEFT_ASSERT_OK(weft_runtime_new(&cfg, &rt));
  WEFT_ASSERT_OK(weft_chan_new(2, &ch));
  for (int i = 0; i < 4; i++) {
    args[i].ch = ch;
    args[i].base = (intptr_t)i * 1000000;
    WEFT_ASSERT_OK(weft_spawn(rt, sender_task, &args[i], NULL, &t[i]));
  }
  for (int n = 0; n < 4000; n++) {
    WEFT_ASSERT_OK(weft_chan_recv(ch, &item));
    intptr_t v = (intptr_t)item, who = v / 1000000;
    assert_int_equal(v % 1000000, next[who]++);
  }
  for (int i = 0; i < 4; i++) {
    WEFT_ASSERT_OK(weft_await(t[i], NULL));
    weft_task_release(t[i]);
  }
  WEFT_ASSERT_ERR(weft_chan_try_recv(ch, &item), WEFT_EAGAIN);
  WEFT_ASSERT_OK(weft_chan_free(ch));
  WEFT_ASSERT_OK(weft_runtime_free(rt));
  WEFT_ASSERT_NO_FAILURES();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_chan_argument_errors),
      cmocka_unit_test(test_chan_fifo_try_and_close),
      cmocka_unit_test(test_chan_plain_threads),
      cmocka_unit_test(test_chan_close_with_waiters),
      cmocka_unit_test(test_chan_cancel_waiters),
      cmocka_unit_test(test_chan_timeout),
      cmocka_unit_test(test_chan_pingpong),
      cmocka_unit_test(test_chan_tasks_to_thread),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
