/* HTTP pieces the client and server share: the response struct's helpers
 * (public), a growable buffer, header checks and reason phrases.
 *
 * DESIGN
 * A response owns everything it points to. Each header is one allocation:
 * the name, its NUL, then the value and its NUL, so `value` points into
 * the name's block and freeing a header is one free(name). The body is
 * always allocated (one NUL byte for an empty body), so a handler or a
 * caller may use it as a C string without checking for NULL.
 */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "http/http.h"

/* ---- Growable buffer ----------------------------------------------------- */

int weft__http_buf_reserve(weft__http_buf_t* b, size_t more) {
  if (more > SIZE_MAX / 2 - b->len)
    return WEFT_ENOMEM;
  size_t need = b->len + more + 1;
  if (need <= b->cap)
    return 0;
  size_t cap = b->cap != 0 ? b->cap : 256;
  while (cap < need)
    cap *= 2;
  char* p = weft__realloc(b->p, cap);
  if (p == NULL)
    return WEFT_ENOMEM;
  b->p = p;
  b->cap = cap;
  return 0;
}

int weft__http_buf_add(weft__http_buf_t* b, const void* data, size_t len) {
  int err = weft__http_buf_reserve(b, len);
  if (err != 0)
    return err;
  if (len > 0)
    memcpy(b->p + b->len, data, len);
  b->len += len;
  b->p[b->len] = '\0';
  return 0;
}

int weft__http_buf_adds(weft__http_buf_t* b, const char* s) {
  return weft__http_buf_add(b, s, strlen(s));
}

int weft__http_buf_field(weft__http_buf_t* b, const char* name,
                         const char* value) {
  int err = weft__http_buf_adds(b, name);
  if (err == 0)
    err = weft__http_buf_add(b, ": ", 2);
  if (err == 0)
    err = weft__http_buf_adds(b, value);
  if (err == 0)
    err = weft__http_buf_add(b, "\r\n", 2);
  return err;
}

void weft__http_buf_free(weft__http_buf_t* b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}

/* ---- Checks and names -----------------------------------------------------
 */

int weft__http_check_header(const char* name, const char* value) {
  if (name == NULL || value == NULL || name[0] == '\0')
    return WEFT_EINVAL;
  for (const char* p = name; *p != '\0'; p++) {
    if (!weft__http_is_tchar((unsigned char)*p))
      return WEFT_EINVAL;
  }
  if (strpbrk(value, "\r\n") != NULL)
    return WEFT_EINVAL;
  return 0;
}

int weft__http_ieq(const char* a, const char* b) {
  weft__http_str_t s = {a, strlen(a)};
  return weft__http_str_ieq(s, b);
}

const char* weft__http_reason(int status) {
  /* clang-format off */
  switch (status) {
  case 100: return "Continue";
  case 200: return "OK";
  case 201: return "Created";
  case 202: return "Accepted";
  case 204: return "No Content";
  case 206: return "Partial Content";
  case 301: return "Moved Permanently";
  case 302: return "Found";
  case 303: return "See Other";
  case 304: return "Not Modified";
  case 307: return "Temporary Redirect";
  case 308: return "Permanent Redirect";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 408: return "Request Timeout";
  case 409: return "Conflict";
  case 411: return "Length Required";
  case 413: return "Content Too Large";
  case 414: return "URI Too Long";
  case 415: return "Unsupported Media Type";
  case 429: return "Too Many Requests";
  case 431: return "Request Header Fields Too Large";
  case 500: return "Internal Server Error";
  case 501: return "Not Implemented";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  default: return "";
  }
  /* clang-format on */
}

/* ---- Responses (public) ----------------------------------------------------
 */

int weft_http_response_free(weft_http_response_t* resp) {
  if (resp == NULL)
    return 0;
  for (size_t i = 0; i < resp->nheaders; i++)
    free((char*)resp->headers[i].name); /* the value shares the block */
  free(resp->headers);
  free(resp->body);
  free(resp->url);
  memset(resp, 0, sizeof(*resp));
  return 0;
}

const char* weft_http_response_header(const weft_http_response_t* resp,
                                      const char* name) {
  if (resp == NULL || name == NULL)
    return NULL;
  for (size_t i = 0; i < resp->nheaders; i++) {
    if (weft__http_ieq(resp->headers[i].name, name))
      return resp->headers[i].value;
  }
  return NULL;
}

int weft__http_response_add(weft_http_response_t* resp, weft__http_str_t name,
                            weft__http_str_t value) {
  weft_http_header_t* h =
      weft__realloc(resp->headers, (resp->nheaders + 1) * sizeof(*h));
  if (h == NULL)
    return WEFT_ENOMEM;
  resp->headers = h;
  char* block = weft__malloc(name.len + value.len + 2);
  if (block == NULL)
    return WEFT_ENOMEM;
  memcpy(block, name.p, name.len);
  block[name.len] = '\0';
  memcpy(block + name.len + 1, value.p, value.len);
  block[name.len + 1 + value.len] = '\0';
  h[resp->nheaders].name = block;
  h[resp->nheaders].value = block + name.len + 1;
  resp->nheaders++;
  return 0;
}

int weft_http_response_add_header(weft_http_response_t* resp, const char* name,
                                  const char* value) {
  if (resp == NULL || weft__http_check_header(name, value) != 0)
    return WEFT_EINVAL;
  weft__http_str_t n = {name, strlen(name)};
  weft__http_str_t v = {value, strlen(value)};
  return weft__http_response_add(resp, n, v);
}

int weft_http_response_set(weft_http_response_t* resp, int status,
                           const char* content_type, const void* body,
                           size_t len) {
  if (resp == NULL || status < 100 || status > 999 ||
      (body == NULL && len > 0) || len == SIZE_MAX)
    return WEFT_EINVAL;
  if (content_type != NULL &&
      weft__http_check_header("Content-Type", content_type) != 0)
    return WEFT_EINVAL;
  char* copy = weft__malloc(len + 1);
  if (copy == NULL)
    return WEFT_ENOMEM;
  if (len > 0)
    memcpy(copy, body, len);
  copy[len] = '\0';
  if (content_type != NULL) {
    int err = weft_http_response_add_header(resp, "Content-Type", content_type);
    if (err != 0) {
      free(copy);
      return err;
    }
  }
  free(resp->body);
  resp->body = copy;
  resp->body_len = len;
  resp->status = status;
  return 0;
}

const char* weft_http_request_header(const weft_http_request_t* req,
                                     const char* name) {
  if (req == NULL || name == NULL)
    return NULL;
  for (size_t i = 0; i < req->nheaders; i++) {
    if (weft__http_ieq(req->headers[i].name, name))
      return req->headers[i].value;
  }
  return NULL;
}
