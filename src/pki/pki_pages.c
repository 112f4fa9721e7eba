/*
 * pki_pages.c — helpers the pki's page files share (pki_pages.h).
 */
#include <string.h>

#include "core/clock.h"
#include "core/jx.h"
#include "pki/pki_pages.h"

void pki_page_human_time(json_t *o, const char *key)
{
	const char *iso = jx_str(o, key, NULL);
	int64_t ms;
	if (iso && clock_parse_iso(iso, &ms) == YZ_OK) {
		char t[40];
		clock_format_city_human(ms, t, sizeof t);
		jx_set_str(o, key, t);
	}
}

void pki_page_fill(const char *tmpl, const char *label, const char *got, char *out, size_t cap)
{
	size_t n = 0;
	while (*tmpl && n + 1 < cap) {
		const char *v = NULL;
		if (!strncmp(tmpl, "{label}", 7)) {
			v = label ? label : "";
			tmpl += 7;
		} else if (!strncmp(tmpl, "{got}", 5)) {
			v = got ? got : "";
			tmpl += 5;
		}
		if (v) {
			n += yz_strlcpy(out + n, v, cap - n);
			if (n >= cap)
				n = cap - 1;
			continue;
		}
		out[n++] = *tmpl++;
	}
	out[n] = '\0';
}

json_t *pki_page_refusal(http_req *r, const char *key, const char *got, const char *detail,
                         const char *href)
{
	char text[512];
	pki_page_fill(http_t(r, key), got, got, text, sizeof text);
	json_t *d = json_pack("{s:s, s:[{s:s, s:s}], s:{}}", "message", text, "errors", "href",
	                      href, "text", text, "error_map");
	if (detail)
		jx_set_str(d, "detail", detail);
	return d;
}
