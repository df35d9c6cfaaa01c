/* A TLS echo server and a client for it, in one program.
 *
 *   tls_echo                 makes a throwaway self-signed certificate for
 *                            "localhost" with the openssl command, in a
 *                            temporary directory, and uses that
 *   tls_echo CERT KEY        uses your PEM certificate and key (the client
 *                            then trusts CERT as its CA)
 *
 * The server is weft_tcp_serve with a TLS context in its configuration:
 * each connection's handler gets a stream whose handshake is done, and
 * reads and writes it like any stream. The client is weft_tls_connect,
 * which checks the certificate and the name "localhost". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weft.h"

static char tmpdir[64];
static char cert_path[128], key_path[128];

/* The certificate, made by `openssl req` as a subprocess. */
static int make_certificate(void) {
  snprintf(tmpdir, sizeof(tmpdir), "/tmp/weft-tls-echo-XXXXXX");
  if (mkdtemp(tmpdir) == NULL)
    return WEFT_EINVAL;
  snprintf(cert_path, sizeof(cert_path), "%s/cert.pem", tmpdir);
  snprintf(key_path, sizeof(key_path), "%s/key.pem", tmpdir);
  char* argv[] = {"openssl",
                  "req",
                  "-x509",
                  "-newkey",
                  "ec",
                  "-pkeyopt",
                  "ec_paramgen_curve:P-256",
                  "-nodes",
                  "-keyout",
                  key_path,
                  "-out",
                  cert_path,
                  "-days",
                  "1",
                  "-subj",
                  "/CN=localhost",
                  "-addext",
                  "subjectAltName=DNS:localhost",
                  NULL};
  weft_process_opts_t opts = {.stdout_mode = WEFT_STDIO_NULL,
                              .stderr_mode = WEFT_STDIO_NULL};
  weft_process_t* p;
  int status = -1;
  int err = weft_process_exec(argv, &opts, &p);
  if (err != 0)
    return err;
  err = weft_process_wait(p, &status);
  weft_process_free(p);
  return err != 0 ? err : status == 0 ? 0 : WEFT_EINVAL;
}

static int echo(weft_stream_t* conn, void* arg) {
  (void)arg;
  char line[256];
  ptrdiff_t n;
  while ((n = weft_stream_readline(conn, line, sizeof(line))) > 0) {
    weft_stream_write(conn, line, (size_t)n);
    if (weft_stream_drain(conn) != 0)
      break;
  }
  return 0; /* the server closes conn: close_notify, then the socket */
}

static int client(unsigned port) {
  weft_tls_opts_t opts = {.ca_file = cert_path, .alpn = "echo/1"};
  weft_tls_t* tls;
  weft_stream_t* s;
  int err = weft_tls_new(WEFT_TLS_CLIENT, &opts, &tls);
  if (err != 0)
    return err;
  err = weft_tls_connect("localhost", port, tls, &s);
  weft_tls_free(tls); /* the stream keeps what it needs */
  if (err != 0)
    return err;
  char version[16], proto[16];
  weft_tls_version(s, version, sizeof(version));
  weft_tls_alpn(s, proto, sizeof(proto));
  printf("client: connected, %s, ALPN %s\n", version, proto);
  const char* lines[] = {"hello over TLS\n", "a second line\n"};
  for (int i = 0; i < 2 && err >= 0; i++) {
    char got[64];
    weft_stream_write(s, lines[i], strlen(lines[i]));
    err = (int)weft_stream_readline(s, got, sizeof(got) - 1);
    if (err > 0) {
      got[err] = '\0';
      printf("client: sent and got back: %s", got);
    }
  }
  weft_stream_shutdown(s); /* our close_notify: the server sees the end */
  char rest[16];
  ptrdiff_t n = weft_stream_read(s, rest, sizeof(rest));
  printf("client: the server closed cleanly: %s\n", n == 0 ? "yes" : "no");
  weft_stream_close(s);
  return err < 0 ? err : 0;
}

static int serve(void* arg, void** result) {
  (void)arg;
  (void)result;
  weft_tls_opts_t opts = {.cert_file = cert_path,
                          .key_file = key_path,
                          .alpn = "echo/1"};
  weft_server_config_t cfg = {0};
  weft_server_t* srv;
  int err = weft_tls_new(WEFT_TLS_SERVER, &opts, &cfg.tls);
  if (err != 0)
    return err;
  err = weft_tcp_serve("127.0.0.1", 0, echo, NULL, &cfg, &srv);
  weft_tls_free(cfg.tls); /* the server holds its own reference */
  if (err != 0)
    return err;
  printf("server: listening with TLS\n");
  err = client(weft_server_port(srv));
  weft_server_close(srv);
  return err;
}

static int run(void* arg, void** result) {
  int err = tmpdir[0] != '\0' ? make_certificate() : 0;
  return err != 0 ? err : serve(arg, result);
}

int main(int argc, char** argv) {
  if (!weft_tls_available()) {
    fprintf(stderr, "tls_echo: weft was built without TLS\n");
    return 1;
  }
  if (argc == 3) {
    snprintf(cert_path, sizeof(cert_path), "%s", argv[1]);
    snprintf(key_path, sizeof(key_path), "%s", argv[2]);
  } else {
    tmpdir[0] = 'x'; /* make one */
  }
  int err = weft_run(run, NULL, NULL, NULL);
  if (tmpdir[0] == '/') {
    remove(cert_path);
    remove(key_path);
    remove(tmpdir);
  }
  if (err != 0) {
    fprintf(stderr, "tls_echo: %s\n", weft_strerror(err));
    return 1;
  }
  return 0;
}
