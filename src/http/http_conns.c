/* The HTTP server's connection table: how many connections are open, which
 * of them idle (waiting for a request's first byte), and what to do with
 * one more than max_conns. Also the stats of every server, and the list
 * that finds a server's stats from its weft_server_t.
 *
 * DESIGN
 * A server that accepts every connection until the descriptor table is
 * full locks out everyone once an attacker holds ~1,000 idle connections.
 * So the table caps open connections at max_conns (by default below the
 * descriptor limit, so accepting never fails for our own connections), and
 * a connection over the cap makes room: the connection that has idled the
 * longest is evicted, or, when none idles (all are busy with requests),
 * the new one is refused with a 503. A fresh client therefore always gets
 * in while idle connections hold the places, and an attacker's idle
 * connections are the ones to go.
 *
 * Idle connections sit on a list in the order they became idle, under the
 * table's mutex (any worker's connection task touches it; it is held for
 * a few pointer moves, never across an await). Eviction cancels the idle
 * connection's task (weft_cancel: any thread): its wait for the next
 * request returns WEFT_ECANCELED and it closes. The task is alive while
 * its node is on the list: it takes the node off (weft__http_conns_busy,
 * under the mutex) before it can end, and an evicted node is off already.
 * `evicted` on the node tells the task that the cancellation it may see
 * is ours.
 *
 * Counters are plain fields under the mutex; a stats read takes it too.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "http/http.h"

enum { kMaxConnsCap = 65536 };

static pthread_mutex_t g_servers_lock = PTHREAD_MUTEX_INITIALIZER;
static weft__http_conns_t* g_servers; /* under g_servers_lock */

/* 7/8 of the soft descriptor limit (the rest for files, clients, the
 * listener), at least 64 and at most kMaxConnsCap. */
static uint64_t default_max(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
    return kMaxConnsCap;
  uint64_t n = (uint64_t)rl.rlim_cur - (uint64_t)rl.rlim_cur / 8;
  return n < 64 ? 64 : n > kMaxConnsCap ? kMaxConnsCap : n;
}

int weft__http_conns_init(weft__http_conns_t* t, uint64_t max) {
  if (pthread_mutex_init(&t->lock, NULL) != 0)
    return WEFT_ENOMEM;
  t->idle.prev = t->idle.next = &t->idle;
  t->live.prev = t->live.next = &t->live;
  t->max = max == 0 ? default_max() : max;
  return 0;
}

void weft__http_conns_register(weft__http_conns_t* t,
                               const weft_server_t* srv) {
  t->srv = srv;
  pthread_mutex_lock(&g_servers_lock);
  t->next_server = g_servers;
  g_servers = t;
  pthread_mutex_unlock(&g_servers_lock);
}

void weft__http_conns_destroy(weft__http_conns_t* t) {
  pthread_mutex_lock(&g_servers_lock);
  weft__http_conns_t** pp = &g_servers;
  while (*pp != NULL && *pp != t)
    pp = &(*pp)->next_server;
  if (*pp != NULL)
    *pp = t->next_server;
  pthread_mutex_unlock(&g_servers_lock);
  pthread_mutex_destroy(&t->lock);
}

static void unlink_idle(weft__http_idle_t* n) {
  n->prev->next = n->next;
  n->next->prev = n->prev;
  n->prev = n->next = NULL;
}

int weft__http_conns_enter(weft__http_conns_t* t) {
  int err = 0;
  pthread_mutex_lock(&t->lock);
  if (t->max != WEFT_HTTP_OFF && t->stats.conns >= t->max) {
    weft__http_idle_t* oldest = t->idle.next;
    if (oldest != &t->idle) {
      unlink_idle(oldest);
      oldest->evicted = 1;
      weft_cancel(oldest->task);
      t->stats.evicted++;
    } else {
      t->stats.refused++;
      err = WEFT_EBUSY;
    }
  }
  if (err == 0)
    t->stats.conns++;
  pthread_mutex_unlock(&t->lock);
  return err;
}

void weft__http_conns_leave(weft__http_conns_t* t) {
  pthread_mutex_lock(&t->lock);
  t->stats.conns--;
  /* Under the lock: the shutdown frees the event only after taking it. */
  if (t->stats.conns == 0 && t->drained != NULL)
    weft_event_set(t->drained);
  pthread_mutex_unlock(&t->lock);
}

static void link_tail(weft__http_idle_t* head, weft__http_idle_t* n) {
  n->prev = head->prev;
  n->next = head;
  head->prev->next = n;
  head->prev = n;
}

void weft__http_conns_live(weft__http_conns_t* t, weft__http_idle_t* n) {
  n->task = weft_current_task();
  pthread_mutex_lock(&t->lock);
  link_tail(&t->live, n);
  pthread_mutex_unlock(&t->lock);
}

void weft__http_conns_gone(weft__http_conns_t* t, weft__http_idle_t* n) {
  pthread_mutex_lock(&t->lock);
  unlink_idle(n);
  pthread_mutex_unlock(&t->lock);
}

int weft__http_conns_draining(weft__http_conns_t* t) {
  pthread_mutex_lock(&t->lock);
  int d = t->draining;
  pthread_mutex_unlock(&t->lock);
  return d;
}

/* Cancels the tasks on list `head` (idle ones: marked evicted). Lock held:
 * a task takes its node off before it ends, so every one is alive. */
static void cancel_list(weft__http_idle_t* head, int evict) {
  for (weft__http_idle_t* n = head->next; n != head;) {
    weft__http_idle_t* next = n->next;
    if (evict) {
      unlink_idle(n);
      n->evicted = 1;
    }
    weft_cancel(n->task);
    n = next;
  }
}

static weft__http_conns_t* find_table(const weft_server_t* srv) {
  pthread_mutex_lock(&g_servers_lock);
  weft__http_conns_t* t = g_servers;
  while (t != NULL && t->srv != srv)
    t = t->next_server;
  if (t != NULL)
    t->srv = NULL; /* the server goes: a second shutdown finds nothing */
  pthread_mutex_unlock(&g_servers_lock);
  return t;
}

/* Waits until every connection left, within `ms` (< 0: no bound). */
static int wait_drained(weft__http_conns_t* t, weft_event_t* ev, int64_t ms) {
  pthread_mutex_lock(&t->lock);
  int empty = t->stats.conns == 0;
  pthread_mutex_unlock(&t->lock);
  if (empty || ms == 0)
    return empty ? 0 : WEFT_ETIMEDOUT;
  if (ms < 0)
    return weft_event_wait(ev);
  weft_timeout_t* tm;
  int err = weft_timeout_enter((uint64_t)ms, &tm);
  if (err != 0)
    return err;
  err = weft_event_wait(ev);
  int ended = weft_timeout_exit(tm);
  return ended != 0 ? ended : err;
}

int weft_http_server_shutdown(weft_server_t* srv, int64_t grace_ms) {
  if (srv == NULL)
    return WEFT_EINVAL;
  if (weft_current_task() == NULL)
    return WEFT_ENOTTASK;
  weft_event_t* ev;
  int err = weft_event_new(&ev);
  if (err != 0)
    return err;
  weft__http_conns_t* t = find_table(srv);
  if (t == NULL) {
    weft_event_free(ev);
    return WEFT_EINVAL;
  }
  weft_server_close(srv); /* no new connection from here on */
  pthread_mutex_lock(&t->lock);
  t->draining = 1;
  t->drained = ev;
  cancel_list(&t->idle, 1); /* idle keep-alive connections close now */
  pthread_mutex_unlock(&t->lock);
  int rc = wait_drained(t, ev, grace_ms);
  if (rc == WEFT_ETIMEDOUT) {
    pthread_mutex_lock(&t->lock);
    cancel_list(&t->live, 0); /* the grace is over: handlers are cancelled */
    pthread_mutex_unlock(&t->lock);
    err = wait_drained(t, ev, -1);
    if (err != 0)
      rc = err;
  }
  pthread_mutex_lock(&t->lock);
  t->drained = NULL;
  pthread_mutex_unlock(&t->lock);
  weft_event_free(ev);
  return rc;
}

int weft__http_conns_idle(weft__http_conns_t* t, weft__http_idle_t* n) {
  n->task = weft_current_task();
  n->evicted = 0;
  pthread_mutex_lock(&t->lock);
  /* Checked under the lock a shutdown sets it under: no connection goes
   * idle after the shutdown evicted the idle ones. */
  int draining = t->draining;
  if (!draining) {
    n->prev = t->idle.prev;
    n->next = &t->idle;
    t->idle.prev->next = n;
    t->idle.prev = n;
  }
  pthread_mutex_unlock(&t->lock);
  return draining ? WEFT_ECLOSED : 0;
}

int weft__http_conns_busy(weft__http_conns_t* t, weft__http_idle_t* n) {
  pthread_mutex_lock(&t->lock);
  int evicted = n->evicted;
  if (!evicted)
    unlink_idle(n);
  pthread_mutex_unlock(&t->lock);
  return evicted;
}

void weft__http_conns_count(weft__http_conns_t* t, uint64_t* counter) {
  pthread_mutex_lock(&t->lock);
  (*counter)++;
  pthread_mutex_unlock(&t->lock);
}

int weft_http_server_stats(const weft_server_t* srv,
                           weft_http_server_stats_t* out) {
  if (srv == NULL || out == NULL)
    return WEFT_EINVAL;
  int err = WEFT_EINVAL;
  pthread_mutex_lock(&g_servers_lock);
  for (weft__http_conns_t* t = g_servers; t != NULL; t = t->next_server) {
    if (t->srv != srv)
      continue;
    pthread_mutex_lock(&t->lock);
    *out = t->stats;
    pthread_mutex_unlock(&t->lock);
    err = 0;
    break;
  }
  pthread_mutex_unlock(&g_servers_lock);
  return err;
}
