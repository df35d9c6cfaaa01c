/* The guide's "Common Pitfalls and How to Avoid Them", three of them, in
 * weft's terms:
 *
 * (a) Forgetting to await. In asyncio `result = fetch_data()` makes a
 *     coroutine object that never runs. In C a plain call just runs, so
 *     weft's version of the mistake is spawning a task and dropping its
 *     handle without awaiting it: the task still runs (weft_spawn
 *     schedules it, like create_task), but its status, an error here,
 *     reaches nobody. asyncio would log "Task exception was never
 *     retrieved"; weft's debug mode (weft_config_t.debug) reports "task ... was
 *     never awaited" (docs/debugging.md). Await (or gather) every task
 *     whose result matters; spawn detached (out == NULL) only
 *     fire-and-forget work.
 *
 * (b) Blocking the event loop. usleep() in a task holds its worker's
 *     thread: on a one-worker runtime a ticker task gets no turn at all
 *     while it lasts. weft_sleep_ms() parks only the task, and
 *     weft_run_blocking() moves blocking work to the executor's threads
 *     (run_in_executor): the ticker runs meanwhile. (blocking_sleep.c
 *     shows the same with timestamps.)
 *
 * (c) Not limiting concurrency. 200 fetches at once against a server that
 *     serves at most 10 requests at a time (more get 503) vs. the same 200
 *     behind a weft_sem_t of 10 (asyncio.Semaphore(10)).
 *
 * The server is a weft HTTP server on 127.0.0.1 in the same program (port
 * 0: any free one). Every line printed is a yes/no or a count that does
 * not depend on timing, except one (see SERVICE_MS). */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <weft.h>

#define BLOCK_MS 50     /* (b): how long each way of waiting lasts */
#define FETCHES 200     /* (c) */
#define SERVER_LIMIT 10 /* (c): requests the server serves at once */
/* (c): how long the server takes per request, when limited. */
#define SERVICE_MS 100

/* ---- The server ---------------------------------------------------------- */

typedef struct {
  atomic_int in_flight; /* handlers run on any worker */
  atomic_int most;      /* the most in flight at once */
  /* Without a limit, requests in capacity hold their answer until the
   * server has been overloaded once, so that the overload shows on every
   * run however the 200 requests happen to be timed. */
  weft_event_t* overloaded; /* made before the flag is set */
  atomic_int hold_until_overloaded;
} server_stats_t;

static server_stats_t stats;

static void note_in_flight(int now) {
  int most = atomic_load(&stats.most);
  while (now > most && !atomic_compare_exchange_weak(&stats.most, &most, now)) {
  }
}

/* The work: 100 ms, or (without a limit) until the overload has shown, at
 * most 10 s so that a bug fails instead of hanging. */
static int do_work(int hold) {
  if (!hold)
    return weft_sleep_ms(SERVICE_MS);
  weft_timeout_t* tm;
  int err = weft_timeout_enter(10000, &tm);
  if (err == 0) {
    err = weft_event_wait(stats.overloaded);
    int t = weft_timeout_exit(tm);
    err = err != 0 ? err : t;
  }
  return err;
}

static int handler(const weft_http_request_t* req, weft_http_response_t* resp,
                   void* arg) {
  (void)arg;
  if (strcmp(req->target, "/work") != 0)
    return weft_http_response_set(resp, 404, "text/plain", "not found", 9);
  int hold = atomic_load(&stats.hold_until_overloaded);
  int now = atomic_fetch_add(&stats.in_flight, 1) + 1;
  note_in_flight(now);
  int err = 0;
  if (now > SERVER_LIMIT) { /* over capacity: refuse, as a real service does */
    if (hold)
      weft_event_set(stats.overloaded);
    err = weft_http_response_set(resp, 503, "text/plain", "overloaded", 10);
  } else if ((err = do_work(hold)) == 0) {
    err = weft_http_response_set(resp, 200, "text/plain", "done", 4);
  }
  atomic_fetch_sub(&stats.in_flight, 1);
  return err;
}

static int fetch(weft_http_client_t* client, unsigned port, const char* path,
                 int* status) {
  char url[64];
  weft_http_response_t resp = {0};
  snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", port, path);
  int err = weft_http_get(client, url, &resp);
  *status = resp.status;
  weft_http_response_free(&resp);
  return err;
}

/* ---- (a) Forgetting to await --------------------------------------------- */

typedef struct {
  weft_http_client_t* client;
  unsigned port;
  weft_event_t* ran; /* set when the task gets to its end */
} job_t;

/* async def fetch_data(): fails, since the page does not exist. */
static int fetch_data(void* arg, void** result) {
  job_t* job = arg;
  int status = 0;
  (void)result;
  int err = fetch(job->client, job->port, "/missing", &status);
  if (err == 0 && status != 200)
    err = WEFT_EPROTO; /* raise_for_status() */
  weft_event_set(job->ran);
  return err;
}

static int forgot_await(job_t* job) {
  weft_runtime_t* rt = weft_current_runtime();
  weft_task_t* task;
  size_t before = weft_task_count(rt);
  int err = weft_spawn(NULL, fetch_data, job, NULL, &task);
  if (err != 0)
    return err;
  printf("  spawned: live tasks went up by %zu\n",
         weft_task_count(rt) - before);
  weft_task_release(task); /* WRONG: the handle is gone, never awaited */
  /* The task runs anyway: wait for its side effect to see it. */
  if ((err = weft_event_wait(job->ran)) != 0)
    return err;
  printf("  it ran anyway, but its error went nowhere\n");
  return 0;
}

static int awaited(job_t* job) {
  weft_task_t* task;
  weft_event_clear(job->ran);
  int err = weft_spawn(NULL, fetch_data, job, NULL, &task);
  if (err != 0)
    return err;
  int status = weft_await(task, NULL); /* CORRECT: await it */
  weft_task_release(task);
  printf("  awaited: it failed with %s\n", weft_err_name(status));
  return 0;
}

static int part_a(void* arg, void** result) {
  weft_server_t* srv = NULL;
  job_t job = {0};
  (void)arg;
  (void)result;
  int err = weft_http_serve("127.0.0.1", 0, handler, NULL, NULL, &srv);
  if (err == 0)
    err = weft_http_client_new(NULL, &job.client);
  if (err == 0)
    err = weft_event_new(&job.ran);
  if (err == 0) {
    job.port = weft_server_port(srv);
    printf("(a) forgetting to await\n");
    err = forgot_await(&job);
  }
  if (err == 0)
    err = awaited(&job);
  weft_event_free(job.ran);
  weft_http_client_free(job.client);
  weft_server_close(srv);
  weft_event_free(stats.overloaded);
  return err;
}

/* ---- (b) Blocking the loop ----------------------------------------------- */

/* Only tasks of the one worker touch it. */
static int ticks;

/* Counts its turns: it yields after each, so it runs whenever the worker
 * has nothing else to do, and never while another task holds the worker. */
static int ticker(void* arg, void** result) {
  (void)arg;
  (void)result;
  for (;;) {
    ticks++;
    int err = weft_yield();
    if (err != 0)
      return err == WEFT_ECANCELED ? 0 : err;
  }
}

static int blocking_usleep(void* arg, void** result) {
  (void)arg;
  (void)result;
  usleep(BLOCK_MS * 1000);
  return 0;
}

static int part_b(void* arg, void** result) {
  weft_task_t* tick_task;
  (void)arg;
  (void)result;
  int err = weft_spawn(NULL, ticker, NULL, NULL, &tick_task);
  if (err != 0)
    return err;
  printf("(b) blocking the loop (one worker, a ticker task beside this one)\n");
  int t0 = ticks;
  usleep(BLOCK_MS * 1000); /* WRONG: time.sleep() in a coroutine */
  printf("  usleep in the task: %d ticks meanwhile\n", ticks - t0);
  t0 = ticks;
  if (err == 0 && (err = weft_sleep_ms(BLOCK_MS)) == 0) /* CORRECT */
    printf("  weft_sleep_ms: ticker ran meanwhile: %s\n",
           ticks > t0 ? "yes" : "no");
  t0 = ticks;
  if (err == 0 && (err = weft_run_blocking(blocking_usleep, NULL, NULL)) == 0)
    printf("  weft_run_blocking(usleep): ticker ran meanwhile: %s\n",
           ticks > t0 ? "yes" : "no");
  weft_cancel(tick_task);
  int terr = weft_await(tick_task, NULL);
  weft_task_release(tick_task);
  return err != 0 ? err : terr;
}

/* ---- (c) Not limiting concurrency ---------------------------------------- */

typedef struct {
  weft_http_client_t* client;
  unsigned port;
  weft_sem_t* sem; /* NULL: no limit */
  atomic_int ok, refused, failed;
} load_t;

static int process_item(void* arg, void** result) {
  load_t* load = arg;
  int status = 0;
  (void)result;
  if (load->sem != NULL) { /* async with semaphore */
    int err = weft_sem_acquire(load->sem);
    if (err != 0)
      return err;
  }
  int err = fetch(load->client, load->port, "/work", &status);
  if (load->sem != NULL)
    weft_sem_release(load->sem);
  if (err == 0 && status == 200)
    atomic_fetch_add(&load->ok, 1);
  else if (err == 0 && status == 503)
    atomic_fetch_add(&load->refused, 1);
  else
    atomic_fetch_add(&load->failed, 1);
  return err == WEFT_ECANCELED ? err : 0;
}

/* tasks = [process_item(item) for item in items]; gather(*tasks). */
static int run_load(load_t* load) {
  static weft_task_t* tasks[FETCHES];
  size_t n = 0;
  int err = 0;
  atomic_store(&stats.most, 0);
  for (; n < FETCHES && err == 0; n++)
    err = weft_spawn(NULL, process_item, load, NULL, &tasks[n]);
  if (err != 0)
    n--; /* the failed spawn made no task */
  int gerr = weft_gather(tasks, n, 0, NULL, NULL);
  for (size_t i = 0; i < n; i++)
    weft_task_release(tasks[i]);
  return err != 0 ? err : gerr;
}

static int unlimited(unsigned port) {
  /* The client's own pool would cap connections per host at 64; make room
   * for all 200 so nothing but the code below limits them. */
  weft_http_client_config_t cfg = {.max_conns_per_host = FETCHES};
  load_t load = {.port = port};
  int err = weft_http_client_new(&cfg, &load.client);
  if (err == 0)
    err = run_load(&load);
  if (err == 0) {
    printf("  no limit: server had more than %d at once: %s\n", SERVER_LIMIT,
           atomic_load(&stats.most) > SERVER_LIMIT ? "yes" : "no");
    printf("  no limit: some requests refused with 503: %s\n",
           atomic_load(&load.refused) > 0 ? "yes" : "no");
  }
  int ferr = weft_http_client_free(load.client);
  return err != 0 ? err : ferr;
}

static int limited(unsigned port) {
  weft_http_client_config_t cfg = {.max_conns_per_host = FETCHES};
  load_t load = {.port = port};
  int err = weft_http_client_new(&cfg, &load.client);
  if (err == 0)
    err = weft_sem_new(SERVER_LIMIT, 0, &load.sem); /* Semaphore(10) */
  if (err == 0)
    err = run_load(&load);
  if (err == 0) {
    printf("  semaphore of %d: server had at most %d at once: %s\n",
           SERVER_LIMIT, SERVER_LIMIT,
           atomic_load(&stats.most) <= SERVER_LIMIT ? "yes" : "no");
    printf("  semaphore of %d: %d of %d requests served, %d refused\n",
           SERVER_LIMIT, atomic_load(&load.ok), FETCHES,
           atomic_load(&load.refused) + atomic_load(&load.failed));
  }
  weft_sem_free(load.sem);
  int ferr = weft_http_client_free(load.client);
  return err != 0 ? err : ferr;
}

static int part_c(void* arg, void** result) {
  weft_server_t* srv = NULL;
  (void)arg;
  (void)result;
  int err = weft_http_serve("127.0.0.1", 0, handler, NULL, NULL, &srv);
  if (err != 0)
    return err;
  printf("(c) not limiting concurrency (%d fetches)\n", FETCHES);
  err = weft_event_new(&stats.overloaded);
  atomic_store(&stats.hold_until_overloaded, err == 0);
  if (err == 0)
    err = unlimited(weft_server_port(srv));
  atomic_store(&stats.hold_until_overloaded, 0);
  if (err == 0)
    err = limited(weft_server_port(srv));
  weft_server_close(srv);
  weft_event_free(stats.overloaded);
  return err;
}

int main(void) {
  weft_config_t one = {.workers = 1}, two = {.workers = 2};
  int err = weft_run(part_a, NULL, &one, NULL);
  if (err == 0)
    err = weft_run(part_b, NULL, &one, NULL);
  if (err == 0)
    err = weft_run(part_c, NULL, &two, NULL);
  if (err != 0)
    fprintf(stderr, "pitfalls: %s\n", weft_strerror(err));
  return err != 0;
}
