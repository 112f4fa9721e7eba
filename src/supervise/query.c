/*
 * query.c — reading cards: lists with filters within a data scope, one card
 * with its events, counts by unit and flow type, and the on-time figures of
 * twelve months (flow_stats) beside the cards issued in them.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/jx.h"
#include "iam/iam.h"
#include "supervise/supervise_int.h"

static const char *const states[] = {"info", "open", "responded", "cleared", "active", NULL};
static const char *const colours[] = {"prompt", "yellow", "red", NULL};

static bool one_of(const char *v, const char *const *set)
{
	for (int i = 0; set[i]; i++)
		if (!strcmp(v, set[i]))
			return true;
	return false;
}

yz_status supervise_filter_check(const supervise_filter *f, yz_err *e)
{
	bool bad = false;
	if (f->state && *f->state && !one_of(f->state, states)) {
		yz_field(e, "state", "enum", "info, open, responded, cleared or active", f->state);
		bad = true;
	}
	if (f->colour && *f->colour && !one_of(f->colour, colours)) {
		yz_field(e, "colour", "enum", "prompt, yellow or red", f->colour);
		bad = true;
	}
	if (f->from && f->to && f->to <= f->from) {
		yz_field(e, "to", "after", "a time after from", NULL);
		bad = true;
	}
	return bad ? YZ_EINVAL : YZ_OK;
}

/* ---- WHERE ---- */

static char *pattern(sv_where *w, const char *path)
{
	if (w->npats >= (int)(sizeof w->pats / sizeof w->pats[0]))
		return NULL;
	/* LIKE patterns: a path never holds % or _ (paths are /digits/) */
	size_t n = strlen(path);
	char *p = malloc(n + 2);
	if (!p)
		return NULL;
	memcpy(p, path, n);
	p[n] = '%';
	p[n + 1] = '\0';
	w->pats[w->npats++] = p;
	return p;
}

static bool arg(sv_where *w, store_val v)
{
	if (w->na >= SV_MAX_ARGS)
		return false;
	w->args[w->na++] = v;
	return true;
}

bool sv_where_add(sv_where *w, buf *sql, const yz_scope *scope, const supervise_filter *f)
{
	yz_status st = YZ_OK;
	bool ok = true;
	if (!scope->all) {
		if (scope->n <= 0 || !scope->paths)
			return false;
		BUF_TRY(st, buf_puts(sql, " AND ("));
		for (int i = 0; i < scope->n && i < 32; i++) {
			char *p = pattern(w, scope->paths[i]);
			ok &= p && arg(w, sv_text(p));
			BUF_TRY(st,
			        buf_puts(sql, i ? " OR c.unit_path LIKE ?" : "c.unit_path LIKE ?"));
		}
		BUF_TRY(st, buf_puts(sql, ")"));
	}
	if (f && f->org_path && *f->org_path) {
		char *p = pattern(w, f->org_path);
		ok &= p && arg(w, sv_text(p));
		BUF_TRY(st, buf_puts(sql, " AND c.unit_path LIKE ?"));
	}
	if (f && f->flow && *f->flow) {
		ok &= arg(w, sv_text(f->flow));
		BUF_TRY(st, buf_puts(sql, " AND c.flow_key = ?"));
	}
	if (f && f->colour && *f->colour) {
		ok &= arg(w, sv_text(f->colour));
		BUF_TRY(st, buf_puts(sql, " AND c.colour = ?"));
	}
	if (f && f->state && *f->state) {
		const char *cond =
		    !strcmp(f->state, "info") ? " AND c.colour = 'prompt'"
		    : !strcmp(f->state, "open")
		        ? " AND c.colour <> 'prompt' AND r.id IS NULL AND x.id IS NULL"
		    : !strcmp(f->state, "responded") ? " AND r.id IS NOT NULL AND x.id IS NULL"
		    : !strcmp(f->state, "cleared")   ? " AND x.id IS NOT NULL"
		    : !strcmp(f->state, "active")    ? " AND c.colour <> 'prompt' AND x.id IS NULL"
		                                     : " AND 1 = 0";
		BUF_TRY(st, buf_puts(sql, cond));
	}
	if (f && f->escalated)
		BUF_TRY(st, buf_puts(sql, " AND s.id IS NOT NULL"));
	if (f && f->from) {
		ok &= arg(w, sv_int(f->from));
		BUF_TRY(st, buf_puts(sql, " AND c.issued_at >= ?"));
	}
	if (f && f->to) {
		ok &= arg(w, sv_int(f->to));
		BUF_TRY(st, buf_puts(sql, " AND c.issued_at < ?"));
	}
	if (f && f->before > 0) {
		ok &= arg(w, sv_int(f->before));
		BUF_TRY(st, buf_puts(sql, " AND c.id < ?"));
	}
	return ok && st == YZ_OK;
}

void sv_where_free(sv_where *w)
{
	for (int i = 0; i < w->npats; i++)
		free(w->pats[i]);
	w->npats = 0;
	w->na = 0;
}

/* ---- one card as JSON ---- */

static void set_time(json_t *o, const char *key, store_rows *r, int col)
{
	if (store_col_null(r, col)) {
		json_object_set_new(o, key, json_null());
		return;
	}
	char t[40];
	clock_format_city(store_col_int(r, col), t, sizeof t);
	jx_set_str(o, key, t);
}

static const char *state_of(const char *colour, bool responded, bool corrected)
{
	if (!strcmp(colour, "prompt"))
		return "info";
	return corrected ? "cleared" : responded ? "responded" : "open";
}

json_t *sv_card_json(store_rows *r, int64_t now)
{
	json_t *o = json_object();
	jx_set_int(o, "id", store_col_int(r, 0));
	const char *colour = store_col_text(r, 1);
	jx_set_str(o, "colour", colour);
	bool responded = !store_col_null(r, 21), corrected = !store_col_null(r, 22),
	     escalated = !store_col_null(r, 23);
	jx_set_str(o, "state", state_of(colour, responded, corrected));
	jx_set_bool(o, "escalated", escalated);
	json_object_set_new(o, "rule",
	                    json_pack("{s:s, s:s, s:I}", "code", store_col_text(r, 2), "name",
	                              store_col_text(r, 3), "version",
	                              (json_int_t)store_col_int(r, 4)));
	jx_set_str(o, "event", store_col_text(r, 5));
	json_object_set_new(o, "instance",
	                    json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)store_col_int(r, 6),
	                              "title", store_col_text(r, 10), "flow", store_col_text(r, 8),
	                              "flow_name", store_col_text(r, 9)));
	if (store_col_null(r, 7))
		json_object_set_new(o, "task", json_null());
	else
		jx_set_int(o, "task", store_col_int(r, 7));
	jx_set_str(o, "step", store_col_null(r, 11) ? NULL : store_col_text(r, 11));
	jx_set_str(o, "step_name", store_col_null(r, 12) ? NULL : store_col_text(r, 12));
	jx_set_str(o, "org_path", store_col_text(r, 13));
	json_object_set_new(o, "unit",
	                    json_pack("{s:s, s:I, s:s}", "path", store_col_text(r, 14), "id",
	                              (json_int_t)sv_path_org(store_col_text(r, 14)), "name",
	                              store_col_text(r, 15)));
	set_time(o, "issued_at", r, 16);
	set_time(o, "due_at", r, 17);
	set_time(o, "respond_by", r, 18);
	jx_set_bool(o, "response_overdue",
	            !responded && !corrected && !store_col_null(r, 18) &&
	                store_col_int(r, 18) < now);
	jx_set_str(o, "escalate_to", store_col_null(r, 19) ? NULL : store_col_text(r, 19));
	json_t *d = json_loads(store_col_text(r, 20), 0, NULL);
	json_object_set_new(o, "detail", d ? d : json_object());
	set_time(o, "responded_at", r, 21);
	set_time(o, "corrected_at", r, 22);
	set_time(o, "escalated_at", r, 23);
	return o;
}

/* ---- lists ---- */

yz_status supervise_cards_list(store_conn *c, const supervise_viewer *v, const supervise_filter *f,
                               json_t **out, yz_err *e)
{
	*out = NULL;
	yz_status st = supervise_filter_check(f, e);
	if (st != YZ_OK)
		return st;
	int limit = f->limit > 0 ? f->limit : 50;
	if (limit > 200)
		limit = 200;
	const yz_scope *scope = v->read;
	bool mine = false;
	static const yz_scope none = {0};
	if (!scope) {
		mine = v->respond && v->own_org_path && *v->own_org_path;
		scope = mine ? v->respond : &none;
	}
	buf sql;
	buf_init(&sql, 8192);
	sv_where w = {0};
	BUF_TRY(st, buf_puts(&sql, "SELECT " SV_CARD_COLS SV_CARD_FROM " WHERE 1 = 1"));
	bool any = sv_where_add(&w, &sql, scope, f);
	if (mine && any) {
		/* the cards of units the viewer belongs to */
		any = w.na < SV_MAX_ARGS;
		if (any)
			w.args[w.na++] = sv_text(v->own_org_path);
		BUF_TRY(st, buf_puts(&sql, " AND ? LIKE c.unit_path || '%'"));
	}
	BUF_TRY(st, buf_printf(&sql, " ORDER BY c.id DESC LIMIT %d", limit + 1));
	json_t *items = json_array();
	bool more = false;
	int64_t last = 0, now = clock_now_ms();
	if (st == YZ_OK && any) {
		store_rows *r;
		st = store_query(c, buf_str(&sql), w.args, w.na, &r, e);
		int n = 0;
		while (st == YZ_OK && store_next(r)) {
			if (n++ == limit) {
				more = true;
				break;
			}
			last = store_col_int(r, 0);
			json_array_append_new(items, sv_card_json(r, now));
		}
		if (st == YZ_OK)
			st = store_rows_close(r, e);
	} else if (st != YZ_OK) {
		st = yz_fail(e, st, "card query too long");
	}
	sv_where_free(&w);
	buf_free(&sql);
	if (st != YZ_OK) {
		json_decref(items);
		return st;
	}
	*out = json_pack("{s:o, s:o}", "items", items, "next",
	                 more ? json_integer(last) : json_null());
	return YZ_OK;
}

/* ---- one card ---- */

yz_status supervise_card_get(store_conn *c, const supervise_viewer *v, int64_t id, json_t **out,
                             yz_err *e)
{
	*out = NULL;
	store_rows *r;
	store_val a[] = {sv_int(id)};
	yz_status st =
	    store_query(c, "SELECT " SV_CARD_COLS SV_CARD_FROM " WHERE c.id = ?", a, 1, &r, e);
	if (st != YZ_OK)
		return st;
	json_t *o = NULL;
	if (store_next(r))
		o = sv_card_json(r, clock_now_ms());
	st = store_rows_close(r, e);
	if (st != YZ_OK) {
		json_decref(o);
		return st;
	}
	const char *unit = o ? jx_str(json_object_get(o, "unit"), "path", "") : "";
	bool reads = o && v->read && iam_path_in_scope(v->read, unit);
	bool answers = o && v->respond && iam_path_in_scope(v->respond, unit) && v->own_org_path &&
	               *v->own_org_path && sv_path_within(v->own_org_path, unit);
	if (!reads && !answers) {
		json_decref(o);
		return yz_fail(e, YZ_ENOTFOUND, "no card %lld", (long long)id);
	}
	json_t *events = json_array();
	st = store_query(c,
	                 "SELECT kind, at, actor, actor_name, text FROM supervise_card_event WHERE "
	                 "card_id = ? ORDER BY at, id",
	                 a, 1, &r, e);
	while (st == YZ_OK && store_next(r)) {
		json_t *x = json_object();
		jx_set_str(x, "kind", store_col_text(r, 0));
		set_time(x, "at", r, 1);
		jx_set_str(x, "actor", store_col_text(r, 2));
		jx_set_str(x, "actor_name", store_col_text(r, 3));
		jx_set_str(x, "text", store_col_text(r, 4));
		json_array_append_new(events, x);
	}
	if (st == YZ_OK)
		st = store_rows_close(r, e);
	if (st != YZ_OK) {
		json_decref(events);
		json_decref(o);
		return st;
	}
	json_object_set_new(o, "events", events);
	json_t *actions = json_array();
	const char *state = jx_str(o, "state", "");
	if (answers && !strcmp(state, "open"))
		json_array_append_new(actions, json_string("respond"));
	if (answers && !strcmp(state, "responded"))
		json_array_append_new(actions, json_string("correct"));
	json_object_set_new(o, "actions", actions);
	*out = o;
	return YZ_OK;
}

/* ---- counts ---- */

static const char *const count_keys[] = {"prompt",    "yellow",  "red",       "open",
                                         "responded", "cleared", "escalated", "response_overdue"};
#define NCOUNT 8

static json_t *zero_counts(void)
{
	json_t *o = json_object();
	for (int i = 0; i < NCOUNT; i++)
		jx_set_int(o, count_keys[i], 0);
	return o;
}

static void bump(json_t *o, const char *key, int64_t n)
{
	jx_set_int(o, key, jx_int(o, key, 0) + n);
}

static void add_counts(json_t *o, const char *colour, const char *state, bool esc, bool late,
                       int64_t n)
{
	bump(o, colour, n);
	if (strcmp(state, "info") != 0)
		bump(o, state, n);
	if (esc)
		bump(o, "escalated", n);
	if (late)
		bump(o, "response_overdue", n);
}

static int busiest(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int64_t wx =
	    jx_int(x, "red", 0) * 1000 + jx_int(x, "yellow", 0) * 10 + jx_int(x, "prompt", 0);
	int64_t wy =
	    jx_int(y, "red", 0) * 1000 + jx_int(y, "yellow", 0) * 10 + jx_int(y, "prompt", 0);
	if (wx != wy)
		return wx < wy ? 1 : -1;
	return strcmp(jx_str(x, "key", ""), jx_str(y, "key", ""));
}

/* The values of an index object as an array, busiest first, without "key". */
static json_t *sorted(json_t *index)
{
	size_t n = json_object_size(index);
	json_t **v = calloc(n ? n : 1, sizeof *v);
	json_t *arr = json_array();
	if (!v)
		return arr;
	size_t i = 0;
	const char *k;
	json_t *x;
	json_object_foreach (index, k, x)
		v[i++] = x;
	qsort(v, n, sizeof *v, busiest);
	for (i = 0; i < n; i++) {
		json_object_del(v[i], "key");
		json_array_append(arr, v[i]);
	}
	free(v);
	return arr;
}

yz_status supervise_summary(store_conn *c, const yz_scope *scope, int64_t from, int64_t to,
                            json_t **out, yz_err *e)
{
	*out = NULL;
	int64_t now = clock_now_ms();
	buf sql;
	buf_init(&sql, 8192);
	sv_where w = {0};
	w.args[w.na++] = sv_int(now);
	yz_status st = YZ_OK;
	BUF_TRY(st,
	        buf_puts(&sql,
	                 "SELECT c.unit_path, c.flow_key, c.colour, CASE WHEN x.id IS NOT NULL "
	                 "THEN 'cleared' WHEN r.id IS NOT NULL THEN 'responded' WHEN c.colour = "
	                 "'prompt' THEN 'info' ELSE 'open' END, CASE WHEN s.id IS NULL THEN 0 "
	                 "ELSE 1 END, CASE WHEN x.id IS NULL AND r.id IS NULL AND c.respond_by "
	                 "IS NOT NULL AND c.respond_by < ? THEN 1 ELSE 0 END, MAX(c.unit_name), "
	                 "MAX(c.flow_name), COUNT(*)" SV_CARD_FROM " WHERE 1 = 1"));
	supervise_filter f = {.from = from, .to = to};
	bool any = sv_where_add(&w, &sql, scope, &f);
	BUF_TRY(st, buf_puts(&sql, " GROUP BY 1, 2, 3, 4, 5, 6"));
	json_t *totals = zero_counts(), *units = json_object(), *flows = json_object();
	if (st == YZ_OK && any) {
		store_rows *r;
		st = store_query(c, buf_str(&sql), w.args, w.na, &r, e);
		while (st == YZ_OK && store_next(r)) {
			const char *path = store_col_text(r, 0), *flow = store_col_text(r, 1);
			const char *colour = store_col_text(r, 2), *state = store_col_text(r, 3);
			bool esc = store_col_int(r, 4) != 0, late = store_col_int(r, 5) != 0;
			int64_t n = store_col_int(r, 8);
			json_t *u = json_object_get(units, path);
			if (!u) {
				u = zero_counts();
				jx_set_str(u, "key", path);
				jx_set_str(u, "path", path);
				jx_set_int(u, "id", sv_path_org(path));
				jx_set_str(u, "name", store_col_text(r, 6));
				json_object_set_new(units, path, u);
			}
			json_t *fl = json_object_get(flows, flow);
			if (!fl) {
				fl = zero_counts();
				jx_set_str(fl, "key", flow);
				jx_set_str(fl, "flow", flow);
				jx_set_str(fl, "flow_name", store_col_text(r, 7));
				json_object_set_new(flows, flow, fl);
			}
			add_counts(totals, colour, state, esc, late, n);
			add_counts(u, colour, state, esc, late, n);
			add_counts(fl, colour, state, esc, late, n);
		}
		if (st == YZ_OK)
			st = store_rows_close(r, e);
	} else if (st != YZ_OK) {
		st = yz_fail(e, st, "summary query too long");
	}
	sv_where_free(&w);
	buf_free(&sql);
	json_t *bu = sorted(units), *bf = sorted(flows);
	json_decref(units);
	json_decref(flows);
	if (st != YZ_OK) {
		json_decref(totals);
		json_decref(bu);
		json_decref(bf);
		return st;
	}
	*out = json_pack("{s:o, s:o, s:o}", "totals", totals, "by_unit", bu, "by_flow", bf);
	return YZ_OK;
}

/* ---- twelve months ---- */

static void month_key(int64_t ms, char out[16])
{
	int64_t t = ms + CLOCK_CITY_OFFSET_MS;
	int64_t day = (t >= 0 ? t : t - 86399999) / 86400000;
	int y, m, d;
	clock_civil_from_days(day, &y, &m, &d);
	snprintf(out, 16, "%04d-%02d", y, m);
}

static json_t *rate(int64_t ok, int64_t all)
{
	if (all <= 0)
		return json_null();
	return json_real(round((double)ok * 1000.0 / (double)all) / 10.0);
}

/* The scope's subtree roots without those inside another (so that nothing is
 * counted twice); NULL alone for an unrestricted scope. */
static int roots_of(const yz_scope *scope, const char **out, int max)
{
	if (scope->all) {
		out[0] = NULL;
		return 1;
	}
	int n = 0;
	for (int i = 0; i < scope->n && n < max; i++) {
		bool inner = false;
		for (int k = 0; k < scope->n && !inner; k++)
			inner = k != i && sv_path_within(scope->paths[i], scope->paths[k]) &&
			        (strcmp(scope->paths[i], scope->paths[k]) != 0 || k < i);
		if (!inner)
			out[n++] = scope->paths[i];
	}
	return n;
}

static json_t *unit_entry(store_conn *c, json_t *index, const char *path, yz_status *st, yz_err *e)
{
	json_t *u = json_object_get(index, path);
	if (u)
		return u;
	char name[200] = "";
	if (*st == YZ_OK)
		*st = sv_org_name(c, path, name, sizeof name, e);
	u = json_pack("{s:s, s:I, s:s, s:i, s:i, s:i, s:i}", "path", path, "id",
	              (json_int_t)sv_path_org(path), "name", name, "tasks_done", 0, "tasks_on_time",
	              0, "open", 0, "overdue", 0);
	json_object_set_new(index, path, u);
	return u;
}

static int by_path(const void *a, const void *b)
{
	return strcmp(jx_str(*(json_t *const *)a, "path", ""),
	              jx_str(*(json_t *const *)b, "path", ""));
}

static json_t *values_by_path(json_t *index)
{
	size_t n = json_object_size(index), i = 0;
	json_t **v = calloc(n ? n : 1, sizeof *v);
	json_t *arr = json_array();
	if (!v)
		return arr;
	const char *k;
	json_t *x;
	json_object_foreach (index, k, x)
		v[i++] = x;
	qsort(v, n, sizeof *v, by_path);
	for (i = 0; i < n; i++)
		json_array_append(arr, v[i]);
	free(v);
	return arr;
}

yz_status supervise_stats(store_conn *c, const yz_scope *scope, int64_t now, json_t **out,
                          yz_err *e)
{
	*out = NULL;
	/* the months: this one and the eleven before it */
	int64_t today = (now + CLOCK_CITY_OFFSET_MS) / 86400000;
	int y, m, d;
	clock_civil_from_days(today, &y, &m, &d);
	int sy = y, sm = m - 11;
	while (sm < 1) {
		sm += 12;
		sy--;
	}
	int64_t from = clock_days_from_civil(sy, sm, 1) * 86400000 - CLOCK_CITY_OFFSET_MS;
	int64_t to = now + 1;
	json_t *months = json_array(), *mindex = json_object();
	for (int i = 0, yy = sy, mm = sm; i < 12; i++) {
		char k[16];
		snprintf(k, sizeof k, "%04d-%02d", yy, mm);
		json_t *x = json_pack("{s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:i}", "month", k,
		                      "tasks_done", 0, "tasks_on_time", 0, "closed", 0,
		                      "closed_on_time", 0, "prompt", 0, "yellow", 0, "red", 0);
		json_array_append_new(months, x);
		json_object_set(mindex, k, x);
		if (++mm > 12) {
			mm = 1;
			yy++;
		}
	}
	json_t *units = json_object(), *flows = json_object();
	const char *roots[32];
	int nroots = roots_of(scope, roots, 32);
	yz_status st = YZ_OK;
	for (int i = 0; st == YZ_OK && i < nroots; i++) {
		json_t *fs = NULL;
		st = flow_stats(c, from, to, roots[i], &fs, e);
		size_t k;
		json_t *x;
		json_array_foreach (json_object_get(fs, "tasks"), k, x) {
			int64_t done = jx_int(x, "done", 0), ok = jx_int(x, "on_time", 0);
			json_t *mo = json_object_get(mindex, jx_str(x, "month", ""));
			if (mo) {
				bump(mo, "tasks_done", done);
				bump(mo, "tasks_on_time", ok);
			}
			json_t *u = unit_entry(c, units, jx_str(x, "org_path", ""), &st, e);
			bump(u, "tasks_done", done);
			bump(u, "tasks_on_time", ok);
			const char *fk = jx_str(x, "flow", "");
			json_t *fl = json_object_get(flows, fk);
			if (!fl) {
				fl = json_pack("{s:s, s:i, s:i, s:i, s:i}", "flow", fk,
				               "tasks_done", 0, "tasks_on_time", 0, "closed", 0,
				               "closed_on_time", 0);
				json_object_set_new(flows, fk, fl);
			}
			bump(fl, "tasks_done", done);
			bump(fl, "tasks_on_time", ok);
		}
		json_array_foreach (json_object_get(fs, "instances"), k, x) {
			int64_t closed = jx_int(x, "closed", 0), ok = jx_int(x, "on_time", 0);
			json_t *mo = json_object_get(mindex, jx_str(x, "month", ""));
			if (mo) {
				bump(mo, "closed", closed);
				bump(mo, "closed_on_time", ok);
			}
			const char *fk = jx_str(x, "flow", "");
			json_t *fl = json_object_get(flows, fk);
			if (!fl) {
				fl = json_pack("{s:s, s:i, s:i, s:i, s:i}", "flow", fk,
				               "tasks_done", 0, "tasks_on_time", 0, "closed", 0,
				               "closed_on_time", 0);
				json_object_set_new(flows, fk, fl);
			}
			bump(fl, "closed", closed);
			bump(fl, "closed_on_time", ok);
		}
		json_array_foreach (json_object_get(fs, "open"), k, x) {
			json_t *u = unit_entry(c, units, jx_str(x, "org_path", ""), &st, e);
			bump(u, "open", jx_int(x, "open", 0));
			bump(u, "overdue", jx_int(x, "overdue", 0));
		}
		json_decref(fs);
	}
	/* cards issued per month */
	buf sql;
	buf_init(&sql, 8192);
	sv_where w = {0};
	BUF_TRY(st, buf_puts(&sql, "SELECT c.issued_at, c.colour" SV_CARD_FROM " WHERE 1 = 1"));
	supervise_filter f = {.from = from, .to = to};
	bool any = sv_where_add(&w, &sql, scope, &f);
	if (st == YZ_OK && any) {
		store_rows *r;
		st = store_query(c, buf_str(&sql), w.args, w.na, &r, e);
		while (st == YZ_OK && store_next(r)) {
			char k[16];
			month_key(store_col_int(r, 0), k);
			json_t *mo = json_object_get(mindex, k);
			if (mo)
				bump(mo, store_col_text(r, 1), 1);
		}
		if (st == YZ_OK)
			st = store_rows_close(r, e);
	}
	sv_where_free(&w);
	buf_free(&sql);
	/* rates and totals */
	json_t *totals =
	    json_pack("{s:i, s:i, s:i, s:i, s:i, s:i}", "tasks_done", 0, "tasks_on_time", 0,
	              "closed", 0, "closed_on_time", 0, "open", 0, "overdue", 0);
	size_t i;
	json_t *x;
	json_array_foreach (months, i, x) {
		json_object_set_new(
		    x, "task_rate",
		    rate(jx_int(x, "tasks_on_time", 0), jx_int(x, "tasks_done", 0)));
		json_object_set_new(x, "closed_rate",
		                    rate(jx_int(x, "closed_on_time", 0), jx_int(x, "closed", 0)));
		bump(totals, "tasks_done", jx_int(x, "tasks_done", 0));
		bump(totals, "tasks_on_time", jx_int(x, "tasks_on_time", 0));
		bump(totals, "closed", jx_int(x, "closed", 0));
		bump(totals, "closed_on_time", jx_int(x, "closed_on_time", 0));
	}
	json_t *bu = values_by_path(units), *bf = values_by_path(flows);
	json_array_foreach (bu, i, x) {
		json_object_set_new(
		    x, "task_rate",
		    rate(jx_int(x, "tasks_on_time", 0), jx_int(x, "tasks_done", 0)));
		bump(totals, "open", jx_int(x, "open", 0));
		bump(totals, "overdue", jx_int(x, "overdue", 0));
	}
	/* flow names from the registry */
	json_t *defs = flow_defs_json();
	json_array_foreach (bf, i, x) {
		json_object_set_new(
		    x, "task_rate",
		    rate(jx_int(x, "tasks_on_time", 0), jx_int(x, "tasks_done", 0)));
		json_object_set_new(x, "closed_rate",
		                    rate(jx_int(x, "closed_on_time", 0), jx_int(x, "closed", 0)));
		size_t k;
		json_t *dd;
		jx_set_str(x, "flow_name", jx_str(x, "flow", ""));
		json_array_foreach (defs, k, dd)
			if (!strcmp(jx_str(dd, "key", ""), jx_str(x, "flow", "")))
				jx_set_str(x, "flow_name", jx_str(dd, "name", ""));
	}
	json_decref(defs);
	json_object_set_new(
	    totals, "task_rate",
	    rate(jx_int(totals, "tasks_on_time", 0), jx_int(totals, "tasks_done", 0)));
	json_object_set_new(totals, "closed_rate",
	                    rate(jx_int(totals, "closed_on_time", 0), jx_int(totals, "closed", 0)));
	json_decref(mindex);
	json_decref(units);
	json_decref(flows);
	if (st != YZ_OK) {
		json_decref(months);
		json_decref(bu);
		json_decref(bf);
		json_decref(totals);
		return st;
	}
	*out = json_pack("{s:o, s:o, s:o, s:o}", "months", months, "by_unit", bu, "by_flow", bf,
	                 "totals", totals);
	return YZ_OK;
}
