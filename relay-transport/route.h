/*
 * route - hoprelay.conf, parsed once into an immutable struct.
 *
 * A route is an ordered list of hops (the next nodes across the VPN) plus
 * how to talk to them: TLS policy, trust anchors (a CA file and/or a set of
 * SPKI SHA-256 pins), the name the server must prove, a client certificate,
 * HELO name, source address and timeouts.  hoprelay picks one route per
 * message from its nexthop argument and tries the hops in order.
 *
 * The option table in route.c is the only place an option is defined; the
 * sample relay-transport/hoprelay.conf and hoprelay.conf(5) document the
 * same names.  Nothing here opens a socket or a certificate file: checking
 * that the TLS files load is tlsc's job (hoprelay -n does both).
 */
#ifndef HOP_ROUTE_H
#define HOP_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "netaddr.h"

#define ROUTE_DEFAULT_PATH SYSCONFDIR "/hoprelay/hoprelay.conf"
#define ROUTE_PIN_LEN 32        /* SHA-256 */
#define ROUTE_HOST_MAX 255
#define ROUTE_NAME_MAX 255      /* a route's title (hoprelay.conf(5)) */

enum route_tls {
	ROUTE_TLS_REQUIRED,       /* STARTTLS and an authenticated server, or no delivery */
	ROUTE_TLS_OPPORTUNISTIC,  /* STARTTLS when offered, server not authenticated */
	ROUTE_TLS_NONE,           /* never STARTTLS */
};

struct route_hop {
	char host[ROUTE_HOST_MAX + 1];  /* a name or an address literal, no brackets */
	unsigned port;
	bool is_literal;                /* host is an IPv4/IPv6 address */
};

struct route_pin {
	unsigned char sha256[ROUTE_PIN_LEN];
};

/* Per-step time limits in milliseconds (RFC 5321 section 4.5.3.2 defaults). */
struct route_timeouts {
	long connect;
	long greeting;     /* the initial 220 */
	long command;      /* EHLO/HELO, STARTTLS and the handshake, MAIL, RCPT, RSET, QUIT */
	long data_init;    /* DATA up to the 354 */
	long data_block;   /* each write of message data */
	long data_done;    /* the final "." up to the reply */
};

struct route {
	char *name;
	struct route_hop *hops;
	size_t nhops;
	enum route_tls tls;
	char *ca_file;              /* "" = none */
	struct route_pin *pins;     /* leaf SPKI SHA-256; any one matches */
	size_t npins;
	char *server_name;          /* "" = the hop's host */
	char *client_cert;          /* "" = no client certificate */
	char *client_key;           /* "" = the key is in client_cert */
	char *helo_name;            /* never empty: defaults to the host name */
	bool have_source;
	struct net_addr source;     /* bind here before connecting */
	struct route_timeouts timeouts;
};

struct route_conf {
	char *path;
	int syslog_facility;
	int log_level;
	char *default_route;        /* "" = a nexthop must name a route */
	struct route *routes;
	size_t nroutes;
};

/*
 * Read `path`.  Returns 0 and a new struct in *out, or -1 with
 * "FILE:LINE: reason" (or "FILE: reason") in `err`.
 */
int route_load(const char *path, struct route_conf **out, char *err, size_t errsz);
/* The same from text in memory; `name` stands in for the file name. */
int route_load_string(const char *name, const char *text, struct route_conf **out,
    char *err, size_t errsz);
void route_conf_free(struct route_conf *c);

/*
 * The route for `nexthop` (a route name, compared without regard to case),
 * else the default route, else NULL.  The result lives as long as `c`.
 */
const struct route *route_find(const struct route_conf *c, const char *nexthop);

/*
 * Parse "host", "host:port", "192.0.2.1:25", "[2001:db8::1]:25" or
 * "[2001:db8::1]" (port 25 when absent).  0, or -1 with a static *why.
 */
int route_parse_hop(const char *text, struct route_hop *out, const char **why);
/* "host:port" or "[v6]:port" for logs and messages. */
const char *route_hop_format(const struct route_hop *h, char *buf, size_t bufsz);

/*
 * Parse a pin as printed by `hoprelay --probe` (base64 of the SHA-256 of
 * the DER SubjectPublicKeyInfo, 44 characters).  0, or -1 with *why.
 */
int route_parse_pin(const char *text, struct route_pin *out, const char **why);

#endif
