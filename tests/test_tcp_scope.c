/* A connection handler may start with a timeout scope (or anything else
 * that takes its own worker's timers) while it runs on a worker other
 * than its stream's. The handler used to start holding its stream's loop,
 * so two handlers, each on the other's stream worker, could each spin for
 * the loop the other held: a deadlock that hung servers whose handlers
 * begin with weft_timeout_enter (TLS servers do, for the handshake). */
#include <string.h>

#include "helpers.h"

enum { kClients = 200 };

static int scoped_echo(weft_stream_t* c, void* arg) {
  (void)arg;
  weft_timeout_t* scope;
  if (!WEFT_EXPECT_OK(weft_timeout_enter(10000, &scope)))
    return -1;
  char line[32];
  ptrdiff_t n = weft_stream_readline(c, line, sizeof(line));
  if (n > 0)
    WEFT_EXPECT_OK(weft_stream_write(c, line, (size_t)n));
  WEFT_EXPECT_OK(weft_timeout_exit(scope));
  return 0;
}

static int client(void* arg, void** result) {
  (void)result;
  weft_stream_t* s;
  if (!WEFT_EXPECT_OK(
          weft_tcp_connect("127.0.0.1", (unsigned)(uintptr_t)arg, &s)))
    return -1;
  char line[32];
  WEFT_EXPECT_OK(weft_stream_write(s, "hi\n", 3));
  WEFT_EXPECT_EQ(weft_stream_readline(s, line, sizeof(line)), 3);
  WEFT_EXPECT_OK(weft_stream_close(s));
  return 0;
}

static int serve_main(void* arg, void** result) {
  (void)arg;
  (void)result;
  weft_server_t* srv;
  WEFT_EXPECT_OK(weft_tcp_serve("127.0.0.1", 0, scoped_echo, NULL, NULL, &srv));
  void* port = (void*)(uintptr_t)weft_server_port(srv);
  weft_task_t* t[kClients];
  for (int i = 0; i < kClients; i++)
    WEFT_EXPECT_OK(weft_spawn(NULL, client, port, NULL, &t[i]));
  for (int i = 0; i < kClients; i++) {
    WEFT_EXPECT_OK(weft_await(t[i], NULL));
    weft_task_release(t[i]);
  }
  WEFT_EXPECT_OK(weft_server_close(srv));
  return 0;
}

static void test_handlers_start_with_a_timeout_scope(void** state) {
  (void)state;
  for (int round = 0; round < 5; round++)
    WEFT_ASSERT_OK(weft_test_run_detached(4, serve_main, NULL, NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_handlers_start_with_a_timeout_scope),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
