#include "core/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(buf *b, size_t max)
{
	b->p = NULL;
	b->len = b->cap = 0;
	b->max = max;
}

void buf_free(buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

void buf_reset(buf *b)
{
	b->len = 0;
	if (b->p)
		b->p[0] = '\0';
}

static yz_status buf_reserve(buf *b, size_t extra)
{
	if (extra > b->max || b->len > b->max - extra)
		return YZ_ETOOBIG;
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return YZ_OK;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	if (cap > b->max + 1)
		cap = b->max + 1;
	char *p = realloc(b->p, cap);
	if (!p)
		return YZ_ENOMEM;
	b->p = p;
	b->cap = cap;
	return YZ_OK;
}

yz_status buf_append(buf *b, const void *data, size_t n)
{
	yz_status s = buf_reserve(b, n);
	if (s != YZ_OK)
		return s;
	if (n)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return YZ_OK;
}

yz_status buf_puts(buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

yz_status buf_putc(buf *b, char c)
{
	return buf_append(b, &c, 1);
}

yz_status buf_vprintf(buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return YZ_EINVAL;
	yz_status s = buf_reserve(b, (size_t)n);
	if (s != YZ_OK)
		return s;
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return YZ_OK;
}

yz_status buf_printf(buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	yz_status s = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return s;
}

yz_status buf_hex(buf *b, const void *data, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	if (n > (b->max / 2) + 1)
		return YZ_ETOOBIG;
	yz_status s = buf_reserve(b, n * 2);
	if (s != YZ_OK)
		return s;
	const unsigned char *d = data;
	for (size_t i = 0; i < n; i++) {
		b->p[b->len++] = digits[d[i] >> 4];
		b->p[b->len++] = digits[d[i] & 15];
	}
	b->p[b->len] = '\0';
	return YZ_OK;
}

char *buf_take(buf *b, size_t *len)
{
	char *p = b->p;
	if (!p) {
		p = calloc(1, 1);
	}
	if (len)
		*len = b->len;
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

const char *buf_str(const buf *b)
{
	return b->p ? b->p : "";
}
