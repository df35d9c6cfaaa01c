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

static int app(const weft_http_request_t* req, weft_http_response_t* resp,
               void* arg) {
  (void)arg;
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

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_resolve_rfc3986_examples),
      cmocka_unit_test(test_redirects),
      cmocka_unit_test(test_redirect_limits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
