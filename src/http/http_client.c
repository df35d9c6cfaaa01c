/* The HTTP/1.1 client: URL parsing, a keep-alive pool per host:port, and
 * one request/response exchange on a pooled or fresh connection.
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
 * never needs more room than max_conns_per_host.
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
 * Deadlines (all on by default): connecting, the time from the request
 * sent until the final response head (1xx heads included, so an endless
 * stream of 100 Continue ends too), and the whole request; each is a
 * weft_timeout_enter scope, the inner ones nested in the outer.
 * A pooled connection the server has closed meanwhile is seen at the next
 * use: either at_eof already says so (dropped, no harm done), or the
 * request fails before any byte of the response came back; for idempotent
 * methods that request is then retried once on a fresh connection (the
 * server may have closed it just as we sent, RFC 9112 9.3.1).
 *
 * Pooled streams live on the worker that connected them; weft_stream_*
 * calls move the task there, so any worker may use any pooled stream.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/opts.h"
#include "http/http.h"
#include "io/io.h"
#include "io/stream.h"

enum { kDefaultConns = 64u };
enum { kDefaultMaxHeader = (64u * 1024u) };
enum { kDefaultMaxBody = (64u * 1024u * 1024u) };
enum { kHostMax = 256 };
enum { kDefaultConnectMs = 10000u };
enum { kDefaultHeadMs = 30000u };
enum { kDefaultTimeoutMs = 300000u };
typedef struct weft__http_host_s {
  struct weft__http_host_s* next;
  char name[kHostMax]; /* for connecting: no brackets */
  unsigned port;
  weft_sem_t* slots;    /* connections in use or idle */
  weft_stream_t** idle; /* max_conns entries; under the client's lock */
  size_t nidle;
} weft__http_host_t;

struct weft_http_client_s {
  pthread_mutex_t lock;
  weft__http_host_t* hosts; /* under lock */
  size_t inflight;          /* under lock */
  unsigned max_conns;
  uint64_t timeout_ms;         /* 0: none */
  uint64_t connect_timeout_ms; /* 0: none */
  uint64_t head_timeout_ms;    /* 0: none */
  size_t max_header;
  size_t max_body;
};

typedef struct {
  char host[kHostMax];          /* for connecting */
  char authority[kHostMax + 8]; /* for the Host field */
  unsigned port;
  const char* target; /* path and query, up to '#' */
  size_t target_len;
} weft__http_url_t;

/* ---- URLs ------------------------------------------------------------------
 */

static int parse_port(const char* p, const char* end, unsigned* port) {
  unsigned n = 0;
  if (p == end)
    return WEFT_EINVAL;
  for (; p < end; p++) {
    if (*p < '0' || *p > '9' || (n = n * 10 + (unsigned)(*p - '0')) > 65535)
      return WEFT_EINVAL;
  }
  *port = n;
  return n == 0 ? WEFT_EINVAL : 0;
}

/* host[:port] or [v6][:port] in [p, end). */
static int parse_authority(const char* p, const char* end,
                           weft__http_url_t* u) {
  const char* hs = p;
  const char* he;
  if (*p == '[') {
    he = memchr(p, ']', (size_t)(end - p));
    if (he == NULL)
      return WEFT_EINVAL;
    hs = p + 1;
    p = he + 1;
  } else {
    he = memchr(p, ':', (size_t)(end - p));
    he = he != NULL ? he : end;
    p = he;
  }
  if (he == hs || (size_t)(he - hs) >= kHostMax ||
      memchr(hs, '@', (size_t)(he - hs)) != NULL)
    return WEFT_EINVAL;
  memcpy(u->host, hs, (size_t)(he - hs));
  u->host[he - hs] = '\0';
  u->port = 80;
  if (p < end && (*p != ':' || parse_port(p + 1, end, &u->port) != 0))
    return WEFT_EINVAL;
  return 0;
}

static int parse_url(const char* url, weft__http_url_t* u) {
  if (strncasecmp(url, "http://", 7) != 0)
    return WEFT_EINVAL; /* https too: no TLS */
  const char* a = url + 7;
  const char* end = a + strcspn(a, "/?#");
  if (end == a || parse_authority(a, end, u) != 0)
    return WEFT_EINVAL;
  size_t alen = (size_t)(end - a);
  if (alen >= sizeof(u->authority))
    return WEFT_EINVAL;
  memcpy(u->authority, a, alen);
  u->authority[alen] = '\0';
  u->target = end;
  u->target_len = strcspn(end, "#");
  for (size_t i = 0; i < u->target_len; i++) {
    unsigned char c = (unsigned char)end[i];
    if (c <= 0x20 || c == 0x7f)
      return WEFT_EINVAL;
  }
  return 0;
}

/* ---- The pool --------------------------------------------------------------
 */

static weft__http_host_t* host_new(weft_http_client_t* c, const char* name,
                                   unsigned port) {
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
  return h;
}

/* The host's entry (made on first use) and one more request in flight. */
static weft__http_host_t* host_get(weft_http_client_t* c, const char* name,
                                   unsigned port) {
  pthread_mutex_lock(&c->lock);
  weft__http_host_t* h = c->hosts;
  while (h != NULL && (h->port != port || strcmp(h->name, name) != 0))
    h = h->next;
  if (h == NULL && (h = host_new(c, name, port)) != NULL) {
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

static int connect_within(weft_http_client_t* c, weft__http_host_t* h,
                          weft_stream_t** out) {
  weft_timeout_t* t;
  int err = scope_enter(c->connect_timeout_ms, &t);
  if (err != 0)
    return err;
  err = weft_tcp_connect(h->name, h->port, out);
  if (err == 0)
    weft_stream_nodelay(*out, 1);
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
  const weft__http_buf_t* req;
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
    if (n == WEFT_EOF)
      x->got_bytes = weft_stream_at_eof(s) != 1;
    if (n < 0)
      return (int)n;
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

/* Sends the request (bounded by the whole-request deadline: a large body
 * may take long), then reads heads up to the final one within the head
 * deadline. */
static int send_and_read_head(weft__http_xchg_t* x, weft_stream_t* s) {
  weft_timeout_t* t;
  int err = weft_stream_write(s, x->req->p, x->req->len);
  if (err == 0)
    err = weft_stream_drain(s);
  if (err == 0)
    err = scope_enter(x->c->head_timeout_ms, &t);
  if (err != 0)
    return err;
  err = read_head(x, s);
  return scope_exit(t, err);
}

static int read_response(weft__http_xchg_t* x, weft_stream_t* s,
                         weft_http_response_t* resp) {
  int err = send_and_read_head(x, s);
  if (err == 0)
    err = fill_response(x, resp);
  if (err != 0)
    return err;
  int st = x->h.status;
  int framed = x->h.chunked || x->h.content_length >= 0;
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
                     weft_http_response_t* resp) {
  x->got_bytes = 0;
  x->keep = 0;
  int err = weft_stream_set_limit(s, x->c->max_header);
  if (err == 0)
    err = read_response(x, s, resp);
  return err;
}

static int retryable(int err) {
  return err == WEFT_EOF || err == UV_ECONNRESET || err == UV_EPIPE ||
         err == WEFT_ECLOSED;
}

static int exchange(weft__http_xchg_t* x, weft__http_host_t* h, int idempotent,
                    weft_http_response_t* resp) {
  for (int attempt = 0;; attempt++) {
    weft_stream_t* s;
    int reused;
    int err = get_conn(x->c, h, &s, &reused);
    if (err != 0)
      return err;
    err = roundtrip(x, s, resp);
    if (err == 0 && x->keep) {
      pool_put(x->c, h, s);
      return 0;
    }
    if (err == 0) {
      weft_stream_close(s);
      return 0;
    }
    weft_stream_abort(s);
    if (!reused || !idempotent || x->got_bytes || !retryable(err) ||
        attempt > 0)
      return err;
    weft_http_response_free(resp);
  }
}

/* ---- Building the request --------------------------------------------------
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

static int check_args(const char* method, const weft_http_header_t* headers,
                      size_t nheaders, const void* body, size_t body_len) {
  if (method == NULL || method[0] == '\0' || (body == NULL && body_len > 0) ||
      (headers == NULL && nheaders > 0))
    return WEFT_EINVAL;
  for (const char* p = method; *p != '\0'; p++) {
    if (!weft__http_is_tchar((unsigned char)*p))
      return WEFT_EINVAL;
  }
  for (size_t i = 0; i < nheaders; i++) {
    if (weft__http_check_header(headers[i].name, headers[i].value) != 0)
      return WEFT_EINVAL;
  }
  return 0;
}

/* User headers, less those we write ourselves; *has_host if one is Host. */
static int add_user_headers(weft__http_buf_t* b,
                            const weft_http_header_t* headers, size_t n,
                            int* has_host) {
  int err = 0;
  for (size_t i = 0; err == 0 && i < n; i++) {
    const char* name = headers[i].name;
    if (weft__http_ieq(name, "content-length") ||
        weft__http_ieq(name, "transfer-encoding"))
      continue;
    *has_host |= weft__http_ieq(name, "host");
    err = weft__http_buf_field(b, name, headers[i].value);
  }
  return err;
}

static int build_request(weft__http_buf_t* b, const char* method,
                         const weft__http_url_t* u,
                         const weft_http_header_t* headers, size_t nheaders,
                         const void* body, size_t body_len) {
  int has_host = 0;
  int err = weft__http_buf_adds(b, method);
  if (err == 0)
    err = weft__http_buf_add(b, " ", 1);
  if (err == 0 && (u->target_len == 0 || u->target[0] == '?'))
    err = weft__http_buf_add(b, "/", 1);
  if (err == 0)
    err = weft__http_buf_add(b, u->target, u->target_len);
  if (err == 0)
    err = weft__http_buf_adds(b, " HTTP/1.1\r\n");
  if (err == 0)
    err = add_user_headers(b, headers, nheaders, &has_host);
  if (err == 0 && !has_host)
    err = weft__http_buf_field(b, "Host", u->authority);
  int needs_len = body_len > 0 || strcmp(method, "POST") == 0 ||
                  strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0;
  char cl[48];
  snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n", body_len);
  if (err == 0 && needs_len)
    err = weft__http_buf_adds(b, cl);
  if (err == 0)
    err = weft__http_buf_add(b, "\r\n", 2);
  if (err == 0)
    err = weft__http_buf_add(b, body, body_len);
  return err;
}

/* ---- Public ---------------------------------------------------------------
 */

/* A configured deadline: 0 takes the default, WEFT_HTTP_NO_TIMEOUT none
 * (kept as 0 here). */
static uint64_t deadline(uint64_t ms, uint64_t dflt) {
  return ms == 0 ? dflt : ms == WEFT_HTTP_NO_TIMEOUT ? 0 : ms;
}

int weft_http_client_new(const weft_http_client_config_t* cfg,
                         weft_http_client_t** out) {
  weft_http_client_config_t copy; /* the caller's, as this version reads it */
  if (out == NULL || WEFT__OPTS_READ(&copy, cfg, head_timeout_ms) != 0)
    return WEFT_EINVAL;
  cfg = cfg != NULL ? &copy : NULL;
  weft_http_client_t* c = weft__calloc(1, sizeof(*c));
  if (c == NULL)
    return WEFT_ENOMEM;
  if (pthread_mutex_init(&c->lock, NULL) != 0) {
    free(c);
    return WEFT_ENOMEM;
  }
  c->max_conns =
      cfg && cfg->max_conns_per_host ? cfg->max_conns_per_host : kDefaultConns;
  c->timeout_ms = deadline(cfg ? cfg->timeout_ms : 0, kDefaultTimeoutMs);
  c->connect_timeout_ms =
      deadline(cfg ? cfg->connect_timeout_ms : 0, kDefaultConnectMs);
  c->head_timeout_ms = deadline(cfg ? cfg->head_timeout_ms : 0, kDefaultHeadMs);
  c->max_header =
      cfg && cfg->max_header_bytes ? cfg->max_header_bytes : kDefaultMaxHeader;
  c->max_body =
      cfg && cfg->max_body_bytes ? cfg->max_body_bytes : kDefaultMaxBody;
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
  pthread_mutex_destroy(&c->lock);
  free(c);
  return 0;
}

/* The exchange under the host's permit, the caller's timeout scope around
 * it all. */
static int request_on(weft_http_client_t* c, weft__http_host_t* h,
                      weft__http_xchg_t* x, int idempotent,
                      weft_http_response_t* resp) {
  weft_timeout_t* t;
  int err = scope_enter(c->timeout_ms, &t);
  if (err != 0)
    return err;
  if ((err = weft_sem_acquire(h->slots)) == 0) {
    err = exchange(x, h, idempotent, resp);
    weft_sem_release(h->slots);
  }
  return scope_exit(t, err);
}

int weft_http_request(weft_http_client_t* client, const char* method,
                      const char* url, const weft_http_header_t* headers,
                      size_t nheaders, const void* body, size_t body_len,
                      weft_http_response_t* resp) {
  int err;
  if (weft__io_task_worker(&err) == NULL)
    return err;
  if (client == NULL || url == NULL || resp == NULL)
    return WEFT_EINVAL;
  memset(resp, 0, sizeof(*resp));
  weft__http_url_t u;
  if ((err = check_args(method, headers, nheaders, body, body_len)) != 0 ||
      (err = parse_url(url, &u)) != 0)
    return err;
  weft__http_buf_t req = {0};
  weft__http_xchg_t x = {.c = client, .req = &req};
  x.is_head = strcmp(method, "HEAD") == 0;
  x.headbuf = weft__malloc(client->max_header);
  weft__http_host_t* h = NULL;
  err = x.headbuf == NULL ? WEFT_ENOMEM
                          : build_request(&req, method, &u, headers, nheaders,
                                          body, body_len);
  if (err == 0 && (h = host_get(client, u.host, u.port)) == NULL)
    err = WEFT_ENOMEM;
  if (err == 0) {
    err = request_on(client, h, &x, is_idempotent(method), resp);
    request_done(client);
  }
  if (err != 0)
    weft_http_response_free(resp);
  weft__http_buf_free(&req);
  free(x.headbuf);
  return err;
}

int weft_http_get(weft_http_client_t* client, const char* url,
                  weft_http_response_t* resp) {
  return weft_http_request(client, "GET", url, NULL, 0, NULL, 0, resp);
}
