/*
 * fuzz_tmpl.c — libFuzzer target for the template compiler and renderer.
 *
 * Input: template sources, then a NUL byte, then a JSON data document. The
 * sources are split at 0x01 bytes into up to four templates named t0..t3 so
 * that partials ({{> t1}}) and layouts ({{extends "t1"}}) get exercised.
 * Invariants: compile, link and render never crash, leak or hang; a render
 * fails only with YZ_ETOOBIG (output over 1 MiB, partial depth, step limit);
 * a successful render is deterministic; escaped text holds none of <>"'.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/jx.h"
#include "http/tmpl.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			abort();                                                                   \
	} while (0)

#define MAX_TEMPLATES 4
#define OUT_MAX       ((size_t)1 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static json_t *messages(void)
{
	json_t *m = json_object();
	json_t *login = json_object();
	json_object_set_new(login, "title", json_string("登录 <&>"));
	json_object_set_new(m, "login", login);
	json_object_set_new(m, "k", json_string("javascript:alert(1)"));
	return m;
}

static void check_escape(const char *p, size_t n)
{
	buf b;
	buf_init(&b, 6 * n + 1);
	CHECK(tmpl_escape_html(&b, p, n) == YZ_OK);
	for (size_t i = 0; i < b.len; i++)
		CHECK(b.p[i] != '<' && b.p[i] != '>' && b.p[i] != '"' && b.p[i] != '\'');
	buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	const char *nul = memchr(p, '\0', size);
	size_t tn = nul ? (size_t)(nul - p) : size;
	check_escape(p, tn < 4096 ? tn : 4096);

	json_t *doc = NULL;
	if (nul && jx_parse(nul + 1, size - tn - 1, 0, &doc, NULL) != YZ_OK)
		doc = NULL;

	tmpl_set *s = tmpl_set_new();
	CHECK(s);
	json_t *m = messages();
	CHECK(tmpl_set_messages(s, "zh", m, NULL) == YZ_OK);
	json_decref(m);

	int added = 0;
	size_t off = 0;
	for (int i = 0; i < MAX_TEMPLATES && off <= tn; i++) {
		const char *q = memchr(p + off, '\x01', tn - off);
		size_t len = (i == MAX_TEMPLATES - 1 || !q) ? tn - off : (size_t)(q - (p + off));
		char name[4] = {'t', (char)('0' + i), '\0', '\0'};
		yz_err e = {0};
		if (tmpl_set_add(s, name, p + off, len, &e) == YZ_OK)
			added |= 1 << i;
		else
			CHECK(e.code == YZ_EINVAL && e.msg[0]);
		off += len + 1;
		if (!q)
			break;
	}

	yz_err e = {0};
	if (added && tmpl_set_link(s, &e) == YZ_OK) {
		for (int i = 0; i < MAX_TEMPLATES; i++) {
			if (!(added & (1 << i)))
				continue;
			char name[3] = {'t', (char)('0' + i), '\0'};
			buf out;
			buf_init(&out, OUT_MAX);
			yz_status st = tmpl_render(s, name, doc, "zh", &out, &e);
			CHECK(st == YZ_OK || st == YZ_ETOOBIG);
			if (st == YZ_OK && out.len < 4096) {
				buf again;
				buf_init(&again, OUT_MAX);
				CHECK(tmpl_render(s, name, doc, "en", &again, NULL) == YZ_OK);
				CHECK(again.len == out.len &&
				      (out.len == 0 || memcmp(again.p, out.p, out.len) == 0));
				buf_free(&again);
			}
			buf_free(&out);
			break; /* t0 when it compiled, else the first that did */
		}
	}
	tmpl_set_free(s);
	json_decref(doc);
	return 0;
}
