/*
 * route - the hoprelay.conf option table, validation, and conversion of the
 * parsed libconfuse tree into struct route_conf.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "cfgx.h"
#include "domain.h"
#include "log.h"
#include "route.h"

static int
route_cb_tls(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	static const struct cfgx_enum table[] = {
		{"required", ROUTE_TLS_REQUIRED}, {"opportunistic", ROUTE_TLS_OPPORTUNISTIC},
		{"none", ROUTE_TLS_NONE}, {NULL, 0},
	};

	return cfgx_parse_enum(cfg, opt, value, result, table);
}

/*
 * A name the log module knows (`lookup`: its value or -1).  The value is
 * repeated in the message only when it is plain text of a sane length.
 */
static int
route_cb_logname(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result,
    int (*lookup)(const char *), const char *choices)
{
	int v = lookup(value);
	char fault[64];

	if (v >= 0) {
		*(long *)result = v;
		return 0;
	}
	if (cfgx_text_fault(value, 64, fault, sizeof(fault)) != NULL)
		cfg_error(cfg, "option '%s': the value %s", opt->name, fault);
	else
		cfg_error(cfg, "option '%s': '%s' is not one of: %s", opt->name, value, choices);
	return -1;
}

static int
route_cb_facility(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	return route_cb_logname(cfg, opt, value, result, log_facility_from_name,
	    "mail, daemon, user, local0-local7");
}

static int
route_cb_level(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	return route_cb_logname(cfg, opt, value, result, log_level_from_name,
	    "error, warning, notice, info, debug");
}

/* List validators see the newest element (called after each one). */
static int
route_validate_hops(cfg_t *cfg, cfg_opt_t *opt)
{
	unsigned n = cfg_opt_size(opt);
	struct route_hop hop;
	const char *why;

	if (n == 0 || cfgx_check_text(cfg, opt, CFGX_TEXT_MAX) != 0)
		return n == 0 ? 0 : -1;
	if (route_parse_hop(cfg_opt_getnstr(opt, n - 1), &hop, &why) != 0) {
		cfg_error(cfg, "option '%s': '%s': %s", opt->name, cfg_opt_getnstr(opt, n - 1), why);
		return -1;
	}
	return 0;
}

static int
route_validate_pins(cfg_t *cfg, cfg_opt_t *opt)
{
	unsigned n = cfg_opt_size(opt);
	struct route_pin pin;
	const char *why;

	if (n == 0 || cfgx_check_text(cfg, opt, CFGX_TEXT_MAX) != 0)
		return n == 0 ? 0 : -1;
	if (route_parse_pin(cfg_opt_getnstr(opt, n - 1), &pin, &why) != 0) {
		cfg_error(cfg, "option '%s': '%s': %s", opt->name, cfg_opt_getnstr(opt, n - 1), why);
		return -1;
	}
	return 0;
}

static int
route_validate_source(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *s = cfg_opt_getnstr(opt, 0);
	struct net_addr a;

	if (cfgx_check_text(cfg, opt, CFGX_TEXT_MAX) != 0)
		return -1;
	if (s[0] != '\0' && net_addr_parse(s, &a) != 0) {
		cfg_error(cfg, "option '%s': '%s' is not an IP address", opt->name, s);
		return -1;
	}
	return 0;
}

static int
route_validate_path(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *s = cfg_opt_getnstr(opt, 0);

	if (cfgx_check_text(cfg, opt, CFGX_TEXT_MAX) != 0)
		return -1;
	if (s[0] != '\0' && s[0] != '/') {
		cfg_error(cfg, "option '%s': '%s' must be an absolute path", opt->name, s);
		return -1;
	}
	return 0;
}

static int
route_validate_name(cfg_t *cfg, cfg_opt_t *opt)
{
	const char *s = cfg_opt_getnstr(opt, 0), *why;
	char norm[DOMAIN_MAX + 1];

	if (cfgx_check_text(cfg, opt, CFGX_TEXT_MAX) != 0)
		return -1;
	if (s[0] != '\0' && domain_normalize(s, norm, sizeof(norm), &why) != 0) {
		cfg_error(cfg, "option '%s': '%s': %s", opt->name, s, why);
		return -1;
	}
	return 0;
}

#define ROUTE_DURATION(name, def) \
	CFG_INT_CB(name, def, CFGF_NONE, cfgx_cb_duration_ms)

static cfg_opt_t route_sec_opts[] = {
	CFG_STR_LIST("hops", "{}", CFGF_NONE),
	CFG_INT_CB("tls", ROUTE_TLS_REQUIRED, CFGF_NONE, route_cb_tls),
	CFG_STR("ca_file", "", CFGF_NONE),
	CFG_STR_LIST("pins", "{}", CFGF_NONE),
	CFG_STR("server_name", "", CFGF_NONE),
	CFG_STR("client_cert", "", CFGF_NONE),
	CFG_STR("client_key", "", CFGF_NONE),
	CFG_STR("helo_name", "", CFGF_NONE),
	CFG_STR("source_address", "", CFGF_NONE),
	ROUTE_DURATION("connect_timeout", 30000),
	ROUTE_DURATION("greeting_timeout", 300000),
	ROUTE_DURATION("command_timeout", 300000),
	ROUTE_DURATION("data_init_timeout", 120000),
	ROUTE_DURATION("data_block_timeout", 180000),
	ROUTE_DURATION("data_done_timeout", 600000),
	CFG_END(),
};

static cfg_opt_t route_opts[] = {
	CFG_INT_CB("syslog_facility", LOG_MAIL, CFGF_NONE, route_cb_facility),
	CFG_INT_CB("log_level", LOG_INFO, CFGF_NONE, route_cb_level),
	CFG_STR("default_route", "", CFGF_NONE),
	CFG_SEC("route", route_sec_opts, CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
	CFG_END(),
};

static void
route_setup(cfg_t *cfg)
{
	static const char *paths[] = {"ca_file", "client_cert", "client_key"};

	cfg_set_validate_func(cfg, "route|hops", route_validate_hops);
	cfg_set_validate_func(cfg, "route|pins", route_validate_pins);
	cfg_set_validate_func(cfg, "route|source_address", route_validate_source);
	cfg_set_validate_func(cfg, "route|server_name", route_validate_name);
	cfg_set_validate_func(cfg, "route|helo_name", route_validate_name);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		char p[64];

		snprintf(p, sizeof(p), "route|%s", paths[i]);
		cfg_set_validate_func(cfg, p, route_validate_path);
	}
}

/* Hops and pins were validated while parsing; failure here is ENOMEM only. */
static int
route_fill_lists(cfg_t *sec, struct route *r)
{
	const char *why;

	r->nhops = cfg_size(sec, "hops");
	r->npins = cfg_size(sec, "pins");
	r->hops = calloc(r->nhops + 1, sizeof(*r->hops));
	r->pins = calloc(r->npins + 1, sizeof(*r->pins));
	if (r->hops == NULL || r->pins == NULL)
		return -1;
	for (size_t i = 0; i < r->nhops; i++)
		if (route_parse_hop(cfg_getnstr(sec, "hops", (unsigned)i), &r->hops[i], &why) != 0)
			return -1;
	for (size_t i = 0; i < r->npins; i++)
		if (route_parse_pin(cfg_getnstr(sec, "pins", (unsigned)i), &r->pins[i], &why) != 0)
			return -1;
	return 0;
}

static char *
route_strdup(const char *s)
{
	return strdup(s != NULL ? s : "");
}

static int
route_fill_strings(cfg_t *sec, struct route *r)
{
	char host[256];

	r->name = route_strdup(cfg_title(sec));
	r->ca_file = route_strdup(cfg_getstr(sec, "ca_file"));
	r->server_name = route_strdup(cfg_getstr(sec, "server_name"));
	r->client_cert = route_strdup(cfg_getstr(sec, "client_cert"));
	r->client_key = route_strdup(cfg_getstr(sec, "client_key"));
	if (cfg_getstr(sec, "helo_name")[0] != '\0') {
		r->helo_name = route_strdup(cfg_getstr(sec, "helo_name"));
	} else {
		if (gethostname(host, sizeof(host) - 1) != 0)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		r->helo_name = route_strdup(host);
	}
	return r->name && r->ca_file && r->server_name && r->client_cert && r->client_key &&
	    r->helo_name ? 0 : -1;
}

static void
route_fill_timeouts(cfg_t *sec, struct route_timeouts *t)
{
	t->connect = cfg_getint(sec, "connect_timeout");
	t->greeting = cfg_getint(sec, "greeting_timeout");
	t->command = cfg_getint(sec, "command_timeout");
	t->data_init = cfg_getint(sec, "data_init_timeout");
	t->data_block = cfg_getint(sec, "data_block_timeout");
	t->data_done = cfg_getint(sec, "data_done_timeout");
}

/*
 * Constraints between the options of one route.  libconfuse keeps the line
 * where the section ends, so the message can still point at the route.
 */
static const char *
route_check(const struct route *r)
{
	if (r->nhops == 0)
		return "needs at least one entry in 'hops'";
	if (r->tls == ROUTE_TLS_REQUIRED && r->ca_file[0] == '\0' && r->npins == 0)
		return "tls = required needs 'ca_file' or 'pins' to authenticate the server";
	if (r->tls != ROUTE_TLS_REQUIRED && (r->ca_file[0] != '\0' || r->npins > 0 ||
	    r->server_name[0] != '\0'))
		return "'ca_file', 'pins' and 'server_name' need tls = required";
	if (r->tls == ROUTE_TLS_NONE && r->client_cert[0] != '\0')
		return "'client_cert' needs TLS";
	if (r->client_key[0] != '\0' && r->client_cert[0] == '\0')
		return "'client_key' without 'client_cert'";
	if (r->timeouts.connect <= 0 || r->timeouts.greeting <= 0 || r->timeouts.command <= 0 ||
	    r->timeouts.data_init <= 0 || r->timeouts.data_block <= 0 || r->timeouts.data_done <= 0)
		return "timeouts must be longer than 0ms";
	return NULL;
}

static int
route_from_sec(cfg_t *sec, struct route *r, const char *path, char *err, size_t errsz)
{
	const char *src = cfg_getstr(sec, "source_address"), *why;
	char fault[64];

	r->tls = (enum route_tls)cfg_getint(sec, "tls");
	route_fill_timeouts(sec, &r->timeouts);
	if (route_fill_strings(sec, r) != 0 || route_fill_lists(sec, r) != 0) {
		cfgx_error_after(err, errsz, path, "out of memory");
		return -1;
	}
	r->have_source = src[0] != '\0';
	if (r->have_source)
		net_addr_parse(src, &r->source);
	/* The title is no option's value: no validator sees it. */
	if ((why = cfgx_text_fault(r->name, ROUTE_NAME_MAX, fault, sizeof(fault))) != NULL ||
	    r->name[0] == '\0') {
		snprintf(err, errsz, "%s:%d: a route's name %s", path, sec->line,
		    why != NULL ? why : "must not be empty");
		return -1;
	}
	why = route_check(r);
	if (why != NULL) {
		snprintf(err, errsz, "%s:%d: route '%s': %s", path, sec->line, r->name, why);
		return -1;
	}
	return 0;
}

static int
route_from_cfg(cfg_t *cfg, const char *path, struct route_conf *c, char *err, size_t errsz)
{
	c->path = route_strdup(path);
	c->default_route = route_strdup(cfg_getstr(cfg, "default_route"));
	c->syslog_facility = (int)cfg_getint(cfg, "syslog_facility");
	c->log_level = (int)cfg_getint(cfg, "log_level");
	c->nroutes = cfg_size(cfg, "route");
	c->routes = calloc(c->nroutes + 1, sizeof(*c->routes));
	if (c->path == NULL || c->default_route == NULL || c->routes == NULL) {
		cfgx_error_after(err, errsz, path, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < c->nroutes; i++)
		if (route_from_sec(cfg_getnsec(cfg, "route", (unsigned)i), &c->routes[i], path, err,
		    errsz) != 0)
			return -1;
	if (c->nroutes == 0) {
		cfgx_error_after(err, errsz, path, "no route defined");
		return -1;
	}
	if (c->default_route[0] != '\0' && route_find(c, c->default_route) == NULL) {
		cfgx_error_at(err, errsz, path, cfgx_line(cfg, "default_route", 0),
		    "option 'default_route': no route named '%s'", c->default_route);
		return -1;
	}
	return 0;
}

/* route_finish(): a parsed tree into a new struct route_conf (cfgx.h). */
CFGX_DEFINE_BUILD(route_finish, struct route_conf, route_from_cfg, route_conf_free)

int
route_load(const char *path, struct route_conf **out, char *err, size_t errsz)
{
	return route_finish(cfgx_parse_file(route_opts, path, route_setup, err, errsz), path, out,
	    err, errsz);
}

int
route_load_string(const char *name, const char *text, struct route_conf **out, char *err,
    size_t errsz)
{
	return route_finish(cfgx_parse_string(route_opts, name, text, route_setup, err, errsz),
	    name, out, err, errsz);
}

void
route_conf_free(struct route_conf *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; c->routes != NULL && i < c->nroutes; i++) {
		struct route *r = &c->routes[i];

		free(r->name);
		free(r->hops);
		free(r->ca_file);
		free(r->pins);
		free(r->server_name);
		free(r->client_cert);
		free(r->client_key);
		free(r->helo_name);
	}
	free(c->routes);
	free(c->default_route);
	free(c->path);
	free(c);
}

const struct route *
route_find(const struct route_conf *c, const char *nexthop)
{
	for (size_t i = 0; nexthop != NULL && i < c->nroutes; i++)
		if (c->routes[i].name != NULL && strcasecmp(c->routes[i].name, nexthop) == 0)
			return &c->routes[i];
	if (c->default_route[0] == '\0' || (nexthop != NULL &&
	    strcasecmp(nexthop, c->default_route) == 0))
		return NULL;
	return route_find(c, c->default_route);
}

static int
route_parse_port(const char *s, unsigned *port)
{
	char *end;
	long v;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	v = strtol(s, &end, 10);
	if (*end != '\0' || v < 1 || v > 65535)
		return -1;
	*port = (unsigned)v;
	return 0;
}

/* Split "[v6]:port", "host:port" or "host" into host and port text. */
static int
route_split_hop(const char *text, char *host, const char **port, const char **why)
{
	const char *end, *colon;
	size_t len;

	*port = NULL;
	if (text[0] == '[') {
		end = strchr(text, ']');
		if (end == NULL || (end[1] != '\0' && end[1] != ':')) {
			*why = "expected [IPv6]:port";
			return -1;
		}
		len = (size_t)(end - text - 1);
		text++;
		*port = end[1] == ':' ? end + 2 : NULL;
	} else {
		colon = strchr(text, ':');
		if (colon != NULL && strchr(colon + 1, ':') != NULL) {
			*why = "write an IPv6 address as [address]:port";
			return -1;
		}
		len = colon != NULL ? (size_t)(colon - text) : strlen(text);
		*port = colon != NULL ? colon + 1 : NULL;
	}
	if (len == 0 || len > ROUTE_HOST_MAX) {
		*why = "empty or overlong host";
		return -1;
	}
	memcpy(host, text, len);
	host[len] = '\0';
	return 0;
}

int
route_parse_hop(const char *text, struct route_hop *out, const char **why)
{
	const char *port;
	char norm[DOMAIN_MAX + 1];
	struct net_addr a;

	memset(out, 0, sizeof(*out));
	if (route_split_hop(text, out->host, &port, why) != 0)
		return -1;
	out->port = 25;
	if (port != NULL && route_parse_port(port, &out->port) != 0) {
		*why = "the port must be a number in 1-65535";
		return -1;
	}
	out->is_literal = net_addr_parse(out->host, &a) == 0;
	if (text[0] == '[' && (!out->is_literal || a.family != AF_INET6)) {
		*why = "only IPv6 addresses go in brackets";
		return -1;
	}
	if (!out->is_literal && domain_normalize(out->host, norm, sizeof(norm), why) != 0)
		return -1;
	return 0;
}

const char *
route_hop_format(const struct route_hop *h, char *buf, size_t bufsz)
{
	if (strchr(h->host, ':') != NULL)
		snprintf(buf, bufsz, "[%s]:%u", h->host, h->port);
	else
		snprintf(buf, bufsz, "%s:%u", h->host, h->port);
	return buf;
}

int
route_parse_pin(const char *text, struct route_pin *out, const char **why)
{
	unsigned char buf[33];
	char again[45];

	/* 32 bytes are 43 base64 digits and one '=' of padding. */
	if (strlen(text) != 44 || text[43] != '=' || text[42] == '=') {
		*why = "a pin is 44 characters of base64 (hoprelay --probe prints it)";
		return -1;
	}
	/* OpenSSL decodes; it counts the padding as a zero byte (33). */
	if (EVP_DecodeBlock(buf, (const unsigned char *)text, 44) != 33) {
		*why = "not base64";
		return -1;
	}
	/*
	 * EVP_DecodeBlock skips leading blanks and ignores the unused low bits
	 * of the last digit: only a pin that encodes back to the same text is
	 * the one --probe printed, so two spellings never name one key.
	 */
	EVP_EncodeBlock((unsigned char *)again, buf, ROUTE_PIN_LEN);
	if (strcmp(again, text) != 0) {
		*why = "not a canonical base64 SHA-256";
		return -1;
	}
	memcpy(out->sha256, buf, ROUTE_PIN_LEN);
	return 0;
}
