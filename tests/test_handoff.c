/* Hand-off (src/core/worker.c): a task that parks switches straight to the
 * next yielder of its round, or to the task it woke into the LIFO slot,
 * and that task finishes the parked one's switch-out (its post action, the
 * driver it held). These tests pin what the hand-off must keep: the yield
 * round order, every post action run exactly once (a lost unlock hangs a
 * future, a doubled one breaks the spin lock), cancellation of a task that
 * another handed off to, and the same across workers with steals. */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

/* ---- Yield rounds ------------------------------------------------------ */

enum { kYielders = 5, kYields = 200 };

typedef struct {
  int log[kYielders * kYields];
  int n;
} yield_log_t;

typedef struct {
  yield_log_t* log;
  int index;
} yielder_t;

static int yielder(void* arg, void** result) {
  yielder_t* y = arg;
  (void)result;
  for (int i = 0; i < kYields; i++) {
    y->log->log[y->log->n++] = y->index; /* one worker: no race */
    WEFT_EXPECT_OK(weft_yield());
  }
  return 0;
}

static int yield_rounds_body(void* arg, void** result) {
  yield_log_t* log = arg;
  yielder_t ys[kYielders];
  weft_task_t* ts[kYielders];
  (void)result;
  for (int i = 0; i < kYielders; i++) {
    ys[i] = (yielder_t){.log = log, .index = i};
    WEFT_EXPECT_OK(weft_spawn(NULL, yielder, &ys[i], NULL, &ts[i]));
  }
  for (int i = 0; i < kYielders; i++) {
    WEFT_EXPECT_OK(weft_await(ts[i], NULL));
    weft_task_release(ts[i]);
  }
  return 0;
}

/* With one worker, yielders take turns: every round is the same
 * permutation of them, whichever order the first round had. */
static void test_yield_rounds_keep_their_order(void** state) {
  (void)state;
  yield_log_t* log = calloc(1, sizeof(*log));
  assert_non_null(log);
  WEFT_ASSERT_OK(weft_test_run(1, yield_rounds_body, log, NULL));
  assert_int_equal(log->n, kYielders * kYields);
  int seen[kYielders] = {0};
  for (int i = 0; i < kYielders; i++)
    seen[log->log[i]]++;
  for (int i = 0; i < kYielders; i++)
    assert_int_equal(seen[i], 1);
  /* After the first round, the order repeats. The body is awaiting the
   * first yielder, so nothing else runs between rounds. */
  for (int i = kYielders; i < log->n; i++)
    assert_int_equal(log->log[i], log->log[i - kYielders]);
  free(log);
}

/* ---- Ping-pong over futures: every post action runs once --------------- */

enum { kPairs = 64, kRounds = 300 };

typedef struct {
  weft_chan_t* ch[2];
  _Atomic int sum;
} pair_t;

/* Side `me` waits for a number on its channel and sends it + 1 to the
 * other: each receive parks, each send wakes the other into the LIFO slot,
 * so almost every switch is a hand-off. Side 1 receives 1, 3, ...,
 * 2 * kRounds - 1 and keeps the last; side 0 sends first and receives one
 * number less. */
static int side(void* arg, void** result) {
  pair_t* p = ((void**)arg)[0];
  intptr_t me = (intptr_t)((void**)arg)[1];
  (void)result;
  if (me == 0)
    WEFT_EXPECT_OK(weft_chan_send(p->ch[1], (void*)(intptr_t)1));
  for (int i = 0; i < kRounds - (me == 0); i++) {
    void* v = NULL;
    int rc = weft_chan_recv(p->ch[me], &v);
    if (rc != 0)
      return rc; /* the body checks: only a cancelled pair may fail */
    if (me == 1 && i == kRounds - 1) {
      /* relaxed: read after the tasks are joined. */
      atomic_fetch_add_explicit(&p->sum, (int)(intptr_t)v,
                                memory_order_relaxed);
      return 0;
    }
    rc = weft_chan_send(p->ch[1 - me], (void*)((intptr_t)v + 1));
    if (rc != 0)
      return rc;
  }
  return 0;
}

typedef struct {
  unsigned workers;
  int cancel_some; /* cancel every 8th pair's second side halfway */
} pp_cfg_t;

static int pingpong_body(void* arg, void** result) {
  const pp_cfg_t* cfg = arg;
  pair_t* pairs = calloc(kPairs, sizeof(*pairs));
  void* args[kPairs][2][2];
  weft_task_t* ts[kPairs][2];
  (void)result;
  if (!WEFT_EXPECT(pairs != NULL))
    return WEFT_ENOMEM;
  for (int i = 0; i < kPairs; i++) {
    WEFT_EXPECT_OK(weft_chan_new(1, &pairs[i].ch[0]));
    WEFT_EXPECT_OK(weft_chan_new(1, &pairs[i].ch[1]));
    for (int s = 0; s < 2; s++) {
      args[i][s][0] = &pairs[i];
      args[i][s][1] = (void*)(intptr_t)s;
      WEFT_EXPECT_OK(weft_spawn(NULL, side, args[i][s], NULL, &ts[i][s]));
    }
  }
  if (cfg->cancel_some) {
    for (int i = 0; i < kPairs; i += 8)
      weft_cancel(ts[i][1]);
  }
  int cancelled = 0;
  for (int i = 0; i < kPairs; i++) {
    int rc1 = weft_await(ts[i][1], NULL);
    if (rc1 == WEFT_ECANCELED) {
      cancelled++;
      /* The other side waits for a value that never comes. */
      weft_chan_close(pairs[i].ch[0]);
      weft_chan_close(pairs[i].ch[1]);
    } else {
      WEFT_EXPECT_OK(rc1);
    }
    int rc0 = weft_await(ts[i][0], NULL);
    WEFT_EXPECT(rc0 == 0 || (rc1 != 0 && rc0 == WEFT_ECLOSED));
    weft_task_release(ts[i][0]);
    weft_task_release(ts[i][1]);
    weft_chan_free(pairs[i].ch[0]);
    weft_chan_free(pairs[i].ch[1]);
  }
  /* relaxed: the tasks were joined. */
  int sum = atomic_load_explicit(&pairs[0].sum, memory_order_relaxed);
  int full = 0;
  for (int i = 0; i < kPairs; i++)
    /* relaxed: as above. */
    full += atomic_load_explicit(&pairs[i].sum, memory_order_relaxed) ==
            2 * kRounds - 1;
  if (!cfg->cancel_some) {
    WEFT_EXPECT_EQ(sum, 2 * kRounds - 1);
    WEFT_EXPECT_EQ(full, kPairs);
  } else {
    /* A cancel may land after its side finished: at least the others. */
    WEFT_EXPECT(full >= kPairs - kPairs / 8);
    WEFT_EXPECT_EQ(full + cancelled, kPairs);
  }
  free(pairs);
  return 0;
}

static void test_pingpong_one_worker(void** state) {
  (void)state;
  pp_cfg_t cfg = {.workers = 1};
  WEFT_ASSERT_OK(weft_test_run(1, pingpong_body, &cfg, NULL));
}

static void test_pingpong_four_workers(void** state) {
  (void)state;
  pp_cfg_t cfg = {.workers = 4};
  WEFT_ASSERT_OK(weft_test_run(4, pingpong_body, &cfg, NULL));
}

static void test_pingpong_with_cancels(void** state) {
  (void)state;
  pp_cfg_t cfg = {.workers = 2, .cancel_some = 1};
  WEFT_ASSERT_OK(weft_test_run(2, pingpong_body, &cfg, NULL));
}

/* ---- A handed-to task that sleeps: the driver the parker held ---------- */

static int sleeper_yielder(void* arg, void** result) {
  (void)arg;
  (void)result;
  for (int i = 0; i < 50; i++) {
    /* A sleep parks with the worker's driver held (the timer heap); a
     * yield right after hands off with it. A driver never released would
     * hang the next sleep of any task here. */
    WEFT_EXPECT_OK(weft_sleep_ns(1000));
    WEFT_EXPECT_OK(weft_yield());
  }
  return 0;
}

static int sleepers_body(void* arg, void** result) {
  weft_task_t* ts[8];
  (void)arg;
  (void)result;
  for (int i = 0; i < 8; i++)
    WEFT_EXPECT_OK(weft_spawn(NULL, sleeper_yielder, NULL, NULL, &ts[i]));
  for (int i = 0; i < 8; i++) {
    WEFT_EXPECT_OK(weft_await(ts[i], NULL));
    weft_task_release(ts[i]);
  }
  return 0;
}

static void test_sleep_and_yield_release_the_driver(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, sleepers_body, NULL, NULL));
  WEFT_ASSERT_OK(weft_test_run(2, sleepers_body, NULL, NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_yield_rounds_keep_their_order),
      cmocka_unit_test(test_pingpong_one_worker),
      cmocka_unit_test(test_pingpong_four_workers),
      cmocka_unit_test(test_pingpong_with_cancels),
      cmocka_unit_test(test_sleep_and_yield_release_the_driver),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
