/* Task stacks.
 *
 * DESIGN
 * A stack is reserved address space, not memory: regions of `per_region`
 * slots are mapped with MAP_NORESERVE, and a task pays only for the pages
 * it touches (one page for a task that sleeps, see docs/design.md).
 * Each slot is [guard page][stack]; descriptors sit in an array beside the
 * region, and guards are installed when a stack is first handed out, so
 * mapping a region touches no page and costs one system call: the page
 * faults and guard installs happen on the workers that start tasks, in
 * parallel, outside any lock. A task takes a stack from
 * its worker's pool when it first runs and gives it back when it ends; the
 * pool is a LIFO free list, so the stack just given back, still hot in the
 * cache and already faulted in, is the next one taken.
 *
 * Guards. One PROT_NONE page per stack splits the mapping in three, and
 * vm.max_map_count (65530) would cap a process near 32k stacks. Linux 6.13+
 * has MADV_GUARD_INSTALL, which makes pages fault without splitting the
 * VMA: a million guarded stacks then cost about 32k mappings (each region
 * and the PROT_NONE page below it, see carve_region). On older
 * kernels, mprotect guards are used up to a budget (kMprotectBudget) and
 * past it stacks get a canary: a pattern at the low end, checked every time
 * the task switches out, so an overflow is reported (late, but before the
 * corruption spreads) instead of going unnoticed. Regions are never
 * unmapped before the runtime ends, so a stale pointer into one stays
 * mapped; pools keep at most kPoolMax stacks, the rest go back to the
 * runtime's spare list for other workers.
 *
 * Colours. Every slot is a page multiple, so without care every task's
 * top frames (its saved registers, the scheduler's calls) would sit at the
 * same offset in a page. Caches pick a set from the low address bits: all
 * those frames would compete for 1/64 of the L1, L2 and L3 sets, and with
 * thousands of live tasks each resume would miss to memory. Slot i starts
 * its frames (i % kColours) cache lines below its top instead, which
 * spreads them over kColours times as many sets; the offset stays within
 * the top page, so a task that sleeps still touches one page.
 *
 * Rejected: one mmap per stack (a million VMAs, and a system call per
 * spawn); a growable copied stack (pointers into the stack would move).
 */
#include "base/alloc.h"
#include "core/stack.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/common.h"
#include "base/sanitizer.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

enum {
  kPoolMax = 256,
  kMprotectBudget = 16384,
  kCanaryBytes = 64,
  kColours = 32, /* at most 31 cache lines of a 4 KiB page left unused */
  /* Spare stacks kept resident: past this, stacks handed back by full
   * pools give their pages to the kernel (16 MiB of top pages at most). */
  kResidentSpares = 4096,
  kCacheLine = 64
};
static const uint64_t kCanary = 0x77656674c0ffee11ull;

/* Counts mprotect guards process-wide against the VMA budget. relaxed: a
 * budget, not a synchronisation; overshooting by a few is harmless. */
static atomic_uint mprotect_guards;

typedef struct weft__region_s {
  struct weft__region_s* next;
  char* base;
  size_t len;
  unsigned nstacks;
  weft__stack_t stacks[]; /* one descriptor per slot */
} weft__region_t;

static size_t page_size(void) {
  static size_t ps;
  if (ps == 0)
    ps = (size_t)sysconf(_SC_PAGESIZE);
  return ps;
}

static size_t round_up(size_t n, size_t to) {
  return (n + to - 1) / to * to;
}

int weft__stacks_init(weft__stacks_t* st, size_t stack_size) {
  size_t ps = page_size();
  memset(st, 0, sizeof(*st));
  if (pthread_mutex_init(&st->lock, NULL) != 0)
    return WEFT_ENOMEM;
  st->slot_size = ps + round_up(stack_size, ps);
  st->stack_size = st->slot_size - ps;
  st->page = ps;
  st->per_region = (unsigned)((16u << 20) / st->slot_size);
  if (st->per_region < 4)
    st->per_region = 4;
  if (st->per_region > 256)
    st->per_region = 256;
  st->guard_mode = WEFT_GUARD_MADVISE; /* runtime.c may prefer another */
  return 0;
}

static int install_guard(weft__stacks_t* st, char* page) {
  size_t ps = page_size();
  if (st->guard_mode == WEFT_GUARD_MADVISE) {
    if (madvise(page, ps, MADV_GUARD_INSTALL) == 0)
      return WEFT_GUARD_MADVISE;
  }
  if (st->guard_mode != WEFT_GUARD_CANARY) {
    /* relaxed: budget counter only (see its declaration). */
    if (atomic_fetch_add_explicit(&mprotect_guards, 1, memory_order_relaxed) <
            kMprotectBudget &&
        mprotect(page, ps, PROT_NONE) == 0)
      return WEFT_GUARD_MPROTECT;
    /* relaxed: undo the reservation above; budget counter only. */
    atomic_fetch_sub_explicit(&mprotect_guards, 1, memory_order_relaxed);
  }
  return WEFT_GUARD_CANARY;
}

/* Describes one slot: guard at `slot`, stack above. Touches no page. */
static void describe_slot(weft__stack_t* s, char* slot, size_t len, int pooled,
                          size_t ps, unsigned colour) {
  s->next = NULL;
  s->colour = (uint16_t)(colour * kCacheLine);
  s->preguarded = 0;
  s->lo = slot + ps;
  s->size = len - ps;
  s->pooled = (uint8_t)pooled;
  s->guard = 0;
  s->san_fiber = NULL;
  s->vg_id = 0;
}

/* Protects a stack the first time it is handed out. */
static void arm_slot(weft__stacks_t* st, weft__stack_t* s) {
  s->guard = s->preguarded ? (uint8_t)WEFT_GUARD_MADVISE
                           : (uint8_t)install_guard(st, s->lo - st->page);
  if (s->guard == WEFT_GUARD_CANARY) {
    uint64_t* c = (uint64_t*)s->lo;
    for (size_t i = 0; i < kCanaryBytes / sizeof(uint64_t); i++)
      c[i] = kCanary;
  }
  s->vg_id = weft__valgrind_stack_register(s->lo, s->lo + s->size);
}

static void* map_stack_memory(size_t len) {
  if (weft__alloc_fail())
    return NULL;
  void* p =
      mmap(NULL, len, PROT_READ | PROT_WRITE,
           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (p == MAP_FAILED)
    return NULL;
  /* Huge pages would turn one touched page per stack into 2 MiB. */
  madvise(p, len, MADV_NOHUGEPAGE);
  return p;
}

/* Installs the guard pages of a fresh region's slots with one system call
 * (process_madvise on our own pidfd accepts MADV_GUARD_INSTALL from Linux
 * 6.13) instead of one madvise per stack at its first use: a million
 * sleeping tasks paid a million system calls for their guards. The pidfd
 * is opened and closed here, so a forked child never advises its parent.
 * Not under TSan: it does not see the raw pidfd_open, and takes the close
 * for a race on whatever descriptor later gets the same number.
 * 1 when every guard is in; 0 leaves each slot to arm_slot. */
static int guard_region(weft__stacks_t* st, weft__region_t* r) {
#if defined(SYS_pidfd_open) && defined(SYS_process_madvise) &&                 \
    !defined(WEFT_TSAN)
  struct iovec iov[256];
  if (st->guard_mode != WEFT_GUARD_MADVISE || r->nstacks > 256)
    return 0;
  int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
  if (pidfd < 0)
    return 0;
  for (unsigned i = 0; i < r->nstacks; i++)
    iov[i] = (struct iovec){r->base + (size_t)i * st->slot_size, st->page};
  long done = syscall(SYS_process_madvise, pidfd, iov, (size_t)r->nstacks,
                      MADV_GUARD_INSTALL, 0u);
  close(pidfd);
  return done == (long)((size_t)r->nstacks * st->page);
#else
  (void)st;
  (void)r;
  return 0;
#endif
}

/* Maps a region without the lock and pushes its stacks on `pool`. */
static int carve_region(weft__stacks_t* st, weft__stack_pool_t* pool) {
  unsigned n = st->per_region;
  weft__region_t* r = weft__malloc(sizeof(*r) + n * sizeof(weft__stack_t));
  if (r == NULL)
    return WEFT_ENOMEM;
  r->len = (size_t)n * st->slot_size;
  /* One page more, below the region, always PROT_NONE (one mapping split
   * per region): a runaway recursion on a canary stack runs down through
   * the slots below it, and must fault within the region rather than run
   * on through whatever the kernel mapped beneath (the overflow report
   * recognises a stack pointer that left its stack by less than 64 MiB). */
  char* under = map_stack_memory(st->page + r->len);
  r->base = under != NULL ? under + st->page : NULL;
  if (under != NULL)
    mprotect(under, st->page, PROT_NONE);
  if (r->base == NULL) {
    free(r);
    return WEFT_ENOMEM;
  }
  r->nstacks = n;
  int guarded = guard_region(st, r);
  /* Highest slot first on the list, so the pool hands out low ones first. */
  for (unsigned i = n; i-- > 0;) {
    weft__stack_t* s = &r->stacks[i];
    describe_slot(s, r->base + (size_t)i * st->slot_size, st->slot_size, 1,
                  st->page, i % kColours);
    s->preguarded = (uint8_t)guarded;
    s->next = pool->free;
    pool->free = s;
    pool->nfree++;
  }
  pthread_mutex_lock(&st->lock);
  r->next = st->regions;
  st->regions = r;
  pthread_mutex_unlock(&st->lock);
  return 0;
}

static weft__stack_t* get_custom(weft__stacks_t* st, size_t size) {
  size_t ps = st->page;
  size_t len = ps + round_up(size, ps);
  weft__stack_t* s = weft__malloc(sizeof(*s));
  if (s == NULL)
    return NULL;
  char* p = map_stack_memory(len);
  if (p == NULL) {
    free(s);
    return NULL;
  }
  describe_slot(s, p, len, 0, ps, 0);
  arm_slot(st, s);
  return s;
}

/* Moves stacks from one free list to another until `from` is down to
 * `keep` or `to` is up to `cap`. The caller holds st->lock. */
static void move_stacks(weft__stack_t** from, size_t* nfrom, size_t keep,
                        weft__stack_t** to, size_t* nto, size_t cap) {
  while (*from != NULL && *nfrom > keep && *nto < cap) {
    weft__stack_t* s = *from;
    *from = s->next;
    (*nfrom)--;
    s->next = *to;
    *to = s;
    (*nto)++;
  }
}

weft__stack_t* weft__stack_get(weft__stacks_t* st, weft__stack_pool_t* pool,
                               size_t size) {
  if (size != 0 && size != st->stack_size)
    return get_custom(st, size);
  if (WEFT_UNLIKELY(pool->free == NULL)) {
    pthread_mutex_lock(&st->lock);
    /* Take up to half a pool of spares before mapping more. */
    move_stacks(&st->spare, &st->nspare, 0, &pool->free, &pool->nfree,
                kPoolMax / 2);
    pthread_mutex_unlock(&st->lock);
    if (pool->free == NULL && carve_region(st, pool) != 0)
      return NULL;
  }
  weft__stack_t* s = pool->free;
  pool->free = s->next;
  pool->nfree--;
  if (WEFT_UNLIKELY(s->guard == 0))
    arm_slot(st, s);
  return s;
}

static void release_guard(weft__stack_t* s) {
  weft__san_stack_fiber_free(&s->san_fiber);
  weft__valgrind_stack_deregister(s->vg_id);
  if (s->guard == WEFT_GUARD_MPROTECT)
    /* relaxed: budget counter only. */
    atomic_fetch_sub_explicit(&mprotect_guards, 1, memory_order_relaxed);
}

static void unmap_custom(weft__stacks_t* st, weft__stack_t* s) {
  release_guard(s);
  munmap(s->lo - st->page, s->size + st->page);
  free(s);
}

/* Gives the pages of the first n stacks of `list` back to the kernel
 * (after a burst of tasks, RSS comes back down): one process_madvise for
 * them all where the kernel takes it (6.13+), else one madvise each. A
 * canary stack keeps its lowest page, where the canary lives. */
static void release_pages(weft__stacks_t* st, weft__stack_t* list, size_t n) {
  struct iovec iov[kPoolMax / 2 + 1];
  size_t k = 0;
  for (weft__stack_t* s = list; s != NULL && k < n && k <= kPoolMax / 2;
       s = s->next) {
    size_t keep = s->guard == WEFT_GUARD_CANARY ? st->page : 0;
    iov[k++] = (struct iovec){s->lo + keep, s->size - keep};
  }
#if defined(SYS_pidfd_open) && defined(SYS_process_madvise) &&                 \
    !defined(WEFT_TSAN)
  int pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
  if (pidfd >= 0) {
    long done = syscall(SYS_process_madvise, pidfd, iov, k, MADV_DONTNEED, 0u);
    close(pidfd);
    if (done >= 0)
      return;
  }
#endif
  for (size_t i = 0; i < k; i++)
    madvise(iov[i].iov_base, iov[i].iov_len, MADV_DONTNEED);
}

void weft__stack_put(weft__stacks_t* st, weft__stack_pool_t* pool,
                     weft__stack_t* s) {
  if (!s->pooled) {
    unmap_custom(st, s);
    return;
  }
  s->next = pool->free;
  pool->free = s;
  if (++pool->nfree <= kPoolMax)
    return;
  /* Hand the colder half (the list's tail: the pool is LIFO) to the
   * runtime for other workers; past the resident cap, without its pages. */
  weft__stack_t* last_kept = pool->free;
  for (size_t i = 1; i < kPoolMax / 2; i++)
    last_kept = last_kept->next;
  weft__stack_t* cold = last_kept->next;
  size_t ncold = pool->nfree - kPoolMax / 2;
  last_kept->next = NULL;
  pool->nfree = kPoolMax / 2;
  pthread_mutex_lock(&st->lock);
  int over = st->nspare + ncold > kResidentSpares;
  pthread_mutex_unlock(&st->lock);
  if (over)
    release_pages(st, cold, ncold);
  pthread_mutex_lock(&st->lock);
  move_stacks(&cold, &ncold, 0, &st->spare, &st->nspare, SIZE_MAX);
  pthread_mutex_unlock(&st->lock);
}

void weft__stack_pool_drain(weft__stacks_t* st, weft__stack_pool_t* pool) {
  pthread_mutex_lock(&st->lock);
  move_stacks(&pool->free, &pool->nfree, 0, &st->spare, &st->nspare, SIZE_MAX);
  pthread_mutex_unlock(&st->lock);
}

void weft__stacks_term(weft__stacks_t* st) {
  weft__region_t* r = st->regions;
  while (r != NULL) {
    weft__region_t* next = r->next;
    for (unsigned i = 0; i < r->nstacks; i++)
      if (r->stacks[i].guard != 0)
        release_guard(&r->stacks[i]);
    munmap(r->base - st->page, r->len + st->page);
    free(r);
    r = next;
  }
  st->regions = NULL;
  st->spare = NULL;
  pthread_mutex_destroy(&st->lock);
}

int weft__stack_canary_broken(const weft__stack_t* s) {
  if (s->guard != WEFT_GUARD_CANARY)
    return 0;
  const uint64_t* c = (const uint64_t*)s->lo;
  for (size_t i = 0; i < kCanaryBytes / sizeof(uint64_t); i++)
    if (c[i] != kCanary)
      return 1;
  return 0;
}

int weft__stack_fault_in_guard(const weft__stack_t* s, const void* addr) {
  const char* a = addr;
  return s->guard != 0 && a >= s->lo - page_size() && a < s->lo + kCanaryBytes;
}
