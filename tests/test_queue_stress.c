/* Channels and queues under load: many producers and consumers over 4
 * workers while a seeded canceller cancels consumers and producers at
 * random. Every item must be received exactly once (counted per item); a
 * lost wake-up hangs, which the ctest timeout reports. */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

enum { PRODUCERS = 8, CONSUMERS = 8, PER_PRODUCER = 4000 };
enum { ITEMS = PRODUCERS * PER_PRODUCER };

typedef struct {
  weft_chan_t* ch; /* either a channel ... */
  weft_queue_t* q; /* ... or a queue */
  atomic_int seen[ITEMS];
  atomic_int stop;    /* the canceller's stop flag */
  atomic_int started; /* tasks that began (a task cancelled before it
                         starts never runs, so the canceller waits) */
  weft_task_t* victims[PRODUCERS + CONSUMERS];
} rig_t;

/* Waits that ended in WEFT_ECANCELED, for the log: proof that the
 * canceller hit parked tasks (the count varies from run to run). */
static atomic_int cancels;

typedef struct {
  rig_t* rig;
  int index;
} role_t;

static int send_item(rig_t* r, intptr_t v) {
  if (r->ch != NULL)
    return weft_chan_send(r->ch, (void*)v);
  return weft_queue_put(r->q, (void*)v, (int64_t)(v % 7));
}

static int recv_item(rig_t* r, void** v) {
  return r->ch != NULL ? weft_chan_recv(r->ch, v) : weft_queue_get(r->q, v);
}

/* A cancelled send stored nothing: send the same item again. */
static int producer(void* arg, void** result) {
  role_t* role = arg;
  (void)result;
  /* relaxed: a progress count polled by main; it publishes nothing. */
  atomic_fetch_add_explicit(&role->rig->started, 1, memory_order_relaxed);
  for (int i = 0; i < PER_PRODUCER; i++) {
    intptr_t v = (intptr_t)role->index * PER_PRODUCER + i + 1;
    int err;
    while ((err = send_item(role->rig, v)) == WEFT_ECANCELED) {
      /* relaxed: a statistic printed at the end. */
      atomic_fetch_add_explicit(&cancels, 1, memory_order_relaxed);
    }
    WEFT_EXPECT_OK(err);
  }
  return 0;
}

/* A cancelled receive took nothing: receive again, until closed. */
static int consumer(void* arg, void** result) {
  rig_t* r = arg;
  void* v;
  int err;
  (void)result;
  /* relaxed: see producer(). */
  atomic_fetch_add_explicit(&r->started, 1, memory_order_relaxed);
  while ((err = recv_item(r, &v)) != WEFT_ECLOSED) {
    if (err == WEFT_ECANCELED) {
      /* relaxed: a statistic printed at the end. */
      atomic_fetch_add_explicit(&cancels, 1, memory_order_relaxed);
      continue;
    }
    WEFT_EXPECT_OK(err);
    /* relaxed: a counter read after every task has been awaited. */
    atomic_fetch_add_explicit(&r->seen[(intptr_t)v - 1], 1,
                              memory_order_relaxed);
    if (r->q != NULL)
      WEFT_EXPECT_OK(weft_queue_task_done(r->q));
  }
  return 0;
}

static int canceller(void* arg, void** result) {
  rig_t* r = arg;
  unsigned seed = 12345;
  (void)result;
  /* relaxed: a stop flag; nothing is published through it. */
  while (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
    int k = rand_r(&seed) % (PRODUCERS + CONSUMERS);
    int err = weft_cancel(r->victims[k]);
    WEFT_EXPECT(err == 0 || err == WEFT_EBUSY);
    WEFT_EXPECT_OK(weft_yield());
  }
  return 0;
}

static int main_stress(void* arg, void** result) {
  rig_t* r = arg;
  role_t roles[PRODUCERS];
  weft_task_t* cancel_task;
  (void)result;
  for (int i = 0; i < CONSUMERS; i++)
    WEFT_EXPECT_OK(weft_spawn(NULL, consumer, r, NULL, &r->victims[i]));
  for (int i = 0; i < PRODUCERS; i++) {
    roles[i].rig = r;
    roles[i].index = i;
    WEFT_EXPECT_OK(weft_spawn(NULL, producer, &roles[i], NULL,
                              &r->victims[CONSUMERS + i]));
  }
  /* relaxed: see producer(). */
  WEFT_EXPECT_OK(WEFT_YIELD_UNTIL(
      atomic_load_explicit(&r->started, memory_order_relaxed) ==
      PRODUCERS + CONSUMERS));
  WEFT_EXPECT_OK(weft_spawn(NULL, canceller, r, NULL, &cancel_task));
  for (int i = CONSUMERS; i < CONSUMERS + PRODUCERS; i++)
    WEFT_EXPECT_OK(weft_await(r->victims[i], NULL));
  if (r->q != NULL)
    WEFT_EXPECT_OK(weft_queue_join(r->q)); /* every item was task_done */
  /* relaxed: see canceller(). */
  atomic_store_explicit(&r->stop, 1, memory_order_relaxed);
  WEFT_EXPECT_OK(weft_await(cancel_task, NULL));
  weft_task_release(cancel_task);
  WEFT_EXPECT_OK(r->ch != NULL ? weft_chan_close(r->ch)
                               : weft_queue_shutdown(r->q, 0));
  for (int i = 0; i < CONSUMERS + PRODUCERS; i++) {
    if (i < CONSUMERS)
      WEFT_EXPECT_OK(weft_await(r->victims[i], NULL));
    weft_task_release(r->victims[i]);
  }
  return 0;
}

static void run_rig(rig_t* r) {
  WEFT_ASSERT_OK(weft_test_run(4, main_stress, r, NULL));
  for (int i = 0; i < ITEMS; i++)
    assert_int_equal(atomic_load(&r->seen[i]), 1);
  print_message("%d items, %d cancelled waits so far\n", ITEMS,
                atomic_load(&cancels));
}

static rig_t* rig_new(void) {
  rig_t* r = calloc(1, sizeof(*r));
  assert_non_null(r);
  for (int i = 0; i < ITEMS; i++)
    atomic_init(&r->seen[i], 0);
  atomic_init(&r->stop, 0);
  atomic_init(&r->started, 0);
  return r;
}

static void test_stress_channel(void** state) {
  rig_t* r = rig_new();
  (void)state;
  WEFT_ASSERT_OK(weft_chan_new(4, &r->ch));
  run_rig(r);
  WEFT_ASSERT_OK(weft_chan_free(r->ch));
  free(r);
}

static void stress_queue(weft_queue_kind_t kind, size_t maxsize) {
  rig_t* r = rig_new();
  WEFT_ASSERT_OK(weft_queue_new(kind, maxsize, &r->q));
  run_rig(r);
  WEFT_ASSERT_OK(weft_queue_free(r->q));
  free(r);
}

static void test_stress_fifo_bounded(void** state) {
  (void)state;
  stress_queue(WEFT_QUEUE_FIFO, 8);
}

static void test_stress_lifo_unbounded(void** state) {
  (void)state;
  stress_queue(WEFT_QUEUE_LIFO, 0);
}

static void test_stress_priority_bounded(void** state) {
  (void)state;
  stress_queue(WEFT_QUEUE_PRIORITY, 3);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stress_channel),
      cmocka_unit_test(test_stress_fifo_bounded),
      cmocka_unit_test(test_stress_lifo_unbounded),
      cmocka_unit_test(test_stress_priority_bounded),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
