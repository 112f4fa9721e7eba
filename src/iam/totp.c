/*
 * totp.c — TOTP as the second factor (RFC 6238 over RFC 4226: HMAC-SHA1,
 * 6 digits, 30-second steps, one step of drift either way), enrolment, and
 * the second step of a sign-in that waits for it.
 *
 * A secret is 20 random bytes, sealed under iam's key with the user id as
 * associated data (a sealed secret copied to another user does not open).
 * iam_totp.last_step is the newest step ever accepted for the user; a code
 * is accepted only for a later step, by a conditional UPDATE in the write
 * job, so the same code cannot be used twice even by two nodes at once.
 *
 * A sign-in whose password was right but which still needs a code (or an
 * enrolment first, for roles that require TOTP) is a row of
 * iam_login_pending keyed by the SM3 of a random token held by the client;
 * it lasts 10 minutes and five wrong codes. Wrong codes count as failed
 * logins of the account, so guessing codes locks it as guessing passwords
 * does.
 */
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "crypto/crypto.h"
#include "iam/iam_int.h"

#define SECRET_LEN    20
#define STEP_MS       30000
#define DIGITS        6
#define PENDING_TRIES 5
#define SEALED_MAX    (SECRET_LEN + CRYPTO_SEAL_OVERHEAD)

uint32_t iam_totp_code(const unsigned char *key, size_t n, int64_t counter, int digits)
{
	unsigned char msg[8], mac[CRYPTO_SHA1_LEN];
	uint64_t c = (uint64_t)counter;
	for (int i = 7; i >= 0; i--) {
		msg[i] = (unsigned char)c;
		c >>= 8;
	}
	crypto_hmac_sha1(key, n, msg, sizeof msg, mac);
	int off = mac[CRYPTO_SHA1_LEN - 1] & 0x0f;
	uint32_t bin = (uint32_t)(mac[off] & 0x7f) << 24 | (uint32_t)mac[off + 1] << 16 |
	               (uint32_t)mac[off + 2] << 8 | (uint32_t)mac[off + 3];
	uint32_t mod = 1;
	for (int i = 0; i < digits && i < 9; i++)
		mod *= 10;
	return bin % mod;
}

/* RFC 4648 base32 without padding (what otpauth:// URIs carry). */
static void b32_encode(const unsigned char *p, size_t n, char *out, size_t cap)
{
	static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	size_t k = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		acc = acc << 8 | p[i];
		bits += 8;
		while (bits >= 5 && k + 1 < cap) {
			out[k++] = alpha[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits > 0 && k + 1 < cap)
		out[k++] = alpha[(acc << (5 - bits)) & 31];
	out[k] = '\0';
}

/* Percent-encoding of everything but unreserved characters (RFC 3986). */
static void pct(const char *s, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t k = 0;
	for (; *s && k + 4 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			out[k++] = (char)c;
		} else {
			out[k++] = '%';
			out[k++] = hex[c >> 4];
			out[k++] = hex[c & 15];
		}
	}
	out[k] = '\0';
}

static void make_secret(const unsigned char key[SECRET_LEN], const char *issuer, const char *login,
                        iam_totp_secret *out)
{
	b32_encode(key, SECRET_LEN, out->secret, sizeof out->secret);
	char is[128], lg[128];
	pct(issuer && *issuer ? issuer : "Yizhan", is, sizeof is);
	pct(login, lg, sizeof lg);
	snprintf(out->uri, sizeof out->uri,
	         "otpauth://totp/%s:%s?secret=%s&issuer=%s&algorithm=SHA1&digits=%d&period=%d", is,
	         lg, out->secret, is, DIGITS, STEP_MS / 1000);
}

static void aad_of(int64_t user_id, char *out, size_t cap)
{
	snprintf(out, cap, "yizhan-totp:%lld", (long long)user_id);
}

static yz_status seal_secret(int64_t user_id, const unsigned char key[SECRET_LEN], buf *out,
                             yz_err *e)
{
	unsigned char kek[CRYPTO_SEAL_KEY_LEN];
	if (!iam_kek_copy(kek))
		return yz_fail(e, YZ_EINTERNAL, "iam's keys are not loaded");
	char aad[48];
	aad_of(user_id, aad, sizeof aad);
	yz_status st = crypto_seal(kek, aad, strlen(aad), key, SECRET_LEN, out);
	memset(kek, 0, sizeof kek);
	return st == YZ_OK ? st : yz_fail(e, st, "cannot seal the TOTP secret");
}

static yz_status open_secret(int64_t user_id, const void *sealed, size_t n,
                             unsigned char key[SECRET_LEN], yz_err *e)
{
	unsigned char kek[CRYPTO_SEAL_KEY_LEN];
	if (!iam_kek_copy(kek))
		return yz_fail(e, YZ_EINTERNAL, "iam's keys are not loaded");
	char aad[48];
	aad_of(user_id, aad, sizeof aad);
	buf b;
	buf_init(&b, 256);
	yz_status st = crypto_open(kek, aad, strlen(aad), sealed, n, &b);
	memset(kek, 0, sizeof kek);
	if (st == YZ_OK && b.len == SECRET_LEN)
		memcpy(key, b.p, SECRET_LEN);
	else
		st = yz_fail(e, YZ_ECRYPTO, "the TOTP secret of user %lld does not open",
		             (long long)user_id);
	if (b.p)
		memset(b.p, 0, b.len);
	buf_free(&b);
	return st;
}

typedef struct totp_row {
	bool found, confirmed;
	int64_t last_step;
	unsigned char key[SECRET_LEN];
} totp_row;

static yz_status read_totp(store_conn *c, int64_t user_id, totp_row *t, yz_err *e)
{
	memset(t, 0, sizeof *t);
	store_rows *r;
	store_val a[] = {sv_int(user_id)};
	yz_status st = store_query(
	    c, "SELECT secret_sealed, confirmed, last_step FROM iam_totp WHERE user_id = ?", a, 1,
	    &r, e);
	if (st != YZ_OK)
		return st;
	if (store_next(r)) {
		size_t n = 0;
		const void *sealed = store_col_blob(r, 0, &n);
		st = open_secret(user_id, sealed, n, t->key, e);
		t->found = st == YZ_OK;
		t->confirmed = store_col_int(r, 1) != 0;
		t->last_step = store_col_int(r, 2);
	}
	yz_status cst = store_rows_close(r, st == YZ_OK ? e : NULL);
	return st != YZ_OK ? st : cst;
}

/* The step in [now-1, now+1] newer than last whose code is `code`, or 0. */
static int64_t match_step(const totp_row *t, const char *code)
{
	if (!code || strlen(code) != DIGITS)
		return 0;
	for (int i = 0; i < DIGITS; i++)
		if (code[i] < '0' || code[i] > '9')
			return 0;
	int64_t now = clock_now_ms() / STEP_MS;
	int64_t found = 0;
	for (int64_t s = now - 1; s <= now + 1; s++) {
		char want[16];
		snprintf(want, sizeof want, "%06u", iam_totp_code(t->key, SECRET_LEN, s, DIGITS));
		/* every candidate is compared, so the time does not tell which matched */
		bool eq = crypto_equal(want, code, DIGITS);
		if (eq && s > t->last_step && !found)
			found = s;
	}
	return found;
}

yz_status iam_totp_match(store_conn *c, int64_t user_id, const char *code, bool confirmed_only,
                         bool *enrolled, int64_t *step, yz_err *e)
{
	*enrolled = false;
	*step = 0;
	totp_row t;
	yz_status st = read_totp(c, user_id, &t, e);
	if (st != YZ_OK)
		return st;
	*enrolled = t.found && t.confirmed;
	if (t.found && (t.confirmed || !confirmed_only))
		*step = match_step(&t, code);
	memset(&t, 0, sizeof t);
	return YZ_OK;
}

yz_status iam_totp_use_tx(store_conn *tx, int64_t user_id, int64_t step, bool *used, yz_err *e)
{
	*used = false;
	int64_t now = clock_now_ms();
	store_val a[] = {sv_int(step), sv_int(now), sv_int(user_id), sv_int(step)};
	yz_status st =
	    store_exec(tx,
	               "UPDATE iam_totp SET last_step = ?, confirmed = 1, confirmed_at = "
	               "COALESCE(confirmed_at, ?) WHERE user_id = ? AND last_step < ?",
	               a, SV_N(a), e);
	if (st == YZ_OK)
		*used = store_changes(tx) == 1;
	return st;
}

yz_status iam_totp_required_tx(store_conn *c, const iam_policy *p, int64_t user_id, bool *required,
                               yz_err *e)
{
	*required = false;
	const char *list = p ? p->totp_required_roles : NULL;
	if (!list || !*list)
		return YZ_OK;
	store_rows *r;
	store_val a[] = {sv_int(user_id)};
	yz_status st =
	    store_query(c,
	                "SELECT DISTINCT r.code FROM iam_user_role ur JOIN iam_role r ON "
	                "r.id = ur.role_id WHERE ur.user_id = ?",
	                a, 1, &r, e);
	if (st != YZ_OK)
		return st;
	while (!*required && store_next(r)) {
		const char *code = store_col_text(r, 0);
		size_t n = strlen(code);
		for (const char *s = list; *s && !*required;) {
			const char *end = strchr(s, ',');
			size_t len = end ? (size_t)(end - s) : strlen(s);
			const char *b = s;
			while (len && (*b == ' ' || *b == '\t'))
				b++, len--;
			while (len && (b[len - 1] == ' ' || b[len - 1] == '\t'))
				len--;
			if (len == n && !memcmp(b, code, n))
				*required = true;
			s = end ? end + 1 : s + strlen(s);
		}
	}
	return store_rows_close(r, e);
}

static yz_status user_info(store_conn *c, int64_t user_id, char *login, size_t lcap, char *path,
                           size_t pcap, yz_err *e)
{
	store_rows *r;
	store_val a[] = {sv_int(user_id)};
	yz_status st = store_query(c,
	                           "SELECT u.login, COALESCE(o.path, '') FROM iam_user u LEFT JOIN "
	                           "iam_org o ON o.id = u.org_id WHERE u.id = ?",
	                           a, 1, &r, e);
	if (st != YZ_OK)
		return st;
	bool found = store_next(r);
	if (found) {
		yz_strlcpy(login, store_col_text(r, 0), lcap);
		yz_strlcpy(path, store_col_text(r, 1), pcap);
	}
	st = store_rows_close(r, e);
	if (st == YZ_OK && !found)
		st = yz_fail(e, YZ_ENOTFOUND, "no user %lld", (long long)user_id);
	return st;
}

/* ---- enrolment ---- */

typedef struct begin_job {
	const yz_actor *who;
	int64_t user_id;
	const char *path;
	const buf *sealed;
	bool keep;     /* keep an unconfirmed secret that exists (the pending sign-in) */
	bool conflict; /* out: a confirmed secret exists */
	bool kept;     /* out: an unconfirmed one was kept */
} begin_job;

static yz_status begin_fn(store_conn *tx, void *arg, yz_err *e)
{
	begin_job *j = arg;
	j->conflict = j->kept = false;
	int64_t confirmed = -1;
	store_val a[] = {sv_int(j->user_id)};
	yz_status st = store_query_int(tx, "SELECT confirmed FROM iam_totp WHERE user_id = ?", a, 1,
	                               &confirmed, NULL);
	if (st != YZ_OK && st != YZ_ENOTFOUND)
		return yz_fail(e, st, "cannot read the TOTP state");
	if (confirmed == 1) {
		j->conflict = true;
		return YZ_OK;
	}
	if (confirmed == 0 && j->keep) {
		j->kept = true;
		return YZ_OK;
	}
	int64_t now = clock_now_ms();
	store_val b[] = {sv_int(j->user_id), sv_blob(j->sealed->p, j->sealed->len), sv_int(now)};
	st = store_exec(tx,
	                "INSERT INTO iam_totp (user_id, secret_sealed, confirmed, last_step, "
	                "created_at) VALUES (?, ?, 0, 0, ?) ON CONFLICT (user_id) DO UPDATE SET "
	                "secret_sealed = excluded.secret_sealed, confirmed = 0, last_step = 0, "
	                "created_at = excluded.created_at, confirmed_at = NULL",
	                b, SV_N(b), e);
	if (st != YZ_OK)
		return st;
	char obj[32];
	snprintf(obj, sizeof obj, "user:%lld", (long long)j->user_id);
	return audit_append(tx, j->who, "iam.totp.started", obj, j->path[0] ? j->path : NULL, NULL,
	                    e);
}

/* A new unconfirmed secret for user_id (or the unconfirmed one kept). */
static yz_status begin(store *s, const yz_actor *who, int64_t user_id, bool keep,
                       const char *issuer, iam_totp_secret *out, yz_err *e)
{
	memset(out, 0, sizeof *out);
	store_conn *c;
	char login[64], path[IAM_PATH_MAX];
	yz_status st = store_reader(s, &c, e);
	if (st == YZ_OK)
		st = user_info(c, user_id, login, sizeof login, path, sizeof path, e);
	if (st != YZ_OK)
		return st;
	unsigned char key[SECRET_LEN];
	if (crypto_random(key, sizeof key) != YZ_OK)
		return yz_fail(e, YZ_ECRYPTO, "no randomness for a TOTP secret");
	buf sealed;
	buf_init(&sealed, 256);
	st = seal_secret(user_id, key, &sealed, e);
	begin_job j = {
	    .who = who, .user_id = user_id, .path = path, .sealed = &sealed, .keep = keep};
	if (st == YZ_OK)
		st = store_write(s, begin_fn, &j, e);
	buf_free(&sealed);
	if (st == YZ_OK && j.conflict)
		st = yz_fail(
		    e, YZ_ECONFLICT,
		    "TOTP is already set up for this account; remove it before setting it up "
		    "again");
	if (st == YZ_OK && j.kept) {
		totp_row t;
		st = store_reader(s, &c, e);
		if (st == YZ_OK)
			st = read_totp(c, user_id, &t, e);
		if (st == YZ_OK)
			memcpy(key, t.key, sizeof key);
		memset(&t, 0, sizeof t);
	}
	if (st == YZ_OK)
		make_secret(key, issuer, login, out);
	memset(key, 0, sizeof key);
	return st;
}

yz_status iam_totp_begin(store *s, const yz_actor *who, const char *issuer, iam_totp_secret *out,
                         yz_err *e)
{
	return begin(s, who, who->user_id, false, issuer, out, e);
}

yz_status iam_totp_pending_secret(store *s, const yz_actor *who, const char *issuer,
                                  iam_totp_secret *out, yz_err *e)
{
	memset(out, 0, sizeof *out);
	store_conn *c;
	totp_row t;
	char login[64], path[IAM_PATH_MAX];
	yz_status st = store_reader(s, &c, e);
	if (st == YZ_OK)
		st = user_info(c, who->user_id, login, sizeof login, path, sizeof path, e);
	if (st == YZ_OK)
		st = read_totp(c, who->user_id, &t, e);
	if (st != YZ_OK)
		return st;
	if (!t.found || t.confirmed)
		st = yz_fail(e, YZ_ENOTFOUND, "no TOTP set-up in progress");
	else
		make_secret(t.key, issuer, login, out);
	memset(&t, 0, sizeof t);
	return st;
}

typedef struct use_job {
	const yz_actor *who;
	int64_t user_id, step;
	const char *path, *action;
	bool remove;
	bool used; /* out */
} use_job;

/* Use a step, then audit (and for a removal delete the row). */
static yz_status use_fn(store_conn *tx, void *arg, yz_err *e)
{
	use_job *j = arg;
	j->used = false;
	yz_status st = iam_totp_use_tx(tx, j->user_id, j->step, &j->used, e);
	if (st != YZ_OK || !j->used)
		return st;
	if (j->remove) {
		store_val a[] = {sv_int(j->user_id)};
		st = store_exec(tx, "DELETE FROM iam_totp WHERE user_id = ?", a, 1, e);
		if (st != YZ_OK)
			return st;
	}
	char obj[32];
	snprintf(obj, sizeof obj, "user:%lld", (long long)j->user_id);
	return audit_append(tx, j->who, j->action, obj, j->path[0] ? j->path : NULL, NULL, e);
}

static yz_status wrong_code(yz_err *e)
{
	return yz_field(e, "code", "matches", "the current 6-digit code of your authenticator app",
	                NULL);
}

static yz_status use_code(store *s, const yz_actor *who, const char *code, bool confirm, yz_err *e)
{
	store_conn *c;
	totp_row t;
	char login[64], path[IAM_PATH_MAX];
	yz_status st = store_reader(s, &c, e);
	if (st == YZ_OK)
		st = user_info(c, who->user_id, login, sizeof login, path, sizeof path, e);
	if (st == YZ_OK)
		st = read_totp(c, who->user_id, &t, e);
	if (st != YZ_OK)
		return st;
	if (!code || !*code) {
		memset(&t, 0, sizeof t);
		return yz_field(e, "code", "required", "the 6-digit code", NULL);
	}
	if (confirm && (!t.found || t.confirmed))
		st = yz_fail(e, t.found ? YZ_ECONFLICT : YZ_ENOTFOUND,
		             t.found ? "TOTP is already set up" : "start setting up TOTP first");
	else if (!confirm && (!t.found || !t.confirmed))
		st = yz_fail(e, YZ_ENOTFOUND, "TOTP is not set up for this account");
	int64_t step = st == YZ_OK ? match_step(&t, code) : 0;
	memset(&t, 0, sizeof t);
	if (st != YZ_OK)
		return st;
	if (!step)
		return wrong_code(e);
	use_job j = {.who = who,
	             .user_id = who->user_id,
	             .step = step,
	             .path = path,
	             .action = confirm ? "iam.totp.enrolled" : "iam.totp.removed",
	             .remove = !confirm};
	st = store_write(s, use_fn, &j, e);
	if (st == YZ_OK && !j.used)
		return wrong_code(e);
	return st;
}

yz_status iam_totp_confirm(store *s, const yz_actor *who, const char *code, yz_err *e)
{
	return use_code(s, who, code, true, e);
}

yz_status iam_totp_remove(store *s, const iam_policy *p, const yz_actor *who, const char *code,
                          yz_err *e)
{
	store_conn *c;
	bool required = false;
	yz_status st = store_reader(s, &c, e);
	if (st == YZ_OK)
		st = iam_totp_required_tx(c, p, who->user_id, &required, e);
	if (st == YZ_OK && required)
		st = yz_fail(e, YZ_EREFUSED,
		             "a role of this account requires TOTP; it cannot be removed (an "
		             "administrator can reset it)");
	return st == YZ_OK ? use_code(s, who, code, false, e) : st;
}

typedef struct reset_job {
	const yz_actor *who;
	int64_t user_id;
	bool found;
} reset_job;

static yz_status reset_fn(store_conn *tx, void *arg, yz_err *e)
{
	reset_job *j = arg;
	int64_t org = 0;
	store_val a[] = {sv_int(j->user_id)};
	yz_status st = store_query_int(tx, "SELECT COALESCE(org_id, 0) FROM iam_user WHERE id = ?",
	                               a, 1, &org, e);
	if (st == YZ_ENOTFOUND)
		return yz_fail(e, YZ_ENOTFOUND, "no user %lld", (long long)j->user_id);
	if (st != YZ_OK)
		return st;
	bool covers = j->who->scope.all;
	if (!covers && org)
		st = iam_scope_covers_org(tx, &j->who->scope, org, &covers, e);
	if (st != YZ_OK)
		return st;
	if (!covers)
		return yz_fail(e, YZ_ENOTFOUND, "no user %lld", (long long)j->user_id);
	st = store_exec(tx, "DELETE FROM iam_totp WHERE user_id = ?", a, 1, e);
	if (st != YZ_OK)
		return st;
	j->found = store_changes(tx) > 0;
	if (!j->found)
		return YZ_OK;
	char path[IAM_PATH_MAX] = "";
	if (org && iam_org_path_tx(tx, org, path, sizeof path, NULL) != YZ_OK)
		path[0] = '\0';
	char obj[32];
	snprintf(obj, sizeof obj, "user:%lld", (long long)j->user_id);
	return audit_append(tx, j->who, "iam.totp.reset", obj, path[0] ? path : NULL, NULL, e);
}

yz_status iam_totp_reset(store *s, const yz_actor *who, int64_t user_id, yz_err *e)
{
	reset_job j = {.who = who, .user_id = user_id};
	yz_status st = store_write(s, reset_fn, &j, e);
	if (st == YZ_OK && !j.found)
		st = yz_fail(e, YZ_ENOTFOUND, "user %lld has no TOTP", (long long)user_id);
	return st;
}

yz_status iam_totp_status(store_conn *c, const iam_policy *p, int64_t user_id, json_t **out,
                          yz_err *e)
{
	*out = NULL;
	int64_t confirmed = -1;
	store_val a[] = {sv_int(user_id)};
	yz_status st = store_query_int(c, "SELECT confirmed FROM iam_totp WHERE user_id = ?", a, 1,
	                               &confirmed, NULL);
	if (st != YZ_OK && st != YZ_ENOTFOUND)
		return yz_fail(e, st, "cannot read the TOTP state");
	bool required = false;
	st = iam_totp_required_tx(c, p, user_id, &required, e);
	if (st != YZ_OK)
		return st;
	*out = json_pack("{s:b, s:b, s:b}", "enrolled", confirmed == 1, "pending", confirmed == 0,
	                 "required", required);
	return YZ_OK;
}

/* ---- the second step of a sign-in ---- */

typedef struct pending_row {
	bool found;
	int64_t user_id, org_id, locked_until, expires_at;
	int attempts;
	char stage[16], login[64], status[16];
	char path[IAM_PATH_MAX];
} pending_row;

static yz_status read_pending(store_conn *c, const char *pid, pending_row *p, yz_err *e)
{
	memset(p, 0, sizeof *p);
	store_rows *r;
	store_val a[] = {sv_text(pid)};
	yz_status st = store_query(
	    c,
	    "SELECT p.user_id, p.stage, p.attempts, p.expires_at, u.login, u.status, "
	    "u.locked_until, COALESCE(u.org_id, 0), COALESCE(o.path, '') FROM iam_login_pending p "
	    "JOIN iam_user u ON u.id = p.user_id LEFT JOIN iam_org o ON o.id = u.org_id WHERE "
	    "p.id = ?",
	    a, 1, &r, e);
	if (st != YZ_OK)
		return st;
	if (store_next(r)) {
		p->found = true;
		p->user_id = store_col_int(r, 0);
		yz_strlcpy(p->stage, store_col_text(r, 1), sizeof p->stage);
		p->attempts = (int)store_col_int(r, 2);
		p->expires_at = store_col_int(r, 3);
		yz_strlcpy(p->login, store_col_text(r, 4), sizeof p->login);
		yz_strlcpy(p->status, store_col_text(r, 5), sizeof p->status);
		p->locked_until = store_col_int(r, 6);
		p->org_id = store_col_int(r, 7);
		yz_strlcpy(p->path, store_col_text(r, 8), sizeof p->path);
	}
	return store_rows_close(r, e);
}

/* The pending sign-in of a token, still good (or the reason it is not). */
static yz_status pending_of(store *s, const char *token, char pid[65], pending_row *p, yz_err *e)
{
	if (!token || strlen(token) < 20 || strlen(token) > 64)
		return yz_fail(e, YZ_EUNAUTH, "the sign-in has expired; sign in again");
	iam_session_id_of(token, pid);
	store_conn *c;
	yz_status st = store_reader(s, &c, e);
	if (st == YZ_OK)
		st = read_pending(c, pid, p, e);
	if (st != YZ_OK)
		return st;
	int64_t now = clock_now_ms();
	if (!p->found || now >= p->expires_at)
		return yz_fail(e, YZ_EUNAUTH, "the sign-in has expired; sign in again");
	if (strcmp(p->status, "active") != 0)
		return yz_fail(e, YZ_EFORBIDDEN, "the account is disabled");
	if (p->locked_until > now) {
		char until[40];
		clock_format_city_human(p->locked_until, until, sizeof until);
		return yz_fail(e, YZ_ELOCKED,
		               "the account is locked after too many failed logins until %s",
		               until);
	}
	return YZ_OK;
}

yz_status iam_login_enrol_secret(store *s, const char *pending, const char *issuer,
                                 iam_totp_secret *out, yz_err *e)
{
	memset(out, 0, sizeof *out);
	char pid[65];
	pending_row p;
	yz_status st = pending_of(s, pending, pid, &p, e);
	if (st != YZ_OK)
		return st;
	if (strcmp(p.stage, "enrol") != 0)
		return yz_fail(e, YZ_ECONFLICT,
		               "this sign-in asks for a code, not for a new secret");
	yz_actor who = actor_system("x");
	yz_strlcpy(who.login, p.login, sizeof who.login);
	who.user_id = p.user_id;
	who.org_id = p.org_id;
	return begin(s, &who, p.user_id, true, issuer, out, e);
}

typedef struct second_job {
	const iam_policy *p;
	yz_actor who;
	const pending_row *pr;
	const char *pid, *session_id, *csrf, *user_agent;
	int64_t step;
	bool ok;              /* out: signed in */
	int64_t locked_until; /* out */
} second_job;

static yz_status second_fn(store_conn *tx, void *arg, yz_err *e)
{
	second_job *j = arg;
	j->ok = false;
	j->locked_until = 0;
	store_val pa[] = {sv_text(j->pid)};
	bool used = false;
	yz_status st = YZ_OK;
	if (j->step)
		st = iam_totp_use_tx(tx, j->pr->user_id, j->step, &used, e);
	if (st != YZ_OK)
		return st;
	if (used) {
		st = store_exec(tx, "DELETE FROM iam_login_pending WHERE id = ?", pa, 1, e);
		if (st == YZ_OK && store_changes(tx) == 0)
			return yz_fail(e, YZ_EUNAUTH, "the sign-in has expired; sign in again");
		if (st == YZ_OK && !strcmp(j->pr->stage, "enrol")) {
			char obj[32];
			snprintf(obj, sizeof obj, "user:%lld", (long long)j->pr->user_id);
			st = audit_append(tx, &j->who, "iam.totp.enrolled", obj,
			                  j->pr->path[0] ? j->pr->path : NULL, NULL, e);
		}
		if (st == YZ_OK)
			st = iam_session_open_tx(tx, j->p, &j->who, j->pr->user_id, j->pr->path,
			                         j->session_id, j->csrf, "pwd otp", NULL,
			                         j->user_agent, e);
		j->ok = st == YZ_OK;
		return st;
	}
	int64_t tries = 0;
	st = store_query_int(tx,
	                     "UPDATE iam_login_pending SET attempts = attempts + 1 WHERE id = ? "
	                     "RETURNING attempts",
	                     pa, 1, &tries, e);
	if (st == YZ_ENOTFOUND)
		return yz_fail(e, YZ_EUNAUTH, "the sign-in has expired; sign in again");
	if (st == YZ_OK && tries >= PENDING_TRIES)
		st = store_exec(tx, "DELETE FROM iam_login_pending WHERE id = ?", pa, 1, e);
	if (st != YZ_OK)
		return st;
	return iam_login_failed_tx(tx, j->p, &j->who, j->pr->user_id, j->pr->path,
	                           "iam.login.totp_failed", &j->locked_until, e);
}

yz_status iam_login_totp(store *s, const iam_policy *p, const yz_actor *from, const char *pending,
                         const char *code, const char *user_agent, iam_login_result *out, yz_err *e)
{
	memset(out, 0, sizeof *out);
	char pid[65];
	pending_row pr;
	yz_status st = pending_of(s, pending, pid, &pr, e);
	if (st != YZ_OK)
		return st;
	if (!code || !*code)
		return yz_field(e, "code", "required", "the 6-digit code", NULL);
	bool enrol = !strcmp(pr.stage, "enrol");
	store_conn *c;
	bool enrolled = false;
	int64_t step = 0;
	st = store_reader(s, &c, e);
	if (st == YZ_OK)
		st = iam_totp_match(c, pr.user_id, code, !enrol, &enrolled, &step, e);
	if (st != YZ_OK)
		return st;
	if (enrol && enrolled)
		return yz_fail(e, YZ_ECONFLICT, "TOTP is already set up; sign in again");
	second_job j = {
	    .p = p, .who = *from, .pr = &pr, .pid = pid, .user_agent = user_agent, .step = step};
	j.who.user_id = pr.user_id;
	j.who.org_id = pr.org_id;
	j.who.scope.all = true;
	yz_strlcpy(j.who.login, pr.login, sizeof j.who.login);
	char sid[65];
	if (crypto_random_token(32, out->token, sizeof out->token) != YZ_OK ||
	    crypto_random_token(18, out->csrf, sizeof out->csrf) != YZ_OK)
		return yz_fail(e, YZ_ECRYPTO, "no randomness for a session");
	iam_session_id_of(out->token, sid);
	j.session_id = sid;
	j.csrf = out->csrf;
	st = store_write(s, second_fn, &j, e);
	if (st == YZ_OK && j.ok) {
		out->user_id = pr.user_id;
		return YZ_OK;
	}
	memset(out, 0, sizeof *out);
	if (st != YZ_OK)
		return st;
	if (j.locked_until) {
		out->locked_until = j.locked_until;
		char until[40];
		clock_format_city_human(j.locked_until, until, sizeof until);
		return yz_fail(e, YZ_ELOCKED,
		               "too many failed logins: the account is locked until %s", until);
	}
	wrong_code(e);
	return yz_fail(e, YZ_EUNAUTH, "wrong or already used authentication code");
}
