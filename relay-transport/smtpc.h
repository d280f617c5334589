/*
 * smtpc - the SMTP client protocol without I/O: reply parsing, EHLO
 * capabilities, command text and envelope address checks.
 *
 * Everything here works on strings so that unit tests can drive it with
 * tables; xfer.c does the talking.
 */
#ifndef HOP_SMTPC_H
#define HOP_SMTPC_H

#include <stdbool.h>
#include <stddef.h>

#define SMTPC_LINE_MAX 2048   /* RFC 5321 says 512; servers are sloppier */
#define SMTPC_TEXT_MAX 1024   /* kept of a multi-line reply */
#define SMTPC_ADDR_MAX 512    /* local part + '@' + domain, with room for quoting */
/*
 * The most one reply may be.  A real server's longest is its EHLO list,
 * some 20 lines; a server streaming continuation lines without end must
 * not keep hoprelay reading (and burning CPU) until a deadline.
 */
#define SMTPC_REPLY_LINES_MAX 100
#define SMTPC_REPLY_BYTES_MAX 32768   /* counted with each line's CRLF */

/*
 * One server reply, possibly of several lines ("250-a", "250-b", "250 c").
 * `text` holds the lines after the code, joined with '\n', cut at
 * SMTPC_TEXT_MAX; `enhanced` the RFC 3463 code from the first line.
 */
struct smtpc_reply {
	int code;              /* 0 until the first line */
	char enhanced[16];     /* "5.1.1", or "" when the server gave none */
	char text[SMTPC_TEXT_MAX];
	size_t nlines;
	size_t nbytes;         /* of every line fed, CRLF included */
	bool done;             /* the final line ("NNN " or "NNN") was seen */
};

enum smtpc_feed {
	SMTPC_MORE,   /* a continuation line: feed the next one */
	SMTPC_DONE,   /* the reply is complete */
	SMTPC_BAD,    /* not a reply line, or the code changed between lines */
	SMTPC_TOOBIG, /* more than SMTPC_REPLY_LINES_MAX lines or SMTPC_REPLY_BYTES_MAX bytes */
};

void smtpc_reply_init(struct smtpc_reply *r);
/* Add one line (without CRLF). */
enum smtpc_feed smtpc_reply_feed(struct smtpc_reply *r, const char *line);
/* The reply class: 2, 3, 4 or 5 (0 for none). */
int smtpc_reply_class(const struct smtpc_reply *r);
/*
 * The enhanced status to report for this reply: the server's own when its
 * class matches the reply code, else "4.0.0" / "5.0.0".  `out` >= 16 bytes.
 */
const char *smtpc_reply_status(const struct smtpc_reply *r, char *out, size_t outsz);
/*
 * "550 5.1.1 text" on one line, every line break and control byte replaced
 * so the result is safe on a stderr status line or in a log field.
 */
const char *smtpc_reply_oneline(const struct smtpc_reply *r, char *out, size_t outsz);

/* What the server offered in its EHLO reply. */
struct smtpc_caps {
	bool starttls;
	bool pipelining;
	bool eightbitmime;
	bool smtputf8;
	bool size;
	unsigned long size_max;   /* 0: no fixed limit announced */
};

/* Read the capabilities from a 250 reply to EHLO (its first line is the greeting). */
void smtpc_caps_parse(const struct smtpc_reply *ehlo, struct smtpc_caps *caps);

/* Parameters of MAIL FROM. */
struct smtpc_mail_params {
	long size;          /* SIZE=, when >= 0 and the server offers SIZE */
	bool body8;         /* BODY=8BITMIME */
	bool smtputf8;      /* SMTPUTF8 */
};

/*
 * "MAIL FROM:<sender> [SIZE=n] [BODY=8BITMIME] [SMTPUTF8]\r\n" into `buf`.
 * Returns the length, or 0 when it does not fit.
 */
size_t smtpc_cmd_mail(char *buf, size_t bufsz, const char *sender, const struct smtpc_mail_params *p);
/* "RCPT TO:<rcpt>\r\n"; the length, or 0 when it does not fit. */
size_t smtpc_cmd_rcpt(char *buf, size_t bufsz, const char *rcpt);

enum smtpc_addr {
	SMTPC_ADDR_OK,
	SMTPC_ADDR_UTF8,    /* fine, but has bytes >= 0x80: needs SMTPUTF8 */
	SMTPC_ADDR_BAD,     /* control bytes, angle brackets, too long, empty */
};

/*
 * Check an address from the command line before it goes into a command.
 * The MTA has parsed it already (pipe(8) flag q quotes the local part), so
 * this only keeps out what would break the protocol: CR, LF and other
 * control bytes, '<' or '>', 8-bit bytes that are not well-formed UTF-8,
 * and overlong text.  `null_ok`: "" and "<>"
 * (the null sender) are allowed.
 */
enum smtpc_addr smtpc_addr_check(const char *addr, bool null_ok);

#endif
