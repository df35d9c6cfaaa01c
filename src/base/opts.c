/* Option structs that can grow, read the way Linux reads clone3's and
 * openat2's arguments (copy_struct_from_user): a program built against an
 * older header passes a shorter struct, whose missing fields take their
 * defaults; one built against a newer header passes a longer one, accepted
 * only when what this library cannot read is zero, so that an option the
 * program asked for is never silently dropped. A zero size is the 0.1
 * layout, so structs written before the size field meant anything (zeroed,
 * or designated initializers without .size) keep working. */
#include "base/opts.h"

#include <string.h>

#include "base/common.h"

int weft__opts_read(void* dst, size_t dst_size, const void* src,
                    size_t v01_size) {
  memset(dst, 0, dst_size);
  if (src == NULL)
    return 0;
  size_t size;
  memcpy(&size, src, sizeof(size));
  if (size == 0)
    size = v01_size;
  if (size < v01_size)
    return WEFT_EINVAL;
  const unsigned char* bytes = src;
  for (size_t i = dst_size; i < size; i++)
    if (bytes[i] != 0)
      return WEFT_EINVAL;
  memcpy(dst, src, size < dst_size ? size : dst_size);
  return 0;
}
