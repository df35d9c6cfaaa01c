/* Deterministic mode (det.c): one worker, a virtual clock, and the next
 * task drawn from everything runnable by a seeded generator. */
#ifndef WEFT_DET_H_
#define WEFT_DET_H_

#include <stdint.h>

#include "core/hooks.h"
#include "weft.h"

typedef struct weft__det_s weft__det_t;
typedef struct weft__worker_s weft__worker_t;

/* The seed `config` and (if use_env) WEFT_SEED ask for, or 0 when the mode
 * is off; draws one (and logs it) when the mode is on without a seed. */
uint64_t weft__det_seed(const weft_config_t* config, int use_env);

/* Makes the mode's state for `seed` (nonzero). NULL: out of memory. */
weft__det_t* weft__det_new(uint64_t seed);
void weft__det_free(weft__det_t* d);
uint64_t weft__det_seed_of(const weft__det_t* d);

/* The next task for the worker to run, or NULL when nothing can run and
 * nothing will without an outside event (the worker then parks).
 * Owner only. */
weft_task_t* weft__det_next(weft__worker_t* w);

/* Fills the hooks that plug the mode into the core (core/hooks.h): the
 * next-task draw, virtual time, and executor calls completed by the
 * worker at a quiet point, never by the executor thread, so when an
 * awaiting task sees one done does not depend on real time. */
void weft__det_hooks(weft__hooks_t* hooks);

#endif /* WEFT_DET_H_ */
