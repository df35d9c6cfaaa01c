/* Unix domain sockets, the client side (asyncio.open_unix_connection), and
 * streams over descriptors the program already has (pipes, FIFOs,
 * terminals, sockets): both are libuv pipe (or tty) handles under a
 * weft_stream_t. The server side is tcp.c's server with AF_UNIX. */
#include <fcntl.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/common.h"
#include "io/stream.h"

/* ---- Connecting ------------------------------------------------------- */

static void on_connect(uv_connect_t* req, int status) {
  weft__io_done(req->data, status);
}

/* Closing the handle makes libuv end the connect with UV_ECANCELED. */
static void cancel_connect(weft__io_op_t* op) {
  weft__stream_close_start(op->data, 0);
}

int weft_unix_connect(const char* path, weft_stream_t** out) {
  int err;
  weft__worker_t* w = weft__io_task_worker(&err);
  if (w == NULL)
    return err;
  if (path == NULL || out == NULL || path[0] == '\0' ||
      strlen(path) >= sizeof(((struct sockaddr_un*)0)->sun_path))
    return WEFT_EINVAL;
  if ((err = weft__io_check_cancel()) != 0)
    return err;
  weft_stream_t* s = weft__stream_alloc(w, WEFT__STREAM_PIPE);
  if (s == NULL)
    return WEFT_ENOMEM;
  uv_pipe_t* pipe = (uv_pipe_t*)weft__stream_handle(s);
  if ((err = uv_pipe_init(&w->loop, pipe, 0)) != 0) {
    weft__stream_discard(s);
    return err;
  }
  weft__stream_attach(s);
  uv_connect_t req;
  weft__io_op_t op;
  weft__io_op_init(&op, cancel_connect, s);
  req.data = &op;
  uv_pipe_connect(&req, pipe, path, on_connect); /* errors come there */
  if ((err = weft__io_wait(&op)) != 0) {
    weft__stream_destroy(s);
    return err;
  }
  *out = s;
  weft__io_leave();
  return 0;
}

/* ---- A stream over a descriptor -------------------------------------- */

/* The stream kind for what fd is; 0 for what is not a byte stream. */
static int kind_of(int fd) {
  switch (uv_guess_handle(fd)) {
    case UV_TCP:
      return WEFT__STREAM_TCP;
    case UV_NAMED_PIPE: /* pipes, FIFOs, Unix sockets */
      return WEFT__STREAM_PIPE;
    case UV_TTY:
      return WEFT__STREAM_TTY;
    default: /* regular files (weft_file_*), UDP sockets, ... */
      return 0;
  }
}

/* Wraps fd in s's handle on w's loop; on failure fd is left as it was,
 * and *attached says whether the handle was made (it must be closed). */
static int open_fd(weft__worker_t* w, weft_stream_t* s, int kind, int fd,
                   int* attached) {
  uv_stream_t* h = weft__stream_handle(s);
  int err;
  if (kind == WEFT__STREAM_TTY) {
    /* libuv reopens a terminal's slave side, so that non-blocking mode
     * does not reach other processes sharing it, and points fd at the new
     * file too: fd then is ours to close as well. */
    if ((err = uv_tty_init(&w->loop, (uv_tty_t*)h, fd, 0)) != 0)
      return err;
    weft__stream_attach(s);
    *attached = 1;
    uv_os_fd_t used;
    if (uv_fileno((uv_handle_t*)h, &used) == 0 && used != fd)
      weft__stream_close_at_free(s, fd);
    return 0;
  }
  err = kind == WEFT__STREAM_TCP ? uv_tcp_init(&w->loop, (uv_tcp_t*)h)
                                 : uv_pipe_init(&w->loop, (uv_pipe_t*)h, 0);
  if (err != 0)
    return err;
  weft__stream_attach(s);
  *attached = 1;
  return kind == WEFT__STREAM_TCP ? uv_tcp_open((uv_tcp_t*)h, fd)
                                  : uv_pipe_open((uv_pipe_t*)h, fd);
}

int weft_stream_open_fd(int fd, weft_stream_t** out) {
  int err;
  weft__worker_t* w = weft__io_task_worker(&err);
  if (w == NULL)
    return err;
  if (out == NULL || fd < 0)
    return WEFT_EINVAL;
  if (fcntl(fd, F_GETFD) < 0)
    return UV_EBADF;
  int kind = kind_of(fd);
  if (kind == 0)
    return WEFT_EINVAL;
  weft_stream_t* s = weft__stream_alloc(w, kind);
  if (s == NULL)
    return WEFT_ENOMEM;
  int attached = 0;
  if ((err = open_fd(w, s, kind, fd, &attached)) != 0) {
    if (attached)
      weft__stream_destroy(s); /* the handle never took fd */
    else
      weft__stream_discard(s);
    return err;
  }
  *out = s;
  weft__io_leave();
  return 0;
}
