/* Waiting for a process signal.
 *
 * DESIGN
 * Each wait has its own uv_signal_t, on the calling task's stack and on
 * its worker's loop. libuv installs its handler for the signal while at
 * least one watcher of any loop is started, and every started watcher
 * sees each delivery, so tasks waiting for the same signal on several
 * workers all wake. When the last watcher stops, libuv puts back the
 * default action (SIG_DFL): a signal that comes while no task waits does
 * what it would without weft.
 *
 * The watcher is started with uv_signal_start and stopped by its own
 * callback, not started one-shot: libuv installs a one-shot handler with
 * SA_RESETHAND, so the kernel resets it to SIG_DFL at the first delivery,
 * and a wait that starts while another one-shot watcher has not yet been
 * dispatched does not install it again; the next signal would then kill
 * the process although a task waits for it.
 *
 * The wait ends in the watcher's callback, or in the cancel hook, which
 * stops the watcher (libuv then skips a delivery it has not dispatched
 * yet) and ends the wait with UV_ECANCELED, on the same thread: the two
 * cannot both end it. Either way the handle is then closed and its close
 * callback awaited before returning: libuv's loop reads any delivery still
 * in its signal pipe (which points at this handle) before it runs close
 * callbacks, so the handle must stay valid until then.
 */
#include <signal.h>
#include <uv.h>

#include "base/common.h"
#include "io/io.h"

typedef struct {
  weft__io_op_t op;
  uv_signal_t handle;
} sigwait_t;

static void on_signal(uv_signal_t* h, int signum) {
  (void)signum;
  sigwait_t* s = weft__container_of(h, sigwait_t, handle);
  /* Stopped at once: a second delivery already in libuv's pipe is
   * skipped, and the op ends exactly once. */
  uv_signal_stop(h);
  weft__io_done(&s->op, 0);
}

/* The cancel hook, on the watcher's worker. */
static void cancel_wait(weft__io_op_t* op) {
  sigwait_t* s = op->data;
  uv_signal_stop(&s->handle);
  weft__io_done(op, UV_ECANCELED);
}

static void on_closed(uv_handle_t* h) {
  weft__io_done(h->data, 0);
}

/* Closes the handle on its worker `home` and awaits the close callback
 * (no cancel hook: it cannot be hurried, and a pending cancellation stays
 * for the caller's next await). */
static void close_watcher(weft__worker_t* home, uv_signal_t* h) {
  weft__io_op_t op;
  weft__io_enter(home);
  weft__io_op_init(&op, NULL, NULL);
  h->data = &op;
  uv_close((uv_handle_t*)h, on_closed);
  weft__io_wait(&op);
}

static int valid_signum(int signum) {
  return signum >= 1 && signum < NSIG && signum != SIGKILL && signum != SIGSTOP;
}

int weft_signal_wait(int signum) {
  int err;
  sigwait_t s;
  if (!valid_signum(signum))
    return WEFT_EINVAL;
  weft__worker_t* home = weft__io_task_worker(&err);
  if (home == NULL)
    return err;
  if ((err = weft__io_check_cancel()) != 0)
    return err;
  /* On failure the handle was never added to the loop. */
  if ((err = uv_signal_init(&home->loop, &s.handle)) != 0)
    return err;
  weft__io_op_init(&s.op, cancel_wait, &s);
  err = uv_signal_start(&s.handle, on_signal, signum);
  if (err == 0)
    err = weft__io_wait(&s.op); /* 0 or WEFT_ECANCELED */
  /* The wait may end on another worker: close_watcher goes back home. */
  close_watcher(home, &s.handle);
  return err;
}
