/*
 * cfgx - libconfuse glue shared by hopmilter.conf and hoprelay.conf.
 *
 * libconfuse reports errors through a callback and, inside sections, without
 * the file name.  cfgx keeps the first error of a load as "FILE:LINE: reason"
 * in a caller-supplied buffer, so the caller can print it (exit 78) or log it
 * (a failed reload keeps the old configuration).
 *
 * Parse callbacks for the value types both programs use (durations, enums)
 * and list validators (CIDR, domain) live here so that each option's table
 * entry can name its checker.  Every checker reports with cfg_error(), which
 * carries the line number.
 */
#ifndef HOP_CFGX_H
#define HOP_CFGX_H

#include <confuse.h>
#include <stddef.h>

/* The largest configuration file read (cfgx_read_file). */
#define CFGX_FILE_MAX (4 * 1024 * 1024)

/*
 * Read the file at `path` whole into a new NUL-terminated buffer, which the
 * caller frees.  Only a regular file (a symbolic link to one is fine) of at
 * most CFGX_FILE_MAX bytes without a NUL byte is read: a directory, a FIFO,
 * a device or a socket is refused without blocking (the file is opened
 * with O_NONBLOCK and checked with fstat on the open descriptor), because
 * libconfuse's scanner exits the process when reading fails and waits
 * forever on a FIFO.  0, or -1 with "FILE: reason" in `err`.
 */
int cfgx_read_file(const char *path, char **text, size_t *len, char *err, size_t errsz);

/*
 * Parse `path` with `opts` into a new cfg_t.  Returns NULL and fills `err`
 * with "FILE:LINE: reason" (or "FILE: reason") on any error, including a
 * missing or unreadable file.  The caller frees the result with cfg_free().
 * `setup` (may be NULL) runs after cfg_init, to attach validators.  The
 * file is read with cfgx_read_file() and parsed from memory: libconfuse
 * never touches the file itself.
 */
cfg_t *cfgx_parse_file(cfg_opt_t *opts, const char *path, void (*setup)(cfg_t *),
    char *err, size_t errsz);

/* Same, from a string; `name` stands in for the file name in messages. */
cfg_t *cfgx_parse_string(cfg_opt_t *opts, const char *name, const char *text,
    void (*setup)(cfg_t *), char *err, size_t errsz);

/*
 * Turn a parsed tree into the caller's own immutable struct: allocate
 * `objsz` zeroed bytes, run `convert` on them, and free the tree either way.
 * On failure `destroy` releases what `convert` left and NULL is returned
 * with `err` filled in.  `cfg` may be NULL (the parse failed: `err` holds
 * its reason already).
 */
void *cfgx_build(cfg_t *cfg, const char *path, size_t objsz,
    int (*convert)(cfg_t *cfg, const char *path, void *obj, char *err, size_t errsz),
    void (*destroy)(void *obj), char *err, size_t errsz);

/*
 * CFGX_DEFINE_BUILD(NAME, TYPE, FROM_CFG, FREE) defines
 *
 *   static int NAME(cfg_t *cfg, const char *path, TYPE **out, char *err, size_t errsz);
 *
 * cfgx_build() for one struct: *out is a new TYPE filled by
 * FROM_CFG(cfg, path, TYPE *, err, errsz) (released with FREE(TYPE *) when
 * that fails), and the tree is freed either way.  0, or -1 with *out NULL
 * and `err` filled in.  A macro because cfgx_build() takes void * callbacks
 * and each struct's own functions take their own type: the two small
 * adapters between them would otherwise be written again for every struct.
 */
#define CFGX_DEFINE_BUILD(name, type, from_cfg, free_fn)                              \
	static int name##_convert(cfg_t *cfg, const char *path, void *obj, char *err,   \
	    size_t errsz)                                                               \
	{                                                                               \
		return from_cfg(cfg, path, (type *)obj, err, errsz);                    \
	}                                                                               \
	static void name##_destroy(void *obj)                                           \
	{                                                                               \
		free_fn((type *)obj);                                                   \
	}                                                                               \
	static int name(cfg_t *cfg, const char *path, type **out, char *err, size_t errsz) \
	{                                                                               \
		*out = cfgx_build(cfg, path, sizeof(type), name##_convert, name##_destroy, \
		    err, errsz);                                                        \
		return *out != NULL ? 0 : -1;                                           \
	}

/*
 * Report an error found after parsing (a constraint between options), in the
 * same "FILE: reason" form.
 */
void cfgx_error_after(char *err, size_t errsz, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * The same with the line of the value that caused it (cfgx_line), when
 * known: "FILE:LINE: reason", else "FILE: reason".
 */
void cfgx_error_at(char *err, size_t errsz, const char *path, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/*
 * The line where value `index` of string option `name` of section `sec`
 * was set, for an error found after parsing; 0 when it came from the
 * default.  Valid from cfgx_parse_*() until cfgx_build() returns.
 */
int cfgx_line(cfg_t *sec, const char *name, unsigned index);

/*
 * Configuration text.  Every string value of both programs is checked as
 * it is parsed (with its line): at most CFGX_TEXT_MAX bytes unless its
 * option says less, and no control character (0x00-0x1f, 0x7f) -- a
 * newline or an escape in a value would break the log line or the header
 * it ends up in.  A string option with no validator of its own gets
 * cfgx_validate_text; an option's own validator calls cfgx_check_text
 * first, with its own limit.  A "\0" escape, which libconfuse would turn
 * into a silent end of the value, is refused before parsing (cfgtext.h).
 */
#define CFGX_TEXT_MAX 4096
int cfgx_check_text(cfg_t *cfg, cfg_opt_t *opt, size_t max);
int cfgx_validate_text(cfg_t *cfg, cfg_opt_t *opt);
/*
 * Why `s` is no configuration text (longer than `max` bytes, a control
 * character), written into `buf`; NULL when it is fine.  For text no
 * validator sees, such as a section's title.
 */
const char *cfgx_text_fault(const char *s, size_t max, char *buf, size_t bufsz);
/* The newest value of string option `opt` (a list's last element so far), or NULL. */
const char *cfgx_newest(cfg_opt_t *opt);

/* A duration: "250ms", "30s", "5m", "1h"; stored as milliseconds (long). */
int cfgx_cb_duration_ms(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result);

struct cfgx_enum {
	const char *name;
	long value;
};
/* For enum parse callbacks: look `value` up in a NULL-terminated table. */
int cfgx_parse_enum(cfg_t *cfg, cfg_opt_t *opt, const char *value, void *result,
    const struct cfgx_enum *table);

/* List validators: every element must be a CIDR network / a domain name. */
int cfgx_validate_cidr_list(cfg_t *cfg, cfg_opt_t *opt);
int cfgx_validate_domain_list(cfg_t *cfg, cfg_opt_t *opt);

/* Validators for single values. */
int cfgx_validate_port(cfg_t *cfg, cfg_opt_t *opt);
int cfgx_validate_nonneg(cfg_t *cfg, cfg_opt_t *opt);
int cfgx_validate_positive(cfg_t *cfg, cfg_opt_t *opt);

#endif
