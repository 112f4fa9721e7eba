/*
 * pages.c — the audit browser for auditors: records within scope, filters,
 * one record with its change document, and the verification verdict.
 */
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "audit/audit.h"
#include "core/jx.h"

yz_status audit_list_request(http_req *r, json_t **out, yz_err *e);
yz_status audit_api_routes(yz_app *app, yz_err *e);

static yz_status list_page(http_req *r, yz_err *e)
{
	json_t *out;
	yz_status st = audit_list_request(r, &out, e);
	if (st != YZ_OK)
		return st;
	json_t *d = json_object();
	json_object_set_new(d, "records", json_incref(json_object_get(out, "items")));
	json_object_set(d, "next", json_object_get(out, "next"));
	json_decref(out);
	json_t *q = json_object();
	const char *keys[] = {"actor", "action", "object"};
	for (size_t i = 0; i < 3; i++)
		jx_set_str(q, keys[i], http_query(r, keys[i]) ? http_query(r, keys[i]) : "");
	json_object_set_new(d, "q", q);
	return http_reply_page(r, 200, "pages/audit", d, e);
}

static yz_status record_page(http_req *r, yz_err *e)
{
	yz_app *app = http_app(r);
	int64_t seq;
	store_conn *c;
	json_t *o;
	yz_status st = http_param_id(r, "seq", &seq, e);
	if (st == YZ_OK)
		st = store_reader(app->db, &c, e);
	if (st == YZ_OK)
		st = audit_get(c, &http_actor(r)->scope, seq, &o, e);
	if (st != YZ_OK)
		return st;
	char *text = json_dumps(json_object_get(o, "change"), JSON_INDENT(2) | JSON_ENCODE_ANY);
	jx_set_str(o, "change_text", text ? text : "");
	free(text);
	json_t *d = json_object();
	json_object_set_new(d, "record", o);
	return http_reply_page(r, 200, "pages/audit_record", d, e);
}

static yz_status verify_page(http_req *r, yz_err *e)
{
	yz_app *app = http_app(r);
	audit_report rep;
	yz_status st = audit_verify(app->db, &rep, e);
	if (st != YZ_OK)
		return st;
	json_t *d = json_pack("{s:b, s:I, s:I, s:I, s:s}", "ok", rep.ok, "records",
	                      (json_int_t)rep.records, "checkpoints", (json_int_t)rep.checkpoints,
	                      "first_bad", (json_int_t)rep.first_bad, "reason", rep.reason);
	return http_reply_page(r, 200, "pages/audit_verify", json_pack("{s:o}", "report", d), e);
}

static const http_route routes[] = {
    {HTTP_GET, "/audit", list_page, "audit.read", HTTP_SCOPE_ORG, 0, 0, "Audit records"},
    {HTTP_GET, "/audit/verify", verify_page, "audit.read", HTTP_SCOPE_NONE, HTTP_SLOW, 0,
     "Verify the audit chain"},
    {HTTP_GET, "/audit/{seq}", record_page, "audit.read", HTTP_SCOPE_ORG, 0, 0, "One audit record"},
};

static const http_nav nav[] = {
    {"admin", "nav.audit", "/audit", "audit.read", 80},
};

yz_status audit_routes(yz_app *app, yz_err *e)
{
	yz_status st = audit_api_routes(app, e);
	if (st == YZ_OK)
		st = http_routes_add(app->http, routes, (int)(sizeof routes / sizeof routes[0]), e);
	if (st == YZ_OK)
		http_add_nav(app->http, nav, 1);
	return st;
}
