/*
 * status.h — the one status type every fallible function returns, and the
 * error detail that travels with it.
 *
 * Contract: a function that can fail returns yz_status (YZ_OK == 0) and is
 * marked YZ_MUST_USE. When it fails and the caller passed a non-NULL yz_err,
 * the function fills it: a code equal to the returned status, a human message
 * and, for validation failures, one entry per offending field (field, rule,
 * expected, got). The API layer turns a yz_err into RFC 9457 problem+json; the
 * page layer turns it into a GOV.UK error summary. Lower layers (store,
 * crypto) fill yz_err and never log.
 *
 * yz_err is a plain value type with bounded members so it can live on the
 * stack: `yz_err e = {0};`.
 */
#ifndef YZ_CORE_STATUS_H
#define YZ_CORE_STATUS_H

#include <stdarg.h>
#include <stddef.h>

#define YZ_MUST_USE     __attribute__((warn_unused_result))
#define YZ_PRINTF(f, a) __attribute__((format(printf, f, a)))

typedef enum yz_status {
	YZ_OK = 0,
	YZ_EINVAL,     /* bad input: 400 */
	YZ_EUNAUTH,    /* not authenticated: 401 */
	YZ_EFORBIDDEN, /* authenticated but not allowed: 403 */
	YZ_ENOTFOUND,  /* 404 */
	YZ_EMETHOD,    /* method not allowed: 405 */
	YZ_ECONFLICT,  /* illegal state transition or conflict: 409 */
	YZ_ETOOBIG,    /* a limit was exceeded: 413 */
	YZ_EREFUSED,   /* valid but refused by a rule: 422 */
	YZ_ELOCKED,    /* account or resource locked: 423 */
	YZ_ERATE,      /* rate limit: 429 */
	YZ_ENOMEM,     /* allocation failed: 500 */
	YZ_EIO,        /* file or network I/O failed: 500 */
	YZ_EDB,        /* database error: 500 */
	YZ_ECRYPTO,    /* cryptographic failure (bad key, bad signature): 500 or 400 */
	YZ_EBUSY,      /* temporarily unavailable: 503 */
	YZ_EINTERNAL,  /* a bug: 500 */
	YZ_STATUS_COUNT
} yz_status;

#define YZ_ERR_MAX_FIELDS 16

typedef struct yz_field_err {
	char field[64];
	char rule[32];
	char expected[128];
	char got[128];
} yz_field_err;

typedef struct yz_err {
	yz_status code;
	char msg[256];
	int nfield;
	yz_field_err fields[YZ_ERR_MAX_FIELDS];
} yz_err;

/* Short stable name of a status ("invalid", "not-found", ...), used as the
 * problem+json type suffix and in logs. */
const char *yz_status_name(yz_status s);

/* HTTP status code conventionally paired with a status (DESIGN §6). */
int yz_status_http(yz_status s);

/* Set code and message; returns code so callers can `return yz_fail(...)`.
 * e may be NULL. */
yz_status yz_fail(yz_err *e, yz_status code, const char *fmt, ...) YZ_PRINTF(3, 4);

/* Append a field error (code becomes YZ_EINVAL unless already set to
 * something else). Extra fields beyond YZ_ERR_MAX_FIELDS are dropped, but
 * nfield keeps counting so callers can say "and N more". Any string may be
 * NULL. Returns e->code. */
yz_status yz_field(yz_err *e, const char *field, const char *rule, const char *expected,
                   const char *got);

/* Copy a bounded string, always NUL-terminating; truncates on UTF-8
 * boundaries. Returns the number of bytes written (excluding NUL). */
size_t yz_strlcpy(char *dst, const char *src, size_t cap);

#endif
