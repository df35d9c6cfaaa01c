/* libuv interop: weft_uv_loop, weft_uv_enter and weft_uv_await driving
 * plain libuv requests and handles, with and without a cancel hook. */
#include <string.h>
#include <uv.h>

#include "helpers.h"
#include "core/worker.h" /* rt->workers, to name another worker's loop */

typedef struct {
  uv_timer_t timer;
  uint64_t ms;
} timer_arg_t;

static void on_timer(uv_timer_t* t) {
  weft_uv_done(t->data, 0);
}

static int start_timer(uv_loop_t* loop, weft_uv_op_t* op, void* arg) {
  timer_arg_t* ta = arg;
  uv_timer_init(loop, &ta->timer);
  ta->timer.data = op;
  return uv_timer_start(&ta->timer, on_timer, ta->ms, 0);
}

static void cancel_timer(weft_uv_op_t* op, void* arg) {
  timer_arg_t* ta = arg;
  uv_timer_stop(&ta->timer);
  weft_uv_done(op, UV_ECANCELED);
}

static void on_closed(uv_handle_t* h) {
  weft_uv_done(h->data, 0);
}

static int start_close(uv_loop_t* loop, weft_uv_op_t* op, void* arg) {
  (void)loop;
  uv_handle_t* h = arg;
  h->data = op;
  uv_close(h, on_closed);
  return 0;
}

/* Closes the timer on its own loop and waits for the close callback. */
static int close_timer(uv_loop_t* loop, timer_arg_t* ta) {
  return weft_uv_await(loop, start_close, NULL, &ta->timer);
}

static int fail_start(uv_loop_t* loop, weft_uv_op_t* op, void* arg) {
  (void)loop;
  (void)op;
  (void)arg;
  return UV_EINVAL;
}

/* An operation that ends when the test says so (uv_async_send is
 * thread-safe), so the child is parked for as long as the test needs. */
typedef struct {
  uv_async_t async;
  weft_uv_op_t* op;
} gate_t;

static void on_gate(uv_async_t* a) {
  gate_t* g = a->data;
  weft_uv_done(g->op, 0);
}

static int start_gate(uv_loop_t* loop, weft_uv_op_t* op, void* arg) {
  gate_t* g = arg;
  g->op = op;
  g->async.data = g;
  return uv_async_init(loop, &g->async, on_gate);
}

static int hookless_child(void* arg, void** result) {
  gate_t* g = arg;
  (void)result;
  WEFT_EXPECT_OK(weft_uv_await(NULL, start_gate, NULL, g));
  /* The request, still pending, is delivered at the next await. */
  WEFT_EXPECT_ERR(weft_uv_await(NULL, start_close, NULL, &g->async),
                  WEFT_ECANCELED);
  WEFT_EXPECT_OK(weft_uv_await(NULL, start_close, NULL, &g->async));
  return 0;
}

static int interop_main(void* arg, void** result) {
  (void)arg;
  (void)result;
  uv_loop_t* loop = weft_uv_loop();
  WEFT_EXPECT(loop != NULL);
  timer_arg_t ta = {.ms = 5};
  WEFT_EXPECT_OK(weft_uv_await(loop, start_timer, cancel_timer, &ta));
  WEFT_EXPECT_OK(close_timer(loop, &ta));
  /* A cancel hook ends the wait early: a timeout scope cancels it. */
  weft_timeout_t* tm;
  ta.ms = 3600 * 1000;
  WEFT_EXPECT_OK(weft_timeout_enter(10, &tm));
  WEFT_EXPECT_ERR(weft_uv_await(loop, start_timer, cancel_timer, &ta),
                  WEFT_ECANCELED);
  WEFT_EXPECT_ERR(weft_timeout_exit(tm), WEFT_ETIMEDOUT);
  WEFT_EXPECT_OK(close_timer(loop, &ta));
  /* Without one the wait lasts until the callback; the request then
   * stays pending for the next await. */
  weft_task_t* child;
  gate_t gate;
  WEFT_EXPECT_OK(weft_spawn(NULL, hookless_child, &gate, NULL, &child));
  /* Parked in the gate's wait until the send below: no time window. */
  WEFT_YIELD_UNTIL(weft_task_state(child) == WEFT_TASK_SUSPENDED);
  WEFT_EXPECT_OK(weft_cancel(child));
  uv_async_send(&gate.async);
  WEFT_EXPECT_OK(weft_await(child, NULL));
  weft_task_release(child);
  WEFT_EXPECT_ERR(weft_uv_await(NULL, fail_start, NULL, NULL), UV_EINVAL);
  WEFT_EXPECT_ERR(weft_uv_await(NULL, NULL, NULL, NULL), WEFT_EINVAL);
  return 0;
}

static void test_uv_await_timer_and_cancel(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, interop_main, NULL, NULL));
}

static void on_stat(uv_fs_t* req) {
  weft_uv_done(req->data, (int)req->result);
}

static int start_stat(uv_loop_t* loop, weft_uv_op_t* op, void* arg) {
  uv_fs_t* req = arg;
  req->data = op;
  return uv_fs_stat(loop, req, "/", on_stat);
}

static int other_loop_main(void* arg, void** result) {
  (void)arg;
  (void)result;
  weft_runtime_t* rt = weft_current_runtime();
  int me = weft_worker_id();
  uv_loop_t* other = &rt->workers[me == 0 ? 1 : 0]->loop;
  uv_fs_t req;
  WEFT_EXPECT_OK(weft_uv_await(other, start_stat, NULL, &req));
  /* The request ran on the other loop. The task resumes wherever its
   * wake-up puts it (weft_uv_await promises no worker): before, this
   * checked that it was the other loop's, and failed about 1 run in 20
   * once callbacks could run on any worker's thread. */
  WEFT_EXPECT(weft_uv_loop() != NULL);
  WEFT_EXPECT((req.statbuf.st_mode & S_IFDIR) != 0);
  uv_fs_req_cleanup(&req);
  WEFT_EXPECT_OK(weft_uv_enter(&rt->workers[me]->loop));
  WEFT_EXPECT_EQ(weft_worker_id(), me);
  uv_loop_t stranger;
  WEFT_EXPECT_ERR(weft_uv_enter(&stranger), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_uv_enter(NULL), WEFT_EINVAL);
  return 0;
}

static void test_uv_await_on_another_workers_loop(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, other_loop_main, NULL, NULL));
}

static void test_uv_outside_a_task(void** state) {
  (void)state;
  assert_null(weft_uv_loop());
  WEFT_ASSERT_ERR(weft_uv_enter(NULL), WEFT_ENOTTASK);
  WEFT_ASSERT_ERR(weft_uv_await(NULL, fail_start, NULL, NULL), WEFT_ENOTTASK);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_uv_await_timer_and_cancel),
      cmocka_unit_test(test_uv_await_on_another_workers_loop),
      cmocka_unit_test(test_uv_outside_a_task),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
