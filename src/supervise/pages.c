/*
 * pages.c — the supervision pages: 电子监察 for the supervision role (cards
 * by unit and flow type, the cards with filters, on-time rates with a
 * twelve-month chart drawn on the server, the rules, the Excel export),
 * 本单位监察 for the units, and one card with its history and the unit's
 * response and correction forms. The same supervise functions serve the JSON
 * API.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/jx.h"
#include "core/slice.h"
#include "supervise/supervise_http.h"

static yz_app *app_of(http_req *r)
{
	return http_app(r);
}

/* Message keys for the words of a card. */
static void label_card(json_t *c)
{
	char k[64];
	snprintf(k, sizeof k, "supervise.colour.%s", jx_str(c, "colour", ""));
	jx_set_str(c, "colour_label", k);
	snprintf(k, sizeof k, "supervise.state.%s", jx_str(c, "state", ""));
	jx_set_str(c, "state_label", k);
	snprintf(k, sizeof k, "supervise.event.%s", jx_str(c, "event", ""));
	jx_set_str(c, "event_label", k);
	static const char *const times[] = {"issued_at",    "due_at",       "respond_by",
	                                    "responded_at", "corrected_at", "escalated_at"};
	for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
		int64_t ms;
		const char *iso = jx_str(c, times[i], NULL);
		char key[40], t[32];
		snprintf(key, sizeof key, "%s_human", times[i]);
		if (iso && clock_parse_iso(iso, &ms) == YZ_OK) {
			clock_format_city_human(ms, t, sizeof t);
			jx_set_str(c, key, t);
		}
	}
}

/* An error for the page: field errors as the GOV.UK summary; other refusals
 * (a state that does not allow the command, no right to it) with a message of
 * the page's language instead of the engine's. */
static json_t *page_error(http_req *r, const yz_err *err, const char *label_scope)
{
	if (err->nfield)
		return http_error_data(r, err, label_scope);
	const char *key = err->code == YZ_ECONFLICT    ? "supervise.error.conflict"
	                  : err->code == YZ_EFORBIDDEN ? "supervise.error.forbidden"
	                                               : "supervise.error.other";
	const char *text = http_t(r, key);
	return json_pack("{s:s, s:[{s:s, s:s}], s:{}}", "message", text, "errors", "href", "#main",
	                 "text", text, "error_map");
}

/* ---- the twelve-month chart ---- */

#define CHART_TOP    20
#define CHART_BOTTOM 200
#define CHART_LEFT   56
#define CHART_STEP   54

static int bar_height(json_t *rate)
{
	if (!json_is_number(rate))
		return 0;
	double h = json_number_value(rate) * (CHART_BOTTOM - CHART_TOP) / 100.0;
	return (int)lround(h < 0 ? 0 : h);
}

static json_t *chart_of(http_req *r, json_t *months)
{
	json_t *grid = json_array();
	for (int pct = 0; pct <= 100; pct += 50) {
		int y = CHART_BOTTOM - pct * (CHART_BOTTOM - CHART_TOP) / 100;
		char label[8];
		snprintf(label, sizeof label, "%d%%", pct);
		json_array_append_new(
		    grid, json_pack("{s:i, s:i, s:s}", "y", y, "ty", y + 4, "label", label));
	}
	json_t *bars = json_array();
	size_t i;
	json_t *m;
	json_array_foreach (months, i, m) {
		int x = CHART_LEFT + (int)i * CHART_STEP;
		json_t *tr = json_object_get(m, "task_rate"),
		       *cr = json_object_get(m, "closed_rate");
		int th = bar_height(tr), ch = bar_height(cr);
		const char *month = jx_str(m, "month", "0000-00");
		int mo = (int)strtol(month + 5, NULL, 10);
		char key[32];
		snprintf(key, sizeof key, "supervise.month.%d", mo >= 1 && mo <= 12 ? mo : 1);
		json_array_append_new(
		    bars,
		    json_pack("{s:i, s:i, s:i, s:b, s:i, s:i, s:i, s:b, s:i, s:s}", "tx", x, "ty",
		              CHART_BOTTOM - th, "th", th, "has_task", json_is_number(tr), "cx",
		              x + 22, "cy", CHART_BOTTOM - ch, "ch", ch, "has_closed",
		              json_is_number(cr), "lx", x + 20, "label", http_t(r, key)));
	}
	return json_pack("{s:o, s:o, s:i, s:i}", "grid", grid, "bars", bars, "bottom", CHART_BOTTOM,
	                 "label_y", CHART_BOTTOM + 18);
}

/* ---- 电子监察 ---- */

static json_t *options_of(json_t *items, const char *value_key, const char *label_key,
                          const char *current)
{
	json_t *out = json_array();
	size_t i;
	json_t *x;
	json_array_foreach (items, i, x) {
		json_t *v = json_object_get(x, value_key);
		char val[64];
		if (json_is_integer(v))
			snprintf(val, sizeof val, "%lld", (long long)json_integer_value(v));
		else
			yz_strlcpy(val, json_is_string(v) ? json_string_value(v) : "", sizeof val);
		json_array_append_new(out, json_pack("{s:s, s:s, s:b}", "value", val, "label",
		                                     jx_str(x, label_key, val), "selected",
		                                     current && !strcmp(current, val)));
	}
	return out;
}

static json_t *word_options(http_req *r, const char *const *words, const char *prefix,
                            const char *current)
{
	json_t *out = json_array();
	for (int i = 0; words[i]; i++) {
		char key[64];
		snprintf(key, sizeof key, "%s.%s", prefix, words[i]);
		json_t *x = json_object();
		jx_set_str(x, "value", words[i]);
		jx_set_str(x, "label", http_t(r, key));
		jx_set_bool(x, "selected", current && !strcmp(current, words[i]));
		json_array_append_new(out, x);
	}
	return out;
}

/* The query's own values, to refill the filter form and build links. */
static json_t *query_values(http_req *r)
{
	static const char *const names[] = {"state", "colour", "org", "flow", "from", "to"};
	json_t *q = json_object();
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		const char *v = http_query(r, names[i]);
		jx_set_str(q, names[i], v ? v : "");
	}
	const char *esc = http_query(r, "escalated");
	jx_set_bool(q, "escalated", esc && !strcmp(esc, "1"));
	return q;
}

static yz_status overview_page(http_req *r, yz_err *e)
{
	static const char *const states[] = {"open",   "responded", "cleared",
	                                     "active", "info",      NULL};
	static const char *const colours[] = {"yellow", "red", "prompt", NULL};
	supervise_filter f;
	yz_err fe = {0};
	json_t *d = json_object();
	int status = 200;
	if (supervise_filter_of(r, &f, &fe) != YZ_OK) {
		if (fe.code != YZ_EINVAL) {
			json_decref(d);
			*e = fe;
			return fe.code;
		}
		json_object_set_new(d, "error", http_error_data(r, &fe, "supervise"));
		status = 400;
		f = (supervise_filter){0};
	}
	f.limit = 50;
	const yz_scope *scope = &http_actor(r)->scope;
	supervise_viewer v = {.read = scope};
	store_conn *c;
	json_t *list = NULL, *sum = NULL, *stats = NULL, *rules = NULL;
	yz_status st = store_reader(app_of(r)->db, &c, e);
	if (st == YZ_OK)
		st = supervise_cards_list(c, &v, &f, &list, e);
	if (st == YZ_OK)
		st = supervise_summary(c, scope, f.from, f.to, &sum, e);
	if (st == YZ_OK)
		st = supervise_stats(c, scope, clock_now_ms(), &stats, e);
	if (st == YZ_OK)
		st = supervise_rules_get(c, &rules, e);
	if (st != YZ_OK) {
		json_decref(list);
		json_decref(sum);
		json_decref(stats);
		json_decref(d);
		return st;
	}
	size_t i;
	json_t *x;
	json_array_foreach (json_object_get(list, "items"), i, x)
		label_card(x);
	json_array_foreach (json_object_get(rules, "rules"), i, x) {
		char k[64];
		snprintf(k, sizeof k, "supervise.colour.%s", jx_str(x, "colour", ""));
		jx_set_str(x, "colour_label", k);
		snprintf(k, sizeof k, "supervise.event.%s", jx_str(x, "event", ""));
		jx_set_str(x, "event_label", k);
		jx_set_bool(x, "off", !jx_bool(x, "enabled", true));
		jx_set_int(x, "days", jx_int(json_object_get(x, "respond_within"), "workdays", 0));
	}
	json_t *q = query_values(r);
	json_t *flows = flow_defs_json();
	json_object_set_new(d, "state_options",
	                    word_options(r, states, "supervise.state", jx_str(q, "state", "")));
	json_object_set_new(d, "colour_options",
	                    word_options(r, colours, "supervise.colour", jx_str(q, "colour", "")));
	json_object_set_new(
	    d, "org_options",
	    options_of(json_object_get(stats, "by_unit"), "id", "name", jx_str(q, "org", "")));
	json_object_set_new(d, "flow_options",
	                    options_of(flows, "key", "name", jx_str(q, "flow", "")));
	json_decref(flows);
	json_object_set_new(d, "chart", chart_of(r, json_object_get(stats, "months")));
	json_object_set_new(d, "q", q);
	json_object_set_new(d, "list", list);
	json_object_set_new(d, "summary", sum);
	json_object_set_new(d, "stats", stats);
	json_object_set_new(d, "rules", rules);
	return http_reply_page(r, status, "pages/supervise", d, e);
}

/* ---- 本单位监察 ---- */

static yz_status mine_page(http_req *r, yz_err *e)
{
	static const char *const tabs[] = {"active", "cleared", "all"};
	const char *tab = http_query(r, "tab");
	if (!tab || (strcmp(tab, "cleared") != 0 && strcmp(tab, "all") != 0))
		tab = "active";
	supervise_viewer v;
	yz_status st = supervise_viewer_of(r, &v, e);
	if (st != YZ_OK)
		return st;
	v.read = NULL;
	supervise_filter f = {.state = strcmp(tab, "all") ? tab : NULL, .limit = 50};
	const char *b = http_query(r, "before");
	int64_t before = 0;
	if (b && slice_to_i64(slice_of(b), &before) == YZ_OK && before > 0)
		f.before = before;
	if (!strcmp(tab, "all"))
		f.colour = NULL;
	store_conn *c;
	json_t *list = NULL;
	st = store_reader(app_of(r)->db, &c, e);
	if (st == YZ_OK)
		st = supervise_cards_list(c, &v, &f, &list, e);
	if (st != YZ_OK)
		return st;
	size_t i;
	json_t *x;
	json_array_foreach (json_object_get(list, "items"), i, x)
		label_card(x);
	json_t *t = json_array();
	for (int k = 0; k < 3; k++) {
		char key[48];
		snprintf(key, sizeof key, "supervise.mine.tab.%s", tabs[k]);
		json_array_append_new(t, json_pack("{s:s, s:s, s:b}", "tab", tabs[k], "label", key,
		                                   "current", !strcmp(tab, tabs[k])));
	}
	json_t *d = json_object();
	json_object_set_new(d, "list", list);
	json_object_set_new(d, "tabs", t);
	jx_set_str(d, "tab", tab);
	return http_reply_page(r, 200, "pages/supervise_mine", d, e);
}

/* ---- one card ---- */

static yz_status card_page(http_req *r, int64_t id, int status, const yz_err *err,
                           const char *which, const char *text, yz_err *e)
{
	supervise_viewer v;
	store_conn *c;
	json_t *o = NULL;
	yz_status st = supervise_viewer_of(r, &v, e);
	if (st == YZ_OK)
		st = store_reader(app_of(r)->db, &c, e);
	if (st == YZ_OK)
		st = supervise_card_get(c, &v, id, &o, e);
	if (st != YZ_OK)
		return st;
	label_card(o);
	size_t i;
	json_t *x;
	json_array_foreach (json_object_get(o, "events"), i, x) {
		char k[48];
		bool prompt = !strcmp(jx_str(o, "colour", ""), "prompt");
		snprintf(k, sizeof k, "supervise.cardevent.%s",
		         prompt && !strcmp(jx_str(x, "kind", ""), "issued")
		             ? "prompted"
		             : jx_str(x, "kind", ""));
		jx_set_str(x, "kind_label", k);
		int64_t ms;
		char t[32];
		if (clock_parse_iso(jx_str(x, "at", ""), &ms) == YZ_OK) {
			clock_format_city_human(ms, t, sizeof t);
			jx_set_str(x, "at_human", t);
		}
		/* the system's own entries are not a person's words */
		jx_set_bool(x, "by_system", !strncmp(jx_str(x, "actor", ""), "system:", 7));
	}
	json_t *d = json_object();
	bool can_respond = false, can_correct = false;
	json_array_foreach (json_object_get(o, "actions"), i, x) {
		can_respond |= !strcmp(json_string_value(x), "respond");
		can_correct |= !strcmp(json_string_value(x), "correct");
	}
	jx_set_bool(d, "can_respond", can_respond);
	jx_set_bool(d, "can_correct", can_correct);
	jx_set_bool(d, "reader", v.read != NULL);
	const char *reason = jx_str(json_object_get(o, "detail"), "reason", NULL);
	jx_set_str(d, "reason", reason ? reason : "");
	json_t *waited = json_object_get(json_object_get(o, "detail"), "waited_workhours");
	if (json_is_integer(waited))
		json_object_set(d, "waited", waited);
	jx_set_str(d, "actor_name", jx_str(json_object_get(o, "detail"), "actor_name", ""));
	if (err) {
		json_t *ed = page_error(r, err, which);
		jx_set_str(d, "field_error",
		           jx_str(json_object_get(ed, "error_map"), "text", NULL));
		json_object_set_new(d, "error", ed);
	}
	jx_set_str(d, "text", text ? text : "");
	json_object_set_new(d, "card", o);
	return http_reply_page(r, status, "pages/supervise_card", d, e);
}

static yz_status card_get(http_req *r, yz_err *e)
{
	int64_t id;
	yz_status st = http_param_id(r, "id", &id, e);
	return st == YZ_OK ? card_page(r, id, 200, NULL, NULL, NULL, e) : st;
}

static yz_status answer_post(http_req *r, bool correct, yz_err *e)
{
	int64_t id;
	const form *f;
	yz_status st = http_param_id(r, "id", &id, e);
	if (st == YZ_OK)
		st = http_form(r, &f, e);
	if (st != YZ_OK)
		return st;
	const char *text = form_get(f, "text");
	json_t *in = json_pack("{s:s}", "text", text ? text : "");
	yz_err fe = {0};
	st = correct ? supervise_correct(app_of(r)->db, http_actor(r), id, in, &fe)
	             : supervise_respond(app_of(r)->db, http_actor(r), id, in, &fe);
	json_decref(in);
	if (st == YZ_OK) {
		char url[64];
		snprintf(url, sizeof url, "/supervise/cards/%lld", (long long)id);
		http_flash(r, correct ? "flash.supervise_corrected" : "flash.supervise_responded");
		http_redirect(r, url);
		return YZ_OK;
	}
	if (st == YZ_EINVAL || st == YZ_ECONFLICT || st == YZ_EFORBIDDEN)
		return card_page(r, id, yz_status_http(st), &fe,
		                 correct ? "supervise_correct" : "supervise_respond", text, e);
	*e = fe;
	return st;
}

static yz_status respond_post(http_req *r, yz_err *e)
{
	return answer_post(r, false, e);
}

static yz_status correct_post(http_req *r, yz_err *e)
{
	return answer_post(r, true, e);
}

static const http_route routes[] = {
    {HTTP_GET, "/supervise", overview_page, "supervise.read", HTTP_SCOPE_ORG, HTTP_SLOW, 0,
     "Electronic supervision: cards, on-time rates, rules"},
    {HTTP_GET, "/supervise/mine", mine_page, "supervise.respond", HTTP_SCOPE_ORG, 0, 0,
     "The cards of my unit"},
    {HTTP_GET, "/supervise/cards/{id}", card_get, HTTP_SIGNED_IN, HTTP_SCOPE_NONE, 0, 0,
     "A supervision card"},
    {HTTP_POST, "/supervise/cards/{id}/respond", respond_post, "supervise.respond", HTTP_SCOPE_ORG,
     0, 16u << 10, "The unit's response to a card"},
    {HTTP_POST, "/supervise/cards/{id}/correct", correct_post, "supervise.respond", HTTP_SCOPE_ORG,
     0, 16u << 10, "The correction that clears a card"},
};

static const http_nav nav[] = {
    {"workbench", "nav.supervise_mine", "/supervise/mine", "supervise.respond", 50},
    {"workbench", "nav.supervise", "/supervise", "supervise.read", 60},
};

yz_status supervise_routes(yz_app *app, yz_err *e)
{
	yz_status st = supervise_api_routes(app, e);
	if (st == YZ_OK)
		st = http_routes_add(app->http, routes, (int)(sizeof routes / sizeof routes[0]), e);
	if (st == YZ_OK)
		http_add_nav(app->http, nav, (int)(sizeof nav / sizeof nav[0]));
	return st;
}

/* ---- the pack ---- */

yz_status supervise_pack(yz_app *app, const char *dir, json_t *report, yz_err *e)
{
	char path[700];
	snprintf(path, sizeof path, "%s/supervise/rules.json", dir);
	int64_t version = 0;
	yz_status st = supervise_rules_load_file(app->db, path, &version, e);
	if (st == YZ_OK && version)
		json_object_set_new(report, "supervise_rules", json_integer(version));
	return st;
}
