/* A million tasks suspended at once: each sleeps half a second, the main
 * task spawns them all and then awaits them all. Checks that every one
 * ends with status 0 and that no task is left alive. Labelled "stress".
 *
 * Under ASan and TSan every task's fiber costs the tools far more memory
 * and time, so those builds run 20k tasks: the same paths, a smaller
 * count. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "helpers.h"
#include "base/sanitizer.h"

#if defined(WEFT_ASAN) || defined(WEFT_TSAN)
enum { kTasks = 20000 };
#else
enum { kTasks = 1000000 };
#endif

typedef struct {
  weft_task_t** tasks;
  size_t ok;
  size_t failed;
  size_t peak_live;
} million_t;

static int nap(void* arg, void** result) {
  (void)arg;
  *result = (void*)(uintptr_t)0x5eed;
  return weft_sleep_ms(500);
}

static int main_million(void* arg, void** result) {
  million_t* m = arg;
  weft_runtime_t* rt = weft_current_runtime();
  (void)result;
  for (size_t i = 0; i < kTasks; i++) {
    if (!WEFT_EXPECT_OK(weft_spawn(NULL, nap, NULL, NULL, &m->tasks[i]))) {
      m->tasks[i] = NULL;
      m->failed++;
    }
  }
  m->peak_live = weft_task_count(rt);
  for (size_t i = 0; i < kTasks; i++) {
    void* r = NULL;
    if (m->tasks[i] == NULL)
      continue;
    int rc = weft_await(m->tasks[i], &r);
    if (rc == 0 && r == (void*)(uintptr_t)0x5eed)
      m->ok++;
    else if (m->failed++ == 0)
      WEFT_EXPECT_OK(rc); /* report the first one */
    weft_task_release(m->tasks[i]);
  }
  return 0;
}

static void test_million_suspended_tasks(void** state) {
  million_t m = {NULL, 0, 0, 0};
  (void)state;
  m.tasks = calloc(kTasks, sizeof(*m.tasks));
  assert_non_null(m.tasks);
  /* weft_test_run asserts that no task is alive after main. */
  WEFT_ASSERT_OK(weft_test_run(2, main_million, &m, NULL));
  print_message("%zu tasks, %zu live at once after spawning\n", (size_t)kTasks,
                m.peak_live);
  assert_int_equal(m.failed, 0);
  assert_int_equal(m.ok, kTasks);
  free(m.tasks);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_million_suspended_tasks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
