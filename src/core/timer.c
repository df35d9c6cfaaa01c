/* Timers for sleeping tasks.
 *
 * DESIGN
 * A libuv timer per sleeping task would cost a handle each (the issue
 * measured raw libuv at 1.76 s for a million one-second sleepers), and libuv
 * keeps time in milliseconds. Instead each worker keeps a binary min-heap of
 * (deadline ns, task, seq) entries and one timerfd armed, with nanosecond
 * precision, to the earliest deadline; the loop polls the timerfd, and the
 * worker also runs due timers in its maintenance tick when it is busy.
 * The heap holds no reference: an entry names the task and the task's
 * `wait_seq` at the time it slept, and firing checks, under the task's lock,
 * that the task still sleeps that same sleep. A cancelled sleep leaves its
 * entry behind (lazy deletion): the cancel is handled on this worker, which
 * counts the entry as stale, and the heap is rebuilt without stale entries
 * when they outnumber live ones. Task headers are never unmapped while the
 * runtime lives (task.c), so reading a stale entry's task is safe.
 * Sleeps due together wake in deadline order (equal deadlines in no
 * particular order).
 */
#include "base/alloc.h"
#include "core/timer.h"

#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "base/common.h"
#include "core/task.h"
#include "core/wait.h"
#include "core/worker.h"

/* A stale or unfired entry of another kind leaves the heap. */
static void drop_entry(const weft__timer_entry_t* e) {
  if (e->ops != NULL && e->ops->drop != NULL)
    e->ops->drop(e->obj);
}

static void arm(weft__timers_t* tm, uint64_t deadline) {
  struct itimerspec its;
  if (deadline == tm->armed || tm->virtual_clock)
    return;
  memset(&its, 0, sizeof(its));
  if (deadline != UINT64_MAX) {
    /* 0 would disarm: a deadline at time 0 is simply "now". */
    uint64_t d = deadline == 0 ? 1 : deadline;
    its.it_value.tv_sec = (time_t)(d / 1000000000u);
    its.it_value.tv_nsec = (long)(d % 1000000000u);
  }
  timerfd_settime(tm->fd, TFD_TIMER_ABSTIME, &its, NULL);
  tm->armed = deadline;
}

static void on_timerfd(uv_poll_t* handle, int status, int events) {
  weft__worker_t* w = handle->data;
  uint64_t expirations;
  (void)status;
  (void)events;
  if (read(w->timers.fd, &expirations, sizeof(expirations)) < 0) {
    /* EAGAIN: already consumed; the heap decides what is due anyway. */
  }
  w->timers.armed = UINT64_MAX;
  weft__timers_run(w, weft__now_ns());
}

int weft__timers_init(weft__worker_t* w) {
  weft__timers_t* tm = &w->timers;
  memset(tm, 0, sizeof(*tm));
  tm->armed = UINT64_MAX;
  tm->virtual_clock = w->rt->hooks.virtual_time;
  tm->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (tm->fd < 0)
    return WEFT_ENOMEM;
  if (uv_poll_init(&w->loop, &tm->poll, tm->fd) != 0) {
    close(tm->fd);
    return WEFT_ENOMEM;
  }
  tm->poll.data = w;
  uv_poll_start(&tm->poll, UV_READABLE, on_timerfd);
  /* The poll must not keep uv_run(ONCE) from blocking forever when nothing
   * is armed, but it does not need to: an unarmed timerfd never fires. */
  return 0;
}

void weft__timers_close(weft__worker_t* w) {
  uv_close((uv_handle_t*)&w->timers.poll, NULL);
}

void weft__timers_free(weft__worker_t* w) {
  /* Entries of other kinds still in the heap (a timeout scope exited
   * before its deadline) may hold a reference each. */
  for (size_t i = 0; i < w->timers.len; i++)
    drop_entry(&w->timers.heap[i]);
  close(w->timers.fd);
  free(w->timers.heap);
  w->timers.heap = NULL;
}

static int before(const weft__timer_entry_t* a, const weft__timer_entry_t* b) {
  return a->deadline < b->deadline;
}

static void sift_up(weft__timer_entry_t* h, size_t i) {
  weft__timer_entry_t e = h[i];
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!before(&e, &h[parent]))
      break;
    h[i] = h[parent];
    i = parent;
  }
  h[i] = e;
}

static void sift_down(weft__timer_entry_t* h, size_t len, size_t i) {
  weft__timer_entry_t e = h[i];
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= len)
      break;
    if (c + 1 < len && before(&h[c + 1], &h[c]))
      c++;
    if (!before(&h[c], &e))
      break;
    h[i] = h[c];
    i = c;
  }
  h[i] = e;
}

static void sweep_if_grown(weft__timers_t* tm);

static int add(weft__worker_t* w, weft__timer_entry_t e) {
  weft__timers_t* tm = &w->timers;
  sweep_if_grown(tm);
  if (tm->len == tm->cap) {
    size_t cap = tm->cap ? tm->cap * 2 : 256;
    weft__timer_entry_t* h = weft__realloc(tm->heap, cap * sizeof(*h));
    if (h == NULL)
      return WEFT_ENOMEM;
    tm->heap = h;
    tm->cap = cap;
  }
  tm->heap[tm->len] = e;
  sift_up(tm->heap, tm->len++);
  if (e.deadline < tm->armed)
    arm(tm, e.deadline);
  return 0;
}

int weft__timers_add(weft__worker_t* w, uint64_t deadline, weft_task_t* t,
                     uint64_t seq) {
  return add(w, (weft__timer_entry_t){deadline, NULL, t, seq});
}

int weft__timers_add_entry(weft__worker_t* w, uint64_t deadline,
                           const weft__timer_ops_t* ops, void* obj) {
  /* From a task on w: the heap is under w's driver (driver.c). */
  int had = w->held == w;
  if (!had) {
    /* Nobody spins for a driver while holding another (driver.c): two
     * tasks each holding the other's worker loop would wait for ever. A
     * loop this task borrowed goes back first (calls end holding none, so
     * this only guards the rule). */
    weft__driver_leave(w);
    weft__driver_lock(w);
  }
  int err = add(w, (weft__timer_entry_t){deadline, ops, obj, 0});
  if (!had)
    weft__driver_release(w);
  return err;
}


/* The fiber to wake if `e`'s task still sleeps that sleep, else NULL.
 * An entry of another kind is fired here and yields no fiber. */
static weft_task_t* fire(weft__timer_entry_t* e) {
  if (e->ops != NULL) {
    e->ops->fire(e->obj); /* counted like a stale sleep entry below */
    return NULL;
  }
  weft_task_t* t = e->obj;
  int live;
  weft__spin_lock(&t->lock);
  live = t->wait_kind == &weft__wait_sleep && t->wait_seq == e->seq;
  if (live) {
    t->wait_kind = NULL;
    t->wake_status = 0;
  }
  weft__spin_unlock(&t->lock);
  return live ? t->host : NULL;
}

static int entry_live(weft__timer_entry_t* e) {
  if (e->ops != NULL)
    return e->ops->live(e->obj);
  weft_task_t* t = e->obj;
  int live;
  weft__spin_lock(&t->lock);
  live = t->wait_kind == &weft__wait_sleep && t->wait_seq == e->seq;
  weft__spin_unlock(&t->lock);
  return live;
}

/* Entries that died where nobody counted them (a timeout scope that ended
 * early on another worker: only its entry's live() knows) would otherwise
 * stay until their deadlines: a client's 300 s default deadline per
 * request held the heap at rate x 300 s. An add that finds the heap twice
 * as long as after the last sweep rebuilds it: amortised O(1) an add. */
enum { kSweepMin = 1024 };

static void rebuild(weft__timers_t* tm);

static void sweep_if_grown(weft__timers_t* tm) {
  if (tm->len < tm->sweep_at || tm->len < kSweepMin)
    return;
  rebuild(tm);
  tm->sweep_at = 2 * (tm->len > kSweepMin ? tm->len : kSweepMin);
}

static void rebuild(weft__timers_t* tm) {
  size_t n = 0;
  for (size_t i = 0; i < tm->len; i++) {
    if (entry_live(&tm->heap[i]))
      tm->heap[n++] = tm->heap[i];
    else
      drop_entry(&tm->heap[i]);
  }
  tm->len = n;
  tm->stale = 0;
  for (size_t i = n / 2; i-- > 0;)
    sift_down(tm->heap, n, i);
}

static void pop_top(weft__timers_t* tm) {
  tm->heap[0] = tm->heap[--tm->len];
  if (tm->len > 0)
    sift_down(tm->heap, tm->len, 0);
}

uint64_t weft__timers_next(weft__worker_t* w) {
  weft__timers_t* tm = &w->timers;
  while (tm->len > 0 && !entry_live(&tm->heap[0])) {
    weft__timer_entry_t e = tm->heap[0];
    pop_top(tm);
    drop_entry(&e);
    if (tm->stale > 0) /* a heuristic count, as in weft__timers_run */
      tm->stale--;
  }
  return tm->len > 0 ? tm->heap[0].deadline : UINT64_MAX;
}

void weft__timers_note_stale(weft__worker_t* w) {
  weft__timers_t* tm = &w->timers;
  if (++tm->stale > 64 && tm->stale > tm->len / 2)
    rebuild(tm);
}

size_t weft__timers_run(weft__worker_t* w, uint64_t now) {
  weft__timers_t* tm = &w->timers;
  weft_task_t* latest_first = NULL;
  size_t woken = 0;
  while (tm->len > 0 && tm->heap[0].deadline <= now) {
    weft__timer_entry_t e = tm->heap[0];
    pop_top(tm);
    weft_task_t* f = fire(&e);
    if (f == NULL) {
      /* A stale entry left the heap (a fired scope is counted too: the
       * count is a rebuild heuristic, never below zero). */
      if (tm->stale > 0)
        tm->stale--;
      continue;
    }
    /* A parked fiber is in no queue, so its link is free. */
    f->next = latest_first;
    latest_first = f;
    woken++;
  }
  /* Sleeps that came due together resume in deadline order: push the
   * latest first, so the earliest ends at the deque's bottom, popped first
   * (the LIFO slot would reverse them). */
  while (latest_first != NULL) {
    weft_task_t* f = latest_first;
    latest_first = f->next;
    f->next = NULL;
    /* On the thread serving the loop, which may not be w's (driver.c). */
    weft__worker_push(weft__worker_self(), f);
  }
  arm(tm, tm->len > 0 ? tm->heap[0].deadline : UINT64_MAX);
  return woken;
}
