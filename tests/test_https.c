/* The HTTP client over TLS: https:// URLs against a local weft HTTPS
 * server with a test CA (made at start by tests/tls/make-certs.sh), pooled
 * TLS connections, the system store by default, certificates that must
 * fail (untrusted, another host's name) with the reason logged, a pooled
 * connection the server dropped without close_notify (retried), a body
 * framed by the end of the connection that is truncated (an error), and
 * bad TLS settings. */
#include "helpers.h"

#if !WEFT_HAVE_TLS
/* Built without OpenSSL: https says so. */
static int no_tls_main(void* arg, void** result) {
  (void)arg, (void)result;
  weft_http_client_t* c;
  weft_http_response_t r;
  WEFT_EXPECT_OK(weft_http_client_new(NULL, &c));
  WEFT_EXPECT_ERR(weft_http_get(c, "https://localhost/", &r), WEFT_ENOTSUP);
  WEFT_EXPECT_OK(weft_http_client_free(c));
  weft_http_client_config_t cfg = WEFT_HTTP_CLIENT_CONFIG_INIT;
  cfg.ca_file = "/nonexistent";
  WEFT_EXPECT_ERR(weft_http_client_new(&cfg, &c), WEFT_ENOTSUP);
  return 0;
}

static void test_https_not_supported(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run(1, no_tls_main, NULL, NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_https_not_supported),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
#else
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

/* The test certificates (helpers_certs.c). */
static const char* cert(const char* name) {
  return weft_test_cert(name);
}

static weft_tls_t* server_ctx(const char* pem) {
  int self = strcmp(pem, "self.pem") == 0; /* the others share server.key */
  weft_tls_opts_t o = {.cert_file = cert(pem),
                       .key_file = cert(self ? "self.key" : "server.key")};
  weft_tls_t* t = NULL;
  WEFT_EXPECT_OK(weft_tls_new(WEFT_TLS_SERVER, &o, &t));
  return t;
}

/* A client that trusts the test CA. */
static weft_http_client_t* ca_client(void) {
  weft_http_client_config_t cfg = WEFT_HTTP_CLIENT_CONFIG_INIT;
  cfg.ca_file = cert("ca.pem");
  weft_http_client_t* c = NULL;
  WEFT_EXPECT_OK(weft_http_client_new(&cfg, &c));
  return c;
}

static int hello(const weft_http_request_t* req, weft_http_response_t* resp,
                 void* arg) {
  (void)arg;
  char body[256];
  const char* x = weft_http_request_header(req, "x-test");
  int n = snprintf(body, sizeof(body), "%s %s %s", req->method, req->target,
                   x != NULL ? x : "-");
  return weft_http_response_set(resp, 200, "text/plain", body, (size_t)n);
}

static weft_server_t* https_server(const char* pem) {
  weft_http_server_config_t cfg = WEFT_HTTP_SERVER_CONFIG_INIT;
  cfg.tcp.tls = server_ctx(pem);
  weft_server_t* srv = NULL;
  WEFT_EXPECT_OK(weft_http_serve("127.0.0.1", 0, hello, NULL, &cfg, &srv));
  weft_tls_free(cfg.tcp.tls);
  return srv;
}

/* ---- Round trips over one pooled TLS connection ------------------------- */

static int roundtrip_main(void* arg, void** result) {
  (void)arg, (void)result;
  weft_server_t* srv = https_server("server.pem");
  weft_http_client_t* c = ca_client();
  char url[128];
  snprintf(url, sizeof(url), "https://localhost:%u/a?b=1",
           weft_server_port(srv));
  weft_http_header_t hdr[] = {{"X-Test", "one"}};
  for (int i = 0; i < 3; i++) {
    weft_http_response_t r;
    if (!WEFT_EXPECT_OK(
            weft_http_request(c, "GET", url, hdr, i == 1, NULL, 0, &r)))
      continue;
    WEFT_EXPECT_EQ(r.status, 200);
    WEFT_EXPECT(strcmp(r.body, i == 1 ? "GET /a?b=1 one" : "GET /a?b=1 -") ==
                0);
    WEFT_EXPECT(r.url != NULL && strcmp(r.url, url) == 0);
    weft_http_response_free(&r);
  }
  weft_http_server_stats_t st;
  WEFT_EXPECT_OK(weft_http_server_stats(srv, &st));
  WEFT_EXPECT_EQ(st.requests, 3);
  WEFT_EXPECT_EQ(st.conns, 1); /* one TLS connection, pooled */
  /* The same port as http:// is another pool, and not TLS: no answer. */
  snprintf(url, sizeof(url), "http://localhost:%u/", weft_server_port(srv));
  weft_http_response_t r;
  WEFT_EXPECT(weft_http_get(c, url, &r) < 0);
  WEFT_EXPECT_OK(weft_http_client_free(c));
  WEFT_EXPECT_OK(weft_server_close(srv));
  return 0;
}

static void test_https_roundtrip_pooled(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(2, roundtrip_main, NULL, NULL));
}

/* ---- Certificates that must fail -------------------------------------- */

typedef struct {
  char text[8][512];
  _Atomic int n;
} log_t;

static void capture(int level, const char* msg, void* arg) {
  log_t* l = arg;
  /* relaxed: a slot index only; the test reads after the request returned */
  int i = atomic_fetch_add_explicit(&l->n, 1, memory_order_relaxed);
  if (level == WEFT_LOG_WARN && i < 8)
    snprintf(l->text[i], sizeof(l->text[i]), "%s", msg);
}

static int logged(log_t* l, const char* part) {
  /* relaxed: written before the failed request returned, on its path */
  int n = atomic_load_explicit(&l->n, memory_order_relaxed);
  for (int i = 0; i < n && i < 8; i++) {
    if (strstr(l->text[i], part) != NULL)
      return 1;
  }
  return 0;
}

typedef struct {
  const char* pem;
  int system_store; /* the default client: no CA file */
  const char* reason;
} badcert_t;

static int badcert_main(void* arg, void** result) {
  const badcert_t* b = arg;
  (void)result;
  static log_t log;
  memset(&log, 0, sizeof(log));
  weft_set_log(capture, &log);
  weft_server_t* srv = https_server(b->pem);
  weft_http_client_t* c = NULL;
  if (b->system_store)
    WEFT_EXPECT_OK(weft_http_client_new(NULL, &c));
  else
    c = ca_client();
  char url[128];
  snprintf(url, sizeof(url), "https://localhost:%u/", weft_server_port(srv));
  weft_http_response_t r;
  WEFT_EXPECT_ERR(weft_http_get(c, url, &r), WEFT_ECERT);
  WEFT_EXPECT(r.body == NULL && r.url == NULL);
  WEFT_EXPECT(logged(&log, "certificate verify failed"));
  WEFT_EXPECT(logged(&log, b->reason));
  WEFT_EXPECT(logged(&log, "https://localhost:"));
  weft_set_log(NULL, NULL);
  WEFT_EXPECT_OK(weft_http_client_free(c));
  WEFT_EXPECT_OK(weft_server_close(srv));
  return 0;
}

static void test_https_bad_certificates(void** state) {
  (void)state;
  const badcert_t cases[] = {
      {"other.pem", 0, "hostname mismatch"},
      {"self.pem", 0, "self-signed"},
      {"expired.pem", 0, "expired"},
      {"server.pem", 1, "local issuer"}, /* the system store: untrusted */
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    WEFT_ASSERT_OK(
        weft_test_run_detached(2, badcert_main, (void*)&cases[i], NULL));
}

/* A context of the caller's: NO_VERIFY accepts the self-signed server. */
static int own_ctx_main(void* arg, void** result) {
  (void)arg, (void)result;
  weft_server_t* srv = https_server("self.pem");
  weft_http_client_config_t cfg = WEFT_HTTP_CLIENT_CONFIG_INIT;
  weft_tls_opts_t o = {.flags = WEFT_TLS_NO_VERIFY};
  WEFT_EXPECT_OK(weft_tls_new(WEFT_TLS_CLIENT, &o, &cfg.tls));
  weft_http_client_t* c;
  WEFT_EXPECT_OK(weft_http_client_new(&cfg, &c));
  weft_tls_free(cfg.tls); /* the client keeps its reference */
  char url[128];
  snprintf(url, sizeof(url), "https://127.0.0.1:%u/x", weft_server_port(srv));
  weft_http_response_t r;
  if (WEFT_EXPECT_OK(weft_http_get(c, url, &r))) {
    WEFT_EXPECT(strcmp(r.body, "GET /x -") == 0);
    weft_http_response_free(&r);
  }
  WEFT_EXPECT_OK(weft_http_client_free(c));
  WEFT_EXPECT_OK(weft_server_close(srv));
  return 0;
}

static void test_https_own_context(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(2, own_ctx_main, NULL, NULL));
}

/* ---- Ends without close_notify --------------------------------------- */

/* A TLS server on a plain thread (OpenSSL on a blocking socket): weft's
 * own streams end with close_notify or a reset, and these cases need a
 * connection that ends with neither, just a FIN. It serves `conns`
 * connections one after the other, one response each (`resp`), then ends
 * the first (kStale) or each (kToEof) as the mode says, and reads until
 * the client goes (so that closing sends no reset). */
enum { kStale, kToEof, kToEofClean };

typedef struct {
  int mode;
  int lfd;
  int conns;
  int served;
} peer_t;

static void peer_serve(peer_t* p, SSL_CTX* ctx, int fd, int i) {
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  char buf[4096];
  size_t len = 0;
  if (SSL_accept(ssl) == 1) {
    int n;
    while (len < sizeof(buf) - 1 &&
           (n = SSL_read(ssl, buf + len, (int)(sizeof(buf) - 1 - len))) > 0) {
      buf[len += (size_t)n] = '\0';
      if (strstr(buf, "\r\n\r\n") != NULL)
        break;
    }
    const char* r = p->mode == kStale
                        ? "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
                        : "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\npartial";
    SSL_write(ssl, r, (int)strlen(r));
    p->served++;
    if (p->mode == kToEofClean || (p->mode == kStale && i > 0))
      SSL_shutdown(ssl); /* close_notify */
    else
      shutdown(fd, SHUT_WR); /* a FIN and no close_notify */
    while (SSL_read(ssl, buf, sizeof(buf)) > 0) {
    }
  }
  SSL_free(ssl);
  ERR_clear_error();
}

static void* peer_main(void* arg) {
  peer_t* p = arg;
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  SSL_CTX_use_certificate_chain_file(ctx, cert("server.pem"));
  SSL_CTX_use_PrivateKey_file(ctx, cert("server.key"), SSL_FILETYPE_PEM);
  for (int i = 0; i < p->conns; i++) {
    int fd = accept(p->lfd, NULL, NULL);
    if (fd < 0)
      break;
    peer_serve(p, ctx, fd, i);
    close(fd);
  }
  SSL_CTX_free(ctx);
  ERR_clear_error();
  return NULL;
}

static unsigned peer_start(peer_t* p, pthread_t* th) {
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(a);
  p->lfd = socket(AF_INET, SOCK_STREAM, 0);
  WEFT_EXPECT(p->lfd >= 0 && bind(p->lfd, (struct sockaddr*)&a, len) == 0 &&
              listen(p->lfd, 4) == 0 &&
              getsockname(p->lfd, (struct sockaddr*)&a, &len) == 0);
  pthread_create(th, NULL, peer_main, p);
  return ntohs(a.sin_port);
}

static void peer_join(peer_t* p, pthread_t th) {
  shutdown(p->lfd, SHUT_RDWR); /* a connection that never came: no hang */
  pthread_join(th, NULL);      /* every connection is done: no wait */
  close(p->lfd);
}

/* The first connection ends (FIN, no close_notify) once it answered; the
 * client pooled it and only sees WEFT_ETRUNCATED at its next request,
 * before any response byte: a stale connection, retried on a fresh one. */
static int stale_main(void* arg, void** result) {
  (void)arg, (void)result;
  peer_t p = {.mode = kStale, .conns = 2};
  pthread_t th;
  unsigned port = peer_start(&p, &th);
  weft_http_client_t* c = ca_client();
  char url[128];
  snprintf(url, sizeof(url), "https://127.0.0.1:%u/", port);
  weft_http_response_t r;
  for (int i = 0; i < 2; i++) {
    if (WEFT_EXPECT_OK(weft_http_get(c, url, &r))) {
      WEFT_EXPECT(strcmp(r.body, "ok") == 0);
      weft_http_response_free(&r);
    }
  }
  WEFT_EXPECT_OK(weft_http_client_free(c)); /* the second one goes */
  peer_join(&p, th);
  WEFT_EXPECT_EQ(p.served, 2);
  return 0;
}

static void test_https_stale_pooled_connection_retried(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(2, stale_main, NULL, NULL));
}

/* A body framed by the end of the connection: complete only when that end
 * is a close_notify; a bare FIN is a truncation, read whole or streamed. */
static int to_eof_main(void* arg, void** result) {
  (void)result;
  int clean = arg != NULL;
  peer_t p = {.mode = clean ? kToEofClean : kToEof, .conns = 2};
  pthread_t th;
  unsigned port = peer_start(&p, &th);
  weft_http_client_t* c = ca_client();
  char url[128];
  snprintf(url, sizeof(url), "https://127.0.0.1:%u/", port);
  weft_http_response_t r;
  if (clean) {
    if (WEFT_EXPECT_OK(weft_http_get(c, url, &r)))
      WEFT_EXPECT(strcmp(r.body, "partial") == 0);
    weft_http_response_free(&r);
  } else {
    WEFT_EXPECT_ERR(weft_http_get(c, url, &r), WEFT_ETRUNCATED);
  }
  weft_http_send_t req = WEFT_HTTP_SEND_INIT;
  req.url = url;
  weft_http_body_t* body;
  if (WEFT_EXPECT_OK(weft_http_send(c, &req, &r, &body))) {
    char buf[64];
    size_t len = 0;
    ptrdiff_t n;
    while ((n = weft_http_body_read(body, buf + len, sizeof(buf) - len)) > 0)
      len += (size_t)n;
    WEFT_EXPECT_EQ(n, clean ? 0 : WEFT_ETRUNCATED);
    WEFT_EXPECT(len == 7 && memcmp(buf, "partial", 7) == 0);
    WEFT_EXPECT_ERR(weft_http_body_close(body), clean ? 0 : WEFT_ETRUNCATED);
    weft_http_response_free(&r);
  }
  WEFT_EXPECT_OK(weft_http_client_free(c));
  peer_join(&p, th);
  return 0;
}

static void test_https_body_to_eof_truncated(void** state) {
  (void)state;
  WEFT_ASSERT_OK(weft_test_run_detached(2, to_eof_main, NULL, NULL));
  WEFT_ASSERT_OK(weft_test_run_detached(2, to_eof_main, (void*)1, NULL));
}

/* ---- Bad settings ----------------------------------------------------- */

static void test_https_bad_config(void** state) {
  (void)state;
  weft_http_client_t* c = (weft_http_client_t*)&c;
  weft_http_client_config_t cfg = WEFT_HTTP_CLIENT_CONFIG_INIT;
  cfg.ca_file = "/nonexistent/ca.pem";
  WEFT_ASSERT_ERR(weft_http_client_new(&cfg, &c), UV_ENOENT);
  assert_null(c);
  weft_tls_opts_t o = {.cert_file = cert("server.pem"),
                       .key_file = cert("server.key")};
  WEFT_ASSERT_OK(weft_tls_new(WEFT_TLS_SERVER, &o, &cfg.tls));
  cfg.ca_file = NULL;
  WEFT_ASSERT_ERR(weft_http_client_new(&cfg, &c), WEFT_EINVAL); /* server */
  weft_tls_free(cfg.tls);
  WEFT_ASSERT_OK(weft_tls_new(WEFT_TLS_CLIENT, NULL, &cfg.tls));
  cfg.ca_file = cert("ca.pem");
  WEFT_ASSERT_ERR(weft_http_client_new(&cfg, &c), WEFT_EINVAL); /* both */
  weft_tls_free(cfg.tls);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_https_roundtrip_pooled),
      cmocka_unit_test(test_https_bad_certificates),
      cmocka_unit_test(test_https_own_context),
      cmocka_unit_test(test_https_stale_pooled_connection_retried),
      cmocka_unit_test(test_https_body_to_eof_truncated),
      cmocka_unit_test(test_https_bad_config),
  };
  return cmocka_run_group_tests(tests, weft_test_certs_make,
                                weft_test_certs_remove);
}
#endif /* WEFT_HAVE_TLS */
