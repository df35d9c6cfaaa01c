/* weft-bench pingpong: pairs of tasks making round trips over channels.
 *
 * Each pair has two channels of capacity 1, one each way: ping sends a
 * ball on `to_pong` and receives it back on `to_ping`; pong echoes every
 * ball until ping closes `to_pong`. A round trip therefore costs two sends
 * and two receives, and (since each side waits for the other) two
 * park/wake hand-offs through the channels' wait lists. A woken task goes
 * to the waker's LIFO slot, so a pair settles on one worker and its round
 * trips stay in one cache; pairs spread across workers by stealing.
 */
#include <stdlib.h>

#include "bench.h"

typedef struct pp_pair_s {
  weft_chan_t* to_pong;
  weft_chan_t* to_ping;
  uint64_t rounds;
} pp_pair_t;

static int ping(void* arg, void** result) {
  pp_pair_t* p = arg;
  uint64_t r;
  int err = 0;
  for (r = 0; r < p->rounds && err == 0; r++) {
    void* ball = NULL;
    err = weft_chan_send(p->to_pong, (void*)(uintptr_t)r);
    if (err == 0)
      err = weft_chan_recv(p->to_ping, &ball);
    if (err == 0 && ball != (void*)(uintptr_t)r)
      err = WEFT_EINVAL; /* a ball from another round: a broken channel */
    if (err != 0)
      break;
  }
  weft_chan_close(p->to_pong); /* tells pong to stop */
  *result = (void*)(uintptr_t)r;
  return err;
}

static int pong(void* arg, void** result) {
  pp_pair_t* p = arg;
  uint64_t answered = 0;
  void* ball;
  int err;
  while ((err = weft_chan_recv(p->to_pong, &ball)) == 0) {
    err = weft_chan_send(p->to_ping, ball);
    if (err != 0)
      break;
    answered++;
  }
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

/* Closes pong's channel of every pair whose ping never started, so its
 * pong (if it did start) stops. */
static void stop_unstarted(pp_pair_t* pairs, size_t n, weft_task_t** h) {
  for (size_t i = 0; i < n; i++)
    if (h[2 * i] == NULL)
      weft_chan_close(pairs[i].to_pong);
}

static int play(pp_pair_t* pairs, size_t n, uint64_t rounds, weft_task_t** h,
                bench_result_t* out) {
  uint64_t sum = 0;
  int err = 0;
  for (size_t i = 0; i < 2 * n; i++)
    h[i] = NULL;
  uint64_t t0 = bench_now_ns();
  err = spawn_pairs(pairs, n, h);
  if (err != 0)
    stop_unstarted(pairs, n, h);
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

static int make_pairs(pp_pair_t* pairs, size_t n, uint64_t rounds) {
  for (size_t i = 0; i < n; i++) {
    pairs[i].rounds = rounds;
    int err = weft_chan_new(1, &pairs[i].to_pong);
    if (err == 0)
      err = weft_chan_new(1, &pairs[i].to_ping);
    if (err != 0)
      return err;
  }
  return 0;
}

static void free_pairs(pp_pair_t* pairs, size_t n) {
  for (size_t i = 0; i < n; i++) {
    weft_chan_free(pairs[i].to_pong);
    weft_chan_free(pairs[i].to_ping);
  }
}

static int run_pingpong(const uint64_t* p, bench_result_t* out) {
  size_t n = p[0];
  uint64_t rounds = p[1];
  pp_pair_t* pairs = calloc(n, sizeof(*pairs));
  weft_task_t** h = malloc(2 * n * sizeof(*h));
  int err = WEFT_ENOMEM;
  if (pairs != NULL && h != NULL) {
    err = make_pairs(pairs, n, rounds);
    if (err == 0)
      err = play(pairs, n, rounds, h, out);
    else
      bench_error("pingpong: channels", err);
    free_pairs(pairs, n);
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
    .help = "pairs of tasks make round trips over two channels each; "
            "ops = pairs*rounds",
    .repeatable = 1,
    .run = run_pingpong,
    .params = {{"pairs", 1000, 1u << 24}, {"rounds", 100, 1u << 30}},
};
