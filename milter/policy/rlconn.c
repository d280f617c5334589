/*
 * rlconn - connect to Redis and run the handshake (AUTH, SELECT, ROLE,
 * SCRIPT LOAD); every command goes through rlwire (a deadline per command,
 * a size cap on every reply).  See rlconn.h.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "monotime.h"
#include "rlconn.h"
#include "rlwire.h"

struct timeval
rlconn_tv(long ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

	return tv;
}

void
rlconn_why(char *why, size_t whysz, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whysz, fmt, ap);
	va_end(ap);
	for (char *p = why; *p != '\0'; p++)
		if (*p < ' ' || *p >= 0x7f || *p == '"')
			*p = '?';
}

redisReply *
rlconn_call(redisContext *c, int argc, const char **argv, const size_t *lens, long timeout_ms,
    char *why, size_t whysz)
{
	redisReply *rep;
	bool got;
	char w[400];

	if (rlwire_call(c, argc, argv, lens, monotime_ms() + timeout_ms, &rep, &got, w,
	    sizeof(w)) != RLWIRE_OK) {
		rlconn_why(why, whysz, "%s: %s", argv[0], w);
		return NULL;
	}
	return rep;
}

redisReply *
rlconn_cmd(redisContext *c, int argc, const char **argv, long timeout_ms, char *why,
    size_t whysz)
{
	redisReply *rep = rlconn_call(c, argc, argv, NULL, timeout_ms, why, whysz);

	if (rep != NULL && rep->type == REDIS_REPLY_ERROR) {
		rlconn_why(why, whysz, "%s: %s", argv[0], rep->str);
		freeReplyObject(rep);
		return NULL;
	}
	return rep;
}

/* A command whose reply only has to be a non-error. */
static int
rlconn_cmd_ok(redisContext *c, int argc, const char **argv, long timeout_ms, char *why,
    size_t whysz)
{
	redisReply *rep = rlconn_cmd(c, argc, argv, timeout_ms, why, whysz);

	freeReplyObject(rep);
	return rep != NULL ? 0 : -1;
}

redisContext *
rlconn_connect(const char *host, int port, long connect_ms, long timeout_ms, char *why,
    size_t whysz)
{
	redisContext *c = redisConnectWithTimeout(host, port, rlconn_tv(connect_ms));
	char where[300];

	snprintf(where, sizeof(where), "%s:%d", host, port);
	if (c == NULL || c->err) {
		rlconn_why(why, whysz, "connect %s: %s", where, c ? c->errstr : "out of memory");
		redisFree(c);
		return NULL;
	}
	/* redisConnectWithTimeout bounds connect() only: set the command timeout too. */
	if (redisSetTimeout(c, rlconn_tv(timeout_ms)) != REDIS_OK ||
	    redisEnableKeepAlive(c) != REDIS_OK) {
		rlconn_why(why, whysz, "socket options %s: %s", where, c->errstr);
		redisFree(c);
		return NULL;
	}
	return c;
}

int
rlconn_auth(redisContext *c, const char *user, const char *password, long timeout_ms, char *why,
    size_t whysz)
{
	const char *argv[3] = {"AUTH", user, password};

	if (password[0] == '\0' && user[0] == '\0')
		return 0;
	if (user[0] == '\0') {
		argv[1] = password;
		return rlconn_cmd_ok(c, 2, argv, timeout_ms, why, whysz);
	}
	return rlconn_cmd_ok(c, 3, argv, timeout_ms, why, whysz);
}

/*
 * Only a master can take our writes.  Sentinel's answer may be stale
 * (failover in progress), and a plain `host` may have been demoted: believe
 * ROLE.  A server that will not say (an ACL without +role, a proxy) is
 * given the benefit of the doubt; a write would still meet READONLY.
 */
static int
rlconn_check_role(redisContext *c, long timeout_ms, char *why, size_t whysz)
{
	const char *argv[1] = {"ROLE"};
	redisReply *rep = rlconn_call(c, 1, argv, NULL, timeout_ms, why, whysz);
	int rc = -1;

	if (rep == NULL)
		return -1;
	if (rep->type == REDIS_REPLY_ERROR && (strncmp(rep->str, "NOPERM", 6) == 0 ||
	    strncmp(rep->str, "ERR unknown command", 19) == 0))
		rc = 0;
	else if (rep->type == REDIS_REPLY_ARRAY && rep->elements > 0 &&
	    rep->element[0]->type == REDIS_REPLY_STRING &&
	    strcmp(rep->element[0]->str, "master") == 0)
		rc = 0;
	else
		rlconn_why(why, whysz, "ROLE: not a master (failover in progress?)");
	freeReplyObject(rep);
	return rc;
}

/* SCRIPT LOAD: warms the script cache and proves our SHA1 is Redis's. */
static int
rlconn_load_script(const struct rlconn_cfg *cfg, redisContext *c, char *why, size_t whysz)
{
	const char *argv[3] = {"SCRIPT", "LOAD", (const char *)cfg->script};
	size_t lens[3] = {6, 4, cfg->script_len};
	redisReply *rep = rlconn_call(c, 3, argv, lens, cfg->timeout_ms, why, whysz);
	int rc = -1;

	if (rep == NULL)
		;   /* `why` says it */
	else if (rep->type != REDIS_REPLY_STRING)
		rlconn_why(why, whysz, "SCRIPT LOAD: %s", rep->type == REDIS_REPLY_ERROR ? rep->str :
		    "unexpected reply");
	else if (strcmp(rep->str, cfg->sha) != 0)
		rlconn_why(why, whysz, "SCRIPT LOAD: Redis says SHA1 %s, hopmilter computed %s",
		    rep->str, cfg->sha);
	else
		rc = 0;
	freeReplyObject(rep);
	return rc;
}

redisContext *
rlconn_ready(const struct rlconn_cfg *cfg, const char *host, int port, char *why, size_t whysz)
{
	char db[16];
	const char *sel[2] = {"SELECT", db};
	redisContext *c = rlconn_connect(host, port, cfg->connect_ms, cfg->timeout_ms, why, whysz);

	if (c == NULL)
		return NULL;
	snprintf(db, sizeof(db), "%d", cfg->db);
	if (rlconn_auth(c, cfg->user, cfg->password, cfg->timeout_ms, why, whysz) != 0 ||
	    (cfg->db != 0 && rlconn_cmd_ok(c, 2, sel, cfg->timeout_ms, why, whysz) != 0) ||
	    rlconn_check_role(c, cfg->timeout_ms, why, whysz) != 0 ||
	    rlconn_load_script(cfg, c, why, whysz) != 0) {
		redisFree(c);
		return NULL;
	}
	return c;
}
