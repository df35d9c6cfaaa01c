/* Signals: a task waits for SIGUSR1 and another task raises it; one signal
 * wakes every waiter; SIGINT handled, so the process survives it;
 * cancelled and timed-out waits; bad signal numbers.
 *
 * A signal is raised only while its waiter is known to wait: the raiser
 * yields until weft_task_state() says the waiter is suspended, and a
 * waiter only suspends once its watcher is started (nothing else in
 * weft_signal_wait suspends before that). Between waits libuv puts back
 * the default action, so a signal raised then would end the test. */
#include <signal.h>
#include <unistd.h>

#include "helpers.h"

static int waiter(void* arg, void** result) {
  (void)result;
  return weft_signal_wait((int)(intptr_t)arg);
}

static weft_task_t* spawn_waiter(int signum) {
  weft_task_t* t = NULL;
  WEFT_EXPECT_OK(weft_spawn(NULL, waiter, (void*)(intptr_t)signum, NULL, &t));
  return t;
}

static void wait_suspended(weft_task_t* t) {
  WEFT_EXPECT_OK(WEFT_YIELD_UNTIL(weft_task_state(t) == WEFT_TASK_SUSPENDED));
}

static int main_usr1(void* arg, void** result) {
  (void)arg;
  (void)result;
  for (int i = 0; i < 20; i++) {
    weft_task_t* t = spawn_waiter(SIGUSR1);
    wait_suspended(t);
    WEFT_EXPECT_EQ(kill(getpid(), SIGUSR1), 0);
    WEFT_EXPECT_OK(weft_await(t, NULL));
    weft_task_release(t);
  }
  return 0;
}

static void test_signal_usr1_wakes_waiter(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_usr1, NULL, NULL));
  WEFT_ASSERT_OK(weft_test_run(1, main_usr1, NULL, NULL));
}

/* One signal, several waiters (on both workers, as the scheduler puts
 * them): each wakes. */
static int main_many(void* arg, void** result) {
  enum { kWaiters = 4 };
  weft_task_t* t[kWaiters];
  (void)arg;
  (void)result;
  for (int i = 0; i < kWaiters; i++)
    t[i] = spawn_waiter(SIGUSR2);
  for (int i = 0; i < kWaiters; i++)
    wait_suspended(t[i]);
  WEFT_EXPECT_EQ(kill(getpid(), SIGUSR2), 0);
  for (int i = 0; i < kWaiters; i++) {
    WEFT_EXPECT_OK(weft_await(t[i], NULL));
    weft_task_release(t[i]);
  }
  return 0;
}

static void test_signal_wakes_every_waiter(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_many, NULL, NULL));
}

/* SIGINT would end the process; while a task waits for it, it does not. */
static int main_sigint(void* arg, void** result) {
  (void)arg;
  (void)result;
  weft_task_t* t = spawn_waiter(SIGINT);
  wait_suspended(t);
  WEFT_EXPECT_EQ(kill(getpid(), SIGINT), 0);
  WEFT_EXPECT_OK(weft_await(t, NULL));
  weft_task_release(t);
  return 0;
}

static void test_signal_sigint_handled_process_survives(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_sigint, NULL, NULL));
}

static int handler_installed(int signum) {
  struct sigaction sa;
  return sigaction(signum, NULL, &sa) == 0 && sa.sa_handler != SIG_DFL;
}

/* A signal is delivered for A; then B starts waiting, before A's worker
 * has dispatched it (or after). Once A is done, B still waits, so the
 * handler must still be installed: a one-shot libuv watcher would have
 * left SIG_DFL there (SA_RESETHAND), and the next signal would kill the
 * process. raise() delivers to the calling thread before it returns, so
 * B, started afterwards, cannot have caught the first signal. */
static int main_overlap(void* arg, void** result) {
  (void)arg;
  (void)result;
  for (int i = 0; i < 20; i++) {
    weft_task_t* a = spawn_waiter(SIGUSR1);
    wait_suspended(a);
    WEFT_EXPECT_EQ(raise(SIGUSR1), 0);
    weft_task_t* b = spawn_waiter(SIGUSR1);
    wait_suspended(b);
    WEFT_EXPECT_OK(weft_await(a, NULL));
    weft_task_release(a);
    WEFT_EXPECT_EQ(weft_task_state(b), WEFT_TASK_SUSPENDED);
    WEFT_EXPECT(handler_installed(SIGUSR1));
    WEFT_EXPECT_EQ(raise(SIGUSR1), 0);
    WEFT_EXPECT_OK(weft_await(b, NULL));
    weft_task_release(b);
  }
  WEFT_EXPECT(!handler_installed(SIGUSR1)); /* back to the default */
  return 0;
}

static void test_signal_handler_stays_while_another_waits(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_overlap, NULL, NULL));
  WEFT_ASSERT_OK(weft_test_run(2, main_overlap, NULL, NULL));
}

static int main_cancel(void* arg, void** result) {
  weft_timeout_t* to;
  (void)arg;
  (void)result;
  /* weft_cancel of a waiting task. */
  weft_task_t* t = spawn_waiter(SIGUSR1);
  wait_suspended(t);
  WEFT_EXPECT_OK(weft_cancel(t));
  WEFT_EXPECT_ERR(weft_await(t, NULL), WEFT_ECANCELED);
  weft_task_release(t);
  /* A timeout scope. */
  WEFT_EXPECT_OK(weft_timeout_enter(5, &to));
  WEFT_EXPECT_ERR(weft_signal_wait(SIGUSR1), WEFT_ECANCELED);
  WEFT_EXPECT_ERR(weft_timeout_exit(to), WEFT_ETIMEDOUT);
  /* A cancellation already pending: no watcher is started. */
  WEFT_EXPECT_OK(weft_cancel(weft_current_task()));
  WEFT_EXPECT_ERR(weft_signal_wait(SIGUSR1), WEFT_ECANCELED);
  WEFT_EXPECT_OK(weft_yield());
  /* Waiting works again afterwards. */
  t = spawn_waiter(SIGUSR1);
  wait_suspended(t);
  WEFT_EXPECT_EQ(kill(getpid(), SIGUSR1), 0);
  WEFT_EXPECT_OK(weft_await(t, NULL));
  weft_task_release(t);
  return 0;
}

static void test_signal_wait_cancelled_and_timed_out(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_cancel, NULL, NULL));
}

/* A waiter left waiting when main returns: shutdown cancels it and its
 * watcher is closed (no handle left on the loop). */
static int main_left_waiting(void* arg, void** result) {
  (void)arg;
  (void)result;
  weft_task_t* t = spawn_waiter(SIGUSR1);
  wait_suspended(t);
  weft_task_release(t);
  return 0;
}

static void test_signal_waiter_cancelled_by_shutdown(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(2, main_left_waiting, NULL, NULL));
}

static int main_args(void* arg, void** result) {
  (void)arg;
  (void)result;
  WEFT_EXPECT_ERR(weft_signal_wait(0), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_signal_wait(-1), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_signal_wait(NSIG), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_signal_wait(SIGKILL), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_signal_wait(SIGSTOP), WEFT_EINVAL);
  return 0;
}

static void test_signal_argument_errors(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_args, NULL, NULL));
  WEFT_ASSERT_ERR(weft_signal_wait(SIGUSR1), WEFT_ENOTTASK);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_signal_usr1_wakes_waiter),
      cmocka_unit_test(test_signal_wakes_every_waiter),
      cmocka_unit_test(test_signal_sigint_handled_process_survives),
      cmocka_unit_test(test_signal_handler_stays_while_another_waits),
      cmocka_unit_test(test_signal_wait_cancelled_and_timed_out),
      cmocka_unit_test(test_signal_waiter_cancelled_by_shutdown),
      cmocka_unit_test(test_signal_argument_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
