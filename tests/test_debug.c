/* Debugging: weft_task_dump (states, waits, backtraces, under load) and
 * debug mode (never-awaited tasks, the shutdown list, slow tasks). */
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "debug/backtrace.h"
#include "helpers.h"
#include "core/task.h"
#include "core/worker.h"

/* The whole content of a tmpfile(), NUL-terminated; free() it. */
static char* slurp(FILE* f) {
  fflush(f);
  long n = ftell(f);
  char* s = malloc((size_t)n + 1);
  rewind(f);
  size_t got = fread(s, 1, (size_t)n, f);
  s[got] = '\0';
  fseek(f, 0, SEEK_END);
  return s;
}

static long file_size(FILE* f) {
  struct stat st;
  fflush(f);
  return fstat(fileno(f), &st) == 0 ? (long)st.st_size : 0;
}

/* Polls `cond` between 1 ms sleeps: a condition wait, not a timing
 * assumption. (These tests avoid weft_yield loops around joins: see the
 * branch report on a spurious join wake-up seen under TSan.) */
#define SLEEP_UNTIL(cond)                                                      \
  do {                                                                         \
    while (!(cond) && weft_sleep_ms(1) == 0) {                                 \
    }                                                                          \
  } while (0)

static uint64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- Dump: states and waits ---------------------------------------------- */

static int await_arg_future(void* f, void** result) {
  (void)result;
  weft_future_await(f, NULL);
  return 0;
}

/* Awaits `target`, which main started first (so it cannot run inline
 * here: the fork-join fast path only runs tasks that never started). */
static int join_started(void* target, void** result) {
  (void)result;
  weft_await(target, NULL);
  return 0;
}

static weft_task_t* spawn_named(weft_task_fn fn, void* arg, const char* name) {
  weft_spawn_opts_t o = {.name = name, .stack_size = 0};
  weft_task_t* t = NULL;
  WEFT_EXPECT_OK(weft_spawn(NULL, fn, arg, &o, &t));
  return t;
}

static int main_dump_states(void* arg, void** result) {
  (void)arg;
  (void)result;
  weft_future_t* f;
  WEFT_EXPECT_OK(weft_future_new(&f));
  weft_task_t* ts[4];
  ts[0] = spawn_named(weft_test_sleep_hour, NULL, "sleeper");
  ts[1] = spawn_named(await_arg_future, f, "futwaiter");
  ts[2] = spawn_named(weft_test_sleep_hour, NULL, "target");
  SLEEP_UNTIL(weft_task_state(ts[2]) == WEFT_TASK_SUSPENDED);
  ts[3] = spawn_named(join_started, ts[2], "joiner");
  for (int i = 0; i < 4; i++)
    SLEEP_UNTIL(weft_task_state(ts[i]) == WEFT_TASK_SUSPENDED);
  /* The joiner is suspended once it awaits: wait for its join. */
  FILE* out = tmpfile();
  char* s = NULL;
  for (int tries = 0; tries < 10000; tries++) {
    rewind(out);
    WEFT_EXPECT(ftruncate(fileno(out), 0) == 0);
    WEFT_EXPECT(weft_task_dump(NULL, out) >= 5);
    free(s);
    s = slurp(out);
    if (strstr(s, "waits on task 'target'") != NULL)
      break;
    weft_sleep_ms(1);
  }
  WEFT_EXPECT(strstr(s, "task 'main' (id ") != NULL);
  WEFT_EXPECT(strstr(s, "task 'sleeper' (id ") != NULL);
  WEFT_EXPECT(strstr(s, "suspended, last on worker ") != NULL);
  WEFT_EXPECT(strstr(s, "waits on sleep (timer on worker ") != NULL);
  WEFT_EXPECT(strstr(s, "task 'futwaiter' (id ") != NULL);
  WEFT_EXPECT(strstr(s, "waits on future 0x") != NULL);
  WEFT_EXPECT(strstr(s, "task 'joiner' (id ") != NULL);
  WEFT_EXPECT(strstr(s, "waits on task 'target' (id ") != NULL);
  WEFT_EXPECT(strstr(s, "'main' (id 1): running, last on worker ") != NULL);
#if defined(__x86_64__) && !defined(WEFT_USE_UCONTEXT)
  WEFT_EXPECT(strstr(s, "    #0  0x") != NULL);
#endif
  printf("%s", s);
  free(s);
  fclose(out);
  weft_cancel(ts[0]);
  weft_cancel(ts[2]);
  weft_future_set_result(f, NULL);
  for (int i = 0; i < 4; i++) {
    weft_await(ts[i], NULL);
    weft_task_release(ts[i]);
  }
  weft_future_release(f);
  return 0;
}

static void test_dump_states(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_dump_states, NULL, NULL));
}

static void test_dump_args(void** state) {
  (void)state;
  WEFT_ASSERT_ERR(weft_task_dump(NULL, stdout), WEFT_EINVAL);
}

/* A done task whose handle is held is listed as done. */
static void test_dump_done_task(void** state) {
  (void)state;
  weft_runtime_t* rt;
  weft_config_t cfg = {.workers = 1};
  weft_task_t* t;
  weft_spawn_opts_t o = {.name = "finished", .stack_size = 0};
  WEFT_ASSERT_OK(weft_runtime_new(&cfg, &rt));
  WEFT_ASSERT_OK(
      weft_spawn(rt, weft_test_ret_status, (void*)(intptr_t)-5, &o, &t));
  assert_int_equal(weft_await(t, NULL), -5);
  FILE* out = tmpfile();
  assert_int_equal(weft_task_dump(rt, out), 1);
  char* s = slurp(out);
  assert_non_null(strstr(s, "task 'finished' (id 1): done"));
  assert_non_null(strstr(s, "status -5"));
  free(s);
  fclose(out);
  weft_task_release(t);
  WEFT_ASSERT_OK(weft_runtime_free(rt));
}

/* ---- Dump under load ----------------------------------------------------- */

#define LOAD_TASKS 1000

static int load_child(void* arg, void** result) {
  (void)arg;
  (void)result;
  return weft_sleep_ms(1);
}

static int load_task(void* arg, void** result) {
  (void)result;
  uintptr_t i = (uintptr_t)arg;
  for (int k = 0; k < 20; k++) {
    switch (i % 4) {
      case 0:
        weft_sleep_ms(1);
        break;
      case 1:
        weft_yield();
        break;
      case 2: {
        weft_task_t* c;
        if (weft_spawn(NULL, load_child, NULL, NULL, &c) == 0) {
          weft_await(c, NULL);
          weft_task_release(c);
        }
        break;
      }
      default: {
        weft_future_t* f;
        weft_task_t* c;
        if (weft_future_new(&f) != 0)
          break;
        if (weft_spawn(NULL, await_arg_future, f, NULL, &c) == 0) {
          weft_yield();
          weft_future_set_result(f, NULL);
          weft_await(c, NULL);
          weft_task_release(c);
        }
        weft_future_release(f);
        break;
      }
    }
  }
  return 0;
}

/* A task that dumps too, from inside the runtime. */
static int dumping_task(void* arg, void** result) {
  (void)result;
  FILE* out = arg;
  for (int k = 0; k < 5; k++) {
    WEFT_EXPECT(weft_task_dump(NULL, out) >= 1);
    weft_sleep_ms(2);
  }
  return 0;
}

static void test_dump_under_load(void** state) {
  (void)state;
  weft_runtime_t* rt;
  weft_config_t cfg = {.workers = 4};
  WEFT_ASSERT_OK(weft_runtime_new(&cfg, &rt));
  FILE* out = fopen("/dev/null", "w");
  assert_non_null(out);
  weft_task_t** ts = calloc(LOAD_TASKS + 1, sizeof(*ts));
  for (uintptr_t i = 0; i < LOAD_TASKS; i++)
    WEFT_ASSERT_OK(weft_spawn(rt, load_task, (void*)i, NULL, &ts[i]));
  WEFT_ASSERT_OK(weft_spawn(rt, dumping_task, out, NULL, &ts[LOAD_TASKS]));
  int dumps = 0;
  while (weft_task_count(rt) > 0 || dumps < 3) {
    assert_true(weft_task_dump(rt, out) >= 0);
    dumps++;
  }
  for (int i = 0; i <= LOAD_TASKS; i++) {
    assert_int_equal(weft_await(ts[i], NULL), 0);
    weft_task_release(ts[i]);
  }
  free(ts);
  fclose(out);
  WEFT_ASSERT_OK(weft_runtime_free(rt));
  WEFT_ASSERT_NO_FAILURES();
}

/* ---- Debug mode: never awaited, shutdown list ---------------------------- */

static weft_future_t* release_gate;
static atomic_int detached_ran;

static int set_detached_ran(void* arg, void** result) {
  (void)arg;
  (void)result;
  /* relaxed: polled by main; nothing else hangs on it. */
  atomic_store_explicit(&detached_ran, 1, memory_order_relaxed);
  return 0;
}

static int wait_gate(void* arg, void** result) {
  (void)arg;
  (void)result;
  weft_future_await(release_gate, NULL);
  return 0; /* whatever the await says: this is not a cancelled task */
}

static int main_forget(void* arg, void** result) {
  (void)arg;
  (void)result;
  weft_task_t* t;
  /* Finished, then released unread: reported at the release. */
  t = spawn_named(weft_test_ret_arg, NULL, "forgotten");
  SLEEP_UNTIL(weft_task_done(t));
  weft_task_release(t);
  /* Released first, finishes later: reported at its end. */
  t = spawn_named(wait_gate, NULL, "dropped");
  weft_task_release(t);
  weft_future_set_result(release_gate, NULL);
  /* Awaited, read with weft_task_result, detached: never reported. */
  t = spawn_named(weft_test_ret_arg, NULL, "awaited");
  weft_await(t, NULL);
  weft_task_release(t);
  t = spawn_named(weft_test_ret_arg, NULL, "polled");
  SLEEP_UNTIL(weft_task_done(t));
  WEFT_EXPECT_OK(weft_task_result(t, NULL));
  weft_task_release(t);
  weft_spawn_opts_t o = {.name = "detached", .stack_size = 0};
  /* relaxed: a flag only. */
  atomic_store_explicit(&detached_ran, 0, memory_order_relaxed);
  WEFT_EXPECT_OK(weft_spawn(NULL, set_detached_ran, NULL, &o, NULL));
  /* relaxed: a flag only. */
  SLEEP_UNTIL(atomic_load_explicit(&detached_ran, memory_order_relaxed));
  /* Still alive at shutdown: listed. */
  o.name = "lingering";
  WEFT_EXPECT_OK(weft_spawn(NULL, weft_test_sleep_hour, NULL, &o, NULL));
  return 0;
}

static void test_never_awaited_and_shutdown_list(void** state) {
  (void)state;
  FILE* out = tmpfile();
  weft__warn_set_stream(out);
  weft_config_t cfg = {.workers = 2, .debug = 1};
  WEFT_ASSERT_OK(weft_future_new(&release_gate));
  WEFT_ASSERT_OK(weft_run(main_forget, NULL, &cfg, NULL));
  weft__warn_set_stream(NULL);
  weft_future_release(release_gate);
  char* s = slurp(out);
  printf("%s", s);
  assert_non_null(strstr(s, "weft: task 'forgotten' (id "));
  assert_non_null(strstr(s, "weft: task 'dropped' (id "));
  assert_non_null(strstr(s, ") was never awaited"));
  assert_null(strstr(s, "'awaited'"));
  assert_null(strstr(s, "'polled'"));
  assert_null(strstr(s, "'detached'"));
  assert_null(strstr(s, "'main'"));
  assert_non_null(strstr(s, "weft: shutdown: task 'lingering' (id "));
  free(s);
  fclose(out);
}

/* Without debug mode: silent. */
static void test_not_debug_is_silent(void** state) {
  (void)state;
  FILE* out = tmpfile();
  weft__warn_set_stream(out);
  weft_config_t cfg = {.workers = 2};
  WEFT_ASSERT_OK(weft_future_new(&release_gate));
  unsetenv("WEFT_DEBUG");
  WEFT_ASSERT_OK(weft_run(main_forget, NULL, &cfg, NULL));
  weft__warn_set_stream(NULL);
  weft_future_release(release_gate);
  assert_int_equal(file_size(out), 0);
  fclose(out);
}

static void test_debug_env(void** state) {
  (void)state;
  weft_runtime_t* rt;
  weft_config_t cfg = {.workers = 1};
  /* Not read without WEFT_CONFIG_ENV. */
  setenv("WEFT_DEBUG", "1", 1);
  WEFT_ASSERT_OK(weft_runtime_new(&cfg, &rt));
  assert_int_equal(rt->debug, 0);
  WEFT_ASSERT_OK(weft_runtime_free(rt));
  cfg.flags = WEFT_CONFIG_ENV;
  WEFT_ASSERT_OK(weft_runtime_new(&cfg, &rt));
  unsetenv("WEFT_DEBUG");
  assert_int_equal(rt->debug, 1);
  assert_non_null(rt->monitor);
  WEFT_ASSERT_OK(weft_runtime_free(rt));
  setenv("WEFT_DEBUG", "0", 1);
  WEFT_ASSERT_OK(weft_runtime_new(&cfg, &rt));
  unsetenv("WEFT_DEBUG");
  assert_int_equal(rt->debug, 0);
  WEFT_ASSERT_OK(weft_runtime_free(rt));
}

/* ---- Debug mode: slow tasks ---------------------------------------------- */

/* The spinner sits alone in its own section, so the linker's __start_ and
 * __stop_ symbols bound its code: the test can tell whether a frame of the
 * report falls in it. (dladdr can only name it in a binary linked with
 * -rdynamic; this one prints it as test_debug+offset.) Not static, never
 * inlined: a function of its own, as a user's would be. */
extern const char __start_weft_test_spin[];
extern const char __stop_weft_test_spin[];

typedef struct {
  FILE* out;
  long from; /* the report file's size when the round began */
} spin_arg_t;

int weft_test_spinner(void* arg, void** result)
    __attribute__((noinline, section("weft_test_spin")));

/* Spins without an await until the monitor's report appears (a 10 s
 * guard): the test asserts that it appears, not when. The report is
 * written after the stack was sampled, so the sample lands in this loop,
 * almost always in the pause bursts. */
int weft_test_spinner(void* arg, void** result) {
  (void)result;
  spin_arg_t* a = arg;
  uint64_t t0 = now_ms();
  while (file_size(a->out) == a->from && now_ms() - t0 < 10000) {
    for (int k = 0; k < 20000; k++)
      weft__cpu_relax();
  }
  return 0;
}

/* The report of this round, once complete: its "moves again" line comes
 * after the frames (one monitor thread writes both). NULL after 10 s. */
static char* round_report(FILE* out, long from) {
  char* s = NULL;
  for (uint64_t t0 = now_ms(); now_ms() - t0 < 10000;) {
    flockfile(out);
    free(s);
    s = slurp(out);
    funlockfile(out);
    if (strstr(s + from, "moves again") != NULL)
      return s;
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
  free(s);
  return NULL;
}

/* 1 if a frame line of `s` ("weft:     #N  0x...") lies in the spinner. */
static int frames_name_spinner(const char* s) {
  for (const char* p = strstr(s, "weft:     #"); p != NULL;
       p = strstr(p + 1, "weft:     #")) {
    const char* x = strstr(p, " 0x");
    unsigned long pc;
    if (x != NULL && sscanf(x, " 0x%lx", &pc) == 1 &&
        pc >= (uintptr_t)__start_weft_test_spin &&
        pc < (uintptr_t)__stop_weft_test_spin)
      return 1;
  }
  return 0;
}

static int names_spinner(const char* report) {
  return !WEFT__BT_SUPPORTED || frames_name_spinner(report);
}

static int says_asleep(const char* report) {
  return strstr(report, "(asleep in system call ") != NULL;
}

/* Runs stalling tasks `fn` named `name` on rt, one per round, until the
 * report of a round satisfies `ok` (at most 5 rounds: a sample or a look
 * may land at a bad instant, another stall takes another). Returns the
 * whole report stream (free it) and sets *passed. */
static char* stall_rounds(weft_runtime_t* rt, FILE* out, weft_task_fn fn,
                          const char* name, int (*ok)(const char* report),
                          int* passed) {
  weft_spawn_opts_t o = {.name = name, .stack_size = 0};
  char* s = NULL;
  *passed = 0;
  for (int round = 0; round < 5 && !*passed; round++) {
    weft_task_t* t;
    flockfile(out);
    spin_arg_t a = {out, file_size(out)};
    funlockfile(out);
    WEFT_ASSERT_OK(weft_spawn(rt, fn, &a, &o, &t));
    WEFT_ASSERT_OK(weft_await(t, NULL));
    weft_task_release(t);
    free(s);
    s = round_report(out, a.from);
    assert_non_null(s);
    *passed = ok(s + a.from);
  }
  return s;
}

static void test_slow_task_reported(void** state) {
  (void)state;
  FILE* out = tmpfile();
  weft__warn_set_stream(out);
  weft_config_t cfg = {.workers = 2, .debug = 1};
  weft_runtime_t* rt;
  WEFT_ASSERT_OK(weft_runtime_new(&cfg, &rt));
  assert_int_equal(rt->slow_task_ms, 100);
  /* A sample taken while the spinner was inside a libc call (file_size,
   * now_ms) may not show the spinner when the code has no frame
   * pointers: hence rounds. */
  int named;
  char* s = stall_rounds(rt, out, weft_test_spinner, "spinner", names_spinner,
                         &named);
  WEFT_ASSERT_OK(weft_runtime_free(rt));
  weft__warn_set_stream(NULL);
  printf("%s", s);
  assert_non_null(strstr(s, "weft: slow task: 'spinner' (id 1) has held "
                            "worker "));
  assert_non_null(strstr(s, "without an await (threshold 100 ms)"));
#if WEFT__BT_SUPPORTED
  assert_non_null(strstr(s, "without an await (threshold 100 ms)\n"
                            "weft:     #0  0x"));
#endif
  assert_true(named);
  free(s);
  fclose(out);
}

/* A task blocked in a system call (poll, which a signal would cut short
 * with EINTR) until the report appears (a 10 s guard). */
static int poller(void* arg, void** result) {
  (void)result;
  spin_arg_t* a = arg;
  uint64_t t0 = now_ms();
  while (file_size(a->out) == a->from && now_ms() - t0 < 10000)
    poll(NULL, 0, 20);
  return 0;
}

/* A thread asleep in the kernel is not interrupted: the report names the
 * system call instead of sampling the stack. Rounds: a look that lands
 * between two polls finds the thread running. */
static void test_slow_task_asleep_in_kernel(void** state) {
  (void)state;
  FILE* out = tmpfile();
  weft__warn_set_stream(out);
  weft_config_t cfg = {.workers = 2, .debug = 1};
  weft_runtime_t* rt;
  WEFT_ASSERT_OK(weft_runtime_new(&cfg, &rt));
  int asleep;
  char* s = stall_rounds(rt, out, poller, "poller", says_asleep, &asleep);
  WEFT_ASSERT_OK(weft_runtime_free(rt));
  weft__warn_set_stream(NULL);
  printf("%s", s);
#if WEFT__BT_SUPPORTED
  assert_true(asleep);
#endif
  free(s);
  fclose(out);
}

/* ---- Dump signal --------------------------------------------------------- */

static void test_dump_signal(void** state) {
  (void)state;
  FILE* out = tmpfile();
  weft__warn_set_stream(out);
  weft_config_t cfg = {.workers = 2, .dump_signal = SIGUSR2};
  weft_runtime_t* rt;
  weft_runtime_t* rt2;
  weft_task_t* t;
  weft_spawn_opts_t o = {.name = "sigtarget", .stack_size = 0};
  WEFT_ASSERT_OK(weft_runtime_new(&cfg, &rt));
  WEFT_ASSERT_ERR(weft_runtime_new(&cfg, &rt2), WEFT_EBUSY);
  WEFT_ASSERT_OK(weft_spawn(rt, weft_test_sleep_hour, NULL, &o, &t));
  assert_int_equal(raise(SIGUSR2), 0);
  /* The dump comes from the runtime's thread: poll for it (a hang guard
   * of 10 s, not a timing bound). */
  char* s = NULL;
  for (uint64_t t0 = now_ms(); now_ms() - t0 < 10000;) {
    flockfile(out);
    free(s);
    s = slurp(out);
    funlockfile(out);
    if (strstr(s, "end of dump") != NULL)
      break;
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
  printf("%s", s);
  assert_non_null(strstr(s, "task 'sigtarget' (id 1): "));
  assert_non_null(strstr(s, "end of dump"));
  free(s);
  weft_cancel(t);
  weft_await(t, NULL);
  weft_task_release(t);
  WEFT_ASSERT_OK(weft_runtime_free(rt));
  weft__warn_set_stream(NULL);
  fclose(out);
  /* Released: another runtime may take it now; bad signals are refused. */
  WEFT_ASSERT_OK(weft_runtime_new(&cfg, &rt2));
  WEFT_ASSERT_OK(weft_runtime_free(rt2));
  cfg.dump_signal = SIGSEGV;
  WEFT_ASSERT_ERR(weft_runtime_new(&cfg, &rt2), WEFT_EINVAL);
  cfg.dump_signal = SIGKILL;
  WEFT_ASSERT_ERR(weft_runtime_new(&cfg, &rt2), WEFT_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dump_states),
      cmocka_unit_test(test_dump_args),
      cmocka_unit_test(test_dump_done_task),
      cmocka_unit_test(test_dump_under_load),
      cmocka_unit_test(test_never_awaited_and_shutdown_list),
      cmocka_unit_test(test_not_debug_is_silent),
      cmocka_unit_test(test_debug_env),
      cmocka_unit_test(test_slow_task_reported),
      cmocka_unit_test(test_slow_task_asleep_in_kernel),
      cmocka_unit_test(test_dump_signal),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
