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

/* Watchers (sync/select.c): `node`, with its notify set and its other
 * fields zero, is listed on f's waiters unless f is done. Returns 1 when f
 * was done (nothing listed), 0 when listed: the completion will call
 * node->notify(node) once, outside f's lock. Any thread. */
int weft__future_watch(weft_future_t* f, weft__waiter_t* node);

/* Takes a watcher off f's list: 1 if it was there (notify will never be
 * called), 0 if the completion took it (notify is called, or was). Any
 * thread. */
int weft__future_unwatch(weft_future_t* f, weft__waiter_t* node);

/* weft_future_await() for a caller that holds a reference to `f` until
 * the call returns (a sync primitive's own future): the wait takes no
 * reference of its own, two locked instructions less. */
int weft__future_await_owned(weft_future_t* f, void** result);

/* A plain thread waits for `f` until `deadline_ns` (weft__now_ns's clock):
 * its status and result, or WEFT_ETIMEDOUT. */
int weft__future_await_until(weft_future_t* f, uint64_t deadline_ns,
                             void** result);

/* Frees the futures `w` keeps for reuse and stops keeping them. Owner
 * thread, or any thread once the worker's thread has ended. */
void weft__future_cache_drain(weft__worker_t* w);

#endif /* WEFT_FUTURE_H_ */
