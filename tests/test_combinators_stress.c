/* Stress: rounds of 2000 tasks on 4 workers in 100 batches, each batch one
 * gather (fail-fast or collect), one task group or one as_completed loop, with
 * random cancellations: of children (before they start, while they run,
 * while they sleep for an hour), and of whole batches while they wait.
 *
 * The choices come from a seeded generator; the interleavings do not, so
 * every assertion holds for all of them: each task ends exactly once, its
 * status is what its body returned (or WEFT_ECANCELED if it never ran),
 * each combinator's answer agrees with its tasks' statuses, and the counts
 * add up to 2000. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

enum { BATCHES = 100, CHILDREN = 20, WORKERS = 4 };

enum { KIND_FAIL_FAST, KIND_COLLECT, KIND_GROUP, KIND_AS_COMPLETED, KINDS };

enum { ACT_OK, ACT_YIELD, ACT_SLEEP, ACT_FAIL, ACT_HOUR, ACTS };

typedef struct {
  int action;
  int yields;
  atomic_int started;
  atomic_int ended;
  atomic_int returned; /* the body's status, once ended */
} child_t;

typedef struct {
  unsigned seed;
  int kind;
  atomic_int running;          /* the batch task started */
  atomic_int cancel_requested; /* main sets it before cancelling */
  child_t c[CHILDREN];
  weft_task_t* t[CHILDREN];
  int statuses[CHILDREN];
  int rc;      /* what the combinator returned */
  int refused; /* group spawns refused once a child had failed */
  unsigned char doomed[CHILDREN]; /* the canceller cancels these */
  int canceller_yields;
} batch_t;

static int child_fn(void* arg, void** result) {
  child_t* c = arg;
  int rc = 0;
  atomic_fetch_add(&c->started, 1);
  switch (c->action) {
    case ACT_YIELD:
      for (int i = 0; i < c->yields && rc == 0; i++)
        rc = weft_yield();
      break;
    case ACT_SLEEP:
      rc = weft_sleep_ms((uint64_t)(c->yields % 3));
      break;
    case ACT_FAIL:
      rc = weft_yield();
      if (rc == 0)
        rc = -(8000 + c->yields);
      break;
    case ACT_HOUR:
      rc = weft_sleep_ms(3600 * 1000);
      break;
  }
  *result = c;
  atomic_store(&c->returned, rc);
  atomic_fetch_add(&c->ended, 1);
  return rc;
}

/* Cancels the batch's doomed children (every hour sleeper among them)
 * after some yields; at once if it is cancelled itself. */
static int canceller_fn(void* arg, void** result) {
  batch_t* b = arg;
  (void)result;
  for (int i = 0; i < b->canceller_yields; i++)
    if (weft_yield() != 0)
      break;
  for (size_t i = 0; i < CHILDREN; i++)
    if (b->doomed[i])
      weft_cancel(b->t[i]);
  return 0;
}

static void plan(batch_t* b) {
  b->kind = (int)(rand_r(&b->seed) % KINDS);
  b->canceller_yields = (int)(rand_r(&b->seed) % 8);
  for (size_t i = 0; i < CHILDREN; i++) {
    child_t* c = &b->c[i];
    c->action = (int)(rand_r(&b->seed) % ACTS);
    c->yields = (int)(rand_r(&b->seed) % 5);
    /* An hour sleeper must be cancelled by someone: the canceller. */
    b->doomed[i] = c->action == ACT_HOUR || rand_r(&b->seed) % 8 == 0;
  }
}

static int spawn_children(batch_t* b, weft_group_t* g) {
  for (size_t i = 0; i < CHILDREN; i++) {
    int err = g != NULL
                  ? weft_group_spawn(g, child_fn, &b->c[i], NULL, &b->t[i])
                  : weft_spawn(NULL, child_fn, &b->c[i], NULL, &b->t[i]);
    if (g != NULL && err == WEFT_ECLOSED) {
      b->t[i] = NULL; /* a child failed already: the group is closed */
      b->refused++;
      continue;
    }
    if (!WEFT_EXPECT_OK(err))
      return err;
    if (rand_r(&b->seed) % 16 == 0)
      weft_cancel(b->t[i]); /* most likely before it starts */
  }
  return 0;
}

/* Hands out every child once, in completion order; on a cancellation the
 * children are cancelled and collected (the request is spent by then). */
static int run_as_completed(batch_t* b) {
  weft_as_completed_t* it;
  unsigned char seen[CHILDREN] = {0};
  weft_task_t* t;
  int rc;
  size_t got = 0;
  WEFT_EXPECT_OK(weft_as_completed_new(b->t, CHILDREN, -1, &it));
  while ((rc = weft_as_completed_next(it, &t)) == 0) {
    for (size_t i = 0; i < CHILDREN; i++)
      if (b->t[i] == t)
        WEFT_EXPECT_EQ(seen[i]++, 0);
    WEFT_EXPECT(weft_task_done(t));
    got++;
  }
  weft_as_completed_free(it);
  if (rc == WEFT_ECLOSED) {
    WEFT_EXPECT_EQ(got, CHILDREN);
    rc = 0;
  } else {
    WEFT_EXPECT_ERR(rc, WEFT_ECANCELED);
    for (size_t i = 0; i < CHILDREN; i++)
      weft_cancel(b->t[i]);
  }
  /* All done unless cancelled; either way this collects the statuses (and
   * may itself meet the batch's cancellation). */
  int grc = weft_gather(b->t, CHILDREN, WEFT_GATHER_COLLECT, NULL, b->statuses);
  return grc != 0 ? grc : rc;
}

static int run_batch(batch_t* b, weft_group_t* g) {
  switch (b->kind) {
    case KIND_FAIL_FAST:
      return weft_gather(b->t, CHILDREN, 0, NULL, b->statuses);
    case KIND_COLLECT:
      return weft_gather(b->t, CHILDREN, WEFT_GATHER_COLLECT, NULL,
                         b->statuses);
    case KIND_GROUP: {
      int rc = weft_group_wait(g);
      for (size_t i = 0; i < CHILDREN; i++)
        b->statuses[i] =
            b->t[i] != NULL ? weft_task_result(b->t[i], NULL) : WEFT_ECLOSED;
      return rc;
    }
    default:
      return run_as_completed(b);
  }
}

static int is_real_error(int status) {
  return status < 0 && status != WEFT_ECANCELED;
}

/* What must hold once the batch's combinator returned. */
static void check_batch(batch_t* b) {
  int any_error = 0;
  int any_failure = 0;
  int rc_found = 0;
  for (size_t i = 0; i < CHILDREN; i++) {
    child_t* c = &b->c[i];
    if (b->t[i] == NULL) {
      WEFT_EXPECT_EQ(atomic_load(&c->started), 0);
      continue;
    }
    int status = weft_task_result(b->t[i], NULL);
    WEFT_EXPECT(weft_task_done(b->t[i]));
    WEFT_EXPECT_EQ(b->statuses[i], status);
    WEFT_EXPECT_EQ(atomic_load(&c->ended), atomic_load(&c->started));
    WEFT_EXPECT(atomic_load(&c->started) <= 1);
    WEFT_EXPECT_EQ(status, atomic_load(&c->started) ? atomic_load(&c->returned)
                                                    : WEFT_ECANCELED);
    any_error |= is_real_error(status);
    any_failure |= status < 0;
    rc_found |= status == b->rc;
  }
  if (b->refused > 0)
    WEFT_EXPECT(b->kind == KIND_GROUP && any_error);
  if (b->rc == WEFT_ECANCELED && !rc_found)
    WEFT_EXPECT(atomic_load(&b->cancel_requested));
  switch (b->kind) {
    case KIND_FAIL_FAST:
      if (b->rc == 0)
        WEFT_EXPECT(!any_failure);
      else
        WEFT_EXPECT(rc_found || b->rc == WEFT_ECANCELED);
      break;
    case KIND_COLLECT:
    case KIND_AS_COMPLETED:
      WEFT_EXPECT(b->rc == 0 || b->rc == WEFT_ECANCELED);
      break;
    case KIND_GROUP:
      if (b->rc == 0)
        WEFT_EXPECT(!any_error);
      else if (b->rc != WEFT_ECANCELED)
        WEFT_EXPECT(is_real_error(b->rc) && rc_found);
      break;
  }
}

/* Awaits t to its end even if a cancellation of ours is pending (the first
 * await then spends it). */
static void await_fully(weft_task_t* t) {
  while (!weft_task_done(t))
    weft_await(t, NULL);
}

static int batch_fn(void* arg, void** result) {
  batch_t* b = arg;
  weft_group_t* g = NULL;
  weft_task_t* canceller;
  (void)result;
  atomic_store(&b->running, 1);
  if (b->kind == KIND_GROUP)
    WEFT_EXPECT_OK(weft_group_new(&g));
  if (spawn_children(b, g) != 0)
    return WEFT_ENOMEM;
  WEFT_EXPECT_OK(weft_spawn(NULL, canceller_fn, b, NULL, &canceller));
  b->rc = run_batch(b, g);
  await_fully(canceller);
  weft_task_release(canceller);
  check_batch(b);
  weft_group_free(g);
  for (size_t i = 0; i < CHILDREN; i++)
    weft_task_release(b->t[i]);
  return 0;
}

static int main_stress(void* arg, void** result) {
  batch_t* b = calloc(BATCHES, sizeof(*b));
  weft_task_t* bt[BATCHES];
  int bs[BATCHES];
  unsigned seed = 20240917u + 1000u * (unsigned)(uintptr_t)arg;
  (void)arg;
  (void)result;
  if (!WEFT_EXPECT(b != NULL))
    return WEFT_ENOMEM;
  for (size_t i = 0; i < BATCHES; i++) {
    b[i].seed = seed + (unsigned)i;
    plan(&b[i]);
    WEFT_EXPECT_OK(weft_spawn(NULL, batch_fn, &b[i], NULL, &bt[i]));
  }
  for (size_t i = 0; i < BATCHES; i++) {
    if (rand_r(&seed) % 10 != 0)
      continue;
    /* Started, so its children exist: only then are the counts known. */
    WEFT_EXPECT_OK(WEFT_YIELD_UNTIL(atomic_load(&b[i].running)));
    for (unsigned k = rand_r(&seed) % 6; k > 0; k--)
      weft_yield();
    atomic_store(&b[i].cancel_requested, 1);
    weft_cancel(bt[i]);
  }
  WEFT_EXPECT_OK(weft_gather(bt, BATCHES, WEFT_GATHER_COLLECT, NULL, bs));
  size_t ok = 0, failed = 0, cancelled = 0, refused = 0, unstarted = 0;
  size_t bodies = 0;
  for (size_t i = 0; i < BATCHES; i++) {
    WEFT_EXPECT_EQ(bs[i], 0);
    for (size_t j = 0; j < CHILDREN; j++) {
      int s = b[i].statuses[j];
      ok += s == 0;
      failed += is_real_error(s) && s != WEFT_ECLOSED;
      cancelled += s == WEFT_ECANCELED;
      refused += s == WEFT_ECLOSED;
      unstarted += s != WEFT_ECLOSED && atomic_load(&b[i].c[j].started) == 0;
      bodies += atomic_load(&b[i].c[j].ended);
    }
    weft_task_release(bt[i]);
  }
  fprintf(stderr,
          "stress: %zu ok, %zu failed, %zu cancelled (%zu never started), "
          "%zu refused by closed groups\n",
          ok, failed, cancelled, unstarted, refused);
  WEFT_EXPECT_EQ(ok + failed + cancelled + refused, BATCHES * CHILDREN);
  WEFT_EXPECT_EQ(bodies + unstarted + refused, BATCHES * CHILDREN);
  free(b);
  return 0;
}

/* Five rounds of 2000 tasks, each on a fresh runtime with its own seed. */
static void test_combinators_stress(void** state) {
  (void)state;
  for (uintptr_t round = 0; round < 5; round++)
    assert_int_equal(weft_test_run(WORKERS, main_stress, (void*)round, NULL),
                     0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_combinators_stress),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
