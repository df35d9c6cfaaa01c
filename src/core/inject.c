/* Global queue (see inject.h). */
#include "core/inject.h"

int weft__inject_init(weft__inject_t* q) {
  q->head = q->tail = NULL;
  atomic_init(&q->len, 0);
  return pthread_mutex_init(&q->lock, NULL) == 0 ? 0 : WEFT_ENOMEM;
}

void weft__inject_term(weft__inject_t* q) {
  pthread_mutex_destroy(&q->lock);
}

void weft__inject_push(weft__inject_t* q, weft_task_t* first, weft_task_t* last,
                       size_t n) {
  last->next = NULL;
  pthread_mutex_lock(&q->lock);
  if (q->tail != NULL)
    q->tail->next = first;
  else
    q->head = first;
  q->tail = last;
  /* relaxed: written under the lock; readers treat it as a hint (idle.c
   * orders the reads that must not miss work). */
  atomic_store_explicit(&q->len,
                        atomic_load_explicit(&q->len, memory_order_relaxed) + n,
                        memory_order_relaxed);
  pthread_mutex_unlock(&q->lock);
}

size_t weft__inject_pop(weft__inject_t* q, size_t max, weft_task_t** out) {
  size_t n = 0;
  if (weft__inject_len(q) == 0)
    return 0;
  pthread_mutex_lock(&q->lock);
  weft_task_t* first = q->head;
  weft_task_t* last = NULL;
  while (q->head != NULL && n < max) {
    last = q->head;
    q->head = last->next;
    n++;
  }
  if (q->head == NULL)
    q->tail = NULL;
  if (last != NULL)
    last->next = NULL;
  /* relaxed: written under the lock, as in push. */
  atomic_store_explicit(&q->len,
                        atomic_load_explicit(&q->len, memory_order_relaxed) - n,
                        memory_order_relaxed);
  pthread_mutex_unlock(&q->lock);
  *out = n > 0 ? first : NULL;
  return n;
}
