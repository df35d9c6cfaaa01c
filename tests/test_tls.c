/* TLS streams: echo through a TLS server on several workers, STARTTLS
 * with bytes read ahead, ALPN, close_notify and truncation, and every
 * failure with its reason: bad certificates, host names, versions, a peer
 * that is not TLS, one that closes mid-handshake or mid-record, a
 * renegotiation, a cancelled or timed-out handshake; bad arguments.
 *
 * The certificates are made at start by tests/tls/make-certs.sh (the
 * openssl command) in a temporary directory. Peers that must misbehave at
 * the TLS level are plain threads running OpenSSL on blocking sockets. */
#include "helpers.h"

#if !WEFT_HAVE_TLS
/* Built without OpenSSL: every call says so. */
static void test_tls_not_supported(void** state) {
  (void)state;
  weft_tls_t* t = (weft_tls_t*)&t;
  assert_int_equal(weft_tls_available(), 0);
  WEFT_ASSERT_ERR(weft_tls_new(WEFT_TLS_CLIENT, NULL, &t), WEFT_ENOTSUP);
  assert_null(t);
  WEFT_ASSERT_ERR(weft_tls_connect("localhost", 443, t, NULL), WEFT_ENOTSUP);
  WEFT_ASSERT_ERR(weft_tls_start(NULL, NULL, NULL), WEFT_ENOTSUP);
  weft_tls_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tls_not_supported),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
#else
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

/* The test certificates (helpers_certs.c). */
static const char* cert(const char* name) {
  return weft_test_cert(name);
}

static weft_tls_t* server_ctx(const char* pem, const char* key, int max) {
  weft_tls_opts_t o = {.cert_file = cert(pem),
                       .key_file = cert(key),
                       .alpn = "h2,http/1.1",
                       .max_version = max};
  weft_tls_t* t = NULL;
  WEFT_EXPECT_OK(weft_tls_new(WEFT_TLS_SERVER, &o, &t));
  return t;
}

static weft_tls_t* client_ctx(int min, const char* alpn) {
  weft_tls_opts_t o = {.ca_file = cert("ca.pem"),
                       .alpn = alpn,
                       .min_version = min};
  weft_tls_t* t = NULL;
  WEFT_EXPECT_OK(weft_tls_new(WEFT_TLS_CLIENT, &o, &t));
  return t;
}

static void expect_msg(weft_stream_t* s, const char* part) {
  char msg[256];
  WEFT_EXPECT_OK(weft_tls_error(s, msg, sizeof(msg)));
  if (!WEFT_EXPECT(strstr(msg, part) != NULL))
    fprintf(stderr, "message '%s' lacks '%s'\n", msg, part);
}

/* ---- Echo through a TLS server ------------------------------------------ */

static int echo_lines(weft_stream_t* c, void* arg) {
  (void)arg;
  char line[256];
  ptrdiff_t n;
  char proto[16];
  WEFT_EXPECT_OK(weft_tls_alpn(c, proto, sizeof(proto)));
  WEFT_EXPECT(strcmp(proto, "h2") == 0);
  while ((n = weft_stream_readline(c, line, sizeof(line))) > 0)
    if (weft_stream_write(c, line, (size_t)n) != 0 || weft_stream_drain(c))
      break;
  WEFT_EXPECT_EQ(n, 0); /* the client's close_notify: a clean end */
  return 0;
}

static int echo_client(void* arg, void** result) {
  unsigned port = (unsigned)(uintptr_t)arg;
  (void)result;
  weft_tls_t* tls = client_ctx(0, "http/1.1,h2");
  weft_stream_t* s;
  if (!WEFT_EXPECT_OK(weft_tls_connect("localhost", port, tls, &s)))
    return -1;
  weft_tls_free(tls); /* the stream keeps the context */
  char want[64], got[64], v[16], proto[16];
  WEFT_EXPECT_OK(weft_tls_version(s, v, sizeof(v)));
  WEFT_EXPECT(strcmp(v, "TLSv1.3") == 0);
  WEFT_EXPECT_OK(weft_tls_alpn(s, proto, sizeof(proto)));
  WEFT_EXPECT(strcmp(proto, "h2") == 0); /* the server's preference */
  for (int i = 0; i < 20; i++) {
    int len = snprintf(want, sizeof(want), "line %d from %p\n", i, (void*)&s);
    WEFT_EXPECT_OK(weft_stream_write(s, want, (size_t)len));
    WEFT_EXPECT_EQ(weft_stream_readline(s, got, sizeof(got)), len);
    WEFT_EXPECT(memcmp(want, got, (size_t)len) == 0);
  }
  WEFT_EXPECT_OK(weft_stream_write(s, "a|b|", 4));
  WEFT_EXPECT_OK(weft_stream_write(s, "\n", 1));
  WEFT_EXPECT_EQ(weft_stream_readuntil(s, "|", 1, got, sizeof(got)), 2);
  WEFT_EXPECT_OK(weft_stream_readexactly(s, got, 3, NULL));
  WEFT_EXPECT(memcmp(got, "b|\n", 3) == 0);
  WEFT_EXPECT_OK(weft_stream_shutdown(s)); /* close_notify, then FIN */
  WEFT_EXPECT_ERR(weft_stream_write(s, "x", 1), WEFT_ECLOSED);
  WEFT_EXPECT_EQ(weft_stream_read(s, got, sizeof(got)), 0);
  WEFT_EXPECT_EQ(weft_stream_at_eof(s), 1);
  WEFT_EXPECT_OK(weft_stream_close(s));
  return 0;
}

static int echo_main(void* arg, void** result) {
  int clients = (int)(uintptr_t)arg;
  (void)result;
  weft_server_config_t sc = {.tls = server_ctx("server.pem", "server.key", 0)};
  weft_server_t* srv;
  if (!WEFT_EXPECT_OK(
          weft_tcp_serve("127.0.0.1", 0, echo_lines, NULL, &sc, &srv)))
    return -1;
  weft_tls_free(sc.tls); /* the server keeps it */
  weft_task_t* t[16];
  for (int i = 0; i < clients; i++)
    WEFT_EXPECT_OK(weft_spawn(NULL, echo_client,
                              (void*)(uintptr_t)weft_server_port(srv), NULL,
                              &t[i]));
  for (int i = 0; i < clients; i++) {
    WEFT_EXPECT_OK(weft_await(t[i], NULL));
    weft_task_release(t[i]);
  }
  WEFT_EXPECT_OK(weft_server_close(srv));
  return 0;
}

static void test_tls_echo_one_worker(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(1, echo_main, (void*)2, NULL));
}

static void test_tls_echo_four_workers(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(4, echo_main, (void*)16, NULL));
}

/* TLS over a Unix socket: the server's cfg.tls works there too. */
static int unix_tls_main(void* arg, void** result) {
  (void)arg;
  (void)result;
  char path[128];
  snprintf(path, sizeof(path), "%s/tls.sock", weft_test_certs_dir());
  weft_server_config_t sc = {.tls = server_ctx("server.pem", "server.key", 0)};
  weft_server_t* srv;
  WEFT_EXPECT_OK(weft_unix_serve(path, echo_lines, NULL, &sc, &srv));
  weft_tls_free(sc.tls);
  weft_tls_t* tls = client_ctx(0, "h2");
  weft_stream_t* s;
  WEFT_EXPECT_OK(weft_unix_connect(path, &s));
  WEFT_EXPECT_OK(weft_tls_start(s, tls, "localhost"));
  char line[16];
  WEFT_EXPECT_OK(weft_stream_write(s, "over unix\n", 10));
  WEFT_EXPECT_EQ(weft_stream_readline(s, line, sizeof(line)), 10);
  WEFT_EXPECT_OK(weft_stream_close(s));
  weft_tls_free(tls);
  WEFT_EXPECT_OK(weft_server_close(srv));
  return 0;
}

static void test_tls_over_unix_socket(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(2, unix_tls_main, NULL, NULL));
}

/* ---- Bulk data: backpressure, large writes, cancelled reads ------------- */

enum { kBulk = 3 * 1024 * 1024 + 17 };

static int sink(weft_stream_t* c, void* arg) {
  (void)arg;
  static char buf[65536];
  uint64_t total = 0, sum = 0;
  ptrdiff_t n;
  while ((n = weft_stream_read(c, buf, sizeof(buf))) > 0) {
    for (ptrdiff_t i = 0; i < n; i++)
      sum += (unsigned char)buf[i];
    total += (uint64_t)n;
  }
  WEFT_EXPECT_EQ(n, 0);
  uint64_t out[2] = {total, sum};
  WEFT_EXPECT_OK(weft_stream_write(c, out, sizeof(out)));
  return 0;
}

static int bulk_main(void* arg, void** result) {
  (void)arg;
  (void)result;
  weft_server_config_t sc = {.tls = server_ctx("server.pem", "server.key", 0)};
  weft_server_t* srv;
  WEFT_EXPECT_OK(weft_tcp_serve("127.0.0.1", 0, sink, NULL, &sc, &srv));
  weft_tls_free(sc.tls);
  weft_tls_t* tls = client_ctx(0, NULL);
  weft_stream_t* s;
  WEFT_EXPECT_OK(weft_tls_connect("127.0.0.1", weft_server_port(srv), tls, &s));
  char* data = malloc(kBulk);
  uint64_t sum = 0;
  for (size_t i = 0; i < kBulk; i++)
    sum += (unsigned char)(data[i] = (char)(i * 7));
  /* One big write, then small ones under drain's backpressure. */
  WEFT_EXPECT_OK(weft_stream_write(s, data, kBulk / 2));
  for (size_t at = kBulk / 2; at < kBulk; at += 4000) {
    size_t k = kBulk - at < 4000 ? kBulk - at : 4000;
    WEFT_EXPECT_OK(weft_stream_write(s, data + at, k));
    WEFT_EXPECT_OK(weft_stream_drain(s));
  }
  WEFT_EXPECT_OK(weft_stream_shutdown(s));
  uint64_t got[2];
  WEFT_EXPECT_OK(weft_stream_readexactly(s, got, sizeof(got), NULL));
  WEFT_EXPECT_EQ(got[0], kBulk);
  WEFT_EXPECT_EQ(got[1], sum);
  WEFT_EXPECT_OK(weft_stream_close(s));
  free(data);
  weft_tls_free(tls);
  WEFT_EXPECT_OK(weft_server_close(srv));
  return 0;
}

static void test_tls_bulk_with_backpressure(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(2, bulk_main, NULL, NULL));
}

/* A read cancelled while it waits leaves the stream usable. */
static int late_writer(weft_stream_t* c, void* arg) {
  weft_event_t* go = arg;
  weft_event_wait(go);
  WEFT_EXPECT_OK(weft_stream_write(c, "late\n", 5));
  char b[8];
  WEFT_EXPECT_EQ(weft_stream_read(c, b, sizeof(b)), 0);
  return 0;
}

static int reader_task(void* arg, void** result) {
  (void)result;
  char b[16];
  return (int)weft_stream_read(arg, b, sizeof(b));
}

static int cancel_read_main(void* arg, void** result) {
  (void)arg;
  (void)result;
  weft_event_t* go;
  WEFT_EXPECT_OK(weft_event_new(&go));
  weft_server_config_t sc = {.tls = server_ctx("server.pem", "server.key", 0)};
  weft_server_t* srv;
  WEFT_EXPECT_OK(weft_tcp_serve("127.0.0.1", 0, late_writer, go, &sc, &srv));
  weft_tls_t* tls = client_ctx(0, NULL);
  weft_stream_t* s;
  WEFT_EXPECT_OK(weft_tls_connect("localhost", weft_server_port(srv), tls, &s));
  weft_task_t* r;
  WEFT_EXPECT_OK(weft_spawn(NULL, reader_task, s, NULL, &r));
  WEFT_EXPECT_OK(weft_yield()); /* the reader starts waiting (or not yet) */
  WEFT_EXPECT_OK(weft_cancel(r));
  WEFT_EXPECT_ERR(weft_await(r, NULL), WEFT_ECANCELED);
  weft_task_release(r);
  WEFT_EXPECT_OK(weft_event_set(go));
  char line[16];
  WEFT_EXPECT_EQ(weft_stream_readline(s, line, sizeof(line)), 5);
  WEFT_EXPECT_OK(weft_stream_close(s));
  weft_tls_free(tls);
  weft_tls_free(sc.tls);
  WEFT_EXPECT_OK(weft_server_close(srv));
  weft_event_free(go);
  return 0;
}

static void test_tls_cancelled_read_keeps_stream(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(2, cancel_read_main, NULL, NULL));
}

/* ---- STARTTLS: TLS on a stream that spoke plain text first -------------- */

static int starttls_server(weft_stream_t* c, void* arg) {
  weft_tls_t* tls = arg;
  char line[64];
  /* readline reads ahead: the client's hello may be in the buffer now. */
  WEFT_EXPECT_EQ(weft_stream_readline(c, line, sizeof(line)), 9);
  WEFT_EXPECT(memcmp(line, "STARTTLS\n", 9) == 0);
  if (!WEFT_EXPECT_OK(weft_tls_start(c, tls, NULL)))
    return -1;
  WEFT_EXPECT_ERR(weft_tls_start(c, tls, NULL), WEFT_EBUSY);
  WEFT_EXPECT_EQ(weft_stream_readline(c, line, sizeof(line)), 7);
  WEFT_EXPECT_OK(weft_stream_write(c, "secret back\n", 12));
  return 0;
}

static int starttls_main(void* arg, void** result) {
  (void)arg;
  (void)result;
  weft_tls_t* stls = server_ctx("server.pem", "server.key", 0);
  weft_server_t* srv;
  WEFT_EXPECT_OK(
      weft_tcp_serve("127.0.0.1", 0, starttls_server, stls, NULL, &srv));
  weft_tls_t* tls = client_ctx(0, NULL);
  weft_stream_t* s;
  WEFT_EXPECT_OK(weft_tcp_connect("127.0.0.1", weft_server_port(srv), &s));
  char msg[8];
  WEFT_EXPECT_ERR(weft_tls_error(s, msg, sizeof(msg)), WEFT_EINVAL);
  WEFT_EXPECT_OK(weft_stream_write(s, "STARTTLS\n", 9));
  WEFT_EXPECT_OK(weft_tls_start(s, tls, "localhost"));
  WEFT_EXPECT_OK(weft_stream_write(s, "secret\n", 7));
  char line[64];
  WEFT_EXPECT_EQ(weft_stream_readline(s, line, sizeof(line)), 12);
  WEFT_EXPECT_EQ(weft_tls_verify_error(s), 0);
  WEFT_EXPECT_OK(weft_stream_close(s));
  weft_tls_free(tls);
  WEFT_EXPECT_OK(weft_server_close(srv));
  weft_tls_free(stls);
  return 0;
}

static void test_tls_starttls_after_plain_bytes(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(2, starttls_main, NULL, NULL));
}

/* ---- Certificates that must not verify ---------------------------------- */

typedef struct {
  const char* pem; /* the server's certificate and key */
  const char* key;
  const char* name;   /* the name the client asks for */
  int system_store;   /* the client trusts the system's CAs, not ours */
  int verify;         /* the X509_V_ERR_* expected */
  const char* reason; /* in weft_tls_error's text */
} badcert_t;

static int quiet_handler(weft_stream_t* c, void* arg) {
  (void)c;
  (void)arg;
  return 0;
}

static int badcert_main(void* arg, void** result) {
  const badcert_t* b = arg;
  (void)result;
  weft_server_config_t sc = {.tls = server_ctx(b->pem, b->key, 0)};
  weft_server_t* srv;
  WEFT_EXPECT_OK(
      weft_tcp_serve("127.0.0.1", 0, quiet_handler, NULL, &sc, &srv));
  weft_tls_free(sc.tls);
  weft_tls_t* tls;
  if (b->system_store)
    WEFT_EXPECT_OK(weft_tls_new(WEFT_TLS_CLIENT, NULL, &tls));
  else
    tls = client_ctx(0, NULL);
  weft_stream_t* s;
  WEFT_EXPECT_OK(weft_tcp_connect("127.0.0.1", weft_server_port(srv), &s));
  WEFT_EXPECT_ERR(weft_tls_start(s, tls, b->name), WEFT_ECERT);
  WEFT_EXPECT_EQ(weft_tls_verify_error(s), b->verify);
  expect_msg(s, "certificate verify failed: ");
  expect_msg(s, b->reason);
  char buf[8];
  WEFT_EXPECT_ERR(weft_stream_read(s, buf, sizeof(buf)), WEFT_ECERT);
  WEFT_EXPECT_ERR(weft_stream_write(s, "x", 1), WEFT_ECERT);
  WEFT_EXPECT_OK(weft_stream_abort(s));
  /* weft_tls_connect closes the stream itself. */
  if (strcmp(b->name, "localhost") == 0)
    WEFT_EXPECT_ERR(weft_tls_connect(b->name, weft_server_port(srv), tls, &s),
                    WEFT_ECERT);
  weft_tls_free(tls);
  WEFT_EXPECT_OK(weft_server_close(srv));
  return 0;
}

static void test_tls_bad_certificates(void** state) {
  (void)state;
  const badcert_t cases[] = {
      {"self.pem", "self.key", "localhost", 0,
       X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, "self-signed"},
      {"expired.pem", "server.key", "localhost", 0, X509_V_ERR_CERT_HAS_EXPIRED,
       "expired"},
      {"server.pem", "server.key", "wrong.localhost", 0,
       X509_V_ERR_HOSTNAME_MISMATCH, "hostname mismatch"},
      {"server.pem", "server.key", "127.0.0.2", 0,
       X509_V_ERR_IP_ADDRESS_MISMATCH, "IP address mismatch"},
      {"server.pem", "server.key", "localhost", 1,
       X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, "local issuer"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    WEFT_ASSERT_OK(
        weft_test_run_detached(2, badcert_main, (void*)&cases[i], NULL));
}

/* The same name as an address literal verifies (no SNI is sent). */
static int ip_name_main(void* arg, void** result) {
  (void)arg;
  (void)result;
  weft_server_config_t sc = {.tls = server_ctx("server.pem", "server.key", 0)};
  weft_server_t* srv;
  WEFT_EXPECT_OK(
      weft_tcp_serve("127.0.0.1", 0, quiet_handler, NULL, &sc, &srv));
  weft_tls_free(sc.tls);
  weft_tls_t* tls = client_ctx(0, NULL);
  weft_stream_t* s;
  WEFT_EXPECT_OK(weft_tls_connect("127.0.0.1", weft_server_port(srv), tls, &s));
  WEFT_EXPECT_OK(weft_stream_close(s));
  /* Verification off: the self-signed one is accepted. */
  weft_tls_opts_t o = {.flags = WEFT_TLS_NO_VERIFY};
  weft_tls_t* loose;
  WEFT_EXPECT_OK(weft_tls_new(WEFT_TLS_CLIENT, &o, &loose));
  WEFT_EXPECT_OK(weft_tcp_connect("127.0.0.1", weft_server_port(srv), &s));
  WEFT_EXPECT_OK(weft_tls_start(s, loose, NULL));
  WEFT_EXPECT_OK(weft_stream_close(s));
  weft_tls_free(loose);
  weft_tls_free(tls);
  WEFT_EXPECT_OK(weft_server_close(srv));
  return 0;
}

static void test_tls_address_names_and_no_verify(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(2, ip_name_main, NULL, NULL));
}

/* ---- Handshakes that fail ----------------------------------------------- */

/* The server side, explicitly: records what its handshake returned. */
typedef struct {
  weft_tls_t* tls;
  weft_future_t* done; /* result: the handshake's code */
  char msg[256];
} hs_server_t;

static int hs_handler(weft_stream_t* c, void* arg) {
  hs_server_t* h = arg;
  int err = weft_tls_start(c, h->tls, NULL);
  weft_tls_error(c, h->msg, sizeof(h->msg));
  weft_future_set_result(h->done, (void*)(intptr_t)err);
  return 0;
}

static int hs_serve(hs_server_t* h, weft_tls_t* tls, weft_server_t** srv) {
  h->tls = tls;
  WEFT_EXPECT_OK(weft_future_new(&h->done));
  return weft_tcp_serve("127.0.0.1", 0, hs_handler, h, NULL, srv);
}

static int hs_result(hs_server_t* h, weft_server_t* srv) {
  void* r = NULL;
  WEFT_EXPECT_OK(weft_future_await(h->done, &r));
  weft_future_release(h->done);
  WEFT_EXPECT_OK(weft_server_close(srv));
  weft_tls_free(h->tls);
  return (int)(intptr_t)r;
}

static int version_main(void* arg, void** result) {
  (void)arg;
  (void)result;
  hs_server_t h;
  weft_server_t* srv;
  WEFT_EXPECT_OK(
      hs_serve(&h, server_ctx("server.pem", "server.key", WEFT_TLS_1_2), &srv));
  weft_tls_t* tls = client_ctx(WEFT_TLS_1_3, NULL);
  weft_stream_t* s;
  WEFT_EXPECT_OK(weft_tcp_connect("127.0.0.1", weft_server_port(srv), &s));
  WEFT_EXPECT_ERR(weft_tls_start(s, tls, "localhost"), WEFT_ETLS);
  expect_msg(s, "TLS handshake failed: ");
  expect_msg(s, "protocol version");
  WEFT_EXPECT_OK(weft_stream_close(s));
  WEFT_EXPECT_EQ(hs_result(&h, srv), WEFT_ETLS);
  WEFT_EXPECT(strstr(h.msg, "protocol") != NULL);
  weft_tls_free(tls);
  return 0;
}

static void test_tls_no_common_version(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(2, version_main, NULL, NULL));
}

/* A plain server answers the client's hello with text and closes. */
static int plain_answer(weft_stream_t* c, void* arg) {
  (void)arg;
  char b[512];
  weft_stream_read(c, b, sizeof(b));
  weft_stream_write(c, "HTTP/1.0 400 Bad Request\r\n\r\n", 28);
  return 0;
}

/* A plain server that reads the hello and closes without a word. */
static int plain_hangup(weft_stream_t* c, void* arg) {
  (void)arg;
  char b[512];
  weft_stream_read(c, b, sizeof(b));
  return 0;
}

static int plain_server_main(void* arg, void** result) {
  (void)result;
  weft_server_t* srv;
  WEFT_EXPECT_OK(weft_tcp_serve("127.0.0.1", 0, arg, NULL, NULL, &srv));
  weft_tls_t* tls = client_ctx(0, NULL);
  weft_stream_t* s;
  WEFT_EXPECT_OK(weft_tcp_connect("127.0.0.1", weft_server_port(srv), &s));
  WEFT_EXPECT_ERR(weft_tls_start(s, tls, "localhost"), WEFT_ETLS);
  if (arg == (void*)plain_answer)
    expect_msg(s, "wrong version number");
  else
    expect_msg(s, "the peer closed the connection during the TLS handshake");
  WEFT_EXPECT_OK(weft_stream_close(s));
  weft_tls_free(tls);
  WEFT_EXPECT_OK(weft_server_close(srv));
  return 0;
}

static void test_tls_client_to_plain_server(void** state) {
  (void)state;
  WEFT_ASSERT_OK(
      weft_test_run_detached(2, plain_server_main, (void*)plain_answer, NULL));
  WEFT_ASSERT_OK(
      weft_test_run_detached(2, plain_server_main, (void*)plain_hangup, NULL));
}

/* A plain client speaks HTTP, or half a hello, to a TLS server. */
static int plain_client_main(void* arg, void** result) {
  int half_hello = arg != NULL;
  (void)result;
  hs_server_t h;
  weft_server_t* srv;
  WEFT_EXPECT_OK(hs_serve(&h, server_ctx("server.pem", "server.key", 0), &srv));
  weft_stream_t* s;
  WEFT_EXPECT_OK(weft_tcp_connect("127.0.0.1", weft_server_port(srv), &s));
  /* A TLS record header: handshake, TLS 1.0, 512 bytes; then 4 of them. */
  static const char hello[] = "\x16\x03\x01\x02\x00\x01\x00\x01";
  if (half_hello)
    WEFT_EXPECT_OK(weft_stream_write(s, hello, 8));
  else
    WEFT_EXPECT_OK(weft_stream_write(s, "GET / HTTP/1.0\r\n\r\n", 18));
  WEFT_EXPECT_OK(weft_stream_shutdown(s));
  int err = hs_result(&h, srv);
  if (half_hello) {
    WEFT_EXPECT_EQ(err, WEFT_ETLS);
    WEFT_EXPECT(strstr(h.msg, "during the TLS handshake") != NULL);
  } else {
    WEFT_EXPECT_EQ(err, WEFT_ETLS);
    WEFT_EXPECT(strstr(h.msg, "http request") != NULL);
  }
  WEFT_EXPECT_OK(weft_stream_close(s));
  return 0;
}

static void test_tls_plain_client_to_tls_server(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(2, plain_client_main, NULL, NULL));
  WEFT_ASSERT_OK(weft_test_run_detached(2, plain_client_main, (void*)1, NULL));
}

/* ---- Client certificates (mutual TLS) ----------------------------------- */

typedef struct {
  const char* pem; /* the client's certificate and key, or NULL */
  const char* key;
  int server_err;     /* what the server's handshake returns */
  const char* reason; /* in the server's weft_tls_error text */
} mtls_case_t;

static int mtls_main(void* arg, void** result) {
  const mtls_case_t* m = arg;
  (void)result;
  weft_tls_opts_t so = {.cert_file = cert("server.pem"),
                        .key_file = cert("server.key"),
                        .ca_file = cert("ca.pem"),
                        .flags = WEFT_TLS_VERIFY_CLIENT};
  weft_tls_t* stls;
  WEFT_EXPECT_OK(weft_tls_new(WEFT_TLS_SERVER, &so, &stls));
  hs_server_t h;
  weft_server_t* srv;
  WEFT_EXPECT_OK(hs_serve(&h, stls, &srv));
  weft_tls_opts_t co = {.ca_file = cert("ca.pem"),
                        .cert_file = m->pem != NULL ? cert(m->pem) : NULL,
                        .key_file = m->key != NULL ? cert(m->key) : NULL};
  weft_tls_t* ctls;
  WEFT_EXPECT_OK(weft_tls_new(WEFT_TLS_CLIENT, &co, &ctls));
  weft_stream_t* s;
  WEFT_EXPECT_OK(weft_tcp_connect("127.0.0.1", weft_server_port(srv), &s));
  /* TLS 1.3: the client is done before the server has checked it, so a
   * refusal reaches the client as an alert on its first read. */
  int err = weft_tls_start(s, ctls, "localhost");
  char b[8];
  if (err == 0 && m->server_err != 0)
    err = (int)weft_stream_read(s, b, sizeof(b));
  WEFT_EXPECT_EQ(err, m->server_err != 0 ? WEFT_ETLS : 0);
  WEFT_EXPECT_OK(weft_stream_close(s));
  WEFT_EXPECT_EQ(hs_result(&h, srv), m->server_err);
  if (m->reason != NULL && !WEFT_EXPECT(strstr(h.msg, m->reason) != NULL))
    fprintf(stderr, "server said '%s'\n", h.msg);
  weft_tls_free(ctls);
  return 0;
}

static void test_tls_client_certificates(void** state) {
  (void)state;
  const mtls_case_t cases[] = {
      {"client.pem", "client.key", 0, NULL},
      {NULL, NULL, WEFT_ETLS, "did not return a certificate"},
      {"self.pem", "self.key", WEFT_ECERT, "certificate verify failed"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    WEFT_ASSERT_OK(
        weft_test_run_detached(2, mtls_main, (void*)&cases[i], NULL));
}

/* ---- HTTPS: weft_http_serve with cfg.tcp.tls ---------------------------- */

static int hello(const weft_http_request_t* req, weft_http_response_t* resp,
                 void* arg) {
  (void)arg;
  (void)req;
  return weft_http_response_set(resp, 200, "text/plain", "secure hello", 12);
}

static int https_main(void* arg, void** result) {
  (void)arg;
  (void)result;
  weft_http_server_config_t cfg = {0};
  cfg.tcp.tls = server_ctx("server.pem", "server.key", 0);
  weft_server_t* srv;
  WEFT_EXPECT_OK(weft_http_serve("127.0.0.1", 0, hello, NULL, &cfg, &srv));
  weft_tls_free(cfg.tcp.tls);
  weft_tls_t* tls = client_ctx(0, NULL);
  weft_stream_t* s;
  WEFT_EXPECT_OK(weft_tls_connect("localhost", weft_server_port(srv), tls, &s));
  const char req[] = "GET / HTTP/1.1\r\nHost: localhost\r\n"
                     "Connection: close\r\n\r\n";
  WEFT_EXPECT_OK(weft_stream_write(s, req, sizeof(req) - 1));
  char resp[512];
  size_t len = 0;
  ptrdiff_t n;
  while ((n = weft_stream_read(s, resp + len, sizeof(resp) - 1 - len)) > 0)
    len += (size_t)n;
  WEFT_EXPECT_EQ(n, 0); /* the server's close_notify, not a truncation */
  resp[len] = '\0';
  WEFT_EXPECT(strncmp(resp, "HTTP/1.1 200", 12) == 0);
  WEFT_EXPECT(strstr(resp, "\r\n\r\nsecure hello") != NULL);
  WEFT_EXPECT_OK(weft_stream_close(s));
  weft_tls_free(tls);
  WEFT_EXPECT_OK(weft_server_close(srv));
  return 0;
}

static void test_tls_https_server(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(2, https_main, NULL, NULL));
}

/* ---- Handshakes given up: cancellation, timeouts ------------------------ */

static int silent(weft_stream_t* c, void* arg) {
  weft_event_t* end = arg;
  (void)c;
  weft_event_wait(end);
  return 0;
}

static int handshake_timeout_main(void* arg, void** result) {
  (void)arg;
  (void)result;
  weft_event_t* end;
  WEFT_EXPECT_OK(weft_event_new(&end));
  weft_server_t* srv;
  WEFT_EXPECT_OK(weft_tcp_serve("127.0.0.1", 0, silent, end, NULL, &srv));
  weft_tls_t* tls = client_ctx(0, NULL);
  weft_stream_t* s;
  WEFT_EXPECT_OK(weft_tcp_connect("127.0.0.1", weft_server_port(srv), &s));
  weft_timeout_t* scope;
  WEFT_EXPECT_OK(weft_timeout_enter(50, &scope));
  WEFT_EXPECT_ERR(weft_tls_start(s, tls, "localhost"), WEFT_ECANCELED);
  WEFT_EXPECT_ERR(weft_timeout_exit(scope), WEFT_ETIMEDOUT);
  expect_msg(s, "cancelled");
  char b[4];
  WEFT_EXPECT_ERR(weft_stream_read(s, b, sizeof(b)), WEFT_ETLS);
  WEFT_EXPECT_OK(weft_stream_close(s));
  WEFT_EXPECT_OK(weft_event_set(end));
  WEFT_EXPECT_OK(weft_server_close(srv));
  weft_tls_free(tls);
  weft_event_free(end);
  return 0;
}

static void test_tls_handshake_timeout(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(2, handshake_timeout_main, NULL, NULL));
}

/* A server's handshakes are bounded: a client that says nothing is let go
 * and the handler never runs. */
static int never_called(weft_stream_t* c, void* arg) {
  (void)c;
  (void)arg;
  WEFT_EXPECT(c == NULL); /* never: fails the test */
  return 0;
}

static int server_timeout_main(void* arg, void** result) {
  (void)arg;
  (void)result;
  weft_server_config_t sc = {.tls = server_ctx("server.pem", "server.key", 0),
                             .tls_handshake_timeout_ms = 50};
  weft_server_t* srv;
  WEFT_EXPECT_OK(weft_tcp_serve("127.0.0.1", 0, never_called, NULL, &sc, &srv));
  weft_tls_free(sc.tls);
  weft_stream_t* s;
  WEFT_EXPECT_OK(weft_tcp_connect("127.0.0.1", weft_server_port(srv), &s));
  char b[64];
  ptrdiff_t n = weft_stream_read(s, b, sizeof(b));
  WEFT_EXPECT(n == 0 || n == UV_ECONNRESET); /* closed by the server */
  WEFT_EXPECT_OK(weft_stream_close(s));
  WEFT_EXPECT_OK(weft_server_close(srv));
  return 0;
}

static void test_tls_server_handshake_timeout(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(2, server_timeout_main, NULL, NULL));
}

/* ---- A misbehaving TLS peer: OpenSSL on a plain thread ------------------ */

typedef enum {
  kTruncate,     /* writes a line, closes without close_notify */
  kMidRecord,    /* writes half a record, closes */
  kRenegotiate,  /* TLS 1.2 client: asks to renegotiate */
  kCleanGoodbye, /* writes a line, close_notify, closes */
  kServerReneg,  /* TLS 1.2 server: a line, a HelloRequest, a line, bye */
} peer_mode_t;

typedef struct {
  peer_mode_t mode;
  int fd;    /* connected socket */
  int reneg; /* kRenegotiate: SSL_renegotiate + handshake result */
  int after; /* kRenegotiate: what reading after it gave */
} peer_t;

static SSL_CTX* peer_ctx(int server) {
  SSL_CTX* ctx =
      SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
  if (server) {
    SSL_CTX_use_certificate_chain_file(ctx, cert("server.pem"));
    SSL_CTX_use_PrivateKey_file(ctx, cert("server.key"), SSL_FILETYPE_PEM);
  }
  SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION); /* renegotiation */
  return ctx;
}

static void* peer_main(void* arg) {
  peer_t* p = arg;
  int server = p->mode != kRenegotiate;
  SSL_CTX* ctx = peer_ctx(server);
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, p->fd);
  int ok = server ? SSL_accept(ssl) : SSL_connect(ssl);
  WEFT_EXPECT_EQ(ok, 1);
  if (p->mode == kTruncate || p->mode == kCleanGoodbye) {
    SSL_write(ssl, "last words\n", 11);
    if (p->mode == kCleanGoodbye)
      SSL_shutdown(ssl);
  } else if (p->mode == kServerReneg) {
    SSL_write(ssl, "last words\n", 11);
    /* Sends a HelloRequest; the client should answer no_renegotiation. */
    p->reneg = SSL_renegotiate(ssl) == 1 ? SSL_do_handshake(ssl) : -2;
    SSL_write(ssl, "after it\n", 9);
    SSL_shutdown(ssl);
  } else if (p->mode == kMidRecord) {
    BIO* mem = BIO_new(BIO_s_mem());
    SSL_set0_wbio(ssl, mem); /* records go to memory from here on */
    SSL_write(ssl, "a whole record\n", 15);
    char* rec;
    long n = BIO_get_mem_data(mem, &rec);
    WEFT_EXPECT(write(p->fd, rec, (size_t)n / 2) == n / 2);
  } else {
    SSL_write(ssl, "hi\n", 3);
    p->reneg = SSL_renegotiate(ssl) == 1 ? SSL_do_handshake(ssl) : -2;
    char b[16];
    p->after = SSL_read(ssl, b, sizeof(b));
  }
  shutdown(p->fd, SHUT_RDWR);
  close(p->fd);
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  ERR_clear_error();
  return NULL;
}

/* A socket pair over loopback: the weft side connects to a listener the
 * peer thread accepts on. Returns the listener's port. */
static int listen_any(int* lfd) {
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(a);
  *lfd = socket(AF_INET, SOCK_STREAM, 0);
  if (*lfd < 0 || bind(*lfd, (struct sockaddr*)&a, sizeof(a)) != 0 ||
      listen(*lfd, 1) != 0 || getsockname(*lfd, (struct sockaddr*)&a, &len))
    return -1;
  return ntohs(a.sin_port);
}

/* The weft client against a misbehaving server peer. */
static int peer_server_main(void* arg, void** result) {
  peer_t* p = arg;
  (void)result;
  int lfd;
  int port = listen_any(&lfd);
  weft_tls_t* tls = client_ctx(0, NULL);
  weft_stream_t* s;
  WEFT_EXPECT_OK(weft_tcp_connect("127.0.0.1", (unsigned)port, &s));
  p->fd = accept(lfd, NULL, NULL); /* the connect is done: no wait */
  close(lfd);
  pthread_t th;
  pthread_create(&th, NULL, peer_main, p);
  WEFT_EXPECT_OK(weft_tls_start(s, tls, "localhost"));
  char line[64];
  if (p->mode == kMidRecord) {
    WEFT_EXPECT_ERR(weft_stream_readline(s, line, sizeof(line)),
                    WEFT_ETRUNCATED);
    expect_msg(s, "without a TLS close_notify, in the middle of a record");
  } else {
    WEFT_EXPECT_EQ(weft_stream_readline(s, line, sizeof(line)), 11);
    if (p->mode == kServerReneg) /* refused, and the stream goes on */
      WEFT_EXPECT_EQ(weft_stream_readline(s, line, sizeof(line)), 9);
    if (p->mode == kTruncate) {
      WEFT_EXPECT_ERR(weft_stream_read(s, line, sizeof(line)), WEFT_ETRUNCATED);
      expect_msg(s, "without a TLS close_notify");
      WEFT_EXPECT_EQ(weft_stream_at_eof(s), 0);
    } else {
      WEFT_EXPECT_EQ(weft_stream_read(s, line, sizeof(line)), 0);
      WEFT_EXPECT_EQ(weft_stream_at_eof(s), 1);
    }
  }
  pthread_join(th, NULL); /* the peer is done: no wait */
  WEFT_EXPECT_OK(weft_stream_close(s));
  weft_tls_free(tls);
  return 0;
}

static void test_tls_truncation_is_an_error(void** state) {
  (void)state;
  peer_t modes[] = {{.mode = kTruncate},
                    {.mode = kMidRecord},
                    {.mode = kCleanGoodbye}};
  for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
    WEFT_ASSERT_OK(
        weft_test_run_detached(1, peer_server_main, &modes[i], NULL));
}

/* A TLS 1.2 client asks a weft server to renegotiate: refused. */
static int reneg_handler(weft_stream_t* c, void* arg) {
  weft_future_t* done = arg;
  char b[64];
  WEFT_EXPECT_EQ(weft_stream_readline(c, b, sizeof(b)), 3);
  ptrdiff_t n = weft_stream_read(c, b, sizeof(b));
  weft_tls_error(c, b, sizeof(b));
  WEFT_EXPECT(strstr(b, "renegotiation refused") != NULL);
  weft_future_set_result(done, (void*)(intptr_t)n);
  return 0;
}

static int reneg_main(void* arg, void** result) {
  (void)arg;
  (void)result;
  weft_future_t* done;
  WEFT_EXPECT_OK(weft_future_new(&done));
  weft_server_config_t sc = {.tls = server_ctx("server.pem", "server.key", 0)};
  weft_server_t* srv;
  WEFT_EXPECT_OK(
      weft_tcp_serve("127.0.0.1", 0, reneg_handler, done, &sc, &srv));
  weft_tls_free(sc.tls);
  /* The peer connects with a plain socket from its own thread. */
  peer_t p = {.mode = kRenegotiate};
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)weft_server_port(srv)),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  p.fd = socket(AF_INET, SOCK_STREAM, 0);
  WEFT_EXPECT_OK(connect(p.fd, (struct sockaddr*)&a, sizeof(a)));
  pthread_t th;
  pthread_create(&th, NULL, peer_main, &p);
  void* r;
  WEFT_EXPECT_OK(weft_future_await(done, &r));
  /* The server's read ends in an error, never in data or a clean end. */
  WEFT_EXPECT((intptr_t)r < 0);
  pthread_join(th, NULL);
  WEFT_EXPECT(p.reneg <= 0); /* the renegotiation did not happen */
  WEFT_EXPECT(p.after <= 0);
  weft_future_release(done);
  WEFT_EXPECT_OK(weft_server_close(srv));
  return 0;
}

static void test_tls_renegotiation_refused(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(2, reneg_main, NULL, NULL));
  /* A server asking a weft client to renegotiate: refused, and the data
   * around the request arrives whole. */
  peer_t p = {.mode = kServerReneg};
  WEFT_ASSERT_OK(weft_test_run_detached(1, peer_server_main, &p, NULL));
  assert_int_equal(p.reneg, 1); /* the HelloRequest went out */
}

/* ---- Bad arguments, contexts, shutdown ---------------------------------- */

static int bad_args_main(void* arg, void** result) {
  (void)arg;
  (void)result;
  weft_tls_t* t;
  weft_tls_opts_t o = {0};
  WEFT_EXPECT_ERR(weft_tls_new(WEFT_TLS_SERVER, NULL, &t), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_tls_new(7, NULL, &t), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_tls_new(WEFT_TLS_CLIENT, NULL, NULL), WEFT_EINVAL);
  o.cert_file = cert("server.pem");
  WEFT_EXPECT_ERR(weft_tls_new(WEFT_TLS_SERVER, &o, &t), WEFT_EINVAL);
  o.key_file = cert("missing.key");
  WEFT_EXPECT_ERR(weft_tls_new(WEFT_TLS_SERVER, &o, &t), UV_ENOENT);
  o.key_file = cert("self.key"); /* not server.pem's key */
  WEFT_EXPECT_ERR(weft_tls_new(WEFT_TLS_SERVER, &o, &t), WEFT_ETLS);
  o.key_file = cert("ca.pem"); /* not a key at all */
  WEFT_EXPECT_ERR(weft_tls_new(WEFT_TLS_SERVER, &o, &t), WEFT_ETLS);
  weft_tls_opts_t v = {.min_version = WEFT_TLS_1_3,
                       .max_version = WEFT_TLS_1_2};
  WEFT_EXPECT_ERR(weft_tls_new(WEFT_TLS_CLIENT, &v, &t), WEFT_EINVAL);
  weft_tls_opts_t a = {.alpn = "h2,,x"};
  WEFT_EXPECT_ERR(weft_tls_new(WEFT_TLS_CLIENT, &a, &t), WEFT_EINVAL);
  weft_tls_opts_t c = {.ca_file = cert("nothing.pem")};
  WEFT_EXPECT_ERR(weft_tls_new(WEFT_TLS_CLIENT, &c, &t), UV_ENOENT);
  c.flags = WEFT_TLS_VERIFY_CLIENT; /* a server's flag */
  WEFT_EXPECT_ERR(weft_tls_new(WEFT_TLS_CLIENT, &c, &t), WEFT_EINVAL);
  weft_tls_opts_t m = {.cert_file = cert("server.pem"),
                       .key_file = cert("server.key"),
                       .flags = WEFT_TLS_VERIFY_CLIENT}; /* and no CA */
  WEFT_EXPECT_ERR(weft_tls_new(WEFT_TLS_SERVER, &m, &t), WEFT_EINVAL);
  weft_tls_free(NULL);

  weft_tls_t* client = client_ctx(0, NULL);
  weft_tls_t* server = server_ctx("server.pem", "server.key", 0);
  weft_stream_t* s;
  WEFT_EXPECT_ERR(weft_tls_start(NULL, client, "x"), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_tls_connect("localhost", 1, server, &s), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_tls_connect(NULL, 1, client, &s), WEFT_EINVAL);
  weft_server_config_t sc = {.tls = client};
  weft_server_t* srv;
  WEFT_EXPECT_ERR(weft_tcp_serve("127.0.0.1", 0, quiet_handler, NULL, &sc,
                                 &srv),
                  WEFT_EINVAL);
  WEFT_EXPECT_OK(
      weft_tcp_serve("127.0.0.1", 0, quiet_handler, NULL, NULL, &srv));
  WEFT_EXPECT_OK(weft_tcp_connect("127.0.0.1", weft_server_port(srv), &s));
  /* A verifying client must name the server. */
  WEFT_EXPECT_ERR(weft_tls_start(s, client, NULL), WEFT_EINVAL);
  char buf[8];
  WEFT_EXPECT_ERR(weft_tls_alpn(s, buf, sizeof(buf)), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_tls_verify_error(s), WEFT_EINVAL);
  WEFT_EXPECT_ERR(weft_tls_error(s, NULL, 0), WEFT_EINVAL);
  WEFT_EXPECT_OK(weft_stream_close(s));
  /* A stream that cannot send: the handshake fails at once. */
  WEFT_EXPECT_OK(weft_tcp_connect("127.0.0.1", weft_server_port(srv), &s));
  WEFT_EXPECT_OK(weft_stream_shutdown(s));
  WEFT_EXPECT_ERR(weft_tls_start(s, client, "localhost"), WEFT_ECLOSED);
  char why[128];
  WEFT_EXPECT_OK(weft_tls_error(s, why, sizeof(why)));
  WEFT_EXPECT(strstr(why, "cannot send") != NULL);
  WEFT_EXPECT_OK(weft_stream_close(s));
  WEFT_EXPECT_OK(weft_server_close(srv));
  weft_tls_free(client);
  weft_tls_free(server);
  return 0;
}

static void test_tls_bad_arguments(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(1, bad_args_main, NULL, NULL));
  /* Contexts need no runtime; the stream calls need a task. */
  weft_tls_t* t;
  WEFT_ASSERT_OK(weft_tls_new(WEFT_TLS_CLIENT, NULL, &t));
  WEFT_ASSERT_ERR(weft_tls_start((weft_stream_t*)t, t, "x"), WEFT_ENOTTASK);
  weft_tls_free(t);
  assert_int_equal(weft_tls_available(), 1);
}

/* Streams left open mid-conversation are freed with the runtime. */
static int left_open(weft_stream_t* c, void* arg) {
  (void)arg;
  char b[8];
  weft_stream_read(c, b, sizeof(b)); /* until the runtime ends */
  return 0;
}

static int leave_open_main(void* arg, void** result) {
  (void)arg;
  (void)result;
  weft_server_config_t sc = {.tls = server_ctx("server.pem", "server.key", 0)};
  weft_server_t* srv;
  WEFT_EXPECT_OK(weft_tcp_serve("127.0.0.1", 0, left_open, NULL, &sc, &srv));
  weft_tls_free(sc.tls);
  weft_tls_t* tls = client_ctx(0, NULL);
  weft_stream_t* s;
  for (int i = 0; i < 3; i++) {
    WEFT_EXPECT_OK(
        weft_tls_connect("localhost", weft_server_port(srv), tls, &s));
    WEFT_EXPECT_OK(weft_stream_write(s, "x", 1));
  }
  weft_tls_free(tls);
  return 0; /* the server and four streams stay open */
}

static void test_tls_shutdown_frees_open_streams(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(2, leave_open_main, NULL, NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tls_echo_one_worker),
      cmocka_unit_test(test_tls_echo_four_workers),
      cmocka_unit_test(test_tls_over_unix_socket),
      cmocka_unit_test(test_tls_bulk_with_backpressure),
      cmocka_unit_test(test_tls_cancelled_read_keeps_stream),
      cmocka_unit_test(test_tls_starttls_after_plain_bytes),
      cmocka_unit_test(test_tls_bad_certificates),
      cmocka_unit_test(test_tls_address_names_and_no_verify),
      cmocka_unit_test(test_tls_no_common_version),
      cmocka_unit_test(test_tls_client_to_plain_server),
      cmocka_unit_test(test_tls_plain_client_to_tls_server),
      cmocka_unit_test(test_tls_client_certificates),
      cmocka_unit_test(test_tls_https_server),
      cmocka_unit_test(test_tls_handshake_timeout),
      cmocka_unit_test(test_tls_server_handshake_timeout),
      cmocka_unit_test(test_tls_truncation_is_an_error),
      cmocka_unit_test(test_tls_renegotiation_refused),
      cmocka_unit_test(test_tls_bad_arguments),
      cmocka_unit_test(test_tls_shutdown_frees_open_streams),
  };
  return cmocka_run_group_tests(tests, weft_test_certs_make,
                                weft_test_certs_remove);
}
#endif /* WEFT_HAVE_TLS */
