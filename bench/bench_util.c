/* weft-bench: helpers the benchmarks share (see bench.h). */
#include <stdarg.h>
#include <stdio.h>
#include <sys/resource.h>

#include "bench.h"

int bench_error(const char* what, int err) {
  fprintf(stderr, "weft-bench: %s: %s (%s)\n", what, weft_err_name(err),
          weft_strerror(err));
  return err;
}

int bench_wrong(const char* name, const char* fmt, ...) {
  va_list ap;

  fprintf(stderr, "weft-bench: %s: wrong result: ", name);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  return 1;
}

long bench_max_rss_kb(void) {
  struct rusage ru;

  if (getrusage(RUSAGE_SELF, &ru) != 0)
    return -1;
  return ru.ru_maxrss; /* KiB on Linux */
}

long bench_minflt(void) {
  struct rusage ru;

  if (getrusage(RUSAGE_SELF, &ru) != 0)
    return -1;
  return ru.ru_minflt;
}

double bench_cpu_s(void) {
  struct rusage ru;

  if (getrusage(RUSAGE_SELF, &ru) != 0)
    return -1;
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

size_t bench_spawn_n(weft_task_fn fn, char* base, size_t stride, size_t n,
                     weft_task_t** h, int* err) {
  size_t i;

  *err = 0;
  for (i = 0; i < n; i++) {
    *err = weft_spawn(NULL, fn, base + i * stride, NULL, &h[i]);
    if (*err != 0)
      break;
  }
  return i;
}

int bench_join(weft_task_t** h, size_t n, uint64_t* sum) {
  int first = 0;

  for (size_t i = 0; i < n; i++) {
    void* res = NULL;
    int status = weft_await(h[i], &res);
    weft_task_release(h[i]);
    if (status != 0 && first == 0)
      first = status;
    *sum += (uintptr_t)res;
  }
  return first;
}
