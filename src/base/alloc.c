/* The allocation fault injector behind alloc.h's wrappers.
 *
 * DESIGN
 * Two counters, both touched only while a test has armed the injector:
 * the countdown (allocations left before the failing one, 0 = off) and the
 * count of allocations seen. Allocations race from every worker, so the
 * countdown is decremented by compare-and-swap: exactly one allocation sees
 * it go from 1 to 0, and that one fails.
 *
 * With WEFT_ALLOC_FAIL_BACKTRACE set in the environment when the injector
 * is armed, the failing allocation prints a backtrace to stderr (resolve
 * it with addr2line): the quickest way from "k = 21 hangs" to the site. */
#include <execinfo.h>
#include <stdlib.h>

#include "base/alloc.h"

_Atomic uint64_t weft__alloc_countdown;
static _Atomic uint64_t alloc_seen;
static _Atomic int print_backtrace;

static void report(void) {
  void* frames[32];
  int n = backtrace(frames, 32);
  backtrace_symbols_fd(frames, n, 2);
}

bool weft__alloc_tick(void) {
  /* relaxed: a statistic; the test reads it after joining the work. */
  atomic_fetch_add_explicit(&alloc_seen, 1, memory_order_relaxed);
  /* relaxed: only the value matters, no other memory is published. */
  uint64_t c =
      atomic_load_explicit(&weft__alloc_countdown, memory_order_relaxed);
  while (c != 0) {
    /* relaxed: as above; the CAS makes exactly one caller take 1 -> 0. */
    if (atomic_compare_exchange_weak_explicit(&weft__alloc_countdown, &c, c - 1,
                                              memory_order_relaxed,
                                              memory_order_relaxed)) {
      /* relaxed: set by the arming thread before the work started. */
      if (c == 1 &&
          atomic_load_explicit(&print_backtrace, memory_order_relaxed))
        report();
      return c == 1;
    }
  }
  return false;
}

void weft__alloc_fail_after(uint64_t k) {
  /* relaxed: read only by the failing allocation, after this returns. */
  atomic_store_explicit(&print_backtrace,
                        getenv("WEFT_ALLOC_FAIL_BACKTRACE") != NULL,
                        memory_order_relaxed);
  /* relaxed: the test arms before starting the work it measures. */
  atomic_store_explicit(&alloc_seen, 0, memory_order_relaxed);
  /* relaxed: as above. */
  atomic_store_explicit(&weft__alloc_countdown, k, memory_order_relaxed);
}

uint64_t weft__alloc_count(void) {
  /* relaxed: read after the measured work was joined. */
  return atomic_load_explicit(&alloc_seen, memory_order_relaxed);
}
