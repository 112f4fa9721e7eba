/* Unit tests for src/http/tmpl: syntax, lookup, sections, escaping contexts,
 * compile and link errors, layouts, partials, limits, loading from a
 * directory and rendering from several threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <pthread.h>

#include "core/buf.h"
#include "core/jx.h"
#include "http/tmpl.h"

#define OUT_MAX (1u << 20)

static json_t *parse(const char *json)
{
	json_t *v = NULL;
	yz_err e = {0};
	if (jx_parse(json, strlen(json), 0, &v, &e) != YZ_OK)
		fail_msg("bad test JSON: %s", e.msg);
	return v;
}

/* A linked set of one template "t". */
static tmpl_set *one(const char *src)
{
	tmpl_set *s = tmpl_set_new();
	yz_err e = {0};
	assert_non_null(s);
	if (tmpl_set_add(s, "t", src, strlen(src), &e) != YZ_OK)
		fail_msg("compile failed: %s", e.msg);
	if (tmpl_set_link(s, &e) != YZ_OK)
		fail_msg("link failed: %s", e.msg);
	return s;
}

static char *render_lang(const tmpl_set *s, const char *name, const char *json, const char *lang)
{
	json_t *data = parse(json);
	buf b;
	buf_init(&b, OUT_MAX);
	yz_err e = {0};
	yz_status st = tmpl_render(s, name, data, lang, &b, &e);
	json_decref(data);
	if (st != YZ_OK) {
		buf_free(&b);
		fail_msg("render failed: %s", e.msg);
	}
	size_t n;
	char *out = buf_take(&b, &n);
	if (!out)
		out = strdup("");
	return out;
}

static char *render(const tmpl_set *s, const char *name, const char *json)
{
	return render_lang(s, name, json, NULL);
}

#define EXPECT(src, json, want)                                                                    \
	do {                                                                                       \
		tmpl_set *s_ = one(src);                                                           \
		char *got_ = render(s_, "t", json);                                                \
		assert_string_equal(got_, want);                                                   \
		free(got_);                                                                        \
		tmpl_set_free(s_);                                                                 \
	} while (0)

/* Compiling src as "t" fails with YZ_EINVAL and a message holding want. */
static void compile_error(const char *src, const char *want)
{
	tmpl_set *s = tmpl_set_new();
	yz_err e = {0};
	yz_status st = tmpl_set_add(s, "t", src, strlen(src), &e);
	if (st != YZ_EINVAL)
		fail_msg("expected a compile error containing \"%s\" for: %s", want, src);
	assert_int_equal(e.code, YZ_EINVAL);
	if (!strstr(e.msg, want))
		fail_msg("message \"%s\" lacks \"%s\"", e.msg, want);
	assert_false(tmpl_set_has(s, "t"));
	tmpl_set_free(s);
}

/* ---------------------------------------------------------------------- */

static void values_and_scalars(void **state)
{
	(void)state;
	EXPECT("<p>{{ a.b.c }}|{{a.b.c}}|{{ x }}</p>", "{\"a\":{\"b\":{\"c\":\"deep\"}}}",
	       "<p>deep|deep|</p>");
	EXPECT("{{i}} {{n}} {{r}} {{q}} {{z}} {{big}} {{tiny}}",
	       "{\"i\":42,\"n\":-7,\"r\":2.5,\"q\":0.1,\"z\":0.0,\"big\":1e20,\"tiny\":1.5e-7}",
	       "42 -7 2.5 0.1 0 100000000000000000000 1.5e-07");
	EXPECT("[{{t}}][{{f}}][{{n}}][{{o}}][{{a}}][{{missing}}]",
	       "{\"t\":true,\"f\":false,\"n\":null,\"o\":{\"x\":1},\"a\":[1,2]}",
	       "[true][false][][][][]");
	EXPECT("{{min}} {{max}} {{neg}}",
	       "{\"min\":-9223372036854775808,\"max\":9223372036854775807,\"neg\":-0.25}",
	       "-9223372036854775808 9223372036854775807 -0.25");
	/* array index segments and the root */
	EXPECT("{{xs.1}} {{@root.xs.0}} {{xs.9}}", "{\"xs\":[\"a\",\"b\"]}", "b a ");
	/* comments, including the long form that may contain }} */
	EXPECT("a{{! note }}b{{!-- {{x}} }} --}}c", "{\"x\":1}", "abc");
	/* whitespace inside the braces */
	EXPECT("{{   x   }}{{#  if x  }}!{{/  if }}", "{\"x\":\"v\"}", "v!");
	/* a key that is also a keyword works as a plain name */
	EXPECT("{{raw}} {{t}} {{slot}}", "{\"raw\":1,\"t\":2,\"slot\":3}", "1 2 3");
}

static void lookup_walks_outward(void **state)
{
	(void)state;
	const char *src = "{{#each people}}{{name}}@{{city}}/{{@root.city}};{{/each}}"
	                  "{{#with office}}{{name}} in {{city}} {{title}}{{/with}}";
	EXPECT(src,
	       "{\"city\":\"贵阳\",\"title\":\"T\",\"people\":[{\"name\":\"李\"},"
	       "{\"name\":\"王\",\"city\":\"遵义\"}],\"office\":{\"name\":\"政务中心\"}}",
	       "李@贵阳/贵阳;王@遵义/贵阳;政务中心 in 贵阳 T");
	/* nested each: inner items see outer items, then the root */
	EXPECT("{{#each groups}}{{#each items}}{{g}}{{.}}{{sep}}{{/each}}{{/each}}",
	       "{\"sep\":\",\",\"groups\":[{\"g\":\"A\",\"items\":[1,2]},{\"g\":\"B\","
	       "\"items\":[3]}]}",
	       "A1,A2,B3,");
	/* an explicit null in an inner context shadows the outer value */
	EXPECT("{{#with o}}[{{x}}]{{/with}}", "{\"x\":\"outer\",\"o\":{\"x\":null}}", "[]");
	/* the rest of a dotted name does not fall back */
	EXPECT("{{#with o}}[{{a.b}}]{{/with}}", "{\"a\":{\"b\":1},\"o\":{\"a\":{}}}", "[]");
	/* . is the current context */
	EXPECT("{{#each xs}}[{{.}}]{{/each}}{{#with s}}{{.}}{{/with}}",
	       "{\"xs\":[\"<a>\",1,true],\"s\":\"str\"}", "[&lt;a&gt;][1][true]str");
}

static void each_variables(void **state)
{
	(void)state;
	EXPECT("{{#each xs}}{{@index}}/{{@number}}:{{.}}{{#if @first}}F{{/if}}"
	       "{{#if @last}}L{{/if}}[{{@key}}] {{/each}}",
	       "{\"xs\":[\"a\",\"b\",\"c\"]}", "0/1:aF[] 1/2:b[] 2/3:cL[] ");
	EXPECT("{{#each o}}{{@key}}={{.}}{{#unless @last}}&{{/unless}}{{/each}}",
	       "{\"o\":{\"b\":1,\"a\":\"x<\",\"c\":true}}", "b=1&a=x&lt;&c=true");
	/* @index refers to the nearest each, also inside with */
	EXPECT("{{#each xs}}{{#each ys}}{{@index}}{{/each}}-{{#with w}}{{@index}}{{/with}};"
	       "{{/each}}",
	       "{\"w\":1,\"xs\":[{\"ys\":[7,8,9]},{\"ys\":[7]}]}", "012-0;0-1;");
	EXPECT("[{{@index}}{{@first}}{{@key}}]", "{}", "[]");
}

static void else_branches(void **state)
{
	(void)state;
	const char *src = "{{#if a}}A{{else}}notA{{/if}}|{{#unless a}}U{{else}}notU{{/unless}}|"
	                  "{{#each xs}}{{.}}{{else}}empty{{/each}}|"
	                  "{{#with o}}{{k}}{{else}}noO{{/with}}";
	EXPECT(src, "{\"a\":1,\"xs\":[1,2],\"o\":{\"k\":\"K\"}}", "A|notU|12|K");
	EXPECT(src, "{\"a\":0,\"xs\":[],\"o\":null}", "notA|U|empty|noO");
	EXPECT(src, "{\"xs\":{}}", "notA|U|empty|noO");
	EXPECT(src, "{\"xs\":\"not a list\",\"o\":{}}", "notA|U|empty|noO");
	/* nested sections with else at two levels */
	EXPECT("{{#if a}}{{#if b}}ab{{else}}a{{/if}}{{else}}{{#if b}}b{{else}}-{{/if}}{{/if}}",
	       "{\"b\":true}", "b");
}

static void truthiness_table(void **state)
{
	(void)state;
	static const struct {
		const char *json;
		const char *want;
	} rows[] = {
	    {"{}", "F"},
	    {"{\"v\":null}", "F"},
	    {"{\"v\":false}", "F"},
	    {"{\"v\":0}", "F"},
	    {"{\"v\":0.0}", "F"},
	    {"{\"v\":\"\"}", "F"},
	    {"{\"v\":[]}", "F"},
	    {"{\"v\":{}}", "F"},
	    {"{\"v\":true}", "T"},
	    {"{\"v\":1}", "T"},
	    {"{\"v\":-1}", "T"},
	    {"{\"v\":0.5}", "T"},
	    {"{\"v\":\"0\"}", "T"},
	    {"{\"v\":\"false\"}", "T"},
	    {"{\"v\":[0]}", "T"},
	    {"{\"v\":{\"a\":null}}", "T"},
	};
	tmpl_set *s = one("{{#if v}}T{{else}}F{{/if}}");
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		char *got = render(s, "t", rows[i].json);
		if (strcmp(got, rows[i].want) != 0)
			fail_msg("%s gave %s, want %s", rows[i].json, got, rows[i].want);
		free(got);
	}
	tmpl_set_free(s);
}

static void escaping_text_and_attributes(void **state)
{
	(void)state;
	const char *data = "{\"x\":\"<script>alert(1)</script> \\\"q\\\" 'a' & b\"}";
	EXPECT("<p>{{x}}</p>", data,
	       "<p>&lt;script&gt;alert(1)&lt;/script&gt; &quot;q&quot; &#39;a&#39; &amp; b</p>");
	EXPECT("<p title=\"{{x}}\" data-v='{{x}}'>", data,
	       "<p title=\"&lt;script&gt;alert(1)&lt;/script&gt; &quot;q&quot; &#39;a&#39; &amp; "
	       "b\" data-v='&lt;script&gt;alert(1)&lt;/script&gt; &quot;q&quot; &#39;a&#39; "
	       "&amp; b'>");
	/* <title> and <textarea> content is escaped text */
	EXPECT("<title>{{x}}</title><textarea name=\"a\">{{x}}</textarea>", "{\"x\":\"</title>\"}",
	       "<title>&lt;/title&gt;</title><textarea name=\"a\">&lt;/title&gt;</textarea>");
	/* raw inserts as is, in element text only */
	EXPECT("<div>{{ raw h }}</div>", "{\"h\":\"<b>bold</b> &amp;\"}",
	       "<div><b>bold</b> &amp;</div>");
	/* text after a script element is element text again */
	EXPECT("<script>if (a < b) {}</script><p>{{x}}</p>", "{\"x\":\"<\"}",
	       "<script>if (a < b) {}</script><p>&lt;</p>");
	/* tmpl_escape_html directly */
	buf b;
	buf_init(&b, 64);
	assert_int_equal(tmpl_escape_html(&b, "a<b>&\"'c", 9), YZ_OK);
	assert_string_equal(buf_str(&b), "a&lt;b&gt;&amp;&quot;&#39;c");
	buf_free(&b);
	buf_init(&b, 8);
	assert_int_equal(tmpl_escape_html(&b, "<<<", 3), YZ_ETOOBIG);
	buf_free(&b);
}

static void url_attributes(void **state)
{
	(void)state;
	static const struct {
		const char *json;
		const char *want;
	} rows[] = {
	    {"{\"u\":\"javascript:alert(1)\"}", "<a href=\"#unsafe-url\">"},
	    {"{\"u\":\"JAVASCRIPT:alert(1)\"}", "<a href=\"#unsafe-url\">"},
	    {"{\"u\":\"  \\u0001\\tjavascript:alert(1)\"}", "<a href=\"#unsafe-url\">"},
	    {"{\"u\":\"java\\tscr\\nipt:alert(1)\"}", "<a href=\"#unsafe-url\">"},
	    {"{\"u\":\"JaVaScRiPt:alert(1)\"}", "<a href=\"#unsafe-url\">"},
	    {"{\"u\":\"vbscript:x\"}", "<a href=\"#unsafe-url\">"},
	    {"{\"u\":\"data:text/html,<script>\"}", "<a href=\"#unsafe-url\">"},
	    {"{\"u\":\"https://x/?a=1&b=2\"}", "<a href=\"https://x/?a=1&amp;b=2\">"},
	    {"{\"u\":\"HTTP://x/\"}", "<a href=\"HTTP://x/\">"},
	    {"{\"u\":\"mailto:a@b.cn\"}", "<a href=\"mailto:a@b.cn\">"},
	    {"{\"u\":\"tel:+86-851-1234\"}", "<a href=\"tel:+86-851-1234\">"},
	    {"{\"u\":\"/cases/7?x=\\\"y\\\"\"}", "<a href=\"/cases/7?x=&quot;y&quot;\">"},
	    {"{\"u\":\"a/b:c\"}", "<a href=\"a/b:c\">"},
	    {"{\"u\":\"#top\"}", "<a href=\"#top\">"},
	    {"{\"u\":\"\"}", "<a href=\"\">"},
	};
	tmpl_set *s = one("<a href=\"{{u}}\">");
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		char *got = render(s, "t", rows[i].json);
		if (strcmp(got, rows[i].want) != 0)
			fail_msg("%s gave %s, want %s", rows[i].json, got, rows[i].want);
		free(got);
	}
	tmpl_set_free(s);
	/* later in the attribute: percent-encoded as a URL component */
	EXPECT("<a href=\"/s?q={{q}}&amp;p={{p}}\">", "{\"q\":\"贵阳 &x\",\"p\":\"a/b?c=d#e\"}",
	       "<a href=\"/s?q=%E8%B4%B5%E9%98%B3%20%26x&amp;p=a%2Fb%3Fc%3Dd%23e\">");
	EXPECT("<a href='/u/{{id}}'>", "{\"id\":\"javascript:x\"}", "<a href='/u/javascript%3Ax'>");
	/* leading white space in the literal still counts as the start */
	EXPECT("<img src=\" {{u}}\" alt=\"{{u}}\">", "{\"u\":\"javascript:1\"}",
	       "<img src=\" #unsafe-url\" alt=\"javascript:1\">");
	/* a second value in the same attribute is not at the start */
	EXPECT("<form action=\"{{a}}{{b}}\">", "{\"a\":\"/x/\",\"b\":\"y z\"}",
	       "<form action=\"/x/y%20z\">");
	/* messages in URL attributes are checked too */
	EXPECT("<a href=\"{{t \"k\"}}\">", "{}", "<a href=\"k\">");
}

static void messages(void **state)
{
	(void)state;
	tmpl_set *s = tmpl_set_new();
	yz_err e = {0};
	const char *src = "<h1>{{t \"login.title\"}}</h1><p title=\"{{t \"login.hint\"}}\">"
	                  "{{t key}}|{{t \"nope.x\"}}|{{t num}}</p>";
	assert_int_equal(tmpl_set_add(s, "t", src, strlen(src), &e), YZ_OK);
	json_t *zh =
	    parse("{\"login\":{\"title\":\"登录\",\"hint\":\"<提示>\"},\"a\":{\"b\":{\"c\":"
	          "\"深\"}}}");
	json_t *en = parse("{\"login\":{\"title\":\"Sign in\"}}");
	assert_int_equal(tmpl_set_messages(s, "zh-CN", zh, &e), YZ_OK);
	assert_int_equal(tmpl_set_messages(s, "en", en, &e), YZ_OK);
	/* not stolen */
	assert_int_equal(zh->refcount, 1);
	json_decref(zh);
	json_decref(en);
	assert_int_equal(tmpl_set_link(s, &e), YZ_OK);
	const char *data = "{\"key\":\"a.b.c\",\"num\":5}";
	char *got = render_lang(s, "t", data, "zh-CN");
	assert_string_equal(got, "<h1>登录</h1><p title=\"&lt;提示&gt;\">深|nope.x|</p>");
	free(got);
	/* en lacks login.hint and a.b.c: falls back to the first table added */
	got = render_lang(s, "t", data, "en");
	assert_string_equal(got, "<h1>Sign in</h1><p title=\"&lt;提示&gt;\">深|nope.x|</p>");
	free(got);
	/* unknown language and no language: the first table */
	got = render_lang(s, "t", data, "fr");
	assert_string_equal(got, "<h1>登录</h1><p title=\"&lt;提示&gt;\">深|nope.x|</p>");
	free(got);
	assert_string_equal(tmpl_message(s, "en", "login.title"), "Sign in");
	assert_string_equal(tmpl_message(s, "en", "a.b.c"), "深");
	assert_string_equal(tmpl_message(s, NULL, "login.title"), "登录");
	assert_string_equal(tmpl_message(s, "zh-CN", "missing.key"), "missing.key");
	/* replacing a language keeps its place as the first */
	json_t *zh2 = parse("{\"login\":{\"title\":\"登入\"}}");
	assert_int_equal(tmpl_set_messages(s, "zh-CN", zh2, &e), YZ_OK);
	json_decref(zh2);
	assert_string_equal(tmpl_message(s, "fr", "login.title"), "登入");
	assert_string_equal(tmpl_message(s, "fr", "login.hint"), "login.hint");
	/* non-string leaves are refused */
	json_t *bad = parse("{\"a\":{\"n\":1}}");
	assert_int_equal(tmpl_set_messages(s, "de", bad, &e), YZ_EINVAL);
	assert_non_null(strstr(e.msg, "a.n"));
	json_decref(bad);
	assert_string_equal(tmpl_message(s, "de", "a.n"), "a.n");
	tmpl_set_free(s);

	/* no tables at all: the key itself */
	s = one("{{t \"x.y\"}}");
	got = render_lang(s, "t", "{}", "zh-CN");
	assert_string_equal(got, "x.y");
	free(got);
	tmpl_set_free(s);
}

static void contexts_across_sections(void **state)
{
	(void)state;
	/* a branch may add an attribute */
	EXPECT("<input type=\"checkbox\"{{#if c}} checked{{/if}}>{{#if c}}<b>{{/if}}x",
	       "{\"c\":true}", "<input type=\"checkbox\" checked><b>x");
	EXPECT("<input {{#if c}}checked{{/if}}><p class=\"a {{#if c}}on{{else}}off{{/if}}\">",
	       "{\"c\":false}", "<input ><p class=\"a off\">");
	EXPECT("<a {{#if u}}href=\"{{u}}\"{{else}}aria-disabled=\"true\"{{/if}}>",
	       "{\"u\":\"javascript:x\"}", "<a href=\"#unsafe-url\">");
	EXPECT("<ul>{{#each xs}}<li class=\"{{#if @first}}first{{/if}}\">{{.}}</li>{{/each}}</ul>",
	       "{\"xs\":[1,2]}", "<ul><li class=\"first\">1</li><li class=\"\">2</li></ul>");
	/* script end tags are found case-insensitively */
	EXPECT("<script>var a = '</scriptx>';</SCRIPT >{{x}}<style>p{}</Style>{{x}}",
	       "{\"x\":\"&\"}",
	       "<script>var a = '</scriptx>';</SCRIPT >&amp;<style>p{}</Style>&amp;");
	EXPECT("<!DOCTYPE html><!-- c --><!----><p>{{x}}</p>", "{\"x\":1}",
	       "<!DOCTYPE html><!-- c --><!----><p>1</p>");
	EXPECT("a < b {{x}} <3", "{\"x\":2}", "a < b 2 <3");
}

static void compile_errors(void **state)
{
	(void)state;
	/* values where escaping cannot be right */
	compile_error("<div {{x}}>", "value inside a tag");
	compile_error("<div class=x {{x}}>", "value inside a tag");
	compile_error("<{{x}}>", "value inside a tag");
	compile_error("<div data-{{x}}=\"1\">", "value inside a tag");
	compile_error("<input value={{x}}>", "unquoted attribute value");
	compile_error("<input value=a{{x}}>", "unquoted attribute value");
	compile_error("<button onclick=\"go('{{x}}')\">", "event-handler attribute 'onclick'");
	compile_error("<body ONLOAD=\"{{x}}\">", "event-handler attribute 'onload'");
	compile_error("<p style=\"color: {{c}}\">", "style attribute");
	compile_error("<img srcset=\"{{u}} 2x\">", "srcset");
	compile_error("<iframe srcdoc=\"{{h}}\">", "srcdoc");
	compile_error("<script>var x = {{x}};</script>", "value inside <script>");
	compile_error("<script>var x = \"</scrip>{{x}}\";</script>", "value inside <script>");
	compile_error("<style>p { color: {{c}} }</style>", "value inside <style>");
	compile_error("<!-- {{x}} -->", "value inside an HTML comment");
	compile_error("<!DOCTYPE {{x}}>", "markup declaration");
	compile_error("<script>{{t \"k\"}}</script>", "value inside <script>");
	/* raw only in element text */
	compile_error("<a title=\"{{raw x}}\">", "raw is allowed in element text only");
	compile_error("<a href=\"{{raw x}}\">", "raw is allowed in element text only");
	compile_error("<title>{{raw x}}</title>", "raw is allowed in element text only");
	/* sections */
	compile_error("{{#if a}}x", "{{#if}} opened at 1:1 is not closed");
	compile_error("{{#if a}}{{#each b}}{{/if}}{{/each}}",
	              "{{/if}} closes {{#each}} opened at 1:10");
	compile_error("x{{/if}}", "{{/if}} without an open section");
	compile_error("{{else}}", "{{else}} outside a section");
	compile_error("{{#if a}}{{else}}{{else}}{{/if}}", "second {{else}}");
	compile_error("{{#loop a}}{{/loop}}", "unknown section '#loop'");
	compile_error("{{#if}}{{/if}}", "{{#if}} needs a value");
	/* branches must meet in the same HTML context */
	compile_error("{{#if a}}<b{{else}}<i>{{/if}}", "end in different HTML contexts");
	compile_error("{{#if a}}<p title=\"{{/if}}x\">", "end in different HTML contexts");
	compile_error("{{#if a}}<!--{{/if}}-->", "end in different HTML contexts");
	compile_error("<a {{#if x}}on{{/if}}click=\"{{y}}\">", "continues across a section");
	compile_error("<p>{{#each xs}}<li{{/each}}>", "the body of {{#each}}");
	compile_error("<a {{#if x}}href{{else}}title{{/if}}=\"{{u}}\">", "'=' where");
	/* blocks, extends, partials, slots */
	compile_error("{{#block \"main\"}}x{{/block}}",
	              "{{#block}} outside a template that extends");
	compile_error("<p>x</p>{{extends \"layouts/a\"}}", "must come first");
	compile_error("{{extends \"l\"}}text{{#block \"a\"}}{{/block}}", "text outside {{#block}}");
	compile_error("{{extends \"l\"}}{{x}}", "only {{#block}} sections");
	compile_error("{{extends \"l\"}}{{#block \"a\"}}{{/block}}{{#block \"a\"}}{{/block}}",
	              "defined twice");
	compile_error("{{extends \"l\"}}{{#block \"a\"}}<p{{/block}}", "block \"a\" ends inside");
	compile_error("<a title=\"{{> partials/x}}\">", "a partial inside");
	compile_error("<p class=\"{{slot \"x\"}}\">", "a slot inside");
	compile_error("{{> ../etc/passwd}}", "malformed partial name");
	/* names and syntax */
	compile_error("{{../x}}", "'..' is not supported");
	compile_error("{{a..b}}", "malformed name");
	compile_error("{{a b}}", "malformed name");
	compile_error("{{{x}}}", "malformed name");
	compile_error("{{@nope}}", "unknown variable '@nope'");
	compile_error("{{ }}", "empty {{ }}");
	compile_error("ok {{x", "{{ is not closed");
	compile_error("<p", "template ends inside a tag");
	compile_error("<script>", "template ends inside <script>");
	compile_error("<div =\"x\">", "'=' where");
	/* line and column are those of the offending {{ (columns in characters) */
	compile_error("<p>\n  贵阳 <b {{x}}>", "t:2:9: value inside a tag");
	/* nesting limit */
	buf deep;
	buf_init(&deep, 4096);
	for (int i = 0; i < 33; i++)
		assert_int_equal(buf_puts(&deep, "{{#if a}}"), YZ_OK);
	for (int i = 0; i < 33; i++)
		assert_int_equal(buf_puts(&deep, "{{/if}}"), YZ_OK);
	compile_error(buf_str(&deep), "nested deeper than 32");
	buf_reset(&deep);
	for (int i = 0; i < 32; i++)
		assert_int_equal(buf_puts(&deep, "{{#if a}}"), YZ_OK);
	assert_int_equal(buf_puts(&deep, "x"), YZ_OK);
	for (int i = 0; i < 32; i++)
		assert_int_equal(buf_puts(&deep, "{{/if}}"), YZ_OK);
	EXPECT(buf_str(&deep), "{\"a\":1}", "x");
	buf_free(&deep);
}

static void size_and_name_limits(void **state)
{
	(void)state;
	tmpl_set *s = tmpl_set_new();
	yz_err e = {0};
	size_t n = (1u << 20) + 1;
	char *big = malloc(n);
	memset(big, 'a', n);
	assert_int_equal(tmpl_set_add(s, "big", big, n, &e), YZ_ETOOBIG);
	assert_int_equal(tmpl_set_add(s, "big", big, n - 1, &e), YZ_OK);
	free(big);
	assert_int_equal(tmpl_set_add(s, "big", "x", 1, &e), YZ_EINVAL);
	assert_non_null(strstr(e.msg, "twice"));
	assert_int_equal(tmpl_set_add(s, "../x", "x", 1, &e), YZ_EINVAL);
	assert_int_equal(tmpl_set_add(s, "", "x", 1, &e), YZ_EINVAL);
	assert_int_equal(tmpl_set_add(s, "empty", "", 0, &e), YZ_OK);
	assert_true(tmpl_set_has(s, "big"));
	assert_true(tmpl_set_has(s, "empty"));
	assert_false(tmpl_set_has(s, "nope"));
	tmpl_set_free(s);
}

static void link_errors(void **state)
{
	(void)state;
	static const struct {
		const char *srcs[3]; /* "name=source" */
		const char *want;
	} rows[] = {
	    {{"pages/a=<p>{{> partials/nav }}</p>"}, "pages/a:1:4: unknown partial 'partials/nav'"},
	    {{"pages/a={{extends \"layouts/x\"}}"}, "pages/a:1:1: unknown layout 'layouts/x'"},
	    {{"p=x{{> q}}", "q={{extends \"l\"}}", "l=y"}, "partial 'q' extends a layout"},
	    {{"a={{extends \"b\"}}", "b={{extends \"a\"}}"}, "in a cycle"},
	    {{"p={{extends \"l\"}}{{#block \"mian\"}}x{{/block}}",
	      "l=<main>{{slot \"main\"}}</main>"},
	     "p:1:16: block \"mian\" has no {{ slot }} in layout 'l'"},
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		tmpl_set *s = tmpl_set_new();
		yz_err e = {0};
		for (int j = 0; j < 3 && rows[i].srcs[j]; j++) {
			const char *eq = strchr(rows[i].srcs[j], '=');
			char name[32];
			snprintf(name, sizeof name, "%.*s", (int)(eq - rows[i].srcs[j]),
			         rows[i].srcs[j]);
			assert_int_equal(tmpl_set_add(s, name, eq + 1, strlen(eq + 1), &e), YZ_OK);
		}
		assert_int_equal(tmpl_set_link(s, &e), YZ_EINVAL);
		if (!strstr(e.msg, rows[i].want))
			fail_msg("link message \"%s\" lacks \"%s\"", e.msg, rows[i].want);
		/* an unlinked set does not render */
		buf b;
		buf_init(&b, 1024);
		assert_int_equal(tmpl_render(s, "p", NULL, NULL, &b, &e), YZ_EINVAL);
		buf_free(&b);
		tmpl_set_free(s);
	}
}

static tmpl_set *set_of(const char *const *pairs)
{
	tmpl_set *s = tmpl_set_new();
	yz_err e = {0};
	for (int i = 0; pairs[i]; i += 2)
		if (tmpl_set_add(s, pairs[i], pairs[i + 1], strlen(pairs[i + 1]), &e) != YZ_OK)
			fail_msg("add %s: %s", pairs[i], e.msg);
	if (tmpl_set_link(s, &e) != YZ_OK)
		fail_msg("link: %s", e.msg);
	return s;
}

static void layouts(void **state)
{
	(void)state;
	const char *const pairs[] = {
	    "layouts/base",
	    "<html><head><title>{{slot \"title\"}}</title></head><body>{{> partials/nav}}"
	    "<main>{{slot \"main\"}}</main><aside>{{slot \"aside\"}}</aside></body></html>",
	    "partials/nav",
	    "<nav>{{user}}</nav>",
	    "pages/home",
	    "{{! the home page }}\n{{ extends \"layouts/base\" }}\n"
	    "{{#block \"title\"}}首页 & {{city}}{{/block}}\n"
	    "{{#block \"main\"}}<h1>{{city}}</h1>{{#each xs}}<i>{{.}}</i>{{/each}}{{/block}}\n",
	    /* a layout that itself extends */
	    "layouts/work",
	    "{{extends \"layouts/base\"}}{{#block \"main\"}}<div class=\"wb\">{{slot \"content\"}}"
	    "</div>{{/block}}{{#block \"title\"}}{{slot \"title\"}} — 工作台{{/block}}",
	    "pages/cases",
	    "{{extends \"layouts/work\"}}{{#block \"title\"}}案件{{/block}}"
	    "{{#block \"content\"}}<table>{{n}}</table>{{/block}}"
	    "{{#block \"aside\"}}help{{/block}}",
	    NULL,
	};
	tmpl_set *s = set_of(pairs);
	char *got = render(s, "pages/home", "{\"city\":\"<贵阳>\",\"user\":\"u1\",\"xs\":[1,2]}");
	assert_string_equal(got, "<html><head><title>首页 & &lt;贵阳&gt;</title></head><body>"
	                         "<nav>u1</nav><main><h1>&lt;贵阳&gt;</h1><i>1</i><i>2</i></main>"
	                         "<aside></aside></body></html>");
	free(got);
	got = render(s, "pages/cases", "{\"n\":3,\"user\":\"u2\"}");
	assert_string_equal(got,
	                    "<html><head><title>案件 — 工作台</title></head><body>"
	                    "<nav>u2</nav><main><div class=\"wb\"><table>3</table></div></main>"
	                    "<aside>help</aside></body></html>");
	free(got);
	/* a layout rendered directly has empty slots */
	got = render(s, "layouts/base", "{\"user\":\"u\"}");
	assert_string_equal(got, "<html><head><title></title></head><body><nav>u</nav><main>"
	                         "</main><aside></aside></body></html>");
	free(got);
	tmpl_set_free(s);
}

static void partials_and_depth(void **state)
{
	(void)state;
	const char *const pairs[] = {
	    "tree",
	    "<ul>{{#each kids}}<li>{{name}}{{#if kids}}{{> tree}}{{/if}}</li>{{/each}}</ul>",
	    "loop",
	    "x{{> loop}}",
	    "card",
	    "<div class=\"card\" title=\"{{title}}\">{{#with body}}{{text}}{{/with}}</div>",
	    "page",
	    "{{#each cards}}{{> card}}{{/each}}",
	    NULL,
	};
	tmpl_set *s = set_of(pairs);
	char *got = render(s, "page",
	                   "{\"cards\":[{\"title\":\"a\\\"\",\"body\":{\"text\":\"<x>\"}},"
	                   "{\"title\":\"b\"}]}");
	assert_string_equal(got, "<div class=\"card\" title=\"a&quot;\">&lt;x&gt;</div>"
	                         "<div class=\"card\" title=\"b\"></div>");
	free(got);
	/* recursion within the limit: the top template plus 8 nested partials */
	buf ok;
	buf_init(&ok, 1024);
	for (int i = 1; i <= 9; i++)
		assert_int_equal(buf_printf(&ok, "{\"name\":\"%d\",\"kids\":[", i), YZ_OK);
	for (int i = 1; i <= 9; i++)
		assert_int_equal(buf_puts(&ok, "]}"), YZ_OK);
	/* the outer object is the data: {"kids":[ ...9 levels... ]} */
	char *okjson = NULL;
	assert_true(asprintf(&okjson, "{\"kids\":[%s]}", buf_str(&ok)) > 0);
	buf_free(&ok);
	got = render(s, "tree", okjson);
	free(okjson);
	assert_string_equal(got, "<ul><li>1<ul><li>2<ul><li>3<ul><li>4<ul><li>5<ul><li>6<ul><li>7"
	                         "<ul><li>8<ul><li>9</li></ul></li></ul></li></ul></li></ul></li>"
	                         "</ul></li></ul></li></ul></li></ul></li></ul>");
	free(got);
	buf b;
	buf_init(&b, OUT_MAX);
	yz_err e = {0};
	assert_int_equal(buf_puts(&b, "keep"), YZ_OK);
	assert_int_equal(tmpl_render(s, "loop", NULL, NULL, &b, &e), YZ_ETOOBIG);
	assert_non_null(strstr(e.msg, "partials nested deeper than 8"));
	/* a failed render leaves the buffer as it was */
	assert_string_equal(buf_str(&b), "keep");
	buf_free(&b);
	tmpl_set_free(s);
}

static void output_limit_and_unknown(void **state)
{
	(void)state;
	tmpl_set *s = one("{{#each xs}}<p>{{.}}</p>{{/each}}");
	json_t *d = parse("{\"xs\":[\"aaaa\",\"bbbb\",\"cccc\"]}");
	buf b;
	yz_err e = {0};
	/* 3 * 11 bytes: one short fails and leaves nothing behind */
	buf_init(&b, 32);
	assert_int_equal(tmpl_render(s, "t", d, NULL, &b, &e), YZ_ETOOBIG);
	assert_int_equal(e.code, YZ_ETOOBIG);
	assert_int_equal(b.len, 0);
	buf_free(&b);
	/* exactly at the limit succeeds */
	buf_init(&b, 33);
	assert_int_equal(tmpl_render(s, "t", d, NULL, &b, &e), YZ_OK);
	assert_int_equal(b.len, 33);
	buf_free(&b);
	/* escaping counts against the limit too */
	json_t *d3 = parse("{\"xs\":[\"<<<<\"]}");
	buf_init(&b, 20);
	assert_int_equal(tmpl_render(s, "t", d3, NULL, &b, &e), YZ_ETOOBIG);
	buf_free(&b);
	/* loops that write nothing are bounded by a step budget */
	tmpl_set *s2 = one("{{#each xs}}{{#each xs}}{{#each xs}}{{#if no}}x{{/if}}{{/each}}"
	                   "{{/each}}{{/each}}");
	buf_init(&b, 1024);
	buf big;
	buf_init(&big, 4096);
	assert_int_equal(buf_puts(&big, "{\"xs\":[0"), YZ_OK);
	for (int i = 1; i < 200; i++)
		assert_int_equal(buf_printf(&big, ",%d", i), YZ_OK);
	assert_int_equal(buf_puts(&big, "]}"), YZ_OK);
	json_t *d4 = parse(buf_str(&big));
	assert_int_equal(tmpl_render(s2, "t", d4, NULL, &b, &e), YZ_ETOOBIG);
	assert_non_null(strstr(e.msg, "step limit"));
	buf_free(&b);
	buf_free(&big);
	json_decref(d4);
	tmpl_set_free(s2);
	buf_init(&b, 64);
	assert_int_equal(tmpl_render(s, "nope", d, NULL, &b, &e), YZ_EINVAL);
	assert_non_null(strstr(e.msg, "nope"));
	buf_free(&b);
	json_decref(d);
	json_decref(d3);
	tmpl_set_free(s);
}

static void write_file(const char *dir, const char *rel, const char *text)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, rel);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void load_dir(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_tmpl_XXXXXX";
	assert_non_null(mkdtemp(dir));
	char sub[600];
	const char *subs[] = {"pages", "layouts", "partials", ".git"};
	for (size_t i = 0; i < 4; i++) {
		snprintf(sub, sizeof sub, "%s/%s", dir, subs[i]);
		assert_int_equal(mkdir(sub, 0700), 0);
	}
	write_file(dir, "layouts/base.html", "<body>{{slot \"main\"}}</body>\n");
	write_file(dir, "partials/hello.html", "<p>你好 {{name}}</p>");
	write_file(dir, "pages/home.html",
	           "{{extends \"layouts/base\"}}{{#block \"main\"}}{{> partials/hello}}{{/block}}");
	write_file(dir, "pages/notes.txt", "{{ not a template");
	write_file(dir, ".git/x.html", "{{ ignored");
	tmpl_set *s = tmpl_set_new();
	yz_err e = {0};
	if (tmpl_set_load_dir(s, dir, &e) != YZ_OK)
		fail_msg("load_dir: %s", e.msg);
	assert_int_equal(tmpl_set_link(s, &e), YZ_OK);
	assert_true(tmpl_set_has(s, "pages/home"));
	assert_true(tmpl_set_has(s, "layouts/base"));
	assert_true(tmpl_set_has(s, "partials/hello"));
	assert_false(tmpl_set_has(s, "pages/notes"));
	assert_false(tmpl_set_has(s, ".git/x"));
	char *got = render(s, "pages/home", "{\"name\":\"<市民>\"}");
	assert_string_equal(got, "<body><p>你好 &lt;市民&gt;</p></body>\n");
	free(got);
	tmpl_set_free(s);

	/* a broken file names itself, with line and column */
	write_file(dir, "pages/bad.html", "<p>\n<a onclick=\"{{x}}\">");
	s = tmpl_set_new();
	assert_int_equal(tmpl_set_load_dir(s, dir, &e), YZ_EINVAL);
	assert_non_null(strstr(e.msg, "pages/bad:2:13: value in event-handler attribute"));
	tmpl_set_free(s);
	s = tmpl_set_new();
	char missing[600];
	snprintf(missing, sizeof missing, "%s/none", dir);
	assert_int_equal(tmpl_set_load_dir(s, missing, &e), YZ_EIO);
	tmpl_set_free(s);

	const char *files[] = {"layouts/base.html", "partials/hello.html", "pages/home.html",
	                       "pages/notes.txt",   ".git/x.html",         "pages/bad.html"};
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(sub, sizeof sub, "%s/%s", dir, files[i]);
		assert_int_equal(unlink(sub), 0);
	}
	for (size_t i = 0; i < 4; i++) {
		snprintf(sub, sizeof sub, "%s/%s", dir, subs[i]);
		assert_int_equal(rmdir(sub), 0);
	}
	assert_int_equal(rmdir(dir), 0);
}

typedef struct job {
	const tmpl_set *s;
	json_t *data;
	const char *want;
	int bad;
} job;

static void *worker(void *arg)
{
	job *j = arg;
	buf b;
	buf_init(&b, OUT_MAX);
	for (int i = 0; i < 1000; i++) {
		buf_reset(&b);
		if (tmpl_render(j->s, "pages/cases", j->data, "zh", &b, NULL) != YZ_OK ||
		    strcmp(buf_str(&b), j->want) != 0)
			j->bad++;
	}
	buf_free(&b);
	return NULL;
}

static void concurrent_renders(void **state)
{
	(void)state;
	const char *const pairs[] = {
	    "layouts/base",
	    "<title>{{slot \"title\"}}</title><main>{{slot \"main\"}}</main>",
	    "partials/row",
	    "<tr><td>{{@number}}</td><td>{{t \"status\"}}</td><td><a "
	    "href=\"/c/{{id}}\">{{title}}</a>"
	    "</td></tr>",
	    "pages/cases",
	    "{{extends \"layouts/base\"}}{{#block \"title\"}}{{t \"cases\"}}{{/block}}"
	    "{{#block \"main\"}}<table>{{#each cases}}{{> partials/row}}{{else}}none{{/each}}"
	    "</table>{{/block}}",
	    NULL,
	};
	tmpl_set *s = tmpl_set_new();
	yz_err e = {0};
	for (int i = 0; pairs[i]; i += 2)
		assert_int_equal(tmpl_set_add(s, pairs[i], pairs[i + 1], strlen(pairs[i + 1]), &e),
		                 YZ_OK);
	json_t *msgs = parse("{\"cases\":\"案件\",\"status\":\"办理中\"}");
	assert_int_equal(tmpl_set_messages(s, "zh", msgs, &e), YZ_OK);
	json_decref(msgs);
	assert_int_equal(tmpl_set_link(s, &e), YZ_OK);
	json_t *data = parse("{\"cases\":[{\"id\":\"a b\",\"title\":\"<1>\"},{\"id\":2,\"title\":"
	                     "\"二\"},{\"id\":3,\"title\":\"&\"}]}");
	buf b;
	buf_init(&b, OUT_MAX);
	assert_int_equal(tmpl_render(s, "pages/cases", data, "zh", &b, &e), YZ_OK);
	char *want = buf_take(&b, NULL);
	assert_string_equal(want,
	                    "<title>案件</title><main><table>"
	                    "<tr><td>1</td><td>办理中</td><td><a href=\"/c/a%20b\">&lt;1&gt;"
	                    "</a></td></tr>"
	                    "<tr><td>2</td><td>办理中</td><td><a href=\"/c/2\">二</a></td></tr>"
	                    "<tr><td>3</td><td>办理中</td><td><a href=\"/c/3\">&amp;</a></td>"
	                    "</tr></table></main>");
	pthread_t th[4];
	job jobs[4];
	for (int i = 0; i < 4; i++) {
		jobs[i] = (job){s, data, want, 0};
		assert_int_equal(pthread_create(&th[i], NULL, worker, &jobs[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(jobs[i].bad, 0);
	}
	free(want);
	json_decref(data);
	tmpl_set_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(values_and_scalars),
	    cmocka_unit_test(lookup_walks_outward),
	    cmocka_unit_test(each_variables),
	    cmocka_unit_test(else_branches),
	    cmocka_unit_test(truthiness_table),
	    cmocka_unit_test(escaping_text_and_attributes),
	    cmocka_unit_test(url_attributes),
	    cmocka_unit_test(messages),
	    cmocka_unit_test(contexts_across_sections),
	    cmocka_unit_test(compile_errors),
	    cmocka_unit_test(size_and_name_limits),
	    cmocka_unit_test(link_errors),
	    cmocka_unit_test(layouts),
	    cmocka_unit_test(partials_and_depth),
	    cmocka_unit_test(output_limit_and_unknown),
	    cmocka_unit_test(load_dir),
	    cmocka_unit_test(concurrent_renders),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
