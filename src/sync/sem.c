/* weft_sem_t: asyncio.Semaphore and BoundedSemaphore over the permit
 * counter (see sync.h and permits.c). */
#include <stdlib.h>

#include "base/alloc.h"
#include "sync/sync.h"

struct weft_sem_s {
  weft__permits_t permits;
};

int weft_sem_new(size_t value, int bounded, weft_sem_t** out) {
  /* The top bit of `state` is not available (permits are shifted). */
  if (out == NULL || value > (SIZE_MAX >> 2))
    return WEFT_EINVAL;
  weft_sem_t* sem = weft__calloc(1, sizeof(*sem));
  if (sem == NULL)
    return WEFT_ENOMEM;
  weft__permits_init(&sem->permits, value, bounded ? value : SIZE_MAX >> 2);
  *out = sem;
  return 0;
}

int weft_sem_free(weft_sem_t* sem) {
  if (sem == NULL)
    return 0;
  if (weft__permits_waiting(&sem->permits))
    return WEFT_EBUSY;
  free(sem);
  return 0;
}

int weft_sem_acquire(weft_sem_t* sem) {
  if (sem == NULL)
    return WEFT_EINVAL;
  return weft__permits_acquire(&sem->permits);
}

int weft_sem_try_acquire(weft_sem_t* sem) {
  if (sem == NULL)
    return WEFT_EINVAL;
  return weft__permits_try(&sem->permits);
}

int weft_sem_release(weft_sem_t* sem) {
  if (sem == NULL)
    return WEFT_EINVAL;
  return weft__permits_release(&sem->permits);
}

size_t weft_sem_value(const weft_sem_t* sem) {
  return sem == NULL ? 0 : weft__permits_value(&sem->permits);
}
