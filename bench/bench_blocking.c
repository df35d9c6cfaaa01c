/* weft-bench blocking and future-rtt: the blocking-call executor.
 *
 * blocking --calls C --ms M --pool P: one task submits C calls that each
 * usleep(M ms) to an executor of at most P threads (main.c turns --pool
 * into the runtime's blocking_max_threads), then awaits every future. The
 * ideal wall time is C*M/P ms (0.156 s for the defaults); "ideal_s" and
 * "vs_ideal" follow "result". With FIFO rounds the floor is really
 * ceil(C/P)*M (0.160 s).
 *
 * future-rtt --n N: a task makes N sequential weft_run_blocking calls of a
 * function that returns at once. Each op is one round trip task ->
 * executor thread -> task (queue, hand the call to a pool thread, run it,
 * complete the future, wake the parked task), so "ns_per_op" is that
 * latency.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bench.h"

/* ---- blocking ----------------------------------------------------------- */

typedef struct {
  useconds_t us;
  atomic_ulong ran; /* calls that slept */
} sleeper_t;

static int sleep_call(void* arg, void** result) {
  sleeper_t* s = arg;
  usleep(s->us);
  /* relaxed: a count read after every future was awaited, which orders
   * it (the futures' completion is a release, the await an acquire). */
  atomic_fetch_add_explicit(&s->ran, 1, memory_order_relaxed);
  *result = (void*)1;
  return 0;
}

/* Awaits f[0..n) and releases them all. Sums the results into *sum;
 * returns the first failure or 0. */
static int await_all(weft_future_t** f, size_t n, uint64_t* sum) {
  int first = 0;
  for (size_t i = 0; i < n; i++) {
    void* res = NULL;
    int status = weft_future_await(f[i], &res);
    weft_future_release(f[i]);
    if (status != 0 && first == 0)
      first = status;
    *sum += (uintptr_t)res;
  }
  return first;
}

static int run_blocking(const uint64_t* p, bench_result_t* out) {
  size_t calls = p[0];
  sleeper_t s = {.us = (useconds_t)(p[1] * 1000)};
  weft_future_t** f = malloc(calls * sizeof(*f));
  uint64_t done = 0;
  size_t n;
  int err = 0;

  if (f == NULL)
    return bench_error("blocking: futures", WEFT_ENOMEM);
  atomic_init(&s.ran, 0);
  uint64_t t0 = bench_now_ns();
  for (n = 0; n < calls; n++) {
    err = weft_submit_blocking(NULL, sleep_call, &s, &f[n]);
    if (err != 0)
      break;
  }
  int status = await_all(f, n, &done);
  out->seconds = bench_since(t0);
  free(f);
  if (err != 0 || status != 0)
    return bench_error("blocking", err != 0 ? err : status);
  /* relaxed: see sleep_call. */
  unsigned long ran = atomic_load_explicit(&s.ran, memory_order_relaxed);
  if (done != calls || ran != calls)
    return bench_wrong("blocking", "%llu of %zu calls completed, %lu ran",
                       (unsigned long long)done, calls, ran);
  double ideal = (double)calls * (double)p[1] / (double)p[2] / 1000.0;
  out->ops = calls;
  out->result = done;
  snprintf(out->extra, sizeof(out->extra),
           ",\"ideal_s\":%.4g,\"vs_ideal\":%.4g", ideal, out->seconds / ideal);
  return 0;
}

const bench_t bench_blocking = {
    .name = "blocking",
    .help = "calls usleep ms on a pool of --pool threads; ideal seconds = "
            "calls*ms/pool/1000",
    .repeatable = 1,
    .run = run_blocking,
    .params = {{"calls", 1000, 1u << 24},
               {"ms", 10, 60000},
               {"pool", 64, 4096}},
};

/* ---- future-rtt --------------------------------------------------------- */

static int trivial_call(void* arg, void** result) {
  *result = arg;
  return 0;
}

static int run_future_rtt(const uint64_t* p, bench_result_t* out) {
  uint64_t n = p[0];
  uint64_t sum = 0;

  /* One warm-up call outside the clock: it starts the pool's thread. */
  int err = weft_run_blocking(trivial_call, (void*)1, NULL);
  if (err != 0)
    return bench_error("future-rtt: warm-up", err);
  uint64_t t0 = bench_now_ns();
  for (uint64_t i = 0; i < n; i++) {
    void* res = NULL;
    err = weft_run_blocking(trivial_call, (void*)1, &res);
    if (err != 0)
      break;
    sum += (uintptr_t)res;
  }
  uint64_t ns = bench_now_ns() - t0;
  out->seconds = (double)ns / 1e9;
  if (err != 0)
    return bench_error("future-rtt", err);
  if (sum != n)
    return bench_wrong("future-rtt", "%llu of %llu calls returned",
                       (unsigned long long)sum, (unsigned long long)n);
  out->ops = n;
  out->result = sum;
  snprintf(out->extra, sizeof(out->extra), ",\"ns_per_op\":%.1f",
           (double)ns / (double)n);
  return 0;
}

const bench_t bench_future_rtt = {
    .name = "future-rtt",
    .help = "n sequential weft_run_blocking calls of an empty function; "
            "ns_per_op = task -> pool -> task latency",
    .repeatable = 1,
    .run = run_future_rtt,
    .params = {{"n", 100000, 1u << 30}},
};
