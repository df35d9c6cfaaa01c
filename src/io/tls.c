/* TLS streams: a weft_stream_t that speaks TLS (asyncio's start_tls),
 * as a filter between the stream's socket and its buffers.
 *
 * DESIGN
 * OpenSSL runs on memory BIOs, never on the socket: ciphertext the loop
 * reads goes into `rbio` (the filter's input hook, stream.c's read
 * callback), SSL_read decrypts it straight into the stream's read buffer,
 * and what OpenSSL has to send (handshake messages, records, alerts)
 * collects in `wbio` and leaves through the stream's own write path. So the
 * readers, limits, drain, cancellation and timeouts of stream.c are those
 * of a plain stream: a TLS stream is a weft_stream_t, and every stream
 * call works on it.
 *
 * States: handshaking (from weft_tls_start; writes get WEFT_EBUSY), open,
 * failed (a fatal TLS error: the stream's reads, writes and drains then
 * return it, after the bytes already decrypted). The handshake is driven
 * by the input hook as records arrive; weft_tls_start waits for it as the
 * stream's reader, so closing the stream, a cancellation or a timeout end
 * that wait as they end a read. A handshake given up that way leaves the
 * stream failed (WEFT_ETLS): only closing it makes sense then.
 *
 * Ends: close_notify from the peer is the end of stream (read returns 0).
 * The connection ending without one is reported as WEFT_ETRUNCATED once
 * the decrypted bytes are read, never as end of stream: an attacker who
 * cuts the connection cannot pass a truncated message for a whole one.
 * weft_stream_shutdown and weft_stream_close send our close_notify first
 * (weft_stream_abort does not), and do not wait for the peer's.
 *
 * The error queue: OpenSSL keeps errors per thread, and a task may resume
 * on another thread after any await. Every hook and call here clears the
 * queue before its OpenSSL calls and reads (then clears) what they left
 * within the same call, with no await in between: an error is turned into
 * the connection's code and message (c->err, c->msg) at once and never
 * read later, on a thread that did not make it.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/common.h"
#include "io/stream.h"
#include "io/tls_int.h"

enum { kHandshaking, kOpen, kFailed };
/* Room asked for in the read buffer per SSL_read: one record. */
enum { kPlainRoom = 16 * 1024 };
/* Plaintext per SSL_write between flushes, so wbio stays small. */
enum { kWriteStep = 256 * 1024 };

/* One TLS connection; lives as long as its stream. Under the stream's
 * home driver, like the stream. */
typedef struct {
  weft_tls_t* tls;
  SSL* ssl;
  BIO* rbio; /* ciphertext in; owned by ssl */
  BIO* wbio; /* ciphertext out; owned by ssl */
  int state;
  int reported;   /* the failure was passed to the stream */
  int got_notify; /* the peer's close_notify came */
  int sent_notify;
  int refused_reneg; /* we answered a renegotiation with no_renegotiation */
  int err;           /* the failure's code, once failed (or truncated) */
  long verify;       /* X509_V_* of a failed verification, else 0 */
  char msg[200];
} weft__tls_conn_t;

static const weft__stream_filter_t kTlsFilter;

static void set_failed(weft__tls_conn_t* c, int err, const char* msg) {
  if (c->state == kFailed)
    return;
  c->state = kFailed;
  c->err = err;
  if (msg != NULL)
    snprintf(c->msg, sizeof(c->msg), "%s", msg);
}

/* The failed OpenSSL call's reason, from this thread's queue (cleared). */
static void ssl_failed(weft__tls_conn_t* c, int ret) {
  int e = SSL_get_error(c->ssl, ret);
  unsigned long code = ERR_peek_error();
  const char* stage =
      c->state == kHandshaking ? "TLS handshake failed: " : "TLS: ";
  char msg[sizeof(c->msg)];
  int err = WEFT_ETLS;
  if (ERR_GET_LIB(code) == ERR_LIB_SSL &&
      ERR_GET_REASON(code) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
    c->verify = SSL_get_verify_result(c->ssl);
    snprintf(msg, sizeof(msg), "certificate verify failed: %s",
             X509_verify_cert_error_string(c->verify));
    err = WEFT_ECERT;
  } else if (code != 0) {
    snprintf(msg, sizeof(msg), "%s%s%s", stage,
             c->refused_reneg ? "renegotiation refused, then " : "",
             ERR_reason_error_string(code));
  } else {
    snprintf(msg, sizeof(msg), "%sOpenSSL error %d", stage, e);
  }
  ERR_clear_error();
  set_failed(c, err, msg);
}

/* Sends what OpenSSL wrote. */
static int flush(weft_stream_t* s, weft__tls_conn_t* c) {
  char* p;
  long n = BIO_get_mem_data(c->wbio, &p);
  if (n <= 0)
    return 0;
  int err = weft__stream_send_raw(s, p, (size_t)n);
  (void)BIO_reset(c->wbio); /* a writable memory BIO: empties it */
  return err;
}

/* The end of a hook: what OpenSSL wrote goes out (an alert before the
 * failure it announces), then a new failure breaks the stream. */
static int settle(weft_stream_t* s, weft__tls_conn_t* c) {
  int err = flush(s, c);
  if (err != 0 && c->state == kHandshaking) {
    /* Nothing can complete a handshake we cannot send. */
    char msg[sizeof(c->msg)];
    snprintf(msg, sizeof(msg), "TLS handshake failed: cannot send: %s",
             weft_strerror(err));
    set_failed(c, err, msg);
  }
  if (c->state == kFailed && !c->reported) {
    c->reported = 1;
    weft__stream_fail(s, c->err);
  }
  ERR_clear_error();
  return err;
}

static void handshake_step(weft__tls_conn_t* c) {
  int r = SSL_do_handshake(c->ssl);
  if (r == 1)
    c->state = kOpen;
  else if (SSL_get_error(c->ssl, r) != SSL_ERROR_WANT_READ)
    ssl_failed(c, r);
}

/* Decrypts every whole record there is into the read buffer. */
static void decrypt(weft_stream_t* s, weft__tls_conn_t* c) {
  while (c->state == kOpen && !c->got_notify) {
    size_t avail;
    char* p = weft__stream_rbuf_space(s, kPlainRoom, &avail);
    if (p == NULL) {
      set_failed(c, WEFT_ENOMEM, "out of memory for decrypted data");
      return;
    }
    int r = SSL_read(c->ssl, p, avail > INT_MAX ? INT_MAX : (int)avail);
    if (r > 0) {
      weft__stream_rbuf_commit(s, (size_t)r);
      continue;
    }
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_ZERO_RETURN) {
      c->got_notify = 1;
      weft__stream_set_eof(s);
    } else if (e != SSL_ERROR_WANT_READ) {
      ssl_failed(c, r);
    }
    return;
  }
}

/* The connection ended (UV_EOF) or failed (n < 0). */
static void peer_ended(weft_stream_t* s, weft__tls_conn_t* c, int n) {
  char msg[sizeof(c->msg)];
  if (c->state == kHandshaking) {
    snprintf(msg, sizeof(msg), "%s during the TLS handshake",
             n == UV_EOF ? "the peer closed the connection" : uv_strerror(n));
    set_failed(c, n == UV_EOF ? WEFT_ETLS : n, msg);
  } else if (n != UV_EOF) {
    weft__stream_fail_read(s, n);
  } else if (c->got_notify) {
    weft__stream_set_eof(s);
  } else if (c->state == kOpen) {
    int mid = SSL_has_pending(c->ssl) || BIO_pending(c->rbio) > 0;
    snprintf(c->msg, sizeof(c->msg),
             "the peer closed the connection without a TLS close_notify%s",
             mid ? ", in the middle of a record" : "");
    c->err = WEFT_ETRUNCATED;
    weft__stream_fail_read(s, WEFT_ETRUNCATED);
  }
}

static void tls_input(weft_stream_t* s, void* f, const char* data, ssize_t n) {
  weft__tls_conn_t* c = f;
  if (c->state == kFailed)
    return; /* the stream reports the failure; the rest is noise */
  ERR_clear_error();
  if (n < 0) {
    peer_ended(s, c, (int)n);
  } else if (n > 0 && BIO_write(c->rbio, data, (int)n) != (int)n) {
    set_failed(c, WEFT_ENOMEM, "out of memory for received data");
  } else {
    if (c->state == kHandshaking)
      handshake_step(c);
    decrypt(s, c);
  }
  settle(s, c);
}

static int tls_write(weft_stream_t* s, void* f, const char* data, size_t len) {
  weft__tls_conn_t* c = f;
  if (c->state == kHandshaking)
    return WEFT_EBUSY;
  if (c->state == kFailed)
    return c->err;
  if (c->sent_notify)
    return WEFT_ECLOSED;
  ERR_clear_error();
  int err = 0;
  while (len > 0 && err == 0) {
    int step = len > kWriteStep ? kWriteStep : (int)len;
    int r = SSL_write(c->ssl, data, step);
    if (r <= 0) {
      ssl_failed(c, r);
      break;
    }
    data += r;
    len -= (size_t)r;
    if (len > 0)
      err = flush(s, c);
  }
  int serr = settle(s, c);
  if (c->state == kFailed)
    return c->err;
  return err != 0 ? err : serr;
}

static int tls_finish(weft_stream_t* s, void* f) {
  weft__tls_conn_t* c = f;
  if (c->state == kFailed)
    return c->err;
  if (c->state != kOpen || c->sent_notify)
    return 0;
  c->sent_notify = 1;
  ERR_clear_error();
  SSL_shutdown(c->ssl); /* queues close_notify; the peer's is not awaited */
  return settle(s, c);
}

static void tls_free(void* f) {
  weft__tls_conn_t* c = f;
  SSL_free(c->ssl);
  weft__tls_release(c->tls);
  free(c);
}

static const weft__stream_filter_t kTlsFilter = {tls_input, tls_write,
                                                 tls_finish, tls_free};

/* ---- Starting ------------------------------------------------------------
 */

/* A client's server name: SNI and the name checked in the certificate,
 * or, for an address literal, only the address checked. */
static int set_peer_name(weft__tls_conn_t* c, const char* name) {
  unsigned char addr[16];
  int literal = inet_pton(AF_INET, name, addr) == 1 ||
                inet_pton(AF_INET6, name, addr) == 1;
  if (literal)
    return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), name) == 1;
  if (SSL_set_tlsext_host_name(c->ssl, name) != 1)
    return 0;
  SSL_set_hostflags(c->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  return !c->tls->verify || SSL_set1_host(c->ssl, name) == 1;
}

/* Notes a renegotiation we refused (OpenSSL answers it with a
 * no_renegotiation alert), so that the failure that usually follows says
 * why. */
static void on_message(int write_p, int version, int content_type,
                       const void* buf, size_t len, SSL* ssl, void* arg) {
  (void)version;
  (void)ssl;
  const unsigned char* b = buf;
  if (write_p && content_type == SSL3_RT_ALERT && len >= 2 &&
      b[1] == SSL_AD_NO_RENEGOTIATION)
    ((weft__tls_conn_t*)arg)->refused_reneg = 1;
}

static weft__tls_conn_t* conn_new(weft_tls_t* tls, const char* name, int* err) {
  weft__tls_conn_t* c = weft__calloc(1, sizeof(*c));
  *err = WEFT_ENOMEM;
  if (c == NULL)
    return NULL;
  c->tls = weft__tls_retain(tls);
  c->ssl = SSL_new(tls->ctx);
  c->rbio = BIO_new(BIO_s_mem());
  c->wbio = BIO_new(BIO_s_mem());
  if (c->ssl == NULL || c->rbio == NULL || c->wbio == NULL) {
    BIO_free(c->rbio);
    BIO_free(c->wbio);
    goto fail;
  }
  /* An empty input BIO means "more later" (WANT_READ), never the end. */
  BIO_set_mem_eof_return(c->rbio, -1);
  SSL_set_bio(c->ssl, c->rbio, c->wbio);
  SSL_set_msg_callback(c->ssl, on_message);
  SSL_set_msg_callback_arg(c->ssl, c);
  if (tls->server) {
    SSL_set_accept_state(c->ssl);
  } else {
    SSL_set_connect_state(c->ssl);
    if (name != NULL && !set_peer_name(c, name)) {
      *err = WEFT_EINVAL;
      goto fail;
    }
  }
  return c;
fail:
  SSL_free(c->ssl);
  weft__tls_release(c->tls);
  free(c);
  return NULL;
}

/* Waits, as the stream's reader, until the handshake ends. */
static int await_handshake(weft_stream_t* s, weft__tls_conn_t* c) {
  for (;;) {
    if (c->state == kOpen)
      return 0;
    if (c->state == kFailed)
      return c->err;
    int err = weft__stream_wait_input(s);
    if (err != 0 && c->state == kHandshaking) {
      set_failed(c, WEFT_ETLS,
                 err == WEFT_ECANCELED
                     ? "the TLS handshake was cancelled"
                     : "the TLS handshake could not wait for input");
      settle(s, c);
      return err;
    }
  }
}

static int start(weft_stream_t* s, weft_tls_t* tls, const char* name) {
  int err;
  if (weft__stream_filter_data(s, &kTlsFilter) != NULL)
    return WEFT_EBUSY;
  ERR_clear_error();
  weft__tls_conn_t* c = conn_new(tls, name, &err);
  ERR_clear_error();
  if (c == NULL)
    return err;
  /* Runs the first handshake step (a client's hello) at once. */
  if ((err = weft__stream_set_filter(s, &kTlsFilter, c)) == WEFT_EBUSY ||
      err == WEFT_ENOMEM) {
    tls_free(c);
    return err;
  }
  if (err != 0) /* the socket would not read: nothing can come */
    return err;
  return await_handshake(s, c);
}

int weft_tls_start(weft_stream_t* s, weft_tls_t* tls, const char* name) {
  if (s == NULL || tls == NULL ||
      (!tls->server && tls->verify && (name == NULL || *name == '\0')))
    return WEFT_EINVAL;
  int err = weft__stream_enter(s);
  if (err != 0)
    return err;
  if ((err = weft__io_check_cancel()) == 0)
    err = start(s, tls, name);
  weft__stream_leave(s);
  return err;
}

int weft_tls_connect(const char* host, unsigned port, weft_tls_t* tls,
                     weft_stream_t** out) {
  if (host == NULL || tls == NULL || out == NULL || tls->server)
    return WEFT_EINVAL;
  weft_stream_t* s;
  int err = weft_tcp_connect(host, port, &s);
  if (err != 0)
    return err;
  if ((err = weft_tls_start(s, tls, host)) != 0) {
    weft_stream_abort(s);
    return err;
  }
  *out = s;
  return 0;
}

/* ---- Looking at a TLS stream ---------------------------------------------
 */

/* Enters the stream; its TLS state, or NULL (and leaves) if it has none. */
static weft__tls_conn_t* enter_tls(weft_stream_t* s, int* err) {
  if ((*err = weft__stream_enter(s)) != 0)
    return NULL;
  weft__tls_conn_t* c = weft__stream_filter_data(s, &kTlsFilter);
  if (c == NULL) {
    weft__stream_leave(s);
    *err = WEFT_EINVAL;
  }
  return c;
}

/* enter_tls for the calls that copy a string out: checks buf and cap and
 * leaves buf empty, whatever happens next. */
static weft__tls_conn_t* enter_tls_str(weft_stream_t* s, char* buf, size_t cap,
                                       int* err) {
  if (buf == NULL || cap == 0) {
    *err = WEFT_EINVAL;
    return NULL;
  }
  buf[0] = '\0';
  return enter_tls(s, err);
}

int weft_tls_error(weft_stream_t* s, char* buf, size_t cap) {
  int err;
  weft__tls_conn_t* c = enter_tls_str(s, buf, cap, &err);
  if (c == NULL)
    return err;
  snprintf(buf, cap, "%s", c->msg);
  weft__stream_leave(s);
  return 0;
}

int weft_tls_verify_error(weft_stream_t* s) {
  int err;
  weft__tls_conn_t* c = enter_tls(s, &err);
  if (c == NULL)
    return err;
  int v = (int)c->verify;
  weft__stream_leave(s);
  return v;
}

int weft_tls_alpn(weft_stream_t* s, char* buf, size_t cap) {
  int err;
  weft__tls_conn_t* c = enter_tls_str(s, buf, cap, &err);
  if (c == NULL)
    return err;
  const unsigned char* p = NULL;
  unsigned n = 0;
  if (c->state == kOpen)
    SSL_get0_alpn_selected(c->ssl, &p, &n);
  if (n >= cap) {
    err = WEFT_ENOBUFS;
  } else {
    memcpy(buf, p, n);
    buf[n] = '\0';
  }
  weft__stream_leave(s);
  return err;
}

int weft_tls_version(weft_stream_t* s, char* buf, size_t cap) {
  int err;
  weft__tls_conn_t* c = enter_tls_str(s, buf, cap, &err);
  if (c == NULL)
    return err;
  if (c->state == kOpen &&
      (size_t)snprintf(buf, cap, "%s", SSL_get_version(c->ssl)) >= cap)
    err = WEFT_ENOBUFS;
  weft__stream_leave(s);
  return err;
}
