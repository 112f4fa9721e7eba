/*
 * flow_view.c — reading flows: one instance with its tasks, timeline and the
 * commands allowed now; the work inbox; recomputing deadlines after a
 * calendar change; migrating instances to a new definition version.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/jx.h"
#include "flow/flow_store.h"
#include "iam/iam.h"

static int64_t city_day(int64_t ms)
{
	int64_t t = ms + CLOCK_CITY_OFFSET_MS;
	return (t >= 0 ? t : t - 86399999) / 86400000;
}

static void set_time(json_t *o, const char *k, int64_t ms)
{
	if (!ms) {
		json_object_set_new(o, k, json_null());
		return;
	}
	char t[40];
	clock_format_city(ms, t, sizeof t);
	jx_set_str(o, k, t);
}

/* Working days from a to b (negative when b is before a), for display. */
static int workdays_from(int64_t a, int64_t b)
{
	const calendar *cal = flow_calendar();
	if (!cal)
		return (int)((b - a) / 86400000);
	int64_t da = city_day(a), db = city_day(b);
	return db >= da ? calendar_workdays_between(cal, da, db)
	                : -calendar_workdays_between(cal, db, da);
}

/* "overdue", "soon" (due within a working day) or "ok". */
static const char *deadline_state(int64_t due, int64_t now)
{
	if (!due)
		return "none";
	if (due < now)
		return "overdue";
	if (workdays_from(now, due) <= 1)
		return "soon";
	return "ok";
}

static const char *step_name(const flow_def *d, const char *step)
{
	int i = d ? flow_def_step_index(d, step) : -1;
	return i >= 0 ? d->steps[i].name : step;
}

/* ---- who may see what ---- */

typedef struct viewer {
	const yz_actor *who;
	iam_grant *grants;
	int ngrants;
	char path[256];
} viewer;

static yz_status viewer_load(store_conn *c, const yz_actor *who, arena *a, viewer *v, yz_err *e)
{
	memset(v, 0, sizeof *v);
	v->who = who;
	if (!who->user_id)
		return YZ_OK;
	yz_status st = iam_user_roles(c, who->user_id, a, &v->grants, &v->ngrants, e);
	if (st == YZ_OK && who->org_id)
		st = iam_org_path(c, who->org_id, v->path, sizeof v->path, e);
	return st;
}

static bool starts(const char *s, const char *p)
{
	return p && *p && s && !strncmp(s, p, strlen(p));
}

static bool candidate(const viewer *v, int64_t assignee, int64_t cand_user, const char *role,
                      const char *org, const char *dept)
{
	int64_t me = v->who->user_id;
	if (!me)
		return false;
	if (assignee)
		return assignee == me;
	if (cand_user == me)
		return true;
	if (*dept && starts(v->path, dept))
		return true;
	for (int i = 0; *role && i < v->ngrants; i++)
		if (!strcmp(v->grants[i].role, role) && starts(org, v->grants[i].path))
			return true;
	return false;
}

/* ---- one instance ---- */

yz_status flow_instance_get(store_conn *c, const yz_actor *who, int64_t id, json_t **out, yz_err *e)
{
	*out = NULL;
	arena *a = arena_new(1u << 20);
	if (!a)
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	viewer v;
	yz_status st = viewer_load(c, who, a, &v, e);
	store_rows *r = NULL;
	store_val args[] = {sv_int(id)};
	if (st == YZ_OK)
		st = store_query(
		    c,
		    "SELECT def_key, def_version, title, status, COALESCE(outcome, ''), data, "
		    "starter_id, org_path, started_at, COALESCE(closed_at, 0), COALESCE(due_at, "
		    "0), COALESCE(statutory_at, 0), COALESCE(suspended_at, 0), "
		    "COALESCE(suspend_kind, ''), suspended_ms, extended_days, "
		    "COALESCE(parent_id, 0) FROM flow_instance WHERE id = ?",
		    args, 1, &r, e);
	if (st != YZ_OK) {
		arena_free(a);
		return st;
	}
	json_t *o = NULL;
	const flow_def *d = NULL;
	int64_t starter = 0, started = 0;
	char org_path[256] = "";
	if (store_next(r)) {
		o = json_object();
		d = flow_def_get(store_col_text(r, 0), (int)store_col_int(r, 1));
		jx_set_int(o, "id", id);
		json_object_set_new(o, "flow",
		                    json_pack("{s:s, s:I, s:s}", "key", store_col_text(r, 0),
		                              "version", (json_int_t)store_col_int(r, 1), "name",
		                              d ? d->name : store_col_text(r, 0)));
		jx_set_str(o, "title", store_col_text(r, 2));
		jx_set_str(o, "status", store_col_text(r, 3));
		jx_set_str(o, "outcome", store_col_text(r, 4)[0] ? store_col_text(r, 4) : NULL);
		json_t *data = json_loads(store_col_text(r, 5), 0, NULL);
		json_object_set_new(o, "data", data ? data : json_object());
		starter = store_col_int(r, 6);
		jx_set_int(o, "starter_id", starter);
		yz_strlcpy(org_path, store_col_text(r, 7), sizeof org_path);
		started = store_col_int(r, 8);
		set_time(o, "started_at", started);
		set_time(o, "closed_at", store_col_int(r, 9));
		int64_t due = store_col_int(r, 10), stat = store_col_int(r, 11);
		set_time(o, "due_at", due);
		set_time(o, "statutory_at", stat);
		int64_t now = clock_now_ms();
		bool open = strcmp(store_col_text(r, 3), "closed") != 0;
		if (due && open) {
			jx_set_int(o, "workdays_left", workdays_from(now, due));
			jx_set_str(o, "deadline", deadline_state(due, now));
		}
		if (store_col_int(r, 12))
			json_object_set_new(
			    o, "suspended",
			    json_pack("{s:s, s:s}", "kind", store_col_text(r, 13), "since", ""));
		if (store_col_int(r, 12)) {
			char t[40];
			clock_format_city(store_col_int(r, 12), t, sizeof t);
			json_object_set_new(json_object_get(o, "suspended"), "since",
			                    json_string(t));
		}
		jx_set_int(o, "suspended_ms", store_col_int(r, 14));
		jx_set_int(o, "extended_workdays", store_col_int(r, 15));
		if (store_col_int(r, 16))
			jx_set_int(o, "parent_id", store_col_int(r, 16));
	}
	st = store_rows_close(r, e);
	if (st == YZ_OK && !o)
		st = yz_fail(e, YZ_ENOTFOUND, "no flow instance %lld", (long long)id);
	/* tasks, and whether the viewer takes part */
	bool involved = who->user_id && who->user_id == starter;
	json_t *tasks = json_array();
	if (st == YZ_OK)
		st = store_query(
		    c,
		    "SELECT id, step, kind, status, COALESCE(assignee, 0), COALESCE(cand_user, "
		    "0), COALESCE(cand_role, ''), COALESCE(cand_org_path, ''), "
		    "COALESCE(cand_dept_path, ''), created_at, COALESCE(due_at, 0), overdue, "
		    "COALESCE(done_at, 0), COALESCE(done_by, 0), COALESCE(outcome, ''), "
		    "COALESCE(child_id, 0) FROM flow_token WHERE instance_id = ? ORDER BY id",
		    args, 1, &r, e);
	if (st == YZ_OK) {
		int64_t now = clock_now_ms();
		while (store_next(r)) {
			json_t *t = json_object();
			const char *status = store_col_text(r, 3);
			jx_set_int(t, "id", store_col_int(r, 0));
			jx_set_str(t, "step", store_col_text(r, 1));
			jx_set_str(t, "step_name", step_name(d, store_col_text(r, 1)));
			jx_set_str(t, "kind", store_col_text(r, 2));
			jx_set_str(t, "status", status);
			int64_t assignee = store_col_int(r, 4), created = store_col_int(r, 9),
			        due = store_col_int(r, 10), done = store_col_int(r, 12);
			if (assignee)
				jx_set_int(t, "assignee_id", assignee);
			if (*store_col_text(r, 6))
				jx_set_str(t, "role", store_col_text(r, 6));
			set_time(t, "opened_at", created);
			set_time(t, "due_at", due);
			set_time(t, "done_at", done);
			if (store_col_int(r, 13))
				jx_set_int(t, "done_by", store_col_int(r, 13));
			if (*store_col_text(r, 14))
				jx_set_str(t, "outcome", store_col_text(r, 14));
			if (store_col_int(r, 15))
				jx_set_int(t, "child_id", store_col_int(r, 15));
			jx_set_int(t, "workdays_used", workdays_from(created, done ? done : now));
			bool active = !strcmp(status, "active");
			if (active && due) {
				jx_set_int(t, "workdays_left", workdays_from(now, due));
				jx_set_str(t, "deadline", deadline_state(due, now));
			}
			jx_set_bool(t, "overdue", store_col_int(r, 11) != 0);
			bool mine =
			    candidate(&v, assignee, store_col_int(r, 5), store_col_text(r, 6),
			              store_col_text(r, 7), store_col_text(r, 8));
			if (mine || (who->user_id && store_col_int(r, 13) == who->user_id))
				involved = true;
			jx_set_bool(t, "mine", active && mine);
			json_array_append_new(tasks, t);
		}
		st = store_rows_close(r, e);
	}
	if (st == YZ_OK && !involved && who->user_id) {
		int64_t n = 0;
		store_val b[] = {sv_int(id), sv_int(who->user_id)};
		st = store_query_int(
		    c, "SELECT COUNT(*) FROM flow_cc WHERE instance_id = ? AND user_id = ?", b, 2,
		    &n, e);
		involved = n > 0;
	}
	if (st == YZ_OK && !involved && !(org_path[0] && iam_path_in_scope(&who->scope, org_path)))
		st = yz_fail(e, YZ_ENOTFOUND, "no flow instance %lld", (long long)id);
	json_t *timeline = NULL;
	if (st == YZ_OK)
		st = flow_history_list(c, id, started, &timeline, e);
	if (st != YZ_OK) {
		json_decref(o);
		json_decref(tasks);
		json_decref(timeline);
		arena_free(a);
		return st;
	}
	/* time used between entries, in working days */
	int64_t prev = started;
	size_t i;
	json_t *h;
	json_array_foreach (timeline, i, h) {
		int64_t at = jx_int(h, "at_ms", prev);
		jx_set_int(h, "workdays_since_previous", workdays_from(prev, at));
		prev = at;
	}
	json_object_set_new(o, "tasks", tasks);
	json_object_set_new(o, "timeline", timeline);
	json_t *actions = json_array();
	if (flow_actions(c, who, id, actions, NULL) == YZ_OK)
		json_object_set_new(o, "actions", actions);
	else
		json_decref(actions);
	*out = o;
	arena_free(a);
	return YZ_OK;
}

/* ---- the inbox ---- */

yz_status flow_inbox(store_conn *c, const yz_actor *who, const char *box, const char *deadline,
                     int64_t before, int limit, json_t **out, yz_err *e)
{
	*out = NULL;
	if (limit <= 0 || limit > 200)
		limit = 50;
	if (!box || !*box)
		box = "todo";
	if (strcmp(box, "todo") && strcmp(box, "done") && strcmp(box, "mine") && strcmp(box, "cc"))
		return yz_field(e, "box", "enum", "todo, done, mine or cc", box);
	if (deadline && *deadline && strcmp(deadline, "overdue") && strcmp(deadline, "soon") &&
	    strcmp(deadline, "ok"))
		return yz_field(e, "deadline", "enum", "overdue, soon or ok", deadline);
	arena *a = arena_new(1u << 20);
	if (!a)
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	viewer v;
	yz_status st = viewer_load(c, who, a, &v, e);
	buf sql;
	buf_init(&sql, 16384);
	store_val args[80];
	int na = 0;
	int64_t now = clock_now_ms();
	bool task_rows = !strcmp(box, "todo") || !strcmp(box, "done");
	yz_status bs = YZ_OK;
	if (task_rows) {
		BUF_TRY(bs, buf_puts(
		                &sql,
		                "SELECT t.id, t.step, t.created_at, COALESCE(t.due_at, 0), "
		                "COALESCE(t.assignee, 0), i.id, i.title, i.def_key, i.def_version, "
		                "i.status, COALESCE(i.due_at, 0), COALESCE(t.done_at, 0), "
		                "COALESCE(t.outcome, '') FROM flow_token t JOIN flow_instance i ON "
		                "i.id = t.instance_id WHERE t.kind = 'task'"));
		if (!strcmp(box, "todo")) {
			BUF_TRY(bs,
			        buf_puts(&sql, " AND t.status = 'active' AND (t.assignee = ? OR "
			                       "(t.assignee IS NULL AND (t.cand_user = ?"));
			args[na++] = sv_int(who->user_id);
			args[na++] = sv_int(who->user_id);
			if (v.path[0]) {
				BUF_TRY(bs, buf_puts(&sql,
				                     " OR (t.cand_dept_path IS NOT NULL AND ? LIKE "
				                     "t.cand_dept_path || '%')"));
				args[na++] = sv_text(v.path);
			}
			for (int i = 0; i < v.ngrants && na < 70; i++) {
				BUF_TRY(bs,
				        buf_puts(&sql,
				                 " OR (t.cand_role = ? AND t.cand_org_path LIKE ? "
				                 "|| '%')"));
				args[na++] = sv_text(v.grants[i].role);
				args[na++] = sv_text(v.grants[i].path);
			}
			BUF_TRY(bs, buf_puts(&sql, ")))"));
		} else {
			BUF_TRY(bs, buf_puts(&sql, " AND t.done_by = ? AND t.status = 'done'"));
			args[na++] = sv_int(who->user_id);
		}
		if (deadline && *deadline && !strcmp(box, "todo")) {
			int64_t soon = now + 86400000;
			if (flow_calendar()) {
				int64_t d = city_day(now);
				int64_t nd = calendar_add_workdays(flow_calendar(), d, 1);
				soon = (nd + 1) * 86400000 - CLOCK_CITY_OFFSET_MS - 1;
			}
			if (!strcmp(deadline, "overdue")) {
				BUF_TRY(bs, buf_puts(&sql,
				                     " AND t.due_at IS NOT NULL AND t.due_at < ?"));
				args[na++] = sv_int(now);
			} else if (!strcmp(deadline, "soon")) {
				BUF_TRY(bs, buf_puts(&sql, " AND t.due_at >= ? AND t.due_at <= ?"));
				args[na++] = sv_int(now);
				args[na++] = sv_int(soon);
			} else {
				BUF_TRY(bs,
				        buf_puts(&sql, " AND (t.due_at IS NULL OR t.due_at > ?)"));
				args[na++] = sv_int(soon);
			}
		}
		if (before > 0) {
			BUF_TRY(bs, buf_puts(&sql, " AND t.id < ?"));
			args[na++] = sv_int(before);
		}
		BUF_TRY(bs, buf_printf(&sql, " ORDER BY t.id DESC LIMIT %d", limit + 1));
	} else {
		BUF_TRY(
		    bs,
		    buf_puts(&sql,
		             "SELECT 0, '', i.started_at, 0, 0, i.id, i.title, i.def_key, "
		             "i.def_version, i.status, COALESCE(i.due_at, 0), "
		             "COALESCE(i.closed_at, 0), COALESCE(i.outcome, '') FROM flow_instance "
		             "i WHERE "));
		if (!strcmp(box, "mine")) {
			BUF_TRY(bs, buf_puts(&sql, "i.starter_id = ?"));
		} else {
			BUF_TRY(bs,
			        buf_puts(&sql,
			                 "i.id IN (SELECT instance_id FROM flow_cc WHERE user_id "
			                 "= ?)"));
		}
		args[na++] = sv_int(who->user_id);
		if (before > 0) {
			BUF_TRY(bs, buf_puts(&sql, " AND i.id < ?"));
			args[na++] = sv_int(before);
		}
		BUF_TRY(bs, buf_printf(&sql, " ORDER BY i.id DESC LIMIT %d", limit + 1));
	}
	if (st == YZ_OK && bs != YZ_OK)
		st = yz_fail(e, bs, "inbox query too long");
	store_rows *r;
	json_t *items = json_array();
	int64_t last = 0;
	bool more = false;
	if (st == YZ_OK)
		st = store_query(c, buf_str(&sql), args, na, &r, e);
	if (st == YZ_OK) {
		int n = 0;
		while (store_next(r)) {
			if (n++ == limit) {
				more = true;
				break;
			}
			const flow_def *d =
			    flow_def_get(store_col_text(r, 7), (int)store_col_int(r, 8));
			json_t *it = json_object();
			int64_t tid = store_col_int(r, 0);
			last = task_rows ? tid : store_col_int(r, 5);
			if (task_rows) {
				jx_set_int(it, "task_id", tid);
				jx_set_str(it, "step", store_col_text(r, 1));
				jx_set_str(it, "step_name", step_name(d, store_col_text(r, 1)));
				jx_set_bool(it, "claimed", store_col_int(r, 4) != 0);
			}
			set_time(it, "opened_at", store_col_int(r, 2));
			int64_t due = task_rows ? store_col_int(r, 3) : store_col_int(r, 10);
			set_time(it, "due_at", due);
			if (due && (!task_rows || !strcmp(box, "todo")) &&
			    strcmp(store_col_text(r, 9), "closed") != 0) {
				jx_set_str(it, "deadline", deadline_state(due, now));
				jx_set_int(it, "workdays_left", workdays_from(now, due));
			}
			jx_set_int(it, "instance_id", store_col_int(r, 5));
			jx_set_str(it, "title", store_col_text(r, 6));
			jx_set_str(it, "flow", store_col_text(r, 7));
			jx_set_str(it, "flow_name", d ? d->name : store_col_text(r, 7));
			jx_set_str(it, "status", store_col_text(r, 9));
			set_time(it, "done_at", store_col_int(r, 11));
			if (*store_col_text(r, 12))
				jx_set_str(it, "outcome", store_col_text(r, 12));
			json_array_append_new(items, it);
		}
		st = store_rows_close(r, e);
	}
	buf_free(&sql);
	arena_free(a);
	if (st != YZ_OK) {
		json_decref(items);
		return st;
	}
	*out = json_pack("{s:o, s:o}", "items", items, "next",
	                 more ? json_integer(last) : json_null());
	return YZ_OK;
}
