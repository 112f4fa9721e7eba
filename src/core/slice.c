#include "core/slice.h"

#include <string.h>

slice slice_of(const char *s)
{
	return s ? (slice){s, strlen(s)} : (slice){"", 0};
}

slice slice_make(const char *p, size_t n)
{
	return (slice){p ? p : "", p ? n : 0};
}

bool slice_eq(slice a, slice b)
{
	return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0);
}

bool slice_eq_str(slice a, const char *s)
{
	return slice_eq(a, slice_of(s));
}

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

bool slice_eq_nocase(slice a, const char *s)
{
	size_t n = strlen(s);
	if (n != a.n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lower(a.p[i]) != lower(s[i]))
			return false;
	return true;
}

bool slice_starts(slice a, const char *prefix)
{
	size_t n = strlen(prefix);
	return a.n >= n && memcmp(a.p, prefix, n) == 0;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

slice slice_trim(slice a)
{
	while (a.n && is_space(a.p[0])) {
		a.p++;
		a.n--;
	}
	while (a.n && is_space(a.p[a.n - 1]))
		a.n--;
	return a;
}

long slice_find(slice a, char c)
{
	const char *q = a.n ? memchr(a.p, c, a.n) : NULL;
	return q ? (long)(q - a.p) : -1;
}

slice slice_cut(slice *rest, char sep)
{
	long i = slice_find(*rest, sep);
	slice head;
	if (i < 0) {
		head = *rest;
		rest->p += rest->n;
		rest->n = 0;
	} else {
		head = (slice){rest->p, (size_t)i};
		rest->p += i + 1;
		rest->n -= (size_t)i + 1;
	}
	return head;
}

char *slice_dup(arena *a, slice s)
{
	return arena_strndup(a, s.p, s.n);
}

yz_status slice_to_i64(slice s, int64_t *out)
{
	if (s.n == 0 || s.n > 20)
		return YZ_EINVAL;
	size_t i = 0;
	bool neg = false;
	if (s.p[0] == '-') {
		neg = true;
		i = 1;
		if (s.n == 1)
			return YZ_EINVAL;
	}
	uint64_t v = 0;
	uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; i < s.n; i++) {
		char c = s.p[i];
		if (c < '0' || c > '9')
			return YZ_EINVAL;
		unsigned d = (unsigned)(c - '0');
		if (v > (limit - d) / 10)
			return YZ_EINVAL;
		v = v * 10 + d;
	}
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return YZ_OK;
}

bool utf8_valid(const char *p, size_t n)
{
	const unsigned char *s = (const unsigned char *)p;
	size_t i = 0;
	while (i < n) {
		unsigned c = s[i];
		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t len;
		unsigned cp;
		if (c >= 0xC2 && c <= 0xDF) {
			len = 2;
			cp = c & 0x1F;
		} else if (c >= 0xE0 && c <= 0xEF) {
			len = 3;
			cp = c & 0x0F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			len = 4;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (i + len > n)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
		    (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += len;
	}
	return true;
}

size_t utf8_len(const char *p, size_t n)
{
	size_t count = 0;
	for (size_t i = 0; i < n; i++)
		if (((unsigned char)p[i] & 0xC0) != 0x80)
			count++;
	return count;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

long hex_decode(const char *hex, size_t n, unsigned char *out, size_t cap)
{
	if (n % 2 || n / 2 > cap)
		return -1;
	for (size_t i = 0; i < n; i += 2) {
		int hi = hexval(hex[i]), lo = hexval(hex[i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i / 2] = (unsigned char)(hi << 4 | lo);
	}
	return (long)(n / 2);
}

void hex_encode(const void *data, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *d = data;
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 15];
	}
	out[2 * n] = '\0';
}
