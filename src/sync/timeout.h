/* Timeout scopes (timeout.c) as seen by the timer heap. */
#ifndef WEFT_TIMEOUT_H_
#define WEFT_TIMEOUT_H_

#include "weft.h"

/* A timer heap entry's task pointer with this bit set is a timeout scope. */
#define WEFT_TIMER_TAG_TIMEOUT ((uintptr_t)1)

/* The deadline passed: cancel the scope's task unless the scope has ended;
 * drops the heap's reference. On the heap's worker. */
void weft__timeout_fire(weft_timeout_t* tm);
/* 1 while the scope has not ended (the entry is live). */
int weft__timeout_live(weft_timeout_t* tm);
/* The heap drops a stale entry: gives back its reference. */
void weft__timeout_drop(weft_timeout_t* tm);

#endif /* WEFT_TIMEOUT_H_ */
