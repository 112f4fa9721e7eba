/*
 * oidc_pages.c — the browser side of the OpenID Connect provider: the
 * authorisation endpoint (which signs people in with the platform's own
 * sign-in page and session, then sends them back to the application with a
 * code: registered clients are the city's own applications, so nobody is
 * asked for consent), RP-initiated logout, and the operator pages where a
 * department application is registered (the secret is shown once).
 *
 * Errors of an authorisation request go back to the application only when
 * its client and redirect_uri are known to be right; otherwise the page
 * shows them, and nobody is sent to an unchecked address.
 */
#include <stdio.h>
#include <string.h>

#include "core/jx.h"
#include "core/slice.h"
#include "iam/oidc_http.h"

static yz_app *app_of(http_req *r)
{
	return http_app(r);
}

static yz_status error_page(http_req *r, const iam_oauth_err *oe, yz_err *e)
{
	json_t *d = json_pack("{s:s, s:s}", "error", oe->error, "description", oe->description);
	return http_reply_page(r, 400, "pages/oidc_error", d, e);
}

/* ---- the authorisation endpoint ---- */

static const char *const authz_params[] = {
    "response_type", "client_id",      "redirect_uri",          "scope",  "state",
    "nonce",         "code_challenge", "code_challenge_method", "prompt", NULL};

/* The request again as a local URL, every value percent-encoded, for the
 * sign-in page to come back to. */
static const char *authorize_again(http_req *r)
{
	buf b;
	buf_init(&b, 8192);
	yz_status st = buf_puts(&b, "/oidc/authorize");
	char sep = '?';
	for (int i = 0; authz_params[i]; i++) {
		const char *v = http_query(r, authz_params[i]);
		if (!v)
			continue;
		char *enc = form_percent_encode(http_arena(r), v, strlen(v));
		BUF_TRY(st, buf_printf(&b, "%c%s=%s", sep, authz_params[i], enc ? enc : ""));
		sep = '&';
	}
	char *url = st == YZ_OK ? arena_strdup(http_arena(r), buf_str(&b)) : NULL;
	buf_free(&b);
	return url;
}

static bool has_word(const char *list, const char *w)
{
	size_t n = strlen(w);
	for (const char *p = list; p && *p;) {
		while (*p == ' ')
			p++;
		size_t len = strcspn(p, " ");
		if (len == n && !strncmp(p, w, n))
			return true;
		p += len;
	}
	return false;
}

static yz_status authorize(http_req *r, yz_err *e)
{
	iam_oidc_authz_req q = {.response_type = http_query(r, "response_type"),
	                        .client_id = http_query(r, "client_id"),
	                        .redirect_uri = http_query(r, "redirect_uri"),
	                        .scope = http_query(r, "scope"),
	                        .state = http_query(r, "state"),
	                        .nonce = http_query(r, "nonce"),
	                        .code_challenge = http_query(r, "code_challenge"),
	                        .code_challenge_method = http_query(r, "code_challenge_method"),
	                        .prompt = http_query(r, "prompt")};
	char issuer[IAM_OIDC_ISSUER_MAX];
	iam_oidc_issuer(r, issuer, sizeof issuer);
	bool redirect_ok = false;
	iam_oauth_err oe = {0};
	yz_err ce = {0};
	yz_status st = iam_oidc_authorize_check(app_of(r)->db, &q, &redirect_ok, &oe, &ce);
	if (st != YZ_OK && st != YZ_EINVAL) {
		*e = ce;
		return st;
	}
	if (st == YZ_EINVAL && !redirect_ok)
		return error_page(r, &oe, e);
	if (st == YZ_EINVAL) {
		const char *p[] = {"error",        oe.error, "error_description",
		                   oe.description, "state",  q.state,
		                   "iss",          issuer,   NULL};
		iam_oidc_redirect(r, q.redirect_uri, p);
		return YZ_OK;
	}
	const http_user *u = http_user_of(r);
	if (!u) {
		if (has_word(q.prompt, "none")) {
			const char *p[] = {"error", "login_required", "state", q.state,
			                   "iss",   issuer,           NULL};
			iam_oidc_redirect(r, q.redirect_uri, p);
			return YZ_OK;
		}
		const char *again = authorize_again(r);
		char *next =
		    again ? form_percent_encode(http_arena(r), again, strlen(again)) : NULL;
		char *url = next ? arena_printf(http_arena(r), "/login?next=%s", next) : NULL;
		if (!url)
			return yz_fail(e, YZ_ENOMEM, "out of memory");
		http_redirect(r, url);
		return YZ_OK;
	}
	char code[64];
	st =
	    iam_oidc_code_issue(app_of(r)->db, http_actor(r), u->session, &q, code, sizeof code, e);
	if (st != YZ_OK)
		return st;
	const char *p[] = {"code", code, "state", q.state, "iss", issuer, NULL};
	iam_oidc_redirect(r, q.redirect_uri, p);
	return YZ_OK;
}

/* ---- RP-initiated logout ---- */

static yz_status logout(http_req *r, yz_err *e)
{
	const char *hint = http_query(r, "id_token_hint");
	const char *client = http_query(r, "client_id");
	const char *back = http_query(r, "post_logout_redirect_uri");
	const char *state = http_query(r, "state");
	char issuer[IAM_OIDC_ISSUER_MAX];
	iam_oidc_issuer(r, issuer, sizeof issuer);
	int64_t hint_user = 0;
	iam_oauth_err oe = {0};
	yz_err ce = {0};
	yz_status st =
	    iam_oidc_logout_check(app_of(r)->db, issuer, hint, client, back, &hint_user, &oe, &ce);
	if (st == YZ_EINVAL)
		return error_page(r, &oe, e);
	if (st != YZ_OK) {
		*e = ce;
		return st;
	}
	/* the platform session ends when it is the hint's user's (or there is
	 * no hint); another user's session is not ended by someone else's token */
	const http_user *u = http_user_of(r);
	if (u && (!hint_user || hint_user == u->id)) {
		st = iam_logout(app_of(r)->db, http_actor(r), u->session, e);
		if (st != YZ_OK)
			return st;
		if (http_set_cookie(r, "yz_sid", "", 0, true) != YZ_OK)
			return yz_fail(e, YZ_EINTERNAL, "could not clear the session cookie");
	}
	if (back && *back) {
		const char *p[] = {"state", state, NULL};
		iam_oidc_redirect(r, back, p);
		return YZ_OK;
	}
	http_flash(r, "flash.signed_out");
	http_redirect(r, "/");
	return YZ_OK;
}

/* ---- registering department applications ---- */

static const char *const form_fields[] = {
    "client_id", "name",   "org_id", "redirect_uris", "post_logout_redirect_uris", "grant_types",
    "scopes",    "status", NULL};

static json_t *field_labels(http_req *r)
{
	json_t *o = json_object();
	for (int i = 0; form_fields[i]; i++) {
		char key[80];
		snprintf(key, sizeof key, "oidc.field.%s", form_fields[i]);
		jx_set_str(o, form_fields[i], http_t(r, key));
	}
	return o;
}

/* One entry per line (or per space, for scopes). */
static json_t *split_list(const char *text, bool spaces)
{
	json_t *a = json_array();
	for (const char *p = text ? text : ""; *p;) {
		size_t n = strcspn(p, spaces ? " \t\r\n" : "\r\n");
		slice s = slice_trim(slice_make(p, n));
		if (s.n)
			json_array_append_new(a, json_stringn(s.p, s.n));
		p += n;
		while (*p == '\r' || *p == '\n' || (spaces && (*p == ' ' || *p == '\t')))
			p++;
	}
	return a;
}

static json_t *client_input(const form *f, bool create)
{
	json_t *in = json_object();
	const char *v;
	if (create && (v = form_get(f, "client_id")) && *v)
		jx_set_str(in, "client_id", v);
	if ((v = form_get(f, "name")))
		jx_set_str(in, "name", v);
	if (create && (v = form_get(f, "org_id"))) {
		int64_t id;
		if (*v && slice_to_i64(slice_of(v), &id) == YZ_OK)
			jx_set_int(in, "org_id", id);
		else if (*v)
			jx_set_str(in, "org_id", v); /* reported as a type error */
	}
	json_object_set_new(in, "redirect_uris", split_list(form_get(f, "redirect_uris"), false));
	json_object_set_new(in, "post_logout_redirect_uris",
	                    split_list(form_get(f, "post_logout_redirect_uris"), false));
	json_t *g = json_array();
	for (size_t i = 0; i < f->n; i++)
		if (!strcmp(f->fields[i].name, "grant_types"))
			json_array_append_new(g, json_string(f->fields[i].value));
	json_object_set_new(in, "grant_types", g);
	json_object_set_new(in, "scopes", split_list(form_get(f, "scopes"), true));
	if (!create && (v = form_get(f, "status")))
		jx_set_str(in, "status", v);
	return in;
}

/* The form's values as the template shows them: lists as text. */
static json_t *client_values(json_t *c)
{
	json_t *v = json_deep_copy(c);
	static const char *const lists[] = {"redirect_uris", "post_logout_redirect_uris", NULL};
	for (int i = 0; lists[i]; i++) {
		buf b;
		buf_init(&b, 16384);
		size_t k;
		json_t *x;
		yz_status st = YZ_OK;
		json_array_foreach (json_object_get(c, lists[i]), k, x)
			BUF_TRY(st, buf_printf(&b, "%s%s", k ? "\n" : "", json_string_value(x)));
		char key[64];
		snprintf(key, sizeof key, "%s_text", lists[i]);
		jx_set_str(v, key, buf_str(&b));
		buf_free(&b);
	}
	buf b;
	buf_init(&b, 4096);
	size_t k;
	json_t *x;
	yz_status st = YZ_OK;
	json_array_foreach (json_object_get(c, "scopes"), k, x)
		BUF_TRY(st, buf_printf(&b, "%s%s", k ? " " : "", json_string_value(x)));
	jx_set_str(v, "scopes_text", buf_str(&b));
	buf_free(&b);
	return v;
}

static json_t *grant_options(json_t *chosen)
{
	json_t *a = json_array();
	for (int i = 0; iam_oidc_grant_types[i]; i++) {
		bool on = false;
		size_t k;
		json_t *x;
		json_array_foreach (chosen, k, x)
			on |= json_is_string(x) &&
			      !strcmp(json_string_value(x), iam_oidc_grant_types[i]);
		char label[80];
		snprintf(label, sizeof label, "oidc.grant.%s", iam_oidc_grant_types[i]);
		json_array_append_new(a,
		                      json_pack("{s:s, s:s, s:b}", "value", iam_oidc_grant_types[i],
		                                "label", label, "checked", on));
	}
	return a;
}

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
		size_t k = 0;
		for (int d = 0; d < depth && d < 10 && k + 4 < sizeof indent; d++) {
			memcpy(indent + k, "\u3000", 3);
			k += 3;
		}
		indent[k] = '\0';
		jx_set_str(o, "indent", indent);
		jx_set_bool(o, "selected", jx_int(o, "id", 0) == selected);
	}
	return list;
}

static yz_status clients_page(http_req *r, yz_err *e)
{
	store_conn *c;
	json_t *list;
	yz_status st = store_reader(app_of(r)->db, &c, e);
	if (st == YZ_OK)
		st = iam_oidc_client_list(c, &http_actor(r)->scope, &list, e);
	if (st != YZ_OK)
		return st;
	size_t i;
	json_t *x;
	json_array_foreach (json_object_get(list, "items"), i, x)
		jx_set_label(x, "status_label", "status", "status", "");
	char issuer[IAM_OIDC_ISSUER_MAX], disc[IAM_OIDC_ISSUER_MAX + 48];
	iam_oidc_issuer(r, issuer, sizeof issuer);
	snprintf(disc, sizeof disc, "%s/.well-known/openid-configuration", issuer);
	json_t *d = json_object();
	json_object_set_new(d, "clients", list);
	jx_set_str(d, "issuer", issuer);
	jx_set_str(d, "discovery", disc);
	return http_reply_page(r, 200, "pages/oidc_clients", d, e);
}

static yz_status client_form(http_req *r, int status, json_t *values, const yz_err *fe,
                             bool creating, yz_err *e)
{
	json_t *d = json_object();
	jx_set_bool(d, "creating", creating);
	json_object_set_new(d, "orgs", org_options(r, jx_int(values, "org_id", 0)));
	json_t *g = json_object_get(values, "grant_types");
	json_t *def = json_pack("[s,s]", "authorization_code", "refresh_token");
	json_object_set_new(d, "grants", grant_options(g ? g : def));
	json_decref(def);
	json_object_set_new(d, "values", client_values(values));
	jx_set_bool(d, "active", !strcmp(jx_str(values, "status", "active"), "active"));
	if (fe) {
		json_t *labels = field_labels(r);
		json_object_set_new(d, "error", http_error_data_with(r, fe, NULL, labels));
		json_decref(labels);
	}
	json_decref(values);
	return http_reply_page(r, status, "pages/oidc_client", d, e);
}

static yz_status client_new_get(http_req *r, yz_err *e)
{
	json_t *v = json_pack("{s:[s,s], s:[s,s]}", "grant_types", "authorization_code",
	                      "refresh_token", "scopes", "openid", "profile");
	return client_form(r, 200, v, NULL, true, e);
}

/* The secret, once, on a page of its own (never stored, never in a URL). */
static yz_status secret_page(http_req *r, json_t *c, bool created, yz_err *e)
{
	char issuer[IAM_OIDC_ISSUER_MAX];
	iam_oidc_issuer(r, issuer, sizeof issuer);
	json_t *d = json_object();
	json_object_set_new(d, "client", c);
	jx_set_bool(d, "created", created);
	jx_set_str(d, "issuer", issuer);
	return http_reply_page(r, 200, "pages/oidc_client_secret", d, e);
}

static bool page_error(yz_status st)
{
	return st == YZ_EINVAL || st == YZ_ECONFLICT || st == YZ_EREFUSED;
}

static yz_status client_new_post(http_req *r, yz_err *e)
{
	const form *f;
	yz_status st = http_form(r, &f, e);
	if (st != YZ_OK)
		return st;
	json_t *in = client_input(f, true), *out = NULL;
	yz_err fe = {0};
	st = iam_oidc_client_create(app_of(r)->db, http_actor(r), in, &out, &fe);
	if (st == YZ_OK) {
		json_decref(in);
		return secret_page(r, out, true, e);
	}
	if (!page_error(st)) {
		json_decref(in);
		*e = fe;
		return st;
	}
	return client_form(r, yz_status_http(st), in, &fe, true, e);
}

static yz_status client_get(http_req *r, yz_err *e)
{
	store_conn *c;
	json_t *o;
	yz_status st = store_reader(app_of(r)->db, &c, e);
	if (st == YZ_OK)
		st = iam_oidc_client_get(c, &http_actor(r)->scope, http_param(r, "client_id"), &o,
		                         e);
	if (st != YZ_OK)
		return st;
	return client_form(r, 200, o, NULL, false, e);
}

static yz_status client_post(http_req *r, yz_err *e)
{
	const char *id = http_param(r, "client_id");
	const form *f;
	yz_status st = http_form(r, &f, e);
	if (st != YZ_OK)
		return st;
	json_t *in = client_input(f, false);
	int64_t version = 0;
	const char *v = form_get(f, "version");
	if (v && slice_to_i64(slice_of(v), &version) != YZ_OK)
		version = -1;
	yz_err fe = {0};
	st = iam_oidc_client_update(app_of(r)->db, http_actor(r), id, version, in, &fe);
	if (st == YZ_OK) {
		json_decref(in);
		http_flash(r, "oidc.flash.saved");
		char *url = arena_printf(http_arena(r), "/admin/oidc/clients/%s",
		                         form_percent_encode(http_arena(r), id, strlen(id)));
		http_redirect(r, url ? url : "/admin/oidc/clients");
		return YZ_OK;
	}
	if (!page_error(st)) {
		json_decref(in);
		*e = fe;
		return st;
	}
	/* the page again with what was typed, over the stored client */
	store_conn *c;
	json_t *o = NULL;
	if (store_reader(app_of(r)->db, &c, e) != YZ_OK ||
	    iam_oidc_client_get(c, &http_actor(r)->scope, id, &o, e) != YZ_OK) {
		json_decref(in);
		return e->code;
	}
	json_object_update(o, in);
	json_decref(in);
	return client_form(r, yz_status_http(st), o, &fe, false, e);
}

static yz_status client_secret_post(http_req *r, yz_err *e)
{
	json_t *out;
	yz_status st = iam_oidc_client_new_secret(app_of(r)->db, http_actor(r),
	                                          http_param(r, "client_id"), &out, e);
	if (st != YZ_OK)
		return st;
	store_conn *c;
	json_t *o;
	st = store_reader(app_of(r)->db, &c, e);
	if (st == YZ_OK)
		st = iam_oidc_client_get(c, &http_actor(r)->scope, http_param(r, "client_id"), &o,
		                         e);
	if (st == YZ_OK)
		jx_set_str(o, "client_secret", jx_str(out, "client_secret", ""));
	json_decref(out);
	return st == YZ_OK ? secret_page(r, o, false, e) : st;
}

static const http_route routes[] = {
    {HTTP_GET, "/oidc/authorize", authorize, HTTP_PUBLIC, HTTP_SCOPE_NONE, HTTP_SLOW, 0,
     "OpenID Connect authorisation endpoint (code flow with PKCE)"},
    {HTTP_GET, "/oidc/logout", logout, HTTP_PUBLIC, HTTP_SCOPE_NONE, HTTP_SLOW, 0,
     "OpenID Connect RP-initiated logout"},
    {HTTP_GET, "/admin/oidc/clients", clients_page, "iam.client.manage", HTTP_SCOPE_ORG, 0, 0,
     "Department applications (single sign-on clients)"},
    {HTTP_GET, "/admin/oidc/clients/new", client_new_get, "iam.client.manage", HTTP_SCOPE_ORG, 0, 0,
     "Register a department application"},
    {HTTP_POST, "/admin/oidc/clients/new", client_new_post, "iam.client.manage", HTTP_SCOPE_ORG, 0,
     65536, "Register a department application"},
    {HTTP_GET, "/admin/oidc/clients/{client_id}", client_get, "iam.client.manage", HTTP_SCOPE_ORG,
     0, 0, "A department application"},
    {HTTP_POST, "/admin/oidc/clients/{client_id}", client_post, "iam.client.manage", HTTP_SCOPE_ORG,
     0, 65536, "Change a department application"},
    {HTTP_POST, "/admin/oidc/clients/{client_id}/secret", client_secret_post, "iam.client.manage",
     HTTP_SCOPE_ORG, 0, 4096, "A new secret for a department application"},
};

static const http_nav nav[] = {
    {"admin", "oidc.nav", "/admin/oidc/clients", "iam.client.manage", 40},
};

yz_status iam_oidc_page_routes(yz_app *app, yz_err *e)
{
	yz_status st =
	    http_routes_add(app->http, routes, (int)(sizeof routes / sizeof routes[0]), e);
	if (st == YZ_OK)
		http_add_nav(app->http, nav, (int)(sizeof nav / sizeof nav[0]));
	return st;
}
