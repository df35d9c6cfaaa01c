/* The scheduler: every task runs exactly once, results survive steals,
 * sleeps wake in deadline order, shutdown with tasks still sleeping.
 * Cancellation is in test_cancel.c, fairness in test_fairness.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "base/sanitizer.h"

#if defined(WEFT_ASAN) || defined(WEFT_TSAN)
enum { kTasks = 20000 }; /* every fiber switch is costly under the tools */
#else
enum { kTasks = 100000 };
#endif

static const uint64_t kHour = 3600 * 1000;

static atomic_uint* new_counters(void) {
  atomic_uint* c = calloc(kTasks, sizeof(*c));
  assert_non_null(c);
  return c;
}

static void assert_each_once(atomic_uint* c) {
  size_t missing = 0, dup = 0;
  for (size_t i = 0; i < kTasks; i++) {
    unsigned n = atomic_load(&c[i]);
    missing += n == 0;
    dup += n > 1;
  }
  if (missing != 0 || dup != 0)
    fail_msg("%zu tasks never ran, %zu ran more than once", missing, dup);
}

/* ---- Every task runs once --------------------------------------------- */

typedef struct {
  atomic_uint* count;
  unsigned lo, hi; /* this node is lo; its subtree is [lo, hi) */
} node_t;

/* Marks its own index, splits the rest of its range over up to four
 * children, and awaits them: a tree of nested spawns. */
static int tree_node(void* arg, void** result) {
  node_t* n = arg;
  node_t kids[4];
  weft_task_t* t[4];
  int nk = 0;
  (void)result;
  atomic_fetch_add(&n->count[n->lo], 1);
  unsigned lo = n->lo + 1;
  unsigned left = n->hi - lo;
  for (int i = 0; i < 4 && left > 0; i++) {
    unsigned size = (left + (unsigned)(3 - i)) / (unsigned)(4 - i);
    kids[nk] = (node_t){n->count, lo, lo + size};
    if (!WEFT_EXPECT_OK(weft_spawn(NULL, tree_node, &kids[nk], NULL, &t[nk])))
      break;
    nk++;
    lo += size;
    left -= size;
  }
  for (int i = 0; i < nk; i++) {
    WEFT_EXPECT_OK(weft_await(t[i], NULL));
    weft_task_release(t[i]);
  }
  return 0;
}

static void test_sched_every_spawned_task_runs_once(void** state) {
  (void)state;
  for (unsigned workers = 1; workers <= 4; workers *= 2) {
    atomic_uint* c = new_counters();
    node_t root = {c, 0, kTasks};
    WEFT_ASSERT_OK(weft_test_run(workers, tree_node, &root, NULL));
    assert_each_once(c);
    free(c);
  }
}

typedef struct {
  atomic_uint* count;
  atomic_uint done;
} flat_t;

static flat_t flat;

static int mark(void* arg, void** result) {
  (void)result;
  atomic_fetch_add(&flat.count[(uintptr_t)arg], 1);
  atomic_fetch_add(&flat.done, 1);
  return 0;
}

static int spawn_detached(void* arg, void** result) {
  (void)arg;
  (void)result;
  for (uintptr_t i = 0; i < kTasks; i++)
    WEFT_EXPECT_OK(weft_spawn(NULL, mark, (void*)i, NULL, NULL));
  /* Detached tasks cannot be awaited: wait for them by yielding. */
  return WEFT_YIELD_UNTIL(atomic_load(&flat.done) == kTasks);
}

static void test_sched_every_detached_task_runs_once(void** state) {
  (void)state;
  for (unsigned workers = 2; workers <= 4; workers *= 2) {
    flat.count = new_counters();
    atomic_store(&flat.done, 0);
    WEFT_ASSERT_OK(weft_test_run(workers, spawn_detached, NULL, NULL));
    assert_each_once(flat.count);
    free(flat.count);
  }
}

/* ---- Fork-join results ------------------------------------------------ */

static int fib(void* arg, void** result);

static intptr_t fib_body(intptr_t n) {
  weft_task_t* t;
  void* r = NULL;
  if (n < 2)
    return n;
  if (!WEFT_EXPECT_OK(weft_spawn(NULL, fib, (void*)(n - 1), NULL, &t)))
    return -1;
  intptr_t b = fib_body(n - 2);
  WEFT_EXPECT_OK(weft_await(t, &r));
  weft_task_release(t);
  return (intptr_t)r + b;
}

static int fib(void* arg, void** result) {
  *result = (void*)fib_body((intptr_t)arg);
  return 0;
}

static void test_sched_fib_results_survive_steals(void** state) {
  (void)state;
  for (unsigned workers = 1; workers <= 4; workers *= 2) {
    void* r = NULL;
    WEFT_ASSERT_OK(weft_test_run(workers, fib, (void*)20, &r));
    assert_int_equal((intptr_t)r, 6765);
  }
}

/* ---- Sleep order ------------------------------------------------------ */

typedef struct {
  atomic_int n;
  int order[8];
} wake_log_t;

static wake_log_t wake_log;

static int sleep_and_log(void* arg, void** result) {
  (void)result;
  int rc = weft_sleep_ms((uint64_t)(uintptr_t)arg);
  wake_log.order[atomic_fetch_add(&wake_log.n, 1)] = (int)(uintptr_t)arg;
  return rc;
}

static int main_sleep_order(void* arg, void** result) {
  weft_task_t* t[5];
  (void)arg;
  (void)result;
  /* Spawned longest first; 50 ms apart so that order, not the clock's
   * resolution, decides. */
  for (int i = 0; i < 5; i++)
    WEFT_EXPECT_OK(weft_spawn(NULL, sleep_and_log,
                              (void*)(uintptr_t)(250 - 50 * i), NULL, &t[i]));
  for (int i = 0; i < 5; i++) {
    WEFT_EXPECT_OK(weft_await(t[i], NULL));
    weft_task_release(t[i]);
  }
  return 0;
}

static void test_sched_sleeps_wake_in_deadline_order(void** state) {
  (void)state;
  for (unsigned workers = 1; workers <= 2; workers++) {
    atomic_store(&wake_log.n, 0);
    WEFT_ASSERT_OK(weft_test_run(workers, main_sleep_order, NULL, NULL));
    assert_int_equal(atomic_load(&wake_log.n), 5);
    for (int i = 0; i < 5; i++)
      assert_int_equal(wake_log.order[i], 50 * (i + 1));
  }
}

/* Sleeps whose deadlines have all passed by the time the worker looks at
 * its timers must still resume in deadline order. */
static int main_due_order(void* arg, void** result) {
  weft_task_t* t[5];
  (void)arg;
  (void)result;
  for (int i = 0; i < 5; i++)
    WEFT_EXPECT_OK(weft_spawn(NULL, sleep_and_log, (void*)(uintptr_t)(5 - i),
                              NULL, &t[i]));
  /* Our yields let the loop in (timers included): on a slow machine
   * (Valgrind, TSan) a short sleep may be over before we look. Either way
   * the order of the wake-ups is what is checked. */
  for (int i = 0; i < 5; i++)
    WEFT_EXPECT_OK(WEFT_YIELD_UNTIL(
        weft_task_state(t[i]) == WEFT_TASK_SUSPENDED || weft_task_done(t[i])));
  /* One worker, and we do not await: no timer can fire until every
   * deadline is behind us. */
  uint64_t until = weft_now_ns() + 20 * 1000 * 1000;
  while (weft_now_ns() < until) {
  }
  for (int i = 0; i < 5; i++) {
    WEFT_EXPECT_OK(weft_await(t[i], NULL));
    weft_task_release(t[i]);
  }
  return 0;
}

static void test_sched_due_sleeps_resume_in_deadline_order(void** state) {
  (void)state;
  atomic_store(&wake_log.n, 0);
  WEFT_ASSERT_OK(weft_test_run(1, main_due_order, NULL, NULL));
  assert_int_equal(atomic_load(&wake_log.n), 5);
  for (int i = 0; i < 5; i++)
    if (wake_log.order[i] != i + 1)
      fail_msg("resumed in the order %d %d %d %d %d (ms deadlines)",
               wake_log.order[0], wake_log.order[1], wake_log.order[2],
               wake_log.order[3], wake_log.order[4]);
}

/* ---- Shutdown --------------------------------------------------------- */

enum { kSleepers = 1000 };

typedef struct {
  atomic_int started;
  atomic_int first_cancelled;  /* the sleep shutdown interrupted */
  atomic_int second_cancelled; /* an await after that, during shutdown */
  atomic_int finished;
} shutdown_t;

static shutdown_t shut;

static int sleeper(void* arg, void** result) {
  (void)arg;
  (void)result;
  atomic_fetch_add(&shut.started, 1);
  int rc = weft_sleep_ms(kHour);
  atomic_fetch_add(&shut.first_cancelled, rc == WEFT_ECANCELED);
  /* Cleanup may await; once shutdown began, awaits return ECANCELED. */
  rc = weft_sleep_ms(kHour);
  atomic_fetch_add(&shut.second_cancelled, rc == WEFT_ECANCELED);
  atomic_fetch_add(&shut.finished, 1);
  return rc;
}

static int main_leave_sleepers(void* arg, void** result) {
  (void)arg;
  (void)result;
  for (int i = 0; i < kSleepers; i++)
    WEFT_EXPECT_OK(weft_spawn(NULL, sleeper, NULL, NULL, NULL));
  return WEFT_YIELD_UNTIL(atomic_load(&shut.started) == kSleepers);
}

static void test_sched_shutdown_with_tasks_sleeping(void** state) {
  (void)state;
  memset(&shut, 0, sizeof(shut));
  /* The helper frees the runtime while 1000 tasks sleep for an hour: it
   * must return, and ASan/LSan see that everything was freed. */
  WEFT_ASSERT_OK(weft_test_run_detached(2, main_leave_sleepers, NULL, NULL));
  assert_int_equal(atomic_load(&shut.finished), kSleepers);
  assert_int_equal(atomic_load(&shut.first_cancelled), kSleepers);
  assert_int_equal(atomic_load(&shut.second_cancelled), kSleepers);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sched_every_spawned_task_runs_once),
      cmocka_unit_test(test_sched_every_detached_task_runs_once),
      cmocka_unit_test(test_sched_fib_results_survive_steals),
      cmocka_unit_test(test_sched_sleeps_wake_in_deadline_order),
      cmocka_unit_test(test_sched_due_sleeps_resume_in_deadline_order),
      cmocka_unit_test(test_sched_shutdown_with_tasks_sleeping),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
