/* The guide's "Semaphores for Rate Limiting": ten API calls, at most three
 * at a time, with the one-second call scaled to 50 ms.
 *
 *   async def call_api(semaphore, api_id):
 *       async with semaphore:
 *           await asyncio.sleep(1)
 *           return f"Result {api_id}"
 *
 * Each call counts how many run at once; main prints the results in order
 * and what the semaphore allowed (timing-free, so the output is fixed). */
#include <stdatomic.h>
#include <stdio.h>
#include <weft.h>

#define CALLS 10
#define LIMIT 3

typedef struct {
  weft_sem_t* sem;
  atomic_int running;
  atomic_int most;   /* the most that ever ran at once */
  atomic_int waited; /* calls that found no free permit */
  char results[CALLS][16];
} api_t;

typedef struct {
  api_t* api;
  int id;
} call_t;

static void note_running(api_t* api) {
  int now = atomic_fetch_add(&api->running, 1) + 1;
  int most = atomic_load(&api->most);
  while (now > most && !atomic_compare_exchange_weak(&api->most, &most, now)) {
  }
}

static int call_api(void* arg, void** result) {
  call_t* c = arg;
  api_t* api = c->api;
  (void)result;
  /* async with semaphore: take a permit (waiting, FIFO, if none). */
  int err = weft_sem_try_acquire(api->sem);
  if (err == WEFT_EAGAIN) {
    atomic_fetch_add(&api->waited, 1);
    err = weft_sem_acquire(api->sem);
  }
  if (err != 0)
    return err;
  note_running(api);
  err = weft_sleep_ms(50); /* the API call */
  if (err == 0)
    snprintf(api->results[c->id], sizeof(api->results[c->id]), "Result %d",
             c->id);
  atomic_fetch_sub(&api->running, 1);
  weft_sem_release(api->sem); /* on every path out of the block */
  return err;
}

static int main_task(void* arg, void** result) {
  api_t api = {0};
  call_t calls[CALLS];
  weft_task_t* tasks[CALLS];
  int err;
  (void)arg;
  (void)result;
  if ((err = weft_sem_new(LIMIT, 0, &api.sem)) != 0)
    return err;
  size_t n = 0;
  for (; n < CALLS; n++) {
    calls[n] = (call_t){&api, (int)n};
    if ((err = weft_spawn(NULL, call_api, &calls[n], NULL, &tasks[n])) != 0)
      break;
  }
  if (n == CALLS)
    err = weft_gather(tasks, n, 0, NULL, NULL); /* asyncio.gather */
  for (size_t i = 0; i < n; i++)
    weft_task_release(tasks[i]);
  weft_sem_free(api.sem);
  if (err != 0)
    return err;
  for (int i = 0; i < CALLS; i++)
    printf("%s\n", api.results[i]);
  printf("Completed %d API calls, at most %d at once, %d waited for a "
         "permit\n",
         CALLS, atomic_load(&api.most), atomic_load(&api.waited));
  return 0;
}

int main(void) {
  /* One worker: the ten calls start before the first one ends. */
  weft_config_t cfg = {.workers = 1};
  int err = weft_run(main_task, NULL, &cfg, NULL);
  if (err != 0)
    fprintf(stderr, "api_limit: %s\n", weft_strerror(err));
  return err != 0;
}
