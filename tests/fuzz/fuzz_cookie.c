/*
 * fuzz_cookie.c — libFuzzer target for cookie_parse and cookie_format.
 * Invariants: at most COOKIE_MAX_COUNT pairs; every name non-empty; names and
 * values valid UTF-8 without control characters; headers over
 * COOKIE_MAX_HEADER refused with ETOOBIG; formatting a parsed pair either
 * refuses it or produces a header whose first pair parses back unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/slice.h"
#include "http/cookie.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			abort();                                                                   \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool clean(const char *s)
{
	size_t n = strlen(s);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7F)
			return false;
	return utf8_valid(s, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	arena *a = arena_new(1 << 22);
	CHECK(a);
	cookie_pair *c = NULL;
	size_t n = 0;
	yz_err e = {0};
	yz_status st = cookie_parse(a, (const char *)data, size, &c, &n, &e);
	if (size > COOKIE_MAX_HEADER)
		CHECK(st == YZ_ETOOBIG);
	if (st != YZ_OK) {
		CHECK(st == YZ_ETOOBIG || st == YZ_ENOMEM);
		CHECK(e.code == st && n == 0 && c == NULL);
		arena_free(a);
		return 0;
	}
	CHECK(n <= COOKIE_MAX_COUNT);
	for (size_t i = 0; i < n; i++) {
		CHECK(c[i].name[0] && clean(c[i].name) && clean(c[i].value));
		CHECK(cookie_find(c, n, c[i].name) != NULL);
	}
	if (n) {
		buf b;
		buf_init(&b, 1 << 16);
		cookie_opts o = {.path = "/", .max_age = (long)size - 100, .secure = size & 1};
		if (cookie_format(&b, c[0].name, c[0].value, &o) == YZ_OK) {
			cookie_pair *c2 = NULL;
			size_t n2 = 0;
			CHECK(cookie_parse(a, b.p, b.len, &c2, &n2, NULL) == YZ_OK);
			CHECK(n2 >= 2 && strcmp(c2[0].name, c[0].name) == 0);
			size_t vl = strlen(c[0].value);
			const char *v = c[0].value;
			if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') {
				v++;
				vl -= 2;
			}
			CHECK(strlen(c2[0].value) == vl && memcmp(c2[0].value, v, vl) == 0);
			CHECK(strcmp(c2[1].name, "Path") == 0);
		}
		buf_free(&b);
	}
	arena_free(a);
	return 0;
}
