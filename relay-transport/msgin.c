/*
 * msgin - streaming conversion of the message on stdin into SMTP DATA.
 * See msgin.h.
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "msgin.h"

void
msgin_conv_init(struct msgin_conv *c)
{
	memset(c, 0, sizeof(*c));
	c->bol = true;
}

size_t
msgin_conv_run(struct msgin_conv *c, const unsigned char *in, size_t n, unsigned char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char b = in[i];

		if (c->cr) {
			/*
			 * CR LF is a line end; a lone CR is treated as one too,
			 * so no bare CR or LF ever reaches the server (where it
			 * could be read as a line end, and a line end followed by
			 * "." as the end of the data).
			 */
			out[o++] = '\r';
			out[o++] = '\n';
			c->cr = false;
			c->bol = true;
			if (b == '\n')
				continue;
		}
		if (b == '\r') {
			c->cr = true;
			continue;
		}
		if (b == '\n') {
			out[o++] = '\r';
			out[o++] = '\n';
			c->bol = true;
			continue;
		}
		if (c->bol && b == '.') {
			out[o++] = '.';
			c->stuffed++;
		}
		if (b >= 0x80)
			c->eightbit = true;
		out[o++] = b;
		c->bol = false;
	}
	return o;
}

size_t
msgin_conv_finish(struct msgin_conv *c, unsigned char *out)
{
	size_t o = 0;

	if (c->cr || !c->bol) {
		out[o++] = '\r';
		out[o++] = '\n';
		c->cr = false;
		c->bol = true;
	}
	memcpy(out + o, ".\r\n", 3);
	return o + 3;
}

/* read(2) until `len` bytes or end of input; -1 on error. */
static ssize_t
msgin_read_full(int fd, unsigned char *buf, size_t len, bool *eof)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			*eof = true;
			break;
		}
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int
msgin_open(struct msgin *m, int fd)
{
	ssize_t n;

	m->fd = fd;
	m->err = 0;
	m->at_eof = false;
	m->past_head = false;
	n = msgin_read_full(fd, m->head, sizeof(m->head), &m->at_eof);
	if (n < 0) {
		m->err = errno;
		return -1;
	}
	m->headlen = (size_t)n;
	/* A full window with nothing after it still needs one more read to know. */
	m->head_is_all = m->at_eof;
	m->head_8bit = false;
	for (size_t i = 0; i < m->headlen && !m->head_8bit; i++)
		m->head_8bit = m->head[i] >= 0x80;
	msgin_rewind(m);
	return 0;
}

enum msgin_8bit
msgin_eightbit(const struct msgin *m)
{
	if (m->head_8bit)
		return MSGIN_8BIT;
	return m->head_is_all ? MSGIN_7BIT : MSGIN_UNKNOWN;
}

long
msgin_size(const struct msgin *m)
{
	struct msgin_conv c;
	unsigned char out[MSGIN_CONV_OUT(1024)];
	size_t total = 0;

	if (!m->head_is_all)
		return -1;
	/* Convert once without keeping the result: exact, and only 64 KB of work. */
	msgin_conv_init(&c);
	for (size_t i = 0; i < m->headlen; i += 1024) {
		size_t n = m->headlen - i < 1024 ? m->headlen - i : 1024;

		total += msgin_conv_run(&c, m->head + i, n, out);
	}
	total += msgin_conv_finish(&c, out);
	/* RFC 1870: neither the added dots nor the final ".\r\n" count. */
	return (long)(total - c.stuffed - 3);
}

void
msgin_forbid_8bit(struct msgin *m, bool forbid)
{
	m->forbid_8bit = forbid;
}

bool
msgin_replayable(const struct msgin *m)
{
	return !m->past_head;
}

void
msgin_rewind(struct msgin *m)
{
	m->pos = 0;
	m->finished = false;
	m->forbid_8bit = false;
	msgin_conv_init(&m->conv);
}

/* The next raw piece: from the window first, then from the descriptor. */
static int
msgin_raw(struct msgin *m, const unsigned char **raw, size_t *len)
{
	ssize_t n;

	if (m->pos < m->headlen) {
		*len = m->headlen - m->pos < MSGIN_CHUNK ? m->headlen - m->pos : MSGIN_CHUNK;
		*raw = m->head + m->pos;
		m->pos += *len;
		return 0;
	}
	*len = 0;
	if (m->at_eof)
		return 0;
	m->past_head = true;
	n = msgin_read_full(m->fd, m->in, sizeof(m->in), &m->at_eof);
	if (n < 0) {
		m->err = errno;
		return -1;
	}
	*raw = m->in;
	*len = (size_t)n;
	return 0;
}

static bool
msgin_has_8bit(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] >= 0x80)
			return true;
	return false;
}

enum msgin_result
msgin_next(struct msgin *m, const unsigned char **out, size_t *len)
{
	const unsigned char *raw = NULL;
	size_t n;

	if (m->finished)
		return MSGIN_END;
	if (msgin_raw(m, &raw, &n) != 0)
		return MSGIN_ERROR;
	if (m->forbid_8bit && msgin_has_8bit(raw, n))
		return MSGIN_STOP_8BIT;
	*len = msgin_conv_run(&m->conv, raw, n, m->out);
	if (n == 0) {
		*len += msgin_conv_finish(&m->conv, m->out + *len);
		m->finished = true;
	}
	*out = m->out;
	return MSGIN_OK;
}
