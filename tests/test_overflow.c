/* Stack overflow is reported with the task's name and stack size, never
 * left to corrupt memory silently, under each guard mode (stack.c):
 * the default (MADV_GUARD_INSTALL, or mprotect on older kernels),
 * WEFT_STACK_GUARD=mprotect and WEFT_STACK_GUARD=canary.
 *
 * Each case runs in a forked child (the overflow aborts it); the parent
 * reads the child's stderr through a pipe and checks the report and that
 * the child died of SIGABRT. The parent never creates a runtime, so each
 * child installs weft's SIGSEGV handler itself, over cmocka's. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "core/task.h"

enum { kStackSize = 64 * 1024 };

/* ---- What the child runs ---------------------------------------------- */

static volatile int never; /* keeps the compiler from proving the recursion
                             endless (-Winfinite-recursion) */

static __attribute__((noinline)) int recurse_forever(int depth) {
  volatile char buf[1024];
  if (never)
    return 0;
  buf[0] = (char)depth;
  buf[sizeof(buf) - 1] = (char)depth;
  /* Not a tail call: the frame stays. */
  return recurse_forever(depth + 1) + buf[depth % 2 ? 0 : sizeof(buf) - 1];
}

static int deep_recursion(void* arg, void** result) {
  (void)arg;
  (void)result;
  return recurse_forever(0);
}

/* Writes from the top of a 4 KiB local downwards, stopping 1 KiB below the
 * stack's lowest usable byte: an overflow of exactly 1 KiB, which stays in
 * the guard page (or the canary's page). */
static __attribute__((noinline)) void overflow_by_1k(uintptr_t lo) {
  volatile char big[4096];
  for (size_t i = sizeof(big); i-- > 0;) {
    if ((uintptr_t)&big[i] < lo - 1024)
      break;
    big[i] = 0x5a;
  }
}

static __attribute__((noinline)) int descend(uintptr_t lo, int depth) {
  volatile char buf[256];
  buf[0] = (char)depth;
  if ((uintptr_t)__builtin_frame_address(0) - lo > 2048)
    return descend(lo, depth + 1) + buf[0];
  overflow_by_1k(lo);
  return buf[0];
}

/* Overflows by a bounded amount, then awaits: a canary stack is checked
 * when its task switches out. */
static int bounded_overflow(void* arg, void** result) {
  (void)arg;
  (void)result;
  uintptr_t lo = (uintptr_t)weft_current_task()->stack->lo;
  int rc = descend(lo, 0);
  return weft_yield() + rc;
}

static void run_child(const char* guard, weft_task_fn fn, const char* name) {
  /* WEFT_CONFIG_ENV: WEFT_STACK_GUARD is read only with it. */
  weft_config_t cfg = {.workers = 1, .flags = WEFT_CONFIG_ENV};
  weft_spawn_opts_t opts = {.name = name, .stack_size = kStackSize};
  weft_runtime_t* rt;
  weft_task_t* t;
  if (guard != NULL)
    setenv("WEFT_STACK_GUARD", guard, 1);
  else
    unsetenv("WEFT_STACK_GUARD");
  if (weft_runtime_new(&cfg, &rt) != 0)
    _exit(2);
  if (weft_spawn(rt, fn, NULL, &opts, &t) != 0)
    _exit(3);
  weft_await(t, NULL);
  fprintf(stderr, "the task returned: no overflow reported\n");
  _exit(4);
}

/* ---- The parent's checks ---------------------------------------------- */

static void expect_report(const char* guard, weft_task_fn fn,
                          const char* name) {
  char out[8192];
  size_t len = 0;
  int fds[2];
  int status;
  assert_int_equal(pipe(fds), 0);
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    dup2(fds[1], STDERR_FILENO);
    close(fds[1]);
    run_child(guard, fn, name);
  }
  close(fds[1]);
  for (;;) {
    ssize_t n = read(fds[0], out + len, sizeof(out) - 1 - len);
    if (n <= 0)
      break;
    len += (size_t)n;
  }
  out[len] = '\0';
  close(fds[0]);
  assert_int_equal(waitpid(pid, &status, 0), pid);

  char want[128];
  snprintf(want, sizeof(want), "stack overflow in task '%s'", name);
  const char* hit = strstr(out, want);
  const char* size = strstr(out, "stack size ");
  unsigned long bytes = size != NULL ? strtoul(size + 11, NULL, 10) : 0;
  int died_of_abort = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
  if (hit == NULL || !died_of_abort || bytes < kStackSize ||
      bytes > kStackSize + 16 * 1024)
    fail_msg("WEFT_STACK_GUARD=%s: child %s %d; its stderr:\n%s",
             guard != NULL ? guard : "(unset)",
             WIFSIGNALED(status) ? "killed by signal" : "exited with",
             WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), out);
}

static void test_overflow_runaway_recursion_default_guard(void** state) {
  (void)state;
  expect_report(NULL, deep_recursion, "deep-recursion");
}

static void test_overflow_runaway_recursion_mprotect_guard(void** state) {
  (void)state;
  expect_report("mprotect", deep_recursion, "deep-recursion");
}

/* A canary is only checked when the task switches out, and a runaway
 * recursion never does: this case needs the fault handler to recognise a
 * fault below a canary stack too. */
static void test_overflow_runaway_recursion_canary_guard(void** state) {
  (void)state;
  expect_report("canary", deep_recursion, "deep-recursion");
}

static void test_overflow_bounded_then_await_every_guard(void** state) {
  (void)state;
  expect_report(NULL, bounded_overflow, "smash-1k");
  expect_report("mprotect", bounded_overflow, "smash-1k");
  expect_report("canary", bounded_overflow, "smash-1k");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_overflow_runaway_recursion_default_guard),
      cmocka_unit_test(test_overflow_runaway_recursion_mprotect_guard),
      cmocka_unit_test(test_overflow_runaway_recursion_canary_guard),
      cmocka_unit_test(test_overflow_bounded_then_await_every_guard),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
