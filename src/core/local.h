/* Task-local storage (local.c): values a task carries across threads. */
#ifndef WEFT_LOCAL_H_
#define WEFT_LOCAL_H_

#include "core/task.h"

/* A task's values: slot i holds key index i's value, valid while its gen
 * matches the key's (a freed key's index is reused with the next gen).
 * Owned by the task: only code running in it reads or writes them, and
 * its end destroys them. */
typedef struct {
  void* value;
  uint32_t gen;
} weft__local_slot_t;

struct weft__locals_s {
  uint32_t n; /* slots */
  weft__local_slot_t slot[];
};

/* At spawn, from the spawning task `parent`: copies the values of the
 * keys that have a copy function into `child`. WEFT_ENOMEM (child then
 * has none). */
int weft__locals_inherit(weft_task_t* child, weft_task_t* parent);

/* At a task's end, before it is published done: destroys its values (the
 * keys' destructors) and frees them. */
void weft__locals_finish(weft_task_t* t);

#endif /* WEFT_LOCAL_H_ */
