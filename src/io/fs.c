/* Files (asyncio's aiofiles): weft_file_* and weft_fs_* over libuv's fs
 * requests, which run on libuv's thread pool and complete on a worker's
 * loop.
 *
 * DESIGN
 * Every operation is one uv_fs_t in a call (fs_call_t, allocated), started
 * on a worker's loop with on_fs as its callback and awaited with
 * weft__io_wait. A cancellation calls uv_cancel (cancel_fs): a request no
 * pool thread has taken yet is withdrawn and on_fs sees UV_ECANCELED. One
 * a thread already runs cannot be interrupted (an open or a read of a FIFO
 * nobody writes to blocks until someone does), so the task does not wait
 * for it: the call is detached (detach), the task returns WEFT_ECANCELED
 * at once, and the request finishes in the background (bg_finish), its
 * result dropped. That is why a call is allocated and not on the task's
 * stack, and why a detachable request never holds the caller's memory:
 * path calls hold only libuv's copies; a read of a file that cannot seek
 * goes through the file's read-ahead buffer (what a detached one gets is
 * kept there for the next read: nothing is lost); a write to one goes from
 * its own copy of the data. Reads and writes of regular files use the
 * caller's buffer directly (FS_PINNED): those requests end on their own,
 * so a cancellation waits for them and their result is returned, the
 * cancellation staying pending for the task's next await (io.c).
 *
 * A detached request takes over what its call held on its file (a user
 * count and, for read, write and readline, the gate), so a close or the
 * next reader waits for it. The call is freed by whichever of the task and
 * on_fs comes last (bg_done, orphaned; both under home's driver). A
 * detached open closes the descriptor it gets. At runtime end the loop's
 * last run waits for every request; a detached open still blocked there is
 * on home's object list, and its shutdown opens the FIFO both ways
 * (O_NONBLOCK, which never blocks) so that it finishes (open_shutdown).
 * A detached read of a FIFO that never gets data still holds the runtime's
 * end, as a read that was never cancelled would. Cleaning a request
 * (uv_fs_req_cleanup) touches the request only, not the loop.
 *
 * Path calls (weft_fs_*) run on whichever worker the task is on. A file
 * lives on its home worker, the one that opened it. Its fields are touched
 * under home's driver only, so every file call enters home's loop first
 * (weft__io_enter) and again after each wait, which may return elsewhere.
 * Nothing here is atomic.
 *
 * The position. A file keeps its own position and reads and writes at it
 * with offsets (pread/pwrite), not with the descriptor's offset, because
 * readline reads ahead: the descriptor's offset would be past what the
 * caller has seen. Two exceptions: an O_APPEND file writes through the
 * descriptor (the kernel appends), and a descriptor that cannot seek (a
 * FIFO, a terminal: ESPIPE) switches to plain read/write for good.
 *
 * The gate. read, write and readline use and move the position and the
 * read-ahead buffer across waits; two tasks doing so at once would read
 * the same bytes, or race on the buffer a pool thread is filling. So they
 * pass one at a time through a gate: a flag and a FIFO of waiting ops,
 * handed directly from one holder to the next (no barging). A gate waiter
 * is an io op like any other; its cancel hook takes it off the FIFO. pread,
 * pwrite, fsync and size touch nothing but the descriptor, so they skip the
 * gate and run concurrently; pwrite marks the read-ahead stale, and the
 * next gated call drops it.
 *
 * Closing. `users` counts the calls in progress on a file (holding the
 * gate, waiting for it, or in pread, pwrite, fsync, size). weft_file_close
 * marks the file closing (later calls get WEFT_ECLOSED), ends every gate
 * waiter's wait with WEFT_ECLOSED, and waits until users drops to 0: a call
 * still running keeps the descriptor, whose number could otherwise be
 * reused under it. Then it closes the descriptor and frees. Close cannot be
 * cancelled, so it always closes and frees; a cancellation that arrives
 * meanwhile is delivered at the task's next await. A file left open is
 * closed at runtime end (weft__io_obj_add), when no call can be running.
 *
 * Readline. A buffer of WEFT_FILE_READAHEAD bytes, allocated at the first
 * readline, holds bytes [pos, pos + rlen) of the file. readline looks for
 * '\n' there and reads more after the buffered bytes when there is none,
 * growing the buffer for a line longer than it, up to cap + 1 bytes: enough
 * to tell that the line is too long. A line longer than cap is not
 * consumed (WEFT_ELIMIT); weft_file_read serves buffered bytes first, so
 * the caller can take it piecewise.
 */
#include "base/alloc.h"
#include "io/fs.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/common.h"
#include "io/io.h"
#include "core/worker.h"

/* The read-ahead buffer readline starts with. */
#define WEFT_FILE_READAHEAD (64u * 1024u)
/* The most one request moves: uv_buf_t lengths are unsigned int, and a
 * result must fit weft__io_done's int status. Reads return short; writes
 * go on with the rest. */
#define WEFT_FILE_CHUNK ((size_t)1 << 30)

struct weft_file_s {
  weft__io_obj_t obj;   /* on home's list while open */
  weft__worker_t* home; /* read-only */
  uv_file fd;           /* read-only */
  int append;           /* read-only: opened with O_APPEND */
  /* Everything below: under home's driver only. */
  int unseekable; /* ESPIPE seen: read/write at the descriptor's offset */
  int closing;    /* weft_file_close has begun */
  int stale;      /* a pwrite ended: drop the read-ahead */
  int gate_busy;  /* a gated call holds the gate */
  int gate_refs;  /* holders of the gate: its call, and a detached request */
  int dead;       /* runtime end while detached requests ran: the last
                     one closes and frees (file_end) */
  weft__io_op_t* gate_head; /* FIFO of gate waiters, linked by op->next */
  weft__io_op_t* gate_tail;
  unsigned users;        /* calls in progress (file comment) */
  weft__io_op_t* closer; /* weft_file_close, waiting for users == 0 */
  int64_t pos;           /* where the next read or write goes */
  char* rbuf;            /* read-ahead: rbuf[roff, roff + rlen) is at pos */
  size_t rcap;
  size_t roff;
  size_t rlen;
};

/* ---- One fs request --------------------------------------------------- */

/* What a call's request needs from its file (fs_call_t.flags). */
enum {
  FS_PINNED = 1,    /* uses the caller's memory: never detached */
  FS_GATED = 2,     /* the calling task holds the file's gate */
  FS_READAHEAD = 4, /* reads into f->rbuf past the buffered bytes */
  FS_OPEN = 8,      /* an open: a detached one closes what it opened */
};

typedef struct {
  uv_fs_t req;
  weft__io_op_t op;
  weft__io_obj_t obj; /* FS_OPEN, detached: on home's list (shutdown) */
  weft_file_t* file;  /* the file the request works on, or NULL */
  unsigned flags;
  int detached; /* set once, on home, before op ends; read-only after */
  int listed;   /* obj is on home's list (a detached open) */
  int bg_done;  /* detached and on_fs ran: the task frees the call */
  int orphaned; /* detached and the task left: on_fs frees the call */
  char* bounce; /* a write's own copy of the data (unseekable files) */
} fs_call_t;

static void file_end(weft_file_t* f);
static void gate_leave(weft_file_t* f);
static void bg_finish(fs_call_t* c);

static void call_free(fs_call_t* c) {
  uv_fs_req_cleanup(&c->req);
  free(c->bounce);
  free(c);
}

static void on_fs(uv_fs_t* req) {
  fs_call_t* c = req->data;
  if (c->detached) {
    bg_finish(c);
    return;
  }
  weft__io_done(&c->op, req->result < 0 ? (int)req->result : 0);
}

/* Runtime end with a detached open still blocked: most likely a FIFO that
 * nobody opens from the other side. Opening it both ways (never blocks)
 * and closing again lets that open finish, so the loop's last run (which
 * waits for every request) ends; on_fs then closes what it opened. */
static void open_shutdown(weft__io_obj_t* obj) {
  fs_call_t* c = weft__container_of(obj, fs_call_t, obj);
  struct stat st;
  c->listed = 0; /* weft__io_close_all took it off */
  if (c->req.path != NULL && stat(c->req.path, &st) == 0 &&
      S_ISFIFO(st.st_mode)) {
    int fd = open(c->req.path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0)
      close(fd);
  }
}

/* The task stops waiting for a request a pool thread already runs: the
 * request finishes in the background (bg_finish). What the call held on
 * its file (a user count, the gate) is taken over by the background
 * request, so a close or the next reader waits for it. On home. */
static void detach(fs_call_t* c) {
  weft_file_t* f = c->file;
  c->detached = 1;
  if (f != NULL) {
    f->users++;
    if (c->flags & FS_GATED)
      f->gate_refs++;
  }
  if (c->flags & FS_OPEN) {
    weft__io_obj_add_named(c->op.home, &c->obj, open_shutdown,
                           "file open still running (cancelled)", NULL);
    c->listed = 1;
  }
  weft__io_done(&c->op, UV_ECANCELED);
}

static void cancel_fs(weft__io_op_t* op) {
  fs_call_t* c = op->data;
  /* Fails with UV_EBUSY once a pool thread runs the request: a request
   * that holds the caller's memory must then be waited for (on_fs brings
   * its real result); any other is left to finish in the background. */
  if (uv_cancel((uv_req_t*)&c->req) != 0 && !(c->flags & FS_PINNED))
    detach(c);
}

/* A new call for a request on the calling task's worker, or NULL; *loop
 * gets that worker's loop. `cancellable` 0: a cancellation waits for the
 * request. */
static fs_call_t* fs_prepare(int cancellable, weft_file_t* f, unsigned flags,
                             uv_loop_t** loop) {
  fs_call_t* c = weft__calloc(1, sizeof(*c));
  if (c == NULL)
    return NULL;
  weft__io_op_init(&c->op, cancellable ? cancel_fs : NULL, c);
  c->req.data = c;
  c->file = f;
  c->flags = flags;
  *loop = &c->op.home->loop;
  return c;
}

/* Waits for the request that a uv_fs_* call started, given what that call
 * returned: a negative code or the request's result. A detached call
 * returns WEFT_ECANCELED and is gone (freed here or by on_fs): *cp becomes
 * NULL. Otherwise the caller reads the results and frees the call
 * (call_free). Returns on any worker. */
static ssize_t fs_wait(fs_call_t** cp, int started) {
  fs_call_t* c = *cp;
  if (started < 0)
    return started; /* libuv never calls on_fs */
  weft__io_pool_started(&c->op);
  int status = weft__io_wait(&c->op);
  if (c->detached) {
    /* detached was set before the op ended, so it reads right here; the
     * rest is under home's driver, with on_fs. */
    weft__io_enter(c->op.home);
    if (c->bg_done)
      call_free(c);
    else
      c->orphaned = 1;
    *cp = NULL;
    return WEFT_ECANCELED;
  }
  return status < 0 ? status : c->req.result;
}

/* ---- Path calls --------------------------------------------------------- */

/* The checks every path call starts with; a call on the task's worker in
 * *c. WEFT_ENOTTASK, WEFT_EINVAL unless args_ok, WEFT_ECANCELED,
 * WEFT_ENOMEM, or 0. */
static int path_begin(int args_ok, fs_call_t** c, uv_loop_t** loop) {
  int err;
  if (weft__io_task_worker(&err) == NULL)
    return err;
  if (!args_ok)
    return WEFT_EINVAL;
  if ((err = weft__io_check_cancel()) != 0)
    return err;
  *c = fs_prepare(1, NULL, 0, loop);
  return *c != NULL ? 0 : WEFT_ENOMEM;
}

/* Frees a call fs_wait left to its caller (NULL: detached, gone). */
static void call_end(fs_call_t* c) {
  if (c != NULL)
    call_free(c);
}

/* Waits for c's request, frees it, returns its status. */
static int path_end(fs_call_t* c, int started) {
  ssize_t r = fs_wait(&c, started);
  call_end(c);
  return r < 0 ? (int)r : 0;
}

int weft_fs_stat(const char* path, weft_stat_t* st) {
  fs_call_t* c;
  uv_loop_t* loop;
  int err = path_begin(path != NULL && st != NULL, &c, &loop);
  if (err != 0)
    return err;
  ssize_t r = fs_wait(&c, uv_fs_stat(loop, &c->req, path, on_fs));
  if (r >= 0) {
    const uv_stat_t* s = &c->req.statbuf;
    st->size = s->st_size;
    st->mode = s->st_mode;
    st->mtime_ns = s->st_mtim.tv_sec * 1000000000 + s->st_mtim.tv_nsec;
  }
  call_end(c);
  return r < 0 ? (int)r : 0;
}

int weft_fs_rename(const char* from, const char* to) {
  fs_call_t* c;
  uv_loop_t* loop;
  int err = path_begin(from != NULL && to != NULL, &c, &loop);
  if (err != 0)
    return err;
  return path_end(c, uv_fs_rename(loop, &c->req, from, to, on_fs));
}

int weft_fs_unlink(const char* path) {
  fs_call_t* c;
  uv_loop_t* loop;
  int err = path_begin(path != NULL, &c, &loop);
  if (err != 0)
    return err;
  return path_end(c, uv_fs_unlink(loop, &c->req, path, on_fs));
}

int weft_fs_mkdir(const char* path, int mode) {
  fs_call_t* c;
  uv_loop_t* loop;
  int err = path_begin(path != NULL, &c, &loop);
  if (err != 0)
    return err;
  return path_end(c, uv_fs_mkdir(loop, &c->req, path, mode, on_fs));
}

int weft_fs_rmdir(const char* path) {
  fs_call_t* c;
  uv_loop_t* loop;
  int err = path_begin(path != NULL, &c, &loop);
  if (err != 0)
    return err;
  return path_end(c, uv_fs_rmdir(loop, &c->req, path, on_fs));
}

/* Whether entry `ent` of directory `dir` is a directory. The entry's type
 * is enough, except for a symbolic link (followed, as Python's is_dir())
 * and file systems that give no type: those are stat'ed. An entry gone or
 * dangling meanwhile is not a directory. */
static int entry_is_dir(const char* dir, const uv_dirent_t* ent, int* is_dir) {
  *is_dir = ent->type == UV_DIRENT_DIR;
  if (ent->type != UV_DIRENT_LINK && ent->type != UV_DIRENT_UNKNOWN)
    return 0;
  size_t dlen = strlen(dir);
  size_t nlen = strlen(ent->name);
  char* path = weft__malloc(dlen + nlen + 2);
  if (path == NULL)
    return WEFT_ENOMEM;
  memcpy(path, dir, dlen);
  path[dlen] = '/';
  memcpy(path + dlen + 1, ent->name, nlen + 1);
  weft_stat_t st;
  int err = weft_fs_stat(path, &st);
  free(path);
  if (err == 0)
    *is_dir = S_ISDIR(st.mode);
  return err == WEFT_ECANCELED || err == WEFT_ENOMEM ? err : 0;
}

int weft_fs_scandir(const char* path,
                    int (*fn)(const char* name, int is_dir, void* arg),
                    void* arg) {
  fs_call_t* c;
  uv_loop_t* loop;
  uv_dirent_t ent;
  int err = path_begin(path != NULL && fn != NULL, &c, &loop);
  if (err != 0)
    return err;
  ssize_t r = fs_wait(&c, uv_fs_scandir(loop, &c->req, path, 0, on_fs));
  err = r < 0 ? (int)r : 0;
  /* The request holds the entries until freed; fn may await. */
  while (err == 0 && uv_fs_scandir_next(&c->req, &ent) == 0) {
    int is_dir;
    err = entry_is_dir(path, &ent, &is_dir);
    if (err == 0)
      err = fn(ent.name, is_dir, arg);
  }
  call_end(c);
  return err;
}

/* ---- A file's calls: home, users, the gate ----------------------------- */

/* Moves to f's home and counts a call there; WEFT_ECLOSED once closing. */
static int file_begin(weft_file_t* f) {
  weft__io_enter(f->home);
  if (f->closing)
    return WEFT_ECLOSED;
  f->users++;
  return 0;
}

/* The checks every file call starts with, then file_begin. */
static int file_enter(weft_file_t* f, int args_ok) {
  int err;
  weft__worker_t* w = weft__io_task_worker(&err);
  if (w == NULL)
    return err;
  if (f == NULL || !args_ok || f->home->rt != w->rt)
    return WEFT_EINVAL;
  if ((err = weft__io_check_cancel()) != 0)
    return err;
  return file_begin(f);
}

static void file_free_now(weft_file_t* f);

/* Ends a call counted by file_begin (or a detached request's count). On
 * home. */
static void file_end(weft_file_t* f) {
  if (--f->users > 0)
    return;
  if (f->closer != NULL)
    weft__io_done(f->closer, 0);
  else if (f->dead)
    file_free_now(f);
}

static void gate_unlink(weft_file_t* f, weft__io_op_t* op) {
  weft__io_op_t** pp = &f->gate_head;
  weft__io_op_t* prev = NULL;
  while (*pp != NULL && *pp != op) {
    prev = *pp;
    pp = &(*pp)->next;
  }
  if (*pp == NULL)
    return;
  *pp = op->next;
  if (f->gate_tail == op)
    f->gate_tail = prev;
  op->next = NULL;
}

static void cancel_gate(weft__io_op_t* op) {
  weft_file_t* f = op->data;
  gate_unlink(f, op);
  weft__io_done(op, UV_ECANCELED);
}

/* Takes the gate, waiting behind earlier callers: 0, WEFT_ECANCELED or
 * WEFT_ECLOSED (then the gate is not held). On home; returns on home. */
static int gate_enter(weft_file_t* f) {
  int err = 0;
  if (!f->gate_busy) {
    f->gate_busy = 1;
    f->gate_refs = 1;
  } else {
    weft__io_op_t op;
    weft__io_op_init(&op, cancel_gate, f);
    if (f->gate_tail != NULL)
      f->gate_tail->next = &op;
    else
      f->gate_head = &op;
    f->gate_tail = &op;
    err = weft__io_wait(&op);
    weft__io_enter(f->home);
  }
  if (err == 0 && f->stale) {
    f->roff = f->rlen = 0;
    f->stale = 0;
  }
  return err;
}

/* Drops a hold on the gate; the last one hands it to the longest waiter,
 * or frees it. On home. */
static void gate_leave(weft_file_t* f) {
  if (--f->gate_refs > 0)
    return; /* a detached request still works under it */
  weft__io_op_t* next = f->gate_head;
  if (next == NULL) {
    f->gate_busy = 0;
    return;
  }
  gate_unlink(f, next);
  f->gate_refs = 1;
  weft__io_done(next, 0); /* gate_busy stays 1: next holds it now */
}

/* ---- Reading and writing ------------------------------------------------ */

/* One read or write of up to n bytes at `off` (-1: at the descriptor's
 * offset). `flags` say what the request holds (fs_call_t); a write that is
 * not FS_PINNED goes from its own copy of (at most WEFT_FILE_READAHEAD of)
 * the data, so that a cancellation may leave it running. On home; returns
 * on home. */
static ssize_t file_io(weft_file_t* f, int write, void* buf, size_t n,
                       int64_t off, unsigned flags) {
  uv_loop_t* loop;
  size_t len = n < WEFT_FILE_CHUNK ? n : WEFT_FILE_CHUNK;
  fs_call_t* c = fs_prepare(1, f, flags, &loop);
  if (c == NULL)
    return WEFT_ENOMEM;
  if (write && !(flags & FS_PINNED)) {
    len = len < WEFT_FILE_READAHEAD ? len : WEFT_FILE_READAHEAD;
    if ((c->bounce = weft__malloc(len)) == NULL) {
      call_free(c);
      return WEFT_ENOMEM;
    }
    memcpy(c->bounce, buf, len);
    buf = c->bounce;
  }
  uv_buf_t b = uv_buf_init(buf, (unsigned)len);
  int started = write ? uv_fs_write(loop, &c->req, f->fd, &b, 1, off, on_fs)
                      : uv_fs_read(loop, &c->req, f->fd, &b, 1, off, on_fs);
  ssize_t r = fs_wait(&c, started);
  call_end(c);
  weft__io_enter(f->home);
  return r;
}

/* file_io at the file's position `off`, falling back for good to the
 * descriptor's offset if the file cannot seek. A file that cannot seek (a
 * FIFO, a terminal) may block for ever, so its writes are never pinned. */
static ssize_t file_io_seq(weft_file_t* f, int write, void* buf, size_t n,
                           int64_t off, unsigned flags) {
  unsigned seq_flags = write ? flags & ~(unsigned)FS_PINNED : flags;
  if (f->unseekable)
    return file_io(f, write, buf, n, -1, seq_flags);
  ssize_t r = file_io(f, write, buf, n, off, flags);
  if (r == UV_ESPIPE) {
    f->unseekable = 1;
    r = file_io(f, write, buf, n, -1, seq_flags);
  }
  return r;
}

/* Writes all n bytes at `off` (-1: sequentially, at the position or, for
 * O_APPEND, at the end). Returns the count written; if it is short, *err
 * gets the error that stopped it. On home; returns on home. */
static size_t write_all(weft_file_t* f, const char* p, size_t n, int64_t off,
                        int* err) {
  size_t done = 0;
  *err = 0;
  while (done < n) {
    ssize_t r;
    if (off >= 0)
      r = file_io(f, 1, (char*)p + done, n - done, off + (int64_t)done,
                  FS_PINNED);
    else if (f->append)
      r = file_io_seq(f, 1, (char*)p + done, n - done, -1,
                      FS_PINNED | FS_GATED);
    else
      r = file_io_seq(f, 1, (char*)p + done, n - done, f->pos,
                      FS_PINNED | FS_GATED);
    if (r <= 0) {
      *err = r < 0 ? (int)r : UV_EIO; /* 0 for n > 0: no progress */
      break;
    }
    done += (size_t)r;
    if (off < 0 && !f->append)
      f->pos += r;
  }
  return done;
}

/* write(2)'s convention for a write that failed part way: the count, and
 * a cancellation put back to be delivered at the next await. */
static ptrdiff_t write_result(size_t done, int err) {
  if (err == 0 || done == 0)
    return err != 0 ? err : (ptrdiff_t)done;
  if (err == WEFT_ECANCELED)
    weft_cancel(weft_current_task());
  return (ptrdiff_t)done;
}

/* Takes up to n buffered bytes into buf (NULL: drops them). */
static void take_buffered(weft_file_t* f, char* buf, size_t n) {
  if (buf != NULL)
    memcpy(buf, f->rbuf + f->roff, n);
  f->roff += n;
  f->rlen -= n;
  f->pos += (int64_t)n;
  if (f->rlen == 0)
    f->roff = 0;
}

static ssize_t fill(weft_file_t* f, size_t cap);

/* The read-ahead buffer, allocated at first use. */
static int ensure_rbuf(weft_file_t* f) {
  if (f->rbuf == NULL) {
    if ((f->rbuf = weft__malloc(WEFT_FILE_READAHEAD)) == NULL)
      return WEFT_ENOMEM;
    f->rcap = WEFT_FILE_READAHEAD;
  }
  return 0;
}

/* Gate held: buffered bytes first, else one read at the position: into
 * buf for a file that seeks, through the read-ahead buffer for one that
 * cannot (its read may block for ever, so it must not hold the caller's
 * memory: a cancelled one goes on in the background, and what it gets
 * stays buffered for the next read). */
static ptrdiff_t read_locked(weft_file_t* f, void* buf, size_t n) {
  if (f->rlen == 0 && n > 0 && !f->unseekable) {
    ssize_t r = file_io(f, 0, buf, n, f->pos, FS_PINNED | FS_GATED);
    if (r != UV_ESPIPE) {
      if (r > 0)
        f->pos += r;
      return r;
    }
    f->unseekable = 1;
  }
  if (f->rlen == 0 && n > 0) {
    ssize_t r = ensure_rbuf(f);
    if (r == 0)
      r = fill(f, WEFT_FILE_READAHEAD);
    if (r <= 0)
      return r;
  }
  size_t k = n < f->rlen ? n : f->rlen;
  if (k > 0)
    take_buffered(f, buf, k);
  return (ptrdiff_t)k;
}

ptrdiff_t weft_file_read(weft_file_t* f, void* buf, size_t n) {
  ptrdiff_t r = file_enter(f, buf != NULL || n == 0);
  if (r != 0)
    return r;
  if ((r = gate_enter(f)) == 0) {
    r = read_locked(f, buf, n);
    gate_leave(f);
  }
  file_end(f);
  return r;
}

/* weft_file_write, with the error that cut a write short in *err. */
static size_t file_write(weft_file_t* f, const void* buf, size_t n, int* err) {
  size_t done = 0;
  *err = file_enter(f, buf != NULL || n == 0);
  if (*err != 0)
    return 0;
  if ((*err = gate_enter(f)) == 0) {
    f->roff = f->rlen = 0; /* read-ahead is stale; the position stays */
    done = write_all(f, buf, n, -1, err);
    gate_leave(f);
  }
  file_end(f);
  return done;
}

ptrdiff_t weft_file_write(weft_file_t* f, const void* buf, size_t n) {
  int err;
  size_t done = file_write(f, buf, n, &err);
  return write_result(done, err);
}

ptrdiff_t weft_file_pread(weft_file_t* f, void* buf, size_t n, int64_t offset) {
  ptrdiff_t r = file_enter(f, (buf != NULL || n == 0) && offset >= 0);
  if (r != 0)
    return r;
  r = n == 0 ? 0 : file_io(f, 0, buf, n, offset, FS_PINNED);
  file_end(f);
  return r;
}

ptrdiff_t weft_file_pwrite(weft_file_t* f, const void* buf, size_t n,
                           int64_t offset) {
  int err = file_enter(f, (buf != NULL || n == 0) && offset >= 0);
  if (err != 0)
    return err;
  size_t done = write_all(f, buf, n, offset, &err);
  f->stale = 1;
  file_end(f);
  return write_result(done, err);
}

/* ---- readline ----------------------------------------------------------- */

/* Reads more after the buffered bytes, making room first: moves them to
 * the front, or grows the buffer towards cap + 1 bytes (the caller made
 * sure rlen <= cap). The count read, 0 at end of file, or an error. */
static ssize_t fill(weft_file_t* f, size_t cap) {
  if (f->roff + f->rlen == f->rcap) {
    if (f->roff > 0) {
      memmove(f->rbuf, f->rbuf + f->roff, f->rlen);
      f->roff = 0;
    } else {
      /* rcap == rlen <= cap, so cap + 1 is larger and cannot overflow
       * when chosen. */
      size_t ncap = cap - f->rcap >= f->rcap ? f->rcap * 2 : cap + 1;
      char* nbuf = weft__realloc(f->rbuf, ncap);
      if (nbuf == NULL)
        return WEFT_ENOMEM;
      f->rbuf = nbuf;
      f->rcap = ncap;
    }
  }
  size_t end = f->roff + f->rlen;
  ssize_t r = file_io_seq(f, 0, f->rbuf + end, f->rcap - end,
                          f->pos + (int64_t)f->rlen, FS_GATED | FS_READAHEAD);
  if (r > 0)
    f->rlen += (size_t)r;
  return r;
}

/* Gate held: the next line into buf (file comment). */
static ptrdiff_t readline_locked(weft_file_t* f, char* buf, size_t cap) {
  size_t scanned = 0; /* buffered bytes known to hold no '\n' */
  int eof = 0;
  if (ensure_rbuf(f) != 0)
    return WEFT_ENOMEM;
  for (;;) {
    const char* start = f->rbuf + f->roff;
    const char* nl = memchr(start + scanned, '\n', f->rlen - scanned);
    size_t len = nl != NULL ? (size_t)(nl - start) + 1 : f->rlen;
    if (len > cap)
      return WEFT_ELIMIT;
    if (nl != NULL || eof) {
      take_buffered(f, buf, len);
      return (ptrdiff_t)len;
    }
    scanned = f->rlen;
    ssize_t r = fill(f, cap);
    if (r < 0)
      return r;
    eof = r == 0;
  }
}

ptrdiff_t weft_file_readline(weft_file_t* f, char* buf, size_t cap) {
  ptrdiff_t r = file_enter(f, buf != NULL && cap > 0);
  if (r != 0)
    return r;
  if ((r = gate_enter(f)) == 0) {
    r = readline_locked(f, buf, cap);
    gate_leave(f);
  }
  file_end(f);
  return r;
}

/* ---- fsync, size, open, close ------------------------------------------- */

int weft_file_fsync(weft_file_t* f) {
  int err = file_enter(f, 1);
  if (err != 0)
    return err;
  uv_loop_t* loop;
  fs_call_t* c = fs_prepare(1, f, 0, &loop);
  ssize_t r = WEFT_ENOMEM;
  if (c != NULL) {
    r = fs_wait(&c, uv_fs_fsync(loop, &c->req, f->fd, on_fs));
    call_end(c);
  }
  weft__io_enter(f->home);
  file_end(f);
  return r < 0 ? (int)r : 0;
}

int64_t weft_file_size(weft_file_t* f) {
  int err = file_enter(f, 1);
  if (err != 0)
    return err;
  uv_loop_t* loop;
  fs_call_t* c = fs_prepare(1, f, 0, &loop);
  int64_t size = WEFT_ENOMEM;
  if (c != NULL) {
    ssize_t r = fs_wait(&c, uv_fs_fstat(loop, &c->req, f->fd, on_fs));
    size = r < 0 ? r : (int64_t)c->req.statbuf.st_size;
    call_end(c);
  }
  weft__io_enter(f->home);
  file_end(f);
  return size;
}

/* Runtime end: no call can be running, no loop turns any more, so a
 * synchronous close (no callback) is the simplest. */
/* Debug mode's shutdown report. */
static void file_describe(weft__io_obj_t* obj, char* buf, size_t n) {
  weft_file_t* f = weft__container_of(obj, weft_file_t, obj);
  snprintf(buf, n, "(descriptor %d)", (int)f->fd);
}

static void file_free_now(weft_file_t* f) {
  uv_fs_t req;
  uv_fs_close(&f->home->loop, &req, f->fd, NULL);
  uv_fs_req_cleanup(&req);
  free(f->rbuf);
  free(f);
}

/* Runtime end: no task is left, but a detached request may still run on
 * the file; then the last one closes and frees it (file_end). */
static void file_shutdown(weft__io_obj_t* obj) {
  weft_file_t* f = weft__container_of(obj, weft_file_t, obj);
  if (f->users > 0)
    f->dead = 1;
  else
    file_free_now(f);
}

int weft_file_open(const char* path, int flags, int mode, weft_file_t** out) {
  int err;
  if (weft__io_task_worker(&err) == NULL)
    return err;
  if (out == NULL)
    return WEFT_EINVAL;
  *out = NULL;
  if (path == NULL)
    return WEFT_EINVAL;
  if ((err = weft__io_check_cancel()) != 0)
    return err;
  /* Allocated first: no descriptor to give back if this fails. */
  weft_file_t* f = weft__calloc(1, sizeof(*f));
  if (f == NULL)
    return WEFT_ENOMEM;
  uv_loop_t* loop;
  fs_call_t* c = fs_prepare(1, NULL, FS_OPEN, &loop);
  if (c == NULL) {
    free(f);
    return WEFT_ENOMEM;
  }
  f->home = c->op.home;
  ssize_t r = fs_wait(&c, uv_fs_open(loop, &c->req, path, flags, mode, on_fs));
  call_end(c);
  if (r < 0) {
    free(f);
    return (int)r;
  }
  f->fd = (uv_file)r;
  f->append = (flags & O_APPEND) != 0;
  weft__io_enter(f->home);
  weft__io_obj_add_named(f->home, &f->obj, file_shutdown, "file",
                         file_describe);
  *out = f;
  return 0;
}

/* Closing: waits (not cancellable) until no call uses f. On home. */
static void wait_unused(weft_file_t* f) {
  while (f->gate_head != NULL) {
    weft__io_op_t* op = f->gate_head;
    gate_unlink(f, op);
    weft__io_done(op, WEFT_ECLOSED);
  }
  if (f->users == 0)
    return;
  weft__io_op_t op;
  weft__io_op_init(&op, NULL, NULL);
  f->closer = &op;
  weft__io_wait(&op);
  weft__io_enter(f->home);
  f->closer = NULL;
}

int weft_file_close(weft_file_t* f) {
  int err;
  if (f == NULL)
    return 0;
  weft__worker_t* w = weft__io_task_worker(&err);
  if (w == NULL)
    return err;
  if (f->home->rt != w->rt)
    return WEFT_EINVAL;
  weft__io_enter(f->home);
  if (f->closing)
    return WEFT_ECLOSED;
  f->closing = 1;
  wait_unused(f);
  weft__io_obj_remove(f->home, &f->obj);
  uv_loop_t* loop;
  fs_call_t* c = fs_prepare(0, NULL, 0, &loop);
  ssize_t r;
  if (c != NULL) {
    r = fs_wait(&c, uv_fs_close(loop, &c->req, f->fd, on_fs));
    call_end(c);
  } else { /* out of memory: close here, a short block of this worker */
    uv_fs_t req;
    r = uv_fs_close(&f->home->loop, &req, f->fd, NULL);
    uv_fs_req_cleanup(&req);
  }
  free(f->rbuf);
  free(f);
  return r < 0 ? (int)r : 0;
}

/* ---- Detached requests -------------------------------------------------- */

/* on_fs for a detached request (see detach): drops the result, closes
 * what an open opened (synchronously: a close does not block, and the
 * loop's callback is the only place left to do it), keeps what a read
 * into the read-ahead buffer got (nothing read is lost), and gives back
 * the file's gate and user count. Then whichever of it and the task comes
 * last frees the call. On home (its loop's callback), or on the thread
 * freeing the runtime. */
static void bg_finish(fs_call_t* c) {
  weft_file_t* f = c->file;
  ssize_t r = c->req.result;
  if (c->listed) {
    weft__io_obj_remove(c->op.home, &c->obj);
    c->listed = 0;
  }
  if ((c->flags & FS_OPEN) && r >= 0) {
    uv_fs_t req;
    uv_fs_close(c->req.loop, &req, (uv_file)r, NULL);
    uv_fs_req_cleanup(&req);
  }
  if (f != NULL) {
    if ((c->flags & FS_READAHEAD) && r > 0 && !f->dead)
      f->rlen += (size_t)r;
    if (c->flags & FS_GATED)
      gate_leave(f);
    file_end(f);
  }
  if (c->orphaned)
    call_free(c);
  else
    c->bg_done = 1;
}

/* ---- Whole files ------------------------------------------------------- */

/* Reads f to its end into a growing buffer, sized from the file's size
 * (a hint: the file may change, and some report 0) plus room for the read
 * that finds the end. */
static int read_to_end(weft_file_t* f, char** data, size_t* len) {
  int64_t size = weft_file_size(f);
  if (size < 0)
    return (int)size;
  if ((uint64_t)size >= PTRDIFF_MAX / 4)
    return WEFT_ENOMEM;
  size_t cap = (size_t)size + 2 > 4096 ? (size_t)size + 2 : 4096;
  size_t n = 0;
  char* buf = weft__malloc(cap);
  ptrdiff_t r = 1;
  while (buf != NULL && r > 0) {
    if (n == cap - 1) {
      char* nbuf = cap <= PTRDIFF_MAX / 2 ? weft__realloc(buf, cap * 2) : NULL;
      if (nbuf == NULL)
        free(buf);
      buf = nbuf;
      cap *= 2;
      continue;
    }
    r = weft_file_read(f, buf + n, cap - 1 - n);
    if (r > 0)
      n += (size_t)r;
  }
  if (buf == NULL)
    return WEFT_ENOMEM;
  if (r < 0) {
    free(buf);
    return (int)r;
  }
  buf[n] = '\0';
  *data = buf;
  if (len != NULL)
    *len = n;
  return 0;
}

int weft_fs_read_file(const char* path, char** data, size_t* len) {
  int err;
  weft_file_t* f;
  if (weft__io_task_worker(&err) == NULL)
    return err;
  if (path == NULL || data == NULL)
    return WEFT_EINVAL;
  *data = NULL;
  if (len != NULL)
    *len = 0;
  if ((err = weft_file_open(path, O_RDONLY, 0, &f)) != 0)
    return err;
  err = read_to_end(f, data, len);
  int cerr = weft_file_close(f);
  return err != 0 ? err : cerr;
}

int weft_fs_write_file(const char* path, const void* data, size_t len) {
  int err;
  weft_file_t* f;
  if (weft__io_task_worker(&err) == NULL)
    return err;
  if (path == NULL || (data == NULL && len > 0))
    return WEFT_EINVAL;
  err = weft_file_open(path, O_WRONLY | O_CREAT | O_TRUNC, 0666, &f);
  if (err != 0)
    return err;
  file_write(f, data, len, &err);
  int cerr = weft_file_close(f);
  return err != 0 ? err : cerr;
}

/* ---- libuv's thread pool ------------------------------------------------ */

/* libuv runs every fs request (and getaddrinfo, and uv_queue_work) on one
 * thread pool for the whole process, 4 threads unless UV_THREADPOOL_SIZE
 * says otherwise, read once when the pool starts. Four threads shared by N
 * workers make files the bottleneck as soon as a few tasks per worker do
 * file I/O at once, and a request that blocks (a slow disk, NFS, a FIFO
 * nobody writes to) holds a thread for its whole length. So, unless the
 * user chose a size, weft asks for two threads per worker: enough for each
 * worker to keep a request in flight while another completes, at least
 * libuv's 4, and at most 64: libuv starts every pool thread at once, each
 * with an 8 MiB stack reservation, and past a device's queue depth more
 * threads only add contention. setenv happens once, from weft_runtime_new,
 * and runtime.c calls this only while the process has one thread (setenv
 * racing a getenv elsewhere is undefined) and the config allows it. */
void weft__fs_pool_init(unsigned nworkers) {
  static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
  static int done;
  pthread_mutex_lock(&lock);
  if (!done) {
    done = 1;
    if (getenv("UV_THREADPOOL_SIZE") == NULL) {
      unsigned n = nworkers * 2;
      char val[16];
      n = n < 4 ? 4 : n > 64 ? 64 : n;
      snprintf(val, sizeof(val), "%u", n);
      setenv("UV_THREADPOOL_SIZE", val, 0);
    }
  }
  pthread_mutex_unlock(&lock);
}
