/* One-shot cross-thread futures (future.c). */
#ifndef WEFT_FUTURE_H_
#define WEFT_FUTURE_H_

#include "core/task.h"

/* Completes `f` (status 0 with `result`, or a negative status). Returns
 * WEFT_EBUSY if it was already done. Any thread. */
int weft__future_complete(weft_future_t* f, int status, void* result);

/* Withdraws `task`'s wait on `f` (a cancellation): its fiber, which the
 * caller must wake (its node is marked withdrawn), or NULL if it was
 * already woken by the completion. */
weft_task_t* weft__future_withdraw(weft_future_t* f, weft_task_t* task);

#endif /* WEFT_FUTURE_H_ */
