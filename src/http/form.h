/*
 * form.h — parsers for request bodies and query strings that browsers send:
 * application/x-www-form-urlencoded and multipart/form-data, with limits.
 *
 * Input is a (pointer, length) body that is not NUL-terminated. Output lives
 * in the caller's arena: names and values are decoded, NUL-terminated copies.
 * Text fields (every urlencoded value, and multipart parts without a
 * filename) must be valid UTF-8 without NUL bytes, else YZ_EINVAL naming the
 * field; file parts are raw bytes. Exceeding a limit gives YZ_ETOOBIG (413),
 * malformed input YZ_EINVAL (400), an exhausted arena YZ_ENOMEM. Parsers
 * never read outside [p, p+n) and run in time linear in n.
 *
 * Both parsers: lim NULL means form_default_limits(); length limits count
 * decoded bytes; on failure *out is left empty ({NULL, 0}), e's message
 * names the limit (max_fields, max_name, ...) and, where a field is known, a
 * field entry names it with rule "percent-escape", "utf8", "truncated" or the
 * limit's name. Fields keep their order in the input; repeated names are all
 * kept.
 */
#ifndef YZ_HTTP_FORM_H
#define YZ_HTTP_FORM_H

#include <stdbool.h>
#include <stddef.h>

#include "core/arena.h"
#include "core/status.h"

typedef struct form_limits {
	size_t max_fields;    /* fields (urlencoded) or parts (multipart) */
	size_t max_name;      /* bytes in a field name */
	size_t max_value;     /* bytes in a text value */
	size_t max_file;      /* bytes in one file part (multipart) */
	size_t max_part_head; /* bytes of headers in one part (multipart) */
} form_limits;

/* 256 fields, names 128 B, values 64 KiB, files 16 MiB, part headers 4 KiB. */
form_limits form_default_limits(void);

typedef struct form_field {
	const char *name;
	const char *value;        /* NUL-terminated; for files the bytes (may contain NUL) */
	size_t len;               /* value length in bytes */
	const char *filename;     /* NULL unless a multipart file part */
	const char *content_type; /* multipart part Content-Type, or NULL */
} form_field;

typedef struct form {
	form_field *fields;
	size_t n;
} form;

/* Parse a=1&b=2 (a query string or a urlencoded body). '+' is a space;
 * %XX must be two hex digits (either case). Empty pairs (&&) are skipped; a
 * pair without '=' is a name with an empty value; "=v" gives a field with an
 * empty name (as the WHATWG parser does). A malformed name is reported by its
 * raw text, made printable. */
YZ_MUST_USE yz_status form_parse_urlencoded(arena *a, const char *p, size_t n,
                                            const form_limits *lim, form *out, yz_err *e);

/* Parse multipart/form-data. content_type is the request's Content-Type
 * header value; it must be multipart/form-data with exactly one boundary
 * parameter (name case-insensitive; quoted or not; 1..70 RFC 2046 bchars).
 *
 * Lines end in CRLF; a bare LF is not a line end (a body sent with LF only
 * has no delimiter and is refused). A preamble and an epilogue are ignored.
 * "\r\n--boundary" counts as a delimiter only when followed by optional
 * spaces/tabs and CRLF, or by "--" (the close delimiter); otherwise it is
 * content. Each part needs exactly one "Content-Disposition: form-data" with
 * a non-empty name; a filename parameter (even "") makes it a file part, and
 * filename* is ignored. In quoted parameter values \" and \\ are escapes and
 * any other backslash is kept (old browsers sent C:\dir\f.txt). Folded
 * header lines and control characters in headers are refused; other headers
 * than Content-Disposition and Content-Type are ignored. A body without
 * parts ("--b--") gives an empty form. Without the close delimiter the body
 * is truncated: YZ_EINVAL. */
YZ_MUST_USE yz_status form_parse_multipart(arena *a, const char *content_type, const char *p,
                                           size_t n, const form_limits *lim, form *out, yz_err *e);

/* First value of a field, or NULL. */
const char *form_get(const form *f, const char *name);
/* The whole field (for files), or NULL. */
const form_field *form_get_field(const form *f, const char *name);

/* Percent-decode s into the arena ('+' as space when plus_is_space). Returns
 * NULL for malformed escapes or an exhausted arena. *outlen (if not NULL)
 * receives the decoded length. The result is bytes: it may hold NUL or
 * invalid UTF-8, so check it before treating it as text. */
char *form_percent_decode(arena *a, const char *s, size_t n, bool plus_is_space, size_t *outlen);
/* Percent-encode for a URL query component: RFC 3986 unreserved characters
 * (ALPHA DIGIT - . _ ~) are kept, every other byte becomes %XX in upper case.
 * NULL only when the arena is exhausted. */
char *form_percent_encode(arena *a, const char *s, size_t n);

#endif
