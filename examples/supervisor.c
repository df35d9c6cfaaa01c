/* A server whose connection handlers live in a task set: the set owns
 * them, the owner hears of each one that ends (join_next), and shutdown
 * gives the handlers still running a grace period before cancelling them,
 * so every connection is accounted for.
 *
 *   ./supervisor            a scripted demo: three clients, then shutdown
 *   ./supervisor 8888       echo on 127.0.0.1:8888 until Ctrl-C, then
 *                           give connections 5 s to end
 */
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weft.h"

typedef struct {
  weft_taskset_t* handlers; /* KEEP_GOING: one failed connection is no
                               reason to drop the others */
  _Atomic int accepted;
} server_t;

/* An echo handler. Its first act is to join the set; once the set is
 * closed (shutdown) a late connection is refused. */
static int handle(weft_stream_t* conn, void* arg) {
  server_t* s = arg;
  char line[256];
  ptrdiff_t n;
  int rc = weft_taskset_add(s->handlers, weft_current_task());
  if (rc != 0)
    return rc;
  atomic_fetch_add(&s->accepted, 1);
  while ((n = weft_stream_readline(conn, line, sizeof(line))) > 0)
    if ((rc = weft_stream_write(conn, line, (size_t)n)) != 0)
      return rc;
  return n < 0 ? (int)n : 0; /* 0 at end of file */
}

/* Joins every handler that has ended; counts them by outcome. */
static void account(server_t* s, int* ok, int* cancelled, int* failed) {
  int status;
  while (weft_taskset_join_next(s->handlers, 0, NULL, &status, NULL) == 0) {
    if (status == 0)
      ++*ok;
    else if (status == WEFT_ECANCELED)
      ++*cancelled;
    else
      ++*failed;
  }
}

/* ---- The scripted demo ---------------------------------------------------
 */

static weft_stream_t* client(unsigned port, const char* name, const char* say) {
  weft_stream_t* c;
  char line[64];
  if (weft_tcp_connect("127.0.0.1", port, &c) != 0)
    return NULL;
  weft_stream_write(c, say, strlen(say));
  ptrdiff_t n = weft_stream_readline(c, line, sizeof(line) - 1);
  if (n > 0) {
    line[n] = '\0';
    printf("[%s] echo: %s", name, line);
  }
  return c;
}

static void expect_closed(const char* name, weft_stream_t* c) {
  char line[64];
  ptrdiff_t n = weft_stream_readline(c, line, sizeof(line));
  printf("[%s] %s\n", name, n == 0 ? "closed by the server" : "still open?");
  weft_stream_close(c);
}

static void demo(server_t* s, weft_server_t* srv) {
  unsigned port = weft_server_port(srv);
  int status;
  weft_stream_t* a = client(port, "a", "hello\n");
  weft_stream_close(a);
  /* a's handler ends at end of file: the set hands it over. */
  weft_taskset_join_next(s->handlers, -1, NULL, &status, NULL);
  printf("a's handler ended: %s\n", weft_err_name(status));
  weft_stream_t* b = client(port, "b", "hi\n");
  weft_stream_t* c = client(port, "c", "hey\n");
  printf("handlers in the set: %zu\n", weft_taskset_size(s->handlers));
  /* Shutdown: no new connection; b and c stay idle past the grace. */
  weft_server_close(srv);
  weft_taskset_shutdown(s->handlers, 20);
  expect_closed("b", b);
  expect_closed("c", c);
}

/* ---- main ------------------------------------------------------------------
 */

static int main_task(void* arg, void** result) {
  unsigned port = (unsigned)(uintptr_t)arg;
  server_t s = {0};
  weft_server_t* srv;
  int ok = 0, cancelled = 0, failed = 0;
  (void)result;
  int err = weft_taskset_new(WEFT_TASKSET_KEEP_GOING, &s.handlers);
  if (err != 0)
    return err;
  err = weft_tcp_serve("127.0.0.1", port, handle, &s, NULL, &srv);
  if (err != 0) {
    fprintf(stderr, "serve: %s\n", weft_strerror(err));
    weft_taskset_free(s.handlers);
    return err;
  }
  if (port == 0) {
    demo(&s, srv);
    ok = 1; /* a, joined in the demo */
  } else {
    /* A stream, not weft_signal_wait: a second Ctrl-C (or a SIGTERM)
     * during the 5 s drain must not kill the process on the spot. */
    static const int stops[] = {SIGINT, SIGTERM};
    weft_signal_stream_t* sigs = NULL;
    int sig = 0;
    printf("echo on 127.0.0.1:%u, Ctrl-C stops it\n", port);
    fflush(stdout);
    if (weft_signal_stream_open(stops, 2, &sigs) == 0)
      weft_signal_stream_next(sigs, &sig);
    weft_server_close(srv);
    weft_taskset_shutdown(s.handlers, 5000);
    weft_signal_stream_close(sigs);
  }
  account(&s, &ok, &cancelled, &failed);
  int accepted = atomic_load(&s.accepted);
  printf("accepted %d: ended %d, cancelled at shutdown %d, failed %d\n",
         accepted, ok, cancelled, failed);
  weft_taskset_free(s.handlers);
  return accepted == ok + cancelled + failed ? 0 : WEFT_ELIMIT;
}

int main(int argc, char** argv) {
  unsigned port = argc > 1 ? (unsigned)atoi(argv[1]) : 0;
  int err = weft_run(main_task, (void*)(uintptr_t)port, NULL, NULL);
  if (err != 0)
    fprintf(stderr, "supervisor: %s\n", weft_strerror(err));
  return err != 0;
}
