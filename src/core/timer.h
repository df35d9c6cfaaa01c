/* Sleeping tasks: a per-worker min-heap of deadlines in nanoseconds and one
 * timerfd per worker, polled by the worker's libuv loop. See timer.c. */
#ifndef WEFT_TIMER_H_
#define WEFT_TIMER_H_

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct weft_task_s weft_task_t;
typedef struct weft__worker_s weft__worker_t;

/* What an entry other than a sleep does (a timeout scope's, say): the
 * entry carries its own callbacks, so the heap names no kind above it. */
typedef struct weft__timer_ops_s {
  /* The deadline passed: the entry left the heap. On the heap's worker. */
  void (*fire)(void* obj);
  /* 1 while the entry still matters (else it is stale and dropped). */
  int (*live)(void* obj);
  /* A stale entry left the heap, or the heap is freed with it inside. */
  void (*drop)(void* obj);
} weft__timer_ops_t;

typedef struct {
  uint64_t deadline;
  /* NULL: a sleep; `obj` is the task and `seq` its wait_seq when it
   * slept. Else the entry's own callbacks and object. A sleep is tested
   * first: one predictable branch, as the tag bit it replaces. */
  const weft__timer_ops_t* ops;
  void* obj;
  uint64_t seq;
} weft__timer_entry_t;

/* Owner worker only, all of it. */
typedef struct {
  weft__timer_entry_t* heap;
  size_t len;
  size_t cap;
  size_t stale;      /* entries whose sleep was cancelled (lazy deletion) */
  size_t sweep_at;   /* rebuild when an add finds the heap this long */
  int fd;            /* timerfd, CLOCK_MONOTONIC */
  uint64_t armed;    /* deadline the timerfd is set to; UINT64_MAX: none */
  int virtual_clock; /* deterministic mode moves time: never armed */
  uv_poll_t poll;
} weft__timers_t;

int weft__timers_init(weft__worker_t* w);
/* Starts closing the libuv handle; the fd closes with it. */
void weft__timers_close(weft__worker_t* w);
void weft__timers_free(weft__worker_t* w);

/* Adds a sleep; WEFT_ENOMEM if the heap cannot grow. The caller holds
 * w's driver (core/driver.c), as every call here but the next one. */
int weft__timers_add(weft__worker_t* w, uint64_t deadline, weft_task_t* t,
                     uint64_t seq);
/* Adds an entry with its own callbacks; WEFT_ENOMEM as above. From a
 * task running on w: takes w's driver for the call if it does not hold
 * it. */
int weft__timers_add_entry(weft__worker_t* w, uint64_t deadline,
                           const weft__timer_ops_t* ops, void* obj);
/* Wakes every task whose deadline is <= now and re-arms the timerfd.
 * Returns how many tasks it woke. */
size_t weft__timers_run(weft__worker_t* w, uint64_t now);
/* The earliest deadline of a live entry (stale ones on top are dropped
 * first), or UINT64_MAX when none is left. */
uint64_t weft__timers_next(weft__worker_t* w);
/* A sleep in the heap was withdrawn (its entry is now stale). */
void weft__timers_note_stale(weft__worker_t* w);

#endif /* WEFT_TIMER_H_ */
