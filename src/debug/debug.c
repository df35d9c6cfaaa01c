/* Debug mode: the library's warnings, the never-awaited report, the list of
 * tasks alive at shutdown, and the slow-task monitor.
 *
 * DESIGN
 * Debug mode is a runtime flag (weft_config_t.debug or WEFT_DEBUG=1), read
 * only on paths that are already slow (a task's free, an await collecting
 * a status): the hot paths pay one predictable branch at most.
 *
 * Never awaited: a task spawned with a handle whose status nobody read
 * (weft_await, weft_task_result, a combinator, a task future) is reported
 * when its header is freed, i.e. when the last reference goes: at the
 * handle's release if the task had finished, at the task's end if the
 * handle was dropped before. Tasks that shutdown cancelled are not
 * reported one by one: the shutdown list names them.
 *
 * Slow tasks: a monitor thread wakes every 10 ms and compares each worker's
 * published tick (tick_pub) and running task (running_pub) with what it
 * saw before. A worker running the same task at the same tick for longer
 * than slow_task_ms is reported once per stall, and once more when it moves
 * again. The running task is read racily: the pointer is a hint (headers
 * live in slabs that are never unmapped, so any header pointer can be
 * dereferenced), and the monitor retains the task (which fails once it is
 * freed) and checks it is still the running one before reading its name,
 * which cannot be freed while the reference is held.
 *
 * Slow-task backtraces: when the monitor reports a stall of a thread that
 * is running (state R in /proc: a thread asleep in a system call is left
 * alone, since nanosleep, poll and epoll_wait return EINTR instead of
 * restarting, and the report names the call and its call site from /proc
 * instead), it asks the stalled worker's thread for its stack with a
 * signal, SAMPLE_SIGNAL
 * (SIGRTMIN+6: a realtime signal, so it clashes with no standard signal
 * libuv, the sanitizers or programs use; installed while a runtime in
 * debug mode exists, and only if the signal has no handler yet; the
 * previous action comes back when the last such runtime is freed). The
 * request is a slot (sample_t): the monitor writes what it saw (worker,
 * task, tick), publishes a sequence number and sends the signal with
 * pthread_sigqueue, whose value carries the slot's address. The handler
 * checks that its thread still runs that task at that tick (else it
 * answers "moved on"), walks the frame pointers of the interrupted
 * context within the running fiber's stack (weft__bt_walk: bounded,
 * through process_vm_readv, async-signal-safe), and publishes the answer
 * by storing the sequence number into `done`. The monitor waits for it at
 * most kSampleWaitMs (a worker that is being debugged, or a signal held
 * back by TSan until the thread's next intercepted call, may not answer),
 * then symbolizes (dladdr, not allowed in a handler) and logs the frames
 * under the slow-task line.
 * A late answer must never land in freed memory: slots come from a pool
 * that is never freed, and a slot keeps counting its sequence numbers when
 * it is reused, so a late handler sees that the request it would answer
 * is not for its thread (want_worker) or was answered already. Once a
 * request went unanswered within the wait, the handler stays installed
 * for good: its signal, or that of a later request the late handler
 * answered, may still be on its way, and under SIG_DFL it would kill the
 * process.
 *
 * The dump signal (weft_config_t.dump_signal): the handler writes a byte
 * to a process-wide pipe, a thread of the runtime reads it and calls
 * weft_task_dump (see that section).
 *
 * Warnings go to stderr, or to the stream a test sets, one fputs per line
 * (stdio locks the FILE, so lines from several threads do not interleave).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ucontext.h>

#include "base/alloc.h"
#include "debug/backtrace.h"
#include "debug/debug.h"
#include "base/common.h"
#include "core/worker.h"

enum { kMonitorPeriodMs = 10 };
enum { kDefaultSlowMs = 100 };
#define SAMPLE_SIGNAL (SIGRTMIN + 6)
enum { kSampleWaitMs = 100 };
int weft__debug_env(void) {
  const char* e = getenv("WEFT_DEBUG");
  return e != NULL && e[0] != '\0' && strcmp(e, "0") != 0;
}

/* ---- Never awaited --------------------------------------------------------
 */

static void task_freed(weft_task_t* t) {
  /* relaxed: the task is being freed: every other holder's writes are
   * visible through the acq_rel release of the last reference. */
  if (atomic_load_explicit(&t->phase, memory_order_relaxed) !=
          WEFT_PHASE_DONE ||
      !t->dbg_handle || t->future != NULL ||
      /* relaxed: as above. */
      atomic_load_explicit(&t->dbg_awaited, memory_order_relaxed))
    return;
  /* relaxed: shutdown's own list names the tasks it cancels. */
  if (t->status == WEFT_ECANCELED &&
      atomic_load_explicit(&t->rt->closing, memory_order_relaxed))
    return;
  char label[80];
  weft__task_label(t, label, sizeof(label));
  weft__warn("task %s was never awaited (its handle was released without "
             "weft_await or weft_task_result; status %d, %s)",
             label, t->status, weft_err_name(t->status));
}

/* ---- Shutdown list --------------------------------------------------------
 */

static int report_alive(weft_task_t* t, void* arg) {
  (void)arg;
  static const char* const names[] = {"free", "queued", "running", "suspended",
                                      "done"};
  /* relaxed: a snapshot for a report. */
  uint8_t p = atomic_load_explicit(&t->phase, memory_order_relaxed);
  char label[80];
  weft__task_label(t, label, sizeof(label));
  weft__warn("shutdown: task %s still alive (%s); cancelling it", label,
             p < 5 ? names[p] : "?");
  return 0;
}

void weft__debug_report_alive(weft_runtime_t* rt) {
  weft__slabs_visit(rt, report_alive, NULL);
}

/* ---- Slow-task monitor ----------------------------------------------------
 */

typedef struct {
  uint64_t tick;
  weft_task_t* task;
  uint64_t since_ns;
  int reported;
  char label[80];
} seen_t;

typedef struct weft__monitor_s {
  weft_runtime_t* rt;
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t cv;
  int stop; /* under lock */
  seen_t* seen;
  struct sample_s** samples; /* a slot per worker; NULL: no backtraces */
  int lost; /* a request went unanswered: its signal may still come */
} weft__monitor_t;

/* ---- Slow-task backtraces ------------------------------------------------ */

/* A backtrace request to one worker's thread and its answer (see DESIGN).
 * The monitor stores want_* (relaxed) and then req (release); the handler
 * loads req (acquire), fills moved/n/pcs and stores done = req (release);
 * the monitor reads the answer after loading done (acquire). */
typedef struct sample_s {
  _Atomic uint64_t req;
  _Atomic uint64_t done;
  weft__worker_t* _Atomic want_worker;
  weft_task_t* _Atomic want_task;
  _Atomic uint64_t want_tick;
  int moved; /* the thread no longer ran want_task at want_tick */
  int n;
  uintptr_t pcs[WEFT__BT_MAX];
  struct sample_s* next; /* the pool's free list, under pool_lock */
} sample_t;

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static sample_t* pool_free;       /* under pool_lock */
static unsigned pool_users;       /* runtimes sampling; under pool_lock */
static int pool_installed;        /* our handler is in; under pool_lock */
static int pool_keep;             /* keep our handler; under pool_lock */
static struct sigaction pool_old; /* the previous action; pool_lock */

/* Runs on the stalled worker's thread, in the signal handler. */
static void take_sample(sample_t* s, const ucontext_t* uc) {
  /* acquire: pairs with the monitor's release store of req; want_* are
   * then those of this request. */
  uint64_t seq = atomic_load_explicit(&s->req, memory_order_acquire);
  /* relaxed: only a handler on want_worker's thread stores done, and
   * handlers on one thread run one after the other. */
  if (seq == atomic_load_explicit(&s->done, memory_order_relaxed))
    return; /* answered already: a late signal */
  weft__worker_t* w = weft__worker_self();
  /* relaxed: ordered by the acquire of req above. */
  if (w == NULL ||
      w != atomic_load_explicit(&s->want_worker, memory_order_relaxed))
    return; /* a late signal for a slot reused by another runtime */
  /* relaxed: as above. */
  weft_task_t* want = atomic_load_explicit(&s->want_task, memory_order_relaxed);
  /* relaxed: as above. */
  uint64_t tick = atomic_load_explicit(&s->want_tick, memory_order_relaxed);
  const weft__stack_t* st = NULL;
  weft_task_t* cur = NULL;
  s->n = 0;
  /* relaxed: tick_pub is this thread's own store. */
  s->moved = !weft__worker_fault_context(&st, &cur) || st == NULL ||
             cur != want ||
             atomic_load_explicit(&w->tick_pub, memory_order_relaxed) != tick;
#if WEFT__BT_SUPPORTED
  uintptr_t lo = s->moved ? 0 : (uintptr_t)st->lo;
  uintptr_t hi = s->moved ? 0 : lo + st->size;
  uintptr_t sp = (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
  /* Interrupted on the fiber's stack (not in a handler on another). */
  if (!s->moved && sp >= lo && sp < hi)
    s->n = weft__bt_walk((uintptr_t)uc->uc_mcontext.gregs[REG_RIP],
                         (uintptr_t)uc->uc_mcontext.gregs[REG_RBP], sp, lo, hi,
                         s->pcs, WEFT__BT_MAX);
#else
  (void)uc;
#endif
  /* relaxed: a newer request (the monitor gave up on this one) is
   * answered by the signal that comes with it, not with this walk. */
  if (atomic_load_explicit(&s->req, memory_order_relaxed) == seq)
    /* release: publishes moved, n and pcs to the monitor. */
    atomic_store_explicit(&s->done, seq, memory_order_release);
}

static void on_sample_signal(int sig, siginfo_t* si, void* uc) {
  (void)sig;
  /* Only our own requests carry a slot: pthread_sigqueue from this
   * process. Anything else sent with this signal is ignored. */
  if (si == NULL || si->si_code != SI_QUEUE || si->si_pid != getpid() ||
      si->si_value.sival_ptr == NULL)
    return;
  int saved = errno;
  take_sample(si->si_value.sival_ptr, uc);
  errno = saved;
}

/* Gives the slots back and, with the last runtime gone, restores the
 * signal's previous action, unless a request is still unanswered. Under
 * pool_lock. */
static void put_slots(sample_t** slots, unsigned n) {
  for (unsigned i = 0; i < n && slots[i] != NULL; i++) {
    /* relaxed (both): only whether they differ matters, not the answer;
     * the monitor that wrote req has been joined. */
    if (atomic_load_explicit(&slots[i]->done, memory_order_relaxed) !=
        atomic_load_explicit(&slots[i]->req, memory_order_relaxed))
      pool_keep = 1;
    slots[i]->next = pool_free;
    pool_free = slots[i];
  }
  if (pool_users == 0 && pool_installed && !pool_keep) {
    sigaction(SAMPLE_SIGNAL, &pool_old, NULL);
    pool_installed = 0;
  }
}

/* Takes a slot per worker and installs the handler. Leaves m->samples
 * NULL (no backtraces, said in the report) if the signal has a handler
 * that is not ours, or memory is short. */
static void sampling_start(weft__monitor_t* m) {
  unsigned n = m->rt->nworkers;
  sample_t** slots = weft__calloc(n, sizeof(*slots));
  if (slots == NULL)
    return;
  pthread_mutex_lock(&pool_lock);
  int ok = 1;
  if (!pool_installed) {
    struct sigaction sa;
    struct sigaction cur;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_sample_signal;
    /* SA_ONSTACK: the worker's alternate stack, so that a task near the
     * end of its stack is not pushed over it by the handler. */
    sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    ok = sigaction(SAMPLE_SIGNAL, NULL, &cur) == 0 &&
         !(cur.sa_flags & SA_SIGINFO) && cur.sa_handler == SIG_DFL &&
         sigaction(SAMPLE_SIGNAL, &sa, &pool_old) == 0;
    pool_installed = ok;
  }
  for (unsigned i = 0; ok && i < n; i++) {
    slots[i] = pool_free;
    if (slots[i] != NULL)
      pool_free = slots[i]->next;
    else
      slots[i] = weft__calloc(1, sizeof(sample_t));
    ok = slots[i] != NULL;
  }
  if (ok)
    pool_users++;
  else
    put_slots(slots, n);
  pthread_mutex_unlock(&pool_lock);
  if (ok)
    m->samples = slots;
  else
    free(slots);
}

static void sampling_stop(weft__monitor_t* m) {
  if (m->samples == NULL)
    return;
  pthread_mutex_lock(&pool_lock);
  pool_users--;
  /* Its late handler may answer a later request, leaving that request's
   * own signal still to come: never restore the action after that. */
  if (m->lost)
    pool_keep = 1;
  put_slots(m->samples, m->rt->nworkers);
  pthread_mutex_unlock(&pool_lock);
  free(m->samples);
  m->samples = NULL;
}

/* What came back from a worker's thread, copied out of its slot. */
typedef struct {
  const char* none; /* why there is no backtrace, or NULL */
  int n;
  uintptr_t pcs[WEFT__BT_MAX];
  char note[128]; /* room for a `none` made on the spot */
} answer_t;

static void sleep_ms(long ms) {
  struct timespec ts = {0, ms * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* A thread asleep in a system call (state S or D in /proc) would have the
 * call cut short by the sampling signal (nanosleep, poll and epoll_wait
 * are not restarted; see DESIGN): instead the answer is the call's number
 * and where it was made, from /proc's syscall file. Returns 1 if so. */
static int blocked_in_kernel(weft__worker_t* w, answer_t* a) {
  char path[64], buf[512];
  /* relaxed: see worker.h. */
  int tid = atomic_load_explicit(&w->tid, memory_order_relaxed);
  if (tid == 0)
    return 0;
  snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
  FILE* f = fopen(path, "r");
  if (f == NULL)
    return 0;
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char* state = strrchr(buf, ')'); /* the name may hold spaces */
  if (state == NULL || state[1] != ' ' || state[2] == 'R')
    return 0;
  snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", tid);
  long nr = -1;
  unsigned long args[6], sp = 0, pc = 0;
  if ((f = fopen(path, "r")) != NULL) {
    if (fscanf(f, "%ld %lx %lx %lx %lx %lx %lx %lx %lx", &nr, &args[0],
               &args[1], &args[2], &args[3], &args[4], &args[5], &sp, &pc) != 9)
      pc = 0;
    fclose(f);
  }
  snprintf(a->note, sizeof(a->note),
           "(asleep in system call %ld: the call "
           "site only; interrupting it would cut the call short)",
           nr);
  a->none = a->note;
  if (pc != 0) {
    a->pcs[0] = pc;
    a->n = 1;
  }
  return 1;
}

/* Asks worker i's thread for its stack while it runs `t` at `tick`, and
 * waits at most kSampleWaitMs for the answer (see DESIGN). */
static void request_sample(weft__monitor_t* m, unsigned i, weft_task_t* t,
                           uint64_t tick, answer_t* a) {
  a->n = 0;
  a->none = NULL;
  if (!WEFT__BT_SUPPORTED)
    return; /* no frames on this platform, as in the dump */
  if (m->samples == NULL) {
    a->none = "(no backtrace: SIGRTMIN+6 has another handler, or memory "
              "ran short)";
    return;
  }
  weft__worker_t* w = m->rt->workers[i];
  sample_t* s = m->samples[i];
  if (blocked_in_kernel(w, a))
    return;
  /* relaxed (this store and the next two): published by the release
   * store of req below. */
  atomic_store_explicit(&s->want_worker, w, memory_order_relaxed);
  /* relaxed: as above. */
  atomic_store_explicit(&s->want_task, t, memory_order_relaxed);
  /* relaxed: as above. */
  atomic_store_explicit(&s->want_tick, tick, memory_order_relaxed);
  /* relaxed: the slot's monitor is the only writer of req (slots change
   * hands under pool_lock). */
  uint64_t seq = atomic_load_explicit(&s->req, memory_order_relaxed) + 1;
  /* release: see sample_t. */
  atomic_store_explicit(&s->req, seq, memory_order_release);
  union sigval v = {.sival_ptr = s};
  if (pthread_sigqueue(w->thread, SAMPLE_SIGNAL, v) != 0) {
    a->none = "(no backtrace: the signal could not be sent)";
    return;
  }
  uint64_t t0 = weft__now_ns();
  /* acquire: pairs with the handler's release store of done. */
  while (atomic_load_explicit(&s->done, memory_order_acquire) != seq) {
    if (weft__now_ns() - t0 > kSampleWaitMs * 1000000ull) {
      m->lost = 1;
      a->none = "(no backtrace: the worker did not answer within 100 ms)";
      return;
    }
    sleep_ms(1);
  }
  if (s->moved) {
    a->none = "(no backtrace: the task moved on before its stack was read)";
    return;
  }
  a->n = s->n;
  memcpy(a->pcs, s->pcs, sizeof(a->pcs[0]) * (size_t)s->n);
}

/* Logs the frames, one line each, under the slow-task line. The first is
 * where the thread was interrupted, the others return addresses. */
static void log_answer(const answer_t* a) {
  if (a->none != NULL)
    weft__warn("    %s", a->none);
  for (int k = 0; k < a->n; k++) {
    char line[256];
    weft__bt_format(k, a->pcs[k], k == 0, line, sizeof(line));
    weft__warn("%s", line);
  }
}

/* Copies the label of `t` if it is still the fiber running on `w`. */
static int running_label(weft__worker_t* w, weft_task_t* t, char* buf,
                         size_t n) {
  if (!weft__task_try_retain(t))
    return 0;
  /* relaxed: a hint, re-read to check the retained task is the one. */
  int ok = atomic_load_explicit(&w->running_pub, memory_order_relaxed) == t;
  if (ok)
    weft__task_label(t, buf, n);
  weft__task_release(t);
  return ok;
}

static void monitor_worker(weft__monitor_t* m, unsigned i, uint64_t now) {
  weft__worker_t* w = m->rt->workers[i];
  seen_t* s = &m->seen[i];
  /* relaxed: heuristics (worker.h); a stale view delays a report by one
   * period. */
  uint64_t tick = atomic_load_explicit(&w->tick_pub, memory_order_relaxed);
  /* acquire: pairs with the release store in run(): the header is then
   * visible to the retain below. */
  weft_task_t* t = atomic_load_explicit(&w->running_pub, memory_order_acquire);
  if (t == NULL || t != s->task || tick != s->tick) {
    if (s->reported)
      weft__warn("worker %u moves again: task %s held it for about %llu ms", i,
                 s->label, (unsigned long long)((now - s->since_ns) / 1000000));
    s->tick = tick;
    s->task = t;
    s->since_ns = now;
    s->reported = 0;
    return;
  }
  uint64_t ms = (now - s->since_ns) / 1000000;
  if (s->reported || ms < m->rt->slow_task_ms)
    return;
  if (!running_label(w, t, s->label, sizeof(s->label)))
    return;
  s->reported = 1;
  /* The stack first: the report may end the stall (a test's spinner). */
  answer_t a;
  request_sample(m, i, t, tick, &a);
  weft__warn("slow task: %s has held worker %u for %llu ms without an "
             "await (threshold %u ms)",
             s->label, i, (unsigned long long)ms, m->rt->slow_task_ms);
  log_answer(&a);
}

static void* monitor_main(void* arg) {
  weft__monitor_t* m = arg;
  pthread_mutex_lock(&m->lock);
  while (!m->stop) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += kMonitorPeriodMs * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&m->cv, &m->lock, &ts);
    if (m->stop)
      break;
    pthread_mutex_unlock(&m->lock);
    uint64_t now = weft__now_ns();
    for (unsigned i = 0; i < m->rt->nworkers; i++)
      monitor_worker(m, i, now);
    pthread_mutex_lock(&m->lock);
  }
  pthread_mutex_unlock(&m->lock);
  return NULL;
}

int weft__debug_start(weft_runtime_t* rt) {
  if (rt->slow_task_ms == 0)
    rt->slow_task_ms = kDefaultSlowMs;
  weft__monitor_t* m = calloc(1, sizeof(*m));
  if (m == NULL)
    return WEFT_ENOMEM;
  m->seen = calloc(rt->nworkers, sizeof(*m->seen));
  if (m->seen == NULL) {
    free(m);
    return WEFT_ENOMEM;
  }
  m->rt = rt;
  sampling_start(m);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&m->cv, &ca);
  pthread_condattr_destroy(&ca);
  pthread_mutex_init(&m->lock, NULL);
  if (pthread_create(&m->thread, NULL, monitor_main, m) != 0) {
    sampling_stop(m);
    pthread_cond_destroy(&m->cv);
    pthread_mutex_destroy(&m->lock);
    free(m->seen);
    free(m);
    return WEFT_ENOMEM;
  }
  rt->monitor = m;
  return 0;
}

void weft__debug_stop(weft_runtime_t* rt) {
  weft__monitor_t* m = rt->monitor;
  if (m == NULL)
    return;
  pthread_mutex_lock(&m->lock);
  m->stop = 1;
  pthread_cond_signal(&m->cv);
  pthread_mutex_unlock(&m->lock);
  pthread_join(m->thread, NULL);
  sampling_stop(m);
  pthread_cond_destroy(&m->cv);
  pthread_mutex_destroy(&m->lock);
  free(m->seen);
  free(m);
  rt->monitor = NULL;
}

/* ---- Dump signal ----------------------------------------------------------
 */

/* The signal handler may only do async-signal-safe things: it writes one
 * byte to a pipe; a thread of the runtime that enabled the signal reads it
 * and dumps. The pipe is process-wide and never closed, so the handler
 * never writes to a descriptor that was closed and reused; one runtime at
 * a time owns the signal (`dump_owner`). */
static pthread_once_t dump_pipe_once = PTHREAD_ONCE_INIT;
static int dump_pipe[2] = {-1, -1};
static pthread_mutex_t dump_owner_lock = PTHREAD_MUTEX_INITIALIZER;
static weft_runtime_t* dump_owner; /* under dump_owner_lock */

typedef struct weft__dumper_s {
  weft_runtime_t* rt;
  pthread_t thread;
  int sig;
  struct sigaction old;
} weft__dumper_t;

static void make_dump_pipe(void) {
  if (pipe2(dump_pipe, O_CLOEXEC) != 0) {
    dump_pipe[0] = dump_pipe[1] = -1;
    return;
  }
  /* A flood of signals must not block the handler: extra bytes are
   * dropped (a dump is already due). */
  fcntl(dump_pipe[1], F_SETFL, O_NONBLOCK);
}

static void on_dump_signal(int sig) {
  (void)sig;
  int saved = errno;
  char c = 'd';
  ssize_t r = write(dump_pipe[1], &c, 1);
  (void)r;
  errno = saved;
}

static void* dumper_main(void* arg) {
  weft__dumper_t* d = arg;
  for (;;) {
    char c;
    ssize_t r = read(dump_pipe[0], &c, 1);
    if (r < 0 && errno == EINTR)
      continue;
    if (r != 1 || c == 'q')
      break;
    /* relaxed: see weft__warn_set_stream. */
    FILE* f = weft__warn_stream();
    weft_task_dump(d->rt, f != NULL ? f : stderr);
  }
  return NULL;
}

static int claim_signal(weft_runtime_t* rt, int sig, struct sigaction* old) {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_dump_signal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  if (sig == SIGSEGV || sig == SIGBUS || sig == SIGKILL || sig == SIGSTOP)
    return WEFT_EINVAL;
  pthread_mutex_lock(&dump_owner_lock);
  int err = dump_owner != NULL ? WEFT_EBUSY : 0;
  if (err == 0 && sigaction(sig, &sa, old) != 0)
    err = WEFT_EINVAL;
  if (err == 0)
    dump_owner = rt;
  pthread_mutex_unlock(&dump_owner_lock);
  return err;
}

int weft__dump_signal_start(weft_runtime_t* rt, int sig) {
  pthread_once(&dump_pipe_once, make_dump_pipe);
  if (dump_pipe[0] < 0)
    return WEFT_ENOMEM;
  weft__dumper_t* d = calloc(1, sizeof(*d));
  if (d == NULL)
    return WEFT_ENOMEM;
  d->rt = rt;
  d->sig = sig;
  int err = claim_signal(rt, sig, &d->old);
  if (err != 0) {
    free(d);
    return err;
  }
  if (pthread_create(&d->thread, NULL, dumper_main, d) != 0) {
    sigaction(sig, &d->old, NULL);
    pthread_mutex_lock(&dump_owner_lock);
    dump_owner = NULL;
    pthread_mutex_unlock(&dump_owner_lock);
    free(d);
    return WEFT_ENOMEM;
  }
  rt->dumper = d;
  return 0;
}

void weft__dump_signal_stop(weft_runtime_t* rt) {
  weft__dumper_t* d = rt->dumper;
  if (d == NULL)
    return;
  sigaction(d->sig, &d->old, NULL);
  /* The quit byte queues behind any dump request already in the pipe. A
   * full pipe holds only dump requests, which the thread is draining, so
   * retry until the byte is in. */
  char c = 'q';
  while (write(dump_pipe[1], &c, 1) != 1)
    sched_yield();
  pthread_join(d->thread, NULL);
  pthread_mutex_lock(&dump_owner_lock);
  dump_owner = NULL;
  pthread_mutex_unlock(&dump_owner_lock);
  free(d);
  rt->dumper = NULL;
}

void weft__debug_hooks(weft__hooks_t* hooks) {
  hooks->task_freed = task_freed;
}
