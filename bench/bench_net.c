/* weft-bench echo-server, and the serve-until-signal frame that the network
 * servers share.
 *
 *   weft-bench echo-server [--port P] [--reuseport] [--threads N]
 *
 * A TCP echo server on 127.0.0.1:P through the public API: weft_tcp_serve
 * runs one handler task per connection, which reads into a 64 KiB buffer,
 * writes what it read back and drains. It serves until SIGINT or SIGTERM,
 * then prints the JSON line: "seconds" the serving time, "ops" the
 * connections accepted, "result" the bytes echoed, "port", "errors" the
 * connections that ended with an error other than a reset, a broken pipe
 * or the shutdown (the run fails if there are any), and "cpu_s" the
 * process's user plus system CPU seconds. The load comes from another
 * program (echoload, see bench/run-net.sh); bench/ref_echo.c is the same
 * server in plain libuv.
 *
 * DESIGN
 * The signal is caught with a uv_signal_t on the body task's loop through
 * weft_uv_await rather than with weft_signal_wait: the handles are started
 * before the server listens, so a signal sent as soon as the "listening"
 * line appears (what the smoke tests do) is never lost, and never takes its
 * default action (which would kill the process without the JSON line). A
 * waiter task has no such point: it starts watching whenever it first runs.
 *
 * The counters are summed once per connection, when its handler returns,
 * so that two workers do not share a cache line per read. Handlers still
 * running at the signal are cancelled when the runtime ends; the totals
 * are printed after that (bench_t.finish), when every handler has added
 * its share.
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <uv.h>

#include "bench.h"

#define ECHO_BUF (64u * 1024u)

/* -- serving until SIGINT or SIGTERM -- */

/* Every field is touched on `loop`'s thread only: the body task runs there
 * whenever it touches them (weft_uv_await moves it), and the callbacks run
 * there. */
typedef struct stopper_s {
  uv_loop_t* loop;
  uv_signal_t sig[2];
  weft_uv_op_t* op; /* the wait in progress, if any */
  int fired;        /* a signal came */
  int closed;       /* handles closed so far */
} stopper_t;

static void on_stop_signal(uv_signal_t* h, int signum) {
  stopper_t* st = h->data;

  (void)signum;
  st->fired = 1;
  if (st->op != NULL)
    weft_uv_done(st->op, 0);
  st->op = NULL;
}

static int start_stop_wait(uv_loop_t* loop, weft_uv_op_t* op, void* arg) {
  stopper_t* st = arg;

  (void)loop;
  if (st->fired)
    weft_uv_done(op, 0);
  else
    st->op = op;
  return 0;
}

static void cancel_stop_wait(weft_uv_op_t* op, void* arg) {
  stopper_t* st = arg;

  st->op = NULL;
  weft_uv_done(op, UV_ECANCELED);
}

static void on_stop_closed(uv_handle_t* h) {
  stopper_t* st = h->data;

  if (++st->closed == 2 && st->op != NULL)
    weft_uv_done(st->op, 0);
}

static int start_stop_close(uv_loop_t* loop, weft_uv_op_t* op, void* arg) {
  stopper_t* st = arg;

  (void)loop;
  st->op = op;
  uv_close((uv_handle_t*)&st->sig[0], on_stop_closed);
  uv_close((uv_handle_t*)&st->sig[1], on_stop_closed);
  return 0;
}

/* Starts watching SIGINT and SIGTERM on the calling task's loop. Never
 * awaits, so the task is still on that loop's worker. */
static int stopper_start(stopper_t* st) {
  static const int signums[2] = {SIGINT, SIGTERM};
  int err;

  *st = (stopper_t){.loop = weft_uv_loop()};
  if (st->loop == NULL)
    return WEFT_ENOTTASK;
  /* Both handles first: stopper_close closes both, whatever failed. */
  for (int i = 0; i < 2; i++) {
    uv_signal_init(st->loop, &st->sig[i]);
    st->sig[i].data = st;
  }
  for (int i = 0; i < 2; i++)
    if ((err = uv_signal_start(&st->sig[i], on_stop_signal, signums[i])) != 0)
      return err;
  return 0;
}

/* Closes the handles. The close callbacks are always awaited (they name
 * `st`, which lives on the caller's stack): the wait is only cut short by
 * a cancellation, which the body task gets only when the runtime ends,
 * after it has returned. */
static int stopper_close(stopper_t* st) {
  return weft_uv_await(st->loop, start_stop_close, NULL, st);
}

int bench_net_benign(ptrdiff_t err) {
  return err == 0 || err == UV_ECONNRESET || err == UV_EPIPE ||
         err == UV_ECONNABORTED || err == WEFT_ECANCELED ||
         err == WEFT_ECLOSED || err == WEFT_EOF;
}

int bench_serve_with(const char* name, const bench_server_t* server,
                     bench_result_t* out) {
  weft_server_t* srv = NULL;
  stopper_t st;
  uint64_t accepted = 0;
  uint64_t pauses = 0;
  uint64_t t0;
  int err;

  /* A client that resets while a write is in flight must not kill the
   * server: the write's EPIPE is enough. */
  signal(SIGPIPE, SIG_IGN);
  err = stopper_start(&st);
  if (err == 0)
    err = server->start(server->arg, &srv);
  if (err != 0) {
    stopper_close(&st);
    return bench_error(name, err);
  }
  fprintf(stderr, "weft-bench: %s listening on 127.0.0.1:%u\n", name,
          weft_server_port(srv));
  /* finish() appends its members to this one. */
  snprintf(out->extra, sizeof(out->extra), ",\"port\":%u",
           weft_server_port(srv));
  t0 = bench_now_ns();
  err = weft_uv_await(st.loop, start_stop_wait, cancel_stop_wait, &st);
  out->seconds = bench_since(t0);
  weft_server_stats(srv, &accepted, &pauses);
  out->ops = accepted;
  if (server->stopping != NULL)
    server->stopping(server->arg, srv);
  weft_server_close(srv);
  stopper_close(&st);
  if (err != 0)
    return bench_error(name, err);
  return 0;
}

typedef struct {
  unsigned port;
  int reuseport;
  weft_tls_t* tls;
  weft_conn_fn handler;
  void* arg;
} tcp_start_t;

static int start_tcp(void* arg, weft_server_t** out) {
  tcp_start_t* t = arg;
  weft_server_config_t cfg = {.flags = t->reuseport ? WEFT_SERVE_REUSEPORT : 0,
                              .tls = t->tls};
  return weft_tcp_serve("127.0.0.1", t->port, t->handler, t->arg, &cfg, out);
}

int bench_serve(const char* name, unsigned port, int reuseport,
                weft_conn_fn handler, void* arg, bench_result_t* out) {
  return bench_serve_tls(name, port, reuseport, NULL, handler, arg, out);
}

int bench_serve_tls(const char* name, unsigned port, int reuseport,
                    weft_tls_t* tls, weft_conn_fn handler, void* arg,
                    bench_result_t* out) {
  tcp_start_t t = {port, reuseport, tls, handler, arg};
  bench_server_t server = {.start = start_tcp, .arg = &t};
  return bench_serve_with(name, &server, out);
}

/* -- echo-server -- */

/* Totals over finished connections; static, since handlers outlive the
 * body (they end when the runtime does). */
static atomic_uint_fast64_t echo_bytes;
static atomic_uint_fast64_t echo_errors;

static int echo_conn(weft_stream_t* conn, void* arg) {
  char buf[ECHO_BUF];
  uint64_t bytes = 0;
  ptrdiff_t n;

  (void)arg;
  weft_stream_nodelay(conn, 1);
  for (;;) {
    n = weft_stream_read(conn, buf, sizeof(buf));
    if (n <= 0)
      break;
    bytes += (uint64_t)n;
    if ((n = weft_stream_write(conn, buf, (size_t)n)) != 0 ||
        (n = weft_stream_drain(conn)) != 0)
      break;
  }
  /* relaxed: a sum read after the runtime has joined every worker. */
  atomic_fetch_add_explicit(&echo_bytes, bytes, memory_order_relaxed);
  if (!bench_net_benign(n)) {
    /* relaxed: as above. */
    atomic_fetch_add_explicit(&echo_errors, 1, memory_order_relaxed);
    fprintf(stderr, "weft-bench: echo connection: %s\n", weft_strerror(n));
  }
  return 0;
}

static int run_echo(const uint64_t* p, bench_result_t* out) {
  return bench_serve("echo-server", (unsigned)p[0], p[1] != 0, echo_conn, NULL,
                     out);
}

static int finish_echo(const uint64_t* p, bench_result_t* out) {
  /* relaxed: every handler has returned; the runtime's joins ordered it. */
  uint64_t errors = atomic_load_explicit(&echo_errors, memory_order_relaxed);

  (void)p;
  /* relaxed: as above. */
  out->result = atomic_load_explicit(&echo_bytes, memory_order_relaxed);
  size_t used = strlen(out->extra);
  snprintf(out->extra + used, sizeof(out->extra) - used,
           ",\"errors\":%llu,\"cpu_s\":%.6f", (unsigned long long)errors,
           bench_cpu_s());
  if (errors != 0)
    return bench_wrong("echo-server", "%llu connections failed",
                       (unsigned long long)errors);
  return 0;
}

const bench_t bench_echo_server = {
    .name = "echo-server",
    .help = "TCP echo on 127.0.0.1:port (default any) until SIGINT/SIGTERM; "
            "ops = connections, result = bytes",
    .run = run_echo,
    .params = {{"port", 0, 65535}, {"reuseport", 0, 1, 1}},
    .finish = finish_echo,
};
