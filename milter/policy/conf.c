/*
 * conf - the hopmilter.conf option table, validation, and conversion of the
 * parsed libconfuse tree into struct conf.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cfgx.h"
#include "conf.h"
#include "conflist.h"
#include "domain.h"
#include "scrub.h"
#include "log.h"

static const struct cfgx_enum conf_facilities[] = {
	{"mail", LOG_MAIL}, {"daemon", LOG_DAEMON}, {"user", LOG_USER},
	{"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2},
	{"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5},
	{"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7}, {NULL, 0},
};

static int
conf_cb_facility(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	return cfgx_parse_enum(cfg, opt, value, result, conf_facilities);
}

static const struct cfgx_enum conf_levels[] = {
	{"error", LOG_ERR}, {"warning", LOG_WARNING}, {"notice", LOG_NOTICE},
	{"info", LOG_INFO}, {"debug", LOG_DEBUG}, {NULL, 0},
};

static int
conf_cb_level(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	return cfgx_parse_enum(cfg, opt, value, result, conf_levels);
}

static const struct cfgx_enum conf_spf_actions[] = {
	{"reject", CONF_SPF_REJECT}, {"tempfail", CONF_SPF_TEMPFAIL},
	{"accept", CONF_SPF_ACCEPT}, {NULL, 0},
};

static int
conf_cb_spf_action(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	return cfgx_parse_enum(cfg, opt, value, result, conf_spf_actions);
}

static const struct cfgx_enum conf_modes[] = {
	{"enforce", CONF_MODE_ENFORCE}, {"shadow", CONF_MODE_SHADOW},
	{"off", CONF_MODE_OFF}, {NULL, 0},
};

static int
conf_cb_mode(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	return cfgx_parse_enum(cfg, opt, value, result, conf_modes);
}

/*
 * The mode a check runs in: `enabled = false` is "off"; dry_run turns every
 * enforced check into a shadow one.
 */
static enum conf_mode
conf_mode(bool enabled, long mode, bool dry_run)
{
	if (!enabled || mode == CONF_MODE_OFF)
		return CONF_MODE_OFF;
	return dry_run ? CONF_MODE_SHADOW : (enum conf_mode)mode;
}

/* "unix:/abs/path", "local:/abs/path", "inet:PORT[@HOST]", "inet6:PORT[@HOST]". */
static int
conf_validate_socket(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *s = cfg_opt_getnstr(opt, 0);
	const char *rest = NULL;

	if (cfgx_check_text(cfg, opt, CFGX_TEXT_MAX) != 0)
		return -1;
	if (strncmp(s, "unix:", 5) == 0 || strncmp(s, "local:", 6) == 0) {
		rest = strchr(s, ':') + 1;
		if (rest[0] != '/' || strlen(rest) >= CONF_UNIX_PATH_MAX) {
			cfg_error(cfg, "option 'socket': '%s': the socket path must be absolute and "
			    "shorter than %d characters", s, CONF_UNIX_PATH_MAX);
			return -1;
		}
		return 0;
	}
	if (strncmp(s, "inet:", 5) == 0 || strncmp(s, "inet6:", 6) == 0) {
		char *end;
		long port;

		rest = strchr(s, ':') + 1;
		port = strtol(rest, &end, 10);
		if (end == rest || (*end != '\0' && *end != '@') || port < 1 || port > 65535) {
			cfg_error(cfg, "option 'socket': '%s': expected inet:PORT@HOST with a port in 1-65535", s);
			return -1;
		}
		return 0;
	}
	cfg_error(cfg, "option 'socket': '%s': expected unix:/path, inet:PORT@HOST or inet6:PORT@HOST", s);
	return -1;
}

/*
 * authserv_id goes into every Authentication-Results header hopmilter adds
 * and is what a forged one is recognised by (authres.c).  An ASCII RFC 2045
 * token (RFC 8601 "value"; in practice a host name) is kept as written.  A
 * name with U-labels must be a valid IDNA2008 domain and is kept as its
 * A-label form (conf_from_cfg), so the header stays ASCII; the forged-header
 * check compares through domain_normalize, so either spelling of a forged
 * header matches.  At most CONF_AUTHSERV_ID_MAX bytes: authres_claims reads
 * an id into 256 bytes.
 */
static int
conf_validate_authserv_id(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *s = cfg_opt_getnstr(opt, 0), *why;
	char norm[DOMAIN_MAX + 1];
	bool ascii = true;

	if (cfgx_check_text(cfg, opt, CONF_AUTHSERV_ID_MAX) != 0)
		return -1;
	for (const char *p = s; *p != '\0'; p++)
		ascii = ascii && (unsigned char)*p < 0x80;
	if (!ascii && domain_normalize(s, norm, sizeof(norm), &why) != 0) {
		cfg_error(cfg, "option 'authserv_id': '%s': %s", s, why);
		return -1;
	}
	for (const char *p = s; ascii && *p != '\0'; p++) {
		if (*p == ' ' || strchr("()<>@,;:\\\"/[]?=", *p) != NULL) {
			cfg_error(cfg, "option 'authserv_id': '%s': use a host name (letters, digits, '.', '-')", s);
			return -1;
		}
	}
	return 0;
}

static const struct cfgx_enum conf_redis_errors[] = {
	{"local", CONF_REDIS_ERROR_LOCAL}, {"accept", CONF_REDIS_ERROR_ACCEPT},
	{"tempfail", CONF_REDIS_ERROR_TEMPFAIL}, {NULL, 0},
};

static int
conf_cb_redis_error(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	return cfgx_parse_enum(cfg, opt, value, result, conf_redis_errors);
}

static int
conf_validate_range(cfg_t *cfg, cfg_opt_t *opt, long lo, long hi)
{
	long v = cfg_opt_getnint(opt, 0);

	if (v < lo || v > hi) {
		cfg_error(cfg, "option '%s': %ld is outside %ld-%ld", opt->name, v, lo, hi);
		return -1;
	}
	return 0;
}

static int
conf_validate_v4prefix(cfg_t *cfg, cfg_opt_t *opt)
{
	return conf_validate_range(cfg, opt, 0, 32);
}

static int
conf_validate_v6prefix(cfg_t *cfg, cfg_opt_t *opt)
{
	return conf_validate_range(cfg, opt, 0, 128);
}

static int
conf_validate_pool(cfg_t *cfg, cfg_opt_t *opt)
{
	return conf_validate_range(cfg, opt, 1, 64);
}

static int
conf_validate_local_max(cfg_t *cfg, cfg_opt_t *opt)
{
	return conf_validate_range(cfg, opt, 16, 16L * 1024 * 1024);
}

/* Durations parse as ms >= 0; a zero timeout or period is meaningless. */
static int
conf_validate_duration(cfg_t *cfg, cfg_opt_t *opt)
{
	if (cfg_opt_getnint(opt, 0) < 1) {
		cfg_error(cfg, "option '%s': must be at least 1ms", opt->name);
		return -1;
	}
	return 0;
}

/*
 * The key prefix: printable, no space, and no brace -- a brace would move
 * the Redis Cluster hash tag away from the client network.
 */
static int
conf_validate_prefix(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *s = cfg_opt_getnstr(opt, 0);

	if (cfgx_check_text(cfg, opt, 64) != 0)
		return -1;
	for (const char *p = s; *p != '\0'; p++) {
		if (*p <= ' ' || *p >= 0x7f || *p == '{' || *p == '}') {
			cfg_error(cfg, "option 'prefix': '%s': use printable characters, no space or brace", s);
			return -1;
		}
	}
	return 0;
}

/* "HOST:PORT" or "[IPv6]:PORT" into `out` (host allocated).  0, or -1 with `why`. */
static int
conf_parse_hostport(const char *s, struct conf_hostport *out, const char **why)
{
	const char *colon = strrchr(s, ':'), *h = s;
	size_t hlen;
	char *end;
	long port;

	*why = "expected HOST:PORT or [IPv6]:PORT";
	if (colon == NULL || colon == s)
		return -1;
	hlen = (size_t)(colon - s);
	if (s[0] == '[') {
		if (hlen < 3 || s[hlen - 1] != ']')
			return -1;
		h = s + 1;
		hlen -= 2;
	} else if (memchr(s, ':', hlen) != NULL) {
		return -1;
	}
	port = strtol(colon + 1, &end, 10);
	if (end == colon + 1 || *end != '\0' || port < 1 || port > 65535) {
		*why = "the port must be 1-65535";
		return -1;
	}
	if (out != NULL) {
		out->host = strndup(h, hlen);
		out->port = (int)port;
		*why = "out of memory";
		if (out->host == NULL)
			return -1;
	}
	return 0;
}

/* control_socket: "" (off) or an absolute path that fits a sockaddr_un. */
static int
conf_validate_control_socket(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *s = cfg_opt_getnstr(opt, 0);

	if (cfgx_check_text(cfg, opt, CFGX_TEXT_MAX) != 0)
		return -1;
	if (s == NULL || s[0] == '\0')
		return 0;
	if (s[0] != '/' || strlen(s) >= CONF_UNIX_PATH_MAX) {
		cfg_error(cfg, "option 'control_socket': '%s': use an absolute path shorter than %d "
		    "characters, or \"\" for none", s, CONF_UNIX_PATH_MAX);
		return -1;
	}
	return 0;
}

/* metrics_listen: "" (off) or IP:PORT / [IPv6]:PORT -- an address, never a name to resolve. */
static int
conf_validate_metrics_listen(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *s = cfg_opt_getnstr(opt, 0), *why;
	struct conf_hostport hp;
	struct net_addr a;
	int bad;

	if (cfgx_check_text(cfg, opt, CFGX_TEXT_MAX) != 0)
		return -1;
	if (s == NULL || s[0] == '\0')
		return 0;
	if (conf_parse_hostport(s, &hp, &why) != 0) {
		cfg_error(cfg, "option 'metrics_listen': '%s': %s", s, why);
		return -1;
	}
	bad = net_addr_parse(hp.host, &a) != 0;
	free(hp.host);
	if (bad) {
		cfg_error(cfg, "option 'metrics_listen': '%s': the host must be an IP address "
		    "(127.0.0.1:9717, [::1]:9717)", s);
		return -1;
	}
	return 0;
}

/*
 * A list element checked by `check` (0, or -1 with a static reason): the
 * newest one, as libconfuse calls a list's validator after each element.
 */
static int
conf_check_newest(cfg_t *cfg, cfg_opt_t *opt, int (*check)(const char *, const char **))
{
	const char *s = cfgx_newest(opt), *why;

	if (s == NULL)
		return 0;
	if (cfgx_check_text(cfg, opt, CFGX_TEXT_MAX) != 0)
		return -1;
	if (check(s, &why) != 0) {
		cfg_error(cfg, "option '%s': '%s': %s", opt->name, s, why);
		return -1;
	}
	return 0;
}

static int
conf_check_hostport(const char *s, const char **why)
{
	return conf_parse_hostport(s, NULL, why);
}

static int
conf_validate_hostport_list(cfg_t *cfg, cfg_opt_t *opt)
{
	return conf_check_newest(cfg, opt, conf_check_hostport);
}

/* pid_file: "" (none) or an absolute path. */
static int
conf_check_pid_file(const char *s, const char **why)
{
	*why = "must be an absolute path";
	return s[0] != '\0' && s[0] != '/' ? -1 : 0;
}

static int
conf_validate_pid_file(cfg_t *cfg, cfg_opt_t *opt)
{
	return conf_check_newest(cfg, opt, conf_check_pid_file);
}

/* The Redis server: an IP address, a host name, or "" (no Redis: the local table). */
static int
conf_check_redis_host(const char *s, const char **why)
{
	struct net_addr a;
	char norm[DOMAIN_MAX + 1];

	if (s[0] == '\0' || net_addr_parse(s, &a) == 0)
		return 0;
	if (domain_normalize(s, norm, sizeof(norm), why) != 0) {
		*why = "use an IP address or a host name";
		return -1;
	}
	return 0;
}

static int
conf_validate_redis_host(cfg_t *cfg, cfg_opt_t *opt)
{
	return conf_check_newest(cfg, opt, conf_check_redis_host);
}

/* A tier: rate, period and burst must give a usable interval. */
static int
conf_check_tier(cfg_t *cfg, cfg_t *sec, const char *name)
{
	long rate = cfg_getint(sec, "rate"), period = cfg_getint(sec, "period");
	long burst = cfg_getint(sec, "burst");
	double interval_us = (double)period * 1000.0 / (double)rate;

	if (interval_us < 1.0) {
		cfg_error(cfg, "%s: rate %ld per %ldms is more than one message per microsecond",
		    name, rate, period);
		return -1;
	}
	/* Keeps every TAT well inside the 2^53 microseconds Lua counts exactly. */
	if (interval_us * (double)burst > 8.64e12) {
		cfg_error(cfg, "%s: burst * period / rate must not exceed 100 days", name);
		return -1;
	}
	return 0;
}

/* Called when the ratelimit section closes: constraints between options. */
static int
conf_validate_ratelimit(cfg_t *cfg, cfg_opt_t *opt)
{
	cfg_t *rl = cfg_opt_getnsec(opt, 0), *sub = cfg_getsec(rl, "subnet");
	cfg_t *sen = cfg_getsec(cfg_getsec(rl, "redis"), "sentinel");

	if (conf_check_tier(cfg, rl, "ratelimit") != 0)
		return -1;
	if ((cfg_getstr(sen, "master")[0] != '\0') != (cfg_size(sen, "addresses") > 0)) {
		cfg_error(cfg, "ratelimit.redis.sentinel: set both 'master' and 'addresses', or neither");
		return -1;
	}
	if (cfg_getbool(cfg_getsec(rl, "recipients"), "enabled") &&
	    conf_check_tier(cfg, cfg_getsec(rl, "recipients"), "ratelimit.recipients") != 0)
		return -1;
	if (cfg_getbool(cfg_getsec(rl, "outbound"), "enabled") &&
	    conf_check_tier(cfg, cfg_getsec(rl, "outbound"), "ratelimit.outbound") != 0)
		return -1;
	if (!cfg_getbool(sub, "enabled"))
		return 0;
	if (conf_check_tier(cfg, sub, "ratelimit.subnet") != 0)
		return -1;
	if (cfg_getint(sub, "ipv4_prefix") >= cfg_getint(rl, "ipv4_prefix") ||
	    cfg_getint(sub, "ipv6_prefix") >= cfg_getint(rl, "ipv6_prefix")) {
		cfg_error(cfg, "ratelimit.subnet: its prefixes must be shorter than the client's "
		    "(ipv4_prefix %ld, ipv6_prefix %ld)", cfg_getint(rl, "ipv4_prefix"),
		    cfg_getint(rl, "ipv6_prefix"));
		return -1;
	}
	return 0;
}

/*
 * Called when the spf section closes.  A bounded SPF evaluation is what
 * keeps the MAIL FROM callback inside Postfix's milter_command_timeout
 * (30s by default): past it Postfix disables the milter for the rest of
 * the session.
 */
static int
conf_validate_spf(cfg_t *cfg, cfg_opt_t *opt)
{
	cfg_t *spf = cfg_opt_getnsec(opt, 0);
	long dns = cfg_getint(spf, "dns_timeout"), total = cfg_getint(spf, "timeout");

	if (dns < 1000 || total < dns || total > 25000) {
		cfg_error(cfg, "section 'spf': need 1s <= dns_timeout <= timeout <= 25s (Postfix "
		    "gives a milter 30s per command)");
		return -1;
	}
	return 0;
}

static cfg_opt_t conf_sentinel_opts[] = {
	CFG_STR("master", "", CFGF_NONE),
	CFG_STR_LIST("addresses", "{}", CFGF_NONE),
	CFG_STR("user", "", CFGF_NONE),
	CFG_STR("password", "", CFGF_NONE),
	CFG_END(),
};

static cfg_opt_t conf_redis_opts[] = {
	CFG_STR("host", "127.0.0.1", CFGF_NONE),
	CFG_INT("port", 6379, CFGF_NONE),
	CFG_STR("user", "", CFGF_NONE),
	CFG_STR("password", "", CFGF_NONE),
	CFG_INT("db", 0, CFGF_NONE),
	CFG_STR("prefix", "hopmilter:", CFGF_NONE),
	CFG_INT_CB("timeout", 100, CFGF_NONE, cfgx_cb_duration_ms),
	CFG_INT_CB("connect_timeout", 250, CFGF_NONE, cfgx_cb_duration_ms),
	CFG_INT_CB("retry_interval", 500, CFGF_NONE, cfgx_cb_duration_ms),
	CFG_INT("pool_size", 4, CFGF_NONE),
	CFG_SEC("sentinel", conf_sentinel_opts, CFGF_NONE),
	CFG_END(),
};

static cfg_opt_t conf_subnet_opts[] = {
	CFG_BOOL("enabled", cfg_false, CFGF_NONE),
	CFG_INT("rate", 120, CFGF_NONE),
	CFG_INT_CB("period", 60000, CFGF_NONE, cfgx_cb_duration_ms),
	CFG_INT("burst", 200, CFGF_NONE),
	CFG_INT("ipv4_prefix", 24, CFGF_NONE),
	CFG_INT("ipv6_prefix", 48, CFGF_NONE),
	CFG_END(),
};

/* The recipient budget and the outbound limit: a rate, nothing keyed by prefix. */
static cfg_opt_t conf_recipients_opts[] = {
	CFG_BOOL("enabled", cfg_false, CFGF_NONE),
	CFG_INT("rate", 500, CFGF_NONE),
	CFG_INT_CB("period", 3600000, CFGF_NONE, cfgx_cb_duration_ms),
	CFG_INT("burst", 500, CFGF_NONE),
	CFG_END(),
};

static cfg_opt_t conf_rl_outbound_opts[] = {
	CFG_BOOL("enabled", cfg_false, CFGF_NONE),
	CFG_INT("rate", 200, CFGF_NONE),
	CFG_INT_CB("period", 3600000, CFGF_NONE, cfgx_cb_duration_ms),
	CFG_INT("burst", 100, CFGF_NONE),
	CFG_END(),
};

static cfg_opt_t conf_ratelimit_opts[] = {
	CFG_BOOL("enabled", cfg_true, CFGF_NONE),
	CFG_INT_CB("mode", CONF_MODE_ENFORCE, CFGF_NONE, conf_cb_mode),
	/* hopmilter.conf(5), CHOOSING LIMITS: what a large provider's one server sends. */
	CFG_INT("rate", 30, CFGF_NONE),
	CFG_INT_CB("period", 60000, CFGF_NONE, cfgx_cb_duration_ms),
	CFG_INT("burst", 50, CFGF_NONE),
	CFG_INT("ipv4_prefix", 32, CFGF_NONE),
	CFG_INT("ipv6_prefix", 64, CFGF_NONE),
	CFG_INT_CB("on_redis_error", CONF_REDIS_ERROR_LOCAL, CFGF_NONE, conf_cb_redis_error),
	CFG_INT("local_max_entries", 65536, CFGF_NONE),
	CFG_SEC("subnet", conf_subnet_opts, CFGF_NONE),
	CFG_SEC("recipients", conf_recipients_opts, CFGF_NONE),
	CFG_SEC("outbound", conf_rl_outbound_opts, CFGF_NONE),
	CFG_STR_LIST("exempt_networks", "{}", CFGF_NONE),
	CFG_STR_LIST("exempt_client_names", "{}", CFGF_NONE),
	CFG_STR_LIST("exempt_sender_domains", "{}", CFGF_NONE),
	CFG_SEC("redis", conf_redis_opts, CFGF_NONE),
	CFG_END(),
};

/*
 * Outbound scrubbing (scrub.h).  The defaults are the headers that exist to
 * record the inside (hopmilter.conf(5) lists why each one): the webmail or
 * Outlook client's address, Exchange's organisation and forest state.  Any
 * other X- header, and Authentication-Results or Received-SPF written
 * inside, goes only when it names an inner address or name.
 */
static cfg_opt_t conf_outbound_opts[] = {
	CFG_BOOL("enabled", cfg_false, CFGF_NONE),
	CFG_BOOL("scrub_received", cfg_true, CFGF_NONE),
	CFG_STR_LIST("remove_headers", "{\"X-Originating-IP\", \"X-MS-Exchange-Organization-*\", "
	    "\"X-MS-Exchange-Forest-*\"}", CFGF_NONE),
	CFG_STR_LIST("scrub_headers", "{\"X-*\", \"Authentication-Results\", \"Received-SPF\"}",
	    CFGF_NONE),
	CFG_END(),
};

/* A header name pattern list (scrub.h): names, or a prefix and a final '*'. */
static int
conf_validate_header_list(cfg_t *cfg, cfg_opt_t *opt)
{
	return conf_check_newest(cfg, opt, scrub_pattern_check);
}

/*
 * The defaults are what a careful admin ships (hopmilter.conf(5) says why):
 * only a definite "fail" is refused; a DNS problem asks the client to retry;
 * softfail and permerror are recorded and delivered.
 */
static cfg_opt_t conf_spf_opts[] = {
	CFG_BOOL("enabled", cfg_true, CFGF_NONE),
	CFG_INT_CB("mode", CONF_MODE_ENFORCE, CFGF_NONE, conf_cb_mode),
	CFG_INT_CB("fail", CONF_SPF_REJECT, CFGF_NONE, conf_cb_spf_action),
	CFG_INT_CB("softfail", CONF_SPF_ACCEPT, CFGF_NONE, conf_cb_spf_action),
	CFG_INT_CB("permerror", CONF_SPF_ACCEPT, CFGF_NONE, conf_cb_spf_action),
	CFG_INT_CB("temperror", CONF_SPF_TEMPFAIL, CFGF_NONE, conf_cb_spf_action),
	CFG_BOOL("received_spf", cfg_true, CFGF_NONE),
	CFG_INT_CB("dns_timeout", 5000, CFGF_NONE, cfgx_cb_duration_ms),
	CFG_INT_CB("timeout", 15000, CFGF_NONE, cfgx_cb_duration_ms),
	CFG_STR_LIST("exempt_networks", "{}", CFGF_NONE),
	CFG_STR_LIST("exempt_client_names", "{}", CFGF_NONE),
	CFG_END(),
};

static cfg_opt_t conf_opts[] = {
	CFG_STR("socket", "unix:" RUNSTATEDIR "/hopmilter/hopmilter.sock", CFGF_NONE),
	CFG_STR("user", "", CFGF_NONE),
	CFG_STR("pid_file", "", CFGF_NONE),
	CFG_INT_CB("syslog_facility", LOG_MAIL, CFGF_NONE, conf_cb_facility),
	CFG_INT_CB("log_level", LOG_INFO, CFGF_NONE, conf_cb_level),
	CFG_STR("authserv_id", "", CFGF_NONE),
	CFG_BOOL("dry_run", cfg_false, CFGF_NONE),
	CFG_BOOL("counters", cfg_true, CFGF_NONE),
	CFG_STR("control_socket", "", CFGF_NONE),
	CFG_STR("metrics_listen", "", CFGF_NONE),
	CFG_STR_LIST("trusted_networks", "{\"127.0.0.0/8\", \"::1/128\"}", CFGF_NONE),
	CFG_BOOL("allow_wide_trusted_networks", cfg_false, CFGF_NONE),
	CFG_STR_LIST("internal_networks", "{}", CFGF_NONE),
	CFG_STR_LIST("internal_names", "{}", CFGF_NONE),
	CFG_STR_LIST("allowed_domains", "{}", CFGF_NONE),
	CFG_STR_LIST("banned_domains", "{}", CFGF_NONE),
	CFG_INT_CB("banned_domains_mode", CONF_MODE_ENFORCE, CFGF_NONE, conf_cb_mode),
	CFG_SEC("outbound", conf_outbound_opts, CFGF_NONE),
	CFG_SEC("spf", conf_spf_opts, CFGF_NONE),
	CFG_SEC("ratelimit", conf_ratelimit_opts, CFGF_NONE),
	CFG_END(),
};

static void
conf_setup_ratelimit(cfg_t *cfg)
{
	static const struct {
		const char *path;
		int (*fn)(cfg_t *, cfg_opt_t *);
	} v[] = {
		{"ratelimit", conf_validate_ratelimit},
		{"ratelimit|rate", cfgx_validate_positive},
		{"ratelimit|period", conf_validate_duration},
		{"ratelimit|burst", cfgx_validate_positive},
		{"ratelimit|ipv4_prefix", conf_validate_v4prefix},
		{"ratelimit|ipv6_prefix", conf_validate_v6prefix},
		{"ratelimit|local_max_entries", conf_validate_local_max},
		{"ratelimit|subnet|rate", cfgx_validate_positive},
		{"ratelimit|subnet|period", conf_validate_duration},
		{"ratelimit|subnet|burst", cfgx_validate_positive},
		{"ratelimit|subnet|ipv4_prefix", conf_validate_v4prefix},
		{"ratelimit|subnet|ipv6_prefix", conf_validate_v6prefix},
		{"ratelimit|recipients|rate", cfgx_validate_positive},
		{"ratelimit|recipients|period", conf_validate_duration},
		{"ratelimit|recipients|burst", cfgx_validate_positive},
		{"ratelimit|outbound|rate", cfgx_validate_positive},
		{"ratelimit|outbound|period", conf_validate_duration},
		{"ratelimit|outbound|burst", cfgx_validate_positive},
		{"ratelimit|exempt_networks", conflist_validate_nets},
		{"ratelimit|exempt_client_names", conflist_validate_domains},
		{"ratelimit|exempt_sender_domains", conflist_validate_domains},
		{"spf|exempt_networks", conflist_validate_nets},
		{"spf|exempt_client_names", conflist_validate_domains},
		{"ratelimit|redis|host", conf_validate_redis_host},
		{"ratelimit|redis|port", cfgx_validate_port},
		{"ratelimit|redis|db", cfgx_validate_nonneg},
		{"ratelimit|redis|prefix", conf_validate_prefix},
		{"ratelimit|redis|timeout", conf_validate_duration},
		{"ratelimit|redis|connect_timeout", conf_validate_duration},
		{"ratelimit|redis|retry_interval", conf_validate_duration},
		{"ratelimit|redis|pool_size", conf_validate_pool},
		{"ratelimit|redis|sentinel|addresses", conf_validate_hostport_list},
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		cfg_set_validate_func(cfg, v[i].path, v[i].fn);
}

static void
conf_setup(cfg_t *cfg)
{
	cfg_set_validate_func(cfg, "socket", conf_validate_socket);
	cfg_set_validate_func(cfg, "authserv_id", conf_validate_authserv_id);
	cfg_set_validate_func(cfg, "pid_file", conf_validate_pid_file);
	cfg_set_validate_func(cfg, "spf", conf_validate_spf);
	cfg_set_validate_func(cfg, "control_socket", conf_validate_control_socket);
	cfg_set_validate_func(cfg, "metrics_listen", conf_validate_metrics_listen);
	cfg_set_validate_func(cfg, "trusted_networks", cfgx_validate_cidr_list);
	cfg_set_validate_func(cfg, "internal_networks", cfgx_validate_cidr_list);
	cfg_set_validate_func(cfg, "allowed_domains", conflist_validate_domains);
	cfg_set_validate_func(cfg, "banned_domains", conflist_validate_domains);
	cfg_set_validate_func(cfg, "internal_names", cfgx_validate_domain_list);
	cfg_set_validate_func(cfg, "outbound|remove_headers", conf_validate_header_list);
	cfg_set_validate_func(cfg, "outbound|scrub_headers", conf_validate_header_list);
	conf_setup_ratelimit(cfg);
}

static char *
conf_strdup(const char *s)
{
	return strdup(s != NULL ? s : "");
}

/* The lists were validated while parsing; failures here are ENOMEM only. */
static int
conf_fill_nets(cfg_t *cfg, const char *name, struct net_list *out)
{
	for (unsigned i = 0; i < cfg_size(cfg, name); i++) {
		struct net_cidr net;
		const char *why;

		if (net_cidr_parse(cfg_getnstr(cfg, name, i), &net, &why) != 0 ||
		    net_list_add(out, &net) != 0)
			return -1;
	}
	return net_list_build(out);
}

/* A validated header pattern list, copied; -1 out of memory. */
static int
conf_fill_names(cfg_t *sec, const char *name, struct conf_names *out)
{
	unsigned n = cfg_size(sec, name);

	if (n == 0)
		return 0;
	if ((out->v = calloc(n, sizeof(*out->v))) == NULL)
		return -1;
	for (unsigned i = 0; i < n; i++) {
		if ((out->v[i] = strdup(cfg_getnstr(sec, name, i))) == NULL)
			return -1;
		out->n++;
	}
	return 0;
}

static void
conf_free_names(struct conf_names *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

/* `dotted_subdomains`: allowed_domains style; otherwise ban-list style. */
static struct dset *
conf_fill_domains(cfg_t *cfg, const char *name, bool dotted_subdomains)
{
	struct dset *s = dset_new();

	for (unsigned i = 0; s != NULL && i < cfg_size(cfg, name); i++) {
		const char *raw = cfg_getnstr(cfg, name, i), *why;
		bool dot = raw[0] == '.';
		char norm[DOMAIN_MAX + 1];

		if (domain_normalize(dot ? raw + 1 : raw, norm, sizeof(norm), &why) != 0 ||
		    dset_add(s, norm, dotted_subdomains ? dot : true) != 0) {
			dset_free(s);
			return NULL;
		}
	}
	return s;
}

/* The spf section, validated as it closed (conf_validate_spf). */
static void
conf_fill_spf(cfg_t *cfg, struct conf_spf *spf)
{
	cfg_t *sec = cfg_getsec(cfg, "spf");

	spf->mode = conf_mode(cfg_getbool(sec, "enabled"), cfg_getint(sec, "mode"),
	    cfg_getbool(cfg, "dry_run"));
	spf->enabled = spf->mode != CONF_MODE_OFF;
	spf->fail = (enum conf_spf_action)cfg_getint(sec, "fail");
	spf->softfail = (enum conf_spf_action)cfg_getint(sec, "softfail");
	spf->permerror = (enum conf_spf_action)cfg_getint(sec, "permerror");
	spf->temperror = (enum conf_spf_action)cfg_getint(sec, "temperror");
	spf->received_spf = cfg_getbool(sec, "received_spf");
	spf->dns_timeout_ms = cfg_getint(sec, "dns_timeout");
	spf->timeout_ms = cfg_getint(sec, "timeout");
}

static void
conf_fill_tier(cfg_t *sec, struct conf_rl_tier *t)
{
	t->rate = cfg_getint(sec, "rate");
	t->period_ms = cfg_getint(sec, "period");
	t->burst = cfg_getint(sec, "burst");
	t->ipv4_prefix = (unsigned)cfg_getint(sec, "ipv4_prefix");
	t->ipv6_prefix = (unsigned)cfg_getint(sec, "ipv6_prefix");
}

static int
conf_fill_sentinel(cfg_t *sec, struct conf_sentinel *s)
{
	unsigned n = cfg_size(sec, "addresses");
	const char *why;

	s->master = conf_strdup(cfg_getstr(sec, "master"));
	s->user = conf_strdup(cfg_getstr(sec, "user"));
	s->password = conf_strdup(cfg_getstr(sec, "password"));
	if (s->master == NULL || s->user == NULL || s->password == NULL)
		return -1;
	if (n > 0 && (s->addrs = calloc(n, sizeof(*s->addrs))) == NULL)
		return -1;
	for (; s->naddrs < n; s->naddrs++)
		if (conf_parse_hostport(cfg_getnstr(sec, "addresses", (unsigned)s->naddrs),
		    &s->addrs[s->naddrs], &why) != 0)
			return -1;
	return 0;
}

static int
conf_fill_redis(cfg_t *sec, struct conf_redis *r)
{
	r->host = conf_strdup(cfg_getstr(sec, "host"));
	r->port = (int)cfg_getint(sec, "port");
	r->user = conf_strdup(cfg_getstr(sec, "user"));
	r->password = conf_strdup(cfg_getstr(sec, "password"));
	r->db = (int)cfg_getint(sec, "db");
	r->prefix = conf_strdup(cfg_getstr(sec, "prefix"));
	r->timeout_ms = cfg_getint(sec, "timeout");
	r->connect_timeout_ms = cfg_getint(sec, "connect_timeout");
	r->retry_interval_ms = cfg_getint(sec, "retry_interval");
	r->pool_size = (int)cfg_getint(sec, "pool_size");
	if (r->host == NULL || r->user == NULL || r->password == NULL || r->prefix == NULL)
		return -1;
	return conf_fill_sentinel(cfg_getsec(sec, "sentinel"), &r->sentinel);
}

/* A rate without prefixes (recipients, outbound). */
static void
conf_fill_rate(cfg_t *sec, bool *enabled, struct conf_rl_tier *t)
{
	*enabled = cfg_getbool(sec, "enabled");
	t->rate = cfg_getint(sec, "rate");
	t->period_ms = cfg_getint(sec, "period");
	t->burst = cfg_getint(sec, "burst");
}

/*
 * The lists that may name list files (conflist.h): allowed and banned
 * domains, and the exemptions.  0, or -1 with "LISTFILE:LINE: reason".
 */
static int
conf_fill_lists(cfg_t *cfg, struct conf *c, char *err, size_t errsz)
{
	cfg_t *rl = cfg_getsec(cfg, "ratelimit"), *spf = cfg_getsec(cfg, "spf");

	if (conflist_domains(cfg, "allowed_domains", true, &c->allowed_domains, err, errsz) != 0 ||
	    conflist_domains(cfg, "banned_domains", false, &c->banned_domains, err, errsz) != 0 ||
	    conflist_nets(rl, "exempt_networks", &c->ratelimit.exempt_networks, err, errsz) != 0 ||
	    conflist_domains(rl, "exempt_client_names", true, &c->ratelimit.exempt_client_names,
	    err, errsz) != 0 ||
	    conflist_domains(rl, "exempt_sender_domains", true,
	    &c->ratelimit.exempt_sender_domains, err, errsz) != 0 ||
	    conflist_nets(spf, "exempt_networks", &c->spf.exempt_networks, err, errsz) != 0 ||
	    conflist_domains(spf, "exempt_client_names", true, &c->spf.exempt_client_names, err,
	    errsz) != 0)
		return -1;
	return 0;
}

static int
conf_fill_ratelimit(cfg_t *sec, bool dry_run, struct conf_ratelimit *rl)
{
	cfg_t *sub = cfg_getsec(sec, "subnet");

	rl->mode = conf_mode(cfg_getbool(sec, "enabled"), cfg_getint(sec, "mode"), dry_run);
	rl->enabled = rl->mode != CONF_MODE_OFF;
	conf_fill_rate(cfg_getsec(sec, "recipients"), &rl->recipients_enabled, &rl->recipients);
	conf_fill_rate(cfg_getsec(sec, "outbound"), &rl->outbound_enabled, &rl->outbound);
	conf_fill_tier(sec, &rl->client);
	rl->subnet_enabled = cfg_getbool(sub, "enabled");
	conf_fill_tier(sub, &rl->subnet);
	rl->on_redis_error = (enum conf_redis_error)cfg_getint(sec, "on_redis_error");
	rl->local_max_entries = cfg_getint(sec, "local_max_entries");
	return conf_fill_redis(cfg_getsec(sec, "redis"), &rl->redis);
}

static void
conf_free_ratelimit(struct conf_ratelimit *rl)
{
	struct conf_redis *r = &rl->redis;

	free(r->host);
	free(r->user);
	free(r->password);
	free(r->prefix);
	free(r->sentinel.master);
	free(r->sentinel.user);
	free(r->sentinel.password);
	for (size_t i = 0; i < r->sentinel.naddrs; i++)
		free(r->sentinel.addrs[i].host);
	free(r->sentinel.addrs);
	net_list_free(&rl->exempt_networks);
	dset_free(rl->exempt_client_names);
	dset_free(rl->exempt_sender_domains);
}

/*
 * The most of the public internet trusted_networks may cover: the public
 * addresses of a /8 (IPv4) or a /32 (IPv6, an ISP's whole allocation).
 * A client there skips SPF and may relay outbound, so "0.0.0.0/0", "::/0",
 * "::ffff:0:0/96" (all of IPv4, v4-mapped), "2000::/3" or a split such as
 * "0.0.0.0/1" + "128.0.0.0/1" is almost always a mistake (or a test set-up
 * copied to production).  Private and other special-purpose ranges do not
 * count (netaddr.h), so 10.0.0.0/8 with the rest of RFC 1918 is fine.
 */
#define CONF_TRUSTED_V4_MAX 16777216.0          /* 2^24 */
#define CONF_TRUSTED_V6_MAX 79228162514264337593543950336.0   /* 2^96 */

static int
conf_check_trusted_width(cfg_t *cfg, const struct net_list *trusted, const char *path,
    char *err, size_t errsz)
{
	static const struct {
		int family;
		double max;
		const char *name, *size;
	} fam[] = {
		{AF_INET, CONF_TRUSTED_V4_MAX, "IPv4", "a /8"},
		{AF_INET6, CONF_TRUSTED_V6_MAX, "IPv6", "a /32"},
	};
	char widest[NET_ADDR_STRLEN + 8];

	for (size_t i = 0; i < sizeof(fam) / sizeof(fam[0]); i++) {
		const struct net_cidr *w;

		if (net_list_public_size(trusted, fam[i].family) <= fam[i].max)
			continue;
		w = net_list_widest_public(trusted, fam[i].family);
		net_cidr_format(w, widest, sizeof(widest));
		/* The line of the widest entry (the list holds the entries in order). */
		cfgx_error_at(err, errsz, path,
		    cfgx_line(cfg, "trusted_networks", (unsigned)(w - trusted->v)), "option 'trusted_networks': trusts more public "
		    "%s addresses than %s (widest: %s); clients there skip SPF and may relay "
		    "outbound. Set allow_wide_trusted_networks = true if that is meant",
		    fam[i].name, fam[i].size, widest);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------ the effective configuration */

/* The name of `v` in an enum table, or NULL. */
static const char *
conf_enum_name(const struct cfgx_enum *t, long v)
{
	for (; t->name != NULL; t++)
		if (t->value == v)
			return t->name;
	return NULL;
}

/*
 * One value as the file would spell it: durations with their unit, enum
 * options by name, and secrets masked (the reader of `hopmilter-ctl
 * config` may see the file's structure, never a password).
 */
static void
conf_print_value(cfg_opt_t *opt, unsigned int index, FILE *fp)
{
	static const struct {
		cfg_callback_t cb;
		const struct cfgx_enum *t;
	} enums[] = {
		{conf_cb_facility, conf_facilities}, {conf_cb_level, conf_levels},
		{conf_cb_spf_action, conf_spf_actions}, {conf_cb_redis_error, conf_redis_errors},
		{conf_cb_mode, conf_modes},
	};
	const char *name;

	if (strcmp(opt->name, "password") == 0) {
		const char *v = cfg_opt_getnstr(opt, index);

		fputs(v != NULL && v[0] != '\0' ? "\"********\"" : "\"\"", fp);
		return;
	}
	if (opt->parsecb == cfgx_cb_duration_ms) {
		fprintf(fp, "%ldms", cfg_opt_getnint(opt, index));
		return;
	}
	for (size_t i = 0; i < sizeof(enums) / sizeof(enums[0]); i++) {
		if (opt->parsecb == enums[i].cb &&
		    (name = conf_enum_name(enums[i].t, cfg_opt_getnint(opt, index))) != NULL) {
			fputs(name, fp);
			return;
		}
	}
	cfg_opt_nprint_var(opt, index, fp);
}

static void
conf_set_printers(cfg_t *cfg)
{
	for (cfg_opt_t *opt = cfg->opts; opt != NULL && opt->name != NULL; opt++) {
		if (opt->type == CFGT_SEC) {
			for (unsigned i = 0; i < cfg_opt_size(opt); i++)
				conf_set_printers(cfg_opt_getnsec(opt, i));
		} else {
			cfg_opt_set_print_func(opt, conf_print_value);
		}
	}
}

/* Every option with its value, defaults included, as a configuration file. */
static char *
conf_effective(cfg_t *cfg)
{
	char *text = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);

	if (fp == NULL)
		return NULL;
	conf_set_printers(cfg);
	if (cfg_print(cfg, fp) != 0) {
		fclose(fp);
		free(text);
		return NULL;
	}
	if (fclose(fp) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

/* A validated authserv_id as the headers will carry it: ASCII as written, else its A-labels. */
static char *
conf_authserv_id(const char *s)
{
	char norm[DOMAIN_MAX + 1];
	const char *why;

	for (const char *p = s; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80)
			return domain_normalize(s, norm, sizeof(norm), &why) == 0 ? strdup(norm) : NULL;
	return strdup(s);
}

static int
conf_from_cfg(cfg_t *cfg, const char *path, struct conf *c, char *err, size_t errsz)
{
	cfg_t *ob = cfg_getsec(cfg, "outbound");
	char host[256];

	c->path = conf_strdup(path);
	c->socket = conf_strdup(cfg_getstr(cfg, "socket"));
	c->user = conf_strdup(cfg_getstr(cfg, "user"));
	c->user_line = cfgx_line(cfg, "user", 0);
	c->socket_line = cfgx_line(cfg, "socket", 0);
	c->pid_file = conf_strdup(cfg_getstr(cfg, "pid_file"));
	c->syslog_facility = (int)cfg_getint(cfg, "syslog_facility");
	c->log_level = (int)cfg_getint(cfg, "log_level");
	c->dry_run = cfg_getbool(cfg, "dry_run");
	c->ban_mode = conf_mode(true, cfg_getint(cfg, "banned_domains_mode"), c->dry_run);
	c->counters = cfg_getbool(cfg, "counters");
	c->control_socket = conf_strdup(cfg_getstr(cfg, "control_socket"));
	c->metrics_listen = conf_strdup(cfg_getstr(cfg, "metrics_listen"));
	if (cfg_getstr(cfg, "authserv_id")[0] != '\0') {
		c->authserv_id = conf_authserv_id(cfg_getstr(cfg, "authserv_id"));
	} else {
		if (gethostname(host, sizeof(host) - 1) != 0)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		c->authserv_id = conf_strdup(host);
	}
	/* The effective value, not the empty default: what the headers will say. */
	if (c->authserv_id != NULL)
		cfg_setstr(cfg, "authserv_id", c->authserv_id);
	c->effective = conf_effective(cfg);
	c->outbound.enabled = cfg_getbool(ob, "enabled");
	c->outbound.scrub_received = cfg_getbool(ob, "scrub_received");
	if (conf_fill_lists(cfg, c, err, errsz) != 0)
		return -1;
	c->internal_names = conf_fill_domains(cfg, "internal_names", true);
	if (c->path == NULL || c->socket == NULL || c->user == NULL || c->pid_file == NULL ||
	    c->authserv_id == NULL || c->control_socket == NULL || c->metrics_listen == NULL ||
	    c->effective == NULL || c->allowed_domains == NULL || c->banned_domains == NULL ||
	    c->internal_names == NULL ||
	    conf_fill_names(ob, "remove_headers", &c->outbound.remove_headers) != 0 ||
	    conf_fill_names(ob, "scrub_headers", &c->outbound.scrub_headers) != 0 ||
	    conf_fill_nets(cfg, "trusted_networks", &c->trusted_networks) != 0 ||
	    conf_fill_nets(cfg, "internal_networks", &c->internal_networks) != 0 ||
	    conf_fill_ratelimit(cfg_getsec(cfg, "ratelimit"), c->dry_run, &c->ratelimit) != 0) {
		cfgx_error_after(err, errsz, path, "out of memory");
		return -1;
	}
	if (!cfg_getbool(cfg, "allow_wide_trusted_networks") &&
	    conf_check_trusted_width(cfg, &c->trusted_networks, path, err, errsz) != 0)
		return -1;
	conf_fill_spf(cfg, &c->spf);
	return 0;
}

/* conf_finish(): a parsed tree into a new struct conf (cfgx.h). */
CFGX_DEFINE_BUILD(conf_finish, struct conf, conf_from_cfg, conf_free)

/*
 * A file holding a Redis password must not be writable by every user nor
 * by its group (the group is hopmilter's own, shared with the MTA):
 * whoever can write it can point hopmilter at their own Redis (and read
 * the password back from the AUTH it sends), or switch every check off.
 * A reload (SIGUSR1) goes through here too and keeps the running
 * configuration when the file is refused.
 * Readable by all is only worth a warning: the sample is installed 0640.
 */
static int
conf_check_secret_mode(const struct conf *c, const char *path, char *err, size_t errsz)
{
	const struct conf_redis *r = &c->ratelimit.redis;
	struct stat st;

	if (r->password[0] == '\0' && r->sentinel.password[0] == '\0')
		return 0;
	if (stat(path, &st) != 0)
		return 0;   /* it was just read; a file gone since is the next load's problem */
	if (st.st_mode & (S_IWOTH | S_IWGRP)) {
		bool o = st.st_mode & S_IWOTH, g = st.st_mode & S_IWGRP;

		snprintf(err, errsz, "%s: holds a Redis password and %s may write it (mode %04o); "
		    "chmod %s %s", path, o && g ? "its group and every user" : o ? "every user" :
		    "its group", (unsigned)(st.st_mode & 07777), o && g ? "go-w" : o ? "o-w" : "g-w",
		    path);
		return -1;
	}
	if (st.st_mode & S_IROTH)
		log_warning("%s: holds a Redis password and every user may read it (mode %04o); "
		    "chmod o-r %s", path, (unsigned)(st.st_mode & 07777), path);
	return 0;
}

int
conf_load(const char *path, struct conf **out, char *err, size_t errsz)
{
	if (conf_finish(cfgx_parse_file(conf_opts, path, conf_setup, err, errsz), path, out,
	    err, errsz) != 0)
		return -1;
	if (conf_check_secret_mode(*out, path, err, errsz) != 0) {
		conf_free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

int
conf_load_string(const char *name, const char *text, struct conf **out, char *err,
    size_t errsz)
{
	return conf_finish(cfgx_parse_string(conf_opts, name, text, conf_setup, err, errsz), name,
	    out, err, errsz);
}

void
conf_free(struct conf *c)
{
	if (c == NULL)
		return;
	free(c->path);
	free(c->socket);
	free(c->user);
	free(c->pid_file);
	free(c->authserv_id);
	free(c->control_socket);
	free(c->metrics_listen);
	free(c->effective);
	net_list_free(&c->trusted_networks);
	net_list_free(&c->internal_networks);
	dset_free(c->allowed_domains);
	dset_free(c->banned_domains);
	net_list_free(&c->spf.exempt_networks);
	dset_free(c->spf.exempt_client_names);
	dset_free(c->internal_names);
	conf_free_names(&c->outbound.remove_headers);
	conf_free_names(&c->outbound.scrub_headers);
	conf_free_ratelimit(&c->ratelimit);
	free(c);
}
