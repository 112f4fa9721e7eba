/*
 * iam_user.c — users: create, edit, passwords, unlock, role assignments,
 * read and list within a scope.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/slice.h"
#include "crypto/crypto.h"
#include "iam/iam_int.h"

static const jx_field user_create_fields[] = {
    {"login", JX_STRING, true, 0, 0, iam_check_login},
    {"name", JX_STRING, true, 1, 32, NULL},
    {"kind", JX_STRING, true, 0, 0, iam_check_kind},
    {"org_id", JX_INT, false, 1, 0, NULL},
    {"password", JX_STRING, true, 1, 128, NULL},
    {"phone", JX_STRING, false, 0, 0, iam_check_phone},
    {"email", JX_STRING, false, 0, 128, iam_check_email},
    {NULL, 0, false, 0, 0, NULL},
};

static const jx_field user_update_fields[] = {
    {"name", JX_STRING, false, 1, 32, NULL},
    {"kind", JX_STRING, false, 0, 0, iam_check_kind},
    {"org_id", JX_INT, false, 1, 0, NULL},
    {"phone", JX_STRING, false, 0, 0, iam_check_phone},
    {"email", JX_STRING, false, 0, 128, iam_check_email},
    {"status", JX_STRING, false, 0, 0, NULL},
    {NULL, 0, false, 0, 0, NULL},
};

yz_status iam_password_policy(const char *pw, const char *login, const char *field, yz_err *e)
{
	size_t n = strlen(pw);
	int upper = 0, lower = 0, digit = 0, other = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)pw[i];
		if (c >= 'A' && c <= 'Z')
			upper = 1;
		else if (c >= 'a' && c <= 'z')
			lower = 1;
		else if (c >= '0' && c <= '9')
			digit = 1;
		else
			other = 1;
	}
	if (utf8_len(pw, n) < 10)
		return yz_field(e, field, "min-length", "at least 10 characters", NULL);
	if (upper + lower + digit + other < 3)
		return yz_field(e, field, "complexity",
		                "three of: upper-case, lower-case, digits, symbols", NULL);
	if (login && *login && strstr(pw, login))
		return yz_field(e, field, "not-login", "a password that does not contain the login",
		                NULL);
	return YZ_OK;
}

/* The org must exist and fit the kind: staff belong to an org, citizens and
 * enterprise representatives to none. */
static yz_status check_org_for_kind(int kind, int64_t org_id, yz_err *e)
{
	if (iam_kind_is_staff(kind) && !org_id)
		return yz_field(e, "org_id", "required", "staff belong to an organisation", NULL);
	if (!iam_kind_is_staff(kind) && org_id)
		return yz_field(e, "org_id", "forbidden",
		                "citizens and enterprise representatives belong to no organisation",
		                NULL);
	return YZ_OK;
}

static void user_obj(char *out, size_t cap, int64_t id)
{
	snprintf(out, cap, "user:%lld", (long long)id);
}

/* The change document for the audit chain: the input without secrets. */
static json_t *redacted(json_t *in)
{
	json_t *c = json_deep_copy(in);
	if (json_object_get(c, "password"))
		json_object_set_new(c, "password", json_string("[redacted]"));
	return c;
}

yz_status iam_user_insert_tx(store_conn *tx, const yz_actor *who, json_t *in, const char *pw_hash,
                             int64_t *id, yz_err *e)
{
	int64_t org = jx_int(in, "org_id", 0);
	char path[IAM_PATH_MAX] = "";
	yz_status st;
	if (org) {
		st = iam_org_path_tx(tx, org, path, sizeof path, e);
		if (st == YZ_ENOTFOUND) {
			*e = (yz_err){0};
			return yz_field(e, "org_id", "exists", "an existing organisation", NULL);
		}
		if (st != YZ_OK)
			return st;
	}
	if (!(org ? iam_path_in_scope(&who->scope, path) : who->scope.all))
		return yz_fail(e, YZ_EFORBIDDEN, "that organisation is outside your scope");
	int64_t now = clock_now_ms();
	const char *phone = jx_str(in, "phone", NULL), *email = jx_str(in, "email", NULL);
	store_val a[] = {sv_text(jx_str(in, "login", "")),
	                 sv_text(jx_str(in, "name", "")),
	                 sv_text(jx_str(in, "kind", "")),
	                 org ? sv_int(org) : sv_null(),
	                 sv_text(phone && *phone ? phone : NULL),
	                 sv_text(email && *email ? email : NULL),
	                 sv_text(pw_hash),
	                 sv_int(now),
	                 sv_int(now),
	                 sv_int(now)};
	st = store_query_int(
	    tx,
	    "INSERT INTO iam_user (login, name, kind, org_id, phone, email, pw_hash, "
	    "pw_changed_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
	    "?, ?) RETURNING id",
	    a, SV_N(a), id, e);
	if (st == YZ_ECONFLICT) {
		*e = (yz_err){0};
		return yz_field(e, "login", "unique", "a login nobody else has",
		                jx_str(in, "login", ""));
	}
	if (st != YZ_OK)
		return st;
	char obj[32];
	user_obj(obj, sizeof obj, *id);
	json_t *change = redacted(in);
	st = audit_append(tx, who, "iam.user.create", obj, org ? path : NULL, change, e);
	json_decref(change);
	return st;
}

typedef struct user_job {
	const yz_actor *who;
	json_t *in;
	const char *pw_hash;
	int64_t id, version;
} user_job;

static yz_status create_job(store_conn *tx, void *arg, yz_err *e)
{
	user_job *j = arg;
	return iam_user_insert_tx(tx, j->who, j->in, j->pw_hash, &j->id, e);
}

yz_status iam_user_validate_create(json_t *in, yz_err *e)
{
	/* every fault at once: the field rules, then the rules between fields for
	 * those fields that passed their own */
	int before = e ? e->nfield : 0;
	yz_status st = jx_validate(in, user_create_fields, e);
	if (st != YZ_OK && st != YZ_EINVAL)
		return st;
	bool bad_kind = false, bad_org = false, bad_pw = false;
	for (int i = before; e && i < e->nfield && i < YZ_ERR_MAX_FIELDS; i++) {
		bad_kind |= !strcmp(e->fields[i].field, "kind");
		bad_org |= !strcmp(e->fields[i].field, "org_id");
		bad_pw |= !strcmp(e->fields[i].field, "password");
	}
	int kind = iam_kind_parse(jx_str(in, "kind", ""));
	if (kind && !bad_kind && !bad_org &&
	    check_org_for_kind(kind, jx_int(in, "org_id", 0), e) != YZ_OK)
		st = YZ_EINVAL;
	if (json_is_string(json_object_get(in, "password")) && !bad_pw &&
	    iam_password_policy(jx_str(in, "password", ""), jx_str(in, "login", ""), "password",
	                        e) != YZ_OK)
		st = YZ_EINVAL;
	return st;
}

yz_status iam_user_validate(json_t *in, yz_err *e)
{
	return iam_user_validate_create(in, e);
}

yz_status iam_user_create(store *s, const iam_policy *p, const yz_actor *who, json_t *in,
                          int64_t *id, yz_err *e)
{
	yz_status st = iam_user_validate_create(in, e);
	if (st != YZ_OK)
		return st;
	char hash[160];
	st = crypto_password_hash(jx_str(in, "password", ""), p->pbkdf2_iterations, hash,
	                          sizeof hash);
	if (st != YZ_OK)
		return yz_fail(e, st, "could not hash the password");
	user_job j = {.who = who, .in = in, .pw_hash = hash};
	st = store_write(s, create_job, &j, e);
	if (st == YZ_OK)
		*id = j.id;
	return st;
}

/* Path of the user's org ("" when none) and the user's version, inside a
 * transaction; YZ_ENOTFOUND also when outside the actor's scope. */
static yz_status load_for_change(store_conn *tx, const yz_actor *who, int64_t id, char *path,
                                 size_t cap, int64_t *version, int *kind, yz_err *e)
{
	store_rows *r;
	store_val a[] = {sv_int(id)};
	yz_status st = store_query(tx,
	                           "SELECT COALESCE(o.path, ''), u.version, u.kind FROM iam_user u "
	                           "LEFT JOIN iam_org o ON o.id = u.org_id WHERE u.id = ?",
	                           a, 1, &r, e);
	if (st != YZ_OK)
		return st;
	bool found = store_next(r);
	if (found) {
		yz_strlcpy(path, store_col_text(r, 0), cap);
		*version = store_col_int(r, 1);
		*kind = iam_kind_parse(store_col_text(r, 2));
	}
	st = store_rows_close(r, e);
	if (st != YZ_OK)
		return st;
	if (!found || !(path[0] ? iam_path_in_scope(&who->scope, path) : who->scope.all))
		return yz_fail(e, YZ_ENOTFOUND, "no user %lld", (long long)id);
	return YZ_OK;
}

static yz_status update_job(store_conn *tx, void *arg, yz_err *e)
{
	user_job *j = arg;
	char path[IAM_PATH_MAX];
	int64_t version = 0;
	int kind = 0;
	yz_status st = load_for_change(tx, j->who, j->id, path, sizeof path, &version, &kind, e);
	if (st != YZ_OK)
		return st;
	if (j->version && j->version != version)
		return yz_fail(e, YZ_ECONFLICT,
		               "the user was changed by someone else (version %lld, now %lld); "
		               "reload and try again",
		               (long long)j->version, (long long)version);
	json_t *in = j->in;
	const char *status = jx_str(in, "status", NULL);
	if (status && strcmp(status, "active") && strcmp(status, "disabled"))
		return yz_field(e, "status", "enum", "active or disabled", status);
	if (status && !strcmp(status, "disabled") && j->id == j->who->user_id)
		return yz_fail(e, YZ_EREFUSED, "you cannot disable your own account");
	int new_kind = json_object_get(in, "kind") ? iam_kind_parse(jx_str(in, "kind", "")) : kind;
	json_t *orgv = json_object_get(in, "org_id");
	int64_t new_org = 0;
	bool org_given = orgv != NULL;
	if (org_given) {
		new_org = json_integer_value(orgv);
		char np[IAM_PATH_MAX];
		st = iam_org_path_tx(tx, new_org, np, sizeof np, e);
		if (st == YZ_ENOTFOUND) {
			*e = (yz_err){0};
			return yz_field(e, "org_id", "exists", "an existing organisation", NULL);
		}
		if (st != YZ_OK)
			return st;
		if (!iam_path_in_scope(&j->who->scope, np))
			return yz_fail(e, YZ_EFORBIDDEN, "that organisation is outside your scope");
	} else if (json_object_get(in, "kind")) {
		/* kind changes alone must still fit the current org */
		int64_t cur = 0;
		store_val a[] = {sv_int(j->id)};
		st = store_query_int(tx, "SELECT COALESCE(org_id, 0) FROM iam_user WHERE id = ?", a,
		                     1, &cur, e);
		if (st != YZ_OK)
			return st;
		new_org = cur;
		org_given = true;
	}
	if (org_given && (st = check_org_for_kind(new_kind, new_org, e)) != YZ_OK)
		return st;
	json_t *phone = json_object_get(in, "phone"), *email = json_object_get(in, "email");
	store_val a[] = {sv_text(jx_str(in, "name", NULL)),
	                 sv_text(json_object_get(in, "kind") ? jx_str(in, "kind", "") : NULL),
	                 sv_int(org_given),
	                 new_org ? sv_int(new_org) : sv_null(),
	                 sv_int(phone != NULL),
	                 sv_text(phone ? json_string_value(phone) : ""),
	                 sv_int(email != NULL),
	                 sv_text(email ? json_string_value(email) : ""),
	                 sv_text(status),
	                 sv_int(clock_now_ms()),
	                 sv_int(j->id)};
	st = store_exec(tx,
	                "UPDATE iam_user SET name = COALESCE(?, name), kind = COALESCE(?, kind),"
	                " org_id = CASE WHEN ? = 1 THEN ? ELSE org_id END,"
	                " phone = CASE WHEN ? = 1 THEN NULLIF(?, '') ELSE phone END,"
	                " email = CASE WHEN ? = 1 THEN NULLIF(?, '') ELSE email END,"
	                " status = COALESCE(?, status), updated_at = ?, version = version + 1"
	                " WHERE id = ?",
	                a, SV_N(a), e);
	if (st != YZ_OK)
		return st;
	if (status && !strcmp(status, "disabled")) {
		store_val d[] = {sv_int(j->id)};
		st = store_exec(tx, "DELETE FROM iam_session WHERE user_id = ?", d, 1, e);
		if (st != YZ_OK)
			return st;
	}
	char obj[32];
	user_obj(obj, sizeof obj, j->id);
	return audit_append(tx, j->who, "iam.user.update", obj, path[0] ? path : NULL, in, e);
}

yz_status iam_user_update(store *s, const yz_actor *who, int64_t id, int64_t version, json_t *in,
                          yz_err *e)
{
	yz_status st = jx_validate(in, user_update_fields, e);
	if (st != YZ_OK)
		return st;
	user_job j = {.who = who, .in = in, .id = id, .version = version};
	return iam_changed(store_write(s, update_job, &j, e));
}

typedef struct pw_job {
	const yz_actor *who;
	int64_t id;
	const char *hash;
	const char *action;
	bool unlock_only;
	const char *keep_session; /* on a password change, the session that stays */
} pw_job;

static yz_status password_job(store_conn *tx, void *arg, yz_err *e)
{
	pw_job *j = arg;
	char path[IAM_PATH_MAX];
	int64_t version = 0;
	int kind = 0;
	yz_status st = load_for_change(tx, j->who, j->id, path, sizeof path, &version, &kind, e);
	if (st != YZ_OK)
		return st;
	int64_t now = clock_now_ms();
	if (j->unlock_only) {
		store_val a[] = {sv_int(now), sv_int(j->id)};
		st = store_exec(
		    tx,
		    "UPDATE iam_user SET failed_count = 0, locked_until = 0, updated_at = ? "
		    "WHERE id = ?",
		    a, 2, e);
	} else {
		store_val a[] = {sv_text(j->hash), sv_int(now), sv_int(now), sv_int(j->id)};
		st = store_exec(
		    tx,
		    "UPDATE iam_user SET pw_hash = ?, pw_changed_at = ?, failed_count = 0, "
		    "locked_until = 0, updated_at = ?, version = version + 1 WHERE id = ?",
		    a, 4, e);
	}
	if (st != YZ_OK)
		return st;
	char obj[32];
	user_obj(obj, sizeof obj, j->id);
	return audit_append(tx, j->who, j->action, obj, path[0] ? path : NULL, NULL, e);
}

static yz_status login_of(store *s, int64_t id, char *out, size_t cap, yz_err *e)
{
	store_conn *c;
	yz_status st = store_reader(s, &c, e);
	if (st != YZ_OK)
		return st;
	store_rows *r;
	store_val a[] = {sv_int(id)};
	st = store_query(c, "SELECT login FROM iam_user WHERE id = ?", a, 1, &r, e);
	if (st != YZ_OK)
		return st;
	bool found = store_next(r);
	if (found)
		yz_strlcpy(out, store_col_text(r, 0), cap);
	st = store_rows_close(r, e);
	if (st == YZ_OK && !found)
		st = yz_fail(e, YZ_ENOTFOUND, "no user %lld", (long long)id);
	return st;
}

yz_status iam_user_set_password(store *s, const iam_policy *p, const yz_actor *who, int64_t id,
                                const char *password, yz_err *e)
{
	char login[64];
	yz_status st = login_of(s, id, login, sizeof login, e);
	if (st == YZ_OK)
		st = iam_password_policy(password ? password : "", login, "password", e);
	if (st != YZ_OK)
		return st;
	char hash[160];
	st = crypto_password_hash(password, p->pbkdf2_iterations, hash, sizeof hash);
	if (st != YZ_OK)
		return yz_fail(e, st, "could not hash the password");
	pw_job j = {who, id, hash, "iam.user.password.reset", false, NULL};
	return iam_changed(store_write(s, password_job, &j, e));
}

yz_status iam_user_change_password(store *s, const iam_policy *p, const yz_actor *who,
                                   const char *current, const char *next, const char *keep_session,
                                   yz_err *e)
{
	store_conn *c;
	yz_status st = store_reader(s, &c, e);
	if (st != YZ_OK)
		return st;
	store_rows *r;
	store_val a[] = {sv_int(who->user_id)};
	st = store_query(c, "SELECT pw_hash, login FROM iam_user WHERE id = ?", a, 1, &r, e);
	if (st != YZ_OK)
		return st;
	char stored[200] = "", login[64] = "";
	if (store_next(r)) {
		yz_strlcpy(stored, store_col_text(r, 0), sizeof stored);
		yz_strlcpy(login, store_col_text(r, 1), sizeof login);
	}
	st = store_rows_close(r, e);
	if (st != YZ_OK)
		return st;
	if (crypto_password_verify(current ? current : "", stored, p->pbkdf2_iterations, NULL) !=
	    YZ_OK)
		return yz_field(e, "current", "matches", "your current password", NULL);
	st = iam_password_policy(next ? next : "", login, "password", e);
	if (st != YZ_OK)
		return st;
	if (!strcmp(current, next))
		return yz_field(e, "password", "changed",
		                "a password different from the current one", NULL);
	char hash[160];
	st = crypto_password_hash(next, p->pbkdf2_iterations, hash, sizeof hash);
	if (st != YZ_OK)
		return yz_fail(e, st, "could not hash the password");
	yz_actor self = *who;
	self.scope.all = true; /* one's own account, whatever one's admin scope */
	pw_job j = {&self, who->user_id, hash, "iam.user.password.change", false, keep_session};
	return iam_changed(store_write(s, password_job, &j, e));
}

yz_status iam_user_unlock(store *s, const yz_actor *who, int64_t id, yz_err *e)
{
	pw_job j = {who, id, NULL, "iam.user.unlock", true, NULL};
	return iam_changed(store_write(s, password_job, &j, e));
}

/* ---- role assignments ---- */

yz_status iam_user_roles_tx(store_conn *tx, const yz_actor *who, int64_t user_id, json_t *roles,
                            const yz_scope *grant_scope, yz_err *e)
{
	size_t i;
	json_t *x;
	json_array_foreach (roles, i, x) {
		char field[48];
		snprintf(field, sizeof field, "roles[%zu]", i);
		if (!json_is_object(x) || !json_is_string(json_object_get(x, "role")))
			return yz_field(e, field, "type", "{role: code, scope: org id or code}",
			                NULL);
		const char *key;
		json_t *val;
		json_object_foreach (x, key, val) {
			if (strcmp(key, "role") != 0 && strcmp(key, "scope") != 0) {
				char f2[96];
				snprintf(f2, sizeof f2, "%s.%s", field, key);
				return yz_field(e, f2, "unknown-field", "role and scope only",
				                NULL);
			}
		}
		const char *code = jx_str(x, "role", "");
		int64_t role_id;
		store_val a[] = {sv_text(code)};
		yz_status st = store_query_int(tx, "SELECT id FROM iam_role WHERE code = ?", a, 1,
		                               &role_id, e);
		if (st == YZ_ENOTFOUND) {
			*e = (yz_err){0};
			return yz_field(e, field, "exists", "an existing role code", code);
		}
		if (st != YZ_OK)
			return st;
		json_t *sv = json_object_get(x, "scope");
		int64_t scope_id = 0;
		if (json_is_integer(sv)) {
			scope_id = json_integer_value(sv);
		} else if (json_is_string(sv)) {
			store_val b[] = {sv_text(json_string_value(sv))};
			st = store_query_int(tx, "SELECT id FROM iam_org WHERE code = ?", b, 1,
			                     &scope_id, e);
			if (st != YZ_OK && st != YZ_ENOTFOUND)
				return st;
			*e = (yz_err){0};
		}
		char path[IAM_PATH_MAX];
		if (!scope_id || iam_org_path_tx(tx, scope_id, path, sizeof path, e) != YZ_OK) {
			*e = (yz_err){0};
			return yz_field(e, field, "scope", "an existing organisation", NULL);
		}
		if (!iam_path_in_scope(grant_scope, path))
			return yz_fail(e, YZ_EFORBIDDEN,
			               "role %s at that scope is outside your scope", code);
		store_val c[] = {sv_int(user_id), sv_int(role_id), sv_int(scope_id)};
		st = store_exec(
		    tx,
		    "INSERT INTO iam_user_role (user_id, role_id, scope_org_id) VALUES (?, "
		    "?, ?) ON CONFLICT DO NOTHING",
		    c, 3, e);
		if (st != YZ_OK)
			return st;
	}
	(void)who;
	return YZ_OK;
}

typedef struct roles_job {
	const yz_actor *who;
	int64_t id;
	json_t *roles;
} roles_job;

static yz_status roles_job_fn(store_conn *tx, void *arg, yz_err *e)
{
	roles_job *j = arg;
	/* the user need only exist; the grant scope is checked per assignment,
	 * and every assignment the actor removes must be within their scope too */
	store_rows *r;
	store_val a[] = {sv_int(j->id)};
	yz_status st = store_query(tx,
	                           "SELECT o.path FROM iam_user_role ur JOIN iam_org o ON o.id = "
	                           "ur.scope_org_id WHERE ur.user_id = ?",
	                           a, 1, &r, e);
	if (st != YZ_OK)
		return st;
	bool outside = false;
	while (store_next(r))
		if (!iam_path_in_scope(&j->who->scope, store_col_text(r, 0)))
			outside = true;
	st = store_rows_close(r, e);
	if (st != YZ_OK)
		return st;
	int64_t exists;
	st = store_query_int(tx, "SELECT COUNT(*) FROM iam_user WHERE id = ?", a, 1, &exists, e);
	if (st != YZ_OK)
		return st;
	if (!exists)
		return yz_fail(e, YZ_ENOTFOUND, "no user %lld", (long long)j->id);
	if (outside)
		return yz_fail(e, YZ_EFORBIDDEN,
		               "the user holds roles outside your scope; only someone whose scope "
		               "covers them can change this user's roles");
	st = store_exec(tx, "DELETE FROM iam_user_role WHERE user_id = ?", a, 1, e);
	if (st == YZ_OK)
		st = iam_user_roles_tx(tx, j->who, j->id, j->roles, &j->who->scope, e);
	if (st != YZ_OK)
		return st;
	char obj[32];
	user_obj(obj, sizeof obj, j->id);
	json_t *change = json_pack("{s:O}", "roles", j->roles);
	char path[IAM_PATH_MAX] = "";
	store_rows *pr;
	st =
	    store_query(tx,
	                "SELECT COALESCE(o.path, '') FROM iam_user u LEFT JOIN iam_org o ON o.id = "
	                "u.org_id WHERE u.id = ?",
	                a, 1, &pr, e);
	if (st == YZ_OK) {
		if (store_next(pr))
			yz_strlcpy(path, store_col_text(pr, 0), sizeof path);
		st = store_rows_close(pr, e);
	}
	if (st == YZ_OK)
		st = audit_append(tx, j->who, "iam.user.roles", obj, path[0] ? path : NULL, change,
		                  e);
	json_decref(change);
	return st;
}

yz_status iam_user_set_roles(store *s, const yz_actor *who, int64_t id, json_t *in, yz_err *e)
{
	if (!json_is_array(in))
		return yz_field(e, "roles", "type", "an array of {role, scope}", NULL);
	if (json_array_size(in) > 50)
		return yz_field(e, "roles", "count", "at most 50 assignments", NULL);
	if (id == who->user_id)
		return yz_fail(e, YZ_EREFUSED, "you cannot change your own roles");
	roles_job j = {who, id, in};
	return iam_changed(store_write(s, roles_job_fn, &j, e));
}

/* ---- reading ---- */

#define USER_COLS                                                                                  \
	"u.id, u.login, u.name, u.kind, u.org_id, o.name, o.path, u.phone, u.email, u.status, "    \
	"u.failed_count, u.locked_until, u.last_login_at, u.version, u.created_at"

static json_t *user_row(store_rows *r)
{
	json_t *o = json_object();
	jx_set_int(o, "id", store_col_int(r, 0));
	jx_set_str(o, "login", store_col_text(r, 1));
	jx_set_str(o, "name", store_col_text(r, 2));
	jx_set_str(o, "kind", store_col_text(r, 3));
	if (store_col_null(r, 4)) {
		json_object_set_new(o, "org_id", json_null());
		json_object_set_new(o, "org_name", json_null());
	} else {
		jx_set_int(o, "org_id", store_col_int(r, 4));
		jx_set_str(o, "org_name", store_col_text(r, 5));
	}
	jx_set_str(o, "phone", store_col_null(r, 7) ? NULL : store_col_text(r, 7));
	jx_set_str(o, "email", store_col_null(r, 8) ? NULL : store_col_text(r, 8));
	jx_set_str(o, "status", store_col_text(r, 9));
	jx_set_int(o, "failed_logins", store_col_int(r, 10));
	int64_t locked = store_col_int(r, 11);
	char t[40];
	if (locked > clock_now_ms()) {
		clock_format_city(locked, t, sizeof t);
		jx_set_str(o, "locked_until", t);
	} else {
		json_object_set_new(o, "locked_until", json_null());
	}
	if (store_col_null(r, 12)) {
		json_object_set_new(o, "last_login_at", json_null());
	} else {
		clock_format_city(store_col_int(r, 12), t, sizeof t);
		jx_set_str(o, "last_login_at", t);
	}
	jx_set_int(o, "version", store_col_int(r, 13));
	clock_format_city(store_col_int(r, 14), t, sizeof t);
	jx_set_str(o, "created_at", t);
	return o;
}

static bool user_in_scope(const yz_scope *scope, store_rows *r)
{
	if (store_col_null(r, 4))
		return scope->all;
	return iam_path_in_scope(scope, store_col_text(r, 6));
}

yz_status iam_user_get(store_conn *c, const yz_scope *scope, int64_t id, json_t **out, yz_err *e)
{
	*out = NULL;
	store_rows *r;
	store_val a[] = {sv_int(id)};
	yz_status st =
	    store_query(c,
	                "SELECT " USER_COLS " FROM iam_user u LEFT JOIN iam_org o ON o.id "
	                "= u.org_id WHERE u.id = ?",
	                a, 1, &r, e);
	if (st != YZ_OK)
		return st;
	json_t *o = NULL;
	if (store_next(r) && user_in_scope(scope, r))
		o = user_row(r);
	st = store_rows_close(r, e);
	if (st == YZ_OK && !o)
		st = yz_fail(e, YZ_ENOTFOUND, "no user %lld", (long long)id);
	if (st != YZ_OK) {
		json_decref(o);
		return st;
	}
	/* role assignments */
	json_t *roles = json_array();
	st = store_query(
	    c,
	    "SELECT r.code, r.name, ur.scope_org_id, so.name, so.code FROM iam_user_role "
	    "ur JOIN iam_role r ON r.id = ur.role_id JOIN iam_org so ON so.id = "
	    "ur.scope_org_id WHERE ur.user_id = ? ORDER BY r.code, ur.scope_org_id",
	    a, 1, &r, e);
	if (st == YZ_OK) {
		while (store_next(r)) {
			json_t *x = json_object();
			jx_set_str(x, "role", store_col_text(r, 0));
			jx_set_str(x, "role_name", store_col_text(r, 1));
			jx_set_int(x, "scope", store_col_int(r, 2));
			jx_set_str(x, "scope_name", store_col_text(r, 3));
			jx_set_str(x, "scope_code", store_col_text(r, 4));
			json_array_append_new(roles, x);
		}
		st = store_rows_close(r, e);
	}
	json_object_set_new(o, "roles", roles);
	if (st != YZ_OK) {
		json_decref(o);
		return st;
	}
	*out = o;
	return YZ_OK;
}

yz_status iam_user_list(store_conn *c, const yz_scope *scope, const iam_user_filter *f,
                        json_t **out, yz_err *e)
{
	*out = NULL;
	int limit = f && f->limit > 0 ? (f->limit > 200 ? 200 : f->limit) : 50;
	char sub[IAM_PATH_MAX] = "";
	if (f && f->org_id) {
		yz_status st = iam_org_path_tx(c, f->org_id, sub, sizeof sub, e);
		if (st != YZ_OK)
			return st;
	}
	/* Text search and scope filtering happen here in C over an id-ordered
	 * scan, so the SQL stays the same on both engines; lists are paged by id. */
	store_rows *r;
	store_val a[] = {sv_int(f ? f->after : 0)};
	yz_status st =
	    store_query(c,
	                "SELECT " USER_COLS " FROM iam_user u LEFT JOIN iam_org o ON o.id "
	                "= u.org_id WHERE u.id > ? ORDER BY u.id",
	                a, 1, &r, e);
	if (st != YZ_OK)
		return st;
	json_t *items = json_array();
	int n = 0;
	int64_t last = 0;
	bool more = false;
	while (store_next(r)) {
		if (!user_in_scope(scope, r))
			continue;
		if (sub[0] &&
		    (store_col_null(r, 4) || strncmp(store_col_text(r, 6), sub, strlen(sub))))
			continue;
		if (f && f->kind && *f->kind && strcmp(store_col_text(r, 3), f->kind))
			continue;
		if (f && f->q && *f->q && !strstr(store_col_text(r, 1), f->q) &&
		    !strstr(store_col_text(r, 2), f->q))
			continue;
		if (n == limit) {
			more = true;
			break;
		}
		last = store_col_int(r, 0);
		json_array_append_new(items, user_row(r));
		n++;
	}
	st = store_rows_close(r, e);
	if (st != YZ_OK) {
		json_decref(items);
		return st;
	}
	json_t *o = json_object();
	json_object_set_new(o, "items", items);
	json_object_set_new(o, "next", more ? json_integer(last) : json_null());
	*out = o;
	return YZ_OK;
}
