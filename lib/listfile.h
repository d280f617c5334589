/*
 * listfile - list entries kept in files: "file:/path" inside a list option.
 *
 * A list file holds one item per line; '#' starts a comment to the end of
 * the line, leading and trailing blanks are ignored, and blank lines are
 * skipped.  Each item goes to the caller's function, which checks and
 * stores it; the first error stops the read and is reported as
 * "LISTFILE:LINE: reason", so a reload that meets it can keep the running
 * configuration and say exactly where the file is wrong.  A NUL byte in a
 * line is an error (the line would not mean what it shows), and so are a
 * line over 4096 bytes and anything but a regular file (a device or FIFO
 * such as /dev/zero might never end a line).
 *
 * The file is read once, when the configuration is loaded (start-up and
 * SIGUSR1); nothing here runs per message.
 */
#ifndef HOP_LISTFILE_H
#define HOP_LISTFILE_H

#include <stddef.h>

/* The path of a "file:/absolute/path" entry, or NULL for any other entry. */
const char *listfile_path(const char *entry);

/* Check one item: 0, or -1 with *why (a static or caller-owned reason). */
typedef int (*listfile_item_fn)(void *arg, const char *item, const char **why);

/*
 * Call `fn` for every item of `path`.  Returns the number of items, or -1
 * with "LISTFILE:LINE: reason" (or "LISTFILE: reason" when the file cannot
 * be read) in `err`.
 */
long listfile_read(const char *path, listfile_item_fn fn, void *arg, char *err, size_t errsz);

#endif
