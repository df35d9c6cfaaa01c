/* DNS: getaddrinfo and getnameinfo on libuv's thread pool.
 *
 * DESIGN
 * A lookup has no object of its own, so it runs on the calling task's
 * worker: the request lives on the task's stack, a thread of libuv's pool
 * makes the blocking call, and the callback on that worker's loop ends
 * the task's wait (io.c).
 *
 * Cancellation is uv_cancel. It withdraws a request that no pool thread
 * has taken yet; libuv then calls back with UV_EAI_CANCELED, which we pass
 * on as UV_ECANCELED so that the wait returns WEFT_ECANCELED. A lookup a
 * pool thread already runs cannot be stopped (uv_cancel says UV_EBUSY): the
 * task waits for its end and gets its result, and the cancellation stays
 * pending for the task's next await. Either way the task never returns
 * while the pool may still write into the request on its stack.
 *
 * Literal addresses are parsed on the spot (uv_ip4_addr, uv_ip6_addr): no
 * trip through the pool, no await, and so no cancellation point, as
 * weft_await of a finished task. A literal of the other family than the
 * one asked for goes to getaddrinfo, which gives the system's own answer.
 *
 * Names go to getaddrinfo with SOCK_STREAM in the hints, so each address
 * comes once instead of once per socket type (the addresses are the same
 * for UDP). The port is written into every address afterwards instead of
 * being passed as a service string: no service lookup, and a numeric port
 * is all that callers have. Duplicates (a name listed twice in
 * /etc/hosts) are dropped.
 */
#include "io/dns.h"

#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <uv.h>

#include "base/common.h"
#include "io/io.h"

#define WEFT_PORT_MAX 65535u

typedef struct {
  weft__io_op_t op;
  uv_getaddrinfo_t req;
  struct addrinfo* res; /* the result list, freed by the waiting task */
} gai_t;

typedef struct {
  weft__io_op_t op;
  uv_getnameinfo_t req; /* holds the answer (req.host) */
} gni_t;

/* uv_cancel reports a withdrawn lookup as UV_EAI_CANCELED; the wait
 * counts UV_ECANCELED as the cancellation's delivery. */
static int wait_status(int status) {
  return status == UV_EAI_CANCELED ? UV_ECANCELED : status;
}

/* The op's cancel hook, on the op's worker. */
static void cancel_req(weft__io_op_t* op) {
  /* UV_EBUSY when a pool thread runs it already: it ends on its own. */
  (void)uv_cancel((uv_req_t*)op->data);
}

static void on_getaddrinfo(uv_getaddrinfo_t* req, int status,
                           struct addrinfo* res) {
  gai_t* g = weft__container_of(req, gai_t, req);
  g->res = res;
  weft__io_done(&g->op, wait_status(status));
}

static void on_getnameinfo(uv_getnameinfo_t* req, int status,
                           const char* hostname, const char* service) {
  (void)hostname;
  (void)service;
  gni_t* g = weft__container_of(req, gni_t, req);
  weft__io_done(&g->op, wait_status(status));
}

/* A literal address of an accepted family into *out, with the port. */
static int parse_literal(const char* host, unsigned port, int family,
                         struct sockaddr_storage* out) {
  memset(out, 0, sizeof(*out));
  if (family != AF_INET6 &&
      uv_ip4_addr(host, (int)port, (struct sockaddr_in*)out) == 0)
    return 1;
  if (family != AF_INET &&
      uv_ip6_addr(host, (int)port, (struct sockaddr_in6*)out) == 0)
    return 1;
  return 0;
}

/* One getaddrinfo entry as a zero-padded address with `port` (so equal
 * addresses compare equal byte for byte); 0 for a family we do not use. */
static int to_storage(const struct addrinfo* ai, unsigned port,
                      struct sockaddr_storage* ss) {
  memset(ss, 0, sizeof(*ss));
  if (ai->ai_family == AF_INET &&
      ai->ai_addrlen >= sizeof(struct sockaddr_in)) {
    memcpy(ss, ai->ai_addr, sizeof(struct sockaddr_in));
    ((struct sockaddr_in*)ss)->sin_port = htons((uint16_t)port);
    return 1;
  }
  if (ai->ai_family == AF_INET6 &&
      ai->ai_addrlen >= sizeof(struct sockaddr_in6)) {
    memcpy(ss, ai->ai_addr, sizeof(struct sockaddr_in6));
    ((struct sockaddr_in6*)ss)->sin6_port = htons((uint16_t)port);
    return 1;
  }
  return 0;
}

static int seen(const struct sockaddr_storage* addrs, size_t n,
                const struct sockaddr_storage* ss) {
  for (size_t i = 0; i < n; i++)
    if (memcmp(&addrs[i], ss, sizeof(*ss)) == 0)
      return 1;
  return 0;
}

/* Up to max distinct addresses of the list, in its order. */
static size_t copy_results(const struct addrinfo* ai, unsigned port,
                           struct sockaddr_storage* addrs, size_t max) {
  size_t n = 0;
  struct sockaddr_storage ss;
  for (; ai != NULL && n < max; ai = ai->ai_next)
    if (to_storage(ai, port, &ss) && !seen(addrs, n, &ss))
      addrs[n++] = ss;
  return n;
}

/* The pool lookup of a name: awaits on the calling task's worker. */
static int lookup(weft__worker_t* w, const char* host, unsigned port,
                  int family, struct sockaddr_storage* addrs, size_t max,
                  size_t* n) {
  struct addrinfo hints;
  gai_t g;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = family == 0 ? AF_UNSPEC : family;
  hints.ai_socktype = SOCK_STREAM;
  g.res = NULL;
  weft__io_op_init(&g.op, cancel_req, &g.req);
  /* libuv copies host and hints; on an error the callback never runs. */
  int err =
      uv_getaddrinfo(&w->loop, &g.req, on_getaddrinfo, host, NULL, &hints);
  if (err != 0)
    return err;
  weft__io_pool_started(&g.op);
  err = weft__io_wait(&g.op);
  if (err == 0) {
    *n = copy_results(g.res, port, addrs, max);
    if (*n == 0)
      err = UV_EAI_NONAME; /* only families we do not use */
  }
  uv_freeaddrinfo(g.res); /* NULL-safe; any thread */
  return err;
}

int weft__dns_resolve(const char* host, unsigned port, int family,
                      struct sockaddr_storage* addrs, size_t max, size_t* n) {
  int err;
  if (host == NULL || addrs == NULL || max == 0 || n == NULL ||
      port > WEFT_PORT_MAX ||
      (family != 0 && family != AF_INET && family != AF_INET6))
    return WEFT_EINVAL;
  *n = 0;
  weft__worker_t* w = weft__io_task_worker(&err);
  if (w == NULL)
    return err;
  if (parse_literal(host, port, family, &addrs[0])) {
    *n = 1;
    return 0;
  }
  if ((err = weft__io_check_cancel()) != 0)
    return err;
  return lookup(w, host, port, family, addrs, max, n);
}

int weft_getaddrinfo(const char* host, unsigned port, int family,
                     struct sockaddr_storage* addrs, size_t max, size_t* n) {
  return weft__dns_resolve(host, port, family, addrs, max, n);
}

int weft_getnameinfo(const struct sockaddr* addr, char* host, size_t cap) {
  int err;
  gni_t g;
  if (addr == NULL || host == NULL || cap == 0 ||
      (addr->sa_family != AF_INET && addr->sa_family != AF_INET6))
    return WEFT_EINVAL;
  host[0] = '\0';
  weft__worker_t* w = weft__io_task_worker(&err);
  if (w == NULL)
    return err;
  if ((err = weft__io_check_cancel()) != 0)
    return err;
  weft__io_op_init(&g.op, cancel_req, &g.req);
  /* libuv copies the address into the request. Flags 0: a numeric answer
   * when the address has no name (NI_NAMEREQD not set). */
  err = uv_getnameinfo(&w->loop, &g.req, on_getnameinfo, addr, 0);
  if (err != 0)
    return err;
  weft__io_pool_started(&g.op);
  if ((err = weft__io_wait(&g.op)) != 0)
    return err;
  size_t len = strlen(g.req.host);
  if (len >= cap)
    return WEFT_ENOBUFS;
  memcpy(host, g.req.host, len + 1);
  return 0;
}
