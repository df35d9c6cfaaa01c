/* weft-bench pingpong: pairs of tasks making round trips.
 *
 * Until the sync issue brings public channels, a round trip goes through
 * futures, the public primitive that parks a task until another signals
 * it: ping sends a message by completing the pair's current request
 * future; the message carries the future pong answers on and the next
 * request future; ping awaits the answer. Each round trip therefore costs
 * two future allocations and two park/wake hand-offs. A woken task goes to
 * the waker's LIFO slot, so a pair settles on one worker and its round
 * trips stay in one cache; pairs spread across workers by stealing.
 * Replace the futures with the public channel when there is one, keeping
 * the parameters and the output.
 */
#include <stdlib.h>

#include "bench.h"

typedef struct pp_msg_s {
  weft_future_t* reply;        /* pong completes it */
  weft_future_t* next_request; /* the next round's request */
} pp_msg_t;

typedef struct pp_pair_s {
  weft_future_t* first_request; /* set up before either side starts */
  uint64_t rounds;
} pp_pair_t;

static int ping(void* arg, void** result) {
  pp_pair_t* p = arg;
  weft_future_t* request = weft_future_retain(p->first_request);
  pp_msg_t msg;
  uint64_t r;
  int err = 0;
  for (r = 0; r < p->rounds && err == 0; r++) {
    weft_future_t* reply = NULL;
    weft_future_t* next = NULL;
    err = weft_future_new(&reply);
    if (err == 0)
      err = weft_future_new(&next);
    if (err != 0) {
      weft_future_release(reply);
      weft_future_cancel(request); /* let pong stop too */
      break;
    }
    msg.reply = reply;
    msg.next_request = next;
    err = weft_future_set_result(request, &msg);
    weft_future_release(request);
    request = next;
    if (err == 0)
      err = weft_future_await(reply, NULL);
    weft_future_release(reply);
  }
  /* Round `rounds` is never sent: its request tells pong to stop. */
  weft_future_set_error(request, WEFT_ECLOSED);
  weft_future_release(request);
  *result = (void*)(uintptr_t)r;
  return err;
}

static int pong(void* arg, void** result) {
  pp_pair_t* p = arg;
  weft_future_t* request = weft_future_retain(p->first_request);
  uint64_t answered = 0;
  int err;
  for (;;) {
    void* m = NULL;
    err = weft_future_await(request, &m);
    if (err != 0)
      break;
    pp_msg_t* msg = m;
    /* Take the next request before answering: once answered, ping's msg
     * may be overwritten by its next round. */
    weft_future_t* next = weft_future_retain(msg->next_request);
    err = weft_future_set_result(msg->reply, NULL);
    weft_future_release(request);
    request = next;
    if (err != 0)
      break;
    answered++;
  }
  weft_future_release(request);
  *result = (void*)(uintptr_t)answered;
  return err == WEFT_ECLOSED ? 0 : err;
}

static int spawn_pairs(pp_pair_t* pairs, size_t n, weft_task_t** h) {
  for (size_t i = 0; i < n; i++) {
    int err = weft_spawn(NULL, pong, &pairs[i], NULL, &h[2 * i + 1]);
    if (err == 0)
      err = weft_spawn(NULL, ping, &pairs[i], NULL, &h[2 * i]);
    if (err != 0)
      return err; /* the caller stops; fewer handles were filled */
  }
  return 0;
}

static int play(pp_pair_t* pairs, size_t n, uint64_t rounds, weft_task_t** h,
                bench_result_t* out) {
  uint64_t sum = 0;
  int err = 0;
  for (size_t i = 0; i < 2 * n; i++)
    h[i] = NULL;
  uint64_t t0 = bench_now_ns();
  err = spawn_pairs(pairs, n, h);
  for (size_t i = 0; i < 2 * n; i++) {
    void* r = NULL;
    if (h[i] == NULL)
      continue;
    int status = weft_await(h[i], &r);
    if (err == 0)
      err = status;
    sum += (uintptr_t)r;
    weft_task_release(h[i]);
  }
  out->seconds = bench_since(t0);
  out->result = sum / 2;
  if (err != 0)
    return bench_error("pingpong", err);
  if (sum != 2 * n * rounds)
    return bench_wrong("pingpong", "%llu round trips, expected %llu",
                       (unsigned long long)(sum / 2),
                       (unsigned long long)(n * rounds));
  return 0;
}

static int run_pingpong(const uint64_t* p, bench_result_t* out) {
  size_t n = p[0];
  uint64_t rounds = p[1];
  pp_pair_t* pairs = calloc(n, sizeof(*pairs));
  weft_task_t** h = malloc(2 * n * sizeof(*h));
  int err = WEFT_ENOMEM;
  if (pairs != NULL && h != NULL) {
    err = 0;
    for (size_t i = 0; i < n && err == 0; i++) {
      pairs[i].rounds = rounds;
      err = weft_future_new(&pairs[i].first_request);
    }
    if (err == 0)
      err = play(pairs, n, rounds, h, out);
    else
      bench_error("pingpong: futures", err);
    for (size_t i = 0; i < n; i++)
      weft_future_release(pairs[i].first_request);
  } else {
    bench_error("pingpong: pairs", err);
  }
  free(h);
  free(pairs);
  out->ops = n * rounds;
  return err;
}

const bench_t bench_pingpong = {
    .name = "pingpong",
    .help = "pairs of tasks make round trips through futures (until public "
            "channels); ops = pairs*rounds",
    .run = run_pingpong,
    .params = {{"pairs", 1000, 1u << 24}, {"rounds", 100, 1u << 30}},
};
