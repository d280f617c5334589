/*
 * esc - make client-controlled text safe for the places it is shown.
 *
 * Envelope addresses, HELO names and DNS-supplied SPF explanations are
 * chosen by whoever connects.  They must never break a log line (the
 * fail2ban contract relies on one line per decision with fixed fields) nor
 * an SMTP reply (CR/LF would end it, a lone '%' makes libmilter drop it).
 */
#ifndef HOP_ESC_H
#define HOP_ESC_H

#include <stddef.h>

/*
 * Copy `src` into `dst` for a key=value log field: bytes outside 0x21-0x7e
 * and the backslash become \xHH, so the value holds no space and no control
 * character.  Output longer than `dstsz` is cut and ends in "...".
 * Returns `dst`.
 */
char *esc_log(char *dst, size_t dstsz, const char *src);

/*
 * Copy `src` into `dst` for smfi_setreply(): CR, LF, other control bytes
 * and non-ASCII bytes become '?', and '%' is doubled.  Output is cut to fit
 * (never in the middle of a "%%" pair).  Returns `dst`.
 */
char *esc_reply(char *dst, size_t dstsz, const char *src);

#endif
