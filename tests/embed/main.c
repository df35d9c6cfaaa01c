/* Uses weft taken in with FetchContent: runs a task and awaits a child. */
#include <stdint.h>
#include <stdio.h>
#include <weft.h>

static int child(void* arg, void** result) {
  int err = weft_sleep_ms(1);
  *result = (void*)((intptr_t)arg * 2);
  return err;
}

static int main_task(void* arg, void** result) {
  weft_task_t* task = NULL;
  void* value = NULL;
  int err = weft_spawn(NULL, child, (void*)(intptr_t)21, NULL, &task);
  if (err == 0)
    err = weft_await(task, &value);
  weft_task_release(task);
  if (err == 0 && (intptr_t)value != 42)
    err = WEFT_EPROTO;
  *result = value;
  (void)arg;
  return err;
}

int main(void) {
  weft_config_t config = {.workers = 2};
  void* value = NULL;
  int err = weft_run(main_task, NULL, &config, &value);
  if (err != 0) {
    fprintf(stderr, "embedded weft: %s\n", weft_strerror(err));
    return 1;
  }
  printf("weft %s embedded: %d\n", weft_version(), (int)(intptr_t)value);
  return 0;
}
