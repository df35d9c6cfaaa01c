/* The allocation fault injector behind alloc.h's wrappers.
 *
 * DESIGN
 * Two counters, both touched only while a test has armed the injector:
 * the countdown (allocations left before the failing one, 0 = off) and the
 * count of allocations seen. Allocations race from every worker, so the
 * countdown is decremented by compare-and-swap: exactly one allocation sees
 * it go from 1 to 0, and that one fails. */
#include "alloc.h"

_Atomic uint64_t weft__alloc_countdown;
static _Atomic uint64_t alloc_seen;

bool weft__alloc_tick(void) {
  /* relaxed: a statistic; the test reads it after joining the work. */
  atomic_fetch_add_explicit(&alloc_seen, 1, memory_order_relaxed);
  /* relaxed: only the value matters, no other memory is published. */
  uint64_t c = atomic_load_explicit(&weft__alloc_countdown,
                                    memory_order_relaxed);
  while (c != 0) {
    /* relaxed: as above; the CAS makes exactly one caller take 1 -> 0. */
    if (atomic_compare_exchange_weak_explicit(&weft__alloc_countdown, &c,
                                              c - 1, memory_order_relaxed,
                                              memory_order_relaxed))
      return c == 1;
  }
  return false;
}

void weft__alloc_fail_after(uint64_t k) {
  /* relaxed: the test arms before starting the work it measures. */
  atomic_store_explicit(&alloc_seen, 0, memory_order_relaxed);
  /* relaxed: as above. */
  atomic_store_explicit(&weft__alloc_countdown, k, memory_order_relaxed);
}

uint64_t weft__alloc_count(void) {
  /* relaxed: read after the measured work was joined. */
  return atomic_load_explicit(&alloc_seen, memory_order_relaxed);
}
