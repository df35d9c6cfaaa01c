/* weft_select: wait for whichever comes first (Go's select, tokio's
 * select!), and cancellation tokens to say "stop".
 *
 * 1. A worker loop: jobs arrive on a channel, and a token says stop. The
 *    select takes one case per turn; jobs are listed first, so the jobs
 *    already sent are done before the stop is seen.
 * 2. Two channels with an item each: exactly one item is taken, the other
 *    channel keeps its own (a losing case consumes nothing).
 * 3. A deadline: nothing arrives in time, the select returns WEFT_ETIMEDOUT
 *    and leaves nothing behind.
 * 4. A task or a timeout: whichever ends first.
 * 5. A token tree: cancelling the root stops every task tied to a child.
 */
#include <stdint.h>
#include <stdio.h>

#include "weft.h"

#define ITEM(n) ((void*)(intptr_t)(n))

typedef struct {
  weft_chan_t* jobs;
  weft_token_t* stop;
} worker_ctx_t;

static int worker(void* arg, void** result) {
  worker_ctx_t* w = arg;
  void* job = NULL;
  int done = 0;
  (void)result;
  while (!done) {
    weft_select_case_t cases[] = {
        weft_select_recv(w->jobs, &job), /* first: jobs before stopping */
        weft_select_token(w->stop),
    };
    int which = weft_select(cases, 2, -1);
    switch (which) {
      case 0:
        if (cases[0].status == WEFT_ECLOSED)
          done = 1;
        else
          printf("worker: job %d\n", (int)(intptr_t)job);
        break;
      case 1:
        printf("worker: stop requested\n");
        done = 1;
        break;
      default:
        printf("worker: %s\n", weft_err_name(which));
        return which;
    }
  }
  return 0;
}

static int demo_worker(void) {
  worker_ctx_t w;
  weft_task_t* t;
  weft_chan_new(4, &w.jobs);
  weft_token_new(NULL, &w.stop);
  weft_spawn(NULL, worker, &w, NULL, &t);
  for (int i = 1; i <= 3; i++)
    weft_chan_send(w.jobs, ITEM(i));
  weft_token_cancel(w.stop);
  int status = weft_await(t, NULL);
  printf("worker ended: %s\n", weft_err_name(status));
  weft_task_release(t);
  weft_token_release(w.stop);
  return weft_chan_free(w.jobs);
}

static int demo_one_of_two(void) {
  weft_chan_t *a, *b;
  void *x = NULL, *y = NULL;
  weft_chan_new(1, &a);
  weft_chan_new(1, &b);
  weft_chan_send(a, ITEM(10));
  weft_chan_send(b, ITEM(20));
  weft_select_case_t cases[] = {weft_select_recv(a, &x),
                                weft_select_recv(b, &y)};
  int which = weft_select(cases, 2, -1);
  printf("took case %d: %d\n", which, (int)(intptr_t)x);
  if (weft_chan_try_recv(b, &y) == 0)
    printf("b still holds %d\n", (int)(intptr_t)y);
  weft_chan_free(a);
  return weft_chan_free(b);
}

static int demo_deadline(void) {
  weft_chan_t* quiet;
  weft_future_t* never;
  void* x;
  weft_chan_new(1, &quiet);
  weft_future_new(&never);
  weft_select_case_t cases[] = {weft_select_recv(quiet, &x),
                                weft_select_future(never, NULL)};
  int rc = weft_select(cases, 2, 20);
  printf("nothing within 20 ms: %s\n", weft_err_name(rc));
  weft_future_release(never);
  return weft_chan_free(quiet); /* WEFT_EBUSY if a case stayed listed */
}

static int answer(void* arg, void** result) {
  (void)arg;
  weft_sleep_ms(5);
  *result = ITEM(42);
  return 0;
}

static int demo_task_or_timeout(void) {
  weft_task_t* t;
  void* r = NULL;
  weft_spawn(NULL, answer, NULL, NULL, &t);
  weft_select_case_t cases[] = {weft_select_task(t, &r)};
  int which = weft_select(cases, 1, 60 * 1000);
  printf("task first (case %d): status %d, result %d\n", which, cases[0].status,
         (int)(intptr_t)r);
  weft_task_release(t);
  return 0;
}

static int sleeper(void* arg, void** result) {
  (void)arg;
  (void)result;
  return weft_sleep_ms(3600 * 1000); /* until cancelled */
}

static int demo_token_tree(void) {
  weft_token_t *root, *child;
  weft_task_t* t[2];
  weft_token_new(NULL, &root);
  weft_token_new(root, &child);
  for (int i = 0; i < 2; i++) {
    weft_spawn(NULL, sleeper, NULL, NULL, &t[i]);
    weft_token_tie(child, t[i]);
  }
  weft_token_cancel(root);
  printf("child token cancelled: %d\n", weft_token_cancelled(child));
  for (int i = 0; i < 2; i++) {
    printf("tied task %d: %s\n", i, weft_err_name(weft_await(t[i], NULL)));
    weft_task_release(t[i]);
  }
  weft_token_release(child);
  weft_token_release(root);
  return 0;
}

static int main_task(void* arg, void** result) {
  (void)arg;
  (void)result;
  int err = demo_worker();
  if (err == 0)
    err = demo_one_of_two();
  if (err == 0)
    err = demo_deadline();
  if (err == 0)
    err = demo_task_or_timeout();
  if (err == 0)
    err = demo_token_tree();
  return err;
}

int main(void) {
  int err = weft_run(main_task, NULL, NULL, NULL);
  if (err != 0)
    fprintf(stderr, "select: %s\n", weft_strerror(err));
  return err != 0;
}
