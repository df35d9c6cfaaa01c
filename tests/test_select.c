/* weft_select: argument errors; the first ready case in array order is
 * taken and the others keep their items; a wait ends with the case that
 * became ready (receive, send, future, task, token); channels closed while
 * watched; timeouts and polls; cancellation of the selector, which leaves
 * nothing armed and takes nothing; a plain thread selecting. Every channel
 * is freed at the end, which fails (WEFT_EBUSY) if a case stayed listed. */
#include <pthread.h>
#include <stdint.h>

#include "helpers.h"

#define ITEM(n) ((void*)(intptr_t)(n))

static void until_parked(weft_task_t* t) {
  WEFT_EXPECT_OK(WEFT_YIELD_UNTIL(weft_task_state(t) == WEFT_TASK_SUSPENDED ||
                                  weft_task_done(t)));
}

static int finish(weft_task_t* t, void** result) {
  int rc = weft_await(t, result);
  weft_task_release(t);
  return rc;
}

static void test_select_errors(void** state) {
  weft_chan_t* ch;
  void* out;
  (void)state;
  WEFT_ASSERT_OK(weft_chan_new(1, &ch));
  weft_select_case_t c[2] = {weft_select_recv(ch, &out),
                             weft_select_recv(NULL, &out)};
  WEFT_ASSERT_ERR(weft_select(NULL, 1, 0), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_select(c, 0, 0), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_select(c, 2, 0), WEFT_EINVAL); /* NULL channel */
  c[1] = weft_select_recv(ch, NULL);
  WEFT_ASSERT_ERR(weft_select(c, 2, 0), WEFT_EINVAL); /* NULL out */
  c[1].kind = (weft_select_kind_t)99;
  WEFT_ASSERT_ERR(weft_select(c, 2, 0), WEFT_EINVAL);
  c[1].kind = WEFT_SELECT_OFF; /* off: skipped */
  WEFT_ASSERT_ERR(weft_select(c, 2, 0), WEFT_ETIMEDOUT);
  WEFT_ASSERT_OK(weft_chan_free(ch));
}

/* Both ready: the first in array order is taken, the second keeps its
 * item; a send case behind a full channel loses to a ready receive. */
static int main_first_ready(void* arg, void** result) {
  weft_chan_t *a, *b;
  void *x = NULL, *y = NULL;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_chan_new(1, &a));
  WEFT_EXPECT_OK(weft_chan_new(1, &b));
  WEFT_EXPECT_OK(weft_chan_send(a, ITEM(1)));
  WEFT_EXPECT_OK(weft_chan_send(b, ITEM(2)));
  weft_select_case_t c[3] = {weft_select_send(a, ITEM(9)),
                             weft_select_recv(b, &y), weft_select_recv(a, &x)};
  c[1].status = c[2].status = 77;
  WEFT_EXPECT_EQ(weft_select(c, 3, -1), 1);
  WEFT_EXPECT_EQ(c[1].status, 0);
  WEFT_EXPECT_EQ((intptr_t)y, 2);
  WEFT_EXPECT_EQ(c[2].status, 77); /* not chosen: not written */
  WEFT_EXPECT(x == NULL);
  WEFT_EXPECT_OK(weft_chan_try_recv(a, &x)); /* a kept its item */
  WEFT_EXPECT_EQ((intptr_t)x, 1);
  WEFT_EXPECT_ERR(weft_chan_try_recv(b, &y), WEFT_EAGAIN);
  WEFT_EXPECT_OK(weft_chan_free(a));
  WEFT_EXPECT_OK(weft_chan_free(b));
  return 0;
}

static void test_select_takes_first_ready(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_first_ready, NULL, NULL));
}

/* --- Waiting for one of several ------------------------------------------*/

typedef struct {
  weft_chan_t* a;
  weft_chan_t* b;
  weft_future_t* f;
  weft_token_t* tok;
  weft_task_t* task;
  void* got;
  int status;
} wait_ctx_t;

/* Selects over everything in ctx; returns the chosen index as its
 * result, the select's error as its status. */
static int selector(void* arg, void** result) {
  wait_ctx_t* c = arg;
  weft_select_case_t cases[5] = {
      weft_select_recv(c->a, &c->got), weft_select_send(c->b, ITEM(42)),
      weft_select_future(c->f, &c->got), weft_select_token(c->tok),
      c->task ? weft_select_task(c->task, &c->got)
              : (weft_select_case_t){.kind = WEFT_SELECT_OFF}};
  int rc = weft_select(cases, 5, -1);
  if (rc < 0)
    return rc;
  c->status = cases[rc].status;
  *result = ITEM(rc);
  return 0;
}

static int ret_seven(void* arg, void** result) {
  (void)arg;
  WEFT_EXPECT_OK(weft_yield());
  *result = ITEM(7);
  return 0;
}

static void wait_ctx_init(wait_ctx_t* c) {
  *c = (wait_ctx_t){0};
  WEFT_EXPECT_OK(weft_chan_new(1, &c->a));
  WEFT_EXPECT_OK(weft_chan_new(1, &c->b));
  WEFT_EXPECT_OK(weft_chan_send(c->b, ITEM(1))); /* b full: send waits */
  WEFT_EXPECT_OK(weft_future_new(&c->f));
  WEFT_EXPECT_OK(weft_token_new(NULL, &c->tok));
}

/* After a select: nothing is left armed (the channels free), and the
 * channels hold what they should. */
static void wait_ctx_free(wait_ctx_t* c, int a_items, int b_items) {
  void* x;
  for (int i = 0; i < a_items; i++)
    WEFT_EXPECT_OK(weft_chan_try_recv(c->a, &x));
  WEFT_EXPECT_ERR(weft_chan_try_recv(c->a, &x), WEFT_EAGAIN);
  for (int i = 0; i < b_items; i++)
    WEFT_EXPECT_OK(weft_chan_try_recv(c->b, &x));
  WEFT_EXPECT_ERR(weft_chan_try_recv(c->b, &x), WEFT_EAGAIN);
  WEFT_EXPECT_OK(weft_chan_free(c->a));
  WEFT_EXPECT_OK(weft_chan_free(c->b));
  weft_future_release(c->f);
  weft_token_release(c->tok);
}

/* Which event ends the wait, by arg: 0 send on a, 1 receive from b (the
 * selector's send then fits), 2 the future, 3 the token, 4 the task. */
static int main_wait_one(void* arg, void** result) {
  int which = (int)(intptr_t)arg;
  wait_ctx_t c;
  void* idx = NULL;
  void* x = NULL;
  (void)result;
  wait_ctx_init(&c);
  if (which == 4)
    c.task = weft_test_spawn(ret_seven, NULL);
  weft_task_t* t = weft_test_spawn(selector, &c);
  if (which != 4)
    until_parked(t);
  switch (which) {
    case 0:
      WEFT_EXPECT_OK(weft_chan_send(c.a, ITEM(5)));
      break;
    case 1:
      WEFT_EXPECT_OK(weft_chan_recv(c.b, &x));
      WEFT_EXPECT_EQ((intptr_t)x, 1);
      break;
    case 2:
      WEFT_EXPECT_OK(weft_future_set_result(c.f, ITEM(6)));
      break;
    case 3:
      WEFT_EXPECT_OK(weft_token_cancel(c.tok));
      break;
  }
  WEFT_EXPECT_OK(finish(t, &idx));
  WEFT_EXPECT_EQ((intptr_t)idx, which);
  WEFT_EXPECT_EQ(c.status, 0);
  static const intptr_t want[] = {5, 0, 6, 0, 7};
  if (which != 1 && which != 3)
    WEFT_EXPECT_EQ((intptr_t)c.got, want[which]);
  if (which == 4)
    WEFT_EXPECT_OK(finish(c.task, NULL));
  /* Case 1: the selector's item went into b, in the freed slot. */
  wait_ctx_free(&c, 0, which == 1 ? 1 : 1);
  return 0;
}

static void test_select_wait_for_each_kind(void** state) {
  (void)state;
  for (intptr_t which = 0; which < 5; which++) {
    WEFT_ASSERT_OK(weft_test_run(1, main_wait_one, ITEM(which), NULL));
    WEFT_ASSERT_OK(weft_test_run(2, main_wait_one, ITEM(which), NULL));
  }
}

/* A channel closed while watched: its case is chosen with WEFT_ECLOSED. */
static int main_closed(void* arg, void** result) {
  weft_chan_t* ch;
  void* out = NULL;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_chan_new(2, &ch));
  weft_select_case_t c[1] = {weft_select_recv(ch, &out)};
  WEFT_EXPECT_ERR(weft_select(c, 1, 0), WEFT_ETIMEDOUT);
  WEFT_EXPECT_OK(weft_chan_send(ch, ITEM(3)));
  WEFT_EXPECT_OK(weft_chan_close(ch));
  WEFT_EXPECT_EQ(weft_select(c, 1, -1), 0); /* drained first */
  WEFT_EXPECT_EQ(c[0].status, 0);
  WEFT_EXPECT_EQ((intptr_t)out, 3);
  WEFT_EXPECT_EQ(weft_select(c, 1, -1), 0);
  WEFT_EXPECT_EQ(c[0].status, WEFT_ECLOSED);
  c[0] = weft_select_send(ch, ITEM(4));
  WEFT_EXPECT_EQ(weft_select(c, 1, -1), 0);
  WEFT_EXPECT_EQ(c[0].status, WEFT_ECLOSED);
  WEFT_EXPECT_OK(weft_chan_free(ch));
  return 0;
}

static int closer(void* arg, void** result) {
  (void)result;
  return weft_chan_close(arg);
}

static int main_closed_while_waiting(void* arg, void** result) {
  weft_chan_t *ch, *full;
  void* out = NULL;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_chan_new(1, &ch));
  WEFT_EXPECT_OK(weft_chan_new(1, &full));
  WEFT_EXPECT_OK(weft_chan_send(full, ITEM(1)));
  weft_task_t* t = weft_test_spawn(closer, ch);
  weft_select_case_t c[2] = {weft_select_send(full, ITEM(2)),
                             weft_select_recv(ch, &out)};
  WEFT_EXPECT_EQ(weft_select(c, 2, -1), 1);
  WEFT_EXPECT_EQ(c[1].status, WEFT_ECLOSED);
  WEFT_EXPECT_OK(finish(t, NULL));
  WEFT_EXPECT_OK(weft_chan_recv(full, &out)); /* still the first item */
  WEFT_EXPECT_EQ((intptr_t)out, 1);
  WEFT_EXPECT_ERR(weft_chan_try_recv(full, &out), WEFT_EAGAIN);
  WEFT_EXPECT_OK(weft_chan_free(ch));
  WEFT_EXPECT_OK(weft_chan_free(full));
  return 0;
}

static void test_select_closed_channel(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_closed, NULL, NULL));
  WEFT_ASSERT_OK(weft_test_run(2, main_closed_while_waiting, NULL, NULL));
}

/* --- Timeouts and cancellation -------------------------------------------*/

static int main_timeout(void* arg, void** result) {
  wait_ctx_t c;
  (void)arg;
  (void)result;
  wait_ctx_init(&c);
  weft_select_case_t cases[4] = {weft_select_recv(c.a, &c.got),
                                 weft_select_send(c.b, ITEM(42)),
                                 weft_select_future(c.f, &c.got),
                                 weft_select_token(c.tok)};
  WEFT_EXPECT_ERR(weft_select(cases, 4, 0), WEFT_ETIMEDOUT);
  WEFT_EXPECT_ERR(weft_select(cases, 4, 5), WEFT_ETIMEDOUT);
  WEFT_EXPECT_OK(weft_yield()); /* the deadline left nothing pending */
  /* After the timeout, the channels work as before: nothing listed. */
  WEFT_EXPECT_OK(weft_chan_send(c.a, ITEM(8)));
  wait_ctx_free(&c, 1, 1);
  return 0;
}

static void test_select_timeout(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_timeout, NULL, NULL));
}

static int main_cancelled(void* arg, void** result) {
  wait_ctx_t c;
  (void)arg;
  (void)result;
  wait_ctx_init(&c);
  weft_task_t* t = weft_test_spawn(selector, &c);
  until_parked(t);
  WEFT_EXPECT_OK(weft_cancel(t));
  WEFT_EXPECT_ERR(finish(t, NULL), WEFT_ECANCELED);
  /* Nothing taken, nothing put, nothing left listed. */
  WEFT_EXPECT_OK(weft_chan_send(c.a, ITEM(8)));
  WEFT_EXPECT_EQ(weft_token_cancelled(c.tok), 0);
  WEFT_EXPECT_EQ(weft_future_done(c.f), 0);
  wait_ctx_free(&c, 1, 1);
  return 0;
}

static void test_select_cancelled(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_cancelled, NULL, NULL));
  WEFT_ASSERT_OK(weft_test_run(2, main_cancelled, NULL, NULL));
}

/* Inside a timeout scope, an outside cancel and a timeout: the select's
 * WEFT_ECANCELED reaches the scope, which reports the deadline. */
static int scoped_selector(void* arg, void** result) {
  weft_timeout_t* tm;
  void* out;
  (void)result;
  weft_select_case_t c[1] = {weft_select_recv(arg, &out)};
  WEFT_EXPECT_OK(weft_timeout_enter(5, &tm));
  WEFT_EXPECT_ERR(weft_select(c, 1, -1), WEFT_ECANCELED);
  WEFT_EXPECT_ERR(weft_timeout_exit(tm), WEFT_ETIMEDOUT);
  return 0;
}

static int main_scoped(void* arg, void** result) {
  weft_chan_t* ch;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_chan_new(1, &ch));
  WEFT_EXPECT_OK(finish(weft_test_spawn(scoped_selector, ch), NULL));
  WEFT_EXPECT_OK(weft_chan_free(ch));
  return 0;
}

static void test_select_in_timeout_scope(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_scoped, NULL, NULL));
}

/* --- A plain thread ------------------------------------------------------*/

static int sender(void* arg, void** result) {
  (void)result;
  return weft_chan_send(arg, ITEM(11));
}

static void test_select_plain_thread(void** state) {
  weft_runtime_t* rt;
  weft_chan_t *a, *b;
  void* out = NULL;
  (void)state;
  WEFT_ASSERT_OK(weft_runtime_new(&(weft_config_t){.workers = 2}, &rt));
  WEFT_ASSERT_OK(weft_chan_new(1, &a));
  WEFT_ASSERT_OK(weft_chan_new(1, &b));
  weft_select_case_t c[2] = {weft_select_recv(a, &out),
                             weft_select_recv(b, &out)};
  WEFT_ASSERT_ERR(weft_select(c, 2, 5), WEFT_ETIMEDOUT);
  WEFT_ASSERT_OK(weft_spawn(rt, sender, b, NULL, NULL));
  assert_int_equal(weft_select(c, 2, -1), 1);
  assert_int_equal((intptr_t)out, 11);
  WEFT_ASSERT_OK(weft_chan_free(a));
  WEFT_ASSERT_OK(weft_chan_free(b));
  WEFT_ASSERT_OK(weft_runtime_free(rt));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_select_errors),
      cmocka_unit_test(test_select_takes_first_ready),
      cmocka_unit_test(test_select_wait_for_each_kind),
      cmocka_unit_test(test_select_closed_channel),
      cmocka_unit_test(test_select_timeout),
      cmocka_unit_test(test_select_cancelled),
      cmocka_unit_test(test_select_in_timeout_scope),
      cmocka_unit_test(test_select_plain_thread),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
