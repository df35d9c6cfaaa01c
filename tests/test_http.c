/* The HTTP/1.1 client and server in one runtime: round trips, keep-alive
 * reuse, chunked bodies both ways, error statuses for bad requests (and the
 * server serving on), client limits and timeouts, the retry of a pooled
 * connection the server closed, and many concurrent requests from several
 * workers through one client. Raw weft_stream clients and weft_tcp_serve
 * servers play the other side where the real one would be too polite. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

/* ---- A test server ------------------------------------------------------ */

typedef struct {
  weft_event_t* release; /* /slow waits for it */
  _Atomic int slow_entered;
} app_t;

/* The whole body: req->body, or read piece by piece when it is streamed
 * (over body_buffer_bytes). malloc'd; *len gets its length. */
static char* whole_body(const weft_http_request_t* req, size_t* len) {
  size_t cap = 4096, n = 0;
  char* p = malloc(cap);
  ptrdiff_t got;
  while ((got = weft_http_request_read(req, p + n, cap - n)) > 0) {
    n += (size_t)got;
    if (n == cap)
      p = realloc(p, cap *= 2);
  }
  WEFT_EXPECT_EQ(got, 0);
  *len = n;
  return p;
}

static int echo(const weft_http_request_t* req, weft_http_response_t* resp) {
  char head[512];
  const char* x = weft_http_request_header(req, "x-test");
  int n = snprintf(head, sizeof(head), "%s %s %s|", req->method, req->target,
                   x != NULL ? x : "-");
  size_t len;
  char* data = whole_body(req, &len);
  if (!WEFT_EXPECT(req->body != NULL || len > 1024 * 1024))
    fprintf(stderr, "body %p len %zu blen %zu\n", (void*)req->body, len,
            req->body_len);
  char* body = malloc((size_t)n + len + 1);
  memcpy(body, head, (size_t)n);
  memcpy(body + n, data, len);
  free(data);
  int err =
      weft_http_response_set(resp, 200, "text/plain", body, (size_t)n + len);
  free(body);
  if (err == 0)
    err = weft_http_response_add_header(resp, "X-Echo", "yes");
  return err;
}

static int app(const weft_http_request_t* req, weft_http_response_t* resp,
               void* arg) {
  app_t* a = arg;
  if (strcmp(req->target, "/missing") == 0)
    return weft_http_response_set(resp, 404, "text/plain", "no", 2);
  if (strcmp(req->target, "/fail") == 0)
    return -1;
  if (strcmp(req->target, "/len") == 0) {
    char len[32];
    int n = snprintf(len, sizeof(len), "%zu", req->body_len);
    return weft_http_response_set(resp, 200, NULL, len, (size_t)n);
  }
  if (strcmp(req->target, "/slow") == 0) {
    /* seq_cst: a flag the test polls; ordering is not needed. */
    atomic_store(&a->slow_entered, 1);
    int err = weft_event_wait(a->release);
    if (err != 0)
      return err;
  }
  return echo(req, resp);
}

static int serve(app_t* a, const weft_http_server_config_t* cfg,
                 weft_server_t** srv) {
  WEFT_EXPECT_OK(weft_event_new(&a->release));
  return weft_http_serve("127.0.0.1", 0, app, a, cfg, srv);
}

static void url(char* buf, size_t cap, weft_server_t* srv, const char* path) {
  snprintf(buf, cap, "http://127.0.0.1:%u%s", weft_server_port(srv), path);
}

static uint64_t accepted(weft_server_t* srv) {
  uint64_t n;
  weft_server_stats(srv, &n, NULL);
  return n;
}

/* Sends `req` on a new connection and reads until the server closes. */
static size_t raw(weft_server_t* srv, const char* req, size_t len, char* out,
                  size_t cap) {
  weft_stream_t* s;
  size_t got = 0;
  if (!WEFT_EXPECT_OK(weft_tcp_connect("127.0.0.1", weft_server_port(srv), &s)))
    return 0;
  WEFT_EXPECT_OK(weft_stream_write(s, req, len));
  ptrdiff_t n;
  while (got + 1 < cap &&
         (n = weft_stream_read(s, out + got, cap - 1 - got)) > 0)
    got += (size_t)n;
  out[got] = '\0';
  weft_stream_close(s);
  return got;
}

/* ---- Round trips -------------------------------------------------------- */

static int roundtrip_main(void* arg, void** result) {
  (void)arg;
  (void)result;
  app_t a = {0};
  weft_server_t* srv;
  weft_http_client_t* c;
  weft_http_response_t r;
  char u[128];
  WEFT_EXPECT_OK(serve(&a, NULL, &srv));
  WEFT_EXPECT_OK(weft_http_client_new(NULL, &c));

  url(u, sizeof(u), srv, "/a?b=c#frag");
  WEFT_EXPECT_OK(weft_http_get(c, u, &r));
  WEFT_EXPECT_EQ(r.status, 200);
  WEFT_EXPECT(strcmp(r.body, "GET /a?b=c -|") == 0);
  WEFT_EXPECT(strcmp(weft_http_response_header(&r, "x-echo"), "yes") == 0);
  WEFT_EXPECT(strcmp(weft_http_response_header(&r, "Content-Length"), "13") ==
              0);
  weft_http_response_free(&r);

  weft_http_header_t h[] = {{"X-Test", "t1"}};
  url(u, sizeof(u), srv, "/post");
  WEFT_EXPECT_OK(weft_http_request(c, "POST", u, h, 1, "data", 4, &r));
  WEFT_EXPECT_EQ(r.status, 200);
  WEFT_EXPECT(strcmp(r.body, "POST /post t1|data") == 0);
  weft_http_response_free(&r);

  url(u, sizeof(u), srv, "/x");
  WEFT_EXPECT_OK(weft_http_request(c, "HEAD", u, NULL, 0, NULL, 0, &r));
  WEFT_EXPECT_EQ(r.status, 200);
  WEFT_EXPECT_EQ(r.body_len, 0);
  WEFT_EXPECT(r.body != NULL && r.body[0] == '\0');
  WEFT_EXPECT(strcmp(weft_http_response_header(&r, "content-length"), "10") ==
              0);
  weft_http_response_free(&r);

  url(u, sizeof(u), srv, "/missing");
  WEFT_EXPECT_OK(weft_http_get(c, u, &r));
  WEFT_EXPECT_EQ(r.status, 404);
  WEFT_EXPECT(strcmp(r.body, "no") == 0);
  weft_http_response_free(&r);

  url(u, sizeof(u), srv, "/fail");
  WEFT_EXPECT_OK(weft_http_get(c, u, &r));
  WEFT_EXPECT_EQ(r.status, 500);
  weft_http_response_free(&r);

  /* A body far over the stream's read-ahead limit, both ways. */
  size_t big = 3u * 1024 * 1024;
  char* body = malloc(big);
  memset(body, 'b', big);
  url(u, sizeof(u), srv, "/big");
  WEFT_EXPECT_OK(weft_http_request(c, "PUT", u, NULL, 0, body, big, &r));
  WEFT_EXPECT_EQ(r.status, 200);
  WEFT_EXPECT_EQ(r.body_len, big + strlen("PUT /big -|"));
  weft_http_response_free(&r);
  free(body);

  /* One connection served all of that (keep-alive). */
  WEFT_EXPECT_EQ(accepted(srv), 1);
  WEFT_EXPECT_OK(weft_http_client_free(c));
  WEFT_EXPECT_OK(weft_server_close(srv));
  weft_event_free(a.release);
  return 0;
}

static void test_http_roundtrip(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(2, roundtrip_main, NULL, NULL));
}

static int keepalive_main(void* arg, void** result) {
  (void)arg;
  (void)result;
  app_t a = {0};
  weft_server_t* srv;
  weft_http_client_t* c;
  weft_http_response_t r;
  char u[128];
  WEFT_EXPECT_OK(serve(&a, NULL, &srv));
  WEFT_EXPECT_OK(weft_http_client_new(NULL, &c));
  url(u, sizeof(u), srv, "/k");
  for (int i = 0; i < 20; i++) {
    WEFT_EXPECT_OK(weft_http_get(c, u, &r));
    WEFT_EXPECT_EQ(r.status, 200);
    weft_http_response_free(&r);
  }
  WEFT_EXPECT_EQ(accepted(srv), 1);
  /* Connection: close from the caller: a new connection next time. */
  weft_http_header_t h[] = {{"Connection", "close"}};
  WEFT_EXPECT_OK(weft_http_request(c, "GET", u, h, 1, NULL, 0, &r));
  weft_http_response_free(&r);
  WEFT_EXPECT_OK(weft_http_get(c, u, &r));
  weft_http_response_free(&r);
  WEFT_EXPECT_EQ(accepted(srv), 2);
  WEFT_EXPECT_OK(weft_http_client_free(c));
  WEFT_EXPECT_OK(weft_server_close(srv));
  weft_event_free(a.release);
  return 0;
}

static void test_http_keepalive(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(3, keepalive_main, NULL, NULL));
}

/* ---- The server against raw clients ----------------------------------------
 */

static int starts(const char* s, const char* prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int raw_main(void* arg, void** result) {
  (void)arg;
  (void)result;
  app_t a = {0};
  weft_server_t* srv;
  weft_http_server_config_t cfg = {.max_header_bytes = 1024,
                                   .max_body_bytes = 4096};
  static char out[65536];
  WEFT_EXPECT_OK(serve(&a, &cfg, &srv));

  /* Chunked request body with extensions and trailers, then a pipelined
   * second request that closes. */
  const char* req =
      "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3;ext=1\r\nabc\r\n4\r\ndefg\r\n0\r\nX-Trailer: t\r\n\r\n"
      "GET /second HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
  raw(srv, req, strlen(req), out, sizeof(out));
  WEFT_EXPECT(starts(out, "HTTP/1.1 200 OK\r\n"));
  WEFT_EXPECT(strstr(out, "Content-Length: 17\r\n") != NULL);
  WEFT_EXPECT(strstr(out, "POST /c -|abcdefg") != NULL);
  WEFT_EXPECT(strstr(out, "GET /second -|") != NULL);
  WEFT_EXPECT(strstr(out, "Connection: close\r\n") != NULL);

  /* Expect: 100-continue gets its go before the body is read. */
  req = "POST /e HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
        "Content-Length: 2\r\nConnection: close\r\n\r\nhi";
  raw(srv, req, strlen(req), out, sizeof(out));
  WEFT_EXPECT(starts(out, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK"));
  WEFT_EXPECT(strstr(out, "POST /e -|hi") != NULL);

  /* HTTP/1.0 closes after one answer. */
  req = "GET /old HTTP/1.0\r\n\r\n";
  raw(srv, req, strlen(req), out, sizeof(out));
  WEFT_EXPECT(starts(out, "HTTP/1.1 200 OK\r\n"));

  static const struct {
    const char* req;
    const char* want;
  } bad[] = {
      {"GARBAGE\r\n\r\n", "HTTP/1.1 400 "},
      {"GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 400 "}, /* no Host */
      {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5000\r\n\r\n",
       "HTTP/1.1 413 "},
      {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
       "zz\r\n",
       "HTTP/1.1 400 "},
      {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
       "2000\r\n",
       "HTTP/1.1 413 "},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    raw(srv, bad[i].req, strlen(bad[i].req), out, sizeof(out));
    if (!WEFT_EXPECT(starts(out, bad[i].want)))
      fprintf(stderr, "case %zu got: %.40s\n", i, out);
  }

  /* A head over max_header_bytes: 431. */
  char big[4096];
  int n = snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: h\r\nX: ");
  memset(big + n, 'x', sizeof(big) - (size_t)n);
  raw(srv, big, sizeof(big), out, sizeof(out));
  WEFT_EXPECT(starts(out, "HTTP/1.1 431 "));

  /* The server goes on serving. */
  req = "GET /after HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
  raw(srv, req, strlen(req), out, sizeof(out));
  WEFT_EXPECT(starts(out, "HTTP/1.1 200 OK\r\n"));
  WEFT_EXPECT_OK(weft_server_close(srv));
  weft_event_free(a.release);
  return 0;
}

static void test_http_server_raw(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(2, raw_main, NULL, NULL));
}

static int idle_main(void* arg, void** result) {
  (void)arg;
  (void)result;
  app_t a = {0};
  weft_server_t* srv;
  weft_http_server_config_t cfg = {.idle_timeout_ms = 20,
                                   .head_timeout_ms = 20};
  weft_stream_t* s;
  char buf[256];
  WEFT_EXPECT_OK(serve(&a, &cfg, &srv));
  WEFT_EXPECT_OK(weft_tcp_connect("127.0.0.1", weft_server_port(srv), &s));
  /* Nothing sent: the server gives up on the connection. */
  WEFT_EXPECT_EQ(weft_stream_read(s, buf, sizeof(buf)), 0);
  weft_stream_close(s);
  /* A head that stops coming: 408 once the head deadline passes. */
  const char* head = "GET / HTTP/1.1\r\nHo";
  WEFT_EXPECT_OK(weft_tcp_connect("127.0.0.1", weft_server_port(srv), &s));
  WEFT_EXPECT_OK(weft_stream_write(s, head, strlen(head)));
  WEFT_EXPECT(weft_stream_read(s, buf, sizeof(buf)) > 0);
  WEFT_EXPECT(strncmp(buf, "HTTP/1.1 408 ", 13) == 0);
  weft_stream_close(s);
  /* A body that stops coming: 408 once it falls below the minimum rate
   * (after the 5 s grace). */
  const char* part = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n"
                     "\r\nabc";
  WEFT_EXPECT_OK(weft_tcp_connect("127.0.0.1", weft_server_port(srv), &s));
  WEFT_EXPECT_OK(weft_stream_write(s, part, strlen(part)));
  WEFT_EXPECT(weft_stream_read(s, buf, sizeof(buf)) > 0);
  WEFT_EXPECT(strncmp(buf, "HTTP/1.1 408 ", 13) == 0);
  weft_stream_close(s);
  WEFT_EXPECT_OK(weft_server_close(srv));
  weft_event_free(a.release);
  return 0;
}

static void test_http_server_idle_timeout(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(1, idle_main, NULL, NULL));
}

/* ---- The client against a raw server ------------------------------------- */

typedef struct {
  const char* path;
  const char* resp; /* sent whole; NULL: close without answering */
  int close_after;
} canned_t;

static const canned_t kCanned[] = {
    {"/chunked",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
     "5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nT: v\r\n\r\n",
     0},
    {"/eof", "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end", 1},
    {"/continue",
     "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
     "\r\nok",
     0},
    {"/garbage", "SSH-2.0-OpenSSH_9.6\r\n\r\n", 1},
    {"/badchunk",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n", 1},
    {"/bigbody", "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n", 1},
    {"/truncated", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 1},
    {"/ok", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0},
};

/* Answers from kCanned; /retry is answered on a connection's first request
 * only: the second makes it close without a word (the race a keep-alive
 * client must survive). /bighead sends a head over 1 KiB. */
static int canned_server(weft_stream_t* s, void* arg) {
  (void)arg;
  char head[4096], path[256];
  ptrdiff_t n;
  for (int nreq = 1; (n = weft_stream_readuntil(s, "\r\n\r\n", 4, head,
                                                sizeof(head) - 1)) > 0;
       nreq++) {
    head[n] = '\0';
    if (sscanf(head, "%*s %255s", path) != 1)
      return 0;
    if (strcmp(path, "/retry") == 0 || strcmp(path, "/retry-post") == 0) {
      if (nreq > 1)
        return 0;
      strcpy(path, "/ok");
    }
    if (strcmp(path, "/bighead") == 0) {
      char big[2048];
      memset(big, 'a', sizeof(big));
      weft_stream_write(s, "HTTP/1.1 200 OK\r\nX: ", 20);
      weft_stream_write(s, big, sizeof(big));
      weft_stream_write(s, "\r\n\r\n", 4);
      return 0;
    }
    for (size_t i = 0; i < sizeof(kCanned) / sizeof(kCanned[0]); i++) {
      if (strcmp(path, kCanned[i].path) != 0)
        continue;
      weft_stream_write(s, kCanned[i].resp, strlen(kCanned[i].resp));
      if (strcmp(path, "/bigbody") == 0) {
        char body[5000];
        memset(body, 'z', sizeof(body));
        weft_stream_write(s, body, sizeof(body));
      }
      if (kCanned[i].close_after)
        return 0;
    }
  }
  return 0;
}

static int client_main(void* arg, void** result) {
  (void)arg;
  (void)result;
  weft_server_t* srv;
  weft_http_client_t* c;
  weft_http_response_t r;
  char u[128];
  weft_http_client_config_t cfg = {.max_header_bytes = 1024,
                                   .max_body_bytes = 1024};
  WEFT_EXPECT_OK(
      weft_tcp_serve("127.0.0.1", 0, canned_server, NULL, NULL, &srv));
  WEFT_EXPECT_OK(weft_http_client_new(&cfg, &c));

  url(u, sizeof(u), srv, "/chunked");
  WEFT_EXPECT_OK(weft_http_get(c, u, &r));
  WEFT_EXPECT(strcmp(r.body, "hello world") == 0);
  WEFT_EXPECT_EQ(r.body_len, 11);
  weft_http_response_free(&r);

  url(u, sizeof(u), srv, "/eof");
  WEFT_EXPECT_OK(weft_http_get(c, u, &r));
  WEFT_EXPECT(strcmp(r.body, "until the end") == 0);
  weft_http_response_free(&r);

  url(u, sizeof(u), srv, "/continue");
  WEFT_EXPECT_OK(weft_http_get(c, u, &r));
  WEFT_EXPECT_EQ(r.status, 200);
  WEFT_EXPECT(strcmp(r.body, "ok") == 0);
  weft_http_response_free(&r);

  static const struct {
    const char* path;
    int err;
  } bad[] = {{"/garbage", WEFT_EPROTO},
             {"/badchunk", WEFT_EPROTO},
             {"/bigbody", WEFT_ELIMIT},
             {"/bighead", WEFT_ELIMIT},
             {"/truncated", WEFT_EOF}};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    url(u, sizeof(u), srv, bad[i].path);
    WEFT_EXPECT_ERR(weft_http_get(c, u, &r), bad[i].err);
    WEFT_EXPECT(r.body == NULL && r.nheaders == 0);
  }

  /* A pooled connection the server closes as we send: GET is retried on
   * a fresh connection, POST is not. */
  uint64_t before = accepted(srv);
  url(u, sizeof(u), srv, "/retry");
  WEFT_EXPECT_OK(weft_http_get(c, u, &r)); /* pools the connection */
  weft_http_response_free(&r);
  WEFT_EXPECT_OK(weft_http_get(c, u, &r)); /* closed, retried */
  WEFT_EXPECT_EQ(r.status, 200);
  weft_http_response_free(&r);
  WEFT_EXPECT_EQ(accepted(srv), before + 2);
  url(u, sizeof(u), srv, "/retry-post");
  WEFT_EXPECT_ERR(weft_http_request(c, "POST", u, NULL, 0, "x", 1, &r),
                  WEFT_EOF);

  WEFT_EXPECT_OK(weft_http_client_free(c));
  WEFT_EXPECT_OK(weft_server_close(srv));
  return 0;
}

static void test_http_client_raw(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(2, client_main, NULL, NULL));
}

/* ---- Timeouts, busy free, arguments ---------------------------------------
 */

typedef struct {
  weft_http_client_t* c;
  const char* url;
  int status;
} get_t;

static int get_task(void* arg, void** result) {
  (void)result;
  get_t* g = arg;
  weft_http_response_t r;
  int err = weft_http_get(g->c, g->url, &r);
  g->status = r.status;
  weft_http_response_free(&r);
  return err;
}

static int timeout_main(void* arg, void** result) {
  (void)arg;
  (void)result;
  app_t a = {0};
  weft_server_t* srv;
  weft_http_client_t *c, *slow;
  weft_http_response_t r;
  char u[128];
  WEFT_EXPECT_OK(serve(&a, NULL, &srv));
  weft_http_client_config_t cfg = {.timeout_ms = 50};
  WEFT_EXPECT_OK(weft_http_client_new(&cfg, &c));
  url(u, sizeof(u), srv, "/slow");
  WEFT_EXPECT_ERR(weft_http_get(c, u, &r), WEFT_ETIMEDOUT);
  WEFT_EXPECT(r.body == NULL);
  /* The client still works after a timeout. */
  url(u, sizeof(u), srv, "/quick");
  WEFT_EXPECT_OK(weft_http_get(c, u, &r));
  WEFT_EXPECT_EQ(r.status, 200);
  weft_http_response_free(&r);
  WEFT_EXPECT_OK(weft_http_client_free(c));

  /* Freeing a client with a request in flight: WEFT_EBUSY. */
  /* seq_cst: polled flag (the timed-out request set it already). */
  atomic_store(&a.slow_entered, 0);
  WEFT_EXPECT_OK(weft_http_client_new(NULL, &slow));
  url(u, sizeof(u), srv, "/slow");
  get_t g = {slow, u, 0};
  weft_task_t* t;
  WEFT_EXPECT_OK(weft_spawn(NULL, get_task, &g, NULL, &t));
  /* seq_cst: polled flag. */
  WEFT_EXPECT_OK(WEFT_YIELD_UNTIL(atomic_load(&a.slow_entered) == 1));
  WEFT_EXPECT_ERR(weft_http_client_free(slow), WEFT_EBUSY);
  WEFT_EXPECT_OK(weft_event_set(a.release));
  WEFT_EXPECT_OK(weft_await(t, NULL));
  weft_task_release(t);
  WEFT_EXPECT_EQ(g.status, 200);
  WEFT_EXPECT_OK(weft_http_client_free(slow));
  WEFT_EXPECT_OK(weft_server_close(srv));
  weft_event_free(a.release);
  return 0;
}

static void test_http_timeout(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(2, timeout_main, NULL, NULL));
}

static int args_main(void* arg, void** result) {
  (void)arg;
  (void)result;
  weft_http_client_t* c;
  weft_http_response_t r;
  WEFT_EXPECT_OK(weft_http_client_new(NULL, &c));
  static const char* const bad_urls[] = {
      "ftp://x/",     "https://",        "http://",      "http:///x",
      "http://h:0/",  "http://h:65536/", "http://h:x/",  "http://u@h/",
      "http://[::1/", "http://h/a b",    "127.0.0.1:80",
  };
  for (size_t i = 0; i < sizeof(bad_urls) / sizeof(bad_urls[0]); i++)
    WEFT_EXPECT_ERR(weft_http_get(c, bad_urls[i], &r), WEFT_EINVAL);
  const char* u = "http://127.0.0.1:1/";
  weft_http_header_t crlf[] = {{"X", "a\r\nInjected: 1"}};
  weft_http_header_t colon[] = {{"X:Y", "a"}};
  WEFT_EXPECT_ERR(weft_http_request(c, "GET", u, crlf, 1, NULL, 0, &r),
                  WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_http_request(c, "GET", u, colon, 1, NULL, 0, &r),
                  WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_http_request(c, "G T", u, NULL, 0, NULL, 0, &r),
                  WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_http_request(c, NULL, u, NULL, 0, NULL, 0, &r),
                  WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_http_request(c, "POST", u, NULL, 0, NULL, 3, &r),
                  WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_http_get(NULL, u, &r), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_http_get(c, NULL, &r), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_http_get(c, u, NULL), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_http_serve("127.0.0.1", 0, NULL, NULL, NULL, NULL),
                  WEFT_EINVAL);
  WEFT_EXPECT_OK(weft_http_client_free(c));
  WEFT_EXPECT_OK(weft_http_client_free(NULL));
  return 0;
}

static void test_http_args(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, args_main, NULL, NULL));
  weft_http_client_t* c;
  WEFT_ASSERT_ERR(weft_http_client_new(NULL, NULL), WEFT_EINVAL);
  WEFT_ASSERT_OK(weft_http_client_new(NULL, &c));
  weft_http_response_t r;
  WEFT_ASSERT_ERR(weft_http_get(c, "http://h/", &r), WEFT_ENOTTASK);
  /* Not from a task: the free fails and the client stays; free it in one. */
  WEFT_ASSERT_ERR(weft_http_client_free(c), WEFT_ENOTTASK);
  free(c); /* nothing pooled, no host entries: a plain block */
}

static void test_http_response_helpers(void** state) {
  (void)state;
  weft_http_response_t r = {0};
  assert_int_equal(weft_http_response_set(&r, 201, "text/plain", "hi", 2), 0);
  assert_int_equal(r.status, 201);
  assert_string_equal(r.body, "hi");
  assert_int_equal(weft_http_response_add_header(&r, "X-A", "1"), 0);
  assert_int_equal(weft_http_response_add_header(&r, "X:B", "1"), WEFT_EINVAL);
  assert_int_equal(weft_http_response_add_header(&r, "X-B", "1\n2"),
                   WEFT_EINVAL);
  assert_int_equal(weft_http_response_add_header(&r, "", "1"), WEFT_EINVAL);
  assert_int_equal(weft_http_response_add_header(NULL, "A", "1"), WEFT_EINVAL);
  assert_string_equal(weft_http_response_header(&r, "content-type"),
                      "text/plain");
  assert_string_equal(weft_http_response_header(&r, "x-a"), "1");
  assert_null(weft_http_response_header(&r, "x-b"));
  assert_int_equal(weft_http_response_set(&r, 200, NULL, NULL, 0), 0);
  assert_string_equal(r.body, "");
  assert_int_equal(weft_http_response_set(&r, 42, NULL, NULL, 0), WEFT_EINVAL);
  weft_http_response_free(&r);
  assert_null(r.body);
  assert_int_equal(r.nheaders, 0);
  weft_http_response_free(NULL);
  weft_http_request_t req = {0};
  assert_null(weft_http_request_header(&req, "x"));
}

/* ---- Concurrency ------------------------------------------------------------
 */

#define kConcurrent 200

static int concurrency_main(void* arg, void** result) {
  (void)arg;
  (void)result;
  app_t a = {0};
  weft_server_t* srv;
  weft_http_client_t* c;
  char u[128];
  WEFT_EXPECT_OK(serve(&a, NULL, &srv));
  weft_http_client_config_t cfg = {.max_conns_per_host = 8};
  WEFT_EXPECT_OK(weft_http_client_new(&cfg, &c));
  url(u, sizeof(u), srv, "/many");
  static get_t g[kConcurrent];
  static weft_task_t* t[kConcurrent];
  for (int i = 0; i < kConcurrent; i++) {
    g[i] = (get_t){c, u, 0};
    WEFT_EXPECT_OK(weft_spawn(NULL, get_task, &g[i], NULL, &t[i]));
  }
  for (int i = 0; i < kConcurrent; i++) {
    WEFT_EXPECT_OK(weft_await(t[i], NULL));
    WEFT_EXPECT_EQ(g[i].status, 200);
    weft_task_release(t[i]);
  }
  uint64_t n = accepted(srv);
  WEFT_EXPECT(n >= 1 && n <= 8);
  WEFT_EXPECT_OK(weft_http_client_free(c));
  WEFT_EXPECT_OK(weft_server_close(srv));
  weft_event_free(a.release);
  return 0;
}

static void test_http_concurrency(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(4, concurrency_main, NULL, NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_http_roundtrip),
      cmocka_unit_test(test_http_keepalive),
      cmocka_unit_test(test_http_server_raw),
      cmocka_unit_test(test_http_server_idle_timeout),
      cmocka_unit_test(test_http_client_raw),
      cmocka_unit_test(test_http_timeout),
      cmocka_unit_test(test_http_args),
      cmocka_unit_test(test_http_response_helpers),
      cmocka_unit_test(test_http_concurrency),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
