/* weft_rwlock_t: a read-write lock for tasks (tokio's RwLock): many
 * readers or one writer, granted in arrival order, so a writer is never
 * starved by a stream of readers and a reader waits only for the writers
 * that came before it.
 *
 * DESIGN
 * A spin lock guards the state (`readers`, `writer`) and one FIFO list of
 * waiters (sync.h nodes; `index` says 1 for a writer, 0 for a reader). A
 * newcomer takes the lock at once only when nobody waits and the state
 * allows it; otherwise it queues. Whoever makes room (a release, or a
 * cancelled waiter leaving the head) grants from the head: one writer, or
 * every reader up to the next writer. A grant updates the state for the
 * waiter and completes its future under the spin lock (the sync.h scheme),
 * so the lock is handed over and nobody can barge in between. A waiter
 * whose await fails (cancelled) takes the spin lock: still listed, it
 * leaves (and, if that unblocks the head, grants from it); already
 * granted, it gives its grant back the way a release would. So a cancelled
 * waiter holds nothing and loses nobody's turn.
 *
 * The writer has an owner (the task, or the plain thread, as weft_lock_t):
 * only it may release. Readers are counted, not named.
 */
#include <stdlib.h>

#include "base/alloc.h"
#include "sync/sync.h"

struct weft_rwlock_s {
  weft__spin_t spin;
  size_t readers;            /* readers holding it; under spin */
  uintptr_t writer;          /* the writer's identity, or 0; under spin */
  weft__sync_list_t waiters; /* FIFO; under spin */
};

static _Thread_local char thread_identity;

/* The caller's identity, as lock.c's. */
static uintptr_t self_id(void) {
  weft_task_t* t = weft_current_task();
  return t != NULL ? (uintptr_t)t : (uintptr_t)&thread_identity;
}

int weft_rwlock_new(weft_rwlock_t** out) {
  if (out == NULL)
    return WEFT_EINVAL;
  weft_rwlock_t* rw = weft__calloc(1, sizeof(*rw));
  if (rw == NULL)
    return WEFT_ENOMEM;
  *out = rw;
  return 0;
}

int weft_rwlock_free(weft_rwlock_t* rw) {
  if (rw == NULL)
    return 0;
  weft__spin_lock(&rw->spin);
  int busy = !weft__sync_empty(&rw->waiters);
  weft__spin_unlock(&rw->spin);
  if (busy)
    return WEFT_EBUSY;
  free(rw);
  return 0;
}

/* Under spin: grants from the head of the line while the state allows it.
 * A granted writer's identity is filled in by the writer itself when it
 * wakes (the waker cannot know it): `writer` holds 1 meanwhile. */
static void grant(weft_rwlock_t* rw) {
  weft__sync_node_t* n;
  while ((n = rw->waiters.head) != NULL && rw->writer == 0) {
    if (n->index == 1) {
      if (rw->readers != 0)
        return;
      rw->writer = 1; /* reserved; the woken writer stores its identity */
    } else {
      rw->readers++;
    }
    weft__sync_pop(&rw->waiters);
    weft_future_set_result(n->future, NULL);
  }
}

/* Under spin: gives back what a grant handed over. */
static void give_back(weft_rwlock_t* rw, int write) {
  if (write)
    rw->writer = 0;
  else
    rw->readers--;
  grant(rw);
}

/* Queues and waits. Returns 0 holding the lock, or the await's error
 * holding nothing. Called and returns without the spin lock. */
static int wait_turn(weft_rwlock_t* rw, int write) {
  weft__sync_node_t node;
  int rc = weft__sync_node_init(&node);
  if (rc != 0)
    return rc;
  node.index = (size_t)write;
  weft__spin_lock(&rw->spin);
  weft__sync_push(&rw->waiters, &node);
  grant(rw); /* the state may have changed since the caller looked */
  weft__spin_unlock(&rw->spin);
  rc = weft_future_await(node.future, NULL);
  weft__spin_lock(&rw->spin);
  if (rc != 0) {
    if (node.linked) {
      weft__sync_unlink(&rw->waiters, &node);
      grant(rw); /* a writer leaving the head may free readers behind */
    } else {
      give_back(rw, write); /* granted, then cancelled: pass it on */
    }
  } else if (write) {
    rw->writer = self_id();
  }
  weft__spin_unlock(&rw->spin);
  weft_future_release(node.future);
  return rc;
}

/* Takes the lock now if nobody waits and the state allows: 1 if taken. */
static int try_take(weft_rwlock_t* rw, int write) {
  int ok = 0;
  weft__spin_lock(&rw->spin);
  if (weft__sync_empty(&rw->waiters) && rw->writer == 0 &&
      (!write || rw->readers == 0)) {
    ok = 1;
    if (write)
      rw->writer = self_id();
    else
      rw->readers++;
  }
  weft__spin_unlock(&rw->spin);
  return ok;
}

static int acquire(weft_rwlock_t* rw, int write) {
  if (rw == NULL)
    return WEFT_EINVAL;
  weft__spin_lock(&rw->spin);
  int mine = rw->writer == self_id();
  weft__spin_unlock(&rw->spin);
  if (mine)
    return WEFT_EDEADLK; /* the writer would wait for itself */
  return try_take(rw, write) ? 0 : wait_turn(rw, write);
}

int weft_rwlock_read_acquire(weft_rwlock_t* rw) {
  return acquire(rw, 0);
}

int weft_rwlock_write_acquire(weft_rwlock_t* rw) {
  return acquire(rw, 1);
}

int weft_rwlock_try_read(weft_rwlock_t* rw) {
  if (rw == NULL)
    return WEFT_EINVAL;
  return try_take(rw, 0) ? 0 : WEFT_EAGAIN;
}

int weft_rwlock_try_write(weft_rwlock_t* rw) {
  if (rw == NULL)
    return WEFT_EINVAL;
  return try_take(rw, 1) ? 0 : WEFT_EAGAIN;
}

int weft_rwlock_read_release(weft_rwlock_t* rw) {
  if (rw == NULL)
    return WEFT_EINVAL;
  int rc = 0;
  weft__spin_lock(&rw->spin);
  if (rw->readers == 0)
    rc = WEFT_EPERM;
  else
    give_back(rw, 0);
  weft__spin_unlock(&rw->spin);
  return rc;
}

int weft_rwlock_write_release(weft_rwlock_t* rw) {
  if (rw == NULL)
    return WEFT_EINVAL;
  int rc = 0;
  weft__spin_lock(&rw->spin);
  if (rw->writer == 0 || rw->writer != self_id())
    rc = WEFT_EPERM;
  else
    give_back(rw, 1);
  weft__spin_unlock(&rw->spin);
  return rc;
}
