/* Chase–Lev deque: the pop, steal and overflow paths (see deque.h). */
#include "core/deque.h"

#include <string.h>

void weft__deque_init(weft__deque_t* dq) {
  memset(dq, 0, sizeof(*dq));
}

void* weft__deque_pop(weft__deque_t* dq) {
  /* relaxed: only the owner writes bottom. */
  int64_t b = atomic_load_explicit(&dq->bottom, memory_order_relaxed);
  /* relaxed: top only grows, so a stale value is too small and can only
   * send us down the full path; seeing b <= top proves the deque empty.
   * This keeps the seq_cst store below off the path of an empty pop. */
  if (b <= atomic_load_explicit(&dq->top, memory_order_relaxed))
    return NULL;
  b--;
  /* seq_cst: the store of bottom must be visible to thieves before we read
   * top (a StoreLoad order; Lê et al. use a seq_cst fence here). Pairs with
   * the seq_cst loads in weft__deque_steal(): either the thief sees the
   * smaller bottom, or we see its larger top. */
  atomic_store_explicit(&dq->bottom, b, memory_order_seq_cst);
  /* seq_cst: see above. */
  int64_t t = atomic_load_explicit(&dq->top, memory_order_seq_cst);
  if (t > b) {
    /* Empty: restore bottom. relaxed: only the owner writes bottom. */
    atomic_store_explicit(&dq->bottom, b + 1, memory_order_relaxed);
    return NULL;
  }
  /* relaxed: the owner wrote this slot. */
  void* x = atomic_load_explicit(&dq->slots[b & (WEFT_DEQUE_CAPACITY - 1)],
                                 memory_order_relaxed);
  if (t == b) {
    /* Last item: race thieves for it. seq_cst on success orders it with
     * the thieves' CAS; relaxed on failure: we only learn that we lost. */
    if (!atomic_compare_exchange_strong_explicit(&dq->top, &t, t + 1,
                                                 memory_order_seq_cst,
                                                 memory_order_relaxed))
      x = NULL;
    /* relaxed: only the owner writes bottom. */
    atomic_store_explicit(&dq->bottom, b + 1, memory_order_relaxed);
  }
  return x;
}

void* weft__deque_steal(weft__deque_t* dq) {
  /* seq_cst: pairs with the owner's seq_cst store of bottom in pop(). */
  int64_t t = atomic_load_explicit(&dq->top, memory_order_seq_cst);
  /* seq_cst: as above; also acquires the slots published by push(). */
  int64_t b = atomic_load_explicit(&dq->bottom, memory_order_seq_cst);
  if (t >= b)
    return NULL;
  /* relaxed: kept only if the CAS below wins, which proves the owner has
   * not reused the slot (it would have needed top > t). */
  void* x = atomic_load_explicit(&dq->slots[t & (WEFT_DEQUE_CAPACITY - 1)],
                                 memory_order_relaxed);
  /* seq_cst: one total order with the owner's last-item CAS and other
   * thieves; relaxed on failure: we retry or give up. */
  if (!atomic_compare_exchange_strong_explicit(&dq->top, &t, t + 1,
                                               memory_order_seq_cst,
                                               memory_order_relaxed))
    return WEFT_DEQUE_ABORT;
  return x;
}

int weft__deque_take_half(weft__deque_t* dq, void** out) {
  for (;;) {
    /* acquire: pairs with thieves' CAS, as in push(). */
    int64_t t = atomic_load_explicit(&dq->top, memory_order_acquire);
    /* relaxed: only the owner writes bottom. */
    int64_t b = atomic_load_explicit(&dq->bottom, memory_order_relaxed);
    int64_t n = (b - t) / 2;
    if (n <= 0)
      return 0;
    for (int64_t i = 0; i < n; i++)
      /* relaxed: the owner wrote these slots. */
      out[i] =
          atomic_load_explicit(&dq->slots[(t + i) & (WEFT_DEQUE_CAPACITY - 1)],
                               memory_order_relaxed);
    /* seq_cst: takes [t, t+n) in the same total order as thieves' CAS;
     * relaxed on failure: a thief moved top, so read again. */
    if (atomic_compare_exchange_strong_explicit(&dq->top, &t, t + n,
                                                memory_order_seq_cst,
                                                memory_order_relaxed))
      return (int)n;
  }
}
