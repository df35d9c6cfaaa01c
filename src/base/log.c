/* The logging hook: where weft's own warnings and errors go.
 *
 * DESIGN
 * The hook is a pair (fn, arg) that must never be seen torn: a message
 * must not reach the new fn with the old arg. A mutex guards the pair;
 * a logger copies it under the mutex and calls fn after unlocking, so a
 * slow hook holds up nobody else, and a hook may log or call
 * weft_set_log itself without deadlocking. The price is that a message
 * logged while the hook is replaced may still reach the old pair (the
 * header says so). Messages are rare (warnings, fatal checks), so the
 * lock costs nothing that matters; there are no atomics here.
 *
 * A message logged from inside a hook on the same thread (the hook tripped
 * a failed check, say) goes to the default instead: calling the hook again
 * could recurse without end.
 *
 * The stack-overflow report (overflow.c) does not come here: it runs in a
 * signal handler, where neither the mutex nor vsnprintf is allowed. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>

#include "base/common.h"

static pthread_mutex_t hook_lock = PTHREAD_MUTEX_INITIALIZER;
static weft_log_fn hook_fn; /* protected by hook_lock; NULL: default */
static void* hook_arg;      /* protected by hook_lock */
static _Thread_local int in_hook;

void weft_set_log(weft_log_fn fn, void* arg) {
  pthread_mutex_lock(&hook_lock);
  hook_fn = fn;
  hook_arg = fn != NULL ? arg : NULL;
  pthread_mutex_unlock(&hook_lock);
}

static void log_default(int level, const char* msg) {
  if (level < WEFT_LOG_WARN)
    return;
  fprintf(stderr, "weft: %s\n", msg);
  fflush(stderr);
}

void weft__log(int level, const char* fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  pthread_mutex_lock(&hook_lock);
  weft_log_fn fn = hook_fn;
  void* arg = hook_arg;
  pthread_mutex_unlock(&hook_lock);
  if (fn == NULL || in_hook) {
    log_default(level, msg);
    return;
  }
  in_hook = 1;
  fn(level, msg, arg);
  in_hook = 0;
}

/* The warnings' stream; NULL means stderr. */
static FILE* _Atomic warn_stream;

void weft__warn_set_stream(FILE* f) {
  /* relaxed: a test swaps it while no warning is due; the FILE's own lock
   * orders the writes. */
  atomic_store_explicit(&warn_stream, f, memory_order_relaxed);
}

void weft__warn(const char* fmt, ...) {
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  /* relaxed: see weft__warn_set_stream. */
  FILE* f = atomic_load_explicit(&warn_stream, memory_order_relaxed);
  if (f == NULL) {
    /* The user's hook (weft_set_log), or stderr by default. */
    weft__log(WEFT_LOG_WARN, "%s", line);
    return;
  }
  flockfile(f);
  fputs("weft: ", f);
  fputs(line, f);
  fputs("\n", f);
  fflush(f);
  funlockfile(f);
}

FILE* weft__warn_stream(void) {
  /* relaxed: see weft__warn_set_stream. */
  return atomic_load_explicit(&warn_stream, memory_order_relaxed);
}
