/* The runtime: creation, weft_run, and the shutdown protocol.
 *
 * Shutdown (weft_runtime_free), in order:
 *  1. `closing` is set: spawns fail with WEFT_ECLOSED, tasks that have not
 *     started are finished with WEFT_ECANCELED when a worker takes them,
 *     and every await returns WEFT_ECANCELED from now on.
 *  2. Every live task is cancelled, which wakes sleepers and forwards
 *     through joins.
 *  3. Each worker is sent check_msg; a worker finishing a task while
 *     closing checks too. A check (weft__runtime_check_done) does a seq_cst
 *     RMW on one shared word, then compares finished with spawned counts:
 *     the RMW chain makes the last of two concurrent checks see both
 *     workers' last finishes, and reading
 *     `finished` (acquire) before `spawned` means a task counted finished
 *     has its own spawns counted too, so "all finished" is never seen early.
 *  4. When the counts match, the waiting thread is signalled; it posts
 *     stop_msg to every worker, joins them and frees everything.
 */
#include <dirent.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/common.h"
#include "base/opts.h"
#include "core/blocking.h"
#include "core/worker.h"
#include "debug/debug.h"
#include "debug/det.h"
#include "io/fs.h"
#include "io/io.h"

#define WEFT_DEFAULT_STACK (256u * 1024u)
#define WEFT_MAX_STACK ((size_t)1 << 30)
#define WEFT_MIN_STACK ((size_t)16 * 1024)
#define WEFT_MAX_WORKERS 1024u

static unsigned cpu_count(void) {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0)
      return (unsigned)n;
  }
  return 1;
}

/* Threads in the process now, from /proc; 0 when it cannot be read. */
static unsigned process_threads(void) {
  DIR* d = opendir("/proc/self/task");
  unsigned n = 0;
  struct dirent* e;
  if (d == NULL)
    return 0;
  while ((e = readdir(d)) != NULL)
    if (e->d_name[0] != '.')
      n++;
  closedir(d);
  return n;
}

/* The process-wide effects of a new runtime, as `flags` allows them (weft.h,
 * WEFT_CONFIG_ENV): the fault handler, SIGPIPE, libuv's pool size. The
 * environment is written only while this thread is the process's one
 * thread: setenv racing a getenv elsewhere is undefined behaviour. */
static void touch_process(weft_runtime_t* rt, unsigned flags, unsigned n) {
  if (!(flags & WEFT_CONFIG_NO_FAULT_HANDLER)) {
    weft__overflow_install();
    rt->fault_handler = 1;
  }
  if (!(flags & WEFT_CONFIG_NO_SETENV) && process_threads() == 1)
    weft__fs_pool_init(n); /* before any fs request: libuv sizes it once */
  if (!(flags & WEFT_CONFIG_KEEP_SIGPIPE))
    weft__io_ignore_sigpipe();
}

/* WEFT_STACK_GUARD (madvise, mprotect, canary): a stack guard to prefer,
 * for testing the fallbacks; anything else is the default. */
static int env_guard_mode(void) {
  const char* e = getenv("WEFT_STACK_GUARD");
  if (e != NULL && strcmp(e, "mprotect") == 0)
    return WEFT_GUARD_MPROTECT;
  if (e != NULL && strcmp(e, "canary") == 0)
    return WEFT_GUARD_CANARY;
  return WEFT_GUARD_MADVISE;
}

static void runtime_destroy(weft_runtime_t* rt) {
  weft__dump_signal_stop(rt);
  weft__debug_stop(rt);
  if (rt->blocking != NULL)
    weft__blocking_free(rt->blocking, -1);
  for (unsigned i = 0; i < rt->nworkers; i++)
    if (rt->workers[i] != NULL)
      weft__worker_join(rt->workers[i]);
  for (unsigned i = 0; i < rt->nworkers; i++)
    if (rt->workers[i] != NULL)
      weft__worker_free(rt->workers[i]);
  free(rt->workers);
  weft__det_free(rt->det);
  weft__slabs_term(rt);
  weft__stacks_term(&rt->stacks);
  if (rt->fault_handler)
    weft__overflow_uninstall(); /* its threads are gone */
  weft__idle_term(&rt->idle);
  weft__inject_term(&rt->global);
  pthread_mutex_destroy(&rt->slab_lock);
  pthread_mutex_destroy(&rt->done_lock);
  pthread_cond_destroy(&rt->done_cv);
  free(rt);
}

static int runtime_alloc(unsigned n, size_t stack, weft_runtime_t** out) {
  weft_runtime_t* rt = weft__calloc(1, sizeof(*rt));
  if (rt == NULL)
    return WEFT_ENOMEM;
  rt->nworkers = n;
  rt->stack_size = stack;
  atomic_init(&rt->next_id, 1);
  pthread_mutex_init(&rt->slab_lock, NULL);
  pthread_mutex_init(&rt->done_lock, NULL);
  pthread_cond_init(&rt->done_cv, NULL);
  rt->workers = weft__calloc(n, sizeof(*rt->workers));
  if (rt->workers == NULL || weft__inject_init(&rt->global) != 0)
    goto error1;
  if (weft__idle_init(&rt->idle, n) != 0)
    goto error2;
  if (weft__stacks_init(&rt->stacks, stack) != 0)
    goto error3;
  *out = rt;
  return 0;
error3:
  weft__idle_term(&rt->idle);
error2:
  weft__inject_term(&rt->global);
error1:
  pthread_cond_destroy(&rt->done_cv);
  pthread_mutex_destroy(&rt->done_lock);
  pthread_mutex_destroy(&rt->slab_lock);
  free(rt->workers);
  free(rt);
  return WEFT_ENOMEM;
}

/* Plugs the optional layers into the core's hooks (core/hooks.h), before
 * any worker exists: the one place that knows them all. */
static void plug_layers(weft_runtime_t* rt) {
  if (rt->det != NULL)
    weft__det_hooks(&rt->hooks);
  if (rt->debug)
    weft__debug_hooks(&rt->hooks);
  rt->hooks.close_io = weft__io_close_all;
}

int weft_runtime_new(const weft_config_t* config, weft_runtime_t** out) {
  weft_runtime_t* rt;
  weft_config_t copy;
  if (out == NULL || WEFT__OPTS_READ(&copy, config, flags) != 0)
    return WEFT_EINVAL;
  config = config != NULL ? &copy : NULL;
  unsigned flags = config != NULL ? config->flags : 0;
  int env = (flags & WEFT_CONFIG_ENV) != 0;
  if (flags & ~(WEFT_CONFIG_ENV | WEFT_CONFIG_NO_FAULT_HANDLER |
                WEFT_CONFIG_KEEP_SIGPIPE | WEFT_CONFIG_NO_SETENV))
    return WEFT_EINVAL;
  unsigned n =
      config != NULL && config->workers != 0 ? config->workers : cpu_count();
  size_t stack = config != NULL && config->stack_size != 0 ? config->stack_size
                                                           : WEFT_DEFAULT_STACK;
  if (n > WEFT_MAX_WORKERS || stack > WEFT_MAX_STACK)
    return WEFT_EINVAL;
  uint64_t seed = weft__det_seed(config, env);
  if (seed != 0)
    n = 1; /* the mode's order is one worker's */
  if (stack < WEFT_MIN_STACK) {
    weft__log(WEFT_LOG_WARN,
              "stack_size %zu is below the minimum; using %zu bytes", stack,
              (size_t)WEFT_MIN_STACK);
    stack = WEFT_MIN_STACK;
  }
  int err = runtime_alloc(n, stack, &rt);
  if (err != 0)
    return err;
  if (env) /* before the first stack is handed out */
    rt->stacks.guard_mode = env_guard_mode();
  if (seed != 0 && (rt->det = weft__det_new(seed)) == NULL) {
    runtime_destroy(rt);
    return WEFT_ENOMEM;
  }
  rt->debug = (config != NULL && config->debug) || (env && weft__debug_env());
  rt->slow_task_ms = config != NULL ? config->slow_task_ms : 0;
  plug_layers(rt);
  touch_process(rt, flags, n);
  err = weft__blocking_new(config != NULL ? config->blocking_max_threads : 0,
                           config != NULL ? config->blocking_keepalive_ms : 0,
                           &rt->blocking);
  if (err != 0) {
    runtime_destroy(rt);
    return err;
  }
  for (unsigned i = 0; i < n; i++) {
    if (weft__worker_create(rt, i, &rt->workers[i]) != 0) {
      runtime_destroy(rt);
      return WEFT_ENOMEM;
    }
  }
  for (unsigned i = 0; i < n; i++) {
    if (weft__worker_start(rt->workers[i]) != 0) {
      /* Stop the ones already running; the rest were never started. */
      for (unsigned j = 0; j < i; j++)
        weft__inbox_post(rt->workers[j], &rt->workers[j]->stop_msg);
      runtime_destroy(rt);
      return WEFT_ENOMEM;
    }
  }
  if (rt->debug && weft__debug_start(rt) != 0) {
    weft_runtime_free(rt);
    return WEFT_ENOMEM;
  }
  if (config != NULL && config->dump_signal != 0 &&
      (err = weft__dump_signal_start(rt, config->dump_signal)) != 0) {
    weft_runtime_free(rt);
    return err;
  }
  *out = rt;
  return 0;
}

static int cancel_one(weft_task_t* t, void* arg) {
  (void)arg;
  weft_cancel(t);
  return 0;
}

int weft_runtime_free(weft_runtime_t* rt) {
  return weft_runtime_shutdown(rt, -1);
}

int weft_runtime_shutdown(weft_runtime_t* rt, int64_t blocking_grace_ms) {
  if (rt == NULL)
    return 0;
  /* Hooked executor calls (deterministic mode) name the runtime: never
   * leave them running past it. */
  if (rt->hooks.call_begin != NULL)
    blocking_grace_ms = -1;
  if (weft__worker_self() != NULL || weft__blocking_on_executor(rt->blocking))
    return WEFT_EPERM;
  /* seq_cst: ordered before the task scan and the checks (file comment). */
  atomic_store_explicit(&rt->closing, 1, memory_order_seq_cst);
  if (rt->debug)
    weft__debug_report_alive(rt);
  weft__slabs_visit(rt, cancel_one, NULL);
  for (unsigned i = 0; i < rt->nworkers; i++)
    weft__inbox_post(rt->workers[i], &rt->workers[i]->check_msg);
  weft__runtime_check_done(rt);
  pthread_mutex_lock(&rt->done_lock);
  while (!rt->all_done)
    pthread_cond_wait(&rt->done_cv, &rt->done_lock);
  pthread_mutex_unlock(&rt->done_lock);
  /* Every task is done, so no task awaits a blocking call any more; calls
   * still running finish, and their futures go with their last reference. */
  int left = weft__blocking_free(rt->blocking, blocking_grace_ms);
  rt->blocking = NULL;
  weft__dump_signal_stop(rt);
  weft__debug_stop(rt);
  for (unsigned i = 0; i < rt->nworkers; i++)
    weft__inbox_post(rt->workers[i], &rt->workers[i]->stop_msg);
  runtime_destroy(rt);
  return left;
}

unsigned weft_runtime_workers(const weft_runtime_t* rt) {
  return rt != NULL ? rt->nworkers : 0;
}

uint64_t weft_runtime_seed(const weft_runtime_t* rt) {
  return rt != NULL ? weft__det_seed_of(rt->det) : 0;
}

int weft_run(weft_task_fn main, void* arg, const weft_config_t* config,
             void** result) {
  weft_runtime_t* rt;
  weft_task_t* t;
  weft_spawn_opts_t opts = {.name = "main", .stack_size = 0};
  if (main == NULL)
    return WEFT_EINVAL;
  if (weft__worker_self() != NULL)
    return WEFT_EPERM;
  int err = weft_runtime_new(config, &rt);
  if (err != 0)
    return err;
  err = weft_spawn(rt, main, arg, &opts, &t);
  if (err != 0) {
    weft_runtime_free(rt);
    return err;
  }
  int status = weft_await(t, result);
  weft_task_release(t);
  weft_runtime_free(rt);
  return status;
}
