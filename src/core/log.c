#include "core/log.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/jx.h"

log_level log_threshold = LOG_INFO;
static int log_fd = 2;
static _Thread_local char tl_rid[48];

void log_set_level_name(const char *name)
{
	static const char *names[] = {"debug", "info", "warn", "error", "off"};
	for (int i = 0; i < 5; i++)
		if (name && !strcmp(name, names[i]))
			log_threshold = (log_level)i;
}

void log_set_fd(int fd)
{
	log_fd = fd;
}

void log_set_request_id(const char *rid)
{
	yz_strlcpy(tl_rid, rid ? rid : "", sizeof tl_rid);
}

const char *log_request_id(void)
{
	return tl_rid;
}

static const char *level_name(log_level l)
{
	static const char *names[] = {"debug", "info", "warn", "error", "off"};
	return names[l <= LOG_OFF ? l : LOG_OFF];
}

static void emit(buf *b)
{
	if (buf_putc(b, '\n') != YZ_OK) {
		/* over the line cap: end the truncated line so the file stays line-oriented */
		b->p[b->len - 1] = '\n';
	}
	const char *p = buf_str(b);
	size_t n = b->len;
	while (n > 0) {
		ssize_t w = write(log_fd, p, n);
		if (w <= 0)
			break;
		p += w;
		n -= (size_t)w;
	}
}

static void add_common(json_t *o, log_level lvl)
{
	char ts[40];
	clock_format_utc(clock_now_ms(), ts, sizeof ts);
	json_object_set_new(o, "ts", json_string(ts));
	json_object_set_new(o, "level", json_string(level_name(lvl)));
	if (tl_rid[0])
		json_object_set_new(o, "rid", json_string(tl_rid));
}

void log_write(log_level lvl, const char *file, int line, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	json_t *o = json_object();
	add_common(o, lvl);
	json_t *m = json_string(msg);
	json_object_set_new(o, "msg", m ? m : json_string("(message was not valid UTF-8)"));
	if (lvl >= LOG_WARN) {
		const char *base = strrchr(file, '/');
		char where[128];
		snprintf(where, sizeof where, "%s:%d", base ? base + 1 : file, line);
		json_object_set_new(o, "at", json_string(where));
	}
	buf b;
	buf_init(&b, 16384);
	if (jx_dump(o, &b) == YZ_OK)
		emit(&b);
	buf_free(&b);
	json_decref(o);
}

void log_json(log_level lvl, json_t *obj)
{
	if (lvl < log_threshold)
		return;
	json_t *o = json_object();
	add_common(o, lvl);
	json_object_update(o, obj);
	buf b;
	buf_init(&b, 16384);
	if (jx_dump(o, &b) == YZ_OK)
		emit(&b);
	buf_free(&b);
	json_decref(o);
}
