/* Option structs that can grow (weft.h, "Option structs can grow"): a zero
 * size reads the 0.1 layout, the WEFT_*_INIT macros set the size, a longer
 * struct from a newer header is accepted only when what this library does
 * not know is zero, and a size below the 0.1 layout is refused. Checked for
 * every option struct, through the call that takes it. */
#include <string.h>

#include "helpers.h"

/* A struct as a newer header might declare it: this version's plus one
 * field this library does not know. */
#define NEWER(T)                                                               \
  struct {                                                                     \
    T known;                                                                   \
    uint64_t added;                                                            \
  }

/* ---- weft_config_t --------------------------------------------------- */

static void test_config_sizes(void** state) {
  (void)state;
  weft_runtime_t* rt = NULL;

  weft_config_t zeroed = {.workers = 3}; /* size 0: the 0.1 layout */
  WEFT_ASSERT_OK(weft_runtime_new(&zeroed, &rt));
  assert_int_equal(weft_runtime_workers(rt), 3);
  WEFT_ASSERT_OK(weft_runtime_free(rt));

  weft_config_t init = WEFT_CONFIG_INIT;
  assert_int_equal(init.size, sizeof(weft_config_t));
  init.workers = 2;
  WEFT_ASSERT_OK(weft_runtime_new(&init, &rt));
  assert_int_equal(weft_runtime_workers(rt), 2);
  WEFT_ASSERT_OK(weft_runtime_free(rt));

  NEWER(weft_config_t) newer;
  memset(&newer, 0, sizeof(newer));
  newer.known.size = sizeof(newer);
  newer.known.workers = 1;
  WEFT_ASSERT_OK(weft_runtime_new(&newer.known, &rt));
  assert_int_equal(weft_runtime_workers(rt), 1);
  WEFT_ASSERT_OK(weft_runtime_free(rt));

  newer.added = 1; /* an option this library cannot honour */
  rt = NULL;
  WEFT_ASSERT_ERR(weft_runtime_new(&newer.known, &rt), WEFT_EINVAL);
  assert_null(rt);

  weft_config_t small = {.size = sizeof(size_t)}; /* below the 0.1 layout */
  WEFT_ASSERT_ERR(weft_runtime_new(&small, &rt), WEFT_EINVAL);
  WEFT_ASSERT_ERR(weft_run(weft_test_ret_arg, NULL, &small, NULL), WEFT_EINVAL);
}

/* ---- weft_spawn_opts_t ----------------------------------------------- */

static int spawn_sizes(void* arg, void** result) {
  (void)arg, (void)result;
  weft_task_t* t = NULL;

  weft_spawn_opts_t zeroed = {.name = "zeroed"};
  if (WEFT_EXPECT_OK(weft_spawn(NULL, weft_test_ret_arg, NULL, &zeroed, &t))) {
    WEFT_EXPECT(strcmp(weft_task_name(t), "zeroed") == 0);
    WEFT_EXPECT_OK(weft_await(t, NULL));
    weft_task_release(t);
  }

  weft_spawn_opts_t init = WEFT_SPAWN_OPTS_INIT;
  WEFT_EXPECT_EQ(init.size, sizeof(weft_spawn_opts_t));
  init.name = "init";
  init.stack_size = 64 * 1024;
  if (WEFT_EXPECT_OK(weft_spawn(NULL, weft_test_ret_arg, NULL, &init, &t))) {
    WEFT_EXPECT(strcmp(weft_task_name(t), "init") == 0);
    WEFT_EXPECT_OK(weft_await(t, NULL));
    weft_task_release(t);
  }

  NEWER(weft_spawn_opts_t) newer;
  memset(&newer, 0, sizeof(newer));
  newer.known.size = sizeof(newer);
  newer.known.name = "newer";
  if (WEFT_EXPECT_OK(
          weft_spawn(NULL, weft_test_ret_arg, NULL, &newer.known, &t))) {
    WEFT_EXPECT(strcmp(weft_task_name(t), "newer") == 0);
    WEFT_EXPECT_OK(weft_await(t, NULL));
    weft_task_release(t);
  }
  newer.added = 7;
  t = NULL;
  WEFT_EXPECT_ERR(weft_spawn(NULL, weft_test_ret_arg, NULL, &newer.known, &t),
                  WEFT_EINVAL);
  WEFT_EXPECT(t == NULL);

  weft_spawn_opts_t small = {.size = 1};
  WEFT_EXPECT_ERR(weft_spawn(NULL, weft_test_ret_arg, NULL, &small, NULL),
                  WEFT_EINVAL);
  return 0;
}

static void test_spawn_opts_sizes(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, spawn_sizes, NULL, NULL));
}

/* ---- weft_server_config_t and weft_http_server_config_t ---------------- */

static int conn_close(weft_stream_t* conn, void* arg) {
  (void)conn, (void)arg;
  return 0;
}

static int http_ok(const weft_http_request_t* req, weft_http_response_t* resp,
                   void* arg) {
  (void)req, (void)arg;
  return weft_http_response_set(resp, 200, NULL, "", 0);
}

static int server_sizes(void* arg, void** result) {
  (void)arg, (void)result;
  weft_server_t* srv = NULL;

  weft_server_config_t init = WEFT_SERVER_CONFIG_INIT;
  WEFT_EXPECT_EQ(init.size, sizeof(weft_server_config_t));
  init.backlog = 16;
  if (WEFT_EXPECT_OK(
          weft_tcp_serve("127.0.0.1", 0, conn_close, NULL, &init, &srv)))
    WEFT_EXPECT_OK(weft_server_close(srv));

  NEWER(weft_server_config_t) newer;
  memset(&newer, 0, sizeof(newer));
  newer.known.size = sizeof(newer);
  if (WEFT_EXPECT_OK(
          weft_tcp_serve("127.0.0.1", 0, conn_close, NULL, &newer.known, &srv)))
    WEFT_EXPECT_OK(weft_server_close(srv));
  newer.added = 1;
  WEFT_EXPECT_ERR(weft_tcp_serve("127.0.0.1", 0, conn_close, NULL, &newer.known,
                                 &srv),
                  WEFT_EINVAL);
  weft_server_config_t small = {.size = 2};
  WEFT_EXPECT_ERR(weft_tcp_serve("127.0.0.1", 0, conn_close, NULL, &small,
                                 &srv),
                  WEFT_EINVAL);

  weft_http_server_config_t hinit = WEFT_HTTP_SERVER_CONFIG_INIT;
  WEFT_EXPECT_EQ(hinit.size, sizeof(weft_http_server_config_t));
  hinit.tcp = (weft_server_config_t)WEFT_SERVER_CONFIG_INIT;
  if (WEFT_EXPECT_OK(
          weft_http_serve("127.0.0.1", 0, http_ok, NULL, &hinit, &srv)))
    WEFT_EXPECT_OK(weft_server_close(srv));
  NEWER(weft_http_server_config_t) hnewer;
  memset(&hnewer, 0, sizeof(hnewer));
  hnewer.known.size = sizeof(hnewer);
  if (WEFT_EXPECT_OK(
          weft_http_serve("127.0.0.1", 0, http_ok, NULL, &hnewer.known, &srv)))
    WEFT_EXPECT_OK(weft_server_close(srv));
  hnewer.added = 1;
  WEFT_EXPECT_ERR(weft_http_serve("127.0.0.1", 0, http_ok, NULL, &hnewer.known,
                                  &srv),
                  WEFT_EINVAL);
  /* The embedded TCP config is read by its own size. */
  memset(&hnewer, 0, sizeof(hnewer));
  hnewer.known.tcp.size = 3;
  WEFT_EXPECT_ERR(weft_http_serve("127.0.0.1", 0, http_ok, NULL, &hnewer.known,
                                  &srv),
                  WEFT_EINVAL);
  return 0;
}

static void test_server_config_sizes(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, server_sizes, NULL, NULL));
}

/* ---- weft_process_opts_t ----------------------------------------------- */

static int run_true(const weft_process_opts_t* opts) {
  char* argv[] = {"true", NULL};
  weft_process_t* p = NULL;
  int status = -1;
  int err = weft_process_exec(argv, opts, &p);
  if (err != 0)
    return err;
  err = weft_process_wait(p, &status);
  weft_process_free(p);
  return err != 0 ? err : status;
}

static int process_sizes(void* arg, void** result) {
  (void)arg, (void)result;
  weft_process_opts_t zeroed = {.stdout_mode = WEFT_STDIO_NULL};
  WEFT_EXPECT_OK(run_true(&zeroed));
  weft_process_opts_t init = WEFT_PROCESS_OPTS_INIT;
  WEFT_EXPECT_EQ(init.size, sizeof(weft_process_opts_t));
  init.stdout_mode = WEFT_STDIO_NULL;
  WEFT_EXPECT_OK(run_true(&init));

  NEWER(weft_process_opts_t) newer;
  memset(&newer, 0, sizeof(newer));
  newer.known.size = sizeof(newer);
  WEFT_EXPECT_OK(run_true(&newer.known));
  newer.added = 1;
  WEFT_EXPECT_ERR(run_true(&newer.known), WEFT_EINVAL);
  weft_process_opts_t small = {.size = 4};
  WEFT_EXPECT_ERR(run_true(&small), WEFT_EINVAL);
  return 0;
}

static void test_process_opts_sizes(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, process_sizes, NULL, NULL));
}

/* ---- weft_http_client_config_t ----------------------------------------- */

static int client_sizes(void* arg, void** result) {
  (void)arg, (void)result;
  weft_http_client_t* c = NULL;
  weft_http_client_config_t init = WEFT_HTTP_CLIENT_CONFIG_INIT;
  WEFT_EXPECT_EQ(init.size, sizeof(weft_http_client_config_t));
  init.max_conns_per_host = 2;
  if (WEFT_EXPECT_OK(weft_http_client_new(&init, &c)))
    WEFT_EXPECT_OK(weft_http_client_free(c));

  NEWER(weft_http_client_config_t) newer;
  memset(&newer, 0, sizeof(newer));
  newer.known.size = sizeof(newer);
  if (WEFT_EXPECT_OK(weft_http_client_new(&newer.known, &c)))
    WEFT_EXPECT_OK(weft_http_client_free(c));
  newer.added = 1;
  c = NULL;
  WEFT_EXPECT_ERR(weft_http_client_new(&newer.known, &c), WEFT_EINVAL);
  WEFT_EXPECT(c == NULL);
  weft_http_client_config_t small = {.size = 5};
  WEFT_EXPECT_ERR(weft_http_client_new(&small, &c), WEFT_EINVAL);
  return 0;
}

static void test_http_client_config_sizes(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, client_sizes, NULL, NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_config_sizes),
      cmocka_unit_test(test_spawn_opts_sizes),
      cmocka_unit_test(test_server_config_sizes),
      cmocka_unit_test(test_process_opts_sizes),
      cmocka_unit_test(test_http_client_config_sizes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
