/* weft_rwlock_t: argument errors and ownership; readers share, a writer
 * excludes; arrival order (a writer is not starved by later readers, and
 * readers behind a writer wait for it); a cancelled waiter holds nothing
 * and lets those behind it go; a stress run with random cancellations
 * checks the exclusion invariant. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "helpers.h"

static void test_rwlock_errors(void** state) {
  weft_rwlock_t* rw;
  (void)state;
  WEFT_ASSERT_ERR(weft_rwlock_new(NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_rwlock_read_acquire(NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_rwlock_write_acquire(NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_rwlock_try_read(NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_rwlock_try_write(NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_rwlock_read_release(NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_rwlock_write_release(NULL), WEFT_EINVAL);
  WEFT_ASSERT_OK(weft_rwlock_free(NULL));
  WEFT_ASSERT_OK(weft_rwlock_new(&rw));
  WEFT_ASSERT_ERR(weft_rwlock_read_release(rw), WEFT_EPERM);
  WEFT_ASSERT_ERR(weft_rwlock_write_release(rw), WEFT_EPERM);
  /* Plain thread: readers share, a writer excludes. */
  WEFT_ASSERT_OK(weft_rwlock_read_acquire(rw));
  WEFT_ASSERT_OK(weft_rwlock_try_read(rw));
  WEFT_ASSERT_ERR(weft_rwlock_try_write(rw), WEFT_EAGAIN);
  WEFT_ASSERT_ERR(weft_rwlock_write_release(rw), WEFT_EPERM);
  WEFT_ASSERT_OK(weft_rwlock_read_release(rw));
  WEFT_ASSERT_OK(weft_rwlock_read_release(rw));
  WEFT_ASSERT_OK(weft_rwlock_write_acquire(rw));
  WEFT_ASSERT_ERR(weft_rwlock_try_read(rw), WEFT_EAGAIN);
  WEFT_ASSERT_ERR(weft_rwlock_read_acquire(rw), WEFT_EDEADLK);
  WEFT_ASSERT_ERR(weft_rwlock_write_acquire(rw), WEFT_EDEADLK);
  WEFT_ASSERT_OK(weft_rwlock_write_release(rw));
  WEFT_ASSERT_ERR(weft_rwlock_write_release(rw), WEFT_EPERM);
  WEFT_ASSERT_OK(weft_rwlock_free(rw));
}

/* --- Order ---------------------------------------------------------------*/

typedef struct {
  weft_rwlock_t* rw;
  weft_event_t* go; /* a holder releases once it is set */
  int order[8];
  _Atomic int n;
} order_ctx_t;

typedef struct {
  order_ctx_t* c;
  int id;
  int write;
} who_t;

static int taker(void* arg, void** result) {
  who_t* w = arg;
  (void)result;
  int rc = w->write ? weft_rwlock_write_acquire(w->c->rw)
                    : weft_rwlock_read_acquire(w->c->rw);
  if (rc != 0)
    return rc;
  w->c->order[atomic_fetch_add(&w->c->n, 1)] = w->id;
  WEFT_EXPECT_OK(weft_event_wait(w->c->go));
  return w->write ? weft_rwlock_write_release(w->c->rw)
                  : weft_rwlock_read_release(w->c->rw);
}

/* Main reads. Then W (writer) queues, then R (reader) queues behind it:
 * R must not overtake W even though readers hold the lock. When main
 * releases, W gets it alone; then R. A writer W1 cancelled while queued
 * lets the reader behind it in. */
static int main_order(void* arg, void** result) {
  order_ctx_t c = {0};
  who_t w = {&c, 1, 1}, r = {&c, 2, 0};
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_rwlock_new(&c.rw));
  WEFT_EXPECT_OK(weft_event_new(&c.go));
  WEFT_EXPECT_OK(weft_event_set(c.go)); /* holders release at once */
  WEFT_EXPECT_OK(weft_rwlock_read_acquire(c.rw));
  weft_task_t* tw = weft_test_spawn(taker, &w);
  weft_test_until_parked(tw);
  weft_task_t* tr = weft_test_spawn(taker, &r);
  weft_test_until_parked(tr);
  WEFT_EXPECT_ERR(weft_rwlock_try_read(c.rw), WEFT_EAGAIN); /* W waits */
  WEFT_EXPECT_EQ(atomic_load(&c.n), 0);
  WEFT_EXPECT_OK(weft_rwlock_read_release(c.rw));
  WEFT_EXPECT_OK(weft_test_finish(tw));
  WEFT_EXPECT_OK(weft_test_finish(tr));
  WEFT_EXPECT_EQ(atomic_load(&c.n), 2);
  WEFT_EXPECT_EQ(c.order[0], 1);
  WEFT_EXPECT_EQ(c.order[1], 2);
  /* Cancelled writer in line: the reader behind it goes in. */
  atomic_store(&c.n, 0);
  who_t w1 = {&c, 3, 1}, r1 = {&c, 4, 0};
  WEFT_EXPECT_OK(weft_rwlock_read_acquire(c.rw));
  weft_task_t* t1 = weft_test_spawn(taker, &w1);
  weft_test_until_parked(t1);
  weft_task_t* t2 = weft_test_spawn(taker, &r1);
  weft_test_until_parked(t2);
  WEFT_EXPECT_OK(weft_cancel(t1));
  WEFT_EXPECT_ERR(weft_test_finish(t1), WEFT_ECANCELED);
  WEFT_EXPECT_OK(weft_test_finish(t2)); /* shared with main's read */
  WEFT_EXPECT_EQ(c.order[0], 4);
  WEFT_EXPECT_OK(weft_rwlock_read_release(c.rw));
  WEFT_EXPECT_OK(weft_rwlock_try_write(c.rw)); /* nothing left behind */
  WEFT_EXPECT_OK(weft_rwlock_write_release(c.rw));
  WEFT_EXPECT_OK(weft_event_free(c.go));
  WEFT_EXPECT_OK(weft_rwlock_free(c.rw));
  return 0;
}

static void test_rwlock_arrival_order(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_order, NULL, NULL));
  WEFT_ASSERT_OK(weft_test_run(2, main_order, NULL, NULL));
}

/* The writer's lock is its own: another task cannot release it. */
static int write_holder(void* arg, void** result) {
  order_ctx_t* c = arg;
  (void)result;
  WEFT_EXPECT_OK(weft_rwlock_write_acquire(c->rw));
  atomic_store(&c->n, 1);
  WEFT_EXPECT_OK(weft_event_wait(c->go));
  return weft_rwlock_write_release(c->rw);
}

static int main_owner(void* arg, void** result) {
  order_ctx_t c = {0};
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_rwlock_new(&c.rw));
  WEFT_EXPECT_OK(weft_event_new(&c.go));
  weft_task_t* t = weft_test_spawn(write_holder, &c);
  WEFT_EXPECT_OK(WEFT_YIELD_UNTIL(atomic_load(&c.n) == 1));
  WEFT_EXPECT_ERR(weft_rwlock_write_release(c.rw), WEFT_EPERM);
  WEFT_EXPECT_ERR(weft_rwlock_read_release(c.rw), WEFT_EPERM);
  WEFT_EXPECT_OK(weft_event_set(c.go));
  WEFT_EXPECT_OK(weft_test_finish(t));
  WEFT_EXPECT_OK(weft_event_free(c.go));
  WEFT_EXPECT_OK(weft_rwlock_free(c.rw));
  return 0;
}

static void test_rwlock_writer_owns(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_owner, NULL, NULL));
}

/* --- Stress --------------------------------------------------------------*/

enum { kTasks = 24, kRounds = 200 };

typedef struct {
  weft_rwlock_t* rw;
  _Atomic int readers;
  _Atomic int writers;
  _Atomic int bad;
  weft_task_t* tasks[kTasks];
} stress_ctx_t;

static int stress_task(void* arg, void** result) {
  stress_ctx_t* s = arg;
  unsigned seed = (unsigned)(uintptr_t)weft_current_task();
  (void)result;
  for (int i = 0; i < kRounds; i++) {
    int write = rand_r(&seed) % 4 == 0;
    int rc = write ? weft_rwlock_write_acquire(s->rw)
                   : weft_rwlock_read_acquire(s->rw);
    if (rc == WEFT_ECANCELED)
      continue;
    if (!WEFT_EXPECT_OK(rc))
      return rc;
    if (write) {
      if (atomic_fetch_add(&s->writers, 1) != 0 || atomic_load(&s->readers))
        atomic_fetch_add(&s->bad, 1);
    } else {
      atomic_fetch_add(&s->readers, 1);
      if (atomic_load(&s->writers) != 0)
        atomic_fetch_add(&s->bad, 1);
    }
    if (i % 3 == 0)
      weft_yield(); /* hold it across an await now and then */
    if (write) {
      atomic_fetch_sub(&s->writers, 1);
      WEFT_EXPECT_OK(weft_rwlock_write_release(s->rw));
    } else {
      atomic_fetch_sub(&s->readers, 1);
      WEFT_EXPECT_OK(weft_rwlock_read_release(s->rw));
    }
  }
  return 0;
}

static int main_stress(void* arg, void** result) {
  stress_ctx_t s = {0};
  unsigned seed = 5;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_rwlock_new(&s.rw));
  for (int i = 0; i < kTasks; i++)
    s.tasks[i] = weft_test_spawn(stress_task, &s);
  for (int k = 0; k < 200; k++) {
    weft_cancel(s.tasks[rand_r(&seed) % kTasks]); /* EBUSY if done */
    weft_yield();
  }
  for (int i = 0; i < kTasks; i++) {
    int rc = weft_test_finish(s.tasks[i]);
    WEFT_EXPECT(rc == 0 || rc == WEFT_ECANCELED);
  }
  WEFT_EXPECT_EQ(atomic_load(&s.bad), 0);
  WEFT_EXPECT_OK(weft_rwlock_try_write(s.rw)); /* all given back */
  WEFT_EXPECT_OK(weft_rwlock_write_release(s.rw));
  WEFT_EXPECT_OK(weft_rwlock_free(s.rw));
  return 0;
}

static void test_rwlock_exclusion_under_cancellation(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(4, main_stress, NULL, NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rwlock_errors),
      cmocka_unit_test(test_rwlock_arrival_order),
      cmocka_unit_test(test_rwlock_writer_owns),
      cmocka_unit_test(test_rwlock_exclusion_under_cancellation),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
