/* Task-local storage: contextvars for C tasks.
 *
 * DESIGN
 * A task may resume on another thread after any await, so per-thread
 * storage is wrong in a task; this is per-task storage. A key is an index
 * into a process-wide table and a generation; a task's values are an
 * array indexed the same way, allocated on its first set. A value is live
 * when its slot's generation is the key's, so a freed key's index can be
 * reused without sweeping the tasks that still hold old values (as
 * pthread_key_delete, their destructors never run). Only the task itself
 * touches its array, so get and set take no lock; the table's lock is
 * taken by new, free, and by a task's end and a spawn that have values
 * (to read the destructors and copy functions of live keys).
 */
#include "base/alloc.h"
#include "core/local.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "core/worker.h"

struct weft_task_local_s {
  uint32_t index;
  uint32_t gen;
};

typedef struct {
  weft_local_copy copy;
  weft_local_dtor dtor;
  uint32_t gen; /* bumped when the index is freed */
  int used;
} key_entry_t;

enum { kMaxKeys = 4096 };

static pthread_mutex_t keys_lock = PTHREAD_MUTEX_INITIALIZER;
static key_entry_t* keys; /* under keys_lock */
static uint32_t nkeys;    /* entries ever used; under keys_lock */

static uint32_t keys_cap; /* under keys_lock */

/* A free index (reused first), or a new one. keys_lock held. */
static int take_index(uint32_t* out) {
  for (uint32_t i = 0; i < nkeys; i++) {
    if (!keys[i].used) {
      *out = i;
      return 0;
    }
  }
  if (nkeys == keys_cap) {
    uint32_t cap = keys_cap == 0 ? 16 : keys_cap * 2;
    if (cap > kMaxKeys)
      return WEFT_ELIMIT;
    key_entry_t* k = weft__realloc(keys, cap * sizeof(*k));
    if (k == NULL)
      return WEFT_ENOMEM;
    memset(k + keys_cap, 0, (cap - keys_cap) * sizeof(*k));
    keys = k;
    keys_cap = cap;
  }
  *out = nkeys++;
  return 0;
}

int weft_task_local_new(weft_local_copy copy, weft_local_dtor dtor,
                        weft_task_local_t** out) {
  if (out == NULL)
    return WEFT_EINVAL;
  weft_task_local_t* key = weft__malloc(sizeof(*key));
  if (key == NULL)
    return WEFT_ENOMEM;
  pthread_mutex_lock(&keys_lock);
  uint32_t i;
  int err = take_index(&i);
  if (err == 0) {
    keys[i].used = 1;
    keys[i].copy = copy;
    keys[i].dtor = dtor;
    key->index = i;
    key->gen = keys[i].gen;
  }
  pthread_mutex_unlock(&keys_lock);
  if (err != 0) {
    free(key);
    return err;
  }
  *out = key;
  return 0;
}

int weft_task_local_free(weft_task_local_t* key) {
  if (key == NULL)
    return 0;
  pthread_mutex_lock(&keys_lock);
  keys[key->index].used = 0;
  keys[key->index].gen++;
  keys[key->index].copy = NULL;
  keys[key->index].dtor = NULL;
  pthread_mutex_unlock(&keys_lock);
  free(key);
  return 0;
}

static weft_task_t* current(void) {
  weft__worker_t* w = weft__worker_self();
  return w != NULL ? w->current : NULL;
}

void* weft_task_local_get(const weft_task_local_t* key) {
  weft_task_t* t = current();
  if (key == NULL || t == NULL || t->locals == NULL ||
      key->index >= t->locals->n)
    return NULL;
  weft__local_slot_t* s = &t->locals->slot[key->index];
  return s->gen == key->gen ? s->value : NULL;
}

/* Makes room for slot `index` in t's values. */
static int reserve(weft_task_t* t, uint32_t index) {
  uint32_t have = t->locals != NULL ? t->locals->n : 0;
  if (index < have)
    return 0;
  uint32_t n = have == 0 ? 4 : have;
  while (n <= index)
    n *= 2;
  struct weft__locals_s* l =
      weft__realloc(t->locals, sizeof(*l) + n * sizeof(l->slot[0]));
  if (l == NULL)
    return WEFT_ENOMEM;
  memset(&l->slot[have], 0, (n - have) * sizeof(l->slot[0]));
  l->n = n;
  t->locals = l;
  return 0;
}

/* The key's destructor, if the key is still the one of `gen`. */
static weft_local_dtor dtor_of(uint32_t index, uint32_t gen) {
  pthread_mutex_lock(&keys_lock);
  weft_local_dtor d =
      index < nkeys && keys[index].used && keys[index].gen == gen
          ? keys[index].dtor
          : NULL;
  pthread_mutex_unlock(&keys_lock);
  return d;
}

int weft_task_local_set(weft_task_local_t* key, void* value) {
  if (key == NULL)
    return WEFT_EINVAL;
  weft_task_t* t = current();
  if (t == NULL)
    return WEFT_ENOTTASK;
  int err = reserve(t, key->index);
  if (err != 0)
    return err;
  weft__local_slot_t* s = &t->locals->slot[key->index];
  void* old = s->gen == key->gen ? s->value : NULL;
  s->value = value;
  s->gen = key->gen;
  if (old != NULL && old != value) {
    weft_local_dtor d = dtor_of(key->index, key->gen);
    if (d != NULL)
      d(old);
  }
  return 0;
}

int weft__locals_inherit(weft_task_t* child, weft_task_t* parent) {
  struct weft__locals_s* from = parent->locals;
  int err = 0;
  pthread_mutex_lock(&keys_lock);
  for (uint32_t i = 0; i < from->n && i < nkeys && err == 0; i++) {
    const weft__local_slot_t* s = &from->slot[i];
    if (s->value == NULL || !keys[i].used || keys[i].gen != s->gen ||
        keys[i].copy == NULL)
      continue;
    void* v = keys[i].copy(s->value);
    if (v == NULL || (err = reserve(child, i)) != 0) {
      err = WEFT_ENOMEM;
      if (v != NULL && keys[i].dtor != NULL)
        keys[i].dtor(v);
      break;
    }
    child->locals->slot[i] = (weft__local_slot_t){v, s->gen};
  }
  pthread_mutex_unlock(&keys_lock);
  if (err != 0)
    weft__locals_finish(child);
  return err;
}

void weft__locals_finish(weft_task_t* t) {
  struct weft__locals_s* l = t->locals;
  t->locals = NULL;
  for (uint32_t i = 0; l != NULL && i < l->n; i++) {
    if (l->slot[i].value == NULL)
      continue;
    weft_local_dtor d = dtor_of(i, l->slot[i].gen);
    if (d != NULL)
      d(l->slot[i].value);
  }
  free(l);
}
