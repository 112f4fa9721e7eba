/*
 * notify.h — the notification outbox: in-app messages, SMS, e-mail and
 * webhooks, written in the same transaction as the change that causes them
 * and delivered by a worker with retries and backoff.
 *
 * Producers call notify_enqueue() inside their own write job, so a
 * notification exists exactly when the change that causes it committed.
 * Every message has an idempotency key: a second enqueue with a key already
 * used (on any channel) is a no-op, so a producer's job may run twice.
 *
 *  - In-app messages are delivered at once, in that same transaction: they are
 *    rows of the recipient's notification list (read / unread) and never touch
 *    the network. They roll back with the change that caused them.
 *  - External messages (SMS, e-mail, webhook) are rows of the outbox with a
 *    status: queued → sending → sent | failed. notify_deliver_due() claims the
 *    due rows in a write job (status sending, attempts + 1, a lease), sends
 *    each, and records each outcome in a write job of its own: sent; or queued
 *    again with next_at = now + backoff × 2^(attempts − 1), at most one hour
 *    later; or, after max_tries attempts or a permanent refusal (SMTP 5xx to
 *    MAIL/RCPT/DATA; an HTTP answer other than 2xx, 408, 429 or 5xx), failed,
 *    with an audit record "notify.failed" and an open alert (notify_alert,
 *    shown on the operator page and counted in /metrics). The sent attempt is
 *    audited too ("notify.sent"), as are an operator's retry ("notify.retry")
 *    and a user marking messages read ("notify.read", "notify.read_all").
 *  - No duplicate after a crash: a row left `sending` by a process that died
 *    between sending and recording is claimed again once its lease runs out
 *    (or given up as failed when it had no tries left). Every send carries
 *    the message's key — SMTP `Message-ID: <key@yizhan>`, HTTP header
 *    `Idempotency-Key: <key>` and the JSON member "key" — so the receiver can
 *    drop the repeat. A message recorded as sent is never sent again (only an
 *    operator's retry of a *failed* message sends it again, with the same key).
 *
 * In the Message-ID every key character other than letters, digits, '-', '_',
 * '/' and '+' is written as =XX (hex), which keeps the id valid and distinct:
 * key "case.42:sms" gives <case=2E42=3Asms@yizhan>.
 *
 * Wire protocols (plain TCP; no TLS yet: run the SMTP relay and the SMS
 * gateway on the local network or loopback):
 *  - e-mail: our own SMTP client — EHLO (HELO when refused), MAIL FROM, RCPT
 *    TO, DATA with dot-stuffing, QUIT. Headers Date (+0800), From, To, Subject
 *    (RFC 2047 =?UTF-8?B?…?= when not plain ASCII), Message-ID, MIME-Version,
 *    Content-Type text/plain; charset=UTF-8; the body is 7bit when ASCII, 8bit
 *    (with BODY=8BITMIME) when the server offers 8BITMIME, else base64.
 *  - SMS: HTTP/1.1 POST to the configured gateway URL (http://host[:port]/path)
 *    of a JSON object {"to": phone, "text": body, "key": key} with the header
 *    Idempotency-Key: key. Any 2xx means the gateway accepted the message.
 *  - webhook: the same kind of POST to the message's own URL (`to`) of
 *    {"subject", "body", "link", "key"}.
 *  Every exchange has one deadline (timeout_ms) for connecting, sending and
 *  the answer; host names are resolved with getaddrinfo (blocking).
 *
 * Owns the tables notify_message and notify_alert. Module logic only: no HTTP
 * server here (api.c and pages.c hold the routes).
 */
#ifndef YZ_NOTIFY_NOTIFY_H
#define YZ_NOTIFY_NOTIFY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/actor.h"
#include "core/buf.h"
#include "core/status.h"
#include "store/store.h"

typedef enum notify_channel {
	NOTIFY_INAPP = 1,
	NOTIFY_SMS,
	NOTIFY_EMAIL,
	NOTIFY_WEBHOOK
} notify_channel;

/* "inapp", "sms", "email", "webhook"; "" when unknown. */
const char *notify_channel_name(int channel);
/* 0 when unknown. */
int notify_channel_parse(const char *name);

extern const store_migration notify_migrations[];
extern const int notify_nmigrations;

/* Limits on a message. */
#define NOTIFY_KEY_MAX     200  /* characters of a key */
#define NOTIFY_SUBJECT_MAX 200  /* characters */
#define NOTIFY_BODY_MAX    8000 /* characters (SMS: 500) */
#define NOTIFY_SMS_MAX     500
#define NOTIFY_LINK_MAX    500
#define NOTIFY_URL_MAX     500

typedef struct notify_msg {
	notify_channel channel;
	int64_t user_id;     /* in-app recipient (and for lookups), 0 if none */
	const char *to;      /* phone, e-mail address or webhook URL; NULL for in-app */
	const char *subject; /* e-mail subject / in-app title */
	const char *body;    /* UTF-8 text */
	const char *link;    /* optional local path the in-app message points to */
	const char *key;     /* idempotency key: a second enqueue with the same key is a no-op */
} notify_msg;

/* The rules a message must pass, every fault as a field error (channel,
 * user_id, to, subject, body, link, key): in-app needs user_id > 0 and a
 * subject; e-mail an address (ASCII, local@domain) and a subject; SMS a phone
 * number (5-20 digits, optional leading +); webhook an http:// URL. The key is
 * required except for in-app messages: 1-200 of A-Z a-z 0-9 - _ . : / + =.
 * A link is a local path ("/…", not "//…"). Text must be valid UTF-8. */
YZ_MUST_USE yz_status notify_msg_validate(const notify_msg *m, yz_err *e);

/* Inside a write job (same transaction as the cause). */
YZ_MUST_USE yz_status notify_enqueue(store_conn *tx, const notify_msg *m, yz_err *e);
/* The same, telling the message's id and whether this call created it
 * (false when the key was used before: then *id is the earlier message). */
YZ_MUST_USE yz_status notify_enqueue_id(store_conn *tx, const notify_msg *m, int64_t *id,
                                        bool *created, yz_err *e);

typedef struct notify_config {
	const char *smtp_host; /* "" or NULL: e-mail deliveries fail ("not configured") */
	int smtp_port;
	const char *mail_from;   /* envelope and From: address */
	const char *sms_gateway; /* http://host[:port]/path; "" or NULL: SMS deliveries fail */
	int max_tries;           /* attempts before a message is failed (≥ 1) */
	int backoff_ms;          /* wait after the first failed attempt; doubles each time */
	int timeout_ms;          /* one deadline for a whole exchange with a server */
	/* Tests only (NULL in production): called after a message was handed over
	 * and before its outcome is recorded; returning false stops the run there,
	 * as if the process had died (the row stays `sending` until its lease runs
	 * out). */
	bool (*after_send)(void *arg, int64_t id);
	void *after_send_arg;
} notify_config;

/* Deliver what is due now (clock_now_ms): claim in a write job (lease), send,
 * then record the outcome in a write job. Returns how many were delivered /
 * failed (failed counts failed attempts, retried later or given up). Used by
 * the background job and by tests. At most `max` messages per call. */
YZ_MUST_USE yz_status notify_deliver_due(store *s, const notify_config *c, int max, int *delivered,
                                         int *failed, yz_err *e);

/* ---- a user's in-app list ---- */

typedef struct notify_inbox_filter {
	int64_t before;   /* cursor: messages with id < before (0 = newest) */
	int limit;        /* 1..100, default 20 */
	bool unread_only; /* only messages not yet read */
} notify_inbox_filter;

/* Newest first: {"items": [{id, subject, body, link, created_at, read,
 * read_at}], "next": cursor|null, "unread": n}. */
YZ_MUST_USE yz_status notify_inbox_list(store_conn *c, int64_t user_id,
                                        const notify_inbox_filter *f, json_t **out, yz_err *e);
YZ_MUST_USE yz_status notify_inbox_unread(store_conn *c, int64_t user_id, int64_t *n, yz_err *e);
/* Mark one of who's own in-app messages read (YZ_ENOTFOUND for anyone
 * else's). Reading a read message again changes nothing. Audited
 * "notify.read" when it changes. */
YZ_MUST_USE yz_status notify_mark_read(store *s, const yz_actor *who, int64_t id, yz_err *e);
/* Mark all of who's unread messages read; *n gets how many (may be NULL).
 * Audited "notify.read_all" when any changed. */
YZ_MUST_USE yz_status notify_mark_all_read(store *s, const yz_actor *who, int64_t *n, yz_err *e);

/* ---- the outbox, for operators ---- */

typedef struct notify_outbox_filter {
	const char *status; /* queued, sending, sent, failed; NULL = all */
	int64_t before;     /* cursor: id < before (0 = newest) */
	int limit;          /* 1..200, default 50 */
} notify_outbox_filter;

/* External messages, newest first, recipients masked (personal data):
 * {"items": [{id, channel, to, subject, status, attempts, next_at,
 * last_error, created_at, sent_at, key, alert}], "next": cursor|null,
 * "counts": {queued, sending, sent, failed}, "alerts": open alerts}. */
YZ_MUST_USE yz_status notify_outbox_list(store_conn *c, const notify_outbox_filter *f, json_t **out,
                                         yz_err *e);
/* One external message (recipient masked); YZ_ENOTFOUND for in-app ones. */
YZ_MUST_USE yz_status notify_outbox_get(store_conn *c, int64_t id, json_t **out, yz_err *e);
/* Send a failed message again: queued, attempts 0, due now; its open alert is
 * closed. YZ_ECONFLICT unless it is failed. Audited "notify.retry". */
YZ_MUST_USE yz_status notify_retry(store *s, const yz_actor *who, int64_t id, yz_err *e);
/* Alerts, newest first: [{id, message_id, text, created_at, cleared_at}]. */
YZ_MUST_USE yz_status notify_alert_list(store_conn *c, bool open_only, int limit, json_t **out,
                                        yz_err *e);

/* ---- metrics ---- */

/* Re-read the outbox gauges (messages per status, open alerts) from the
 * database; the background job calls it after each run. */
YZ_MUST_USE yz_status notify_refresh_gauges(store *s, yz_err *e);
/* Prometheus text of this process's counters and the last gauges, appended to
 * out. Reads no database (safe on an event loop). */
void notify_metrics(buf *out);

#endif
