/* libcurl's multi interface on a weft worker's loop: every protocol curl
 * speaks (HTTPS, HTTP/2, FTP, ...) awaitable from any task.
 *
 * curl's multi interface asks its user to watch sockets and a timer for it
 * (CURLMOPT_SOCKETFUNCTION, CURLMOPT_TIMERFUNCTION) and to call
 * curl_multi_socket_action when they fire. Here they are a uv_poll_t per
 * socket and a uv_timer_t on the loop of the task that made the multi
 * handle (weft_uv_loop). A transfer is one weft_uv_await on that loop:
 * start adds the easy handle to the multi handle, the loop's callbacks
 * drive curl, and the transfer's end calls weft_uv_done; a cancellation
 * (or a timeout) takes the handle out of the multi handle. Every curl call
 * is made by whoever holds that loop (an await's start or cancel, a libuv
 * callback, or a task after weft_uv_enter), so curl, which is not
 * thread-safe per handle, is only ever used by one thread at a time, even
 * though the fetching tasks run on any worker.
 *
 * The example serves a few URLs itself (weft_http_serve on 127.0.0.1),
 * fetches five of them at once through curl, then one that never answers,
 * under a 50 ms timeout. Built when libcurl's development files are found
 * (Debian: libcurl4-openssl-dev). */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "weft.h"

/* ---- The driver: curl's sockets and timer on one libuv loop -------------- */

typedef struct sock_s sock_t;

typedef struct {
  uv_loop_t* loop; /* every field below is used by its holder only */
  CURLM* multi;
  uv_timer_t timer;
  sock_t* socks; /* watched sockets, to close what curl leaves */
} driver_t;

struct sock_s {
  uv_poll_t poll;
  curl_socket_t fd;
  driver_t* d;
  sock_t* next;
};

/* One transfer: its response and how it ended. */
typedef struct {
  CURL* easy;
  driver_t* d;
  weft_uv_op_t* op;
  char body[256];
  size_t len;
  CURLcode result;
} transfer_t;

static void check_done(driver_t* d) {
  CURLMsg* msg;
  int left;
  while ((msg = curl_multi_info_read(d->multi, &left)) != NULL) {
    if (msg->msg != CURLMSG_DONE)
      continue;
    transfer_t* t;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char**)&t);
    t->result = msg->data.result;
    curl_multi_remove_handle(d->multi, t->easy);
    weft_uv_done(t->op, 0); /* wakes the fetching task */
  }
}

static void on_poll(uv_poll_t* h, int status, int events) {
  sock_t* s = h->data;
  int flags = status < 0 ? CURL_CSELECT_ERR : 0;
  flags |= (events & UV_READABLE) ? CURL_CSELECT_IN : 0;
  flags |= (events & UV_WRITABLE) ? CURL_CSELECT_OUT : 0;
  int running;
  curl_multi_socket_action(s->d->multi, s->fd, flags, &running);
  check_done(s->d);
}

static void on_sock_closed(uv_handle_t* h) {
  free(h->data);
}

static void sock_close(sock_t* s) {
  driver_t* d = s->d;
  for (sock_t** p = &d->socks; *p != NULL; p = &(*p)->next)
    if (*p == s) {
      *p = s->next;
      break;
    }
  uv_close((uv_handle_t*)&s->poll, on_sock_closed);
}

/* CURLMOPT_SOCKETFUNCTION: watch `fd` for what curl wants. */
static int on_socket(CURL* easy, curl_socket_t fd, int what, void* userp,
                     void* socketp) {
  (void)easy;
  driver_t* d = userp;
  sock_t* s = socketp;
  if (what == CURL_POLL_REMOVE) {
    if (s != NULL) {
      curl_multi_assign(d->multi, fd, NULL);
      sock_close(s);
    }
    return 0;
  }
  if (s == NULL) {
    if ((s = calloc(1, sizeof(*s))) == NULL)
      return -1;
    s->fd = fd;
    s->d = d;
    uv_poll_init_socket(d->loop, &s->poll, fd);
    s->poll.data = s;
    s->next = d->socks;
    d->socks = s;
    curl_multi_assign(d->multi, fd, s);
  }
  int events = (what & CURL_POLL_IN) ? UV_READABLE : 0;
  events |= (what & CURL_POLL_OUT) ? UV_WRITABLE : 0;
  return uv_poll_start(&s->poll, events, on_poll) == 0 ? 0 : -1;
}

static void on_timeout(uv_timer_t* h) {
  driver_t* d = h->data;
  int running;
  curl_multi_socket_action(d->multi, CURL_SOCKET_TIMEOUT, 0, &running);
  check_done(d);
}

/* CURLMOPT_TIMERFUNCTION: call curl back in `ms` (-1: never). */
static int on_timer(CURLM* multi, long ms, void* userp) {
  (void)multi;
  driver_t* d = userp;
  if (ms < 0)
    uv_timer_stop(&d->timer);
  else
    uv_timer_start(&d->timer, on_timeout, (uint64_t)ms, 0);
  return 0;
}

/* On the calling task's loop, before its next await. */
static int driver_open(driver_t* d) {
  memset(d, 0, sizeof(*d));
  if ((d->loop = weft_uv_loop()) == NULL ||
      (d->multi = curl_multi_init()) == NULL)
    return WEFT_ENOMEM;
  curl_multi_setopt(d->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(d->multi, CURLMOPT_SOCKETDATA, d);
  curl_multi_setopt(d->multi, CURLMOPT_TIMERFUNCTION, on_timer);
  curl_multi_setopt(d->multi, CURLMOPT_TIMERDATA, d);
  uv_timer_init(d->loop, &d->timer);
  d->timer.data = d;
  return 0;
}

static void on_timer_closed(uv_handle_t* h) {
  weft_uv_done(h->data, 0);
}

static int start_close(uv_loop_t* loop, weft_uv_op_t* op, void* arg) {
  (void)loop;
  driver_t* d = arg;
  curl_multi_cleanup(d->multi); /* closes its connections (CURL_POLL_REMOVE) */
  while (d->socks != NULL)      /* and anything it left watched */
    sock_close(d->socks);
  d->timer.data = op; /* the close callback's way back */
  uv_close((uv_handle_t*)&d->timer, on_timer_closed);
  return 0;
}

/* Frees the driver on its loop, from any task, once no transfer runs. */
static void driver_close(driver_t* d) {
  weft_uv_await(d->loop, start_close, NULL, d);
}

/* ---- A transfer, from any task ------------------------------------------ */

static size_t on_body(char* data, size_t size, size_t n, void* arg) {
  transfer_t* t = arg;
  size_t k = size * n;
  size_t room = sizeof(t->body) - 1 - t->len;
  memcpy(t->body + t->len, data, k < room ? k : room);
  t->len += k < room ? k : room;
  t->body[t->len] = '\0';
  return k;
}

static int start_transfer(uv_loop_t* loop, weft_uv_op_t* op, void* arg) {
  (void)loop;
  transfer_t* t = arg;
  t->op = op;
  return curl_multi_add_handle(t->d->multi, t->easy) == CURLM_OK ? 0
                                                                 : WEFT_EINVAL;
}

static void cancel_transfer(weft_uv_op_t* op, void* arg) {
  transfer_t* t = arg;
  curl_multi_remove_handle(t->d->multi, t->easy);
  weft_uv_done(op, UV_ECANCELED);
}

/* GETs url through the driver; 0 or WEFT_ECANCELED (cancelled or timed
 * out), with t->result curl's own verdict. */
static int fetch(driver_t* d, const char* url, transfer_t* t, long* status) {
  memset(t, 0, sizeof(*t));
  t->d = d;
  if ((t->easy = curl_easy_init()) == NULL)
    return WEFT_ENOMEM;
  curl_easy_setopt(t->easy, CURLOPT_URL, url);
  curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
  curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
  curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
  int err = weft_uv_await(d->loop, start_transfer, cancel_transfer, t);
  *status = 0;
  if (err == 0 && t->result == CURLE_OK)
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, status);
  curl_easy_cleanup(t->easy); /* out of the multi handle: any thread */
  return err;
}

/* ---- The program -------------------------------------------------------- */

static int answer(const weft_http_request_t* req, weft_http_response_t* resp,
                  void* arg) {
  (void)arg;
  if (strcmp(req->target, "/never") == 0)
    weft_sleep_ms(60 * 60 * 1000); /* until the shutdown cancels it */
  char text[128];
  int n = snprintf(text, sizeof(text), "hello from weft at %s", req->target);
  return weft_http_response_set(resp, 200, "text/plain", text, (size_t)n);
}

typedef struct {
  driver_t* d;
  char url[64];
  transfer_t t;
  long status;
  int err;
} job_t;

static int fetch_task(void* arg, void** result) {
  (void)result;
  job_t* j = arg;
  j->err = fetch(j->d, j->url, &j->t, &j->status);
  return 0;
}

static int main_task(void* arg, void** result) {
  (void)arg;
  (void)result;
  driver_t d;
  int err = driver_open(&d); /* on this task's loop: no await before */
  if (err != 0)
    return err;
  weft_server_t* srv;
  if ((err = weft_http_serve("127.0.0.1", 0, answer, NULL, NULL, &srv)) != 0)
    return err;
  unsigned port = weft_server_port(srv);

  /* Five transfers at once, from five tasks on any workers. */
  job_t jobs[5];
  weft_task_t* tasks[5];
  for (int i = 0; i < 5; i++) {
    jobs[i].d = &d;
    snprintf(jobs[i].url, sizeof(jobs[i].url), "http://127.0.0.1:%u/%c", port,
             'a' + i);
    weft_spawn(NULL, fetch_task, &jobs[i], NULL, &tasks[i]);
  }
  for (int i = 0; i < 5; i++) {
    weft_await(tasks[i], NULL);
    weft_task_release(tasks[i]);
    printf("GET /%c: %ld \"%s\"\n", 'a' + i, jobs[i].status, jobs[i].t.body);
  }

  /* A transfer that never ends, bounded like any await. */
  char url[64];
  snprintf(url, sizeof(url), "http://127.0.0.1:%u/never", port);
  transfer_t t;
  long status;
  weft_timeout_t* tm;
  weft_timeout_enter(50, &tm);
  err = fetch(&d, url, &t, &status);
  printf("GET /never under a 50 ms timeout: %s (scope: %s)\n",
         weft_err_name(err), weft_err_name(weft_timeout_exit(tm)));

  weft_server_close(srv);
  driver_close(&d);
  return 0;
}

int main(void) {
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return 1;
  int err = weft_run(main_task, NULL, NULL, NULL);
  curl_global_cleanup();
  if (err != 0)
    fprintf(stderr, "curl_multi: %s\n", weft_strerror(err));
  return err != 0;
}
