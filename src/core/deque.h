/* The worker's local run queue: a bounded Chase–Lev work-stealing deque
 * (Chase & Lev, SPAA 2005; C11 orderings after Lê, Pop, Cohen & Zappa
 * Nardelli, PPoPP 2013).
 *
 * DESIGN
 * The owner pushes and pops at `bottom` (LIFO: the task spawned last runs
 * first, which keeps fork–join depth-first and lets weft_await() find an
 * unstarted child at the bottom); thieves take from `top` (FIFO: the oldest
 * task, usually the biggest piece of a recursive split). Every item is
 * taken exactly once: by the owner's pop, or by the single thief whose CAS
 * on `top` succeeds; when one item is left the owner also CASes `top`, so
 * the owner and a thief cannot both take it.
 *
 * Invariants: top <= bottom + 1 transiently (owner's pop of an empty deque),
 * top <= bottom otherwise; bottom - top <= WEFT_DEQUE_CAPACITY; slots in
 * [top, bottom) hold the queued items. Indices never wrap (int64).
 *
 * Steal-half takes items one CAS at a time (weft__deque_steal in a loop):
 * a single CAS of top by n would race with the owner's fence-free pops of
 * the items in between, since the owner only arbitrates the last item.
 * Moving half to the global queue on overflow is different: the owner does
 * it, so it is not popping meanwhile, and one CAS of top by n is safe.
 */
#ifndef WEFT_DEQUE_H_
#define WEFT_DEQUE_H_

#include <stdatomic.h>
#include <stdint.h>

#include "base/common.h"

#ifndef WEFT_DEQUE_CAPACITY
#define WEFT_DEQUE_CAPACITY 256
#endif

_Static_assert((WEFT_DEQUE_CAPACITY & (WEFT_DEQUE_CAPACITY - 1)) == 0,
               "deque capacity must be a power of two");

typedef struct {
  /* Next item a thief takes. CASed by thieves and, for the last item, by
   * the owner. */
  _Atomic int64_t top WEFT_ALIGNED_CL;
  /* One past the owner's newest item. Written only by the owner; read by
   * thieves. */
  _Atomic int64_t bottom WEFT_ALIGNED_CL;
  /* Written by the owner before publishing them through `bottom`; read by
   * thieves, which only keep what they read if their CAS on top wins. */
  void* _Atomic slots[WEFT_DEQUE_CAPACITY];
} weft__deque_t;

void weft__deque_init(weft__deque_t* dq);

/* Pushes x. Returns 0, or WEFT_EAGAIN when full (nothing pushed). Owner
 * worker only. */
static inline int weft__deque_push(weft__deque_t* dq, void* x) {
  /* relaxed: only the owner writes bottom. */
  int64_t b = atomic_load_explicit(&dq->bottom, memory_order_relaxed);
  /* acquire: pairs with thieves' CAS of top, so their reads of the slots
   * they took happen before we overwrite those slots. */
  int64_t t = atomic_load_explicit(&dq->top, memory_order_acquire);
  if (WEFT_UNLIKELY(b - t >= WEFT_DEQUE_CAPACITY))
    return WEFT_EAGAIN;
  /* relaxed: published by the release store of bottom below. */
  atomic_store_explicit(&dq->slots[b & (WEFT_DEQUE_CAPACITY - 1)], x,
                        memory_order_relaxed);
  /* release: publishes the slot to thieves; pairs with the acquire load of
   * bottom in weft__deque_steal(). */
  atomic_store_explicit(&dq->bottom, b + 1, memory_order_release);
  return 0;
}

/* Pops the newest item, or NULL when empty. Owner worker only. */
void* weft__deque_pop(weft__deque_t* dq);

/* The newest item without taking it (NULL when empty): the fork–join fast
 * path checks whether the task it awaits is still here. Owner worker only. */
static inline void* weft__deque_peek(weft__deque_t* dq) {
  /* relaxed: only the owner writes bottom. */
  int64_t b = atomic_load_explicit(&dq->bottom, memory_order_relaxed);
  /* relaxed: a stale top only makes this a hint; pop() decides. */
  int64_t t = atomic_load_explicit(&dq->top, memory_order_relaxed);
  if (b <= t)
    return NULL;
  /* relaxed: the owner wrote this slot itself. */
  return atomic_load_explicit(&dq->slots[(b - 1) & (WEFT_DEQUE_CAPACITY - 1)],
                              memory_order_relaxed);
}

/* Steals the oldest item: the item, NULL when empty, or WEFT_DEQUE_ABORT
 * when another thread won the race (try again). Any thread. */
#define WEFT_DEQUE_ABORT ((void*)1)
void* weft__deque_steal(weft__deque_t* dq);

/* Number of items, as a hint. Any thread. */
static inline int64_t weft__deque_len(weft__deque_t* dq) {
  /* relaxed: a hint for load balancing and the park re-check (which runs
   * after a seq_cst RMW on the idle word, see idle.c). */
  int64_t b = atomic_load_explicit(&dq->bottom, memory_order_relaxed);
  /* relaxed: as above. */
  int64_t t = atomic_load_explicit(&dq->top, memory_order_relaxed);
  return b > t ? b - t : 0;
}

/* Takes the oldest half of a full deque into out[] and returns how many.
 * Owner worker only. */
int weft__deque_take_half(weft__deque_t* dq, void** out);

#endif /* WEFT_DEQUE_H_ */
