/* weft-bench http-server: a minimal HTTP/1.1 keep-alive server.
 *
 *   weft-bench http-server [--port P] [--reuseport] [--work-us U]
 *                          [--delay-ms D] [--threads N]
 *
 * Answers every request on 127.0.0.1:P with "hello" (Content-Length 5),
 * after U microseconds of CPU work (a busy loop on the thread's CPU clock:
 * a handler that computes) or D milliseconds of weft_sleep_ms (a handler
 * that waits on something slow), until SIGINT or SIGTERM; the load comes
 * from wrk (bench/run-net.sh). The JSON line: "seconds" the serving time,
 * "ops" the connections accepted, "result" the requests answered with 200,
 * "bad" those answered with 400, "errors" the connections that failed
 * otherwise (the run fails if there are any), "cpu_s" the process's user
 * plus system CPU seconds.
 *
 * What it understands, and no more: a request line "METHOD TARGET
 * HTTP/1.x", header lines "Name: value", a body only when Content-Length
 * gives one (it is read and dropped), "Connection: close" and
 * "Connection: keep-alive" (HTTP/1.0 closes by default). Anything else it
 * cannot parse (a malformed line, Transfer-Encoding, a head over 8 KiB)
 * gets 400 and the connection is closed. Pipelined requests work because
 * the loop simply reads the next head; the responses are buffered writes,
 * so they leave in order.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "bench.h"

#define HEAD_MAX (8u * 1024u)
/* The largest Content-Length accepted: 1 TiB, which no test comes near but
 * keeps the arithmetic far from overflow. */
#define BODY_MAX ((uint64_t)1 << 40)
/* After a 400, how long the server keeps reading (and dropping) what the
 * client still sends before it closes, so that the close does not reset
 * the connection before the client has read the response. */
#define LINGER_MS 1000

typedef struct http_opts_s {
  uint64_t work_us;
  uint64_t delay_ms;
} http_opts_t;

/* What a request head says about the connection and the body. */
typedef struct http_req_s {
  int keep_alive;
  int http10;    /* HTTP/1.0: answer keep-alive explicitly */
  uint64_t body; /* Content-Length, 0 without one */
} http_req_t;

static const char resp_ok[] =
    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n"
    "\r\nhello";
static const char resp_ok_close[] =
    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n"
    "Connection: close\r\n\r\nhello";
/* For an HTTP/1.0 client that asked to keep the connection. */
static const char resp_ok_keep[] =
    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n"
    "Connection: keep-alive\r\n\r\nhello";
static const char resp_bad[] =
    "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n"
    "\r\n";

/* Totals over finished connections (see bench_net.c on why static and why
 * per connection). */
static atomic_uint_fast64_t http_requests;
static atomic_uint_fast64_t http_bad;
static atomic_uint_fast64_t http_errors;

/* -- parsing -- */

/* RFC 9110 tchar: the characters of a method or a header name. */
static int is_tchar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

/* Skips a run of tchars; returns how many. */
static size_t span_token(const char* s, size_t n) {
  size_t i = 0;

  while (i < n && is_tchar(s[i]))
    i++;
  return i;
}

/* "METHOD SP TARGET SP HTTP/1.d": sets keep_alive from the version.
 * Returns 0, or -1 when malformed. */
static int parse_request_line(const char* s, size_t n, http_req_t* r) {
  size_t i = span_token(s, n);
  size_t t;

  if (i == 0 || i >= n || s[i] != ' ')
    return -1;
  t = ++i;
  while (i < n && s[i] > ' ' && s[i] < 0x7f)
    i++;
  if (i == t || n - i != 9 || s[i] != ' ' ||
      memcmp(s + i + 1, "HTTP/1.", 7) != 0 || s[i + 8] < '0' || s[i + 8] > '9')
    return -1;
  r->http10 = s[i + 8] == '0';
  r->keep_alive = !r->http10;
  return 0;
}

/* Whether the comma-separated list v[0..n) holds `token` (any case). */
static int has_token(const char* v, size_t n, const char* token) {
  size_t len = strlen(token);
  size_t i = 0;

  while (i < n) {
    size_t j;
    while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
      i++;
    j = i;
    while (j < n && v[j] != ',' && v[j] != ' ' && v[j] != '\t')
      j++;
    if (j - i == len && strncasecmp(v + i, token, len) == 0)
      return 1;
    i = j;
  }
  return 0;
}

/* Reads a Content-Length value (digits only). Returns 0 or -1. */
static int parse_length(const char* v, size_t n, uint64_t* out) {
  uint64_t x = 0;

  if (n == 0)
    return -1;
  for (size_t i = 0; i < n; i++) {
    if (v[i] < '0' || v[i] > '9')
      return -1;
    x = x * 10 + (uint64_t)(v[i] - '0');
    if (x > BODY_MAX)
      return -1;
  }
  *out = x;
  return 0;
}

/* One "Name: value" line. *seen_length tells a second Content-Length.
 * Returns 0 or -1. */
static int parse_header(const char* s, size_t n, http_req_t* r,
                        int* seen_length) {
  size_t name = span_token(s, n);
  size_t v;
  size_t e = n;

  if (name == 0 || name >= n || s[name] != ':')
    return -1;
  v = name + 1;
  while (v < e && (s[v] == ' ' || s[v] == '\t'))
    v++;
  while (e > v && (s[e - 1] == ' ' || s[e - 1] == '\t'))
    e--;
  if (name == 14 && strncasecmp(s, "content-length", 14) == 0) {
    if ((*seen_length)++ || parse_length(s + v, e - v, &r->body) != 0)
      return -1;
  } else if (name == 17 && strncasecmp(s, "transfer-encoding", 17) == 0) {
    return -1; /* no chunked bodies here */
  } else if (name == 10 && strncasecmp(s, "connection", 10) == 0) {
    if (has_token(s + v, e - v, "close"))
      r->keep_alive = 0;
    else if (has_token(s + v, e - v, "keep-alive"))
      r->keep_alive = 1;
  }
  return 0;
}

/* Parses a whole head, h[0..n) ending in "\r\n\r\n". Lines end in CRLF; a
 * bare CR or LF, a control character or a folded line makes it malformed.
 * Returns 0 or -1. */
static int parse_head(const char* h, size_t n, http_req_t* r) {
  int seen_length = 0;
  size_t i = 0;
  int first = 1;

  *r = (http_req_t){0};
  while (i < n) {
    size_t j = i;
    while (j < n && h[j] != '\r' && h[j] != '\n' &&
           (h[j] == '\t' || (unsigned char)h[j] >= ' '))
      j++;
    if (j + 1 >= n || h[j] != '\r' || h[j + 1] != '\n')
      return -1;
    if (j == i) /* the empty line: the end of the head */
      return j + 2 == n && !first ? 0 : -1;
    if (first ? parse_request_line(h + i, j - i, r)
              : parse_header(h + i, j - i, r, &seen_length))
      return -1;
    first = 0;
    i = j + 2;
  }
  return -1;
}

/* -- serving -- */

/* Reads and drops `len` bytes of body. 0, or an error / WEFT_EOF. */
static ptrdiff_t skip_body(weft_stream_t* conn, uint64_t len, char* scratch,
                           size_t cap) {
  while (len > 0) {
    ptrdiff_t n = weft_stream_read(conn, scratch, len < cap ? len : cap);
    if (n <= 0)
      return n == 0 ? WEFT_EOF : n;
    len -= (uint64_t)n;
  }
  return 0;
}

/* CPU time of the calling thread, in nanoseconds. */
static uint64_t thread_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The request's work: U µs of computing or D ms of waiting. The busy loop
 * runs on the thread's CPU clock, not the wall clock: when two workers
 * share a CPU and the system switches between them in the middle of a
 * loop, each still computes its full U µs (on the monotonic clock their
 * loops would overlap, and a server could seem to do more work per second
 * than its CPUs can). No await inside, so the thread does not change. */
static int do_work(const http_opts_t* o) {
  if (o->work_us > 0) {
    uint64_t end = thread_cpu_ns() + o->work_us * 1000u;
    while (thread_cpu_ns() < end) {
    }
  }
  return o->delay_ms > 0 ? weft_sleep_ms(o->delay_ms) : 0;
}

/* Sends the 400, then reads and drops what the client still sends (for
 * LINGER_MS at most) so the close does not reset the connection first. */
static void reject(weft_stream_t* conn, char* scratch, size_t cap) {
  weft_timeout_t* t;

  if (weft_stream_write(conn, resp_bad, sizeof(resp_bad) - 1) != 0 ||
      weft_stream_shutdown(conn) != 0 || weft_timeout_enter(LINGER_MS, &t) != 0)
    return;
  while (weft_stream_read(conn, scratch, cap) > 0) {
  }
  weft_timeout_exit(t);
}

/* What serve_one tells the connection loop (errors are negative). */
enum { HTTP_CLOSE = 0, HTTP_NEXT = 1, HTTP_SERVED_CLOSE = 2 };

/* Picks the 200 response for the request. */
static const char* ok_response(const http_req_t* r, size_t* len) {
  if (!r->keep_alive) {
    *len = sizeof(resp_ok_close) - 1;
    return resp_ok_close;
  }
  if (r->http10) {
    *len = sizeof(resp_ok_keep) - 1;
    return resp_ok_keep;
  }
  *len = sizeof(resp_ok) - 1;
  return resp_ok;
}

/* Serves one request: HTTP_NEXT when it was answered and the connection
 * stays, HTTP_SERVED_CLOSE when it was answered last, HTTP_CLOSE when the
 * connection ends without an answer (end of stream, or a 400: *bad), or a
 * negative error. *served counts the answer as soon as it is written: the
 * client may have it before the drain returns (and a shutdown may cancel
 * the drain). */
static ptrdiff_t serve_one(weft_stream_t* conn, const http_opts_t* o,
                           char* head, int* bad, uint64_t* served) {
  http_req_t r;
  ptrdiff_t n;
  const char* resp;
  size_t len;

  n = weft_stream_readuntil(conn, "\r\n\r\n", 4, head, HEAD_MAX);
  if (n == WEFT_EOF)
    return HTTP_CLOSE; /* between requests, or inside a head: drop it */
  if (n < 0 && n != WEFT_ENOBUFS && n != WEFT_ELIMIT)
    return n;
  if (n < 0 || parse_head(head, (size_t)n, &r) != 0) {
    *bad = 1; /* too long, or malformed */
    reject(conn, head, HEAD_MAX);
    return HTTP_CLOSE;
  }
  if ((n = skip_body(conn, r.body, head, HEAD_MAX)) != 0)
    return n == WEFT_EOF ? HTTP_CLOSE : n;
  if ((n = do_work(o)) != 0)
    return n;
  resp = ok_response(&r, &len);
  if ((n = weft_stream_write(conn, resp, len)) != 0)
    return n;
  (*served)++;
  if ((n = weft_stream_drain(conn)) != 0)
    return n;
  return r.keep_alive ? HTTP_NEXT : HTTP_SERVED_CLOSE;
}

static int http_conn(weft_stream_t* conn, void* arg) {
  char head[HEAD_MAX];
  uint64_t served = 0;
  int bad = 0;
  ptrdiff_t n;

  weft_stream_nodelay(conn, 1);
  while ((n = serve_one(conn, arg, head, &bad, &served)) == HTTP_NEXT) {
  }
  if (n == HTTP_SERVED_CLOSE)
    n = 0;
  /* relaxed: sums read after the runtime has joined every worker. */
  atomic_fetch_add_explicit(&http_requests, served, memory_order_relaxed);
  /* relaxed: as above. */
  atomic_fetch_add_explicit(&http_bad, (uint64_t)bad, memory_order_relaxed);
  if (!bench_net_benign(n)) {
    /* relaxed: as above. */
    atomic_fetch_add_explicit(&http_errors, 1, memory_order_relaxed);
    fprintf(stderr, "weft-bench: http connection: %s\n", weft_strerror(n));
  }
  return 0;
}

static http_opts_t http_opts;
static http_opts_t http_no_work;

int bench_http_hello(weft_stream_t* conn, void* arg) {
  (void)arg;
  return http_conn(conn, &http_no_work);
}

static int run_http(const uint64_t* p, bench_result_t* out) {
  http_opts = (http_opts_t){.work_us = p[2], .delay_ms = p[3]};
  return bench_serve("http-server", (unsigned)p[0], p[1] != 0, http_conn,
                     &http_opts, out);
}

int bench_http_finish(const char* name, bench_result_t* out) {
  /* relaxed (all three): every handler has returned; the runtime's joins
   * ordered its adds before this. */
  uint64_t bad = atomic_load_explicit(&http_bad, memory_order_relaxed);
  uint64_t errors = atomic_load_explicit(&http_errors, memory_order_relaxed);

  out->result = atomic_load_explicit(&http_requests, memory_order_relaxed);
  size_t used = strlen(out->extra);
  snprintf(out->extra + used, sizeof(out->extra) - used,
           ",\"bad\":%llu,\"errors\":%llu,\"cpu_s\":%.6f",
           (unsigned long long)bad, (unsigned long long)errors, bench_cpu_s());
  if (errors != 0)
    return bench_wrong(name, "%llu connections failed",
                       (unsigned long long)errors);
  return 0;
}

static int finish_http(const uint64_t* p, bench_result_t* out) {
  (void)p;
  return bench_http_finish("http-server", out);
}

const bench_t bench_http_server = {
    .name = "http-server",
    .help = "HTTP/1.1 keep-alive 'hello' on 127.0.0.1:port until "
            "SIGINT/SIGTERM; ops = connections, result = requests",
    .run = run_http,
    .params = {{"port", 0, 65535},
               {"reuseport", 0, 1, 1},
               {"work-us", 0, 10000000},
               {"delay-ms", 0, 86400000}},
    .finish = finish_http,
};
