/* TLS on OpenSSL (tls_ctx.c, tls.c): the context's fields, shared by the
 * two files of the OpenSSL build only. */
#ifndef WEFT_TLS_INT_H_
#define WEFT_TLS_INT_H_

#include <openssl/ssl.h>
#include <stdatomic.h>

#include "io/tls.h"

/* Read-only once weft_tls_new returns, except refs. */
struct weft_tls_s {
  _Atomic unsigned refs; /* creator, streams, servers */
  SSL_CTX* ctx;
  int server;
  int verify;          /* checks the peer's certificate (client: the
                        * server's; server: WEFT_TLS_VERIFY_CLIENT) */
  unsigned char* alpn; /* wire format, ours in preference order; or NULL */
  unsigned alpn_len;
};

/* "what: OpenSSL's reason" from the first error on this thread's queue,
 * which it then clears. */
void weft__tls_err_text(char* buf, size_t cap, const char* what);

#endif /* WEFT_TLS_INT_H_ */
