/* ref_fib: the plain recursive fib, the baseline of weft-bench fib.
 *
 *   ref_fib [--n] N        (default 30)
 *
 * Built at -O2 with no weft at all, and prints weft-bench's JSON line with
 * "runtime":"plain-c", so the two compare member by member. "ops" counts the
 * calls with n >= 2, the calls weft-bench fib spawns a task for. n comes from
 * the command line, so the compiler cannot fold the call into a constant.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

long fib(long n) {
  if (n < 2)
    return n;
  return fib(n - 1) + fib(n - 2);
}

static long long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* F(n+1) - 1, by a loop. */
static long calls_from_2(long n) {
  long a = 0;
  long b = 1;

  for (long i = 0; i < n + 1; i++) {
    long t = a + b;
    a = b;
    b = t;
  }
  return a - 1;
}

static int parse_n(int argc, char** argv, long* n) {
  const char* s = NULL;
  char* end;

  if (argc == 2)
    s = argv[1];
  else if (argc == 3 && strcmp(argv[1], "--n") == 0)
    s = argv[2];
  if (argc == 1)
    return 0;
  if (s == NULL || *s < '0' || *s > '9')
    return -1;
  errno = 0;
  *n = strtol(s, &end, 10);
  return errno != 0 || *end != '\0' || *n < 1 || *n > 91 ? -1 : 0;
}

int main(int argc, char** argv) {
  struct rusage ru;
  long n = 30;
  long v;
  long long t0;
  double secs;

  if (parse_n(argc, argv, &n) != 0) {
    fprintf(stderr, "usage: ref_fib [--n] N   (1 <= N <= 91, default 30)\n");
    return 2;
  }
  t0 = now_ns();
  v = fib(n);
  secs = (double)(now_ns() - t0) / 1e9;
  getrusage(RUSAGE_SELF, &ru);
  printf("{\"runtime\":\"plain-c\",\"bench\":\"fib\",\"threads\":1,"
         "\"params\":{\"n\":%ld},\"seconds\":%.9g,\"ops\":%ld,"
         "\"ops_per_s\":%.4g,\"max_rss_kb\":%ld,\"result\":%ld}\n",
         n, secs, calls_from_2(n),
         secs > 0 ? (double)calls_from_2(n) / secs : 0.0, ru.ru_maxrss, v);
  return 0;
}
