/*
 * iam_pack.c — loading a data pack's organisations, roles and users, and the
 * bootstrap of an installation without a pack. A pack loads in one
 * transaction: all of it or none of it.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "iam/iam_int.h"

/* Rewrite field names as "<file>[index].<field>" so errors point into the pack. */
static void prefix_fields(yz_err *e, const char *file, size_t idx, int from)
{
	if (!e)
		return;
	int n = e->nfield < YZ_ERR_MAX_FIELDS ? e->nfield : YZ_ERR_MAX_FIELDS;
	for (int i = from; i < n; i++) {
		char f[64];
		snprintf(f, sizeof f, "%s[%zu].%s", file, idx, e->fields[i].field);
		yz_strlcpy(e->fields[i].field, f, sizeof e->fields[i].field);
	}
	snprintf(e->msg, sizeof e->msg, "%s: entry %zu is not valid", file, idx);
}

static yz_status load_json(const char *dir, const char *name, json_t **out, yz_err *e)
{
	char path[600];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	json_error_t je;
	*out = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!*out)
		return yz_fail(e, YZ_EINVAL, "%s: %s (line %d, column %d)", path, je.text, je.line,
		               je.column);
	if (!json_is_array(*out)) {
		json_decref(*out);
		*out = NULL;
		return yz_fail(e, YZ_EINVAL, "%s: expected an array", path);
	}
	return YZ_OK;
}

/* Set in[id_key] to the id of the org whose code is in[code_key]. */
static yz_status resolve_code(store_conn *tx, json_t *in, const char *code_key, const char *id_key,
                              yz_err *e)
{
	const char *code = jx_str(in, code_key, NULL);
	if (!code)
		return YZ_OK;
	int64_t id;
	store_val a[] = {sv_text(code)};
	yz_status st = store_query_int(tx, "SELECT id FROM iam_org WHERE code = ?", a, 1, &id, e);
	if (st == YZ_ENOTFOUND) {
		*e = (yz_err){0};
		return yz_field(e, code_key, "exists", "the code of an organisation", code);
	}
	if (st != YZ_OK)
		return st;
	/* the code stays: the job may run again (store.h) and must resolve again */
	jx_set_int(in, id_key, id);
	return YZ_OK;
}

typedef struct pack_job {
	yz_actor who;
	json_t *orgs, *roles, *users; /* validated, users carry pw_hash */
} pack_job;

static yz_status pack_fn(store_conn *tx, void *arg, yz_err *e)
{
	pack_job *j = arg;
	size_t i;
	json_t *x;
	json_array_foreach (j->orgs, i, x) {
		int64_t id;
		int before = e ? e->nfield : 0;
		yz_status st = resolve_code(tx, x, "parent_code", "parent_id", e);
		if (st == YZ_OK)
			st = iam_org_insert_tx(tx, &j->who, x, &id, e);
		if (st != YZ_OK) {
			prefix_fields(e, "orgs.json", i, before);
			return st;
		}
	}
	json_array_foreach (j->roles, i, x) {
		int64_t id;
		int before = e ? e->nfield : 0;
		yz_status st = iam_role_insert_tx(tx, &j->who, x, &id, e);
		if (st != YZ_OK) {
			prefix_fields(e, "roles.json", i, before);
			return st;
		}
	}
	json_array_foreach (j->users, i, x) {
		int64_t id;
		json_t *in = json_deep_copy(x);
		json_t *roles = json_incref(json_object_get(in, "roles"));
		const char *hash = jx_str(x, "_hash", "");
		json_object_del(in, "roles");
		json_object_del(in, "_hash");
		json_object_del(in, "password");
		int before = e ? e->nfield : 0;
		yz_status st = resolve_code(tx, in, "org_code", "org_id", e);
		if (st == YZ_OK)
			st = iam_user_insert_tx(tx, &j->who, in, hash, &id, e);
		if (st == YZ_OK && roles)
			st = iam_user_roles_tx(tx, &j->who, id, roles, &j->who.scope, e);
		json_decref(in);
		json_decref(roles);
		if (st != YZ_OK) {
			prefix_fields(e, "users.json", i, before);
			return st;
		}
	}
	return YZ_OK;
}

/* PBKDF2 for every user, spread over a few threads. */
typedef struct hash_work {
	json_t *users;
	int iterations;
	size_t from, step;
	yz_status st;
} hash_work;

static void *hash_thread(void *arg)
{
	hash_work *w = arg;
	for (size_t i = w->from; i < json_array_size(w->users); i += w->step) {
		json_t *u = json_array_get(w->users, i);
		char h[160];
		w->st = crypto_password_hash(jx_str(u, "password", ""), w->iterations, h, sizeof h);
		if (w->st != YZ_OK)
			return NULL;
		json_object_set_new(u, "_hash", json_string(h));
	}
	return NULL;
}

static yz_status hash_all(json_t *users, int iterations, yz_err *e)
{
	enum { T = 4 };
	pthread_t t[T];
	hash_work w[T];
	for (int i = 0; i < T; i++) {
		w[i] = (hash_work){users, iterations, (size_t)i, T, YZ_OK};
		pthread_create(&t[i], NULL, hash_thread, &w[i]);
	}
	yz_status st = YZ_OK;
	for (int i = 0; i < T; i++) {
		pthread_join(t[i], NULL);
		if (w[i].st != YZ_OK)
			st = w[i].st;
	}
	return st == YZ_OK ? YZ_OK : yz_fail(e, st, "could not hash the pack's passwords");
}

/* The pack names orgs by code; references must point to an earlier entry. */
static yz_status check_org_refs(json_t *orgs, yz_err *e)
{
	size_t i;
	json_t *x;
	json_array_foreach (orgs, i, x) {
		const char *parent = jx_str(x, "parent", NULL);
		if (!parent)
			continue;
		bool seen = false;
		for (size_t k = 0; k < i && !seen; k++)
			seen = !strcmp(jx_str(json_array_get(orgs, k), "code", ""), parent);
		if (!seen) {
			yz_field(e, "parent", "exists", "the code of an organisation listed before",
			         parent);
			prefix_fields(e, "orgs.json", i, e ? e->nfield - 1 : 0);
			return YZ_EINVAL;
		}
	}
	return YZ_OK;
}

/* Copy an org entry into API form; the parent stays a code (parent_code)
 * until the insert resolves it. */
static json_t *org_input(json_t *orgs, size_t i)
{
	json_t *x = json_array_get(orgs, i);
	json_t *in = json_object();
	const char *keys[] = {"code", "name", "kind", "division_code", "uscc", "sort"};
	for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
		json_t *v = json_object_get(x, keys[k]);
		if (v && !json_is_null(v))
			json_object_set(in, keys[k], v);
	}
	const char *parent = jx_str(x, "parent", NULL);
	if (parent)
		jx_set_str(in, "parent_code", parent);
	return in;
}

static yz_status empty_check(store_conn *tx, void *arg, yz_err *e)
{
	(void)arg;
	int64_t n;
	yz_status st = store_query_int(tx, "SELECT COUNT(*) FROM iam_org", NULL, 0, &n, e);
	if (st == YZ_OK && n)
		st = yz_fail(e, YZ_ECONFLICT,
		             "the database already holds organisations: a pack "
		             "loads into a new installation");
	return st;
}

yz_status iam_load_pack(store *s, const iam_policy *p, const char *dir, json_t **users_out,
                        yz_err *e)
{
	if (users_out)
		*users_out = NULL;
	json_t *orgs_raw = NULL, *roles = NULL, *users_raw = NULL;
	yz_status st = load_json(dir, "orgs.json", &orgs_raw, e);
	if (st == YZ_OK)
		st = load_json(dir, "roles.json", &roles, e);
	if (st == YZ_OK)
		st = load_json(dir, "users.json", &users_raw, e);
	if (st == YZ_OK)
		st = store_write(s, empty_check, NULL, e);
	if (st == YZ_OK)
		st = check_org_refs(orgs_raw, e);
	json_t *orgs = json_array(), *users = json_array();
	size_t i;
	json_t *x;
	if (st == YZ_OK) {
		json_array_foreach (orgs_raw, i, x) {
			json_t *in = org_input(orgs_raw, i);
			int before = e ? e->nfield : 0;
			/* validate the API form: a placeholder id stands for the parent code */
			json_t *v = json_deep_copy(in);
			if (json_object_get(v, "parent_code")) {
				json_object_del(v, "parent_code");
				jx_set_int(v, "parent_id", 1);
			}
			st = iam_org_validate_create(v, e);
			json_decref(v);
			if (st != YZ_OK) {
				prefix_fields(e, "orgs.json", i, before);
				json_decref(in);
				break;
			}
			json_array_append_new(orgs, in);
		}
	}
	if (st == YZ_OK) {
		json_array_foreach (roles, i, x) {
			int before = e ? e->nfield : 0;
			if ((st = iam_role_validate_create(x, e)) != YZ_OK) {
				prefix_fields(e, "roles.json", i, before);
				break;
			}
		}
	}
	if (st == YZ_OK) {
		json_array_foreach (users_raw, i, x) {
			json_t *in = json_object();
			const char *keys[] = {"login",    "name",  "kind",
			                      "password", "phone", "email"};
			for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
				json_t *v = json_object_get(x, keys[k]);
				if (v && !json_is_null(v))
					json_object_set(in, keys[k], v);
			}
			const char *org = jx_str(x, "org", NULL);
			bool org_known = false;
			for (size_t k = 0; org && k < json_array_size(orgs_raw) && !org_known; k++)
				org_known =
				    !strcmp(jx_str(json_array_get(orgs_raw, k), "code", ""), org);
			int before = e ? e->nfield : 0;
			if (org && !org_known) {
				st = yz_field(e, "org", "exists",
				              "an organisation code in orgs.json", org);
			} else {
				/* a placeholder id stands for the org code while validating */
				if (org)
					jx_set_int(in, "org_id", 1);
				st = iam_user_validate_create(in, e);
				if (org) {
					json_object_del(in, "org_id");
					jx_set_str(in, "org_code", org);
				}
			}
			if (st != YZ_OK) {
				prefix_fields(e, "users.json", i, before);
				json_decref(in);
				break;
			}
			json_t *rs = json_object_get(x, "roles");
			if (rs)
				json_object_set(in, "roles", rs);
			json_array_append_new(users, in);
		}
	}
	if (st == YZ_OK)
		st = hash_all(users, p->pbkdf2_iterations, e);
	if (st == YZ_OK) {
		pack_job j = {
		    .who = actor_system("pack"), .orgs = orgs, .roles = roles, .users = users};
		st = store_write(s, pack_fn, &j, e);
	}
	if (st == YZ_OK && users_out) {
		json_t *list = json_array();
		json_array_foreach (users_raw, i, x) {
			json_t *u = json_object();
			json_object_set(u, "login", json_object_get(x, "login"));
			json_object_set(u, "name", json_object_get(x, "name"));
			json_object_set(u, "kind", json_object_get(x, "kind"));
			json_object_set(u, "password", json_object_get(x, "password"));
			json_array_append_new(list, u);
		}
		*users_out = list;
	}
	json_decref(orgs_raw);
	json_decref(roles);
	json_decref(users_raw);
	json_decref(orgs);
	json_decref(users);
	return st;
}

yz_status iam_bootstrap(store *s, const iam_policy *p, const char *city_name, char *password_out,
                        size_t cap, yz_err *e)
{
	char token[32];
	if (crypto_random_token(15, token, sizeof token) != YZ_OK)
		return yz_fail(e, YZ_ECRYPTO, "no randomness");
	/* 120 random bits, plus one character of each class so the policy holds */
	snprintf(password_out, cap, "%s#7Yz", token);
	json_t *orgs = json_pack("[{s:s, s:s, s:s}]", "code", "root", "name",
	                         city_name && *city_name ? city_name : "本市", "kind", "city");
	json_t *roles = json_pack(
	    "[{s:s, s:s, s:s, s:[s,s,s,s,s]}, {s:s, s:s, s:s, s:[s,s,s,s,s]},"
	    " {s:s, s:s, s:s, s:[s,s,s,s]}]",
	    "code", "sys_admin", "name", "系统管理员", "description", "管理机构与用户账号",
	    "permissions", "workbench.use", "iam.org.read", "iam.org.manage", "iam.user.read",
	    "iam.user.manage", "code", "sec_admin", "name", "安全保密管理员", "description",
	    "管理角色与授权", "permissions", "workbench.use", "iam.user.read", "iam.role.read",
	    "iam.role.manage", "iam.org.read", "code", "auditor", "name", "安全审计员",
	    "description", "查看与核验审计记录", "permissions", "workbench.use", "audit.read",
	    "iam.user.read", "iam.org.read");
	json_t *users = json_pack(
	    "[{s:s, s:s, s:s, s:s, s:s, s:[{s:s, s:s}, {s:s, s:s}]}]", "login", "admin", "name",
	    "平台管理员", "kind", "operator", "org_code", "root", "password", password_out, "roles",
	    "role", "sys_admin", "scope", "root", "role", "sec_admin", "scope", "root");
	yz_status st = store_write(s, empty_check, NULL, e);
	size_t i;
	json_t *x;
	json_array_foreach (roles, i, x)
		if (st == YZ_OK)
			st = iam_role_validate_create(x, e);
	if (st == YZ_OK)
		st = hash_all(users, p->pbkdf2_iterations, e);
	if (st == YZ_OK) {
		pack_job j = {
		    .who = actor_system("init"), .orgs = orgs, .roles = roles, .users = users};
		st = store_write(s, pack_fn, &j, e);
	}
	json_decref(orgs);
	json_decref(roles);
	json_decref(users);
	return st;
}
