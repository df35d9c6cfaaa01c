/* weft-bench: one benchmark per call, one JSON line on stdout.
 *
 *   weft-bench <benchmark> [--<option> N]... [--threads N] [--warmup N]
 *
 * The contract (the JSON members, what "seconds" covers, that every
 * benchmark checks its own result) is in docs/benchmarks.md. This file
 * parses the command line, creates the runtime, runs the benchmark's body in
 * a task and prints the line; the bodies live in bench_*.c, one file per
 * group.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

/* Enough for any machine we run on; it only stops absurd values. */
#define MAX_THREADS 4096
#define MAX_WARMUP 1000

/* find_option's answers for the options every benchmark has. */
enum { kSlotThreads = BENCH_MAX_PARAMS, kSlotWarmup };

static const bench_t* const benches[] = {
    &bench_fib,          &bench_spawn,    &bench_yield,
    &bench_chain,        &bench_pingpong, &bench_sleep,
    &bench_switch,       &bench_blocking, &bench_future_rtt,
    &bench_lock,         &bench_sem,      &bench_echo_server,
    &bench_http_server,  &bench_fetch,    &bench_soak,
    &bench_mixed_server, &bench_stranded, &bench_tls_echo_server,
};

#define NBENCHES (sizeof(benches) / sizeof(benches[0]))

typedef struct args_s {
  const bench_t* bench;
  unsigned threads; /* 0: one worker per CPU */
  unsigned warmup;  /* untimed runs of the body before the timed one */
  uint64_t p[BENCH_MAX_PARAMS];
} args_t;

/* What main() hands to the task that runs the body. */
typedef struct body_s {
  const args_t* args;
  bench_result_t res;
  long minflt; /* minor page faults during the timed run */
  /* The body's return value. Kept here rather than as the task's status,
   * which is for weft's negative codes; a wrong result returns 1. */
  int rc;
} body_t;

static void usage(FILE* f) {
  fprintf(f, "usage: weft-bench <benchmark> [options] [--threads N] "
             "[--warmup N]\n"
             "Prints one JSON line; exits non-zero when the result is "
             "wrong.\n--threads N: worker threads (default: one per CPU).\n"
             "--warmup N: untimed runs of the body first, in the same "
             "process\n  (default 1; 0 for a cold run; not for servers).\n"
             "\nbenchmarks:\n");
  for (size_t i = 0; i < NBENCHES; i++) {
    const bench_t* b = benches[i];
    fprintf(f, "  %-9s", b->name);
    for (int j = 0; j < BENCH_MAX_PARAMS && b->params[j].name != NULL; j++) {
      const bench_param_t* q = &b->params[j];
      if (q->flag) {
        fprintf(f, " [--%s]", q->name);
      } else if (q->text) {
        fprintf(f, " [--%s TEXT]", q->name);
      } else if (q->names != NULL) {
        fprintf(f, " [--%s ", q->name);
        for (int k = 0; q->names[k] != NULL; k++)
          fprintf(f, "%s%s", k ? "|" : "", q->names[k]);
        fprintf(f, "]");
      } else {
        fprintf(f, " [--%s %llu]", q->name, (unsigned long long)q->def);
      }
    }
    fprintf(f, "\n      %s\n", b->help);
  }
}

/* Prints the complaint, then the usage; returns main()'s exit code for it. */
static int usage_error(const char* fmt, ...)
    __attribute__((format(printf, 1, 2)));

static int usage_error(const char* fmt, ...) {
  va_list ap;

  fprintf(stderr, "weft-bench: ");
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n\n");
  usage(stderr);
  return 2;
}

static const bench_t* find_bench(const char* name) {
  for (size_t i = 0; i < NBENCHES; i++)
    if (strcmp(benches[i]->name, name) == 0)
      return benches[i];
  return NULL;
}

/* Parses a whole decimal number in [min, max]. strtoull alone would accept
 * a sign, leading blanks and trailing junk. */
static int parse_count(const char* s, uint64_t min, uint64_t max,
                       uint64_t* out) {
  char* end;
  unsigned long long v;

  if (s == NULL || *s < '0' || *s > '9')
    return -1;
  errno = 0;
  v = strtoull(s, &end, 10);
  if (errno != 0 || *end != '\0' || v < min || v > max)
    return -1;
  *out = v;
  return 0;
}

/* Finds `s` in a NULL-terminated list of names; its index, or -1. */
static int find_name(const char* const* names, const char* s) {
  for (int k = 0; s != NULL && names[k] != NULL; k++)
    if (strcmp(names[k], s) == 0)
      return k;
  return -1;
}

/* Finds where option `name` goes: a parameter slot, kSlotThreads or
 * kSlotWarmup. -1 when the benchmark has no such option. *flag tells
 * whether it is a switch, which takes no value; *min is the least value. */
static int find_option(const bench_t* b, const char* name, uint64_t* min,
                       uint64_t* max, int* flag) {
  *flag = 0;
  *min = 1;
  if (strcmp(name, "threads") == 0) {
    *max = MAX_THREADS;
    return kSlotThreads;
  }
  if (strcmp(name, "warmup") == 0 && b->repeatable) {
    *min = 0;
    *max = MAX_WARMUP;
    return kSlotWarmup;
  }
  for (int i = 0; i < BENCH_MAX_PARAMS && b->params[i].name != NULL; i++) {
    if (strcmp(b->params[i].name, name) == 0) {
      *max = b->params[i].max;
      *flag = b->params[i].flag;
      return i;
    }
  }
  return -1;
}

static int parse_options(int argc, char** argv, args_t* a) {
  for (int i = 2; i < argc; i += 2) {
    uint64_t min;
    uint64_t max;
    uint64_t v = 1;
    int flag = 0;
    int slot = -1;

    if (strncmp(argv[i], "--", 2) == 0)
      slot = find_option(a->bench, argv[i] + 2, &min, &max, &flag);
    if (slot < 0)
      return usage_error("unknown option '%s'", argv[i]);
    if (flag) {
      i--; /* a switch: no value to skip */
    } else if (slot < BENCH_MAX_PARAMS && a->bench->params[slot].text) {
      const char* t = i + 1 < argc ? argv[i + 1] : NULL;
      if (t == NULL || t[0] == '\0' || t[strcspn(t, "\"\\")] != '\0')
        return usage_error("%s takes a text without quotes or backslashes",
                           argv[i]);
      v = (uint64_t)(uintptr_t)t;
    } else if (slot < BENCH_MAX_PARAMS && a->bench->params[slot].names) {
      const char* const* names = a->bench->params[slot].names;
      int k = find_name(names, i + 1 < argc ? argv[i + 1] : NULL);
      if (k < 0)
        return usage_error("%s takes one of its names (see the usage)",
                           argv[i]);
      v = (uint64_t)k;
    } else if (parse_count(i + 1 < argc ? argv[i + 1] : NULL, min, max, &v) !=
               0)
      return usage_error("%s takes a whole number from %llu to %llu", argv[i],
                         (unsigned long long)min, (unsigned long long)max);
    if (slot == kSlotThreads)
      a->threads = (unsigned)v;
    else if (slot == kSlotWarmup)
      a->warmup = (unsigned)v;
    else
      a->p[slot] = v;
  }
  return 0;
}

/* Returns 0 to run, 1 when --help was printed, 2 on a usage error. */
static int parse_args(int argc, char** argv, args_t* a) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      usage(stdout);
      return 1;
    }
  }
  if (argc < 2)
    return usage_error("%s", "no benchmark given");
  a->bench = find_bench(argv[1]);
  if (a->bench == NULL)
    return usage_error("unknown benchmark '%s'", argv[1]);
  a->threads = a->bench->threads;
  a->warmup = a->bench->repeatable ? 1 : 0;
  for (int i = 0; i < BENCH_MAX_PARAMS; i++)
    a->p[i] = a->bench->params[i].def;
  return parse_options(argc, argv, a);
}

/* Runs the body --warmup times untimed (stacks, task headers and caches
 * then start warm, as in the peers' runs), then once more for the figures,
 * counting the page faults of that run alone. */
static int body_task(void* arg, void** result) {
  body_t* body = arg;
  const args_t* a = body->args;
  long faults;

  (void)result;
  for (unsigned i = 0; i < a->warmup; i++) {
    bench_result_t scratch = {0};
    body->rc = a->bench->run(a->p, &scratch);
    if (body->rc != 0)
      return 0;
  }
  faults = bench_minflt();
  body->rc = a->bench->run(a->p, &body->res);
  body->minflt = bench_minflt() - faults;
  return 0;
}

/* Creates the runtime, runs the body in a task from this (outside) thread
 * and shuts the runtime down. Returns the body's return value, or a weft
 * error code. */
static int run_body(body_t* body, unsigned* workers) {
  weft_config_t cfg = {.workers = body->args->threads};
  weft_runtime_t* rt;
  const bench_t* b = body->args->bench;
  weft_task_t* task;
  int err;
  int status;

  /* A benchmark's --pool option sizes the blocking-call executor. */
  for (int i = 0; i < BENCH_MAX_PARAMS && b->params[i].name != NULL; i++)
    if (strcmp(b->params[i].name, "pool") == 0)
      cfg.blocking_max_threads = (unsigned)body->args->p[i];
  err = weft_runtime_new(&cfg, &rt);
  if (err != 0)
    return bench_error("weft_runtime_new", err);
  *workers = weft_runtime_workers(rt);
  err = weft_spawn(rt, body_task, body, NULL, &task);
  if (err != 0) {
    weft_runtime_free(rt);
    return bench_error("weft_spawn", err);
  }
  status = weft_await(task, NULL);
  weft_task_release(task);
  err = weft_runtime_free(rt);
  if (status != 0)
    return bench_error("body task", status);
  if (err != 0)
    return bench_error("weft_runtime_free", err);
  if (body->rc == 0 && b->finish != NULL)
    return b->finish(body->args->p, &body->res);
  return body->rc;
}

static void print_json(const args_t* a, unsigned workers, const body_t* body) {
  const bench_t* b = a->bench;
  const bench_result_t* r = &body->res;
  double rate = r->seconds > 0 ? (double)r->ops / r->seconds : 0;

  printf("{\"runtime\":\"weft\",\"bench\":\"%s\",\"threads\":%u,\"params\":{",
         b->name, workers);
  for (int i = 0; i < BENCH_MAX_PARAMS && b->params[i].name != NULL; i++) {
    if (b->params[i].text && a->p[i] != 0)
      printf("%s\"%s\":\"%s\"", i ? "," : "", b->params[i].name,
             (const char*)(uintptr_t)a->p[i]);
    else if (b->params[i].text)
      printf("%s\"%s\":null", i ? "," : "", b->params[i].name);
    else if (b->params[i].names != NULL)
      printf("%s\"%s\":\"%s\"", i ? "," : "", b->params[i].name,
             b->params[i].names[a->p[i]]);
    else
      printf("%s\"%s\":%llu", i ? "," : "", b->params[i].name,
             (unsigned long long)a->p[i]);
  }
  printf("},\"warmup\":%u,\"seconds\":%.9g,\"ops\":%llu,\"ops_per_s\":%.4g,"
         "\"max_rss_kb\":%ld,\"minflt\":%ld,\"result\":%llu%s}\n",
         a->warmup, r->seconds, (unsigned long long)r->ops, rate,
         bench_max_rss_kb(), body->minflt, (unsigned long long)r->result,
         r->extra);
}

int main(int argc, char** argv) {
  args_t args;
  body_t body = {.args = &args};
  unsigned workers = 0;
  int rc;

  rc = parse_args(argc, argv, &args);
  if (rc != 0)
    return rc == 1 ? 0 : rc;
  rc = run_body(&body, &workers);
  if (rc != 0) {
    fprintf(stderr, "weft-bench: %s failed\n", args.bench->name);
    return 1;
  }
  print_json(&args, workers, &body);
  return 0;
}
