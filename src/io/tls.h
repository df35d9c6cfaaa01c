/* TLS streams (tls.c, or tls_off.c in a build without OpenSSL): what the
 * rest of the I/O layer needs of a TLS context. */
#ifndef WEFT_TLS_H_
#define WEFT_TLS_H_

#include "weft.h"

/* Takes a reference on the context (for a server's connections, handed
 * from the accepting worker to the handler's). Returns t. Any thread. */
weft_tls_t* weft__tls_retain(weft_tls_t* t);
/* Drops one; the last frees the context. NULL: nothing. Any thread. */
void weft__tls_release(weft_tls_t* t);
/* WEFT_TLS_CLIENT or WEFT_TLS_SERVER. Any thread. */
int weft__tls_mode(const weft_tls_t* t);

#endif /* WEFT_TLS_H_ */
