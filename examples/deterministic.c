/* Deterministic mode: finding an ordering bug by trying seeds, then
 * replaying the seed that shows it.
 *
 * Two tasks withdraw 80 from an account holding 100. Each checks the
 * balance, awaits (here a yield; in real code a database call), then
 * subtracts: whether the second check comes before the first subtraction
 * depends on the order the tasks run in. With threads, or with weft's
 * normal scheduler, that order changes from run to run; in deterministic
 * mode it is a function of the seed, so a seed that overdraws the account
 * overdraws it every time (a program whose config has WEFT_CONFIG_ENV
 * also takes the seed from the shell: WEFT_SEED=N ./program).
 * The fix, a lock around check and act, then passes every seed.
 *
 * Build and run: ./deterministic
 */
#include <stdint.h>
#include <stdio.h>

#include "weft.h"

static int balance;
static weft_lock_t* account_lock; /* NULL: the buggy version */

static int withdraw(void* arg, void** result) {
  int amount = (int)(intptr_t)arg;
  (void)result;
  if (account_lock != NULL)
    weft_lock_acquire(account_lock);
  if (balance >= amount) { /* check... */
    weft_yield();          /* ...an await in between... */
    balance -= amount;     /* ...act */
  }
  if (account_lock != NULL)
    weft_lock_release(account_lock);
  return 0;
}

static int two_withdrawals(void* arg, void** result) {
  weft_task_t *a, *b;
  (void)arg;
  (void)result;
  balance = 100;
  weft_spawn(NULL, withdraw, (void*)80, NULL, &a);
  weft_spawn(NULL, withdraw, (void*)80, NULL, &b);
  weft_await(a, NULL);
  weft_await(b, NULL);
  weft_task_release(a);
  weft_task_release(b);
  return 0;
}

/* Runs the program once with `seed`; returns the final balance. */
static int run_with_seed(uint64_t seed) {
  weft_config_t cfg = {.deterministic = 1, .seed = seed};
  if (weft_run(two_withdrawals, NULL, &cfg, NULL) != 0)
    return -1000;
  return balance;
}

int main(void) {
  uint64_t bad_seed = 0;
  printf("without a lock:\n");
  for (uint64_t seed = 1; seed <= 8; seed++) {
    int b = run_with_seed(seed);
    printf("  seed %llu: balance %d%s\n", (unsigned long long)seed, b,
           b < 0 ? "  <- overdrawn" : "");
    if (b < 0 && bad_seed == 0)
      bad_seed = seed;
  }
  if (bad_seed != 0) {
    printf("replaying seed %llu three times:", (unsigned long long)bad_seed);
    for (int i = 0; i < 3; i++)
      printf(" %d", run_with_seed(bad_seed));
    printf("\n");
  }
  weft_lock_new(&account_lock);
  int overdrawn = 0;
  for (uint64_t seed = 1; seed <= 100; seed++)
    overdrawn += run_with_seed(seed) < 0;
  printf("with a lock: %d of 100 seeds overdraw\n", overdrawn);
  weft_lock_free(account_lock);
  return overdrawn == 0 ? 0 : 1;
}
