/*
 * iam_org.c — the organisation tree.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/idcodes.h"
#include "core/slice.h"
#include "iam/iam_int.h"

static bool check_division(json_t *v, const char **rule, const char **expected)
{
	const char *s = json_string_value(v);
	size_t n = strlen(s);
	*rule = "pattern";
	*expected = "a GB/T 2260 code: 6 digits (or 9/12 for streets and communities)";
	if (n == 0)
		return true;
	if (n != 6 && n != 9 && n != 12)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* GB 32100-2015 unified social credit code (core/idcodes). */
static bool check_uscc(json_t *v, const char **rule, const char **expected)
{
	const char *s = json_string_value(v);
	*rule = "uscc";
	*expected = "an 18-character unified social credit code with a valid check character";
	return !*s || idcode_uscc_ok(s, NULL);
}

static const jx_field org_create_fields[] = {
    {"code", JX_STRING, true, 0, 0, iam_check_code},
    {"name", JX_STRING, true, 1, 64, NULL},
    {"kind", JX_STRING, true, 0, 0, iam_check_org_kind},
    {"parent_id", JX_INT, false, 1, 0, NULL},
    {"division_code", JX_STRING, false, 0, 0, check_division},
    {"uscc", JX_STRING, false, 0, 0, check_uscc},
    {"sort", JX_INT, false, 0, 1000000, NULL},
    {NULL, 0, false, 0, 0, NULL},
};

static const jx_field org_update_fields[] = {
    {"name", JX_STRING, false, 1, 64, NULL},
    {"division_code", JX_STRING, false, 0, 0, check_division},
    {"uscc", JX_STRING, false, 0, 0, check_uscc},
    {"sort", JX_INT, false, 0, 1000000, NULL},
    {"status", JX_STRING, false, 0, 0, NULL},
    {NULL, 0, false, 0, 0, NULL},
};

static const char *empty_null(const char *s)
{
	return s && *s ? s : NULL;
}

yz_status iam_org_insert_tx(store_conn *tx, const yz_actor *who, json_t *in, int64_t *id, yz_err *e)
{
	int64_t parent = jx_int(in, "parent_id", 0);
	char parent_path[IAM_PATH_MAX] = "/";
	yz_status st;
	if (parent) {
		st = iam_org_path_tx(tx, parent, parent_path, sizeof parent_path, e);
		if (st == YZ_ENOTFOUND) {
			*e = (yz_err){0};
			return yz_field(e, "parent_id", "exists", "an existing organisation", NULL);
		}
		if (st != YZ_OK)
			return st;
		if (!iam_path_in_scope(&who->scope, parent_path))
			return yz_fail(e, YZ_EFORBIDDEN,
			               "the parent organisation is outside your scope");
	} else {
		int64_t roots = 0;
		st = store_query_int(tx, "SELECT COUNT(*) FROM iam_org WHERE parent_id IS NULL",
		                     NULL, 0, &roots, e);
		if (st != YZ_OK)
			return st;
		if (roots > 0)
			return yz_field(e, "parent_id", "required",
			                "a parent: only the city itself has none", NULL);
		if (!who->scope.all)
			return yz_fail(e, YZ_EFORBIDDEN,
			               "only an unrestricted operator creates the root");
	}
	int64_t now = clock_now_ms();
	store_val a[] = {parent ? sv_int(parent) : sv_null(),
	                 sv_text(jx_str(in, "code", "")),
	                 sv_text(jx_str(in, "name", "")),
	                 sv_text(jx_str(in, "kind", "")),
	                 sv_text(empty_null(jx_str(in, "division_code", NULL))),
	                 sv_text(empty_null(jx_str(in, "uscc", NULL))),
	                 sv_int(jx_int(in, "sort", 0)),
	                 sv_int(now),
	                 sv_int(now)};
	st = store_query_int(
	    tx,
	    "INSERT INTO iam_org (parent_id, code, name, kind, division_code, uscc, "
	    "sort, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
	    "RETURNING id",
	    a, SV_N(a), id, e);
	if (st == YZ_ECONFLICT) {
		*e = (yz_err){0};
		return yz_field(e, "code", "unique", "a code no other organisation has",
		                jx_str(in, "code", ""));
	}
	if (st != YZ_OK)
		return st;
	char path[IAM_PATH_MAX];
	snprintf(path, sizeof path, "%s%lld/", parent_path, (long long)*id);
	store_val u[] = {sv_text(path), sv_int(*id)};
	st = store_exec(tx, "UPDATE iam_org SET path = ? WHERE id = ?", u, 2, e);
	if (st != YZ_OK)
		return st;
	char obj[32];
	snprintf(obj, sizeof obj, "org:%lld", (long long)*id);
	return audit_append(tx, who, "iam.org.create", obj, path, in, e);
}

typedef struct org_job {
	const yz_actor *who;
	json_t *in;
	int64_t id;
} org_job;

static yz_status create_job(store_conn *tx, void *arg, yz_err *e)
{
	org_job *j = arg;
	return iam_org_insert_tx(tx, j->who, j->in, &j->id, e);
}

yz_status iam_org_validate_create(json_t *in, yz_err *e)
{
	return jx_validate(in, org_create_fields, e);
}

yz_status iam_org_create(store *s, const yz_actor *who, json_t *in, int64_t *id, yz_err *e)
{
	yz_status st = jx_validate(in, org_create_fields, e);
	if (st != YZ_OK)
		return st;
	org_job j = {who, in, 0};
	st = store_write(s, create_job, &j, e);
	if (st == YZ_OK)
		*id = j.id;
	return st;
}

static yz_status update_job(store_conn *tx, void *arg, yz_err *e)
{
	org_job *j = arg;
	char path[IAM_PATH_MAX];
	yz_status st = iam_org_path_tx(tx, j->id, path, sizeof path, e);
	if (st != YZ_OK)
		return st;
	if (!iam_path_in_scope(&j->who->scope, path))
		return yz_fail(e, YZ_ENOTFOUND, "no organisation %lld", (long long)j->id);
	const char *status = jx_str(j->in, "status", NULL);
	if (status && strcmp(status, "active") && strcmp(status, "closed"))
		return yz_field(e, "status", "enum", "active or closed", status);
	bool set_div = json_object_get(j->in, "division_code") != NULL;
	bool set_uscc = json_object_get(j->in, "uscc") != NULL;
	json_t *sort = json_object_get(j->in, "sort");
	store_val a[] = {sv_text(jx_str(j->in, "name", NULL)),
	                 sv_int(set_div),
	                 sv_text(jx_str(j->in, "division_code", "")),
	                 sv_int(set_uscc),
	                 sv_text(jx_str(j->in, "uscc", "")),
	                 sort ? sv_int(json_integer_value(sort)) : sv_null(),
	                 sv_text(status),
	                 sv_int(clock_now_ms()),
	                 sv_int(j->id)};
	st =
	    store_exec(tx,
	               "UPDATE iam_org SET name = COALESCE(?, name),"
	               " division_code = CASE WHEN ? = 1 THEN NULLIF(?, '') ELSE division_code END,"
	               " uscc = CASE WHEN ? = 1 THEN NULLIF(?, '') ELSE uscc END,"
	               " sort = COALESCE(?, sort), status = COALESCE(?, status),"
	               " updated_at = ?, version = version + 1 WHERE id = ?",
	               a, SV_N(a), e);
	if (st != YZ_OK)
		return st;
	char obj[32];
	snprintf(obj, sizeof obj, "org:%lld", (long long)j->id);
	return audit_append(tx, j->who, "iam.org.update", obj, path, j->in, e);
}

yz_status iam_org_update(store *s, const yz_actor *who, int64_t id, json_t *in, yz_err *e)
{
	yz_status st = jx_validate(in, org_update_fields, e);
	if (st != YZ_OK)
		return st;
	org_job j = {who, in, id};
	return store_write(s, update_job, &j, e);
}

#define ORG_COLS                                                                                   \
	"id, parent_id, path, code, name, kind, division_code, uscc, sort, status, version, "      \
	"updated_at"

static json_t *org_row(store_rows *r)
{
	json_t *o = json_object();
	jx_set_int(o, "id", store_col_int(r, 0));
	if (store_col_null(r, 1))
		json_object_set_new(o, "parent_id", json_null());
	else
		jx_set_int(o, "parent_id", store_col_int(r, 1));
	jx_set_str(o, "path", store_col_text(r, 2));
	jx_set_str(o, "code", store_col_text(r, 3));
	jx_set_str(o, "name", store_col_text(r, 4));
	jx_set_str(o, "kind", store_col_text(r, 5));
	jx_set_str(o, "division_code", store_col_null(r, 6) ? NULL : store_col_text(r, 6));
	jx_set_str(o, "uscc", store_col_null(r, 7) ? NULL : store_col_text(r, 7));
	jx_set_int(o, "sort", store_col_int(r, 8));
	jx_set_str(o, "status", store_col_text(r, 9));
	jx_set_int(o, "version", store_col_int(r, 10));
	char t[40];
	clock_format_city(store_col_int(r, 11), t, sizeof t);
	jx_set_str(o, "updated_at", t);
	return o;
}

yz_status iam_org_get(store_conn *c, const yz_scope *scope, int64_t id, json_t **out, yz_err *e)
{
	*out = NULL;
	store_rows *r;
	store_val a[] = {sv_int(id)};
	yz_status st = store_query(c, "SELECT " ORG_COLS " FROM iam_org WHERE id = ?", a, 1, &r, e);
	if (st != YZ_OK)
		return st;
	json_t *o = NULL;
	if (store_next(r) && iam_path_in_scope(scope, store_col_text(r, 2)))
		o = org_row(r);
	st = store_rows_close(r, e);
	if (st == YZ_OK && !o)
		st = yz_fail(e, YZ_ENOTFOUND, "no organisation %lld", (long long)id);
	if (st != YZ_OK) {
		json_decref(o);
		return st;
	}
	*out = o;
	return YZ_OK;
}

yz_status iam_org_find_code(store_conn *c, const char *code, int64_t *id, yz_err *e)
{
	store_val a[] = {sv_text(code)};
	yz_status st = store_query_int(c, "SELECT id FROM iam_org WHERE code = ?", a, 1, id, e);
	if (st == YZ_ENOTFOUND)
		return yz_fail(e, YZ_ENOTFOUND, "no organisation with code %s", code);
	return st;
}

/* Depth-first order by (sort, id) under each parent. */
typedef struct node {
	json_t *o;
	int64_t id, parent;
	int sort;
	int first_child, next_sibling, depth;
} node;

static int cmp_node(const void *a, const void *b)
{
	const node *x = a, *y = b;
	if (x->parent != y->parent)
		return x->parent < y->parent ? -1 : 1;
	if (x->sort != y->sort)
		return x->sort < y->sort ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static void emit(node *ns, int n, int i, int depth, json_t *arr)
{
	(void)n;
	ns[i].depth = depth;
	jx_set_int(ns[i].o, "depth", depth);
	json_array_append(arr, ns[i].o);
	for (int c = ns[i].first_child; c >= 0; c = ns[c].next_sibling)
		emit(ns, n, c, depth + 1, arr);
}

yz_status iam_org_list(store_conn *c, const yz_scope *scope, const char *kind, const char *q,
                       json_t **out, yz_err *e)
{
	*out = NULL;
	store_rows *r;
	yz_status st = store_query(c, "SELECT " ORG_COLS " FROM iam_org", NULL, 0, &r, e);
	if (st != YZ_OK)
		return st;
	node *ns = NULL;
	int n = 0, cap = 0;
	while (store_next(r)) {
		if (!iam_path_in_scope(scope, store_col_text(r, 2)))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			node *nn = realloc(ns, sizeof *nn * (size_t)cap);
			if (!nn)
				break;
			ns = nn;
		}
		node *x = &ns[n++];
		x->o = org_row(r);
		x->id = store_col_int(r, 0);
		x->parent = store_col_null(r, 1) ? 0 : store_col_int(r, 1);
		x->sort = (int)store_col_int(r, 8);
		x->first_child = x->next_sibling = -1;
	}
	st = store_rows_close(r, e);
	json_t *arr = json_array();
	if (st == YZ_OK && n) {
		qsort(ns, (size_t)n, sizeof *ns, cmp_node);
		/* link children; a node whose parent is not in the list is a root of
		 * the scoped forest */
		for (int i = n - 1; i >= 0; i--) {
			for (int p = 0; p < n; p++) {
				if (ns[p].id == ns[i].parent) {
					ns[i].next_sibling = ns[p].first_child;
					ns[p].first_child = i;
					break;
				}
			}
		}
		json_t *all = json_array();
		for (int i = 0; i < n; i++) {
			bool has_parent = false;
			for (int p = 0; p < n && !has_parent; p++)
				has_parent = ns[p].id == ns[i].parent;
			if (!has_parent)
				emit(ns, n, i, 0, all);
		}
		size_t idx;
		json_t *o;
		json_array_foreach (all, idx, o) {
			if (kind && *kind && strcmp(jx_str(o, "kind", ""), kind) != 0)
				continue;
			if (q && *q && !strstr(jx_str(o, "name", ""), q) &&
			    !strstr(jx_str(o, "code", ""), q))
				continue;
			json_array_append(arr, o);
		}
		json_decref(all);
	}
	for (int i = 0; i < n; i++)
		json_decref(ns[i].o);
	free(ns);
	if (st != YZ_OK) {
		json_decref(arr);
		return st;
	}
	*out = arr;
	return YZ_OK;
}
