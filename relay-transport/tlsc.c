/*
 * tlsc - OpenSSL client contexts, pin and name checks inside the handshake,
 * and the deadline-bound handshake itself.  See tlsc.h.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "netio.h"
#include "tlsc.h"

struct tlsc_ctx {
	SSL_CTX *ctx;
	const struct route *route;      /* NULL for the probe context */
};

/*
 * State of one handshake, on the caller's stack and reached from the
 * verify callback through the SSL object: the context itself stays
 * read-only, so several threads may run handshakes on it at once.
 */
struct tlsc_hs {
	const struct route *route;
	bool verified;
	int pin_index;
	char peer_pin[TLSC_PIN_TEXT];
	char why[256];
};

static int tlsc_hs_index = -1;
static pthread_once_t tlsc_hs_once = PTHREAD_ONCE_INIT;

static void
tlsc_hs_init(void)
{
	tlsc_hs_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

/* The oldest queued OpenSSL error as text; clears the queue. */
static const char *
tlsc_ssl_error(char *buf, size_t bufsz)
{
	unsigned long e = ERR_get_error();

	if (e == 0)
		snprintf(buf, bufsz, "unknown error");
	else
		ERR_error_string_n(e, buf, bufsz);
	ERR_clear_error();
	return buf;
}

int
tlsc_cert_pin(X509 *cert, unsigned char pin[ROUTE_PIN_LEN])
{
	unsigned char *der = NULL;
	unsigned int mdlen = 0;
	int len, rc;

	/* The whole DER SubjectPublicKeyInfo, as `openssl pkey -pubin -outform der`. */
	len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
	if (len <= 0)
		return -1;
	rc = EVP_Digest(der, (size_t)len, pin, &mdlen, EVP_sha256(), NULL);
	OPENSSL_free(der);
	return rc == 1 && mdlen == ROUTE_PIN_LEN ? 0 : -1;
}

void
tlsc_pin_format(const unsigned char pin[ROUTE_PIN_LEN], char out[TLSC_PIN_TEXT])
{
	EVP_EncodeBlock((unsigned char *)out, pin, ROUTE_PIN_LEN);
}

/* 1-based index of `pin` in the route's set, 0 when absent.  Constant time per pin. */
static int
tlsc_pin_lookup(const struct route *r, const unsigned char pin[ROUTE_PIN_LEN])
{
	int found = 0;

	for (size_t i = 0; i < r->npins; i++)
		if (CRYPTO_memcmp(r->pins[i].sha256, pin, ROUTE_PIN_LEN) == 0 && found == 0)
			found = (int)i + 1;
	return found;
}

static int __attribute__((format(printf, 4, 5)))
tlsc_fail(struct tlsc_hs *t, X509_STORE_CTX *xs, int err, const char *fmt, ...)
{
	va_list ap;

	X509_STORE_CTX_set_error(xs, err);
	va_start(ap, fmt);
	vsnprintf(t->why, sizeof(t->why), fmt, ap);
	va_end(ap);
	return 0;
}

/*
 * Replaces OpenSSL's chain verification for routes with tls = required.
 * Returning 0 makes the handshake fail with an alert, before any SMTP
 * command can be sent over the session.
 */
static int
tlsc_verify(X509_STORE_CTX *xs, void *arg)
{
	SSL *s = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct tlsc_hs *t = s != NULL ? SSL_get_ex_data(s, tlsc_hs_index) : NULL;
	const struct route *r;
	X509 *leaf = X509_STORE_CTX_get0_cert(xs);
	unsigned char pin[ROUTE_PIN_LEN];

	(void)arg;
	if (t == NULL) {
		X509_STORE_CTX_set_error(xs, X509_V_ERR_UNSPECIFIED);
		return 0;
	}
	r = t->route;
	if (leaf == NULL || tlsc_cert_pin(leaf, pin) != 0)
		return tlsc_fail(t, xs, X509_V_ERR_UNSPECIFIED, "%s", "no usable server certificate");
	tlsc_pin_format(pin, t->peer_pin);
	if (r->ca_file[0] != '\0') {
		/* The SSL's verify parameters (host or IP to match) are already in `xs`. */
		if (X509_verify_cert(xs) != 1)
			return tlsc_fail(t, xs, X509_STORE_CTX_get_error(xs),
			    "server certificate not trusted: %s",
			    X509_verify_cert_error_string(X509_STORE_CTX_get_error(xs)));
	} else if (r->server_name[0] != '\0' && X509_check_host(leaf, r->server_name, 0,
	    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) != 1) {
		return tlsc_fail(t, xs, X509_V_ERR_HOSTNAME_MISMATCH,
		    "server certificate does not name %s", r->server_name);
	}
	if (r->npins > 0 && (t->pin_index = tlsc_pin_lookup(r, pin)) == 0)
		return tlsc_fail(t, xs, X509_V_ERR_CERT_REJECTED,
		    "server key matches no configured pin (it has pin %s)", t->peer_pin);
	t->verified = true;
	return 1;
}

/*
 * A resumed session skips the verify callback: OpenSSL restores the leaf
 * the session was made with.  Pins and the name are checked again on that
 * leaf, so a reload that drops a pin also stops resumption with its key.
 * (The chain was verified when the session was made, with the same
 * context: sessions never outlive the context that created them.)
 */
static void
tlsc_verify_resumed(SSL *s, struct tlsc_hs *t)
{
	const struct route *r = t->route;
	X509 *leaf = SSL_get0_peer_certificate(s);
	unsigned char pin[ROUTE_PIN_LEN];

	if (leaf == NULL || tlsc_cert_pin(leaf, pin) != 0) {
		snprintf(t->why, sizeof(t->why), "resumed session without a server certificate");
		return;
	}
	tlsc_pin_format(pin, t->peer_pin);
	if (r->ca_file[0] != '\0' && SSL_get_verify_result(s) != X509_V_OK) {
		snprintf(t->why, sizeof(t->why), "resumed session was not verified");
		return;
	}
	if (r->ca_file[0] == '\0' && r->server_name[0] != '\0' && X509_check_host(leaf,
	    r->server_name, 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) != 1) {
		snprintf(t->why, sizeof(t->why), "server certificate does not name %s", r->server_name);
		return;
	}
	if (r->npins > 0 && (t->pin_index = tlsc_pin_lookup(r, pin)) == 0) {
		snprintf(t->why, sizeof(t->why), "server key matches no configured pin (it has pin %s)",
		    t->peer_pin);
		return;
	}
	t->verified = true;
}

static SSL_CTX *
tlsc_base_ctx(char *err, size_t errsz)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	char e[256];

	if (ctx == NULL) {
		snprintf(err, errsz, "cannot create a TLS context: %s", tlsc_ssl_error(e, sizeof(e)));
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_TICKET);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	return ctx;
}

static int
tlsc_load_files(SSL_CTX *ctx, const struct route *r, char *err, size_t errsz)
{
	const char *key = r->client_key[0] != '\0' ? r->client_key : r->client_cert;
	char e[256];

	if (r->ca_file[0] != '\0' && SSL_CTX_load_verify_locations(ctx, r->ca_file, NULL) != 1) {
		snprintf(err, errsz, "route '%s': cannot load ca_file %s: %s", r->name, r->ca_file,
		    tlsc_ssl_error(e, sizeof(e)));
		return -1;
	}
	if (r->client_cert[0] == '\0')
		return 0;
	if (SSL_CTX_use_certificate_chain_file(ctx, r->client_cert) != 1) {
		snprintf(err, errsz, "route '%s': cannot load client_cert %s: %s", r->name,
		    r->client_cert, tlsc_ssl_error(e, sizeof(e)));
		return -1;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errsz, "route '%s': cannot use the client key %s: %s", r->name, key,
		    tlsc_ssl_error(e, sizeof(e)));
		return -1;
	}
	return 0;
}

int
tlsc_ctx_new(const struct route *r, struct tlsc_ctx **out, char *err, size_t errsz)
{
	struct tlsc_ctx *t = calloc(1, sizeof(*t));

	*out = NULL;
	if (t == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	pthread_once(&tlsc_hs_once, tlsc_hs_init);
	t->route = r;
	t->ctx = tlsc_base_ctx(err, errsz);
	if (t->ctx == NULL || tlsc_load_files(t->ctx, r, err, errsz) != 0) {
		tlsc_ctx_free(t);
		return -1;
	}
	if (r->tls == ROUTE_TLS_REQUIRED) {
		SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
		SSL_CTX_set_cert_verify_callback(t->ctx, tlsc_verify, NULL);
	} else {
		SSL_CTX_set_verify(t->ctx, SSL_VERIFY_NONE, NULL);
	}
	*out = t;
	return 0;
}

int
tlsc_ctx_new_probe(struct tlsc_ctx **out, char *err, size_t errsz)
{
	struct tlsc_ctx *t = calloc(1, sizeof(*t));

	*out = NULL;
	pthread_once(&tlsc_hs_once, tlsc_hs_init);
	if (t == NULL || (t->ctx = tlsc_base_ctx(err, errsz)) == NULL) {
		free(t);
		return -1;
	}
	SSL_CTX_set_verify(t->ctx, SSL_VERIFY_NONE, NULL);
	*out = t;
	return 0;
}

void
tlsc_ctx_free(struct tlsc_ctx *t)
{
	if (t == NULL)
		return;
	SSL_CTX_free(t->ctx);
	free(t);
}

/* SNI and the name (or address) the certificate must carry. */
static int
tlsc_set_names(struct tlsc_ctx *t, SSL *s, const struct route_hop *hop)
{
	const struct route *r = t->route;
	const char *name = r != NULL && r->server_name[0] != '\0' ? r->server_name :
	    hop->is_literal ? NULL : hop->host;

	if (name != NULL && SSL_set_tlsext_host_name(s, name) != 1)
		return -1;
	if (r == NULL || r->tls != ROUTE_TLS_REQUIRED || r->ca_file[0] == '\0')
		return 0;
	/* CA mode always checks a name: the configured one, else the hop's own. */
	SSL_set_hostflags(s, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (name != NULL)
		return SSL_set1_host(s, name) == 1 ? 0 : -1;
	return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s), hop->host) == 1 ? 0 : -1;
}

static enum tlsc_result
tlsc_connect_loop(struct tlsc_hs *t, SSL *s, int fd, long long deadline, struct tlsc_info *info)
{
	char e[256];

	for (;;) {
		int rc, w;
		short ev;

		ERR_clear_error();
		errno = 0;
		rc = SSL_connect(s);
		if (rc == 1)
			return TLSC_OK;
		switch (SSL_get_error(s, rc)) {
		case SSL_ERROR_WANT_READ: ev = POLLIN; break;
		case SSL_ERROR_WANT_WRITE: ev = POLLOUT; break;
		default:
			if (t->why[0] != '\0') {
				snprintf(info->why, sizeof(info->why), "%s", t->why);
				ERR_clear_error();
				return TLSC_AUTH;
			}
			if (ERR_peek_error() != 0)
				tlsc_ssl_error(e, sizeof(e));
			else
				snprintf(e, sizeof(e), "%s", errno ? strerror(errno) :
				    "connection closed during the handshake");
			snprintf(info->why, sizeof(info->why), "TLS handshake failed: %.200s", e);
			return TLSC_FAILED;
		}
		w = netio_wait(fd, ev, deadline);
		if (w <= 0) {
			snprintf(info->why, sizeof(info->why), "TLS handshake %s",
			    w == 0 ? "timed out" : "failed: poll error");
			return w == 0 ? TLSC_TIMEOUT : TLSC_FAILED;
		}
	}
}

static void
tlsc_fill_info(const struct tlsc_hs *t, SSL *s, struct tlsc_info *info)
{
	info->resumed = SSL_session_reused(s) == 1;
	snprintf(info->version, sizeof(info->version), "%s", SSL_get_version(s));
	snprintf(info->cipher, sizeof(info->cipher), "%s", SSL_get_cipher_name(s));
	info->pin_index = t->pin_index;
	snprintf(info->peer_pin, sizeof(info->peer_pin), "%s", t->peer_pin);
}

enum tlsc_result
tlsc_handshake(struct tlsc_ctx *t, int fd, const struct route_hop *hop, long long deadline,
    SSL **ssl, struct tlsc_info *info)
{
	return tlsc_handshake_resume(t, fd, hop, NULL, deadline, ssl, info);
}

enum tlsc_result
tlsc_handshake_resume(struct tlsc_ctx *t, int fd, const struct route_hop *hop,
    SSL_SESSION *resume, long long deadline, SSL **ssl, struct tlsc_info *info)
{
	struct tlsc_hs hs = {.route = t->route};
	SSL *s;
	enum tlsc_result r;
	bool must_verify = t->route != NULL && t->route->tls == ROUTE_TLS_REQUIRED;

	*ssl = NULL;
	memset(info, 0, sizeof(*info));
	s = SSL_new(t->ctx);
	if (s == NULL || SSL_set_fd(s, fd) != 1 || SSL_set_ex_data(s, tlsc_hs_index, &hs) != 1 ||
	    tlsc_set_names(t, s, hop) != 0 || (resume != NULL && SSL_set_session(s, resume) != 1)) {
		char e[256];

		snprintf(info->why, sizeof(info->why), "TLS set-up failed: %.200s",
		    tlsc_ssl_error(e, sizeof(e)));
		SSL_free(s);
		return TLSC_FAILED;
	}
	r = tlsc_connect_loop(&hs, s, fd, deadline, info);
	if (r == TLSC_OK && must_verify && SSL_session_reused(s) == 1)
		tlsc_verify_resumed(s, &hs);
	tlsc_fill_info(&hs, s, info);
	/* The callback's state lives on this stack frame: unhook it. */
	SSL_set_ex_data(s, tlsc_hs_index, NULL);
	/* Belt and braces: a required route never proceeds unverified. */
	if (r == TLSC_OK && must_verify && !hs.verified) {
		snprintf(info->why, sizeof(info->why), "%s", hs.why[0] != '\0' ? hs.why :
		    "the server certificate was not verified");
		r = TLSC_AUTH;
	}
	if (r != TLSC_OK) {
		SSL_free(s);
		return r;
	}
	*ssl = s;
	return TLSC_OK;
}

void
tlsc_allow_resumption(struct tlsc_ctx *t)
{
	/* TLS 1.2 tickets; TLS 1.3 tickets arrive whatever the client asks. */
	SSL_CTX_clear_options(t->ctx, SSL_OP_NO_TICKET);
}

SSL_SESSION *
tlsc_session_get(SSL *ssl)
{
	SSL_SESSION *sess = ssl != NULL ? SSL_get1_session(ssl) : NULL;

	if (sess != NULL && SSL_SESSION_is_resumable(sess) != 1) {
		SSL_SESSION_free(sess);
		sess = NULL;
	}
	return sess;
}

void
tlsc_close(SSL *ssl)
{
	if (ssl == NULL)
		return;
	/* One non-blocking attempt: the server's answer is not worth waiting for. */
	ERR_clear_error();
	SSL_shutdown(ssl);
	ERR_clear_error();
	SSL_free(ssl);
}
