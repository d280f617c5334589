/*
 * authres - the header fields that carry hopmilter's SPF result to the
 * next hops: Authentication-Results (RFC 8601) and Received-SPF (RFC 7208
 * section 9.1), and recognising forged Authentication-Results.
 *
 * Downstream filters (OpenDMARC on the core, a spam filter, a mail client)
 * believe an Authentication-Results header because of its authserv-id.
 * Only this host may write one with our authserv_id, so every incoming one
 * that claims it is deleted before ours is added (authres_claims).
 *
 * The values are built from a struct spfcheck_answer; client text in them
 * (the HELO name, the envelope sender) is quoted and escaped so that it can
 * neither end a field nor forge a key=value pair.
 */
#ifndef HOP_AUTHRES_H
#define HOP_AUTHRES_H

#include <stdbool.h>
#include <stddef.h>

#include "spfcheck.h"

/*
 * Values without the name and the leading space, folded with "\n\t" (the
 * milter form of a folded line).  Return 0, or -1 if `buf` is too small.
 *
 * Authentication-Results:  ID; spf=RESULT smtp.mailfrom=DOMAIN
 * or, when the HELO name decided:  ID; spf=RESULT smtp.helo=NAME
 * smtp.mailfrom carries the domain only, as RFC 8601 section 2.7.2
 * allows: OpenDMARC 1.4.2 matches the text from the '@' on against the
 * envelope domain, so it ignores the result when given a full address.
 *
 * Received-SPF, in the form OpenDMARC 1.4 accepts (identity=mailfrom and an
 * envelope-from in the envelope's domain):
 *   RESULT (RECEIVER: COMMENT)
 *   	client-ip=IP; envelope-from="ADDR";
 *   	helo=NAME; receiver=ID; identity=mailfrom|helo;
 */
int authres_spf(const struct spfcheck_answer *a, const char *authserv_id, char *buf,
    size_t bufsz);
int authres_received_spf(const struct spfcheck_answer *a, const char *receiver, char *buf,
    size_t bufsz);

/*
 * Authentication-Results for a message whose SPF verdict was skipped on
 * purpose (spf.exempt_*): "ID; spf=none reason="WHY" [smtp.mailfrom=DOMAIN]".
 * RFC 8601 has no "not checked" result for SPF; "none" is the one that
 * gives the sender no credit (a DMARC evaluator sees no SPF pass), and
 * the reason says why (section 2.3).  `why` is ours, never client text;
 * `domain` (may be NULL) is the envelope sender's.
 */
int authres_spf_skipped(const char *authserv_id, const char *why, const char *domain,
    char *buf, size_t bufsz);

/*
 * Does this Authentication-Results value claim to come from `authserv_id`?
 * Its authserv-id as RFC 8601 writes it -- after any comments and folding,
 * a token or a quoted-string, perhaps followed by a version ("id 1;") --
 * compared as a domain name: without case, trailing dot or IDN form.
 */
bool authres_claims(const char *value, const char *authserv_id);

#endif
