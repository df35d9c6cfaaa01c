/* The HTTP/1.1 parser (http_parse.c): good requests and responses, chunked
 * bodies with extensions and trailers, and malformed input of every kind
 * we could think of, which must be refused (never accepted loosely). */
#include <stdio.h>
#include <string.h>

#include "helpers.h"
#include "http/http_parse.h"

static ssize_t req(const char* s, weft__http_head_t* h) {
  return weft__http_parse_request(s, strlen(s), h);
}

static ssize_t resp(const char* s, weft__http_head_t* h) {
  return weft__http_parse_response(s, strlen(s), h);
}

static int str_is(weft__http_str_t s, const char* want) {
  return s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}

/* ---- Requests ---------------------------------------------------------- */

static void test_request_good(void** state) {
  (void)state;
  weft__http_head_t h;
  const char* s = "GET /a/b?c=d HTTP/1.1\r\nHost: example.com\r\n"
                  "X-Empty:\r\nX-Pad:  v  w \t\r\n\r\ntrailing";
  ssize_t n = req(s, &h);
  assert_int_equal(n, (ssize_t)(strstr(s, "trailing") - s));
  assert_true(str_is(h.method, "GET"));
  assert_true(str_is(h.target, "/a/b?c=d"));
  assert_int_equal(h.minor_version, 1);
  assert_int_equal(h.nfields, 3);
  assert_true(str_is(h.fields[0].name, "Host"));
  assert_true(str_is(h.fields[0].value, "example.com"));
  assert_true(str_is(h.fields[1].value, ""));
  assert_true(str_is(h.fields[2].value, "v  w"));
  assert_int_equal(h.content_length, -1);
  assert_false(h.chunked);
  assert_true(h.keep_alive);
}

static void test_request_framing(void** state) {
  (void)state;
  weft__http_head_t h;
  assert_true(req("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n"
                  "content-length: 12\r\n\r\n",
                  &h) > 0);
  assert_int_equal(h.content_length, 12);
  assert_true(req("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
                  "Chunked\r\n\r\n",
                  &h) > 0);
  assert_true(h.chunked);
  assert_true(req("PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                  "Content-Length: 0\r\n\r\n",
                  &h) > 0);
  assert_true(h.expect_continue);
  assert_int_equal(h.content_length, 0);
}

static void test_request_connection(void** state) {
  (void)state;
  weft__http_head_t h;
  assert_true(req("GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, "
                  "CLOSE\r\n\r\n",
                  &h) > 0);
  assert_false(h.keep_alive);
  assert_true(req("GET / HTTP/1.0\r\n\r\n", &h) > 0); /* no Host needed */
  assert_int_equal(h.minor_version, 0);
  assert_false(h.keep_alive);
  assert_true(req("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &h) > 0);
  assert_true(h.keep_alive);
  assert_true(req("\r\n\r\nGET / HTTP/1.0\r\n\r\n", &h) > 0); /* skipped */
  /* RFC 9112 6.1: an HTTP/1.0 message with Transfer-Encoding has faulty
   * framing: the connection closes after it, keep-alive or not. */
  assert_true(req("POST / HTTP/1.0\r\nConnection: keep-alive\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n",
                  &h) > 0);
  assert_true(h.chunked);
  assert_false(h.keep_alive);
  /* Only empty lines: not a head yet (the server reads on). */
  assert_int_equal(req("\r\n\r\n", &h), WEFT_EAGAIN);
  /* Host values: a host, an IP literal and port, empty. */
  assert_true(req("GET / HTTP/1.1\r\nHost: a.b-c_d~:80\r\n\r\n", &h) > 0);
  assert_true(req("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", &h) > 0);
  assert_true(req("GET / HTTP/1.1\r\nHost:\r\n\r\n", &h) > 0);
}

static void test_request_incomplete(void** state) {
  (void)state;
  weft__http_head_t h;
  const char* full = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  for (size_t i = 0; i < strlen(full); i++)
    assert_int_equal(weft__http_parse_request(full, i, &h), WEFT_EAGAIN);
  assert_int_equal(weft__http_parse_request(full, strlen(full), &h),
                   (ssize_t)strlen(full));
}

static void test_request_malformed(void** state) {
  (void)state;
  static const char* const bad[] = {
      "G(T / HTTP/1.1\r\nHost: x\r\n\r\n",  /* method not a token */
      " GET / HTTP/1.1\r\nHost: x\r\n\r\n", /* leading space */
      "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", /* two spaces */
      "GET /\r\nHost: x\r\n\r\n",           /* no version */
      "GET / \r\nHost: x\r\n\r\n",          /* empty version */
      "GET / HTTP/2.0\r\nHost: x\r\n\r\n",  /* not 1.x */
      "GET / HTTP/1.1 \r\nHost: x\r\n\r\n", /* trailing space */
      "GET / http/1.1\r\nHost: x\r\n\r\n",  /* case matters */
      "GET / HTTP/1.10\r\nHost: x\r\n\r\n",
      "GET /a b HTTP/1.1\r\nHost: x\r\n\r\n",     /* space in target */
      "GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n",    /* control in target */
      "GET / HTTP/1.1\nHost: x\r\n\r\n",          /* bare LF */
      "GET / HTTP/1.1\r\nHost: x\n\r\n",          /* bare LF in a field */
      "GET / HTTP/1.1\r\nHost: x\rY\r\n\r\n",     /* lone CR */
      "GET / HTTP/1.1\r\nHost x\r\n\r\n",         /* no colon */
      "GET / HTTP/1.1\r\nHost : x\r\n\r\n",       /* space before colon */
      "GET / HTTP/1.1\r\n: x\r\nHost: x\r\n\r\n", /* empty name */
      "GET / HTTP/1.1\r\nHo\"st: x\r\n\r\n",      /* bad name char */
      "GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n", /* obs-fold */
      "GET / HTTP/1.1\r\nHost: x\r\nX: a\x01b\r\n\r\n",  /* control */
      "GET / HTTP/1.1\r\nHost: x\r\nX: a\x7f\r\n\r\n",   /* DEL */
      "GET / HTTP/1.1\r\n\r\n",                          /* no Host */
      "GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",    /* two Hosts */
      "GET / HTTP/1.1\r\nHost: a b\r\n\r\n",             /* not a host */
      "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: a@b\r\n\r\n",
      "GET / HTTP/1.0\r\nHost: x\r\nHost: y\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +1\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1 2\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x10\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 1\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: "
      "99999999999999999999999\r\n\r\n", /* huge */
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
      "Content-Length: 2\r\n\r\n", /* conflict */
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
      "Transfer-Encoding: chunked\r\n\r\n", /* smuggling */
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n"
      "\r\n",
      "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
      "Transfer-Encoding: chunked\r\n\r\n",
      "\x80GET / HTTP/1.1\r\nHost: x\r\n\r\n",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    weft__http_head_t h;
    ssize_t r = req(bad[i], &h);
    if (r != WEFT_EPROTO)
      print_error("case %zu accepted or wrong code: %zd\n", i, r);
    assert_int_equal(r, WEFT_EPROTO);
  }
}

static void test_request_too_many_fields(void** state) {
  (void)state;
  char buf[8192];
  size_t n = (size_t)snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\n");
  for (int i = 0; i < WEFT__HTTP_MAX_FIELDS + 1; i++)
    n += (size_t)snprintf(buf + n, sizeof(buf) - n, "X-%d: v\r\n", i);
  n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\r\n");
  weft__http_head_t h;
  assert_int_equal(weft__http_parse_request(buf, n, &h), WEFT_ELIMIT);
  assert_int_equal(weft__http_parse_request(NULL, 0, &h), WEFT_EINVAL);
}

/* ---- Responses ------------------------------------------------------------
 */

static void test_response_good(void** state) {
  (void)state;
  weft__http_head_t h;
  assert_true(resp("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", &h) > 0);
  assert_int_equal(h.status, 200);
  assert_true(str_is(h.reason, "OK"));
  assert_int_equal(h.content_length, 5);
  assert_true(h.keep_alive);
  assert_true(resp("HTTP/1.1 404 Not  Found\xe9\r\n\r\n", &h) > 0);
  assert_int_equal(h.status, 404);
  assert_true(resp("HTTP/1.1 204 \r\n\r\n", &h) > 0);
  assert_true(str_is(h.reason, ""));
  assert_true(resp("HTTP/1.1 500\r\n\r\n", &h) > 0);
  assert_true(resp("HTTP/1.0 200 OK\r\n\r\n", &h) > 0);
  assert_false(h.keep_alive);
  assert_true(resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                   "Connection: close\r\n\r\n",
                   &h) > 0);
  assert_true(h.chunked);
  assert_false(h.keep_alive);
  /* A CRLF after a 100 Continue: skipped as before a request. */
  assert_true(resp("\r\nHTTP/1.1 200 OK\r\n\r\n", &h) > 0);
  assert_int_equal(h.status, 200);
}

static void test_response_malformed(void** state) {
  (void)state;
  static const char* const bad[] = {
      "HTTP/1.1 20 OK\r\n\r\n",
      "HTTP/1.1 2000 OK\r\n\r\n",
      "HTTP/1.1 abc OK\r\n\r\n",
      "HTTP/1.1  200 OK\r\n\r\n",
      "HTTP/1.1 200OK\r\n\r\n",
      "HTTP/3.0 200 OK\r\n\r\n",
      "HTTP/1.1 099 X\r\n\r\n",
      "ICY 200 OK\r\n\r\n",
      "HTTP/1.1 200 O\x01K\r\n\r\n",
      "\nHTTP/1.1 200 OK\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
      "HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    weft__http_head_t h;
    ssize_t r = resp(bad[i], &h);
    if (r != WEFT_EPROTO)
      print_error("case %zu: %zd\n", i, r);
    assert_int_equal(r, WEFT_EPROTO);
  }
}

/* ---- Chunked
 * ----------------------------------------------------------------- */

static void test_chunk_size(void** state) {
  (void)state;
  uint64_t n;
  assert_int_equal(weft__http_parse_chunk_size("1a\r\n", 4, &n), 0);
  assert_int_equal(n, 26);
  assert_int_equal(weft__http_parse_chunk_size("FF;name=val\r\n", 13, &n), 0);
  assert_int_equal(n, 255);
  const char* quoted = "5;a=\"I \\\"q\\\"; x\";b=c;d\r\n";
  assert_int_equal(weft__http_parse_chunk_size(quoted, strlen(quoted), &n), 0);
  assert_int_equal(n, 5);
  assert_int_equal(weft__http_parse_chunk_size("fffffffffffffff\r\n", 17, &n),
                   0);
  static const char* const bad[] = {
      "\r\n",
      "g\r\n",
      "-1\r\n",
      "1 2\r\n",
      "1\n",
      "0x1\r\n",
      "1;\x01\r\n",
      "1\r\r\n",
      " 1\r\n",
      "ffffffffffffffff\r\n",
      "1",
      /* llhttp's strict mode: no whitespace after the size or in the
       * extensions, a name after every ';', balanced quotes. */
      "1 \r\n",
      "1\t\r\n",
      "0 ; a=\"b c\"\r\n",
      "1;\r\n",
      "1;a=\r\n",
      "1;a=\"b\r\n",
      "1;a b\r\n",
      "2 erfrferferf\r\n",
      "1;a=b c\r\n",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_int_equal(weft__http_parse_chunk_size(bad[i], strlen(bad[i]), &n),
                     WEFT_EPROTO);
}

static ssize_t dechunk(const char* s, char* out, size_t cap, size_t* len) {
  return weft__http_dechunk(s, strlen(s), out, cap, len);
}

static void test_dechunk_good(void** state) {
  (void)state;
  char out[64];
  size_t len;
  const char* s = "5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n\r\nNEXT";
  assert_int_equal(dechunk(s, out, sizeof(out), &len),
                   (ssize_t)(strstr(s, "NEXT") - s));
  assert_int_equal(len, 11);
  assert_memory_equal(out, "hello world", 11);
  s = "3\r\nabc\r\n0\r\nExpires: never\r\nX-Sum: 1\r\n\r\n";
  assert_int_equal(dechunk(s, out, sizeof(out), &len), (ssize_t)strlen(s));
  assert_int_equal(len, 3);
  assert_int_equal(dechunk("0\r\n\r\n", NULL, 0, &len), 5);
  assert_int_equal(len, 0);
}

static void test_dechunk_bad(void** state) {
  (void)state;
  char out[8];
  size_t len;
  static const char* const partial[] = {"", "5\r\nhel", "5\r\nhello\r\n",
                                        "0\r\n", "0\r\nX: y\r\n"};
  for (size_t i = 0; i < sizeof(partial) / sizeof(partial[0]); i++)
    assert_int_equal(dechunk(partial[i], out, sizeof(out), &len), WEFT_EAGAIN);
  static const char* const bad[] = {
      "5\r\nhelloXX0\r\n\r\n",        /* no CRLF after data */
      "z\r\n\r\n",                    /* bad size */
      "3\r\nabc\r\n0\r\nX y\r\n\r\n", /* bad trailer */
      "3\r\nabc\r\n0\r\n folded\r\n\r\n",
      "3\nabc\r\n0\r\n\r\n", /* bare LF */
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_int_equal(dechunk(bad[i], out, sizeof(out), &len), WEFT_EPROTO);
  assert_int_equal(dechunk("9\r\n123456789\r\n0\r\n\r\n", out, sizeof(out),
                           &len),
                   WEFT_ENOBUFS);
}

static void test_helpers(void** state) {
  (void)state;
  weft__http_str_t v = {"a, Keep-Alive ,b", 16};
  assert_true(weft__http_has_token(v, "keep-alive"));
  assert_true(weft__http_has_token(v, "b"));
  assert_false(weft__http_has_token(v, "keep"));
  assert_int_equal(weft__http_check_trailer("\r\n", 2), 0);
  assert_int_equal(weft__http_check_trailer("A: b\r\n", 6), 1);
  assert_int_equal(weft__http_check_trailer("A b\r\n", 5), WEFT_EPROTO);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_request_good),
      cmocka_unit_test(test_request_framing),
      cmocka_unit_test(test_request_connection),
      cmocka_unit_test(test_request_incomplete),
      cmocka_unit_test(test_request_malformed),
      cmocka_unit_test(test_request_too_many_fields),
      cmocka_unit_test(test_response_good),
      cmocka_unit_test(test_response_malformed),
      cmocka_unit_test(test_chunk_size),
      cmocka_unit_test(test_dechunk_good),
      cmocka_unit_test(test_dechunk_bad),
      cmocka_unit_test(test_helpers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
