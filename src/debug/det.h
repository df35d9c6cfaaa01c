/* Deterministic mode (det.c): one worker, a virtual clock, and the next
 * task drawn from everything runnable by a seeded generator. */
#ifndef WEFT_DET_H_
#define WEFT_DET_H_

#include <stdatomic.h>
#include <stdint.h>

#include "weft.h"

typedef struct weft__det_s weft__det_t;
typedef struct weft__worker_s weft__worker_t;

/* Runtimes in deterministic mode in this process: weft__now_ns looks for
 * a virtual clock only while it is nonzero. */
extern _Atomic int weft__det_runtimes;

/* The seed `config` and WEFT_SEED ask for, or 0 when the mode is off;
 * draws one (and logs it) when the mode is on without a seed. */
uint64_t weft__det_seed(const weft_config_t* config);

/* Makes the mode's state for `seed` (nonzero). NULL: out of memory. */
weft__det_t* weft__det_new(uint64_t seed);
void weft__det_free(weft__det_t* d);
uint64_t weft__det_seed_of(const weft__det_t* d);

/* The next task for the worker to run, or NULL when nothing can run and
 * nothing will without an outside event (the worker then parks).
 * Owner only. */
weft_task_t* weft__det_next(weft__worker_t* w);

/* The calling thread's virtual clock, if it is a worker in deterministic
 * mode: 1 and *now; else 0. */
int weft__det_clock(uint64_t* now);

/* An executor call of a deterministic runtime. Its future is completed by
 * the worker at a quiet point, never by the executor thread, so when the
 * awaiting task sees it done does not depend on real time. */
typedef struct weft__det_call_s weft__det_call_t;

/* Counts a call in flight; NULL when out of memory. The submitter. */
weft__det_call_t* weft__det_call_begin(weft_runtime_t* rt);
/* The call returned: hands `future` (and the caller's reference to it)
 * over for the worker to complete. The executor thread. */
void weft__det_call_end(weft_runtime_t* rt, weft__det_call_t* c,
                        weft_future_t* future, int status, void* result);
/* The call will not run (not queued, or dropped at shutdown). Any thread. */
void weft__det_call_drop(weft_runtime_t* rt, weft__det_call_t* c);

#endif /* WEFT_DET_H_ */
