/*
 * hostiletext - the hostile insertions a configuration string is tested
 * with (conf_test, route_test): escapes that make a control character, a
 * raw line break inside quotes, and the escapes libconfuse turns into a
 * NUL that would silently end the value (lib/cfgx.h, lib/cfgtext.h).
 * `ins` is written into a double-quoted value as is; `want` is a part of
 * the error every one of them must give.
 */
#ifndef HOP_HOSTILETEXT_H
#define HOP_HOSTILETEXT_H

static const struct {
	const char *ins, *want;
} hostile_text[] = {
	{"\\n", "holds a control character (0x0a)"},
	{"\\r", "holds a control character (0x0d)"},
	{"\\t", "holds a control character (0x09)"},
	{"\\e", "holds a control character (0x1b)"},
	{"\\x7f", "holds a control character (0x7f)"},
	{"\\001", "holds a control character (0x01)"},
	{"\n", "a quoted string runs past the end of its line"},   /* a raw line break */
	{"\\0", "a string escape makes a NUL byte"},
	{"\\000", "a string escape makes a NUL byte"},
	{"\\x00", "a string escape makes a NUL byte"},
	{"\\x0", "a string escape makes a NUL byte"},
};

#endif
