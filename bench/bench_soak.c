/* weft-bench soak: rounds of many tasks (sleeping, yielding, awaiting
 * children, taking a shared lock, blocking calls cut short by a timeout),
 * many TCP connections (line echo with read timeouts, some aborted
 * midway) and HTTP requests through one shared client to weft_http_serve
 * (some cancelled, some sent raw and reset halfway), with random
 * cancellations, for --seconds. Checks that every task, connection and
 * request is accounted for after each round (an HTTP request that was not
 * cancelled must get its own answer: none is lost or mixed up), prints the
 * resident memory, heap in use, open descriptors and live tasks every
 * --report seconds on stderr, and fails when the heap, the descriptors or
 * the tasks grow without bound: the lowest value over the run's last
 * quarter may not exceed the highest over its first quarter (the warm-up)
 * by more than a margin (see kMargin on why not RSS). It also reports the
 * resident memory before, at the peak and once the runtime is freed (the
 * finish hook), which scripts/soak.sh checks comes back near where it
 * started. Not a benchmark: scripts/soak.sh runs it for minutes;
 * bench-smoke runs it for a second. */
#include <dirent.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

typedef struct {
  weft_lock_t* lock;
  uint64_t locked_sum; /* under lock */
  atomic_uint_fast64_t rng;
} soak_t;

static uint64_t soak_rand(soak_t* s) {
  /* relaxed: any interleaving of the sequence will do. */
  uint64_t x = atomic_fetch_add_explicit(&s->rng, 0x9e3779b97f4a7c15u,
                                         memory_order_relaxed);
  x ^= x >> 31;
  x *= 0xbf58476d1ce4e5b9u;
  return x ^ (x >> 29);
}

/* A blocking call that outlasts the timeout around it. */
static int nap(void* arg, void** result) {
  (void)arg;
  (void)result;
  usleep(3000);
  return 0;
}

static int child(void* arg, void** result) {
  (void)arg;
  *result = (void*)(uintptr_t)1;
  return weft_yield();
}

static int worker_task(void* arg, void** result) {
  soak_t* s = arg;
  (void)result;
  switch (soak_rand(s) % 5) {
    case 0:
      return weft_sleep_ms(soak_rand(s) % 5);
    case 1:
      for (int i = 0; i < 3; i++) {
        int err = weft_yield();
        if (err != 0)
          return err;
      }
      return 0;
    case 2: {
      weft_task_t* c;
      int err = weft_spawn(NULL, child, NULL, NULL, &c);
      if (err != 0)
        return err;
      err = weft_await(c, NULL);
      weft_task_release(c);
      return err;
    }
    case 3: {
      int err = weft_lock_acquire(s->lock);
      if (err != 0)
        return err;
      s->locked_sum++;
      return weft_lock_release(s->lock);
    }
    default: { /* rare: the blocking pool is small */
      if (soak_rand(s) % 50 != 0)
        return weft_yield();
      weft_timeout_t* t;
      int err = weft_timeout_enter(1, &t);
      if (err != 0)
        return err;
      err = weft_run_blocking(nap, NULL, NULL);
      int te = weft_timeout_exit(t);
      return err == WEFT_ECANCELED && te == WEFT_ETIMEDOUT ? 0 : err;
    }
  }
}

/* One round: n tasks running fn(arg), about a tenth cancelled at random,
 * all awaited. A cancellation is an outcome, not a failure. */
static int round_of(soak_t* s, uint64_t n, weft_task_fn fn, void* arg) {
  weft_task_t** t = calloc(n, sizeof(*t));
  if (t == NULL)
    return WEFT_ENOMEM;
  int err = 0;
  for (uint64_t i = 0; i < n && err == 0; i++)
    err = weft_spawn(NULL, fn, arg, NULL, &t[i]);
  for (uint64_t i = 0; i < n; i++)
    if (t[i] != NULL && soak_rand(s) % 10 == 0)
      weft_cancel(t[i]);
  for (uint64_t i = 0; i < n; i++) {
    if (t[i] == NULL)
      continue;
    int st = weft_await(t[i], NULL);
    if (st != 0 && st != WEFT_ECANCELED && err == 0)
      err = st;
    weft_task_release(t[i]);
  }
  free(t);
  return err;
}

/* ---- Connections ------------------------------------------------------- */

static int echo_lines(weft_stream_t* c, void* arg) {
  char line[128];
  ptrdiff_t n;
  (void)arg;
  while ((n = weft_stream_readline(c, line, sizeof(line))) > 0)
    if (weft_stream_write(c, line, (size_t)n) != 0)
      break;
  return 0;
}

typedef struct {
  soak_t* s;
  unsigned port;
} client_arg_t;

/* A client: a few lines, each read under a short timeout; some hang up
 * abruptly. Timeouts and resets are outcomes, not failures. */
static int client(void* arg, void** result) {
  client_arg_t* ca = arg;
  weft_stream_t* st;
  char line[128];
  (void)result;
  int err = weft_tcp_connect("127.0.0.1", ca->port, &st);
  if (err != 0)
    return err == WEFT_ECANCELED ? err : 0; /* a full backlog is not ours */
  for (int i = 0; i < 4 && err == 0; i++) {
    int len = snprintf(line, sizeof(line), "line %d\n", i);
    err = weft_stream_write(st, line, (size_t)len);
    weft_timeout_t* tm;
    if (err == 0 && (err = weft_timeout_enter(50, &tm)) == 0) {
      ptrdiff_t n = weft_stream_readline(st, line, sizeof(line));
      int t = weft_timeout_exit(tm);
      err = t == WEFT_ETIMEDOUT ? 0 : (n < 0 ? (int)n : 0);
    }
  }
  if (soak_rand(ca->s) % 5 == 0)
    weft_stream_abort(st);
  else
    weft_stream_close(st);
  return err == WEFT_ECANCELED ? err : 0;
}

static int conn_round(soak_t* s, unsigned port, uint64_t n) {
  client_arg_t ca = {s, port};
  return round_of(s, n, client, &ca);
}

/* ---- HTTP ---------------------------------------------------------------- */

/* Answers "/r<n>" with "r<n>", sometimes after a short sleep. */
static int http_app(const weft_http_request_t* req, weft_http_response_t* resp,
                    void* arg) {
  soak_t* s = arg;
  if (soak_rand(s) % 8 == 0) {
    int err = weft_sleep_ms(soak_rand(s) % 3);
    if (err != 0)
      return err;
  }
  const char* body = req->target[0] == '/' ? req->target + 1 : req->target;
  return weft_http_response_set(resp, 200, "text/plain", body, strlen(body));
}

typedef struct {
  soak_t* s;
  weft_http_client_t* client;
  unsigned port;
  atomic_uint_fast64_t ok, lost, resets;
} http_arg_t;

/* A raw request cut off halfway, and the connection reset. */
static int http_reset(http_arg_t* h) {
  weft_stream_t* st;
  static const char kPart[] = "POST /r HTTP/1.1\r\nHost: x\r\nContent-Len";
  int err = weft_tcp_connect("127.0.0.1", h->port, &st);
  if (err != 0)
    return err == WEFT_ECANCELED ? err : 0;
  weft_stream_write(st, kPart, sizeof(kPart) - 1);
  weft_stream_abort(st);
  /* relaxed: a count read after the round's awaits. */
  atomic_fetch_add_explicit(&h->resets, 1, memory_order_relaxed);
  return 0;
}

/* One request through the shared client; its answer must be its own. */
static int http_task(void* arg, void** result) {
  http_arg_t* h = arg;
  char url[96], want[32];
  weft_http_response_t r;
  (void)result;
  if (soak_rand(h->s) % 16 == 0)
    return http_reset(h);
  snprintf(want, sizeof(want), "r%llu",
           (unsigned long long)(soak_rand(h->s) % 1000000));
  snprintf(url, sizeof(url), "http://127.0.0.1:%u/%s", h->port, want);
  int err = weft_http_get(h->client, url, &r);
  if (err == WEFT_ECANCELED)
    return err;
  int good = err == 0 && r.status == 200 && strcmp(r.body, want) == 0;
  if (!good)
    fprintf(stderr, "soak: GET %s: %s, status %d, body \"%.20s\"\n", want,
            err != 0 ? weft_strerror(err) : "ok", r.status,
            r.body != NULL ? r.body : "");
  weft_http_response_free(&r);
  /* relaxed: counts read after the round's awaits. */
  atomic_fetch_add_explicit(good ? &h->ok : &h->lost, 1, memory_order_relaxed);
  return 0;
}

/* ---- Memory ----------------------------------------------------------------
 */

static uint64_t rss_kb(void) {
  long pages = 0, resident = 0;
  FILE* f = fopen("/proc/self/statm", "r");
  if (f == NULL)
    return 0;
  if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
    resident = 0;
  fclose(f);
  return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE) / 1024u;
}

static uint64_t rss_start;

/* Bytes malloc has handed out and not had back: what a leak raises, where
 * RSS also counts the allocator's free but unreturned memory. */
static uint64_t heap_kb(void) {
  struct mallinfo2 mi = mallinfo2();
  return (uint64_t)(mi.uordblks + mi.hblkhd) / 1024u;
}

static uint64_t count_fds(void) {
  uint64_t n = 0;
  DIR* d = opendir("/proc/self/fd");
  if (d == NULL)
    return 0;
  while (readdir(d) != NULL)
    n++;
  closedir(d);
  return n > 2 ? n - 3 : 0; /* ".", ".." and the directory's own */
}

static uint64_t tasks_alive(void) {
  weft_metrics_t m;
  if (weft_runtime_metrics(weft_current_runtime(), &m, NULL, 0) != 0)
    return 0;
  return m.tasks_alive;
}

/* What is sampled after each round, and the growth check over a run:
 * the highest value in the first quarter (warm-up) against the lowest in
 * the last; a leak makes the lowest late value climb past the early peak.
 * The check watches the heap, not RSS: task stacks are never unmapped and
 * keep the pages their tasks touched (core/stack.c), so RSS creeps up for
 * minutes, bounded, as deeper tasks reuse stacks shallower ones touched,
 * while a leak shows in the heap. RSS is reported, and scripts/soak.sh
 * checks it once the runtime is freed. */
enum { kHeap, kFds, kTasks, kSamples, kRss = kSamples, kValues };
static const char* const kSampleNames[kSamples] = {"heap_kb", "fds", "tasks"};
/* What a value may grow past its warm-up peak: noise, not a leak. */
static const uint64_t kMargin[kSamples] = {16384, 64, 256};

typedef struct {
  uint64_t early_max[kSamples];
  uint64_t late_min[kSamples];
  int early_seen;
  int late_seen;
} growth_t;

static void sample(uint64_t v[kValues]) {
  v[kHeap] = heap_kb();
  v[kFds] = count_fds();
  v[kTasks] = tasks_alive();
  v[kRss] = rss_kb();
}

static void note_growth(growth_t* g, const uint64_t v[kValues], double elapsed,
                        double secs) {
  /* The first sample is always early: a slow first round (a sanitizer
   * build, a short run) must not leave the warm-up empty. */
  int early = elapsed <= secs / 4 || !g->early_seen;
  g->early_seen = 1;
  for (int i = 0; i < kSamples; i++) {
    if (early && v[i] > g->early_max[i])
      g->early_max[i] = v[i];
    if (elapsed >= secs * 3 / 4 && (!g->late_seen || v[i] < g->late_min[i]))
      g->late_min[i] = v[i];
  }
  if (elapsed >= secs * 3 / 4)
    g->late_seen = 1;
}

/* 0, or 1 after saying what grew. */
static int check_growth(const growth_t* g) {
  int bad = 0;
  for (int i = 0; g->late_seen && i < kSamples; i++) {
    if (g->late_min[i] > g->early_max[i] + kMargin[i]) {
      fprintf(stderr, "soak: %s grew: at most %llu early, at least %llu late\n",
              kSampleNames[i], (unsigned long long)g->early_max[i],
              (unsigned long long)g->late_min[i]);
      bad = 1;
    }
  }
  return bad;
}

typedef struct {
  soak_t s;
  http_arg_t http;
  weft_server_t* echo;
  weft_server_t* web;
  uint64_t rounds;
} soak_run_t;

static int soak_start(soak_run_t* r) {
  atomic_init(&r->s.rng, 12345);
  int err = weft_lock_new(&r->s.lock);
  if (err == 0)
    err = weft_tcp_serve("127.0.0.1", 0, echo_lines, NULL, NULL, &r->echo);
  /* Short deadlines: a timeout scope's timer entry stays in its worker's
   * heap until its deadline even when the scope ends early (lazy
   * deletion, core/timer.c), so memory follows request rate times the
   * deadline; with the defaults (minutes) that would take the whole run
   * to level off and hide a real leak. */
  weft_http_server_config_t scfg = {.idle_timeout_ms = 2000,
                                    .head_timeout_ms = 1000};
  weft_http_client_config_t ccfg = {.timeout_ms = 2000,
                                    .connect_timeout_ms = 1000,
                                    .head_timeout_ms = 1000};
  if (err == 0)
    err = weft_http_serve("127.0.0.1", 0, http_app, &r->s, &scfg, &r->web);
  if (err == 0)
    err = weft_http_client_new(&ccfg, &r->http.client);
  r->http.s = &r->s;
  if (err == 0)
    r->http.port = weft_server_port(r->web);
  return err;
}

static void soak_stop(soak_run_t* r) {
  weft_http_client_free(r->http.client);
  weft_server_close(r->web);
  weft_server_close(r->echo);
  weft_lock_free(r->s.lock);
}

static void report(const soak_run_t* r, double elapsed,
                   const uint64_t v[kValues]) {
  /* relaxed (three): a progress line. */
  fprintf(stderr,
          "soak: %.0f s, %llu rounds: rss %llu KiB (heap in use %llu KiB), "
          "%llu fds, %llu tasks; http %llu ok, %llu lost, %llu reset\n",
          elapsed, (unsigned long long)r->rounds, (unsigned long long)v[kRss],
          (unsigned long long)v[kHeap], (unsigned long long)v[kFds],
          (unsigned long long)v[kTasks],
          (unsigned long long)atomic_load_explicit(&r->http.ok,
                                                   memory_order_relaxed),
          (unsigned long long)atomic_load_explicit(&r->http.lost,
                                                   memory_order_relaxed),
          (unsigned long long)atomic_load_explicit(&r->http.resets,
                                                   memory_order_relaxed));
}

static int run_soak(const uint64_t* p, bench_result_t* out) {
  uint64_t secs = p[0], ntasks = p[1], nconns = p[2], nhttp = p[3];
  double every = (double)p[4];
  static soak_run_t r; /* handlers may outlive the body: not on its stack */
  growth_t g;
  memset(&r, 0, sizeof(r));
  memset(&g, 0, sizeof(g));
  int err = soak_start(&r);
  if (err != 0) {
    fprintf(stderr, "soak: %s\n", weft_strerror(err));
    return 1;
  }
  uint64_t peak = 0, v[kValues], t0 = bench_now_ns();
  double last_report = 0, elapsed = 0;
  while (err == 0 && (elapsed = bench_since(t0)) < (double)secs) {
    err = round_of(&r.s, ntasks, worker_task, &r.s);
    if (err == 0)
      err = conn_round(&r.s, weft_server_port(r.echo), nconns);
    if (err == 0)
      err = round_of(&r.s, nhttp, http_task, &r.http);
    sample(v);
    peak = v[kRss] > peak ? v[kRss] : peak;
    r.rounds++;
    note_growth(&g, v, bench_since(t0), (double)secs);
    if (every > 0 && bench_since(t0) - last_report >= every) {
      last_report = bench_since(t0);
      report(&r, last_report, v);
    }
  }
  out->seconds = bench_since(t0);
  soak_stop(&r);
  /* relaxed: every request task was awaited. */
  uint64_t lost = atomic_load_explicit(&r.http.lost, memory_order_relaxed);
  if (err != 0)
    fprintf(stderr, "soak: round %llu: %s\n", (unsigned long long)r.rounds,
            weft_strerror(err));
  if (lost != 0)
    fprintf(stderr, "soak: %llu HTTP requests lost\n",
            (unsigned long long)lost);
  if (err != 0 || lost != 0 || check_growth(&g))
    return 1;
  out->ops = r.rounds * (ntasks + nconns + nhttp);
  out->result = r.rounds;
  snprintf(out->extra, sizeof(out->extra),
           ",\"rss_start_kb\":%llu,\"rss_peak_kb\":%llu,\"http_ok\":%llu",
           (unsigned long long)rss_start, (unsigned long long)peak,
           /* relaxed: as above. */
           (unsigned long long)atomic_load_explicit(&r.http.ok,
                                                    memory_order_relaxed));
  return 0;
}

/* After the runtime is freed: where memory came back to. glibc keeps
 * freed heap in its per-thread arenas; malloc_trim hands it back, so what
 * stays is what weft (or libuv) still holds. */
static int finish_soak(const uint64_t* p, bench_result_t* out) {
  (void)p;
  uint64_t before_trim = rss_kb();
  malloc_trim(0);
  size_t used = strlen(out->extra);
  snprintf(out->extra + used, sizeof(out->extra) - used,
           ",\"rss_end_kb\":%llu,\"rss_end_untrimmed_kb\":%llu",
           (unsigned long long)rss_kb(), (unsigned long long)before_trim);
  return 0;
}

__attribute__((constructor)) static void note_rss_start(void) {
  rss_start = rss_kb();
}

const bench_t bench_soak = {
    .name = "soak",
    .help = "rounds of tasks, echo connections and HTTP requests with "
            "random cancellations and resets for --seconds; fails on lost "
            "requests or growth; RSS at start, peak and after the runtime",
    .run = run_soak,
    .params = {{"seconds", 10, 86400},
               {"tasks", 100000, 10000000},
               {"conns", 1000, 100000},
               {"http", 500, 100000},
               {"report", 60, 86400}},
    .finish = finish_soak,
};
