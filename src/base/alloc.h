/* The library's allocator wrappers: malloc, calloc, realloc and
 * aligned_alloc with a fault injector in front, so a test can make the k-th
 * allocation fail and check that every allocation site returns WEFT_ENOMEM
 * cleanly (tests/test_alloc_fail.c). Nothing here is public.
 *
 * DESIGN
 * The injector is always compiled in, so the library a test sweeps is the
 * library users get. It is gated by one countdown, 0 when off: the cost of
 * an allocation is then one relaxed load and a branch that is always
 * predicted. When on, every allocation goes through weft__alloc_tick(),
 * which counts it and fails the one that brings the countdown to zero; the
 * countdown then stays at zero, so exactly one allocation fails per arming.
 *
 * Only weft's own allocations are covered: libuv's and libc's internal
 * mallocs (uv_loop_init, getaddrinfo, pthread_create, stdio) are not. The
 * task stacks are mmapped, not malloced; stack.c asks weft__alloc_fail()
 * before its mmap, so a stack counts as one allocation too. */
#ifndef WEFT_ALLOC_H_
#define WEFT_ALLOC_H_

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

/* Allocations left before the one that fails; 0 = injection off. */
extern _Atomic uint64_t weft__alloc_countdown;

/* Slow path, taken only while injection is armed: counts the allocation
 * and returns true if it is the one to fail. */
bool weft__alloc_tick(void);

/* Arms the injector: the k-th allocation from now fails (once), and
 * weft__alloc_count() restarts from 0. k = 0 disarms it. k = UINT64_MAX
 * only counts. For tests. */
void weft__alloc_fail_after(uint64_t k);

/* Allocations seen since the last weft__alloc_fail_after() while armed. */
uint64_t weft__alloc_count(void);

/* True if the allocation about to be made must fail. */
static inline bool weft__alloc_fail(void) {
  /* relaxed: a test arms the injector before the work it measures starts
   * (thread creation and task hand-off order the store before it). */
  if (__builtin_expect(atomic_load_explicit(&weft__alloc_countdown,
                                            memory_order_relaxed) == 0,
                       1))
    return false;
  return weft__alloc_tick();
}

static inline void* weft__malloc(size_t n) {
  return weft__alloc_fail() ? NULL : malloc(n);
}

static inline void* weft__calloc(size_t n, size_t size) {
  return weft__alloc_fail() ? NULL : calloc(n, size);
}

/* On failure, like realloc: NULL, and p is left as it was. */
static inline void* weft__realloc(void* p, size_t n) {
  return weft__alloc_fail() ? NULL : realloc(p, n);
}

static inline void* weft__aligned_alloc(size_t align, size_t n) {
  return weft__alloc_fail() ? NULL : aligned_alloc(align, n);
}

#endif /* WEFT_ALLOC_H_ */
