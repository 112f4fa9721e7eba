/*
 * pages.c — notify's pages: 消息通知 (one's own in-app notifications, read
 * and unread) in the workbench, and the operator's outbox page (messages by
 * status, failures with their last error, open alerts, retry). Both call the
 * same notify functions as the JSON API.
 */
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "core/clock.h"
#include "core/jx.h"
#include "core/slice.h"
#include "http/http.h"
#include "notify/notify.h"

yz_status notify_api_routes(yz_app *app, yz_err *e);
yz_status notify_routes(yz_app *app, yz_err *e);

static yz_app *app_of(http_req *r)
{
	return http_app(r);
}

static int64_t query_int(http_req *r, const char *name)
{
	const char *v = http_query(r, name);
	int64_t n;
	return v && slice_to_i64(slice_of(v), &n) == YZ_OK && n > 0 ? n : 0;
}

/* Only local paths, never //host or a scheme. */
static const char *safe_next(const char *next, const char *def)
{
	if (!next || next[0] != '/' || next[1] == '/' || next[1] == '\\' || strchr(next, ':'))
		return def;
	return next;
}

/* An ISO time of the API as the page shows it (2026-11-23 12:45). */
static void humanise(json_t *o, const char *key, const char *human_key)
{
	int64_t ms;
	const char *iso = jx_str(o, key, NULL);
	if (iso && clock_parse_iso(iso, &ms) == YZ_OK) {
		char t[32];
		clock_format_city_human(ms, t, sizeof t);
		jx_set_str(o, human_key, t);
	}
}

/* The body's lines as paragraphs (line breaks matter in notices). */
static json_t *lines_of(const char *text)
{
	json_t *a = json_array();
	slice rest = slice_of(text);
	while (rest.n) {
		slice line = slice_trim(slice_cut(&rest, '\n'));
		if (line.n)
			json_array_append_new(a, json_stringn(line.p, line.n));
	}
	return a;
}

/* ---- 消息通知 ---- */

static yz_status inbox_page(http_req *r, yz_err *e)
{
	notify_inbox_filter f = {.before = query_int(r, "before"), .limit = 20};
	const char *unread = http_query(r, "unread");
	f.unread_only = unread && !strcmp(unread, "1");
	store_conn *c;
	json_t *list;
	yz_status st = store_reader(app_of(r)->db, &c, e);
	if (st == YZ_OK)
		st = notify_inbox_list(c, http_user_of(r)->id, &f, &list, e);
	if (st != YZ_OK)
		return st;
	size_t i;
	json_t *it;
	json_array_foreach (json_object_get(list, "items"), i, it) {
		humanise(it, "created_at", "created_human");
		json_object_set_new(it, "lines", lines_of(jx_str(it, "body", "")));
	}
	json_t *d = json_object();
	json_object_set_new(d, "list", list);
	jx_set_bool(d, "unread_only", f.unread_only);
	return http_reply_page(r, 200, "pages/notifications", d, e);
}

static yz_status inbox_read_post(http_req *r, yz_err *e)
{
	int64_t id;
	const form *f;
	yz_status st = http_param_id(r, "id", &id, e);
	if (st == YZ_OK)
		st = http_form(r, &f, e);
	if (st == YZ_OK)
		st = notify_mark_read(app_of(r)->db, http_actor(r), id, e);
	if (st != YZ_OK)
		return st;
	const char *next = safe_next(form_get(f, "next"), "/notifications");
	if (!strcmp(next, "/notifications") || !strncmp(next, "/notifications?", 15))
		http_flash(r, "flash.notification_read");
	http_redirect(r, next);
	return YZ_OK;
}

static yz_status inbox_read_all_post(http_req *r, yz_err *e)
{
	int64_t n = 0;
	yz_status st = notify_mark_all_read(app_of(r)->db, http_actor(r), &n, e);
	if (st != YZ_OK)
		return st;
	http_flash(r, "flash.notifications_read");
	http_redirect(r, "/notifications");
	return YZ_OK;
}

/* ---- the outbox ---- */

static yz_status city_wide(http_req *r, yz_err *e)
{
	if (http_actor(r)->scope.all)
		return YZ_OK;
	return yz_fail(e, YZ_EFORBIDDEN,
	               "the outbox is city-wide: notify.manage granted for the whole city is "
	               "needed");
}

static const char *const statuses[] = {"failed", "queued", "sending", "sent"};

static yz_status outbox_page(http_req *r, yz_err *e)
{
	yz_status st = city_wide(r, e);
	if (st != YZ_OK)
		return st;
	const char *status = http_query(r, "status");
	if (status && !*status)
		status = NULL;
	notify_outbox_filter f = {.status = status, .before = query_int(r, "before"), .limit = 50};
	store_conn *c;
	json_t *list = NULL, *alerts = NULL;
	st = store_reader(app_of(r)->db, &c, e);
	if (st == YZ_OK)
		st = notify_outbox_list(c, &f, &list, e);
	if (st == YZ_OK)
		st = notify_alert_list(c, true, 20, &alerts, e);
	if (st != YZ_OK) {
		json_decref(list);
		return st;
	}
	size_t i;
	json_t *it;
	json_array_foreach (json_object_get(list, "items"), i, it) {
		humanise(it, "created_at", "created_human");
		humanise(it, "next_at", "next_human");
		humanise(it, "sent_at", "sent_human");
		jx_set_label(it, "status_label", "notify.status", "status", "");
		jx_set_label(it, "channel_label", "notify.channel", "channel", "");
		jx_set_bool(it, "can_retry", !strcmp(jx_str(it, "status", ""), "failed"));
	}
	json_array_foreach (alerts, i, it)
		humanise(it, "created_at", "created_human");
	/* one tab per status, with its count */
	json_t *tabs = json_array();
	json_t *counts = json_object_get(list, "counts");
	for (size_t k = 0; k < sizeof statuses / sizeof statuses[0]; k++) {
		char label[48];
		snprintf(label, sizeof label, "notify.status.%s", statuses[k]);
		json_array_append_new(
		    tabs, json_pack("{s:s, s:s, s:I, s:b}", "status", statuses[k], "label", label,
		                    "count", (json_int_t)jx_int(counts, statuses[k], 0), "current",
		                    status && !strcmp(status, statuses[k])));
	}
	json_t *d = json_object();
	json_object_set_new(d, "list", list);
	json_object_set_new(d, "alerts", alerts);
	json_object_set_new(d, "tabs", tabs);
	jx_set_str(d, "status", status ? status : "");
	jx_set_bool(d, "all", !status);
	return http_reply_page(r, 200, "pages/admin_notifications", d, e);
}

static yz_status outbox_retry_post(http_req *r, yz_err *e)
{
	int64_t id;
	yz_status st = city_wide(r, e);
	if (st == YZ_OK)
		st = http_param_id(r, "id", &id, e);
	if (st == YZ_OK)
		st = notify_retry(app_of(r)->db, http_actor(r), id, e);
	if (st != YZ_OK)
		return st;
	http_flash(r, "flash.notification_retried");
	http_redirect(r, "/admin/notifications?status=failed");
	return YZ_OK;
}

static const http_route page_routes[] = {
    {HTTP_GET, "/notifications", inbox_page, HTTP_SIGNED_IN, HTTP_SCOPE_NONE, 0, 0,
     "My notifications"},
    {HTTP_POST, "/notifications/read-all", inbox_read_all_post, HTTP_SIGNED_IN, HTTP_SCOPE_NONE, 0,
     4096, "Mark all my notifications read"},
    {HTTP_POST, "/notifications/{id}/read", inbox_read_post, HTTP_SIGNED_IN, HTTP_SCOPE_NONE, 0,
     4096, "Mark a notification read"},
    {HTTP_GET, "/admin/notifications", outbox_page, "notify.manage", HTTP_SCOPE_ORG, 0, 0,
     "The notification outbox"},
    {HTTP_POST, "/admin/notifications/{id}/retry", outbox_retry_post, "notify.manage",
     HTTP_SCOPE_ORG, 0, 4096, "Send a failed notification again"},
};

static const http_nav nav[] = {
    {"workbench", "nav.notifications", "/notifications", HTTP_SIGNED_IN, 40},
    {"admin", "nav.outbox", "/admin/notifications", "notify.manage", 70},
};

yz_status notify_routes(yz_app *app, yz_err *e)
{
	yz_status st = notify_api_routes(app, e);
	if (st == YZ_OK)
		st = http_routes_add(app->http, page_routes,
		                     (int)(sizeof page_routes / sizeof page_routes[0]), e);
	if (st == YZ_OK)
		http_add_nav(app->http, nav, (int)(sizeof nav / sizeof nav[0]));
	return st;
}
