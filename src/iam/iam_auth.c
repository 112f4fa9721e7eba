/*
 * iam_auth.c — password login with lockout, sessions, and authorisation
 * (permission → data scope).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/slice.h"
#include "crypto/crypto.h"
#include "iam/iam_int.h"
#include "iam/oidc.h"

#define TOUCH_EVERY_MS 60000

void iam_session_id_of(const char *token, char out[65])
{
	unsigned char d[CRYPTO_SM3_LEN];
	crypto_sm3(token, strlen(token), d);
	hex_encode(d, sizeof d, out);
}

typedef struct login_row {
	bool found;
	int64_t id, org_id, locked_until;
	char hash[200], status[16], login[64];
	char path[IAM_PATH_MAX];
} login_row;

static yz_status read_login(store *s, const char *login, login_row *u, yz_err *e)
{
	memset(u, 0, sizeof *u);
	store_conn *c;
	yz_status st = store_reader(s, &c, e);
	if (st != YZ_OK)
		return st;
	store_rows *r;
	store_val a[] = {sv_text(login)};
	st = store_query(
	    c,
	    "SELECT u.id, COALESCE(u.org_id, 0), u.locked_until, u.pw_hash, u.status, "
	    "u.login, COALESCE(o.path, '') FROM iam_user u LEFT JOIN iam_org o ON o.id = "
	    "u.org_id WHERE u.login = ?",
	    a, 1, &r, e);
	if (st != YZ_OK)
		return st;
	if (store_next(r)) {
		u->found = true;
		u->id = store_col_int(r, 0);
		u->org_id = store_col_int(r, 1);
		u->locked_until = store_col_int(r, 2);
		yz_strlcpy(u->hash, store_col_text(r, 3), sizeof u->hash);
		yz_strlcpy(u->status, store_col_text(r, 4), sizeof u->status);
		yz_strlcpy(u->login, store_col_text(r, 5), sizeof u->login);
		yz_strlcpy(u->path, store_col_text(r, 6), sizeof u->path);
	}
	return store_rows_close(r, e);
}

yz_status iam_login_failed_tx(store_conn *tx, const iam_policy *p, const yz_actor *who,
                              int64_t user_id, const char *org_path, const char *action,
                              int64_t *locked_until, yz_err *e)
{
	int64_t now = clock_now_ms();
	char obj[32];
	snprintf(obj, sizeof obj, "user:%lld", (long long)user_id);
	const char *path = org_path && org_path[0] ? org_path : NULL;
	int64_t failed = 0;
	store_val a[] = {sv_int(now), sv_int(user_id)};
	yz_status st = store_query_int(tx,
	                               "UPDATE iam_user SET failed_count = failed_count + 1, "
	                               "updated_at = ? WHERE id = ? RETURNING failed_count",
	                               a, 2, &failed, e);
	if (st != YZ_OK)
		return st;
	st = audit_append(tx, who, action, obj, path, NULL, e);
	if (st != YZ_OK || failed < p->lockout_failures)
		return st;
	*locked_until = now + (int64_t)p->lockout_minutes * 60000;
	store_val b[] = {sv_int(*locked_until), sv_int(user_id)};
	st = store_exec(tx, "UPDATE iam_user SET locked_until = ?, failed_count = 0 WHERE id = ?",
	                b, 2, e);
	if (st != YZ_OK)
		return st;
	/* a sign-in that waited for its second factor cannot go on */
	store_val c[] = {sv_int(user_id)};
	st = store_exec(tx, "DELETE FROM iam_login_pending WHERE user_id = ?", c, 1, e);
	if (st != YZ_OK)
		return st;
	json_t *ch =
	    json_pack("{s:I, s:i}", "failures", (json_int_t)failed, "minutes", p->lockout_minutes);
	st = audit_append(tx, who, "iam.user.locked", obj, path, ch, e);
	json_decref(ch);
	return st;
}

yz_status iam_session_open_tx(store_conn *tx, const iam_policy *p, const yz_actor *who,
                              int64_t user_id, const char *org_path, const char *session_id,
                              const char *csrf, const char *amr, const char *new_hash,
                              const char *user_agent, yz_err *e)
{
	int64_t now = clock_now_ms();
	store_val a[] = {sv_int(now), sv_text(new_hash), sv_int(now), sv_int(user_id)};
	yz_status st =
	    store_exec(tx,
	               "UPDATE iam_user SET failed_count = 0, locked_until = 0, "
	               "last_login_at = ?, pw_hash = COALESCE(?, pw_hash), updated_at = ? "
	               "WHERE id = ?",
	               a, 4, e);
	if (st != YZ_OK)
		return st;
	char ua[201];
	yz_strlcpy(ua, user_agent ? user_agent : "", sizeof ua);
	store_val s[] = {sv_text(session_id), sv_int(user_id),
	                 sv_text(csrf),       sv_int(now),
	                 sv_int(now),         sv_int(now + (int64_t)p->session_max_hours * 3600000),
	                 sv_text(who->ip),    sv_text(ua),
	                 sv_text(amr)};
	st = store_exec(tx,
	                "INSERT INTO iam_session (id, user_id, csrf, created_at, last_seen, "
	                "expires_at, ip, user_agent, amr) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
	                s, SV_N(s), e);
	if (st != YZ_OK)
		return st;
	char obj[32];
	snprintf(obj, sizeof obj, "user:%lld", (long long)user_id);
	/* a password alone is the common case and keeps its record short */
	json_t *ch = strcmp(amr, "pwd") != 0 ? json_pack("{s:s}", "amr", amr) : NULL;
	st = audit_append(tx, who, "iam.login", obj, org_path && org_path[0] ? org_path : NULL, ch,
	                  e);
	json_decref(ch);
	return st;
}

typedef enum login_outcome {
	LOGIN_FAILED = 1, /* wrong login or password */
	LOGIN_TOTP_WRONG, /* right password, a wrong (or replayed) TOTP code */
	LOGIN_SESSION,    /* signed in */
	LOGIN_PENDING,    /* right password; a second factor must follow */
} login_outcome;

typedef struct login_job {
	const iam_policy *p;
	yz_actor who; /* the user once known, else anonymous with the caller's ip/rid */
	const login_row *u;
	const char *attempted;
	const char *new_hash; /* rehash on success, or NULL */
	const char *session_id, *csrf, *user_agent, *amr;
	login_outcome outcome;
	int64_t totp_step; /* a code given with the password: its step */
	const char *stage; /* LOGIN_PENDING: "totp" or "enrol" */
	const char *pending_id;
	int64_t locked_until; /* out: set when this failure locked the account */
	bool replayed;        /* out: the TOTP step had been used already */
} login_job;

static yz_status login_job_fn(store_conn *tx, void *arg, yz_err *e)
{
	login_job *j = arg;
	j->locked_until = 0;
	j->replayed = false;
	int64_t now = clock_now_ms();
	if (j->outcome == LOGIN_FAILED && !j->u->found) {
		char obj[96];
		snprintf(obj, sizeof obj, "login:%.80s", j->attempted);
		return audit_append(tx, &j->who, "iam.login.failed", obj, NULL, NULL, e);
	}
	if (j->outcome == LOGIN_FAILED)
		return iam_login_failed_tx(tx, j->p, &j->who, j->u->id, j->u->path,
		                           "iam.login.failed", &j->locked_until, e);
	if (j->outcome == LOGIN_SESSION && j->totp_step) {
		bool used = false;
		yz_status st = iam_totp_use_tx(tx, j->u->id, j->totp_step, &used, e);
		if (st != YZ_OK)
			return st;
		if (!used) {
			j->replayed = true;
			return iam_login_failed_tx(tx, j->p, &j->who, j->u->id, j->u->path,
			                           "iam.login.totp_failed", &j->locked_until, e);
		}
	}
	if (j->outcome == LOGIN_TOTP_WRONG)
		return iam_login_failed_tx(tx, j->p, &j->who, j->u->id, j->u->path,
		                           "iam.login.totp_failed", &j->locked_until, e);
	if (j->outcome == LOGIN_SESSION)
		return iam_session_open_tx(tx, j->p, &j->who, j->u->id, j->u->path, j->session_id,
		                           j->csrf, j->amr, j->new_hash, j->user_agent, e);
	/* LOGIN_PENDING: the password was right; the failure count stays until
	 * the second factor is right too, so that guessing codes locks the
	 * account as guessing passwords does */
	store_val a[] = {sv_text(j->pending_id), sv_int(j->u->id), sv_text(j->stage), sv_int(now),
	                 sv_int(now + IAM_PENDING_MS)};
	yz_status st = store_exec(tx,
	                          "INSERT INTO iam_login_pending (id, user_id, stage, created_at, "
	                          "expires_at) VALUES (?, ?, ?, ?, ?)",
	                          a, SV_N(a), e);
	if (st == YZ_OK && j->new_hash) {
		store_val b[] = {sv_text(j->new_hash), sv_int(j->u->id)};
		st = store_exec(tx, "UPDATE iam_user SET pw_hash = ? WHERE id = ?", b, 2, e);
	}
	if (st != YZ_OK)
		return st;
	char obj[32];
	snprintf(obj, sizeof obj, "user:%lld", (long long)j->u->id);
	json_t *ch = json_pack("{s:s}", "next", j->stage);
	st = audit_append(tx, &j->who, "iam.login.password", obj, j->u->path[0] ? j->u->path : NULL,
	                  ch, e);
	json_decref(ch);
	return st;
}

static yz_status locked_error(int64_t until, bool now_locked, yz_err *e)
{
	char when[40];
	clock_format_city_human(until, when, sizeof when);
	if (now_locked)
		return yz_fail(e, YZ_ELOCKED,
		               "too many failed logins: the account is locked until %s", when);
	return yz_fail(e, YZ_ELOCKED, "the account is locked after too many failed logins until %s",
	               when);
}

yz_status iam_login(store *s, const iam_policy *p, const yz_actor *from, const char *login,
                    const char *password, const char *user_agent, iam_login_result *out, yz_err *e)
{
	return iam_login_ex(s, p, from, login, password, NULL, user_agent, out, e);
}

yz_status iam_login_ex(store *s, const iam_policy *p, const yz_actor *from, const char *login,
                       const char *password, const char *totp, const char *user_agent,
                       iam_login_result *out, yz_err *e)
{
	memset(out, 0, sizeof *out);
	bool missing = false;
	if (!login || !*login) {
		yz_field(e, "login", "required", "your login name", NULL);
		missing = true;
	}
	if (!password || !*password) {
		yz_field(e, "password", "required", "your password", NULL);
		missing = true;
	}
	if (missing)
		return YZ_EINVAL;
	if (totp && !*totp)
		totp = NULL;
	if (strlen(login) > 64 || strlen(password) > 128)
		return yz_fail(e, YZ_EUNAUTH, "wrong login or password");
	login_row u;
	yz_status st = read_login(s, login, &u, e);
	if (st != YZ_OK)
		return st;
	int64_t now = clock_now_ms();
	login_job j = {.p = p,
	               .who = *from,
	               .u = &u,
	               .attempted = login,
	               .user_agent = user_agent,
	               .amr = "pwd"};
	j.who.scope.all = true;
	if (u.found) {
		j.who.user_id = u.id;
		j.who.org_id = u.org_id;
		yz_strlcpy(j.who.login, u.login, sizeof j.who.login);
	} else {
		yz_strlcpy(j.who.login, "anonymous", sizeof j.who.login);
	}
	if (u.found && u.locked_until > now) {
		out->locked_until = u.locked_until;
		return locked_error(u.locked_until, false, e);
	}
	bool rehash = false;
	/* Unknown logins cost the same PBKDF2 work as known ones. */
	char dummy[128];
	snprintf(
	    dummy, sizeof dummy,
	    "pbkdf2-sm3$%d$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
	    p->pbkdf2_iterations);
	yz_status v = crypto_password_verify(password, u.found ? u.hash : dummy,
	                                     p->pbkdf2_iterations, &rehash);
	bool ok = u.found && v == YZ_OK;
	if (ok && strcmp(u.status, "active") != 0)
		return yz_fail(e, YZ_EFORBIDDEN, "the account is disabled");
	char new_hash[160];
	if (ok && rehash &&
	    crypto_password_hash(password, p->pbkdf2_iterations, new_hash, sizeof new_hash) ==
	        YZ_OK)
		j.new_hash = new_hash;
	j.outcome = ok ? LOGIN_SESSION : LOGIN_FAILED;
	/* the second factor: a confirmed TOTP asks for its code; a role that
	 * requires one without it sends the user to enrol first */
	bool enrolled = false, required = false;
	if (ok) {
		store_conn *c;
		st = store_reader(s, &c, e);
		if (st == YZ_OK)
			st = iam_totp_match(c, u.id, totp, true, &enrolled, &j.totp_step, e);
		if (st == YZ_OK && !enrolled)
			st = iam_totp_required_tx(c, p, u.id, &required, e);
		if (st != YZ_OK)
			return st;
		if (enrolled && totp && !j.totp_step)
			j.outcome = LOGIN_TOTP_WRONG;
		else if (enrolled && !totp)
			j.outcome = LOGIN_PENDING, j.stage = "totp";
		else if (!enrolled && required)
			j.outcome = LOGIN_PENDING, j.stage = "enrol";
		else if (enrolled)
			j.amr = "pwd otp";
	}
	char sid[65], pid[65];
	if (j.outcome == LOGIN_SESSION) {
		if (crypto_random_token(32, out->token, sizeof out->token) != YZ_OK ||
		    crypto_random_token(18, out->csrf, sizeof out->csrf) != YZ_OK)
			return yz_fail(e, YZ_ECRYPTO, "no randomness for a session");
		iam_session_id_of(out->token, sid);
		j.session_id = sid;
		j.csrf = out->csrf;
	} else if (j.outcome == LOGIN_PENDING) {
		if (crypto_random_token(32, out->pending, sizeof out->pending) != YZ_OK)
			return yz_fail(e, YZ_ECRYPTO, "no randomness for a sign-in");
		iam_session_id_of(out->pending, pid);
		j.pending_id = pid;
	}
	st = store_write(s, login_job_fn, &j, e);
	if (st != YZ_OK) {
		memset(out, 0, sizeof *out);
		return st;
	}
	if (j.outcome == LOGIN_SESSION && !j.replayed) {
		out->user_id = u.id;
		return YZ_OK;
	}
	if (j.outcome == LOGIN_PENDING) {
		out->user_id = u.id;
		out->next_step = !strcmp(j.stage, "totp") ? IAM_LOGIN_TOTP : IAM_LOGIN_TOTP_ENROL;
		return YZ_OK;
	}
	memset(out, 0, sizeof *out);
	if (j.locked_until) {
		out->locked_until = j.locked_until;
		return locked_error(j.locked_until, true, e);
	}
	if (j.outcome == LOGIN_FAILED)
		return yz_fail(e, YZ_EUNAUTH, "wrong login or password");
	yz_field(e, "totp", "matches", "the current 6-digit code of your authenticator app", NULL);
	return yz_fail(e, YZ_EUNAUTH, "wrong or already used authentication code");
}

typedef struct touch_ctx {
	char id[65];
	int64_t now;
	bool remove;
} touch_ctx;

static yz_status touch_job(store_conn *tx, void *arg, yz_err *e)
{
	touch_ctx *t = arg;
	if (t->remove) {
		store_val a[] = {sv_text(t->id)};
		return store_exec(tx, "DELETE FROM iam_session WHERE id = ?", a, 1, e);
	}
	store_val a[] = {sv_int(t->now), sv_text(t->id)};
	return store_exec(tx, "UPDATE iam_session SET last_seen = ? WHERE id = ?", a, 2, e);
}

yz_status iam_session_resolve(store *s, const iam_policy *p, const char *token,
                              iam_session_info *out, yz_err *e)
{
	memset(out, 0, sizeof *out);
	size_t tl = strlen(token);
	if (tl < 20 || tl > 64)
		return yz_fail(e, YZ_EUNAUTH, "no session");
	char sid[65];
	iam_session_id_of(token, sid);
	store_conn *c;
	yz_status st = store_reader(s, &c, e);
	if (st != YZ_OK)
		return st;
	store_rows *r;
	store_val a[] = {sv_text(sid)};
	st = store_query(
	    c,
	    "SELECT s.user_id, s.csrf, s.last_seen, s.expires_at, u.login, u.name, u.kind, "
	    "COALESCE(u.org_id, 0), u.status FROM iam_session s JOIN iam_user u ON u.id = "
	    "s.user_id WHERE s.id = ?",
	    a, 1, &r, e);
	if (st != YZ_OK)
		return st;
	bool found = store_next(r);
	int64_t last = 0, expires = 0;
	bool active = false;
	if (found) {
		out->user_id = store_col_int(r, 0);
		yz_strlcpy(out->csrf, store_col_text(r, 1), sizeof out->csrf);
		last = store_col_int(r, 2);
		expires = store_col_int(r, 3);
		yz_strlcpy(out->login, store_col_text(r, 4), sizeof out->login);
		yz_strlcpy(out->name, store_col_text(r, 5), sizeof out->name);
		out->kind = iam_kind_parse(store_col_text(r, 6));
		out->org_id = store_col_int(r, 7);
		active = !strcmp(store_col_text(r, 8), "active");
	}
	st = store_rows_close(r, e);
	if (st != YZ_OK)
		return st;
	int64_t now = clock_now_ms();
	touch_ctx t = {.now = now};
	memcpy(t.id, sid, sizeof t.id);
	if (!found)
		return yz_fail(e, YZ_EUNAUTH, "no session");
	if (!active || now >= expires || now - last > (int64_t)p->session_idle_minutes * 60000) {
		t.remove = true;
		/* bookkeeping: if it cannot be queued the row expires anyway */
		yz_status ignored = store_write_detached(s, touch_job, &t, sizeof t, NULL);
		(void)ignored;
		memset(out, 0, sizeof *out);
		return yz_fail(e, YZ_EUNAUTH, "the session has ended");
	}
	if (now - last > TOUCH_EVERY_MS) {
		/* a lost touch only shortens the idle window by a minute */
		yz_status ignored = store_write_detached(s, touch_job, &t, sizeof t, NULL);
		(void)ignored;
	}
	memcpy(out->session, sid, sizeof out->session);
	return YZ_OK;
}

typedef struct logout_job {
	const yz_actor *who;
	const char *sid;
} logout_job;

static yz_status logout_fn(store_conn *tx, void *arg, yz_err *e)
{
	logout_job *j = arg;
	store_val a[] = {sv_text(j->sid)};
	yz_status st = store_exec(tx, "DELETE FROM iam_session WHERE id = ?", a, 1, e);
	if (st != YZ_OK || store_changes(tx) == 0)
		return st;
	/* single sign-out: what applications got under this session ends too */
	st = iam_oidc_session_ended_tx(tx, j->sid, e);
	if (st != YZ_OK)
		return st;
	char obj[32];
	snprintf(obj, sizeof obj, "user:%lld", (long long)j->who->user_id);
	return audit_append(tx, j->who, "iam.logout", obj, NULL, NULL, e);
}

yz_status iam_logout(store *s, const yz_actor *who, const char *session, yz_err *e)
{
	logout_job j = {who, session};
	yz_status st = store_write(s, logout_fn, &j, e);
	iam_cache_invalidate();
	return st;
}

yz_status iam_session_auth(store_conn *c, const char *session_id, int64_t *user_id,
                           int64_t *auth_time, char *amr, size_t cap, yz_err *e)
{
	store_rows *r;
	store_val a[] = {sv_text(session_id)};
	yz_status st = store_query(
	    c, "SELECT user_id, created_at, amr FROM iam_session WHERE id = ?", a, 1, &r, e);
	if (st != YZ_OK)
		return st;
	bool found = store_next(r);
	if (found) {
		*user_id = store_col_int(r, 0);
		*auth_time = store_col_int(r, 1);
		yz_strlcpy(amr, store_col_text(r, 2), cap);
	}
	st = store_rows_close(r, e);
	if (st == YZ_OK && !found)
		st = yz_fail(e, YZ_EUNAUTH, "the session has ended");
	return st;
}

/* ---- authorisation ---- */

typedef struct grant {
	const char *perm;
	int64_t org_id;
	const char *path;
} grant;

struct iam_authz {
	grant *g;
	int n;
};

/* A path with one segment ("/1/") is the city root: it covers everything. */
static bool is_root_path(const char *p)
{
	return p[0] == '/' && strchr(p + 1, '/') && strchr(p + 1, '/')[1] == '\0';
}

yz_status iam_authz_load(store_conn *c, int64_t user_id, arena *a, iam_authz **out, yz_err *e)
{
	*out = NULL;
	iam_authz *z = arena_zalloc(a, sizeof *z);
	if (!z)
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	store_rows *r;
	store_val args[] = {sv_int(user_id)};
	yz_status st = store_query(c,
	                           "SELECT rp.perm, o.id, o.path FROM iam_user_role ur JOIN "
	                           "iam_role_perm rp ON rp.role_id = ur.role_id JOIN iam_org o ON "
	                           "o.id = ur.scope_org_id WHERE ur.user_id = ?",
	                           args, 1, &r, e);
	if (st != YZ_OK)
		return st;
	int cap = 0;
	while (store_next(r)) {
		if (z->n == cap) {
			int nc = cap ? cap * 2 : 16;
			grant *ng = arena_alloc(a, sizeof *ng * (size_t)nc);
			if (!ng)
				break;
			if (z->n)
				memcpy(ng, z->g, sizeof *ng * (size_t)z->n);
			z->g = ng;
			cap = nc;
		}
		grant *g = &z->g[z->n++];
		g->perm = arena_strdup(a, store_col_text(r, 0));
		g->org_id = store_col_int(r, 1);
		g->path = arena_strdup(a, store_col_text(r, 2));
	}
	st = store_rows_close(r, e);
	if (st != YZ_OK)
		return st;
	*out = z;
	return YZ_OK;
}

bool iam_authz_allows(const iam_authz *z, const char *perm, arena *a, yz_scope *scope)
{
	*scope = (yz_scope){0};
	if (!z)
		return false;
	int n = 0;
	for (int i = 0; i < z->n; i++)
		if (!strcmp(z->g[i].perm, perm))
			n++;
	if (!n)
		return false;
	int64_t *orgs = arena_alloc(a, sizeof *orgs * (size_t)n);
	const char **paths = arena_alloc(a, sizeof *paths * (size_t)n);
	if (!orgs || !paths)
		return false;
	int k = 0;
	for (int i = 0; i < z->n; i++) {
		if (strcmp(z->g[i].perm, perm) != 0)
			continue;
		if (is_root_path(z->g[i].path))
			scope->all = true;
		orgs[k] = z->g[i].org_id;
		paths[k] = z->g[i].path;
		k++;
	}
	scope->n = k;
	scope->orgs = orgs;
	scope->paths = paths;
	return true;
}

json_t *iam_authz_json(const iam_authz *z)
{
	json_t *o = json_object();
	for (int i = 0; z && i < z->n; i++) {
		json_t *arr = json_object_get(o, z->g[i].perm);
		if (!arr) {
			arr = json_array();
			json_object_set_new(o, z->g[i].perm, arr);
		}
		/* two roles may grant one permission over the same subtree: once */
		bool seen = false;
		for (size_t k = 0; k < json_array_size(arr) && !seen; k++)
			seen = !strcmp(json_string_value(json_array_get(arr, k)), z->g[i].path);
		if (!seen)
			json_array_append_new(arr, json_string(z->g[i].path));
	}
	return o;
}

/* ---- the request cache ---- */

#define CACHE_SLOTS 512 /* direct-mapped by a hash of the token */

typedef struct cached_grant {
	char perm[48];
	char path[128];
	int64_t org_id;
} cached_grant;

typedef struct cache_slot {
	char token[65];
	uint64_t epoch;
	int64_t until_ms;
	iam_session_info si;
	cached_grant *g;
	int n;
} cache_slot;

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static cache_slot cache[CACHE_SLOTS];
static _Atomic uint64_t cache_epoch = 1;

void iam_cache_invalidate(void)
{
	atomic_fetch_add(&cache_epoch, 1);
}

static unsigned token_slot(const char *t)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *t; t++) {
		h ^= (unsigned char)*t;
		h *= 1099511628211ULL;
	}
	return (unsigned)(h % CACHE_SLOTS);
}

/* Copy cached grants into the arena as an iam_authz. */
static iam_authz *authz_from(const cached_grant *g, int n, arena *a)
{
	iam_authz *z = arena_zalloc(a, sizeof *z);
	if (!z)
		return NULL;
	z->g = n ? arena_alloc(a, sizeof *z->g * (size_t)n) : NULL;
	if (n && !z->g)
		return NULL;
	for (int i = 0; i < n; i++) {
		z->g[i].perm = arena_strdup(a, g[i].perm);
		z->g[i].path = arena_strdup(a, g[i].path);
		z->g[i].org_id = g[i].org_id;
	}
	z->n = n;
	return z;
}

yz_status iam_request_auth(store *s, const iam_policy *p, const char *token, arena *a,
                           iam_session_info *out, iam_authz **authz, yz_err *e)
{
	*authz = NULL;
	size_t tl = strlen(token);
	if (tl < 20 || tl > 64)
		return yz_fail(e, YZ_EUNAUTH, "no session");
	unsigned k = token_slot(token);
	uint64_t epoch = atomic_load(&cache_epoch);
	int64_t now = clock_now_ms();
	pthread_mutex_lock(&cache_mu);
	cache_slot *c = &cache[k];
	if (c->epoch == epoch && now < c->until_ms && !strcmp(c->token, token)) {
		*out = c->si;
		*authz = authz_from(c->g, c->n, a);
		pthread_mutex_unlock(&cache_mu);
		if (*authz)
			return YZ_OK;
	} else {
		pthread_mutex_unlock(&cache_mu);
	}
	/* a miss: the database, then remember the answer */
	yz_status st = iam_session_resolve(s, p, token, out, e);
	if (st != YZ_OK)
		return st;
	store_conn *conn;
	st = store_reader(s, &conn, e);
	if (st == YZ_OK)
		st = iam_authz_load(conn, out->user_id, a, authz, e);
	if (st != YZ_OK)
		return st;
	const iam_authz *z = *authz;
	cached_grant *g = z->n ? calloc((size_t)z->n, sizeof *g) : NULL;
	if (z->n && !g)
		return YZ_OK; /* no room to cache: answer anyway */
	for (int i = 0; i < z->n; i++) {
		yz_strlcpy(g[i].perm, z->g[i].perm, sizeof g[i].perm);
		yz_strlcpy(g[i].path, z->g[i].path, sizeof g[i].path);
		g[i].org_id = z->g[i].org_id;
	}
	pthread_mutex_lock(&cache_mu);
	c = &cache[k];
	free(c->g);
	yz_strlcpy(c->token, token, sizeof c->token);
	c->epoch = epoch; /* the epoch read before the database: a change meanwhile wins */
	c->until_ms = now + IAM_CACHE_MS;
	c->si = *out;
	c->g = g;
	c->n = z->n;
	pthread_mutex_unlock(&cache_mu);
	return YZ_OK;
}

/* ---- for engines that route work ---- */

yz_status iam_user_roles(store_conn *c, int64_t user_id, arena *a, iam_grant **out, int *n,
                         yz_err *e)
{
	*out = NULL;
	*n = 0;
	store_rows *r;
	store_val args[] = {sv_int(user_id)};
	yz_status st =
	    store_query(c,
	                "SELECT r.code, o.id, o.path FROM iam_user_role ur JOIN iam_role r "
	                "ON r.id = ur.role_id JOIN iam_org o ON o.id = ur.scope_org_id "
	                "JOIN iam_user u ON u.id = ur.user_id WHERE ur.user_id = ? AND "
	                "u.status = 'active'",
	                args, 1, &r, e);
	if (st != YZ_OK)
		return st;
	int cap = 0;
	while (store_next(r)) {
		if (*n == cap) {
			int nc = cap ? cap * 2 : 8;
			iam_grant *g = arena_alloc(a, sizeof *g * (size_t)nc);
			if (!g)
				break;
			if (*n)
				memcpy(g, *out, sizeof *g * (size_t)*n);
			*out = g;
			cap = nc;
		}
		iam_grant *g = &(*out)[(*n)++];
		g->role = arena_strdup(a, store_col_text(r, 0));
		g->org_id = store_col_int(r, 1);
		g->path = arena_strdup(a, store_col_text(r, 2));
	}
	return store_rows_close(r, e);
}

yz_status iam_user_find(store_conn *c, const char *login, int64_t *id, int64_t *org_id,
                        char *org_path, size_t cap, yz_err *e)
{
	store_rows *r;
	store_val a[] = {sv_text(login)};
	yz_status st =
	    store_query(c,
	                "SELECT u.id, COALESCE(u.org_id, 0), COALESCE(o.path, '') FROM "
	                "iam_user u LEFT JOIN iam_org o ON o.id = u.org_id WHERE u.login = "
	                "? AND u.status = 'active'",
	                a, 1, &r, e);
	if (st != YZ_OK)
		return st;
	bool found = store_next(r);
	if (found) {
		*id = store_col_int(r, 0);
		*org_id = store_col_int(r, 1);
		yz_strlcpy(org_path, store_col_text(r, 2), cap);
	}
	st = store_rows_close(r, e);
	if (st == YZ_OK && !found)
		st = yz_fail(e, YZ_ENOTFOUND, "no active user %s", login);
	return st;
}

yz_status iam_role_holders(store_conn *c, const char *role, const char *org_path, arena *a,
                           int64_t **ids, int *n, yz_err *e)
{
	*ids = NULL;
	*n = 0;
	store_rows *r;
	store_val args[] = {sv_text(role)};
	yz_status st =
	    store_query(c,
	                "SELECT DISTINCT ur.user_id, o.path FROM iam_user_role ur JOIN "
	                "iam_role r ON r.id = ur.role_id JOIN iam_org o ON o.id = "
	                "ur.scope_org_id JOIN iam_user u ON u.id = ur.user_id WHERE r.code = ? "
	                "AND u.status = 'active' ORDER BY ur.user_id",
	                args, 1, &r, e);
	if (st != YZ_OK)
		return st;
	int cap = 0;
	while (store_next(r)) {
		const char *scope = store_col_text(r, 1);
		if (strncmp(org_path, scope, strlen(scope)) != 0)
			continue;
		int64_t uid = store_col_int(r, 0);
		if (*n && (*ids)[*n - 1] == uid)
			continue;
		if (*n == cap) {
			int nc = cap ? cap * 2 : 8;
			int64_t *x = arena_alloc(a, sizeof *x * (size_t)nc);
			if (!x)
				break;
			if (*n)
				memcpy(x, *ids, sizeof *x * (size_t)*n);
			*ids = x;
			cap = nc;
		}
		(*ids)[(*n)++] = uid;
	}
	return store_rows_close(r, e);
}

yz_status iam_org_members(store_conn *c, const char *org_path, int max, arena *a, int64_t **ids,
                          int *n, yz_err *e)
{
	*ids = NULL;
	*n = 0;
	if (max < 1)
		return YZ_OK;
	*ids = arena_alloc(a, sizeof **ids * (size_t)max);
	if (!*ids)
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	char like[300];
	size_t k = 0;
	for (const char *p = org_path; *p && k + 3 < sizeof like; p++) {
		if (*p == '%' || *p == '_' || *p == '\\')
			like[k++] = '\\';
		like[k++] = *p;
	}
	like[k++] = '%';
	like[k] = '\0';
	store_rows *r;
	store_val args[] = {sv_text(like), sv_int(max)};
	yz_status st =
	    store_query(c,
	                "SELECT u.id FROM iam_user u JOIN iam_org o ON o.id = u.org_id "
	                "WHERE o.path LIKE ? ESCAPE '\\' AND u.status = 'active' "
	                "AND u.kind NOT IN ('citizen', 'enterprise') ORDER BY u.id LIMIT ?",
	                args, 2, &r, e);
	if (st != YZ_OK)
		return st;
	while (store_next(r) && *n < max)
		(*ids)[(*n)++] = store_col_int(r, 0);
	return store_rows_close(r, e);
}

yz_status iam_user_contact(store_conn *c, int64_t id, char *phone, size_t pcap, char *email,
                           size_t ecap, yz_err *e)
{
	phone[0] = email[0] = '\0';
	store_rows *r;
	store_val args[] = {sv_int(id)};
	yz_status st = store_query(c,
	                           "SELECT COALESCE(phone, ''), COALESCE(email, '') FROM iam_user "
	                           "WHERE id = ? AND status = 'active'",
	                           args, 1, &r, e);
	if (st != YZ_OK)
		return st;
	if (store_next(r)) {
		yz_strlcpy(phone, store_col_text(r, 0), pcap);
		yz_strlcpy(email, store_col_text(r, 1), ecap);
	}
	return store_rows_close(r, e);
}

static bool exists_code(store_conn *c, const char *sql, const char *code)
{
	int64_t n = 0;
	store_val a[] = {sv_text(code)};
	return store_query_int(c, sql, a, 1, &n, NULL) == YZ_OK && n > 0;
}

bool iam_role_exists(store_conn *c, const char *code)
{
	return exists_code(c, "SELECT COUNT(*) FROM iam_role WHERE code = ?", code);
}

bool iam_org_exists(store_conn *c, const char *code)
{
	return exists_code(c, "SELECT COUNT(*) FROM iam_org WHERE code = ?", code);
}
