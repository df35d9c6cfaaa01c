/* Finding a stuck task with weft_task_dump (docs/debugging.md).
 *
 * An order pipeline with a bug: the "payment" task waits for a future that
 * the "bank" task was meant to complete, but the bank returns early, so the
 * future is never set. The "checkout" task awaits payment, and main awaits
 * checkout: nothing moves. A few background tasks sleep meanwhile. Instead
 * of waiting forever, main gives the pipeline a moment, prints a dump,
 * which names the stuck tasks and what each one waits on, and cancels.
 *
 * The dump's addresses, ids of futures and worker numbers change from run
 * to run, so this example has no .expected file: it is only built. */
#include <stdio.h>
#include <weft.h>

static weft_future_t* approval;

static int bank(void* arg, void** result) {
  (void)arg;
  (void)result;
  /* The bug: an early return that forgets weft_future_set_result. */
  return 0;
}

static int payment(void* arg, void** result) {
  (void)arg;
  return weft_future_await(approval, result);
}

static int checkout(void* arg, void** result) {
  weft_task_t* pay = arg;
  return weft_await(pay, result);
}

static int heartbeat(void* arg, void** result) {
  (void)arg;
  (void)result;
  for (;;) {
    int err = weft_sleep_ms(1000);
    if (err != 0)
      return err;
  }
}

static weft_task_t* spawn(weft_task_fn fn, void* arg, const char* name) {
  weft_spawn_opts_t o = {.name = name, .stack_size = 0};
  weft_task_t* t = NULL;
  weft_spawn(NULL, fn, arg, &o, &t);
  return t;
}

static int main_task(void* arg, void** result) {
  (void)arg;
  (void)result;
  weft_future_new(&approval);
  weft_task_t* hb = spawn(heartbeat, NULL, "heartbeat");
  weft_task_t* b = spawn(bank, NULL, "bank");
  weft_task_t* p = spawn(payment, NULL, "payment");
  weft_task_t* c = spawn(checkout, p, "checkout");
  /* main would now await checkout and hang. Give it 50 ms instead. */
  weft_sleep_ms(50);
  if (!weft_task_done(c)) {
    printf("checkout is stuck; task dump:\n");
    weft_task_dump(NULL, stdout);
  }
  weft_task_t* all[] = {hb, b, p, c};
  for (int i = 0; i < 4; i++) {
    weft_cancel(all[i]);
    weft_await(all[i], NULL);
    weft_task_release(all[i]);
  }
  weft_future_release(approval);
  return 0;
}

int main(void) {
  weft_config_t cfg = {.workers = 2};
  return weft_run(main_task, NULL, &cfg, NULL) == 0 ? 0 : 1;
}
