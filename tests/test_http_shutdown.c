/* weft_http_server_shutdown: a graceful stop. Idle keep-alive connections
 * close at once, a request in progress finishes and is answered with
 * "Connection: close", new connections are refused; past the grace the
 * handlers still running are cancelled. Every step is ordered by events and
 * by what the clients read, never by time. */
#include <string.h>

#include "helpers.h"

typedef struct {
  weft_event_t* started; /* the slow handler runs */
  weft_event_t* go;      /* lets it answer */
  int slow_status;       /* what its wait returned */
} slow_t;

static int handler(const weft_http_request_t* req, weft_http_response_t* resp,
                   void* arg) {
  slow_t* sl = arg;
  if (strcmp(req->target, "/slow") == 0) {
    weft_event_set(sl->started);
    sl->slow_status = weft_event_wait(sl->go);
    if (sl->slow_status != 0)
      return sl->slow_status;
    return weft_http_response_set(resp, 200, "text/plain", "done", 4);
  }
  return weft_http_response_set(resp, 200, "text/plain", "hi", 2);
}

/* Sends a GET for `path` on a new connection. */
static weft_stream_t* get(unsigned port, const char* path) {
  weft_stream_t* s = NULL;
  char req[128];
  if (!WEFT_EXPECT_OK(weft_tcp_connect("127.0.0.1", port, &s)))
    return NULL;
  int n =
      snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);
  WEFT_EXPECT_OK(weft_stream_write(s, req, (size_t)n));
  WEFT_EXPECT_OK(weft_stream_drain(s));
  return s;
}

/* Reads a whole response head and its body of `body_len` bytes into buf. */
static int read_response(weft_stream_t* s, char* buf, size_t cap,
                         size_t body_len) {
  ptrdiff_t n = weft_stream_readuntil(s, "\r\n\r\n", 4, buf, cap - 1);
  if (n < 0)
    return (int)n;
  ptrdiff_t m = weft_stream_readexactly(s, buf + n, body_len, NULL);
  if (m < 0)
    return (int)m;
  buf[n + (ptrdiff_t)body_len] = 0;
  return 0;
}

/* 1 when the server closes the connection (end of stream, or a reset),
 * after whatever it still sends (a 500 for a cancelled handler). */
static int closed_by_server(weft_stream_t* s) {
  char buf[256];
  for (int i = 0; i < 64; i++) {
    ptrdiff_t n = weft_stream_read(s, buf, sizeof(buf));
    if (n <= 0)
      return 1;
  }
  return 0;
}

typedef struct {
  weft_server_t* srv;
  int64_t grace_ms;
  int rc;
} stopper_t;

static int stopper(void* arg, void** result) {
  stopper_t* st = arg;
  (void)result;
  st->rc = weft_http_server_shutdown(st->srv, st->grace_ms);
  return 0;
}

static int graceful(void* arg, void** result) {
  slow_t sl = {0};
  weft_server_t* srv;
  weft_task_t* stop;
  char buf[512];
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_event_new(&sl.started));
  WEFT_EXPECT_OK(weft_event_new(&sl.go));
  WEFT_EXPECT_OK(weft_http_serve("127.0.0.1", 0, handler, &sl, NULL, &srv));
  unsigned port = weft_server_port(srv);
  /* An idle keep-alive connection: one request answered, then nothing. */
  weft_stream_t* idle = get(port, "/");
  WEFT_EXPECT_OK(read_response(idle, buf, sizeof(buf), 2));
  WEFT_EXPECT(strstr(buf, "Connection: close") == NULL);
  /* A request in progress. */
  weft_stream_t* busy = get(port, "/slow");
  WEFT_EXPECT_OK(weft_event_wait(sl.started));
  stopper_t st = {srv, 3600 * 1000, 1};
  WEFT_EXPECT_OK(weft_spawn(NULL, stopper, &st, NULL, &stop));
  /* The idle connection is closed at once... */
  WEFT_EXPECT(closed_by_server(idle));
  /* ...the server accepts no more... */
  weft_stream_t* late = NULL;
  WEFT_EXPECT(weft_tcp_connect("127.0.0.1", port, &late) != 0);
  /* ...and the request in progress finishes, told to close. */
  WEFT_EXPECT_OK(weft_event_set(sl.go));
  WEFT_EXPECT_OK(read_response(busy, buf, sizeof(buf), 4));
  WEFT_EXPECT(strstr(buf, "Connection: close") != NULL);
  WEFT_EXPECT(strstr(buf, "done") != NULL);
  WEFT_EXPECT(closed_by_server(busy));
  WEFT_EXPECT_OK(weft_await(stop, NULL));
  WEFT_EXPECT_EQ(st.rc, 0); /* everything ended within the grace */
  WEFT_EXPECT_EQ(sl.slow_status, 0);
  weft_task_release(stop);
  weft_stream_close(idle);
  weft_stream_close(busy);
  weft_event_free(sl.started);
  weft_event_free(sl.go);
  return 0;
}

static void test_shutdown_lets_requests_finish(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, graceful, NULL, NULL));
}

static int impatient(void* arg, void** result) {
  slow_t sl = {0};
  weft_server_t* srv;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_event_new(&sl.started));
  WEFT_EXPECT_OK(weft_event_new(&sl.go));
  WEFT_EXPECT_OK(weft_http_serve("127.0.0.1", 0, handler, &sl, NULL, &srv));
  weft_stream_t* busy = get(weft_server_port(srv), "/slow");
  WEFT_EXPECT_OK(weft_event_wait(sl.started));
  /* No grace: the handler, which would wait for ever, is cancelled. */
  WEFT_EXPECT_ERR(weft_http_server_shutdown(srv, 0), WEFT_ETIMEDOUT);
  WEFT_EXPECT_ERR(sl.slow_status, WEFT_ECANCELED);
  WEFT_EXPECT(closed_by_server(busy));
  WEFT_EXPECT_ERR(weft_http_server_shutdown(srv, 0), WEFT_EINVAL); /* gone */
  weft_stream_close(busy);
  weft_event_free(sl.started);
  weft_event_free(sl.go);
  return 0;
}

static void test_shutdown_cancels_past_the_grace(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, impatient, NULL, NULL));
}

static void test_shutdown_bad_input(void** state) {
  (void)state;
  WEFT_ASSERT_ERR(weft_http_server_shutdown(NULL, 0), WEFT_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shutdown_lets_requests_finish),
      cmocka_unit_test(test_shutdown_cancels_past_the_grace),
      cmocka_unit_test(test_shutdown_bad_input),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
