/* UDP: two sockets exchanging datagrams, the queue of datagrams nobody
 * received yet and its bound (drops counted), truncation and empty
 * datagrams, receivers cancelled without losing a datagram, a socket used
 * from a task on another worker, close while a receiver waits, sockets
 * left open at runtime end, the queued send path, and argument errors.
 * Everything on 127.0.0.1. Where a test needs to know that a datagram has
 * arrived it yields until the socket has counted it (weft__udp_queued,
 * weft_udp_dropped); that a receiver waits, until the socket lists it
 * (weft__udp_receivers: a suspended task may still be on its way to the
 * socket's worker). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <uv.h>

#include "helpers.h"
#include "io/udp.h"

static weft_udp_t* bind_local(void) {
  weft_udp_t* u = NULL;
  WEFT_EXPECT_OK(weft_udp_bind("127.0.0.1", 0, &u));
  return u;
}

static struct sockaddr_storage name_of(weft_udp_t* u) {
  struct sockaddr_storage ss;
  WEFT_EXPECT_OK(weft_udp_sockname(u, &ss));
  return ss;
}

static const struct sockaddr* sa(const struct sockaddr_storage* ss) {
  return (const struct sockaddr*)ss;
}

static int same_addr(const struct sockaddr_storage* a,
                     const struct sockaddr_storage* b) {
  const struct sockaddr_in* x = (const struct sockaddr_in*)a;
  const struct sockaddr_in* y = (const struct sockaddr_in*)b;
  return x->sin_family == AF_INET && y->sin_family == AF_INET &&
         x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
}

static int send_u32(weft_udp_t* u, uint32_t v,
                    const struct sockaddr_storage* to) {
  return weft_udp_send(u, &v, sizeof(v), sa(to));
}

/* Receives one 4-byte datagram: its value, or ~0u on an error. */
static uint32_t recv_u32(weft_udp_t* u) {
  uint32_t v = ~0u;
  ptrdiff_t n = weft_udp_recv(u, &v, sizeof(v), NULL);
  return n == (ptrdiff_t)sizeof(v) ? v : ~0u;
}

/* ---- Exchange ------------------------------------------------------------ */

static int main_exchange(void* arg, void** result) {
  char buf[64];
  struct sockaddr_storage from;
  (void)arg;
  (void)result;
  weft_udp_t* a = bind_local();
  weft_udp_t* b = bind_local();
  struct sockaddr_storage an = name_of(a), bn = name_of(b);
  WEFT_EXPECT_EQ(an.ss_family, AF_INET);
  WEFT_EXPECT(ntohs(((struct sockaddr_in*)&an)->sin_port) != 0);
  WEFT_EXPECT(!same_addr(&an, &bn));

  for (int i = 0; i < 50; i++) {
    WEFT_EXPECT_OK(weft_udp_send(a, "ping", 4, sa(&bn)));
    memset(&from, 0, sizeof(from));
    WEFT_EXPECT_EQ(weft_udp_recv(b, buf, sizeof(buf), &from), 4);
    WEFT_EXPECT(memcmp(buf, "ping", 4) == 0);
    WEFT_EXPECT(same_addr(&from, &an));
    WEFT_EXPECT_OK(weft_udp_send(b, "pong!", 5, sa(&from)));
    WEFT_EXPECT_EQ(weft_udp_recv(a, buf, sizeof(buf), &from), 5);
    WEFT_EXPECT(memcmp(buf, "pong!", 5) == 0);
    WEFT_EXPECT(same_addr(&from, &bn));
  }
  /* Truncated to cap, an empty datagram, and a NULL buffer with cap 0. */
  WEFT_EXPECT_OK(weft_udp_send(a, "hello", 5, sa(&bn)));
  WEFT_EXPECT_EQ(weft_udp_recv(b, buf, 2, NULL), 2);
  WEFT_EXPECT(memcmp(buf, "he", 2) == 0);
  WEFT_EXPECT_OK(weft_udp_send(a, NULL, 0, sa(&bn)));
  WEFT_EXPECT_EQ(weft_udp_recv(b, buf, sizeof(buf), NULL), 0);
  WEFT_EXPECT_OK(weft_udp_send(a, "xyz", 3, sa(&bn)));
  WEFT_EXPECT_EQ(weft_udp_recv(b, NULL, 0, NULL), 0);
  WEFT_EXPECT_EQ(weft_udp_dropped(a), 0);
  WEFT_EXPECT_EQ(weft_udp_dropped(b), 0);
  WEFT_EXPECT_OK(weft_udp_close(a));
  WEFT_EXPECT_OK(weft_udp_close(b));
  return 0;
}

static void test_udp_exchange(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_exchange, NULL, NULL));
}

/* A name is looked up; a bigger datagram goes through intact. */
static int main_bind_name(void* arg, void** result) {
  static char big[60000], back[60000];
  weft_udp_t* a = NULL;
  (void)arg;
  (void)result;
  WEFT_EXPECT_OK(weft_udp_bind("localhost", 0, &a));
  weft_udp_t* b = bind_local();
  struct sockaddr_storage an = name_of(a), bn = name_of(b);
  WEFT_EXPECT_EQ(ntohl(((struct sockaddr_in*)&an)->sin_addr.s_addr) >> 24, 127);
  for (size_t i = 0; i < sizeof(big); i++)
    big[i] = (char)(i * 7);
  WEFT_EXPECT_OK(weft_udp_send(a, big, sizeof(big), sa(&bn)));
  WEFT_EXPECT_EQ(weft_udp_recv(b, back, sizeof(back), NULL), sizeof(big));
  WEFT_EXPECT(memcmp(big, back, sizeof(big)) == 0);
  WEFT_EXPECT_OK(weft_udp_close(a));
  WEFT_EXPECT_OK(weft_udp_close(b));
  return 0;
}

static void test_udp_bind_name_and_big_datagram(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_bind_name, NULL, NULL));
}

/* IPv6 loopback, where the machine has it (skipped where it has not). */
static int main_ipv6(void* arg, void** result) {
  weft_udp_t *a = NULL, *b = NULL;
  char buf[8];
  struct sockaddr_storage from;
  int* skipped = arg;
  (void)result;
  int err = weft_udp_bind("::1", 0, &a);
  if (err == UV_EADDRNOTAVAIL || err == UV_EAFNOSUPPORT) {
    *skipped = 1;
    return 0;
  }
  WEFT_EXPECT_OK(err);
  WEFT_EXPECT_OK(weft_udp_bind("::1", 0, &b));
  struct sockaddr_storage an = name_of(a), bn = name_of(b);
  WEFT_EXPECT_EQ(an.ss_family, AF_INET6);
  WEFT_EXPECT_OK(weft_udp_send(a, "six", 3, sa(&bn)));
  WEFT_EXPECT_EQ(weft_udp_recv(b, buf, sizeof(buf), &from), 3);
  WEFT_EXPECT(memcmp(buf, "six", 3) == 0);
  WEFT_EXPECT_EQ(from.ss_family, AF_INET6);
  WEFT_EXPECT_EQ(((struct sockaddr_in6*)&from)->sin6_port,
                 ((struct sockaddr_in6*)&an)->sin6_port);
  WEFT_EXPECT_OK(weft_udp_close(a));
  WEFT_EXPECT_OK(weft_udp_close(b));
  return 0;
}

static void test_udp_ipv6(void** state) {
  int skipped = 0;
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_ipv6, &skipped, NULL));
  if (skipped)
    print_message("no IPv6 loopback here: skipped\n");
}

/* ---- The queue ----------------------------------------------------------- */

static int main_queued(void* arg, void** result) {
  char buf[16];
  struct sockaddr_storage from;
  (void)arg;
  (void)result;
  weft_udp_t* a = bind_local();
  weft_udp_t* b = bind_local();
  struct sockaddr_storage an = name_of(a), bn = name_of(b);
  for (uint32_t i = 0; i < 3; i++)
    WEFT_EXPECT_OK(send_u32(a, i, &bn));
  WEFT_EXPECT_OK(WEFT_YIELD_UNTIL(weft__udp_queued(b) == 3));
  for (uint32_t i = 0; i < 3; i++) {
    memset(&from, 0, sizeof(from));
    WEFT_EXPECT_EQ(weft_udp_recv(b, buf, sizeof(buf), &from), 4);
    WEFT_EXPECT_EQ(*(uint32_t*)buf, i);
    WEFT_EXPECT(same_addr(&from, &an));
  }
  WEFT_EXPECT_EQ(weft__udp_queued(b), 0);
  /* Queued datagrams are freed by close (ASan checks). */
  WEFT_EXPECT_OK(send_u32(a, 7, &bn));
  WEFT_EXPECT_OK(WEFT_YIELD_UNTIL(weft__udp_queued(b) == 1));
  WEFT_EXPECT_OK(weft_udp_close(b));
  WEFT_EXPECT_OK(weft_udp_close(a));
  return 0;
}

static void test_udp_datagrams_queued_before_recv(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_queued, NULL, NULL));
}

enum { kQueueMax = 256, kFlood = 300 };

/* Datagrams are sent one at a time, each only once the previous one has
 * been counted (queued or dropped), so the kernel never holds more than
 * one and cannot drop any: exactly kFlood - kQueueMax are ours to drop. */
static int main_drops(void* arg, void** result) {
  (void)arg;
  (void)result;
  weft_udp_t* a = bind_local();
  weft_udp_t* b = bind_local();
  struct sockaddr_storage bn = name_of(b);
  for (uint32_t i = 0; i < kFlood; i++) {
    WEFT_EXPECT_OK(send_u32(a, i, &bn));
    WEFT_EXPECT_OK(
        WEFT_YIELD_UNTIL(weft__udp_queued(b) + weft_udp_dropped(b) == i + 1));
  }
  WEFT_EXPECT_EQ(weft__udp_queued(b), kQueueMax);
  WEFT_EXPECT_EQ(weft_udp_dropped(b), kFlood - kQueueMax);
  for (uint32_t i = 0; i < kQueueMax; i++) /* the oldest were kept */
    WEFT_EXPECT_EQ(recv_u32(b), i);
  WEFT_EXPECT_EQ(weft__udp_queued(b), 0);
  /* Room again. */
  WEFT_EXPECT_OK(send_u32(a, 1000, &bn));
  WEFT_EXPECT_EQ(recv_u32(b), 1000);
  WEFT_EXPECT_EQ(weft_udp_dropped(b), kFlood - kQueueMax);
  WEFT_EXPECT_OK(weft_udp_close(a));
  WEFT_EXPECT_OK(weft_udp_close(b));
  return 0;
}

static void test_udp_queue_bound_and_drop_count(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_drops, NULL, NULL));
}

/* A burst with nobody receiving: whatever the kernel lets through is
 * queued or dropped by us, never more than the bound is queued. */
static int main_burst(void* arg, void** result) {
  (void)arg;
  (void)result;
  weft_udp_t* a = bind_local();
  weft_udp_t* b = bind_local();
  struct sockaddr_storage bn = name_of(b);
  for (uint32_t i = 0; i < kFlood; i++)
    WEFT_EXPECT_OK(send_u32(a, i, &bn));
  /* How many arrive by the time we look is the kernel's business; only
   * bounds are checked. */
  WEFT_EXPECT_OK(WEFT_YIELD_UNTIL(weft__udp_queued(b) > 0));
  for (int k = 0; k < 1000; k++)
    WEFT_EXPECT_OK(weft_yield());
  size_t queued = weft__udp_queued(b);
  uint64_t dropped = weft_udp_dropped(b);
  WEFT_EXPECT(queued >= 1 && queued <= kQueueMax);
  WEFT_EXPECT(queued + dropped <= kFlood);
  uint32_t last = 0;
  for (size_t i = 0; i < queued; i++) { /* in order, each once */
    uint32_t v = recv_u32(b);
    WEFT_EXPECT(i == 0 ? v == 0 : v > last);
    last = v;
  }
  WEFT_EXPECT_OK(weft_udp_close(a));
  WEFT_EXPECT_OK(weft_udp_close(b));
  return 0;
}

static void test_udp_burst_bounded(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_burst, NULL, NULL));
}

/* ---- The queued send path ------------------------------------------------ */

typedef struct {
  weft_udp_t* u;
  struct sockaddr_storage to;
  uint32_t value;
} tx_t;

static int queued_sender(void* arg, void** result) {
  tx_t* x = arg;
  (void)result;
  return weft__udp_send_queued(x->u, &x->value, sizeof(x->value), sa(&x->to));
}

/* One worker: a sender that is suspended waits for uv_udp_send's callback
 * (it has no other await to be in). */
static int main_send_queued(void* arg, void** result) {
  weft_task_t* t;
  (void)arg;
  (void)result;
  weft_udp_t* a = bind_local();
  weft_udp_t* b = bind_local();
  struct sockaddr_storage bn = name_of(b);
  for (uint32_t i = 0; i < 20; i++) {
    WEFT_EXPECT_OK(weft__udp_send_queued(a, &i, sizeof(i), sa(&bn)));
    if (i % 2 == 0) /* mixed with first tries: the order is kept */
      WEFT_EXPECT_OK(send_u32(a, 100 + i, &bn));
  }
  for (uint32_t i = 0; i < 20; i++) {
    WEFT_EXPECT_EQ(recv_u32(b), i);
    if (i % 2 == 0)
      WEFT_EXPECT_EQ(recv_u32(b), 100 + i);
  }

  /* A pending cancellation: nothing is sent. */
  uint32_t v = 55;
  WEFT_EXPECT_OK(weft_cancel(weft_current_task()));
  WEFT_EXPECT_ERR(weft__udp_send_queued(a, &v, sizeof(v), sa(&bn)),
                  WEFT_ECANCELED);
  WEFT_EXPECT_OK(send_u32(a, 56, &bn));
  WEFT_EXPECT_EQ(recv_u32(b), 56);

  /* A cancellation during the wait does not cut it short: sent. */
  tx_t x = {a, bn, 57};
  WEFT_EXPECT_OK(weft_spawn(NULL, queued_sender, &x, NULL, &t));
  /* Or done already: a yield lets the loop in, and on a slow machine
   * (Valgrind) the send's callback may come before we look. */
  WEFT_EXPECT_OK(WEFT_YIELD_UNTIL(weft_task_state(t) == WEFT_TASK_SUSPENDED ||
                                  weft_task_done(t)));
  weft_cancel(t);
  WEFT_EXPECT_OK(weft_await(t, NULL));
  weft_task_release(t);
  WEFT_EXPECT_EQ(recv_u32(b), 57);

  /* Closed while the send is in libuv's hands: sent before the close
   * (0), or ended by it (WEFT_ECLOSED). */
  x.value = 58;
  WEFT_EXPECT_OK(weft_spawn(NULL, queued_sender, &x, NULL, &t));
  /* Or done already: a yield lets the loop in, and on a slow machine
   * (Valgrind) the send's callback may come before we look. */
  WEFT_EXPECT_OK(WEFT_YIELD_UNTIL(weft_task_state(t) == WEFT_TASK_SUSPENDED ||
                                  weft_task_done(t)));
  WEFT_EXPECT_OK(weft_udp_close(a));
  int err = weft_await(t, NULL);
  WEFT_EXPECT(err == 0 || err == WEFT_ECLOSED);
  weft_task_release(t);
  if (err == 0)
    WEFT_EXPECT_EQ(recv_u32(b), 58);
  WEFT_EXPECT_OK(weft_udp_close(b));
  return 0;
}

static void test_udp_queued_send_path(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_send_queued, NULL, NULL));
}

/* ---- Cancelled receivers ------------------------------------------------- */

typedef struct {
  weft_udp_t* u;
  uint32_t value;
} rx_t;

static int receiver(void* arg, void** result) {
  rx_t* r = arg;
  (void)result;
  ptrdiff_t n = weft_udp_recv(r->u, &r->value, sizeof(r->value), NULL);
  return n < 0 ? (int)n : (n == (ptrdiff_t)sizeof(r->value) ? 0 : WEFT_EINVAL);
}

static int main_cancel_recv(void* arg, void** result) {
  weft_task_t* t;
  weft_timeout_t* to;
  char buf[8];
  (void)arg;
  (void)result;
  weft_udp_t* a = bind_local();
  weft_udp_t* b = bind_local();
  struct sockaddr_storage bn = name_of(b);

  /* weft_cancel on a waiting receiver. */
  rx_t r = {b, 0};
  WEFT_EXPECT_OK(weft_spawn(NULL, receiver, &r, NULL, &t));
  WEFT_EXPECT_OK(WEFT_YIELD_UNTIL(weft__udp_receivers(b) == 1));
  WEFT_EXPECT_OK(weft_cancel(t));
  WEFT_EXPECT_ERR(weft_await(t, NULL), WEFT_ECANCELED);
  weft_task_release(t);
  WEFT_EXPECT_OK(send_u32(a, 41, &bn));
  WEFT_EXPECT_EQ(recv_u32(b), 41);

  /* A timeout scope around a receive. */
  WEFT_EXPECT_OK(weft_timeout_enter(5, &to));
  WEFT_EXPECT_ERR(weft_udp_recv(b, buf, sizeof(buf), NULL), WEFT_ECANCELED);
  WEFT_EXPECT_ERR(weft_timeout_exit(to), WEFT_ETIMEDOUT);
  WEFT_EXPECT_OK(send_u32(a, 42, &bn));
  WEFT_EXPECT_EQ(recv_u32(b), 42);

  /* A pending cancellation: nothing is taken from an empty socket... */
  WEFT_EXPECT_OK(weft_cancel(weft_current_task()));
  WEFT_EXPECT_ERR(weft_udp_recv(b, buf, sizeof(buf), NULL), WEFT_ECANCELED);
  /* ...and a queued datagram is returned without awaiting. */
  WEFT_EXPECT_OK(send_u32(a, 43, &bn));
  WEFT_EXPECT_OK(WEFT_YIELD_UNTIL(weft__udp_queued(b) == 1));
  WEFT_EXPECT_OK(weft_cancel(weft_current_task()));
  WEFT_EXPECT_EQ(recv_u32(b), 43);
  WEFT_EXPECT_ERR(weft_yield(), WEFT_ECANCELED);

  WEFT_EXPECT_OK(weft_udp_close(a));
  WEFT_EXPECT_OK(weft_udp_close(b));
  return 0;
}

static void test_udp_recv_cancelled_then_next_datagram(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_cancel_recv, NULL, NULL));
}

enum { kRaceRounds = 300 };

/* A datagram and a cancellation race for a waiting receiver: it either
 * gets the datagram, or is cancelled and the datagram is still there for
 * the next receive. Exactly one of the two, every round. */
static int main_cancel_race(void* arg, void** result) {
  int* got_by_receiver = arg;
  weft_task_t* t;
  (void)result;
  weft_udp_t* a = bind_local();
  weft_udp_t* b = bind_local();
  struct sockaddr_storage bn = name_of(b);
  for (uint32_t i = 0; i < kRaceRounds; i++) {
    rx_t r = {b, ~0u};
    WEFT_EXPECT_OK(weft_spawn(NULL, receiver, &r, NULL, &t));
    WEFT_EXPECT_OK(WEFT_YIELD_UNTIL(weft__udp_receivers(b) == 1));
    WEFT_EXPECT_OK(send_u32(a, i, &bn));
    if (i % 3 == 1) /* the datagram first: handed to the receiver */
      WEFT_EXPECT_OK(WEFT_YIELD_UNTIL(weft__udp_receivers(b) == 0));
    else if (i % 3 == 2) /* anyone's race */
      for (uint32_t k = 0; k < i % 64; k++)
        WEFT_EXPECT_OK(weft_yield());
    weft_cancel(t);
    int err = weft_await(t, NULL);
    if (i % 3 == 1)
      WEFT_EXPECT_OK(err);
    if (err == 0) {
      WEFT_EXPECT_EQ(r.value, i);
      ++*got_by_receiver;
    } else {
      WEFT_EXPECT_ERR(err, WEFT_ECANCELED);
      WEFT_EXPECT_EQ(recv_u32(b), i);
    }
    weft_task_release(t);
  }
  WEFT_EXPECT_EQ(weft__udp_queued(b), 0);
  WEFT_EXPECT_EQ(weft_udp_dropped(b), 0);
  WEFT_EXPECT_OK(weft_udp_close(a));
  WEFT_EXPECT_OK(weft_udp_close(b));
  return 0;
}

static void test_udp_cancel_racing_datagram_loses_nothing(void** state) {
  int got = 0;
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_cancel_race, &got, NULL));
  print_message("the receiver got %d of %d, the next receive the rest\n", got,
                kRaceRounds);
}

/* Several receivers wait in turn; each gets one datagram. */
static int main_fifo(void* arg, void** result) {
  enum { kReceivers = 4 };
  weft_task_t* t[kReceivers];
  rx_t r[kReceivers];
  (void)arg;
  (void)result;
  weft_udp_t* a = bind_local();
  weft_udp_t* b = bind_local();
  struct sockaddr_storage bn = name_of(b);
  for (int i = 0; i < kReceivers; i++) {
    r[i] = (rx_t){b, ~0u};
    WEFT_EXPECT_OK(weft_spawn(NULL, receiver, &r[i], NULL, &t[i]));
    /* In the FIFO, not on its way to the socket's worker. */
    WEFT_EXPECT_OK(WEFT_YIELD_UNTIL(weft__udp_receivers(b) == (size_t)i + 1));
  }
  for (uint32_t i = 0; i < kReceivers; i++)
    WEFT_EXPECT_OK(send_u32(a, i, &bn));
  for (int i = 0; i < kReceivers; i++) {
    WEFT_EXPECT_OK(weft_await(t[i], NULL));
    WEFT_EXPECT_EQ(r[i].value, (uint32_t)i); /* first come, first served */
    weft_task_release(t[i]);
  }
  WEFT_EXPECT_OK(weft_udp_close(a));
  WEFT_EXPECT_OK(weft_udp_close(b));
  return 0;
}

static void test_udp_receivers_served_in_order(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_fifo, NULL, NULL));
}

/* ---- Another worker ------------------------------------------------------ */

typedef struct {
  weft_udp_t* u; /* bound by main, on main's worker */
  int home;      /* main's worker */
  weft_runtime_t* rt;
  weft_task_t* child;
  atomic_int started; /* the child runs (on the other worker) */
} cross_t;

static int cross_child(void* arg, void** result) {
  cross_t* c = arg;
  char buf[8];
  struct sockaddr_storage from;
  (void)result;
  int mine = weft_worker_id();
  WEFT_EXPECT(mine != c->home);
  atomic_store_explicit(&c->started, 1, memory_order_release);
  /* v lives here, u on main's worker: each call enters its object's loop
   * (from this worker, or moving there when that worker sleeps). */
  weft_udp_t* v = bind_local();
  struct sockaddr_storage un = name_of(c->u);
  struct sockaddr_storage vn = name_of(v);
  WEFT_EXPECT_OK(weft_udp_send(c->u, "to v", 4, sa(&vn)));
  WEFT_EXPECT_EQ(weft_udp_recv(v, buf, sizeof(buf), &from), 4);
  WEFT_EXPECT(memcmp(buf, "to v", 4) == 0 && same_addr(&from, &un));
  WEFT_EXPECT_OK(weft_udp_send(v, "to u", 4, sa(&un)));
  WEFT_EXPECT_EQ(weft_udp_recv(c->u, buf, sizeof(buf), &from), 4);
  WEFT_EXPECT(memcmp(buf, "to u", 4) == 0 && same_addr(&from, &vn));
  WEFT_EXPECT_OK(weft_udp_close(v));
  return 0;
}

/* A spawn from outside the runtime goes to the global queue and wakes an
 * idle worker. */
static void* spawner(void* arg) {
  cross_t* c = arg;
  WEFT_EXPECT_OK(weft_spawn(c->rt, cross_child, c, NULL, &c->child));
  return NULL;
}

/* Main keeps its worker busy (no await) until the child has started, so
 * the child can only start on the other worker. */
static int main_cross(void* arg, void** result) {
  cross_t c;
  pthread_t th;
  (void)arg;
  (void)result;
  c.u = bind_local();
  c.home = weft_worker_id();
  c.rt = weft_current_runtime();
  c.child = NULL;
  atomic_init(&c.started, 0);
  WEFT_EXPECT_EQ(pthread_create(&th, NULL, spawner, &c), 0);
  while (!atomic_load_explicit(&c.started, memory_order_acquire)) {
  }
  pthread_join(th, NULL); /* it has spawned: at most a moment */
  WEFT_EXPECT_OK(weft_await(c.child, NULL));
  weft_task_release(c.child);
  WEFT_EXPECT_OK(weft_udp_close(c.u));
  return 0;
}

static void test_udp_used_from_another_worker(void** state) {
  (void)state;
  for (int i = 0; i < 10; i++)
    WEFT_ASSERT_OK(weft_test_run(2, main_cross, NULL, NULL));
}

/* ---- Closing ------------------------------------------------------------- */

static int main_close_wakes(void* arg, void** result) {
  weft_task_t* t[2];
  rx_t r[2];
  (void)arg;
  (void)result;
  weft_udp_t* b = bind_local();
  for (int i = 0; i < 2; i++) {
    r[i] = (rx_t){b, 0};
    WEFT_EXPECT_OK(weft_spawn(NULL, receiver, &r[i], NULL, &t[i]));
    WEFT_EXPECT_OK(WEFT_YIELD_UNTIL(weft__udp_receivers(b) == (size_t)i + 1));
  }
  WEFT_EXPECT_OK(weft_udp_close(b));
  for (int i = 0; i < 2; i++) {
    WEFT_EXPECT_ERR(weft_await(t[i], NULL), WEFT_ECLOSED);
    weft_task_release(t[i]);
  }
  return 0;
}

static void test_udp_close_wakes_receivers(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_close_wakes, NULL, NULL));
}

/* Sockets left open, one with queued datagrams and one with a receiver
 * that shutdown cancels: the runtime closes and frees them. */
static int main_leave_open(void* arg, void** result) {
  (void)arg;
  (void)result;
  weft_udp_t* a = bind_local();
  weft_udp_t* b = bind_local();
  weft_udp_t* c = bind_local();
  struct sockaddr_storage bn = name_of(b);
  WEFT_EXPECT_OK(send_u32(a, 1, &bn));
  WEFT_EXPECT_OK(send_u32(a, 2, &bn));
  WEFT_EXPECT_OK(WEFT_YIELD_UNTIL(weft__udp_queued(b) == 2));
  static rx_t r;
  r = (rx_t){c, 0};
  WEFT_EXPECT_OK(weft_spawn(NULL, receiver, &r, NULL, NULL));
  return 0;
}

static void test_udp_left_open_closed_by_runtime(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(2, main_leave_open, NULL, NULL));
}

/* ---- Arguments ----------------------------------------------------------- */

static int main_args(void* arg, void** result) {
  weft_udp_t* u = NULL;
  char buf[4];
  struct sockaddr_storage ss;
  struct sockaddr un = {.sa_family = AF_UNIX};
  (void)arg;
  (void)result;
  WEFT_EXPECT_ERR(weft_udp_bind("127.0.0.1", 0, NULL), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_udp_bind("127.0.0.1", 65536, &u), WEFT_EINVAL);
  int err = weft_udp_bind("a..b", 0, &u);
  WEFT_EXPECT(err <= -3000 && err >= -3014); /* UV_EAI_* */
  WEFT_EXPECT(u == NULL);
  /* host NULL: every IPv4 interface. */
  WEFT_EXPECT_OK(weft_udp_bind(NULL, 0, &u));
  ss = name_of(u);
  WEFT_EXPECT_EQ(ss.ss_family, AF_INET);
  WEFT_EXPECT_EQ(((struct sockaddr_in*)&ss)->sin_addr.s_addr, INADDR_ANY);
  WEFT_EXPECT_ERR(weft_udp_send(NULL, "x", 1, sa(&ss)), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_udp_send(u, "x", 1, NULL), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_udp_send(u, NULL, 1, sa(&ss)), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_udp_send(u, "x", 1, &un), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_udp_recv(NULL, buf, sizeof(buf), NULL), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_udp_recv(u, NULL, 4, NULL), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_udp_sockname(NULL, &ss), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_udp_sockname(u, NULL), WEFT_EINVAL);
  WEFT_EXPECT_EQ(weft_udp_dropped(NULL), 0);
  WEFT_EXPECT_OK(weft_udp_close(NULL));
  /* An address in use. */
  weft_udp_t* v = NULL;
  struct sockaddr_in* in = (struct sockaddr_in*)&ss;
  WEFT_EXPECT_OK(weft_udp_bind("127.0.0.1", 0, &v));
  ss = name_of(v);
  weft_udp_t* w = NULL;
  WEFT_EXPECT_ERR(weft_udp_bind("127.0.0.1", ntohs(in->sin_port), &w),
                  UV_EADDRINUSE);
  WEFT_EXPECT(w == NULL);
  WEFT_EXPECT_OK(weft_udp_close(v));
  WEFT_EXPECT_OK(weft_udp_close(u));
  return 0;
}

static void test_udp_argument_errors(void** state) {
  weft_udp_t* u = NULL;
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_args, NULL, NULL));
  WEFT_ASSERT_ERR(weft_udp_bind("127.0.0.1", 0, &u), WEFT_ENOTTASK);
  assert_null(u);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_udp_exchange),
      cmocka_unit_test(test_udp_bind_name_and_big_datagram),
      cmocka_unit_test(test_udp_ipv6),
      cmocka_unit_test(test_udp_datagrams_queued_before_recv),
      cmocka_unit_test(test_udp_queue_bound_and_drop_count),
      cmocka_unit_test(test_udp_burst_bounded),
      cmocka_unit_test(test_udp_queued_send_path),
      cmocka_unit_test(test_udp_recv_cancelled_then_next_datagram),
      cmocka_unit_test(test_udp_cancel_racing_datagram_loses_nothing),
      cmocka_unit_test(test_udp_receivers_served_in_order),
      cmocka_unit_test(test_udp_used_from_another_worker),
      cmocka_unit_test(test_udp_close_wakes_receivers),
      cmocka_unit_test(test_udp_left_open_closed_by_runtime),
      cmocka_unit_test(test_udp_argument_errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
