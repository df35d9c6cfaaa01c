/* Shutdown while everything is busy (issue 7): weft_runtime_free from the
 * test's thread while tasks sleep, wait on the blocking executor, sit in
 * weft_stream_read and in weft_stream_drain with a full send buffer, wait
 * on a held weft_lock, on a weft_sem, on an event (a server's handler) and
 * on a future nobody completes. Every task must return (its wait ends with
 * WEFT_ECANCELED or WEFT_ECLOSED), the runtime must free everything (ASan's
 * leak checker, Valgrind's memcheck: label unit), and nothing may hang.
 *
 * Tasks are detached (handles die with the runtime); each records its last
 * wait's status in a slot the test reads after weft_runtime_free. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "helpers.h"

enum {
  T_SLEEP,
  T_BLOCKING,
  T_READ,
  T_DRAIN,
  T_LOCK_HOLDER,
  T_LOCK_WAITER,
  T_SEM,
  T_FUTURE,
  T_HANDLER,
  T_COUNT
};

typedef struct {
  weft_runtime_t* rt;
  weft_server_t* srv;
  weft_lock_t* lock;
  weft_sem_t* sem;
  weft_event_t* never; /* the handlers wait on it */
  weft_future_t* fut;
  atomic_int status[T_COUNT];
  atomic_int returned; /* tasks that returned */
  atomic_int handlers; /* handlers that started */
  /* The blocking call waits on this until the task that made it is
   * cancelled (shutdown has begun by then). */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int release;
} busy_t;

static busy_t g;

static void record(int which, int status) {
  atomic_store(&g.status[which], status);
  atomic_fetch_add(&g.returned, 1);
}

static int sleeper(void* arg, void** result) {
  (void)arg;
  (void)result;
  record(T_SLEEP, weft_sleep_ms(3600 * 1000));
  return 0;
}

static int wait_for_release(void* arg, void** result) {
  (void)arg;
  (void)result;
  pthread_mutex_lock(&g.mu);
  while (!g.release)
    pthread_cond_wait(&g.cv, &g.mu);
  pthread_mutex_unlock(&g.mu);
  return 0;
}

static int blocker(void* arg, void** result) {
  (void)arg;
  (void)result;
  int rc = weft_run_blocking(wait_for_release, NULL, NULL);
  /* Cancelled: the call runs on; let it end, or the shutdown (which waits
   * for running calls) would wait forever. */
  pthread_mutex_lock(&g.mu);
  g.release = 1;
  pthread_cond_signal(&g.cv);
  pthread_mutex_unlock(&g.mu);
  record(T_BLOCKING, rc);
  return 0;
}

static int handler(weft_stream_t* conn, void* arg) {
  (void)conn;
  (void)arg;
  atomic_fetch_add(&g.handlers, 1);
  int rc = weft_event_wait(g.never);
  /* Two handlers; either slot will do for the check. */
  atomic_store(&g.status[T_HANDLER], rc);
  return rc;
}

static int reader(void* arg, void** result) {
  (void)arg;
  (void)result;
  weft_stream_t* s;
  int rc = weft_tcp_connect("127.0.0.1", weft_server_port(g.srv), &s);
  if (rc == 0) {
    char buf[64];
    rc = (int)weft_stream_read(s, buf, sizeof(buf));
    weft_stream_abort(s);
  }
  record(T_READ, rc);
  return 0;
}

static int drainer(void* arg, void** result) {
  (void)arg;
  (void)result;
  weft_stream_t* s;
  int rc = weft_tcp_connect("127.0.0.1", weft_server_port(g.srv), &s);
  if (rc == 0) {
    /* More than loopback's socket buffers hold: the rest stays queued,
     * and nobody reads it. */
    size_t len = 32u << 20;
    char* big = calloc(1, len);
    rc = big != NULL ? weft_stream_write(s, big, len) : WEFT_ENOMEM;
    free(big);
    if (rc == 0)
      rc = weft_stream_drain(s);
    weft_stream_abort(s);
  }
  record(T_DRAIN, rc);
  return 0;
}

static int lock_holder(void* arg, void** result) {
  (void)arg;
  (void)result;
  int rc = weft_lock_acquire(g.lock);
  if (rc == 0) {
    rc = weft_sleep_ms(3600 * 1000);
    weft_lock_release(g.lock);
  }
  record(T_LOCK_HOLDER, rc);
  return 0;
}

static int lock_waiter(void* arg, void** result) {
  (void)arg;
  (void)result;
  int rc = weft_lock_acquire(g.lock);
  if (rc == 0) { /* the holder let go first: then this wait was cut short */
    weft_lock_release(g.lock);
    rc = weft_sleep_ms(3600 * 1000);
  }
  record(T_LOCK_WAITER, rc);
  return 0;
}

static int sem_waiter(void* arg, void** result) {
  (void)arg;
  (void)result;
  record(T_SEM, weft_sem_acquire(g.sem));
  return 0;
}

static int future_waiter(void* arg, void** result) {
  (void)arg;
  (void)result;
  record(T_FUTURE, weft_future_await(g.fut, NULL));
  return 0;
}

/* Starts the server (serving needs a task) and spawns the others. */
static int setup(void* arg, void** result) {
  (void)arg;
  (void)result;
  int rc = weft_tcp_serve("127.0.0.1", 0, handler, NULL, NULL, &g.srv);
  if (rc != 0)
    return rc;
  weft_task_fn fns[] = {sleeper,     blocker,    reader,       drainer,
                        lock_holder, sem_waiter, future_waiter};
  for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
    if ((rc = weft_spawn(NULL, fns[i], NULL, NULL, NULL)) != 0)
      return rc;
  /* The waiter must find the lock held. */
  if ((rc = WEFT_YIELD_UNTIL(weft_lock_locked(g.lock))) != 0)
    return rc;
  return weft_spawn(NULL, lock_waiter, NULL, NULL, NULL);
}

static int count_suspended(weft_task_t* t, void* arg) {
  if (weft_task_state(t) == WEFT_TASK_SUSPENDED)
    ++*(size_t*)arg;
  return 0;
}

/* Spins (yielding the CPU) until every task waits: the 9 the test spawned
 * plus the 2 handlers. A hang guard, not a timing assumption: the loop
 * ends as soon as the state holds. */
static void wait_until_all_suspended(void) {
  uint64_t deadline = weft_now_ns() + 60ull * 1000 * 1000 * 1000;
  for (;;) {
    size_t n = 0;
    weft_task_visit(g.rt, count_suspended, &n);
    if (n == T_COUNT - 1 + 2 && atomic_load(&g.handlers) == 2 &&
        weft_sem_value(g.sem) == 0)
      return;
    assert_true(weft_now_ns() < deadline);
    sched_yield();
  }
}

static int is_stop(int rc) {
  return rc == WEFT_ECANCELED || rc == WEFT_ECLOSED;
}

/* How task `which`'s wait may end. The shutdown cancels the handlers too,
 * and the server closes their connections: a client whose cancellation
 * lands after that sees the peer's end (end of stream, a reset). */
static int ended_well(int which, int rc) {
  if (which == T_READ && (rc == 0 || rc == -ECONNRESET))
    return 1;
  if (which == T_DRAIN && (rc == -ECONNRESET || rc == -EPIPE))
    return 1;
  return is_stop(rc);
}

static void test_shutdown_while_busy(void** state) {
  (void)state;
  weft_config_t cfg = {.workers = 2};
  pthread_mutex_init(&g.mu, NULL);
  pthread_cond_init(&g.cv, NULL);
  for (int i = 0; i < T_COUNT; i++)
    atomic_init(&g.status[i], 1); /* 1: never recorded */
  WEFT_ASSERT_OK(weft_runtime_new(&cfg, &g.rt));
  WEFT_ASSERT_OK(weft_lock_new(&g.lock));
  WEFT_ASSERT_OK(weft_sem_new(0, 0, &g.sem));
  WEFT_ASSERT_OK(weft_event_new(&g.never));
  WEFT_ASSERT_OK(weft_future_new(&g.fut));
  weft_task_t* t;
  WEFT_ASSERT_OK(weft_spawn(g.rt, setup, NULL, NULL, &t));
  WEFT_ASSERT_OK(weft_await(t, NULL));
  weft_task_release(t);
  wait_until_all_suspended();

  WEFT_ASSERT_OK(weft_runtime_free(g.rt));

  assert_int_equal(atomic_load(&g.returned), T_COUNT - 1);
  for (int i = 0; i < T_COUNT; i++) {
    int rc = atomic_load(&g.status[i]);
    if (!ended_well(i, rc))
      print_error("task %d: %d (%s)\n", i, rc, weft_err_name(rc));
    assert_true(ended_well(i, rc));
  }
  WEFT_ASSERT_OK(weft_lock_free(g.lock));
  WEFT_ASSERT_OK(weft_sem_free(g.sem));
  WEFT_ASSERT_OK(weft_event_free(g.never));
  weft_future_release(g.fut);
  pthread_cond_destroy(&g.cv);
  pthread_mutex_destroy(&g.mu);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shutdown_while_busy),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
