/* The guide's producer/consumer: two producers put five items each into a
 * Queue(maxsize=10); three consumers take them, "process" them and mark
 * them done; main waits for the producers, then for queue.join(), then
 * cancels the consumers, which run forever.
 *
 * The guide's random sleeps are replaced by yields on a single worker, so
 * the interleaving (and this program's output) is the same on every run. */
#include <stdint.h>
#include <stdio.h>
#include <weft.h>

enum { PRODUCERS = 2, CONSUMERS = 3, ITEMS_EACH = 5 };

typedef struct {
  weft_queue_t* queue;
  int id;
} role_t;

/* An item is its producer's id and its number, packed in the pointer. */
static int producer(void* arg, void** result) {
  role_t* r = arg;
  (void)result;
  for (intptr_t i = 0; i < ITEMS_EACH; i++) {
    int err = weft_yield(); /* stands in for "produce it" */
    if (err == 0)
      err = weft_queue_put(r->queue, (void*)(r->id * 100 + i), 0);
    if (err != 0)
      return err;
    printf("Producer %d produced: Item-%d-%d\n", r->id, r->id, (int)i);
  }
  return 0;
}

/* Runs until cancelled: weft_queue_get then returns WEFT_ECANCELED. */
static int consumer(void* arg, void** result) {
  role_t* r = arg;
  void* item;
  int err;
  (void)result;
  while ((err = weft_queue_get(r->queue, &item)) == 0) {
    intptr_t v = (intptr_t)item;
    printf("Consumer %d consuming: Item-%d-%d\n", r->id, (int)(v / 100),
           (int)(v % 100));
    err = weft_yield(); /* "processing" */
    weft_queue_task_done(r->queue);
    if (err != 0)
      break;
  }
  return err;
}

static int spawn_all(weft_task_fn fn, role_t* roles, weft_task_t** tasks, int n,
                     weft_queue_t* q) {
  for (int i = 0; i < n; i++) {
    roles[i].queue = q;
    roles[i].id = i;
    int err = weft_spawn(NULL, fn, &roles[i], NULL, &tasks[i]);
    if (err != 0)
      return err;
  }
  return 0;
}

static int main_task(void* arg, void** result) {
  weft_queue_t* queue;
  role_t proles[PRODUCERS], croles[CONSUMERS];
  weft_task_t *producers[PRODUCERS], *consumers[CONSUMERS];
  (void)arg;
  (void)result;
  int err = weft_queue_new(WEFT_QUEUE_FIFO, 10, &queue);
  if (err != 0)
    return err;
  if ((err = spawn_all(producer, proles, producers, PRODUCERS, queue)) != 0 ||
      (err = spawn_all(consumer, croles, consumers, CONSUMERS, queue)) != 0)
    return err; /* weft_run cancels whatever started */
  err = weft_gather(producers, PRODUCERS, 0, NULL, NULL);
  if (err == 0)
    err = weft_queue_join(queue); /* every item processed */
  if (err == 0)
    printf("All items processed\n");
  for (int i = 0; i < CONSUMERS; i++) {
    weft_cancel(consumers[i]);
    weft_await(consumers[i], NULL); /* WEFT_ECANCELED, as asked */
    weft_task_release(consumers[i]);
  }
  for (int i = 0; i < PRODUCERS; i++)
    weft_task_release(producers[i]);
  weft_queue_free(queue);
  return err;
}

int main(void) {
  weft_config_t config = {.workers = 1}; /* one worker: a fixed order */
  int err = weft_run(main_task, NULL, &config, NULL);
  if (err != 0)
    fprintf(stderr, "producer_consumer: %s\n", weft_strerror(err));
  return err == 0 ? 0 : 1;
}
