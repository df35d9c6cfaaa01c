/* Shared test helpers (libuv's test/task.h): assertions that name weft's
 * error codes, checks usable inside tasks, and a runtime fixture.
 *
 * cmocka's assert_* macros longjmp to the test's thread on failure, so they
 * must only be used on the thread that runs the cmocka test. Inside tasks
 * (and any other thread) use WEFT_EXPECT*: they print the failure, count it,
 * and let the code go on; weft_test_run() and WEFT_ASSERT_NO_FAILURES() turn
 * the count into a cmocka failure on the test's thread. */
#ifndef WEFT_TESTS_HELPERS_H_
#define WEFT_TESTS_HELPERS_H_

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "weft.h"

/* Test thread only: expr must return 0. */
#define WEFT_ASSERT_OK(expr)                                                   \
  do {                                                                         \
    int weft_rc_ = (expr);                                                     \
    if (weft_rc_ != 0) {                                                       \
      print_error("%s:%d: %s returned %d (%s: %s)\n", __FILE__, __LINE__,      \
                  #expr, weft_rc_, weft_err_name(weft_rc_),                    \
                  weft_strerror(weft_rc_));                                    \
      fail();                                                                  \
    }                                                                          \
  } while (0)

/* Test thread only: expr must return `code`. */
#define WEFT_ASSERT_ERR(expr, code)                                            \
  do {                                                                         \
    int weft_rc_ = (expr);                                                     \
    int weft_want_ = (code);                                                   \
    if (weft_rc_ != weft_want_) {                                              \
      print_error("%s:%d: %s returned %d (%s), expected %d (%s)\n", __FILE__,  \
                  __LINE__, #expr, weft_rc_, weft_err_name(weft_rc_),          \
                  weft_want_, weft_err_name(weft_want_));                      \
      fail();                                                                  \
    }                                                                          \
  } while (0)

/* Any thread: records a failure when cond is false. Evaluates to cond. */
#define WEFT_EXPECT(cond)                                                      \
  ((cond) ? 1 : (weft_test_note_failure(__FILE__, __LINE__, #cond), 0))

/* Any thread: records a failure when a != b (compared as long long). */
#define WEFT_EXPECT_EQ(a, b)                                                   \
  weft_test_expect_eq(__FILE__, __LINE__, #a, #b, (long long)(a),              \
                      (long long)(b))

/* Any thread: expr must return `code`; prints both codes' names if not. */
#define WEFT_EXPECT_ERR(expr, code)                                            \
  weft_test_expect_err(__FILE__, __LINE__, #expr, (expr), (code))

#define WEFT_EXPECT_OK(expr) WEFT_EXPECT_ERR(expr, 0)

/* Test thread only: no WEFT_EXPECT* has failed since the last reset. */
#define WEFT_ASSERT_NO_FAILURES() assert_int_equal(weft_test_failures(), 0)

void weft_test_note_failure(const char* file, int line, const char* what);
int weft_test_expect_eq(const char* file, int line, const char* a,
                        const char* b, long long va, long long vb);
int weft_test_expect_err(const char* file, int line, const char* expr, int got,
                         int want);
int weft_test_failures(void);
void weft_test_reset_failures(void);

/* Runs fn(arg, result) as the task "main" of a fresh runtime with `workers`
 * workers, awaits it from the test's thread, frees the runtime and returns
 * main's status. Asserts (cmocka) that the runtime starts, that no
 * WEFT_EXPECT* failed, and that no task is alive once main has been awaited:
 * main must await every task it spawns. For mains that leave detached tasks
 * behind (shutdown cancels them), use weft_test_run_detached(). */
int weft_test_run(unsigned workers, weft_task_fn fn, void* arg, void** result);

/* weft_test_run() without the "no task alive" check. */
int weft_test_run_detached(unsigned workers, weft_task_fn fn, void* arg,
                           void** result);

/* Test thread only: asserts weft_task_count(rt) reaches 0. A task's count
 * drops just after its awaiters are woken, so this waits (a hang guard of
 * 10 s, not a performance bound) for the count to settle; see
 * test_task_count_zero_once_awaited for the strict check. */
void weft_test_assert_no_live_tasks(weft_runtime_t* rt);

/* The calling thread's kernel id, never cached by the compiler (glibc
 * declares pthread_self() const, so its value may be reused across an
 * await, where a task may change threads). */
long weft_test_gettid(void);

/* Task bodies many tests share: return arg as the result; return arg as
 * the status; sleep an hour (until cancelled). */
int weft_test_ret_arg(void* arg, void** result);
int weft_test_ret_status(void* arg, void** result);
int weft_test_sleep_hour(void* arg, void** result);

/* Yields until `cond` holds: for a task that waits for another task's
 * progress without sleeping. Returns the last weft_yield() status (0 when
 * cond held). */
#define WEFT_YIELD_UNTIL(cond)                                                 \
  ({                                                                           \
    int weft_y_ = 0;                                                           \
    while (!(cond) && (weft_y_ = weft_yield()) == 0) {                         \
    }                                                                          \
    weft_y_;                                                                   \
  })

/* In a task: spawns fn(arg) in the current runtime (a handle, or NULL
 * after a recorded failure); yields until `t` is parked at an await;
 * awaits and releases `t`, returning its status. */
weft_task_t* weft_test_spawn(weft_task_fn fn, void* arg);
void weft_test_until_parked(weft_task_t* t);
int weft_test_finish(weft_task_t* t);

/* Test certificates (helpers_certs.c): made by tests/tls/make-certs.sh in
 * a temporary directory; use the first two as a cmocka group's setup and
 * teardown. weft_test_cert("server.pem") is a path in that directory. */
int weft_test_certs_make(void** state);
int weft_test_certs_remove(void** state);
const char* weft_test_certs_dir(void);
const char* weft_test_cert(const char* name);

#endif /* WEFT_TESTS_HELPERS_H_ */
