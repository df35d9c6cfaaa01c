/* weft_lock_t: a FIFO-fair lock for tasks, a permit counter of one (see
 * sync.h and permits.c). Not reentrant.
 *
 * Unlike asyncio.Lock it has an owner: the task that acquired it (or, for
 * a plain thread outside the runtime, that thread), and only the owner may
 * release it or use a condition bound to it. A task keeps ownership when it
 * moves between workers: ownership is the task, not the thread it runs on.
 *
 * The owner word is written only by the holder: set right after the permit
 * is taken, cleared right before it is given back. A release by anyone
 * else compares the word with its own identity and never matches, so it
 * cannot release another caller's lock, and between a hand-off and the new
 * owner's store the word is 0, which matches nobody. */
#include <stdlib.h>

#include "base/alloc.h"
#include "sync/sync.h"

struct weft_lock_s {
  weft__permits_t permits; /* 1 free, 0 held */
  /* The holder's identity (lock_self), 0 when free or being handed over.
   * Written by the holder only; read by anyone (atomic). */
  _Atomic uintptr_t owner;
};

/* A plain thread's identity: the address of a thread-local, unique among
 * live threads and never equal to a task's header. */
static _Thread_local char thread_identity;

/* Who is calling: the running task, or the plain thread. */
static uintptr_t lock_self(void) {
  weft_task_t* t = weft_current_task();
  return t != NULL ? (uintptr_t)t : (uintptr_t)&thread_identity;
}

int weft__lock_owned(const weft_lock_t* lock) {
  /* relaxed: only the caller itself ever stores its own identity, so a
   * match is the caller's own earlier store (program order, also across
   * a task's moves, which the scheduler orders). */
  return atomic_load_explicit(&lock->owner, memory_order_relaxed) ==
         lock_self();
}

static void set_owner(weft_lock_t* lock, uintptr_t who) {
  /* relaxed: see weft__lock_owned. */
  atomic_store_explicit(&lock->owner, who, memory_order_relaxed);
}

int weft_lock_new(weft_lock_t** out) {
  if (out == NULL)
    return WEFT_EINVAL;
  weft_lock_t* lock = weft__calloc(1, sizeof(*lock));
  if (lock == NULL)
    return WEFT_ENOMEM;
  weft__permits_init(&lock->permits, 1, 1);
  atomic_init(&lock->owner, 0);
  *out = lock;
  return 0;
}

int weft_lock_free(weft_lock_t* lock) {
  if (lock == NULL)
    return 0;
  if (weft__permits_waiting(&lock->permits))
    return WEFT_EBUSY;
  free(lock);
  return 0;
}

int weft_lock_acquire(weft_lock_t* lock) {
  if (lock == NULL)
    return WEFT_EINVAL;
  if (weft__lock_owned(lock))
    return WEFT_EDEADLK; /* not reentrant: it would wait for itself */
  int rc = weft__permits_acquire(&lock->permits);
  if (rc == 0)
    set_owner(lock, lock_self());
  return rc;
}

int weft_lock_try_acquire(weft_lock_t* lock) {
  if (lock == NULL)
    return WEFT_EINVAL;
  int rc = weft__permits_try(&lock->permits);
  if (rc == 0)
    set_owner(lock, lock_self());
  return rc;
}

int weft_lock_release(weft_lock_t* lock) {
  if (lock == NULL)
    return WEFT_EINVAL;
  if (!weft__lock_owned(lock))
    return WEFT_EPERM; /* free, or held by another task or thread */
  set_owner(lock, 0);
  /* Held by us, so the permit count is 0 and the release cannot fail. */
  return weft__permits_release(&lock->permits) == WEFT_ELIMIT ? WEFT_EPERM : 0;
}

int weft_lock_locked(const weft_lock_t* lock) {
  return lock != NULL && weft__permits_value(&lock->permits) == 0;
}
