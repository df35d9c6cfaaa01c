/* Broadcast under load: senders on four workers and a plain thread, many
 * receivers with a small capacity (so they lag), some of them receiving
 * under short timeout scopes (so waits are cancelled at random points).
 * Every receiver must see the one sequence of sends, each position either
 * received or reported missed by a lag, every message at most once, each
 * sender's messages in the order it sent them, and the close at the end.
 * The outcome is checked, never a time. */
#include <pthread.h>
#include <stdlib.h>

#include "helpers.h"

enum {
  kWorkers = 4,
  kTaskSenders = 4,
  kSenders = kTaskSenders + 1, /* and one plain thread */
  kPerSender = 2000,
  kTotal = kSenders * kPerSender,
  kReceivers = 8,
};

/* A small capacity makes receivers lag; one for every message makes a
 * lag impossible, so every receiver must get the whole sequence. */
static size_t g_capacity;

typedef struct {
  uint32_t sender;
  uint32_t k;
} msg_t;

typedef struct {
  weft_broadcast_rx_t* rx;
  unsigned id;
  uint64_t* seen; /* by position: sender << 32 | k, plus 1; 0: missed */
  uint64_t pos;   /* positions accounted for: received or missed */
  uint64_t received;
  uint64_t lags;
  uint32_t last_k[kSenders]; /* last k seen per sender, plus 1 */
} receiver_t;

static weft_broadcast_t* g_bc;

static unsigned next_rand(unsigned* s) {
  *s = *s * 1103515245u + 12345u;
  return *s >> 16;
}

static void record(receiver_t* r, const msg_t* m) {
  WEFT_EXPECT(m->sender < kSenders);
  WEFT_EXPECT(r->pos < kTotal);
  if (m->sender >= kSenders || r->pos >= kTotal)
    return;
  /* Each sender's messages come in the order it sent them, once each. */
  WEFT_EXPECT(m->k + 1 > r->last_k[m->sender]);
  r->last_k[m->sender] = m->k + 1;
  r->seen[r->pos++] = ((uint64_t)m->sender << 32 | m->k) + 1;
  r->received++;
}

/* A receive, under a short timeout scope for odd receivers: a timed-out
 * wait takes nothing, so it is simply tried again. */
static int receive(receiver_t* r, msg_t* m, uint64_t* missed, unsigned* rs) {
  if (r->id % 2 == 0)
    return weft_broadcast_recv(r->rx, m, missed);
  for (;;) {
    weft_timeout_t* to;
    int err = weft_timeout_enter(next_rand(rs) % 2, &to);
    if (err != 0)
      return err;
    err = weft_broadcast_recv(r->rx, m, missed);
    int te = weft_timeout_exit(to);
    if (err != WEFT_ECANCELED || te != WEFT_ETIMEDOUT)
      return err;
  }
}

static int receiver_task(void* arg, void** result) {
  receiver_t* r = arg;
  unsigned rs = r->id * 7919u + 1;
  msg_t m;
  uint64_t missed;
  int err;
  (void)result;
  while ((err = receive(r, &m, &missed, &rs)) != WEFT_ECLOSED) {
    if (err == WEFT_ELIMIT) {
      WEFT_EXPECT(missed > 0 && r->pos + missed <= kTotal);
      r->pos += missed; /* seen[] stays 0 there */
      r->lags++;
      continue;
    }
    if (!WEFT_EXPECT_OK(err))
      return err;
    record(r, &m);
    /* Some receivers are slow: they yield, so they lag. */
    if (r->id % 4 == 3 && next_rand(&rs) % 3 == 0)
      weft_yield();
  }
  return 0;
}

static int sender_task(void* arg, void** result) {
  uint32_t id = (uint32_t)(uintptr_t)arg;
  (void)result;
  for (uint32_t k = 0; k < kPerSender; k++) {
    msg_t m = {id, k};
    int n = weft_broadcast_send(g_bc, &m);
    if (!WEFT_EXPECT_EQ(n, kReceivers))
      return n < 0 ? n : WEFT_EINVAL;
    if (k % 64 == 0)
      weft_yield();
  }
  return 0;
}

static void* sender_thread(void* arg) {
  (void)arg;
  for (uint32_t k = 0; k < kPerSender; k++) {
    msg_t m = {kTaskSenders, k};
    WEFT_EXPECT_EQ(weft_broadcast_send(g_bc, &m), kReceivers);
  }
  return NULL;
}

static int join_fn(void* arg, void** result) {
  (void)result;
  return pthread_join(*(pthread_t*)arg, NULL) == 0 ? 0 : WEFT_EINVAL;
}

/* Every receiver saw the same message at every position it received. */
static void check(receiver_t* rs) {
  uint64_t* agreed = calloc(kTotal, sizeof(uint64_t));
  WEFT_EXPECT(agreed != NULL);
  for (int i = 0; i < kReceivers && agreed != NULL; i++) {
    receiver_t* r = &rs[i];
    WEFT_EXPECT_EQ(r->pos, kTotal); /* the whole sequence, to the close */
    for (uint64_t p = 0; p < kTotal; p++) {
      if (r->seen[p] == 0)
        continue;
      if (agreed[p] == 0)
        agreed[p] = r->seen[p];
      WEFT_EXPECT_EQ(r->seen[p], agreed[p]);
    }
    /* One that never lagged got every message of every sender. */
    if (g_capacity >= kTotal)
      WEFT_EXPECT_EQ(r->lags, 0);
    if (r->lags == 0) {
      WEFT_EXPECT_EQ(r->received, kTotal);
      for (int s = 0; s < kSenders; s++)
        WEFT_EXPECT_EQ(r->last_k[s], kPerSender);
    }
  }
  free(agreed);
}

static int main_stress(void* arg, void** result) {
  receiver_t* rs = arg;
  weft_task_t* rt[kReceivers];
  weft_task_t* st[kTaskSenders];
  pthread_t th;
  (void)result;
  WEFT_EXPECT_OK(weft_broadcast_new(g_capacity, sizeof(msg_t), &g_bc));
  for (int i = 0; i < kReceivers; i++) {
    WEFT_EXPECT_OK(weft_broadcast_subscribe(g_bc, &rs[i].rx));
    WEFT_EXPECT_OK(weft_spawn(NULL, receiver_task, &rs[i], NULL, &rt[i]));
  }
  for (uintptr_t i = 0; i < kTaskSenders; i++)
    WEFT_EXPECT_OK(weft_spawn(NULL, sender_task, (void*)i, NULL, &st[i]));
  WEFT_EXPECT_EQ(pthread_create(&th, NULL, sender_thread, NULL), 0);
  for (int i = 0; i < kTaskSenders; i++) {
    WEFT_EXPECT_OK(weft_await(st[i], NULL));
    weft_task_release(st[i]);
  }
  WEFT_EXPECT_OK(weft_run_blocking(join_fn, &th, NULL));
  WEFT_EXPECT_OK(weft_broadcast_close(g_bc));
  for (int i = 0; i < kReceivers; i++) {
    WEFT_EXPECT_OK(weft_await(rt[i], NULL));
    weft_task_release(rt[i]);
    WEFT_EXPECT_OK(weft_broadcast_unsubscribe(rs[i].rx));
  }
  WEFT_EXPECT_OK(weft_broadcast_free(g_bc));
  check(rs);
  return 0;
}

static void test_broadcast_stress_every_receiver_one_sequence(void** state) {
  (void)state;
  static const size_t capacities[] = {8, kTotal, 64, kTotal};
  for (int round = 0; round < 4; round++) {
    g_capacity = capacities[round];
    receiver_t rs[kReceivers] = {0};
    for (int i = 0; i < kReceivers; i++) {
      rs[i].id = (unsigned)i;
      rs[i].seen = calloc(kTotal, sizeof(uint64_t));
      assert_non_null(rs[i].seen);
    }
    WEFT_ASSERT_OK(weft_test_run(kWorkers, main_stress, rs, NULL));
    for (int i = 0; i < kReceivers; i++)
      free(rs[i].seen);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_broadcast_stress_every_receiver_one_sequence),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
