/* Subprocesses (asyncio's create_subprocess_exec / _shell, Process and
 * communicate) over uv_spawn.
 *
 * DESIGN
 * A process lives on the worker whose task spawned it: its uv_process_t is
 * on that worker's loop, and so are its pipes, which are ordinary weft
 * streams (stream.c). Every call enters home's loop first
 * (weft__io_enter), so all fields are touched under home's driver only, except
 * `pid`, which is read-only after the spawn.
 *
 * Pipes. We make each pipe ourselves (uv_socketpair, as libuv's own
 * UV_CREATE_PIPE does, so a half-close of stdin works) and give the child
 * its end as UV_INHERIT_FD; our end is opened as a stream before the spawn.
 * So a failed spawn leaves only streams to abort and fds to close, and the
 * child never sees our ends (they are close-on-exec). Each stream's slot is
 * its entry in pipes[]: stream.c clears it when the stream is freed, which
 * is how we learn that the user closed stdin.
 *
 * Exit. libuv reaps the child (waitpid on SIGCHLD) and calls on_exit,
 * which records the status (the exit code, or minus the signal) and wakes
 * every task in weft_process_wait: several tasks may wait at once, each
 * with its own op on `waiters`. A cancelled wait takes its op off the list
 * (cancel_wait), so the process can be waited for again. The status stays
 * until the process is freed.
 *
 * A SIGCHLD can reach libuv late: under TSan, a signal that lands on a
 * worker while a task's fiber runs is deferred until that fiber runs
 * again, and when that fiber is the one waiting for the exit, never. So,
 * while a task waits, a timer on home looks every kExitPollMs whether the
 * child is a zombie (waitid with WNOWAIT, which does not reap it) and if
 * so sends its own thread a SIGCHLD, outside any fiber. libuv stays the
 * only one to reap: reaping behind its back would leave it a pid to
 * waitpid that may later be another process's.
 *
 * Freeing. weft_process_free kills a child still running (SIGKILL) and
 * waits for on_exit, so no zombie is left; that wait ignores cancellation
 * (it cannot last: SIGKILL cannot be caught), and a cancellation that
 * comes meanwhile stays pending for the task's next await. Then it aborts
 * the pipes the user did not close (free discards: a grandchild holding a
 * pipe must not make it hang) and closes the handle; the close callback
 * frees the memory. At runtime end (process_shutdown, on the thread that
 * frees the runtime, with no task left) the same happens without tasks: a
 * running child is killed and reaped with a blocking waitpid, which SIGKILL
 * makes short; the streams are closed by their own shutdown.
 *
 * communicate feeds stdin, and reads stdout and stderr to their ends, at
 * the same time: each but the last of these jobs runs in a helper task,
 * the last one in the caller. A child that fills one pipe while we wait on
 * another therefore never blocks us both (test_process's big-output test
 * writes megabytes to each). The helpers work on the caller's stack, so
 * the caller never returns before they end, not even in a runtime that
 * shuts down, where weft_await gives up at once: each helper's task
 * future has a callback that posts a message to home, and the caller
 * waits (weft__io_wait) until home has heard from all of them. A helper
 * cancelled before it started never runs its function, but its future
 * still completes, so it is counted all the same. A cancellation of the
 * caller cancels the helpers and the wait goes on until they end.
 *
 * SIGPIPE: the runtime ignores it (weft__io_ignore_sigpipe), so writing
 * to a pipe whose reader has gone fails with UV_EPIPE. communicate ignores
 * UV_EPIPE and UV_ECONNRESET on stdin, as asyncio does: a child may exit
 * without reading all its input.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/common.h"
#include "base/opts.h"
#include "io/io.h"
#include "io/stream.h"
#include "core/worker.h"

enum { STDIN_I = 0, STDOUT_I = 1, STDERR_I = 2, NSTDIO = 3 };

/* While a task waits for the exit, how often we look whether the child
 * has exited without libuv hearing of it (see DESIGN). */
enum { kExitPollMs = 100 };
struct weft_process_s {
  uv_process_t handle;  /* handle.data == this */
  uv_timer_t exit_poll; /* exit_poll.data == this */
  weft__io_obj_t obj;   /* on home's list from spawn to close */
  weft__worker_t* home; /* read-only after spawn */
  int pid;              /* read-only after spawn: any thread */
  /* Home's thread only, from here down. */
  weft_stream_t* pipes[NSTDIO]; /* NULL: not piped, or closed */
  int exited;
  int status;             /* exit code, or -signal (asyncio), once exited */
  weft__io_op_t* waiters; /* tasks awaiting the exit */
  int open_handles;       /* the last close callback frees */
};

/* ---- Exit ------------------------------------------------------------ */

static void on_exit_cb(uv_process_t* h, int64_t code, int signum) {
  weft_process_t* p = h->data;
  p->exited = 1;
  p->status = signum != 0 ? -signum : (int)code;
  uv_timer_stop(&p->exit_poll);
  while (p->waiters != NULL) {
    weft__io_op_t* op = p->waiters;
    p->waiters = op->next;
    weft__io_done(op, 0);
  }
}

/* The child has exited (it is a zombie: nobody reaped it) but libuv has
 * not heard: send this thread, which runs no task now, a SIGCHLD. libuv's
 * handler then has the loop reap it and call on_exit_cb. */
static void on_exit_poll(uv_timer_t* t) {
  weft_process_t* p = t->data;
  siginfo_t info;
  memset(&info, 0, sizeof(info));
  if (waitid(P_PID, (id_t)p->pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
      info.si_pid == p->pid)
    pthread_kill(pthread_self(), SIGCHLD);
}

/* A cancelled wait leaves the list; the exit may still come for others. */
static void cancel_wait(weft__io_op_t* op) {
  weft_process_t* p = op->data;
  for (weft__io_op_t** pp = &p->waiters; *pp != NULL; pp = &(*pp)->next) {
    if (*pp == op) {
      *pp = op->next;
      if (p->waiters == NULL)
        uv_timer_stop(&p->exit_poll);
      weft__io_done(op, UV_ECANCELED);
      return;
    }
  }
}

/* Waits (on home) until on_exit_cb ran; `cancel` NULL makes the wait
 * deaf to cancellation. Returns on home. */
static int await_exit(weft_process_t* p, void (*cancel)(weft__io_op_t*)) {
  weft__io_op_t op;
  weft__io_op_init(&op, cancel, p);
  op.next = p->waiters;
  p->waiters = &op;
  if (!uv_is_active((uv_handle_t*)&p->exit_poll))
    uv_timer_start(&p->exit_poll, on_exit_poll, kExitPollMs, kExitPollMs);
  int err = weft__io_wait(&op);
  weft__io_enter(p->home);
  return err;
}

static void on_close_free(uv_handle_t* h) {
  weft_process_t* p = h->data;
  if (--p->open_handles == 0)
    free(p);
}

/* Closes both handles; the last close callback frees p. */
static void close_process(weft_process_t* p) {
  uv_close((uv_handle_t*)&p->handle, on_close_free);
  uv_close((uv_handle_t*)&p->exit_poll, on_close_free);
}

/* ---- Spawning -------------------------------------------------------- */

/* What a spawn makes before it knows whether the child starts. */
typedef struct {
  weft_stream_t* streams[NSTDIO];
  int opened[NSTDIO];         /* the stream's handle is initialised */
  uv_os_sock_t child[NSTDIO]; /* the child's ends; -1: none */
  uv_stdio_container_t stdio[NSTDIO];
} spawn_pipes_t;

static int valid_mode(int mode) {
  return mode == WEFT_STDIO_INHERIT || mode == WEFT_STDIO_PIPE ||
         mode == WEFT_STDIO_NULL;
}

/* One pipe: a socket pair, our end opened as a stream on w's loop. */
static int make_pipe(weft__worker_t* w, spawn_pipes_t* sp, int i) {
  uv_os_sock_t fds[2];
  sp->streams[i] = weft__stream_alloc(w, WEFT__STREAM_PIPE);
  if (sp->streams[i] == NULL)
    return WEFT_ENOMEM;
  int err = uv_socketpair(SOCK_STREAM, 0, fds, 0, 0);
  if (err != 0)
    return err;
  sp->child[i] = fds[1];
  uv_pipe_t* h = (uv_pipe_t*)weft__stream_handle(sp->streams[i]);
  uv_pipe_init(&w->loop, h, 0); /* cannot fail */
  sp->opened[i] = 1;
  err = uv_pipe_open(h, fds[0]);
  if (err != 0)
    close(fds[0]); /* the handle stays fd-less; aborting it is enough */
  sp->stdio[i].flags = UV_INHERIT_FD;
  sp->stdio[i].data.fd = fds[1];
  return err;
}

static int make_pipes(weft__worker_t* w, const int modes[NSTDIO],
                      spawn_pipes_t* sp) {
  memset(sp, 0, sizeof(*sp));
  for (int i = 0; i < NSTDIO; i++) {
    sp->child[i] = -1;
    if (modes[i] == WEFT_STDIO_INHERIT) {
      sp->stdio[i].flags = UV_INHERIT_FD;
      sp->stdio[i].data.fd = i;
    } else {
      sp->stdio[i].flags = UV_IGNORE; /* libuv opens /dev/null */
    }
  }
  for (int i = 0; i < NSTDIO; i++) {
    if (modes[i] == WEFT_STDIO_PIPE) {
      int err = make_pipe(w, sp, i);
      if (err != 0)
        return err;
    }
  }
  return 0;
}

/* The child's ends, once the child has its copies (or never will). */
static void close_child_ends(spawn_pipes_t* sp) {
  for (int i = 0; i < NSTDIO; i++)
    if (sp->child[i] >= 0)
      close(sp->child[i]);
}

/* After a failure: frees the streams. From a task on their worker. */
static void drop_pipes(spawn_pipes_t* sp) {
  for (int i = 0; i < NSTDIO; i++) {
    if (sp->streams[i] == NULL)
      continue;
    if (sp->opened[i]) {
      weft__stream_attach(sp->streams[i]); /* so it can be closed */
      weft__stream_destroy(sp->streams[i]);
    } else {
      weft__stream_discard(sp->streams[i]);
    }
  }
}

static void shutdown_process(weft__io_obj_t* obj);

/* Debug mode's shutdown report. */
static void process_describe(weft__io_obj_t* obj, char* buf, size_t n) {
  weft_process_t* p = weft__container_of(obj, weft_process_t, obj);
  snprintf(buf, n, "(pid %d)", p->pid);
}

/* The process is running: hand it its pipes and put it on home's list. */
static void adopt(weft_process_t* p, spawn_pipes_t* sp) {
  for (int i = 0; i < NSTDIO; i++) {
    if (sp->streams[i] == NULL)
      continue;
    weft__stream_attach(sp->streams[i]);
    p->pipes[i] = sp->streams[i];
    weft__stream_set_slot(sp->streams[i], &p->pipes[i]);
  }
  weft__io_obj_add_named(p->home, &p->obj, shutdown_process, "process",
                         process_describe);
}

static int spawn(weft__worker_t* w, const char* file, char* const args[],
                 const weft_process_opts_t* opts, weft_process_t** out) {
  static const weft_process_opts_t inherit;
  if (opts == NULL)
    opts = &inherit;
  int modes[NSTDIO] = {opts->stdin_mode, opts->stdout_mode, opts->stderr_mode};
  for (int i = 0; i < NSTDIO; i++)
    if (!valid_mode(modes[i]))
      return WEFT_EINVAL;
  weft_process_t* p = weft__calloc(1, sizeof(*p));
  if (p == NULL)
    return WEFT_ENOMEM;
  p->home = w;
  spawn_pipes_t sp;
  int err = make_pipes(w, modes, &sp);
  if (err != 0) {
    close_child_ends(&sp);
    drop_pipes(&sp);
    free(p);
    return err;
  }
  uv_process_options_t o = {
      .exit_cb = on_exit_cb,
      .file = file,
      .args = (char**)args,
      .env = opts->env,
      .cwd = opts->cwd,
      .stdio_count = NSTDIO,
      .stdio = sp.stdio,
  };
  p->handle.data = p;
  p->exit_poll.data = p;
  p->open_handles = 2;
  uv_timer_init(&w->loop, &p->exit_poll); /* cannot fail */
  err = uv_spawn(&w->loop, &p->handle, &o);
  close_child_ends(&sp);
  if (err != 0) {
    /* uv_spawn initialised the handle even so: close it to free p. */
    close_process(p);
    drop_pipes(&sp);
    return err;
  }
  p->pid = p->handle.pid;
  adopt(p, &sp);
  *out = p;
  return 0;
}

/* The checks every spawn makes, then the spawn on the caller's worker. */
static int spawn_checked(const char* file, char* const args[],
                         const weft_process_opts_t* opts,
                         weft_process_t** out) {
  int err;
  weft__worker_t* w = weft__io_task_worker(&err);
  if (w == NULL)
    return err;
  weft_process_opts_t copy; /* the caller's, as this version reads it */
  if (WEFT__OPTS_READ(&copy, opts, stderr_mode) != 0)
    return WEFT_EINVAL;
  return spawn(w, file, args, opts != NULL ? &copy : NULL, out);
}

int weft_process_exec(char* const argv[], const weft_process_opts_t* opts,
                      weft_process_t** out) {
  if (out == NULL)
    return WEFT_EINVAL;
  *out = NULL;
  if (argv == NULL || argv[0] == NULL)
    return WEFT_EINVAL;
  return spawn_checked(argv[0], argv, opts, out);
}

int weft_process_shell(const char* cmd, const weft_process_opts_t* opts,
                       weft_process_t** out) {
  if (out == NULL)
    return WEFT_EINVAL;
  *out = NULL;
  if (cmd == NULL)
    return WEFT_EINVAL;
  char* const args[] = {"/bin/sh", "-c", (char*)cmd, NULL};
  return spawn_checked(args[0], args, opts, out);
}

/* ---- Accessors, wait, kill ------------------------------------------- */

/* The getters read home's fields from wherever the task is: they are set
 * before the process is handed out, and change only when a stream is
 * closed, which the same program orders before or after the call. */
weft_stream_t* weft_process_stdin(weft_process_t* p) {
  return p != NULL ? p->pipes[STDIN_I] : NULL;
}

weft_stream_t* weft_process_stdout(weft_process_t* p) {
  return p != NULL ? p->pipes[STDOUT_I] : NULL;
}

weft_stream_t* weft_process_stderr(weft_process_t* p) {
  return p != NULL ? p->pipes[STDERR_I] : NULL;
}

int weft_process_pid(const weft_process_t* p) {
  return p != NULL ? p->pid : WEFT_EINVAL;
}

/* Moves the calling task to p's worker; an error if it cannot. */
static int enter(weft_process_t* p) {
  int err;
  if (weft__io_task_worker(&err) == NULL)
    return err;
  if (p == NULL)
    return WEFT_EINVAL;
  weft__io_enter(p->home);
  return 0;
}

int weft_process_wait(weft_process_t* p, int* exit_status) {
  int err = enter(p);
  if (err != 0)
    return err;
  if (!p->exited) {
    if ((err = weft__io_check_cancel()) != 0)
      return err;
    if ((err = await_exit(p, cancel_wait)) != 0)
      return err;
  }
  if (exit_status != NULL)
    *exit_status = p->status;
  return 0;
}

int weft_process_kill(weft_process_t* p, int signum) {
  int err = enter(p);
  if (err != 0)
    return err;
  /* Once reaped, the pid may belong to someone else. */
  if (p->exited)
    return UV_ESRCH;
  return uv_process_kill(&p->handle, signum);
}

/* ---- communicate ----------------------------------------------------- */

enum { kDrainChunk = (64u * 1024u) };

/* One of communicate's three jobs: feed stdin, or drain stdout/stderr. */
typedef struct {
  weft_stream_t* s;
  const char* input;
  size_t input_len;
  int keep;  /* drain: the caller wants the bytes */
  char* buf; /* drain: what was read, NUL-terminated */
  size_t len;
  size_t cap;
} pipe_job_t;

static int feed(void* arg, void** result) {
  pipe_job_t* j = arg;
  (void)result;
  int err = 0;
  if (j->input_len > 0)
    err = weft_stream_write(j->s, j->input, j->input_len);
  int cerr = weft_stream_close(j->s); /* sends the rest, then EOF */
  if (err == 0)
    err = cerr;
  /* The child may exit without reading all its input (asyncio too). */
  if (err == UV_EPIPE || err == UV_ECONNRESET)
    err = 0;
  return err;
}

/* Room for at least kDrainChunk more bytes and a NUL; a discarding job
 * reuses its buffer from the start. */
static int drain_room(pipe_job_t* j) {
  if (!j->keep)
    j->len = 0;
  if (j->cap - j->len > kDrainChunk)
    return 0;
  size_t cap = j->cap == 0 ? kDrainChunk + 1 : j->cap * 2;
  char* buf = weft__realloc(j->buf, cap);
  if (buf == NULL)
    return WEFT_ENOMEM;
  j->buf = buf;
  j->cap = cap;
  return 0;
}

static int drain(void* arg, void** result) {
  pipe_job_t* j = arg;
  (void)result;
  for (;;) {
    int err = drain_room(j);
    if (err != 0)
      return err;
    ptrdiff_t n = weft_stream_read(j->s, j->buf + j->len, j->cap - j->len - 1);
    if (n < 0)
      return (int)n;
    if (n == 0)
      break;
    j->len += (size_t)n;
  }
  j->buf[j->len] = '\0';
  return 0;
}

typedef struct comm_s comm_t;

/* One job of communicate; all but the last run in helper tasks. */
typedef struct {
  weft_task_fn fn;
  pipe_job_t job;
  comm_t* comm;
  weft_task_t* task;   /* a helper's handle */
  weft_future_t* done; /* a helper's completion, NULL: not tracked */
  weft__msg_t msg;     /* tells home that the helper ended */
  int status;
} comm_part_t;

struct comm_s {
  weft__worker_t* home; /* the process's worker */
  comm_part_t parts[NSTDIO];
  size_t n;
  /* Home's thread only: helpers whose end home has not heard of yet, and
   * the caller waiting for them to reach 0. */
  size_t running;
  weft__io_op_t* joiner;
};

/* On home: a helper ended. The last one ends the caller's join. */
static void on_helper_msg(weft__worker_t* w, weft__msg_t* m) {
  (void)w;
  comm_part_t* c = weft__container_of(m, comm_part_t, msg);
  comm_t* cm = c->comm;
  c->status = weft_future_result(c->done, NULL);
  if (--cm->running == 0 && cm->joiner != NULL) {
    weft__io_op_t* op = cm->joiner;
    cm->joiner = NULL;
    weft__io_done(op, op->cancel_sent ? UV_ECANCELED : 0);
  }
}

/* The helper's future is done, on whatever thread ended the task (or on
 * ours, at once, if it had already ended). */
static void on_helper_done(weft_future_t* f, void* arg) {
  comm_part_t* c = arg;
  (void)f;
  weft__inbox_post(c->comm->home, &c->msg);
}

static void cancel_helpers(comm_t* cm) {
  for (size_t i = 0; i < cm->n; i++)
    if (cm->parts[i].task != NULL)
      weft_cancel(cm->parts[i].task); /* WEFT_EBUSY once done: fine */
}

static void cancel_join(weft__io_op_t* op) {
  cancel_helpers(op->data);
}

/* Awaits a helper that could not be tracked (out of memory): the plain
 * way, which a runtime shutting down cuts short. */
static void reap_untracked(comm_part_t* c) {
  weft_cancel(c->task);
  while (!weft_task_done(c->task) &&
         weft_await(c->task, NULL) == WEFT_ECANCELED &&
         !weft__runtime_closing()) {
  }
  c->status = weft_task_result(c->task, NULL);
}

/* Spawns c as a helper and has home told when it ends, however it ends
 * (a task cancelled before it starts never runs its function). On home. */
static int start_helper(comm_t* cm, comm_part_t* c) {
  c->comm = cm;
  c->msg.fn = on_helper_msg;
  int err = weft_spawn(NULL, c->fn, &c->job, NULL, &c->task);
  if (err != 0)
    return err;
  cm->running++; /* home cannot hear of its end before we await */
  if ((err = weft_task_future(c->task, &c->done)) == 0 &&
      (err = weft_future_add_callback(c->done, on_helper_done, c)) == 0)
    return 0;
  cm->running--;
  weft_future_release(c->done);
  c->done = NULL;
  reap_untracked(c);
  return err;
}

/* Waits until every tracked helper has ended. A cancellation of the
 * caller cancels them, and the wait still lasts until they end: they use
 * the caller's stack. 0 or WEFT_ECANCELED. */
static int join_helpers(comm_t* cm) {
  weft__io_enter(cm->home);
  if (cm->running == 0)
    return 0;
  weft__io_op_t op;
  weft__io_op_init(&op, cancel_join, cm);
  cm->joiner = &op;
  return weft__io_wait(&op);
}

/* Runs the parts at the same time and waits for all of them. Returns a
 * spawn's error, else WEFT_ECANCELED if the caller was cancelled, else
 * the first part's error in part order. */
static int run_parts(comm_t* cm) {
  int err = 0;
  comm_part_t* own = &cm->parts[cm->n - 1];
  for (size_t i = 0; i + 1 < cm->n && err == 0; i++)
    err = start_helper(cm, &cm->parts[i]);
  if (err == 0)
    own->status = own->fn(&own->job, NULL);
  if (err != 0 || own->status != 0)
    cancel_helpers(cm);
  int jerr = join_helpers(cm);
  for (size_t i = 0; i < cm->n; i++) {
    weft_future_release(cm->parts[i].done);
    weft_task_release(cm->parts[i].task);
  }
  if (err != 0)
    return err;
  if (own->status == WEFT_ECANCELED || jerr != 0)
    return WEFT_ECANCELED;
  for (size_t i = 0; i < cm->n && err == 0; i++)
    err = cm->parts[i].status;
  return err;
}

/* Lists the jobs communicate needs; stdin's first, so that feeding runs
 * in a helper while the caller drains. On home. */
static void plan_parts(comm_t* cm, weft_process_t* p, const void* input,
                       size_t input_len, int keep_out, int keep_err) {
  memset(cm, 0, sizeof(*cm));
  cm->home = p->home;
  if (p->pipes[STDIN_I] != NULL) {
    pipe_job_t* j = &cm->parts[cm->n].job;
    cm->parts[cm->n++].fn = feed;
    j->s = p->pipes[STDIN_I];
    j->input = input;
    j->input_len = input_len;
  }
  for (int i = STDOUT_I; i <= STDERR_I; i++) {
    if (p->pipes[i] == NULL)
      continue;
    pipe_job_t* j = &cm->parts[cm->n].job;
    cm->parts[cm->n++].fn = drain;
    j->s = p->pipes[i];
    j->keep = i == STDOUT_I ? keep_out : keep_err;
  }
}

/* Hands the bytes drained from s to the caller. */
static void give(comm_t* cm, weft_stream_t* s, char** out, size_t* out_len) {
  for (size_t i = 0; i < cm->n; i++) {
    pipe_job_t* j = &cm->parts[i].job;
    if (cm->parts[i].fn != drain || j->s != s || out == NULL)
      continue;
    *out = j->buf;
    j->buf = NULL;
    if (out_len != NULL)
      *out_len = j->len;
  }
}

static void clear_outputs(char** out, size_t* out_len, char** err,
                          size_t* err_len) {
  if (out != NULL)
    *out = NULL;
  if (out_len != NULL)
    *out_len = 0;
  if (err != NULL)
    *err = NULL;
  if (err_len != NULL)
    *err_len = 0;
}

int weft_process_communicate(weft_process_t* p, const void* input,
                             size_t input_len, char** out, size_t* out_len,
                             char** err, size_t* err_len, int* exit_status) {
  clear_outputs(out, out_len, err, err_len);
  if (input == NULL && input_len > 0)
    return WEFT_EINVAL;
  int rc = enter(p);
  if (rc != 0)
    return rc;
  if (input_len > 0 && p->pipes[STDIN_I] == NULL)
    return WEFT_EINVAL;
  if ((rc = weft__io_check_cancel()) != 0)
    return rc;
  comm_t cm;
  weft_stream_t* sout = p->pipes[STDOUT_I];
  weft_stream_t* serr = p->pipes[STDERR_I];
  plan_parts(&cm, p, input, input_len, out != NULL, err != NULL);
  if (cm.n > 0)
    rc = run_parts(&cm);
  if (rc == 0)
    rc = weft_process_wait(p, exit_status);
  if (rc == 0) {
    give(&cm, sout, out, out_len);
    give(&cm, serr, err, err_len);
  }
  for (size_t i = 0; i < cm.n; i++)
    free(cm.parts[i].job.buf);
  return rc;
}

/* ---- Freeing --------------------------------------------------------- */

/* Aborts the pipes the user left open. From a task; returns on home. */
static void abort_pipes(weft_process_t* p) {
  for (int i = 0; i < NSTDIO; i++) {
    weft_stream_t* s = p->pipes[i];
    if (s == NULL)
      continue;
    /* p is freed before the stream may be: it must forget the slot. */
    weft__stream_set_slot(s, NULL);
    p->pipes[i] = NULL;
    weft_stream_abort(s);
    weft__io_enter(p->home);
  }
}

int weft_process_free(weft_process_t* p) {
  if (p == NULL)
    return 0;
  int err = enter(p);
  if (err != 0)
    return err;
  if (!p->exited) {
    uv_process_kill(&p->handle, SIGKILL); /* a zombie takes it too */
    await_exit(p, NULL);
  }
  abort_pipes(p);
  weft__io_obj_remove(p->home, &p->obj);
  close_process(p);
  return 0;
}

/* Runtime end: no task is left, the loop runs once more after this. */
static void shutdown_process(weft__io_obj_t* obj) {
  weft_process_t* p = weft__container_of(obj, weft_process_t, obj);
  for (int i = 0; i < NSTDIO; i++)
    if (p->pipes[i] != NULL)
      weft__stream_set_slot(p->pipes[i], NULL); /* they close themselves */
  if (!p->exited) {
    /* Reaped here: once closed, the handle is no longer libuv's to reap
     * (its SIGCHLD pass then gets ECHILD for it, which it skips). */
    kill(p->pid, SIGKILL);
    while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR) {
    }
  }
  close_process(p);
}
