/* Intrusive singly linked lists: a FIFO (head and tail) of any struct
 * with a `next` pointer, and the reversal of a chain. The queues of
 * yielded tasks, executor calls, UDP receivers and datagrams, and the
 * drains of push-only stacks (a worker's inbox, a future's callbacks) use
 * these instead of writing the pointer steps out each time. Not thread
 * safe: each list's owner or lock says who may touch it. */
#ifndef WEFT_LIST_H_
#define WEFT_LIST_H_

#include <stddef.h>

/* A FIFO of `type` nodes linked by their `next` field. Zeroed: empty. */
#define WEFT_FIFO(type)                                                        \
  struct {                                                                     \
    type* head;                                                                \
    type* tail;                                                                \
  }

#define weft__fifo_empty(q) ((q)->head == NULL)

/* Appends `node` (its next is overwritten). */
#define weft__fifo_push(q, node)                                               \
  do {                                                                         \
    __typeof__(node) n_ = (node);                                              \
    n_->next = NULL;                                                           \
    if ((q)->tail != NULL)                                                     \
      (q)->tail->next = n_;                                                    \
    else                                                                       \
      (q)->head = n_;                                                          \
    (q)->tail = n_;                                                            \
  } while (0)

/* Takes the oldest node (its next is cleared), or NULL. */
#define weft__fifo_pop(q)                                                      \
  ({                                                                           \
    __typeof__((q)->head) p_ = (q)->head;                                      \
    if (p_ != NULL) {                                                          \
      (q)->head = p_->next;                                                    \
      if ((q)->head == NULL)                                                   \
        (q)->tail = NULL;                                                      \
      p_->next = NULL;                                                         \
    }                                                                          \
    p_;                                                                        \
  })

/* Unlinks `node` if it is in the FIFO: 1 if it was. O(n). */
#define weft__fifo_remove(q, node)                                             \
  ({                                                                           \
    __typeof__((q)->head) r_prev_ = NULL;                                      \
    __typeof__((q)->head) r_ = (q)->head;                                      \
    while (r_ != NULL && r_ != (node)) {                                       \
      r_prev_ = r_;                                                            \
      r_ = r_->next;                                                           \
    }                                                                          \
    if (r_ != NULL) {                                                          \
      if (r_prev_ != NULL)                                                     \
        r_prev_->next = r_->next;                                              \
      else                                                                     \
        (q)->head = r_->next;                                                  \
      if ((q)->tail == r_)                                                     \
        (q)->tail = r_prev_;                                                   \
      r_->next = NULL;                                                         \
    }                                                                          \
    r_ != NULL;                                                                \
  })

/* Takes the whole FIFO: its first node (the chain follows by next). */
#define weft__fifo_take_all(q)                                                 \
  ({                                                                           \
    __typeof__((q)->head) a_ = (q)->head;                                      \
    (q)->head = (q)->tail = NULL;                                              \
    a_;                                                                        \
  })

/* Reverses the chain starting at `first` (a push-only stack drained
 * whole, newest first) and returns its new first node (the oldest). */
#define weft__list_reverse(first)                                              \
  ({                                                                           \
    __typeof__(first) in_ = (first);                                           \
    __typeof__(first) out_ = NULL;                                             \
    while (in_ != NULL) {                                                      \
      __typeof__(first) nx_ = in_->next;                                       \
      in_->next = out_;                                                        \
      out_ = in_;                                                              \
      in_ = nx_;                                                               \
    }                                                                          \
    out_;                                                                      \
  })

#endif /* WEFT_LIST_H_ */
