/* Shared machinery of the synchronisation primitives (lock.c, sem.c,
 * permits.c, event.c, cond.c, barrier.c).
 *
 * DESIGN
 * A waiter that must park puts a node (on its own stack) on the primitive's
 * FIFO list under the primitive's spin lock, and awaits the node's future
 * with weft_future_await, so one path serves tasks (which park) and plain
 * threads (which block). The waker pops the node under the same spin lock
 * and completes its future there, handing over whatever was waited for. A
 * waiter whose await fails (cancelled) takes the spin lock again: a node
 * still linked was never handed anything and is unlinked; an unlinked one
 * was, and the waiter passes it on. Completing under the spin lock keeps
 * the node alive while the waker touches it: the waiter cannot get past
 * that lock and return (freeing its stack) before the waker lets go.
 */
#ifndef WEFT_SYNC_H_
#define WEFT_SYNC_H_

#include "base/common.h"

typedef struct weft__sync_node_s {
  struct weft__sync_node_s* next;
  struct weft__sync_node_s* prev;
  weft_future_t* future; /* the waiter's reference */
  size_t index;          /* barrier: arrival index */
  int linked;            /* on a list; under the owner's spin lock */
} weft__sync_node_t;

typedef struct {
  weft__sync_node_t* head;
  weft__sync_node_t* tail;
} weft__sync_list_t;

/* Gives the node a fresh pending future. WEFT_ENOMEM. */
static inline int weft__sync_node_init(weft__sync_node_t* n) {
  n->next = n->prev = NULL;
  n->index = 0;
  n->linked = 0;
  return weft_future_new(&n->future);
}

static inline int weft__sync_empty(const weft__sync_list_t* l) {
  return l->head == NULL;
}

/* Appends at the tail (the newest waiter). */
static inline void weft__sync_push(weft__sync_list_t* l, weft__sync_node_t* n) {
  n->next = NULL;
  n->prev = l->tail;
  if (l->tail != NULL)
    l->tail->next = n;
  else
    l->head = n;
  l->tail = n;
  n->linked = 1;
}

static inline void weft__sync_unlink(weft__sync_list_t* l,
                                     weft__sync_node_t* n) {
  if (n->prev != NULL)
    n->prev->next = n->next;
  else
    l->head = n->next;
  if (n->next != NULL)
    n->next->prev = n->prev;
  else
    l->tail = n->prev;
  n->next = n->prev = NULL;
  n->linked = 0;
}

/* Removes and returns the oldest waiter, NULL if none. */
static inline weft__sync_node_t* weft__sync_pop(weft__sync_list_t* l) {
  weft__sync_node_t* n = l->head;
  if (n != NULL)
    weft__sync_unlink(l, n);
  return n;
}

/* Wakes every waiter with `status` (0, or a negative code). Under the
 * owner's spin lock. */
static inline void weft__sync_wake_all(weft__sync_list_t* l, int status) {
  weft__sync_node_t* n;
  while ((n = weft__sync_pop(l)) != NULL) {
    if (status == 0)
      weft_future_set_result(n->future, NULL);
    else
      weft_future_set_error(n->future, status);
  }
}

/* A counter of permits with a FIFO list of waiters: the core of both the
 * lock (one permit) and the semaphore.
 *
 * `state` is permits << 1 | WEFT__PERMITS_WAITERS. The waiters bit is set
 * exactly while the list is non-empty, and then permits is 0: a release
 * hands its permit straight to the oldest waiter instead of counting it,
 * so a newcomer cannot overtake the queue. Without the bit, acquire and
 * release are one CAS on `state`. */
#define WEFT__PERMITS_WAITERS ((size_t)1)

typedef struct {
  _Atomic size_t state;
  size_t limit; /* most permits it may hold (bounded), or SIZE_MAX >> 1 */
  weft__spin_t spin;
  weft__sync_list_t waiters; /* under spin */
} weft__permits_t;

void weft__permits_init(weft__permits_t* p, size_t value, size_t limit);
/* 0 or WEFT_EAGAIN; never waits. */
int weft__permits_try(weft__permits_t* p);
/* 0, or the failed await's code (WEFT_ECANCELED...), or WEFT_ENOMEM. */
int weft__permits_acquire(weft__permits_t* p);
/* 0, or WEFT_ELIMIT when it would hold more than `limit`. */
int weft__permits_release(weft__permits_t* p);
/* Permits free now (a snapshot). */
size_t weft__permits_value(const weft__permits_t* p);
/* 1 while someone waits (a snapshot). */
int weft__permits_waiting(const weft__permits_t* p);

/* 1 when the caller (the running task, or the plain thread) holds `lock`
 * (lock.c). Any thread. */
int weft__lock_owned(const weft_lock_t* lock);

/* The future a token completes when cancelled (token.c). Borrowed. */
weft_future_t* weft__token_future(weft_token_t* tok);

#endif /* WEFT_SYNC_H_ */
