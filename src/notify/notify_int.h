/*
 * notify_int.h — the pieces of notify shared by its source files: a blocking
 * TCP connection with one deadline, the SMTP client and the HTTP client. Not
 * for other modules.
 *
 * Outcome convention of the senders: YZ_OK when the server accepted the
 * message; YZ_EREFUSED when it refused it for good (retrying cannot help);
 * YZ_EIO (or another status) for a failure worth retrying. e->msg says what
 * the server answered.
 */
#ifndef YZ_NOTIFY_INT_H
#define YZ_NOTIFY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "notify/notify.h"

/* ---- TCP with a deadline (monotonic nanoseconds) ---- */

typedef struct notify_net {
	int fd;
	uint64_t deadline_ns;
	char in[4096]; /* bytes received and not yet consumed */
	size_t len, pos;
} notify_net;

YZ_MUST_USE yz_status notify_net_connect(notify_net *n, const char *host, int port,
                                         uint64_t deadline_ns, yz_err *e);
YZ_MUST_USE yz_status notify_net_write(notify_net *n, const void *p, size_t len, yz_err *e);
/* One line up to LF, without CR LF, into out (cap bytes, NUL-terminated).
 * A longer line is YZ_ETOOBIG. */
YZ_MUST_USE yz_status notify_net_line(notify_net *n, char *out, size_t cap, yz_err *e);
/* Up to cap bytes of whatever comes next (0 at end of stream). */
YZ_MUST_USE yz_status notify_net_read(notify_net *n, char *out, size_t cap, size_t *got, yz_err *e);
void notify_net_close(notify_net *n);

/* ---- e-mail ---- */

typedef struct notify_mail {
	const char *from, *to, *subject, *body, *key;
	int64_t date_ms; /* the Date header */
} notify_mail;

/* The Message-ID's left part for a key (see notify.h). */
YZ_MUST_USE yz_status notify_msgid_left(const char *key, buf *out);
/* Subject as one header value: plain ASCII as is, else RFC 2047 encoded words
 * (each ≤ 75 characters, whole UTF-8 characters per word, folded). */
YZ_MUST_USE yz_status notify_rfc2047(const char *text, buf *out);
/* The message as sent after DATA (headers and body, CRLF line ends), before
 * dot-stuffing. eightbit: the server offered 8BITMIME. *is8bit tells whether
 * the body went out as 8bit (then MAIL FROM carries BODY=8BITMIME). */
YZ_MUST_USE yz_status notify_mail_format(const notify_mail *m, bool eightbit, buf *out,
                                         bool *is8bit);
/* Dot-stuffing and the terminating CRLF.CRLF, appended to out. */
YZ_MUST_USE yz_status notify_smtp_data(const char *msg, size_t n, buf *out);
YZ_MUST_USE yz_status notify_smtp_send(const char *host, int port, int timeout_ms,
                                       const notify_mail *m, yz_err *e);

/* ---- HTTP ---- */

typedef struct notify_url {
	char host[256];
	int port;
	char path[NOTIFY_URL_MAX + 1]; /* with the query, "/" at least */
} notify_url;

/* http://host[:port][/path][?query] (no user info, no fragment, no spaces). */
YZ_MUST_USE yz_status notify_url_parse(const char *url, notify_url *out);
/* POST a JSON body with Idempotency-Key; *status gets the HTTP status. 2xx →
 * YZ_OK; 408, 429 and 5xx → YZ_EIO; other answers → YZ_EREFUSED. */
YZ_MUST_USE yz_status notify_http_post(const char *url, const char *key, const char *json, size_t n,
                                       int timeout_ms, int *status, yz_err *e);

#endif
