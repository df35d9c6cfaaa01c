/* The wait protocol (wait.c): how a task parks on something, how it is
 * woken, and how a cancellation withdraws or forwards its wait. Tasks,
 * futures, sleeps and I/O all wait through it; none of them is named here.
 */
#ifndef WEFT_WAIT_H_
#define WEFT_WAIT_H_

#include <stddef.h>
#include <time.h>

#include "core/task.h"

/* A kind of wait: what weft_cancel and the task dump do with a task
 * suspended in one. Each kind is one static instance beside the code that
 * parks on it (sleep and joins in await.c, futures in future.c, I/O in
 * io/io.c); a task's descriptor points at it while the wait lasts. */
struct weft__wait_kind_s {
  const char* name;
  /* Under t's lock, right after weft_cancel set t's request: decides how
   * the wait ends. Returns what `cancel` acts on once the lock is dropped
   * (holding a reference of its own), or NULL when nothing is to be done
   * now (the request then waits for the next await point). */
  void* (*cancel_locked)(weft_task_t* t);
  void (*cancel)(weft_task_t* t, void* what);
  /* Under t's lock (tried, by a dump): a few words on what t waits for. */
  void (*describe)(weft_task_t* t, char* buf, size_t n);
};

/* Something tasks and threads wait for: a list of waiters under a spin
 * lock, and whether it is done (read under that lock, or with acquire). */
typedef struct {
  weft__spin_t* lock;
  weft__waiter_t** waiters;
  int (*done)(const void* obj);
  const void* obj;
} weft__waitable_t;

/* Publishes `kind` (with its object, set by the caller under the same
 * lock before or after) as what `t` waits for; NULL ends the wait. Takes
 * t's lock. */
void weft__wait_set(weft_task_t* t, const weft__wait_kind_t* kind);

/* The running task `cur` waits until `on` is done: publishes `kind`,
 * lists a waiter node and parks. `withdraws`: a cancellation takes the
 * node off the list and the call returns WEFT_ECANCELED (futures,
 * shielded joins); else the kind's cancel forwards the request and the
 * wait goes on (joins); a request already pending when the wait is
 * published is treated the same way. Returns 0 once `on` is done. From a
 * task only. */
int weft__wait_park_on(weft_task_t* cur, const weft__wait_kind_t* kind,
                       const weft__waitable_t* on, int withdraws);

/* weft__wait_park_on() that also publishes the kind's object (cur's
 * wait_task, wait_future, ...: the union's wait_obj) with the kind, under
 * one take of cur's lock, and clears both when the wait ends. */
int weft__wait_park_on_obj(weft_task_t* cur, const weft__wait_kind_t* kind,
                           void* obj, const weft__waitable_t* on,
                           int withdraws);

/* A plain thread waits until `on` is done, or until `deadline`
 * (CLOCK_MONOTONIC; NULL: none): 0, or WEFT_ETIMEDOUT with the node off
 * the list. */
int weft__wait_block_on(const weft__waitable_t* on,
                        const struct timespec* deadline);

/* Wakes one waiter taken off a list: makes its fiber runnable, or
 * signals its thread. The node may be gone once this returns. */
void weft__waiter_wake(weft__waiter_t* wt);

/* Unlinks the waiter of `task` from *head (the caller holds the list's
 * lock) and marks it withdrawn. Returns its fiber, or NULL if it was not
 * there (already woken). */
weft_task_t* weft__waiter_withdraw(weft__waiter_t** head, weft_task_t* task);

/* A withdrawing cancel found `fiber` on the list (or NULL: the completion
 * took the node first, and the request stays pending): takes the request
 * and wakes the fiber. */
void weft__wait_deliver_withdrawn(weft_task_t* t, weft_task_t* fiber);

/* For kinds whose wait only its home worker may end (sleeps, I/O): under
 * t's lock, readies t's cancel message with `fn` unless one is in flight.
 * Returns the worker to post it to (t retained), or NULL. The matching
 * `cancel` is weft__wait_post_message. */
void* weft__wait_cancel_message(weft_task_t* t,
                                void (*fn)(weft__worker_t* w, weft__msg_t* m));
void weft__wait_post_message(weft_task_t* t, void* worker);

/* Takes t's pending request, the caller holding t's lock: 1 if there was
 * one. */
int weft__cancel_take_locked(weft_task_t* t);

/* Requests made and not taken back (asyncio's Task.cancelling()). Takes
 * t's lock. Any thread. */
uint32_t weft__cancel_requests(weft_task_t* t);

/* asyncio's Task.uncancel() for a scope that made one request: takes it
 * back, and returns 1 when more than `base` requests (the count when the
 * scope began) remain, i.e. someone else cancelled the task too; then a
 * pending delivery is left alone. Returns 0 otherwise, with the pending
 * delivery (the scope's own) taken back. Takes t's lock. Any thread. */
int weft__cancel_uncancel(weft_task_t* t, uint32_t base);

/* The kind of a task sleeping on a timer (await.c); the timer heap checks
 * entries against it. */
extern const weft__wait_kind_t weft__wait_sleep;

#endif /* WEFT_WAIT_H_ */
