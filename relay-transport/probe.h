/*
 * probe - `hoprelay --probe HOST:PORT [--starttls]`: show what a server's
 * certificate looks like to hoprelay, so that an administrator can copy its
 * pin into hoprelay.conf, and see which routes already pin it and when it
 * expires.
 *
 * The server is not authenticated here (that is the point: it shows what
 * it presents).  Nothing but EHLO and STARTTLS is sent.
 */
#ifndef HOP_PROBE_H
#define HOP_PROBE_H

#include <stdbool.h>
#include <stdio.h>

#include "route.h"

#define PROBE_WARN_DAYS 30

/*
 * Connect to `target` ("host:port", "[v6]:port"), speak SMTP up to
 * STARTTLS when `starttls` (else TLS from the first byte, as on port 465),
 * and print the leaf certificate's subject, issuer, expiry and pin to
 * `out`.  With `conf` (may be NULL), name the routes whose pin set holds
 * it and warn on `err` when such a certificate expires within
 * PROBE_WARN_DAYS days.  Returns a sysexits code.
 */
int probe_run(const char *target, bool starttls, const struct route_conf *conf, FILE *out,
    FILE *err);

#endif
