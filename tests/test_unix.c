/* Unix domain sockets (connect, serve, the socket file's life, TLS over
 * one) and streams over descriptors the program already has: pipes,
 * socket pairs, terminals; bad descriptors and regular files. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include "helpers.h"

static char sockdir[64];

static const char* sock_path(const char* name) {
  static _Thread_local char path[128];
  snprintf(path, sizeof(path), "%s/%s", sockdir, name);
  return path;
}

static int is_socket(const char* path) {
  struct stat st;
  return lstat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* ---- Unix sockets -------------------------------------------------------- */

static int echo_lines(weft_stream_t* c, void* arg) {
  (void)arg;
  char line[128];
  ptrdiff_t n;
  struct sockaddr_storage ss;
  WEFT_EXPECT_ERR(weft_stream_peername(c, &ss), WEFT_EINVAL); /* a pipe */
  while ((n = weft_stream_readline(c, line, sizeof(line))) > 0)
    if (weft_stream_write(c, line, (size_t)n) != 0)
      break;
  return 0;
}

static int unix_client(void* arg, void** result) {
  (void)result;
  weft_stream_t* s;
  if (!WEFT_EXPECT_OK(weft_unix_connect(arg, &s)))
    return -1;
  char got[32];
  for (int i = 0; i < 10; i++) {
    char want[32];
    int len = snprintf(want, sizeof(want), "unix line %d\n", i);
    WEFT_EXPECT_OK(weft_stream_write(s, want, (size_t)len));
    WEFT_EXPECT_EQ(weft_stream_readline(s, got, sizeof(got)), len);
    WEFT_EXPECT(memcmp(want, got, (size_t)len) == 0);
  }
  WEFT_EXPECT_OK(weft_stream_shutdown(s));
  WEFT_EXPECT_EQ(weft_stream_read(s, got, sizeof(got)), 0);
  WEFT_EXPECT_OK(weft_stream_close(s));
  return 0;
}

static int unix_echo_main(void* arg, void** result) {
  (void)arg;
  (void)result;
  char path[128];
  snprintf(path, sizeof(path), "%s", sock_path("echo.sock"));
  /* A stale socket file from an earlier server is replaced. */
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un un = {.sun_family = AF_UNIX};
  memcpy(un.sun_path, path, strlen(path) + 1);
  WEFT_EXPECT_OK(bind(fd, (struct sockaddr*)&un, sizeof(un)));
  close(fd);
  WEFT_EXPECT(is_socket(path));
  WEFT_EXPECT_ERR(weft_unix_connect(path, &(weft_stream_t*){NULL}),
                  UV_ECONNREFUSED);
  weft_server_t* srv;
  if (!WEFT_EXPECT_OK(weft_unix_serve(path, echo_lines, NULL, NULL, &srv)))
    return -1;
  WEFT_EXPECT_EQ(weft_server_port(srv), 0);
  weft_task_t* t[8];
  for (int i = 0; i < 8; i++)
    WEFT_EXPECT_OK(weft_spawn(NULL, unix_client, path, NULL, &t[i]));
  for (int i = 0; i < 8; i++) {
    WEFT_EXPECT_OK(weft_await(t[i], NULL));
    weft_task_release(t[i]);
  }
  uint64_t accepted;
  weft_server_stats(srv, &accepted, NULL);
  WEFT_EXPECT_EQ(accepted, 8);
  WEFT_EXPECT_OK(weft_server_close(srv));
  WEFT_EXPECT(!is_socket(path)); /* the server removed its file */
  WEFT_EXPECT_ERR(weft_unix_connect(path, &(weft_stream_t*){NULL}), UV_ENOENT);
  return 0;
}

static void test_unix_echo(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(3, unix_echo_main, NULL, NULL));
}

static int unix_bad_main(void* arg, void** result) {
  (void)arg;
  (void)result;
  weft_server_t* srv;
  weft_stream_t* s;
  char longpath[200];
  memset(longpath, 'a', sizeof(longpath) - 1);
  longpath[sizeof(longpath) - 1] = '\0';
  WEFT_EXPECT_ERR(weft_unix_connect(NULL, &s), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_unix_connect("", &s), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_unix_connect(longpath, &s), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_unix_serve(longpath, echo_lines, NULL, NULL, &srv),
                  WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_unix_serve(sock_path("x.sock"), NULL, NULL, NULL, &srv),
                  WEFT_EINVAL);
  weft_server_config_t reuse = {.flags = WEFT_SERVE_REUSEPORT};
  WEFT_EXPECT_ERR(weft_unix_serve(sock_path("x.sock"), echo_lines, NULL, &reuse,
                                  &srv),
                  WEFT_EINVAL);
  /* A regular file at the path is not replaced. */
  char file[128];
  snprintf(file, sizeof(file), "%s", sock_path("file"));
  FILE* f = fopen(file, "w");
  fclose(f);
  WEFT_EXPECT_ERR(weft_unix_serve(file, echo_lines, NULL, NULL, &srv),
                  UV_EADDRINUSE);
  WEFT_EXPECT(access(file, F_OK) == 0);
  unlink(file);
  /* Left open: the runtime closes it at its end. */
  WEFT_EXPECT_OK(
      weft_unix_serve(sock_path("left.sock"), echo_lines, NULL, NULL, &srv));
  return 0;
}

static void test_unix_bad_arguments(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(1, unix_bad_main, NULL, NULL));
  WEFT_ASSERT_ERR(weft_unix_connect("/x", &(weft_stream_t*){NULL}),
                  WEFT_ENOTTASK);
  assert_false(is_socket(sock_path("left.sock")));
}

/* ---- Streams over descriptors -------------------------------------------- */

static int pipe_main(void* arg, void** result) {
  (void)arg;
  (void)result;
  int fds[2];
  WEFT_EXPECT_OK(pipe(fds));
  weft_stream_t *r, *w;
  WEFT_EXPECT_OK(weft_stream_open_fd(fds[0], &r));
  WEFT_EXPECT_OK(weft_stream_open_fd(fds[1], &w));
  WEFT_EXPECT_OK(weft_stream_write(w, "through a pipe\nand more", 23));
  char line[64];
  WEFT_EXPECT_EQ(weft_stream_readline(r, line, sizeof(line)), 15);
  WEFT_EXPECT_OK(weft_stream_close(w)); /* closes fds[1]: r sees the end */
  WEFT_EXPECT_EQ(weft_stream_readline(r, line, sizeof(line)), 8);
  WEFT_EXPECT_EQ(weft_stream_read(r, line, sizeof(line)), 0);
  WEFT_EXPECT_OK(weft_stream_close(r));
  WEFT_EXPECT(fcntl(fds[0], F_GETFD) < 0); /* the stream closed it */

  /* A socket pair: both ends read and write. */
  int sv[2];
  WEFT_EXPECT_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  weft_stream_t *a, *b;
  WEFT_EXPECT_OK(weft_stream_open_fd(sv[0], &a));
  WEFT_EXPECT_OK(weft_stream_open_fd(sv[1], &b));
  WEFT_EXPECT_OK(weft_stream_write(a, "ping\n", 5));
  WEFT_EXPECT_EQ(weft_stream_readline(b, line, sizeof(line)), 5);
  WEFT_EXPECT_OK(weft_stream_write(b, "pong\n", 5));
  WEFT_EXPECT_EQ(weft_stream_readline(a, line, sizeof(line)), 5);
  WEFT_EXPECT_OK(weft_stream_close(a));
  WEFT_EXPECT_OK(weft_stream_close(b));
  return 0;
}

static void test_fd_pipes_and_socketpairs(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(2, pipe_main, NULL, NULL));
}

/* A pseudo-terminal: the slave side is what a program's stdin would be. */
static int tty_main(void* arg, void** result) {
  (void)arg;
  (void)result;
  int master = posix_openpt(O_RDWR | O_NOCTTY);
  if (!WEFT_EXPECT(master >= 0) || !WEFT_EXPECT_OK(grantpt(master)) ||
      !WEFT_EXPECT_OK(unlockpt(master)))
    return -1;
  int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
  WEFT_EXPECT(slave >= 0 && isatty(slave));
  weft_stream_t *m, *t;
  WEFT_EXPECT_OK(weft_stream_open_fd(master, &m));
  WEFT_EXPECT_OK(weft_stream_open_fd(slave, &t));
  /* Typed at the terminal: a line for the program. */
  WEFT_EXPECT_OK(weft_stream_write(m, "typed\n", 6));
  char line[64];
  WEFT_EXPECT_EQ(weft_stream_readline(t, line, sizeof(line)), 6);
  WEFT_EXPECT(memcmp(line, "typed\n", 6) == 0);
  /* Printed by the program: the terminal shows it (after the echo). */
  WEFT_EXPECT_OK(weft_stream_write(t, "shown\n", 6));
  ptrdiff_t n = weft_stream_readuntil(m, "shown", 5, line, sizeof(line));
  WEFT_EXPECT(n >= 5);
  WEFT_EXPECT_OK(weft_stream_close(t));
  WEFT_EXPECT(fcntl(slave, F_GETFD) < 0); /* closed, reopened or not */
  WEFT_EXPECT_OK(weft_stream_close(m));
  return 0;
}

static void test_fd_terminal(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(2, tty_main, NULL, NULL));
}

static int bad_fd_main(void* arg, void** result) {
  (void)arg;
  (void)result;
  weft_stream_t* s;
  WEFT_EXPECT_ERR(weft_stream_open_fd(-1, &s), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_stream_open_fd(0, NULL), WEFT_EINVAL);
  int fds[2];
  WEFT_EXPECT_OK(pipe(fds));
  close(fds[0]);
  close(fds[1]);
  WEFT_EXPECT_ERR(weft_stream_open_fd(fds[0], &s), UV_EBADF);
  /* A regular file is no stream; it stays open. */
  char file[128];
  snprintf(file, sizeof(file), "%s", sock_path("regular"));
  int fd = open(file, O_RDWR | O_CREAT, 0600);
  WEFT_EXPECT_ERR(weft_stream_open_fd(fd, &s), WEFT_EINVAL);
  WEFT_EXPECT_OK(fcntl(fd, F_GETFD));
  close(fd);
  unlink(file);
  /* A UDP socket neither. */
  fd = socket(AF_INET, SOCK_DGRAM, 0);
  WEFT_EXPECT_ERR(weft_stream_open_fd(fd, &s), WEFT_EINVAL);
  close(fd);
  return 0;
}

static void test_fd_bad_descriptors(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(1, bad_fd_main, NULL, NULL));
  WEFT_ASSERT_ERR(weft_stream_open_fd(0, &(weft_stream_t*){NULL}),
                  WEFT_ENOTTASK);
}

static int setup_dir(void** state) {
  (void)state;
  snprintf(sockdir, sizeof(sockdir), "/tmp/weft-unix-XXXXXX");
  return mkdtemp(sockdir) != NULL ? 0 : -1;
}

static int remove_dir(void** state) {
  (void)state;
  return rmdir(sockdir);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_unix_echo),
      cmocka_unit_test(test_unix_bad_arguments),
      cmocka_unit_test(test_fd_pipes_and_socketpairs),
      cmocka_unit_test(test_fd_terminal),
      cmocka_unit_test(test_fd_bad_descriptors),
  };
  return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
