/* The blocking-call executor: an elastic pool of plain threads that runs
 * the functions given to weft_run_blocking and weft_submit_blocking, so a
 * blocking call parks one task instead of stalling a whole worker
 * (asyncio's to_thread / run_in_executor). libuv's own 4-thread pool stays
 * for libuv's file and DNS work (docs/design.md).
 *
 * DESIGN
 * One mutex guards everything below: the FIFO of calls, the counts and the
 * flags. Calls last milliseconds, and every operation holds the lock for a
 * handful of instructions (starting a thread aside), so a lock-free queue
 * would buy nothing here.
 *
 * A call is {fn, arg, future}. The executor holds one reference to the
 * future, the submitter another. A thread runs status = fn(arg, &result),
 * completes the future with (status, result), and drops its reference;
 * completing wakes whoever awaits it, on any worker or plain thread
 * (future.c). A caller that stopped waiting (its task was cancelled) just
 * dropped its own reference: the last one to go frees the future, so a
 * late result lands in live memory and is discarded with it.
 *
 * Threads. A thread is started when a call is queued and no waiting
 * thread is free to take it, up to max_threads. A thread that finds the
 * queue empty first spins briefly (WEFT_BLOCKING_SPIN_NS, polling a
 * lock-free hint of the queue length), then sleeps on work_cv. The
 * spinning pays for itself in latency: a task that makes blocking calls
 * one after another finds the thread that ran its last call still
 * looking, and neither side sleeps (bench future-rtt on the 2-core VM:
 * under 1 us a round trip instead of about 18). The cost is at most one
 * spin of CPU per call, only when the queue has run dry; past its first
 * sixteenth a spin yields the CPU every 64 polls, and spinning turns
 * itself off where it does not pay (maybe_spin).
 *
 * Claims. `spinners` and `idle` count spinning and sleeping threads that
 * no submitter has claimed yet; a submitter claims one by moving it to
 * `spin_wakes` or `wakes` (and signals work_cv for a sleeper; a spinner
 * sees the hint change). A thread that stops spinning or waiting consumes
 * a token of its kind if there is one (it was claimed, or it stands in for
 * the claimed one: tokens are interchangeable), and takes itself off its
 * count otherwise (its time ran out, or a spurious wake-up). So count +
 * tokens is always the number of threads in that phase, and every token
 * is consumed by one of them. No call is stranded:
 *
 *   submitter (lock held)              | thread (lock held)
 *   ---------------------------------- | ----------------------------------
 *   push the call                      | queue empty, not closing:
 *   spinners > 0: spinners--,          |   spinners++, spin without the
 *     spin_wakes++                     |   lock, relock, consume a token
 *   else idle > 0: idle--, wakes++,    |   still empty: idle++, wait
 *     signal                           |   (drops the lock), consume a token
 *   else threads < max: start a thread |   queue not empty: pop the head
 *   else: leave it; every busy thread  |   timed out and empty: leave
 *     pops the queue before it idles   |
 *
 * Both columns run under the mutex, so a claimed thread always comes back
 * to the queue, and a thread decides to leave only while it is empty.
 *
 * Keep-alive. An idle thread waits on work_cv with a deadline on
 * CLOCK_MONOTONIC (pthread_condattr_setclock), so wall-clock jumps neither
 * cut nor stretch it; on timeout with nothing queued it leaves.
 *
 * Joining. Every thread is joined, without a reaper thread: a leaving
 * thread records itself as `last_gone` and joins the thread recorded
 * before it. Joins only ever go back in time, so the chain ends; the last
 * one is joined by weft__blocking_free, after it has waited (gone_cv) for
 * the thread count to reach zero. A joinable thread that left keeps its
 * stack until it is joined, so at most one stack lingers.
 *
 * Shutdown (weft__blocking_free). Sets `closing` (submits fail with
 * WEFT_ECLOSED), takes the queue, wakes every idle thread, completes the
 * calls that never started with WEFT_ECANCELED, waits for the running
 * calls to end and their threads to leave, joins the last one, frees.
 *
 * With a bound (weft_runtime_shutdown), the wait for running calls ends at
 * the deadline: the executor is then `abandoned` rather than freed. Its
 * remaining threads run their calls to the end, complete their futures
 * (nobody in the runtime waits for them any more) and leave; each detaches
 * itself, and the last one to leave frees the executor. They touch nothing
 * of the runtime (run_call reads the runtime only for hooked calls, and a
 * runtime with hooks never abandons).
 *
 * Rejected: a fixed pool (calls that block on each other would deadlock,
 * as tokio's and Go's pools are elastic for the same reason); detached
 * threads counted down to zero (the last one would still be running libc's
 * thread exit after weft__blocking_free returned, and touching the mutex
 * while we destroy it).
 */
#include "base/alloc.h"
#include "base/list.h"
#include "core/blocking.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

#include "base/common.h"
#include "core/future.h"
#include "core/worker.h"

#define WEFT_BLOCKING_MAX_THREADS 512u
#define WEFT_BLOCKING_KEEPALIVE_MS 10000u
/* How long a thread with nothing to do spins before it sleeps: enough to
 * cover a task's round trip through its worker even when that worker must
 * be woken from epoll (tens of microseconds on a VM; with 20 us the pool
 * kept falling back to sleeping), short next to the milliseconds calls
 * take. Overridable at compile time. */
#ifndef WEFT_BLOCKING_SPIN_NS
#define WEFT_BLOCKING_SPIN_NS 50000u
#endif
/* A spin that finds a call sooner than this has paid... */
#define SPIN_PAYS_NS (WEFT_BLOCKING_SPIN_NS / 4)
/* ...and after this many spins in a row that did not, threads stop
 * spinning... */
enum { kSpinMisses = 4 };
/* ...except one idle thread in this many, which probes whether spinning
 * pays again. */
enum { kSpinProbe = 32 };
typedef struct call_s {
  struct call_s* next;
  weft_task_fn fn;
  void* arg;
  weft_future_t* future; /* the executor's reference */
  /* The runtime, and the call's record when the runtime hooks calls
   * (deterministic mode, hooks.h), else NULL. */
  weft_runtime_t* rt;
  void* hooked;
} call_t;

struct weft__blocking_s {
  /* Read-only after weft__blocking_new. */
  unsigned max_threads;
  unsigned keepalive_ms;

  /* Every field below is protected by `lock`. */
  pthread_mutex_t lock;
  pthread_cond_t work_cv;  /* idle threads wait here (CLOCK_MONOTONIC) */
  pthread_cond_t gone_cv;  /* weft__blocking_free waits for threads == 0 */
  WEFT_FIFO(call_t) queue; /* calls no thread has taken */
  size_t queued;           /* length of the FIFO */
  size_t threads;          /* started and not yet gone */
  size_t busy;             /* running a call */
  size_t idle;             /* waiting for work, unclaimed */
  size_t wakes;            /* claims not yet consumed (file comment) */
  size_t spinners;         /* spinning for work, unclaimed */
  size_t spin_wakes;       /* claims on spinners not yet consumed */
  unsigned spin_misses;    /* spins in a row that found nothing */
  unsigned spin_skips;     /* spins skipped since the last probe */
  /* `queued` for spinners, who poll it without the lock. Stored under the
   * lock; relaxed loads and stores: a hint, the decision is taken under
   * the lock. */
  _Atomic size_t queued_hint;
  pthread_t last_gone; /* the last thread to leave, not yet joined */
  int has_last_gone;
  int closing;
  /* Shutdown gave up waiting for the running calls: the last thread to
   * leave frees the executor (file comment, "Shutdown"). */
  int abandoned;
};

int weft__blocking_new(unsigned max_threads, unsigned keepalive_ms,
                       weft__blocking_t** out) {
  pthread_condattr_t attr;
  weft__blocking_t* b = weft__calloc(1, sizeof(*b));
  if (b == NULL)
    return WEFT_ENOMEM;
  b->max_threads = max_threads != 0 ? max_threads : WEFT_BLOCKING_MAX_THREADS;
  b->keepalive_ms =
      keepalive_ms != 0 ? keepalive_ms : WEFT_BLOCKING_KEEPALIVE_MS;
  if (pthread_condattr_init(&attr) != 0)
    goto fail_attr;
  if (pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) != 0 ||
      pthread_cond_init(&b->work_cv, &attr) != 0)
    goto fail_work;
  if (pthread_cond_init(&b->gone_cv, &attr) != 0) /* timed waits too */
    goto fail_gone;
  if (pthread_mutex_init(&b->lock, NULL) != 0)
    goto fail_lock;
  pthread_condattr_destroy(&attr);
  *out = b;
  return 0;
fail_lock:
  pthread_cond_destroy(&b->gone_cv);
fail_gone:
  pthread_cond_destroy(&b->work_cv);
fail_work:
  pthread_condattr_destroy(&attr);
fail_attr:
  free(b);
  return WEFT_ENOMEM;
}

/* ---- The threads -------------------------------------------------------- */

/* `now + ms` on CLOCK_MONOTONIC, the clock work_cv was set up with. */
static struct timespec deadline_after(unsigned ms) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  ts.tv_sec += ms / 1000;
  ts.tv_nsec += (long)(ms % 1000) * 1000000L;
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000L;
  }
  return ts;
}

/* Lock held. */
static void set_queued(weft__blocking_t* b, size_t n) {
  b->queued = n;
  /* relaxed: a hint for spinners (see queued_hint). */
  atomic_store_explicit(&b->queued_hint, n, memory_order_relaxed);
}

static call_t* pop_call(weft__blocking_t* b) {
  call_t* c = weft__fifo_pop(&b->queue);
  set_queued(b, b->queued - 1);
  return c;
}

/* Spins for up to WEFT_BLOCKING_SPIN_NS, without the lock, until a call
 * may be queued. Returns how long it spun. Lock held on entry and on
 * return. */
static uint64_t spin(weft__blocking_t* b) {
  b->spinners++;
  pthread_mutex_unlock(&b->lock);
  uint64_t start = weft__now_ns();
  uint64_t spent;
  for (unsigned i = 1;; i++) {
    /* relaxed: a hint; the lock below orders what we then read. */
    if (atomic_load_explicit(&b->queued_hint, memory_order_relaxed) != 0)
      break;
    if (i % 64 == 0) {
      spent = weft__now_ns() - start;
      if (spent >= WEFT_BLOCKING_SPIN_NS)
        break;
      /* Past the first microseconds, let whoever shares this core run. */
      if (spent >= WEFT_BLOCKING_SPIN_NS / 16)
        sched_yield();
    }
    weft__cpu_relax();
  }
  spent = weft__now_ns() - start;
  pthread_mutex_lock(&b->lock);
  if (b->spin_wakes > 0)
    b->spin_wakes--;
  else
    b->spinners--;
  return spent;
}

/* Spinning adapts. In steady use a spin pays when the next call comes
 * within SPIN_PAYS_NS; after kSpinMisses spins in a row that found nothing
 * that soon, threads go straight to sleep, and only every kSpinProbe-th
 * one spins, to notice when spinning pays again. A probe pays if any call
 * comes while it spins: right after sleeping threads, the task's worker
 * is asleep too and takes a wake-up (microseconds) to answer, so the
 * steady-state bar would keep spinning off for good.
 *
 * Two cases turn spinning off: calls that come far apart, where it only
 * burns CPU, and a machine with no idle core, where the spinner makes the
 * kernel queue the woken task's worker behind another process instead of
 * on an idle core. (future-rtt on the 2-core VM, median round trip: idle,
 * 0.7 us adapting, 0.7 always spinning, 18 never; with a busy-loop
 * process beside it, 18 adapting, 43 always spinning, 17 never.)
 * Lock held. */
static void maybe_spin(weft__blocking_t* b) {
  int probe = b->spin_misses >= kSpinMisses;
  if (probe && ++b->spin_skips < kSpinProbe)
    return;
  b->spin_skips = 0;
  uint64_t spent = spin(b);
  int paid = !weft__fifo_empty(&b->queue) && (probe || spent < SPIN_PAYS_NS);
  if (paid)
    b->spin_misses = 0;
  else if (b->spin_misses < kSpinMisses)
    b->spin_misses++;
}

/* The next call for this thread, or NULL when it should leave: the
 * executor closes, or keepalive_ms passed with nothing queued. The
 * idle/wakes bookkeeping is the file comment's. Lock held. */
static call_t* next_call(weft__blocking_t* b) {
  if (weft__fifo_empty(&b->queue) && !b->closing)
    maybe_spin(b);
  struct timespec deadline = deadline_after(b->keepalive_ms);
  int timed_out = 0;
  while (weft__fifo_empty(&b->queue)) {
    if (b->closing || timed_out)
      return NULL;
    b->idle++;
    int rc = pthread_cond_timedwait(&b->work_cv, &b->lock, &deadline);
    if (b->wakes > 0)
      b->wakes--;
    else
      b->idle--;
    timed_out = rc == ETIMEDOUT;
  }
  return pop_call(b);
}

/* Runs one call and completes its future. A future already done was
 * cancelled by its holder before the call started (weft_future_cancel on
 * the submitted future): then fn is skipped, as concurrent.futures does.
 * weft__future_complete rather than set_result/set_error: it takes any
 * status, so a function returning a positive number cannot leave the
 * future pending forever, and the awaiter gets fn's status unchanged, as
 * weft_await gives a task's. */
static void run_call(call_t* c) {
  void* result = NULL;
  if (!weft_future_done(c->future)) {
    int status = c->fn(c->arg, &result);
    if (c->hooked != NULL) {
      /* The hook completes it, and releases the reference. */
      c->rt->hooks.call_end(c->rt, c->hooked, c->future, status,
                            status == 0 ? result : NULL);
      free(c);
      return;
    }
    weft__future_complete(c->future, status, status == 0 ? result : NULL);
  }
  if (c->hooked != NULL)
    c->rt->hooks.call_drop(c->rt, c->hooked);
  weft_future_release(c->future);
  free(c);
}

/* Leaves the pool: records this thread for the next one to join, joins
 * the one before (file comment, "Joining"). Lock held on entry; dropped. */
static void free_executor(weft__blocking_t* b);

static void leave(weft__blocking_t* b) {
  pthread_t prev = b->last_gone;
  int had_prev = b->has_last_gone;
  if (b->abandoned) {
    /* Nobody joins us now: detach, and the last one out frees. */
    pthread_detach(pthread_self());
    b->has_last_gone = 0;
    int last = --b->threads == 0;
    pthread_mutex_unlock(&b->lock);
    if (had_prev)
      pthread_join(prev, NULL);
    if (last)
      free_executor(b);
    return;
  }
  b->last_gone = pthread_self();
  b->has_last_gone = 1;
  if (--b->threads == 0)
    pthread_cond_broadcast(&b->gone_cv);
  pthread_mutex_unlock(&b->lock);
  if (had_prev)
    pthread_join(prev, NULL);
}

/* The executor the calling thread belongs to, or NULL. */
static _Thread_local weft__blocking_t* tls_executor;

int weft__blocking_on_executor(const weft__blocking_t* b) {
  return b != NULL && tls_executor == b;
}

static void* thread_main(void* arg) {
  weft__blocking_t* b = arg;
  call_t* c;
  tls_executor = b;
  pthread_mutex_lock(&b->lock);
  while ((c = next_call(b)) != NULL) {
    b->busy++;
    pthread_mutex_unlock(&b->lock);
    run_call(c);
    pthread_mutex_lock(&b->lock);
    b->busy--;
  }
  leave(b);
  return NULL;
}

/* Starts one more thread. Its signal mask blocks every asynchronous
 * signal: a process-directed signal must go to the application's own
 * threads, not interrupt (EINTR) or run a handler on a thread that is in
 * the middle of someone's blocking call. Faults stay deliverable (the
 * kernel kills a thread that faults with them blocked). The mask is
 * inherited from the creator, so it is set around pthread_create, which
 * leaves no window where the new thread could take a signal. Lock held. */
static int start_thread(weft__blocking_t* b) {
  sigset_t all;
  sigset_t old;
  pthread_t tid;
  sigfillset(&all);
  sigdelset(&all, SIGSEGV);
  sigdelset(&all, SIGBUS);
  sigdelset(&all, SIGFPE);
  sigdelset(&all, SIGILL);
  sigdelset(&all, SIGTRAP);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int rc = pthread_create(&tid, NULL, thread_main, b);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc != 0)
    return WEFT_ENOMEM;
  b->threads++;
  return 0;
}

/* ---- Submitting --------------------------------------------------------- */

/* Queues `c` and makes sure a thread will take it (file comment's left
 * column). WEFT_ECLOSED after shutdown began; WEFT_ENOMEM when no thread
 * exists and none can be started: `c` is then not queued. */
static int enqueue(weft__blocking_t* b, call_t* c) {
  pthread_mutex_lock(&b->lock);
  if (b->closing) {
    pthread_mutex_unlock(&b->lock);
    return WEFT_ECLOSED;
  }
  weft__fifo_push(&b->queue, c);
  set_queued(b, b->queued + 1);
  int err = 0;
  if (b->spinners > 0) {
    b->spinners--;
    b->spin_wakes++; /* it polls queued_hint: no signal needed */
  } else if (b->idle > 0) {
    b->idle--;
    b->wakes++;
    pthread_cond_signal(&b->work_cv);
  } else if (b->threads < b->max_threads && start_thread(b) != 0 &&
             b->threads == 0) {
    /* Nobody would ever run it. With no thread, nothing else is queued:
     * threads leave only when the queue is empty. */
    WEFT_CHECK(b->queue.head == c && b->queue.tail == c);
    weft__fifo_take_all(&b->queue);
    set_queued(b, 0);
    err = WEFT_ENOMEM;
  }
  pthread_mutex_unlock(&b->lock);
  return err;
}

static int submit(weft_runtime_t* rt, weft_task_fn fn, void* arg,
                  weft_future_t** out) {
  weft_future_t* f;
  /* acquire: pairs with the seq_cst store in weft_runtime_free; once the
   * runtime shuts down no new call is taken, as no task is spawned. */
  if (atomic_load_explicit(&rt->closing, memory_order_acquire))
    return WEFT_ECLOSED;
  call_t* c = weft__malloc(sizeof(*c));
  if (c == NULL)
    return WEFT_ENOMEM;
  int err = weft_future_new(&f);
  if (err != 0) {
    free(c);
    return err;
  }
  c->fn = fn;
  c->arg = arg;
  c->future = weft_future_retain(f); /* the executor's reference */
  c->rt = rt;
  c->hooked = NULL;
  if (rt->hooks.call_begin != NULL &&
      (c->hooked = rt->hooks.call_begin(rt)) == NULL) {
    weft_future_release(f);
    weft_future_release(f);
    free(c);
    return WEFT_ENOMEM;
  }
  err = enqueue(rt->blocking, c);
  if (err != 0) {
    if (c->hooked != NULL)
      rt->hooks.call_drop(rt, c->hooked);
    weft_future_release(f);
    weft_future_release(f);
    free(c);
    return err;
  }
  *out = f;
  return 0;
}

int weft_submit_blocking(weft_runtime_t* rt, weft_task_fn fn, void* arg,
                         weft_future_t** out) {
  if (fn == NULL || out == NULL)
    return WEFT_EINVAL;
  if (rt == NULL)
    rt = weft_current_runtime();
  if (rt == NULL)
    return WEFT_EINVAL;
  return submit(rt, fn, arg, out);
}

/* From a plain thread (no current runtime) fn simply runs right here: the
 * thread may block, and it has no runtime whose executor could take the
 * call. That includes the executor's own threads, so a blocking call may
 * itself call weft_run_blocking. */
int weft_run_blocking(weft_task_fn fn, void* arg, void** result) {
  void* res = NULL;
  weft_future_t* f;
  if (fn == NULL)
    return WEFT_EINVAL;
  weft_runtime_t* rt = weft_current_runtime();
  if (rt == NULL) {
    int status = fn(arg, &res);
    if (status == 0 && result != NULL)
      *result = res;
    return status;
  }
  /* A worker thread outside any task (a libuv callback) cannot wait, and
   * finding that out only after queueing would leave a call behind. */
  if (weft_current_task() == NULL)
    return WEFT_EPERM;
  int err = submit(rt, fn, arg, &f);
  if (err == WEFT_ECLOSED)
    return WEFT_ECANCELED; /* shutting down: every await is cancelled */
  if (err != 0)
    return err;
  int status = weft_future_await(f, &res);
  weft_future_release(f);
  if (status == 0 && result != NULL)
    *result = res;
  return status;
}

int weft_blocking_stats(const weft_runtime_t* rt, weft_blocking_stats_t* out) {
  if (rt == NULL || out == NULL || rt->blocking == NULL)
    return WEFT_EINVAL;
  weft__blocking_t* b = rt->blocking;
  pthread_mutex_lock(&b->lock);
  out->threads = b->threads;
  out->busy = b->busy;
  out->queued = b->queued;
  pthread_mutex_unlock(&b->lock);
  return 0;
}

/* ---- Shutdown ----------------------------------------------------------- */

static void free_executor(weft__blocking_t* b) {
  pthread_mutex_destroy(&b->lock);
  pthread_cond_destroy(&b->work_cv);
  pthread_cond_destroy(&b->gone_cv);
  free(b);
}

/* Waits for threads == 0 until `deadline` (NULL: no bound). 1 when they
 * are all gone. Lock held. */
static int wait_gone(weft__blocking_t* b, const struct timespec* deadline) {
  while (b->threads > 0) {
    if (deadline == NULL)
      pthread_cond_wait(&b->gone_cv, &b->lock);
    else if (pthread_cond_timedwait(&b->gone_cv, &b->lock, deadline) ==
             ETIMEDOUT)
      return b->threads == 0;
  }
  return 1;
}

int weft__blocking_free(weft__blocking_t* b, int64_t grace_ms) {
  if (b == NULL)
    return 0;
  pthread_mutex_lock(&b->lock);
  b->closing = 1;
  call_t* never_started = weft__fifo_take_all(&b->queue);
  set_queued(b, 0);
  pthread_cond_broadcast(&b->work_cv);
  pthread_mutex_unlock(&b->lock);
  /* Outside the lock: completing runs the futures' callbacks, which may
   * call back in here (and get WEFT_ECLOSED). */
  while (never_started != NULL) {
    call_t* next = never_started->next;
    weft_future_cancel(never_started->future);
    if (never_started->hooked != NULL)
      never_started->rt->hooks.call_drop(never_started->rt,
                                         never_started->hooked);
    weft_future_release(never_started->future);
    free(never_started);
    never_started = next;
  }
  struct timespec deadline;
  if (grace_ms >= 0)
    deadline =
        deadline_after(grace_ms > UINT32_MAX ? UINT32_MAX : (unsigned)grace_ms);
  pthread_mutex_lock(&b->lock);
  if (!wait_gone(b, grace_ms >= 0 ? &deadline : NULL)) {
    /* Calls still run: the last of their threads frees the executor. */
    b->abandoned = 1;
    int had_last = b->has_last_gone;
    pthread_t last = b->last_gone;
    b->has_last_gone = 0;
    pthread_mutex_unlock(&b->lock);
    if (had_last)
      pthread_join(last, NULL);
    return WEFT_ETIMEDOUT;
  }
  int had_last = b->has_last_gone;
  pthread_t last = b->last_gone;
  pthread_mutex_unlock(&b->lock);
  /* Joins the whole chain: each leaving thread joined the one before. */
  if (had_last)
    pthread_join(last, NULL);
  free_executor(b);
  return 0;
}
