/* Broadcast channels: every receiver sees every message sent after it
 * subscribed, in order; a receiver that falls behind is told how many it
 * missed and goes on from the oldest message kept; waiting, waking,
 * cancellation and timeouts lose nothing; close; plain threads as senders
 * and receivers; bad arguments. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "helpers.h"

static int recv_int(weft_broadcast_rx_t* rx) {
  int v = -1;
  WEFT_EXPECT_OK(weft_broadcast_recv(rx, &v, NULL));
  return v;
}

static int try_int(weft_broadcast_rx_t* rx, int* v) {
  return weft_broadcast_try_recv(rx, v, NULL);
}

/* ---- Every receiver, every message, in order ----------------------------- */

static int main_fanout(void* arg, void** result) {
  weft_broadcast_t* bc;
  weft_broadcast_rx_t* a;
  weft_broadcast_rx_t* b;
  weft_broadcast_rx_t* late;
  int v;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_broadcast_new(8, sizeof(int), &bc));
  v = 0;
  WEFT_EXPECT_EQ(weft_broadcast_send(bc, &v), 0); /* nobody subscribed */
  WEFT_EXPECT_OK(weft_broadcast_subscribe(bc, &a));
  WEFT_EXPECT_OK(weft_broadcast_subscribe(bc, &b));
  for (v = 1; v <= 5; v++)
    WEFT_EXPECT_EQ(weft_broadcast_send(bc, &v), 2);
  WEFT_EXPECT_OK(weft_broadcast_subscribe(bc, &late)); /* sees 6.. only */
  v = 6;
  WEFT_EXPECT_EQ(weft_broadcast_send(bc, &v), 3);
  for (int i = 1; i <= 6; i++)
    WEFT_EXPECT_EQ(recv_int(a), i);
  for (int i = 1; i <= 6; i++)
    WEFT_EXPECT_EQ(recv_int(b), i);
  WEFT_EXPECT_EQ(recv_int(late), 6);
  WEFT_EXPECT_ERR(try_int(a, &v), WEFT_EAGAIN);
  WEFT_EXPECT_ERR(try_int(late, &v), WEFT_EAGAIN);
  WEFT_EXPECT_OK(weft_broadcast_unsubscribe(late));
  v = 7;
  WEFT_EXPECT_EQ(weft_broadcast_send(bc, &v), 2);
  WEFT_EXPECT_OK(weft_broadcast_unsubscribe(a));
  WEFT_EXPECT_OK(weft_broadcast_unsubscribe(b));
  WEFT_EXPECT_OK(weft_broadcast_free(bc));
  return 0;
}

static void test_broadcast_every_receiver_every_message(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_fanout, NULL, NULL));
}

/* Messages are copies: a struct, and the sender's buffer reused. */
typedef struct {
  char text[24];
  uint64_t n;
} msg_t;

static int main_copies(void* arg, void** result) {
  weft_broadcast_t* bc;
  weft_broadcast_rx_t* rx;
  msg_t m = {"first", 1};
  msg_t got;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_broadcast_new(2, sizeof(msg_t), &bc));
  WEFT_EXPECT_OK(weft_broadcast_subscribe(bc, &rx));
  WEFT_EXPECT_EQ(weft_broadcast_send(bc, &m), 1);
  snprintf(m.text, sizeof(m.text), "second");
  m.n = 2;
  WEFT_EXPECT_EQ(weft_broadcast_send(bc, &m), 1);
  WEFT_EXPECT_OK(weft_broadcast_recv(rx, &got, NULL));
  WEFT_EXPECT(strcmp(got.text, "first") == 0 && got.n == 1);
  WEFT_EXPECT_OK(weft_broadcast_recv(rx, &got, NULL));
  WEFT_EXPECT(strcmp(got.text, "second") == 0 && got.n == 2);
  WEFT_EXPECT_OK(weft_broadcast_unsubscribe(rx));
  WEFT_EXPECT_OK(weft_broadcast_free(bc));
  return 0;
}

static void test_broadcast_messages_are_copies(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_copies, NULL, NULL));
}

/* ---- Lagging ------------------------------------------------------------- */

static int main_lag(void* arg, void** result) {
  weft_broadcast_t* bc;
  weft_broadcast_rx_t* slow;
  weft_broadcast_rx_t* fast;
  uint64_t missed = 99;
  int v;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_broadcast_new(4, sizeof(int), &bc));
  WEFT_EXPECT_OK(weft_broadcast_subscribe(bc, &slow));
  WEFT_EXPECT_OK(weft_broadcast_subscribe(bc, &fast));
  for (v = 0; v < 10; v++) {
    WEFT_EXPECT_EQ(weft_broadcast_send(bc, &v), 2);
    WEFT_EXPECT_EQ(recv_int(fast), v); /* keeps up: never lags */
  }
  /* slow read nothing: 0..5 are gone, 6..9 kept. */
  v = -1;
  WEFT_EXPECT_ERR(weft_broadcast_recv(slow, &v, &missed), WEFT_ELIMIT);
  WEFT_EXPECT_EQ(missed, 6);
  WEFT_EXPECT_EQ(v, -1); /* nothing copied */
  for (int i = 6; i < 10; i++) {
    WEFT_EXPECT_OK(weft_broadcast_recv(slow, &v, &missed));
    WEFT_EXPECT_EQ(v, i);
    WEFT_EXPECT_EQ(missed, 0);
  }
  WEFT_EXPECT_ERR(weft_broadcast_try_recv(slow, &v, &missed), WEFT_EAGAIN);
  /* Lagging again part way through, reported by try_recv too. */
  for (v = 10; v < 14; v++)
    weft_broadcast_send(bc, &v);
  WEFT_EXPECT_OK(weft_broadcast_try_recv(fast, &v, NULL));
  WEFT_EXPECT_EQ(v, 10);
  for (v = 14; v < 20; v++)
    weft_broadcast_send(bc, &v);
  WEFT_EXPECT_ERR(weft_broadcast_try_recv(fast, &v, &missed), WEFT_ELIMIT);
  WEFT_EXPECT_EQ(missed, 5); /* 11..15 */
  WEFT_EXPECT_EQ(recv_int(fast), 16);
  WEFT_EXPECT_ERR(weft_broadcast_try_recv(slow, &v, NULL), WEFT_ELIMIT);
  WEFT_EXPECT_EQ(recv_int(slow), 16);
  WEFT_EXPECT_OK(weft_broadcast_unsubscribe(slow));
  WEFT_EXPECT_OK(weft_broadcast_unsubscribe(fast));
  WEFT_EXPECT_OK(weft_broadcast_free(bc));
  return 0;
}

static void test_broadcast_lagged_receiver_told_and_goes_on(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_lag, NULL, NULL));
}

/* ---- Waiting ------------------------------------------------------------- */

typedef struct {
  weft_broadcast_rx_t* rx;
  int want; /* messages to read */
  int sum;
} reader_t;

static int reader(void* arg, void** result) {
  reader_t* r = arg;
  (void)result;
  for (int i = 0; i < r->want; i++) {
    int v;
    int err = weft_broadcast_recv(r->rx, &v, NULL);
    if (err != 0)
      return err;
    WEFT_EXPECT_EQ(v, i);
    r->sum += v;
  }
  return 0;
}

/* Receivers wait on several workers; each send wakes all of them. */
static int main_wait(void* arg, void** result) {
  enum { kReaders = 6, kMsgs = 200 };
  weft_broadcast_t* bc;
  reader_t rd[kReaders];
  weft_task_t* t[kReaders];
  (void)arg;
  (void)result;
  /* Capacity for every message: nobody may lag. */
  WEFT_EXPECT_OK(weft_broadcast_new(kMsgs, sizeof(int), &bc));
  for (int i = 0; i < kReaders; i++) {
    rd[i] = (reader_t){.want = kMsgs};
    WEFT_EXPECT_OK(weft_broadcast_subscribe(bc, &rd[i].rx));
    WEFT_EXPECT_OK(weft_spawn(NULL, reader, &rd[i], NULL, &t[i]));
  }
  for (int v = 0; v < kMsgs; v++) {
    WEFT_EXPECT_EQ(weft_broadcast_send(bc, &v), kReaders);
    if (v % 7 == 0)
      WEFT_EXPECT_OK(weft_yield());
  }
  for (int i = 0; i < kReaders; i++) {
    WEFT_EXPECT_OK(weft_await(t[i], NULL));
    weft_task_release(t[i]);
    WEFT_EXPECT_EQ(rd[i].sum, kMsgs * (kMsgs - 1) / 2);
    WEFT_EXPECT_OK(weft_broadcast_unsubscribe(rd[i].rx));
  }
  WEFT_EXPECT_OK(weft_broadcast_free(bc));
  return 0;
}

static void test_broadcast_waiting_receivers_woken(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_wait, NULL, NULL));
  WEFT_ASSERT_OK(weft_test_run(4, main_wait, NULL, NULL));
}

static int one_reader(void* arg, void** result) {
  int v = -1;
  int err = weft_broadcast_recv(arg, &v, NULL);
  *result = (void*)(intptr_t)v;
  return err;
}

static weft_task_t* spawn_one_reader(weft_broadcast_rx_t* rx) {
  weft_task_t* t = NULL;
  WEFT_EXPECT_OK(weft_spawn(NULL, one_reader, rx, NULL, &t));
  WEFT_EXPECT_OK(WEFT_YIELD_UNTIL(weft_task_state(t) == WEFT_TASK_SUSPENDED));
  return t;
}

/* A cancelled or timed-out receive takes nothing; a pending cancellation
 * with a message there returns the message. */
static int main_cancel(void* arg, void** result) {
  weft_broadcast_t* bc;
  weft_broadcast_rx_t* rx;
  weft_timeout_t* to;
  int v = 1;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_broadcast_new(4, sizeof(int), &bc));
  WEFT_EXPECT_OK(weft_broadcast_subscribe(bc, &rx));
  weft_task_t* t = spawn_one_reader(rx);
  WEFT_EXPECT_ERR(weft_broadcast_unsubscribe(rx), WEFT_EBUSY);
  WEFT_EXPECT_ERR(weft_broadcast_free(bc), WEFT_EBUSY);
  WEFT_EXPECT_OK(weft_cancel(t));
  WEFT_EXPECT_ERR(weft_await(t, NULL), WEFT_ECANCELED);
  weft_task_release(t);
  v = 41;
  WEFT_EXPECT_EQ(weft_broadcast_send(bc, &v), 1);
  WEFT_EXPECT_EQ(recv_int(rx), 41); /* the cancelled wait took nothing */
  WEFT_EXPECT_OK(weft_timeout_enter(5, &to));
  WEFT_EXPECT_ERR(weft_broadcast_recv(rx, &v, NULL), WEFT_ECANCELED);
  WEFT_EXPECT_ERR(weft_timeout_exit(to), WEFT_ETIMEDOUT);
  v = 42;
  weft_broadcast_send(bc, &v);
  WEFT_EXPECT_OK(weft_cancel(weft_current_task()));
  WEFT_EXPECT_EQ(recv_int(rx), 42);
  WEFT_EXPECT_ERR(weft_broadcast_recv(rx, &v, NULL), WEFT_ECANCELED);
  WEFT_EXPECT_OK(weft_broadcast_unsubscribe(rx));
  WEFT_EXPECT_OK(weft_broadcast_free(bc));
  return 0;
}

static void test_broadcast_cancelled_receive_takes_nothing(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_cancel, NULL, NULL));
}

/* Close: waiting receivers are woken with WEFT_ECLOSED; others read what
 * is kept first; sends and subscriptions are refused. */
static int main_close(void* arg, void** result) {
  weft_broadcast_t* bc;
  weft_broadcast_rx_t* waiting;
  weft_broadcast_rx_t* behind;
  weft_broadcast_rx_t* rx;
  int v = 7;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_broadcast_new(2, sizeof(int), &bc));
  WEFT_EXPECT_OK(weft_broadcast_subscribe(bc, &waiting));
  weft_task_t* t = spawn_one_reader(waiting);
  WEFT_EXPECT_OK(weft_broadcast_subscribe(bc, &behind));
  v = 0;
  WEFT_EXPECT_EQ(weft_broadcast_send(bc, &v), 2);
  void* res;
  WEFT_EXPECT_OK(weft_await(t, &res)); /* woken by the send */
  WEFT_EXPECT_EQ((intptr_t)res, 0);
  weft_task_release(t);
  for (v = 1; v < 4; v++)
    WEFT_EXPECT_EQ(weft_broadcast_send(bc, &v), 2);
  WEFT_EXPECT_OK(weft_broadcast_close(bc));
  WEFT_EXPECT_OK(weft_broadcast_close(bc)); /* harmless */
  WEFT_EXPECT_ERR(weft_broadcast_send(bc, &v), WEFT_ECLOSED);
  WEFT_EXPECT_ERR(weft_broadcast_subscribe(bc, &rx), WEFT_ECLOSED);
  WEFT_EXPECT(rx == NULL);
  /* Both read what is kept (after a lag report), then the close. */
  uint64_t missed;
  WEFT_EXPECT_ERR(weft_broadcast_recv(behind, &v, &missed), WEFT_ELIMIT);
  WEFT_EXPECT_EQ(missed, 2);
  WEFT_EXPECT_EQ(recv_int(behind), 2);
  WEFT_EXPECT_EQ(recv_int(behind), 3);
  WEFT_EXPECT_ERR(weft_broadcast_recv(behind, &v, NULL), WEFT_ECLOSED);
  WEFT_EXPECT_ERR(weft_broadcast_try_recv(behind, &v, NULL), WEFT_ECLOSED);
  WEFT_EXPECT_ERR(weft_broadcast_recv(waiting, &v, &missed), WEFT_ELIMIT);
  WEFT_EXPECT_EQ(missed, 1);
  WEFT_EXPECT_EQ(recv_int(waiting), 2);
  WEFT_EXPECT_EQ(recv_int(waiting), 3);
  WEFT_EXPECT_ERR(weft_broadcast_recv(waiting, &v, NULL), WEFT_ECLOSED);
  WEFT_EXPECT_OK(weft_broadcast_unsubscribe(behind));
  WEFT_EXPECT_OK(weft_broadcast_free(NULL));
  WEFT_EXPECT_ERR(weft_broadcast_free(bc), WEFT_EBUSY);
  WEFT_EXPECT_OK(weft_broadcast_unsubscribe(waiting));
  WEFT_EXPECT_OK(weft_broadcast_free(bc));

  /* A receiver waiting when the close comes. */
  WEFT_EXPECT_OK(weft_broadcast_new(2, sizeof(int), &bc));
  WEFT_EXPECT_OK(weft_broadcast_subscribe(bc, &rx));
  t = spawn_one_reader(rx);
  WEFT_EXPECT_OK(weft_broadcast_close(bc));
  WEFT_EXPECT_ERR(weft_await(t, NULL), WEFT_ECLOSED);
  weft_task_release(t);
  WEFT_EXPECT_OK(weft_broadcast_unsubscribe(rx));
  WEFT_EXPECT_OK(weft_broadcast_free(bc));
  return 0;
}

static void test_broadcast_close(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_close, NULL, NULL));
}

/* ---- Plain threads ------------------------------------------------------- */

typedef struct {
  weft_broadcast_t* bc;
  weft_broadcast_rx_t* rx;
  int n;
  int got;
} thread_arg_t;

static void* thread_sender(void* arg) {
  thread_arg_t* a = arg;
  for (int v = 0; v < a->n; v++)
    WEFT_EXPECT(weft_broadcast_send(a->bc, &v) >= 0);
  WEFT_EXPECT_OK(weft_broadcast_close(a->bc));
  return NULL;
}

static void* thread_receiver(void* arg) {
  thread_arg_t* a = arg;
  int v;
  int err;
  while ((err = weft_broadcast_recv(a->rx, &v, NULL)) == 0) {
    WEFT_EXPECT_EQ(v, a->got);
    a->got++;
  }
  WEFT_EXPECT_ERR(err, WEFT_ECLOSED);
  return NULL;
}

static int join_fn(void* arg, void** result) {
  (void)result;
  return pthread_join(*(pthread_t*)arg, NULL) == 0 ? 0 : WEFT_EINVAL;
}

/* A thread sends to a task and to a thread (which blocks). Capacity for
 * every message, so neither lags. */
static int main_threads(void* arg, void** result) {
  enum { kMsgs = 500 };
  thread_arg_t snd = {.n = kMsgs};
  thread_arg_t thr = {.n = kMsgs};
  thread_arg_t task = {.n = kMsgs};
  pthread_t ts, tr;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_broadcast_new(kMsgs, sizeof(int), &snd.bc));
  WEFT_EXPECT_OK(weft_broadcast_subscribe(snd.bc, &thr.rx));
  WEFT_EXPECT_OK(weft_broadcast_subscribe(snd.bc, &task.rx));
  WEFT_EXPECT_EQ(pthread_create(&tr, NULL, thread_receiver, &thr), 0);
  WEFT_EXPECT_EQ(pthread_create(&ts, NULL, thread_sender, &snd), 0);
  thread_receiver(&task);
  WEFT_EXPECT_OK(weft_run_blocking(join_fn, &ts, NULL));
  WEFT_EXPECT_OK(weft_run_blocking(join_fn, &tr, NULL));
  WEFT_EXPECT_EQ(thr.got, kMsgs);
  WEFT_EXPECT_EQ(task.got, kMsgs);
  WEFT_EXPECT_OK(weft_broadcast_unsubscribe(thr.rx));
  WEFT_EXPECT_OK(weft_broadcast_unsubscribe(task.rx));
  WEFT_EXPECT_OK(weft_broadcast_free(snd.bc));
  return 0;
}

static void test_broadcast_threads_send_and_receive(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_threads, NULL, NULL));
}

/* ---- Bad arguments ------------------------------------------------------- */

static void test_broadcast_argument_errors(void** state) {
  weft_broadcast_t* bc = (void*)1;
  weft_broadcast_rx_t* rx = (void*)1;
  int v = 0;
  (void)state;
  WEFT_ASSERT_ERR(weft_broadcast_new(1, 1, NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_broadcast_new(0, 1, &bc), WEFT_EINVAL);
  assert_null(bc);
  WEFT_ASSERT_ERR(weft_broadcast_new(1, 0, &bc), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_broadcast_new(SIZE_MAX / 2, 4, &bc), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_broadcast_subscribe(NULL, &rx), WEFT_EINVAL);
  assert_null(rx);
  WEFT_ASSERT_ERR(weft_broadcast_send(NULL, &v), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_broadcast_recv(NULL, &v, NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_broadcast_try_recv(NULL, &v, NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_broadcast_close(NULL), WEFT_EINVAL);
  WEFT_ASSERT_OK(weft_broadcast_unsubscribe(NULL));
  WEFT_ASSERT_OK(weft_broadcast_free(NULL));
  WEFT_ASSERT_OK(weft_broadcast_new(1, sizeof(int), &bc));
  WEFT_ASSERT_ERR(weft_broadcast_subscribe(bc, NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_broadcast_send(bc, NULL), WEFT_EINVAL);
  WEFT_ASSERT_OK(weft_broadcast_subscribe(bc, &rx));
  WEFT_ASSERT_ERR(weft_broadcast_recv(rx, NULL, NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_broadcast_try_recv(rx, NULL, NULL), WEFT_EINVAL);
  /* Outside any runtime a thread may use it: nothing to wait for here. */
  assert_int_equal(weft_broadcast_send(bc, &v), 1);
  v = 5;
  WEFT_ASSERT_OK(weft_broadcast_try_recv(rx, &v, NULL));
  assert_int_equal(v, 0);
  WEFT_ASSERT_OK(weft_broadcast_unsubscribe(rx));
  WEFT_ASSERT_OK(weft_broadcast_free(bc));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_broadcast_every_receiver_every_message),
      cmocka_unit_test(test_broadcast_messages_are_copies),
      cmocka_unit_test(test_broadcast_lagged_receiver_told_and_goes_on),
      cmocka_unit_test(test_broadcast_waiting_receivers_woken),
      cmocka_unit_test(test_broadcast_cancelled_receive_takes_nothing),
      cmocka_unit_test(test_broadcast_close),
      cmocka_unit_test(test_broadcast_threads_send_and_receive),
      cmocka_unit_test(test_broadcast_argument_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
