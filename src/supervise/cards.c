/*
 * cards.c — cards from flow events (the listener), the unit's response and
 * correction, and escalation of cards whose response did not come.
 *
 * Everything here runs inside write jobs: the listener in the transaction of
 * the flow event, the commands and each escalation in a job of their own.
 * Jobs may run twice (the writer re-runs a failed batch job by job), so every
 * insert is keyed: a card by its rule, instance, task and time; a card event
 * by (card, kind); a message by card, event and recipient.
 */
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "core/arena.h"
#include "core/clock.h"
#include "core/jx.h"
#include "flow/flow_int.h" /* flow_calendar() only */
#include "iam/iam.h"
#include "notify/notify.h"
#include "supervise/supervise_int.h"

#define MAX_RECIPIENTS 50

static const yz_scope scope_all = {.all = true};

/* ---- matching ---- */

static bool blank(const char *s)
{
	for (; s && *s; s++)
		if (*s != ' ' && *s != '\t' && *s != '\r' && *s != '\n')
			return false;
	return true;
}

/* Working hours between two instants on the engine's calendar (office
 * hours of working days); wall-clock hours when no calendar is set. */
static int64_t work_hours(int64_t from, int64_t to)
{
	const calendar *cal = flow_calendar();
	if (!cal)
		return (to - from) / 3600000;
	return calendar_work_minutes_between(cal, NULL, from, to) / 60;
}

static bool matches(const sv_rule *r, const flow_event *ev)
{
	if (r->event != ev->kind)
		return false;
	if (r->on_time >= 0 && (int)ev->instance_on_time != r->on_time)
		return false;
	if (r->reason_empty >= 0 && (int)blank(ev->reason) != r->reason_empty)
		return false;
	if (r->waited_hours > 0 &&
	    work_hours(ev->at - ev->waited_ms, ev->at) < (int64_t)r->waited_hours)
		return false;
	if (r->nflows) {
		bool in = false;
		for (int i = 0; i < r->nflows && !in; i++)
			in = ev->flow_key && !strcmp(r->flows[i], ev->flow_key);
		if (!in)
			return false;
	}
	return true;
}

/* ---- who hears ---- */

static bool has_id(const int64_t *ids, int n, int64_t id)
{
	for (int i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

/* The users who may respond to a card of `unit`: holders of a role with
 * supervise.respond whose scope covers the unit and whose own org lies in it.
 * At most MAX_RECIPIENTS, into out. */
static yz_status responders(store_conn *tx, const char *unit, arena *a, int64_t *out, int *n,
                            yz_err *e)
{
	*n = 0;
	json_t *roles = NULL;
	yz_status st = iam_role_list(tx, &roles, e);
	size_t i;
	json_t *role;
	json_array_foreach (roles, i, role) {
		if (st != YZ_OK)
			break;
		bool grants = false;
		size_t k;
		json_t *p;
		json_array_foreach (json_object_get(role, "permissions"), k, p)
			grants |=
			    json_is_string(p) && !strcmp(json_string_value(p), "supervise.respond");
		if (!grants)
			continue;
		int64_t *ids = NULL;
		int m = 0;
		st = iam_role_holders(tx, jx_str(role, "code", ""), unit, a, &ids, &m, e);
		for (int h = 0; st == YZ_OK && h < m && *n < MAX_RECIPIENTS; h++) {
			if (has_id(out, *n, ids[h]))
				continue;
			json_t *u = NULL;
			st = iam_user_get(tx, &scope_all, ids[h], &u, e);
			if (st != YZ_OK)
				break;
			int64_t org = jx_int(u, "org_id", 0);
			json_decref(u);
			char path[256] = "";
			if (org && (st = iam_org_path(tx, org, path, sizeof path, e)) != YZ_OK)
				break;
			if (org && sv_path_within(path, unit))
				out[(*n)++] = ids[h];
		}
	}
	json_decref(roles);
	return st;
}

static yz_status tell(store_conn *tx, int64_t user, const char *subject, const char *body,
                      const char *link, const char *key, yz_err *e)
{
	notify_msg m = {.channel = NOTIFY_INAPP,
	                .user_id = user,
	                .subject = subject,
	                .body = body,
	                .link = link,
	                .key = key};
	return notify_enqueue(tx, &m, e);
}

static const char *colour_zh(const char *c)
{
	return !strcmp(c, "red") ? "红牌" : !strcmp(c, "yellow") ? "黄牌" : "提示";
}

/* ---- issuing ---- */

static yz_status add_event(store_conn *tx, int64_t card, const char *kind, int64_t at,
                           const yz_actor *who, const char *text, bool *added, yz_err *e)
{
	store_val a[] = {sv_int(card),
	                 sv_text(kind),
	                 sv_int(at),
	                 who->user_id ? sv_int(who->user_id) : sv_null(),
	                 sv_text(who->login),
	                 sv_text(who->name[0] ? who->name : who->login),
	                 sv_text(text ? text : "")};
	yz_status st = store_exec(tx,
	                          "INSERT INTO supervise_card_event (card_id, kind, at, actor_id, "
	                          "actor, actor_name, text) VALUES (?, ?, ?, ?, ?, ?, ?) ON "
	                          "CONFLICT (card_id, kind) DO NOTHING",
	                          a, SV_N(a), e);
	if (added)
		*added = st == YZ_OK && store_changes(tx) == 1;
	return st;
}

static yz_status issue(store_conn *tx, const sv_rules *rs, const sv_rule *rule,
                       const flow_event *ev, const char *evname, yz_err *e)
{
	const char *unit =
	    ev->task_org_path && *ev->task_org_path ? ev->task_org_path : ev->org_path;
	if (!unit || !*unit)
		return YZ_OK; /* nobody to hold to account */
	char key[200];
	snprintf(key, sizeof key, "%s|%lld|%lld|%lld", rule->code, (long long)ev->instance_id,
	         (long long)ev->token_id, (long long)ev->at);
	char unit_name[200];
	yz_status st = sv_org_name(tx, unit, unit_name, sizeof unit_name, e);
	if (st != YZ_OK)
		return st;
	int64_t respond_by = 0;
	char esc_path[256] = "";
	if (rule->colour != SV_PROMPT) {
		const calendar *cal = flow_calendar();
		respond_by = cal ? calendar_deadline_workdays(cal, ev->at, rule->respond_days)
		                 : ev->at + (int64_t)rule->respond_days * 86400000;
		int64_t org = 0;
		yz_err t = {0};
		st = iam_org_find_code(tx, rule->escalate_to, &org, &t);
		if (st == YZ_OK)
			st = iam_org_path(tx, org, esc_path, sizeof esc_path, e);
		else if (st == YZ_ENOTFOUND)
			st = YZ_OK; /* the org went away: the card still stands, unescalated */
		else if (e)
			*e = t;
		if (st != YZ_OK)
			return st;
	}
	json_t *detail = json_object();
	if (ev->who && ev->who->user_id) {
		jx_set_str(detail, "actor", ev->who->login);
		jx_set_str(detail, "actor_name", ev->who->name[0] ? ev->who->name : ev->who->login);
	}
	if (ev->reason && *ev->reason)
		jx_set_str(detail, "reason", ev->reason);
	if (ev->kind == FLOW_EV_TRANSFERRED)
		jx_set_int(detail, "waited_workhours", work_hours(ev->at - ev->waited_ms, ev->at));
	if (ev->opened_at) {
		char t[40];
		clock_format_city(ev->opened_at, t, sizeof t);
		jx_set_str(detail, "opened_at", t);
	}
	jx_set_bool(detail, "instance_on_time", ev->instance_on_time);
	char *dtext = json_dumps(detail, JSON_COMPACT);
	json_decref(detail);
	if (!dtext)
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	const char *colour = sv_colour_name(rule->colour);
	store_val a[] = {
	    sv_text(key),
	    sv_text(colour),
	    sv_text(rule->code),
	    sv_text(rule->name),
	    sv_int(rs->version),
	    sv_text(evname),
	    sv_int(ev->instance_id),
	    ev->token_id ? sv_int(ev->token_id) : sv_null(),
	    sv_text(ev->flow_key ? ev->flow_key : ""),
	    sv_text(ev->flow_name ? ev->flow_name : ""),
	    sv_text(ev->title && *ev->title ? ev->title : (ev->flow_name ? ev->flow_name : "")),
	    sv_text(ev->token_id ? ev->step : NULL),
	    sv_text(ev->token_id ? ev->step_name : NULL),
	    sv_text(ev->org_path ? ev->org_path : ""),
	    sv_text(unit),
	    sv_text(unit_name),
	    sv_int(ev->at),
	    ev->due_at ? sv_int(ev->due_at) : sv_null(),
	    respond_by ? sv_int(respond_by) : sv_null(),
	    sv_text(rule->colour != SV_PROMPT ? rule->escalate_to : NULL),
	    sv_text(esc_path[0] ? esc_path : NULL),
	    sv_text(dtext)};
	int64_t id = 0;
	st = store_query_int(tx,
	                     "INSERT INTO supervise_card (card_key, colour, rule_code, rule_name, "
	                     "rule_version, event, instance_id, token_id, flow_key, flow_name, "
	                     "title, step, step_name, org_path, unit_path, unit_name, issued_at, "
	                     "due_at, respond_by, escalate_to, escalate_path, detail) VALUES (?, "
	                     "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON "
	                     "CONFLICT (card_key) DO NOTHING RETURNING id",
	                     a, SV_N(a), &id, e);
	free(dtext);
	if (st == YZ_ENOTFOUND) {
		/* issued before (the same event told again) */
		if (e)
			*e = (yz_err){0};
		return YZ_OK;
	}
	if (st != YZ_OK)
		return st;
	yz_actor sys = actor_system("supervise");
	if (ev->who)
		yz_strlcpy(sys.request_id, ev->who->request_id, sizeof sys.request_id);
	st = add_event(tx, id, "issued", ev->at, &sys, rule->name, NULL, e);
	if (st == YZ_OK && respond_by) {
		store_val p[] = {sv_int(id), sv_int(respond_by)};
		st = store_exec(tx, "INSERT INTO supervise_pending (card_id, due_at) VALUES (?, ?)",
		                p, 2, e);
	}
	char obj[48];
	snprintf(obj, sizeof obj, "supervise-card:%lld", (long long)id);
	json_t *ch = json_pack("{s:s, s:s, s:s, s:I, s:I}", "rule", rule->code, "colour", colour,
	                       "event", evname, "instance", (json_int_t)ev->instance_id, "task",
	                       (json_int_t)ev->token_id);
	if (st == YZ_OK)
		st = audit_append(tx, &sys, "supervise.card.issue", obj, unit, ch, e);
	json_decref(ch);
	if (st != YZ_OK || rule->colour == SV_PROMPT)
		return st; /* prompts inform on the page; the engine already reminds the handlers */
	/* the unit hears of it */
	arena *ar = arena_new(1u << 16);
	if (!ar)
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	int64_t ids[MAX_RECIPIENTS];
	int n = 0;
	st = responders(tx, unit, ar, ids, &n, e);
	char subject[300], body[900], link[64], by[40];
	clock_format_city_human(respond_by, by, sizeof by);
	const char *title = ev->title && *ev->title ? ev->title : ev->flow_name;
	snprintf(link, sizeof link, "/supervise/cards/%lld", (long long)id);
	snprintf(subject, sizeof subject, "电子监察%s：%s%s%s", colour_zh(colour), title,
	         ev->step_name ? " · " : "", ev->step_name ? ev->step_name : "");
	snprintf(body, sizeof body,
	         "“%s”（%s）%s%s%s因“%s”被亮%s。请于 %s 前作出说明，并在整改后登记整改情况。",
	         title, ev->flow_name ? ev->flow_name : "", ev->step_name ? "的“" : "",
	         ev->step_name ? ev->step_name : "", ev->step_name ? "”环节" : "", rule->name,
	         colour_zh(colour), by);
	for (int i = 0; st == YZ_OK && i < n; i++) {
		snprintf(key, sizeof key, "supervise.card.%lld.issued.%lld", (long long)id,
		         (long long)ids[i]);
		st = tell(tx, ids[i], subject, body, link, key, e);
	}
	arena_free(ar);
	return st;
}

yz_status supervise_flow_event(store_conn *tx, const flow_event *ev, void *ctx, yz_err *e)
{
	(void)ctx;
	const char *evname = supervise_event_name(ev->kind);
	if (!evname)
		return YZ_OK;
	sv_rules *rs = NULL;
	yz_status st = sv_rules_current(tx, &rs, e);
	for (int i = 0; st == YZ_OK && rs && i < rs->n; i++)
		if (matches(&rs->r[i], ev))
			st = issue(tx, rs, &rs->r[i], ev, evname, e);
	sv_rules_release(rs);
	return st;
}

/* ---- the unit answers ---- */

typedef struct card_row {
	char colour[16];
	char unit[256];
	char title[256];
	char esc_path[256];
	bool responded, corrected, escalated;
} card_row;

static yz_status read_card(store_conn *tx, int64_t id, card_row *c, yz_err *e)
{
	memset(c, 0, sizeof *c);
	store_rows *r;
	store_val a[] = {sv_int(id)};
	yz_status st = store_query(tx,
	                           "SELECT colour, unit_path, title, COALESCE(escalate_path, '') "
	                           "FROM supervise_card WHERE id = ?",
	                           a, 1, &r, e);
	if (st != YZ_OK)
		return st;
	bool found = store_next(r);
	if (found) {
		yz_strlcpy(c->colour, store_col_text(r, 0), sizeof c->colour);
		yz_strlcpy(c->unit, store_col_text(r, 1), sizeof c->unit);
		yz_strlcpy(c->title, store_col_text(r, 2), sizeof c->title);
		yz_strlcpy(c->esc_path, store_col_text(r, 3), sizeof c->esc_path);
	}
	st = store_rows_close(r, e);
	if (st == YZ_OK && !found)
		return yz_fail(e, YZ_ENOTFOUND, "no card %lld", (long long)id);
	if (st != YZ_OK)
		return st;
	st =
	    store_query(tx, "SELECT kind FROM supervise_card_event WHERE card_id = ?", a, 1, &r, e);
	if (st != YZ_OK)
		return st;
	while (store_next(r)) {
		const char *k = store_col_text(r, 0);
		c->responded |= !strcmp(k, "responded");
		c->corrected |= !strcmp(k, "corrected");
		c->escalated |= !strcmp(k, "escalated");
	}
	return store_rows_close(r, e);
}

typedef struct answer_job {
	const yz_actor *who;
	int64_t card;
	bool correct;
	const char *text;
} answer_job;

static yz_status answer_fn(store_conn *tx, void *arg, yz_err *e)
{
	answer_job *j = arg;
	card_row c;
	yz_status st = read_card(tx, j->card, &c, e);
	if (st != YZ_OK)
		return st;
	char own[256] = "";
	if (j->who->org_id && (st = iam_org_path(tx, j->who->org_id, own, sizeof own, e)) != YZ_OK)
		return st;
	bool covers = iam_path_in_scope(&j->who->scope, c.unit);
	bool member = own[0] && sv_path_within(own, c.unit);
	if (!covers && !member)
		return yz_fail(e, YZ_ENOTFOUND, "no card %lld", (long long)j->card);
	if (!covers || !member)
		return yz_fail(
		    e, YZ_EFORBIDDEN,
		    "only the card's unit answers it: supervise.respond for the unit and "
		    "membership of it are needed");
	if (!strcmp(c.colour, "prompt"))
		return yz_fail(e, YZ_ECONFLICT, "a prompt needs no response: nothing is allowed");
	if (c.corrected)
		return yz_fail(e, YZ_ECONFLICT, "the card is cleared: nothing is allowed");
	if (!j->correct && c.responded)
		return yz_fail(e, YZ_ECONFLICT,
		               "the unit has responded already: allowed is correct (record the "
		               "correction)");
	if (j->correct && !c.responded)
		return yz_fail(e, YZ_ECONFLICT,
		               "a correction comes after the response: allowed is respond");
	const char *kind = j->correct ? "corrected" : "responded";
	bool added = false;
	int64_t now = clock_now_ms();
	st = add_event(tx, j->card, kind, now, j->who, j->text, &added, e);
	if (st == YZ_OK && !added)
		st = yz_fail(e, YZ_ECONFLICT, "the card was %s meanwhile", kind);
	if (st == YZ_OK && !j->correct) {
		store_val a[] = {sv_int(j->card)};
		st = store_exec(tx, "DELETE FROM supervise_pending WHERE card_id = ?", a, 1, e);
	}
	char obj[48], action[48];
	snprintf(obj, sizeof obj, "supervise-card:%lld", (long long)j->card);
	snprintf(action, sizeof action, "supervise.card.%s", j->correct ? "correct" : "respond");
	json_t *ch = json_pack("{s:s}", "text", j->text);
	if (st == YZ_OK)
		st = audit_append(tx, j->who, action, obj, c.unit, ch, e);
	json_decref(ch);
	return st;
}

static yz_status answer(store *s, const yz_actor *who, int64_t card, json_t *in, bool correct,
                        yz_err *e)
{
	static const jx_field fields[] = {{"text", JX_STRING, true, 1, SUPERVISE_TEXT_MAX, NULL},
	                                  {NULL, 0, false, 0, 0, NULL}};
	yz_status st = jx_validate(in, fields, e);
	if (st == YZ_OK && blank(jx_str(in, "text", ""))) {
		yz_field(e, "text", "required", "what the unit says", NULL);
		st = YZ_EINVAL;
	}
	if (st != YZ_OK)
		return st;
	answer_job j = {
	    .who = who, .card = card, .correct = correct, .text = jx_str(in, "text", "")};
	return store_write(s, answer_fn, &j, e);
}

yz_status supervise_respond(store *s, const yz_actor *who, int64_t card, json_t *in, yz_err *e)
{
	return answer(s, who, card, in, false, e);
}

yz_status supervise_correct(store *s, const yz_actor *who, int64_t card, json_t *in, yz_err *e)
{
	return answer(s, who, card, in, true, e);
}

/* ---- escalation ---- */

typedef struct escalate_job {
	int64_t card;
	int64_t now;
	bool done; /* out */
} escalate_job;

static yz_status escalate_fn(store_conn *tx, void *arg, yz_err *e)
{
	escalate_job *j = arg;
	j->done = false;
	/* leaving the queue is the claim: whoever removes the row escalates */
	store_val a[] = {sv_int(j->card), sv_int(j->now)};
	yz_status st = store_exec(
	    tx, "DELETE FROM supervise_pending WHERE card_id = ? AND due_at <= ?", a, 2, e);
	if (st != YZ_OK || store_changes(tx) != 1)
		return st;
	card_row c;
	st = read_card(tx, j->card, &c, e);
	if (st != YZ_OK || c.responded || c.corrected || c.escalated)
		return st;
	char esc_name[200] = "";
	if (c.esc_path[0] &&
	    (st = sv_org_name(tx, c.esc_path, esc_name, sizeof esc_name, e)) != YZ_OK)
		return st;
	yz_actor sys = actor_system("supervise");
	char text[300];
	snprintf(text, sizeof text, "未按期作出说明，提请%s督办",
	         esc_name[0] ? esc_name : "监察单位");
	bool added = false;
	st = add_event(tx, j->card, "escalated", j->now, &sys, text, &added, e);
	if (st != YZ_OK || !added)
		return st;
	j->done = true;
	char obj[48];
	snprintf(obj, sizeof obj, "supervise-card:%lld", (long long)j->card);
	json_t *ch = json_pack("{s:s}", "to", c.esc_path);
	st = audit_append(tx, &sys, "supervise.card.escalate", obj, c.unit, ch, e);
	json_decref(ch);
	if (st != YZ_OK || !c.esc_path[0])
		return st;
	arena *ar = arena_new(1u << 16);
	if (!ar)
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	int64_t *ids = NULL;
	int n = 0;
	st = iam_org_members(tx, c.esc_path, MAX_RECIPIENTS, ar, &ids, &n, e);
	char subject[300], body[600], link[64], key[120], unit_name[200] = "";
	if (st == YZ_OK)
		st = sv_org_name(tx, c.unit, unit_name, sizeof unit_name, e);
	snprintf(link, sizeof link, "/supervise/cards/%lld", (long long)j->card);
	snprintf(subject, sizeof subject, "督办：%s未按期说明 · %s", colour_zh(c.colour), c.title);
	snprintf(body, sizeof body, "%s对“%s”的%s未在规定期限内作出说明，请督促整改。",
	         unit_name[0] ? unit_name : "责任单位", c.title, colour_zh(c.colour));
	for (int i = 0; st == YZ_OK && i < n; i++) {
		snprintf(key, sizeof key, "supervise.card.%lld.escalated.%lld", (long long)j->card,
		         (long long)ids[i]);
		st = tell(tx, ids[i], subject, body, link, key, e);
	}
	arena_free(ar);
	return st;
}

yz_status supervise_escalate_due(store *s, int64_t now, int max, int *escalated, yz_err *e)
{
	*escalated = 0;
	if (max < 1)
		max = 1;
	if (max > 1000)
		max = 1000;
	store_conn *c;
	yz_status st = store_reader(s, &c, e);
	if (st != YZ_OK)
		return st;
	store_rows *r;
	store_val a[] = {sv_int(now), sv_int(max)};
	st = store_query(c,
	                 "SELECT card_id FROM supervise_pending WHERE due_at <= ? ORDER BY due_at, "
	                 "card_id LIMIT ?",
	                 a, 2, &r, e);
	if (st != YZ_OK)
		return st;
	int64_t ids[1000];
	int n = 0;
	while (store_next(r) && n < max)
		ids[n++] = store_col_int(r, 0);
	st = store_rows_close(r, e);
	for (int i = 0; st == YZ_OK && i < n; i++) {
		escalate_job j = {.card = ids[i], .now = now};
		st = store_write(s, escalate_fn, &j, e);
		if (st == YZ_OK && j.done)
			(*escalated)++;
	}
	return st;
}
