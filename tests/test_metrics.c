/* weft_runtime_metrics and weft_set_log. Assertions are about counts that
 * the scheduler's structure guarantees, never about timing: a worker with
 * nothing to run always goes through park(); a snapshot's counters only
 * grow. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "helpers.h"

enum { kTasks = 200, kWorkers = 2 };

static void sum_workers(const weft_worker_metrics_t* w, unsigned n,
                        weft_worker_metrics_t* sum) {
  memset(sum, 0, sizeof(*sum));
  for (unsigned i = 0; i < n; i++) {
    sum->tasks_run += w[i].tasks_run;
    sum->steals += w[i].steals;
    sum->parks += w[i].parks;
    sum->wakeups += w[i].wakeups;
    sum->io_callbacks += w[i].io_callbacks;
  }
}

static void test_metrics_argument_errors(void** state) {
  weft_runtime_t* rt;
  weft_config_t cfg = {.workers = kWorkers};
  weft_metrics_t m;
  weft_worker_metrics_t w[kWorkers];
  (void)state;
  WEFT_ASSERT_OK(weft_runtime_new(&cfg, &rt));
  WEFT_ASSERT_ERR(weft_runtime_metrics(NULL, &m, w, kWorkers), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_runtime_metrics(rt, NULL, w, kWorkers), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_runtime_metrics(rt, &m, w, kWorkers - 1), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_runtime_metrics(rt, &m, w, 0), WEFT_EINVAL);
  /* No array: the runtime's counters alone. */
  WEFT_ASSERT_OK(weft_runtime_metrics(rt, &m, NULL, 0));
  assert_int_equal(m.nworkers, kWorkers);
  WEFT_ASSERT_OK(weft_runtime_metrics(rt, &m, w, kWorkers + 5));
  WEFT_ASSERT_OK(weft_runtime_free(rt));
}

/* Sleeps, so that every worker runs out of tasks and parks; stats a file,
 * so that one I/O operation completes. */
static int idle_then_io(void* arg, void** result) {
  weft_stat_t st;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_sleep_ms(5));
  WEFT_EXPECT_OK(weft_fs_stat("/tmp", &st));
  return 0;
}

static void test_metrics_counts_tasks_parks_and_io(void** state) {
  weft_runtime_t* rt;
  weft_config_t cfg = {.workers = kWorkers};
  weft_metrics_t m;
  weft_worker_metrics_t w[kWorkers], sum;
  weft_task_t* t[kTasks];
  (void)state;
  weft_test_reset_failures();
  WEFT_ASSERT_OK(weft_runtime_new(&cfg, &rt));
  for (int i = 0; i < kTasks; i++)
    WEFT_ASSERT_OK(weft_spawn(rt, weft_test_ret_arg, NULL, NULL, &t[i]));
  for (int i = 0; i < kTasks; i++) {
    WEFT_ASSERT_OK(weft_await(t[i], NULL));
    weft_task_release(t[i]);
  }
  weft_task_t* idle;
  WEFT_ASSERT_OK(weft_spawn(rt, idle_then_io, NULL, NULL, &idle));
  WEFT_ASSERT_OK(weft_await(idle, NULL));
  weft_task_release(idle);
  weft_test_assert_no_live_tasks(rt);
  WEFT_ASSERT_OK(weft_runtime_metrics(rt, &m, w, kWorkers));
  sum_workers(w, kWorkers, &sum);
  assert_int_equal(m.nworkers, kWorkers);
  assert_int_equal(m.tasks_spawned, kTasks + 1);
  assert_int_equal(m.tasks_finished, kTasks + 1);
  assert_int_equal(m.tasks_alive, 0);
  assert_true(sum.tasks_run >= kTasks + 1);
  assert_true(sum.parks > 0);
  assert_true(sum.io_callbacks >= 1);
  assert_int_equal(m.blocking_busy, 0);
  assert_int_equal(m.blocking_queued, 0);
  WEFT_ASSERT_NO_FAILURES();
  WEFT_ASSERT_OK(weft_runtime_free(rt));
}

/* ---- Snapshots from a foreign thread under load ------------------------ */

typedef struct {
  weft_runtime_t* rt;
  atomic_int stop;
  int snapshots;
} watcher_t;

/* Takes snapshots until told to stop: each is consistent on its own, and
 * no counter goes backwards from one to the next. */
static void* watch(void* arg) {
  watcher_t* wt = arg;
  weft_metrics_t m, prev_m = {0};
  weft_worker_metrics_t w[kWorkers], prev[kWorkers];
  memset(prev, 0, sizeof(prev));
  do {
    if (!WEFT_EXPECT_OK(weft_runtime_metrics(wt->rt, &m, w, kWorkers)))
      break;
    WEFT_EXPECT(m.tasks_finished <= m.tasks_spawned);
    WEFT_EXPECT_EQ(m.tasks_alive, m.tasks_spawned - m.tasks_finished);
    WEFT_EXPECT(m.tasks_spawned >= prev_m.tasks_spawned);
    WEFT_EXPECT(m.tasks_finished >= prev_m.tasks_finished);
    for (unsigned i = 0; i < kWorkers; i++) {
      WEFT_EXPECT(w[i].tasks_run >= prev[i].tasks_run);
      WEFT_EXPECT(w[i].steals >= prev[i].steals);
      WEFT_EXPECT(w[i].parks >= prev[i].parks);
      WEFT_EXPECT(w[i].wakeups >= prev[i].wakeups);
    }
    prev_m = m;
    memcpy(prev, w, sizeof(prev));
    wt->snapshots++;
    /* relaxed: only ends the loop; the join orders everything else. */
  } while (!atomic_load_explicit(&wt->stop, memory_order_relaxed));
  return NULL;
}

static int yield_a_few(void* arg, void** result) {
  (void)arg;
  (void)result;
  for (int i = 0; i < 3; i++)
    WEFT_EXPECT_OK(weft_yield());
  return 0;
}

/* Spawns kTasks tasks that yield, in waves, and awaits them all. */
static int load(void* arg, void** result) {
  weft_task_t* t[kTasks];
  (void)arg;
  (void)result;
  for (int wave = 0; wave < 5; wave++) {
    for (int i = 0; i < kTasks; i++)
      WEFT_EXPECT_OK(weft_spawn(NULL, yield_a_few, NULL, NULL, &t[i]));
    for (int i = 0; i < kTasks; i++) {
      WEFT_EXPECT_OK(weft_await(t[i], NULL));
      weft_task_release(t[i]);
    }
  }
  return 0;
}

static void test_metrics_snapshot_from_foreign_thread(void** state) {
  watcher_t wt = {.snapshots = 0};
  weft_config_t cfg = {.workers = kWorkers};
  weft_task_t* t;
  pthread_t th;
  (void)state;
  weft_test_reset_failures();
  WEFT_ASSERT_OK(weft_runtime_new(&cfg, &wt.rt));
  atomic_init(&wt.stop, 0);
  assert_int_equal(pthread_create(&th, NULL, watch, &wt), 0);
  WEFT_ASSERT_OK(weft_spawn(wt.rt, load, NULL, NULL, &t));
  WEFT_ASSERT_OK(weft_await(t, NULL));
  weft_task_release(t);
  /* relaxed: see watch(). */
  atomic_store_explicit(&wt.stop, 1, memory_order_relaxed);
  pthread_join(th, NULL);
  assert_true(wt.snapshots >= 1);
  weft_test_assert_no_live_tasks(wt.rt);
  weft_metrics_t m;
  weft_worker_metrics_t w[kWorkers], sum;
  WEFT_ASSERT_OK(weft_runtime_metrics(wt.rt, &m, w, kWorkers));
  sum_workers(w, kWorkers, &sum);
  assert_int_equal(m.tasks_spawned, 5 * kTasks + 1);
  assert_int_equal(m.tasks_finished, m.tasks_spawned);
  /* Each yielding task runs at least four times (start, three resumes). */
  assert_true(sum.tasks_run >= 4 * 5 * kTasks);
  WEFT_ASSERT_NO_FAILURES();
  WEFT_ASSERT_OK(weft_runtime_free(wt.rt));
}

/* ---- Logging ------------------------------------------------------------ */

typedef struct {
  int calls;
  int level;
  char msg[256];
} log_seen_t;

static void record(int level, const char* msg, void* arg) {
  log_seen_t* seen = arg;
  seen->calls++;
  seen->level = level;
  snprintf(seen->msg, sizeof(seen->msg), "%s", msg);
}

static void test_log_hook_receives_warning(void** state) {
  log_seen_t seen = {0}, other = {0};
  weft_config_t tiny = {.workers = 1, .stack_size = 4096};
  weft_runtime_t* rt;
  (void)state;
  weft_set_log(record, &seen);
  /* A stack below the 16 KiB minimum is raised, with a warning. */
  WEFT_ASSERT_OK(weft_runtime_new(&tiny, &rt));
  WEFT_ASSERT_OK(weft_runtime_free(rt));
  assert_int_equal(seen.calls, 1);
  assert_int_equal(seen.level, WEFT_LOG_WARN);
  assert_non_null(strstr(seen.msg, "stack_size 4096"));
  assert_null(strchr(seen.msg, '\n'));
  /* Replaced: the new pair gets the next message, the old nothing. */
  weft_set_log(record, &other);
  WEFT_ASSERT_OK(weft_runtime_new(&tiny, &rt));
  WEFT_ASSERT_OK(weft_runtime_free(rt));
  assert_int_equal(seen.calls, 1);
  assert_int_equal(other.calls, 1);
  /* Back to the default (stderr); no call reaches the old hook. */
  weft_set_log(NULL, NULL);
  WEFT_ASSERT_OK(weft_runtime_new(&tiny, &rt));
  WEFT_ASSERT_OK(weft_runtime_free(rt));
  assert_int_equal(other.calls, 1);
}

/* A valid stack size logs nothing. */
static void test_log_quiet_for_valid_config(void** state) {
  log_seen_t seen = {0};
  weft_config_t cfg = {.workers = 1, .stack_size = 64 * 1024};
  weft_runtime_t* rt;
  (void)state;
  weft_set_log(record, &seen);
  WEFT_ASSERT_OK(weft_runtime_new(&cfg, &rt));
  WEFT_ASSERT_OK(weft_runtime_free(rt));
  weft_set_log(NULL, NULL);
  assert_int_equal(seen.calls, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_metrics_argument_errors),
      cmocka_unit_test(test_metrics_counts_tasks_parks_and_io),
      cmocka_unit_test(test_metrics_snapshot_from_foreign_thread),
      cmocka_unit_test(test_log_hook_receives_warning),
      cmocka_unit_test(test_log_quiet_for_valid_config),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
