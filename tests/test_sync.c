/* Synchronisation primitives: Lock, Event, Condition, Semaphore,
 * BoundedSemaphore and Barrier. Semantics, argument errors, FIFO hand-off,
 * cancellation of waiters (nothing is lost), timeout scopes, plain
 * threads. Most tests use one worker so that the order of events is
 * fixed; test_sync_stress.c spreads the same shapes over workers. */
#include <pthread.h>
#include <stdatomic.h>

#include "helpers.h"

/* --- Lock ----------------------------------------------------------------*/

static void test_lock_basics_and_errors(void** state) {
  weft_lock_t* lock;
  (void)state;
  WEFT_ASSERT_ERR(weft_lock_new(NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_lock_acquire(NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_lock_try_acquire(NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_lock_release(NULL), WEFT_EINVAL);
  assert_int_equal(weft_lock_locked(NULL), 0);
  WEFT_ASSERT_OK(weft_lock_free(NULL));
  WEFT_ASSERT_OK(weft_lock_new(&lock));
  assert_int_equal(weft_lock_locked(lock), 0);
  WEFT_ASSERT_ERR(weft_lock_release(lock), WEFT_EPERM);
  WEFT_ASSERT_OK(weft_lock_try_acquire(lock));
  assert_int_equal(weft_lock_locked(lock), 1);
  WEFT_ASSERT_ERR(weft_lock_try_acquire(lock), WEFT_EAGAIN);
  WEFT_ASSERT_OK(weft_lock_release(lock));
  WEFT_ASSERT_OK(weft_lock_acquire(lock)); /* plain thread, uncontended */
  WEFT_ASSERT_OK(weft_lock_release(lock));
  WEFT_ASSERT_ERR(weft_lock_release(lock), WEFT_EPERM);
  WEFT_ASSERT_OK(weft_lock_free(lock));
}

/* Issue 16: release and the condition calls checked only that someone
 * held the lock, so a task could release another task's lock. */
typedef struct {
  weft_lock_t* lock;
  weft_cond_t* cond;
  weft_event_t* go;
} owner_ctx_t;

static int lock_holder(void* arg, void** result) {
  owner_ctx_t* c = arg;
  (void)result;
  WEFT_EXPECT_OK(weft_lock_acquire(c->lock));
  WEFT_EXPECT_ERR(weft_lock_acquire(c->lock), WEFT_EDEADLK);
  WEFT_EXPECT_OK(weft_event_wait(c->go));
  /* Still ours after main's attempts, and after moving (2 workers). */
  WEFT_EXPECT_OK(weft_cond_notify(c->cond, 1));
  WEFT_EXPECT_OK(weft_lock_release(c->lock));
  return 0;
}

static void* thread_release(void* arg) {
  owner_ctx_t* c = arg;
  return (void*)(intptr_t)weft_lock_release(c->lock);
}

static int main_lock_owner(void* arg, void** result) {
  owner_ctx_t c = {0};
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_lock_new(&c.lock));
  WEFT_EXPECT_OK(weft_cond_new(c.lock, &c.cond));
  WEFT_EXPECT_OK(weft_event_new(&c.go));
  weft_task_t* holder = weft_test_spawn(lock_holder, &c);
  WEFT_EXPECT_OK(WEFT_YIELD_UNTIL(weft_lock_locked(c.lock)));
  /* Not the owner: refused, and the lock stays held. */
  WEFT_EXPECT_ERR(weft_lock_release(c.lock), WEFT_EPERM);
  WEFT_EXPECT_ERR(weft_cond_notify(c.cond, 1), WEFT_EPERM);
  WEFT_EXPECT_ERR(weft_cond_notify_all(c.cond), WEFT_EPERM);
  WEFT_EXPECT_ERR(weft_cond_wait(c.cond), WEFT_EPERM);
  /* A plain thread is no owner either. */
  pthread_t th;
  void* thread_rc = NULL;
  WEFT_EXPECT_EQ(pthread_create(&th, NULL, thread_release, &c), 0);
  WEFT_EXPECT_EQ(pthread_join(th, &thread_rc), 0);
  WEFT_EXPECT_EQ((intptr_t)thread_rc, WEFT_EPERM);
  WEFT_EXPECT_EQ(weft_lock_locked(c.lock), 1);
  WEFT_EXPECT_OK(weft_event_set(c.go));
  WEFT_EXPECT_OK(weft_test_finish(holder));
  WEFT_EXPECT_EQ(weft_lock_locked(c.lock), 0);
  WEFT_EXPECT_OK(weft_cond_free(c.cond));
  WEFT_EXPECT_OK(weft_event_free(c.go));
  WEFT_EXPECT_OK(weft_lock_free(c.lock));
  return 0;
}

static void test_lock_only_the_owner_releases(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_lock_owner, NULL, NULL));
  WEFT_ASSERT_OK(weft_test_run(2, main_lock_owner, NULL, NULL));
}

static void* thread_acquire(void* arg) {
  return (void*)(intptr_t)weft_lock_acquire(arg);
}

static int main_thread_owner(void* arg, void** result) {
  weft_lock_t* lock = arg;
  (void)result;
  /* The test's thread holds it: this task may not release it. */
  WEFT_EXPECT_ERR(weft_lock_release(lock), WEFT_EPERM);
  return 0;
}

static void test_lock_thread_owner(void** state) {
  weft_lock_t* lock;
  pthread_t th;
  void* rc = NULL;
  (void)state;
  WEFT_ASSERT_OK(weft_lock_new(&lock));
  WEFT_ASSERT_OK(weft_lock_acquire(lock));
  WEFT_ASSERT_ERR(weft_lock_acquire(lock), WEFT_EDEADLK);
  WEFT_ASSERT_OK(weft_test_run(1, main_thread_owner, lock, NULL));
  WEFT_ASSERT_OK(weft_lock_release(lock));
  /* Another thread acquires it: the test's thread cannot release it. */
  assert_int_equal(pthread_create(&th, NULL, thread_acquire, lock), 0);
  assert_int_equal(pthread_join(th, &rc), 0);
  assert_int_equal((intptr_t)rc, 0);
  WEFT_ASSERT_ERR(weft_lock_release(lock), WEFT_EPERM);
  assert_int_equal(weft_lock_locked(lock), 1);
  WEFT_ASSERT_OK(weft_lock_free(lock)); /* free while held is allowed */
}

typedef struct {
  weft_lock_t* lock;
  int order[8];
  int n;
} lock_ctx_t;

typedef struct {
  lock_ctx_t* ctx;
  int id;
} lock_arg_t;

static int lock_taker(void* arg, void** result) {
  lock_arg_t* a = arg;
  (void)result;
  int rc = weft_lock_acquire(a->ctx->lock);
  if (rc != 0)
    return rc;
  a->ctx->order[a->ctx->n++] = a->id;
  return weft_lock_release(a->ctx->lock);
}

static int main_lock_fifo(void* arg, void** result) {
  lock_ctx_t ctx = {0};
  lock_arg_t args[3];
  weft_task_t* t[3];
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_lock_new(&ctx.lock));
  WEFT_EXPECT_OK(weft_lock_acquire(ctx.lock));
  for (int i = 0; i < 3; i++) {
    args[i] = (lock_arg_t){&ctx, i};
    t[i] = weft_test_spawn(lock_taker, &args[i]);
    weft_test_until_parked(t[i]);
  }
  WEFT_EXPECT_ERR(weft_lock_free(ctx.lock), WEFT_EBUSY);
  WEFT_EXPECT_OK(weft_lock_release(ctx.lock));
  for (int i = 0; i < 3; i++)
    WEFT_EXPECT_OK(weft_test_finish(t[i]));
  WEFT_EXPECT_EQ(ctx.n, 3);
  for (int i = 0; i < 3; i++)
    WEFT_EXPECT_EQ(ctx.order[i], i);
  WEFT_EXPECT_EQ(weft_lock_locked(ctx.lock), 0);
  WEFT_EXPECT_OK(weft_lock_free(ctx.lock));
  return 0;
}

static void test_lock_fifo_hand_off(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_lock_fifo, NULL, NULL));
}

/* A held by main; B and C wait. B cancelled, then A releases: the lock
 * goes to B, whose wait was already withdrawn (one worker: B has not run
 * yet), and B passes it on to C. Released first, then cancelled: B got
 * the lock, takes it (the cancel stays pending), and C gets it after. */
static int main_lock_cancel(void* arg, void** result) {
  int after_hand_off = (int)(intptr_t)arg;
  lock_ctx_t ctx = {0};
  lock_arg_t args[2] = {{&ctx, 1}, {&ctx, 2}};
  (void)result;
  WEFT_EXPECT_OK(weft_lock_new(&ctx.lock));
  WEFT_EXPECT_OK(weft_lock_acquire(ctx.lock));
  weft_task_t* b = weft_test_spawn(lock_taker, &args[0]);
  weft_test_until_parked(b);
  weft_task_t* c = weft_test_spawn(lock_taker, &args[1]);
  weft_test_until_parked(c);
  if (after_hand_off) {
    WEFT_EXPECT_OK(weft_lock_release(ctx.lock)); /* to B, not run yet */
    WEFT_EXPECT_OK(weft_cancel(b));
  } else {
    WEFT_EXPECT_OK(weft_cancel(b));
    WEFT_EXPECT_OK(weft_lock_release(ctx.lock));
  }
  WEFT_EXPECT_ERR(weft_test_finish(b), after_hand_off ? 0 : WEFT_ECANCELED);
  WEFT_EXPECT_OK(weft_test_finish(c));
  WEFT_EXPECT_EQ(ctx.order[ctx.n - 1], 2);
  WEFT_EXPECT_EQ(weft_lock_locked(ctx.lock), 0);
  WEFT_EXPECT_OK(weft_lock_free(ctx.lock));
  return 0;
}

static void test_lock_cancelled_waiter_passes_it_on(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_lock_cancel, (void*)0, NULL));
  WEFT_ASSERT_OK(weft_test_run(1, main_lock_cancel, (void*)1, NULL));
  WEFT_ASSERT_OK(weft_test_run(2, main_lock_cancel, (void*)0, NULL));
}

static int timed_taker(void* arg, void** result) {
  weft_lock_t* lock = arg;
  weft_timeout_t* tm;
  (void)result;
  WEFT_EXPECT_OK(weft_timeout_enter(5, &tm));
  WEFT_EXPECT_ERR(weft_lock_acquire(lock), WEFT_ECANCELED);
  WEFT_EXPECT_ERR(weft_timeout_exit(tm), WEFT_ETIMEDOUT);
  return 0;
}

static int main_lock_timeout(void* arg, void** result) {
  weft_lock_t* lock;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_lock_new(&lock));
  WEFT_EXPECT_OK(weft_lock_acquire(lock));
  WEFT_EXPECT_OK(weft_test_finish(weft_test_spawn(timed_taker, lock)));
  WEFT_EXPECT_EQ(weft_lock_locked(lock), 1); /* still main's */
  WEFT_EXPECT_OK(weft_lock_release(lock));
  WEFT_EXPECT_OK(weft_lock_free(lock)); /* no waiter left behind */
  return 0;
}

static void test_lock_timeout_scope_bounds_wait(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_lock_timeout, NULL, NULL));
}

typedef struct {
  weft_lock_t* lock;
  long counter;
} thread_ctx_t;

static void* lock_thread(void* arg) {
  thread_ctx_t* c = arg;
  for (int i = 0; i < 20000; i++) {
    WEFT_EXPECT_OK(weft_lock_acquire(c->lock));
    c->counter++;
    WEFT_EXPECT_OK(weft_lock_release(c->lock));
  }
  return NULL;
}

static void test_lock_plain_threads_block(void** state) {
  thread_ctx_t c = {0};
  pthread_t th[3];
  (void)state;
  weft_test_reset_failures();
  WEFT_ASSERT_OK(weft_lock_new(&c.lock));
  for (int i = 0; i < 3; i++)
    assert_int_equal(pthread_create(&th[i], NULL, lock_thread, &c), 0);
  for (int i = 0; i < 3; i++)
    pthread_join(th[i], NULL);
  assert_int_equal(c.counter, 60000);
  WEFT_ASSERT_NO_FAILURES();
  WEFT_ASSERT_OK(weft_lock_free(c.lock));
}

/* --- Event ---------------------------------------------------------------*/

static int event_waiter(void* arg, void** result) {
  (void)result;
  return weft_event_wait(arg);
}

static int main_event(void* arg, void** result) {
  weft_event_t* ev;
  weft_task_t* t[3];
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_event_new(&ev));
  WEFT_EXPECT_EQ(weft_event_is_set(ev), 0);
  for (int i = 0; i < 3; i++) {
    t[i] = weft_test_spawn(event_waiter, ev);
    weft_test_until_parked(t[i]);
  }
  WEFT_EXPECT_OK(weft_cancel(t[1]));
  WEFT_EXPECT_ERR(weft_test_finish(t[1]), WEFT_ECANCELED);
  WEFT_EXPECT_ERR(weft_event_free(ev), WEFT_EBUSY);
  WEFT_EXPECT_OK(weft_event_set(ev));
  WEFT_EXPECT_OK(weft_test_finish(t[0]));
  WEFT_EXPECT_OK(weft_test_finish(t[2]));
  WEFT_EXPECT_EQ(weft_event_is_set(ev), 1);
  WEFT_EXPECT_OK(weft_event_wait(ev)); /* set: at once */
  WEFT_EXPECT_OK(weft_event_clear(ev));
  WEFT_EXPECT_EQ(weft_event_is_set(ev), 0);
  WEFT_EXPECT_OK(weft_event_free(ev));
  return 0;
}

static void test_event_set_wakes_all(void** state) {
  (void)state;
  WEFT_ASSERT_ERR(weft_event_new(NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_event_wait(NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_event_set(NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_event_clear(NULL), WEFT_EINVAL);
  assert_int_equal(weft_event_is_set(NULL), 0);
  WEFT_ASSERT_OK(weft_event_free(NULL));
  WEFT_ASSERT_OK(weft_test_run(1, main_event, NULL, NULL));
}

/* --- Semaphore -----------------------------------------------------------*/

static void test_sem_values_and_bound(void** state) {
  weft_sem_t* s;
  (void)state;
  WEFT_ASSERT_ERR(weft_sem_new(1, 0, NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_sem_acquire(NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_sem_try_acquire(NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_sem_release(NULL), WEFT_EINVAL);
  assert_int_equal(weft_sem_value(NULL), 0);
  WEFT_ASSERT_OK(weft_sem_free(NULL));
  WEFT_ASSERT_OK(weft_sem_new(2, 0, &s));
  WEFT_ASSERT_OK(weft_sem_acquire(s));
  WEFT_ASSERT_OK(weft_sem_try_acquire(s));
  WEFT_ASSERT_ERR(weft_sem_try_acquire(s), WEFT_EAGAIN);
  assert_int_equal(weft_sem_value(s), 0);
  for (int i = 0; i < 3; i++)
    WEFT_ASSERT_OK(weft_sem_release(s)); /* unbounded: past 2 is fine */
  assert_int_equal(weft_sem_value(s), 3);
  WEFT_ASSERT_OK(weft_sem_free(s));
  WEFT_ASSERT_OK(weft_sem_new(2, 1, &s));
  WEFT_ASSERT_ERR(weft_sem_release(s), WEFT_ELIMIT);
  assert_int_equal(weft_sem_value(s), 2);
  WEFT_ASSERT_OK(weft_sem_acquire(s));
  WEFT_ASSERT_OK(weft_sem_release(s));
  WEFT_ASSERT_ERR(weft_sem_release(s), WEFT_ELIMIT);
  assert_int_equal(weft_sem_value(s), 2);
  WEFT_ASSERT_OK(weft_sem_free(s));
}

typedef struct {
  weft_sem_t* sem;
  int order[8];
  int n;
} sem_ctx_t;

typedef struct {
  sem_ctx_t* ctx;
  int id;
} sem_arg_t;

static int sem_taker(void* arg, void** result) {
  sem_arg_t* a = arg;
  (void)result;
  int rc = weft_sem_acquire(a->ctx->sem);
  if (rc != 0)
    return rc;
  a->ctx->order[a->ctx->n++] = a->id;
  return 0; /* keeps the permit: main gives them back */
}

/* Waiters 0..3 on an empty semaphore; 1 is cancelled; three releases
 * admit 0, 2, 3 in that order, and a newcomer's try_acquire may not
 * overtake the queue meanwhile. */
static int main_sem_fifo_cancel(void* arg, void** result) {
  sem_ctx_t ctx = {0};
  sem_arg_t args[4];
  weft_task_t* t[4];
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_sem_new(0, 0, &ctx.sem));
  for (int i = 0; i < 4; i++) {
    args[i] = (sem_arg_t){&ctx, i};
    t[i] = weft_test_spawn(sem_taker, &args[i]);
    weft_test_until_parked(t[i]);
  }
  WEFT_EXPECT_OK(weft_cancel(t[1]));
  WEFT_EXPECT_ERR(weft_test_finish(t[1]), WEFT_ECANCELED);
  /* One release at a time: each admits exactly the oldest waiter. */
  WEFT_EXPECT_OK(weft_sem_release(ctx.sem));
  WEFT_EXPECT_ERR(weft_sem_try_acquire(ctx.sem), WEFT_EAGAIN);
  WEFT_EXPECT_OK(WEFT_YIELD_UNTIL(ctx.n == 1));
  WEFT_EXPECT_OK(weft_sem_release(ctx.sem));
  WEFT_EXPECT_OK(WEFT_YIELD_UNTIL(ctx.n == 2));
  WEFT_EXPECT_OK(weft_sem_release(ctx.sem));
  WEFT_EXPECT_OK(weft_test_finish(t[0]));
  WEFT_EXPECT_OK(weft_test_finish(t[2]));
  WEFT_EXPECT_OK(weft_test_finish(t[3]));
  WEFT_EXPECT_EQ(ctx.n, 3);
  WEFT_EXPECT_EQ(ctx.order[0], 0);
  WEFT_EXPECT_EQ(ctx.order[1], 2);
  WEFT_EXPECT_EQ(ctx.order[2], 3);
  WEFT_EXPECT_EQ(weft_sem_value(ctx.sem), 0);
  WEFT_EXPECT_OK(weft_sem_free(ctx.sem));
  return 0;
}

static void test_sem_fifo_and_cancel(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_sem_fifo_cancel, NULL, NULL));
}

/* A permit handed to a waiter that was cancelled but has not run yet (one
 * worker) goes on to the next waiter: none is lost. */
static int main_sem_hand_off_cancel(void* arg, void** result) {
  sem_ctx_t ctx = {0};
  sem_arg_t args[2] = {{&ctx, 0}, {&ctx, 1}};
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(
      weft_sem_new(0, 1 /* bounded by 0: never released */, &ctx.sem));
  WEFT_EXPECT_OK(weft_sem_free(ctx.sem));
  WEFT_EXPECT_OK(weft_sem_new(0, 0, &ctx.sem));
  weft_task_t* a = weft_test_spawn(sem_taker, &args[0]);
  weft_test_until_parked(a);
  weft_task_t* b = weft_test_spawn(sem_taker, &args[1]);
  weft_test_until_parked(b);
  WEFT_EXPECT_OK(weft_cancel(a));
  WEFT_EXPECT_OK(weft_sem_release(ctx.sem)); /* to a, still listed */
  WEFT_EXPECT_ERR(weft_test_finish(a), WEFT_ECANCELED);
  WEFT_EXPECT_OK(weft_test_finish(b)); /* got a's permit */
  WEFT_EXPECT_EQ(ctx.n, 1);
  WEFT_EXPECT_EQ(weft_sem_value(ctx.sem), 0);
  WEFT_EXPECT_OK(weft_sem_free(ctx.sem));
  return 0;
}

static void test_sem_hand_off_to_cancelled_passes_on(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_sem_hand_off_cancel, NULL, NULL));
}

/* --- Condition -----------------------------------------------------------*/

typedef struct {
  weft_lock_t* lock;
  weft_cond_t* cond;
  int items;
  int woken;
} cond_ctx_t;

static int have_items(void* arg) {
  return ((cond_ctx_t*)arg)->items > 0;
}

static int cond_consumer(void* arg, void** result) {
  cond_ctx_t* c = arg;
  (void)result;
  WEFT_EXPECT_OK(weft_lock_acquire(c->lock));
  int rc = weft_cond_wait_for(c->cond, have_items, c);
  WEFT_EXPECT_EQ(weft_lock_locked(c->lock), 1); /* held even if cancelled */
  if (rc == 0) {
    c->items--;
    c->woken++;
  }
  WEFT_EXPECT_OK(weft_lock_release(c->lock));
  return rc;
}

static int main_cond(void* arg, void** result) {
  cond_ctx_t c = {0};
  weft_task_t* t[3];
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_lock_new(&c.lock));
  WEFT_EXPECT_OK(weft_cond_new(c.lock, &c.cond));
  WEFT_EXPECT_ERR(weft_cond_wait(c.cond), WEFT_EPERM);
  WEFT_EXPECT_ERR(weft_cond_notify(c.cond, 1), WEFT_EPERM);
  for (int i = 0; i < 3; i++) {
    t[i] = weft_test_spawn(cond_consumer, &c);
    weft_test_until_parked(t[i]);
  }
  WEFT_EXPECT_ERR(weft_cond_free(c.cond), WEFT_EBUSY);
  /* A notify without an item: the woken one goes back to waiting. */
  WEFT_EXPECT_OK(weft_lock_acquire(c.lock));
  WEFT_EXPECT_OK(weft_cond_notify(c.cond, 1));
  WEFT_EXPECT_OK(weft_lock_release(c.lock));
  weft_test_until_parked(t[0]);
  /* One item, one notify: exactly one consumer takes it. */
  WEFT_EXPECT_OK(weft_lock_acquire(c.lock));
  c.items = 1;
  WEFT_EXPECT_OK(weft_cond_notify(c.cond, 1));
  WEFT_EXPECT_OK(weft_lock_release(c.lock));
  WEFT_EXPECT_OK(WEFT_YIELD_UNTIL(c.woken == 1));
  /* The next notified consumer is cancelled before it runs: the
   * notification passes to the last one. */
  WEFT_EXPECT_OK(weft_lock_acquire(c.lock));
  c.items = 1;
  WEFT_EXPECT_OK(weft_cond_notify(c.cond, 1));
  WEFT_EXPECT_OK(weft_lock_release(c.lock));
  for (int i = 0; i < 3; i++)
    (void)weft_cancel(t[i]); /* WEFT_EBUSY for those that finished */
  for (int i = 0; i < 3; i++) {
    int rc = weft_test_finish(t[i]);
    WEFT_EXPECT(rc == 0 || rc == WEFT_ECANCELED);
  }
  WEFT_EXPECT_EQ(c.items + c.woken, 2); /* nothing taken twice */
  WEFT_EXPECT_OK(weft_cond_free(c.cond));
  WEFT_EXPECT_OK(weft_lock_free(c.lock));
  return 0;
}

static void test_cond_wait_notify(void** state) {
  (void)state;
  WEFT_ASSERT_ERR(weft_cond_new(NULL, NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_cond_wait(NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_cond_notify_all(NULL), WEFT_EINVAL);
  WEFT_ASSERT_OK(weft_cond_free(NULL));
  WEFT_ASSERT_OK(weft_test_run(1, main_cond, NULL, NULL));
}

/* Two waiters; the first is cancelled, then notified before it runs (one
 * worker); the second must be woken by the notification passed on. */
static int cond_waiter(void* arg, void** result) {
  cond_ctx_t* c = arg;
  (void)result;
  WEFT_EXPECT_OK(weft_lock_acquire(c->lock));
  int rc = weft_cond_wait(c->cond);
  if (rc == 0)
    c->woken++;
  WEFT_EXPECT_OK(weft_lock_release(c->lock));
  return rc;
}

static int main_cond_pass_on(void* arg, void** result) {
  cond_ctx_t c = {0};
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_lock_new(&c.lock));
  WEFT_EXPECT_OK(weft_cond_new(c.lock, &c.cond));
  weft_task_t* a = weft_test_spawn(cond_waiter, &c);
  weft_test_until_parked(a);
  weft_task_t* b = weft_test_spawn(cond_waiter, &c);
  weft_test_until_parked(b);
  WEFT_EXPECT_OK(weft_lock_acquire(c.lock));
  WEFT_EXPECT_OK(weft_cancel(a));
  WEFT_EXPECT_OK(weft_cond_notify(c.cond, 1)); /* to a, still listed */
  WEFT_EXPECT_OK(weft_lock_release(c.lock));
  WEFT_EXPECT_ERR(weft_test_finish(a), WEFT_ECANCELED);
  WEFT_EXPECT_OK(weft_test_finish(b)); /* woken by the passed-on notify */
  WEFT_EXPECT_EQ(c.woken, 1);
  WEFT_EXPECT_OK(weft_cond_free(c.cond));
  WEFT_EXPECT_OK(weft_lock_free(c.lock));
  return 0;
}

static void test_cond_cancelled_notified_waiter_passes_on(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_cond_pass_on, NULL, NULL));
}

/* A cond waiter re-acquires the lock even when the runtime's shutdown
 * reaches it while another task on its worker holds the lock (then every
 * await returns at once): the holder still gets to run and release, and
 * the shutdown ends. */
static cond_ctx_t shutdown_ctx;

static int lock_sleeper(void* arg, void** result) {
  cond_ctx_t* c = arg;
  (void)result;
  WEFT_EXPECT_OK(weft_lock_acquire(c->lock));
  /* Only the lock's owner may notify: the sleeper does it for main. */
  if ((int)(intptr_t)c->items)
    WEFT_EXPECT_OK(weft_cond_notify(c->cond, 1));
  int rc = weft_sleep_ms(3600 * 1000);
  WEFT_EXPECT_OK(weft_lock_release(c->lock));
  return rc;
}

static int main_cond_shutdown(void* arg, void** result) {
  cond_ctx_t* c = arg;
  (void)result;
  weft_task_t* a = weft_test_spawn(cond_waiter, c);
  weft_test_until_parked(a);
  /* With c->items set the sleeper notifies the waiter while it holds the
   * lock: the waiter tries to re-acquire while the sleeper holds it, and
   * the runtime's shutdown reaches it there. */
  weft_task_t* b = weft_test_spawn(lock_sleeper, c);
  weft_test_until_parked(b);
  weft_task_release(a);
  weft_task_release(b);
  return 0; /* the runtime's shutdown cancels both */
}

static void test_cond_wait_survives_shutdown(void** state) {
  cond_ctx_t* c = &shutdown_ctx;
  (void)state;
  WEFT_ASSERT_OK(weft_lock_new(&c->lock));
  WEFT_ASSERT_OK(weft_cond_new(c->lock, &c->cond));
  for (c->items = 0; c->items < 2; c->items++) {
    WEFT_ASSERT_OK(weft_test_run_detached(1, main_cond_shutdown, c, NULL));
    assert_int_equal(weft_lock_locked(c->lock), 0);
  }
  WEFT_ASSERT_OK(weft_cond_free(c->cond));
  WEFT_ASSERT_OK(weft_lock_free(c->lock));
}

/* --- Barrier -------------------------------------------------------------*/

typedef struct {
  weft_barrier_t* b;
  _Atomic int seen; /* bit per arrival index */
} barrier_ctx_t;

static int barrier_waiter(void* arg, void** result) {
  barrier_ctx_t* c = arg;
  size_t idx = 99;
  (void)result;
  int rc = weft_barrier_wait(c->b, &idx);
  if (rc == 0 && WEFT_EXPECT(idx < 3))
    atomic_fetch_or(&c->seen, 1 << idx);
  return rc;
}

static int main_barrier(void* arg, void** result) {
  barrier_ctx_t c = {0};
  weft_task_t* t[2];
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_barrier_new(3, &c.b));
  for (int gen = 0; gen < 2; gen++) {
    atomic_store(&c.seen, 0);
    for (int i = 0; i < 2; i++) {
      t[i] = weft_test_spawn(barrier_waiter, &c);
      weft_test_until_parked(t[i]);
    }
    WEFT_EXPECT_OK(barrier_waiter(&c, NULL));
    for (int i = 0; i < 2; i++)
      WEFT_EXPECT_OK(weft_test_finish(t[i]));
    WEFT_EXPECT_EQ(atomic_load(&c.seen), 7);
  }
  /* A cancelled waiter breaks it: the other gets WEFT_ECLOSED. */
  for (int i = 0; i < 2; i++) {
    t[i] = weft_test_spawn(barrier_waiter, &c);
    weft_test_until_parked(t[i]);
  }
  WEFT_EXPECT_OK(weft_cancel(t[0]));
  WEFT_EXPECT_ERR(weft_test_finish(t[0]), WEFT_ECANCELED);
  WEFT_EXPECT_ERR(weft_test_finish(t[1]), WEFT_ECLOSED);
  WEFT_EXPECT_EQ(weft_barrier_broken(c.b), 1);
  WEFT_EXPECT_ERR(weft_barrier_wait(c.b, NULL), WEFT_ECLOSED);
  WEFT_EXPECT_OK(weft_barrier_free(c.b));
  /* Abort wakes waiters with WEFT_ECLOSED. */
  WEFT_EXPECT_OK(weft_barrier_new(2, &c.b));
  t[0] = weft_test_spawn(barrier_waiter, &c);
  weft_test_until_parked(t[0]);
  WEFT_EXPECT_ERR(weft_barrier_free(c.b), WEFT_EBUSY);
  WEFT_EXPECT_OK(weft_barrier_abort(c.b));
  WEFT_EXPECT_ERR(weft_test_finish(t[0]), WEFT_ECLOSED);
  WEFT_EXPECT_OK(weft_barrier_free(c.b));
  return 0;
}

static void test_barrier_generations_cancel_abort(void** state) {
  (void)state;
  WEFT_ASSERT_ERR(weft_barrier_new(0, NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_barrier_wait(NULL, NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_barrier_abort(NULL), WEFT_EINVAL);
  assert_int_equal(weft_barrier_broken(NULL), 0);
  WEFT_ASSERT_OK(weft_barrier_free(NULL));
  WEFT_ASSERT_OK(weft_test_run(1, main_barrier, NULL, NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_lock_basics_and_errors),
      cmocka_unit_test(test_lock_only_the_owner_releases),
      cmocka_unit_test(test_lock_thread_owner),
      cmocka_unit_test(test_lock_fifo_hand_off),
      cmocka_unit_test(test_lock_cancelled_waiter_passes_it_on),
      cmocka_unit_test(test_lock_timeout_scope_bounds_wait),
      cmocka_unit_test(test_lock_plain_threads_block),
      cmocka_unit_test(test_event_set_wakes_all),
      cmocka_unit_test(test_sem_values_and_bound),
      cmocka_unit_test(test_sem_fifo_and_cancel),
      cmocka_unit_test(test_sem_hand_off_to_cancelled_passes_on),
      cmocka_unit_test(test_cond_wait_notify),
      cmocka_unit_test(test_cond_cancelled_notified_waiter_passes_on),
      cmocka_unit_test(test_cond_wait_survives_shutdown),
      cmocka_unit_test(test_barrier_generations_cancel_abort),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
