/* Unit tests for src/notify on every backend. Deliveries are observed, not
 * assumed: an SMTP receiver and an HTTP receiver (SMS gateway, webhooks) run
 * as real socket servers on threads of the test, and record exactly what came
 * over the wire before they answer. Time moves only through the test clock. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "audit/audit.h"
#include "core/b64.h"
#include "core/clock.h"
#include "core/jx.h"
#include "core/slice.h"
#include "notify/notify.h"
#include "notify/notify_int.h"
#include "testutil.h"

/* 2026-03-01T09:30:00+08:00, a Sunday */
#define T0 1772328600000LL

/* ---- a socket server on a thread ---- */

typedef struct srv srv;
typedef void (*srv_session)(srv *s, int fd);

struct srv {
	int lfd, port, stop[2];
	pthread_t th;
	pthread_mutex_t mu;
	srv_session session;
	int conns;
};

static void *srv_main(void *arg)
{
	srv *s = arg;
	for (;;) {
		struct pollfd p[2] = {{.fd = s->lfd, .events = POLLIN},
		                      {.fd = s->stop[0], .events = POLLIN}};
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (!p[0].revents)
			continue;
		int fd = accept(s->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		struct timeval tv = {.tv_sec = 5};
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
		pthread_mutex_lock(&s->mu);
		s->conns++;
		pthread_mutex_unlock(&s->mu);
		s->session(s, fd);
		close(fd);
	}
	return NULL;
}

static void srv_start(srv *s, srv_session session)
{
	s->session = session;
	pthread_mutex_init(&s->mu, NULL);
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s->lfd >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(s->lfd, 16), 0);
	socklen_t len = sizeof a;
	assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&a, &len), 0);
	s->port = ntohs(a.sin_port);
	assert_int_equal(pipe(s->stop), 0);
	assert_int_equal(pthread_create(&s->th, NULL, srv_main, s), 0);
}

static void srv_stop(srv *s)
{
	assert_int_equal(write(s->stop[1], "x", 1), 1);
	pthread_join(s->th, NULL);
	close(s->lfd);
	close(s->stop[0]);
	close(s->stop[1]);
	pthread_mutex_destroy(&s->mu);
}

/* Buffered line reading from a socket. */
typedef struct rd {
	int fd;
	char b[8192];
	size_t len, pos;
} rd;

/* One line without CR LF; false at the end of the stream. */
static bool rd_line(rd *r, char *out, size_t cap)
{
	for (;;) {
		char *lf = memchr(r->b + r->pos, '\n', r->len - r->pos);
		if (lf) {
			size_t k = (size_t)(lf - (r->b + r->pos));
			size_t m = k && r->b[r->pos + k - 1] == '\r' ? k - 1 : k;
			if (m >= cap)
				m = cap - 1;
			memcpy(out, r->b + r->pos, m);
			out[m] = '\0';
			r->pos += k + 1;
			return true;
		}
		memmove(r->b, r->b + r->pos, r->len - r->pos);
		r->len -= r->pos;
		r->pos = 0;
		if (r->len == sizeof r->b)
			return false;
		ssize_t n = recv(r->fd, r->b + r->len, sizeof r->b - r->len, 0);
		if (n <= 0)
			return false;
		r->len += (size_t)n;
	}
}

static bool rd_bytes(rd *r, char *out, size_t n)
{
	while (r->len - r->pos < n) {
		memmove(r->b, r->b + r->pos, r->len - r->pos);
		r->len -= r->pos;
		r->pos = 0;
		ssize_t k = recv(r->fd, r->b + r->len, sizeof r->b - r->len, 0);
		if (k <= 0)
			return false;
		r->len += (size_t)k;
	}
	memcpy(out, r->b + r->pos, n);
	r->pos += n;
	return true;
}

static void say(int fd, const char *s)
{
	size_t n = strlen(s);
	assert_int_equal(send(fd, s, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* ---- the SMTP receiver ---- */

typedef struct mail_rx {
	char mail[300], rcpt[300];
	char *data; /* the DATA lines as on the wire (still dot-stuffed), CRLF ends */
} mail_rx;

typedef struct smtp_rx {
	srv s; /* first: the session gets srv * */
	bool offer_8bit, no_ehlo;
	int mail_code, rcpt_code;
	mail_rx msgs[16];
	int n;
} smtp_rx;

static void reply_code(int fd, int code)
{
	char line[64];
	snprintf(line, sizeof line, "%d %s\r\n", code,
	         code < 400   ? "OK"
	         : code < 500 ? "try again later"
	                      : "refused");
	say(fd, line);
}

static void smtp_session(srv *sv, int fd)
{
	smtp_rx *x = (smtp_rx *)sv;
	rd r = {.fd = fd};
	char line[2048];
	mail_rx cur = {0};
	say(fd, "220 rx.test ESMTP\r\n");
	while (rd_line(&r, line, sizeof line)) {
		if (!strncasecmp(line, "EHLO ", 5)) {
			if (x->no_ehlo)
				say(fd, "502 command not implemented\r\n");
			else
				say(fd, x->offer_8bit
				            ? "250-rx.test\r\n250-8BITMIME\r\n250 SIZE 1000000\r\n"
				            : "250-rx.test\r\n250 SIZE 1000000\r\n");
		} else if (!strncasecmp(line, "HELO ", 5)) {
			say(fd, "250 rx.test\r\n");
		} else if (!strncasecmp(line, "MAIL FROM:", 10)) {
			yz_strlcpy(cur.mail, line + 10, sizeof cur.mail);
			reply_code(fd, x->mail_code ? x->mail_code : 250);
		} else if (!strncasecmp(line, "RCPT TO:", 8)) {
			yz_strlcpy(cur.rcpt, line + 8, sizeof cur.rcpt);
			reply_code(fd, x->rcpt_code ? x->rcpt_code : 250);
		} else if (!strcasecmp(line, "DATA")) {
			say(fd, "354 go ahead\r\n");
			buf data;
			buf_init(&data, 1 << 20);
			while (rd_line(&r, line, sizeof line) && strcmp(line, ".") != 0) {
				assert_int_equal(buf_puts(&data, line), YZ_OK);
				assert_int_equal(buf_puts(&data, "\r\n"), YZ_OK);
			}
			cur.data = buf_take(&data, NULL);
			pthread_mutex_lock(&sv->mu);
			if (x->n < 16)
				x->msgs[x->n++] = cur;
			else
				free(cur.data);
			pthread_mutex_unlock(&sv->mu);
			cur = (mail_rx){0};
			say(fd, "250 queued\r\n");
		} else if (!strcasecmp(line, "QUIT")) {
			say(fd, "221 bye\r\n");
			return;
		} else {
			say(fd, "500 what?\r\n");
		}
	}
}

static int smtp_count(smtp_rx *x)
{
	pthread_mutex_lock(&x->s.mu);
	int n = x->n;
	pthread_mutex_unlock(&x->s.mu);
	return n;
}

static void smtp_free(smtp_rx *x)
{
	srv_stop(&x->s);
	for (int i = 0; i < x->n; i++)
		free(x->msgs[i].data);
}

/* ---- the HTTP receiver (SMS gateway, webhooks) ---- */

typedef struct http_got {
	char method[8], path[256], key[256], ctype[128];
	char *body;
} http_got;

typedef struct http_rx {
	srv s;
	int status; /* what to answer; 0 = 200 */
	bool hold;  /* answer nothing: wait until the client gives up */
	http_got reqs[32];
	int n;
} http_rx;

static void http_session(srv *sv, int fd)
{
	http_rx *x = (http_rx *)sv;
	rd r = {.fd = fd};
	char line[2048];
	http_got g = {0};
	if (!rd_line(&r, line, sizeof line))
		return;
	/* "POST /path HTTP/1.1" */
	char *sp1 = strchr(line, ' ');
	assert_non_null(sp1);
	char *sp2 = strchr(sp1 + 1, ' ');
	assert_non_null(sp2);
	*sp1 = *sp2 = '\0';
	yz_strlcpy(g.method, line, sizeof g.method);
	yz_strlcpy(g.path, sp1 + 1, sizeof g.path);
	size_t clen = 0;
	while (rd_line(&r, line, sizeof line) && line[0]) {
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = '\0';
		const char *v = colon + 1;
		while (*v == ' ')
			v++;
		if (!strcasecmp(line, "Content-Length"))
			clen = (size_t)strtoul(v, NULL, 10);
		else if (!strcasecmp(line, "Idempotency-Key"))
			yz_strlcpy(g.key, v, sizeof g.key);
		else if (!strcasecmp(line, "Content-Type"))
			yz_strlcpy(g.ctype, v, sizeof g.ctype);
	}
	assert_true(clen < 65536);
	g.body = calloc(1, clen + 1);
	assert_true(rd_bytes(&r, g.body, clen));
	pthread_mutex_lock(&sv->mu);
	int status = x->status ? x->status : 200;
	bool hold = x->hold;
	if (x->n < 32)
		x->reqs[x->n++] = g;
	else
		free(g.body);
	pthread_mutex_unlock(&sv->mu);
	if (hold) {
		char c;
		while (recv(fd, &c, 1, 0) > 0)
			;
		return;
	}
	char resp[256];
	const char *body = status < 300 ? "{\"ok\":true}" : "gateway busy";
	snprintf(resp, sizeof resp,
	         "HTTP/1.1 %d X\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
	         "Connection: close\r\n\r\n%s",
	         status, strlen(body), body);
	say(fd, resp);
}

static int http_count(http_rx *x)
{
	pthread_mutex_lock(&x->s.mu);
	int n = x->n;
	pthread_mutex_unlock(&x->s.mu);
	return n;
}

static void http_set_status(http_rx *x, int status)
{
	pthread_mutex_lock(&x->s.mu);
	x->status = status;
	pthread_mutex_unlock(&x->s.mu);
}

static void http_free(http_rx *x)
{
	srv_stop(&x->s);
	for (int i = 0; i < x->n; i++)
		free(x->reqs[i].body);
}

/* ---- fixture ---- */

typedef struct fx {
	store *s;
	char target[600];
	smtp_rx smtp;
	http_rx http;
	char gateway[128];
	notify_config cfg;
} fx;

static void open_fx(fx *f, const char *backend)
{
	memset(f, 0, sizeof *f);
	clock_set_fake(T0);
	f->s = tu_open_store(backend, f->target, sizeof f->target);
	yz_err e = {0};
	assert_int_equal(store_migrate(f->s, "audit", audit_migrations, audit_nmigrations, &e),
	                 YZ_OK);
	assert_int_equal(store_migrate(f->s, "notify", notify_migrations, notify_nmigrations, &e),
	                 YZ_OK);
	f->smtp.offer_8bit = true;
	srv_start(&f->smtp.s, smtp_session);
	srv_start(&f->http.s, http_session);
	snprintf(f->gateway, sizeof f->gateway, "http://127.0.0.1:%d/sms", f->http.s.port);
	f->cfg = (notify_config){.smtp_host = "127.0.0.1",
	                         .smtp_port = f->smtp.s.port,
	                         .mail_from = "noreply@yizhan.test",
	                         .sms_gateway = f->gateway,
	                         .max_tries = 3,
	                         .backoff_ms = 1000,
	                         .timeout_ms = 5000};
}

static void close_fx(fx *f)
{
	audit_report rep;
	yz_err e = {0};
	assert_int_equal(audit_verify(f->s, &rep, &e), YZ_OK);
	if (!rep.ok)
		fail_msg("audit chain broken at %lld: %s", (long long)rep.first_bad, rep.reason);
	smtp_free(&f->smtp);
	http_free(&f->http);
	clock_use_real();
	store_close(f->s);
	tu_drop_db(f->target);
}

static int64_t count(fx *f, const char *sql)
{
	store_conn *c;
	yz_err e = {0};
	assert_int_equal(store_reader(f->s, &c, &e), YZ_OK);
	int64_t n = -1;
	if (store_query_int(c, sql, NULL, 0, &n, &e) != YZ_OK)
		fail_msg("%s: %s", sql, e.msg);
	return n;
}

/* One text column of one row. */
static char *text_of(fx *f, const char *sql)
{
	store_conn *c;
	yz_err e = {0};
	assert_int_equal(store_reader(f->s, &c, &e), YZ_OK);
	store_rows *r;
	assert_int_equal(store_query(c, sql, NULL, 0, &r, &e), YZ_OK);
	char *out = store_next(r) ? strdup(store_col_text(r, 0)) : NULL;
	assert_int_equal(store_rows_close(r, &e), YZ_OK);
	assert_non_null(out);
	return out;
}

static void assert_text(fx *f, const char *sql, const char *want)
{
	char *got = text_of(f, sql);
	assert_string_equal(got, want);
	free(got);
}

typedef struct enq_job {
	notify_msg m;
	int64_t id;
	bool created;
	int runs;
	yz_status then; /* what the job answers after enqueueing (the cause failing) */
} enq_job;

static yz_status enq_fn(store_conn *tx, void *arg, yz_err *e)
{
	enq_job *j = arg;
	j->runs++;
	yz_status st = notify_enqueue_id(tx, &j->m, &j->id, &j->created, e);
	if (st == YZ_OK && j->then != YZ_OK)
		return yz_fail(e, j->then, "the cause failed");
	return st;
}

static yz_status enqueue(fx *f, notify_msg m, int64_t *id, bool *created, yz_err *e)
{
	enq_job j = {.m = m};
	yz_status st = store_write(f->s, enq_fn, &j, e);
	if (id)
		*id = j.id;
	if (created)
		*created = j.created;
	return st;
}

static int64_t enqueue_ok(fx *f, notify_msg m)
{
	yz_err e = {0};
	int64_t id;
	bool created;
	if (enqueue(f, m, &id, &created, &e) != YZ_OK)
		fail_msg("enqueue: %s (%s %s)", e.msg, e.nfield ? e.fields[0].field : "",
		         e.nfield ? e.fields[0].rule : "");
	assert_true(created);
	return id;
}

static void deliver(fx *f, int want_delivered, int want_failed)
{
	int d = -1, fl = -1;
	yz_err e = {0};
	if (notify_deliver_due(f->s, &f->cfg, 20, &d, &fl, &e) != YZ_OK)
		fail_msg("deliver: %s", e.msg);
	assert_int_equal(d, want_delivered);
	assert_int_equal(fl, want_failed);
}

static void status_is(fx *f, int64_t id, const char *status, int64_t attempts)
{
	char sql[160];
	snprintf(sql, sizeof sql, "SELECT status FROM notify_message WHERE id = %lld",
	         (long long)id);
	assert_text(f, sql, status);
	snprintf(sql, sizeof sql, "SELECT attempts FROM notify_message WHERE id = %lld",
	         (long long)id);
	assert_int_equal(count(f, sql), attempts);
}

static int64_t audits(fx *f, const char *action)
{
	char sql[160];
	snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM audit_log WHERE action = '%s'", action);
	return count(f, sql);
}

static bool has_field(const yz_err *e, const char *field, const char *rule)
{
	for (int i = 0; i < e->nfield && i < YZ_ERR_MAX_FIELDS; i++)
		if (!strcmp(e->fields[i].field, field) && !strcmp(e->fields[i].rule, rule))
			return true;
	return false;
}

/* ---- tests ---- */

static void enqueue_is_idempotent_and_validated(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		fx f;
		open_fx(&f, be[b]);
		notify_msg m = {.channel = NOTIFY_EMAIL,
		                .to = "zhang@example.gov.cn",
		                .subject = "受理通知",
		                .body = "您的申请已受理。",
		                .key = "case-1:accepted"};
		int64_t id1 = enqueue_ok(&f, m);
		/* the same key again, whatever the content or channel: a no-op */
		yz_err e = {0};
		int64_t id2 = 0;
		bool created = true;
		m.body = "another text";
		assert_int_equal(enqueue(&f, m, &id2, &created, &e), YZ_OK);
		assert_false(created);
		assert_int_equal(id2, id1);
		notify_msg inapp = {.channel = NOTIFY_INAPP,
		                    .user_id = 7,
		                    .subject = "x",
		                    .body = "y",
		                    .key = "case-1:accepted"};
		assert_int_equal(enqueue(&f, inapp, &id2, &created, &e), YZ_OK);
		assert_false(created);
		assert_int_equal(id2, id1);
		assert_int_equal(count(&f, "SELECT COUNT(*) FROM notify_message"), 1);
		assert_text(&f, "SELECT body FROM notify_message", "您的申请已受理。");
		assert_text(&f, "SELECT status FROM notify_message", "queued");
		/* in-app messages without a key are never merged */
		inapp.key = NULL;
		enqueue_ok(&f, inapp);
		enqueue_ok(&f, inapp);
		assert_int_equal(
		    count(&f, "SELECT COUNT(*) FROM notify_message WHERE channel = 'inapp'"), 2);

		/* every fault of a message at once */
		notify_msg bad = {.channel = NOTIFY_EMAIL,
		                  .to = "not-an-address",
		                  .body = "\xff\xfe",
		                  .link = "//evil.example/x",
		                  .key = "has space"};
		e = (yz_err){0};
		assert_int_equal(enqueue(&f, bad, NULL, NULL, &e), YZ_EINVAL);
		assert_true(has_field(&e, "to", "pattern"));
		assert_true(has_field(&e, "subject", "required"));
		assert_true(has_field(&e, "body", "utf8"));
		assert_true(has_field(&e, "link", "pattern"));
		assert_true(has_field(&e, "key", "pattern"));
		char longsms[NOTIFY_SMS_MAX * 3 + 8];
		for (int i = 0; i <= NOTIFY_SMS_MAX; i++)
			memcpy(longsms + 3 * i, "字", 3);
		longsms[3 * (NOTIFY_SMS_MAX + 1)] = '\0';
		notify_msg sms = {.channel = NOTIFY_SMS, .to = "138-0000", .body = longsms};
		e = (yz_err){0};
		assert_int_equal(enqueue(&f, sms, NULL, NULL, &e), YZ_EINVAL);
		assert_true(has_field(&e, "to", "pattern"));
		assert_true(has_field(&e, "body", "max-length"));
		assert_true(has_field(&e, "key", "required"));
		notify_msg hook = {
		    .channel = NOTIFY_WEBHOOK, .to = "https://x.example/", .body = "b", .key = "k"};
		e = (yz_err){0};
		assert_int_equal(enqueue(&f, hook, NULL, NULL, &e), YZ_EINVAL);
		assert_true(has_field(&e, "to", "pattern"));
		notify_msg noone = {.channel = NOTIFY_INAPP, .subject = "s", .body = "b"};
		e = (yz_err){0};
		assert_int_equal(enqueue(&f, noone, NULL, NULL, &e), YZ_EINVAL);
		assert_true(has_field(&e, "user_id", "required"));
		assert_int_equal(count(&f, "SELECT COUNT(*) FROM notify_message"), 3);
		close_fx(&f);
	}
}

static void inapp_is_delivered_with_its_cause(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		fx f;
		open_fx(&f, be[b]);
		notify_msg m = {.channel = NOTIFY_INAPP,
		                .user_id = 42,
		                .subject = "您的申请已受理",
		                .body = "受理编号 2026-0001",
		                .link = "/workbench",
		                .key = "flow-1:accepted:42"};
		/* the cause fails: the notification goes with it */
		enq_job j = {.m = m, .then = YZ_EREFUSED};
		yz_err e = {0};
		assert_int_equal(store_write(f.s, enq_fn, &j, &e), YZ_EREFUSED);
		assert_int_equal(count(&f, "SELECT COUNT(*) FROM notify_message"), 0);
		/* the cause commits: delivered in the same transaction, no network */
		j = (enq_job){.m = m};
		assert_int_equal(store_write(f.s, enq_fn, &j, &e), YZ_OK);
		assert_true(j.created);
		status_is(&f, j.id, "sent", 0);
		store_conn *c;
		assert_int_equal(store_reader(f.s, &c, &e), YZ_OK);
		json_t *list;
		assert_int_equal(notify_inbox_list(c, 42, NULL, &list, &e), YZ_OK);
		assert_int_equal(jx_int(list, "unread", -1), 1);
		json_t *it = json_array_get(json_object_get(list, "items"), 0);
		assert_string_equal(jx_str(it, "subject", ""), "您的申请已受理");
		assert_string_equal(jx_str(it, "link", ""), "/workbench");
		assert_string_equal(jx_str(it, "created_at", ""), "2026-03-01T09:30:00+08:00");
		assert_false(jx_bool(it, "read", true));
		json_decref(list);
		/* another user sees nothing and cannot mark it */
		assert_int_equal(notify_inbox_list(c, 43, NULL, &list, &e), YZ_OK);
		assert_int_equal(json_array_size(json_object_get(list, "items")), 0);
		json_decref(list);
		yz_actor other = actor_system("t");
		other.user_id = 43;
		e = (yz_err){0};
		assert_int_equal(notify_mark_read(f.s, &other, j.id, &e), YZ_ENOTFOUND);
		yz_actor me = actor_system("t");
		me.user_id = 42;
		yz_strlcpy(me.login, "chenjing.fgw", sizeof me.login);
		clock_advance(60000);
		assert_int_equal(notify_mark_read(f.s, &me, j.id, &e), YZ_OK);
		assert_int_equal(notify_mark_read(f.s, &me, j.id, &e), YZ_OK);
		assert_int_equal(audits(&f, "notify.read"), 1);
		int64_t unread = -1;
		assert_int_equal(notify_inbox_unread(c, 42, &unread, &e), YZ_OK);
		assert_int_equal(unread, 0);
		assert_int_equal(notify_inbox_list(c, 42, NULL, &list, &e), YZ_OK);
		it = json_array_get(json_object_get(list, "items"), 0);
		assert_true(jx_bool(it, "read", false));
		assert_string_equal(jx_str(it, "read_at", ""), "2026-03-01T09:31:00+08:00");
		json_decref(list);
		/* paging and unread filter; mark all */
		for (int i = 0; i < 5; i++) {
			m.key = NULL;
			m.link = NULL;
			enqueue_ok(&f, m);
		}
		notify_inbox_filter flt = {.limit = 2, .unread_only = true};
		assert_int_equal(notify_inbox_list(c, 42, &flt, &list, &e), YZ_OK);
		assert_int_equal(json_array_size(json_object_get(list, "items")), 2);
		assert_int_equal(jx_int(list, "unread", -1), 5);
		int64_t next = jx_int(list, "next", 0);
		assert_true(next > 0);
		json_decref(list);
		flt.before = next;
		flt.limit = 10;
		assert_int_equal(notify_inbox_list(c, 42, &flt, &list, &e), YZ_OK);
		assert_int_equal(json_array_size(json_object_get(list, "items")), 3);
		assert_true(json_is_null(json_object_get(list, "next")));
		json_decref(list);
		int64_t n = 0;
		assert_int_equal(notify_mark_all_read(f.s, &me, &n, &e), YZ_OK);
		assert_int_equal(n, 5);
		assert_int_equal(notify_mark_all_read(f.s, &me, &n, &e), YZ_OK);
		assert_int_equal(n, 0);
		assert_int_equal(audits(&f, "notify.read_all"), 1);
		/* in-app messages never reach the delivery worker */
		deliver(&f, 0, 0);
		assert_int_equal(f.smtp.s.conns + f.http.s.conns, 0);
		close_fx(&f);
	}
}

static const char *const smtp_subject = "办件通知：您的申请已受理";

static void smtp_delivery_is_exact(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		fx f;
		open_fx(&f, be[b]);
		int64_t id = enqueue_ok(&f, (notify_msg){.channel = NOTIFY_EMAIL,
		                                         .user_id = 11,
		                                         .to = "zhang.wei@example.gov.cn",
		                                         .subject = smtp_subject,
		                                         .body = "您好：\n.\n..hidden\n第三行\n",
		                                         .key = "mail-1"});
		deliver(&f, 1, 0);
		assert_int_equal(smtp_count(&f.smtp), 1);
		mail_rx *m = &f.smtp.msgs[0];
		assert_string_equal(m->mail, "<noreply@yizhan.test> BODY=8BITMIME");
		assert_string_equal(m->rcpt, "<zhang.wei@example.gov.cn>");
		buf subj;
		buf_init(&subj, 4096);
		assert_int_equal(b64_encode(smtp_subject, strlen(smtp_subject), false, &subj),
		                 YZ_OK);
		char want[4096];
		snprintf(want, sizeof want,
		         "Date: Sun, 1 Mar 2026 09:30:00 +0800\r\n"
		         "From: noreply@yizhan.test\r\n"
		         "To: zhang.wei@example.gov.cn\r\n"
		         "Subject: =?UTF-8?B?%s?=\r\n"
		         "Message-ID: <mail-1@yizhan>\r\n"
		         "MIME-Version: 1.0\r\n"
		         "Content-Type: text/plain; charset=UTF-8\r\n"
		         "Content-Transfer-Encoding: 8bit\r\n"
		         "\r\n"
		         "您好：\r\n"
		         "..\r\n"
		         "...hidden\r\n"
		         "第三行\r\n",
		         buf_str(&subj));
		buf_free(&subj);
		assert_string_equal(m->data, want);
		status_is(&f, id, "sent", 1);
		assert_int_equal(audits(&f, "notify.sent"), 1);
		/* sent is final: nothing goes out again */
		clock_advance(24LL * 3600 * 1000);
		deliver(&f, 0, 0);
		assert_int_equal(smtp_count(&f.smtp), 1);

		/* a server without 8BITMIME gets base64, and one without EHLO gets HELO */
		f.smtp.offer_8bit = false;
		f.smtp.no_ehlo = true;
		enqueue_ok(&f, (notify_msg){.channel = NOTIFY_EMAIL,
		                            .to = "li@example.gov.cn",
		                            .subject = "Plain subject",
		                            .body = "第一行\r\n第二行",
		                            .key = "case.42:mail"});
		deliver(&f, 1, 0);
		assert_int_equal(smtp_count(&f.smtp), 2);
		m = &f.smtp.msgs[1];
		assert_string_equal(m->mail, "<noreply@yizhan.test>");
		assert_non_null(strstr(m->data, "\r\nSubject: Plain subject\r\n"));
		assert_non_null(strstr(m->data, "\r\nMessage-ID: <case=2E42=3Amail@yizhan>\r\n"));
		assert_non_null(strstr(m->data, "\r\nContent-Transfer-Encoding: base64\r\n"));
		const char *body = strstr(m->data, "\r\n\r\n") + 4;
		char dec[256];
		size_t dn = 0;
		size_t bl = strlen(body);
		assert_true(bl > 2 && !strcmp(body + bl - 2, "\r\n"));
		assert_int_equal(
		    b64_decode(body, bl - 2, false, (unsigned char *)dec, sizeof dec - 1, &dn),
		    YZ_OK);
		dec[dn] = '\0';
		assert_string_equal(dec, "第一行\r\n第二行\r\n");
		close_fx(&f);
	}
}

static void smtp_refusals(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		fx f;
		open_fx(&f, be[b]);
		/* 4xx: retried later */
		f.smtp.mail_code = 451;
		int64_t id = enqueue_ok(&f, (notify_msg){.channel = NOTIFY_EMAIL,
		                                         .to = "a@example.gov.cn",
		                                         .subject = "s",
		                                         .body = "b",
		                                         .key = "m-451"});
		deliver(&f, 0, 1);
		status_is(&f, id, "queued", 1);
		assert_text(&f, "SELECT last_error FROM notify_message WHERE idem_key = 'm-451'",
		            "SMTP MAIL FROM answered 451 try again later");
		/* 5xx to RCPT: refused for good, at once, with an alert */
		f.smtp.mail_code = 0;
		f.smtp.rcpt_code = 550;
		clock_advance(1000);
		deliver(&f, 0, 1);
		status_is(&f, id, "failed", 2);
		assert_int_equal(count(&f, "SELECT COUNT(*) FROM notify_alert"), 1);
		assert_int_equal(audits(&f, "notify.failed"), 1);
		assert_int_equal(smtp_count(&f.smtp), 0);
		/* no server at all: a retryable failure naming the problem */
		f.cfg.smtp_port = f.http.s.port == 1 ? 2 : 1;
		enqueue_ok(&f, (notify_msg){.channel = NOTIFY_EMAIL,
		                            .to = "b@example.gov.cn",
		                            .subject = "s",
		                            .body = "b",
		                            .key = "m-down"});
		deliver(&f, 0, 1);
		char *err = text_of(&f, "SELECT last_error FROM notify_message WHERE idem_key = "
		                        "'m-down'");
		assert_non_null(strstr(err, "connect"));
		free(err);
		f.cfg.smtp_host = "";
		clock_advance(5000);
		deliver(&f, 0, 1);
		assert_text(&f, "SELECT last_error FROM notify_message WHERE idem_key = 'm-down'",
		            "no SMTP server is configured (smtp_host)");
		close_fx(&f);
	}
}

static char *last_error_of(fx *f, int64_t id)
{
	char sql[160];
	snprintf(sql, sizeof sql, "SELECT last_error FROM notify_message WHERE id = %lld",
	         (long long)id);
	return text_of(f, sql);
}

static void next_at_is(fx *f, int64_t id, int64_t want)
{
	char sql[160];
	snprintf(sql, sizeof sql, "SELECT next_at FROM notify_message WHERE id = %lld",
	         (long long)id);
	assert_int_equal(count(f, sql), want);
}

static void sms_and_webhook_delivery(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		fx f;
		open_fx(&f, be[b]);
		int64_t sms = enqueue_ok(&f, (notify_msg){.channel = NOTIFY_SMS,
		                                          .to = "13800000011",
		                                          .body = "【一站】您的申请已受理。",
		                                          .key = "sms-1"});
		char url[128];
		snprintf(url, sizeof url, "http://127.0.0.1:%d/hook?src=yizhan", f.http.s.port);
		int64_t hook = enqueue_ok(&f, (notify_msg){.channel = NOTIFY_WEBHOOK,
		                                           .to = url,
		                                           .subject = "办结",
		                                           .body = "已办结",
		                                           .link = "/cases/1",
		                                           .key = "hook-1"});
		deliver(&f, 2, 0);
		assert_int_equal(http_count(&f.http), 2);
		http_got *g = &f.http.reqs[0];
		assert_string_equal(g->method, "POST");
		assert_string_equal(g->path, "/sms");
		assert_string_equal(g->key, "sms-1");
		assert_string_equal(g->ctype, "application/json; charset=utf-8");
		assert_string_equal(g->body,
		                    "{\"to\":\"13800000011\",\"text\":\"【一站】您的申请已受理。"
		                    "\",\"key\":\"sms-1\"}");
		g = &f.http.reqs[1];
		assert_string_equal(g->path, "/hook?src=yizhan");
		assert_string_equal(g->key, "hook-1");
		assert_string_equal(g->body,
		                    "{\"subject\":\"办结\",\"body\":\"已办结\",\"link\":\"/"
		                    "cases/1\",\"key\":\"hook-1\"}");
		status_is(&f, sms, "sent", 1);
		status_is(&f, hook, "sent", 1);
		/* the operator's view masks the recipients */
		store_conn *c;
		yz_err e = {0};
		assert_int_equal(store_reader(f.s, &c, &e), YZ_OK);
		json_t *list;
		notify_outbox_filter flt = {.status = "sent"};
		assert_int_equal(notify_outbox_list(c, &flt, &list, &e), YZ_OK);
		json_t *items = json_object_get(list, "items");
		assert_int_equal(json_array_size(items), 2);
		assert_string_equal(jx_str(json_array_get(items, 1), "to", ""), "138****0011");
		char masked[64];
		snprintf(masked, sizeof masked, "http://127.0.0.1:%d/…", f.http.s.port);
		assert_string_equal(jx_str(json_array_get(items, 0), "to", ""), masked);
		assert_int_equal(jx_int(json_object_get(list, "counts"), "sent", -1), 2);
		json_decref(list);
		flt.status = "bogus";
		e = (yz_err){0};
		assert_int_equal(notify_outbox_list(c, &flt, &list, &e), YZ_EINVAL);
		/* a gateway that never answers: the deadline ends the attempt */
		f.http.hold = true;
		f.cfg.timeout_ms = 300;
		uint64_t t0 = clock_mono_ns();
		int64_t slow = enqueue_ok(&f, (notify_msg){.channel = NOTIFY_SMS,
		                                           .to = "13800000014",
		                                           .body = "x",
		                                           .key = "s-slow"});
		deliver(&f, 0, 1);
		uint64_t took_ms = (clock_mono_ns() - t0) / 1000000;
		assert_true(took_ms >= 300 && took_ms < 3000);
		status_is(&f, slow, "queued", 1);
		char *err = last_error_of(&f, slow);
		assert_string_equal(err, "timed out waiting for the answer");
		free(err);
		f.http.hold = false;
		/* no gateway configured: a clear, retryable failure */
		f.cfg.sms_gateway = NULL;
		enqueue_ok(&f, (notify_msg){.channel = NOTIFY_SMS,
		                            .to = "+8613900000000",
		                            .body = "x",
		                            .key = "s2"});
		deliver(&f, 0, 1);
		assert_text(&f, "SELECT last_error FROM notify_message WHERE idem_key = 's2'",
		            "no SMS gateway is configured (sms_gateway)");
		close_fx(&f);
	}
}

static void retries_back_off_then_fail_and_alert(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		fx f;
		open_fx(&f, be[b]);
		http_set_status(&f.http, 503);
		int64_t id = enqueue_ok(&f, (notify_msg){.channel = NOTIFY_SMS,
		                                         .to = "13800000011",
		                                         .body = "验证码 123456",
		                                         .key = "sms-retry"});
		/* try 1 fails: due again after backoff × 2^0 */
		deliver(&f, 0, 1);
		status_is(&f, id, "queued", 1);
		next_at_is(&f, id, T0 + 1000);
		char *err = last_error_of(&f, id);
		char want[128];
		snprintf(want, sizeof want, "HTTP 503 from 127.0.0.1:%d: gateway busy",
		         f.http.s.port);
		assert_string_equal(err, want);
		free(err);
		/* not due yet: nothing is sent */
		clock_advance(999);
		deliver(&f, 0, 0);
		assert_int_equal(http_count(&f.http), 1);
		/* try 2 after 1 s; then 2 s */
		clock_advance(1);
		deliver(&f, 0, 1);
		status_is(&f, id, "queued", 2);
		next_at_is(&f, id, T0 + 1000 + 2000);
		clock_advance(1999);
		deliver(&f, 0, 0);
		assert_int_equal(http_count(&f.http), 2);
		assert_int_equal(count(&f, "SELECT COUNT(*) FROM notify_alert"), 0);
		/* try 3 is the last (max_tries 3): failed, alerted, audited */
		clock_advance(1);
		deliver(&f, 0, 1);
		status_is(&f, id, "failed", 3);
		assert_int_equal(http_count(&f.http), 3);
		assert_int_equal(
		    count(&f, "SELECT COUNT(*) FROM notify_alert WHERE cleared_at IS NULL"), 1);
		assert_int_equal(audits(&f, "notify.failed"), 1);
		store_conn *c;
		yz_err e = {0};
		assert_int_equal(store_reader(f.s, &c, &e), YZ_OK);
		json_t *alerts;
		assert_int_equal(notify_alert_list(c, true, 10, &alerts, &e), YZ_OK);
		assert_int_equal(json_array_size(alerts), 1);
		snprintf(
		    want, sizeof want,
		    "message %lld failed after 3 attempts: HTTP 503 from 127.0.0.1:%d: gateway "
		    "busy",
		    (long long)id, f.http.s.port);
		assert_string_equal(jx_str(json_array_get(alerts, 0), "text", ""), want);
		json_decref(alerts);
		json_t *o;
		assert_int_equal(notify_outbox_get(c, id, &o, &e), YZ_OK);
		assert_true(jx_bool(o, "alert", false));
		assert_string_equal(jx_str(o, "status", ""), "failed");
		json_decref(o);
		/* failed stays failed: an hour later nothing was sent */
		clock_advance(3600 * 1000);
		deliver(&f, 0, 0);
		assert_int_equal(http_count(&f.http), 3);

		/* the operator sends it again once the gateway is back */
		http_set_status(&f.http, 200);
		yz_actor op = actor_system("t");
		op.user_id = 1;
		yz_strlcpy(op.login, "admin", sizeof op.login);
		assert_int_equal(notify_retry(f.s, &op, id, &e), YZ_OK);
		status_is(&f, id, "queued", 0);
		assert_int_equal(
		    count(&f, "SELECT COUNT(*) FROM notify_alert WHERE cleared_at IS NULL"), 0);
		assert_text(&f, "SELECT cleared_by FROM notify_alert", "admin");
		assert_int_equal(audits(&f, "notify.retry"), 1);
		deliver(&f, 1, 0);
		status_is(&f, id, "sent", 1);
		assert_int_equal(http_count(&f.http), 4);
		assert_string_equal(f.http.reqs[3].key, "sms-retry");
		/* only a failed message can be retried */
		e = (yz_err){0};
		assert_int_equal(notify_retry(f.s, &op, id, &e), YZ_ECONFLICT);
		e = (yz_err){0};
		assert_int_equal(notify_retry(f.s, &op, id + 1000, &e), YZ_ENOTFOUND);

		/* a gateway that refuses (4xx) is not asked again */
		http_set_status(&f.http, 400);
		int64_t id2 = enqueue_ok(&f, (notify_msg){.channel = NOTIFY_SMS,
		                                          .to = "13800000012",
		                                          .body = "x",
		                                          .key = "sms-refused"});
		deliver(&f, 0, 1);
		status_is(&f, id2, "failed", 1);
		assert_int_equal(
		    count(&f, "SELECT COUNT(*) FROM notify_alert WHERE cleared_at IS NULL"), 1);
		/* backoff doubles up to one hour at most */
		f.cfg.max_tries = 30;
		f.cfg.backoff_ms = 600000;
		http_set_status(&f.http, 500);
		int64_t id3 = enqueue_ok(&f, (notify_msg){.channel = NOTIFY_SMS,
		                                          .to = "13800000013",
		                                          .body = "x",
		                                          .key = "sms-cap"});
		int64_t waits[] = {600000, 1200000, 2400000, 3600000, 3600000};
		for (int i = 0; i < 5; i++) {
			deliver(&f, 0, 1);
			next_at_is(&f, id3, clock_now_ms() + waits[i]);
			clock_advance(waits[i]);
		}
		close_fx(&f);
	}
}

/* The process "dies" after handing the message over and before recording it. */
static bool die_after_send(void *arg, int64_t id)
{
	int *calls = arg;
	(void)id;
	(*calls)++;
	return false;
}

static void lease_expiry_retries_without_duplicates(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		fx f;
		open_fx(&f, be[b]);
		int64_t done = enqueue_ok(&f, (notify_msg){.channel = NOTIFY_EMAIL,
		                                           .to = "a@example.gov.cn",
		                                           .subject = "已确认",
		                                           .body = "acked",
		                                           .key = "acked-1"});
		deliver(&f, 1, 0);
		int64_t id = enqueue_ok(&f, (notify_msg){.channel = NOTIFY_EMAIL,
		                                         .to = "b@example.gov.cn",
		                                         .subject = "崩溃之间",
		                                         .body = "between send and ack",
		                                         .key = "crash-1"});
		int calls = 0;
		f.cfg.after_send = die_after_send;
		f.cfg.after_send_arg = &calls;
		deliver(&f, 0, 0);
		assert_int_equal(calls, 1);
		assert_int_equal(smtp_count(&f.smtp), 2);
		status_is(&f, id, "sending", 1);
		/* "restart": while the lease holds nobody sends it again */
		f.cfg.after_send = NULL;
		deliver(&f, 0, 0);
		assert_int_equal(smtp_count(&f.smtp), 2);
		/* the lease: one message's timeout, a second to record it, 5 s margin */
		int64_t lease = f.cfg.timeout_ms + 1000 + 5000;
		clock_advance(lease - 1);
		deliver(&f, 0, 0);
		clock_advance(1);
		deliver(&f, 1, 0);
		status_is(&f, id, "sent", 2);
		/* on the wire: the acknowledged one once, the interrupted one twice with the same
		 * Message-ID, so the receiver keeps exactly one of each */
		assert_int_equal(smtp_count(&f.smtp), 3);
		int acked = 0, crashed = 0;
		for (int i = 0; i < 3; i++) {
			acked +=
			    strstr(f.smtp.msgs[i].data, "Message-ID: <acked-1@yizhan>") != NULL;
			crashed +=
			    strstr(f.smtp.msgs[i].data, "Message-ID: <crash-1@yizhan>") != NULL;
		}
		assert_int_equal(acked, 1);
		assert_int_equal(crashed, 2);
		status_is(&f, done, "sent", 1);
		clock_advance(24LL * 3600 * 1000);
		deliver(&f, 0, 0);
		assert_int_equal(smtp_count(&f.smtp), 3);

		/* interrupted on its last try: failed (delivery unknown), alerted, not resent */
		f.cfg.max_tries = 1;
		f.cfg.after_send = die_after_send;
		int64_t last = enqueue_ok(&f, (notify_msg){.channel = NOTIFY_EMAIL,
		                                           .to = "c@example.gov.cn",
		                                           .subject = "s",
		                                           .body = "b",
		                                           .key = "crash-last"});
		deliver(&f, 0, 0);
		f.cfg.after_send = NULL;
		clock_advance(lease);
		deliver(&f, 0, 0);
		status_is(&f, last, "failed", 1);
		assert_int_equal(smtp_count(&f.smtp), 4);
		char *err = last_error_of(&f, last);
		assert_non_null(strstr(err, "interrupted"));
		free(err);
		assert_int_equal(count(&f, "SELECT COUNT(*) FROM notify_alert"), 1);
		close_fx(&f);
	}
}

/* Holds the writer thread until released, so that the jobs queued meanwhile
 * form one batch. */
typedef struct gate {
	sem_t started, release;
} gate;

static yz_status gate_fn(store_conn *tx, void *arg, yz_err *e)
{
	(void)tx;
	(void)e;
	gate *g = arg;
	sem_post(&g->started);
	sem_wait(&g->release);
	return YZ_OK;
}

static yz_status fail_fn(store_conn *tx, void *arg, yz_err *e)
{
	(void)tx;
	(void)arg;
	return yz_fail(e, YZ_EREFUSED, "a neighbour fails");
}

static void ignore_done(void *arg, yz_status st, const yz_err *e)
{
	yz_status *out = arg;
	(void)e;
	*out = st;
}

typedef struct deliverer {
	fx *f;
	int delivered, failed;
	yz_status st;
} deliverer;

static void *deliver_thread(void *arg)
{
	deliverer *d = arg;
	yz_err e = {0};
	d->st = notify_deliver_due(d->f->s, &d->f->cfg, 20, &d->delivered, &d->failed, &e);
	return NULL;
}

static void jobs_are_rerunnable(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		fx f;
		open_fx(&f, be[b]);
		/* [enqueue, failing job, enqueue] in one batch: the batch is rolled back and
		 * run again job by job, so the first enqueue runs twice */
		gate g;
		sem_init(&g.started, 0, 0);
		sem_init(&g.release, 0, 0);
		yz_err e = {0};
		yz_status gst = -1, st1 = -1, st2 = -1, st3 = -1;
		assert_int_equal(store_write_then(f.s, gate_fn, &g, ignore_done, &gst, &e), YZ_OK);
		sem_wait(&g.started);
		enq_job j1 = {.m = {.channel = NOTIFY_SMS,
		                    .to = "13800000001",
		                    .body = "one",
		                    .key = "rerun-1"}};
		enq_job j3 = {.m = {.channel = NOTIFY_INAPP,
		                    .user_id = 5,
		                    .subject = "three",
		                    .body = "three",
		                    .key = "rerun-3"}};
		assert_int_equal(store_write_then(f.s, enq_fn, &j1, ignore_done, &st1, &e), YZ_OK);
		assert_int_equal(store_write_then(f.s, fail_fn, NULL, ignore_done, &st2, &e),
		                 YZ_OK);
		assert_int_equal(store_write_then(f.s, enq_fn, &j3, ignore_done, &st3, &e), YZ_OK);
		sem_post(&g.release);
		store_flush(f.s);
		assert_int_equal(gst, YZ_OK);
		assert_int_equal(st1, YZ_OK);
		assert_int_equal(st2, YZ_EREFUSED);
		assert_int_equal(st3, YZ_OK);
		assert_int_equal(j1.runs, 2);
		assert_true(j1.created && j3.created);
		assert_int_equal(count(&f, "SELECT COUNT(*) FROM notify_message"), 2);
		sem_destroy(&g.started);
		sem_destroy(&g.release);

		/* two workers at once: each message is claimed, and sent, once */
		for (int i = 0; i < 6; i++) {
			char key[16];
			snprintf(key, sizeof key, "par-%d", i);
			enqueue_ok(&f, (notify_msg){.channel = NOTIFY_SMS,
			                            .to = "13800000002",
			                            .body = "parallel",
			                            .key = key});
		}
		deliverer d1 = {.f = &f}, d2 = {.f = &f};
		pthread_t t1, t2;
		assert_int_equal(pthread_create(&t1, NULL, deliver_thread, &d1), 0);
		assert_int_equal(pthread_create(&t2, NULL, deliver_thread, &d2), 0);
		pthread_join(t1, NULL);
		pthread_join(t2, NULL);
		assert_int_equal(d1.st, YZ_OK);
		assert_int_equal(d2.st, YZ_OK);
		assert_int_equal(d1.delivered + d2.delivered, 7);
		assert_int_equal(d1.failed + d2.failed, 0);
		assert_int_equal(http_count(&f.http), 7);
		for (int i = 0; i < 7; i++)
			for (int k = i + 1; k < 7; k++)
				assert_string_not_equal(f.http.reqs[i].key, f.http.reqs[k].key);
		assert_int_equal(
		    count(&f, "SELECT COUNT(*) FROM notify_message WHERE status = 'sent' AND "
		              "channel = 'sms' AND attempts = 1"),
		    7);
		close_fx(&f);
	}
}

static void wire_formats(void **state)
{
	(void)state;
	/* a long subject: several encoded words of whole characters, folded */
	buf b;
	buf_init(&b, 4096);
	const char *subj = "关于二〇二六年度城市数字化转型重点项目申报工作的通知（第二批）";
	assert_int_equal(notify_rfc2047(subj, &b), YZ_OK);
	buf joined;
	buf_init(&joined, 4096);
	int words = 0;
	for (const char *p = buf_str(&b); *p;) {
		assert_int_equal(strncmp(p, "=?UTF-8?B?", 10), 0);
		const char *end = strstr(p + 10, "?=");
		assert_non_null(end);
		assert_true(end + 2 - p <= 75);
		unsigned char dec[64];
		size_t n = 0;
		assert_int_equal(
		    b64_decode(p + 10, (size_t)(end - p - 10), false, dec, sizeof dec, &n), YZ_OK);
		assert_true(utf8_valid((const char *)dec, n));
		assert_int_equal(buf_append(&joined, dec, n), YZ_OK);
		words++;
		p = end + 2;
		if (*p) {
			assert_int_equal(strncmp(p, "\r\n ", 3), 0);
			p += 3;
		}
	}
	assert_true(words >= 2);
	assert_string_equal(buf_str(&joined), subj);
	buf_reset(&b);
	/* plain ASCII stays plain; controls cannot end the header */
	assert_int_equal(notify_rfc2047("Case 42\r\nBcc: x@evil", &b), YZ_OK);
	assert_string_equal(buf_str(&b), "Case 42  Bcc: x@evil");
	buf_reset(&b);
	/* dot-stuffing and the end of data */
	assert_int_equal(notify_smtp_data(".\r\nx\r\n.y\r\n", 10, &b), YZ_OK);
	assert_string_equal(buf_str(&b), "..\r\nx\r\n..y\r\n.\r\n");
	buf_reset(&b);
	assert_int_equal(notify_msgid_left("a.b:c=d/e+f_g-h", &b), YZ_OK);
	assert_string_equal(buf_str(&b), "a=2Eb=3Ac=3Dd/e+f_g-h");
	buf_free(&b);
	buf_free(&joined);
	/* URLs the HTTP client accepts */
	notify_url u;
	assert_int_equal(notify_url_parse("http://127.0.0.1:8081/sms?x=1", &u), YZ_OK);
	assert_string_equal(u.host, "127.0.0.1");
	assert_int_equal(u.port, 8081);
	assert_string_equal(u.path, "/sms?x=1");
	assert_int_equal(notify_url_parse("http://gw.example", &u), YZ_OK);
	assert_int_equal(u.port, 80);
	assert_string_equal(u.path, "/");
	assert_int_equal(notify_url_parse("http://[::1]:9000/a", &u), YZ_OK);
	assert_string_equal(u.host, "[::1]");
	assert_int_equal(u.port, 9000);
	const char *bad[] = {"https://x/",  "http://",         "http://user@host/",
	                     "http://h:0/", "http://h:70000/", "http://h/a b",
	                     "http://h/#f", "ftp://h/",        "http://h:x/"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (notify_url_parse(bad[i], &u) == YZ_OK)
			fail_msg("accepted %s", bad[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(enqueue_is_idempotent_and_validated),
	    cmocka_unit_test(inapp_is_delivered_with_its_cause),
	    cmocka_unit_test(smtp_delivery_is_exact),
	    cmocka_unit_test(smtp_refusals),
	    cmocka_unit_test(sms_and_webhook_delivery),
	    cmocka_unit_test(retries_back_off_then_fail_and_alert),
	    cmocka_unit_test(lease_expiry_retries_without_duplicates),
	    cmocka_unit_test(jobs_are_rerunnable),
	    cmocka_unit_test(wire_formats),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
