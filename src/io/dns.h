/* DNS (dns.c): name resolution for the other I/O files. */
#ifndef WEFT_DNS_H_
#define WEFT_DNS_H_

#include <stddef.h>
#include <sys/socket.h>

/* weft_getaddrinfo's body: the addresses of `host` (a name or a literal)
 * for `port`, up to `max` into addrs, *n of them. A literal address of an
 * accepted family is parsed without awaiting; a name is looked up on
 * libuv's pool and awaits (cancellable). From a task only. */
int weft__dns_resolve(const char* host, unsigned port, int family,
                      struct sockaddr_storage* addrs, size_t max, size_t* n);

#endif /* WEFT_DNS_H_ */
