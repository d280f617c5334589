/*
 * mproto - the MTA side of the milter protocol (version 6), for the load
 * driver of `make bench`.
 *
 * It talks to a filter the way Postfix 3.7 does (observed with strace and
 * read in its milter8.c): option negotiation offering every action and
 * step; a macro packet before every event, even an event the filter asked
 * to skip and even when no macro of the stage has a value; the filter's
 * macro lists (SMFIR_SETSYMLIST) replace the MTA's default lists; events
 * the filter asked to skip (SMFIP_NO*) are not sent; events it asked not
 * to answer (SMFIP_NR_*) are not waited for.  Writes are buffered and go
 * out in one write() when a reply is due, as Postfix's VSTREAM does.
 *
 * One struct mp_conn is one MTA-to-filter connection; it is used by one
 * thread at a time.
 */
#ifndef HOP_BENCH_MPROTO_H
#define HOP_BENCH_MPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Macro stages, numbered as SMFIM_* (smfi_setsymlist). */
enum mp_stage {
	MP_CONNECT, MP_HELO, MP_ENVFROM, MP_ENVRCPT, MP_DATA, MP_EOM, MP_EOH, MP_NSTAGES
};

/* A macro and its value; a NULL value means "not defined now": not sent. */
struct mp_macro {
	const char *name;
	const char *value;
};

#define MP_WBUF (64 * 1024)
#define MP_RBUF 4096

struct mp_conn {
	int fd;
	int timeout_ms;            /* each wait for a reply */
	uint32_t actions;          /* what the filter asked for (SMFIF_*) */
	uint32_t steps;            /* SMFIP_* it asked for */
	char *symlist[MP_NSTAGES]; /* its macro lists; NULL: the MTA's default */
	size_t wlen;
	unsigned char wbuf[MP_WBUF];
	unsigned char rbuf[MP_RBUF];
	char err[160];             /* why the last call failed */
};

/*
 * Connect to `spec` (unix:/path or inet:PORT@HOST with a numeric host) and
 * negotiate.  0, or -1 with c->err set (the connection is then closed).
 */
int mp_open(struct mp_conn *c, const char *spec, int timeout_ms);
/* Send QUIT (buffered data goes first) and close.  Safe on a closed conn. */
void mp_close(struct mp_conn *c);

/* True when the filter asked not to receive this step (SMFIP_NO*). */
bool mp_skips(const struct mp_conn *c, uint32_t no_flag);
/* True when the filter asked not to answer this step (SMFIP_NR_*). */
bool mp_noreply(const struct mp_conn *c, uint32_t nr_flag);

/*
 * Queue the macro packet of `stage` for event `cmd`: the filter's list for
 * the stage, or the MTA default `deflist` (space-separated names); each name
 * that has a value in `vals` is sent.  0, or -1 when the buffer is full.
 */
int mp_macros(struct mp_conn *c, enum mp_stage stage, char cmd, const char *deflist,
    const struct mp_macro *vals, size_t nvals);
/* Queue one packet.  0, or -1 when it does not fit. */
int mp_packet(struct mp_conn *c, char cmd, const void *data, size_t len);
/* Write everything queued.  0, or -1 (c->err). */
int mp_flush(struct mp_conn *c);
/*
 * Flush, then read replies until a final one (edits such as header
 * insertions and progress notes are read and ignored).  Returns the final
 * reply code (SMFIR_CONTINUE, SMFIR_REPLYCODE ...), or -1 (c->err).
 */
int mp_reply(struct mp_conn *c);

#endif
