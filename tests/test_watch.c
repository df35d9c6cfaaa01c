/* Watch channels: the latest value and its version; receivers wait for a
 * newer version and skip the ones in between; a received value stays
 * valid until the receiver's next call, and every value is destroyed
 * exactly once when nobody can see it any more; cancellation, close,
 * plain threads, many senders and receivers at once; bad arguments. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

/* Values are malloc'd ints; the destructor counts and records them. */
static atomic_int g_destroyed;
static atomic_int g_last_destroyed;

static void destroy(void* value) {
  atomic_store(&g_last_destroyed, *(int*)value);
  free(value);
  atomic_fetch_add(&g_destroyed, 1);
}

static int* new_int(int v) {
  int* p = malloc(sizeof(*p));
  if (p != NULL)
    *p = v;
  return p;
}

static int destroyed(void) {
  return atomic_load(&g_destroyed);
}

static void reset(void) {
  atomic_store(&g_destroyed, 0);
  atomic_store(&g_last_destroyed, -1);
}

/* ---- Latest value, versions, lifetimes ----------------------------------- */

static int main_latest(void* arg, void** result) {
  weft_watch_t* w;
  weft_watch_rx_t* rx;
  void* v;
  uint64_t ver = 99;
  (void)arg;
  (void)result;
  reset();
  WEFT_EXPECT_OK(weft_watch_new(new_int(0), destroy, &w));
  WEFT_EXPECT_OK(weft_watch_subscribe(w, &rx));
  WEFT_EXPECT_ERR(weft_watch_try_recv(rx, &v, &ver), WEFT_EAGAIN);
  WEFT_EXPECT_OK(weft_watch_get(rx, &v, &ver)); /* the current one */
  WEFT_EXPECT_EQ(*(int*)v, 0);
  WEFT_EXPECT_EQ(ver, 0);
  WEFT_EXPECT_OK(weft_watch_send(w, new_int(1)));
  WEFT_EXPECT_EQ(destroyed(), 0); /* 0 is held by rx */
  WEFT_EXPECT_OK(weft_watch_recv(rx, &v, &ver));
  WEFT_EXPECT_EQ(*(int*)v, 1);
  WEFT_EXPECT_EQ(ver, 1);
  WEFT_EXPECT_EQ(destroyed(), 1); /* rx let 0 go */
  WEFT_EXPECT_EQ(atomic_load(&g_last_destroyed), 0);
  /* Two sends: the one in between is skipped, and destroyed by the send
   * that replaced it; 1 stays valid while rx holds it. */
  WEFT_EXPECT_OK(weft_watch_send(w, new_int(2)));
  WEFT_EXPECT_OK(weft_watch_send(w, new_int(3)));
  WEFT_EXPECT_EQ(destroyed(), 2);
  WEFT_EXPECT_EQ(atomic_load(&g_last_destroyed), 2);
  WEFT_EXPECT_EQ(*(int*)v, 1);
  WEFT_EXPECT_EQ(weft_watch_version(w), 3);
  WEFT_EXPECT_OK(weft_watch_recv(rx, &v, NULL));
  WEFT_EXPECT_EQ(*(int*)v, 3);
  WEFT_EXPECT_EQ(destroyed(), 3);
  WEFT_EXPECT_EQ(atomic_load(&g_last_destroyed), 1);
  WEFT_EXPECT_ERR(weft_watch_try_recv(rx, &v, NULL), WEFT_EAGAIN);
  /* get again: the same value, nothing destroyed. */
  WEFT_EXPECT_OK(weft_watch_get(rx, &v, &ver));
  WEFT_EXPECT_EQ(*(int*)v, 3);
  WEFT_EXPECT_EQ(destroyed(), 3);
  /* A new subscriber has seen the current version. */
  weft_watch_rx_t* late;
  WEFT_EXPECT_OK(weft_watch_subscribe(w, &late));
  WEFT_EXPECT_ERR(weft_watch_try_recv(late, &v, NULL), WEFT_EAGAIN);
  WEFT_EXPECT_OK(weft_watch_send(w, NULL)); /* NULL is a value too */
  WEFT_EXPECT_OK(weft_watch_try_recv(late, &v, &ver));
  WEFT_EXPECT(v == NULL);
  WEFT_EXPECT_EQ(ver, 4);
  WEFT_EXPECT_OK(weft_watch_unsubscribe(late));
  WEFT_EXPECT_EQ(destroyed(), 3); /* rx still holds 3 */
  WEFT_EXPECT_ERR(weft_watch_free(w), WEFT_EBUSY);
  WEFT_EXPECT_OK(weft_watch_unsubscribe(rx));
  WEFT_EXPECT_EQ(destroyed(), 4);
  WEFT_EXPECT_EQ(atomic_load(&g_last_destroyed), 3);
  WEFT_EXPECT_OK(weft_watch_send(w, new_int(5)));
  WEFT_EXPECT_OK(weft_watch_free(w)); /* destroys the current one */
  WEFT_EXPECT_EQ(destroyed(), 5);
  WEFT_EXPECT_EQ(atomic_load(&g_last_destroyed), 5);
  return 0;
}

static void test_watch_latest_value_and_lifetimes(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_latest, NULL, NULL));
}

/* ---- Waiting ------------------------------------------------------------- */

static int waiter(void* arg, void** result) {
  void* v = NULL;
  uint64_t ver = 0;
  int err = weft_watch_recv(arg, &v, &ver);
  *result = (void*)(uintptr_t)ver;
  return err;
}

static weft_task_t* spawn_waiter(weft_watch_rx_t* rx) {
  weft_task_t* t = NULL;
  WEFT_EXPECT_OK(weft_spawn(NULL, waiter, rx, NULL, &t));
  WEFT_EXPECT_OK(WEFT_YIELD_UNTIL(weft_task_state(t) == WEFT_TASK_SUSPENDED));
  return t;
}

static uint64_t await_version(weft_task_t* t, int want_err) {
  void* res = NULL;
  WEFT_EXPECT_ERR(weft_await(t, &res), want_err);
  weft_task_release(t);
  return (uint64_t)(uintptr_t)res;
}

/* Every waiting receiver (on any worker) wakes for one send. */
static int main_wait(void* arg, void** result) {
  enum { kWaiters = 6 };
  weft_watch_t* w;
  weft_watch_rx_t* rx[kWaiters];
  weft_task_t* t[kWaiters];
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_watch_new(NULL, NULL, &w));
  for (int round = 1; round <= 20; round++) {
    for (int i = 0; i < kWaiters; i++) {
      if (round == 1)
        WEFT_EXPECT_OK(weft_watch_subscribe(w, &rx[i]));
      t[i] = spawn_waiter(rx[i]);
    }
    WEFT_EXPECT_OK(weft_watch_send(w, (void*)(intptr_t)round));
    for (int i = 0; i < kWaiters; i++)
      WEFT_EXPECT_EQ(await_version(t[i], 0), round);
  }
  for (int i = 0; i < kWaiters; i++)
    WEFT_EXPECT_OK(weft_watch_unsubscribe(rx[i]));
  WEFT_EXPECT_OK(weft_watch_free(w));
  return 0;
}

static void test_watch_send_wakes_every_receiver(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_wait, NULL, NULL));
  WEFT_ASSERT_OK(weft_test_run(4, main_wait, NULL, NULL));
}

/* A cancelled or timed-out receive takes nothing. */
static int main_cancel(void* arg, void** result) {
  weft_watch_t* w;
  weft_watch_rx_t* rx;
  weft_timeout_t* to;
  void* v;
  uint64_t ver;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_watch_new(NULL, NULL, &w));
  WEFT_EXPECT_OK(weft_watch_subscribe(w, &rx));
  weft_task_t* t = spawn_waiter(rx);
  WEFT_EXPECT_ERR(weft_watch_unsubscribe(rx), WEFT_EBUSY);
  WEFT_EXPECT_ERR(weft_watch_free(w), WEFT_EBUSY);
  WEFT_EXPECT_OK(weft_cancel(t));
  await_version(t, WEFT_ECANCELED);
  WEFT_EXPECT_OK(weft_watch_send(w, (void*)7));
  WEFT_EXPECT_OK(weft_watch_recv(rx, &v, &ver)); /* still new for rx */
  WEFT_EXPECT(v == (void*)7);
  WEFT_EXPECT_EQ(ver, 1);
  WEFT_EXPECT_OK(weft_timeout_enter(5, &to));
  WEFT_EXPECT_ERR(weft_watch_recv(rx, &v, NULL), WEFT_ECANCELED);
  WEFT_EXPECT_ERR(weft_timeout_exit(to), WEFT_ETIMEDOUT);
  WEFT_EXPECT_OK(weft_watch_send(w, (void*)8));
  WEFT_EXPECT_OK(weft_cancel(weft_current_task()));
  WEFT_EXPECT_OK(weft_watch_recv(rx, &v, NULL)); /* there: no await */
  WEFT_EXPECT(v == (void*)8);
  WEFT_EXPECT_ERR(weft_watch_recv(rx, &v, NULL), WEFT_ECANCELED);
  WEFT_EXPECT_OK(weft_watch_unsubscribe(rx));
  WEFT_EXPECT_OK(weft_watch_free(w));
  return 0;
}

static void test_watch_cancelled_receive_takes_nothing(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_cancel, NULL, NULL));
}

static int main_close(void* arg, void** result) {
  weft_watch_t* w;
  weft_watch_rx_t* a;
  weft_watch_rx_t* b;
  weft_watch_rx_t* c;
  void* v;
  uint64_t ver;
  (void)arg;
  (void)result;
  reset();
  WEFT_EXPECT_OK(weft_watch_new(new_int(0), destroy, &w));
  WEFT_EXPECT_OK(weft_watch_subscribe(w, &a));
  WEFT_EXPECT_OK(weft_watch_subscribe(w, &b));
  weft_task_t* t = spawn_waiter(a);
  WEFT_EXPECT_OK(weft_watch_send(w, new_int(1)));
  WEFT_EXPECT_EQ(await_version(t, 0), 1);
  t = spawn_waiter(a);
  WEFT_EXPECT_OK(weft_watch_close(w));
  WEFT_EXPECT_OK(weft_watch_close(w)); /* harmless */
  await_version(t, WEFT_ECLOSED);
  /* b has not received 1 yet: it gets it, then the close. */
  WEFT_EXPECT_OK(weft_watch_recv(b, &v, &ver));
  WEFT_EXPECT_EQ(*(int*)v, 1);
  WEFT_EXPECT_ERR(weft_watch_recv(b, &v, NULL), WEFT_ECLOSED);
  WEFT_EXPECT_ERR(weft_watch_try_recv(b, &v, NULL), WEFT_ECLOSED);
  WEFT_EXPECT_OK(weft_watch_get(b, &v, &ver)); /* still readable */
  WEFT_EXPECT_EQ(*(int*)v, 1);
  WEFT_EXPECT_EQ(ver, 1);
  int* mine = new_int(2);
  WEFT_EXPECT_ERR(weft_watch_send(w, mine), WEFT_ECLOSED);
  free(mine); /* refused: still ours */
  WEFT_EXPECT_ERR(weft_watch_subscribe(w, &c), WEFT_ECLOSED);
  WEFT_EXPECT(c == NULL);
  WEFT_EXPECT_OK(weft_watch_unsubscribe(a));
  WEFT_EXPECT_OK(weft_watch_unsubscribe(b));
  WEFT_EXPECT_OK(weft_watch_free(w));
  WEFT_EXPECT_EQ(destroyed(), 2);
  return 0;
}

static void test_watch_close(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_close, NULL, NULL));
}

/* ---- Many senders and receivers, tasks and threads ----------------------- */

enum { kSenders = 4, kSends = 500, kTaskRx = 4 };

typedef struct {
  weft_watch_rx_t* rx;
  uint64_t last;
  uint64_t got;
} rx_state_t;

/* Versions only grow, each value is the one its version was sent with
 * (value = version, sent under a lock the senders share), and it is
 * readable (ASan sees a value destroyed too early). The last value is
 * received before the close is seen. */
static void drain(rx_state_t* s, int* total_sends) {
  void* v;
  uint64_t ver;
  int err;
  while ((err = weft_watch_recv(s->rx, &v, &ver)) == 0) {
    WEFT_EXPECT(ver > s->last);
    WEFT_EXPECT_EQ(*(int*)v, (int)ver);
    s->last = ver;
    s->got++;
  }
  WEFT_EXPECT_ERR(err, WEFT_ECLOSED);
  WEFT_EXPECT_EQ(s->last, *total_sends);
}

static weft_watch_t* g_w;
static pthread_mutex_t g_send_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_total = kSenders * kSends;

static int rx_task(void* arg, void** result) {
  (void)result;
  drain(arg, &g_total);
  return 0;
}

static void* rx_thread(void* arg) {
  drain(arg, &g_total);
  return NULL;
}

static int sender(void* arg, void** result) {
  (void)arg;
  (void)result;
  for (int i = 0; i < kSends; i++) {
    /* The lock pairs each value with its version; no await inside. */
    pthread_mutex_lock(&g_send_mu);
    int next = (int)weft_watch_version(g_w) + 1;
    WEFT_EXPECT_OK(weft_watch_send(g_w, new_int(next)));
    pthread_mutex_unlock(&g_send_mu);
    if (i % 16 == 0)
      weft_yield();
  }
  return 0;
}

static int join_fn(void* arg, void** result) {
  (void)result;
  return pthread_join(*(pthread_t*)arg, NULL) == 0 ? 0 : WEFT_EINVAL;
}

static int main_many(void* arg, void** result) {
  rx_state_t rs[kTaskRx + 1] = {0};
  weft_task_t* rt[kTaskRx];
  weft_task_t* st[kSenders];
  pthread_t th;
  (void)arg;
  (void)result;
  reset();
  WEFT_EXPECT_OK(weft_watch_new(new_int(0), destroy, &g_w));
  for (int i = 0; i <= kTaskRx; i++)
    WEFT_EXPECT_OK(weft_watch_subscribe(g_w, &rs[i].rx));
  for (int i = 0; i < kTaskRx; i++)
    WEFT_EXPECT_OK(weft_spawn(NULL, rx_task, &rs[i], NULL, &rt[i]));
  WEFT_EXPECT_EQ(pthread_create(&th, NULL, rx_thread, &rs[kTaskRx]), 0);
  for (int i = 0; i < kSenders; i++)
    WEFT_EXPECT_OK(weft_spawn(NULL, sender, NULL, NULL, &st[i]));
  for (int i = 0; i < kSenders; i++) {
    WEFT_EXPECT_OK(weft_await(st[i], NULL));
    weft_task_release(st[i]);
  }
  WEFT_EXPECT_OK(weft_watch_close(g_w));
  for (int i = 0; i < kTaskRx; i++) {
    WEFT_EXPECT_OK(weft_await(rt[i], NULL));
    weft_task_release(rt[i]);
  }
  WEFT_EXPECT_OK(weft_run_blocking(join_fn, &th, NULL));
  for (int i = 0; i <= kTaskRx; i++) {
    WEFT_EXPECT(rs[i].got >= 1);
    WEFT_EXPECT_OK(weft_watch_unsubscribe(rs[i].rx));
  }
  WEFT_EXPECT_OK(weft_watch_free(g_w));
  WEFT_EXPECT_EQ(destroyed(), g_total + 1); /* each value once */
  return 0;
}

static void test_watch_many_senders_and_receivers(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(4, main_many, NULL, NULL));
  WEFT_ASSERT_OK(weft_test_run(1, main_many, NULL, NULL));
}

/* ---- Bad arguments ------------------------------------------------------- */

static void test_watch_argument_errors(void** state) {
  weft_watch_t* w = (void*)1;
  weft_watch_rx_t* rx = (void*)1;
  void* v;
  (void)state;
  WEFT_ASSERT_ERR(weft_watch_new(NULL, NULL, NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_watch_subscribe(NULL, &rx), WEFT_EINVAL);
  assert_null(rx);
  WEFT_ASSERT_ERR(weft_watch_send(NULL, NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_watch_close(NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_watch_recv(NULL, &v, NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_watch_try_recv(NULL, &v, NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_watch_get(NULL, &v, NULL), WEFT_EINVAL);
  assert_int_equal(weft_watch_version(NULL), 0);
  WEFT_ASSERT_OK(weft_watch_unsubscribe(NULL));
  WEFT_ASSERT_OK(weft_watch_free(NULL));
  WEFT_ASSERT_OK(weft_watch_new(NULL, NULL, &w));
  WEFT_ASSERT_ERR(weft_watch_subscribe(w, NULL), WEFT_EINVAL);
  WEFT_ASSERT_OK(weft_watch_subscribe(w, &rx));
  WEFT_ASSERT_ERR(weft_watch_recv(rx, NULL, NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_watch_try_recv(rx, NULL, NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_watch_get(rx, NULL, NULL), WEFT_EINVAL);
  /* Outside any runtime, from a plain thread, with nothing to wait for. */
  WEFT_ASSERT_OK(weft_watch_send(w, (void*)3));
  WEFT_ASSERT_OK(weft_watch_recv(rx, &v, NULL));
  assert_ptr_equal(v, (void*)3);
  WEFT_ASSERT_OK(weft_watch_unsubscribe(rx));
  WEFT_ASSERT_OK(weft_watch_free(w));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_watch_latest_value_and_lifetimes),
      cmocka_unit_test(test_watch_send_wakes_every_receiver),
      cmocka_unit_test(test_watch_cancelled_receive_takes_nothing),
      cmocka_unit_test(test_watch_close),
      cmocka_unit_test(test_watch_many_senders_and_receivers),
      cmocka_unit_test(test_watch_argument_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
