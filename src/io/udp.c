/* UDP sockets.
 *
 * DESIGN
 * A socket lives on the worker that bound it (home); every call moves the
 * calling task there first (io.c), so all the state below is touched on
 * home's driver only (core/driver.c), except the drop counter.
 *
 * The socket reads from the moment it is bound, whether or not a task is
 * receiving. Each datagram is taken from the kernel as soon as the loop
 * sees it and goes
 *  - to the oldest waiting receiver, copied straight into its buffer; or
 *  - to the socket's queue, copied, while it holds fewer than
 *    WEFT_UDP_QUEUE_MAX; or
 *  - nowhere: it is dropped and counted (weft_udp_dropped).
 * Reading all the time is what makes the bound and the count ours. If the
 * socket read only while a task waits, datagrams would pile up in the
 * kernel's buffer instead and be dropped there, silently, at a limit in
 * bytes set by sysctls. The cost: a socket that nobody reads still costs a
 * wake-up and a copy per datagram, up to the bound (at most 256 copies of
 * at most 64 KiB; small datagrams take what they need).
 *
 * Receivers wait in a FIFO, so several tasks may serve one socket. A
 * receiver waits only while the queue is empty, and a datagram is queued
 * only while no receiver waits: arrival order is kept. Each waiting
 * receiver lives on its task's stack. The read callback copies a datagram
 * into it and ends its wait, under home's driver; a cancellation's hook runs
 * there too and takes the receiver off the FIFO. Whichever runs first
 * wins: a datagram handed over is returned by that receiver (the
 * cancellation stays pending for its next await), and a receiver taken off
 * gets no datagram. None is lost either way. A datagram already queued is
 * returned without awaiting (as weft_await of a finished task), so a
 * pending cancellation waits for the next await.
 *
 * Sends try uv_udp_try_send first: on an idle socket the datagram reaches
 * the kernel without a trip through the loop. Only when the socket buffer
 * is full (or earlier sends are still queued) does the task wait for
 * uv_udp_send's callback. That wait has no cancel hook: libuv cannot
 * withdraw one queued send, and the wait is for buffer space that the
 * kernel frees by itself, not for a peer. A cancellation is delivered at
 * the next await.
 *
 * Close wakes every waiting receiver with WEFT_ECLOSED, drops the queue
 * and closes the handle: libuv ends the queued sends with UV_ECANCELED
 * (reported as WEFT_ECLOSED) before the close callback, which the closing
 * task awaits before it frees the socket.
 */
#include <netinet/in.h>
#include <string.h>
#include <uv.h>

#include "base/alloc.h"
#include "base/common.h"
#include "base/list.h"
#include "io/dns.h"
#include "io/io.h"
#include "io/udp.h"

#define WEFT_UDP_QUEUE_MAX 256u
/* The largest UDP payload (IPv4: 65507 bytes) fits; IPv6 jumbograms,
 * which need special links, would come truncated. */
#define WEFT_UDP_DGRAM_MAX 65536u

/* A queued datagram, copied at its own size. */
typedef struct dgram_s {
  struct dgram_s* next;
  struct sockaddr_storage from;
  size_t len;
  char data[];
} dgram_t;

struct weft_udp_s {
  weft__io_obj_t obj;   /* on home's list until closed */
  weft__worker_t* home; /* read-only after bind */
  uv_udp_t handle;
  WEFT_FIFO(weft__io_op_t) rx; /* waiting receivers (op.next) */
  WEFT_FIFO(dgram_t) q;        /* datagrams nobody received yet */
  size_t queued;
  int closing;
  /* Written on home only (relaxed load and store, no read-modify-write);
   * weft_udp_dropped reads it from any thread. */
  _Atomic uint64_t dropped;
  char rbuf[WEFT_UDP_DGRAM_MAX]; /* where libuv reads each datagram */
};

/* A waiting receiver, on its task's stack. */
typedef struct {
  weft__io_op_t op;
  weft_udp_t* u;
  void* buf;
  size_t cap;
  struct sockaddr_storage* from; /* may be NULL */
} receiver_t;

/* A waiting send, on its task's stack. */
typedef struct {
  weft__io_op_t op;
  uv_udp_send_t req;
  weft_udp_t* u;
} sender_t;

static void store_addr(struct sockaddr_storage* dst,
                       const struct sockaddr* sa) {
  memset(dst, 0, sizeof(*dst));
  if (sa == NULL)
    return;
  memcpy(dst, sa,
         sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                   : sizeof(struct sockaddr_in));
}

static size_t copy_out(void* buf, size_t cap, const void* data, size_t len) {
  size_t n = len < cap ? len : cap;
  if (n > 0)
    memcpy(buf, data, n);
  return n;
}

/* Starts a call: enters the socket's loop. 0, WEFT_ENOTTASK, or
 * WEFT_ECLOSED once a close has begun. */
static int enter(weft_udp_t* u) {
  int err = weft__io_in_task();
  if (err != 0)
    return err;
  weft__io_enter(u->home);
  return u->closing ? WEFT_ECLOSED : 0;
}

/* ---- Receiving ----------------------------------------------------------- */

/* The receiver's cancel hook: it leaves the FIFO with no datagram. */
static void cancel_recv(weft__io_op_t* op) {
  receiver_t* r = op->data;
  weft__fifo_remove(&r->u->rx, op);
  weft__io_done(op, UV_ECANCELED);
}

static void hand_over(weft__io_op_t* op, const void* data, size_t len,
                      const struct sockaddr* from) {
  receiver_t* r = op->data;
  size_t n = copy_out(r->buf, r->cap, data, len);
  if (r->from != NULL)
    store_addr(r->from, from);
  weft__io_done(op, (int)n); /* n <= WEFT_UDP_DGRAM_MAX */
}

static void enqueue(weft_udp_t* u, const void* data, size_t len,
                    const struct sockaddr* from) {
  dgram_t* d = NULL;
  if (u->queued < WEFT_UDP_QUEUE_MAX)
    d = weft__malloc(sizeof(*d) + len);
  if (d == NULL) {
    /* relaxed: only home writes it; readers want a count, not an order. */
    uint64_t n = atomic_load_explicit(&u->dropped, memory_order_relaxed);
    /* relaxed: as above. */
    atomic_store_explicit(&u->dropped, n + 1, memory_order_relaxed);
    return;
  }
  d->next = NULL;
  d->len = len;
  store_addr(&d->from, from);
  memcpy(d->data, data, len);
  weft__fifo_push(&u->q, d);
  u->queued++;
}

static ptrdiff_t dequeue(weft_udp_t* u, void* buf, size_t cap,
                         struct sockaddr_storage* from) {
  dgram_t* d = weft__fifo_pop(&u->q);
  u->queued--;
  size_t n = copy_out(buf, cap, d->data, d->len);
  if (from != NULL)
    *from = d->from;
  free(d);
  return (ptrdiff_t)n;
}

static void free_queue(weft_udp_t* u) {
  dgram_t* d;
  while ((d = weft__fifo_pop(&u->q)) != NULL)
    free(d);
  u->queued = 0;
}

static void on_alloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf) {
  (void)suggested;
  weft_udp_t* u = weft__container_of(h, weft_udp_t, handle);
  *buf = uv_buf_init(u->rbuf, sizeof(u->rbuf));
}

static void on_recv(uv_udp_t* h, ssize_t nread, const uv_buf_t* buf,
                    const struct sockaddr* from, unsigned flags) {
  (void)flags;
  weft_udp_t* u = weft__container_of(h, weft_udp_t, handle);
  if (nread == 0 && from == NULL)
    return; /* nothing more to read for now */
  if (nread < 0) {
    /* A socket error: the oldest receiver reports it; with none, it is
     * not kept (the next datagram matters more). */
    weft__io_op_t* op = weft__fifo_pop(&u->rx);
    if (op != NULL)
      weft__io_done(op, (int)nread);
    return;
  }
  weft__io_op_t* op = weft__fifo_pop(&u->rx);
  if (op != NULL)
    hand_over(op, buf->base, (size_t)nread, from);
  else
    enqueue(u, buf->base, (size_t)nread, from);
}

ptrdiff_t weft_udp_recv(weft_udp_t* u, void* buf, size_t cap,
                        struct sockaddr_storage* from) {
  if (u == NULL || (buf == NULL && cap > 0))
    return WEFT_EINVAL;
  int err = enter(u);
  if (err != 0)
    return err;
  if (!weft__fifo_empty(&u->q))
    return dequeue(u, buf, cap, from);
  if ((err = weft__io_check_cancel()) != 0)
    return err;
  receiver_t r = {.u = u, .buf = buf, .cap = cap, .from = from};
  weft__io_op_init(&r.op, cancel_recv, &r);
  weft__fifo_push(&u->rx, &r.op);
  /* Returns the length, an error, WEFT_ECANCELED or WEFT_ECLOSED; `u` may
   * be gone by then (closed), so it is not touched again. */
  return weft__io_wait(&r.op);
}

uint64_t weft_udp_dropped(const weft_udp_t* u) {
  if (u == NULL)
    return 0;
  /* relaxed: a count; nothing else is read through it. */
  return atomic_load_explicit(&u->dropped, memory_order_relaxed);
}

size_t weft__udp_queued(weft_udp_t* u) {
  int err;
  if (u == NULL || weft__io_task_worker(&err) == NULL)
    return 0;
  weft__io_enter(u->home);
  return u->queued;
}

size_t weft__udp_receivers(weft_udp_t* u) {
  int err;
  size_t n = 0;
  if (u == NULL || weft__io_task_worker(&err) == NULL)
    return 0;
  weft__io_enter(u->home);
  for (weft__io_op_t* op = u->rx.head; op != NULL; op = op->next)
    n++;
  return n;
}

/* ---- Sending ------------------------------------------------------------- */

static void on_sent(uv_udp_send_t* req, int status) {
  sender_t* s = weft__container_of(req, sender_t, req);
  /* Sends still queued when the handle closes end with UV_ECANCELED: the
   * socket closed, the sender was not cancelled. */
  if (status == UV_ECANCELED && s->u->closing)
    status = WEFT_ECLOSED;
  weft__io_done(&s->op, status);
}

static int valid_addr(const struct sockaddr* addr) {
  return addr != NULL &&
         (addr->sa_family == AF_INET || addr->sa_family == AF_INET6);
}

/* Checks a send's arguments and enters the socket's loop. */
static int send_prologue(weft_udp_t* u, const void* data, size_t len,
                         const struct sockaddr* addr) {
  if (u == NULL || (data == NULL && len > 0) || !valid_addr(addr))
    return WEFT_EINVAL;
  if (len > WEFT_UDP_DGRAM_MAX)
    return UV_EMSGSIZE; /* also keeps len within uv_buf_t's unsigned */
  return enter(u);
}

/* Queues the datagram behind libuv's send queue and awaits its callback.
 * On home. */
static int send_queued(weft_udp_t* u, uv_buf_t b, const struct sockaddr* addr) {
  int err;
  if ((err = weft__io_check_cancel()) != 0)
    return err;
  sender_t s = {.u = u};
  weft__io_op_init(&s.op, NULL, NULL);
  /* libuv copies addr and the buffer list; the bytes stay the caller's,
   * alive while we wait. */
  err = uv_udp_send(&s.req, &u->handle, &b, 1, addr, on_sent);
  if (err != 0)
    return err;
  return weft__io_wait(&s.op);
}

int weft_udp_send(weft_udp_t* u, const void* data, size_t len,
                  const struct sockaddr* addr) {
  int err = send_prologue(u, data, len, addr);
  if (err != 0)
    return err;
  uv_buf_t b = uv_buf_init((char*)data, (unsigned)len);
  err = uv_udp_try_send(&u->handle, &b, 1, addr);
  if (err >= 0)
    return 0;
  if (err != UV_EAGAIN)
    return err;
  return send_queued(u, b, addr);
}

int weft__udp_send_queued(weft_udp_t* u, const void* data, size_t len,
                          const struct sockaddr* addr) {
  int err = send_prologue(u, data, len, addr);
  if (err != 0)
    return err;
  return send_queued(u, uv_buf_init((char*)data, (unsigned)len), addr);
}

/* ---- Binding, addresses, closing ----------------------------------------- */

static void on_closed(uv_handle_t* h) {
  weft__io_done(h->data, 0);
}

/* Closes the handle, awaits its close callback and frees the socket. On
 * home. The wait cannot be hurried (no cancel hook): a cancellation stays
 * pending for the caller's next await. */
static void close_and_free(weft_udp_t* u) {
  weft__io_op_t op;
  weft__io_op_init(&op, NULL, NULL);
  u->handle.data = &op;
  uv_close((uv_handle_t*)&u->handle, on_closed);
  weft__io_wait(&op);
  free(u);
}

static void on_shutdown_closed(uv_handle_t* h) {
  free(weft__container_of(h, weft_udp_t, handle));
}

/* Debug mode's shutdown report: the bound address. */
static void udp_describe(weft__io_obj_t* obj, char* buf, size_t n) {
  weft_udp_t* u = weft__container_of(obj, weft_udp_t, obj);
  struct sockaddr_storage sa;
  int len = sizeof(sa);
  if (uv_udp_getsockname(&u->handle, (struct sockaddr*)&sa, &len) == 0)
    weft__io_addr_text((struct sockaddr*)&sa, buf, n);
}

/* At runtime end, on the thread freeing it: every task is done, so no
 * receiver or sender waits any more. */
static void udp_shutdown(weft__io_obj_t* obj) {
  weft_udp_t* u = weft__container_of(obj, weft_udp_t, obj);
  u->closing = 1;
  free_queue(u);
  uv_close((uv_handle_t*)&u->handle, on_shutdown_closed);
}

/* A new socket on the calling task's worker, bound to addr and reading. */
static int udp_open(const struct sockaddr_storage* addr, weft_udp_t** out) {
  weft__worker_t* w = weft__io_enter_here(); /* a lookup may have moved us */
  weft_udp_t* u = weft__calloc(1, sizeof(*u));
  if (u == NULL)
    return WEFT_ENOMEM;
  u->home = w;
  /* With the family, the socket is made here; on failure the handle was
   * never added to the loop and plain free is right. */
  int err = uv_udp_init_ex(&w->loop, &u->handle, addr->ss_family);
  if (err != 0) {
    free(u);
    return err;
  }
  err = uv_udp_bind(&u->handle, (const struct sockaddr*)addr, 0);
  if (err == 0)
    err = uv_udp_recv_start(&u->handle, on_alloc, on_recv);
  if (err != 0) {
    close_and_free(u);
    return err;
  }
  weft__io_obj_add_named(w, &u->obj, udp_shutdown, "UDP socket", udp_describe);
  *out = u;
  return 0;
}

int weft_udp_bind(const char* host, unsigned port, weft_udp_t** out) {
  struct sockaddr_storage addr;
  size_t n;
  int err;
  if (out == NULL)
    return WEFT_EINVAL;
  *out = NULL;
  /* A name is looked up (awaits, and the task may move): the socket then
   * belongs to the worker the task resumed on. */
  err =
      weft__dns_resolve(host != NULL ? host : "0.0.0.0", port, 0, &addr, 1, &n);
  if (err != 0)
    return err;
  return udp_open(&addr, out);
}

int weft_udp_sockname(weft_udp_t* u, struct sockaddr_storage* addr) {
  if (u == NULL || addr == NULL)
    return WEFT_EINVAL;
  int err = enter(u);
  if (err != 0)
    return err;
  int len = (int)sizeof(*addr);
  memset(addr, 0, sizeof(*addr));
  return uv_udp_getsockname(&u->handle, (struct sockaddr*)addr, &len);
}

int weft_udp_close(weft_udp_t* u) {
  if (u == NULL)
    return 0;
  int err = enter(u);
  if (err != 0)
    return err; /* WEFT_ECLOSED: a close is already waiting for the handle */
  u->closing = 1;
  weft__io_obj_remove(u->home, &u->obj);
  for (weft__io_op_t* op; (op = weft__fifo_pop(&u->rx)) != NULL;)
    weft__io_done(op, WEFT_ECLOSED);
  free_queue(u);
  close_and_free(u);
  return 0;
}
