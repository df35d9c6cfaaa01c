/* Reading the public option structs, which can grow (weft.h, "Option
 * structs can grow"): each starts with `size_t size`, 0 meaning the 0.1
 * layout. */
#ifndef WEFT_OPTS_H_
#define WEFT_OPTS_H_

#include <stddef.h>

/* Copies the option struct at `src` into `dst` (dst_size bytes, this
 * library's layout), zero-filling what the caller's version of the struct
 * does not have. `v01_size` is how much of the struct 0.1 had, what a
 * zero size means. src NULL: dst is all zeros (the defaults). Returns 0, or
 * WEFT_EINVAL for a size below v01_size or for a non-zero byte past
 * dst_size (an option this library does not know). Any thread. */
int weft__opts_read(void* dst, size_t dst_size, const void* src,
                    size_t v01_size);

/* weft__opts_read for a struct whose 0.1 layout ended with field `last`:
 * the 0.1 size is computed from the field, so appending fields later keeps
 * it right. Never change `last` at a call site once a version ships.
 * 0.1.0 is not released yet: until it is, `last` is each struct's last
 * field, so a zero size reads every field this header has (a TLS context
 * in a {.tls = ...} server config must never be silently dropped). */
#define WEFT__OPTS_READ(dst, src, last)                                        \
  weft__opts_read((dst), sizeof(*(dst)), (src),                                \
                  offsetof(__typeof__(*(dst)), last) + sizeof((dst)->last))

#endif /* WEFT_OPTS_H_ */
