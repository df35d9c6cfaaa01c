/* Reading HTTP message bodies from a stream: by Content-Length, chunked,
 * or up to the end of the stream. Shared by the client and the server.
 *
 * DESIGN
 * A body is read whole into one malloc'd buffer (the public structs hand
 * the body over as one string). Content-Length bodies are checked against
 * the limit before anything is allocated, then read with one readexactly.
 * Chunked bodies are read line by line: the size line and the trailer
 * lines with readuntil "\r\n" (bounded by the stream's limit and a line
 * buffer), the data with readexactly straight into the body buffer, which
 * grows as chunks come, never past the limit. The framing itself is
 * checked by http_parse.c's pure functions.
 */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "http/http.h"

enum { kLineMax = WEFT__HTTP_LINE_MAX }; /* a chunk-size or trailer line */
enum { kMaxTrailers = 64 };
enum { kReadStep = (16u * 1024u) };

/* A stream error while in a body; a separator-limit hit is a bad peer. */
int weft__http_line_error(ptrdiff_t n) {
  return n == WEFT_ELIMIT || n == WEFT_ENOBUFS ? WEFT_EPROTO : (int)n;
}

/* Appends n bytes from s. Read piece by piece as they come, not with one
 * readexactly: that would first gather all n in the stream's own buffer
 * (a second copy of the body). */
static int read_exact(weft_stream_t* s, weft__http_buf_t* b, size_t n) {
  int err = weft__http_buf_reserve(b, n);
  while (err == 0 && n > 0) {
    ptrdiff_t got = weft_stream_read(s, b->p + b->len, n);
    if (got <= 0) {
      err = got == 0 ? WEFT_EOF : (int)got;
      break;
    }
    b->len += (size_t)got;
    n -= (size_t)got;
  }
  if (b->p != NULL)
    b->p[b->len] = '\0';
  return err;
}

int weft__http_read_crlf(weft_stream_t* s) {
  char crlf[2];
  int err = weft_stream_readexactly(s, crlf, 2, NULL);
  if (err != 0)
    return err;
  return crlf[0] == '\r' && crlf[1] == '\n' ? 0 : WEFT_EPROTO;
}

int weft__http_read_trailers(weft_stream_t* s, char* line) {
  for (int i = 0; i <= kMaxTrailers; i++) {
    ptrdiff_t n = weft_stream_readuntil(s, "\r\n", 2, line, kLineMax);
    if (n < 0)
      return weft__http_line_error(n);
    int r = weft__http_check_trailer(line, (size_t)n);
    if (r <= 0)
      return r;
  }
  return WEFT_EPROTO;
}

static int read_chunked(weft_stream_t* s, size_t max, weft__http_buf_t* b) {
  char* line = weft__malloc(kLineMax);
  if (line == NULL)
    return WEFT_ENOMEM;
  int err;
  for (;;) {
    ptrdiff_t n = weft_stream_readuntil(s, "\r\n", 2, line, kLineMax);
    uint64_t size;
    if (n < 0) {
      err = weft__http_line_error(n);
      break;
    }
    if ((err = weft__http_parse_chunk_size(line, (size_t)n, &size)) != 0)
      break;
    if (size == 0) {
      err = weft__http_read_trailers(s, line);
      break;
    }
    if (size > max - b->len) {
      err = WEFT_ELIMIT;
      break;
    }
    if ((err = read_exact(s, b, (size_t)size)) != 0 ||
        (err = weft__http_read_crlf(s)) != 0)
      break;
  }
  free(line);
  return err;
}

static int finish(int err, weft__http_buf_t* b, char** body, size_t* len) {
  if (err == 0)
    err = weft__http_buf_reserve(b, 0); /* an empty body still gets "" */
  if (err != 0) {
    weft__http_buf_free(b);
    return err;
  }
  b->p[b->len] = '\0';
  *body = b->p;
  *len = b->len;
  return 0;
}

int weft__http_read_body(weft_stream_t* s, const weft__http_head_t* h,
                         size_t max, char** body, size_t* len) {
  weft__http_buf_t b = {0};
  int err = 0;
  if (h->chunked) {
    err = read_chunked(s, max, &b);
  } else if (h->content_length > 0) {
    if ((uint64_t)h->content_length > max)
      err = WEFT_ELIMIT;
    else
      err = read_exact(s, &b, (size_t)h->content_length);
  }
  return finish(err, &b, body, len);
}

int weft__http_read_to_eof(weft_stream_t* s, size_t max, char** body,
                           size_t* len) {
  weft__http_buf_t b = {0};
  int err;
  for (;;) {
    if ((err = weft__http_buf_reserve(&b, kReadStep)) != 0)
      break;
    ptrdiff_t n = weft_stream_read(s, b.p + b.len, kReadStep);
    if (n <= 0) {
      err = (int)n;
      break;
    }
    b.len += (size_t)n;
    if (b.len > max) {
      err = WEFT_ELIMIT;
      break;
    }
  }
  return finish(err, &b, body, len);
}
