/*
 * cfgx - libconfuse error capture, value parsers and validators.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfgtext.h"
#include "cfgx.h"
#include "domain.h"
#include "netaddr.h"

/*
 * The error sink of the load running in this thread.  libconfuse gives its
 * error callback no user pointer; a thread-local keeps concurrent loads (a
 * reload thread, parallel unit tests) apart.
 */
static _Thread_local struct {
	char *buf;
	size_t bufsz;
	const char *path;
	int have;
	/* Where each string value was set (cfgx_line); kept until cfgx_build ends. */
	struct cfgx_where {
		const cfg_opt_t *opt;
		unsigned index;
		int line;
	} *where;
	size_t nwhere, capwhere;
} cfgx_sink;

static void
cfgx_where_clear(void)
{
	free(cfgx_sink.where);
	cfgx_sink.where = NULL;
	cfgx_sink.nwhere = cfgx_sink.capwhere = 0;
}

/* Remember the line of value `index` of `opt`; losing it (ENOMEM) only costs a line number. */
static void
cfgx_where_note(const cfg_opt_t *opt, unsigned index, int line)
{
	if (cfgx_sink.nwhere == cfgx_sink.capwhere) {
		size_t cap = cfgx_sink.capwhere == 0 ? 64 : cfgx_sink.capwhere * 2;
		struct cfgx_where *w = realloc(cfgx_sink.where, cap * sizeof(*w));

		if (w == NULL)
			return;
		cfgx_sink.where = w;
		cfgx_sink.capwhere = cap;
	}
	cfgx_sink.where[cfgx_sink.nwhere++] = (struct cfgx_where){opt, index, line};
}

int
cfgx_line(cfg_t *sec, const char *name, unsigned index)
{
	const cfg_opt_t *opt = cfg_getopt(sec, name);

	/* Newest first: a list assigned again ("=" after "+=") reuses its indexes. */
	for (size_t i = cfgx_sink.nwhere; opt != NULL && i-- > 0;)
		if (cfgx_sink.where[i].opt == opt && cfgx_sink.where[i].index == index)
			return cfgx_sink.where[i].line;
	return 0;
}

/*
 * Every string option without a validator of its own gets the generic one,
 * in each section instance and in each section template (a CFGF_MULTI
 * section's instances are copied from it as they are parsed).
 */
static void
cfgx_install_text_checks(cfg_opt_t *opts, cfg_t *cfg)
{
	for (cfg_opt_t *opt = opts; opt != NULL && opt->name != NULL; opt++) {
		if (opt->type == CFGT_STR && opt->validcb == NULL) {
			opt->validcb = cfgx_validate_text;
		} else if (opt->type == CFGT_SEC) {
			cfgx_install_text_checks(opt->subopts, NULL);
			for (unsigned i = 0; cfg != NULL && i < cfg_opt_size(opt); i++) {
				cfg_t *sec = cfg_opt_getnsec(opt, i);

				cfgx_install_text_checks(sec->opts, sec);
			}
		}
	}
}

static void
cfgx_errfn(cfg_t *cfg, const char *fmt, va_list ap)
{
	char reason[512];
	/* Sections lose their filename (libconfuse 3.3); use the file's. */
	const char *path = cfgx_sink.path ? cfgx_sink.path : "?";

	if (cfgx_sink.have || cfgx_sink.buf == NULL)
		return; /* the first error is the one that explains the rest */
	vsnprintf(reason, sizeof(reason), fmt, ap);
	if (cfg != NULL && cfg->line > 0)
		snprintf(cfgx_sink.buf, cfgx_sink.bufsz, "%s:%d: %s", path, cfg->line, reason);
	else
		snprintf(cfgx_sink.buf, cfgx_sink.bufsz, "%s: %s", path, reason);
	cfgx_sink.have = 1;
}

/*
 * Parse `text` (owned by the caller, changed in place): its comments are
 * blanked first, so that libconfuse's line numbers are the file's
 * (cfgtext.h).
 */
static cfg_t *
cfgx_run(cfg_opt_t *opts, const char *path, char *text, void (*setup)(cfg_t *),
    char *err, size_t errsz)
{
	cfg_t *cfg;
	unsigned line;
	const char *why;
	int rc;

	err[0] = '\0';
	cfgx_where_clear();
	if (cfgtext_uncomment(text, &line, &why) != 0) {
		snprintf(err, errsz, "%s:%u: %s", path, line, why);
		return NULL;
	}
	cfg = cfg_init(opts, CFGF_NONE);
	if (cfg == NULL) {
		snprintf(err, errsz, "%s: out of memory", path);
		return NULL;
	}
	cfg_set_error_function(cfg, cfgx_errfn);
	if (setup != NULL)
		setup(cfg);
	cfgx_install_text_checks(cfg->opts, cfg);
	cfgx_sink.buf = err;
	cfgx_sink.bufsz = errsz;
	cfgx_sink.path = path;
	cfgx_sink.have = 0;
	rc = cfg_parse_buf(cfg, text);
	if (rc != CFG_SUCCESS && !cfgx_sink.have)
		snprintf(err, errsz, "%s: syntax error", path);
	cfgx_sink.buf = NULL;
	cfgx_sink.path = NULL;
	if (rc != CFG_SUCCESS) {
		cfg_free(cfg);
		cfgx_where_clear();
		return NULL;
	}
	return cfg;
}

/* What kind of thing `st` is, for "not a regular file (a directory)". */
static const char *
cfgx_file_kind(const struct stat *st)
{
	if (S_ISDIR(st->st_mode))
		return "a directory";
	if (S_ISFIFO(st->st_mode))
		return "a FIFO";
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode))
		return "a device";
	if (S_ISSOCK(st->st_mode))
		return "a socket";
	return "not a plain file";
}

/* Read all of `fd` into a new buffer; more than CFGX_FILE_MAX bytes is an error. */
static int
cfgx_read_fd(int fd, const char *path, char **text, size_t *len, char *err, size_t errsz)
{
	size_t cap = 0, have = 0;
	char *buf = NULL;

	for (;;) {
		ssize_t r;

		if (have + 1 >= cap) {
			char *nb = realloc(buf, cap = cap == 0 ? 8192 : cap * 2);

			if (nb == NULL) {
				snprintf(err, errsz, "%s: out of memory", path);
				goto fail;
			}
			buf = nb;
		}
		r = read(fd, buf + have, cap - 1 - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errsz, "%s: cannot read: %s", path, strerror(errno));
			goto fail;
		}
		if (r == 0)
			break;
		/* Checked as it is read: the file may have grown since fstat. */
		if ((have += (size_t)r) > CFGX_FILE_MAX) {
			snprintf(err, errsz, "%s: larger than %d bytes", path, CFGX_FILE_MAX);
			goto fail;
		}
	}
	buf[have] = '\0';
	*text = buf;
	*len = have;
	return 0;
fail:
	free(buf);
	return -1;
}

int
cfgx_read_file(const char *path, char **text, size_t *len, char *err, size_t errsz)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY), rc = -1;

	*text = NULL;
	*len = 0;
	if (fd < 0) {
		snprintf(err, errsz, "%s: cannot read: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0)
		snprintf(err, errsz, "%s: cannot read: %s", path, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		snprintf(err, errsz, "%s: not a regular file (%s)", path, cfgx_file_kind(&st));
	else if (st.st_size > CFGX_FILE_MAX)
		snprintf(err, errsz, "%s: larger than %d bytes", path, CFGX_FILE_MAX);
	else
		rc = cfgx_read_fd(fd, path, text, len, err, errsz);
	close(fd);
	if (rc != 0)
		return -1;
	/* libconfuse would stop at a NUL without a word and use half a file. */
	const char *nul = memchr(*text, '\0', *len);
	if (nul != NULL) {
		snprintf(err, errsz, "%s: holds a NUL byte (at offset %zu): not a text file", path,
		    (size_t)(nul - *text));
		free(*text);
		*text = NULL;
		return -1;
	}
	return 0;
}

cfg_t *
cfgx_parse_file(cfg_opt_t *opts, const char *path, void (*setup)(cfg_t *), char *err,
    size_t errsz)
{
	char *text;
	size_t len;
	cfg_t *cfg;

	if (cfgx_read_file(path, &text, &len, err, errsz) != 0)
		return NULL;
	cfg = cfgx_run(opts, path, text, setup, err, errsz);
	free(text);
	return cfg;
}

cfg_t *
cfgx_parse_string(cfg_opt_t *opts, const char *name, const char *text,
    void (*setup)(cfg_t *), char *err, size_t errsz)
{
	char *copy = strdup(text);
	cfg_t *cfg;

	if (copy == NULL) {
		snprintf(err, errsz, "%s: out of memory", name);
		return NULL;
	}
	cfg = cfgx_run(opts, name, copy, setup, err, errsz);
	free(copy);
	return cfg;
}

void *
cfgx_build(cfg_t *cfg, const char *path, size_t objsz,
    int (*convert)(cfg_t *cfg, const char *path, void *obj, char *err, size_t errsz),
    void (*destroy)(void *obj), char *err, size_t errsz)
{
	void *obj;

	if (cfg == NULL)
		return NULL;
	obj = calloc(1, objsz);
	if (obj == NULL)
		cfgx_error_after(err, errsz, path, "out of memory");
	else if (convert(cfg, path, obj, err, errsz) != 0) {
		destroy(obj);
		obj = NULL;
	}
	cfg_free(cfg);
	cfgx_where_clear();
	return obj;
}

static void
cfgx_error_va(char *err, size_t errsz, const char *path, int line, const char *fmt, va_list ap)
{
	char reason[512];

	vsnprintf(reason, sizeof(reason), fmt, ap);
	if (line > 0)
		snprintf(err, errsz, "%s:%d: %s", path, line, reason);
	else
		snprintf(err, errsz, "%s: %s", path, reason);
}

void
cfgx_error_after(char *err, size_t errsz, const char *path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cfgx_error_va(err, errsz, path, 0, fmt, ap);
	va_end(ap);
}

void
cfgx_error_at(char *err, size_t errsz, const char *path, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cfgx_error_va(err, errsz, path, line, fmt, ap);
	va_end(ap);
}

const char *
cfgx_text_fault(const char *s, size_t max, char *buf, size_t bufsz)
{
	size_t len = strnlen(s, max + 1);

	if (len > max) {
		snprintf(buf, bufsz, "is longer than %zu bytes", max);
		return buf;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f) {
			snprintf(buf, bufsz, "holds a control character (0x%02x) at byte %zu", c, i + 1);
			return buf;
		}
	}
	return NULL;
}

const char *
cfgx_newest(cfg_opt_t *opt)
{
	unsigned n = cfg_opt_size(opt);

	return n > 0 ? cfg_opt_getnstr(opt, n - 1) : NULL;
}

int
cfgx_check_text(cfg_t *cfg, cfg_opt_t *opt, size_t max)
{
	const char *s = cfgx_newest(opt), *why;
	char buf[64];

	if (s == NULL)
		return 0;
	cfgx_where_note(opt, cfg_opt_size(opt) - 1, cfg->line);
	/* The value is not repeated: it may be megabytes, or break a log line. */
	if ((why = cfgx_text_fault(s, max, buf, sizeof(buf))) != NULL) {
		cfg_error(cfg, "option '%s': the value %s", opt->name, why);
		return -1;
	}
	return 0;
}

int
cfgx_validate_text(cfg_t *cfg, cfg_opt_t *opt)
{
	return cfgx_check_text(cfg, opt, CFGX_TEXT_MAX);
}

/*
 * A value a parse callback is about to read (enum names, durations): short
 * plain text, else an error that does not repeat it.  True when refused.
 */
static bool
cfgx_parsed_text_bad(cfg_t *cfg, cfg_opt_t *opt, const char *value)
{
	char buf[64];

	if (cfgx_text_fault(value, 64, buf, sizeof(buf)) == NULL)
		return false;
	cfg_error(cfg, "option '%s': the value %s", opt->name, buf);
	return true;
}

int
cfgx_cb_duration_ms(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result)
{
	static const struct {
		const char *unit;
		long ms;
	} units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
	char *end;
	long n;

	if (cfgx_parsed_text_bad(cfg, opt, value))
		return -1;
	errno = 0;
	n = strtol(value, &end, 10);
	if (end == value || value[0] == '-' || value[0] == '+' || errno != 0) {
		cfg_error(cfg, "option '%s': '%s' is not a duration (e.g. 250ms, 30s, 5m)",
		    opt->name, value);
		return -1;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit) == 0) {
			if (n > LONG_MAX / units[i].ms / 2) {
				cfg_error(cfg, "option '%s': duration '%s' is too large", opt->name, value);
				return -1;
			}
			*(long *)result = n * units[i].ms;
			return 0;
		}
	}
	cfg_error(cfg, "option '%s': '%s' needs a unit: ms, s, m or h", opt->name, value);
	return -1;
}

int
cfgx_parse_enum(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result,
    const struct cfgx_enum *table)
{
	char choices[256] = "";

	if (cfgx_parsed_text_bad(cfg, opt, value))
		return -1;
	for (const struct cfgx_enum *e = table; e->name != NULL; e++) {
		if (strcasecmp(value, e->name) == 0) {
			*(long *)result = e->value;
			return 0;
		}
		snprintf(choices + strlen(choices), sizeof(choices) - strlen(choices), "%s%s",
		    e == table ? "" : ", ", e->name);
	}
	cfg_error(cfg, "option '%s': '%s' is not one of: %s", opt->name, value, choices);
	return -1;
}

int
cfgx_validate_cidr_list(cfg_t *cfg, cfg_opt_t *opt)
{
	unsigned n = cfg_opt_size(opt);
	struct net_cidr net;
	const char *why;

	/* Called after each element and again at '}': check the newest. */
	if (n == 0)
		return 0;
	if (cfgx_check_text(cfg, opt, CFGX_TEXT_MAX) != 0)
		return -1;
	const char *s = cfg_opt_getnstr(opt, n - 1);
	if (net_cidr_parse(s, &net, &why) != 0) {
		cfg_error(cfg, "option '%s': '%s': %s", opt->name, s, why);
		return -1;
	}
	return 0;
}

int
cfgx_validate_domain_list(cfg_t *cfg, cfg_opt_t *opt)
{
	unsigned n = cfg_opt_size(opt);
	char norm[DOMAIN_MAX + 2];
	const char *why;

	if (n == 0)
		return 0;
	if (cfgx_check_text(cfg, opt, CFGX_TEXT_MAX) != 0)
		return -1;
	const char *s = cfg_opt_getnstr(opt, n - 1);
	/* A leading dot means "and its subdomains"; the rest must be a name. */
	if (domain_normalize(s[0] == '.' ? s + 1 : s, norm, sizeof(norm), &why) != 0) {
		cfg_error(cfg, "option '%s': '%s': %s", opt->name, s, why);
		return -1;
	}
	return 0;
}

int
cfgx_validate_port(cfg_t *cfg, cfg_opt_t *opt)
{
	long v = cfg_opt_getnint(opt, 0);

	if (v < 1 || v > 65535) {
		cfg_error(cfg, "option '%s': port %ld is outside 1-65535", opt->name, v);
		return -1;
	}
	return 0;
}

int
cfgx_validate_nonneg(cfg_t *cfg, cfg_opt_t *opt)
{
	long v = cfg_opt_getnint(opt, 0);

	if (v < 0) {
		cfg_error(cfg, "option '%s': %ld must not be negative", opt->name, v);
		return -1;
	}
	return 0;
}

int
cfgx_validate_positive(cfg_t *cfg, cfg_opt_t *opt)
{
	long v = cfg_opt_getnint(opt, 0);

	if (v < 1) {
		cfg_error(cfg, "option '%s': %ld must be at least 1", opt->name, v);
		return -1;
	}
	return 0;
}
