/*
 * api.c — the audit chain over HTTP: browse records within scope, and run the
 * chain's verification.
 */
#include <string.h>

#include "app.h"
#include "audit/audit.h"
#include "core/jx.h"
#include "core/slice.h"

static void filter_from_query(http_req *r, audit_filter *f)
{
	memset(f, 0, sizeof *f);
	int64_t n;
	const char *v;
	if ((v = http_query(r, "before")) && slice_to_i64(slice_of(v), &n) == YZ_OK)
		f->before = n;
	if ((v = http_query(r, "limit")) && slice_to_i64(slice_of(v), &n) == YZ_OK)
		f->limit = (int)(n > 200 ? 200 : n < 1 ? 1 : n);
	f->actor = http_query(r, "actor");
	f->action = http_query(r, "action");
	f->object = http_query(r, "object");
}

yz_status audit_list_request(http_req *r, json_t **out, yz_err *e)
{
	yz_app *app = http_app(r);
	audit_filter f;
	filter_from_query(r, &f);
	store_conn *c;
	yz_status st = store_reader(app->db, &c, e);
	if (st == YZ_OK)
		st = audit_list(c, &http_actor(r)->scope, &f, out, e);
	return st;
}

static yz_status list(http_req *r, yz_err *e)
{
	json_t *out;
	yz_status st = audit_list_request(r, &out, e);
	if (st == YZ_OK)
		http_reply_json(r, 200, out);
	return st;
}

static yz_status get(http_req *r, yz_err *e)
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
	if (st == YZ_OK)
		http_reply_json(r, 200, o);
	return st;
}

static yz_status verify(http_req *r, yz_err *e)
{
	yz_app *app = http_app(r);
	audit_report rep;
	yz_status st = audit_verify(app->db, &rep, e);
	if (st != YZ_OK)
		return st;
	json_t *o = json_pack("{s:b, s:I, s:I, s:I}", "ok", rep.ok, "records",
	                      (json_int_t)rep.records, "checkpoints", (json_int_t)rep.checkpoints,
	                      "attested", (json_int_t)rep.attested);
	if (!rep.ok)
		jx_set_int(o, "first_bad", rep.first_bad);
	if (rep.reason[0])
		jx_set_str(o, "reason", rep.reason);
	http_reply_json(r, 200, o);
	return YZ_OK;
}

static const http_route routes[] = {
    {HTTP_GET, "/api/v1/audit", list, "audit.read", HTTP_SCOPE_ORG, 0, 0,
     "Audit records within scope, newest first (before, limit, actor, action, object)"},
    {HTTP_GET, "/api/v1/audit/verify", verify, "audit.read", HTTP_SCOPE_NONE, HTTP_SLOW, 0,
     "Recompute the whole chain and its signed checkpoints"},
    {HTTP_GET, "/api/v1/audit/{seq}", get, "audit.read", HTTP_SCOPE_ORG, 0, 0, "One audit record"},
};

yz_status audit_api_routes(yz_app *app, yz_err *e)
{
	return http_routes_add(app->http, routes, (int)(sizeof routes / sizeof routes[0]), e);
}
