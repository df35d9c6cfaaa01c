/* Debug mode's shutdown report of I/O objects the program left open: a
 * TCP server, both ends of a connection, a UDP socket, a file. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "core/task.h"

static int hold_connection(weft_stream_t* conn, void* arg) {
  (void)arg;
  char c;
  /* Until the runtime ends: the connection stays open. */
  weft_stream_read(conn, &c, 1);
  return 0;
}

static int main_leave_open(void* arg, void** result) {
  weft_server_t* srv;
  weft_stream_t* client;
  weft_udp_t* udp;
  weft_file_t* file;
  (void)result;
  WEFT_EXPECT_OK(
      weft_tcp_serve("127.0.0.1", 0, hold_connection, NULL, NULL, &srv));
  WEFT_EXPECT_OK(weft_tcp_connect("127.0.0.1", weft_server_port(srv), &client));
  WEFT_EXPECT_OK(weft_udp_bind("127.0.0.1", 0, &udp));
  WEFT_EXPECT_OK(
      weft_file_open(arg, O_WRONLY | O_CREAT | O_TRUNC, 0600, &file));
  return 0; /* all of them left for the runtime to close */
}

/* Runs main_leave_open with `cfg` and returns what the warnings stream
 * got (free it). */
static char* run_leaving_open(const weft_config_t* cfg) {
  char path[] = "/tmp/weft-debug-shutdown-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  FILE* out = tmpfile();
  weft__warn_set_stream(out);
  WEFT_ASSERT_OK(weft_run(main_leave_open, path, cfg, NULL));
  weft__warn_set_stream(NULL);
  WEFT_ASSERT_NO_FAILURES();
  unlink(path);
  fflush(out);
  long n = ftell(out);
  char* s = calloc(1, (size_t)n + 1);
  rewind(out);
  assert_int_equal(fread(s, 1, (size_t)n, out), (size_t)n);
  fclose(out);
  return s;
}

static void test_open_objects_listed_at_shutdown(void** state) {
  (void)state;
  weft_config_t cfg = {.workers = 2, .debug = 1};
  char* s = run_leaving_open(&cfg);
  printf("%s", s);
  assert_non_null(strstr(s, "weft: shutdown: TCP server 127.0.0.1:"));
  assert_non_null(strstr(s, "weft: shutdown: TCP stream 127.0.0.1:"));
  assert_non_null(strstr(s, " -> 127.0.0.1:"));
  assert_non_null(strstr(s, "weft: shutdown: UDP socket 127.0.0.1:"));
  assert_non_null(strstr(s, "weft: shutdown: file (descriptor "));
  assert_non_null(strstr(s, "still open on worker "));
  free(s);
}

/* Without debug mode the runtime closes them silently. */
static void test_silent_without_debug(void** state) {
  (void)state;
  unsetenv("WEFT_DEBUG");
  weft_config_t cfg = {.workers = 2};
  char* s = run_leaving_open(&cfg);
  assert_string_equal(s, "");
  free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_open_objects_listed_at_shutdown),
      cmocka_unit_test(test_silent_without_debug),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
