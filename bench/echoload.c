/* echoload: the TCP echo load generator of bench/run-net.sh. Plain C, one
 * thread, epoll; no weft and no libuv, so the client costs the same whatever
 * server it measures.
 *
 *   echoload PORT CONNS SECS SIZE [NAME]
 *
 * Opens CONNS connections to 127.0.0.1:PORT. Once all are up, each one plays
 * ping-pong for SECS seconds: it writes a SIZE-byte message, reads SIZE bytes
 * back, checks that they are the bytes it sent, and writes the next message.
 * A round trip counts when its whole reply is in; its latency runs from the
 * first write of the message to the last byte of the reply. Replies still
 * on their way when the time is up are not counted.
 *
 * Prints one JSON line on stdout, with NAME (default "echo") as "runtime":
 *
 *   {"runtime":NAME,"bench":"echo","params":{"conns":C,"size":S,"secs":T},
 *    "rtt_per_sec":...,"round_trips":...,"seconds":...,
 *    "lat_mean_us":...,"lat_max_ms":...,"errors":E}
 *
 * "errors" counts connections that failed: a reset, an early end of stream,
 * a short write that could not finish, or a reply that differs from the
 * message. A failed connection stops; the others go on. Exits 0 when E is 0,
 * 1 when it is not (the line is printed all the same) or when the
 * connections cannot be set up, 2 on a usage error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Limits that only stop absurd arguments. */
#define MAX_CONNS 100000
#define MAX_SECS 86400
#define MAX_SIZE (16 * 1024 * 1024)

#define MAX_EVENTS 256

typedef struct conn_s {
  int fd;
  int failed;     /* set once: the connection counted as an error */
  size_t sent;    /* bytes of the current message written */
  size_t got;     /* bytes of the current reply read */
  int want_out;   /* EPOLLOUT is on: the message did not fit at once */
  double sent_at; /* when the current message's first byte was written */
} conn_t;

typedef struct load_s {
  int ep;
  size_t size;
  char* msg;  /* the message every connection sends */
  char* rbuf; /* where replies are read, SIZE bytes */
  long long round_trips;
  long long errors;
  double lat_sum; /* seconds, over the counted round trips */
  double lat_max;
} load_t;

static double now_s(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Parses a whole decimal number in [1, max] into *out; -1 if it is not. */
static int parse_count(const char* s, long max, long* out) {
  char* end;
  long v;

  if (*s < '0' || *s > '9')
    return -1;
  errno = 0;
  v = strtol(s, &end, 10);
  if (errno != 0 || *end != '\0' || v < 1 || v > max)
    return -1;
  *out = v;
  return 0;
}

/* Counts c as failed, once, and stops watching it. */
static void conn_fail(load_t* l, conn_t* c, const char* why) {
  if (c->failed)
    return;
  c->failed = 1;
  l->errors++;
  epoll_ctl(l->ep, EPOLL_CTL_DEL, c->fd, NULL);
  fprintf(stderr, "echoload: connection on fd %d: %s\n", c->fd, why);
}

/* Sets the events c is watched for: always input, output while part of a
 * message waits to be written. */
static int conn_watch(load_t* l, conn_t* c, int want_out) {
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};

  if (want_out == c->want_out)
    return 0;
  if (want_out)
    ev.events |= EPOLLOUT;
  c->want_out = want_out;
  return epoll_ctl(l->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Writes what is left of the current message. MSG_NOSIGNAL: a peer that
 * went away is an error to count, not a SIGPIPE. */
static void conn_flush(load_t* l, conn_t* c) {
  while (c->sent < l->size) {
    ssize_t n = send(c->fd, l->msg + c->sent, l->size - c->sent,
                     MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      break;
    if (n < 0) {
      conn_fail(l, c, strerror(errno));
      return;
    }
    c->sent += (size_t)n;
  }
  if (conn_watch(l, c, c->sent < l->size) != 0)
    conn_fail(l, c, strerror(errno));
}

static void conn_send(load_t* l, conn_t* c, double t) {
  c->sent = 0;
  c->got = 0;
  c->sent_at = t;
  conn_flush(l, c);
}

/* Reads once what the socket holds of the current reply (epoll is level
 * triggered: the rest comes with the next event) and checks it. A whole
 * reply counts a round trip at time t, then the next message goes out
 * unless the run is over. */
static void conn_read(load_t* l, conn_t* c, double t, int done) {
  ssize_t n;

  do
    n = recv(c->fd, l->rbuf, l->size - c->got, MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
    return;
  if (n <= 0) {
    conn_fail(l, c, n == 0 ? "end of stream" : strerror(errno));
    return;
  }
  /* Bytes beyond what was sent would be a reply to nothing. */
  if (c->got + (size_t)n > c->sent) {
    conn_fail(l, c, "more bytes back than were sent");
    return;
  }
  if (memcmp(l->rbuf, l->msg + c->got, (size_t)n) != 0) {
    conn_fail(l, c, "the reply differs from the message");
    return;
  }
  c->got += (size_t)n;
  if (c->got < l->size)
    return;
  double lat = t - c->sent_at;
  l->round_trips++;
  l->lat_sum += lat;
  if (lat > l->lat_max)
    l->lat_max = lat;
  if (!done)
    conn_send(l, c, t);
}

/* Opens CONNS connections to 127.0.0.1:port with TCP_NODELAY, each watched
 * for input. The sockets stay blocking, so that connect() returns once the
 * connection is up; every send and recv passes MSG_DONTWAIT instead.
 * Returns 0, or -1 after printing why. */
static int connect_all(load_t* l, conn_t* cs, long nc, long port) {
  struct sockaddr_in a = {.sin_family = AF_INET};

  a.sin_port = htons((unsigned short)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (long i = 0; i < nc; i++) {
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &cs[i]};
    int one = 1;

    cs[i].fd = socket(AF_INET, SOCK_STREAM, 0);
    if (cs[i].fd < 0) {
      perror("echoload: socket");
      return -1;
    }
    if (connect(cs[i].fd, (struct sockaddr*)&a, sizeof(a)) != 0) {
      perror("echoload: connect");
      return -1;
    }
    if (setsockopt(cs[i].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) !=
            0 ||
        epoll_ctl(l->ep, EPOLL_CTL_ADD, cs[i].fd, &ev) != 0) {
      perror("echoload: setsockopt/epoll_ctl");
      return -1;
    }
  }
  return 0;
}

int main(int argc, char** argv) {
  long port, nc, secs, size;
  const char* name = argc > 5 ? argv[5] : "echo";
  load_t l = {.ep = -1};
  conn_t* cs;
  struct epoll_event evs[MAX_EVENTS];
  double t0, t, end;
  int rc = 1;

  if (argc < 5 || argc > 6 || parse_count(argv[1], 65535, &port) != 0 ||
      parse_count(argv[2], MAX_CONNS, &nc) != 0 ||
      parse_count(argv[3], MAX_SECS, &secs) != 0 ||
      parse_count(argv[4], MAX_SIZE, &size) != 0) {
    fprintf(stderr,
            "usage: echoload PORT CONNS SECS SIZE [NAME]\n"
            "  PORT 1..65535, CONNS 1..%d, SECS 1..%d, SIZE "
            "1..%d bytes\n",
            MAX_CONNS, MAX_SECS, MAX_SIZE);
    return 2;
  }
  l.size = (size_t)size;
  l.msg = malloc(l.size);
  l.rbuf = malloc(l.size);
  cs = calloc((size_t)nc, sizeof(*cs));
  l.ep = epoll_create1(0);
  if (l.msg == NULL || l.rbuf == NULL || cs == NULL || l.ep < 0) {
    perror("echoload");
    goto out;
  }
  for (size_t i = 0; i < l.size; i++)
    l.msg[i] = (char)('a' + i % 26);
  for (long i = 0; i < nc; i++)
    cs[i].fd = -1;
  if (connect_all(&l, cs, nc, port) != 0)
    goto out;

  t0 = now_s();
  t = t0;
  end = t0 + (double)secs;
  for (long i = 0; i < nc; i++)
    conn_send(&l, &cs[i], t0);
  for (int done = 0; !done;) {
    int k = epoll_wait(l.ep, evs, MAX_EVENTS, 100);
    if (k < 0 && errno != EINTR) {
      perror("echoload: epoll_wait");
      goto out;
    }
    t = now_s();
    done = t >= end;
    for (int j = 0; j < k; j++) {
      conn_t* c = evs[j].data.ptr;
      if (!c->failed && (evs[j].events & EPOLLOUT))
        conn_flush(&l, c);
      if (!c->failed && (evs[j].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        conn_read(&l, c, t, done);
    }
  }

  double el = t - t0;
  printf("{\"runtime\":\"%s\",\"bench\":\"echo\",\"params\":{\"conns\":%ld,"
         "\"size\":%ld,\"secs\":%ld},\"rtt_per_sec\":%.1f,"
         "\"round_trips\":%lld,\"seconds\":%.3f,\"lat_mean_us\":%.1f,"
         "\"lat_max_ms\":%.2f,\"errors\":%lld}\n",
         name, nc, size, secs, (double)l.round_trips / el, l.round_trips, el,
         l.round_trips ? l.lat_sum / (double)l.round_trips * 1e6 : 0.0,
         l.lat_max * 1e3, l.errors);
  rc = l.errors != 0;
out:
  for (long i = 0; cs != NULL && i < nc; i++)
    if (cs[i].fd >= 0)
      close(cs[i].fd);
  if (l.ep >= 0)
    close(l.ep);
  free(cs);
  free(l.rbuf);
  free(l.msg);
  return rc;
}
