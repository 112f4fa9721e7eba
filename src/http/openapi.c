/*
 * openapi.c — the OpenAPI 3.1 document of the JSON API, generated from the
 * route table itself so that it cannot drift from what the router serves:
 * every API route with its method, path parameters, summary, the permission
 * and data scope it declares (x-permission, x-scope), and problem+json
 * errors.
 */
#include <string.h>

#include "core/jx.h"
#include "http/http_int.h"

static json_t *problem_schema(void)
{
	return json_pack(
	    "{s:s, s:[s,s,s], s:{s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}, "
	    "s:{s:s, s:{s:s, s:{s:{s:s}, s:{s:s}, s:{s:s}, s:{s:s}}}}}}",
	    "type", "object", "required", "type", "title", "status", "properties", "type", "type",
	    "string", "title", "type", "string", "status", "type", "integer", "detail", "type",
	    "string", "instance", "type", "string", "request_id", "type", "string", "errors",
	    "type", "array", "items", "type", "object", "properties", "field", "type", "string",
	    "rule", "type", "string", "expected", "type", "string", "got", "type", "string");
}

static json_t *problem_response(const char *what)
{
	return json_pack("{s:s, s:{s:{s:{s:s}}}}", "description", what, "content",
	                 "application/problem+json", "schema", "$ref",
	                 "#/components/schemas/Problem");
}

static const char *lower_method(unsigned m)
{
	switch (m) {
	case HTTP_GET:
		return "get";
	case HTTP_POST:
		return "post";
	case HTTP_PUT:
		return "put";
	case HTTP_DELETE:
		return "delete";
	default:
		return "patch";
	}
}

json_t *http_openapi(const http_server *s, const char *title)
{
	json_t *paths = json_object();
	for (int i = 0; i < s->nroutes; i++) {
		const route *rt = &s->routes[i];
		if (!(rt->r.flags & HTTP_API))
			continue;
		/* OpenAPI templates a parameter as {name}: "{rest...}" becomes "{rest}"
		 * (its value may span segments, as the summary says) */
		char key[256];
		yz_strlcpy(key, rt->pattern, sizeof key);
		char *dots = strstr(key, "...}");
		if (dots)
			memmove(dots, dots + 3, strlen(dots + 3) + 1);
		json_t *item = json_object_get(paths, key);
		if (!item) {
			item = json_object();
			json_object_set_new(paths, key, item);
		}
		static const unsigned order[] = {HTTP_GET, HTTP_POST, HTTP_PUT, HTTP_DELETE,
		                                 HTTP_PATCH};
		for (size_t k = 0; k < sizeof order / sizeof order[0]; k++) {
			if (!(rt->r.methods & order[k]))
				continue;
			json_t *op = json_object();
			jx_set_str(op, "summary", rt->r.summary ? rt->r.summary : rt->pattern);
			char opid[300];
			snprintf(opid, sizeof opid, "%s %s", lower_method(order[k]), key);
			jx_set_str(op, "operationId", opid);
			jx_set_str(op, "x-permission", rt->r.perm);
			jx_set_str(op, "x-scope", rt->r.scope == HTTP_SCOPE_ORG ? "org" : "none");
			json_t *params = json_array();
			for (int g = 0; g < rt->nsegs; g++) {
				if (!rt->segs[g].param)
					continue;
				json_array_append_new(params,
				                      json_pack("{s:s%, s:s, s:b, s:{s:s}}", "name",
				                                rt->segs[g].text, rt->segs[g].len,
				                                "in", "path", "required", 1,
				                                "schema", "type", "string"));
			}
			if (json_array_size(params))
				json_object_set_new(op, "parameters", params);
			else
				json_decref(params);
			if (order[k] & (HTTP_POST | HTTP_PUT | HTTP_PATCH))
				json_object_set_new(op, "requestBody",
				                    json_pack("{s:{s:{s:{s:s}}}}", "content",
				                              "application/json", "schema", "type",
				                              "object"));
			json_t *resp = json_object();
			json_object_set_new(resp, "2XX",
			                    json_pack("{s:s, s:{s:{s:{s:s}}}}", "description",
			                              "Success", "content", "application/json",
			                              "schema", "type", "object"));
			json_object_set_new(resp, "400", problem_response("Bad input"));
			if (strcmp(rt->r.perm, HTTP_PUBLIC) != 0) {
				json_object_set_new(resp, "401", problem_response("Not signed in"));
				json_object_set_new(resp, "403",
				                    problem_response("Permission or CSRF missing"));
				json_object_set_new(op, "security",
				                    json_pack("[{s:[]}]", "session"));
			}
			json_object_set_new(resp, "404", problem_response("Not found"));
			json_object_set_new(op, "responses", resp);
			json_object_set_new(item, lower_method(order[k]), op);
		}
	}
	json_t *doc = json_pack(
	    "{s:s, s:{s:s, s:s, s:s}, s:o, s:{s:{s:o}, s:{s:{s:s, s:s, s:s, s:s}, s:{s:s, s:s, "
	    "s:s, s:s}}}}",
	    "openapi", "3.1.0", "info", "title", title, "version", "0.1.0", "description",
	    "Yizhan JSON API. Errors are RFC 9457 problem+json. Unsafe requests of a browser "
	    "session carry the X-CSRF-Token header.",
	    "paths", paths, "components", "schemas", "Problem", problem_schema(), "securitySchemes",
	    "session", "type", "apiKey", "in", "cookie", "name", "yz_sid", "description",
	    "Session cookie from POST /api/v1/session", "csrf", "type", "apiKey", "in", "header",
	    "name", "X-CSRF-Token", "description",
	    "The csrf value returned at sign-in; required on unsafe methods");
	return doc;
}

yz_status http_openapi_handler(http_req *r, yz_err *e)
{
	(void)e;
	const char *title = jx_str(r->srv->site, "portal_title", "Yizhan");
	http_reply_json(r, 200, http_openapi(r->srv, title));
	return YZ_OK;
}
