/*
 * cookie.c — Cookie request header parsing and Set-Cookie formatting
 * (RFC 6265 §4.1.1, §5.4).
 *
 * Parsing splits on ';', trims spaces and tabs around each pair, name and
 * value, and skips rather than refuses what it cannot use: pairs without '=',
 * empty names, and pairs whose name or value holds a control character or
 * invalid UTF-8 (so every returned string is safe to compare, log or render).
 * A value in double quotes loses its quotes; an unbalanced quote is kept as
 * written. Only the size limits fail the whole header.
 */
#include "http/cookie.h"

#include <string.h>

#include "core/slice.h"

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static slice trim_ows(slice s)
{
	while (s.n && is_ows(s.p[0])) {
		s.p++;
		s.n--;
	}
	while (s.n && is_ows(s.p[s.n - 1]))
		s.n--;
	return s;
}

static bool usable(slice s)
{
	for (size_t i = 0; i < s.n; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if (c < 0x20 || c == 0x7F)
			return false;
	}
	return utf8_valid(s.p, s.n);
}

yz_status cookie_parse(arena *a, const char *header, size_t n, cookie_pair **out, size_t *count,
                       yz_err *e)
{
	*out = NULL;
	*count = 0;
	if (!header || n == 0)
		return YZ_OK;
	if (n > COOKIE_MAX_HEADER)
		return yz_fail(e, YZ_ETOOBIG, "Cookie header is %zu bytes, over the limit of %d", n,
		               COOKIE_MAX_HEADER);

	cookie_pair *pairs = NULL;
	size_t k = 0;
	slice rest = {header, n};
	while (rest.n) {
		slice pair = slice_cut(&rest, ';');
		long eq = slice_find(pair, '=');
		if (eq < 0)
			continue;
		slice name = trim_ows((slice){pair.p, (size_t)eq});
		slice value = trim_ows((slice){pair.p + eq + 1, pair.n - (size_t)eq - 1});
		if (name.n == 0 || !usable(name) || !usable(value))
			continue;
		if (value.n >= 2 && value.p[0] == '"' && value.p[value.n - 1] == '"') {
			value.p++;
			value.n -= 2;
		}
		if (k == COOKIE_MAX_COUNT)
			return yz_fail(e, YZ_ETOOBIG, "Cookie header has more than %d cookies",
			               COOKIE_MAX_COUNT);
		if (!pairs) {
			pairs = arena_alloc(a, COOKIE_MAX_COUNT * sizeof *pairs);
			if (!pairs)
				return yz_fail(e, YZ_ENOMEM, "cookie: out of memory");
		}
		pairs[k].name = slice_dup(a, name);
		pairs[k].value = slice_dup(a, value);
		if (!pairs[k].name || !pairs[k].value)
			return yz_fail(e, YZ_ENOMEM, "cookie: out of memory");
		k++;
	}
	*out = pairs;
	*count = k;
	return YZ_OK;
}

const char *cookie_find(const cookie_pair *c, size_t count, const char *name)
{
	if (!c || !name)
		return NULL;
	for (size_t i = 0; i < count; i++)
		if (strcmp(c[i].name, name) == 0)
			return c[i].value;
	return NULL;
}

/* RFC 7230 tchar: what RFC 6265 allows in a cookie-name. */
static bool is_tchar(unsigned char c)
{
	if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* RFC 6265 cookie-octet. */
static bool is_cookie_octet(unsigned char c)
{
	return c == 0x21 || (c >= 0x23 && c <= 0x2B) || (c >= 0x2D && c <= 0x3A) ||
	       (c >= 0x3C && c <= 0x5B) || (c >= 0x5D && c <= 0x7E);
}

/* cookie-value = *cookie-octet / ( DQUOTE *cookie-octet DQUOTE ) */
static bool valid_value(const char *v)
{
	size_t n = strlen(v);
	if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
		v++;
		n -= 2;
	}
	for (size_t i = 0; i < n; i++)
		if (!is_cookie_octet((unsigned char)v[i]))
			return false;
	return true;
}

/* path-value = <any CHAR except CTLs or ";"> */
static bool valid_path(const char *p)
{
	for (; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c < 0x20 || c >= 0x7F || c == ';')
			return false;
	}
	return true;
}

yz_status cookie_format(buf *out, const char *name, const char *value, const cookie_opts *o)
{
	static const cookie_opts defaults = {.path = "/",
	                                     .max_age = -1,
	                                     .http_only = true,
	                                     .secure = false,
	                                     .same_site = COOKIE_LAX};
	static const char *const samesite[] = {"Lax", "Strict", "None"};
	if (!o)
		o = &defaults;
	if (!name || !name[0])
		return YZ_EINVAL;
	for (const char *c = name; *c; c++)
		if (!is_tchar((unsigned char)*c))
			return YZ_EINVAL;
	if (!value)
		value = "";
	if (!valid_value(value))
		return YZ_EINVAL;
	const char *path = o->path && o->path[0] ? o->path : "/";
	if (!valid_path(path))
		return YZ_EINVAL;
	if ((unsigned)o->same_site > COOKIE_NONE)
		return YZ_EINVAL;
	if (o->same_site == COOKIE_NONE && !o->secure)
		return YZ_EINVAL; /* browsers reject SameSite=None without Secure */

	size_t old = out->len;
	yz_status st = buf_printf(out, "%s=%s; Path=%s", name, value, path);
	if (st == YZ_OK && o->max_age >= 0)
		st = buf_printf(out, "; Max-Age=%ld", o->max_age);
	if (st == YZ_OK && o->http_only)
		st = buf_puts(out, "; HttpOnly");
	if (st == YZ_OK && o->secure)
		st = buf_puts(out, "; Secure");
	if (st == YZ_OK)
		st = buf_printf(out, "; SameSite=%s", samesite[o->same_site]);
	if (st != YZ_OK && out->p) {
		out->len = old;
		out->p[old] = '\0';
	}
	return st;
}
