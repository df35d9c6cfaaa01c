/* Cancelling a task (asyncio's task.cancel()): the request arrives at the
 * task's await as WEFT_ECANCELED. The task may clean up, even await while
 * doing so, and then return; the canceller's await gives its status.
 * Cancelling a task also cancels the task it awaits. */
#include <stdio.h>
#include <weft.h>

static int worker_fn(void* arg, void** result) {
  (void)arg;
  (void)result;
  printf("worker: started, sleeping for an hour\n");
  int err = weft_sleep_ms(60 * 60 * 1000);
  if (err == WEFT_ECANCELED) {
    printf("worker: cancelled, cleaning up\n");
    weft_sleep_ms(10); /* cleanup may await: the request was delivered */
    printf("worker: cleanup done\n");
  }
  return err; /* WEFT_ECANCELED: the task ends cancelled */
}

static int main_task(void* arg, void** result) {
  weft_task_t* task;
  weft_spawn_opts_t opts = {.name = "worker"};
  (void)arg;
  (void)result;
  int err = weft_spawn(NULL, worker_fn, NULL, &opts, &task);
  if (err != 0)
    return err;
  weft_sleep_ms(50); /* let it start */
  printf("main: cancelling '%s'\n", weft_task_name(task));
  weft_cancel(task);
  int status = weft_await(task, NULL);
  printf("main: worker ended with %s, cancelled=%d\n", weft_err_name(status),
         weft_task_cancelled(task));
  weft_task_release(task);
  return 0;
}

int main(void) {
  int err = weft_run(main_task, NULL, NULL, NULL);
  if (err != 0)
    fprintf(stderr, "cancellation: %s\n", weft_strerror(err));
  return err != 0;
}
