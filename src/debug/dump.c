/* weft_task_dump: a snapshot of every task, for a human.
 *
 * DESIGN
 * The dump runs beside the tasks it describes, on any thread, and must
 * never hang or crash. So:
 *  - Tasks are found with the slab visitor, which retains each live header
 *    (a header is never unmapped, and a retained one is not recycled), so
 *    its id and name stay valid while it is printed.
 *  - The wait descriptor is read under the task's spin lock, taken with a
 *    bounded try-lock: that lock is only ever held for a few instructions
 *    and never across a switch, but a preempted holder must not make the
 *    dump spin forever, so after a bounded number of tries the line says
 *    "waits on: ?" instead.
 *  - Fields that only the running worker writes (the fiber's saved stack
 *    pointer, its stack descriptor) and the stack memory itself are read
 *    with process_vm_readv on our own process: a read of memory that has
 *    just been unmapped (a custom-size stack given back) fails with EFAULT
 *    instead of faulting, and the sanitizers do not see a racy read of a
 *    stack the task may resume on meanwhile (the values are only used
 *    after checking them against the stack's bounds).
 *  - The frame-pointer walk is bounded: at most 32 frames, each frame
 *    pointer 8-aligned, strictly above the last, and inside the stack
 *    (backtrace.c, shared with the slow-task report).
 * Nothing is printed under a lock (not even the FILE's: a task freed by
 * the visitor may print a debug warning): each task's facts are copied
 * out first.
 * The x86-64 switch (ctx_x86_64.S) leaves, from the saved sp upwards, the
 * FP control words, r15..r12, rbx, then rbp at [48] and the return address
 * at [56]: the suspended fiber's frame chain starts there. Other backends
 * print no backtrace.
 */
#include <stdio.h>
#include <string.h>

#include "debug/backtrace.h"
#include "debug/debug.h"
#include "core/wait.h"
#include "base/common.h"
#include "core/worker.h"

enum { kLockTries = 1000 };

/* A spin-lock acquisition that gives up (0) after kLockTries tries. */
static int try_lock(weft__spin_t* s) {
  for (int i = 0; i < kLockTries; i++) {
    /* acquire: as weft__spin_lock. */
    if (!atomic_flag_test_and_set_explicit(&s->flag, memory_order_acquire))
      return 1;
    weft__cpu_relax();
  }
  return 0;
}

/* Describes what `t` waits on into buf: its wait kind's words, read
 * under t's lock (tried: a dump must not hang on a wedged task). */
static void describe_wait(weft_task_t* t, char* buf, size_t n) {
  if (!try_lock(&t->lock)) {
    snprintf(buf, n, "?");
    return;
  }
  if (t->wait_kind != NULL)
    t->wait_kind->describe(t, buf, n);
  else
    snprintf(buf, n, "a lock, queue, event or other primitive");
  weft__spin_unlock(&t->lock);
}

/* Prints the frames of the suspended fiber `f` (see DESIGN). */
static void print_backtrace(FILE* out, weft_task_t* f) {
#if WEFT__BT_SUPPORTED
  weft__stack_t* sp_desc;
  weft__ctx_t ctx;
  weft__stack_t st;
  if (weft__safe_read(&f->stack, &sp_desc, sizeof(sp_desc)) != 0 ||
      sp_desc == NULL || weft__safe_read(sp_desc, &st, sizeof(st)) != 0 ||
      weft__safe_read(&f->ctx, &ctx, sizeof(ctx)) != 0)
    return;
  uintptr_t lo = (uintptr_t)st.lo;
  uintptr_t hi = lo + st.size;
  uintptr_t sp = (uintptr_t)ctx.sp;
  uintptr_t frame[8];
  if (sp < lo || sp > hi - sizeof(frame) ||
      weft__safe_read((void*)sp, frame, sizeof(frame)) != 0)
    return;
  uintptr_t pcs[WEFT__BT_MAX];
  int n = weft__bt_walk(frame[7], frame[6], sp, lo, hi, pcs, WEFT__BT_MAX);
  for (int i = 0; i < n; i++) {
    char line[256];
    weft__bt_format(i, pcs[i], 0, line, sizeof(line));
    fprintf(out, "%s\n", line);
  }
#else
  (void)out;
  (void)f;
#endif
}

typedef struct {
  FILE* out;
  int n;
} dump_t;

static int dump_one(weft_task_t* t, void* arg) {
  dump_t* d = arg;
  static const char* const states[] = {"free", "queued", "running", "suspended",
                                       "done"};
  char label[80];
  char wait[160] = "";
  weft__task_label(t, label, sizeof(label));
  /* acquire: a DONE seen here makes the status readable. */
  uint8_t p = atomic_load_explicit(&t->phase, memory_order_acquire);
  /* relaxed: a hint (task.h). */
  int last = atomic_load_explicit(&t->last_worker, memory_order_relaxed);
  if (p == WEFT_PHASE_SUSPENDED)
    describe_wait(t, wait, sizeof(wait));
  d->n++;
  fprintf(d->out, "task %s: %s", label, p < 5 ? states[p] : "?");
  if (last >= 0)
    fprintf(d->out, ", last on worker %d", last);
  if (p == WEFT_PHASE_DONE)
    fprintf(d->out, ", status %d (%s)", t->status, weft_err_name(t->status));
  if (p == WEFT_PHASE_SUSPENDED)
    fprintf(d->out, ", waits on %s", wait);
  fputc('\n', d->out);
  /* host and inner are read racily, then retained (safe on any header
   * pointer: headers are never unmapped) so that their ids are visible
   * and stable while printed. The slab lock, taken and dropped, orders
   * the creation of any slab such a pointer may point into before the
   * retain (it is only ever held briefly). */
  weft_task_t* host = NULL;
  weft_task_t* inner = NULL;
  pthread_mutex_lock(&t->rt->slab_lock);
  pthread_mutex_unlock(&t->rt->slab_lock);
  if (p == WEFT_PHASE_SUSPENDED &&
      weft__safe_read(&t->host, &host, sizeof(host)) == 0 && host != NULL &&
      weft__task_try_retain(host)) {
    if (host != t)
      fprintf(d->out, "    (runs inline on the stack of task id %llu)\n",
              (unsigned long long)host->id);
    print_backtrace(d->out, host);
    weft__task_release(host);
  } else if (p == WEFT_PHASE_RUNNING &&
             weft__safe_read(&t->inner, &inner, sizeof(inner)) == 0 &&
             inner != NULL && inner != t && weft__task_try_retain(inner)) {
    /* A fiber whose awaited child runs inline on its stack: the fiber
     * stays "running" while the child is what waits. */
    fprintf(d->out,
            "    (awaits task id %llu, which runs inline on this "
            "task's stack)\n",
            (unsigned long long)inner->id);
    weft__task_release(inner);
  }
  return 0;
}

/* The rest of a worker's line: how long ago its loop was last polled (by
 * it or by another worker serving it while it computes, core/driver.c)
 * and how many times this worker served others' loops. */
static void dump_loop(weft__worker_t* w, FILE* out) {
  /* relaxed: hints, as for the rescuers that read them. */
  uint64_t polled = atomic_load_explicit(&w->polled_ns, memory_order_relaxed);
  /* relaxed: a statistic. */
  uint64_t served = atomic_load_explicit(&w->n_drives, memory_order_relaxed);
  uint64_t now = weft__now_ns();
  fprintf(out, "; loop polled %llu us ago; served %llu other loops\n",
          (unsigned long long)(now > polled ? (now - polled) / 1000 : 0),
          (unsigned long long)served);
}

/* One line per worker: what it runs now, and its loop. */
static void dump_workers(weft_runtime_t* rt, FILE* out) {
  for (unsigned i = 0; i < rt->nworkers; i++) {
    weft__worker_t* w = rt->workers[i];
    /* acquire: pairs with the release store in run(), so the header is
     * visible to the retain below, which confirms the task is alive. */
    weft_task_t* t =
        atomic_load_explicit(&w->running_pub, memory_order_acquire);
    /* relaxed: as above. */
    uint64_t tick = atomic_load_explicit(&w->tick_pub, memory_order_relaxed);
    char label[80];
    if (t != NULL && weft__task_try_retain(t)) {
      weft__task_label(t, label, sizeof(label));
      weft__task_release(t);
      fprintf(out, "worker %u: tick %llu, running task %s", i,
              (unsigned long long)tick, label);
    } else {
      fprintf(out, "worker %u: tick %llu, idle or between tasks", i,
              (unsigned long long)tick);
    }
    dump_loop(w, out);
  }
}

int weft_task_dump(weft_runtime_t* rt, FILE* out) {
  if (rt == NULL)
    rt = weft_current_runtime();
  if (rt == NULL)
    return WEFT_EINVAL;
  if (out == NULL)
    out = stderr;
  dump_t d = {out, 0};
  fprintf(out, "weft task dump: %u workers, %zu live tasks\n", rt->nworkers,
          weft_task_count(rt));
  dump_workers(rt, out);
  weft__slabs_visit_ex(rt, 1, dump_one, &d);
  fprintf(out, "end of dump: %d tasks listed\n", d.n);
  fflush(out);
  return d.n;
}
