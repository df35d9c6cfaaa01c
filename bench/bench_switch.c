/* switch: the raw cost of weft's context switch (src/core/ctx.h), below the
 * scheduler. Two contexts on one thread hand control back and forth; ops is
 * the number of switches. It runs inside a task like every benchmark, on a
 * stack of its own for the second context; no sanitizer hooks are called,
 * so the number is the assembly's cost alone. */
#include <stdlib.h>

#include "bench.h"
#include "core/ctx.h"

enum { kCoStack = 64 * 1024 };

static weft__ctx_t main_ctx;
static weft__ctx_t co_ctx;
static volatile uint64_t co_count;

static void co_entry(void* arg) {
  uint64_t n = *(const uint64_t*)arg;
  for (uint64_t i = 0; i < n; i++) {
    co_count++;
    weft__ctx_switch(&co_ctx, &main_ctx);
  }
  weft__ctx_switch(&co_ctx, &main_ctx);
  abort(); /* never resumed after the final switch */
}

static int run_switch(const uint64_t* p, bench_result_t* out) {
  uint64_t n = p[0];
  void* stack = malloc(kCoStack);
  if (stack == NULL)
    return bench_error("malloc", WEFT_ENOMEM);
  co_count = 0;
  weft__ctx_make(&co_ctx, stack, kCoStack, co_entry, &n);
  uint64_t t0 = bench_now_ns();
  for (uint64_t i = 0; i <= n; i++)
    weft__ctx_switch(&main_ctx, &co_ctx);
  out->seconds = bench_since(t0);
  free(stack);
  if (co_count != n)
    return bench_wrong("switch", "%llu round trips, expected %llu",
                       (unsigned long long)co_count, (unsigned long long)n);
  out->ops = 2 * n; /* two switches per round trip */
  out->result = n;
  return 0;
}

const bench_t bench_switch = {
    .name = "switch",
    .help = "raw context switches between two contexts on one thread",
    .repeatable = 1,
    .run = run_switch,
    .params = {{"n", 10000000, 1000000000}},
};
