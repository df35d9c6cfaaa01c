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
 *
 * SIGNAL STREAMS
 * weft_signal_wait watches only while a task waits, so a signal that
 * comes between two waits does its default action: a second SIGTERM that
 * arrives while a service handles the first kills it. A stream watches
 * from open to close instead: one uv_signal_t per signal, started
 * (not one-shot) for the stream's whole life, on the opener's worker
 * (home). libuv keeps its handler installed while any watcher is started,
 * so no signal of the stream falls back to its default action while the
 * stream is open; the last close puts the default back.
 *
 * Every delivery goes either to the oldest waiting receiver (its wait
 * ends with the signal) or, while nobody waits, to the stream's pending
 * deliveries; a receiver waits only while nothing is pending, so arrival
 * order is kept. All of it (receivers, pending deliveries, `closing`) is
 * touched under home's driver only (core/driver.c): the watcher callbacks
 * run there, and every call enters home's loop first (io.c). No wake-up
 * is lost: a receiver holds home's driver from its look at the pending
 * deliveries until it is switched out (io.c), so a delivery comes either
 * before that look (and is taken) or after the receiver is listed (and
 * ends its wait, which weft__io_wait sees even if it ends before the
 * park). A receiver's cancel hook runs there too and takes it off the
 * FIFO: either the delivery ended its wait first (it returns the signal;
 * the cancellation stays pending for its next await) or the hook did (it
 * took nothing). Nothing is lost either way.
 *
 * Pending deliveries. They are kept as runs: (signal, count) pairs in a
 * ring of WEFT__SIGNAL_RUNS (io/signal.h), where a delivery of the signal
 * of the newest run adds one to its count. A flood of one signal costs
 * nothing, and each delivery is reported by its own weft_signal_stream_next.
 * Should the ring fill (that many alternations unread), a delivery joins
 * the newest run of its signal, or, if none is in the ring, a per-signal
 * overflow count that moves into the ring as runs leave it: it is then
 * reported earlier or later than it came, never lost, in bounded memory.
 * An unbounded list would let a signal storm nobody reads take all memory.
 *
 * Closing wakes every waiting receiver with WEFT_ECLOSED, closes every
 * watcher (uv_close stops it first, and libuv then skips deliveries still
 * in its pipe) and awaits the last close callback before freeing: libuv
 * reads its signal pipe, which may point at these handles, before it
 * runs close callbacks.
 */
#include <signal.h>
#include <uv.h>

#include "base/alloc.h"
#include "base/common.h"
#include "base/list.h"
#include "io/io.h"
#include "io/signal.h"

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

/* ---- Signal streams ------------------------------------------------------ */

typedef struct stream_slot_s {
  uv_signal_t handle;
  weft_signal_stream_t* s;
  int signum;
  /* Deliveries counted outside the ring because it was full; non-zero
   * only while the ring is full. Under home's driver. */
  uint64_t overflow;
} stream_slot_t;

typedef struct {
  size_t slot;    /* index into slots[] */
  uint64_t count; /* deliveries of that signal in a row, >= 1 */
} run_t;

/* Every field is read-only after open or touched under home's driver. */
struct weft_signal_stream_s {
  weft__io_obj_t obj;            /* on home's list until closed */
  weft__worker_t* home;          /* where the watchers live */
  WEFT_FIFO(weft__io_op_t) rx;   /* waiting receivers (op.next) */
  run_t runs[WEFT__SIGNAL_RUNS]; /* pending deliveries, oldest at `first` */
  size_t first;
  size_t nruns;
  int closing;              /* a close (or the runtime's end) has begun */
  size_t open_handles;      /* watchers whose close callback is to come */
  weft__io_op_t* closed_op; /* the closing task's wait; NULL at shutdown */
  size_t n;                 /* signals watched */
  stream_slot_t slots[];    /* one per signal */
};

/* A waiting receiver, on its task's stack. */
typedef struct {
  weft__io_op_t op;
  weft_signal_stream_t* s;
  int* signum; /* where the delivery goes */
} stream_receiver_t;

static run_t* run_at(weft_signal_stream_t* s, size_t k) {
  return &s->runs[(s->first + k) % WEFT__SIGNAL_RUNS];
}

/* Appends a run, or adds to the newest one when it is the same signal. 0
 * if the ring is full (and the newest run is another signal). */
static int runs_append(weft_signal_stream_t* s, size_t slot, uint64_t count) {
  if (s->nruns > 0 && run_at(s, s->nruns - 1)->slot == slot) {
    run_at(s, s->nruns - 1)->count += count;
    return 1;
  }
  if (s->nruns == WEFT__SIGNAL_RUNS)
    return 0;
  *run_at(s, s->nruns++) = (run_t){.slot = slot, .count = count};
  return 1;
}

/* Keeps one delivery of slots[slot] for a later receiver (see "Pending
 * deliveries" above). */
static void pending_add(weft_signal_stream_t* s, size_t slot) {
  if (runs_append(s, slot, 1))
    return;
  for (size_t k = s->nruns; k-- > 0;) {
    if (run_at(s, k)->slot == slot) {
      run_at(s, k)->count++;
      return;
    }
  }
  s->slots[slot].overflow++;
}

/* Moves overflow counts into the ring, which just lost a run. */
static void pending_refill(weft_signal_stream_t* s) {
  for (size_t i = 0; i < s->n; i++) {
    stream_slot_t* sl = &s->slots[i];
    if (sl->overflow == 0)
      continue;
    if (!runs_append(s, i, sl->overflow))
      return; /* full again: the rest waits for the next run to leave */
    sl->overflow = 0;
  }
}

/* Takes the oldest pending delivery: 1 with *signum set, 0 if none. */
static int pending_take(weft_signal_stream_t* s, int* signum) {
  if (s->nruns == 0)
    return 0;
  run_t* r = run_at(s, 0);
  *signum = s->slots[r->slot].signum;
  if (--r->count == 0) {
    s->first = (s->first + 1) % WEFT__SIGNAL_RUNS;
    s->nruns--;
    pending_refill(s);
  }
  return 1;
}

/* A watcher's callback, under home's driver. */
static void on_stream_signal(uv_signal_t* h, int signum) {
  stream_slot_t* sl = weft__container_of(h, stream_slot_t, handle);
  weft_signal_stream_t* s = sl->s;
  weft__io_op_t* op = weft__fifo_pop(&s->rx);
  if (op != NULL) {
    stream_receiver_t* r = op->data;
    *r->signum = signum;
    weft__io_done(op, 0);
    return;
  }
  pending_add(s, (size_t)(sl - s->slots));
}

/* The receiver's cancel hook: it leaves the FIFO with no signal. */
static void cancel_next(weft__io_op_t* op) {
  stream_receiver_t* r = op->data;
  weft__fifo_remove(&r->s->rx, op);
  weft__io_done(op, UV_ECANCELED);
}

static void on_stream_handle_closed(uv_handle_t* h) {
  stream_slot_t* sl = weft__container_of(h, stream_slot_t, handle);
  weft_signal_stream_t* s = sl->s;
  if (--s->open_handles > 0)
    return;
  if (s->closed_op != NULL)
    weft__io_done(s->closed_op, 0); /* the closing task frees it */
  else
    free(s); /* the runtime's end: nobody waits */
}

/* Closes the first `n` watchers (all initialized); on home. With `op`,
 * the last close callback ends its wait, else it frees the stream. */
static void close_handles(weft_signal_stream_t* s, size_t n,
                          weft__io_op_t* op) {
  s->closing = 1;
  s->closed_op = op;
  s->open_handles = n;
  for (size_t i = 0; i < n; i++)
    uv_close((uv_handle_t*)&s->slots[i].handle, on_stream_handle_closed);
}

/* Closes the watchers, awaits their close callbacks and frees the stream.
 * On home. The wait cannot be hurried (no cancel hook): a cancellation
 * stays pending for the caller's next await. */
static void close_and_free(weft_signal_stream_t* s, size_t n) {
  weft__io_op_t op;
  weft__io_op_init(&op, NULL, NULL);
  if (n > 0) {
    close_handles(s, n, &op);
    weft__io_wait(&op);
  }
  free(s);
}

/* At runtime end, on the thread freeing it: every task is done, so no
 * receiver waits any more. */
static void stream_shutdown(weft__io_obj_t* obj) {
  weft_signal_stream_t* s = weft__container_of(obj, weft_signal_stream_t, obj);
  close_handles(s, s->n, NULL);
}

/* Debug mode's shutdown report: the signals watched. */
static void stream_describe(weft__io_obj_t* obj, char* buf, size_t n) {
  weft_signal_stream_t* s = weft__container_of(obj, weft_signal_stream_t, obj);
  size_t used = 0;
  for (size_t i = 0; i < s->n && used < n; i++) {
    int w = snprintf(buf + used, n - used, i == 0 ? "signal %d" : ", %d",
                     s->slots[i].signum);
    if (w < 0)
      break;
    used += (size_t)w;
  }
}

/* Valid, and no signal twice. */
static int valid_signums(const int* signums, size_t n) {
  if (signums == NULL || n == 0 || n >= NSIG)
    return 0;
  for (size_t i = 0; i < n; i++) {
    if (!valid_signum(signums[i]))
      return 0;
    for (size_t j = 0; j < i; j++)
      if (signums[j] == signums[i])
        return 0;
  }
  return 1;
}

/* Initializes and starts every watcher; on failure closes those made. */
static int start_watchers(weft_signal_stream_t* s, const int* signums) {
  int err = 0;
  size_t made = 0;
  for (; made < s->n; made++) {
    stream_slot_t* sl = &s->slots[made];
    sl->s = s;
    sl->signum = signums[made];
    /* On failure the handle was never added to the loop. */
    if ((err = uv_signal_init(&s->home->loop, &sl->handle)) != 0)
      break;
    if ((err = uv_signal_start(&sl->handle, on_stream_signal, sl->signum))) {
      made++; /* initialized: it must be closed */
      break;
    }
  }
  if (err != 0)
    close_and_free(s, made);
  return err;
}

int weft_signal_stream_open(const int* signums, size_t n,
                            weft_signal_stream_t** out) {
  int err;
  if (out == NULL)
    return WEFT_EINVAL;
  *out = NULL;
  if (!valid_signums(signums, n))
    return WEFT_EINVAL;
  weft__worker_t* home = weft__io_task_worker(&err);
  if (home == NULL)
    return err;
  weft_signal_stream_t* s =
      weft__calloc(1, sizeof(*s) + n * sizeof(stream_slot_t));
  if (s == NULL)
    return WEFT_ENOMEM;
  s->home = home;
  s->n = n;
  if ((err = start_watchers(s, signums)) != 0)
    return err;
  weft__io_obj_add_named(home, &s->obj, stream_shutdown, "signal stream",
                         stream_describe);
  *out = s;
  return 0;
}

/* Starts a call: enters the stream's loop. 0, WEFT_ENOTTASK, or
 * WEFT_ECLOSED once a close has begun. */
static int stream_enter(weft_signal_stream_t* s) {
  int err = weft__io_in_task();
  if (err != 0)
    return err;
  weft__io_enter(s->home);
  return s->closing ? WEFT_ECLOSED : 0;
}

int weft_signal_stream_next(weft_signal_stream_t* s, int* signum) {
  if (s == NULL || signum == NULL)
    return WEFT_EINVAL;
  int err = stream_enter(s);
  if (err != 0)
    return err;
  if (pending_take(s, signum))
    return 0;
  if ((err = weft__io_check_cancel()) != 0)
    return err;
  stream_receiver_t r = {.s = s, .signum = signum};
  weft__io_op_init(&r.op, cancel_next, &r);
  weft__fifo_push(&s->rx, &r.op);
  /* 0, WEFT_ECANCELED or WEFT_ECLOSED; the stream may be gone by then
   * (closed), so it is not touched again. */
  return weft__io_wait(&r.op);
}

int weft_signal_stream_try_next(weft_signal_stream_t* s, int* signum) {
  if (s == NULL || signum == NULL)
    return WEFT_EINVAL;
  int err = stream_enter(s);
  if (err != 0)
    return err;
  return pending_take(s, signum) ? 0 : WEFT_EAGAIN;
}

int weft_signal_stream_close(weft_signal_stream_t* s) {
  if (s == NULL)
    return 0;
  int err = stream_enter(s);
  if (err != 0)
    return err; /* WEFT_ECLOSED: a close is already under way */
  s->closing = 1;
  weft__io_obj_remove(s->home, &s->obj);
  for (weft__io_op_t* op; (op = weft__fifo_pop(&s->rx)) != NULL;)
    weft__io_done(op, WEFT_ECLOSED);
  close_and_free(s, s->n);
  return 0;
}

size_t weft__signal_stream_pending(weft_signal_stream_t* s) {
  size_t n = 0;
  if (s == NULL || stream_enter(s) != 0)
    return 0;
  for (size_t k = 0; k < s->nruns; k++)
    n += (size_t)run_at(s, k)->count;
  for (size_t i = 0; i < s->n; i++)
    n += (size_t)s->slots[i].overflow;
  return n;
}

size_t weft__signal_stream_receivers(weft_signal_stream_t* s) {
  size_t n = 0;
  if (s == NULL || stream_enter(s) != 0)
    return 0;
  for (weft__io_op_t* op = s->rx.head; op != NULL; op = op->next)
    n++;
  return n;
}
