/*
 * cookie.h — the Cookie request header (RFC 6265 §5.4 form: name=value pairs
 * separated by "; ") and Set-Cookie values.
 *
 * Parsing is lenient in what it skips (pairs without '=', empty names, and
 * pairs whose name or value holds a control character or invalid UTF-8) but
 * bounded: at most 64 cookies (skipped pairs do not count) and 8 KiB of
 * header, else YZ_ETOOBIG. Spaces and tabs around names and values are
 * trimmed. Values may be double-quoted; the quotes are removed (an unbalanced
 * quote is kept as written). Names and values are copied into the arena,
 * NUL-terminated, in header order; duplicates are kept, and since browsers
 * send the most specific path first, cookie_find returns that one. With no
 * cookies *out is NULL and *count 0.
 */
#ifndef YZ_HTTP_COOKIE_H
#define YZ_HTTP_COOKIE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/status.h"

#define COOKIE_MAX_COUNT  64
#define COOKIE_MAX_HEADER 8192

typedef struct cookie_pair {
	const char *name;
	const char *value;
} cookie_pair;

YZ_MUST_USE yz_status cookie_parse(arena *a, const char *header, size_t n, cookie_pair **out,
                                   size_t *count, yz_err *e);
/* Value of the first cookie called name in a parsed list, or NULL. */
const char *cookie_find(const cookie_pair *c, size_t count, const char *name);

typedef enum cookie_samesite { COOKIE_LAX = 0, COOKIE_STRICT, COOKIE_NONE } cookie_samesite;

typedef struct cookie_opts {
	const char *path; /* default "/" */
	long max_age;     /* seconds; < 0 omits Max-Age (session cookie); 0 deletes */
	bool http_only;
	bool secure;
	cookie_samesite same_site;
} cookie_opts;

/* Append a Set-Cookie header value, e.g.
 * "sid=v; Path=/; Max-Age=3600; HttpOnly; Secure; SameSite=Lax". Refuses
 * (YZ_EINVAL) a name that is not an RFC 7230 token, a value with characters
 * RFC 6265 cookie-value does not allow (a value wrapped in double quotes is
 * allowed), a path with CTLs or ';', an unknown same_site, and SameSite=None
 * without Secure. o NULL means path "/", session cookie, HttpOnly, not
 * Secure, Lax; a NULL or empty path means "/". YZ_ETOOBIG when out's maximum
 * is reached. On any failure out is left as it was. */
YZ_MUST_USE yz_status cookie_format(buf *out, const char *name, const char *value,
                                    const cookie_opts *o);

#endif
