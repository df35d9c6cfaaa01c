/* Frame-pointer backtraces: the bounded walk and the symbolizer.
 *
 * DESIGN
 * Two callers read stacks they do not own at a moment they do not choose:
 * the task dump reads a suspended fiber's stack from any thread, and the
 * slow-task sampler (debug.c) walks the running fiber's stack from a
 * signal handler. Both need a walk that cannot fault or loop, so every
 * read goes through process_vm_readv on our own process (an unmapped
 * address fails with EFAULT instead of faulting; the sanitizers do not see
 * the racy reads), and the chain must climb strictly inside the stack's
 * bounds, at most WEFT__BT_MAX frames. The walk only fills an array; the
 * symbols are looked up later (dladdr is not async-signal-safe).
 * x86-64 frame records: [fp] is the caller's fp, [fp + 8] the return
 * address (the library is built with -fno-omit-frame-pointer). */
#include "debug/backtrace.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

int weft__safe_read(const void* addr, void* dst, size_t n) {
  struct iovec local = {dst, n};
  struct iovec remote = {(void*)addr, n};
  long r = syscall(SYS_process_vm_readv, (long)getpid(), &local, 1L, &remote,
                   1L, 0L);
  return r == (long)n ? 0 : -1;
}

int weft__bt_walk(uintptr_t pc, uintptr_t fp, uintptr_t sp, uintptr_t lo,
                  uintptr_t hi, uintptr_t* pcs, int max) {
  int n = 0;
  while (n < max && pc != 0) {
    pcs[n++] = pc;
    uintptr_t next[2];
    if (fp < sp || fp % 8 != 0 || fp < lo || hi < sizeof(next) ||
        fp > hi - sizeof(next) ||
        weft__safe_read((void*)fp, next, sizeof(next)) != 0)
      break;
    /* The next record must lie above this one: no loops. */
    sp = fp + sizeof(next);
    fp = next[0];
    pc = next[1];
  }
  return n;
}

void weft__bt_format(int i, uintptr_t pc, int exact, char* buf, size_t n) {
  Dl_info info;
  /* A return address is looked up at pc - 1: the call instruction, not the
   * one after it (which may already belong to the next function). */
  uintptr_t at = exact ? pc : pc - 1;
  if (dladdr((void*)at, &info) == 0 || info.dli_fname == NULL) {
    snprintf(buf, n, "    #%-2d 0x%012lx", i, (unsigned long)pc);
    return;
  }
  const char* file = strrchr(info.dli_fname, '/');
  file = file != NULL ? file + 1 : info.dli_fname;
  if (info.dli_sname != NULL)
    snprintf(buf, n, "    #%-2d 0x%012lx %s+0x%lx (%s)", i, (unsigned long)pc,
             info.dli_sname, (unsigned long)(pc - (uintptr_t)info.dli_saddr),
             file);
  else
    snprintf(buf, n, "    #%-2d 0x%012lx (%s+0x%lx)", i, (unsigned long)pc,
             file, (unsigned long)(pc - (uintptr_t)info.dli_fbase));
}
