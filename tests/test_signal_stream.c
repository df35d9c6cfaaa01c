/* Signal streams: every delivery, in arrival order, none lost; the
 * signals never fall back to their default action while the stream is
 * open (a SIGTERM raised with nobody reading would otherwise end this
 * test); several receivers served in turn; cancellation, timeouts, close,
 * the runtime's end; bad arguments.
 *
 * Signals are sent with raise(), whose handler runs before it returns, so
 * the order the test raises is the order libuv's pipe holds. A test that
 * needs deliveries dispatched (or a receiver listed) before it goes on
 * yields until the stream's private counters say so: no sleeps. */
#include <signal.h>
#include <unistd.h>

#include "helpers.h"
#include "io/signal.h"

static int handler_installed(int signum) {
  struct sigaction sa;
  return sigaction(signum, NULL, &sa) == 0 && sa.sa_handler != SIG_DFL;
}

static int next_of(weft_signal_stream_t* s) {
  int sig = -1;
  WEFT_EXPECT_OK(weft_signal_stream_next(s, &sig));
  return sig;
}

/* Yields until `n` deliveries are pending on `s`. */
static void wait_pending(weft_signal_stream_t* s, size_t n) {
  WEFT_EXPECT_OK(WEFT_YIELD_UNTIL(weft__signal_stream_pending(s) == n));
}

static void wait_receivers(weft_signal_stream_t* s, size_t n) {
  WEFT_EXPECT_OK(WEFT_YIELD_UNTIL(weft__signal_stream_receivers(s) == n));
}

/* ---- Order, counts, no default action ------------------------------------ */

static int main_order(void* arg, void** result) {
  const int sigs[] = {SIGHUP, SIGTERM, SIGUSR1};
  const int sent[] = {SIGHUP, SIGHUP, SIGTERM, SIGHUP, SIGUSR1, SIGTERM};
  weft_signal_stream_t* s;
  int sig;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_signal_stream_open(sigs, 3, &s));
  for (int i = 0; i < 3; i++)
    WEFT_EXPECT(handler_installed(sigs[i]));
  /* Nobody reads: each is queued; SIGTERM's default would end the test. */
  for (size_t i = 0; i < sizeof(sent) / sizeof(sent[0]); i++)
    WEFT_EXPECT_EQ(raise(sent[i]), 0);
  for (size_t i = 0; i < sizeof(sent) / sizeof(sent[0]); i++) {
    WEFT_EXPECT_EQ(next_of(s), sent[i]);
    /* Between reads the handlers stay: a SIGTERM now is queued too. */
    for (int j = 0; j < 3; j++)
      WEFT_EXPECT(handler_installed(sigs[j]));
  }
  WEFT_EXPECT_ERR(weft_signal_stream_try_next(s, &sig), WEFT_EAGAIN);
  /* Raised while a read is in progress elsewhere: handled in turn. */
  WEFT_EXPECT_EQ(raise(SIGTERM), 0);
  WEFT_EXPECT_EQ(next_of(s), SIGTERM);
  WEFT_EXPECT_OK(weft_signal_stream_close(s));
  for (int i = 0; i < 3; i++)
    WEFT_EXPECT(!handler_installed(sigs[i])); /* the default is back */
  return 0;
}

static void test_signal_stream_every_delivery_in_order(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_order, NULL, NULL));
  WEFT_ASSERT_OK(weft_test_run(2, main_order, NULL, NULL));
}

/* try_next takes what the loop has dispatched, without waiting. */
static int main_try(void* arg, void** result) {
  const int sigs[] = {SIGUSR2};
  weft_signal_stream_t* s;
  int sig = 0;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_signal_stream_open(sigs, 1, &s));
  WEFT_EXPECT_ERR(weft_signal_stream_try_next(s, &sig), WEFT_EAGAIN);
  for (int i = 0; i < 5; i++)
    WEFT_EXPECT_EQ(raise(SIGUSR2), 0);
  wait_pending(s, 5);
  for (int i = 0; i < 5; i++) {
    WEFT_EXPECT_OK(weft_signal_stream_try_next(s, &sig));
    WEFT_EXPECT_EQ(sig, SIGUSR2);
  }
  WEFT_EXPECT_ERR(weft_signal_stream_try_next(s, &sig), WEFT_EAGAIN);
  WEFT_EXPECT_OK(weft_signal_stream_close(s));
  return 0;
}

static void test_signal_stream_try_next(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_try, NULL, NULL));
}

/* More alternations than the ring keeps in order: the first runs come in
 * order, the rest is counted, and nothing is lost (see signal.c, "Pending
 * deliveries", for the order that follows). */
static int main_overflow(void* arg, void** result) {
  enum { kR = WEFT__SIGNAL_RUNS };
  const int sigs[] = {SIGHUP, SIGUSR1, SIGUSR2};
  weft_signal_stream_t* s;
  int counts[3] = {0, 0, 0};
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_signal_stream_open(sigs, 3, &s));
  for (int k = 0; k < 2 * kR; k++)
    WEFT_EXPECT_EQ(raise(k % 2 == 0 ? SIGHUP : SIGUSR1), 0);
  for (int k = 0; k < 3; k++)
    WEFT_EXPECT_EQ(raise(SIGUSR2), 0); /* no run of its own: overflow */
  WEFT_EXPECT_EQ(raise(SIGHUP), 0);
  wait_pending(s, 2 * kR + 4);
  /* The runs that stayed single, in arrival order. */
  for (int k = 0; k < kR - 2; k++)
    WEFT_EXPECT_EQ(next_of(s), k % 2 == 0 ? SIGHUP : SIGUSR1);
  /* Then the two runs that took the later deliveries, then the overflow. */
  for (int k = 0; k < 2 + kR / 2; k++)
    WEFT_EXPECT_EQ(next_of(s), SIGHUP);
  for (int k = 0; k < 1 + kR / 2; k++)
    WEFT_EXPECT_EQ(next_of(s), SIGUSR1);
  for (int k = 0; k < 3; k++)
    WEFT_EXPECT_EQ(next_of(s), SIGUSR2);
  WEFT_EXPECT_EQ(weft__signal_stream_pending(s), 0);
  /* Counted the other way: everything raised comes out exactly once. */
  for (int k = 0; k < 50; k++)
    WEFT_EXPECT_EQ(raise(sigs[k % 3]), 0);
  for (int k = 0; k < 50; k++) {
    int sig = next_of(s);
    for (int i = 0; i < 3; i++)
      counts[i] += sig == sigs[i];
  }
  WEFT_EXPECT_EQ(counts[0], 17);
  WEFT_EXPECT_EQ(counts[1], 17);
  WEFT_EXPECT_EQ(counts[2], 16);
  WEFT_EXPECT_OK(weft_signal_stream_close(s));
  return 0;
}

static void test_signal_stream_overflow_loses_nothing(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_overflow, NULL, NULL));
  WEFT_ASSERT_OK(weft_test_run(2, main_overflow, NULL, NULL));
}

/* ---- Receivers ----------------------------------------------------------- */

static int receiver(void* arg, void** result) {
  int sig = 0;
  int err = weft_signal_stream_next(arg, &sig);
  *result = (void*)(intptr_t)sig;
  return err;
}

static weft_task_t* spawn_receiver(weft_signal_stream_t* s, size_t nth) {
  weft_task_t* t = NULL;
  WEFT_EXPECT_OK(weft_spawn(NULL, receiver, s, NULL, &t));
  wait_receivers(s, nth);
  return t;
}

static int await_signal(weft_task_t* t, int want_err) {
  void* res = NULL;
  WEFT_EXPECT_ERR(weft_await(t, &res), want_err);
  weft_task_release(t);
  return (int)(intptr_t)res;
}

/* Each delivery goes to one receiver, the one that waited first. */
static int main_receivers(void* arg, void** result) {
  const int sigs[] = {SIGHUP, SIGTERM};
  weft_signal_stream_t* s;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_signal_stream_open(sigs, 2, &s));
  for (int round = 0; round < 10; round++) {
    weft_task_t* a = spawn_receiver(s, 1);
    weft_task_t* b = spawn_receiver(s, 2);
    WEFT_EXPECT_EQ(raise(SIGTERM), 0);
    WEFT_EXPECT_EQ(await_signal(a, 0), SIGTERM);
    WEFT_EXPECT_EQ(weft__signal_stream_receivers(s), 1); /* b still waits */
    WEFT_EXPECT_EQ(raise(SIGHUP), 0);
    WEFT_EXPECT_EQ(await_signal(b, 0), SIGHUP);
  }
  WEFT_EXPECT_OK(weft_signal_stream_close(s));
  return 0;
}

static void test_signal_stream_receivers_in_turn(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_receivers, NULL, NULL));
  WEFT_ASSERT_OK(weft_test_run(2, main_receivers, NULL, NULL));
}

static int sig_waiter(void* arg, void** result) {
  (void)result;
  return weft_signal_wait((int)(intptr_t)arg);
}

/* Two streams and a weft_signal_wait on one signal each see it; once the
 * waiter is gone the streams still keep the default action away. */
static int main_shared(void* arg, void** result) {
  const int sigs[] = {SIGUSR1};
  weft_signal_stream_t* s1;
  weft_signal_stream_t* s2;
  weft_task_t* w;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_signal_stream_open(sigs, 1, &s1));
  WEFT_EXPECT_OK(
      weft_spawn(NULL, sig_waiter, (void*)(intptr_t)SIGUSR1, NULL, &w));
  WEFT_EXPECT_OK(weft_signal_stream_open(sigs, 1, &s2));
  WEFT_EXPECT_OK(WEFT_YIELD_UNTIL(weft_task_state(w) == WEFT_TASK_SUSPENDED));
  WEFT_EXPECT_EQ(raise(SIGUSR1), 0);
  WEFT_EXPECT_OK(weft_await(w, NULL));
  weft_task_release(w);
  WEFT_EXPECT_EQ(next_of(s1), SIGUSR1);
  WEFT_EXPECT_EQ(next_of(s2), SIGUSR1);
  WEFT_EXPECT_EQ(raise(SIGUSR1), 0); /* no waiter: the streams keep it */
  WEFT_EXPECT_EQ(next_of(s1), SIGUSR1);
  WEFT_EXPECT_OK(weft_signal_stream_close(s1));
  WEFT_EXPECT(handler_installed(SIGUSR1)); /* s2 still watches */
  WEFT_EXPECT_EQ(next_of(s2), SIGUSR1);
  WEFT_EXPECT_OK(weft_signal_stream_close(s2));
  WEFT_EXPECT(!handler_installed(SIGUSR1));
  return 0;
}

static void test_signal_stream_shared_with_others(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_shared, NULL, NULL));
}

/* ---- Cancellation, timeouts, close --------------------------------------- */

static int main_cancel(void* arg, void** result) {
  const int sigs[] = {SIGHUP};
  weft_signal_stream_t* s;
  weft_timeout_t* to;
  int sig = 0;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_signal_stream_open(sigs, 1, &s));
  /* A cancelled receiver takes nothing: the next one gets the signal. */
  weft_task_t* t = spawn_receiver(s, 1);
  WEFT_EXPECT_OK(weft_cancel(t));
  await_signal(t, WEFT_ECANCELED);
  WEFT_EXPECT_EQ(weft__signal_stream_receivers(s), 0);
  WEFT_EXPECT_EQ(raise(SIGHUP), 0);
  WEFT_EXPECT_EQ(next_of(s), SIGHUP);
  /* A timeout scope. */
  WEFT_EXPECT_OK(weft_timeout_enter(5, &to));
  WEFT_EXPECT_ERR(weft_signal_stream_next(s, &sig), WEFT_ECANCELED);
  WEFT_EXPECT_ERR(weft_timeout_exit(to), WEFT_ETIMEDOUT);
  /* A cancellation already pending, nothing queued: no wait. */
  WEFT_EXPECT_OK(weft_cancel(weft_current_task()));
  WEFT_EXPECT_ERR(weft_signal_stream_next(s, &sig), WEFT_ECANCELED);
  /* A queued delivery is returned; the cancellation waits for the next
   * await. */
  WEFT_EXPECT_EQ(raise(SIGHUP), 0);
  wait_pending(s, 1);
  WEFT_EXPECT_OK(weft_cancel(weft_current_task()));
  WEFT_EXPECT_OK(weft_signal_stream_next(s, &sig));
  WEFT_EXPECT_EQ(sig, SIGHUP);
  WEFT_EXPECT_ERR(weft_yield(), WEFT_ECANCELED);
  WEFT_EXPECT_OK(weft_signal_stream_close(s));
  return 0;
}

static void test_signal_stream_cancelled_and_timed_out(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_cancel, NULL, NULL));
}

/* Close wakes waiting receivers with WEFT_ECLOSED and drops what is
 * pending; the handlers go back to the default. */
static int main_close(void* arg, void** result) {
  const int sigs[] = {SIGHUP, SIGTERM};
  weft_signal_stream_t* s;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_signal_stream_open(sigs, 2, &s));
  weft_task_t* a = spawn_receiver(s, 1);
  weft_task_t* b = spawn_receiver(s, 2);
  WEFT_EXPECT_OK(weft_signal_stream_close(s));
  await_signal(a, WEFT_ECLOSED);
  await_signal(b, WEFT_ECLOSED);
  WEFT_EXPECT(!handler_installed(SIGHUP));
  WEFT_EXPECT(!handler_installed(SIGTERM));
  /* Pending deliveries are dropped with the stream. */
  WEFT_EXPECT_OK(weft_signal_stream_open(sigs, 2, &s));
  WEFT_EXPECT_EQ(raise(SIGHUP), 0);
  wait_pending(s, 1);
  WEFT_EXPECT_OK(weft_signal_stream_close(s));
  WEFT_EXPECT_OK(weft_signal_stream_close(NULL));
  return 0;
}

static void test_signal_stream_close_wakes_receivers(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_close, NULL, NULL));
  WEFT_ASSERT_OK(weft_test_run(2, main_close, NULL, NULL));
}

/* Streams left open, one with deliveries pending, one with a receiver
 * waiting: the runtime's end cancels the receiver and closes both (ASan
 * and Valgrind see that nothing leaks), and the defaults come back. */
static int main_left_open(void* arg, void** result) {
  const int sigs[] = {SIGHUP, SIGUSR1};
  weft_signal_stream_t* s;
  weft_signal_stream_t* s2;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_signal_stream_open(sigs, 2, &s));
  WEFT_EXPECT_OK(weft_signal_stream_open(sigs + 1, 1, &s2));
  WEFT_EXPECT_EQ(raise(SIGUSR1), 0);
  wait_pending(s, 1);
  WEFT_EXPECT_EQ(next_of(s2), SIGUSR1);
  WEFT_EXPECT_OK(weft_spawn(NULL, receiver, s2, NULL, NULL));
  wait_receivers(s2, 1);
  WEFT_EXPECT_EQ(raise(SIGHUP), 0);
  wait_pending(s, 2);
  return 0;
}

static void test_signal_stream_closed_by_runtime_end(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(2, main_left_open, NULL, NULL));
  WEFT_ASSERT_OK(weft_test_run_detached(1, main_left_open, NULL, NULL));
  assert_false(handler_installed(SIGHUP));
  assert_false(handler_installed(SIGUSR1));
}

/* ---- Bad arguments ------------------------------------------------------- */

static int main_args(void* arg, void** result) {
  weft_signal_stream_t* s = (void*)1;
  int sig;
  (void)arg;
  (void)result;
  const int ok[] = {SIGHUP};
  const int dup[] = {SIGHUP, SIGTERM, SIGHUP};
  const int kill9[] = {SIGTERM, SIGKILL};
  const int stop[] = {SIGSTOP};
  const int zero[] = {0};
  const int big[] = {NSIG};
  WEFT_EXPECT_ERR(weft_signal_stream_open(ok, 1, NULL), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_signal_stream_open(NULL, 1, &s), WEFT_EINVAL);
  WEFT_EXPECT(s == NULL);
  WEFT_EXPECT_ERR(weft_signal_stream_open(ok, 0, &s), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_signal_stream_open(dup, 3, &s), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_signal_stream_open(kill9, 2, &s), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_signal_stream_open(stop, 1, &s), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_signal_stream_open(zero, 1, &s), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_signal_stream_open(big, 1, &s), WEFT_EINVAL);
  WEFT_EXPECT(!handler_installed(SIGTERM)); /* nothing half-opened */
  WEFT_EXPECT_ERR(weft_signal_stream_next(NULL, &sig), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_signal_stream_try_next(NULL, &sig), WEFT_EINVAL);
  WEFT_EXPECT_OK(weft_signal_stream_open(ok, 1, &s));
  WEFT_EXPECT_ERR(weft_signal_stream_next(s, NULL), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_signal_stream_try_next(s, NULL), WEFT_EINVAL);
  WEFT_EXPECT_OK(weft_signal_stream_close(s));
  return 0;
}

static void test_signal_stream_argument_errors(void** state) {
  const int ok[] = {SIGHUP};
  weft_signal_stream_t* s;
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_args, NULL, NULL));
  WEFT_ASSERT_ERR(weft_signal_stream_open(ok, 1, &s), WEFT_ENOTTASK);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_signal_stream_every_delivery_in_order),
      cmocka_unit_test(test_signal_stream_try_next),
      cmocka_unit_test(test_signal_stream_overflow_loses_nothing),
      cmocka_unit_test(test_signal_stream_receivers_in_turn),
      cmocka_unit_test(test_signal_stream_shared_with_others),
      cmocka_unit_test(test_signal_stream_cancelled_and_timed_out),
      cmocka_unit_test(test_signal_stream_close_wakes_receivers),
      cmocka_unit_test(test_signal_stream_closed_by_runtime_end),
      cmocka_unit_test(test_signal_stream_argument_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
