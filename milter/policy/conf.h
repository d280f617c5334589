/*
 * conf - hopmilter.conf, parsed once into an immutable struct.
 *
 * The option table in conf.c is the only place an option is defined; the
 * sample milter/hopmilter.conf and hopmilter.conf(5) document the same
 * names.  A struct conf never changes after conf_load() returns: a reload
 * builds a new one and the daemon swaps it in (see policy.h), so worker
 * threads can read it without locks.
 */
#ifndef HOP_CONF_H
#define HOP_CONF_H

#include <stdbool.h>
#include <stddef.h>

#include "dset.h"
#include "netaddr.h"

/* sizeof(sockaddr_un.sun_path) on Linux. */
#define CONF_UNIX_PATH_MAX 108
/* The longest authserv_id (hopmilter.conf(5)); authres_claims reads 255 bytes of one. */
#define CONF_AUTHSERV_ID_MAX 255

#define CONF_DEFAULT_PATH SYSCONFDIR "/hopmilter/hopmilter.conf"

/*
 * How a check that protects the site's reputation acts on its decision.
 * Relay protection (recipient domains, outbound disabled) has no mode: it
 * is always enforced, so no setting can turn the edge into an open relay.
 */
enum conf_mode {
	CONF_MODE_ENFORCE,     /* refuse */
	CONF_MODE_SHADOW,      /* decide, log WOULD-BLOCK, let the mail through */
	CONF_MODE_OFF,         /* not evaluated */
};

/* Header name patterns: "Name" or "Prefix*", compared without regard to case. */
struct conf_names {
	char **v;
	size_t n;
};

struct conf_outbound {
	bool enabled;          /* trusted clients may send to any domain */
	bool scrub_received;   /* delete Received headers naming inner addresses or names */
	struct conf_names remove_headers;  /* deleted from trusted-side mail, whatever they say */
	struct conf_names scrub_headers;   /* deleted when naming an inner address or name */
};

/* What to do with a message whose SPF result is the one configured. */
enum conf_spf_action {
	CONF_SPF_ACCEPT,       /* record the result in the headers, deliver */
	CONF_SPF_REJECT,       /* 5xx at MAIL FROM */
	CONF_SPF_TEMPFAIL,     /* 4xx at MAIL FROM */
};

struct conf_spf {
	bool enabled;          /* mode != CONF_MODE_OFF */
	enum conf_mode mode;   /* after dry_run and enabled = false are applied */
	enum conf_spf_action fail, softfail, permerror, temperror;
	bool received_spf;     /* add a Received-SPF header besides Authentication-Results */
	long dns_timeout_ms;   /* one DNS query, all servers and retries */
	long timeout_ms;       /* every lookup of one message (HELO and MAIL FROM) */
	/* Clients whose mail skips the SPF verdict (backup MX, forwarder, list host). */
	struct net_list exempt_networks;
	struct dset *exempt_client_names;  /* forward-confirmed names; ".example.org" = below */
};

/* One rate-limit tier: `rate` messages per `period_ms`, `burst` back to back. */
struct conf_rl_tier {
	long rate;
	long period_ms;
	long burst;
	unsigned ipv4_prefix;  /* 0-32: the client network a bucket covers */
	unsigned ipv6_prefix;  /* 0-128 */
};

/* "host:port" pairs of the sentinel section. */
struct conf_hostport {
	char *host;
	int port;
};

struct conf_sentinel {
	char *master;          /* "" = no Sentinel: use redis.host/port */
	struct conf_hostport *addrs;
	size_t naddrs;
	char *user;            /* AUTH towards the sentinels; "" = none */
	char *password;
};

struct conf_redis {
	char *host;            /* "" = no Redis: the local limiter only */
	int port;
	char *user;            /* ACL user; "" = password-only AUTH (or none) */
	char *password;        /* "" = no AUTH */
	int db;                /* SELECT after every connect when not 0 */
	char *prefix;          /* prepended to every key */
	long timeout_ms;       /* the most one decision waits on Redis */
	long connect_timeout_ms;
	long retry_interval_ms;/* longest pause between reconnect attempts */
	int pool_size;
	struct conf_sentinel sentinel;
};

enum conf_redis_error {
	CONF_REDIS_ERROR_LOCAL,    /* the same limit in process memory */
	CONF_REDIS_ERROR_ACCEPT,   /* no limit while Redis is away */
	CONF_REDIS_ERROR_TEMPFAIL, /* 451 every internet message */
};

struct conf_ratelimit {
	bool enabled;                  /* mode != CONF_MODE_OFF */
	enum conf_mode mode;           /* after dry_run and enabled = false */
	struct conf_rl_tier client;    /* tier 1 */
	bool subnet_enabled;
	struct conf_rl_tier subnet;    /* tier 2, checked in the same call */
	enum conf_redis_error on_redis_error;
	long local_max_entries;        /* size of the in-process table */
	struct conf_redis redis;
	/* Charged per accepted recipient, per client network (tier 1's prefixes). */
	bool recipients_enabled;
	struct conf_rl_tier recipients;
	/* Trusted clients: per SASL login, else per envelope sender (prefixes unused). */
	bool outbound_enabled;
	struct conf_rl_tier outbound;
	/* Never charged inbound (exemption lifts the limit only, no other check). */
	struct net_list exempt_networks;
	struct dset *exempt_client_names;   /* forward-confirmed; ".example.org" = below */
	struct dset *exempt_sender_domains; /* only with SPF pass for this client */
};

struct conf {
	char *path;            /* the file this was read from */
	char *socket;          /* libmilter connection spec */
	char *user;            /* "" = keep the current user */
	char *pid_file;        /* "" = none */
	int syslog_facility;   /* LOG_MAIL, ... */
	int log_level;         /* LOG_INFO, ... */
	char *authserv_id;     /* never empty: defaults to the host name */
	bool dry_run;          /* as written; already applied to every mode */
	enum conf_mode ban_mode;       /* banned_domains_mode, after dry_run */
	bool counters;         /* keep the statistics (stats.h) */
	char *control_socket;  /* "" = none; else the hopmilter-ctl socket's path */
	char *metrics_listen;  /* "" = none; else IP:PORT of the HTTP /metrics listener */
	char *effective;       /* every option as read, defaults included, secrets masked */
	struct net_list trusted_networks;
	struct net_list internal_networks;
	struct dset *internal_names;   /* inner host names; ".corp.example" covers subdomains */
	struct dset *allowed_domains;  /* ".example.org" entries cover subdomains */
	struct dset *banned_domains;   /* every entry covers its subdomains */
	struct conf_outbound outbound;
	struct conf_spf spf;
	struct conf_ratelimit ratelimit;
	/* Where 'user' and 'socket' were set (0: the default), for start-up's checks. */
	int user_line, socket_line;
};

/*
 * Read `path`.  Returns 0 and a new struct in *out, or -1 with
 * "FILE:LINE: reason" in `err`.
 */
int conf_load(const char *path, struct conf **out, char *err, size_t errsz);
/* The same from text held in memory; `name` stands in for the file name. */
int conf_load_string(const char *name, const char *text, struct conf **out, char *err,
    size_t errsz);
void conf_free(struct conf *c);

#endif
