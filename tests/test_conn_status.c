/* A connection handler's status: its task is detached, so nobody reads it;
 * debug mode reports a failure on stderr instead of dropping it silently
 * (weft.h, weft_conn_fn). Outside debug mode, and for 0 or WEFT_ECANCELED,
 * nothing is written. The report is written before the server closes the
 * connection, so the client's end of stream orders it before the check. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "base/common.h"

static int fail_proto(weft_stream_t* conn, void* arg) {
  (void)conn, (void)arg;
  return WEFT_EPROTO;
}

static int succeed(weft_stream_t* conn, void* arg) {
  (void)conn, (void)arg;
  return 0;
}

static int cancelled(weft_stream_t* conn, void* arg) {
  (void)conn, (void)arg;
  return WEFT_ECANCELED;
}

/* Serves one connection with the handler in arg and reads to its end. */
static int one_connection(void* arg, void** result) {
  (void)result;
  weft_server_t* srv = NULL;
  weft_stream_t* s = NULL;
  char buf[16];
  if (!WEFT_EXPECT_OK(
          weft_tcp_serve("127.0.0.1", 0, (weft_conn_fn)arg, NULL, NULL, &srv)))
    return 0;
  if (WEFT_EXPECT_OK(
          weft_tcp_connect("127.0.0.1", weft_server_port(srv), &s))) {
    /* 0: end of stream, which comes after the handler's report. */
    WEFT_EXPECT_EQ(weft_stream_read(s, buf, sizeof(buf)), 0);
    WEFT_EXPECT_OK(weft_stream_close(s));
  }
  WEFT_EXPECT_OK(weft_server_close(srv));
  return 0;
}

/* Runs one connection with `handler` and returns what was warned. */
static char* run(weft_conn_fn handler, int debug) {
  static char text[1024];
  FILE* out = tmpfile();
  assert_non_null(out);
  weft__warn_set_stream(out);
  weft_config_t cfg = {.workers = 2, .debug = debug};
  weft_test_reset_failures();
  WEFT_ASSERT_OK(weft_run(one_connection, (void*)handler, &cfg, NULL));
  WEFT_ASSERT_NO_FAILURES();
  weft__warn_set_stream(NULL);
  rewind(out);
  size_t n = fread(text, 1, sizeof(text) - 1, out);
  text[n] = '\0';
  fclose(out);
  return text;
}

static void test_failure_reported_in_debug_mode(void** state) {
  (void)state;
  const char* text = run(fail_proto, 1);
  if (strstr(text, "connection handler (task ") == NULL ||
      strstr(text, "returned EPROTO") == NULL)
    fail_msg("no report of the handler's status; stderr was:\n%s", text);
}

static void test_silent_outside_debug_mode(void** state) {
  (void)state;
  assert_string_equal(run(fail_proto, 0), "");
}

static void test_success_and_cancellation_silent(void** state) {
  (void)state;
  assert_null(strstr(run(succeed, 1), "connection handler"));
  assert_null(strstr(run(cancelled, 1), "connection handler"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_failure_reported_in_debug_mode),
      cmocka_unit_test(test_silent_outside_debug_mode),
      cmocka_unit_test(test_success_and_cancellation_silent),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
