/* After a burst of tasks, the pages of their stacks go back to the kernel
 * (src/core/stack.c, release_pages): a server that once held 8,000
 * connections must not keep their stacks' pages resident for ever. Each
 * task touches 16 KiB of its stack and waits; once all ended, the
 * process's resident set must have come down by most of what they took.
 * Label stress: RSS is measured from /proc, which Valgrind's pass would
 * not see the same way. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/sanitizer.h"
#include "helpers.h"

enum { kTasks = 8000, kTouch = 16 * 1024 };

static long rss_kb(void) {
  long pages = 0, resident = 0;
  FILE* f = fopen("/proc/self/statm", "r");
  if (f == NULL)
    return -1;
  if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
    resident = -1;
  fclose(f);
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static int toucher(void* arg, void** result) {
  volatile char buf[kTouch];
  (void)result;
  for (size_t i = 0; i < sizeof(buf); i += 256)
    buf[i] = 1; /* every page of it, through the volatile lvalue */
  int err = weft_event_wait(arg);
  return err + buf[0] - 1; /* keeps buf alive across the wait */
}

static int burst(void* arg, void** result) {
  long* peak_drop = arg;
  static weft_task_t* ts[kTasks];
  weft_event_t* go;
  (void)result;
  WEFT_EXPECT_OK(weft_event_new(&go));
  for (int i = 0; i < kTasks; i++)
    WEFT_EXPECT_OK(weft_spawn(NULL, toucher, go, NULL, &ts[i]));
  /* Every task has touched its stack once it waits: wait for them all. */
  for (int i = 0; i < kTasks; i++)
    while (weft_task_state(ts[i]) != WEFT_TASK_SUSPENDED)
      weft_yield();
  long peak = rss_kb();
  WEFT_EXPECT_OK(weft_event_set(go));
  for (int i = 0; i < kTasks; i++) {
    WEFT_EXPECT_OK(weft_await(ts[i], NULL));
    weft_task_release(ts[i]);
  }
  weft_event_free(go);
  peak_drop[0] = peak;
  peak_drop[1] = rss_kb();
  return 0;
}

static void test_stack_pages_come_back(void** state) {
  (void)state;
#if defined(WEFT_TSAN)
  /* TSan's shadow of the pages stays resident: RSS cannot show it. */
  skip();
#endif
  long r[2] = {0, 0};
  WEFT_ASSERT_OK(weft_test_run(2, burst, r, NULL));
  long taken = (long)kTasks * (kTouch / 1024 + 4); /* + the top page */
  print_message("rss at the peak %ld KiB, after %ld KiB\n", r[0], r[1]);
  /* All but the resident spares (4096) and two worker pools (2 x 256)
   * give their pages back: at least a third of what the burst took. */
  assert_true(r[0] - r[1] > taken / 3);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stack_pages_come_back),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
