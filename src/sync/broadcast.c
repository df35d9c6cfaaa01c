/* Broadcast channels (tokio's broadcast): every receiver sees every
 * message sent after it subscribed, in the one order the sends were made.
 *
 * DESIGN
 * The channel keeps the last `capacity` messages, copied, in a ring: the
 * message of sequence number q (counted from 0 since the channel was made)
 * lives in slot q % capacity while q >= tail - capacity. A receiver is only
 * a cursor, `next`: the sequence number of the next message it reads.
 * Sends never wait for receivers: a send overwrites the oldest message,
 * and a receiver whose cursor falls behind the oldest one kept has lagged:
 * its next receive reports how many it missed (WEFT_ELIMIT) and moves the
 * cursor to the oldest kept message, which the receive after returns.
 * Nothing is consumed, so one slow receiver holds up no sender and no
 * other receiver, and the memory is capacity * item_size, whatever the
 * number of receivers.
 *
 * One mutex guards the ring, `tail`, `closed`, the subscriber count, every
 * cursor, and the list of waiting receivers. Copies in and out are made
 * under it: items are small values (a pointer, a struct), and a mutex,
 * unlike a spin lock, lets a preempted holder's waiters sleep.
 *
 * Waiting (the sync.h scheme): a receiver with nothing new lists a node
 * with a fresh future under the mutex and awaits the future; a send or a
 * close completes every listed node's future under the same mutex. No
 * wake-up is lost:
 *
 *   receiver                          sender
 *   lock; next == tail: nothing new
 *   list node; unlock                 lock; store; tail++
 *                                     complete every listed future; unlock
 *   await future (done: returns)
 *
 * A send either takes the mutex before the receiver's check (the check
 * sees the message) or after the node is listed (it completes the
 * future, which stays done until awaited). A wake-up is a notification,
 * not a hand-off: the woken receiver takes its message itself, under the
 * mutex, from the ring. A cancelled receiver therefore has nothing to
 * pass on; it unlists its node (or finds it unlisted by a wake) and
 * leaves with its cursor where it was: the message is still there for
 * its next receive (unless it lags meanwhile, which is then reported).
 * Completing futures under the mutex keeps the nodes alive while the
 * waker touches them: a waiter cannot get past the mutex and return
 * before the waker lets go.
 */
#include <limits.h>
#include <pthread.h>
#include <string.h>

#include "base/alloc.h"
#include "sync/sync.h"

struct weft_broadcast_s {
  pthread_mutex_t mu;
  size_t capacity;           /* messages kept; read-only */
  size_t item_size;          /* bytes per message; read-only */
  unsigned char* ring;       /* capacity * item_size bytes; under mu */
  uint64_t tail;             /* messages sent so far; under mu */
  size_t subscribers;        /* receivers not yet unsubscribed; under mu */
  int closed;                /* under mu */
  weft__sync_list_t waiters; /* receivers waiting for a send; under mu */
};

struct weft_broadcast_rx_s {
  weft_broadcast_t* bc; /* read-only */
  uint64_t next;        /* the next message's sequence number; under mu */
  size_t waiting;       /* receives waiting on it now; under mu */
};

int weft_broadcast_new(size_t capacity, size_t item_size,
                       weft_broadcast_t** out) {
  if (out == NULL)
    return WEFT_EINVAL;
  *out = NULL;
  if (capacity == 0 || item_size == 0 || capacity > SIZE_MAX / item_size)
    return WEFT_EINVAL;
  weft_broadcast_t* bc = weft__calloc(1, sizeof(*bc));
  if (bc == NULL)
    return WEFT_ENOMEM;
  bc->ring = weft__malloc(capacity * item_size);
  if (bc->ring == NULL) {
    free(bc);
    return WEFT_ENOMEM;
  }
  pthread_mutex_init(&bc->mu, NULL);
  bc->capacity = capacity;
  bc->item_size = item_size;
  *out = bc;
  return 0;
}

int weft_broadcast_free(weft_broadcast_t* bc) {
  if (bc == NULL)
    return 0;
  pthread_mutex_lock(&bc->mu);
  int busy = bc->subscribers > 0 || !weft__sync_empty(&bc->waiters);
  pthread_mutex_unlock(&bc->mu);
  if (busy)
    return WEFT_EBUSY;
  pthread_mutex_destroy(&bc->mu);
  free(bc->ring);
  free(bc);
  return 0;
}

static unsigned char* slot_of(weft_broadcast_t* bc, uint64_t seq) {
  return bc->ring + (size_t)(seq % bc->capacity) * bc->item_size;
}

int weft_broadcast_send(weft_broadcast_t* bc, const void* item) {
  if (bc == NULL || item == NULL)
    return WEFT_EINVAL;
  pthread_mutex_lock(&bc->mu);
  if (bc->closed) {
    pthread_mutex_unlock(&bc->mu);
    return WEFT_ECLOSED;
  }
  memcpy(slot_of(bc, bc->tail), item, bc->item_size);
  bc->tail++;
  size_t n = bc->subscribers;
  weft__sync_wake_all(&bc->waiters, 0);
  pthread_mutex_unlock(&bc->mu);
  return n > INT_MAX ? INT_MAX : (int)n;
}

int weft_broadcast_close(weft_broadcast_t* bc) {
  if (bc == NULL)
    return WEFT_EINVAL;
  pthread_mutex_lock(&bc->mu);
  bc->closed = 1;
  weft__sync_wake_all(&bc->waiters, 0);
  pthread_mutex_unlock(&bc->mu);
  return 0;
}

int weft_broadcast_subscribe(weft_broadcast_t* bc, weft_broadcast_rx_t** out) {
  if (out == NULL)
    return WEFT_EINVAL;
  *out = NULL;
  if (bc == NULL)
    return WEFT_EINVAL;
  weft_broadcast_rx_t* rx = weft__calloc(1, sizeof(*rx));
  if (rx == NULL)
    return WEFT_ENOMEM;
  rx->bc = bc;
  pthread_mutex_lock(&bc->mu);
  int closed = bc->closed;
  if (!closed) {
    rx->next = bc->tail; /* messages sent from now on */
    bc->subscribers++;
  }
  pthread_mutex_unlock(&bc->mu);
  if (closed) {
    free(rx);
    return WEFT_ECLOSED;
  }
  *out = rx;
  return 0;
}

int weft_broadcast_unsubscribe(weft_broadcast_rx_t* rx) {
  if (rx == NULL)
    return 0;
  weft_broadcast_t* bc = rx->bc;
  pthread_mutex_lock(&bc->mu);
  int busy = rx->waiting > 0;
  if (!busy)
    bc->subscribers--;
  pthread_mutex_unlock(&bc->mu);
  if (busy)
    return WEFT_EBUSY;
  free(rx);
  return 0;
}

/* Under mu: the next message for rx (0), a lag report (WEFT_ELIMIT, the
 * cursor moved to the oldest message kept), WEFT_ECLOSED once closed and
 * read to the end, or WEFT_EAGAIN. */
static int take(weft_broadcast_rx_t* rx, void* item, uint64_t* missed) {
  weft_broadcast_t* bc = rx->bc;
  uint64_t oldest = bc->tail > bc->capacity ? bc->tail - bc->capacity : 0;
  if (missed != NULL)
    *missed = 0;
  if (rx->next < oldest) {
    if (missed != NULL)
      *missed = oldest - rx->next;
    rx->next = oldest;
    return WEFT_ELIMIT;
  }
  if (rx->next < bc->tail) {
    memcpy(item, slot_of(bc, rx->next), bc->item_size);
    rx->next++;
    return 0;
  }
  return bc->closed ? WEFT_ECLOSED : WEFT_EAGAIN;
}

int weft_broadcast_try_recv(weft_broadcast_rx_t* rx, void* item,
                            uint64_t* missed) {
  if (rx == NULL || item == NULL)
    return WEFT_EINVAL;
  pthread_mutex_lock(&rx->bc->mu);
  int rc = take(rx, item, missed);
  pthread_mutex_unlock(&rx->bc->mu);
  return rc;
}

/* One wait for a send or the close (see DESIGN): 0 once woken, or the
 * await's error (WEFT_ECANCELED...). Returns with nothing taken; rc is
 * take()'s result when there was no need to wait. */
static int wait_once(weft_broadcast_rx_t* rx, void* item, uint64_t* missed,
                     int* rc) {
  weft_broadcast_t* bc = rx->bc;
  weft__sync_node_t node;
  int err = weft__sync_node_init(&node);
  if (err != 0)
    return err;
  pthread_mutex_lock(&bc->mu);
  *rc = take(rx, item, missed);
  if (*rc == WEFT_EAGAIN) {
    weft__sync_push(&bc->waiters, &node);
    rx->waiting++;
  }
  pthread_mutex_unlock(&bc->mu);
  if (*rc == WEFT_EAGAIN) {
    err = weft_future_await(node.future, NULL);
    pthread_mutex_lock(&bc->mu);
    if (node.linked)
      weft__sync_unlink(&bc->waiters, &node);
    rx->waiting--;
    pthread_mutex_unlock(&bc->mu);
  }
  weft_future_release(node.future);
  return err;
}

int weft_broadcast_recv(weft_broadcast_rx_t* rx, void* item, uint64_t* missed) {
  int rc = weft_broadcast_try_recv(rx, item, missed);
  while (rc == WEFT_EAGAIN) {
    int err = wait_once(rx, item, missed, &rc);
    if (err != 0)
      return err;
  }
  return rc;
}
