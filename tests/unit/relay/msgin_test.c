/* Unit tests: line ends, dot-stuffing, 8-bit detection and streaming (relay-transport/msgin.c). */
#include "config.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/check.h"
#include "relay-transport/msgin.h"

/* Convert `in` split into pieces of `step` bytes; the DATA as a string. */
static const char *
convert(const char *in, size_t step, bool *eightbit)
{
	static char out[4096];
	struct msgin_conv c;
	size_t n = strlen(in), o = 0;

	msgin_conv_init(&c);
	for (size_t i = 0; i < n; i += step)
		o += msgin_conv_run(&c, (const unsigned char *)in + i, n - i < step ? n - i : step,
		    (unsigned char *)out + o);
	o += msgin_conv_finish(&c, (unsigned char *)out + o);
	out[o] = '\0';
	*eightbit = c.eightbit;
	return out;
}

static void
test_conversion(void)
{
	static const struct {
		const char *in, *want;
		bool eightbit;
	} cases[] = {
		{"", ".\r\n", false},
		{"a\n", "a\r\n.\r\n", false},
		{"a", "a\r\n.\r\n", false},                         /* last line unterminated */
		{"a\r\nb\r\n", "a\r\nb\r\n.\r\n", false},           /* CRLF stays CRLF */
		{"a\nb\r\nc\n", "a\r\nb\r\nc\r\n.\r\n", false},     /* mixed */
		{".\n", "..\r\n.\r\n", false},                      /* a lone dot */
		{".hidden\n..two\n", "..hidden\r\n...two\r\n.\r\n", false},
		{"a.b\n .c\n", "a.b\r\n .c\r\n.\r\n", false},       /* only at line start */
		{"x\n.\nafter\n", "x\r\n..\r\nafter\r\n.\r\n", false}, /* no early end of data */
		{"a\rb\n", "a\r\nb\r\n.\r\n", false},               /* lone CR is a line end */
		{"a\r.\r\n", "a\r\n..\r\n.\r\n", false},            /* ... so dots after it are stuffed */
		{"a\r", "a\r\n.\r\n", false},
		{"\n\n", "\r\n\r\n.\r\n", false},
		{"caf\xc3\xa9\n", "caf\xc3\xa9\r\n.\r\n", true},
		{"\x80", "\x80\r\n.\r\n", true},
	};
	bool eb;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* Every split point must give the same result (state across pieces). */
		for (size_t step = 1; step <= strlen(cases[i].in) + 1; step++) {
			CHECK_STR(convert(cases[i].in, step, &eb), cases[i].want, "case %zu, step %zu", i,
			    step);
			CHECK(eb == cases[i].eightbit, "case %zu: 8-bit flag", i);
		}
	}
}

/* A file holding `len` bytes of `pattern` repeated, opened for reading. */
static int
make_input(const char *pattern, size_t len)
{
	char path[] = "/tmp/msgin_test.XXXXXX";
	int fd = mkstemp(path);
	size_t pl = strlen(pattern);

	unlink(path);
	for (size_t i = 0; i < len; i += pl)
		if (write(fd, pattern, len - i < pl ? len - i : pl) < 0)
			abort();
	lseek(fd, 0, SEEK_SET);
	return fd;
}

/* Stream everything; total DATA bytes, or -1 on a stop. */
static long
drain(struct msgin *m, enum msgin_result *last)
{
	const unsigned char *p;
	size_t len;
	long total = 0;

	while ((*last = msgin_next(m, &p, &len)) == MSGIN_OK)
		total += (long)len;
	return *last == MSGIN_END ? total : -1;
}

static struct msgin m;

static void
test_stream(void)
{
	enum msgin_result last;
	int fd;

	/* Small: all in the window, exact size and 8-bit answer, replayable. */
	fd = make_input("line\n.dot\n", 100);
	CHECK(msgin_open(&m, fd) == 0, "open small");
	CHECK(msgin_eightbit(&m) == MSGIN_7BIT, "small 7-bit known");
	CHECK(msgin_size(&m) == 120, "RFC 1870 size %ld (CRLF counted, stuffed dots not)", msgin_size(&m));
	CHECK(drain(&m, &last) == 133, "small DATA length (120 + 10 dots + .CRLF)");
	CHECK(msgin_replayable(&m), "small stays replayable");
	msgin_rewind(&m);
	CHECK(drain(&m, &last) == 133, "replayed identically");
	close(fd);

	/* Large, 7-bit: unknown until streamed, not replayable once streamed. */
	fd = make_input("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n", 1 << 20);
	CHECK(msgin_open(&m, fd) == 0, "open large");
	CHECK(msgin_eightbit(&m) == MSGIN_UNKNOWN, "large: 8-bit unknown");
	CHECK(msgin_size(&m) == -1, "large: size unknown");
	CHECK(drain(&m, &last) == (1 << 20) + (1 << 20) / 64 + 3, "large streamed");
	CHECK(!msgin_replayable(&m), "large no longer replayable");
	close(fd);

	/* Large with 8-bit only after the window: stops before handing it out. */
	fd = make_input("plain ascii text, line after line after line after line ......\n", 1 << 20);
	if (lseek(fd, 900000, SEEK_SET) < 0 || write(fd, "\xc3\xa9", 2) != 2)
		abort();
	lseek(fd, 0, SEEK_SET);
	CHECK(msgin_open(&m, fd) == 0, "open large 8-bit");
	CHECK(msgin_eightbit(&m) == MSGIN_UNKNOWN, "8-bit past the window is not seen up front");
	msgin_forbid_8bit(&m, true);
	CHECK(drain(&m, &last) == -1 && last == MSGIN_STOP_8BIT, "stops at the 8-bit byte");
	close(fd);

	/* 8-bit inside the window is known before MAIL FROM. */
	fd = make_input("\xc3\xa9t\xc3\xa9\n", 200000);
	CHECK(msgin_open(&m, fd) == 0 && msgin_eightbit(&m) == MSGIN_8BIT, "8-bit in the window");
	close(fd);

	/* A read error is reported, not taken for the end of the message. */
	fd = open("/", O_RDONLY);
	CHECK(msgin_open(&m, fd) != 0 && m.err != 0, "read error on open");
	close(fd);
}

int
main(void)
{
	test_conversion();
	test_stream();
	return check_done("msgin_test");
}
