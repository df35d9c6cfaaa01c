/* weft-bench soak: rounds of many tasks (sleeping, yielding, awaiting
 * children, taking a shared lock) and many TCP connections (line echo
 * with read timeouts, some aborted midway), with random cancellations,
 * for --seconds. Checks that every task and connection is accounted for
 * after each round, and reports the process's resident memory before,
 * at the peak and once the runtime is freed (the finish hook), which must
 * come back near where it started. Not a benchmark: scripts/soak.sh runs
 * it for minutes; bench-smoke runs it for a second. */
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

static int child(void* arg, void** result) {
  (void)arg;
  *result = (void*)(uintptr_t)1;
  return weft_yield();
}

static int worker_task(void* arg, void** result) {
  soak_t* s = arg;
  (void)result;
  switch (soak_rand(s) % 4) {
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
    default: {
      int err = weft_lock_acquire(s->lock);
      if (err != 0)
        return err;
      s->locked_sum++;
      return weft_lock_release(s->lock);
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

static int run_soak(const uint64_t* p, bench_result_t* out) {
  uint64_t secs = p[0], ntasks = p[1], nconns = p[2];
  soak_t s = {.locked_sum = 0};
  atomic_init(&s.rng, 12345);
  weft_server_t* srv;
  int err = weft_lock_new(&s.lock);
  if (err == 0)
    err = weft_tcp_serve("127.0.0.1", 0, echo_lines, NULL, NULL, &srv);
  if (err != 0) {
    fprintf(stderr, "soak: %s\n", weft_strerror(err));
    return 1;
  }
  uint64_t peak = 0, rounds = 0, t0 = bench_now_ns();
  while (err == 0 && bench_since(t0) < (double)secs) {
    err = round_of(&s, ntasks, worker_task, &s);
    if (err == 0)
      err = conn_round(&s, weft_server_port(srv), nconns);
    uint64_t now_kb = rss_kb();
    peak = now_kb > peak ? now_kb : peak;
    rounds++;
  }
  out->seconds = bench_since(t0);
  weft_server_close(srv);
  weft_lock_free(s.lock);
  if (err != 0) {
    fprintf(stderr, "soak: round %llu: %s\n", (unsigned long long)rounds,
            weft_strerror(err));
    return 1;
  }
  out->ops = rounds * (ntasks + nconns);
  out->result = rounds;
  snprintf(out->extra, sizeof(out->extra),
           ",\"rss_start_kb\":%llu,\"rss_peak_kb\":%llu",
           (unsigned long long)rss_start, (unsigned long long)peak);
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
    .help = "rounds of tasks and connections with random cancellations for "
            "--seconds; RSS at start, peak and after the runtime",
    .run = run_soak,
    .params = {{"seconds", 10, 86400},
               {"tasks", 100000, 10000000},
               {"conns", 1000, 100000}},
    .finish = finish_soak,
};
