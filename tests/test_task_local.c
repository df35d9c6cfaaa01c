/* Task-local storage (include/weft.h, "Task-local storage"): values that
 * follow a task across threads, inherited by copy at spawn, destroyed at
 * the task's end, and keys whose index is reused without reviving old
 * values. */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

static _Atomic int destroyed;

static void count_dtor(void* v) {
  /* relaxed: a count read after the runtime's tasks were joined. */
  atomic_fetch_add_explicit(&destroyed, 1, memory_order_relaxed);
  free(v);
}

static void* copy_int(void* v) {
  int* c = malloc(sizeof(int));
  if (c != NULL)
    *c = *(int*)v + 1000;
  return c;
}

static int* new_int(int v) {
  int* p = malloc(sizeof(int));
  if (p != NULL)
    *p = v;
  return p;
}

static void reset(void) {
  /* relaxed: set before any task runs. */
  atomic_store_explicit(&destroyed, 0, memory_order_relaxed);
}

static int n_destroyed(void) {
  /* relaxed: as in count_dtor. */
  return atomic_load_explicit(&destroyed, memory_order_relaxed);
}

/* ---- A value survives awaits and thread changes ------------------------ */

typedef struct {
  weft_task_local_t* key;
  int id;
} hopper_t;

static int hopper(void* arg, void** result) {
  hopper_t* h = arg;
  (void)result;
  WEFT_EXPECT(weft_task_local_get(h->key) == NULL);
  WEFT_EXPECT_OK(weft_task_local_set(h->key, new_int(h->id)));
  for (int i = 0; i < 200; i++) {
    /* Yields and short sleeps let other workers steal and resume us. */
    if (i % 10 == 0)
      WEFT_EXPECT_OK(weft_sleep_ns(1000));
    else
      WEFT_EXPECT_OK(weft_yield());
    int* v = weft_task_local_get(h->key);
    if (!WEFT_EXPECT(v != NULL && *v == h->id))
      return WEFT_EINVAL;
  }
  return 0;
}

static int hoppers_body(void* arg, void** result) {
  weft_task_local_t* key = arg;
  hopper_t hs[64];
  weft_task_t* ts[64];
  (void)result;
  for (int i = 0; i < 64; i++) {
    hs[i] = (hopper_t){key, i + 1};
    WEFT_EXPECT_OK(weft_spawn(NULL, hopper, &hs[i], NULL, &ts[i]));
  }
  for (int i = 0; i < 64; i++) {
    WEFT_EXPECT_OK(weft_await(ts[i], NULL));
    weft_task_release(ts[i]);
  }
  return 0;
}

static void test_values_follow_tasks_across_workers(void** state) {
  (void)state;
  weft_task_local_t* key;
  reset();
  WEFT_ASSERT_OK(weft_task_local_new(NULL, count_dtor, &key));
  WEFT_ASSERT_OK(weft_test_run(4, hoppers_body, key, NULL));
  assert_int_equal(n_destroyed(), 64); /* each task's value, at its end */
  WEFT_ASSERT_OK(weft_task_local_free(key));
}

/* ---- Inheritance by copy, replacement, end of task ---------------------- */

typedef struct {
  weft_task_local_t* copied;
  weft_task_local_t* plain;
} two_keys_t;

static int child_sees(void* arg, void** result) {
  two_keys_t* k = arg;
  int* c = weft_task_local_get(k->copied);
  WEFT_EXPECT(c != NULL && *c == 1007); /* the copy, not the same */
  WEFT_EXPECT(weft_task_local_get(k->plain) == NULL); /* not inherited */
  *result = c;
  return 0;
}

static int parent(void* arg, void** result) {
  two_keys_t* k = arg;
  weft_task_t* child;
  void* seen = NULL;
  (void)result;
  WEFT_EXPECT_OK(weft_task_local_set(k->copied, new_int(1)));
  /* Replacing destroys the old value. */
  WEFT_EXPECT_OK(weft_task_local_set(k->copied, new_int(7)));
  WEFT_EXPECT_EQ(n_destroyed(), 1);
  WEFT_EXPECT_OK(weft_task_local_set(k->plain, new_int(5)));
  WEFT_EXPECT_OK(weft_spawn(NULL, child_sees, k, NULL, &child));
  WEFT_EXPECT_OK(weft_await(child, &seen));
  weft_task_release(child);
  /* The child's copy was destroyed when it ended, before the await. */
  WEFT_EXPECT_EQ(n_destroyed(), 2);
  WEFT_EXPECT(seen != weft_task_local_get(k->copied));
  WEFT_EXPECT_EQ(*(int*)weft_task_local_get(k->copied), 7);
  return 0;
}

static void test_copy_at_spawn_and_destroy_at_end(void** state) {
  (void)state;
  two_keys_t k;
  reset();
  WEFT_ASSERT_OK(weft_task_local_new(copy_int, count_dtor, &k.copied));
  WEFT_ASSERT_OK(weft_task_local_new(NULL, count_dtor, &k.plain));
  WEFT_ASSERT_OK(weft_test_run(2, parent, &k, NULL));
  /* 1 replaced, 1 child copy, then the parent's two at its end. */
  assert_int_equal(n_destroyed(), 4);
  WEFT_ASSERT_OK(weft_task_local_free(k.copied));
  WEFT_ASSERT_OK(weft_task_local_free(k.plain));
}

/* ---- A cancelled child that never ran still has its copy destroyed ----- */

static int never_runs(void* arg, void** result) {
  (void)arg;
  (void)result;
  weft_test_note_failure(__FILE__, __LINE__,
                         "a task cancelled before it started ran");
  return 0;
}

static int cancel_unstarted(void* arg, void** result) {
  weft_task_local_t* key = arg;
  weft_task_t* child;
  (void)result;
  WEFT_EXPECT_OK(weft_task_local_set(key, new_int(3)));
  WEFT_EXPECT_OK(weft_spawn(NULL, never_runs, NULL, NULL, &child));
  WEFT_EXPECT_OK(weft_cancel(child));
  WEFT_EXPECT_ERR(weft_await(child, NULL), WEFT_ECANCELED);
  weft_task_release(child);
  WEFT_EXPECT_EQ(n_destroyed(), 1);
  return 0;
}

static void test_cancelled_child_destroys_its_copy(void** state) {
  (void)state;
  weft_task_local_t* key;
  reset();
  WEFT_ASSERT_OK(weft_task_local_new(copy_int, count_dtor, &key));
  WEFT_ASSERT_OK(weft_test_run(1, cancel_unstarted, key, NULL));
  assert_int_equal(n_destroyed(), 2);
  WEFT_ASSERT_OK(weft_task_local_free(key));
}

/* ---- Keys: reuse, bad input, outside tasks ------------------------------ */

static int reuse_body(void* arg, void** result) {
  weft_task_local_t** key = arg;
  (void)result;
  WEFT_EXPECT_OK(weft_task_local_set(*key, (void*)(uintptr_t)42));
  WEFT_EXPECT_OK(weft_task_local_free(*key));
  /* The freed key's index comes back with a new generation: the old value
   * must not show through. */
  WEFT_EXPECT_OK(weft_task_local_new(NULL, NULL, key));
  WEFT_EXPECT(weft_task_local_get(*key) == NULL);
  WEFT_EXPECT_OK(weft_task_local_set(*key, (void*)(uintptr_t)43));
  WEFT_EXPECT(weft_task_local_get(*key) == (void*)(uintptr_t)43);
  return 0;
}

static void test_key_reuse_hides_old_values(void** state) {
  (void)state;
  weft_task_local_t* key;
  WEFT_ASSERT_OK(weft_task_local_new(NULL, NULL, &key));
  WEFT_ASSERT_OK(weft_test_run(1, reuse_body, &key, NULL));
  WEFT_ASSERT_OK(weft_task_local_free(key));
}

static void test_bad_input(void** state) {
  (void)state;
  weft_task_local_t* key;
  WEFT_ASSERT_ERR(weft_task_local_new(NULL, NULL, NULL), WEFT_EINVAL);
  WEFT_ASSERT_OK(weft_task_local_new(NULL, NULL, &key));
  WEFT_ASSERT_ERR(weft_task_local_set(key, &key), WEFT_ENOTTASK);
  assert_null(weft_task_local_get(key));
  assert_null(weft_task_local_get(NULL));
  WEFT_ASSERT_ERR(weft_task_local_set(NULL, &key), WEFT_EINVAL);
  WEFT_ASSERT_OK(weft_task_local_free(key));
  WEFT_ASSERT_OK(weft_task_local_free(NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_values_follow_tasks_across_workers),
      cmocka_unit_test(test_copy_at_spawn_and_destroy_at_end),
      cmocka_unit_test(test_cancelled_child_destroys_its_copy),
      cmocka_unit_test(test_key_reuse_hides_old_values),
      cmocka_unit_test(test_bad_input),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
