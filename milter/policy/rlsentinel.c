/*
 * rlsentinel - ask the sentinels for the master's address.  See
 * rlsentinel.h.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rlconn.h"
#include "rlsentinel.h"

int
rlsentinel_copy(struct rlsentinel *s, const struct conf_sentinel *c)
{
	s->master = strdup(c->master);
	s->user = strdup(c->user);
	s->password = strdup(c->password);
	if (s->master == NULL || s->user == NULL || s->password == NULL)
		return -1;
	if (c->naddrs > 0 && (s->addrs = calloc(c->naddrs, sizeof(*s->addrs))) == NULL)
		return -1;
	for (; s->n < c->naddrs; s->n++) {
		s->addrs[s->n].port = c->addrs[s->n].port;
		if ((s->addrs[s->n].host = strdup(c->addrs[s->n].host)) == NULL)
			return -1;
	}
	return 0;
}

void
rlsentinel_free(struct rlsentinel *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->addrs[i].host);
	free(s->addrs);
	free(s->master);
	free(s->user);
	free(s->password);
}

bool
rlsentinel_enabled(const struct rlsentinel *s)
{
	return s->master[0] != '\0';
}

int
rlsentinel_discover(const struct rlsentinel *s, long connect_ms, long timeout_ms,
    char *host, size_t hostsz, int *port, char *why, size_t whysz)
{
	const char *argv[3] = {"SENTINEL", "get-master-addr-by-name", s->master};

	for (size_t i = 0; i < s->n; i++) {
		redisContext *c = rlconn_connect(s->addrs[i].host, s->addrs[i].port, connect_ms,
		    timeout_ms, why, whysz);
		redisReply *rep = NULL;

		if (c != NULL && rlconn_auth(c, s->user, s->password, timeout_ms, why, whysz) == 0)
			rep = rlconn_cmd(c, 3, argv, timeout_ms, why, whysz);
		if (rep != NULL && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
		    rep->element[0]->type == REDIS_REPLY_STRING &&
		    rep->element[1]->type == REDIS_REPLY_STRING) {
			snprintf(host, hostsz, "%s", rep->element[0]->str);
			*port = atoi(rep->element[1]->str);
			freeReplyObject(rep);
			redisFree(c);
			return 0;
		}
		if (rep != NULL)
			rlconn_why(why, whysz, "sentinel %s:%s knows no such master",
			    s->addrs[i].host, s->master);
		freeReplyObject(rep);
		redisFree(c);
	}
	return -1;
}
