/* The guide's aiofiles section: files read and written without blocking a
 * worker (libuv's fs requests run on its thread pool).
 *  1. write a file, read it back (read_file / write_file);
 *  2. several files processed concurrently, one task each: read, make
 *     upper case, count lines and words, write the result; printed in
 *     input order once all are gathered;
 *  3. a large file processed line by line (`async for line in f`) with
 *     weft_file_readline, never loaded whole;
 *  4. the directory listed and removed.
 * Everything happens in a fresh directory under /tmp. */
#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <weft.h>

#define NFILES 3
#define LARGE_LINES 200000

static char dir[64];

static void path_of(char* out, size_t cap, const char* name) {
  snprintf(out, cap, "%s/%s", dir, name);
}

/* ---- 1. write_file, then read_file ---------------------------------- */

static int hello(void) {
  char p[128];
  char* content;
  path_of(p, sizeof(p), "test.txt");
  const char* text = "Hello, async file I/O!";
  int err = weft_fs_write_file(p, text, strlen(text));
  if (err == 0 && (err = weft_fs_read_file(p, &content, NULL)) == 0) {
    printf("Read: %s\n", content);
    free(content);
  }
  return err;
}

/* ---- 2. process_file(input_file, output_file), concurrently ---------- */

typedef struct {
  const char* input;
  const char* output;
  const char* text; /* what the input file holds */
  size_t lines;
  size_t words;
} job_t;

/* Upper-cases `s` in place and counts its lines and words. */
static void transform(char* s, size_t len, size_t* lines, size_t* words) {
  int in_word = 0;
  *lines = *words = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    s[i] = (char)toupper(c);
    *lines += c == '\n';
    *words += !in_word && !isspace(c);
    in_word = !isspace(c);
  }
}

static int process_file(void* arg, void** result) {
  job_t* job = arg;
  char in[128], out[128];
  char* content;
  size_t len;
  weft_file_t* f;
  (void)result;
  path_of(in, sizeof(in), job->input);
  path_of(out, sizeof(out), job->output);
  int err = weft_fs_read_file(in, &content, &len);
  if (err != 0)
    return err;
  transform(content, len, &job->lines, &job->words);
  /* async with aiofiles.open(output_file, mode='w') as f: */
  err = weft_file_open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644, &f);
  if (err == 0) {
    ptrdiff_t n = weft_file_write(f, content, len);
    int cerr = weft_file_close(f);
    err = n < 0 ? (int)n : cerr;
  }
  free(content);
  return err;
}

static int many_files(void) {
  job_t jobs[NFILES] = {
      {"input1.txt", "output1.txt",
       "the quick brown fox\njumps over\nthe lazy dog\n", 0, 0},
      {"input2.txt", "output2.txt", "hello world\n", 0, 0},
      {"input3.txt", "output3.txt",
       "asyncio in c\none task per file\nthreads do the blocking\n"
       "workers never block\n",
       0, 0},
  };
  weft_task_t* tasks[NFILES];
  int statuses[NFILES];
  char p[128];
  int err = 0;
  for (size_t i = 0; i < NFILES && err == 0; i++) {
    path_of(p, sizeof(p), jobs[i].input);
    err = weft_fs_write_file(p, jobs[i].text, strlen(jobs[i].text));
  }
  size_t spawned = 0;
  for (; spawned < NFILES && err == 0; spawned++)
    err = weft_spawn(NULL, process_file, &jobs[spawned], NULL, &tasks[spawned]);
  if (err != 0)
    spawned--; /* the failed spawn made no task */
  /* asyncio.gather(*tasks): every task ends before we print. */
  weft_gather(tasks, spawned, WEFT_GATHER_COLLECT, NULL, statuses);
  for (size_t i = 0; i < spawned; i++) {
    if (statuses[i] == 0)
      printf("Processed %s -> %s (lines: %zu, words: %zu)\n", jobs[i].input,
             jobs[i].output, jobs[i].lines, jobs[i].words);
    else
      printf("%s failed: %s\n", jobs[i].input, weft_strerror(statuses[i]));
    weft_task_release(tasks[i]);
  }
  if (err != 0)
    return err;
  /* One output, read back. */
  char* back;
  path_of(p, sizeof(p), jobs[0].output);
  if ((err = weft_fs_read_file(p, &back, NULL)) == 0) {
    printf("%s:\n%s", jobs[0].output, back);
    free(back);
  }
  return err;
}

/* ---- 3. process_large_file(filename), line by line ------------------- */

/* Line i of the generated file: every tenth is blank, the others vary in
 * length. */
static int make_line(size_t i, char* buf, size_t cap) {
  if (i % 10 == 9)
    return snprintf(buf, cap, "\n");
  return snprintf(buf, cap, "record %zu,%.*s\n", i, (int)(i % 40),
                  "........................................");
}

/* Writes the large file through a 64 KiB batch buffer. */
static int write_large(const char* path) {
  weft_file_t* f = NULL;
  size_t cap = 64 * 1024, used = 0;
  char* batch = malloc(cap);
  if (batch == NULL)
    return WEFT_ENOMEM;
  int err = weft_file_open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644, &f);
  for (size_t i = 0; i < LARGE_LINES && err == 0; i++) {
    if (cap - used < 128) {
      ptrdiff_t n = weft_file_write(f, batch, used);
      err = n < 0 ? (int)n : 0;
      used = 0;
    }
    used += (size_t)make_line(i, batch + used, cap - used);
  }
  if (err == 0 && used > 0) {
    ptrdiff_t n = weft_file_write(f, batch, used);
    err = n < 0 ? (int)n : 0;
  }
  if (f != NULL) {
    int cerr = weft_file_close(f);
    err = err != 0 ? err : cerr;
  }
  free(batch);
  return err;
}

static int process_large_file(const char* path, size_t* count,
                              size_t* non_blank) {
  weft_file_t* f;
  char line[256];
  ptrdiff_t n;
  *count = *non_blank = 0;
  int err = weft_file_open(path, O_RDONLY, 0, &f);
  if (err != 0)
    return err;
  /* async for line in f: */
  while ((n = weft_file_readline(f, line, sizeof(line))) > 0) {
    (*count)++;
    if (n > 1) /* line.strip() */
      (*non_blank)++;
  }
  int cerr = weft_file_close(f);
  return n < 0 ? (int)n : cerr;
}

static int large_file(void) {
  char p[128];
  size_t count, non_blank;
  weft_stat_t st;
  path_of(p, sizeof(p), "large_data.txt");
  int err = write_large(p);
  if (err == 0)
    err = weft_fs_stat(p, &st);
  if (err == 0)
    err = process_large_file(p, &count, &non_blank);
  if (err == 0)
    printf("Processed %zu lines (%zu non-blank, %llu bytes)\n", count,
           non_blank, (unsigned long long)st.size);
  return err;
}

/* ---- 4. clean up ------------------------------------------------------ */

typedef struct {
  char names[16][32];
  size_t n;
} listing_t;

static int collect(const char* name, int is_dir, void* arg) {
  listing_t* l = arg;
  if (is_dir || l->n == 16)
    return WEFT_ELIMIT; /* this example makes no subdirectories */
  snprintf(l->names[l->n++], sizeof(l->names[0]), "%s", name);
  return 0;
}

static int cmp_names(const void* a, const void* b) {
  return strcmp(a, b);
}

static int clean_up(void) {
  listing_t l = {.n = 0};
  char p[128];
  int err = weft_fs_scandir(dir, collect, &l);
  qsort(l.names, l.n, sizeof(l.names[0]), cmp_names);
  for (size_t i = 0; i < l.n && err == 0; i++) {
    path_of(p, sizeof(p), l.names[i]);
    err = weft_fs_unlink(p);
  }
  if (err == 0)
    err = weft_fs_rmdir(dir);
  printf("Removed %zu files:", l.n);
  for (size_t i = 0; i < l.n; i++)
    printf(" %s", l.names[i]);
  printf("\n");
  return err;
}

static int main_task(void* arg, void** result) {
  (void)arg;
  (void)result;
  int err;
  printf("-- write, then read\n");
  if ((err = hello()) != 0)
    return err;
  printf("-- several files at once\n");
  if ((err = many_files()) != 0)
    return err;
  printf("-- a large file, line by line\n");
  if ((err = large_file()) != 0)
    return err;
  printf("-- clean up\n");
  return clean_up();
}

int main(void) {
  weft_config_t cfg = {.workers = 4};
  strcpy(dir, "/tmp/weft-file-processing-XXXXXX");
  if (mkdtemp(dir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  int err = weft_run(main_task, NULL, &cfg, NULL);
  if (err != 0) {
    fprintf(stderr, "error: %s\n", weft_strerror(err));
    return 1;
  }
  return 0;
}
