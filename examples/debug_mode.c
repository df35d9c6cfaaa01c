/* Debug mode's three reports (docs/debugging.md), on stderr:
 *  - "slow task": resize_image calls usleep(), a blocking call, and holds
 *    its worker for 250 ms (weft_run_blocking would have moved it to the
 *    executor);
 *  - "never awaited": the handle of fetch_avatar, which fails, is
 *    released without anyone reading its status, so the error is lost;
 *  - the shutdown list: poll_updates is still running when main returns
 *    (a task nobody stops: a leak in a long-running program).
 * Debug mode is on through the config here; a program whose config has
 * WEFT_CONFIG_ENV in `flags` can also be switched to it without a
 * rebuild, with WEFT_DEBUG=1 in the environment.
 *
 * stdout is deterministic (and checked against debug_mode.expected); the
 * reports on stderr carry timings and ids, so they are not. */
#include <stdio.h>
#include <unistd.h>
#include <weft.h>

static int resize_image(void* arg, void** result) {
  (void)arg;
  (void)result;
  usleep(250 * 1000); /* the mistake: blocks the worker's thread */
  return 0;
}

static int fetch_avatar(void* arg, void** result) {
  (void)arg;
  (void)result;
  return WEFT_ETIMEDOUT; /* the error nobody will see */
}

static int poll_updates(void* arg, void** result) {
  (void)arg;
  (void)result;
  for (;;) {
    int err = weft_sleep_ms(100);
    if (err != 0)
      return err;
  }
}

static int main_task(void* arg, void** result) {
  (void)arg;
  (void)result;
  weft_spawn_opts_t o = {.name = "resize_image", .stack_size = 0};
  weft_task_t* t;
  weft_spawn(NULL, resize_image, NULL, &o, &t);
  printf("resize: %s\n", weft_strerror(weft_await(t, NULL)));
  weft_task_release(t);

  o.name = "fetch_avatar";
  weft_spawn(NULL, fetch_avatar, NULL, &o, &t);
  weft_sleep_ms(10);
  weft_task_release(t); /* dropped: its status was never read */
  printf("avatar handle released\n");

  o.name = "poll_updates";
  weft_spawn(NULL, poll_updates, NULL, &o, NULL); /* never stopped */
  printf("main returns\n");
  return 0;
}

int main(void) {
  weft_config_t cfg = {.workers = 2, .debug = 1};
  return weft_run(main_task, NULL, &cfg, NULL) == 0 ? 0 : 1;
}
