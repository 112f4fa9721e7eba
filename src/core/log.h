/*
 * log.h — structured logging as JSON lines, one write(2) per line.
 *
 * The level is checked before any formatting (the macros expand to a
 * comparison first), so a disabled debug line costs one branch. Each line
 * carries the time (UTC, ISO-8601), the level, the request id of the calling
 * thread (set by the HTTP layer for each request) and the message. Lower
 * layers (store, crypto, pki) never log: they return errors.
 */
#ifndef YZ_CORE_LOG_H
#define YZ_CORE_LOG_H

#include <jansson.h>

#include "core/status.h"

typedef enum log_level {
	LOG_DEBUG = 0,
	LOG_INFO = 1,
	LOG_WARN = 2,
	LOG_ERROR = 3,
	LOG_OFF = 4
} log_level;

extern log_level log_threshold;

/* "debug", "info", "warn", "error", "off"; unknown names leave it unchanged. */
void log_set_level_name(const char *name);
/* Where lines go (default 2, stderr). */
void log_set_fd(int fd);
/* Request id for the calling thread; NULL clears it. Copied. */
void log_set_request_id(const char *rid);
const char *log_request_id(void);

void log_write(log_level lvl, const char *file, int line, const char *fmt, ...) YZ_PRINTF(4, 5);
/* Emit obj's members plus ts, level and rid. Does not steal obj. */
void log_json(log_level lvl, json_t *obj);

#define LOG_AT(lvl, ...)                                                                           \
	do {                                                                                       \
		if ((lvl) >= log_threshold)                                                        \
			log_write((lvl), __FILE__, __LINE__, __VA_ARGS__);                         \
	} while (0)
#define log_debug(...) LOG_AT(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  LOG_AT(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  LOG_AT(LOG_WARN, __VA_ARGS__)
#define log_error(...) LOG_AT(LOG_ERROR, __VA_ARGS__)

#endif
