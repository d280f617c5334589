/*
 * fuzz_msgin - libFuzzer harness for the DATA conversion of
 * relay-transport/msgin.c.  For any message split into any pieces: the
 * result is the same as converting it whole, no CR or LF stands alone, the
 * end-of-data line "." appears only at the very end, the output stays
 * within the promised bound, and removing the added dots gives back the
 * input with its line ends made CRLF.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "relay-transport/msgin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t
convert(const uint8_t *in, size_t n, size_t step, unsigned char *out)
{
	struct msgin_conv c;
	size_t o = 0;

	msgin_conv_init(&c);
	for (size_t i = 0; i < n; i += step)
		o += msgin_conv_run(&c, in + i, n - i < step ? n - i : step, out + o);
	return o + msgin_conv_finish(&c, out + o);
}

static void
check_shape(const unsigned char *out, size_t o)
{
	if (o < 3 || memcmp(out + o - 3, ".\r\n", 3) != 0 || (o > 3 && (o < 5 ||
	    memcmp(out + o - 5, "\r\n", 2) != 0)))
		abort();
	for (size_t i = 0; i < o; i++) {
		if (out[i] == '\r' && (i + 1 >= o || out[i + 1] != '\n'))
			abort();
		if (out[i] == '\n' && (i == 0 || out[i - 1] != '\r'))
			abort();
		/* A line that is just "." only as the terminator. */
		if ((i == 0 || out[i - 1] == '\n') && out[i] == '.' && i + 3 <= o &&
		    memcmp(out + i, ".\r\n", 3) == 0 && i + 3 != o)
			abort();
	}
}

/* The input with every line end made CRLF and the last line terminated. */
static size_t
normalize(const uint8_t *in, size_t n, unsigned char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (in[i] == '\r' || in[i] == '\n') {
			if (in[i] == '\r' && i + 1 < n && in[i + 1] == '\n')
				i++;
			out[o++] = '\r';
			out[o++] = '\n';
		} else {
			out[o++] = in[i];
		}
	}
	if (o > 0 && (o < 2 || out[o - 1] != '\n' || out[o - 2] != '\r')) {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	return o;
}

/* The DATA without its terminator and without the dots that were added. */
static size_t
unstuff(const unsigned char *data, size_t n, unsigned char *out)
{
	size_t o = 0;

	/* check_shape() made sure the data ends in ".\r\n". */
	for (size_t i = 0; i < n - 3; i++) {
		if ((i == 0 || data[i - 1] == '\n') && data[i] == '.')
			continue;
		out[o++] = data[i];
	}
	return o;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *a, *b;
	size_t step, na, nb;

	if (size == 0)
		return 0;
	step = 1 + data[0] % 17;
	data++;
	size--;
	a = malloc(MSGIN_CONV_OUT(size));
	b = malloc(MSGIN_CONV_OUT(size));
	if (a == NULL || b == NULL)
		abort();
	na = convert(data, size, size + 1, a);
	nb = convert(data, size, step, b);
	if (na != nb || memcmp(a, b, na) != 0 || na > MSGIN_CONV_OUT(size))
		abort();
	check_shape(a, na);
	/* Round trip: b gets the normalised input, the unstuffed DATA goes over `a`. */
	nb = normalize(data, size, b);
	na = unstuff(a, na, a);
	if (na != nb || memcmp(a, b, nb) != 0)
		abort();
	free(a);
	free(b);
	return 0;
}
