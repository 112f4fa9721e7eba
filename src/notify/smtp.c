/*
 * smtp.c — a minimal SMTP client (RFC 5321) and the message it sends (RFC
 * 5322, MIME, RFC 2047 subjects). One message per connection; no TLS and no
 * authentication yet (a relay on the local network or loopback).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/b64.h"
#include "core/clock.h"
#include "core/slice.h"
#include "notify/notify_int.h"

#define SMTP_LINE_MAX  1024
#define SMTP_MAX_LINES 100
#define MAIL_MAX       (1u << 20)

yz_status notify_msgid_left(const char *key, buf *out)
{
	yz_status st = YZ_OK;
	for (const unsigned char *p = (const unsigned char *)key; *p && st == YZ_OK; p++) {
		unsigned char c = *p;
		bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		             (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '/' || c == '+';
		st = plain ? buf_putc(out, (char)c) : buf_printf(out, "=%02X", c);
	}
	return st;
}

static bool needs_encoding(const char *s)
{
	if (strstr(s, "=?"))
		return true;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			return true;
	return strlen(s) > 900;
}

yz_status notify_rfc2047(const char *text, buf *out)
{
	/* controls (a CR or LF could end the header) become spaces */
	buf clean;
	buf_init(&clean, MAIL_MAX);
	yz_status st = YZ_OK;
	for (const unsigned char *p = (const unsigned char *)text; *p && st == YZ_OK; p++)
		st = buf_putc(&clean, (char)(*p < 0x20 || *p == 0x7f ? ' ' : *p));
	const char *s = buf_str(&clean);
	size_t n = clean.len;
	if (st == YZ_OK && !needs_encoding(s)) {
		st = buf_append(out, s, n);
		buf_free(&clean);
		return st;
	}
	/* 45 bytes give 60 base64 characters: with =?UTF-8?B? and ?= a word is 72 */
	size_t i = 0;
	bool first = true;
	while (st == YZ_OK && i < n) {
		size_t take = n - i < 45 ? n - i : 45;
		/* never split a character: back off over continuation bytes */
		while (take > 0 && i + take < n && ((unsigned char)s[i + take] & 0xC0) == 0x80)
			take--;
		if (take == 0)
			take = n - i < 45 ? n - i : 45;
		if (!first)
			BUF_TRY(st, buf_puts(out, "\r\n "));
		BUF_TRY(st, buf_puts(out, "=?UTF-8?B?"));
		BUF_TRY(st, b64_encode(s + i, take, false, out));
		BUF_TRY(st, buf_puts(out, "?="));
		i += take;
		first = false;
	}
	buf_free(&clean);
	return st;
}

/* Body with CRLF line ends (lone LF or CR become CRLF) and a final CRLF;
 * tells whether it is ASCII and whether any line passes 998 bytes. */
static yz_status normalise_body(const char *body, buf *out, bool *ascii, bool *long_line)
{
	*ascii = true;
	*long_line = false;
	size_t line = 0;
	yz_status st = YZ_OK;
	for (const char *p = body; *p && st == YZ_OK; p++) {
		if (*p == '\r' || *p == '\n') {
			if (*p == '\r' && p[1] == '\n')
				p++;
			st = buf_puts(out, "\r\n");
			line = 0;
			continue;
		}
		if ((unsigned char)*p >= 0x80)
			*ascii = false;
		if (++line > 998)
			*long_line = true;
		st = buf_putc(out, *p);
	}
	if (st == YZ_OK && (out->len < 2 || memcmp(out->p + out->len - 2, "\r\n", 2) != 0))
		st = buf_puts(out, "\r\n");
	return st;
}

static void rfc5322_date(int64_t ms, char *out, size_t cap)
{
	static const char *const wd[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
	static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	int64_t local = ms + CLOCK_CITY_OFFSET_MS;
	int64_t days = local >= 0 ? local / 86400000 : (local - 86399999) / 86400000;
	int64_t rest = local - days * 86400000;
	int y, m, d;
	clock_civil_from_days(days, &y, &m, &d);
	int secs = (int)(rest / 1000);
	snprintf(out, cap, "%s, %d %s %04d %02d:%02d:%02d +0800", wd[clock_weekday(days)], d,
	         mon[m - 1], y, secs / 3600, secs / 60 % 60, secs % 60);
}

yz_status notify_mail_format(const notify_mail *m, bool eightbit, buf *out, bool *is8bit)
{
	buf body;
	buf_init(&body, MAIL_MAX);
	bool ascii, long_line;
	yz_status st = normalise_body(m->body ? m->body : "", &body, &ascii, &long_line);
	const char *cte = ascii && !long_line ? "7bit" : eightbit && !long_line ? "8bit" : "base64";
	*is8bit = !strcmp(cte, "8bit");
	char date[64];
	rfc5322_date(m->date_ms, date, sizeof date);
	BUF_TRY(st, buf_printf(out, "Date: %s\r\nFrom: %s\r\nTo: %s\r\nSubject: ", date, m->from,
	                       m->to));
	BUF_TRY(st, notify_rfc2047(m->subject ? m->subject : "", out));
	BUF_TRY(st, buf_puts(out, "\r\nMessage-ID: <"));
	BUF_TRY(st, notify_msgid_left(m->key, out));
	BUF_TRY(st, buf_printf(out,
	                       "@yizhan>\r\nMIME-Version: 1.0\r\n"
	                       "Content-Type: text/plain; charset=UTF-8\r\n"
	                       "Content-Transfer-Encoding: %s\r\n\r\n",
	                       cte));
	if (st == YZ_OK && strcmp(cte, "base64") != 0) {
		st = buf_append(out, body.p, body.len);
	} else if (st == YZ_OK) {
		buf enc;
		buf_init(&enc, MAIL_MAX * 2);
		st = b64_encode(body.p, body.len, false, &enc);
		for (size_t i = 0; st == YZ_OK && i < enc.len; i += 76) {
			BUF_TRY(st,
			        buf_append(out, enc.p + i, enc.len - i < 76 ? enc.len - i : 76));
			BUF_TRY(st, buf_puts(out, "\r\n"));
		}
		buf_free(&enc);
	}
	buf_free(&body);
	return st;
}

yz_status notify_smtp_data(const char *msg, size_t n, buf *out)
{
	yz_status st = YZ_OK;
	bool bol = true;
	for (size_t i = 0; i < n && st == YZ_OK; i++) {
		if (bol && msg[i] == '.')
			st = buf_putc(out, '.');
		BUF_TRY(st, buf_putc(out, msg[i]));
		bol = msg[i] == '\n';
	}
	if (st == YZ_OK && !bol)
		st = buf_puts(out, "\r\n");
	BUF_TRY(st, buf_puts(out, ".\r\n"));
	return st;
}

/* One reply, possibly multi-line; *code its code, text its last line. When
 * ext is given, whether any line offers 8BITMIME. */
static yz_status reply(notify_net *n, int *code, char *text, size_t cap, bool *ext8, yz_err *e)
{
	char line[SMTP_LINE_MAX];
	for (int i = 0; i < SMTP_MAX_LINES; i++) {
		yz_status st = notify_net_line(n, line, sizeof line, e);
		if (st != YZ_OK)
			return st;
		if (strlen(line) < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' ||
		    line[1] > '9' || line[2] < '0' || line[2] > '9' ||
		    (line[3] && line[3] != ' ' && line[3] != '-'))
			return yz_fail(e, YZ_EIO, "not an SMTP answer: %.80s", line);
		*code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
		if (ext8 && line[3] && !strncasecmp(line + 4, "8BITMIME", 8) &&
		    (line[12] == '\0' || line[12] == ' '))
			*ext8 = true;
		if (line[3] != '-') {
			yz_strlcpy(text, line, cap);
			return YZ_OK;
		}
	}
	return yz_fail(e, YZ_EIO, "SMTP answer of too many lines");
}

/* Send a command and read its reply; anything but a code in [lo, hi] fails:
 * 5xx as a refusal when permanent is set, everything else as retryable. */
static yz_status step(notify_net *n, const char *cmd, const char *what, int lo, int hi,
                      bool permanent, bool *ext8, int *code_out, yz_err *e)
{
	yz_status st = YZ_OK;
	if (cmd)
		st = notify_net_write(n, cmd, strlen(cmd), e);
	int code = 0;
	char text[SMTP_LINE_MAX];
	if (st == YZ_OK)
		st = reply(n, &code, text, sizeof text, ext8, e);
	if (st != YZ_OK)
		return st;
	if (code_out)
		*code_out = code;
	if (code >= lo && code <= hi)
		return YZ_OK;
	return yz_fail(e, permanent && code >= 500 ? YZ_EREFUSED : YZ_EIO, "SMTP %s answered %s",
	               what, text);
}

static const char *ehlo_domain(const char *from)
{
	const char *at = from ? strrchr(from, '@') : NULL;
	return at && at[1] ? at + 1 : "localhost";
}

static yz_status converse(notify_net *n, const notify_mail *m, yz_err *e)
{
	char cmd[600];
	bool ext8 = false;
	int code = 0;
	yz_status st = step(n, NULL, "greeting", 220, 220, false, NULL, NULL, e);
	if (st != YZ_OK)
		return st;
	snprintf(cmd, sizeof cmd, "EHLO %s\r\n", ehlo_domain(m->from));
	st = step(n, cmd, "EHLO", 250, 250, false, &ext8, &code, e);
	if (st != YZ_OK && code >= 500) {
		/* an old server: HELO, and no extensions */
		if (e)
			*e = (yz_err){0};
		ext8 = false;
		snprintf(cmd, sizeof cmd, "HELO %s\r\n", ehlo_domain(m->from));
		st = step(n, cmd, "HELO", 250, 250, false, NULL, NULL, e);
	}
	if (st != YZ_OK)
		return st;
	buf msg, data;
	buf_init(&msg, MAIL_MAX);
	buf_init(&data, MAIL_MAX + MAIL_MAX / 8);
	bool is8bit = false;
	st = notify_mail_format(m, ext8, &msg, &is8bit);
	BUF_TRY(st, notify_smtp_data(msg.p, msg.len, &data));
	if (st != YZ_OK)
		st = yz_fail(e, YZ_EREFUSED, "the message is too large");
	if (st == YZ_OK) {
		snprintf(cmd, sizeof cmd, "MAIL FROM:<%s>%s\r\n", m->from,
		         is8bit ? " BODY=8BITMIME" : "");
		st = step(n, cmd, "MAIL FROM", 250, 250, true, NULL, NULL, e);
	}
	if (st == YZ_OK) {
		snprintf(cmd, sizeof cmd, "RCPT TO:<%s>\r\n", m->to);
		st = step(n, cmd, "RCPT TO", 250, 251, true, NULL, NULL, e);
	}
	if (st == YZ_OK)
		st = step(n, "DATA\r\n", "DATA", 354, 354, true, NULL, NULL, e);
	if (st == YZ_OK)
		st = notify_net_write(n, data.p, data.len, e);
	if (st == YZ_OK)
		st = step(n, NULL, "the message", 250, 250, true, NULL, NULL, e);
	buf_free(&msg);
	buf_free(&data);
	if (st != YZ_OK)
		return st;
	/* accepted: what QUIT answers no longer matters */
	yz_err qe = {0};
	(void)step(n, "QUIT\r\n", "QUIT", 221, 221, false, NULL, NULL, &qe);
	return YZ_OK;
}

yz_status notify_smtp_send(const char *host, int port, int timeout_ms, const notify_mail *m,
                           yz_err *e)
{
	if (!host || !*host)
		return yz_fail(e, YZ_EIO, "no SMTP server is configured (smtp_host)");
	notify_net n;
	uint64_t deadline =
	    clock_mono_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 10000) * 1000000u;
	yz_status st = notify_net_connect(&n, host, port, deadline, e);
	if (st == YZ_OK)
		st = converse(&n, m, e);
	notify_net_close(&n);
	return st;
}
