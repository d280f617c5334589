/*
 * conflist - list options with "file:" entries.  See conflist.h.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cfgx.h"
#include "conflist.h"
#include "domain.h"
#include "listfile.h"

/* A file: entry at parse time: only its form; the file is read when the configuration is built. */
static int
conflist_check_file_entry(cfg_t *cfg, cfg_opt_t *opt, const char *s)
{
	const char *path = listfile_path(s);

	if (path[0] != '/') {
		cfg_error(cfg, "option '%s': '%s': a list file must be file:/absolute/path",
		    opt->name, s);
		return -1;
	}
	return 0;
}

int
conflist_validate_domains(cfg_t *cfg, cfg_opt_t *opt)
{
	unsigned n = cfg_opt_size(opt);

	if (cfgx_check_text(cfg, opt, CFGX_TEXT_MAX) != 0)
		return -1;
	if (n > 0 && listfile_path(cfg_opt_getnstr(opt, n - 1)) != NULL)
		return conflist_check_file_entry(cfg, opt, cfg_opt_getnstr(opt, n - 1));
	return cfgx_validate_domain_list(cfg, opt);
}

int
conflist_validate_nets(cfg_t *cfg, cfg_opt_t *opt)
{
	unsigned n = cfg_opt_size(opt);

	if (cfgx_check_text(cfg, opt, CFGX_TEXT_MAX) != 0)
		return -1;
	if (n > 0 && listfile_path(cfg_opt_getnstr(opt, n - 1)) != NULL)
		return conflist_check_file_entry(cfg, opt, cfg_opt_getnstr(opt, n - 1));
	return cfgx_validate_cidr_list(cfg, opt);
}

struct conflist_dctx {
	struct dset *set;
	bool dotted;
	bool oom;
};

static int
conflist_add_domain(void *arg, const char *raw, const char **why)
{
	struct conflist_dctx *x = arg;
	bool dot = raw[0] == '.';
	char norm[DOMAIN_MAX + 1];

	if (domain_normalize(dot ? raw + 1 : raw, norm, sizeof(norm), why) != 0)
		return -1;
	if (dset_add(x->set, norm, x->dotted ? dot : true) != 0) {
		x->oom = true;
		*why = "out of memory";
		return -1;
	}
	return 0;
}

int
conflist_domains(cfg_t *sec, const char *name, bool dotted, struct dset **out, char *err,
    size_t errsz)
{
	struct conflist_dctx x = {.set = dset_new(), .dotted = dotted};
	const char *why;

	*out = NULL;
	if (x.set == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	for (unsigned i = 0; i < cfg_size(sec, name); i++) {
		const char *raw = cfg_getnstr(sec, name, i), *path = listfile_path(raw);

		if (path != NULL) {
			if (listfile_read(path, conflist_add_domain, &x, err, errsz) < 0)
				goto fail;
		} else if (conflist_add_domain(&x, raw, &why) != 0) {
			/* Validated while parsing: only memory can fail here. */
			snprintf(err, errsz, "option '%s': '%s': %s", name, raw, why);
			goto fail;
		}
	}
	*out = x.set;
	return 0;
fail:
	dset_free(x.set);
	return -1;
}

static int
conflist_add_net(void *arg, const char *raw, const char **why)
{
	struct net_cidr net;

	if (net_cidr_parse(raw, &net, why) != 0)
		return -1;
	if (net_list_add(arg, &net) != 0) {
		*why = "out of memory";
		return -1;
	}
	return 0;
}

int
conflist_nets(cfg_t *sec, const char *name, struct net_list *out, char *err, size_t errsz)
{
	const char *why;

	for (unsigned i = 0; i < cfg_size(sec, name); i++) {
		const char *raw = cfg_getnstr(sec, name, i), *path = listfile_path(raw);

		if (path != NULL) {
			if (listfile_read(path, conflist_add_net, out, err, errsz) < 0)
				return -1;
		} else if (conflist_add_net(out, raw, &why) != 0) {
			snprintf(err, errsz, "option '%s': '%s': %s", name, raw, why);
			return -1;
		}
	}
	/* The list is complete: make its lookup form, O(log n) per message. */
	if (net_list_build(out) != 0) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	return 0;
}
