/* The guide's chat server: every line a client sends goes to all the
 * others. Each connection is its own task, on whichever worker the server
 * handed it to; a broadcast writes to streams that live on other workers
 * (each write moves to its stream's worker and back).
 *
 *   ./chat_server            a scripted demo: the server and three clients
 *                            (alice, bob, carol) in one process
 *   ./chat_server 8888       serve on 127.0.0.1:8888 until Ctrl-C
 *                            (try: nc 127.0.0.1 8888, first line = name)
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weft.h"

/* ---- The server ------------------------------------------------------------
 */

typedef struct client_s {
  struct client_s* next;
  weft_stream_t* conn;
  char name[32];
} client_t;

typedef struct {
  weft_lock_t* lock; /* guards the list: handlers run on every worker */
  weft_cond_t* gone; /* signalled when the last handler ends */
  client_t* clients;
  int handlers; /* running handlers, under lock */
  int verbose;
} chat_t;

static void count_handler(chat_t* chat, int delta) {
  weft_lock_acquire(chat->lock);
  chat->handlers += delta;
  if (chat->handlers == 0)
    weft_cond_notify_all(chat->gone);
  weft_lock_release(chat->lock);
}

static int no_handlers(void* arg) {
  return ((chat_t*)arg)->handlers == 0;
}

/* Sends `line` to every client but `from`. Holds the lock across the
 * writes, so a client cannot leave (and free its stream) meanwhile. */
static void broadcast(chat_t* chat, const client_t* from, const char* line) {
  weft_lock_acquire(chat->lock);
  for (client_t* c = chat->clients; c != NULL; c = c->next)
    if (c != from && weft_stream_write(c->conn, line, strlen(line)) == 0)
      weft_stream_drain(c->conn);
  weft_lock_release(chat->lock);
}

static void join(chat_t* chat, client_t* me) {
  char line[96];
  snprintf(line, sizeof(line), "* %s joined\n", me->name);
  broadcast(chat, me, line);
  weft_lock_acquire(chat->lock);
  me->next = chat->clients;
  chat->clients = me;
  weft_lock_release(chat->lock);
  snprintf(line, sizeof(line), "welcome %s\n", me->name);
  weft_stream_write(me->conn, line, strlen(line));
}

static int chat_with(chat_t* chat, weft_stream_t* conn);

static void leave(chat_t* chat, client_t* me) {
  char line[96];
  weft_lock_acquire(chat->lock);
  for (client_t** p = &chat->clients; *p != NULL; p = &(*p)->next)
    if (*p == me) {
      *p = me->next;
      break;
    }
  weft_lock_release(chat->lock);
  snprintf(line, sizeof(line), "* %s left\n", me->name);
  broadcast(chat, me, line);
}

static int handle_client(weft_stream_t* conn, void* arg) {
  chat_t* chat = arg;
  count_handler(chat, 1);
  int status = chat_with(chat, conn);
  count_handler(chat, -1);
  return status;
}

static int chat_with(chat_t* chat, weft_stream_t* conn) {
  client_t me = {.conn = conn};
  char line[512], out[600];
  ptrdiff_t n = weft_stream_readline(conn, me.name, sizeof(me.name));
  if (n <= 1)
    return 0; /* no name: the server closes the connection */
  me.name[n - 1] = '\0';
  if (chat->verbose)
    printf("%s connected (worker %d)\n", me.name, weft_worker_id());
  join(chat, &me);
  while ((n = weft_stream_readline(conn, line, sizeof(line) - 1)) > 0) {
    line[n] = '\0';
    snprintf(out, sizeof(out), "%s: %s", me.name, line);
    broadcast(chat, &me, out);
  }
  leave(chat, &me);
  if (chat->verbose)
    printf("%s disconnected\n", me.name);
  return 0; /* the server closes conn */
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
  /* Static: in server mode, handlers still connected at Ctrl-C are
   * cancelled by the runtime's shutdown after main returns. */
  static chat_t chat;
  chat.verbose = port != 0;
  weft_server_t* srv;
  (void)result;
  if (weft_lock_new(&chat.lock) != 0 ||
      weft_cond_new(chat.lock, &chat.gone) != 0)
    return WEFT_ENOMEM;
  int err = weft_tcp_serve("127.0.0.1", port, handle_client, &chat, NULL, &srv);
  if (err != 0) {
    fprintf(stderr, "serve: %s\n", weft_strerror(err));
    weft_cond_free(chat.gone);
    weft_lock_free(chat.lock);
    return err;
  }
  if (port == 0) {
    printf("chat server up; three clients join\n");
    demo(weft_server_port(srv));
  } else {
    printf("chat server on 127.0.0.1:%u, Ctrl-C stops it\n", port);
    fflush(stdout);
    weft_signal_wait(SIGINT);
    weft_server_close(srv);
    return 0;
  }
  weft_server_close(srv);
  /* The handlers use `chat`: wait until the last one has left. */
  weft_lock_acquire(chat.lock);
  weft_cond_wait_for(chat.gone, no_handlers, &chat);
  weft_lock_release(chat.lock);
  weft_cond_free(chat.gone);
  weft_lock_free(chat.lock);
  return 0;
}

int main(int argc, char** argv) {
  unsigned port = argc > 1 ? (unsigned)atoi(argv[1]) : 0;
  weft_config_t cfg = {.workers = port != 0 ? 0 : 2};
  int err = weft_run(main_task, (void*)(uintptr_t)port, &cfg, NULL);
  if (err != 0)
    fprintf(stderr, "chat_server: %s\n", weft_strerror(err));
  return err != 0;
}
