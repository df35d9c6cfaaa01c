/* weft_ratelimit_t: at most N acquisitions per period (the guide's
 * RateLimiter), granted in arrival order.
 *
 * DESIGN
 * A ring holds the times of the last N acquisitions; a new one is allowed
 * once fewer than N of them lie within the last period. Everything is under
 * one mutex, held only briefly and never across an await. Waiters queue on
 * a FIFO list (sync.h nodes); only the head of the list watches the clock:
 * it sleeps until the oldest time in the ring leaves the window, then looks
 * again. The others await their node's future, which whoever removes the
 * head completes (the head itself when it acquires, or when it is
 * cancelled). So a cancelled waiter takes nothing, and if it was the head,
 * its turn passes at once to the next in line. A newcomer takes the fast
 * path only when nobody waits, so nobody overtakes the queue.
 *
 * A grant's time is what callers see: the acquirer decides with the clock
 * it reads once it has resumed, and stamps its slot again with the clock
 * read as the last thing before it returns (stamp()). The window bound
 * therefore holds between the moments acquire returns (the virtual clock
 * of deterministic mode makes that exact: tests/test_ratelimit.c).
 */
#include <pthread.h>
#include <stdlib.h>

#include "base/alloc.h"
#include "sync/sync.h"

struct weft_ratelimit_s {
  pthread_mutex_t mu;
  uint64_t period_ns;
  size_t max;                /* N: the ring's size */
  size_t first;              /* index of the oldest time; under mu */
  size_t count;              /* times in the ring; under mu */
  weft__sync_list_t waiters; /* under mu; the head watches the clock */
  uint64_t times[];          /* weft_now_ns of recent acquisitions */
};

int weft_ratelimit_new(size_t max_per_period, uint64_t period_ms,
                       weft_ratelimit_t** out) {
  if (out == NULL || max_per_period == 0 || period_ms == 0 ||
      period_ms > UINT64_MAX / 1000000 ||
      max_per_period > (SIZE_MAX - sizeof(weft_ratelimit_t)) / 8)
    return WEFT_EINVAL;
  weft_ratelimit_t* rl =
      weft__calloc(1, sizeof(*rl) + max_per_period * sizeof(uint64_t));
  if (rl == NULL)
    return WEFT_ENOMEM;
  if (pthread_mutex_init(&rl->mu, NULL) != 0) {
    free(rl);
    return WEFT_ENOMEM;
  }
  rl->period_ns = period_ms * 1000000;
  rl->max = max_per_period;
  *out = rl;
  return 0;
}

int weft_ratelimit_free(weft_ratelimit_t* rl) {
  if (rl == NULL)
    return 0;
  pthread_mutex_lock(&rl->mu);
  int busy = !weft__sync_empty(&rl->waiters);
  pthread_mutex_unlock(&rl->mu);
  if (busy)
    return WEFT_EBUSY;
  pthread_mutex_destroy(&rl->mu);
  free(rl);
  return 0;
}

/* Under mu: drops the times that have left the window ending at `now`,
 * then reserves a slot (returns 0; stamp() gives it its time) or says how
 * long until the oldest time leaves it (returns that many ns, > 0). */
static uint64_t take_slot(weft_ratelimit_t* rl, uint64_t now) {
  while (rl->count > 0 && now - rl->times[rl->first] >= rl->period_ns) {
    rl->first = (rl->first + 1) % rl->max;
    rl->count--;
  }
  if (rl->count < rl->max) {
    rl->times[(rl->first + rl->count) % rl->max] = now;
    rl->count++;
    return 0;
  }
  return rl->times[rl->first] + rl->period_ns - now;
}

/* Under mu, the last step of a successful acquire: the slot just taken
 * gets the clock as read now, by the acquirer itself, after its wait and
 * its hand-off to the next waiter, right before it returns. A later stamp
 * than the decision's only delays later grants, so the window still
 * holds; and it is the time callers see the grant at (issue 16: stamped
 * at the decision, 5 per 200 ms looked like 6 within 199.9 ms). */
static void stamp(weft_ratelimit_t* rl) {
  size_t newest = (rl->first + rl->count - 1) % rl->max;
  uint64_t now = weft_now_ns();
  if (now > rl->times[newest])
    rl->times[newest] = now;
}

/* Under mu: takes `node` off the list; if it was the head, the next waiter
 * becomes the head and is told so through its future. */
static void leave(weft_ratelimit_t* rl, weft__sync_node_t* node) {
  int was_head = rl->waiters.head == node;
  weft__sync_unlink(&rl->waiters, node);
  if (was_head && rl->waiters.head != NULL)
    weft_future_set_result(rl->waiters.head->future, NULL);
}

/* Under mu, with `node` queued: waits for its turn and then for a slot.
 * Returns with mu held and the node off the list. */
static int wait_turn(weft_ratelimit_t* rl, weft__sync_node_t* node) {
  for (;;) {
    int rc;
    if (rl->waiters.head != node) {
      pthread_mutex_unlock(&rl->mu);
      rc = weft_future_await(node->future, NULL);
      pthread_mutex_lock(&rl->mu);
    } else {
      uint64_t wait = take_slot(rl, weft_now_ns());
      if (wait == 0) {
        leave(rl, node);
        return 0;
      }
      pthread_mutex_unlock(&rl->mu);
      rc = weft_sleep_ns(wait);
      pthread_mutex_lock(&rl->mu);
    }
    if (rc != 0) {
      leave(rl, node);
      return rc;
    }
  }
}

int weft_ratelimit_acquire(weft_ratelimit_t* rl) {
  if (rl == NULL)
    return WEFT_EINVAL;
  if (weft_current_task() == NULL)
    return WEFT_ENOTTASK;
  pthread_mutex_lock(&rl->mu);
  if (weft__sync_empty(&rl->waiters) && take_slot(rl, weft_now_ns()) == 0) {
    stamp(rl);
    pthread_mutex_unlock(&rl->mu);
    return 0;
  }
  weft__sync_node_t node;
  int rc = weft__sync_node_init(&node);
  if (rc != 0) {
    pthread_mutex_unlock(&rl->mu);
    return rc;
  }
  weft__sync_push(&rl->waiters, &node);
  rc = wait_turn(rl, &node);
  weft_future_release(node.future);
  if (rc == 0)
    stamp(rl);
  pthread_mutex_unlock(&rl->mu);
  return rc;
}
