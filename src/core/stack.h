/* Task stacks: carved from large mmap regions, pooled per worker, guarded.
 * See stack.c for the design. */
#ifndef WEFT_STACK_H_
#define WEFT_STACK_H_

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* How the page below a stack is protected. */
enum {
  WEFT_GUARD_MADVISE = 1,  /* MADV_GUARD_INSTALL: no VMA split (Linux 6.13) */
  WEFT_GUARD_MPROTECT = 2, /* PROT_NONE page: splits the mapping */
  WEFT_GUARD_CANARY = 3    /* no guard page: a pattern checked at switches */
};

/* One stack. Descriptors live in an array beside their region, not in the
 * stack memory, so carving a region touches none of its pages: each stack
 * is first touched by the task that runs on it, on that task's worker. */
typedef struct weft__stack_s {
  struct weft__stack_s* next; /* free-list link; owned by the list holder */
  char* lo;                   /* lowest usable byte (just above the guard) */
  size_t size;                /* usable bytes */
  unsigned vg_id;             /* Valgrind stack id */
  uint8_t guard;              /* WEFT_GUARD_*, 0 until first handed out */
  uint8_t pooled; /* 0: mapped alone (custom size), unmapped on put */
  /* Bytes left unused at the top, so that the tops of neighbouring stacks
   * fall in different cache sets (stack.c, "Colours"). */
  uint16_t colour;
  uint8_t preguarded; /* its guard went in with its region's (stack.c) */
  /* TSan builds: the fiber context of the tasks that run on this stack,
   * kept while the stack lives (sanitizer.h); NULL elsewhere. */
  void* san_fiber;
} weft__stack_t;

/* Runtime-wide stack state. Protected by `lock` except where noted. */
typedef struct {
  pthread_mutex_t lock;
  size_t stack_size;   /* usable bytes per pooled stack; read-only */
  size_t page;         /* page size; read-only */
  size_t slot_size;    /* guard + stack, page multiple; read-only */
  unsigned per_region; /* stacks per mmap region; read-only */
  int guard_mode;      /* preferred WEFT_GUARD_*; read-only */
  struct weft__region_s* regions;
  weft__stack_t* spare; /* stacks handed back by full worker pools */
  size_t nspare;
} weft__stacks_t;

/* A worker's private cache. Owner worker only. */
typedef struct {
  weft__stack_t* free;
  size_t nfree;
} weft__stack_pool_t;

/* The first byte above the part a task may use: where its frames start. */
static inline char* weft__stack_top(const weft__stack_t* s) {
  return s->lo + s->size - s->colour;
}

int weft__stacks_init(weft__stacks_t* st, size_t stack_size);
void weft__stacks_term(weft__stacks_t* st);

/* A stack of the runtime's size (size == 0) or of `size` bytes (mapped
 * alone). NULL when memory or mappings run out. Owner worker only. */
weft__stack_t* weft__stack_get(weft__stacks_t* st, weft__stack_pool_t* pool,
                               size_t size);
void weft__stack_put(weft__stacks_t* st, weft__stack_pool_t* pool,
                     weft__stack_t* s);
/* Returns a worker's cache to the runtime (worker shutdown). */
void weft__stack_pool_drain(weft__stacks_t* st, weft__stack_pool_t* pool);

/* 0 while the canary of a WEFT_GUARD_CANARY stack is intact. */
int weft__stack_canary_broken(const weft__stack_t* s);

/* 1 when `addr` is in the guard page or canary zone of `s`. */
int weft__stack_fault_in_guard(const weft__stack_t* s, const void* addr);

/* Overflow reports: a SIGSEGV/SIGBUS handler on an alternate signal stack,
 * installed while at least one runtime holds it: install takes a hold
 * (installing on the first), uninstall gives it back (the previous
 * handlers return with the last). Any thread. */
void weft__overflow_install(void);
void weft__overflow_uninstall(void);
int weft__overflow_thread_init(void** altstack);
void weft__overflow_thread_term(void* altstack);
/* Prints the overflow report for the running task and aborts. */
__attribute__((noreturn)) void weft__overflow_report(const char* how);

#endif /* WEFT_STACK_H_ */
