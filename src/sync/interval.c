/* weft_interval_t: a periodic timer that does not drift (tokio's
 * interval, with MissedTickBehavior::Skip).
 *
 * DESIGN
 * Tick k is due at start + k * period, computed from the start, never from
 * the moment the previous tick returned: the time a task spends between
 * ticks, and the lateness of each wake-up, do not add up. A tick that
 * finds itself late by more than a period skips the ticks it missed (it
 * does not fire them in a burst) and says how many periods passed. The
 * wait itself is weft_sleep_ns to the next due time, so a cancellation
 * withdraws it and leaves the schedule as it was.
 *
 * An interval belongs to one task at a time (it holds no lock): two tasks
 * ticking the same interval must take turns themselves.
 */
#include <stdlib.h>

#include "base/alloc.h"
#include "base/common.h"

struct weft_interval_s {
  uint64_t start;  /* weft_now_ns at creation */
  uint64_t period; /* ns */
  uint64_t ticks;  /* ticks handed out so far: the next is due at
                      start + (ticks + 1) * period */
};

int weft_interval_new(uint64_t period_ms, weft_interval_t** out) {
  if (out == NULL || period_ms == 0 || period_ms > UINT64_MAX / 1000000u)
    return WEFT_EINVAL;
  weft_interval_t* iv = weft__calloc(1, sizeof(*iv));
  if (iv == NULL)
    return WEFT_ENOMEM;
  iv->start = weft_now_ns();
  iv->period = period_ms * 1000000u;
  *out = iv;
  return 0;
}

int weft_interval_free(weft_interval_t* iv) {
  free(iv);
  return 0;
}

/* The due time of tick k, saturating. */
static uint64_t due(const weft_interval_t* iv, uint64_t k) {
  if (k > (UINT64_MAX - iv->start) / iv->period)
    return UINT64_MAX;
  return iv->start + k * iv->period;
}

int weft_interval_tick(weft_interval_t* iv, uint64_t* periods) {
  if (iv == NULL)
    return WEFT_EINVAL;
  if (weft_current_task() == NULL)
    return WEFT_ENOTTASK;
  uint64_t next = iv->ticks + 1;
  uint64_t now = weft_now_ns();
  if (now < due(iv, next)) {
    int rc = weft_sleep_ns(due(iv, next) - now);
    if (rc != 0)
      return rc; /* nothing handed out: the schedule stands */
    now = weft_now_ns();
  }
  /* The latest tick already due: those between were missed, skipped. */
  uint64_t latest = (now - iv->start) / iv->period;
  if (latest < next)
    latest = next; /* a timer may fire a hair early on some clocks */
  if (periods != NULL)
    *periods = latest - iv->ticks;
  iv->ticks = latest;
  return 0;
}

uint64_t weft_interval_next_ns(const weft_interval_t* iv) {
  return iv == NULL ? 0 : due(iv, iv->ticks + 1);
}
