/* The HTTP client's URLs: parsing an absolute http or https URL, and
 * resolving a redirect's Location against the URL it came from (RFC 3986
 * section 5.2, with remove_dot_segments). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "http/http_client.h"

static int parse_port(const char* p, const char* end, unsigned* port) {
  unsigned n = 0;
  if (p == end)
    return WEFT_EINVAL;
  for (; p < end; p++) {
    if (*p < '0' || *p > '9' || (n = n * 10 + (unsigned)(*p - '0')) > 65535)
      return WEFT_EINVAL;
  }
  *port = n;
  return n == 0 ? WEFT_EINVAL : 0;
}

/* host[:port] or [v6][:port] in [p, end). */
static int parse_authority(const char* p, const char* end,
                           weft__http_url_t* u) {
  const char* hs = p;
  const char* he;
  if (*p == '[') {
    he = memchr(p, ']', (size_t)(end - p));
    if (he == NULL)
      return WEFT_EINVAL;
    hs = p + 1;
    p = he + 1;
  } else {
    he = memchr(p, ':', (size_t)(end - p));
    he = he != NULL ? he : end;
    p = he;
  }
  if (he == hs || (size_t)(he - hs) >= WEFT__HTTP_HOST_MAX ||
      memchr(hs, '@', (size_t)(he - hs)) != NULL)
    return WEFT_EINVAL;
  memcpy(u->host, hs, (size_t)(he - hs));
  u->host[he - hs] = '\0';
  u->port = u->tls ? 443 : 80;
  if (p < end && (*p != ':' || parse_port(p + 1, end, &u->port) != 0))
    return WEFT_EINVAL;
  return 0;
}

/* The length of the scheme prefix ("http://" or "https://") and whether
 * it is https; 0 for anything else. */
static size_t scheme(const char* url, int* tls) {
  *tls = strncasecmp(url, "https://", 8) == 0;
  if (*tls)
    return 8;
  return strncasecmp(url, "http://", 7) == 0 ? 7 : 0;
}

int weft__http_parse_url(const char* url, weft__http_url_t* u) {
  size_t skip = scheme(url, &u->tls);
  if (skip == 0)
    return WEFT_EINVAL;
  const char* a = url + skip;
  const char* end = a + strcspn(a, "/?#");
  if (end == a || parse_authority(a, end, u) != 0)
    return WEFT_EINVAL;
  size_t alen = (size_t)(end - a);
  if (alen >= sizeof(u->authority))
    return WEFT_EINVAL;
  memcpy(u->authority, a, alen);
  u->authority[alen] = '\0';
  u->target = end;
  u->target_len = strcspn(end, "#");
  for (size_t i = 0; i < u->target_len; i++) {
    unsigned char c = (unsigned char)end[i];
    if (c <= 0x20 || c == 0x7f)
      return WEFT_EINVAL;
  }
  return 0;
}

int weft__http_same_origin(const weft__http_url_t* a,
                           const weft__http_url_t* b) {
  return a->tls == b->tls && a->port == b->port &&
         strcasecmp(a->host, b->host) == 0;
}

/* ---- Resolving a reference ------------------------------------------------
 */

/* Removes the last segment and the '/' before it from [p, *out). */
static void pop_segment(const char* p, char** out) {
  while (*out > p && (*out)[-1] != '/')
    (*out)--;
  if (*out > p)
    (*out)--;
}

/* RFC 3986 5.2.4 on the path in p (NUL-terminated), in place: the output
 * never grows past the input read so far. */
static void remove_dot_segments(char* p) {
  char* out = p;
  const char* in = p;
  while (*in != '\0') {
    if (strncmp(in, "../", 3) == 0) {
      in += 3;
    } else if (strncmp(in, "./", 2) == 0 || strncmp(in, "/./", 3) == 0) {
      in += 2;
    } else if (strcmp(in, "/.") == 0) {
      in = "/";
    } else if (strncmp(in, "/../", 4) == 0) {
      in += 3;
      pop_segment(p, &out);
    } else if (strcmp(in, "/..") == 0) {
      in = "/";
      pop_segment(p, &out);
    } else if (strcmp(in, ".") == 0 || strcmp(in, "..") == 0) {
      break;
    } else {
      do
        *out++ = *in++;
      while (*in != '\0' && *in != '/');
    }
  }
  *out = '\0';
}

/* "scheme://authority" of base: its length. */
static size_t origin_len(const char* base) {
  int tls;
  size_t skip = scheme(base, &tls);
  return skip + strcspn(base + skip, "/?#");
}

/* Joins a, b and c into a malloc'd string. */
static char* join3(const char* a, size_t alen, const char* b, size_t blen,
                   const char* c) {
  size_t clen = strlen(c);
  char* s = weft__malloc(alen + blen + clen + 1);
  if (s == NULL)
    return NULL;
  memcpy(s, a, alen);
  memcpy(s + alen, b, blen);
  memcpy(s + alen + blen, c, clen + 1);
  return s;
}

/* base's origin + the merged, dot-free path and ref's query. */
static char* merge(const char* base, const char* ref) {
  size_t olen = origin_len(base);
  const char* bpath = base + olen;
  size_t bplen = strcspn(bpath, "?#");
  size_t qpos = strcspn(ref, "?#");
  char* path;
  if (ref[0] == '/') { /* absolute path */
    path = join3("", 0, ref, qpos, "");
  } else if (qpos == 0) { /* "?q" or "": the base's path */
    path = join3("", 0, bpath, bplen, "");
  } else { /* relative: the base's directory, then ref */
    size_t dir = bplen;
    while (dir > 0 && bpath[dir - 1] != '/')
      dir--;
    path = dir == 0 ? join3("/", 1, ref, qpos, "")
                    : join3(bpath, dir, ref, qpos, "");
  }
  if (path == NULL)
    return NULL;
  remove_dot_segments(path);
  const char* query = ref[qpos] == '?' ? ref + qpos : "";
  if (qpos == 0 && ref[0] != '?') /* "" or "#f": the base's query too */
    query = bpath[bplen] == '?' ? bpath + bplen : "";
  int qlen = (int)strcspn(query, "#");
  size_t cap = olen + strlen(path) + (size_t)qlen + 2;
  char* out = weft__malloc(cap);
  if (out != NULL)
    snprintf(out, cap, "%.*s%s%s%.*s", (int)olen, base,
             path[0] == '/' || path[0] == '\0' ? "" : "/", path, qlen, query);
  free(path);
  return out;
}

int weft__http_resolve_url(const char* base, const char* ref, char** out) {
  int tls;
  for (const char* p = ref; *p != '\0'; p++) {
    if ((unsigned char)*p <= 0x20 || *p == 0x7f)
      return WEFT_EINVAL; /* a Location is a URI reference: no spaces */
  }
  if (scheme(ref, &tls) != 0) { /* absolute */
    *out = join3(ref, strlen(ref), "", 0, "");
  } else if (ref[0] == '/' && ref[1] == '/') { /* scheme-relative */
    scheme(base, &tls);
    *out = join3(tls ? "https:" : "http:", tls ? 6 : 5, ref, strlen(ref), "");
  } else if (ref[strcspn(ref, ":/?#")] == ':') {
    return WEFT_EINVAL; /* another scheme (ftp:, mailto:) */
  } else {
    *out = merge(base, ref);
  }
  return *out == NULL ? WEFT_ENOMEM : 0;
}
