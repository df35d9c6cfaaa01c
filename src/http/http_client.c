/* The HTTP/1.1 client: a keep-alive pool per scheme, host and port, and
 * one exchange (a hop of the redirect loop in http_fetch.c) on a pooled
 * or fresh connection, plain or TLS.
 *
 * DESIGN
 * A client is shared by any number of tasks on any workers. A pthread
 * mutex guards the list of hosts, each host's idle connections and the
 * in-flight count; it is held for a few pointer moves only, never across
 * an await (a task holding it could move to another worker or park, and
 * every other user of the client would stall its worker).
 *
 * Each host has a weft_sem_t of max_conns_per_host permits: a request
 * holds one from before it takes a connection until it gives it back, so
 * a host never has more connections than that (idle ones included: a
 * request takes an idle one before it makes a new one) and the idle list
 * never needs more room than max_conns_per_host. Requests over the limit
 * wait for a permit in arrival order (the semaphore is FIFO); debug mode
 * warns once per host when more than kQueueWarn of them wait.
 *
 * A connection goes back to the pool only after a whole response was read,
 * both sides meant to keep it (keep-alive, framed body), and the response
 * ended exactly where the bytes received so far do; anything else (an
 * error, a timeout, a body read to the end of the stream, a byte past the
 * response) closes it. A byte past the response would otherwise be read
 * as the start of the next request's response: on a shared client, one
 * user reading what was meant for another. The check is made again when a
 * connection is taken from the pool, for bytes that came while it idled.
 *
 * HTTPS: one client TLS context per client (ALPN "http/1.1"), made when
 * the client is (a CA file or the caller's context) or at the first https
 * request (the system store); weft_tls_start runs on each new connection,
 * and from then on a TLS stream is used exactly as a plain one. Servers
 * often close idle keep-alive connections without close_notify: a reused
 * connection that ends in WEFT_ETRUNCATED before any response byte is a
 * stale connection like one reset (retried), while a body framed by the
 * end of the stream that ends so is a truncation: an error.
 *
 * Deadlines (all on by default): connecting (TLS handshake included), the
 * time from the request's first byte (after a streamed body: from its
 * end) until the final response head (1xx heads included, so an endless
 * stream of 100 Continue ends too), and the whole request; each is a
 * weft_timeout_enter scope, the inner ones nested in the outer.
 * A pooled connection the server has closed meanwhile is seen at the next
 * use: either at_eof already says so (dropped, no harm done), or the
 * request fails before any byte of the response came back; for idempotent
 * methods that request is then retried once on a fresh connection (the
 * server may have closed it just as we sent, RFC 9112 9.3.1), unless a
 * streamed body was already pulled from its source.
 *
 * Pooled streams live on the worker that connected them; weft_stream_*
 * calls move the task there, so any worker may use any pooled stream.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/common.h"
#include "base/opts.h"
#include "core/runtime.h"
#include "http/http_client.h"
#include "io/io.h"
#include "io/stream.h"
#include "io/tls.h"

enum { kQueueWarn = 1024 }; /* waiting requests per host: debug warns */

/* ---- The pool --------------------------------------------------------------
 */

static weft__http_host_t* host_new(weft_http_client_t* c, const char* name,
                                   unsigned port, int tls) {
  weft__http_host_t* h = weft__calloc(1, sizeof(*h));
  if (h == NULL)
    return NULL;
  h->idle = weft__calloc(c->max_conns, sizeof(*h->idle));
  if (h->idle == NULL || weft_sem_new(c->max_conns, 0, &h->slots) != 0) {
    free(h->idle);
    free(h);
    return NULL;
  }
  snprintf(h->name, sizeof(h->name), "%s", name);
  h->port = port;
  h->tls = tls;
  return h;
}

/* The host's entry (made on first use) and one more request in flight. */
static weft__http_host_t* host_get(weft_http_client_t* c,
                                   const weft__http_url_t* u) {
  pthread_mutex_lock(&c->lock);
  weft__http_host_t* h = c->hosts;
  while (h != NULL && (h->port != u->port || h->tls != u->tls ||
                       strcmp(h->name, u->host) != 0))
    h = h->next;
  if (h == NULL && (h = host_new(c, u->host, u->port, u->tls)) != NULL) {
    h->next = c->hosts;
    c->hosts = h;
  }
  if (h != NULL)
    c->inflight++;
  pthread_mutex_unlock(&c->lock);
  return h;
}

static void request_done(weft_http_client_t* c) {
  pthread_mutex_lock(&c->lock);
  c->inflight--;
  pthread_mutex_unlock(&c->lock);
}

static weft_stream_t* pool_take(weft_http_client_t* c, weft__http_host_t* h) {
  pthread_mutex_lock(&c->lock);
  weft_stream_t* s = h->nidle > 0 ? h->idle[--h->nidle] : NULL;
  pthread_mutex_unlock(&c->lock);
  return s;
}

/* Cannot fail: the slot permits keep the idle list from overflowing. */
static void pool_put(weft_http_client_t* c, weft__http_host_t* h,
                     weft_stream_t* s) {
  pthread_mutex_lock(&c->lock);
  h->idle[h->nidle++] = s;
  pthread_mutex_unlock(&c->lock);
}

/* Waits for one of the host's connection permits (FIFO), counting the
 * waiters for debug mode's warning. */
static int slot_acquire(weft_http_client_t* c, weft__http_host_t* h) {
  if (weft_sem_try_acquire(h->slots) == 0)
    return 0;
  pthread_mutex_lock(&c->lock);
  size_t n = ++h->waiting;
  int warn = n > kQueueWarn && !h->warned && weft_current_runtime()->debug;
  h->warned |= warn;
  pthread_mutex_unlock(&c->lock);
  if (warn)
    weft__warn("HTTP client: more than %u requests to %s:%u wait for one "
               "of its %u connections (max_conns_per_host); they queue",
               (unsigned)kQueueWarn, h->name, h->port, c->max_conns);
  int err = weft_sem_acquire(h->slots);
  pthread_mutex_lock(&c->lock);
  h->waiting--;
  pthread_mutex_unlock(&c->lock);
  return err;
}

/* ---- Connecting ------------------------------------------------------------
 */

/* Ends the scope `t` (NULL: none) and turns a failure that its
 * deadline caused into WEFT_ETIMEDOUT. */
static int scope_exit(weft_timeout_t* t, int err) {
  if (t != NULL && weft_timeout_exit(t) == WEFT_ETIMEDOUT && err != 0)
    return WEFT_ETIMEDOUT;
  return err;
}

/* Enters a scope of `ms` (0: none, *t stays NULL). */
static int scope_enter(uint64_t ms, weft_timeout_t** t) {
  *t = NULL;
  return ms > 0 ? weft_timeout_enter(ms, t) : 0;
}

/* The client's TLS context (the system store), made at the first https
 * request unless the client was given one or a CA file. */
static int client_tls(weft_http_client_t* c, weft_tls_t** out) {
  int err = 0;
  pthread_mutex_lock(&c->lock);
  if (c->tls == NULL) {
    weft_tls_opts_t o = {.alpn = "http/1.1"};
    err = weft_tls_new(WEFT_TLS_CLIENT, &o, &c->tls);
  }
  *out = c->tls;
  pthread_mutex_unlock(&c->lock);
  return err;
}

/* The handshake on a new connection to h; the reason of a failure goes to
 * the log, since the stream that knows it is closed. */
static int start_tls(weft_http_client_t* c, weft__http_host_t* h,
                     weft_stream_t* s) {
  weft_tls_t* tls;
  int err = client_tls(c, &tls);
  if (err == 0)
    err = weft_tls_start(s, tls, h->name);
  if (err == WEFT_ECERT || err == WEFT_ETLS) {
    char msg[256];
    weft_tls_error(s, msg, sizeof(msg));
    weft__log(WEFT_LOG_WARN, "https://%s:%u: %s", h->name, h->port, msg);
  }
  return err;
}

static int connect_within(weft_http_client_t* c, weft__http_host_t* h,
                          weft_stream_t** out) {
  weft_timeout_t* t;
  int err = scope_enter(c->connect_timeout_ms, &t);
  if (err != 0)
    return err;
  err = weft_tcp_connect(h->name, h->port, out);
  if (err == 0)
    weft_stream_nodelay(*out, 1);
  if (err == 0 && h->tls && (err = start_tls(c, h, *out)) != 0) {
    weft_stream_abort(*out);
    *out = NULL;
  }
  return scope_exit(t, err);
}

/* An idle connection that still looks open and holds no stray bytes, or a
 * new one in *out; *reused says which. */
static int get_conn(weft_http_client_t* c, weft__http_host_t* h,
                    weft_stream_t** out, int* reused) {
  weft_stream_t* s;
  while ((s = pool_take(c, h)) != NULL) {
    int eof = weft_stream_at_eof(s);
    if (eof == 0 && weft__stream_buffered(s) == 0) {
      *out = s;
      *reused = 1;
      return 0;
    }
    weft_stream_abort(s); /* closed, or bytes nobody asked for */
    if (eof < 0 && eof != WEFT_ECLOSED)
      return eof; /* a cancellation, say */
  }
  *reused = 0;
  return connect_within(c, h, out);
}

/* ---- One exchange -------------------------------------------------------- */

typedef struct {
  weft_http_client_t* c;
  const weft__http_buf_t* req; /* the head, and a body given as bytes */
  weft__http_payload_t* body;  /* a body pulled from a source, or NULL */
  int is_head;
  weft__http_head_t h;
  char* headbuf;
  int got_bytes; /* some of the response came */
  int keep;      /* the connection may be pooled afterwards */
} weft__http_xchg_t;

/* Reads heads until a final (non-1xx) one. */
static int read_head(weft__http_xchg_t* x, weft_stream_t* s) {
  for (;;) {
    ptrdiff_t n =
        weft_stream_readuntil(s, "\r\n\r\n", 4, x->headbuf, x->c->max_header);
    if (n == WEFT_ELIMIT || n == WEFT_ENOBUFS)
      return WEFT_ELIMIT;
    if (n < 0) {
      x->got_bytes |= weft__stream_buffered(s) > 0;
      return (int)n;
    }
    x->got_bytes = 1;
    ssize_t r = weft__http_parse_response(x->headbuf, (size_t)n, &x->h);
    if (r < 0)
      return r == WEFT_ELIMIT ? WEFT_ELIMIT : WEFT_EPROTO;
    if (x->h.status == 101)
      return WEFT_EPROTO; /* no protocol switches */
    if (x->h.status >= 200)
      return 0;
  }
}

static int fill_response(weft__http_xchg_t* x, weft_http_response_t* resp) {
  resp->status = x->h.status;
  for (size_t i = 0; i < x->h.nfields; i++) {
    const weft__http_field_t* f = &x->h.fields[i];
    int err = weft__http_response_add(resp, f->name, f->value);
    if (err != 0)
      return err;
  }
  return 0;
}

/* Writes n bytes and waits until the socket took them: the backpressure
 * that keeps a streamed body from piling up in memory. */
static int write_drained(weft_stream_t* s, const void* p, size_t n) {
  int err = weft_stream_write(s, p, n);
  return err == 0 ? weft_stream_drain(s) : err;
}

/* Pulls the source dry onto s: chunked when its length is unknown, else
 * exactly source_len bytes (a source that gives more or less fails the
 * request with WEFT_EINVAL). */
static int send_source(weft_stream_t* s, weft__http_payload_t* b) {
  enum { kPiece = 16 * 1024 };
  char* buf = weft__malloc(kPiece + 2);
  if (buf == NULL)
    return WEFT_ENOMEM;
  uint64_t total = 0;
  int chunked = b->source_len == 0;
  int err = 0;
  b->used = 1;
  for (;;) {
    ptrdiff_t n = b->source(b->arg, buf, kPiece);
    if (n < 0 || (size_t)n > kPiece) {
      err = n < 0 ? (int)n : WEFT_EINVAL;
      break;
    }
    total += (uint64_t)n;
    if (!chunked && total > b->source_len) {
      err = WEFT_EINVAL;
      break;
    }
    if (n == 0)
      break;
    char size[24];
    int len = snprintf(size, sizeof(size), "%zx\r\n", (size_t)n);
    memcpy(buf + n, "\r\n", 2);
    if ((chunked && (err = weft_stream_write(s, size, (size_t)len)) != 0) ||
        (err = write_drained(s, buf, (size_t)n + (chunked ? 2 : 0))) != 0)
      break;
  }
  free(buf);
  if (err == 0 && !chunked && total != b->source_len)
    err = WEFT_EINVAL;
  if (err == 0 && chunked)
    err = write_drained(s, "0\r\n\r\n", 5);
  return err;
}

/* Sends the request and reads heads up to the final one, within the head
 * deadline (which starts after a streamed body). */
static int send_and_read_head(weft__http_xchg_t* x, weft_stream_t* s) {
  int err = write_drained(s, x->req->p, x->req->len);
  if (err == 0 && x->body != NULL)
    err = send_source(s, x->body);
  weft_timeout_t* t;
  if (err != 0 || (err = scope_enter(x->c->head_timeout_ms, &t)))
    return err;
  err = read_head(x, s);
  return scope_exit(t, err);
}

/* The body after the head, read whole into resp. */
static int read_body(weft__http_xchg_t* x, weft_stream_t* s,
                     weft_http_response_t* resp) {
  int st = x->h.status;
  int framed = x->h.chunked || x->h.content_length >= 0;
  int err;
  if (x->is_head || st == 204 || st == 304) {
    err = weft__http_read_body(s, &(weft__http_head_t){.content_length = -1}, 0,
                               &resp->body, &resp->body_len);
    framed = 1;
  } else if (framed) {
    err = weft__http_read_body(s, &x->h, x->c->max_body, &resp->body,
                               &resp->body_len);
  } else {
    err =
        weft__http_read_to_eof(s, x->c->max_body, &resp->body, &resp->body_len);
  }
  /* Reusable only when the response ended where the received bytes do. */
  x->keep =
      err == 0 && framed && x->h.keep_alive && weft__stream_buffered(s) == 0;
  return err;
}

static int roundtrip(weft__http_xchg_t* x, weft_stream_t* s,
                     weft_http_response_t* resp, int whole) {
  x->got_bytes = 0;
  x->keep = 0;
  int err = weft_stream_set_limit(s, x->c->max_header);
  if (err == 0)
    err = send_and_read_head(x, s);
  if (err == 0)
    err = fill_response(x, resp);
  if (err == 0 && whole)
    err = read_body(x, s, resp);
  return err;
}

/* A failure of a reused connection before any response byte: the server
 * closed it while it idled (a TLS server often without close_notify). */
static int stale(int err) {
  return err == WEFT_EOF || err == UV_ECONNRESET || err == UV_EPIPE ||
         err == WEFT_ECLOSED || err == WEFT_ETRUNCATED;
}

/* Runs x on a connection to h (retrying a stale one once). With `open`,
 * the connection is handed over there after the head. */
static int exchange(weft__http_xchg_t* x, weft__http_host_t* h, int idempotent,
                    weft_http_response_t* resp, weft__http_open_t* open) {
  for (int attempt = 0;; attempt++) {
    weft_stream_t* s;
    int reused;
    int err = get_conn(x->c, h, &s, &reused);
    if (err != 0)
      return err;
    err = roundtrip(x, s, resp, open == NULL);
    if (err == 0 && open != NULL) {
      *open = (weft__http_open_t){
          .c = x->c, .h = h, .s = s, .head = x->h, .is_head = x->is_head};
      return 0;
    }
    if (err == 0 && x->keep) {
      pool_put(x->c, h, s);
      return 0;
    }
    if (err == 0) {
      weft_stream_close(s);
      return 0;
    }
    weft_stream_abort(s);
    if (!reused || !idempotent || x->got_bytes || !stale(err) || attempt > 0 ||
        (x->body != NULL && x->body->used))
      return err;
    weft_http_response_free(resp);
  }
}

void weft__http_open_done(weft__http_open_t* o, int reusable, int abort) {
  if (reusable)
    pool_put(o->c, o->h, o->s);
  else if (abort)
    weft_stream_abort(o->s);
  else
    weft_stream_close(o->s);
  o->s = NULL;
  weft_sem_release(o->h->slots);
  request_done(o->c);
}

/* ---- One hop ---------------------------------------------------------------
 */

static int is_idempotent(const char* m) {
  static const char* const kMethods[] = {"GET",    "HEAD",    "PUT",
                                         "DELETE", "OPTIONS", "TRACE"};
  for (size_t i = 0; i < sizeof(kMethods) / sizeof(kMethods[0]); i++) {
    if (strcmp(m, kMethods[i]) == 0)
      return 1;
  }
  return 0;
}

/* The exchange under the host's permit, the request's timeout scope around
 * it all (in stream mode, until the head). */
static int request_on(weft__http_xchg_t* x, weft__http_host_t* h,
                      int idempotent, weft_http_response_t* resp,
                      weft__http_open_t* open) {
  weft_timeout_t* t;
  int err = scope_enter(x->c->timeout_ms, &t);
  if (err != 0)
    return err;
  if ((err = slot_acquire(x->c, h)) == 0) {
    err = exchange(x, h, idempotent, resp, open);
    if (err != 0 || open == NULL)
      weft_sem_release(h->slots);
  }
  return scope_exit(t, err);
}

int weft__http_hop(weft_http_client_t* c, const weft__http_hop_t* hop,
                   weft_http_response_t* resp, weft__http_open_t* open) {
  weft__http_url_t u;
  int err = weft__http_parse_url(hop->url, &u);
  if (err != 0)
    return err;
  if (u.tls && !weft_tls_available())
    return WEFT_ENOTSUP;
  weft__http_buf_t req = {0};
  weft__http_payload_t* src = hop->body->source != NULL ? hop->body : NULL;
  weft__http_xchg_t x = {.c = c, .req = &req, .body = src};
  x.is_head = strcmp(hop->method, "HEAD") == 0;
  x.headbuf = weft__malloc(c->max_header);
  weft__http_host_t* h = NULL;
  err =
      x.headbuf == NULL ? WEFT_ENOMEM : weft__http_build_request(&req, hop, &u);
  if (err == 0 && (h = host_get(c, &u)) == NULL)
    err = WEFT_ENOMEM;
  if (err == 0) {
    err = request_on(&x, h, is_idempotent(hop->method), resp, open);
    if (open == NULL || err != 0)
      request_done(c); /* else when the body is done with */
  }
  weft__http_buf_free(&req);
  free(x.headbuf);
  return err;
}

/* ---- The client ------------------------------------------------------------
 */

/* A configured deadline: 0 takes the default, WEFT_HTTP_NO_TIMEOUT none
 * (kept as 0 here). */
static uint64_t deadline(uint64_t ms, uint64_t dflt) {
  return ms == 0 ? dflt : ms == WEFT_HTTP_NO_TIMEOUT ? 0 : ms;
}

enum { kDefaultConns = 64u };
enum { kDefaultMaxHeader = (64u * 1024u) };
enum { kDefaultMaxBody = (64u * 1024u * 1024u) };
enum { kDefaultConnectMs = 10000u };
enum { kDefaultHeadMs = 30000u };
enum { kDefaultTimeoutMs = 300000u };
enum { kDefaultRedirects = 10u };

static void set_limits(weft_http_client_t* c,
                       const weft_http_client_config_t* cfg) {
  static const weft_http_client_config_t kZero;
  cfg = cfg != NULL ? cfg : &kZero;
  c->max_conns =
      cfg->max_conns_per_host ? cfg->max_conns_per_host : kDefaultConns;
  c->timeout_ms = deadline(cfg->timeout_ms, kDefaultTimeoutMs);
  c->connect_timeout_ms = deadline(cfg->connect_timeout_ms, kDefaultConnectMs);
  c->head_timeout_ms = deadline(cfg->head_timeout_ms, kDefaultHeadMs);
  c->max_header =
      cfg->max_header_bytes ? cfg->max_header_bytes : kDefaultMaxHeader;
  c->max_body = cfg->max_body_bytes ? cfg->max_body_bytes : kDefaultMaxBody;
  c->max_redirects =
      cfg->max_redirects == 0 ? kDefaultRedirects
      : cfg->max_redirects == WEFT_HTTP_OFF
          ? 0
          : (unsigned)(cfg->max_redirects > 1000 ? 1000 : cfg->max_redirects);
}

/* The TLS settings: the caller's context (retained), or one for the CA
 * file made now so that a bad file fails here. */
static int set_tls(weft_http_client_t* c,
                   const weft_http_client_config_t* cfg) {
  if (cfg == NULL || (cfg->tls == NULL && cfg->ca_file == NULL))
    return 0;
  if (cfg->tls != NULL) {
    if (cfg->ca_file != NULL || weft__tls_mode(cfg->tls) != WEFT_TLS_CLIENT)
      return WEFT_EINVAL;
    c->tls = weft__tls_retain(cfg->tls);
    return 0;
  }
  weft_tls_opts_t o = {.ca_file = cfg->ca_file, .alpn = "http/1.1"};
  return weft_tls_new(WEFT_TLS_CLIENT, &o, &c->tls);
}

int weft_http_client_new(const weft_http_client_config_t* cfg,
                         weft_http_client_t** out) {
  weft_http_client_config_t copy; /* the caller's, as this version reads it */
  if (out == NULL || WEFT__OPTS_READ(&copy, cfg, max_redirects) != 0)
    return WEFT_EINVAL;
  *out = NULL;
  cfg = cfg != NULL ? &copy : NULL;
  weft_http_client_t* c = weft__calloc(1, sizeof(*c));
  if (c == NULL)
    return WEFT_ENOMEM;
  if (pthread_mutex_init(&c->lock, NULL) != 0) {
    free(c);
    return WEFT_ENOMEM;
  }
  set_limits(c, cfg);
  int err = set_tls(c, cfg);
  if (err != 0) {
    pthread_mutex_destroy(&c->lock);
    free(c);
    return err;
  }
  *out = c;
  return 0;
}

int weft_http_client_free(weft_http_client_t* c) {
  int err;
  if (c == NULL)
    return 0;
  if (weft__io_task_worker(&err) == NULL)
    return err;
  pthread_mutex_lock(&c->lock);
  size_t inflight = c->inflight;
  pthread_mutex_unlock(&c->lock);
  if (inflight > 0)
    return WEFT_EBUSY;
  /* Nobody else uses the client now (the caller's promise), so the lists
   * are ours without the lock while we await the closes. */
  while (c->hosts != NULL) {
    weft__http_host_t* h = c->hosts;
    c->hosts = h->next;
    for (size_t i = 0; i < h->nidle; i++)
      weft_stream_close(h->idle[i]);
    weft_sem_free(h->slots);
    free(h->idle);
    free(h);
  }
  weft__tls_release(c->tls);
  pthread_mutex_destroy(&c->lock);
  free(c);
  return 0;
}
