/* llhttp's request and response test vectors, replayed to weft's parser
 * (tests/http_vectors/README.md says where they come from, and under which
 * license). Each vector carries llhttp strict mode's verdict; weft must
 * reach the same one, unless the vector names a deliberate disagreement
 * (an "@@ weft" line with its reason, listed in docs/http.md), in which
 * case weft must reach the verdict that line gives.
 *
 * A verdict is computed the way weft's server (requests) or client
 * (responses) reads a connection, over the whole input:
 *   - "ok": every message parsed, possibly the last one incomplete (llhttp
 *     reports no error for a message that has not ended yet);
 *   - "error": a head or a body's framing was refused;
 *   - "closed": a message said the connection ends after it and more
 *     bytes followed (llhttp strict: "Data after Connection: close"; weft
 *     stops reading there, which is the same outcome for the peer).
 * Requests are parsed with weft__http_parse_request, bodies by their
 * framing (Content-Length skipped, chunked through weft__http_dechunk);
 * responses with weft__http_parse_response, 1xx heads followed by the
 * final one, 204 and 304 without a body, and a response without framing
 * read to the end.
 *
 * llhttp does not require Host; weft does for HTTP/1.1 (RFC 9112 3.2). A
 * request refused only for lacking Host is parsed again with "Host: x"
 * added after its request line, and that verdict counts (docs/http.md).
 *
 * The file format (one vector):
 *   @@ request|response ok|error|closed | name | source file
 *   [@@ weft ok|error|closed | reason]
 *   the lines of llhttp's ```http block, verbatim
 *   @@ end
 * The lines become the input as llhttp's test harness makes it: a line
 * ending in a backslash joins the next one, lines are joined with CRLF (no
 * CRLF after the last), then the escapes \r \n \t \f \xHH and octal \NNN
 * become bytes (any other backslash stays, as in llhttp's harness). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "helpers.h"
#include "http/http_parse.h"

enum verdict { V_OK, V_ERROR, V_CLOSED, V_BAD };

static const char* const kVerdicts[] = {"ok", "error", "closed"};

static enum verdict verdict_of(const char* s, size_t n) {
  for (int v = V_OK; v <= V_CLOSED; v++) {
    if (strlen(kVerdicts[v]) == n && strncmp(s, kVerdicts[v], n) == 0)
      return (enum verdict)v;
  }
  return V_BAD;
}

/* ---- Turning a block into bytes ------------------------------------------ */

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Decodes the escapes of text[0..n) into out; returns the length. */
static size_t unescape(const char* text, size_t n, char* out) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    if (text[i] != '\\' || i + 1 == n) {
      out[o++] = text[i];
      continue;
    }
    char c = text[++i];
    if (c == 'r' || c == 'n' || c == 't' || c == 'f') {
      out[o++] = c == 'r' ? '\r' : c == 'n' ? '\n' : c == 't' ? '\t' : '\f';
    } else if (c == 'x' && i + 2 < n && hexval(text[i + 1]) >= 0 &&
               hexval(text[i + 2]) >= 0) {
      out[o++] = (char)(hexval(text[i + 1]) * 16 + hexval(text[i + 2]));
      i += 2;
    } else if (c >= '0' && c <= '7') {
      int v = 0, k = 0;
      while (k < 3 && i < n && text[i] >= '0' && text[i] <= '7') {
        v = v * 8 + (text[i++] - '0');
        k++;
      }
      i--;
      out[o++] = (char)v;
    } else { /* llhttp's harness leaves any other escape as it is */
      out[o++] = '\\';
      out[o++] = c;
    }
  }
  return o;
}

/* The input for `nlines` lines (NUL-separated in `lines`), in *len. */
static char* build_input(const char* lines, size_t nlines, size_t* len) {
  size_t cap = 0;
  const char* p = lines;
  for (size_t i = 0; i < nlines; i++) {
    cap += strlen(p) + 2;
    p += strlen(p) + 1;
  }
  char* joined = malloc(cap + 1);
  char* out = malloc(cap + 1);
  size_t j = 0;
  p = lines;
  for (size_t i = 0; i < nlines; i++) {
    size_t l = strlen(p);
    int cont = l > 0 && p[l - 1] == '\\' && (l < 2 || p[l - 2] != '\\');
    memcpy(joined + j, p, cont ? l - 1 : l);
    j += cont ? l - 1 : l;
    if (!cont && i + 1 < nlines) {
      joined[j++] = '\r';
      joined[j++] = '\n';
    }
    p += l + 1;
  }
  *len = unescape(joined, j, out);
  free(joined);
  return out;
}

/* ---- Verdicts -------------------------------------------------------------
 */

static int has_host(const char* head, size_t n) {
  for (size_t i = 0; i + 7 < n; i++) {
    if ((head[i] == '\n') && strncasecmp(head + i + 1, "host:", 5) == 0)
      return 1;
  }
  return 0;
}

/* Parses the request at buf, adding "Host: x" if that is all it lacks:
 * as weft__http_parse_request. */
static ssize_t parse_request(const char* buf, size_t len,
                             weft__http_head_t* h) {
  ssize_t r = weft__http_parse_request(buf, len, h);
  size_t skip = 0; /* empty lines before the request line */
  while (skip + 1 < len && buf[skip] == '\r' && buf[skip + 1] == '\n')
    skip += 2;
  const char* eol = memchr(buf + skip, '\n', len - skip);
  if (r != WEFT_EPROTO || eol == NULL || has_host(buf, len))
    return r;
  size_t first = (size_t)(eol - buf) + 1;
  static const char kHost[] = "Host: x\r\n";
  char* copy = malloc(len + sizeof(kHost));
  memcpy(copy, buf, first);
  memcpy(copy + first, kHost, sizeof(kHost) - 1);
  memcpy(copy + first + sizeof(kHost) - 1, buf + first, len - first);
  weft__http_head_t h2;
  ssize_t r2 = weft__http_parse_request(copy, len + sizeof(kHost) - 1, &h2);
  free(copy);
  if (r2 <= 0)
    return r2 == WEFT_EAGAIN ? r2 : r;
  /* What the caller uses of the head (framing, keep-alive) is the same;
   * the fields pointed into the copy, now freed. */
  *h = h2;
  h->nfields = 0;
  return r2 - (ssize_t)(sizeof(kHost) - 1);
}

/* The body after a head: the bytes it takes, 0 for an incomplete one
 * (*more = 0: stop, ok), or -1 for bad framing. `to_eof`: a response
 * without framing, read to the end. */
static ssize_t skip_body(const weft__http_head_t* h, const char* p, size_t n,
                         int no_body, int to_eof, int* more) {
  *more = 1;
  if (no_body)
    return 0;
  if (h->chunked) {
    char* out = malloc(n + 1);
    size_t got;
    ssize_t r = weft__http_dechunk(p, n, out, n, &got);
    free(out);
    if (r == WEFT_EAGAIN)
      *more = 0;
    return r == WEFT_EAGAIN ? 0 : r < 0 ? -1 : r;
  }
  if (h->content_length >= 0) {
    if ((uint64_t)h->content_length > n) {
      *more = 0;
      return 0;
    }
    return (ssize_t)h->content_length;
  }
  if (to_eof)
    *more = 0; /* everything left is the body */
  return 0;
}

static enum verdict run_requests(const char* buf, size_t len) {
  size_t pos = 0;
  while (pos < len) {
    weft__http_head_t h;
    ssize_t r = parse_request(buf + pos, len - pos, &h);
    if (r == WEFT_EAGAIN)
      return V_OK;
    if (r < 0)
      return V_ERROR;
    pos += (size_t)r;
    int more;
    ssize_t b = skip_body(&h, buf + pos, len - pos, 0, 0, &more);
    if (b < 0)
      return V_ERROR;
    if (!more)
      return V_OK;
    pos += (size_t)b;
    if (!h.keep_alive && pos < len)
      return V_CLOSED;
  }
  return V_OK;
}

static enum verdict run_responses(const char* buf, size_t len) {
  size_t pos = 0;
  while (pos < len) {
    weft__http_head_t h;
    ssize_t r = weft__http_parse_response(buf + pos, len - pos, &h);
    if (r == WEFT_EAGAIN)
      return V_OK;
    if (r < 0)
      return V_ERROR;
    pos += (size_t)r;
    if (h.status < 200)
      continue; /* 1xx: the final head follows */
    int more;
    int no_body = h.status == 204 || h.status == 304;
    ssize_t b = skip_body(&h, buf + pos, len - pos, no_body, 1, &more);
    if (b < 0)
      return V_ERROR;
    if (!more)
      return V_OK;
    pos += (size_t)b;
    if (!h.keep_alive && pos < len)
      return V_CLOSED;
  }
  return V_OK;
}

/* ---- The files ------------------------------------------------------------
 */

typedef struct {
  int total, agree, disagree_listed, failed;
} tally_t;

/* Splits "a | b | c" in place: the pieces, trimmed, in out[0..max). */
static int split(char* s, char** out, int max) {
  int n = 0;
  while (n < max) {
    char* bar = strchr(s, '|');
    if (bar != NULL)
      *bar = '\0';
    while (*s == ' ')
      s++;
    char* e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\n'))
      *--e = '\0';
    out[n++] = s;
    if (bar == NULL)
      break;
    s = bar + 1;
  }
  return n;
}

static void check_vector(const char* kind, enum verdict want,
                         enum verdict weft_want, const char* name,
                         const char* lines, size_t nlines, tally_t* t) {
  size_t len;
  char* input = build_input(lines, nlines, &len);
  enum verdict got = strcmp(kind, "request") == 0 ? run_requests(input, len)
                                                  : run_responses(input, len);
  free(input);
  t->total++;
  enum verdict expect = weft_want != V_BAD ? weft_want : want;
  if (got != expect) {
    t->failed++;
    print_error("%s \"%s\": weft says %s, expected %s (llhttp: %s)\n", kind,
                name, kVerdicts[got], kVerdicts[expect], kVerdicts[want]);
  } else if (weft_want != V_BAD) {
    t->disagree_listed++;
  } else {
    t->agree++;
  }
}

static void run_file(const char* file, tally_t* t) {
  char path[1024];
  /* The data sits beside this source file. */
  const char* slash = strrchr(__FILE__, '/');
  int dir = slash != NULL ? (int)(slash - __FILE__) : 1;
  snprintf(path, sizeof(path), "%.*s/http_vectors/%s", dir,
           slash != NULL ? __FILE__ : ".", file);
  FILE* fp = fopen(path, "r");
  assert_non_null(fp);
  static char line[8192];
  static char lines[65536];
  size_t used = 0, nlines = 0;
  char kind[16] = "", name[256] = "";
  enum verdict want = V_BAD, weft_want = V_BAD;
  int in = 0;
  while (fgets(line, sizeof(line), fp) != NULL) {
    size_t l = strlen(line);
    if (l > 0 && line[l - 1] == '\n')
      line[--l] = '\0';
    if (!in && strncmp(line, "@@ ", 3) == 0 && strncmp(line, "@@ end", 6)) {
      char* f[3];
      char verd[16];
      assert_int_equal(split(line + 3, f, 3), 3);
      assert_int_equal(sscanf(f[0], "%15s %15s", kind, verd), 2);
      want = verdict_of(verd, strlen(verd));
      assert_int_not_equal(want, V_BAD);
      snprintf(name, sizeof(name), "%s", f[1]);
      weft_want = V_BAD;
      in = 1;
      used = nlines = 0;
    } else if (in && nlines == 0 && strncmp(line, "@@ weft ", 8) == 0) {
      char* f[2];
      assert_int_equal(split(line + 8, f, 2), 2);
      weft_want = verdict_of(f[0], strlen(f[0]));
      assert_int_not_equal(weft_want, V_BAD);
      assert_true(strlen(f[1]) > 0); /* every disagreement says why */
    } else if (in && strcmp(line, "@@ end") == 0) {
      check_vector(kind, want, weft_want, name, lines, nlines, t);
      in = 0;
    } else if (in) {
      assert_true(used + l + 1 <= sizeof(lines));
      memcpy(lines + used, line, l + 1);
      used += l + 1;
      nlines++;
    }
  }
  assert_false(in);
  fclose(fp);
}

static void test_llhttp_vectors(void** state) {
  (void)state;
  tally_t t = {0};
  run_file("requests.txt", &t);
  int requests = t.total;
  run_file("responses.txt", &t);
  print_message("%d vectors (%d requests, %d responses): %d agree with "
                "llhttp strict, %d listed disagreements, %d wrong\n",
                t.total, requests, t.total - requests, t.agree,
                t.disagree_listed, t.failed);
  assert_true(t.total >= 60);
  assert_int_equal(t.failed, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_llhttp_vectors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
