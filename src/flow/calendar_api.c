/*
 * calendar_api.c — the working-day calendar over HTTP: questions anyone
 * signed in may ask (is a day a working day, the Nth working day after a
 * date, a deadline), the stored notices, and importing a new notice (the
 * holiday-cn JSON format) for flow administrators — which recomputes the
 * open deadlines it touches, as `yizhan calendar import` does. The page
 * /admin/calendar offers the same to people.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "core/clock.h"
#include "core/jx.h"
#include "core/slice.h"
#include "flow/calendar.h"
#include "flow/flow.h"
#include "flow/flow_api.h"
#include "flow/flow_int.h"

static yz_app *app_of(http_req *r)
{
	return http_app(r);
}

static yz_status day_param(http_req *r, const char *name, int64_t *day, yz_err *e)
{
	const char *v = http_query(r, name);
	if (!v || calendar_parse_date(v, day) != YZ_OK)
		return yz_field(e, name, "date", "a date YYYY-MM-DD", v);
	return YZ_OK;
}

static json_t *day_json(const calendar *cal, int64_t day)
{
	char d[16];
	calendar_format_date(day, d, sizeof d);
	const char *name = calendar_day_name(cal, day);
	return json_pack("{s:s, s:b, s:s?}", "date", d, "workday", calendar_is_workday(cal, day),
	                 "name", name && *name ? name : NULL);
}

static yz_status need_calendar(const calendar **cal, yz_err *e)
{
	*cal = flow_calendar();
	return *cal ? YZ_OK : yz_fail(e, YZ_EBUSY, "the calendar is not loaded");
}

/* GET /api/v1/calendar/days?from=&to= : every day with its status (≤ 366). */
static yz_status days(http_req *r, yz_err *e)
{
	const calendar *cal;
	int64_t from, to;
	yz_status st = need_calendar(&cal, e);
	if (st == YZ_OK)
		st = day_param(r, "from", &from, e);
	if (st == YZ_OK)
		st = day_param(r, "to", &to, e);
	if (st != YZ_OK)
		return st;
	if (to < from || to - from > 366)
		return yz_field(e, "to", "range", "a date on or after from, at most 366 days later",
		                http_query(r, "to"));
	json_t *items = json_array();
	for (int64_t d = from; d <= to; d++)
		json_array_append_new(items, day_json(cal, d));
	char hours[96];
	calendar_format_hours(flow_hours(), hours, sizeof hours);
	http_reply_json(r, 200,
	                json_pack("{s:o, s:i, s:s}", "items", items, "workdays",
	                          calendar_workdays_between(cal, from - 1, to), "office_hours",
	                          hours));
	return YZ_OK;
}

/* GET /api/v1/calendar/add-workdays?date=&n= : the Nth working day after the
 * date (the date not counted; n < 0 counts back). */
static yz_status add_workdays(http_req *r, yz_err *e)
{
	const calendar *cal;
	int64_t day, n;
	yz_status st = need_calendar(&cal, e);
	if (st == YZ_OK)
		st = day_param(r, "date", &day, e);
	const char *nv = http_query(r, "n");
	if (st == YZ_OK &&
	    (!nv || slice_to_i64(slice_of(nv), &n) != YZ_OK || n < -3650 || n > 3650))
		st = yz_field(e, "n", "range", "a whole number -3650..3650", nv);
	if (st != YZ_OK)
		return st;
	json_t *o = day_json(cal, calendar_add_workdays(cal, day, (int)n));
	json_object_set_new(o, "from", json_string(http_query(r, "date")));
	jx_set_int(o, "n", n);
	http_reply_json(r, 200, o);
	return YZ_OK;
}

/* GET /api/v1/calendar/notices */
static yz_status notices(http_req *r, yz_err *e)
{
	store_conn *c;
	json_t *list;
	yz_status st = store_reader(app_of(r)->db, &c, e);
	if (st == YZ_OK)
		st = calendar_notices_json(c, &list, e);
	if (st == YZ_OK)
		http_reply_json(r, 200, json_pack("{s:o}", "items", list));
	return st;
}

/* Import a notice, swap the new calendar in, recompute the deadlines. */
static yz_status import_text(http_req *r, const char *text, size_t len, json_t **out, yz_err *e)
{
	int64_t *changed = NULL;
	int nchanged = 0;
	yz_status st = calendar_import_holiday_cn_text(app_of(r)->db, http_actor(r), text, len,
	                                               &changed, &nchanged, e);
	int64_t moved = 0;
	if (st == YZ_OK && nchanged > 0) {
		st = flow_calendar_reload(app_of(r)->db, true, NULL, e);
		if (st == YZ_OK)
			st = flow_recompute_deadlines(app_of(r)->db, http_actor(r), &moved, e);
	}
	if (st == YZ_OK) {
		json_t *dates = json_array();
		for (int i = 0; i < nchanged; i++) {
			char d[16];
			calendar_format_date(changed[i], d, sizeof d);
			json_array_append_new(dates, json_string(d));
		}
		*out =
		    json_pack("{s:o, s:I}", "changed", dates, "deadlines_moved", (json_int_t)moved);
	}
	free(changed);
	return st;
}

/* POST /api/v1/calendar/notices with the holiday-cn JSON as the body. */
static yz_status notice_import(http_req *r, yz_err *e)
{
	size_t n;
	const char *body = http_body(r, &n);
	json_t *o;
	yz_status st = import_text(r, body ? body : "", body ? n : 0, &o, e);
	if (st == YZ_OK)
		http_reply_json(r, json_array_size(json_object_get(o, "changed")) ? 201 : 200, o);
	return st;
}

/* ---- the page ---- */

static yz_status calendar_page(http_req *r, int status, const yz_err *err, json_t *result,
                               yz_err *e)
{
	json_t *d = json_object();
	store_conn *c;
	json_t *list = NULL;
	yz_status st = store_reader(app_of(r)->db, &c, e);
	if (st == YZ_OK)
		st = calendar_notices_json(c, &list, e);
	if (st != YZ_OK) {
		json_decref(d);
		json_decref(result);
		return st;
	}
	/* newest first on the page */
	json_t *rev = json_array();
	for (size_t i = json_array_size(list); i > 0; i--) {
		json_t *n = json_array_get(list, i - 1);
		/* a shipped notice "changes" all its days: list changes of imports only */
		if (!strcmp(jx_str(n, "origin", ""), "seed"))
			json_object_set_new(n, "changed", json_array());
		json_array_append(rev, n);
	}
	json_decref(list);
	json_object_set_new(d, "notices", rev);
	/* this month and the next, as weeks of days */
	const calendar *cal = flow_calendar();
	int64_t today = calendar_day_of(clock_now_ms());
	json_t *months = json_array();
	int y, m, dd;
	clock_civil_from_days(today, &y, &m, &dd);
	for (int k = 0; cal && k < 2; k++) {
		int yy = y + (m - 1 + k) / 12, mm = (m - 1 + k) % 12 + 1;
		int64_t first = clock_days_from_civil(yy, mm, 1);
		int64_t next = clock_days_from_civil(yy + (mm == 12), mm % 12 + 1, 1);
		json_t *weeks = json_array(), *week = json_array();
		/* Monday first (clock_weekday: 0 = Monday … 6 = Sunday) */
		int lead = clock_weekday(first);
		for (int i = 0; i < lead; i++)
			json_array_append_new(week, json_pack("{s:b}", "blank", 1));
		for (int64_t day = first; day < next; day++) {
			const char *name = calendar_day_name(cal, day);
			int wd = clock_weekday(day);
			bool work = calendar_is_workday(cal, day);
			json_array_append_new(week, json_pack("{s:i, s:b, s:b, s:b, s:s?}", "day",
			                                      (int)(day - first + 1), "workday",
			                                      work, "today", day == today,
			                                      "adjusted", work == (wd >= 5), "name",
			                                      name && *name ? name : NULL));
			if (json_array_size(week) == 7) {
				json_array_append_new(weeks, week);
				week = json_array();
			}
		}
		if (json_array_size(week))
			json_array_append_new(weeks, week);
		else
			json_decref(week);
		char title[32];
		snprintf(title, sizeof title, "%d-%02d", yy, mm);
		json_array_append_new(months,
		                      json_pack("{s:s, s:o}", "title", title, "weeks", weeks));
	}
	json_object_set_new(d, "months", months);
	char hours[96];
	calendar_format_hours(flow_hours(), hours, sizeof hours);
	json_object_set_new(d, "office_hours", json_string(hours));
	jx_set_bool(d, "can_import", http_can(r, "flow.admin"));
	if (err) {
		json_t *ed = http_error_data(r, err, "calendar");
		http_errors_point_to(ed, "f-notice");
		json_object_set_new(d, "error", ed);
	}
	if (result)
		json_object_set_new(d, "result", result);
	return http_reply_page(r, status, "pages/admin_calendar", d, e);
}

static yz_status page_get(http_req *r, yz_err *e)
{
	return calendar_page(r, 200, NULL, NULL, e);
}

static yz_status page_post(http_req *r, yz_err *e)
{
	if (!http_can(r, "flow.admin"))
		return yz_fail(e, YZ_EFORBIDDEN, "importing a notice needs flow.admin");
	const form *f;
	yz_status st = http_form(r, &f, e);
	if (st != YZ_OK)
		return st;
	const form_field *file = form_get_field(f, "notice");
	yz_err fe = {0};
	json_t *out = NULL;
	if (!file || !file->len)
		st = yz_field(&fe, "notice", "required", "a holiday-cn JSON file", NULL);
	else
		st = import_text(r, file->value, file->len, &out, &fe);
	if (st == YZ_OK)
		return calendar_page(r, 200, NULL, out, e);
	if (st != YZ_EINVAL) {
		*e = fe;
		return st;
	}
	return calendar_page(r, 400, &fe, NULL, e);
}

static const http_route routes[] = {
    {HTTP_GET, "/api/v1/calendar/days", days, HTTP_SIGNED_IN, HTTP_SCOPE_NONE, 0, 0,
     "Days from..to with whether each is a working day (and its holiday name)"},
    {HTTP_GET, "/api/v1/calendar/add-workdays", add_workdays, HTTP_SIGNED_IN, HTTP_SCOPE_NONE, 0, 0,
     "The Nth working day after a date (the date not counted; n < 0 counts back)"},
    {HTTP_GET, "/api/v1/calendar/notices", notices, HTTP_SIGNED_IN, HTTP_SCOPE_NONE, 0, 0,
     "The stored holiday notices, every version"},
    {HTTP_POST, "/api/v1/calendar/notices", notice_import, "flow.admin", HTTP_SCOPE_NONE, 0,
     1u << 20,
     "Import a holiday notice (holiday-cn JSON); open deadlines it touches are recomputed"},
    {HTTP_GET, "/admin/calendar", page_get, HTTP_SIGNED_IN, HTTP_SCOPE_NONE, 0, 0,
     "The working-day calendar"},
    {HTTP_POST, "/admin/calendar", page_post, "flow.admin", HTTP_SCOPE_NONE, 0, 1u << 20,
     "Import a holiday notice"},
};

static const http_nav nav[] = {
    {"admin", "nav.calendar", "/admin/calendar", "flow.admin", 65},
};

yz_status calendar_routes(yz_app *app, yz_err *e)
{
	yz_status st =
	    http_routes_add(app->http, routes, (int)(sizeof routes / sizeof routes[0]), e);
	if (st == YZ_OK)
		http_add_nav(app->http, nav, (int)(sizeof nav / sizeof nav[0]));
	return st;
}
