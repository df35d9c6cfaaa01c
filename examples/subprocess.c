/* The guide's subprocess section: asyncio's create_subprocess_shell,
 * create_subprocess_exec and communicate.
 *  1. run a shell command and capture its output (`ls` in a directory made
 *     for the example, so the listing is known);
 *  2. a command that fails: its stderr and its exit code;
 *  3. a filter: input on stdin, output from stdout;
 *  4. the exec form, reading stdout line by line as it comes;
 *  5. several commands at once, their outputs printed in input order
 *     whatever order they finish in. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <weft.h>

/* One command and what it gave back. */
typedef struct {
  const char* cmd;
  const char* cwd;   /* NULL: ours */
  const char* input; /* NULL: no stdin */
  weft_process_t* p;
  char* out;
  char* err;
  int status;
} run_t;

/* create_subprocess_shell(cmd, stdout=PIPE, stderr=PIPE). Never waits. */
static int start(run_t* r) {
  weft_process_opts_t opts = {.cwd = r->cwd,
                              .stdin_mode = r->input != NULL ? WEFT_STDIO_PIPE
                                                             : WEFT_STDIO_NULL,
                              .stdout_mode = WEFT_STDIO_PIPE,
                              .stderr_mode = WEFT_STDIO_PIPE};
  return weft_process_shell(r->cmd, &opts, &r->p);
}

/* stdout, stderr = await proc.communicate(input) */
static int finish(void* arg, void** result) {
  run_t* r = arg;
  (void)result;
  size_t len = r->input != NULL ? strlen(r->input) : 0;
  return weft_process_communicate(r->p, r->input, len, &r->out, NULL, &r->err,
                                  NULL, &r->status);
}

/* async def run(cmd): start, communicate, and free the process. */
static int run(run_t* r) {
  int err = start(r);
  if (err != 0)
    return err;
  err = finish(r, NULL);
  weft_process_free(r->p);
  return err;
}

static void report(run_t* r) {
  printf("[%s exited with %d]\n", r->cmd, r->status);
  if (r->out != NULL && r->out[0] != '\0')
    printf("[stdout]\n%s", r->out);
  if (r->err != NULL && r->err[0] != '\0')
    printf("[stderr]\n%s", r->err);
  free(r->out);
  free(r->err);
  r->out = r->err = NULL;
}

static int run_and_report(run_t* r) {
  int err = run(r);
  if (err == 0)
    report(r);
  return err;
}

/* ---- 4. exec, line by line ------------------------------------------- */

static int exec_lines(void) {
  char* argv[] = {"printf", "%s\\n", "alpha", "beta", "gamma", NULL};
  weft_process_opts_t opts = {.stdout_mode = WEFT_STDIO_PIPE};
  weft_process_t* p;
  char line[128];
  int status;
  int err = weft_process_exec(argv, &opts, &p);
  if (err != 0)
    return err;
  ptrdiff_t n;
  while ((n = weft_stream_readline(weft_process_stdout(p), line,
                                   sizeof(line) - 1)) > 0) {
    line[n - 1] = '\0'; /* the newline */
    printf("line: %s\n", line);
  }
  err = n < 0 ? (int)n : weft_process_wait(p, &status);
  if (err == 0)
    printf("[printf exited with %d]\n", status);
  weft_process_free(p);
  return err;
}

/* ---- 5. asyncio.gather(*(p.communicate() for p in procs)) ---------- */

/* Spawning never waits: start every command, then communicate with each
 * in a task of its own. */
static int concurrently(void) {
  /* The first finishes last, the last first. */
  run_t runs[3] = {{.cmd = "sleep 0.3; echo first"},
                   {.cmd = "sleep 0.2; echo second"},
                   {.cmd = "echo third; exit 1"}};
  weft_task_t* tasks[3];
  int statuses[3];
  size_t started = 0, spawned = 0;
  int err = 0;
  while (started < 3 && (err = start(&runs[started])) == 0)
    started++;
  while (err == 0 && spawned < started &&
         (err = weft_spawn(NULL, finish, &runs[spawned], NULL,
                           &tasks[spawned])) == 0)
    spawned++;
  int gerr = weft_gather(tasks, spawned, WEFT_GATHER_COLLECT, NULL, statuses);
  for (size_t i = 0; i < started; i++) {
    if (i < spawned)
      weft_task_release(tasks[i]);
    if (err == 0 && gerr == 0 && statuses[i] == 0)
      report(&runs[i]);
    free(runs[i].out);
    free(runs[i].err);
    weft_process_free(runs[i].p);
  }
  if (err == 0)
    err = gerr;
  for (size_t i = 0; i < spawned && err == 0; i++)
    err = statuses[i];
  return err;
}

static int main_task(void* arg, void** result) {
  const char* dir = arg;
  (void)result;
  run_t ls = {.cmd = "ls", .cwd = dir};
  run_t fails = {.cmd = "echo 'no such thing' >&2; exit 3"};
  run_t filter = {.cmd = "tr a-z A-Z", .input = "hello, subprocess\n"};
  int err;
  printf("-- capture output\n");
  if ((err = run_and_report(&ls)) != 0)
    return err;
  printf("-- a command that fails\n");
  if ((err = run_and_report(&fails)) != 0)
    return err;
  printf("-- a filter\n");
  if ((err = run_and_report(&filter)) != 0)
    return err;
  printf("-- exec, line by line\n");
  if ((err = exec_lines()) != 0)
    return err;
  printf("-- several at once, reported in order\n");
  return concurrently();
}

/* A directory holding a.txt and b.txt for `ls` to list. */
static int make_dir(char* dir, char* a, char* b, size_t cap) {
  if (mkdtemp(dir) == NULL)
    return -1;
  snprintf(a, cap, "%s/a.txt", dir);
  snprintf(b, cap, "%s/b.txt", dir);
  FILE* f = fopen(a, "w");
  FILE* g = fopen(b, "w");
  if (f != NULL)
    fclose(f);
  if (g != NULL)
    fclose(g);
  return f != NULL && g != NULL ? 0 : -1;
}

int main(void) {
  char dir[] = "/tmp/weft-subprocess-XXXXXX";
  char a[64] = "", b[64] = "";
  int err = make_dir(dir, a, b, sizeof(a));
  if (err == 0)
    err = weft_run(main_task, dir, NULL, NULL);
  else
    fprintf(stderr, "subprocess: cannot make a directory\n");
  unlink(a);
  unlink(b);
  rmdir(dir);
  if (err != 0)
    fprintf(stderr, "subprocess: %s\n", weft_strerror(err));
  return err != 0;
}
