/*
 * listfile - reading list files.  See listfile.h.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "listfile.h"

/* Far above any item (a domain is at most 253 bytes), far below trouble. */
#define LISTFILE_LINE_MAX 4096

const char *
listfile_path(const char *entry)
{
	return strncmp(entry, "file:", 5) == 0 ? entry + 5 : NULL;
}

static int
listfile_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '\f' || ch == '\v';
}

long
listfile_read(const char *path, listfile_item_fn fn, void *arg, char *err, size_t errsz)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	unsigned long lineno = 0;
	long items = 0;

	struct stat st;

	if (f == NULL) {
		snprintf(err, errsz, "%s: cannot open list file: %s", path, strerror(errno));
		return -1;
	}
	/* A device or a FIFO may never end a line (/dev/zero): only a file has an end. */
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errsz, "%s: not a regular file", path);
		fclose(f);
		return -1;
	}
	while ((len = getline(&line, &cap, f)) >= 0) {
		char *p = line, *end, *hash;
		const char *why = NULL;

		lineno++;
		if (len > LISTFILE_LINE_MAX) {
			snprintf(err, errsz, "%s:%lu: line longer than %d bytes", path, lineno,
			    LISTFILE_LINE_MAX);
			goto fail;
		}
		if (memchr(line, '\0', (size_t)len) != NULL) {
			snprintf(err, errsz, "%s:%lu: a NUL byte in the line", path, lineno);
			goto fail;
		}
		if ((hash = strchr(p, '#')) != NULL)
			*hash = '\0';
		while (listfile_blank(*p))
			p++;
		end = p + strlen(p);
		while (end > p && listfile_blank(end[-1]))
			*--end = '\0';
		if (*p == '\0')
			continue;
		if (fn(arg, p, &why) != 0) {
			snprintf(err, errsz, "%s:%lu: '%.200s': %s", path, lineno, p,
			    why != NULL ? why : "invalid entry");
			goto fail;
		}
		items++;
	}
	if (ferror(f)) {
		snprintf(err, errsz, "%s: read error after line %lu", path, lineno);
		goto fail;
	}
	free(line);
	fclose(f);
	return items;
fail:
	free(line);
	fclose(f);
	return -1;
}
