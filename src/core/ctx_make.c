/* Builds the first frame of a fresh stack for the assembly backends, so that
 * the first weft__ctx_switch to it "returns" into weft__ctx_trampoline with
 * the entry function and its argument in callee-saved registers. */
#if !defined(WEFT_USE_UCONTEXT)
#include <stdint.h>
#include <string.h>

#include "core/ctx.h"

void weft__ctx_trampoline(void);

void weft__ctx_make(weft__ctx_t* ctx, void* lo, size_t size,
                    weft__ctx_entry_fn entry, void* arg) {
  uintptr_t top = ((uintptr_t)lo + size) & ~(uintptr_t)15;
#if defined(__x86_64__)
  /* Eight slots (see ctx_x86_64.S) end 16 bytes below top, so rsp is
   * 16-byte aligned when the trampoline starts; the 16 bytes above hold a
   * zero return address that ends unwinding. */
  uint64_t* sp = (uint64_t*)(top - 16 - 64);
  memset(sp, 0, 64 + 16);
  ((uint32_t*)sp)[0] = 0x1F80;        /* MXCSR: defaults, all masked */
  ((uint16_t*)sp)[2] = 0x037F;        /* x87 CW: defaults */
  sp[4] = (uint64_t)(uintptr_t)entry; /* r12 */
  sp[3] = (uint64_t)(uintptr_t)arg;   /* r13 */
  sp[7] = (uint64_t)(uintptr_t)weft__ctx_trampoline; /* return address */
  ctx->sp = sp;
#elif defined(__aarch64__)
  uint64_t* sp = (uint64_t*)(top - 0xa0);
  memset(sp, 0, 0xa0);
  sp[0] = (uint64_t)(uintptr_t)entry;                 /* x19 */
  sp[1] = (uint64_t)(uintptr_t)arg;                   /* x20 */
  sp[11] = (uint64_t)(uintptr_t)weft__ctx_trampoline; /* x30 */
  ctx->sp = sp;
#else
#error                                                                         \
    "no assembly context switch for this CPU: configure with -DWEFT_UCONTEXT=ON"
#endif
}
#endif
