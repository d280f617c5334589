/*
 * tlsc - the TLS client side of STARTTLS: one OpenSSL context per route,
 * server authentication by CA and/or SPKI pin set, client certificates.
 *
 * Authentication happens inside the handshake (a certificate verify
 * callback): when the pin or the name does not match, the handshake fails
 * with an alert, so not one byte of the message can follow.
 *
 *   ca_file only      chain to that CA, and the name (server_name, or the
 *                     hop's host or address) in the certificate
 *   pins only         the leaf's SPKI SHA-256 is one of the pins; the name
 *                     too when server_name is set; no chain (self-signed ok)
 *   both              both
 *
 * Only the leaf is pinned: a chain presented by the server proves nothing
 * about certificates above the leaf when no CA is configured.
 *
 * A context is read-only once built: the state of a handshake lives with
 * the handshake, so hoprelayd's threads share one context per route.
 */
#ifndef HOP_TLSC_H
#define HOP_TLSC_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "route.h"

#define TLSC_PIN_TEXT 45   /* 44 base64 characters and the terminator */

struct tlsc_ctx;

enum tlsc_result {
	TLSC_OK,
	TLSC_AUTH,      /* the server is not who it must be: pin, name or chain */
	TLSC_FAILED,    /* the handshake failed for another reason */
	TLSC_TIMEOUT,
};

struct tlsc_info {
	char version[16];          /* "TLSv1.3" */
	char cipher[64];
	int pin_index;             /* 1-based index of the matching pin; 0: none */
	bool resumed;              /* an earlier session was resumed */
	char peer_pin[TLSC_PIN_TEXT];  /* the leaf's pin, when a certificate was seen */
	char why[256];             /* why it failed */
};

/*
 * Build the context for route `r` (tls = required or opportunistic): load
 * the CA file and the client certificate and key.  0, or -1 with a reason
 * in `err` naming the file.
 */
int tlsc_ctx_new(const struct route *r, struct tlsc_ctx **out, char *err, size_t errsz);
/* A context that accepts any certificate (hoprelay --probe inspects it). */
int tlsc_ctx_new_probe(struct tlsc_ctx **out, char *err, size_t errsz);
void tlsc_ctx_free(struct tlsc_ctx *t);

/*
 * Run the handshake on connected socket `fd` for `hop`.  On TLSC_OK *ssl
 * is the session (free it with tlsc_close); otherwise *ssl is NULL and
 * info->why says what went wrong.
 */
enum tlsc_result tlsc_handshake(struct tlsc_ctx *t, int fd, const struct route_hop *hop,
    long long deadline, SSL **ssl, struct tlsc_info *info);
/*
 * The same, offering `resume` (a session from an earlier handshake with the
 * same hop through the same context; NULL: none).  A resumed session is
 * held to the route's pins and name as a full handshake is.
 */
enum tlsc_result tlsc_handshake_resume(struct tlsc_ctx *t, int fd, const struct route_hop *hop,
    SSL_SESSION *resume, long long deadline, SSL **ssl, struct tlsc_info *info);
/* Let the servers hand out TLS 1.2 session tickets too (hoprelayd; call before use). */
void tlsc_allow_resumption(struct tlsc_ctx *t);
/* A reference to the resumable session of `ssl`, or NULL; free with SSL_SESSION_free. */
SSL_SESSION *tlsc_session_get(SSL *ssl);
/* Send close_notify without waiting for the answer, and free the session. */
void tlsc_close(SSL *ssl);

/* SHA-256 of the DER SubjectPublicKeyInfo of `cert`.  0 or -1. */
int tlsc_cert_pin(X509 *cert, unsigned char pin[ROUTE_PIN_LEN]);
/* The pin as base64 (the form hoprelay.conf takes). */
void tlsc_pin_format(const unsigned char pin[ROUTE_PIN_LEN], char out[TLSC_PIN_TEXT]);

#endif
