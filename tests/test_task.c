/* Tasks: spawn and await, results and statuses, names and ids, the
 * current task, state queries, references, and thread-locals read after a
 * task migrates between workers. Runtime-wide calls (weft_run, foreign
 * threads, count and visit) are in test_runtime.c, errors in
 * test_error.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "core/task.h"

/* ---- Spawn, await, run ------------------------------------------------ */

static int main_spawn_await(void* arg, void** result) {
  weft_task_t* t;
  void* r = NULL;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_spawn(NULL, weft_test_ret_arg, (void*)42, NULL, &t));
  WEFT_EXPECT_OK(weft_await(t, &r));
  WEFT_EXPECT(r == (void*)42);
  r = NULL;
  WEFT_EXPECT_OK(weft_task_result(t, &r));
  WEFT_EXPECT(r == (void*)42);
  WEFT_EXPECT_OK(weft_await(t, NULL)); /* again, and without a result */
  weft_task_release(t);
  /* A failing task's negative code is its status, wherever it is read. */
  WEFT_EXPECT_OK(
      weft_spawn(NULL, weft_test_ret_status, (void*)(intptr_t)-EIO, NULL, &t));
  WEFT_EXPECT_ERR(weft_await(t, &r), -EIO);
  WEFT_EXPECT_ERR(weft_task_result(t, NULL), -EIO);
  WEFT_EXPECT(!weft_task_cancelled(t));
  weft_task_release(t);
  WEFT_EXPECT_OK(weft_spawn(NULL, weft_test_ret_status,
                            (void*)(intptr_t)WEFT_ELIMIT, NULL, &t));
  WEFT_EXPECT_ERR(weft_await(t, NULL), WEFT_ELIMIT);
  weft_task_release(t);
  *result = (void*)7;
  return 0;
}

static void test_task_spawn_await_returns_result_and_status(void** state) {
  void* r = NULL;
  (void)state;
  for (unsigned workers = 1; workers <= 2; workers++) {
    WEFT_ASSERT_OK(weft_test_run(workers, main_spawn_await, NULL, &r));
    assert_ptr_equal(r, (void*)7);
  }
}

/* ---- Names and ids ---------------------------------------------------- */

static int main_names(void* arg, void** result) {
  char buf[64];
  char want[32];
  weft_task_t* t[4];
  weft_spawn_opts_t opts = {.name = buf, .stack_size = 0};
  (void)arg;
  (void)result;
  WEFT_EXPECT(strcmp(weft_task_name(weft_current_task()), "main") == 0);
  snprintf(buf, sizeof(buf), "fetch-1");
  WEFT_EXPECT_OK(weft_spawn(NULL, weft_test_ret_arg, NULL, &opts, &t[0]));
  buf[0] = 'X'; /* the name was copied */
  /* 40 bytes: kept to the first 31. */
  snprintf(buf, sizeof(buf), "0123456789abcdefghijklmnopqrstuvwxyzABCD");
  WEFT_EXPECT_OK(weft_spawn(NULL, weft_test_ret_arg, NULL, &opts, &t[1]));
  opts.name = NULL;
  WEFT_EXPECT_OK(weft_spawn(NULL, weft_test_ret_arg, NULL, &opts, &t[2]));
  WEFT_EXPECT_OK(weft_spawn(NULL, weft_test_ret_arg, NULL, NULL, &t[3]));
  WEFT_EXPECT(strcmp(weft_task_name(t[0]), "fetch-1") == 0);
  WEFT_EXPECT(strcmp(weft_task_name(t[1]), "0123456789abcdefghijklmnopqrstu") ==
              0);
  for (int i = 2; i < 4; i++) {
    snprintf(want, sizeof(want), "Task-%llu",
             (unsigned long long)weft_task_id(t[i]));
    WEFT_EXPECT(strcmp(weft_task_name(t[i]), want) == 0);
  }
  for (int i = 0; i < 4; i++) {
    WEFT_EXPECT_OK(weft_await(t[i], NULL));
    /* Still readable after the end, while we hold the handle. */
    WEFT_EXPECT(weft_task_name(t[i])[0] != '\0');
    weft_task_release(t[i]);
  }
  return 0;
}

static void test_task_names_given_truncated_and_default(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_names, NULL, NULL));
}

static int cmp_u64(const void* a, const void* b) {
  uint64_t x = *(const uint64_t*)a;
  uint64_t y = *(const uint64_t*)b;
  return x < y ? -1 : x > y;
}

typedef struct {
  int n;
  uint64_t* ids;
} id_batch_t;

static int spawn_and_collect_ids(void* arg, void** result) {
  id_batch_t* b = arg;
  weft_task_t** t = calloc((size_t)b->n, sizeof(*t));
  (void)result;
  if (!WEFT_EXPECT(t != NULL))
    return WEFT_ENOMEM;
  for (int i = 0; i < b->n; i++)
    WEFT_EXPECT_OK(weft_spawn(NULL, weft_test_ret_arg, NULL, NULL, &t[i]));
  for (int i = 0; i < b->n; i++) {
    WEFT_EXPECT_OK(weft_await(t[i], NULL));
    b->ids[i] = weft_task_id(t[i]);
    weft_task_release(t[i]);
  }
  free(t);
  return 0;
}

static void test_task_ids_unique(void** state) {
  enum { kFromThread = 100, kPerTask = 1500, kSpawners = 2 };
  enum { kAll = kFromThread + kSpawners * (kPerTask + 1) };
  weft_config_t cfg = {.workers = 2, .stack_size = 0};
  weft_runtime_t* rt;
  static weft_task_t* t[kFromThread + kSpawners];
  static uint64_t ids[kAll];
  id_batch_t b[kSpawners];
  (void)state;
  weft_test_reset_failures();
  WEFT_ASSERT_OK(weft_runtime_new(&cfg, &rt));
  /* From this thread (one id at a time) and from tasks on two workers
   * (which take ids in blocks). */
  for (int i = 0; i < kSpawners; i++) {
    b[i] = (id_batch_t){kPerTask, ids + kFromThread + i * kPerTask};
    WEFT_ASSERT_OK(weft_spawn(rt, spawn_and_collect_ids, &b[i], NULL,
                              &t[kFromThread + i]));
  }
  for (int i = 0; i < kFromThread; i++)
    WEFT_ASSERT_OK(weft_spawn(rt, weft_test_ret_arg, NULL, NULL, &t[i]));
  for (int i = 0; i < kFromThread + kSpawners; i++) {
    WEFT_ASSERT_OK(weft_await(t[i], NULL));
    if (i < kFromThread)
      ids[i] = weft_task_id(t[i]);
    else
      ids[kAll - kSpawners + (i - kFromThread)] = weft_task_id(t[i]);
    weft_task_release(t[i]);
  }
  WEFT_ASSERT_OK(weft_runtime_free(rt));
  WEFT_ASSERT_NO_FAILURES();
  qsort(ids, kAll, sizeof(ids[0]), cmp_u64);
  assert_true(ids[0] >= 1);
  for (int i = 1; i < kAll; i++)
    if (ids[i - 1] >= ids[i])
      fail_msg("id %llu given twice", (unsigned long long)ids[i]);
}

/* ---- The current task, state, references ------------------------------ */

typedef struct {
  weft_task_t* self;
  weft_runtime_t* rt;
  int worker;
  weft_task_state_t state;
} whoami_t;

static int whoami(void* arg, void** result) {
  whoami_t* w = arg;
  (void)result;
  w->self = weft_current_task();
  w->rt = weft_current_runtime();
  w->worker = weft_worker_id();
  w->state = weft_task_state(w->self);
  return 0;
}

static int main_current(void* arg, void** result) {
  weft_runtime_t* rt = weft_current_runtime();
  (void)arg;
  (void)result;
  for (int inline_run = 0; inline_run < 2; inline_run++) {
    whoami_t who = {NULL, NULL, -2, 0};
    weft_task_t* t;
    WEFT_EXPECT_OK(weft_spawn(NULL, whoami, &who, NULL, &t));
    if (!inline_run) /* let it start on its own stack first */
      WEFT_EXPECT_OK(WEFT_YIELD_UNTIL(weft_task_done(t)));
    WEFT_EXPECT_OK(weft_await(t, NULL));
    WEFT_EXPECT(who.self == t);
    WEFT_EXPECT(who.rt == rt);
    WEFT_EXPECT(who.worker >= 0 && who.worker < 2);
    WEFT_EXPECT_EQ(who.state, WEFT_TASK_RUNNING);
    weft_task_release(t);
  }
  WEFT_EXPECT(weft_task_state(weft_current_task()) == WEFT_TASK_RUNNING);
  return 0;
}

static void test_task_current_task_inside_and_outside(void** state) {
  (void)state;
  assert_null(weft_current_task());
  assert_null(weft_current_runtime());
  assert_int_equal(weft_worker_id(), -1);
  WEFT_ASSERT_OK(weft_test_run(2, main_current, NULL, NULL));
  assert_null(weft_current_task());
}

static int main_state(void* arg, void** result) {
  weft_task_t* t;
  void* r = (void*)1;
  (void)arg;
  (void)result;
  /* One worker and no await yet: the child cannot have started. */
  WEFT_EXPECT_OK(weft_spawn(NULL, weft_test_sleep_hour, NULL, NULL, &t));
  WEFT_EXPECT_EQ(weft_task_state(t), WEFT_TASK_QUEUED);
  WEFT_EXPECT_EQ(weft_task_done(t), 0);
  WEFT_EXPECT_ERR(weft_task_result(t, &r), WEFT_EAGAIN);
  WEFT_EXPECT(r == (void*)1);
  WEFT_EXPECT_OK(WEFT_YIELD_UNTIL(weft_task_state(t) != WEFT_TASK_QUEUED));
  WEFT_EXPECT_EQ(weft_task_state(t), WEFT_TASK_SUSPENDED);
  WEFT_EXPECT_EQ(weft_task_done(t), 0);
  WEFT_EXPECT_ERR(weft_task_result(t, NULL), WEFT_EAGAIN);
  WEFT_EXPECT_EQ(weft_task_cancelled(t), 0);
  WEFT_EXPECT_OK(weft_cancel(t));
  WEFT_EXPECT_ERR(weft_await(t, NULL), WEFT_ECANCELED);
  WEFT_EXPECT_EQ(weft_task_state(t), WEFT_TASK_DONE);
  WEFT_EXPECT_EQ(weft_task_done(t), 1);
  WEFT_EXPECT_EQ(weft_task_cancelled(t), 1);
  WEFT_EXPECT_ERR(weft_task_result(t, NULL), WEFT_ECANCELED);
  weft_task_release(t);
  return 0;
}

static void test_task_state_done_result(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_state, NULL, NULL));
}

static void* await_and_release(void* arg) {
  weft_task_t* t = arg;
  void* r = NULL;
  int rc = weft_await(t, &r);
  WEFT_EXPECT_OK(rc);
  WEFT_EXPECT(r == (void*)3);
  weft_task_release(t);
  return NULL;
}

static void test_task_retain_release(void** state) {
  weft_config_t cfg = {.workers = 2, .stack_size = 0};
  weft_runtime_t* rt;
  weft_task_t* t;
  pthread_t th[4];
  (void)state;
  weft_test_reset_failures();
  assert_null(weft_task_retain(NULL));
  weft_task_release(NULL);
  WEFT_ASSERT_OK(weft_runtime_new(&cfg, &rt));
  WEFT_ASSERT_OK(weft_spawn(rt, weft_test_ret_arg, (void*)3, NULL, &t));
  uint32_t refs = atomic_load(&t->refs);
  assert_ptr_equal(weft_task_retain(t), t);
  assert_int_equal(atomic_load(&t->refs), refs + 1);
  weft_task_release(t);
  assert_int_equal(atomic_load(&t->refs), refs);
  /* One reference per thread; each gives its own back. */
  for (int i = 0; i < 4; i++)
    assert_int_equal(pthread_create(&th[i], NULL, await_and_release,
                                    weft_task_retain(t)),
                     0);
  for (int i = 0; i < 4; i++)
    assert_int_equal(pthread_join(th[i], NULL), 0);
  assert_true(weft_task_done(t));
  assert_string_not_equal(weft_task_name(t), "");
  weft_task_release(t);
  weft_test_assert_no_live_tasks(rt);
  WEFT_ASSERT_OK(weft_runtime_free(rt));
  WEFT_ASSERT_NO_FAILURES();
}

/* ---- Thread-locals across migrations ---------------------------------- */

enum { kMigrators = 1, kRounds = 500 };

typedef struct {
  pthread_mutex_t lock;
  long tid_of_worker[2];
  int migrations;
} migrate_t;

static void spin(int n) {
  for (volatile int i = 0; i < n; i++) {
  }
}

static int busy_child(void* arg, void** result) {
  (void)arg;
  (void)result;
  spin(100000);
  return 0;
}

static int yield_twice(void* arg, void** result) {
  (void)arg;
  (void)result;
  weft_yield();
  weft_yield();
  return 0;
}

static void check_thread(migrate_t* m, weft_task_t* self, int* last) {
  long tid = weft_test_gettid();
  int w = weft_worker_id();
  WEFT_EXPECT(weft_current_task() == self);
  if (!WEFT_EXPECT(w == 0 || w == 1))
    return;
  pthread_mutex_lock(&m->lock);
  if (m->tid_of_worker[w] == 0)
    m->tid_of_worker[w] = tid;
  WEFT_EXPECT(m->tid_of_worker[w] == tid);
  WEFT_EXPECT(m->tid_of_worker[1 - w] != tid);
  m->migrations += *last >= 0 && *last != w;
  pthread_mutex_unlock(&m->lock);
  *last = w;
}

/* Awaits children that the other worker may steal: a stolen child that is
 * still running when we await wakes us on its worker when it ends, so we
 * resume on another thread. Which worker runs what is not asserted, only
 * that what the task reads after each await matches the thread it is on. */
static int migrator(void* arg, void** result) {
  migrate_t* m = arg;
  weft_task_t* self = weft_current_task();
  weft_task_t* c[4];
  int last = -1;
  (void)result;
  for (int i = 0; i < kRounds; i++) {
    check_thread(m, self, &last);
    for (int j = 0; j < 4; j++)
      WEFT_EXPECT_OK(weft_spawn(NULL, j == 3 ? yield_twice : busy_child, NULL,
                                NULL, &c[j]));
    WEFT_EXPECT_OK(weft_yield());
    check_thread(m, self, &last);
    for (int j = 0; j < 4; j++) {
      WEFT_EXPECT_OK(weft_await(c[j], NULL));
      check_thread(m, self, &last);
      weft_task_release(c[j]);
    }
  }
  return 0;
}

static int main_migrate(void* arg, void** result) {
  weft_task_t* t[kMigrators];
  (void)result;
  for (int i = 0; i < kMigrators; i++)
    WEFT_EXPECT_OK(weft_spawn(NULL, migrator, arg, NULL, &t[i]));
  for (int i = 0; i < kMigrators; i++) {
    WEFT_EXPECT_OK(weft_await(t[i], NULL));
    weft_task_release(t[i]);
  }
  return 0;
}

static void test_task_thread_locals_follow_migration(void** state) {
  migrate_t m = {PTHREAD_MUTEX_INITIALIZER, {0, 0}, 0};
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_migrate, &m, NULL));
  print_message("%d worker changes across awaits\n", m.migrations);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_task_spawn_await_returns_result_and_status),
      cmocka_unit_test(test_task_names_given_truncated_and_default),
      cmocka_unit_test(test_task_ids_unique),
      cmocka_unit_test(test_task_current_task_inside_and_outside),
      cmocka_unit_test(test_task_state_done_result),
      cmocka_unit_test(test_task_retain_release),
      cmocka_unit_test(test_task_thread_locals_follow_migration),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
