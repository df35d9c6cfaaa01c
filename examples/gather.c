/* The guide's gather section: weft_gather is asyncio.gather over tasks.
 *  1. five users fetched at once;
 *  2. results come back in input order whatever order the tasks end in;
 *  3. an error: by default the first failure cancels the others and is
 *     returned (the guide's try/except around gather);
 *  4. WEFT_GATHER_COLLECT (return_exceptions=True): every status;
 *  5. a dynamic list of tasks (the guide's list comprehension).
 * Seconds in the guide are 100 ms here; the tasks that must end in a given
 * order sleep at least 100 ms apart. */
#include <stdint.h>
#include <stdio.h>
#include <weft.h>

#define MS_PER_S 100

/* ValueError("Task failed!"): in weft an exception is a negative status,
 * and the message is the application's to attach. */
#define TASK_FAILED WEFT_EINVAL

static const char* describe(int status) {
  return status == TASK_FAILED ? "Task failed!" : weft_strerror(status);
}

static void release_all(weft_task_t** tasks, size_t n) {
  for (size_t i = 0; i < n; i++)
    weft_task_release(tasks[i]);
}

/* Spawns fn(args[i]) for each i into tasks[]. On an error, the tasks
 * already spawned are cancelled, awaited and released. */
static int spawn_all(weft_task_fn fn, void* const* args, size_t n,
                     weft_task_t** tasks) {
  for (size_t i = 0; i < n; i++) {
    int err = weft_spawn(NULL, fn, args[i], NULL, &tasks[i]);
    if (err != 0) {
      for (size_t k = 0; k < i; k++)
        weft_cancel(tasks[k]);
      weft_gather(tasks, i, WEFT_GATHER_COLLECT, NULL, NULL);
      release_all(tasks, i);
      return err;
    }
  }
  return 0;
}

/* ---- 1. asyncio.gather(fetch_user(1), ..., fetch_user(5)) ---------------- */

static int fetch_user(void* arg, void** result) {
  int err = weft_sleep_ms(1 * MS_PER_S);
  *result = arg; /* the user's id stands for the user record */
  return err;
}

static int five_users(void) {
  void* ids[5] = {(void*)1, (void*)2, (void*)3, (void*)4, (void*)5};
  weft_task_t* tasks[5];
  void* users[5];
  int err = spawn_all(fetch_user, ids, 5, tasks);
  if (err != 0)
    return err;
  err = weft_gather(tasks, 5, 0, users, NULL);
  release_all(tasks, 5);
  if (err != 0)
    return err;
  printf("[");
  for (int i = 0; i < 5; i++) {
    int id = (int)(intptr_t)users[i];
    printf("%s{'id': %d, 'name': 'User %d'}", i ? ", " : "", id, id);
  }
  printf("]\n");
  return 0;
}

/* ---- 2. order preserved ---------------------------------------------- */

typedef struct {
  int delay_s;
  const char* value;
} delayed_t;

static int task_with_delay(void* arg, void** result) {
  delayed_t* d = arg;
  int err = weft_sleep_ms((uint64_t)d->delay_s * MS_PER_S);
  if (err != 0)
    return err;
  printf("  %s finished\n", d->value);
  *result = (void*)d->value;
  return 0;
}

static int order_preserved(void) {
  delayed_t d[3] = {{3, "slow"}, {1, "fast"}, {2, "medium"}};
  void* args[3] = {&d[0], &d[1], &d[2]};
  weft_task_t* tasks[3];
  void* results[3];
  int err = spawn_all(task_with_delay, args, 3, tasks);
  if (err != 0)
    return err;
  err = weft_gather(tasks, 3, 0, results, NULL);
  release_all(tasks, 3);
  if (err != 0)
    return err;
  printf("['%s', '%s', '%s']\n", (char*)results[0], (char*)results[1],
         (char*)results[2]);
  return 0;
}

/* ---- 3. and 4. errors: fail-fast, then return_exceptions -------------- */

static int failing_task(void* arg, void** result) {
  (void)arg;
  (void)result;
  int err = weft_sleep_ms(1 * MS_PER_S);
  return err != 0 ? err : TASK_FAILED; /* raise ValueError("Task failed!") */
}

static int successful_task(void* arg, void** result) {
  (void)arg;
  int err = weft_sleep_ms(2 * MS_PER_S);
  if (err == WEFT_ECANCELED)
    printf("  successful_task was cancelled\n");
  if (err != 0)
    return err;
  *result = "success";
  return 0;
}

static int spawn_pair(weft_task_t** tasks) {
  int err = weft_spawn(NULL, failing_task, NULL, NULL, &tasks[0]);
  if (err != 0)
    return err;
  err = weft_spawn(NULL, successful_task, NULL, NULL, &tasks[1]);
  if (err != 0) {
    weft_cancel(tasks[0]);
    weft_await(tasks[0], NULL);
    weft_task_release(tasks[0]);
  }
  return err;
}

static int fail_fast(void) {
  weft_task_t* tasks[2];
  int err = spawn_pair(tasks);
  if (err != 0)
    return err;
  err = weft_gather(tasks, 2, 0, NULL, NULL);
  release_all(tasks, 2);
  if (err != TASK_FAILED)
    return err != 0 ? err : WEFT_EINVAL; /* not what the guide shows */
  printf("Error caught: %s\n", describe(err));
  return 0;
}

static int return_exceptions(void) {
  weft_task_t* tasks[2];
  void* results[2];
  int statuses[2];
  int err = spawn_pair(tasks);
  if (err != 0)
    return err;
  err = weft_gather(tasks, 2, WEFT_GATHER_COLLECT, results, statuses);
  release_all(tasks, 2);
  if (err != 0)
    return err;
  for (int i = 0; i < 2; i++) {
    if (statuses[i] != 0)
      printf("Task %d failed: %s\n", i, describe(statuses[i]));
    else
      printf("Task %d succeeded: %s\n", i, (char*)results[i]);
  }
  return 0;
}

/* ---- 5. dynamic gather ---------------------------------------------- */

static int process_item(void* arg, void** result) {
  int err = weft_sleep_ms(1 * MS_PER_S);
  *result = (void*)((intptr_t)arg * 2);
  return err;
}

static int dynamic(void) {
  enum { N = 5 };
  weft_task_t* tasks[N];
  void* results[N];
  void* items[N];
  for (intptr_t i = 0; i < N; i++)
    items[i] = (void*)(i + 1); /* items = [1, 2, 3, 4, 5] */
  int err = spawn_all(process_item, items, N, tasks);
  if (err != 0)
    return err;
  err = weft_gather(tasks, N, 0, results, NULL);
  release_all(tasks, N);
  if (err != 0)
    return err;
  for (int i = 0; i < N; i++)
    printf("%s%d", i ? ", " : "[", (int)(intptr_t)results[i]);
  printf("]\n");
  return 0;
}

static int main_task(void* arg, void** result) {
  (void)arg;
  (void)result;
  int (*const parts[])(void) = {five_users, order_preserved, fail_fast,
                                return_exceptions, dynamic};
  const char* titles[] = {"gather", "order preserved", "an error",
                          "return_exceptions", "dynamic gather"};
  for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
    printf("-- %s\n", titles[i]);
    int err = parts[i]();
    if (err != 0)
      return err;
  }
  return 0;
}

int main(void) {
  int err = weft_run(main_task, NULL, NULL, NULL);
  if (err != 0)
    fprintf(stderr, "gather: %s\n", weft_strerror(err));
  return err != 0;
}
