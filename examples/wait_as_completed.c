/* The guide's asyncio.wait() and asyncio.as_completed() sections:
 *  1. weft_wait with WEFT_ALL_COMPLETED;
 *  2. WEFT_FIRST_COMPLETED: the first result, then cancel the pending ones;
 *  3. weft_as_completed: results in completion order (URL 2, 3, 1);
 *  4. the search engines: each answer shown as it arrives, then a race in
 *     which the first answer wins and the other searches are cancelled.
 * Seconds in the guide are 100 ms here, so tasks that must end in a given
 * order end at least 50 ms apart. */
#include <stdint.h>
#include <stdio.h>
#include <weft.h>

#define MS_PER_S 100

/* A task that sleeps `ms`, then formats its answer into `text`. */
typedef struct {
  uint64_t ms;
  const char* name;
  char text[64];
} job_t;

static int task_fn(void* arg, void** result) {
  job_t* j = arg;
  int err = weft_sleep_ms(j->ms);
  if (err != 0)
    return err;
  snprintf(j->text, sizeof(j->text), "%s completed", j->name);
  *result = j->text;
  return 0;
}

static int fetch_data(void* arg, void** result) {
  job_t* j = arg;
  int err = weft_sleep_ms(j->ms);
  if (err != 0)
    return err;
  snprintf(j->text, sizeof(j->text), "Data from URL %s", j->name);
  *result = j->text;
  return 0;
}

static int search_engine(void* arg, void** result) {
  job_t* j = arg;
  int err = weft_sleep_ms(j->ms);
  if (err != 0)
    return err;
  snprintf(j->text, sizeof(j->text), "%s: Results for 'python asyncio'",
           j->name);
  *result = j->text;
  return 0;
}

/* Spawns fn over jobs[0..n) (named after the jobs). On an error the tasks
 * already spawned are cancelled, awaited and released. */
static int spawn_jobs(weft_task_fn fn, job_t* jobs, size_t n,
                      weft_task_t** tasks) {
  for (size_t i = 0; i < n; i++) {
    weft_spawn_opts_t opts = {.name = jobs[i].name};
    int err = weft_spawn(NULL, fn, &jobs[i], &opts, &tasks[i]);
    if (err != 0) {
      for (size_t k = 0; k < i; k++)
        weft_cancel(tasks[k]);
      weft_gather(tasks, i, WEFT_GATHER_COLLECT, NULL, NULL);
      for (size_t k = 0; k < i; k++)
        weft_task_release(tasks[k]);
      return err;
    }
  }
  return 0;
}

/* Cancels the tasks, waits for them to end and releases them. */
static void cancel_all(weft_task_t** tasks, size_t n) {
  for (size_t i = 0; i < n; i++)
    weft_cancel(tasks[i]);
  weft_gather(tasks, n, WEFT_GATHER_COLLECT, NULL, NULL);
  for (size_t i = 0; i < n; i++)
    weft_task_release(tasks[i]);
}

static const char* text_of(weft_task_t* task) {
  void* text = NULL;
  weft_task_result(task, &text);
  return text;
}

/* ---- 1. return_when=ALL_COMPLETED ------------------------------------ */

static int wait_all(void) {
  job_t jobs[3] = {{1 * MS_PER_S, "Task 1", ""},
                   {2 * MS_PER_S, "Task 2", ""},
                   {3 * MS_PER_S, "Task 3", ""}};
  weft_task_t* tasks[3];
  weft_task_t* done[3];
  size_t ndone;
  int err = spawn_jobs(task_fn, jobs, 3, tasks);
  if (err != 0)
    return err;
  err = weft_wait(tasks, 3, WEFT_ALL_COMPLETED, -1, done, &ndone, NULL, NULL);
  for (size_t i = 0; err == 0 && i < ndone; i++)
    printf("%s\n", text_of(done[i]));
  cancel_all(tasks, 3); /* all done already: this only releases them */
  return err;
}

/* ---- 2. return_when=FIRST_COMPLETED ---------------------------------- */

static int wait_first(void) {
  job_t jobs[3] = {{1 * MS_PER_S, "Fast", ""},
                   {3 * MS_PER_S, "Slow", ""},
                   {2 * MS_PER_S, "Medium", ""}};
  weft_task_t* tasks[3];
  weft_task_t* done[3];
  weft_task_t* pending[3];
  size_t ndone;
  size_t npending;
  int err = spawn_jobs(task_fn, jobs, 3, tasks);
  if (err != 0)
    return err;
  err = weft_wait(tasks, 3, WEFT_FIRST_COMPLETED, -1, done, &ndone, pending,
                  &npending);
  if (err == 0) {
    printf("First completed: %s\n", text_of(done[0]));
    printf("Still pending: %zu tasks\n", npending);
    for (size_t i = 0; i < npending; i++) /* cancel the remaining tasks */
      weft_cancel(pending[i]);
    for (size_t i = 0; i < npending; i++)
      printf("%s: %s\n", weft_task_name(pending[i]),
             weft_await(pending[i], NULL) == WEFT_ECANCELED ? "cancelled"
                                                            : "finished");
  }
  cancel_all(tasks, 3);
  return err;
}

/* ---- 3. as_completed ---------------------------------------------- */

static int as_completed(void) {
  job_t jobs[3] = {{3 * MS_PER_S, "1", ""},
                   {1 * MS_PER_S, "2", ""},
                   {2 * MS_PER_S, "3", ""}};
  weft_task_t* tasks[3];
  weft_task_t* next;
  weft_as_completed_t* it;
  int err = spawn_jobs(fetch_data, jobs, 3, tasks);
  if (err != 0)
    return err;
  err = weft_as_completed_new(tasks, 3, -1, &it);
  while (err == 0 && (err = weft_as_completed_next(it, &next)) == 0)
    printf("Received: %s\n", text_of(next));
  weft_as_completed_free(it);
  cancel_all(tasks, 3);
  return err == WEFT_ECLOSED ? 0 : err;
}

/* ---- 4. the search engines ------------------------------------------ */

static int spawn_searches(job_t* jobs, weft_task_t** tasks) {
  jobs[0] = (job_t){MS_PER_S * 3 / 2, "Google", ""};
  jobs[1] = (job_t){MS_PER_S * 2, "Bing", ""};
  jobs[2] = (job_t){MS_PER_S * 1, "DuckDuckGo", ""};
  return spawn_jobs(search_engine, jobs, 3, tasks);
}

/* Displays each result as soon as it arrives, as the guide does. */
static int search_all(void) {
  job_t jobs[3];
  weft_task_t* tasks[3];
  weft_task_t* next;
  weft_as_completed_t* it;
  int err = spawn_searches(jobs, tasks);
  if (err != 0)
    return err;
  printf("Searching...\n");
  err = weft_as_completed_new(tasks, 3, -1, &it);
  while (err == 0 && (err = weft_as_completed_next(it, &next)) == 0)
    printf("%s\n", text_of(next));
  weft_as_completed_free(it);
  cancel_all(tasks, 3);
  return err == WEFT_ECLOSED ? 0 : err;
}

/* The first answer wins; the searches still running are cancelled. */
static int search_first(void) {
  job_t jobs[3];
  weft_task_t* tasks[3];
  weft_task_t* first;
  weft_as_completed_t* it;
  int err = spawn_searches(jobs, tasks);
  if (err != 0)
    return err;
  printf("Searching (first answer wins)...\n");
  err = weft_as_completed_new(tasks, 3, -1, &it);
  if (err == 0 && (err = weft_as_completed_next(it, &first)) == 0)
    printf("%s\n", text_of(first));
  weft_as_completed_free(it);
  for (size_t i = 0; i < 3; i++)
    weft_cancel(tasks[i]);
  for (size_t i = 0; i < 3; i++)
    if (weft_await(tasks[i], NULL) == WEFT_ECANCELED)
      printf("%s: cancelled\n", weft_task_name(tasks[i]));
  cancel_all(tasks, 3);
  return err;
}

static int main_task(void* arg, void** result) {
  (void)arg;
  (void)result;
  int (*const parts[])(void) = {wait_all, wait_first, as_completed, search_all,
                                search_first};
  const char* titles[] = {"wait: ALL_COMPLETED", "wait: FIRST_COMPLETED",
                          "as_completed", "search engines",
                          "search engines, first answer wins"};
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
    fprintf(stderr, "wait_as_completed: %s\n", weft_strerror(err));
  return err != 0;
}
