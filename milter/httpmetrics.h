/*
 * httpmetrics - the optional HTTP listener serving GET /metrics (the
 * `metrics_listen` option) for Prometheus, on libmicrohttpd: no HTTP
 * parsing of our own.
 *
 * It is as exposed as its address: nothing but the counters is served
 * (every other path is 404), and it has no authentication, so bind it to
 * loopback or a VPN address.  libmicrohttpd's own thread serves it, with at
 * most HTTPMETRICS_MAX_CONN connections and HTTPMETRICS_TIMEOUT_S idle
 * seconds each, apart from the mail threads.
 */
#ifndef HOP_HTTPMETRICS_H
#define HOP_HTTPMETRICS_H

#define HTTPMETRICS_MAX_CONN 16
#define HTTPMETRICS_TIMEOUT_S 5

/*
 * Bind "IP:PORT" / "[IPv6]:PORT" (checked by the configuration) while
 * still root.  The listening fd, or -1 with the reason on stderr.
 */
int httpmetrics_open(const char *listen);
/* Serve `fd` from libmicrohttpd's thread.  0, or -1. */
int httpmetrics_start(int fd);

#endif
