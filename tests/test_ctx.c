/* The raw context switch (src/ctx.h) without the scheduler: a main context
 * and one coroutine on a malloc'd 64 KiB stack.
 *
 * Every switch goes through sanitizer.h's weft__san_* helpers, as the
 * workers' switches do, so the test means the same under ASan and TSan as
 * in a plain build. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fenv.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <xmmintrin.h>
#endif

#include "core/ctx.h"
#include "helpers.h"
#include "base/sanitizer.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

enum { kStackSize = 64 * 1024, kRounds = 1000 };

typedef struct {
  weft__ctx_t main_ctx;
  weft__ctx_t co_ctx;
  weft__san_t main_san;
  weft__san_t co_san;
  void* tsan_fiber; /* the coroutine stack's TSan fiber (sanitizer.h) */
  char* stack;
  void (*body)(void);
  void* arg_seen;
  int entries;
  int exited;
} coro_t;

static coro_t co;

/* On the coroutine: back to main. `exits`: it will never be resumed. */
static void co_yield (int exits) {
  weft__san_before(&co.co_san, &co.main_san, exits);
  weft__ctx_switch(&co.co_ctx, &co.main_ctx);
  weft__san_after(&co.co_san, &co.main_san);
}

/* On main: run the coroutine until it switches back. */
static void co_resume(void) {
  weft__san_before(&co.main_san, &co.co_san, 0);
  weft__ctx_switch(&co.main_ctx, &co.co_ctx);
  weft__san_after(&co.main_san, NULL);
}

static void co_entry(void* arg) {
  weft__san_after(&co.co_san, &co.main_san);
  co.arg_seen = arg;
  co.entries++;
  co.body();
  co.exited = 1;
  co_yield (1);
  abort(); /* never resumed */
}

static void co_start(void (*body)(void)) {
  memset(&co, 0, sizeof(co));
  co.stack = malloc(kStackSize);
  assert_non_null(co.stack);
  co.body = body;
  weft__san_thread_init(&co.main_san);
  weft__san_fiber_create(&co.co_san, co.stack, kStackSize, &co.tsan_fiber);
  weft__ctx_make(&co.co_ctx, co.stack, kStackSize, co_entry, &co);
}

/* Resumes the coroutine until its body returns, then frees it. */
static void co_finish(void) {
  while (!co.exited)
    co_resume();
  assert_int_equal(co.entries, 1);
  assert_ptr_equal(co.arg_seen, &co);
  weft__san_fiber_destroy(&co.co_san);
  weft__san_stack_fiber_free(&co.tsan_fiber);
  free(co.stack);
}

/* ---- Ping-pong -------------------------------------------------------- */

static volatile long to_co;
static volatile long to_main;
static volatile int stop;

static void pingpong_body(void) {
  while (!stop) {
    to_main = to_co * 2 + 1;
    co_yield (0);
  }
}

static void test_ctx_pingpong_passes_values(void** state) {
  (void)state;
  stop = 0;
  co_start(pingpong_body);
  for (long i = 0; i < kRounds; i++) {
    to_co = i;
    to_main = -1;
    co_resume();
    assert_int_equal(to_main, 2 * i + 1);
    assert_false(co.exited);
  }
  stop = 1;
  co_finish();
}

/* ---- Stack alignment -------------------------------------------------- */

static uintptr_t frame_at_entry;
static uintptr_t aligned_local;
static uintptr_t deep_local;

/* The compiler assumes the ABI's alignment and would fold "& 15" to 0 for
 * an _Alignas(16) local: launder the address through an asm. */
static uintptr_t launder(const void* p) {
  uintptr_t a = (uintptr_t)p;
  __asm__ __volatile__("" : "+r"(a));
  return a;
}

static __attribute__((noinline)) void record_deep(void) {
  _Alignas(16) volatile char probe[16];
  probe[0] = 1;
  deep_local = launder((const void*)probe);
}

static void alignment_body(void) {
  _Alignas(16) volatile char probe[16];
  probe[0] = 1;
  frame_at_entry = launder(__builtin_frame_address(0));
  aligned_local = launder((const void*)probe);
  record_deep();
}

static void test_ctx_stack_aligned_at_entry(void** state) {
  (void)state;
  co_start(alignment_body);
  uintptr_t lo = (uintptr_t)co.stack;
  co_finish();
  assert_int_equal(frame_at_entry % 16, 0);
  assert_int_equal(aligned_local % 16, 0);
  assert_int_equal(deep_local % 16, 0);
  /* And the coroutine really ran on its own stack. */
  assert_true(aligned_local >= lo && aligned_local < lo + kStackSize);
  assert_true(deep_local >= lo && deep_local < aligned_local);
}

/* ---- Callee-saved state ----------------------------------------------- */

static volatile long seed = 3;

/* Keeps many integers and doubles live on the coroutine too, so that its
 * registers differ from main's when it switches back. */
static void clobber_body(void) {
  while (!stop) {
    long a = seed * 7, b = seed * 11, c = seed * 13, d = seed * 17;
    long e = seed * 19, f = seed * 23;
    double x = (double)seed * 0.5, y = (double)seed * 0.25;
    co_yield (0);
    to_main = a + b + c + d + e + f + (long)(x + y);
  }
}

static void test_ctx_callee_saved_registers_survive(void** state) {
  (void)state;
  stop = 0;
  co_start(clobber_body);
  long a = seed + 1, b = seed + 2, c = seed + 3, d = seed + 4;
  long e = seed + 5, f = seed + 6;
  double x = (double)seed / 3.0, y = (double)seed / 7.0;
  double z = (double)seed * 1.125;
  for (int i = 0; i < kRounds; i++) {
    co_resume();
    a += i;
    b ^= i;
    c += 2 * i;
    d -= i;
    e += a;
    f += b;
    x += 0.5;
    y *= 1.0;
    z -= 0.25;
  }
  stop = 1;
  co_finish();
  /* The same arithmetic without switches. */
  long ea = seed + 1, eb = seed + 2, ec = seed + 3, ed = seed + 4;
  long ee = seed + 5, ef = seed + 6;
  double ex = (double)seed / 3.0, ey = (double)seed / 7.0;
  double ez = (double)seed * 1.125;
  for (int i = 0; i < kRounds; i++) {
    ea += i;
    eb ^= i;
    ec += 2 * i;
    ed -= i;
    ee += ea;
    ef += eb;
    ex += 0.5;
    ey *= 1.0;
    ez -= 0.25;
  }
  assert_int_equal(a, ea);
  assert_int_equal(b, eb);
  assert_int_equal(c, ec);
  assert_int_equal(d, ed);
  assert_int_equal(e, ee);
  assert_int_equal(f, ef);
  assert_true(x == ex && y == ey && z == ez);
  assert_int_equal(to_main, 3 * (7 + 11 + 13 + 17 + 19 + 23) + 2);
}

/* ---- Floating-point control words ------------------------------------- */

static volatile double one = 1.0;
static volatile double three = 3.0;
static int co_round_at_entry;
static int co_round_after_resume;
static volatile double co_third;

static unsigned sse_rounding(void) {
#if defined(__x86_64__)
  return _mm_getcsr() & 0x6000u;
#else
  return 0;
#endif
}

static void rounding_body(void) {
  co_round_at_entry = fegetround();
  fesetround(FE_DOWNWARD);
  co_yield (0);
  co_round_after_resume = fegetround();
  co_third = one / three;
  fesetround(FE_TONEAREST);
}

/* The rounding mode is part of each context (ctx.h: the switch saves the
 * FP control words): a fresh coroutine starts with the default, and each
 * side keeps its own mode across switches. */
static void test_ctx_fp_control_words_per_context(void** state) {
  (void)state;
  /* Valgrind does not emulate rounding modes: the arithmetic below would
   * round to nearest whatever the control words say. */
  if (RUNNING_ON_VALGRIND)
    skip();
  co_start(rounding_body);
  assert_int_equal(fesetround(FE_UPWARD), 0);
  unsigned sse_up = sse_rounding();
  volatile double up = one / three;
  co_resume();
  int main_round = fegetround();
  unsigned main_sse = sse_rounding();
  volatile double main_third = one / three;
  co_resume();
  fesetround(FE_TONEAREST);
  co_finish();
  assert_int_equal(co_round_at_entry, FE_TONEAREST);
  assert_int_equal(main_round, FE_UPWARD);
  assert_int_equal(main_sse, sse_up);
  assert_true(main_third == up);
  assert_int_equal(co_round_after_resume, FE_DOWNWARD);
  assert_true(co_third < up); /* rounded down, not up */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ctx_pingpong_passes_values),
      cmocka_unit_test(test_ctx_stack_aligned_at_entry),
      cmocka_unit_test(test_ctx_callee_saved_registers_survive),
      cmocka_unit_test(test_ctx_fp_control_words_per_context),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
