/* HTTP/1.1 message heads and chunked framing (RFC 9110, RFC 9112).
 *
 * DESIGN
 * We parse HTTP ourselves instead of using Debian's libhttp-parser-dev:
 * that library is unmaintained upstream, and its callback API (the parser
 * calls us back piece by piece) fits an event loop, while weft's tasks are
 * stackful and can simply read a whole head (weft_stream_readuntil up to
 * the empty line) and parse it in one call. What we need is small: a
 * request or status line, header fields, and the framing facts the
 * connection code acts on (Content-Length, chunked, keep-alive).
 *
 * The parser is strict, because a lenient parser in front of or behind
 * another one is how request smuggling happens: lines end in CRLF (a bare
 * LF is an error), field names are tokens with no space before the colon,
 * obs-fold (a line starting with whitespace) is refused, field values may
 * not hold control characters, Content-Length is digits only and several
 * must agree, Transfer-Encoding must be exactly "chunked", and both at once
 * are refused. Every function is pure over (buffer, length): no I/O, no
 * allocation, no reads past `len`, which is what a fuzzer checks.
 */
#include "http/http_parse.h"

#include <string.h>

enum { kMaxContentDigits = 18 }; /* below 2^63: no overflow in int64_t */
enum { kMaxChunkDigits = 15 };   /* below 2^60 */

/* ---- Characters ------------------------------------------------------- */

int weft__http_is_tchar(unsigned char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
      (c >= 'A' && c <= 'Z'))
    return 1;
  return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Field-value and reason-phrase characters: VCHAR, SP, HTAB, obs-text. */
static int is_text(unsigned char c) {
  return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static int is_ows(char c) {
  return c == ' ' || c == '\t';
}

static char lower(char c) {
  return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

int weft__http_str_ieq(weft__http_str_t s, const char* lit) {
  size_t n = strlen(lit);
  if (s.len != n)
    return 0;
  for (size_t i = 0; i < n; i++) {
    if (lower(s.p[i]) != lower(lit[i]))
      return 0;
  }
  return 1;
}

int weft__http_has_token(weft__http_str_t value, const char* token) {
  size_t i = 0;
  while (i < value.len) {
    while (i < value.len && (is_ows(value.p[i]) || value.p[i] == ','))
      i++;
    size_t start = i;
    while (i < value.len && value.p[i] != ',')
      i++;
    size_t end = i;
    while (end > start && is_ows(value.p[end - 1]))
      end--;
    weft__http_str_t item = {value.p + start, end - start};
    if (item.len > 0 && weft__http_str_ieq(item, token))
      return 1;
  }
  return 0;
}

/* ---- Lines -------------------------------------------------------------- */

/* The end of the line starting at p (the CR of its CRLF), or NULL. A bare
 * LF or a lone CR in the line is an error: *bad is set. */
static const char* line_end(const char* p, const char* end, int* bad) {
  for (const char* q = p; q < end; q++) {
    if (*q == '\n') {
      *bad = 1;
      return NULL;
    }
    if (*q == '\r') {
      if (q + 1 < end && q[1] == '\n')
        return q;
      *bad = q + 1 < end; /* CR not before LF; at the end: need more */
      return NULL;
    }
  }
  return NULL;
}

/* "HTTP/1.x" at p: the minor version, or -1. */
static int parse_version(const char* p, const char* end) {
  if (end - p != 8 || memcmp(p, "HTTP/1.", 7) != 0 || p[7] < '0' || p[7] > '9')
    return -1;
  return p[7] - '0';
}

/* ---- Fields ------------------------------------------------------------ */

/* name ":" OWS value OWS, for the line [p, end) without its CRLF. */
static int parse_field(const char* p, const char* end, weft__http_field_t* f) {
  const char* q = p;
  while (q < end && weft__http_is_tchar((unsigned char)*q))
    q++;
  if (q == p || q == end || *q != ':')
    return WEFT_EPROTO; /* empty name, a space before ':', no ':' */
  f->name = (weft__http_str_t){p, (size_t)(q - p)};
  q++;
  while (q < end && is_ows(*q))
    q++;
  const char* v = q;
  for (; q < end; q++) {
    if (!is_text((unsigned char)*q))
      return WEFT_EPROTO;
  }
  while (q > v && is_ows(q[-1]))
    q--;
  f->value = (weft__http_str_t){v, (size_t)(q - v)};
  return 0;
}

static int parse_content_length(weft__http_str_t v, int64_t* out) {
  if (v.len == 0 || v.len > kMaxContentDigits)
    return WEFT_EPROTO;
  int64_t n = 0;
  for (size_t i = 0; i < v.len; i++) {
    if (v.p[i] < '0' || v.p[i] > '9')
      return WEFT_EPROTO;
    n = n * 10 + (v.p[i] - '0');
  }
  *out = n;
  return 0;
}

/* Host = uri-host [ ":" port ] (RFC 9110 7.2, RFC 3986 3.2.2): reg-name,
 * IPv4 or a bracketed IP literal, so unreserved, pct-encoded, sub-delims,
 * ':' and brackets, and nothing else (no space: "Host: a b" is two hosts
 * to one parser and one to another). Empty is allowed (RFC 9112 3.2). */
static int valid_host(weft__http_str_t v) {
  for (size_t i = 0; i < v.len; i++) {
    unsigned char c = (unsigned char)v.p[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
          (c >= 'A' && c <= 'Z') || strchr("-._~%!$&'()*+,;=:[]", c) != NULL))
      return 0;
  }
  return 1;
}

/* Records what one field says about framing and the connection. */
static int note_field(weft__http_head_t* h, const weft__http_field_t* f,
                      int* conn_close, int* conn_keep) {
  if (weft__http_str_ieq(f->name, "content-length")) {
    int64_t n;
    if (parse_content_length(f->value, &n) != 0 ||
        (h->content_length >= 0 && h->content_length != n))
      return WEFT_EPROTO;
    h->content_length = n;
  } else if (weft__http_str_ieq(f->name, "transfer-encoding")) {
    if (h->chunked || !weft__http_str_ieq(f->value, "chunked"))
      return WEFT_EPROTO;
    h->chunked = 1;
  } else if (weft__http_str_ieq(f->name, "connection")) {
    *conn_close |= weft__http_has_token(f->value, "close");
    *conn_keep |= weft__http_has_token(f->value, "keep-alive");
  } else if (weft__http_str_ieq(f->name, "host")) {
    if (!valid_host(f->value))
      return WEFT_EPROTO;
    h->nhost++;
  } else if (weft__http_str_ieq(f->name, "expect")) {
    h->expect_continue = weft__http_str_ieq(f->value, "100-continue");
  }
  return 0;
}

/* The field lines from p to the empty line; returns the offset past it. */
static ssize_t parse_fields(const char* base, const char* p, const char* end,
                            weft__http_head_t* h) {
  int conn_close = 0, conn_keep = 0, bad = 0;
  for (;;) {
    if (p < end && is_ows(*p))
      return WEFT_EPROTO; /* obs-fold: refused before its line ends */
    const char* eol = line_end(p, end, &bad);
    if (eol == NULL)
      return bad ? WEFT_EPROTO : WEFT_EAGAIN;
    if (eol == p)
      break;
    if (h->nfields == WEFT__HTTP_MAX_FIELDS)
      return WEFT_ELIMIT;
    weft__http_field_t* f = &h->fields[h->nfields++];
    int err = parse_field(p, eol, f);
    if (err == 0)
      err = note_field(h, f, &conn_close, &conn_keep);
    if (err != 0)
      return err;
    p = eol + 2;
  }
  if (h->chunked && h->content_length >= 0)
    return WEFT_EPROTO; /* RFC 9112 6.3: a smuggling attempt */
  h->keep_alive =
      h->minor_version >= 1 ? !conn_close : conn_keep && !conn_close;
  if (h->chunked && h->minor_version == 0)
    h->keep_alive = 0; /* RFC 9112 6.1: faulty framing, close after it */
  return (p + 2) - base;
}

static void head_init(weft__http_head_t* h) {
  memset(h, 0, offsetof(weft__http_head_t, fields));
  h->content_length = -1;
}

/* ---- Start lines --------------------------------------------------------- */

/* method SP target SP version, in [p, eol). */
static int parse_request_line(const char* p, const char* eol,
                              weft__http_head_t* h) {
  const char* q = p;
  while (q < eol && weft__http_is_tchar((unsigned char)*q))
    q++;
  if (q == p || q == eol || *q != ' ')
    return WEFT_EPROTO;
  h->method = (weft__http_str_t){p, (size_t)(q - p)};
  const char* t = ++q;
  while (q < eol && (unsigned char)*q > 0x20 && *q != 0x7f)
    q++;
  if (q == t || q == eol || *q != ' ')
    return WEFT_EPROTO;
  h->target = (weft__http_str_t){t, (size_t)(q - t)};
  h->minor_version = parse_version(q + 1, eol);
  return h->minor_version < 0 ? WEFT_EPROTO : 0;
}

/* version SP 3DIGIT [SP reason], in [p, eol). */
static int parse_status_line(const char* p, const char* eol,
                             weft__http_head_t* h) {
  if (eol - p < 12 || p[8] != ' ')
    return WEFT_EPROTO;
  h->minor_version = parse_version(p, p + 8);
  if (h->minor_version < 0)
    return WEFT_EPROTO;
  const char* d = p + 9;
  for (int i = 0; i < 3; i++) {
    if (d[i] < '0' || d[i] > '9')
      return WEFT_EPROTO;
  }
  h->status = (d[0] - '0') * 100 + (d[1] - '0') * 10 + (d[2] - '0');
  if (h->status < 100)
    return WEFT_EPROTO;
  const char* r = d + 3;
  if (r < eol && *r++ != ' ')
    return WEFT_EPROTO;
  for (const char* q = r; q < eol; q++) {
    if (!is_text((unsigned char)*q))
      return WEFT_EPROTO;
  }
  h->reason = (weft__http_str_t){r, (size_t)(eol - r)};
  return 0;
}

typedef int (*start_line_fn)(const char* p, const char* eol,
                             weft__http_head_t* h);

/* Empty lines before the start line are skipped (RFC 9112 2.2). */
static ssize_t parse_head(const char* buf, size_t len, weft__http_head_t* h,
                          start_line_fn start_line) {
  if (buf == NULL || h == NULL)
    return WEFT_EINVAL;
  head_init(h);
  const char* p = buf;
  const char* end = buf + len;
  int bad = 0;
  const char* eol;
  for (;;) {
    eol = line_end(p, end, &bad);
    if (eol == NULL)
      return bad ? WEFT_EPROTO : WEFT_EAGAIN;
    if (eol != p)
      break;
    p = eol + 2;
  }
  int err = start_line(p, eol, h);
  if (err != 0)
    return err;
  return parse_fields(buf, eol + 2, end, h);
}

ssize_t weft__http_parse_request(const char* buf, size_t len,
                                 weft__http_head_t* out) {
  ssize_t r = parse_head(buf, len, out, parse_request_line);
  if (r > 0 && out->minor_version >= 1 && out->nhost != 1)
    return WEFT_EPROTO; /* RFC 9112 3.2: exactly one Host */
  if (r > 0 && out->nhost > 1)
    return WEFT_EPROTO;
  return r;
}

ssize_t weft__http_parse_response(const char* buf, size_t len,
                                  weft__http_head_t* out) {
  /* Empty lines first are skipped as for requests: some servers end a
   * 100 Continue with an extra CRLF. */
  return parse_head(buf, len, out, parse_status_line);
}

/* ---- Chunked framing ---------------------------------------------------- */

/* A token at p: the end of it (p itself when there is none). */
static const char* skip_token(const char* p, const char* end) {
  while (p < end && weft__http_is_tchar((unsigned char)*p))
    p++;
  return p;
}

/* A quoted-string at p (RFC 9110 5.6.4): the end past its closing quote,
 * or NULL. */
static const char* skip_quoted(const char* p, const char* end) {
  for (p++; p < end; p++) {
    unsigned char c = (unsigned char)*p;
    if (c == '"')
      return p + 1;
    if (c == '\\') {
      if (++p == end || !is_text((unsigned char)*p))
        return NULL;
    } else if (!is_text(c)) {
      return NULL;
    }
  }
  return NULL;
}

/* chunk-ext = *( ";" name [ "=" ( token / quoted-string ) ] ), with no
 * whitespace anywhere, as llhttp's strict mode has it: RFC 9112 7.1.1
 * allows BWS around ';' and '=', but a space after the size ("1 \r\n")
 * is exactly what parsers disagree on, and senders never need it. */
static int check_chunk_ext(const char* p, const char* end) {
  while (p < end) {
    if (*p != ';')
      return WEFT_EPROTO;
    const char* q = skip_token(p + 1, end);
    if (q == p + 1)
      return WEFT_EPROTO; /* ";" with no name */
    p = q;
    if (p < end && *p == '=') {
      p++;
      q = p < end && *p == '"' ? skip_quoted(p, end) : skip_token(p, end);
      if (q == NULL || q == p)
        return WEFT_EPROTO;
      p = q;
    }
  }
  return 0;
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  c = lower(c);
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int weft__http_parse_chunk_size(const char* line, size_t len, uint64_t* size) {
  if (line == NULL || size == NULL || len < 3 || line[len - 2] != '\r' ||
      line[len - 1] != '\n')
    return WEFT_EPROTO;
  const char* end = line + len - 2;
  const char* p = line;
  uint64_t n = 0;
  int d;
  while (p < end && (d = hex_value(*p)) >= 0) {
    if (p - line == kMaxChunkDigits)
      return WEFT_EPROTO;
    n = n * 16 + (uint64_t)d;
    p++;
  }
  if (p == line || memchr(line, '\r', len - 2) || memchr(line, '\n', len - 2))
    return WEFT_EPROTO;
  if (check_chunk_ext(p, end) != 0)
    return WEFT_EPROTO;
  *size = n;
  return 0;
}

int weft__http_check_trailer(const char* line, size_t len) {
  if (line == NULL || len < 2 || line[len - 2] != '\r' || line[len - 1] != '\n')
    return WEFT_EPROTO;
  if (len == 2)
    return 0;
  const char* end = line + len - 2;
  if (is_ows(*line) || memchr(line, '\r', len - 2) ||
      memchr(line, '\n', len - 2))
    return WEFT_EPROTO;
  weft__http_field_t f;
  return parse_field(line, end, &f) == 0 ? 1 : WEFT_EPROTO;
}

/* The length of the CRLF-terminated line at p (CRLF included), or 0. */
static size_t next_line(const char* p, const char* end) {
  const char* q = memchr(p, '\n', (size_t)(end - p));
  return q == NULL ? 0 : (size_t)(q - p) + 1;
}

/* The trailer section at p: the offset past its empty line, or an error. */
static ssize_t dechunk_trailers(const char* buf, const char* p,
                                const char* end) {
  for (;;) {
    size_t n = next_line(p, end);
    if (n == 0)
      return WEFT_EAGAIN;
    int r = weft__http_check_trailer(p, n);
    if (r < 0)
      return r;
    p += n;
    if (r == 0)
      return p - buf;
  }
}

ssize_t weft__http_dechunk(const char* buf, size_t len, char* out, size_t cap,
                           size_t* out_len) {
  if (buf == NULL || out_len == NULL || (out == NULL && cap > 0))
    return WEFT_EINVAL;
  const char* p = buf;
  const char* end = buf + len;
  size_t got = 0;
  for (;;) {
    size_t n = next_line(p, end);
    uint64_t size;
    if (n == 0)
      return WEFT_EAGAIN;
    if (weft__http_parse_chunk_size(p, n, &size) != 0)
      return WEFT_EPROTO;
    p += n;
    if (size == 0)
      break;
    if ((uint64_t)(end - p) < size + 2)
      return WEFT_EAGAIN;
    if (size > cap - got)
      return WEFT_ENOBUFS;
    if (p[size] != '\r' || p[size + 1] != '\n')
      return WEFT_EPROTO;
    memcpy(out + got, p, size);
    got += size;
    p += size + 2;
  }
  ssize_t r = dechunk_trailers(buf, p, end);
  if (r > 0)
    *out_len = got;
  return r;
}
