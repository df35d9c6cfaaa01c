/* weft_await's fork–join fast path and its edges: which awaits run the
 * child inline, and which must not. */
#include <stdatomic.h>

#include "helpers.h"

static atomic_int runs_of_b;

static int sleep_then_return(void* arg, void** result) {
  *result = arg;
  return weft_sleep_ns(1000 * 1000);
}

static int count_runs_then_sleep(void* arg, void** result) {
  /* relaxed: read by the same runtime after awaits; a counter only. */
  atomic_fetch_add_explicit(&runs_of_b, 1, memory_order_relaxed);
  *result = arg;
  return weft_sleep_ns(1100 * 1000);
}

static int spin_3ms(void* arg, void** result) {
  uint64_t end = weft_now_ns() + 3 * 1000 * 1000;
  (void)arg;
  (void)result;
  /* Holds the only worker without awaiting, so the three sleeps below all
   * come due together and are woken in one batch. */
  while (weft_now_ns() < end) {
  }
  return 0;
}

/* Regression: a fiber that was woken and pushed out of the LIFO slot sits
 * on the deque; awaiting it must not run its function again inline. With
 * one worker: A, B and main sleep (1.0, 1.1, 1.2 ms) while C spins 3 ms;
 * then one timer batch wakes A, B, main (main ends up in the LIFO slot, B
 * at the deque's bottom), and main awaits B. The assertion holds whatever
 * the timing; the timing only makes the old bug's situation likely. */
static int main_awaits_woken(void* arg, void** result) {
  weft_task_t *a, *b, *c;
  void* ra = NULL;
  void* rb = NULL;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_spawn(NULL, sleep_then_return, (void*)1, NULL, &a));
  WEFT_EXPECT_OK(weft_spawn(NULL, count_runs_then_sleep, (void*)2, NULL, &b));
  WEFT_EXPECT_OK(weft_yield()); /* let A and B start sleeping */
  WEFT_EXPECT_OK(weft_spawn(NULL, spin_3ms, NULL, NULL, &c));
  WEFT_EXPECT_OK(weft_sleep_ns(1200 * 1000));
  WEFT_EXPECT_OK(weft_await(b, &rb));
  WEFT_EXPECT_OK(weft_await(a, &ra));
  WEFT_EXPECT_OK(weft_await(c, NULL));
  WEFT_EXPECT_EQ((intptr_t)ra, 1);
  WEFT_EXPECT_EQ((intptr_t)rb, 2);
  weft_task_release(a);
  weft_task_release(b);
  weft_task_release(c);
  return 0;
}

static void test_await_woken_task_not_rerun(void** state) {
  (void)state;
  for (int i = 0; i < 20; i++) {
    atomic_store_explicit(&runs_of_b, 0, memory_order_relaxed);
    WEFT_ASSERT_OK(weft_test_run(1, main_awaits_woken, NULL, NULL));
    assert_int_equal(atomic_load_explicit(&runs_of_b, memory_order_relaxed), 1);
  }
}

static int leaf(void* arg, void** result) {
  char here = 0;
  (void)arg;
  /* Where this function's frame is: on the awaiter's stack when it ran
   * inline, on a stack of its own otherwise. */
  *result = (void*)__builtin_frame_address(0);
  (void)here;
  return 0;
}

static int on_my_stack(void* frame, char* mine) {
  intptr_t d = (intptr_t)frame - (intptr_t)mine;
  return d > -64 * 1024 && d < 64 * 1024;
}

/* The newest never-started child of the awaiter's own worker runs inline;
 * an older one (not at the deque's bottom) is waited for instead. Both
 * give the right result. */
static int main_inline_and_not(void* arg, void** result) {
  weft_task_t *old, *young;
  void* f_old = NULL;
  void* f_young = NULL;
  char mine;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_spawn(NULL, leaf, NULL, NULL, &old));
  WEFT_EXPECT_OK(weft_spawn(NULL, leaf, NULL, NULL, &young));
  /* old is under young on the deque: waited for, not run inline. */
  WEFT_EXPECT_OK(weft_await(old, &f_old));
  WEFT_EXPECT(!on_my_stack(f_old, &mine));
  weft_task_release(young);
  /* young is now the newest and unstarted (or already done): either way
   * the await gives its result. A fresh child is inline for sure. */
  WEFT_EXPECT_OK(weft_spawn(NULL, leaf, NULL, NULL, &young));
  WEFT_EXPECT_OK(weft_await(young, &f_young));
  WEFT_EXPECT(on_my_stack(f_young, &mine));
  weft_task_release(old);
  weft_task_release(young);
  return 0;
}

static void test_await_inline_only_newest_unstarted(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_inline_and_not, NULL, NULL));
}

static int inner_cancelled(void* arg, void** result) {
  (void)arg;
  (void)result;
  return weft_sleep_ms(60 * 60 * 1000);
}

static int outer_awaits_inline(void* arg, void** result) {
  weft_task_t* child;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_spawn(NULL, inner_cancelled, NULL, NULL, &child));
  int st = weft_await(child, NULL); /* runs inline, sleeps an hour */
  weft_task_release(child);
  return st;
}

/* Cancelling a task whose inline child sleeps reaches the child (the
 * request is forwarded), and the outer task's await returns the child's
 * WEFT_ECANCELED. */
static int main_cancel_through_inline(void* arg, void** result) {
  weft_task_t* outer;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_spawn(NULL, outer_awaits_inline, NULL, NULL, &outer));
  /* Let outer start and its child go to sleep. */
  WEFT_EXPECT_EQ(WEFT_YIELD_UNTIL(weft_task_state(outer) ==
                                      WEFT_TASK_SUSPENDED ||
                                  weft_task_count(weft_current_runtime()) == 3),
                 0);
  WEFT_EXPECT_OK(weft_cancel(outer));
  WEFT_EXPECT_ERR(weft_await(outer, NULL), WEFT_ECANCELED);
  weft_task_release(outer);
  return 0;
}

static void test_await_cancel_reaches_inline_child(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_cancel_through_inline, NULL, NULL));
  WEFT_ASSERT_OK(weft_test_run(2, main_cancel_through_inline, NULL, NULL));
}

/* ---- A handle released by its owner while another task awaits it -------- */

static weft_future_t* gate;
static weft_task_t* shared_target;

static int await_gate_return_7(void* arg, void** result) {
  (void)arg;
  WEFT_EXPECT_OK(weft_future_await(gate, NULL));
  *result = (void*)7;
  return 0;
}

static int open_gate(void* arg, void** result) {
  (void)arg;
  (void)result;
  return weft_future_set_result(gate, NULL);
}

/* Awaits the shared target without a reference of its own (main owns the
 * handle). Registers its wait after main's, so it is woken first and main,
 * woken second, takes the LIFO slot, runs first and releases the handle. */
static int borrow_and_await(void* arg, void** result) {
  void* r = NULL;
  (void)arg;
  (void)result;
  WEFT_EXPECT_EQ(WEFT_YIELD_UNTIL(weft_task_state(shared_target) ==
                                  WEFT_TASK_SUSPENDED),
                 0);
  WEFT_EXPECT_OK(weft_spawn(NULL, open_gate, NULL, NULL, NULL));
  WEFT_EXPECT_OK(weft_await(shared_target, &r));
  WEFT_EXPECT_EQ((intptr_t)r, 7);
  return 0;
}

/* Regression: weft_await read the awaited task after waking without holding
 * a reference, so a task freed (and its header reused) in between made it
 * read a foreign status. Seen under TSan; with one worker the wake order
 * above makes the release come first every time. */
static int main_releases_while_other_waits(void* arg, void** result) {
  weft_task_t* borrower;
  weft_task_t* reuse;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_future_new(&gate));
  WEFT_EXPECT_OK(
      weft_spawn(NULL, await_gate_return_7, NULL, NULL, &shared_target));
  WEFT_EXPECT_OK(weft_spawn(NULL, borrow_and_await, NULL, NULL, &borrower));
  WEFT_EXPECT_OK(weft_await(shared_target, NULL));
  weft_task_release(shared_target);
  /* Would take the freed header from this worker's cache. */
  WEFT_EXPECT_OK(weft_spawn(NULL, weft_test_ret_arg, (void*)1, NULL, &reuse));
  WEFT_EXPECT_OK(weft_await(borrower, NULL));
  WEFT_EXPECT_OK(weft_await(reuse, NULL));
  weft_task_release(borrower);
  weft_task_release(reuse);
  weft_future_release(gate);
  return 0;
}

static void test_await_holds_its_own_reference(void** state) {
  (void)state;
  for (unsigned workers = 1; workers <= 2; workers++)
    WEFT_ASSERT_OK(
        weft_test_run(workers, main_releases_while_other_waits, NULL, NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_await_woken_task_not_rerun),
      cmocka_unit_test(test_await_inline_only_newest_unstarted),
      cmocka_unit_test(test_await_cancel_reaches_inline_child),
      cmocka_unit_test(test_await_holds_its_own_reference),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
