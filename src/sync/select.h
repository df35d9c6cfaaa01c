/* What select.c and queue.c share: a queue waiter that may belong to a
 * select, and the queue's side of arming and disarming a select's case
 * (see select.c for the protocol). */
#ifndef WEFT_SELECT_H_
#define WEFT_SELECT_H_

#include <stddef.h>

#include "base/common.h"

typedef struct weft__sel_s weft__sel_t;

/* A waiter on one of a queue's lists (getters, putters, joiners): a task
 * or thread in get, put or join, or one case of a select. Lives on the
 * waiter's stack (or in the select's state); every field is under the
 * queue's mutex. */
typedef struct weft__qwaiter_s {
  struct weft__qwaiter_s* prev;
  struct weft__qwaiter_s* next;
  weft_future_t* fut; /* completed to wake it (a select's: shared) */
  int state;          /* WEFT__QW_*: what it was handed */
  int linked;         /* on a list */
  weft__sel_t* sel;   /* the select it belongs to, or NULL */
  size_t index;       /* its case in that select */
} weft__qwaiter_t;

enum {
  WEFT__QW_WAITING = 0, /* nothing handed yet */
  WEFT__QW_GRANTED = 1, /* an item or slot set aside for it */
  WEFT__QW_CLOSED = 2   /* the queue shut down */
};

/* Claims select `s` for case `index`: 1 if no case was chosen before (this
 * one is now), 0 otherwise. Any thread; never blocks. */
int weft__sel_claim(weft__sel_t* s, size_t index);

/* What arming a case did. */
enum {
  WEFT__SEL_ARMED = 0, /* listed: the queue will claim and wake it */
  WEFT__SEL_WON = 1,   /* ready at once and claimed: done, see *status */
  WEFT__SEL_LOST = 2   /* ready at once, but another case was chosen */
};

/* Under q's mutex: a get (put = 0) or put (put = 1, of `item`) for case
 * `w` of a select. Taken at once if possible (WON: *status is 0 with *got
 * set for a get, or WEFT_ECLOSED, or WEFT_ENOMEM for a put whose store
 * could not grow), else listed (ARMED). Any thread. */
int weft__queue_sel_arm(weft_queue_t* q, int put, weft__qwaiter_t* w,
                        void* item, void** got, int* status);

/* Ends an armed case: takes `w` off its list if it is still there. If `w`
 * is the chosen case (the queue granted it), finishes its operation when
 * `keep` (*status, *got as above) or gives its grant to the next waiter
 * when not (a cancelled select). Any thread. */
void weft__queue_sel_disarm(weft_queue_t* q, int put, weft__qwaiter_t* w,
                            int keep, void* item, void** got, int* status);

/* The channel's queue (channel.c). */
weft_queue_t* weft__chan_queue(weft_chan_t* ch);

#endif /* WEFT_SELECT_H_ */
