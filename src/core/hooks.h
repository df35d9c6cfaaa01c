/* The runtime's hooks: how the optional layers (deterministic mode, debug
 * mode, I/O) plug into the core without the core naming them.
 *
 * runtime.c, the composition root, fills the table before any worker
 * starts; it is read-only after that (thread creation publishes it). Every
 * hook may be NULL, and a NULL hook costs one test of a pointer the caller
 * already has in cache: what the flag tests it replaced cost. */
#ifndef WEFT_HOOKS_H_
#define WEFT_HOOKS_H_

#include "weft.h"

typedef struct weft__worker_s weft__worker_t;

typedef struct weft__hooks_s {
  /* Picks the next task for `w` instead of the scheduler's tick, or NULL
   * to park (deterministic mode). Owner only. Copied into each worker. */
  weft_task_t* (*next_task)(weft__worker_t* w);
  /* 1: the hook above moves time itself; the timer heap never arms a real
   * timer. */
  int virtual_time;
  /* A task header is about to be recycled (debug mode's never-awaited
   * report). Any thread. */
  void (*task_freed)(weft_task_t* t);
  /* Blocking calls (blocking.c): begin before a call is queued (NULL:
   * out of memory, the call fails with WEFT_ENOMEM); end when it returned,
   * taking over the completion of `future` (and the caller's reference);
   * drop when it will not run. All three or none. */
  void* (*call_begin)(weft_runtime_t* rt);
  void (*call_end)(weft_runtime_t* rt, void* call, weft_future_t* future,
                   int status, void* result);
  void (*call_drop)(weft_runtime_t* rt, void* call);
  /* Runtime end, after every worker stopped: closes the I/O objects left
   * on w's loop, before the loop's last run. */
  void (*close_io)(weft__worker_t* w);
} weft__hooks_t;

#endif /* WEFT_HOOKS_H_ */
