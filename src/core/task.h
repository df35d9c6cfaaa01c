/* The task header: what a spawned task is while it is queued, running,
 * suspended or finished. See task.c for the lifecycle. */
#ifndef WEFT_TASK_H_
#define WEFT_TASK_H_

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "base/common.h"
#include "core/ctx.h"
#include "base/sanitizer.h"
#include "core/stack.h"

typedef struct weft__worker_s weft__worker_t;

/* A message for a worker's inbox (inbox.c): `fn` runs on that worker. */
typedef struct weft__msg_s {
  struct weft__msg_s* next;
  void (*fn)(weft__worker_t* w, struct weft__msg_s* msg);
} weft__msg_t;

/* Task phases (the `phase` byte). */
enum {
  WEFT_PHASE_FREE = 0,      /* in a header cache */
  WEFT_PHASE_QUEUED = 1,    /* spawned, in exactly one queue, never run */
  WEFT_PHASE_RUNNING = 2,   /* running, or woken and queued again */
  WEFT_PHASE_SUSPENDED = 3, /* parked at an await */
  WEFT_PHASE_DONE = 4       /* status and result are final */
};

/* What a suspended task waits for (core/wait.h). */
typedef struct weft__wait_kind_s weft__wait_kind_t;

/* Someone waiting for a task to finish: a parked fiber, or a thread
 * blocked in weft_await() outside the runtime. Lives on the waiter's
 * stack; linked into the awaited task's list under its lock. */
typedef struct weft__waiter_s {
  struct weft__waiter_s* next;
  weft_task_t* fiber;  /* fiber to wake, or NULL for a thread waiter */
  weft_task_t* task;   /* the waiting task (inline child or fiber) */
  pthread_mutex_t* mu; /* thread waiter: signalled under mu */
  pthread_cond_t* cv;
  int* done;
  int withdrawn; /* set (under the list's lock) by a cancellation */
  /* A watcher (sync/select.c) instead of a waiter: the completion calls
   * notify(node) in place of waking anyone, outside the list's lock, and
   * never touches the node again. NULL for fibers and threads. */
  void (*notify)(struct weft__waiter_s* node);
} weft__waiter_t;

/* The first cache line holds everything a switch, a yield and the queues
 * touch (run, park, the yield FIFO, the cancel check), so that resuming one
 * of thousands of tasks costs one header miss, not three; headers are
 * line-aligned for that (task.c allocates slabs aligned). */
struct WEFT_ALIGNED_CL weft_task_s {
  /* Queue link (global queue, yield list, timer batch). Owned by whoever
   * holds the task in a queue; a task is in at most one. */
  weft_task_t* next;
  /* Fiber part: used when the task runs on its own stack. Owned by the
   * worker running the fiber. */
  weft_task_t* inner; /* on a fiber: the innermost task running on it */
  weft_task_t* host;  /* fiber whose stack runs this task (self, or the
                         awaiter's fiber for an inline child) */
  weft__stack_t* stack;
  /* WEFT_PHASE_*. Stored by the worker running or parking the task (and
   * DONE under `lock`); read anywhere. */
  _Atomic uint8_t phase;
  /* 1 while a cancel request waits for delivery. Set under `lock` by
   * weft_cancel(); cleared by whoever delivers it (under `lock`). */
  _Atomic uint8_t cancel;
  uint8_t cancel_msg_pending; /* cancel_msg is in an inbox; under `lock` */
  /* 1 when `stack` is guarded by a canary that each switch-out checks;
   * set with `stack`, so the check needs no look at the descriptor. */
  uint8_t stack_canary;
  /* Debug mode (debug.c). The worker that last ran the task, or -1:
   * relaxed store by that worker, relaxed loads by dumps (a hint). */
  _Atomic int last_worker;
  /* Handles + 1 while the task has not finished (the scheduler's). */
  _Atomic uint32_t refs;
  /* Written once by the finishing worker before phase becomes DONE
   * (release); read after an acquire load of phase sees DONE. */
  int status;
  weft_runtime_t* rt;
  weft__ctx_t ctx; /* the saved stack pointer (x86-64, aarch64) */

  weft_task_fn fn;
  void* arg;
  void* result;    /* as status */
  int wake_status; /* what the wait returns; under `lock` */
  /* Requests made by weft_cancel() while the task was unfinished, less
   * those a timeout scope took back (asyncio's cancelling()/uncancel()):
   * how a scope tells its own cancellation from someone else's. Under
   * `lock`. */
  uint32_t cancel_requests;
  size_t stack_req;   /* custom stack size, 0 for the runtime's */
  weft_task_t* outer; /* inline child: the task that awaits it, on the
                         same stack; NULL for a fiber */

  /* Protects waiters, the wait descriptor, cancel delivery and
   * cancel_msg_pending. Never held across a switch or another task's lock
   * except by park's post-switch unlock. */
  weft__spin_t lock;
  weft__waiter_t* waiters;
  /* The wait descriptor: what the task waits for (NULL: nothing a cancel
   * can withdraw) and the kind's object. */
  const weft__wait_kind_t* wait_kind;
  uint64_t wait_seq; /* tells a stale timer entry from a live one */
  weft__worker_t* wait_worker;
  /* The kind's object, one per wait (wait.c's park publishes it with the
   * kind through wait_obj, in one take of the lock). */
  union {
    weft_task_t* wait_task;       /* joins */
    weft_future_t* wait_future;   /* futures */
    struct weft_uv_op_s* wait_io; /* I/O operations */
    void* wait_obj;
  };
  weft__msg_t cancel_msg;
  weft_future_t* future; /* weft_task_future(); under `lock` */

  uint64_t id; /* read-only after spawn */
  /* The name, malloc'd: at spawn when one is given, else on the first
   * weft_task_name() (under `lock`). Release store, acquire loads; freed
   * with the header. */
  char* _Atomic name;
  /* 1 once a status was read (await, weft_task_result): relaxed, ordered
   * for the final check by the acq_rel release of the last reference. */
  _Atomic uint8_t dbg_awaited;
  uint8_t dbg_handle; /* spawned with a handle; read-only after spawn */
  /* Task-local values (local.c), NULL until the first set or an
   * inherited one; only the task itself touches them. */
  struct weft__locals_s* locals;
#if defined(WEFT_ASAN) || defined(WEFT_TSAN)
  weft__san_t san;
#endif
};

weft_task_t* weft__task_alloc(weft_runtime_t* rt, weft__worker_t* w);
/* Returns a header that was never published (a failed spawn). */
void weft__task_discard(weft_task_t* t);
void weft__task_release(weft_task_t* t);
int weft__task_try_retain(weft_task_t* t);

/* Finishes `t` with `status`: publishes the result and wakes its waiters.
 * Called on a worker, off the task's own stack or at its very end. */
void weft__task_complete(weft__worker_t* w, weft_task_t* t, int status);

/* Makes a parked fiber runnable. Any thread. */
void weft__wake_fiber(weft_task_t* fiber);

/* Delivers a pending cancel request to `t`: 1 if there was one (now
 * consumed). Cheap when none is pending. */
int weft__take_cancel(weft_task_t* t);

/* Slab registry: every header ever allocated, for weft_task_visit(). */
void weft__slabs_term(weft_runtime_t* rt);
int weft__slabs_visit(weft_runtime_t* rt, int (*cb)(weft_task_t*, void*),
                      void* arg);
/* The same, with finished tasks that still have references when `done`. */
int weft__slabs_visit_ex(weft_runtime_t* rt, int done,
                         int (*cb)(weft_task_t*, void*), void* arg);

/* Debug mode (debug.c): marks the task's status as read. */
static inline void weft__task_observed(weft_task_t* t) {
  /* relaxed: read only by the last release of the task (debug.c), which
   * the reader's own release of its reference orders after this. */
  atomic_store_explicit(&t->dbg_awaited, 1, memory_order_relaxed);
}
/* "'name' (id N)" into buf. The caller holds a reference to `t`. */
void weft__task_label(weft_task_t* t, char* buf, size_t n);

#endif /* WEFT_TASK_H_ */
