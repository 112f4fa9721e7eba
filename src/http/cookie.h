/*
 * cookie.h — the Cookie request header (RFC 6265 §5.4 form: name=value pairs
 * separated by "; ") and Set-Cookie values.
 *
 * Parsing is lenient in what it skips (pairs without '=', empty names) but
 * bounded: at most 64 cookies and 8 KiB of header, else YZ_ETOOBIG. Values may
 * be double-quoted; the quotes are removed. Names and values are copied into
 * the arena, NUL-terminated.
 */
#ifndef YZ_HTTP_COOKIE_H
#define YZ_HTTP_COOKIE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/status.h"

#define COOKIE_MAX_COUNT 64
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
	const char *path;   /* default "/" */
	long max_age;       /* seconds; < 0 omits Max-Age (session cookie); 0 deletes */
	bool http_only;
	bool secure;
	cookie_samesite same_site;
} cookie_opts;

/* Append a Set-Cookie header value. Refuses names or values with characters
 * RFC 6265 does not allow (YZ_EINVAL). */
YZ_MUST_USE yz_status cookie_format(buf *out, const char *name, const char *value,
				    const cookie_opts *o);

#endif
