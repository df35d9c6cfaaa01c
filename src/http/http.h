/* What the HTTP client (http_client.c) and server (http_server.c) share:
 * a growable byte buffer, response helpers (http_common.c) and body
 * readers (http_body.c). */
#ifndef WEFT_HTTP_H_
#define WEFT_HTTP_H_

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

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

/* Shared by the body readers: a line-read error as a framing error, and
 * the trailer section after the last chunk (`line`: kLineMax bytes). */
enum { WEFT__HTTP_LINE_MAX = 4096 };
int weft__http_line_error(ptrdiff_t n);
int weft__http_read_trailers(weft_stream_t* s, char* line);
int weft__http_read_crlf(weft_stream_t* s);

/* ---- The server's connection table (http_conns.c) ---- */

/* A connection waiting for its next request, on the table's idle list. */
typedef struct weft__http_idle_s {
  struct weft__http_idle_s* prev; /* under the table's lock */
  struct weft__http_idle_s* next;
  weft_task_t* task; /* the connection's task; set before listing */
  int evicted;       /* under the lock: taken off and cancelled by us */
} weft__http_idle_t;

typedef struct weft__http_conns_s {
  pthread_mutex_t lock;
  weft__http_idle_t idle;         /* list head: oldest first; under lock */
  weft__http_idle_t live;         /* every open connection; under lock */
  int draining;                   /* a shutdown runs; under lock */
  weft_event_t* drained;          /* set when the last one leaves; lock */
  uint64_t max;                   /* read-only; WEFT_HTTP_OFF: no cap */
  weft_http_server_stats_t stats; /* under lock */
  const weft_server_t* srv;       /* read-only once registered */
  struct weft__http_conns_s* next_server; /* the global list's lock */
} weft__http_conns_t;

/* max 0: the default (7/8 of RLIMIT_NOFILE). WEFT_ENOMEM. */
int weft__http_conns_init(weft__http_conns_t* t, uint64_t max);
/* Makes the table's stats findable from srv (weft_http_server_stats). */
void weft__http_conns_register(weft__http_conns_t* t, const weft_server_t* srv);
void weft__http_conns_destroy(weft__http_conns_t* t);
/* A new connection: 0 (counted), or WEFT_EBUSY when the table is full and
 * nothing idles (refuse it). When full, evicts the longest idle. */
int weft__http_conns_enter(weft__http_conns_t* t);
void weft__http_conns_leave(weft__http_conns_t* t);
/* The calling connection task is open / closing: `n` (its own) on the
 * table's list of every open connection, which a shutdown cancels. */
void weft__http_conns_live(weft__http_conns_t* t, weft__http_idle_t* n);
void weft__http_conns_gone(weft__http_conns_t* t, weft__http_idle_t* n);
/* 1 once a shutdown began: finish the request, then close. */
int weft__http_conns_draining(weft__http_conns_t* t);
/* The calling connection task waits for a request: it may be evicted.
 * WEFT_ECLOSED (not listed) once a shutdown began: close instead. */
int weft__http_conns_idle(weft__http_conns_t* t, weft__http_idle_t* n);
/* The wait is over: 1 if the connection was evicted meanwhile (close it;
 * the cancellation it may have seen was the eviction), else 0. */
int weft__http_conns_busy(weft__http_conns_t* t, weft__http_idle_t* n);
/* Adds one to a counter of t->stats, under the lock. */
void weft__http_conns_count(weft__http_conns_t* t, uint64_t* counter);

/* ---- The server's request body reader (http_reader.c) ---- */

typedef struct {
  weft_stream_t* s;
  size_t max;     /* max_body_bytes */
  uint64_t rate;  /* bytes per second; WEFT_HTTP_OFF: none */
  uint64_t t0;    /* when the body started (weft_now_ns) */
  uint64_t total; /* body bytes handed out so far */
  int chunked;
  uint64_t left;     /* Content-Length: bytes left; chunked: in this chunk */
  int state;         /* chunked: see http_reader.c */
  int done;          /* the whole body was read */
  int err;           /* sticky: a failed read fails every later one */
  int send_continue; /* a 100 Continue is due before the first read */
  int slow;          /* ended by the rate (counted once) */
  char* line;        /* chunk-size and trailer lines; lazily */
} weft__http_reader_t;

/* Starts reading the body that head h announces (none: done at once). */
void weft__http_reader_init(weft__http_reader_t* r, weft_stream_t* s,
                            const weft__http_head_t* h, size_t max,
                            uint64_t rate);
/* The next piece: > 0, 0 at the end, or an error (see
 * weft_http_request_read). */
ptrdiff_t weft__http_reader_read(weft__http_reader_t* r, void* buf, size_t n);
void weft__http_reader_free(weft__http_reader_t* r);

/* A request as the server keeps it: the handler's view first, so that
 * weft_http_request_read finds the rest from the handler's pointer. */
typedef struct {
  weft_http_request_t req;
  weft__http_reader_t reader;
  char* pre; /* a streamed body's first bytes, read before the handler */
  size_t pre_len;
  size_t pos; /* bytes of req.body or pre handed out so far */
} weft__http_req_t;

#endif /* WEFT_HTTP_H_ */
