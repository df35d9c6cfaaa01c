/* The HTTP client's redirects, streamed bodies both ways and per-host
 * queueing, against a local weft HTTP server: method and body rules per
 * status, relative Locations (and the RFC 3986 resolution table), the
 * credentials a cross-host hop drops, the bound on hops, the final URL; a
 * response body larger than max_body_bytes read as a stream; request
 * bodies pulled from a source, chunked or with a length. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "http/http_client.h"

/* ---- Resolving a Location --------------------------------------------- */

static void test_resolve_rfc3986_examples(void** state) {
  (void)state;
  static const char* const kBase = "http://a/b/c/d;p?q";
  static const char* const kCases[][2] = {
      {"g", "http://a/b/c/g"},
      {"./g", "http://a/b/c/g"},
      {"g/", "http://a/b/c/g/"},
      {"/g", "http://a/g"},
      {"//g", "http://g"},
      {"?y", "http://a/b/c/d;p?y"},
      {"g?y", "http://a/b/c/g?y"},
      {"#s", "http://a/b/c/d;p?q"},
      {"g#s", "http://a/b/c/g"},
      {"g?y#s", "http://a/b/c/g?y"},
      {";x", "http://a/b/c/;x"},
      {"", "http://a/b/c/d;p?q"},
      {".", "http://a/b/c/"},
      {"./", "http://a/b/c/"},
      {"..", "http://a/b/"},
      {"../", "http://a/b/"},
      {"../g", "http://a/b/g"},
      {"../..", "http://a/"},
      {"../../", "http://a/"},
      {"../../g", "http://a/g"},
      {"../../../g", "http://a/g"},
      {"../../../../g", "http://a/g"},
      {"/./g", "http://a/g"},
      {"/../g", "http://a/g"},
      {"g.", "http://a/b/c/g."},
      {".g", "http://a/b/c/.g"},
      {"g..", "http://a/b/c/g.."},
      {"..g", "http://a/b/c/..g"},
      {"./../g", "http://a/b/g"},
      {"./g/.", "http://a/b/c/g/"},
      {"g/./h", "http://a/b/c/g/h"},
      {"g/../h", "http://a/b/c/h"},
      {"g;x=1/./y", "http://a/b/c/g;x=1/y"},
      {"g;x=1/../y", "http://a/b/c/y"},
      {"HTTPS://x:8/y", "HTTPS://x:8/y"},
  };
  for (size_t i = 0; i < sizeof(kCases) / sizeof(kCases[0]); i++) {
    char* out = NULL;
    assert_int_equal(weft__http_resolve_url(kBase, kCases[i][0], &out), 0);
    if (strcmp(out, kCases[i][1]) != 0)
      fail_msg("%s: got %s, want %s", kCases[i][0], out, kCases[i][1]);
    free(out);
  }
  char* out = NULL;
  assert_int_equal(weft__http_resolve_url("https://h:9", "x", &out), 0);
  assert_string_equal(out, "https://h:9/x");
  free(out);
  assert_int_equal(weft__http_resolve_url("https://h/a", "//o/p", &out), 0);
  assert_string_equal(out, "https://o/p");
  free(out);
  assert_int_equal(weft__http_resolve_url(kBase, "mailto:x@y", &out),
                   WEFT_EINVAL);
  assert_int_equal(weft__http_resolve_url(kBase, "ftp://x/", &out),
                   WEFT_EINVAL);
  assert_int_equal(weft__http_resolve_url(kBase, "a b", &out), WEFT_EINVAL);
}

/* ---- A server that redirects ------------------------------------------ */

/* The whole request body, read piece by piece. malloc'd. */
static char* whole_body(const weft_http_request_t* req, size_t* len) {
  size_t cap = 4096, n = 0;
  char* p = malloc(cap + 1);
  ptrdiff_t got;
  while ((got = weft_http_request_read(req, p + n, cap - n)) > 0) {
    n += (size_t)got;
    if (n == cap)
      p = realloc(p, (cap *= 2) + 1);
  }
  WEFT_EXPECT_EQ(got, 0);
  p[n] = '\0';
  *len = n;
  return p;
}

/* "METHOD target auth=A ctype=C len=N body=B" (B up to 64 bytes). */
static int echo(const weft_http_request_t* req, weft_http_response_t* resp) {
  const char* a = weft_http_request_header(req, "authorization");
  const char* ct = weft_http_request_header(req, "content-type");
  size_t len;
  char* body = whole_body(req, &len);
  char out[512];
  int n =
      snprintf(out, sizeof(out), "%s %s auth=%s ctype=%s len=%zu body=%.64s",
               req->method, req->target, a ? a : "-", ct ? ct : "-", len, body);
  free(body);
  return weft_http_response_set(resp, 200, "text/plain", out, (size_t)n);
}

static int redirect_to(weft_http_response_t* resp, int status,
                       const char* loc) {
  int err = weft_http_response_set(resp, status, "text/plain", "moved", 5);
  return err != 0 ? err : weft_http_response_add_header(resp, "Location", loc);
}

/* A large body of a known pattern, for the streaming tests. */
enum { kBigLen = 3 * 1024 * 1024 + 17 };

static char pattern(size_t i) {
  return (char)('a' + (i * 7 + i / 4096) % 26);
}

static int big(weft_http_response_t* resp) {
  char* p = malloc(kBigLen);
  for (size_t i = 0; i < kBigLen; i++)
    p[i] = pattern(i);
  int err =
      weft_http_response_set(resp, 200, "application/octet-stream", p, kBigLen);
  free(p);
  return err;
}

static weft_event_t* g_hold; /* /hold waits for it */

static int app(const weft_http_request_t* req, weft_http_response_t* resp,
               void* arg) {
  (void)arg;
  if (strcmp(req->target, "/hold") == 0 && weft_event_wait(g_hold) != 0)
    return WEFT_ECANCELED;
  const char* t = req->target;
  const char* host = weft_http_request_header(req, "host");
  char loc[256];
  if (strcmp(t, "/r301") == 0)
    return redirect_to(resp, 301, "/echo");
  if (strcmp(t, "/dir/r302") == 0)
    return redirect_to(resp, 302, "../echo");
  if (strcmp(t, "/r303") == 0)
    return redirect_to(resp, 303, "./echo?x=1#frag");
  if (strcmp(t, "/r307") == 0)
    return redirect_to(resp, 307, "echo");
  if (strcmp(t, "/r308") == 0) {
    snprintf(loc, sizeof(loc), "http://%s/echo", host);
    return redirect_to(resp, 308, loc);
  }
  if (strcmp(t, "/cross") == 0 || strcmp(t, "/back") == 0) {
    const char* port = strrchr(host, ':');
    snprintf(loc, sizeof(loc), "http://%s%s/%s",
             t[1] == 'c' ? "localhost" : "127.0.0.1", port,
             t[1] == 'c' ? "back" : "echo");
    return redirect_to(resp, 302, loc);
  }
  if (strcmp(t, "/loop") == 0)
    return redirect_to(resp, 302, "/loop");
  if (strcmp(t, "/ftp") == 0)
    return redirect_to(resp, 302, "ftp://example.com/");
  if (strncmp(t, "/chain/", 7) == 0 && atoi(t + 7) > 0) {
    snprintf(loc, sizeof(loc), "/chain/%d", atoi(t + 7) - 1);
    return redirect_to(resp, 302, loc);
  }
  if (strcmp(t, "/big") == 0)
    return big(resp);
  return echo(req, resp);
}

static weft_server_t* serve(void) {
  weft_server_t* srv = NULL;
  WEFT_EXPECT_OK(weft_http_serve("127.0.0.1", 0, app, NULL, NULL, &srv));
  return srv;
}

static char* url_of(weft_server_t* srv, const char* path) {
  static _Thread_local char buf[4][128];
  static _Thread_local int next;
  char* p = buf[next++ % 4];
  snprintf(p, sizeof(buf[0]), "http://127.0.0.1:%u%s", weft_server_port(srv),
           path);
  return p;
}

/* ---- Redirects -------------------------------------------------------- */

typedef struct {
  const char* method;
  const char* path;
  const char* want_body; /* prefix of the final response's body */
  const char* want_url;  /* suffix of resp.url */
} hop_case_t;

static int redirects_main(void* arg, void** result) {
  (void)arg, (void)result;
  weft_server_t* srv = serve();
  weft_http_client_t* c;
  WEFT_EXPECT_OK(weft_http_client_new(NULL, &c));
  static const hop_case_t kCases[] = {
      {"POST", "/r301", "GET /echo auth=secret ctype=- len=0 body=", "/echo"},
      {"POST", "/dir/r302", "GET /echo auth=secret ctype=- len=0", "/echo"},
      {"PUT", "/r303", "GET /echo?x=1 auth=secret ctype=- len=0", "/echo?x=1"},
      {"POST", "/r307", "POST /echo auth=secret ctype=text/x len=5 body=hello",
       "/echo"},
      {"PUT", "/r308", "PUT /echo auth=secret ctype=text/x len=5 body=hello",
       "/echo"},
      {"DELETE", "/r301", "GET /echo auth=secret", "/echo"},
      {"POST", "/cross", "GET /echo auth=- ctype=- len=0", "/echo"},
      {"GET", "/chain/10", "GET /chain/0 auth=secret", "/chain/0"},
  };
  weft_http_header_t hdr[] = {{"Authorization", "secret"},
                              {"Content-Type", "text/x"}};
  for (size_t i = 0; i < sizeof(kCases) / sizeof(kCases[0]); i++) {
    const hop_case_t* k = &kCases[i];
    weft_http_response_t r;
    int err = weft_http_request(c, k->method, url_of(srv, k->path), hdr, 2,
                                "hello", 5, &r);
    if (!WEFT_EXPECT_OK(err))
      continue;
    WEFT_EXPECT_EQ(r.status, 200);
    if (!WEFT_EXPECT(strncmp(r.body, k->want_body, strlen(k->want_body)) == 0))
      fprintf(stderr, "%s %s: body %s\n", k->method, k->path, r.body);
    size_t ul = strlen(r.url), wl = strlen(k->want_url);
    if (!WEFT_EXPECT(ul >= wl && strcmp(r.url + ul - wl, k->want_url) == 0))
      fprintf(stderr, "%s %s: url %s\n", k->method, k->path, r.url);
    weft_http_response_free(&r);
  }
  /* HEAD stays HEAD (no body either way). */
  weft_http_response_t r;
  if (WEFT_EXPECT_OK(weft_http_request(c, "HEAD", url_of(srv, "/r301"), NULL, 0,
                                       NULL, 0, &r))) {
    WEFT_EXPECT_EQ(r.status, 200);
    WEFT_EXPECT(r.body_len == 0 && strstr(r.url, "/echo") != NULL);
    weft_http_response_free(&r);
  }
  /* The cross-host hop went to localhost, then back: auth stays dropped. */
  if (WEFT_EXPECT_OK(weft_http_request(c, "GET", url_of(srv, "/cross"), hdr, 1,
                                       NULL, 0, &r))) {
    WEFT_EXPECT(strncmp(r.body, "GET /echo auth=-", 16) == 0);
    WEFT_EXPECT(strncmp(r.url, "http://127.0.0.1:", 17) == 0);
    weft_http_response_free(&r);
  }
  /* Too many hops; a Location that is not http(s) is the answer. */
  WEFT_EXPECT_ERR(weft_http_get(c, url_of(srv, "/loop"), &r), WEFT_ELIMIT);
  WEFT_EXPECT(r.url == NULL && r.body == NULL);
  WEFT_EXPECT_ERR(weft_http_get(c, url_of(srv, "/chain/11"), &r), WEFT_ELIMIT);
  if (WEFT_EXPECT_OK(weft_http_get(c, url_of(srv, "/ftp"), &r))) {
    WEFT_EXPECT_EQ(r.status, 302);
    WEFT_EXPECT(strcmp(weft_http_response_header(&r, "location"),
                       "ftp://example.com/") == 0);
    WEFT_EXPECT(strcmp(r.url, url_of(srv, "/ftp")) == 0);
    weft_http_response_free(&r);
  }
  WEFT_EXPECT_OK(weft_http_client_free(c));
  WEFT_EXPECT_OK(weft_server_close(srv));
  return 0;
}

static void test_redirects(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(2, redirects_main, NULL, NULL));
}

static int redirect_limits_main(void* arg, void** result) {
  (void)arg, (void)result;
  weft_server_t* srv = serve();
  weft_http_client_config_t cfg = WEFT_HTTP_CLIENT_CONFIG_INIT;
  cfg.max_redirects = 2;
  weft_http_client_t* c;
  WEFT_EXPECT_OK(weft_http_client_new(&cfg, &c));
  weft_http_response_t r;
  if (WEFT_EXPECT_OK(weft_http_get(c, url_of(srv, "/chain/2"), &r)))
    WEFT_EXPECT_EQ(r.status, 200);
  weft_http_response_free(&r);
  WEFT_EXPECT_ERR(weft_http_get(c, url_of(srv, "/chain/3"), &r), WEFT_ELIMIT);
  WEFT_EXPECT_OK(weft_http_client_free(c));
  cfg.max_redirects = WEFT_HTTP_OFF; /* none followed */
  WEFT_EXPECT_OK(weft_http_client_new(&cfg, &c));
  if (WEFT_EXPECT_OK(weft_http_get(c, url_of(srv, "/loop"), &r))) {
    WEFT_EXPECT_EQ(r.status, 302);
    WEFT_EXPECT(strcmp(r.url, url_of(srv, "/loop")) == 0);
  }
  weft_http_response_free(&r);
  WEFT_EXPECT_OK(weft_http_client_free(c));
  WEFT_EXPECT_OK(weft_server_close(srv));
  return 0;
}

static void test_redirect_limits(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(2, redirect_limits_main, NULL, NULL));
}


/* ---- Streamed bodies --------------------------------------------------- */

/* A body larger than max_body_bytes: refused whole, read as a stream in
 * small pieces, and the connection goes back to the pool at its end. */
static int download_main(void* arg, void** result) {
  (void)arg, (void)result;
  weft_server_t* srv = serve();
  weft_http_client_config_t cfg = WEFT_HTTP_CLIENT_CONFIG_INIT;
  cfg.max_body_bytes = 64 * 1024;
  cfg.max_conns_per_host = 1;
  weft_http_client_t* c;
  WEFT_EXPECT_OK(weft_http_client_new(&cfg, &c));
  weft_http_response_t r;
  WEFT_EXPECT_ERR(weft_http_get(c, url_of(srv, "/big"), &r), WEFT_ELIMIT);
  weft_http_send_t req = WEFT_HTTP_SEND_INIT;
  req.url = url_of(srv, "/big");
  weft_http_body_t* body = NULL;
  if (WEFT_EXPECT_OK(weft_http_send(c, &req, &r, &body))) {
    WEFT_EXPECT_EQ(r.status, 200);
    WEFT_EXPECT(r.body == NULL && strcmp(r.url, req.url) == 0);
    WEFT_EXPECT(strcmp(weft_http_response_header(&r, "content-length"),
                       "3145745") == 0);
    char buf[4000];
    size_t total = 0, bad = 0;
    ptrdiff_t n;
    while ((n = weft_http_body_read(body, buf, sizeof(buf))) > 0) {
      for (ptrdiff_t i = 0; i < n; i++)
        bad += buf[i] != pattern(total + (size_t)i);
      total += (size_t)n;
    }
    WEFT_EXPECT_EQ(n, 0);
    WEFT_EXPECT_EQ(total, kBigLen);
    WEFT_EXPECT_EQ(bad, 0);
    WEFT_EXPECT_EQ(weft_http_body_read(body, buf, sizeof(buf)), 0);
    WEFT_EXPECT_ERR(weft_http_body_read(body, NULL, 1), WEFT_EINVAL);
    /* The one connection is free again before the close. */
    weft_http_response_t r2;
    if (WEFT_EXPECT_OK(weft_http_get(c, url_of(srv, "/echo"), &r2)))
      WEFT_EXPECT_EQ(r2.status, 200);
    weft_http_response_free(&r2);
    WEFT_EXPECT_OK(weft_http_body_close(body));
    weft_http_response_free(&r);
  }
  /* A body closed half read: its connection goes, the client goes on. */
  if (WEFT_EXPECT_OK(weft_http_send(c, &req, &r, &body))) {
    char buf[100];
    WEFT_EXPECT_EQ(weft_http_body_read(body, buf, sizeof(buf)), 100);
    WEFT_EXPECT_ERR(weft_http_client_free(c), WEFT_EBUSY); /* body open */
    WEFT_EXPECT_OK(weft_http_body_close(body));
    weft_http_response_free(&r);
  }
  /* A redirect to it, streamed: the 3xx's connection is dropped. */
  req.url = url_of(srv, "/chain/2");
  if (WEFT_EXPECT_OK(weft_http_send(c, &req, &r, &body))) {
    char buf[256];
    ptrdiff_t n = weft_http_body_read(body, buf, sizeof(buf) - 1);
    WEFT_EXPECT(n > 0 && strncmp(buf, "GET /chain/0", 12) == 0);
    WEFT_EXPECT_OK(weft_http_body_close(body));
    weft_http_response_free(&r);
  }
  WEFT_EXPECT_OK(weft_http_body_close(NULL));
  WEFT_EXPECT_OK(weft_http_client_free(c));
  WEFT_EXPECT_OK(weft_server_close(srv));
  return 0;
}

static void test_stream_download_larger_than_limit(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(2, download_main, NULL, NULL));
}

typedef struct {
  size_t left; /* bytes still to give */
  size_t given;
  int fail_at_end; /* return this instead of 0 */
} source_t;

/* Pieces of varying size, 'x' then the count so far mod 10 ('0'...). */
static ptrdiff_t source(void* arg, void* buf, size_t cap) {
  source_t* s = arg;
  size_t n = 1 + (s->given * 31 + 7) % 9000;
  n = n < cap ? n : cap;
  n = n < s->left ? n : s->left;
  if (n == 0)
    return s->fail_at_end;
  for (size_t i = 0; i < n; i++)
    ((char*)buf)[i] = (char)('0' + (s->given + i) % 10);
  s->left -= n;
  s->given += n;
  if (s->given % 3 == 0)
    weft_yield(); /* a source may await */
  return (ptrdiff_t)n;
}

static int upload_main(void* arg, void** result) {
  (void)arg, (void)result;
  weft_server_t* srv = serve();
  weft_http_client_t* c;
  WEFT_EXPECT_OK(weft_http_client_new(NULL, &c));
  weft_http_header_t hdr[] = {{"Content-Type", "text/digits"}};
  for (int known = 0; known < 2; known++) {
    source_t src = {.left = 200000};
    weft_http_send_t req = WEFT_HTTP_SEND_INIT;
    req.method = "PUT";
    req.url = url_of(srv, "/echo");
    req.headers = hdr;
    req.nheaders = 1;
    req.source = source;
    req.source_arg = &src;
    req.source_len = known ? 200000 : 0; /* 0: chunked */
    weft_http_response_t r;
    if (WEFT_EXPECT_OK(weft_http_send(c, &req, &r, NULL))) {
      const char want[] = "PUT /echo auth=- ctype=text/digits len=200000 "
                          "body=0123456789012345678901234567890123456789";
      WEFT_EXPECT(strncmp(r.body, want, sizeof(want) - 1) == 0);
      weft_http_response_free(&r);
    }
  }
  /* A source that gives more, or less, than it said; one that fails. */
  source_t more = {.left = 5000}, less = {.left = 10}, bad = {.left = 10};
  bad.fail_at_end = WEFT_EPROTO;
  weft_http_send_t req = WEFT_HTTP_SEND_INIT;
  req.method = "POST";
  req.url = url_of(srv, "/echo");
  req.source = source;
  weft_http_response_t r;
  req.source_arg = &more;
  req.source_len = 4000;
  WEFT_EXPECT_ERR(weft_http_send(c, &req, &r, NULL), WEFT_EINVAL);
  req.source_arg = &less;
  WEFT_EXPECT_ERR(weft_http_send(c, &req, &r, NULL), WEFT_EINVAL);
  req.source_arg = &bad;
  req.source_len = 0;
  WEFT_EXPECT_ERR(weft_http_send(c, &req, &r, NULL), WEFT_EPROTO);
  /* A 307 cannot resend a pulled body: it is the answer. */
  source_t once = {.left = 10};
  req.source_arg = &once;
  req.url = url_of(srv, "/r307");
  if (WEFT_EXPECT_OK(weft_http_send(c, &req, &r, NULL))) {
    WEFT_EXPECT_EQ(r.status, 307);
    weft_http_response_free(&r);
  }
  /* A 303 drops the body anyway: followed. */
  source_t dropped = {.left = 10};
  req.source_arg = &dropped;
  req.url = url_of(srv, "/r303");
  if (WEFT_EXPECT_OK(weft_http_send(c, &req, &r, NULL))) {
    WEFT_EXPECT(strncmp(r.body, "GET /echo?x=1 auth=- ctype=- len=0", 34) == 0);
    weft_http_response_free(&r);
  }
  /* Bad requests. */
  req.body = "x";
  req.body_len = 1;
  WEFT_EXPECT_ERR(weft_http_send(c, &req, &r, NULL), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_http_send(c, NULL, &r, NULL), WEFT_EINVAL);
  req = (weft_http_send_t)WEFT_HTTP_SEND_INIT;
  WEFT_EXPECT_ERR(weft_http_send(c, &req, &r, NULL), WEFT_EINVAL); /* url */
  req.url = url_of(srv, "/echo");
  req.method = "";
  weft_http_body_t* body = (weft_http_body_t*)&body;
  WEFT_EXPECT_ERR(weft_http_send(c, &req, &r, &body), WEFT_EINVAL);
  WEFT_EXPECT(body == NULL);
  WEFT_EXPECT_OK(weft_http_client_free(c));
  WEFT_EXPECT_OK(weft_server_close(srv));
  return 0;
}

static void test_stream_upload_from_source(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(2, upload_main, NULL, NULL));
}

/* ---- Per-host connection limit ---------------------------------------- */

enum { kQueued = 1030 };

typedef struct {
  weft_http_client_t* c;
  const char* url;
} get_t;

static int get_task(void* arg, void** result) {
  get_t* g = arg;
  weft_http_response_t r;
  int err = weft_http_get(g->c, g->url, &r);
  *result = (void*)(intptr_t)r.status;
  weft_http_response_free(&r);
  return err;
}

static _Atomic int g_warned;

static void on_log(int level, const char* msg, void* arg) {
  (void)arg;
  if (level == WEFT_LOG_WARN && strstr(msg, "max_conns_per_host") != NULL)
    /* seq_cst: polled by the test's main task */
    atomic_fetch_add(&g_warned, 1);
}

/* More requests than connections queue (all succeed); debug mode warns
 * once for the host when the queue passes 1024. */
static int queue_main(void* arg, void** result) {
  (void)arg, (void)result;
  WEFT_EXPECT_OK(weft_event_new(&g_hold));
  weft_server_t* srv = serve();
  weft_http_client_config_t cfg = WEFT_HTTP_CLIENT_CONFIG_INIT;
  cfg.max_conns_per_host = 1;
  get_t g = {.url = url_of(srv, "/hold")};
  WEFT_EXPECT_OK(weft_http_client_new(&cfg, &g.c));
  weft_set_log(on_log, NULL);
  weft_task_t** t = calloc(kQueued, sizeof(*t));
  for (int i = 0; i < kQueued; i++)
    WEFT_EXPECT_OK(weft_spawn(NULL, get_task, &g, NULL, &t[i]));
  /* seq_cst: set by the log hook */
  WEFT_EXPECT_OK(WEFT_YIELD_UNTIL(atomic_load(&g_warned) > 0));
  WEFT_EXPECT_OK(weft_event_set(g_hold));
  for (int i = 0; i < kQueued; i++) {
    void* st = NULL;
    WEFT_EXPECT_OK(weft_await(t[i], &st));
    WEFT_EXPECT_EQ((intptr_t)st, 200);
    weft_task_release(t[i]);
  }
  free(t);
  weft_set_log(NULL, NULL);
  WEFT_EXPECT_EQ(atomic_load(&g_warned), 1); /* seq_cst: all done */
  WEFT_EXPECT_OK(weft_http_client_free(g.c));
  WEFT_EXPECT_OK(weft_server_close(srv));
  weft_event_free(g_hold);
  return 0;
}

static void test_per_host_queue_warns_in_debug_mode(void** state) {
  (void)state;
  weft_config_t cfg = WEFT_CONFIG_INIT;
  cfg.workers = 2;
  cfg.debug = 1;
  weft_runtime_t* rt;
  assert_int_equal(weft_runtime_new(&cfg, &rt), 0);
  weft_task_t* t;
  assert_int_equal(weft_spawn(rt, queue_main, NULL, NULL, &t), 0);
  assert_int_equal(weft_await(t, NULL), 0);
  weft_task_release(t);
  assert_int_equal(weft_runtime_free(rt), 0);
  WEFT_ASSERT_NO_FAILURES();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_resolve_rfc3986_examples),
      cmocka_unit_test(test_redirects),
      cmocka_unit_test(test_redirect_limits),
      cmocka_unit_test(test_stream_download_larger_than_limit),
      cmocka_unit_test(test_stream_upload_from_source),
      cmocka_unit_test(test_per_host_queue_warns_in_debug_mode),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
