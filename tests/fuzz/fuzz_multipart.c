/*
 * fuzz_multipart.c — libFuzzer target for form_parse_multipart.
 *
 * The input's first line (up to '\n') chooses the Content-Type: a line that
 * starts with "multipart/" is used whole, so the parameter parser is explored
 * too; any other line is taken as the boundary. The rest is the body, handed
 * over as the tail of the fuzzer's own buffer so ASan sees any read past it.
 * Invariants: at most max_fields parts; every name non-empty valid UTF-8;
 * text parts valid UTF-8 within max_value; files within max_file; every value
 * NUL-terminated at len; failures are EINVAL, ETOOBIG or ENOMEM and leave the
 * form empty.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/slice.h"
#include "http/form.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			abort();                                                                   \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	const char *nl = memchr(p, '\n', size);
	size_t ll = nl ? (size_t)(nl - p) : size;
	if (ll && p[ll - 1] == '\r')
		ll--;
	if (ll > 200)
		return 0;
	char line[201];
	memcpy(line, p, ll);
	line[ll] = '\0';
	char ct[260];
	if (strncmp(line, "multipart/", 10) == 0)
		snprintf(ct, sizeof ct, "%s", line);
	else
		snprintf(ct, sizeof ct, "multipart/form-data; boundary=%s", line);
	const char *body = nl ? nl + 1 : p + size;
	size_t bn = size - (size_t)(body - p);

	form_limits lim = form_default_limits();
	if (size & 1) {
		lim.max_fields = 3;
		lim.max_name = 8;
		lim.max_value = 16;
		lim.max_file = 32;
		lim.max_part_head = 96;
	}
	arena *a = arena_new(1 << 24);
	CHECK(a);
	form f;
	yz_err e = {0};
	yz_status st = form_parse_multipart(a, ct, body, bn, &lim, &f, &e);
	if (st == YZ_OK) {
		CHECK(f.n <= lim.max_fields);
		for (size_t i = 0; i < f.n; i++) {
			const form_field *fl = &f.fields[i];
			size_t nlen = strlen(fl->name);
			CHECK(nlen > 0 && nlen <= lim.max_name && utf8_valid(fl->name, nlen));
			CHECK(fl->value[fl->len] == '\0');
			CHECK(fl->len <= bn);
			if (fl->filename) {
				CHECK(fl->len <= lim.max_file);
				CHECK(utf8_valid(fl->filename, strlen(fl->filename)));
			} else {
				CHECK(fl->len <= lim.max_value);
				CHECK(utf8_valid(fl->value, fl->len));
				CHECK(strlen(fl->value) == fl->len);
			}
			if (fl->content_type)
				CHECK(utf8_valid(fl->content_type, strlen(fl->content_type)));
			CHECK(form_get_field(&f, fl->name) != NULL);
		}
	} else {
		CHECK(st == YZ_EINVAL || st == YZ_ETOOBIG || st == YZ_ENOMEM);
		CHECK(e.code == st && e.msg[0]);
		CHECK(f.n == 0 && f.fields == NULL);
	}
	arena_free(a);
	return 0;
}
