/* The HTTP client's requests: checking the arguments, writing the request
 * head, and the redirect loop around each hop (http_client.c).
 *
 * DESIGN
 * A redirect is one more hop with a new URL, resolved against the one that
 * answered; the request's method, body and headers change by RFC 9110
 * 15.4's rules as browsers and Go apply them: 301, 302 and 303 turn
 * anything but HEAD into a GET without body, 307 and 308 keep both. The
 * credentials a caller gave for one origin (Authorization, Cookie) never
 * follow the request to another: once a hop leaves the first origin they
 * are left out for the rest of the chain. A body pulled from a source can
 * be sent only once, so a 307 or 308 after one ends the chain there.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/opts.h"
#include "http/http_client.h"
#include "io/io.h"

/* ---- Building the request --------------------------------------------------
 */

static int check_args(const char* method, const weft_http_header_t* headers,
                      size_t nheaders, const void* body, size_t body_len) {
  if (method == NULL || method[0] == '\0' || (body == NULL && body_len > 0) ||
      (headers == NULL && nheaders > 0))
    return WEFT_EINVAL;
  for (const char* p = method; *p != '\0'; p++) {
    if (!weft__http_is_tchar((unsigned char)*p))
      return WEFT_EINVAL;
  }
  for (size_t i = 0; i < nheaders; i++) {
    if (weft__http_check_header(headers[i].name, headers[i].value) != 0)
      return WEFT_EINVAL;
  }
  return 0;
}

/* A header of the caller's that this hop leaves out: the framing we write
 * ourselves, credentials after leaving their origin, the body's type
 * after the body was dropped. */
static int left_out(const weft__http_hop_t* hop, const char* name) {
  if (weft__http_ieq(name, "content-length") ||
      weft__http_ieq(name, "transfer-encoding"))
    return 1;
  if (hop->drop_auth && (weft__http_ieq(name, "authorization") ||
                         weft__http_ieq(name, "proxy-authorization") ||
                         weft__http_ieq(name, "cookie")))
    return 1;
  return hop->drop_body_fields && weft__http_ieq(name, "content-type");
}

/* The caller's headers; *has_host if one is Host. */
static int add_user_headers(weft__http_buf_t* b, const weft__http_hop_t* hop,
                            int* has_host) {
  int err = 0;
  for (size_t i = 0; err == 0 && i < hop->nheaders; i++) {
    const char* name = hop->headers[i].name;
    if (left_out(hop, name))
      continue;
    *has_host |= weft__http_ieq(name, "host");
    err = weft__http_buf_field(b, name, hop->headers[i].value);
  }
  return err;
}

/* Content-Length or Transfer-Encoding for the body. */
static int add_framing(weft__http_buf_t* b, const char* method,
                       const weft__http_payload_t* p) {
  char cl[48];
  if (p->source != NULL && p->source_len == 0)
    return weft__http_buf_adds(b, "Transfer-Encoding: chunked\r\n");
  uint64_t len = p->source != NULL ? p->source_len : (uint64_t)p->len;
  int needs_len = len > 0 || strcmp(method, "POST") == 0 ||
                  strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0;
  snprintf(cl, sizeof(cl), "Content-Length: %llu\r\n", (unsigned long long)len);
  return needs_len ? weft__http_buf_adds(b, cl) : 0;
}

int weft__http_build_request(weft__http_buf_t* b, const weft__http_hop_t* hop,
                             const weft__http_url_t* u) {
  int has_host = 0;
  int err = weft__http_buf_adds(b, hop->method);
  if (err == 0)
    err = weft__http_buf_add(b, " ", 1);
  if (err == 0 && (u->target_len == 0 || u->target[0] == '?'))
    err = weft__http_buf_add(b, "/", 1);
  if (err == 0)
    err = weft__http_buf_add(b, u->target, u->target_len);
  if (err == 0)
    err = weft__http_buf_adds(b, " HTTP/1.1\r\n");
  if (err == 0)
    err = add_user_headers(b, hop, &has_host);
  if (err == 0 && !has_host)
    err = weft__http_buf_field(b, "Host", u->authority);
  if (err == 0)
    err = add_framing(b, hop->method, hop->body);
  if (err == 0)
    err = weft__http_buf_add(b, "\r\n", 2);
  if (err == 0 && hop->body->source == NULL)
    err = weft__http_buf_add(b, hop->body->data, hop->body->len);
  return err;
}

/* ---- Redirects -------------------------------------------------------------
 */

static int is_redirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 ||
         status == 308;
}

/* The next hop's URL after resp, or NULL when resp is the answer: not a
 * redirect, no usable Location, or a pulled body that cannot be resent. */
static char* next_url(const weft__http_hop_t* hop,
                      const weft_http_response_t* r, int* err) {
  *err = 0;
  const char* loc = weft_http_response_header(r, "location");
  if (!is_redirect(r->status) || loc == NULL)
    return NULL;
  if ((r->status == 307 || r->status == 308) && hop->body->used)
    return NULL;
  char* next = NULL;
  weft__http_url_t u;
  int e = weft__http_resolve_url(hop->url, loc, &next);
  if (e == WEFT_ENOMEM)
    *err = e;
  if (e == 0 && weft__http_parse_url(next, &u) != 0) {
    free(next);
    return NULL;
  }
  return next;
}

/* Turns hop into the request for `next`, after status. */
static void redirect(weft__http_hop_t* hop, weft__http_payload_t* body,
                     int status, char* next) {
  weft__http_url_t from, to;
  if (weft__http_parse_url(hop->url, &from) != 0 ||
      weft__http_parse_url(next, &to) != 0 ||
      !weft__http_same_origin(&from, &to))
    hop->drop_auth = 1; /* for the rest of the chain */
  if (status <= 303 && strcmp(hop->method, "HEAD") != 0) {
    hop->method = "GET";
    *body = (weft__http_payload_t){0};
    hop->drop_body_fields = 1;
  }
  free((char*)hop->url);
  hop->url = next;
}

/* The redirect loop: hops until an answer or an error. */
static int follow(weft_http_client_t* c, weft__http_hop_t* hop,
                  weft__http_payload_t* body, weft_http_response_t* resp,
                  weft__http_open_t* open) {
  for (unsigned hops = 0;; hops++) {
    int err = weft__http_hop(c, hop, resp, open);
    if (err != 0 || c->max_redirects == 0)
      return err;
    char* next = next_url(hop, resp, &err);
    if (next == NULL && err == 0)
      return 0; /* the answer */
    if (open != NULL)
      weft__http_open_done(open, 0, 1); /* the 3xx's body: not wanted */
    if (next == NULL)
      return err;
    if (hops == c->max_redirects) {
      free(next);
      return WEFT_ELIMIT;
    }
    redirect(hop, body, resp->status, next);
    weft_http_response_free(resp);
  }
}

/* ---- Public ----------------------------------------------------------------
 */

int weft_http_send(weft_http_client_t* client, const weft_http_send_t* req,
                   weft_http_response_t* resp, weft_http_body_t** body) {
  int err;
  weft_http_send_t r;
  if (body != NULL)
    *body = NULL;
  if (weft__io_task_worker(&err) == NULL)
    return err;
  if (client == NULL || req == NULL || resp == NULL ||
      WEFT__OPTS_READ(&r, req, source_len) != 0)
    return WEFT_EINVAL;
  memset(resp, 0, sizeof(*resp));
  const char* method = r.method != NULL ? r.method : "GET";
  if (r.url == NULL || (r.source != NULL && r.body != NULL) ||
      (err = check_args(method, r.headers, r.nheaders, r.body, r.body_len)))
    return err != 0 ? err : WEFT_EINVAL;
  weft__http_payload_t payload = {.data = r.body,
                                  .len = r.body_len,
                                  .source = r.source,
                                  .arg = r.source_arg,
                                  .source_len = r.source_len};
  weft__http_hop_t hop = {.method = method,
                          .headers = r.headers,
                          .nheaders = r.nheaders,
                          .body = &payload};
  size_t ulen = strlen(r.url);
  char* url = weft__malloc(ulen + 1);
  if (url == NULL)
    return WEFT_ENOMEM;
  hop.url = memcpy(url, r.url, ulen + 1);
  weft__http_open_t open;
  err = follow(client, &hop, &payload, resp, body != NULL ? &open : NULL);
  if (err == 0 && body != NULL && (err = weft__http_body_open(&open, body)))
    weft__http_open_done(&open, 0, 1);
  if (err != 0) {
    weft_http_response_free(resp);
    free((char*)hop.url);
    return err;
  }
  resp->url = (char*)hop.url;
  return 0;
}

int weft_http_request(weft_http_client_t* client, const char* method,
                      const char* url, const weft_http_header_t* headers,
                      size_t nheaders, const void* body, size_t body_len,
                      weft_http_response_t* resp) {
  if (method == NULL)
    return WEFT_EINVAL;
  weft_http_send_t r = {.size = sizeof(r),
                        .method = method,
                        .url = url,
                        .headers = headers,
                        .nheaders = nheaders,
                        .body = body,
                        .body_len = body_len};
  return weft_http_send(client, &r, resp, NULL);
}

int weft_http_get(weft_http_client_t* client, const char* url,
                  weft_http_response_t* resp) {
  return weft_http_request(client, "GET", url, NULL, 0, NULL, 0, resp);
}
