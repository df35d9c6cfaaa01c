/* Streams: asyncio's StreamReader and StreamWriter over a libuv stream
 * handle (TCP or pipe) that lives on one worker.
 *
 * DESIGN
 * Every call enters the stream's home loop (weft__io_enter) and gives it
 * back at the end, so the stream's fields need no lock of their own: only
 * the holder of home's driver touches them (core/driver.c), whether a task
 * or a libuv callback.
 *
 * Reading: libuv reads into the stream's buffer (alloc_cb hands out its
 * free end). Read-ahead stops once `limit` bytes wait unread and nobody
 * asks for more, which is the reader's backpressure on the peer. The
 * buffer starts at kReadMin bytes and doubles when a read would find less
 * than that free (a busy stream soon reads 64 KiB at a time; growth is
 * geometric, so a long wait for a large readexactly copies each byte a
 * bounded number of times); it is freed once empty if it grew far past
 * what read-ahead needs, and on request (weft__stream_trim) by a server
 * that waits for a connection's next request. Readers
 * look at the buffer first and wait only for more bytes; they consume only
 * what they return, so a reader that is cancelled, times out or hits the
 * limit leaves every byte readable. One reader waits at a time (a second
 * gets WEFT_EBUSY): two tasks reading one stream would interleave bytes.
 *
 * Writing: uv_try_write sends what the socket takes now; the rest is copied
 * into a uv_write request. `wqueued` counts those bytes; drain waits while
 * it is above the high watermark until it falls to the low one.
 *
 * Lifetime: `refs` counts the owner (until close) and every call in
 * progress, so a task woken by a close (WEFT_ECLOSED) can still leave the
 * call safely; the last one frees the stream, after libuv's close callback.
 *
 * Filters (TLS, io/tls.c): a stream may get a filter between its socket
 * and its buffers. Raw bytes are then read into `raw` and handed to the
 * filter's input, which decodes them into the read buffer (rbuf) that
 * readers use as before; writes go through the filter's write, which
 * encodes and sends with weft__stream_send_raw. Everything above the two
 * buffers (readers, limits, drain, cancellation) is the same code for a
 * plain and a filtered stream, which is why TLS is a filter here and not
 * a stream type of its own. The filter runs where the bytes move: input
 * in the read callback, write in the writing task, both under home's
 * driver, like the rest of the stream.
 */
#include "base/alloc.h"
#include "io/stream.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/common.h"

enum { kReadMin = (4u * 1024u) };
enum { kReadAhead = (64u * 1024u) };
/* A filtered stream's raw read size: two TLS records and their headers. */
enum { kRawChunk = (34u * 1024u) };
typedef struct weft__wreq_s {
  uv_write_t req;
  weft_stream_t* s;
  size_t len;
  char data[];
} weft__wreq_t;

struct weft_stream_s {
  weft__io_obj_t obj;
  weft__worker_t* home;
  int kind;
  int refs;
  weft_stream_t** slot;
  void (*on_free)(void* arg); /* weft__stream_on_free */
  void* on_free_arg;
  union {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
    uv_tty_t tty;
  } h;
  /* The filter (weft__stream_set_filter), its state, its raw buffer. */
  const weft__stream_filter_t* filter;
  void* fdata;
  char* raw;
  int extra_fd; /* closed at free besides the handle's (a reopened tty) */
  /* Read side: unread bytes are rbuf[rpos, rpos + rlen). */
  char* rbuf;
  size_t rcap, rpos, rlen;
  size_t limit;
  int reading;
  int eof;
  int rerr;
  weft__io_op_t* reader;
  /* Write side. */
  size_t wqueued;
  size_t high, low;
  int werr;
  int wshut;
  weft__io_op_t* drainers;
  /* Close. */
  int closing;
  int closed;
  weft__io_op_t* closer;
};

/* ---- Lifetime ---------------------------------------------------------- */

static void stream_free(weft_stream_t* s) {
  if (s->filter != NULL)
    s->filter->free(s->fdata);
  free(s->raw);
  if (s->extra_fd > STDERR_FILENO)
    close(s->extra_fd);
  if (s->on_free != NULL)
    s->on_free(s->on_free_arg);
  if (s->slot != NULL)
    *s->slot = NULL;
  free(s->rbuf);
  free(s);
}

static void on_shutdown_closed(uv_handle_t* h) {
  stream_free(h->data);
}

/* Runtime end: every task is gone, so nobody holds a call ref. */
static void stream_shutdown(weft__io_obj_t* obj) {
  weft_stream_t* s = weft__container_of(obj, weft_stream_t, obj);
  uv_close(&s->h.handle, on_shutdown_closed);
}

void weft__stream_drop(weft_stream_t* s) {
  weft__io_obj_remove(s->home, &s->obj);
  s->closing = 1;
  uv_close(&s->h.handle, on_shutdown_closed);
}

weft_stream_t* weft__stream_alloc(weft__worker_t* w, int kind) {
  weft_stream_t* s = weft__calloc(1, sizeof(*s));
  if (s == NULL)
    return NULL;
  s->home = w;
  s->kind = kind;
  s->refs = 1;
  s->limit = WEFT_STREAM_LIMIT_DEFAULT;
  s->high = WEFT_HIGH_WATER_DEFAULT;
  s->low = WEFT_LOW_WATER_DEFAULT;
  s->extra_fd = -1;
  return s;
}

uv_stream_t* weft__stream_handle(weft_stream_t* s) {
  return &s->h.stream;
}

/* Debug mode's shutdown report: the TCP ends, local first. */
static void stream_describe(weft__io_obj_t* obj, char* buf, size_t n) {
  weft_stream_t* s = weft__container_of(obj, weft_stream_t, obj);
  struct sockaddr_storage local, peer;
  int llen = sizeof(local), plen = sizeof(peer);
  char a[72], b[72];
  if (s->kind != WEFT__STREAM_TCP ||
      uv_tcp_getsockname(&s->h.tcp, (struct sockaddr*)&local, &llen) != 0)
    return;
  weft__io_addr_text((struct sockaddr*)&local, a, sizeof(a));
  if (uv_tcp_getpeername(&s->h.tcp, (struct sockaddr*)&peer, &plen) == 0)
    weft__io_addr_text((struct sockaddr*)&peer, b, sizeof(b));
  else
    snprintf(b, sizeof(b), "(no peer)");
  snprintf(buf, n, "%s -> %s", a, b);
}

void weft__stream_attach(weft_stream_t* s) {
  s->h.handle.data = s;
  static const char* const kinds[] = {"stream", "TCP stream", "pipe stream",
                                      "terminal stream"};
  weft__io_obj_add_named(s->home, &s->obj, stream_shutdown, kinds[s->kind],
                         stream_describe);
}

void weft__stream_discard(weft_stream_t* s) {
  free(s);
}

void weft__stream_set_slot(weft_stream_t* s, weft_stream_t** slot) {
  s->slot = slot;
}

void weft__stream_close_at_free(weft_stream_t* s, int fd) {
  s->extra_fd = fd;
}

void weft__stream_on_free(weft_stream_t* s, void (*fn)(void* arg), void* arg) {
  s->on_free = fn;
  s->on_free_arg = arg;
}

weft__worker_t* weft__stream_home(const weft_stream_t* s) {
  return s->home;
}

/* Starts a call: enters home's loop and takes a call ref. */
int weft__stream_enter(weft_stream_t* s) {
  int err;
  if (s == NULL)
    return WEFT_EINVAL;
  if ((err = weft__io_in_task()) != 0)
    return err;
  weft__io_enter(s->home);
  if (s->closing)
    return WEFT_ECLOSED;
  s->refs++;
  return 0;
}

/* Ends a call: drops its ref, and gives the loop back, so a task that
 * computes after the call keeps nobody off it (core/driver.c). */
void weft__stream_leave(weft_stream_t* s) {
  weft__io_enter(s->home);
  if (--s->refs == 0)
    stream_free(s);
  weft__io_leave();
}

/* As enter, and a pending cancellation is delivered first (await points). */
static int enter_await(weft_stream_t* s) {
  int err = weft__stream_enter(s);
  if (err != 0)
    return err;
  if ((err = weft__io_check_cancel()) != 0)
    weft__stream_leave(s);
  return err;
}

/* ---- Reading ------------------------------------------------------------ */

static void wake_reader(weft_stream_t* s, int status) {
  weft__io_op_t* op = s->reader;
  if (op != NULL) {
    s->reader = NULL;
    weft__io_done(op, status);
  }
}

/* At least `want` free bytes at the end of the unread ones (moving them
 * to the front or growing the buffer); NULL when out of memory. */
static char* rbuf_space(weft_stream_t* s, size_t want, size_t* avail) {
  if (s->rlen == 0)
    s->rpos = 0;
  if (s->rcap - s->rpos - s->rlen < want && s->rpos > 0) {
    memmove(s->rbuf, s->rbuf + s->rpos, s->rlen);
    s->rpos = 0;
  }
  if (s->rcap - s->rlen < want) {
    /* Geometric: a head trickled in byte by byte never costs a copy of
     * the buffer per byte. */
    size_t cap = s->rcap != 0 ? s->rcap * 2 : kReadMin;
    while (cap - s->rlen < want)
      cap *= 2;
    char* grown = weft__realloc(s->rbuf, cap);
    if (grown == NULL)
      return NULL;
    s->rbuf = grown;
    s->rcap = cap;
  }
  *avail = s->rcap - s->rpos - s->rlen;
  return s->rbuf + s->rpos + s->rlen;
}

static void on_alloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf) {
  (void)suggested;
  weft_stream_t* s = h->data;
  size_t avail = kRawChunk;
  char* p = s->filter != NULL ? s->raw : rbuf_space(s, kReadMin, &avail);
  /* NULL: libuv reports UV_ENOBUFS. */
  *buf = uv_buf_init(p, p != NULL ? (unsigned)avail : 0);
}

static void stop_reading(weft_stream_t* s) {
  if (s->reading) {
    uv_read_stop(&s->h.stream);
    s->reading = 0;
  }
}

static void wake_drained(weft_stream_t* s);

/* Bytes, the end or an error arrived (n as libuv's read callback has it),
 * for a stream without a filter. */
static void take_input(weft_stream_t* s, ssize_t n) {
  if (n > 0)
    s->rlen += (size_t)n;
  else if (n == UV_EOF)
    s->eof = 1;
  else /* UV_ENOBUFS: on_alloc could not grow the buffer. */
    s->rerr = n == UV_ENOBUFS ? WEFT_ENOMEM : (int)n;
}

static void on_read(uv_stream_t* h, ssize_t n, const uv_buf_t* buf) {
  weft_stream_t* s = h->data;
  if (n == 0)
    return;
  if (s->filter == NULL)
    take_input(s, n);
  else if (n == UV_ENOBUFS)
    weft__stream_fail(s, WEFT_ENOMEM);
  else
    s->filter->input(s, s->fdata, n > 0 ? buf->base : NULL, n);
  if (s->eof || s->rerr != 0 || (s->rlen >= s->limit && s->reader == NULL))
    stop_reading(s);
  wake_reader(s, 0);
  if (s->werr != 0)
    wake_drained(s);
}

static int start_reading(weft_stream_t* s) {
  if (s->reading || s->eof || s->rerr != 0)
    return 0;
  int err = uv_read_start(&s->h.stream, on_alloc, on_read);
  if (err != 0)
    return err;
  s->reading = 1;
  return 0;
}

/* Frees an empty buffer (the next read starts small again). */
static void release_buf(weft_stream_t* s) {
  free(s->rbuf);
  s->rbuf = NULL;
  s->rcap = s->rpos = 0;
}

/* After a reader consumed: read ahead again if the buffer has room. A
 * buffer left empty that grew far past what read-ahead needs (a large
 * readexactly or readuntil) is freed. */
static void consume(weft_stream_t* s, void* out, size_t n) {
  if (out != NULL)
    memcpy(out, s->rbuf + s->rpos, n);
  s->rpos += n;
  s->rlen -= n;
  if (s->rlen == 0)
    s->rpos = 0;
  if (s->rlen == 0 &&
      s->rcap > 2 * (s->limit > kReadAhead ? s->limit : kReadAhead))
    release_buf(s);
  if (s->rlen < s->limit)
    start_reading(s); /* an error shows at the next wait */
}

static void cancel_reader(weft__io_op_t* op) {
  weft_stream_t* s = op->data;
  if (s->reader == op)
    wake_reader(s, UV_ECANCELED);
}

/* Waits until more bytes, end of stream or an error arrive. 0 or an
 * error; the caller looks at the buffer again. In home's loop on return. */
static int wait_for_data(weft_stream_t* s) {
  if (s->rerr != 0)
    return s->rerr;
  if (s->reader != NULL)
    return WEFT_EBUSY;
  int err = start_reading(s);
  if (err != 0)
    return err;
  weft__io_op_t op;
  weft__io_op_init(&op, cancel_reader, s);
  s->reader = &op;
  err = weft__io_wait(&op);
  weft__io_enter(s->home);
  return err;
}

static int check_buf(const weft_stream_t* s, const void* buf, size_t n) {
  if (s == NULL || buf == NULL || n == 0)
    return WEFT_EINVAL;
  return 0;
}

ptrdiff_t weft_stream_read(weft_stream_t* s, void* buf, size_t n) {
  int err = check_buf(s, buf, n);
  if (err != 0 || (err = enter_await(s)) != 0)
    return err;
  ptrdiff_t r = 0;
  for (;;) {
    if (s->rlen > 0) {
      size_t k = n < s->rlen ? n : s->rlen;
      consume(s, buf, k);
      r = (ptrdiff_t)k;
      break;
    }
    if (s->eof)
      break;
    if ((err = wait_for_data(s)) != 0) {
      r = err;
      break;
    }
  }
  weft__stream_leave(s);
  return r;
}

int weft_stream_readexactly(weft_stream_t* s, void* buf, size_t n,
                            size_t* got) {
  if (got != NULL)
    *got = 0;
  int err = check_buf(s, buf, n);
  if (err != 0 || (err = enter_await(s)) != 0)
    return err;
  /* Waits for all n before consuming any, so a cancelled or failed call
   * leaves every byte readable. */
  while (s->rlen < n && !s->eof && (err = wait_for_data(s)) == 0) {
  }
  if (err == 0 && s->rlen < n) {
    if (got != NULL)
      *got = s->rlen;
    consume(s, buf, s->rlen);
    err = WEFT_EOF;
  } else if (err == 0) {
    consume(s, buf, n);
  }
  weft__stream_leave(s);
  return err;
}

/* Looks for sep in the unread bytes from `from` on: its end offset, or 0. */
static size_t find_sep(const weft_stream_t* s, size_t from, const void* sep,
                       size_t seplen) {
  if (s->rlen < seplen || from > s->rlen - seplen)
    return 0;
  const char* base = s->rbuf + s->rpos;
  const char* hit = memmem(base + from, s->rlen - from, sep, seplen);
  return hit == NULL ? 0 : (size_t)(hit - base) + seplen;
}

/* readuntil's loop. `partial_at_eof`: readline's rule for the last line. */
static ptrdiff_t read_until(weft_stream_t* s, const void* sep, size_t seplen,
                            void* buf, size_t cap, int partial_at_eof) {
  size_t from = 0;
  for (;;) {
    size_t end = find_sep(s, from, sep, seplen);
    if (end > s->limit || (end == 0 && s->rlen >= s->limit))
      return WEFT_ELIMIT;
    if (end == 0 && s->eof) {
      if (!partial_at_eof)
        return WEFT_EOF;
      end = s->rlen;
      if (end == 0)
        return 0;
    }
    if (end > 0) {
      if (end > cap)
        return WEFT_ENOBUFS;
      consume(s, buf, end);
      return (ptrdiff_t)end;
    }
    from = s->rlen >= seplen ? s->rlen - seplen + 1 : 0;
    int err = wait_for_data(s);
    if (err != 0)
      return err;
  }
}

ptrdiff_t weft_stream_readuntil(weft_stream_t* s, const void* sep,
                                size_t seplen, void* buf, size_t cap) {
  int err = check_buf(s, buf, cap);
  if (err != 0 || sep == NULL || seplen == 0)
    return err != 0 ? err : WEFT_EINVAL;
  if ((err = enter_await(s)) != 0)
    return err;
  ptrdiff_t r = read_until(s, sep, seplen, buf, cap, 0);
  weft__stream_leave(s);
  return r;
}

ptrdiff_t weft_stream_readline(weft_stream_t* s, char* buf, size_t cap) {
  int err = check_buf(s, buf, cap);
  if (err != 0 || (err = enter_await(s)) != 0)
    return err;
  ptrdiff_t r = read_until(s, "\n", 1, buf, cap, 1);
  weft__stream_leave(s);
  return r;
}

int weft_stream_at_eof(weft_stream_t* s) {
  int r = weft__stream_enter(s);
  if (r != 0)
    return r;
  r = s->eof && s->rlen == 0;
  weft__stream_leave(s);
  return r;
}

int weft__stream_trim(weft_stream_t* s) {
  int err = weft__stream_enter(s);
  if (err != 0)
    return err;
  /* libuv holds the buffer only between on_alloc and on_read, within one
   * callback: never while a task runs here. */
  if (s->rlen == 0 && s->rcap > kReadMin)
    release_buf(s);
  weft__stream_leave(s);
  return 0;
}

ptrdiff_t weft__stream_buffered(weft_stream_t* s) {
  int err = weft__stream_enter(s);
  if (err != 0)
    return err;
  ptrdiff_t n = (ptrdiff_t)s->rlen;
  weft__stream_leave(s);
  return n;
}

int weft_stream_set_limit(weft_stream_t* s, size_t limit) {
  if (limit == 0)
    return WEFT_EINVAL;
  int err = weft__stream_enter(s);
  if (err != 0)
    return err;
  s->limit = limit;
  if (s->rlen < limit)
    start_reading(s);
  weft__stream_leave(s);
  return 0;
}

/* ---- Writing ------------------------------------------------------------ */

static void wake_drainers(weft_stream_t* s, int status) {
  weft__io_op_t* op = s->drainers;
  s->drainers = NULL;
  while (op != NULL) {
    weft__io_op_t* next = op->next;
    weft__io_done(op, status);
    op = next;
  }
}

/* A drainer waits until at most `target` bytes are queued. */
typedef struct {
  weft__io_op_t op;
  size_t target;
} weft__drain_t;

static void wake_drained(weft_stream_t* s) {
  weft__io_op_t** p = &s->drainers;
  while (*p != NULL) {
    weft__drain_t* d = weft__container_of(*p, weft__drain_t, op);
    if (s->werr != 0 || s->wqueued <= d->target) {
      *p = d->op.next;
      weft__io_done(&d->op, s->werr);
    } else {
      p = &(*p)->next;
    }
  }
}

static void on_write(uv_write_t* req, int status) {
  weft__wreq_t* w = weft__container_of(req, weft__wreq_t, req);
  weft_stream_t* s = w->s;
  s->wqueued -= w->len;
  if (status < 0 && s->werr == 0)
    s->werr = status;
  free(w);
  wake_drained(s);
}

static int queue_write(weft_stream_t* s, const char* data, size_t len) {
  weft__wreq_t* w = weft__malloc(sizeof(*w) + len);
  if (w == NULL)
    return WEFT_ENOMEM;
  memcpy(w->data, data, len);
  w->s = s;
  w->len = len;
  uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
  int err = uv_write(&w->req, &s->h.stream, &b, 1, on_write);
  if (err != 0) {
    free(w);
    return err;
  }
  s->wqueued += len;
  return 0;
}

int weft__stream_send_raw(weft_stream_t* s, const char* data, size_t len) {
  if (s->werr != 0)
    return s->werr;
  if (s->wshut)
    return WEFT_ECLOSED;
  while (len > 0) {
    size_t off = 0;
    size_t chunk = len > (1u << 30) ? (1u << 30) : len;
    if (s->wqueued == 0) {
      uv_buf_t b = uv_buf_init((char*)data, (unsigned)chunk);
      int n = uv_try_write(&s->h.stream, &b, 1);
      if (n >= 0)
        off = (size_t)n;
      else if (n != UV_EAGAIN && n != UV_ENOSYS)
        return s->werr = n;
    }
    if (off < chunk) {
      int err = queue_write(s, data + off, chunk - off);
      if (err != 0)
        return err;
    }
    data += chunk;
    len -= chunk;
  }
  return 0;
}

int weft_stream_write(weft_stream_t* s, const void* data, size_t len) {
  if (data == NULL && len > 0)
    return WEFT_EINVAL;
  int err = weft__stream_enter(s);
  if (err != 0)
    return err;
  if (s->werr != 0 || s->wshut)
    err = s->werr != 0 ? s->werr : WEFT_ECLOSED;
  else if (len > 0 && s->filter != NULL)
    err = s->filter->write(s, s->fdata, data, len);
  else if (len > 0)
    err = weft__stream_send_raw(s, data, len);
  weft__stream_leave(s);
  return err;
}

static void cancel_drain(weft__io_op_t* op) {
  weft_stream_t* s = op->data;
  for (weft__io_op_t** p = &s->drainers; *p != NULL; p = &(*p)->next)
    if (*p == op) {
      *p = op->next;
      weft__io_done(op, UV_ECANCELED);
      return;
    }
}

/* Waits until at most `target` bytes are queued. */
static int wait_drained(weft_stream_t* s, size_t target) {
  if (s->werr != 0 || s->wqueued <= target)
    return s->werr;
  weft__drain_t d = {.target = target};
  weft__io_op_init(&d.op, cancel_drain, s);
  d.op.next = s->drainers;
  s->drainers = &d.op;
  int err = weft__io_wait(&d.op);
  weft__io_enter(s->home);
  return err;
}

int weft_stream_drain(weft_stream_t* s) {
  int err = enter_await(s);
  if (err != 0)
    return err;
  err = s->werr;
  if (err == 0 && s->wqueued > s->high)
    err = wait_drained(s, s->low);
  weft__stream_leave(s);
  return err;
}

int weft_stream_set_watermarks(weft_stream_t* s, size_t high, size_t low) {
  if (low > high)
    return WEFT_EINVAL;
  int err = weft__stream_enter(s);
  if (err != 0)
    return err;
  s->high = high;
  s->low = low;
  weft__stream_leave(s);
  return 0;
}

size_t weft_stream_write_buffer_size(weft_stream_t* s) {
  if (weft__stream_enter(s) != 0)
    return 0;
  size_t n = s->wqueued;
  weft__stream_leave(s);
  return n;
}

/* A request the task may stop waiting for (cancelled) while libuv still
 * runs it: then `op` is cleared and the callback only frees it. */
typedef struct {
  uv_shutdown_t req;
  weft__io_op_t* op;
} weft__shut_t;

static void on_shutdown(uv_shutdown_t* req, int status) {
  weft__shut_t* sh = weft__container_of(req, weft__shut_t, req);
  if (sh->op != NULL)
    weft__io_done(sh->op, status);
  free(sh);
}

static void cancel_shutdown(weft__io_op_t* op) {
  weft__shut_t* sh = op->data;
  sh->op = NULL;
  weft__io_done(op, UV_ECANCELED);
}

/* Sends the end of stream once what is queued is out, and waits for it. */
static int shutdown_now(weft_stream_t* s) {
  weft__shut_t* sh = weft__malloc(sizeof(*sh));
  if (sh == NULL)
    return WEFT_ENOMEM;
  s->wshut = 1;
  int err = uv_shutdown(&sh->req, &s->h.stream, on_shutdown);
  if (err != 0) {
    free(sh);
    return err;
  }
  weft__io_op_t op;
  weft__io_op_init(&op, cancel_shutdown, sh);
  sh->op = &op;
  return weft__io_wait(&op);
}

int weft_stream_shutdown(weft_stream_t* s) {
  int err = enter_await(s);
  if (err != 0)
    return err;
  if (s->wshut)
    err = WEFT_ECLOSED;
  else if (s->filter != NULL) /* TLS: close_notify first */
    err = s->filter->finish(s, s->fdata);
  if (err == 0)
    err = shutdown_now(s);
  weft__stream_leave(s);
  return err;
}

/* ---- Closing ------------------------------------------------------------ */

static void on_closed(uv_handle_t* h) {
  weft_stream_t* s = h->data;
  s->closed = 1;
  if (s->closer != NULL)
    weft__io_done(s->closer, 0);
}

void weft__stream_close_start(weft_stream_t* s, int reset) {
  if (s->closing)
    return;
  s->closing = 1;
  weft__io_obj_remove(s->home, &s->obj);
  wake_reader(s, WEFT_ECLOSED);
  wake_drainers(s, WEFT_ECLOSED);
  if (!(reset && s->kind == WEFT__STREAM_TCP && !s->wshut &&
        uv_tcp_close_reset(&s->h.tcp, on_closed) == 0))
    uv_close(&s->h.handle, on_closed);
}

/* Waits for libuv's close callback and drops the owner's ref. On home,
 * holding a call ref. */
static void finish_close(weft_stream_t* s) {
  if (!s->closed) {
    weft__io_op_t op;
    weft__io_op_init(&op, NULL, s);
    s->closer = &op;
    weft__io_wait(&op); /* not cancellable: the callback comes at once */
    weft__io_enter(s->home);
    s->closer = NULL;
  }
  s->refs--;
}

static void close_handle(weft_stream_t* s, int reset) {
  weft__stream_close_start(s, reset);
  finish_close(s);
}

void weft__stream_destroy(weft_stream_t* s) {
  weft__io_enter(s->home);
  s->refs++;
  close_handle(s, 1);
  weft__stream_leave(s);
}

int weft_stream_close(weft_stream_t* s) {
  if (s == NULL)
    return 0;
  int err = weft__stream_enter(s);
  if (err != 0)
    return err;
  /* A filter's goodbye (TLS close_notify) goes out with the rest. */
  if (s->filter != NULL && !s->wshut && s->werr == 0)
    s->filter->finish(s, s->fdata);
  /* Send what is queued first; a cancellation or timeout gives up. */
  if (s->wqueued > 0 && s->werr == 0) {
    err = wait_drained(s, 0);
    if (s->closing) { /* closed by someone else meanwhile */
      weft__stream_leave(s);
      return WEFT_ECLOSED;
    }
  }
  if (err == 0 && s->wqueued > 0)
    err = s->werr;
  close_handle(s, 0);
  weft__stream_leave(s);
  return err;
}

int weft_stream_abort(weft_stream_t* s) {
  if (s == NULL)
    return 0;
  int err = weft__stream_enter(s);
  if (err != 0)
    return err;
  close_handle(s, 1);
  weft__stream_leave(s);
  return 0;
}

/* ---- Filters ----------------------------------------------------------- */

int weft__stream_set_filter(weft_stream_t* s, const weft__stream_filter_t* ops,
                            void* f) {
  if (s->filter != NULL)
    return WEFT_EBUSY;
  if ((s->raw = weft__malloc(kRawChunk)) == NULL)
    return WEFT_ENOMEM;
  /* What was read ahead before the filter came is the filter's: a peer
   * may send its first handshake bytes right behind a STARTTLS line. */
  char* ahead = NULL;
  size_t n = s->rlen;
  if (n > 0 && (ahead = weft__malloc(n)) == NULL) {
    free(s->raw);
    s->raw = NULL;
    return WEFT_ENOMEM;
  }
  if (n > 0)
    consume(s, ahead, n);
  int was_eof = s->eof;
  s->eof = 0;
  s->filter = ops;
  s->fdata = f;
  ops->input(s, f, ahead, (ssize_t)n); /* n == 0: only starts the filter */
  free(ahead);
  if (was_eof)
    ops->input(s, f, NULL, UV_EOF);
  return start_reading(s);
}

void* weft__stream_filter_data(weft_stream_t* s,
                               const weft__stream_filter_t* ops) {
  return s->filter == ops ? s->fdata : NULL;
}

char* weft__stream_rbuf_space(weft_stream_t* s, size_t want, size_t* avail) {
  return rbuf_space(s, want, avail);
}

void weft__stream_rbuf_commit(weft_stream_t* s, size_t n) {
  s->rlen += n;
}

void weft__stream_set_eof(weft_stream_t* s) {
  s->eof = 1;
}

void weft__stream_fail_read(weft_stream_t* s, int err) {
  if (s->rerr == 0)
    s->rerr = err;
  wake_reader(s, 0);
}

void weft__stream_fail(weft_stream_t* s, int err) {
  if (s->werr == 0)
    s->werr = err;
  weft__stream_fail_read(s, err);
  wake_drained(s);
}

int weft__stream_wait_input(weft_stream_t* s) {
  return wait_for_data(s);
}

/* ---- TCP options and addresses --------------------------------------------
 */

static int enter_tcp(weft_stream_t* s) {
  int err = weft__stream_enter(s);
  if (err == 0 && s->kind != WEFT__STREAM_TCP) {
    weft__stream_leave(s);
    err = WEFT_EINVAL;
  }
  return err;
}

int weft_stream_nodelay(weft_stream_t* s, int enable) {
  int err = enter_tcp(s);
  if (err != 0)
    return err;
  err = uv_tcp_nodelay(&s->h.tcp, enable != 0);
  weft__stream_leave(s);
  return err;
}

int weft_stream_keepalive(weft_stream_t* s, int enable, unsigned delay_s) {
  if (enable && delay_s == 0)
    return WEFT_EINVAL;
  int err = enter_tcp(s);
  if (err != 0)
    return err;
  err = uv_tcp_keepalive(&s->h.tcp, enable != 0, delay_s);
  weft__stream_leave(s);
  return err;
}

static int get_name(weft_stream_t* s, struct sockaddr_storage* addr, int peer) {
  if (addr == NULL)
    return WEFT_EINVAL;
  int err = enter_tcp(s);
  if (err != 0)
    return err;
  int len = (int)sizeof(*addr);
  err = peer ? uv_tcp_getpeername(&s->h.tcp, (struct sockaddr*)addr, &len)
             : uv_tcp_getsockname(&s->h.tcp, (struct sockaddr*)addr, &len);
  weft__stream_leave(s);
  return err;
}

int weft_stream_peername(weft_stream_t* s, struct sockaddr_storage* addr) {
  return get_name(s, addr, 1);
}

int weft_stream_sockname(weft_stream_t* s, struct sockaddr_storage* addr) {
  return get_name(s, addr, 0);
}
