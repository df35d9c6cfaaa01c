/* What the HTTP client's files share: the client and its hosts
 * (http_client.c), URLs (http_url.c), one exchange on a pooled connection
 * (http_client.c) and the redirect loop (http_fetch.c). */
#ifndef WEFT_HTTP_CLIENT_H_
#define WEFT_HTTP_CLIENT_H_

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "http/http.h"
#include "weft.h"

enum { WEFT__HTTP_HOST_MAX = 256 };

typedef struct weft__http_host_s {
  struct weft__http_host_s* next;
  char name[WEFT__HTTP_HOST_MAX]; /* for connecting: no brackets */
  unsigned port;
  int tls;              /* https */
  weft_sem_t* slots;    /* connections in use or idle */
  weft_stream_t** idle; /* max_conns entries; under the client's lock */
  size_t nidle;
  size_t waiting; /* requests waiting for a slot; under the lock */
  int warned;     /* the long-queue warning was given; under the lock */
} weft__http_host_t;

struct weft_http_client_s {
  pthread_mutex_t lock;
  weft__http_host_t* hosts; /* under lock */
  size_t inflight;          /* under lock */
  unsigned max_conns;
  uint64_t timeout_ms;         /* 0: none */
  uint64_t connect_timeout_ms; /* 0: none */
  uint64_t head_timeout_ms;    /* 0: none */
  size_t max_header;
  size_t max_body;
  unsigned max_redirects; /* 0: none followed */
  weft_tls_t* tls;        /* under lock until set; then read-only */
};

/* A parsed absolute URL. `target` points into the string parsed. */
typedef struct {
  int tls;                                 /* https */
  char host[WEFT__HTTP_HOST_MAX];          /* for connecting */
  char authority[WEFT__HTTP_HOST_MAX + 8]; /* for the Host field */
  unsigned port;
  const char* target; /* path and query, up to '#' */
  size_t target_len;
} weft__http_url_t;

/* Parses "http://" or "https://" host[:port] [path][?query][#frag].
 * WEFT_EINVAL for anything else. */
int weft__http_parse_url(const char* url, weft__http_url_t* u);

/* The absolute URL that `ref` (a Location value: absolute, scheme- or
 * path-relative, or relative to the base's path) names from `base`, in a
 * malloc'd string. WEFT_EINVAL for a reference we cannot follow (another
 * scheme, bytes no URL has); WEFT_ENOMEM. */
int weft__http_resolve_url(const char* base, const char* ref, char** out);

/* 1 when a and b are the same origin (scheme, host and port). */
int weft__http_same_origin(const weft__http_url_t* a,
                           const weft__http_url_t* b);

/* A request body the client pulls (weft_http_send's source), or bytes. */
typedef struct {
  const void* data;
  size_t len;
  weft_http_source_fn source; /* NULL: data/len */
  void* arg;
  uint64_t source_len; /* 0: unknown, sent chunked */
  int used;            /* the source was read from: it cannot be resent */
} weft__http_payload_t;

/* One request as sent on the wire, one hop of the redirect loop. */
typedef struct {
  const char* method;
  const char* url; /* the caller's or a resolved Location */
  const weft_http_header_t* headers;
  size_t nheaders;
  weft__http_payload_t* body;
  int drop_auth;        /* leave out Authorization, Cookie: another origin */
  int drop_body_fields; /* leave out Content-Type: the body was dropped */
} weft__http_hop_t;

/* An exchange whose body is left on the connection (stream mode): what
 * weft_http_body_t wraps (http_client_body.c). */
typedef struct {
  weft_http_client_t* c;
  weft__http_host_t* h;
  weft_stream_t* s;
  weft__http_head_t head;
  int is_head;
} weft__http_open_t;

/* Appends the request line and head of `hop` to u (and a body given as
 * bytes). */
int weft__http_build_request(weft__http_buf_t* b, const weft__http_hop_t* hop,
                             const weft__http_url_t* u);

/* Sends one hop and reads the final response head into resp; the body
 * read whole into resp (open NULL) or left on the connection for the
 * caller (*open filled; the host's slot and the in-flight count stay
 * taken until weft__http_open_done). */
int weft__http_hop(weft_http_client_t* c, const weft__http_hop_t* hop,
                   weft_http_response_t* resp, weft__http_open_t* open);

/* Gives back an open exchange's connection: pooled when `reusable`,
 * else closed (aborted when `abort`). */
void weft__http_open_done(weft__http_open_t* o, int reusable, int abort);

/* Wraps an open exchange into a body handle (http_client_body.c).
 * WEFT_ENOMEM (o is left as it was). */
int weft__http_body_open(weft__http_open_t* o, weft_http_body_t** out);

#endif /* WEFT_HTTP_CLIENT_H_ */
