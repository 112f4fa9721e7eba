/* Unit tests for src/http/form.c: urlencoded parsing, limits, percent
 * decoding and encoding, field look-up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/arena.h"
#include "core/slice.h"
#include "http/form.h"

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

/* Parse a NUL-free literal through a heap copy of exactly its length, so
 * ASan catches any read past the end. */
static yz_status parse(arena *a, const char *s, const form_limits *lim, form *f, yz_err *e)
{
	size_t n = strlen(s);
	char *copy = malloc(n ? n : 1);
	assert_non_null(copy);
	memcpy(copy, s, n);
	yz_status st = form_parse_urlencoded(a, copy, n, lim, f, e);
	free(copy);
	return st;
}

static void basic_pairs(void **state)
{
	form f;
	yz_err e = {0};
	assert_int_equal(parse(*state, "a=1&b=two&c=", NULL, &f, &e), YZ_OK);
	assert_int_equal(f.n, 3);
	assert_string_equal(f.fields[0].name, "a");
	assert_string_equal(f.fields[0].value, "1");
	assert_int_equal(f.fields[0].len, 1);
	assert_string_equal(f.fields[1].name, "b");
	assert_string_equal(f.fields[1].value, "two");
	assert_string_equal(f.fields[2].name, "c");
	assert_string_equal(f.fields[2].value, "");
	assert_int_equal(f.fields[2].len, 0);
	assert_null(f.fields[0].filename);
	assert_null(f.fields[0].content_type);
	assert_string_equal(form_get(&f, "b"), "two");
	assert_null(form_get(&f, "d"));
	assert_null(form_get(NULL, "a"));
}

static void plus_and_escapes(void **state)
{
	form f;
	yz_err e = {0};
	assert_int_equal(parse(*state, "q=a+b%2Bc%2bd&x+y=%41%6a%20", NULL, &f, &e), YZ_OK);
	assert_int_equal(f.n, 2);
	assert_string_equal(form_get(&f, "q"), "a b+c+d");
	assert_string_equal(f.fields[1].name, "x y");
	assert_string_equal(f.fields[1].value, "Aj ");
	assert_int_equal(f.fields[1].len, 3);
	/* '=' after the first belongs to the value */
	assert_int_equal(parse(*state, "k=a=b", NULL, &f, &e), YZ_OK);
	assert_string_equal(form_get(&f, "k"), "a=b");
}

static void chinese(void **state)
{
	form f;
	yz_err e = {0};
	/* raw UTF-8 and percent-encoded UTF-8 (either hex case) */
	assert_int_equal(parse(*state,
	                       "城市=贵阳&%E4%BA%8B%E9%A1%B9=%e5%8a%9e%e7%90%86+%E8%90%A5%E4%B8%9A%"
	                       "E6%89%A7%E7%85%A7",
	                       NULL, &f, &e),
	                 YZ_OK);
	assert_int_equal(f.n, 2);
	assert_string_equal(form_get(&f, "城市"), "贵阳");
	assert_string_equal(form_get(&f, "事项"), "办理 营业执照");
	assert_int_equal(form_get_field(&f, "事项")->len, strlen("办理 营业执照"));
}

static void empty_pairs_and_no_equals(void **state)
{
	form f;
	yz_err e = {0};
	assert_int_equal(parse(*state, "&&a&&b=1&", NULL, &f, &e), YZ_OK);
	assert_int_equal(f.n, 2);
	assert_string_equal(f.fields[0].name, "a");
	assert_string_equal(f.fields[0].value, "");
	assert_string_equal(f.fields[1].name, "b");
	assert_int_equal(parse(*state, "", NULL, &f, &e), YZ_OK);
	assert_int_equal(f.n, 0);
	assert_null(f.fields);
	assert_int_equal(parse(*state, "&&&", NULL, &f, &e), YZ_OK);
	assert_int_equal(f.n, 0);
	assert_int_equal(form_parse_urlencoded(*state, NULL, 0, NULL, &f, &e), YZ_OK);
	assert_int_equal(f.n, 0);
	/* an empty name is kept, as the WHATWG parser does */
	assert_int_equal(parse(*state, "=v", NULL, &f, &e), YZ_OK);
	assert_int_equal(f.n, 1);
	assert_string_equal(f.fields[0].name, "");
	assert_string_equal(f.fields[0].value, "v");
}

static void repeated_fields(void **state)
{
	form f;
	yz_err e = {0};
	assert_int_equal(parse(*state, "tag=a&x=1&tag=b&tag=c", NULL, &f, &e), YZ_OK);
	assert_int_equal(f.n, 4);
	assert_string_equal(form_get(&f, "tag"), "a");
	const char *want[] = {"a", "b", "c"};
	size_t k = 0;
	for (size_t i = 0; i < f.n; i++)
		if (strcmp(f.fields[i].name, "tag") == 0)
			assert_string_equal(f.fields[i].value, want[k++]);
	assert_int_equal(k, 3);
	assert_ptr_equal(form_get_field(&f, "tag"), &f.fields[0]);
}

static void expect_bad_escape(arena *a, const char *in, const char *field, const char *got)
{
	form f;
	yz_err e = {0};
	assert_int_equal(parse(a, in, NULL, &f, &e), YZ_EINVAL);
	assert_int_equal(e.code, YZ_EINVAL);
	assert_int_equal(e.nfield, 1);
	assert_string_equal(e.fields[0].field, field);
	assert_string_equal(e.fields[0].rule, "percent-escape");
	assert_string_equal(e.fields[0].got, got);
	assert_non_null(strstr(e.msg, "percent escape"));
	assert_int_equal(f.n, 0);
	assert_null(f.fields);
}

static void malformed_escapes(void **state)
{
	expect_bad_escape(*state, "a=1&name=%", "name", "%");
	expect_bad_escape(*state, "name=%4", "name", "%4");
	expect_bad_escape(*state, "name=ab%zz", "name", "%zz");
	expect_bad_escape(*state, "name=%g0", "name", "%g0");
	expect_bad_escape(*state, "name=%4&b=1", "name", "%4");
	expect_bad_escape(*state, "%E5%9F%8E=%x1", "城", "%x1");
	/* a malformed name is reported by its raw text */
	expect_bad_escape(*state, "na%zme=1", "na%zme", "%zm");
	expect_bad_escape(*state, "x%=1", "x%", "%");
}

static void expect_bad_utf8(arena *a, const char *in, const char *field)
{
	form f;
	yz_err e = {0};
	assert_int_equal(parse(a, in, NULL, &f, &e), YZ_EINVAL);
	assert_int_equal(e.nfield, 1);
	assert_string_equal(e.fields[0].field, field);
	assert_string_equal(e.fields[0].rule, "utf8");
	assert_non_null(strstr(e.msg, "UTF-8"));
}

static void invalid_utf8_and_nul(void **state)
{
	expect_bad_utf8(*state, "v=%FF", "v");
	expect_bad_utf8(*state, "v=%C0%AF", "v");        /* overlong '/' */
	expect_bad_utf8(*state, "v=%ED%A0%80", "v");     /* surrogate */
	expect_bad_utf8(*state, "v=%E8%B4", "v");        /* truncated 贵 */
	expect_bad_utf8(*state, "v=a%00b", "v");         /* NUL */
	expect_bad_utf8(*state, "a%00b=1", "a%00b");     /* NUL in the name */
	expect_bad_utf8(*state, "%FFx=1", "%FFx");       /* raw name shown */
	expect_bad_utf8(*state, "ok=1&v=\xE8\xB4", "v"); /* raw invalid bytes */
	expect_bad_utf8(*state, "\xFF\xFE=1", "??");     /* unprintable raw name */
}

static void limit_fields(void **state)
{
	form_limits lim = form_default_limits();
	lim.max_fields = 3;
	form f;
	yz_err e = {0};
	assert_int_equal(parse(*state, "a=1&b=2&&c=3&", &lim, &f, &e), YZ_OK);
	assert_int_equal(f.n, 3);
	assert_int_equal(parse(*state, "a=1&b=2&c=3&d", &lim, &f, &e), YZ_ETOOBIG);
	assert_int_equal(e.code, YZ_ETOOBIG);
	assert_non_null(strstr(e.msg, "max_fields"));
	assert_int_equal(f.n, 0);
}

static void limit_name_and_value(void **state)
{
	form_limits lim = form_default_limits();
	lim.max_name = 4;
	lim.max_value = 6;
	form f;
	yz_err e = {0};
	/* decoded lengths count: %41 is one byte; 贵阳 is six */
	assert_int_equal(parse(*state, "ab%41d=%E8%B4%B5%E9%98%B3", &lim, &f, &e), YZ_OK);
	assert_string_equal(form_get(&f, "abAd"), "贵阳");

	memset(&e, 0, sizeof e);
	assert_int_equal(parse(*state, "abcde=1", &lim, &f, &e), YZ_ETOOBIG);
	assert_non_null(strstr(e.msg, "max_name"));
	assert_int_equal(e.nfield, 1);
	assert_string_equal(e.fields[0].field, "abcde");
	assert_string_equal(e.fields[0].rule, "max_name");
	assert_string_equal(e.fields[0].got, "5 bytes");

	memset(&e, 0, sizeof e);
	assert_int_equal(parse(*state, "v=1234567", &lim, &f, &e), YZ_ETOOBIG);
	assert_non_null(strstr(e.msg, "max_value"));
	assert_string_equal(e.fields[0].field, "v");
	assert_string_equal(e.fields[0].rule, "max_value");
	assert_string_equal(e.fields[0].expected, "at most 6 bytes");
	assert_string_equal(e.fields[0].got, "7 bytes");

	assert_int_equal(parse(*state, "v=123456", &lim, &f, &e), YZ_OK);
	assert_int_equal(parse(*state, "v=%E8%B4%B5%E9%98%B3a", &lim, &f, &e), YZ_ETOOBIG);
}

static void default_limits(void **state)
{
	form_limits lim = form_default_limits();
	assert_int_equal(lim.max_fields, 256);
	assert_int_equal(lim.max_name, 128);
	assert_int_equal(lim.max_value, 64 * 1024);
	assert_int_equal(lim.max_file, 16 * 1024 * 1024);
	assert_int_equal(lim.max_part_head, 4096);

	/* 256 fields pass, 257 do not (NULL limits mean the defaults) */
	char *body = malloc(257 * 4 + 1);
	assert_non_null(body);
	size_t o = 0;
	for (int i = 0; i < 257; i++)
		o += (size_t)snprintf(body + o, 5, "%c=%c&", 'a' + i % 26, 'a');
	form f;
	yz_err e = {0};
	assert_int_equal(form_parse_urlencoded(*state, body, 256 * 4, NULL, &f, &e), YZ_OK);
	assert_int_equal(f.n, 256);
	assert_int_equal(form_parse_urlencoded(*state, body, o, NULL, &f, &e), YZ_ETOOBIG);
	free(body);

	/* a value of exactly 64 KiB passes, one byte more does not */
	size_t vn = 2 + 64 * 1024 + 1;
	char *big = malloc(vn);
	assert_non_null(big);
	memcpy(big, "v=", 2);
	memset(big + 2, 'x', vn - 2);
	assert_int_equal(form_parse_urlencoded(*state, big, vn - 1, NULL, &f, &e), YZ_OK);
	assert_int_equal(f.fields[0].len, 64 * 1024);
	assert_int_equal(form_parse_urlencoded(*state, big, vn, NULL, &f, &e), YZ_ETOOBIG);
	free(big);
}

static void no_read_past_end(void **state)
{
	/* the input continues in memory after n: nothing beyond must be used */
	form f;
	yz_err e = {0};
	const char *s = "a=1%41&b=2";
	assert_int_equal(form_parse_urlencoded(*state, s, 5, NULL, &f, &e), YZ_EINVAL);
	assert_int_equal(form_parse_urlencoded(*state, s, 6, NULL, &f, &e), YZ_OK);
	assert_string_equal(form_get(&f, "a"), "1A");
	assert_int_equal(f.n, 1);
}

static void percent_decode(void **state)
{
	size_t n = 99;
	char *d = form_percent_decode(*state, "a+b%20c%2F", 10, true, &n);
	assert_string_equal(d, "a b c/");
	assert_int_equal(n, 6);
	d = form_percent_decode(*state, "a+b", 3, false, &n);
	assert_string_equal(d, "a+b");
	d = form_percent_decode(*state, "%e4%b8%80%00z", 13, false, &n);
	assert_int_equal(n, 5);
	assert_memory_equal(d, "\xe4\xb8\x80\0z", 6);
	assert_null(form_percent_decode(*state, "%", 1, false, &n));
	assert_null(form_percent_decode(*state, "%4", 2, false, &n));
	assert_null(form_percent_decode(*state, "%4x", 3, false, &n));
	/* the length bounds the input: "%41" cut to "%4" is malformed */
	assert_null(form_percent_decode(*state, "%41", 2, false, &n));
	d = form_percent_decode(*state, "", 0, false, &n);
	assert_string_equal(d, "");
	assert_int_equal(n, 0);
	assert_non_null(form_percent_decode(*state, "x", 1, false, NULL));
}

static void percent_encode(void **state)
{
	assert_string_equal(form_percent_encode(*state, "AZaz09-._~", 10), "AZaz09-._~");
	assert_string_equal(form_percent_encode(*state, "a b+c/&=?%", 10),
	                    "a%20b%2Bc%2F%26%3D%3F%25");
	assert_string_equal(form_percent_encode(*state, "贵阳", strlen("贵阳")),
	                    "%E8%B4%B5%E9%98%B3");
	assert_string_equal(form_percent_encode(*state, "\0\xff", 2), "%00%FF");
	assert_string_equal(form_percent_encode(*state, "", 0), "");

	/* round trip through the parser */
	const char *v = "城市 a+b&c=d/贵阳%";
	char *enc = form_percent_encode(*state, v, strlen(v));
	char *body = arena_printf(*state, "k=%s", enc);
	form f;
	yz_err e = {0};
	assert_int_equal(parse(*state, body, NULL, &f, &e), YZ_OK);
	assert_string_equal(form_get(&f, "k"), v);
}

static void arena_exhaustion(void **state)
{
	(void)state;
	arena *small = arena_new(256);
	assert_non_null(small);
	form f;
	yz_err e = {0};
	char body[600];
	memcpy(body, "v=", 2);
	memset(body + 2, 'x', sizeof body - 3);
	body[sizeof body - 1] = '\0';
	assert_int_equal(parse(small, body, NULL, &f, &e), YZ_ENOMEM);
	assert_int_equal(e.code, YZ_ENOMEM);
	arena_free(small);
}

static void long_names_in_messages(void **state)
{
	/* a 300-byte Chinese name must not leave half a character in e.msg */
	form_limits lim = form_default_limits();
	lim.max_name = 1000;
	char *body = arena_strdup(*state, "");
	for (int i = 0; i < 100; i++)
		body = arena_printf(*state, "%s贵", body);
	for (int shift = 0; shift < 3; shift++) {
		char *in = arena_printf(*state, "%.*s%s=%%FF", shift, "xyz", body);
		form f;
		yz_err e = {0};
		assert_int_equal(parse(*state, in, &lim, &f, &e), YZ_EINVAL);
		assert_true(strlen(e.msg) > 200);
		assert_true(utf8_valid(e.msg, strlen(e.msg)));
		assert_true(utf8_valid(e.fields[0].field, strlen(e.fields[0].field)));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(basic_pairs, setup, teardown),
	    cmocka_unit_test_setup_teardown(plus_and_escapes, setup, teardown),
	    cmocka_unit_test_setup_teardown(chinese, setup, teardown),
	    cmocka_unit_test_setup_teardown(empty_pairs_and_no_equals, setup, teardown),
	    cmocka_unit_test_setup_teardown(repeated_fields, setup, teardown),
	    cmocka_unit_test_setup_teardown(malformed_escapes, setup, teardown),
	    cmocka_unit_test_setup_teardown(invalid_utf8_and_nul, setup, teardown),
	    cmocka_unit_test_setup_teardown(limit_fields, setup, teardown),
	    cmocka_unit_test_setup_teardown(limit_name_and_value, setup, teardown),
	    cmocka_unit_test_setup_teardown(default_limits, setup, teardown),
	    cmocka_unit_test_setup_teardown(no_read_past_end, setup, teardown),
	    cmocka_unit_test_setup_teardown(percent_decode, setup, teardown),
	    cmocka_unit_test_setup_teardown(percent_encode, setup, teardown),
	    cmocka_unit_test_setup_teardown(arena_exhaustion, setup, teardown),
	    cmocka_unit_test_setup_teardown(long_names_in_messages, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
