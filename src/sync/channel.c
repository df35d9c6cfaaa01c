/* Channels: a bounded MPMC FIFO that a producer closes (the C form of
 * `async for`). A channel is a FIFO weft_queue_t of maxsize `capacity`
 * (its store is a ring of that many slots) whose close is a draining
 * shutdown, so it inherits the queue's fair hand-off and its cancellation
 * argument (see queue.c): a cancelled sender or receiver loses nothing. */
#include <stdlib.h>

#include "base/alloc.h"
#include "sync/select.h"
#include "weft.h"

struct weft_chan_s {
  weft_queue_t* q;
};

int weft_chan_new(size_t capacity, weft_chan_t** out) {
  if (out == NULL || capacity == 0)
    return WEFT_EINVAL;
  weft_chan_t* ch = weft__malloc(sizeof(*ch));
  if (ch == NULL)
    return WEFT_ENOMEM;
  int err = weft_queue_new(WEFT_QUEUE_FIFO, capacity, &ch->q);
  if (err != 0) {
    free(ch);
    return err;
  }
  *out = ch;
  return 0;
}

int weft_chan_free(weft_chan_t* ch) {
  if (ch == NULL)
    return 0;
  int err = weft_queue_free(ch->q);
  if (err == 0)
    free(ch);
  return err;
}

int weft_chan_send(weft_chan_t* ch, void* item) {
  return ch == NULL ? WEFT_EINVAL : weft_queue_put(ch->q, item, 0);
}

int weft_chan_recv(weft_chan_t* ch, void** item) {
  return ch == NULL ? WEFT_EINVAL : weft_queue_get(ch->q, item);
}

int weft_chan_try_send(weft_chan_t* ch, void* item) {
  return ch == NULL ? WEFT_EINVAL : weft_queue_try_put(ch->q, item, 0);
}

int weft_chan_try_recv(weft_chan_t* ch, void** item) {
  return ch == NULL ? WEFT_EINVAL : weft_queue_try_get(ch->q, item);
}

/* Closing twice is harmless: the second close finds nothing to wake. */
int weft_chan_close(weft_chan_t* ch) {
  return ch == NULL ? WEFT_EINVAL : weft_queue_shutdown(ch->q, 0);
}

weft_queue_t* weft__chan_queue(weft_chan_t* ch) {
  return ch->q;
}
