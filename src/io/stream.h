/* Streams (stream.c): the byte-stream object behind TCP connections and
 * subprocess pipes. Other files make the libuv handle; stream.c does the
 * reading, writing and closing. */
#ifndef WEFT_STREAM_H_
#define WEFT_STREAM_H_

#include <uv.h>

#include "io/io.h"

enum { WEFT__STREAM_TCP = 1, WEFT__STREAM_PIPE = 2, WEFT__STREAM_TTY = 3 };

/* A stream for worker `w` (the caller's), not yet usable: initialise its
 * handle (uv_tcp_init / uv_pipe_init on w's loop, uv_tcp_open, ...), then
 * weft__stream_attach. NULL when out of memory. Owner only. */
weft_stream_t* weft__stream_alloc(weft__worker_t* w, int kind);
/* The handle to initialise: a uv_tcp_t or uv_pipe_t by kind. */
uv_stream_t* weft__stream_handle(weft_stream_t* s);
/* The handle is initialised: the stream is usable and will be closed at
 * runtime end if nobody closes it. Owner only. */
void weft__stream_attach(weft_stream_t* s);
/* Frees a stream whose handle was never initialised. */
void weft__stream_discard(weft_stream_t* s);
/* When the stream is freed, *slot becomes NULL (an owner such as a
 * process can tell that the user closed it). Owner only. */
void weft__stream_set_slot(weft_stream_t* s, weft_stream_t** slot);
/* Starts closing (from a cancel hook or callback on home): waiters get
 * WEFT_ECLOSED; `reset` sends a TCP reset. Idempotent. */
void weft__stream_close_start(weft_stream_t* s, int reset);
/* Closes (if not closing yet), waits until closed and frees: for a stream
 * its creator never handed out. From a task. */
void weft__stream_destroy(weft_stream_t* s);
/* Closes fd too when the stream is freed (a descriptor the handle does not
 * own; 0, 1 and 2 are never closed). Owner only. */
void weft__stream_close_at_free(weft_stream_t* s, int fd);
/* Calls fn(arg) when the stream is freed (NULL: nothing), for what lives
 * as long as the stream unless someone claims it. Owner only. */
void weft__stream_on_free(weft_stream_t* s, void (*fn)(void* arg), void* arg);
/* Closes and frees a stream nobody was given (outside a task). */
void weft__stream_drop(weft_stream_t* s);
/* Bytes received and not read yet (never waits), or WEFT_ECLOSED: how
 * the HTTP client tells that a response ended exactly where the bytes do.
 * From a task. */
ptrdiff_t weft__stream_buffered(weft_stream_t* s);
/* Frees the read buffer if it is empty and larger than the smallest one
 * (a read that comes allocates a small one again): for a server about to
 * wait for a connection's next request. 0 or WEFT_ECLOSED. From a task. */
int weft__stream_trim(weft_stream_t* s);
/* The stream's home worker. Any thread (read-only after alloc). */
weft__worker_t* weft__stream_home(const weft_stream_t* s);

/* Starts a call on the stream from a task: enters home's loop and takes a
 * call reference (WEFT_ECLOSED once closing, WEFT_EINVAL for NULL,
 * WEFT_ENOTTASK outside a task). Pair with weft__stream_leave. */
int weft__stream_enter(weft_stream_t* s);
/* Ends the call: drops the reference (may free) and gives the loop back. */
void weft__stream_leave(weft_stream_t* s);

/* ---- Filters (stream.c's opening comment) ------------------------------
 * Every hook and helper runs under home's driver: from a call that entered
 * the stream, or from its loop's callbacks. */
typedef struct weft__stream_filter_s {
  /* Raw bytes came in (n > 0; data is the filter's until it returns), the
   * peer ended (n == UV_EOF, data NULL) or reading failed (n < 0). Decode
   * into the read buffer (weft__stream_rbuf_space, _commit) and report the
   * end (weft__stream_set_eof) or a failure (weft__stream_fail*). n == 0:
   * the filter was just installed, with nothing read ahead. */
  void (*input)(weft_stream_t* s, void* f, const char* data, ssize_t n);
  /* Encodes `len` (> 0) bytes and sends them (weft__stream_send_raw).
   * 0 or an error. */
  int (*write)(weft_stream_t* s, void* f, const char* data, size_t len);
  /* Sends the filter's end of stream (TLS close_notify), once; before a
   * shutdown or a close. 0 or an error. */
  int (*finish)(weft_stream_t* s, void* f);
  /* Frees f, when the stream is freed (any thread driving home). */
  void (*free)(void* f);
} weft__stream_filter_t;

/* Puts the filter between the socket and the buffers (once: WEFT_EBUSY
 * after), hands it what was read ahead, and reads on. From a call that
 * entered the stream; ENOMEM leaves the stream as it was. */
int weft__stream_set_filter(weft_stream_t* s, const weft__stream_filter_t* ops,
                            void* f);
/* The filter's state if `ops` is the stream's filter, else NULL. */
void* weft__stream_filter_data(weft_stream_t* s,
                               const weft__stream_filter_t* ops);
/* At least `want` bytes of room at the end of the read buffer: the room's
 * start (its size in *avail), or NULL when out of memory. */
char* weft__stream_rbuf_space(weft_stream_t* s, size_t want, size_t* avail);
/* `n` bytes were written into that room: readers may have them. */
void weft__stream_rbuf_commit(weft_stream_t* s, size_t n);
/* Sends bytes on the socket as they are (a filter's output): what the
 * socket takes now, the rest queued (counted for drain). 0 or an error. */
int weft__stream_send_raw(weft_stream_t* s, const char* data, size_t len);
/* The readers' end of stream (after what is buffered). */
void weft__stream_set_eof(weft_stream_t* s);
/* Reading fails with err after what is buffered (truncation). */
void weft__stream_fail_read(weft_stream_t* s, int err);
/* The stream is broken: reads (after what is buffered), writes and drains
 * fail with err. Wakes whoever waits. */
void weft__stream_fail(weft_stream_t* s, int err);
/* Waits, as the stream's one reader, until more input was processed (or
 * the stream ended or failed): 0, WEFT_EBUSY if another task reads, the
 * stream's read error, WEFT_ECANCELED. In home's loop on return. */
int weft__stream_wait_input(weft_stream_t* s);

#endif /* WEFT_STREAM_H_ */
