/* libFuzzer target for the HTTP/1.1 parser (src/http_parse.c): every
 * entry point on the same input, with invariants that must hold whatever
 * the bytes are. Built and run by scripts/fuzz.sh (clang). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_parse.h"

/* A parsed head points into the input, inside its bounds. */
static void check_head(const char* buf, size_t len, ssize_t n,
                       const weft__http_head_t* h) {
  if (n <= 0)
    return;
  if ((size_t)n > len || h->nfields > WEFT__HTTP_MAX_FIELDS)
    abort();
  for (size_t i = 0; i < h->nfields; i++) {
    const weft__http_field_t* f = &h->fields[i];
    if (f->name.p < buf || f->name.p + f->name.len > buf + n ||
        f->value.p < buf || f->value.p + f->value.len > buf + n)
      abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  /* A copy the exact size of the input, so ASan sees any overread. */
  char* buf = malloc(size + 1);
  if (buf == NULL)
    return 0;
  memcpy(buf, data, size);
  weft__http_head_t head;
  check_head(buf, size, weft__http_parse_request(buf, size, &head), &head);
  check_head(buf, size, weft__http_parse_response(buf, size, &head), &head);
  uint64_t chunk;
  weft__http_parse_chunk_size(buf, size, &chunk);
  weft__http_check_trailer(buf, size);
  char out[4096];
  size_t out_len = 0;
  ssize_t used = weft__http_dechunk(buf, size, out, sizeof(out), &out_len);
  if (used > 0 && ((size_t)used > size || out_len > sizeof(out)))
    abort();
  free(buf);
  return 0;
}
