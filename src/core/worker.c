/* The worker: its thread, its tick, running and parking fibers.
 *
 * DESIGN
 * One tick picks the next task:
 *   1. every 61st tick: maintenance: one task from the global queue, due
 *      timers and a non-blocking poll of the loop (at most every 200 us),
 *      and an ordered re-advertisement of queued work to idle workers; then,
 *      alternately, a task that yielded or the oldest task of our own deque
 *      (so the global queue, yielders and old local tasks cannot starve
 *      behind newest-first pops);
 *   2. the inbox, if anything was posted;
 *   3. the LIFO slot, at most 3 times in a row (two tasks waking each other
 *      must not starve the deque);
 *   4. the local deque (newest first);
 *   5. tasks that yielded (oldest first);
 *   6. a batch from the global queue;
 *   7. timers and a non-blocking poll of the loop;
 * then, with nothing found: search (steal half of a random victim's
 * deque), then park in uv_run(UV_RUN_ONCE) (idle.c has the protocol).
 * A fiber runs until it awaits: it switches to the worker's scheduler
 * context, which runs the fiber's post-switch action (release a lock,
 * queue it) only once the fiber is fully switched out, so nobody can
 * resume a fiber whose registers are still being saved.
 */
#include "base/alloc.h"
#include "base/list.h"
#include "core/worker.h"

#include <sched.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/common.h"
#include "core/future.h"

enum {
  kMaintenanceInterval = 61, /* prime, as tokio's and Go's */
  kLifoMax = 3,
  kPollIntervalNs = 200 * 1000,
  kGlobalBatch = 64,
  kLifoWatchMs = 1,
  kInlineCheck = 256,      /* inline runs between two clock reads */
  kYieldPollNs = 50 * 1000 /* a round of yielders polls if this is due */
};

/* initial-exec: one load from the thread pointer instead of a call to
 * __tls_get_addr, which the default model for a shared library costs on
 * every weft__worker_self() (several per await). */
static _Thread_local weft__worker_t* tls_worker
    __attribute__((tls_model("initial-exec")));

WEFT_NOINLINE weft__worker_t* weft__worker_self(void) {
  weft__worker_t* w;
  /* The barrier and noinline keep the compiler from caching the address
   * of tls_worker across an await, where the task may change threads. */
  __asm__ __volatile__("" ::: "memory");
  w = tls_worker;
  __asm__ __volatile__("" ::: "memory");
  return w;
}

/* ---- Queues ------------------------------------------------------------ */

static void overflow_to_global(weft__worker_t* w, weft_task_t* t) {
  void* half[WEFT_DEQUE_CAPACITY / 2];
  int n = weft__deque_take_half(&w->deque, half);
  weft_task_t* first = t;
  weft_task_t* last = t;
  /* Oldest first, then the new task. */
  if (n > 0) {
    first = half[0];
    for (int i = 0; i + 1 < n; i++)
      ((weft_task_t*)half[i])->next = half[i + 1];
    ((weft_task_t*)half[n - 1])->next = t;
  }
  weft__inject_push(&w->rt->global, first, last, (size_t)n + 1);
}

/* A lone queued task is what this worker runs next, as soon as the running
 * task awaits or ends; waking another worker to take it would only move it
 * to a cold core (a spawn chain then bounces between workers, paying a
 * wake-up each time). So another worker is woken once a second task is
 * queued; the maintenance tick re-advertises any queued work every 61
 * tasks, and a deque that overflows feeds the global queue. */
void weft__worker_push(weft__worker_t* w, weft_task_t* t) {
  if (WEFT_UNLIKELY(weft__deque_push(&w->deque, t) != 0))
    overflow_to_global(w, t);
  /* One worker has nobody to wake (a fork–join pays this per spawn). */
  if (w->rt->nworkers > 1 && weft__deque_len(&w->deque) >= 2)
    weft__idle_notify(&w->rt->idle, 0);
}

/* The LIFO slot's task runs as soon as the running task awaits or ends,
 * unless that task computes for a long time without awaiting; then a
 * parked worker's watch (sleep_in_loop) steals it. Waking a worker here
 * instead would cost a system call per wake-up (a ping-pong between two
 * tasks does one per round trip). */
void weft__worker_push_lifo(weft__worker_t* w, weft_task_t* t) {
  /* acq_rel: the slot is shared with thieves (search_lifo); we publish t
   * and take whatever was there. */
  weft_task_t* prev =
      atomic_exchange_explicit(&w->lifo, t, memory_order_acq_rel);
  if (prev != NULL)
    weft__worker_push(w, prev);
  /* A running task filled the slot and may compute on: if every other
   * worker sleeps without a watch, nobody would take it. Wake one; it
   * finds this worker awake and sleeps watched (sleep_in_loop). relaxed:
   * a hint, see the field. */
  if (w->current != NULL &&
      WEFT_UNLIKELY(atomic_load_explicit(&w->rt->idle.unwatched,
                                         memory_order_relaxed) != 0))
    weft__idle_notify(&w->rt->idle, 1);
}

static weft_task_t* take_lifo(weft__worker_t* w) {
  /* relaxed: a cheap emptiness check before the exchange. */
  if (atomic_load_explicit(&w->lifo, memory_order_relaxed) == NULL)
    return NULL;
  /* acquire: pairs with the acq_rel exchange in push_lifo. */
  return atomic_exchange_explicit(&w->lifo, NULL, memory_order_acquire);
}

/* The yield queue is under the driver (driver.c): a worker that serves
 * this one's loop while it computes takes the yielded tasks too. */
static void count_yielded(weft__worker_t* w, size_t n) {
  /* relaxed: written under the driver; readers want a hint. */
  atomic_store_explicit(&w->nyielded, n, memory_order_relaxed);
}

static size_t nyielded(weft__worker_t* w) {
  /* relaxed: a hint (see the field). */
  return atomic_load_explicit(&w->nyielded, memory_order_relaxed);
}

/* The oldest yielded task: under the driver (run_yielded), or in
 * deterministic mode's draw (one worker, nobody else to take it). */
/* Resuming one of thousands of yielded tasks would miss on its header and
 * on its stack top (and its page's TLB entry), one after the other. The
 * FIFO knows who comes next: each pop starts loading the stack top of the
 * task two places on, whose header the pop before started loading, and
 * the header three places on, so both have a task's run or two to arrive.
 * Driver held. */
static inline void prefetch_yielded(weft__worker_t* w) {
  weft_task_t* next = w->yielded.head;
  if (next == NULL || (next = next->next) == NULL)
    return;
  weft__ctx_prefetch(&next->ctx);
  if (next->next != NULL)
    __builtin_prefetch(next->next);
}

static weft_task_t* yield_pop(weft__worker_t* w) {
  weft_task_t* t = weft__fifo_pop(&w->yielded);
  if (t != NULL) {
    count_yielded(w, nyielded(w) - 1);
    prefetch_yielded(w);
  }
  return t;
}

/* The task runs again after the loop's next poll (as tokio's yield_now):
 * a task that yields between computations lets I/O in. */
void weft__yield_post(weft__worker_t* w, void* arg) {
  weft_task_t* t = arg;
  weft__driver_lock(w);
  weft__fifo_push(&w->yielded, t);
  count_yielded(w, nyielded(w) + 1);
  weft__driver_release(w);
}

/* Takes a batch from the global queue: runs the first, queues the rest. */
static weft_task_t* refill_from_global(weft__worker_t* w) {
  weft__inject_t* g = &w->rt->global;
  size_t len = weft__inject_len(g);
  if (len == 0)
    return NULL;
  size_t want = len / w->rt->nworkers + 1;
  if (want > kGlobalBatch)
    want = kGlobalBatch;
  weft_task_t* chain;
  size_t n = weft__inject_pop(g, want, &chain);
  if (n == 0)
    return NULL;
  weft_task_t* first = chain;
  chain = chain->next;
  while (chain != NULL) {
    weft_task_t* next = chain->next;
    chain->next = NULL;
    if (weft__deque_push(&w->deque, chain) != 0)
      overflow_to_global(w, chain);
    chain = next;
  }
  first->next = NULL;
  return first;
}

/* ---- Inbox --------------------------------------------------------------- */

void weft__inbox_post(weft__worker_t* w, weft__msg_t* m) {
  /* relaxed: the CAS below publishes. */
  weft__msg_t* head = atomic_load_explicit(&w->inbox, memory_order_relaxed);
  do {
    m->next = head;
    /* seq_cst: publishes m (release) and orders the push before the load
     * of `sleeping` below (StoreLoad), pairing with the owner's seq_cst
     * store of sleeping and load of inbox in park(). */
  } while (!atomic_compare_exchange_weak_explicit(&w->inbox, &head, m,
                                                  memory_order_seq_cst,
                                                  memory_order_relaxed));
  /* seq_cst: see above. */
  if (atomic_load_explicit(&w->sleeping, memory_order_seq_cst))
    uv_async_send(&w->wake);
}

int weft__inbox_drain(weft__worker_t* w) {
  /* relaxed: cheap emptiness check; the exchange decides. */
  if (atomic_load_explicit(&w->inbox, memory_order_relaxed) == NULL)
    return 0;
  /* acquire: pairs with the posters' CAS, making each message visible. */
  weft__msg_t* m =
      atomic_exchange_explicit(&w->inbox, NULL, memory_order_acquire);
  weft__msg_t* fifo = weft__list_reverse(m);
  while (fifo != NULL) {
    weft__msg_t* next = fifo->next;
    fifo->fn(w, fifo);
    fifo = next;
  }
  return 1;
}

static void on_async(uv_async_t* handle) {
  /* Only wakes uv_run; the worker loop drains the inbox. The flag tells
   * park() that another thread ended its sleep (the wake-ups metric). */
  weft__container_of(handle, weft__worker_t, wake)->async_seen = 1;
}

/* ---- Running fibers -------------------------------------------------------
 */

void weft__worker_count_finished(weft__worker_t* w) {
  /* release: a shutdown check that reads this count (acquire) also sees
   * the spawns this task made (runtime.c). Owner-only writer, so a load
   * and a store are enough. */
  atomic_store_explicit(&w->n_finished,
                        atomic_load_explicit(&w->n_finished,
                                             memory_order_relaxed) +
                            1,
                        memory_order_release);
  /* relaxed: if we miss `closing` here, the check message that follows
   * it reaches this worker later (runtime.c). */
  if (WEFT_UNLIKELY(
          atomic_load_explicit(&w->rt->closing, memory_order_relaxed)))
    weft__runtime_check_done(w->rt);
}

/* Ends a task that never got a stack (cancelled before it started, or no
 * stack could be had). */
static void finish_unstarted(weft__worker_t* w, weft_task_t* t, int status) {
  weft__task_complete(w, t, status);
  weft__task_release(t);
}

static int start_cancelled(weft__worker_t* w, weft_task_t* t) {
  /* relaxed: a hint; a request that lands just after is delivered at the
   * task's first await instead. */
  return atomic_load_explicit(&t->cancel, memory_order_relaxed) ||
         /* relaxed: shutdown also cancels every task through its flag. */
         atomic_load_explicit(&w->rt->closing, memory_order_relaxed);
}

static void fiber_exit(weft__worker_t* w, void* arg) {
  weft_task_t* t = arg;
  weft__san_fiber_destroy(WEFT_TASK_SAN(t));
  weft__stack_put(&w->rt->stacks, &w->stacks, t->stack);
  t->stack = NULL;
  t->stack_canary = 0;
  weft__task_release(t);
}

static void fiber_entry(void* arg) {
  weft_task_t* t = arg;
  weft__worker_t* w = weft__worker_self();
  weft__san_after(WEFT_TASK_SAN(t), &w->sched_san);
  int status = t->fn(t->arg, &t->result);
  w = weft__worker_self();
  weft__task_complete(w, t, status);
  w->post_fn = fiber_exit;
  w->post_arg = t;
  weft__san_before(WEFT_TASK_SAN(t), &w->sched_san, 1);
  weft__ctx_switch(&t->ctx, &w->sched_ctx);
  WEFT_CHECK(!"a finished fiber was resumed");
}

static int start_fiber(weft__worker_t* w, weft_task_t* t) {
  if (start_cancelled(w, t)) {
    finish_unstarted(w, t, WEFT_ECANCELED);
    return -1;
  }
  t->stack = weft__stack_get(&w->rt->stacks, &w->stacks, t->stack_req);
  if (t->stack == NULL) {
    finish_unstarted(w, t, WEFT_ENOMEM);
    return -1;
  }
  t->stack_canary = t->stack->guard == WEFT_GUARD_CANARY;
  weft__san_fiber_create(WEFT_TASK_SAN(t), t->stack->lo, t->stack->size,
                         &t->stack->san_fiber);
  weft__ctx_make(&t->ctx, t->stack->lo,
                 (size_t)(weft__stack_top(t->stack) - t->stack->lo),
                 fiber_entry, t);
  t->host = t;
  t->inner = t;
  t->outer = NULL;
  /* relaxed: informational (weft_task_state); no data hangs on it. */
  atomic_store_explicit(&t->phase, WEFT_PHASE_RUNNING, memory_order_relaxed);
  return 0;
}

static void run(weft__worker_t* w, weft_task_t* t) {
  /* relaxed: only the worker that took t from a queue touches its phase
   * now. */
  if (atomic_load_explicit(&t->phase, memory_order_relaxed) ==
      WEFT_PHASE_QUEUED) {
    if (start_fiber(w, t) != 0)
      return;
  }
  weft__worker_count(&w->n_run);
  w->fiber = t;
  w->current = t->inner;
  /* relaxed: a hint for dumps (task.h); a plain store on x86-64 and
   * aarch64, so the hot path stays as cheap. */
  atomic_store_explicit(&t->last_worker, (int)w->index, memory_order_relaxed);
  /* release: a reader that loads t (acquire) may retain it, which reads
   * the header: our view of it (its slab's creation included) must come
   * with the pointer. A plain store on x86-64 (stlr on aarch64). */
  atomic_store_explicit(&w->running_pub, w->current, memory_order_release);
  weft__san_before(&w->sched_san, WEFT_TASK_SAN(t), 0);
  weft__ctx_switch(&w->sched_ctx, &t->ctx);
  weft__san_after(&w->sched_san, NULL);
  /* relaxed: NULL publishes nothing. */
  atomic_store_explicit(&w->running_pub, NULL, memory_order_relaxed);
  /* Not always t: t may have handed off to another task (hand-off below),
   * and that one (or a later one) switched back. */
  t = w->fiber;
  if (WEFT_UNLIKELY(t->stack_canary) && weft__stack_canary_broken(t->stack))
    weft__overflow_report("its canary was overwritten");
  w->fiber = NULL;
  w->current = NULL;
  void (*post)(weft__worker_t*, void*) = w->post_fn;
  w->post_fn = NULL;
  /* Like the post action, only once we are done with t: a callback that
   * the driver lets run elsewhere may wake it and run it (driver.c). */
  if (w->held != NULL)
    weft__driver_leave(w);
  if (post != NULL)
    post(w, w->post_arg);
}

/* ---- Hand-off ------------------------------------------------------------
 *
 * A task that parks while the worker already knows what runs next (the
 * task it just woke, in the LIFO slot; the next yielder of the round)
 * switches straight to it: one context switch instead of two, and no pass
 * through the loop. What run() does once a task is switched out (the canary
 * check, the release of the driver it held, its post action) the next task
 * does first thing after the switch (finish_handoff): the parked task's
 * context is saved by then, so a post that lets others wake it is as safe
 * as from the scheduler. Only to tasks that already run on a stack (a
 * fresh one may be cancelled before it starts, and completing it there
 * could need a lock the parked task's post still holds), never at a
 * maintenance tick, with messages waiting or in deterministic mode, and
 * LIFO hand-offs count in the loop's LIFO streak: the loop keeps its
 * duties and its fairness. */

static int handoff_allowed(weft__worker_t* w) {
  if (w->next_hook != NULL || (w->tick + 1) % kMaintenanceInterval == 0)
    return 0;
  /* relaxed: a hint; a message that lands just after waits for the loop's
   * next pass, as it would behind a running task. */
  return atomic_load_explicit(&w->inbox, memory_order_relaxed) == NULL;
}

/* The task in our LIFO slot, if it was running on its stack before. */
static weft_task_t* lifo_handoff(weft__worker_t* w) {
  if (w->lifo_streak >= kLifoMax)
    return NULL;
  /* relaxed: only this worker fills the slot, so what we see is the task
   * the exchange below returns, unless a thief takes it first. */
  weft_task_t* t = atomic_load_explicit(&w->lifo, memory_order_relaxed);
  /* relaxed: the phase of a task in our slot was written before it was
   * pushed there, by this thread or through the push's release. */
  if (t == NULL || atomic_load_explicit(&t->phase, memory_order_relaxed) ==
                       WEFT_PHASE_QUEUED)
    return NULL;
  t = take_lifo(w);
  if (t != NULL)
    w->lifo_streak++;
  return t;
}

/* The next yielder of this round, when nothing else waits to run; `f`
 * takes its place behind the others. The driver stays held until the
 * switch is over (finish_handoff), so no rescuer resumes `f` half-saved. */
static weft_task_t* yield_handoff(weft__worker_t* w, weft_task_t* f) {
  /* relaxed: hints; work that appears meanwhile runs at the next pass. */
  if (atomic_load_explicit(&w->lifo, memory_order_relaxed) != NULL ||
      weft__deque_len(&w->deque) > 0 || weft__inject_len(&w->rt->global) > 0)
    return NULL;
  int own = w->held == w;
  if (!own && !weft__driver_try(w))
    return NULL;
  weft_task_t* t = NULL;
  if (w->yield_round != 0 && w->yield_round <= nyielded(w))
    t = yield_pop(w);
  if (t == NULL) {
    if (!own)
      weft__driver_release(w);
    return NULL;
  }
  w->yield_round--;
  weft__fifo_push(&w->yielded, f);
  count_yielded(w, nyielded(w) + 1);
  w->handoff_driver = !own;
  return t;
}

/* Switches from fiber `from` to `to`, taken from a queue, as run() would
 * switch to it from the scheduler. */
static void switch_to_task(weft__worker_t* w, weft_task_t* from,
                           weft_task_t* to) {
  /* relaxed: a heuristic for thieves (see tick_pub). */
  atomic_store_explicit(&w->tick_pub, ++w->tick, memory_order_relaxed);
  weft__worker_count(&w->n_run);
  w->handoff_from = from;
  w->fiber = to;
  w->current = to->inner;
  /* relaxed: a hint for dumps, as in run(). */
  atomic_store_explicit(&to->last_worker, (int)w->index, memory_order_relaxed);
  /* release: as in run(). */
  atomic_store_explicit(&w->running_pub, w->current, memory_order_release);
  weft__san_before(WEFT_TASK_SAN(from), WEFT_TASK_SAN(to), 0);
  weft__ctx_switch(&from->ctx, &to->ctx);
}

/* What run() does after a task switched out, for the task that handed off
 * to us. */
static void finish_handoff(weft__worker_t* w) {
  weft_task_t* from = w->handoff_from;
  w->handoff_from = NULL;
  if (WEFT_UNLIKELY(from->stack_canary) &&
      weft__stack_canary_broken(from->stack)) {
    w->fiber = from; /* the report names the task that overflowed */
    weft__overflow_report("its canary was overwritten");
  }
  void (*post)(weft__worker_t*, void*) = w->post_fn;
  w->post_fn = NULL;
  if (w->held != NULL)
    weft__driver_leave(w);
  if (w->handoff_driver) {
    w->handoff_driver = 0;
    weft__driver_release(w);
  }
  if (post != NULL)
    post(w, w->post_arg);
}

/* Back on `f` after a switch: on the scheduler's word, or a hand-off's. */
static void resumed(weft_task_t* f, weft_task_t* cur) {
  /* Possibly on another worker now. */
  weft__worker_t* w = weft__worker_self();
  (void)f; /* only the sanitizers' hooks look at it */
  weft__san_after(WEFT_TASK_SAN(f), &w->sched_san);
  if (w->handoff_from != NULL)
    finish_handoff(w);
  /* relaxed: informational. */
  atomic_store_explicit(&cur->phase, WEFT_PHASE_RUNNING, memory_order_relaxed);
}

void weft__park(void (*post)(weft__worker_t* w, void* arg), void* arg) {
  weft__worker_t* w = weft__worker_self();
  weft_task_t* f = w->fiber;
  weft_task_t* cur = w->current;
  /* relaxed: informational (weft_task_state). */
  atomic_store_explicit(&cur->phase, WEFT_PHASE_SUSPENDED,
                        memory_order_relaxed);
  w->post_fn = post;
  w->post_arg = arg;
  weft_task_t* next = handoff_allowed(w) ? lifo_handoff(w) : NULL;
  if (next != NULL) {
    switch_to_task(w, f, next);
  } else {
    weft__san_before(WEFT_TASK_SAN(f), &w->sched_san, 0);
    weft__ctx_switch(&f->ctx, &w->sched_ctx);
  }
  resumed(f, cur);
}

void weft__park_yield(void) {
  weft__worker_t* w = weft__worker_self();
  weft_task_t* f = w->fiber;
  weft_task_t* next = handoff_allowed(w) ? yield_handoff(w, f) : NULL;
  if (next == NULL) {
    weft__park(weft__yield_post, f);
    return;
  }
  weft_task_t* cur = w->current;
  /* relaxed: informational (weft_task_state). */
  atomic_store_explicit(&cur->phase, WEFT_PHASE_SUSPENDED,
                        memory_order_relaxed);
  w->post_fn = NULL;
  switch_to_task(w, f, next);
  resumed(f, cur);
}

/* A fork–join storm runs children inline, with no tick: every
 * kInlineCheck runs, a look at the clock polls the loop if it is due,
 * so that sockets and timers are served while the storm lasts. Not in
 * deterministic mode, whose order is its own. */
WEFT_NOINLINE static void poll_inline_slow(weft__worker_t* w) {
  if (w->next_hook != NULL)
    return;
  uint64_t now = weft__now_ns();
  /* relaxed: a hint (see the field). */
  if (now - atomic_load_explicit(&w->polled_ns, memory_order_relaxed) <
      kPollIntervalNs)
    return;
  int had = w->held == w;
  if (!had && !weft__driver_try(w))
    return; /* someone is serving the loop right now */
  weft__driver_poll(w, w, now, 0);
  if (!had)
    weft__driver_release(w);
}

/* Counts the run (the tasks_run metric) and, every kInlineCheck runs,
 * looks at the clock out of line, so that the inline path keeps its frame
 * and pays nothing but the counter it already kept. */
static inline void count_inline_run(weft__worker_t* w) {
  /* relaxed: a statistic with one writer (weft__worker_count). */
  uint64_t runs = atomic_load_explicit(&w->n_run, memory_order_relaxed) + 1;
  /* relaxed: as above. */
  atomic_store_explicit(&w->n_run, runs, memory_order_relaxed);
  if (WEFT_UNLIKELY(runs % kInlineCheck == 0))
    poll_inline_slow(w);
}

void weft__run_inline(weft__worker_t* w, weft_task_t* t) {
  weft_task_t* cur = w->current;
  weft_task_t* f = w->fiber;
  if (start_cancelled(w, t)) {
    weft__task_complete(w, t, WEFT_ECANCELED);
    return;
  }
  count_inline_run(w);
  t->host = f;
  t->outer = cur;
  /* relaxed: informational. */
  atomic_store_explicit(&t->phase, WEFT_PHASE_RUNNING, memory_order_relaxed);
  f->inner = t;
  w->current = t;
  /* relaxed: a hint for dumps, as in run(). */
  atomic_store_explicit(&t->last_worker, (int)w->index, memory_order_relaxed);
  /* release: as in run(). */
  atomic_store_explicit(&w->running_pub, t, memory_order_release);
  int status = t->fn(t->arg, &t->result);
  w = weft__worker_self();
  f->inner = cur;
  w->current = cur;
  /* release: as in run(). */
  atomic_store_explicit(&w->running_pub, cur, memory_order_release);
  weft__task_complete(w, t, status);
}

void weft__wake_fiber(weft_task_t* fiber) {
  weft__worker_t* w = weft__worker_self();
  if (w != NULL && w->rt == fiber->rt) {
    weft__worker_push_lifo(w, fiber);
    return;
  }
  weft__inject_push(&fiber->rt->global, fiber, fiber, 1);
  weft__idle_notify(&fiber->rt->idle, 1);
}

/* ---- The tick -------------------------------------------------------------
 */

static int has_local_work(weft__worker_t* w) {
  /* relaxed: owner's own view of its slot. */
  return atomic_load_explicit(&w->lifo, memory_order_relaxed) != NULL ||
         weft__deque_len(&w->deque) > 0 || nyielded(w) > 0;
}

static uint64_t polled_ns(weft__worker_t* w) {
  /* relaxed: a hint (see the field). */
  return atomic_load_explicit(&w->polled_ns, memory_order_relaxed);
}

/* Runs due timers and polls the loop without blocking, unless another
 * thread is serving the loop right now. Returns 1 if something is
 * runnable here. */
static int poll_io(weft__worker_t* w) {
  if (weft__driver_try(w)) {
    weft__driver_poll(w, w, weft__now_ns(), 0);
    weft__driver_release(w);
  }
  return has_local_work(w);
}

/* Runs the inbox if anything was posted (and nobody else is at it). */
static void drain_inbox(weft__worker_t* w) {
  /* relaxed: cheap emptiness check; the drain's exchange decides. */
  if (atomic_load_explicit(&w->inbox, memory_order_relaxed) == NULL ||
      !weft__driver_try(w))
    return;
  weft__inbox_drain(w);
  weft__driver_release(w);
}

/* A task that yielded, oldest first. They run in rounds: when a round
 * is over (every task that had yielded ran once), the loop is polled if
 * that has not happened for kYieldPollNs, so yielders let I/O in at least
 * once a round, and a lone yielder at each yield, as tokio's yield_now.
 * A round pays one clock read; each pick, one take of the driver. */
static weft_task_t* run_yielded(weft__worker_t* w) {
  if (nyielded(w) == 0 || !weft__driver_try(w))
    return NULL;
  /* A new round, also when a rescuer took part of the last one. */
  if (w->yield_round == 0 || w->yield_round > nyielded(w)) {
    w->yield_round = nyielded(w);
    uint64_t now = weft__now_ns();
    if (now - polled_ns(w) >= kYieldPollNs) {
      weft__driver_poll(w, w, now, 0);
      /* What the poll woke runs before the round, as it would have had
       * it been woken before the yield: a task that computes and yields
       * lets in the requests that came meanwhile. */
      weft_task_t* woken = take_lifo(w);
      if (woken == NULL)
        woken = weft__deque_pop(&w->deque);
      if (woken != NULL) {
        weft__driver_release(w);
        return woken;
      }
    }
  }
  weft_task_t* t = yield_pop(w);
  weft__driver_release(w);
  if (t != NULL)
    w->yield_round--;
  return t;
}

/* The oldest task of our own deque: the newest-first pops of a task that
 * keeps spawning (a chain, a fork–join storm) must not starve it. */
static weft_task_t* take_oldest_local(weft__worker_t* w) {
  void* x;
  while ((x = weft__deque_steal(&w->deque)) == WEFT_DEQUE_ABORT) {
  }
  return x;
}

static weft_task_t* maintenance(weft__worker_t* w) {
  weft_task_t* t = NULL;
  weft__inject_pop(&w->rt->global, 1, &t);
  uint64_t now = weft__now_ns();
  if (now - polled_ns(w) >= kPollIntervalNs)
    poll_io(w);
  if (w->rt->nworkers > 1)
    weft__driver_rescue(w, now);
  if (weft__deque_len(&w->deque) > 0)
    weft__idle_notify(&w->rt->idle, 1);
  /* Alternate between the two queues a busy deque can starve. */
  if (t == NULL && (w->tick / kMaintenanceInterval) % 2 == 0)
    t = run_yielded(w);
  if (t == NULL)
    t = take_oldest_local(w);
  if (t == NULL)
    t = run_yielded(w);
  return t;
}

weft_task_t* weft__worker_take_local(weft__worker_t* w) {
  weft_task_t* t = take_lifo(w);
  return t != NULL ? t : take_oldest_local(w);
}

weft_task_t* weft__worker_take_yielded(weft__worker_t* w) {
  return yield_pop(w);
}

int weft__worker_has_queued(weft__worker_t* w) {
  return has_local_work(w) || weft__inject_len(&w->rt->global) > 0;
}

static weft_task_t* next_task(weft__worker_t* w) {
  weft_task_t* t;
  /* relaxed: a heuristic for thieves (see tick_pub). */
  atomic_store_explicit(&w->tick_pub, ++w->tick, memory_order_relaxed);
  if (WEFT_UNLIKELY(w->next_hook != NULL))
    return w->next_hook(w); /* deterministic mode (hooks.h) */
  if (WEFT_UNLIKELY(w->tick % kMaintenanceInterval == 0)) {
    if ((t = maintenance(w)) != NULL)
      return t;
  }
  drain_inbox(w);
  if (w->lifo_streak < kLifoMax) {
    if ((t = take_lifo(w)) != NULL) {
      w->lifo_streak++;
      return t;
    }
  }
  w->lifo_streak = 0;
  if ((t = weft__deque_pop(&w->deque)) != NULL)
    return t;
  if ((t = take_lifo(w)) != NULL)
    return t;
  if ((t = refill_from_global(w)) != NULL)
    return t;
  if ((t = run_yielded(w)) != NULL)
    return t;
  if (poll_io(w)) {
    if ((t = take_lifo(w)) != NULL)
      return t;
    if ((t = weft__deque_pop(&w->deque)) != NULL)
      return t;
    return run_yielded(w);
  }
  return NULL;
}

/* ---- Stealing -------------------------------------------------------------
 */

/* Steals about half of v's deque into w's; returns one task to run. */
static weft_task_t* steal_from(weft__worker_t* w, weft__worker_t* v) {
  int64_t n = weft__deque_len(&v->deque);
  weft_task_t* first = NULL;
  if (n <= 0)
    return NULL;
  int64_t want = (n + 1) / 2;
  if (want > WEFT_DEQUE_CAPACITY / 2)
    want = WEFT_DEQUE_CAPACITY / 2;
  for (int64_t got = 0, tries = 0; got < want && tries < 2 * want; tries++) {
    void* x = weft__deque_steal(&v->deque);
    if (x == NULL)
      break;
    if (x == WEFT_DEQUE_ABORT)
      continue;
    got++;
    weft__worker_count(&w->n_stolen);
    if (first == NULL)
      first = x;
    else if (weft__deque_push(&w->deque, x) != 0)
      overflow_to_global(w, x);
  }
  return first;
}

/* Takes a victim's LIFO slot, but only when its owner has not moved on
 * since our previous look: it is stuck in one long task. */
static weft_task_t* steal_lifo(weft__worker_t* w, weft__worker_t* v) {
  /* relaxed: cheap emptiness check. */
  if (atomic_load_explicit(&v->lifo, memory_order_relaxed) == NULL)
    return NULL;
  /* relaxed: a heuristic (see tick_pub). */
  uint64_t tick = atomic_load_explicit(&v->tick_pub, memory_order_relaxed);
  if (tick != w->seen_ticks[v->index]) {
    w->seen_ticks[v->index] = tick;
    return NULL;
  }
  /* acquire: pairs with the owner's acq_rel exchange in push_lifo. */
  weft_task_t* t =
      atomic_exchange_explicit(&v->lifo, NULL, memory_order_acquire);
  if (t != NULL)
    weft__worker_count(&w->n_stolen);
  return t;
}

static weft_task_t* search(weft__worker_t* w) {
  weft_runtime_t* rt = w->rt;
  unsigned n = rt->nworkers;
  weft_task_t* t = NULL;
  if (n == 1)
    return NULL;
  if (!w->searching) {
    if (!weft__idle_start_searching(&rt->idle))
      return NULL;
    w->searching = 1;
  }
  w->rng = w->rng * 1103515245u + 12345u;
  unsigned start = (w->rng >> 8) % n;
  for (unsigned i = 0; i < n && t == NULL; i++) {
    weft__worker_t* v = rt->workers[(start + i) % n];
    if (v != w)
      t = steal_from(w, v);
  }
  for (unsigned i = 0; i < n && t == NULL; i++) {
    weft__worker_t* v = rt->workers[(start + i) % n];
    if (v != w)
      t = steal_lifo(w, v);
  }
  if (t == NULL)
    t = refill_from_global(w);
  /* Loops whose owners compute without awaiting: serve them, and run
   * what that wakes (driver.c). */
  if (t == NULL && weft__driver_rescue(w, weft__now_ns())) {
    if ((t = take_lifo(w)) == NULL)
      t = weft__deque_pop(&w->deque);
  }
  if (t != NULL) {
    w->searching = 0;
    if (weft__idle_stop_searching(&rt->idle))
      weft__idle_notify(&rt->idle, 1);
  }
  return t;
}

/* ---- Parking --------------------------------------------------------------
 */

/* After registering as parked: is there work anywhere? (idle.c) */
static int park_recheck(weft__worker_t* w) {
  weft_runtime_t* rt = w->rt;
  /* Called right after weft__idle_park's seq_cst RMW, whose acquire half
   * keeps these loads after it (idle.c). */
  if (weft__inject_len(&rt->global) > 0 || has_local_work(w))
    return 1;
  for (unsigned i = 0; i < rt->nworkers; i++)
    if (weft__deque_len(&rt->workers[i]->deque) > 0)
      return 1;
  return 0;
}

static void on_lifo_watch(uv_timer_t* timer) {
  (void)timer; /* only ends uv_run(ONCE); the worker then searches */
}

/* Sleeps in the loop. While another worker is awake (busy), the sleep is
 * cut every kLifoWatchMs so that this worker searches again: a task woken
 * into a LIFO slot whose owner then computes without awaiting is stolen
 * after its owner's tick has stood still for one watch period (steal_lifo).
 * Fully idle runtimes get no such wake-ups; a worker asleep unwatched is
 * counted, so that a task filling a LIFO slot wakes it (push_lifo). A push
 * that races with this count may miss it: that slot then waits for its
 * owner, as it would without the count. */
static void sleep_in_loop(weft__worker_t* w) {
  weft__idle_t* idle = &w->rt->idle;
  int watch = weft__idle_others_awake(idle);
  if (!watch)
    /* relaxed: a hint (see above and the field). */
    atomic_fetch_add_explicit(&idle->unwatched, 1, memory_order_relaxed);
  if (watch) {
    /* The loop's clock was last read when it last ran: a timer started
     * on it could be due already, run at the top of uv_run, and leave the
     * poll below to block with no timeout. */
    uv_update_time(&w->loop);
    uv_timer_start(&w->lifo_watch, on_lifo_watch, kLifoWatchMs, 0);
  }
  uv_run(&w->loop, UV_RUN_ONCE);
  if (watch)
    uv_timer_stop(&w->lifo_watch);
  else
    /* relaxed: as above. */
    atomic_fetch_sub_explicit(&idle->unwatched, 1, memory_order_relaxed);
}

static int stopping(weft__worker_t* w) {
  /* relaxed: see the field. */
  return atomic_load_explicit(&w->stop, memory_order_relaxed);
}

/* Sleeps in the loop, holding the driver: a task that wants the loop
 * meanwhile posts to the inbox, which wakes us (io/io.c). */
static void sleep_driving(weft__worker_t* w) {
  if (park_recheck(w))
    return;
  /* seq_cst: pairs with the poster's CAS + load in weft__inbox_post. */
  atomic_store_explicit(&w->sleeping, 1, memory_order_seq_cst);
  /* seq_cst: see above. */
  if (atomic_load_explicit(&w->inbox, memory_order_seq_cst) == NULL &&
      !stopping(w)) {
    w->async_seen = 0;
    sleep_in_loop(w);
    /* relaxed: a hint for rescuers (see the field). */
    atomic_store_explicit(&w->polled_ns, weft__now_ns(), memory_order_relaxed);
    if (w->async_seen)
      weft__worker_count(&w->n_wakeups);
  }
  /* relaxed: only makes posters send a needless async. */
  atomic_store_explicit(&w->sleeping, 0, memory_order_relaxed);
}

static void park(weft__worker_t* w) {
  weft_runtime_t* rt = w->rt;
  weft__worker_count(&w->n_parks);
  weft__idle_park(&rt->idle, w, w->searching);
  w->searching = 0;
  if (weft__driver_try(w)) {
    sleep_driving(w);
    weft__driver_release(w);
  } else {
    /* Another thread serves our loop this moment (a poll, an I/O call):
     * look for work again rather than wait for it. */
    sched_yield();
  }
  if (weft__idle_unpark(&rt->idle, w))
    w->searching = 1;
  drain_inbox(w);
}

/* Back from a park with work: if another worker sleeps unwatched (it
 * parked while every worker did), nobody would serve our loop, slot or
 * yielders should this task compute for long. Wake one; it finds us awake
 * and sleeps watched (sleep_in_loop), cut every kLifoWatchMs to look. */
static void wake_a_watcher(weft__worker_t* w) {
  w->woke = 0;
  /* relaxed: a hint (see the field), as in push_lifo. */
  if (atomic_load_explicit(&w->rt->idle.unwatched, memory_order_relaxed) != 0)
    weft__idle_notify(&w->rt->idle, 1);
}

/* ---- Thread ----------------------------------------------------------- */

static void* worker_main(void* arg) {
  weft__worker_t* w = arg;
  tls_worker = w;
  /* relaxed: see the field. */
  atomic_store_explicit(&w->tid, (int)syscall(SYS_gettid),
                        memory_order_relaxed);
  weft__overflow_thread_init(&w->altstack);
  weft__san_thread_init(&w->sched_san);
  while (!stopping(w)) {
    weft_task_t* t = next_task(w);
    if (t == NULL)
      t = search(w);
    if (t != NULL) {
      if (w->searching) {
        w->searching = 0;
        if (weft__idle_stop_searching(&w->rt->idle))
          weft__idle_notify(&w->rt->idle, 1);
      }
      if (WEFT_UNLIKELY(w->woke))
        wake_a_watcher(w);
      run(w, t);
      continue;
    }
    park(w);
    w->woke = 1;
  }
  weft__stack_pool_drain(&w->rt->stacks, &w->stacks);
  weft__future_cache_drain(w);
  weft__overflow_thread_term(w->altstack);
  tls_worker = NULL;
  return NULL;
}

static void on_stop(weft__worker_t* w, weft__msg_t* m) {
  (void)m;
  /* relaxed: see the field. */
  atomic_store_explicit(&w->stop, 1, memory_order_relaxed);
}

static void on_check(weft__worker_t* w, weft__msg_t* m) {
  (void)m;
  weft__runtime_check_done(w->rt);
}

int weft__worker_create(weft_runtime_t* rt, unsigned index,
                        weft__worker_t** out) {
  weft__worker_t* w =
      weft__aligned_alloc(WEFT_CACHELINE, (sizeof(*w) + WEFT_CACHELINE - 1) /
                                              WEFT_CACHELINE * WEFT_CACHELINE);
  if (w == NULL)
    return WEFT_ENOMEM;
  memset(w, 0, sizeof(*w));
  weft__deque_init(&w->deque);
  w->rt = rt;
  w->det = rt->det;
  w->next_hook = rt->hooks.next_task;
  w->index = index;
  w->rng = index * 2654435761u + 1;
  w->stop_msg.fn = on_stop;
  w->check_msg.fn = on_check;
  w->seen_ticks = weft__calloc(rt->nworkers, sizeof(*w->seen_ticks));
  if (w->seen_ticks == NULL)
    goto error1;
  if (uv_loop_init(&w->loop) != 0)
    goto error1;
  if (uv_async_init(&w->loop, &w->wake, on_async) != 0)
    goto error2;
  uv_timer_init(&w->loop, &w->lifo_watch); /* cannot fail */
  if (weft__timers_init(w) != 0)
    goto error3;
  *out = w;
  return 0;
error3:
  uv_close((uv_handle_t*)&w->lifo_watch, NULL);
  uv_close((uv_handle_t*)&w->wake, NULL);
error2:
  uv_run(&w->loop, UV_RUN_DEFAULT);
  uv_loop_close(&w->loop);
error1:
  free(w->seen_ticks);
  free(w);
  return WEFT_ENOMEM;
}

int weft__worker_start(weft__worker_t* w) {
  return pthread_create(&w->thread, NULL, worker_main, w) == 0 ? 0
                                                               : WEFT_ENOMEM;
}

/* Waits for the thread to leave its loop (after stop_msg). A worker that
 * never started (thread == 0) has nothing to join. */
void weft__worker_join(weft__worker_t* w) {
  if (w->thread != 0)
    pthread_join(w->thread, NULL);
  w->thread = 0;
}

/* Closes the loop and frees the worker. Only once every worker of the
 * runtime is joined: a worker's shutdown check reads all the others. */
void weft__worker_free(weft__worker_t* w) {
  uv_close((uv_handle_t*)&w->wake, NULL);
  uv_close((uv_handle_t*)&w->lifo_watch, NULL);
  weft__timers_close(w);
  if (w->rt->hooks.close_io != NULL)
    w->rt->hooks.close_io(w);
  uv_run(&w->loop, UV_RUN_DEFAULT);
  WEFT_CHECK(uv_loop_close(&w->loop) == 0);
  weft__timers_free(w);
  weft__stack_pool_drain(&w->rt->stacks, &w->stacks);
  weft__future_cache_drain(w);
  free(w->seen_ticks);
  free(w);
}

int weft__worker_fault_context(const weft__stack_t** s, weft_task_t** task) {
  weft__worker_t* w = tls_worker;
  if (w == NULL || w->fiber == NULL)
    return 0;
  *s = w->fiber->stack;
  *task = w->current;
  return 1;
}
