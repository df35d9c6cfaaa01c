/* A price ticker broadcast to three subscribers (tokio's broadcast): every
 * subscriber sees every price, in order; the channel keeps only the last
 * four, and the publisher never waits for anyone. The dashboard and the
 * audit log keep up. The report generator is busy until the end: when it
 * reads, it is told how many prices it missed and goes on from the oldest
 * one kept. No subscriber holds up the publisher or the others.
 *
 * The publisher sends in rounds of three and waits for the two fast
 * subscribers between rounds (a barrier), so that what they see does not
 * depend on timing; each subscriber writes its line when the channel is
 * closed, so the output has one order.
 */
#include <stdio.h>
#include <string.h>
#include <weft.h>

enum { kPrices = 9, kRound = 3, kKept = 4 };

static weft_broadcast_t* ticker;
static weft_barrier_t* round_done; /* publisher + the two fast ones */
static weft_event_t* published;    /* the report starts reading then */

typedef struct {
  const char* name;
  weft_broadcast_rx_t* rx;
  int fast; /* keeps up: meets the publisher at the barrier */
  char line[256];
} subscriber_t;

static void append(subscriber_t* s, const char* text) {
  size_t n = strlen(s->line);
  snprintf(s->line + n, sizeof(s->line) - n, "%s", text);
}

static int subscriber(void* arg, void** result) {
  subscriber_t* s = arg;
  int price, err, got = 0;
  uint64_t missed;
  char word[48];
  (void)result;
  if (!s->fast && (err = weft_event_wait(published)) != 0)
    return err;
  snprintf(s->line, sizeof(s->line), "%s:", s->name);
  while ((err = weft_broadcast_recv(s->rx, &price, &missed)) != WEFT_ECLOSED) {
    if (err == WEFT_ELIMIT) { /* lagged: the oldest prices were dropped */
      snprintf(word, sizeof(word), " (missed %llu)",
               (unsigned long long)missed);
      append(s, word);
      continue;
    }
    if (err != 0)
      return err;
    snprintf(word, sizeof(word), " %d", price);
    append(s, word);
    if (s->fast && ++got % kRound == 0 &&
        (err = weft_barrier_wait(round_done, NULL)) != 0)
      return err;
  }
  append(s, " (closed)");
  return 0;
}

static int publisher(void) {
  int err = 0;
  for (int i = 0; i < kPrices && err == 0; i++) {
    int price = 101 + i;
    int n = weft_broadcast_send(ticker, &price);
    if (n < 0)
      return n;
    if (i == 0)
      printf("ticker: first price to %d subscribers\n", n);
    if ((i + 1) % kRound == 0)
      err = weft_barrier_wait(round_done, NULL);
  }
  printf("ticker: %d prices sent, closing\n", kPrices);
  weft_broadcast_close(ticker);
  weft_event_set(published);
  return err;
}

static int main_task(void* arg, void** result) {
  subscriber_t subs[3] = {
      {.name = "dashboard", .fast = 1},
      {.name = "audit", .fast = 1},
      {.name = "report"},
  };
  weft_task_t* tasks[3];
  int err = 0;
  (void)arg;
  (void)result;
  /* Subscribe before the first send: a subscriber sees what comes after. */
  for (int i = 0; i < 3; i++) {
    if ((err = weft_broadcast_subscribe(ticker, &subs[i].rx)) != 0)
      return err;
    if ((err = weft_spawn(NULL, subscriber, &subs[i], NULL, &tasks[i])) != 0)
      return err;
  }
  err = publisher();
  for (int i = 0; i < 3; i++) {
    int e = weft_await(tasks[i], NULL);
    weft_task_release(tasks[i]);
    weft_broadcast_unsubscribe(subs[i].rx);
    if (err == 0)
      err = e;
    printf("%s\n", subs[i].line);
  }
  return err;
}

int main(void) {
  int err = weft_broadcast_new(kKept, sizeof(int), &ticker);
  if (err == 0)
    err = weft_barrier_new(3, &round_done);
  if (err == 0)
    err = weft_event_new(&published);
  if (err == 0)
    err = weft_run(main_task, NULL, NULL, NULL);
  weft_event_free(published);
  weft_barrier_free(round_done);
  weft_broadcast_free(ticker);
  if (err != 0)
    fprintf(stderr, "broadcast: %s\n", weft_strerror(err));
  return err != 0;
}
