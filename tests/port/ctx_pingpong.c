/* A freestanding check of a context-switch backend, for cross builds run
 * under an emulator (scripts/check-ctx-cross.sh): ping-pong between two
 * contexts, callee-saved integer and floating-point registers kept across
 * switches, a 16-byte-aligned stack at entry. Prints "ok" and exits 0. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/ctx.h"

static weft__ctx_t main_ctx, co_ctx;
static volatile long shared;
static volatile uintptr_t entry_sp;

static void co_entry(void* arg) {
  long n = (long)(intptr_t)arg;
  char probe;
  entry_sp = (uintptr_t)&probe;
  double acc = 1.5; /* lives in a callee-saved FP register across switches */
  for (long i = 0; i < n; i++) {
    shared = shared * 3 + 1;
    acc = acc * 1.0000001 + 0.25;
    weft__ctx_switch(&co_ctx, &main_ctx);
  }
  shared = (long)acc;
  weft__ctx_switch(&co_ctx, &main_ctx);
  abort();
}

int main(void) {
  enum { kStack = 64 * 1024, kRounds = 1000 };
  char* stack = aligned_alloc(16, kStack);
  double keep = 2.25; /* must survive every switch away and back */
  long expect = 0, local = 7;
  weft__ctx_make(&co_ctx, stack, kStack, co_entry, (void*)(intptr_t)kRounds);
  for (long i = 0; i < kRounds; i++) {
    weft__ctx_switch(&main_ctx, &co_ctx);
    expect = expect * 3 + 1;
    local += (long)keep;
    if (shared != expect) {
      printf("round %ld: shared %ld, expected %ld\n", i, shared, expect);
      return 1;
    }
  }
  weft__ctx_switch(&main_ctx, &co_ctx);
  if (keep != 2.25 || local != 7 + 2 * kRounds || shared < 250) {
    printf("registers lost: keep %f local %ld shared %ld\n", keep, local,
           shared);
    return 1;
  }
  if (entry_sp < (uintptr_t)stack || entry_sp >= (uintptr_t)stack + kStack) {
    printf("coroutine did not run on its stack\n");
    return 1;
  }
  printf("ok\n");
  free(stack);
  return 0;
}
