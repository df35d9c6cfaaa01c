/* UDP sockets (udp.c): what the tests may reach inside a socket. */
#ifndef WEFT_UDP_H_
#define WEFT_UDP_H_

#include <stddef.h>
#include <sys/socket.h>

#include "weft.h"

/* Datagrams queued with nobody receiving. From a task (moves it to the
 * socket's worker); 0 for NULL or outside a task. */
size_t weft__udp_queued(weft_udp_t* u);
/* Tasks waiting in weft_udp_recv (on the socket's FIFO, not on their way
 * to its worker). Same rules. */
size_t weft__udp_receivers(weft_udp_t* u);

/* weft_udp_send without its first try (uv_udp_try_send): always through
 * libuv's send queue and an await, the path a full socket buffer takes,
 * which loopback tests cannot provoke. */
int weft__udp_send_queued(weft_udp_t* u, const void* data, size_t len,
                          const struct sockaddr* addr);

#endif /* WEFT_UDP_H_ */
