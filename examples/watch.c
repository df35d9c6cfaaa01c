/* Live configuration with a watch channel (tokio's watch): the admin
 * publishes new configurations; the server picks up the latest one
 * between requests, skipping any it never got to; a logger awaits each
 * change. Configurations are allocated, and the channel frees each one
 * once it is replaced and no receiver still uses it.
 *
 * What the server prints does not depend on timing: the admin sends each
 * request and waits for its reply, and sends configurations only between
 * them, so when the server takes a request, the newest configuration is
 * already there.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <weft.h>

typedef struct {
  int version;
  char level[16];
} config_t;

/* Configurations the channel destroyed. Destructors run on whichever
 * thread lets a configuration go (a send, a receiver, the free). */
static atomic_int freed;

static void free_config(void* value) {
  atomic_fetch_add(&freed, 1);
  free(value);
}

static config_t* make_config(int version, const char* level) {
  config_t* c = malloc(sizeof(*c));
  if (c != NULL) {
    c->version = version;
    snprintf(c->level, sizeof(c->level), "%s", level);
  }
  return c;
}

typedef struct {
  weft_watch_rx_t* rx;
  weft_chan_t* requests;
  weft_chan_t* replies;
} server_t;

static int server(void* arg, void** result) {
  server_t* s = arg;
  void* value;
  void* req;
  int err;
  (void)result;
  weft_watch_get(s->rx, &value, NULL); /* the configuration at start */
  while ((err = weft_chan_recv(s->requests, &req)) == 0) {
    uint64_t version;
    /* Between requests: a newer configuration, if any (never waits). */
    if (weft_watch_try_recv(s->rx, &value, &version) == 0)
      printf("server: picked up config v%llu\n", (unsigned long long)version);
    config_t* cfg = value; /* valid until our next watch call */
    printf("server: request %s handled with log level %s\n", (char*)req,
           cfg->level);
    if ((err = weft_chan_send(s->replies, req)) != 0)
      return err;
  }
  return err == WEFT_ECLOSED ? 0 : err;
}

static int logger(void* arg, void** result) {
  void* value;
  uint64_t version = 0;
  uint64_t seen = 0;
  int err;
  (void)result;
  /* Wakes at each change; changes made in a burst may come as one. */
  while ((err = weft_watch_recv(arg, &value, &version)) == 0)
    seen = version;
  if (err != WEFT_ECLOSED)
    return err;
  printf("logger: last saw config v%llu, then the close\n",
         (unsigned long long)seen);
  return 0;
}

/* A request, and its reply. */
static int call(server_t* s, const char* name) {
  void* reply;
  int err = weft_chan_send(s->requests, (void*)name);
  return err != 0 ? err : weft_chan_recv(s->replies, &reply);
}

/* The admin: configurations between requests. */
static int admin(weft_watch_t* config, server_t* s) {
  int err = call(s, "a");
  if (err == 0)
    err = weft_watch_send(config, make_config(1, "debug"));
  if (err == 0)
    err = call(s, "b");
  /* Two updates before the next request: the server only sees the
   * second; the first is freed when the second replaces it. */
  if (err == 0)
    err = weft_watch_send(config, make_config(2, "warn"));
  if (err == 0)
    err = weft_watch_send(config, make_config(3, "error"));
  if (err == 0)
    err = call(s, "c");
  weft_chan_close(s->requests);
  weft_watch_close(config);
  return err;
}

static int main_task(void* arg, void** result) {
  weft_watch_t* config = arg;
  weft_watch_rx_t* log_rx;
  server_t srv = {0};
  weft_task_t* tasks[2];
  (void)result;
  int err = weft_chan_new(1, &srv.requests);
  if (err == 0)
    err = weft_chan_new(1, &srv.replies);
  if (err == 0)
    err = weft_watch_subscribe(config, &srv.rx);
  if (err == 0)
    err = weft_watch_subscribe(config, &log_rx);
  if (err != 0)
    return err;
  printf("admin: starting with config v0, log level info\n");
  if ((err = weft_spawn(NULL, server, &srv, NULL, &tasks[0])) != 0)
    return err;
  if ((err = weft_spawn(NULL, logger, log_rx, NULL, &tasks[1])) != 0) {
    weft_cancel(tasks[0]);
    weft_await(tasks[0], NULL);
    weft_task_release(tasks[0]);
    return err;
  }
  err = admin(config, &srv);
  for (int i = 0; i < 2; i++) {
    int e = weft_await(tasks[i], NULL);
    weft_task_release(tasks[i]);
    if (err == 0)
      err = e;
  }
  weft_watch_unsubscribe(srv.rx);
  weft_watch_unsubscribe(log_rx);
  weft_chan_free(srv.requests);
  weft_chan_free(srv.replies);
  return err;
}

int main(void) {
  weft_watch_t* config;
  int err = weft_watch_new(make_config(0, "info"), free_config, &config);
  if (err == 0)
    err = weft_run(main_task, config, NULL, NULL);
  weft_watch_free(config);
  printf("admin: %d configs freed, each once\n", atomic_load(&freed));
  if (err != 0)
    fprintf(stderr, "watch: %s\n", weft_strerror(err));
  return err != 0;
}
