/* weft: asyncio's programming model in C, spread over every core.
 *
 * A runtime owns N worker threads. Each worker runs its own libuv loop and a
 * queue of tasks: stackful coroutines that any function may suspend by
 * calling an awaiting function (marked "Awaits." below). Idle workers steal
 * tasks from busy ones, so a task can suspend on one worker and resume on
 * another.
 *
 * Conventions (libuv's):
 *  - Every function that can fail returns an int: 0 on success, a negative
 *    WEFT_E* code on failure. Objects come back through the last parameter.
 *  - Codes that mean what an errno means have errno's (and libuv's) value:
 *    WEFT_EINVAL == UV_EINVAL == -EINVAL.
 *  - "Any thread." means the call is safe from any thread, in or outside the
 *    runtime. "From a task only." calls return WEFT_ENOTTASK elsewhere.
 *  - Cancellation is a request, delivered once, at the task's current or next
 *    await point, as WEFT_ECANCELED (asyncio's CancelledError). A task may
 *    clean up (and await) after receiving it, then return.
 *  - Never read errno across an await: the task may resume on another
 *    thread, and glibc lets the compiler cache errno's address. weft reports
 *    every error by return value.
 *  - Process-wide effects (signal handlers, SIGPIPE, UV_THREADPOOL_SIZE) and
 *    the environment variables weft reads are all listed at WEFT_CONFIG_ENV
 *    below and in docs/environment.md; each is the config's choice.
 */
#ifndef WEFT_H_
#define WEFT_H_

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <errno.h>

#ifdef __cplusplus
extern "C" {
#endif

#define WEFT_VERSION_MAJOR 0
#define WEFT_VERSION_MINOR 1
#define WEFT_VERSION_PATCH 0

#if defined(__GNUC__)
#define WEFT_EXTERN __attribute__((visibility("default")))
#else
#define WEFT_EXTERN
#endif

/* ------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------ */

/* XX(name, value, message). Codes with an errno meaning reuse it; codes that
 * only weft has live at -5000 and below, clear of errno and of libuv's own
 * (-3000..-3014, -4094, -4095). */
#define WEFT_ERRNO_MAP(XX)                                                     \
  XX(EINVAL, -EINVAL, "invalid argument")                                      \
  XX(ENOMEM, -ENOMEM, "out of memory")                                         \
  XX(ECANCELED, -ECANCELED, "operation canceled")                              \
  XX(ETIMEDOUT, -ETIMEDOUT, "operation timed out")                             \
  XX(EAGAIN, -EAGAIN, "resource temporarily unavailable")                      \
  XX(EBUSY, -EBUSY, "resource busy")                                           \
  XX(EDEADLK, -EDEADLK, "a task cannot await itself")                          \
  XX(EPERM, -EPERM, "not allowed from this thread")                            \
  XX(ENOTTASK, -5000, "must be called from a task")                            \
  XX(ECLOSED, -5001, "runtime or object is closed")                            \
  XX(ELIMIT, -5002, "limit exceeded")                                          \
  XX(EOF, -5003, "end of stream")                                              \
  XX(ENOBUFS, -ENOBUFS, "buffer too small")                                    \
  XX(EPROTO, -EPROTO, "protocol error")                                        \
  XX(ENOTSUP, -ENOTSUP, "operation not supported")                             \
  XX(ETLS, -5004, "TLS error")                                                 \
  XX(ECERT, -5005, "TLS certificate verification failed")                      \
  XX(ETRUNCATED, -5006, "connection closed without TLS close_notify")

typedef enum {
#define WEFT_XX_(name, value, msg) WEFT_##name = (value),
  WEFT_ERRNO_MAP(WEFT_XX_)
#undef WEFT_XX_
      WEFT_ERRNO_MAX_ = -6000
} weft_errno_t;

/* A message for an error code (WEFT_* or UV_*). Never NULL. Any thread.
 * For a code neither weft nor libuv knows, the text is in a per-thread
 * buffer that the thread's next call overwrites. */
WEFT_EXTERN const char* weft_strerror(int err);

/* The code's name without the prefix, such as "ECANCELED" (same buffer rule
 * as weft_strerror for unknown codes). Any thread. */
WEFT_EXTERN const char* weft_err_name(int err);

/* The library's version as "MAJOR.MINOR.PATCH". Any thread. */
WEFT_EXTERN const char* weft_version(void);

/* ------------------------------------------------------------------------
 * Runtime
 * ------------------------------------------------------------------------ */

typedef struct weft_runtime_s weft_runtime_t;
typedef struct weft_task_s weft_task_t;

/* A task's body. `arg` is what weft_spawn got. Store the task's result in
 * *result and return 0, or return a negative code: that is the task's
 * status, which weft_await() returns (an exception, in asyncio's terms). */
typedef int (*weft_task_fn)(void* arg, void** result);

/* Option structs can grow (weft_config_t, weft_spawn_opts_t,
 * weft_server_config_t, weft_process_opts_t, weft_http_client_config_t,
 * weft_http_server_config_t). Each starts with `size`, which says which
 * version of the struct the program was compiled against:
 *  - 0 means the 0.1 layout: a zeroed struct, or one set up with
 *    designated initializers that leave `size` out, keeps working; fields
 *    added after 0.1 are not read from it and take their defaults.
 *  - Otherwise sizeof the struct as the program sees it: the WEFT_*_INIT
 *    macros below set it, as does {.size = sizeof(weft_config_t), ...}.
 *    Set it when you use a field added after 0.1.
 * A size past what this library knows (a program built against a newer
 * header) is accepted when every byte this library does not know is zero;
 * otherwise the call returns WEFT_EINVAL, as an option it cannot honour. A
 * size below the 0.1 layout's is WEFT_EINVAL too. Never build these
 * structs with positional initializers ({4, 0, ...}): `size` comes first.
 * (Result structs that weft fills, such as weft_metrics_t, are not
 * covered: rebuild code that allocates them when they grow.) */
#define WEFT_CONFIG_INIT                                                       \
  { .size = sizeof(weft_config_t) }
#define WEFT_SPAWN_OPTS_INIT                                                   \
  { .size = sizeof(weft_spawn_opts_t) }
#define WEFT_SERVER_CONFIG_INIT                                                \
  { .size = sizeof(weft_server_config_t) }
#define WEFT_PROCESS_OPTS_INIT                                                 \
  { .size = sizeof(weft_process_opts_t) }
#define WEFT_HTTP_CLIENT_CONFIG_INIT                                           \
  { .size = sizeof(weft_http_client_config_t) }
#define WEFT_HTTP_SERVER_CONFIG_INIT                                           \
  { .size = sizeof(weft_http_server_config_t) }

/* Runtime configuration. A zeroed struct (or NULL) means the defaults. */
typedef struct weft_config_s {
  /* sizeof(weft_config_t), or 0 for the 0.1 layout (see above). */
  size_t size;
  /* Worker threads; 0 means one per CPU the process may run on. */
  unsigned workers;
  /* Bytes of stack per task, rounded up to pages; 0 means 256 KiB. Less
   * than 16 KiB is raised to 16 KiB, with a warning (weft_set_log). Stacks
   * are reserved, not committed: a task costs the pages it touches. */
  size_t stack_size;
  /* Most threads the blocking-call executor starts; 0 means 512. */
  unsigned blocking_max_threads;
  /* How long an idle executor thread waits for work before it leaves, in
   * milliseconds; 0 means 10000. */
  unsigned blocking_keepalive_ms;
  /* Debug mode (see "Debugging"); with WEFT_CONFIG_ENV in `flags`, also on
   * when the environment variable WEFT_DEBUG is set to anything but "0".
   * Nonzero: on. To print a slow
   * task's backtrace, debug mode interrupts the stalled worker's thread
   * once with the realtime signal SIGRTMIN+6, whose handler it installs
   * (SA_RESTART) while a runtime in debug mode exists, and only if the
   * signal has no handler yet (otherwise the report says there is no
   * backtrace); the previous action comes back when the last such runtime
   * is freed. Do not use SIGRTMIN+6 yourself in debug mode. A thread
   * asleep in a system call is not interrupted (the call could return
   * early with EINTR): the report then names the call and where it was
   * made, from /proc. */
  int debug;
  /* Debug mode: how long a task may hold a worker without an await before
   * it is reported, in milliseconds; 0 means 100. */
  unsigned slow_task_ms;
  /* A signal (e.g. SIGUSR2) that makes the runtime print weft_task_dump()
   * to stderr; 0: none. The handler only writes a byte to a pipe; a thread
   * of the runtime dumps. One runtime at a time may have one (another gets
   * WEFT_EBUSY); the previous action comes back at weft_runtime_free. Do
   * not weft_signal_wait() for it, nor open a signal stream on it. */
  int dump_signal;
  /* Deterministic mode (see "Deterministic mode"): one worker whatever
   * `workers` says, a virtual clock, and tasks run in an order drawn from
   * `seed`, so a run replays. Nonzero: on. With WEFT_CONFIG_ENV in
   * `flags`, also on when the environment variable WEFT_SEED is set; its
   * value is then the seed. */
  int deterministic;
  /* The mode's seed. 0 draws one, which is logged (weft_set_log, level
   * WARN) and returned by weft_runtime_seed(). */
  uint64_t seed;
  /* WEFT_CONFIG_* bits below: what the runtime may read from the
   * environment and do to the process. 0: the defaults. Unknown bits are
   * WEFT_EINVAL. */
  unsigned flags;
} weft_config_t;

/* What a runtime does to the process, all of it (docs/environment.md lists
 * it in one place, with libuv's own effects):
 *  - SIGSEGV and SIGBUS: a handler that reports a task's stack overflow
 *    (its name and stack size) before the process aborts; any other fault
 *    goes to the handler that was there before (the default action, a
 *    sanitizer's, a crash reporter's), which the handler reinstalls. It is
 *    installed while any runtime that wants it exists, on an alternate
 *    signal stack of weft's own threads, and the previous handlers come
 *    back when the last such runtime is freed (unless the program replaced
 *    the handler meanwhile). WEFT_CONFIG_NO_FAULT_HANDLER: none; an
 *    overflow then still hits the guard page but dies as a plain SIGSEGV.
 *  - SIGPIPE: set to ignored, once, if its action is the default, and left
 *    so: a write to a closed socket or pipe then fails with UV_EPIPE
 *    instead of killing the process (libuv writes with write(2)). A
 *    handler the program installed is kept. WEFT_CONFIG_KEEP_SIGPIPE:
 *    left alone (ignore or handle it yourself, or lose the process to the
 *    first peer that goes away).
 *  - UV_THREADPOOL_SIZE: libuv sizes its process-wide file and DNS thread
 *    pool from it, once. When it is unset and the calling thread is the
 *    process's only thread (so no other thread can be reading the
 *    environment: setenv is not thread-safe), the first runtime sets it to
 *    two threads per worker, 4 to 64. Otherwise libuv's default of 4, or
 *    your value, stands. WEFT_CONFIG_NO_SETENV: never set it.
 *  - Environment switches (WEFT_DEBUG, WEFT_SEED, WEFT_STACK_GUARD) are
 *    read only with WEFT_CONFIG_ENV: without it no environment variable
 *    changes what a runtime does.
 *  - Debug mode's SIGRTMIN+6 and the dump signal: see `debug` and
 *    `dump_signal` above. */
#define WEFT_CONFIG_ENV 1u
#define WEFT_CONFIG_NO_FAULT_HANDLER 2u
#define WEFT_CONFIG_KEEP_SIGPIPE 4u
#define WEFT_CONFIG_NO_SETENV 8u

/* Creates a runtime and starts its workers. Call from outside any runtime's
 * tasks. It changes process-wide state: see WEFT_CONFIG_ENV above. Returns
 * WEFT_EINVAL for a NULL out, a stack_size over 1 GiB, unknown flags or a
 * dump_signal that cannot be caught (SIGSEGV and SIGBUS are taken),
 * WEFT_EBUSY when another runtime has a dump_signal, WEFT_ENOMEM when
 * threads, loops or memory cannot be had. Any thread. */
WEFT_EXTERN int weft_runtime_new(const weft_config_t* config,
                                 weft_runtime_t** out);

/* Shuts the runtime down and frees it: every live task is cancelled, every
 * await in it returns WEFT_ECANCELED from then on, the workers wait for all
 * tasks to return, then stop. Blocking calls queued on the executor
 * (weft_run_blocking, weft_submit_blocking) and not yet started are
 * cancelled; it waits for every one already running to return, with no
 * time limit: a call that never returns (a read nobody
 * answers) keeps weft_runtime_free from returning. Make such calls
 * interruptible (a timeout, a descriptor you close) before freeing, or
 * bound the wait with weft_runtime_shutdown. Task
 * handles die with the runtime: release them before. NULL is a no-op that
 * returns 0. Returns WEFT_EPERM when
 * called from one of the runtime's own workers (or its tasks) or from a
 * blocking call running on its executor: it would wait for itself. */
WEFT_EXTERN int weft_runtime_free(weft_runtime_t* rt);

/* weft_runtime_free() with a bound on the wait for blocking calls still
 * running: after blocking_grace_ms (< 0: no bound, as weft_runtime_free)
 * it returns WEFT_ETIMEDOUT with the runtime freed all the same; each call
 * still running finishes on its own thread, its result is dropped (its
 * future, if someone holds it, completes), and the thread exits. Such a
 * call must not use the runtime any more (it is gone). In deterministic
 * mode the bound is ignored. Otherwise as weft_runtime_free. */
WEFT_EXTERN int weft_runtime_shutdown(weft_runtime_t* rt,
                                      int64_t blocking_grace_ms);

/* Number of workers. 0 for NULL. Any thread. */
WEFT_EXTERN unsigned weft_runtime_workers(const weft_runtime_t* rt);

/* The seed of a runtime in deterministic mode; 0 when the mode is off or
 * for NULL. Any thread. */
WEFT_EXTERN uint64_t weft_runtime_seed(const weft_runtime_t* rt);

/* asyncio.run(): starts a fresh runtime with `config` (NULL: defaults), runs
 * main(arg, result) as its first task, waits for it, shuts the runtime down
 * (cancelling any task still alive) and returns main's status. Returns
 * WEFT_EINVAL for a NULL main, WEFT_EPERM from inside a runtime's worker. */
WEFT_EXTERN int weft_run(weft_task_fn main, void* arg,
                         const weft_config_t* config, void** result);

/* The runtime of the calling task or worker; NULL elsewhere. Any thread. */
WEFT_EXTERN weft_runtime_t* weft_current_runtime(void);

/* Index of the calling worker in [0, workers), or -1 outside the workers.
 * A task may change workers at any await. Any thread. */
WEFT_EXTERN int weft_worker_id(void);

/* ------------------------------------------------------------------------
 * Tasks
 * ------------------------------------------------------------------------ */

typedef struct weft_spawn_opts_s {
  /* sizeof(weft_spawn_opts_t), or 0 (see WEFT_CONFIG_INIT). */
  size_t size;
  /* The task's name, copied (up to 31 bytes). NULL: "Task-<id>". */
  const char* name;
  /* Stack bytes for this task; 0: the runtime's. Other sizes are mapped
   * one by one instead of taken from the pool, so they cost more. */
  size_t stack_size;
} weft_spawn_opts_t;

/* Creates a task running fn(arg, &result) and queues it; it starts soon,
 * whether or not anyone awaits it (asyncio's create_task). `rt` may be NULL
 * in a task: the current runtime. `opts` may be NULL.
 *
 * With `out`, the caller gets a handle holding one reference: await it,
 * query it, cancel it, and give it back with weft_task_release(). With a
 * NULL `out` the task is detached.
 *
 * Returns WEFT_EINVAL (NULL fn, no runtime), WEFT_ENOMEM, WEFT_ECLOSED once
 * the runtime shuts down. On error, fn never runs. Any thread. */
WEFT_EXTERN int weft_spawn(weft_runtime_t* rt, weft_task_fn fn, void* arg,
                           const weft_spawn_opts_t* opts, weft_task_t** out);

/* Waits for `task` to end and returns its status: 0 (then *result, if
 * `result` is not NULL, holds its result), the negative code its function
 * returned, or WEFT_ECANCELED if it was cancelled before it started.
 *
 * In a task: awaits. If nobody has started `task` and it is the last task
 * the caller's worker queued, it runs right here, on the caller's stack,
 * with no switch (the fork-join fast path). Cancelling the awaiting task
 * cancels `task` too, and the await still waits for it (asyncio's rule).
 * From a thread outside the runtime: blocks that thread.
 * Returns WEFT_EINVAL for NULL, WEFT_EDEADLK for the calling task itself,
 * WEFT_EPERM from a worker thread outside a task (a libuv callback), where
 * blocking would stall the worker. Does not release the handle; the
 * await holds a reference of its own while it waits, so another task may
 * release the handle it shared with the waiter once `task` has ended. */
WEFT_EXTERN int weft_await(weft_task_t* task, void** result);

/* Status of a finished task, as weft_await() returns it, without waiting:
 * WEFT_EAGAIN while it has not finished. Any thread. */
WEFT_EXTERN int weft_task_result(const weft_task_t* task, void** result);

/* Takes one more reference to a handle (to share it with another thread).
 * Returns `task`. Any thread. */
WEFT_EXTERN weft_task_t* weft_task_retain(weft_task_t* task);

/* Gives back one reference. The task keeps running if it has not finished;
 * its memory goes when it has ended and the last reference is gone. NULL is
 * a no-op. Any thread. */
WEFT_EXTERN void weft_task_release(weft_task_t* task);

/* Requests cancellation: the task receives WEFT_ECANCELED at its current or
 * next await; a task never started is not started and ends with
 * WEFT_ECANCELED. Repeated requests before delivery are delivered once,
 * but each is counted (weft_task_cancelling), so a timeout scope can tell
 * its own request from others. Returns 0, WEFT_EINVAL for NULL,
 * WEFT_EBUSY if the task has already finished. Any thread. */
WEFT_EXTERN int weft_cancel(weft_task_t* task);

/* asyncio's Task.cancelling(): how many weft_cancel requests the task has
 * received and not had taken back (a timeout scope takes back the one its
 * deadline made, at its exit). 0 for NULL. A snapshot. Any thread. */
WEFT_EXTERN uint32_t weft_task_cancelling(weft_task_t* task);

/* The task running the caller; NULL outside tasks. Borrowed: retain it to
 * keep it past the task's end. Any thread. */
WEFT_EXTERN weft_task_t* weft_current_task(void);

/* The task's name ("Task-<id>" unless one was given). Valid while the
 * caller holds a reference. "" for NULL. Any thread. */
WEFT_EXTERN const char* weft_task_name(const weft_task_t* task);

/* The task's id, unique in its runtime, 1 and up. 0 for NULL. Any thread. */
WEFT_EXTERN uint64_t weft_task_id(const weft_task_t* task);

typedef enum {
  WEFT_TASK_QUEUED = 1,    /* spawned, not started */
  WEFT_TASK_RUNNING = 2,   /* running on a worker, or woken and queued */
  WEFT_TASK_SUSPENDED = 3, /* waiting at an await */
  WEFT_TASK_DONE = 4       /* finished: weft_task_result() has its status */
} weft_task_state_t;

/* The task's state at the moment of the call (it may change right after).
 * 0 for NULL. Any thread. */
WEFT_EXTERN weft_task_state_t weft_task_state(const weft_task_t* task);

/* 1 when the task has finished, 0 otherwise. Any thread. */
WEFT_EXTERN int weft_task_done(const weft_task_t* task);

/* 1 when the task finished with WEFT_ECANCELED, 0 otherwise. Any thread. */
WEFT_EXTERN int weft_task_cancelled(const weft_task_t* task);

/* Number of live tasks (spawned and not yet finished) in `rt`: a snapshot.
 * Any thread. */
WEFT_EXTERN size_t weft_task_count(const weft_runtime_t* rt);

/* Callback for weft_task_visit(). `task` is valid during the call. Return 0
 * to go on, anything else to stop. */
typedef int (*weft_task_visit_cb)(weft_task_t* task, void* arg);

/* Calls cb for every live task of `rt` (asyncio's all_tasks()): tasks that
 * start or end during the visit may or may not be seen. The callback may
 * read the task, cancel it or retain it; it must not await. Returns 0, or
 * what a callback returned to stop. Any thread. */
WEFT_EXTERN int weft_task_visit(weft_runtime_t* rt, weft_task_visit_cb cb,
                                void* arg);

/* ------------------------------------------------------------------------
 * Task-local storage (contextvars)
 *
 * THREAD-LOCALS ARE WRONG IN TASKS. A task can resume on another worker
 * thread after any await (work stealing, wake-ups, I/O calls), so anything
 * kept per thread may change under it across an await:
 *   - errno: read it right after the call that set it, never after an
 *     await;
 *   - a pthread mutex (or any lock owned by a thread) held across an await
 *     may be unlocked from another thread: undefined behaviour; use
 *     weft_lock_t, or unlock before awaiting;
 *   - libraries with per-thread state (OpenSSL's error queue, strtok,
 *     rand, uselocale, thread-local caches): use such state within one
 *     stretch of code with no await in it;
 *   - _Thread_local / __thread / pthread_getspecific values.
 * Task-local storage is what to use instead: a value belongs to the task,
 * wherever it runs.
 * ------------------------------------------------------------------------ */

typedef struct weft_task_local_s weft_task_local_t;

/* Destroys a value when its task ends or the value is replaced. */
typedef void (*weft_local_dtor)(void* value);

/* Makes the child's value from the spawning task's at weft_spawn (as
 * asyncio copies the context into a new task). Returns the child's value,
 * or NULL when it cannot (weft_spawn then fails with WEFT_ENOMEM). */
typedef void* (*weft_local_copy)(void* value);

/* Creates a key. `copy` NULL: children start without the value; `dtor`
 * NULL: values are not destroyed. Neither may await, nor create or free
 * keys. Returns WEFT_EINVAL, WEFT_ENOMEM, WEFT_ELIMIT past 4096 live keys.
 * Any thread. */
WEFT_EXTERN int weft_task_local_new(weft_local_copy copy, weft_local_dtor dtor,
                                    weft_task_local_t** out);

/* Frees a key. Values tasks still hold for it are not destroyed (as
 * pthread_key_delete): free the key once the tasks that use it ended, or
 * clear their values first. NULL is a no-op. Returns 0. Any thread. */
WEFT_EXTERN int weft_task_local_free(weft_task_local_t* key);

/* Sets the calling task's value for `key`. A different previous value is
 * destroyed first (the key's dtor). When the task ends, before it is seen
 * done, its values are destroyed. An inline child (weft_await's fast path)
 * is a task of its own, with its own values. Returns WEFT_EINVAL,
 * WEFT_ENOMEM, WEFT_ENOTTASK. From a task only. */
WEFT_EXTERN int weft_task_local_set(weft_task_local_t* key, void* value);

/* The calling task's value for `key`; NULL when it has none, for a NULL
 * key, or outside tasks. Any thread (in a task, its own value). */
WEFT_EXTERN void* weft_task_local_get(const weft_task_local_t* key);

/* ------------------------------------------------------------------------
 * Scheduling and time
 * ------------------------------------------------------------------------ */

/* Lets every other runnable task on this worker run before the caller goes
 * on (asyncio.sleep(0)). Awaits. Returns 0, WEFT_ECANCELED, WEFT_ENOTTASK. */
WEFT_EXTERN int weft_yield(void);

/* Suspends the calling task for at least `ms` milliseconds (asyncio.sleep).
 * Other tasks run meanwhile. Awaits. Returns 0, WEFT_ECANCELED (the sleep is
 * withdrawn), WEFT_ENOTTASK. */
WEFT_EXTERN int weft_sleep_ms(uint64_t ms);

/* weft_sleep_ms() with a nanosecond duration. Deadlines are kept in
 * nanoseconds and the worker's wake-up is armed with that precision
 * (timerfd), so sub-millisecond sleeps do not round up to a millisecond. */
WEFT_EXTERN int weft_sleep_ns(uint64_t ns);

/* Monotonic clock in nanoseconds, as the timers see it. Any thread. */
WEFT_EXTERN uint64_t weft_now_ns(void);

/* ------------------------------------------------------------------------
 * Futures
 * ------------------------------------------------------------------------ */

/* A one-shot result that any thread may complete and any task or thread
 * may wait for (asyncio's Future, made thread-safe). Reference counted:
 * weft_future_new gives the caller one reference. */
typedef struct weft_future_s weft_future_t;

/* Called once the future is done, on the thread that completed it (or at
 * once, on the caller's thread, if it already was). Must not await. */
typedef void (*weft_future_cb)(weft_future_t* future, void* arg);

/* Creates a pending future. WEFT_EINVAL for a NULL out, WEFT_ENOMEM.
 * Any thread. */
WEFT_EXTERN int weft_future_new(weft_future_t** out);

/* One more reference. Returns `future`. Any thread. */
WEFT_EXTERN weft_future_t* weft_future_retain(weft_future_t* future);

/* Gives back one reference; the last frees the future. A pending future
 * whose last reference goes is freed without waking anyone: its waiters
 * hold references, so that cannot happen while someone waits. NULL is a
 * no-op. Any thread. */
WEFT_EXTERN void weft_future_release(weft_future_t* future);

/* Completes the future with a result (status 0). Exactly once: a second
 * completion returns WEFT_EBUSY and changes nothing. Wakes every waiter and
 * runs the callbacks on the calling thread. Any thread, including threads
 * weft does not know (a foreign library's callback thread). */
WEFT_EXTERN int weft_future_set_result(weft_future_t* future, void* result);

/* Completes the future with a negative error code (an exception, in
 * asyncio's terms). WEFT_EINVAL for err >= 0; WEFT_EBUSY as above. */
WEFT_EXTERN int weft_future_set_error(weft_future_t* future, int err);

/* Completes the future with WEFT_ECANCELED. WEFT_EBUSY if done. */
WEFT_EXTERN int weft_future_cancel(weft_future_t* future);

/* Waits for the future and returns its status (0, then *result holds the
 * result if `result` is not NULL; or its error). In a task: awaits; if the
 * awaiting task is cancelled, only this wait is withdrawn (WEFT_ECANCELED)
 * and the future stays as it is (other waiters may still get it). From a
 * thread outside the runtime: blocks it. WEFT_EPERM from a worker thread
 * outside a task. */
WEFT_EXTERN int weft_future_await(weft_future_t* future, void** result);

/* asyncio.wait_for(future, timeout): weft_future_await() bounded by
 * `timeout_ms` (< 0: no bound, as every timeout_ms in this header):
 * WEFT_ETIMEDOUT when it passes first (the future is left pending).
 * Awaits in a task; blocks a plain thread. */
WEFT_EXTERN int weft_future_wait_for(weft_future_t* future, int64_t timeout_ms,
                                     void** result);

/* The status without waiting: WEFT_EAGAIN while pending. Any thread. */
WEFT_EXTERN int weft_future_result(const weft_future_t* future, void** result);

/* 1 when done, 0 when pending (or NULL). Any thread. */
WEFT_EXTERN int weft_future_done(const weft_future_t* future);

/* Registers cb(future, arg) to run once the future is done (see
 * weft_future_cb). WEFT_ENOMEM; if this returns an error cb never runs.
 * Any thread. */
WEFT_EXTERN int weft_future_add_callback(weft_future_t* future,
                                         weft_future_cb cb, void* arg);

/* The task's completion as a future (asyncio: a Task is a Future): it is
 * done when the task ends, with the task's status and result. The caller
 * gets a new reference. Any thread. */
WEFT_EXTERN int weft_task_future(weft_task_t* task, weft_future_t** out);

/* asyncio's call_soon_threadsafe: runs fn(arg) on one of the runtime's
 * workers, soon, outside any task (fn must not await; spawn a task for
 * that). WEFT_ECLOSED once the runtime shuts down, WEFT_ENOMEM.
 * Any thread. (run_coroutine_threadsafe is weft_spawn from any thread,
 * with weft_task_future or weft_await on the handle.) */
WEFT_EXTERN int weft_call_soon(weft_runtime_t* rt, void (*fn)(void* arg),
                               void* arg);

/* ------------------------------------------------------------------------
 * Timeouts and shielding
 * ------------------------------------------------------------------------ */

/* A deadline over a stretch of a task (asyncio 3.11's `async with
 * asyncio.timeout(delay)`). */
typedef struct weft_timeout_s weft_timeout_t;

/* Starts a timeout scope: once `ms` milliseconds pass, the calling task is
 * cancelled, so whatever it awaits then returns WEFT_ECANCELED. From a
 * task only (WEFT_ENOTTASK). WEFT_ENOMEM. Scopes nest. */
WEFT_EXTERN int weft_timeout_enter(uint64_t ms, weft_timeout_t** out);

/* Ends the scope and frees it. Returns:
 *  - WEFT_ETIMEDOUT if the deadline passed and nobody else cancelled the
 *    task meanwhile: the cancellation the deadline caused, if any, is
 *    taken back (only that one), so it reaches no later await;
 *  - WEFT_ECANCELED if the deadline fired but the task was also cancelled
 *    by someone else since the scope began (weft_cancel, an outer scope):
 *    that cancellation is never swallowed; if it was not yet delivered
 *    it stays pending for the next await (asyncio 3.11 counts requests
 *    with uncancel() for the same reason; see weft_task_cancelling);
 *  - 0 otherwise (an outside cancellation is then left as it is).
 * Call it on every path out of the scope. Deadlines act at awaits: a task
 * that computes without awaiting is not interrupted (there is no
 * preemption); a deadline that passed while the task computed is reported
 * as WEFT_ETIMEDOUT with nothing to take back. */
WEFT_EXTERN int weft_timeout_exit(weft_timeout_t* timeout);

/* A periodic timer that does not drift (tokio's interval): tick k is due
 * at start + k * period, whatever the task does between ticks. A tick that
 * is late by more than a period skips the ticks it missed instead of
 * firing them in a burst. One task ticks it at a time. */
typedef struct weft_interval_s weft_interval_t;

/* An interval whose first tick is due period_ms from now. 0, WEFT_EINVAL
 * (period 0, NULL out), WEFT_ENOMEM. Any thread. */
WEFT_EXTERN int weft_interval_new(uint64_t period_ms, weft_interval_t** out);

/* Awaits the next due tick (returns at once if it is already due). On 0,
 * *periods (optional) is how many periods passed since the previous tick:
 * 1 when on time, more when ticks were skipped. WEFT_ECANCELED (the
 * schedule is unchanged), WEFT_EINVAL, WEFT_ENOTTASK. From a task only.
 * Awaits. */
WEFT_EXTERN int weft_interval_tick(weft_interval_t* iv, uint64_t* periods);

/* When the next tick is due (weft_now_ns's clock). 0 for NULL. */
WEFT_EXTERN uint64_t weft_interval_next_ns(const weft_interval_t* iv);

/* Frees it. NULL is a no-op. Returns 0 (every *_free returns an int). */
WEFT_EXTERN int weft_interval_free(weft_interval_t* iv);

/* asyncio.wait_for(task, timeout): awaits `task` for at most timeout_ms
 * (< 0: no bound); when that passes, cancels it, waits for it to end, and
 * returns WEFT_ETIMEDOUT. Otherwise as weft_await. Awaits. */
WEFT_EXTERN int weft_wait_for(weft_task_t* task, int64_t timeout_ms,
                              void** result);

/* asyncio.shield(task): awaits `task`, but a cancellation of the caller
 * does not reach it: the caller's wait ends with WEFT_ECANCELED and `task`
 * runs on. Awaits. */
WEFT_EXTERN int weft_await_shielded(weft_task_t* task, void** result);

/* ------------------------------------------------------------------------
 * Combinators and task groups
 * ------------------------------------------------------------------------ */

/* weft_gather flag: asyncio's return_exceptions=True. */
#define WEFT_GATHER_COLLECT 1u

/* asyncio.gather over tasks: waits for them and stores, in input order,
 * results[i] and statuses[i] (either array may be NULL).
 * Fail-fast (flags 0): the first task to fail makes weft_gather cancel the
 * others, wait for them to end, and return that task's status.
 * WEFT_GATHER_COLLECT: waits for every task and returns 0; statuses[]
 * tells each one's fate. If the caller is cancelled, the tasks are
 * cancelled and awaited, and WEFT_ECANCELED is returned. From a task only.
 * Awaits. */
WEFT_EXTERN int weft_gather(weft_task_t* const* tasks, size_t n, unsigned flags,
                            void** results, int* statuses);

typedef enum {
  WEFT_ALL_COMPLETED = 0,
  WEFT_FIRST_COMPLETED = 1,
  WEFT_FIRST_EXCEPTION = 2 /* the first failure, or all completed */
} weft_wait_mode_t;

/* asyncio.wait: waits until `mode` is satisfied or timeout_ms passes
 * (timeout_ms < 0: no timeout), then sorts the tasks into done[] and
 * pending[] (arrays of n entries the caller provides; either may be NULL;
 * the pointers are the caller's own, not new references) with their counts.
 * Returns 0 (also on timeout: look at *npending), WEFT_ECANCELED if the
 * caller was cancelled (the tasks are left running), WEFT_EINVAL.
 * From a task only. Awaits. */
WEFT_EXTERN int weft_wait(weft_task_t* const* tasks, size_t n,
                          weft_wait_mode_t mode, int64_t timeout_ms,
                          weft_task_t** done, size_t* ndone,
                          weft_task_t** pending, size_t* npending);

/* asyncio.as_completed: an iterator that hands out tasks in the order they
 * finish. */
typedef struct weft_as_completed_s weft_as_completed_t;

/* Starts iterating over `tasks` (the caller keeps its references, and the
 * tasks must outlive the iterator); timeout_ms < 0: no timeout, else a
 * deadline for the whole iteration. Any thread. */
WEFT_EXTERN int weft_as_completed_new(weft_task_t* const* tasks, size_t n,
                                      int64_t timeout_ms,
                                      weft_as_completed_t** out);

/* The next task to finish (borrowed, one of the caller's). Returns 0,
 * WEFT_ECLOSED once every task was handed out, WEFT_ETIMEDOUT after the
 * deadline, WEFT_ECANCELED. Awaits. */
WEFT_EXTERN int weft_as_completed_next(weft_as_completed_t* it,
                                       weft_task_t** task);

/* Frees the iterator; the tasks are untouched. NULL is a no-op. */
WEFT_EXTERN int weft_as_completed_free(weft_as_completed_t* it);

/* asyncio.TaskGroup: structured concurrency. Tasks spawned into a group
 * are waited for by weft_group_wait; the first one to fail cancels the
 * rest; cancelling the owner (the task in weft_group_wait) cancels them. */
typedef struct weft_group_s weft_group_t;

/* Creates a group. Any thread; usually the owner task. */
WEFT_EXTERN int weft_group_new(weft_group_t** out);

/* Spawns a task into the group (arguments as weft_spawn; `out` optional,
 * a new reference). WEFT_ECLOSED once the group failed, was cancelled or
 * was waited for. */
WEFT_EXTERN int weft_group_spawn(weft_group_t* group, weft_task_fn fn,
                                 void* arg, const weft_spawn_opts_t* opts,
                                 weft_task_t** out);

/* Leaves the group (the end of `async with`): waits for every task. Returns
 * 0 if all succeeded; else the status of the first to fail (the others
 * were cancelled and awaited); WEFT_ECANCELED if the caller was cancelled
 * meanwhile (every task cancelled and awaited). Awaits (blocks a plain
 * thread). */
WEFT_EXTERN int weft_group_wait(weft_group_t* group);

/* Frees the group. Tasks still running are cancelled and waited for
 * first. NULL is a no-op. */
WEFT_EXTERN int weft_group_free(weft_group_t* group);

/* A task set that supervises (tokio's JoinSet): children are spawned into
 * it (or adopt it: a connection handler adds itself), finished children
 * are handed out in the order they finish with their status and result,
 * and then leave the set. The owner, or anyone, can cancel them all, and
 * a shutdown gives them a grace period before cancelling them. Every call
 * is thread-safe. By default the first child to fail (a negative status
 * other than WEFT_ECANCELED) closes the set and cancels the others. */
typedef struct weft_taskset_s weft_taskset_t;

/* weft_taskset_new flags. KEEP_GOING: a failed child cancels nothing (a
 * server's handlers). DISCARD: a finished child leaves the set at once and
 * its status is dropped (weft_taskset_failed still tells the first
 * failure), so a set nobody joins does not grow; join_next then only
 * waits for the set to empty. */
#define WEFT_TASKSET_KEEP_GOING 1u
#define WEFT_TASKSET_DISCARD 2u

/* An empty, open set. 0, WEFT_EINVAL (NULL out, unknown flags),
 * WEFT_ENOMEM. Any thread. */
WEFT_EXTERN int weft_taskset_new(unsigned flags, weft_taskset_t** out);

/* Spawns a child into the set (arguments as weft_spawn; `out` optional, a
 * new reference). WEFT_ECLOSED once the set is closed (by
 * weft_taskset_close, a shutdown, or a first failure without KEEP_GOING);
 * if it closes while the spawn is under way, the new task is cancelled.
 * Any thread. */
WEFT_EXTERN int weft_taskset_spawn(weft_taskset_t* set, weft_task_fn fn,
                                   void* arg, const weft_spawn_opts_t* opts,
                                   weft_task_t** out);

/* Adopts a task spawned elsewhere (the set takes a reference of its own):
 * a connection handler adds itself with weft_taskset_add(set,
 * weft_current_task()), so the set owns the server's handlers. A task that
 * already finished is added as finished. 0, WEFT_ECLOSED (closed: the
 * task was not added), WEFT_EINVAL, WEFT_ENOMEM. Any thread. */
WEFT_EXTERN int weft_taskset_add(weft_taskset_t* set, weft_task_t* task);

/* The next child to finish, which leaves the set: waits for one if none
 * has finished yet. Returns 0 with *status (the child's status), *result
 * (its result, when *status is 0) and *task (a new reference to it), each
 * optional (NULL); WEFT_ECLOSED when the set is empty (no child running or
 * unjoined); WEFT_ETIMEDOUT once timeout_ms passes (< 0: none);
 * WEFT_ECANCELED if the caller is cancelled (only its wait ends: the
 * children are untouched and nothing leaves the set); WEFT_ENOMEM.
 * Awaits in a task; blocks a plain thread. */
WEFT_EXTERN int weft_taskset_join_next(weft_taskset_t* set, int64_t timeout_ms,
                                       weft_task_t** task, int* status,
                                       void** result);

/* Cancels every running child (weft_cancel); the set stays open. 0,
 * WEFT_EINVAL. Never waits. Any thread. */
WEFT_EXTERN int weft_taskset_cancel_all(weft_taskset_t* set);

/* Closes the set: later spawns and adds get WEFT_ECLOSED; children already
 * in it go on. 0, WEFT_EINVAL. Any thread. */
WEFT_EXTERN int weft_taskset_close(weft_taskset_t* set);

/* A graceful stop: closes the set, lets the running children finish for
 * up to grace_ms (< 0: as long as they take; 0: no grace), then cancels
 * those still running and waits for them. Finished children stay for
 * join_next (unless DISCARD). Returns 0, or WEFT_ECANCELED if the caller
 * was cancelled meanwhile (the grace ends: the children are cancelled, and
 * still waited for), WEFT_EINVAL, WEFT_ENOMEM. Awaits in a task; blocks a
 * plain thread. */
WEFT_EXTERN int weft_taskset_shutdown(weft_taskset_t* set, int64_t grace_ms);

/* Children in the set: running, or finished and not yet joined. A
 * snapshot; 0 for NULL. Any thread. */
WEFT_EXTERN size_t weft_taskset_size(const weft_taskset_t* set);

/* The status of the first child that failed (negative, not
 * WEFT_ECANCELED), or 0. WEFT_EINVAL for NULL. Any thread. */
WEFT_EXTERN int weft_taskset_failed(const weft_taskset_t* set);

/* Frees the set: closes it, cancels the children still running and waits
 * for them (a cancellation of the caller meanwhile is requested again
 * afterwards, so its next await sees it); children not joined are dropped.
 * NULL is a no-op. Awaits in a task; blocks a plain thread. */
WEFT_EXTERN int weft_taskset_free(weft_taskset_t* set);

/* ------------------------------------------------------------------------
 * Blocking calls
 * ------------------------------------------------------------------------ */

/* asyncio.to_thread: runs fn(arg, &result) on the runtime's blocking-call
 * executor (its own elastic thread pool, not libuv's) and returns fn's
 * status (0, then *result holds its result). In a task the task parks and
 * its worker runs other tasks meanwhile; if the task is cancelled, it gets
 * WEFT_ECANCELED at once while the call runs to its end and its result is
 * dropped. From a plain thread: blocks it. */
WEFT_EXTERN int weft_run_blocking(weft_task_fn fn, void* arg, void** result);

/* run_in_executor: queues fn on `rt`'s executor (rt NULL: the current
 * runtime) and gives a future for its status and result (a new reference).
 * WEFT_ECLOSED once the runtime shuts down, WEFT_ENOMEM. Any thread. */
WEFT_EXTERN int weft_submit_blocking(weft_runtime_t* rt, weft_task_fn fn,
                                     void* arg, weft_future_t** out);

/* A snapshot of the executor. */
typedef struct weft_blocking_stats_s {
  size_t threads; /* started and not yet gone */
  size_t busy;    /* running a call */
  size_t queued;  /* calls waiting for a thread */
} weft_blocking_stats_t;

/* Fills *out. WEFT_EINVAL for NULL. Any thread. */
WEFT_EXTERN int weft_blocking_stats(const weft_runtime_t* rt,
                                    weft_blocking_stats_t* out);

/* ------------------------------------------------------------------------
 * Synchronisation (asyncio.Lock, Event, Condition, Semaphore, Barrier)
 * ------------------------------------------------------------------------
 * Usable by tasks on any worker. Every wait awaits (the task parks; from a
 * thread outside the runtime it blocks), is FIFO-fair, and can be
 * cancelled or bounded by a timeout scope; a cancelled waiter loses
 * nothing: a permit, item or wake-up meant for it passes to the next
 * waiter. An uncontended lock or semaphore acquire or release is one
 * compare-and-swap: no lock, no system call. Each object is created with
 * weft_X_new and freed with weft_X_free (NULL is a no-op; freeing with waiters
 * is the caller's bug and returns WEFT_EBUSY without freeing). */

typedef struct weft_lock_s weft_lock_t;
typedef struct weft_event_s weft_event_t;
typedef struct weft_cond_s weft_cond_t;
typedef struct weft_sem_s weft_sem_t;
typedef struct weft_barrier_s weft_barrier_t;

/* A mutual-exclusion lock for tasks, handed over FIFO. Unlike
 * asyncio.Lock it has an owner: the task that acquired it, wherever that
 * task runs next (a task moves between threads, ownership stays with the
 * task); for a plain thread outside the runtime, that thread. Only the
 * owner may release it or wait on and notify a condition bound to it. Not
 * reentrant: the owner acquiring it again gets WEFT_EDEADLK. */
/* A free lock in *out. 0, WEFT_EINVAL, WEFT_ENOMEM. Any thread. */
WEFT_EXTERN int weft_lock_new(weft_lock_t** out);
/* 0 (NULL too), WEFT_EBUSY with waiters (nothing freed). */
WEFT_EXTERN int weft_lock_free(weft_lock_t* lock);
/* Acquires; awaits while held. 0, WEFT_ECANCELED (nothing acquired),
 * WEFT_EDEADLK (the caller holds it already), WEFT_EINVAL, WEFT_ENOMEM.
 * Awaits. */
WEFT_EXTERN int weft_lock_acquire(weft_lock_t* lock);
/* 0 if acquired, WEFT_EAGAIN if held (or others wait). Never waits. */
WEFT_EXTERN int weft_lock_try_acquire(weft_lock_t* lock);
/* Releases (to the longest waiter, if any). 0, WEFT_EPERM if the caller
 * does not hold it (free, or held by another task or thread: nothing
 * changes), WEFT_EINVAL. The owner only. */
WEFT_EXTERN int weft_lock_release(weft_lock_t* lock);
/* 1 while held, 0 when free (or NULL). A snapshot. */
WEFT_EXTERN int weft_lock_locked(const weft_lock_t* lock);

/* A read-write lock (tokio's RwLock): many readers or one writer. Granted
 * in arrival order: a writer waits only for those who came before it, and
 * readers that come after a waiting writer wait behind it, so neither side
 * starves. The writer has an owner as weft_lock_t has (the task, or the
 * plain thread): only it may release, and its own read or write acquire
 * gets WEFT_EDEADLK. Readers are counted, not named. */
typedef struct weft_rwlock_s weft_rwlock_t;
/* A free lock in *out. 0, WEFT_EINVAL, WEFT_ENOMEM. Any thread. */
WEFT_EXTERN int weft_rwlock_new(weft_rwlock_t** out);
/* 0 (NULL too), WEFT_EBUSY with waiters (nothing freed). */
WEFT_EXTERN int weft_rwlock_free(weft_rwlock_t* rw);
/* Shared access; awaits while a writer holds it or waits before us. 0,
 * WEFT_ECANCELED (nothing acquired; a grant that came meanwhile passes
 * on), WEFT_EDEADLK (the caller is the writer), WEFT_EINVAL, WEFT_ENOMEM.
 * Awaits. */
WEFT_EXTERN int weft_rwlock_read_acquire(weft_rwlock_t* rw);
/* Exclusive access; awaits while anyone holds it or waits before us.
 * Errors as weft_rwlock_read_acquire. Awaits. */
WEFT_EXTERN int weft_rwlock_write_acquire(weft_rwlock_t* rw);
/* Never wait: 0, or WEFT_EAGAIN if it cannot be had now (or others
 * wait). */
WEFT_EXTERN int weft_rwlock_try_read(weft_rwlock_t* rw);
WEFT_EXTERN int weft_rwlock_try_write(weft_rwlock_t* rw);
/* Ends one reader's access. 0, WEFT_EPERM if no reader holds it,
 * WEFT_EINVAL. */
WEFT_EXTERN int weft_rwlock_read_release(weft_rwlock_t* rw);
/* Ends the writer's access. 0, WEFT_EPERM if the caller is not the
 * writer, WEFT_EINVAL. The writer only. */
WEFT_EXTERN int weft_rwlock_write_release(weft_rwlock_t* rw);

/* A flag tasks wait for (asyncio.Event). */
/* A clear event in *out. 0, WEFT_EINVAL, WEFT_ENOMEM. */
WEFT_EXTERN int weft_event_new(weft_event_t** out);
/* 0 (NULL too), WEFT_EBUSY with waiters (nothing freed). */
WEFT_EXTERN int weft_event_free(weft_event_t* event);
/* Sets the flag and wakes every waiter. 0, WEFT_EINVAL. Any thread. */
WEFT_EXTERN int weft_event_set(weft_event_t* event);
/* Clears the flag; waiters already woken stay woken. 0, WEFT_EINVAL. */
WEFT_EXTERN int weft_event_clear(weft_event_t* event);
/* 1 while set, 0 otherwise (or NULL). */
WEFT_EXTERN int weft_event_is_set(const weft_event_t* event);
/* Waits until the flag is set (returns at once if it is). 0,
 * WEFT_ECANCELED, WEFT_EINVAL, WEFT_ENOMEM. Awaits. */
WEFT_EXTERN int weft_event_wait(weft_event_t* event);

/* A condition variable bound to a weft_lock_t (asyncio.Condition). The
 * lock must outlive it. */
/* 0, WEFT_EINVAL (NULL lock or out), WEFT_ENOMEM. */
WEFT_EXTERN int weft_cond_new(weft_lock_t* lock, weft_cond_t** out);
/* 0 (NULL too), WEFT_EBUSY with waiters (nothing freed). */
WEFT_EXTERN int weft_cond_free(weft_cond_t* cond);
/* With the lock held by the caller: releases it, waits for a notify,
 * re-acquires it (also when cancelled, before returning WEFT_ECANCELED; a
 * notify that reached a cancelled waiter passes to the next one). 0,
 * WEFT_ECANCELED, WEFT_EPERM if the caller does not hold the lock,
 * WEFT_EINVAL, WEFT_ENOMEM. Awaits. */
WEFT_EXTERN int weft_cond_wait(weft_cond_t* cond);
/* weft_cond_wait until pred(arg) is true (checked with the lock held).
 * 0, or the first failing weft_cond_wait's code. Awaits. */
WEFT_EXTERN int weft_cond_wait_for(weft_cond_t* cond, int (*pred)(void* arg),
                                   void* arg);
/* Wakes up to n waiters, oldest first. The caller must hold the lock:
 * WEFT_EPERM if it does not. 0, WEFT_EINVAL. */
WEFT_EXTERN int weft_cond_notify(weft_cond_t* cond, size_t n);
/* Wakes every waiter; as weft_cond_notify. */
WEFT_EXTERN int weft_cond_notify_all(weft_cond_t* cond);

/* A counting semaphore; `bounded` non-zero makes it a BoundedSemaphore
 * that refuses releases past its initial value (WEFT_ELIMIT). */
/* 0, WEFT_EINVAL (NULL out, value over SIZE_MAX / 4), WEFT_ENOMEM. */
WEFT_EXTERN int weft_sem_new(size_t value, int bounded, weft_sem_t** out);
/* 0 (NULL too), WEFT_EBUSY with waiters (nothing freed). */
WEFT_EXTERN int weft_sem_free(weft_sem_t* sem);
/* Takes a permit; awaits while there is none (FIFO). 0, WEFT_ECANCELED
 * (nothing taken), WEFT_EINVAL, WEFT_ENOMEM. Awaits. */
WEFT_EXTERN int weft_sem_acquire(weft_sem_t* sem);
/* 0 if a permit was taken, WEFT_EAGAIN if none (or others wait). Never
 * waits. */
WEFT_EXTERN int weft_sem_try_acquire(weft_sem_t* sem);
/* Gives a permit back (to the longest waiter, if any). 0, WEFT_ELIMIT
 * (bounded, already at its initial value; nothing changes), WEFT_EINVAL.
 * Any thread. */
WEFT_EXTERN int weft_sem_release(weft_sem_t* sem);
/* Free permits now (a snapshot); 0 for NULL. */
WEFT_EXTERN size_t weft_sem_value(const weft_sem_t* sem);

/* A barrier for `parties` tasks (asyncio.Barrier). */
/* 0, WEFT_EINVAL (parties 0, NULL out), WEFT_ENOMEM. */
WEFT_EXTERN int weft_barrier_new(size_t parties, weft_barrier_t** out);
/* 0 (NULL too), WEFT_EBUSY with waiters (nothing freed). */
WEFT_EXTERN int weft_barrier_free(weft_barrier_t* barrier);
/* Waits until `parties` tasks wait, then all go on together (a new
 * generation starts); *index (may be NULL) gets the arrival index,
 * 0..parties-1. WEFT_ECLOSED once the barrier is broken: aborted, or a
 * waiter was cancelled (it gets WEFT_ECANCELED, the others WEFT_ECLOSED).
 * WEFT_EINVAL, WEFT_ENOMEM. Awaits. */
WEFT_EXTERN int weft_barrier_wait(weft_barrier_t* barrier, size_t* index);
/* Breaks the barrier for good: every waiter, now and later, gets
 * WEFT_ECLOSED. 0, WEFT_EINVAL. Any thread. */
WEFT_EXTERN int weft_barrier_abort(weft_barrier_t* barrier);
/* 1 once broken, 0 otherwise (or NULL). */
WEFT_EXTERN int weft_barrier_broken(const weft_barrier_t* barrier);

/* A rate limiter (the guide's RateLimiter): at most max_per_period
 * acquisitions in any sliding window of period_ms, granted FIFO. Nothing
 * is given back: a slot frees itself when its acquisition leaves the
 * window. Not lock-free: a short mutex guards the window. */
typedef struct weft_ratelimit_s weft_ratelimit_t;

/* 0, WEFT_EINVAL (max_per_period or period_ms 0, NULL out), WEFT_ENOMEM.
 * Any thread. */
WEFT_EXTERN int weft_ratelimit_new(size_t max_per_period, uint64_t period_ms,
                                   weft_ratelimit_t** out);
/* 0 (NULL too), WEFT_EBUSY with waiters (nothing freed). */
WEFT_EXTERN int weft_ratelimit_free(weft_ratelimit_t* rl);
/* Awaits until a slot in the sliding window is free, behind every earlier
 * waiter, and takes it. A grant counts from the moment acquire returns
 * (the time is read by the acquirer after it resumed, as its last step),
 * so no max_per_period + 1 returns of acquire lie within one period. 0,
 * WEFT_ECANCELED (nothing taken; if it was first in line, the next waiter goes
 * ahead), WEFT_EINVAL, WEFT_ENOMEM. From a task only (WEFT_ENOTTASK). Awaits.
 */
WEFT_EXTERN int weft_ratelimit_acquire(weft_ratelimit_t* rl);

/* ------------------------------------------------------------------------
 * Queues and channels (asyncio.Queue, LifoQueue, PriorityQueue; async for)
 * ------------------------------------------------------------------------
 * Any thread: a wait parks a task and blocks a plain thread (WEFT_EPERM
 * from a worker thread outside a task). Waiters are served FIFO; every wait
 * can be cancelled or bounded by a timeout scope, and a cancelled put or
 * get loses nothing: a cancelled put stored nothing, a cancelled get took
 * nothing, and the item or slot set aside for it passes to the next
 * waiter. An operation that need not wait never parks (it takes the
 * object's mutex briefly). Items are the caller's pointers: the queue never
 * frees them. */

typedef struct weft_queue_s weft_queue_t;

typedef enum {
  WEFT_QUEUE_FIFO = 0,
  WEFT_QUEUE_LIFO = 1,
  WEFT_QUEUE_PRIORITY = 2 /* smallest priority first; FIFO among equals */
} weft_queue_kind_t;

/* A multi-producer multi-consumer queue of void* items. maxsize 0 means
 * unbounded. WEFT_EINVAL (NULL out, unknown kind), WEFT_ENOMEM. */
WEFT_EXTERN int weft_queue_new(weft_queue_kind_t kind, size_t maxsize,
                               weft_queue_t** out);
/* Frees it (items still in it are dropped). WEFT_EBUSY, without freeing,
 * while a task waits on it. NULL is a no-op. */
WEFT_EXTERN int weft_queue_free(weft_queue_t* q);
/* Puts an item; awaits while full. `priority` is used by PRIORITY queues
 * only. 0, WEFT_ECLOSED after weft_queue_shutdown (also for a waiting
 * put), WEFT_ECANCELED (the item was not stored), WEFT_ENOMEM. Awaits. */
WEFT_EXTERN int weft_queue_put(weft_queue_t* q, void* item, int64_t priority);
/* As put, never waits: WEFT_EAGAIN when full (asyncio's QueueFull). */
WEFT_EXTERN int weft_queue_try_put(weft_queue_t* q, void* item,
                                   int64_t priority);
/* Takes an item; awaits while empty. WEFT_ECLOSED once shut down and
 * (for a draining shutdown) empty, WEFT_ECANCELED (nothing was taken).
 * Awaits. */
WEFT_EXTERN int weft_queue_get(weft_queue_t* q, void** item);
/* As get, never waits: WEFT_EAGAIN when empty (asyncio's QueueEmpty),
 * WEFT_ECLOSED when empty and shut down. */
WEFT_EXTERN int weft_queue_try_get(weft_queue_t* q, void** item);
/* Items in the queue now (a snapshot). 0 for NULL. */
WEFT_EXTERN size_t weft_queue_size(const weft_queue_t* q);
/* Marks one earlier get as processed (asyncio's task_done). WEFT_ELIMIT if
 * called more times than items were put. */
WEFT_EXTERN int weft_queue_task_done(weft_queue_t* q);
/* Awaits until every item put has been marked done (asyncio's join);
 * returns at once when none is unfinished. 0, WEFT_ECANCELED. Awaits. */
WEFT_EXTERN int weft_queue_join(weft_queue_t* q);
/* asyncio 3.13 shutdown: puts fail with WEFT_ECLOSED from now on; with
 * `immediate`, the queue is emptied (the dropped items count as done, so
 * join returns) and every waiting get fails too; without, gets drain what
 * is left and then fail. Calling it again is harmless. */
WEFT_EXTERN int weft_queue_shutdown(weft_queue_t* q, int immediate);

/* A bounded MPMC FIFO channel (capacity >= 1): the C form of `async for`
 * over an async iterator. A producer closes it; consumers drain what is
 * left, then get WEFT_ECLOSED (StopAsyncIteration). */
typedef struct weft_chan_s weft_chan_t;

/* WEFT_EINVAL (capacity 0, NULL out), WEFT_ENOMEM. */
WEFT_EXTERN int weft_chan_new(size_t capacity, weft_chan_t** out);
/* WEFT_EBUSY, without freeing, while a task waits on it. NULL: no-op. */
WEFT_EXTERN int weft_chan_free(weft_chan_t* ch);
/* Sends; awaits while full. 0, WEFT_ECLOSED once closed (also for a
 * waiting send), WEFT_ECANCELED (the item was not sent). Awaits. */
WEFT_EXTERN int weft_chan_send(weft_chan_t* ch, void* item);
/* Receives; awaits while empty. WEFT_ECLOSED once closed and drained,
 * WEFT_ECANCELED (nothing was taken). Awaits. */
WEFT_EXTERN int weft_chan_recv(weft_chan_t* ch, void** item);
/* Never wait: WEFT_EAGAIN when full / empty; WEFT_ECLOSED once closed
 * (for try_recv: closed and drained). */
WEFT_EXTERN int weft_chan_try_send(weft_chan_t* ch, void* item);
WEFT_EXTERN int weft_chan_try_recv(weft_chan_t* ch, void** item);
/* Closes: senders (waiting or later) get WEFT_ECLOSED; receivers drain.
 * Closing again is harmless. */
WEFT_EXTERN int weft_chan_close(weft_chan_t* ch);

/* ------------------------------------------------------------------------
 * Cancellation tokens (tokio's CancellationToken)
 * ------------------------------------------------------------------------
 * A token is a flag that is set once and never cleared: "stop". Tokens
 * form a tree: cancelling one cancels every token made under it, at any
 * depth, but never its parent. Tasks wait for a token (weft_token_wait),
 * watch it in weft_select beside other events, or are tied to it
 * (weft_token_tie: cancelling the token cancels them). Every call is
 * thread-safe (any thread). A token is reference counted: weft_token_new
 * gives the caller one reference; a child token holds one on its parent,
 * and a tie holds one until its task ends. */
typedef struct weft_token_s weft_token_t;

/* A token, not cancelled, under `parent` (NULL: a root). Under a parent
 * that is already cancelled the new token starts cancelled. 0,
 * WEFT_EINVAL (NULL out), WEFT_ENOMEM. Any thread. */
WEFT_EXTERN int weft_token_new(weft_token_t* parent, weft_token_t** out);

/* One more reference. Returns `tok`. Any thread. */
WEFT_EXTERN weft_token_t* weft_token_retain(weft_token_t* tok);

/* Gives back one reference; the last frees the token (it leaves its
 * parent's tree; its flag's state does not matter). NULL is a no-op. */
WEFT_EXTERN void weft_token_release(weft_token_t* tok);

/* Cancels the token and every descendant: sets their flags, wakes their
 * waiters and selects, and cancels (weft_cancel) the tasks tied to them.
 * Cancelling again does nothing. Never waits. 0, WEFT_EINVAL. Any thread,
 * also from a future callback or a signal-handling task. */
WEFT_EXTERN int weft_token_cancel(weft_token_t* tok);

/* 1 once the token (or an ancestor, which cancels it) was cancelled, 0
 * otherwise or for NULL. Any thread. */
WEFT_EXTERN int weft_token_cancelled(const weft_token_t* tok);

/* Waits until the token is cancelled (returns at once if it is). 0,
 * WEFT_ECANCELED if the caller itself is cancelled meanwhile (only its
 * wait is withdrawn; the token is untouched), WEFT_EINVAL, WEFT_EPERM from
 * a worker thread outside a task. In a task: awaits; from a thread
 * outside the runtime: blocks it. */
WEFT_EXTERN int weft_token_wait(weft_token_t* tok);

/* Ties `task` to the token: once the token is cancelled (now or later,
 * directly or through an ancestor), the task is cancelled with
 * weft_cancel. The tie ends by itself when the task ends, so a long-lived
 * token does not keep finished tasks. Tying to a cancelled token cancels
 * the task at once. 0, WEFT_EINVAL, WEFT_ENOMEM. Any thread. */
WEFT_EXTERN int weft_token_tie(weft_token_t* tok, weft_task_t* task);

/* Called once when a token is cancelled, on the thread that cancelled it
 * (or at once, by weft_token_on_cancel, if it already was). Must be short
 * and must not await; it may cancel tasks, cancel task sets
 * (weft_taskset_cancel_all), close servers or channels, set events. */
typedef void (*weft_token_cb)(weft_token_t* tok, void* arg);
typedef struct weft_token_hook_s weft_token_hook_t;

/* Registers cb(tok, arg) to run when `tok` is cancelled: how task sets,
 * groups, servers and anything else are tied to a token. *out is the
 * registration: give it back with weft_token_hook_remove (also after the
 * callback ran). 0, WEFT_EINVAL, WEFT_ENOMEM (then cb never runs). Any
 * thread. */
WEFT_EXTERN int weft_token_on_cancel(weft_token_t* tok, weft_token_cb cb,
                                     void* arg, weft_token_hook_t** out);

/* Removes and frees a registration. Returns 1 if its callback ran (or was
 * running: then this waits until it has returned, so `arg` may be freed
 * right after), 0 if it had not run and now never will. NULL: 0. From
 * inside its own callback it does not wait. Any thread. */
WEFT_EXTERN int weft_token_hook_remove(weft_token_hook_t* hook);

/* ------------------------------------------------------------------------
 * select (Go's select, tokio's select!, libdill's choose)
 * ------------------------------------------------------------------------
 * Waits for the first of several events and takes exactly one: receive
 * from a channel, send to a channel, a future or a task finishing, a token
 * being cancelled, with a timeout. The cases not chosen are withdrawn and
 * nothing of theirs is consumed: no item is taken from a channel, no item
 * is put into one, a future or task is only looked at. */

typedef enum {
  WEFT_SELECT_OFF = 0,    /* an unused case: never chosen (Go's nil channel) */
  WEFT_SELECT_RECV = 1,   /* receive from a channel */
  WEFT_SELECT_SEND = 2,   /* send to a channel */
  WEFT_SELECT_FUTURE = 3, /* a future is done */
  WEFT_SELECT_TASK = 4,   /* a task has ended */
  WEFT_SELECT_TOKEN = 5   /* a cancellation token is cancelled */
} weft_select_kind_t;

/* One case. Build it with the weft_select_* helpers below (or by hand);
 * weft_select writes `status` (and *out) of the chosen case only. */
typedef struct weft_select_case_s {
  weft_select_kind_t kind;
  void* obj;  /* the channel, future, task or token */
  void* item; /* SEND: the item to send */
  void** out; /* RECV: the item received; FUTURE, TASK: the result (on
                 status 0); may be NULL for FUTURE and TASK */
  int status; /* chosen case: RECV, SEND: 0 or WEFT_ECLOSED (closed and,
                 for RECV, drained); FUTURE, TASK: the future's or task's
                 status; TOKEN: 0 */
} weft_select_case_t;

/* Case builders. */
WEFT_EXTERN weft_select_case_t weft_select_recv(weft_chan_t* ch, void** out);
WEFT_EXTERN weft_select_case_t weft_select_send(weft_chan_t* ch, void* item);
WEFT_EXTERN weft_select_case_t weft_select_future(weft_future_t* f,
                                                  void** result);
WEFT_EXTERN weft_select_case_t weft_select_task(weft_task_t* task,
                                                void** result);
WEFT_EXTERN weft_select_case_t weft_select_token(weft_token_t* tok);

/* Waits until one of the n cases is ready and takes it; returns its index
 * (>= 0), with cases[index].status (and *out) set. If several are ready
 * at the call, the first in array order is taken (put the case that must
 * win first; rotate the array for fairness). A channel closed (and, to
 * receive, drained) makes its case ready with status WEFT_ECLOSED: turn
 * it WEFT_SELECT_OFF to stop watching it.
 *
 * timeout_ms < 0: no timeout; 0: only what is ready now; otherwise returns
 * WEFT_ETIMEDOUT once that passes with nothing chosen. Returns
 * WEFT_ECANCELED if the caller is cancelled before a case is chosen, or
 * while a chosen channel operation is being finished: then that operation
 * is given back (the item goes to the next receiver, the slot to the next
 * sender), so a cancelled select has consumed nothing. WEFT_EINVAL (NULL
 * cases, n 0 or over INT_MAX, a case with an unknown kind or a NULL
 * object, RECV with NULL out), WEFT_ENOMEM, WEFT_EPERM from a worker
 * thread outside a task. Cases all WEFT_SELECT_OFF with no timeout wait
 * for the caller's cancellation (Go's empty select).
 * In a task: awaits; from a thread outside the runtime: blocks it. */
WEFT_EXTERN int weft_select(weft_select_case_t* cases, size_t n,
                            int64_t timeout_ms);

/* ------------------------------------------------------------------------
 * Broadcast and watch channels (tokio's broadcast and watch)
 * ------------------------------------------------------------------------
 * For one-to-many: a broadcast channel hands every message to every
 * receiver; a watch channel holds one value, the latest, that receivers
 * wait to change. Any thread may send. Receivers are tasks or plain
 * threads: a wait parks a task and blocks a plain thread (WEFT_EPERM from
 * a worker thread outside a task). Every wait can be cancelled or bounded
 * by a timeout scope, and a cancelled wait takes nothing: what it would
 * have received is there for the next call. Waits use the object's mutex
 * briefly; sends never wait. */

/* A broadcast channel: every receiver sees every message sent after it
 * subscribed, in the order of the sends. Messages are copies of item_size
 * bytes (a pointer, a struct: for pointers, the receivers share the
 * pointee, and its lifetime is the caller's business). The channel keeps
 * the last `capacity` messages and sends never wait: a receiver that falls
 * more than `capacity` behind has lagged, and its next receive says how
 * many messages it missed (WEFT_ELIMIT), then goes on from the oldest one
 * kept (tokio's RecvError::Lagged). A slow receiver holds up nobody. */
typedef struct weft_broadcast_s weft_broadcast_t;
/* One receiver: a position in the channel's sequence. Use it from one task
 * (or thread) at a time. */
typedef struct weft_broadcast_rx_s weft_broadcast_rx_t;

/* 0, WEFT_EINVAL (NULL out, capacity or item_size 0, or their product
 * overflows), WEFT_ENOMEM. Any thread. */
WEFT_EXTERN int weft_broadcast_new(size_t capacity, size_t item_size,
                                   weft_broadcast_t** out);
/* Frees the channel (and the messages it keeps). WEFT_EBUSY, nothing
 * freed, while receivers are subscribed: unsubscribe them first. NULL:
 * no-op. */
WEFT_EXTERN int weft_broadcast_free(weft_broadcast_t* bc);
/* A new receiver, which will see every message sent from now on.
 * WEFT_ECLOSED once the channel is closed, WEFT_EINVAL, WEFT_ENOMEM.
 * *out is NULL on failure. Any thread. */
WEFT_EXTERN int weft_broadcast_subscribe(weft_broadcast_t* bc,
                                         weft_broadcast_rx_t** out);
/* Frees the receiver. WEFT_EBUSY, nothing freed, while a receive waits on
 * it. NULL: no-op. */
WEFT_EXTERN int weft_broadcast_unsubscribe(weft_broadcast_rx_t* rx);
/* Sends a copy of item_size bytes at `item` to every receiver; never
 * waits (the oldest message kept makes room). Returns how many receivers
 * are subscribed (each will see it, or be told it lagged past it; 0:
 * nobody will), WEFT_ECLOSED once closed, WEFT_EINVAL. Any thread. */
WEFT_EXTERN int weft_broadcast_send(weft_broadcast_t* bc, const void* item);
/* Receives the next message into `item` (item_size bytes). Awaits while
 * there is none. 0 with the message; WEFT_ELIMIT when the receiver lagged:
 * *missed (if not NULL) gets how many messages it missed, nothing is
 * copied, and the next call returns the oldest message kept; WEFT_ECLOSED
 * once the channel is closed and the receiver has read every message
 * kept; WEFT_ECANCELED (nothing taken); WEFT_EINVAL; WEFT_ENOMEM. *missed
 * is 0 unless WEFT_ELIMIT. A message already there is returned without
 * awaiting (a pending cancellation waits for the next await). */
WEFT_EXTERN int weft_broadcast_recv(weft_broadcast_rx_t* rx, void* item,
                                    uint64_t* missed);
/* As recv, never waits: WEFT_EAGAIN when there is no new message. Any
 * thread. */
WEFT_EXTERN int weft_broadcast_try_recv(weft_broadcast_rx_t* rx, void* item,
                                        uint64_t* missed);
/* Closes: sends fail with WEFT_ECLOSED from now on; receivers read what is
 * kept for them, then get WEFT_ECLOSED (waiting ones are woken). Closing
 * again is harmless. WEFT_EINVAL for NULL. Any thread. */
WEFT_EXTERN int weft_broadcast_close(weft_broadcast_t* bc);

/* A watch channel: one value, the latest, and its version (0 for the
 * initial value, one more per send). Receivers wait for a version newer
 * than the one they last received and get the value current then:
 * values sent in between are skipped, as a configuration or a status only
 * matters in its latest form. Values are the caller's pointers. A
 * receiver's value stays valid until its next receive, get or
 * unsubscribe, however many sends replace it meanwhile; the destructor
 * given at creation runs (on whichever thread drops the last use) once a
 * value is replaced and no receiver holds it any more. */
typedef struct weft_watch_s weft_watch_t;
/* One receiver: the version it last received, and that value. Use it from
 * one task (or thread) at a time. */
typedef struct weft_watch_rx_s weft_watch_rx_t;

/* Destroys a value no longer current nor held by a receiver (not called
 * for NULL). Must not await. */
typedef void (*weft_watch_dtor)(void* value);

/* A channel holding `initial` as version 0. dtor may be NULL (values are
 * never destroyed). 0, WEFT_EINVAL (NULL out), WEFT_ENOMEM. Any thread. */
WEFT_EXTERN int weft_watch_new(void* initial, weft_watch_dtor dtor,
                               weft_watch_t** out);
/* Destroys the current value and frees the channel. WEFT_EBUSY, nothing
 * freed, while receivers are subscribed. NULL: no-op. */
WEFT_EXTERN int weft_watch_free(weft_watch_t* w);
/* Replaces the value, bumps the version and wakes every waiting receiver;
 * never waits. The replaced value is destroyed unless a receiver holds
 * it. 0, WEFT_ECLOSED once closed (the value stays the caller's),
 * WEFT_EINVAL, WEFT_ENOMEM (nothing changed). Any thread. */
WEFT_EXTERN int weft_watch_send(weft_watch_t* w, void* value);
/* Closes: sends fail with WEFT_ECLOSED; receivers get a value they have
 * not received yet, then WEFT_ECLOSED (waiting ones are woken). The value
 * stays readable with weft_watch_get. Closing again is harmless.
 * WEFT_EINVAL for NULL. Any thread. */
WEFT_EXTERN int weft_watch_close(weft_watch_t* w);
/* The current version (a snapshot); 0 for NULL. Any thread. */
WEFT_EXTERN uint64_t weft_watch_version(const weft_watch_t* w);
/* A new receiver, for which the current value counts as received (call
 * weft_watch_get to read it). WEFT_ECLOSED once closed, WEFT_EINVAL,
 * WEFT_ENOMEM; *out is NULL on failure. Any thread. */
WEFT_EXTERN int weft_watch_subscribe(weft_watch_t* w, weft_watch_rx_t** out);
/* Frees the receiver (and gives up the value it holds). WEFT_EBUSY,
 * nothing freed, while a receive waits on it. NULL: no-op. */
WEFT_EXTERN int weft_watch_unsubscribe(weft_watch_rx_t* rx);
/* Waits for a version newer than the receiver's last, then takes the
 * current value: *value gets it, *version (may be NULL) its version. 0;
 * WEFT_ECLOSED once the channel is closed and nothing newer is left;
 * WEFT_ECANCELED (nothing taken: a newer value stays for the next call);
 * WEFT_EINVAL; WEFT_ENOMEM. A newer value already there is returned
 * without awaiting (a pending cancellation waits for the next await).
 * Awaits (from a plain thread: blocks). */
WEFT_EXTERN int weft_watch_recv(weft_watch_rx_t* rx, void** value,
                                uint64_t* version);
/* As recv, never waits: WEFT_EAGAIN when nothing is newer. Any thread. */
WEFT_EXTERN int weft_watch_try_recv(weft_watch_rx_t* rx, void** value,
                                    uint64_t* version);
/* Takes the current value whether or not it is newer (tokio's
 * borrow_and_update), also once closed. 0, WEFT_EINVAL. Never waits. Any
 * thread. */
WEFT_EXTERN int weft_watch_get(weft_watch_rx_t* rx, void** value,
                               uint64_t* version);

/* ------------------------------------------------------------------------
 * Metrics and logging
 * ------------------------------------------------------------------------
 * A snapshot of what the runtime is doing, and a hook for the messages
 * weft itself writes. Every counter counts from the runtime's start and
 * only grows. Each is written by one thread and read without stopping
 * it, so a snapshot is not taken at one instant: the counters of one
 * worker, or of two workers, may be a moment apart. Each value is whole
 * (never torn), and tasks_finished <= tasks_spawned holds. */

/* One worker's counters. */
typedef struct weft_worker_metrics_s {
  /* Times the worker ran a task: started it or resumed it after an await
   * (so a task that awaits twice counts three times), or ran it inline
   * in the task that awaited it. */
  uint64_t tasks_run;
  /* Tasks this worker stole from other workers' queues. */
  uint64_t steals;
  /* Times the worker ran out of tasks and parked (it may have found work
   * again at once, without sleeping). */
  uint64_t parks;
  /* Sleeps in a park that another thread ended (new work, a message);
   * sleeps ended by the worker's own timers or I/O are not counted. */
  uint64_t wakeups;
  /* Tasks waiting in the worker's local queue now. */
  uint64_t local_queue_depth;
  /* I/O operations (reads, writes, connects, file calls, ...) that
   * completed on this worker's loop, where the object lives (served by
   * this worker or by another, see loops_served). */
  uint64_t io_callbacks;
  /* Times this worker served another worker's loop (its I/O, timers,
   * messages and yielded tasks) because that worker had left it unpolled
   * for a millisecond while computing in one task. */
  uint64_t loops_served;
} weft_worker_metrics_t;

/* The runtime's counters. */
typedef struct weft_metrics_s {
  unsigned nworkers;           /* weft_runtime_workers() */
  uint64_t tasks_spawned;      /* weft_spawn calls that succeeded */
  uint64_t tasks_finished;     /* tasks that returned or were cancelled */
  uint64_t tasks_alive;        /* spawned - finished: weft_task_count() */
  uint64_t global_queue_depth; /* tasks in the shared run queue now */
  size_t blocking_threads;     /* weft_blocking_stats_t.threads */
  size_t blocking_busy;        /* weft_blocking_stats_t.busy */
  size_t blocking_queued;      /* weft_blocking_stats_t.queued */
} weft_metrics_t;

/* Fills *out with `rt`'s counters and, if `workers` is not NULL,
 * workers[0 .. nworkers) with each worker's (indexed as weft_worker_id());
 * workers may be NULL for the runtime's counters alone. Returns
 * WEFT_EINVAL for a NULL rt or out, or a workers array shorter than
 * weft_runtime_workers(rt) (nworkers_cap): nothing is written then. Never
 * blocks a worker: the cost is a few loads per worker and the executor's
 * lock. Any thread, while the runtime is alive (not during or after
 * weft_runtime_free). */
WEFT_EXTERN int weft_runtime_metrics(const weft_runtime_t* rt,
                                     weft_metrics_t* out,
                                     weft_worker_metrics_t* workers,
                                     size_t nworkers_cap);

/* Severity of a message from weft (Python's logging values). */
enum { WEFT_LOG_DEBUG = 10, WEFT_LOG_WARN = 30, WEFT_LOG_ERROR = 40 };

/* Receives each message weft writes: its level, the text (one line, no
 * "weft: " prefix, no newline; valid during the call only) and the `arg`
 * given to weft_set_log. Called on the thread that logs, which may be a
 * worker running a task: it must not await or block for long. An ERROR
 * may be the last words of a failed internal check, after which the
 * process aborts. */
typedef void (*weft_log_fn)(int level, const char* msg, void* arg);

/* Sends weft's messages to fn(level, msg, arg) instead of the default,
 * which writes "weft: " msg to stderr for WARN and ERROR and drops DEBUG.
 * fn NULL restores the default. Process-wide, for every runtime. Any
 * thread; a message being logged meanwhile may still reach the previous
 * hook, so keep `arg` alive until no runtime that could log remains.
 * The stack-overflow report is the one message that bypasses the hook: it
 * is written from a signal handler, straight to stderr. */
WEFT_EXTERN void weft_set_log(weft_log_fn fn, void* arg);

/* ------------------------------------------------------------------------
 * Debugging
 *
 * Debug mode (weft_config_t.debug, or WEFT_DEBUG=1 in the environment of
 * a runtime whose config has WEFT_CONFIG_ENV)
 * turns on three reports, written to stderr as lines starting "weft: ":
 *  - a task spawned with a handle whose status nobody read (no weft_await,
 *    weft_task_result, combinator or task future) when its handle is
 *    released: "task 'name' (id N) was never awaited". Reported when the
 *    last reference goes: at the release if the task had finished, at its
 *    end otherwise. Spawn with a NULL `out` to detach a task on purpose.
 *  - a task that holds a worker longer than slow_task_ms (default 100)
 *    without an await: "slow task: 'name' (id N) has held worker W for
 *    T ms", once per stall, and again when the worker moves on, with the
 *    task's stack: function names only for exported symbols, so link with
 *    -rdynamic to see yours (weft_task_dump says more).
 *  - at weft_runtime_free, every task still alive, before it is cancelled,
 *    and every I/O object still open (server, stream, UDP socket, file,
 *    process: "shutdown: TCP stream 127.0.0.1:5000 -> 127.0.0.1:41234
 *    still open on worker 0; closing it") before the runtime closes it.
 * Outside debug mode none of this costs more than a predictable branch.
 * See docs/debugging.md.
 * ------------------------------------------------------------------------ */

/* Prints every task of `rt` (NULL: the caller's runtime) to `out` (NULL:
 * stderr): id, name, state, the worker it last ran on, what it waits on
 * (a sleep, another task, a future, an I/O operation), and for a
 * suspended task the return addresses on its stack, with the symbols
 * dladdr() finds (x86-64: build the program with frame pointers for a
 * full chain). dladdr() sees only exported symbols: link the program with
 * -rdynamic (CMake: ENABLE_EXPORTS) to name its non-static functions;
 * everything else prints as file+offset, for addr2line. Debug mode's
 * slow-task backtraces are symbolized the same way. Also what each worker
 * is running. Finished tasks whose
 * handles are still held are listed as done.
 *
 * A snapshot taken while the tasks go on: it never waits for a task or a
 * worker, reads stacks only within their bounds, and so never hangs or
 * crashes, but a task may be seen mid-change (then a line says less). Any
 * thread, tasks included. Returns the number of tasks listed, or
 * WEFT_EINVAL when `rt` is NULL outside a runtime. */
WEFT_EXTERN int weft_task_dump(weft_runtime_t* rt, FILE* out);

/* ------------------------------------------------------------------------
 * Deterministic mode
 *
 * For tests, and for replaying a concurrency bug in your own code
 * (weft_config_t.deterministic and .seed, or WEFT_SEED=N in the
 * environment with WEFT_CONFIG_ENV): the runtime gets one worker, and at every
 * switch the task to run next is drawn from all runnable tasks by a generator
 * seeded with the seed. The same seed gives the same order of tasks, run after
 * run; other seeds give other orders. Run a test over many seeds to shake out
 * ordering bugs, then replay the seed that failed under a debugger.
 *
 * Time is virtual: weft_now_ns() in the runtime's tasks, sleeps and
 * timeouts read a clock that starts at 0 and moves only when no task can
 * run, straight to the next deadline. An hour's sleep returns at once, and
 * a timeout never races the computation it bounds. Executor calls and file
 * and DNS requests take no virtual time: when nothing else can run (and
 * every 61 switches) the worker waits for those in flight, and their ends
 * wake their tasks in the order the calls were made. A call that waits for
 * one of the runtime's own tasks, or runs longer than a second, is waited
 * for one real second at most; the run then goes on, no longer
 * reproducible, and says so once through the log hook.
 *
 * What stays outside the seed: when sockets, pipes and processes become
 * ready (polled at the same points, so runs over loopback between the
 * program's own tasks repeat, runs against a real network need not), a
 * timeout on such I/O (the clock jumps past it whenever nothing else can
 * run: give peers outside the runtime no timeout in this mode), signals,
 * and threads outside the runtime. See docs/debugging.md.
 * ------------------------------------------------------------------------ */

/* ------------------------------------------------------------------------
 * I/O
 *
 * Every I/O object (stream, server, UDP socket, file, process, signal
 * watcher) lives on the worker that created it: its libuv handle belongs to
 * that worker's loop. A task on any worker may use it: the call enters that
 * loop from where the task runs (it takes the loop for the call's length),
 * or, when the home worker sleeps in its loop, moves the task there. A loop
 * is served by its worker, or, while that worker computes in one task
 * without awaiting, by another worker: no I/O waits behind a computation
 * while a worker is free (docs/design.md). Every call below is made from a task
 * and awaits, unless it says otherwise; each returns WEFT_ENOTTASK elsewhere.
 * Failures are negative codes: WEFT_* or libuv's UV_* (which are -errno on
 * Unix, so UV_ECONNRESET == -ECONNRESET). weft_strerror() knows both. Every
 * waiting call can be cancelled (WEFT_ECANCELED) and bounded with
 * weft_timeout_enter() or weft_wait_for(); a cancelled call loses no data.
 * Objects still open when the runtime is freed are closed and freed by it.
 * ------------------------------------------------------------------------ */

struct uv_loop_s;
struct sockaddr;
struct sockaddr_storage;

/* -- libuv interop -- */

/* The loop of the worker running the calling task; NULL outside a task.
 * The task holds the loop until its next await (the task may then move),
 * and may call libuv on it until then; other tasks wanting that loop wait
 * meanwhile, so await soon. */
WEFT_EXTERN struct uv_loop_s* weft_uv_loop(void);

/* Moves the calling task to the worker that owns `loop` (one of the
 * runtime's loops, from weft_uv_loop) and returns 0 once it runs there,
 * holding the loop: until its next await the task may call libuv on it.
 * If that worker is computing in a long task, this waits for it. A handle a
 * task creates on weft_uv_loop() belongs to that loop: come back with
 * weft_uv_enter(loop) before touching it after an await. WEFT_EINVAL for a
 * loop that is not the runtime's. Awaits only when it has to move. */
WEFT_EXTERN int weft_uv_enter(struct uv_loop_s* loop);

/* One libuv operation being awaited (see weft_uv_await). */
typedef struct weft_uv_op_s weft_uv_op_t;
/* Starts the operation on `loop` (held by the calling task), passing `op`
 * to its callback (through req->data, say). Returns 0, or a negative code that
 * weft_uv_await then returns without waiting. */
typedef int (*weft_uv_start_fn)(struct uv_loop_s* loop, weft_uv_op_t* op,
                                void* arg);
/* Asks the operation to end early (uv_cancel, uv_close, ...). Runs while
 * the loop is held by whoever serves it (any worker's thread); its callback
 * must still call weft_uv_done. */
typedef void (*weft_uv_cancel_fn)(weft_uv_op_t* op, void* arg);

/* Awaits any libuv callback: enters `loop` (NULL: the current worker's),
 * calls start(loop, op, arg) and parks until the operation's
 * callback calls weft_uv_done(op, status); returns that status. The wait
 * always lasts until the callback (libuv may still use the request); a
 * cancellation calls `cancel` (when given) to hurry it, and the call then
 * returns WEFT_ECANCELED if the status was UV_ECANCELED. Without `cancel`
 * a cancellation is delivered at the task's next await. */
WEFT_EXTERN int weft_uv_await(struct uv_loop_s* loop, weft_uv_start_fn start,
                              weft_uv_cancel_fn cancel, void* arg);

/* Ends a weft_uv_await: call it exactly once from the operation's libuv
 * callback (or from start/cancel). Callbacks of a worker's loop run on
 * whichever worker's thread serves the loop at that moment. */
WEFT_EXTERN void weft_uv_done(weft_uv_op_t* op, int status);

/* -- Streams (asyncio's StreamReader and StreamWriter in one object) -- */

/* A connected byte stream: TCP, a Unix domain socket, a pipe to a
 * subprocess, a descriptor (weft_stream_open_fd), any of them with TLS on
 * top (weft_tls_start): every call below works the same on each. */
typedef struct weft_stream_s weft_stream_t;

#define WEFT_STREAM_LIMIT_DEFAULT (64u * 1024u)
#define WEFT_HIGH_WATER_DEFAULT (64u * 1024u)
#define WEFT_LOW_WATER_DEFAULT (16u * 1024u)

/* Reads up to `n` bytes (n > 0): returns how many (> 0) as soon as any are
 * buffered, 0 at end of stream, or an error. */
WEFT_EXTERN ptrdiff_t weft_stream_read(weft_stream_t* s, void* buf, size_t n);

/* Reads exactly `n` bytes. Returns 0; at end of stream first, WEFT_EOF
 * with *got bytes (all that arrived, now in buf and consumed), as
 * asyncio's IncompleteReadError. `got` may be NULL. */
WEFT_EXTERN int weft_stream_readexactly(weft_stream_t* s, void* buf, size_t n,
                                        size_t* got);

/* Reads through the first `sep` (seplen > 0) and returns the length,
 * separator included, copied to buf. If the separator is not within the
 * stream's limit: WEFT_ELIMIT, and nothing is consumed (the bytes stay
 * readable). If it is found but does not fit in `cap`: WEFT_ENOBUFS,
 * nothing consumed. At end of stream without it: WEFT_EOF, nothing
 * consumed (read the rest with weft_stream_read). */
WEFT_EXTERN ptrdiff_t weft_stream_readuntil(weft_stream_t* s, const void* sep,
                                            size_t seplen, void* buf,
                                            size_t cap);

/* readuntil "\n", except that at end of stream the last partial line is
 * returned (0 once nothing is left), as asyncio's readline. */
WEFT_EXTERN ptrdiff_t weft_stream_readline(weft_stream_t* s, char* buf,
                                           size_t cap);

/* 1 once the peer closed its side and the buffer is empty, else 0 (or an
 * error such as WEFT_ECLOSED). Never waits. */
WEFT_EXTERN int weft_stream_at_eof(weft_stream_t* s);

/* The readuntil/readline limit (default WEFT_STREAM_LIMIT_DEFAULT; also
 * how much is read ahead). WEFT_EINVAL for 0. */
WEFT_EXTERN int weft_stream_set_limit(weft_stream_t* s, size_t limit);

/* Buffered write: sends what the socket takes now and queues the rest
 * (copied); never waits for the peer. Returns 0 or the stream's write
 * error (WEFT_ECLOSED after close or shutdown, UV_EPIPE, ...). Pair with
 * weft_stream_drain for backpressure. */
WEFT_EXTERN int weft_stream_write(weft_stream_t* s, const void* data,
                                  size_t len);

/* Waits while more than the high watermark is queued, until at most the
 * low watermark is; returns at once otherwise. 0 or the write error. An
 * await point: a pending cancellation is delivered (WEFT_ECANCELED) even
 * when nothing is queued. */
WEFT_EXTERN int weft_stream_drain(weft_stream_t* s);

/* Watermarks for drain (defaults 64 KiB and 16 KiB); low <= high, else
 * WEFT_EINVAL. (0, 0) makes drain wait until everything is sent. */
WEFT_EXTERN int weft_stream_set_watermarks(weft_stream_t* s, size_t high,
                                           size_t low);

/* Bytes written but not yet handed to the kernel. Never waits. */
WEFT_EXTERN size_t weft_stream_write_buffer_size(weft_stream_t* s);

/* Half-close: sends what is queued, then end of stream (write_eof). Reading
 * goes on. */
WEFT_EXTERN int weft_stream_shutdown(weft_stream_t* s);

/* Closes: sends what is queued (give up with a timeout or a cancellation),
 * closes, waits until closed (wait_closed) and frees. Tasks waiting on the
 * stream get WEFT_ECLOSED. Returns 0 or the error that lost queued data.
 * NULL: no-op. Call it once; the stream is gone afterwards. */
WEFT_EXTERN int weft_stream_close(weft_stream_t* s);

/* Closes at once, dropping queued data (a TCP stream sends a reset), and
 * frees. NULL: no-op. */
WEFT_EXTERN int weft_stream_abort(weft_stream_t* s);

/* A stream over a descriptor the program already has: a pipe or FIFO
 * end, a terminal, a connected TCP or Unix socket (asyncio's
 * connect_read_pipe / connect_write_pipe). The stream takes the descriptor
 * over (it is made non-blocking; a terminal is reopened by libuv so that
 * other processes sharing it stay blocking) and closing the stream closes
 * it, except 0, 1 and 2, which stay open. The stream lives on the calling
 * task's worker. Returns UV_EBADF for a descriptor that is not open,
 * WEFT_EINVAL for a negative one or one that is not a byte stream (a
 * regular file: use weft_file_open; a UDP socket), WEFT_ENOMEM; on failure
 * the descriptor is left open and unchanged. Never waits. */
WEFT_EXTERN int weft_stream_open_fd(int fd, weft_stream_t** out);

/* TCP options and addresses (WEFT_EINVAL on a pipe). Never wait, but move
 * to the stream's worker if needed. */
WEFT_EXTERN int weft_stream_nodelay(weft_stream_t* s, int enable);
WEFT_EXTERN int weft_stream_keepalive(weft_stream_t* s, int enable,
                                      unsigned delay_s);
WEFT_EXTERN int weft_stream_peername(weft_stream_t* s,
                                     struct sockaddr_storage* addr);
WEFT_EXTERN int weft_stream_sockname(weft_stream_t* s,
                                     struct sockaddr_storage* addr);

/* -- TCP -- */

/* asyncio.open_connection: resolves `host` (a name or a literal address)
 * and tries each address in turn; returns the first that connects, or the
 * last error. */
WEFT_EXTERN int weft_tcp_connect(const char* host, unsigned port,
                                 weft_stream_t** out);

/* A listening TCP server (asyncio.start_server). */
typedef struct weft_server_s weft_server_t;

/* The per-connection handler: runs as its own task, on the worker the
 * connection was handed to. The server closes `conn` when it returns
 * (unless the handler closed it). The task is detached, so nobody reads
 * the status it returns: handle errors in the handler. In debug mode a
 * status other than 0 and WEFT_ECANCELED is reported on stderr
 * ("connection handler (task N) returned EPROTO: ..."). */
typedef int (*weft_conn_fn)(weft_stream_t* conn, void* arg);

typedef struct weft_tls_s weft_tls_t;

typedef struct weft_server_config_s {
  size_t size; /* sizeof(weft_server_config_t), or 0 (see WEFT_CONFIG_INIT) */
  int backlog; /* listen backlog; 0: 4096 */
  /* 0: one listener accepts and hands connections to the workers in turn.
   * WEFT_SERVE_REUSEPORT: one SO_REUSEPORT listener per worker, the
   * kernel spreads connections (see docs/design.md for the comparison). */
  unsigned flags;
  size_t stack_size; /* handler tasks' stacks; 0: the runtime's */
  /* A server TLS context (weft_tls_new, WEFT_TLS_SERVER), or NULL: each
   * connection's task runs the handshake (weft_tls_start) before the
   * handler, which gets a TLS stream; a connection whose handshake fails
   * is closed and the handler is not called. The server holds a reference
   * on the context until it is closed (weft_tls_free may come first). */
  weft_tls_t* tls;
  /* How long a connection's handshake may take, in ms; 0: 10000. */
  unsigned tls_handshake_timeout_ms;
} weft_server_config_t;

#define WEFT_SERVE_REUSEPORT 1u

/* Listens on host:port and serves each connection with handler(conn, arg).
 * `host` is a literal address or a name, resolved, of which the first
 * address is used. host NULL means "0.0.0.0": every IPv4 interface, not
 * IPv6; pass "::" for IPv6 and IPv4 both (one dual-stack socket, under
 * Linux's default net.ipv6.bindv6only=0). Port 0: any free port, see
 * weft_server_port. cfg may be NULL. */
WEFT_EXTERN int weft_tcp_serve(const char* host, unsigned port,
                               weft_conn_fn handler, void* arg,
                               const weft_server_config_t* cfg,
                               weft_server_t** out);
/* The bound port. Any thread. */
WEFT_EXTERN unsigned weft_server_port(const weft_server_t* srv);
/* Connections accepted so far, and accept pauses for lack of descriptors
 * (EMFILE/ENFILE: the server waits, then resumes). Any thread. */
WEFT_EXTERN void weft_server_stats(const weft_server_t* srv, uint64_t* accepted,
                                   uint64_t* fd_pauses);
/* Stops accepting, closes the listeners and frees the server. Running
 * handlers go on. NULL: no-op. */
WEFT_EXTERN int weft_server_close(weft_server_t* srv);

/* -- Unix domain sockets -- */

/* asyncio.open_unix_connection: connects to the stream socket at `path`
 * (a file system path, shorter than 108 bytes). UV_ENOENT when nothing is
 * there, UV_ECONNREFUSED when nobody listens; WEFT_EINVAL for a NULL,
 * empty or long path. */
WEFT_EXTERN int weft_unix_connect(const char* path, weft_stream_t** out);

/* asyncio.start_unix_server: weft_tcp_serve at a Unix socket path. A
 * socket file already at `path` (left by an earlier server) is replaced;
 * any other file there gives UV_EADDRINUSE. The file is removed when the
 * server closes (if it is still the one the server made). The handler's
 * streams are pipes: the TCP calls (weft_stream_nodelay, _peername) give
 * WEFT_EINVAL on them. cfg as for TCP, including TLS; WEFT_SERVE_REUSEPORT
 * is WEFT_EINVAL here. weft_server_port() is 0. */
WEFT_EXTERN int weft_unix_serve(const char* path, weft_conn_fn handler,
                                void* arg, const weft_server_config_t* cfg,
                                weft_server_t** out);

/* -- TLS (OpenSSL) --
 *
 * A TLS context holds the settings (certificates, what to verify, ALPN);
 * weft_tls_start turns a connected stream into a TLS stream, in place, as
 * asyncio's start_tls: afterwards every weft_stream_* call reads and writes
 * plaintext over TLS, with the same limits, backpressure, cancellation and
 * timeouts, so code written for a plain stream (an HTTP client, a line
 * protocol) runs over TLS unchanged. Differences from a plain stream:
 *  - weft_stream_read and friends return 0 (end of stream) only after the
 *    peer's close_notify. A connection that ends without one gives
 *    WEFT_ETRUNCATED once the bytes before it are read (a truncation
 *    attack cannot pass for a complete message).
 *  - weft_stream_shutdown sends close_notify, then ends the TCP side;
 *    weft_stream_close sends close_notify before closing (neither waits
 *    for the peer's); weft_stream_abort sends nothing.
 *  - A fatal TLS error (a bad record, an alert) fails the stream with
 *    WEFT_ETLS: reads return it after what was already decrypted, writes
 *    and drains at once. weft_tls_error() says what happened.
 *  - weft_stream_write_buffer_size counts encrypted bytes.
 *  - Renegotiation (TLS 1.2) is refused, whichever side asks.
 * In a build without OpenSSL (-DWEFT_TLS=OFF) these functions exist and
 * return WEFT_ENOTSUP. */

#define WEFT_TLS_CLIENT 0
#define WEFT_TLS_SERVER 1
#define WEFT_TLS_1_2 0x0303 /* protocol versions, as on the wire */
#define WEFT_TLS_1_3 0x0304
/* A client that does not check the server's certificate or name: for
 * tests against a throwaway certificate only. */
#define WEFT_TLS_NO_VERIFY 1u
/* A server that asks every client for a certificate and checks it against
 * ca_file / ca_dir (mutual TLS); a client without a valid one fails. */
#define WEFT_TLS_VERIFY_CLIENT 2u

/* Settings of a TLS context. A zeroed struct (or NULL) means the defaults:
 * a client that verifies the server against the system's CA store, TLS
 * 1.2 and 1.3. */
typedef struct weft_tls_opts_s {
  /* PEM certificate chain (leaf first) and its private key: required for
   * a server; a client sends them to a server that asks (mutual TLS). */
  const char* cert_file;
  const char* key_file;
  /* PEM CA certificates (a file, and/or a directory in OpenSSL's hashed
   * layout) to verify the peer with: a client's instead of the system
   * store; a server's for client certificates (WEFT_TLS_VERIFY_CLIENT,
   * which needs one of them). */
  const char* ca_file;
  const char* ca_dir;
  /* ALPN protocols, comma-separated in order of preference ("h2,http/1.1"):
   * offered by a client; chosen from by a server (its first that the
   * client offers; none in common: no ALPN, the handshake goes on). */
  const char* alpn;
  int min_version; /* WEFT_TLS_1_2 or WEFT_TLS_1_3; 0: 1.2 */
  int max_version; /* 0: the newest OpenSSL speaks */
  unsigned flags;  /* WEFT_TLS_NO_VERIFY, WEFT_TLS_VERIFY_CLIENT */
} weft_tls_opts_t;

/* 1 if weft was built with TLS, 0 if not. Any thread. */
WEFT_EXTERN int weft_tls_available(void);

/* A context for mode WEFT_TLS_CLIENT or WEFT_TLS_SERVER; opts may be NULL
 * (not for a server). Loads the files now. Returns 0, WEFT_EINVAL (a bad
 * mode, a server without cert_file and key_file, only one of the two, a
 * bad version or ALPN list, WEFT_TLS_VERIFY_CLIENT without a CA or on a
 * client), a file's read error (UV_ENOENT, UV_EACCES),
 * WEFT_ETLS (a file OpenSSL cannot use, or a key that does not match the
 * certificate: the reason goes to the log hook, WEFT_LOG_WARN),
 * WEFT_ENOMEM, WEFT_ENOTSUP without TLS. Any thread; need not be in a
 * task. The context may be shared by any number of streams, servers,
 * tasks and workers at once. */
WEFT_EXTERN int weft_tls_new(int mode, const weft_tls_opts_t* opts,
                             weft_tls_t** out);

/* Drops the creator's reference: streams and servers using the context
 * keep it alive until they are closed. NULL: no-op. Any thread. */
WEFT_EXTERN int weft_tls_free(weft_tls_t* tls);

/* Runs the TLS handshake on the connected stream `s` (client or server,
 * as the context says) and returns 0 once it is done: `s` is then a TLS
 * stream. A client names the server in `server_name`: sent as SNI (unless
 * an address literal) and checked against the certificate; required
 * unless WEFT_TLS_NO_VERIFY. A server passes NULL. Bytes `s` read ahead
 * before the call count as handshake input (STARTTLS protocols work).
 * No other call should use `s` during the handshake (a write gets
 * WEFT_EBUSY). Returns WEFT_ECERT if the peer's certificate does not
 * verify (weft_tls_verify_error and weft_tls_error say why: self-signed,
 * expired, host name mismatch, ...), WEFT_ETLS for any other TLS failure
 * (no common version or cipher, an alert, not TLS at all: see
 * weft_tls_error), the socket's error (UV_ECONNRESET) or WEFT_ETLS if the
 * peer closes during the handshake, WEFT_EBUSY if `s` is TLS already,
 * the stream's write error if the handshake cannot be sent (WEFT_ECLOSED
 * after weft_stream_shutdown), WEFT_EINVAL, WEFT_ENOMEM, WEFT_ECANCELED.
 * With TLS 1.3 a client is done before the server has checked a client
 * certificate: a refusal comes as WEFT_ETLS on its first read. After a
 * failure, a
 * cancellation or a timeout the stream is of no further use: close it
 * (weft_tls_error first, for the reason). Awaits. */
WEFT_EXTERN int weft_tls_start(weft_stream_t* s, weft_tls_t* tls,
                               const char* server_name);

/* weft_tcp_connect then weft_tls_start with `host` as the server name; on
 * a handshake failure the stream is closed and the code returned (for the
 * reason, connect and start yourself). A server context: WEFT_EINVAL. */
WEFT_EXTERN int weft_tls_connect(const char* host, unsigned port,
                                 weft_tls_t* tls, weft_stream_t** out);

/* What failed on TLS stream `s`, in words, into buf (NUL-terminated, cut
 * to fit); "" if nothing did: "certificate verify failed: certificate has
 * expired", "TLS handshake failed: wrong version number", "the peer closed
 * the connection without a TLS close_notify", ... WEFT_EINVAL for a stream
 * without TLS. Never waits. */
WEFT_EXTERN int weft_tls_error(weft_stream_t* s, char* buf, size_t cap);

/* Why the peer's certificate did not verify: OpenSSL's X509_V_ERR_* code
 * (X509_V_ERR_HOSTNAME_MISMATCH, ..._CERT_HAS_EXPIRED,
 * ..._DEPTH_ZERO_SELF_SIGNED_CERT, ...), 0 if it did or was not checked,
 * WEFT_EINVAL for a stream without TLS. Never waits. */
WEFT_EXTERN int weft_tls_verify_error(weft_stream_t* s);

/* The protocol ALPN chose ("h2"), "" if none; WEFT_ENOBUFS if it does not
 * fit. Never waits. */
WEFT_EXTERN int weft_tls_alpn(weft_stream_t* s, char* buf, size_t cap);

/* The TLS version in use ("TLSv1.3"), "" before the handshake ends.
 * Never waits. */
WEFT_EXTERN int weft_tls_version(weft_stream_t* s, char* buf, size_t cap);

/* -- DNS -- */

/* getaddrinfo through libuv: the addresses of host (a name or a literal)
 * for `port`, up to `max` (>= 1) of them into addrs, in the system's
 * order, without duplicates; *n gets how many (the rest are left out).
 * `family` 0 (any), AF_INET or AF_INET6. A literal address of that family
 * is parsed without awaiting. Lookup failures are libuv's UV_EAI_* codes
 * (UV_EAI_NONAME, ...); WEFT_EINVAL for NULL, max 0, a port over 65535 or
 * another family. */
WEFT_EXTERN int weft_getaddrinfo(const char* host, unsigned port, int family,
                                 struct sockaddr_storage* addrs, size_t max,
                                 size_t* n);
/* getnameinfo: the host name (or literal, if it has none) of addr (an
 * AF_INET or AF_INET6 address) into host, NUL-terminated; WEFT_ENOBUFS if
 * it does not fit in cap. */
WEFT_EXTERN int weft_getnameinfo(const struct sockaddr* addr, char* host,
                                 size_t cap);

/* -- UDP -- */

typedef struct weft_udp_s weft_udp_t;

/* A UDP socket bound to host:port (host NULL: all interfaces of the
 * family of "0.0.0.0"; port 0: any). */
WEFT_EXTERN int weft_udp_bind(const char* host, unsigned port,
                              weft_udp_t** out);
/* Sends one datagram (at most 65536 bytes, else UV_EMSGSIZE) to addr;
 * waits until it is handed to the kernel: usually at once, without
 * awaiting; only a full socket buffer makes it wait, and a cancellation
 * does not cut that wait short (it is delivered at the next await).
 * WEFT_ECLOSED if the socket is closed meanwhile. */
WEFT_EXTERN int weft_udp_send(weft_udp_t* u, const void* data, size_t len,
                              const struct sockaddr* addr);
/* Receives one datagram: its length (truncated to cap), sender in *from
 * (may be NULL). Datagrams that arrive with nobody receiving are queued,
 * up to 256 of them; more are dropped (counted in weft_udp_dropped). A
 * queued datagram is returned without awaiting. Several tasks may receive
 * at once: they are served in the order they began to wait. A cancelled
 * receive takes no datagram. WEFT_ECLOSED once the socket is closed. */
WEFT_EXTERN ptrdiff_t weft_udp_recv(weft_udp_t* u, void* buf, size_t cap,
                                    struct sockaddr_storage* from);
/* Datagrams dropped so far because the queue was full. Any thread. */
WEFT_EXTERN uint64_t weft_udp_dropped(const weft_udp_t* u);
WEFT_EXTERN int weft_udp_sockname(weft_udp_t* u, struct sockaddr_storage* addr);
/* Closes and frees; tasks waiting to receive get WEFT_ECLOSED, queued
 * datagrams are dropped. NULL: no-op. */
WEFT_EXTERN int weft_udp_close(weft_udp_t* u);

/* -- Files (libuv's fs, on libuv's thread pool) -- */

/* An open file. It lives on the worker that opened it; a task on any other
 * worker may use it (the call moves there). read, write and readline use
 * the file's own position and, when tasks share a file, run one at a time
 * in call order; pread, pwrite, fsync and size run concurrently.
 *
 * Cancellation: every file and path call returns WEFT_ECANCELED at once
 * when cancelled, even while libuv's thread pool runs a request that
 * blocks (an open or a read of a FIFO nobody writes to); the request then
 * finishes in the background and its result is dropped (an open's
 * descriptor is closed; bytes a read of a FIFO or terminal gets are kept
 * for the file's next read; a write may still happen). The exception is a
 * read or write of a regular file into or from the caller's buffer, which
 * the disk ends on its own: it completes and returns its result, and the
 * cancellation comes at the next await. weft_file_close waits for the
 * file's background requests; weft_runtime_free ends a background open of
 * a FIFO by opening it itself. */
typedef struct weft_file_s weft_file_t;

/* open(2) flags and mode (O_RDONLY, O_WRONLY|O_CREAT|O_TRUNC, ...); the
 * descriptor is close-on-exec. *out is NULL on failure. */
WEFT_EXTERN int weft_file_open(const char* path, int flags, int mode,
                               weft_file_t** out);
/* Reads at the file position: bytes read (maybe fewer than n; what
 * readline read ahead comes first), 0 at end of file. */
WEFT_EXTERN ptrdiff_t weft_file_read(weft_file_t* f, void* buf, size_t n);
/* Writes all n bytes at the file position (O_APPEND: at the end of the
 * file; the position stays) and returns n. Fewer only when an error or a
 * cancellation stopped it part way, as write(2) reports it; a
 * cancellation is then delivered at the next await. */
WEFT_EXTERN ptrdiff_t weft_file_write(weft_file_t* f, const void* buf,
                                      size_t n);
/* At an offset (>= 0); the file position does not move. pread may return
 * fewer than n; pwrite writes all of it, as weft_file_write. */
WEFT_EXTERN ptrdiff_t weft_file_pread(weft_file_t* f, void* buf, size_t n,
                                      int64_t offset);
WEFT_EXTERN ptrdiff_t weft_file_pwrite(weft_file_t* f, const void* buf,
                                       size_t n, int64_t offset);
/* Reads one line ('\n' included, no NUL added) through an internal buffer
 * (64 KiB, grown for longer lines up to cap), so a large file is read line
 * by line without loading it whole: the length, the last line even without
 * '\n', 0 at end of file, WEFT_ELIMIT for a line longer than cap (nothing
 * consumed: weft_file_read gets it). */
WEFT_EXTERN ptrdiff_t weft_file_readline(weft_file_t* f, char* buf, size_t cap);
WEFT_EXTERN int weft_file_fsync(weft_file_t* f);
/* Size in bytes, or a negative error. */
WEFT_EXTERN int64_t weft_file_size(weft_file_t* f);
/* Closes and frees. Calls already running on the file finish first; calls
 * waiting for their turn, and calls made meanwhile, get WEFT_ECLOSED. Not
 * cancellable: a cancellation is delivered at the next await. NULL: no-op.
 * A file never closed is closed when the runtime is freed. */
WEFT_EXTERN int weft_file_close(weft_file_t* f);

typedef struct weft_stat_s {
  uint64_t size;
  uint64_t mode;    /* st_mode */
  int64_t mtime_ns; /* since the epoch */
} weft_stat_t;

/* Follows symbolic links. */
WEFT_EXTERN int weft_fs_stat(const char* path, weft_stat_t* st);
WEFT_EXTERN int weft_fs_rename(const char* from, const char* to);
WEFT_EXTERN int weft_fs_unlink(const char* path);
WEFT_EXTERN int weft_fs_mkdir(const char* path, int mode);
WEFT_EXTERN int weft_fs_rmdir(const char* path);
/* Calls fn(name, is_dir, arg) for each entry of a directory (not "." or
 * ".."), in the order the system gives; is_dir follows symbolic links. fn
 * may await; fn returning non-zero stops the scan and becomes the result. */
WEFT_EXTERN int
weft_fs_scandir(const char* path,
                int (*fn)(const char* name, int is_dir, void* arg), void* arg);
/* Reads a whole (small) file into a malloc'd, NUL-terminated buffer; *len
 * gets its length (len may be NULL). Free it with free(). *data is NULL on
 * failure. */
WEFT_EXTERN int weft_fs_read_file(const char* path, char** data, size_t* len);
/* Creates (mode 0666 less the umask) or truncates path and writes data. */
WEFT_EXTERN int weft_fs_write_file(const char* path, const void* data,
                                   size_t len);

/* -- Subprocesses -- */

typedef struct weft_process_s weft_process_t;

#define WEFT_STDIO_INHERIT 0 /* the child shares the parent's */
#define WEFT_STDIO_PIPE 1    /* a stream to the child (weft_process_stdin...) */
#define WEFT_STDIO_NULL 2    /* /dev/null */

typedef struct weft_process_opts_s {
  size_t size;     /* sizeof(weft_process_opts_t), or 0 (WEFT_CONFIG_INIT) */
  const char* cwd; /* NULL: the parent's */
  char** env;      /* NULL-terminated "K=V"; NULL: the parent's */
  int stdin_mode;  /* WEFT_STDIO_* */
  int stdout_mode;
  int stderr_mode;
} weft_process_opts_t;

/* create_subprocess_exec: runs argv[0] (searched in PATH) with argv
 * (NULL-terminated). opts may be NULL (inherit everything). The process
 * and its pipes belong to the calling task's worker. A program that cannot
 * be run gives libuv's error (UV_ENOENT, UV_EACCES, ...); a NULL or empty
 * argv or an unknown stdio mode, WEFT_EINVAL. */
WEFT_EXTERN int weft_process_exec(char* const argv[],
                                  const weft_process_opts_t* opts,
                                  weft_process_t** out);
/* create_subprocess_shell: /bin/sh -c cmd. */
WEFT_EXTERN int weft_process_shell(const char* cmd,
                                   const weft_process_opts_t* opts,
                                   weft_process_t** out);
/* The pipes (NULL unless WEFT_STDIO_PIPE). They belong to the process:
 * do not close them, except stdin (close it to send end of file). Never
 * wait. */
WEFT_EXTERN weft_stream_t* weft_process_stdin(weft_process_t* p);
WEFT_EXTERN weft_stream_t* weft_process_stdout(weft_process_t* p);
WEFT_EXTERN weft_stream_t* weft_process_stderr(weft_process_t* p);
WEFT_EXTERN int weft_process_pid(const weft_process_t* p);
/* Waits for the exit: *exit_status the exit code, or minus the signal
 * number for a child killed by a signal (-15 for SIGTERM, as asyncio's
 * returncode; either may be NULL). Several
 * tasks may wait at once, from any worker; once the child has exited it
 * returns at once, as often as asked. A cancelled wait can be retried. */
WEFT_EXTERN int weft_process_wait(weft_process_t* p, int* exit_status);
/* Sends a signal (SIGTERM: terminate, SIGKILL: kill). Never waits, but
 * enters the process's loop. UV_ESRCH once it has exited. */
WEFT_EXTERN int weft_process_kill(weft_process_t* p, int signum);
/* communicate: writes `input` (may be NULL) to stdin and closes it, reads
 * stdout and stderr to the end (concurrently) into malloc'd buffers
 * (free() them; out/err may be NULL to discard), then waits for the exit.
 * The buffers are NUL-terminated (the lengths leave the NUL out); a stream
 * that is not a pipe gives NULL and 0. A child that exits without reading
 * all its input is no error (UV_EPIPE is ignored). Up to two helper tasks
 * do the work beside the caller. WEFT_EINVAL for input when stdin is not a
 * pipe. On an error or a cancellation nothing is returned, the pipes may
 * have lost data, and the process is left to wait for or free. */
WEFT_EXTERN int weft_process_communicate(weft_process_t* p, const void* input,
                                         size_t input_len, char** out,
                                         size_t* out_len, char** err,
                                         size_t* err_len, int* exit_status);
/* Frees the process (and its pipes). If it is still running it is killed
 * (SIGKILL) and reaped first: no zombie is left. That wait cannot be
 * cancelled (a cancellation stays pending for the next await); pipes left
 * open are aborted, dropping what stdin had queued. No other task may use
 * the process then. NULL: no-op. */
WEFT_EXTERN int weft_process_free(weft_process_t* p);

/* -- Signals -- */

/* Waits until the process receives `signum` (SIGINT, SIGTERM, ...) and
 * returns 0. While a task waits, the signal no longer does its default
 * action (the process is not killed by it); once no task waits, it does
 * again, so a signal that comes between two waits is not held for the
 * next one (a service that must see every SIGTERM uses a signal stream,
 * below). One signal wakes every task waiting for it. WEFT_EINVAL for
 * SIGKILL, SIGSTOP and numbers outside 1..NSIG-1. */
WEFT_EXTERN int weft_signal_wait(int signum);

/* A signal stream: every delivery of a set of signals, in turn, for a
 * service that handles SIGHUP, SIGTERM or SIGINT for its whole life. From
 * open to close the signals never do their default action: a second
 * SIGTERM that comes while the program handles the first is queued for
 * the next weft_signal_stream_next, not fatal (weft_signal_wait watches
 * only while a task waits). Deliveries nobody has read yet are kept in
 * arrival order with a count each, so none is lost: three SIGHUPs give
 * three SIGHUPs. Past 64 alternations of different signals left unread,
 * some come out of their arrival order, still none lost (the memory a
 * stream holds stays bounded). What the kernel merges weft cannot see: a
 * standard signal sent again before the process took the first is
 * delivered once. Several streams (and weft_signal_wait) may watch the
 * same signal: each sees every delivery. */
typedef struct weft_signal_stream_s weft_signal_stream_t;

/* Opens a stream of the n signals in `signums` (no signal twice; none of
 * SIGKILL, SIGSTOP or numbers outside 1..NSIG-1: WEFT_EINVAL). It lives on
 * the calling task's worker, and watches from now on. WEFT_ENOMEM,
 * WEFT_ENOTTASK. *out is NULL on failure. */
WEFT_EXTERN int weft_signal_stream_open(const int* signums, size_t n,
                                        weft_signal_stream_t** out);
/* The next delivery: its signal number in *signum, the oldest pending
 * first; awaits while none is pending. Several tasks may wait: each
 * delivery goes to one of them, the one that began to wait first. A
 * pending delivery is returned without awaiting (a pending cancellation
 * then waits for the next await). 0, WEFT_ECANCELED (nothing taken: the
 * signal goes to the next call), WEFT_ECLOSED once the stream is closed
 * (also for a waiting call), WEFT_EINVAL. Bounded by a timeout scope as
 * any await. Awaits. */
WEFT_EXTERN int weft_signal_stream_next(weft_signal_stream_t* stream,
                                        int* signum);
/* As next, never waits: WEFT_EAGAIN when none is pending. */
WEFT_EXTERN int weft_signal_stream_try_next(weft_signal_stream_t* stream,
                                            int* signum);
/* Stops watching, wakes waiting calls with WEFT_ECLOSED, drops pending
 * deliveries and frees the stream. Once no stream or waiter watches a
 * signal any more, it does its default action again. Not cancellable (a
 * cancellation is delivered at the next await). NULL: no-op. Call it once;
 * a stream never closed is closed when the runtime is freed. */
WEFT_EXTERN int weft_signal_stream_close(weft_signal_stream_t* stream);

/* ------------------------------------------------------------------------
 * HTTP/1.1 (a small client and server, for services and the examples)
 *
 * HTTP/1.1 over weft streams, plain or TLS (https:// URLs; a server's
 * cfg.tcp.tls): GET/POST/any method, keep-alive, Content-Length and
 * chunked bodies, limits on heads and bodies, redirects, bodies streamed
 * both ways. No HTTP/2 (examples/curl_multi.c shows libcurl on a worker).
 * Every call is from a task and awaits, except where it says.
 * ------------------------------------------------------------------------ */

typedef struct weft_http_header_s {
  const char* name;
  const char* value;
} weft_http_header_t;

/* A response: what the client got, or what a server handler fills in.
 * Every pointer is owned by the struct (weft_http_response_free). */
typedef struct weft_http_response_s {
  int status; /* 200, 404, ... */
  char* body; /* NUL-terminated (the NUL is not counted) */
  size_t body_len;
  weft_http_header_t* headers; /* names and values owned by the struct */
  size_t nheaders;
  /* The client's: the URL that answered, after any redirects (NULL in a
   * server handler's response). */
  char* url;
} weft_http_response_t;

/* Frees what the response owns and zeroes it. NULL: no-op. Any thread. */
WEFT_EXTERN int weft_http_response_free(weft_http_response_t* resp);
/* The first header called `name` (case-insensitive), or NULL. Any thread. */
WEFT_EXTERN const char*
weft_http_response_header(const weft_http_response_t* resp, const char* name);
/* Sets status and a copy of the body, with its Content-Type (NULL: none).
 * WEFT_ENOMEM. Any thread. */
WEFT_EXTERN int weft_http_response_set(weft_http_response_t* resp, int status,
                                       const char* content_type,
                                       const void* body, size_t len);
/* Adds a header (copied). WEFT_EINVAL for a name or value with CR, LF or
 * (for the name) ':'; WEFT_ENOMEM. Any thread. */
WEFT_EXTERN int weft_http_response_add_header(weft_http_response_t* resp,
                                              const char* name,
                                              const char* value);

/* -- Client -- */

typedef struct weft_http_client_s weft_http_client_t;

/* A setting that turns a deadline or a limit off (0 means the default). */
#define WEFT_HTTP_OFF UINT64_MAX
#define WEFT_HTTP_NO_TIMEOUT WEFT_HTTP_OFF

/* Deadlines end a request with WEFT_ETIMEDOUT (and close its connection):
 * connecting (DNS and the TLS handshake included); from sending the
 * request (after a streamed request body: from its end) until the final
 * response head (1xx heads included); and the whole request, waiting for
 * a pooled connection and reading the body included (a body read with
 * weft_http_body_read is not: put your own weft_timeout_enter around it).
 * Each redirect hop is a request of its own for these deadlines.
 *
 * Connections per host: at most max_conns_per_host connections to one
 * scheme://host:port are open at once (idle pooled ones included). More
 * requests than that at once do not fail: they queue, in arrival order,
 * each waiting for a connection to come free (bounded only by
 * timeout_ms, which counts the wait). 10,000 concurrent fetches to one
 * host with the default 64 run 64 at a time; raise the limit for fan-out
 * to one host. In debug mode (weft_config_t.debug) the client warns once
 * per host when more than 1024 requests wait. */
typedef struct weft_http_client_config_s {
  size_t size; /* sizeof(weft_http_client_config_t), or 0 (WEFT_CONFIG_INIT) */
  unsigned max_conns_per_host; /* connections per host (see above); 0: 64 */
  uint64_t timeout_ms;         /* whole request; 0: 300 s */
  size_t max_header_bytes;     /* response head; 0: 64 KiB */
  size_t max_body_bytes;       /* response body read whole; 0: 64 MiB */
  uint64_t connect_timeout_ms; /* connecting; 0: 10 s */
  uint64_t head_timeout_ms;    /* request sent to final head; 0: 30 s */
  /* https: servers are verified (chain and host name) against the
   * system's CA store, or the PEM CAs in ca_file (read by
   * weft_http_client_new: a missing file is its error). `tls` instead
   * takes a client context of your own (weft_tls_new: client
   * certificates, WEFT_TLS_NO_VERIFY for a throwaway test server, ...);
   * the client keeps a reference. Not both. */
  const char* ca_file;
  weft_tls_t* tls;
  /* Redirects (301, 302, 303, 307, 308 with a Location) followed per
   * request; 0: 10; WEFT_HTTP_OFF: none (the 3xx is the response). */
  uint64_t max_redirects;
} weft_http_client_config_t;

/* A client with a keep-alive connection pool per scheme://host:port.
 * cfg may be NULL. Returns WEFT_EINVAL (bad cfg, both ca_file and tls, a
 * server context), ca_file's errors as weft_tls_new's (UV_ENOENT,
 * WEFT_ETLS, WEFT_ENOTSUP without TLS), WEFT_ENOMEM. Any thread. */
WEFT_EXTERN int weft_http_client_new(const weft_http_client_config_t* cfg,
                                     weft_http_client_t** out);
/* Closes the pooled connections and frees. WEFT_EBUSY (nothing freed)
 * while a request is in flight or a streamed body is open. NULL: no-op.
 * From a task. */
WEFT_EXTERN int weft_http_client_free(weft_http_client_t* client);

/* Sends `method` to url ("http://host[:port]/path?query" or "https://...",
 * port 80 or 443 by default) with optional extra headers (sent with this
 * request only) and body, and reads the whole response into *resp (free
 * it with weft_http_response_free). A pooled connection that the server
 * closed meanwhile (on TLS, with or without close_notify) is retried once
 * on a fresh one for idempotent methods.
 * A connection is pooled again only when its response ended exactly where
 * the bytes the server sent do (a server that sends more than it framed
 * loses the connection, never hands those bytes to the next request).
 * Redirects are followed (max_redirects): 301, 302 and 303 turn any method
 * but HEAD into a GET without body (and without Content-Type); 307 and 308
 * resend the same method and body. A relative Location is resolved
 * against the URL it answered. Authorization, Proxy-Authorization and
 * Cookie headers are sent to the first scheme://host:port only, never
 * after a redirect leaves it. A Location that is not http(s) is not
 * followed (the 3xx is the response). resp->url is the URL that answered.
 * Returns 0 for any status the server sent (look at resp->status), or
 * WEFT_EINVAL (bad url or arguments), WEFT_ETIMEDOUT, WEFT_ELIMIT (head or
 * body over the limits, or more than max_redirects redirects), WEFT_EPROTO
 * (not HTTP), WEFT_ECERT (https: the server's certificate does not verify
 * for that host: untrusted, expired, another name; the reason goes to the
 * log hook, WEFT_LOG_WARN), WEFT_ETLS (any other TLS failure, reason
 * logged too), WEFT_ETRUNCATED (https: a body framed by the end of the
 * connection ended without close_notify), WEFT_ENOTSUP (https in a build
 * without TLS), a connect or stream error, WEFT_ECANCELED. The client
 * writes Host (unless given) and Content-Length itself (a given
 * Content-Length or Transfer-Encoding is dropped); a response with neither
 * length nor chunking is read until the server closes. Any number of tasks
 * may share a client. */
WEFT_EXTERN int weft_http_request(weft_http_client_t* client,
                                  const char* method, const char* url,
                                  const weft_http_header_t* headers,
                                  size_t nheaders, const void* body,
                                  size_t body_len, weft_http_response_t* resp);
/* weft_http_request(client, "GET", url, NULL, 0, NULL, 0, resp). */
WEFT_EXTERN int weft_http_get(weft_http_client_t* client, const char* url,
                              weft_http_response_t* resp);

/* A request body the client pulls as it sends: put up to `cap` bytes into
 * buf and return how many (> 0), 0 at the end of the body, or a negative
 * code, which fails the request with it. Called in the requesting task,
 * one call after another as the connection takes the bytes (the
 * backpressure: a slow server slows the source); it may await. */
typedef ptrdiff_t (*weft_http_source_fn)(void* arg, void* buf, size_t cap);

/* A request for weft_http_send. Set it up with WEFT_HTTP_SEND_INIT. */
typedef struct weft_http_send_s {
  size_t size;        /* sizeof(weft_http_send_t), or 0 (as option structs) */
  const char* method; /* NULL: "GET" */
  const char* url;
  const weft_http_header_t* headers; /* sent with this request only */
  size_t nheaders;
  const void* body; /* a body in memory, or ... */
  size_t body_len;
  /* ... one pulled from source(source_arg, ...) (not both): sent with
   * Content-Length: source_len when that is known (a source that gives
   * more or less fails the request with WEFT_EINVAL), else (0) chunked.
   * A pulled body is sent once: no retry on a stale connection, and a
   * 307 or 308 is then the response, not followed. */
  weft_http_source_fn source;
  void* source_arg;
  uint64_t source_len;
} weft_http_send_t;
#define WEFT_HTTP_SEND_INIT                                                    \
  { .size = sizeof(weft_http_send_t) }

/* A response body being read from its connection (weft_http_send). */
typedef struct weft_http_body_s weft_http_body_t;

/* weft_http_request for a weft_http_send_t, which can pull the request
 * body from a source. With body NULL the response is read whole, as
 * weft_http_request does. Otherwise only the head is: *resp gets status,
 * headers and url (body NULL), and *body a handle to read the body from
 * in pieces (weft_http_body_read) however large it is (max_body_bytes
 * does not apply), then weft_http_body_close. Until then the connection,
 * one of the host's max_conns_per_host, is the body's. Errors as
 * weft_http_request; *body is NULL after one. */
WEFT_EXTERN int weft_http_send(weft_http_client_t* client,
                               const weft_http_send_t* req,
                               weft_http_response_t* resp,
                               weft_http_body_t** body);
/* Reads the next piece of the body into buf (n > 0): the count (> 0), as
 * soon as some bytes come; 0 at the end of the body; or WEFT_EPROTO (bad
 * chunked framing), WEFT_EOF (the server closed early), WEFT_ETRUNCATED
 * (https: closed without close_notify where the end of the connection
 * ends the body), a stream error, WEFT_ECANCELED. Reading is the
 * backpressure: nothing is read ahead beyond the stream's buffer, so a
 * download larger than memory streams through. Errors stick. No deadline
 * of the client's applies. From any task, one at a time. Awaits. */
WEFT_EXTERN ptrdiff_t weft_http_body_read(weft_http_body_t* body, void* buf,
                                          size_t n);
/* Ends the body: its connection goes back to the pool when the body was
 * read to its end, else it is closed. Returns the body's sticky error, or
 * 0. NULL: no-op. From a task. */
WEFT_EXTERN int weft_http_body_close(weft_http_body_t* body);

/* -- Server -- */

/* A request as a handler sees it; valid during the handler call only. */
typedef struct weft_http_request_s {
  const char* method;
  const char* target; /* path and query, as sent */
  int minor_version;  /* HTTP/1.x */
  const weft_http_header_t* headers;
  size_t nheaders;
  /* The whole body (de-chunked, NUL-terminated; "" when there is none)
   * when it is at most body_buffer_bytes; NULL when it is larger: then it
   * is streamed, read it with weft_http_request_read. */
  const char* body;
  size_t body_len; /* 0 for a streamed body */
} weft_http_request_t;

/* The value of the first header called `name` (case-insensitive), or
 * NULL. Any thread. */
WEFT_EXTERN const char* weft_http_request_header(const weft_http_request_t* req,
                                                 const char* name);

/* Reads the next piece of the request's body into buf (n > 0), in the
 * handler's task, with `req` the pointer the handler got: the count (> 0),
 * 0 at the end of the body, or an error: WEFT_ELIMIT past max_body_bytes,
 * WEFT_EPROTO (bad chunked framing), WEFT_ETIMEDOUT (the client sends
 * slower than min_body_rate), WEFT_EOF (the client went early), a stream
 * error, WEFT_ECANCELED. Works for a body read whole as well (it hands out
 * req->body). Reading is the backpressure: the server reads from the
 * connection only as the handler asks, and a client that sent "Expect:
 * 100-continue" gets its 100 Continue at the first read. After an error,
 * or when the handler returns without reading the body to its end, the
 * connection closes after the response. Awaits. */
WEFT_EXTERN ptrdiff_t weft_http_request_read(const weft_http_request_t* req,
                                             void* buf, size_t n);

/* Answers one request: fill `resp` (weft_http_response_set, ..._add_header)
 * and return 0; a negative return sends 500. Runs in the connection's task:
 * it may await. */
typedef int (*weft_http_handler_fn)(const weft_http_request_t* req,
                                    weft_http_response_t* resp, void* arg);

/* Server settings. A zeroed struct means the defaults; WEFT_HTTP_OFF turns
 * off a deadline, the body rate or the connection cap. The defaults bound
 * what one client can hold: a connection costs a few KiB while it idles,
 * a head must arrive whole within head_timeout_ms of its first byte (Go's
 * ReadHeaderTimeout), a body must keep up min_body_rate after a 5 s grace
 * period, and bodies over body_buffer_bytes are never held whole. */
typedef struct weft_http_server_config_s {
  size_t size; /* sizeof(weft_http_server_config_t), or 0 (WEFT_CONFIG_INIT) */
  weft_server_config_t tcp; /* backlog, flags, stack size */
  size_t max_header_bytes;  /* request head; 0: 16 KiB (over: 431) */
  size_t max_body_bytes;    /* request body; 0: 8 MiB (over: 413) */
  uint64_t idle_timeout_ms; /* waiting for a request's first byte (a new
                               connection's, or keep-alive); 0: 60 s, then
                               the connection closes */
  uint64_t head_timeout_ms; /* first byte to the end of the head; 0: 10 s
                               (over: 408) */
  uint64_t min_body_rate;   /* bytes per second; 0: 1024 (slower: 408
                               before the handler, WEFT_ETIMEDOUT in it) */
  size_t body_buffer_bytes; /* bodies up to this are read whole before the
                               handler runs; larger ones are streamed to
                               it (weft_http_request_read); 0: 1 MiB */
  uint64_t max_conns;       /* open connections; 0: 7/8 of the descriptor
                               limit (RLIMIT_NOFILE), at most 65536. A
                               new one over it closes the longest idle
                               connection, or gets 503 when none idles */
} weft_http_server_config_t;

/* Serves HTTP/1.1 on host:port (as weft_tcp_serve) with handler. Bad
 * requests get a 4xx and the connection closes; the server goes on. Close
 * it with weft_server_close. cfg may be NULL. An HTTP/1.1 request needs
 * exactly one Host (else 400). Responses always carry Content-Length (a
 * handler's Content-Length or Transfer-Encoding is dropped; HEAD, 204 and
 * 304 get no body); a handler that sets no status between 200 and 999
 * sends 500, and one that adds "Connection: close" closes after it. */
WEFT_EXTERN int weft_http_serve(const char* host, unsigned port,
                                weft_http_handler_fn handler, void* arg,
                                const weft_http_server_config_t* cfg,
                                weft_server_t** out);

/* What a server's limits did; counts since weft_http_serve. */
typedef struct weft_http_server_stats_s {
  uint64_t conns;         /* connections open now */
  uint64_t requests;      /* requests handed to the handler */
  uint64_t rejected;      /* requests the server answered itself with 400,
                             408, 413 or 431 */
  uint64_t evicted;       /* idle connections closed to make room */
  uint64_t refused;       /* connections refused (503): full, none idle */
  uint64_t head_timeouts; /* heads not whole within head_timeout_ms */
  uint64_t slow_bodies;   /* bodies below min_body_rate */
} weft_http_server_stats_t;

/* A graceful stop: stops accepting (the server is closed and freed, as by
 * weft_server_close), closes idle keep-alive connections at once, lets
 * requests in progress finish and answers them with "Connection: close",
 * for up to grace_ms (< 0: as long as they take); then cancels the
 * handlers still running and waits for them to end. Returns 0 when every
 * connection ended within the grace, WEFT_ETIMEDOUT when some handlers
 * were cancelled, WEFT_EINVAL for NULL or a server not made by
 * weft_http_serve (or already shut down), WEFT_ECANCELED when the caller
 * is cancelled while it waits (the connections go on closing), WEFT_ENOMEM.
 * From a task only; awaits. */
WEFT_EXTERN int weft_http_server_shutdown(weft_server_t* srv, int64_t grace_ms);

/* The stats of a server made by weft_http_serve and not closed yet:
 * 0, or WEFT_EINVAL for NULL or another server. Any thread. */
WEFT_EXTERN int weft_http_server_stats(const weft_server_t* srv,
                                       weft_http_server_stats_t* out);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_H_ */
