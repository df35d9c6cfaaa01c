/* The guide's create_task example: a task is scheduled when it is created
 * and runs while its creator goes on. Delays scaled to tenths of a second.
 *
 * One worker, as asyncio has one thread: the new task starts at the
 * creator's first await, so "Task created" prints first. With more workers
 * another core may start it at once: weft is parallel as well as
 * concurrent, and the order of prints across tasks is then not fixed. */
#include <stdio.h>
#include <weft.h>

static int background_work(void* arg, void** result) {
  (void)arg;
  (void)result;
  printf("Starting background work\n");
  int err = weft_sleep_ms(200);
  if (err == 0)
    printf("Background work completed\n");
  return err;
}

static int main_task(void* arg, void** result) {
  weft_task_t* task;
  weft_spawn_opts_t opts = {.name = "background"};
  (void)arg;
  (void)result;
  int err = weft_spawn(NULL, background_work, NULL, &opts, &task);
  if (err != 0)
    return err;
  printf("Task created, doing other work\n");
  err = weft_sleep_ms(100);
  if (err == 0)
    printf("Other work done\n");
  int status = weft_await(task, NULL); /* wait for the background task */
  weft_task_release(task);
  return err != 0 ? err : status;
}

int main(void) {
  weft_config_t config = {.workers = 1};
  int err = weft_run(main_task, NULL, &config, NULL);
  if (err != 0)
    fprintf(stderr, "create_task: %s\n", weft_strerror(err));
  return err != 0;
}
