/* Unit tests for src/core: status, arena, buf, slice, utf8, hex, b64, jx,
 * conf and clock. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/arena.h"
#include "core/b64.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/conf.h"
#include "core/jx.h"
#include "core/log.h"
#include "core/slice.h"
#include "core/status.h"

static void status_names_and_http(void **state)
{
	(void)state;
	assert_string_equal(yz_status_name(YZ_EINVAL), "invalid");
	assert_int_equal(yz_status_http(YZ_EINVAL), 400);
	assert_int_equal(yz_status_http(YZ_EUNAUTH), 401);
	assert_int_equal(yz_status_http(YZ_ECONFLICT), 409);
	assert_int_equal(yz_status_http(YZ_ETOOBIG), 413);
	assert_int_equal(yz_status_http(YZ_EREFUSED), 422);
	assert_int_equal(yz_status_http((yz_status)999), 500);
}

static void err_fields(void **state)
{
	(void)state;
	yz_err e = {0};
	assert_int_equal(yz_field(&e, "name", "required", "text", NULL), YZ_EINVAL);
	for (int i = 0; i < 20; i++)
		(void)yz_field(&e, "x", "r", NULL, NULL);
	assert_int_equal(e.nfield, 21);
	assert_string_equal(e.fields[0].field, "name");
	assert_string_equal(e.fields[0].rule, "required");
	assert_string_equal(e.fields[0].got, "");
	assert_int_equal(yz_fail(&e, YZ_ENOTFOUND, "no user %d", 7), YZ_ENOTFOUND);
	assert_string_equal(e.msg, "no user 7");
	assert_int_equal(yz_fail(NULL, YZ_EIO, "x"), YZ_EIO);
	/* a long message is cut on a character boundary */
	char longmsg[400] = "";
	for (int i = 0; i < 100; i++)
		memcpy(longmsg + 3 * i, "贵", 3);
	yz_fail(&e, YZ_EINVAL, "%s", longmsg);
	assert_true(utf8_valid(e.msg, strlen(e.msg)));
	assert_int_equal(strlen(e.msg), 255);
}

static void strlcpy_cuts_on_utf8_boundary(void **state)
{
	(void)state;
	char out[5];
	/* "贵阳" is 6 bytes; 4 bytes of room must not split the second character */
	size_t n = yz_strlcpy(out, "贵阳", sizeof out);
	assert_int_equal(n, 3);
	assert_string_equal(out, "贵");
	assert_int_equal(yz_strlcpy(out, "abc", sizeof out), 3);
}

static void arena_alloc_and_cap(void **state)
{
	(void)state;
	arena *a = arena_new(64 * 1024);
	assert_non_null(a);
	char *s = arena_printf(a, "%s-%d", "城市", 520100);
	assert_string_equal(s, "城市-520100");
	for (int i = 0; i < 100; i++) {
		void *p = arena_alloc(a, 100);
		assert_non_null(p);
		assert_int_equal((uintptr_t)p % 16, 0);
	}
	/* beyond the cap */
	assert_null(arena_alloc(a, 128 * 1024));
	size_t used = arena_used(a);
	assert_true(used >= 100 * 100);
	arena_reset(a);
	assert_int_equal(arena_used(a), 0);
	assert_non_null(arena_alloc(a, 8000));
	assert_string_equal(arena_strndup(a, "abcdef", 3), "abc");
	arena_free(a);
}

static void buf_limits(void **state)
{
	(void)state;
	buf b;
	buf_init(&b, 10);
	assert_string_equal(buf_str(&b), "");
	assert_int_equal(buf_puts(&b, "hello"), YZ_OK);
	assert_int_equal(buf_printf(&b, "%d", 12345), YZ_OK);
	assert_int_equal(b.len, 10);
	assert_int_equal(buf_putc(&b, 'x'), YZ_ETOOBIG);
	assert_string_equal(buf_str(&b), "hello12345");
	assert_int_equal(buf_printf(&b, "%s", "long"), YZ_ETOOBIG);
	assert_int_equal(b.len, 10);
	buf_reset(&b);
	assert_int_equal(buf_hex(&b, "\x01\xab", 2), YZ_OK);
	assert_string_equal(buf_str(&b), "01ab");
	size_t n;
	char *p = buf_take(&b, &n);
	assert_int_equal(n, 4);
	assert_string_equal(p, "01ab");
	free(p);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

static void slices(void **state)
{
	(void)state;
	slice s = slice_of("  a=1; b=2  ");
	s = slice_trim(s);
	assert_true(slice_eq_str(s, "a=1; b=2"));
	slice first = slice_cut(&s, ';');
	assert_true(slice_eq_str(first, "a=1"));
	assert_true(slice_eq_str(slice_trim(s), "b=2"));
	slice last = slice_cut(&s, ';');
	assert_true(slice_eq_str(slice_trim(last), "b=2"));
	assert_int_equal(s.n, 0);
	assert_true(slice_eq_nocase(slice_of("Content-Type"), "content-type"));
	assert_true(slice_starts(slice_of("/api/v1/x"), "/api/"));
	int64_t v;
	assert_int_equal(slice_to_i64(slice_of("-9223372036854775808"), &v), YZ_OK);
	assert_true(v == INT64_MIN);
	assert_int_equal(slice_to_i64(slice_of("9223372036854775808"), &v), YZ_EINVAL);
	assert_int_equal(slice_to_i64(slice_of("12a"), &v), YZ_EINVAL);
	assert_int_equal(slice_to_i64(slice_of(""), &v), YZ_EINVAL);
	assert_int_equal(slice_to_i64(slice_of("-"), &v), YZ_EINVAL);
	assert_int_equal(slice_to_i64(slice_of("520100"), &v), YZ_OK);
	assert_int_equal(v, 520100);
}

static void utf8(void **state)
{
	(void)state;
	assert_true(utf8_valid("贵阳市abc", strlen("贵阳市abc")));
	assert_int_equal(utf8_len("贵阳市abc", strlen("贵阳市abc")), 6);
	assert_false(utf8_valid("\xc0\xaf", 2));         /* overlong '/' */
	assert_false(utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
	assert_false(utf8_valid("\xe8\xb4", 2));         /* truncated */
	assert_false(utf8_valid("a\0b", 3));             /* NUL */
	assert_false(utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
	assert_true(utf8_valid("\xf0\x9f\x98\x80", 4));  /* emoji */
}

static void hex_and_b64(void **state)
{
	(void)state;
	unsigned char out[8];
	assert_int_equal(hex_decode("00ff10", 6, out, sizeof out), 3);
	assert_int_equal(out[1], 0xff);
	assert_int_equal(hex_decode("0g", 2, out, sizeof out), -1);
	assert_int_equal(hex_decode("abc", 3, out, sizeof out), -1);
	char h[7];
	hex_encode("\x00\xff\x10", 3, h);
	assert_string_equal(h, "00ff10");

	/* RFC 4648 §10 vectors */
	static const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	static const char *std[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
	static const char *url[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
	for (int i = 0; i < 7; i++) {
		buf b;
		buf_init(&b, 64);
		assert_int_equal(b64_encode(in[i], strlen(in[i]), false, &b), YZ_OK);
		assert_string_equal(buf_str(&b), std[i]);
		assert_int_equal(b64_encoded_len(strlen(in[i]), false), strlen(std[i]));
		buf_reset(&b);
		assert_int_equal(b64_encode(in[i], strlen(in[i]), true, &b), YZ_OK);
		assert_string_equal(buf_str(&b), url[i]);
		assert_int_equal(b64_encoded_len(strlen(in[i]), true), strlen(url[i]));
		buf_free(&b);
		unsigned char dec[16];
		size_t n;
		assert_int_equal(b64_decode(std[i], strlen(std[i]), false, dec, sizeof dec, &n),
		                 YZ_OK);
		assert_int_equal(n, strlen(in[i]));
		assert_memory_equal(dec, in[i], n);
		assert_int_equal(b64_decode(url[i], strlen(url[i]), true, dec, sizeof dec, &n),
		                 YZ_OK);
		assert_int_equal(n, strlen(in[i]));
	}
	unsigned char dec[4];
	size_t n;
	assert_int_equal(b64_decode("Zm9v", 4, false, dec, 2, &n), YZ_ETOOBIG);
	assert_int_equal(b64_decode("Zm$v", 4, false, dec, 4, &n), YZ_EINVAL);
	assert_int_equal(b64_decode("a-_b", 4, false, dec, 4, &n), YZ_EINVAL);
	assert_int_equal(b64_decode("Z", 1, false, dec, 4, &n), YZ_EINVAL);
}

static void jx_parse_errors(void **state)
{
	(void)state;
	json_t *v = NULL;
	yz_err e = {0};
	const char *bad = "{\n  \"a\": 1,\n  \"b\": }";
	assert_int_equal(jx_parse(bad, strlen(bad), 0, &v, &e), YZ_EINVAL);
	assert_null(v);
	assert_non_null(strstr(e.msg, "line 3"));
	assert_non_null(strstr(e.msg, "column"));

	char deep[200];
	memset(deep, '[', 40);
	memset(deep + 40, ']', 40);
	e = (yz_err){0};
	assert_int_equal(jx_parse(deep, 80, 0, &v, &e), YZ_EINVAL);
	assert_non_null(strstr(e.msg, "nested deeper"));
	assert_int_equal(jx_parse(deep + 10, 60, 0, &v, &e), YZ_OK);
	json_decref(v);

	e = (yz_err){0};
	assert_int_equal(jx_parse_object("[1]", 3, &v, &e), YZ_EINVAL);
	e = (yz_err){0};
	assert_int_equal(jx_parse_object("{\"a\":1,\"a\":2}", 13, &v, &e), YZ_EINVAL);
	/* brackets inside strings do not count as nesting */
	char strs[300];
	int n = snprintf(strs, sizeof strs, "{\"k\":\"%.*s\"}", 100,
	                 "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
	                 "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[");
	assert_int_equal(jx_parse_object(strs, (size_t)n, &v, &e), YZ_OK);
	json_decref(v);
}

static bool starts_with_52(json_t *v, const char **rule, const char **expected)
{
	*rule = "prefix";
	*expected = "a code starting with 52";
	return strncmp(json_string_value(v), "52", 2) == 0;
}

static void jx_labels(void **state)
{
	(void)state;
	json_t *o = json_pack("{s:s, s:i}", "status", "active", "n", 3);
	jx_set_label(o, "status_label", "notify.status", "status", "none");
	jx_set_label(o, "kind_label", "kind", "kind", "none");
	assert_string_equal(jx_str(o, "status_label", ""), "notify.status.active");
	assert_string_equal(jx_str(o, "kind_label", ""), "kind.none"); /* absent: the default */
	json_decref(o);
}

static void jx_validation(void **state)
{
	(void)state;
	static const jx_field fields[] = {
	    {"name", JX_STRING, true, 1, 4, NULL},
	    {"age", JX_INT, false, 0, 150, NULL},
	    {"code", JX_STRING, false, 0, 0, starts_with_52},
	    {"tags", JX_ARRAY, false, 0, 2, NULL},
	    {NULL, 0, false, 0, 0, NULL},
	};
	json_t *o = json_pack("{s:s, s:i, s:s}", "name", "贵阳市人", "age", 30, "code", "520100");
	yz_err e = {0};
	assert_int_equal(jx_validate(o, fields, &e), YZ_OK); /* 4 characters, 12 bytes */
	json_decref(o);

	o = json_pack("{s:s, s:s, s:s, s:[i,i,i], s:i}", "name", "贵阳市人民", "age", "x", "code",
	              "110000", "tags", 1, 2, 3, "extra", 1);
	e = (yz_err){0};
	assert_int_equal(jx_validate(o, fields, &e), YZ_EINVAL);
	assert_int_equal(e.nfield, 5);
	int seen = 0;
	for (int i = 0; i < e.nfield; i++) {
		yz_field_err *f = &e.fields[i];
		if (!strcmp(f->field, "extra")) {
			assert_string_equal(f->rule, "unknown-field");
			seen |= 1;
		} else if (!strcmp(f->field, "name")) {
			assert_string_equal(f->rule, "max-length");
			assert_string_equal(f->got, "5 characters");
			seen |= 2;
		} else if (!strcmp(f->field, "age")) {
			assert_string_equal(f->rule, "type");
			assert_string_equal(f->expected, "integer");
			assert_string_equal(f->got, "string");
			seen |= 4;
		} else if (!strcmp(f->field, "code")) {
			assert_string_equal(f->rule, "prefix");
			assert_string_equal(f->got, "110000");
			seen |= 8;
		} else if (!strcmp(f->field, "tags")) {
			assert_string_equal(f->rule, "count");
			seen |= 16;
		}
	}
	assert_int_equal(seen, 31);
	json_decref(o);

	o = json_pack("{s:i}", "age", 200);
	e = (yz_err){0};
	assert_int_equal(jx_validate(o, fields, &e), YZ_EINVAL);
	assert_int_equal(e.nfield, 2); /* name required, age range */
	json_t *je = jx_from_err(&e);
	assert_int_equal(json_array_size(json_object_get(je, "errors")), 2);
	assert_string_equal(jx_str(je, "code", ""), "invalid");
	json_decref(je);
	json_decref(o);

	buf b;
	buf_init(&b, 100);
	o = json_pack("{s:s}", "k", "值");
	assert_int_equal(jx_dump(o, &b), YZ_OK);
	assert_string_equal(buf_str(&b), "{\"k\":\"值\"}");
	assert_int_equal(jx_int(o, "k", 7), 7);
	assert_string_equal(jx_str(o, "k", NULL), "值");
	json_decref(o);
	buf_free(&b);
}

static void conf_sources(void **state)
{
	(void)state;
	yz_config c;
	conf_defaults(&c);
	assert_string_equal(c.listen, "127.0.0.1:8080");
	assert_false(conf_is_postgres(&c));
	char target[600];
	conf_db_target(&c, target, sizeof target);
	assert_string_equal(target, "var/yizhan.db");

	char path[] = "/tmp/yz-conf-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char *text = "# comment\nlisten = 0.0.0.0:9000\nworkers=8\n\nlockout_failures = 3\n";
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	yz_err e = {0};
	assert_int_equal(conf_load_file(&c, path, &e), YZ_OK);
	assert_string_equal(c.listen, "0.0.0.0:9000");
	assert_int_equal(c.workers, 8);
	assert_int_equal(c.lockout_failures, 3);

	setenv("YIZHAN_WORKERS", "16", 1);
	setenv("YIZHAN_DB", "postgresql://localhost/yz", 1);
	assert_int_equal(conf_load_env(&c, &e), YZ_OK);
	assert_int_equal(c.workers, 16);
	assert_true(conf_is_postgres(&c));
	unsetenv("YIZHAN_WORKERS");
	unsetenv("YIZHAN_DB");

	char a0[] = "serve", a1[] = "--listen", a2[] = "127.0.0.1:1", a3[] = "--workers=4",
	     a4[] = "--test-clock", a5[] = "extra", a6[] = "--pack", a7[] = "demo";
	char *argv[] = {a0, a1, a2, a3, a4, a5, a6, a7};
	int rest = 0;
	assert_int_equal(conf_load_args(&c, 8, argv, &rest, &e), YZ_OK);
	assert_string_equal(c.listen, "127.0.0.1:1");
	assert_int_equal(c.workers, 4);
	assert_true(c.test_clock);
	assert_int_equal(rest, 4);
	assert_string_equal(argv[0], "serve");
	assert_string_equal(argv[1], "extra");
	assert_string_equal(argv[2], "--pack"); /* not a config option: left for the command */

	e = (yz_err){0};
	assert_int_equal(conf_set(&c, "workers", "0", &e), YZ_EINVAL);
	assert_string_equal(e.fields[0].rule, "range");
	e = (yz_err){0};
	assert_int_equal(conf_set(&c, "nope", "1", &e), YZ_EINVAL);
	assert_string_equal(e.fields[0].rule, "unknown-option");

	fd = open(path, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, "workers = many\n", 15), 15);
	close(fd);
	e = (yz_err){0};
	assert_int_equal(conf_load_file(&c, path, &e), YZ_EINVAL);
	assert_non_null(strstr(e.msg, ":1:"));
	unlink(path);
}

static void clock_formats(void **state)
{
	(void)state;
	int64_t ms;
	assert_int_equal(clock_parse_iso("2026-11-23T12:45:48.123Z", &ms), YZ_OK);
	char out[40];
	clock_format_utc(ms, out, sizeof out);
	assert_string_equal(out, "2026-11-23T12:45:48.123Z");
	clock_format_city(ms, out, sizeof out);
	assert_string_equal(out, "2026-11-23T20:45:48+08:00");
	clock_format_city_human(ms, out, sizeof out);
	assert_string_equal(out, "2026-11-23 20:45");
	int64_t ms2;
	assert_int_equal(clock_parse_iso("2026-11-23T20:45:48.123+08:00", &ms2), YZ_OK);
	assert_true(ms == ms2);
	/* a date alone is midnight in the city: 16:00 UTC the day before */
	assert_int_equal(clock_parse_iso("2026-01-01", &ms), YZ_OK);
	clock_format_utc(ms, out, sizeof out);
	assert_string_equal(out, "2025-12-31T16:00:00.000Z");
	assert_int_equal(clock_parse_iso("2026-02-29", &ms), YZ_EINVAL);
	assert_int_equal(clock_parse_iso("2024-02-29", &ms), YZ_OK);
	assert_int_equal(clock_parse_iso("2026-13-01", &ms), YZ_EINVAL);
	assert_int_equal(clock_parse_iso("2026-11-23T25:00:00Z", &ms), YZ_EINVAL);
	assert_int_equal(clock_parse_iso("2026-11-23T10:00:00", &ms), YZ_EINVAL);
	assert_int_equal(clock_parse_iso("2026-11-23x", &ms), YZ_EINVAL);
	/* weekdays: 2026-11-23 is a Monday, 1970-01-01 a Thursday */
	assert_int_equal(clock_weekday(clock_days_from_civil(2026, 11, 23)), 0);
	assert_int_equal(clock_weekday(0), 3);
	assert_int_equal(clock_weekday(-1), 2);
	for (int64_t d = -800000; d < 800000; d += 997) {
		int y, m, dd;
		clock_civil_from_days(d, &y, &m, &dd);
		assert_true(clock_days_from_civil(y, m, dd) == d);
	}
	clock_set_fake(1000);
	assert_true(clock_now_ms() == 1000);
	clock_advance(500);
	assert_true(clock_now_ms() == 1500);
	assert_true(clock_is_fake());
	clock_use_real();
	assert_false(clock_is_fake());
	assert_true(clock_now_ms() > 1700000000000LL);
}

static int log_lines_written(const char *path)
{
	FILE *f = fopen(path, "r");
	int n = 0;
	char line[4096];
	while (f && fgets(line, sizeof line, f)) {
		json_error_t je;
		json_t *o = json_loads(line, 0, &je);
		assert_non_null(o);
		assert_non_null(json_object_get(o, "ts"));
		json_decref(o);
		n++;
	}
	if (f)
		fclose(f);
	return n;
}

static void log_levels(void **state)
{
	(void)state;
	char path[] = "/tmp/yz-log-XXXXXX";
	int fd = mkstemp(path);
	log_set_fd(fd);
	log_level old = log_threshold;
	log_set_level_name("warn");
	log_info("not written %d", 1);
	log_warn("written %s", "贵阳");
	log_set_request_id("req-1");
	log_error("also written");
	assert_string_equal(log_request_id(), "req-1");
	log_set_request_id(NULL);
	json_t *o = json_pack("{s:s}", "event", "access");
	log_json(LOG_WARN, o);
	log_json(LOG_DEBUG, o);
	json_decref(o);
	log_set_fd(2);
	log_threshold = old;
	close(fd);
	assert_int_equal(log_lines_written(path), 3);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(status_names_and_http),
	    cmocka_unit_test(err_fields),
	    cmocka_unit_test(strlcpy_cuts_on_utf8_boundary),
	    cmocka_unit_test(arena_alloc_and_cap),
	    cmocka_unit_test(buf_limits),
	    cmocka_unit_test(slices),
	    cmocka_unit_test(utf8),
	    cmocka_unit_test(hex_and_b64),
	    cmocka_unit_test(jx_parse_errors),
	    cmocka_unit_test(jx_validation),
	    cmocka_unit_test(jx_labels),
	    cmocka_unit_test(conf_sources),
	    cmocka_unit_test(clock_formats),
	    cmocka_unit_test(log_levels),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
