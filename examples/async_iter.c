/* The guide's async iterators (`async for`) as channels: a producer task
 * fills a channel and closes it; the consumer receives until
 * WEFT_ECLOSED, the C form of StopAsyncIteration.
 *
 * 1. The async database cursor: "execute" the query, then yield the rows.
 * 2. The async file reader: "open" the file (the `async with` enter), yield
 *    its lines, "close" it (the exit).
 * Sleeps are the guide's, scaled from seconds to milliseconds. */
#include <stdio.h>
#include <weft.h>

static const char* const users[] = {"Alice", "Bob", "Charlie"};
static const char* const lines[] = {"Line 1", "Line 2", "Line 3"};

typedef struct {
  weft_chan_t* ch;
  const char* const* rows;
  int nrows;
  unsigned open_ms, row_ms, close_ms;
} source_t;

/* The iterator's body: every __anext__ becomes one send; the end of the
 * data becomes a close, which the receiver sees after the last row. */
static int produce(void* arg, void** result) {
  source_t* s = arg;
  int err = weft_sleep_ms(s->open_ms); /* execute() / __aenter__ */
  (void)result;
  for (int i = 0; err == 0 && i < s->nrows; i++) {
    err = weft_sleep_ms(s->row_ms); /* fetching the next row */
    if (err == 0)
      err = weft_chan_send(s->ch, (void*)s->rows[i]);
  }
  if (err == 0)
    err = weft_sleep_ms(s->close_ms); /* __aexit__ */
  weft_chan_close(s->ch); /* on every path: the consumer must not hang */
  return err;
}

/* `async for row in source: print(prefix + row)`. */
static int iterate(source_t* s, const char* prefix) {
  weft_task_t* producer;
  void* row;
  int err = weft_chan_new(1, &s->ch);
  if (err != 0)
    return err;
  err = weft_spawn(NULL, produce, s, NULL, &producer);
  if (err == 0) {
    while ((err = weft_chan_recv(s->ch, &row)) == 0)
      printf("%s%s\n", prefix, (const char*)row);
    if (err == WEFT_ECLOSED) /* StopAsyncIteration */
      err = 0;
    int status = weft_await(producer, NULL);
    err = err != 0 ? err : status;
    weft_task_release(producer);
  }
  weft_chan_free(s->ch);
  return err;
}

static int main_task(void* arg, void** result) {
  source_t cursor = {NULL, users, 3, 100, 10, 0};
  source_t reader = {NULL, lines, 3, 50, 10, 20};
  (void)arg;
  (void)result;
  printf("SELECT * FROM users\n");
  int err = iterate(&cursor, "User: ");
  if (err == 0) {
    printf("Reading data.txt\n");
    err = iterate(&reader, "");
  }
  return err;
}

int main(void) {
  int err = weft_run(main_task, NULL, NULL, NULL);
  if (err != 0)
    fprintf(stderr, "async_iter: %s\n", weft_strerror(err));
  return err == 0 ? 0 : 1;
}
