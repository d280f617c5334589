/*
 * Unit tests: lib/listfile -- comments, blanks, CR/LF, the line number of
 * an error, NUL bytes, a missing file, an empty file, and "file:" entries.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/check.h"
#include "listfile.h"

struct seen {
	char items[16][64];
	int n;
};

static int
collect(void *arg, const char *item, const char **why)
{
	struct seen *s = arg;

	if (strcmp(item, "bad") == 0) {
		*why = "bad entry";
		return -1;
	}
	if (s->n < 16)
		snprintf(s->items[s->n++], sizeof(s->items[0]), "%s", item);
	return 0;
}

static char path[64];

static void
write_file(const char *bytes, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (f == NULL || fwrite(bytes, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(2);
	}
}

int
main(void)
{
	static const char good[] = "# a comment\n\n  one.example  \r\ntwo.example # trailing comment\n"
	    "\t\n#\nthree.example";
	static const char badline[] = "a\n# c\n\nbad\nz\n";
	static const char nul[] = "a\nb\0c\n";
	struct seen s = {0};
	char err[512];
	long n;
	int fd;

	snprintf(path, sizeof(path), "/tmp/listfile_test.XXXXXX");
	if ((fd = mkstemp(path)) < 0)
		return 2;
	close(fd);

	write_file(good, sizeof(good) - 1);
	n = listfile_read(path, collect, &s, err, sizeof(err));
	CHECK(n == 3, "three items (%ld): %s", n, err);
	CHECK_STR(s.items[0], "one.example", "blanks and CR trimmed");
	CHECK_STR(s.items[1], "two.example", "comment cut, blanks trimmed");
	CHECK_STR(s.items[2], "three.example", "last line without a newline");

	write_file(badline, sizeof(badline) - 1);
	memset(&s, 0, sizeof(s));
	CHECK(listfile_read(path, collect, &s, err, sizeof(err)) == -1, "an error stops the read");
	{
		char want[200];

		snprintf(want, sizeof(want), "%s:4: 'bad': bad entry", path);
		CHECK_STR(err, want, "FILE:LINE counts comments and blank lines");
	}
	CHECK(s.n == 1, "items before the error were seen, none after (%d)", s.n);

	write_file(nul, sizeof(nul) - 1);
	CHECK(listfile_read(path, collect, &s, err, sizeof(err)) == -1 &&
	    strstr(err, ":2: a NUL byte") != NULL, "a NUL byte on line 2: %s", err);

	{
		char *big = malloc(5000);

		memset(big, 'a', 5000);
		big[4999] = '\n';
		write_file(big, 5000);
		free(big);
		CHECK(listfile_read(path, collect, &s, err, sizeof(err)) == -1 &&
		    strstr(err, ":1: line longer than 4096 bytes") != NULL, "an over-long line: %s", err);
	}
	CHECK(listfile_read("/dev/zero", collect, &s, err, sizeof(err)) == -1 &&
	    strstr(err, "/dev/zero: not a regular file") != NULL, "a device: %s", err);

	write_file("", 0);
	CHECK(listfile_read(path, collect, &s, err, sizeof(err)) == 0, "an empty file: no items");

	unlink(path);
	CHECK(listfile_read(path, collect, &s, err, sizeof(err)) == -1 &&
	    strstr(err, ": cannot open list file") != NULL, "a missing file: %s", err);

	CHECK_STR(listfile_path("file:/etc/x"), "/etc/x", "file: entry");
	CHECK(listfile_path("File:/etc/x") == NULL && listfile_path("example.com") == NULL,
	    "only the exact lower-case prefix");
	return check_done("listfile_test");
}
