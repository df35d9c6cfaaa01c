/* Queues (asyncio.Queue, LifoQueue, PriorityQueue) on the public futures.
 *
 * One lock (lock_q) guards the items and two FIFO wait lists (getters,
 * putters). A task that must wait makes a future, lists it, unlocks and awaits
 * it with weft_future_await: from a plain thread that blocks, so threads use
 * the same code. The other side never hands an item straight to a waiter;
 * it grants it a *reservation*: an item in the store set aside for a getter
 * (get_reserved), or a free slot set aside for a putter (put_reserved), and
 * completes its future. Items therefore always live in the store, and a
 * woken waiter finishes its own operation under the lock.
 *
 * Why reservations: a cancelled waiter (weft_future_await returns
 * WEFT_ECANCELED and the request is consumed) relocks the lock and finds
 * either its entry still listed (nothing was granted: unlist it) or a grant
 * already made. A grant is only a count, so the waiter gives it back and
 * passes it to the next waiter in line (grant_getters/grant_putters): no
 * item, slot or wake-up is lost, and no item is half-delivered to a task
 * that then reports failure. A putter that gave its slot back never stored
 * its item, so reporting WEFT_ECANCELED is exact.
 *
 * Invariants after every operation (under the lock):
 *   getters listed  => count <= get_reserved   (all items spoken for)
 *   putters listed  => count + put_reserved >= maxsize (no free slot)
 * so the fast paths only compare counters and never barge past a waiter. */
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/common.h"
#include "core/future.h"
#include "sync/select.h"
#include "weft.h"

/* The queue's lock: held for a few dozen instructions at a time, so a
 * spin lock (one locked instruction a take, where a pthread mutex costs
 * two and a function call each way); a holder preempted (a plain thread)
 * costs the others a yield of their thread, not a spin for a time slice. */
enum { kLockSpins = 128 };

static void lock_q(weft__spin_t* s) {
  for (unsigned i = 0;; i++) {
    /* acquire: pairs with the release in unlock_q. */
    if (!atomic_flag_test_and_set_explicit(&s->flag, memory_order_acquire))
      return;
    if (i < kLockSpins)
      weft__cpu_relax();
    else
      sched_yield();
  }
}

static void unlock_q(weft__spin_t* s) {
  /* release: publishes the critical section to the next locker. */
  atomic_flag_clear_explicit(&s->flag, memory_order_release);
}

enum {
  W_WAITING = WEFT__QW_WAITING,
  W_GRANTED = WEFT__QW_GRANTED,
  W_CLOSED = WEFT__QW_CLOSED
};

typedef weft__qwaiter_t waiter_t;

typedef struct {
  waiter_t* head;
  waiter_t* tail;
} wlist_t;

typedef struct {
  void* item;
  int64_t prio;
  uint64_t seq; /* insertion order: FIFO among equal priorities */
} slot_t;

struct weft_queue_s {
  weft__spin_t mu; /* lock_q / unlock_q */
  weft_queue_kind_t kind;
  size_t maxsize; /* 0: unbounded */
  slot_t* buf;    /* ring (FIFO, LIFO) or binary heap (PRIORITY) */
  size_t cap, head, count;
  uint64_t seq;
  size_t get_reserved; /* items granted to woken getters */
  size_t put_reserved; /* slots granted to woken putters */
  size_t unfinished;   /* puts not yet marked task_done */
  int closed, immediate;
  wlist_t getters, putters, joiners;
};

/* ---- Wait lists ---------------------------------------------------------- */

static void wl_append(wlist_t* l, waiter_t* w) {
  w->linked = 1;
  w->next = NULL;
  w->prev = l->tail;
  if (l->tail != NULL)
    l->tail->next = w;
  else
    l->head = w;
  l->tail = w;
}

static void wl_remove(wlist_t* l, waiter_t* w) {
  if (w->prev != NULL)
    w->prev->next = w->next;
  else
    l->head = w->next;
  if (w->next != NULL)
    w->next->prev = w->prev;
  else
    l->tail = w->prev;
  w->prev = w->next = NULL;
  w->linked = 0;
}

/* Unlists the first waiter and completes its future with `state`. Runs
 * under the lock: the waiter cannot free its future before it relocks.
 * A select's case is only handed something if it claims its select; one
 * whose select chose another case is dropped instead (its selector
 * disarms it later and finds it unlisted). Returns 1 if handed. */
static int wl_wake_first(wlist_t* l, int state) {
  waiter_t* w = l->head;
  wl_remove(l, w);
  if (w->sel != NULL && !weft__sel_claim(w->sel, w->index))
    return 0;
  w->state = state;
  weft_future_set_result(w->fut, NULL);
  return 1;
}

static void wl_wake_all(wlist_t* l, int state) {
  while (l->head != NULL)
    wl_wake_first(l, state);
}

/* ---- Store: a ring for FIFO/LIFO, a heap for PRIORITY ---------------------
 */

static int slot_less(const slot_t* a, const slot_t* b) {
  return a->prio < b->prio || (a->prio == b->prio && a->seq < b->seq);
}

static int store_grow(weft_queue_t* q) {
  size_t ncap = q->cap * 2;
  if (q->maxsize != 0 && ncap > q->maxsize)
    ncap = q->maxsize;
  slot_t* nb = weft__malloc(ncap * sizeof(*nb));
  if (nb == NULL)
    return WEFT_ENOMEM;
  /* Unwrap the ring so it starts at 0 (a heap always has head 0). */
  for (size_t i = 0; i < q->count; i++)
    nb[i] = q->buf[(q->head + i) % q->cap];
  free(q->buf);
  q->buf = nb;
  q->cap = ncap;
  q->head = 0;
  return 0;
}

static void heap_push(weft_queue_t* q, slot_t s) {
  size_t i = q->count;
  while (i > 0 && slot_less(&s, &q->buf[(i - 1) / 2])) {
    q->buf[i] = q->buf[(i - 1) / 2];
    i = (i - 1) / 2;
  }
  q->buf[i] = s;
}

static slot_t heap_pop(weft_queue_t* q) {
  slot_t top = q->buf[0];
  slot_t last = q->buf[q->count - 1];
  size_t n = q->count - 1, i = 0;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n)
      break;
    if (c + 1 < n && slot_less(&q->buf[c + 1], &q->buf[c]))
      c++;
    if (!slot_less(&q->buf[c], &last))
      break;
    q->buf[i] = q->buf[c];
    i = c;
  }
  if (n > 0)
    q->buf[i] = last;
  return top;
}

/* Adds an item (room was checked). WEFT_ENOMEM if the store cannot grow. */
static int store_push(weft_queue_t* q, void* item, int64_t prio) {
  if (q->count == q->cap) {
    int err = store_grow(q);
    if (err != 0)
      return err;
  }
  slot_t s = {item, prio, q->seq++};
  if (q->kind == WEFT_QUEUE_PRIORITY)
    heap_push(q, s);
  else
    q->buf[(q->head + q->count) % q->cap] = s;
  q->count++;
  return 0;
}

static void* store_pop(weft_queue_t* q) {
  slot_t s;
  if (q->kind == WEFT_QUEUE_PRIORITY) {
    s = heap_pop(q);
  } else if (q->kind == WEFT_QUEUE_LIFO) {
    s = q->buf[(q->head + q->count - 1) % q->cap];
  } else {
    s = q->buf[q->head];
    q->head = (q->head + 1) % q->cap;
  }
  q->count--;
  return s.item;
}

/* ---- Grants ------------------------------------------------------------- */

static int has_free_slot(const weft_queue_t* q) {
  return q->maxsize == 0 || q->count + q->put_reserved < q->maxsize;
}

static int has_free_item(const weft_queue_t* q) {
  return q->count > q->get_reserved;
}

/* Sets unreserved items aside for the longest-waiting getters. */
static void grant_getters(weft_queue_t* q) {
  while (q->getters.head != NULL && has_free_item(q)) {
    if (wl_wake_first(&q->getters, W_GRANTED))
      q->get_reserved++;
  }
}

/* Sets free slots aside for the longest-waiting putters. */
static void grant_putters(weft_queue_t* q) {
  while (q->putters.head != NULL && has_free_slot(q)) {
    if (wl_wake_first(&q->putters, W_GRANTED))
      q->put_reserved++;
  }
}

/* ---- Parking ------------------------------------------------------------ */

/* Lists `w` on `l` and awaits its future; called and returns with the
 * lock held. Returns await's status with w->state telling what happened:
 * still W_WAITING (it is unlisted here) only when the await failed. */
static int park(weft_queue_t* q, wlist_t* l, waiter_t* w) {
  w->state = W_WAITING; /* also when the future cannot be had */
  w->sel = NULL;
  w->linked = 0;
  int err = weft_future_new(&w->fut);
  if (err != 0)
    return err;
  wl_append(l, w);
  unlock_q(&q->mu);
  int rc = weft__future_await_owned(w->fut, NULL); /* w->fut is ours */
  lock_q(&q->mu);
  if (w->state == W_WAITING)
    wl_remove(l, w); /* withdrawn before anyone granted it anything */
  weft_future_release(w->fut);
  return rc;
}

/* ---- Public API --------------------------------------------------------- */

int weft_queue_new(weft_queue_kind_t kind, size_t maxsize, weft_queue_t** out) {
  if (out == NULL || (unsigned)kind > WEFT_QUEUE_PRIORITY)
    return WEFT_EINVAL;
  weft_queue_t* q = weft__calloc(1, sizeof(*q));
  if (q == NULL)
    return WEFT_ENOMEM;
  q->cap = (maxsize != 0 && maxsize < 16) ? maxsize : 16;
  q->buf = weft__malloc(q->cap * sizeof(*q->buf));
  /* seq_cst, but only at creation: nobody else can see `q` yet. */
  atomic_flag_clear(&q->mu.flag);
  if (q->buf == NULL) {
    free(q->buf);
    free(q);
    return WEFT_ENOMEM;
  }
  q->kind = kind;
  q->maxsize = maxsize;
  *out = q;
  return 0;
}

int weft_queue_free(weft_queue_t* q) {
  if (q == NULL)
    return 0;
  lock_q(&q->mu);
  int busy = q->getters.head || q->putters.head || q->joiners.head ||
             q->get_reserved || q->put_reserved;
  unlock_q(&q->mu);
  if (busy)
    return WEFT_EBUSY;
  free(q->buf);
  free(q);
  return 0;
}

/* Stores an item under the lock and hands it to a waiting getter. */
static int put_locked(weft_queue_t* q, void* item, int64_t prio) {
  int err = store_push(q, item, prio);
  if (err != 0)
    return err;
  q->unfinished++;
  grant_getters(q);
  return 0;
}

/* A putter woke with a slot granted, or failed: finish under the lock. */
static int put_after_park(weft_queue_t* q, waiter_t* w, int rc, void* item,
                          int64_t prio) {
  if (w->state == W_GRANTED) {
    q->put_reserved--;
    if (rc == 0 && !q->closed && (rc = put_locked(q, item, prio)) == 0)
      return 0;
    grant_putters(q); /* not used: the slot goes to the next putter */
    return rc != 0 ? rc : WEFT_ECLOSED;
  }
  if (w->state == W_CLOSED)
    return rc != 0 ? rc : WEFT_ECLOSED;
  return rc;
}

int weft_queue_put(weft_queue_t* q, void* item, int64_t priority) {
  if (q == NULL)
    return WEFT_EINVAL;
  lock_q(&q->mu);
  int rc;
  if (q->closed) {
    rc = WEFT_ECLOSED;
  } else if (has_free_slot(q)) {
    rc = put_locked(q, item, priority);
  } else {
    waiter_t w;
    rc = park(q, &q->putters, &w);
    rc = put_after_park(q, &w, rc, item, priority);
  }
  unlock_q(&q->mu);
  return rc;
}

int weft_queue_try_put(weft_queue_t* q, void* item, int64_t priority) {
  if (q == NULL)
    return WEFT_EINVAL;
  lock_q(&q->mu);
  int rc = q->closed          ? WEFT_ECLOSED
           : has_free_slot(q) ? put_locked(q, item, priority)
                              : WEFT_EAGAIN;
  unlock_q(&q->mu);
  return rc;
}

/* Takes an unreserved (or this getter's reserved) item; frees a slot. */
static void* get_locked(weft_queue_t* q) {
  void* item = store_pop(q);
  grant_putters(q);
  return item;
}

/* A getter woke with an item granted, or failed: finish under the lock. */
static int get_after_park(weft_queue_t* q, waiter_t* w, int rc, void** item) {
  if (w->state == W_GRANTED) {
    q->get_reserved--;
    if (rc == 0 && q->count > 0) {
      *item = get_locked(q);
      return 0;
    }
    grant_getters(q); /* cancelled: the item goes to the next getter */
    return rc != 0 ? rc : WEFT_ECLOSED; /* emptied by an immediate shutdown */
  }
  if (w->state == W_CLOSED)
    return rc != 0 ? rc : WEFT_ECLOSED;
  return rc;
}

int weft_queue_get(weft_queue_t* q, void** item) {
  if (q == NULL || item == NULL)
    return WEFT_EINVAL;
  lock_q(&q->mu);
  int rc = 0;
  if (has_free_item(q)) {
    *item = get_locked(q);
  } else if (q->closed) {
    rc = WEFT_ECLOSED;
  } else {
    waiter_t w;
    rc = park(q, &q->getters, &w);
    rc = get_after_park(q, &w, rc, item);
  }
  unlock_q(&q->mu);
  return rc;
}

int weft_queue_try_get(weft_queue_t* q, void** item) {
  if (q == NULL || item == NULL)
    return WEFT_EINVAL;
  lock_q(&q->mu);
  int rc = 0;
  if (has_free_item(q))
    *item = get_locked(q);
  else
    rc = q->closed ? WEFT_ECLOSED : WEFT_EAGAIN;
  unlock_q(&q->mu);
  return rc;
}

size_t weft_queue_size(const weft_queue_t* q) {
  if (q == NULL)
    return 0;
  /* The lock is logically mutable: reading the count takes it. */
  weft_queue_t* m = (weft_queue_t*)q;
  lock_q(&m->mu);
  size_t n = m->count;
  unlock_q(&m->mu);
  return n;
}

int weft_queue_task_done(weft_queue_t* q) {
  if (q == NULL)
    return WEFT_EINVAL;
  lock_q(&q->mu);
  int rc = 0;
  if (q->unfinished == 0)
    rc = WEFT_ELIMIT;
  else if (--q->unfinished == 0)
    wl_wake_all(&q->joiners, W_GRANTED);
  unlock_q(&q->mu);
  return rc;
}

int weft_queue_join(weft_queue_t* q) {
  if (q == NULL)
    return WEFT_EINVAL;
  lock_q(&q->mu);
  int rc = 0;
  if (q->unfinished != 0) {
    waiter_t w;
    /* A joiner woken and then cancelled has nothing to pass on (every
     * joiner is woken at once), so await's status is the answer. */
    rc = park(q, &q->joiners, &w);
  }
  unlock_q(&q->mu);
  return rc;
}

int weft_queue_shutdown(weft_queue_t* q, int immediate) {
  if (q == NULL)
    return WEFT_EINVAL;
  lock_q(&q->mu);
  q->closed = 1;
  if (immediate) {
    /* asyncio 3.13: dropped items count as done, so join can return. */
    size_t dropped = q->count;
    q->count = 0;
    q->head = 0;
    q->unfinished = dropped > q->unfinished ? 0 : q->unfinished - dropped;
    if (q->unfinished == 0)
      wl_wake_all(&q->joiners, W_GRANTED);
  }
  /* Listed getters only exist when every item is reserved for a woken
   * getter, so none of them could ever get one: all fail now. */
  wl_wake_all(&q->getters, W_CLOSED);
  wl_wake_all(&q->putters, W_CLOSED);
  unlock_q(&q->mu);
  return 0;
}

/* ---- select's cases (select.c) ------------------------------------------ */

int weft__queue_sel_arm(weft_queue_t* q, int put, weft__qwaiter_t* w,
                        void* item, void** got, int* status) {
  int rc = WEFT__SEL_ARMED;
  lock_q(&q->mu);
  int ready =
      put ? (q->closed || has_free_slot(q)) : (has_free_item(q) || q->closed);
  if (ready) {
    rc = weft__sel_claim(w->sel, w->index) ? WEFT__SEL_WON : WEFT__SEL_LOST;
    if (rc == WEFT__SEL_WON) {
      if (put)
        *status = q->closed ? WEFT_ECLOSED : put_locked(q, item, 0);
      else if (has_free_item(q))
        *status = 0, *got = get_locked(q);
      else
        *status = WEFT_ECLOSED;
    }
  } else {
    w->state = W_WAITING;
    wl_append(put ? &q->putters : &q->getters, w);
  }
  unlock_q(&q->mu);
  return rc;
}

/* The chosen case's grant: finished (keep) or passed on. Under the lock.
 * As put_after_park and get_after_park, with the await's status replaced
 * by `keep`. */
static void sel_finish(weft_queue_t* q, int put, weft__qwaiter_t* w, int keep,
                       void* item, void** got, int* status) {
  if (w->state == W_CLOSED) {
    *status = WEFT_ECLOSED;
  } else if (put) {
    q->put_reserved--;
    if (keep && !q->closed && (*status = put_locked(q, item, 0)) == 0)
      return;
    if (keep && q->closed)
      *status = WEFT_ECLOSED;
    grant_putters(q); /* not used: the slot goes to the next putter */
  } else {
    q->get_reserved--;
    if (keep && q->count > 0) {
      *got = get_locked(q);
      *status = 0;
      return;
    }
    *status = WEFT_ECLOSED; /* emptied by an immediate shutdown */
    grant_getters(q);       /* not taken: the item goes to the next getter */
  }
}

void weft__queue_sel_disarm(weft_queue_t* q, int put, weft__qwaiter_t* w,
                            int keep, void* item, void** got, int* status) {
  lock_q(&q->mu);
  if (w->linked)
    wl_remove(put ? &q->putters : &q->getters, w); /* never handed anything */
  else if (w->state != W_WAITING)
    sel_finish(q, put, w, keep, item, got, status);
  /* else: dropped by a grant because another case was chosen. */
  unlock_q(&q->mu);
}
