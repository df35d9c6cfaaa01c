/* weft-bench lock and sem: the synchronisation primitives.
 *
 * lock --n N: one task acquires and releases an uncontended weft_lock_t N
 * times; ops = N, so ns_per_op is one acquire+release (the target
 * is 20 ns).
 *
 * sem --tasks T --value V --rounds R: T tasks each acquire a semaphore of
 * V permits R times, yield once while holding it, and release; ops = T*R
 * acquisitions. A counter checks that at most V tasks ever hold a permit
 * at once.
 */
#include <stdatomic.h>
#include <stdlib.h>

#include "bench.h"

static int run_lock(const uint64_t* p, bench_result_t* out) {
  weft_lock_t* lock;
  int err = weft_lock_new(&lock);
  if (err != 0)
    return bench_error("weft_lock_new", err);
  uint64_t t0 = bench_now_ns();
  for (uint64_t i = 0; i < p[0] && err == 0; i++) {
    err = weft_lock_acquire(lock);
    if (err == 0)
      err = weft_lock_release(lock);
  }
  out->seconds = bench_since(t0);
  weft_lock_free(lock);
  if (err != 0)
    return bench_error("lock", err);
  out->ops = p[0];
  out->result = p[0];
  return 0;
}

typedef struct {
  weft_sem_t* sem;
  uint64_t rounds;
  size_t value;
  atomic_size_t inside;   /* holders right now */
  atomic_size_t max_seen; /* most holders ever seen */
} sem_run_t;

static void note_inside(sem_run_t* s) {
  /* relaxed: statistics; the semaphore's own hand-offs order the work. */
  size_t now = atomic_fetch_add_explicit(&s->inside, 1, memory_order_relaxed);
  /* relaxed: as above. */
  size_t seen = atomic_load_explicit(&s->max_seen, memory_order_relaxed);
  while (now + 1 > seen &&
         /* relaxed: as above; a lost race just retries. */
         !atomic_compare_exchange_weak_explicit(&s->max_seen, &seen, now + 1,
                                                memory_order_relaxed,
                                                memory_order_relaxed)) {
  }
}

static int sem_task(void* arg, void** result) {
  sem_run_t* s = arg;
  int err = 0;
  for (uint64_t r = 0; r < s->rounds && err == 0; r++) {
    err = weft_sem_acquire(s->sem);
    if (err != 0)
      break;
    note_inside(s);
    err = weft_yield(); /* hold the permit across a switch */
    /* relaxed: statistics, as in note_inside. */
    atomic_fetch_sub_explicit(&s->inside, 1, memory_order_relaxed);
    int rel = weft_sem_release(s->sem);
    if (err == 0)
      err = rel;
  }
  *result = (void*)(uintptr_t)s->rounds;
  return err;
}

static int run_sem(const uint64_t* p, bench_result_t* out) {
  size_t tasks = p[0];
  sem_run_t s;
  weft_task_t** h = malloc(tasks * sizeof(*h));
  int err = h != NULL ? weft_sem_new(p[1], 0, &s.sem) : WEFT_ENOMEM;
  if (err != 0) {
    free(h);
    return bench_error("sem", err);
  }
  s.rounds = p[2];
  s.value = p[1];
  atomic_init(&s.inside, 0);
  atomic_init(&s.max_seen, 0);
  uint64_t sum = 0;
  uint64_t t0 = bench_now_ns();
  size_t n = bench_spawn_n(sem_task, (char*)&s, 0, tasks, h, &err);
  int status = bench_join(h, n, &sum);
  out->seconds = bench_since(t0);
  weft_sem_free(s.sem);
  free(h);
  if (err == 0)
    err = status;
  if (err != 0)
    return bench_error("sem", err);
  /* relaxed: every task has been joined. */
  size_t max_seen = atomic_load_explicit(&s.max_seen, memory_order_relaxed);
  if (max_seen > s.value || sum != tasks * s.rounds)
    return bench_wrong("sem", "%zu holders at once (limit %zu), %llu rounds",
                       max_seen, s.value, (unsigned long long)sum);
  out->ops = tasks * s.rounds;
  out->result = out->ops;
  return 0;
}

const bench_t bench_lock = {
    .name = "lock",
    .help = "uncontended weft_lock_t acquire+release; ops = n",
    .repeatable = 1,
    .run = run_lock,
    .params = {{"n", 10000000, 1ull << 34}},
};

const bench_t bench_sem = {
    .name = "sem",
    .help = "tasks contend for a semaphore, yielding while they hold it; "
            "ops = tasks*rounds",
    .repeatable = 1,
    .run = run_sem,
    .params = {{"tasks", 1000, 1u << 24},
               {"value", 10, 1u << 24},
               {"rounds", 100, 1u << 24}},
};
