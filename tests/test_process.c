/* Subprocesses: exec and shell forms, exit codes and signals, pipes as
 * streams, communicate (with input, and with megabytes on both output
 * pipes at once), kill, waiting from another worker and from several
 * tasks, a wait cut by a timeout and waited again, no zombie after free or
 * at runtime end, and argument errors. Children are standard tools (sh,
 * echo, cat, sleep, head, tr). */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.h"
#include "io/io.h"
#include "core/worker.h"

static const weft_process_opts_t kPipeOut = {.stdin_mode = WEFT_STDIO_NULL,
                                             .stdout_mode = WEFT_STDIO_PIPE,
                                             .stderr_mode = WEFT_STDIO_NULL};
static const weft_process_opts_t kPipeAll = {.stdin_mode = WEFT_STDIO_PIPE,
                                             .stdout_mode = WEFT_STDIO_PIPE,
                                             .stderr_mode = WEFT_STDIO_PIPE};
static const weft_process_opts_t kPipeIn = {.stdin_mode = WEFT_STDIO_PIPE,
                                            .stdout_mode = WEFT_STDIO_NULL,
                                            .stderr_mode = WEFT_STDIO_NULL};

/* 1 if nobody is left to reap: the child is gone for good. */
static int reaped(int pid) {
  return waitpid(pid, NULL, WNOHANG) == -1 && errno == ECHILD;
}

/* Reads s to its end into buf (NUL-terminated); the length or an error. */
static ptrdiff_t read_all(weft_stream_t* s, char* buf, size_t cap) {
  size_t len = 0;
  for (;;) {
    ptrdiff_t n = weft_stream_read(s, buf + len, cap - 1 - len);
    if (n < 0)
      return n;
    if (n == 0)
      break;
    len += (size_t)n;
    if (len == cap - 1)
      break;
  }
  buf[len] = '\0';
  return (ptrdiff_t)len;
}

/* ---- exec, shell, exit codes ---------------------------------------- */

static int echo_exec(void* arg, void** result) {
  char* argv[] = {"echo", "hello", "world", NULL};
  weft_process_t* p;
  char line[64];
  int status = -1;
  (void)arg;
  (void)result;
  if (!WEFT_EXPECT_OK(weft_process_exec(argv, &kPipeOut, &p)))
    return 0;
  WEFT_EXPECT(weft_process_pid(p) > 0);
  WEFT_EXPECT(weft_process_stdin(p) == NULL);
  WEFT_EXPECT(weft_process_stderr(p) == NULL);
  weft_stream_t* out = weft_process_stdout(p);
  WEFT_EXPECT_EQ(weft_stream_readline(out, line, sizeof(line)), 12);
  WEFT_EXPECT(memcmp(line, "hello world\n", 12) == 0);
  WEFT_EXPECT_EQ(weft_stream_read(out, line, sizeof(line)), 0);
  WEFT_EXPECT_OK(weft_process_wait(p, &status));
  WEFT_EXPECT_EQ(status, 0);
  WEFT_EXPECT_OK(weft_process_wait(p, NULL)); /* again: at once */
  WEFT_EXPECT_OK(weft_process_free(p));
  return 0;
}

static void test_process_echo_exec(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, echo_exec, NULL, NULL));
  WEFT_ASSERT_OK(weft_test_run(4, echo_exec, NULL, NULL));
}

static int shell_exit_code(void* arg, void** result) {
  weft_process_t* p;
  char *out, *err;
  size_t out_len, err_len;
  int status = -1;
  (void)arg;
  (void)result;
  /* Inherited stdio, no pipes: only the status. */
  weft_process_opts_t quiet = {.stdout_mode = WEFT_STDIO_NULL};
  if (WEFT_EXPECT_OK(weft_process_shell("exit 3", &quiet, &p))) {
    WEFT_EXPECT_OK(weft_process_wait(p, &status));
    WEFT_EXPECT_EQ(status, 3);
    WEFT_EXPECT_OK(weft_process_free(p));
  }
  if (!WEFT_EXPECT_OK(
          weft_process_shell("echo out; echo err >&2; exit 3", &kPipeAll, &p)))
    return 0;
  WEFT_EXPECT_OK(weft_process_communicate(p, NULL, 0, &out, &out_len, &err,
                                          &err_len, &status));
  WEFT_EXPECT_EQ(status, 3);
  WEFT_EXPECT_EQ(out_len, 4);
  WEFT_EXPECT(out != NULL && strcmp(out, "out\n") == 0);
  WEFT_EXPECT_EQ(err_len, 4);
  WEFT_EXPECT(err != NULL && strcmp(err, "err\n") == 0);
  WEFT_EXPECT(weft_process_stdin(p) == NULL); /* communicate closed it */
  free(out);
  free(err);
  WEFT_EXPECT_OK(weft_process_free(p));
  return 0;
}

static void test_process_shell_exit_code(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, shell_exit_code, NULL, NULL));
}

/* ---- communicate ----------------------------------------------------- */

typedef struct {
  size_t input_len;
} filter_args_t;

/* cat as a filter: what goes in comes out. A large input makes feeding
 * and draining overlap (cat blocks on its stdout while we still write). */
static int cat_filter(void* arg, void** result) {
  filter_args_t* a = arg;
  char* argv[] = {"cat", NULL};
  weft_process_t* p;
  char* out;
  size_t out_len;
  int status = -1;
  (void)result;
  char* input = malloc(a->input_len + 1);
  if (!WEFT_EXPECT(input != NULL))
    return 0;
  for (size_t i = 0; i < a->input_len; i++)
    input[i] = (char)('a' + i % 26);
  if (WEFT_EXPECT_OK(weft_process_exec(argv, &kPipeAll, &p))) {
    WEFT_EXPECT_OK(weft_process_communicate(p, input, a->input_len, &out,
                                            &out_len, NULL, NULL, &status));
    WEFT_EXPECT_EQ(status, 0);
    WEFT_EXPECT_EQ(out_len, a->input_len);
    WEFT_EXPECT(out != NULL && memcmp(out, input, a->input_len) == 0);
    free(out);
    WEFT_EXPECT_OK(weft_process_free(p));
  }
  free(input);
  return 0;
}

static void test_process_cat_filter(void** state) {
  filter_args_t small = {.input_len = 18};
  filter_args_t big = {.input_len = 3u << 20};
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, cat_filter, &small, NULL));
  WEFT_ASSERT_OK(weft_test_run(1, cat_filter, &big, NULL));
  WEFT_ASSERT_OK(weft_test_run(4, cat_filter, &big, NULL));
}

#define BIG_OUTPUT 1500000

static int all_bytes(const char* buf, size_t len, char c) {
  for (size_t i = 0; i < len; i++)
    if (buf[i] != c)
      return 0;
  return 1;
}

/* More than a pipe holds on each of stdout and stderr: reading one to its
 * end before the other would deadlock, whichever the child writes first. */
static int big_output(void* arg, void** result) {
  const char* cmd = arg;
  weft_process_t* p;
  char *out, *err;
  size_t out_len, err_len;
  int status = -1;
  (void)result;
  if (!WEFT_EXPECT_OK(weft_process_shell(cmd, &kPipeAll, &p)))
    return 0;
  WEFT_EXPECT_OK(weft_process_communicate(p, NULL, 0, &out, &out_len, &err,
                                          &err_len, &status));
  WEFT_EXPECT_EQ(status, 0);
  WEFT_EXPECT_EQ(out_len, BIG_OUTPUT);
  WEFT_EXPECT_EQ(err_len, BIG_OUTPUT);
  WEFT_EXPECT(out != NULL && all_bytes(out, out_len, 'o'));
  WEFT_EXPECT(err != NULL && all_bytes(err, err_len, 'e'));
  free(out);
  free(err);
  WEFT_EXPECT_OK(weft_process_free(p));
  return 0;
}

#define EMIT(c, n) "head -c " #n " /dev/zero | tr '\\0' " c
#define TO_ERR ">&2"

static void test_process_big_output_both_pipes(void** state) {
  char out_first[] = EMIT("o", 1500000) "; " EMIT("e", 1500000) TO_ERR;
  char err_first[] = EMIT("e", 1500000) TO_ERR "; " EMIT("o", 1500000);
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, big_output, out_first, NULL));
  WEFT_ASSERT_OK(weft_test_run(1, big_output, err_first, NULL));
  WEFT_ASSERT_OK(weft_test_run(3, big_output, err_first, NULL));
}

/* Discarded outputs (NULL) are still read to their ends. */
static int communicate_discards(void* arg, void** result) {
  weft_process_t* p;
  int status = -1;
  (void)arg;
  (void)result;
  if (!WEFT_EXPECT_OK(weft_process_shell(EMIT("e", 300000) TO_ERR
                                         "; " EMIT("o", 300000) "; exit 4",
                                         &kPipeAll, &p)))
    return 0;
  WEFT_EXPECT_OK(
      weft_process_communicate(p, NULL, 0, NULL, NULL, NULL, NULL, &status));
  WEFT_EXPECT_EQ(status, 4);
  WEFT_EXPECT_OK(weft_process_free(p));
  return 0;
}

static void test_process_communicate_discards(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, communicate_discards, NULL, NULL));
}

/* A child that exits without reading its input: writing to its stdin
 * fails (UV_EPIPE, not a SIGPIPE that ends the test), and communicate
 * ignores that. More than a socket buffer holds, so a write must fail. */
static int input_not_read(void* arg, void** result) {
  weft_process_t* p;
  char* out;
  size_t out_len = 1;
  int status = -1;
  size_t n = 4u << 20;
  (void)arg;
  (void)result;
  char* input = calloc(1, n);
  if (!WEFT_EXPECT(input != NULL))
    return 0;
  if (WEFT_EXPECT_OK(weft_process_shell("exec true", &kPipeAll, &p))) {
    WEFT_EXPECT_OK(weft_process_communicate(p, input, n, &out, &out_len, NULL,
                                            NULL, &status));
    WEFT_EXPECT_EQ(status, 0);
    WEFT_EXPECT_EQ(out_len, 0);
    free(out);
    WEFT_EXPECT_OK(weft_process_free(p));
  }
  free(input);
  return 0;
}

static void test_process_input_not_read(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, input_not_read, NULL, NULL));
}

/* A communicate cut by a timeout gives back nothing, and the process can
 * still be freed (killed) afterwards. */
static int communicate_cancelled(void* arg, void** result) {
  char* argv[] = {"sleep", "100", NULL};
  weft_process_t* p;
  weft_timeout_t* tm;
  char* out = (char*)1;
  size_t out_len = 1;
  (void)arg;
  (void)result;
  if (!WEFT_EXPECT_OK(weft_process_exec(argv, &kPipeAll, &p)))
    return 0;
  int pid = weft_process_pid(p);
  WEFT_EXPECT_OK(weft_timeout_enter(20, &tm));
  WEFT_EXPECT_ERR(weft_process_communicate(p, "x", 1, &out, &out_len, NULL,
                                           NULL, NULL),
                  WEFT_ECANCELED);
  WEFT_EXPECT_ERR(weft_timeout_exit(tm), WEFT_ETIMEDOUT);
  WEFT_EXPECT(out == NULL);
  WEFT_EXPECT_EQ(out_len, 0);
  WEFT_EXPECT_OK(weft_process_free(p));
  WEFT_EXPECT(reaped(pid));
  return 0;
}

static void test_process_communicate_cancelled(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, communicate_cancelled, NULL, NULL));
  WEFT_ASSERT_OK(weft_test_run(3, communicate_cancelled, NULL, NULL));
}

/* ---- kill, free, runtime end ----------------------------------------- */

static int kill_sigterm(void* arg, void** result) {
  char* argv[] = {"sleep", "100", NULL};
  weft_process_t* p;
  int status = -1;
  (void)arg;
  (void)result;
  if (!WEFT_EXPECT_OK(weft_process_exec(argv, NULL, &p)))
    return 0;
  WEFT_EXPECT_OK(weft_process_kill(p, SIGTERM));
  WEFT_EXPECT_OK(weft_process_wait(p, &status));
  WEFT_EXPECT_EQ(status, -SIGTERM); /* asyncio's returncode */
  WEFT_EXPECT_ERR(weft_process_kill(p, SIGTERM), UV_ESRCH);
  WEFT_EXPECT_OK(weft_process_free(p));
  return 0;
}

static void test_process_kill_sigterm(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, kill_sigterm, NULL, NULL));
}

static int free_running(void* arg, void** result) {
  char* argv[] = {"sleep", "100", NULL};
  weft_process_t* p;
  (void)arg;
  (void)result;
  if (!WEFT_EXPECT_OK(weft_process_exec(argv, &kPipeAll, &p)))
    return 0;
  int pid = weft_process_pid(p);
  WEFT_EXPECT(!reaped(pid));
  WEFT_EXPECT_OK(weft_process_free(p));
  WEFT_EXPECT(reaped(pid));
  return 0;
}

static void test_process_free_running_leaves_no_zombie(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, free_running, NULL, NULL));
  WEFT_ASSERT_OK(weft_test_run(2, free_running, NULL, NULL));
}

/* Left running, with open pipes, when the runtime ends: the runtime kills,
 * reaps and frees it (the sanitizers see any leak). */
static int leave_running(void* arg, void** result) {
  char* argv[] = {"sleep", "100", NULL};
  weft_process_t* p;
  (void)result;
  if (!WEFT_EXPECT_OK(weft_process_exec(argv, &kPipeAll, &p)))
    return 0;
  *(int*)arg = weft_process_pid(p);
  WEFT_EXPECT_OK(weft_stream_write(weft_process_stdin(p), "queued", 6));
  return 0;
}

static void test_process_runtime_end_reaps(void** state) {
  int pid = 0;
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, leave_running, &pid, NULL));
  assert_true(pid > 0);
  assert_true(reaped(pid));
}

/* Tasks still in communicate and in wait when the runtime ends: the
 * shutdown cancels them; communicate returns only after its helper tasks
 * ended (they use its stack), then frees its process during the shutdown;
 * the other process is left to the runtime. */
typedef struct {
  weft_process_t* p;
  _Atomic int started;
} busy_t;

static int busy_communicate(void* arg, void** result) {
  busy_t* b = arg;
  char* out = NULL;
  (void)result;
  atomic_store(&b->started, 1);
  WEFT_EXPECT_ERR(weft_process_communicate(b->p, "x", 1, &out, NULL, NULL, NULL,
                                           NULL),
                  WEFT_ECANCELED);
  WEFT_EXPECT(out == NULL);
  WEFT_EXPECT_OK(weft_process_free(b->p));
  return 0;
}

static int busy_wait(void* arg, void** result) {
  busy_t* b = arg;
  (void)result;
  atomic_store(&b->started, 1);
  WEFT_EXPECT_ERR(weft_process_wait(b->p, NULL), WEFT_ECANCELED);
  return 0;
}

static int leave_busy(void* arg, void** result) {
  int* pids = arg;
  char* argv[] = {"sleep", "100", NULL};
  static busy_t b[2];
  weft_task_fn fns[2] = {busy_communicate, busy_wait};
  (void)result;
  for (int i = 0; i < 2; i++) {
    atomic_store(&b[i].started, 0);
    if (!WEFT_EXPECT_OK(weft_process_exec(argv, &kPipeAll, &b[i].p)))
      return 0;
    pids[i] = weft_process_pid(b[i].p);
    WEFT_EXPECT_OK(weft_spawn(NULL, fns[i], &b[i], NULL, NULL));
  }
  WEFT_YIELD_UNTIL(atomic_load(&b[0].started) && atomic_load(&b[1].started));
  for (int i = 0; i < 8; i++) /* most often they wait by now */
    weft_yield();
  return 0;
}

static void test_process_runtime_end_cancels_waits(void** state) {
  (void)state;
  for (int i = 0; i < 10; i++) {
    int pids[2] = {0, 0};
    WEFT_ASSERT_OK(weft_test_run_detached(1 + i % 3, leave_busy, pids, NULL));
    assert_true(pids[0] > 0 && pids[1] > 0);
    assert_true(reaped(pids[0]));
    assert_true(reaped(pids[1]));
  }
}

/* ---- waiting --------------------------------------------------------- */

typedef struct {
  weft_process_t* p;
  weft__worker_t* where; /* run the wait there; NULL: where it is */
  _Atomic int waiting;
  int status;
  int worker;
} waiter_t;

static int waiter(void* arg, void** result) {
  waiter_t* w = arg;
  (void)result;
  if (w->where != NULL)
    weft__io_move_to(w->where);
  w->worker = weft_worker_id();
  atomic_store(&w->waiting, 1);
  return weft_process_wait(w->p, &w->status);
}

/* The child exits only when its stdin is closed; meanwhile one task waits
 * on another worker and one on the process's own. */
static int wait_elsewhere(void* arg, void** result) {
  char* argv[] = {"sh", "-c", "cat >/dev/null; exit 5", NULL};
  weft_process_t* p;
  weft_task_t* t[2];
  int status = -1;
  (void)arg;
  (void)result;
  if (!WEFT_EXPECT_OK(weft_process_exec(argv, &kPipeIn, &p)))
    return 0;
  weft__worker_t* self = weft__worker_self();
  weft__worker_t* other = self->rt->workers[(self->index + 1) % 2];
  waiter_t w[2] = {{.p = p, .where = other}, {.p = p, .where = self}};
  for (int i = 0; i < 2; i++)
    WEFT_EXPECT_OK(weft_spawn(NULL, waiter, &w[i], NULL, &t[i]));
  WEFT_YIELD_UNTIL(atomic_load(&w[0].waiting) && atomic_load(&w[1].waiting));
  WEFT_EXPECT_EQ(w[0].worker, (int)other->index);
  WEFT_EXPECT_OK(weft_stream_close(weft_process_stdin(p)));
  WEFT_EXPECT(weft_process_stdin(p) == NULL);
  for (int i = 0; i < 2; i++) {
    WEFT_EXPECT_OK(weft_await(t[i], NULL));
    WEFT_EXPECT_EQ(w[i].status, 5);
    weft_task_release(t[i]);
  }
  WEFT_EXPECT_OK(weft_process_wait(p, &status));
  WEFT_EXPECT_EQ(status, 5);
  WEFT_EXPECT_OK(weft_process_free(p));
  return 0;
}

static void test_process_wait_from_other_worker(void** state) {
  (void)state;
  for (int i = 0; i < 20; i++)
    WEFT_ASSERT_OK(weft_test_run(2, wait_elsewhere, NULL, NULL));
}

/* A timeout cuts the wait; the process is waited for again, to its end. */
static int wait_timeout_then_again(void* arg, void** result) {
  char* argv[] = {"cat", NULL};
  weft_process_t* p;
  weft_timeout_t* tm;
  int status = -1;
  (void)arg;
  (void)result;
  if (!WEFT_EXPECT_OK(weft_process_exec(argv, &kPipeIn, &p)))
    return 0;
  WEFT_EXPECT_OK(weft_timeout_enter(10, &tm));
  WEFT_EXPECT_ERR(weft_process_wait(p, &status), WEFT_ECANCELED);
  WEFT_EXPECT_ERR(weft_timeout_exit(tm), WEFT_ETIMEDOUT);
  WEFT_EXPECT_EQ(status, -1);
  WEFT_EXPECT_OK(weft_stream_close(weft_process_stdin(p)));
  WEFT_EXPECT_OK(weft_process_wait(p, &status));
  WEFT_EXPECT_EQ(status, 0);
  WEFT_EXPECT_OK(weft_process_free(p));
  return 0;
}

static void test_process_wait_timeout_then_again(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, wait_timeout_then_again, NULL, NULL));
  WEFT_ASSERT_OK(weft_test_run(2, wait_timeout_then_again, NULL, NULL));
}

/* ---- options and errors ---------------------------------------------- */

static int env_and_cwd(void* arg, void** result) {
  const char* dir = arg;
  char* env[] = {"WEFT_X=42", NULL};
  weft_process_opts_t o = kPipeOut;
  weft_process_t* p;
  char buf[PATH_MAX + 64], want[PATH_MAX + 64];
  char real[PATH_MAX];
  (void)result;
  o.env = env;
  o.cwd = dir;
  if (!WEFT_EXPECT(realpath(dir, real) != NULL))
    return 0;
  snprintf(want, sizeof(want), "42\n%s\n", real);
  if (!WEFT_EXPECT_OK(weft_process_shell("echo \"$WEFT_X\"; pwd -P", &o, &p)))
    return 0;
  ptrdiff_t n = read_all(weft_process_stdout(p), buf, sizeof(buf));
  WEFT_EXPECT_EQ(n, (ptrdiff_t)strlen(want));
  WEFT_EXPECT(strcmp(buf, want) == 0);
  WEFT_EXPECT_OK(weft_process_wait(p, NULL));
  WEFT_EXPECT_OK(weft_process_free(p));
  return 0;
}

static void test_process_env_and_cwd(void** state) {
  char dir[] = "/tmp/weft-process-XXXXXX";
  (void)state;
  assert_non_null(mkdtemp(dir));
  WEFT_ASSERT_OK(weft_test_run(2, env_and_cwd, dir, NULL));
  assert_int_equal(rmdir(dir), 0);
}

static int argument_errors(void* arg, void** result) {
  char* missing[] = {"/nonexistent/weft-no-such-program", NULL};
  char* unknown[] = {"weft-no-such-program-in-path", NULL};
  char* empty[] = {NULL};
  char* echo[] = {"echo", NULL};
  weft_process_opts_t bad = {.stdout_mode = 7};
  weft_process_t* p = (weft_process_t*)1;
  (void)arg;
  (void)result;
  WEFT_EXPECT_ERR(weft_process_exec(missing, NULL, &p), UV_ENOENT);
  WEFT_EXPECT(p == NULL);
  WEFT_EXPECT_ERR(weft_process_exec(unknown, &kPipeAll, &p), UV_ENOENT);
  WEFT_EXPECT_ERR(weft_process_exec(NULL, NULL, &p), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_process_exec(empty, NULL, &p), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_process_exec(echo, NULL, NULL), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_process_exec(echo, &bad, &p), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_process_shell(NULL, NULL, &p), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_process_wait(NULL, NULL), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_process_kill(NULL, SIGTERM), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_process_communicate(NULL, NULL, 0, NULL, NULL, NULL,
                                           NULL, NULL),
                  WEFT_EINVAL);
  WEFT_EXPECT_EQ(weft_process_pid(NULL), WEFT_EINVAL);
  WEFT_EXPECT(weft_process_stdout(NULL) == NULL);
  WEFT_EXPECT_OK(weft_process_free(NULL));
  /* Input for a child whose stdin is not a pipe. */
  if (WEFT_EXPECT_OK(weft_process_exec(echo, &kPipeOut, &p))) {
    WEFT_EXPECT_ERR(weft_process_communicate(p, "x", 1, NULL, NULL, NULL, NULL,
                                             NULL),
                    WEFT_EINVAL);
    WEFT_EXPECT_ERR(weft_process_communicate(p, NULL, 1, NULL, NULL, NULL, NULL,
                                             NULL),
                    WEFT_EINVAL);
    WEFT_EXPECT_OK(weft_process_free(p));
  }
  return 0;
}

static void test_process_argument_errors(void** state) {
  char* echo[] = {"echo", NULL};
  weft_process_t* p;
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, argument_errors, NULL, NULL));
  WEFT_ASSERT_ERR(weft_process_exec(echo, NULL, &p), WEFT_ENOTTASK);
  WEFT_ASSERT_ERR(weft_process_wait((weft_process_t*)1, NULL), WEFT_ENOTTASK);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_process_echo_exec),
      cmocka_unit_test(test_process_shell_exit_code),
      cmocka_unit_test(test_process_cat_filter),
      cmocka_unit_test(test_process_big_output_both_pipes),
      cmocka_unit_test(test_process_communicate_discards),
      cmocka_unit_test(test_process_communicate_cancelled),
      cmocka_unit_test(test_process_input_not_read),
      cmocka_unit_test(test_process_kill_sigterm),
      cmocka_unit_test(test_process_free_running_leaves_no_zombie),
      cmocka_unit_test(test_process_runtime_end_reaps),
      cmocka_unit_test(test_process_runtime_end_cancels_waits),
      cmocka_unit_test(test_process_wait_from_other_worker),
      cmocka_unit_test(test_process_wait_timeout_then_again),
      cmocka_unit_test(test_process_env_and_cwd),
      cmocka_unit_test(test_process_argument_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
