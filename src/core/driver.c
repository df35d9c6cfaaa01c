/* The driver: who may touch a worker's loop, timer heap and yield queue,
 * and run its inbox, at a given moment.
 *
 * DESIGN
 * A libuv loop is not tied to a thread, only to one thread at a time. So
 * everything a worker owns besides its run queues (the sockets, files and
 * processes on its loop, its sleeps and timeouts, the tasks that yielded on
 * it, the messages posted to it) sits behind one flag, the worker's driver,
 * and whoever holds the flag may serve it:
 *  - the owner's scheduler, while it polls the loop or sleeps in it;
 *  - a task inside an I/O call on that loop, from any worker: it borrows
 *    the driver and gives it back when it switches out (an await, a yield,
 *    its end) or when the call ends (weft__driver_leave), so a stream's
 *    calls no longer move the task to the stream's worker;
 *  - another worker, when the owner has left its loop unpolled for
 *    kStrandNs while awake: it is running one task that computes without
 *    awaiting. That worker polls the loop, fires the due timers, runs the
 *    inbox and takes the yielded tasks; what they wake is queued on the
 *    rescuer, which runs it (weft__driver_rescue).
 * Nobody waits long for the flag: holders are brief (a poll, one I/O call)
 * except an owner asleep in its loop, whom a borrower wakes through the
 * inbox instead (io/io.c). A task holds at most one driver, and nobody
 * spins for a driver while holding one, so no cycle of waiting can form.
 * The flag is a CAS (acquire) to take and a store (release) to give back:
 * the next holder sees every write the previous one made to the loop, the
 * heap and the queue. The hot paths (spawn, a deque pop, an inline join)
 * never touch it; a yield pays one CAS, a poll one CAS.
 *
 * This is the hand-off Go's sysmon makes of a stalled thread's P, without
 * moving the task: the computing task keeps its thread; its worker's other
 * work stops waiting for it. The rejected alternatives are in
 * docs/design.md ("A busy worker strands nothing").
 */
#include <sched.h>

#include "base/common.h"
#include "base/list.h"
#include "core/worker.h"

enum {
  /* A loop unpolled this long while its owner is awake is rescued. */
  kStrandNs = 1000 * 1000,
  /* Brief holders are waited out by spinning this many times, then by
   * giving the CPU away between tries. */
  kSpinTries = 256
};

int weft__driver_try(weft__worker_t* v) {
  int expected = 0;
  /* relaxed: a cheap look first, so would-be drivers do not bounce the
   * line while the holder works. */
  if (atomic_load_explicit(&v->driver, memory_order_relaxed) != 0)
    return 0;
  /* acquire: pairs with the release in weft__driver_release, so this
   * holder sees the loop, heap and queues as the last one left them. */
  return atomic_compare_exchange_strong_explicit(&v->driver, &expected, 1,
                                                 memory_order_acquire,
                                                 memory_order_relaxed);
}

void weft__driver_release(weft__worker_t* v) {
  /* release: publishes this holder's writes to the next (see try). */
  atomic_store_explicit(&v->driver, 0, memory_order_release);
}

void weft__driver_lock(weft__worker_t* v) {
  for (unsigned i = 0; !weft__driver_try(v); i++) {
    if (i < kSpinTries)
      weft__cpu_relax();
    else
      sched_yield();
  }
}

void weft__driver_leave(weft__worker_t* w) {
  if (w->held != NULL) {
    weft__driver_release(w->held);
    w->held = NULL;
  }
}

int weft__driver_borrow(weft__worker_t* v) {
  weft__worker_t* w = weft__worker_self();
  if (w->held == v)
    return 1;
  weft__driver_leave(w); /* one at a time: no cycle of waiters */
  if (!weft__driver_try(v))
    return 0;
  w->held = v;
  return 1;
}

void weft__driver_borrow_own(weft__worker_t* w) {
  if (w->held == w)
    return;
  weft__driver_leave(w);
  /* The owner runs the caller, so it is not asleep in the loop: whoever
   * holds it is brief (another worker's poll, an I/O call). */
  weft__driver_lock(w);
  w->held = w;
}

/* ---- Serving a loop ------------------------------------------------------ */

/* Moves the tasks that yielded on v into self's deque, oldest on top so
 * that it is popped first. The caller holds v's driver. */
static void move_yielded(weft__worker_t* self, weft__worker_t* v) {
  /* relaxed: under v's driver (see nyielded). */
  if (atomic_load_explicit(&v->nyielded, memory_order_relaxed) == 0)
    return;
  weft_task_t* newest = weft__list_reverse(weft__fifo_take_all(&v->yielded));
  /* relaxed: as above. */
  atomic_store_explicit(&v->nyielded, 0, memory_order_relaxed);
  while (newest != NULL) {
    weft_task_t* next = newest->next;
    newest->next = NULL;
    weft__worker_push(self, newest);
    newest = next;
  }
}

void weft__driver_poll(weft__worker_t* self, weft__worker_t* v, uint64_t now,
                       int with_yielded) {
  /* relaxed: a hint for rescuers (see the field). */
  atomic_store_explicit(&v->polled_ns, now, memory_order_relaxed);
  weft__timers_run(v, now);
  uv_run(&v->loop, UV_RUN_NOWAIT);
  weft__inbox_drain(v);
  if (with_yielded)
    move_yielded(self, v);
}

/* 1 if v's loop looks stranded: unpolled for kStrandNs, its owner awake. */
static int stranded(weft__worker_t* v, uint64_t now) {
  /* relaxed: hints; the driver decides who serves the loop. */
  uint64_t polled = atomic_load_explicit(&v->polled_ns, memory_order_relaxed);
  /* relaxed: a sleeping owner serves its own loop; a late view only
   * costs one failed CAS (it holds the driver while it sleeps). */
  return now - polled >= kStrandNs &&
         !atomic_load_explicit(&v->sleeping, memory_order_relaxed);
}

int weft__driver_rescue(weft__worker_t* self, uint64_t now) {
  weft_runtime_t* rt = self->rt;
  int any = 0;
  for (unsigned i = 0; i < rt->nworkers; i++) {
    weft__worker_t* v = rt->workers[i];
    if (v == self || !stranded(v, now) || !weft__driver_try(v))
      continue;
    weft__worker_count(&self->n_drives);
    weft__driver_poll(self, v, now, 1);
    weft__driver_release(v);
    any = 1;
  }
  return any;
}
