/* The guide's "fetch many URLs at once" over HTTPS, against a local HTTPS
 * server, in one program (aiohttp's ClientSession with an ssl context).
 *
 *   https_fetch              makes a throwaway self-signed certificate for
 *                            "localhost" with the openssl command, in a
 *                            temporary directory: the server serves with
 *                            it, the client trusts it as its CA (ca_file)
 *   https_fetch CERT KEY     uses your PEM certificate and key instead
 *
 * The server is weft_http_serve with a TLS context (cfg.tcp.tls). The
 * client fetches five pages at once over pooled TLS connections, follows
 * a redirect, streams a large download in pieces, and shows that a client
 * which does not trust the certificate refuses the server. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weft.h"

static char tmpdir[64];
static char cert_path[128], key_path[128];
static unsigned port;

/* The certificate, made by `openssl req` as a subprocess. */
static int make_certificate(void) {
  snprintf(tmpdir, sizeof(tmpdir), "/tmp/weft-https-fetch-XXXXXX");
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

/* ---- The server ---------------------------------------------------------
 */

enum { kBigLen = 1000000 };

static int handler(const weft_http_request_t* req, weft_http_response_t* resp,
                   void* arg) {
  (void)arg;
  if (strcmp(req->target, "/old-home") == 0) {
    weft_http_response_set(resp, 301, "text/plain", "moved", 5);
    return weft_http_response_add_header(resp, "Location", "/page/1");
  }
  if (strcmp(req->target, "/big") == 0) {
    char* data = malloc(kBigLen);
    memset(data, 'z', kBigLen);
    int err = weft_http_response_set(resp, 200, "application/octet-stream",
                                     data, kBigLen);
    free(data);
    return err;
  }
  char body[128];
  int n = snprintf(body, sizeof(body), "<h1>%s</h1>", req->target);
  return weft_http_response_set(resp, 200, "text/html", body, (size_t)n);
}

/* ---- The client ---------------------------------------------------------
 */

typedef struct {
  weft_http_client_t* client;
  char url[96];
  int status;
  char body[64];
} fetch_t;

static int fetch(void* arg, void** result) {
  (void)result;
  fetch_t* f = arg;
  weft_http_response_t resp;
  int err = weft_http_get(f->client, f->url, &resp);
  if (err != 0)
    return err;
  f->status = resp.status;
  snprintf(f->body, sizeof(f->body), "%s", resp.body);
  weft_http_response_free(&resp);
  return 0;
}

static int fetch_many(weft_http_client_t* client) {
  fetch_t f[5];
  weft_task_t* tasks[5];
  for (int i = 0; i < 5; i++) {
    f[i].client = client;
    snprintf(f[i].url, sizeof(f[i].url), "https://localhost:%u/page/%d", port,
             i + 1);
    weft_spawn(NULL, fetch, &f[i], NULL, &tasks[i]);
  }
  int err = 0;
  for (int i = 0; i < 5; i++) {
    int e = weft_await(tasks[i], NULL);
    weft_task_release(tasks[i]);
    if (e != 0) {
      err = e;
      continue;
    }
    printf("page %d: %d %s\n", i + 1, f[i].status, f[i].body);
  }
  return err;
}

static int redirect(weft_http_client_t* client) {
  char url[96];
  snprintf(url, sizeof(url), "https://localhost:%u/old-home", port);
  weft_http_response_t resp;
  int err = weft_http_get(client, url, &resp);
  if (err != 0)
    return err;
  const char* path = strstr(resp.url + strlen("https://"), "/");
  printf("old-home: %d %s, now at %s\n", resp.status, resp.body, path);
  weft_http_response_free(&resp);
  return 0;
}

/* The body in pieces, never whole in memory. */
static int download(weft_http_client_t* client) {
  char url[96];
  snprintf(url, sizeof(url), "https://localhost:%u/big", port);
  weft_http_send_t req = WEFT_HTTP_SEND_INIT;
  req.url = url;
  weft_http_response_t resp;
  weft_http_body_t* body;
  int err = weft_http_send(client, &req, &resp, &body);
  if (err != 0)
    return err;
  char buf[16384];
  size_t total = 0;
  ptrdiff_t n;
  while ((n = weft_http_body_read(body, buf, sizeof(buf))) > 0)
    total += (size_t)n;
  err = weft_http_body_close(body);
  printf("big: %d, %zu bytes read in pieces of at most %zu\n", resp.status,
         total, sizeof(buf));
  weft_http_response_free(&resp);
  return n < 0 ? (int)n : err;
}

/* A client that trusts only the system's CAs does not know ours. */
static _Atomic int saw_reason;

static void on_log(int level, const char* msg, void* arg) {
  (void)arg;
  if (level == WEFT_LOG_WARN && strstr(msg, "certificate verify failed"))
    atomic_store(&saw_reason, 1); /* seq_cst: read after the request */
}

static void untrusted(void) {
  weft_http_client_t* client;
  if (weft_http_client_new(NULL, &client) != 0)
    return;
  char url[96];
  snprintf(url, sizeof(url), "https://localhost:%u/page/1", port);
  weft_set_log(on_log, NULL);
  weft_http_response_t resp;
  int err = weft_http_get(client, url, &resp);
  weft_set_log(NULL, NULL);
  printf("without our CA: %s (reason logged: %s)\n", weft_strerror(err),
         atomic_load(&saw_reason) ? "yes" : "no"); /* seq_cst: see above */
  weft_http_client_free(client);
}

static int fetch_all(void) {
  weft_http_client_config_t cfg = WEFT_HTTP_CLIENT_CONFIG_INIT;
  cfg.ca_file = cert_path; /* trust our certificate, and only it */
  weft_http_client_t* client;
  int err = weft_http_client_new(&cfg, &client);
  if (err != 0)
    return err;
  err = fetch_many(client);
  if (err == 0)
    err = redirect(client);
  if (err == 0)
    err = download(client);
  weft_http_client_free(client);
  if (err == 0)
    untrusted();
  return err;
}

static int serve(void* arg, void** result) {
  (void)arg;
  (void)result;
  weft_tls_opts_t opts = {.cert_file = cert_path, .key_file = key_path};
  weft_http_server_config_t cfg = WEFT_HTTP_SERVER_CONFIG_INIT;
  int err = tmpdir[0] != '\0' ? make_certificate() : 0;
  if (err == 0)
    err = weft_tls_new(WEFT_TLS_SERVER, &opts, &cfg.tcp.tls);
  if (err != 0)
    return err;
  weft_server_t* srv;
  err = weft_http_serve("127.0.0.1", 0, handler, NULL, &cfg, &srv);
  weft_tls_free(cfg.tcp.tls); /* the server holds its own reference */
  if (err != 0)
    return err;
  port = weft_server_port(srv);
  printf("server: serving HTTPS\n");
  err = fetch_all();
  weft_server_close(srv);
  return err;
}

int main(int argc, char** argv) {
  if (!weft_tls_available()) {
    fprintf(stderr, "https_fetch: weft was built without TLS\n");
    return 1;
  }
  if (argc == 3) {
    snprintf(cert_path, sizeof(cert_path), "%s", argv[1]);
    snprintf(key_path, sizeof(key_path), "%s", argv[2]);
  } else {
    tmpdir[0] = 'x'; /* make one */
  }
  int err = weft_run(serve, NULL, NULL, NULL);
  if (tmpdir[0] == '/') {
    remove(cert_path);
    remove(key_path);
    remove(tmpdir);
  }
  if (err != 0) {
    fprintf(stderr, "https_fetch: %s\n", weft_strerror(err));
    return 1;
  }
  return 0;
}
