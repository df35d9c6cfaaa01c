/* The register-switching core: one tiny interface, one file per backend
 * (ctx_x86_64.S, ctx_aarch64.S, ctx_ucontext.c). A context is the saved
 * stack pointer of a suspended stack; everything else (callee-saved
 * registers, the floating-point control words) is pushed on that stack by
 * weft__ctx_switch. Sanitizer bookkeeping lives in sanitizer.h, not here. */
#ifndef WEFT_CTX_H_
#define WEFT_CTX_H_

#include <stddef.h>

#if defined(WEFT_USE_UCONTEXT)
#include <ucontext.h>
typedef struct {
  ucontext_t uc;
} weft__ctx_t;
#else
typedef struct {
  void* sp;
} weft__ctx_t;
#endif

typedef void (*weft__ctx_entry_fn)(void* arg);

/* Starts loading the top of a switched-out context's stack into the cache
 * (the frames its resume reads: the saved registers and its callers'
 * epilogues). A hint: never faults, does nothing on ucontext. */
static inline void weft__ctx_prefetch(const weft__ctx_t* ctx) {
#if !defined(WEFT_USE_UCONTEXT)
  const char* sp = ctx->sp;
  __builtin_prefetch(sp);
  __builtin_prefetch(sp + 64);
  __builtin_prefetch(sp + 128);
#else
  (void)ctx;
#endif
}

/* Prepares `ctx` so that the first switch to it calls entry(arg) on the
 * stack [lo, lo + size). entry must never return. */
void weft__ctx_make(weft__ctx_t* ctx, void* lo, size_t size,
                    weft__ctx_entry_fn entry, void* arg);

/* Saves the running context in `from` and resumes `to`. Returns when some
 * later switch resumes `from`. */
void weft__ctx_switch(weft__ctx_t* from, weft__ctx_t* to);

#endif /* WEFT_CTX_H_ */
