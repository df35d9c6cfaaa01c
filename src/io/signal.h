/* Signals (signal.c): what tests need to see of the signal stream. */
#ifndef WEFT_SIGNAL_H_
#define WEFT_SIGNAL_H_

/* Runs of deliveries a signal stream keeps in arrival order while nobody
 * reads (a run: one signal delivered one or more times in a row). Past
 * that, deliveries are still counted, none lost, but some come out of
 * order (signal.c, "Pending deliveries"). */
#define WEFT__SIGNAL_RUNS 64

#include <stddef.h>

#include "weft.h"

/* For tests: deliveries pending, and receivers waiting, on `s` (entering
 * its loop). From a task only; 0 elsewhere. */
size_t weft__signal_stream_pending(weft_signal_stream_t* s);
size_t weft__signal_stream_receivers(weft_signal_stream_t* s);

#endif /* WEFT_SIGNAL_H_ */
