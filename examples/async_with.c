/* The guide's async context manager, with a lock as the resource:
 *
 *   async with AsyncDatabaseConnection() as db:
 *       result = await db.query("SELECT * FROM users")
 *
 * In C the scope is a function that acquires, runs the body, and releases
 * on every path out of it: normal return, error, cancellation
 * (WEFT_ECANCELED) and a timeout scope that expires inside the body. */
#include <stdio.h>
#include <weft.h>

typedef int (*body_fn)(weft_lock_t* db, const char* who);

/* async with db: ... . Returns the body's status. */
static int with_connection(weft_lock_t* db, const char* who, body_fn body) {
  int err = weft_lock_acquire(db); /* __aenter__ */
  if (err != 0)
    return err;
  printf("%s: connection opened\n", who);
  err = body(db, who);
  /* __aexit__: runs whatever the body returned, WEFT_ECANCELED included. */
  printf("%s: connection closed (%s)\n", who,
         err == 0 ? "ok" : weft_err_name(err));
  weft_lock_release(db);
  return err;
}

static int query(weft_lock_t* db, const char* who) {
  (void)db;
  int err = weft_sleep_ms(10);
  if (err == 0)
    printf("%s: Results for: SELECT * FROM users\n", who);
  return err;
}

static int slow_query(weft_lock_t* db, const char* who) {
  (void)db;
  (void)who;
  return weft_sleep_ms(3600 * 1000); /* until cancelled */
}

static int cancelled_client(void* arg, void** result) {
  (void)result;
  return with_connection(arg, "client", slow_query);
}

static int main_task(void* arg, void** result) {
  weft_lock_t* db;
  weft_task_t* client;
  weft_timeout_t* tm;
  (void)arg;
  (void)result;
  int err = weft_lock_new(&db);
  if (err != 0)
    return err;
  /* 1. The plain case. */
  with_connection(db, "main", query);
  /* 2. A task cancelled inside the scope still releases. */
  if ((err = weft_spawn(NULL, cancelled_client, db, NULL, &client)) == 0) {
    while (!weft_lock_locked(db) && weft_yield() == 0) {
    }
    weft_cancel(client);
    err = weft_await(client, NULL);
    weft_task_release(client);
    printf("client task: %s, lock held: %d\n", weft_err_name(err),
           weft_lock_locked(db));
  }
  /* 3. A timeout scope that expires inside the body. */
  if (weft_timeout_enter(20, &tm) == 0) {
    with_connection(db, "timed", slow_query);
    err = weft_timeout_exit(tm);
    printf("timed: %s, lock held: %d\n", weft_err_name(err),
           weft_lock_locked(db));
  }
  return weft_lock_free(db);
}

int main(void) {
  weft_config_t cfg = {.workers = 1};
  int err = weft_run(main_task, NULL, &cfg, NULL);
  if (err != 0)
    fprintf(stderr, "async_with: %s\n", weft_strerror(err));
  return err != 0;
}
