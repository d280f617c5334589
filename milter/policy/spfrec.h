/*
 * spfrec - an SPF record as the sender published it, judged by the grammar
 * of RFC 7208 section 12 and rewritten into what libspf2 evaluates the way
 * the RFC says; and explanation text (exp=) rendered by the RFC's macro
 * rules.
 *
 * The record is written by the sender, that is by whoever wants the mail
 * in.  libspf2 1.2.10 accepts records the RFC calls errors (some then give
 * "pass"), refuses valid ones, evaluates redirect= where it stands, and its
 * macro compiler (CVE-2023-42118, unfixed in Debian 12) misbehaves near the
 * end of its 511-byte per-term buffer.  So no record reaches libspf2 that
 * did not pass spfrec_vet(), and what reaches it is the rewrite:
 *   - the limits below, far inside libspf2's buffers;
 *   - ip4/ip6 are decided here against the client's address: no match is
 *     no term, a match is "all" with its qualifier and ends the record
 *     (libspf2 keeps a record's compiled mechanisms in 511 bytes and
 *     silently drops the rest, "-all" included: 60 ip4 terms fill it);
 *     "/0", which libspf2 reads as "no CIDR", is then no problem;
 *   - for a/mx "/0" the domain-spec gets the caller's `any_mark` label
 *     (the DNS layer then answers with the client's own address when the
 *     real name has any address of that family: the RFC's "/0"); a/mx
 *     keep only the CIDR of the client's family;
 *   - nothing after "all" or after the 11th DNS-querying mechanism (which
 *     is a permerror when reached) is passed on;
 *   - what is left must compile into libspf2's 511 bytes, or the record
 *     is refused (SPFREC_LIMIT) rather than cut short;
 *   - unknown modifiers are dropped; redirect= is dropped when the record
 *     has "all" (RFC 7208 section 6.1) and put last otherwise (libspf2
 *     would run it where it stands).
 *
 * Pure functions of their arguments, no libspf2: the fuzzer and the unit
 * tests drive them directly; spfguard.c applies them to every record fetched.
 */
#ifndef HOP_SPFREC_H
#define HOP_SPFREC_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The limits (hopmilter.conf(5) states them).  Real-world records stay far
 * below: providers publish up to about 2 kB in several strings, terms are
 * short domain names, and macros are a few per record.  libspf2 compiles
 * each term into 511 bytes; with these limits a term needs at most about
 * 360.
 */
#define SPFREC_MAX_RECORD  4096  /* bytes of one record, its strings joined */
#define SPFREC_MAX_TERM     256  /* bytes of one term (mechanism or modifier) */
#define SPFREC_MAX_MACROS     8  /* %{...} expands in one term */
#define SPFREC_MAX_DIGITS     3  /* digits of a transformer: 1..128 */
#define SPFREC_MAX_PARTS    128
#define SPFREC_MAX_EXPLAIN  512  /* bytes of an explanation (the TXT exp= names) */
#define SPFREC_MAX_EXP_MACROS 16 /* %{...} in an explanation */
#define SPFREC_MAX_DNS_TERMS 10  /* RFC 7208 section 4.6.4 */
#define SPFREC_ENGINE_MAX   480  /* compiled bytes of mechanisms, of modifiers (libspf2: 511) */

/* Room for the rewrite of any record spfrec_vet() accepts. */
#define SPFREC_OUT_MAX (2 * SPFREC_MAX_RECORD + 64)

enum spfrec_result {
	SPFREC_OK,
	SPFREC_SYNTAX,   /* against RFC 7208 section 12: permerror */
	SPFREC_LIMIT,    /* valid, but over one of our limits: permerror */
};

struct spfrec_rewrite {
	int family;               /* AF_INET or AF_INET6: the client's, as libspf2 sees it */
	const unsigned char *addr; /* the client's address: 4 or 16 bytes, network order */
	const char *any_mark;     /* one DNS label (no dot), appended for a/mx "/0" */
};

/* Is this TXT string an SPF record ("v=spf1" then a space or its end, any case)? */
bool spfrec_is_spf(const char *txt, size_t len);

/*
 * Judge `rec` (`len` bytes, NUL bytes included) and write its rewrite for
 * libspf2, NUL-terminated, to `out` (at least SPFREC_OUT_MAX bytes).  On
 * anything but SPFREC_OK, `why` says what is wrong (ASCII, may quote a
 * part of the record: escape it before logging) and `out` is "".
 */
enum spfrec_result spfrec_vet(const char *rec, size_t len, const struct spfrec_rewrite *rw,
    char *out, size_t outsz, char *why, size_t whysz);

/* Is `s` a valid explain-string (section 6.2) within our limits? */
bool spfrec_explain_ok(const char *s, size_t len);

/* The values macros expand to (section 7.2), all NUL-terminated. */
struct spfrec_vars {
	const char *s, *l, *o, *d;
	const char *i;      /* dotted: 192.0.2.1 or the 32 IPv6 nibbles, upper-case */
	const char *p;      /* the validated name, or "unknown" */
	const char *v;      /* "in-addr" or "ip6" */
	const char *h, *c, *r, *t;
};

/*
 * Expand the explain-string `s` (checked by spfrec_explain_ok) into `out`:
 * upper-case macro letters URL-escape their value with upper-case %XX, all
 * but ALPHA DIGIT "-" "." "_" "~" (section 7.3).  0, or -1 when it does not
 * fit `outsz`.
 */
int spfrec_expand(const char *s, size_t len, const struct spfrec_vars *v, char *out,
    size_t outsz);

#endif
