/* Uses an installed weft through its public header only. */
#include <stdio.h>
#include <string.h>

#include <weft.h>

int main(void) {
  const char* version = weft_version();
  const char* message = weft_strerror(WEFT_EINVAL);

  if (version == NULL || strcmp(version, "0.1.0") != 0) {
    fprintf(stderr, "unexpected weft_version(): %s\n",
            version ? version : "(null)");
    return 1;
  }
  if (message == NULL || message[0] == '\0') {
    fprintf(stderr, "weft_strerror(WEFT_EINVAL) is empty\n");
    return 1;
  }
  printf("weft %s: %s\n", version, message);
  return 0;
}
