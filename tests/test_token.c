/* Cancellation tokens: argument errors; the tree (a cancel reaches every
 * descendant and no ancestor or sibling; a child of a cancelled token is
 * born cancelled; releases in any order); waiting (a task, a cancelled
 * waiter, a plain thread); ties (tied tasks are cancelled, a tie to a
 * cancelled token cancels at once, a finished task leaves its token). */
#include <pthread.h>
#include <stdint.h>

#include "helpers.h"

static void test_token_errors(void** state) {
  weft_token_t* tok;
  (void)state;
  WEFT_ASSERT_ERR(weft_token_new(NULL, NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_token_cancel(NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_token_wait(NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_token_tie(NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_token_cancelled(NULL), 0);
  assert_null(weft_token_retain(NULL));
  weft_token_release(NULL);
  WEFT_ASSERT_OK(weft_token_new(NULL, &tok));
  WEFT_ASSERT_ERR(weft_token_tie(tok, NULL), WEFT_EINVAL);
  assert_int_equal(weft_token_cancelled(tok), 0);
  WEFT_ASSERT_OK(weft_token_cancel(tok));
  WEFT_ASSERT_OK(weft_token_cancel(tok)); /* again: nothing */
  assert_int_equal(weft_token_cancelled(tok), 1);
  WEFT_ASSERT_OK(weft_token_wait(tok)); /* plain thread, already set */
  weft_token_release(tok);
}

/*        root
 *       /    \
 *      a      b
 *     / \
 *    a1  a2
 *    |
 *    a11                                                                 */
static void test_token_tree(void** state) {
  weft_token_t *root, *a, *b, *a1, *a2, *a11, *late;
  (void)state;
  WEFT_ASSERT_OK(weft_token_new(NULL, &root));
  WEFT_ASSERT_OK(weft_token_new(root, &a));
  WEFT_ASSERT_OK(weft_token_new(root, &b));
  WEFT_ASSERT_OK(weft_token_new(a, &a1));
  WEFT_ASSERT_OK(weft_token_new(a, &a2));
  WEFT_ASSERT_OK(weft_token_new(a1, &a11));
  weft_token_release(a2); /* gone before the cancel: skipped */
  WEFT_ASSERT_OK(weft_token_cancel(a));
  assert_int_equal(weft_token_cancelled(a), 1);
  assert_int_equal(weft_token_cancelled(a1), 1);
  assert_int_equal(weft_token_cancelled(a11), 1);
  assert_int_equal(weft_token_cancelled(root), 0);
  assert_int_equal(weft_token_cancelled(b), 0);
  WEFT_ASSERT_OK(weft_token_new(a11, &late)); /* born cancelled */
  assert_int_equal(weft_token_cancelled(late), 1);
  WEFT_ASSERT_OK(weft_token_wait(late));
  weft_token_release(late);
  /* The parent goes first: its children keep it alive. */
  weft_token_release(root);
  WEFT_ASSERT_OK(weft_token_cancel(b)); /* root still there, b's parent */
  assert_int_equal(weft_token_cancelled(b), 1);
  weft_token_release(a);
  weft_token_release(a1);
  weft_token_release(b);
  weft_token_release(a11);
}

/* --- Waiting -------------------------------------------------------------*/

static int token_waiter(void* arg, void** result) {
  (void)result;
  return weft_token_wait(arg);
}

static int main_wait(void* arg, void** result) {
  weft_token_t *root, *leaf;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_token_new(NULL, &root));
  WEFT_EXPECT_OK(weft_token_new(root, &leaf));
  weft_task_t* w1 = weft_test_spawn(token_waiter, leaf);
  weft_task_t* w2 = weft_test_spawn(token_waiter, leaf);
  weft_task_t* w3 = weft_test_spawn(token_waiter, root);
  weft_test_until_parked(w1);
  weft_test_until_parked(w2);
  weft_test_until_parked(w3);
  /* A cancelled waiter withdraws its own wait only. */
  WEFT_EXPECT_OK(weft_cancel(w2));
  WEFT_EXPECT_ERR(weft_test_finish(w2), WEFT_ECANCELED);
  WEFT_EXPECT_EQ(weft_token_cancelled(leaf), 0);
  WEFT_EXPECT_OK(weft_token_cancel(root));
  WEFT_EXPECT_OK(weft_test_finish(w1));
  WEFT_EXPECT_OK(weft_test_finish(w3));
  weft_token_release(leaf);
  weft_token_release(root);
  return 0;
}

static void test_token_wait(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_wait, NULL, NULL));
  WEFT_ASSERT_OK(weft_test_run(2, main_wait, NULL, NULL));
}

static int canceller(void* arg, void** result) {
  (void)result;
  return weft_token_cancel(arg);
}

static void test_token_wait_plain_thread(void** state) {
  weft_runtime_t* rt;
  weft_token_t *root, *leaf;
  (void)state;
  WEFT_ASSERT_OK(weft_runtime_new(&(weft_config_t){.workers = 2}, &rt));
  WEFT_ASSERT_OK(weft_token_new(NULL, &root));
  WEFT_ASSERT_OK(weft_token_new(root, &leaf));
  WEFT_ASSERT_OK(weft_spawn(rt, canceller, root, NULL, NULL));
  WEFT_ASSERT_OK(weft_token_wait(leaf)); /* blocks until the task cancels */
  assert_int_equal(weft_token_cancelled(leaf), 1);
  weft_token_release(leaf);
  weft_token_release(root);
  WEFT_ASSERT_OK(weft_runtime_free(rt));
}

/* --- Ties ----------------------------------------------------------------*/

static int quick(void* arg, void** result) {
  (void)arg;
  (void)result;
  return 0;
}

static int main_ties(void* arg, void** result) {
  weft_token_t *root, *child;
  weft_task_t* sleepers[4];
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_token_new(NULL, &root));
  WEFT_EXPECT_OK(weft_token_new(root, &child));
  for (int i = 0; i < 4; i++) {
    sleepers[i] = weft_test_spawn(weft_test_sleep_hour, NULL);
    WEFT_EXPECT_OK(weft_token_tie(i % 2 ? child : root, sleepers[i]));
  }
  /* Tasks that end on their own leave their token (checked for leaks by
   * the sanitizers: a tie that stayed would hold its task). */
  for (int i = 0; i < 100; i++) {
    weft_task_t* q = weft_test_spawn(quick, NULL);
    WEFT_EXPECT_OK(weft_token_tie(child, q));
    WEFT_EXPECT_OK(weft_test_finish(q));
  }
  weft_task_t* done = weft_test_spawn(quick, NULL);
  WEFT_EXPECT_OK(weft_test_finish(weft_task_retain(done)));
  WEFT_EXPECT_OK(weft_token_tie(child, done)); /* ended: nothing to do */
  weft_task_release(done);
  for (int i = 0; i < 4; i++)
    weft_test_until_parked(sleepers[i]);
  WEFT_EXPECT_OK(weft_token_cancel(root));
  for (int i = 0; i < 4; i++)
    WEFT_EXPECT_ERR(weft_test_finish(sleepers[i]), WEFT_ECANCELED);
  /* Tied to a cancelled token: cancelled at once (before it starts). */
  weft_task_t* late = weft_test_spawn(weft_test_sleep_hour, NULL);
  WEFT_EXPECT_OK(weft_token_tie(child, late));
  WEFT_EXPECT_ERR(weft_test_finish(late), WEFT_ECANCELED);
  weft_token_release(child);
  weft_token_release(root);
  return 0;
}

static void test_token_ties(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_ties, NULL, NULL));
  WEFT_ASSERT_OK(weft_test_run(3, main_ties, NULL, NULL));
}

/* A token released while tasks are tied to it lives on until they end:
 * cancelling a parent still reaches them through it. */
static int main_tie_outlives_handle(void* arg, void** result) {
  weft_token_t *root, *child;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_token_new(NULL, &root));
  WEFT_EXPECT_OK(weft_token_new(root, &child));
  weft_task_t* t = weft_test_spawn(weft_test_sleep_hour, NULL);
  WEFT_EXPECT_OK(weft_token_tie(child, t));
  weft_token_release(child);
  weft_test_until_parked(t);
  WEFT_EXPECT_OK(weft_token_cancel(root));
  WEFT_EXPECT_ERR(weft_test_finish(t), WEFT_ECANCELED);
  weft_token_release(root);
  return 0;
}

static void test_token_tie_outlives_handle(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_tie_outlives_handle, NULL, NULL));
}

/* --- Hooks ---------------------------------------------------------------*/

typedef struct {
  int order[4];
  int n;
  weft_token_hook_t* self; /* removed from inside its own callback */
} hook_ctx_t;

static void note_1(weft_token_t* tok, void* arg) {
  hook_ctx_t* h = arg;
  (void)tok;
  h->order[h->n++] = 1;
}

static void note_2(weft_token_t* tok, void* arg) {
  hook_ctx_t* h = arg;
  (void)tok;
  h->order[h->n++] = 2;
}

static void remove_self(weft_token_t* tok, void* arg) {
  hook_ctx_t* h = arg;
  (void)tok;
  h->order[h->n++] = 3;
  assert_int_equal(weft_token_hook_remove(h->self), 1); /* no self-wait */
}

static void test_token_hooks(void** state) {
  weft_token_t *root, *child;
  weft_token_hook_t *a, *b, *gone, *late;
  hook_ctx_t h = {0};
  (void)state;
  WEFT_ASSERT_ERR(weft_token_on_cancel(NULL, note_1, &h, &a), WEFT_EINVAL);
  WEFT_ASSERT_OK(weft_token_new(NULL, &root));
  WEFT_ASSERT_OK(weft_token_new(root, &child));
  WEFT_ASSERT_ERR(weft_token_on_cancel(child, NULL, &h, &a), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_token_on_cancel(child, note_1, &h, NULL), WEFT_EINVAL);
  assert_int_equal(weft_token_hook_remove(NULL), 0);
  WEFT_ASSERT_OK(weft_token_on_cancel(child, note_1, &h, &a));
  WEFT_ASSERT_OK(weft_token_on_cancel(child, note_2, &h, &b));
  WEFT_ASSERT_OK(weft_token_on_cancel(child, note_2, &h, &gone));
  WEFT_ASSERT_OK(weft_token_on_cancel(child, remove_self, &h, &h.self));
  assert_int_equal(weft_token_hook_remove(gone), 0); /* never runs */
  WEFT_ASSERT_OK(weft_token_cancel(root));           /* through the parent */
  assert_int_equal(h.n, 3);
  assert_int_equal(h.order[0], 1); /* in the order they were added */
  assert_int_equal(h.order[1], 2);
  assert_int_equal(h.order[2], 3);
  WEFT_ASSERT_OK(weft_token_cancel(child)); /* again: nothing */
  assert_int_equal(h.n, 3);
  /* On a cancelled token: runs at once. */
  WEFT_ASSERT_OK(weft_token_on_cancel(child, note_1, &h, &late));
  assert_int_equal(h.n, 4);
  assert_int_equal(weft_token_hook_remove(late), 1);
  assert_int_equal(weft_token_hook_remove(a), 1);
  assert_int_equal(weft_token_hook_remove(b), 1);
  weft_token_release(child);
  weft_token_release(root);
}

/* A task set tied to a token: the hook cancels every child. */
static void cancel_set(weft_token_t* tok, void* arg) {
  (void)tok;
  weft_taskset_cancel_all(arg);
}

static int main_hook_taskset(void* arg, void** result) {
  weft_token_t* tok;
  weft_taskset_t* set;
  weft_token_hook_t* hook;
  int status;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_token_new(NULL, &tok));
  WEFT_EXPECT_OK(weft_taskset_new(0, &set));
  WEFT_EXPECT_OK(weft_token_on_cancel(tok, cancel_set, set, &hook));
  for (int i = 0; i < 3; i++)
    WEFT_EXPECT_OK(
        weft_taskset_spawn(set, weft_test_sleep_hour, NULL, NULL, NULL));
  WEFT_EXPECT_OK(weft_spawn(NULL, canceller, tok, NULL, NULL));
  for (int i = 0; i < 3; i++) {
    WEFT_EXPECT_OK(weft_taskset_join_next(set, -1, NULL, &status, NULL));
    WEFT_EXPECT_EQ(status, WEFT_ECANCELED);
  }
  WEFT_EXPECT_EQ(weft_token_hook_remove(hook), 1); /* before the set goes */
  weft_taskset_free(set);
  weft_token_release(tok);
  return 0;
}

static void test_token_hook_ties_a_taskset(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(2, main_hook_taskset, NULL, NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_token_errors),
      cmocka_unit_test(test_token_tree),
      cmocka_unit_test(test_token_wait),
      cmocka_unit_test(test_token_wait_plain_thread),
      cmocka_unit_test(test_token_ties),
      cmocka_unit_test(test_token_tie_outlives_handle),
      cmocka_unit_test(test_token_hooks),
      cmocka_unit_test(test_token_hook_ties_a_taskset),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
