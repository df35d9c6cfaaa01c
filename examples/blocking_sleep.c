/* The guide's "asyncio.sleep() vs time.sleep()" section, and
 * run_in_executor as the fix for blocking code you cannot avoid, with the
 * delays scaled from seconds to milliseconds.
 *
 * Each demo runs on a runtime with one worker, as asyncio runs on one
 * loop, so the effect is plain to see: a task that calls usleep() holds
 * the worker's thread, and the ticker task on the same worker cannot run
 * until it returns. weft_sleep_ms() suspends only the task, and
 * weft_run_blocking() moves the blocking call to the executor's threads,
 * so in both the ticker keeps ticking. (With more workers, an idle worker
 * would steal the ticker; a blocked worker still stalls every task queued
 * on it.)
 *
 * The ticker needs 10 ms for its ticks, the sleeps last 200 ms: the
 * order of the lines does not depend on the machine's speed.
 */
#include <stdio.h>
#include <unistd.h>
#include <weft.h>

#define TICK_MS 5
#define SLEEP_MS 200

/* Ticks the ticker made. Only tasks of the one worker touch it. */
static int ticks;

/* async def concurrent_task(): print three times, sleeping in between. */
static int concurrent_task(void* arg, void** result) {
  (void)arg;
  (void)result;
  for (int i = 0; i < 3; i++) {
    printf("Concurrent task running: %d\n", i);
    ticks++;
    if (i < 2) {
      int err = weft_sleep_ms(TICK_MS);
      if (err != 0)
        return err;
    }
  }
  return 0;
}

/* def cpu_intensive_task(): a blocking function, as the executor wants it:
 * weft_task_fn's shape, status returned, result through *result. */
static int blocking_sleep(void* arg, void** result) {
  (void)arg;
  usleep(SLEEP_MS * 1000); /* blocks the thread it runs on */
  *result = "blocking task completed";
  return 0;
}

typedef enum { BLOCK_THE_WORKER, SLEEP_THE_TASK, RUN_IN_EXECUTOR } how_t;

static const char* const kind[] = {"blocking", "non-blocking", "executor"};

/* Starts the ticker, lets it tick once, then sleeps in the way `how`
 * says, and reports whether the ticker ran meanwhile. */
static int demo(void* arg, void** result) {
  how_t how = *(how_t*)arg;
  weft_task_t* ticker;
  void* res = NULL;
  (void)result;
  ticks = 0;
  int err = weft_spawn(NULL, concurrent_task, NULL, NULL, &ticker);
  if (err != 0)
    return err;
  weft_yield(); /* the ticker runs up to its first sleep */
  int before = ticks;
  printf("Starting %s sleep\n", kind[how]);
  switch (how) {
    case BLOCK_THE_WORKER:
      usleep(SLEEP_MS * 1000); /* WRONG: the worker's thread stops */
      break;
    case SLEEP_THE_TASK:
      err = weft_sleep_ms(SLEEP_MS); /* only this task waits */
      break;
    case RUN_IN_EXECUTOR:
      /* The call runs on an executor thread; this task parks meanwhile. */
      err = weft_run_blocking(blocking_sleep, NULL, &res);
      break;
  }
  printf("Finished %s sleep\n", kind[how]);
  if (res != NULL)
    printf("Result: %s\n", (const char*)res);
  int during = ticks - before;
  int status = weft_await(ticker, NULL);
  weft_task_release(ticker);
  printf("ticker ran during the sleep: %s\n", during > 0 ? "yes" : "no");
  return err != 0 ? err : status;
}

static int run_demo(const char* title, how_t how) {
  weft_config_t one_worker = {.workers = 1};
  printf("\n=== %s ===\n", title);
  int err = weft_run(demo, &how, &one_worker, NULL);
  if (err != 0)
    fprintf(stderr, "blocking_sleep: %s\n", weft_strerror(err));
  return err;
}

int main(void) {
  int err = run_demo("usleep() in a task (BAD)", BLOCK_THE_WORKER);
  if (err == 0)
    err = run_demo("weft_sleep_ms() (GOOD)", SLEEP_THE_TASK);
  if (err == 0)
    err = run_demo("usleep() through weft_run_blocking() (GOOD)",
                   RUN_IN_EXECUTOR);
  return err != 0;
}
