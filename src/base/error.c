/* Error names and messages, generated from WEFT_ERRNO_MAP in weft.h. Codes
 * that are not weft's own (libuv's UV_E*, which are -errno on Unix) go to
 * libuv so that one call explains every code a weft function can return. */
#include <time.h>
#include <uv.h>

#include "base/common.h"

/* Codes that are neither weft's nor libuv's static ones are formatted here:
 * one buffer per thread, valid until that thread's next call. */
static _Thread_local char unknown_msg[80];
static _Thread_local char unknown_name[40];

const char* weft_strerror(int err) {
  switch (err) {
#define XX(name, value, msg)                                                   \
  case WEFT_##name:                                                            \
    return msg;
    WEFT_ERRNO_MAP(XX)
#undef XX
    case 0:
      return "success";
  }
  /* libuv's uv_strerror mallocs (and leaks) a string for a code it does not
   * know; the _r form writes into our buffer instead. */
  uv_strerror_r(err, unknown_msg, sizeof(unknown_msg));
  return unknown_msg;
}

const char* weft_err_name(int err) {
  switch (err) {
#define XX(name, value, msg)                                                   \
  case WEFT_##name:                                                            \
    return #name;
    WEFT_ERRNO_MAP(XX)
#undef XX
    case 0:
      return "OK";
  }
  uv_err_name_r(err, unknown_name, sizeof(unknown_name));
  return unknown_name;
}

const char* weft_version(void) {
#define WEFT_STR2_(x) #x
#define WEFT_STR_(x) WEFT_STR2_(x)
  return WEFT_STR_(WEFT_VERSION_MAJOR) "." WEFT_STR_(
      WEFT_VERSION_MINOR) "." WEFT_STR_(WEFT_VERSION_PATCH);
}

void weft__fatal(const char* file, int line, const char* what) {
  /* Through the hook, so a service's log shows why it died. */
  weft__log(WEFT_LOG_ERROR, "fatal: %s:%d: check failed: %s", file, line, what);
  abort();
}
