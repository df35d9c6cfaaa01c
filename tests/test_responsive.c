/* A busy worker strands nothing: while one task computes without awaiting
 * on worker 0, a task whose yield, sleep, socket or wake-up belongs to
 * worker 0 still makes progress on the other workers (core/driver.c).
 *
 * Shape of every case: the hog task moves to worker 0 and yields until the
 * victim, also on worker 0, is set up; then the hog computes without any
 * await until the victim has finished its work (the verdict), or until a
 * hang guard of many seconds passes (the failure: the victim waited for
 * the hog). The victim records the workers it ran on after the hog began,
 * and the test checks that the hog computed on worker 0 and the victim
 * progressed elsewhere meanwhile. No timing decides a result. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/worker.h"
#include "helpers.h"
#include "io/io.h"
#include "weft.h"

enum { kRounds = 200 }; /* yields or bytes read */
/* The hang guard: not a bound on anything, only how long a failing run
 * takes to say so. */
static const uint64_t kGuardNs = 30ull * 1000 * 1000 * 1000;

typedef enum { kYield, kSleep, kSocket, kWoken } victim_kind_t;

typedef struct {
  victim_kind_t kind;
  atomic_int victim_ready; /* set up on worker 0 */
  atomic_int hog_running;  /* the hog computes from now on */
  atomic_int victim_done;  /* all rounds done */
  atomic_int hog_worker;
  atomic_int progressed_elsewhere; /* victim ran off worker 0 meanwhile */
  atomic_int done_while_hogging;   /* the verdict */
  weft_event_t* wake;              /* kWoken */
  int port;                        /* kSocket: the plain-thread server */
  uint64_t served;                 /* loops_served at the end */
  char dump[4096];                 /* kYield: a task dump, hog running */
} scene_t;

static void note_worker(scene_t* sc) {
  if (atomic_load(&sc->hog_running) && weft_worker_id() != 0)
    atomic_store(&sc->progressed_elsewhere, 1);
}

/* Computes without awaiting (the volatile sink keeps the loop real). */
static void hog_until(scene_t* sc) {
  volatile uint64_t sink = 1;
  uint64_t start = weft_now_ns();
  atomic_store(&sc->hog_worker, weft_worker_id());
  atomic_store(&sc->hog_running, 1);
  /* Each victim starts its work on worker 0 and then waits there, so it
   * cannot be done before we compute: if it is, the scene went wrong. */
  if (!WEFT_EXPECT(!atomic_load(&sc->victim_done)))
    return;
  while (!atomic_load(&sc->victim_done)) {
    for (int i = 0; i < 1000; i++)
      sink = sink * 6364136223846793005ull + 1442695040888963407ull;
    if (weft_now_ns() - start > kGuardNs)
      return;
  }
  atomic_store(&sc->done_while_hogging, 1);
}

static int hog(void* arg, void** result) {
  scene_t* sc = arg;
  (void)result;
  weft_runtime_t* rt = weft_current_runtime();
  weft__io_move_to(rt->workers[0]);
  WEFT_YIELD_UNTIL(atomic_load(&sc->victim_ready));
  /* Back to worker 0 if a yield let another worker take us. */
  weft__io_move_to(rt->workers[0]);
  weft__io_leave();
  if (sc->kind == kWoken)
    WEFT_EXPECT_OK(weft_event_set(sc->wake)); /* into worker 0's slot */
  hog_until(sc);
  return 0;
}

/* ---- The victims -------------------------------------------------------- */

/* Each victim signals ready on worker 0 right before its first wait
 * there: worker 0 runs the hog only once the victim is parked in it (in
 * its yield queue, timer heap, loop, or waiting for a wake-up). */
static void victim_yields(scene_t* sc) {
  atomic_store(&sc->victim_ready, 1);
  /* Our first yield leaves us in worker 0's queue, behind the hog. */
  WEFT_YIELD_UNTIL(atomic_load(&sc->hog_running));
  for (int i = 0; i < kRounds; i++) {
    WEFT_EXPECT_OK(weft_yield());
    note_worker(sc);
  }
  /* The dump names the computing task and shows the loops served. */
  FILE* f = fmemopen(sc->dump, sizeof(sc->dump) - 1, "w");
  if (WEFT_EXPECT(f != NULL)) {
    WEFT_EXPECT(weft_task_dump(weft_current_runtime(), f) >= 2);
    fclose(f);
  }
}

static void victim_sleeps(scene_t* sc) {
  atomic_store(&sc->victim_ready, 1);
  for (int i = 0; i < 20; i++) {
    WEFT_EXPECT_OK(weft_sleep_ms(1));
    note_worker(sc);
  }
}

static void victim_reads(scene_t* sc) {
  weft_stream_t* s;
  char buf[64];
  /* The stream's home is worker 0. */
  if (!WEFT_EXPECT_OK(weft_tcp_connect("127.0.0.1", (unsigned)sc->port, &s)))
    return;
  WEFT_EXPECT_EQ(weft_worker_id(), 0);
  atomic_store(&sc->victim_ready, 1);
  for (int got = 0; got < kRounds;) {
    ptrdiff_t n = weft_stream_read(s, buf, sizeof(buf));
    if (!WEFT_EXPECT(n > 0))
      break;
    got += (int)n;
    note_worker(sc);
  }
  WEFT_EXPECT_OK(weft_stream_close(s));
}

static void victim_woken(scene_t* sc) {
  atomic_store(&sc->victim_ready, 1);
  WEFT_EXPECT_OK(weft_event_wait(sc->wake));
  note_worker(sc);
}

static int victim(void* arg, void** result) {
  scene_t* sc = arg;
  (void)result;
  weft__io_move_to(weft_current_runtime()->workers[0]);
  weft__io_leave();
  switch (sc->kind) {
    case kYield:
      victim_yields(sc);
      break;
    case kSleep:
      victim_sleeps(sc);
      break;
    case kSocket:
      victim_reads(sc);
      break;
    case kWoken:
      victim_woken(sc);
      break;
  }
  atomic_store(&sc->victim_done, 1);
  return 0;
}

/* Sum of the workers' loops_served (weft_runtime_metrics). */
static uint64_t loops_served(void) {
  weft_runtime_t* rt = weft_current_runtime();
  weft_worker_metrics_t w[8];
  weft_metrics_t m;
  uint64_t sum = 0;
  if (!WEFT_EXPECT_OK(weft_runtime_metrics(rt, &m, w, 8)))
    return 0;
  for (unsigned i = 0; i < m.nworkers; i++)
    sum += w[i].loops_served;
  return sum;
}

static int scene_main(void* arg, void** result) {
  scene_t* sc = arg;
  weft_task_t* t[2];
  (void)result;
  WEFT_EXPECT_OK(weft_spawn(NULL, victim, sc, NULL, &t[0]));
  weft_spawn_opts_t hog_opts = {.name = "hog"};
  WEFT_EXPECT_OK(weft_spawn(NULL, hog, sc, &hog_opts, &t[1]));
  for (int i = 0; i < 2; i++) {
    WEFT_EXPECT_OK(weft_await(t[i], NULL));
    weft_task_release(t[i]);
  }
  sc->served = loops_served();
  return 0;
}

/* ---- A plain-thread TCP peer for the socket case ------------------------ */

typedef struct {
  int listen_fd;
  scene_t* sc;
} peer_t;

/* Writes only once the hog computes: the reader is parked in its first
 * read on worker 0's loop by then. */
static void* peer_main(void* arg) {
  peer_t* p = arg;
  int fd = accept(p->listen_fd, NULL, NULL);
  if (fd < 0)
    return NULL;
  while (!atomic_load(&p->sc->hog_running))
    sched_yield();
  char byte = 'x';
  for (int i = 0; i < kRounds; i++)
    if (write(fd, &byte, 1) != 1)
      break;
  char drain[16];
  while (read(fd, drain, sizeof(drain)) > 0) { /* until the reader closes */
  }
  close(fd);
  return NULL;
}

static int peer_listen(int* port) {
  struct sockaddr_in a = {.sin_family = AF_INET};
  socklen_t len = sizeof(a);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || bind(fd, (struct sockaddr*)&a, sizeof(a)) != 0 ||
      listen(fd, 1) != 0 || getsockname(fd, (struct sockaddr*)&a, &len) != 0)
    return -1;
  *port = ntohs(a.sin_port);
  return fd;
}

/* ---- Cases --------------------------------------------------------------- */

static void run_scene(victim_kind_t kind, unsigned workers) {
  scene_t sc;
  memset(&sc, 0, sizeof(sc));
  sc.kind = kind;
  peer_t peer = {.listen_fd = -1, .sc = &sc};
  pthread_t peer_thread;
  if (kind == kSocket) {
    peer.listen_fd = peer_listen(&sc.port);
    assert_true(peer.listen_fd >= 0);
    assert_int_equal(pthread_create(&peer_thread, NULL, peer_main, &peer), 0);
  }
  if (kind == kWoken)
    assert_int_equal(weft_event_new(&sc.wake), 0);
  WEFT_ASSERT_OK(weft_test_run(workers, scene_main, &sc, NULL));
  if (kind == kSocket) {
    pthread_join(peer_thread, NULL);
    close(peer.listen_fd);
  }
  if (kind == kWoken)
    weft_event_free(sc.wake);
  assert_int_equal(atomic_load(&sc.hog_worker), 0);
  assert_int_equal(atomic_load(&sc.done_while_hogging), 1);
  assert_int_equal(atomic_load(&sc.progressed_elsewhere), 1);
  /* A woken task is taken from the busy worker's slot (a steal); the
   * others are served through its loop, which the metrics count. */
  if (kind != kWoken)
    assert_true(sc.served >= 1);
  if (kind == kYield) {
    assert_non_null(strstr(sc.dump, "worker 0: "));
    assert_non_null(strstr(sc.dump, "running task 'hog'"));
    assert_non_null(strstr(sc.dump, "other loops"));
  }
}

static void test_yielder_runs_beside_a_hog_2(void** state) {
  (void)state;
  run_scene(kYield, 2);
}
static void test_yielder_runs_beside_a_hog_4(void** state) {
  (void)state;
  run_scene(kYield, 4);
}
static void test_sleeper_wakes_beside_a_hog_2(void** state) {
  (void)state;
  run_scene(kSleep, 2);
}
static void test_sleeper_wakes_beside_a_hog_4(void** state) {
  (void)state;
  run_scene(kSleep, 4);
}
static void test_reader_reads_beside_a_hog_2(void** state) {
  (void)state;
  run_scene(kSocket, 2);
}
static void test_reader_reads_beside_a_hog_4(void** state) {
  (void)state;
  run_scene(kSocket, 4);
}
static void test_woken_waiter_runs_beside_a_hog_2(void** state) {
  (void)state;
  run_scene(kWoken, 2);
}
static void test_woken_waiter_runs_beside_a_hog_4(void** state) {
  (void)state;
  run_scene(kWoken, 4);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_yielder_runs_beside_a_hog_2),
      cmocka_unit_test(test_yielder_runs_beside_a_hog_4),
      cmocka_unit_test(test_sleeper_wakes_beside_a_hog_2),
      cmocka_unit_test(test_sleeper_wakes_beside_a_hog_4),
      cmocka_unit_test(test_reader_reads_beside_a_hog_2),
      cmocka_unit_test(test_reader_reads_beside_a_hog_4),
      cmocka_unit_test(test_woken_waiter_runs_beside_a_hog_2),
      cmocka_unit_test(test_woken_waiter_runs_beside_a_hog_4),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
