/* A worker: one OS thread, one libuv loop, one local deque, and the tick
 * that decides what runs next. See worker.c. */
#ifndef WEFT_WORKER_H_
#define WEFT_WORKER_H_

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

#include "base/common.h"
#include "base/list.h"
#include "core/ctx.h"
#include "core/runtime.h"
#include "core/deque.h"
#include "core/idle.h"
#include "core/inject.h"
#include "base/sanitizer.h"
#include "core/stack.h"
#include "core/task.h"
#include "core/timer.h"

/* Free task headers a worker keeps; the excess goes back to the runtime. */
#define WEFT_TASK_CACHE_MAX 1024

struct weft__worker_s {
  /* The local run queue; its own cache lines (deque.h). */
  weft__deque_t deque;

  /* The driver: 1 while someone holds the right to touch this worker's
   * loop, timer heap and yield queue and to run its inbox; 0 when free.
   * Anyone may take it (driver.c): the owner's scheduler to poll or park,
   * a task inside an I/O call on this loop, or another worker polling a
   * loop its owner has left unpolled. Taken by an acquire CAS, given back
   * by a release store. On a line of its own with the two hints below:
   * other workers read them every maintenance tick, and must not take
   * the line that holds the LIFO slot and the spawn counters each time. */
  _Atomic int driver WEFT_ALIGNED_CL;
  /* When the loop was last polled, by whoever held the driver: relaxed
   * store under the driver, relaxed loads by would-be drivers (a hint). */
  _Atomic uint64_t polled_ns;
  /* Tasks in `yielded`, for lock-free emptiness hints; written under the
   * driver (relaxed load + store), read relaxed. */
  _Atomic size_t nyielded;
  /* Read-only after creation (from here on, a new cache line). */
  weft_runtime_t* rt WEFT_ALIGNED_CL;
  unsigned index;
  pthread_t thread;

  /* The woken task that runs next (message-passing locality). The owner
   * fills and empties it; a thief may take it when the owner's deque is
   * empty and the owner is busy. Exchanged atomically on both sides. */
  weft_task_t* _Atomic lifo;

  /* Cross-thread messages (weft__inbox_post): a Treiber stack pushed by any
   * thread, drained whole by whoever holds the driver. */
  weft__msg_t* _Atomic inbox;
  /* 1 while the owner may block in uv_run(ONCE): posters must then send
   * the async. seq_cst on both sides (weft__inbox_post, park). */
  _Atomic int sleeping;
  /* Set by stop_msg at shutdown, possibly by another worker driving this
   * one's inbox; read by the owner. relaxed: a flag; the thread join
   * orders the rest. */
  _Atomic int stop;

  /* Statistics read by other threads: written by the owner only (relaxed
   * load + store, no read-modify-write), read with relaxed loads. */
  _Atomic uint64_t n_spawned;
  _Atomic uint64_t n_finished;
  /* Everything below is owner-only. */
  uv_loop_t loop;
  uv_async_t wake;
  /* Wakes a parked worker every kLifoWatchMs while another worker is
   * awake, to steal a LIFO slot whose owner is stuck (worker.c). */
  uv_timer_t lifo_watch;
  weft__timers_t timers;
  struct weft__io_obj_s* io_objs; /* open I/O objects (io.c) */
  int parked;                     /* protected by rt->idle.lock */
  int async_seen;                 /* on_async ran since park() cleared it */
  int searching;
  unsigned lifo_streak;
  uint64_t tick;
  /* The worker whose driver the task running here holds (an I/O call, a
   * sleep), or NULL; given back when the task switches out. Owner only. */
  weft__worker_t* held;
  uint32_t rng;
  /* Tasks that yielded, waiting for the next poll of the loop; under the
   * driver. */
  WEFT_FIFO(weft_task_t) yielded;
  weft_task_t* fiber;   /* running fiber (or NULL on the scheduler) */
  weft_task_t* current; /* running task (fiber, or an inline child) */
  weft__ctx_t sched_ctx;
  weft__san_t sched_san;
  /* Runs on the scheduler's stack right after a fiber switched out. */
  void (*post_fn)(weft__worker_t* w, void* arg);
  void* post_arg;
  weft__stack_pool_t stacks;
  weft_task_t* task_cache; /* free headers, linked by next */
  size_t ntask_cache;
  /* Released futures kept for this thread's next weft_future_new
   * (future.c); owner thread only. Closed once drained. */
  struct weft_future_s* future_cache;
  unsigned nfuture_cache;
  int future_cache_closed;
  uint64_t id_next; /* task ids handed out from a block */
  uint64_t id_end;
  void* altstack;
  uint64_t* seen_ticks;  /* search(): each victim's tick at our last look */
  weft__msg_t check_msg; /* shutdown: "see whether every task is done" */
  weft__msg_t stop_msg;  /* shutdown: "leave the loop" */
  /* Ticks published for thieves deciding whether the owner is stuck
   * behind a long task (then its LIFO slot may be stolen). Stored by the
   * owner (relaxed), read by thieves (relaxed): a heuristic. */
  _Atomic uint64_t tick_pub;
  /* Metrics (metrics.c), like n_spawned: owner-only writers, relaxed
   * load + store, relaxed reads. At the end, beside tick_pub (also stored
   * by the owner every tick): above `loop` they shifted the owner-only
   * fields, and gcc 12 then realigned the stack in weft__task_alloc (7
   * more instructions a spawn). */
  _Atomic uint64_t n_run;     /* switches into a task, inline runs */
  _Atomic uint64_t n_stolen;  /* tasks this worker took from others */
  _Atomic uint64_t n_parks;   /* calls to park() */
  _Atomic uint64_t n_wakeups; /* sleeps ended by another thread */
  /* I/O operations completed on this worker's loop: written by whoever
   * holds its driver, one at a time (the driver orders them), so a load
   * and a store still lose no increment. */
  _Atomic uint64_t n_io_callbacks;
  _Atomic uint64_t n_drives; /* other workers' loops polled here */
  /* The task being run (w->current: the fiber, or the child running
   * inline on it), NULL between tasks: for the debug monitor and
   * dumps (debug.c). Stored by the owner (release), read by others
   * (acquire): a hint, which readers confirm by retaining the task. */
  weft_task_t* _Atomic running_pub;
  /* Deterministic mode's state (det.c), or NULL; read-only. */
  struct weft__det_s* det;
  /* rt->hooks.next_task, copied here for the tick: read-only. */
  weft_task_t* (*next_hook)(weft__worker_t* w);
  /* Requests on libuv's thread pool in flight (files, DNS), which
   * deterministic mode waits for before its clock moves. Owner only. */
  unsigned pool_reqs;
  /* The thread's kernel id, for the debug monitor's look at its state in
   * /proc; 0 until the thread runs. Stored once by the thread (relaxed),
   * read by the monitor (relaxed): 0 only makes the monitor skip a look. */
  _Atomic int tid;
  /* Owner only; at the end, so that the fields above keep the offsets the
   * hot paths were tuned with (see the metrics above). */
  size_t yield_round; /* yielders left to run in this round */
  /* Hand-off (worker.c): the fiber that switched straight to the running
   * one and whose switch-out is not finished yet, and whether the driver
   * taken for it must be released then. Owner thread only. */
  weft_task_t* handoff_from;
  int handoff_driver;
  int woke; /* parked since the last task ran */
};


/* The calling thread's worker, or NULL. Never inlined, with a compiler
 * barrier: a task may resume on another thread after any await, and the
 * compiler must not reuse a thread-local address computed before it. */
weft__worker_t* weft__worker_self(void);

int weft__worker_create(weft_runtime_t* rt, unsigned index,
                        weft__worker_t** out);
int weft__worker_start(weft__worker_t* w);
void weft__worker_join(weft__worker_t* w);
void weft__worker_free(weft__worker_t* w);

/* Queues a runnable task on `w` (owner only): deque, or half to the global
 * queue when full. Notifies an idle worker once two tasks are queued (see
 * worker.c), without the ordering RMW (idle.c). */
void weft__worker_push(weft__worker_t* w, weft_task_t* t);
/* Queues a woken fiber in the LIFO slot. Owner only. */
void weft__worker_push_lifo(weft__worker_t* w, weft_task_t* t);
/* For deterministic mode: the LIFO slot's task, else the deque's oldest;
 * and the yield queue's first. NULL when empty. Owner only. */
weft_task_t* weft__worker_take_local(weft__worker_t* w);
weft_task_t* weft__worker_take_yielded(weft__worker_t* w);
/* 1 if any queue `w` runs from holds a task. Owner only. */
int weft__worker_has_queued(weft__worker_t* w);

/* Suspends the running fiber. `post` runs on the scheduler stack once the
 * fiber is switched out (release a lock, queue it). From a task only. */
void weft__park(void (*post)(weft__worker_t* w, void* arg), void* arg);
/* weft_yield's park: the task goes behind the other yielders. */
void weft__park_yield(void);

/* Post-switch action of weft_yield: queues the fiber `arg` behind every
 * task that is runnable on `w`. Owner only. */
void weft__yield_post(weft__worker_t* w, void* arg);

/* Runs `t` (QUEUED, just popped from the caller's deque) inline on the
 * current stack. The queue's reference to t passes to the caller, who
 * reads t's result and then releases it. From a task only. */
void weft__run_inline(weft__worker_t* w, weft_task_t* t);

/* ---- The driver (worker.c) ----------------------------------------------
 * Whoever touches a worker's loop, timer heap or yield queue, or runs its
 * inbox, holds that worker's driver. */

/* Takes v's driver if it is free: 1, else 0. Any thread; never waits. */
int weft__driver_try(weft__worker_t* v);
/* Gives v's driver back. */
void weft__driver_release(weft__worker_t* v);
/* Takes v's driver, waiting out brief holders: only where v cannot be
 * asleep in its loop (v is the caller's own worker, which runs it). */
void weft__driver_lock(weft__worker_t* v);
/* The running task takes v's driver and keeps it until it switches out
 * (awaits, yields, ends) or calls weft__driver_leave; a driver it held
 * before is given back first. 1, or 0 when another holds v's (a brief
 * holder, or v asleep in its loop). From a task only. */
int weft__driver_borrow(weft__worker_t* v);
/* The same, waiting out brief holders; only for v the caller's own worker,
 * whose owner cannot be asleep while it runs the caller. */
void weft__driver_borrow_own(weft__worker_t* w);
/* Gives back the driver the running task holds, if any. */
void weft__driver_leave(weft__worker_t* w);
/* Serves v's loop once for `self` (the calling thread's worker), holding
 * v's driver: due timers, a non-blocking poll, the inbox, and (with
 * with_yielded) v's yielded tasks moved into self's deque. What it wakes
 * is queued on self. */
void weft__driver_poll(weft__worker_t* self, weft__worker_t* v, uint64_t now,
                       int with_yielded);
/* Serves, once, each other worker's loop left unpolled for a while by an
 * owner that is awake (computing in one task): 1 if it served any. */
int weft__driver_rescue(weft__worker_t* self, uint64_t now);

/* Posts a message to `w`'s inbox. Any thread. */
void weft__inbox_post(weft__worker_t* w, weft__msg_t* m);
/* Runs every message in the inbox: the caller holds w's driver (it may be
 * another worker). Handlers queue what they wake on the calling thread's
 * worker, never on `w`'s queues. Returns 1 if any. */
int weft__inbox_drain(weft__worker_t* w);

/* For the overflow handler: the running fiber's stack and the running task
 * (which may be an inline child on that stack). */
int weft__worker_fault_context(const weft__stack_t** s, weft_task_t** task);

/* Adds 1 to one of w's statistics counters. Owner only: no other thread
 * writes it, so a relaxed load and store replace a read-modify-write. */
static inline void weft__worker_count(_Atomic uint64_t* counter) {
  /* relaxed: a statistic; readers only need an untorn value, and the
   * owner is its only writer, so no increment is lost. */
  atomic_store_explicit(counter,
                        atomic_load_explicit(counter, memory_order_relaxed) + 1,
                        memory_order_relaxed);
}

/* Counts a finished task; during shutdown, checks whether it was the last. */
void weft__worker_count_finished(weft__worker_t* w);

#endif /* WEFT_WORKER_H_ */
