/* Error names and messages, generated from WEFT_ERRNO_MAP in weft.h. Codes
 * that are not weft's own (libuv's UV_E*, which are -errno on Unix) go to
 * libuv so that one call explains every code a weft function can return. */
#include <time.h>
#include <uv.h>

#include "common.h"

const char* weft_strerror(int err) {
  switch (err) {
#define XX(name, value, msg) \
  case WEFT_##name:          \
    return msg;
    WEFT_ERRNO_MAP(XX)
#undef XX
    case 0:
      return "success";
  }
  return uv_strerror(err);
}

const char* weft_err_name(int err) {
  switch (err) {
#define XX(name, value, msg) \
  case WEFT_##name:          \
    return #name;
    WEFT_ERRNO_MAP(XX)
#undef XX
    case 0:
      return "OK";
  }
  return uv_err_name(err);
}

const char* weft_version(void) {
#define WEFT_STR2_(x) #x
#define WEFT_STR_(x) WEFT_STR2_(x)
  return WEFT_STR_(WEFT_VERSION_MAJOR) "." WEFT_STR_(
      WEFT_VERSION_MINOR) "." WEFT_STR_(WEFT_VERSION_PATCH);
}

void weft__fatal(const char* file, int line, const char* what) {
  fprintf(stderr, "weft: fatal: %s:%d: check failed: %s\n", file, line, what);
  fflush(stderr);
  abort();
}

uint64_t weft__now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t weft_now_ns(void) {
  return weft__now_ns();
}
