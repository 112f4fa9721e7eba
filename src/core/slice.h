/*
 * slice.h — (pointer, length) views of bytes that are never assumed to be
 * NUL-terminated. Everything parsed from the network is handled as a slice
 * until it is validated and, if it must live on, copied into an arena.
 */
#ifndef YZ_CORE_SLICE_H
#define YZ_CORE_SLICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/status.h"

typedef struct slice {
	const char *p;
	size_t n;
} slice;

#define SLICE_LIT(s) ((slice){(s), sizeof(s) - 1})

slice slice_of(const char *s); /* NULL gives the empty slice */
slice slice_make(const char *p, size_t n);
bool slice_eq(slice a, slice b);
bool slice_eq_str(slice a, const char *s);
bool slice_eq_nocase(slice a, const char *s); /* ASCII case-insensitive */
bool slice_starts(slice a, const char *prefix);
slice slice_trim(slice a); /* ASCII whitespace both ends */
/* Split at the first `sep`: returns the part before it and advances *rest past
 * it; when sep is absent returns all of *rest and leaves *rest empty. */
slice slice_cut(slice *rest, char sep);
/* Index of the first c, or -1. */
long slice_find(slice a, char c);
char *slice_dup(arena *a, slice s);
/* Strict decimal integer: optional '-', digits only, no overflow. */
YZ_MUST_USE yz_status slice_to_i64(slice s, int64_t *out);

/* UTF-8: true when the bytes are well-formed UTF-8 without overlongs,
 * surrogates or NUL. */
bool utf8_valid(const char *p, size_t n);
/* Number of code points in valid UTF-8 (what users call characters). */
size_t utf8_len(const char *p, size_t n);

/* Lower-case hex decode; returns bytes written or -1 on bad input or when out
 * is too small. */
long hex_decode(const char *hex, size_t n, unsigned char *out, size_t cap);
/* Writes 2n hex chars and a NUL into out (cap >= 2n+1). */
void hex_encode(const void *data, size_t n, char *out);

#endif
