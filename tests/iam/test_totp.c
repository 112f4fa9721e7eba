/* Unit tests for TOTP in iam on every backend: the RFC 6238 SHA-1 vectors,
 * enrolment and confirmation, sign-in with the code in one call or as a
 * second step, a code never accepted twice, one step of drift, wrong codes
 * counting toward the lockout, and a role that requires TOTP sending its
 * holder to enrol first. The clock is the test clock throughout. */
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
#include "iam/oidc.h"
#include "testutil.h"

static const iam_policy policy = {
    .pbkdf2_iterations = 1000,
    .lockout_failures = 5,
    .lockout_minutes = 15,
    .session_idle_minutes = 30,
    .session_max_hours = 12,
    .totp_required_roles = "sys_admin, sec_admin,auditor",
};

/* 2026-03-02T09:00:00+08:00, on a step boundary */
#define T0 1772413200000LL

typedef struct fx {
	store *s;
	char target[600];
	char *dir;
} fx;

static void open_fx(fx *f, const char *backend)
{
	memset(f, 0, sizeof *f);
	tu_register_pack_perms("packs/demo-city");
	f->s = tu_open_store(backend, f->target, sizeof f->target);
	f->dir = tu_tmpdir();
	yz_err e = {0};
	assert_int_equal(store_migrate(f->s, "audit", audit_migrations, audit_nmigrations, &e),
	                 YZ_OK);
	assert_int_equal(store_migrate(f->s, "iam", iam_migrations, iam_nmigrations, &e), YZ_OK);
	json_t *users;
	if (iam_load_pack(f->s, &policy, tu_src("packs/demo-city"), &users, &e) != YZ_OK)
		fail_msg("pack: %s", e.msg);
	json_decref(users);
	assert_int_equal(iam_keys_load(f->s, f->dir, &e), YZ_OK);
	clock_set_fake(T0);
}

static void close_fx(fx *f)
{
	audit_report rep;
	yz_err e = {0};
	assert_int_equal(audit_verify(f->s, &rep, &e), YZ_OK);
	if (!rep.ok)
		fail_msg("audit chain broken at %lld: %s", (long long)rep.first_bad, rep.reason);
	clock_use_real();
	iam_keys_unload();
	store_close(f->s);
	tu_drop_db(f->target);
	tu_rmtree(f->dir);
	free(f->dir);
}

static int64_t count(fx *f, const char *sql)
{
	store_conn *c;
	assert_int_equal(store_reader(f->s, &c, NULL), YZ_OK);
	int64_t n = -1;
	assert_int_equal(store_query_int(c, sql, NULL, 0, &n, NULL), YZ_OK);
	return n;
}

static size_t b32_decode(const char *s, unsigned char *out, size_t cap)
{
	size_t n = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (; *s; s++) {
		const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
		const char *p = strchr(alpha, *s);
		assert_non_null(p);
		acc = acc << 5 | (uint32_t)(p - alpha);
		bits += 5;
		if (bits >= 8) {
			assert_true(n < cap);
			out[n++] = (unsigned char)(acc >> (bits - 8));
			bits -= 8;
		}
	}
	return n;
}

/* The code an authenticator app shows now for a base32 secret. */
static void code_now(const char *secret, int64_t offset_steps, char out[8])
{
	unsigned char key[64];
	size_t n = b32_decode(secret, key, sizeof key);
	assert_int_equal(n, 20);
	snprintf(out, 8, "%06u", iam_totp_code(key, n, clock_now_ms() / 30000 + offset_steps, 6));
}

static yz_actor from_ip(void)
{
	yz_actor a = actor_system("test");
	yz_strlcpy(a.ip, "127.0.0.1", sizeof a.ip);
	yz_strlcpy(a.login, "anonymous", sizeof a.login);
	return a;
}

static yz_actor user(fx *f, const char *login)
{
	store_conn *c;
	assert_int_equal(store_reader(f->s, &c, NULL), YZ_OK);
	int64_t id = 0, org = 0;
	char path[128];
	assert_int_equal(iam_user_find(c, login, &id, &org, path, sizeof path, NULL), YZ_OK);
	yz_actor a = actor_system("x");
	a.user_id = id;
	a.org_id = org;
	yz_strlcpy(a.login, login, sizeof a.login);
	return a;
}

static void rfc6238_vectors(void **state)
{
	(void)state;
	/* RFC 6238 Appendix B, SHA-1, 8 digits, T0 = 0, X = 30 */
	const unsigned char *key = (const unsigned char *)"12345678901234567890";
	static const struct {
		int64_t t;
		uint32_t code;
	} v[] = {{59, 94287082},         {1111111109, 7081804},  {1111111111, 14050471},
	         {1234567890, 89005924}, {2000000000, 69279037}, {20000000000, 65353130}};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		assert_int_equal(iam_totp_code(key, 20, v[i].t / 30, 8), v[i].code);
		/* 6 digits are the last 6 of the same truncation */
		assert_int_equal(iam_totp_code(key, 20, v[i].t / 30, 6), v[i].code % 1000000);
	}
	/* RFC 4226 Appendix D: HOTP counters 0 and 9 */
	assert_int_equal(iam_totp_code(key, 20, 0, 6), 755224);
	assert_int_equal(iam_totp_code(key, 20, 9, 6), 520489);
}

static void enrol_and_sign_in(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		fx f;
		open_fx(&f, be[b]);
		yz_actor who = user(&f, "chenjing.fgw");
		yz_actor from = from_ip();
		yz_err e = {0};
		iam_totp_secret sec;
		assert_int_equal(iam_totp_begin(f.s, &who, "贵阳市政务服务平台", &sec, &e), YZ_OK);
		assert_int_equal(strlen(sec.secret), 32);
		assert_non_null(strstr(sec.uri, "otpauth://totp/"));
		assert_non_null(strstr(sec.uri, "chenjing.fgw?secret="));
		assert_non_null(strstr(sec.uri, "&digits=6&period=30"));
		/* not yet confirmed: sign-in still takes the password alone */
		iam_login_result res;
		assert_int_equal(
		    iam_login(f.s, &policy, &from, "chenjing.fgw", "Yizhan@2026", NULL, &res, &e),
		    YZ_OK);
		assert_int_equal(res.next_step, IAM_LOGIN_DONE);
		/* a wrong code does not confirm */
		char code[8];
		code_now(sec.secret, 0, code);
		char wrong[8];
		memcpy(wrong, code, sizeof wrong);
		wrong[5] = code[5] == '9' ? '0' : (char)(code[5] + 1);
		yz_err we = {0};
		assert_int_equal(iam_totp_confirm(f.s, &who, wrong, &we), YZ_EINVAL);
		assert_string_equal(we.fields[0].field, "code");
		assert_int_equal(iam_totp_confirm(f.s, &who, code, &e), YZ_OK);
		/* now the password alone is not enough: a pending sign-in */
		assert_int_equal(
		    iam_login(f.s, &policy, &from, "chenjing.fgw", "Yizhan@2026", NULL, &res, &e),
		    YZ_OK);
		assert_int_equal(res.next_step, IAM_LOGIN_TOTP);
		assert_string_equal(res.token, "");
		assert_true(strlen(res.pending) >= 40);
		char pending[64];
		yz_strlcpy(pending, res.pending, sizeof pending);
		/* the code used to confirm is spent: refused in the same step */
		yz_err re = {0};
		assert_int_equal(
		    iam_login_totp(f.s, &policy, &from, pending, code, NULL, &res, &re),
		    YZ_EUNAUTH);
		assert_string_equal(re.fields[0].field, "code");
		/* the next step's code works, once */
		clock_advance(30000);
		code_now(sec.secret, 0, code);
		assert_int_equal(iam_login_totp(f.s, &policy, &from, pending, code, "ua", &res, &e),
		                 YZ_OK);
		assert_true(strlen(res.token) > 20);
		iam_session_info si;
		assert_int_equal(iam_session_resolve(f.s, &policy, res.token, &si, &e), YZ_OK);
		/* the pending sign-in is gone */
		assert_int_equal(
		    iam_login_totp(f.s, &policy, &from, pending, code, NULL, &res, &re),
		    YZ_EUNAUTH);
		/* password and code in one call; the same code again is a replay */
		clock_advance(30000);
		code_now(sec.secret, 0, code);
		assert_int_equal(iam_login_ex(f.s, &policy, &from, "chenjing.fgw", "Yizhan@2026",
		                              code, NULL, &res, &e),
		                 YZ_OK);
		assert_int_equal(res.next_step, IAM_LOGIN_DONE);
		yz_err rp = {0};
		assert_int_equal(iam_login_ex(f.s, &policy, &from, "chenjing.fgw", "Yizhan@2026",
		                              code, NULL, &res, &rp),
		                 YZ_EUNAUTH);
		assert_string_equal(rp.fields[0].field, "totp");
		/* one step of drift either way, not two */
		clock_advance(60000);
		code_now(sec.secret, -1, code);
		assert_int_equal(iam_login_ex(f.s, &policy, &from, "chenjing.fgw", "Yizhan@2026",
		                              code, NULL, &res, &e),
		                 YZ_OK);
		code_now(sec.secret, 2, code);
		assert_int_equal(iam_login_ex(f.s, &policy, &from, "chenjing.fgw", "Yizhan@2026",
		                              code, NULL, &res, &rp),
		                 YZ_EUNAUTH);
		code_now(sec.secret, 1, code);
		assert_int_equal(iam_login_ex(f.s, &policy, &from, "chenjing.fgw", "Yizhan@2026",
		                              code, NULL, &res, &e),
		                 YZ_OK);
		/* a code older than the newest used is refused though within the window */
		code_now(sec.secret, 0, code);
		assert_int_equal(iam_login_ex(f.s, &policy, &from, "chenjing.fgw", "Yizhan@2026",
		                              code, NULL, &res, &rp),
		                 YZ_EUNAUTH);
		/* sessions with a code say so (amr) */
		assert_true(count(&f, "SELECT COUNT(*) FROM iam_session WHERE amr = 'pwd otp'") >=
		            3);
		/* removal needs a current code */
		clock_advance(60000);
		code_now(sec.secret, 0, code);
		yz_err ze = {0};
		assert_int_equal(iam_totp_remove(f.s, &policy, &who, "000000", &ze), YZ_EINVAL);
		assert_int_equal(iam_totp_remove(f.s, &policy, &who, code, &e), YZ_OK);
		assert_int_equal(
		    iam_login(f.s, &policy, &from, "chenjing.fgw", "Yizhan@2026", NULL, &res, &e),
		    YZ_OK);
		assert_int_equal(res.next_step, IAM_LOGIN_DONE);
		assert_int_equal(count(&f, "SELECT COUNT(*) FROM audit_log WHERE action IN "
		                           "('iam.totp.enrolled', 'iam.totp.removed')"),
		                 2);
		close_fx(&f);
	}
}

static void wrong_codes_lock(void **state)
{
	(void)state;
	fx f;
	open_fx(&f, "sqlite");
	yz_actor who = user(&f, "chenjing.fgw");
	yz_actor from = from_ip();
	yz_err e = {0};
	iam_totp_secret sec;
	assert_int_equal(iam_totp_begin(f.s, &who, "x", &sec, &e), YZ_OK);
	char code[8];
	code_now(sec.secret, 0, code);
	assert_int_equal(iam_totp_confirm(f.s, &who, code, &e), YZ_OK);
	/* four wrong codes over two pending sign-ins, then the fifth locks */
	iam_login_result res;
	for (int i = 0; i < 5; i++) {
		if (i % 3 == 0)
			assert_int_equal(iam_login(f.s, &policy, &from, "chenjing.fgw",
			                           "Yizhan@2026", NULL, &res, &e),
			                 YZ_OK);
		char pending[64];
		yz_strlcpy(pending, res.pending, sizeof pending);
		yz_err we = {0};
		yz_status st =
		    iam_login_totp(f.s, &policy, &from, pending, "123456", NULL, &res, &we);
		assert_int_equal(st, i < 4 ? YZ_EUNAUTH : YZ_ELOCKED);
		yz_strlcpy(res.pending, pending, sizeof res.pending);
	}
	/* locked: even the password alone is refused now */
	yz_err le = {0};
	assert_int_equal(
	    iam_login(f.s, &policy, &from, "chenjing.fgw", "Yizhan@2026", NULL, &res, &le),
	    YZ_ELOCKED);
	assert_int_equal(count(&f, "SELECT COUNT(*) FROM iam_login_pending"), 0);
	close_fx(&f);
}

static void required_role_enrols_first(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		fx f;
		open_fx(&f, be[b]);
		yz_actor from = from_ip();
		yz_err e = {0};
		iam_login_result res;
		/* admin holds sys_admin, which the policy names */
		assert_int_equal(
		    iam_login(f.s, &policy, &from, "admin", "Admin@2026!", NULL, &res, &e), YZ_OK);
		assert_int_equal(res.next_step, IAM_LOGIN_TOTP_ENROL);
		assert_string_equal(res.token, "");
		char pending[64];
		yz_strlcpy(pending, res.pending, sizeof pending);
		/* a code before any secret is no way round */
		yz_err we = {0};
		assert_int_equal(
		    iam_login_totp(f.s, &policy, &from, pending, "123456", NULL, &res, &we),
		    YZ_EUNAUTH);
		iam_totp_secret sec, again;
		assert_int_equal(iam_login_enrol_secret(f.s, pending, "平台", &sec, &e), YZ_OK);
		/* asking again shows the same secret (the app may have it already) */
		assert_int_equal(iam_login_enrol_secret(f.s, pending, "平台", &again, &e), YZ_OK);
		assert_string_equal(sec.secret, again.secret);
		char code[8];
		code_now(sec.secret, 0, code);
		assert_int_equal(iam_login_totp(f.s, &policy, &from, pending, code, "ua", &res, &e),
		                 YZ_OK);
		assert_true(strlen(res.token) > 20);
		/* from now on a code is asked for */
		assert_int_equal(
		    iam_login(f.s, &policy, &from, "admin", "Admin@2026!", NULL, &res, &e), YZ_OK);
		assert_int_equal(res.next_step, IAM_LOGIN_TOTP);
		/* and the holder cannot remove it */
		yz_actor who = user(&f, "admin");
		clock_advance(30000);
		code_now(sec.secret, 0, code);
		yz_err re = {0};
		assert_int_equal(iam_totp_remove(f.s, &policy, &who, code, &re), YZ_EREFUSED);
		json_t *st = NULL;
		store_conn *c;
		assert_int_equal(store_reader(f.s, &c, NULL), YZ_OK);
		assert_int_equal(iam_totp_status(c, &policy, who.user_id, &st, &e), YZ_OK);
		assert_true(jx_bool(st, "enrolled", false));
		assert_true(jx_bool(st, "required", false));
		json_decref(st);
		/* an administrator resets it (a lost phone): enrolment again next time */
		yz_actor sys = actor_system("test");
		assert_int_equal(iam_totp_reset(f.s, &sys, who.user_id, &e), YZ_OK);
		assert_int_equal(
		    iam_login(f.s, &policy, &from, "admin", "Admin@2026!", NULL, &res, &e), YZ_OK);
		assert_int_equal(res.next_step, IAM_LOGIN_TOTP_ENROL);
		/* a clerk is not obliged */
		assert_int_equal(
		    iam_login(f.s, &policy, &from, "chenjing.fgw", "Yizhan@2026", NULL, &res, &e),
		    YZ_OK);
		assert_int_equal(res.next_step, IAM_LOGIN_DONE);
		/* a pending sign-in lasts ten minutes */
		assert_int_equal(
		    iam_login(f.s, &policy, &from, "secadmin", "SecAdmin@2026!", NULL, &res, &e),
		    YZ_OK);
		assert_int_equal(res.next_step, IAM_LOGIN_TOTP_ENROL);
		yz_strlcpy(pending, res.pending, sizeof pending);
		clock_advance(11 * 60000);
		assert_int_equal(iam_login_enrol_secret(f.s, pending, "平台", &sec, &we),
		                 YZ_EUNAUTH);
		close_fx(&f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(rfc6238_vectors),
	    cmocka_unit_test(enrol_and_sign_in),
	    cmocka_unit_test(wrong_codes_lock),
	    cmocka_unit_test(required_role_enrols_first),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
