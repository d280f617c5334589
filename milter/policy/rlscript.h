/*
 * rlscript - the exact bytes of redis/gcra.lua, compiled in.
 *
 * milter/policy/rlscript.c is generated from redis/gcra.lua at build time,
 * so the daemon needs no file at run time and cannot run a script other
 * than the one it was built and tested with.  The SHA1 Redis uses for
 * EVALSHA is computed over these bytes (rlredis.c) and checked against
 * Redis at every handshake (rlconn.c); it equals `sha1sum redis/gcra.lua`.
 */
#ifndef HOP_RLSCRIPT_H
#define HOP_RLSCRIPT_H

#include <stddef.h>

extern const unsigned char rlscript_gcra[];
extern const size_t rlscript_gcra_len;

#endif
