/* Fairness on one worker: tasks that yield take turns, two tasks waking
 * each other through the LIFO slot leave room for a third, and a chain of
 * spawns does not keep an older queued task waiting until it ends. Each
 * case bounds the work that could starve the victim, so a starving
 * scheduler fails the test instead of hanging it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdatomic.h>
#include <string.h>

#include "helpers.h"

static const uint64_t kHour = 3600 * 1000;

enum { kYielders = 3, kYields = 100 };

static struct {
  atomic_int n;
  int log[kYielders * kYields];
} rr;

static int yielder(void* arg, void** result) {
  (void)result;
  for (int i = 0; i < kYields; i++) {
    rr.log[atomic_fetch_add(&rr.n, 1)] = (int)(intptr_t)arg;
    WEFT_EXPECT_OK(weft_yield());
  }
  return 0;
}

static int main_yielders(void* arg, void** result) {
  weft_task_t* t[kYielders];
  (void)arg;
  (void)result;
  for (intptr_t i = 0; i < kYielders; i++)
    WEFT_EXPECT_OK(weft_spawn(NULL, yielder, (void*)i, NULL, &t[i]));
  for (int i = 0; i < kYielders; i++) {
    WEFT_EXPECT_OK(weft_await(t[i], NULL));
    weft_task_release(t[i]);
  }
  return 0;
}

static void test_fairness_yield_is_round_robin(void** state) {
  (void)state;
  atomic_store(&rr.n, 0);
  WEFT_ASSERT_OK(weft_test_run(1, main_yielders, NULL, NULL));
  assert_int_equal(atomic_load(&rr.n), kYielders * kYields);
  /* Each task runs once per round, in the same order every round. */
  assert_int_not_equal(rr.log[0], rr.log[1]);
  assert_int_not_equal(rr.log[1], rr.log[2]);
  assert_int_not_equal(rr.log[0], rr.log[2]);
  for (int i = kYielders; i < kYielders * kYields; i++)
    if (rr.log[i] != rr.log[i - kYielders])
      fail_msg("entry %d: task %d ran where task %d's turn was", i, rr.log[i],
               rr.log[i - kYielders]);
}

/* Two tasks that wake each other forever (each cancels the other's sleep,
 * and the woken task goes to the LIFO slot) must leave room for a third
 * task queued on the same worker. */
enum { kMaxRounds = 10000 };

static struct {
  weft_task_t* peer[2];
  atomic_int third_ran;
  int rounds[2];
} pp;

static int pinger(void* arg, void** result) {
  int me = (int)(intptr_t)arg;
  (void)result;
  for (int i = 0; i < kMaxRounds && !atomic_load(&pp.third_ran); i++) {
    if (me == 0 || i > 0) /* task 1 sleeps first, task 0 serves first */
      weft_cancel(pp.peer[1 - me]);
    if (!WEFT_EXPECT_ERR(weft_sleep_ms(kHour), WEFT_ECANCELED))
      break;
    pp.rounds[me]++;
  }
  weft_cancel(pp.peer[1 - me]); /* let the peer out: 0, or EBUSY */
  return 0;
}

static int third(void* arg, void** result) {
  (void)arg;
  (void)result;
  atomic_store(&pp.third_ran, 1);
  return 0;
}

static int main_pingpong(void* arg, void** result) {
  weft_task_t* t;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_spawn(NULL, pinger, (void*)1, NULL, &pp.peer[1]));
  WEFT_EXPECT_OK(
      WEFT_YIELD_UNTIL(weft_task_state(pp.peer[1]) == WEFT_TASK_SUSPENDED));
  WEFT_EXPECT_OK(weft_spawn(NULL, third, NULL, NULL, &t));
  WEFT_EXPECT_OK(weft_spawn(NULL, pinger, (void*)0, NULL, &pp.peer[0]));
  WEFT_EXPECT_OK(weft_await(t, NULL));
  weft_task_release(t);
  for (int i = 0; i < 2; i++) {
    WEFT_EXPECT_OK(weft_await(pp.peer[i], NULL));
    weft_task_release(pp.peer[i]);
  }
  return 0;
}

static void test_fairness_lifo_pingpong_does_not_starve_others(void** state) {
  (void)state;
  memset(&pp, 0, sizeof(pp));
  WEFT_ASSERT_OK(weft_test_run(1, main_pingpong, NULL, NULL));
  assert_true(atomic_load(&pp.third_ran));
  print_message("ping-pong rounds before the third task ran: %d + %d\n",
                pp.rounds[0], pp.rounds[1]);
  assert_true(pp.rounds[0] < kMaxRounds && pp.rounds[1] < kMaxRounds);
}

/* A chain of tasks, each spawning the next as its last act, must not keep
 * an older queued task from running on the same worker. */
enum { kMaxLinks = 10000 };

static struct {
  atomic_int older_ran;
  atomic_int links;
  atomic_int links_before_older;
  atomic_int ended;
} chain;

static int chain_link(void* arg, void** result) {
  uintptr_t left = (uintptr_t)arg;
  (void)result;
  atomic_fetch_add(&chain.links, 1);
  if (left > 0 && !atomic_load(&chain.older_ran))
    WEFT_EXPECT_OK(weft_spawn(NULL, chain_link, (void*)(left - 1), NULL, NULL));
  else
    atomic_store(&chain.ended, 1);
  return 0;
}

static int older(void* arg, void** result) {
  (void)arg;
  (void)result;
  atomic_store(&chain.links_before_older, atomic_load(&chain.links));
  atomic_store(&chain.older_ran, 1);
  return 0;
}

static int main_chain(void* arg, void** result) {
  weft_task_t* t;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_spawn(NULL, older, NULL, NULL, &t));
  WEFT_EXPECT_OK(
      weft_spawn(NULL, chain_link, (void*)(uintptr_t)kMaxLinks, NULL, NULL));
  WEFT_EXPECT_OK(weft_await(t, NULL));
  weft_task_release(t);
  return WEFT_YIELD_UNTIL(atomic_load(&chain.ended));
}

static void test_fairness_spawn_chain_does_not_starve_older_task(void** state) {
  (void)state;
  memset(&chain, 0, sizeof(chain));
  WEFT_ASSERT_OK(weft_test_run(1, main_chain, NULL, NULL));
  int n = atomic_load(&chain.links_before_older);
  print_message("chain links before the older task ran: %d\n", n);
  if (n >= kMaxLinks)
    fail_msg("the older task only ran after all %d links of the chain", n);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fairness_yield_is_round_robin),
      cmocka_unit_test(test_fairness_lifo_pingpong_does_not_starve_others),
      cmocka_unit_test(test_fairness_spawn_chain_does_not_starve_older_task),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
