/*
 * api.c — iam's JSON API under /api/v1/ and the authentication hooks the
 * router uses (session cookie → user, permission → scope).
 */
#include <string.h>

#include "app.h"
#include "core/jx.h"
#include "core/slice.h"
#include "http/http.h"
#include "iam/iam.h"

/* ---- hooks for the router ---- */

static yz_status hook_session(void *ctx, const char *cookie, arena *a, http_user *u, yz_err *e)
{
	yz_app *app = ctx;
	iam_session_info si;
	iam_authz *z;
	yz_status st = iam_request_auth(app->db, &app->policy, cookie, a, &si, &z, e);
	if (st != YZ_OK)
		return st;
	u->id = si.user_id;
	u->org_id = si.org_id;
	u->kind = si.kind;
	yz_strlcpy(u->login, si.login, sizeof u->login);
	yz_strlcpy(u->name, si.name, sizeof u->name);
	yz_strlcpy(u->kind_name, iam_kind_name(si.kind), sizeof u->kind_name);
	yz_strlcpy(u->csrf, si.csrf, sizeof u->csrf);
	yz_strlcpy(u->session, si.session, sizeof u->session);
	u->authz = z;
	return YZ_OK;
}

static bool hook_allowed(void *ctx, const http_user *u, const char *perm, arena *a, yz_scope *sc)
{
	(void)ctx;
	return iam_authz_allows(u->authz, perm, a, sc);
}

/* ---- helpers ---- */

static yz_app *app_of(http_req *r)
{
	return http_app(r);
}

static yz_status reader(http_req *r, store_conn **c, yz_err *e)
{
	return store_reader(app_of(r)->db, c, e);
}

static void reply_created(http_req *r, const char *kind, int64_t id, json_t *body)
{
	char loc[96];
	snprintf(loc, sizeof loc, "/api/v1/%s/%lld", kind, (long long)id);
	http_set_header(r, "Location", loc);
	http_reply_json(r, 201, body);
}

/* The iam readers, one shape: read object id within scope. */
typedef yz_status (*iam_getter)(store_conn *c, const yz_scope *scope, int64_t id, json_t **out,
                                yz_err *e);

static yz_status role_get_any_scope(store_conn *c, const yz_scope *scope, int64_t id, json_t **out,
                                    yz_err *e)
{
	(void)scope; /* roles are city-wide */
	return iam_role_get(c, id, out, e);
}

/* Read the object back and answer with it (an ETag from its version when it
 * has one): 200, or 201 with Location when `created` names the collection.
 * An error already in st passes through. */
static yz_status answer_one(http_req *r, yz_status st, iam_getter get, int64_t id,
                            const yz_scope *scope, const char *created, yz_err *e)
{
	store_conn *c;
	json_t *o;
	if (st == YZ_OK)
		st = reader(r, &c, e);
	if (st == YZ_OK)
		st = get(c, scope, id, &o, e);
	if (st != YZ_OK)
		return st;
	if (json_is_integer(json_object_get(o, "version"))) {
		char etag[32];
		snprintf(etag, sizeof etag, "\"%lld\"", (long long)jx_int(o, "version", 0));
		http_set_header(r, "ETag", etag);
	}
	if (created)
		reply_created(r, created, id, o);
	else
		http_reply_json(r, 200, o);
	return YZ_OK;
}

static const yz_scope scope_all = {.all = true};

/* ---- session ---- */

/* A session is open: the cookie, and {user_id, csrf} with 201. */
static yz_status session_opened(http_req *r, const iam_login_result *res, yz_err *e)
{
	yz_status st = http_set_cookie(r, "yz_sid", res->token, -1, true);
	if (st == YZ_OK && http_cookie(r, "yz_mfa"))
		st = http_set_cookie(r, "yz_mfa", "", 0, true);
	if (st != YZ_OK)
		return yz_fail(e, st, "could not set the session cookie");
	json_t *out =
	    json_pack("{s:I, s:s}", "user_id", (json_int_t)res->user_id, "csrf", res->csrf);
	http_reply_json(r, 201, out);
	return YZ_OK;
}

/* Sign-in. With a TOTP set up and no `totp` in the body, or for a role that
 * requires TOTP and none set up yet, no session opens: 200 with {state:
 * "totp_required" | "totp_enrolment_required", pending}, the pending token
 * also as the HttpOnly cookie yz_mfa, for POST /api/v1/session/totp (and
 * /api/v1/session/totp/enrol first). */
static yz_status session_create(http_req *r, yz_err *e)
{
	json_t *in;
	yz_status st = http_json(r, &in, e);
	if (st != YZ_OK)
		return st;
	static const jx_field fields[] = {{"login", JX_STRING, true, 1, 64, NULL},
	                                  {"password", JX_STRING, true, 1, 128, NULL},
	                                  {"totp", JX_STRING, false, 0, 16, NULL},
	                                  {NULL, 0, false, 0, 0, NULL}};
	st = jx_validate(in, fields, e);
	iam_login_result res;
	if (st == YZ_OK)
		st = iam_login_ex(app_of(r)->db, &app_of(r)->policy, http_actor(r),
		                  jx_str(in, "login", ""), jx_str(in, "password", ""),
		                  jx_str(in, "totp", NULL), http_header(r, "User-Agent"), &res, e);
	json_decref(in);
	if (st != YZ_OK)
		return st;
	if (res.next_step == IAM_LOGIN_DONE)
		return session_opened(r, &res, e);
	if (http_set_cookie(r, "yz_mfa", res.pending, -1, true) != YZ_OK)
		return yz_fail(e, YZ_EINTERNAL, "could not set the sign-in cookie");
	const char *state =
	    res.next_step == IAM_LOGIN_TOTP ? "totp_required" : "totp_enrolment_required";
	http_reply_json(r, 200, json_pack("{s:s, s:s}", "state", state, "pending", res.pending));
	return YZ_OK;
}

/* The pending sign-in: from the body, else the yz_mfa cookie. */
static const char *pending_of(http_req *r, json_t *in)
{
	const char *p = jx_str(in, "pending", NULL);
	return p && *p ? p : http_cookie(r, "yz_mfa");
}

/* The name authenticator apps show beside the account. */
static const char *totp_issuer(http_req *r)
{
	const yz_app *app = app_of(r);
	return jx_str(app->site, "portal_title", jx_str(app->site, "city_name", "Yizhan"));
}

static yz_status session_totp(http_req *r, yz_err *e)
{
	json_t *in;
	yz_status st = http_json(r, &in, e);
	if (st != YZ_OK)
		return st;
	static const jx_field fields[] = {{"code", JX_STRING, true, 1, 16, NULL},
	                                  {"pending", JX_STRING, false, 0, 64, NULL},
	                                  {NULL, 0, false, 0, 0, NULL}};
	st = jx_validate(in, fields, e);
	iam_login_result res;
	if (st == YZ_OK)
		st = iam_login_totp(app_of(r)->db, &app_of(r)->policy, http_actor(r),
		                    pending_of(r, in), jx_str(in, "code", ""),
		                    http_header(r, "User-Agent"), &res, e);
	json_decref(in);
	return st == YZ_OK ? session_opened(r, &res, e) : st;
}

static json_t *secret_json(const iam_totp_secret *s)
{
	return json_pack("{s:s, s:s, s:s, s:i, s:i}", "secret", s->secret, "otpauth_uri", s->uri,
	                 "algorithm", "SHA1", "digits", 6, "period", 30);
}

static yz_status session_totp_enrol(http_req *r, yz_err *e)
{
	json_t *in = NULL;
	size_t n = 0;
	yz_status st = YZ_OK;
	if (http_body(r, &n) && n)
		st = http_json(r, &in, e);
	static const jx_field fields[] = {{"pending", JX_STRING, false, 0, 64, NULL},
	                                  {NULL, 0, false, 0, 0, NULL}};
	if (st == YZ_OK && in)
		st = jx_validate(in, fields, e);
	iam_totp_secret sec;
	if (st == YZ_OK)
		st = iam_login_enrol_secret(app_of(r)->db, pending_of(r, in), totp_issuer(r), &sec,
		                            e);
	json_decref(in);
	if (st == YZ_OK)
		http_reply_json(r, 200, secret_json(&sec));
	return st;
}

static yz_status me_totp_get(http_req *r, yz_err *e)
{
	store_conn *c;
	json_t *out;
	yz_status st = reader(r, &c, e);
	if (st == YZ_OK)
		st = iam_totp_status(c, &app_of(r)->policy, http_user_of(r)->id, &out, e);
	if (st == YZ_OK)
		http_reply_json(r, 200, out);
	return st;
}

static yz_status me_totp_begin(http_req *r, yz_err *e)
{
	iam_totp_secret sec;
	yz_status st = iam_totp_begin(app_of(r)->db, http_actor(r), totp_issuer(r), &sec, e);
	if (st == YZ_OK)
		http_reply_json(r, 200, secret_json(&sec));
	return st;
}

static yz_status code_body(http_req *r, json_t **in, yz_err *e)
{
	yz_status st = http_json(r, in, e);
	static const jx_field fields[] = {{"code", JX_STRING, true, 1, 16, NULL},
	                                  {NULL, 0, false, 0, 0, NULL}};
	if (st == YZ_OK)
		st = jx_validate(*in, fields, e);
	return st;
}

static yz_status me_totp_confirm(http_req *r, yz_err *e)
{
	json_t *in = NULL;
	yz_status st = code_body(r, &in, e);
	if (st == YZ_OK)
		st = iam_totp_confirm(app_of(r)->db, http_actor(r), jx_str(in, "code", ""), e);
	json_decref(in);
	if (st == YZ_OK)
		http_reply_text(r, 204, NULL, "", 0);
	return st;
}

static yz_status me_totp_remove(http_req *r, yz_err *e)
{
	json_t *in = NULL;
	yz_status st = code_body(r, &in, e);
	if (st == YZ_OK)
		st = iam_totp_remove(app_of(r)->db, &app_of(r)->policy, http_actor(r),
		                     jx_str(in, "code", ""), e);
	json_decref(in);
	if (st == YZ_OK)
		http_reply_text(r, 204, NULL, "", 0);
	return st;
}

static yz_status users_totp_reset(http_req *r, yz_err *e)
{
	int64_t id = 0;
	yz_status st = http_param_id(r, "id", &id, e);
	if (st == YZ_OK)
		st = iam_totp_reset(app_of(r)->db, http_actor(r), id, e);
	if (st == YZ_OK)
		http_reply_text(r, 204, NULL, "", 0);
	return st;
}

static yz_status session_delete(http_req *r, yz_err *e)
{
	const http_user *u = http_user_of(r);
	yz_status st = iam_logout(app_of(r)->db, http_actor(r), u->session, e);
	if (st != YZ_OK)
		return st;
	if (http_set_cookie(r, "yz_sid", "", 0, true) != YZ_OK)
		return yz_fail(e, YZ_EINTERNAL, "could not clear the session cookie");
	http_reply_text(r, 204, NULL, "", 0);
	return YZ_OK;
}

static yz_status me_get(http_req *r, yz_err *e)
{
	const http_user *u = http_user_of(r);
	store_conn *c;
	yz_status st = reader(r, &c, e);
	if (st != YZ_OK)
		return st;
	json_t *user;
	yz_scope self = {.all = true};
	st = iam_user_get(c, &self, u->id, &user, e);
	if (st != YZ_OK)
		return st;
	iam_authz *z;
	st = iam_authz_load(c, u->id, http_arena(r), &z, e);
	if (st != YZ_OK) {
		json_decref(user);
		return st;
	}
	json_object_set_new(user, "permissions", iam_authz_json(z));
	jx_set_str(user, "csrf", u->csrf);
	http_reply_json(r, 200, user);
	return YZ_OK;
}

static yz_status me_password(http_req *r, yz_err *e)
{
	json_t *in;
	yz_status st = http_json(r, &in, e);
	if (st != YZ_OK)
		return st;
	static const jx_field fields[] = {{"current", JX_STRING, true, 1, 128, NULL},
	                                  {"password", JX_STRING, true, 1, 128, NULL},
	                                  {NULL, 0, false, 0, 0, NULL}};
	st = jx_validate(in, fields, e);
	if (st == YZ_OK)
		st = iam_user_change_password(app_of(r)->db, &app_of(r)->policy, http_actor(r),
		                              jx_str(in, "current", ""), jx_str(in, "password", ""),
		                              http_user_of(r)->session, e);
	json_decref(in);
	if (st == YZ_OK)
		http_reply_text(r, 204, NULL, "", 0);
	return st;
}

/* ---- organisations ---- */

static yz_status orgs_list(http_req *r, yz_err *e)
{
	store_conn *c;
	yz_status st = reader(r, &c, e);
	json_t *list;
	if (st == YZ_OK)
		st = iam_org_list(c, &http_actor(r)->scope, http_query(r, "kind"),
		                  http_query(r, "q"), &list, e);
	if (st == YZ_OK)
		http_reply_json(r, 200, json_pack("{s:o}", "items", list));
	return st;
}

static yz_status orgs_get(http_req *r, yz_err *e)
{
	int64_t id = 0;
	yz_status st = http_param_id(r, "id", &id, e);
	return answer_one(r, st, iam_org_get, id, &http_actor(r)->scope, NULL, e);
}

static yz_status orgs_create(http_req *r, yz_err *e)
{
	json_t *in;
	yz_status st = http_json(r, &in, e);
	if (st != YZ_OK)
		return st;
	int64_t id = 0;
	st = iam_org_create(app_of(r)->db, http_actor(r), in, &id, e);
	json_decref(in);
	return answer_one(r, st, iam_org_get, id, &scope_all, "orgs", e);
}

static yz_status orgs_update(http_req *r, yz_err *e)
{
	int64_t id = 0;
	yz_status st = http_param_id(r, "id", &id, e);
	json_t *in = NULL;
	if (st == YZ_OK)
		st = http_json(r, &in, e);
	if (st == YZ_OK)
		st = iam_org_update(app_of(r)->db, http_actor(r), id, in, e);
	json_decref(in);
	return answer_one(r, st, iam_org_get, id, &http_actor(r)->scope, NULL, e);
}

/* ---- users ---- */

static yz_status users_list(http_req *r, yz_err *e)
{
	iam_user_filter f = {.q = http_query(r, "q"), .kind = http_query(r, "kind")};
	const char *v;
	int64_t n;
	if ((v = http_query(r, "org_id")) && slice_to_i64(slice_of(v), &n) == YZ_OK)
		f.org_id = n;
	if ((v = http_query(r, "after")) && slice_to_i64(slice_of(v), &n) == YZ_OK)
		f.after = n;
	if ((v = http_query(r, "limit")) && slice_to_i64(slice_of(v), &n) == YZ_OK)
		f.limit = (int)(n > 200 ? 200 : n);
	store_conn *c;
	json_t *out;
	yz_status st = reader(r, &c, e);
	if (st == YZ_OK)
		st = iam_user_list(c, &http_actor(r)->scope, &f, &out, e);
	if (st == YZ_OK)
		http_reply_json(r, 200, out);
	return st;
}

static yz_status users_get(http_req *r, yz_err *e)
{
	int64_t id = 0;
	yz_status st = http_param_id(r, "id", &id, e);
	return answer_one(r, st, iam_user_get, id, &http_actor(r)->scope, NULL, e);
}

static yz_status users_create(http_req *r, yz_err *e)
{
	json_t *in;
	yz_status st = http_json(r, &in, e);
	if (st != YZ_OK)
		return st;
	int64_t id = 0;
	st = iam_user_create(app_of(r)->db, &app_of(r)->policy, http_actor(r), in, &id, e);
	json_decref(in);
	return answer_one(r, st, iam_user_get, id, &scope_all, "users", e);
}

/* If-Match: "<version>" (optional). */
static int64_t if_match_version(http_req *r)
{
	const char *h = http_header(r, "If-Match");
	if (!h)
		return 0;
	slice s = slice_trim(slice_of(h));
	if (s.n >= 2 && s.p[0] == '"' && s.p[s.n - 1] == '"')
		s = slice_make(s.p + 1, s.n - 2);
	int64_t v;
	return slice_to_i64(s, &v) == YZ_OK ? v : -1;
}

static yz_status users_update(http_req *r, yz_err *e)
{
	int64_t id = 0;
	yz_status st = http_param_id(r, "id", &id, e);
	json_t *in = NULL;
	if (st == YZ_OK)
		st = http_json(r, &in, e);
	int64_t version = if_match_version(r);
	if (st == YZ_OK && version < 0)
		st = yz_fail(e, YZ_EINVAL, "If-Match must be the ETag of the user");
	if (st == YZ_OK)
		st = iam_user_update(app_of(r)->db, http_actor(r), id, version, in, e);
	json_decref(in);
	return answer_one(r, st, iam_user_get, id, &http_actor(r)->scope, NULL, e);
}

static yz_status users_password(http_req *r, yz_err *e)
{
	int64_t id = 0;
	yz_status st = http_param_id(r, "id", &id, e);
	json_t *in = NULL;
	if (st == YZ_OK)
		st = http_json(r, &in, e);
	static const jx_field fields[] = {{"password", JX_STRING, true, 1, 128, NULL},
	                                  {NULL, 0, false, 0, 0, NULL}};
	if (st == YZ_OK)
		st = jx_validate(in, fields, e);
	if (st == YZ_OK)
		st = iam_user_set_password(app_of(r)->db, &app_of(r)->policy, http_actor(r), id,
		                           jx_str(in, "password", ""), e);
	json_decref(in);
	if (st == YZ_OK)
		http_reply_text(r, 204, NULL, "", 0);
	return st;
}

static yz_status users_unlock(http_req *r, yz_err *e)
{
	int64_t id = 0;
	yz_status st = http_param_id(r, "id", &id, e);
	if (st == YZ_OK)
		st = iam_user_unlock(app_of(r)->db, http_actor(r), id, e);
	if (st == YZ_OK)
		http_reply_text(r, 204, NULL, "", 0);
	return st;
}

static yz_status users_roles(http_req *r, yz_err *e)
{
	int64_t id = 0;
	yz_status st = http_param_id(r, "id", &id, e);
	json_t *in = NULL;
	if (st == YZ_OK)
		st = http_json(r, &in, e);
	static const jx_field fields[] = {{"roles", JX_ARRAY, true, 0, 50, NULL},
	                                  {NULL, 0, false, 0, 0, NULL}};
	if (st == YZ_OK)
		st = jx_validate(in, fields, e);
	if (st == YZ_OK)
		st = iam_user_set_roles(app_of(r)->db, http_actor(r), id,
		                        json_object_get(in, "roles"), e);
	json_decref(in);
	return answer_one(r, st, iam_user_get, id, &scope_all, NULL, e);
}

/* ---- roles ---- */

static yz_status roles_list(http_req *r, yz_err *e)
{
	store_conn *c;
	json_t *list;
	yz_status st = reader(r, &c, e);
	if (st == YZ_OK)
		st = iam_role_list(c, &list, e);
	if (st == YZ_OK)
		http_reply_json(r, 200, json_pack("{s:o}", "items", list));
	return st;
}

static yz_status roles_get(http_req *r, yz_err *e)
{
	int64_t id = 0;
	yz_status st = http_param_id(r, "id", &id, e);
	return answer_one(r, st, role_get_any_scope, id, &scope_all, NULL, e);
}

static yz_status roles_create(http_req *r, yz_err *e)
{
	json_t *in;
	yz_status st = http_json(r, &in, e);
	if (st != YZ_OK)
		return st;
	int64_t id = 0;
	st = iam_role_create(app_of(r)->db, http_actor(r), in, &id, e);
	json_decref(in);
	return answer_one(r, st, role_get_any_scope, id, &scope_all, "roles", e);
}

static yz_status roles_update(http_req *r, yz_err *e)
{
	int64_t id = 0;
	yz_status st = http_param_id(r, "id", &id, e);
	json_t *in = NULL;
	if (st == YZ_OK)
		st = http_json(r, &in, e);
	if (st == YZ_OK)
		st = iam_role_update(app_of(r)->db, http_actor(r), id, in, e);
	json_decref(in);
	return answer_one(r, st, role_get_any_scope, id, &scope_all, NULL, e);
}

static yz_status perms_list(http_req *r, yz_err *e)
{
	(void)e;
	http_reply_json(r, 200, json_pack("{s:o}", "items", iam_perms_json()));
	return YZ_OK;
}

static const http_route api_routes[] = {
    {HTTP_POST, "/api/v1/session", session_create, HTTP_PUBLIC, HTTP_SCOPE_NONE, 0, 4096,
     "Sign in with login and password; sets the session cookie and returns the CSRF token"},
    {HTTP_DELETE, "/api/v1/session", session_delete, HTTP_SIGNED_IN, HTTP_SCOPE_NONE, 0, 0,
     "Sign out"},
    {HTTP_POST, "/api/v1/session/totp", session_totp, HTTP_PUBLIC, HTTP_SCOPE_NONE, 0, 4096,
     "The second step of a sign-in: the TOTP code for the pending sign-in"},
    {HTTP_POST, "/api/v1/session/totp/enrol", session_totp_enrol, HTTP_PUBLIC, HTTP_SCOPE_NONE, 0,
     4096, "A pending sign-in that must set up TOTP first: the secret to confirm"},
    {HTTP_GET, "/api/v1/me/totp", me_totp_get, HTTP_SIGNED_IN, HTTP_SCOPE_NONE, 0, 0,
     "Whether one's TOTP is set up, being set up, or required"},
    {HTTP_POST, "/api/v1/me/totp", me_totp_begin, HTTP_SIGNED_IN, HTTP_SCOPE_NONE, 0, 1024,
     "Start setting up TOTP: a new secret and its otpauth:// URI"},
    {HTTP_POST, "/api/v1/me/totp/confirm", me_totp_confirm, HTTP_SIGNED_IN, HTTP_SCOPE_NONE, 0,
     1024, "Confirm the new TOTP secret with a current code"},
    {HTTP_DELETE, "/api/v1/me/totp", me_totp_remove, HTTP_SIGNED_IN, HTTP_SCOPE_NONE, 0, 1024,
     "Remove one's TOTP, with a current code"},
    {HTTP_GET, "/api/v1/me", me_get, HTTP_SIGNED_IN, HTTP_SCOPE_NONE, 0, 0,
     "The signed-in user, their roles and permissions"},
    {HTTP_POST, "/api/v1/me/password", me_password, HTTP_SIGNED_IN, HTTP_SCOPE_NONE, 0, 4096,
     "Change one's own password"},
    {HTTP_GET, "/api/v1/orgs", orgs_list, "iam.org.read", HTTP_SCOPE_ORG, 0, 0,
     "Organisations within scope, as a depth-first tree"},
    {HTTP_POST, "/api/v1/orgs", orgs_create, "iam.org.manage", HTTP_SCOPE_ORG, 0, 0,
     "Create an organisation"},
    {HTTP_GET, "/api/v1/orgs/{id}", orgs_get, "iam.org.read", HTTP_SCOPE_ORG, 0, 0,
     "One organisation"},
    {HTTP_PATCH, "/api/v1/orgs/{id}", orgs_update, "iam.org.manage", HTTP_SCOPE_ORG, 0, 0,
     "Change an organisation"},
    {HTTP_GET, "/api/v1/users", users_list, "iam.user.read", HTTP_SCOPE_ORG, 0, 0,
     "Users within scope (cursor: after, limit; filters: q, kind, org_id)"},
    {HTTP_POST, "/api/v1/users", users_create, "iam.user.manage", HTTP_SCOPE_ORG, 0, 0,
     "Create a user"},
    {HTTP_GET, "/api/v1/users/{id}", users_get, "iam.user.read", HTTP_SCOPE_ORG, 0, 0,
     "One user with role assignments (ETag = version)"},
    {HTTP_PATCH, "/api/v1/users/{id}", users_update, "iam.user.manage", HTTP_SCOPE_ORG, 0, 0,
     "Change a user (If-Match: the ETag)"},
    {HTTP_POST, "/api/v1/users/{id}/password", users_password, "iam.user.manage", HTTP_SCOPE_ORG, 0,
     4096, "Set a new password for a user"},
    {HTTP_POST, "/api/v1/users/{id}/unlock", users_unlock, "iam.user.manage", HTTP_SCOPE_ORG, 0, 0,
     "Unlock an account locked after failed logins"},
    {HTTP_PUT, "/api/v1/users/{id}/roles", users_roles, "iam.role.manage", HTTP_SCOPE_ORG, 0, 0,
     "Replace a user's role assignments"},
    {HTTP_DELETE, "/api/v1/users/{id}/totp", users_totp_reset, "iam.user.manage", HTTP_SCOPE_ORG, 0,
     0, "Reset a user's TOTP (a lost phone): they set it up again"},
    {HTTP_GET, "/api/v1/roles", roles_list, "iam.role.read", HTTP_SCOPE_NONE, 0, 0,
     "Roles and their permissions"},
    {HTTP_POST, "/api/v1/roles", roles_create, "iam.role.manage", HTTP_SCOPE_ORG, 0, 0,
     "Create a role"},
    {HTTP_GET, "/api/v1/roles/{id}", roles_get, "iam.role.read", HTTP_SCOPE_NONE, 0, 0, "One role"},
    {HTTP_PATCH, "/api/v1/roles/{id}", roles_update, "iam.role.manage", HTTP_SCOPE_ORG, 0, 0,
     "Change a role"},
    {HTTP_GET, "/api/v1/permissions", perms_list, "iam.role.read", HTTP_SCOPE_NONE, 0, 0,
     "Permissions the modules declare"},
};

yz_status iam_api_routes(yz_app *app, yz_err *e)
{
	http_auth_hooks h = {.ctx = app, .session = hook_session, .allowed = hook_allowed};
	http_set_auth(app->http, &h);
	return http_routes_add(app->http, api_routes,
	                       (int)(sizeof api_routes / sizeof api_routes[0]), e);
}
