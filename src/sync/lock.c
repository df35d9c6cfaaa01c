/* weft_lock_t: a FIFO-fair lock for tasks, a permit counter of one (see
 * sync.h and permits.c). Not reentrant, and any caller may release it, as
 * asyncio.Lock. */
#include <stdlib.h>

#include "base/alloc.h"
#include "sync/sync.h"

struct weft_lock_s {
  weft__permits_t permits; /* 1 free, 0 held */
};

int weft_lock_new(weft_lock_t** out) {
  if (out == NULL)
    return WEFT_EINVAL;
  weft_lock_t* lock = weft__calloc(1, sizeof(*lock));
  if (lock == NULL)
    return WEFT_ENOMEM;
  weft__permits_init(&lock->permits, 1, 1);
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
  return weft__permits_acquire(&lock->permits);
}

int weft_lock_try_acquire(weft_lock_t* lock) {
  if (lock == NULL)
    return WEFT_EINVAL;
  return weft__permits_try(&lock->permits);
}

int weft_lock_release(weft_lock_t* lock) {
  if (lock == NULL)
    return WEFT_EINVAL;
  /* The only limit a lock can pass is "released while free". */
  return weft__permits_release(&lock->permits) == WEFT_ELIMIT ? WEFT_EPERM : 0;
}

int weft_lock_locked(const weft_lock_t* lock) {
  return lock != NULL && weft__permits_value(&lock->permits) == 0;
}
