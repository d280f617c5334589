/*
 * rlsentinel - where the Redis master is, asked of Redis Sentinel.
 *
 * The sentinels are asked in their configured order (each with AUTH when a
 * sentinel user or password is set) for get-master-addr-by-name; the first
 * answer wins.  The answer may be stale during a failover: the handshake
 * (rlconn) believes ROLE, not Sentinel.  No state, no lock: each call
 * blocks for at most connect_timeout + 2 x timeout per sentinel asked.
 */
#ifndef HOP_RLSENTINEL_H
#define HOP_RLSENTINEL_H

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"

struct rlsentinel {
	char *master;                 /* "" : no Sentinel, use the configured host */
	char *user, *password;
	struct conf_hostport *addrs;
	size_t n;
};

/* Copy `c` into `s` (zeroed by the caller).  0, or -1 when out of memory. */
int rlsentinel_copy(struct rlsentinel *s, const struct conf_sentinel *c);
/* Free what rlsentinel_copy() allocated (also after it failed). */
void rlsentinel_free(struct rlsentinel *s);

/* True when the master is to be discovered rather than configured. */
bool rlsentinel_enabled(const struct rlsentinel *s);

/*
 * The master's address into host/port.  0, or -1 with `why` (the last
 * sentinel's failure) when no sentinel knows it.
 */
int rlsentinel_discover(const struct rlsentinel *s, long connect_ms, long timeout_ms,
    char *host, size_t hostsz, int *port, char *why, size_t whysz);

#endif
