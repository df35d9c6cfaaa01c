/* The I/O foundation: awaiting libuv callbacks, entering the loop that
 * owns a handle, and closing what is left open at runtime end.
 *
 * DESIGN
 * libuv is not thread-safe: a loop may be used by one thread at a time.
 * Each worker's loop has a driver (core/driver.c), and whoever holds it
 * may touch the loop and its handles. So every I/O call first enters the
 * object's home loop (weft__io_enter): it borrows home's driver, from
 * whatever worker the task runs on, or, when home sleeps in its loop
 * holding the driver, moves the task there (the task parks, a message in
 * home's inbox wakes home and resumes the task on it). It then works on the
 * handle from the task itself and waits with weft__io_wait, which gives the
 * driver back only once the task is switched out. The callback runs on
 * whichever thread next polls home's loop (home, or a worker serving the
 * loop while home computes) and calls weft__io_done, which wakes the task
 * on that thread. Nothing here needs an atomic beyond the driver and the
 * task's wait descriptor, which is under the task's lock.
 *
 * Cancellation: weft_cancel sees the I/O wait kind and posts the
 * task's cancel message to the wait's worker (as for a sleep); whoever
 * drives that worker's loop runs it. There, if
 * the task still waits on that operation, the operation's cancel hook runs
 * (uv_cancel, uv_close, withdrawing a reader, ...) and the operation ends
 * through weft__io_done as usual: the task never wakes while libuv may
 * still write into a request on its stack. If it ended with UV_ECANCELED
 * the request counts as delivered; if it completed anyway, the request
 * stays pending for the next await, so neither a result nor a cancellation
 * is lost. A request that came before the wait registered is seen under
 * the task's lock when it registers, and the hook runs at once.
 */
#include "io/io.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "base/common.h"
#include "core/wait.h"

static const weft__wait_kind_t kIoWait;

/* Tries for a busy driver before moving to its worker instead. */
enum { kEnterSpins = 64 };

/* ---- Moving a task to a handle's worker ------------------------------ */

typedef struct {
  weft__msg_t msg;
  weft_task_t* fiber;
  weft__worker_t* home;
} weft__migrate_t;

static void on_migrate(weft__worker_t* w, weft__msg_t* m) {
  (void)w;
  weft__migrate_t* mig = weft__container_of(m, weft__migrate_t, msg);
  /* On the thread driving home (home itself, unless home is busy): the
   * fiber goes into that worker's LIFO slot. */
  weft__wake_fiber(mig->fiber);
}

static void post_migrate(weft__worker_t* w, void* arg) {
  (void)w;
  weft__migrate_t* mig = arg;
  weft__inbox_post(mig->home, &mig->msg);
}

/* Tries for home's driver while its holder is brief; 0 when home sleeps
 * in its loop or stays busy. */
static int borrow_soon(weft__worker_t* home) {
  for (int i = 0; i < kEnterSpins; i++) {
    if (weft__driver_borrow(home))
      return 1;
    /* relaxed: a hint; an owner asleep in its loop holds the driver for
     * as long as it sleeps, so only a message will do. */
    if (atomic_load_explicit(&home->sleeping, memory_order_relaxed))
      return 0;
    weft__cpu_relax();
  }
  return 0;
}

void weft__io_enter(weft__worker_t* home) {
  /* A task resumed on home may be stolen before it runs: go again. */
  for (;;) {
    if (borrow_soon(home))
      return;
    weft__worker_t* w = weft__worker_self();
    weft__migrate_t mig = {.msg.fn = on_migrate,
                           .fiber = w->fiber,
                           .home = home};
    weft__park(post_migrate, &mig);
  }
}

/* A move's message: resumes the task on the inbox's own worker only; a
 * worker serving that inbox for a busy owner passes it on to the owner. */
static void on_move(weft__worker_t* w, weft__msg_t* m) {
  weft__migrate_t* mig = weft__container_of(m, weft__migrate_t, msg);
  if (weft__worker_self() == w)
    weft__wake_fiber(mig->fiber);
  else
    weft__inbox_post(w, m);
}

void weft__io_move_to(weft__worker_t* home) {
  for (;;) {
    weft__worker_t* w = weft__worker_self();
    if (w == home) {
      weft__driver_borrow_own(w);
      return;
    }
    weft__migrate_t mig = {.msg.fn = on_move, .fiber = w->fiber, .home = home};
    weft__park(post_migrate, &mig);
  }
}

weft__worker_t* weft__io_enter_here(void) {
  weft__worker_t* w = weft__worker_self();
  weft__driver_borrow_own(w);
  return w;
}

void weft__io_leave(void) {
  weft__driver_leave(weft__worker_self());
}

int weft__io_in_task(void) {
  weft__worker_t* w = weft__worker_self();
  return w != NULL && w->current != NULL ? 0 : WEFT_ENOTTASK;
}

weft__worker_t* weft__io_task_worker(int* err) {
  if ((*err = weft__io_in_task()) != 0)
    return NULL;
  weft__worker_t* w = weft__worker_self();
  weft__driver_borrow_own(w);
  return w;
}

weft__worker_t* weft__io_loop_worker(uv_loop_t* loop) {
  weft__worker_t* w = weft__worker_self();
  if (w == NULL || loop == NULL)
    return NULL;
  weft_runtime_t* rt = w->rt;
  for (unsigned i = 0; i < rt->nworkers; i++)
    if (&rt->workers[i]->loop == loop)
      return rt->workers[i];
  return NULL;
}

int weft__io_check_cancel(void) {
  weft__worker_t* w = weft__worker_self();
  /* relaxed: as in await.c's closing(): a late view only delays it. */
  if (atomic_load_explicit(&w->rt->closing, memory_order_relaxed) ||
      weft__take_cancel(w->current))
    return WEFT_ECANCELED;
  return 0;
}

/* ---- Waiting for an operation ---------------------------------------- */

void weft__io_op_init(weft__io_op_t* op, void (*cancel)(weft__io_op_t* op),
                      void* data) {
  weft__worker_t* w = weft__worker_self();
  memset(op, 0, sizeof(*op));
  op->task = w->current;
  /* The loop the task entered (weft__io_enter), or its own. */
  if (w->held == NULL)
    weft__driver_borrow_own(w);
  op->home = w->held;
  op->cancel = cancel;
  op->data = data;
}

static void run_cancel(weft__io_op_t* op) {
  if (op->cancel != NULL && !op->cancel_sent) {
    op->cancel_sent = 1;
    op->cancel(op);
  }
}

int weft__io_wait(weft__io_op_t* op) {
  weft_task_t* t = op->task;
  /* Holding home's driver until switched out is what keeps the callback
   * from waking us before (core/driver.c). */
  WEFT_CHECK(op->done || weft__worker_self()->held == op->home);
  if (!op->done) {
    weft__spin_lock(&t->lock);
    /* relaxed: under the task's lock, which weft_cancel holds to set it. */
    int pending = atomic_load_explicit(&t->cancel, memory_order_relaxed);
    t->wait_kind = &kIoWait;
    t->wait_worker = op->home;
    t->wait_io = op;
    weft__spin_unlock(&t->lock);
    if (pending)
      run_cancel(op); /* may end the operation at once */
    if (!op->done) {
      op->parked = 1;
      weft__park(NULL, NULL);
    }
  }
  if (op->cancel_sent && op->status == UV_ECANCELED)
    return WEFT_ECANCELED;
  return op->status;
}

void weft__io_pool_started(weft__io_op_t* op) {
  op->pooled = 1;
  op->home->pool_reqs++;
}

void weft__io_done(weft__io_op_t* op, int status) {
  weft_task_t* t = op->task;
  /* Runs on the home worker's thread (its loop's callback, or the task
   * itself on home), so that worker's counter has one writer. */
  weft__worker_count(&op->home->n_io_callbacks);
  if (op->pooled) {
    op->pooled = 0;
    op->home->pool_reqs--;
  }
  op->status = status;
  op->done = 1;
  weft__spin_lock(&t->lock);
  if (t->wait_kind == &kIoWait && t->wait_io == op) {
    t->wait_kind = NULL;
    t->wait_io = NULL;
  }
  if (op->cancel_sent && status == UV_ECANCELED)
    /* relaxed: under the task's lock. Delivered as this wait's result. */
    atomic_store_explicit(&t->cancel, 0, memory_order_relaxed);
  weft__spin_unlock(&t->lock);
  /* parked is only set on this thread right before the switch, so a
   * callback that sees it runs after the fiber is switched out. */
  if (op->parked)
    weft__wake_fiber(t->host);
}

/* The cancel message (weft_cancel posts it for an I/O wait). */
static void on_cancel_io(weft__worker_t* w, weft__msg_t* m) {
  weft_task_t* t = weft__container_of(m, weft_task_t, cancel_msg);
  weft__io_op_t* op = NULL;
  weft__spin_lock(&t->lock);
  t->cancel_msg_pending = 0;
  /* relaxed: under the task's lock. */
  if (t->wait_kind == &kIoWait && t->wait_worker == w &&
      atomic_load_explicit(&t->cancel, memory_order_relaxed))
    op = t->wait_io;
  weft__spin_unlock(&t->lock);
  /* op is live: the task cannot leave the wait while we are on its
   * thread, and weft__io_done would have cleared wait_io. */
  if (op != NULL)
    run_cancel(op);
  weft__task_release(t);
}

static void* io_cancel_locked(weft_task_t* t) {
  return weft__wait_cancel_message(t, on_cancel_io);
}

static void io_describe(weft_task_t* t, char* buf, size_t n) {
  weft__worker_t* w = t->wait_worker;
  snprintf(buf, n, "I/O operation %p on worker %u", (void*)t->wait_io,
           w ? w->index : 0u);
}

/* A cancel is a message to the operation's home worker, which hurries the
 * operation there (only that thread touches the handle). */
static const weft__wait_kind_t kIoWait = {"I/O", io_cancel_locked,
                                          weft__wait_post_message, io_describe};

/* ---- SIGPIPE ------------------------------------------------------------ */

/* A write to a socket or pipe whose reader has gone must fail with
 * UV_EPIPE, not kill the program (Python ignores SIGPIPE for the same
 * reason; libuv writes with write(2)). Only the default action is
 * replaced: a handler the program set stays. Children start with the
 * default again (libuv resets every disposition). */
static void ignore_sigpipe(void) {
  struct sigaction sa;
  if (sigaction(SIGPIPE, NULL, &sa) == 0 && !(sa.sa_flags & SA_SIGINFO) &&
      sa.sa_handler == SIG_DFL) {
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
  }
}

void weft__io_ignore_sigpipe(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, ignore_sigpipe);
}

/* ---- Objects closed at runtime end ----------------------------------- */

void weft__io_obj_add(weft__worker_t* w, weft__io_obj_t* obj,
                      void (*shutdown)(weft__io_obj_t* obj)) {
  weft__io_obj_add_named(w, obj, shutdown, "I/O object", NULL);
}

void weft__io_obj_add_named(weft__worker_t* w, weft__io_obj_t* obj,
                            void (*shutdown)(weft__io_obj_t* obj),
                            const char* kind,
                            void (*describe)(weft__io_obj_t* obj, char* buf,
                                             size_t n)) {
  obj->shutdown = shutdown;
  obj->kind = kind;
  obj->describe = describe;
  obj->prev = NULL;
  obj->next = w->io_objs;
  if (w->io_objs != NULL)
    w->io_objs->prev = obj;
  w->io_objs = obj;
}

void weft__io_obj_remove(weft__worker_t* w, weft__io_obj_t* obj) {
  if (obj->prev != NULL)
    obj->prev->next = obj->next;
  else if (w->io_objs == obj)
    w->io_objs = obj->next;
  if (obj->next != NULL)
    obj->next->prev = obj->prev;
  obj->prev = obj->next = NULL;
}

static void close_leftover(uv_handle_t* h, void* arg) {
  (void)arg;
  if (!uv_is_closing(h))
    uv_close(h, NULL);
}

void weft__io_addr_text(const struct sockaddr* sa, char* buf, size_t n) {
  char ip[64] = "?";
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in* a = (const struct sockaddr_in*)sa;
    uv_ip4_name(a, ip, sizeof(ip));
    snprintf(buf, n, "%s:%u", ip, (unsigned)ntohs(a->sin_port));
  } else if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6* a = (const struct sockaddr_in6*)sa;
    uv_ip6_name(a, ip, sizeof(ip));
    snprintf(buf, n, "[%s]:%u", ip, (unsigned)ntohs(a->sin6_port));
  } else if (sa->sa_family == AF_UNIX) {
    snprintf(buf, n, "%s", ((const struct sockaddr_un*)sa)->sun_path);
  } else {
    snprintf(buf, n, "?");
  }
}

/* Debug mode: what the program left open, before the runtime closes it. */
static void report_open(weft__worker_t* w, weft__io_obj_t* obj) {
  char more[160] = "";
  if (obj->describe != NULL)
    obj->describe(obj, more, sizeof(more));
  weft__warn("shutdown: %s%s%s still open on worker %u; closing it", obj->kind,
             more[0] != '\0' ? " " : "", more, w->index);
}

void weft__io_close_all(weft__worker_t* w) {
  while (w->io_objs != NULL) {
    weft__io_obj_t* obj = w->io_objs;
    weft__io_obj_remove(w, obj);
    if (w->rt->debug)
      report_open(w, obj);
    obj->shutdown(obj);
  }
  /* Handles a user made on the loop (weft_uv_loop) and left open. */
  uv_walk(&w->loop, close_leftover, NULL);
}

/* ---- Public interop --------------------------------------------------- */

uv_loop_t* weft_uv_loop(void) {
  weft__worker_t* w = weft__worker_self();
  if (w == NULL || w->current == NULL)
    return NULL;
  /* Held until the task's next await, as the header promises. */
  weft__driver_borrow_own(w);
  return &w->loop;
}

int weft_uv_enter(uv_loop_t* loop) {
  int err;
  if (weft__io_task_worker(&err) == NULL)
    return err;
  weft__worker_t* home = weft__io_loop_worker(loop);
  if (home == NULL)
    return WEFT_EINVAL;
  weft__io_move_to(home);
  return 0;
}

static void user_cancel(weft__io_op_t* op) {
  op->user_cancel(op, op->user_arg);
}

int weft_uv_await(uv_loop_t* loop, weft_uv_start_fn start,
                  weft_uv_cancel_fn cancel, void* arg) {
  int err;
  weft__worker_t* w = weft__io_task_worker(&err);
  if (w == NULL)
    return err;
  weft__worker_t* home = loop == NULL ? w : weft__io_loop_worker(loop);
  if (home == NULL || start == NULL)
    return WEFT_EINVAL;
  if ((err = weft__io_check_cancel()) != 0)
    return err;
  weft__io_enter(home);
  weft__io_op_t op;
  weft__io_op_init(&op, cancel != NULL ? user_cancel : NULL, arg);
  op.user_cancel = cancel;
  op.user_arg = arg;
  err = start(&home->loop, &op, arg);
  if (err < 0 && !op.done)
    return err;
  return weft__io_wait(&op);
}

void weft_uv_done(weft_uv_op_t* op, int status) {
  if (op != NULL && !op->done)
    weft__io_done(op, status);
}
