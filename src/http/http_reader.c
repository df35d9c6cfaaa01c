/* The server's request body reader: a body read piece by piece, as the
 * handler asks (weft_http_request_read), or by the server itself for a
 * body it hands over whole.
 *
 * DESIGN
 * Reading only when asked is the backpressure: the connection's stream
 * stops reading ahead once its limit is buffered, so a client uploading
 * faster than the handler consumes fills its TCP window and waits, and a
 * large upload costs the server the stream's buffer, not the body's size.
 *
 * Content-Length bodies count down `left`. Chunked bodies run a small
 * state machine: S_SIZE reads a chunk-size line (and, for the last chunk,
 * the trailers), S_DATA hands out up to `left` bytes of the chunk, S_CRLF
 * reads the CRLF after it. Framing is checked by http_parse.c as for the
 * client's bodies.
 *
 * The minimum rate: a body may take kGraceNs plus total / rate seconds to
 * reach `total` bytes (Kestrel's MinRequestBodyDataRate). Each read runs
 * in a timeout scope that ends where the body would fall below that, so a
 * client that trickles a byte now and then is cut off without a timer per
 * connection; a body that keeps up never sees a deadline.
 *
 * Errors stick: after one, every read returns it, and the server closes
 * the connection after the response.
 */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/common.h"
#include "http/http.h"

enum { S_SIZE, S_DATA, S_CRLF };
static const uint64_t kGraceNs = 5000000000u;
static const uint64_t kNsPerSec = 1000000000u;

void weft__http_reader_init(weft__http_reader_t* r, weft_stream_t* s,
                            const weft__http_head_t* h, size_t max,
                            uint64_t rate) {
  memset(r, 0, sizeof(*r));
  r->s = s;
  r->max = max;
  r->rate = rate;
  r->t0 = weft_now_ns();
  r->chunked = h->chunked;
  r->state = S_SIZE;
  if (!h->chunked && h->content_length > 0)
    r->left = (uint64_t)h->content_length;
  else if (!h->chunked)
    r->done = 1;
}

void weft__http_reader_free(weft__http_reader_t* r) {
  free(r->line);
  r->line = NULL;
}

/* The time the rate allows for `total` bytes, in ns (saturating). */
static uint64_t allowed_ns(uint64_t total, uint64_t rate) {
  uint64_t whole = total / rate;
  if (whole > UINT64_MAX / kNsPerSec / 2)
    return UINT64_MAX;
  return kGraceNs + whole * kNsPerSec + (total % rate) * kNsPerSec / rate;
}

/* A timeout scope ending where the body would fall below the rate (NULL:
 * no rate), or WEFT_ETIMEDOUT when it already has. */
static int rate_enter(weft__http_reader_t* r, weft_timeout_t** t) {
  *t = NULL;
  if (r->rate == WEFT_HTTP_OFF)
    return 0;
  uint64_t allowed = allowed_ns(r->total, r->rate);
  uint64_t elapsed = weft_now_ns() - r->t0;
  if (elapsed >= allowed)
    return WEFT_ETIMEDOUT;
  return weft_timeout_enter((allowed - elapsed) / 1000000u + 1, t);
}

/* Up to n bytes of the `left` that the framing announced. */
static ptrdiff_t read_left(weft__http_reader_t* r, void* buf, size_t n) {
  size_t k = (uint64_t)n < r->left ? n : (size_t)r->left;
  ptrdiff_t got = weft_stream_read(r->s, buf, k);
  if (got == 0)
    return WEFT_EOF; /* the client went before the body's end */
  if (got > 0)
    r->left -= (uint64_t)got;
  return got;
}

/* S_SIZE: the next chunk's size; the last chunk ends the body. */
static int read_size(weft__http_reader_t* r) {
  uint64_t size;
  if (r->line == NULL && (r->line = weft__malloc(WEFT__HTTP_LINE_MAX)) == NULL)
    return WEFT_ENOMEM;
  ptrdiff_t n =
      weft_stream_readuntil(r->s, "\r\n", 2, r->line, WEFT__HTTP_LINE_MAX);
  if (n < 0)
    return weft__http_line_error(n);
  if (weft__http_parse_chunk_size(r->line, (size_t)n, &size) != 0)
    return WEFT_EPROTO;
  if (size == 0) {
    int err = weft__http_read_trailers(r->s, r->line);
    if (err == 0)
      r->done = 1;
    return err;
  }
  if (size > r->max - r->total)
    return WEFT_ELIMIT;
  r->left = size;
  r->state = S_DATA;
  return 0;
}

static ptrdiff_t read_chunked(weft__http_reader_t* r, void* buf, size_t n) {
  for (;;) {
    int err = 0;
    if (r->state == S_DATA) {
      ptrdiff_t got = read_left(r, buf, n);
      if (got > 0 && r->left == 0)
        r->state = S_CRLF;
      return got;
    }
    if (r->state == S_CRLF) {
      if ((err = weft__http_read_crlf(r->s)) == 0)
        r->state = S_SIZE;
    } else {
      err = read_size(r);
    }
    if (err != 0)
      return err;
    if (r->done)
      return 0;
  }
}

/* 100 Continue, once, before the first byte of the body is read. */
static int maybe_continue(weft__http_reader_t* r) {
  if (!r->send_continue)
    return 0;
  r->send_continue = 0;
  int err = weft_stream_write(r->s, "HTTP/1.1 100 Continue\r\n\r\n", 25);
  return err != 0 ? err : weft_stream_drain(r->s);
}

ptrdiff_t weft__http_reader_read(weft__http_reader_t* r, void* buf, size_t n) {
  if (r->err != 0)
    return r->err;
  if (r->done)
    return 0;
  weft_timeout_t* t;
  ptrdiff_t got = maybe_continue(r);
  if (got == 0)
    got = rate_enter(r, &t);
  if (got == 0) {
    got = r->chunked ? read_chunked(r, buf, n) : read_left(r, buf, n);
    if (t != NULL && weft_timeout_exit(t) == WEFT_ETIMEDOUT && got < 0)
      got = WEFT_ETIMEDOUT;
  }
  if (got < 0) {
    r->err = (int)got;
    r->slow = got == WEFT_ETIMEDOUT;
    return got;
  }
  r->total += (uint64_t)got;
  if (!r->chunked && r->left == 0)
    r->done = 1;
  return got;
}

/* ---- Public -------------------------------------------------------------- */

ptrdiff_t weft_http_request_read(const weft_http_request_t* req, void* buf,
                                 size_t n) {
  if (req == NULL || buf == NULL || n == 0)
    return WEFT_EINVAL;
  if (weft_current_task() == NULL)
    return WEFT_ENOTTASK;
  weft__http_req_t* rq = weft__container_of(req, weft__http_req_t, req);
  const char* from = req->body != NULL ? req->body : rq->pre;
  size_t len = req->body != NULL ? req->body_len : rq->pre_len;
  if (rq->pos < len) {
    size_t k = n < len - rq->pos ? n : len - rq->pos;
    memcpy(buf, from + rq->pos, k);
    rq->pos += k;
    return (ptrdiff_t)k;
  }
  if (req->body != NULL)
    return 0;
  return weft__http_reader_read(&rq->reader, buf, n);
}
