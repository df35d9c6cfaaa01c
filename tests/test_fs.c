/* Files (fs.c): every weft_file_* and weft_fs_* call, their errors,
 * readline over large files, cancellation, files used from another
 * worker, concurrent use of one file, close while in use, and files left
 * open at runtime end.
 *
 * Each test works in a fresh directory under /tmp (mkdtemp), removed by
 * the teardown. Nothing depends on timing. A request that must stay queued
 * in libuv's thread pool sits behind one blocking work item per pool
 * thread (blockers waiting on a semaphore the test posts); a read that
 * must block reads an empty FIFO until the test writes to it. On a
 * 1-worker runtime, a task that set its "started" flag has also submitted
 * its request by the time another task runs: it runs from the flag to its
 * park without yielding. */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <uv.h>

#include "helpers.h"
#include "core/worker.h"

/* open(2) where the system has it, else openat again (aarch64). */
#ifdef SYS_open
#define SYS_open_or_openat SYS_open
#else
#define SYS_open_or_openat SYS_openat
#endif

static char g_dir[64];

static int setup_dir(void** state) {
  (void)state;
  strcpy(g_dir, "/tmp/weft-test-fs-XXXXXX");
  return mkdtemp(g_dir) != NULL ? 0 : -1;
}

static int remove_one(const char* path, const struct stat* st, int flag,
                      struct FTW* ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

static int teardown_dir(void** state) {
  (void)state;
  return nftw(g_dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* g_dir/name into out (PATH_MAX bytes). */
static char* path_of(char* out, const char* name) {
  snprintf(out, PATH_MAX, "%s/%s", g_dir, name);
  return out;
}

/* Writes `text` to g_dir/name, from a task. */
static int put(const char* name, const char* text) {
  char p[PATH_MAX];
  return weft_fs_write_file(path_of(p, name), text, strlen(text));
}

static weft_file_t* open_or_null(const char* name, int flags) {
  char p[PATH_MAX];
  weft_file_t* f = NULL;
  WEFT_EXPECT_OK(weft_file_open(path_of(p, name), flags, 0644, &f));
  return f;
}

/* libuv's thread-pool size, as libuv reads it (threadpool.c). */
static int pool_size(void) {
  const char* v = getenv("UV_THREADPOOL_SIZE");
  int n = v != NULL ? atoi(v) : 4;
  return n <= 0 ? 1 : n > 1024 ? 1024 : n;
}

/* ---- Reading and writing ---------------------------------------------- */

static int main_roundtrip(void* arg, void** result) {
  (void)arg;
  (void)result;
  char buf[64];
  weft_file_t* f = open_or_null("a.txt", O_WRONLY | O_CREAT | O_TRUNC);
  if (f == NULL)
    return -1;
  WEFT_EXPECT_EQ(weft_file_write(f, "hello\n", 6), 6);
  WEFT_EXPECT_EQ(weft_file_write(f, "world\n", 6), 6);
  WEFT_EXPECT_EQ(weft_file_size(f), 12);
  WEFT_EXPECT_OK(weft_file_fsync(f));
  WEFT_EXPECT_OK(weft_file_close(f));

  f = open_or_null("a.txt", O_RDONLY);
  WEFT_EXPECT_EQ(weft_file_read(f, buf, 5), 5);
  WEFT_EXPECT(memcmp(buf, "hello", 5) == 0);
  WEFT_EXPECT_EQ(weft_file_read(f, buf, sizeof(buf)), 7);
  WEFT_EXPECT(memcmp(buf, "\nworld\n", 7) == 0);
  WEFT_EXPECT_EQ(weft_file_read(f, buf, sizeof(buf)), 0);
  WEFT_EXPECT_EQ(weft_file_read(f, buf, 0), 0);
  /* pread does not move the position: still at the end. */
  WEFT_EXPECT_EQ(weft_file_pread(f, buf, 5, 6), 5);
  WEFT_EXPECT(memcmp(buf, "world", 5) == 0);
  WEFT_EXPECT_EQ(weft_file_pread(f, buf, 5, 100), 0);
  WEFT_EXPECT_EQ(weft_file_read(f, buf, sizeof(buf)), 0);
  WEFT_EXPECT_OK(weft_file_close(f));
  return 0;
}

static void test_fs_write_then_read_back(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_roundtrip, NULL, NULL));
}

static int main_positions(void* arg, void** result) {
  (void)arg;
  (void)result;
  char buf[64];
  weft_file_t* f = open_or_null("p.txt", O_RDWR | O_CREAT | O_TRUNC);
  WEFT_EXPECT_EQ(weft_file_write(f, "0123456789", 10), 10);
  WEFT_EXPECT_EQ(weft_file_pwrite(f, "AB", 2, 2), 2);
  WEFT_EXPECT_EQ(weft_file_pread(f, buf, 4, 0), 4);
  WEFT_EXPECT(memcmp(buf, "01AB", 4) == 0);
  /* The position is still 10: write appends there. */
  WEFT_EXPECT_EQ(weft_file_write(f, "xy", 2), 2);
  WEFT_EXPECT_EQ(weft_file_size(f), 12);
  WEFT_EXPECT_EQ(weft_file_read(f, buf, sizeof(buf)), 0);
  /* pwrite past the end leaves a hole, and the position alone. */
  WEFT_EXPECT_EQ(weft_file_pwrite(f, "Z", 1, 15), 1);
  WEFT_EXPECT_EQ(weft_file_size(f), 16);
  WEFT_EXPECT_EQ(weft_file_read(f, buf, sizeof(buf)), 4);
  WEFT_EXPECT(memcmp(buf, "\0\0\0Z", 4) == 0);
  WEFT_EXPECT_OK(weft_file_close(f));
  return 0;
}

static void test_fs_pread_pwrite_leave_the_position(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_positions, NULL, NULL));
}

static int main_append(void* arg, void** result) {
  (void)arg;
  (void)result;
  char p[PATH_MAX];
  char* data = NULL;
  size_t len = 0;
  WEFT_EXPECT_OK(put("log.txt", "start\n"));
  weft_file_t* f = open_or_null("log.txt", O_RDWR | O_APPEND);
  WEFT_EXPECT_EQ(weft_file_write(f, "a\n", 2), 2);
  WEFT_EXPECT_EQ(weft_file_write(f, "b\n", 2), 2);
  /* Reads start at the position, 0, whatever was appended. */
  WEFT_EXPECT_EQ(weft_file_readline(f, (char[16]){0}, 16), 6);
  WEFT_EXPECT_OK(weft_file_close(f));
  WEFT_EXPECT_OK(weft_fs_read_file(path_of(p, "log.txt"), &data, &len));
  WEFT_EXPECT_EQ(len, 10);
  WEFT_EXPECT(data != NULL && strcmp(data, "start\na\nb\n") == 0);
  free(data);
  return 0;
}

static void test_fs_append_writes_go_to_the_end(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_append, NULL, NULL));
}

/* A FIFO opened read-write (so opening never waits): not seekable, so the
 * file falls back to the descriptor's own offset. */
static int main_fifo(void* arg, void** result) {
  (void)arg;
  (void)result;
  char p[PATH_MAX];
  char buf[16];
  WEFT_EXPECT(mkfifo(path_of(p, "fifo"), 0600) == 0);
  weft_file_t* f = open_or_null("fifo", O_RDWR);
  WEFT_EXPECT_EQ(weft_file_write(f, "one\ntwo\n", 8), 8);
  WEFT_EXPECT_EQ(weft_file_readline(f, buf, sizeof(buf)), 4);
  WEFT_EXPECT(memcmp(buf, "one\n", 4) == 0);
  WEFT_EXPECT_EQ(weft_file_read(f, buf, sizeof(buf)), 4);
  WEFT_EXPECT(memcmp(buf, "two\n", 4) == 0);
  WEFT_EXPECT_ERR((int)weft_file_pread(f, buf, 1, 0), UV_ESPIPE);
  WEFT_EXPECT_OK(weft_file_close(f));
  return 0;
}

static void test_fs_fifo_reads_and_writes_in_order(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_fifo, NULL, NULL));
}

/* ---- readline ----------------------------------------------------------- */

#define BIG_LINES 180
#define BIG_CAP ((size_t)2 << 20)

/* Line i of the big file, '\n' excluded: lengths around the 64 KiB
 * read-ahead, far beyond it, and short ones; one of 1 MiB. */
static size_t big_line(size_t i, char* out) {
  static const size_t lens[] = {
      0,    1,     10,    80,    70 * 1024, 3, 200 * 1024 + 7,
      1000, 65535, 65536, 65537, 12};
  size_t len = i == 50 ? ((size_t)1 << 20) + 3 : lens[i % 12];
  for (size_t j = 0; j < len; j++)
    out[j] = (char)('a' + (i + j) % 26);
  return len;
}

static const char kLast[] = "last line, no newline";

static int write_big(const char* name, char* line, size_t* total) {
  weft_file_t* f = open_or_null(name, O_WRONLY | O_CREAT | O_TRUNC);
  *total = 0;
  for (size_t i = 0; i < BIG_LINES; i++) {
    size_t len = big_line(i, line);
    line[len] = '\n';
    if (!WEFT_EXPECT_EQ(weft_file_write(f, line, len + 1), len + 1))
      break;
    *total += len + 1;
  }
  WEFT_EXPECT_EQ(weft_file_write(f, kLast, strlen(kLast)), strlen(kLast));
  *total += strlen(kLast);
  return weft_file_close(f);
}

static int main_big_readline(void* arg, void** result) {
  (void)arg;
  (void)result;
  char* want = malloc(BIG_CAP);
  char* got = malloc(BIG_CAP);
  size_t total, seen = 0;
  WEFT_EXPECT_OK(write_big("big.txt", want, &total));
  WEFT_EXPECT(total > ((size_t)6 << 20)); /* multi-megabyte */
  weft_file_t* f = open_or_null("big.txt", O_RDONLY);
  for (size_t i = 0; i < BIG_LINES; i++) {
    size_t len = big_line(i, want);
    want[len] = '\n';
    ptrdiff_t n = weft_file_readline(f, got, BIG_CAP);
    if (!WEFT_EXPECT_EQ(n, len + 1) || !WEFT_EXPECT(memcmp(got, want, n) == 0))
      break;
    seen += (size_t)n;
  }
  ptrdiff_t n = weft_file_readline(f, got, BIG_CAP);
  WEFT_EXPECT_EQ(n, strlen(kLast));
  WEFT_EXPECT(n > 0 && memcmp(got, kLast, (size_t)n) == 0);
  WEFT_EXPECT_EQ(seen + (size_t)n, total);
  WEFT_EXPECT_EQ(weft_file_readline(f, got, BIG_CAP), 0);
  WEFT_EXPECT_OK(weft_file_close(f));
  free(want);
  free(got);
  return 0;
}

static void test_fs_readline_multi_megabyte_file(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_big_readline, NULL, NULL));
}

static int main_eof_lines(void* arg, void** result) {
  (void)arg;
  (void)result;
  char buf[16];
  WEFT_EXPECT_OK(put("a", "abc\ndef"));
  WEFT_EXPECT_OK(put("empty", ""));
  WEFT_EXPECT_OK(put("nl", "\n\n"));
  weft_file_t* f = open_or_null("a", O_RDONLY);
  WEFT_EXPECT_EQ(weft_file_readline(f, buf, sizeof(buf)), 4);
  WEFT_EXPECT(memcmp(buf, "abc\n", 4) == 0);
  WEFT_EXPECT_EQ(weft_file_readline(f, buf, sizeof(buf)), 3);
  WEFT_EXPECT(memcmp(buf, "def", 3) == 0);
  WEFT_EXPECT_EQ(weft_file_readline(f, buf, sizeof(buf)), 0);
  WEFT_EXPECT_EQ(weft_file_readline(f, buf, sizeof(buf)), 0);
  WEFT_EXPECT_OK(weft_file_close(f));
  f = open_or_null("empty", O_RDONLY);
  WEFT_EXPECT_EQ(weft_file_readline(f, buf, sizeof(buf)), 0);
  WEFT_EXPECT_OK(weft_file_close(f));
  f = open_or_null("nl", O_RDONLY);
  WEFT_EXPECT_EQ(weft_file_readline(f, buf, sizeof(buf)), 1);
  WEFT_EXPECT_EQ(weft_file_readline(f, buf, sizeof(buf)), 1);
  WEFT_EXPECT_EQ(weft_file_readline(f, buf, sizeof(buf)), 0);
  WEFT_EXPECT_OK(weft_file_close(f));
  return 0;
}

static void test_fs_readline_at_eof_without_newline(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_eof_lines, NULL, NULL));
}

#define LONG_LINE (100 * 1024)

static int main_limit(void* arg, void** result) {
  (void)arg;
  (void)result;
  char buf[64];
  char p[PATH_MAX];
  char* text = malloc(LONG_LINE + 32);
  strcpy(text, "short\n");
  memset(text + 6, 'x', LONG_LINE);
  strcpy(text + 6 + LONG_LINE, "\ntail");
  WEFT_EXPECT_OK(weft_fs_write_file(path_of(p, "l"), text, strlen(text)));
  weft_file_t* f = open_or_null("l", O_RDONLY);
  WEFT_EXPECT_ERR((int)weft_file_readline(f, buf, 5), WEFT_ELIMIT);
  WEFT_EXPECT_EQ(weft_file_readline(f, buf, 6), 6); /* exactly fits */
  WEFT_EXPECT(memcmp(buf, "short\n", 6) == 0);
  WEFT_EXPECT_ERR((int)weft_file_readline(f, buf, sizeof(buf)), WEFT_ELIMIT);
  WEFT_EXPECT_ERR((int)weft_file_readline(f, buf, sizeof(buf)), WEFT_ELIMIT);
  /* Nothing was consumed: the long line comes back with read. */
  size_t left = LONG_LINE + 1;
  while (left > 0) {
    size_t want = left < sizeof(buf) ? left : sizeof(buf);
    ptrdiff_t n = weft_file_read(f, buf, want);
    if (!WEFT_EXPECT(n > 0))
      break;
    for (ptrdiff_t i = 0; i < n; i++)
      WEFT_EXPECT(buf[i] == (left - (size_t)i == 1 ? '\n' : 'x'));
    left -= (size_t)n;
  }
  WEFT_EXPECT_EQ(weft_file_readline(f, buf, sizeof(buf)), 4);
  WEFT_EXPECT(memcmp(buf, "tail", 4) == 0);
  WEFT_EXPECT_EQ(weft_file_readline(f, buf, sizeof(buf)), 0);
  WEFT_EXPECT_OK(weft_file_close(f));
  free(text);
  return 0;
}

static void test_fs_readline_longer_than_cap_consumes_nothing(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_limit, NULL, NULL));
}

static int main_mixed(void* arg, void** result) {
  (void)arg;
  (void)result;
  char buf[64];
  WEFT_EXPECT_OK(put("m", "line1\nline2\nline3\n"));
  weft_file_t* f = open_or_null("m", O_RDWR);
  WEFT_EXPECT_EQ(weft_file_readline(f, buf, sizeof(buf)), 6);
  /* read continues from the line's end, out of the read-ahead. */
  WEFT_EXPECT_EQ(weft_file_read(f, buf, 3), 3);
  WEFT_EXPECT(memcmp(buf, "lin", 3) == 0);
  /* write goes at the position the caller has seen, not the read-ahead's. */
  WEFT_EXPECT_EQ(weft_file_write(f, "XY", 2), 2);
  WEFT_EXPECT_EQ(weft_file_readline(f, buf, sizeof(buf)), 1);
  WEFT_EXPECT_EQ(weft_file_readline(f, buf, sizeof(buf)), 6);
  WEFT_EXPECT(memcmp(buf, "line3\n", 6) == 0);
  WEFT_EXPECT_EQ(weft_file_pread(f, buf, 12, 0), 12);
  WEFT_EXPECT(memcmp(buf, "line1\nlinXY\n", 12) == 0);
  WEFT_EXPECT_OK(weft_file_close(f));

  /* pwrite over bytes already read ahead: the next readline sees it. */
  WEFT_EXPECT_OK(put("s", "aaa\nbbb\nccc\n"));
  f = open_or_null("s", O_RDWR);
  WEFT_EXPECT_EQ(weft_file_readline(f, buf, sizeof(buf)), 4);
  WEFT_EXPECT_EQ(weft_file_pwrite(f, "BBB", 3, 4), 3);
  WEFT_EXPECT_EQ(weft_file_readline(f, buf, sizeof(buf)), 4);
  WEFT_EXPECT(memcmp(buf, "BBB\n", 4) == 0);
  WEFT_EXPECT_OK(weft_file_close(f));
  return 0;
}

static void test_fs_readline_mixed_with_read_and_write(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_mixed, NULL, NULL));
}

/* ---- Path calls --------------------------------------------------------- */

typedef struct {
  char names[8][16];
  int dirs[8];
  int n;
  int stop_after; /* return 7 from the callback after this many; 0: never */
} scan_t;

static int on_entry(const char* name, int is_dir, void* arg) {
  scan_t* s = arg;
  if (s->n < 8) {
    snprintf(s->names[s->n], sizeof(s->names[0]), "%s", name);
    s->dirs[s->n] = is_dir;
  }
  s->n++;
  return s->stop_after != 0 && s->n >= s->stop_after ? 7 : 0;
}

static int cmp_name(const void* a, const void* b) {
  return strcmp(a, b);
}

static int main_paths(void* arg, void** result) {
  (void)arg;
  (void)result;
  char d[PATH_MAX], a[PATH_MAX], b[PATH_MAX], c[PATH_MAX], sub[PATH_MAX];
  char link[PATH_MAX];
  weft_stat_t st;
  path_of(d, "d");
  path_of(a, "d/a");
  path_of(b, "d/b");
  path_of(c, "d/c");
  path_of(sub, "d/sub");
  path_of(link, "d/link");
  WEFT_EXPECT_OK(weft_fs_mkdir(d, 0755));
  WEFT_EXPECT_ERR(weft_fs_mkdir(d, 0755), UV_EEXIST);
  WEFT_EXPECT_OK(weft_fs_write_file(a, "12345", 5));
  WEFT_EXPECT_OK(weft_fs_write_file(b, "", 0));
  WEFT_EXPECT_OK(weft_fs_mkdir(sub, 0700));
  WEFT_EXPECT(symlink(sub, link) == 0);

  scan_t s = {0};
  WEFT_EXPECT_OK(weft_fs_scandir(d, on_entry, &s));
  WEFT_EXPECT_EQ(s.n, 4);
  /* Sort names with their flags: is_dir rides after the name. */
  char rows[4][20];
  for (int i = 0; i < 4 && i < s.n; i++)
    snprintf(rows[i], sizeof(rows[i]), "%s:%d", s.names[i], s.dirs[i]);
  qsort(rows, 4, sizeof(rows[0]), cmp_name);
  WEFT_EXPECT(strcmp(rows[0], "a:0") == 0);
  WEFT_EXPECT(strcmp(rows[1], "b:0") == 0);
  WEFT_EXPECT(strcmp(rows[2], "link:1") == 0); /* followed, as is_dir() */
  WEFT_EXPECT(strcmp(rows[3], "sub:1") == 0);
  scan_t stop = {.stop_after = 2};
  WEFT_EXPECT_ERR(weft_fs_scandir(d, on_entry, &stop), 7);
  WEFT_EXPECT_EQ(stop.n, 2);

  WEFT_EXPECT_OK(weft_fs_stat(a, &st));
  WEFT_EXPECT_EQ(st.size, 5);
  WEFT_EXPECT(S_ISREG(st.mode));
  WEFT_EXPECT(st.mtime_ns > 0);
  WEFT_EXPECT_OK(weft_fs_stat(sub, &st));
  WEFT_EXPECT(S_ISDIR(st.mode));
  WEFT_EXPECT_OK(weft_fs_rename(a, c));
  WEFT_EXPECT_ERR(weft_fs_stat(a, &st), UV_ENOENT);
  WEFT_EXPECT_OK(weft_fs_stat(c, &st));
  WEFT_EXPECT_EQ(st.size, 5);
  WEFT_EXPECT_ERR(weft_fs_rmdir(d), UV_ENOTEMPTY);
  WEFT_EXPECT_OK(weft_fs_unlink(b));
  WEFT_EXPECT_OK(weft_fs_unlink(c));
  WEFT_EXPECT_OK(weft_fs_unlink(link));
  WEFT_EXPECT_OK(weft_fs_rmdir(sub));
  WEFT_EXPECT_OK(weft_fs_rmdir(d));
  WEFT_EXPECT_ERR(weft_fs_stat(d, &st), UV_ENOENT);
  return 0;
}

static void test_fs_path_calls(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_paths, NULL, NULL));
}

static int main_whole_files(void* arg, void** result) {
  (void)arg;
  (void)result;
  char p[PATH_MAX];
  size_t n = 300 * 1024 + 5;
  char* data = malloc(n);
  char* back = NULL;
  size_t len = 1;
  for (size_t i = 0; i < n; i++)
    data[i] = (char)(i * 7); /* NULs included */
  WEFT_EXPECT_OK(weft_fs_write_file(path_of(p, "w"), data, n));
  WEFT_EXPECT_OK(weft_fs_read_file(p, &back, &len));
  WEFT_EXPECT_EQ(len, n);
  WEFT_EXPECT(back != NULL && memcmp(back, data, n) == 0 && back[n] == '\0');
  free(back);
  /* Rewriting truncates. */
  WEFT_EXPECT_OK(weft_fs_write_file(p, "ab", 2));
  WEFT_EXPECT_OK(weft_fs_read_file(p, &back, NULL));
  WEFT_EXPECT(back != NULL && strcmp(back, "ab") == 0);
  free(back);
  WEFT_EXPECT_OK(weft_fs_write_file(p, NULL, 0));
  WEFT_EXPECT_OK(weft_fs_read_file(p, &back, &len));
  WEFT_EXPECT_EQ(len, 0);
  WEFT_EXPECT(back != NULL && back[0] == '\0');
  free(back);
  free(data);
  return 0;
}

static void test_fs_read_file_and_write_file(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_whole_files, NULL, NULL));
}

/* ---- Errors ------------------------------------------------------------- */

static int ignore_entry(const char* name, int is_dir, void* arg) {
  (void)name;
  (void)is_dir;
  (void)arg;
  return 0;
}

static int main_errors(void* arg, void** result) {
  (void)arg;
  (void)result;
  char p[PATH_MAX], q[PATH_MAX], buf[8];
  weft_stat_t st;
  weft_file_t* f = (weft_file_t*)1;
  char* data = (char*)1;
  path_of(p, "missing");
  path_of(q, "other");
  WEFT_EXPECT_ERR(weft_file_open(p, O_RDONLY, 0, &f), UV_ENOENT);
  WEFT_EXPECT(f == NULL);
  WEFT_EXPECT_ERR(weft_fs_stat(p, &st), UV_ENOENT);
  WEFT_EXPECT_ERR(weft_fs_unlink(p), UV_ENOENT);
  WEFT_EXPECT_ERR(weft_fs_rmdir(p), UV_ENOENT);
  WEFT_EXPECT_ERR(weft_fs_rename(p, q), UV_ENOENT);
  WEFT_EXPECT_ERR(weft_fs_scandir(p, ignore_entry, NULL), UV_ENOENT);
  WEFT_EXPECT_ERR(weft_fs_read_file(p, &data, NULL), UV_ENOENT);
  WEFT_EXPECT(data == NULL);
  WEFT_EXPECT_ERR(weft_fs_write_file(path_of(q, "missing/x"), "a", 1),
                  UV_ENOENT);
  WEFT_EXPECT_ERR(weft_fs_mkdir(path_of(q, "missing/x"), 0755), UV_ENOENT);
  WEFT_EXPECT_ERR(weft_file_open(g_dir, O_WRONLY, 0, &f), UV_EISDIR);
  WEFT_EXPECT_ERR(weft_fs_read_file(g_dir, &data, NULL), UV_EISDIR);

  WEFT_EXPECT_OK(put("ro", "abc"));
  f = open_or_null("ro", O_RDONLY);
  WEFT_EXPECT_ERR((int)weft_file_write(f, "x", 1), UV_EBADF);
  WEFT_EXPECT_ERR((int)weft_file_pwrite(f, "x", 1, 0), UV_EBADF);
  WEFT_EXPECT_ERR((int)weft_file_pread(f, buf, 1, -1), WEFT_EINVAL);
  WEFT_EXPECT_ERR((int)weft_file_pwrite(f, "x", 1, -1), WEFT_EINVAL);
  WEFT_EXPECT_ERR((int)weft_file_read(f, NULL, 1), WEFT_EINVAL);
  WEFT_EXPECT_ERR((int)weft_file_write(f, NULL, 1), WEFT_EINVAL);
  WEFT_EXPECT_ERR((int)weft_file_pread(f, NULL, 1, 0), WEFT_EINVAL);
  WEFT_EXPECT_ERR((int)weft_file_readline(f, NULL, 8), WEFT_EINVAL);
  WEFT_EXPECT_ERR((int)weft_file_readline(f, buf, 0), WEFT_EINVAL);
  /* The failed calls moved nothing. */
  WEFT_EXPECT_EQ(weft_file_read(f, buf, sizeof(buf)), 3);
  WEFT_EXPECT_OK(weft_file_close(f));

  WEFT_EXPECT_ERR(weft_file_open(NULL, O_RDONLY, 0, &f), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_file_open(p, O_RDONLY, 0, NULL), WEFT_EINVAL);
  WEFT_EXPECT_ERR((int)weft_file_read(NULL, buf, 1), WEFT_EINVAL);
  WEFT_EXPECT_ERR((int)weft_file_write(NULL, "x", 1), WEFT_EINVAL);
  WEFT_EXPECT_ERR((int)weft_file_pread(NULL, buf, 1, 0), WEFT_EINVAL);
  WEFT_EXPECT_ERR((int)weft_file_pwrite(NULL, "x", 1, 0), WEFT_EINVAL);
  WEFT_EXPECT_ERR((int)weft_file_readline(NULL, buf, 8), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_file_fsync(NULL), WEFT_EINVAL);
  WEFT_EXPECT_ERR((int)weft_file_size(NULL), WEFT_EINVAL);
  WEFT_EXPECT_OK(weft_file_close(NULL));
  WEFT_EXPECT_ERR(weft_fs_stat(NULL, &st), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_fs_stat(p, NULL), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_fs_rename(NULL, q), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_fs_rename(p, NULL), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_fs_unlink(NULL), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_fs_mkdir(NULL, 0755), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_fs_rmdir(NULL), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_fs_scandir(NULL, ignore_entry, NULL), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_fs_scandir(g_dir, NULL, NULL), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_fs_read_file(NULL, &data, NULL), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_fs_read_file(p, NULL, NULL), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_fs_write_file(NULL, "x", 1), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_fs_write_file(p, NULL, 1), WEFT_EINVAL);
  return 0;
}

static void test_fs_errors_and_bad_arguments(void** state) {
  (void)state;
  char buf[4];
  weft_stat_t st;
  weft_file_t* f = NULL;
  char* data = NULL;
  WEFT_ASSERT_OK(weft_test_run(1, main_errors, NULL, NULL));
  /* Outside a task. */
  WEFT_ASSERT_ERR(weft_file_open("/", O_RDONLY, 0, &f), WEFT_ENOTTASK);
  WEFT_ASSERT_ERR((int)weft_file_read((weft_file_t*)buf, buf, 1),
                  WEFT_ENOTTASK);
  WEFT_ASSERT_ERR(weft_file_close((weft_file_t*)buf), WEFT_ENOTTASK);
  WEFT_ASSERT_OK(weft_file_close(NULL));
  WEFT_ASSERT_ERR(weft_fs_stat("/", &st), WEFT_ENOTTASK);
  WEFT_ASSERT_ERR(weft_fs_unlink("/nonexistent"), WEFT_ENOTTASK);
  WEFT_ASSERT_ERR(weft_fs_read_file("/", &data, NULL), WEFT_ENOTTASK);
  WEFT_ASSERT_ERR(weft_fs_write_file("/x", "", 0), WEFT_ENOTTASK);
}

/* ---- Cancellation ------------------------------------------------------- */

/* A work item that holds a pool thread until the test posts `sem`. */
typedef struct {
  uv_work_t work;
  weft_uv_op_t* op;
  sem_t* sem;
  atomic_int started;
} blocker_t;

static void block_work(uv_work_t* w) {
  blocker_t* b = w->data;
  while (sem_wait(b->sem) != 0) {
  }
}

static void block_done(uv_work_t* w, int status) {
  blocker_t* b = w->data;
  weft_uv_done(b->op, status);
}

static int start_block(uv_loop_t* loop, weft_uv_op_t* op, void* arg) {
  blocker_t* b = arg;
  b->op = op;
  b->work.data = b;
  return uv_queue_work(loop, &b->work, block_work, block_done);
}

static int run_blocker(void* arg, void** result) {
  blocker_t* b = arg;
  (void)result;
  atomic_store(&b->started, 1);
  return weft_uv_await(NULL, start_block, NULL, b);
}

typedef struct {
  weft_file_t* f;
  const char* path;
  atomic_int started;
  char buf[8];
} victim_t;

static int victim_read(void* arg, void** result) {
  victim_t* v = arg;
  (void)result;
  atomic_store(&v->started, 1);
  return (int)weft_file_read(v->f, v->buf, sizeof(v->buf));
}

static int victim_stat(void* arg, void** result) {
  victim_t* v = arg;
  weft_stat_t st;
  (void)result;
  atomic_store(&v->started, 1);
  return weft_fs_stat(v->path, &st);
}

/* Spawns fn(v), lets it submit its request (1 worker: see the file
 * comment), cancels it and returns its status. */
static int cancel_queued(weft_task_fn fn, victim_t* v) {
  weft_task_t* t;
  int status = -1;
  if (!WEFT_EXPECT_OK(weft_spawn(NULL, fn, v, NULL, &t)))
    return status;
  WEFT_YIELD_UNTIL(atomic_load(&v->started));
  WEFT_EXPECT_OK(weft_cancel(t));
  status = weft_await(t, NULL);
  weft_task_release(t);
  return status;
}

static int main_cancel_queued(void* arg, void** result) {
  (void)arg;
  (void)result;
  char p[PATH_MAX];
  int k = pool_size();
  sem_t sem;
  blocker_t* bs = calloc((size_t)k, sizeof(*bs));
  weft_task_t** ts = calloc((size_t)k, sizeof(*ts));
  sem_init(&sem, 0, 0);
  WEFT_EXPECT_OK(put("v", "data"));
  victim_t v = {.f = open_or_null("v", O_RDONLY), .path = path_of(p, "v")};
  /* Occupy every pool thread; requests made now stay queued. */
  for (int i = 0; i < k; i++) {
    bs[i].sem = &sem;
    WEFT_EXPECT_OK(weft_spawn(NULL, run_blocker, &bs[i], NULL, &ts[i]));
  }
  WEFT_YIELD_UNTIL(atomic_load(&bs[k - 1].started));
  WEFT_EXPECT_ERR(cancel_queued(victim_read, &v), WEFT_ECANCELED);
  atomic_store(&v.started, 0);
  WEFT_EXPECT_ERR(cancel_queued(victim_stat, &v), WEFT_ECANCELED);
  for (int i = 0; i < k; i++)
    sem_post(&sem);
  for (int i = 0; i < k; i++) {
    WEFT_EXPECT_OK(weft_await(ts[i], NULL));
    weft_task_release(ts[i]);
  }
  /* The withdrawn read moved nothing. */
  WEFT_EXPECT_EQ(weft_file_read(v.f, v.buf, sizeof(v.buf)), 4);
  WEFT_EXPECT(memcmp(v.buf, "data", 4) == 0);
  WEFT_EXPECT_OK(weft_file_close(v.f));
  sem_destroy(&sem);
  free(bs);
  free(ts);
  return 0;
}

static void test_fs_cancel_withdraws_a_queued_request(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_cancel_queued, NULL, NULL));
}

typedef struct {
  weft_file_t* f;
  atomic_int started;
  ptrdiff_t got;
  int next_await;
  char buf[8];
} reader_t;

static int fifo_reader(void* arg, void** result) {
  reader_t* r = arg;
  (void)result;
  atomic_store(&r->started, 1);
  r->got = weft_file_read(r->f, r->buf, sizeof(r->buf));
  r->next_await = weft_yield();
  return 0;
}

/* A read that a pool thread may already run when the cancellation comes:
 * either it returns WEFT_ECANCELED (withdrawn, the data stays in the FIFO;
 * or left running in the background, which keeps what it reads in the
 * file's buffer: either way the file's next read gets it) or it completes
 * with the data and the cancellation comes at the next await. Never both,
 * never neither. */
static int main_cancel_running(void* arg, void** result) {
  (void)arg;
  (void)result;
  char p[PATH_MAX];
  char buf[8];
  weft_task_t* t;
  WEFT_EXPECT(mkfifo(path_of(p, "fifo"), 0600) == 0);
  reader_t r = {.f = open_or_null("fifo", O_RDWR)};
  weft_file_t* w = open_or_null("fifo", O_RDWR);
  WEFT_EXPECT_OK(weft_spawn(NULL, fifo_reader, &r, NULL, &t));
  WEFT_YIELD_UNTIL(atomic_load(&r.started));
  WEFT_EXPECT_OK(weft_cancel(t));
  WEFT_EXPECT_EQ(weft_file_write(w, "ping", 4), 4);
  WEFT_EXPECT_OK(weft_await(t, NULL));
  weft_task_release(t);
  if (r.got == WEFT_ECANCELED) {
    WEFT_EXPECT_OK(r.next_await);
    WEFT_EXPECT_EQ(weft_file_read(r.f, buf, sizeof(buf)), 4);
    WEFT_EXPECT(memcmp(buf, "ping", 4) == 0);
  } else {
    WEFT_EXPECT_EQ(r.got, 4);
    WEFT_EXPECT(memcmp(r.buf, "ping", 4) == 0);
    WEFT_EXPECT_ERR(r.next_await, WEFT_ECANCELED);
  }
  WEFT_EXPECT_OK(weft_file_close(r.f));
  WEFT_EXPECT_OK(weft_file_close(w));
  return 0;
}

static void test_fs_cancel_running_read_loses_nothing(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_cancel_running, NULL, NULL));
}

/* ---- Other workers ------------------------------------------------------ */

/* Moves the calling task to worker `i` of its runtime. */
static void move_to(unsigned i) {
  weft_runtime_t* rt = weft_current_runtime();
  WEFT_EXPECT_OK(weft_uv_enter(&rt->workers[i]->loop));
  WEFT_EXPECT_EQ(weft_worker_id(), i);
}

typedef struct {
  weft_file_t* f;
  unsigned worker;
} hop_t;

static int use_elsewhere(void* arg, void** result) {
  hop_t* h = arg;
  char buf[16];
  (void)result;
  move_to(h->worker);
  WEFT_EXPECT_EQ(weft_file_pread(h->f, buf, 5, 0), 5);
  WEFT_EXPECT_EQ(weft_file_readline(h->f, buf, sizeof(buf)), 6);
  WEFT_EXPECT(memcmp(buf, "first\n", 6) == 0);
  WEFT_EXPECT_EQ(weft_file_write(h->f, "third\n", 6), 6);
  return 0;
}

static int open_elsewhere(void* arg, void** result) {
  unsigned* worker = arg;
  weft_file_t* f = NULL;
  char p[PATH_MAX];
  move_to(*worker);
  int err = weft_file_open(path_of(p, "x"), O_RDONLY, 0, &f);
  *result = f;
  return err;
}

static int main_other_worker(void* arg, void** result) {
  (void)arg;
  (void)result;
  char buf[32];
  weft_task_t* t;
  unsigned here = (unsigned)weft_worker_id();
  unsigned other = 1 - here;
  WEFT_EXPECT_OK(put("x", "first\nsecond\n"));
  /* Opened here; used by a task on the other worker. */
  hop_t h = {.f = open_or_null("x", O_RDWR), .worker = other};
  WEFT_EXPECT_OK(weft_spawn(NULL, use_elsewhere, &h, NULL, &t));
  WEFT_EXPECT_OK(weft_await(t, NULL));
  weft_task_release(t);
  /* This task moves over too and goes on with the same file. */
  move_to(other);
  WEFT_EXPECT_EQ(weft_file_size(h.f), 13);
  WEFT_EXPECT_OK(weft_file_fsync(h.f));
  WEFT_EXPECT_EQ(weft_file_pread(h.f, buf, sizeof(buf), 0), 13);
  WEFT_EXPECT(memcmp(buf, "first\nthird\n\n", 13) == 0);
  WEFT_EXPECT_OK(weft_file_close(h.f));
  /* Opened on the other worker, handed back as a result, used here. */
  move_to(here);
  void* res = NULL;
  WEFT_EXPECT_OK(weft_spawn(NULL, open_elsewhere, &other, NULL, &t));
  WEFT_EXPECT_OK(weft_await(t, &res));
  weft_task_release(t);
  weft_file_t* f = res;
  WEFT_EXPECT_EQ(weft_file_readline(f, buf, sizeof(buf)), 6);
  WEFT_EXPECT_EQ(weft_file_readline(f, buf, sizeof(buf)), 6);
  WEFT_EXPECT(memcmp(buf, "third\n", 6) == 0);
  WEFT_EXPECT_OK(weft_file_close(f));
  return 0;
}

static void test_fs_file_used_from_another_worker(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(2, main_other_worker, NULL, NULL));
}

#define SHARED_LINES 20000
#define SHARED_READERS 8

typedef struct {
  weft_file_t* f;
  long lines;
  long sum;
} share_t;

static int share_reader(void* arg, void** result) {
  share_t* s = arg;
  char buf[32];
  ptrdiff_t n;
  (void)result;
  while ((n = weft_file_readline(s->f, buf, sizeof(buf) - 1)) > 0) {
    buf[n] = '\0';
    WEFT_EXPECT(buf[n - 1] == '\n');
    s->lines++;
    s->sum += atol(buf);
    if (s->lines % 64 == 0)
      weft_yield(); /* let others in between lines */
  }
  return (int)n;
}

/* Tasks on 4 workers share one file: every line goes to exactly one. */
static int main_shared(void* arg, void** result) {
  (void)arg;
  (void)result;
  char p[PATH_MAX];
  size_t cap = SHARED_LINES * 8, len = 0;
  char* text = malloc(cap);
  for (int i = 1; i <= SHARED_LINES; i++)
    len += (size_t)snprintf(text + len, cap - len, "%d\n", i);
  WEFT_EXPECT_OK(weft_fs_write_file(path_of(p, "n"), text, len));
  free(text);
  share_t s[SHARED_READERS] = {{0}};
  weft_task_t* t[SHARED_READERS];
  weft_file_t* f = open_or_null("n", O_RDONLY);
  for (int i = 0; i < SHARED_READERS; i++) {
    s[i].f = f;
    WEFT_EXPECT_OK(weft_spawn(NULL, share_reader, &s[i], NULL, &t[i]));
  }
  long lines = 0, sum = 0;
  for (int i = 0; i < SHARED_READERS; i++) {
    WEFT_EXPECT_OK(weft_await(t[i], NULL));
    weft_task_release(t[i]);
    lines += s[i].lines;
    sum += s[i].sum;
  }
  WEFT_EXPECT_EQ(lines, SHARED_LINES);
  WEFT_EXPECT_EQ(sum, (long)SHARED_LINES * (SHARED_LINES + 1) / 2);
  WEFT_EXPECT_OK(weft_file_close(f));
  return 0;
}

static void test_fs_tasks_on_many_workers_share_one_file(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(4, main_shared, NULL, NULL));
}

/* ---- Closing ------------------------------------------------------------ */

typedef struct {
  weft_file_t* f;
  atomic_int started;
  ptrdiff_t got;
  char buf[8];
} user_t;

static int user_read(void* arg, void** result) {
  user_t* u = arg;
  (void)result;
  atomic_store(&u->started, 1);
  u->got = weft_file_read(u->f, u->buf, sizeof(u->buf));
  return 0;
}

static int user_close(void* arg, void** result) {
  user_t* u = arg;
  (void)result;
  atomic_store(&u->started, 1);
  return weft_file_close(u->f);
}

static weft_task_t* start(weft_task_fn fn, user_t* u) {
  weft_task_t* t = NULL;
  WEFT_EXPECT_OK(weft_spawn(NULL, fn, u, NULL, &t));
  WEFT_YIELD_UNTIL(atomic_load(&u->started));
  return t;
}

static int finish(weft_task_t* t) {
  int status = weft_await(t, NULL);
  weft_task_release(t);
  return status;
}

/* A blocks in a read (empty FIFO) holding the gate; B and C wait behind
 * it. C is cancelled; closing ends B's wait with WEFT_ECLOSED, refuses D,
 * and waits for A, which gets its data once the test writes it. */
static int main_close_in_use(void* arg, void** result) {
  (void)arg;
  (void)result;
  char p[PATH_MAX];
  WEFT_EXPECT(mkfifo(path_of(p, "fifo"), 0600) == 0);
  weft_file_t* f = open_or_null("fifo", O_RDWR);
  weft_file_t* w = open_or_null("fifo", O_RDWR);
  user_t a = {.f = f}, b = {.f = f}, c = {.f = f}, d = {.f = f};
  user_t closer = {.f = f};
  weft_task_t* ta = start(user_read, &a);
  weft_task_t* tb = start(user_read, &b);
  weft_task_t* tc = start(user_read, &c);
  WEFT_EXPECT_OK(weft_cancel(tc));
  WEFT_EXPECT_OK(finish(tc));
  WEFT_EXPECT_ERR((int)c.got, WEFT_ECANCELED);
  weft_task_t* tclose = start(user_close, &closer);
  WEFT_EXPECT_OK(finish(tb));
  WEFT_EXPECT_ERR((int)b.got, WEFT_ECLOSED);
  weft_task_t* td = start(user_read, &d);
  WEFT_EXPECT_OK(finish(td));
  WEFT_EXPECT_ERR((int)d.got, WEFT_ECLOSED);
  WEFT_EXPECT(!weft_task_done(tclose));
  WEFT_EXPECT_EQ(weft_file_write(w, "late", 4), 4);
  WEFT_EXPECT_OK(finish(ta));
  WEFT_EXPECT_EQ(a.got, 4);
  WEFT_EXPECT(memcmp(a.buf, "late", 4) == 0);
  WEFT_EXPECT_OK(finish(tclose));
  WEFT_EXPECT_OK(weft_file_close(w));
  return 0;
}

static void test_fs_close_waits_for_calls_in_progress(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_close_in_use, NULL, NULL));
}

static int count_fds(void) {
  int n = 0;
  char p[64];
  for (int fd = 0; fd < 1024; fd++) {
    snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
    n += access(p, F_OK) == 0;
  }
  return n;
}

static int main_leave_open(void* arg, void** result) {
  (void)arg;
  (void)result;
  char buf[8];
  WEFT_EXPECT_OK(put("o", "one\ntwo\n"));
  weft_file_t* f = open_or_null("o", O_RDONLY);
  weft_file_t* g = open_or_null("o", O_RDONLY);
  WEFT_EXPECT_EQ(weft_file_readline(f, buf, sizeof(buf)), 4);
  (void)g;
  return 0; /* both left open, one with a read-ahead buffer */
}

static void test_fs_files_left_open_are_closed_at_runtime_end(void** state) {
  (void)state;
  /* A first runtime, so that what libuv keeps open for the whole process
   * is open before counting. */
  WEFT_ASSERT_OK(weft_test_run(2, weft_test_ret_status, NULL, NULL));
  int before = count_fds();
  WEFT_ASSERT_OK(weft_test_run(2, main_leave_open, NULL, NULL));
  assert_int_equal(count_fds(), before);
}

/* Whether some thread of the process is blocked in system call `nr` (its
 * /proc syscall file starts with the number): how a test knows that a pool
 * thread runs a request that blocks, without a sleep. */
static int thread_in_syscall(long nr) {
  DIR* d = opendir("/proc/self/task");
  struct dirent* e;
  int found = 0;
  while (d != NULL && !found && (e = readdir(d)) != NULL) {
    char p[300];
    long got;
    snprintf(p, sizeof(p), "/proc/self/task/%s/syscall", e->d_name);
    FILE* fp = fopen(p, "r");
    if (fp == NULL)
      continue;
    found = fscanf(fp, "%ld", &got) == 1 && got == nr;
    fclose(fp);
  }
  if (d != NULL)
    closedir(d);
  return found;
}

typedef struct {
  char path[PATH_MAX];
  atomic_int started;
} opener_t;

static int fifo_opener(void* arg, void** result) {
  opener_t* o = arg;
  weft_file_t* f = NULL;
  (void)result;
  atomic_store(&o->started, 1);
  int err = weft_file_open(o->path, O_RDONLY, 0, &f);
  WEFT_EXPECT(f == NULL);
  return err;
}

/* Starts fifo_opener on g_dir/fifo and waits until its open blocks. */
static weft_task_t* start_opener(opener_t* o) {
  weft_task_t* t = NULL;
  path_of(o->path, "fifo");
  WEFT_EXPECT(mkfifo(o->path, 0600) == 0);
  WEFT_EXPECT_OK(weft_spawn(NULL, fifo_opener, o, NULL, &t));
  WEFT_YIELD_UNTIL(
      atomic_load(&o->started) &&
      (thread_in_syscall(SYS_openat) || thread_in_syscall(SYS_open_or_openat)));
  return t;
}

/* Opening a FIFO nobody writes to blocks a pool thread in open(2). The
 * cancelled open returns WEFT_ECANCELED at once, with no writer ever; the
 * open goes on in the background and is left blocked when main returns:
 * freeing the runtime must still end (it lets the open finish and closes
 * what it opened). */
static int main_cancel_fifo_open(void* arg, void** result) {
  opener_t o = {.started = 0};
  (void)arg;
  (void)result;
  weft_task_t* t = start_opener(&o);
  WEFT_EXPECT_OK(weft_cancel(t));
  WEFT_EXPECT_ERR(weft_await(t, NULL), WEFT_ECANCELED);
  weft_task_release(t);
  return 0;
}

static void test_fs_cancelled_open_returns_and_free_is_bounded(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, weft_test_ret_status, NULL, NULL));
  int before = count_fds();
  WEFT_ASSERT_OK(weft_test_run(1, main_cancel_fifo_open, NULL, NULL));
  assert_int_equal(count_fds(), before);
}

/* As above, but a writer comes later, while the runtime runs: the open
 * finishes in the background, its descriptor is closed, and a path call
 * cancelled meanwhile (a stat behind it) is unaffected. */
static int main_cancel_fifo_open_then_writer(void* arg, void** result) {
  opener_t o = {.started = 0};
  weft_stat_t st;
  (void)arg;
  (void)result;
  int before = count_fds();
  weft_task_t* t = start_opener(&o);
  WEFT_EXPECT_OK(weft_cancel(t));
  WEFT_EXPECT_ERR(weft_await(t, NULL), WEFT_ECANCELED);
  weft_task_release(t);
  /* The writer lets the background open finish; it then closes its
   * descriptor, after which the writer's is the only one left. */
  weft_file_t* w = open_or_null("fifo", O_WRONLY);
  WEFT_YIELD_UNTIL(count_fds() == before + 1);
  WEFT_EXPECT_OK(weft_fs_stat(o.path, &st));
  WEFT_EXPECT_OK(weft_file_close(w));
  WEFT_EXPECT_EQ(count_fds(), before);
  return 0;
}

static void test_fs_cancelled_open_finishes_in_background(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, weft_test_ret_status, NULL, NULL));
  WEFT_ASSERT_OK(
      weft_test_run(1, main_cancel_fifo_open_then_writer, NULL, NULL));
}

/* A read of an empty FIFO blocks a pool thread in read(2). Cancelled, it
 * returns WEFT_ECANCELED at once; the read goes on in the background, and
 * what it gets once the test writes is the file's next read. */
static int main_cancel_blocked_read(void* arg, void** result) {
  char p[PATH_MAX];
  char buf[8];
  weft_task_t* t;
  (void)arg;
  (void)result;
  WEFT_EXPECT(mkfifo(path_of(p, "fifo"), 0600) == 0);
  reader_t r = {.f = open_or_null("fifo", O_RDWR)};
  weft_file_t* w = open_or_null("fifo", O_RDWR);
  WEFT_EXPECT_OK(weft_spawn(NULL, fifo_reader, &r, NULL, &t));
  WEFT_YIELD_UNTIL(atomic_load(&r.started) && thread_in_syscall(SYS_read));
  WEFT_EXPECT_OK(weft_cancel(t));
  WEFT_EXPECT_OK(weft_await(t, NULL));
  weft_task_release(t);
  WEFT_EXPECT_ERR((int)r.got, WEFT_ECANCELED);
  WEFT_EXPECT_OK(r.next_await);
  WEFT_EXPECT_EQ(weft_file_write(w, "ping", 4), 4);
  WEFT_EXPECT_EQ(weft_file_read(r.f, buf, sizeof(buf)), 4);
  WEFT_EXPECT(memcmp(buf, "ping", 4) == 0);
  WEFT_EXPECT_OK(weft_file_close(r.f));
  WEFT_EXPECT_OK(weft_file_close(w));
  return 0;
}

static void test_fs_cancelled_fifo_read_returns_and_keeps_bytes(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_cancel_blocked_read, NULL, NULL));
}

typedef struct {
  weft_file_t* f;
  const char* data;
  size_t len;
  atomic_int started;
  ptrdiff_t got;
} writer_t;

static int fifo_writer(void* arg, void** result) {
  writer_t* w = arg;
  (void)result;
  atomic_store(&w->started, 1);
  w->got = weft_file_write(w->f, w->data, w->len);
  return 0;
}

/* A write to a FIFO whose buffer is full blocks a pool thread in
 * write(2). Cancelled, it returns at once (with what it wrote so far, the
 * cancellation then pending, as write(2) reports a short write); the
 * blocked piece goes on in the background from its own copy of the data,
 * holding the file's gate, so a later write waits for it and the bytes
 * stay in order. Reading everything out of the FIFO lets it finish. */
static int main_cancel_blocked_write(void* arg, void** result) {
  char p[PATH_MAX];
  weft_task_t* t;
  (void)arg;
  (void)result;
  size_t big = 1u << 20; /* far more than a pipe holds */
  char* data = malloc(big);
  for (size_t i = 0; i < big; i++)
    data[i] = (char)('a' + i % 26);
  WEFT_EXPECT(mkfifo(path_of(p, "fifo"), 0600) == 0);
  writer_t w = {.f = open_or_null("fifo", O_RDWR), .data = data, .len = big};
  weft_file_t* r = open_or_null("fifo", O_RDWR);
  WEFT_EXPECT_OK(weft_spawn(NULL, fifo_writer, &w, NULL, &t));
  WEFT_YIELD_UNTIL(atomic_load(&w.started) && thread_in_syscall(SYS_write));
  WEFT_EXPECT_OK(weft_cancel(t));
  int st = weft_await(t, NULL);
  weft_task_release(t);
  /* Short (the cancellation then pending, so the task ends cancelled),
   * or nothing written at all. */
  WEFT_EXPECT(w.got == WEFT_ECANCELED || (w.got > 0 && (size_t)w.got < big));
  WEFT_EXPECT(st == WEFT_ECANCELED || st == 0);
  /* A write after it goes out after the background piece, in order. */
  weft_task_t* t2;
  writer_t w2 = {.f = w.f, .data = "END", .len = 3};
  WEFT_EXPECT_OK(weft_spawn(NULL, fifo_writer, &w2, NULL, &t2));
  /* Drain: every byte read is data in order, ending in "END". */
  char* got = malloc(big + 3);
  size_t n = 0;
  int bad = 0;
  while (n < 3 || memcmp(got + n - 3, "END", 3) != 0) {
    ptrdiff_t k = weft_file_read(r, got + n, big + 3 - n);
    if (!WEFT_EXPECT(k > 0))
      break;
    n += (size_t)k;
  }
  for (size_t i = 0; i + 3 < n; i++)
    bad |= got[i] != (char)('a' + i % 26);
  WEFT_EXPECT(!bad);
  WEFT_EXPECT(n >= 3 + (w.got > 0 ? (size_t)w.got : 0));
  WEFT_EXPECT_OK(weft_await(t2, NULL));
  weft_task_release(t2);
  WEFT_EXPECT_EQ(w2.got, 3);
  WEFT_EXPECT_OK(weft_file_close(w.f));
  WEFT_EXPECT_OK(weft_file_close(r));
  free(got);
  free(data);
  return 0;
}

static void test_fs_cancelled_fifo_write_returns_and_keeps_order(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, main_cancel_blocked_write, NULL, NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup_dir, teardown_dir)
      T(test_fs_write_then_read_back),
      T(test_fs_pread_pwrite_leave_the_position),
      T(test_fs_append_writes_go_to_the_end),
      T(test_fs_fifo_reads_and_writes_in_order),
      T(test_fs_readline_multi_megabyte_file),
      T(test_fs_readline_at_eof_without_newline),
      T(test_fs_readline_longer_than_cap_consumes_nothing),
      T(test_fs_readline_mixed_with_read_and_write),
      T(test_fs_path_calls),
      T(test_fs_read_file_and_write_file),
      T(test_fs_errors_and_bad_arguments),
      T(test_fs_cancel_withdraws_a_queued_request),
      T(test_fs_cancel_running_read_loses_nothing),
      T(test_fs_file_used_from_another_worker),
      T(test_fs_tasks_on_many_workers_share_one_file),
      T(test_fs_close_waits_for_calls_in_progress),
      T(test_fs_files_left_open_are_closed_at_runtime_end),
      T(test_fs_cancelled_open_returns_and_free_is_bounded),
      T(test_fs_cancelled_open_finishes_in_background),
      T(test_fs_cancelled_fifo_read_returns_and_keeps_bytes),
      T(test_fs_cancelled_fifo_write_returns_and_keeps_order),
#undef T
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
