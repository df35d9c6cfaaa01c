/* weft-bench http-server: the library's HTTP/1.1 server answering "hello".
 *
 *   weft-bench http-server [--port P] [--reuseport] [--work-us U]
 *                          [--delay-ms D] [--threads N]
 *
 * Serves 127.0.0.1:P with weft_http_serve and its default settings (the
 * deadlines, body rate and connection cap of docs/http.md), so that the
 * figures measure what users get. The handler answers every request with
 * "hello" (Content-Type text/plain) after U microseconds of CPU work (a
 * busy loop on the thread's CPU clock: a handler that computes) or D
 * milliseconds of weft_sleep_ms (a handler that waits on something slow),
 * until SIGINT or SIGTERM; the load comes from wrk (bench/run-net.sh). The
 * JSON line: "seconds" the serving time, "ops" the connections accepted,
 * "result" the requests answered with 200, "bad" those the server refused
 * itself (400, 408, 413, 431; weft_http_server_stats), "errors" the
 * requests whose handler failed (the run fails if there are any), "cpu_s"
 * the process's user plus system CPU seconds.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <stdlib.h>

#include "bench.h"

typedef struct http_opts_s {
  uint64_t work_us;
  uint64_t delay_ms;
} http_opts_t;

/* Totals: requests answered, handler failures, and the server's own
 * refusals (read from its stats at the stop signal). Static, since
 * handlers outlive the body (they end when the runtime does). */
static atomic_uint_fast64_t http_requests;
static atomic_uint_fast64_t http_errors;
static atomic_uint_fast64_t http_bad;

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

static int hello(const weft_http_request_t* req, weft_http_response_t* resp,
                 void* arg) {
  (void)req;
  int err = do_work(arg);
  if (err == 0)
    err = weft_http_response_set(resp, 200, "text/plain", "hello", 5);
  if (err == 0) {
    /* relaxed: a sum read after the runtime has joined every worker. */
    atomic_fetch_add_explicit(&http_requests, 1, memory_order_relaxed);
  } else if (!bench_net_benign(err)) {
    /* relaxed: as above. */
    atomic_fetch_add_explicit(&http_errors, 1, memory_order_relaxed);
    fprintf(stderr, "weft-bench: http handler: %s\n", weft_strerror(err));
  }
  return err;
}

typedef struct {
  unsigned port;
  int reuseport;
  http_opts_t opts;
  weft_tls_t* tls; /* HTTPS when not NULL */
} http_start_t;

static int start_http(void* arg, weft_server_t** out) {
  http_start_t* h = arg;
  weft_http_server_config_t cfg = {
      .tcp = {.flags = h->reuseport ? WEFT_SERVE_REUSEPORT : 0, .tls = h->tls}};
  return weft_http_serve("127.0.0.1", h->port, hello, &h->opts, &cfg, out);
}

static void stopping_http(void* arg, weft_server_t* srv) {
  weft_http_server_stats_t st;
  (void)arg;
  if (weft_http_server_stats(srv, &st) == 0)
    /* relaxed: read in finish, after the runtime's joins. */
    atomic_store_explicit(&http_bad, st.rejected, memory_order_relaxed);
}

/* Static, not in the body's frame: handlers read the options and may
 * still run after the body returns (until the runtime ends). */
static http_start_t http_start;

static int serve(const char* name, unsigned port, int reuseport,
                 http_opts_t opts, weft_tls_t* tls, bench_result_t* out) {
  http_start = (http_start_t){port, reuseport, opts, tls};
  bench_server_t server = {.start = start_http,
                           .stopping = stopping_http,
                           .arg = &http_start};
  return bench_serve_with(name, &server, out);
}

int bench_http_serve_hello(const char* name, unsigned port, int reuseport,
                           bench_result_t* out) {
  return serve(name, port, reuseport, (http_opts_t){0, 0}, NULL, out);
}

/* With WEFT_BENCH_CERT and WEFT_BENCH_KEY (PEM files) in the environment,
 * the server speaks HTTPS with that certificate (the same server over TLS,
 * to compare HTTPS fetches with plain ones). */
static int run_http(const uint64_t* p, bench_result_t* out) {
  http_opts_t opts = {.work_us = p[2], .delay_ms = p[3]};
  const char* cert = getenv("WEFT_BENCH_CERT");
  const char* key = getenv("WEFT_BENCH_KEY");
  weft_tls_t* tls = NULL;
  if (cert != NULL && key != NULL) {
    weft_tls_opts_t to = {.cert_file = cert, .key_file = key};
    int err = weft_tls_new(WEFT_TLS_SERVER, &to, &tls);
    if (err != 0)
      return bench_error("http-server: certificate", err);
  }
  int rc = serve("http-server", (unsigned)p[0], p[1] != 0, opts, tls, out);
  weft_tls_free(tls); /* connections still open keep it */
  return rc;
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
    return bench_wrong(name, "%llu requests failed",
                       (unsigned long long)errors);
  return 0;
}

static int finish_http(const uint64_t* p, bench_result_t* out) {
  (void)p;
  return bench_http_finish("http-server", out);
}

const bench_t bench_http_server = {
    .name = "http-server",
    .help = "HTTP/1.1 keep-alive 'hello' (weft_http_serve) on "
            "127.0.0.1:port until SIGINT/SIGTERM; ops = connections, "
            "result = requests",
    .run = run_http,
    .params = {{"port", 0, 65535},
               {"reuseport", 0, 1, 1},
               {"work-us", 0, 10000000},
               {"delay-ms", 0, 86400000}},
    .finish = finish_http,
};
