/*
 * api.c — the flow engine's JSON API: definitions, starting instances,
 * commands, one instance, the inbox, and the calendar-change and migration
 * operations.
 */
#include <string.h>

#include "app.h"
#include "core/jx.h"
#include "core/slice.h"
#include "flow/flow.h"
#include "flow/flow_api.h"
#include "flow/flow_int.h"

static yz_app *app_of(http_req *r)
{
	return http_app(r);
}

/* The actor, with the scope of flow.read when the caller holds it: that is
 * what lets leaders and supervisors see instances they take no part in. */
yz_actor *flow_viewer(http_req *r)
{
	yz_actor *a = http_actor(r);
	yz_scope sc;
	if (http_scope_for(r, "flow.read", &sc))
		a->scope = sc;
	return a;
}

static yz_status reply_instance(http_req *r, int64_t id, int status, yz_err *e)
{
	store_conn *c;
	json_t *o;
	yz_status st = store_reader(app_of(r)->db, &c, e);
	if (st == YZ_OK)
		st = flow_instance_get(c, flow_viewer(r), id, &o, e);
	if (st != YZ_OK)
		return st;
	if (status == 201) {
		char loc[64];
		snprintf(loc, sizeof loc, "/api/v1/flow-instances/%lld", (long long)id);
		http_set_header(r, "Location", loc);
	}
	http_reply_json(r, status, o);
	return YZ_OK;
}

static yz_status defs_list(http_req *r, yz_err *e)
{
	(void)e;
	http_reply_json(r, 200, json_pack("{s:o}", "items", flow_defs_json()));
	return YZ_OK;
}

static yz_status def_get(http_req *r, yz_err *e)
{
	const char *key = http_param(r, "key");
	const char *v = http_query(r, "version");
	int64_t version = 0;
	if (v && slice_to_i64(slice_of(v), &version) != YZ_OK)
		return yz_field(e, "version", "type", "a version number", v);
	const flow_def *d = flow_def_get(key, (int)version);
	if (!d)
		return yz_fail(e, YZ_ENOTFOUND, "no flow definition %s", key);
	json_t *o = json_pack("{s:s, s:i, s:o}", "key", flow_def_key(d), "version",
	                      flow_def_version(d), "definition", flow_def_doc(d));
	http_reply_json(r, 200, o);
	return YZ_OK;
}

static yz_status def_load(http_req *r, yz_err *e)
{
	json_t *doc;
	yz_status st = http_json(r, &doc, e);
	if (st != YZ_OK)
		return st;
	int version = 0;
	st = flow_def_load(app_of(r)->db, http_actor(r), doc, &version, e);
	if (st == YZ_OK)
		http_reply_json(
		    r, 201,
		    json_pack("{s:s, s:i}", "key", jx_str(doc, "key", ""), "version", version));
	json_decref(doc);
	return st;
}

static yz_status start(http_req *r, yz_err *e)
{
	json_t *in;
	yz_status st = http_json(r, &in, e);
	if (st != YZ_OK)
		return st;
	int64_t id = 0;
	st = flow_start(app_of(r)->db, http_actor(r), http_param(r, "key"), in,
	                http_header(r, "Idempotency-Key"), &id, e);
	json_decref(in);
	return st == YZ_OK ? reply_instance(r, id, 201, e) : st;
}

static yz_status instance_get(http_req *r, yz_err *e)
{
	int64_t id;
	yz_status st = http_param_id(r, "id", &id, e);
	return st == YZ_OK ? reply_instance(r, id, 200, e) : st;
}

static yz_status command(http_req *r, yz_err *e)
{
	int64_t id;
	yz_status st = http_param_id(r, "id", &id, e);
	if (st != YZ_OK)
		return st;
	flow_cmd cmd = flow_cmd_parse(http_param(r, "cmd"));
	if (!cmd)
		return yz_fail(e, YZ_ENOTFOUND, "no such command: %s", http_param(r, "cmd"));
	json_t *in = NULL;
	size_t n;
	http_body(r, &n);
	if (n) {
		st = http_json(r, &in, e);
		if (st != YZ_OK)
			return st;
	} else {
		in = json_object();
	}
	int64_t task = 0;
	json_t *t = json_object_get(in, "task");
	if (t) {
		if (!json_is_integer(t)) {
			json_decref(in);
			return yz_field(e, "task", "type", "the id of a task", NULL);
		}
		task = json_integer_value(t);
		json_object_del(in, "task");
	}
	st = flow_command(app_of(r)->db, http_actor(r), id, task, cmd, in,
	                  http_header(r, "Idempotency-Key"), e);
	json_decref(in);
	if (st == YZ_ECONFLICT) {
		/* a command the instance's state does not allow: 409 with the
		 * commands that are allowed now, as a program can use them */
		store_conn *c;
		json_t *allowed = json_array();
		yz_err ignore = {0};
		if (store_reader(app_of(r)->db, &c, &ignore) == YZ_OK &&
		    flow_actions(c, http_actor(r), id, allowed, &ignore) != YZ_OK)
			json_array_clear(allowed);
		http_reply_problem_with(r, e, json_pack("{s:o}", "allowed", allowed));
		return YZ_OK;
	}
	return st == YZ_OK ? reply_instance(r, id, 200, e) : st;
}

static yz_status inbox(http_req *r, yz_err *e)
{
	int64_t before = 0, limit = 50;
	const char *v;
	if ((v = http_query(r, "before")) && slice_to_i64(slice_of(v), &before) != YZ_OK)
		return yz_field(e, "before", "type", "a cursor from a previous page", v);
	if ((v = http_query(r, "limit")) && slice_to_i64(slice_of(v), &limit) != YZ_OK)
		return yz_field(e, "limit", "type", "1..200", v);
	store_conn *c;
	json_t *o;
	yz_status st = store_reader(app_of(r)->db, &c, e);
	if (st == YZ_OK)
		st = flow_inbox(c, http_actor(r), http_query(r, "box"), http_query(r, "deadline"),
		                before, (int)limit, &o, e);
	if (st == YZ_OK)
		http_reply_json(r, 200, o);
	return st;
}

static yz_status migrate(http_req *r, yz_err *e)
{
	json_t *in;
	yz_status st = http_json(r, &in, e);
	if (st != YZ_OK)
		return st;
	static const jx_field f[] = {{"key", JX_STRING, true, 1, 48, NULL},
	                             {"from", JX_INT, true, 1, 0, NULL},
	                             {"to", JX_INT, true, 1, 0, NULL},
	                             {"step_map", JX_OBJECT, true, 0, 0, NULL},
	                             {NULL, 0, false, 0, 0, NULL}};
	st = jx_validate(in, f, e);
	int moved = 0;
	if (st == YZ_OK)
		st = flow_migrate(app_of(r)->db, http_actor(r), jx_str(in, "key", ""),
		                  (int)jx_int(in, "from", 0), (int)jx_int(in, "to", 0),
		                  json_object_get(in, "step_map"), &moved, e);
	json_decref(in);
	if (st == YZ_OK)
		http_reply_json(r, 200, json_pack("{s:i}", "moved", moved));
	return st;
}

static const http_route routes[] = {
    {HTTP_GET, "/api/v1/flows", defs_list, HTTP_SIGNED_IN, HTTP_SCOPE_NONE, 0, 0,
     "Flow definitions (newest versions)"},
    {HTTP_POST, "/api/v1/flows", def_load, "flow.admin", HTTP_SCOPE_NONE, 0, 1u << 20,
     "Load a flow definition (a new version when it changed)"},
    {HTTP_GET, "/api/v1/flows/{key}", def_get, HTTP_SIGNED_IN, HTTP_SCOPE_NONE, 0, 0,
     "A flow definition (?version=n)"},
    {HTTP_POST, "/api/v1/flows/{key}/instances", start, HTTP_SIGNED_IN, HTTP_SCOPE_NONE, 0,
     256u << 10, "Start an instance {title, data, org} (Idempotency-Key honoured)"},
    {HTTP_GET, "/api/v1/flow-instances/{id}", instance_get, HTTP_SIGNED_IN, HTTP_SCOPE_NONE, 0, 0,
     "An instance: state, tasks, timeline, the commands allowed now"},
    {HTTP_POST, "/api/v1/flow-instances/{id}/commands/{cmd}", command, HTTP_SIGNED_IN,
     HTTP_SCOPE_NONE, 0, 256u << 10,
     "claim, complete, return, reject, transfer, suspend, resume, extend, withdraw or comment"},
    {HTTP_GET, "/api/v1/inbox", inbox, HTTP_SIGNED_IN, HTTP_SCOPE_NONE, 0, 0,
     "The work inbox: box=todo|done|mine|cc, deadline=overdue|soon|ok, before, limit"},
    {HTTP_POST, "/api/v1/flows/migrate", migrate, "flow.admin", HTTP_SCOPE_NONE, 0, 0,
     "Move open instances to another version through a step map"},
};

yz_status flow_api_routes(yz_app *app, yz_err *e)
{
	return http_routes_add(app->http, routes, (int)(sizeof routes / sizeof routes[0]), e);
}
