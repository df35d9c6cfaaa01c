/* Synchronisation primitives under load, across 4 workers, with random
 * (seeded) cancellations. Invariants are checked by counters; a lost
 * wake-up shows as a hang, which the ctest timeout turns into a failure. */
#include <stdatomic.h>
#include <stdlib.h>

#include "helpers.h"

#define WORKERS 4
#define TASKS 1200

/* Spawns n copies of fn(arg), cancels a random ~quarter of them, awaits
 * all; returns how many ended with WEFT_ECANCELED. Every other status must
 * be 0. */
static int run_all(weft_task_fn fn, void* arg, int n, int cancel) {
  weft_task_t** t = calloc((size_t)n, sizeof(*t));
  int cancelled = 0;
  for (int i = 0; i < n; i++)
    WEFT_EXPECT_OK(weft_spawn(NULL, fn, arg, NULL, &t[i]));
  for (int i = 0; cancel && i < n; i++)
    if (rand() % 4 == 0)
      (void)weft_cancel(t[i]); /* WEFT_EBUSY if it already ended */
  for (int i = 0; i < n; i++) {
    int rc = weft_await(t[i], NULL);
    if (rc == WEFT_ECANCELED)
      cancelled++;
    else
      WEFT_EXPECT_OK(rc);
    weft_task_release(t[i]);
  }
  free(t);
  return cancelled;
}

/* --- Semaphore: never more than N inside ---------------------------------*/

typedef struct {
  weft_sem_t* sem;
  size_t limit;
  _Atomic int inside;
  _Atomic int admitted;
} sem_ctx_t;

static int sem_task(void* arg, void** result) {
  sem_ctx_t* c = arg;
  (void)result;
  for (int round = 0; round < 40; round++) {
    int rc = weft_sem_acquire(c->sem);
    if (rc != 0)
      return rc;
    int now = atomic_fetch_add(&c->inside, 1) + 1;
    WEFT_EXPECT(now <= (int)c->limit);
    atomic_fetch_add(&c->admitted, 1);
    rc = weft_yield(); /* a cancellation here must still release */
    atomic_fetch_sub(&c->inside, 1);
    WEFT_EXPECT_OK(weft_sem_release(c->sem));
    if (rc != 0)
      return rc;
  }
  return 0;
}

static int main_sem(void* arg, void** result) {
  sem_ctx_t c = {.limit = 3};
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_sem_new(c.limit, 1, &c.sem));
  run_all(sem_task, &c, TASKS, 1);
  WEFT_EXPECT_EQ(weft_sem_value(c.sem), c.limit); /* no permit lost */
  WEFT_EXPECT_EQ(atomic_load(&c.inside), 0);
  WEFT_EXPECT(atomic_load(&c.admitted) > 0);
  WEFT_EXPECT_OK(weft_sem_free(c.sem));
  return 0;
}

static void test_sem_never_admits_more_than_n(void** state) {
  (void)state;
  srand(1234);
  WEFT_ASSERT_OK(weft_test_run(WORKERS, main_sem, NULL, NULL));
}

/* --- Lock: mutual exclusion ----------------------------------------------*/

typedef struct {
  weft_lock_t* lock;
  long counter;      /* only under the lock */
  _Atomic long adds; /* how many increments were made */
} lock_ctx_t;

static int lock_task(void* arg, void** result) {
  lock_ctx_t* c = arg;
  (void)result;
  for (int i = 0; i < 80; i++) {
    int rc = weft_lock_acquire(c->lock);
    if (rc != 0)
      return rc;
    long v = c->counter;
    if (i % 4 == 0)
      rc = weft_yield(); /* hold it across a switch */
    c->counter = v + 1;
    atomic_fetch_add(&c->adds, 1);
    WEFT_EXPECT_OK(weft_lock_release(c->lock));
    if (rc != 0)
      return rc;
  }
  return 0;
}

static int main_lock(void* arg, void** result) {
  lock_ctx_t c = {0};
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_lock_new(&c.lock));
  run_all(lock_task, &c, TASKS, 1);
  WEFT_EXPECT_EQ(c.counter, atomic_load(&c.adds));
  WEFT_EXPECT_EQ(weft_lock_locked(c.lock), 0);
  WEFT_EXPECT_OK(weft_lock_free(c.lock));
  return 0;
}

static void test_lock_mutual_exclusion(void** state) {
  (void)state;
  srand(99);
  WEFT_ASSERT_OK(weft_test_run(WORKERS, main_lock, NULL, NULL));
}

/* --- Barrier: generations -------------------------------------------------*/

#define PARTIES 4
#define GENERATIONS 300

typedef struct {
  weft_barrier_t* b;
  _Atomic int arrivals;
  _Atomic int index_sum;
} barrier_ctx_t;

static int barrier_task(void* arg, void** result) {
  barrier_ctx_t* c = arg;
  (void)result;
  for (int g = 0; g < GENERATIONS; g++) {
    atomic_fetch_add(&c->arrivals, 1);
    size_t idx;
    WEFT_EXPECT_OK(weft_barrier_wait(c->b, &idx));
    atomic_fetch_add(&c->index_sum, (int)idx);
    /* Nobody passes generation g before all parties reached it. */
    WEFT_EXPECT(atomic_load(&c->arrivals) >= PARTIES * (g + 1));
  }
  return 0;
}

static int main_barrier(void* arg, void** result) {
  barrier_ctx_t c = {0};
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_barrier_new(PARTIES, &c.b));
  WEFT_EXPECT_EQ(run_all(barrier_task, &c, PARTIES, 0), 0);
  WEFT_EXPECT_EQ(atomic_load(&c.index_sum), GENERATIONS * (0 + 1 + 2 + 3));
  WEFT_EXPECT_EQ(weft_barrier_broken(c.b), 0);
  WEFT_EXPECT_OK(weft_barrier_free(c.b));
  return 0;
}

static void test_barrier_generations(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(WORKERS, main_barrier, NULL, NULL));
}

/* --- Condition: producers and consumers, consumers cancelled --------------*/

#define PRODUCERS 8
#define PER_PRODUCER 500
#define CONSUMERS 64

typedef struct {
  weft_lock_t* lock;
  weft_cond_t* cond;
  int items;    /* under lock */
  int consumed; /* under lock */
  int produced; /* under lock */
} pc_ctx_t;

static int producer(void* arg, void** result) {
  pc_ctx_t* c = arg;
  (void)result;
  for (int i = 0; i < PER_PRODUCER; i++) {
    WEFT_EXPECT_OK(weft_lock_acquire(c->lock));
    c->items++;
    c->produced++;
    WEFT_EXPECT_OK(weft_cond_notify(c->cond, 1));
    WEFT_EXPECT_OK(weft_lock_release(c->lock));
    if (i % 16 == 0)
      WEFT_EXPECT_OK(weft_yield());
  }
  return 0;
}

static int all_done_or_item(void* arg) {
  pc_ctx_t* c = arg;
  return c->items > 0 || c->consumed == PRODUCERS * PER_PRODUCER;
}

static int consumer(void* arg, void** result) {
  pc_ctx_t* c = arg;
  (void)result;
  int rc = weft_lock_acquire(c->lock);
  if (rc != 0)
    return rc;
  for (;;) {
    rc = weft_cond_wait_for(c->cond, all_done_or_item, c);
    if (rc != 0 || c->items == 0)
      break;
    c->items--;
    if (++c->consumed == PRODUCERS * PER_PRODUCER)
      WEFT_EXPECT_OK(weft_cond_notify_all(c->cond)); /* let all leave */
  }
  WEFT_EXPECT_OK(weft_lock_release(c->lock));
  return rc;
}

static int main_cond(void* arg, void** result) {
  pc_ctx_t c = {0};
  weft_task_t* keeper; /* never cancelled: someone drains the rest */
  weft_task_t* cons[CONSUMERS];
  weft_task_t* prod[PRODUCERS];
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_lock_new(&c.lock));
  WEFT_EXPECT_OK(weft_cond_new(c.lock, &c.cond));
  WEFT_EXPECT_OK(weft_spawn(NULL, consumer, &c, NULL, &keeper));
  for (int i = 0; i < CONSUMERS; i++)
    WEFT_EXPECT_OK(weft_spawn(NULL, consumer, &c, NULL, &cons[i]));
  for (int i = 0; i < PRODUCERS; i++)
    WEFT_EXPECT_OK(weft_spawn(NULL, producer, &c, NULL, &prod[i]));
  for (int i = 0; i < CONSUMERS; i++) {
    if (rand() % 3 == 0)
      (void)weft_cancel(cons[i]);
    if (i % 8 == 0)
      WEFT_EXPECT_OK(weft_yield());
  }
  for (int i = 0; i < PRODUCERS; i++) {
    WEFT_EXPECT_OK(weft_await(prod[i], NULL));
    weft_task_release(prod[i]);
  }
  for (int i = 0; i < CONSUMERS; i++) {
    int rc = weft_await(cons[i], NULL);
    WEFT_EXPECT(rc == 0 || rc == WEFT_ECANCELED);
    weft_task_release(cons[i]);
  }
  WEFT_EXPECT_OK(weft_await(keeper, NULL));
  weft_task_release(keeper);
  WEFT_EXPECT_EQ(c.consumed, PRODUCERS * PER_PRODUCER);
  WEFT_EXPECT_EQ(c.items, 0);
  WEFT_EXPECT_OK(weft_cond_free(c.cond));
  WEFT_EXPECT_OK(weft_lock_free(c.lock));
  return 0;
}

static void test_cond_producers_consumers_cancelled(void** state) {
  (void)state;
  srand(7);
  WEFT_ASSERT_OK(weft_test_run(WORKERS, main_cond, NULL, NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sem_never_admits_more_than_n),
      cmocka_unit_test(test_lock_mutual_exclusion),
      cmocka_unit_test(test_barrier_generations),
      cmocka_unit_test(test_cond_producers_consumers_cancelled),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
