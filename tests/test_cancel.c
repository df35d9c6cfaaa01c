/* Cancellation: before a task starts, while it sleeps, from a thread
 * outside the runtime, through an await of a child (inline or parked),
 * cleanup after a cancel, repeated requests, and finished tasks.
 *
 * Tests that need a task to be in a given state get there by yielding
 * until weft_task_state() says so, never by sleeping. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#include "helpers.h"

static const uint64_t kHour = 3600 * 1000;

static int set_flag(void* arg, void** result) {
  (void)result;
  atomic_store((atomic_int*)arg, 1);
  return 0;
}

/* Sleeps an hour; stores what the sleep returned in *arg. */
static int sleep_hour(void* arg, void** result) {
  (void)result;
  int rc = weft_sleep_ms(kHour);
  if (arg != NULL)
    atomic_store((atomic_int*)arg, rc);
  return rc;
}

static int main_cancel_before_start(void* arg, void** result) {
  (void)arg;
  (void)result;
  for (int yield_first = 0; yield_first < 2; yield_first++) {
    atomic_int ran = 0;
    weft_task_t* t;
    /* One worker, no await between spawn and cancel: not started yet. */
    WEFT_EXPECT_OK(weft_spawn(NULL, set_flag, &ran, NULL, &t));
    WEFT_EXPECT_EQ(weft_task_state(t), WEFT_TASK_QUEUED);
    WEFT_EXPECT_OK(weft_cancel(t));
    /* Either the worker takes it from its queue, or our await finds it
     * and would run it inline: both must end it unstarted. */
    if (yield_first)
      WEFT_EXPECT_OK(WEFT_YIELD_UNTIL(weft_task_done(t)));
    WEFT_EXPECT_ERR(weft_await(t, NULL), WEFT_ECANCELED);
    WEFT_EXPECT(weft_task_cancelled(t));
    WEFT_EXPECT_EQ(atomic_load(&ran), 0);
    weft_task_release(t);
  }
  return 0;
}

static void test_cancel_before_start(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_cancel_before_start, NULL, NULL));
}

static int main_cancel_sleeping(void* arg, void** result) {
  atomic_int rc = 1;
  weft_task_t* t;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_spawn(NULL, sleep_hour, &rc, NULL, &t));
  WEFT_EXPECT_OK(WEFT_YIELD_UNTIL(weft_task_state(t) == WEFT_TASK_SUSPENDED));
  WEFT_EXPECT_OK(weft_cancel(t));
  /* An hour-long sleep: this returns promptly or the test times out. */
  WEFT_EXPECT_ERR(weft_await(t, NULL), WEFT_ECANCELED);
  WEFT_EXPECT_ERR(atomic_load(&rc), WEFT_ECANCELED);
  WEFT_EXPECT(weft_task_cancelled(t));
  weft_task_release(t);
  return 0;
}

static void test_cancel_while_sleeping(void** state) {
  (void)state;
  for (unsigned workers = 1; workers <= 2; workers++)
    WEFT_ASSERT_OK(weft_test_run(workers, main_cancel_sleeping, NULL, NULL));
}

static void* cancel_when_suspended(void* arg) {
  weft_task_t* t = arg;
  while (weft_task_state(t) != WEFT_TASK_SUSPENDED)
    sched_yield();
  WEFT_EXPECT_OK(weft_cancel(t));
  weft_task_release(t);
  return NULL;
}

static void test_cancel_from_foreign_thread(void** state) {
  weft_config_t cfg = {.workers = 2, .stack_size = 0};
  weft_runtime_t* rt;
  weft_task_t* t;
  pthread_t th;
  atomic_int rc = 1;
  (void)state;
  weft_test_reset_failures();
  WEFT_ASSERT_OK(weft_runtime_new(&cfg, &rt));
  WEFT_ASSERT_OK(weft_spawn(rt, sleep_hour, &rc, NULL, &t));
  assert_int_equal(pthread_create(&th, NULL, cancel_when_suspended,
                                  weft_task_retain(t)),
                   0);
  WEFT_ASSERT_ERR(weft_await(t, NULL), WEFT_ECANCELED);
  assert_int_equal(pthread_join(th, NULL), 0);
  assert_int_equal(atomic_load(&rc), WEFT_ECANCELED);
  weft_task_release(t);
  weft_test_assert_no_live_tasks(rt);
  WEFT_ASSERT_OK(weft_runtime_free(rt));
  WEFT_ASSERT_NO_FAILURES();
}

/* ---- Through an await ------------------------------------------------- */

typedef struct {
  int inline_child; /* await at once (fast path) or let it start */
  _Atomic(weft_task_t*) child;
  atomic_int child_rc; /* what the child's sleep returned */
  atomic_int await_rc; /* what the parent's await of it returned */
  atomic_int after_rc; /* the parent's next await (a short sleep) */
} join_t;

static int parent(void* arg, void** result) {
  join_t* j = arg;
  weft_task_t* c;
  (void)result;
  WEFT_EXPECT_OK(weft_spawn(NULL, sleep_hour, &j->child_rc, NULL, &c));
  if (!j->inline_child)
    WEFT_EXPECT_OK(WEFT_YIELD_UNTIL(weft_task_state(c) == WEFT_TASK_SUSPENDED));
  atomic_store(&j->child, weft_task_retain(c));
  atomic_store(&j->await_rc, weft_await(c, NULL));
  weft_task_release(c);
  /* The request was delivered through the child: it is not pending. */
  atomic_store(&j->after_rc, weft_sleep_ms(1));
  return atomic_load(&j->await_rc);
}

static int main_cancel_join(void* arg, void** result) {
  join_t* j = arg;
  weft_task_t* p;
  weft_task_t* c;
  (void)result;
  WEFT_EXPECT_OK(weft_spawn(NULL, parent, j, NULL, &p));
  /* The child sleeps on its own stack, or on the parent's when it runs
   * inline; either way it is the one suspended. */
  WEFT_EXPECT_OK(WEFT_YIELD_UNTIL((c = atomic_load(&j->child)) != NULL &&
                                  weft_task_state(c) == WEFT_TASK_SUSPENDED));
  WEFT_EXPECT_OK(weft_cancel(p));
  WEFT_EXPECT_ERR(weft_await(p, NULL), WEFT_ECANCELED);
  WEFT_EXPECT(weft_task_cancelled(c));
  weft_task_release(c);
  weft_task_release(p);
  return 0;
}

static void test_cancel_while_awaiting_child(void** state) {
  (void)state;
  for (int inl = 0; inl < 2; inl++) {
    for (unsigned workers = 1; workers <= 2; workers++) {
      join_t j;
      memset(&j, 0, sizeof(j));
      j.inline_child = inl;
      atomic_store(&j.child_rc, 1);
      WEFT_ASSERT_OK(weft_test_run(workers, main_cancel_join, &j, NULL));
      assert_int_equal(atomic_load(&j.child_rc), WEFT_ECANCELED);
      assert_int_equal(atomic_load(&j.await_rc), WEFT_ECANCELED);
      assert_int_equal(atomic_load(&j.after_rc), 0);
    }
  }
}

/* ---- After a cancel --------------------------------------------------- */

typedef struct {
  int cancels; /* requests to send */
  atomic_int rc[5];
} cleanup_t;

/* Gets cancelled, then cleans up with more awaits, which all work. */
static int cleaner(void* arg, void** result) {
  cleanup_t* c = arg;
  weft_task_t* t;
  void* r = NULL;
  (void)result;
  atomic_store(&c->rc[0], weft_sleep_ms(kHour));
  atomic_store(&c->rc[1], weft_sleep_ms(1));
  atomic_store(&c->rc[2], weft_yield());
  WEFT_EXPECT_OK(weft_spawn(NULL, weft_test_ret_arg, (void*)11, NULL, &t));
  WEFT_EXPECT_OK(weft_yield()); /* let it start on its own */
  atomic_store(&c->rc[3], weft_await(t, &r));
  atomic_store(&c->rc[4], r == (void*)11 ? 0 : -1);
  weft_task_release(t);
  return 0;
}

static int main_cleanup(void* arg, void** result) {
  weft_task_t* t;
  (void)result;
  WEFT_EXPECT_OK(weft_spawn(NULL, cleaner, arg, NULL, &t));
  WEFT_EXPECT_OK(WEFT_YIELD_UNTIL(weft_task_state(t) == WEFT_TASK_SUSPENDED));
  /* Repeated requests before delivery count once. With one worker they
   * are all sent before delivery: only that worker delivers, and it is
   * running us. */
  for (int i = 0; i < ((cleanup_t*)arg)->cancels; i++)
    WEFT_EXPECT_OK(weft_cancel(t));
  /* It handled the cancel and returned 0: that is its status. */
  WEFT_EXPECT_OK(weft_await(t, NULL));
  WEFT_EXPECT(!weft_task_cancelled(t));
  weft_task_release(t);
  return 0;
}

static void test_cancel_task_may_await_after_cancel(void** state) {
  (void)state;
  for (unsigned workers = 1; workers <= 2; workers++) {
    cleanup_t c;
    c.cancels = workers == 1 ? 3 : 1;
    for (int i = 0; i < 5; i++)
      atomic_store(&c.rc[i], 1);
    WEFT_ASSERT_OK(weft_test_run(workers, main_cleanup, &c, NULL));
    assert_int_equal(atomic_load(&c.rc[0]), WEFT_ECANCELED);
    for (int i = 1; i < 5; i++)
      assert_int_equal(atomic_load(&c.rc[i]), 0);
  }
}

static int main_cancel_finished(void* arg, void** result) {
  atomic_int ran = 0;
  weft_task_t* t;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_spawn(NULL, set_flag, &ran, NULL, &t));
  WEFT_EXPECT_OK(weft_await(t, NULL));
  WEFT_EXPECT_ERR(weft_cancel(t), WEFT_EBUSY);
  WEFT_EXPECT_OK(weft_task_result(t, NULL)); /* unchanged */
  WEFT_EXPECT(!weft_task_cancelled(t));
  weft_task_release(t);
  /* A task that ended cancelled is finished too. */
  WEFT_EXPECT_OK(weft_spawn(NULL, set_flag, &ran, NULL, &t));
  WEFT_EXPECT_OK(weft_cancel(t));
  WEFT_EXPECT_ERR(weft_await(t, NULL), WEFT_ECANCELED);
  WEFT_EXPECT_ERR(weft_cancel(t), WEFT_EBUSY);
  weft_task_release(t);
  return 0;
}

static void test_cancel_finished_task_is_ebusy(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_cancel_finished, NULL, NULL));
}

/* Many tasks cancelled at once, from inside the runtime, across workers. */
enum { kMany = 1000 };

static int main_cancel_many(void* arg, void** result) {
  static weft_task_t* t[kMany];
  atomic_int* done = arg;
  (void)result;
  for (int i = 0; i < kMany; i++)
    WEFT_EXPECT_OK(weft_spawn(NULL, sleep_hour, NULL, NULL, &t[i]));
  /* Some are asleep, some may not have started: both end cancelled. */
  for (int i = 0; i < kMany; i += 2)
    WEFT_EXPECT_OK(
        WEFT_YIELD_UNTIL(weft_task_state(t[i]) == WEFT_TASK_SUSPENDED));
  for (int i = 0; i < kMany; i++)
    WEFT_EXPECT_OK(weft_cancel(t[i]));
  for (int i = 0; i < kMany; i++) {
    if (WEFT_EXPECT_ERR(weft_await(t[i], NULL), WEFT_ECANCELED))
      atomic_fetch_add(done, 1);
    weft_task_release(t[i]);
  }
  return 0;
}

static void test_cancel_many_sleepers(void** state) {
  atomic_int done = 0;
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_cancel_many, &done, NULL));
  assert_int_equal(atomic_load(&done), kMany);
}

/* ---- A request pending before the await ---------------------------------- */

static atomic_int pending_child_ran;

static int pending_child(void* arg, void** result) {
  (void)arg;
  (void)result;
  atomic_store(&pending_child_ran, 1);
  return weft_sleep_ms(3600 * 1000); /* until cancelled */
}

/* The awaiter's own cancellation is already pending when it awaits: the
 * child is cancelled too and the await waits for it, as asyncio does
 * (issue 16's first bug: it returned at once, the child left running). */
static int main_await_with_pending_cancel(void* arg, void** result) {
  weft_task_t* child;
  int started = (int)(intptr_t)arg;
  (void)result;
  atomic_store(&pending_child_ran, 0);
  WEFT_EXPECT_OK(weft_spawn(NULL, pending_child, NULL, NULL, &child));
  if (started) /* the child sleeps already: the slow path's forward */
    WEFT_EXPECT_OK(
        WEFT_YIELD_UNTIL(atomic_load(&pending_child_ran) &&
                         weft_task_state(child) == WEFT_TASK_SUSPENDED));
  WEFT_EXPECT_OK(weft_cancel(weft_current_task()));
  WEFT_EXPECT_ERR(weft_await(child, NULL), WEFT_ECANCELED);
  WEFT_EXPECT(weft_task_done(child));
  if (!started) /* cancelled before it ran: its body never did */
    WEFT_EXPECT_EQ(atomic_load(&pending_child_ran), 0);
  weft_task_release(child);
  /* The request was delivered by forwarding it: nothing is left. */
  WEFT_EXPECT_OK(weft_yield());
  return 0;
}

static void test_cancel_pending_before_await_reaches_child(void** state) {
  (void)state;
  for (unsigned workers = 1; workers <= 2; workers++)
    for (intptr_t started = 0; started <= 1; started++)
      WEFT_ASSERT_OK(weft_test_run(workers, main_await_with_pending_cancel,
                                   (void*)started, NULL));
}

/* A shielded await with a request pending ends at once; the task runs on
 * and the request counts as delivered. */
static int main_shielded_with_pending_cancel(void* arg, void** result) {
  weft_task_t* child;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_spawn(NULL, weft_test_ret_arg, (void*)7, NULL, &child));
  WEFT_EXPECT_OK(weft_cancel(weft_current_task()));
  WEFT_EXPECT_ERR(weft_await_shielded(child, NULL), WEFT_ECANCELED);
  void* r = NULL;
  WEFT_EXPECT_OK(weft_await(child, &r));
  WEFT_EXPECT(r == (void*)7);
  weft_task_release(child);
  return 0;
}

static void test_cancel_pending_before_shielded_await(void** state) {
  (void)state;
  WEFT_ASSERT_OK(
      weft_test_run(1, main_shielded_with_pending_cancel, NULL, NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cancel_before_start),
      cmocka_unit_test(test_cancel_while_sleeping),
      cmocka_unit_test(test_cancel_from_foreign_thread),
      cmocka_unit_test(test_cancel_while_awaiting_child),
      cmocka_unit_test(test_cancel_task_may_await_after_cancel),
      cmocka_unit_test(test_cancel_finished_task_is_ebusy),
      cmocka_unit_test(test_cancel_many_sleepers),
      cmocka_unit_test(test_cancel_pending_before_await_reaches_child),
      cmocka_unit_test(test_cancel_pending_before_shielded_await),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
