/* TCP: connecting (asyncio.open_connection) and serving
 * (asyncio.start_server) with connections spread over every worker; Unix
 * domain socket servers (start_unix_server) are the same servers with
 * another address family and pipe handles for the connections.
 *
 * DESIGN: accepting
 * A listener is a non-blocking socket watched by a uv_poll_t on one
 * worker; when it is readable that worker accepts (accept4) up to
 * kAcceptBatch connections and hands each to a worker in turn: its own,
 * or another's through that worker's inbox, which wraps the descriptor in
 * a uv_tcp_t on its own loop and spawns the handler task there. With
 * WEFT_SERVE_REUSEPORT every worker has its own SO_REUSEPORT listener
 * instead and keeps what it accepts: no hand-off, but the kernel's hash
 * decides the spread (docs/design.md compares the two).
 *
 * Running out of descriptors (EMFILE, ENFILE) or memory while accepting:
 * the listener stops watching the socket and retries after a back-off
 * (10 ms doubling to 1 s). Waiting connections stay in the kernel's
 * backlog meanwhile (none is dropped), and the worker does not spin on a
 * socket that stays readable.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/common.h"
#include "base/opts.h"
#include "io/stream.h"
#include "io/tls.h"

enum { kAcceptBatch = 64 };
enum { kBackoffFirstMs = 10u };
enum { kBackoffMaxMs = 1000u };
enum { kDefaultBacklog = 4096 };
enum { kDefaultHandshakeMs = 10000 };

/* ---- Connecting -----------------------------------------------------------
 */

static void on_connect(uv_connect_t* req, int status) {
  weft__io_done(req->data, status);
}

/* Closing the handle makes libuv end the connect with UV_ECANCELED. */
static void cancel_connect(weft__io_op_t* op) {
  weft_stream_t* s = op->data;
  weft__stream_close_start(s, 0);
}

static int connect_one(const struct sockaddr* addr, weft_stream_t** out) {
  /* The name lookup before may have moved us: the stream's home is the
   * worker we run on now. */
  weft__worker_t* w = weft__io_enter_here();
  weft_stream_t* s = weft__stream_alloc(w, WEFT__STREAM_TCP);
  if (s == NULL)
    return WEFT_ENOMEM;
  int err = uv_tcp_init(&w->loop, (uv_tcp_t*)weft__stream_handle(s));
  if (err != 0) {
    weft__stream_discard(s);
    return err;
  }
  weft__stream_attach(s);
  uv_connect_t req;
  weft__io_op_t op;
  weft__io_op_init(&op, cancel_connect, s);
  req.data = &op;
  err =
      uv_tcp_connect(&req, (uv_tcp_t*)weft__stream_handle(s), addr, on_connect);
  if (err == 0)
    err = weft__io_wait(&op);
  if (err != 0) {
    weft__stream_destroy(s);
    return err;
  }
  *out = s;
  return 0;
}

int weft_tcp_connect(const char* host, unsigned port, weft_stream_t** out) {
  int err;
  if (weft__io_task_worker(&err) == NULL)
    return err;
  if (host == NULL || out == NULL || port == 0 || port > 65535)
    return WEFT_EINVAL;
  struct sockaddr_storage addrs[16];
  size_t n = 0;
  err = weft_getaddrinfo(host, port, 0, addrs, 16, &n);
  if (err != 0)
    return err;
  err = UV_EAI_NONAME;
  for (size_t i = 0; i < n; i++) {
    err = connect_one((const struct sockaddr*)&addrs[i], out);
    if (err == 0 || err == WEFT_ECANCELED)
      break;
  }
  return err;
}

/* ---- Serving ----------------------------------------------------------------
 */

typedef struct weft__listener_s weft__listener_t;

struct weft_server_s {
  weft_runtime_t* rt;
  weft_conn_fn handler;
  void* arg;
  size_t stack_size;
  weft_tls_t* tls; /* a reference, or NULL: plain connections */
  unsigned handshake_ms;
  unsigned port;
  int reuseport;
  /* A Unix socket server: its path, removed when the server closes if it
   * is still the socket we made (dev, ino); NULL for TCP. */
  char* path;
  dev_t dev;
  ino_t ino;
  /* Counters written by listeners' workers, read anywhere. relaxed: they
   * are statistics, ordered with nothing. */
  _Atomic uint64_t accepted;
  _Atomic uint64_t fd_pauses;
  unsigned nlisteners;
  weft__listener_t* listeners;
  unsigned nshut; /* listeners closed at runtime end (one thread) */
};

struct weft__listener_s {
  weft__io_obj_t obj;
  weft_server_t* srv;
  weft__worker_t* home;
  int fd;
  uv_poll_t poll;
  uv_timer_t retry;
  unsigned backoff_ms;
  unsigned next_worker; /* hand-off round robin; home only */
  int nclosed;          /* handles whose close callback came */
  int at_shutdown;      /* closed by the runtime's end, not by a task */
  weft__io_op_t* closer;
};

/* What a connection's handler task needs; freed when the task ends. */
typedef struct {
  weft__msg_t msg; /* the hand-off to another worker */
  int fd;
  weft_conn_fn handler;
  void* arg;
  size_t stack_size;
  weft_tls_t* tls; /* a reference for the connection's handshake */
  unsigned handshake_ms;
  int is_unix; /* a pipe handle, not a TCP one */
  weft_stream_t* conn;
} weft__conn_t;

/* The record belongs to the stream until the handler task claims it: a
 * task that never starts (cancelled at shutdown, or no stack for it) does
 * not run conn_main, and the stream's end frees the record instead. */
static void conn_free(weft__conn_t* c) {
  weft__tls_release(c->tls);
  free(c);
}

static void conn_unclaimed(void* arg) {
  conn_free(arg);
}

/* The server's TLS handshake, bounded in time, in the connection's task.
 * A connection whose handshake fails is closed here, within the same
 * deadline: gracefully, so that the alert saying why reaches the peer. */
static int conn_handshake(weft_stream_t* conn, weft_tls_t* tls, unsigned ms) {
  weft_timeout_t* scope;
  int err = weft_timeout_enter(ms, &scope);
  if (err != 0) {
    weft_stream_abort(conn);
    return err;
  }
  err = weft_tls_start(conn, tls, NULL);
  if (err != 0)
    weft_stream_close(conn);
  int terr = weft_timeout_exit(scope);
  return terr != 0 ? terr : err;
}

static int conn_main(void* arg, void** result) {
  (void)result;
  weft__conn_t* c = arg;
  weft_stream_t* conn = c->conn;
  weft__io_enter(weft__stream_home(conn)); /* the stream's fields are there */
  weft__stream_on_free(conn, NULL, NULL);
  weft__stream_set_slot(conn, &conn); /* NULL once the handler closes it */
  /* Give the loop back before the handler (or the handshake) runs: a task
   * holding one worker's driver must not spin for another's, as a
   * timeout scope does for its own worker's timers (core/driver.c). */
  weft__io_leave();
  weft_conn_fn handler = c->handler;
  void* handler_arg = c->arg;
  weft_tls_t* tls = c->tls;
  unsigned handshake_ms = c->handshake_ms;
  c->tls = NULL;
  conn_free(c);
  int status = 0;
  if (tls != NULL) {
    status = conn_handshake(conn, tls, handshake_ms);
    weft__tls_release(tls); /* the stream holds its own */
    if (status != 0)
      return status; /* conn is closed */
  }
  status = handler(conn, handler_arg);
  /* The task is detached: nobody reads its status, so debug mode reports
   * a failure here (before the close, which the peer sees after it). */
  if (status != 0 && status != WEFT_ECANCELED && weft_current_runtime()->debug)
    weft__warn("connection handler (task %llu) returned %s: %s",
               (unsigned long long)weft_task_id(weft_current_task()),
               weft_err_name(status), weft_strerror(status));
  if (conn != NULL)
    weft_stream_close(conn);
  return status;
}

/* The connection's handle on w's loop: TCP, or a pipe for a Unix socket. */
static int init_handle(weft__worker_t* w, weft_stream_t* s, int is_unix) {
  uv_stream_t* h = weft__stream_handle(s);
  return is_unix ? uv_pipe_init(&w->loop, (uv_pipe_t*)h, 0)
                 : uv_tcp_init(&w->loop, (uv_tcp_t*)h);
}

static int open_handle(weft_stream_t* s, int is_unix, int fd) {
  uv_stream_t* h = weft__stream_handle(s);
  return is_unix ? uv_pipe_open((uv_pipe_t*)h, fd)
                 : uv_tcp_open((uv_tcp_t*)h, fd);
}

/* On the worker that will own the connection, outside any task. */
static void start_conn(weft__worker_t* w, weft__conn_t* c) {
  weft_stream_t* s =
      weft__stream_alloc(w, c->is_unix ? WEFT__STREAM_PIPE : WEFT__STREAM_TCP);
  if (s == NULL || init_handle(w, s, c->is_unix) != 0) {
    weft__stream_discard(s);
    close(c->fd);
    conn_free(c);
    return;
  }
  weft__stream_attach(s);
  if (open_handle(s, c->is_unix, c->fd) != 0) {
    close(c->fd);
    weft__stream_drop(s);
    conn_free(c);
    return;
  }
  /* Before the spawn: the task may start on a thief at once. */
  c->conn = s;
  weft__stream_on_free(s, conn_unclaimed, c);
  weft_spawn_opts_t opts = {.name = NULL, .stack_size = c->stack_size};
  if (weft_spawn(w->rt, conn_main, c, &opts, NULL) != 0)
    weft__stream_drop(s); /* frees c too */
}

static void on_hand_off(weft__worker_t* w, weft__msg_t* m) {
  start_conn(w, weft__container_of(m, weft__conn_t, msg));
}

static void dispatch(weft__listener_t* l, int fd) {
  weft_server_t* srv = l->srv;
  weft__conn_t* c = weft__calloc(1, sizeof(*c));
  if (c == NULL) {
    close(fd);
    return;
  }
  c->fd = fd;
  c->handler = srv->handler;
  c->arg = srv->arg;
  c->stack_size = srv->stack_size;
  c->tls = srv->tls != NULL ? weft__tls_retain(srv->tls) : NULL;
  c->handshake_ms = srv->handshake_ms;
  c->is_unix = srv->path != NULL;
  c->msg.fn = on_hand_off;
  /* relaxed: a statistic. */
  atomic_fetch_add_explicit(&srv->accepted, 1, memory_order_relaxed);
  weft__worker_t* to = l->home;
  if (!srv->reuseport) {
    weft_runtime_t* rt = l->home->rt;
    to = rt->workers[l->next_worker++ % rt->nworkers];
  }
  if (to == l->home)
    start_conn(to, c);
  else
    weft__inbox_post(to, &c->msg);
}

static void on_acceptable(uv_poll_t* poll, int status, int events);

static void on_retry(uv_timer_t* timer) {
  weft__listener_t* l = timer->data;
  uv_poll_start(&l->poll, UV_READABLE, on_acceptable);
}

/* Out of descriptors or memory: stop watching the socket for a while. */
static void pause_accepting(weft__listener_t* l) {
  weft_server_t* srv = l->srv;
  /* relaxed: a statistic. */
  atomic_fetch_add_explicit(&srv->fd_pauses, 1, memory_order_relaxed);
  uv_poll_stop(&l->poll);
  uv_timer_start(&l->retry, on_retry, l->backoff_ms, 0);
  l->backoff_ms =
      l->backoff_ms * 2 > kBackoffMaxMs ? kBackoffMaxMs : l->backoff_ms * 2;
}

static void on_acceptable(uv_poll_t* poll, int status, int events) {
  (void)events;
  weft__listener_t* l = poll->data;
  if (status < 0)
    return;
  for (int i = 0; i < kAcceptBatch; i++) {
    int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      l->backoff_ms = kBackoffFirstMs;
      dispatch(l, fd);
      continue;
    }
    if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
      continue;
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
        errno == ENOMEM)
      pause_accepting(l);
    return; /* EAGAIN, or an error the next readiness will show again */
  }
}

/* ---- Listener setup and teardown ------------------------------------------
 */

static int listen_socket(const struct sockaddr_storage* addr, int reuseport,
                         int backlog, int* out) {
  int fd =
      socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return -errno;
  int one = 1;
  socklen_t len = addr->ss_family == AF_INET6  ? sizeof(struct sockaddr_in6)
                  : addr->ss_family == AF_UNIX ? sizeof(struct sockaddr_un)
                                               : sizeof(struct sockaddr_in);
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      (reuseport &&
       setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) ||
      bind(fd, (const struct sockaddr*)addr, len) != 0 ||
      listen(fd, backlog) != 0) {
    int err = -errno;
    close(fd);
    return err;
  }
  *out = fd;
  return 0;
}

static void listener_free(weft__listener_t* l) {
  close(l->fd);
  l->fd = -1;
}

/* A Unix server's socket file goes with it, unless someone replaced it. */
static void remove_path(weft_server_t* srv) {
  struct stat st;
  if (srv->path != NULL && lstat(srv->path, &st) == 0 && S_ISSOCK(st.st_mode) &&
      st.st_dev == srv->dev && st.st_ino == srv->ino)
    unlink(srv->path);
}

/* The server's own memory, once its listeners are closed. */
static void server_release(weft_server_t* srv) {
  remove_path(srv);
  weft__tls_release(srv->tls);
  free(srv->path);
  free(srv->listeners);
  free(srv);
}

static void on_listener_closed(uv_handle_t* h) {
  weft__listener_t* l = h->data;
  if (++l->nclosed < 2)
    return;
  listener_free(l);
  if (l->closer != NULL) {
    weft__io_done(l->closer, 0);
  } else if (l->at_shutdown) {
    weft_server_t* srv = l->srv;
    if (++srv->nshut == srv->nlisteners)
      server_release(srv);
  }
}

static void listener_close_handles(weft__listener_t* l) {
  uv_close((uv_handle_t*)&l->poll, on_listener_closed);
  uv_close((uv_handle_t*)&l->retry, on_listener_closed);
}

/* Debug mode's shutdown report: the listening address. */
static void listener_describe(weft__io_obj_t* obj, char* buf, size_t n) {
  weft__listener_t* l = weft__container_of(obj, weft__listener_t, obj);
  struct sockaddr_storage sa;
  socklen_t len = sizeof(sa);
  if (getsockname(l->fd, (struct sockaddr*)&sa, &len) == 0)
    weft__io_addr_text((struct sockaddr*)&sa, buf, n);
}

/* Runtime end: a server still open goes with its last listener. */
static void listener_shutdown(weft__io_obj_t* obj) {
  weft__listener_t* l = weft__container_of(obj, weft__listener_t, obj);
  l->at_shutdown = 1;
  listener_close_handles(l);
}

/* The calling task entered w's loop. */
static int listener_start(weft__listener_t* l, weft__worker_t* w,
                          const struct sockaddr_storage* addr, int backlog) {
  int err = listen_socket(addr, l->srv->reuseport, backlog, &l->fd);
  if (err != 0)
    return err;
  l->backoff_ms = kBackoffFirstMs;
  l->next_worker = w->index;
  if ((err = uv_poll_init(&w->loop, &l->poll, l->fd)) != 0) {
    close(l->fd);
    return err;
  }
  l->home = w; /* from here on, listener_stop must close it */
  uv_timer_init(&w->loop, &l->retry); /* cannot fail */
  l->poll.data = l;
  l->retry.data = l;
  weft__io_obj_add_named(w, &l->obj, listener_shutdown,
                         l->srv->path != NULL ? "Unix socket server"
                                              : "TCP server",
                         listener_describe);
  return uv_poll_start(&l->poll, UV_READABLE, on_acceptable);
}

/* From a task; the listener was started. */
static void listener_stop(weft__listener_t* l) {
  weft__io_enter(l->home);
  weft__io_obj_remove(l->home, &l->obj);
  weft__io_op_t op;
  weft__io_op_init(&op, NULL, l);
  l->closer = &op;
  listener_close_handles(l);
  weft__io_wait(&op); /* not cancellable: the callbacks come at once */
}

static unsigned bound_port(int fd) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  if (getsockname(fd, (struct sockaddr*)&ss, &len) != 0)
    return 0;
  if (ss.ss_family == AF_INET6)
    return ntohs(((struct sockaddr_in6*)&ss)->sin6_port);
  return ntohs(((struct sockaddr_in*)&ss)->sin_port);
}

static void set_port(struct sockaddr_storage* ss, unsigned port) {
  if (ss->ss_family == AF_INET6)
    ((struct sockaddr_in6*)ss)->sin6_port = htons((uint16_t)port);
  else
    ((struct sockaddr_in*)ss)->sin_port = htons((uint16_t)port);
}

static int start_listeners(weft_server_t* srv, struct sockaddr_storage* addr,
                           int backlog) {
  for (unsigned i = 0; i < srv->nlisteners; i++) {
    weft__listener_t* l = &srv->listeners[i];
    l->srv = srv;
    /* One listener per worker with SO_REUSEPORT, else one where we are. */
    weft__worker_t* home =
        srv->reuseport ? srv->rt->workers[i] : weft__io_enter_here();
    weft__io_enter(home);
    int err = listener_start(l, home, addr, backlog);
    if (err != 0) {
      srv->nlisteners = i + (l->home != NULL); /* the ones to stop */
      return err;
    }
    if (i == 0 && srv->path != NULL) {
      struct stat st;
      if (stat(srv->path, &st) == 0) {
        srv->dev = st.st_dev;
        srv->ino = st.st_ino;
      }
    } else if (i == 0) {
      srv->port = bound_port(l->fd);
      set_port(addr, srv->port); /* the others share the port */
    }
  }
  return 0;
}

static void server_free(weft_server_t* srv) {
  for (unsigned i = 0; i < srv->nlisteners; i++)
    listener_stop(&srv->listeners[i]);
  server_release(srv);
}

/* Reads the caller's config as this version knows it (a 0.1 struct, or
 * a longer one whose unknown fields are zero) into *copy; *cfg then points
 * at the copy (or stays NULL). */
static int read_config(const weft_server_config_t** cfg,
                       weft_server_config_t* copy) {
  if (*cfg == NULL)
    return 0;
  if (WEFT__OPTS_READ(copy, *cfg, tls_handshake_timeout_ms) != 0)
    return WEFT_EINVAL;
  *cfg = copy;
  return 0;
}

static int check_config(weft_conn_fn handler, const weft_server_config_t* cfg,
                        weft_server_t** out) {
  if (handler == NULL || out == NULL || (cfg != NULL && cfg->backlog < 0) ||
      (cfg != NULL && cfg->tls != NULL &&
       weft__tls_mode(cfg->tls) != WEFT_TLS_SERVER))
    return WEFT_EINVAL;
  return 0;
}

/* Makes the server and starts its listeners on `addr`; `path` for a Unix
 * socket server (then no SO_REUSEPORT). */
static int serve(weft__worker_t* w, struct sockaddr_storage* addr,
                 const char* path, weft_conn_fn handler, void* arg,
                 const weft_server_config_t* cfg, weft_server_t** out) {
  int err;
  weft_server_t* srv = weft__calloc(1, sizeof(*srv));
  if (srv == NULL)
    return WEFT_ENOMEM;
  if (path != NULL && (srv->path = weft__malloc(strlen(path) + 1)) == NULL) {
    free(srv);
    return WEFT_ENOMEM;
  }
  if (path != NULL)
    memcpy(srv->path, path, strlen(path) + 1);
  srv->rt = w->rt;
  srv->handler = handler;
  srv->arg = arg;
  srv->stack_size = cfg != NULL ? cfg->stack_size : 0;
  srv->reuseport = cfg != NULL && (cfg->flags & WEFT_SERVE_REUSEPORT);
  if (cfg != NULL && cfg->tls != NULL)
    srv->tls = weft__tls_retain(cfg->tls);
  srv->handshake_ms = cfg != NULL && cfg->tls_handshake_timeout_ms != 0
                          ? cfg->tls_handshake_timeout_ms
                          : kDefaultHandshakeMs;
  srv->nlisteners = srv->reuseport ? w->rt->nworkers : 1;
  srv->listeners = weft__calloc(srv->nlisteners, sizeof(*srv->listeners));
  if (srv->listeners == NULL) {
    server_release(srv);
    return WEFT_ENOMEM;
  }
  int backlog =
      cfg != NULL && cfg->backlog > 0 ? cfg->backlog : kDefaultBacklog;
  if ((err = start_listeners(srv, addr, backlog)) != 0) {
    server_free(srv);
    return err;
  }
  *out = srv;
  return 0;
}

int weft_tcp_serve(const char* host, unsigned port, weft_conn_fn handler,
                   void* arg, const weft_server_config_t* cfg,
                   weft_server_t** out) {
  int err;
  weft__worker_t* w = weft__io_task_worker(&err);
  if (w == NULL)
    return err;
  weft_server_config_t copy; /* the caller's, as this version reads it */
  if ((err = read_config(&cfg, &copy)) != 0 ||
      (err = check_config(handler, cfg, out)) != 0)
    return err;
  if (port > 65535)
    return WEFT_EINVAL;
  struct sockaddr_storage addr;
  size_t n = 0;
  err =
      weft_getaddrinfo(host != NULL ? host : "0.0.0.0", port, 0, &addr, 1, &n);
  if (err != 0)
    return err;
  return serve(w, &addr, NULL, handler, arg, cfg, out);
}

/* A socket file left by an earlier server is replaced (asyncio does the
 * same); any other file at `path` makes bind fail with UV_EADDRINUSE. */
static void remove_stale_socket(const char* path) {
  struct stat st;
  if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
    unlink(path);
}

int weft_unix_serve(const char* path, weft_conn_fn handler, void* arg,
                    const weft_server_config_t* cfg, weft_server_t** out) {
  int err;
  weft__worker_t* w = weft__io_task_worker(&err);
  if (w == NULL)
    return err;
  weft_server_config_t copy; /* the caller's, as this version reads it */
  if ((err = read_config(&cfg, &copy)) != 0 ||
      (err = check_config(handler, cfg, out)) != 0)
    return err;
  struct sockaddr_storage addr = {.ss_family = AF_UNIX};
  struct sockaddr_un* un = (struct sockaddr_un*)&addr;
  if (path == NULL || path[0] == '\0' || strlen(path) >= sizeof(un->sun_path) ||
      (cfg != NULL && (cfg->flags & WEFT_SERVE_REUSEPORT)))
    return WEFT_EINVAL;
  memcpy(un->sun_path, path, strlen(path) + 1);
  remove_stale_socket(path);
  return serve(w, &addr, path, handler, arg, cfg, out);
}

unsigned weft_server_port(const weft_server_t* srv) {
  return srv != NULL ? srv->port : 0;
}

void weft_server_stats(const weft_server_t* srv, uint64_t* accepted,
                       uint64_t* fd_pauses) {
  /* relaxed: statistics. */
  if (accepted != NULL)
    *accepted = srv != NULL
                    ? atomic_load_explicit(&srv->accepted, memory_order_relaxed)
                    : 0;
  /* relaxed: statistics. */
  if (fd_pauses != NULL)
    *fd_pauses = srv != NULL ? atomic_load_explicit(&srv->fd_pauses,
                                                    memory_order_relaxed)
                             : 0;
}

int weft_server_close(weft_server_t* srv) {
  int err;
  if (srv == NULL)
    return 0;
  weft__worker_t* w = weft__io_task_worker(&err);
  if (w == NULL)
    return err;
  server_free(srv);
  weft__io_enter(w);
  return 0;
}
