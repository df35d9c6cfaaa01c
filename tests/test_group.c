/* Task groups: all succeed; the first failure cancels the rest; cancelling
 * the owner cancels the children; spawns after the end are refused; spawns
 * from children while the owner waits; freeing a group that was not waited
 * for; waiting from a plain thread. Orders come from gates (futures a child
 * awaits), never from sleeps. */
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#include "helpers.h"

#define FAIL_A (-7201)
#define FAIL_B (-7202)

typedef struct {
  weft_future_t* gate; /* awaited first, if set */
  int status;          /* returned after the gate */
  atomic_int ran;
  atomic_int seen; /* what the gate's await returned */
} child_t;

static int child_fn(void* arg, void** result) {
  child_t* c = arg;
  atomic_fetch_add(&c->ran, 1);
  int rc = c->gate != NULL ? weft_future_await(c->gate, NULL) : 0;
  atomic_store(&c->seen, rc);
  *result = c;
  return rc != 0 ? rc : c->status;
}

static void children_init(child_t* c, size_t n, int gated) {
  memset(c, 0, n * sizeof(*c));
  if (gated)
    for (size_t i = 0; i < n; i++)
      WEFT_EXPECT_OK(weft_future_new(&c[i].gate));
}

static void children_free(child_t* c, size_t n) {
  for (size_t i = 0; i < n; i++)
    weft_future_release(c[i].gate);
}

static int count_ran(child_t* c, size_t n) {
  int sum = 0;
  for (size_t i = 0; i < n; i++)
    sum += atomic_load(&c[i].ran);
  return sum;
}

static int main_all_succeed(void* arg, void** result) {
  enum { N = 10 };
  child_t c[N];
  weft_task_t* t[N];
  weft_group_t* g;
  (void)arg;
  (void)result;
  children_init(c, N, 0);
  WEFT_EXPECT_OK(weft_group_new(&g));
  for (size_t i = 0; i < N; i++)
    WEFT_EXPECT_OK(weft_group_spawn(g, child_fn, &c[i], NULL, &t[i]));
  WEFT_EXPECT_OK(weft_group_wait(g));
  WEFT_EXPECT_OK(weft_group_wait(g)); /* again: the same answer */
  for (size_t i = 0; i < N; i++) {
    void* r = NULL;
    WEFT_EXPECT_OK(weft_task_result(t[i], &r));
    WEFT_EXPECT(r == &c[i]);
    weft_task_release(t[i]);
  }
  WEFT_EXPECT_ERR(weft_group_spawn(g, child_fn, &c[0], NULL, NULL),
                  WEFT_ECLOSED);
  weft_group_free(g);
  weft_group_free(NULL);
  /* An empty group. */
  WEFT_EXPECT_OK(weft_group_new(&g));
  WEFT_EXPECT_OK(weft_group_wait(g));
  WEFT_EXPECT_ERR(weft_group_spawn(g, child_fn, &c[0], NULL, NULL),
                  WEFT_ECLOSED);
  weft_group_free(g);
  WEFT_EXPECT_ERR(weft_group_new(NULL), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_group_wait(NULL), WEFT_EINVAL);
  return 0;
}

static void test_group_all_succeed(void** state) {
  (void)state;
  assert_int_equal(weft_test_run(4, main_all_succeed, NULL, NULL), 0);
}

/* Child 3 fails once every other child waits on a gate that never opens;
 * the group cancels them, before the owner even waits. */
static int main_one_fails(void* arg, void** result) {
  enum { N = 6 };
  child_t c[N];
  weft_task_t* t[N];
  weft_group_t* g;
  (void)arg;
  (void)result;
  children_init(c, N, 1);
  c[3].status = FAIL_A;
  c[5].status = FAIL_B; /* cancelled before its gate opens: not a failure */
  WEFT_EXPECT_OK(weft_group_new(&g));
  for (size_t i = 0; i < N; i++)
    WEFT_EXPECT_OK(weft_group_spawn(g, child_fn, &c[i], NULL, &t[i]));
  WEFT_EXPECT_OK(WEFT_YIELD_UNTIL(count_ran(c, N) == N));
  weft_future_set_result(c[3].gate, NULL);
  for (size_t i = 0; i < N; i++) /* the siblings end without the owner */
    weft_await(t[i], NULL);
  WEFT_EXPECT_ERR(weft_group_wait(g), FAIL_A);
  for (size_t i = 0; i < N; i++) {
    WEFT_EXPECT(weft_task_done(t[i]));
    if (i != 3) {
      WEFT_EXPECT_EQ(atomic_load(&c[i].seen), WEFT_ECANCELED);
      WEFT_EXPECT(weft_task_cancelled(t[i]));
    }
    weft_task_release(t[i]);
  }
  WEFT_EXPECT_ERR(weft_group_spawn(g, child_fn, &c[0], NULL, NULL),
                  WEFT_ECLOSED);
  weft_group_free(g);
  children_free(c, N);
  return 0;
}

static void test_group_first_failure_cancels_the_rest(void** state) {
  (void)state;
  assert_int_equal(weft_test_run(4, main_one_fails, NULL, NULL), 0);
}

/* A child cancelled on its own is not a failure of the group. */
static int main_child_cancelled(void* arg, void** result) {
  enum { N = 3 };
  child_t c[N];
  weft_task_t* t[N];
  weft_group_t* g;
  (void)arg;
  (void)result;
  children_init(c, N, 1);
  WEFT_EXPECT_OK(weft_group_new(&g));
  for (size_t i = 0; i < N; i++)
    WEFT_EXPECT_OK(weft_group_spawn(g, child_fn, &c[i], NULL, &t[i]));
  WEFT_EXPECT_OK(weft_cancel(t[1]));
  WEFT_EXPECT_ERR(weft_await(t[1], NULL), WEFT_ECANCELED);
  weft_future_set_result(c[0].gate, NULL);
  weft_future_set_result(c[2].gate, NULL);
  WEFT_EXPECT_OK(weft_group_wait(g));
  WEFT_EXPECT_OK(weft_task_result(t[0], NULL));
  WEFT_EXPECT_OK(weft_task_result(t[2], NULL));
  for (size_t i = 0; i < N; i++)
    weft_task_release(t[i]);
  weft_group_free(g);
  children_free(c, N);
  return 0;
}

static void test_group_child_cancelled_is_not_a_failure(void** state) {
  (void)state;
  assert_int_equal(weft_test_run(4, main_child_cancelled, NULL, NULL), 0);
}

/* The owner task, cancelled from main while it waits. */
typedef struct {
  child_t c[5];
  weft_task_t* t[5];
  weft_group_t* g;
  int spawn_after;
} owner_t;

static int owner_fn(void* arg, void** result) {
  owner_t* o = arg;
  (void)result;
  WEFT_EXPECT_OK(weft_group_new(&o->g));
  for (size_t i = 0; i < 5; i++)
    WEFT_EXPECT_OK(weft_group_spawn(o->g, child_fn, &o->c[i], NULL, &o->t[i]));
  int rc = weft_group_wait(o->g);
  o->spawn_after = weft_group_spawn(o->g, child_fn, &o->c[0], NULL, NULL);
  weft_group_free(o->g);
  return rc;
}

static int main_owner_cancelled(void* arg, void** result) {
  owner_t o;
  weft_task_t* ot;
  (void)arg;
  (void)result;
  memset(&o, 0, sizeof(o));
  children_init(o.c, 5, 1);
  WEFT_EXPECT_OK(weft_spawn(NULL, owner_fn, &o, NULL, &ot));
  WEFT_EXPECT_OK(WEFT_YIELD_UNTIL(count_ran(o.c, 5) == 5));
  WEFT_EXPECT_OK(weft_cancel(ot));
  WEFT_EXPECT_ERR(weft_await(ot, NULL), WEFT_ECANCELED);
  WEFT_EXPECT_EQ(o.spawn_after, WEFT_ECLOSED);
  for (size_t i = 0; i < 5; i++) {
    WEFT_EXPECT(weft_task_done(o.t[i]));
    WEFT_EXPECT_EQ(atomic_load(&o.c[i].seen), WEFT_ECANCELED);
    weft_task_release(o.t[i]);
  }
  weft_task_release(ot);
  children_free(o.c, 5);
  return 0;
}

static void test_group_owner_cancelled_cancels_children(void** state) {
  (void)state;
  assert_int_equal(weft_test_run(4, main_owner_cancelled, NULL, NULL), 0);
}

/* Children spawn siblings into the group while the owner waits. */
typedef struct {
  weft_group_t* g;
  atomic_int ran;
} tree_t;

static int tree_fn(void* arg, void** result) {
  tree_t* tr = arg;
  (void)result;
  if (atomic_fetch_add(&tr->ran, 1) < 64)
    for (int k = 0; k < 2; k++)
      weft_group_spawn(tr->g, tree_fn, tr, NULL, NULL); /* may be closed */
  return 0;
}

static int main_spawn_while_waiting(void* arg, void** result) {
  tree_t tr;
  (void)arg;
  (void)result;
  memset(&tr, 0, sizeof(tr));
  WEFT_EXPECT_OK(weft_group_new(&tr.g));
  WEFT_EXPECT_OK(weft_group_spawn(tr.g, tree_fn, &tr, NULL, NULL));
  WEFT_EXPECT_OK(weft_group_wait(tr.g));
  /* Every spawn that was accepted ran and was waited for; children only
   * spawn while running, so the group never looked idle before the end. */
  int ran = atomic_load(&tr.ran);
  WEFT_EXPECT(ran >= 64);
  weft_group_free(tr.g);
  WEFT_EXPECT_EQ(atomic_load(&tr.ran), ran);
  return 0;
}

static void test_group_children_spawn_while_owner_waits(void** state) {
  (void)state;
  assert_int_equal(weft_test_run(4, main_spawn_while_waiting, NULL, NULL), 0);
}

/* weft_group_free without a wait cancels and awaits the children. */
static int main_free_unwaited(void* arg, void** result) {
  enum { N = 4 };
  child_t c[N];
  weft_task_t* t[N];
  weft_group_t* g;
  (void)arg;
  (void)result;
  children_init(c, N, 1);
  WEFT_EXPECT_OK(weft_group_new(&g));
  for (size_t i = 0; i < N; i++)
    WEFT_EXPECT_OK(weft_group_spawn(g, child_fn, &c[i], NULL, &t[i]));
  WEFT_EXPECT_OK(WEFT_YIELD_UNTIL(count_ran(c, N) == N));
  weft_group_free(g);
  for (size_t i = 0; i < N; i++) {
    WEFT_EXPECT(weft_task_done(t[i]));
    WEFT_EXPECT_EQ(atomic_load(&c[i].seen), WEFT_ECANCELED);
    weft_task_release(t[i]);
  }
  /* The task's own awaits still work: free spent no request of ours. */
  WEFT_EXPECT_OK(weft_yield());
  children_free(c, N);
  return 0;
}

static void test_group_free_cancels_running_children(void** state) {
  (void)state;
  assert_int_equal(weft_test_run(4, main_free_unwaited, NULL, NULL), 0);
}

/* The runtime shuts down while the owner waits (one worker: an owner
 * spinning on failing awaits would starve its children) and while another
 * task frees a group it never waited for. */
typedef struct {
  child_t c[4];
  atomic_int owners;
  int rc;
} shutdown_t;

static int doomed_owner(void* arg, void** result) {
  shutdown_t* s = arg;
  weft_group_t* g;
  (void)result;
  WEFT_EXPECT_OK(weft_group_new(&g));
  for (size_t i = 0; i < 2; i++)
    WEFT_EXPECT_OK(weft_group_spawn(g, child_fn, &s->c[i], NULL, NULL));
  atomic_fetch_add(&s->owners, 1);
  s->rc = weft_group_wait(g);
  weft_group_free(g);
  return s->rc;
}

static int doomed_freer(void* arg, void** result) {
  shutdown_t* s = arg;
  weft_group_t* g;
  (void)result;
  WEFT_EXPECT_OK(weft_group_new(&g));
  for (size_t i = 2; i < 4; i++)
    WEFT_EXPECT_OK(weft_group_spawn(g, child_fn, &s->c[i], NULL, NULL));
  atomic_fetch_add(&s->owners, 1);
  weft_sleep_ms(3600 * 1000); /* cancelled by the shutdown */
  weft_group_free(g);
  return 0;
}

static int main_shutdown(void* arg, void** result) {
  shutdown_t* s = arg;
  (void)result;
  WEFT_EXPECT_OK(weft_spawn(NULL, doomed_owner, s, NULL, NULL));
  WEFT_EXPECT_OK(weft_spawn(NULL, doomed_freer, s, NULL, NULL));
  return WEFT_YIELD_UNTIL(count_ran(s->c, 4) == 4 &&
                          atomic_load(&s->owners) == 2);
}

static void test_group_during_shutdown(void** state) {
  shutdown_t s;
  (void)state;
  memset(&s, 0, sizeof(s));
  children_init(s.c, 4, 1);
  assert_int_equal(weft_test_run_detached(1, main_shutdown, &s, NULL), 0);
  assert_int_equal(s.rc, WEFT_ECANCELED);
  for (size_t i = 0; i < 4; i++)
    assert_int_equal(atomic_load(&s.c[i].seen), WEFT_ECANCELED);
  children_free(s.c, 4);
}

/* A task makes the group and its children; the test's thread waits. */
static int make_group(void* arg, void** result) {
  child_t* c = arg;
  weft_group_t* g;
  WEFT_EXPECT_OK(weft_group_new(&g));
  for (size_t i = 0; i < 3; i++)
    WEFT_EXPECT_OK(weft_group_spawn(g, child_fn, &c[i], NULL, NULL));
  *result = g;
  return 0;
}

static void test_group_wait_from_plain_thread(void** state) {
  weft_config_t cfg = {.workers = 2};
  weft_runtime_t* rt;
  weft_task_t* t;
  child_t c[3];
  void* g = NULL;
  (void)state;
  weft_test_reset_failures();
  for (int fail = 0; fail < 2; fail++) {
    children_init(c, 3, 1);
    c[1].status = fail ? FAIL_A : 0;
    WEFT_ASSERT_OK(weft_runtime_new(&cfg, &rt));
    WEFT_ASSERT_OK(weft_spawn(rt, make_group, c, NULL, &t));
    WEFT_ASSERT_OK(weft_await(t, &g));
    weft_task_release(t);
    while (count_ran(c, 3) < 3)
      sched_yield(); /* a hang guard is ctest's timeout */
    weft_future_set_result(c[1].gate, NULL);
    if (!fail) {
      weft_future_set_result(c[0].gate, NULL);
      weft_future_set_result(c[2].gate, NULL);
    }
    WEFT_ASSERT_ERR(weft_group_wait(g), fail ? FAIL_A : 0);
    /* From a plain thread the group spawns on the runtime it was made in. */
    WEFT_ASSERT_ERR(weft_group_spawn(g, child_fn, &c[0], NULL, NULL),
                    WEFT_ECLOSED);
    weft_group_free(g);
    for (size_t i = 0; i < 3; i++)
      assert_int_equal(atomic_load(&c[i].seen),
                       fail && i != 1 ? WEFT_ECANCELED : 0);
    WEFT_ASSERT_OK(weft_runtime_free(rt));
    children_free(c, 3);
  }
  WEFT_ASSERT_NO_FAILURES();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_group_all_succeed),
      cmocka_unit_test(test_group_first_failure_cancels_the_rest),
      cmocka_unit_test(test_group_child_cancelled_is_not_a_failure),
      cmocka_unit_test(test_group_owner_cancelled_cancels_children),
      cmocka_unit_test(test_group_children_spawn_while_owner_waits),
      cmocka_unit_test(test_group_free_cancels_running_children),
      cmocka_unit_test(test_group_during_shutdown),
      cmocka_unit_test(test_group_wait_from_plain_thread),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
