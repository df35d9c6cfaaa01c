/* The runtime struct: the array of workers and what they share, and the
 * core's runtime-wide calls (shutdown.c). runtime.c creates it. */
#ifndef WEFT_RUNTIME_H_
#define WEFT_RUNTIME_H_

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "core/hooks.h"
#include "core/idle.h"
#include "core/inject.h"
#include "core/stack.h"
#include "weft.h"

typedef struct weft__worker_s weft__worker_t;

struct weft_runtime_s {
  unsigned nworkers;
  weft__worker_t** workers;
  weft__inject_t global;
  weft__idle_t idle;
  weft__stacks_t stacks;
  size_t stack_size;
  /* The blocking-call executor (blocking.c); read-only pointer. */
  struct weft__blocking_s* blocking;
  /* weft_call_soon's round robin. relaxed: any worker will do. */
  _Atomic unsigned next_call_soon;

  /* 1 once shutdown began: spawns fail and every await is cancelled.
   * Release store by weft_runtime_free; acquire/relaxed loads (see uses). */
  _Atomic int closing;
  /* Id blocks. relaxed: only uniqueness matters. */
  _Atomic uint64_t next_id;
  /* Spawns from threads outside the workers. relaxed counter, seq_cst in
   * the shutdown check (runtime.c). */
  _Atomic uint64_t ext_spawned;

  /* Task header slabs and the shared free list. */
  pthread_mutex_t slab_lock;
  struct weft__slab_s* slabs;
  weft_task_t* free_tasks;
  size_t nfree_tasks;

  /* Bumped by every shutdown check (seq_cst RMW): orders the checks. */
  _Atomic uint64_t checks;
  /* Shutdown: the last task to finish signals done_cv. */
  pthread_mutex_t done_lock;
  pthread_cond_t done_cv;
  int all_done; /* protected by done_lock */

  /* The optional layers' hooks (hooks.h); read-only after creation. */
  weft__hooks_t hooks;
  /* Debug mode (debug/); read-only after creation. */
  int debug;
  unsigned slow_task_ms;
  struct weft__monitor_s* monitor; /* the slow-task monitor, or NULL */
  struct weft__dumper_s* dumper;   /* the dump-signal thread, or NULL */
  struct weft__det_s* det;         /* deterministic mode (det.c), or NULL */
  /* 1 when the runtime holds the SIGSEGV/SIGBUS handler (overflow.c);
   * written before the workers start, read at the runtime's end. */
  int fault_handler;
};

/* 1 once the calling task's runtime is shutting down (every await then
 * fails at once: cleanup loops must not spin on it). 0 outside a runtime.
 * Any thread. */
int weft__runtime_closing(void);

/* The runtime's shutdown check (shutdown.c). */
void weft__runtime_check_done(weft_runtime_t* rt);
/* Tasks spawned and finished so far. A task counted finished has its own
 * spawns counted too (shutdown.c), so spawned >= finished. Any thread. */
void weft__runtime_counts(const weft_runtime_t* rt, uint64_t* spawned,
                          uint64_t* finished);

#endif /* WEFT_RUNTIME_H_ */
