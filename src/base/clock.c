/* The runtime's clock: CLOCK_MONOTONIC in nanoseconds, unless the calling
 * thread runs on a virtual clock.
 *
 * DESIGN
 * Deterministic mode (debug/det.c) moves time itself. It plugs in through
 * weft__clock_virtual_hold rather than being called from here, so the base
 * layer names no layer above it. The real path pays one relaxed load of the
 * holder count, as it paid one load of the mode's runtime count before. */
#include <time.h>

#include "base/common.h"

/* Holders of the virtual clock (runtimes in deterministic mode). relaxed
 * loads and RMWs: set before such a runtime's workers start (thread
 * creation orders it); any other thread reads the real clock either way. */
static _Atomic int virtual_holders;
/* The virtual clock's reader; stored before the first hold (release),
 * loaded after a nonzero count (acquire); never reset. */
static _Atomic(weft__clock_fn) virtual_fn;

void weft__clock_virtual_hold(weft__clock_fn fn) {
  /* release: a reader that sees the pointer sees the function's data. */
  atomic_store_explicit(&virtual_fn, fn, memory_order_release);
  /* relaxed: see virtual_holders. */
  atomic_fetch_add_explicit(&virtual_holders, 1, memory_order_relaxed);
}

void weft__clock_virtual_release(void) {
  /* relaxed: see virtual_holders. */
  atomic_fetch_sub_explicit(&virtual_holders, 1, memory_order_relaxed);
}

uint64_t weft__now_ns(void) {
  struct timespec ts;
  uint64_t virtual_now;
  /* relaxed: see virtual_holders. */
  if (WEFT_UNLIKELY(
          atomic_load_explicit(&virtual_holders, memory_order_relaxed) != 0)) {
    /* acquire: pairs with the release store in weft__clock_virtual_hold. */
    weft__clock_fn fn = atomic_load_explicit(&virtual_fn, memory_order_acquire);
    if (fn != NULL && fn(&virtual_now))
      return virtual_now;
  }
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t weft_now_ns(void) {
  return weft__now_ns();
}
