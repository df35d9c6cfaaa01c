/* Parked workers are woken when there is work for them: tasks that can
 * only finish together (each spins, without awaiting, until all have
 * started) finish only if every one of them got a worker of its own. A
 * lost wake-up shows as a hang, which the ctest timeout turns into a
 * failure; nothing here measures time. */
#include <stdatomic.h>

#include "helpers.h"
#include "core/worker.h"

typedef struct {
  atomic_int started;
  int parties;
} rendezvous_t;

static int spin_until_all_started(void* arg, void** result) {
  rendezvous_t* r = arg;
  (void)result;
  /* relaxed: a counter; nothing else is published through it. */
  atomic_fetch_add_explicit(&r->started, 1, memory_order_relaxed);
  /* relaxed: as above. No await: this task holds its worker. */
  while (atomic_load_explicit(&r->started, memory_order_relaxed) < r->parties) {
  }
  return 0;
}

static int main_rendezvous(void* arg, void** result) {
  rendezvous_t* r = arg;
  weft_task_t* t[8];
  (void)result;
  for (int i = 0; i < r->parties; i++)
    WEFT_EXPECT_OK(weft_spawn(NULL, spin_until_all_started, r, NULL, &t[i]));
  for (int i = 0; i < r->parties; i++) {
    WEFT_EXPECT_OK(weft_await(t[i], NULL));
    weft_task_release(t[i]);
  }
  return 0;
}

static void run_rendezvous(unsigned workers, int parties) {
  rendezvous_t r;
  atomic_init(&r.started, 0);
  r.parties = parties;
  WEFT_ASSERT_OK(weft_test_run(workers, main_rendezvous, &r, NULL));
  assert_int_equal(atomic_load(&r.started), parties);
}

/* Two tasks spawned together: the second push wakes the parked worker. */
static void test_idle_two_spawns_wake_a_second_worker(void** state) {
  (void)state;
  for (int i = 0; i < 50; i++)
    run_rendezvous(2, 2);
}

/* Four workers ramp up one at a time (a searcher that finds work wakes the
 * next); the main task runs one spinner inline, so all four workers must
 * end up busy. */
static void test_idle_ramp_up_to_every_worker(void** state) {
  (void)state;
  for (int i = 0; i < 20; i++)
    run_rendezvous(4, 4);
}

static int spawned_from_outside(void* arg, void** result) {
  rendezvous_t* r = arg;
  (void)result;
  return spin_until_all_started(r, NULL);
}

/* Spawns from a thread outside the runtime go to the global queue and wake
 * workers: two of them must run at once. */
static void test_idle_foreign_spawns_wake_workers(void** state) {
  weft_runtime_t* rt;
  weft_config_t cfg = {.workers = 2};
  (void)state;
  WEFT_ASSERT_OK(weft_runtime_new(&cfg, &rt));
  for (int i = 0; i < 50; i++) {
    rendezvous_t r;
    weft_task_t *a, *b;
    atomic_init(&r.started, 0);
    r.parties = 2;
    WEFT_ASSERT_OK(weft_spawn(rt, spawned_from_outside, &r, NULL, &a));
    WEFT_ASSERT_OK(weft_spawn(rt, spawned_from_outside, &r, NULL, &b));
    WEFT_ASSERT_OK(weft_await(a, NULL));
    WEFT_ASSERT_OK(weft_await(b, NULL));
    weft_task_release(a);
    weft_task_release(b);
  }
  WEFT_ASSERT_OK(weft_runtime_free(rt));
}

typedef struct {
  weft_future_t* go; /* completed by the waker: wakes the sleeper */
  atomic_int sleeper_ran;
} lifo_t;

static int sleeper(void* arg, void** result) {
  lifo_t* l = arg;
  (void)result;
  int err = weft_future_await(l->go, NULL);
  /* relaxed: the waker only spins on it. */
  atomic_store_explicit(&l->sleeper_ran, 1, memory_order_relaxed);
  return err;
}

/* Wakes the sleeper (into this worker's LIFO slot) and then computes
 * without awaiting until the sleeper has run: only another worker, taking
 * the slot from a stuck owner, can make that happen. */
static int waker_that_hogs(void* arg, void** result) {
  lifo_t* l = arg;
  (void)result;
  WEFT_EXPECT_OK(weft_future_set_result(l->go, NULL));
  /* relaxed: set by the sleeper; no data depends on it. */
  while (!atomic_load_explicit(&l->sleeper_ran, memory_order_relaxed)) {
  }
  return 0;
}

/* The sleeper parks on the future; then `arg`, a waker, wakes it into its
 * worker's LIFO slot and hogs that worker until the sleeper has run. */
static int main_lifo(void* arg, void** result) {
  weft_task_fn waker = (weft_task_fn)arg;
  lifo_t l;
  weft_task_t *s, *w;
  (void)result;
  atomic_init(&l.sleeper_ran, 0);
  WEFT_EXPECT_OK(weft_future_new(&l.go));
  WEFT_EXPECT_OK(weft_spawn(NULL, sleeper, &l, NULL, &s));
  WEFT_EXPECT_EQ(WEFT_YIELD_UNTIL(weft_task_state(s) == WEFT_TASK_SUSPENDED),
                 0);
  WEFT_EXPECT_OK(weft_spawn(NULL, waker, &l, NULL, &w));
  WEFT_EXPECT_OK(weft_await(w, NULL));
  WEFT_EXPECT_OK(weft_await(s, NULL));
  weft_task_release(s);
  weft_task_release(w);
  weft_future_release(l.go);
  return 0;
}

/* A task woken into the LIFO slot of a worker that then stays busy is
 * stolen by another worker (it would otherwise wait forever here). */
static void test_idle_lifo_slot_stolen_from_stuck_owner(void** state) {
  (void)state;
  for (int i = 0; i < 20; i++)
    WEFT_ASSERT_OK(weft_test_run(2, main_lifo, (void*)waker_that_hogs, NULL));
}

/* Regression (the limit docs/design.md named): every worker asleep, none
 * watching; then one wakes on its own timer, fills its LIFO slot from a
 * task and computes. The other, asleep unwatched, must still come. */
static int waker_after_all_slept(void* arg, void** result) {
  lifo_t* l = arg;
  weft_runtime_t* rt = weft_current_runtime();
  (void)result;
  /* Wakes on this worker's own timer until it finds the other worker
   * asleep without a watch (a guard of 1000 tries). */
  int tries = 0;
  /* relaxed: a look at the hint the fix reads. */
  while (atomic_load_explicit(&rt->idle.unwatched, memory_order_relaxed) !=
             rt->nworkers - 1 &&
         ++tries < 1000)
    WEFT_EXPECT_OK(weft_sleep_ms(2));
  WEFT_EXPECT(tries < 1000);
  WEFT_EXPECT_OK(weft_future_set_result(l->go, NULL));
  uint64_t t0 = weft_now_ns();
  /* relaxed: set by the sleeper; no data depends on it. A 10 s guard. */
  while (!atomic_load_explicit(&l->sleeper_ran, memory_order_relaxed) &&
         weft_now_ns() - t0 < 10ull * 1000000000u) {
  }
  /* relaxed: as above. */
  WEFT_EXPECT(atomic_load_explicit(&l->sleeper_ran, memory_order_relaxed));
  return 0;
}

static void test_idle_lifo_slot_taken_after_all_slept(void** state) {
  (void)state;
  for (int i = 0; i < 5; i++)
    WEFT_ASSERT_OK(
        weft_test_run(2, main_lifo, (void*)waker_after_all_slept, NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_idle_two_spawns_wake_a_second_worker),
      cmocka_unit_test(test_idle_ramp_up_to_every_worker),
      cmocka_unit_test(test_idle_foreign_spawns_wake_workers),
      cmocka_unit_test(test_idle_lifo_slot_stolen_from_stuck_owner),
      cmocka_unit_test(test_idle_lifo_slot_taken_after_all_slept),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
