/* The guide's Futures section: a task sets a future's result; another
 * awaits it. In weft a future is also the bridge to other threads: here a
 * plain pthread, which the runtime knows nothing of, completes a second
 * one (a foreign library's callback thread would do the same). */
#include <pthread.h>
#include <stdio.h>
#include <weft.h>

static int set_future_result(void* arg, void** result) {
  (void)result;
  int err = weft_sleep_ms(100);
  if (err != 0)
    return err;
  return weft_future_set_result(arg, "Future completed");
}

static void* foreign_thread(void* arg) {
  weft_future_set_result(arg, "Completed by a foreign thread");
  return NULL;
}

static int main_task(void* arg, void** result) {
  weft_future_t *future, *from_thread;
  void* value = NULL;
  pthread_t thread;
  (void)arg;
  (void)result;
  if (weft_future_new(&future) != 0 || weft_future_new(&from_thread) != 0)
    return WEFT_ENOMEM;
  /* Schedule a task to set the future's result (detached: out = NULL). */
  int err = weft_spawn(NULL, set_future_result, future, NULL, NULL);
  if (err == 0)
    err = weft_future_await(future, &value); /* parks this task only */
  if (err == 0)
    printf("%s\n", (const char*)value);
  if (err == 0 &&
      pthread_create(&thread, NULL, foreign_thread, from_thread) == 0) {
    err = weft_future_await(from_thread, &value);
    pthread_join(thread, NULL);
    if (err == 0)
      printf("%s\n", (const char*)value);
  }
  weft_future_release(future);
  weft_future_release(from_thread);
  return err;
}

int main(void) {
  int err = weft_run(main_task, NULL, NULL, NULL);
  if (err != 0)
    fprintf(stderr, "futures: %s\n", weft_strerror(err));
  return err != 0;
}
