/* Frame-pointer backtraces, shared by the task dump (dump.c) and the
 * slow-task report (debug.c). See backtrace.c. */
#ifndef WEFT_BACKTRACE_H_
#define WEFT_BACKTRACE_H_

#include <stddef.h>
#include <stdint.h>

/* Most frames a backtrace holds. */
#define WEFT__BT_MAX 32

/* 1 where frame-pointer backtraces exist (x86-64, assembly switch). */
#if defined(__x86_64__) && !defined(WEFT_USE_UCONTEXT)
#define WEFT__BT_SUPPORTED 1
#else
#define WEFT__BT_SUPPORTED 0
#endif

/* Copies n bytes at addr, or fails (-1) if any of them is unmapped. A raw
 * system call: async-signal-safe, and unseen by the sanitizers. */
int weft__safe_read(const void* addr, void* dst, size_t n);

/* Walks the frame-pointer chain that starts at (pc, fp) on the stack
 * [lo, hi), whose innermost live byte is sp, into pcs (at most `max`).
 * Every frame record must be 8-aligned, above the previous one and inside
 * the stack, and is read with weft__safe_read: a corrupt chain ends the
 * walk, never faults. Async-signal-safe. Returns the number of pcs. */
int weft__bt_walk(uintptr_t pc, uintptr_t fp, uintptr_t sp, uintptr_t lo,
                  uintptr_t hi, uintptr_t* pcs, int max);

/* Formats frame i ("    #i  0x... name+0xoff (file)", or file+offset when
 * dladdr finds no symbol) into buf. `exact`: pc is where the thread was
 * interrupted, not a return address (which is looked up at pc - 1, the
 * call). Not async-signal-safe (dladdr). */
void weft__bt_format(int i, uintptr_t pc, int exact, char* buf, size_t n);

#endif /* WEFT_BACKTRACE_H_ */
