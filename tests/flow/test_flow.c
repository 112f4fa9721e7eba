/* Unit tests for the flow engine on every backend: definition checks with
 * their JSON paths, the three-department parallel approval from acceptance to
 * signature, 补正 suspension pushing deadlines, extensions, return, reject,
 * transfer, refused commands listing what is allowed, idempotent commands, a
 * join under concurrent completion by ten departments, timers with the test
 * clock and across a restart, subflows, migration between versions and the
 * recomputation of deadlines after a calendar change. Every test ends by
 * verifying the audit chain. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "audit/audit.h"
#include "core/clock.h"
#include "core/jx.h"
#include "flow/calendar.h"
#include "flow/flow.h"
#include "flow/flow_fixture.h"
#include "iam/iam.h"
#include "notify/notify.h"
#include "testutil.h"

/* Events seen by the listener, by kind. */
static int events[32];
static yz_status count_event(store_conn *tx, const flow_event *ev, void *ctx, yz_err *e)
{
	(void)tx;
	(void)ctx;
	(void)e;
	if (ev->kind > 0 && ev->kind < 32)
		__atomic_add_fetch(&events[ev->kind], 1, __ATOMIC_SEQ_CST);
	return YZ_OK;
}

/* 2026-11-23 (a Monday) at hh:mm Asia/Shanghai. */
static void open_fx(fx *f, const char *backend)
{
	memset(events, 0, sizeof events);
	fx_open(f, backend, NULL, NULL, 0);
	flow_on_event(count_event, NULL);
	flow_on_event(flow_notify_event, NULL);
	fx_load_def_file(f, "packs/demo-city/flows/approval.parallel3.json");
	fx_load_def_file(f, "packs/demo-city/flows/hotline.ticket.json");
	fx_load_def_file(f, "packs/demo-city/flows/publication.review.json");
}

static yz_actor user(fx *f, const char *login)
{
	store_conn *c;
	yz_err e = {0};
	assert_int_equal(store_reader(f->s, &c, &e), YZ_OK);
	int64_t id = 0, org = 0;
	char path[256];
	if (iam_user_find(c, login, &id, &org, path, sizeof path, &e) != YZ_OK)
		fail_msg("no user %s: %s", login, e.msg);
	yz_actor a = actor_system("x");
	a.user_id = id;
	a.org_id = org;
	a.kind = 1;
	yz_strlcpy(a.login, login, sizeof a.login);
	a.scope = (yz_scope){0};
	return a;
}

static int64_t start(fx *f, const char *login, const char *key, const char *in_text)
{
	yz_actor a = user(f, login);
	json_t *in = fx_jparse(in_text);
	int64_t id = 0;
	yz_err e = {0};
	if (flow_start(f->s, &a, key, in, NULL, &id, &e) != YZ_OK)
		fail_msg("start %s: %s (%s)", key, e.msg, e.nfield ? e.fields[0].field : "");
	json_decref(in);
	return id;
}

static json_t *get(fx *f, const char *login, int64_t id)
{
	yz_actor a = login ? user(f, login) : actor_system("test");
	store_conn *c;
	yz_err e = {0};
	assert_int_equal(store_reader(f->s, &c, &e), YZ_OK);
	json_t *o = NULL;
	if (flow_instance_get(c, &a, id, &o, &e) != YZ_OK)
		fail_msg("get %lld: %s", (long long)id, e.msg);
	return o;
}

/* The id of the open task at step (0 when none). */
static int64_t task_at(fx *f, int64_t id, const char *step)
{
	json_t *o = get(f, NULL, id);
	int64_t t = 0;
	size_t i;
	json_t *x;
	json_array_foreach (json_object_get(o, "tasks"), i, x) {
		if (!strcmp(jx_str(x, "step", ""), step) &&
		    !strcmp(jx_str(x, "status", ""), "active"))
			t = jx_int(x, "id", 0);
	}
	json_decref(o);
	return t;
}

static yz_status cmd(fx *f, const char *login, int64_t id, int64_t task, flow_cmd c,
                     const char *in_text, yz_err *e)
{
	yz_actor a = user(f, login);
	json_t *in = fx_jparse(in_text ? in_text : "{}");
	memset(e, 0, sizeof *e);
	yz_status st = flow_command(f->s, &a, id, task, c, in, NULL, e);
	json_decref(in);
	return st;
}

static void ok_cmd(fx *f, const char *login, int64_t id, int64_t task, flow_cmd c,
                   const char *in_text)
{
	yz_err e;
	if (cmd(f, login, id, task, c, in_text, &e) != YZ_OK)
		fail_msg("%s by %s on %lld/%lld: %s (%s)", flow_cmd_name(c), login, (long long)id,
		         (long long)task, e.msg, e.nfield ? e.fields[0].field : "");
}

static char *str_of(json_t *o, const char *key)
{
	static char sbuf[128];
	yz_strlcpy(sbuf, jx_str(o, key, ""), sizeof sbuf);
	return sbuf;
}

static const char *status_of(fx *f, int64_t id)
{
	json_t *o = get(f, NULL, id);
	char *s = str_of(o, "status");
	json_decref(o);
	return s;
}

static const char *const PROJECT =
    "{\"title\": \"花果园学校新建项目\", \"data\": {\"applicant\": \"贵阳某建设有限公司\", "
    "\"project\": \"花果园学校\", \"investment\": 12000, \"phone\": \"0851-85551234\"}}";

/* ---- definitions ---- */

static bool no_role_x(void *ctx, const char *n)
{
	(void)ctx;
	return strcmp(n, "nosuchrole") != 0;
}
static bool no_org_x(void *ctx, const char *n)
{
	(void)ctx;
	return strcmp(n, "000000") != 0;
}

/* Checks doc and expects a fault at path with rule. */
static void expect_fault(const char *doc_text, const char *path, const char *rule)
{
	json_t *doc = fx_jparse(doc_text);
	yz_err e = {0};
	yz_status st = flow_def_check(doc, no_role_x, no_org_x, NULL, &e);
	json_decref(doc);
	if (st != YZ_EINVAL)
		fail_msg("expected a fault %s at %s, got %d (%s)", rule, path, st, e.msg);
	for (int i = 0; i < e.nfield && i < YZ_ERR_MAX_FIELDS; i++)
		if (!strcmp(e.fields[i].field, path) && !strcmp(e.fields[i].rule, rule))
			return;
	fail_msg("no fault %s at %s; first: %s %s", rule, path, e.nfield ? e.fields[0].field : "-",
	         e.nfield ? e.fields[0].rule : "-");
}

#define DEF_HEAD "{\"key\": \"t.x\", \"name\": \"测试\", \"owner\": \"520100-fgw\", "

static void definitions_are_checked_with_paths(void **state)
{
	(void)state;
	/* the shipped definitions are sound */
	const char *files[] = {"packs/demo-city/flows/approval.parallel3.json",
	                       "packs/demo-city/flows/hotline.ticket.json",
	                       "packs/demo-city/flows/publication.review.json"};
	for (int i = 0; i < 3; i++) {
		json_error_t je;
		json_t *doc = json_load_file(tu_src(files[i]), 0, &je);
		assert_non_null(doc);
		yz_err e = {0};
		if (flow_def_check(doc, no_role_x, no_org_x, NULL, &e) != YZ_OK)
			fail_msg("%s: %s at %s", files[i], e.msg,
			         e.nfield ? e.fields[0].field : "");
		json_decref(doc);
	}
	/* a step nothing leads to */
	expect_fault(DEF_HEAD
	             "\"start\": \"a\", \"steps\": {"
	             "\"a\": {\"kind\": \"task\", \"name\": \"A\", \"assignee\": {\"starter\": "
	             "true}, \"next\": \"end\"},"
	             "\"lost\": {\"kind\": \"task\", \"name\": \"L\", \"assignee\": "
	             "{\"starter\": true}, \"next\": \"end\"},"
	             "\"end\": {\"kind\": \"end\", \"name\": \"E\"}}}",
	             "steps.lost", "unreachable");
	/* next names a step that does not exist */
	expect_fault(DEF_HEAD
	             "\"start\": \"a\", \"steps\": {"
	             "\"a\": {\"kind\": \"task\", \"name\": \"A\", \"assignee\": {\"starter\": "
	             "true}, \"next\": \"nowhere\"},"
	             "\"end\": {\"kind\": \"end\", \"name\": \"E\"}}}",
	             "steps.a.next", "exists");
	/* a join no parallel step splits into */
	expect_fault(DEF_HEAD
	             "\"start\": \"a\", \"steps\": {"
	             "\"a\": {\"kind\": \"task\", \"name\": \"A\", \"assignee\": {\"starter\": "
	             "true}, \"next\": \"j\"},"
	             "\"j\": {\"kind\": \"join\", \"name\": \"J\", \"need\": \"all\", "
	             "\"next\": \"end\"},"
	             "\"end\": {\"kind\": \"end\", \"name\": \"E\"}}}",
	             "steps.j", "split");
	/* a branch that never reaches its join */
	expect_fault(DEF_HEAD
	             "\"start\": \"p\", \"steps\": {"
	             "\"p\": {\"kind\": \"parallel\", \"name\": \"P\", \"branches\": [\"a\", "
	             "\"b\"], \"join\": \"j\"},"
	             "\"a\": {\"kind\": \"task\", \"name\": \"A\", \"assignee\": {\"starter\": "
	             "true}, \"next\": \"j\"},"
	             "\"b\": {\"kind\": \"task\", \"name\": \"B\", \"assignee\": {\"starter\": "
	             "true}, \"next\": \"end\"},"
	             "\"j\": {\"kind\": \"join\", \"name\": \"J\", \"need\": \"all\", "
	             "\"next\": \"end\"},"
	             "\"end\": {\"kind\": \"end\", \"name\": \"E\"}}}",
	             "steps.p.branches[1]", "reaches-join");
	/* a loop with no way to an end */
	expect_fault(DEF_HEAD
	             "\"start\": \"a\", \"steps\": {"
	             "\"a\": {\"kind\": \"task\", \"name\": \"A\", \"assignee\": {\"starter\": "
	             "true}, \"next\": \"b\"},"
	             "\"b\": {\"kind\": \"task\", \"name\": \"B\", \"assignee\": {\"starter\": "
	             "true}, \"outcomes\": {\"again\": \"a\", \"once\": \"c\"}},"
	             "\"c\": {\"kind\": \"task\", \"name\": \"C\", \"assignee\": {\"starter\": "
	             "true}, \"next\": \"c2\"},"
	             "\"c2\": {\"kind\": \"task\", \"name\": \"C2\", \"assignee\": "
	             "{\"starter\": true}, \"next\": \"c\"},"
	             "\"end\": {\"kind\": \"end\", \"name\": \"E\"}}}",
	             "steps.c", "exit");
	/* unknown role and organisation */
	expect_fault(DEF_HEAD
	             "\"start\": \"a\", \"steps\": {"
	             "\"a\": {\"kind\": \"task\", \"name\": \"A\", \"assignee\": {\"role\": "
	             "\"nosuchrole\", \"org\": \"000000\"}, \"next\": \"end\"},"
	             "\"end\": {\"kind\": \"end\", \"name\": \"E\"}}}",
	             "steps.a.assignee.role", "known");
	expect_fault(DEF_HEAD
	             "\"start\": \"a\", \"steps\": {"
	             "\"a\": {\"kind\": \"task\", \"name\": \"A\", \"assignee\": {\"role\": "
	             "\"clerk\", \"org\": \"000000\"}, \"next\": \"end\"},"
	             "\"end\": {\"kind\": \"end\", \"name\": \"E\"}}}",
	             "steps.a.assignee.org", "known");
	/* an escalation to a role that does not exist */
	expect_fault(DEF_HEAD "\"escalate\": {\"role\": \"nosuchrole\"}, \"start\": \"a\", "
	                      "\"steps\": {\"a\": {\"kind\": \"task\", \"name\": \"A\", "
	                      "\"assignee\": {\"starter\": true}, \"next\": \"end\"},"
	                      "\"end\": {\"kind\": \"end\", \"name\": \"E\"}}}",
	             "escalate.role", "known");
	/* unknown members are refused, not ignored */
	expect_fault(DEF_HEAD
	             "\"start\": \"a\", \"steps\": {"
	             "\"a\": {\"kind\": \"task\", \"name\": \"A\", \"asignee\": {\"starter\": "
	             "true}, \"next\": \"end\"},"
	             "\"end\": {\"kind\": \"end\", \"name\": \"E\"}}}",
	             "steps.a.asignee", "unknown-field");
}

static void definitions_are_versioned(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		fx f;
		open_fx(&f, be[b]);
		/* the same content again adds no version */
		fx_load_def_file(&f, "packs/demo-city/flows/hotline.ticket.json");
		assert_int_equal(
		    fx_count(&f, "SELECT COUNT(*) FROM flow_def WHERE key = 'hotline.ticket'"), 1);
		const flow_def *d = flow_def_get("approval.parallel3", 0);
		assert_non_null(d);
		assert_int_equal(flow_def_version(d), 1);
		/* a restart restores the registry from the database */
		flow_defs_clear();
		assert_null(flow_def_get("approval.parallel3", 0));
		yz_err e = {0};
		assert_int_equal(flow_defs_restore(f.s, &e), YZ_OK);
		assert_non_null(flow_def_get("approval.parallel3", 1));
		fx_close(&f);
	}
}

/* ---- the parallel approval ---- */

static void complete_reviews(fx *f, int64_t id, const char *fgw, const char *zrzy, const char *zjj)
{
	char in[128];
	snprintf(in, sizeof in, "{\"data\": {\"fgw_opinion\": \"%s\"}}", fgw);
	ok_cmd(f, "chenjing.fgw", id, task_at(f, id, "fgw"), FLOW_COMPLETE, in);
	snprintf(in, sizeof in, "{\"data\": {\"zrzy_opinion\": \"%s\"}}", zrzy);
	ok_cmd(f, "sunjian.zrzyj", id, task_at(f, id, "zrzy"), FLOW_COMPLETE, in);
	snprintf(in, sizeof in, "{\"data\": {\"zjj_opinion\": \"%s\"}}", zjj);
	ok_cmd(f, "mayan.zjj", id, task_at(f, id, "zjj"), FLOW_COMPLETE, in);
}

static void parallel_approval_runs_to_signature(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		fx f;
		open_fx(&f, be[b]);
		int64_t id = start(&f, "wangfang", "approval.parallel3", PROJECT);
		assert_true(id > 0);
		assert_int_equal(events[FLOW_EV_STARTED], 1);
		/* the window clerk sees it in the inbox; a clerk elsewhere does not */
		yz_actor clerk = user(&f, "linfang.zwfw");
		store_conn *c;
		yz_err e = {0};
		assert_int_equal(store_reader(f.s, &c, &e), YZ_OK);
		json_t *box;
		assert_int_equal(flow_inbox(c, &clerk, "todo", NULL, 0, 20, &box, &e), YZ_OK);
		assert_int_equal(json_array_size(json_object_get(box, "items")), 1);
		json_decref(box);
		yz_actor other = user(&f, "huangli.jyj");
		assert_int_equal(flow_inbox(c, &other, "todo", NULL, 0, 20, &box, &e), YZ_OK);
		assert_int_equal(json_array_size(json_object_get(box, "items")), 0);
		json_decref(box);
		/* nor can that clerk act on it */
		int64_t accept = task_at(&f, id, "accept");
		assert_int_equal(cmd(&f, "huangli.jyj", id, accept, FLOW_COMPLETE,
		                     "{\"outcome\": \"accept\"}", &e),
		                 YZ_EFORBIDDEN);
		/* an unknown outcome is a field error naming the allowed ones */
		assert_int_equal(cmd(&f, "linfang.zwfw", id, accept, FLOW_COMPLETE,
		                     "{\"outcome\": \"maybe\"}", &e),
		                 YZ_EINVAL);
		assert_string_equal(e.fields[0].field, "outcome");
		assert_non_null(strstr(e.fields[0].expected, "correction"));
		ok_cmd(&f, "linfang.zwfw", id, accept, FLOW_CLAIM, NULL);
		ok_cmd(&f, "linfang.zwfw", id, accept, FLOW_COMPLETE, "{\"outcome\": \"accept\"}");
		/* three departments at once */
		assert_true(task_at(&f, id, "fgw") > 0);
		assert_true(task_at(&f, id, "zrzy") > 0);
		assert_true(task_at(&f, id, "zjj") > 0);
		/* a required opinion is checked against the step's form */
		assert_int_equal(cmd(&f, "chenjing.fgw", id, task_at(&f, id, "fgw"), FLOW_COMPLETE,
		                     "{\"data\": {\"fgw_opinion\": \"也许\"}}", &e),
		                 YZ_EINVAL);
		assert_string_equal(e.fields[0].field, "data.fgw_opinion");
		complete_reviews(&f, id, "同意", "同意", "同意");
		assert_int_equal(task_at(&f, id, "fgw"), 0);
		int64_t sign = task_at(&f, id, "sign");
		assert_true(sign > 0);
		assert_int_equal(task_at(&f, id, "sign_refusal"), 0);
		/* refusing needs a reason */
		assert_int_equal(cmd(&f, "liuhongbo.city", id, sign, FLOW_COMPLETE,
		                     "{\"outcome\": \"refuse\"}", &e),
		                 YZ_EINVAL);
		assert_string_equal(e.fields[0].field, "comment");
		ok_cmd(&f, "liuhongbo.city", id, sign, FLOW_COMPLETE, "{\"outcome\": \"approve\"}");
		json_t *o = get(&f, "wangfang", id);
		assert_string_equal(jx_str(o, "status", ""), "closed");
		assert_string_equal(jx_str(o, "outcome", ""), "approved");
		/* the timeline tells every step with who did it */
		json_t *tl = json_object_get(o, "timeline");
		int completes = 0;
		size_t i;
		json_t *x;
		json_array_foreach (tl, i, x)
			completes += !strcmp(jx_str(x, "command", ""), "complete");
		assert_int_equal(completes, 5);
		json_decref(o);
		/* once closed, a command is refused with what is allowed instead */
		assert_int_equal(cmd(&f, "liuhongbo.city", id, 0, FLOW_EXTEND,
		                     "{\"workdays\": 3, \"reason\": \"x\"}", &e),
		                 YZ_ECONFLICT);
		assert_non_null(strstr(e.msg, "closed"));
		assert_int_equal(events[FLOW_EV_CLOSED], 1);
		assert_int_equal(events[FLOW_EV_TASK_DONE], 5);
		/* who was told: the window clerk of the new task (in-app), the applicant of
		 * the end (in-app and an SMS to the account's phone) */
		assert_int_equal(
		    fx_count(&f, "SELECT COUNT(*) FROM notify_message m JOIN iam_user u ON "
		                 "u.id = m.user_id WHERE u.login = 'linfang.zwfw' AND "
		                 "m.channel = 'inapp' AND m.subject LIKE '新待办%'"),
		    1);
		assert_int_equal(
		    fx_count(&f, "SELECT COUNT(*) FROM notify_message m JOIN iam_user u ON "
		                 "u.id = m.user_id WHERE u.login = 'wangfang' AND m.subject "
		                 "LIKE '办结%'"),
		    2);
		assert_int_equal(
		    fx_count(&f, "SELECT COUNT(*) FROM notify_message WHERE channel = 'sms' "
		                 "AND status = 'queued' AND body LIKE '%准予许可%'"),
		    1);
		/* everything is in the audit chain */
		assert_true(
		    fx_count(&f, "SELECT COUNT(*) FROM audit_log WHERE action LIKE 'flow.%'") >= 6);
		fx_close(&f);
	}
}

static void a_dissent_goes_to_refusal(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		fx f;
		open_fx(&f, be[b]);
		int64_t id = start(&f, "wangfang", "approval.parallel3", PROJECT);
		ok_cmd(&f, "linfang.zwfw", id, task_at(&f, id, "accept"), FLOW_COMPLETE,
		       "{\"outcome\": \"accept\"}");
		complete_reviews(&f, id, "同意", "不同意", "同意");
		assert_int_equal(task_at(&f, id, "sign"), 0);
		int64_t t = task_at(&f, id, "sign_refusal");
		assert_true(t > 0);
		ok_cmd(&f, "liuhongbo.city", id, t, FLOW_COMPLETE,
		       "{\"outcome\": \"refuse\", \"comment\": \"规划条件不符\"}");
		json_t *o = get(&f, NULL, id);
		assert_string_equal(jx_str(o, "outcome", ""), "refused");
		json_decref(o);
		fx_close(&f);
	}
}

/* ---- time ---- */

static int64_t due_of(fx *f, int64_t id)
{
	store_conn *c;
	yz_err e = {0};
	assert_int_equal(store_reader(f->s, &c, &e), YZ_OK);
	int64_t due = 0;
	store_val a[] = {sv_int(id)};
	assert_int_equal(
	    store_query_int(c, "SELECT due_at FROM flow_instance WHERE id = ?", a, 1, &due, &e),
	    YZ_OK);
	return due;
}

static int64_t task_due(fx *f, int64_t task)
{
	store_conn *c;
	yz_err e = {0};
	assert_int_equal(store_reader(f->s, &c, &e), YZ_OK);
	int64_t due = 0;
	store_val a[] = {sv_int(task)};
	assert_int_equal(
	    store_query_int(c, "SELECT due_at FROM flow_token WHERE id = ?", a, 1, &due, &e),
	    YZ_OK);
	return due;
}

static int64_t day_end(int y, int m, int d)
{
	return fx_city_time(y, m, d, 23, 59) + 59999;
}

static void correction_stops_the_clock(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		fx f;
		open_fx(&f, be[b]);
		/* Monday 2026-11-23 10:00: 15 working days → Monday 2026-12-14 */
		int64_t id = start(&f, "wangfang", "approval.parallel3", PROJECT);
		assert_int_equal(due_of(&f, id), day_end(2026, 12, 14));
		ok_cmd(&f, "linfang.zwfw", id, task_at(&f, id, "accept"), FLOW_COMPLETE,
		       "{\"outcome\": \"correction\"}");
		assert_string_equal(status_of(&f, id), "suspended");
		assert_int_equal(events[FLOW_EV_SUSPENDED], 1);
		/* the applicant takes until Thursday: three working days without the clock */
		clock_set_fake(fx_city_time(2026, 11, 26, 15, 0));
		int64_t corr = task_at(&f, id, "correct");
		assert_true(corr > 0);
		/* nobody else can answer for the applicant */
		yz_err e;
		assert_int_equal(cmd(&f, "liqiang", id, corr, FLOW_COMPLETE, "{}", &e),
		                 YZ_EFORBIDDEN);
		ok_cmd(&f, "wangfang", id, corr, FLOW_COMPLETE, "{}");
		assert_string_equal(status_of(&f, id), "open");
		assert_int_equal(due_of(&f, id), day_end(2026, 12, 17));
		/* the acceptance task starts anew; a second correction is allowed */
		assert_true(task_at(&f, id, "accept") > 0);
		json_t *o = get(&f, NULL, id);
		assert_true(jx_int(o, "suspended_ms", 0) > 0);
		json_decref(o);
		fx_close(&f);
	}
}

/* Golden dates, counted by hand from the 2026 notice (国办发明电〔2025〕7号):
 * Spring Festival off 02-15..23 with make-up working days Saturday 02-14 and
 * 02-28; Mid-Autumn off 09-25..27, National Day off 10-01..07, make-up working
 * days Sunday 09-20 and Saturday 10-10. */
static void golden_deadlines_across_spring_festival_and_national_day(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		fx f;
		open_fx(&f, be[b]);
		/* Wednesday 02-11: 12, 13, 14 (Sat, worked), 24, 25, 26, 27, 28 (Sat, worked),
		 * 03-02..06, 03-09, 03-10 → the 15th working day is Tuesday 03-10 */
		clock_set_fake(fx_city_time(2026, 2, 11, 10, 0));
		int64_t id = start(&f, "wangfang", "approval.parallel3", PROJECT);
		assert_int_equal(due_of(&f, id), day_end(2026, 3, 10));
		/* the acceptance (1 working day) is due Thursday 02-12 */
		assert_int_equal(task_due(&f, task_at(&f, id, "accept")), day_end(2026, 2, 12));
		/* 补正 from Thursday 02-12 to Wednesday 02-25: working days 13, 14, 24, 25
		 * do not count → 03-10 + 4 = Monday 03-16 */
		clock_set_fake(fx_city_time(2026, 2, 12, 10, 0));
		ok_cmd(&f, "linfang.zwfw", id, task_at(&f, id, "accept"), FLOW_COMPLETE,
		       "{\"outcome\": \"correction\"}");
		clock_set_fake(fx_city_time(2026, 2, 25, 9, 0));
		ok_cmd(&f, "wangfang", id, task_at(&f, id, "correct"), FLOW_COMPLETE, "{}");
		assert_int_equal(due_of(&f, id), day_end(2026, 3, 16));
		/* the new acceptance task: due the next working day, Thursday 02-26 */
		assert_int_equal(task_due(&f, task_at(&f, id, "accept")), day_end(2026, 2, 26));
		/* an extension of 5 working days: 17, 18, 19, 20, 23 → Monday 03-23 */
		clock_set_fake(fx_city_time(2026, 3, 2, 10, 0));
		ok_cmd(&f, "liuhongbo.city", id, 0, FLOW_EXTEND,
		       "{\"workdays\": 5, \"reason\": \"需现场踏勘\"}");
		assert_int_equal(due_of(&f, id), day_end(2026, 3, 23));

		/* Wednesday 09-23 15:00: 24, 28, 29, 30, 10-08, 09, 10 (Sat, worked), 12..16,
		 * 19, 20, 21 → the 15th working day is Wednesday 10-21 */
		clock_set_fake(fx_city_time(2026, 9, 23, 15, 0));
		int64_t id2 = start(&f, "wangfang", "approval.parallel3", PROJECT);
		assert_int_equal(due_of(&f, id2), day_end(2026, 10, 21));
		assert_int_equal(task_due(&f, task_at(&f, id2, "accept")), day_end(2026, 9, 24));
		/* accepted Wednesday 09-30: the reviews (5 working days) are due 10-08, 09, 10,
		 * 12, 13 → Tuesday 10-13 */
		clock_set_fake(fx_city_time(2026, 9, 30, 10, 0));
		ok_cmd(&f, "linfang.zwfw", id2, task_at(&f, id2, "accept"), FLOW_COMPLETE,
		       "{\"outcome\": \"accept\"}");
		assert_int_equal(task_due(&f, task_at(&f, id2, "fgw")), day_end(2026, 10, 13));
		/* a hearing (听证) from Friday 10-09 to Monday 10-12: 10 (Sat, worked) and 12 →
		 * everything open moves by two working days */
		clock_set_fake(fx_city_time(2026, 10, 9, 10, 0));
		ok_cmd(&f, "chenjing.fgw", id2, 0, FLOW_SUSPEND,
		       "{\"kind\": \"hearing\", \"reason\": \"举行听证\"}");
		clock_set_fake(fx_city_time(2026, 10, 12, 16, 0));
		ok_cmd(&f, "chenjing.fgw", id2, 0, FLOW_RESUME, "{}");
		assert_int_equal(task_due(&f, task_at(&f, id2, "fgw")), day_end(2026, 10, 15));
		assert_int_equal(due_of(&f, id2), day_end(2026, 10, 23));
		fx_close(&f);
	}
}

static void suspension_pushes_open_deadlines_and_extension_needs_the_role(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		fx f;
		open_fx(&f, be[b]);
		int64_t id = start(&f, "wangfang", "approval.parallel3", PROJECT);
		ok_cmd(&f, "linfang.zwfw", id, task_at(&f, id, "accept"), FLOW_COMPLETE,
		       "{\"outcome\": \"accept\"}");
		int64_t fgw = task_at(&f, id, "fgw");
		int64_t before = task_due(&f, fgw);
		/* an expert review (专家评审) from Monday to Wednesday: two working days */
		ok_cmd(&f, "chenjing.fgw", id, fgw, FLOW_SUSPEND,
		       "{\"kind\": \"expert\", \"reason\": \"组织专家评审\"}");
		yz_err e;
		assert_int_equal(cmd(&f, "chenjing.fgw", id, fgw, FLOW_COMPLETE,
		                     "{\"data\": {\"fgw_opinion\": \"同意\"}}", &e),
		                 YZ_ECONFLICT);
		assert_non_null(strstr(e.msg, "resume"));
		clock_set_fake(fx_city_time(2026, 11, 25, 11, 0));
		ok_cmd(&f, "chenjing.fgw", id, 0, FLOW_RESUME, "{\"reason\": \"评审完毕\"}");
		int64_t after = task_due(&f, fgw);
		assert_true(after > before);
		/* the other branches' deadlines moved the same way */
		assert_int_equal(task_due(&f, task_at(&f, id, "zjj")), after);
		assert_int_equal(due_of(&f, id), day_end(2026, 12, 16));
		/* a clerk may not extend; the leader may, within the definition's maximum */
		assert_int_equal(cmd(&f, "chenjing.fgw", id, 0, FLOW_EXTEND,
		                     "{\"workdays\": 5, \"reason\": \"情况复杂\"}", &e),
		                 YZ_EFORBIDDEN);
		assert_int_equal(cmd(&f, "liuhongbo.city", id, 0, FLOW_EXTEND,
		                     "{\"workdays\": 16, \"reason\": \"情况复杂\"}", &e),
		                 YZ_EINVAL);
		ok_cmd(&f, "liuhongbo.city", id, 0, FLOW_EXTEND,
		       "{\"workdays\": 5, \"reason\": \"情况复杂\"}");
		assert_int_equal(due_of(&f, id), day_end(2026, 12, 23));
		assert_int_equal(events[FLOW_EV_EXTENDED], 1);
		/* the total extension is bounded too */
		assert_int_equal(cmd(&f, "liuhongbo.city", id, 0, FLOW_EXTEND,
		                     "{\"workdays\": 11, \"reason\": \"再延\"}", &e),
		                 YZ_EINVAL);
		fx_close(&f);
	}
}

static void return_reject_transfer_and_withdraw(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		fx f;
		open_fx(&f, be[b]);
		int64_t id = start(&f, "wangfang", "approval.parallel3", PROJECT);
		int64_t acc = task_at(&f, id, "accept");
		ok_cmd(&f, "linfang.zwfw", id, acc, FLOW_CLAIM, NULL);
		ok_cmd(&f, "linfang.zwfw", id, acc, FLOW_COMPLETE, "{\"outcome\": \"accept\"}");
		/* fgw sends its branch to another department's clerk */
		int64_t fgw = task_at(&f, id, "fgw");
		yz_err e;
		assert_int_equal(
		    cmd(&f, "chenjing.fgw", id, fgw, FLOW_TRANSFER, "{\"reason\": \"x\"}", &e),
		    YZ_EINVAL);
		ok_cmd(&f, "chenjing.fgw", id, fgw, FLOW_TRANSFER,
		       "{\"user\": \"gaobin.dsjj\", \"reason\": \"涉及数据共享，请大数据局审查\"}");
		assert_int_equal(events[FLOW_EV_TRANSFERRED], 1);
		int64_t moved = task_at(&f, id, "fgw"); /* the same task, handed on */
		assert_true(moved > 0);
		assert_int_equal(cmd(&f, "chenjing.fgw", id, moved, FLOW_COMPLETE,
		                     "{\"data\": {\"fgw_opinion\": \"同意\"}}", &e),
		                 YZ_EFORBIDDEN);
		/* the new handler returns it to the window clerk, who had accepted */
		ok_cmd(&f, "gaobin.dsjj", id, moved, FLOW_RETURN, "{\"reason\": \"材料需核实\"}");
		assert_int_equal(events[FLOW_EV_RETURNED], 1);
		int64_t back = task_at(&f, id, "accept");
		assert_true(back > 0);
		json_t *o = get(&f, "linfang.zwfw", id);
		json_t *acts = json_object_get(o, "actions");
		char want[64];
		snprintf(want, sizeof want, "complete %lld", (long long)back);
		bool found = false;
		size_t i;
		json_t *x;
		json_array_foreach (acts, i, x)
			found |= !strcmp(json_string_value(x), want);
		assert_true(found);
		json_decref(o);
		/* rejecting ends the whole flow: the other branches close with it */
		ok_cmd(&f, "linfang.zwfw", id, back, FLOW_REJECT,
		       "{\"reason\": \"不符合受理条件\"}");
		o = get(&f, NULL, id);
		assert_string_equal(jx_str(o, "status", ""), "closed");
		assert_string_equal(jx_str(o, "outcome", ""), "rejected");
		json_decref(o);
		assert_int_equal(
		    fx_count(&f, "SELECT COUNT(*) FROM flow_token WHERE status = 'active'"), 0);
		/* withdrawal by the applicant */
		int64_t id2 = start(&f, "wangfang", "approval.parallel3", PROJECT);
		assert_int_equal(
		    cmd(&f, "liqiang", id2, 0, FLOW_WITHDRAW, "{\"reason\": \"x\"}", &e),
		    YZ_EFORBIDDEN);
		ok_cmd(&f, "wangfang", id2, 0, FLOW_WITHDRAW, "{\"reason\": \"项目取消\"}");
		assert_string_equal(status_of(&f, id2), "closed");
		fx_close(&f);
	}
}

static void idempotent_commands_answer_once(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		fx f;
		open_fx(&f, be[b]);
		yz_actor a = user(&f, "wangfang");
		json_t *in = fx_jparse(PROJECT);
		int64_t id1 = 0, id2 = 0;
		yz_err e = {0};
		assert_int_equal(flow_start(f.s, &a, "approval.parallel3", in, "k-1", &id1, &e),
		                 YZ_OK);
		assert_int_equal(flow_start(f.s, &a, "approval.parallel3", in, "k-1", &id2, &e),
		                 YZ_OK);
		assert_int_equal(id1, id2);
		assert_int_equal(fx_count(&f, "SELECT COUNT(*) FROM flow_instance"), 1);
		json_decref(in);
		yz_actor clerk = user(&f, "linfang.zwfw");
		int64_t t = task_at(&f, id1, "accept");
		for (int k = 0; k < 2; k++) {
			in = fx_jparse("{\"outcome\": \"accept\"}");
			assert_int_equal(
			    flow_command(f.s, &clerk, id1, t, FLOW_COMPLETE, in, "k-2", &e), YZ_OK);
			json_decref(in);
		}
		assert_int_equal(fx_count(&f, "SELECT COUNT(*) FROM flow_token WHERE step = 'fgw'"),
		                 1);
		/* without a key, the repeat is refused: the task is done */
		in = fx_jparse("{\"outcome\": \"accept\"}");
		assert_int_equal(flow_command(f.s, &clerk, id1, t, FLOW_COMPLETE, in, NULL, &e),
		                 YZ_ECONFLICT);
		json_decref(in);
		fx_close(&f);
	}
}

/* ---- a join under concurrent completion ---- */

static const char *const TEN[10][2] = {
    {"520100-fgw", "chenjing.fgw"}, {"520100-jyj", "huangli.jyj"},
    {"520100-gaj", "zhoujun.gaj"},  {"520100-mzj", "xuqian.mzj"},
    {"520100-rsj", "sunlei.rsj"},   {"520100-zjj", "mayan.zjj"},
    {"520100-wjj", "zhuhong.wjj"},  {"520100-zwfw", "linfang.zwfw"},
    {"520100-dsjj", "gaobin.dsjj"}, {"520100-zhzfj", "liangyu.zhzfj"},
};

/* One department's thread: for each round, wait for the start, complete its
 * branch, and say so. */
typedef struct racer {
	store *s;
	yz_actor who;
	int n, rounds;
	int64_t *ids, *tasks; /* per round: the instance, and this racer's task */
	int failures;
	pthread_barrier_t *go, *done;
} racer;

static void *race(void *arg)
{
	racer *r = arg;
	char text[64];
	snprintf(text, sizeof text, "{\"data\": {\"o%d\": \"同意\"}}", r->n);
	json_t *in = fx_jparse(text);
	for (int k = 0; k < r->rounds; k++) {
		pthread_barrier_wait(r->go);
		yz_err e = {0};
		if (flow_command(r->s, &r->who, r->ids[k], r->tasks[k], FLOW_COMPLETE, in, NULL,
		                 &e) != YZ_OK)
			r->failures++;
		pthread_barrier_wait(r->done);
	}
	json_decref(in);
	return NULL;
}

/* The open tasks of an instance, by branch number (steps d0..d9). */
static void branch_tasks(store *s, int64_t id, int64_t out[10])
{
	store_conn *c;
	yz_err e = {0};
	assert_int_equal(store_reader(s, &c, &e), YZ_OK);
	store_rows *rows;
	store_val a[] = {sv_int(id)};
	assert_int_equal(store_query(c,
	                             "SELECT id, step FROM flow_token WHERE instance_id = ? AND "
	                             "status = 'active'",
	                             a, 1, &rows, &e),
	                 YZ_OK);
	memset(out, 0, 10 * sizeof out[0]);
	while (store_next(rows)) {
		const char *step = store_col_text(rows, 1);
		if (step[0] == 'd' && step[1] >= '0' && step[1] <= '9' && !step[2])
			out[step[1] - '0'] = store_col_int(rows, 0);
	}
	store_rows_discard(rows);
}

static void ten_departments_join_exactly_once(void **state)
{
	(void)state;
	char doc[8192];
	int n =
	    snprintf(doc, sizeof doc,
	             "{\"key\": \"t.ten\", \"name\": \"十部门联审\", \"owner\": \"520100-dsjj\", "
	             "\"start\": \"split\", \"steps\": {\"split\": {\"kind\": \"parallel\", "
	             "\"name\": \"分送\", \"join\": \"j\", \"branches\": [");
	for (int i = 0; i < 10; i++)
		n += snprintf(doc + n, sizeof doc - (size_t)n, "%s\"d%d\"", i ? ", " : "", i);
	n += snprintf(doc + n, sizeof doc - (size_t)n, "]}");
	for (int i = 0; i < 10; i++)
		n += snprintf(doc + n, sizeof doc - (size_t)n,
		              ", \"d%d\": {\"kind\": \"task\", \"name\": \"部门%d\", \"assignee\": "
		              "{\"role\": \"clerk\", \"org\": \"%s\"}, \"form\": [{\"name\": "
		              "\"o%d\", \"label\": \"意见\", \"type\": \"string\", \"required\": "
		              "true}], \"next\": \"j\"}",
		              i, i, TEN[i][0], i);
	snprintf(
	    doc + n, sizeof doc - (size_t)n,
	    ", \"j\": {\"kind\": \"join\", \"name\": \"汇总\", \"need\": \"all\", \"next\": "
	    "\"after\"}, \"after\": {\"kind\": \"task\", \"name\": \"汇总办理\", \"assignee\": "
	    "{\"role\": \"clerk\", \"org\": \"520100-dsjj\"}, \"next\": \"end\"}, \"end\": "
	    "{\"kind\": \"end\", \"name\": \"办结\"}}}");
	/* 10,000 rounds (YIZHAN_JOIN_ROUNDS for a shorter run under the sanitizers) */
	const char *env = getenv("YIZHAN_JOIN_ROUNDS");
	int rounds = env ? (int)strtol(env, NULL, 10) : 10000;
	if (rounds < 1)
		rounds = 1;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		fx f;
		open_fx(&f, be[b]);
		fx_load_def_text(&f, doc);
		/* two nodes over PostgreSQL wait on each other's row locks: a tenth of the
		 * rounds keeps the suite's time reasonable */
		int nr = strcmp(be[b], "postgresql") ? rounds : (rounds + 9) / 10;
		/* on PostgreSQL, half the departments work through a second node: the
		 * instance's row lock, not the one writer thread, keeps the join exact */
		store *node2 = f.s;
		if (!strcmp(be[b], "postgresql")) {
			yz_err e = {0};
			store_opts o = {0};
			assert_int_equal(store_open(f.target, &o, &node2, &e), YZ_OK);
		}
		int64_t *ids = calloc((size_t)nr, sizeof *ids);
		int64_t *tasks = calloc((size_t)nr * 10, sizeof *tasks);
		assert_non_null(ids);
		assert_non_null(tasks);
		racer r[10];
		int64_t *mine[10];
		pthread_t th[10];
		pthread_barrier_t go, done;
		pthread_barrier_init(&go, NULL, 11);
		pthread_barrier_init(&done, NULL, 11);
		for (int i = 0; i < 10; i++) {
			mine[i] = calloc((size_t)nr, sizeof *mine[i]);
			assert_non_null(mine[i]);
			r[i] = (racer){.s = i % 2 ? node2 : f.s,
			               .who = user(&f, TEN[i][1]),
			               .n = i,
			               .rounds = nr,
			               .ids = ids,
			               .tasks = mine[i],
			               .go = &go,
			               .done = &done};
			pthread_create(&th[i], NULL, race, &r[i]);
		}
		yz_actor starter = user(&f, "gaobin.dsjj");
		json_t *in = fx_jparse("{\"title\": \"联审\"}");
		for (int k = 0; k < nr; k++) {
			yz_err e = {0};
			assert_int_equal(flow_start(f.s, &starter, "t.ten", in, NULL, &ids[k], &e),
			                 YZ_OK);
			int64_t t[10];
			branch_tasks(f.s, ids[k], t);
			for (int i = 0; i < 10; i++)
				mine[i][k] = t[i];
			pthread_barrier_wait(&go);
			pthread_barrier_wait(&done);
		}
		json_decref(in);
		for (int i = 0; i < 10; i++) {
			pthread_join(th[i], NULL);
			assert_int_equal(r[i].failures, 0);
			free(mine[i]);
		}
		pthread_barrier_destroy(&go);
		pthread_barrier_destroy(&done);
		/* every join fired exactly once: one task after it per instance */
		char sql[256];
		snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM flow_token WHERE step = 'after'");
		assert_int_equal(fx_count(&f, sql), nr);
		assert_int_equal(
		    fx_count(&f, "SELECT COUNT(*) FROM (SELECT instance_id FROM flow_token "
		                 "WHERE step = 'after' GROUP BY instance_id HAVING COUNT(*) "
		                 "<> 1) x"),
		    0);
		assert_int_equal(fx_count(&f,
		                          "SELECT COUNT(*) FROM flow_token WHERE status = 'active' "
		                          "AND step <> 'after'"),
		                 0);
		/* and no department's opinion was lost */
		store_conn *c;
		yz_err e = {0};
		assert_int_equal(store_reader(f.s, &c, &e), YZ_OK);
		store_rows *rows;
		assert_int_equal(
		    store_query(c, "SELECT data FROM flow_instance WHERE def_key = 't.ten'", NULL,
		                0, &rows, &e),
		    YZ_OK);
		int whole = 0;
		while (store_next(rows)) {
			json_t *d = json_loads(store_col_text(rows, 0), 0, NULL);
			whole += json_object_size(d) == 10;
			json_decref(d);
		}
		store_rows_discard(rows);
		assert_int_equal(whole, nr);
		free(tasks);
		free(ids);
		if (node2 != f.s)
			store_close(node2);
		fx_close(&f);
	}
}

/* ---- timers ---- */

static int sweep(fx *f)
{
	int fired = 0;
	yz_err e = {0};
	if (flow_sweep(f->s, clock_now_ms(), 1000, &fired, &e) != YZ_OK)
		fail_msg("sweep: %s", e.msg);
	return fired;
}

static void deadlines_remind_then_fire_once_and_survive_restart(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		fx f;
		open_fx(&f, be[b]);
		int64_t id = start(&f, "wangfang", "approval.parallel3", PROJECT);
		(void)id;
		/* nothing is due yet */
		assert_int_equal(sweep(&f), 0);
		/* the acceptance task is due at the end of Tuesday: the reminder is one working
		 * day before, at the end of Monday */
		clock_set_fake(fx_city_time(2026, 11, 24, 8, 0));
		assert_true(sweep(&f) >= 1);
		assert_int_equal(events[FLOW_EV_REMINDER], 1);
		assert_int_equal(events[FLOW_EV_OVERDUE], 0);
		assert_int_equal(sweep(&f), 0);
		/* restart: close the store, open it again, the timer rows are still there */
		char target[600];
		yz_strlcpy(target, f.target, sizeof target);
		store_close(f.s);
		yz_err e = {0};
		store_opts o = {0};
		assert_int_equal(store_open(target, &o, &f.s, &e), YZ_OK);
		flow_defs_clear();
		assert_int_equal(flow_defs_restore(f.s, &e), YZ_OK);
		clock_set_fake(fx_city_time(2026, 11, 25, 9, 0));
		assert_true(sweep(&f) >= 1);
		assert_int_equal(events[FLOW_EV_OVERDUE], 1);
		/* escalated: the city's leader gets a copy */
		assert_int_equal(events[FLOW_EV_ESCALATED], 1);
		assert_int_equal(
		    fx_count(&f, "SELECT COUNT(*) FROM flow_cc c JOIN iam_user u ON u.id = "
		                 "c.user_id WHERE u.login = 'liuhongbo.city'"),
		    1);
		assert_int_equal(sweep(&f), 0);
		json_t *x = get(&f, NULL, id);
		assert_string_equal(jx_str(x, "deadline", ""), "ok");
		json_t *t0 = json_array_get(json_object_get(x, "tasks"), 0);
		assert_true(json_is_true(json_object_get(t0, "overdue")));
		json_decref(x);
		/* completing a task removes its pending timers */
		ok_cmd(&f, "linfang.zwfw", id, task_at(&f, id, "accept"), FLOW_COMPLETE,
		       "{\"outcome\": \"accept\"}");
		clock_set_fake(fx_city_time(2027, 3, 1, 9, 0));
		sweep(&f);
		assert_int_equal(events[FLOW_EV_OVERDUE], 4); /* the three reviews */
		assert_int_equal(events[FLOW_EV_INST_OVERDUE], 1);
		assert_int_equal(events[FLOW_EV_STATUTORY_OVERDUE], 1);
		fx_close(&f);
	}
}

static void timer_steps_and_subflows(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		fx f;
		open_fx(&f, be[b]);
		fx_load_def_text(
		    &f, "{\"key\": \"t.child\", \"name\": \"子流程\", \"owner\": "
		        "\"520100-dsjj\", \"start\": \"c\", \"steps\": {\"c\": {\"kind\": "
		        "\"task\", \"name\": \"现场核查\", \"assignee\": {\"department\": "
		        "\"520100-dsjj\"}, \"next\": \"end\"}, \"end\": {\"kind\": \"end\", "
		        "\"name\": \"完成\", \"outcome\": \"checked\"}}}");
		fx_load_def_text(
		    &f, "{\"key\": \"t.parent\", \"name\": \"父流程\", \"owner\": "
		        "\"520100-dsjj\", \"start\": \"wait\", \"steps\": {\"wait\": {\"kind\": "
		        "\"timer\", \"name\": \"公示期\", \"after\": {\"workdays\": 2}, "
		        "\"next\": \"sub\"}, \"sub\": {\"kind\": \"subflow\", \"name\": "
		        "\"核查\", \"flow\": \"t.child\", \"next\": \"end\"}, \"end\": "
		        "{\"kind\": \"end\", \"name\": \"办结\"}}}");
		int64_t id = start(&f, "gaobin.dsjj", "t.parent", "{\"title\": \"公示\"}");
		assert_int_equal(fx_count(&f, "SELECT COUNT(*) FROM flow_instance"), 1);
		clock_set_fake(fx_city_time(2026, 11, 25, 12, 0)); /* one working day: not yet */
		assert_int_equal(sweep(&f), 0);
		clock_set_fake(fx_city_time(2026, 11, 26, 0, 1));
		assert_true(sweep(&f) >= 1);
		/* the child runs; the parent waits for it */
		int64_t child = 0;
		store_conn *c;
		yz_err e = {0};
		assert_int_equal(store_reader(f.s, &c, &e), YZ_OK);
		store_val a[] = {sv_int(id)};
		assert_int_equal(store_query_int(c,
		                                 "SELECT id FROM flow_instance WHERE parent_id = ?",
		                                 a, 1, &child, &e),
		                 YZ_OK);
		assert_true(child > 0);
		assert_string_equal(status_of(&f, id), "open");
		ok_cmd(&f, "gaobin.dsjj", child, task_at(&f, child, "c"), FLOW_COMPLETE, "{}");
		assert_string_equal(status_of(&f, child), "closed");
		json_t *o = get(&f, NULL, id);
		assert_string_equal(jx_str(o, "status", ""), "closed");
		assert_string_equal(jx_str(o, "outcome", ""), "done");
		json_decref(o);
		fx_close(&f);
	}
}

static void open_instances_migrate_through_a_step_map(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		fx f;
		open_fx(&f, be[b]);
		const char *v1 =
		    "{\"key\": \"t.m\", \"name\": \"迁移\", \"owner\": \"520100-dsjj\", "
		    "\"start\": \"a\", \"steps\": {\"a\": {\"kind\": \"task\", \"name\": "
		    "\"A\", \"assignee\": {\"department\": \"520100-dsjj\"}, \"next\": "
		    "\"end\"}, \"end\": {\"kind\": \"end\", \"name\": \"E\"}}}";
		const char *v2 =
		    "{\"key\": \"t.m\", \"name\": \"迁移\", \"owner\": \"520100-dsjj\", "
		    "\"start\": \"a2\", \"steps\": {\"a2\": {\"kind\": \"task\", \"name\": "
		    "\"A2\", \"assignee\": {\"department\": \"520100-dsjj\"}, \"next\": "
		    "\"b\"}, \"b\": {\"kind\": \"task\", \"name\": \"B\", \"assignee\": "
		    "{\"department\": \"520100-dsjj\"}, \"next\": \"end\"}, \"end\": "
		    "{\"kind\": \"end\", \"name\": \"E\"}}}";
		fx_load_def_text(&f, v1);
		int64_t id = start(&f, "gaobin.dsjj", "t.m", "{\"title\": \"迁移前\"}");
		fx_load_def_text(&f, v2);
		assert_int_equal(flow_def_version(flow_def_get("t.m", 0)), 2);
		/* a new instance takes v2, the old one stays on v1 */
		int64_t id2 = start(&f, "gaobin.dsjj", "t.m", "{\"title\": \"迁移后\"}");
		assert_true(task_at(&f, id2, "a2") > 0);
		yz_actor sys = actor_system("test");
		int moved = 0;
		yz_err e = {0};
		json_t *bad = fx_jparse("{}");
		assert_int_equal(flow_migrate(f.s, &sys, "t.m", 1, 2, bad, &moved, &e), YZ_EINVAL);
		json_decref(bad);
		bad = fx_jparse("{\"a\": \"zz\"}");
		assert_int_equal(flow_migrate(f.s, &sys, "t.m", 1, 2, bad, &moved, &e), YZ_EINVAL);
		json_decref(bad);
		json_t *map = fx_jparse("{\"a\": \"a2\"}");
		assert_int_equal(flow_migrate(f.s, &sys, "t.m", 1, 2, map, &moved, &e), YZ_OK);
		json_decref(map);
		assert_int_equal(moved, 1);
		int64_t t = task_at(&f, id, "a2");
		assert_true(t > 0);
		ok_cmd(&f, "gaobin.dsjj", id, t, FLOW_COMPLETE, "{}");
		assert_true(task_at(&f, id, "b") > 0);
		fx_close(&f);
	}
}

static void deadlines_follow_a_calendar_change(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		fx f;
		open_fx(&f, be[b]);
		int64_t id = start(&f, "wangfang", "approval.parallel3", PROJECT);
		assert_int_equal(due_of(&f, id), day_end(2026, 12, 14));
		/* a (fictional) notice makes 2026-12-01..02 days off */
		char *dir = tu_tmpdir();
		char path[700];
		snprintf(path, sizeof path, "%s/2026.json", dir);
		FILE *fp = fopen(path, "w");
		assert_non_null(fp);
		json_error_t je;
		json_t *base =
		    json_load_file(tu_src("../shared/reference/holidays-cn/2026.json"), 0, &je);
		json_t *days = base ? json_object_get(base, "days") : NULL;
		if (!base) {
			base = fx_jparse("{\"year\": 2026, \"papers\": [], \"days\": []}");
			days = json_object_get(base, "days");
		}
		json_array_append_new(days,
		                      fx_jparse("{\"name\": \"测试\", \"date\": \"2026-12-01\", "
		                                "\"isOffDay\": true}"));
		json_array_append_new(days,
		                      fx_jparse("{\"name\": \"测试\", \"date\": \"2026-12-02\", "
		                                "\"isOffDay\": true}"));
		json_dumpf(base, fp, 0);
		fclose(fp);
		json_decref(base);
		yz_actor sys = actor_system("test");
		int64_t *changed = NULL;
		int nchanged = 0;
		yz_err e = {0};
		if (calendar_import_holiday_cn(f.s, &sys, path, &changed, &nchanged, &e) != YZ_OK)
			fail_msg("import: %s", e.msg);
		free(changed);
		tu_rmtree(dir);
		free(dir);
		assert_true(nchanged >= 2);
		fx_use_calendar(&f);
		int64_t moved = 0;
		assert_int_equal(flow_recompute_deadlines(f.s, &sys, &moved, &e), YZ_OK);
		assert_true(moved >= 1);
		assert_int_equal(due_of(&f, id), day_end(2026, 12, 16));
		/* recorded in the instance's history */
		assert_true(fx_count(&f, "SELECT COUNT(*) FROM flow_history_202611 WHERE command = "
		                         "'deadline.recompute'") >= 1);
		fx_close(&f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(definitions_are_checked_with_paths),
	    cmocka_unit_test(definitions_are_versioned),
	    cmocka_unit_test(parallel_approval_runs_to_signature),
	    cmocka_unit_test(a_dissent_goes_to_refusal),
	    cmocka_unit_test(correction_stops_the_clock),
	    cmocka_unit_test(golden_deadlines_across_spring_festival_and_national_day),
	    cmocka_unit_test(suspension_pushes_open_deadlines_and_extension_needs_the_role),
	    cmocka_unit_test(return_reject_transfer_and_withdraw),
	    cmocka_unit_test(idempotent_commands_answer_once),
	    cmocka_unit_test(ten_departments_join_exactly_once),
	    cmocka_unit_test(deadlines_remind_then_fire_once_and_survive_restart),
	    cmocka_unit_test(timer_steps_and_subflows),
	    cmocka_unit_test(open_instances_migrate_through_a_step_map),
	    cmocka_unit_test(deadlines_follow_a_calendar_change),
	};
	if (getenv("YIZHAN_TEST_FILTER")) /* one test by name (local iteration) */
		cmocka_set_test_filter(getenv("YIZHAN_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
