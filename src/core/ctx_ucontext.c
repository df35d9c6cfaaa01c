/* Portable fallback backend on ucontext (configure with -DWEFT_UCONTEXT=ON).
 * Much slower than the assembly backends: swapcontext saves and restores
 * the signal mask with a system call on every switch. */
#if defined(WEFT_USE_UCONTEXT)
#include <stdint.h>

#include "core/ctx.h"

static void ucontext_entry(unsigned hi, unsigned lo_bits, unsigned fhi,
                           unsigned flo) {
  void* arg = (void*)(((uintptr_t)hi << 32) | lo_bits);
  weft__ctx_entry_fn entry = (weft__ctx_entry_fn)(((uintptr_t)fhi << 32) | flo);
  entry(arg);
  __builtin_trap();
}

void weft__ctx_make(weft__ctx_t* ctx, void* lo, size_t size,
                    weft__ctx_entry_fn entry, void* arg) {
  uintptr_t a = (uintptr_t)arg;
  uintptr_t f = (uintptr_t)entry;
  getcontext(&ctx->uc);
  ctx->uc.uc_stack.ss_sp = lo;
  ctx->uc.uc_stack.ss_size = size;
  ctx->uc.uc_link = NULL;
  makecontext(&ctx->uc, (void (*)(void))ucontext_entry, 4, (unsigned)(a >> 32),
              (unsigned)a, (unsigned)(f >> 32), (unsigned)f);
}

void weft__ctx_switch(weft__ctx_t* from, weft__ctx_t* to) {
  swapcontext(&from->uc, &to->uc);
}
#endif
