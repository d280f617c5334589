/*
 * esc - escaping of client-controlled text for logs and SMTP replies.
 */
#include "config.h"

#include <string.h>

#include "esc.h"

char *
esc_log(char *dst, size_t dstsz, const char *src)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (dstsz == 0)
		return dst;
	for (const unsigned char *p = (const unsigned char *)src; *p != '\0'; p++) {
		size_t need = (*p < 0x21 || *p > 0x7e || *p == '\\') ? 4 : 1;

		if (o + need + 1 > dstsz) {
			/* Mark the cut so a reader never mistakes it for the value. */
			if (dstsz >= 4) {
				o = o > dstsz - 4 ? dstsz - 4 : o;
				memcpy(dst + o, "...", 3);
				o += 3;
			}
			break;
		}
		if (need == 1) {
			dst[o++] = (char)*p;
		} else {
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[*p >> 4];
			dst[o++] = hex[*p & 0xf];
		}
	}
	dst[o] = '\0';
	return dst;
}

char *
esc_reply(char *dst, size_t dstsz, const char *src)
{
	size_t o = 0;

	if (dstsz == 0)
		return dst;
	for (const unsigned char *p = (const unsigned char *)src; *p != '\0'; p++) {
		if (*p == '%') {
			if (o + 3 > dstsz)
				break;
			dst[o++] = '%';
			dst[o++] = '%';
			continue;
		}
		if (o + 2 > dstsz)
			break;
		dst[o++] = (*p < 0x20 || *p > 0x7e) ? '?' : (char)*p;
	}
	dst[o] = '\0';
	return dst;
}
