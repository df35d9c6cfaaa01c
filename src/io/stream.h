/* Streams (stream.c): the byte-stream object behind TCP connections and
 * subprocess pipes. Other files make the libuv handle; stream.c does the
 * reading, writing and closing. */
#ifndef WEFT_STREAM_H_
#define WEFT_STREAM_H_

#include <uv.h>

#include "io/io.h"

enum { WEFT__STREAM_TCP = 1, WEFT__STREAM_PIPE = 2 };

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

#endif /* WEFT_STREAM_H_ */
