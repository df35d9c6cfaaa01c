/* Read-only views of a task and its references: the small public calls. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/common.h"
#include "core/wait.h"
#include "core/worker.h"

weft_task_t* weft_task_retain(weft_task_t* t) {
  if (t != NULL)
    /* relaxed: the caller already holds a reference, so the count cannot
     * reach zero meanwhile; nothing is published by taking one. */
    atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
  return t;
}

void weft_task_release(weft_task_t* t) {
  if (t != NULL)
    weft__task_release(t);
}

weft_task_t* weft_current_task(void) {
  weft__worker_t* w = weft__worker_self();
  return w != NULL ? w->current : NULL;
}

const char* weft_task_name(const weft_task_t* ct) {
  weft_task_t* t = (weft_task_t*)ct;
  if (t == NULL)
    return "";
  /* acquire: pairs with the release store below (or the spawn's). */
  char* name = atomic_load_explicit(&t->name, memory_order_acquire);
  if (name != NULL)
    return name;
  weft__spin_lock(&t->lock);
  /* relaxed: under the task's lock. */
  name = atomic_load_explicit(&t->name, memory_order_relaxed);
  if (name == NULL && (name = weft__malloc(32)) != NULL) {
    snprintf(name, 32, "Task-%llu", (unsigned long long)t->id);
    /* release: publishes the text to lock-free readers above. */
    atomic_store_explicit(&t->name, name, memory_order_release);
  }
  weft__spin_unlock(&t->lock);
  /* Out of memory: a name that says so rather than a NULL. */
  return name != NULL ? name : "Task-?";
}

uint64_t weft_task_id(const weft_task_t* t) {
  return t != NULL ? t->id : 0;
}

weft_task_state_t weft_task_state(const weft_task_t* t) {
  if (t == NULL)
    return (weft_task_state_t)0;
  /* relaxed: a snapshot by definition. */
  uint8_t p = atomic_load_explicit(&t->phase, memory_order_relaxed);
  switch (p) {
    case WEFT_PHASE_QUEUED:
      return WEFT_TASK_QUEUED;
    case WEFT_PHASE_SUSPENDED:
      return WEFT_TASK_SUSPENDED;
    case WEFT_PHASE_DONE:
      return WEFT_TASK_DONE;
    default:
      return WEFT_TASK_RUNNING;
  }
}

int weft_task_done(const weft_task_t* t) {
  /* acquire: a caller that sees DONE may read the result next. */
  return t != NULL && atomic_load_explicit(&t->phase, memory_order_acquire) ==
                          WEFT_PHASE_DONE;
}

int weft_task_result(const weft_task_t* t, void** result) {
  if (t == NULL)
    return WEFT_EINVAL;
  if (!weft_task_done(t))
    return WEFT_EAGAIN;
  if (WEFT_UNLIKELY(t->rt->debug))
    weft__task_observed((weft_task_t*)t);
  if (t->status == 0 && result != NULL)
    *result = t->result;
  return t->status;
}

uint32_t weft_task_cancelling(weft_task_t* t) {
  return t == NULL ? 0 : weft__cancel_requests(t);
}

int weft_task_cancelled(const weft_task_t* t) {
  return weft_task_done(t) && t->status == WEFT_ECANCELED;
}
