/* Unit tests for src/http/cookie.c: Cookie header parsing and Set-Cookie
 * formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/arena.h"
#include "core/buf.h"
#include "http/cookie.h"

static int setup(void **state)
{
	*state = arena_new(0);
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	arena_free(*state);
	return 0;
}

/* Parse n bytes through a heap copy of exactly that length. */
static yz_status parse_n(arena *a, const char *s, size_t n, cookie_pair **c, size_t *count,
                         yz_err *e)
{
	char *copy = malloc(n ? n : 1);
	assert_non_null(copy);
	memcpy(copy, s, n);
	yz_status st = cookie_parse(a, copy, n, c, count, e);
	free(copy);
	return st;
}

static yz_status parse(arena *a, const char *s, cookie_pair **c, size_t *count, yz_err *e)
{
	return parse_n(a, s, strlen(s), c, count, e);
}

static void basic(void **state)
{
	cookie_pair *c;
	size_t n;
	yz_err e = {0};
	assert_int_equal(parse(*state, "sid=abc123; theme=dark;lang=zh-CN", &c, &n, &e), YZ_OK);
	assert_int_equal(n, 3);
	assert_string_equal(c[0].name, "sid");
	assert_string_equal(c[0].value, "abc123");
	assert_string_equal(c[1].name, "theme");
	assert_string_equal(c[1].value, "dark");
	assert_string_equal(c[2].name, "lang");
	assert_string_equal(c[2].value, "zh-CN");
	assert_string_equal(cookie_find(c, n, "theme"), "dark");
	assert_null(cookie_find(c, n, "Theme"));
	assert_null(cookie_find(c, n, "x"));
	assert_null(cookie_find(NULL, 0, "x"));
}

static void whitespace_and_values(void **state)
{
	cookie_pair *c;
	size_t n;
	yz_err e = {0};
	/* spaces and tabs around names and values are trimmed; '=' in a value stays */
	assert_int_equal(parse(*state, " \ta = 1 ;\tb=x=y==;c=;  ", &c, &n, &e), YZ_OK);
	assert_int_equal(n, 3);
	assert_string_equal(c[0].name, "a");
	assert_string_equal(c[0].value, "1");
	assert_string_equal(c[1].value, "x=y==");
	assert_string_equal(c[2].name, "c");
	assert_string_equal(c[2].value, "");
}

static void quoting(void **state)
{
	cookie_pair *c;
	size_t n;
	yz_err e = {0};
	assert_int_equal(
	    parse(*state, "a=\"quoted value\"; b=\"\"; c=\"; d=\"half; e=x\"y\"", &c, &n, &e),
	    YZ_OK);
	assert_int_equal(n, 5);
	assert_string_equal(cookie_find(c, n, "a"), "quoted value");
	assert_string_equal(cookie_find(c, n, "b"), "");
	assert_string_equal(cookie_find(c, n, "c"), "\"");
	assert_string_equal(cookie_find(c, n, "d"), "\"half");
	assert_string_equal(cookie_find(c, n, "e"), "x\"y\"");
}

static void skipped_pairs(void **state)
{
	cookie_pair *c;
	size_t n;
	yz_err e = {0};
	/* no '=', empty names, control characters and invalid UTF-8 are skipped */
	static const char h[] = "flag; =v; ok=1;;; bad=a\x01"
	                        "b; nul=a\0b; t\tab=1; bin=\xff\xfe; zh=城市; del=\x7f; last=2";
	assert_int_equal(parse_n(*state, h, sizeof h - 1, &c, &n, &e), YZ_OK);
	assert_int_equal(n, 3);
	assert_string_equal(c[0].name, "ok");
	assert_string_equal(c[1].name, "zh");
	assert_string_equal(c[1].value, "城市");
	assert_string_equal(c[2].name, "last");

	assert_int_equal(parse(*state, "", &c, &n, &e), YZ_OK);
	assert_int_equal(n, 0);
	assert_int_equal(parse(*state, "nothing; here", &c, &n, &e), YZ_OK);
	assert_int_equal(n, 0);
	assert_int_equal(cookie_parse(*state, NULL, 0, &c, &n, &e), YZ_OK);
	assert_int_equal(n, 0);
	assert_null(c);
}

static void duplicates_first_wins(void **state)
{
	cookie_pair *c;
	size_t n;
	yz_err e = {0};
	assert_int_equal(parse(*state, "sid=specific; sid=general", &c, &n, &e), YZ_OK);
	assert_int_equal(n, 2);
	assert_string_equal(cookie_find(c, n, "sid"), "specific");
}

static void count_limit(void **state)
{
	buf b;
	buf_init(&b, COOKIE_MAX_HEADER);
	for (int i = 0; i < COOKIE_MAX_COUNT; i++)
		assert_int_equal(buf_printf(&b, "%sc%d=%d", i ? "; " : "", i, i), YZ_OK);
	cookie_pair *c;
	size_t n;
	yz_err e = {0};
	assert_int_equal(parse_n(*state, b.p, b.len, &c, &n, &e), YZ_OK);
	assert_int_equal(n, 64);
	assert_string_equal(c[63].name, "c63");
	assert_string_equal(c[63].value, "63");
	/* skipped pairs do not count */
	assert_int_equal(buf_puts(&b, "; junk; =x"), YZ_OK);
	assert_int_equal(parse_n(*state, b.p, b.len, &c, &n, &e), YZ_OK);
	assert_int_equal(n, 64);
	/* the 65th is too many */
	assert_int_equal(buf_puts(&b, "; c64=64"), YZ_OK);
	assert_int_equal(parse_n(*state, b.p, b.len, &c, &n, &e), YZ_ETOOBIG);
	assert_int_equal(e.code, YZ_ETOOBIG);
	assert_non_null(strstr(e.msg, "64"));
	assert_int_equal(n, 0);
	buf_free(&b);
}

static void size_limit(void **state)
{
	char *h = malloc(COOKIE_MAX_HEADER + 1);
	assert_non_null(h);
	memcpy(h, "big=", 4);
	memset(h + 4, 'v', COOKIE_MAX_HEADER + 1 - 4);
	cookie_pair *c;
	size_t n;
	yz_err e = {0};
	assert_int_equal(cookie_parse(*state, h, COOKIE_MAX_HEADER, &c, &n, &e), YZ_OK);
	assert_int_equal(n, 1);
	assert_int_equal(strlen(c[0].value), COOKIE_MAX_HEADER - 4);
	assert_int_equal(cookie_parse(*state, h, COOKIE_MAX_HEADER + 1, &c, &n, &e), YZ_ETOOBIG);
	assert_non_null(strstr(e.msg, "8192"));
	free(h);
}

static void no_read_past_end(void **state)
{
	cookie_pair *c;
	size_t n;
	yz_err e = {0};
	const char *s = "a=1; b=22";
	assert_int_equal(cookie_parse(*state, s, 8, &c, &n, &e), YZ_OK);
	assert_int_equal(n, 2);
	assert_string_equal(c[1].value, "2");
}

static void format_full(void **state)
{
	(void)state;
	buf b;
	buf_init(&b, 4096);
	cookie_opts o = {.path = "/",
	                 .max_age = 3600,
	                 .http_only = true,
	                 .secure = true,
	                 .same_site = COOKIE_LAX};
	assert_int_equal(cookie_format(&b, "sid", "abc123", &o), YZ_OK);
	assert_string_equal(buf_str(&b),
	                    "sid=abc123; Path=/; Max-Age=3600; HttpOnly; Secure; SameSite=Lax");
	buf_free(&b);
}

static void format_variants(void **state)
{
	(void)state;
	buf b;
	buf_init(&b, 4096);
	cookie_opts o = {.path = "/app", .max_age = -1, .same_site = COOKIE_STRICT};
	assert_int_equal(cookie_format(&b, "theme", "dark", &o), YZ_OK);
	assert_string_equal(buf_str(&b), "theme=dark; Path=/app; SameSite=Strict");

	/* Max-Age=0 deletes; NULL or empty path means "/"; the value may be empty */
	buf_reset(&b);
	o = (cookie_opts){.max_age = 0, .secure = true, .same_site = COOKIE_NONE};
	assert_int_equal(cookie_format(&b, "sid", "", &o), YZ_OK);
	assert_string_equal(buf_str(&b), "sid=; Path=/; Max-Age=0; Secure; SameSite=None");

	/* NULL options: session cookie, HttpOnly, Lax */
	buf_reset(&b);
	assert_int_equal(cookie_format(&b, "a", "1", NULL), YZ_OK);
	assert_string_equal(buf_str(&b), "a=1; Path=/; HttpOnly; SameSite=Lax");

	/* appends to what the buffer holds; quoted values are allowed */
	assert_int_equal(buf_puts(&b, " | "), YZ_OK);
	o = (cookie_opts){.path = "", .max_age = -1};
	assert_int_equal(cookie_format(&b, "q", "\"x!#\"", &o), YZ_OK);
	assert_string_equal(
	    buf_str(&b), "a=1; Path=/; HttpOnly; SameSite=Lax | q=\"x!#\"; Path=/; SameSite=Lax");
	buf_free(&b);
}

static void format_refusals(void **state)
{
	(void)state;
	buf b;
	buf_init(&b, 4096);
	assert_int_equal(buf_puts(&b, "keep"), YZ_OK);
	cookie_opts o = {.max_age = -1};
	const char *bad_names[] = {"", "a b", "a;b", "a=b", "名", "a\"", "a,b", "a\tb", "(x)"};
	for (size_t i = 0; i < sizeof bad_names / sizeof *bad_names; i++)
		assert_int_equal(cookie_format(&b, bad_names[i], "v", &o), YZ_EINVAL);
	assert_int_equal(cookie_format(&b, NULL, "v", &o), YZ_EINVAL);
	const char *bad_values[] = {"a b",  "a;b",  "a,b",   "a\\b",   "a\"b",
	                            "\"ab", "贵阳", "a\x7f", "\"a b\""};
	for (size_t i = 0; i < sizeof bad_values / sizeof *bad_values; i++)
		assert_int_equal(cookie_format(&b, "n", bad_values[i], &o), YZ_EINVAL);
	/* every RFC 6265 cookie-octet class is accepted */
	assert_int_equal(cookie_format(&b, "n", "!#$%&'()*+-./09:<=>?@AZ[]^_`az{|}~", &o), YZ_OK);
	buf_reset(&b);
	assert_int_equal(buf_puts(&b, "keep"), YZ_OK);
	/* token names with their punctuation are accepted */
	assert_int_equal(cookie_format(&b, "!#$%&'*+-.^_`|~09AZaz", "v", &o), YZ_OK);
	buf_reset(&b);
	assert_int_equal(buf_puts(&b, "keep"), YZ_OK);

	o.path = "/a;b";
	assert_int_equal(cookie_format(&b, "n", "v", &o), YZ_EINVAL);
	o.path = "/a\nb";
	assert_int_equal(cookie_format(&b, "n", "v", &o), YZ_EINVAL);
	o.path = "/";
	o.same_site = COOKIE_NONE; /* without Secure */
	assert_int_equal(cookie_format(&b, "n", "v", &o), YZ_EINVAL);
	o.same_site = (cookie_samesite)7;
	o.secure = true;
	assert_int_equal(cookie_format(&b, "n", "v", &o), YZ_EINVAL);
	/* refusals leave the buffer as it was */
	assert_string_equal(buf_str(&b), "keep");

	/* a buffer too small fails with ETOOBIG and is left as it was */
	buf small;
	buf_init(&small, 24);
	assert_int_equal(buf_puts(&small, "x"), YZ_OK);
	o = (cookie_opts){.max_age = 3600, .http_only = true};
	assert_int_equal(cookie_format(&small, "sid", "abc", &o), YZ_ETOOBIG);
	assert_string_equal(buf_str(&small), "x");
	assert_int_equal(small.len, 1);
	buf_free(&small);
	buf_free(&b);
}

static void format_then_parse(void **state)
{
	buf b;
	buf_init(&b, 4096);
	cookie_opts o = {.max_age = 60, .http_only = true, .secure = true};
	assert_int_equal(cookie_format(&b, "sid", "\"tok\"", &o), YZ_OK);
	cookie_pair *c;
	size_t n;
	yz_err e = {0};
	assert_int_equal(parse_n(*state, b.p, b.len, &c, &n, &e), YZ_OK);
	assert_string_equal(c[0].name, "sid");
	assert_string_equal(c[0].value, "tok");
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(basic, setup, teardown),
	    cmocka_unit_test_setup_teardown(whitespace_and_values, setup, teardown),
	    cmocka_unit_test_setup_teardown(quoting, setup, teardown),
	    cmocka_unit_test_setup_teardown(skipped_pairs, setup, teardown),
	    cmocka_unit_test_setup_teardown(duplicates_first_wins, setup, teardown),
	    cmocka_unit_test_setup_teardown(count_limit, setup, teardown),
	    cmocka_unit_test_setup_teardown(size_limit, setup, teardown),
	    cmocka_unit_test_setup_teardown(no_read_past_end, setup, teardown),
	    cmocka_unit_test_setup_teardown(format_full, setup, teardown),
	    cmocka_unit_test_setup_teardown(format_variants, setup, teardown),
	    cmocka_unit_test_setup_teardown(format_refusals, setup, teardown),
	    cmocka_unit_test_setup_teardown(format_then_parse, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
