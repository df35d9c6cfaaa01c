/* What a runtime does to the process, and that each effect is the config's
 * choice (weft.h, WEFT_CONFIG_ENV; docs/environment.md): the SIGSEGV/SIGBUS
 * handler (held while a runtime wants it, the previous one back after),
 * SIGPIPE, UV_THREADPOOL_SIZE (set only from a single-threaded process),
 * and the environment switches (read only with WEFT_CONFIG_ENV).
 *
 * These effects are once per process (SIGPIPE, libuv's pool size), so each
 * case runs in a forked child of a parent that never creates a runtime; the
 * child reports through its exit status, and on failure says why on
 * stderr. */
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "core/runtime.h"
#include "core/stack.h"

#define CHILD_CHECK(cond)                                                      \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: child check failed: %s\n", __FILE__, __LINE__,   \
              #cond);                                                          \
      _exit(1);                                                                \
    }                                                                          \
  } while (0)

/* Runs fn() in a forked child; asserts it exits 0. */
static void in_child(void (*fn)(void)) {
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    fn();
    _exit(0);
  }
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status));
  assert_int_equal(WEXITSTATUS(status), 0);
}

static void (*handler_of(int sig))(int, siginfo_t*, void*) {
  struct sigaction sa;
  CHILD_CHECK(sigaction(sig, NULL, &sa) == 0);
  return (sa.sa_flags & SA_SIGINFO) ? sa.sa_sigaction : NULL;
}

static void (*plain_handler_of(int sig))(int) {
  struct sigaction sa;
  CHILD_CHECK(sigaction(sig, NULL, &sa) == 0);
  return (sa.sa_flags & SA_SIGINFO) ? NULL : sa.sa_handler;
}

static void mine(int sig, siginfo_t* si, void* uc) {
  (void)sig, (void)si, (void)uc;
}

static void set_mine(int sig) {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = mine;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  CHILD_CHECK(sigaction(sig, &sa, NULL) == 0);
}

/* ---- SIGSEGV / SIGBUS -------------------------------------------------- */

static void fault_handler_comes_and_goes(void) {
  weft_runtime_t* a;
  weft_runtime_t* b;
  set_mine(SIGSEGV);
  set_mine(SIGBUS);
  CHILD_CHECK(weft_runtime_new(NULL, &a) == 0);
  CHILD_CHECK(handler_of(SIGSEGV) != mine); /* weft's, over mine */
  CHILD_CHECK(handler_of(SIGBUS) != mine);
  CHILD_CHECK(weft_runtime_new(NULL, &b) == 0);
  CHILD_CHECK(weft_runtime_free(a) == 0);
  CHILD_CHECK(handler_of(SIGSEGV) != mine); /* b still holds it */
  CHILD_CHECK(weft_runtime_free(b) == 0);
  CHILD_CHECK(handler_of(SIGSEGV) == mine); /* the last one gave it back */
  CHILD_CHECK(handler_of(SIGBUS) == mine);
}

static void test_fault_handler_restored(void** state) {
  (void)state;
  in_child(fault_handler_comes_and_goes);
}

static void no_fault_handler(void) {
  weft_runtime_t* rt;
  weft_config_t cfg = {.workers = 1, .flags = WEFT_CONFIG_NO_FAULT_HANDLER};
  set_mine(SIGSEGV);
  CHILD_CHECK(weft_runtime_new(&cfg, &rt) == 0);
  CHILD_CHECK(handler_of(SIGSEGV) == mine);
  CHILD_CHECK(rt->fault_handler == 0);
  CHILD_CHECK(weft_runtime_free(rt) == 0);
  CHILD_CHECK(handler_of(SIGSEGV) == mine);
}

static void test_no_fault_handler(void** state) {
  (void)state;
  in_child(no_fault_handler);
}

/* ---- SIGPIPE ----------------------------------------------------------- */

static void sigpipe_kept_then_ignored(void) {
  weft_runtime_t* rt;
  weft_config_t cfg = {.workers = 1, .flags = WEFT_CONFIG_KEEP_SIGPIPE};
  signal(SIGPIPE, SIG_DFL);
  CHILD_CHECK(weft_runtime_new(&cfg, &rt) == 0);
  CHILD_CHECK(plain_handler_of(SIGPIPE) == SIG_DFL);
  CHILD_CHECK(weft_runtime_free(rt) == 0);
  CHILD_CHECK(weft_runtime_new(NULL, &rt) == 0); /* the default: ignored */
  CHILD_CHECK(plain_handler_of(SIGPIPE) == SIG_IGN);
  CHILD_CHECK(weft_runtime_free(rt) == 0);
}

static void test_sigpipe(void** state) {
  (void)state;
  in_child(sigpipe_kept_then_ignored);
}

/* ---- UV_THREADPOOL_SIZE ------------------------------------------------ */

/* Threads in this process now (as runtime.c counts them). */
static int threads_now(void) {
  DIR* d = opendir("/proc/self/task");
  struct dirent* e;
  int n = 0;
  CHILD_CHECK(d != NULL);
  while ((e = readdir(d)) != NULL)
    n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

static void setenv_opt_out_then_single_thread(void) {
  weft_runtime_t* rt;
  weft_config_t cfg = {.workers = 3, .flags = WEFT_CONFIG_NO_SETENV};
  unsetenv("UV_THREADPOOL_SIZE");
  CHILD_CHECK(weft_runtime_new(&cfg, &rt) == 0);
  CHILD_CHECK(getenv("UV_THREADPOOL_SIZE") == NULL);
  CHILD_CHECK(weft_runtime_free(rt) == 0);
  cfg.flags = 0; /* single-threaded again now that rt's threads are gone */
  /* TSan runs a thread of its own in every process: there weft must leave
   * the variable alone too. */
  int alone = threads_now() == 1;
  CHILD_CHECK(weft_runtime_new(&cfg, &rt) == 0);
  const char* v = getenv("UV_THREADPOOL_SIZE");
  if (alone)
    CHILD_CHECK(v != NULL && strcmp(v, "6") == 0); /* two per worker */
  else
    CHILD_CHECK(v == NULL);
  CHILD_CHECK(weft_runtime_free(rt) == 0);
}

static void test_threadpool_size_set(void** state) {
  (void)state;
  in_child(setenv_opt_out_then_single_thread);
}

static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;

static void* wait_gate(void* arg) {
  (void)arg;
  pthread_mutex_lock(&gate);
  pthread_mutex_unlock(&gate);
  return NULL;
}

/* Another thread exists (it might be reading the environment): no setenv. */
static void no_setenv_with_other_threads(void) {
  weft_runtime_t* rt;
  pthread_t th;
  unsetenv("UV_THREADPOOL_SIZE");
  pthread_mutex_lock(&gate);
  CHILD_CHECK(pthread_create(&th, NULL, wait_gate, NULL) == 0);
  CHILD_CHECK(weft_runtime_new(NULL, &rt) == 0);
  CHILD_CHECK(getenv("UV_THREADPOOL_SIZE") == NULL);
  CHILD_CHECK(weft_runtime_free(rt) == 0);
  pthread_mutex_unlock(&gate);
  CHILD_CHECK(pthread_join(th, NULL) == 0);
}

static void test_no_setenv_with_other_threads(void** state) {
  (void)state;
  in_child(no_setenv_with_other_threads);
}

/* ---- Environment switches ---------------------------------------------- */

static void env_only_when_asked(void) {
  weft_runtime_t* rt;
  weft_config_t cfg = {.workers = 2};
  setenv("WEFT_SEED", "77", 1);
  setenv("WEFT_DEBUG", "1", 1);
  setenv("WEFT_STACK_GUARD", "canary", 1);
  CHILD_CHECK(weft_runtime_new(&cfg, &rt) == 0);
  CHILD_CHECK(weft_runtime_seed(rt) == 0);
  CHILD_CHECK(weft_runtime_workers(rt) == 2);
  CHILD_CHECK(rt->debug == 0);
  CHILD_CHECK(rt->stacks.guard_mode == WEFT_GUARD_MADVISE);
  CHILD_CHECK(weft_runtime_free(rt) == 0);
  cfg.flags = WEFT_CONFIG_ENV;
  CHILD_CHECK(weft_runtime_new(&cfg, &rt) == 0);
  CHILD_CHECK(weft_runtime_seed(rt) == 77);
  CHILD_CHECK(weft_runtime_workers(rt) == 1);
  CHILD_CHECK(rt->debug == 1);
  CHILD_CHECK(rt->stacks.guard_mode == WEFT_GUARD_CANARY);
  CHILD_CHECK(weft_runtime_free(rt) == 0);
}

static void test_env_switches_opt_in(void** state) {
  (void)state;
  in_child(env_only_when_asked);
}

static void test_unknown_flags(void** state) {
  (void)state;
  weft_runtime_t* rt = NULL;
  weft_config_t cfg = {.flags = 1u << 20};
  WEFT_ASSERT_ERR(weft_runtime_new(&cfg, &rt), WEFT_EINVAL);
  assert_null(rt);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fault_handler_restored),
      cmocka_unit_test(test_no_fault_handler),
      cmocka_unit_test(test_sigpipe),
      cmocka_unit_test(test_threadpool_size_set),
      cmocka_unit_test(test_no_setenv_with_other_threads),
      cmocka_unit_test(test_env_switches_opt_in),
      cmocka_unit_test(test_unknown_flags),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
