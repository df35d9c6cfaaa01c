/* A service's signal loop: SIGHUP reloads the configuration, SIGTERM
 * shuts down gracefully. The signals come from the program itself (an
 * "operator" task that does what `kill -HUP <pid>` would), the second
 * SIGHUP and the SIGTERM while the service is still busy with the first
 * reload. A signal stream keeps them for the loop: none is lost, and the
 * SIGTERM does not kill the process before the loop gets to it, as it
 * could with weft_signal_wait, which watches only while a task waits.
 *
 *   loop = asyncio.get_running_loop()
 *   loop.add_signal_handler(signal.SIGHUP, reload)
 *   loop.add_signal_handler(signal.SIGTERM, stop.set)
 */
#include <signal.h>
#include <stdio.h>
#include <weft.h>

static int config_version = 1;
static weft_event_t* reloading; /* set when the first reload starts */

/* Reading configuration files takes a while; signals keep coming. */
static int reload(void) {
  config_version++;
  weft_event_set(reloading);
  int err = weft_sleep_ms(20);
  if (err == 0)
    printf("service: config v%d loaded\n", config_version);
  return err;
}

/* Work the service does until it is told to stop. */
static int worker(void* arg, void** result) {
  (void)arg;
  (void)result;
  int err;
  while ((err = weft_sleep_ms(5)) == 0) {
  }
  printf("worker: stopping (%s)\n", weft_err_name(err));
  return 0;
}

/* raise() is `kill -SIG <pid>` from inside: the handler has run when it
 * returns, so the order below is the order the stream sees. */
static int operator(void* arg, void** result) {
  (void)arg;
  (void)result;
  raise(SIGHUP);
  int err = weft_event_wait(reloading);
  if (err != 0)
    return err;
  raise(SIGHUP);
  raise(SIGTERM); /* while the first reload runs: queued, not fatal */
  return 0;
}

/* Reads signals until SIGTERM. */
static int serve(weft_signal_stream_t* signals) {
  int sig, err;
  while ((err = weft_signal_stream_next(signals, &sig)) == 0) {
    if (sig == SIGTERM) {
      printf("service: SIGTERM -> shutting down\n");
      return 0;
    }
    printf("service: SIGHUP -> reloading\n");
    if ((err = reload()) != 0)
      return err;
  }
  return err;
}

static int main_task(void* arg, void** result) {
  const int sigs[] = {SIGHUP, SIGTERM};
  weft_signal_stream_t* signals;
  weft_task_t* work;
  weft_task_t* op;
  (void)arg;
  (void)result;
  /* Open the stream first: from here on the signals are ours. */
  int err = weft_signal_stream_open(sigs, 2, &signals);
  if (err != 0)
    return err;
  printf("service: running with config v%d\n", config_version);
  if ((err = weft_spawn(NULL, worker, NULL, NULL, &work)) != 0)
    goto close;
  if ((err = weft_spawn(NULL, operator, NULL, NULL, &op)) == 0) {
    err = serve(signals);
    if (err != 0)
      weft_cancel(op); /* it may still wait for a reload */
    int e = weft_await(op, NULL);
    weft_task_release(op);
    if (err == 0)
      err = e;
  }
  weft_cancel(work); /* graceful: the worker finishes its step and ends */
  weft_await(work, NULL);
  weft_task_release(work);
close:
  weft_signal_stream_close(signals); /* default actions are back */
  if (err == 0)
    printf("service: stopped\n");
  return err;
}

int main(void) {
  int err = weft_event_new(&reloading);
  if (err == 0)
    err = weft_run(main_task, NULL, NULL, NULL);
  weft_event_free(reloading);
  if (err != 0)
    fprintf(stderr, "signal_stream: %s\n", weft_strerror(err));
  return err != 0;
}
