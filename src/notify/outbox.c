/*
 * outbox.c — notify's tables, enqueueing inside a producer's transaction,
 * the delivery worker (claim with a lease, send, record the outcome), the
 * in-app list, the operator's view of the outbox and the metrics.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "core/arena.h"
#include "core/clock.h"
#include "core/jx.h"
#include "core/slice.h"
#include "notify/notify_int.h"

const store_migration notify_migrations[] = {
    {1, "CREATE TABLE notify_message ("
        " id {{id}},"
        " channel TEXT NOT NULL,"
        " user_id BIGINT,"
        " recipient TEXT NOT NULL DEFAULT '',"
        " subject TEXT NOT NULL DEFAULT '',"
        " body TEXT NOT NULL,"
        " link TEXT,"
        " idem_key TEXT UNIQUE,"
        " status TEXT NOT NULL,"
        " attempts INTEGER NOT NULL DEFAULT 0,"
        " next_at BIGINT NOT NULL DEFAULT 0,"
        " lease_until BIGINT NOT NULL DEFAULT 0,"
        " last_error TEXT NOT NULL DEFAULT '',"
        " created_at BIGINT NOT NULL,"
        " updated_at BIGINT NOT NULL,"
        " sent_at BIGINT,"
        " read_at BIGINT);"
        "CREATE INDEX notify_message_inbox ON notify_message (user_id, channel, id);"
        "CREATE INDEX notify_message_due ON notify_message (status, next_at);"
        "CREATE TABLE notify_alert ("
        " id {{id}},"
        " message_id BIGINT NOT NULL REFERENCES notify_message (id),"
        " text TEXT NOT NULL,"
        " created_at BIGINT NOT NULL,"
        " cleared_at BIGINT,"
        " cleared_by TEXT);"
        "CREATE INDEX notify_alert_message ON notify_alert (message_id);"},
};
const int notify_nmigrations = 1;

#define BACKOFF_CAP_MS (3600LL * 1000)
/* time allowed, beyond the send itself, to record an outcome */
#define LEASE_MARGIN_MS 5000

/* ---- metrics: counters of this process, gauges from the last refresh ---- */

static _Atomic uint64_t m_sent[5]; /* by channel */
static _Atomic uint64_t m_attempt_failures, m_gave_up;
static _Atomic int64_t g_status[4], g_alerts_open;
static const char *const status_names[4] = {"queued", "sending", "sent", "failed"};

/* ---- channels and validation ---- */

static const char *const channel_names[] = {"", "inapp", "sms", "email", "webhook"};

const char *notify_channel_name(int channel)
{
	return channel >= NOTIFY_INAPP && channel <= NOTIFY_WEBHOOK ? channel_names[channel] : "";
}

int notify_channel_parse(const char *name)
{
	for (int i = NOTIFY_INAPP; name && i <= NOTIFY_WEBHOOK; i++)
		if (!strcmp(name, channel_names[i]))
			return i;
	return 0;
}

static bool key_ok(const char *k)
{
	size_t n = strlen(k);
	if (n < 1 || n > NOTIFY_KEY_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = k[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("-_.:/+=", c)))
			return false;
	}
	return true;
}

static bool email_ok(const char *s)
{
	size_t n = strlen(s);
	const char *at = strchr(s, '@');
	if (n < 3 || n > 254 || !at || at == s || strchr(at + 1, '@') || !strchr(at + 1, '.') ||
	    at[1] == '.' || s[n - 1] == '.' || at - s > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f || strchr("<>()[]\\,;:\"", c))
			return false;
	}
	return true;
}

static bool phone_ok(const char *s)
{
	size_t n = strlen(s), i = s[0] == '+' ? 1 : 0;
	if (n - i < 5 || n - i > 20)
		return false;
	for (; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static bool local_path_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > NOTIFY_LINK_MAX || s[0] != '/' || s[1] == '/' || s[1] == '\\')
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f || s[i] == '\\')
			return false;
	return true;
}

/* Text of 1..max characters (or 0..max when optional) of valid UTF-8. */
static void check_text(const char *field, const char *s, size_t max, bool required, bool *bad,
                       yz_err *e)
{
	if (!s || !*s) {
		if (required) {
			yz_field(e, field, "required", NULL, NULL);
			*bad = true;
		}
		return;
	}
	size_t n = strlen(s);
	if (!utf8_valid(s, n)) {
		yz_field(e, field, "utf8", "valid UTF-8", NULL);
		*bad = true;
	} else if (utf8_len(s, n) > max) {
		char exp[48];
		snprintf(exp, sizeof exp, "at most %zu characters", max);
		yz_field(e, field, "max-length", exp, NULL);
		*bad = true;
	}
}

yz_status notify_msg_validate(const notify_msg *m, yz_err *e)
{
	bool bad = false;
	int ch = m->channel;
	if (ch < NOTIFY_INAPP || ch > NOTIFY_WEBHOOK) {
		yz_field(e, "channel", "enum", "inapp, sms, email or webhook", NULL);
		return YZ_EINVAL;
	}
	if (ch == NOTIFY_INAPP && m->user_id <= 0) {
		yz_field(e, "user_id", "required", "the recipient's user id", NULL);
		bad = true;
	}
	if (m->user_id < 0) {
		yz_field(e, "user_id", "range", "a user id", NULL);
		bad = true;
	}
	const char *to = m->to;
	if (ch != NOTIFY_INAPP && (!to || !*to)) {
		yz_field(e, "to", "required", NULL, NULL);
		bad = true;
	} else if (ch == NOTIFY_EMAIL && !email_ok(to)) {
		yz_field(e, "to", "pattern", "an e-mail address like name@example.gov.cn", to);
		bad = true;
	} else if (ch == NOTIFY_SMS && !phone_ok(to)) {
		yz_field(e, "to", "pattern", "a phone number: 5-20 digits, optionally after +", to);
		bad = true;
	} else if (ch == NOTIFY_WEBHOOK) {
		notify_url u;
		if (notify_url_parse(to, &u) != YZ_OK) {
			yz_field(e, "to", "pattern", "an http:// URL", to);
			bad = true;
		}
	}
	check_text("subject", m->subject, NOTIFY_SUBJECT_MAX,
	           ch == NOTIFY_INAPP || ch == NOTIFY_EMAIL, &bad, e);
	check_text("body", m->body, ch == NOTIFY_SMS ? NOTIFY_SMS_MAX : NOTIFY_BODY_MAX, true, &bad,
	           e);
	if (m->link && *m->link && !local_path_ok(m->link)) {
		yz_field(e, "link", "pattern", "a local path such as /notifications", m->link);
		bad = true;
	}
	if (m->key && *m->key ? !key_ok(m->key) : ch != NOTIFY_INAPP) {
		if (m->key && *m->key)
			yz_field(e, "key", "pattern",
			         "1-200 of letters, digits and - _ . : / + =", m->key);
		else
			yz_field(e, "key", "required", "an idempotency key", NULL);
		bad = true;
	}
	return bad ? YZ_EINVAL : YZ_OK;
}

/* ---- enqueue ---- */

yz_status notify_enqueue_id(store_conn *tx, const notify_msg *m, int64_t *id, bool *created,
                            yz_err *e)
{
	*id = 0;
	*created = false;
	yz_status st = notify_msg_validate(m, e);
	if (st != YZ_OK)
		return st;
	const char *key = m->key && *m->key ? m->key : NULL;
	bool inapp = m->channel == NOTIFY_INAPP;
	int64_t now = clock_now_ms();
	store_val a[] = {sv_text(notify_channel_name(m->channel)),
	                 m->user_id ? sv_int(m->user_id) : sv_null(),
	                 sv_text(inapp ? "" : m->to),
	                 sv_text(m->subject ? m->subject : ""),
	                 sv_text(m->body),
	                 sv_text(m->link && *m->link ? m->link : NULL),
	                 sv_text(key),
	                 sv_text(inapp ? "sent" : "queued"),
	                 sv_int(now),
	                 sv_int(now),
	                 sv_int(now),
	                 inapp ? sv_int(now) : sv_null()};
	/* a used key conflicts without an error, which keeps a PostgreSQL
	 * transaction usable */
	st = store_query_int(tx,
	                     "INSERT INTO notify_message (channel, user_id, recipient, subject, "
	                     "body, link, idem_key, status, next_at, created_at, updated_at, "
	                     "sent_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
	                     "ON CONFLICT (idem_key) DO NOTHING RETURNING id",
	                     a, SV_N(a), id, e);
	if (st == YZ_OK) {
		*created = true;
		return YZ_OK;
	}
	if (st != YZ_ENOTFOUND || !key)
		return st;
	if (e)
		*e = (yz_err){0};
	store_val k[] = {sv_text(key)};
	return store_query_int(tx, "SELECT id FROM notify_message WHERE idem_key = ?", k, 1, id, e);
}

yz_status notify_enqueue(store_conn *tx, const notify_msg *m, yz_err *e)
{
	int64_t id;
	bool created;
	return notify_enqueue_id(tx, m, &id, &created, e);
}

/* ---- giving up, with an alert ---- */

static const char *const gave_up_sql =
    "UPDATE notify_message SET status = 'failed', lease_until = 0, last_error = ?, "
    "updated_at = ? WHERE id = ? AND status = 'sending' AND attempts = ?";

/* Fail the message if it is still the claim we know (fence: attempts), then
 * open an alert and audit it. *done tells whether it changed. */
static yz_status give_up(store_conn *tx, int64_t id, int64_t attempts, int64_t now,
                         const char *error, bool *done, yz_err *e)
{
	*done = false;
	store_val a[] = {sv_text(error), sv_int(now), sv_int(id), sv_int(attempts)};
	yz_status st = store_exec(tx, gave_up_sql, a, SV_N(a), e);
	if (st != YZ_OK || store_changes(tx) != 1)
		return st;
	*done = true;
	char text[400];
	snprintf(text, sizeof text, "message %lld failed after %lld attempt%s: %.300s",
	         (long long)id, (long long)attempts, attempts == 1 ? "" : "s", error);
	store_val b[] = {sv_int(id), sv_text(text), sv_int(now)};
	st = store_exec(tx,
	                "INSERT INTO notify_alert (message_id, text, created_at) VALUES (?, ?, ?)",
	                b, SV_N(b), e);
	if (st != YZ_OK)
		return st;
	char obj[40];
	snprintf(obj, sizeof obj, "notify:%lld", (long long)id);
	yz_actor who = actor_system("notify");
	json_t *c = json_pack("{s:I, s:s}", "attempts", (json_int_t)attempts, "error", error);
	st = audit_append(tx, &who, "notify.failed", obj, NULL, c, e);
	json_decref(c);
	return st;
}

/* ---- claiming ---- */

typedef struct claim_item {
	int64_t id, attempts, user_id;
	int channel;
	char *to, *subject, *body, *link, *key;
} claim_item;

typedef struct claim_job {
	int max, max_tries;
	int64_t now, per_msg_ms;
	arena *a;
	claim_item *items;
	int n;
	int gave_up;
} claim_job;

static const char *const due_cond =
    "((status = 'queued' AND next_at <= ?) OR (status = 'sending' AND lease_until <= ? AND "
    "attempts < ?))";

static yz_status claim_fn(store_conn *tx, void *arg, yz_err *e)
{
	claim_job *j = arg;
	/* a re-run starts over */
	arena_reset(j->a);
	j->n = 0;
	j->gave_up = 0;
	j->items = arena_zalloc(j->a, sizeof *j->items * (size_t)j->max);
	int64_t *stale = arena_zalloc(j->a, sizeof *stale * 2 * (size_t)j->max);
	if (!j->items || !stale)
		return yz_fail(e, YZ_ENOMEM, "out of memory");

	/* sends interrupted (the process died) after the last allowed try */
	store_rows *r;
	store_val s[] = {sv_int(j->now), sv_int(j->max_tries), sv_int(j->max)};
	yz_status st = store_query(tx,
	                           "SELECT id, attempts FROM notify_message WHERE status = "
	                           "'sending' AND lease_until <= ? AND attempts >= ? ORDER BY id "
	                           "LIMIT ?",
	                           s, SV_N(s), &r, e);
	if (st != YZ_OK)
		return st;
	int nstale = 0;
	while (store_next(r) && nstale < j->max) {
		stale[2 * nstale] = store_col_int(r, 0);
		stale[2 * nstale + 1] = store_col_int(r, 1);
		nstale++;
	}
	st = store_rows_close(r, e);
	for (int i = 0; i < nstale && st == YZ_OK; i++) {
		bool done;
		st = give_up(tx, stale[2 * i], stale[2 * i + 1], j->now,
		             "the last attempt was interrupted (its lease ran out); whether it "
		             "arrived is unknown",
		             &done, e);
		j->gave_up += done;
	}
	if (st != YZ_OK)
		return st;

	char sql[512];
	snprintf(sql, sizeof sql,
	         "SELECT id, channel, user_id, recipient, subject, body, link, idem_key FROM "
	         "notify_message WHERE %s AND channel <> 'inapp' ORDER BY next_at, id LIMIT ?",
	         due_cond);
	store_val d[] = {sv_int(j->now), sv_int(j->now), sv_int(j->max_tries), sv_int(j->max)};
	st = store_query(tx, sql, d, SV_N(d), &r, e);
	if (st != YZ_OK)
		return st;
	int n = 0;
	while (store_next(r) && n < j->max) {
		claim_item *it = &j->items[n];
		it->id = store_col_int(r, 0);
		it->channel = notify_channel_parse(store_col_text(r, 1));
		it->user_id = store_col_null(r, 2) ? 0 : store_col_int(r, 2);
		it->to = arena_strdup(j->a, store_col_text(r, 3));
		it->subject = arena_strdup(j->a, store_col_text(r, 4));
		it->body = arena_strdup(j->a, store_col_text(r, 5));
		it->link = store_col_null(r, 6) ? NULL : arena_strdup(j->a, store_col_text(r, 6));
		it->key = arena_strdup(j->a, store_col_text(r, 7));
		if (!it->to || !it->subject || !it->body || !it->key) {
			store_rows_discard(r);
			return yz_fail(e, YZ_ENOMEM, "out of memory");
		}
		n++;
	}
	st = store_rows_close(r, e);
	if (st != YZ_OK)
		return st;

	/* claim each, unless another node got there first (the WHERE re-checks) */
	snprintf(sql, sizeof sql,
	         "UPDATE notify_message SET status = 'sending', attempts = attempts + 1, "
	         "lease_until = ?, updated_at = ? WHERE id = ? AND %s RETURNING attempts",
	         due_cond);
	for (int i = 0; i < n; i++) {
		int64_t lease = j->now + (int64_t)(j->n + 1) * j->per_msg_ms + LEASE_MARGIN_MS;
		store_val u[] = {sv_int(lease),  sv_int(j->now), sv_int(j->items[i].id),
		                 sv_int(j->now), sv_int(j->now), sv_int(j->max_tries)};
		int64_t attempts;
		st = store_query_int(tx, sql, u, SV_N(u), &attempts, e);
		if (st == YZ_ENOTFOUND) {
			if (e)
				*e = (yz_err){0};
			continue;
		}
		if (st != YZ_OK)
			return st;
		j->items[i].attempts = attempts;
		j->items[j->n++] = j->items[i];
	}
	return YZ_OK;
}

/* ---- recording an outcome ---- */

enum { OUT_IGNORED, OUT_SENT, OUT_RETRY, OUT_FAILED };

typedef struct outcome_job {
	int64_t id, attempts, now;
	int channel;
	bool ok, permanent;
	const char *error;
	int max_tries, backoff_ms;
	int result;
} outcome_job;

static int64_t backoff(int backoff_ms, int64_t attempts)
{
	int64_t d = backoff_ms > 0 ? backoff_ms : 1;
	for (int64_t i = 1; i < attempts && d < BACKOFF_CAP_MS; i++)
		d *= 2;
	return d < BACKOFF_CAP_MS ? d : BACKOFF_CAP_MS;
}

static yz_status outcome_fn(store_conn *tx, void *arg, yz_err *e)
{
	outcome_job *j = arg;
	j->result = OUT_IGNORED;
	char obj[40];
	snprintf(obj, sizeof obj, "notify:%lld", (long long)j->id);
	yz_actor who = actor_system("notify");
	if (j->ok) {
		/* delivered: true even if our lease had run out meanwhile */
		store_val a[] = {sv_int(j->now), sv_int(j->now), sv_int(j->id)};
		yz_status st = store_exec(tx,
		                          "UPDATE notify_message SET status = 'sent', sent_at = ?, "
		                          "lease_until = 0, last_error = '', updated_at = ? WHERE "
		                          "id = ? AND status <> 'sent'",
		                          a, SV_N(a), e);
		if (st != YZ_OK || store_changes(tx) != 1)
			return st;
		j->result = OUT_SENT;
		store_val b[] = {sv_int(j->now), sv_int(j->id)};
		st = store_exec(tx,
		                "UPDATE notify_alert SET cleared_at = ?, cleared_by = "
		                "'system:notify' WHERE message_id = ? AND cleared_at IS NULL",
		                b, SV_N(b), e);
		if (st != YZ_OK)
			return st;
		json_t *c = json_pack("{s:s, s:I}", "channel", notify_channel_name(j->channel),
		                      "attempts", (json_int_t)j->attempts);
		st = audit_append(tx, &who, "notify.sent", obj, NULL, c, e);
		json_decref(c);
		return st;
	}
	if (j->permanent || j->attempts >= j->max_tries) {
		bool done;
		yz_status st = give_up(tx, j->id, j->attempts, j->now, j->error, &done, e);
		if (st == YZ_OK && done)
			j->result = OUT_FAILED;
		return st;
	}
	store_val a[] = {sv_int(j->now + backoff(j->backoff_ms, j->attempts)), sv_text(j->error),
	                 sv_int(j->now), sv_int(j->id), sv_int(j->attempts)};
	yz_status st = store_exec(tx,
	                          "UPDATE notify_message SET status = 'queued', next_at = ?, "
	                          "lease_until = 0, last_error = ?, updated_at = ? WHERE id = ? "
	                          "AND status = 'sending' AND attempts = ?",
	                          a, SV_N(a), e);
	if (st == YZ_OK && store_changes(tx) == 1)
		j->result = OUT_RETRY;
	return st;
}

/* ---- sending ---- */

static yz_status post_json(const char *url, const char *key, json_t *doc, int timeout_ms, yz_err *e)
{
	char *text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	if (!text)
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	int status;
	yz_status st = notify_http_post(url, key, text, strlen(text), timeout_ms, &status, e);
	free(text);
	return st;
}

static yz_status send_one(const notify_config *c, const claim_item *it, yz_err *e)
{
	switch (it->channel) {
	case NOTIFY_EMAIL: {
		if (!c->mail_from || !email_ok(c->mail_from))
			return yz_fail(e, YZ_EIO,
			               "no valid sender address is configured (mail_from)");
		notify_mail m = {.from = c->mail_from,
		                 .to = it->to,
		                 .subject = it->subject,
		                 .body = it->body,
		                 .key = it->key,
		                 .date_ms = clock_now_ms()};
		return notify_smtp_send(c->smtp_host, c->smtp_port, c->timeout_ms, &m, e);
	}
	case NOTIFY_SMS:
		if (!c->sms_gateway || !*c->sms_gateway)
			return yz_fail(e, YZ_EIO, "no SMS gateway is configured (sms_gateway)");
		return post_json(
		    c->sms_gateway, it->key,
		    json_pack("{s:s, s:s, s:s}", "to", it->to, "text", it->body, "key", it->key),
		    c->timeout_ms, e);
	case NOTIFY_WEBHOOK:
		return post_json(it->to, it->key,
		                 json_pack("{s:s, s:s, s:s?, s:s}", "subject", it->subject, "body",
		                           it->body, "link", it->link, "key", it->key),
		                 c->timeout_ms, e);
	default:
		return yz_fail(e, YZ_EREFUSED, "unknown channel");
	}
}

yz_status notify_deliver_due(store *s, const notify_config *c, int max, int *delivered, int *failed,
                             yz_err *e)
{
	*delivered = 0;
	*failed = 0;
	if (max <= 0)
		return YZ_OK;
	int timeout = c->timeout_ms > 0 ? c->timeout_ms : 10000;
	claim_job cj = {.max = max,
	                .max_tries = c->max_tries > 0 ? c->max_tries : 1,
	                .now = clock_now_ms(),
	                .per_msg_ms = timeout + 1000,
	                .a = arena_new(0)};
	if (!cj.a)
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	yz_status st = store_write(s, claim_fn, &cj, e);
	if (st == YZ_OK)
		atomic_fetch_add(&m_gave_up, (uint64_t)cj.gave_up);
	for (int i = 0; st == YZ_OK && i < cj.n; i++) {
		const claim_item *it = &cj.items[i];
		yz_err se = {0};
		yz_status ss = send_one(c, it, &se);
		if (ss == YZ_OK && c->after_send && !c->after_send(c->after_send_arg, it->id))
			break;
		outcome_job oj = {.id = it->id,
		                  .attempts = it->attempts,
		                  .now = clock_now_ms(),
		                  .channel = it->channel,
		                  .ok = ss == YZ_OK,
		                  .permanent = ss == YZ_EREFUSED,
		                  .error = se.msg[0] ? se.msg : yz_status_name(ss),
		                  .max_tries = cj.max_tries,
		                  .backoff_ms = c->backoff_ms};
		st = store_write(s, outcome_fn, &oj, e);
		if (st != YZ_OK)
			break;
		if (ss == YZ_OK) {
			(*delivered)++;
			atomic_fetch_add(&m_sent[it->channel], 1);
		} else {
			(*failed)++;
			atomic_fetch_add(&m_attempt_failures, 1);
			if (oj.result == OUT_FAILED)
				atomic_fetch_add(&m_gave_up, 1);
		}
	}
	arena_free(cj.a);
	return st;
}

/* ---- reading ---- */

static json_t *time_or_null(store_rows *r, int col)
{
	if (store_col_null(r, col))
		return json_null();
	char t[40];
	clock_format_city(store_col_int(r, col), t, sizeof t);
	return json_string(t);
}

static int clamp_limit(int limit, int def, int max)
{
	return limit <= 0 ? def : limit > max ? max : limit;
}

yz_status notify_inbox_unread(store_conn *c, int64_t user_id, int64_t *n, yz_err *e)
{
	store_val a[] = {sv_int(user_id)};
	return store_query_int(c,
	                       "SELECT COUNT(*) FROM notify_message WHERE user_id = ? AND channel "
	                       "= 'inapp' AND read_at IS NULL",
	                       a, 1, n, e);
}

yz_status notify_inbox_list(store_conn *c, int64_t user_id, const notify_inbox_filter *f,
                            json_t **out, yz_err *e)
{
	*out = NULL;
	int limit = clamp_limit(f ? f->limit : 0, 20, 100);
	int64_t before = f && f->before > 0 ? f->before : INT64_MAX;
	char sql[400];
	snprintf(sql, sizeof sql,
	         "SELECT id, subject, body, link, created_at, read_at FROM notify_message WHERE "
	         "user_id = ? AND channel = 'inapp' AND id < ?%s ORDER BY id DESC LIMIT ?",
	         f && f->unread_only ? " AND read_at IS NULL" : "");
	store_val a[] = {sv_int(user_id), sv_int(before), sv_int(limit + 1)};
	store_rows *r;
	yz_status st = store_query(c, sql, a, SV_N(a), &r, e);
	if (st != YZ_OK)
		return st;
	json_t *items = json_array();
	json_t *next = json_null();
	while (store_next(r)) {
		if ((int)json_array_size(items) == limit) {
			json_decref(next);
			next =
			    json_integer(jx_int(json_array_get(items, (size_t)limit - 1), "id", 0));
			break;
		}
		json_t *o = json_object();
		jx_set_int(o, "id", store_col_int(r, 0));
		jx_set_str(o, "subject", store_col_text(r, 1));
		jx_set_str(o, "body", store_col_text(r, 2));
		jx_set_str(o, "link", store_col_null(r, 3) ? NULL : store_col_text(r, 3));
		json_object_set_new(o, "created_at", time_or_null(r, 4));
		jx_set_bool(o, "read", !store_col_null(r, 5));
		json_object_set_new(o, "read_at", time_or_null(r, 5));
		json_array_append_new(items, o);
	}
	st = store_rows_close(r, e);
	int64_t unread = 0;
	if (st == YZ_OK)
		st = notify_inbox_unread(c, user_id, &unread, e);
	if (st != YZ_OK) {
		json_decref(items);
		json_decref(next);
		return st;
	}
	*out = json_pack("{s:o, s:o, s:I}", "items", items, "next", next, "unread",
	                 (json_int_t)unread);
	return YZ_OK;
}

/* ---- marking read ---- */

typedef struct read_job {
	const yz_actor *who;
	int64_t id, changed;
} read_job;

static yz_status read_fn(store_conn *tx, void *arg, yz_err *e)
{
	read_job *j = arg;
	j->changed = 0;
	int64_t now = clock_now_ms();
	store_val a[] = {sv_int(now), sv_int(now), sv_int(j->id), sv_int(j->who->user_id)};
	yz_status st = store_exec(tx,
	                          "UPDATE notify_message SET read_at = ?, updated_at = ? WHERE id "
	                          "= ? AND user_id = ? AND channel = 'inapp' AND read_at IS NULL",
	                          a, SV_N(a), e);
	if (st != YZ_OK)
		return st;
	j->changed = store_changes(tx);
	if (j->changed == 0) {
		int64_t one;
		store_val b[] = {sv_int(j->id), sv_int(j->who->user_id)};
		st =
		    store_query_int(tx,
		                    "SELECT 1 FROM notify_message WHERE id = ? AND user_id = ? AND "
		                    "channel = 'inapp'",
		                    b, SV_N(b), &one, e);
		if (st == YZ_ENOTFOUND)
			return yz_fail(e, YZ_ENOTFOUND, "no notification %lld", (long long)j->id);
		return st;
	}
	char obj[40];
	snprintf(obj, sizeof obj, "notify:%lld", (long long)j->id);
	return audit_append(tx, j->who, "notify.read", obj, NULL, NULL, e);
}

yz_status notify_mark_read(store *s, const yz_actor *who, int64_t id, yz_err *e)
{
	if (!who->user_id)
		return yz_fail(e, YZ_EUNAUTH, "only a signed-in user has notifications");
	read_job j = {.who = who, .id = id};
	return store_write(s, read_fn, &j, e);
}

static yz_status read_all_fn(store_conn *tx, void *arg, yz_err *e)
{
	read_job *j = arg;
	j->changed = 0;
	int64_t now = clock_now_ms();
	store_val a[] = {sv_int(now), sv_int(now), sv_int(j->who->user_id)};
	yz_status st = store_exec(tx,
	                          "UPDATE notify_message SET read_at = ?, updated_at = ? WHERE "
	                          "user_id = ? AND channel = 'inapp' AND read_at IS NULL",
	                          a, SV_N(a), e);
	if (st != YZ_OK)
		return st;
	j->changed = store_changes(tx);
	if (!j->changed)
		return YZ_OK;
	char obj[40];
	snprintf(obj, sizeof obj, "user:%lld", (long long)j->who->user_id);
	json_t *c = json_pack("{s:I}", "count", (json_int_t)j->changed);
	st = audit_append(tx, j->who, "notify.read_all", obj, NULL, c, e);
	json_decref(c);
	return st;
}

yz_status notify_mark_all_read(store *s, const yz_actor *who, int64_t *n, yz_err *e)
{
	if (!who->user_id)
		return yz_fail(e, YZ_EUNAUTH, "only a signed-in user has notifications");
	read_job j = {.who = who};
	yz_status st = store_write(s, read_all_fn, &j, e);
	if (n)
		*n = st == YZ_OK ? j.changed : 0;
	return st;
}

/* ---- the outbox ---- */

/* Personal data stays out of lists: 138****5678, z***@example.gov.cn, and a
 * webhook's URL without its path (which may hold a token). */
static void mask(int channel, const char *to, char *out, size_t cap)
{
	size_t n = strlen(to);
	if (channel == NOTIFY_SMS) {
		if (n >= 8)
			snprintf(out, cap, "%.3s****%s", to, to + n - 4);
		else
			snprintf(out, cap, "****");
	} else if (channel == NOTIFY_EMAIL) {
		const char *at = strchr(to, '@');
		snprintf(out, cap, "%c***%s", to[0], at ? at : "");
	} else if (channel == NOTIFY_WEBHOOK) {
		notify_url u;
		if (notify_url_parse(to, &u) == YZ_OK)
			snprintf(out, cap, "http://%s:%d/…", u.host, u.port);
		else
			snprintf(out, cap, "…");
	} else {
		out[0] = '\0';
	}
}

#define OUTBOX_COLS                                                                                \
	"m.id, m.channel, m.recipient, m.subject, m.status, m.attempts, m.next_at, "               \
	"m.last_error, m.created_at, m.sent_at, m.idem_key, m.user_id, "                           \
	"(SELECT COUNT(*) FROM notify_alert a WHERE a.message_id = m.id AND a.cleared_at IS "      \
	"NULL), m.updated_at"

static json_t *outbox_row(store_rows *r)
{
	json_t *o = json_object();
	int channel = notify_channel_parse(store_col_text(r, 1));
	char to[300];
	mask(channel, store_col_text(r, 2), to, sizeof to);
	jx_set_int(o, "id", store_col_int(r, 0));
	jx_set_str(o, "channel", store_col_text(r, 1));
	jx_set_str(o, "to", to);
	jx_set_str(o, "subject", store_col_text(r, 3));
	jx_set_str(o, "status", store_col_text(r, 4));
	jx_set_int(o, "attempts", store_col_int(r, 5));
	bool queued = !strcmp(store_col_text(r, 4), "queued");
	json_object_set_new(o, "next_at", queued ? time_or_null(r, 6) : json_null());
	jx_set_str(o, "last_error", store_col_text(r, 7));
	json_object_set_new(o, "created_at", time_or_null(r, 8));
	json_object_set_new(o, "sent_at", time_or_null(r, 9));
	jx_set_str(o, "key", store_col_text(r, 10));
	if (store_col_null(r, 11))
		json_object_set_new(o, "user_id", json_null());
	else
		jx_set_int(o, "user_id", store_col_int(r, 11));
	jx_set_bool(o, "alert", store_col_int(r, 12) > 0);
	json_object_set_new(o, "updated_at", time_or_null(r, 13));
	return o;
}

static int status_index(const char *s)
{
	for (int i = 0; s && i < 4; i++)
		if (!strcmp(s, status_names[i]))
			return i;
	return -1;
}

static yz_status outbox_counts(store_conn *c, json_t **counts, int64_t *alerts, yz_err *e)
{
	store_rows *r;
	yz_status st = store_query(c,
	                           "SELECT status, COUNT(*) FROM notify_message WHERE channel <> "
	                           "'inapp' GROUP BY status",
	                           NULL, 0, &r, e);
	if (st != YZ_OK)
		return st;
	json_t *o = json_object();
	for (int i = 0; i < 4; i++)
		jx_set_int(o, status_names[i], 0);
	while (store_next(r))
		if (status_index(store_col_text(r, 0)) >= 0)
			jx_set_int(o, store_col_text(r, 0), store_col_int(r, 1));
	st = store_rows_close(r, e);
	if (st == YZ_OK)
		st =
		    store_query_int(c, "SELECT COUNT(*) FROM notify_alert WHERE cleared_at IS NULL",
		                    NULL, 0, alerts, e);
	if (st != YZ_OK) {
		json_decref(o);
		return st;
	}
	*counts = o;
	return YZ_OK;
}

yz_status notify_outbox_list(store_conn *c, const notify_outbox_filter *f, json_t **out, yz_err *e)
{
	*out = NULL;
	const char *status = f && f->status && *f->status ? f->status : NULL;
	if (status && status_index(status) < 0)
		return yz_field(e, "status", "enum", "queued, sending, sent or failed", status);
	int limit = clamp_limit(f ? f->limit : 0, 50, 200);
	int64_t before = f && f->before > 0 ? f->before : INT64_MAX;
	char sql[700];
	snprintf(sql, sizeof sql,
	         "SELECT " OUTBOX_COLS " FROM notify_message m WHERE m.channel <> 'inapp' AND "
	         "m.id < ?%s ORDER BY m.id DESC LIMIT ?",
	         status ? " AND m.status = ?" : "");
	store_val a[3];
	int na = 0;
	a[na++] = sv_int(before);
	if (status)
		a[na++] = sv_text(status);
	a[na++] = sv_int(limit + 1);
	store_rows *r;
	yz_status st = store_query(c, sql, a, na, &r, e);
	if (st != YZ_OK)
		return st;
	json_t *items = json_array();
	json_t *next = json_null();
	while (store_next(r)) {
		if ((int)json_array_size(items) == limit) {
			json_decref(next);
			next =
			    json_integer(jx_int(json_array_get(items, (size_t)limit - 1), "id", 0));
			break;
		}
		json_array_append_new(items, outbox_row(r));
	}
	st = store_rows_close(r, e);
	json_t *counts = NULL;
	int64_t alerts = 0;
	if (st == YZ_OK)
		st = outbox_counts(c, &counts, &alerts, e);
	if (st != YZ_OK) {
		json_decref(items);
		json_decref(next);
		return st;
	}
	*out = json_pack("{s:o, s:o, s:o, s:I}", "items", items, "next", next, "counts", counts,
	                 "alerts", (json_int_t)alerts);
	return YZ_OK;
}

yz_status notify_outbox_get(store_conn *c, int64_t id, json_t **out, yz_err *e)
{
	*out = NULL;
	store_val a[] = {sv_int(id)};
	store_rows *r;
	yz_status st = store_query(c,
	                           "SELECT " OUTBOX_COLS
	                           " FROM notify_message m WHERE m.id = ? AND m.channel <> 'inapp'",
	                           a, 1, &r, e);
	if (st != YZ_OK)
		return st;
	json_t *o = store_next(r) ? outbox_row(r) : NULL;
	st = store_rows_close(r, e);
	if (st != YZ_OK) {
		json_decref(o);
		return st;
	}
	if (!o)
		return yz_fail(e, YZ_ENOTFOUND, "no outbox message %lld", (long long)id);
	*out = o;
	return YZ_OK;
}

typedef struct retry_job {
	const yz_actor *who;
	int64_t id;
} retry_job;

static yz_status retry_fn(store_conn *tx, void *arg, yz_err *e)
{
	retry_job *j = arg;
	int64_t now = clock_now_ms();
	store_val a[] = {sv_int(now), sv_int(now), sv_int(j->id)};
	yz_status st = store_exec(tx,
	                          "UPDATE notify_message SET status = 'queued', attempts = 0, "
	                          "next_at = ?, lease_until = 0, updated_at = ? WHERE id = ? AND "
	                          "channel <> 'inapp' AND status = 'failed'",
	                          a, SV_N(a), e);
	if (st != YZ_OK)
		return st;
	if (store_changes(tx) != 1) {
		store_rows *r;
		store_val b[] = {sv_int(j->id)};
		st = store_query(tx,
		                 "SELECT status FROM notify_message WHERE id = ? AND channel <> "
		                 "'inapp'",
		                 b, 1, &r, e);
		if (st != YZ_OK)
			return st;
		char status[16] = "";
		bool found = store_next(r);
		if (found)
			yz_strlcpy(status, store_col_text(r, 0), sizeof status);
		st = store_rows_close(r, e);
		if (st != YZ_OK)
			return st;
		if (!found)
			return yz_fail(e, YZ_ENOTFOUND, "no outbox message %lld", (long long)j->id);
		return yz_fail(e, YZ_ECONFLICT,
		               "only a failed message can be sent again; this one is %s", status);
	}
	store_val c[] = {sv_int(now), sv_text(j->who->login), sv_int(j->id)};
	st = store_exec(tx,
	                "UPDATE notify_alert SET cleared_at = ?, cleared_by = ? WHERE message_id "
	                "= ? AND cleared_at IS NULL",
	                c, SV_N(c), e);
	if (st != YZ_OK)
		return st;
	char obj[40];
	snprintf(obj, sizeof obj, "notify:%lld", (long long)j->id);
	return audit_append(tx, j->who, "notify.retry", obj, NULL, NULL, e);
}

yz_status notify_retry(store *s, const yz_actor *who, int64_t id, yz_err *e)
{
	retry_job j = {.who = who, .id = id};
	return store_write(s, retry_fn, &j, e);
}

yz_status notify_alert_list(store_conn *c, bool open_only, int limit, json_t **out, yz_err *e)
{
	*out = NULL;
	char sql[300];
	snprintf(sql, sizeof sql,
	         "SELECT id, message_id, text, created_at, cleared_at FROM notify_alert%s ORDER "
	         "BY id DESC LIMIT ?",
	         open_only ? " WHERE cleared_at IS NULL" : "");
	store_val a[] = {sv_int(clamp_limit(limit, 50, 200))};
	store_rows *r;
	yz_status st = store_query(c, sql, a, 1, &r, e);
	if (st != YZ_OK)
		return st;
	json_t *list = json_array();
	while (store_next(r)) {
		json_t *o = json_object();
		jx_set_int(o, "id", store_col_int(r, 0));
		jx_set_int(o, "message_id", store_col_int(r, 1));
		jx_set_str(o, "text", store_col_text(r, 2));
		json_object_set_new(o, "created_at", time_or_null(r, 3));
		json_object_set_new(o, "cleared_at", time_or_null(r, 4));
		json_array_append_new(list, o);
	}
	st = store_rows_close(r, e);
	if (st != YZ_OK) {
		json_decref(list);
		return st;
	}
	*out = list;
	return YZ_OK;
}

/* ---- metrics ---- */

yz_status notify_refresh_gauges(store *s, yz_err *e)
{
	store_conn *c;
	yz_status st = store_reader(s, &c, e);
	json_t *counts = NULL;
	int64_t alerts = 0;
	if (st == YZ_OK)
		st = outbox_counts(c, &counts, &alerts, e);
	if (st != YZ_OK)
		return st;
	for (int i = 0; i < 4; i++)
		atomic_store(&g_status[i], jx_int(counts, status_names[i], 0));
	atomic_store(&g_alerts_open, alerts);
	json_decref(counts);
	return YZ_OK;
}

void notify_metrics(buf *b)
{
	yz_status st = YZ_OK;
	BUF_TRY(st, buf_puts(b, "# HELP yizhan_notify_sent_total External notifications "
	                        "delivered by this process.\n"
	                        "# TYPE yizhan_notify_sent_total counter\n"));
	for (int ch = NOTIFY_SMS; ch <= NOTIFY_WEBHOOK; ch++)
		BUF_TRY(st, buf_printf(b, "yizhan_notify_sent_total{channel=\"%s\"} %llu\n",
		                       notify_channel_name(ch),
		                       (unsigned long long)atomic_load(&m_sent[ch])));
	BUF_TRY(st,
	        buf_printf(b,
	                   "# HELP yizhan_notify_attempt_failures_total Failed delivery attempts.\n"
	                   "# TYPE yizhan_notify_attempt_failures_total counter\n"
	                   "yizhan_notify_attempt_failures_total %llu\n"
	                   "# HELP yizhan_notify_failed_total Messages given up (failed) by this "
	                   "process.\n# TYPE yizhan_notify_failed_total counter\n"
	                   "yizhan_notify_failed_total %llu\n"
	                   "# HELP yizhan_notify_outbox Outbox messages by status (last refresh).\n"
	                   "# TYPE yizhan_notify_outbox gauge\n",
	                   (unsigned long long)atomic_load(&m_attempt_failures),
	                   (unsigned long long)atomic_load(&m_gave_up)));
	for (int i = 0; i < 4; i++)
		BUF_TRY(st, buf_printf(b, "yizhan_notify_outbox{status=\"%s\"} %lld\n",
		                       status_names[i], (long long)atomic_load(&g_status[i])));
	BUF_TRY(st, buf_printf(b,
	                       "# HELP yizhan_notify_alerts_open Failed messages nobody has "
	                       "retried yet.\n# TYPE yizhan_notify_alerts_open gauge\n"
	                       "yizhan_notify_alerts_open %lld\n",
	                       (long long)atomic_load(&g_alerts_open)));
	(void)st; /* the caller's buffer cap bounds the text */
}
