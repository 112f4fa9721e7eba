/*
 * multipart.c — multipart/form-data (RFC 7578 over RFC 2046 §5.1).
 *
 * Grammar accepted (CRLF line endings only; a bare LF is an ordinary byte of
 * a body and is refused inside part headers):
 *
 *   body      = [preamble CRLF] dash-boundary pad CRLF part
 *               *(CRLF dash-boundary pad CRLF part) CRLF dash-boundary "--" [epilogue]
 *   part      = *(header CRLF) CRLF content
 *   pad       = *(SP / HTAB)
 *
 * "\r\n--boundary" followed by anything other than pad CRLF or "--" is not
 * a delimiter and stays part of the content (as in Go's mime/multipart).
 *
 * Linear time: the delimiter "\r\n--" boundary contains CR only at its first
 * byte (boundary characters exclude CR), so after a partial match of k bytes
 * the next candidate cannot start before offset k; the search therefore
 * examines each input byte a bounded number of times whatever the input.
 * Part headers are searched only within max_part_head bytes.
 */
#include "http/form.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/slice.h"

#define BOUNDARY_MAX 70

typedef struct mp {
	arena *a;
	const form_limits *lim;
	yz_err *e;
	const char *p;
	size_t n;
	char delim[4 + BOUNDARY_MAX]; /* "\r\n--" boundary */
	size_t dlen;
	form_field *fields;
	size_t nf, cap;
} mp;

/* RFC 7230 tchar. */
static bool is_tchar(unsigned char c)
{
	if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* RFC 2046 bchars (space allowed but not last). */
static bool is_bchar(unsigned char c)
{
	if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
		return true;
	return c && strchr("'()+_,-./:=? ", c) != NULL;
}

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

static void skip_ows(slice *s)
{
	while (s->n && is_ows(s->p[0])) {
		s->p++;
		s->n--;
	}
}

static slice take_token(slice *s)
{
	size_t i = 0;
	while (i < s->n && is_tchar((unsigned char)s->p[i]))
		i++;
	slice t = {s->p, i};
	s->p += i;
	s->n -= i;
	return t;
}

/* One `; name=value` parameter of a header value. raw is the value as
 * written: for a quoted-string, the bytes between the quotes with their
 * backslashes still in place. */
typedef struct param {
	slice name, raw;
	bool quoted;
} param;

/* 1: a parameter was read; 0: end of the value; -1: syntax error. */
static int next_param(slice *rest, param *pm)
{
	skip_ows(rest);
	if (rest->n == 0)
		return 0;
	if (rest->p[0] != ';')
		return -1;
	rest->p++;
	rest->n--;
	skip_ows(rest);
	if (rest->n == 0)
		return 0; /* a trailing ';' is harmless */
	pm->name = take_token(rest);
	if (pm->name.n == 0)
		return -1;
	skip_ows(rest);
	if (rest->n == 0 || rest->p[0] != '=')
		return -1;
	rest->p++;
	rest->n--;
	skip_ows(rest);
	if (rest->n && rest->p[0] == '"') {
		size_t i = 1;
		while (i < rest->n && rest->p[i] != '"')
			i += rest->p[i] == '\\' ? 2 : 1;
		if (i >= rest->n)
			return -1;
		pm->raw = (slice){rest->p + 1, i - 1};
		pm->quoted = true;
		rest->p += i + 1;
		rest->n -= i + 1;
		return 1;
	}
	size_t i = 0;
	while (i < rest->n) {
		unsigned char c = (unsigned char)rest->p[i];
		if (c == ';' || c == '"' || c <= 0x20 || c == 0x7F)
			break;
		i++;
	}
	if (i == 0)
		return -1;
	pm->raw = (slice){rest->p, i};
	pm->quoted = false;
	rest->p += i;
	rest->n -= i;
	return 1;
}

/* Unescape a parameter value into dst (cap >= raw.n + 1). A strict value
 * follows RFC 7230 quoted-pair (backslash escapes any character). Otherwise
 * only \" and \\ are escapes and any other backslash is kept: browsers do not
 * escape backslashes in names and filenames, and old ones sent Windows paths
 * (C:\dir\f.txt). */
static size_t param_value(const param *pm, char *dst, bool strict)
{
	size_t o = 0;
	for (size_t i = 0; i < pm->raw.n; i++) {
		char c = pm->raw.p[i];
		if (pm->quoted && c == '\\' && i + 1 < pm->raw.n &&
		    (strict || pm->raw.p[i + 1] == '"' || pm->raw.p[i + 1] == '\\'))
			c = pm->raw.p[++i];
		dst[o++] = c;
	}
	dst[o] = '\0';
	return o;
}

static char *param_dup(arena *a, const param *pm, size_t *len)
{
	char *d = arena_alloc(a, pm->raw.n + 1);
	if (d)
		*len = param_value(pm, d, false);
	return d;
}

static yz_status bad_ct(yz_err *e, const char *why)
{
	yz_fail(e, YZ_EINVAL, "multipart Content-Type: %s", why);
	yz_field(e, "Content-Type", "multipart-boundary", "multipart/form-data; boundary=...",
	         NULL);
	return YZ_EINVAL;
}

static yz_status parse_boundary(mp *m, const char *content_type)
{
	if (!content_type)
		return bad_ct(m->e, "missing");
	slice rest = slice_of(content_type);
	skip_ows(&rest);
	slice type = take_token(&rest);
	if (rest.n == 0 || rest.p[0] != '/')
		return bad_ct(m->e, "not a media type");
	rest.p++;
	rest.n--;
	slice sub = take_token(&rest);
	if (!slice_eq_nocase(type, "multipart") || !slice_eq_nocase(sub, "form-data"))
		return bad_ct(m->e, "not multipart/form-data");

	bool found = false;
	param pm;
	int r;
	while ((r = next_param(&rest, &pm)) == 1) {
		if (!slice_eq_nocase(pm.name, "boundary"))
			continue;
		if (found)
			return bad_ct(m->e, "more than one boundary parameter");
		found = true;
		if (pm.raw.n > BOUNDARY_MAX + BOUNDARY_MAX)
			return bad_ct(m->e, "boundary longer than 70 characters");
		char b[2 * BOUNDARY_MAX + 1];
		size_t bn = param_value(&pm, b, true);
		if (bn == 0 || bn > BOUNDARY_MAX)
			return bad_ct(m->e, "boundary must be 1 to 70 characters");
		for (size_t i = 0; i < bn; i++)
			if (!is_bchar((unsigned char)b[i]))
				return bad_ct(m->e, "boundary has a character RFC 2046 forbids");
		if (b[bn - 1] == ' ')
			return bad_ct(m->e, "boundary ends with a space");
		memcpy(m->delim, "\r\n--", 4);
		memcpy(m->delim + 4, b, bn);
		m->dlen = 4 + bn;
	}
	if (r < 0)
		return bad_ct(m->e, "malformed parameters");
	if (!found)
		return bad_ct(m->e, "no boundary parameter");
	return YZ_OK;
}

/* What follows "--boundary" at offset j: 2 for "--" (close delimiter), 1 for
 * pad CRLF (*after is set past the CRLF), 0 for anything else or when the
 * input ends first (*after is then the first byte not examined). */
static int delim_tail(const mp *m, size_t j, size_t *after)
{
	const char *p = m->p;
	size_t n = m->n;
	if (n - j >= 2 && p[j] == '-' && p[j + 1] == '-') {
		*after = j + 2;
		return 2;
	}
	while (j < n && is_ows(p[j]))
		j++;
	if (n - j >= 2 && p[j] == '\r' && p[j + 1] == '\n') {
		*after = j + 2;
		return 1;
	}
	*after = j;
	return 0;
}

/* Next real delimiter "\r\n--boundary" at or after from. Returns its kind
 * (1 delimiter, 2 close delimiter) with *at its offset and *after the offset
 * just past it, or 0 when there is none before the end of the input. */
static int find_delim(const mp *m, size_t from, size_t *at, size_t *after)
{
	const char *p = m->p;
	size_t n = m->n, i = from;
	while (i < n) {
		const char *cr = memchr(p + i, '\r', n - i);
		if (!cr)
			return 0;
		i = (size_t)(cr - p);
		size_t k = 1;
		while (k < m->dlen && i + k < n && p[i + k] == m->delim[k])
			k++;
		if (k < m->dlen) {
			if (i + k >= n)
				return 0;
			i += k; /* no CR in p[i+1 .. i+k) */
			continue;
		}
		size_t next;
		int kind = delim_tail(m, i + m->dlen, &next);
		if (kind) {
			*at = i;
			*after = next;
			return kind;
		}
		i = next; /* only boundary and pad bytes were skipped: no CR */
	}
	return 0;
}

/* After vsnprintf truncated s to cap - 1 bytes, drop a last UTF-8 character
 * that lost its tail (names in messages are UTF-8). */
static void cut_utf8(char *s, size_t cap)
{
	size_t end = cap - 1, j = end;
	while (j > 0 && end - j < 4 && ((unsigned char)s[j - 1] & 0xC0) == 0x80)
		j--;
	if (j == 0)
		return;
	unsigned char lead = (unsigned char)s[j - 1];
	size_t need = lead < 0xC0 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
	if (j - 1 + need > end)
		s[j - 1] = '\0';
}

/* Fail with a formatted message and, when field is given, a field entry. */
static yz_status part_fail(mp *m, yz_status st, const char *field, const char *rule,
                           const char *fmt, ...) YZ_PRINTF(5, 6);

static yz_status part_fail(mp *m, yz_status st, const char *field, const char *rule,
                           const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	int len = vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (len >= (int)sizeof msg)
		cut_utf8(msg, sizeof msg);
	yz_fail(m->e, st, "%s", msg);
	if (field)
		yz_field(m->e, field, rule, NULL, NULL);
	return st;
}

typedef struct part_head {
	char *name;
	char *filename;
	char *content_type;
} part_head;

static yz_status parse_disposition(mp *m, slice v, part_head *h)
{
	slice rest = v;
	slice type = take_token(&rest);
	if (!slice_eq_nocase(type, "form-data"))
		return part_fail(m, YZ_EINVAL, NULL, NULL,
		                 "multipart part: Content-Disposition is not form-data");
	param pm;
	int r;
	while ((r = next_param(&rest, &pm)) == 1) {
		bool is_name = slice_eq_nocase(pm.name, "name");
		if (!is_name && !slice_eq_nocase(pm.name, "filename"))
			continue; /* filename* and extensions are ignored */
		char **dst = is_name ? &h->name : &h->filename;
		if (*dst)
			return part_fail(m, YZ_EINVAL, NULL, NULL,
			                 "multipart part: Content-Disposition repeats a "
			                 "parameter");
		size_t len = 0;
		*dst = param_dup(m->a, &pm, &len);
		if (!*dst)
			return yz_fail(m->e, YZ_ENOMEM, "multipart: out of memory");
		if (!is_name) {
			if (!utf8_valid(*dst, len))
				return part_fail(m, YZ_EINVAL, h->name ? h->name : "filename",
				                 "utf8",
				                 "multipart part: filename is not valid UTF-8");
			continue;
		}
		if (!utf8_valid(*dst, len))
			return part_fail(m, YZ_EINVAL, NULL, NULL,
			                 "multipart part name is not valid UTF-8");
		if (len > m->lim->max_name) {
			char exp[48], got[32];
			snprintf(exp, sizeof exp, "at most %zu bytes", m->lim->max_name);
			snprintf(got, sizeof got, "%zu bytes", len);
			yz_fail(m->e, YZ_ETOOBIG,
			        "multipart part name is %zu bytes, over the max_name limit of %zu",
			        len, m->lim->max_name);
			yz_field(m->e, *dst, "max_name", exp, got);
			return YZ_ETOOBIG;
		}
	}
	if (r < 0)
		return part_fail(m, YZ_EINVAL, NULL, NULL,
		                 "multipart part: malformed Content-Disposition");
	return YZ_OK;
}

/* Parse the header block [p, p+len), which is a sequence of lines each
 * ending in CRLF. */
static yz_status parse_part_head(mp *m, const char *p, size_t len, part_head *h)
{
	bool have_cd = false;
	size_t i = 0;
	while (i < len) {
		const char *cr = memchr(p + i, '\r', len - i);
		size_t end = (size_t)(cr - p); /* the block ends with CRLF, so cr is found */
		if (end + 1 >= len || p[end + 1] != '\n')
			return part_fail(m, YZ_EINVAL, NULL, NULL,
			                 "multipart part: bare CR in a header line");
		slice line = {p + i, end - i};
		i = end + 2;
		for (size_t k = 0; k < line.n; k++) {
			unsigned char c = (unsigned char)line.p[k];
			if ((c < 0x20 && c != '\t') || c == 0x7F)
				return part_fail(m, YZ_EINVAL, NULL, NULL,
				                 "multipart part: control character in a header "
				                 "line");
		}
		if (line.n && is_ows(line.p[0]))
			return part_fail(m, YZ_EINVAL, NULL, NULL,
			                 "multipart part: folded header lines are not "
			                 "accepted");
		if (line.n >= m->dlen - 2 && memcmp(line.p, m->delim + 2, m->dlen - 2) == 0)
			return part_fail(m, YZ_EINVAL, NULL, NULL,
			                 "multipart part: no blank line after the part headers");
		slice hname = take_token(&line);
		if (hname.n == 0 || line.n == 0 || line.p[0] != ':')
			return part_fail(m, YZ_EINVAL, NULL, NULL,
			                 "multipart part: malformed header line");
		slice value = trim_ows((slice){line.p + 1, line.n - 1});
		if (slice_eq_nocase(hname, "content-disposition")) {
			if (have_cd)
				return part_fail(m, YZ_EINVAL, NULL, NULL,
				                 "multipart part: two Content-Disposition "
				                 "headers");
			have_cd = true;
			yz_status st = parse_disposition(m, value, h);
			if (st != YZ_OK)
				return st;
		} else if (slice_eq_nocase(hname, "content-type")) {
			if (h->content_type)
				return part_fail(m, YZ_EINVAL, NULL, NULL,
				                 "multipart part: two Content-Type headers");
			if (!utf8_valid(value.p, value.n))
				return part_fail(m, YZ_EINVAL, NULL, NULL,
				                 "multipart part: Content-Type is not valid "
				                 "UTF-8");
			h->content_type = slice_dup(m->a, value);
			if (!h->content_type)
				return yz_fail(m->e, YZ_ENOMEM, "multipart: out of memory");
		}
	}
	if (!h->name || !h->name[0])
		return part_fail(m, YZ_EINVAL, NULL, NULL,
		                 "multipart part without a name (Content-Disposition: form-data; "
		                 "name=\"...\" is required)");
	return YZ_OK;
}

/* Offset of "\r\n\r\n" in [from, to), or SIZE_MAX. */
static size_t find_blank_line(const char *p, size_t from, size_t to)
{
	for (size_t i = from; i + 4 <= to;) {
		const char *cr = memchr(p + i, '\r', to - i);
		if (!cr)
			break;
		i = (size_t)(cr - p);
		if (i + 4 > to)
			break;
		if (p[i + 1] == '\n' && p[i + 2] == '\r' && p[i + 3] == '\n')
			return i;
		i++;
	}
	return SIZE_MAX;
}

static yz_status add_field(mp *m, const form_field *f)
{
	if (m->nf == m->lim->max_fields)
		return yz_fail(m->e, YZ_ETOOBIG,
		               "multipart body has more than %zu parts, over the max_fields limit",
		               m->lim->max_fields);
	if (m->nf == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 8;
		if (cap > m->lim->max_fields)
			cap = m->lim->max_fields;
		form_field *nfld = arena_alloc(m->a, cap * sizeof *nfld);
		if (!nfld)
			return yz_fail(m->e, YZ_ENOMEM, "multipart: out of memory");
		if (m->nf)
			memcpy(nfld, m->fields, m->nf * sizeof *nfld);
		m->fields = nfld;
		m->cap = cap;
	}
	m->fields[m->nf++] = *f;
	return YZ_OK;
}

/* Parse one part starting at pos (just after a delimiter line). On success
 * *next is the offset after the delimiter that ends it and *kind that
 * delimiter's kind. */
static yz_status parse_part(mp *m, size_t pos, size_t *next, int *kind)
{
	const char *p = m->p;
	size_t n = m->n, hlen, body;
	size_t max_head = m->lim->max_part_head;
	if (n - pos >= 2 && p[pos] == '\r' && p[pos + 1] == '\n') {
		hlen = 0;
		body = pos + 2;
	} else {
		size_t avail = n - pos;
		size_t limit = max_head < avail && avail - max_head > 2 ? pos + max_head + 2 : n;
		size_t q = find_blank_line(p, pos, limit);
		if (q == SIZE_MAX) {
			if (limit < n)
				return yz_fail(m->e, YZ_ETOOBIG,
				               "multipart part headers are longer than the "
				               "max_part_head limit of %zu bytes",
				               max_head);
			return part_fail(m, YZ_EINVAL, NULL, NULL,
			                 "multipart body is truncated inside part headers");
		}
		hlen = q + 2 - pos;
		body = q + 4;
	}
	part_head h = {0};
	yz_status st = parse_part_head(m, p + pos, hlen, &h);
	if (st != YZ_OK)
		return st;

	size_t at = 0;
	*kind = find_delim(m, body, &at, next);
	if (!*kind)
		return part_fail(m, YZ_EINVAL, h.name, "truncated",
		                 "multipart part \"%s\": body is truncated, no closing boundary",
		                 h.name);
	size_t len = at - body;
	bool is_file = h.filename != NULL;
	size_t max = is_file ? m->lim->max_file : m->lim->max_value;
	if (len > max) {
		char exp[48], got[32];
		snprintf(exp, sizeof exp, "at most %zu bytes", max);
		snprintf(got, sizeof got, "%zu bytes", len);
		const char *limit = is_file ? "max_file" : "max_value";
		part_fail(m, YZ_ETOOBIG, NULL, NULL,
		          "multipart part \"%s\" is %zu bytes, over the %s limit of %zu", h.name,
		          len, limit, max);
		yz_field(m->e, h.name, limit, exp, got);
		return YZ_ETOOBIG;
	}
	if (!is_file && !utf8_valid(p + body, len))
		return part_fail(m, YZ_EINVAL, h.name, "utf8",
		                 "multipart part \"%s\": text is not valid UTF-8 or contains NUL",
		                 h.name);
	char *value = arena_strndup(m->a, p + body, len);
	if (!value)
		return yz_fail(m->e, YZ_ENOMEM, "multipart: out of memory");
	form_field f = {.name = h.name,
	                .value = value,
	                .len = len,
	                .filename = h.filename,
	                .content_type = h.content_type};
	return add_field(m, &f);
}

yz_status form_parse_multipart(arena *a, const char *content_type, const char *p, size_t n,
                               const form_limits *lim, form *out, yz_err *e)
{
	form_limits def = form_default_limits();
	mp m = {.a = a, .lim = lim ? lim : &def, .e = e, .p = p ? p : "", .n = p ? n : 0};
	out->fields = NULL;
	out->n = 0;
	if (!p && n)
		return yz_fail(e, YZ_EINTERNAL, "multipart: NULL input with a length");
	yz_status st = parse_boundary(&m, content_type);
	if (st != YZ_OK)
		return st;

	/* The first delimiter may open the body, without the CRLF before it. */
	size_t pos = 0;
	int kind = 0;
	size_t dash = m.dlen - 2;
	if (m.n >= dash && memcmp(m.p, m.delim + 2, dash) == 0)
		kind = delim_tail(&m, dash, &pos);
	if (!kind) {
		size_t at;
		kind = find_delim(&m, 0, &at, &pos);
	}
	if (!kind)
		return part_fail(&m, YZ_EINVAL, NULL, NULL,
		                 "multipart body has no boundary delimiter");
	while (kind == 1) {
		st = parse_part(&m, pos, &pos, &kind);
		if (st != YZ_OK)
			return st;
	}
	out->fields = m.fields;
	out->n = m.nf;
	return YZ_OK;
}
