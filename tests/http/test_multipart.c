/* Unit tests for src/http/multipart.c: multipart/form-data parsing, the
 * boundary parameter, limits and hostile inputs. */
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
#include "core/slice.h"
#include "http/form.h"

#define CT "multipart/form-data; boundary=XyZ"

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

/* Parse n bytes through a heap copy of exactly that length, so ASan catches
 * any read past the end. */
static yz_status parse_n(arena *a, const char *ct, const char *s, size_t n, const form_limits *lim,
                         form *f, yz_err *e)
{
	char *copy = malloc(n ? n : 1);
	assert_non_null(copy);
	memcpy(copy, s, n);
	yz_status st = form_parse_multipart(a, ct, copy, n, lim, f, e);
	free(copy);
	return st;
}

static yz_status parse(arena *a, const char *ct, const char *s, form *f, yz_err *e)
{
	return parse_n(a, ct, s, strlen(s), NULL, f, e);
}

static const char simple[] =
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=\"title\"\r\n"
    "\r\n"
    "路灯不亮\r\n"
    "--XyZ\r\n"
    "content-disposition: form-data; name=\"photo\"; filename=\"灯.jpg\"\r\n"
    "Content-Type: image/jpeg\r\n"
    "\r\n"
    "JPEGDATA\r\n"
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=empty\r\n"
    "\r\n"
    "\r\n"
    "--XyZ--\r\n";

static void basic_parts(void **state)
{
	form f;
	yz_err e = {0};
	assert_int_equal(parse(*state, CT, simple, &f, &e), YZ_OK);
	assert_int_equal(f.n, 3);
	assert_string_equal(f.fields[0].name, "title");
	assert_string_equal(f.fields[0].value, "路灯不亮");
	assert_int_equal(f.fields[0].len, strlen("路灯不亮"));
	assert_null(f.fields[0].filename);
	assert_null(f.fields[0].content_type);
	assert_string_equal(f.fields[1].name, "photo");
	assert_string_equal(f.fields[1].filename, "灯.jpg");
	assert_string_equal(f.fields[1].content_type, "image/jpeg");
	assert_int_equal(f.fields[1].len, 8);
	assert_string_equal(f.fields[1].value, "JPEGDATA");
	assert_string_equal(f.fields[2].name, "empty");
	assert_string_equal(f.fields[2].value, "");
	assert_int_equal(f.fields[2].len, 0);
	assert_string_equal(form_get(&f, "title"), "路灯不亮");
	assert_ptr_equal(form_get_field(&f, "photo"), &f.fields[1]);
}

static void file_with_nul_and_crlf(void **state)
{
	static const char body[] =
	    "--XyZ\r\n"
	    "Content-Disposition: form-data; name=\"f\"; filename=\"a.bin\"\r\n"
	    "Content-Type: application/octet-stream\r\n"
	    "\r\n"
	    "\0\r\n\r\n--XyZ\0\r\n--Xy\r\n\r\n\0\r\n"
	    "--XyZ--";
	form f;
	yz_err e = {0};
	assert_int_equal(parse_n(*state, CT, body, sizeof body - 1, NULL, &f, &e), YZ_OK);
	assert_int_equal(f.n, 1);
	static const char want[] = "\0\r\n\r\n--XyZ\0\r\n--Xy\r\n\r\n\0";
	assert_int_equal(f.fields[0].len, sizeof want - 1);
	assert_memory_equal(f.fields[0].value, want, sizeof want - 1);
	assert_int_equal(f.fields[0].value[f.fields[0].len], '\0');
	assert_string_equal(f.fields[0].filename, "a.bin");

	/* the same bytes in a text part are refused: NUL is not text */
	static const char text[] = "--XyZ\r\n"
	                           "Content-Disposition: form-data; name=\"t\"\r\n"
	                           "\r\n"
	                           "a\0b\r\n"
	                           "--XyZ--";
	assert_int_equal(parse_n(*state, CT, text, sizeof text - 1, NULL, &f, &e), YZ_EINVAL);
	assert_string_equal(e.fields[e.nfield - 1].field, "t");
	assert_string_equal(e.fields[e.nfield - 1].rule, "utf8");
}

static void boundary_lookalikes(void **state)
{
	/* "--XyZ" not after CRLF, "\r\n--XyZ" followed by other characters, and a
	 * longer boundary sharing the prefix are all content */
	static const char body[] = "--XyZ\r\n"
	                           "Content-Disposition: form-data; name=\"t\"\r\n"
	                           "\r\n"
	                           "a--XyZ\r\n"
	                           "--XyZa\r\n"
	                           "--XyZ-\r\n"
	                           "--XyZ x\r\n"
	                           "--XyZ\r\r\n"
	                           "--Xy\r\n"
	                           "--XyZ  \t\r\n"
	                           "Content-Disposition: form-data; name=\"u\"\r\n"
	                           "\r\n"
	                           "end\r\n"
	                           "--XyZ--";
	form f;
	yz_err e = {0};
	assert_int_equal(parse(*state, CT, body, &f, &e), YZ_OK);
	assert_int_equal(f.n, 2);
	assert_string_equal(f.fields[0].value,
	                    "a--XyZ\r\n--XyZa\r\n--XyZ-\r\n--XyZ x\r\n--XyZ\r\r\n--Xy");
	assert_string_equal(f.fields[1].name, "u");
	assert_string_equal(f.fields[1].value, "end");
}

static void preamble_and_epilogue(void **state)
{
	static const char body[] =
	    "This is a preamble.\r\n--XyZ is not a delimiter here\r\n"
	    "--XyZ\r\n"
	    "Content-Disposition: form-data; name=\"a\"\r\n"
	    "\r\n"
	    "1\r\n"
	    "--XyZ--\r\n"
	    "epilogue\r\n--XyZ\r\nContent-Disposition: form-data; name=\"b\"\r\n"
	    "\r\n2\r\n--XyZ--";
	form f;
	yz_err e = {0};
	assert_int_equal(parse(*state, CT, body, &f, &e), YZ_OK);
	assert_int_equal(f.n, 1);
	assert_string_equal(form_get(&f, "a"), "1");
	assert_null(form_get(&f, "b"));
}

static void empty_form(void **state)
{
	form f;
	yz_err e = {0};
	assert_int_equal(parse(*state, CT, "--XyZ--\r\n", &f, &e), YZ_OK);
	assert_int_equal(f.n, 0);
	assert_int_equal(parse(*state, CT, "--XyZ--", &f, &e), YZ_OK);
	assert_int_equal(f.n, 0);
}

static void boundary_parameter(void **state)
{
	static const char body[] = "--a b'()+_,-./:=?\r\n"
	                           "Content-Disposition: form-data; name=\"x\"\r\n"
	                           "\r\n"
	                           "1\r\n"
	                           "--a b'()+_,-./:=?--";
	form f;
	yz_err e = {0};
	assert_int_equal(parse(*state,
	                       "Multipart/Form-Data; charset=utf-8; BOUNDARY=\"a b'()+_,-./:=?\"",
	                       body, &f, &e),
	                 YZ_OK);
	assert_string_equal(form_get(&f, "x"), "1");
	/* quoted with a backslash escape inside a quoted-string */
	assert_int_equal(parse(*state, "multipart/form-data;boundary=\"X\\yZ\"", simple, &f, &e),
	                 YZ_OK);
	assert_int_equal(f.n, 3);
	/* whitespace around '=' and ';' */
	assert_int_equal(parse(*state, "multipart/form-data ; boundary = XyZ ;", simple, &f, &e),
	                 YZ_OK);
	/* a parameter whose value mentions boundary= is not the boundary */
	assert_int_equal(
	    parse(*state, "multipart/form-data; x=\"boundary=Q\"; boundary=XyZ", simple, &f, &e),
	    YZ_OK);
	assert_int_equal(f.n, 3);

	/* 70 characters pass, 71 do not */
	char ct[128], b70[71];
	memset(b70, 'b', 70);
	b70[70] = '\0';
	char *big = arena_printf(
	    *state, "--%s\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--%s--", b70,
	    b70);
	snprintf(ct, sizeof ct, "multipart/form-data; boundary=%s", b70);
	assert_int_equal(parse(*state, ct, big, &f, &e), YZ_OK);
	assert_string_equal(form_get(&f, "x"), "1");
	snprintf(ct, sizeof ct, "multipart/form-data; boundary=%sb", b70);
	assert_int_equal(parse(*state, ct, big, &f, &e), YZ_EINVAL);
	assert_non_null(strstr(e.msg, "70"));
	snprintf(ct, sizeof ct, "multipart/form-data; boundary=\"%sb\"", b70);
	assert_int_equal(parse(*state, ct, big, &f, &e), YZ_EINVAL);
}

static void expect_bad_ct(arena *a, const char *ct)
{
	form f;
	yz_err e = {0};
	assert_int_equal(parse(a, ct, simple, &f, &e), YZ_EINVAL);
	assert_int_equal(e.code, YZ_EINVAL);
	assert_string_equal(e.fields[0].field, "Content-Type");
	assert_int_equal(f.n, 0);
}

static void bad_content_type(void **state)
{
	form f;
	yz_err e = {0};
	assert_int_equal(parse(*state, NULL, simple, &f, &e), YZ_EINVAL);
	expect_bad_ct(*state, "multipart/form-data");
	expect_bad_ct(*state, "multipart/form-data; boundary=");
	expect_bad_ct(*state, "multipart/form-data; boundary=\"\"");
	expect_bad_ct(*state, "multipart/form-data; boundary=\"XyZ");
	expect_bad_ct(*state, "multipart/form-data; boundary=\"XyZ \"");
	expect_bad_ct(*state, "multipart/form-data; boundary=Xy\\Z");
	expect_bad_ct(*state, "multipart/form-data; boundary=\"X\ryZ\"");
	expect_bad_ct(*state, "multipart/form-data; boundary=XyZ; boundary=XyZ");
	expect_bad_ct(*state, "multipart/form-data; boundary");
	expect_bad_ct(*state, "multipart/mixed; boundary=XyZ");
	expect_bad_ct(*state, "application/x-www-form-urlencoded");
	expect_bad_ct(*state, "multipart/form-data boundary=XyZ");
	expect_bad_ct(*state, "");
}

static void expect_invalid(arena *a, const char *body, const char *msg_part)
{
	form f;
	yz_err e = {0};
	assert_int_equal(parse(a, CT, body, &f, &e), YZ_EINVAL);
	assert_int_equal(e.code, YZ_EINVAL);
	if (!strstr(e.msg, msg_part))
		fail_msg("message \"%s\" lacks \"%s\"", e.msg, msg_part);
	assert_int_equal(f.n, 0);
	assert_null(f.fields);
}

static void truncated(void **state)
{
	expect_invalid(*state, "", "no boundary");
	expect_invalid(*state, "no delimiter at all", "no boundary");
	expect_invalid(*state, "--XyZ", "no boundary");
	expect_invalid(*state, "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n",
	               "truncated");
	expect_invalid(*state,
	               "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--XyZ",
	               "truncated");
	expect_invalid(*state,
	               "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--XyZ-",
	               "truncated");
	expect_invalid(*state,
	               "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--Xy",
	               "truncated");
	expect_invalid(*state, "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n",
	               "truncated");
	expect_invalid(*state, "--XyZ\r\nContent-Disposition: form-data; name=\"a\"", "truncated");
	/* the field that was cut short is named */
	form f;
	yz_err e = {0};
	assert_int_equal(parse(*state, CT,
	                       "--XyZ\r\nContent-Disposition: form-data; name=\"说明\"\r\n\r\n1",
	                       &f, &e),
	                 YZ_EINVAL);
	assert_string_equal(e.fields[0].field, "说明");
	assert_string_equal(e.fields[0].rule, "truncated");
}

static void bad_part_headers(void **state)
{
	expect_invalid(*state, "--XyZ\r\nContent-Type: text/plain\r\n\r\n1\r\n--XyZ--",
	               "without a name");
	expect_invalid(*state, "--XyZ\r\n\r\n1\r\n--XyZ--", "without a name");
	expect_invalid(*state, "--XyZ\r\nContent-Disposition: form-data\r\n\r\n1\r\n--XyZ--",
	               "without a name");
	expect_invalid(*state,
	               "--XyZ\r\nContent-Disposition: form-data; name=\"\"\r\n\r\n1\r\n--XyZ--",
	               "without a name");
	expect_invalid(
	    *state, "--XyZ\r\nContent-Disposition: form-data; filename=\"a\"\r\n\r\n1\r\n--XyZ--",
	    "without a name");
	expect_invalid(*state,
	               "--XyZ\r\nContent-Disposition: attachment; name=\"a\"\r\n\r\n1\r\n--XyZ--",
	               "not form-data");
	expect_invalid(*state,
	               "--XyZ\r\nContent-Disposition: form-data; name=\"a\r\n\r\n1\r\n--XyZ--",
	               "malformed Content-Disposition");
	expect_invalid(
	    *state,
	    "--XyZ\r\nContent-Disposition: form-data; name=\"a\"; name=\"b\"\r\n\r\n1\r\n"
	    "--XyZ--",
	    "repeats");
	expect_invalid(*state,
	               "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n"
	               "Content-Disposition: form-data; name=\"b\"\r\n\r\n1\r\n--XyZ--",
	               "two Content-Disposition");
	expect_invalid(*state,
	               "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\nNoColon\r\n\r\n1\r\n"
	               "--XyZ--",
	               "malformed header");
	expect_invalid(*state,
	               "--XyZ\r\nContent-Disposition : form-data; name=\"a\"\r\n\r\n1\r\n--XyZ--",
	               "malformed header");
	expect_invalid(
	    *state, "--XyZ\r\nContent-Disposition: form-data;\r\n name=\"a\"\r\n\r\n1\r\n--XyZ--",
	    "folded");
	expect_invalid(
	    *state, "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\nX: y\r\n\r\n1\r\n--XyZ--",
	    "control character");
	expect_invalid(
	    *state, "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\rX: y\r\n\r\n1\r\n--XyZ--",
	    "bare CR");
	expect_invalid(*state,
	               "--XyZ\r\nContent-Disposition: form-data; name=\"\xff\"\r\n\r\n1\r\n--XyZ--",
	               "not valid UTF-8");
	expect_invalid(
	    *state,
	    "--XyZ\r\nContent-Disposition: form-data; name=\"a\"; filename=\"\xc0\xaf\"\r\n"
	    "\r\n1\r\n--XyZ--",
	    "filename is not valid UTF-8");
	expect_invalid(*state,
	               "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n--XyZ\r\n"
	               "Content-Disposition: form-data; name=\"b\"\r\n\r\nv\r\n--XyZ--",
	               "no blank line");
	/* bare LF line endings are not accepted */
	expect_invalid(*state, "--XyZ\nContent-Disposition: form-data; name=\"a\"\n\n1\n--XyZ--",
	               "no boundary");
}

static void text_must_be_utf8(void **state)
{
	form f;
	yz_err e = {0};
	assert_int_equal(parse(*state, CT,
	                       "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n"
	                       "\xe8\xb4\r\n--XyZ--",
	                       &f, &e),
	                 YZ_EINVAL);
	assert_string_equal(e.fields[0].field, "a");
	assert_string_equal(e.fields[0].rule, "utf8");
	/* the same bytes as a file are fine */
	assert_int_equal(
	    parse(*state, CT,
	          "--XyZ\r\nContent-Disposition: form-data; name=\"a\"; filename=\"\"\r\n"
	          "\r\n\xe8\xb4\r\n--XyZ--",
	          &f, &e),
	    YZ_OK);
	assert_int_equal(f.fields[0].len, 2);
	assert_string_equal(f.fields[0].filename, "");
}

static void quoted_params(void **state)
{
	form f;
	yz_err e = {0};
	assert_int_equal(
	    parse(
	        *state, CT,
	        "--XyZ\r\n"
	        "Content-Disposition: form-data; filename=\"say \\\"hi\\\".txt\"; NAME=\"q\\\"x\"; "
	        "filename*=UTF-8''%E7%81%AF.txt\r\n"
	        "X-Other: ignored\r\n"
	        "\r\n"
	        "data\r\n"
	        "--XyZ\r\n"
	        "Content-Disposition: form-data; name=\"win\"; filename=\"C:\\dir\\a\\\\b.txt\"\r\n"
	        "\r\n"
	        "\r\n"
	        "--XyZ--",
	        &f, &e),
	    YZ_OK);
	assert_int_equal(f.n, 2);
	assert_string_equal(f.fields[0].name, "q\"x");
	assert_string_equal(f.fields[0].filename, "say \"hi\".txt");
	assert_string_equal(f.fields[0].value, "data");
	/* backslashes other than \" and \\ are kept (old IE sent Windows paths) */
	assert_string_equal(f.fields[1].filename, "C:\\dir\\a\\b.txt");
	assert_int_equal(f.fields[1].len, 0);
}

static void limits(void **state)
{
	form_limits lim = form_default_limits();
	lim.max_fields = 2;
	lim.max_value = 4;
	lim.max_file = 6;
	lim.max_name = 3;
	form f;
	yz_err e = {0};
	const char *two =
	    "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1234\r\n"
	    "--XyZ\r\nContent-Disposition: form-data; name=\"abc\"; filename=\"f\"\r\n"
	    "\r\n123456\r\n--XyZ--";
	assert_int_equal(parse_n(*state, CT, two, strlen(two), &lim, &f, &e), YZ_OK);
	assert_int_equal(f.n, 2);

	const char *three =
	    "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n"
	    "--XyZ\r\nContent-Disposition: form-data; name=\"b\"\r\n\r\n2\r\n"
	    "--XyZ\r\nContent-Disposition: form-data; name=\"c\"\r\n\r\n3\r\n--XyZ--";
	assert_int_equal(parse_n(*state, CT, three, strlen(three), &lim, &f, &e), YZ_ETOOBIG);
	assert_non_null(strstr(e.msg, "max_fields"));

	memset(&e, 0, sizeof e);
	const char *text5 =
	    "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n12345\r\n--XyZ--";
	assert_int_equal(parse_n(*state, CT, text5, strlen(text5), &lim, &f, &e), YZ_ETOOBIG);
	assert_non_null(strstr(e.msg, "max_value"));
	assert_string_equal(e.fields[0].field, "a");
	assert_string_equal(e.fields[0].rule, "max_value");
	assert_string_equal(e.fields[0].got, "5 bytes");

	memset(&e, 0, sizeof e);
	const char *file7 =
	    "--XyZ\r\nContent-Disposition: form-data; name=\"a\"; filename=\"x\"\r\n"
	    "\r\n1234567\r\n--XyZ--";
	assert_int_equal(parse_n(*state, CT, file7, strlen(file7), &lim, &f, &e), YZ_ETOOBIG);
	assert_non_null(strstr(e.msg, "max_file"));

	memset(&e, 0, sizeof e);
	const char *name4 =
	    "--XyZ\r\nContent-Disposition: form-data; name=\"abcd\"\r\n\r\n1\r\n--XyZ--";
	assert_int_equal(parse_n(*state, CT, name4, strlen(name4), &lim, &f, &e), YZ_ETOOBIG);
	assert_non_null(strstr(e.msg, "max_name"));
}

static void limit_part_head(void **state)
{
	const char *hdr = "Content-Disposition: form-data; name=\"a\"\r\n";
	size_t hl = strlen(hdr);
	form_limits lim = form_default_limits();
	lim.max_part_head = hl;
	char *body = arena_printf(*state, "--XyZ\r\n%s\r\n1\r\n--XyZ--", hdr);
	form f;
	yz_err e = {0};
	assert_int_equal(parse_n(*state, CT, body, strlen(body), &lim, &f, &e), YZ_OK);
	assert_string_equal(form_get(&f, "a"), "1");
	lim.max_part_head = hl - 1;
	assert_int_equal(parse_n(*state, CT, body, strlen(body), &lim, &f, &e), YZ_ETOOBIG);
	assert_non_null(strstr(e.msg, "max_part_head"));

	/* default: 4 KiB of headers pass, a byte more does not */
	buf b;
	buf_init(&b, 1 << 20);
	assert_int_equal(buf_puts(&b, "--XyZ\r\n"), YZ_OK);
	assert_int_equal(buf_puts(&b, hdr), YZ_OK);
	size_t pad = 4096 - hl - strlen("X-Pad: \r\n");
	assert_int_equal(buf_puts(&b, "X-Pad: "), YZ_OK);
	for (size_t i = 0; i < pad; i++)
		assert_int_equal(buf_putc(&b, 'p'), YZ_OK);
	assert_int_equal(buf_puts(&b, "\r\n\r\n1\r\n--XyZ--"), YZ_OK);
	assert_int_equal(parse_n(*state, CT, b.p, b.len, NULL, &f, &e), YZ_OK);
	buf_reset(&b);
	assert_int_equal(buf_puts(&b, "--XyZ\r\n"), YZ_OK);
	assert_int_equal(buf_puts(&b, hdr), YZ_OK);
	assert_int_equal(buf_puts(&b, "X-Pad: "), YZ_OK);
	for (size_t i = 0; i < pad + 1; i++)
		assert_int_equal(buf_putc(&b, 'p'), YZ_OK);
	assert_int_equal(buf_puts(&b, "\r\n\r\n1\r\n--XyZ--"), YZ_OK);
	assert_int_equal(parse_n(*state, CT, b.p, b.len, NULL, &f, &e), YZ_ETOOBIG);
	buf_free(&b);
}

/* 8 MiB bodies made of near-delimiters: the outcome must be right, and the
 * test timeout guards against a super-linear delimiter search. */
static void adversarial_linear(void **state)
{
	/* boundary: 69 'a' then 'b'; the body repeats "\r\n--" and 70 'a', so
	 * every CR starts a 73-byte partial match */
	char bnd[71];
	memset(bnd, 'a', 69);
	bnd[69] = 'b';
	bnd[70] = '\0';
	char *ct = arena_printf(*state, "multipart/form-data; boundary=%s", bnd);
	char *head = arena_printf(
	    *state, "--%s\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x\"\r\n\r\n",
	    bnd);
	size_t hn = strlen(head), n = 8u << 20;
	char *body = malloc(n);
	assert_non_null(body);
	memcpy(body, head, hn);
	for (size_t i = hn; i < n; i++) {
		size_t k = (i - hn) % 74;
		body[i] = k == 0 ? '\r' : k == 1 ? '\n' : k < 4 ? '-' : 'a';
	}
	form f;
	yz_err e = {0};
	assert_int_equal(parse_n(*state, ct, body, n, NULL, &f, &e), YZ_EINVAL);
	assert_non_null(strstr(e.msg, "truncated"));
	/* near-delimiters followed by padding that never ends in CRLF */
	for (size_t i = hn; i < n; i++) {
		size_t k = (i - hn) % 80;
		body[i] = k == 0   ? '\r'
		          : k == 1 ? '\n'
		          : k < 4  ? '-'
		          : k < 74 ? bnd[k - 4]
		          : k < 79 ? ' '
		                   : 'x';
	}
	assert_int_equal(parse_n(*state, ct, body, n, NULL, &f, &e), YZ_EINVAL);
	/* a run of CRs */
	memset(body + hn, '\r', n - hn);
	assert_int_equal(parse_n(*state, ct, body, n, NULL, &f, &e), YZ_EINVAL);
	/* the same body with a real close delimiter is one 8 MiB file */
	memcpy(body + n - 76, "\r\n--", 4);
	memcpy(body + n - 72, bnd, 70);
	memcpy(body + n - 2, "--", 2);
	assert_int_equal(parse_n(*state, ct, body, n, NULL, &f, &e), YZ_OK);
	assert_int_equal(f.n, 1);
	assert_int_equal(f.fields[0].len, n - 76 - hn);
	free(body);
}

static void many_parts_in_order(void **state)
{
	buf b;
	buf_init(&b, 1 << 20);
	for (int i = 0; i < 256; i++)
		assert_int_equal(
		    buf_printf(&b,
		               "--XyZ\r\nContent-Disposition: form-data; name=\"f%d\"\r\n"
		               "\r\n值%d\r\n",
		               i, i),
		    YZ_OK);
	assert_int_equal(buf_puts(&b, "--XyZ--\r\n"), YZ_OK);
	form f;
	yz_err e = {0};
	assert_int_equal(parse_n(*state, CT, b.p, b.len, NULL, &f, &e), YZ_OK);
	assert_int_equal(f.n, 256);
	for (int i = 0; i < 256; i++) {
		char want[16];
		snprintf(want, sizeof want, "值%d", i);
		assert_string_equal(f.fields[i].value, want);
	}
	/* one more is over the default limit */
	buf_reset(&b);
	for (int i = 0; i < 257; i++)
		assert_int_equal(
		    buf_printf(&b,
		               "--XyZ\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nv\r\n"),
		    YZ_OK);
	assert_int_equal(buf_puts(&b, "--XyZ--\r\n"), YZ_OK);
	assert_int_equal(parse_n(*state, CT, b.p, b.len, NULL, &f, &e), YZ_ETOOBIG);
	buf_free(&b);
}

static void no_read_past_end(void **state)
{
	/* the close delimiter lies just past n: the body must count as truncated */
	const char *s = simple;
	size_t n = strlen(s) - strlen("--\r\n");
	form f;
	yz_err e = {0};
	assert_int_equal(form_parse_multipart(*state, CT, s, n, NULL, &f, &e), YZ_EINVAL);
	assert_int_equal(form_parse_multipart(*state, CT, s, n + 2, NULL, &f, &e), YZ_OK);
	assert_int_equal(form_parse_multipart(*state, CT, NULL, 0, NULL, &f, &e), YZ_EINVAL);
}

static void long_names_in_messages(void **state)
{
	form_limits lim = form_default_limits();
	lim.max_name = 1000;
	char *name = arena_strdup(*state, "");
	for (int i = 0; i < 100; i++)
		name = arena_printf(*state, "%s贵", name);
	for (int shift = 0; shift < 3; shift++) {
		char *in =
		    arena_printf(*state,
		                 "--XyZ\r\nContent-Disposition: form-data; name=\"%.*s%s\"\r\n"
		                 "\r\n\xff\r\n--XyZ--",
		                 shift, "xyz", name);
		form f;
		yz_err e = {0};
		assert_int_equal(parse_n(*state, CT, in, strlen(in), &lim, &f, &e), YZ_EINVAL);
		assert_true(strlen(e.msg) > 200);
		assert_true(utf8_valid(e.msg, strlen(e.msg)));
		assert_true(utf8_valid(e.fields[0].field, strlen(e.fields[0].field)));
	}
}

static void repeated_names_and_memory(void **state)
{
	static const char body[] =
	    "--XyZ\r\nContent-Disposition: form-data; name=\"tag\"\r\n\r\n甲\r\n"
	    "--XyZ\r\nContent-Disposition: form-data; name=\"tag\"\r\n\r\n乙\r\n"
	    "--XyZ--";
	form f;
	yz_err e = {0};
	assert_int_equal(parse(*state, CT, body, &f, &e), YZ_OK);
	assert_int_equal(f.n, 2);
	assert_string_equal(form_get(&f, "tag"), "甲");
	assert_string_equal(f.fields[1].value, "乙");

	/* an arena too small for the copies gives YZ_ENOMEM */
	arena *small = arena_new(64);
	assert_non_null(small);
	assert_int_equal(parse(small, CT, simple, &f, &e), YZ_ENOMEM);
	assert_int_equal(e.code, YZ_ENOMEM);
	assert_int_equal(f.n, 0);
	arena_free(small);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(basic_parts, setup, teardown),
	    cmocka_unit_test_setup_teardown(file_with_nul_and_crlf, setup, teardown),
	    cmocka_unit_test_setup_teardown(boundary_lookalikes, setup, teardown),
	    cmocka_unit_test_setup_teardown(preamble_and_epilogue, setup, teardown),
	    cmocka_unit_test_setup_teardown(empty_form, setup, teardown),
	    cmocka_unit_test_setup_teardown(boundary_parameter, setup, teardown),
	    cmocka_unit_test_setup_teardown(bad_content_type, setup, teardown),
	    cmocka_unit_test_setup_teardown(truncated, setup, teardown),
	    cmocka_unit_test_setup_teardown(bad_part_headers, setup, teardown),
	    cmocka_unit_test_setup_teardown(text_must_be_utf8, setup, teardown),
	    cmocka_unit_test_setup_teardown(quoted_params, setup, teardown),
	    cmocka_unit_test_setup_teardown(limits, setup, teardown),
	    cmocka_unit_test_setup_teardown(limit_part_head, setup, teardown),
	    cmocka_unit_test_setup_teardown(adversarial_linear, setup, teardown),
	    cmocka_unit_test_setup_teardown(many_parts_in_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(no_read_past_end, setup, teardown),
	    cmocka_unit_test_setup_teardown(long_names_in_messages, setup, teardown),
	    cmocka_unit_test_setup_teardown(repeated_names_and_memory, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
