/*
 * router.c — the route table: registration with its guard checks, pattern
 * compilation and matching of decoded path segments.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/jx.h"
#include "http/http_int.h"

static const char *method_label(unsigned m)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {{HTTP_GET, "GET"},        {HTTP_POST, "POST"},   {HTTP_PUT, "PUT"},
	             {HTTP_DELETE, "DELETE"},  {HTTP_PATCH, "PATCH"}, {HTTP_HEAD, "HEAD"},
	             {HTTP_OPTIONS, "OPTIONS"}};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (m & names[i].bit)
			return names[i].name;
	return "?";
}

yz_status http_router_compile(route *rt, yz_err *e)
{
	const char *p = rt->pattern;
	if (p[0] != '/')
		return yz_fail(e, YZ_EINTERNAL, "route pattern must start with '/': %s", p);
	rt->nsegs = 0;
	p++;
	for (;;) {
		if (rt->nsegs >= HTTP_MAX_SEGMENTS)
			return yz_fail(e, YZ_EINTERNAL, "route pattern too deep: %s", rt->pattern);
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		seg *s = &rt->segs[rt->nsegs++];
		memset(s, 0, sizeof *s);
		if (len >= 2 && p[0] == '{' && p[len - 1] == '}') {
			s->param = true;
			s->text = p + 1;
			s->len = len - 2;
			if (s->len > 3 && !strncmp(p + len - 4, "...", 3)) {
				s->rest = true;
				s->len -= 3;
				if (end)
					return yz_fail(e, YZ_EINTERNAL,
					               "{name...} must end the pattern: %s",
					               rt->pattern);
			}
			if (s->len == 0)
				return yz_fail(e, YZ_EINTERNAL, "empty parameter name in %s",
				               rt->pattern);
		} else {
			if (memchr(p, '{', len) || memchr(p, '}', len))
				return yz_fail(e, YZ_EINTERNAL, "malformed parameter in %s",
				               rt->pattern);
			s->text = p;
			s->len = len;
		}
		if (!end)
			break;
		p = end + 1;
	}
	unsigned m = rt->r.methods;
	snprintf(rt->label, sizeof rt->label, "%s %s", method_label(m), rt->pattern);
	return YZ_OK;
}

yz_status http_route_add(http_server *s, const http_route *in, yz_err *e)
{
	if (!in->pattern || !in->fn || !in->methods)
		return yz_fail(e, YZ_EINTERNAL, "route needs a pattern, a handler and methods");
	if (!in->perm || !in->perm[0])
		return yz_fail(e, YZ_EFORBIDDEN,
		               "route %s declares no permission: every route must (HTTP_PUBLIC is "
		               "an explicit choice)",
		               in->pattern);
	if (in->scope != HTTP_SCOPE_NONE && in->scope != HTTP_SCOPE_ORG)
		return yz_fail(e, YZ_EFORBIDDEN, "route %s declares no data scope", in->pattern);
	if ((in->flags & HTTP_INLINE) && strcmp(in->perm, HTTP_PUBLIC) != 0)
		return yz_fail(e, YZ_EINTERNAL, "inline route %s must be public", in->pattern);
	if (in->scope == HTTP_SCOPE_ORG &&
	    (!strcmp(in->perm, HTTP_PUBLIC) || !strcmp(in->perm, HTTP_SIGNED_IN)))
		return yz_fail(e, YZ_EINTERNAL,
		               "route %s: an org data scope needs a named permission", in->pattern);
	for (int i = 0; i < s->nroutes; i++)
		if (!strcmp(s->routes[i].pattern, in->pattern) &&
		    (s->routes[i].r.methods & in->methods))
			return yz_fail(e, YZ_ECONFLICT, "route %s %s registered twice",
			               method_label(in->methods), in->pattern);
	if (s->nroutes == s->cap_routes) {
		int cap = s->cap_routes ? s->cap_routes * 2 : 64;
		route *n = realloc(s->routes, sizeof *n * (size_t)cap);
		if (!n)
			return yz_fail(e, YZ_ENOMEM, "out of memory");
		s->routes = n;
		s->cap_routes = cap;
	}
	route *rt = &s->routes[s->nroutes];
	memset(rt, 0, sizeof *rt);
	rt->r = *in;
	rt->pattern = strdup(in->pattern);
	if (!rt->pattern)
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	rt->r.pattern = rt->pattern;
	if (!(rt->r.flags & (HTTP_API | HTTP_PAGE)))
		rt->r.flags |= !strncmp(rt->pattern, "/api/", 5) ? HTTP_API : HTTP_PAGE;
	if (rt->r.methods & HTTP_GET)
		rt->r.methods |= HTTP_HEAD;
	if (!rt->r.max_body)
		rt->r.max_body = HTTP_DEFAULT_BODY;
	yz_status st = http_router_compile(rt, e);
	if (st != YZ_OK) {
		free(rt->pattern);
		return st;
	}
	s->nroutes++;
	return YZ_OK;
}

yz_status http_routes_add(http_server *s, const http_route *rts, int n, yz_err *e)
{
	for (int i = 0; i < n; i++) {
		yz_status st = http_route_add(s, &rts[i], e);
		if (st != YZ_OK)
			return st;
	}
	return YZ_OK;
}

/* Split the raw path into decoded segments in the request arena. Returns the
 * count, or -1 when a segment is malformed (bad escape, NUL, dot segment). */
static int split_path(http_req *r, const char *segs[HTTP_MAX_SEGMENTS + 1],
                      size_t lens[HTTP_MAX_SEGMENTS + 1], const char **rest_raw)
{
	const char *p = r->path;
	if (*p != '/')
		return -1;
	p++;
	int n = 0;
	for (;;) {
		if (n > HTTP_MAX_SEGMENTS)
			return -1;
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		rest_raw[n] = p;
		size_t dl;
		char *d = form_percent_decode(r->a, p, len, false, &dl);
		if (!d || memchr(d, '\0', dl) || !strcmp(d, ".") || !strcmp(d, ".."))
			return -1;
		segs[n] = d;
		lens[n] = dl;
		n++;
		if (!end)
			break;
		p = end + 1;
	}
	return n;
}

route *http_router_match(http_server *s, http_req *r)
{
	const char *segs[HTTP_MAX_SEGMENTS + 1];
	size_t lens[HTTP_MAX_SEGMENTS + 1];
	const char *raw[HTTP_MAX_SEGMENTS + 1];
	int n = split_path(r, segs, lens, raw);
	r->allowed_methods = 0;
	if (n < 0)
		return NULL;
	route *found = NULL;
	for (int i = 0; i < s->nroutes && !found; i++) {
		route *rt = &s->routes[i];
		bool rest = rt->nsegs > 0 && rt->segs[rt->nsegs - 1].rest;
		if (rest ? n < rt->nsegs : n != rt->nsegs)
			continue;
		int np = 0;
		bool ok = true;
		for (int k = 0; k < rt->nsegs && ok; k++) {
			const seg *sg = &rt->segs[k];
			if (sg->rest) {
				if (np < HTTP_MAX_PARAMS) {
					r->param_names[np] = arena_strndup(r->a, sg->text, sg->len);
					/* the rest, decoded segment by segment and re-joined */
					buf b;
					buf_init(&b, 8192);
					/* an encoded slash inside a segment is not a separator */
					bool slash = rt->r.flags & HTTP_REST_SLASH;
					for (int j = k; j < n && ok; j++)
						ok = (slash || !memchr(segs[j], '/', lens[j])) &&
						     (j == k || buf_putc(&b, '/') == YZ_OK) &&
						     buf_append(&b, segs[j], lens[j]) == YZ_OK;
					r->param_values[np++] = arena_strdup(r->a, buf_str(&b));
					buf_free(&b);
				}
				break;
			}
			if (sg->param) {
				if (lens[k] == 0) {
					ok = false;
				} else if (np < HTTP_MAX_PARAMS) {
					r->param_names[np] = arena_strndup(r->a, sg->text, sg->len);
					r->param_values[np++] = segs[k];
				}
			} else if (sg->len != lens[k] || memcmp(sg->text, segs[k], lens[k]) != 0) {
				ok = false;
			}
		}
		if (!ok)
			continue;
		if (!(rt->r.methods & r->method)) {
			r->allowed_methods |= rt->r.methods;
			continue;
		}
		r->nparams = np;
		found = rt;
	}
	(void)raw;
	return found;
}

json_t *http_route_table(const http_server *s)
{
	json_t *arr = json_array();
	for (int i = 0; i < s->nroutes; i++) {
		const route *rt = &s->routes[i];
		static const unsigned order[] = {HTTP_GET, HTTP_POST, HTTP_PUT, HTTP_DELETE,
		                                 HTTP_PATCH};
		for (size_t k = 0; k < sizeof order / sizeof order[0]; k++) {
			if (!(rt->r.methods & order[k]))
				continue;
			json_t *o = json_object();
			jx_set_str(o, "method", method_label(order[k]));
			jx_set_str(o, "pattern", rt->pattern);
			jx_set_str(o, "perm", rt->r.perm);
			jx_set_str(o, "scope", rt->r.scope == HTTP_SCOPE_ORG ? "org" : "none");
			jx_set_bool(o, "api", (rt->r.flags & HTTP_API) != 0);
			if (rt->r.summary)
				jx_set_str(o, "summary", rt->r.summary);
			json_array_append_new(arr, o);
		}
	}
	return arr;
}
