/* weft-bench: what a benchmark gives main.c, and the helpers they share.
 *
 * A benchmark is a table entry (bench_t): its name, its options with their
 * defaults and limits, and a function that main.c runs inside a task of a
 * runtime with the requested number of workers. The function times its own
 * body (setup and checks stay outside the clock), checks its result and fills
 * a bench_result_t; main.c prints the one JSON line of the contract
 * (docs/benchmarks.md).
 */
#ifndef WEFT_BENCH_H_
#define WEFT_BENCH_H_

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "weft.h"

#define BENCH_MAX_PARAMS 6

typedef struct bench_param_s {
  const char* name; /* the option without "--", and its key in "params" */
  uint64_t def;     /* the value when the option is not given */
  uint64_t max;     /* the largest value accepted; the least is 1 */
  /* Non-zero: a switch, given as "--name" with no value; it sets 1. */
  int flag;
  /* Non-NULL: the value is one of these names (the list ends at NULL),
   * kept as its index (def is one too) and printed as the name. */
  const char* const* names;
  /* Non-zero: the value is text (a URL, a path), kept as the argument's
   * pointer in p[i] (uintptr_t; 0 when not given) and printed as a JSON
   * string, or null. */
  int text;
} bench_param_t;

typedef struct bench_result_s {
  double seconds;  /* wall time of the body only */
  uint64_t ops;    /* operations the body did, as the contract counts them */
  uint64_t result; /* the checked result, printed as "result" */
  /* More JSON members printed after "result", each starting with a comma
   * (such as ",\"rss_per_task_kb\":3.1"), or "". */
  char extra[192];
} bench_result_t;

/* A benchmark's body. Runs in a task. p[i] is the value of params[i].
 * Returns 0, or non-zero after printing why to stderr. */
typedef int (*bench_fn)(const uint64_t* p, bench_result_t* out);

/* Runs after the runtime is freed, when every task has returned: for
 * results that tasks the body did not join add to (a server's connection
 * handlers). Returns 0, or non-zero after printing why to stderr. */
typedef int (*bench_finish_fn)(const uint64_t* p, bench_result_t* out);

typedef struct bench_s {
  const char* name;
  const char* help; /* one line for the usage text */
  bench_fn run;
  bench_param_t params[BENCH_MAX_PARAMS]; /* ends at the first NULL name */
  bench_finish_fn finish; /* NULL: nothing to do after the runtime ends */
  unsigned threads;       /* workers without --threads; 0: one per CPU */
  /* Non-zero: the body can run again in the same process, so --warmup N
   * (default 1) runs it N times untimed first, as the peers do. Servers and
   * runs that last a given time leave it 0 and take no --warmup. */
  int repeatable;
} bench_t;

extern const bench_t bench_fib;
extern const bench_t bench_spawn;
extern const bench_t bench_yield;
extern const bench_t bench_chain;
extern const bench_t bench_pingpong;
extern const bench_t bench_sleep;
extern const bench_t bench_switch;
extern const bench_t bench_blocking;
extern const bench_t bench_future_rtt;
extern const bench_t bench_lock;
extern const bench_t bench_sem;
extern const bench_t bench_echo_server;
extern const bench_t bench_http_server;
extern const bench_t bench_fetch;
extern const bench_t bench_soak;
extern const bench_t bench_stranded;
extern const bench_t bench_mixed_server;
extern const bench_t bench_tls_echo_server;

/* Monotonic time in nanoseconds. Integers, so that a difference of two
 * readings keeps every digit. */
static inline uint64_t bench_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Seconds since t0, a bench_now_ns() reading. */
static inline double bench_since(uint64_t t0) {
  return (double)(bench_now_ns() - t0) / 1e9;
}

/* Prints "weft-bench: <what>: <NAME> (<message>)" to stderr; returns err. */
int bench_error(const char* what, int err);

/* Prints "weft-bench: <name>: wrong result: <message>" to stderr; returns 1. */
int bench_wrong(const char* name, const char* fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Peak resident set of the process so far, in KiB (getrusage). */
long bench_max_rss_kb(void);

/* Minor page faults of the process so far (getrusage). */
long bench_minflt(void);

/* CPU time the process has used so far, user plus system, in seconds
 * (getrusage): a server's cost per request that a busy machine distorts
 * far less than its throughput. */
double bench_cpu_s(void);

/* Spawns n tasks fn(base + i * stride) from a task, their handles in
 * h[0..n). Stops at the first failure, which goes to *err (0 when none).
 * Returns how many were spawned: those must still be joined. */
size_t bench_spawn_n(weft_task_fn fn, char* base, size_t stride, size_t n,
                     weft_task_t** h, int* err);

/* Awaits h[0..n) in spawn order and releases every handle, even after a
 * failure. Adds each task's result, read as an integer, to *sum. Returns 0,
 * or the first status that was not 0. */
int bench_join(weft_task_t** h, size_t n, uint64_t* sum);

/* The network servers (bench_net.c, bench_http.c). */

/* Serves handler(conn, arg) on 127.0.0.1:port (0: any free port) until the
 * process gets SIGINT or SIGTERM: announces "weft-bench: <name> listening
 * on 127.0.0.1:<port>" on stderr once connections are accepted, then waits
 * for the signal and closes the server (its handlers go on until the
 * runtime ends and cancels them). out->seconds is the serving time,
 * out->ops the connections accepted, out->extra ",\"port\":<port>" (a
 * finish function appends to it). From the body's task. */
int bench_serve(const char* name, unsigned port, int reuseport,
                weft_conn_fn handler, void* arg, bench_result_t* out);

/* bench_serve for any kind of server: start(arg, &srv) makes it listen on
 * 127.0.0.1; stopping(arg, srv), if not NULL, runs once the signal came,
 * before the server is closed (to read its stats). */
typedef struct bench_server_s {
  int (*start)(void* arg, weft_server_t** out);
  void (*stopping)(void* arg, weft_server_t* srv);
  void* arg;
} bench_server_t;
int bench_serve_with(const char* name, const bench_server_t* server,
                     bench_result_t* out);
/* bench_serve with a TLS server context (NULL: plain TCP): each
 * connection's handshake runs before handler (weft_server_config_t.tls). */
int bench_serve_tls(const char* name, unsigned port, int reuseport,
                    weft_tls_t* tls, weft_conn_fn handler, void* arg,
                    bench_result_t* out);

/* Whether a stream error ends a connection in a normal way for a server:
 * the peer reset or went away, or the runtime is shutting down. */
int bench_net_benign(ptrdiff_t err);

/* Serves http-server's "hello" (no work per request) with the library's
 * weft_http_serve, as bench_serve does, for another benchmark to answer
 * the same way. */
int bench_http_serve_hello(const char* name, unsigned port, int reuseport,
                           bench_result_t* out);

/* http-server's finish: out->result the requests answered, and "bad",
 * "errors", "cpu_s" appended to out->extra. Non-zero (after printing why,
 * as `name`) when a connection failed. */
int bench_http_finish(const char* name, bench_result_t* out);

#endif /* WEFT_BENCH_H_ */
