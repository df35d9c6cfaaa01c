/* libFuzzer target for the stream reader (src/stream.c): readline,
 * readuntil, readexactly, read, at_eof and set_limit, on a real weft
 * stream in a real runtime. Built and run by scripts/fuzz.sh (clang).
 *
 * An input is a script and a byte stream:
 *   [limit] [nops] nops x (op, args...) [nchunks] nchunks x [len] data...
 * (bytes past the end read as 0). The data goes into one end of a socket
 * pair, in chunks, from a writer task that sleeps between chunks so the
 * reader sees them arrive one by one; the other end is a weft pipe stream
 * made as process.c makes its pipes. One runtime (one worker) lives for
 * the whole run; each input is one task.
 *
 * The stream's behaviour is fully determined by the bytes, whatever the
 * chunking: a model computes each call's result from the input (where the
 * first separator ends, the limit, the cap) and the real call must agree,
 * byte for byte. Everything read, then the rest drained with
 * weft_stream_read, must be the input exactly: nothing lost, nothing
 * twice. A failed call (ELIMIT, ENOBUFS, EOF of readuntil) consumes
 * nothing, which the model checks at the next call. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io/io.h"
#include "io/stream.h"
#include "weft.h"

enum { kBigCap = 4096, kMaxOps = 48, kMaxChunks = 32 };

/* The input, cut into its parts. */
typedef struct {
  const uint8_t* p;
  size_t len, off;
} cursor_t;

static uint8_t next(cursor_t* c) {
  return c->off < c->len ? c->p[c->off++] : 0;
}

typedef struct {
  const uint8_t* data; /* what the writer sends */
  size_t len;
  size_t chunk[kMaxChunks + 1];
  size_t nchunks;
  int fd;
} feed_t;

typedef struct {
  cursor_t script;
  feed_t feed;
  size_t pos;   /* model: bytes consumed so far */
  size_t limit; /* model: the stream's limit */
} run_t;

static weft_runtime_t* g_rt;

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "fuzz_stream_reader: %s:%d: %s\n", __FILE__, __LINE__,   \
              #cond);                                                          \
      abort();                                                                 \
    }                                                                          \
  } while (0)

/* ---- The writer ------------------------------------------------------- */

static void write_all(int fd, const uint8_t* p, size_t n) {
  while (n > 0) {
    ssize_t k = write(fd, p, n);
    if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
      weft_sleep_ns(1); /* the reader's end is full: let it read */
      continue;
    }
    CHECK(k > 0);
    p += k;
    n -= (size_t)k;
  }
}

/* Sends the chunks, each after a sleep (which lets the worker poll, so the
 * stream reads each chunk on its own), then closes: end of stream. */
static int writer(void* arg, void** result) {
  (void)result;
  feed_t* f = arg;
  size_t off = 0;
  for (size_t i = 0; i < f->nchunks; i++) {
    weft_sleep_ns(1);
    write_all(f->fd, f->data + off, f->chunk[i]);
    off += f->chunk[i];
  }
  close(f->fd);
  return 0;
}

/* ---- The model -------------------------------------------------------- */

/* Where the first sep ends in the unread input (offset from pos), or 0. */
static size_t model_find(const run_t* r, const uint8_t* sep, size_t seplen) {
  const uint8_t* base = r->feed.data + r->pos;
  size_t rem = r->feed.len - r->pos;
  const uint8_t* hit = memmem(base, rem, sep, seplen);
  return hit == NULL ? 0 : (size_t)(hit - base) + seplen;
}

/* What readuntil (or readline, `partial`) must return now. */
static ptrdiff_t model_until(const run_t* r, const uint8_t* sep, size_t seplen,
                             size_t cap, int partial) {
  size_t rem = r->feed.len - r->pos;
  size_t end = model_find(r, sep, seplen);
  if (end > r->limit || (end == 0 && rem >= r->limit))
    return WEFT_ELIMIT;
  if (end == 0) {
    if (!partial)
      return WEFT_EOF;
    end = rem;
    if (end == 0)
      return 0;
  }
  return end > cap ? WEFT_ENOBUFS : (ptrdiff_t)end;
}

/* `got` bytes returned by a call: they must be the next input bytes. */
static void model_consume(run_t* r, const char* buf, size_t got) {
  CHECK(got <= r->feed.len - r->pos);
  CHECK(memcmp(buf, r->feed.data + r->pos, got) == 0);
  r->pos += got;
}

/* ---- The calls -------------------------------------------------------- */

static void do_until(run_t* r, weft_stream_t* s, char* buf, int line,
                     size_t cap) {
  uint8_t sep[4] = {'\n'};
  size_t seplen = 1;
  if (!line) {
    seplen = 1 + (next(&r->script) & 3);
    for (size_t i = 0; i < seplen; i++)
      sep[i] = next(&r->script);
  }
  ptrdiff_t want = model_until(r, sep, seplen, cap, line);
  ptrdiff_t got = line ? weft_stream_readline(s, buf, cap)
                       : weft_stream_readuntil(s, sep, seplen, buf, cap);
  if (got != want)
    fprintf(stderr, "fuzz_stream_reader: %s: got %td, model %td\n",
            line ? "readline" : "readuntil", got, want);
  CHECK(got == want);
  if (got > 0) {
    CHECK((size_t)got <= r->limit && (size_t)got <= cap);
    model_consume(r, buf, (size_t)got);
  }
}

static void do_exactly(run_t* r, weft_stream_t* s, char* buf, size_t n) {
  size_t rem = r->feed.len - r->pos;
  size_t got = 12345;
  int err = weft_stream_readexactly(s, buf, n, &got);
  if (rem >= n) {
    CHECK(err == 0 && (got == 0 || got == n)); /* got: for a short read */
    model_consume(r, buf, n);
  } else {
    CHECK(err == WEFT_EOF && got == rem);
    model_consume(r, buf, got);
  }
}

static void do_read(run_t* r, weft_stream_t* s, char* buf, size_t n) {
  size_t rem = r->feed.len - r->pos;
  ptrdiff_t got = weft_stream_read(s, buf, n);
  if (rem == 0) {
    CHECK(got == 0);
  } else {
    /* How much depends on what has arrived: anything from 1 to n. */
    CHECK(got >= 1 && (size_t)got <= n);
    model_consume(r, buf, (size_t)got);
  }
}

static void do_op(run_t* r, weft_stream_t* s, char* buf) {
  uint8_t op = next(&r->script);
  size_t arg = next(&r->script);
  switch (op % 8) {
    case 0:
      do_until(r, s, buf, 1, 1 + arg);
      break;
    case 1:
      do_until(r, s, buf, 0, 1 + arg);
      break;
    case 2:
      do_exactly(r, s, buf, 1 + arg);
      break;
    case 3:
      do_read(r, s, buf, 1 + arg);
      break;
    case 4:
      if (arg == 0) {
        CHECK(weft_stream_set_limit(s, 0) == WEFT_EINVAL);
      } else {
        CHECK(weft_stream_set_limit(s, arg) == 0);
        r->limit = arg;
      }
      break;
    case 5: {
      int eof = weft_stream_at_eof(s);
      /* 1 only once everything was read; 0 may be early news. */
      CHECK(eof == 0 || (eof == 1 && r->pos == r->feed.len));
      break;
    }
    case 6:
      do_until(r, s, buf, (int)(arg & 1), kBigCap);
      break;
    default:
      do_exactly(r, s, buf, 1 + arg * 16);
      break;
  }
}

/* ---- One input -------------------------------------------------------- */

/* A weft pipe stream over our end of a fresh socket pair; *peer gets the
 * other end (non-blocking). */
static weft_stream_t* open_pair(int* peer) {
  int err;
  weft__worker_t* w = weft__io_task_worker(&err);
  CHECK(w != NULL);
  uv_os_sock_t fds[2];
  CHECK(uv_socketpair(SOCK_STREAM, 0, fds, 0, UV_NONBLOCK_PIPE) == 0);
  weft_stream_t* s = weft__stream_alloc(w, WEFT__STREAM_PIPE);
  CHECK(s != NULL);
  uv_pipe_t* h = (uv_pipe_t*)weft__stream_handle(s);
  uv_pipe_init(weft_uv_loop(), h, 0);
  CHECK(uv_pipe_open(h, fds[0]) == 0);
  weft__stream_attach(s);
  *peer = fds[1];
  return s;
}

static int reader(void* arg, void** result) {
  (void)result;
  run_t* r = arg;
  weft_stream_t* s = open_pair(&r->feed.fd);
  if (r->limit != WEFT_STREAM_LIMIT_DEFAULT)
    CHECK(weft_stream_set_limit(s, r->limit) == 0);
  weft_task_t* w;
  CHECK(weft_spawn(NULL, writer, &r->feed, NULL, &w) == 0);

  /* Sized for the largest call, so ASan sees any write past `cap`. */
  char* buf = malloc(kBigCap);
  CHECK(buf != NULL);
  size_t nops = next(&r->script) % kMaxOps;
  for (size_t i = 0; i < nops; i++)
    do_op(r, s, buf);

  /* The rest, drained: it must be the input's tail, then end of stream. */
  ptrdiff_t n;
  while ((n = weft_stream_read(s, buf, kBigCap)) > 0)
    model_consume(r, buf, (size_t)n);
  CHECK(n == 0 && r->pos == r->feed.len);
  CHECK(weft_stream_at_eof(s) == 1);
  CHECK(weft_stream_readline(s, buf, kBigCap) == 0);
  size_t got = 1;
  CHECK(weft_stream_readexactly(s, buf, 1, &got) == WEFT_EOF && got == 0);
  free(buf);

  CHECK(weft_await(w, NULL) == 0);
  weft_task_release(w);
  CHECK(weft_stream_close(s) == 0);
  return 0;
}

/* Reads the chunk lengths; the last chunk takes whatever is left. */
static void cut_chunks(cursor_t* c, feed_t* f) {
  size_t want = next(c) % kMaxChunks;
  size_t lens[kMaxChunks];
  for (size_t i = 0; i < want; i++)
    lens[i] = 1 + next(c);
  f->data = c->p + c->off;
  f->len = c->len - c->off;
  size_t left = f->len;
  f->nchunks = 0;
  for (size_t i = 0; i < want && left > 0; i++) {
    size_t k = lens[i] < left ? lens[i] : left;
    f->chunk[f->nchunks++] = k;
    left -= k;
  }
  if (left > 0)
    f->chunk[f->nchunks++] = left;
}

/* The script's length: walks it as do_op will, so the data starts after. */
static size_t script_len(const uint8_t* p, size_t len) {
  cursor_t c = {p, len, 0};
  next(&c); /* limit */
  size_t nops = next(&c) % kMaxOps;
  for (size_t i = 0; i < nops; i++) {
    uint8_t op = next(&c);
    uint8_t arg = next(&c);
    if (op % 8 == 1 || (op % 8 == 6 && !(arg & 1))) {
      size_t seplen = 1 + (next(&c) & 3);
      for (size_t k = 0; k < seplen; k++)
        next(&c);
    }
  }
  return c.off;
}

int LLVMFuzzerInitialize(int* argc, char*** argv) {
  (void)argc;
  (void)argv;
  weft_config_t cfg = {.workers = 1, .stack_size = 64 * 1024};
  if (weft_runtime_new(&cfg, &g_rt) != 0)
    abort();
  return 0;
}

/* For tests/fuzz/replay.c, the ctest driver: frees the runtime before the
 * process exits (libFuzzer's own runs never end that way). */
void weft_fuzz_cleanup(void);
void weft_fuzz_cleanup(void) {
  CHECK(weft_runtime_free(g_rt) == 0);
  g_rt = NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  run_t r = {.script = {data, size, 0}};
  uint8_t lim = next(&r.script);
  /* Small limits make ELIMIT common; 250 and up keep the default. */
  r.limit = lim < 250 ? 1 + (size_t)lim : WEFT_STREAM_LIMIT_DEFAULT;
  cursor_t rest = {data, size, script_len(data, size)};
  cut_chunks(&rest, &r.feed);
  weft_task_t* t;
  CHECK(weft_spawn(g_rt, reader, &r, NULL, &t) == 0);
  CHECK(weft_await(t, NULL) == 0);
  weft_task_release(t);
  return 0;
}
