/* Cancellation racing completion: a cancelled wait never loses a result
 * that was produced, and a request that lost the race is not lost either.
 * Also: cleanup written after an await runs on every way out (normal
 * return, error, cancellation), as try/finally would. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "helpers.h"

typedef struct {
  weft_future_t* f;
  weft_task_t* waiter;
  atomic_int go;
} race_t;

static int waiter_body(void* arg, void** result) {
  race_t* r = arg;
  void* v = NULL;
  int st = weft_future_await(r->f, &v);
  if (st == 0) {
    WEFT_EXPECT_EQ((intptr_t)v, 99);
    /* The completion won: the cancel request must still arrive. */
    WEFT_EXPECT_ERR(weft_sleep_ms(3600 * 1000), WEFT_ECANCELED);
  } else {
    WEFT_EXPECT_ERR(st, WEFT_ECANCELED);
    /* The cancellation won: the request was delivered once, and the
     * result (now or soon) is still there to await. */
    WEFT_EXPECT_OK(weft_future_await(r->f, &v));
    WEFT_EXPECT_EQ((intptr_t)v, 99);
  }
  *result = (void*)(intptr_t)(st == 0 ? 1 : 2);
  return 0;
}

static void* completer(void* arg) {
  race_t* r = arg;
  /* relaxed: a start line for the two racing threads, nothing more. */
  while (!atomic_load_explicit(&r->go, memory_order_relaxed)) {
  }
  weft_future_set_result(r->f, (void*)99);
  return NULL;
}

static void* canceller(void* arg) {
  race_t* r = arg;
  /* relaxed: as above. */
  while (!atomic_load_explicit(&r->go, memory_order_relaxed)) {
  }
  weft_cancel(r->waiter);
  return NULL;
}

static void test_cancel_race_with_completion(void** state) {
  weft_runtime_t* rt;
  weft_config_t cfg = {.workers = 2};
  int outcomes[3] = {0, 0, 0};
  (void)state;
  WEFT_ASSERT_OK(weft_runtime_new(&cfg, &rt));
  for (int i = 0; i < 300; i++) {
    race_t r;
    pthread_t a, b;
    void* which = NULL;
    atomic_init(&r.go, 0);
    WEFT_ASSERT_OK(weft_future_new(&r.f));
    WEFT_ASSERT_OK(weft_spawn(rt, waiter_body, &r, NULL, &r.waiter));
    while (weft_task_state(r.waiter) != WEFT_TASK_SUSPENDED) {
      /* Until it waits on the future (a state, not a duration). */
    }
    pthread_create(&a, NULL, completer, &r);
    pthread_create(&b, NULL, canceller, &r);
    /* relaxed: see above. */
    atomic_store_explicit(&r.go, 1, memory_order_relaxed);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    WEFT_ASSERT_OK(weft_await(r.waiter, &which));
    outcomes[(intptr_t)which]++;
    weft_task_release(r.waiter);
    weft_future_release(r.f);
  }
  WEFT_ASSERT_OK(weft_runtime_free(rt));
  WEFT_ASSERT_NO_FAILURES();
  assert_int_equal(outcomes[1] + outcomes[2], 300);
}

/* Cleanup after an await runs whichever way the await ends. */
typedef struct {
  int mode; /* 0: normal, 1: error, 2: cancelled */
  int cleaned;
} cleanup_t;

static int fails(void* arg, void** result) {
  (void)arg;
  (void)result;
  return WEFT_ETIMEDOUT;
}

static int with_cleanup(void* arg, void** result) {
  cleanup_t* c = arg;
  weft_task_t* child = NULL;
  int err;
  (void)result;
  char* resource = malloc(64); /* what a `with` block would hold */
  if (resource == NULL)
    return WEFT_ENOMEM;
  if (c->mode == 1) {
    err = weft_spawn(NULL, fails, NULL, NULL, &child);
    if (err == 0)
      err = weft_await(child, NULL);
  } else {
    err = weft_sleep_ms(c->mode == 2 ? 3600 * 1000 : 1);
  }
  /* finally: */
  weft_task_release(child);
  free(resource);
  c->cleaned = 1;
  return err;
}

static int main_cleanup(void* arg, void** result) {
  static const int expect[3] = {0, WEFT_ETIMEDOUT, WEFT_ECANCELED};
  (void)arg;
  (void)result;
  for (int mode = 0; mode < 3; mode++) {
    cleanup_t c = {mode, 0};
    weft_task_t* t;
    WEFT_EXPECT_OK(weft_spawn(NULL, with_cleanup, &c, NULL, &t));
    if (mode == 2) {
      WEFT_EXPECT_EQ(WEFT_YIELD_UNTIL(weft_task_state(t) ==
                                      WEFT_TASK_SUSPENDED),
                     0);
      WEFT_EXPECT_OK(weft_cancel(t));
    }
    WEFT_EXPECT_ERR(weft_await(t, NULL), expect[mode]);
    WEFT_EXPECT_EQ(c.cleaned, 1);
    weft_task_release(t);
  }
  return 0;
}

static void test_cancel_cleanup_runs_on_every_exit(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_cleanup, NULL, NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_cancel_race_with_completion),
      cmocka_unit_test(test_cancel_cleanup_runs_on_every_exit),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
