/* Deterministic mode: the same seed gives the same task order (with
 * yields, sleeps, joins, locks, executor calls and file requests mixed
 * in), other seeds give other orders, the virtual clock, and the knobs
 * (config, WEFT_SEED, one worker, a drawn seed reported). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"

/* ---- A trace of who ran when ------------------------------------------- */

#define WORKERS_OF_TRACE 24
#define STEPS 6
#define TRACE_MAX (WORKERS_OF_TRACE * (STEPS + 1) * 2)

/* Written by the runtime's one worker only, read after weft_run returns. */
static int trace[TRACE_MAX];
static int trace_len;
static weft_lock_t* trace_lock;
static char tmpdir[64];

static void note(int who) {
  if (trace_len < TRACE_MAX)
    trace[trace_len++] = who;
}

static int usleep_1ms(void* arg, void** result) {
  (void)arg;
  (void)result;
  return usleep(1000);
}

static int noop(void* arg, void** result) {
  (void)result;
  note((int)(intptr_t)arg);
  return 0;
}

/* Each step awaits something different, chosen by the task's number. */
static int step(int who, int k) {
  char path[96];
  switch ((who + k) % 6) {
    case 0:
      return weft_yield();
    case 1:
      return weft_sleep_ms((uint64_t)(who % 3) + 1);
    case 2: {
      weft_task_t* c;
      WEFT_EXPECT_OK(
          weft_spawn(NULL, noop, (void*)(intptr_t)(1000 + who), NULL, &c));
      weft_yield(); /* so the child is not simply run inline */
      int rc = weft_await(c, NULL);
      weft_task_release(c);
      return rc;
    }
    case 3: {
      WEFT_EXPECT_OK(weft_lock_acquire(trace_lock));
      weft_yield();
      return weft_lock_release(trace_lock);
    }
    case 4:
      return weft_run_blocking(usleep_1ms, NULL, NULL);
    default:
      snprintf(path, sizeof(path), "%s/f%d", tmpdir, who);
      return weft_fs_write_file(path, "x", 1);
  }
}

static int traced(void* arg, void** result) {
  int who = (int)(intptr_t)arg;
  (void)result;
  for (int k = 0; k < STEPS; k++) {
    note(who);
    WEFT_EXPECT_OK(step(who, k));
  }
  note(who);
  return 0;
}

static int main_traced(void* arg, void** result) {
  weft_task_t* ts[WORKERS_OF_TRACE];
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_lock_new(&trace_lock));
  for (int i = 0; i < WORKERS_OF_TRACE; i++)
    WEFT_EXPECT_OK(weft_spawn(NULL, traced, (void*)(intptr_t)i, NULL, &ts[i]));
  for (int i = 0; i < WORKERS_OF_TRACE; i++) {
    WEFT_EXPECT_OK(weft_await(ts[i], NULL));
    weft_task_release(ts[i]);
  }
  return weft_lock_free(trace_lock);
}

/* Runs the traced program with `seed`; the trace is left in `trace`. */
static void run_traced(uint64_t seed) {
  weft_config_t cfg = {.workers = 4, .deterministic = 1, .seed = seed};
  trace_len = 0;
  WEFT_ASSERT_OK(weft_run(main_traced, NULL, &cfg, NULL));
  WEFT_ASSERT_NO_FAILURES();
  assert_int_equal(trace_len, WORKERS_OF_TRACE * (STEPS + 1) +
                                  WORKERS_OF_TRACE * STEPS / 6);
}

static void test_same_seed_same_order(void** state) {
  static int first[TRACE_MAX];
  (void)state;
  run_traced(42);
  memcpy(first, trace, sizeof(first));
  int len = trace_len;
  for (int i = 0; i < 3; i++) {
    run_traced(42);
    assert_int_equal(trace_len, len);
    assert_memory_equal(first, trace, (size_t)len * sizeof(int));
  }
}

static void test_other_seeds_other_orders(void** state) {
  static int first[TRACE_MAX];
  (void)state;
  run_traced(1);
  memcpy(first, trace, sizeof(first));
  int differ = 0;
  for (uint64_t seed = 2; seed <= 5; seed++) {
    run_traced(seed);
    differ += memcmp(first, trace, (size_t)trace_len * sizeof(int)) != 0;
  }
  assert_int_equal(differ, 4);
}

/* ---- The virtual clock --------------------------------------------------- */

static int sleep_then_stamp(void* arg, void** result) {
  int rc = weft_sleep_ms((uint64_t)(uintptr_t)arg);
  *result = (void*)(uintptr_t)weft_now_ns();
  return rc; /* the timed-out one below is cancelled */
}

static int main_clock(void* arg, void** result) {
  weft_task_t *a, *b, *slow;
  void* ra;
  void* rb;
  (void)arg;
  (void)result;
  WEFT_EXPECT_EQ(weft_now_ns(), 0);
  WEFT_EXPECT_OK(weft_spawn(NULL, sleep_then_stamp, (void*)30, NULL, &a));
  WEFT_EXPECT_OK(
      weft_spawn(NULL, sleep_then_stamp, (void*)(3600 * 1000), NULL, &b));
  WEFT_EXPECT_OK(weft_await(a, &ra));
  WEFT_EXPECT_EQ((uintptr_t)ra, 30 * 1000000u);
  WEFT_EXPECT_OK(weft_await(b, &rb));
  WEFT_EXPECT_EQ((uintptr_t)rb, 3600ull * 1000000000u);
  /* A timeout fires exactly at its deadline, whatever the machine does. */
  WEFT_EXPECT_OK(weft_spawn(NULL, sleep_then_stamp, (void*)10000, NULL, &slow));
  uint64_t t0 = weft_now_ns();
  WEFT_EXPECT_ERR(weft_wait_for(slow, 5000, NULL), WEFT_ETIMEDOUT);
  WEFT_EXPECT_EQ(weft_now_ns() - t0, 5000 * 1000000ull);
  weft_task_release(a);
  weft_task_release(b);
  weft_task_release(slow);
  return 0;
}

static void test_virtual_clock(void** state) {
  (void)state;
  weft_config_t cfg = {.deterministic = 1, .seed = 7};
  uint64_t real0 = weft_now_ns(); /* outside the runtime: the real clock */
  WEFT_ASSERT_OK(weft_run(main_clock, NULL, &cfg, NULL));
  WEFT_ASSERT_NO_FAILURES();
  /* An hour passed inside; far less outside (a hang guard, not timing). */
  assert_true(weft_now_ns() - real0 < 600ull * 1000000000u);
}

/* A task that yields can run, so the clock stays put while one does; a
 * yield loop polling for an executor call still sees it end. */
static int main_yield_poll(void* arg, void** result) {
  weft_task_t* t;
  weft_future_t* f;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_spawn(NULL, sleep_then_stamp, (void*)1000, NULL, &t));
  for (int i = 0; i < 1000; i++) {
    WEFT_EXPECT_OK(weft_yield());
    WEFT_EXPECT_EQ(weft_now_ns(), 0);
  }
  WEFT_EXPECT_OK(weft_await(t, NULL));
  WEFT_EXPECT_EQ(weft_now_ns(), 1000 * 1000000ull);
  WEFT_EXPECT_OK(weft_submit_blocking(NULL, usleep_1ms, NULL, &f));
  WEFT_EXPECT_EQ(WEFT_YIELD_UNTIL(weft_future_done(f)), 0);
  WEFT_EXPECT_EQ(weft_now_ns(), 1000 * 1000000ull); /* took no time */
  weft_future_release(f);
  weft_task_release(t);
  return 0;
}

static void test_clock_and_yield_loops(void** state) {
  (void)state;
  weft_config_t cfg = {.deterministic = 1, .seed = 3};
  WEFT_ASSERT_OK(weft_run(main_yield_poll, NULL, &cfg, NULL));
  WEFT_ASSERT_NO_FAILURES();
}

/* Two tasks that keep waking each other never leave only yielded tasks
 * behind; the periodic quiet point still lets an executor call end. */
typedef struct {
  weft_queue_t* to_b;
  weft_queue_t* to_a;
  int stop; /* the worker's thread only */
} pingpong_t;

static int ping(void* arg, void** result) {
  pingpong_t* p = arg;
  void* item;
  (void)result;
  while (!p->stop) {
    WEFT_EXPECT_OK(weft_queue_put(p->to_b, p, 0));
    WEFT_EXPECT_OK(weft_queue_get(p->to_a, &item));
  }
  return weft_queue_put(p->to_b, NULL, 0); /* lets pong leave */
}

static int pong(void* arg, void** result) {
  pingpong_t* p = arg;
  void* item;
  (void)result;
  for (;;) {
    WEFT_EXPECT_OK(weft_queue_get(p->to_b, &item));
    if (item == NULL)
      return 0;
    WEFT_EXPECT_OK(weft_queue_put(p->to_a, p, 0));
  }
}

static int blocking_then_stop(void* arg, void** result) {
  pingpong_t* p = arg;
  (void)result;
  WEFT_EXPECT_OK(weft_run_blocking(usleep_1ms, NULL, NULL));
  p->stop = 1;
  return 0;
}

static int main_busy_pair(void* arg, void** result) {
  pingpong_t p = {0};
  weft_task_t *a, *b, *c;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_queue_new(WEFT_QUEUE_FIFO, 1, &p.to_b));
  WEFT_EXPECT_OK(weft_queue_new(WEFT_QUEUE_FIFO, 1, &p.to_a));
  WEFT_EXPECT_OK(weft_spawn(NULL, ping, &p, NULL, &a));
  WEFT_EXPECT_OK(weft_spawn(NULL, pong, &p, NULL, &b));
  WEFT_EXPECT_OK(weft_spawn(NULL, blocking_then_stop, &p, NULL, &c));
  WEFT_EXPECT_OK(weft_await(c, NULL));
  WEFT_EXPECT_OK(weft_await(a, NULL));
  WEFT_EXPECT_OK(weft_await(b, NULL));
  weft_task_release(a);
  weft_task_release(b);
  weft_task_release(c);
  WEFT_EXPECT_OK(weft_queue_free(p.to_b));
  WEFT_EXPECT_OK(weft_queue_free(p.to_a));
  return 0;
}

static void test_busy_tasks_do_not_shut_out_calls(void** state) {
  (void)state;
  weft_config_t cfg = {.deterministic = 1, .seed = 5};
  WEFT_ASSERT_OK(weft_run(main_busy_pair, NULL, &cfg, NULL));
  WEFT_ASSERT_NO_FAILURES();
}

/* ---- Loopback TCP between the program's own tasks ------------------------ */

#define CLIENTS 4
#define LINES 5

static int echo_lines(weft_stream_t* conn, void* arg) {
  char line[64];
  ptrdiff_t n;
  (void)arg;
  while ((n = weft_stream_readline(conn, line, sizeof(line))) > 0) {
    note(100 + line[0] - 'a');
    WEFT_EXPECT_OK(weft_stream_write(conn, line, (size_t)n));
  }
  return 0;
}

static int client(void* arg, void** result) {
  unsigned port = (unsigned)(uintptr_t)arg >> 8;
  int who = (int)((uintptr_t)arg & 0xff);
  weft_stream_t* s;
  char line[64];
  (void)result;
  WEFT_EXPECT_OK(weft_tcp_connect("127.0.0.1", port, &s));
  for (int k = 0; k < LINES; k++) {
    char msg[8] = {(char)('a' + who), (char)('0' + k), '\n'};
    WEFT_EXPECT_OK(weft_stream_write(s, msg, 3));
    WEFT_EXPECT_EQ(weft_stream_readline(s, line, sizeof(line)), 3);
    note(200 + who);
  }
  return weft_stream_close(s);
}

static int main_loopback(void* arg, void** result) {
  weft_server_t* srv;
  weft_task_t* ts[CLIENTS];
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_tcp_serve("127.0.0.1", 0, echo_lines, NULL, NULL, &srv));
  uintptr_t port = weft_server_port(srv);
  for (uintptr_t i = 0; i < CLIENTS; i++)
    WEFT_EXPECT_OK(
        weft_spawn(NULL, client, (void*)(port << 8 | i), NULL, &ts[i]));
  for (int i = 0; i < CLIENTS; i++) {
    WEFT_EXPECT_OK(weft_await(ts[i], NULL));
    weft_task_release(ts[i]);
  }
  return weft_server_close(srv);
}

/* The docs' claim: a test whose tasks talk to each other over loopback
 * repeats under one seed. */
static void test_loopback_tcp_repeats(void** state) {
  static int first[TRACE_MAX];
  (void)state;
  weft_config_t cfg = {.deterministic = 1, .seed = 77};
  int len = 0;
  for (int run = 0; run < 3; run++) {
    trace_len = 0;
    WEFT_ASSERT_OK(weft_run(main_loopback, NULL, &cfg, NULL));
    WEFT_ASSERT_NO_FAILURES();
    assert_int_equal(trace_len, 2 * CLIENTS * LINES);
    if (run == 0) {
      memcpy(first, trace, sizeof(first));
      len = trace_len;
    } else {
      assert_memory_equal(first, trace, (size_t)len * sizeof(int));
    }
  }
}

/* ---- Knobs ------------------------------------------------------------------
 */

static char logged[512];

static void capture_log(int level, const char* msg, void* arg) {
  (void)arg;
  if (level == WEFT_LOG_WARN)
    snprintf(logged, sizeof(logged), "%s", msg);
}

static void test_knobs(void** state) {
  weft_runtime_t* rt;
  (void)state;
  weft_config_t cfg = {.workers = 3, .deterministic = 1, .seed = 99};
  WEFT_ASSERT_OK(weft_runtime_new(&cfg, &rt));
  assert_int_equal(weft_runtime_workers(rt), 1);
  assert_int_equal(weft_runtime_seed(rt), 99);
  WEFT_ASSERT_OK(weft_runtime_free(rt));
  /* Off: no seed, the workers asked for. */
  cfg.deterministic = 0;
  WEFT_ASSERT_OK(weft_runtime_new(&cfg, &rt));
  assert_int_equal(weft_runtime_workers(rt), 3);
  assert_int_equal(weft_runtime_seed(rt), 0);
  WEFT_ASSERT_OK(weft_runtime_free(rt));
  /* WEFT_SEED is not read without WEFT_CONFIG_ENV: a program that did not
   * ask for environment switches keeps its workers and real clock. */
  setenv("WEFT_SEED", "1234", 1);
  WEFT_ASSERT_OK(weft_runtime_new(&cfg, &rt));
  assert_int_equal(weft_runtime_seed(rt), 0);
  assert_int_equal(weft_runtime_workers(rt), 3);
  WEFT_ASSERT_OK(weft_runtime_free(rt));
  WEFT_ASSERT_OK(weft_runtime_new(NULL, &rt));
  assert_int_equal(weft_runtime_seed(rt), 0);
  WEFT_ASSERT_OK(weft_runtime_free(rt));
  /* With it, WEFT_SEED turns the mode on and wins over the config. */
  cfg.flags = WEFT_CONFIG_ENV;
  WEFT_ASSERT_OK(weft_runtime_new(&cfg, &rt));
  assert_int_equal(weft_runtime_seed(rt), 1234);
  assert_int_equal(weft_runtime_workers(rt), 1);
  WEFT_ASSERT_OK(weft_runtime_free(rt));
  /* Not a number: ignored, with a warning. */
  weft_set_log(capture_log, NULL);
  setenv("WEFT_SEED", "12x", 1);
  WEFT_ASSERT_OK(weft_runtime_new(&cfg, &rt));
  assert_int_equal(weft_runtime_seed(rt), 0);
  WEFT_ASSERT_OK(weft_runtime_free(rt));
  assert_non_null(strstr(logged, "WEFT_SEED='12x' is not a number"));
  unsetenv("WEFT_SEED");
  /* No seed: one is drawn and reported, for a replay. */
  cfg.deterministic = 1;
  cfg.seed = 0;
  WEFT_ASSERT_OK(weft_runtime_new(&cfg, &rt));
  uint64_t seed = weft_runtime_seed(rt);
  assert_true(seed != 0);
  char want[64];
  snprintf(want, sizeof(want), "replay with weft_config_t.seed = %llu",
           (unsigned long long)seed);
  assert_non_null(strstr(logged, want));
  WEFT_ASSERT_OK(weft_runtime_free(rt));
  weft_set_log(NULL, NULL);
  assert_int_equal(weft_runtime_seed(NULL), 0);
}

static int setup(void** state) {
  (void)state;
  unsetenv("WEFT_SEED"); /* these tests choose their own seeds */
  snprintf(tmpdir, sizeof(tmpdir), "/tmp/weft-det-XXXXXX");
  return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int teardown(void** state) {
  char cmd[96];
  (void)state;
  snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
  return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_same_seed_same_order),
      cmocka_unit_test(test_other_seeds_other_orders),
      cmocka_unit_test(test_virtual_clock),
      cmocka_unit_test(test_clock_and_yield_loops),
      cmocka_unit_test(test_busy_tasks_do_not_shut_out_calls),
      cmocka_unit_test(test_loopback_tcp_repeats),
      cmocka_unit_test(test_knobs),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
