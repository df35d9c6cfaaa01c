/* Timeout scopes, wait_for and shield: deadlines are delivered as
 * cancellations, reported as WEFT_ETIMEDOUT at the scope's exit, and never
 * leak into later awaits. Deadlines here are short and the sleeps they cut
 * are an hour long, so outcomes do not depend on the machine's speed. */
#include <uv.h>

#include "core/runtime.h"
#include "core/worker.h"
#include "helpers.h"

static int scope_cuts_a_long_sleep(void* arg, void** result) {
  weft_timeout_t* tm;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_timeout_enter(10, &tm));
  WEFT_EXPECT_ERR(weft_sleep_ms(3600 * 1000), WEFT_ECANCELED);
  WEFT_EXPECT_ERR(weft_timeout_exit(tm), WEFT_ETIMEDOUT);
  WEFT_EXPECT_OK(weft_sleep_ms(1)); /* nothing left pending */
  return 0;
}

static void test_timeout_scope_cuts_an_await(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, scope_cuts_a_long_sleep, NULL, NULL));
  WEFT_ASSERT_OK(weft_test_run(2, scope_cuts_a_long_sleep, NULL, NULL));
}

static int scope_left_in_time(void* arg, void** result) {
  weft_timeout_t* tm;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_timeout_enter(20, &tm));
  WEFT_EXPECT_OK(weft_sleep_ms(1));
  WEFT_EXPECT_OK(weft_timeout_exit(tm));
  /* Sleep past the old deadline: the closed scope must not fire. */
  WEFT_EXPECT_OK(weft_sleep_ms(40));
  return 0;
}

static void test_timeout_scope_left_in_time_fires_nothing(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, scope_left_in_time, NULL, NULL));
}

static int nested_scopes(void* arg, void** result) {
  weft_timeout_t *outer, *inner;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_timeout_enter(3600 * 1000, &outer));
  WEFT_EXPECT_OK(weft_timeout_enter(5, &inner));
  WEFT_EXPECT_ERR(weft_sleep_ms(3600 * 1000), WEFT_ECANCELED);
  WEFT_EXPECT_ERR(weft_timeout_exit(inner), WEFT_ETIMEDOUT);
  WEFT_EXPECT_OK(weft_sleep_ms(1));
  WEFT_EXPECT_OK(weft_timeout_exit(outer));
  return 0;
}

static void test_timeout_nested_inner_fires(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, nested_scopes, NULL, NULL));
}

static int spin_past_deadline(void* arg, void** result) {
  weft_timeout_t* tm;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_timeout_enter(1, &tm));
  /* Run past the deadline without awaiting (a CPU-bound stretch). */
  uint64_t until = weft_now_ns() + 5 * 1000 * 1000;
  while (weft_now_ns() < until) {
  }
  WEFT_EXPECT_ERR(weft_timeout_exit(tm), WEFT_ETIMEDOUT);
  WEFT_EXPECT_OK(weft_sleep_ms(1)); /* no cancellation left behind */
  return 0;
}

static void test_timeout_deadline_passed_without_await(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, spin_past_deadline, NULL, NULL));
}

static int main_wait_for(void* arg, void** result) {
  weft_task_t *slow, *fast;
  void* r = NULL;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_spawn(NULL, weft_test_sleep_hour, NULL, NULL, &slow));
  WEFT_EXPECT_ERR(weft_wait_for(slow, 10, NULL), WEFT_ETIMEDOUT);
  WEFT_EXPECT(weft_task_cancelled(slow)); /* cancelled and ended */
  WEFT_EXPECT_OK(weft_spawn(NULL, weft_test_ret_arg, (void*)3, NULL, &fast));
  WEFT_EXPECT_OK(weft_wait_for(fast, 3600 * 1000, &r));
  WEFT_EXPECT_EQ((intptr_t)r, 3);
  WEFT_EXPECT_OK(weft_sleep_ms(1));
  weft_task_release(slow);
  weft_task_release(fast);
  return 0;
}

static void test_timeout_wait_for(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_wait_for, NULL, NULL));
  WEFT_ASSERT_OK(weft_test_run(2, main_wait_for, NULL, NULL));
}

typedef struct {
  weft_future_t* release; /* the shielded task waits for this */
  weft_task_t* child;
} shield_t;

static int shielded_child(void* arg, void** result) {
  shield_t* s = arg;
  int err = weft_future_await(s->release, NULL);
  *result = (void*)5;
  return err;
}

static int shielding_parent(void* arg, void** result) {
  shield_t* s = arg;
  (void)result;
  return weft_await_shielded(s->child, NULL);
}

static int main_shield(void* arg, void** result) {
  shield_t s;
  weft_task_t* parent;
  void* r = NULL;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_future_new(&s.release));
  WEFT_EXPECT_OK(weft_spawn(NULL, shielded_child, &s, NULL, &s.child));
  WEFT_EXPECT_OK(weft_spawn(NULL, shielding_parent, &s, NULL, &parent));
  WEFT_EXPECT_EQ(WEFT_YIELD_UNTIL(weft_task_state(parent) ==
                                  WEFT_TASK_SUSPENDED),
                 0);
  WEFT_EXPECT_OK(weft_cancel(parent));
  WEFT_EXPECT_ERR(weft_await(parent, NULL), WEFT_ECANCELED);
  WEFT_EXPECT_EQ(weft_task_done(s.child), 0); /* shielded: still running */
  WEFT_EXPECT_OK(weft_future_set_result(s.release, NULL));
  WEFT_EXPECT_OK(weft_await(s.child, &r));
  WEFT_EXPECT_EQ((intptr_t)r, 5);
  weft_task_release(parent);
  weft_task_release(s.child);
  weft_future_release(s.release);
  return 0;
}

static void test_timeout_shield_keeps_the_inner_task(void** state) {
  (void)state;
  for (int i = 0; i < 20; i++) {
    WEFT_ASSERT_OK(weft_test_run(1, main_shield, NULL, NULL));
    WEFT_ASSERT_OK(weft_test_run(2, main_shield, NULL, NULL));
  }
}

static void test_timeout_outside_task(void** state) {
  weft_timeout_t* tm;
  (void)state;
  WEFT_ASSERT_ERR(weft_timeout_enter(1, &tm), WEFT_ENOTTASK);
  WEFT_ASSERT_ERR(weft_timeout_exit(NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_wait_for(NULL, 1, NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_await_shielded(NULL, NULL), WEFT_EINVAL);
}

/* Issue 16: a scope's exit took back any pending cancellation. Here the
 * deadline fires (delivered to the sleep), then someone else cancels the
 * task (the task itself, which is as outside as any other canceller, and
 * keeps the order fixed): exit must report WEFT_ECANCELED and leave that
 * request for the next await, not swallow it as WEFT_ETIMEDOUT. */
static int outside_cancel_after_deadline(void* arg, void** result) {
  weft_timeout_t* tm;
  weft_task_t* self = weft_current_task();
  (void)arg;
  (void)result;
  WEFT_EXPECT_EQ(weft_task_cancelling(self), 0);
  WEFT_EXPECT_OK(weft_timeout_enter(5, &tm));
  WEFT_EXPECT_ERR(weft_sleep_ms(3600 * 1000), WEFT_ECANCELED);
  WEFT_EXPECT_EQ(weft_task_cancelling(self), 1);
  WEFT_EXPECT_OK(weft_cancel(self));
  WEFT_EXPECT_EQ(weft_task_cancelling(self), 2);
  WEFT_EXPECT_ERR(weft_timeout_exit(tm), WEFT_ECANCELED);
  WEFT_EXPECT_EQ(weft_task_cancelling(self), 1);
  WEFT_EXPECT_ERR(weft_yield(), WEFT_ECANCELED); /* still delivered */
  WEFT_EXPECT_OK(weft_yield());
  return 0;
}

static void test_timeout_keeps_an_outside_cancel(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, outside_cancel_after_deadline, NULL, NULL));
  WEFT_ASSERT_OK(weft_test_run(2, outside_cancel_after_deadline, NULL, NULL));
}

/* The outside request lands first and both are delivered by one await:
 * the deadline's is taken back, the other is reported by exit. */
static int outside_cancel_with_deadline(void* arg, void** result) {
  weft_timeout_t* tm;
  weft_task_t* self = weft_current_task();
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_timeout_enter(1, &tm));
  WEFT_EXPECT_OK(weft_cancel(self)); /* pending, not yet delivered */
  /* Compute past the deadline, so that it fires (or is found passed at
   * exit) with the outside request still pending. */
  uint64_t until = weft_now_ns() + 3 * 1000 * 1000;
  while (weft_now_ns() < until) {
  }
  int rc = weft_timeout_exit(tm);
  /* Fired (another worker's driver ran the timer): the other request is
   * reported. Not fired: the deadline is reported with nothing taken. In
   * both cases the outside request is still pending. */
  WEFT_EXPECT(rc == WEFT_ECANCELED || rc == WEFT_ETIMEDOUT);
  WEFT_EXPECT_ERR(weft_yield(), WEFT_ECANCELED);
  WEFT_EXPECT_OK(weft_yield());
  return 0;
}

static void test_timeout_coalesced_outside_cancel_survives(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, outside_cancel_with_deadline, NULL, NULL));
  WEFT_ASSERT_OK(weft_test_run(2, outside_cancel_with_deadline, NULL, NULL));
}

/* Nested: the outer deadline cancels while the inner scope is open; the
 * inner scope reports the outer's request as WEFT_ECANCELED (it did not
 * cause it) and the outer reports WEFT_ETIMEDOUT (asyncio's nesting). */
static int outer_fires_inside_inner(void* arg, void** result) {
  weft_timeout_t *outer, *inner;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_timeout_enter(5, &outer));
  WEFT_EXPECT_OK(weft_timeout_enter(3600 * 1000, &inner));
  WEFT_EXPECT_ERR(weft_sleep_ms(3600 * 1000), WEFT_ECANCELED);
  WEFT_EXPECT_OK(weft_timeout_exit(inner));
  WEFT_EXPECT_ERR(weft_timeout_exit(outer), WEFT_ETIMEDOUT);
  WEFT_EXPECT_OK(weft_yield());
  return 0;
}

static void test_timeout_outer_fires_inside_inner(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, outer_fires_inside_inner, NULL, NULL));
}

/* Scopes that end long before their deadline, on another worker than
 * their timer's, leave their entries behind uncounted; the heap must not
 * keep them all until their deadlines (a client's 300 s default deadline
 * per request grew it without bound). weft_uv_enter moves the task
 * between the two workers, so every scope starts on worker 0 and ends on
 * worker 1. */
static int scopes_ended_elsewhere(void* arg, void** result) {
  (void)arg;
  (void)result;
  weft_runtime_t* rt = weft_current_runtime();
  uv_loop_t* home = &rt->workers[0]->loop;
  uv_loop_t* away = &rt->workers[1]->loop;
  for (int i = 0; i < 20000; i++) {
    weft_timeout_t* tm;
    if (!WEFT_EXPECT_OK(weft_uv_enter(home)) ||
        !WEFT_EXPECT_OK(weft_timeout_enter(3600 * 1000, &tm)))
      return WEFT_EINVAL;
    WEFT_EXPECT_OK(weft_uv_enter(away));
    WEFT_EXPECT_OK(weft_timeout_exit(tm));
  }
  /* Holding worker 0's loop: its heap is ours to read. */
  WEFT_EXPECT_OK(weft_uv_enter(home));
  WEFT_EXPECT(rt->workers[0]->timers.len <= 4096); /* 20000 unswept */
  return 0;
}

static void test_timeout_dead_entries_swept(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, scopes_ended_elsewhere, NULL, NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_timeout_scope_cuts_an_await),
      cmocka_unit_test(test_timeout_scope_left_in_time_fires_nothing),
      cmocka_unit_test(test_timeout_nested_inner_fires),
      cmocka_unit_test(test_timeout_deadline_passed_without_await),
      cmocka_unit_test(test_timeout_wait_for),
      cmocka_unit_test(test_timeout_dead_entries_swept),
      cmocka_unit_test(test_timeout_shield_keeps_the_inner_task),
      cmocka_unit_test(test_timeout_outside_task),
      cmocka_unit_test(test_timeout_keeps_an_outside_cancel),
      cmocka_unit_test(test_timeout_coalesced_outside_cancel_survives),
      cmocka_unit_test(test_timeout_outer_fires_inside_inner),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
