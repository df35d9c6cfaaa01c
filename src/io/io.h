/* The I/O foundation (io.c): how a task waits for a libuv callback on the
 * worker that owns the handle, how a call enters that worker's loop, and how
 * I/O objects are closed when the runtime ends. Every weft I/O file builds
 * on these; the public weft_uv_* interop is the same machinery. */
#ifndef WEFT_IO_H_
#define WEFT_IO_H_

#include <uv.h>

#include "weft.h"
#include "core/worker.h"

/* One awaited operation; lives on the waiting task's stack. Every field is
 * touched under `home`'s driver only (core/driver.c), except `task`'s own
 * lock-protected wait descriptor (core/wait.c). */
struct weft_uv_op_s {
  weft_task_t* task;    /* the waiting task */
  weft__worker_t* home; /* where the operation and its callback run */
  /* Hurries the operation (on home); it must still end in weft__io_done. */
  void (*cancel)(struct weft_uv_op_s* op);
  void* data;                    /* the operation's, for callbacks and cancel */
  struct weft_uv_op_s* next;     /* for objects that keep lists of waiters */
  weft_uv_cancel_fn user_cancel; /* weft_uv_await's */
  void* user_arg;
  int status;
  int done;        /* set by weft__io_done */
  int parked;      /* the task is switched out, waiting */
  int cancel_sent; /* `cancel` has run */
  int pooled;      /* counted in home->pool_reqs until done */
};
typedef struct weft_uv_op_s weft__io_op_t;

/* Enters home's loop: returns holding home's driver (core/driver.c), on
 * the worker the task runs on, or, when home sleeps in its loop, after
 * moving the task to home (parks, and home's inbox resumes it there).
 * The driver goes back when the task next switches out (any await) or
 * calls weft__io_leave. From a task only. */
void weft__io_enter(weft__worker_t* home);
/* Moves the calling task to home's thread and enters its loop there
 * (weft_uv_enter): waits for home if home is busy in a long task. */
void weft__io_move_to(weft__worker_t* home);
/* Enters the loop of the worker running the task, which becomes the home
 * of what the call creates; returns that worker. From a task only. */
weft__worker_t* weft__io_enter_here(void);
/* Gives back the loop the task entered: at the end of an I/O call, so a
 * task that computes after it does not keep other tasks off the loop. */
void weft__io_leave(void);

/* Prepares `op` for the calling task on its current worker (which must be
 * the operation's home). */
void weft__io_op_init(weft__io_op_t* op, void (*cancel)(weft__io_op_t* op),
                      void* data);

/* Waits for weft__io_done(op) (which may already have happened) and
 * returns its status: WEFT_ECANCELED if `cancel` ran and the operation
 * ended with UV_ECANCELED (the request is then consumed; otherwise it
 * stays pending for the next await). A request already pending when the
 * wait begins runs `cancel` at once. Returns on an unknown worker: call
 * weft__io_enter again before touching the object. */
int weft__io_wait(weft__io_op_t* op);

/* `op` waits for a request libuv runs on its thread pool (files, DNS),
 * just started: it is counted until weft__io_done, so deterministic mode
 * can wait for it. Under op->home's driver only. */
void weft__io_pool_started(weft__io_op_t* op);

/* Ends the wait of `op` with `status`. Under op->home's driver only. */
void weft__io_done(weft__io_op_t* op, int status);

/* A pending cancellation or shutdown, taken: WEFT_ECANCELED, else 0. For
 * calls that check before they start an operation. From a task only. */
int weft__io_check_cancel(void);

/* 0 from a task, else WEFT_ENOTTASK; enters no loop (for calls that enter
 * their object's loop next). */
int weft__io_in_task(void);
/* The calling task's worker, or NULL with WEFT_ENOTTASK in *err. Enters
 * that worker's loop (as weft__io_enter_here). */
weft__worker_t* weft__io_task_worker(int* err);

/* The worker that owns `loop` in the calling task's runtime, or NULL. */
weft__worker_t* weft__io_loop_worker(uv_loop_t* loop);

/* An I/O object on its home worker's list: the runtime closes and frees
 * whatever is still open when it ends (weft__io_close_all). */
typedef struct weft__io_obj_s {
  struct weft__io_obj_s* prev;
  struct weft__io_obj_s* next;
  /* Closes the object's handles (their close callbacks free it). Runs on
   * the thread freeing the runtime, after every worker stopped. */
  void (*shutdown)(struct weft__io_obj_s* obj);
  /* What debug mode calls it when the runtime closes it ("TCP stream"),
   * and a few words more (addresses, descriptor), or NULL. */
  const char* kind;
  void (*describe)(struct weft__io_obj_s* obj, char* buf, size_t n);
} weft__io_obj_t;

/* Owner only. */
void weft__io_obj_add(weft__worker_t* w, weft__io_obj_t* obj,
                      void (*shutdown)(weft__io_obj_t* obj));
/* The same, naming the object for debug mode's shutdown report. */
void weft__io_obj_add_named(weft__worker_t* w, weft__io_obj_t* obj,
                            void (*shutdown)(weft__io_obj_t* obj),
                            const char* kind,
                            void (*describe)(weft__io_obj_t* obj, char* buf,
                                             size_t n));
/* "a.b.c.d:port" or "[v6]:port" for `sa`, a Unix socket's path; "?" for
 * other families. */
void weft__io_addr_text(const struct sockaddr* sa, char* buf, size_t n);
void weft__io_obj_remove(weft__worker_t* w, weft__io_obj_t* obj);

/* Runs every remaining object's shutdown, then closes any handle still
 * open on the loop. At runtime end, before the loop's last run. */
void weft__io_close_all(weft__worker_t* w);

/* Ignores SIGPIPE unless the program handles it; once per process. */
void weft__io_ignore_sigpipe(void);

#endif /* WEFT_IO_H_ */
