/* The HTTP/1.1 server: weft_http_serve, one task per connection (the TCP
 * server's), reading requests and writing responses in a loop.
 *
 * DESIGN
 * Each request goes through named steps, each with its own bound:
 *
 *   1. Idle: the connection waits for the request's first byte, within
 *      idle_timeout_ms, listed as idle in the connection table
 *      (http_conns.c), which may evict it for a new connection when the
 *      server is full. The stream's read buffer is released first
 *      (weft__stream_trim), and the head buffer is freed after each
 *      request, so an idle connection holds its task and a few hundred
 *      bytes of heap.
 *   2. Head: readuntil "\r\n\r\n" within head_timeout_ms of that first
 *      byte (408 after it; Go's ReadHeaderTimeout), the stream's limit
 *      set to max_header_bytes (431 past it). The head buffer starts at
 *      kHeadStart bytes and grows to max_header_bytes only for a head that
 *      needs it (readuntil's WEFT_ENOBUFS consumes nothing, so the read is
 *      simply made again). A head of empty lines only is skipped (RFC 9112
 *      2.2). The head is parsed in place (http_parse.c) and its pieces
 *      NUL-terminated inside the buffer, so the handler gets C strings
 *      without copies.
 *   3. Body (http_reader.c): at most body_buffer_bytes are read before the
 *      handler runs, under the minimum body rate. A body that fits is
 *      handed over whole (req->body); a larger one is streamed to the
 *      handler (weft_http_request_read), which is the backpressure: the
 *      server reads as the handler asks. Over max_body_bytes: 413 (or
 *      WEFT_ELIMIT in the handler); bad framing: 400.
 *   4. Handler, then the response, always with Content-Length.
 *   5. What the handler left of the body is read and dropped, up to
 *      kDrainMax; more than that, or any error in the body, closes the
 *      connection after the response.
 *
 * Pipelined requests need nothing special: the next head is already in the
 * stream's buffer.
 *
 * After an error response the server half-closes and discards what the
 * client still sends, for up to a second (a "lingering close"): closing
 * with unread bytes would make the kernel send a reset, which may destroy
 * the response before the client reads it.
 *
 * Lifetime of the shared settings: weft_server_close frees the TCP server
 * but cannot tell us, and handlers may still run afterwards, so the
 * settings block is registered as an I/O object of the creating worker and
 * freed when the runtime ends (a few hundred bytes per server ever made).
 */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/common.h"
#include "base/opts.h"
#include "http/http.h"
#include "io/io.h"
#include "io/stream.h"

enum { kDefaultMaxHeader = (16u * 1024u) };
enum { kDefaultMaxBody = (8u * 1024u * 1024u) };
enum { kDefaultIdleMs = 60000u };
enum { kDefaultHeadMs = 10000u };
enum { kDefaultRate = 1024u };
enum { kDefaultBodyBuffer = (1024u * 1024u) };
enum { kHeadStart = (2u * 1024u) }; /* the head buffer, for most heads */
enum { kDrainMax = (64u * 1024u) }; /* unread body dropped to keep alive */
enum { kLingerMs = 1000u };
enum { kLingerBytes = (256u * 1024u) };
enum { kInlineBody = (64u * 1024u) }; /* bodies sent in the head's write */

/* The server's settings (read-only once serving) and its connection
 * table. */
typedef struct {
  weft__io_obj_t obj;
  weft_http_handler_fn handler;
  void* arg;
  size_t max_header;
  size_t max_body;
  size_t body_buffer;
  uint64_t idle_ms; /* 0: none, as for the two below */
  uint64_t head_ms;
  uint64_t rate; /* WEFT_HTTP_OFF: none */
  weft__http_conns_t conns;
} weft__http_srv_t;

/* One connection; its task's own. */
typedef struct {
  weft_stream_t* s;
  weft__http_srv_t* srv;
  char* head; /* headcap bytes, NULL between requests */
  size_t headcap;
  size_t first; /* bytes of head read before the head's readuntil */
  weft__http_head_t h;
  weft__http_idle_t idle;
  weft__http_idle_t live; /* on the table's list while the task runs */
  weft_http_header_t headers[WEFT__HTTP_MAX_FIELDS];
} weft__http_conn_t;

/* ---- Writing ------------------------------------------------------------- */

static int send_buf(weft_stream_t* s, const void* p, size_t len) {
  int err = weft_stream_write(s, p, len);
  return err != 0 ? err : weft_stream_drain(s);
}

/* Half-closes, then reads and drops what the client still sends. */
static void linger(weft_stream_t* s) {
  char buf[4096];
  weft_timeout_t* t;
  if (weft_stream_shutdown(s) != 0 || weft_timeout_enter(kLingerMs, &t) != 0)
    return;
  size_t total = 0;
  ptrdiff_t n;
  while (total < kLingerBytes &&
         (n = weft_stream_read(s, buf, sizeof(buf))) > 0)
    total += (size_t)n;
  weft_timeout_exit(t);
}

static void send_error(weft_stream_t* s, int status) {
  char buf[160];
  int n = snprintf(buf, sizeof(buf),
                   "HTTP/1.1 %d %s\r\nContent-Length: 0\r\n"
                   "Connection: close\r\n\r\n",
                   status, weft__http_reason(status));
  if (send_buf(s, buf, (size_t)n) == 0)
    linger(s);
}

/* Appends the status line and headers; *close gets the handler's wish. */
static int add_head(weft__http_buf_t* b, const weft_http_response_t* r,
                    int keep, int minor, int* close) {
  char line[96];
  snprintf(line, sizeof(line), "HTTP/1.1 %d %s\r\n", r->status,
           weft__http_reason(r->status));
  int err = weft__http_buf_adds(b, line), has_conn = 0;
  for (size_t i = 0; err == 0 && i < r->nheaders; i++) {
    const weft_http_header_t* f = &r->headers[i];
    if (weft__http_ieq(f->name, "content-length") ||
        weft__http_ieq(f->name, "transfer-encoding"))
      continue; /* we frame the body ourselves */
    if (weft__http_ieq(f->name, "connection")) {
      weft__http_str_t v = {f->value, strlen(f->value)};
      has_conn = 1;
      *close |= weft__http_has_token(v, "close");
    }
    err = weft__http_buf_field(b, f->name, f->value);
  }
  if (err == 0 && !has_conn && (!keep || minor == 0))
    err = weft__http_buf_adds(b, keep ? "Connection: keep-alive\r\n"
                                      : "Connection: close\r\n");
  return err;
}

/* Writes r; returns 0 to keep the connection, 1 to close it, or an error. */
static int send_response(weft__http_conn_t* c, const weft_http_response_t* r,
                         int keep) {
  weft__http_buf_t b = {0};
  int close = 0;
  int no_body = r->status == 204 || r->status == 304;
  int head_only = no_body || weft__http_str_ieq(c->h.method, "HEAD");
  int err = add_head(&b, r, keep, c->h.minor_version, &close);
  if (err == 0 && !no_body) {
    char cl[48];
    snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n", r->body_len);
    err = weft__http_buf_adds(&b, cl);
  }
  if (err == 0)
    err = weft__http_buf_add(&b, "\r\n", 2);
  int inline_body = !head_only && r->body_len <= kInlineBody;
  if (err == 0 && inline_body)
    err = weft__http_buf_add(&b, r->body, r->body_len);
  if (err == 0)
    err = send_buf(c->s, b.p, b.len);
  if (err == 0 && !head_only && !inline_body)
    err = send_buf(c->s, r->body, r->body_len);
  weft__http_buf_free(&b);
  return err != 0 ? err : (close || !keep);
}

/* ---- One request ------------------------------------------------------------
 */

/* NUL-terminates the parsed pieces in the head buffer (each is followed by
 * a separator the handler does not need) and fills the request. */
static void make_request(weft__http_conn_t* c, weft_http_request_t* req) {
  weft__http_head_t* h = &c->h;
  ((char*)h->method.p)[h->method.len] = '\0';
  ((char*)h->target.p)[h->target.len] = '\0';
  for (size_t i = 0; i < h->nfields; i++) {
    weft__http_field_t* f = &h->fields[i];
    ((char*)f->name.p)[f->name.len] = '\0';
    ((char*)f->value.p)[f->value.len] = '\0';
    c->headers[i] = (weft_http_header_t){f->name.p, f->value.p};
  }
  memset(req, 0, sizeof(*req));
  req->method = h->method.p;
  req->target = h->target.p;
  req->minor_version = h->minor_version;
  req->headers = c->headers;
  req->nheaders = h->nfields;
}

/* A timeout scope of `ms` (0: none, *t NULL), and its end: a failure the
 * deadline caused becomes WEFT_ETIMEDOUT. */
static int scope_enter(uint64_t ms, weft_timeout_t** t) {
  *t = NULL;
  return ms > 0 ? weft_timeout_enter(ms, t) : 0;
}

static int scope_exit(weft_timeout_t* t, int err) {
  if (t != NULL && weft_timeout_exit(t) == WEFT_ETIMEDOUT && err != 0)
    return WEFT_ETIMEDOUT;
  return err;
}

/* Makes the head buffer hold `cap` bytes (the first bytes kept). */
static int head_reserve(weft__http_conn_t* c, size_t cap) {
  if (c->headcap >= cap)
    return 0;
  char* p = weft__realloc(c->head, cap);
  if (p == NULL)
    return WEFT_ENOMEM;
  c->head = p;
  c->headcap = cap;
  return 0;
}

/* Step 1: the request's first byte, within the idle timeout, listed as
 * idle meanwhile. 0, or a negative code to close quietly. */
static int wait_request(weft__http_conn_t* c) {
  weft_timeout_t* t;
  char first;
  /* A shutdown closes keep-alive connections once their request is done
   * (one idle when it began was evicted: cancelled). */
  if (weft__http_conns_draining(&c->srv->conns))
    return WEFT_ECLOSED;
  weft__stream_trim(c->s);
  int err = scope_enter(c->srv->idle_ms, &t);
  if (err != 0)
    return err;
  if ((err = weft__http_conns_idle(&c->srv->conns, &c->idle)) != 0) {
    scope_exit(t, 0);
    return err;
  }
  err = weft_stream_readexactly(c->s, &first, 1, NULL);
  int evicted = weft__http_conns_busy(&c->srv->conns, &c->idle);
  err = scope_exit(t, err);
  if (err == 0 && !evicted)
    err = head_reserve(c, kHeadStart); /* not held while idle */
  if (err == 0 && !evicted) {
    c->head[0] = first;
    c->first = 1;
  }
  return evicted ? WEFT_ECANCELED : err;
}

/* Reads up to the end of the head after the bytes already in c->head:
 * its length, WEFT_ELIMIT past max_header, or another negative code. */
static ptrdiff_t read_head_bytes(weft__http_conn_t* c) {
  size_t max = c->srv->max_header + 1;
  for (;;) {
    ptrdiff_t n = weft_stream_readuntil(c->s, "\r\n\r\n", 4, c->head + c->first,
                                        c->headcap - c->first);
    if (n == WEFT_ENOBUFS && c->headcap < max) {
      if (head_reserve(c, max) != 0)
        return WEFT_ENOMEM;
      continue; /* nothing was consumed */
    }
    if (n == WEFT_ENOBUFS)
      return WEFT_ELIMIT;
    return n < 0 ? n : n + (ptrdiff_t)c->first;
  }
}

/* Step 2: reads and parses a head: 0, an HTTP status to answer with, or a
 * negative code to close quietly. */
static int read_head(weft__http_conn_t* c) {
  size_t skipped = 0;
  for (;;) {
    ptrdiff_t n = read_head_bytes(c);
    if (n == WEFT_ELIMIT)
      return 431;
    if (n < 0)
      return (int)n;
    c->first = 0;
    ssize_t r = weft__http_parse_request(c->head, (size_t)n, &c->h);
    if (r == WEFT_ELIMIT)
      return 431;
    if (r != WEFT_EAGAIN)
      return r < 0 ? 400 : 0;
    /* Only empty lines (a client's stray CRLFs after a body, RFC 9112
     * 2.2): skipped, up to a head's worth of them. */
    if ((skipped += (size_t)n) > c->srv->max_header)
      return 400;
  }
}

/* Step 2 under the head deadline: a head too slow gets 408. */
static int read_head_within(weft__http_conn_t* c) {
  weft_timeout_t* t;
  int st = scope_enter(c->srv->head_ms, &t);
  if (st != 0)
    return st;
  st = read_head(c);
  if (scope_exit(t, st < 0 ? st : 0) == WEFT_ETIMEDOUT) {
    weft__http_conns_count(&c->srv->conns, &c->srv->conns.stats.head_timeouts);
    return 408;
  }
  return st;
}

/* Step 3: what the body needs before the handler. A body of at most
 * body_buffer bytes is read whole into req.body; a larger one is left to
 * the handler, with what a chunked one already gave in rq->pre. 0, an HTTP
 * status, or a negative code. */
static int read_body(weft__http_conn_t* c, weft__http_req_t* rq) {
  const weft__http_srv_t* srv = c->srv;
  weft__http_reader_t* r = &rq->reader;
  weft__http_buf_t b = {0};
  if (c->h.content_length > 0 && (uint64_t)c->h.content_length > srv->max_body)
    return 413;
  int cont = c->h.expect_continue && c->h.minor_version >= 1;
  weft__http_reader_init(r, c->s, &c->h, srv->max_body, srv->rate);
  if (c->h.content_length > 0 &&
      (uint64_t)c->h.content_length > srv->body_buffer) {
    r->send_continue = cont; /* streamed: asked for at the first read */
    return 0;
  }
  r->send_continue = cont;
  int err = weft__http_buf_reserve(&b, 0);
  while (err == 0 && !r->done && b.len <= srv->body_buffer) {
    size_t room = srv->body_buffer + 1 - b.len;
    room = room < 16384 ? room : 16384;
    if ((err = weft__http_buf_reserve(&b, room)) != 0)
      break;
    ptrdiff_t n = weft__http_reader_read(r, b.p + b.len, room);
    if (n < 0)
      err = (int)n;
    b.len += n > 0 ? (size_t)n : 0;
  }
  if (err == 0 && b.p != NULL)
    b.p[b.len] = '\0';
  if (err == 0 && r->done) {
    rq->req.body = b.p;
    rq->req.body_len = b.len;
    return 0;
  }
  if (err == 0) { /* a chunked body past the buffer: the rest streams */
    rq->pre = b.p;
    rq->pre_len = b.len;
    return 0;
  }
  weft__http_buf_free(&b);
  if (r->slow)
    weft__http_conns_count(&c->srv->conns, &c->srv->conns.stats.slow_bodies);
  return err == WEFT_ELIMIT   ? 413
         : err == WEFT_EPROTO ? 400
         : r->slow            ? 408
                              : err;
}

/* Reads a whole request up to its body: 0 with rq filled, an HTTP status
 * to answer with, or a negative code to close quietly. */
static int read_request(weft__http_conn_t* c, weft__http_req_t* rq) {
  memset(rq, 0, sizeof(*rq));
  int st = wait_request(c);
  if (st == 0)
    st = read_head_within(c);
  if (st == 0) {
    make_request(c, &rq->req);
    st = read_body(c, rq);
  }
  return st;
}

/* Step 5: drops what the handler left of the body, up to kDrainMax: 1 if
 * the connection may go on, 0 if not. */
static int finish_body(weft__http_req_t* rq) {
  char buf[4096];
  size_t dropped = 0;
  weft__http_reader_t* r = &rq->reader;
  if (rq->req.body != NULL)
    return 1;
  if (r->send_continue)
    return 0; /* the client still waits for our go: it sent nothing */
  while (!r->done && r->err == 0 && dropped < kDrainMax) {
    ptrdiff_t n = weft__http_reader_read(r, buf, sizeof(buf));
    dropped += n > 0 ? (size_t)n : 0;
  }
  return r->done && r->err == 0;
}

static int call_handler(weft__http_conn_t* c, weft_http_request_t* req,
                        weft_http_response_t* resp) {
  memset(resp, 0, sizeof(*resp));
  int rc = c->srv->handler(req, resp, c->srv->arg);
  if (rc < 0 || resp->status < 200 || resp->status > 999) {
    weft_http_response_free(resp);
    return weft_http_response_set(resp, 500, NULL, NULL, 0);
  }
  if (resp->body == NULL)
    return weft_http_response_set(resp, resp->status, NULL, NULL, 0);
  return 0;
}

static void free_request(weft__http_req_t* rq) {
  free((char*)rq->req.body);
  free(rq->pre);
  weft__http_reader_free(&rq->reader);
}

/* Serves one request: 0 to go on with the connection, non-zero to end. */
static int serve_one(weft__http_conn_t* c) {
  weft__http_req_t rq;
  int st = read_request(c, &rq);
  if (st != 0) {
    free_request(&rq);
    if (st > 0) {
      weft__http_conns_count(&c->srv->conns, &c->srv->conns.stats.rejected);
      send_error(c->s, st);
    }
    return 1;
  }
  weft__http_conns_count(&c->srv->conns, &c->srv->conns.stats.requests);
  weft_http_response_t resp;
  int err = call_handler(c, &rq.req, &resp);
  int keep = c->h.keep_alive && finish_body(&rq) &&
             !weft__http_conns_draining(&c->srv->conns);
  if (rq.reader.slow)
    weft__http_conns_count(&c->srv->conns, &c->srv->conns.stats.slow_bodies);
  if (err == 0)
    err = send_response(c, &resp, keep);
  weft_http_response_free(&resp);
  free_request(&rq);
  free(c->head); /* idle connections hold no head buffer */
  c->head = NULL;
  c->headcap = 0;
  return err;
}

/* Refuses a connection over max_conns with none idle to make room. */
static void refuse(weft_stream_t* s) {
  static const char k503[] = "HTTP/1.1 503 Service Unavailable\r\n"
                             "Content-Length: 0\r\nConnection: close\r\n\r\n";
  if (send_buf(s, k503, sizeof(k503) - 1) == 0)
    linger(s); /* the request may be on its way: no reset over the 503 */
}

static int serve_conn(weft_stream_t* s, void* arg) {
  weft__http_srv_t* srv = arg;
  if (weft__http_conns_enter(&srv->conns) != 0) {
    refuse(s);
    return 0;
  }
  weft__http_conn_t* c = weft__calloc(1, sizeof(*c));
  if (c != NULL && weft_stream_set_limit(s, srv->max_header) == 0) {
    c->s = s;
    c->srv = srv;
    weft_stream_nodelay(s, 1);
    weft__http_conns_live(&srv->conns, &c->live);
    while (serve_one(c) == 0) {
    }
    weft__http_conns_gone(&srv->conns, &c->live);
    free(c->head);
  }
  free(c);
  weft__http_conns_leave(&srv->conns);
  return 0;
}

/* ---- Setup -------------------------------------------------------------- */

static void srv_shutdown(weft__io_obj_t* obj) {
  weft__http_srv_t* srv = weft__container_of(obj, weft__http_srv_t, obj);
  weft__http_conns_destroy(&srv->conns);
  free(srv);
}

/* A setting: 0 takes the default, WEFT_HTTP_OFF gives `off`. */
static uint64_t setting(uint64_t v, uint64_t dflt, uint64_t off) {
  return v == 0 ? dflt : v == WEFT_HTTP_OFF ? off : v;
}

static void configure(weft__http_srv_t* srv,
                      const weft_http_server_config_t* cfg) {
  static const weft_http_server_config_t kZero;
  if (cfg == NULL)
    cfg = &kZero;
  srv->max_header =
      cfg->max_header_bytes ? cfg->max_header_bytes : kDefaultMaxHeader;
  srv->max_body = cfg->max_body_bytes ? cfg->max_body_bytes : kDefaultMaxBody;
  srv->body_buffer =
      cfg->body_buffer_bytes ? cfg->body_buffer_bytes : kDefaultBodyBuffer;
  srv->idle_ms = setting(cfg->idle_timeout_ms, kDefaultIdleMs, 0);
  srv->head_ms = setting(cfg->head_timeout_ms, kDefaultHeadMs, 0);
  srv->rate = setting(cfg->min_body_rate, kDefaultRate, WEFT_HTTP_OFF);
}

int weft_http_serve(const char* host, unsigned port,
                    weft_http_handler_fn handler, void* arg,
                    const weft_http_server_config_t* cfg, weft_server_t** out) {
  int err;
  if (weft__io_task_worker(&err) == NULL)
    return err;
  weft_http_server_config_t copy; /* the caller's, as this version reads it */
  if (handler == NULL || out == NULL ||
      WEFT__OPTS_READ(&copy, cfg, max_conns) != 0)
    return WEFT_EINVAL;
  cfg = cfg != NULL ? &copy : NULL;
  weft__http_srv_t* srv = weft__calloc(1, sizeof(*srv));
  if (srv == NULL)
    return WEFT_ENOMEM;
  srv->handler = handler;
  srv->arg = arg;
  configure(srv, cfg);
  if ((err = weft__http_conns_init(&srv->conns,
                                   cfg != NULL ? cfg->max_conns : 0)) != 0) {
    free(srv);
    return err;
  }
  err = weft_tcp_serve(host, port, serve_conn, srv,
                       cfg != NULL ? &cfg->tcp : NULL, out);
  if (err != 0) {
    weft__http_conns_destroy(&srv->conns);
    free(srv);
    return err;
  }
  weft__http_conns_register(&srv->conns, *out);
  /* On the loop of the worker we run on now (the object list is under
   * its driver). */
  weft__io_obj_add_named(weft__io_enter_here(), &srv->obj, srv_shutdown,
                         "HTTP server settings", NULL);
  return 0;
}
