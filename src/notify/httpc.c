/*
 * httpc.c — a minimal blocking HTTP/1.1 client for one POST of a JSON body
 * (SMS gateway, webhooks): Connection: close, no redirects, no TLS, the
 * answer read only as far as its status line and a little of its body (for
 * the error message).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/clock.h"
#include "core/slice.h"
#include "notify/notify_int.h"

yz_status notify_url_parse(const char *url, notify_url *out)
{
	memset(out, 0, sizeof *out);
	if (!url || strncmp(url, "http://", 7) != 0 || strlen(url) > NOTIFY_URL_MAX)
		return YZ_EINVAL;
	for (const unsigned char *p = (const unsigned char *)url; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f || *p == '#')
			return YZ_EINVAL;
	const char *h = url + 7;
	size_t hlen = strcspn(h, "/?");
	const char *rest = h + hlen;
	if (memchr(h, '@', hlen))
		return YZ_EINVAL; /* no user info */
	/* host, [v6], then an optional :port */
	const char *colon = NULL;
	if (hlen && h[0] == '[') {
		const char *close = memchr(h, ']', hlen);
		if (!close)
			return YZ_EINVAL;
		if ((size_t)(close - h) + 1 < hlen) {
			if (close[1] != ':')
				return YZ_EINVAL;
			colon = close + 1;
		}
	} else {
		colon = memchr(h, ':', hlen);
	}
	size_t name_len = colon ? (size_t)(colon - h) : hlen;
	if (name_len == 0 || name_len >= sizeof out->host)
		return YZ_EINVAL;
	memcpy(out->host, h, name_len);
	out->host[name_len] = '\0';
	out->port = 80;
	if (colon) {
		int64_t port;
		if (slice_to_i64(slice_make(colon + 1, (size_t)(h + hlen - colon - 1)), &port) !=
		        YZ_OK ||
		    port < 1 || port > 65535)
			return YZ_EINVAL;
		out->port = (int)port;
	}
	if (*rest == '/')
		yz_strlcpy(out->path, rest, sizeof out->path);
	else
		snprintf(out->path, sizeof out->path, "/%s", rest);
	return YZ_OK;
}

yz_status notify_http_post(const char *url, const char *key, const char *json, size_t n,
                           int timeout_ms, int *status, yz_err *e)
{
	*status = 0;
	notify_url u;
	if (notify_url_parse(url, &u) != YZ_OK)
		return yz_fail(e, YZ_EREFUSED, "not an http:// URL: %.200s", url ? url : "");
	uint64_t deadline =
	    clock_mono_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 10000) * 1000000u;
	notify_net c;
	yz_status st = notify_net_connect(&c, u.host, u.port, deadline, e);
	if (st != YZ_OK)
		return st;
	buf req;
	buf_init(&req, n + 4096);
	const bool default_port = u.port == 80;
	BUF_TRY(st, buf_printf(&req, "POST %s HTTP/1.1\r\nHost: %s", u.path, u.host));
	if (!default_port)
		BUF_TRY(st, buf_printf(&req, ":%d", u.port));
	BUF_TRY(st, buf_printf(&req,
	                       "\r\nUser-Agent: yizhan-notify\r\n"
	                       "Content-Type: application/json; charset=utf-8\r\n"
	                       "Content-Length: %zu\r\nIdempotency-Key: %s\r\n"
	                       "Connection: close\r\n\r\n",
	                       n, key));
	BUF_TRY(st, buf_append(&req, json, n));
	if (st != YZ_OK)
		st = yz_fail(e, YZ_EREFUSED, "the request is too large");
	if (st == YZ_OK)
		st = notify_net_write(&c, req.p, req.len, e);
	buf_free(&req);
	char line[512];
	if (st == YZ_OK)
		st = notify_net_line(&c, line, sizeof line, e);
	int code = 0;
	if (st == YZ_OK) {
		if (strncmp(line, "HTTP/1.", 7) != 0 || strlen(line) < 12 || line[8] != ' ' ||
		    line[9] < '1' || line[9] > '5' || line[10] < '0' || line[10] > '9' ||
		    line[11] < '0' || line[11] > '9')
			st = yz_fail(e, YZ_EIO, "not an HTTP answer: %.80s", line);
		else
			code = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
	}
	if (st != YZ_OK) {
		notify_net_close(&c);
		return st;
	}
	*status = code;
	if (code >= 200 && code < 300) {
		notify_net_close(&c);
		return YZ_OK;
	}
	/* a little of the answer's body for the operator: skip the headers (and
	 * the first chunk's size line of a chunked body) */
	char detail[160] = "";
	yz_err ignore = {0};
	bool chunked = false;
	for (int i = 0; i < 100; i++) {
		char h[1024];
		if (notify_net_line(&c, h, sizeof h, &ignore) != YZ_OK || !h[0])
			break;
		if (!strncasecmp(h, "Transfer-Encoding:", 18) && strstr(h + 18, "chunked"))
			chunked = true;
	}
	size_t got = 0, have = 0, want = sizeof detail - 1;
	char size_line[64];
	if (chunked) {
		char *end = NULL;
		unsigned long csize = 0;
		if (notify_net_line(&c, size_line, sizeof size_line, &ignore) == YZ_OK)
			csize = strtoul(size_line, &end, 16);
		want = end && end != size_line ? (csize < want ? csize : want) : 0;
	}
	while (have < want &&
	       notify_net_read(&c, detail + have, want - have, &got, &ignore) == YZ_OK && got > 0)
		have += got;
	detail[have] = '\0';
	for (size_t i = 0; i < have; i++)
		if ((unsigned char)detail[i] < 0x20)
			detail[i] = ' ';
	/* cut on a UTF-8 boundary */
	while (have > 0 && !utf8_valid(detail, have))
		detail[--have] = '\0';
	notify_net_close(&c);
	bool retry = code == 408 || code == 429 || code >= 500;
	return yz_fail(e, retry ? YZ_EIO : YZ_EREFUSED, "HTTP %d from %s:%d%s%s", code, u.host,
	               u.port, have ? ": " : "", detail);
}
