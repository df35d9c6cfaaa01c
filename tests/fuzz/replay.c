/* Replays fuzz inputs without libFuzzer: a plain main() that feeds every
 * file named on the command line (or found, sorted, in a directory named
 * there) to the target's LLVMFuzzerTestOneInput, once each, after
 * LLVMFuzzerInitialize if the target has one. Built with any compiler, in
 * every preset, so the sanitizers of asan and tsan check the corpus too
 * (ctest label `fuzz`). An input that breaks an invariant aborts, which
 * fails the test; so does finding no input at all.
 *
 * Each input is copied into a buffer of exactly its size, as libFuzzer
 * does, so that ASan sees a read past its end. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
int LLVMFuzzerInitialize(int* argc, char*** argv) __attribute__((weak));
/* Frees what LLVMFuzzerInitialize made (a target's own, for this driver:
 * libFuzzer never ends that way). */
void weft_fuzz_cleanup(void) __attribute__((weak));

static size_t replayed;

static int replay_file(const char* path) {
  FILE* f = fopen(path, "rb");
  if (f == NULL) {
    perror(path);
    return 1;
  }
  size_t cap = 4096, len = 0, n;
  uint8_t* buf = malloc(cap);
  while (buf != NULL && (n = fread(buf + len, 1, cap - len, f)) > 0) {
    len += n;
    if (len == cap) {
      uint8_t* bigger = realloc(buf, cap *= 2);
      if (bigger == NULL)
        free(buf);
      buf = bigger;
    }
  }
  int failed = buf == NULL || ferror(f);
  fclose(f);
  if (failed) {
    fprintf(stderr, "%s: cannot read\n", path);
    free(buf);
    return 1;
  }
  /* Exactly `len` bytes (malloc(0) may return NULL: keep one byte). */
  uint8_t* exact = malloc(len > 0 ? len : 1);
  if (exact == NULL) {
    free(buf);
    return 1;
  }
  memcpy(exact, buf, len);
  free(buf);
  printf("replay %s (%zu bytes)\n", path, len);
  fflush(stdout);
  LLVMFuzzerTestOneInput(exact, len);
  free(exact);
  replayed++;
  return 0;
}

static int not_hidden(const struct dirent* e) {
  return e->d_name[0] != '.';
}

static int replay_path(const char* path) {
  struct stat st;
  if (stat(path, &st) != 0) {
    perror(path);
    return 1;
  }
  if (!S_ISDIR(st.st_mode))
    return replay_file(path);
  struct dirent** names;
  int n = scandir(path, &names, not_hidden, alphasort);
  if (n < 0) {
    perror(path);
    return 1;
  }
  int failed = 0;
  for (int i = 0; i < n; i++) {
    char full[4096];
    snprintf(full, sizeof(full), "%s/%s", path, names[i]->d_name);
    failed |= replay_path(full);
    free(names[i]);
  }
  free(names);
  return failed;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s FILE_OR_DIR...\n", argv[0]);
    return 2;
  }
  if (LLVMFuzzerInitialize != NULL)
    LLVMFuzzerInitialize(&argc, &argv);
  int failed = 0;
  for (int i = 1; i < argc; i++)
    failed |= replay_path(argv[i]);
  if (weft_fuzz_cleanup != NULL)
    weft_fuzz_cleanup();
  if (replayed == 0) {
    fprintf(stderr, "no inputs found\n");
    return 1;
  }
  printf("%zu inputs replayed\n", replayed);
  return failed;
}
