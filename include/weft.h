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
 */
#ifndef WEFT_H_
#define WEFT_H_

#include <stddef.h>
#include <stdint.h>
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
#define WEFT_ERRNO_MAP(XX)                                                    \
  XX(EINVAL, -EINVAL, "invalid argument")                                     \
  XX(ENOMEM, -ENOMEM, "out of memory")                                        \
  XX(ECANCELED, -ECANCELED, "operation canceled")                             \
  XX(ETIMEDOUT, -ETIMEDOUT, "operation timed out")                            \
  XX(EAGAIN, -EAGAIN, "resource temporarily unavailable")                     \
  XX(EBUSY, -EBUSY, "resource busy")                                          \
  XX(EDEADLK, -EDEADLK, "a task cannot await itself")                         \
  XX(EPERM, -EPERM, "not allowed from this thread")                           \
  XX(ENOTTASK, -5000, "must be called from a task")                           \
  XX(ECLOSED, -5001, "runtime or object is closed")                           \
  XX(ELIMIT, -5002, "limit exceeded")

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

/* Runtime configuration. A zeroed struct (or NULL) means the defaults. */
typedef struct weft_config_s {
  /* Worker threads; 0 means one per CPU the process may run on. */
  unsigned workers;
  /* Bytes of stack per task, rounded up to pages; 0 means 256 KiB. Stacks
   * are reserved, not committed: a task costs the pages it touches. */
  size_t stack_size;
} weft_config_t;

/* Creates a runtime and starts its workers. Call from outside any runtime's
 * tasks. Returns WEFT_EINVAL for a NULL out or a stack_size over 1 GiB,
 * WEFT_ENOMEM when threads, loops or memory cannot be had. Any thread. */
WEFT_EXTERN int weft_runtime_new(const weft_config_t* config,
                                 weft_runtime_t** out);

/* Shuts the runtime down and frees it: every live task is cancelled, every
 * await in it returns WEFT_ECANCELED from then on, the workers wait for all
 * tasks to return, then stop. Task handles die with the runtime: release
 * them before. NULL is a no-op that returns 0. Returns WEFT_EPERM when
 * called from one of the runtime's own workers (or its tasks). */
WEFT_EXTERN int weft_runtime_free(weft_runtime_t* rt);

/* Number of workers. 0 for NULL. Any thread. */
WEFT_EXTERN unsigned weft_runtime_workers(const weft_runtime_t* rt);

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
 * blocking would stall the worker. Does not release the handle. */
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
 * WEFT_ECANCELED. Repeated requests before delivery count once. Returns 0,
 * WEFT_EINVAL for NULL, WEFT_EBUSY if the task has already finished.
 * Any thread. */
WEFT_EXTERN int weft_cancel(weft_task_t* task);

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

#ifdef __cplusplus
}
#endif

#endif /* WEFT_H_ */
