/* HTTP/1.1 message parsing (http_parse.c): pure functions over a buffer,
 * no I/O and no allocation, so they can be unit-tested and fuzzed alone.
 * Results point into the caller's buffer and live as long as it does. */
#ifndef WEFT_HTTP_PARSE_H_
#define WEFT_HTTP_PARSE_H_

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "weft.h"

/* Most header fields one head may carry (more: WEFT_ELIMIT). */
#define WEFT__HTTP_MAX_FIELDS 64

/* A piece of the buffer (not NUL-terminated). */
typedef struct {
  const char* p;
  size_t len;
} weft__http_str_t;

typedef struct {
  weft__http_str_t name;
  weft__http_str_t value; /* without the surrounding whitespace */
} weft__http_field_t;

/* A request or response head. */
typedef struct {
  weft__http_str_t method; /* requests */
  weft__http_str_t target; /* requests */
  int status;              /* responses: 100..999 */
  weft__http_str_t reason; /* responses; may be empty */
  int minor_version;       /* HTTP/1.x */
  /* What the fields say about the message and the connection: */
  int64_t content_length; /* -1: no Content-Length */
  int chunked;            /* Transfer-Encoding: chunked */
  int keep_alive;         /* the connection stays open after this message */
  int expect_continue;    /* Expect: 100-continue */
  int nhost;              /* Host fields seen */
  size_t nfields;
  /* Last, so that a parse clears only what comes before it. */
  weft__http_field_t fields[WEFT__HTTP_MAX_FIELDS];
} weft__http_head_t;

/* Parses a request head from buf: the bytes consumed, through the empty
 * line ending the head (> 0); WEFT_EAGAIN when buf holds no complete head
 * yet; WEFT_EPROTO for a malformed head (bad request line, field syntax,
 * obs-fold, Content-Length and Transfer-Encoding conflicts, an HTTP/1.1
 * request without exactly one Host); WEFT_ELIMIT for too many fields.
 * Leading empty lines are skipped (RFC 9112, 2.2). */
ssize_t weft__http_parse_request(const char* buf, size_t len,
                                 weft__http_head_t* out);

/* As weft__http_parse_request, for a status line and its fields. */
ssize_t weft__http_parse_response(const char* buf, size_t len,
                                  weft__http_head_t* out);

/* Parses a chunk-size line ("1a;ext=v\r\n", CRLF included, as `len`
 * counts): 0 with the size in *size, or WEFT_EPROTO. Extensions are
 * checked for syntax and ignored; sizes of 16 hex digits or more are
 * refused (no body that large is ever accepted anyway). */
int weft__http_parse_chunk_size(const char* line, size_t len, uint64_t* size);

/* Checks one trailer line (CRLF included): 0 for the empty line that ends
 * the trailers, 1 for a well-formed field, WEFT_EPROTO otherwise. */
int weft__http_check_trailer(const char* line, size_t len);

/* Decodes a whole chunked body held in buf into out (cap bytes): returns
 * the bytes of buf consumed (through the trailers' end) and the decoded
 * length in *out_len; WEFT_EAGAIN when buf ends before the body does,
 * WEFT_EPROTO when it is malformed, WEFT_ENOBUFS when the data does not
 * fit in cap. The streaming readers use the two functions above. */
ssize_t weft__http_dechunk(const char* buf, size_t len, char* out, size_t cap,
                           size_t* out_len);

/* 1 when the token list `value` holds `token` (case-insensitive), as in
 * "Connection: keep-alive, Upgrade". */
int weft__http_has_token(weft__http_str_t value, const char* token);

/* Case-insensitive equality of a piece of buffer and a C string. */
int weft__http_str_ieq(weft__http_str_t s, const char* lit);

/* 1 for a token character (RFC 9110 tchar). */
int weft__http_is_tchar(unsigned char c);

#endif /* WEFT_HTTP_PARSE_H_ */
