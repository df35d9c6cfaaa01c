/* The HTTP client and server against peers that misbehave (issue 18): a
 * server that sends more than it framed (the client must never hand those
 * bytes to the next request), servers that never answer or answer with an
 * endless stream of 100 Continue (the client's deadlines end both), and
 * the parser's edge cases on a live connection: stray CRLFs between
 * requests, an HTTP/1.0 request with chunked framing, a chunk size with a
 * trailing space, a Host with a space, a CRLF after 100 Continue.
 *
 * The misbehaving servers are weft_tcp_serve handlers that write canned
 * bytes. Each connection gets a number in accept order, and each response
 * body says which connection and which request on it answered ("c2r1"),
 * so a test sees exactly which connection the client used. A response and
 * the stray bytes after it go in one write, so on loopback they arrive
 * together and the outcome does not depend on timing. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

static void url(char* buf, size_t cap, weft_server_t* srv, const char* path) {
  snprintf(buf, cap, "http://127.0.0.1:%u%s", weft_server_port(srv), path);
}

static int starts(const char* s, const char* prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* ---- Stray bytes after a response ---------------------------------------- */

static atomic_int g_conns;

/* /extra: a framed body and one byte more; /nocontent: 204 and then bytes;
 * anything else: a clean response. */
static int sloppy_server(weft_stream_t* s, void* arg) {
  char head[2048], path[256], out[256];
  ptrdiff_t n;
  (void)arg;
  /* seq_cst: a counter the handlers share; nothing else hangs on it. */
  int conn = atomic_fetch_add(&g_conns, 1) + 1;
  for (int nreq = 1; (n = weft_stream_readuntil(s, "\r\n\r\n", 4, head,
                                                sizeof(head) - 1)) > 0;
       nreq++) {
    head[n] = '\0';
    if (sscanf(head, "%*s %255s", path) != 1)
      return 0;
    int len;
    if (strcmp(path, "/extra") == 0)
      len = snprintf(out, sizeof(out),
                     "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nc%dr%dX",
                     conn, nreq);
    else if (strcmp(path, "/nocontent") == 0)
      len = snprintf(out, sizeof(out),
                     "HTTP/1.1 204 No Content\r\n\r\n"
                     "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nc%dr%d",
                     conn, nreq);
    else if (strcmp(path, "/crlf100") == 0)
      len = snprintf(out, sizeof(out),
                     "HTTP/1.1 100 Continue\r\n\r\n\r\n"
                     "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nc%dr%d",
                     conn, nreq);
    else
      len = snprintf(out, sizeof(out),
                     "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nc%dr%d", conn,
                     nreq);
    if (weft_stream_write(s, out, (size_t)len) != 0)
      return 0;
  }
  return 0;
}

/* GETs path and checks the body (NULL: no check) and status. */
static void get_expect(weft_http_client_t* c, weft_server_t* srv,
                       const char* path, int status, const char* body) {
  char u[128];
  weft_http_response_t r;
  url(u, sizeof(u), srv, path);
  if (!WEFT_EXPECT_OK(weft_http_get(c, u, &r)))
    return;
  WEFT_EXPECT_EQ(r.status, status);
  if (body != NULL && !WEFT_EXPECT(strcmp(r.body, body) == 0))
    fprintf(stderr, "%s: got body \"%s\", want \"%s\"\n", path, r.body, body);
  weft_http_response_free(&r);
}

static int leftover_main(void* arg, void** result) {
  weft_server_t* srv;
  weft_http_client_t* c;
  (void)arg;
  (void)result;
  atomic_store(&g_conns, 0); /* seq_cst: before any connection */
  WEFT_EXPECT_OK(
      weft_tcp_serve("127.0.0.1", 0, sloppy_server, NULL, NULL, &srv));
  WEFT_EXPECT_OK(weft_http_client_new(NULL, &c));
  /* A clean exchange pools its connection: the next one reuses it. */
  get_expect(c, srv, "/plain", 200, "c1r1");
  get_expect(c, srv, "/plain", 200, "c1r2");
  /* One byte past the body: the connection is dropped, never reused. */
  get_expect(c, srv, "/extra", 200, "c1r3");
  get_expect(c, srv, "/plain", 200, "c2r1");
  /* A 204 has no body; what follows it is not the next answer. */
  get_expect(c, srv, "/nocontent", 204, "");
  get_expect(c, srv, "/plain", 200, "c3r1");
  /* A CRLF after 100 Continue is skipped, and the connection is clean. */
  get_expect(c, srv, "/crlf100", 200, "c3r2");
  get_expect(c, srv, "/plain", 200, "c3r3");
  WEFT_EXPECT_OK(weft_http_client_free(c));
  WEFT_EXPECT_OK(weft_server_close(srv));
  return 0;
}

static void
test_client_never_reuses_a_connection_with_stray_bytes(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(2, leftover_main, NULL, NULL));
}

/* ---- Deadlines ------------------------------------------------------------
 */

/* Reads the request, then waits until the client goes. */
static int mute_server(weft_stream_t* s, void* arg) {
  char buf[2048];
  (void)arg;
  while (weft_stream_read(s, buf, sizeof(buf)) > 0) {
  }
  return 0;
}

/* Answers every request with 100 Continue, again and again, until the
 * client goes (the sleep only paces the stream). */
static int continue_server(weft_stream_t* s, void* arg) {
  char buf[2048];
  (void)arg;
  if (weft_stream_readuntil(s, "\r\n\r\n", 4, buf, sizeof(buf)) <= 0)
    return 0;
  while (weft_stream_write(s, "HTTP/1.1 100 Continue\r\n\r\n", 25) == 0 &&
         weft_stream_drain(s) == 0 && weft_sleep_ms(1) == 0) {
  }
  return 0;
}

/* Sends a head promising a body, then a byte at a time, slowly, forever. */
static int trickle_server(weft_stream_t* s, void* arg) {
  char buf[2048];
  const char* head = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n";
  (void)arg;
  if (weft_stream_readuntil(s, "\r\n\r\n", 4, buf, sizeof(buf)) <= 0)
    return 0;
  int err = weft_stream_write(s, head, strlen(head));
  while (err == 0 && (err = weft_stream_write(s, "z", 1)) == 0 &&
         weft_sleep_ms(2) == 0) {
  }
  return 0;
}

static int expect_timeout(weft_conn_fn server,
                          const weft_http_client_config_t* cfg) {
  weft_server_t* srv;
  weft_http_client_t* c;
  weft_http_response_t r;
  char u[128];
  WEFT_EXPECT_OK(weft_tcp_serve("127.0.0.1", 0, server, NULL, NULL, &srv));
  WEFT_EXPECT_OK(weft_http_client_new(cfg, &c));
  url(u, sizeof(u), srv, "/");
  int err = weft_http_get(c, u, &r);
  WEFT_EXPECT(r.body == NULL && r.nheaders == 0);
  WEFT_EXPECT_OK(weft_http_client_free(c));
  WEFT_EXPECT_OK(weft_server_close(srv));
  return err;
}

static int deadlines_main(void* arg, void** result) {
  (void)arg;
  (void)result;
  /* The head deadline: a server that never answers, and one that answers
   * 100 Continue for ever. */
  weft_http_client_config_t head = {.head_timeout_ms = 50};
  WEFT_EXPECT_ERR(expect_timeout(mute_server, &head), WEFT_ETIMEDOUT);
  WEFT_EXPECT_ERR(expect_timeout(continue_server, &head), WEFT_ETIMEDOUT);
  /* The whole-request deadline: a body that never ends. */
  weft_http_client_config_t whole = {.timeout_ms = 60};
  WEFT_EXPECT_ERR(expect_timeout(trickle_server, &whole), WEFT_ETIMEDOUT);
  /* Turned off, the head deadline does not end an answer that comes. */
  weft_http_client_config_t off = {.head_timeout_ms = WEFT_HTTP_NO_TIMEOUT,
                                   .timeout_ms = WEFT_HTTP_NO_TIMEOUT,
                                   .connect_timeout_ms = WEFT_HTTP_NO_TIMEOUT};
  weft_server_t* srv;
  weft_http_client_t* c;
  atomic_store(&g_conns, 0); /* seq_cst: before any connection */
  WEFT_EXPECT_OK(
      weft_tcp_serve("127.0.0.1", 0, sloppy_server, NULL, NULL, &srv));
  WEFT_EXPECT_OK(weft_http_client_new(&off, &c));
  get_expect(c, srv, "/plain", 200, "c1r1");
  WEFT_EXPECT_OK(weft_http_client_free(c));
  WEFT_EXPECT_OK(weft_server_close(srv));
  return 0;
}

static void test_client_deadlines(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(2, deadlines_main, NULL, NULL));
}

/* ---- The server's parser on a live connection -----------------------------
 */

static int hello(const weft_http_request_t* req, weft_http_response_t* resp,
                 void* arg) {
  char body[300];
  (void)arg;
  int n = snprintf(body, sizeof(body), "%s %s|%s", req->method, req->target,
                   req->body != NULL ? req->body : "");
  return weft_http_response_set(resp, 200, "text/plain", body, (size_t)n);
}

/* Sends req on a new connection, half-closes, reads until the server
 * closes. */
static void raw(weft_server_t* srv, const char* req, char* out, size_t cap) {
  weft_stream_t* s;
  size_t got = 0;
  ptrdiff_t n;
  out[0] = '\0';
  if (!WEFT_EXPECT_OK(weft_tcp_connect("127.0.0.1", weft_server_port(srv), &s)))
    return;
  /* A server that refuses or fails the request may have closed already. */
  weft_stream_write(s, req, strlen(req));
  weft_stream_shutdown(s);
  while (got + 1 < cap &&
         (n = weft_stream_read(s, out + got, cap - 1 - got)) > 0)
    got += (size_t)n;
  out[got] = '\0';
  weft_stream_close(s);
}

static int count(const char* s, const char* what) {
  int n = 0;
  for (const char* p = s; (p = strstr(p, what)) != NULL; p += strlen(what))
    n++;
  return n;
}

static int server_edges_main(void* arg, void** result) {
  weft_server_t* srv;
  char out[4096];
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_http_serve("127.0.0.1", 0, hello, NULL, NULL, &srv));

  /* An extra CRLF after a body, then the next request: both served. */
  raw(srv,
      "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi\r\n"
      "GET /b HTTP/1.1\r\nHost: h\r\n\r\n",
      out, sizeof(out));
  WEFT_EXPECT_EQ(count(out, "HTTP/1.1 200 OK"), 2);
  WEFT_EXPECT(strstr(out, "POST /a|hi") != NULL);
  WEFT_EXPECT(strstr(out, "GET /b|") != NULL);

  /* Two empty lines before a request (RFC 9112 2.2): skipped. */
  raw(srv,
      "GET /a HTTP/1.1\r\nHost: h\r\n\r\n\r\n\r\n"
      "GET /c HTTP/1.1\r\nHost: h\r\n\r\n",
      out, sizeof(out));
  WEFT_EXPECT_EQ(count(out, "HTTP/1.1 200 OK"), 2);
  WEFT_EXPECT(strstr(out, "GET /c|") != NULL);

  /* HTTP/1.0 with chunked framing: answered, then the connection closes;
   * the request pipelined behind it is not served (RFC 9112 6.1). */
  raw(srv,
      "POST /d HTTP/1.0\r\nConnection: keep-alive\r\n"
      "Transfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"
      "GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n",
      out, sizeof(out));
  WEFT_EXPECT(starts(out, "HTTP/1.1 200 OK\r\n"));
  WEFT_EXPECT(strstr(out, "Connection: close\r\n") != NULL);
  WEFT_EXPECT(strstr(out, "POST /d|hi") != NULL);
  WEFT_EXPECT(strstr(out, "smuggled") == NULL);
  WEFT_EXPECT_EQ(count(out, "HTTP/1.1 "), 1);

  /* Refused: a chunk size with a trailing space, a Host with a space. */
  raw(srv,
      "POST /e HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "2 \r\nhi\r\n0\r\n\r\n",
      out, sizeof(out));
  WEFT_EXPECT(starts(out, "HTTP/1.1 400 "));
  raw(srv, "GET /f HTTP/1.1\r\nHost: a b\r\n\r\n", out, sizeof(out));
  WEFT_EXPECT(starts(out, "HTTP/1.1 400 "));

  WEFT_EXPECT_OK(weft_server_close(srv));
  return 0;
}

static void test_server_parser_edges(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(2, server_edges_main, NULL, NULL));
}

/* ---- Server limits: the connection cap, streamed bodies ------------------ */

typedef struct {
  weft_event_t* release; /* /hold waits for it */
  atomic_int holding;    /* handlers inside /hold */
} limits_t;

/* /hold: waits for the test's event. /count: reads a streamed body to its
 * end and answers with the byte count and whether it was streamed.
 * /ignore: answers without reading the body. */
static int limits_app(const weft_http_request_t* req,
                      weft_http_response_t* resp, void* arg) {
  limits_t* l = arg;
  char out[96];
  if (strcmp(req->target, "/hold") == 0) {
    atomic_fetch_add(&l->holding, 1); /* seq_cst: a flag the test polls */
    int err = weft_event_wait(l->release);
    atomic_fetch_sub(&l->holding, 1); /* seq_cst: as above */
    if (err != 0)
      return err;
  }
  if (strcmp(req->target, "/count") == 0) {
    char buf[3000];
    size_t total = 0;
    ptrdiff_t n;
    uint32_t sum = 0;
    while ((n = weft_http_request_read(req, buf, sizeof(buf))) > 0) {
      for (ptrdiff_t i = 0; i < n; i++)
        sum = sum * 31 + (unsigned char)buf[i];
      total += (size_t)n;
    }
    int len = snprintf(out, sizeof(out), "%zu %s %u %d", total,
                       req->body == NULL ? "streamed" : "whole", sum, (int)n);
    return weft_http_response_set(resp, 200, NULL, out, (size_t)len);
  }
  return weft_http_response_set(resp, 200, NULL, "ok", 2);
}

static weft_http_server_stats_t stats_of(weft_server_t* srv) {
  weft_http_server_stats_t st;
  memset(&st, 0, sizeof(st));
  WEFT_EXPECT_OK(weft_http_server_stats(srv, &st));
  return st;
}

static uint64_t open_conns(weft_server_t* srv) {
  return stats_of(srv).conns;
}

/* A request on a fresh connection: the response's first line. */
static void one_request(weft_server_t* srv, const char* req, char* out,
                        size_t cap) {
  raw(srv, req, out, cap);
  char* eol = strstr(out, "\r\n");
  if (eol != NULL)
    *eol = '\0';
}

static int conn_cap_main(void* arg, void** result) {
  weft_server_t* srv;
  weft_stream_t *idle1, *idle2, *busy;
  limits_t l = {.holding = 0};
  char out[512];
  (void)arg;
  (void)result;
  weft_http_server_config_t cfg = {.max_conns = 2};
  WEFT_EXPECT_OK(weft_event_new(&l.release));
  WEFT_EXPECT_OK(weft_http_serve("127.0.0.1", 0, limits_app, &l, &cfg, &srv));
  unsigned port = weft_server_port(srv);
  /* Two connections that send nothing fill the server. */
  WEFT_EXPECT_OK(weft_tcp_connect("127.0.0.1", port, &idle1));
  WEFT_YIELD_UNTIL(open_conns(srv) == 1);
  WEFT_EXPECT_OK(weft_tcp_connect("127.0.0.1", port, &idle2));
  WEFT_YIELD_UNTIL(open_conns(srv) == 2);
  /* A fresh client still gets in: the longest idle connection goes. */
  one_request(srv, "GET /a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
              out, sizeof(out));
  WEFT_EXPECT(strcmp(out, "HTTP/1.1 200 OK") == 0);
  WEFT_EXPECT_EQ(weft_stream_read(idle1, out, sizeof(out)), 0);
  WEFT_EXPECT_EQ(stats_of(srv).evicted, 1);
  weft_stream_close(idle1);
  /* Both places busy (one request held in the handler each): refused. */
  WEFT_YIELD_UNTIL(open_conns(srv) == 1);
  const char* hold = "GET /hold HTTP/1.1\r\nHost: h\r\n\r\n";
  WEFT_EXPECT_OK(weft_stream_write(idle2, hold, strlen(hold)));
  WEFT_EXPECT_OK(weft_tcp_connect("127.0.0.1", port, &busy));
  WEFT_EXPECT_OK(weft_stream_write(busy, hold, strlen(hold)));
  /* seq_cst: polled flag. */
  WEFT_YIELD_UNTIL(atomic_load(&l.holding) == 2);
  one_request(srv, "GET /b HTTP/1.1\r\nHost: h\r\n\r\n", out, sizeof(out));
  WEFT_EXPECT(strcmp(out, "HTTP/1.1 503 Service Unavailable") == 0);
  WEFT_EXPECT_EQ(stats_of(srv).refused, 1);
  WEFT_EXPECT_OK(weft_event_set(l.release));
  WEFT_EXPECT(weft_stream_read(idle2, out, sizeof(out)) > 0);
  WEFT_EXPECT(weft_stream_read(busy, out, sizeof(out)) > 0);
  weft_stream_close(idle2);
  weft_stream_close(busy);
  weft_http_server_stats_t st = stats_of(srv);
  WEFT_EXPECT_EQ(st.requests, 3);
  WEFT_EXPECT_ERR(weft_http_server_stats(NULL, &st), WEFT_EINVAL);
  WEFT_EXPECT_OK(weft_server_close(srv));
  weft_event_free(l.release);
  return 0;
}

static void test_server_connection_cap(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(2, conn_cap_main, NULL, NULL));
}

/* A body of n bytes, pseudo-random, and its checksum as /count makes it. */
static char* make_body(size_t n, uint32_t* sum) {
  char* p = malloc(n);
  uint32_t x = 12345;
  *sum = 0;
  for (size_t i = 0; i < n; i++) {
    x = x * 1103515245u + 12345u;
    p[i] = (char)(x >> 16);
    *sum = *sum * 31 + (unsigned char)p[i];
  }
  return p;
}

static int stream_body_main(void* arg, void** result) {
  weft_server_t* srv;
  weft_http_client_t* c;
  weft_http_response_t r;
  limits_t l = {.holding = 0};
  char u[128], want[96];
  uint32_t sum;
  (void)arg;
  (void)result;
  weft_http_server_config_t cfg = {.body_buffer_bytes = 1000,
                                   .max_body_bytes = 1 << 20};
  WEFT_EXPECT_OK(weft_event_new(&l.release));
  WEFT_EXPECT_OK(weft_http_serve("127.0.0.1", 0, limits_app, &l, &cfg, &srv));
  WEFT_EXPECT_OK(weft_http_client_new(NULL, &c));
  url(u, sizeof(u), srv, "/count");
  /* Under the buffer: whole. Over it: streamed, every byte in order. */
  size_t sizes[] = {0, 999, 1000, 1001, 300000};
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    char* body = make_body(sizes[i], &sum);
    WEFT_EXPECT_OK(
        weft_http_request(c, "POST", u, NULL, 0, body, sizes[i], &r));
    snprintf(want, sizeof(want), "%zu %s %u 0", sizes[i],
             sizes[i] > 1000 ? "streamed" : "whole", sum);
    if (!WEFT_EXPECT(strcmp(r.body, want) == 0))
      fprintf(stderr, "got \"%s\", want \"%s\"\n", r.body, want);
    weft_http_response_free(&r);
    free(body);
  }
  WEFT_EXPECT_OK(weft_http_client_free(c));

  char out[1024];
  /* Chunked past the buffer: the first bytes were read before the
   * handler, the rest streams; the handler sees them all. */
  char req[2048];
  char* p = req + sprintf(req, "POST /count HTTP/1.1\r\nHost: h\r\n"
                               "Transfer-Encoding: chunked\r\n\r\n");
  for (char ch = 'a'; ch <= 'b'; ch++) {
    p += sprintf(p, "258\r\n"); /* 600 bytes */
    memset(p, ch, 600);
    p += 600;
    p += sprintf(p, "\r\n");
  }
  sprintf(p, "0\r\n\r\n");
  raw(srv, req, out, sizeof(out));
  WEFT_EXPECT(strstr(out, "\r\n\r\n1200 streamed ") != NULL);

  /* Expect: 100-continue on a streamed body: the go comes only when the
   * handler reads; one that does not read answers without it, and the
   * connection closes (the client never sent the body). */
  raw(srv,
      "POST /ignore HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
      "Content-Length: 5000\r\n\r\n",
      out, sizeof(out));
  WEFT_EXPECT(starts(out, "HTTP/1.1 200 OK\r\n"));
  WEFT_EXPECT(strstr(out, "Connection: close\r\n") != NULL);
  WEFT_EXPECT(strstr(out, "100 Continue") == NULL);
  /* A body over max_body_bytes: 413 before the handler; a chunked one
   * going past it mid-stream: WEFT_ELIMIT in the handler. */
  raw(srv, "POST /count HTTP/1.1\r\nHost: h\r\nContent-Length: 2000000\r\n\r\n",
      out, sizeof(out));
  WEFT_EXPECT(starts(out, "HTTP/1.1 413 "));
  raw(srv,
      "POST /count HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "200000\r\n",
      out, sizeof(out));
  WEFT_EXPECT(starts(out, "HTTP/1.1 413 "));
  WEFT_EXPECT_OK(weft_server_close(srv));
  weft_event_free(l.release);
  return 0;
}

static void test_server_streams_large_bodies(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(2, stream_body_main, NULL, NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_client_never_reuses_a_connection_with_stray_bytes),
      cmocka_unit_test(test_client_deadlines),
      cmocka_unit_test(test_server_parser_edges),
      cmocka_unit_test(test_server_connection_cap),
      cmocka_unit_test(test_server_streams_large_bodies),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
