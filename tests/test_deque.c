/* The Chase–Lev deque (src/deque.h): single-threaded semantics, then an
 * owner pushing and popping while thieves steal, where every item must be
 * taken exactly once. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "core/deque.h"
#include "helpers.h"

/* Items are pointers encoding integers >= 2: NULL means empty and 1 is
 * WEFT_DEQUE_ABORT. */
static void* item(uintptr_t i) {
  return (void*)(i + 2);
}

static uintptr_t item_index(void* p) {
  return (uintptr_t)p - 2;
}

static weft__deque_t* new_deque(void) {
  /* The deque is cache-line aligned (its indices are). */
  weft__deque_t* dq = aligned_alloc(WEFT_CACHELINE, sizeof(*dq));
  assert_non_null(dq);
  weft__deque_init(dq);
  return dq;
}

static void test_deque_empty(void** state) {
  (void)state;
  weft__deque_t* dq = new_deque();
  assert_null(weft__deque_pop(dq));
  assert_null(weft__deque_steal(dq));
  assert_null(weft__deque_peek(dq));
  assert_int_equal(weft__deque_len(dq), 0);
  free(dq);
}

static void test_deque_pop_is_lifo(void** state) {
  (void)state;
  weft__deque_t* dq = new_deque();
  for (uintptr_t i = 0; i < 10; i++)
    assert_int_equal(weft__deque_push(dq, item(i)), 0);
  assert_int_equal(weft__deque_len(dq), 10);
  for (uintptr_t i = 10; i-- > 0;)
    assert_ptr_equal(weft__deque_pop(dq), item(i));
  assert_null(weft__deque_pop(dq));
  assert_int_equal(weft__deque_len(dq), 0);
  /* Popping an empty deque must leave it usable. */
  assert_int_equal(weft__deque_push(dq, item(7)), 0);
  assert_ptr_equal(weft__deque_pop(dq), item(7));
  free(dq);
}

static void test_deque_steal_is_fifo(void** state) {
  (void)state;
  weft__deque_t* dq = new_deque();
  for (uintptr_t i = 0; i < 10; i++)
    assert_int_equal(weft__deque_push(dq, item(i)), 0);
  for (uintptr_t i = 0; i < 10; i++)
    assert_ptr_equal(weft__deque_steal(dq), item(i));
  assert_null(weft__deque_steal(dq));
  assert_null(weft__deque_pop(dq));
  free(dq);
}

static void test_deque_pop_and_steal_meet(void** state) {
  (void)state;
  weft__deque_t* dq = new_deque();
  for (uintptr_t i = 0; i < 6; i++)
    assert_int_equal(weft__deque_push(dq, item(i)), 0);
  assert_ptr_equal(weft__deque_steal(dq), item(0));
  assert_ptr_equal(weft__deque_pop(dq), item(5));
  assert_ptr_equal(weft__deque_steal(dq), item(1));
  assert_ptr_equal(weft__deque_pop(dq), item(4));
  assert_ptr_equal(weft__deque_steal(dq), item(2));
  /* The last item goes to the owner's CAS path. */
  assert_ptr_equal(weft__deque_pop(dq), item(3));
  assert_null(weft__deque_pop(dq));
  assert_null(weft__deque_steal(dq));
  free(dq);
}

static void test_deque_peek_sees_newest_without_taking(void** state) {
  (void)state;
  weft__deque_t* dq = new_deque();
  assert_int_equal(weft__deque_push(dq, item(1)), 0);
  assert_ptr_equal(weft__deque_peek(dq), item(1));
  assert_int_equal(weft__deque_push(dq, item(2)), 0);
  assert_ptr_equal(weft__deque_peek(dq), item(2));
  assert_ptr_equal(weft__deque_peek(dq), item(2));
  assert_int_equal(weft__deque_len(dq), 2);
  assert_ptr_equal(weft__deque_pop(dq), item(2));
  assert_ptr_equal(weft__deque_peek(dq), item(1));
  /* A steal of the last item leaves nothing to peek at. */
  assert_ptr_equal(weft__deque_steal(dq), item(1));
  assert_null(weft__deque_peek(dq));
  free(dq);
}

static void test_deque_full_returns_eagain(void** state) {
  (void)state;
  weft__deque_t* dq = new_deque();
  for (uintptr_t i = 0; i < WEFT_DEQUE_CAPACITY; i++)
    assert_int_equal(weft__deque_push(dq, item(i)), 0);
  assert_int_equal(weft__deque_len(dq), WEFT_DEQUE_CAPACITY);
  assert_int_equal(weft__deque_push(dq, item(999)), WEFT_EAGAIN);
  assert_int_equal(weft__deque_len(dq), WEFT_DEQUE_CAPACITY);
  /* Nothing was pushed: the newest is still the last accepted item. */
  assert_ptr_equal(weft__deque_peek(dq), item(WEFT_DEQUE_CAPACITY - 1));
  /* A steal frees a slot at the top; the push then fits. */
  assert_ptr_equal(weft__deque_steal(dq), item(0));
  assert_int_equal(weft__deque_push(dq, item(999)), 0);
  assert_int_equal(weft__deque_push(dq, item(1000)), WEFT_EAGAIN);
  assert_ptr_equal(weft__deque_pop(dq), item(999));
  for (uintptr_t i = WEFT_DEQUE_CAPACITY; i-- > 1;)
    assert_ptr_equal(weft__deque_pop(dq), item(i));
  assert_null(weft__deque_pop(dq));
  free(dq);
}

static void test_deque_take_half_takes_oldest_half(void** state) {
  (void)state;
  void* out[WEFT_DEQUE_CAPACITY];
  weft__deque_t* dq = new_deque();
  /* A few stolen first, so top is not 0. */
  for (uintptr_t i = 0; i < 3; i++) {
    assert_int_equal(weft__deque_push(dq, item(1000 + i)), 0);
    assert_ptr_equal(weft__deque_steal(dq), item(1000 + i));
  }
  for (uintptr_t i = 0; i < WEFT_DEQUE_CAPACITY; i++)
    assert_int_equal(weft__deque_push(dq, item(i)), 0);
  int n = weft__deque_take_half(dq, out);
  assert_int_equal(n, WEFT_DEQUE_CAPACITY / 2);
  for (int i = 0; i < n; i++)
    assert_ptr_equal(out[i], item((uintptr_t)i));
  assert_int_equal(weft__deque_len(dq), WEFT_DEQUE_CAPACITY / 2);
  assert_ptr_equal(weft__deque_steal(dq), item(WEFT_DEQUE_CAPACITY / 2));
  for (uintptr_t i = WEFT_DEQUE_CAPACITY; i-- > WEFT_DEQUE_CAPACITY / 2 + 1;)
    assert_ptr_equal(weft__deque_pop(dq), item(i));
  assert_null(weft__deque_pop(dq));
  /* Odd counts round down; one item or none gives nothing. */
  for (uintptr_t i = 0; i < 5; i++)
    assert_int_equal(weft__deque_push(dq, item(i)), 0);
  assert_int_equal(weft__deque_take_half(dq, out), 2);
  assert_ptr_equal(out[0], item(0));
  assert_ptr_equal(out[1], item(1));
  assert_int_equal(weft__deque_take_half(dq, out), 1);
  assert_ptr_equal(out[0], item(2));
  assert_int_equal(weft__deque_take_half(dq, out), 1);
  assert_ptr_equal(out[0], item(3));
  assert_int_equal(weft__deque_take_half(dq, out), 0);
  assert_ptr_equal(weft__deque_pop(dq), item(4));
  assert_int_equal(weft__deque_take_half(dq, out), 0);
  free(dq);
}

static void test_deque_wraps_around_many_times(void** state) {
  (void)state;
  weft__deque_t* dq = new_deque();
  uintptr_t next = 0;
  /* 20k cycles of up to a full deque: indices go far past the capacity,
   * so every slot is reused many times. */
  for (int cycle = 0; cycle < 20000; cycle++) {
    uintptr_t k = 1 + (uintptr_t)(cycle * 37) % WEFT_DEQUE_CAPACITY;
    uintptr_t first = next;
    for (uintptr_t i = 0; i < k; i++)
      assert_int_equal(weft__deque_push(dq, item(next++)), 0);
    /* Half from the top (oldest first), the rest from the bottom. */
    uintptr_t lo = first;
    uintptr_t hi = next;
    for (uintptr_t i = 0; i < k / 2; i++)
      assert_ptr_equal(weft__deque_steal(dq), item(lo++));
    while (hi > lo)
      assert_ptr_equal(weft__deque_pop(dq), item(--hi));
    assert_null(weft__deque_pop(dq));
    assert_int_equal(weft__deque_len(dq), 0);
  }
  assert_true(next > 1000u * WEFT_DEQUE_CAPACITY);
  free(dq);
}

/* ---- Owner and thieves ------------------------------------------------ */

enum { kStressItems = 1000000, kThieves = 3 };

typedef struct {
  weft__deque_t* dq;
  atomic_uint* taken; /* per item: how many times someone took it */
  atomic_int done;
  atomic_ulong stolen;
  atomic_int bad; /* items outside the pushed range */
  pthread_barrier_t start;
} stress_t;

static void take(stress_t* s, void* x) {
  uintptr_t i = item_index(x);
  if (x == NULL || x == WEFT_DEQUE_ABORT || i >= kStressItems) {
    atomic_fetch_add(&s->bad, 1);
    return;
  }
  atomic_fetch_add_explicit(&s->taken[i], 1, memory_order_relaxed);
}

static void* thief_main(void* arg) {
  stress_t* s = arg;
  unsigned long n = 0;
  pthread_barrier_wait(&s->start);
  while (!atomic_load(&s->done)) {
    void* x = weft__deque_steal(s->dq);
    if (x == NULL || x == WEFT_DEQUE_ABORT)
      continue;
    take(s, x);
    n++;
  }
  atomic_fetch_add(&s->stolen, n);
  return NULL;
}

static void test_deque_owner_and_thieves_take_each_item_once(void** state) {
  (void)state;
  static void* half[WEFT_DEQUE_CAPACITY / 2];
  stress_t s;
  pthread_t thieves[kThieves];
  unsigned long popped = 0;
  unsigned long halved = 0;
  s.dq = new_deque();
  s.taken = calloc(kStressItems, sizeof(*s.taken));
  assert_non_null(s.taken);
  atomic_init(&s.done, 0);
  atomic_init(&s.stolen, 0);
  atomic_init(&s.bad, 0);
  assert_int_equal(pthread_barrier_init(&s.start, NULL, kThieves + 1), 0);
  for (int i = 0; i < kThieves; i++)
    assert_int_equal(pthread_create(&thieves[i], NULL, thief_main, &s), 0);
  pthread_barrier_wait(&s.start);

  for (uintptr_t i = 0; i < kStressItems; i++) {
    while (weft__deque_push(s.dq, item(i)) != 0) {
      /* Full: move the oldest half out, as the overflow path does, while
       * the thieves keep stealing from the same end. */
      int n = weft__deque_take_half(s.dq, half);
      for (int j = 0; j < n; j++)
        take(&s, half[j]);
      halved += (unsigned long)n;
    }
    /* Pops interleaved with pushes, in bursts, so the deque both fills
     * up and runs down to its last item (the owner/thief race). */
    if (i % 3 == 0 || (i / 1000) % 2 == 1) {
      void* x = weft__deque_pop(s.dq);
      if (x != NULL) {
        take(&s, x);
        popped++;
      }
    }
  }
  for (;;) {
    void* x = weft__deque_pop(s.dq);
    if (x == NULL)
      break;
    take(&s, x);
    popped++;
  }
  atomic_store(&s.done, 1);
  for (int i = 0; i < kThieves; i++)
    assert_int_equal(pthread_join(thieves[i], NULL), 0);

  assert_int_equal(atomic_load(&s.bad), 0);
  unsigned long missing = 0, dup = 0;
  for (size_t i = 0; i < kStressItems; i++) {
    unsigned c = atomic_load(&s.taken[i]);
    missing += c == 0;
    dup += c > 1;
  }
  if (missing != 0 || dup != 0)
    fail_msg("%lu items never taken, %lu taken more than once "
             "(popped %lu, stolen %lu, moved by take_half %lu)",
             missing, dup, popped, atomic_load(&s.stolen), halved);
  print_message("popped %lu, stolen %lu, moved by take_half %lu\n", popped,
                atomic_load(&s.stolen), halved);
  assert_int_equal(popped + atomic_load(&s.stolen) + halved, kStressItems);
  assert_int_equal(weft__deque_len(s.dq), 0);
  pthread_barrier_destroy(&s.start);
  free(s.taken);
  free(s.dq);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_deque_empty),
      cmocka_unit_test(test_deque_pop_is_lifo),
      cmocka_unit_test(test_deque_steal_is_fifo),
      cmocka_unit_test(test_deque_pop_and_steal_meet),
      cmocka_unit_test(test_deque_peek_sees_newest_without_taking),
      cmocka_unit_test(test_deque_full_returns_eagain),
      cmocka_unit_test(test_deque_take_half_takes_oldest_half),
      cmocka_unit_test(test_deque_wraps_around_many_times),
      cmocka_unit_test(test_deque_owner_and_thieves_take_each_item_once),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
