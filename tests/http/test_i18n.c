/* The message tables: zh-CN and en hold the same keys, every literal
 * {{ t "key" }} in the templates exists in both, and the real template set
 * compiles and links with them. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/tmpl.h"
#include "testutil.h"

static void flatten(json_t *o, const char *prefix, json_t *out)
{
	const char *k;
	json_t *v;
	json_object_foreach (o, k, v) {
		char key[256];
		snprintf(key, sizeof key, "%s%s%s", prefix, prefix[0] ? "." : "", k);
		if (json_is_object(v))
			flatten(v, key, out);
		else
			json_object_set(out, key, v);
	}
}

static json_t *table(const char *lang)
{
	char path[512];
	snprintf(path, sizeof path, "web/i18n/%s.json", lang);
	json_error_t je;
	json_t *t = json_load_file(tu_src(path), 0, &je);
	if (!t)
		fail_msg("%s: %s", path, je.text);
	json_t *flat = json_object();
	flatten(t, "", flat);
	json_decref(t);
	return flat;
}

static void same_keys(void **state)
{
	(void)state;
	json_t *zh = table("zh-CN"), *en = table("en");
	const char *k;
	json_t *v;
	int missing = 0;
	json_object_foreach (zh, k, v)
		if (!json_object_get(en, k)) {
			print_error("en lacks %s\n", k);
			missing++;
		}
	json_object_foreach (en, k, v)
		if (!json_object_get(zh, k)) {
			print_error("zh-CN lacks %s\n", k);
			missing++;
		}
	assert_int_equal(missing, 0);
	assert_true(json_object_size(zh) > 100);
	json_decref(zh);
	json_decref(en);
}

/* Every {{ t "literal" }} in every template file. */
static int check_dir(const char *dir, json_t *zh, json_t *en)
{
	int missing = 0;
	DIR *d = opendir(dir);
	assert_non_null(d);
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		char path[1024];
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if (!strstr(de->d_name, ".html")) {
			missing += check_dir(path, zh, en);
			continue;
		}
		FILE *f = fopen(path, "r");
		assert_non_null(f);
		static char text[1 << 20];
		size_t n = fread(text, 1, sizeof text - 1, f);
		fclose(f);
		text[n] = '\0';
		for (char *p = text; (p = strstr(p, "{{ t \"")) != NULL;) {
			p += 6;
			char *end = strchr(p, '"');
			assert_non_null(end);
			char key[256];
			snprintf(key, sizeof key, "%.*s", (int)(end - p), p);
			if (!json_object_get(zh, key) || !json_object_get(en, key)) {
				print_error("%s: message %s is missing\n", path, key);
				missing++;
			}
			p = end;
		}
	}
	closedir(d);
	return missing;
}

static void template_keys_exist(void **state)
{
	(void)state;
	json_t *zh = table("zh-CN"), *en = table("en");
	char dir[512];
	snprintf(dir, sizeof dir, "%s", tu_src("web/templates"));
	assert_int_equal(check_dir(dir, zh, en), 0);
	json_decref(zh);
	json_decref(en);
}

static void templates_link(void **state)
{
	(void)state;
	tmpl_set *s = tmpl_set_new();
	yz_err e = {0};
	char dir[512];
	snprintf(dir, sizeof dir, "%s", tu_src("web/templates"));
	if (tmpl_set_load_dir(s, dir, &e) != YZ_OK || tmpl_set_link(s, &e) != YZ_OK)
		fail_msg("templates: %s", e.msg);
	assert_true(tmpl_set_has(s, "pages/home"));
	assert_true(tmpl_set_has(s, "pages/error"));
	tmpl_set_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(same_keys),
	    cmocka_unit_test(template_keys_exist),
	    cmocka_unit_test(templates_link),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
