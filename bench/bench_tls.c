/* weft-bench tls-echo-server: echo-server over TLS.
 *
 *   weft-bench tls-echo-server [--port P] [--reuseport] [--tls13-only]
 *                              [--threads N]
 *
 * The echo server of bench_net.c with a TLS server context in the server's
 * configuration: every connection's task runs the full handshake, then the
 * same read, write, drain loop over the TLS stream. The certificate and
 * key are the PEM files named by the environment variables WEFT_BENCH_CERT
 * and WEFT_BENCH_KEY; without them a throwaway self-signed EC P-256
 * certificate for "localhost" is made with the openssl command in a
 * temporary directory, named on stderr ("certificate <path>") so a client
 * (openssl s_time, s_client -CAfile) can trust it, and removed at the end.
 * To compare with OpenSSL's own server, give `openssl s_server` the same
 * files. Serves until SIGINT or SIGTERM, then prints the JSON line: "ops"
 * the connections accepted, "result" the bytes echoed, "port",
 * "handshakes" the connections whose handler ran (handshake done),
 * "errors" the connections that failed otherwise than by a reset, a peer
 * gone without close_notify (load generators rarely send one) or the
 * shutdown (the run fails if there are any), and "cpu_s".
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define TLS_ECHO_BUF (64u * 1024u)

static atomic_uint_fast64_t tls_bytes;
static atomic_uint_fast64_t tls_errors;
static atomic_uint_fast64_t tls_handshakes;

static char tmpdir[64];
static char cert_path[256], key_path[256];

static int tls_benign(ptrdiff_t err) {
  return bench_net_benign(err) || err == WEFT_ETRUNCATED;
}

static int tls_echo_conn(weft_stream_t* conn, void* arg) {
  char buf[TLS_ECHO_BUF];
  uint64_t bytes = 0;
  ptrdiff_t n;

  (void)arg;
  /* relaxed: a sum read after the runtime has joined every worker. */
  atomic_fetch_add_explicit(&tls_handshakes, 1, memory_order_relaxed);
  weft_stream_nodelay(conn, 1);
  for (;;) {
    n = weft_stream_read(conn, buf, sizeof(buf));
    if (n <= 0)
      break;
    bytes += (uint64_t)n;
    if ((n = weft_stream_write(conn, buf, (size_t)n)) != 0 ||
        (n = weft_stream_drain(conn)) != 0)
      break;
  }
  /* relaxed: as above. */
  atomic_fetch_add_explicit(&tls_bytes, bytes, memory_order_relaxed);
  if (!tls_benign(n)) {
    char why[160];
    weft_tls_error(conn, why, sizeof(why));
    /* relaxed: as above. */
    atomic_fetch_add_explicit(&tls_errors, 1, memory_order_relaxed);
    fprintf(stderr, "weft-bench: tls echo connection: %s (%s)\n",
            weft_strerror((int)n), why);
  }
  return 0;
}

/* A self-signed certificate from `openssl req`, as a subprocess. */
static int make_certificate(void) {
  snprintf(tmpdir, sizeof(tmpdir), "/tmp/weft-bench-tls-XXXXXX");
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
                  "subjectAltName=DNS:localhost,IP:127.0.0.1",
                  NULL};
  weft_process_opts_t opts = {.stdout_mode = WEFT_STDIO_NULL,
                              .stderr_mode = WEFT_STDIO_NULL};
  weft_process_t* proc;
  int status = -1;
  int err = weft_process_exec(argv, &opts, &proc);
  if (err != 0)
    return err;
  err = weft_process_wait(proc, &status);
  weft_process_free(proc);
  if (err == 0 && status != 0)
    err = WEFT_EINVAL;
  if (err == 0)
    fprintf(stderr, "weft-bench: tls-echo-server certificate %s\n", cert_path);
  return err;
}

static void remove_certificate(void) {
  if (tmpdir[0] == '\0')
    return;
  unlink(cert_path);
  unlink(key_path);
  rmdir(tmpdir);
  tmpdir[0] = '\0';
}

static int run_tls_echo(const uint64_t* p, bench_result_t* out) {
  const char* cert = getenv("WEFT_BENCH_CERT");
  const char* key = getenv("WEFT_BENCH_KEY");
  int err = 0;
  if (cert != NULL && key != NULL) {
    snprintf(cert_path, sizeof(cert_path), "%s", cert);
    snprintf(key_path, sizeof(key_path), "%s", key);
  } else if ((err = make_certificate()) != 0) {
    remove_certificate();
    return bench_error("tls-echo-server: making a certificate", err);
  }
  weft_tls_opts_t opts = {.cert_file = cert_path,
                          .key_file = key_path,
                          .min_version = p[2] ? WEFT_TLS_1_3 : 0};
  weft_tls_t* tls;
  if ((err = weft_tls_new(WEFT_TLS_SERVER, &opts, &tls)) != 0) {
    remove_certificate();
    return bench_error("tls-echo-server", err);
  }
  int rc = bench_serve_tls("tls-echo-server", (unsigned)p[0], p[1] != 0, tls,
                           tls_echo_conn, NULL, out);
  weft_tls_free(tls); /* the connections still open keep it */
  remove_certificate();
  return rc;
}

static int finish_tls_echo(const uint64_t* p, bench_result_t* out) {
  /* relaxed: every handler has returned; the runtime's joins ordered it. */
  uint64_t errors = atomic_load_explicit(&tls_errors, memory_order_relaxed);
  /* relaxed: as above. */
  uint64_t hs = atomic_load_explicit(&tls_handshakes, memory_order_relaxed);

  (void)p;
  /* relaxed: as above. */
  out->result = atomic_load_explicit(&tls_bytes, memory_order_relaxed);
  size_t used = strlen(out->extra);
  snprintf(out->extra + used, sizeof(out->extra) - used,
           ",\"handshakes\":%llu,\"errors\":%llu,\"cpu_s\":%.6f",
           (unsigned long long)hs, (unsigned long long)errors, bench_cpu_s());
  if (errors != 0)
    return bench_wrong("tls-echo-server", "%llu connections failed",
                       (unsigned long long)errors);
  return 0;
}

const bench_t bench_tls_echo_server = {
    .name = "tls-echo-server",
    .help = "TLS echo on 127.0.0.1:port (default any) until SIGINT/SIGTERM; "
            "cert from WEFT_BENCH_CERT/KEY or made; ops = connections, "
            "result = bytes",
    .run = run_tls_echo,
    .params = {{"port", 0, 65535},
               {"reuseport", 0, 1, 1},
               {"tls13-only", 0, 1, 1}},
    .finish = finish_tls_echo,
};
