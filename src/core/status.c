#include "core/status.h"

#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	int http;
} status_table[YZ_STATUS_COUNT] = {
    [YZ_OK] = {"ok", 200},
    [YZ_EINVAL] = {"invalid", 400},
    [YZ_EUNAUTH] = {"unauthenticated", 401},
    [YZ_EFORBIDDEN] = {"forbidden", 403},
    [YZ_ENOTFOUND] = {"not-found", 404},
    [YZ_EMETHOD] = {"method-not-allowed", 405},
    [YZ_ECONFLICT] = {"conflict", 409},
    [YZ_ETOOBIG] = {"too-large", 413},
    [YZ_EREFUSED] = {"refused", 422},
    [YZ_ELOCKED] = {"locked", 423},
    [YZ_ERATE] = {"rate-limited", 429},
    [YZ_ENOMEM] = {"out-of-memory", 500},
    [YZ_EIO] = {"io-error", 500},
    [YZ_EDB] = {"database-error", 500},
    [YZ_ECRYPTO] = {"crypto-error", 500},
    [YZ_EBUSY] = {"unavailable", 503},
    [YZ_EINTERNAL] = {"internal-error", 500},
};

const char *yz_status_name(yz_status s)
{
	if ((unsigned)s >= YZ_STATUS_COUNT)
		return "internal-error";
	return status_table[s].name;
}

int yz_status_http(yz_status s)
{
	if ((unsigned)s >= YZ_STATUS_COUNT)
		return 500;
	return status_table[s].http;
}

/* Length of the longest prefix of s (at most max bytes) that does not cut a
 * UTF-8 sequence. */
static size_t utf8_cut(const char *s, size_t max)
{
	size_t n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

size_t yz_strlcpy(char *dst, const char *src, size_t cap)
{
	if (cap == 0)
		return 0;
	if (!src) {
		dst[0] = '\0';
		return 0;
	}
	size_t n = strnlen(src, cap);
	if (n >= cap)
		n = utf8_cut(src, cap - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
	return n;
}

yz_status yz_fail(yz_err *e, yz_status code, const char *fmt, ...)
{
	if (!e)
		return code;
	e->code = code;
	/* format with room to spare, so that the cut below sees the real byte
	 * after the limit and never splits a UTF-8 character */
	char tmp[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	yz_strlcpy(e->msg, tmp, sizeof e->msg);
	return code;
}

yz_status yz_field(yz_err *e, const char *field, const char *rule, const char *expected,
                   const char *got)
{
	if (!e)
		return YZ_EINVAL;
	if (e->code == YZ_OK)
		e->code = YZ_EINVAL;
	if (e->nfield < YZ_ERR_MAX_FIELDS) {
		yz_field_err *f = &e->fields[e->nfield];
		yz_strlcpy(f->field, field, sizeof f->field);
		yz_strlcpy(f->rule, rule, sizeof f->rule);
		yz_strlcpy(f->expected, expected, sizeof f->expected);
		yz_strlcpy(f->got, got, sizeof f->got);
	}
	e->nfield++;
	if (!e->msg[0])
		yz_strlcpy(e->msg, "invalid input", sizeof e->msg);
	return e->code;
}
