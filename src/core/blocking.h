/* The blocking-call executor: an elastic pool of plain threads, one per
 * runtime (blocking.c). */
#ifndef WEFT_BLOCKING_H_
#define WEFT_BLOCKING_H_

#include <stdint.h>

#include "weft.h"

typedef struct weft__blocking_s weft__blocking_t;

/* Creates the executor of `rt` (no thread is started until a call comes).
 * max_threads 0: 512; keepalive_ms 0: 10000. */
int weft__blocking_new(unsigned max_threads, unsigned keepalive_ms,
                       weft__blocking_t** out);

/* Shutdown: queued calls that never started complete their futures with
 * WEFT_ECANCELED; running calls run to their end, waited for up to
 * grace_ms (< 0: no bound); every thread is joined; then the executor is
 * freed. WEFT_ETIMEDOUT when calls still run at the deadline: the
 * executor then frees itself once they have returned. Called by
 * weft_runtime_shutdown once every task has finished, before the workers
 * stop. */
int weft__blocking_free(weft__blocking_t* b, int64_t grace_ms);

/* 1 when called from one of `b`'s own threads (a blocking call): shutting
 * the runtime down from there would wait for itself. */
int weft__blocking_on_executor(const weft__blocking_t* b);

#endif /* WEFT_BLOCKING_H_ */
