/* Unit tests for electronic supervision on every backend, with the fake
 * clock and the demo city's rules: the rules document checked with JSON paths
 * and stored as versions; a prompt the working day before a deadline; a
 * yellow card when a step is overdue while the whole is on time (and none
 * when the whole is late); a red card when the promised and the statutory
 * limit pass; the optional two-thirds warning; refusal without reasons; late
 * forwarding; escalation after respond_within working days, exactly once and
 * across a restart; respond → correct clears, correct before respond and
 * repeated commands conflict; history is append-only; lists, counts and
 * on-time figures stay within the data scope; the Excel export. Every test
 * ends by verifying the audit chain. */
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
#include "supervise/supervise.h"
#include "testutil.h"

static void open_fx(fx *f, const char *backend)
{
	fx_open(f, backend, "supervise", supervise_migrations, supervise_nmigrations);
	flow_on_event(flow_notify_event, NULL);
	flow_on_event(supervise_flow_event, NULL);
	fx_load_def_file(f, "packs/demo-city/flows/approval.parallel3.json");
	fx_load_def_file(f, "packs/demo-city/flows/hotline.ticket.json");
	yz_err e = {0};
	int64_t version = 0;
	if (supervise_rules_load_file(f->s, tu_src("packs/demo-city/supervise/rules.json"),
	                              &version, &e) != YZ_OK)
		fail_msg("rules: %s (%s %s)", e.msg, e.nfield ? e.fields[0].field : "",
		         e.nfield ? e.fields[0].rule : "");
	assert_int_equal(version, 1);
}

/* ---- actors ---- */

static char path_store[32][256];
static const char *path_ptrs[32];
static int path_next;

static const char *org_path(fx *f, const char *code)
{
	store_conn *c;
	yz_err e = {0};
	assert_int_equal(store_reader(f->s, &c, &e), YZ_OK);
	int64_t id = 0;
	if (iam_org_find_code(c, code, &id, &e) != YZ_OK)
		fail_msg("no org %s", code);
	char *p = path_store[path_next++ % 32];
	assert_int_equal(iam_org_path(c, id, p, 256, &e), YZ_OK);
	return p;
}

/* A user as the router would make them for a route of supervise.respond:
 * the scope is the user's own org (as the demo grants clerks). */
static yz_actor user(fx *f, const char *login)
{
	store_conn *c;
	yz_err e = {0};
	assert_int_equal(store_reader(f->s, &c, &e), YZ_OK);
	int64_t id = 0, org = 0;
	int k = path_next++ % 32;
	if (iam_user_find(c, login, &id, &org, path_store[k], sizeof path_store[k], &e) != YZ_OK)
		fail_msg("no user %s: %s", login, e.msg);
	path_ptrs[k] = path_store[k];
	yz_actor a = actor_system("x");
	a.user_id = id;
	a.org_id = org;
	a.kind = 2;
	yz_strlcpy(a.login, login, sizeof a.login);
	yz_strlcpy(a.name, login, sizeof a.name);
	a.scope = (yz_scope){.all = false, .n = path_store[k][0] ? 1 : 0, .paths = &path_ptrs[k]};
	return a;
}

static const char *const PROJECT =
    "{\"title\": \"花果园学校新建项目\", \"data\": {\"applicant\": \"贵阳某建设有限公司\", "
    "\"project\": \"花果园学校\", \"investment\": 12000, \"phone\": \"0851-85551234\"}}";

static int64_t start(fx *f)
{
	yz_actor a = user(f, "wangfang");
	json_t *in = fx_jparse(PROJECT);
	int64_t id = 0;
	yz_err e = {0};
	if (flow_start(f->s, &a, "approval.parallel3", in, NULL, &id, &e) != YZ_OK)
		fail_msg("start: %s", e.msg);
	json_decref(in);
	return id;
}

static int64_t task_at(fx *f, int64_t id, const char *step)
{
	yz_actor sys = actor_system("test");
	store_conn *c;
	yz_err e = {0};
	assert_int_equal(store_reader(f->s, &c, &e), YZ_OK);
	json_t *o = NULL;
	assert_int_equal(flow_instance_get(c, &sys, id, &o, &e), YZ_OK);
	int64_t t = 0;
	size_t i;
	json_t *x;
	json_array_foreach (json_object_get(o, "tasks"), i, x)
		if (!strcmp(jx_str(x, "step", ""), step) &&
		    !strcmp(jx_str(x, "status", ""), "active"))
			t = jx_int(x, "id", 0);
	json_decref(o);
	return t;
}

static void ok_cmd(fx *f, const char *login, int64_t id, int64_t task, flow_cmd c,
                   const char *in_text)
{
	yz_actor a = user(f, login);
	json_t *in = fx_jparse(in_text ? in_text : "{}");
	yz_err e = {0};
	if (flow_command(f->s, &a, id, task, c, in, NULL, &e) != YZ_OK)
		fail_msg("%s by %s: %s", flow_cmd_name(c), login, e.msg);
	json_decref(in);
}

static void accept_it(fx *f, int64_t id)
{
	ok_cmd(f, "linfang.zwfw", id, task_at(f, id, "accept"), FLOW_COMPLETE,
	       "{\"outcome\": \"accept\"}");
}

static int sweep(fx *f)
{
	int fired = 0;
	yz_err e = {0};
	if (flow_sweep(f->s, clock_now_ms(), 1000, &fired, &e) != YZ_OK)
		fail_msg("sweep: %s", e.msg);
	return fired;
}

static int escalate(fx *f)
{
	int n = 0;
	yz_err e = {0};
	if (supervise_escalate_due(f->s, clock_now_ms(), 100, &n, &e) != YZ_OK)
		fail_msg("escalate: %s", e.msg);
	return n;
}

static const yz_scope city = {.all = true};

/* The cards a supervisor of the whole city sees (filter by colour, may be NULL). */
static json_t *cards(fx *f, const char *colour)
{
	store_conn *c;
	yz_err e = {0};
	assert_int_equal(store_reader(f->s, &c, &e), YZ_OK);
	supervise_viewer v = {.read = &city};
	supervise_filter fl = {.colour = colour, .limit = 200};
	json_t *out = NULL;
	if (supervise_cards_list(c, &v, &fl, &out, &e) != YZ_OK)
		fail_msg("list: %s", e.msg);
	json_t *items = json_incref(json_object_get(out, "items"));
	json_decref(out);
	return items;
}

static size_t ncards(fx *f, const char *colour)
{
	json_t *a = cards(f, colour);
	size_t n = json_array_size(a);
	json_decref(a);
	return n;
}

/* The newest card of a colour (new reference), failing when there is none. */
static json_t *newest(fx *f, const char *colour)
{
	json_t *a = cards(f, colour);
	if (!json_array_size(a))
		fail_msg("no %s card", colour);
	json_t *c = json_incref(json_array_get(a, 0));
	json_decref(a);
	return c;
}

static yz_status answer(fx *f, const char *login, int64_t card, bool correct, const char *text,
                        yz_err *e)
{
	yz_actor a = user(f, login);
	json_t *in = json_pack("{s:s}", "text", text);
	memset(e, 0, sizeof *e);
	yz_status st = correct ? supervise_correct(f->s, &a, card, in, e)
	                       : supervise_respond(f->s, &a, card, in, e);
	json_decref(in);
	return st;
}

static json_t *card_of(fx *f, int64_t id)
{
	store_conn *c;
	yz_err e = {0};
	assert_int_equal(store_reader(f->s, &c, &e), YZ_OK);
	supervise_viewer v = {.read = &city};
	json_t *o = NULL;
	if (supervise_card_get(c, &v, id, &o, &e) != YZ_OK)
		fail_msg("card %lld: %s", (long long)id, e.msg);
	return o;
}

static int64_t messages_to(fx *f, const char *login, const char *subject_like)
{
	char sql[400];
	snprintf(sql, sizeof sql,
	         "SELECT COUNT(*) FROM notify_message m JOIN iam_user u ON u.id = m.user_id WHERE "
	         "u.login = '%s' AND m.channel = 'inapp' AND m.subject LIKE '%s'",
	         login, subject_like);
	return fx_count(f, sql);
}

/* ---- rules ---- */

static void expect_fault(fx *f, const char *doc_text, const char *path, const char *rule)
{
	store_conn *c;
	yz_err e = {0};
	assert_int_equal(store_reader(f->s, &c, &e), YZ_OK);
	json_t *doc = fx_jparse(doc_text);
	yz_status st = supervise_rules_check(c, doc, &e);
	json_decref(doc);
	if (st != YZ_EINVAL)
		fail_msg("expected %s at %s, got %d", rule, path, st);
	for (int i = 0; i < e.nfield && i < YZ_ERR_MAX_FIELDS; i++)
		if (!strcmp(e.fields[i].field, path) && !strcmp(e.fields[i].rule, rule))
			return;
	fail_msg("no fault %s at %s; first: %s %s", rule, path, e.nfield ? e.fields[0].field : "-",
	         e.nfield ? e.fields[0].rule : "-");
}

#define Y_HEAD                                                                                     \
	"{\"rules\": [{\"code\": \"y\", \"name\": \"Y\", \"event\": \"overdue\", \"colour\": "     \
	"\"yellow\", \"respond_within\": {\"workdays\": 2}, \"escalate_to\": \"520100-bgt\""

static void rules_are_checked_with_paths_and_versioned(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		fx f;
		open_fx(&f, be[b]);
		expect_fault(&f, "{\"rules\": []}", "rules", "count");
		expect_fault(&f,
		             "{\"rules\": [{\"code\": \"a\", \"name\": \"A\", \"event\": \"late\", "
		             "\"colour\": \"prompt\"}]}",
		             "rules[0].event", "enum");
		expect_fault(&f,
		             "{\"rules\": [{\"code\": \"a\", \"name\": \"A\", \"event\": "
		             "\"reminder\", \"colour\": \"prompt\", \"respond_within\": "
		             "{\"workdays\": 1}}]}",
		             "rules[0].respond_within", "absent");
		expect_fault(&f,
		             "{\"rules\": [{\"code\": \"a\", \"name\": \"A\", \"event\": "
		             "\"overdue\", \"colour\": \"red\", \"respond_within\": "
		             "{\"workdays\": 1}}]}",
		             "rules[0].escalate_to", "required");
		expect_fault(&f,
		             Y_HEAD "}, {\"code\": \"y\", \"name\": \"Y2\", \"event\": "
		                    "\"reminder\", \"colour\": \"prompt\"}]}",
		             "rules[1].code", "unique");
		expect_fault(&f,
		             "{\"rules\": [{\"code\": \"y\", \"name\": \"Y\", \"event\": "
		             "\"overdue\", \"colour\": \"yellow\", \"respond_within\": "
		             "{\"workdays\": 2}, \"escalate_to\": \"000000\"}]}",
		             "rules[0].escalate_to", "exists");
		expect_fault(&f, Y_HEAD ", \"respond_within\": {\"workdays\": 0}}]}",
		             "rules[0].respond_within.workdays", "range");
		expect_fault(&f, Y_HEAD ", \"conditions\": {\"reason_empty\": true}}]}",
		             "rules[0].conditions.reason_empty", "applies");
		expect_fault(&f, Y_HEAD ", \"conditions\": {\"flows\": [\"no.such.flow\"]}}]}",
		             "rules[0].conditions.flows[0]", "exists");
		expect_fault(&f, Y_HEAD ", \"conditions\": {\"weather\": \"rain\"}}]}",
		             "rules[0].conditions.weather", "unknown-field");
		expect_fault(&f, Y_HEAD ", \"colour\": \"green\"}]}", "rules[0].colour", "enum");
		/* the same document again is the same version; a change is the next */
		json_error_t je;
		json_t *doc =
		    json_load_file(tu_src("packs/demo-city/supervise/rules.json"), 0, &je);
		assert_non_null(doc);
		yz_actor sys = actor_system("test");
		int64_t v = 0;
		yz_err e = {0};
		assert_int_equal(supervise_rules_replace(f.s, &sys, doc, 0, &v, &e), YZ_OK);
		assert_int_equal(v, 1);
		json_t *two = json_array_get(json_object_get(doc, "rules"), 3);
		assert_string_equal(jx_str(two, "code", ""), "yellow.two_thirds");
		json_object_set_new(two, "enabled", json_true());
		assert_int_equal(supervise_rules_replace(f.s, &sys, doc, 0, &v, &e), YZ_OK);
		assert_int_equal(v, 2);
		/* If-Match with an old version is refused */
		json_object_set_new(two, "enabled", json_false());
		assert_int_equal(supervise_rules_replace(f.s, &sys, doc, 1, &v, &e), YZ_ECONFLICT);
		/* rules are city-wide */
		yz_actor clerk = user(&f, "chenjing.fgw");
		assert_int_equal(supervise_rules_replace(f.s, &clerk, doc, 0, &v, &e),
		                 YZ_EFORBIDDEN);
		json_decref(doc);
		store_conn *c;
		assert_int_equal(store_reader(f.s, &c, &e), YZ_OK);
		json_t *cur = NULL;
		assert_int_equal(supervise_rules_get(c, &cur, &e), YZ_OK);
		assert_int_equal(jx_int(cur, "version", 0), 2);
		assert_int_equal(json_array_size(json_object_get(cur, "rules")), 8);
		json_decref(cur);
		assert_int_equal(fx_count(&f, "SELECT COUNT(*) FROM supervise_ruleset"), 2);
		assert_int_equal(fx_count(&f, "SELECT COUNT(*) FROM audit_log WHERE action = "
		                              "'supervise.rules.replace'"),
		                 2);
		fx_close(&f);
	}
}

/* ---- cards from the flow's events ---- */

static void prompt_then_yellow_when_a_step_is_overdue_on_time(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		fx f;
		open_fx(&f, be[b]);
		int64_t id = start(&f);
		assert_int_equal(sweep(&f), 0);
		assert_int_equal(ncards(&f, NULL), 0);
		/* acceptance is due at the end of Tuesday: the prompt comes at the end of
		 * Monday, one working day before */
		clock_set_fake(fx_city_time(2026, 11, 24, 8, 0));
		assert_true(sweep(&f) >= 1);
		assert_int_equal(ncards(&f, "prompt"), 1);
		assert_int_equal(ncards(&f, "yellow"), 0);
		json_t *p = newest(&f, "prompt");
		assert_string_equal(jx_str(p, "state", ""), "info");
		assert_string_equal(jx_str(p, "event", ""), "reminder");
		assert_string_equal(jx_str(json_object_get(p, "rule"), "code", ""), "prompt.step");
		assert_true(json_is_null(json_object_get(p, "respond_by")));
		/* a prompt needs no response */
		yz_err e;
		assert_int_equal(answer(&f, "linfang.zwfw", jx_int(p, "id", 0), false, "收到", &e),
		                 YZ_ECONFLICT);
		json_decref(p);
		/* Wednesday: overdue while the whole (15 working days) is on time: yellow */
		clock_set_fake(fx_city_time(2026, 11, 25, 9, 0));
		assert_true(sweep(&f) >= 1);
		assert_int_equal(ncards(&f, "yellow"), 1);
		assert_int_equal(ncards(&f, "red"), 0);
		json_t *y = newest(&f, "yellow");
		assert_string_equal(jx_str(y, "state", ""), "open");
		assert_string_equal(jx_str(y, "step", ""), "accept");
		assert_string_equal(jx_str(json_object_get(y, "unit"), "path", ""),
		                    org_path(&f, "520100-zwfw"));
		assert_string_equal(jx_str(json_object_get(y, "unit"), "name", ""),
		                    "贵阳市政务服务中心");
		assert_int_equal(jx_int(json_object_get(y, "instance"), "id", 0), id);
		/* two working days to respond: Thursday and Friday */
		assert_string_equal(jx_str(y, "respond_by", ""), "2026-11-27T23:59:59+08:00");
		json_decref(y);
		/* the unit's clerk is told, with a link to the card; the supervisor is not */
		assert_int_equal(messages_to(&f, "linfang.zwfw", "电子监察黄牌%"), 1);
		assert_int_equal(messages_to(&f, "chenjing.fgw", "电子监察%"), 0);
		assert_int_equal(messages_to(&f, "jiancha.bgt", "%"), 0);
		/* a sweep with nothing due changes nothing */
		assert_int_equal(sweep(&f), 0);
		assert_int_equal(ncards(&f, NULL), 2);
		assert_int_equal(fx_count(&f, "SELECT COUNT(*) FROM audit_log WHERE action = "
		                              "'supervise.card.issue'"),
		                 2);
		fx_close(&f);
	}
}

static void red_when_the_promised_and_the_statutory_limit_pass(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		fx f;
		open_fx(&f, be[b]);
		int64_t id = start(&f);
		accept_it(&f, id);
		/* the reviews (5 working days, to Monday 11-30) run late on Tuesday 12-01 while
		 * the whole (to Monday 12-14) is on time: three yellow cards, one per department */
		clock_set_fake(fx_city_time(2026, 12, 1, 9, 0));
		sweep(&f);
		assert_int_equal(ncards(&f, "yellow"), 3);
		assert_int_equal(ncards(&f, "red"), 0);
		json_t *ys = cards(&f, "yellow");
		const char *want[] = {"520100-fgw", "520100-zrzyj", "520100-zjj"};
		for (int k = 0; k < 3; k++) {
			const char *p = org_path(&f, want[k]);
			bool found = false;
			size_t i;
			json_t *x;
			json_array_foreach (ys, i, x)
				found |= !strcmp(jx_str(json_object_get(x, "unit"), "path", ""), p);
			if (!found)
				fail_msg("no yellow card for %s", want[k]);
		}
		json_decref(ys);
		/* the two-thirds warning is off in the demo rules */
		assert_int_equal(fx_count(&f, "SELECT COUNT(*) FROM supervise_card WHERE event = "
		                              "'two_thirds'"),
		                 0);
		/* Tuesday 12-15: the promised limit passed: red, on the handling unit */
		clock_set_fake(fx_city_time(2026, 12, 15, 9, 0));
		sweep(&f);
		assert_int_equal(ncards(&f, "red"), 1);
		json_t *r = newest(&f, "red");
		assert_string_equal(jx_str(r, "event", ""), "inst_overdue");
		assert_string_equal(jx_str(json_object_get(r, "rule"), "code", ""), "red.promised");
		assert_string_equal(jx_str(json_object_get(r, "unit"), "path", ""),
		                    org_path(&f, "520100-zwfw"));
		assert_true(json_is_null(json_object_get(r, "task")));
		json_decref(r);
		/* and the instance's own prompt came the working day before */
		assert_int_equal(fx_count(&f,
		                          "SELECT COUNT(*) FROM supervise_card WHERE rule_code = "
		                          "'prompt.promised'"),
		                 1);
		/* the statutory 45 working days */
		clock_set_fake(fx_city_time(2027, 3, 1, 9, 0));
		sweep(&f);
		assert_int_equal(ncards(&f, "red"), 2);
		r = newest(&f, "red");
		assert_string_equal(jx_str(r, "event", ""), "statutory_overdue");
		json_decref(r);
		fx_close(&f);
	}
}

static void no_yellow_when_the_whole_is_late_and_two_thirds_when_enabled(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		fx f;
		open_fx(&f, be[b]);
		/* turn the optional two-thirds warning on */
		json_error_t je;
		json_t *doc =
		    json_load_file(tu_src("packs/demo-city/supervise/rules.json"), 0, &je);
		json_object_set_new(json_array_get(json_object_get(doc, "rules"), 3), "enabled",
		                    json_true());
		yz_actor sys = actor_system("test");
		int64_t v = 0;
		yz_err e = {0};
		assert_int_equal(supervise_rules_replace(f.s, &sys, doc, 0, &v, &e), YZ_OK);
		json_decref(doc);
		int64_t id = start(&f);
		accept_it(&f, id);
		/* 2/3 of 5 working days is 4: the end of Friday 11-27 */
		clock_set_fake(fx_city_time(2026, 11, 28, 9, 0));
		sweep(&f);
		assert_int_equal(fx_count(&f, "SELECT COUNT(*) FROM supervise_card WHERE event = "
		                              "'two_thirds' AND colour = 'yellow'"),
		                 3);
		/* everything at once long after the promised limit: the reviews' overdue
		 * events see a late whole, so no yellow for them; red for the whole */
		clock_set_fake(fx_city_time(2026, 12, 16, 9, 0));
		sweep(&f);
		assert_int_equal(fx_count(&f, "SELECT COUNT(*) FROM supervise_card WHERE event = "
		                              "'overdue'"),
		                 0);
		assert_int_equal(ncards(&f, "red"), 1);
		fx_close(&f);
	}
}

static void refusal_without_reasons_and_late_forwarding(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		fx f;
		open_fx(&f, be[b]);
		/* a refusal with reasons is no violation */
		int64_t a = start(&f);
		ok_cmd(&f, "linfang.zwfw", a, task_at(&f, a, "accept"), FLOW_REJECT,
		       "{\"reason\": \"不属于本机关职权范围\"}");
		assert_int_equal(ncards(&f, "red"), 0);
		/* without: red */
		int64_t id = start(&f);
		ok_cmd(&f, "linfang.zwfw", id, task_at(&f, id, "accept"), FLOW_REJECT, "{}");
		assert_int_equal(ncards(&f, "red"), 1);
		json_t *r = newest(&f, "red");
		assert_string_equal(jx_str(r, "event", ""), "rejected");
		assert_string_equal(jx_str(json_object_get(r, "detail"), "actor", ""),
		                    "linfang.zwfw");
		assert_string_equal(jx_str(json_object_get(r, "unit"), "path", ""),
		                    org_path(&f, "520100-zwfw"));
		json_decref(r);
		/* forwarding within the hour is fine */
		int64_t q = start(&f);
		accept_it(&f, q);
		clock_set_fake(fx_city_time(2026, 11, 23, 11, 0));
		ok_cmd(&f, "chenjing.fgw", q, task_at(&f, q, "fgw"), FLOW_TRANSFER,
		       "{\"user\": \"gaobin.dsjj\", \"reason\": \"涉及数据共享\"}");
		assert_int_equal(ncards(&f, "red"), 1);
		/* forwarding after two working days (14 office hours) is late */
		int64_t l = start(&f);
		accept_it(&f, l);
		clock_set_fake(fx_city_time(2026, 11, 25, 11, 0));
		ok_cmd(&f, "chenjing.fgw", l, task_at(&f, l, "fgw"), FLOW_TRANSFER,
		       "{\"user\": \"gaobin.dsjj\", \"reason\": \"涉及数据共享\"}");
		assert_int_equal(ncards(&f, "red"), 2);
		r = newest(&f, "red");
		assert_string_equal(jx_str(r, "event", ""), "transferred");
		assert_int_equal(jx_int(json_object_get(r, "detail"), "waited_workhours", 0), 14);
		assert_string_equal(jx_str(json_object_get(r, "unit"), "path", ""),
		                    org_path(&f, "520100-fgw"));
		json_decref(r);
		/* fgw's clerk and department administrator hear of it */
		assert_int_equal(messages_to(&f, "chenjing.fgw", "电子监察红牌%"), 1);
		assert_int_equal(messages_to(&f, "zhangwei.fgw", "电子监察红牌%"), 1);
		assert_int_equal(messages_to(&f, "linfang.zwfw", "电子监察红牌%"), 1);
		fx_close(&f);
	}
}

/* ---- the unit's answer, escalation ---- */

static void escalated_once_after_respond_within_workdays(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		fx f;
		open_fx(&f, be[b]);
		start(&f);
		int64_t other = start(&f);
		clock_set_fake(fx_city_time(2026, 11, 25, 9, 0));
		sweep(&f);
		assert_int_equal(ncards(&f, "yellow"), 2);
		/* one card is answered in time; the other is not */
		json_t *ys = cards(&f, "yellow");
		int64_t answered = 0, silent = 0;
		size_t i;
		json_t *x;
		json_array_foreach (ys, i, x) {
			if (jx_int(json_object_get(x, "instance"), "id", 0) == other)
				answered = jx_int(x, "id", 0);
			else
				silent = jx_int(x, "id", 0);
		}
		json_decref(ys);
		yz_err e;
		assert_int_equal(answer(&f, "linfang.zwfw", answered, false, "已受理", &e), YZ_OK);
		/* respond_by is the end of Friday: not yet */
		clock_set_fake(fx_city_time(2026, 11, 27, 23, 0));
		assert_int_equal(escalate(&f), 0);
		/* Saturday just after midnight: escalated, once */
		clock_set_fake(fx_city_time(2026, 11, 28, 0, 30));
		assert_int_equal(escalate(&f), 1);
		assert_int_equal(escalate(&f), 0);
		/* a restart does not escalate again: it is all in rows */
		char target[600];
		yz_strlcpy(target, f.target, sizeof target);
		store_close(f.s);
		store_opts o = {0};
		assert_int_equal(store_open(target, &o, &f.s, &e), YZ_OK);
		clock_set_fake(fx_city_time(2026, 12, 2, 9, 0));
		assert_int_equal(escalate(&f), 0);
		json_t *c = card_of(&f, silent);
		assert_true(jx_bool(c, "escalated", false));
		assert_string_equal(jx_str(c, "state", ""), "open");
		assert_true(jx_bool(c, "response_overdue", false));
		int esc = 0;
		json_array_foreach (json_object_get(c, "events"), i, x)
			esc += !strcmp(jx_str(x, "kind", ""), "escalated");
		assert_int_equal(esc, 1);
		json_decref(c);
		c = card_of(&f, answered);
		assert_false(jx_bool(c, "escalated", true));
		json_decref(c);
		/* the supervising unit (贵阳市人民政府办公厅) is told */
		assert_int_equal(messages_to(&f, "jiancha.bgt", "督办：%"), 1);
		assert_int_equal(fx_count(&f, "SELECT COUNT(*) FROM audit_log WHERE action = "
		                              "'supervise.card.escalate'"),
		                 1);
		/* escalated or not, the unit still answers and clears it */
		assert_int_equal(answer(&f, "linfang.zwfw", silent, false, "人员不足", &e), YZ_OK);
		assert_int_equal(answer(&f, "linfang.zwfw", silent, true, "已增派人员", &e), YZ_OK);
		c = card_of(&f, silent);
		assert_string_equal(jx_str(c, "state", ""), "cleared");
		json_decref(c);
		fx_close(&f);
	}
}

/* All columns of every card, in one string: the rows must never change. */
static char *card_rows(fx *f)
{
	store_conn *c;
	yz_err e = {0};
	assert_int_equal(store_reader(f->s, &c, &e), YZ_OK);
	store_rows *r;
	assert_int_equal(
	    store_query(c,
	                "SELECT id, card_key, colour, rule_code, unit_path, issued_at, "
	                "COALESCE(respond_by, 0), detail FROM supervise_card ORDER "
	                "BY id",
	                NULL, 0, &r, &e),
	    YZ_OK);
	buf b;
	buf_init(&b, 1 << 20);
	while (store_next(r))
		for (int i = 0; i < store_ncols(r); i++)
			assert_int_equal(buf_printf(&b, "%s|", store_col_text(r, i)), YZ_OK);
	assert_int_equal(store_rows_close(r, &e), YZ_OK);
	return buf_take(&b, NULL);
}

static void respond_then_correct_clears_and_history_is_append_only(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		fx f;
		open_fx(&f, be[b]);
		start(&f);
		clock_set_fake(fx_city_time(2026, 11, 25, 9, 0));
		sweep(&f);
		json_t *y = newest(&f, "yellow");
		int64_t id = jx_int(y, "id", 0);
		json_decref(y);
		char *before = card_rows(&f);
		yz_err e;
		/* a correction needs the response first */
		assert_int_equal(answer(&f, "linfang.zwfw", id, true, "已整改", &e), YZ_ECONFLICT);
		assert_non_null(strstr(e.msg, "respond"));
		/* only the unit answers: another department's clerk does not see it, the
		 * city's leader (respond permission for the city, but not of the unit) may not */
		assert_int_equal(answer(&f, "chenjing.fgw", id, false, "x", &e), YZ_ENOTFOUND);
		assert_int_equal(answer(&f, "liuhongbo.city", id, false, "x", &e), YZ_EFORBIDDEN);
		/* an empty answer is a field error */
		assert_int_equal(answer(&f, "linfang.zwfw", id, false, "   ", &e), YZ_EINVAL);
		assert_string_equal(e.fields[0].field, "text");
		assert_int_equal(
		    answer(&f, "linfang.zwfw", id, false, "窗口人员外出培训，未及时受理。", &e),
		    YZ_OK);
		json_t *c = card_of(&f, id);
		assert_string_equal(jx_str(c, "state", ""), "responded");
		json_decref(c);
		/* a second response conflicts */
		assert_int_equal(answer(&f, "linfang.zwfw", id, false, "再说一次", &e),
		                 YZ_ECONFLICT);
		assert_int_equal(answer(&f, "linfang.zwfw", id, true, "已建立窗口 AB 岗制度。", &e),
		                 YZ_OK);
		c = card_of(&f, id);
		assert_string_equal(jx_str(c, "state", ""), "cleared");
		assert_int_equal(json_array_size(json_object_get(c, "actions")), 0);
		json_t *ev = json_object_get(c, "events");
		assert_int_equal(json_array_size(ev), 3);
		assert_string_equal(jx_str(json_array_get(ev, 0), "kind", ""), "issued");
		assert_string_equal(jx_str(json_array_get(ev, 1), "kind", ""), "responded");
		assert_string_equal(jx_str(json_array_get(ev, 1), "actor", ""), "linfang.zwfw");
		assert_string_equal(jx_str(json_array_get(ev, 2), "kind", ""), "corrected");
		assert_string_equal(jx_str(json_array_get(ev, 2), "text", ""),
		                    "已建立窗口 AB 岗制度。");
		json_decref(c);
		assert_int_equal(answer(&f, "linfang.zwfw", id, true, "again", &e), YZ_ECONFLICT);
		/* the card rows are as they were: only events were added */
		char *after = card_rows(&f);
		assert_string_equal(before, after);
		free(before);
		free(after);
		assert_int_equal(fx_count(&f,
		                          "SELECT COUNT(*) FROM audit_log WHERE action IN "
		                          "('supervise.card.respond', 'supervise.card.correct')"),
		                 2);
		/* answered cards leave the escalation queue and never escalate */
		clock_set_fake(fx_city_time(2026, 12, 31, 9, 0));
		assert_int_equal(escalate(&f), 0);
		fx_close(&f);
	}
}

/* ---- reading within a scope ---- */

static void lists_counts_and_rates_stay_in_scope(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		fx f;
		open_fx(&f, be[b]);
		int64_t id = start(&f);
		accept_it(&f, id);
		clock_set_fake(fx_city_time(2026, 12, 1, 9, 0));
		sweep(&f);
		/* yellow for fgw, zrzy, zjj; prompts for them too */
		store_conn *c;
		yz_err e = {0};
		assert_int_equal(store_reader(f.s, &c, &e), YZ_OK);
		const char *fgw = org_path(&f, "520100-fgw");
		const char *paths[] = {fgw};
		yz_scope only_fgw = {.n = 1, .paths = paths};
		supervise_viewer v = {.read = &only_fgw};
		supervise_filter fl = {.limit = 50};
		json_t *out = NULL;
		assert_int_equal(supervise_cards_list(c, &v, &fl, &out, &e), YZ_OK);
		json_t *items = json_object_get(out, "items");
		assert_int_equal(json_array_size(items), 2); /* fgw's prompt and yellow card */
		size_t i;
		json_t *x;
		int64_t zjj_card = 0;
		json_array_foreach (items, i, x)
			assert_string_equal(jx_str(json_object_get(x, "unit"), "path", ""), fgw);
		json_decref(out);
		json_t *all = cards(&f, "yellow");
		json_array_foreach (all, i, x)
			if (!strcmp(jx_str(json_object_get(x, "unit"), "path", ""),
			            org_path(&f, "520100-zjj")))
				zjj_card = jx_int(x, "id", 0);
		json_decref(all);
		assert_true(zjj_card > 0);
		/* another unit's card is not found for a scoped viewer */
		assert_int_equal(supervise_card_get(c, &v, zjj_card, &out, &e), YZ_ENOTFOUND);
		/* the unit's own list: mayan.zjj may answer the zjj card */
		yz_actor mayan = user(&f, "mayan.zjj");
		supervise_viewer mine = {.respond = &mayan.scope,
		                         .own_org_path = mayan.scope.paths[0]};
		fl.state = "active";
		assert_int_equal(supervise_cards_list(c, &mine, &fl, &out, &e), YZ_OK);
		assert_int_equal(json_array_size(json_object_get(out, "items")), 1);
		assert_int_equal(jx_int(json_array_get(json_object_get(out, "items"), 0), "id", 0),
		                 zjj_card);
		json_decref(out);
		assert_int_equal(supervise_card_get(c, &mine, zjj_card, &out, &e), YZ_OK);
		assert_string_equal(
		    json_string_value(json_array_get(json_object_get(out, "actions"), 0)),
		    "respond");
		json_decref(out);
		/* filters: state and flow and an org subtree */
		fl = (supervise_filter){.state = "bogus"};
		memset(&e, 0, sizeof e);
		assert_int_equal(supervise_cards_list(c, &v, &fl, &out, &e), YZ_EINVAL);
		assert_string_equal(e.fields[0].field, "state");
		memset(&e, 0, sizeof e);
		supervise_viewer everything = {.read = &city};
		fl = (supervise_filter){
		    .org_path = fgw, .colour = "yellow", .flow = "approval.parallel3"};
		assert_int_equal(supervise_cards_list(c, &everything, &fl, &out, &e), YZ_OK);
		assert_int_equal(json_array_size(json_object_get(out, "items")), 1);
		json_decref(out);
		fl = (supervise_filter){.flow = "hotline.ticket"};
		assert_int_equal(supervise_cards_list(c, &everything, &fl, &out, &e), YZ_OK);
		assert_int_equal(json_array_size(json_object_get(out, "items")), 0);
		json_decref(out);
		/* counts: by unit within the scope, by flow */
		assert_int_equal(supervise_summary(c, &only_fgw, 0, 0, &out, &e), YZ_OK);
		assert_int_equal(jx_int(json_object_get(out, "totals"), "yellow", 0), 1);
		assert_int_equal(jx_int(json_object_get(out, "totals"), "prompt", 0), 1);
		assert_int_equal(json_array_size(json_object_get(out, "by_unit")), 1);
		json_decref(out);
		assert_int_equal(supervise_summary(c, &city, 0, 0, &out, &e), YZ_OK);
		assert_int_equal(jx_int(json_object_get(out, "totals"), "yellow", 0), 3);
		assert_int_equal(jx_int(json_object_get(out, "totals"), "open", 0), 3);
		assert_int_equal(json_array_size(json_object_get(out, "by_unit")), 3);
		json_t *fl0 = json_array_get(json_object_get(out, "by_flow"), 0);
		assert_string_equal(jx_str(fl0, "flow", ""), "approval.parallel3");
		assert_int_equal(jx_int(fl0, "yellow", 0), 3);
		json_decref(out);
		/* on-time figures: the acceptance was done on time in November at 政务服务中心;
		 * three reviews are open and overdue now */
		assert_int_equal(supervise_stats(c, &city, clock_now_ms(), &out, &e), YZ_OK);
		json_t *months = json_object_get(out, "months");
		assert_int_equal(json_array_size(months), 12);
		json_t *nov = json_array_get(months, 10), *dec = json_array_get(months, 11);
		assert_string_equal(jx_str(nov, "month", ""), "2026-11");
		assert_int_equal(jx_int(nov, "tasks_done", 0), 1);
		assert_int_equal(jx_int(nov, "tasks_on_time", 0), 1);
		assert_true(json_number_value(json_object_get(nov, "task_rate")) == 100.0);
		assert_int_equal(jx_int(dec, "yellow", 0), 3);
		assert_true(json_is_null(json_object_get(dec, "task_rate")));
		assert_int_equal(jx_int(json_object_get(out, "totals"), "overdue", 0), 3);
		json_decref(out);
		assert_int_equal(supervise_stats(c, &only_fgw, clock_now_ms(), &out, &e), YZ_OK);
		assert_int_equal(jx_int(json_object_get(out, "totals"), "tasks_done", 0), 0);
		assert_int_equal(jx_int(json_object_get(out, "totals"), "overdue", 0), 1);
		assert_int_equal(
		    jx_int(json_array_get(json_object_get(out, "months"), 11), "yellow", 0), 1);
		json_decref(out);
		/* the workbook */
		char *dir = tu_tmpdir();
		char path[600];
		snprintf(path, sizeof path, "%s/cards.xlsx", dir);
		fl = (supervise_filter){0};
		assert_int_equal(supervise_export_xlsx(c, &only_fgw, &fl, clock_now_ms(), path, &e),
		                 YZ_OK);
		FILE *fp = fopen(path, "rb");
		assert_non_null(fp);
		char magic[4] = {0};
		assert_int_equal(fread(magic, 1, 4, fp), 4);
		fclose(fp);
		assert_memory_equal(magic, "PK\x03\x04", 4);
		tu_rmtree(dir);
		free(dir);
		fx_close(&f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(rules_are_checked_with_paths_and_versioned),
	    cmocka_unit_test(prompt_then_yellow_when_a_step_is_overdue_on_time),
	    cmocka_unit_test(red_when_the_promised_and_the_statutory_limit_pass),
	    cmocka_unit_test(no_yellow_when_the_whole_is_late_and_two_thirds_when_enabled),
	    cmocka_unit_test(refusal_without_reasons_and_late_forwarding),
	    cmocka_unit_test(escalated_once_after_respond_within_workdays),
	    cmocka_unit_test(respond_then_correct_clears_and_history_is_append_only),
	    cmocka_unit_test(lists_counts_and_rates_stay_in_scope),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
