/*
 * api.c — notify's JSON API under /api/v1/ (one's own in-app notifications;
 * the outbox for holders of notify.manage), the test-only enqueue route
 * (with --test-clock), and the background delivery job.
 */
#include <string.h>

#include "app.h"
#include "core/clock.h"
#include "core/jx.h"
#include "core/slice.h"
#include "http/http.h"
#include "notify/notify.h"

/* Entry points for the module table (src/main.c, declared in app.h). */
yz_status notify_api_routes(yz_app *app, yz_err *e);
yz_status notify_job(yz_app *app, yz_err *e);

static yz_app *app_of(http_req *r)
{
	return http_app(r);
}

/* ---- the delivery job ---- */

#define JOB_BATCH     8
#define JOB_BUDGET_NS (2ull * 1000 * 1000 * 1000)

static void config_of(const yz_config *cfg, notify_config *c)
{
	*c = (notify_config){.smtp_host = cfg->smtp_host,
	                     .smtp_port = cfg->smtp_port,
	                     .mail_from = cfg->mail_from,
	                     .sms_gateway = cfg->sms_gateway,
	                     .max_tries = cfg->notify_max_tries,
	                     .backoff_ms = cfg->notify_backoff_ms,
	                     .timeout_ms = cfg->notify_timeout_ms};
}

/* Every second: deliver what is due, in small batches (each message's
 * outcome is recorded before the next is sent), for about two seconds at
 * most, then refresh the gauges for /metrics. */
yz_status notify_job(yz_app *app, yz_err *e)
{
	notify_config c;
	config_of(&app->cfg, &c);
	uint64_t t0 = clock_mono_ns();
	yz_status st;
	for (;;) {
		int delivered = 0, failed = 0;
		st = notify_deliver_due(app->db, &c, JOB_BATCH, &delivered, &failed, e);
		if (st != YZ_OK || delivered + failed < JOB_BATCH ||
		    clock_mono_ns() - t0 > JOB_BUDGET_NS)
			break;
	}
	yz_err ge = {0};
	yz_status gs = notify_refresh_gauges(app->db, &ge);
	if (st == YZ_OK && gs != YZ_OK) {
		if (e)
			*e = ge;
		st = gs;
	}
	return st;
}

/* ---- helpers ---- */

static int64_t query_int(http_req *r, const char *name, int64_t def)
{
	const char *v = http_query(r, name);
	int64_t n;
	return v && slice_to_i64(slice_of(v), &n) == YZ_OK ? n : def;
}

static bool query_bool(http_req *r, const char *name)
{
	const char *v = http_query(r, name);
	return v && (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes"));
}

/* The outbox has no org of its own: only a city-wide grant may see it. */
static yz_status city_wide(http_req *r, yz_err *e)
{
	if (http_actor(r)->scope.all)
		return YZ_OK;
	return yz_fail(e, YZ_EFORBIDDEN,
	               "the outbox is city-wide: notify.manage granted for the whole city is "
	               "needed");
}

/* ---- my notifications ---- */

static yz_status mine_list(http_req *r, yz_err *e)
{
	notify_inbox_filter f = {.before = query_int(r, "before", 0),
	                         .limit = (int)query_int(r, "limit", 20),
	                         .unread_only = query_bool(r, "unread")};
	if (f.limit > 100)
		f.limit = 100;
	store_conn *c;
	json_t *out;
	yz_status st = store_reader(app_of(r)->db, &c, e);
	if (st == YZ_OK)
		st = notify_inbox_list(c, http_user_of(r)->id, &f, &out, e);
	if (st == YZ_OK)
		http_reply_json(r, 200, out);
	return st;
}

static yz_status mine_read(http_req *r, yz_err *e)
{
	int64_t id = 0;
	yz_status st = http_param_id(r, "id", &id, e);
	if (st == YZ_OK)
		st = notify_mark_read(app_of(r)->db, http_actor(r), id, e);
	if (st == YZ_OK)
		http_reply_text(r, 204, NULL, "", 0);
	return st;
}

static yz_status mine_read_all(http_req *r, yz_err *e)
{
	int64_t n = 0;
	yz_status st = notify_mark_all_read(app_of(r)->db, http_actor(r), &n, e);
	if (st == YZ_OK)
		http_reply_json(r, 200, json_pack("{s:I}", "marked", (json_int_t)n));
	return st;
}

/* ---- the outbox ---- */

static yz_status outbox_list(http_req *r, yz_err *e)
{
	yz_status st = city_wide(r, e);
	notify_outbox_filter f = {.status = http_query(r, "status"),
	                          .before = query_int(r, "before", 0),
	                          .limit = (int)query_int(r, "limit", 50)};
	if (f.limit > 200)
		f.limit = 200;
	store_conn *c;
	json_t *out;
	if (st == YZ_OK)
		st = store_reader(app_of(r)->db, &c, e);
	if (st == YZ_OK)
		st = notify_outbox_list(c, &f, &out, e);
	if (st == YZ_OK)
		http_reply_json(r, 200, out);
	return st;
}

static yz_status answer_outbox(http_req *r, yz_status st, int64_t id, yz_err *e)
{
	store_conn *c;
	json_t *o;
	if (st == YZ_OK)
		st = store_reader(app_of(r)->db, &c, e);
	if (st == YZ_OK)
		st = notify_outbox_get(c, id, &o, e);
	if (st == YZ_OK)
		http_reply_json(r, 200, o);
	return st;
}

static yz_status outbox_get(http_req *r, yz_err *e)
{
	int64_t id = 0;
	yz_status st = city_wide(r, e);
	if (st == YZ_OK)
		st = http_param_id(r, "id", &id, e);
	return answer_outbox(r, st, id, e);
}

static yz_status outbox_retry(http_req *r, yz_err *e)
{
	int64_t id = 0;
	yz_status st = city_wide(r, e);
	if (st == YZ_OK)
		st = http_param_id(r, "id", &id, e);
	if (st == YZ_OK)
		st = notify_retry(app_of(r)->db, http_actor(r), id, e);
	return answer_outbox(r, st, id, e);
}

/* ---- test only: enqueue a message as a producer would ---- */

typedef struct enqueue_job {
	notify_msg m;
	int64_t id;
	bool created;
} enqueue_job;

static yz_status enqueue_fn(store_conn *tx, void *arg, yz_err *e)
{
	enqueue_job *j = arg;
	return notify_enqueue_id(tx, &j->m, &j->id, &j->created, e);
}

/* POST /api/v1/test/notify {channel, user_id?, to?, subject?, body, link?,
 * key?}: only with --test-clock, until the flow engine produces messages. */
static yz_status test_notify(http_req *r, yz_err *e)
{
	json_t *in;
	yz_status st = http_json(r, &in, e);
	if (st != YZ_OK)
		return st;
	static const jx_field fields[] = {
	    {"channel", JX_STRING, true, 0, 0, NULL}, {"user_id", JX_INT, false, 1, 0, NULL},
	    {"to", JX_STRING, false, 0, 0, NULL},     {"subject", JX_STRING, false, 0, 0, NULL},
	    {"body", JX_STRING, true, 0, 0, NULL},    {"link", JX_STRING, false, 0, 0, NULL},
	    {"key", JX_STRING, false, 0, 0, NULL},    {NULL, 0, false, 0, 0, NULL}};
	st = jx_validate(in, fields, e);
	int channel = notify_channel_parse(jx_str(in, "channel", ""));
	if (st == YZ_OK && !channel)
		st = yz_field(e, "channel", "enum", "inapp, sms, email or webhook",
		              jx_str(in, "channel", ""));
	enqueue_job j = {.m = {.channel = (notify_channel)channel,
	                       .user_id = jx_int(in, "user_id", 0),
	                       .to = jx_str(in, "to", NULL),
	                       .subject = jx_str(in, "subject", NULL),
	                       .body = jx_str(in, "body", NULL),
	                       .link = jx_str(in, "link", NULL),
	                       .key = jx_str(in, "key", NULL)}};
	if (st == YZ_OK)
		st = store_write(app_of(r)->db, enqueue_fn, &j, e);
	json_decref(in);
	if (st == YZ_OK)
		http_reply_json(
		    r, j.created ? 201 : 200,
		    json_pack("{s:I, s:b}", "id", (json_int_t)j.id, "created", j.created));
	return st;
}

static const http_route api_routes[] = {
    {HTTP_GET, "/api/v1/notifications", mine_list, HTTP_SIGNED_IN, HTTP_SCOPE_NONE, 0, 0,
     "My in-app notifications, newest first (cursor: before, limit; unread=1)"},
    {HTTP_POST, "/api/v1/notifications/read-all", mine_read_all, HTTP_SIGNED_IN, HTTP_SCOPE_NONE, 0,
     1024, "Mark all my notifications read"},
    {HTTP_POST, "/api/v1/notifications/{id}/read", mine_read, HTTP_SIGNED_IN, HTTP_SCOPE_NONE, 0,
     1024, "Mark one of my notifications read"},
    {HTTP_GET, "/api/v1/outbox", outbox_list, "notify.manage", HTTP_SCOPE_ORG, 0, 0,
     "External notifications by status, with failures and their last error (cursor: before, "
     "limit; status)"},
    {HTTP_GET, "/api/v1/outbox/{id}", outbox_get, "notify.manage", HTTP_SCOPE_ORG, 0, 0,
     "One external notification"},
    {HTTP_POST, "/api/v1/outbox/{id}/retry", outbox_retry, "notify.manage", HTTP_SCOPE_ORG, 0, 1024,
     "Send a failed notification again"},
};

yz_status notify_api_routes(yz_app *app, yz_err *e)
{
	yz_status st = http_routes_add(app->http, api_routes,
	                               (int)(sizeof api_routes / sizeof api_routes[0]), e);
	if (st == YZ_OK && app->cfg.test_clock) {
		static const http_route tr = {
		    HTTP_POST,       "/api/v1/test/notify",
		    test_notify,     HTTP_PUBLIC,
		    HTTP_SCOPE_NONE, 0,
		    64 * 1024,       "Test only (--test-clock): enqueue a notification"};
		st = http_route_add(app->http, &tr, e);
	}
	return st;
}
