/*
 * iam_certlogin.c — opening a session for a user whom another module has
 * already authenticated by a certificate (the pki: a TLS client certificate
 * or an SM2 signature over a challenge, the certificate's chain, validity and
 * revocation status checked there). The account rules are the password
 * login's: a disabled or locked account is refused; a success resets the
 * failure count and is audited with the method and the certificate.
 */
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "crypto/crypto.h"
#include "iam/iam_int.h"

typedef struct cert_login_job {
	const iam_policy *p;
	yz_actor who;
	int64_t user_id;
	const char *path, *session_id, *csrf, *user_agent, *method, *certificate;
} cert_login_job;

static yz_status cert_login_fn(store_conn *tx, void *arg, yz_err *e)
{
	cert_login_job *j = arg;
	int64_t now = clock_now_ms();
	store_val a[] = {sv_int(now), sv_int(now), sv_int(j->user_id)};
	yz_status st = store_exec(tx,
	                          "UPDATE iam_user SET failed_count = 0, last_login_at = ?, "
	                          "updated_at = ? WHERE id = ?",
	                          a, 3, e);
	char ua[201];
	yz_strlcpy(ua, j->user_agent ? j->user_agent : "", sizeof ua);
	store_val s[] = {sv_text(j->session_id), sv_int(j->user_id), sv_text(j->csrf), sv_int(now),
	                 sv_int(now), sv_int(now + (int64_t)j->p->session_max_hours * 3600000),
	                 sv_text(j->who.ip), sv_text(ua),
	                 /* RFC 8176: a key in hardware (a USB key signing a challenge)
	                  * or in software (a browser's TLS client certificate) */
	                 sv_text(!strcmp(j->method, "sm2-challenge") ? "hwk" : "swk")};
	if (st == YZ_OK)
		st = store_exec(
		    tx,
		    "INSERT INTO iam_session (id, user_id, csrf, created_at, last_seen, "
		    "expires_at, ip, user_agent, amr) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
		    s, SV_N(s), e);
	if (st != YZ_OK)
		return st;
	char obj[64];
	snprintf(obj, sizeof obj, "user:%lld", (long long)j->user_id);
	json_t *c = json_pack("{s:s, s:s}", "method", j->method, "certificate", j->certificate);
	st = audit_append(tx, &j->who, "iam.login", obj, j->path[0] ? j->path : NULL, c, e);
	json_decref(c);
	return st;
}

yz_status iam_login_verified(store *s, const iam_policy *p, const yz_actor *from, int64_t user_id,
                             const char *method, const char *certificate, const char *user_agent,
                             iam_login_result *out, yz_err *e)
{
	memset(out, 0, sizeof *out);
	store_conn *c;
	yz_status st = store_reader(s, &c, e);
	if (st != YZ_OK)
		return st;
	store_rows *r;
	store_val a[] = {sv_int(user_id)};
	st = store_query(c,
	                 "SELECT u.status, u.locked_until, u.login, COALESCE(u.org_id, 0), "
	                 "COALESCE(o.path, '') FROM iam_user u LEFT JOIN iam_org o ON o.id = "
	                 "u.org_id WHERE u.id = ?",
	                 a, 1, &r, e);
	if (st != YZ_OK)
		return st;
	bool found = store_next(r);
	char status[16] = "", login[64] = "", path[IAM_PATH_MAX] = "";
	int64_t locked = 0, org = 0;
	if (found) {
		yz_strlcpy(status, store_col_text(r, 0), sizeof status);
		locked = store_col_int(r, 1);
		yz_strlcpy(login, store_col_text(r, 2), sizeof login);
		org = store_col_int(r, 3);
		yz_strlcpy(path, store_col_text(r, 4), sizeof path);
	}
	if ((st = store_rows_close(r, e)) != YZ_OK)
		return st;
	if (!found)
		return yz_fail(e, YZ_EUNAUTH, "the certificate's holder has no account here");
	if (strcmp(status, "active") != 0)
		return yz_fail(e, YZ_EFORBIDDEN, "the account is disabled");
	if (locked > clock_now_ms()) {
		out->locked_until = locked;
		char until[40];
		clock_format_city_human(locked, until, sizeof until);
		return yz_fail(e, YZ_ELOCKED, "the account is locked until %s", until);
	}
	if (crypto_random_token(32, out->token, sizeof out->token) != YZ_OK ||
	    crypto_random_token(18, out->csrf, sizeof out->csrf) != YZ_OK)
		return yz_fail(e, YZ_ECRYPTO, "no randomness for a session");
	char sid[65];
	iam_session_id_of(out->token, sid);
	cert_login_job j = {.p = p,
	                    .who = *from,
	                    .user_id = user_id,
	                    .path = path,
	                    .session_id = sid,
	                    .csrf = out->csrf,
	                    .user_agent = user_agent,
	                    .method = method,
	                    .certificate = certificate ? certificate : ""};
	j.who.user_id = user_id;
	j.who.org_id = org;
	j.who.scope.all = true;
	yz_strlcpy(j.who.login, login, sizeof j.who.login);
	st = store_write(s, cert_login_fn, &j, e);
	if (st != YZ_OK) {
		memset(out, 0, sizeof *out);
		return st;
	}
	out->user_id = user_id;
	iam_cache_invalidate();
	return YZ_OK;
}
