/*
 * request.c — read access to a request: path parameters, query, headers,
 * cookies, body as form or JSON, the caller.
 */
#include <string.h>
#include <strings.h>

#include "core/jx.h"
#include "core/slice.h"
#include "http/http_int.h"

void *http_app(http_req *r)
{
	return r->srv->app;
}

const http_server *http_server_of(http_req *r)
{
	return r->srv;
}

arena *http_arena(http_req *r)
{
	return r->a;
}

unsigned http_method(http_req *r)
{
	return r->method;
}

const char *http_method_name(http_req *r)
{
	return r->method_name;
}

const char *http_path(http_req *r)
{
	return r->path;
}

const char *http_uri(http_req *r)
{
	return r->uri;
}

const char *http_param(http_req *r, const char *name)
{
	for (int i = 0; i < r->nparams; i++)
		if (!strcmp(r->param_names[i], name))
			return r->param_values[i];
	return NULL;
}

yz_status http_param_id(http_req *r, const char *name, int64_t *out, yz_err *e)
{
	const char *v = http_param(r, name);
	if (!v || slice_to_i64(slice_of(v), out) != YZ_OK || *out <= 0)
		return yz_fail(e, YZ_ENOTFOUND, "no such %s: %s", name, v ? v : "");
	return YZ_OK;
}

const char *http_query(http_req *r, const char *name)
{
	if (!r->query_parsed) {
		r->query_parsed = true;
		form_limits lim = form_default_limits();
		yz_err ignore = {0};
		if (!r->query_raw || form_parse_urlencoded(r->a, r->query_raw, strlen(r->query_raw),
		                                           &lim, &r->query, &ignore) != YZ_OK)
			r->query = (form){0};
	}
	return form_get(&r->query, name);
}

const char *http_req_header_raw(http_req *r, const char *name)
{
	for (int i = 0; i < r->nheaders; i++)
		if (!strcasecmp(r->headers[i].name, name))
			return r->headers[i].value;
	return NULL;
}

const char *http_header(http_req *r, const char *name)
{
	return http_req_header_raw(r, name);
}

void http_req_parse_cookies(http_req *r)
{
	if (r->cookies_parsed)
		return;
	r->cookies_parsed = true;
	const char *h = http_req_header_raw(r, "Cookie");
	yz_err ignore = {0};
	if (!h || cookie_parse(r->a, h, strlen(h), &r->cookies, &r->ncookies, &ignore) != YZ_OK) {
		r->cookies = NULL;
		r->ncookies = 0;
	}
}

bool http_is_tls(http_req *r)
{
	return r->tls;
}

const void *http_client_cert(http_req *r, size_t *n)
{
	*n = r->client_cert_len;
	return r->client_cert;
}

const char *http_cookie(http_req *r, const char *name)
{
	http_req_parse_cookies(r);
	return cookie_find(r->cookies, r->ncookies, name);
}

const void *http_body(http_req *r, size_t *n)
{
	*n = r->body_len;
	return r->body ? r->body : "";
}

static bool content_type_is(http_req *r, const char *type)
{
	const char *ct = http_req_header_raw(r, "Content-Type");
	if (!ct)
		return false;
	size_t n = strlen(type);
	return !strncasecmp(ct, type, n) && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

yz_status http_form(http_req *r, const form **out, yz_err *e)
{
	if (!r->form_parsed) {
		r->form_parsed = true;
		form *f = arena_zalloc(r->a, sizeof *f);
		form_limits lim = form_default_limits();
		if (!f) {
			r->form_status = yz_fail(&r->form_err, YZ_ENOMEM, "out of memory");
		} else if (content_type_is(r, "multipart/form-data")) {
			lim.max_file = r->route ? r->route->r.max_body : HTTP_DEFAULT_BODY;
			r->form_status = form_parse_multipart(
			    r->a, http_req_header_raw(r, "Content-Type"), r->body ? r->body : "",
			    r->body_len, &lim, f, &r->form_err);
		} else if (content_type_is(r, "application/x-www-form-urlencoded") ||
		           r->body_len == 0) {
			r->form_status = form_parse_urlencoded(r->a, r->body ? r->body : "",
			                                       r->body_len, &lim, f, &r->form_err);
		} else {
			r->form_status =
			    yz_fail(&r->form_err, YZ_EINVAL,
			            "expected a form (application/x-www-form-urlencoded "
			            "or multipart/form-data)");
		}
		r->form = f;
	}
	if (r->form_status != YZ_OK) {
		if (e)
			*e = r->form_err;
		return r->form_status;
	}
	*out = r->form;
	return YZ_OK;
}

yz_status http_json(http_req *r, json_t **out, yz_err *e)
{
	*out = NULL;
	if (!content_type_is(r, "application/json"))
		return yz_fail(e, YZ_EINVAL,
		               "the request body must be JSON (Content-Type: "
		               "application/json)");
	return jx_parse_object(r->body ? r->body : "", r->body_len, out, e);
}

const http_user *http_user_of(http_req *r)
{
	return r->signed_in ? &r->user : NULL;
}

yz_actor *http_actor(http_req *r)
{
	return &r->actor;
}

const char *http_request_id(http_req *r)
{
	return r->actor.request_id;
}

const char *http_lang(http_req *r)
{
	return r->lang;
}

bool http_is_api(http_req *r)
{
	if (r->route)
		return (r->route->r.flags & HTTP_API) != 0;
	return !strncmp(r->path, "/api/", 5);
}

bool http_can(http_req *r, const char *perm)
{
	if (!strcmp(perm, HTTP_PUBLIC))
		return true;
	if (!r->signed_in)
		return false;
	if (!strcmp(perm, HTTP_SIGNED_IN))
		return true;
	if (!r->srv->has_auth)
		return false;
	yz_scope sc;
	return r->srv->auth.allowed(r->srv->auth.ctx, &r->user, perm, r->a, &sc);
}

const char *http_t(http_req *r, const char *key)
{
	return tmpl_message(r->srv->tmpl, r->lang, key);
}

bool http_scope_for(http_req *r, const char *perm, yz_scope *out)
{
	*out = (yz_scope){0};
	if (!r->signed_in || !r->srv->has_auth)
		return false;
	return r->srv->auth.allowed(r->srv->auth.ctx, &r->user, perm, r->a, out);
}
