/*
 * response.c — building responses: JSON, pages through templates, redirects,
 * problem+json and error pages, cookies, and the headers every response
 * carries.
 */
#include <stdio.h>
#include <string.h>

#include "core/jx.h"
#include "core/log.h"
#include "http/http_int.h"

static void set_body(http_req *r, const void *p, size_t n)
{
	buf_reset(&r->out);
	if (buf_append(&r->out, p, n) != YZ_OK) {
		buf_reset(&r->out);
		r->status = 500;
	}
}

void http_set_header(http_req *r, const char *name, const char *value)
{
	for (int i = 0; i < r->nout; i++) {
		if (!strcmp(r->out_headers[i].name, name) && strcmp(name, "Set-Cookie") != 0) {
			r->out_headers[i].value = arena_strdup(r->a, value);
			return;
		}
	}
	if (r->nout < HTTP_MAX_OUT_HEADERS) {
		r->out_headers[r->nout].name = arena_strdup(r->a, name);
		r->out_headers[r->nout].value = arena_strdup(r->a, value);
		r->nout++;
	}
}

void http_reply_json(http_req *r, int status, json_t *body)
{
	buf_reset(&r->out);
	if (jx_dump(body, &r->out) != YZ_OK) {
		buf_reset(&r->out);
		status = 500;
	}
	json_decref(body);
	r->status = status;
	r->content_type = "application/json; charset=utf-8";
	r->replied = true;
}

void http_reply_text(http_req *r, int status, const char *content_type, const void *data, size_t n)
{
	set_body(r, data, n);
	if (r->status != 500)
		r->status = status;
	r->content_type = content_type;
	r->replied = true;
}

void http_redirect(http_req *r, const char *url)
{
	/* only local paths: never an open redirect */
	if (!url || url[0] != '/' || url[1] == '/' || url[1] == '\\' || strchr(url, '\r') ||
	    strchr(url, '\n'))
		url = "/";
	http_set_header(r, "Location", url);
	r->status = (r->method & (HTTP_GET | HTTP_HEAD)) ? 302 : 303;
	buf_reset(&r->out);
	r->content_type = "text/plain; charset=utf-8";
	r->replied = true;
}

yz_status http_set_cookie(http_req *r, const char *name, const char *value, long max_age,
                          bool http_only)
{
	buf b;
	buf_init(&b, 4096);
	cookie_opts o = {.path = "/",
	                 .max_age = max_age,
	                 .http_only = http_only,
	                 .secure = r->srv->cfg->secure_cookies,
	                 .same_site = COOKIE_LAX};
	yz_status st = cookie_format(&b, name, value, &o);
	if (st == YZ_OK)
		http_set_header(r, "Set-Cookie", buf_str(&b));
	buf_free(&b);
	return st;
}

/* Cookies the framework sets itself, with names and values it controls: a
 * failure is a bug, logged rather than returned. */
void http_cookie_internal(http_req *r, const char *name, const char *value, long max_age)
{
	if (http_set_cookie(r, name, value, max_age, true) != YZ_OK)
		log_error("could not set cookie %s", name);
}

void http_flash(http_req *r, const char *key)
{
	http_cookie_internal(r, "yz_flash", key, 60);
}

int http_status_of(const yz_err *e)
{
	return yz_status_http(e->code == YZ_OK ? YZ_EINTERNAL : e->code);
}

static const char *reason(int status)
{
	switch (status) {
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 409:
		return "Conflict";
	case 413:
		return "Content Too Large";
	case 422:
		return "Unprocessable Content";
	case 423:
		return "Locked";
	case 429:
		return "Too Many Requests";
	case 503:
		return "Service Unavailable";
	default:
		return status >= 500 ? "Internal Server Error" : "Error";
	}
}

static void reply_problem(http_req *r, const yz_err *e, json_t *extra)
{
	int status = http_status_of(e);
	json_t *p = json_object();
	char type[64];
	snprintf(type, sizeof type, "/problems/%s",
	         yz_status_name(e->code ? e->code : YZ_EINTERNAL));
	jx_set_str(p, "type", type);
	jx_set_str(p, "title", reason(status));
	jx_set_int(p, "status", status);
	/* internal failures do not leak details to the caller; the log has them */
	const char *detail = status >= 500 ? "the server could not complete the request" : e->msg;
	jx_set_str(p, "detail", detail[0] ? detail : reason(status));
	jx_set_str(p, "instance", r->path);
	jx_set_str(p, "request_id", r->actor.request_id);
	if (e->nfield) {
		json_t *full = jx_from_err(e);
		json_object_set(p, "errors", json_object_get(full, "errors"));
		json_decref(full);
	}
	if (extra && status < 500)
		json_object_update_missing(p, extra);
	http_reply_json(r, status, p);
	r->content_type = "application/problem+json; charset=utf-8";
}

void http_default_error_page(http_req *r, const yz_err *e)
{
	int status = http_status_of(e);
	json_t *d = json_object();
	jx_set_int(d, "status", status);
	char key[48];
	snprintf(key, sizeof key, "error.%d",
	         status == 405 || status == 413 || status == 409 || status == 422 ||
	                 status == 400 || status == 401 || status == 403 || status == 404 ||
	                 status == 429
	             ? status
	             : 500);
	jx_set_str(d, "title_key", key);
	char text_key[64];
	snprintf(text_key, sizeof text_key, "error.text.%s", key + 6);
	jx_set_str(d, "text_key", text_key);
	jx_set_str(d, "message", status >= 500 ? "" : e->msg);
	if (e->nfield) {
		json_t *full = jx_from_err(e);
		json_object_set(d, "errors", json_object_get(full, "errors"));
		json_decref(full);
	}
	yz_err pe = {0};
	if (http_reply_page(r, status, "pages/error", d, &pe) != YZ_OK) {
		/* the error page itself failed: plain text keeps the answer honest */
		char msg[128];
		int n = snprintf(msg, sizeof msg, "%d %s\n", status, reason(status));
		http_reply_text(r, status, "text/plain; charset=utf-8", msg, (size_t)n);
	}
}

void http_reply_error(http_req *r, const yz_err *e)
{
	int status = http_status_of(e);
	if (status >= 500)
		log_error("%s %s failed: %s (%s)", r->method_name, r->path, e->msg,
		          yz_status_name(e->code));
	if (e->code == YZ_EMETHOD && r->allowed_methods) {
		char allow[96] = "";
		static const struct {
			unsigned bit;
			const char *name;
		} m[] = {{HTTP_GET, "GET"},        {HTTP_HEAD, "HEAD"},     {HTTP_POST, "POST"},
		         {HTTP_PUT, "PUT"},        {HTTP_DELETE, "DELETE"}, {HTTP_PATCH, "PATCH"},
		         {HTTP_OPTIONS, "OPTIONS"}};
		for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
			if (r->allowed_methods & m[i].bit) {
				size_t n = strlen(allow);
				snprintf(allow + n, sizeof allow - n, "%s%s", n ? ", " : "",
				         m[i].name);
			}
		}
		http_set_header(r, "Allow", allow);
	}
	if (http_is_api(r))
		reply_problem(r, e, NULL);
	else
		http_default_error_page(r, e);
}

void http_reply_problem_with(http_req *r, const yz_err *e, json_t *extra)
{
	reply_problem(r, e, extra);
	json_decref(extra);
}

/* The navigation the caller may see, grouped by section. */
static json_t *nav_for(http_req *r)
{
	json_t *nav = json_object();
	for (int i = 0; i < r->srv->nnav; i++) {
		const http_nav *n = &r->srv->nav[i];
		if (!http_can(r, n->perm))
			continue;
		json_t *sec = json_object_get(nav, n->section);
		if (!sec) {
			sec = json_array();
			json_object_set_new(nav, n->section, sec);
		}
		json_t *item = json_object();
		jx_set_str(item, "label", n->label);
		jx_set_str(item, "href", n->href);
		size_t hl = strlen(n->href);
		bool current = !strcmp(r->path, n->href) ||
		               (hl > 1 && !strncmp(r->path, n->href, hl) && r->path[hl] == '/');
		jx_set_bool(item, "current", current);
		json_array_append_new(sec, item);
	}
	return nav;
}

yz_status http_reply_page(http_req *r, int status, const char *tmpl, json_t *data, yz_err *e)
{
	json_t *ctx = data ? data : json_object();
	json_object_set(ctx, "site", r->srv->site);
	if (r->signed_in) {
		json_t *me = json_object();
		jx_set_int(me, "id", r->user.id);
		jx_set_str(me, "login", r->user.login);
		jx_set_str(me, "name", r->user.name);
		jx_set_str(me, "kind", r->user.kind_name);
		json_object_set_new(ctx, "me", me);
		jx_set_str(ctx, "csrf", r->user.csrf);
	} else {
		json_object_set_new(ctx, "me", json_null());
		jx_set_str(ctx, "csrf", r->csrf_anon);
	}
	json_object_set_new(ctx, "nav", nav_for(r));
	jx_set_str(ctx, "lang", r->lang);
	jx_set_bool(ctx, "lang_en", !strcmp(r->lang, "en"));
	jx_set_bool(ctx, "elder", r->elder);
	jx_set_str(ctx, "path", r->path);
	jx_set_str(ctx, "uri", r->uri);
	jx_set_str(ctx, "rid", r->actor.request_id);
	const char *flash = http_cookie(r, "yz_flash");
	if (flash && *flash) {
		jx_set_str(ctx, "flash", flash);
		http_cookie_internal(r, "yz_flash", "", 0);
	}
	buf_reset(&r->out);
	yz_status st = tmpl_render(r->srv->tmpl, tmpl, ctx, r->lang, &r->out, e);
	json_decref(ctx);
	if (st != YZ_OK) {
		buf_reset(&r->out);
		return st;
	}
	r->status = status;
	r->content_type = "text/html; charset=utf-8";
	r->replied = true;
	return YZ_OK;
}

/* Headers every response carries; called once just before sending. */
/* A header whose name and value outlive the request (literals, or strings
 * held by r itself): no copy, no duplicate check. Only for the last step. */
static void add_fixed(http_req *r, const char *name, const char *value)
{
	if (r->nout < HTTP_MAX_OUT_HEADERS) {
		r->out_headers[r->nout].name = name;
		r->out_headers[r->nout].value = value;
		r->nout++;
	}
}

/* Headers every response carries; called once just before sending. The
 * document policies (CSP, framing, opener, permissions) only mean something
 * for HTML, so JSON and text answers carry the ones that protect any body:
 * nosniff, the referrer policy and no-store. */
void http_finish_response(http_req *r)
{
	if (!r->replied) {
		yz_err e = {0};
		yz_fail(&e, YZ_EINTERNAL, "the handler set no response");
		http_reply_error(r, &e);
	}
	if (r->set_csrf_cookie)
		http_cookie_internal(r, "yz_csrf", r->csrf_anon, -1);
	add_fixed(r, "X-Request-Id", r->actor.request_id);
	add_fixed(r, "X-Content-Type-Options", "nosniff");
	add_fixed(r, "Referrer-Policy", "same-origin");
	if (r->content_type && !strncmp(r->content_type, "text/html", 9)) {
		add_fixed(r, "Content-Security-Policy",
		          "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src "
		          "'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
		          "frame-ancestors 'none'");
		add_fixed(r, "X-Frame-Options", "DENY");
		add_fixed(r, "Cross-Origin-Opener-Policy", "same-origin");
		add_fixed(r, "Permissions-Policy", "camera=(), microphone=(), geolocation=(self)");
	}
	if (r->srv->cfg->secure_cookies)
		add_fixed(r, "Strict-Transport-Security", "max-age=31536000");
	if (!r->cacheable)
		add_fixed(r, "Cache-Control", "no-store");
	if (r->content_type)
		add_fixed(r, "Content-Type", r->content_type);
}

/* Replace "{label}" and "{expected}" in a message. */
static char *fill(arena *a, const char *tmpl, const char *label, const char *expected)
{
	buf b;
	buf_init(&b, 1024);
	yz_status st = YZ_OK;
	for (const char *p = tmpl; *p && st == YZ_OK;) {
		if (!strncmp(p, "{label}", 7)) {
			BUF_TRY(st, buf_puts(&b, label));
			p += 7;
		} else if (!strncmp(p, "{expected}", 10)) {
			BUF_TRY(st, buf_puts(&b, expected));
			p += 10;
		} else {
			BUF_TRY(st, buf_putc(&b, *p++));
		}
	}
	char *out = arena_strdup(a, buf_str(&b));
	buf_free(&b);
	return out;
}

void http_errors_point_to(json_t *error_data, const char *control_id)
{
	json_t *list = json_object_get(error_data, "errors");
	if (!json_array_size(list))
		return;
	/* one message naming every fault by its path: "steps.lost：…；steps.a：…" */
	buf all;
	buf_init(&all, 64 * 1024);
	yz_status st = YZ_OK;
	size_t i;
	json_t *x;
	json_array_foreach (list, i, x) {
		const char *field = jx_str(x, "field", NULL);
		if (i)
			BUF_TRY(st, buf_puts(&all, "；"));
		if (field)
			BUF_TRY(st, buf_printf(&all, "%s：", field));
		BUF_TRY(st, buf_puts(&all, jx_str(x, "text", "")));
	}
	(void)st; /* a very long list is cut at the buffer's cap */
	char href[80];
	snprintf(href, sizeof href, "#%s", control_id);
	json_t *one = json_pack("{s:s, s:s, s:s}", "field", control_id + 2, "href", href, "text",
	                        buf_str(&all));
	json_array_clear(list);
	json_array_append_new(list, one);
	json_t *map = json_object();
	jx_set_str(map, control_id + 2, buf_str(&all));
	json_object_set_new(error_data, "error_map", map);
	buf_free(&all);
}

json_t *http_error_data(http_req *r, const yz_err *e, const char *label_scope)
{
	return http_error_data_with(r, e, label_scope, NULL);
}

json_t *http_error_data_with(http_req *r, const yz_err *e, const char *label_scope, json_t *labels)
{
	json_t *d = json_object();
	jx_set_str(d, "message", e->msg);
	json_t *list = json_array(), *map = json_object();
	int n = e->nfield < YZ_ERR_MAX_FIELDS ? e->nfield : YZ_ERR_MAX_FIELDS;
	for (int i = 0; i < n; i++) {
		const yz_field_err *f = &e->fields[i];
		char key[128];
		const char *label = labels ? jx_str(labels, f->field, NULL) : NULL;
		if (!label && label_scope) {
			snprintf(key, sizeof key, "field.%s.%s", label_scope, f->field);
			label = http_t(r, key);
			if (!strcmp(label, key))
				label = NULL;
		}
		if (!label) {
			snprintf(key, sizeof key, "field.%s", f->field);
			label = http_t(r, key);
			if (!strcmp(label, key))
				label = f->field;
		}
		snprintf(key, sizeof key, "rule.%s", f->rule);
		const char *tmpl = http_t(r, key);
		if (!strcmp(tmpl, key))
			tmpl = http_t(r, "rule.other");
		char *text = fill(r->a, tmpl, label, f->expected);
		json_t *x = json_object();
		jx_set_str(x, "field", f->field);
		/* the control's id: "f-" and the field, with the '.', '[' and ']' of
		 * nested fields ("data.phone") as '-', so that the id is also a plain
		 * CSS selector */
		char href[80];
		snprintf(href, sizeof href, "#f-%s", f->field);
		for (char *p = href + 3; *p; p++)
			if (*p == '.' || *p == '[' || *p == ']')
				*p = '-';
		jx_set_str(x, "href", href);
		jx_set_str(x, "text", text);
		json_array_append_new(list, x);
		if (!json_object_get(map, f->field))
			jx_set_str(map, f->field, text);
	}
	if (!n) {
		json_t *x = json_object();
		jx_set_str(x, "href", "#main");
		jx_set_str(x, "text", e->msg);
		json_array_append_new(list, x);
	}
	json_object_set_new(d, "errors", list);
	json_object_set_new(d, "error_map", map);
	return d;
}

json_t *http_form_json(const form *f)
{
	json_t *o = json_object();
	for (size_t i = 0; f && i < f->n; i++) {
		const form_field *x = &f->fields[i];
		if (x->filename || !strcmp(x->name, "_csrf") || json_object_get(o, x->name))
			continue;
		json_t *v = json_string(x->value);
		if (v)
			json_object_set_new(o, x->name, v);
	}
	return o;
}
