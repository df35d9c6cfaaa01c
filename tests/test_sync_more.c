/* More synchronisation tests: weft_cond_wait_for with a predicate,
 * weft_sem_free refusing to free under a waiter, and a timeout scope
 * bounding each kind of wait (semaphore, event, barrier, queue get,
 * channel recv): the wait returns WEFT_ECANCELED, the scope's exit
 * WEFT_ETIMEDOUT, and the object works afterwards. */
#include "helpers.h"

/* --- Condition: wait_for -------------------------------------------------*/

typedef struct {
  weft_lock_t* lock;
  weft_cond_t* cond;
  int value;  /* under lock */
  int checks; /* pred calls; under lock */
} cond_ctx_t;

static int reached_three(void* arg) {
  cond_ctx_t* c = arg;
  WEFT_EXPECT_EQ(weft_lock_locked(c->lock), 1); /* checked with it held */
  c->checks++;
  return c->value >= 3;
}

static int cond_waiter(void* arg, void** result) {
  cond_ctx_t* c = arg;
  (void)result;
  WEFT_EXPECT_OK(weft_lock_acquire(c->lock));
  int rc = weft_cond_wait_for(c->cond, reached_three, c);
  WEFT_EXPECT_EQ(c->value, 3);
  WEFT_EXPECT_OK(weft_lock_release(c->lock));
  return rc;
}

/* The waiter is notified after each of three increments; only the third
 * satisfies the predicate, so it checks it once at first and once per
 * notify, each time with the lock held. */
static int main_cond_wait_for(void* arg, void** result) {
  cond_ctx_t c = {0};
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_lock_new(&c.lock));
  WEFT_EXPECT_OK(weft_cond_new(c.lock, &c.cond));
  weft_task_t* t = weft_test_spawn(cond_waiter, &c);
  for (int i = 0; i < 3; i++) {
    /* Holding the lock after the waiter's (i+1)-th check means it is in
     * weft_cond_wait, which gives the lock up only once it is queued. */
    WEFT_EXPECT_OK(weft_lock_acquire(c.lock));
    while (c.checks != i + 1) {
      WEFT_EXPECT_OK(weft_lock_release(c.lock));
      WEFT_EXPECT_OK(weft_yield());
      WEFT_EXPECT_OK(weft_lock_acquire(c.lock));
    }
    c.value++;
    WEFT_EXPECT_OK(weft_cond_notify(c.cond, 1));
    WEFT_EXPECT_OK(weft_lock_release(c.lock));
  }
  WEFT_EXPECT_OK(weft_test_finish(t));
  WEFT_EXPECT_EQ(c.checks, 4);
  /* Already true: returns at once, without waiting. */
  WEFT_EXPECT_OK(weft_lock_acquire(c.lock));
  WEFT_EXPECT_OK(weft_cond_wait_for(c.cond, reached_three, &c));
  WEFT_EXPECT_OK(weft_lock_release(c.lock));
  WEFT_EXPECT_OK(weft_cond_free(c.cond));
  WEFT_EXPECT_OK(weft_lock_free(c.lock));
  return 0;
}

static void test_cond_wait_for_predicate(void** state) {
  (void)state;
  WEFT_ASSERT_ERR(weft_cond_wait_for(NULL, reached_three, NULL), WEFT_EINVAL);
  WEFT_ASSERT_OK(weft_test_run(1, main_cond_wait_for, NULL, NULL));
  WEFT_ASSERT_OK(weft_test_run(2, main_cond_wait_for, NULL, NULL));
}

/* --- Semaphore: free with a waiter ---------------------------------------*/

static int sem_waiter(void* arg, void** result) {
  (void)result;
  return weft_sem_acquire(arg);
}

static int main_sem_free_busy(void* arg, void** result) {
  weft_sem_t* sem;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_sem_new(0, 0, &sem));
  weft_task_t* t = weft_test_spawn(sem_waiter, sem);
  weft_test_until_parked(t);
  WEFT_EXPECT_ERR(weft_sem_free(sem), WEFT_EBUSY); /* nothing freed */
  WEFT_EXPECT_OK(weft_sem_release(sem));
  WEFT_EXPECT_OK(weft_test_finish(t));
  WEFT_EXPECT_OK(weft_sem_free(sem));
  return 0;
}

static void test_sem_free_with_waiter_is_busy(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_sem_free_busy, NULL, NULL));
}

/* --- Timeout scopes over each kind of wait -------------------------------*/

typedef int (*wait_fn)(void* obj);

typedef struct {
  wait_fn wait;
  void* obj;
} timed_t;

/* Waits under a 5 ms scope: the wait is cancelled, the scope timed out. */
static int timed_waiter(void* arg, void** result) {
  timed_t* w = arg;
  weft_timeout_t* tm;
  (void)result;
  WEFT_EXPECT_OK(weft_timeout_enter(5, &tm));
  WEFT_EXPECT_ERR(w->wait(w->obj), WEFT_ECANCELED);
  WEFT_EXPECT_ERR(weft_timeout_exit(tm), WEFT_ETIMEDOUT);
  return 0;
}

static int run_timed(wait_fn wait, void* obj) {
  timed_t w = {wait, obj};
  return weft_test_finish(weft_test_spawn(timed_waiter, &w));
}

static int sem_wait(void* obj) {
  return weft_sem_acquire(obj);
}
static int event_wait(void* obj) {
  return weft_event_wait(obj);
}
static int barrier_wait(void* obj) {
  return weft_barrier_wait(obj, NULL);
}

static int queue_wait(void* obj) {
  void* item;
  return weft_queue_get(obj, &item);
}

static int chan_wait(void* obj) {
  void* item;
  return weft_chan_recv(obj, &item);
}

static int main_timeout_sem(void* arg, void** result) {
  weft_sem_t* sem;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_sem_new(0, 0, &sem));
  WEFT_EXPECT_OK(run_timed(sem_wait, sem));
  WEFT_EXPECT_EQ(weft_sem_value(sem), 0);
  /* Still usable: a release is counted, not handed to the gone waiter. */
  WEFT_EXPECT_OK(weft_sem_release(sem));
  WEFT_EXPECT_OK(weft_sem_try_acquire(sem));
  WEFT_EXPECT_OK(weft_sem_free(sem));
  return 0;
}

static int main_timeout_event(void* arg, void** result) {
  weft_event_t* ev;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_event_new(&ev));
  WEFT_EXPECT_OK(run_timed(event_wait, ev));
  WEFT_EXPECT_OK(weft_event_set(ev));
  WEFT_EXPECT_OK(weft_event_wait(ev));
  WEFT_EXPECT_OK(weft_event_free(ev));
  return 0;
}

/* A cancelled barrier waiter breaks the barrier (asyncio's rule): it is
 * then usable as a broken barrier, and frees cleanly. */
static int main_timeout_barrier(void* arg, void** result) {
  weft_barrier_t* b;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_barrier_new(2, &b));
  WEFT_EXPECT_OK(run_timed(barrier_wait, b));
  WEFT_EXPECT_EQ(weft_barrier_broken(b), 1);
  WEFT_EXPECT_ERR(weft_barrier_wait(b, NULL), WEFT_ECLOSED);
  WEFT_EXPECT_OK(weft_barrier_free(b));
  return 0;
}

static int main_timeout_queue(void* arg, void** result) {
  weft_queue_t* q;
  void* item = NULL;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_queue_new(WEFT_QUEUE_FIFO, 1, &q));
  WEFT_EXPECT_OK(run_timed(queue_wait, q));
  WEFT_EXPECT_OK(weft_queue_put(q, (void*)7, 0));
  WEFT_EXPECT_EQ(weft_queue_size(q), 1); /* not taken by the gone getter */
  WEFT_EXPECT_OK(weft_queue_get(q, &item));
  WEFT_EXPECT_EQ((long)(intptr_t)item, 7);
  WEFT_EXPECT_OK(weft_queue_free(q));
  return 0;
}

static int main_timeout_chan(void* arg, void** result) {
  weft_chan_t* ch;
  void* item = NULL;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_chan_new(1, &ch));
  WEFT_EXPECT_OK(run_timed(chan_wait, ch));
  WEFT_EXPECT_OK(weft_chan_send(ch, (void*)9));
  WEFT_EXPECT_OK(weft_chan_recv(ch, &item));
  WEFT_EXPECT_EQ((long)(intptr_t)item, 9);
  WEFT_EXPECT_OK(weft_chan_close(ch));
  WEFT_EXPECT_ERR(weft_chan_recv(ch, &item), WEFT_ECLOSED);
  WEFT_EXPECT_OK(weft_chan_free(ch));
  return 0;
}

static void test_timeout_scope_bounds_every_wait(void** state) {
  (void)state;
  for (unsigned workers = 1; workers <= 2; workers++) {
    WEFT_ASSERT_OK(weft_test_run(workers, main_timeout_sem, NULL, NULL));
    WEFT_ASSERT_OK(weft_test_run(workers, main_timeout_event, NULL, NULL));
    WEFT_ASSERT_OK(weft_test_run(workers, main_timeout_barrier, NULL, NULL));
    WEFT_ASSERT_OK(weft_test_run(workers, main_timeout_queue, NULL, NULL));
    WEFT_ASSERT_OK(weft_test_run(workers, main_timeout_chan, NULL, NULL));
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cond_wait_for_predicate),
      cmocka_unit_test(test_sem_free_with_waiter_is_busy),
      cmocka_unit_test(test_timeout_scope_bounds_every_wait),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
