/* flow_fixture.c — see flow_fixture.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "audit/audit.h"
#include "core/clock.h"
#include "flow/flow.h"
#include "flow/flow_fixture.h"
#include "iam/iam.h"
#include "notify/notify.h"
#include "testutil.h"

static const iam_policy policy = {
    .pbkdf2_iterations = 1000,
    .lockout_failures = 3,
    .lockout_minutes = 15,
    .session_idle_minutes = 30,
    .session_max_hours = 12,
};

int64_t fx_city_time(int y, int mo, int d, int hh, int mm)
{
	return (clock_days_from_civil(y, mo, d) * 86400 + hh * 3600 + mm * 60 - 8 * 3600) * 1000;
}

static void migrate(fx *f, const char *name, const store_migration *m, int n)
{
	yz_err e = {0};
	if (store_migrate(f->s, name, m, n, &e) != YZ_OK)
		fail_msg("migration %s: %s", name, e.msg);
}

void fx_use_calendar(fx *f)
{
	yz_err e = {0};
	calendar *cal;
	if (calendar_load(f->s, &cal, &e) != YZ_OK)
		fail_msg("calendar: %s", e.msg);
	flow_env env = {.cal = cal, .hours = calendar_default_hours()};
	flow_set_env(&env);
	calendar_free(f->cal);
	f->cal = cal;
}

void fx_open(fx *f, const char *backend, const char *extra, const store_migration *m, int n)
{
	memset(f, 0, sizeof *f);
	clock_set_fake(fx_city_time(2026, 11, 23, 10, 0)); /* a Monday */
	tu_register_pack_perms("packs/demo-city");
	f->s = tu_open_store(backend, f->target, sizeof f->target);
	migrate(f, "audit", audit_migrations, audit_nmigrations);
	migrate(f, "iam", iam_migrations, iam_nmigrations);
	migrate(f, "calendar", calendar_migrations, calendar_nmigrations);
	migrate(f, "notify", notify_migrations, notify_nmigrations);
	migrate(f, "flow", flow_migrations, flow_nmigrations);
	if (extra)
		migrate(f, extra, m, n);
	yz_err e = {0};
	json_t *users;
	if (iam_load_pack(f->s, &policy, tu_src("packs/demo-city"), &users, &e) != YZ_OK)
		fail_msg("pack: %s", e.msg);
	json_decref(users);
	if (calendar_seed(f->s, tu_src("data/calendar/cn-notices.txt"), &e) != YZ_OK)
		fail_msg("calendar seed: %s", e.msg);
	fx_use_calendar(f);
	flow_defs_clear();
	flow_on_event(NULL, NULL);
}

void fx_load_def_text(fx *f, const char *text)
{
	json_error_t je;
	json_t *doc = json_loads(text, 0, &je);
	if (!doc)
		fail_msg("test definition: %s at %d", je.text, je.line);
	yz_actor sys = actor_system("test");
	int version = 0;
	yz_err e = {0};
	if (flow_def_load(f->s, &sys, doc, &version, &e) != YZ_OK)
		fail_msg("definition: %s (%s %s)", e.msg, e.nfield ? e.fields[0].field : "",
		         e.nfield ? e.fields[0].rule : "");
	json_decref(doc);
}

void fx_load_def_file(fx *f, const char *rel)
{
	json_error_t je;
	json_t *doc = json_load_file(tu_src(rel), 0, &je);
	if (!doc)
		fail_msg("%s: %s", rel, je.text);
	char *text = json_dumps(doc, 0);
	json_decref(doc);
	fx_load_def_text(f, text);
	free(text);
}

void fx_close(fx *f)
{
	audit_report rep;
	yz_err e = {0};
	assert_int_equal(audit_verify(f->s, &rep, &e), YZ_OK);
	if (!rep.ok)
		fail_msg("audit chain broken at %lld: %s", (long long)rep.first_bad, rep.reason);
	flow_on_event(NULL, NULL);
	flow_env none = {0};
	flow_set_env(&none);
	flow_defs_clear();
	calendar_free(f->cal);
	clock_use_real();
	store_close(f->s);
	tu_drop_db(f->target);
}

json_t *fx_jparse(const char *text)
{
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);
	if (!j)
		fail_msg("json: %s in %s", je.text, text);
	return j;
}

int64_t fx_count(fx *f, const char *sql)
{
	store_conn *c;
	yz_err e = {0};
	assert_int_equal(store_reader(f->s, &c, &e), YZ_OK);
	int64_t n = -1;
	if (store_query_int(c, sql, NULL, 0, &n, &e) != YZ_OK)
		fail_msg("%s: %s", sql, e.msg);
	return n;
}
