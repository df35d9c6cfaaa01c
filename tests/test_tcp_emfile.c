/* A server out of file descriptors (EMFILE on accept): it pauses instead
 * of spinning on the readable socket, loses no waiting connection, and
 * serves them once descriptors are free again. Its own process: it lowers
 * RLIMIT_NOFILE. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"

#define kClients 3
#define kMaxFds 4096

static int echo_once(weft_stream_t* c, void* arg) {
  char line[64];
  (void)arg;
  ptrdiff_t n = weft_stream_readline(c, line, sizeof(line));
  if (n > 0)
    weft_stream_write(c, line, (size_t)n);
  return 0;
}

static int raw_connect(int fd, unsigned port) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return connect(fd, (struct sockaddr*)&a, sizeof(a));
}

/* On the executor: a blocking round trip on a raw client socket. */
static int round_trip(void* arg, void** result) {
  int fd = (int)(intptr_t)arg;
  char buf[8];
  (void)result;
  if (send(fd, "hi\n", 3, 0) != 3)
    return -1;
  ssize_t n = recv(fd, buf, sizeof(buf), MSG_WAITALL);
  return n == 3 && memcmp(buf, "hi\n", 3) == 0 ? 0 : -1;
}

static double cpu_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static int emfile_main(void* arg, void** result) {
  (void)arg;
  (void)result;
  weft_server_t* srv;
  if (!WEFT_EXPECT_OK(
          weft_tcp_serve("127.0.0.1", 0, echo_once, NULL, NULL, &srv)))
    return -1;
  unsigned port = weft_server_port(srv);
  /* Sockets first, then use up every other descriptor, then connect: the
   * connections wait in the backlog with no descriptor left to accept. */
  int clients[kClients];
  for (int i = 0; i < kClients; i++)
    clients[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  static int spare[kMaxFds];
  int nspare = 0;
  int fd, base = open("/dev/null", O_RDONLY | O_CLOEXEC);
  WEFT_EXPECT(base >= 0);
  spare[nspare++] = base;
  while (nspare < kMaxFds && (fd = dup(base)) >= 0)
    spare[nspare++] = fd;
  WEFT_EXPECT(errno == EMFILE);
  for (int i = 0; i < kClients; i++)
    WEFT_EXPECT_OK(raw_connect(clients[i], port));
  uint64_t accepted, pauses = 0;
  while (pauses < 3) {
    weft_sleep_ms(5);
    weft_server_stats(srv, &accepted, &pauses);
  }
  WEFT_EXPECT_EQ(accepted, 0);
  /* Paused, not spinning: over 200 ms the process stays mostly idle. */
  double cpu0 = cpu_seconds();
  weft_sleep_ms(200);
  WEFT_EXPECT(cpu_seconds() - cpu0 < 0.1);
  for (int i = 0; i < nspare; i++)
    close(spare[i]);
  for (int i = 0; i < kClients; i++) {
    WEFT_EXPECT_OK(
        weft_run_blocking(round_trip, (void*)(intptr_t)clients[i], NULL));
    close(clients[i]);
  }
  weft_server_stats(srv, &accepted, NULL);
  WEFT_EXPECT_EQ(accepted, kClients);
  WEFT_EXPECT_OK(weft_server_close(srv));
  return 0;
}

static void test_tcp_emfile_pauses_and_resumes(void** state) {
  (void)state;
  /* A low limit keeps using them all up quick; the runtime's own loops
   * and threads need a few dozen. */
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = 256;
  assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
  WEFT_ASSERT_OK(weft_test_run_detached(2, emfile_main, NULL, NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tcp_emfile_pauses_and_resumes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
