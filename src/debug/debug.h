/* Debug mode and the dump signal (debug.c; the dump itself is dump.c):
 * what runtime.c starts and stops. */
#ifndef WEFT_DEBUG_H_
#define WEFT_DEBUG_H_

#include "core/hooks.h"
#include "weft.h"

/* 1 when the environment asks for debug mode (WEFT_DEBUG set, not "0"). */
int weft__debug_env(void);
/* Fills the hooks debug mode needs (core/hooks.h): the never-awaited
 * report when a task header is recycled. */
void weft__debug_hooks(weft__hooks_t* hooks);

/* The slow-task monitor, when config asks for it. */
int weft__debug_start(weft_runtime_t* rt);
void weft__debug_stop(weft_runtime_t* rt);
/* The dump signal: a handler and a thread that dumps when it comes.
 * WEFT_EBUSY when another runtime owns one, WEFT_EINVAL for a signal that
 * cannot be caught (or SIGSEGV/SIGBUS, which the overflow reports use). */
int weft__dump_signal_start(weft_runtime_t* rt, int sig);
void weft__dump_signal_stop(weft_runtime_t* rt);
/* Lists the tasks still alive (shutdown, before they are cancelled). */
void weft__debug_report_alive(weft_runtime_t* rt);

#endif /* WEFT_DEBUG_H_ */
