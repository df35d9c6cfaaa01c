/* Cancellation tokens (tokio's CancellationToken, .NET's
 * CancellationTokenSource): a flag that is set once, in a tree (cancelling
 * a token cancels its descendants), awaitable (weft_token_wait), usable in
 * weft_select, and able to cancel the tasks tied to it.
 *
 * DESIGN
 * Each token has its own mutex; no code path holds two tokens' mutexes at
 * once, so there is no lock order to get wrong.
 *
 *  - The flag: `cancelled`, set once under the mutex (and mirrored in an
 *    atomic for lock-free queries). Its future `done` is completed once the
 *    flag is set: waiters (weft_token_wait, weft_select) wait on the
 *    future, so they inherit its cancellation rules (a cancelled waiter
 *    withdraws only its own wait).
 *  - The tree: a child holds a reference to its parent; a parent lists its
 *    children without holding them (a token the user released must be able
 *    to go). A child created under a cancelled parent starts cancelled; one
 *    created under a live parent is listed, both decided under the
 *    parent's mutex, so no cancellation passes a child by. Cancelling
 *    takes the list under the mutex, with a reference to each child that
 *    is still alive (a child whose count already reached 0 is unlisting
 *    itself and is skipped), and cancels them after unlocking, depth first
 *    through an explicit stack (no recursion: trees may be deep).
 *  - Ties: weft_token_tie(tok, task) lists a tie on the token and a
 *    callback on the task's completion future. Whichever comes first takes
 *    the tie off the list under the token's mutex: the token's
 *    cancellation (which then cancels the task), or the task's end (so a
 *    long-lived token does not collect finished tasks). A tie has two
 *    references, one per side.
 *  - Hooks: callbacks (weft_token_on_cancel) on a list under the mutex. The
 *    cancellation takes the list and runs them after unlocking; removal
 *    either unlists a hook (it will never run) or finds it taken and
 *    waits until its callback has returned, so the caller may free what
 *    the callback uses as soon as removal returns.
 *
 * No wake-up is lost: a waiter that starts after the flag was set finds
 * the future done; one that started before is on the future's list when
 * the canceller completes it.
 */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include "base/alloc.h"
#include "base/common.h"
#include "sync/sync.h"

typedef struct tie_s {
  struct tie_s* prev;
  struct tie_s* next;
  weft_task_t* task;   /* one reference */
  weft_token_t* token; /* one reference */
  int linked;          /* on the token's list; under its mutex */
  /* The token side's and the task side's; acq_rel decrements. */
  _Atomic uint32_t refs;
} tie_t;

struct weft_token_s {
  /* The handles' count: relaxed increments from a holder, a CAS from 0-
   * free counts for the cancel walk (retain_live), acq_rel decrements. */
  _Atomic uint32_t refs;
  pthread_mutex_t mu;
  weft_token_t* parent;   /* one reference; read-only */
  weft_token_t* child;    /* first child (not held); under mu */
  weft_token_t* sib_prev; /* siblings: under the parent's mu */
  weft_token_t* sib_next;
  weft_token_t* walk;   /* the cancel walk's stack link; the walker's */
  int cancelled_locked; /* under mu */
  /* 1 once cancelled: release store under mu, acquire loads anywhere. */
  _Atomic int cancelled;
  tie_t* ties;              /* under mu */
  weft_token_hook_t* hooks; /* under mu */
  weft_future_t* done;      /* completed once cancelled; read-only pointer */
};

/* ---- References --------------------------------------------------------- */

weft_token_t* weft_token_retain(weft_token_t* tok) {
  if (tok != NULL)
    /* relaxed: the caller holds a reference; taking one publishes
     * nothing. */
    atomic_fetch_add_explicit(&tok->refs, 1, memory_order_relaxed);
  return tok;
}

/* A reference to a token whose count may already have reached 0 (a child
 * seen on its parent's list, under the parent's mutex): 1 if taken. */
static int retain_live(weft_token_t* tok) {
  /* relaxed: the parent's mutex keeps the memory alive (the last release
   * unlists the child under it before freeing); the CAS only decides. */
  uint32_t n = atomic_load_explicit(&tok->refs, memory_order_relaxed);
  while (n != 0) {
    /* relaxed: as above. */
    if (atomic_compare_exchange_weak_explicit(&tok->refs, &n, n + 1,
                                              memory_order_relaxed,
                                              memory_order_relaxed))
      return 1;
  }
  return 0;
}

static void unlist_child(weft_token_t* tok) {
  weft_token_t* p = tok->parent;
  pthread_mutex_lock(&p->mu);
  if (tok->sib_prev != NULL)
    tok->sib_prev->sib_next = tok->sib_next;
  else if (p->child == tok)
    p->child = tok->sib_next;
  if (tok->sib_next != NULL)
    tok->sib_next->sib_prev = tok->sib_prev;
  pthread_mutex_unlock(&p->mu);
}

void weft_token_release(weft_token_t* tok) {
  if (tok == NULL)
    return;
  /* acq_rel: the last holder sees every other holder's writes before
   * freeing, and publishes its own. */
  if (atomic_fetch_sub_explicit(&tok->refs, 1, memory_order_acq_rel) != 1)
    return;
  if (tok->parent != NULL) {
    unlist_child(tok);
    weft_token_release(tok->parent);
  }
  /* Our children keep no pointer to us but their parent link, which holds
   * a reference: with none left, no child remains. Ties hold one too. */
  weft_future_release(tok->done);
  pthread_mutex_destroy(&tok->mu);
  free(tok);
}

/* ---- Creation ----------------------------------------------------------- */

static void set_flag(weft_token_t* tok) {
  tok->cancelled_locked = 1;
  /* release: with the future's completion, what a canceller wrote before
   * cancelling is seen by whoever sees the flag. */
  atomic_store_explicit(&tok->cancelled, 1, memory_order_release);
}

int weft_token_new(weft_token_t* parent, weft_token_t** out) {
  if (out == NULL)
    return WEFT_EINVAL;
  weft_token_t* tok = weft__calloc(1, sizeof(*tok));
  if (tok == NULL)
    return WEFT_ENOMEM;
  if (weft_future_new(&tok->done) != 0) {
    free(tok);
    return WEFT_ENOMEM;
  }
  if (pthread_mutex_init(&tok->mu, NULL) != 0) {
    weft_future_release(tok->done);
    free(tok);
    return WEFT_ENOMEM;
  }
  atomic_init(&tok->refs, 1);
  atomic_init(&tok->cancelled, 0);
  if (parent != NULL) {
    tok->parent = weft_token_retain(parent);
    pthread_mutex_lock(&parent->mu);
    if (parent->cancelled_locked) {
      set_flag(tok);
    } else {
      tok->sib_next = parent->child;
      if (parent->child != NULL)
        parent->child->sib_prev = tok;
      parent->child = tok;
    }
    int born_cancelled = tok->cancelled_locked; /* ours alone until *out */
    pthread_mutex_unlock(&parent->mu);
    if (born_cancelled)
      weft_future_set_result(tok->done, NULL);
  }
  *out = tok;
  return 0;
}

/* ---- Ties --------------------------------------------------------------- */

static void tie_put(tie_t* tie) {
  /* acq_rel: the last side sees the other's writes before freeing. */
  if (atomic_fetch_sub_explicit(&tie->refs, 1, memory_order_acq_rel) != 1)
    return;
  weft_task_release(tie->task);
  weft_token_release(tie->token);
  free(tie);
}

static void tie_unlink(weft_token_t* tok, tie_t* tie) {
  if (tie->prev != NULL)
    tie->prev->next = tie->next;
  else
    tok->ties = tie->next;
  if (tie->next != NULL)
    tie->next->prev = tie->prev;
  tie->prev = tie->next = NULL;
  tie->linked = 0;
}

/* The tied task ended: off the token's list, unless its cancellation took
 * the tie first. Runs on the thread that finished the task. */
static void on_task_done(weft_future_t* f, void* arg) {
  tie_t* tie = arg;
  (void)f;
  pthread_mutex_lock(&tie->token->mu);
  int mine = tie->linked;
  if (mine)
    tie_unlink(tie->token, tie);
  pthread_mutex_unlock(&tie->token->mu);
  if (mine)
    tie_put(tie); /* the token side's, which its cancellation won't drop */
  tie_put(tie);
}

int weft_token_tie(weft_token_t* tok, weft_task_t* task) {
  weft_future_t* ended;
  if (tok == NULL || task == NULL)
    return WEFT_EINVAL;
  if (weft_token_cancelled(tok)) {
    weft_cancel(task); /* WEFT_EBUSY if it finished: nothing to cancel */
    return 0;
  }
  tie_t* tie = weft__calloc(1, sizeof(*tie));
  if (tie == NULL)
    return WEFT_ENOMEM;
  int err = weft_task_future(task, &ended);
  if (err != 0) {
    free(tie);
    return err;
  }
  tie->task = weft_task_retain(task);
  tie->token = weft_token_retain(tok);
  atomic_init(&tie->refs, 2);
  pthread_mutex_lock(&tok->mu);
  int cancelled = tok->cancelled_locked;
  if (!cancelled) {
    tie->next = tok->ties;
    if (tok->ties != NULL)
      tok->ties->prev = tie;
    tok->ties = tie;
    tie->linked = 1;
  }
  pthread_mutex_unlock(&tok->mu);
  if (cancelled) {
    weft_cancel(task);
    tie_put(tie); /* the token side's: never listed */
  }
  /* The task side's reference goes with the callback. */
  err = weft_future_add_callback(ended, on_task_done, tie);
  weft_future_release(ended);
  if (err != 0) {
    /* Never registered: undo as the task's end would, for its side. */
    on_task_done(NULL, tie);
    return err;
  }
  return 0;
}

/* ---- Hooks: callbacks run at the cancellation --------------------------- */

struct weft_token_hook_s {
  weft_token_hook_t* prev;
  weft_token_hook_t* next;
  weft_token_t* token; /* one reference */
  weft_token_cb cb;
  void* arg;
  int linked; /* on the token's list; under its mutex */
  /* 1 once cb has returned: release store by the runner, acquire loads by
   * the remover, which must not free what cb uses before. */
  _Atomic int ran;
  /* The owner's and the list's (which the cancellation takes over);
   * acq_rel decrements. */
  _Atomic uint32_t refs;
};

/* The hook whose callback this thread is running (a callback that removes
 * its own hook must not wait for itself). */
static _Thread_local weft_token_hook_t* running_hook;

static void hook_put(weft_token_hook_t* h) {
  /* acq_rel: the last holder sees the other's writes before freeing. */
  if (atomic_fetch_sub_explicit(&h->refs, 1, memory_order_acq_rel) != 1)
    return;
  weft_token_release(h->token);
  free(h);
}

static void hook_run(weft_token_hook_t* h) {
  weft_token_hook_t* outer = running_hook;
  running_hook = h;
  h->cb(h->token, h->arg);
  running_hook = outer;
  /* release: pairs with the acquire load in weft_token_hook_remove. */
  atomic_store_explicit(&h->ran, 1, memory_order_release);
}

static void hook_unlink(weft_token_t* tok, weft_token_hook_t* h) {
  if (h->prev != NULL)
    h->prev->next = h->next;
  else
    tok->hooks = h->next;
  if (h->next != NULL)
    h->next->prev = h->prev;
  h->prev = h->next = NULL;
  h->linked = 0;
}

int weft_token_on_cancel(weft_token_t* tok, weft_token_cb cb, void* arg,
                         weft_token_hook_t** out) {
  if (tok == NULL || cb == NULL || out == NULL)
    return WEFT_EINVAL;
  weft_token_hook_t* h = weft__calloc(1, sizeof(*h));
  if (h == NULL)
    return WEFT_ENOMEM;
  h->token = weft_token_retain(tok);
  h->cb = cb;
  h->arg = arg;
  atomic_init(&h->ran, 0);
  atomic_init(&h->refs, 2);
  pthread_mutex_lock(&tok->mu);
  int cancelled = tok->cancelled_locked;
  if (!cancelled) {
    h->next = tok->hooks;
    if (tok->hooks != NULL)
      tok->hooks->prev = h;
    tok->hooks = h;
    h->linked = 1;
  }
  pthread_mutex_unlock(&tok->mu);
  *out = h;
  if (cancelled) {
    hook_run(h); /* already cancelled: now, on this thread */
    hook_put(h); /* the list's, never used */
  }
  return 0;
}

int weft_token_hook_remove(weft_token_hook_t* h) {
  if (h == NULL)
    return 0;
  weft_token_t* tok = h->token;
  pthread_mutex_lock(&tok->mu);
  int listed = h->linked;
  if (listed)
    hook_unlink(tok, h);
  pthread_mutex_unlock(&tok->mu);
  int ran = 1;
  if (listed) {
    ran = 0;
    hook_put(h); /* the list's: the callback will never run */
  } else if (running_hook != h) {
    /* Taken by a cancellation: wait until its callback has returned (a
     * callback is short and never awaits). */
    /* acquire: pairs with the release store in hook_run. */
    while (!atomic_load_explicit(&h->ran, memory_order_acquire))
      sched_yield();
  }
  hook_put(h); /* the owner's */
  return ran;
}

/* ---- Cancelling --------------------------------------------------------- */

/* Sets the flag of one token; pushes its live children onto *stack (each
 * with a reference) and returns its ties, or NULL. Already cancelled: 0. */
static int cancel_one(weft_token_t* tok, weft_token_t** stack, tie_t** ties,
                      weft_token_hook_t** hooks) {
  pthread_mutex_lock(&tok->mu);
  if (tok->cancelled_locked) {
    pthread_mutex_unlock(&tok->mu);
    return 0;
  }
  set_flag(tok);
  for (weft_token_t* c = tok->child; c != NULL; c = c->sib_next) {
    if (retain_live(c)) {
      c->walk = *stack;
      *stack = c;
    }
  }
  *ties = tok->ties;
  for (tie_t* t = tok->ties; t != NULL; t = t->next)
    t->linked = 0;
  tok->ties = NULL;
  *hooks = tok->hooks;
  for (weft_token_hook_t* h = tok->hooks; h != NULL; h = h->next)
    h->linked = 0;
  tok->hooks = NULL;
  pthread_mutex_unlock(&tok->mu);
  return 1;
}

/* Everything outside the mutex: waiters, hooks (in the order they were
 * added), then tied tasks. */
static void announce(weft_token_t* tok, tie_t* ties, weft_token_hook_t* hooks) {
  weft_future_set_result(tok->done, NULL);
  weft_token_hook_t* last = hooks;
  while (last != NULL && last->next != NULL)
    last = last->next;
  while (last != NULL) { /* the list is newest first */
    weft_token_hook_t* prev = last->prev;
    hook_run(last);
    hook_put(last); /* the list's */
    last = prev;
  }
  while (ties != NULL) {
    tie_t* next = ties->next;
    weft_cancel(ties->task); /* WEFT_EBUSY if it just ended: fine */
    tie_put(ties);
    ties = next;
  }
}

int weft_token_cancel(weft_token_t* tok) {
  if (tok == NULL)
    return WEFT_EINVAL;
  weft_token_t* stack = NULL;
  tie_t* ties = NULL;
  weft_token_hook_t* hooks = NULL;
  if (cancel_one(tok, &stack, &ties, &hooks))
    announce(tok, ties, hooks);
  while (stack != NULL) {
    weft_token_t* c = stack;
    stack = c->walk;
    ties = NULL;
    hooks = NULL;
    if (cancel_one(c, &stack, &ties, &hooks))
      announce(c, ties, hooks);
    weft_token_release(c);
  }
  return 0;
}

/* An ancestor's flag counts too: a cancel that returns has set the flags
 * of the token it was given, but another canceller's walk may still be on
 * its way down to the descendants. Parent links are read-only and held. */
int weft_token_cancelled(const weft_token_t* tok) {
  for (; tok != NULL; tok = tok->parent)
    /* acquire: pairs with the release store in set_flag. */
    if (atomic_load_explicit(&tok->cancelled, memory_order_acquire))
      return 1;
  return 0;
}

int weft_token_wait(weft_token_t* tok) {
  if (tok == NULL)
    return WEFT_EINVAL;
  return weft_future_await(tok->done, NULL);
}

weft_future_t* weft__token_future(weft_token_t* tok) {
  return tok->done;
}
