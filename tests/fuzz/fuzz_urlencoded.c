/*
 * fuzz_urlencoded.c — libFuzzer target for form_parse_urlencoded and the
 * percent coder. Invariants checked on every input:
 *  - success gives at most max_fields fields, each name and value valid
 *    UTF-8 without NUL, len == strlen(value) <= max_value, and form_get finds
 *    every name;
 *  - failure is one of EINVAL, ETOOBIG, ENOMEM and the yz_err agrees;
 *  - percent-encoding any value and decoding it again gives the same bytes.
 * The first input byte picks tight or default limits so both are explored.
 */
#include <stdint.h>
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
	form_limits lim = form_default_limits();
	if (size && (data[0] & 1)) {
		lim.max_fields = 4;
		lim.max_name = 8;
		lim.max_value = 16;
	}
	arena *a = arena_new(1 << 24);
	CHECK(a);
	form f;
	yz_err e = {0};
	yz_status st = form_parse_urlencoded(a, (const char *)data, size, &lim, &f, &e);
	if (st == YZ_OK) {
		CHECK(f.n <= lim.max_fields);
		for (size_t i = 0; i < f.n; i++) {
			const form_field *fl = &f.fields[i];
			size_t nl = strlen(fl->name);
			CHECK(nl <= lim.max_name && utf8_valid(fl->name, nl));
			CHECK(strlen(fl->value) == fl->len && fl->len <= lim.max_value);
			CHECK(utf8_valid(fl->value, fl->len));
			CHECK(!fl->filename && !fl->content_type);
			const form_field *g = form_get_field(&f, fl->name);
			CHECK(g && g <= fl);
			char *enc = form_percent_encode(a, fl->value, fl->len);
			CHECK(enc);
			size_t dl = 0;
			char *dec = form_percent_decode(a, enc, strlen(enc), false, &dl);
			CHECK(dec && dl == fl->len && memcmp(dec, fl->value, dl) == 0);
		}
	} else {
		CHECK(st == YZ_EINVAL || st == YZ_ETOOBIG || st == YZ_ENOMEM);
		CHECK(e.code == st && e.msg[0]);
		CHECK(f.n == 0 && f.fields == NULL);
	}
	/* the raw decoder must agree with the parser on malformed escapes */
	size_t dl = 0;
	char *d = form_percent_decode(a, (const char *)data, size, true, &dl);
	if (d)
		CHECK(dl <= size && d[dl] == '\0');
	arena_free(a);
	return 0;
}
