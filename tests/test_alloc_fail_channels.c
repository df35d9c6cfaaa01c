/* Allocation failure injection for broadcast channels, watch channels and
 * signal streams, as tests/test_alloc_fail.c does for the rest: each
 * scenario runs once counting weft's allocations, then once for every k
 * with the k-th allocation failing, in a fresh runtime each time. Every
 * call must return 0 or WEFT_ENOMEM, nothing may crash, and ASan's leak
 * checker (asan preset) must see no leak: a value whose send failed stays
 * the caller's, and the scenario frees it. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/alloc.h"
#include "helpers.h"

static int ok_nomem(const char* file, int line, const char* what, long rc) {
  if (rc != 0 && rc != WEFT_ENOMEM) {
    char buf[256];
    snprintf(buf, sizeof(buf), "%s returned %ld (%s)", what, rc,
             weft_err_name((int)rc));
    weft_test_note_failure(file, line, buf);
  }
  return (int)rc;
}
#define OKNM(expr) ok_nomem(__FILE__, __LINE__, #expr, (long)(expr))

static int run_once(unsigned workers, weft_task_fn main) {
  weft_config_t cfg = {.workers = workers};
  weft_runtime_t* rt = NULL;
  int rc = OKNM(weft_runtime_new(&cfg, &rt));
  if (rc != 0)
    return rc;
  weft_task_t* t = NULL;
  rc = OKNM(weft_spawn(rt, main, NULL, NULL, &t));
  if (rc == 0) {
    rc = OKNM(weft_await(t, NULL));
    weft_task_release(t);
  }
  WEFT_EXPECT_OK(weft_runtime_free(rt));
  return rc;
}

static void sweep(const char* name, unsigned workers, weft_task_fn main) {
  weft_test_reset_failures();
  weft__alloc_fail_after(UINT64_MAX);
  int rc = run_once(workers, main);
  uint64_t n = weft__alloc_count();
  weft__alloc_fail_after(0);
  WEFT_ASSERT_OK(rc);
  WEFT_ASSERT_NO_FAILURES();
  unsigned nomem = 0;
  for (uint64_t k = 1; k <= n + n / 4 + 8; k++) {
    weft__alloc_fail_after(k);
    nomem += run_once(workers, main) == WEFT_ENOMEM;
    weft__alloc_fail_after(0);
    if (weft_test_failures() != 0)
      print_error("%s: k = %llu of %llu\n", name, (unsigned long long)k,
                  (unsigned long long)n);
    WEFT_ASSERT_NO_FAILURES();
  }
  print_message("%s: %llu allocations, %u runs got ENOMEM\n", name,
                (unsigned long long)n, nomem);
}

/* ---- Broadcast ----------------------------------------------------------- */

/* A receive, after a lag report if the receiver fell behind. */
static int bc_recv(weft_broadcast_rx_t* rx) {
  int v;
  int rc = weft_broadcast_recv(rx, &v, NULL);
  if (rc == WEFT_ELIMIT)
    rc = weft_broadcast_recv(rx, &v, NULL);
  return OKNM(rc);
}

static int bc_reader(void* arg, void** result) {
  (void)result;
  return bc_recv(arg);
}

static int main_broadcast(void* arg, void** result) {
  weft_broadcast_t* bc = NULL;
  weft_broadcast_rx_t* rx[2] = {NULL, NULL};
  weft_task_t* t = NULL;
  int v = 1;
  (void)arg;
  (void)result;
  int rc = OKNM(weft_broadcast_new(4, sizeof(int), &bc));
  for (int i = 0; i < 2 && rc == 0; i++)
    rc = OKNM(weft_broadcast_subscribe(bc, &rx[i]));
  if (rc == 0 &&
      (rc = OKNM(weft_spawn(NULL, bc_reader, rx[0], NULL, &t))) == 0) {
    /* Waits (a future each time) until the reader took a message. */
    while (weft_task_done(t) == 0 && (rc = weft_broadcast_send(bc, &v)) >= 0)
      weft_yield();
    rc = rc < 0 ? OKNM(rc) : 0;
    int e = OKNM(weft_await(t, NULL));
    weft_task_release(t);
    if (rc == 0)
      rc = e;
  }
  if (rc == 0)
    rc = bc_recv(rx[1]);
  if (bc != NULL)
    WEFT_EXPECT_OK(weft_broadcast_close(bc));
  for (int i = 0; i < 2; i++)
    WEFT_EXPECT_OK(weft_broadcast_unsubscribe(rx[i]));
  WEFT_EXPECT_OK(weft_broadcast_free(bc));
  return rc;
}

static void test_alloc_fail_broadcast(void** state) {
  (void)state;
  sweep("broadcast", 2, main_broadcast);
}

/* ---- Watch --------------------------------------------------------------- */

static int* new_int(int v) {
  int* p = malloc(sizeof(*p));
  if (p != NULL)
    *p = v;
  return p;
}

static int w_reader(void* arg, void** result) {
  void* v;
  (void)result;
  return OKNM(weft_watch_recv(arg, &v, NULL));
}

/* Sends a fresh value; on failure it is still ours to free. */
static int send_int(weft_watch_t* w, int v) {
  int* p = new_int(v);
  int rc = OKNM(weft_watch_send(w, p));
  if (rc != 0)
    free(p);
  return rc;
}

static int main_watch(void* arg, void** result) {
  weft_watch_t* w = NULL;
  weft_watch_rx_t* rx = NULL;
  weft_task_t* t = NULL;
  void* v;
  (void)arg;
  (void)result;
  int* first = new_int(0);
  int rc = OKNM(weft_watch_new(first, free, &w));
  if (rc != 0)
    free(first);
  if (rc == 0)
    rc = OKNM(weft_watch_subscribe(w, &rx));
  if (rc == 0 && (rc = OKNM(weft_spawn(NULL, w_reader, rx, NULL, &t))) == 0) {
    /* Until the reader has its value: a send that failed (ENOMEM) is
     * simply made again, or the reader would wait for ever. */
    while (weft_task_done(t) == 0) {
      send_int(w, 1);
      weft_yield();
    }
    int e = OKNM(weft_await(t, NULL));
    weft_task_release(t);
    if (rc == 0)
      rc = e;
  }
  if (rc == 0)
    rc = send_int(w, 2);
  if (rc == 0)
    rc = OKNM(weft_watch_get(rx, &v, NULL));
  if (w != NULL)
    WEFT_EXPECT_OK(weft_watch_close(w));
  WEFT_EXPECT_OK(weft_watch_unsubscribe(rx));
  WEFT_EXPECT_OK(weft_watch_free(w));
  return rc;
}

static void test_alloc_fail_watch(void** state) {
  (void)state;
  sweep("watch", 2, main_watch);
}

/* ---- Signal streams ------------------------------------------------------ */

static int main_signal(void* arg, void** result) {
  const int sigs[] = {SIGUSR1, SIGUSR2};
  weft_signal_stream_t* s = NULL;
  int sig;
  (void)arg;
  (void)result;
  int rc = OKNM(weft_signal_stream_open(sigs, 2, &s));
  if (rc != 0)
    return rc;
  raise(SIGUSR2);
  rc = OKNM(weft_signal_stream_next(s, &sig));
  WEFT_EXPECT(rc != 0 || sig == SIGUSR2);
  WEFT_EXPECT_OK(weft_signal_stream_close(s));
  return rc;
}

static void test_alloc_fail_signal_stream(void** state) {
  (void)state;
  sweep("signal stream", 2, main_signal);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_alloc_fail_broadcast),
      cmocka_unit_test(test_alloc_fail_watch),
      cmocka_unit_test(test_alloc_fail_signal_stream),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
