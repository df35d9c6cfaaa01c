/* Parked workers are woken when there is work for them: tasks that can
 * only finish together (each spins, without awaiting, until all have
 * started) finish only if every one of them got a worker of its own. A
 * lost wake-up shows as a hang, which the ctest timeout turns into a
 * failure; nothing here measures time. */
#include <stdatomic.h>

#include "helpers.h"

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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_idle_two_spawns_wake_a_second_worker),
      cmocka_unit_test(test_idle_ramp_up_to_every_worker),
      cmocka_unit_test(test_idle_foreign_spawns_wake_workers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
