/* weft-bench fetch: N GETs of http://127.0.0.1:PORT/, or of any http or
 * https URL given with --url (--ca: the PEM CAs to verify an https server
 * with, instead of the system store), at once (or one after another with
 * --sequential), the guide's "fetch many URLs" benchmark. The result is
 * the number of 2xx answers (redirects followed).
 * Against `weft-bench http-server --delay-ms 1000`, N concurrent requests
 * take a little over one second when nothing serialises them: the listen
 * backlog, the accept path and connection setup decide the rest. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "bench.h"

typedef struct {
  weft_http_client_t* client;
  const char* url;
} fetch_ctx_t;

static int fetch_one(void* arg, void** result) {
  fetch_ctx_t* ctx = arg;
  weft_http_response_t resp = {0};
  int err = weft_http_get(ctx->client, ctx->url, &resp);
  int ok = err == 0 && resp.status >= 200 && resp.status < 300;
  weft_http_response_free(&resp);
  *result = (void*)(uintptr_t)ok;
  return err;
}

/* N connections at once need N descriptors: raise the soft limit. */
static void raise_fd_limit(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

static uint64_t fetch_all(fetch_ctx_t* ctx, uint64_t n, int sequential,
                          int* first_err) {
  weft_task_t** tasks = calloc(n, sizeof(*tasks));
  uint64_t ok = 0;
  if (tasks == NULL)
    return 0;
  for (uint64_t i = 0; i < n; i++) {
    int err = weft_spawn(NULL, fetch_one, ctx, NULL, &tasks[i]);
    if (err == 0 && sequential) {
      void* r = NULL;
      err = weft_await(tasks[i], &r);
      ok += (uintptr_t)r;
    }
    if (err != 0 && *first_err == 0)
      *first_err = err;
  }
  for (uint64_t i = 0; i < n; i++) {
    void* r = NULL;
    if (tasks[i] == NULL)
      continue;
    int err = sequential ? 0 : weft_await(tasks[i], &r);
    if (err != 0 && *first_err == 0)
      *first_err = err;
    ok += (uintptr_t)r;
    weft_task_release(tasks[i]);
  }
  free(tasks);
  return ok;
}

static int run_fetch(const uint64_t* p, bench_result_t* out) {
  uint64_t port = p[0], n = p[1];
  int sequential = (int)p[2];
  const char* given = (const char*)(uintptr_t)p[3];
  char url[64];
  if (port == 0 && given == NULL) {
    fprintf(stderr, "fetch: --port or --url is required\n");
    return 1;
  }
  raise_fd_limit();
  snprintf(url, sizeof(url), "http://127.0.0.1:%u/", (unsigned)port);
  weft_http_client_config_t cfg = WEFT_HTTP_CLIENT_CONFIG_INIT;
  cfg.max_conns_per_host = (unsigned)(n > 100000 ? 100000 : n);
  cfg.ca_file = (const char*)(uintptr_t)p[4];
  fetch_ctx_t ctx = {.url = given != NULL ? given : url};
  int first_err = weft_http_client_new(&cfg, &ctx.client);
  if (first_err != 0) {
    fprintf(stderr, "fetch: %s\n", weft_strerror(first_err));
    return 1;
  }
  uint64_t t0 = bench_now_ns();
  uint64_t ok = fetch_all(&ctx, n, sequential, &first_err);
  out->seconds = bench_since(t0);
  weft_http_client_free(ctx.client);
  out->ops = n;
  out->result = ok;
  if (ok != n) {
    fprintf(stderr,
            "fetch: %llu of %llu requests failed or were not 2xx (first "
            "error: %s)\n",
            (unsigned long long)(n - ok), (unsigned long long)n,
            first_err != 0 ? weft_strerror(first_err) : "none");
    return 1;
  }
  return 0;
}

const bench_t bench_fetch = {
    .name = "fetch",
    .help = "N concurrent GETs of http://127.0.0.1:port/ or --url (http or "
            "https; --ca FILE to verify with); --sequential: one at a time; "
            "seconds = all of them, result = 2xx answers",
    .run = run_fetch,
    .params = {{"port", 0, 65535},
               {"urls", 100, 1000000},
               {"sequential", 0, 1, 1},
               {"url", 0, 0, 0, NULL, 1},
               {"ca", 0, 0, 0, NULL, 1}},
};
