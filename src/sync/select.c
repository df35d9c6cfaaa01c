/* weft_select: wait for the first of several events and take exactly one
 * (Go's select, tokio's select!, libdill's choose).
 *
 * DESIGN
 * A select is a small heap object (weft__sel_t): a `winner` word, a future
 * `fut` the selector waits on, and one slot per case. Every case is armed
 * on its object, and whatever makes a case ready must first *claim* the
 * select: a CAS of `winner` from kOpen to the case's index. Exactly one
 * claim succeeds; only its claimer completes `fut` (so it is completed
 * once), and only it hands its case anything.
 *
 *  - Channel cases are queue waiters (select.h) on the queue's getters or
 *    putters list, with `sel` set. The queue grants items and slots as it
 *    does to any waiter (queue.c's reservations), but a grant to a select's
 *    waiter claims the select first; a failed claim drops the waiter from
 *    the list and the grant goes to the next waiter. So a losing case is
 *    never handed an item or a slot: nothing is consumed by it.
 *  - Future, task and token cases are watchers (core/future.h): a node on
 *    the future's waiter list whose notify claims the select and completes
 *    `fut`. A task is watched through its completion future, a token
 *    through the future it completes when cancelled. The notify runs after
 *    the future's lock is dropped, possibly after the selector has moved
 *    on, so each listed watcher holds a reference to the select object;
 *    the select is freed by the last of the selector and those notifies.
 *
 * Steps of weft_select:
 *  1. Poll: the first case ready now, in array order, is taken with the
 *     objects' non-waiting calls (try_recv, try_send, done checks): no
 *     allocation, no claim needed (nothing is armed yet).
 *  2. Arm each case in order. A case found ready while arming is claimed
 *     there (under the queue's mutex, or the future's done state); arming
 *     stops at the first case chosen, by us or by a concurrent grant.
 *  3. Wait on `fut` (with the timeout; cancellable, like any future wait).
 *  4. Close: claim the select for kClosed. If that succeeds nothing was
 *     chosen (timeout, cancellation) and no grant can choose anything any
 *     more; else `winner` says which case was.
 *  5. Disarm every armed case: unlist it if it is still listed. The chosen
 *     channel case finishes its operation (takes its reserved item, stores
 *     its item in its reserved slot), unless the selector was cancelled:
 *     then the reservation passes to the next waiter, so a cancelled select
 *     consumed nothing (as queue.c's cancelled get and put).
 *
 * No wake-up is lost: a case armed before its object became ready is on
 * the object's list when the object's state changes under its lock (queue
 * mutex, future lock), and the claim and the completion of `fut` follow; a
 * case that became ready before it was armed is seen ready while arming,
 * under the same lock.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/common.h"
#include "core/future.h"
#include "core/worker.h"
#include "sync/select.h"
#include "sync/sync.h"

enum { kOpen = -1, kClosed = -2 };

typedef struct {
  weft__qwaiter_t qw;   /* channel cases */
  weft__waiter_t watch; /* future, task and token cases */
  weft_future_t* f;     /* the watched future (a reference), or NULL */
  weft__sel_t* sel;
  int armed;
} sel_slot_t;

struct weft__sel_s {
  /* The selector's + one per listed watcher; acq_rel decrements. */
  _Atomic uint32_t refs;
  /* kOpen, kClosed or the chosen case: CAS acq_rel (weft__sel_claim),
   * acquire loads. */
  _Atomic intptr_t winner;
  weft_future_t* fut; /* completed by the claimer; one reference */
  sel_slot_t slots[];
};

int weft__sel_claim(weft__sel_t* s, size_t index) {
  intptr_t open = kOpen;
  /* acq_rel: the claim orders the claimer's hand-off (a reservation made
   * under a queue mutex) before the selector's acquire load of winner. */
  return atomic_compare_exchange_strong_explicit(&s->winner, &open,
                                                 (intptr_t)index,
                                                 memory_order_acq_rel,
                                                 memory_order_acquire);
}

static void sel_put(weft__sel_t* s) {
  /* acq_rel: the last holder sees the others' writes before freeing. */
  if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
    return;
  weft_future_release(s->fut);
  free(s);
}

/* A watched future is done: runs on the completing thread, after the
 * future's lock is dropped. */
static void on_ready(weft__waiter_t* node) {
  sel_slot_t* slot = weft__container_of(node, sel_slot_t, watch);
  weft__sel_t* s = slot->sel;
  if (weft__sel_claim(s, (size_t)(slot - s->slots)))
    weft_future_set_result(s->fut, NULL);
  sel_put(s); /* the watcher's */
}

/* ---- Case builders ------------------------------------------------------ */

weft_select_case_t weft_select_recv(weft_chan_t* ch, void** out) {
  return (weft_select_case_t){.kind = WEFT_SELECT_RECV, .obj = ch, .out = out};
}

weft_select_case_t weft_select_send(weft_chan_t* ch, void* item) {
  return (
      weft_select_case_t){.kind = WEFT_SELECT_SEND, .obj = ch, .item = item};
}

weft_select_case_t weft_select_future(weft_future_t* f, void** result) {
  return (
      weft_select_case_t){.kind = WEFT_SELECT_FUTURE, .obj = f, .out = result};
}

weft_select_case_t weft_select_task(weft_task_t* task, void** result) {
  return (
      weft_select_case_t){.kind = WEFT_SELECT_TASK, .obj = task, .out = result};
}

weft_select_case_t weft_select_token(weft_token_t* tok) {
  return (weft_select_case_t){.kind = WEFT_SELECT_TOKEN, .obj = tok};
}

/* ---- Step 1: poll ------------------------------------------------------- */

static int is_channel(const weft_select_case_t* c) {
  return c->kind == WEFT_SELECT_RECV || c->kind == WEFT_SELECT_SEND;
}

static int check_cases(const weft_select_case_t* cases, size_t n) {
  if (cases == NULL || n == 0 || n > (size_t)INT_MAX)
    return WEFT_EINVAL;
  for (size_t i = 0; i < n; i++) {
    const weft_select_case_t* c = &cases[i];
    if ((unsigned)c->kind > WEFT_SELECT_TOKEN)
      return WEFT_EINVAL;
    if (c->kind != WEFT_SELECT_OFF && c->obj == NULL)
      return WEFT_EINVAL;
    if (c->kind == WEFT_SELECT_RECV && c->out == NULL)
      return WEFT_EINVAL;
  }
  return 0;
}

/* The future a non-channel case watches (a new reference), or NULL. */
static weft_future_t* case_future(weft_select_case_t* c, int* err) {
  weft_future_t* f = NULL;
  *err = 0;
  if (c->kind == WEFT_SELECT_FUTURE)
    f = weft_future_retain(c->obj);
  else if (c->kind == WEFT_SELECT_TOKEN)
    f = weft_future_retain(weft__token_future(c->obj));
  else if (c->kind == WEFT_SELECT_TASK)
    *err = weft_task_future(c->obj, &f);
  return f;
}

/* The case's outcome once its future is done. */
static void take_future(weft_select_case_t* c, weft_future_t* f) {
  void* result = NULL;
  c->status = weft_future_result(f, &result);
  if (c->kind == WEFT_SELECT_TOKEN)
    c->status = 0;
  else if (c->status == 0 && c->out != NULL)
    *c->out = result;
}

/* Takes case c if it is ready now: 1 (c->status set), 0, or < 0 error. */
static int poll_case(weft_select_case_t* c) {
  int rc;
  switch (c->kind) {
    case WEFT_SELECT_RECV:
      rc = weft_chan_try_recv(c->obj, c->out);
      break;
    case WEFT_SELECT_SEND:
      rc = weft_chan_try_send(c->obj, c->item);
      break;
    case WEFT_SELECT_FUTURE:
      if (!weft_future_done(c->obj))
        return 0;
      take_future(c, c->obj);
      return 1;
    case WEFT_SELECT_TASK:
      if (!weft_task_done(c->obj))
        return 0;
      c->status = weft_task_result(c->obj, c->out);
      return 1;
    case WEFT_SELECT_TOKEN:
      if (!weft_token_cancelled(c->obj))
        return 0;
      c->status = 0;
      return 1;
    default:
      return 0;
  }
  if (rc == WEFT_EAGAIN)
    return 0;
  if (rc != 0 && rc != WEFT_ECLOSED)
    return rc; /* WEFT_ENOMEM from a store that could not grow */
  c->status = rc;
  return 1;
}

/* ---- Steps 2 and 5: arm and disarm -------------------------------------- */

static weft__sel_t* sel_new(size_t n) {
  weft__sel_t* s = weft__calloc(1, sizeof(*s) + n * sizeof(s->slots[0]));
  if (s == NULL)
    return NULL;
  if (weft_future_new(&s->fut) != 0) {
    free(s);
    return NULL;
  }
  atomic_init(&s->refs, 1);
  atomic_init(&s->winner, kOpen);
  for (size_t i = 0; i < n; i++) {
    sel_slot_t* slot = &s->slots[i];
    slot->sel = s;
    slot->qw.sel = s;
    slot->qw.index = i;
    slot->qw.fut = s->fut;
    slot->watch.notify = on_ready;
  }
  return s;
}

/* Arms case i. Returns 1 when arming must stop (a case was chosen), 0 to
 * go on, < 0 on error (nothing of case i left armed). */
static int arm_case(weft__sel_t* s, weft_select_case_t* c, size_t i) {
  sel_slot_t* slot = &s->slots[i];
  if (is_channel(c)) {
    int put = c->kind == WEFT_SELECT_SEND;
    int rc = weft__queue_sel_arm(weft__chan_queue(c->obj), put, &slot->qw,
                                 c->item, c->out, &c->status);
    slot->armed = rc == WEFT__SEL_ARMED;
    return rc != WEFT__SEL_ARMED;
  }
  if (c->kind == WEFT_SELECT_OFF)
    return 0;
  int err;
  slot->f = case_future(c, &err);
  if (slot->f == NULL)
    return err;
  /* relaxed: the selector holds a reference; this one is the watcher's,
   * handed over if the watch lists the node. */
  atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
  if (!weft__future_watch(slot->f, &slot->watch)) {
    slot->armed = 1;
    return 0;
  }
  sel_put(s); /* done already: never listed */
  if (!weft__sel_claim(s, i))
    return 1;
  take_future(c, slot->f);
  return 1;
}

static void disarm_case(weft__sel_t* s, weft_select_case_t* c, size_t i,
                        int keep) {
  sel_slot_t* slot = &s->slots[i];
  if (slot->armed && is_channel(c)) {
    int put = c->kind == WEFT_SELECT_SEND;
    weft__queue_sel_disarm(weft__chan_queue(c->obj), put, &slot->qw, keep,
                           c->item, c->out, &c->status);
  } else if (slot->armed && weft__future_unwatch(slot->f, &slot->watch)) {
    sel_put(s); /* listed still: its notify will never run */
  }
  /* The chosen future case: done, so its result can be read. */
  /* acquire: pairs with the claim's CAS. */
  if (!is_channel(c) && slot->f != NULL &&
      atomic_load_explicit(&s->winner, memory_order_acquire) == (intptr_t)i)
    take_future(c, slot->f);
  weft_future_release(slot->f);
  slot->f = NULL;
}

/* ---- weft_select -------------------------------------------------------- */

static int wait_chosen(weft__sel_t* s, int64_t timeout_ms) {
  if (timeout_ms < 0)
    return weft_future_await(s->fut, NULL);
  return weft_future_wait_for(s->fut, timeout_ms, NULL);
}

/* Steps 2 to 5; returns the chosen index or a negative code. */
static int select_slow(weft_select_case_t* cases, size_t n,
                       int64_t timeout_ms) {
  weft__sel_t* s = sel_new(n);
  if (s == NULL)
    return WEFT_ENOMEM;
  int rc = 0;
  size_t armed_to = 0;
  for (; armed_to < n && rc == 0; armed_to++)
    rc = arm_case(s, &cases[armed_to], armed_to);
  if (rc == 0)
    rc = wait_chosen(s, timeout_ms);
  else if (rc > 0)
    rc = 0;
  if (weft__sel_claim(s, (size_t)kClosed))
    rc = rc == 0 ? WEFT_ETIMEDOUT : rc; /* nothing chosen */
  /* acquire: pairs with the claim's CAS. */
  intptr_t winner = atomic_load_explicit(&s->winner, memory_order_acquire);
  int keep = rc != WEFT_ECANCELED;
  for (size_t i = 0; i < armed_to; i++)
    disarm_case(s, &cases[i], i, keep);
  sel_put(s);
  if (winner < 0)
    return rc;
  if (!keep)
    return WEFT_ECANCELED; /* the chosen case was given back */
  return (int)winner;
}

int weft_select(weft_select_case_t* cases, size_t n, int64_t timeout_ms) {
  int err = check_cases(cases, n);
  if (err != 0)
    return err;
  weft__worker_t* w = weft__worker_self();
  if (w != NULL && w->current == NULL)
    return WEFT_EPERM;
  for (size_t i = 0; i < n; i++) {
    int rc = poll_case(&cases[i]);
    if (rc != 0)
      return rc > 0 ? (int)i : rc;
  }
  if (timeout_ms == 0)
    return WEFT_ETIMEDOUT;
  return select_slow(cases, n, timeout_ms);
}
