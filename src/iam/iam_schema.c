/*
 * iam_schema.c — iam's tables, user kinds, the permission registry and the
 * field rules shared by the iam source files.
 */
#include <stdlib.h>
#include <string.h>

#include "core/slice.h"
#include "iam/iam_int.h"

const store_migration iam_migrations[] = {
    {1, "CREATE TABLE iam_org ("
        " id {{id}},"
        " parent_id BIGINT REFERENCES iam_org (id),"
        " path TEXT NOT NULL DEFAULT '',"
        " code TEXT NOT NULL UNIQUE,"
        " name TEXT NOT NULL,"
        " kind TEXT NOT NULL,"
        " division_code TEXT,"
        " uscc TEXT,"
        " sort INTEGER NOT NULL DEFAULT 0,"
        " status TEXT NOT NULL DEFAULT 'active',"
        " created_at BIGINT NOT NULL,"
        " updated_at BIGINT NOT NULL,"
        " version INTEGER NOT NULL DEFAULT 1);"
        "CREATE INDEX iam_org_parent ON iam_org (parent_id, sort);"
        "CREATE INDEX iam_org_path ON iam_org (path);"
        "CREATE TABLE iam_user ("
        " id {{id}},"
        " login TEXT NOT NULL UNIQUE,"
        " name TEXT NOT NULL,"
        " kind TEXT NOT NULL,"
        " org_id BIGINT REFERENCES iam_org (id),"
        " phone TEXT,"
        " email TEXT,"
        " pw_hash TEXT NOT NULL,"
        " pw_changed_at BIGINT NOT NULL,"
        " failed_count INTEGER NOT NULL DEFAULT 0,"
        " locked_until BIGINT NOT NULL DEFAULT 0,"
        " status TEXT NOT NULL DEFAULT 'active',"
        " last_login_at BIGINT,"
        " created_at BIGINT NOT NULL,"
        " updated_at BIGINT NOT NULL,"
        " version INTEGER NOT NULL DEFAULT 1);"
        "CREATE INDEX iam_user_org ON iam_user (org_id);"
        "CREATE TABLE iam_role ("
        " id {{id}},"
        " code TEXT NOT NULL UNIQUE,"
        " name TEXT NOT NULL,"
        " description TEXT NOT NULL DEFAULT '',"
        " created_at BIGINT NOT NULL,"
        " updated_at BIGINT NOT NULL);"
        "CREATE TABLE iam_role_perm ("
        " role_id BIGINT NOT NULL REFERENCES iam_role (id) ON DELETE CASCADE,"
        " perm TEXT NOT NULL,"
        " PRIMARY KEY (role_id, perm));"
        "CREATE TABLE iam_user_role ("
        " user_id BIGINT NOT NULL REFERENCES iam_user (id) ON DELETE CASCADE,"
        " role_id BIGINT NOT NULL REFERENCES iam_role (id),"
        " scope_org_id BIGINT NOT NULL REFERENCES iam_org (id),"
        " PRIMARY KEY (user_id, role_id, scope_org_id));"
        "CREATE TABLE iam_session ("
        " id TEXT PRIMARY KEY,"
        " user_id BIGINT NOT NULL REFERENCES iam_user (id) ON DELETE CASCADE,"
        " csrf TEXT NOT NULL,"
        " created_at BIGINT NOT NULL,"
        " last_seen BIGINT NOT NULL,"
        " expires_at BIGINT NOT NULL,"
        " ip TEXT NOT NULL DEFAULT '',"
        " user_agent TEXT NOT NULL DEFAULT '');"
        "CREATE INDEX iam_session_user ON iam_session (user_id);"},
    /* 2: second factors (TOTP), sign-ins waiting for one, and the OpenID
     * Connect provider: signing keys, registered clients, stable subjects,
     * authorisation codes, refresh-token families and revoked access tokens.
     * Codes and tokens are stored as the SM3 of their value only. */
    {2, "ALTER TABLE iam_session ADD COLUMN amr TEXT NOT NULL DEFAULT '';"
        "CREATE TABLE iam_totp ("
        " user_id BIGINT PRIMARY KEY REFERENCES iam_user (id) ON DELETE CASCADE,"
        " secret_sealed {{blob}} NOT NULL,"
        " confirmed INTEGER NOT NULL DEFAULT 0,"
        " last_step BIGINT NOT NULL DEFAULT 0,"
        " created_at BIGINT NOT NULL,"
        " confirmed_at BIGINT);"
        "CREATE TABLE iam_login_pending ("
        " id TEXT PRIMARY KEY,"
        " user_id BIGINT NOT NULL REFERENCES iam_user (id) ON DELETE CASCADE,"
        " stage TEXT NOT NULL,"
        " attempts INTEGER NOT NULL DEFAULT 0,"
        " created_at BIGINT NOT NULL,"
        " expires_at BIGINT NOT NULL);"
        "CREATE INDEX iam_login_pending_user ON iam_login_pending (user_id);"
        "CREATE TABLE iam_oidc_key ("
        " kid TEXT PRIMARY KEY,"
        " alg TEXT NOT NULL,"
        " public_jwk TEXT NOT NULL,"
        " key_sealed {{blob}} NOT NULL,"
        " status TEXT NOT NULL DEFAULT 'active',"
        " created_at BIGINT NOT NULL);"
        "CREATE TABLE iam_oidc_client ("
        " id {{id}},"
        " client_id TEXT NOT NULL UNIQUE,"
        " name TEXT NOT NULL,"
        " org_id BIGINT NOT NULL REFERENCES iam_org (id),"
        " secret_hash TEXT NOT NULL,"
        " redirect_uris TEXT NOT NULL,"
        " post_logout_uris TEXT NOT NULL,"
        " grant_types TEXT NOT NULL,"
        " scopes TEXT NOT NULL,"
        " status TEXT NOT NULL DEFAULT 'active',"
        " created_at BIGINT NOT NULL,"
        " updated_at BIGINT NOT NULL,"
        " version INTEGER NOT NULL DEFAULT 1);"
        "CREATE INDEX iam_oidc_client_org ON iam_oidc_client (org_id);"
        "CREATE TABLE iam_oidc_subject ("
        " user_id BIGINT PRIMARY KEY REFERENCES iam_user (id) ON DELETE CASCADE,"
        " sub TEXT NOT NULL UNIQUE);"
        "CREATE TABLE iam_oidc_code ("
        " id TEXT PRIMARY KEY,"
        " client_id TEXT NOT NULL,"
        " user_id BIGINT NOT NULL REFERENCES iam_user (id) ON DELETE CASCADE,"
        " session_id TEXT NOT NULL,"
        " redirect_uri TEXT NOT NULL,"
        " scope TEXT NOT NULL,"
        " nonce TEXT NOT NULL DEFAULT '',"
        " challenge TEXT NOT NULL,"
        " auth_time BIGINT NOT NULL,"
        " amr TEXT NOT NULL,"
        " created_at BIGINT NOT NULL,"
        " expires_at BIGINT NOT NULL,"
        " used_at BIGINT NOT NULL DEFAULT 0,"
        " access_jti TEXT NOT NULL DEFAULT '',"
        " access_exp BIGINT NOT NULL DEFAULT 0);"
        "CREATE INDEX iam_oidc_code_expires ON iam_oidc_code (expires_at);"
        "CREATE TABLE iam_oidc_refresh ("
        " id TEXT PRIMARY KEY,"
        " family TEXT NOT NULL,"
        " client_id TEXT NOT NULL,"
        " user_id BIGINT NOT NULL REFERENCES iam_user (id) ON DELETE CASCADE,"
        " session_id TEXT NOT NULL,"
        " scope TEXT NOT NULL,"
        " auth_time BIGINT NOT NULL,"
        " amr TEXT NOT NULL,"
        " created_at BIGINT NOT NULL,"
        " expires_at BIGINT NOT NULL,"
        " used_at BIGINT NOT NULL DEFAULT 0,"
        " revoked_at BIGINT NOT NULL DEFAULT 0,"
        " access_jti TEXT NOT NULL,"
        " access_exp BIGINT NOT NULL);"
        "CREATE INDEX iam_oidc_refresh_family ON iam_oidc_refresh (family);"
        "CREATE INDEX iam_oidc_refresh_session ON iam_oidc_refresh (session_id);"
        "CREATE INDEX iam_oidc_refresh_expires ON iam_oidc_refresh (expires_at);"
        "CREATE TABLE iam_oidc_revoked ("
        " jti TEXT PRIMARY KEY,"
        " expires_at BIGINT NOT NULL);"},
};
const int iam_nmigrations = 2;

static const char *const kind_names[] = {"",       "operator", "civil_servant",
                                         "leader", "citizen",  "enterprise"};

const char *iam_kind_name(int kind)
{
	return kind >= 1 && kind <= 5 ? kind_names[kind] : "";
}

int iam_kind_parse(const char *name)
{
	for (int i = 1; name && i <= 5; i++)
		if (!strcmp(name, kind_names[i]))
			return i;
	return 0;
}

bool iam_kind_is_staff(int kind)
{
	return kind == IAM_OPERATOR || kind == IAM_CIVIL_SERVANT || kind == IAM_LEADER;
}

const char *const iam_org_kinds[] = {"city",    "district",   "county",   "county_city",
                                     "street",  "town",       "township", "community",
                                     "village", "department", "unit",     NULL};

/* ---- permission registry ---- */

static iam_perm_decl *perms;
static int nperms;

void iam_perms_register(const iam_perm_decl *p, int n)
{
	for (int i = 0; i < n; i++) {
		if (iam_perm_known(p[i].name))
			continue;
		iam_perm_decl *np = realloc(perms, sizeof *np * (size_t)(nperms + 1));
		if (!np)
			return;
		perms = np;
		perms[nperms++] = p[i];
	}
}

bool iam_perm_known(const char *name)
{
	for (int i = 0; i < nperms; i++)
		if (!strcmp(perms[i].name, name))
			return true;
	return false;
}

json_t *iam_perms_json(void)
{
	json_t *a = json_array();
	for (int i = 0; i < nperms; i++) {
		json_t *o = json_object();
		jx_set_str(o, "name", perms[i].name);
		jx_set_str(o, "description", perms[i].description);
		json_array_append_new(a, o);
	}
	return a;
}

/* ---- field rules ---- */

bool iam_check_login(json_t *v, const char **rule, const char **expected)
{
	const char *s = json_string_value(v);
	size_t n = strlen(s);
	*rule = "pattern";
	*expected = "3-32 lower-case letters, digits, '.', '_' or '-', starting with a letter";
	if (n < 3 || n > 32 || !(s[0] >= 'a' && s[0] <= 'z'))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return false;
	}
	return true;
}

bool iam_check_phone(json_t *v, const char **rule, const char **expected)
{
	const char *s = json_string_value(v);
	size_t n = strlen(s);
	*rule = "pattern";
	*expected = "a mobile number (11 digits starting with 1) or a landline with area code";
	if (n == 0)
		return true;
	if (n == 11 && s[0] == '1') {
		for (size_t i = 0; i < n; i++)
			if (s[i] < '0' || s[i] > '9')
				return false;
		return true;
	}
	/* 0851-12345678 */
	if (n < 10 || n > 13 || s[0] != '0')
		return false;
	int dashes = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '-')
			dashes++;
		else if (s[i] < '0' || s[i] > '9')
			return false;
	}
	return dashes <= 1;
}

bool iam_check_email(json_t *v, const char **rule, const char **expected)
{
	const char *s = json_string_value(v);
	*rule = "pattern";
	*expected = "an e-mail address like name@example.gov.cn";
	if (!*s)
		return true;
	const char *at = strchr(s, '@');
	return at && at != s && strchr(at + 1, '.') && !strchr(at + 1, '@') && !strchr(s, ' ') &&
	       at[1] != '.' && s[strlen(s) - 1] != '.';
}

bool iam_check_kind(json_t *v, const char **rule, const char **expected)
{
	*rule = "enum";
	*expected = "operator, civil_servant, leader, citizen or enterprise";
	return iam_kind_parse(json_string_value(v)) != 0;
}

bool iam_check_org_kind(json_t *v, const char **rule, const char **expected)
{
	*rule = "enum";
	*expected = "city, district, county, county_city, street, town, township, community, "
	            "village, department or unit";
	for (int i = 0; iam_org_kinds[i]; i++)
		if (!strcmp(iam_org_kinds[i], json_string_value(v)))
			return true;
	return false;
}

bool iam_check_code(json_t *v, const char **rule, const char **expected)
{
	const char *s = json_string_value(v);
	*rule = "pattern";
	*expected = "1-40 letters, digits or '-'";
	size_t n = strlen(s);
	if (n < 1 || n > 40)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
	}
	return true;
}

bool iam_path_in_scope(const yz_scope *scope, const char *path)
{
	if (scope->all)
		return true;
	if (!path || !*path)
		return false;
	for (int i = 0; i < scope->n; i++)
		if (scope->paths && !strncmp(path, scope->paths[i], strlen(scope->paths[i])))
			return true;
	return false;
}

yz_status iam_org_path_tx(store_conn *c, int64_t org_id, char *out, size_t cap, yz_err *e)
{
	store_rows *r;
	store_val a[] = {sv_int(org_id)};
	yz_status st = store_query(c, "SELECT path FROM iam_org WHERE id = ?", a, 1, &r, e);
	if (st != YZ_OK)
		return st;
	bool found = store_next(r);
	if (found)
		yz_strlcpy(out, store_col_text(r, 0), cap);
	st = store_rows_close(r, e);
	if (st == YZ_OK && !found)
		st = yz_fail(e, YZ_ENOTFOUND, "no organisation %lld", (long long)org_id);
	return st;
}

yz_status iam_org_path(store_conn *c, int64_t id, char *out, size_t cap, yz_err *e)
{
	return iam_org_path_tx(c, id, out, cap, e);
}

yz_status iam_scope_covers_org(store_conn *c, const yz_scope *scope, int64_t org_id, bool *covers,
                               yz_err *e)
{
	*covers = false;
	if (scope->all) {
		*covers = true;
		return YZ_OK;
	}
	char path[IAM_PATH_MAX];
	yz_status st = iam_org_path_tx(c, org_id, path, sizeof path, e);
	if (st != YZ_OK)
		return st;
	*covers = iam_path_in_scope(scope, path);
	return YZ_OK;
}
