/* A blocked worker, found with the dump signal (docs/debugging.md).
 *
 * "spinner" waits for a flag by polling it in a loop without ever
 * awaiting: it holds its worker's thread, and every task queued behind it
 * there waits. With dump_signal = SIGUSR2 in the config, `kill -USR2 <pid>`
 * prints a task dump on stderr at any time; here the program sends it to
 * itself with raise() while the spinner spins. Debug mode is on too, so
 * the slow-task monitor reports the spinner by itself.
 *
 * The dump's ticks, ids and addresses vary between runs: no .expected. */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>
#include <weft.h>

static atomic_int ready;

static int spinner(void* arg, void** result) {
  (void)arg;
  (void)result;
  /* The mistake: busy-waiting instead of awaiting an event or a future. */
  while (!atomic_load_explicit(&ready, memory_order_acquire)) {
  }
  return 0;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

int main(void) {
  weft_config_t cfg = {.workers = 2, .debug = 1, .dump_signal = SIGUSR2};
  weft_runtime_t* rt;
  weft_task_t* t;
  weft_spawn_opts_t o = {.name = "spinner", .stack_size = 0};
  if (weft_runtime_new(&cfg, &rt) != 0 ||
      weft_spawn(rt, spinner, NULL, &o, &t) != 0)
    return 1;
  sleep_ms(150);
  raise(SIGUSR2); /* what `kill -USR2 <pid>` does from a shell */
  sleep_ms(100);
  atomic_store_explicit(&ready, 1, memory_order_release);
  int status = weft_await(t, NULL);
  weft_task_release(t);
  weft_runtime_free(rt);
  printf("spinner: %s\n", weft_strerror(status));
  return status == 0 ? 0 : 1;
}
