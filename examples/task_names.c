/* The guide's task names, and asyncio.all_tasks(): name a task when you
 * spawn it; read the name back, or from inside it; list the live tasks. */
#include <stdio.h>
#include <string.h>
#include <weft.h>

static int long_running_operation(void* arg, void** result) {
  (void)arg;
  (void)result;
  printf("Inside: %s\n", weft_task_name(weft_current_task()));
  return weft_sleep_ms(50);
}

static int print_if_named(weft_task_t* task, void* arg) {
  (void)arg;
  /* Unnamed tasks are called "Task-<id>"; print only ours. */
  if (strncmp(weft_task_name(task), "Task-", 5) != 0)
    printf("Live task: %s\n", weft_task_name(task));
  return 0;
}

static int main_task(void* arg, void** result) {
  weft_spawn_opts_t opts = {.name = "long-operation-task"};
  weft_task_t* task;
  (void)arg;
  (void)result;
  int err = weft_spawn(NULL, long_running_operation, NULL, &opts, &task);
  if (err != 0)
    return err;
  printf("Task name: %s\n", weft_task_name(task));
  weft_yield(); /* let it start */
  weft_task_visit(weft_current_runtime(), print_if_named, NULL);
  err = weft_await(task, NULL);
  weft_task_release(task);
  return err;
}

int main(void) {
  weft_config_t config = {.workers = 1};
  int err = weft_run(main_task, NULL, &config, NULL);
  if (err != 0)
    fprintf(stderr, "task_names: %s\n", weft_strerror(err));
  return err != 0;
}
