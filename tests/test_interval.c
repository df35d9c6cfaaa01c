/* weft_interval_t on the virtual clock of deterministic mode, where times
 * are exact: ticks fall on start + k * period however long the task works
 * between them (no drift); a tick late by more than a period skips the
 * missed ones and says how many periods passed; a cancelled tick leaves
 * the schedule as it was. Argument errors too. */
#include "helpers.h"

#define MS 1000000ull

static void test_interval_errors(void** state) {
  weft_interval_t* iv;
  (void)state;
  WEFT_ASSERT_ERR(weft_interval_new(0, &iv), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_interval_new(10, NULL), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_interval_tick(NULL, NULL), WEFT_EINVAL);
  assert_int_equal(weft_interval_next_ns(NULL), 0);
  weft_interval_free(NULL);
  WEFT_ASSERT_OK(weft_interval_new(10, &iv));
  WEFT_ASSERT_ERR(weft_interval_tick(iv, NULL), WEFT_ENOTTASK);
  weft_interval_free(iv);
}

static int main_no_drift(void* arg, void** result) {
  weft_interval_t* iv;
  uint64_t periods = 0;
  (void)arg;
  (void)result;
  uint64_t start = weft_now_ns();
  WEFT_EXPECT_OK(weft_interval_new(10, &iv));
  WEFT_EXPECT_EQ(weft_interval_next_ns(iv), start + 10 * MS);
  for (uint64_t k = 1; k <= 5; k++) {
    WEFT_EXPECT_OK(weft_interval_tick(iv, &periods));
    WEFT_EXPECT_EQ(periods, 1);
    WEFT_EXPECT_EQ(weft_now_ns(), start + k * 10 * MS); /* exactly */
    WEFT_EXPECT_OK(weft_sleep_ms(3));                   /* work between ticks */
  }
  /* 25 ms of work: due at 60 is late, 70 is missed; 80 is due next... the
   * tick at 75 returns at once for the period that ended at 70. */
  WEFT_EXPECT_OK(weft_sleep_ms(22)); /* now start + 75 ms */
  WEFT_EXPECT_OK(weft_interval_tick(iv, &periods));
  WEFT_EXPECT_EQ(periods, 2); /* 60 and 70: one skipped */
  WEFT_EXPECT_EQ(weft_now_ns(), start + 75 * MS);
  WEFT_EXPECT_OK(weft_interval_tick(iv, &periods));
  WEFT_EXPECT_EQ(periods, 1);
  WEFT_EXPECT_EQ(weft_now_ns(), start + 80 * MS); /* back on the grid */
  weft_interval_free(iv);
  return 0;
}

static int ticker(void* arg, void** result) {
  (void)result;
  return weft_interval_tick(arg, NULL);
}

static int main_cancelled(void* arg, void** result) {
  weft_interval_t* iv;
  weft_task_t* t;
  (void)arg;
  (void)result;
  uint64_t start = weft_now_ns();
  WEFT_EXPECT_OK(weft_interval_new(10, &iv));
  WEFT_EXPECT_OK(weft_spawn(NULL, ticker, iv, NULL, &t));
  WEFT_EXPECT_OK(WEFT_YIELD_UNTIL(weft_task_state(t) == WEFT_TASK_SUSPENDED));
  WEFT_EXPECT_OK(weft_cancel(t));
  WEFT_EXPECT_ERR(weft_await(t, NULL), WEFT_ECANCELED);
  weft_task_release(t);
  WEFT_EXPECT_EQ(weft_interval_next_ns(iv), start + 10 * MS); /* unchanged */
  WEFT_EXPECT_OK(weft_interval_tick(iv, NULL));
  WEFT_EXPECT_EQ(weft_now_ns(), start + 10 * MS);
  weft_interval_free(iv);
  return 0;
}

static void test_interval_on_the_virtual_clock(void** state) {
  (void)state;
  weft_config_t cfg = {.deterministic = 1, .seed = 3};
  WEFT_ASSERT_OK(weft_run(main_no_drift, NULL, &cfg, NULL));
  WEFT_ASSERT_OK(weft_run(main_cancelled, NULL, &cfg, NULL));
  WEFT_ASSERT_NO_FAILURES();
}

/* On the real clock: ticks never come early, and the due times stay on
 * the grid (the next due time is a whole number of periods from the
 * first). */
static int main_real(void* arg, void** result) {
  weft_interval_t* iv;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_interval_new(2, &iv));
  uint64_t first = weft_interval_next_ns(iv);
  for (int k = 0; k < 5; k++) {
    uint64_t due = weft_interval_next_ns(iv);
    WEFT_EXPECT_OK(weft_interval_tick(iv, NULL));
    WEFT_EXPECT(weft_now_ns() >= due);
    WEFT_EXPECT_EQ((weft_interval_next_ns(iv) - first) % (2 * MS), 0);
  }
  weft_interval_free(iv);
  return 0;
}

static void test_interval_real_clock(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_real, NULL, NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_interval_errors),
      cmocka_unit_test(test_interval_on_the_virtual_clock),
      cmocka_unit_test(test_interval_real_clock),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
