/*
 * flow_stats.c — on-time figures for supervision and dashboards: per month,
 * per handling unit and per flow, how many tasks were done and how many of
 * them within their limit; how many instances closed and how many within the
 * promised limit; how many tasks are open and overdue now.
 *
 * Aggregated here (months in Asia/Shanghai), so the SQL stays the same on
 * both engines.
 */
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/jx.h"
#include "flow/flow.h"
#include "flow/flow_int.h"

static void month_of(int64_t ms, char out[16])
{
	int64_t t = ms + CLOCK_CITY_OFFSET_MS;
	int64_t day = (t >= 0 ? t : t - 86399999) / 86400000;
	int y, m, d;
	clock_civil_from_days(day, &y, &m, &d);
	snprintf(out, 16, "%04d-%02d", y, m);
}

static bool under(const char *path, const char *prefix)
{
	return !prefix || !*prefix || !strncmp(path, prefix, strlen(prefix));
}

/* Add one row into the bucket {month, org_path, flow} of arr. */
static void bump(json_t *index, json_t *arr, const char *month, const char *org, const char *flow,
                 const char *total_key, const char *ok_key, bool ok)
{
	char k[600];
	snprintf(k, sizeof k, "%s|%s|%s", month, org, flow);
	json_t *b = json_object_get(index, k);
	if (!b) {
		b = json_pack("{s:s, s:s, s:s, s:i, s:i}", "month", month, "org_path", org, "flow",
		              flow, total_key, 0, ok_key, 0);
		json_array_append_new(arr, b);
		json_object_set(index, k, b);
	}
	jx_set_int(b, total_key, jx_int(b, total_key, 0) + 1);
	if (ok)
		jx_set_int(b, ok_key, jx_int(b, ok_key, 0) + 1);
}

/* Close rows (if any), keeping the first failure. */
static yz_status close_rows(store_rows *r, yz_status st, yz_err *e)
{
	if (!r)
		return st;
	yz_status cs = store_rows_close(r, st == YZ_OK ? e : NULL);
	return st != YZ_OK ? st : cs;
}

yz_status flow_stats(store_conn *c, int64_t from_ms, int64_t to_ms, const char *org_prefix,
                     json_t **out, yz_err *e)
{
	*out = NULL;
	json_t *tasks = json_array(), *insts = json_array(), *open = json_array();
	json_t *ti = json_object(), *ii = json_object(), *oi = json_object();
	store_rows *r = NULL;
	store_val a[] = {sv_int(from_ms), sv_int(to_ms)};
	/* tasks done in the period (the applicant's own tasks are not a unit's) */
	yz_status st = store_query(
	    c,
	    "SELECT t.done_at, COALESCE(t.due_at, 0), COALESCE(t.cand_org_path, t.cand_dept_path), "
	    "i.def_key FROM flow_token t JOIN flow_instance i ON i.id = t.instance_id WHERE t.kind "
	    "= 'task' AND t.status = 'done' AND t.done_at >= ? AND t.done_at < ? AND "
	    "(t.cand_org_path IS NOT NULL OR t.cand_dept_path IS NOT NULL)",
	    a, 2, &r, e);
	while (st == YZ_OK && store_next(r)) {
		const char *org = store_col_text(r, 2);
		if (!under(org, org_prefix))
			continue;
		char m[16];
		month_of(store_col_int(r, 0), m);
		int64_t due = store_col_int(r, 1);
		bump(ti, tasks, m, org, store_col_text(r, 3), "done", "on_time",
		     !due || store_col_int(r, 0) <= due);
	}
	st = close_rows(r, st, e);
	r = NULL;
	/* instances closed in the period */
	if (st == YZ_OK)
		st = store_query(c,
		                 "SELECT closed_at, COALESCE(due_at, 0), org_path, def_key FROM "
		                 "flow_instance WHERE status = 'closed' AND closed_at >= ? AND "
		                 "closed_at < ?",
		                 a, 2, &r, e);
	while (st == YZ_OK && store_next(r)) {
		const char *org = store_col_text(r, 2);
		if (!under(org, org_prefix))
			continue;
		char m[16];
		month_of(store_col_int(r, 0), m);
		int64_t due = store_col_int(r, 1);
		bump(ii, insts, m, org, store_col_text(r, 3), "closed", "on_time",
		     !due || store_col_int(r, 0) <= due);
	}
	st = close_rows(r, st, e);
	r = NULL;
	/* open tasks now, and how many of them are overdue */
	if (st == YZ_OK)
		st = store_query(
		    c,
		    "SELECT COALESCE(t.due_at, 0), COALESCE(t.cand_org_path, "
		    "t.cand_dept_path), i.def_key FROM flow_token t JOIN flow_instance i "
		    "ON i.id = t.instance_id WHERE t.kind = 'task' AND t.status = 'active' "
		    "AND (t.cand_org_path IS NOT NULL OR t.cand_dept_path IS NOT NULL)",
		    NULL, 0, &r, e);
	int64_t now = clock_now_ms();
	while (st == YZ_OK && store_next(r)) {
		const char *org = store_col_text(r, 1);
		if (!under(org, org_prefix))
			continue;
		int64_t due = store_col_int(r, 0);
		bump(oi, open, "now", org, store_col_text(r, 2), "open", "overdue",
		     due && due < now);
	}
	st = close_rows(r, st, e);
	json_decref(ti);
	json_decref(ii);
	json_decref(oi);
	if (st != YZ_OK) {
		json_decref(tasks);
		json_decref(insts);
		json_decref(open);
		return st;
	}
	*out = json_pack("{s:o, s:o, s:o}", "tasks", tasks, "instances", insts, "open", open);
	return YZ_OK;
}
