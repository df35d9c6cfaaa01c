/* The guide's first tasks example (asyncio.create_task + await), with the
 * delays scaled from seconds to tenths of a second.
 *
 *   async def say_after(delay, message):
 *       await asyncio.sleep(delay); print(message); return message
 */
#include <stdint.h>
#include <stdio.h>
#include <weft.h>

typedef struct {
  uint64_t delay_ms;
  const char* message;
} say_t;

static int say_after(void* arg, void** result) {
  say_t* s = arg;
  int err = weft_sleep_ms(s->delay_ms); /* suspends this task only */
  if (err != 0)
    return err;
  printf("%s\n", s->message);
  *result = (void*)s->message;
  return 0;
}

static int main_task(void* arg, void** result) {
  say_t first = {100, "First"};
  say_t second = {200, "Second"};
  weft_task_t *t1, *t2;
  void *r1 = NULL, *r2 = NULL;
  int err;
  (void)arg;
  (void)result;
  /* Both start now and sleep at the same time: about 0.2 s in all. */
  if ((err = weft_spawn(NULL, say_after, &first, NULL, &t1)) != 0)
    return err;
  if ((err = weft_spawn(NULL, say_after, &second, NULL, &t2)) != 0) {
    weft_task_release(t1);
    return err;
  }
  int e1 = weft_await(t1, &r1);
  int e2 = weft_await(t2, &r2);
  weft_task_release(t1);
  weft_task_release(t2);
  if (e1 != 0 || e2 != 0)
    return e1 != 0 ? e1 : e2;
  printf("Results: %s, %s\n", (const char*)r1, (const char*)r2);
  return 0;
}

int main(void) {
  int err = weft_run(main_task, NULL, NULL, NULL); /* asyncio.run(main()) */
  if (err != 0)
    fprintf(stderr, "say_after: %s\n", weft_strerror(err));
  return err != 0;
}
