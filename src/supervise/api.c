/*
 * api.c — the supervision module's JSON API under /api/v1/supervise/: cards
 * (the supervisor's, the unit's own, one card), the unit's response and
 * correction, counts, on-time figures, the rules and the Excel export; and
 * the background job that escalates cards whose response did not come.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/jx.h"
#include "core/slice.h"
#include "iam/iam.h"
#include "supervise/supervise_http.h"

static yz_app *app_of(http_req *r)
{
	return http_app(r);
}

/* ---- the request's viewer and filter ---- */

yz_status supervise_viewer_of(http_req *r, supervise_viewer *v, yz_err *e)
{
	*v = (supervise_viewer){0};
	arena *a = http_arena(r);
	yz_scope *rs = arena_zalloc(a, sizeof *rs), *ps = arena_zalloc(a, sizeof *ps);
	char *own = arena_zalloc(a, 256);
	if (!rs || !ps || !own)
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	if (http_scope_for(r, "supervise.read", rs))
		v->read = rs;
	if (http_scope_for(r, "supervise.respond", ps))
		v->respond = ps;
	const yz_actor *who = http_actor(r);
	if (who->org_id) {
		store_conn *c;
		yz_status st = store_reader(app_of(r)->db, &c, e);
		if (st == YZ_OK)
			st = iam_org_path(c, who->org_id, own, 256, e);
		if (st != YZ_OK)
			return st;
	}
	v->own_org_path = own;
	return YZ_OK;
}

static yz_status query_time(http_req *r, const char *name, bool end, int64_t *out, yz_err *e)
{
	*out = 0;
	const char *v = http_query(r, name);
	if (!v || !*v)
		return YZ_OK;
	if (clock_parse_iso(v, out) != YZ_OK)
		return yz_field(e, name, "iso8601", "a date (YYYY-MM-DD) or an ISO-8601 time", v);
	/* a date alone: `to` means the end of that day */
	if (end && strlen(v) == 10)
		*out += 86400000;
	return YZ_OK;
}

yz_status supervise_filter_of(http_req *r, supervise_filter *f, yz_err *e)
{
	*f = (supervise_filter){0};
	const char *v;
	yz_status st = YZ_OK;
	if ((v = http_query(r, "state")) && *v)
		f->state = v;
	if ((v = http_query(r, "colour")) && *v)
		f->colour = v;
	if ((v = http_query(r, "flow")) && *v)
		f->flow = v;
	v = http_query(r, "escalated");
	f->escalated = v && (!strcmp(v, "1") || !strcmp(v, "true"));
	int64_t n;
	if ((v = http_query(r, "org")) && *v) {
		char *path = arena_zalloc(http_arena(r), 256);
		store_conn *c;
		if (slice_to_i64(slice_of(v), &n) != YZ_OK || n <= 0)
			st = yz_field(e, "org", "type", "the id of an organisation", v);
		else if (!path)
			st = yz_fail(e, YZ_ENOMEM, "out of memory");
		else if ((st = store_reader(app_of(r)->db, &c, e)) == YZ_OK) {
			yz_err t = {0};
			st = iam_org_path(c, n, path, 256, &t);
			if (st == YZ_ENOTFOUND)
				st = yz_field(e, "org", "exists", "the id of an organisation", v);
			else if (st != YZ_OK && e)
				*e = t;
			f->org_path = path;
		}
	}
	if ((v = http_query(r, "before")) && *v) {
		if (slice_to_i64(slice_of(v), &n) != YZ_OK || n < 0)
			st = yz_field(e, "before", "type", "a cursor from a previous page", v);
		f->before = n;
	}
	if ((v = http_query(r, "limit")) && *v) {
		if (slice_to_i64(slice_of(v), &n) != YZ_OK || n < 1 || n > 200)
			st = yz_field(e, "limit", "range", "1..200", v);
		else
			f->limit = (int)n;
	}
	yz_status t1 = query_time(r, "from", false, &f->from, e);
	yz_status t2 = query_time(r, "to", true, &f->to, e);
	yz_status t3 = supervise_filter_check(f, e);
	if (st == YZ_OK)
		st = t1 != YZ_OK ? t1 : t2 != YZ_OK ? t2 : t3;
	return st;
}

/* ---- cards ---- */

static yz_status list(http_req *r, bool mine, yz_err *e)
{
	supervise_viewer v;
	supervise_filter f;
	yz_status st = supervise_viewer_of(r, &v, e);
	if (st == YZ_OK)
		st = supervise_filter_of(r, &f, e);
	if (st != YZ_OK)
		return st;
	if (mine)
		v.read = NULL;
	store_conn *c;
	json_t *out;
	st = store_reader(app_of(r)->db, &c, e);
	if (st == YZ_OK)
		st = supervise_cards_list(c, &v, &f, &out, e);
	if (st == YZ_OK)
		http_reply_json(r, 200, out);
	return st;
}

static yz_status cards_list(http_req *r, yz_err *e)
{
	return list(r, false, e);
}

static yz_status my_cards(http_req *r, yz_err *e)
{
	return list(r, true, e);
}

static yz_status reply_card(http_req *r, yz_status st, int64_t id, yz_err *e)
{
	supervise_viewer v;
	store_conn *c;
	json_t *o;
	if (st == YZ_OK)
		st = supervise_viewer_of(r, &v, e);
	if (st == YZ_OK)
		st = store_reader(app_of(r)->db, &c, e);
	if (st == YZ_OK)
		st = supervise_card_get(c, &v, id, &o, e);
	if (st == YZ_OK)
		http_reply_json(r, 200, o);
	return st;
}

static yz_status card_get(http_req *r, yz_err *e)
{
	int64_t id = 0;
	yz_status st = http_param_id(r, "id", &id, e);
	return reply_card(r, st, id, e);
}

static yz_status answer(http_req *r, bool correct, yz_err *e)
{
	int64_t id = 0;
	json_t *in = NULL;
	yz_status st = http_param_id(r, "id", &id, e);
	if (st == YZ_OK)
		st = http_json(r, &in, e);
	if (st == YZ_OK)
		st = correct ? supervise_correct(app_of(r)->db, http_actor(r), id, in, e)
		             : supervise_respond(app_of(r)->db, http_actor(r), id, in, e);
	json_decref(in);
	return reply_card(r, st, id, e);
}

static yz_status card_respond(http_req *r, yz_err *e)
{
	return answer(r, false, e);
}

static yz_status card_correct(http_req *r, yz_err *e)
{
	return answer(r, true, e);
}

/* ---- figures ---- */

static yz_status summary(http_req *r, yz_err *e)
{
	int64_t from = 0, to = 0;
	yz_status st = query_time(r, "from", false, &from, e);
	if (st == YZ_OK)
		st = query_time(r, "to", true, &to, e);
	store_conn *c;
	json_t *o;
	if (st == YZ_OK)
		st = store_reader(app_of(r)->db, &c, e);
	if (st == YZ_OK)
		st = supervise_summary(c, &http_actor(r)->scope, from, to, &o, e);
	if (st == YZ_OK)
		http_reply_json(r, 200, o);
	return st;
}

static yz_status stats(http_req *r, yz_err *e)
{
	store_conn *c;
	json_t *o;
	yz_status st = store_reader(app_of(r)->db, &c, e);
	if (st == YZ_OK)
		st = supervise_stats(c, &http_actor(r)->scope, clock_now_ms(), &o, e);
	if (st == YZ_OK)
		http_reply_json(r, 200, o);
	return st;
}

/* ---- rules ---- */

static yz_status rules_get(http_req *r, yz_err *e)
{
	store_conn *c;
	json_t *o;
	yz_status st = store_reader(app_of(r)->db, &c, e);
	if (st == YZ_OK)
		st = supervise_rules_get(c, &o, e);
	if (st != YZ_OK)
		return st;
	char etag[32];
	snprintf(etag, sizeof etag, "\"%lld\"", (long long)jx_int(o, "version", 0));
	http_set_header(r, "ETag", etag);
	http_reply_json(r, 200, o);
	return YZ_OK;
}

static yz_status rules_put(http_req *r, yz_err *e)
{
	int64_t if_version = 0;
	const char *h = http_header(r, "If-Match");
	if (h) {
		slice s = slice_trim(slice_of(h));
		if (s.n >= 2 && s.p[0] == '"' && s.p[s.n - 1] == '"')
			s = slice_make(s.p + 1, s.n - 2);
		if (slice_to_i64(s, &if_version) != YZ_OK || if_version < 0)
			return yz_fail(e, YZ_EINVAL, "If-Match must be the ETag of the rules");
	}
	json_t *doc;
	yz_status st = http_json(r, &doc, e);
	if (st != YZ_OK)
		return st;
	int64_t version = 0;
	st = supervise_rules_replace(app_of(r)->db, http_actor(r), doc, if_version, &version, e);
	json_decref(doc);
	return st == YZ_OK ? rules_get(r, e) : st;
}

/* ---- Excel ---- */

#define XLSX_TYPE "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

static yz_status read_file(const char *path, buf *out, yz_err *e)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return yz_fail(e, YZ_EIO, "cannot read the workbook: %s", strerror(errno));
	char chunk[65536];
	size_t n;
	yz_status st = YZ_OK;
	while (st == YZ_OK && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
		st = buf_append(out, chunk, n);
	if (st == YZ_OK && ferror(f))
		st = YZ_EIO;
	fclose(f);
	return st == YZ_OK ? YZ_OK : yz_fail(e, st, "cannot read the workbook back");
}

static yz_status export_xlsx(http_req *r, yz_err *e)
{
	supervise_filter f;
	yz_status st = supervise_filter_of(r, &f, e);
	if (st != YZ_OK)
		return st;
	const char *tmp = getenv("TMPDIR");
	char path[600];
	snprintf(path, sizeof path, "%s/yizhan-export-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	int fd = mkstemp(path);
	if (fd < 0)
		return yz_fail(e, YZ_EIO, "cannot make a temporary file: %s", strerror(errno));
	close(fd);
	store_conn *c;
	buf b;
	buf_init(&b, (size_t)48 << 20);
	st = store_reader(app_of(r)->db, &c, e);
	if (st == YZ_OK)
		st = supervise_export_xlsx(c, &http_actor(r)->scope, &f, clock_now_ms(), path, e);
	if (st == YZ_OK)
		st = read_file(path, &b, e);
	unlink(path);
	if (st == YZ_OK) {
		char day[16], cd[96];
		clock_format_city(clock_now_ms(), day, 11);
		snprintf(cd, sizeof cd, "attachment; filename=\"supervision-%s.xlsx\"", day);
		http_set_header(r, "Content-Disposition", cd);
		http_reply_text(r, 200, XLSX_TYPE, b.p ? b.p : "", b.len);
	}
	buf_free(&b);
	return st;
}

/* ---- the escalation job ---- */

yz_status supervise_job(yz_app *app, yz_err *e)
{
	int n = 0;
	return supervise_escalate_due(app->db, clock_now_ms(), 200, &n, e);
}

static const http_route routes[] = {
    {HTTP_GET, "/api/v1/supervise/cards", cards_list, "supervise.read", HTTP_SCOPE_ORG, 0, 0,
     "Supervision cards within the caller's scope, newest first (state, colour, org, flow, "
     "from, to, escalated, before, limit)"},
    {HTTP_GET, "/api/v1/supervise/my-cards", my_cards, "supervise.respond", HTTP_SCOPE_ORG, 0, 0,
     "The cards of the caller's own unit, which the caller may answer (same filters)"},
    {HTTP_GET, "/api/v1/supervise/cards/{id}", card_get, HTTP_SIGNED_IN, HTTP_SCOPE_NONE, 0, 0,
     "One card with its events and the commands the caller may give"},
    {HTTP_POST, "/api/v1/supervise/cards/{id}/respond", card_respond, "supervise.respond",
     HTTP_SCOPE_ORG, 0, 16u << 10, "The unit's response to a yellow or red card {text}"},
    {HTTP_POST, "/api/v1/supervise/cards/{id}/correct", card_correct, "supervise.respond",
     HTTP_SCOPE_ORG, 0, 16u << 10,
     "Record the correction that clears a card, after the response {text}"},
    {HTTP_GET, "/api/v1/supervise/summary", summary, "supervise.read", HTTP_SCOPE_ORG, 0, 0,
     "Card counts in total, by unit and by flow type (from, to)"},
    {HTTP_GET, "/api/v1/supervise/stats", stats, "supervise.read", HTTP_SCOPE_ORG, HTTP_SLOW, 0,
     "On-time rates of the last 12 months, by unit and by flow type, with cards per month"},
    {HTTP_GET, "/api/v1/supervise/rules", rules_get, "supervise.read", HTTP_SCOPE_ORG, 0, 0,
     "The supervision rules in force (ETag = version)"},
    {HTTP_PUT, "/api/v1/supervise/rules", rules_put, "supervise.manage", HTTP_SCOPE_ORG, 0,
     256u << 10, "Replace the supervision rules (a new version; If-Match: the ETag)"},
    {HTTP_GET, "/api/v1/supervise/export.xlsx", export_xlsx, "supervise.read", HTTP_SCOPE_ORG,
     HTTP_SLOW, 0, "The cards (same filters) and on-time rates as an Excel workbook"},
};

yz_status supervise_api_routes(yz_app *app, yz_err *e)
{
	return http_routes_add(app->http, routes, (int)(sizeof routes / sizeof routes[0]), e);
}
