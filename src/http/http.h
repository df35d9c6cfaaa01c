/* What the HTTP client (http_client.c) and server (http_server.c) share:
 * a growable byte buffer, response helpers (http_common.c) and body
 * readers (http_body.c). */
#ifndef WEFT_HTTP_H_
#define WEFT_HTTP_H_

#include <stddef.h>

#include "http/http_parse.h"
#include "weft.h"

/* A growable byte buffer, NUL-terminated past `len` once non-empty. */
typedef struct {
  char* p;
  size_t len;
  size_t cap;
} weft__http_buf_t;

/* Makes room for `more` bytes past len (and the NUL). WEFT_ENOMEM. */
int weft__http_buf_reserve(weft__http_buf_t* b, size_t more);
int weft__http_buf_add(weft__http_buf_t* b, const void* data, size_t len);
int weft__http_buf_adds(weft__http_buf_t* b, const char* s);
/* Appends "name: value\r\n". */
int weft__http_buf_field(weft__http_buf_t* b, const char* name,
                         const char* value);
void weft__http_buf_free(weft__http_buf_t* b);

/* 0 when name is a token and value has no CR, LF or NUL, else
 * WEFT_EINVAL. */
int weft__http_check_header(const char* name, const char* value);

/* Appends a header to resp without checking it (the parser did). */
int weft__http_response_add(weft_http_response_t* resp, weft__http_str_t name,
                            weft__http_str_t value);

/* The standard reason phrase of a status ("" for unknown ones). */
const char* weft__http_reason(int status);

/* Case-insensitive comparison of two C strings: 1 when equal. */
int weft__http_ieq(const char* a, const char* b);

/* Reads the body that head `h` announces (Content-Length or chunked) from
 * s into a malloc'd, NUL-terminated *body (never NULL on success).
 * WEFT_ELIMIT over `max` bytes, WEFT_EPROTO for bad chunked framing,
 * WEFT_EOF when the stream ends early, or the stream's error. */
int weft__http_read_body(weft_stream_t* s, const weft__http_head_t* h,
                         size_t max, char** body, size_t* len);

/* Reads until the end of the stream (a response framed by closing), as
 * weft__http_read_body. */
int weft__http_read_to_eof(weft_stream_t* s, size_t max, char** body,
                           size_t* len);

#endif /* WEFT_HTTP_H_ */
