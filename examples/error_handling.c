/* The guide's "Error handling in async code" section. In weft a task's
 * exception is its negative status; the message is the application's, so
 * each item carries its own (the exception object, in Python terms).
 *  1. try/except around one await;
 *  2. errors in concurrent tasks: a wrapper turns each error into a result,
 *     and a plain gather collects them;
 *  3. gather with WEFT_GATHER_COLLECT (return_exceptions=True);
 *  4. cleanup that runs whatever happens (the guide's async context
 *     manager): acquire, use, and release on every path;
 *  5. the same failure in a task group: the first error cancels the
 *     group's other tasks and is what the group returns.
 * Seconds in the guide are 100 ms here. */
#include <stdint.h>
#include <stdio.h>
#include <weft.h>

#define MS_PER_S 100

/* ValueError: the status; the message goes in the item. */
#define VALUE_ERROR WEFT_EINVAL

typedef struct {
  int id;
  char text[64]; /* the result, or the error's message */
} item_t;

/* An operation that might fail: async def risky_operation(item_id). */
static int risky_operation(void* arg, void** result) {
  item_t* item = arg;
  int err = weft_sleep_ms(1 * MS_PER_S);
  if (err != 0)
    return err;
  if (item->id % 2 == 0) {
    snprintf(item->text, sizeof(item->text), "Item %d caused an error",
             item->id);
    return VALUE_ERROR;
  }
  snprintf(item->text, sizeof(item->text), "Item %d processed", item->id);
  *result = item->text;
  return 0;
}

/* ---- 1. try/except ---------------------------------------------------- */

static int handle_with_try_except(void) {
  item_t item = {.id = 2};
  weft_task_t* task;
  void* result;
  int err = weft_spawn(NULL, risky_operation, &item, NULL, &task);
  if (err != 0)
    return err;
  int status = weft_await(task, &result);
  weft_task_release(task);
  if (status == 0)
    printf("%s\n", (char*)result);
  else if (status == VALUE_ERROR) /* except ValueError as e */
    printf("Error caught: %s\n", item.text);
  else
    return status;
  return 0;
}

/* ---- 2. a wrapper that catches the errors ------------------------------ */

/* safe_operation: calls risky_operation (a plain call: the same task
 * awaits), and turns an error into a result, so the gather never fails. */
static int safe_operation(void* arg, void** result) {
  void* ignored;
  int status = risky_operation(arg, &ignored);
  if (status == WEFT_ECANCELED)
    return status; /* cancellation is not an error to swallow */
  *result = (void*)(intptr_t)(status == 0); /* {"success": ...} */
  return 0;
}

/* Spawns fn over the items 0..n-1 into tasks[]. On an error the tasks
 * already spawned are cancelled, awaited and released. */
static int spawn_items(weft_task_fn fn, item_t* items, int n,
                       weft_task_t** tasks) {
  for (int i = 0; i < n; i++) {
    items[i].id = i;
    int err = weft_spawn(NULL, fn, &items[i], NULL, &tasks[i]);
    if (err != 0) {
      for (int k = 0; k < i; k++)
        weft_cancel(tasks[k]);
      weft_gather(tasks, (size_t)i, WEFT_GATHER_COLLECT, NULL, NULL);
      for (int k = 0; k < i; k++)
        weft_task_release(tasks[k]);
      return err;
    }
  }
  return 0;
}

static void release_all(weft_task_t** tasks, int n) {
  for (int i = 0; i < n; i++)
    weft_task_release(tasks[i]);
}

static int concurrent_with_wrapper(void) {
  enum { N = 5 };
  item_t items[N];
  weft_task_t* tasks[N];
  void* success[N];
  int err = spawn_items(safe_operation, items, N, tasks);
  if (err != 0)
    return err;
  err = weft_gather(tasks, N, 0, success, NULL);
  release_all(tasks, N);
  for (int i = 0; err == 0 && i < N; i++) {
    if (success[i])
      printf("Success: %s\n", items[i].text);
    else
      printf("Failed: Item %d - %s\n", items[i].id, items[i].text);
  }
  return err;
}

/* ---- 3. return_exceptions=True ----------------------------------------- */

static int concurrent_collect(void) {
  enum { N = 5 };
  item_t items[N];
  weft_task_t* tasks[N];
  void* results[N];
  int statuses[N];
  int err = spawn_items(risky_operation, items, N, tasks);
  if (err != 0)
    return err;
  err = weft_gather(tasks, N, WEFT_GATHER_COLLECT, results, statuses);
  release_all(tasks, N);
  for (int i = 0; err == 0 && i < N; i++) {
    if (statuses[i] != 0)
      printf("Task %d failed: %s\n", i, items[i].text);
    else
      printf("Task %d succeeded: %s\n", i, (char*)results[i]);
  }
  return err;
}

/* ---- 4. cleanup on every path ----------------------------------------- */

typedef struct {
  int acquired;
} resource_t;

static int resource_enter(resource_t* r) { /* __aenter__ */
  printf("Acquiring resource\n");
  int err = weft_sleep_ms(MS_PER_S / 2);
  r->acquired = err == 0;
  return err;
}

/* __aexit__: runs on success, on error and on cancellation alike; it may
 * await even after a cancellation (the request was delivered once). */
static void resource_exit(resource_t* r, int status, const char* message) {
  if (!r->acquired)
    return;
  printf("Cleaning up resource\n");
  weft_sleep_ms(MS_PER_S / 2);
  if (status != 0)
    printf("Exception during resource use: %s\n", message);
  r->acquired = 0;
}

static int do_work(const char** message) {
  int err = weft_sleep_ms(1 * MS_PER_S);
  if (err != 0)
    return err;
  *message = "Something went wrong";
  return VALUE_ERROR;
}

/* async with AsyncResource() as resource: await resource.do_work() */
static int use_resource(void* arg, void** result) {
  const char** caught = arg;
  resource_t r = {0};
  const char* message = "";
  (void)result;
  int status = resource_enter(&r);
  if (status == 0)
    status = do_work(&message);
  resource_exit(&r, status, message); /* the error propagates */
  if (status == VALUE_ERROR)
    *caught = message;
  return status;
}

static int cleanup(void) {
  const char* message = NULL;
  weft_task_t* task;
  int err = weft_spawn(NULL, use_resource, &message, NULL, &task);
  if (err != 0)
    return err;
  int status = weft_await(task, NULL);
  weft_task_release(task);
  if (status != VALUE_ERROR)
    return status != 0 ? status : WEFT_EINVAL;
  printf("Caught error: %s\n", message);
  return 0;
}

/* ---- 5. a task group ---------------------------------------------- */

static int slow_operation(void* arg, void** result) {
  (void)arg;
  (void)result;
  int err = weft_sleep_ms(3 * MS_PER_S);
  if (err == WEFT_ECANCELED)
    printf("slow_operation: cancelled by the group\n");
  return err;
}

static int group(void) {
  item_t items[2] = {{.id = 1}, {.id = 2}};
  weft_group_t* g;
  int err = weft_group_new(&g);
  if (err != 0)
    return err;
  for (int i = 0; err == 0 && i < 2; i++)
    err = weft_group_spawn(g, risky_operation, &items[i], NULL, NULL);
  if (err == 0)
    err = weft_group_spawn(g, slow_operation, NULL, NULL, NULL);
  int status = weft_group_wait(g); /* also waits after a failed spawn */
  weft_group_free(g);
  if (err != 0)
    return err;
  if (status != VALUE_ERROR)
    return status != 0 ? status : WEFT_EINVAL;
  printf("Group failed: %s\n", items[1].text);
  return 0;
}

static int main_task(void* arg, void** result) {
  (void)arg;
  (void)result;
  int (*const parts[])(void) = {handle_with_try_except, concurrent_with_wrapper,
                                concurrent_collect, cleanup, group};
  const char* titles[] = {"try/except", "errors in concurrent tasks",
                          "return_exceptions", "cleanup", "task group"};
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
    fprintf(stderr, "error_handling: %s\n", weft_strerror(err));
  return err != 0;
}
