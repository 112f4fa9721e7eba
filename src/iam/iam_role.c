/*
 * iam_role.c — roles as named sets of declared permissions.
 */
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "iam/iam_int.h"

static const jx_field role_create_fields[] = {
    {"code", JX_STRING, true, 0, 0, iam_check_code},
    {"name", JX_STRING, true, 1, 32, NULL},
    {"description", JX_STRING, false, 0, 200, NULL},
    {"permissions", JX_ARRAY, true, 0, 100, NULL},
    {NULL, 0, false, 0, 0, NULL},
};

static const jx_field role_update_fields[] = {
    {"name", JX_STRING, false, 1, 32, NULL},
    {"description", JX_STRING, false, 0, 200, NULL},
    {"permissions", JX_ARRAY, false, 0, 100, NULL},
    {NULL, 0, false, 0, 0, NULL},
};

static yz_status check_perms(json_t *perms, yz_err *e)
{
	size_t i;
	json_t *p;
	bool bad = false;
	json_array_foreach (perms, i, p) {
		char field[40];
		snprintf(field, sizeof field, "permissions[%zu]", i);
		if (!json_is_string(p)) {
			yz_field(e, field, "type", "a permission name", NULL);
			bad = true;
		} else if (!iam_perm_known(json_string_value(p))) {
			yz_field(e, field, "known", "a permission declared by a module",
			         json_string_value(p));
			bad = true;
		}
	}
	return bad ? YZ_EINVAL : YZ_OK;
}

static yz_status set_perms_tx(store_conn *tx, int64_t role_id, json_t *perms, yz_err *e)
{
	store_val a[] = {sv_int(role_id)};
	yz_status st = store_exec(tx, "DELETE FROM iam_role_perm WHERE role_id = ?", a, 1, e);
	size_t i;
	json_t *p;
	json_array_foreach (perms, i, p) {
		if (st != YZ_OK)
			break;
		store_val b[] = {sv_int(role_id), sv_text(json_string_value(p))};
		st = store_exec(
		    tx,
		    "INSERT INTO iam_role_perm (role_id, perm) VALUES (?, ?) ON CONFLICT "
		    "DO NOTHING",
		    b, 2, e);
	}
	return st;
}

yz_status iam_role_insert_tx(store_conn *tx, const yz_actor *who, json_t *in, int64_t *id,
                             yz_err *e)
{
	if (!who->scope.all)
		return yz_fail(e, YZ_EFORBIDDEN,
		               "roles are defined city-wide: an unrestricted "
		               "iam.role.manage is needed");
	int64_t now = clock_now_ms();
	store_val a[] = {sv_text(jx_str(in, "code", "")), sv_text(jx_str(in, "name", "")),
	                 sv_text(jx_str(in, "description", "")), sv_int(now), sv_int(now)};
	yz_status st = store_query_int(tx,
	                               "INSERT INTO iam_role (code, name, description, created_at, "
	                               "updated_at) VALUES (?, ?, ?, ?, ?) RETURNING id",
	                               a, 5, id, e);
	if (st == YZ_ECONFLICT) {
		*e = (yz_err){0};
		return yz_field(e, "code", "unique", "a code no other role has",
		                jx_str(in, "code", ""));
	}
	if (st == YZ_OK)
		st = set_perms_tx(tx, *id, json_object_get(in, "permissions"), e);
	if (st != YZ_OK)
		return st;
	char obj[32];
	snprintf(obj, sizeof obj, "role:%lld", (long long)*id);
	return audit_append(tx, who, "iam.role.create", obj, NULL, in, e);
}

typedef struct role_job {
	const yz_actor *who;
	json_t *in;
	int64_t id;
} role_job;

static yz_status create_job(store_conn *tx, void *arg, yz_err *e)
{
	role_job *j = arg;
	return iam_role_insert_tx(tx, j->who, j->in, &j->id, e);
}

yz_status iam_role_validate_create(json_t *in, yz_err *e)
{
	yz_status st = jx_validate(in, role_create_fields, e);
	if (st == YZ_OK)
		st = check_perms(json_object_get(in, "permissions"), e);
	return st;
}

yz_status iam_role_create(store *s, const yz_actor *who, json_t *in, int64_t *id, yz_err *e)
{
	yz_status st = iam_role_validate_create(in, e);
	if (st != YZ_OK)
		return st;
	role_job j = {who, in, 0};
	st = store_write(s, create_job, &j, e);
	if (st == YZ_OK)
		*id = j.id;
	return st;
}

static yz_status update_job(store_conn *tx, void *arg, yz_err *e)
{
	role_job *j = arg;
	if (!j->who->scope.all)
		return yz_fail(e, YZ_EFORBIDDEN,
		               "roles are defined city-wide: an unrestricted "
		               "iam.role.manage is needed");
	store_val a[] = {sv_text(jx_str(j->in, "name", NULL)),
	                 sv_text(jx_str(j->in, "description", NULL)), sv_int(clock_now_ms()),
	                 sv_int(j->id)};
	yz_status st = store_exec(tx,
	                          "UPDATE iam_role SET name = COALESCE(?, name), description = "
	                          "COALESCE(?, description), updated_at = ? WHERE id = ?",
	                          a, 4, e);
	if (st != YZ_OK)
		return st;
	if (store_changes(tx) == 0)
		return yz_fail(e, YZ_ENOTFOUND, "no role %lld", (long long)j->id);
	json_t *perms = json_object_get(j->in, "permissions");
	if (perms && (st = set_perms_tx(tx, j->id, perms, e)) != YZ_OK)
		return st;
	char obj[32];
	snprintf(obj, sizeof obj, "role:%lld", (long long)j->id);
	return audit_append(tx, j->who, "iam.role.update", obj, NULL, j->in, e);
}

yz_status iam_role_update(store *s, const yz_actor *who, int64_t id, json_t *in, yz_err *e)
{
	yz_status st = jx_validate(in, role_update_fields, e);
	if (st == YZ_OK && json_object_get(in, "permissions"))
		st = check_perms(json_object_get(in, "permissions"), e);
	if (st != YZ_OK)
		return st;
	role_job j = {who, in, id};
	return iam_changed(store_write(s, update_job, &j, e));
}

static yz_status role_perms(store_conn *c, int64_t id, json_t *o, yz_err *e)
{
	store_rows *r;
	store_val a[] = {sv_int(id)};
	yz_status st = store_query(
	    c, "SELECT perm FROM iam_role_perm WHERE role_id = ? ORDER BY perm", a, 1, &r, e);
	if (st != YZ_OK)
		return st;
	json_t *p = json_array();
	while (store_next(r))
		json_array_append_new(p, json_string(store_col_text(r, 0)));
	json_object_set_new(o, "permissions", p);
	return store_rows_close(r, e);
}

static json_t *role_row(store_rows *r)
{
	json_t *o = json_object();
	jx_set_int(o, "id", store_col_int(r, 0));
	jx_set_str(o, "code", store_col_text(r, 1));
	jx_set_str(o, "name", store_col_text(r, 2));
	jx_set_str(o, "description", store_col_text(r, 3));
	jx_set_int(o, "holders", store_col_int(r, 4));
	return o;
}

#define ROLE_SQL                                                                                   \
	"SELECT r.id, r.code, r.name, r.description, (SELECT COUNT(DISTINCT ur.user_id) FROM "     \
	"iam_user_role ur WHERE ur.role_id = r.id) FROM iam_role r"

yz_status iam_role_get(store_conn *c, int64_t id, json_t **out, yz_err *e)
{
	*out = NULL;
	store_rows *r;
	store_val a[] = {sv_int(id)};
	yz_status st = store_query(c, ROLE_SQL " WHERE r.id = ?", a, 1, &r, e);
	if (st != YZ_OK)
		return st;
	json_t *o = store_next(r) ? role_row(r) : NULL;
	st = store_rows_close(r, e);
	if (st == YZ_OK && !o)
		st = yz_fail(e, YZ_ENOTFOUND, "no role %lld", (long long)id);
	if (st == YZ_OK)
		st = role_perms(c, id, o, e);
	if (st != YZ_OK) {
		json_decref(o);
		return st;
	}
	*out = o;
	return YZ_OK;
}

yz_status iam_role_list(store_conn *c, json_t **out, yz_err *e)
{
	*out = NULL;
	store_rows *r;
	yz_status st = store_query(c, ROLE_SQL " ORDER BY r.id", NULL, 0, &r, e);
	if (st != YZ_OK)
		return st;
	json_t *arr = json_array();
	while (store_next(r))
		json_array_append_new(arr, role_row(r));
	st = store_rows_close(r, e);
	size_t i;
	json_t *o;
	json_array_foreach (arr, i, o) {
		if (st != YZ_OK)
			break;
		st = role_perms(c, jx_int(o, "id", 0), o, e);
	}
	if (st != YZ_OK) {
		json_decref(arr);
		return st;
	}
	*out = arr;
	return YZ_OK;
}
