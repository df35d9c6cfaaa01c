/* TCP streams and servers: echo across workers, the StreamReader calls and
 * their limits, backpressure, half-close, resets, cancellation, a stream
 * used from another worker, and shutdown with connections open. */
#include <string.h>
#include <sys/socket.h>

#include "helpers.h"
#include "core/worker.h" /* rt->workers, for the affinity test */

/* ---- A line echo server ------------------------------------------------ */

static int echo_lines(weft_stream_t* c, void* arg) {
  (void)arg;
  char line[256];
  ptrdiff_t n;
  while ((n = weft_stream_readline(c, line, sizeof(line))) > 0) {
    if (weft_stream_write(c, line, (size_t)n) != 0 || weft_stream_drain(c))
      break;
  }
  return 0;
}

static int echo_client(void* arg, void** result) {
  unsigned port = (unsigned)(uintptr_t)arg;
  weft_stream_t* s;
  (void)result;
  if (!WEFT_EXPECT_OK(weft_tcp_connect("127.0.0.1", port, &s)))
    return -1;
  char want[64], got[64];
  for (int i = 0; i < 50; i++) {
    int len = snprintf(want, sizeof(want), "line %d from %p\n", i, (void*)&s);
    WEFT_EXPECT_OK(weft_stream_write(s, want, (size_t)len));
    WEFT_EXPECT_EQ(weft_stream_readline(s, got, sizeof(got)), len);
    WEFT_EXPECT(memcmp(want, got, (size_t)len) == 0);
  }
  WEFT_EXPECT_OK(weft_stream_shutdown(s));
  WEFT_EXPECT_EQ(weft_stream_read(s, got, sizeof(got)), 0);
  WEFT_EXPECT_EQ(weft_stream_at_eof(s), 1);
  WEFT_EXPECT_OK(weft_stream_close(s));
  return 0;
}

typedef struct {
  unsigned flags;
  int clients;
} echo_cfg_t;

static int echo_main(void* arg, void** result) {
  echo_cfg_t* cfg = arg;
  weft_server_config_t sc = {.flags = cfg->flags};
  weft_server_t* srv;
  (void)result;
  if (!WEFT_EXPECT_OK(
          weft_tcp_serve("127.0.0.1", 0, echo_lines, NULL, &sc, &srv)))
    return -1;
  unsigned port = weft_server_port(srv);
  WEFT_EXPECT(port > 0);
  weft_task_t* t[32];
  for (int i = 0; i < cfg->clients; i++)
    WEFT_EXPECT_OK(
        weft_spawn(NULL, echo_client, (void*)(uintptr_t)port, NULL, &t[i]));
  for (int i = 0; i < cfg->clients; i++) {
    WEFT_EXPECT_OK(weft_await(t[i], NULL));
    weft_task_release(t[i]);
  }
  uint64_t accepted;
  weft_server_stats(srv, &accepted, NULL);
  WEFT_EXPECT_EQ(accepted, cfg->clients);
  WEFT_EXPECT_OK(weft_server_close(srv));
  return 0;
}

static void test_tcp_echo_one_worker(void** state) {
  (void)state;
  echo_cfg_t cfg = {0, 4};
  WEFT_ASSERT_OK(weft_test_run_detached(1, echo_main, &cfg, NULL));
}

static void test_tcp_echo_four_workers(void** state) {
  (void)state;
  echo_cfg_t cfg = {0, 32};
  WEFT_ASSERT_OK(weft_test_run_detached(4, echo_main, &cfg, NULL));
}

static void test_tcp_echo_reuseport(void** state) {
  (void)state;
  echo_cfg_t cfg = {WEFT_SERVE_REUSEPORT, 16};
  WEFT_ASSERT_OK(weft_test_run_detached(3, echo_main, &cfg, NULL));
}

/* ---- A scripted server: the handler plays back what the test says ------ */

typedef struct {
  weft_event_t* go; /* the handler waits for it before acting */
  const char* send; /* then sends this */
  size_t send_len;
  int then;            /* 0 close, 1 abort (reset), 2 read all, echo count */
  weft_future_t* done; /* completed by the (first) handler as it ends */
} script_t;

static int scripted(weft_stream_t* c, void* arg) {
  script_t* sc = arg;
  if (sc->go != NULL)
    weft_event_wait(sc->go);
  if (sc->send_len > 0)
    weft_stream_write(c, sc->send, sc->send_len);
  int status = 0;
  if (sc->then == 1)
    status = weft_stream_abort(c);
  if (sc->then == 2) {
    char buf[65536];
    uint64_t total = 0;
    ptrdiff_t n;
    while ((n = weft_stream_read(c, buf, sizeof(buf))) > 0)
      total += (uint64_t)n;
    weft_stream_write(c, &total, sizeof(total));
  }
  if (sc->done != NULL)
    weft_future_set_result(sc->done, NULL); /* EBUSY after the first */
  return status;
}

static int serve_script(script_t* sc, weft_server_t** srv) {
  if (sc->done == NULL && weft_future_new(&sc->done) != 0)
    return WEFT_ENOMEM;
  return weft_tcp_serve("127.0.0.1", 0, scripted, sc, NULL, srv);
}

/* Closes the server and waits until its handler has ended: `sc` lives on
 * the caller's stack. */
static int end_script(script_t* sc, weft_server_t* srv) {
  int err = weft_server_close(srv);
  weft_future_await(sc->done, NULL);
  weft_future_release(sc->done);
  sc->done = NULL;
  return err;
}

static int readexactly_main(void* arg, void** result) {
  (void)arg;
  (void)result;
  script_t sc = {.send = "hello", .send_len = 5};
  weft_server_t* srv;
  weft_stream_t* s;
  char buf[16];
  size_t got = 99;
  WEFT_EXPECT_OK(serve_script(&sc, &srv));
  WEFT_EXPECT_OK(weft_tcp_connect("localhost", weft_server_port(srv), &s));
  WEFT_EXPECT_OK(weft_stream_readexactly(s, buf, 2, &got));
  WEFT_EXPECT(memcmp(buf, "he", 2) == 0);
  WEFT_EXPECT_ERR(weft_stream_readexactly(s, buf, 10, &got), WEFT_EOF);
  WEFT_EXPECT_EQ(got, 3);
  WEFT_EXPECT(memcmp(buf, "llo", 3) == 0);
  WEFT_EXPECT_EQ(weft_stream_read(s, buf, sizeof(buf)), 0);
  WEFT_EXPECT_OK(weft_stream_close(s));
  WEFT_EXPECT_OK(end_script(&sc, srv));
  return 0;
}

static void test_tcp_readexactly_reports_partial(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(2, readexactly_main, NULL, NULL));
}

static int limit_main(void* arg, void** result) {
  (void)arg;
  (void)result;
  static char data[100];
  memset(data, 'x', 40);
  memcpy(data + 40, "\nab|cd", 6);
  script_t sc = {.send = data, .send_len = 46};
  weft_server_t* srv;
  weft_stream_t* s;
  char buf[64];
  WEFT_EXPECT_OK(serve_script(&sc, &srv));
  WEFT_EXPECT_OK(weft_tcp_connect("127.0.0.1", weft_server_port(srv), &s));
  WEFT_EXPECT_OK(weft_stream_set_limit(s, 16));
  /* 40 bytes without a separator: over the limit, nothing consumed. */
  WEFT_EXPECT_ERR(weft_stream_readline(s, buf, sizeof(buf)), WEFT_ELIMIT);
  WEFT_EXPECT_ERR(weft_stream_readline(s, buf, sizeof(buf)), WEFT_ELIMIT);
  WEFT_EXPECT_OK(weft_stream_set_limit(s, 64));
  WEFT_EXPECT_ERR(weft_stream_readline(s, buf, 10), WEFT_ENOBUFS);
  WEFT_EXPECT_EQ(weft_stream_readline(s, buf, sizeof(buf)), 41);
  WEFT_EXPECT(memcmp(buf, data, 41) == 0);
  WEFT_EXPECT_EQ(weft_stream_readuntil(s, "|", 1, buf, sizeof(buf)), 3);
  WEFT_EXPECT(memcmp(buf, "ab|", 3) == 0);
  /* End of stream without the separator: WEFT_EOF, the rest stays. */
  WEFT_EXPECT_ERR(weft_stream_readuntil(s, "|", 1, buf, sizeof(buf)), WEFT_EOF);
  WEFT_EXPECT_EQ(weft_stream_readline(s, buf, sizeof(buf)), 2);
  WEFT_EXPECT(memcmp(buf, "cd", 2) == 0);
  WEFT_EXPECT_EQ(weft_stream_readline(s, buf, sizeof(buf)), 0);
  WEFT_EXPECT_OK(weft_stream_close(s));
  WEFT_EXPECT_OK(end_script(&sc, srv));
  return 0;
}

static void test_tcp_limits_lose_nothing(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(1, limit_main, NULL, NULL));
}

/* A read that times out leaves the stream usable, and loses nothing. */
static int cancel_main(void* arg, void** result) {
  (void)arg;
  (void)result;
  weft_event_t* go;
  WEFT_EXPECT_OK(weft_event_new(&go));
  script_t sc = {.go = go, .send = "late\n", .send_len = 5};
  weft_server_t* srv;
  weft_stream_t* s;
  char buf[16];
  weft_timeout_t* tm;
  WEFT_EXPECT_OK(serve_script(&sc, &srv));
  WEFT_EXPECT_OK(weft_tcp_connect("127.0.0.1", weft_server_port(srv), &s));
  WEFT_EXPECT_OK(weft_timeout_enter(20, &tm));
  WEFT_EXPECT_ERR(weft_stream_readline(s, buf, sizeof(buf)), WEFT_ECANCELED);
  WEFT_EXPECT_ERR(weft_timeout_exit(tm), WEFT_ETIMEDOUT);
  WEFT_EXPECT_OK(weft_event_set(go));
  WEFT_EXPECT_EQ(weft_stream_readline(s, buf, sizeof(buf)), 5);
  WEFT_EXPECT(memcmp(buf, "late\n", 5) == 0);
  WEFT_EXPECT_OK(weft_stream_close(s));
  WEFT_EXPECT_OK(end_script(&sc, srv));
  weft_event_free(go);
  return 0;
}

static void test_tcp_cancelled_read_keeps_stream(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(2, cancel_main, NULL, NULL));
}

/* ---- Backpressure -------------------------------------------------------- */

#define kBig (8u << 20)

static int drain_writer(void* arg, void** result) {
  weft_stream_t* s = arg;
  (void)result;
  return weft_stream_drain(s);
}

static int drain_main(void* arg, void** result) {
  (void)arg;
  (void)result;
  weft_event_t* go;
  WEFT_EXPECT_OK(weft_event_new(&go));
  script_t sc = {.go = go, .then = 2};
  weft_server_t* srv;
  weft_stream_t* s;
  WEFT_EXPECT_OK(serve_script(&sc, &srv));
  WEFT_EXPECT_OK(weft_tcp_connect("127.0.0.1", weft_server_port(srv), &s));
  char* big = malloc(kBig);
  memset(big, 7, kBig);
  /* The peer reads nothing yet: most of it must queue here. */
  WEFT_EXPECT_OK(weft_stream_write(s, big, kBig));
  WEFT_EXPECT(weft_stream_write_buffer_size(s) > WEFT_HIGH_WATER_DEFAULT);
  weft_task_t* d;
  WEFT_EXPECT_OK(weft_spawn(NULL, drain_writer, s, NULL, &d));
  /* The drainer must park: nothing moves until the server reads. */
  WEFT_YIELD_UNTIL(weft_task_state(d) == WEFT_TASK_SUSPENDED);
  WEFT_EXPECT(!weft_task_done(d));
  WEFT_EXPECT_OK(weft_event_set(go));
  WEFT_EXPECT_OK(weft_await(d, NULL));
  weft_task_release(d);
  WEFT_EXPECT(weft_stream_write_buffer_size(s) <= WEFT_LOW_WATER_DEFAULT);
  WEFT_EXPECT_OK(weft_stream_shutdown(s));
  uint64_t total = 0;
  WEFT_EXPECT_OK(weft_stream_readexactly(s, &total, sizeof(total), NULL));
  WEFT_EXPECT_EQ(total, kBig);
  WEFT_EXPECT_OK(weft_stream_close(s));
  WEFT_EXPECT_OK(end_script(&sc, srv));
  weft_event_free(go);
  free(big);
  return 0;
}

static void test_tcp_drain_waits_for_slow_reader(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(2, drain_main, NULL, NULL));
}

/* ---- Failures -------------------------------------------------------------
 */

static int reset_main(void* arg, void** result) {
  (void)arg;
  (void)result;
  script_t sc = {.then = 1};
  weft_server_t* srv;
  weft_stream_t* s;
  char buf[16];
  WEFT_EXPECT_OK(serve_script(&sc, &srv));
  WEFT_EXPECT_OK(weft_tcp_connect("127.0.0.1", weft_server_port(srv), &s));
  WEFT_EXPECT_ERR(weft_stream_read(s, buf, sizeof(buf)), UV_ECONNRESET);
  /* The error stays; writing fails too, and close still works. */
  WEFT_EXPECT_ERR(weft_stream_read(s, buf, sizeof(buf)), UV_ECONNRESET);
  int w = weft_stream_write(s, "x", 1);
  WEFT_EXPECT(w == 0 || w == UV_EPIPE || w == UV_ECONNRESET);
  weft_stream_close(s);
  /* Nobody listens on a closed server's port. */
  unsigned port = weft_server_port(srv);
  WEFT_EXPECT_OK(end_script(&sc, srv));
  WEFT_EXPECT_ERR(weft_tcp_connect("127.0.0.1", port, &s), UV_ECONNREFUSED);
  return 0;
}

static void test_tcp_reset_and_refused(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(2, reset_main, NULL, NULL));
}

static int blocked_reader(void* arg, void** result) {
  char buf[8];
  (void)result;
  return (int)weft_stream_read(arg, buf, sizeof(buf));
}

static int close_wakes_main(void* arg, void** result) {
  (void)arg;
  (void)result;
  weft_event_t* go;
  WEFT_EXPECT_OK(weft_event_new(&go));
  script_t sc = {.go = go};
  weft_server_t* srv;
  weft_stream_t* s;
  WEFT_EXPECT_OK(serve_script(&sc, &srv));
  WEFT_EXPECT_OK(weft_tcp_connect("127.0.0.1", weft_server_port(srv), &s));
  weft_task_t* r;
  WEFT_EXPECT_OK(weft_spawn(NULL, blocked_reader, s, NULL, &r));
  WEFT_YIELD_UNTIL(weft_task_state(r) == WEFT_TASK_SUSPENDED);
  /* A second reader would interleave bytes: refused. */
  char buf[4];
  WEFT_EXPECT_ERR(weft_stream_read(s, buf, sizeof(buf)), WEFT_EBUSY);
  WEFT_EXPECT_OK(weft_stream_close(s));
  WEFT_EXPECT_ERR(weft_await(r, NULL), WEFT_ECLOSED);
  weft_task_release(r);
  WEFT_EXPECT_OK(weft_event_set(go));
  WEFT_EXPECT_OK(end_script(&sc, srv));
  weft_event_free(go);
  return 0;
}

static void test_tcp_close_wakes_reader(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(2, close_wakes_main, NULL, NULL));
}

static void test_tcp_bad_arguments(void** state) {
  (void)state;
  weft_stream_t* s;
  char buf[4];
  WEFT_ASSERT_ERR(weft_tcp_connect("127.0.0.1", 80, &s), WEFT_ENOTTASK);
  WEFT_ASSERT_ERR(weft_stream_read(NULL, buf, 4), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_stream_write(NULL, buf, 4), WEFT_EINVAL);
  WEFT_ASSERT_OK(weft_stream_close(NULL));
  assert_int_equal(weft_server_port(NULL), 0);
}

/* A peer sending garbage (no line end, far over the limit) gets an error
 * line and is closed; a slow peer sending a line in pieces is served; the
 * server goes on. */
static int line_or_error(weft_stream_t* c, void* arg) {
  char line[128];
  (void)arg;
  ptrdiff_t n = weft_stream_readline(c, line, sizeof(line));
  if (n == WEFT_ELIMIT) {
    /* Closing with unread bytes would reset the connection and could
     * drop the reply: read the rest until the peer hangs up. */
    weft_stream_write(c, "ERR\n", 4);
    while (weft_stream_read(c, line, sizeof(line)) > 0) {
    }
    return 0;
  }
  if (n > 0)
    return weft_stream_write(c, line, (size_t)n);
  return (int)n;
}

static int garbage_main(void* arg, void** result) {
  (void)arg;
  (void)result;
  weft_server_t* srv;
  weft_stream_t* s;
  char buf[16];
  WEFT_EXPECT_OK(
      weft_tcp_serve("127.0.0.1", 0, line_or_error, NULL, NULL, &srv));
  unsigned port = weft_server_port(srv);
  WEFT_EXPECT_OK(weft_tcp_connect("127.0.0.1", port, &s));
  char* junk = malloc(1 << 20);
  memset(junk, 0xAB, 1 << 20);
  WEFT_EXPECT_OK(weft_stream_write(s, junk, 1 << 20));
  WEFT_EXPECT_EQ(weft_stream_readline(s, buf, sizeof(buf)), 4);
  WEFT_EXPECT(memcmp(buf, "ERR\n", 4) == 0);
  weft_stream_abort(s);
  free(junk);
  /* A slow peer: the line in three pieces. */
  WEFT_EXPECT_OK(weft_tcp_connect("127.0.0.1", port, &s));
  WEFT_EXPECT_OK(weft_stream_nodelay(s, 1));
  const char* parts[] = {"sl", "ow li", "ne\n"};
  for (int i = 0; i < 3; i++) {
    WEFT_EXPECT_OK(weft_stream_write(s, parts[i], strlen(parts[i])));
    weft_sleep_ms(2);
  }
  WEFT_EXPECT_EQ(weft_stream_readline(s, buf, sizeof(buf)), 10);
  WEFT_EXPECT(memcmp(buf, "slow line\n", 10) == 0);
  WEFT_EXPECT_OK(weft_stream_close(s));
  WEFT_EXPECT_OK(weft_server_close(srv));
  return 0;
}

static void test_tcp_garbage_and_slow_peers(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(2, garbage_main, NULL, NULL));
}

/* ---- Affinity ------------------------------------------------------------ */

static int affinity_main(void* arg, void** result) {
  (void)arg;
  (void)result;
  script_t sc = {.send = "ping\n", .send_len = 5};
  weft_server_t* srv;
  weft_stream_t* s;
  char buf[16];
  WEFT_EXPECT_OK(serve_script(&sc, &srv));
  WEFT_EXPECT_OK(weft_tcp_connect("127.0.0.1", weft_server_port(srv), &s));
  int home = weft_worker_id();
  /* Move this task to the other worker, then use the stream. */
  weft_runtime_t* rt = weft_current_runtime();
  weft__worker_t* other = rt->workers[home == 0 ? 1 : 0];
  WEFT_EXPECT_OK(weft_uv_enter(&other->loop));
  WEFT_EXPECT(weft_worker_id() != home);
  WEFT_EXPECT_EQ(weft_stream_readline(s, buf, sizeof(buf)), 5);
  WEFT_EXPECT_OK(weft_uv_enter(&other->loop));
  WEFT_EXPECT_OK(weft_stream_nodelay(s, 1));
  WEFT_EXPECT_OK(weft_uv_enter(&other->loop));
  struct sockaddr_storage peer;
  WEFT_EXPECT_OK(weft_stream_peername(s, &peer));
  WEFT_EXPECT_EQ(peer.ss_family, AF_INET);
  WEFT_EXPECT_OK(weft_uv_enter(&other->loop));
  WEFT_EXPECT_OK(weft_stream_close(s));
  WEFT_EXPECT_OK(end_script(&sc, srv));
  return 0;
}

static void test_tcp_stream_used_from_other_worker(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(2, affinity_main, NULL, NULL));
}

/* ---- Shutdown with everything open ----------------------------------------
 */

static int idle_client(void* arg, void** result) {
  weft_stream_t* s;
  char buf[8];
  (void)result;
  if (weft_tcp_connect("127.0.0.1", (unsigned)(uintptr_t)arg, &s) != 0)
    return -1;
  weft_stream_read(s, buf, sizeof(buf)); /* until the shutdown */
  return 0;                              /* the stream is left open */
}

static int shutdown_main(void* arg, void** result) {
  (void)arg;
  (void)result;
  static script_t sc = {.then = 2};
  weft_server_t* srv;
  WEFT_EXPECT_OK(weft_tcp_serve("127.0.0.1", 0, scripted, &sc, NULL, &srv));
  for (int i = 0; i < 20; i++)
    WEFT_EXPECT_OK(weft_spawn(NULL, idle_client,
                              (void*)(uintptr_t)weft_server_port(srv), NULL,
                              NULL));
  uint64_t accepted = 0;
  while (accepted < 20) {
    weft_sleep_ms(1);
    weft_server_stats(srv, &accepted, NULL);
  }
  return 0; /* server, clients and handlers left for the shutdown */
}

static void test_tcp_shutdown_frees_open_connections(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(2, shutdown_main, NULL, NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tcp_echo_one_worker),
      cmocka_unit_test(test_tcp_echo_four_workers),
      cmocka_unit_test(test_tcp_echo_reuseport),
      cmocka_unit_test(test_tcp_readexactly_reports_partial),
      cmocka_unit_test(test_tcp_limits_lose_nothing),
      cmocka_unit_test(test_tcp_cancelled_read_keeps_stream),
      cmocka_unit_test(test_tcp_drain_waits_for_slow_reader),
      cmocka_unit_test(test_tcp_reset_and_refused),
      cmocka_unit_test(test_tcp_close_wakes_reader),
      cmocka_unit_test(test_tcp_bad_arguments),
      cmocka_unit_test(test_tcp_garbage_and_slow_peers),
      cmocka_unit_test(test_tcp_stream_used_from_other_worker),
      cmocka_unit_test(test_tcp_shutdown_frees_open_connections),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
