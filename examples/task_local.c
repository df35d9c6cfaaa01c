/* Task-local storage, asyncio's contextvars: a request id that every log
 * line of a request carries, through awaits and across worker threads,
 * without passing it down every call.
 *
 *   request_id = contextvars.ContextVar("request_id")
 *   async def handle(n):
 *       request_id.set(f"req-{n}")
 *       await step("parse"); await step("reply")
 *
 * A thread-local would be wrong here: after each await the task may run
 * on another worker thread (see "Task-local storage" in weft.h). The sub-
 * task spawned by a request inherits a copy of the id, as asyncio copies
 * the context into a new task.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <weft.h>

static weft_task_local_t* request_id;

static void* copy_id(void* id) {
  return strdup(id);
}

/* Every log line names the request it belongs to. */
static void log_line(const char* what) {
  const char* id = weft_task_local_get(request_id);
  printf("[%s] %s\n", id != NULL ? id : "-", what);
}

static int audit(void* arg, void** result) {
  (void)arg;
  (void)result;
  log_line("audit written"); /* the copy the sub-task inherited */
  return 0;
}

static int handle(void* arg, void** result) {
  uintptr_t n = (uintptr_t)arg;
  char id[32];
  weft_task_t* sub;
  int err;
  (void)result;
  snprintf(id, sizeof(id), "req-%u", (unsigned)n);
  char* mine = strdup(id);
  if (mine == NULL)
    return WEFT_ENOMEM;
  if ((err = weft_task_local_set(request_id, mine)) != 0) {
    free(mine);
    return err;
  }
  /* Staggered so the output has one order; other workers may run us. */
  if ((err = weft_sleep_ms(50 * n)) != 0)
    return err;
  log_line("parsed");
  if ((err = weft_spawn(NULL, audit, NULL, NULL, &sub)) != 0)
    return err;
  err = weft_await(sub, NULL);
  weft_task_release(sub);
  if (err != 0)
    return err;
  if ((err = weft_sleep_ms(5)) != 0)
    return err;
  log_line("replied");
  return 0; /* the value is freed when the task ends */
}

static int main_task(void* arg, void** result) {
  weft_task_t* ts[3];
  int err = 0;
  (void)arg;
  (void)result;
  for (uintptr_t i = 0; i < 3; i++)
    if ((err = weft_spawn(NULL, handle, (void*)(i + 1), NULL, &ts[i])) != 0)
      return err;
  for (int i = 0; i < 3; i++) {
    int e = weft_await(ts[i], NULL);
    weft_task_release(ts[i]);
    if (err == 0)
      err = e;
  }
  log_line("all done"); /* main has no request id */
  return err;
}

int main(void) {
  int err = weft_task_local_new(copy_id, free, &request_id);
  if (err == 0)
    err = weft_run(main_task, NULL, NULL, NULL);
  weft_task_local_free(request_id);
  if (err != 0)
    fprintf(stderr, "task_local: %s\n", weft_strerror(err));
  return err != 0;
}
