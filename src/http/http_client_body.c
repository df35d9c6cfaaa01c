/* A response body read piece by piece (weft_http_send with a body
 * handle): the connection stays the body's until it ends or is closed.
 *
 * DESIGN
 * A framed body (Content-Length, chunked) is read by the reader the server
 * uses for request bodies (http_reader.c), with no size limit and no rate;
 * a body framed by the end of the connection is read straight from the
 * stream, where only a clean end (on TLS, close_notify) is its end. Once
 * the body has ended, the connection goes back to the pool at once (the
 * same check as a whole read: keep-alive, framed, nothing past the body),
 * so a caller slow to close holds no connection it does not use.
 */
#include <stdint.h>
#include <stdlib.h>

#include "base/alloc.h"
#include "http/http_client.h"
#include "io/stream.h"

struct weft_http_body_s {
  weft__http_open_t o; /* o.s NULL once given back */
  weft__http_reader_t r;
  int to_eof; /* framed by the end of the connection */
  int done;   /* read to its end */
  int err;    /* sticky */
};

int weft__http_body_open(weft__http_open_t* o, weft_http_body_t** out) {
  weft_http_body_t* b = weft__calloc(1, sizeof(*b));
  if (b == NULL)
    return WEFT_ENOMEM;
  b->o = *o;
  int st = o->head.status;
  weft__http_head_t none = {.content_length = -1};
  int empty = o->is_head || st == 204 || st == 304;
  b->to_eof = !empty && !o->head.chunked && o->head.content_length < 0;
  weft__http_reader_init(&b->r, o->s, empty ? &none : &o->head, SIZE_MAX,
                         WEFT_HTTP_OFF);
  *out = b;
  return 0;
}

/* The body ended: the connection back to the pool if it can be reused. */
static void finish(weft_http_body_t* b) {
  b->done = 1;
  int keep =
      !b->to_eof && b->o.head.keep_alive && weft__stream_buffered(b->o.s) == 0;
  weft__http_open_done(&b->o, keep, 0);
}

ptrdiff_t weft_http_body_read(weft_http_body_t* b, void* buf, size_t n) {
  if (b == NULL || buf == NULL || n == 0)
    return WEFT_EINVAL;
  if (b->err != 0)
    return b->err;
  if (b->done)
    return 0;
  ptrdiff_t got = b->to_eof ? weft_stream_read(b->o.s, buf, n)
                            : weft__http_reader_read(&b->r, buf, n);
  if (got == 0)
    finish(b);
  else if (got < 0 && got != WEFT_ECANCELED && got != WEFT_ETIMEDOUT)
    b->err = (int)got;
  return got;
}

int weft_http_body_close(weft_http_body_t* b) {
  if (b == NULL)
    return 0;
  int err = b->err;
  if (b->o.s != NULL)
    weft__http_open_done(&b->o, 0, 1); /* not read to its end */
  weft__http_reader_free(&b->r);
  free(b);
  return err;
}
