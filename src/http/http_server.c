/* The HTTP/1.1 server: weft_http_serve, one task per connection (the TCP
 * server's), reading requests and writing responses in a loop.
 *
 * DESIGN
 * Each connection reads a head with readuntil "\r\n\r\n" (the stream's
 * limit set to max_header_bytes, so an endless head stops there: 431),
 * parses it in place (http_parse.c), NUL-terminates the pieces inside the
 * head buffer so the handler gets C strings without copies, reads the body
 * (http_body.c: over max_body_bytes, 413; bad framing, 400), calls the
 * handler and writes the response, always with Content-Length. Pipelined
 * requests need nothing special: the next head is already in the stream's
 * buffer. An idle timeout (weft_timeout_enter) bounds each head read, so
 * an idle or trickling keep-alive connection goes away.
 *
 * After an error response the server half-closes and discards what the
 * client still sends, for up to a second (a "lingering close"): closing
 * with unread bytes would make the kernel send a reset, which may destroy
 * the response before the client reads it.
 *
 * Lifetime of the shared settings: weft_server_close frees the TCP server
 * but cannot tell us, and handlers may still run afterwards, so the
 * settings block is registered as an I/O object of the creating worker and
 * freed when the runtime ends (a few dozen bytes per server ever made).
 */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/common.h"
#include "http/http.h"
#include "io/io.h"

enum { kDefaultMaxHeader = (16u * 1024u) };
enum { kDefaultMaxBody = (8u * 1024u * 1024u) };
enum { kDefaultIdleMs = 60000u };
enum { kLingerMs = 1000u };
enum { kLingerBytes = (256u * 1024u) };
enum { kInlineBody = (64u * 1024u) }; /* bodies sent in the head's write */

typedef struct {
  weft__io_obj_t obj;
  weft_http_handler_fn handler;
  void* arg;
  size_t max_header;
  size_t max_body;
  uint64_t idle_ms;
} weft__http_srv_t;

typedef struct {
  weft_stream_t* s;
  const weft__http_srv_t* srv;
  char* head; /* max_header bytes */
  weft__http_head_t h;
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

/* Reads and parses a head: 0, an HTTP status to answer with, or a
 * negative code to close quietly. */
static int read_head(weft__http_conn_t* c) {
  size_t skipped = 0;
  for (;;) {
    ptrdiff_t n =
        weft_stream_readuntil(c->s, "\r\n\r\n", 4, c->head, c->srv->max_header);
    if (n == WEFT_ELIMIT || n == WEFT_ENOBUFS)
      return 431;
    if (n < 0)
      return (int)n;
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

/* Asks for the body when the client waits for our go (Expect). */
static int maybe_continue(weft__http_conn_t* c) {
  int body_ok =
      c->h.chunked || (c->h.content_length > 0 &&
                       (uint64_t)c->h.content_length <= c->srv->max_body);
  if (!c->h.expect_continue || !body_ok || c->h.minor_version < 1)
    return 0;
  return send_buf(c->s, "HTTP/1.1 100 Continue\r\n\r\n", 25);
}

static int read_body(weft__http_conn_t* c, weft_http_request_t* req) {
  char* body;
  int err = weft__http_read_body(c->s, &c->h, c->srv->max_body, &body,
                                 &req->body_len);
  if (err == WEFT_ELIMIT || err == WEFT_EPROTO)
    return err == WEFT_ELIMIT ? 413 : 400;
  if (err == 0)
    req->body = body;
  return err;
}

/* Reads a whole request within the idle timeout (so neither an idle nor a
 * trickling client holds the connection): 0 with req filled, an HTTP
 * status to answer with, or a negative code to close quietly. */
static int read_request(weft__http_conn_t* c, weft_http_request_t* req) {
  weft_timeout_t* t;
  if (weft_timeout_enter(c->srv->idle_ms, &t) != 0)
    return WEFT_ENOMEM;
  int st = read_head(c);
  if (st == 0)
    st = maybe_continue(c);
  if (st == 0) {
    make_request(c, req);
    st = read_body(c, req);
  }
  if (weft_timeout_exit(t) == WEFT_ETIMEDOUT && st < 0)
    st = WEFT_ETIMEDOUT;
  return st;
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

/* Serves one request: 0 to go on with the connection, non-zero to end. */
static int serve_one(weft__http_conn_t* c) {
  weft_http_request_t req;
  int st = read_request(c, &req);
  if (st != 0) {
    if (st > 0)
      send_error(c->s, st);
    return 1;
  }
  weft_http_response_t resp;
  int err = call_handler(c, &req, &resp);
  if (err == 0)
    err = send_response(c, &resp, c->h.keep_alive);
  weft_http_response_free(&resp);
  free((char*)req.body);
  return err;
}

static int serve_conn(weft_stream_t* s, void* arg) {
  weft__http_conn_t* c = weft__malloc(sizeof(*c));
  if (c == NULL)
    return WEFT_ENOMEM;
  c->s = s;
  c->srv = arg;
  c->head = weft__malloc(c->srv->max_header);
  if (c->head != NULL && weft_stream_set_limit(s, c->srv->max_header) == 0) {
    weft_stream_nodelay(s, 1);
    while (serve_one(c) == 0) {
    }
  }
  free(c->head);
  free(c);
  return 0;
}

/* ---- Setup -------------------------------------------------------------- */

static void srv_shutdown(weft__io_obj_t* obj) {
  free(weft__container_of(obj, weft__http_srv_t, obj));
}

int weft_http_serve(const char* host, unsigned port,
                    weft_http_handler_fn handler, void* arg,
                    const weft_http_server_config_t* cfg, weft_server_t** out) {
  int err;
  if (weft__io_task_worker(&err) == NULL)
    return err;
  if (handler == NULL || out == NULL)
    return WEFT_EINVAL;
  weft__http_srv_t* srv = weft__calloc(1, sizeof(*srv));
  if (srv == NULL)
    return WEFT_ENOMEM;
  srv->handler = handler;
  srv->arg = arg;
  srv->max_header = kDefaultMaxHeader;
  srv->max_body = kDefaultMaxBody;
  srv->idle_ms = kDefaultIdleMs;
  if (cfg != NULL) {
    srv->max_header =
        cfg->max_header_bytes ? cfg->max_header_bytes : kDefaultMaxHeader;
    srv->max_body = cfg->max_body_bytes ? cfg->max_body_bytes : kDefaultMaxBody;
    srv->idle_ms = cfg->idle_timeout_ms ? cfg->idle_timeout_ms : kDefaultIdleMs;
  }
  err = weft_tcp_serve(host, port, serve_conn, srv,
                       cfg != NULL ? &cfg->tcp : NULL, out);
  if (err != 0) {
    free(srv);
    return err;
  }
  /* On the loop of the worker we run on now (the object list is under
   * its driver). */
  weft__io_obj_add_named(weft__io_enter_here(), &srv->obj, srv_shutdown,
                         "HTTP server settings", NULL);
  return 0;
}
