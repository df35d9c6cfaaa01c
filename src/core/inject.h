/* The runtime's global (injection) queue: tasks spawned or woken from
 * outside the workers, and the overflow of full local deques. A mutex and
 * an intrusive list: every use is either rare (a spawn from a foreign
 * thread) or batched (128 tasks moved per overflow, a batch taken per
 * refill). `len` lets workers skip the lock when it is empty. */
#ifndef WEFT_INJECT_H_
#define WEFT_INJECT_H_

#include <pthread.h>
#include <stdatomic.h>

#include "core/task.h"

typedef struct {
  pthread_mutex_t lock;
  weft_task_t* head; /* protected by lock */
  weft_task_t* tail; /* protected by lock */
  /* Written under lock; read without it as a hint (relaxed), or by the
   * park re-check after a seq_cst RMW on the idle word (see idle.c). */
  _Atomic size_t len;
} weft__inject_t;

int weft__inject_init(weft__inject_t* q);
void weft__inject_term(weft__inject_t* q);
/* Appends the chain first..last (n tasks, linked by next). Any thread. */
void weft__inject_push(weft__inject_t* q, weft_task_t* first, weft_task_t* last,
                       size_t n);
/* Takes up to max tasks as a chain; returns how many. Any thread. */
size_t weft__inject_pop(weft__inject_t* q, size_t max, weft_task_t** out);

static inline size_t weft__inject_len(weft__inject_t* q) {
  /* relaxed: a hint; callers that must not miss work order this load
   * after a seq_cst RMW first (idle.c). */
  return atomic_load_explicit(&q->len, memory_order_relaxed);
}

#endif /* WEFT_INJECT_H_ */
