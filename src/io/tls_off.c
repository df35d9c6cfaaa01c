/* TLS in a build without OpenSSL (-DWEFT_TLS=OFF, or no libssl-dev): every
 * TLS call exists and says WEFT_ENOTSUP, so a program links either way and
 * can ask weft_tls_available() first. */
#include "io/tls.h"

weft_tls_t* weft__tls_retain(weft_tls_t* t) {
  return t;
}

void weft__tls_release(weft_tls_t* t) {
  (void)t;
}

int weft__tls_mode(const weft_tls_t* t) {
  (void)t;
  return -1;
}

int weft_tls_available(void) {
  return 0;
}

int weft_tls_new(int mode, const weft_tls_opts_t* opts, weft_tls_t** out) {
  (void)mode;
  (void)opts;
  if (out != NULL)
    *out = NULL;
  return WEFT_ENOTSUP;
}

int weft_tls_free(weft_tls_t* t) {
  (void)t;
  return 0;
}

int weft_tls_start(weft_stream_t* s, weft_tls_t* tls, const char* name) {
  (void)s;
  (void)tls;
  (void)name;
  return WEFT_ENOTSUP;
}

int weft_tls_connect(const char* host, unsigned port, weft_tls_t* tls,
                     weft_stream_t** out) {
  (void)host;
  (void)port;
  (void)tls;
  (void)out;
  return WEFT_ENOTSUP;
}

int weft_tls_error(weft_stream_t* s, char* buf, size_t cap) {
  (void)s;
  if (buf != NULL && cap > 0)
    buf[0] = '\0';
  return WEFT_ENOTSUP;
}

int weft_tls_verify_error(weft_stream_t* s) {
  (void)s;
  return WEFT_ENOTSUP;
}

int weft_tls_alpn(weft_stream_t* s, char* buf, size_t cap) {
  return weft_tls_error(s, buf, cap);
}

int weft_tls_version(weft_stream_t* s, char* buf, size_t cap) {
  return weft_tls_error(s, buf, cap);
}
