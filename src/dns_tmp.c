/* TEMPORARY until src/dns.c lands (branch io-net): literal IPv4 only. Weak,
 * so the real weft_getaddrinfo wins when both are linked. */
#include <string.h>

#include "io.h"

__attribute__((weak)) int weft_getaddrinfo(const char* host, unsigned port,
                                           int family,
                                           struct sockaddr_storage* addrs,
                                           size_t max, size_t* n) {
  (void)family;
  (void)max;
  memset(addrs, 0, sizeof(*addrs));
  if (strcmp(host, "localhost") == 0)
    host = "127.0.0.1";
  if (uv_ip4_addr(host, (int)port, (struct sockaddr_in*)addrs) != 0)
    return UV_EAI_NONAME;
  *n = 1;
  return 0;
}
