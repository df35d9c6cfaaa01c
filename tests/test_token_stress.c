/* Token trees under contention (run it under TSan): on 4 workers plus two
 * plain threads, cancellers cancel random nodes of a fixed tree while
 * tasks wait on random nodes, tasks tied to random nodes sleep, and
 * churners create, tie and release children under random nodes. Checked:
 * when weft_token_cancel returns, every descendant is cancelled; a child
 * made under a cancelled token is cancelled; a cancel hook runs once, and
 * only on a cancelled token, and has returned when its removal says it ran;
 * every waiter wakes; every tied sleeper is cancelled; the sanitizers find
 * no race and no leak. Seeded, so the choices repeat (the interleaving does
 * not). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "helpers.h"

enum {
  kFan = 4,
  kNodes = 1 + 4 + 16 + 64, /* a full tree of depth 3, breadth first */
  kWaiters = 64,
  kSleepers = 32,
  kChurners = 4,
  kChurnRounds = 2000,
  kCancels = 40
};

static weft_token_t* nodes[kNodes];

static size_t parent_of(size_t i) {
  return (i - 1) / kFan;
}

/* Every node under i (and i) is cancelled. */
static int subtree_cancelled(size_t i) {
  if (!weft_token_cancelled(nodes[i]))
    return 0;
  for (size_t c = i * kFan + 1; c <= i * kFan + kFan && c < kNodes; c++)
    if (!subtree_cancelled(c))
      return 0;
  return 1;
}

/* Cancels kCancels random nodes and checks each subtree at once. */
static void cancel_some(unsigned seed) {
  for (int k = 0; k < kCancels; k++) {
    size_t i = (size_t)rand_r(&seed) % kNodes;
    WEFT_EXPECT_OK(weft_token_cancel(nodes[i]));
    WEFT_EXPECT(subtree_cancelled(i));
    if (weft_current_task() != NULL)
      weft_yield();
  }
}

static int cancel_task(void* arg, void** result) {
  (void)result;
  cancel_some((unsigned)(uintptr_t)arg);
  return 0;
}

static void* cancel_thread(void* arg) {
  cancel_some((unsigned)(uintptr_t)arg);
  return NULL;
}

static int waiter(void* arg, void** result) {
  (void)result;
  return weft_token_wait(nodes[(uintptr_t)arg]);
}

static int quick(void* arg, void** result) {
  (void)arg;
  (void)result;
  return weft_yield();
}

static void note_hook(weft_token_t* tok, void* arg) {
  WEFT_EXPECT(weft_token_cancelled(tok));
  atomic_fetch_add((_Atomic int*)arg, 1);
}

static int churner(void* arg, void** result) {
  unsigned seed = (unsigned)(uintptr_t)arg;
  (void)result;
  for (int r = 0; r < kChurnRounds; r++) {
    size_t i = (size_t)rand_r(&seed) % kNodes;
    weft_token_t *child, *grandchild;
    int parent_was = weft_token_cancelled(nodes[i]);
    WEFT_EXPECT_OK(weft_token_new(nodes[i], &child));
    if (parent_was)
      WEFT_EXPECT(weft_token_cancelled(child));
    WEFT_EXPECT_OK(weft_token_new(child, &grandchild));
    /* A hook that runs iff the grandchild is cancelled before removal. */
    _Atomic int hook_ran = 0;
    weft_token_hook_t* hook;
    WEFT_EXPECT_OK(
        weft_token_on_cancel(grandchild, note_hook, &hook_ran, &hook));
    if (r % 8 == 0) {
      weft_task_t* q = NULL;
      WEFT_EXPECT_OK(weft_spawn(NULL, quick, NULL, NULL, &q));
      WEFT_EXPECT_OK(weft_token_tie(grandchild, q));
      int st = weft_await(q, NULL);
      WEFT_EXPECT(st == 0 || st == WEFT_ECANCELED);
      weft_task_release(q);
    }
    int ran = weft_token_hook_remove(hook);
    WEFT_EXPECT_EQ(ran, atomic_load(&hook_ran)); /* it returned already */
    if (ran)
      WEFT_EXPECT(weft_token_cancelled(grandchild));
    if (rand_r(&seed) % 2) {
      weft_token_release(child); /* the parent first */
      weft_token_release(grandchild);
    } else {
      weft_token_release(grandchild);
      weft_token_release(child);
    }
    if (r % 16 == 0)
      weft_yield();
  }
  return 0;
}

static int main_stress(void* arg, void** result) {
  weft_task_t* waiters[kWaiters];
  weft_task_t* sleepers[kSleepers];
  weft_task_t* churners[kChurners];
  weft_task_t* cancellers[2];
  pthread_t threads[2];
  unsigned seed = 16;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_token_new(NULL, &nodes[0]));
  for (size_t i = 1; i < kNodes; i++)
    WEFT_EXPECT_OK(weft_token_new(nodes[parent_of(i)], &nodes[i]));
  for (int i = 0; i < kWaiters; i++) {
    uintptr_t n = (uintptr_t)rand_r(&seed) % kNodes;
    WEFT_EXPECT_OK(weft_spawn(NULL, waiter, (void*)n, NULL, &waiters[i]));
  }
  for (int i = 0; i < kSleepers; i++) {
    WEFT_EXPECT_OK(
        weft_spawn(NULL, weft_test_sleep_hour, NULL, NULL, &sleepers[i]));
    WEFT_EXPECT_OK(weft_token_tie(nodes[rand_r(&seed) % kNodes], sleepers[i]));
  }
  for (int i = 0; i < kChurners; i++)
    WEFT_EXPECT_OK(weft_spawn(NULL, churner, (void*)(uintptr_t)(100 + i), NULL,
                              &churners[i]));
  for (int i = 0; i < 2; i++) {
    WEFT_EXPECT_OK(weft_spawn(NULL, cancel_task, (void*)(uintptr_t)(200 + i),
                              NULL, &cancellers[i]));
    WEFT_EXPECT_EQ(pthread_create(&threads[i], NULL, cancel_thread,
                                  (void*)(uintptr_t)(300 + i)),
                   0);
  }
  for (int i = 0; i < 2; i++) {
    WEFT_EXPECT_OK(weft_await(cancellers[i], NULL));
    weft_task_release(cancellers[i]);
    WEFT_EXPECT_EQ(pthread_join(threads[i], NULL), 0);
  }
  for (int i = 0; i < kChurners; i++) {
    WEFT_EXPECT_OK(weft_await(churners[i], NULL));
    weft_task_release(churners[i]);
  }
  WEFT_EXPECT_OK(weft_token_cancel(nodes[0]));
  WEFT_EXPECT(subtree_cancelled(0));
  for (int i = 0; i < kWaiters; i++) {
    WEFT_EXPECT_OK(weft_await(waiters[i], NULL));
    weft_task_release(waiters[i]);
  }
  for (int i = 0; i < kSleepers; i++) {
    WEFT_EXPECT_ERR(weft_await(sleepers[i], NULL), WEFT_ECANCELED);
    weft_task_release(sleepers[i]);
  }
  for (size_t i = kNodes; i-- > 0;)
    weft_token_release(nodes[i]);
  return 0;
}

static void test_token_tree_stress(void** state) {
  (void)state;
  for (int run = 0; run < 5; run++)
    WEFT_ASSERT_OK(weft_test_run(4, main_stress, NULL, NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_token_tree_stress),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
