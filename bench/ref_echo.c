/* ref_echo: a plain single-threaded libuv TCP echo server, the baseline of
 * weft-bench echo-server ("0.9x of raw libuv").
 *
 *   ref_echo [--port P]        (no port, or 0: any free port)
 *
 * Listens on 127.0.0.1:P, prints "ref_echo: listening on 127.0.0.1:<port>"
 * to stderr once it accepts connections, and echoes every byte back until
 * SIGINT or SIGTERM; then closes everything, prints weft-bench's JSON line
 * with "runtime":"libuv" ("ops": connections accepted, "result": bytes
 * echoed, "cpu_s": user plus system CPU seconds) and exits 0.
 *
 * It is the straightforward libuv server, the code weft's must approach:
 * reads go into one 64 KiB buffer (the size weft-bench echo-server reads
 * with), each chunk is sent with uv_try_write and only what the socket did
 * not take is copied into a uv_write request. Like weft's streams it stops
 * reading while more than 64 KiB wait to be sent, and resumes at 16 KiB, so
 * a client that never reads cannot make it queue without bound. Connections
 * get TCP_NODELAY, as weft-bench's do.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <uv.h>

#define READ_BUF (64u * 1024u)
#define HIGH_WATER (64u * 1024u)
#define LOW_WATER (16u * 1024u)

typedef struct conn_s {
  uv_tcp_t tcp;
  int reading; /* 0 while paused for backpressure */
  uint64_t bytes;
} conn_t;

/* A write of what uv_try_write left: the request and its own copy. */
typedef struct wreq_s {
  uv_write_t req;
  char data[];
} wreq_t;

static uv_loop_t* loop;
static uv_tcp_t server;
static uv_signal_t sigs[2];
/* One read buffer for the whole server: every chunk is either written at
 * once or copied into its wreq_t before the next read. */
static char rbuf[READ_BUF];
static uint64_t accepted;
static uint64_t echoed;
static uint64_t errors;

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void on_conn_closed(uv_handle_t* h) {
  conn_t* c = h->data;
  echoed += c->bytes;
  free(c);
}

static void on_alloc(uv_handle_t* h, size_t hint, uv_buf_t* buf) {
  (void)h;
  (void)hint;
  *buf = uv_buf_init(rbuf, READ_BUF);
}

static void on_read(uv_stream_t* s, ssize_t n, const uv_buf_t* buf);

static void on_written(uv_write_t* req, int status) {
  conn_t* c = req->handle->data;

  free(req);
  if (status == UV_ECANCELED)
    return; /* the connection is closing */
  if (status < 0) {
    if (status != UV_EPIPE && status != UV_ECONNRESET)
      errors++;
    if (!uv_is_closing((uv_handle_t*)&c->tcp))
      uv_close((uv_handle_t*)&c->tcp, on_conn_closed);
    return;
  }
  if (!c->reading && c->tcp.write_queue_size <= LOW_WATER &&
      !uv_is_closing((uv_handle_t*)&c->tcp)) {
    c->reading = 1;
    uv_read_start((uv_stream_t*)&c->tcp, on_alloc, on_read);
  }
}

/* Sends data[0..n): what the socket takes now, then a copy of the rest.
 * Returns 0 or a libuv error. */
static int echo(conn_t* c, const char* data, size_t n) {
  uv_buf_t b = uv_buf_init((char*)data, (unsigned)n);
  int done = 0;
  wreq_t* w;

  if (c->tcp.write_queue_size == 0) {
    done = uv_try_write((uv_stream_t*)&c->tcp, &b, 1);
    if (done < 0 && done != UV_EAGAIN)
      return done;
    if (done < 0)
      done = 0;
  }
  c->bytes += n;
  if ((size_t)done == n)
    return 0;
  w = malloc(sizeof(*w) + n - (size_t)done);
  if (w == NULL)
    return UV_ENOMEM;
  memcpy(w->data, data + done, n - (size_t)done);
  b = uv_buf_init(w->data, (unsigned)(n - (size_t)done));
  return uv_write(&w->req, (uv_stream_t*)&c->tcp, &b, 1, on_written);
}

static void on_read(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
  conn_t* c = s->data;
  int err;

  if (n == 0)
    return; /* EAGAIN */
  if (n < 0) {
    if (n != UV_EOF && n != UV_ECONNRESET)
      errors++;
    uv_close((uv_handle_t*)s, on_conn_closed);
    return;
  }
  err = echo(c, buf->base, (size_t)n);
  if (err != 0) {
    if (err != UV_EPIPE && err != UV_ECONNRESET)
      errors++;
    uv_close((uv_handle_t*)s, on_conn_closed);
    return;
  }
  if (c->tcp.write_queue_size > HIGH_WATER) {
    c->reading = 0;
    uv_read_stop(s);
  }
}

static void on_connection(uv_stream_t* srv, int status) {
  conn_t* c;

  if (status < 0) {
    errors++;
    return;
  }
  c = calloc(1, sizeof(*c));
  if (c == NULL || uv_tcp_init(loop, &c->tcp) != 0) {
    free(c);
    errors++;
    return;
  }
  c->tcp.data = c;
  if (uv_accept(srv, (uv_stream_t*)&c->tcp) != 0) {
    errors++;
    uv_close((uv_handle_t*)&c->tcp, on_conn_closed);
    return;
  }
  accepted++;
  uv_tcp_nodelay(&c->tcp, 1);
  c->reading = 1;
  uv_read_start((uv_stream_t*)&c->tcp, on_alloc, on_read);
}

static void close_any(uv_handle_t* h, void* arg) {
  (void)arg;
  if (!uv_is_closing(h))
    uv_close(h, h->type == UV_TCP && h != (uv_handle_t*)&server ? on_conn_closed
                                                                : NULL);
}

/* SIGINT or SIGTERM: close every handle; uv_run then returns. */
static void on_signal(uv_signal_t* h, int signum) {
  (void)h;
  (void)signum;
  uv_walk(loop, close_any, NULL);
}

/* Parses "--port P" (0 <= P <= 65535); no arguments: port 0. */
static int parse_port(int argc, char** argv, int* port) {
  char* end;
  long v;

  *port = 0;
  if (argc == 1)
    return 0;
  if (argc != 3 || strcmp(argv[1], "--port") != 0 || argv[2][0] < '0' ||
      argv[2][0] > '9')
    return -1;
  errno = 0;
  v = strtol(argv[2], &end, 10);
  if (errno != 0 || *end != '\0' || v > 65535)
    return -1;
  *port = (int)v;
  return 0;
}

/* Binds and listens on 127.0.0.1:port; *bound gets the port. */
static int listen_on(int port, int* bound) {
  struct sockaddr_in a;
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  int err;

  uv_ip4_addr("127.0.0.1", port, &a);
  if ((err = uv_tcp_init(loop, &server)) != 0)
    return err;
  if ((err = uv_tcp_bind(&server, (const struct sockaddr*)&a, 0)) != 0 ||
      (err = uv_listen((uv_stream_t*)&server, 4096, on_connection)) != 0 ||
      (err = uv_tcp_getsockname(&server, (struct sockaddr*)&ss, &len)) != 0)
    return err;
  *bound = ntohs(((struct sockaddr_in*)&ss)->sin_port);
  return 0;
}

int main(int argc, char** argv) {
  struct rusage ru;
  int port;
  int bound = 0;
  int err;
  long long t0;
  double secs;

  if (parse_port(argc, argv, &port) != 0) {
    fprintf(stderr, "usage: ref_echo [--port P]   (0 <= P <= 65535)\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  loop = uv_default_loop();
  uv_signal_init(loop, &sigs[0]);
  uv_signal_init(loop, &sigs[1]);
  uv_signal_start(&sigs[0], on_signal, SIGINT);
  uv_signal_start(&sigs[1], on_signal, SIGTERM);
  if ((err = listen_on(port, &bound)) != 0) {
    fprintf(stderr, "ref_echo: listen on 127.0.0.1:%d: %s\n", port,
            uv_strerror(err));
    uv_walk(loop, close_any, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    return 1;
  }
  fprintf(stderr, "ref_echo: listening on 127.0.0.1:%d\n", bound);
  t0 = now_ns();
  uv_run(loop, UV_RUN_DEFAULT);
  secs = (double)(now_ns() - t0) / 1e9;
  uv_loop_close(loop);
  getrusage(RUSAGE_SELF, &ru);
  printf("{\"runtime\":\"libuv\",\"bench\":\"echo-server\",\"threads\":1,"
         "\"params\":{\"port\":%d},\"seconds\":%.9g,\"ops\":%llu,"
         "\"ops_per_s\":%.4g,\"max_rss_kb\":%ld,\"result\":%llu,"
         "\"port\":%d,\"errors\":%llu,\"cpu_s\":%.6f}\n",
         port, secs, (unsigned long long)accepted,
         secs > 0 ? (double)accepted / secs : 0.0, ru.ru_maxrss,
         (unsigned long long)echoed, bound, (unsigned long long)errors,
         (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
             (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
  return errors == 0 ? 0 : 1;
}
