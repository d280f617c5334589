/*
 * msgin - the message on standard input, turned into SMTP DATA on the fly.
 *
 * The MTA pipes the message in with LF line ends.  msgin reads it in fixed
 * chunks and hands out the DATA form: every line end (LF, CRLF or a lone
 * CR) becomes CRLF, a '.' starting a line is doubled, the last line is
 * terminated and ".\r\n" follows.  Lines of any length stream through
 * unchanged; nothing but the buffers in struct msgin is ever used, so
 * memory does not grow with the message.
 *
 * Whether the message holds 8-bit bytes must be known before MAIL FROM
 * (BODY=8BITMIME), long before the body is read.  msgin therefore reads a
 * fixed look-ahead window first.  When the whole message fits (nearly all
 * mail does) the answer is exact, and a failed attempt can be replayed to
 * the next hop.  When it does not, the answer is "unknown": the caller
 * declares 8BITMIME if the server offers it (valid for 7-bit text too), and
 * otherwise asks msgin_next() to stop at the first 8-bit byte so the
 * transaction can be abandoned before it completes.
 */
#ifndef HOP_MSGIN_H
#define HOP_MSGIN_H

#include <stdbool.h>
#include <stddef.h>

#define MSGIN_LOOKAHEAD (64 * 1024)
#define MSGIN_CHUNK (16 * 1024)

/* The line-end / dot-stuffing state machine, usable on its own. */
struct msgin_conv {
	bool bol;          /* at the start of a line */
	bool cr;           /* the previous byte was a CR not yet resolved */
	bool eightbit;     /* a byte >= 0x80 went through */
	unsigned long long stuffed;  /* dots added */
};

/* Worst case: every byte doubles, plus the ending "\r\n.\r\n". */
#define MSGIN_CONV_OUT(n) (2 * (n) + 5)

void msgin_conv_init(struct msgin_conv *c);
/* Convert `n` bytes; `out` holds MSGIN_CONV_OUT(n).  Returns bytes written. */
size_t msgin_conv_run(struct msgin_conv *c, const unsigned char *in, size_t n, unsigned char *out);
/* End the data: terminate the last line, then ".\r\n".  `out` holds 5 bytes. */
size_t msgin_conv_finish(struct msgin_conv *c, unsigned char *out);

enum msgin_8bit {
	MSGIN_7BIT,        /* the whole message was seen: 7-bit */
	MSGIN_8BIT,        /* an 8-bit byte was seen */
	MSGIN_UNKNOWN,     /* the message is longer than the look-ahead: not yet known */
};

enum msgin_result {
	MSGIN_OK,          /* the next piece of DATA is in *out, *len */
	MSGIN_END,         /* everything, including ".\r\n", was handed out */
	MSGIN_STOP_8BIT,   /* an 8-bit byte, and msgin_forbid_8bit() was called */
	MSGIN_ERROR,       /* reading standard input failed (errno kept in `err`) */
};

struct msgin {
	int fd;
	int err;                       /* errno of a failed read */
	unsigned char head[MSGIN_LOOKAHEAD];
	size_t headlen;
	bool head_is_all;              /* end of input was reached inside the window */
	bool head_8bit;
	size_t pos;                    /* next byte of `head` to convert */
	bool past_head;                /* bytes after the window were read: no replay */
	bool at_eof;
	bool finished;
	bool forbid_8bit;
	struct msgin_conv conv;
	unsigned char in[MSGIN_CHUNK];
	unsigned char out[MSGIN_CONV_OUT(MSGIN_CHUNK)];
};

/*
 * Read the look-ahead window from `fd`.  0, or -1 when the read fails
 * (errno in m->err).  The struct is large: keep it static, not on the stack.
 */
int msgin_open(struct msgin *m, int fd);
enum msgin_8bit msgin_eightbit(const struct msgin *m);
/* Octets as the DATA will carry them (RFC 1870 rules), or -1 when not yet known. */
long msgin_size(const struct msgin *m);
/* Stop at the first 8-bit byte from now on (the server lacks 8BITMIME). */
void msgin_forbid_8bit(struct msgin *m, bool forbid);
/* True while the message can be sent again from the start. */
bool msgin_replayable(const struct msgin *m);
/* Start over (only when replayable). */
void msgin_rewind(struct msgin *m);
/*
 * The next piece of DATA.  *out points into `m` and stays valid until the
 * next call.  A piece holding a forbidden 8-bit byte is never handed out.
 */
enum msgin_result msgin_next(struct msgin *m, const unsigned char **out, size_t *len);

#endif
