/* Driving plain libuv from weft: any libuv request or handle can be
 * awaited with weft_uv_await, so a libuv-based C library runs inside weft
 * tasks unchanged. Here: a uv_timer (with a cancel hook, so a timeout can
 * end it early) and uv_fs requests on the worker's loop. */
#include <fcntl.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "weft.h"

/* ---- A libuv timer as an awaitable sleep ----------------------------------
 */

typedef struct {
  uv_timer_t timer;
  uint64_t ms;
} uv_sleep_t;

static void on_timer(uv_timer_t* t) {
  weft_uv_done(t->data, 0); /* wakes the awaiting task */
}

static int start_sleep(uv_loop_t* loop, weft_uv_op_t* op, void* arg) {
  uv_sleep_t* s = arg;
  uv_timer_init(loop, &s->timer); /* the task holds the loop here */
  s->timer.data = op;
  return uv_timer_start(&s->timer, on_timer, s->ms, 0);
}

/* Runs, holding the loop, when the awaiting task is cancelled. */
static void cancel_sleep(weft_uv_op_t* op, void* arg) {
  uv_sleep_t* s = arg;
  uv_timer_stop(&s->timer);
  weft_uv_done(op, UV_ECANCELED);
}

static void on_closed(uv_handle_t* h) {
  weft_uv_done(h->data, 0);
}

static int start_close(uv_loop_t* loop, weft_uv_op_t* op, void* arg) {
  (void)loop;
  uv_handle_t* h = arg;
  h->data = op;
  uv_close(h, on_closed);
  return 0;
}

static int uv_sleep_ms(uv_loop_t* loop, uint64_t ms) {
  uv_sleep_t s = {.ms = ms};
  int status = weft_uv_await(loop, start_sleep, cancel_sleep, &s);
  /* The handle is on `loop`: close it there, and wait for libuv. Closing
   * may meet a cancellation that came too late for the timer; it is
   * delivered by this await, and the close is then done again. */
  while (weft_uv_await(loop, start_close, NULL, &s.timer) == WEFT_ECANCELED) {
  }
  return status;
}

/* ---- uv_fs requests -------------------------------------------------------
 */

typedef struct {
  uv_fs_t req;
  const char* path;
  uv_file file;
  uv_buf_t buf;
  int what; /* 0 open for writing, 1 write, 2 close, 3 stat */
} fs_call_t;

static void on_fs(uv_fs_t* req) {
  weft_uv_done(req->data, req->result < 0 ? (int)req->result : 0);
}

static int start_fs(uv_loop_t* loop, weft_uv_op_t* op, void* arg) {
  fs_call_t* c = arg;
  c->req.data = op;
  switch (c->what) {
    case 0:
      return uv_fs_open(loop, &c->req, c->path, O_WRONLY | O_CREAT | O_TRUNC,
                        0644, on_fs);
    case 1:
      return uv_fs_write(loop, &c->req, c->file, &c->buf, 1, -1, on_fs);
    case 2:
      return uv_fs_close(loop, &c->req, c->file, on_fs);
    default:
      return uv_fs_stat(loop, &c->req, c->path, on_fs);
  }
}

static int fs_call(fs_call_t* c, int what) {
  c->what = what;
  int err = weft_uv_await(NULL, start_fs, NULL, c);
  if (err == 0 && what == 0)
    c->file = (uv_file)c->req.result;
  if (err == 0 && what == 3)
    printf("stat: %llu bytes\n", (unsigned long long)c->req.statbuf.st_size);
  uv_fs_req_cleanup(&c->req);
  return err;
}

static int main_task(void* arg, void** result) {
  (void)arg;
  (void)result;
  /* The worker's own loop: handles made on it belong to it. */
  uv_loop_t* loop = weft_uv_loop();
  printf("uv_timer 20 ms: %s\n", weft_err_name(uv_sleep_ms(loop, 20)));

  weft_timeout_t* tm;
  weft_timeout_enter(20, &tm);
  int status = uv_sleep_ms(loop, 60 * 60 * 1000);
  printf("uv_timer 1 h under a 20 ms timeout: %s, scope: %s\n",
         weft_err_name(status), weft_err_name(weft_timeout_exit(tm)));

  char path[] = "/tmp/weft-interop-XXXXXX";
  int fd = mkstemp(path);
  if (fd >= 0)
    close(fd);
  char text[] = "written through uv_fs_write\n";
  fs_call_t c = {.path = path, .buf = uv_buf_init(text, sizeof(text) - 1)};
  if (fs_call(&c, 0) == 0 && fs_call(&c, 1) == 0)
    printf("wrote %zd bytes\n", (ssize_t)(sizeof(text) - 1));
  fs_call(&c, 2);
  fs_call(&c, 3);
  unlink(path);
  return 0;
}

int main(void) {
  return weft_run(main_task, NULL, NULL, NULL) != 0;
}
