/*
 * outcome - what hoprelay tells its MTA: the sysexits(3) status and the
 * status line, mapped once from the result of each attempt.
 *
 * The status line goes first on stderr and starts with an RFC 3463 code,
 * "2.0.0 sent to 10.200.0.2:25 as 4XyZ1, TLSv1.3, pin 1" (short: Postfix's
 * pipe(8) keeps 100 characters), "4.4.1 connect to 10.200.0.2:25:
 * Connection refused", "5.1.1 host
 * 10.200.0.2:25 said: 550 5.1.1 <bob@example.com>: ... (in reply to RCPT TO
 * command)".  Postfix's pipe(8) lets that code take precedence over the exit
 * status, so the line's class and the exit status must always agree:
 *
 *   0             delivered (the next hop accepted it for every recipient)
 *   75 TEMPFAIL   every transient condition: no hop reachable, TLS or pin
 *                 failure, a 4xx, a timeout, a refusing or broken hop, a
 *                 local configuration or input problem; the MTA keeps the
 *                 message and tries again later
 *   67 NOUSER     a 5.1.x refusal of the recipient
 *   65 DATAERR    the message cannot be carried by the hop as it is
 *                 (8-bit data or UTF-8 addresses without the extension)
 *   69 UNAVAILABLE any other 5xx for the transaction, or the message is
 *                 over the hop's size limit
 *
 * A hop that refuses the session itself (5xx greeting, EHLO or STARTTLS)
 * is a broken hop, not a verdict on the message: transient.
 */
#ifndef HOP_OUTCOME_H
#define HOP_OUTCOME_H

#include <stdbool.h>
#include <stddef.h>

#include "xfer.h"

struct outcome {
	int exit_code;
	char status[16];       /* "4.4.1" */
	char text[1024];       /* what follows the status on the line */
};

/* Map one attempt against `hop` ("10.200.0.2:25"). */
void outcome_from_xfer(const struct xfer_status *st, const char *hop, struct outcome *out);

/*
 * A problem found outside an attempt, by hoprelay itself: EX_TEMPFAIL with
 * a 4.x.x `status` for a transient one (configuration, input, name
 * lookup), another exit code with a 5.x.x `status` for a permanent one
 * found before any attempt (bad address argument).  The text is
 * sanitised like a hop's.
 */
void outcome_local(struct outcome *out, int exit_code, const char *status, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

/* Transient: another hop, or a later try, may succeed. */
bool outcome_is_transient(const struct outcome *o);

/*
 * Add a later failed attempt to the first one's outcome, which keeps its
 * status and exit code; the text lists every hop's reason.
 */
void outcome_append(struct outcome *first, const struct outcome *later);

/* "STATUS TEXT" */
const char *outcome_line(const struct outcome *o, char *buf, size_t bufsz);

/* "sent", "deferred" or "bounced" for log lines. */
const char *outcome_word(const struct outcome *o);

#endif
