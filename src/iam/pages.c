/*
 * pages.c — iam's pages: sign in and out, one's own password, and the
 * operator pages for users, roles and organisations. Every page calls the
 * same iam functions as the JSON API; a failed validation re-renders the form
 * with a GOV.UK error summary and one message per field.
 */
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "core/jx.h"
#include "core/slice.h"
#include "http/http.h"
#include "iam/iam.h"
#include "iam/oidc_http.h"

static yz_app *app_of(http_req *r)
{
	return http_app(r);
}

static yz_status page(http_req *r, int status, const char *tmpl, json_t *data, yz_err *e)
{
	return http_reply_page(r, status, tmpl, data, e);
}

/* A form page again, with what the user typed and what is wrong. */
static yz_status form_again(http_req *r, const char *tmpl, json_t *data, json_t *values,
                            const yz_err *err, yz_err *e)
{
	json_object_set_new(data, "values", values ? values : json_object());
	/* labels that differ by page: an org's or a role's name is 名称, not 姓名 */
	const char *scope = strstr(tmpl, "_org")        ? "org"
	                    : strstr(tmpl, "_role")     ? "role"
	                    : strstr(tmpl, "_user_new") ? "user_new"
	                                                : NULL;
	json_object_set_new(data, "error", http_error_data(r, err, scope));
	int status = yz_status_http(err->code);
	if (status >= 500)
		return *e = *err, err->code;
	return page(r, status, tmpl, data, e);
}

/* Only local paths, never //host or a scheme. */
static const char *safe_next(const char *next)
{
	if (!next || next[0] != '/' || next[1] == '/' || next[1] == '\\' || strchr(next, ':'))
		return "/workbench";
	return next;
}

/* ---- sign in / out ---- */

static yz_status login_get(http_req *r, yz_err *e)
{
	if (http_user_of(r)) {
		http_redirect(r, safe_next(http_query(r, "next")));
		return YZ_OK;
	}
	json_t *d = json_object();
	json_object_set_new(d, "values",
	                    json_pack("{s:s}", "next", safe_next(http_query(r, "next"))));
	return page(r, 200, "pages/login", d, e);
}

/* Signed in: on to next. An application's sign-in (/oidc/authorize) ends
 * in a redirect to the application's own address; browsers check such a
 * redirect after a form against the form page's CSP (form-action 'self'),
 * so that way goes through a page of its own instead. */
static yz_status signed_in(http_req *r, const iam_login_result *res, const char *next, yz_err *e)
{
	if (http_set_cookie(r, "yz_sid", res->token, -1, true) != YZ_OK ||
	    (http_cookie(r, "yz_mfa") && http_set_cookie(r, "yz_mfa", "", 0, true) != YZ_OK))
		return yz_fail(e, YZ_EINTERNAL, "could not set the session cookie");
	if (!strncmp(next, "/oidc/", 6))
		return page(r, 200, "pages/oidc_continue", json_pack("{s:s}", "next", next), e);
	http_redirect(r, next);
	return YZ_OK;
}

/* The name authenticator apps show beside the account. */
static const char *totp_issuer(http_req *r)
{
	const yz_app *app = app_of(r);
	return jx_str(app->site, "portal_title", jx_str(app->site, "city_name", "Yizhan"));
}

static const char *with_next(http_req *r, const char *path, const char *next)
{
	char *enc = form_percent_encode(http_arena(r), next, strlen(next));
	char *url = enc ? arena_printf(http_arena(r), "%s?next=%s", path, enc) : NULL;
	return url ? url : path;
}

static yz_status login_post(http_req *r, yz_err *e)
{
	const form *f;
	yz_status st = http_form(r, &f, e);
	if (st != YZ_OK)
		return st;
	const char *login = form_get(f, "login"), *pw = form_get(f, "password");
	const char *next = safe_next(form_get(f, "next"));
	iam_login_result res;
	yz_err le = {0};
	st = iam_login_ex(app_of(r)->db, &app_of(r)->policy, http_actor(r), login ? login : "",
	                  pw ? pw : "", NULL, http_header(r, "User-Agent"), &res, &le);
	if (st == YZ_OK && res.next_step == IAM_LOGIN_DONE)
		return signed_in(r, &res, next, e);
	if (st == YZ_OK) {
		/* the password was right; the second factor (or setting it up) comes next */
		if (http_set_cookie(r, "yz_mfa", res.pending, -1, true) != YZ_OK)
			return yz_fail(e, YZ_EINTERNAL, "could not set the sign-in cookie");
		http_redirect(r, with_next(r,
		                           res.next_step == IAM_LOGIN_TOTP ? "/login/totp"
		                                                           : "/login/totp/enrol",
		                           next));
		return YZ_OK;
	}
	if (st != YZ_EINVAL && st != YZ_EUNAUTH && st != YZ_ELOCKED && st != YZ_EFORBIDDEN) {
		*e = le;
		return st;
	}
	/* wrong credentials and lockouts point at the password field */
	if (!le.nfield) {
		const char *rule = st == YZ_ELOCKED      ? "locked"
		                   : st == YZ_EFORBIDDEN ? "disabled"
		                                         : "credentials";
		char msg[sizeof le.msg];
		yz_strlcpy(msg, le.msg, sizeof msg);
		yz_field(&le, "password", rule, msg, NULL);
		le.code = st;
	}
	json_t *values = json_pack("{s:s, s:s}", "login", login ? login : "", "next", next);
	return form_again(r, "pages/login", json_object(), values, &le, e);
}

static yz_status logout_post(http_req *r, yz_err *e)
{
	const http_user *u = http_user_of(r);
	if (u) {
		yz_status st = iam_logout(app_of(r)->db, http_actor(r), u->session, e);
		if (st != YZ_OK)
			return st;
	}
	if (http_set_cookie(r, "yz_sid", "", 0, true) != YZ_OK)
		return yz_fail(e, YZ_EINTERNAL, "could not clear the session cookie");
	http_flash(r, "flash.signed_out");
	http_redirect(r, "/");
	return YZ_OK;
}

/* ---- the second factor of a sign-in ---- */

/* The pending sign-in is gone (expired, too many wrong codes): start again. */
static yz_status pending_gone(http_req *r, const char *next)
{
	if (http_set_cookie(r, "yz_mfa", "", 0, true) != YZ_OK)
		return YZ_EINTERNAL;
	http_flash(r, "login.totp_expired");
	http_redirect(r, with_next(r, "/login", next));
	return YZ_OK;
}

static json_t *totp_errors(http_req *r, const yz_err *fe)
{
	json_t *labels = json_pack("{s:s}", "code", http_t(r, "totp.code"));
	json_t *d = http_error_data_with(r, fe, NULL, labels);
	json_decref(labels);
	return d;
}

static yz_status totp_form(http_req *r, int status, bool enrol, const char *next, const yz_err *fe,
                           yz_err *e)
{
	json_t *d = json_object();
	json_object_set_new(d, "values", json_pack("{s:s}", "next", next));
	jx_set_bool(d, "enrol", enrol);
	if (enrol) {
		iam_totp_secret sec;
		yz_err se = {0};
		yz_status st = iam_login_enrol_secret(app_of(r)->db, http_cookie(r, "yz_mfa"),
		                                      totp_issuer(r), &sec, &se);
		if (st == YZ_EUNAUTH || st == YZ_ECONFLICT) {
			json_decref(d);
			return pending_gone(r, next);
		}
		if (st != YZ_OK) {
			json_decref(d);
			*e = se;
			return st;
		}
		json_object_set_new(d, "secret",
		                    json_pack("{s:s, s:s}", "secret", sec.secret, "uri", sec.uri));
	}
	if (fe)
		json_object_set_new(d, "error", totp_errors(r, fe));
	return page(r, status, "pages/totp_login", d, e);
}

static yz_status login_totp_get(http_req *r, yz_err *e)
{
	const char *next = safe_next(http_query(r, "next"));
	if (!http_cookie(r, "yz_mfa"))
		return pending_gone(r, next);
	return totp_form(r, 200, false, next, NULL, e);
}

static yz_status login_enrol_get(http_req *r, yz_err *e)
{
	const char *next = safe_next(http_query(r, "next"));
	if (!http_cookie(r, "yz_mfa"))
		return pending_gone(r, next);
	return totp_form(r, 200, true, next, NULL, e);
}

static yz_status login_totp_post_as(http_req *r, bool enrol, yz_err *e)
{
	const form *f;
	yz_status st = http_form(r, &f, e);
	if (st != YZ_OK)
		return st;
	const char *next = safe_next(form_get(f, "next"));
	const char *code = form_get(f, "code");
	iam_login_result res;
	yz_err le = {0};
	st = iam_login_totp(app_of(r)->db, &app_of(r)->policy, http_actor(r),
	                    http_cookie(r, "yz_mfa"), code ? code : "",
	                    http_header(r, "User-Agent"), &res, &le);
	if (st == YZ_OK)
		return signed_in(r, &res, next, e);
	if (st == YZ_EUNAUTH && !le.nfield)
		return pending_gone(r, next);
	if (st != YZ_EINVAL && st != YZ_EUNAUTH && st != YZ_ELOCKED && st != YZ_EFORBIDDEN) {
		*e = le;
		return st;
	}
	if (!le.nfield) {
		char msg[sizeof le.msg];
		yz_strlcpy(msg, le.msg, sizeof msg);
		yz_field(&le, "code", st == YZ_ELOCKED ? "locked" : "disabled", msg, NULL);
		le.code = st;
	}
	return totp_form(r, yz_status_http(st), enrol, next, &le, e);
}

static yz_status login_totp_post(http_req *r, yz_err *e)
{
	return login_totp_post_as(r, false, e);
}

static yz_status login_enrol_post(http_req *r, yz_err *e)
{
	return login_totp_post_as(r, true, e);
}

/* ---- one's own TOTP ---- */

static yz_status account_totp_show(http_req *r, int status, const iam_totp_secret *sec,
                                   const yz_err *fe, const char *failed, yz_err *e)
{
	store_conn *c;
	json_t *st_json;
	yz_status st = store_reader(app_of(r)->db, &c, e);
	if (st == YZ_OK)
		st = iam_totp_status(c, &app_of(r)->policy, http_user_of(r)->id, &st_json, e);
	if (st != YZ_OK)
		return st;
	json_t *d = json_object();
	json_object_set_new(d, "totp", st_json);
	iam_totp_secret again;
	if (!sec && jx_bool(st_json, "pending", false) &&
	    iam_totp_pending_secret(app_of(r)->db, http_actor(r), totp_issuer(r), &again, NULL) ==
	        YZ_OK)
		sec = &again;
	if (sec)
		json_object_set_new(
		    d, "secret", json_pack("{s:s, s:s}", "secret", sec->secret, "uri", sec->uri));
	if (fe) {
		json_object_set_new(d, "error", totp_errors(r, fe));
		jx_set_str(d, "failed_form", failed);
	}
	return page(r, status, "pages/totp_account", d, e);
}

static yz_status account_totp_get(http_req *r, yz_err *e)
{
	return account_totp_show(r, 200, NULL, NULL, NULL, e);
}

static yz_status account_totp_begin(http_req *r, yz_err *e)
{
	iam_totp_secret sec;
	yz_err fe = {0};
	yz_status st = iam_totp_begin(app_of(r)->db, http_actor(r), totp_issuer(r), &sec, &fe);
	if (st == YZ_ECONFLICT)
		return account_totp_show(r, 409, NULL, &fe, "begin", e);
	if (st != YZ_OK) {
		*e = fe;
		return st;
	}
	return account_totp_show(r, 200, &sec, NULL, NULL, e);
}

static yz_status account_totp_code(http_req *r, bool confirm, yz_err *e)
{
	const form *f;
	yz_status st = http_form(r, &f, e);
	if (st != YZ_OK)
		return st;
	const char *code = form_get(f, "code");
	yz_err fe = {0};
	st = confirm ? iam_totp_confirm(app_of(r)->db, http_actor(r), code ? code : "", &fe)
	             : iam_totp_remove(app_of(r)->db, &app_of(r)->policy, http_actor(r),
	                               code ? code : "", &fe);
	if (st == YZ_OK) {
		http_flash(r, confirm ? "totp.flash_enrolled" : "totp.flash_removed");
		http_redirect(r, "/account/totp");
		return YZ_OK;
	}
	if (yz_status_http(st) >= 500) {
		*e = fe;
		return st;
	}
	return account_totp_show(r, yz_status_http(st), NULL, &fe, confirm ? "confirm" : "remove",
	                         e);
}

static yz_status account_totp_confirm(http_req *r, yz_err *e)
{
	return account_totp_code(r, true, e);
}

static yz_status account_totp_remove(http_req *r, yz_err *e)
{
	return account_totp_code(r, false, e);
}

/* ---- own password ---- */

static yz_status password_get(http_req *r, yz_err *e)
{
	return page(r, 200, "pages/account_password", json_object(), e);
}

static yz_status password_post(http_req *r, yz_err *e)
{
	const form *f;
	yz_status st = http_form(r, &f, e);
	if (st != YZ_OK)
		return st;
	yz_err fe = {0};
	const char *cur = form_get(f, "current"), *next = form_get(f, "password"),
	           *again = form_get(f, "password_again");
	if (!cur || !*cur)
		yz_field(&fe, "current", "required", NULL, NULL);
	if (!next || !*next)
		yz_field(&fe, "password", "required", NULL, NULL);
	else if (!again || strcmp(next, again) != 0)
		yz_field(&fe, "password_again", "same", NULL, NULL);
	if (!fe.nfield)
		st = iam_user_change_password(app_of(r)->db, &app_of(r)->policy, http_actor(r), cur,
		                              next, http_user_of(r)->session, &fe);
	else
		st = YZ_EINVAL;
	if (st == YZ_OK) {
		http_flash(r, "flash.password_changed");
		http_redirect(r, "/workbench");
		return YZ_OK;
	}
	return form_again(r, "pages/account_password", json_object(), json_object(), &fe, e);
}

/* ---- shared pieces of the admin pages ---- */

/* Organisations the actor may pick for a form, with indentation by depth. */
static json_t *org_options(http_req *r, int64_t selected)
{
	store_conn *c;
	json_t *list = NULL;
	if (store_reader(app_of(r)->db, &c, NULL) != YZ_OK ||
	    iam_org_list(c, &http_actor(r)->scope, NULL, NULL, &list, NULL) != YZ_OK)
		return json_array();
	size_t i;
	json_t *o;
	json_array_foreach (list, i, o) {
		int depth = (int)jx_int(o, "depth", 0);
		char indent[64] = "";
		for (int k = 0; k < depth && k < 10; k++)
			strncat(indent, "\u3000", sizeof indent - strlen(indent) - 1);
		jx_set_str(o, "indent", indent);
		jx_set_bool(o, "selected", jx_int(o, "id", 0) == selected);
	}
	return list;
}

static json_t *kind_options(const char *selected)
{
	json_t *a = json_array();
	static const char *kinds[] = {"civil_servant", "leader", "operator", "citizen",
	                              "enterprise"};
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		json_t *o = json_object();
		jx_set_str(o, "value", kinds[i]);
		char key[48];
		snprintf(key, sizeof key, "kind.%s", kinds[i]);
		jx_set_str(o, "label", key);
		jx_set_bool(o, "selected", selected && !strcmp(selected, kinds[i]));
		json_array_append_new(a, o);
	}
	return a;
}

/* Form strings → the JSON the iam functions take: numbers where numbers
 * belong, empty optional fields left out. */
static json_t *user_input(const form *f, bool create)
{
	json_t *in = json_object();
	const char *keys[] = {"login", "name", "kind", "phone", "email", "password", "status"};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		const char *v = form_get(f, keys[i]);
		if (!v)
			continue;
		if (!create && !strcmp(keys[i], "login"))
			continue;
		if (!*v && (!strcmp(keys[i], "phone") || !strcmp(keys[i], "email")) && create)
			continue;
		jx_set_str(in, keys[i], v);
	}
	const char *org = form_get(f, "org_id");
	int64_t id;
	if (org && *org && slice_to_i64(slice_of(org), &id) == YZ_OK)
		jx_set_int(in, "org_id", id);
	else if (org && *org)
		jx_set_str(in, "org_id", org); /* reported as a type error */
	return in;
}

/* ---- users ---- */

static yz_status users_page(http_req *r, yz_err *e)
{
	iam_user_filter f = {.q = http_query(r, "q"), .kind = http_query(r, "kind"), .limit = 50};
	const char *after = http_query(r, "after");
	int64_t n;
	if (after && slice_to_i64(slice_of(after), &n) == YZ_OK)
		f.after = n;
	store_conn *c;
	json_t *list;
	yz_status st = store_reader(app_of(r)->db, &c, e);
	if (st == YZ_OK)
		st = iam_user_list(c, &http_actor(r)->scope, &f, &list, e);
	if (st != YZ_OK)
		return st;
	size_t i;
	json_t *u;
	json_array_foreach (json_object_get(list, "items"), i, u) {
		jx_set_label(u, "kind_label", "kind", "kind", "");
		jx_set_label(u, "status_label", "status", "status", "");
	}
	json_t *d = json_object();
	json_object_set_new(d, "users", list);
	jx_set_str(d, "q", f.q ? f.q : "");
	json_object_set_new(d, "kinds", kind_options(f.kind));
	jx_set_bool(d, "can_manage", http_can(r, "iam.user.manage"));
	return page(r, 200, "pages/admin_users", d, e);
}

static yz_status user_new_get(http_req *r, yz_err *e)
{
	json_t *d = json_object();
	json_object_set_new(d, "orgs", org_options(r, 0));
	json_object_set_new(d, "kinds", kind_options("civil_servant"));
	json_object_set_new(d, "values", json_object());
	return page(r, 200, "pages/admin_user_new", d, e);
}

static yz_status user_new_post(http_req *r, yz_err *e)
{
	const form *f;
	yz_status st = http_form(r, &f, e);
	if (st != YZ_OK)
		return st;
	json_t *in = user_input(f, true);
	yz_err fe = {0};
	int64_t id = 0;
	/* every fault at once: the field rules, then the repeated password */
	const char *again = form_get(f, "password_again");
	yz_status vs = iam_user_validate(in, &fe);
	if (!again || strcmp(again, jx_str(in, "password", "")) != 0)
		vs = yz_field(&fe, "password_again", "same", NULL, NULL);
	st = vs != YZ_OK
	         ? vs
	         : iam_user_create(app_of(r)->db, &app_of(r)->policy, http_actor(r), in, &id, &fe);
	if (st == YZ_OK) {
		json_decref(in);
		http_flash(r, "flash.user_created");
		char url[64];
		snprintf(url, sizeof url, "/admin/users/%lld", (long long)id);
		http_redirect(r, url);
		return YZ_OK;
	}
	json_object_del(in, "password");
	json_t *d = json_object();
	json_object_set_new(d, "orgs", org_options(r, jx_int(in, "org_id", 0)));
	json_object_set_new(d, "kinds", kind_options(jx_str(in, "kind", NULL)));
	return form_again(r, "pages/admin_user_new", d, in, &fe, e);
}

static json_t *role_options(http_req *r)
{
	store_conn *c;
	json_t *list = NULL;
	if (store_reader(app_of(r)->db, &c, NULL) != YZ_OK ||
	    iam_role_list(c, &list, NULL) != YZ_OK)
		return json_array();
	return list;
}

/* The user page: details, and the forms the actor may use. */
static yz_status user_show(http_req *r, int64_t id, int status, json_t *extra, yz_err *e)
{
	store_conn *c;
	json_t *u;
	yz_status st = store_reader(app_of(r)->db, &c, e);
	if (st == YZ_OK)
		st = iam_user_get(c, &http_actor(r)->scope, id, &u, e);
	if (st != YZ_OK) {
		json_decref(extra);
		return st;
	}
	json_t *d = extra ? extra : json_object();
	bool can_manage = http_can(r, "iam.user.manage");
	bool can_roles = http_can(r, "iam.role.manage") && id != http_actor(r)->user_id;
	jx_set_bool(d, "can_manage", can_manage);
	jx_set_bool(d, "can_roles", can_roles);
	jx_set_bool(d, "is_staff", iam_kind_is_staff(iam_kind_parse(jx_str(u, "kind", ""))));
	if (!json_object_get(d, "values"))
		json_object_set(d, "values", u);
	json_object_set_new(d, "orgs", org_options(r, jx_int(u, "org_id", 0)));
	json_object_set_new(d, "kinds", kind_options(jx_str(u, "kind", NULL)));
	if (can_roles) {
		json_object_set_new(d, "roles", role_options(r));
		json_object_set_new(d, "scopes", org_options(r, 0));
	}
	char kind_key[48];
	snprintf(kind_key, sizeof kind_key, "kind.%s", jx_str(u, "kind", ""));
	jx_set_str(u, "kind_label", kind_key);
	jx_set_bool(u, "active", !strcmp(jx_str(u, "status", ""), "active"));
	json_object_set_new(d, "user", u);
	return page(r, status, "pages/admin_user", d, e);
}

static yz_status user_get(http_req *r, yz_err *e)
{
	int64_t id;
	yz_status st = http_param_id(r, "id", &id, e);
	return st == YZ_OK ? user_show(r, id, 200, NULL, e) : st;
}

static yz_status after_change(http_req *r, int64_t id, const char *flash, yz_status st,
                              const char *which, json_t *values, yz_err *fe, yz_err *e)
{
	if (st == YZ_OK) {
		json_decref(values);
		http_flash(r, flash);
		char url[64];
		snprintf(url, sizeof url, "/admin/users/%lld", (long long)id);
		http_redirect(r, url);
		return YZ_OK;
	}
	if (yz_status_http(st) >= 500 || st == YZ_ENOTFOUND) {
		json_decref(values);
		*e = *fe;
		return st;
	}
	json_t *d = json_object();
	jx_set_str(d, "failed_form", which);
	json_object_set_new(d, "error", http_error_data(r, fe, NULL));
	if (values)
		json_object_set_new(d, "values", values);
	return user_show(r, id, yz_status_http(st), d, e);
}

static yz_status user_post(http_req *r, yz_err *e)
{
	int64_t id;
	const form *f;
	yz_status st = http_param_id(r, "id", &id, e);
	if (st == YZ_OK)
		st = http_form(r, &f, e);
	if (st != YZ_OK)
		return st;
	json_t *in = user_input(f, false);
	json_object_del(in, "password");
	int64_t version = 0;
	const char *v = form_get(f, "version");
	if (v && slice_to_i64(slice_of(v), &version) != YZ_OK)
		version = -1; /* a tampered field: let the version check refuse it */
	yz_err fe = {0};
	st = iam_user_update(app_of(r)->db, http_actor(r), id, version, in, &fe);
	return after_change(r, id, "flash.user_saved", st, "edit", in, &fe, e);
}

static yz_status user_password_post(http_req *r, yz_err *e)
{
	int64_t id;
	const form *f;
	yz_status st = http_param_id(r, "id", &id, e);
	if (st == YZ_OK)
		st = http_form(r, &f, e);
	if (st != YZ_OK)
		return st;
	yz_err fe = {0};
	const char *pw = form_get(f, "password"), *again = form_get(f, "password_again");
	if (!pw || !*pw)
		st = yz_field(&fe, "password", "required", NULL, NULL);
	else if (!again || strcmp(pw, again) != 0)
		st = yz_field(&fe, "password_again", "same", NULL, NULL);
	else
		st = iam_user_set_password(app_of(r)->db, &app_of(r)->policy, http_actor(r), id, pw,
		                           &fe);
	return after_change(r, id, "flash.password_set", st, "password", NULL, &fe, e);
}

static yz_status user_unlock_post(http_req *r, yz_err *e)
{
	int64_t id;
	yz_status st = http_param_id(r, "id", &id, e);
	if (st != YZ_OK)
		return st;
	yz_err fe = {0};
	st = iam_user_unlock(app_of(r)->db, http_actor(r), id, &fe);
	return after_change(r, id, "flash.user_unlocked", st, "unlock", NULL, &fe, e);
}

/* Roles form: checkboxes "keep" with values "<role>@<scope id>", plus an
 * optional new assignment (add_role, add_scope). */
static yz_status user_roles_post(http_req *r, yz_err *e)
{
	int64_t id;
	const form *f;
	yz_status st = http_param_id(r, "id", &id, e);
	if (st == YZ_OK)
		st = http_form(r, &f, e);
	if (st != YZ_OK)
		return st;
	json_t *roles = json_array();
	for (size_t i = 0; i < f->n; i++) {
		if (strcmp(f->fields[i].name, "keep") != 0)
			continue;
		slice rest = slice_of(f->fields[i].value);
		slice role = slice_cut(&rest, '@');
		int64_t scope;
		if (!role.n || slice_to_i64(rest, &scope) != YZ_OK)
			continue;
		json_array_append_new(roles, json_pack("{s:s%, s:I}", "role", role.p, role.n,
		                                       "scope", (json_int_t)scope));
	}
	const char *add_role = form_get(f, "add_role"), *add_scope = form_get(f, "add_scope");
	int64_t scope;
	if (add_role && *add_role && add_scope &&
	    slice_to_i64(slice_of(add_scope), &scope) == YZ_OK)
		json_array_append_new(
		    roles, json_pack("{s:s, s:I}", "role", add_role, "scope", (json_int_t)scope));
	yz_err fe = {0};
	st = iam_user_set_roles(app_of(r)->db, http_actor(r), id, roles, &fe);
	json_decref(roles);
	return after_change(r, id, "flash.roles_saved", st, "roles", NULL, &fe, e);
}

/* ---- roles ---- */

static json_t *perm_options(json_t *checked)
{
	json_t *all = iam_perms_json();
	size_t i, k;
	json_t *p, *c;
	json_array_foreach (all, i, p) {
		bool on = false;
		json_array_foreach (checked, k, c)
			if (json_is_string(c) &&
			    !strcmp(json_string_value(c), jx_str(p, "name", "")))
				on = true;
		jx_set_bool(p, "checked", on);
	}
	return all;
}

static yz_status roles_page(http_req *r, yz_err *e)
{
	json_t *d = json_object();
	json_object_set_new(d, "roles", role_options(r));
	jx_set_bool(d, "can_manage", http_can(r, "iam.role.manage"));
	return page(r, 200, "pages/admin_roles", d, e);
}

static json_t *role_input(const form *f)
{
	json_t *in = json_object();
	const char *keys[] = {"code", "name", "description"};
	for (size_t i = 0; i < 3; i++) {
		const char *v = form_get(f, keys[i]);
		if (v)
			jx_set_str(in, keys[i], v);
	}
	json_t *perms = json_array();
	for (size_t i = 0; i < f->n; i++)
		if (!strcmp(f->fields[i].name, "perm"))
			json_array_append_new(perms, json_string(f->fields[i].value));
	json_object_set_new(in, "permissions", perms);
	return in;
}

static yz_status role_new_get(http_req *r, yz_err *e)
{
	json_t *d = json_object();
	json_t *none = json_array();
	json_object_set_new(d, "perms", perm_options(none));
	json_decref(none);
	json_object_set_new(d, "values", json_object());
	jx_set_bool(d, "creating", true);
	return page(r, 200, "pages/admin_role", d, e);
}

static yz_status role_new_post(http_req *r, yz_err *e)
{
	const form *f;
	yz_status st = http_form(r, &f, e);
	if (st != YZ_OK)
		return st;
	json_t *in = role_input(f);
	int64_t id;
	yz_err fe = {0};
	st = iam_role_create(app_of(r)->db, http_actor(r), in, &id, &fe);
	if (st == YZ_OK) {
		json_decref(in);
		http_flash(r, "flash.role_saved");
		http_redirect(r, "/admin/roles");
		return YZ_OK;
	}
	json_t *d = json_object();
	json_object_set_new(d, "perms", perm_options(json_object_get(in, "permissions")));
	jx_set_bool(d, "creating", true);
	return form_again(r, "pages/admin_role", d, in, &fe, e);
}

static yz_status role_get(http_req *r, yz_err *e)
{
	int64_t id;
	store_conn *c;
	json_t *role;
	yz_status st = http_param_id(r, "id", &id, e);
	if (st == YZ_OK)
		st = store_reader(app_of(r)->db, &c, e);
	if (st == YZ_OK)
		st = iam_role_get(c, id, &role, e);
	if (st != YZ_OK)
		return st;
	json_t *d = json_object();
	json_object_set_new(d, "perms", perm_options(json_object_get(role, "permissions")));
	json_object_set_new(d, "values", role);
	jx_set_bool(d, "can_manage", http_can(r, "iam.role.manage"));
	return page(r, 200, "pages/admin_role", d, e);
}

static yz_status role_post(http_req *r, yz_err *e)
{
	int64_t id;
	const form *f;
	yz_status st = http_param_id(r, "id", &id, e);
	if (st == YZ_OK)
		st = http_form(r, &f, e);
	if (st != YZ_OK)
		return st;
	json_t *in = role_input(f);
	json_object_del(in, "code");
	yz_err fe = {0};
	st = iam_role_update(app_of(r)->db, http_actor(r), id, in, &fe);
	if (st == YZ_OK) {
		json_decref(in);
		http_flash(r, "flash.role_saved");
		http_redirect(r, "/admin/roles");
		return YZ_OK;
	}
	if (st == YZ_ENOTFOUND || yz_status_http(st) >= 500) {
		json_decref(in);
		*e = fe;
		return st;
	}
	json_t *d = json_object();
	json_object_set_new(d, "perms", perm_options(json_object_get(in, "permissions")));
	jx_set_int(in, "id", id);
	jx_set_bool(d, "can_manage", true);
	return form_again(r, "pages/admin_role", d, in, &fe, e);
}

/* ---- organisations ---- */

static yz_status orgs_page(http_req *r, yz_err *e)
{
	store_conn *c;
	json_t *list;
	yz_status st = store_reader(app_of(r)->db, &c, e);
	if (st == YZ_OK)
		st = iam_org_list(c, &http_actor(r)->scope, http_query(r, "kind"),
		                  http_query(r, "q"), &list, e);
	if (st != YZ_OK)
		return st;
	size_t i;
	json_t *o;
	json_array_foreach (list, i, o) {
		jx_set_label(o, "kind_label", "orgkind", "kind", "");
		jx_set_int(o, "indent_em", jx_int(o, "depth", 0));
	}
	json_t *d = json_object();
	json_object_set_new(d, "orgs", list);
	jx_set_str(d, "q", http_query(r, "q") ? http_query(r, "q") : "");
	jx_set_bool(d, "can_manage", http_can(r, "iam.org.manage"));
	return page(r, 200, "pages/admin_orgs", d, e);
}

static json_t *org_kind_options(const char *selected)
{
	json_t *a = json_array();
	for (int i = 0; iam_org_kinds[i]; i++) {
		char key[48];
		snprintf(key, sizeof key, "orgkind.%s", iam_org_kinds[i]);
		json_array_append_new(
		    a, json_pack("{s:s, s:s, s:b}", "value", iam_org_kinds[i], "label", key,
		                 "selected", selected && !strcmp(selected, iam_org_kinds[i])));
	}
	return a;
}

static json_t *org_input(const form *f, bool create)
{
	json_t *in = json_object();
	const char *keys[] = {"code", "name", "kind", "division_code", "uscc", "status"};
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		const char *v = form_get(f, keys[i]);
		if (!v || (!create && (!strcmp(keys[i], "code") || !strcmp(keys[i], "kind"))))
			continue;
		if (create && !*v &&
		    (!strcmp(keys[i], "division_code") || !strcmp(keys[i], "uscc")))
			continue;
		jx_set_str(in, keys[i], v);
	}
	int64_t n;
	const char *p = form_get(f, "parent_id");
	if (create && p && *p)
		json_object_set_new(in, "parent_id",
		                    slice_to_i64(slice_of(p), &n) == YZ_OK ? json_integer(n)
		                                                           : json_string(p));
	const char *s = form_get(f, "sort");
	if (s && *s)
		json_object_set_new(in, "sort",
		                    slice_to_i64(slice_of(s), &n) == YZ_OK ? json_integer(n)
		                                                           : json_string(s));
	return in;
}

static yz_status org_new_get(http_req *r, yz_err *e)
{
	json_t *d = json_object();
	const char *parent = http_query(r, "parent");
	int64_t pid = 0;
	if (parent && slice_to_i64(slice_of(parent), &pid) != YZ_OK)
		pid = 0;
	json_object_set_new(d, "orgs", org_options(r, pid));
	json_object_set_new(d, "kinds", org_kind_options("department"));
	json_object_set_new(d, "values", json_object());
	jx_set_bool(d, "creating", true);
	return page(r, 200, "pages/admin_org", d, e);
}

static yz_status org_new_post(http_req *r, yz_err *e)
{
	const form *f;
	yz_status st = http_form(r, &f, e);
	if (st != YZ_OK)
		return st;
	json_t *in = org_input(f, true);
	int64_t id;
	yz_err fe = {0};
	st = iam_org_create(app_of(r)->db, http_actor(r), in, &id, &fe);
	if (st == YZ_OK) {
		json_decref(in);
		http_flash(r, "flash.org_saved");
		http_redirect(r, "/admin/orgs");
		return YZ_OK;
	}
	json_t *d = json_object();
	json_object_set_new(d, "orgs", org_options(r, jx_int(in, "parent_id", 0)));
	json_object_set_new(d, "kinds", org_kind_options(jx_str(in, "kind", NULL)));
	jx_set_bool(d, "creating", true);
	return form_again(r, "pages/admin_org", d, in, &fe, e);
}

static yz_status org_get(http_req *r, yz_err *e)
{
	int64_t id;
	store_conn *c;
	json_t *o;
	yz_status st = http_param_id(r, "id", &id, e);
	if (st == YZ_OK)
		st = store_reader(app_of(r)->db, &c, e);
	if (st == YZ_OK)
		st = iam_org_get(c, &http_actor(r)->scope, id, &o, e);
	if (st != YZ_OK)
		return st;
	jx_set_label(o, "kind_label", "orgkind", "kind", "");
	json_t *d = json_object();
	json_object_set_new(d, "values", o);
	jx_set_bool(d, "can_manage", http_can(r, "iam.org.manage"));
	return page(r, 200, "pages/admin_org", d, e);
}

static yz_status org_post(http_req *r, yz_err *e)
{
	int64_t id;
	const form *f;
	yz_status st = http_param_id(r, "id", &id, e);
	if (st == YZ_OK)
		st = http_form(r, &f, e);
	if (st != YZ_OK)
		return st;
	json_t *in = org_input(f, false);
	yz_err fe = {0};
	st = iam_org_update(app_of(r)->db, http_actor(r), id, in, &fe);
	if (st == YZ_OK) {
		json_decref(in);
		http_flash(r, "flash.org_saved");
		http_redirect(r, "/admin/orgs");
		return YZ_OK;
	}
	if (st == YZ_ENOTFOUND || yz_status_http(st) >= 500) {
		json_decref(in);
		*e = fe;
		return st;
	}
	jx_set_int(in, "id", id);
	json_t *d = json_object();
	jx_set_bool(d, "can_manage", true);
	return form_again(r, "pages/admin_org", d, in, &fe, e);
}

static const http_route page_routes[] = {
    {HTTP_GET, "/login", login_get, HTTP_PUBLIC, HTTP_SCOPE_NONE, 0, 0, "Sign-in page"},
    {HTTP_POST, "/login", login_post, HTTP_PUBLIC, HTTP_SCOPE_NONE, 0, 8192, "Sign in"},
    {HTTP_POST, "/logout", logout_post, HTTP_PUBLIC, HTTP_SCOPE_NONE, 0, 4096, "Sign out"},
    {HTTP_GET, "/login/totp", login_totp_get, HTTP_PUBLIC, HTTP_SCOPE_NONE, 0, 0,
     "Sign-in: the TOTP code"},
    {HTTP_POST, "/login/totp", login_totp_post, HTTP_PUBLIC, HTTP_SCOPE_NONE, 0, 4096,
     "Sign-in: the TOTP code"},
    {HTTP_GET, "/login/totp/enrol", login_enrol_get, HTTP_PUBLIC, HTTP_SCOPE_NONE, HTTP_SLOW, 0,
     "Sign-in: set up TOTP first (roles that require it)"},
    {HTTP_POST, "/login/totp/enrol", login_enrol_post, HTTP_PUBLIC, HTTP_SCOPE_NONE, 0, 4096,
     "Sign-in: confirm the new TOTP"},
    {HTTP_GET, "/account/totp", account_totp_get, HTTP_SIGNED_IN, HTTP_SCOPE_NONE, 0, 0,
     "One's TOTP (second factor)"},
    {HTTP_POST, "/account/totp/begin", account_totp_begin, HTTP_SIGNED_IN, HTTP_SCOPE_NONE, 0, 4096,
     "Start setting up TOTP"},
    {HTTP_POST, "/account/totp/confirm", account_totp_confirm, HTTP_SIGNED_IN, HTTP_SCOPE_NONE, 0,
     4096, "Confirm the new TOTP"},
    {HTTP_POST, "/account/totp/remove", account_totp_remove, HTTP_SIGNED_IN, HTTP_SCOPE_NONE, 0,
     4096, "Remove one's TOTP"},
    {HTTP_GET, "/account/password", password_get, HTTP_SIGNED_IN, HTTP_SCOPE_NONE, 0, 0,
     "Change one's password"},
    {HTTP_POST, "/account/password", password_post, HTTP_SIGNED_IN, HTTP_SCOPE_NONE, 0, 8192,
     "Change one's password"},
    {HTTP_GET, "/admin/users", users_page, "iam.user.read", HTTP_SCOPE_ORG, 0, 0, "Users"},
    {HTTP_GET, "/admin/users/new", user_new_get, "iam.user.manage", HTTP_SCOPE_ORG, 0, 0,
     "New user"},
    {HTTP_POST, "/admin/users/new", user_new_post, "iam.user.manage", HTTP_SCOPE_ORG, 0, 16384,
     "Create a user"},
    {HTTP_GET, "/admin/users/{id}", user_get, "iam.user.read", HTTP_SCOPE_ORG, 0, 0, "A user"},
    {HTTP_POST, "/admin/users/{id}", user_post, "iam.user.manage", HTTP_SCOPE_ORG, 0, 16384,
     "Change a user"},
    {HTTP_POST, "/admin/users/{id}/password", user_password_post, "iam.user.manage", HTTP_SCOPE_ORG,
     0, 8192, "Set a user's password"},
    {HTTP_POST, "/admin/users/{id}/unlock", user_unlock_post, "iam.user.manage", HTTP_SCOPE_ORG, 0,
     4096, "Unlock a user"},
    {HTTP_POST, "/admin/users/{id}/roles", user_roles_post, "iam.role.manage", HTTP_SCOPE_ORG, 0,
     16384, "Change a user's roles"},
    {HTTP_GET, "/admin/roles", roles_page, "iam.role.read", HTTP_SCOPE_NONE, 0, 0, "Roles"},
    {HTTP_GET, "/admin/roles/new", role_new_get, "iam.role.manage", HTTP_SCOPE_ORG, 0, 0,
     "New role"},
    {HTTP_POST, "/admin/roles/new", role_new_post, "iam.role.manage", HTTP_SCOPE_ORG, 0, 16384,
     "Create a role"},
    {HTTP_GET, "/admin/roles/{id}", role_get, "iam.role.read", HTTP_SCOPE_NONE, 0, 0, "A role"},
    {HTTP_POST, "/admin/roles/{id}", role_post, "iam.role.manage", HTTP_SCOPE_ORG, 0, 16384,
     "Change a role"},
    {HTTP_GET, "/admin/orgs", orgs_page, "iam.org.read", HTTP_SCOPE_ORG, 0, 0, "Organisations"},
    {HTTP_GET, "/admin/orgs/new", org_new_get, "iam.org.manage", HTTP_SCOPE_ORG, 0, 0,
     "New organisation"},
    {HTTP_POST, "/admin/orgs/new", org_new_post, "iam.org.manage", HTTP_SCOPE_ORG, 0, 16384,
     "Create an organisation"},
    {HTTP_GET, "/admin/orgs/{id}", org_get, "iam.org.read", HTTP_SCOPE_ORG, 0, 0,
     "An organisation"},
    {HTTP_POST, "/admin/orgs/{id}", org_post, "iam.org.manage", HTTP_SCOPE_ORG, 0, 16384,
     "Change an organisation"},
};

static const http_nav nav[] = {
    {"admin", "nav.users", "/admin/users", "iam.user.read", 10},
    {"admin", "nav.roles", "/admin/roles", "iam.role.read", 20},
    {"admin", "nav.orgs", "/admin/orgs", "iam.org.read", 30},
};

yz_status iam_api_routes(yz_app *app, yz_err *e);

yz_status iam_routes(yz_app *app, yz_err *e)
{
	/* the second-factor rule comes from configuration (--totp-required-roles) */
	app->policy.totp_required_roles = app->cfg.totp_required_roles;
	yz_status st = YZ_OK;
	/* serving (not `yizhan routes`): the keys that seal TOTP secrets and sign tokens */
	if (app->db)
		st = iam_keys_load(app->db, app->cfg.data, e);
	if (st == YZ_OK)
		st = iam_api_routes(app, e);
	if (st == YZ_OK)
		st = http_routes_add(app->http, page_routes,
		                     (int)(sizeof page_routes / sizeof page_routes[0]), e);
	if (st == YZ_OK)
		st = iam_oidc_api_routes(app, e);
	if (st == YZ_OK)
		st = iam_oidc_page_routes(app, e);
	if (st == YZ_OK)
		http_add_nav(app->http, nav, (int)(sizeof nav / sizeof nav[0]));
	return st;
}
