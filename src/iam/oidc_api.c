/*
 * oidc_api.c — the OpenID Connect provider's protocol endpoints (discovery,
 * JWKS, token, userinfo, introspection, revocation) and the JSON API for
 * registering department applications (/api/v1/oidc/clients).
 *
 * The protocol endpoints answer in OAuth's own JSON ({error,
 * error_description}), not problem+json; they carry their own proof (client
 * secrets, bearer tokens) and so take no CSRF token. Discovery and the JWKS
 * touch no database and run on the event loop.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/b64.h"
#include "core/jx.h"
#include "core/log.h"
#include "core/slice.h"
#include "iam/oidc_http.h"

static yz_app *app_of(http_req *r)
{
	return http_app(r);
}

void iam_oidc_issuer(http_req *r, char *out, size_t cap)
{
	const yz_app *app = app_of(r);
	if (app->cfg.public_url[0]) {
		yz_strlcpy(out, app->cfg.public_url, cap);
		size_t n = strlen(out);
		while (n > 0 && out[n - 1] == '/')
			out[--n] = '\0';
		return;
	}
	char host[128];
	yz_strlcpy(host, app->cfg.listen, sizeof host);
	char *colon = strrchr(host, ':');
	if (colon)
		*colon = '\0';
	if (!host[0] || !strcmp(host, "0.0.0.0"))
		yz_strlcpy(host, "127.0.0.1", sizeof host);
	snprintf(out, cap, "http://%s:%d", host, http_server_port(http_server_of(r)));
}

void iam_oidc_redirect(http_req *r, const char *base, const char *const *params)
{
	buf b;
	buf_init(&b, 8192);
	yz_status st = buf_puts(&b, base);
	char sep = strchr(base, '?') ? '&' : '?';
	for (int i = 0; params && params[i]; i += 2) {
		const char *v = params[i + 1];
		if (!v)
			continue;
		char *enc = form_percent_encode(http_arena(r), v, strlen(v));
		BUF_TRY(st, buf_printf(&b, "%c%s=%s", sep, params[i], enc ? enc : ""));
		sep = '&';
	}
	if (st == YZ_OK) {
		http_set_header(r, "Location", buf_str(&b));
		http_reply_text(r, 302, "text/plain; charset=utf-8", "", 0);
	} else {
		http_reply_text(r, 500, "text/plain; charset=utf-8", "redirect too long", 17);
	}
	buf_free(&b);
}

/* ---- OAuth answers ---- */

static void oauth_reply(http_req *r, yz_status st, const iam_oauth_err *oe, const yz_err *e,
                        bool basic)
{
	int status = 400;
	const char *error = oe->error[0] ? oe->error : "invalid_request";
	const char *desc = oe->description;
	if (st == YZ_EUNAUTH)
		status = 401;
	else if (st == YZ_EFORBIDDEN)
		status = 403;
	else if (st != YZ_EINVAL) {
		status = yz_status_http(st) >= 500 ? 500 : yz_status_http(st);
		error = status >= 500 ? "server_error" : "invalid_request";
		desc = status >= 500 ? "the server could not answer; try again later" : e->msg;
		if (status >= 500)
			log_error("%s %s failed: %s", http_method_name(r), http_path(r), e->msg);
	}
	if (status == 401 && !strcmp(error, "invalid_client")) {
		/* RFC 6749 §5.2: a client that tried Basic is told to use it */
		if (basic)
			http_set_header(r, "WWW-Authenticate", "Basic realm=\"yizhan\"");
	}
	http_reply_json(r, status,
	                json_pack("{s:s, s:s}", "error", error, "error_description", desc));
}

/* The bearer error of RFC 6750 §3, for userinfo. */
static void bearer_reply(http_req *r, yz_status st, const iam_oauth_err *oe, const yz_err *e)
{
	if (st == YZ_EUNAUTH || st == YZ_EFORBIDDEN) {
		char h[320];
		snprintf(h, sizeof h,
		         "Bearer realm=\"yizhan\", error=\"%s\", error_description=\"%s\"",
		         oe->error, oe->description);
		http_set_header(r, "WWW-Authenticate", h);
	}
	oauth_reply(r, st, oe, e, false);
}

/* Client credentials from the Authorization header (client_secret_basic:
 * base64 of form-encoded id ":" form-encoded secret) or the body
 * (client_secret_post). Using both is refused (RFC 6749 §2.3). */
static yz_status client_auth_of(http_req *r, const form *f, iam_oidc_client_auth *ca,
                                iam_oauth_err *oe)
{
	memset(ca, 0, sizeof *ca);
	const char *h = http_header(r, "Authorization");
	const char *body_id = form_get(f, "client_id"), *body_secret = form_get(f, "client_secret");
	if (h && !strncasecmp(h, "Basic ", 6)) {
		ca->basic = true;
		if (body_secret) {
			yz_strlcpy(oe->error, "invalid_request", sizeof oe->error);
			yz_strlcpy(oe->description, "use one client authentication method",
			           sizeof oe->description);
			return YZ_EINVAL;
		}
		const char *p = h + 6;
		while (*p == ' ')
			p++;
		unsigned char raw[512];
		size_t n = 0;
		const char *colon;
		if (b64_decode(p, strlen(p), false, raw, sizeof raw - 1, &n) != YZ_OK ||
		    !(colon = memchr(raw, ':', n))) {
			yz_strlcpy(oe->error, "invalid_client", sizeof oe->error);
			yz_strlcpy(oe->description, "the Basic credentials do not decode",
			           sizeof oe->description);
			return YZ_EUNAUTH;
		}
		raw[n] = '\0';
		size_t il = (size_t)(colon - (const char *)raw);
		ca->client_id =
		    form_percent_decode(http_arena(r), (const char *)raw, il, true, NULL);
		ca->client_secret =
		    form_percent_decode(http_arena(r), colon + 1, n - il - 1, true, NULL);
		if (!ca->client_id || !ca->client_secret ||
		    (body_id && ca->client_id && strcmp(body_id, ca->client_id) != 0)) {
			yz_strlcpy(oe->error, "invalid_client", sizeof oe->error);
			yz_strlcpy(oe->description, "the Basic credentials do not decode",
			           sizeof oe->description);
			return YZ_EUNAUTH;
		}
		return YZ_OK;
	}
	ca->client_id = body_id;
	ca->client_secret = body_secret;
	return YZ_OK;
}

static yz_status form_of(http_req *r, const form **f, iam_oauth_err *oe)
{
	yz_err fe = {0};
	const char *ct = http_header(r, "Content-Type");
	if (!ct || strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0 ||
	    http_form(r, f, &fe) != YZ_OK) {
		yz_strlcpy(oe->error, "invalid_request", sizeof oe->error);
		yz_strlcpy(oe->description, "the body must be application/x-www-form-urlencoded",
		           sizeof oe->description);
		return YZ_EINVAL;
	}
	return YZ_OK;
}

/* ---- discovery and keys ---- */

static yz_status discovery_get(http_req *r, yz_err *e)
{
	(void)e;
	char issuer[IAM_OIDC_ISSUER_MAX];
	iam_oidc_issuer(r, issuer, sizeof issuer);
	http_set_header(r, "Access-Control-Allow-Origin", "*");
	http_reply_json(r, 200, iam_oidc_discovery(issuer));
	return YZ_OK;
}

static yz_status jwks_get(http_req *r, yz_err *e)
{
	(void)e;
	http_set_header(r, "Access-Control-Allow-Origin", "*");
	http_reply_json(r, 200, iam_oidc_jwks());
	return YZ_OK;
}

/* ---- token ---- */

static yz_status token_post(http_req *r, yz_err *e)
{
	(void)e;
	const form *f = NULL;
	iam_oauth_err oe = {0};
	yz_err te = {0};
	iam_oidc_client_auth ca;
	yz_status st = form_of(r, &f, &oe);
	if (st == YZ_OK)
		st = client_auth_of(r, f, &ca, &oe);
	json_t *out = NULL;
	if (st == YZ_OK) {
		char issuer[IAM_OIDC_ISSUER_MAX];
		iam_oidc_issuer(r, issuer, sizeof issuer);
		iam_oidc_token_req q = {.grant_type = form_get(f, "grant_type"),
		                        .code = form_get(f, "code"),
		                        .redirect_uri = form_get(f, "redirect_uri"),
		                        .code_verifier = form_get(f, "code_verifier"),
		                        .refresh_token = form_get(f, "refresh_token"),
		                        .scope = form_get(f, "scope")};
		st = iam_oidc_token(app_of(r)->db, issuer, http_actor(r), &ca, &q, &out, &oe, &te);
	}
	if (st != YZ_OK) {
		oauth_reply(r, st, &oe, &te, ca.basic);
		return YZ_OK;
	}
	http_set_header(r, "Pragma", "no-cache");
	http_reply_json(r, 200, out);
	return YZ_OK;
}

/* ---- userinfo ---- */

static yz_status userinfo(http_req *r, yz_err *e)
{
	(void)e;
	iam_oauth_err oe = {0};
	yz_err ue = {0};
	const char *h = http_header(r, "Authorization");
	const char *token = NULL;
	if (h && !strncasecmp(h, "Bearer ", 7)) {
		token = h + 7;
		while (*token == ' ')
			token++;
	}
	if (!token || !*token) {
		http_set_header(r, "WWW-Authenticate", "Bearer realm=\"yizhan\"");
		http_reply_json(r, 401,
		                json_pack("{s:s, s:s}", "error", "invalid_token",
		                          "error_description",
		                          "an access token is required (Authorization: Bearer)"));
		return YZ_OK;
	}
	char issuer[IAM_OIDC_ISSUER_MAX];
	iam_oidc_issuer(r, issuer, sizeof issuer);
	json_t *out = NULL;
	yz_status st = iam_oidc_userinfo(app_of(r)->db, issuer, token, &out, &oe, &ue);
	if (st != YZ_OK) {
		bearer_reply(r, st, &oe, &ue);
		return YZ_OK;
	}
	http_set_header(r, "Access-Control-Allow-Origin", "*");
	http_reply_json(r, 200, out);
	return YZ_OK;
}

/* ---- introspection and revocation ---- */

static yz_status introspect_post(http_req *r, yz_err *e)
{
	(void)e;
	const form *f = NULL;
	iam_oauth_err oe = {0};
	yz_err te = {0};
	iam_oidc_client_auth ca;
	yz_status st = form_of(r, &f, &oe);
	if (st == YZ_OK)
		st = client_auth_of(r, f, &ca, &oe);
	json_t *out = NULL;
	if (st == YZ_OK) {
		char issuer[IAM_OIDC_ISSUER_MAX];
		iam_oidc_issuer(r, issuer, sizeof issuer);
		st = iam_oidc_introspect(app_of(r)->db, issuer, &ca, form_get(f, "token"), &out,
		                         &oe, &te);
	}
	if (st != YZ_OK) {
		oauth_reply(r, st, &oe, &te, ca.basic);
		return YZ_OK;
	}
	http_reply_json(r, 200, out);
	return YZ_OK;
}

static yz_status revoke_post(http_req *r, yz_err *e)
{
	(void)e;
	const form *f = NULL;
	iam_oauth_err oe = {0};
	yz_err te = {0};
	iam_oidc_client_auth ca;
	yz_status st = form_of(r, &f, &oe);
	if (st == YZ_OK)
		st = client_auth_of(r, f, &ca, &oe);
	if (st == YZ_OK) {
		char issuer[IAM_OIDC_ISSUER_MAX];
		iam_oidc_issuer(r, issuer, sizeof issuer);
		st = iam_oidc_revoke(app_of(r)->db, issuer, http_actor(r), &ca,
		                     form_get(f, "token"), &oe, &te);
	}
	if (st != YZ_OK) {
		oauth_reply(r, st, &oe, &te, ca.basic);
		return YZ_OK;
	}
	http_reply_text(r, 200, "text/plain; charset=utf-8", "", 0);
	return YZ_OK;
}

/* ---- /api/v1/oidc/clients ---- */

static int64_t if_match(http_req *r)
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

static yz_status answer_client(http_req *r, const char *client_id, int status, yz_err *e)
{
	store_conn *c;
	json_t *o;
	yz_status st = store_reader(app_of(r)->db, &c, e);
	if (st == YZ_OK)
		st = iam_oidc_client_get(c, &http_actor(r)->scope, client_id, &o, e);
	if (st != YZ_OK)
		return st;
	char etag[32];
	snprintf(etag, sizeof etag, "\"%lld\"", (long long)jx_int(o, "version", 0));
	http_set_header(r, "ETag", etag);
	http_reply_json(r, status, o);
	return YZ_OK;
}

static yz_status clients_list(http_req *r, yz_err *e)
{
	store_conn *c;
	json_t *out;
	yz_status st = store_reader(app_of(r)->db, &c, e);
	if (st == YZ_OK)
		st = iam_oidc_client_list(c, &http_actor(r)->scope, &out, e);
	if (st == YZ_OK)
		http_reply_json(r, 200, out);
	return st;
}

static yz_status clients_create(http_req *r, yz_err *e)
{
	json_t *in, *out = NULL;
	yz_status st = http_json(r, &in, e);
	if (st != YZ_OK)
		return st;
	st = iam_oidc_client_create(app_of(r)->db, http_actor(r), in, &out, e);
	json_decref(in);
	if (st != YZ_OK)
		return st;
	char loc[160];
	snprintf(loc, sizeof loc, "/api/v1/oidc/clients/%s", jx_str(out, "client_id", ""));
	http_set_header(r, "Location", loc);
	http_reply_json(r, 201, out);
	return YZ_OK;
}

static yz_status clients_get(http_req *r, yz_err *e)
{
	return answer_client(r, http_param(r, "client_id"), 200, e);
}

static yz_status clients_update(http_req *r, yz_err *e)
{
	json_t *in;
	yz_status st = http_json(r, &in, e);
	if (st != YZ_OK)
		return st;
	int64_t version = if_match(r);
	if (version < 0)
		st = yz_fail(e, YZ_EINVAL, "If-Match must be the ETag of the client");
	if (st == YZ_OK)
		st = iam_oidc_client_update(app_of(r)->db, http_actor(r),
		                            http_param(r, "client_id"), version, in, e);
	json_decref(in);
	return st == YZ_OK ? answer_client(r, http_param(r, "client_id"), 200, e) : st;
}

static yz_status clients_secret(http_req *r, yz_err *e)
{
	json_t *out;
	yz_status st = iam_oidc_client_new_secret(app_of(r)->db, http_actor(r),
	                                          http_param(r, "client_id"), &out, e);
	if (st == YZ_OK)
		http_reply_json(r, 200, out);
	return st;
}

static const http_route routes[] = {
    {HTTP_GET, "/.well-known/openid-configuration", discovery_get, HTTP_PUBLIC, HTTP_SCOPE_NONE,
     HTTP_INLINE, 0, "OpenID Connect discovery"},
    {HTTP_GET, "/.well-known/jwks.json", jwks_get, HTTP_PUBLIC, HTTP_SCOPE_NONE, HTTP_INLINE, 0,
     "The OpenID Connect signing keys (JWKS)"},
    {HTTP_POST, "/oidc/token", token_post, HTTP_PUBLIC, HTTP_SCOPE_NONE, HTTP_NO_CSRF, 16384,
     "OAuth 2.0 token endpoint"},
    {HTTP_GET | HTTP_POST, "/oidc/userinfo", userinfo, HTTP_PUBLIC, HTTP_SCOPE_NONE, HTTP_NO_CSRF,
     4096, "OpenID Connect userinfo"},
    {HTTP_POST, "/oidc/introspect", introspect_post, HTTP_PUBLIC, HTTP_SCOPE_NONE, HTTP_NO_CSRF,
     16384, "OAuth 2.0 token introspection (RFC 7662)"},
    {HTTP_POST, "/oidc/revoke", revoke_post, HTTP_PUBLIC, HTTP_SCOPE_NONE, HTTP_NO_CSRF, 16384,
     "OAuth 2.0 token revocation (RFC 7009)"},
    {HTTP_GET, "/api/v1/oidc/clients", clients_list, "iam.client.manage", HTTP_SCOPE_ORG, 0, 0,
     "Registered OpenID Connect clients (department applications) within scope"},
    {HTTP_POST, "/api/v1/oidc/clients", clients_create, "iam.client.manage", HTTP_SCOPE_ORG, 0,
     65536, "Register a department application; the answer shows its client_secret once"},
    {HTTP_GET, "/api/v1/oidc/clients/{client_id}", clients_get, "iam.client.manage", HTTP_SCOPE_ORG,
     0, 0, "One registered client (ETag = version)"},
    {HTTP_PATCH, "/api/v1/oidc/clients/{client_id}", clients_update, "iam.client.manage",
     HTTP_SCOPE_ORG, 0, 65536, "Change a registered client (If-Match: the ETag)"},
    {HTTP_POST, "/api/v1/oidc/clients/{client_id}/secret", clients_secret, "iam.client.manage",
     HTTP_SCOPE_ORG, 0, 1024, "A new client secret (shown once; the old one stops working)"},
};

yz_status iam_oidc_api_routes(yz_app *app, yz_err *e)
{
	return http_routes_add(app->http, routes, (int)(sizeof routes / sizeof routes[0]), e);
}
