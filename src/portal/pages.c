/*
 * pages.c — the two faces' shells: the public home page of the portal and
 * the civil servants' workbench (待办 area and the navigation built from the
 * module table, the to-do area from the flow inbox), plus the visitor's
 * preferences (age-friendly mode, language).
 */
#include <string.h>

#include "app.h"
#include "core/jx.h"
#include "flow/flow.h"

static yz_status home(http_req *r, yz_err *e)
{
	return http_reply_page(r, 200, "pages/home", json_object(), e);
}

/* The to-do area: the first open tasks of the inbox, most urgent state
 * shown, and the way to the whole inbox. */
static yz_status workbench(http_req *r, yz_err *e)
{
	json_t *d = json_object();
	store_conn *c;
	json_t *box = NULL;
	yz_status st = store_reader(((yz_app *)http_app(r))->db, &c, e);
	if (st == YZ_OK)
		st = flow_inbox(c, http_actor(r), "todo", NULL, 0, 6, &box, e);
	if (st != YZ_OK) {
		json_decref(d);
		return st;
	}
	json_t *items = json_object_get(box, "items");
	size_t i;
	json_t *x;
	json_array_foreach (items, i, x) {
		const char *dl = jx_str(x, "deadline", NULL);
		if (dl) {
			char key[48];
			snprintf(key, sizeof key, "deadline.%s", dl);
			jx_set_str(x, "deadline_label", key);
		}
	}
	json_object_set(d, "todo", items);
	jx_set_bool(d, "more", !json_is_null(json_object_get(box, "next")));
	json_decref(box);
	jx_set_bool(d, "can_workbench", http_can(r, "workbench.use"));
	return http_reply_page(r, 200, "pages/workbench", d, e);
}

/* Where to go back to after changing a preference: a local page, else home. */
static const char *back(http_req *r, const form *f)
{
	const char *to = form_get(f, "back");
	if (!to || to[0] != '/' || to[1] == '/' || to[1] == '\\')
		return "/";
	(void)r;
	return to;
}

static yz_status pref_elder(http_req *r, yz_err *e)
{
	const form *f;
	yz_status st = http_form(r, &f, e);
	if (st != YZ_OK)
		return st;
	const char *on = form_get(f, "on");
	bool enable = on && !strcmp(on, "1");
	st = http_set_cookie(r, "yz_elder", enable ? "1" : "0", 365L * 86400, true);
	if (st != YZ_OK)
		return yz_fail(e, st, "could not save the preference");
	http_redirect(r, back(r, f));
	return YZ_OK;
}

static yz_status pref_lang(http_req *r, yz_err *e)
{
	const form *f;
	yz_status st = http_form(r, &f, e);
	if (st != YZ_OK)
		return st;
	const char *lang = form_get(f, "lang");
	if (!lang || (strcmp(lang, "zh-CN") && strcmp(lang, "en")))
		return yz_field(e, "lang", "enum", "zh-CN or en", lang);
	st = http_set_cookie(r, "yz_lang", lang, 365L * 86400, true);
	if (st != YZ_OK)
		return yz_fail(e, st, "could not save the preference");
	http_redirect(r, back(r, f));
	return YZ_OK;
}

static const http_route routes[] = {
    {HTTP_GET, "/", home, HTTP_PUBLIC, HTTP_SCOPE_NONE, 0, 0, "The portal's home page"},
    {HTTP_GET, "/workbench", workbench, HTTP_SIGNED_IN, HTTP_SCOPE_NONE, 0, 0,
     "The workbench of civil servants"},
    {HTTP_POST, "/prefs/elder", pref_elder, HTTP_PUBLIC, HTTP_SCOPE_NONE, 0, 4096,
     "Turn the age-friendly mode on or off"},
    {HTTP_POST, "/prefs/lang", pref_lang, HTTP_PUBLIC, HTTP_SCOPE_NONE, 0, 4096,
     "Choose the page language"},
};

static const http_nav nav[] = {
    {"workbench", "nav.workbench", "/workbench", HTTP_SIGNED_IN, 10},
    {"workbench", "nav.password", "/account/password", HTTP_SIGNED_IN, 90},
};

yz_status portal_routes(yz_app *app, yz_err *e)
{
	yz_status st =
	    http_routes_add(app->http, routes, (int)(sizeof routes / sizeof routes[0]), e);
	if (st == YZ_OK)
		http_add_nav(app->http, nav, (int)(sizeof nav / sizeof nav[0]));
	return st;
}
