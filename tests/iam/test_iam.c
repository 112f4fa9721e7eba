/* Unit tests for src/iam on every backend: pack loading, login and lockout
 * with the test clock, sessions and idle timeout, scoped administration,
 * roles and separation of duties. Every change must also be in the audit
 * chain, which is verified at the end of each test. */
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
#include "iam/iam.h"
#include "testutil.h"

static const iam_perm_decl perms[] = {
    {"workbench.use", ""},   {"iam.org.read", ""},  {"iam.org.manage", ""},  {"iam.user.read", ""},
    {"iam.user.manage", ""}, {"iam.role.read", ""}, {"iam.role.manage", ""}, {"audit.read", ""},
};

static const iam_policy policy = {
    .pbkdf2_iterations = 1000, /* fast for tests; production default is 60000 */
    .lockout_failures = 3,
    .lockout_minutes = 15,
    .session_idle_minutes = 30,
    .session_max_hours = 12,
};

typedef struct fx {
	store *s;
	char target[600];
	arena *a;
} fx;

static void open_fx(fx *f, const char *backend, bool pack)
{
	iam_perms_register(perms, (int)(sizeof perms / sizeof perms[0]));
	tu_register_pack_perms("packs/demo-city");
	f->s = tu_open_store(backend, f->target, sizeof f->target);
	f->a = arena_new(0);
	yz_err e = {0};
	assert_int_equal(store_migrate(f->s, "audit", audit_migrations, audit_nmigrations, &e),
	                 YZ_OK);
	assert_int_equal(store_migrate(f->s, "iam", iam_migrations, iam_nmigrations, &e), YZ_OK);
	if (pack) {
		json_t *users;
		if (iam_load_pack(f->s, &policy, tu_src("packs/demo-city"), &users, &e) != YZ_OK)
			fail_msg("pack: %s (%s)", e.msg, e.nfield ? e.fields[0].field : "");
		assert_true(json_array_size(users) >= 30);
		json_decref(users);
	}
}

static void close_fx(fx *f)
{
	audit_report rep;
	yz_err e = {0};
	assert_int_equal(audit_verify(f->s, &rep, &e), YZ_OK);
	if (!rep.ok)
		fail_msg("audit chain broken at %lld: %s", (long long)rep.first_bad, rep.reason);
	assert_true(rep.records > 0);
	clock_use_real();
	arena_free(f->a);
	store_close(f->s);
	tu_drop_db(f->target);
}

static int64_t count(fx *f, const char *sql)
{
	store_conn *c;
	yz_err e = {0};
	assert_int_equal(store_reader(f->s, &c, &e), YZ_OK);
	int64_t n = -1;
	assert_int_equal(store_query_int(c, sql, NULL, 0, &n, &e), YZ_OK);
	return n;
}

static yz_actor from_ip(void)
{
	yz_actor a = actor_system("test");
	yz_strlcpy(a.ip, "127.0.0.1", sizeof a.ip);
	yz_strlcpy(a.login, "anonymous", sizeof a.login);
	return a;
}

/* The actor a signed-in user becomes for a permission, as the router does. */
static yz_actor as_user(fx *f, const char *login, const char *perm)
{
	store_conn *c;
	yz_err e = {0};
	assert_int_equal(store_reader(f->s, &c, &e), YZ_OK);
	int64_t id;
	store_val a[] = {sv_text(login)};
	assert_int_equal(
	    store_query_int(c, "SELECT id FROM iam_user WHERE login = ?", a, 1, &id, &e), YZ_OK);
	yz_actor who = actor_system("x");
	who.user_id = id;
	yz_strlcpy(who.login, login, sizeof who.login);
	iam_authz *z;
	assert_int_equal(iam_authz_load(c, id, f->a, &z, &e), YZ_OK);
	if (!iam_authz_allows(z, perm, f->a, &who.scope))
		who.scope = (yz_scope){0};
	return who;
}

static void demo_pack_loads(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		fx f;
		open_fx(&f, be[b], true);
		assert_true(count(&f, "SELECT COUNT(*) FROM iam_org") >= 100);
		assert_int_equal(count(&f,
		                       "SELECT COUNT(*) FROM iam_org WHERE kind IN ('district', "
		                       "'county', 'county_city')"),
		                 10);
		assert_true(count(&f, "SELECT COUNT(*) FROM iam_org WHERE kind = 'department'") >=
		            20);
		assert_true(count(&f, "SELECT COUNT(*) FROM iam_user") >= 30);
		assert_int_equal(count(&f, "SELECT COUNT(DISTINCT kind) FROM iam_user"), 5);
		/* a pack loads only into an empty installation */
		yz_err e = {0};
		json_t *users = NULL;
		assert_int_equal(iam_load_pack(f.s, &policy, tu_src("packs/demo-city"), &users, &e),
		                 YZ_ECONFLICT);
		close_fx(&f);
	}
}

static void bad_pack_is_refused_whole(void **state)
{
	(void)state;
	char *dir = tu_tmpdir();
	char path[600];
	const char *files[][2] = {
	    {"orgs.json",
	     "[{\"code\":\"c\",\"name\":\"市\",\"kind\":\"city\",\"parent\":null},"
	     "{\"code\":\"d\",\"name\":\"部门\",\"kind\":\"department\",\"parent\":\"c\","
	     "\"uscc\":\"11520100752000001X\"}]"},
	    {"roles.json", "[{\"code\":\"r\",\"name\":\"R\",\"permissions\":[\"no.such.perm\"]}]"},
	    {"users.json", "[]"},
	};
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, files[i][0]);
		FILE *fp = fopen(path, "w");
		fputs(files[i][1], fp);
		fclose(fp);
	}
	fx f;
	open_fx(&f, "sqlite", false);
	yz_err e = {0};
	json_t *users = NULL;
	assert_int_equal(iam_load_pack(f.s, &policy, dir, &users, &e), YZ_EINVAL);
	/* the first fault: the USCC's check character */
	assert_string_equal(e.fields[0].field, "orgs.json[1].uscc");
	assert_string_equal(e.fields[0].rule, "uscc");
	assert_int_equal(count(&f, "SELECT COUNT(*) FROM iam_org"), 0);
	/* fix it: now the unknown permission is named */
	snprintf(path, sizeof path, "%s/orgs.json", dir);
	FILE *fp = fopen(path, "w");
	fputs("[{\"code\":\"c\",\"name\":\"市\",\"kind\":\"city\"}]", fp);
	fclose(fp);
	e = (yz_err){0};
	assert_int_equal(iam_load_pack(f.s, &policy, dir, &users, &e), YZ_EINVAL);
	assert_string_equal(e.fields[0].field, "roles.json[0].permissions[0]");
	assert_string_equal(e.fields[0].rule, "known");
	assert_int_equal(count(&f, "SELECT COUNT(*) FROM iam_org"), 0);
	tu_rmtree(dir);
	free(dir);
	/* close_fx verifies a non-empty chain; this one stays empty */
	arena_free(f.a);
	store_close(f.s);
	tu_drop_db(f.target);
}

static void login_lockout_and_unlock(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		fx f;
		open_fx(&f, be[b], true);
		clock_set_fake(1800000000000LL);
		yz_actor from = from_ip();
		iam_login_result res;
		yz_err e = {0};
		assert_int_equal(
		    iam_login(f.s, &policy, &from, "zhangwei.fgw", "Yizhan@2026", "ua", &res, &e),
		    YZ_OK);
		assert_true(strlen(res.token) >= 40);
		/* unknown login and wrong password give the same answer */
		yz_err e1 = {0}, e2 = {0};
		assert_int_equal(iam_login(f.s, &policy, &from, "nobody", "x", NULL, &res, &e1),
		                 YZ_EUNAUTH);
		assert_int_equal(
		    iam_login(f.s, &policy, &from, "zhangwei.fgw", "wrong", NULL, &res, &e2),
		    YZ_EUNAUTH);
		assert_string_equal(e1.msg, e2.msg);
		/* the third failure in a row locks */
		e = (yz_err){0};
		assert_int_equal(
		    iam_login(f.s, &policy, &from, "zhangwei.fgw", "wrong", NULL, &res, &e),
		    YZ_EUNAUTH);
		e = (yz_err){0};
		assert_int_equal(
		    iam_login(f.s, &policy, &from, "zhangwei.fgw", "wrong", NULL, &res, &e),
		    YZ_ELOCKED);
		assert_true(res.locked_until == 1800000000000LL + 15 * 60000);
		/* now even the right password is refused, without counting */
		e = (yz_err){0};
		assert_int_equal(
		    iam_login(f.s, &policy, &from, "zhangwei.fgw", "Yizhan@2026", NULL, &res, &e),
		    YZ_ELOCKED);
		assert_non_null(strstr(e.msg, "locked"));
		/* 15 minutes later it opens again */
		clock_advance(15 * 60000 + 1);
		e = (yz_err){0};
		assert_int_equal(
		    iam_login(f.s, &policy, &from, "zhangwei.fgw", "Yizhan@2026", NULL, &res, &e),
		    YZ_OK);
		/* lock again, and an administrator unlocks */
		for (int i = 0; i < 3; i++)
			assert_int_equal(
			    iam_login(f.s, &policy, &from, "zhangwei.fgw", "bad", NULL, &res, &e),
			    i < 2 ? YZ_EUNAUTH : YZ_ELOCKED);
		e = (yz_err){0};
		assert_int_equal(
		    iam_login(f.s, &policy, &from, "zhangwei.fgw", "Yizhan@2026", NULL, &res, &e),
		    YZ_ELOCKED);
		yz_actor admin = as_user(&f, "admin", "iam.user.manage");
		int64_t id = count(&f, "SELECT id FROM iam_user WHERE login = 'zhangwei.fgw'");
		assert_int_equal(iam_user_unlock(f.s, &admin, id, &e), YZ_OK);
		assert_int_equal(
		    iam_login(f.s, &policy, &from, "zhangwei.fgw", "Yizhan@2026", NULL, &res, &e),
		    YZ_OK);
		/* each outcome is in the audit chain */
		assert_true(count(&f, "SELECT COUNT(*) FROM audit_log WHERE action = "
		                      "'iam.login.failed'") >= 7);
		assert_int_equal(count(&f, "SELECT COUNT(*) FROM audit_log WHERE action = "
		                           "'iam.user.locked'"),
		                 2);
		assert_int_equal(
		    count(&f, "SELECT COUNT(*) FROM audit_log WHERE action = 'iam.login'"), 3);
		close_fx(&f);
	}
}

static void sessions_end(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		fx f;
		open_fx(&f, be[b], true);
		clock_set_fake(1800000000000LL);
		yz_actor from = from_ip();
		iam_login_result res;
		yz_err e = {0};
		assert_int_equal(
		    iam_login(f.s, &policy, &from, "lijuan.scjgj", "Yizhan@2026", NULL, &res, &e),
		    YZ_OK);
		iam_session_info si;
		assert_int_equal(iam_session_resolve(f.s, &policy, res.token, &si, &e), YZ_OK);
		assert_string_equal(si.login, "lijuan.scjgj");
		assert_string_equal(si.csrf, res.csrf);
		assert_int_equal(si.kind, IAM_CIVIL_SERVANT);
		/* activity within the idle window keeps it alive */
		for (int i = 0; i < 4; i++) {
			clock_advance(20 * 60000);
			e = (yz_err){0};
			assert_int_equal(iam_session_resolve(f.s, &policy, res.token, &si, &e),
			                 YZ_OK);
			store_flush(f.s); /* the last-seen touch is a detached write */
		}
		/* then 31 idle minutes end it */
		clock_advance(31 * 60000);
		e = (yz_err){0};
		assert_int_equal(iam_session_resolve(f.s, &policy, res.token, &si, &e), YZ_EUNAUTH);
		store_flush(f.s);
		assert_int_equal(count(&f, "SELECT COUNT(*) FROM iam_session"), 0);
		/* logout ends a session at once; a forged token never resolves */
		assert_int_equal(
		    iam_login(f.s, &policy, &from, "lijuan.scjgj", "Yizhan@2026", NULL, &res, &e),
		    YZ_OK);
		assert_int_equal(iam_session_resolve(f.s, &policy, res.token, &si, &e), YZ_OK);
		yz_actor me = as_user(&f, "lijuan.scjgj", "workbench.use");
		assert_int_equal(iam_logout(f.s, &me, si.session, &e), YZ_OK);
		e = (yz_err){0};
		assert_int_equal(iam_session_resolve(f.s, &policy, res.token, &si, &e), YZ_EUNAUTH);
		assert_int_equal(
		    iam_session_resolve(f.s, &policy, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &si, &e),
		    YZ_EUNAUTH);
		close_fx(&f);
	}
}

static void scoped_administration(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		fx f;
		open_fx(&f, be[b], true);
		/* a department administrator manages users of their department only */
		store_conn *c;
		yz_err e = {0};
		assert_int_equal(store_reader(f.s, &c, &e), YZ_OK);
		int64_t dept =
		    count(&f, "SELECT ur.scope_org_id FROM iam_user_role ur JOIN iam_role r "
		              "ON r.id = ur.role_id WHERE r.code = 'dept_admin' LIMIT 1");
		int64_t admin_id =
		    count(&f, "SELECT ur.user_id FROM iam_user_role ur JOIN iam_role r ON "
		              "r.id = ur.role_id WHERE r.code = 'dept_admin' LIMIT 1");
		char login[64];
		store_rows *r;
		store_val a[] = {sv_int(admin_id)};
		assert_int_equal(
		    store_query(c, "SELECT login FROM iam_user WHERE id = ?", a, 1, &r, &e), YZ_OK);
		assert_true(store_next(r));
		yz_strlcpy(login, store_col_text(r, 0), sizeof login);
		assert_int_equal(store_rows_close(r, &e), YZ_OK);
		yz_actor da = as_user(&f, login, "iam.user.manage");
		assert_false(da.scope.all);
		assert_int_equal(da.scope.n, 1);

		json_t *in = json_pack("{s:s, s:s, s:s, s:I, s:s}", "login", "new.clerk", "name",
		                       "新科员", "kind", "civil_servant", "org_id",
		                       (json_int_t)dept, "password", "Gongzuo#2026x");
		int64_t id;
		assert_int_equal(iam_user_create(f.s, &policy, &da, in, &id, &e), YZ_OK);
		json_decref(in);
		/* the city is outside the department's scope */
		in = json_pack("{s:s, s:s, s:s, s:I, s:s}", "login", "other.clerk", "name", "他人",
		               "kind", "civil_servant", "org_id", (json_int_t)1, "password",
		               "Gongzuo#2026x");
		e = (yz_err){0};
		assert_int_equal(iam_user_create(f.s, &policy, &da, in, &id, &e), YZ_EFORBIDDEN);
		json_decref(in);
		/* users outside the scope are invisible, not merely read-only */
		yz_actor dr = as_user(&f, login, "iam.user.read");
		json_t *list;
		iam_user_filter flt = {.limit = 200};
		assert_int_equal(iam_user_list(c, &dr.scope, &flt, &list, &e), YZ_OK);
		size_t i;
		json_t *u;
		json_array_foreach (json_object_get(list, "items"), i, u)
			assert_int_equal(jx_int(u, "org_id", 0), dept);
		assert_true(json_array_size(json_object_get(list, "items")) >= 2);
		json_decref(list);
		e = (yz_err){0};
		json_t *one;
		assert_int_equal(iam_user_get(c, &dr.scope, 1, &one, &e), YZ_ENOTFOUND);

		/* field validation reports every fault */
		in = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i}", "login", "X", "name", "", "kind",
		               "martian", "password", "short", "phone", "12345", "extra", 1);
		e = (yz_err){0};
		assert_int_equal(iam_user_create(f.s, &policy, &da, in, &id, &e), YZ_EINVAL);
		/* login, name, kind, phone, extra, and the password's length */
		assert_int_equal(e.nfield, 6);
		json_decref(in);
		/* password policy */
		e = (yz_err){0};
		assert_int_equal(iam_password_policy("abcdefghij", "x", "password", &e), YZ_EINVAL);
		assert_string_equal(e.fields[0].rule, "complexity");
		e = (yz_err){0};
		assert_int_equal(iam_password_policy("new.clerkA1!", "new.clerk", "password", &e),
		                 YZ_EINVAL);
		assert_string_equal(e.fields[0].rule, "not-login");
		assert_int_equal(iam_password_policy("贵阳市政务Ab1!x", "zz", "p", &e), YZ_OK);
		/* duplicate login names the field */
		in = json_pack("{s:s, s:s, s:s, s:I, s:s}", "login", "new.clerk", "name", "重名",
		               "kind", "civil_servant", "org_id", (json_int_t)dept, "password",
		               "Gongzuo#2026x");
		e = (yz_err){0};
		assert_int_equal(iam_user_create(f.s, &policy, &da, in, &id, &e), YZ_EINVAL);
		assert_string_equal(e.fields[0].field, "login");
		assert_string_equal(e.fields[0].rule, "unique");
		json_decref(in);
		close_fx(&f);
	}
}

static void roles_and_duties(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		fx f;
		open_fx(&f, be[b], true);
		yz_err e = {0};
		int64_t clerk = count(&f, "SELECT id FROM iam_user WHERE login = 'zhangwei.fgw'");
		yz_actor sec = as_user(&f, "secadmin", "iam.role.manage");
		assert_true(sec.scope.all);
		json_t *roles = json_pack("[{s:s, s:s}, {s:s, s:s}]", "role", "clerk", "scope",
		                          "520100-fgw", "role", "auditor", "scope", "520100");
		assert_int_equal(iam_user_set_roles(f.s, &sec, clerk, roles, &e), YZ_OK);
		json_decref(roles);
		store_conn *c;
		assert_int_equal(store_reader(f.s, &c, &e), YZ_OK);
		iam_authz *z;
		assert_int_equal(iam_authz_load(c, clerk, f.a, &z, &e), YZ_OK);
		yz_scope sc;
		assert_true(iam_authz_allows(z, "audit.read", f.a, &sc));
		assert_true(sc.all);
		assert_true(iam_authz_allows(z, "workbench.use", f.a, &sc));
		assert_false(iam_authz_allows(z, "iam.user.manage", f.a, &sc));
		/* nobody changes their own roles */
		roles = json_pack("[{s:s, s:s}]", "role", "sys_admin", "scope", "520100");
		e = (yz_err){0};
		assert_int_equal(iam_user_set_roles(f.s, &sec, sec.user_id, roles, &e),
		                 YZ_EREFUSED);
		/* a system administrator has no iam.role.manage at all */
		yz_actor sys = as_user(&f, "admin", "iam.role.manage");
		assert_int_equal(sys.scope.n, 0);
		e = (yz_err){0};
		assert_int_equal(iam_user_set_roles(f.s, &sys, clerk, roles, &e), YZ_EFORBIDDEN);
		json_decref(roles);
		/* unknown role and unknown scope name the entry */
		roles = json_pack("[{s:s, s:s}]", "role", "emperor", "scope", "520100");
		e = (yz_err){0};
		assert_int_equal(iam_user_set_roles(f.s, &sec, clerk, roles, &e), YZ_EINVAL);
		assert_string_equal(e.fields[0].field, "roles[0]");
		json_decref(roles);
		/* roles: unknown permissions refused; a new role works */
		json_t *in = json_pack("{s:s, s:s, s:[s]}", "code", "viewer", "name", "查看员",
		                       "permissions", "iam.nothing");
		int64_t rid;
		e = (yz_err){0};
		assert_int_equal(iam_role_create(f.s, &sec, in, &rid, &e), YZ_EINVAL);
		json_decref(in);
		in = json_pack("{s:s, s:s, s:[s,s]}", "code", "viewer", "name", "查看员",
		               "permissions", "iam.user.read", "iam.org.read");
		assert_int_equal(iam_role_create(f.s, &sec, in, &rid, &e), YZ_OK);
		json_decref(in);
		json_t *role;
		assert_int_equal(iam_role_get(c, rid, &role, &e), YZ_OK);
		assert_int_equal(json_array_size(json_object_get(role, "permissions")), 2);
		json_decref(role);
		close_fx(&f);
	}
}

static void update_with_version(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		fx f;
		open_fx(&f, be[b], true);
		yz_actor admin = as_user(&f, "admin", "iam.user.manage");
		int64_t id = count(&f, "SELECT id FROM iam_user WHERE login = 'sunlei.rsj'");
		int64_t v = count(&f, "SELECT version FROM iam_user WHERE login = 'sunlei.rsj'");
		json_t *in = json_pack("{s:s, s:s}", "name", "孙磊磊", "phone", "0851-86812345");
		yz_err e = {0};
		assert_int_equal(iam_user_update(f.s, &admin, id, v, in, &e), YZ_OK);
		/* the same version again is stale now */
		e = (yz_err){0};
		assert_int_equal(iam_user_update(f.s, &admin, id, v, in, &e), YZ_ECONFLICT);
		json_decref(in);
		/* citizens belong to no organisation */
		in = json_pack("{s:s}", "kind", "citizen");
		e = (yz_err){0};
		assert_int_equal(iam_user_update(f.s, &admin, id, 0, in, &e), YZ_EINVAL);
		assert_string_equal(e.fields[0].field, "org_id");
		json_decref(in);
		/* disabling ends sessions and refuses login */
		e = (yz_err){0};
		yz_actor from = from_ip();
		iam_login_result res;
		assert_int_equal(
		    iam_login(f.s, &policy, &from, "sunlei.rsj", "Yizhan@2026", NULL, &res, &e),
		    YZ_OK);
		in = json_pack("{s:s}", "status", "disabled");
		assert_int_equal(iam_user_update(f.s, &admin, id, 0, in, &e), YZ_OK);
		json_decref(in);
		iam_session_info si;
		e = (yz_err){0};
		assert_int_equal(iam_session_resolve(f.s, &policy, res.token, &si, &e), YZ_EUNAUTH);
		assert_int_equal(
		    iam_login(f.s, &policy, &from, "sunlei.rsj", "Yizhan@2026", NULL, &res, &e),
		    YZ_EFORBIDDEN);
		/* one's own password needs the current one */
		yz_actor me = as_user(&f, "zhoujun.gaj", "workbench.use");
		e = (yz_err){0};
		assert_int_equal(
		    iam_user_change_password(f.s, &policy, &me, "nope", "Xinmima#2026", NULL, &e),
		    YZ_EINVAL);
		assert_string_equal(e.fields[0].field, "current");
		assert_int_equal(iam_user_change_password(f.s, &policy, &me, "Yizhan@2026",
		                                          "Xinmima#2026", NULL, &e),
		                 YZ_OK);
		assert_int_equal(
		    iam_login(f.s, &policy, &from, "zhoujun.gaj", "Xinmima#2026", NULL, &res, &e),
		    YZ_OK);
		close_fx(&f);
	}
}

static void org_tree(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		fx f;
		open_fx(&f, be[b], true);
		yz_actor admin = as_user(&f, "admin", "iam.org.manage");
		int64_t nanming = count(&f, "SELECT id FROM iam_org WHERE code = '520102'");
		json_t *in = json_pack("{s:s, s:s, s:s, s:I, s:s}", "code", "nm-test", "name",
		                       "南明区测试局", "kind", "department", "parent_id",
		                       (json_int_t)nanming, "division_code", "520102");
		int64_t id;
		yz_err e = {0};
		assert_int_equal(iam_org_create(f.s, &admin, in, &id, &e), YZ_OK);
		e = (yz_err){0};
		assert_int_equal(iam_org_create(f.s, &admin, in, &id, &e), YZ_EINVAL);
		assert_string_equal(e.fields[0].rule, "unique");
		json_decref(in);
		store_conn *c;
		assert_int_equal(store_reader(f.s, &c, &e), YZ_OK);
		char path[128], ppath[128];
		assert_int_equal(iam_org_path(c, id, path, sizeof path, &e), YZ_OK);
		assert_int_equal(iam_org_path(c, nanming, ppath, sizeof ppath, &e), YZ_OK);
		assert_true(strncmp(path, ppath, strlen(ppath)) == 0);
		/* the tree lists parents before children, children deeper */
		json_t *list;
		yz_scope all = {.all = true};
		assert_int_equal(iam_org_list(c, &all, NULL, NULL, &list, &e), YZ_OK);
		int64_t seen_parent = -1, seen_child = -1;
		size_t i;
		json_t *o;
		json_array_foreach (list, i, o) {
			if (jx_int(o, "id", 0) == nanming)
				seen_parent = (int64_t)i;
			if (jx_int(o, "id", 0) == id) {
				seen_child = (int64_t)i;
				assert_int_equal(jx_int(o, "depth", 0), 2);
			}
		}
		assert_true(seen_parent >= 0 && seen_child > seen_parent);
		assert_int_equal(jx_int(json_array_get(list, 0), "depth", -1), 0);
		json_decref(list);
		/* a bad USCC check character is caught */
		in = json_pack("{s:s, s:s, s:s, s:I, s:s}", "code", "x1", "name", "X", "kind",
		               "department", "parent_id", (json_int_t)nanming, "uscc",
		               "115201007520000010");
		e = (yz_err){0};
		assert_int_equal(iam_org_create(f.s, &admin, in, &id, &e), YZ_EINVAL);
		assert_string_equal(e.fields[0].field, "uscc");
		json_decref(in);
		close_fx(&f);
	}
}

static void bootstrap_without_pack(void **state)
{
	(void)state;
	fx f;
	open_fx(&f, "sqlite", false);
	char pw[64];
	yz_err e = {0};
	assert_int_equal(iam_bootstrap(f.s, &policy, "测试市", pw, sizeof pw, &e), YZ_OK);
	assert_true(strlen(pw) >= 20);
	assert_int_equal(iam_password_policy(pw, "admin", "p", &e), YZ_OK);
	yz_actor from = from_ip();
	iam_login_result res;
	assert_int_equal(iam_login(f.s, &policy, &from, "admin", pw, NULL, &res, &e), YZ_OK);
	yz_actor admin = as_user(&f, "admin", "iam.role.manage");
	assert_true(admin.scope.all);
	close_fx(&f);
}

/* The request cache answers from memory but forgets at once when this
 * process changes who may do what. */
static void request_cache_follows_changes(void **state)
{
	(void)state;
	fx f;
	open_fx(&f, "sqlite", true);
	yz_actor from = from_ip();
	iam_login_result res;
	yz_err e = {0};
	assert_int_equal(
	    iam_login(f.s, &policy, &from, "chenjing.fgw", "Yizhan@2026", NULL, &res, &e), YZ_OK);
	iam_session_info si;
	iam_authz *z;
	yz_scope sc;
	assert_int_equal(iam_request_auth(f.s, &policy, res.token, f.a, &si, &z, &e), YZ_OK);
	assert_false(iam_authz_allows(z, "audit.read", f.a, &sc));
	/* twice: the second answer comes from the cache and is the same */
	assert_int_equal(iam_request_auth(f.s, &policy, res.token, f.a, &si, &z, &e), YZ_OK);
	assert_string_equal(si.login, "chenjing.fgw");
	/* a grant shows at once */
	yz_actor sec = as_user(&f, "secadmin", "iam.role.manage");
	json_t *roles = json_pack("[{s:s, s:s}]", "role", "auditor", "scope", "520100");
	assert_int_equal(iam_user_set_roles(f.s, &sec, si.user_id, roles, &e), YZ_OK);
	json_decref(roles);
	assert_int_equal(iam_request_auth(f.s, &policy, res.token, f.a, &si, &z, &e), YZ_OK);
	assert_true(iam_authz_allows(z, "audit.read", f.a, &sc));
	/* logout ends it at once */
	yz_actor me = as_user(&f, "chenjing.fgw", "workbench.use");
	assert_int_equal(iam_logout(f.s, &me, si.session, &e), YZ_OK);
	e = (yz_err){0};
	assert_int_equal(iam_request_auth(f.s, &policy, res.token, f.a, &si, &z, &e), YZ_EUNAUTH);
	close_fx(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(demo_pack_loads),
	    cmocka_unit_test(bad_pack_is_refused_whole),
	    cmocka_unit_test(login_lockout_and_unlock),
	    cmocka_unit_test(sessions_end),
	    cmocka_unit_test(scoped_administration),
	    cmocka_unit_test(roles_and_duties),
	    cmocka_unit_test(update_with_version),
	    cmocka_unit_test(org_tree),
	    cmocka_unit_test(bootstrap_without_pack),
	    cmocka_unit_test(request_cache_follows_changes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
