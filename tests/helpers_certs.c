/* Test certificates: a CA, server and client certificates made by
 * tests/tls/make-certs.sh with the `openssl` command into a temporary
 * directory, once per test program (a cmocka group setup), removed at the
 * end. Nothing leaves the machine. */
#include <stdio.h>
#include <stdlib.h>

#include "helpers.h"

static char certdir[64];

int weft_test_certs_make(void** state) {
  (void)state;
  snprintf(certdir, sizeof(certdir), "/tmp/weft-certs-XXXXXX");
  if (mkdtemp(certdir) == NULL)
    return -1;
  const char* src = getenv("WEFT_TEST_SOURCE_DIR");
  char cmd[512];
  snprintf(cmd, sizeof(cmd), "sh '%s/tests/tls/make-certs.sh' '%s'",
           src != NULL ? src : ".", certdir);
  return system(cmd) == 0 ? 0 : -1;
}

int weft_test_certs_remove(void** state) {
  (void)state;
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", certdir);
  return system(cmd) == 0 ? 0 : -1;
}

const char* weft_test_certs_dir(void) {
  return certdir;
}

const char* weft_test_cert(const char* name) {
  /* Per thread, and a few at once: a call may take two paths. */
  static _Thread_local char path[8][128];
  static _Thread_local int next;
  char* p = path[next++ % 8];
  snprintf(p, sizeof(path[0]), "%s/%s", certdir, name);
  return p;
}
