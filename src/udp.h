/* UDP sockets (udp.c): what the tests may look at inside a socket. */
#ifndef WEFT_UDP_H_
#define WEFT_UDP_H_

#include <stddef.h>

#include "weft.h"

/* Datagrams queued with nobody receiving. From a task (moves it to the
 * socket's worker); 0 for NULL or outside a task. */
size_t weft__udp_queued(weft_udp_t* u);

#endif /* WEFT_UDP_H_ */
