/* Every stack switch told to the tools that track stacks: ASan (fake stacks
 * and the shadow of the stack it lands on), TSan (one fiber per task, so
 * happens-before follows the task, not the thread) and Valgrind (stack
 * ranges, so a switch is not taken for a huge stack-pointer change).
 *
 * The protocol, for a switch from fiber A to fiber B:
 *   weft__san_before(A, B, a_exits)   on A's stack
 *   weft__ctx_switch(A, B)
 *   weft__san_after(B)                on B's stack, first thing
 * A fiber's first run calls weft__san_after() at the top of its entry. */
#ifndef WEFT_SANITIZER_H_
#define WEFT_SANITIZER_H_

#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__)
#define WEFT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT_ASAN 1
#endif
#endif

#if defined(__SANITIZE_THREAD__)
#define WEFT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEFT_TSAN 1
#endif
#endif

#if defined(WEFT_ASAN)
void __sanitizer_start_switch_fiber(void** fake_stack_save, const void* bottom,
                                    size_t size);
void __sanitizer_finish_switch_fiber(void* fake_stack_save,
                                     const void** bottom_old, size_t* size_old);
#endif
#if defined(WEFT_TSAN)
void* __tsan_get_current_fiber(void);
void* __tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void* fiber);
void __tsan_switch_to_fiber(void* fiber, unsigned flags);
#endif
#if defined(WEFT_HAVE_VALGRIND)
#include <valgrind/valgrind.h>
#endif
#if defined(WEFT_ASAN)
void __asan_unpoison_memory_region(void const volatile* addr, size_t size);
#endif

/* What the tools need to know about one stack. Embedded in the task (for
 * task stacks) and in the worker (for its thread stack). */
typedef struct {
  const void* bottom; /* lowest address of the stack (ASan) */
  size_t size;
  void* fake_stack; /* ASan's fake-stack handle while switched out */
  void* tsan_fiber; /* TSan's fiber, NULL until created */
} weft__san_t;

#if defined(WEFT_ASAN) || defined(WEFT_TSAN)
#define WEFT_SAN_ENABLED 1
/* A task's record: only sanitizer builds spend the bytes on it. */
#define WEFT_TASK_SAN(t) (&(t)->san)
#else
#define WEFT_TASK_SAN(t) ((weft__san_t*)NULL)
#endif

/* `cached`: the stack's TSan fiber, made here the first time. Creating
 * one costs TSan a ~800 KB mapping and memset (page faults that took
 * minutes for test_sched on a VM with slow faults), so a pooled stack
 * keeps its fiber for the next task on it, as a thread pool's thread
 * keeps its TSan state from one job to the next. */
static inline void weft__san_fiber_create(weft__san_t* s, const void* bottom,
                                          size_t size, void** cached) {
#if defined(WEFT_ASAN)
  /* A pooled stack keeps the redzones of the frames its previous task left
   * behind when it switched away for the last time; start clean. */
  __asan_unpoison_memory_region(bottom, size);
#endif
#if defined(WEFT_SAN_ENABLED)
  s->bottom = bottom;
  s->size = size;
  s->fake_stack = NULL;
  s->tsan_fiber = NULL;
#else
  (void)s;
  (void)bottom;
  (void)size;
#endif
#if defined(WEFT_TSAN)
  if (*cached == NULL)
    *cached = __tsan_create_fiber(0);
  s->tsan_fiber = *cached;
#else
  (void)cached;
#endif
}

/* Call once the fiber can never run again, from another stack. Its TSan
 * context stays with the stack (weft__san_stack_fiber_free). */
static inline void weft__san_fiber_destroy(weft__san_t* s) {
#if defined(WEFT_SAN_ENABLED)
  s->tsan_fiber = NULL;
#else
  (void)s;
#endif
}

/* A stack is unmapped: its TSan fiber goes too. From another stack. */
static inline void weft__san_stack_fiber_free(void** cached) {
#if defined(WEFT_TSAN)
  if (*cached != NULL)
    __tsan_destroy_fiber(*cached);
#endif
  *cached = NULL;
}

/* The calling thread's own stack, as the scheduler's fiber. */
static inline void weft__san_thread_init(weft__san_t* s) {
  s->bottom = NULL;
  s->size = 0;
  s->fake_stack = NULL;
#if defined(WEFT_TSAN)
  s->tsan_fiber = __tsan_get_current_fiber();
#else
  s->tsan_fiber = NULL;
#endif
}

static inline void weft__san_before(weft__san_t* from, weft__san_t* to,
                                    int from_exits) {
#if defined(WEFT_ASAN)
  /* NULL tells ASan the fake stack of an exiting fiber can be freed. */
  __sanitizer_start_switch_fiber(from_exits ? NULL : &from->fake_stack,
                                 to->bottom, to->size);
#else
  (void)from;
  (void)from_exits;
#endif
#if defined(WEFT_TSAN)
  __tsan_switch_to_fiber(to->tsan_fiber, 0);
#else
  (void)to;
#endif
}

static inline void weft__san_after(weft__san_t* self, weft__san_t* prev) {
#if defined(WEFT_ASAN)
  const void* bottom;
  size_t size;
  __sanitizer_finish_switch_fiber(self->fake_stack, &bottom, &size);
  /* The thread stack's bounds are learnt on the first switch away. */
  if (prev != NULL && prev->bottom == NULL) {
    prev->bottom = bottom;
    prev->size = size;
  }
#else
  (void)self;
  (void)prev;
#endif
}

/* 1 when a memory checker watches the heap (ASan, or Valgrind running the
 * program): free lists that recycle objects step aside, so that a use
 * after release still reaches the checker. */
static inline int weft__heap_checked(void) {
#if defined(WEFT_ASAN)
  return 1;
#elif defined(WEFT_HAVE_VALGRIND)
  return RUNNING_ON_VALGRIND != 0;
#else
  return 0;
#endif
}

static inline unsigned weft__valgrind_stack_register(void* lo, void* hi) {
#if defined(WEFT_HAVE_VALGRIND)
  return VALGRIND_STACK_REGISTER(lo, hi);
#else
  (void)lo;
  (void)hi;
  return 0;
#endif
}

static inline void weft__valgrind_stack_deregister(unsigned id) {
#if defined(WEFT_HAVE_VALGRIND)
  VALGRIND_STACK_DEREGISTER(id);
#else
  (void)id;
#endif
}

#endif /* WEFT_SANITIZER_H_ */
