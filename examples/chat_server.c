/* The guide's chat server: every line a client sends goes to all the
 * others. Each connection is its own task, on whichever worker the server
 * handed it to; a broadcast writes to streams that live on other workers
 * (each write moves to its stream's worker and back).
 *
 *   ./chat_server            a scripted demo: the server and three clients
 *                            (alice, bob, carol) in one process
 *   ./chat_server 8888       serve on 127.0.0.1:8888 until Ctrl-C
 *                            (try: nc 127.0.0.1 8888, first line = name)
 *
 * Every lock acquire is checked (a cancelled task does not get the lock),
 * and at shutdown main cancels the handlers still running and waits for
 * each to take itself off the list under the lock.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weft.h"

/* ---- The server ------------------------------------------------------------
 */

/* One per connection, on its handler's stack; on the chat's list from the
 * handler's start to its end, so shutdown can reach every handler. */
typedef struct client_s {
  struct client_s* next;
  weft_stream_t* conn;
  weft_task_t* task; /* the handler (borrowed: it is on the list) */
  int joined;        /* named and greeted: receives broadcasts */
  char name[32];
} client_t;

typedef struct {
  weft_lock_t* lock; /* guards the list: handlers run on every worker */
  weft_cond_t* gone; /* notified when the last handler leaves the list */
  client_t* clients; /* every running handler; under lock */
  int verbose;
} chat_t;

/* Every weft_lock_acquire can fail: WEFT_ECANCELED when the task is
 * cancelled while it waits. Then the lock is not held, so the caller must
 * neither touch what it guards nor release it. */

/* Taking the lock for cleanup that must happen (a handler's stack, which
 * the list points at, is about to go). A cancellation is delivered once,
 * so after WEFT_ECANCELED the next try waits normally; main waits for
 * every handler before it returns, so the runtime is not shutting down
 * (when every await fails at once) while handlers still clean up. */
static void lock_for_cleanup(chat_t* chat) {
  int err;
  while ((err = weft_lock_acquire(chat->lock)) == WEFT_ECANCELED) {
  }
  if (err != 0) {
    fprintf(stderr, "chat: lock: %s\n", weft_strerror(err));
    abort(); /* the list would point at a dead stack */
  }
}

/* Sends `line` to every joined client but `from`. Holds the lock across
 * the writes, so a client cannot leave (and free its stream) meanwhile. */
static int broadcast(chat_t* chat, const client_t* from, const char* line) {
  int err = weft_lock_acquire(chat->lock);
  if (err != 0)
    return err;
  for (client_t* c = chat->clients; c != NULL; c = c->next)
    if (c != from && c->joined &&
        weft_stream_write(c->conn, line, strlen(line)) == 0)
      weft_stream_drain(c->conn);
  weft_lock_release(chat->lock);
  return 0;
}

static int join(chat_t* chat, client_t* me) {
  char line[96];
  snprintf(line, sizeof(line), "* %s joined\n", me->name);
  int err = broadcast(chat, me, line);
  if (err != 0)
    return err;
  if ((err = weft_lock_acquire(chat->lock)) != 0)
    return err;
  me->joined = 1;
  weft_lock_release(chat->lock);
  snprintf(line, sizeof(line), "welcome %s\n", me->name);
  return weft_stream_write(me->conn, line, strlen(line));
}

static void leave(chat_t* chat, client_t* me) {
  char line[96];
  if (me->joined) {
    snprintf(line, sizeof(line), "* %s left\n", me->name);
    broadcast(chat, me, line); /* best effort: fails if cancelled */
  }
  lock_for_cleanup(chat);
  for (client_t** p = &chat->clients; *p != NULL; p = &(*p)->next)
    if (*p == me) {
      *p = me->next;
      break;
    }
  if (chat->clients == NULL)
    weft_cond_notify_all(chat->gone);
  weft_lock_release(chat->lock);
}

static int chat_with(chat_t* chat, client_t* me) {
  char line[512], out[600];
  ptrdiff_t n = weft_stream_readline(me->conn, me->name, sizeof(me->name));
  if (n <= 1)
    return n < 0 ? (int)n : 0; /* no name: the server closes it */
  me->name[n - 1] = '\0';
  if (chat->verbose)
    printf("%s connected (worker %d)\n", me->name, weft_worker_id());
  int err = join(chat, me);
  while (err == 0 &&
         (n = weft_stream_readline(me->conn, line, sizeof(line) - 1)) > 0) {
    line[n] = '\0';
    snprintf(out, sizeof(out), "%s: %s", me->name, line);
    err = broadcast(chat, me, out);
  }
  if (chat->verbose)
    printf("%s disconnected\n", me->name);
  return err != 0 ? err : n < 0 ? (int)n : 0;
}

static int handle_client(weft_stream_t* conn, void* arg) {
  chat_t* chat = arg;
  client_t me = {.conn = conn, .task = weft_current_task()};
  int err = weft_lock_acquire(chat->lock);
  if (err != 0)
    return err; /* cancelled before it started: nothing to undo */
  me.next = chat->clients;
  chat->clients = &me;
  weft_lock_release(chat->lock);
  int status = chat_with(chat, &me);
  leave(chat, &me);
  return status; /* the server closes conn */
}

/* Stops the chat: the server is closed (no new handler), every handler
 * still running is cancelled, and main waits until the last one has left
 * the list (the handlers use `chat`, which main frees next). */
static int stop_chat(chat_t* chat) {
  int err = weft_lock_acquire(chat->lock);
  if (err != 0)
    return err;
  for (client_t* c = chat->clients; c != NULL; c = c->next)
    weft_cancel(c->task);
  while (chat->clients != NULL && err == 0)
    err = weft_cond_wait(chat->gone);
  weft_lock_release(chat->lock);
  return err;
}

/* ---- The scripted demo: three clients, driven one step at a time -----------
 */

static weft_stream_t* connect_as(unsigned port, const char* name) {
  weft_stream_t* s;
  char line[64];
  if (weft_tcp_connect("127.0.0.1", port, &s) != 0)
    return NULL;
  snprintf(line, sizeof(line), "%s\n", name);
  weft_stream_write(s, line, strlen(line));
  return s;
}

/* Reads one line on `who`'s connection and prints it. */
static void show(const char* who, weft_stream_t* s) {
  char line[256];
  ptrdiff_t n = weft_stream_readline(s, line, sizeof(line) - 1);
  if (n <= 0) {
    printf("[%s] (%s)\n", who, n == 0 ? "closed" : weft_strerror((int)n));
    return;
  }
  line[n] = '\0';
  printf("[%s] %s", who, line);
}

static void say(weft_stream_t* s, const char* text) {
  weft_stream_write(s, text, strlen(text));
}

static int demo(unsigned port) {
  weft_stream_t* alice = connect_as(port, "alice");
  show("alice", alice);
  weft_stream_t* bob = connect_as(port, "bob");
  show("bob", bob);
  show("alice", alice);
  weft_stream_t* carol = connect_as(port, "carol");
  show("carol", carol);
  show("alice", alice);
  show("bob", bob);

  say(alice, "hello everyone\n");
  show("bob", bob);
  show("carol", carol);
  say(bob, "hi alice\n");
  show("alice", alice);
  show("carol", carol);

  weft_stream_close(carol);
  show("alice", alice);
  show("bob", bob);
  weft_stream_close(bob);
  show("alice", alice);
  weft_stream_close(alice);
  return 0;
}

static int main_task(void* arg, void** result) {
  unsigned port = (unsigned)(uintptr_t)arg;
  chat_t chat = {.verbose = port != 0};
  weft_server_t* srv;
  (void)result;
  if (weft_lock_new(&chat.lock) != 0)
    return WEFT_ENOMEM;
  if (weft_cond_new(chat.lock, &chat.gone) != 0) {
    weft_lock_free(chat.lock);
    return WEFT_ENOMEM;
  }
  weft_signal_stream_t* sigs = NULL; /* NULL-safe to close */
  int err = weft_tcp_serve("127.0.0.1", port, handle_client, &chat, NULL, &srv);
  if (err != 0) {
    fprintf(stderr, "serve: %s\n", weft_strerror(err));
  } else {
    if (port == 0) {
      printf("chat server up; three clients join\n");
      demo(weft_server_port(srv));
    } else {
      /* A stream, not weft_signal_wait: a second Ctrl-C (or a SIGTERM)
       * while the clients are being let go must not kill the process. */
      static const int stops[] = {SIGINT, SIGTERM};
      int sig = 0;
      printf("chat server on 127.0.0.1:%u, Ctrl-C stops it\n", port);
      fflush(stdout);
      if (weft_signal_stream_open(stops, 2, &sigs) == 0)
        weft_signal_stream_next(sigs, &sig);
    }
    weft_server_close(srv);
    err = stop_chat(&chat);
    weft_signal_stream_close(sigs);
  }
  weft_cond_free(chat.gone);
  weft_lock_free(chat.lock);
  return err;
}

int main(int argc, char** argv) {
  unsigned port = argc > 1 ? (unsigned)atoi(argv[1]) : 0;
  weft_config_t cfg = {.workers = port != 0 ? 0 : 2};
  int err = weft_run(main_task, (void*)(uintptr_t)port, &cfg, NULL);
  if (err != 0)
    fprintf(stderr, "chat_server: %s\n", weft_strerror(err));
  return err != 0;
}
