/* TLS contexts (weft_tls_new): an OpenSSL SSL_CTX with weft's defaults,
 * shared by every worker and every stream that uses it.
 *
 * DESIGN
 * An SSL_CTX may be used from many threads at once once it is set up
 * (OpenSSL locks its session cache and reference counts itself), so a
 * context is built once, read-only afterwards, and counted: the creator
 * holds one reference (weft_tls_free drops it), each TLS stream and each
 * server holds one, so a context freed while connections use it lives
 * until the last of them is gone.
 *
 * Defaults, chosen to be safe without options: TLS 1.2 at least;
 * renegotiation off (SSL_OP_NO_RENEGOTIATION: a peer's renegotiation is
 * refused, as Go and rustls do, which closes the renegotiation-attack
 * class for TLS 1.2); no compression (CRIME); a client verifies the
 * server's chain against the system store unless it is given CA files.
 *
 * OpenSSL's error queue is per thread: every function here clears it
 * before its OpenSSL calls and reads what they left there before it
 * returns (nothing here awaits), so nothing is carried to, or lost on,
 * another thread. tls.c follows the same rule (docs/design.md).
 */
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/common.h"
#include "io/tls_int.h"

weft_tls_t* weft__tls_retain(weft_tls_t* t) {
  /* relaxed: taking a reference needs no ordering; whoever passes the
   * context on already holds one, so it cannot be freed meanwhile. */
  atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
  return t;
}

void weft__tls_release(weft_tls_t* t) {
  /* acq_rel: the release orders this holder's use before the free; the
   * acquire makes the last holder see every other holder's use. */
  if (t != NULL &&
      atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1) {
    SSL_CTX_free(t->ctx);
    free(t->alpn);
    free(t);
  }
}

void weft__tls_err_text(char* buf, size_t cap, const char* what) {
  unsigned long code = ERR_get_error();
  const char* why = code != 0 ? ERR_reason_error_string(code) : NULL;
  snprintf(buf, cap, "%s%s%s", what, why != NULL ? ": " : "",
           why != NULL ? why : "");
  ERR_clear_error();
}

/* "h2,http/1.1" into ALPN's wire format (length-prefixed names). */
static int alpn_wire(const char* list, unsigned char** out, unsigned* len) {
  size_t n = strlen(list);
  unsigned char* w = weft__malloc(n + 1);
  if (w == NULL)
    return WEFT_ENOMEM;
  size_t at = 0;
  for (const char* p = list; *p != '\0';) {
    size_t k = strcspn(p, ",");
    if (k == 0 || k > 255) {
      free(w);
      return WEFT_EINVAL;
    }
    w[at++] = (unsigned char)k;
    memcpy(w + at, p, k);
    at += k;
    p += k + (p[k] == ',');
  }
  if (at == 0) {
    free(w);
    return WEFT_EINVAL;
  }
  *out = w;
  *len = (unsigned)at;
  return 0;
}

/* Server: the first of our protocols that the client offers; none in
 * common means no ALPN rather than a failed handshake. */
static int alpn_select(SSL* ssl, const unsigned char** out,
                       unsigned char* outlen, const unsigned char* in,
                       unsigned inlen, void* arg) {
  (void)ssl;
  weft_tls_t* t = arg;
  unsigned char* sel;
  if (SSL_select_next_proto(&sel, outlen, t->alpn, t->alpn_len, in, inlen) !=
      OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK;
  *out = sel;
  return SSL_TLSEXT_ERR_OK;
}

/* A file that cannot be read is reported as the system says (UV_ENOENT,
 * UV_EACCES), before OpenSSL's vaguer "system lib". */
static int readable(const char* path) {
  return access(path, R_OK) == 0 ? 0 : -errno;
}

static int load_cert_key(weft_tls_t* t, const weft_tls_opts_t* o) {
  int err;
  if ((err = readable(o->cert_file)) != 0 ||
      (err = readable(o->key_file)) != 0) {
    weft__log(WEFT_LOG_WARN, "tls: cannot read %s: %s",
              readable(o->cert_file) ? o->cert_file : o->key_file,
              weft_strerror(err));
    return err;
  }
  char msg[200];
  if (SSL_CTX_use_certificate_chain_file(t->ctx, o->cert_file) != 1)
    weft__tls_err_text(msg, sizeof(msg), o->cert_file);
  else if (SSL_CTX_use_PrivateKey_file(t->ctx, o->key_file, SSL_FILETYPE_PEM) !=
           1)
    weft__tls_err_text(msg, sizeof(msg), o->key_file);
  else if (SSL_CTX_check_private_key(t->ctx) != 1)
    weft__tls_err_text(msg, sizeof(msg), o->key_file);
  else
    return 0;
  weft__log(WEFT_LOG_WARN, "tls: %s", msg);
  return WEFT_ETLS;
}

static int load_verify(weft_tls_t* t, const weft_tls_opts_t* o) {
  int err;
  if (o->ca_file != NULL && (err = readable(o->ca_file)) != 0)
    return err;
  if (o->ca_dir != NULL && (err = readable(o->ca_dir)) != 0)
    return err;
  int ok = o->ca_file != NULL || o->ca_dir != NULL
               ? SSL_CTX_load_verify_locations(t->ctx, o->ca_file, o->ca_dir)
               : SSL_CTX_set_default_verify_paths(t->ctx);
  if (ok == 1)
    return 0;
  char msg[200];
  weft__tls_err_text(msg, sizeof(msg), "CA certificates");
  weft__log(WEFT_LOG_WARN, "tls: %s", msg);
  return WEFT_ETLS;
}

static int check_opts(int mode, const weft_tls_opts_t* o) {
  if (mode != WEFT_TLS_CLIENT && mode != WEFT_TLS_SERVER)
    return WEFT_EINVAL;
  if ((o->cert_file == NULL) != (o->key_file == NULL))
    return WEFT_EINVAL;
  if (mode == WEFT_TLS_SERVER && o->cert_file == NULL)
    return WEFT_EINVAL;
  if ((o->flags & WEFT_TLS_VERIFY_CLIENT) &&
      (mode != WEFT_TLS_SERVER || (o->ca_file == NULL && o->ca_dir == NULL)))
    return WEFT_EINVAL;
  int lo = o->min_version, hi = o->max_version;
  if ((lo != 0 && lo != WEFT_TLS_1_2 && lo != WEFT_TLS_1_3) ||
      (hi != 0 && hi != WEFT_TLS_1_2 && hi != WEFT_TLS_1_3) ||
      (lo != 0 && hi != 0 && lo > hi))
    return WEFT_EINVAL;
  return 0;
}

static int configure(weft_tls_t* t, int mode, const weft_tls_opts_t* o) {
  int err;
  SSL_CTX_set_options(t->ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  /* An idle connection keeps no 34 KiB of record buffers. */
  SSL_CTX_set_mode(t->ctx, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_min_proto_version(t->ctx, o->min_version != 0 ? o->min_version
                                                            : WEFT_TLS_1_2);
  if (o->max_version != 0)
    SSL_CTX_set_max_proto_version(t->ctx, o->max_version);
  if (o->cert_file != NULL && (err = load_cert_key(t, o)) != 0)
    return err;
  if (t->verify && (err = load_verify(t, o)) != 0)
    return err;
  int how = !t->verify  ? SSL_VERIFY_NONE
            : t->server ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
                        : SSL_VERIFY_PEER;
  SSL_CTX_set_verify(t->ctx, how, NULL);
  if (o->alpn != NULL) {
    if ((err = alpn_wire(o->alpn, &t->alpn, &t->alpn_len)) != 0)
      return err;
    if (mode == WEFT_TLS_SERVER)
      SSL_CTX_set_alpn_select_cb(t->ctx, alpn_select, t);
    else if (SSL_CTX_set_alpn_protos(t->ctx, t->alpn, t->alpn_len) != 0)
      return WEFT_ENOMEM; /* 0 is success here, unlike elsewhere */
  }
  return 0;
}

int weft_tls_new(int mode, const weft_tls_opts_t* opts, weft_tls_t** out) {
  static const weft_tls_opts_t none;
  const weft_tls_opts_t* o = opts != NULL ? opts : &none;
  int err;
  if (out == NULL)
    return WEFT_EINVAL;
  *out = NULL;
  if ((err = check_opts(mode, o)) != 0)
    return err;
  weft_tls_t* t = weft__calloc(1, sizeof(*t));
  if (t == NULL)
    return WEFT_ENOMEM;
  atomic_init(&t->refs, 1);
  t->server = mode == WEFT_TLS_SERVER;
  t->verify = t->server ? (o->flags & WEFT_TLS_VERIFY_CLIENT) != 0
                        : !(o->flags & WEFT_TLS_NO_VERIFY);
  ERR_clear_error();
  t->ctx = SSL_CTX_new(t->server ? TLS_server_method() : TLS_client_method());
  err = t->ctx == NULL ? WEFT_ENOMEM : configure(t, mode, o);
  ERR_clear_error(); /* nothing of ours stays on this thread's queue */
  if (err != 0) {
    weft__tls_release(t);
    return err;
  }
  *out = t;
  return 0;
}

int weft_tls_free(weft_tls_t* t) {
  weft__tls_release(t);
  return 0;
}

int weft__tls_mode(const weft_tls_t* t) {
  return t->server ? WEFT_TLS_SERVER : WEFT_TLS_CLIENT;
}

int weft_tls_available(void) {
  return 1;
}
