/*
 * probe - print a server certificate's pin and expiry.  See probe.h.
 */
#include "config.h"

#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/x509.h>

#include "monotime.h"
#include "netio.h"
#include "probe.h"
#include "smtpc.h"
#include "tlsc.h"

#define PROBE_TIMEOUT 30000

/* Read one reply; 0 when it has class `want`. */
static int
probe_reply(struct netio *n, int want, FILE *err)
{
	struct smtpc_reply r;
	char line[SMTPC_LINE_MAX], one[SMTPC_TEXT_MAX + 8];
	enum smtpc_feed f = SMTPC_MORE;
	long long deadline = monotime_ms() + PROBE_TIMEOUT;   /* for the whole reply */

	smtpc_reply_init(&r);
	while (f == SMTPC_MORE) {
		if (netio_read_line(n, line, sizeof(line), deadline) != NETIO_OK) {
			fprintf(err, "hoprelay: probe: %s\n", n->why);
			return -1;
		}
		f = smtpc_reply_feed(&r, line);
	}
	if (f != SMTPC_DONE || smtpc_reply_class(&r) != want) {
		fprintf(err, "hoprelay: probe: unexpected reply: %s\n",
		    f == SMTPC_BAD ? "(not SMTP)" : f == SMTPC_TOOBIG ? "(too long)" :
		    smtpc_reply_oneline(&r, one, sizeof(one)));
		return -1;
	}
	return 0;
}

/* Greeting, EHLO, STARTTLS, 220. */
static int
probe_starttls(struct netio *n, FILE *err)
{
	char cmd[300], host[256];

	if (gethostname(host, sizeof(host) - 1) != 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	snprintf(cmd, sizeof(cmd), "EHLO %s\r\n", host);
	if (probe_reply(n, 2, err) != 0 ||
	    netio_write(n, cmd, strlen(cmd), monotime_ms() + PROBE_TIMEOUT) != NETIO_OK ||
	    probe_reply(n, 2, err) != 0 ||
	    netio_write(n, "STARTTLS\r\n", 10, monotime_ms() + PROBE_TIMEOUT) != NETIO_OK ||
	    probe_reply(n, 2, err) != 0)
		return -1;
	return 0;
}

static void
probe_print_name(FILE *out, const char *label, const X509_NAME *name)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p;
	long len;

	if (b == NULL)
		return;
	X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253);
	len = BIO_get_mem_data(b, &p);
	fprintf(out, "%s: %.*s\n", label, (int)len, p);
	BIO_free(b);
}

/* Days from now until `t` (negative when past). */
static int
probe_days_left(const ASN1_TIME *t)
{
	int days = 0, secs = 0;

	if (ASN1_TIME_diff(&days, &secs, NULL, t) != 1)
		return 0;
	return days;
}

static void
probe_print_expiry(FILE *out, const ASN1_TIME *t)
{
	struct tm tm;
	char when[64] = "?";

	if (ASN1_TIME_to_tm(t, &tm) == 1)
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	fprintf(out, "expires: %s (in %d days)\n", when, probe_days_left(t));
}

/* Name the routes that pin `pin`; warn when that certificate expires soon. */
static void
probe_check_conf(const struct route_conf *conf, const unsigned char *pin, int days, FILE *out,
    FILE *err)
{
	int found = 0;

	for (size_t i = 0; conf != NULL && i < conf->nroutes; i++) {
		const struct route *r = &conf->routes[i];

		for (size_t k = 0; k < r->npins; k++) {
			if (memcmp(r->pins[k].sha256, pin, ROUTE_PIN_LEN) != 0)
				continue;
			found++;
			fprintf(out, "configured: route '%s', pin %zu of %zu\n", r->name, k + 1,
			    r->npins);
			if (days < PROBE_WARN_DAYS)
				fprintf(err, "warning: route '%s' pins this certificate's key and the "
				    "certificate expires in %d days: add the next key's pin now\n",
				    r->name, days);
		}
	}
	if (conf != NULL && found == 0)
		fprintf(out, "configured: no route of %s pins this key\n", conf->path);
}

static void
probe_print(SSL *ssl, const struct tlsc_info *info, const struct route_conf *conf, FILE *out,
    FILE *err)
{
	X509 *cert = SSL_get1_peer_certificate(ssl);
	unsigned char pin[ROUTE_PIN_LEN];
	char text[TLSC_PIN_TEXT];

	fprintf(out, "tls: %s %s\n", info->version, info->cipher);
	if (cert == NULL || tlsc_cert_pin(cert, pin) != 0) {
		fprintf(out, "certificate: none\n");
		X509_free(cert);
		return;
	}
	probe_print_name(out, "subject", X509_get_subject_name(cert));
	probe_print_name(out, "issuer", X509_get_issuer_name(cert));
	probe_print_expiry(out, X509_get0_notAfter(cert));
	tlsc_pin_format(pin, text);
	fprintf(out, "pin: \"%s\"\n", text);
	probe_check_conf(conf, pin, probe_days_left(X509_get0_notAfter(cert)), out, err);
	X509_free(cert);
}

/* Connect to the first address of `hop` that answers. */
static int
probe_connect(const struct route_hop *hop, struct netio *n, FILE *err)
{
	struct addrinfo *ai, *a;
	char why[256];

	if (netio_resolve(hop->host, hop->port, &ai, why, sizeof(why)) != 0) {
		fprintf(err, "hoprelay: probe: %s\n", why);
		return -1;
	}
	for (a = ai; a != NULL; a = a->ai_next)
		if (netio_connect(n, a->ai_addr, a->ai_addrlen, NULL,
		    monotime_ms() + PROBE_TIMEOUT) == NETIO_OK)
			break;
	freeaddrinfo(ai);
	if (a == NULL) {
		fprintf(err, "hoprelay: probe: connect to %s: %s\n", hop->host, n->why);
		return -1;
	}
	return 0;
}

int
probe_run(const char *target, bool starttls, const struct route_conf *conf, FILE *out,
    FILE *err)
{
	struct route_hop hop;
	struct netio n;
	struct tlsc_ctx *t = NULL;
	struct tlsc_info info;
	const char *why;
	char e[256];
	SSL *ssl = NULL;
	int rc = EX_TEMPFAIL;

	if (route_parse_hop(target, &hop, &why) != 0) {
		fprintf(err, "hoprelay: probe: '%s': %s\n", target, why);
		return EX_USAGE;
	}
	if (tlsc_ctx_new_probe(&t, e, sizeof(e)) != 0) {
		fprintf(err, "hoprelay: probe: %s\n", e);
		return EX_SOFTWARE;
	}
	if (probe_connect(&hop, &n, err) != 0)
		goto out;
	if (starttls && probe_starttls(&n, err) != 0)
		goto close;
	if (tlsc_handshake(t, n.fd, &hop, monotime_ms() + PROBE_TIMEOUT, &ssl, &info) != TLSC_OK) {
		fprintf(err, "hoprelay: probe: %s\n", info.why);
		goto close;
	}
	fprintf(out, "server: %s:%u\n", hop.host, hop.port);
	probe_print(ssl, &info, conf, out, err);
	rc = EX_OK;
	tlsc_close(ssl);
close:
	netio_close(&n);
out:
	tlsc_ctx_free(t);
	return rc;
}
