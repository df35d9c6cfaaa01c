/* The guide's RateLimiter: fifteen fetches, at most five per period, with
 * its two-second period scaled to 200 ms and each half-second fetch to
 * 50 ms.
 *
 *   rate_limiter = RateLimiter(max_requests=5, time_period=2)
 *   async def fetch_with_rate_limit(rate_limiter, item_id):
 *       async with rate_limiter:
 *           await asyncio.sleep(0.5)
 *           return f"Item {item_id}"
 *
 * weft_ratelimit_acquire grants slots in arrival order, so each fetch
 * records the order it asked in and the order it was let through; main
 * prints the results, whether the two orders agree, and the most fetches
 * that started within one period (a property of the times, so the output
 * is the same on every run). */
#include <pthread.h>
#include <stdio.h>
#include <weft.h>

#define REQUESTS 15
#define MAX_PER_PERIOD 5
#define PERIOD_MS 200

typedef struct {
  weft_ratelimit_t* rl;
  pthread_mutex_t mu;
  int asked[REQUESTS];   /* item ids in the order they asked */
  int granted[REQUESTS]; /* item ids in the order they were let through */
  uint64_t started[REQUESTS];
  int nasked, ngranted;
  char results[REQUESTS][16];
} limiter_t;

typedef struct {
  limiter_t* lim;
  int id;
} fetch_t;

static void note(limiter_t* lim, int* list, int* n, int id, uint64_t* at) {
  pthread_mutex_lock(&lim->mu);
  if (at != NULL)
    at[*n] = weft_now_ns();
  list[(*n)++] = id;
  pthread_mutex_unlock(&lim->mu);
}

static int fetch_with_rate_limit(void* arg, void** result) {
  fetch_t* f = arg;
  limiter_t* lim = f->lim;
  (void)result;
  note(lim, lim->asked, &lim->nasked, f->id, NULL);
  int err = weft_ratelimit_acquire(lim->rl); /* async with rate_limiter */
  if (err != 0)
    return err;
  note(lim, lim->granted, &lim->ngranted, f->id, lim->started);
  if ((err = weft_sleep_ms(50)) != 0) /* the fetch */
    return err;
  snprintf(lim->results[f->id], sizeof(lim->results[f->id]), "Item %d", f->id);
  return 0;
}

/* The most starts within any window of PERIOD_MS less 50 ms (starts are
 * in time order). A start is stamped just after the limiter let it go, a
 * little late on a loaded machine; the 50 ms keep such delays from making
 * two starts the limiter spaced a period apart look closer. */
static int most_per_period(const limiter_t* lim) {
  const uint64_t period = (uint64_t)(PERIOD_MS - 50) * 1000000;
  int most = 0;
  for (int i = 0; i < lim->ngranted; i++) {
    int n = 0;
    while (i + n < lim->ngranted &&
           lim->started[i + n] - lim->started[i] < period)
      n++;
    most = n > most ? n : most;
  }
  return most;
}

static int same_order(const limiter_t* lim) {
  for (int i = 0; i < REQUESTS; i++)
    if (lim->asked[i] != lim->granted[i])
      return 0;
  return 1;
}

static int main_task(void* arg, void** result) {
  static limiter_t lim = {.mu = PTHREAD_MUTEX_INITIALIZER};
  fetch_t fetches[REQUESTS];
  weft_task_t* tasks[REQUESTS];
  (void)arg;
  (void)result;
  int err = weft_ratelimit_new(MAX_PER_PERIOD, PERIOD_MS, &lim.rl);
  if (err != 0)
    return err;
  size_t n = 0;
  for (; n < REQUESTS; n++) {
    fetches[n] = (fetch_t){&lim, (int)n};
    if ((err = weft_spawn(NULL, fetch_with_rate_limit, &fetches[n], NULL,
                          &tasks[n])) != 0)
      break;
  }
  if (n == REQUESTS)
    err = weft_gather(tasks, n, 0, NULL, NULL); /* asyncio.gather */
  for (size_t i = 0; i < n; i++)
    weft_task_release(tasks[i]);
  weft_ratelimit_free(lim.rl);
  if (err != 0)
    return err;
  for (int i = 0; i < REQUESTS; i++)
    printf("%s\n", lim.results[i]);
  printf("Completed %d requests\n", REQUESTS);
  printf("Let through in the order they asked: %s\n",
         same_order(&lim) ? "yes" : "no");
  int within = most_per_period(&lim) <= MAX_PER_PERIOD;
  printf("At most %d started within %d ms: %s\n", MAX_PER_PERIOD,
         PERIOD_MS - 50, within ? "yes" : "no");
  return 0;
}

int main(void) {
  /* One worker: nothing runs between a fetch noting that it asks and its
   * call to the limiter, so the two orders can be compared. */
  weft_config_t cfg = {.workers = 1};
  int err = weft_run(main_task, NULL, &cfg, NULL);
  if (err != 0)
    fprintf(stderr, "rate_limiter: %s\n", weft_strerror(err));
  return err != 0;
}
