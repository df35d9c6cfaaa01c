/* weft-bench mixed-server: I/O latency with a CPU job in the same runtime.
 *
 *   weft-bench mixed-server [--port P] [--reuseport]
 *                           [--job none|fanout|long|long1] [--secs S]
 *                           [--threads N]
 *
 * http-server's keep-alive "hello" on 127.0.0.1:P (bench_http.c, with no
 * work per request), plus a background CPU job started with the server,
 * in one runtime of N workers (2 unless --threads says otherwise). The
 * load comes from wrk; the question is how the job delays the answers.
 *
 *   none    the server alone.
 *   fanout  a driver task repeats pfib(27): fib(n-1) in a new task for
 *           n > 12, fib(n-2) inline, then join; plain recursion at 12 and
 *           below (1596 spawns, 635,621 fib calls per root). A unit is one
 *           root, checked against F(27).
 *   long    two tasks, each looping: 132 M dependent xorshift-multiply
 *           steps (about 200 ms) without awaiting, then weft_yield(). A
 *           unit is one such round.
 *   long1   one such task: one worker is left free.
 *
 * It serves for S seconds (or, without --secs, until SIGINT or SIGTERM;
 * either signal also ends a timed run early), then stops the job at its
 * next unit and prints the line: http-server's members ("seconds" the
 * serving time, "ops" the connections accepted, "result" the requests
 * answered, "port", "bad", "errors", "cpu_s"), then "job_units", the units
 * the job completed while the server served, and "job_units_per_s", those
 * over the time from the job's start to the end of serving.
 *
 * DESIGN
 * The time limit is a plain thread outside the runtime that sends the
 * process SIGTERM after S seconds, so that the stop takes the same path
 * as http-server's: the limit does not depend on a worker being free to
 * fire a timer, which is what this benchmark questions. The thread is
 * started right before bench_serve, which installs its signal handlers
 * without awaiting first, long before a whole second has gone.
 *
 * The job's tasks check a stop flag between units rather than being
 * cancelled with the runtime: a pfib root cut in the middle would be an
 * error, and the units counted must be whole.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

enum {
  kJobNone = 0,
  kJobFanout = 1,
  kJobLong = 2,
  kJobLong1 = 3,
  kJobTasksMax = 2,
};

/* The harness's constants: the same work in every runtime compared. */
enum {
  kCutoff = 12,
  kFibN = 27,
  kFibValue = 196418,     /* F(27) */
  kLongSteps = 132000000, /* ~200 ms on a 2-vCPU EPYC VM */
};

static const char* const job_names[] = {"none", "fanout", "long", "long1",
                                        NULL};

/* Units completed; the stop request; a sink the long loop's value goes to
 * so that the compiler keeps the loop. */
static atomic_uint_fast64_t job_units;
static atomic_int job_stop;
static volatile uint64_t job_sink;

/* Figures for finish(), taken when serving ends. */
static uint64_t job_units_served;
static double job_seconds;

/* -- fanout -- */

__attribute__((noinline)) static uint64_t fib_seq(uint64_t n) {
  return n < 2 ? n : fib_seq(n - 1) + fib_seq(n - 2);
}

static int pfib_task(void* arg, void** result);

/* pfib(n) into *out. Errors (a spawn or an await that failed: the runtime
 * is ending) travel back as the task's status. */
static int pfib(uint64_t n, uint64_t* out) {
  weft_task_t* child;
  void* a = NULL;
  uint64_t b = 0;
  int err;
  int status;

  if (n <= kCutoff) {
    *out = fib_seq(n);
    return 0;
  }
  err = weft_spawn(NULL, pfib_task, (void*)(uintptr_t)(n - 1), NULL, &child);
  if (err != 0)
    return err;
  err = pfib(n - 2, &b);
  /* Await even after an error: the child must end before its handle goes. */
  status = weft_await(child, &a);
  weft_task_release(child);
  if (err != 0)
    return err;
  *out = (uintptr_t)a + b;
  return status;
}

static int pfib_task(void* arg, void** result) {
  uint64_t v = 0;
  int err = pfib((uintptr_t)arg, &v);

  *result = (void*)(uintptr_t)v;
  return err;
}

/* Returns 0, a weft error, or 1 after printing a wrong value. */
static int fanout_task(void* arg, void** result) {
  (void)arg;
  (void)result;
  /* relaxed: a flag with nothing to publish; the join orders the rest. */
  while (!atomic_load_explicit(&job_stop, memory_order_relaxed)) {
    uint64_t v = 0;
    int err = pfib(kFibN, &v);

    if (err != 0)
      return err;
    if (v != kFibValue)
      return bench_wrong("mixed-server", "pfib(%d) gave %llu, not %d", kFibN,
                         (unsigned long long)v, kFibValue);
    /* relaxed: a count, read as a snapshot. */
    atomic_fetch_add_explicit(&job_units, 1, memory_order_relaxed);
  }
  return 0;
}

/* -- long -- */

__attribute__((noinline)) static uint64_t spin(uint64_t steps, uint64_t x) {
  for (uint64_t i = 0; i < steps; i++)
    x = (x ^ (x >> 29)) * 0xbf58476d1ce4e5b9u;
  return x;
}

static int long_task(void* arg, void** result) {
  uint64_t x = (uintptr_t)arg;

  (void)result;
  /* relaxed: as in fanout_task. */
  while (!atomic_load_explicit(&job_stop, memory_order_relaxed)) {
    int err;

    x = spin(kLongSteps, x);
    job_sink = x;
    /* relaxed: as in fanout_task. */
    atomic_fetch_add_explicit(&job_units, 1, memory_order_relaxed);
    if ((err = weft_yield()) != 0)
      return err;
  }
  return 0;
}

/* -- the time limit -- */

typedef struct limit_s {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  uint64_t secs;
  int done; /* serving ended: send nothing */
} limit_t;

static void* limit_main(void* arg) {
  limit_t* l = arg;
  struct timespec end;
  int err = 0;

  clock_gettime(CLOCK_MONOTONIC, &end);
  end.tv_sec += (time_t)l->secs;
  pthread_mutex_lock(&l->mu);
  while (!l->done && err != ETIMEDOUT)
    err = pthread_cond_timedwait(&l->cv, &l->mu, &end);
  if (!l->done)
    kill(getpid(), SIGTERM);
  pthread_mutex_unlock(&l->mu);
  return NULL;
}

/* Starts the thread; returns 0 or an errno value. */
static int limit_start(limit_t* l, pthread_t* th) {
  pthread_condattr_t ca;
  int err;

  pthread_mutex_init(&l->mu, NULL);
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&l->cv, &ca);
  pthread_condattr_destroy(&ca);
  err = pthread_create(th, NULL, limit_main, l);
  if (err != 0) {
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
  }
  return err;
}

/* Stops the thread (if the time is not up yet) and joins it. */
static void limit_stop(limit_t* l, pthread_t th) {
  pthread_mutex_lock(&l->mu);
  l->done = 1;
  pthread_cond_signal(&l->cv);
  pthread_mutex_unlock(&l->mu);
  pthread_join(th, NULL);
  pthread_cond_destroy(&l->cv);
  pthread_mutex_destroy(&l->mu);
}

/* -- the benchmark -- */

/* Starts the job's tasks; *n gets how many (to join even on failure). */
static int job_start(uint64_t job, weft_task_t** h, size_t* n) {
  size_t want = job == kJobLong ? 2 : job == kJobNone ? 0 : 1;
  weft_task_fn fn = job == kJobFanout ? fanout_task : long_task;
  int err = 0;

  *n = 0;
  while (*n < want && err == 0) {
    err = weft_spawn(NULL, fn, (void*)(uintptr_t)(*n + 1), NULL, &h[*n]);
    if (err == 0)
      (*n)++;
  }
  return err;
}

/* Stops the job and joins its tasks. Returns 0, or the first status that
 * was not 0 (a task that found a wrong value returns 1). */
static int job_join(weft_task_t** h, size_t n) {
  int rc = 0;

  /* relaxed: see fanout_task. */
  atomic_store_explicit(&job_stop, 1, memory_order_relaxed);
  for (size_t i = 0; i < n; i++) {
    int status = weft_await(h[i], NULL);

    weft_task_release(h[i]);
    if (rc == 0)
      rc = status;
  }
  return rc;
}

static int run_mixed(const uint64_t* p, bench_result_t* out) {
  weft_task_t* h[kJobTasksMax];
  size_t n = 0;
  limit_t limit = {.secs = p[3]};
  pthread_t th;
  uint64_t t0 = bench_now_ns();
  int err = job_start(p[2], h, &n);
  int rc = 0;

  if (err == 0 && limit.secs > 0 && (err = limit_start(&limit, &th)) != 0) {
    fprintf(stderr, "weft-bench: mixed-server: pthread_create: %s\n",
            strerror(err));
    limit.secs = 0;
    rc = 1;
  } else if (err != 0) {
    rc = bench_error("weft_spawn", err);
  }
  if (rc == 0)
    rc = bench_http_serve_hello("mixed-server", (unsigned)p[0], p[1] != 0, out);
  /* relaxed: a snapshot of the count. */
  job_units_served = atomic_load_explicit(&job_units, memory_order_relaxed);
  job_seconds = bench_since(t0);
  if (limit.secs > 0)
    limit_stop(&limit, th);
  err = job_join(h, n);
  if (rc == 0 && err < 0)
    rc = bench_error("mixed-server job", err);
  else if (rc == 0)
    rc = err;
  return rc;
}

static int finish_mixed(const uint64_t* p, bench_result_t* out) {
  int rc = bench_http_finish("mixed-server", out);
  size_t used = strlen(out->extra);

  (void)p;
  snprintf(out->extra + used, sizeof(out->extra) - used,
           ",\"job_units\":%llu,\"job_units_per_s\":%.4g",
           (unsigned long long)job_units_served,
           job_seconds > 0 ? (double)job_units_served / job_seconds : 0.0);
  return rc;
}

const bench_t bench_mixed_server = {
    .name = "mixed-server",
    .help = "http-server's 'hello' plus a CPU job (--job) in the same "
            "runtime, 2 workers by default; for --secs (none: until "
            "SIGINT/SIGTERM); ops = connections, result = requests",
    .run = run_mixed,
    .params = {{"port", 0, 65535},
               {"reuseport", 0, 1, 1},
               {"job", kJobNone, kJobLong1, 0, job_names},
               {"secs", 0, 86400}},
    .finish = finish_mixed,
    .threads = 2,
};
