/* weft_select under contention (run it under TSan): on 4 workers,
 * producers send every item through a select over three shared channels,
 * consumers (tasks, and one plain thread) receive through a select over
 * the same channels plus a future that never completes and a token of
 * their own, and a chaos task cancels producers and consumers and the
 * consumers' tokens at random while short timeouts cut selects on both
 * sides. A cancelled or timed-out send is retried; a cancelled receive
 * loses nothing. Checked: every item is delivered exactly once, and every
 * channel is left with no waiter (weft_chan_free succeeds). Seeded, so the
 * choices repeat (the interleaving does not). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "helpers.h"

enum {
  kChans = 3,
  kCap = 2,
  kProducers = 4,
  kItems = 1500, /* per producer */
  kConsumers = 5,
  kTotal = kProducers * kItems
};

typedef struct {
  weft_chan_t* ch[kChans];
  weft_future_t* never;
  _Atomic int counts[kTotal];
  _Atomic int producers_left;
  _Atomic int started; /* tasks past their first line: chaos waits for all */
  weft_task_t* victims[kProducers + kConsumers];
  pthread_mutex_t tokens_mu; /* guards tokens[] (swapped by consumers) */
  weft_token_t* tokens[kConsumers];
} ctx_t;

static ctx_t ctx = {.tokens_mu = PTHREAD_MUTEX_INITIALIZER};

/* A reference to consumer i's current token. */
static weft_token_t* token_of(int i) {
  pthread_mutex_lock(&ctx.tokens_mu);
  weft_token_t* tok = weft_token_retain(ctx.tokens[i]);
  pthread_mutex_unlock(&ctx.tokens_mu);
  return tok;
}

static int64_t some_timeout(unsigned* seed) {
  int r = rand_r(seed) % 4;
  return r == 0 ? 0 : r == 1 ? 1 : -1;
}

static int producer(void* arg, void** result) {
  unsigned p = (unsigned)(uintptr_t)arg, seed = p + 1;
  (void)result;
  atomic_fetch_add(&ctx.started, 1);
  for (int i = 0; i < kItems;) {
    intptr_t id = (intptr_t)p * kItems + i;
    weft_select_case_t c[kChans];
    for (int k = 0; k < kChans; k++)
      c[k] = weft_select_send(ctx.ch[(k + i) % kChans], (void*)(id + 1));
    int rc = weft_select(c, kChans, some_timeout(&seed));
    if (rc >= 0) {
      WEFT_EXPECT_EQ(c[rc].status, 0);
      i++;
    } else {
      WEFT_EXPECT(rc == WEFT_ECANCELED || rc == WEFT_ETIMEDOUT);
    }
  }
  atomic_fetch_sub(&ctx.producers_left, 1);
  return 0;
}

/* Receives until every channel is closed and drained. */
static void consume(unsigned seed, int me) {
  int open[kChans] = {1, 1, 1};
  int nopen = kChans;
  void* got[kChans];
  while (nopen > 0) {
    weft_select_case_t c[kChans + 2];
    for (int k = 0; k < kChans; k++)
      c[k] = open[k] ? weft_select_recv(ctx.ch[k], &got[k])
                     : (weft_select_case_t){.kind = WEFT_SELECT_OFF};
    weft_token_t* tok = me >= 0 ? token_of(me) : NULL;
    c[kChans] = weft_select_future(ctx.never, NULL);
    c[kChans + 1] = tok != NULL ? weft_select_token(tok)
                                : (weft_select_case_t){.kind = WEFT_SELECT_OFF};
    int rc = weft_select(c, kChans + 2, some_timeout(&seed));
    if (rc == kChans + 1) { /* our token was cancelled: take a fresh one */
      weft_token_t* fresh;
      WEFT_EXPECT_OK(weft_token_new(NULL, &fresh));
      pthread_mutex_lock(&ctx.tokens_mu);
      weft_token_t* old = ctx.tokens[me];
      ctx.tokens[me] = fresh;
      pthread_mutex_unlock(&ctx.tokens_mu);
      weft_token_release(old);
    } else if (rc >= 0) {
      WEFT_EXPECT(rc < kChans);
      if (c[rc].status == WEFT_ECLOSED) {
        open[rc] = 0;
        nopen--;
      } else if (WEFT_EXPECT_EQ(c[rc].status, 0)) {
        intptr_t id = (intptr_t)got[rc] - 1;
        if (WEFT_EXPECT(id >= 0 && id < kTotal))
          atomic_fetch_add(&ctx.counts[id], 1);
      }
    } else {
      WEFT_EXPECT(rc == WEFT_ECANCELED || rc == WEFT_ETIMEDOUT);
    }
    weft_token_release(tok);
  }
}

static int consumer(void* arg, void** result) {
  int me = (int)(uintptr_t)arg;
  (void)result;
  atomic_fetch_add(&ctx.started, 1);
  consume((unsigned)me + 50, me);
  return 0;
}

static void* thread_consumer(void* arg) {
  (void)arg;
  consume(99, -1);
  return NULL;
}

/* Cancels random victims (and consumers' tokens) while producers run. */
static int chaos(void* arg, void** result) {
  unsigned seed = 7;
  (void)arg;
  (void)result;
  /* A task cancelled before it starts never runs: let them all start. */
  if (WEFT_YIELD_UNTIL(atomic_load(&ctx.started) == kProducers + kConsumers) !=
      0)
    return 0;
  while (atomic_load(&ctx.producers_left) > 0) {
    int v = rand_r(&seed) % (kProducers + kConsumers);
    weft_cancel(ctx.victims[v]); /* WEFT_EBUSY once it ended: fine */
    if (v >= kProducers && rand_r(&seed) % 2) {
      /* The consumer may swap its token meanwhile: hold the one we use. */
      weft_token_t* tok = token_of(v - kProducers);
      weft_token_cancel(tok);
      weft_token_release(tok);
    }
    if (weft_yield() != 0)
      break;
  }
  return 0;
}

static int main_stress(void* arg, void** result) {
  weft_task_t* chaos_task;
  pthread_t th;
  (void)arg;
  (void)result;
  for (int k = 0; k < kChans; k++)
    WEFT_EXPECT_OK(weft_chan_new(kCap, &ctx.ch[k]));
  WEFT_EXPECT_OK(weft_future_new(&ctx.never));
  for (int i = 0; i < kTotal; i++)
    atomic_init(&ctx.counts[i], 0);
  atomic_store(&ctx.producers_left, kProducers);
  atomic_store(&ctx.started, 0);
  for (int i = 0; i < kConsumers; i++) {
    weft_token_t* tok;
    WEFT_EXPECT_OK(weft_token_new(NULL, &tok));
    ctx.tokens[i] = tok;
  }
  for (int i = 0; i < kProducers; i++)
    WEFT_EXPECT_OK(
        weft_spawn(NULL, producer, (void*)(uintptr_t)i, NULL, &ctx.victims[i]));
  for (int i = 0; i < kConsumers; i++)
    WEFT_EXPECT_OK(weft_spawn(NULL, consumer, (void*)(uintptr_t)i, NULL,
                              &ctx.victims[kProducers + i]));
  WEFT_EXPECT_EQ(pthread_create(&th, NULL, thread_consumer, NULL), 0);
  WEFT_EXPECT_OK(weft_spawn(NULL, chaos, NULL, NULL, &chaos_task));
  for (int i = 0; i < kProducers; i++)
    WEFT_EXPECT_OK(weft_await(ctx.victims[i], NULL));
  WEFT_EXPECT_OK(weft_await(chaos_task, NULL));
  weft_task_release(chaos_task);
  for (int k = 0; k < kChans; k++)
    WEFT_EXPECT_OK(weft_chan_close(ctx.ch[k]));
  for (int i = 0; i < kConsumers; i++)
    WEFT_EXPECT_OK(weft_await(ctx.victims[kProducers + i], NULL));
  WEFT_EXPECT_EQ(pthread_join(th, NULL), 0);
  for (int i = 0; i < kProducers + kConsumers; i++)
    weft_task_release(ctx.victims[i]);
  int wrong = 0;
  for (int i = 0; i < kTotal; i++)
    wrong += atomic_load(&ctx.counts[i]) != 1;
  WEFT_EXPECT_EQ(wrong, 0);
  for (int k = 0; k < kChans; k++)
    WEFT_EXPECT_OK(weft_chan_free(ctx.ch[k]));
  weft_future_release(ctx.never);
  for (int i = 0; i < kConsumers; i++)
    weft_token_release(ctx.tokens[i]);
  return 0;
}

static void test_select_exactly_once_under_cancellation(void** state) {
  (void)state;
  for (int run = 0; run < 5; run++)
    WEFT_ASSERT_OK(weft_test_run(4, main_stress, NULL, NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_select_exactly_once_under_cancellation),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
