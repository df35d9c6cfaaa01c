/* Which workers are searching for work and which are parked; whom to wake.
 * The protocol and the no-lost-wake-up argument are in idle.c. */
#ifndef WEFT_IDLE_H_
#define WEFT_IDLE_H_

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

typedef struct weft__worker_s weft__worker_t;

typedef struct {
  /* Bits 0-15: workers searching. Bits 16-31: workers not parked.
   * Updated with seq_cst read-modify-writes (see idle.c). */
  _Atomic uint32_t state;
  unsigned nworkers;    /* read-only */
  pthread_mutex_t lock; /* protects sleepers and each worker's `parked` */
  weft__worker_t** sleepers;
  unsigned nsleepers;
  /* Parked workers asleep without the LIFO watch (worker.c): a task that
   * fills its LIFO slot while some are wakes one, which then sleeps
   * watched. Relaxed on both sides: a hint (worker.c, sleep_in_loop). */
  _Atomic unsigned unwatched;
} weft__idle_t;

int weft__idle_init(weft__idle_t* idle, unsigned nworkers);
void weft__idle_term(weft__idle_t* idle);

/* Work was made available; wake a parked worker if nobody is searching.
 * `fence`: 1 orders the caller's queue store before the check (a seq_cst
 * RMW on the idle word); 0 when the caller is a worker that will itself run
 * or re-advertise the work (see idle.c). Any thread. */
void weft__idle_notify(weft__idle_t* idle, int fence);

/* A worker may start searching if fewer than half the workers are. */
int weft__idle_start_searching(weft__idle_t* idle);
/* Ends a search; returns 1 if the caller was the last searcher. */
int weft__idle_stop_searching(weft__idle_t* idle);

/* Registers `w` as parked (ending its search if `searching`). Returns 1 if
 * it was the last searcher. Owner worker only. */
int weft__idle_park(weft__idle_t* idle, weft__worker_t* w, int searching);
/* After a park or a failed re-check: if `w` is still registered as parked,
 * unregisters it and returns 0 (woken by I/O, a timer or nothing). Returns 1
 * if a notifier took it off the list, which also made it a searcher. */
int weft__idle_unpark(weft__idle_t* idle, weft__worker_t* w);

/* 1 if some worker is not parked (called by a worker that is parking, so
 * that means: another one is). Any thread. */
int weft__idle_others_awake(weft__idle_t* idle);

#endif /* WEFT_IDLE_H_ */
