/* Shared private declarations: attributes, containers, assertions, clock.
 * The counterpart of libuv's uv-common.h. Nothing here is public. */
#ifndef WEFT_COMMON_H_
#define WEFT_COMMON_H_

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "weft.h"

#define WEFT_LIKELY(x) __builtin_expect(!!(x), 1)
#define WEFT_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define WEFT_NOINLINE __attribute__((noinline))
#define WEFT_UNUSED __attribute__((unused))
#define WEFT_CACHELINE 64
#define WEFT_ALIGNED_CL __attribute__((aligned(WEFT_CACHELINE)))

#define weft__container_of(ptr, type, member)                                  \
  ((type*)((char*)(ptr)-offsetof(type, member)))

/* Invariant checks that stay on in release builds: a broken invariant in a
 * scheduler corrupts memory silently, so it is cheaper to die loudly. */
#define WEFT_CHECK(cond)                                                       \
  do {                                                                         \
    if (WEFT_UNLIKELY(!(cond)))                                                \
      weft__fatal(__FILE__, __LINE__, #cond);                                  \
  } while (0)

__attribute__((noreturn)) void weft__fatal(const char* file, int line,
                                           const char* what);

/* Formats a message and hands it to the logging hook (weft_set_log), or
 * writes "weft: " msg to stderr. `level` is a WEFT_LOG_* value. Not from a
 * signal handler. Any thread. */
void weft__log(int level, const char* fmt, ...)
    __attribute__((format(printf, 2, 3)));

static inline void weft__cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield" ::: "memory");
#endif
}

/* A one-byte test-and-set spin lock for short, rarely contended critical
 * sections (a task's waiter list and wait descriptor). */
typedef struct {
  atomic_flag flag;
} weft__spin_t;

#define WEFT_SPIN_INIT                                                         \
  { ATOMIC_FLAG_INIT }

static inline void weft__spin_lock(weft__spin_t* s) {
  /* acquire: pairs with the release in weft__spin_unlock(). */
  while (atomic_flag_test_and_set_explicit(&s->flag, memory_order_acquire))
    weft__cpu_relax();
}

static inline void weft__spin_unlock(weft__spin_t* s) {
  /* release: publishes the critical section to the next locker. */
  atomic_flag_clear_explicit(&s->flag, memory_order_release);
}

/* The runtime's clock in nanoseconds (clock.c): CLOCK_MONOTONIC, or the
 * calling thread's virtual clock when one is held. Any thread. */
uint64_t weft__now_ns(void);

/* A virtual clock's reader: 1 and *now when the calling thread runs on it,
 * else 0. Deterministic mode holds one while its runtime lives. */
typedef int (*weft__clock_fn)(uint64_t* now);
void weft__clock_virtual_hold(weft__clock_fn fn);
void weft__clock_virtual_release(void);

/* The library's warnings: "weft: <text>\n" on stderr (or the logging
 * hook), or on the stream set by weft__warn_set_stream (tests; NULL
 * restores the default). Any thread; never from a signal handler. */
void weft__warn(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void weft__warn_set_stream(FILE* f);
FILE* weft__warn_stream(void);

#endif /* WEFT_COMMON_H_ */
