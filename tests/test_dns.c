/* DNS: getaddrinfo of names and literals, the port and family filter, the
 * max/n contract, errors as UV_EAI_* codes, getnameinfo, argument errors,
 * and cancellation (before the lookup, and racing with it). Only names
 * that /etc/hosts answers (localhost) and names that fail without a query
 * are looked up, so no test depends on a DNS server. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <uv.h>

#include "io/dns.h"
#include "helpers.h"

/* libuv's getaddrinfo codes: UV_EAI_ADDRFAMILY (-3000) .. UV_EAI_PROTOCOL. */
static int is_eai(int err) {
  return err <= UV_EAI_ADDRFAMILY && err >= UV_EAI_PROTOCOL;
}

static int is_loopback(const struct sockaddr_storage* ss) {
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in* in = (const struct sockaddr_in*)ss;
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6* in6 = (const struct sockaddr_in6*)ss;
    return memcmp(&in6->sin6_addr, &in6addr_loopback,
                  sizeof(in6addr_loopback)) == 0;
  }
  return 0;
}

static unsigned port_of(const struct sockaddr_storage* ss) {
  if (ss->ss_family == AF_INET)
    return ntohs(((const struct sockaddr_in*)ss)->sin_port);
  return ntohs(((const struct sockaddr_in6*)ss)->sin6_port);
}

static int main_localhost(void* arg, void** result) {
  struct sockaddr_storage a[8];
  size_t n = 99;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_getaddrinfo("localhost", 8080, 0, a, 8, &n));
  WEFT_EXPECT(n >= 1 && n <= 8);
  for (size_t i = 0; i < n; i++) {
    WEFT_EXPECT(is_loopback(&a[i]));
    WEFT_EXPECT_EQ(port_of(&a[i]), 8080);
    for (size_t j = 0; j < i; j++) /* no duplicates */
      WEFT_EXPECT(memcmp(&a[i], &a[j], sizeof(a[i])) != 0);
  }
  /* The family filter, and max = 1. */
  WEFT_EXPECT_OK(weft_getaddrinfo("localhost", 7, AF_INET, a, 1, &n));
  WEFT_EXPECT_EQ(n, 1);
  WEFT_EXPECT_EQ(a[0].ss_family, AF_INET);
  WEFT_EXPECT(is_loopback(&a[0]));
  WEFT_EXPECT_EQ(port_of(&a[0]), 7);
  return 0;
}

static void test_dns_localhost(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_localhost, NULL, NULL));
}

static int main_literals(void* arg, void** result) {
  struct sockaddr_storage a[4];
  size_t n = 99;
  char text[INET6_ADDRSTRLEN];
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_getaddrinfo("127.0.0.1", 80, 0, a, 4, &n));
  WEFT_EXPECT_EQ(n, 1);
  WEFT_EXPECT_EQ(a[0].ss_family, AF_INET);
  WEFT_EXPECT_EQ(port_of(&a[0]), 80);
  inet_ntop(AF_INET, &((struct sockaddr_in*)&a[0])->sin_addr, text,
            sizeof(text));
  WEFT_EXPECT(strcmp(text, "127.0.0.1") == 0);
  WEFT_EXPECT_OK(weft_getaddrinfo("127.0.0.1", 80, AF_INET, a, 4, &n));
  WEFT_EXPECT_EQ(n, 1);

  WEFT_EXPECT_OK(weft_getaddrinfo("::1", 53, 0, a, 4, &n));
  WEFT_EXPECT_EQ(n, 1);
  WEFT_EXPECT_EQ(a[0].ss_family, AF_INET6);
  WEFT_EXPECT(is_loopback(&a[0]));
  WEFT_EXPECT_EQ(port_of(&a[0]), 53);
  WEFT_EXPECT_OK(weft_getaddrinfo("::1", 53, AF_INET6, a, 4, &n));
  WEFT_EXPECT_EQ(n, 1);

  /* A literal of the other family: the system's answer, an error. */
  n = 99;
  WEFT_EXPECT(weft_getaddrinfo("127.0.0.1", 80, AF_INET6, a, 4, &n) < 0);
  WEFT_EXPECT_EQ(n, 0);
  WEFT_EXPECT(weft_getaddrinfo("::1", 80, AF_INET, a, 4, &n) < 0);
  WEFT_EXPECT_EQ(n, 0);

  /* The internal entry point is the same function. */
  WEFT_EXPECT_OK(weft__dns_resolve("127.0.0.1", 9, 0, a, 1, &n));
  WEFT_EXPECT_EQ(n, 1);
  WEFT_EXPECT_EQ(port_of(&a[0]), 9);
  return 0;
}

static void test_dns_literals(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_literals, NULL, NULL));
}

static int main_bad_host(void* arg, void** result) {
  struct sockaddr_storage a[2];
  size_t n = 99;
  (void)arg;
  (void)result;
  /* An empty label: the resolver refuses it without sending a query. */
  int err = weft_getaddrinfo("a..b", 80, 0, a, 2, &n);
  if (!WEFT_EXPECT(is_eai(err)))
    print_message("got %d (%s)\n", err, weft_err_name(err));
  WEFT_EXPECT_EQ(n, 0);
  /* weft_strerror knows libuv's codes. */
  WEFT_EXPECT(strlen(weft_strerror(err)) > 0);
  WEFT_EXPECT(strncmp(weft_err_name(err), "EAI_", 4) == 0);
  return 0;
}

static void test_dns_bad_host_is_eai_error(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_bad_host, NULL, NULL));
}

static int main_nameinfo(void* arg, void** result) {
  struct sockaddr_in in;
  char host[256];
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(uv_ip4_addr("127.0.0.1", 80, &in));
  WEFT_EXPECT_OK(weft_getnameinfo((struct sockaddr*)&in, host, sizeof(host)));
  WEFT_EXPECT(strlen(host) > 0);
  /* The name resolves back to a loopback address. */
  struct sockaddr_storage a[4];
  size_t n;
  WEFT_EXPECT_OK(weft_getaddrinfo(host, 80, AF_INET, a, 4, &n));
  WEFT_EXPECT(n >= 1 && is_loopback(&a[0]));
  /* Too small a buffer. */
  WEFT_EXPECT_ERR(weft_getnameinfo((struct sockaddr*)&in, host, 1),
                  WEFT_ENOBUFS);
  WEFT_EXPECT_EQ(host[0], '\0');
  return 0;
}

static void test_dns_getnameinfo(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_nameinfo, NULL, NULL));
}

static int main_args(void* arg, void** result) {
  struct sockaddr_storage a[2];
  struct sockaddr_in in;
  struct sockaddr un = {.sa_family = AF_UNIX};
  char host[64];
  size_t n;
  (void)arg;
  (void)result;
  WEFT_EXPECT_ERR(weft_getaddrinfo(NULL, 80, 0, a, 2, &n), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_getaddrinfo("localhost", 80, 0, NULL, 2, &n),
                  WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_getaddrinfo("localhost", 80, 0, a, 0, &n), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_getaddrinfo("localhost", 80, 0, a, 2, NULL),
                  WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_getaddrinfo("localhost", 65536, 0, a, 2, &n),
                  WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_getaddrinfo("localhost", 80, AF_UNIX, a, 2, &n),
                  WEFT_EINVAL);
  WEFT_EXPECT_OK(uv_ip4_addr("127.0.0.1", 80, &in));
  WEFT_EXPECT_ERR(weft_getnameinfo(NULL, host, sizeof(host)), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_getnameinfo((struct sockaddr*)&in, NULL, 8),
                  WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_getnameinfo((struct sockaddr*)&in, host, 0),
                  WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_getnameinfo(&un, host, sizeof(host)), WEFT_EINVAL);
  return 0;
}

static void test_dns_argument_errors(void** state) {
  struct sockaddr_storage a[2];
  struct sockaddr_in in;
  char host[64];
  size_t n;
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_args, NULL, NULL));
  /* Outside a task. */
  WEFT_ASSERT_ERR(weft_getaddrinfo("localhost", 80, 0, a, 2, &n),
                  WEFT_ENOTTASK);
  WEFT_ASSERT_OK(uv_ip4_addr("127.0.0.1", 80, &in));
  WEFT_ASSERT_ERR(weft_getnameinfo((struct sockaddr*)&in, host, sizeof(host)),
                  WEFT_ENOTTASK);
}

/* A cancellation already pending: a lookup returns WEFT_ECANCELED without
 * starting; a literal needs no await and leaves it for the next one. */
static int main_precancelled(void* arg, void** result) {
  struct sockaddr_storage a[2];
  struct sockaddr_in in;
  char host[64];
  size_t n = 99;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_cancel(weft_current_task()));
  WEFT_EXPECT_OK(weft_getaddrinfo("127.0.0.1", 80, 0, a, 2, &n));
  WEFT_EXPECT_EQ(n, 1);
  WEFT_EXPECT_ERR(weft_getaddrinfo("localhost", 80, 0, a, 2, &n),
                  WEFT_ECANCELED);
  WEFT_EXPECT_EQ(n, 0);
  WEFT_EXPECT_OK(weft_yield()); /* taken by the lookup */

  WEFT_EXPECT_OK(uv_ip4_addr("127.0.0.1", 80, &in));
  WEFT_EXPECT_OK(weft_cancel(weft_current_task()));
  WEFT_EXPECT_ERR(weft_getnameinfo((struct sockaddr*)&in, host, sizeof(host)),
                  WEFT_ECANCELED);
  WEFT_EXPECT_OK(weft_yield());
  return 0;
}

static void test_dns_cancel_pending_before_lookup(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_precancelled, NULL, NULL));
}

enum { kRacers = 8, kRaceRounds = 30 };

typedef struct {
  int got; /* addresses found, or -1 */
} race_t;

static int lookup_task(void* arg, void** result) {
  race_t* r = arg;
  struct sockaddr_storage a[4];
  size_t n = 0;
  (void)result;
  int err = weft_getaddrinfo("localhost", 1234, 0, a, 4, &n);
  r->got = err == 0 ? (int)n : -1;
  if (err == 0)
    for (size_t i = 0; i < n; i++)
      WEFT_EXPECT(is_loopback(&a[i]) && port_of(&a[i]) == 1234);
  else
    WEFT_EXPECT_ERR(err, WEFT_ECANCELED);
  return err;
}

/* Lookups cancelled while queued for, or running on, libuv's pool: each
 * ends either cancelled (with nothing) or with its full answer; which one
 * depends on the pool, both are right, and the task never returns before
 * the pool is done with its request (ASan would see it). */
static int main_race(void* arg, void** result) {
  weft_task_t* t[kRacers];
  race_t r[kRacers];
  int* cancelled = arg;
  (void)result;
  for (int round = 0; round < kRaceRounds; round++) {
    for (int i = 0; i < kRacers; i++) {
      r[i].got = -2;
      WEFT_EXPECT_OK(weft_spawn(NULL, lookup_task, &r[i], NULL, &t[i]));
    }
    /* Odd rounds: every lookup is in libuv's hands first (queued for the
     * pool or running there), so the cancellation goes through uv_cancel. */
    if (round % 2 == 1)
      for (int i = 0; i < kRacers; i++)
        WEFT_EXPECT_OK(
            WEFT_YIELD_UNTIL(weft_task_state(t[i]) == WEFT_TASK_SUSPENDED ||
                             weft_task_done(t[i])));
    for (int i = 0; i < kRacers; i++)
      weft_cancel(t[i]); /* WEFT_EBUSY if it already finished */
    for (int i = 0; i < kRacers; i++) {
      int err = weft_await(t[i], NULL);
      WEFT_EXPECT(err == 0 || err == WEFT_ECANCELED);
      WEFT_EXPECT(err == 0 ? r[i].got >= 1 : r[i].got <= -1);
      cancelled[round % 2] += err == WEFT_ECANCELED;
      weft_task_release(t[i]);
    }
  }
  return 0;
}

static void test_dns_cancel_racing_lookup(void** state) {
  int cancelled[2] = {0, 0};
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_race, cancelled, NULL));
  print_message("cancelled: %d of %d before they started, %d of %d in the "
                "pool\n",
                cancelled[0], kRacers * kRaceRounds / 2, cancelled[1],
                kRacers * kRaceRounds / 2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dns_localhost),
      cmocka_unit_test(test_dns_literals),
      cmocka_unit_test(test_dns_bad_host_is_eai_error),
      cmocka_unit_test(test_dns_getnameinfo),
      cmocka_unit_test(test_dns_argument_errors),
      cmocka_unit_test(test_dns_cancel_pending_before_lookup),
      cmocka_unit_test(test_dns_cancel_racing_lookup),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
