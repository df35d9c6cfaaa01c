/* Fork–join parallelism with ordinary tasks: sum an array by splitting it
 * in halves, spawning one half and doing the other, then awaiting. Work
 * that nobody steals runs inline in weft_await (no stack, no switch), so
 * the split costs little more than a function call; idle workers steal the
 * biggest halves. The same runtime could be doing I/O meanwhile. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <weft.h>

enum { kLeaf = 4096 };

typedef struct {
  const uint32_t* data;
  size_t n;
} slice_t;

static int sum_slice(void* arg, void** result) {
  slice_t* s = arg;
  if (s->n <= kLeaf) {
    uint64_t sum = 0;
    for (size_t i = 0; i < s->n; i++)
      sum += s->data[i];
    *result = (void*)(uintptr_t)sum;
    return 0;
  }
  slice_t left = {s->data, s->n / 2};
  slice_t right = {s->data + s->n / 2, s->n - s->n / 2};
  weft_task_t* child;
  void* lsum = NULL;
  void* rsum = NULL;
  int err = weft_spawn(NULL, sum_slice, &left, NULL, &child);
  if (err != 0)
    return err;
  err = sum_slice(&right, &rsum); /* our half, while someone may steal theirs */
  int status = weft_await(child, &lsum);
  weft_task_release(child);
  if (err != 0 || status != 0)
    return err != 0 ? err : status;
  *result = (void*)((uintptr_t)lsum + (uintptr_t)rsum);
  return 0;
}

int main(void) {
  size_t n = (size_t)1 << 24;
  uint32_t* data = malloc(n * sizeof(*data));
  if (data == NULL)
    return 1;
  uint64_t expect = 0;
  for (size_t i = 0; i < n; i++) {
    data[i] = (uint32_t)(i % 1000);
    expect += data[i];
  }
  slice_t all = {data, n};
  void* sum = NULL;
  int err = weft_run(sum_slice, &all, NULL, &sum);
  free(data);
  if (err != 0) {
    fprintf(stderr, "parallel_sum: %s\n", weft_strerror(err));
    return 1;
  }
  printf("sum of %zu numbers: %llu (%s)\n", n,
         (unsigned long long)(uintptr_t)sum,
         (uint64_t)(uintptr_t)sum == expect ? "correct" : "WRONG");
  return (uint64_t)(uintptr_t)sum != expect;
}
