/*
 * form.c — application/x-www-form-urlencoded bodies and query strings,
 * percent encoding and decoding, and field look-up (multipart lives in
 * multipart.c).
 *
 * The urlencoded parser makes two linear passes over the input: one counts
 * the non-empty pairs (so the field count limit is checked before anything
 * is allocated), one measures, checks and decodes each name and value. Every
 * length limit is checked against the decoded length before the decoded copy
 * is allocated, so a hostile body cannot make the arena hold more than the
 * limits allow.
 */
#include "http/form.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/slice.h"

form_limits form_default_limits(void)
{
	return (form_limits){
	    .max_fields = 256,
	    .max_name = 128,
	    .max_value = 64 * 1024,
	    .max_file = 16 * 1024 * 1024,
	    .max_part_head = 4 * 1024,
	};
}

static int hexval(char ch)
{
	unsigned char c = (unsigned char)ch;
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decoded length of s[0..n) into *len. Returns the offset of the first
 * malformed escape, or n when every '%' is followed by two hex digits. */
static size_t pct_measure(const char *s, size_t n, size_t *len)
{
	size_t out = 0;
	for (size_t i = 0; i < n; i++, out++) {
		if (s[i] != '%')
			continue;
		if (n - i < 3 || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0)
			return i;
		i += 2;
	}
	*len = out;
	return n;
}

/* Decode a span already checked by pct_measure into dst, NUL-terminated. */
static void pct_decode_into(char *dst, const char *s, size_t n, bool plus_is_space)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '%') {
			dst[o++] = (char)(hexval(s[i + 1]) << 4 | hexval(s[i + 2]));
			i += 2;
		} else if (c == '+' && plus_is_space) {
			dst[o++] = ' ';
		} else {
			dst[o++] = c;
		}
	}
	dst[o] = '\0';
}

char *form_percent_decode(arena *a, const char *s, size_t n, bool plus_is_space, size_t *outlen)
{
	if (!s)
		n = 0;
	size_t len = 0;
	if (pct_measure(s, n, &len) != n)
		return NULL;
	char *d = arena_alloc(a, len + 1);
	if (!d)
		return NULL;
	pct_decode_into(d, s, n, plus_is_space);
	if (outlen)
		*outlen = len;
	return d;
}

static bool unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

char *form_percent_encode(arena *a, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	if (!s)
		n = 0;
	if (n > (SIZE_MAX - 1) / 3)
		return NULL;
	size_t len = 0;
	for (size_t i = 0; i < n; i++)
		len += unreserved((unsigned char)s[i]) ? 1 : 3;
	char *d = arena_alloc(a, len + 1);
	if (!d)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (unreserved(c)) {
			d[o++] = (char)c;
		} else {
			d[o++] = '%';
			d[o++] = hex[c >> 4];
			d[o++] = hex[c & 15];
		}
	}
	d[o] = '\0';
	return d;
}

/* A printable, bounded rendering of raw input for error messages: whole
 * valid UTF-8 characters are kept, control bytes and invalid bytes become
 * '?'. dst always ends up NUL-terminated valid UTF-8. */
static void printable(char *dst, size_t cap, const char *p, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 1 < cap;) {
		unsigned char c = (unsigned char)p[i];
		size_t len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
		if (len > n - i || !utf8_valid(p + i, len) || c < 0x20 || c == 0x7F) {
			dst[o++] = '?';
			i++;
			continue;
		}
		if (o + len + 1 > cap)
			break;
		memcpy(dst + o, p + i, len);
		o += len;
		i += len;
	}
	dst[o] = '\0';
}

typedef struct err_name {
	char s[64]; /* as large as yz_field_err.field */
} err_name;

/* yz_fail, but a message cut at 255 bytes never ends in half a UTF-8
 * character (field names in messages are UTF-8). */
static yz_status fail(yz_err *e, yz_status st, const char *fmt, ...) YZ_PRINTF(3, 4);

static yz_status fail(yz_err *e, yz_status st, const char *fmt, ...)
{
	char msg[sizeof e->msg];
	va_list ap;
	va_start(ap, fmt);
	int len = vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (len >= (int)sizeof msg) {
		size_t end = sizeof msg - 1, j = end;
		while (j > 0 && end - j < 4 && ((unsigned char)msg[j - 1] & 0xC0) == 0x80)
			j--;
		unsigned char lead = j ? (unsigned char)msg[j - 1] : 0;
		size_t need = lead < 0xC0 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
		if (j && j - 1 + need > end)
			msg[j - 1] = '\0';
	}
	return yz_fail(e, st, "%s", msg);
}

static yz_status bad_escape(yz_err *e, const char *field, bool in_name, const char *esc,
                            size_t avail)
{
	char got[8];
	printable(got, sizeof got, esc, avail < 3 ? avail : 3);
	fail(e, YZ_EINVAL, "form field \"%s\": malformed percent escape \"%s\" in its %s", field,
	     got, in_name ? "name" : "value");
	yz_field(e, field, "percent-escape", "%XX with two hex digits", got);
	return YZ_EINVAL;
}

static yz_status bad_utf8(yz_err *e, const char *field, bool in_name)
{
	fail(e, YZ_EINVAL, "form field \"%s\": %s is not valid UTF-8 or contains NUL", field,
	     in_name ? "name" : "value");
	yz_field(e, field, "utf8", "UTF-8 text without NUL", NULL);
	return YZ_EINVAL;
}

static yz_status too_long(yz_err *e, const char *field, const char *what, const char *limit,
                          size_t max, size_t got)
{
	char exp[64], gotb[32];
	snprintf(exp, sizeof exp, "at most %zu bytes", max);
	snprintf(gotb, sizeof gotb, "%zu bytes", got);
	fail(e, YZ_ETOOBIG, "form field \"%s\": %s is %zu bytes, over the %s limit of %zu", field,
	     what, got, limit, max);
	yz_field(e, field, limit, exp, gotb);
	return YZ_ETOOBIG;
}

/* Decode one urlencoded pair into f. */
static yz_status url_pair(arena *a, const char *s, size_t n, const form_limits *lim, form_field *f,
                          yz_err *e)
{
	const char *eq = memchr(s, '=', n);
	size_t nn = eq ? (size_t)(eq - s) : n;
	const char *v = eq ? eq + 1 : s + n;
	size_t vn = eq ? n - nn - 1 : 0;
	err_name raw;

	size_t nlen = 0;
	size_t bad = pct_measure(s, nn, &nlen);
	if (bad != nn) {
		printable(raw.s, sizeof raw.s, s, nn);
		return bad_escape(e, raw.s, true, s + bad, nn - bad);
	}
	if (nlen > lim->max_name) {
		printable(raw.s, sizeof raw.s, s, nn);
		return too_long(e, raw.s, "the name", "max_name", lim->max_name, nlen);
	}
	char *name = arena_alloc(a, nlen + 1);
	if (!name)
		return yz_fail(e, YZ_ENOMEM, "form: out of memory");
	pct_decode_into(name, s, nn, true);
	if (!utf8_valid(name, nlen)) {
		printable(raw.s, sizeof raw.s, s, nn);
		return bad_utf8(e, raw.s, true);
	}

	size_t vlen = 0;
	bad = pct_measure(v, vn, &vlen);
	if (bad != vn)
		return bad_escape(e, name, false, v + bad, vn - bad);
	if (vlen > lim->max_value)
		return too_long(e, name, "the value", "max_value", lim->max_value, vlen);
	char *value = arena_alloc(a, vlen + 1);
	if (!value)
		return yz_fail(e, YZ_ENOMEM, "form: out of memory");
	pct_decode_into(value, v, vn, true);
	if (!utf8_valid(value, vlen))
		return bad_utf8(e, name, false);

	*f = (form_field){.name = name, .value = value, .len = vlen};
	return YZ_OK;
}

yz_status form_parse_urlencoded(arena *a, const char *p, size_t n, const form_limits *lim,
                                form *out, yz_err *e)
{
	form_limits def = form_default_limits();
	if (!lim)
		lim = &def;
	out->fields = NULL;
	out->n = 0;
	if (!p) {
		if (n)
			return yz_fail(e, YZ_EINTERNAL, "form: NULL input with a length");
		return YZ_OK;
	}

	/* Count non-empty pairs first, so the limit holds before allocating. */
	size_t count = 0;
	for (size_t i = 0; i < n;) {
		const char *amp = memchr(p + i, '&', n - i);
		size_t end = amp ? (size_t)(amp - p) : n;
		if (end > i)
			count++;
		i = end + 1;
	}
	if (count > lim->max_fields)
		return yz_fail(e, YZ_ETOOBIG,
		               "form has %zu fields, over the max_fields limit of %zu", count,
		               lim->max_fields);
	if (count == 0)
		return YZ_OK;

	form_field *fields = arena_zalloc(a, count * sizeof *fields);
	if (!fields)
		return yz_fail(e, YZ_ENOMEM, "form: out of memory");
	size_t k = 0;
	for (size_t i = 0; i < n;) {
		const char *amp = memchr(p + i, '&', n - i);
		size_t end = amp ? (size_t)(amp - p) : n;
		if (end > i) {
			yz_status st = url_pair(a, p + i, end - i, lim, &fields[k], e);
			if (st != YZ_OK)
				return st;
			k++;
		}
		i = end + 1;
	}
	out->fields = fields;
	out->n = k;
	return YZ_OK;
}

const form_field *form_get_field(const form *f, const char *name)
{
	if (!f || !name)
		return NULL;
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->fields[i].name, name) == 0)
			return &f->fields[i];
	return NULL;
}

const char *form_get(const form *f, const char *name)
{
	const form_field *fl = form_get_field(f, name);
	return fl ? fl->value : NULL;
}
