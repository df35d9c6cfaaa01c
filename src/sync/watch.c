/* Watch channels (tokio's watch): one value, the latest, with a version
 * that every send bumps; receivers wait for a version newer than the one
 * they last saw.
 *
 * DESIGN
 * Values are boxed: a box holds the user's pointer and a count of
 * references. The channel's current value holds one, and each receiver
 * holds one on the value it last received, so the pointer it got stays
 * valid until its next receive, get or unsubscribe, even if sends replace
 * the value meanwhile. Whoever drops a box's last reference runs the
 * destructor, after letting go of the mutex (a destructor may take time
 * or call into weft; it must not await). Intermediate values nobody
 * received are destroyed by the send that replaces them.
 *
 * One mutex guards the current box, the version, `closed`, the subscriber
 * count, every receiver's `seen` and `held`, and the waiting list.
 *
 * Waiting (the sync.h scheme, as broadcast.c): a receiver whose `seen`
 * equals the version lists a node with a fresh future under the mutex
 * and awaits it; a send or a close completes every listed future under
 * the same mutex. The send either comes before the check (which sees the
 * new version) or after the listing (which it completes): no wake-up is
 * lost. A wake-up is a notification: the receiver takes the value itself,
 * under the mutex, so a cancelled receiver leaves with `seen` unchanged
 * and the new value is there for its next receive.
 */
#include <pthread.h>

#include "base/alloc.h"
#include "sync/sync.h"

typedef struct {
  void* value;
  size_t refs; /* the channel's current value, receivers holding it */
} box_t;

struct weft_watch_s {
  pthread_mutex_t mu;
  weft_watch_dtor dtor;      /* read-only; may be NULL */
  box_t* current;            /* never NULL; under mu */
  uint64_t version;          /* sends so far; under mu */
  size_t subscribers;        /* under mu */
  int closed;                /* under mu */
  weft__sync_list_t waiters; /* receivers waiting for a send; under mu */
};

struct weft_watch_rx_s {
  weft_watch_t* w; /* read-only */
  uint64_t seen;   /* the version it last received; under mu */
  box_t* held;     /* the box it last received, or NULL; under mu */
  size_t waiting;  /* receives waiting on it now; under mu */
};

static box_t* box_new(void* value) {
  box_t* b = weft__malloc(sizeof(*b));
  if (b != NULL) {
    b->value = value;
    b->refs = 1;
  }
  return b;
}

/* Under mu: drops a reference; returns the box if it was the last (the
 * caller destroys it once the mutex is let go), else NULL. */
static box_t* box_unref(box_t* b) {
  return b != NULL && --b->refs == 0 ? b : NULL;
}

/* Outside mu. */
static void box_destroy(weft_watch_t* w, box_t* b) {
  if (b == NULL)
    return;
  if (w->dtor != NULL && b->value != NULL)
    w->dtor(b->value);
  free(b);
}

int weft_watch_new(void* initial, weft_watch_dtor dtor, weft_watch_t** out) {
  if (out == NULL)
    return WEFT_EINVAL;
  *out = NULL;
  weft_watch_t* w = weft__calloc(1, sizeof(*w));
  if (w == NULL)
    return WEFT_ENOMEM;
  w->current = box_new(initial);
  if (w->current == NULL) {
    free(w);
    return WEFT_ENOMEM;
  }
  pthread_mutex_init(&w->mu, NULL);
  w->dtor = dtor;
  *out = w;
  return 0;
}

int weft_watch_free(weft_watch_t* w) {
  if (w == NULL)
    return 0;
  pthread_mutex_lock(&w->mu);
  int busy = w->subscribers > 0 || !weft__sync_empty(&w->waiters);
  pthread_mutex_unlock(&w->mu);
  if (busy)
    return WEFT_EBUSY;
  /* No receiver is left, so the channel holds the only reference. */
  box_destroy(w, w->current);
  pthread_mutex_destroy(&w->mu);
  free(w);
  return 0;
}

int weft_watch_send(weft_watch_t* w, void* value) {
  if (w == NULL)
    return WEFT_EINVAL;
  box_t* b = box_new(value);
  if (b == NULL)
    return WEFT_ENOMEM;
  pthread_mutex_lock(&w->mu);
  if (w->closed) {
    pthread_mutex_unlock(&w->mu);
    free(b); /* the value stays the caller's */
    return WEFT_ECLOSED;
  }
  box_t* old = box_unref(w->current);
  w->current = b;
  w->version++;
  weft__sync_wake_all(&w->waiters, 0);
  pthread_mutex_unlock(&w->mu);
  box_destroy(w, old);
  return 0;
}

int weft_watch_close(weft_watch_t* w) {
  if (w == NULL)
    return WEFT_EINVAL;
  pthread_mutex_lock(&w->mu);
  w->closed = 1;
  weft__sync_wake_all(&w->waiters, 0);
  pthread_mutex_unlock(&w->mu);
  return 0;
}

uint64_t weft_watch_version(const weft_watch_t* cw) {
  if (cw == NULL)
    return 0;
  weft_watch_t* w = (weft_watch_t*)cw; /* the mutex changes, not the value */
  pthread_mutex_lock(&w->mu);
  uint64_t v = w->version;
  pthread_mutex_unlock(&w->mu);
  return v;
}

int weft_watch_subscribe(weft_watch_t* w, weft_watch_rx_t** out) {
  if (out == NULL)
    return WEFT_EINVAL;
  *out = NULL;
  if (w == NULL)
    return WEFT_EINVAL;
  weft_watch_rx_t* rx = weft__calloc(1, sizeof(*rx));
  if (rx == NULL)
    return WEFT_ENOMEM;
  rx->w = w;
  pthread_mutex_lock(&w->mu);
  int closed = w->closed;
  if (!closed) {
    rx->seen = w->version; /* the current value counts as seen */
    w->subscribers++;
  }
  pthread_mutex_unlock(&w->mu);
  if (closed) {
    free(rx);
    return WEFT_ECLOSED;
  }
  *out = rx;
  return 0;
}

int weft_watch_unsubscribe(weft_watch_rx_t* rx) {
  if (rx == NULL)
    return 0;
  weft_watch_t* w = rx->w;
  box_t* dead = NULL;
  pthread_mutex_lock(&w->mu);
  int busy = rx->waiting > 0;
  if (!busy) {
    dead = box_unref(rx->held);
    w->subscribers--;
  }
  pthread_mutex_unlock(&w->mu);
  if (busy)
    return WEFT_EBUSY;
  box_destroy(w, dead);
  free(rx);
  return 0;
}

/* Under mu: rx takes the current value (and its reference), marks its
 * version seen, and gives up the box it held: returned when that was its
 * last reference, for the caller to destroy outside mu. */
static box_t* take(weft_watch_rx_t* rx, void** value, uint64_t* version) {
  weft_watch_t* w = rx->w;
  box_t* old = NULL;
  if (rx->held != w->current) {
    old = box_unref(rx->held);
    rx->held = w->current;
    rx->held->refs++;
  }
  rx->seen = w->version;
  *value = rx->held->value;
  if (version != NULL)
    *version = w->version;
  return old;
}

int weft_watch_get(weft_watch_rx_t* rx, void** value, uint64_t* version) {
  if (rx == NULL || value == NULL)
    return WEFT_EINVAL;
  pthread_mutex_lock(&rx->w->mu);
  box_t* dead = take(rx, value, version);
  pthread_mutex_unlock(&rx->w->mu);
  box_destroy(rx->w, dead);
  return 0;
}

/* Under mu: 0 with the value when a newer version is there, WEFT_ECLOSED
 * once closed without one, else WEFT_EAGAIN. */
static int try_take(weft_watch_rx_t* rx, void** value, uint64_t* version,
                    box_t** dead) {
  weft_watch_t* w = rx->w;
  if (rx->seen != w->version) {
    *dead = take(rx, value, version);
    return 0;
  }
  return w->closed ? WEFT_ECLOSED : WEFT_EAGAIN;
}

int weft_watch_try_recv(weft_watch_rx_t* rx, void** value, uint64_t* version) {
  if (rx == NULL || value == NULL)
    return WEFT_EINVAL;
  box_t* dead = NULL;
  pthread_mutex_lock(&rx->w->mu);
  int rc = try_take(rx, value, version, &dead);
  pthread_mutex_unlock(&rx->w->mu);
  box_destroy(rx->w, dead);
  return rc;
}

/* One wait for a send or the close (see DESIGN): returns the await's
 * error, or 0 with *rc set to try_take's result (WEFT_EAGAIN after a
 * wake-up: look again). */
static int wait_once(weft_watch_rx_t* rx, void** value, uint64_t* version,
                     int* rc) {
  weft_watch_t* w = rx->w;
  weft__sync_node_t node;
  box_t* dead = NULL;
  int err = weft__sync_node_init(&node);
  if (err != 0)
    return err;
  pthread_mutex_lock(&w->mu);
  *rc = try_take(rx, value, version, &dead);
  if (*rc == WEFT_EAGAIN) {
    weft__sync_push(&w->waiters, &node);
    rx->waiting++;
  }
  pthread_mutex_unlock(&w->mu);
  box_destroy(w, dead);
  if (*rc == WEFT_EAGAIN) {
    err = weft_future_await(node.future, NULL);
    pthread_mutex_lock(&w->mu);
    if (node.linked)
      weft__sync_unlink(&w->waiters, &node);
    rx->waiting--;
    pthread_mutex_unlock(&w->mu);
  }
  weft_future_release(node.future);
  return err;
}

int weft_watch_recv(weft_watch_rx_t* rx, void** value, uint64_t* version) {
  int rc = weft_watch_try_recv(rx, value, version);
  while (rc == WEFT_EAGAIN) {
    int err = wait_once(rx, value, version, &rc);
    if (err != 0)
      return err;
  }
  return rc;
}
