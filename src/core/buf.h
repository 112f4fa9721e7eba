/*
 * buf.h — growable byte buffer with a hard maximum (after curl's dynbuf).
 *
 * buf_init(&b, max) sets the ceiling; any append that would make the content
 * longer than max fails with YZ_ETOOBIG and leaves the buffer as it was. The
 * content is always NUL-terminated (the NUL is not counted in len), so a
 * buffer of text can be handed to C string functions. Owned memory is released
 * by buf_free(); buf_take() hands it to the caller instead.
 */
#ifndef YZ_CORE_BUF_H
#define YZ_CORE_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "core/status.h"

typedef struct buf {
	char *p;
	size_t len, cap, max;
} buf;

/* Chain appends, stopping at the first failure:
 *   yz_status st = YZ_OK; BUF_TRY(st, buf_puts(&b, "a")); BUF_TRY(st, ...); */
#define BUF_TRY(st, call)                                                                          \
	do {                                                                                       \
		if ((st) == YZ_OK)                                                                 \
			(st) = (call);                                                             \
	} while (0)

void buf_init(buf *b, size_t max);
void buf_free(buf *b);
void buf_reset(buf *b); /* length to 0, keep memory */
YZ_MUST_USE yz_status buf_append(buf *b, const void *data, size_t n);
YZ_MUST_USE yz_status buf_puts(buf *b, const char *s);
YZ_MUST_USE yz_status buf_putc(buf *b, char c);
YZ_MUST_USE yz_status buf_printf(buf *b, const char *fmt, ...) YZ_PRINTF(2, 3);
YZ_MUST_USE yz_status buf_vprintf(buf *b, const char *fmt, va_list ap);
/* Hex encoding of bytes (lower case). */
YZ_MUST_USE yz_status buf_hex(buf *b, const void *data, size_t n);
/* Return the malloc'd content (NUL-terminated) and reset b to empty. Caller frees. */
char *buf_take(buf *b, size_t *len);
/* Empty string when nothing was appended yet, never NULL. */
const char *buf_str(const buf *b);

#endif
