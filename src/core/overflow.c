/* Stack-overflow reports. A task that runs off the bottom of its stack hits
 * the guard page; the SIGSEGV handler runs on the worker's alternate signal
 * stack (the task's own stack is exhausted), recognises a fault in the
 * running task's guard, prints the task's name and stack size and aborts.
 * Any other fault is handed back to whoever handled SIGSEGV before (the
 * default action, or a sanitizer), by reinstalling that handler and
 * returning, so the faulting instruction runs again under it.
 *
 * The handler is process-wide state the program did not ask for, so it is
 * there only while a runtime that wants it (weft_config_t.flags without
 * WEFT_CONFIG_NO_FAULT_HANDLER) exists: runtimes take holds on it, and the
 * last one to go puts the previous handlers back, unless the program has
 * installed its own since (then its handler stays). */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <ucontext.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/common.h"
#include "core/stack.h"
#include "core/task.h"
#include "core/worker.h"

enum { kAltStackSize = 64 * 1024 };

/* The handlers before ours; written under install_lock while no hold
 * exists, read by on_fault while one does. */
static struct sigaction old_segv;
static struct sigaction old_bus;
static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned holds; /* runtimes holding the handler; install_lock */

static size_t append(char* buf, size_t at, size_t cap, const char* s) {
  while (*s != '\0' && at + 1 < cap)
    buf[at++] = *s++;
  buf[at] = '\0';
  return at;
}

static size_t append_uint(char* buf, size_t at, size_t cap, size_t v) {
  char digits[24];
  int n = 0;
  do {
    digits[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0 && at + 1 < cap)
    buf[at++] = digits[--n];
  buf[at] = '\0';
  return at;
}

/* The task's name without allocating (we may be in a signal handler). */
static size_t append_task_name(char* buf, size_t at, size_t cap,
                               weft_task_t* t) {
  if (t == NULL)
    return append(buf, at, cap, "?");
  /* acquire: pairs with the release store that published the name. */
  const char* name = atomic_load_explicit(&t->name, memory_order_acquire);
  if (name != NULL)
    return append(buf, at, cap, name);
  at = append(buf, at, cap, "Task-");
  return append_uint(buf, at, cap, t->id);
}

void weft__overflow_report(const char* how) {
  const weft__stack_t* s = NULL;
  weft_task_t* task = NULL;
  char msg[256];
  size_t n = 0;
  weft__worker_fault_context(&s, &task);
  n = append(msg, n, sizeof(msg), "weft: stack overflow in task '");
  n = append_task_name(msg, n, sizeof(msg), task);
  n = append(msg, n, sizeof(msg), "' (stack size ");
  n = append_uint(msg, n, sizeof(msg), s != NULL ? s->size : 0);
  n = append(msg, n, sizeof(msg), " bytes, ");
  n = append(msg, n, sizeof(msg), how);
  n = append(msg, n, sizeof(msg),
             "); raise weft_config_t.stack_size or the task's "
             "weft_spawn_opts_t.stack_size\n");
  if (write(STDERR_FILENO, msg, n) < 0) {
    /* Nothing better to do: we are about to abort. */
  }
  abort();
}

/* The interrupted stack pointer, or 0 where we do not know how to read it. */
static uintptr_t fault_sp(void* ucv) {
  ucontext_t* uc = ucv;
#if defined(__x86_64__)
  return (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
  return (uintptr_t)uc->uc_mcontext.sp;
#else
  (void)uc;
  return 0;
#endif
}

/* With canaries instead of a guard page, a runaway recursion that never
 * switches runs on below its stack (through neighbouring slots) until it
 * faults somewhere: recognise it by the stack pointer having left the
 * task's stack downwards. */
static int sp_ran_below(const weft__stack_t* s, uintptr_t sp) {
  uintptr_t lo = (uintptr_t)s->lo;
  return sp != 0 && sp < lo && lo - sp < ((uintptr_t)64 << 20);
}

static void on_fault(int sig, siginfo_t* si, void* uc) {
  const weft__stack_t* s = NULL;
  weft_task_t* task = NULL;
  if (weft__worker_fault_context(&s, &task) && s != NULL) {
    if (weft__stack_fault_in_guard(s, si->si_addr))
      weft__overflow_report("hit the guard page");
    if (sp_ran_below(s, fault_sp(uc)))
      weft__overflow_report("ran below its stack");
  }
  sigaction(sig, sig == SIGSEGV ? &old_segv : &old_bus, NULL);
}

static void install(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &old_segv);
  sigaction(SIGBUS, &sa, &old_bus);
}

/* Puts back the handler before ours for `sig`, if ours is still there. */
static void restore(int sig, const struct sigaction* old) {
  struct sigaction cur;
  if (sigaction(sig, NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) &&
      cur.sa_sigaction == on_fault)
    sigaction(sig, old, NULL);
}

void weft__overflow_install(void) {
  pthread_mutex_lock(&install_lock);
  if (holds++ == 0)
    install();
  pthread_mutex_unlock(&install_lock);
}

void weft__overflow_uninstall(void) {
  pthread_mutex_lock(&install_lock);
  if (--holds == 0) {
    restore(SIGSEGV, &old_segv);
    restore(SIGBUS, &old_bus);
  }
  pthread_mutex_unlock(&install_lock);
}

int weft__overflow_thread_init(void** altstack) {
  stack_t ss;
  memset(&ss, 0, sizeof(ss));
  ss.ss_sp = weft__malloc(kAltStackSize);
  if (ss.ss_sp == NULL)
    return WEFT_ENOMEM;
  ss.ss_size = kAltStackSize;
  if (sigaltstack(&ss, NULL) != 0) {
    free(ss.ss_sp);
    return WEFT_ENOMEM;
  }
  *altstack = ss.ss_sp;
  return 0;
}

void weft__overflow_thread_term(void* altstack) {
  stack_t ss;
  memset(&ss, 0, sizeof(ss));
  ss.ss_flags = SS_DISABLE;
  sigaltstack(&ss, NULL);
  free(altstack);
}
