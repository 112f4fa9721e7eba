#include "core/clock.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static _Atomic int64_t fake_base = -1; /* -1: real clock */
static _Atomic int64_t offset_ms = 0;

static int64_t real_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_now_ms(void)
{
	int64_t base = atomic_load(&fake_base);
	return (base >= 0 ? base : real_ms()) + atomic_load(&offset_ms);
}

void clock_set_fake(int64_t ms)
{
	atomic_store(&offset_ms, 0);
	atomic_store(&fake_base, ms);
}

void clock_advance(int64_t delta_ms)
{
	atomic_fetch_add(&offset_ms, delta_ms);
}

void clock_use_real(void)
{
	atomic_store(&fake_base, -1);
	atomic_store(&offset_ms, 0);
}

bool clock_is_fake(void)
{
	return atomic_load(&fake_base) >= 0 || atomic_load(&offset_ms) != 0;
}

uint64_t clock_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Howard Hinnant's days_from_civil / civil_from_days. */
int64_t clock_days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (unsigned)((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1);
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

void clock_civil_from_days(int64_t z, int *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t yy = (int64_t)yoe + era * 400;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yy + (*m <= 2));
}

int clock_weekday(int64_t days)
{
	/* 1970-01-01 was a Thursday (3 when Monday is 0). */
	int64_t w = (days + 3) % 7;
	return (int)(w < 0 ? w + 7 : w);
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static void split(int64_t ms, int *y, int *mo, int *d, int *h, int *mi, int *s, int *frac)
{
	int64_t days = floor_div(ms, 86400000);
	int64_t rem = ms - days * 86400000;
	clock_civil_from_days(days, y, mo, d);
	*h = (int)(rem / 3600000);
	*mi = (int)(rem / 60000 % 60);
	*s = (int)(rem / 1000 % 60);
	*frac = (int)(rem % 1000);
}

void clock_format_utc(int64_t ms, char *out, size_t cap)
{
	int y, mo, d, h, mi, s, f;
	split(ms, &y, &mo, &d, &h, &mi, &s, &f);
	snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", y, mo, d, h, mi, s, f);
}

void clock_format_city(int64_t ms, char *out, size_t cap)
{
	int y, mo, d, h, mi, s, f;
	split(ms + CLOCK_CITY_OFFSET_MS, &y, &mo, &d, &h, &mi, &s, &f);
	snprintf(out, cap, "%04d-%02d-%02dT%02d:%02d:%02d+08:00", y, mo, d, h, mi, s);
}

void clock_format_city_human(int64_t ms, char *out, size_t cap)
{
	int y, mo, d, h, mi, s, f;
	split(ms + CLOCK_CITY_OFFSET_MS, &y, &mo, &d, &h, &mi, &s, &f);
	snprintf(out, cap, "%04d-%02d-%02d %02d:%02d", y, mo, d, h, mi);
}

static bool digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

static int days_in_month(int y, int m)
{
	static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : dm[m - 1];
}

yz_status clock_parse_iso(const char *s, int64_t *ms)
{
	int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0;
	size_t n = strlen(s);
	if (n < 10 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
	    !digits(s + 8, 2, &d))
		return YZ_EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
		return YZ_EINVAL;
	int64_t offset = CLOCK_CITY_OFFSET_MS;
	const char *p = s + 10;
	if (*p == 'T' || *p == ' ') {
		if (strlen(p) < 9 || !digits(p + 1, 2, &h) || p[3] != ':' ||
		    !digits(p + 4, 2, &mi) || p[6] != ':' || !digits(p + 7, 2, &sec))
			return YZ_EINVAL;
		if (h > 23 || mi > 59 || sec > 59)
			return YZ_EINVAL;
		p += 9;
		if (*p == '.') {
			p++;
			int nd = 0;
			while (*p >= '0' && *p <= '9') {
				if (nd < 3)
					frac = frac * 10 + (*p - '0');
				nd++;
				p++;
			}
			if (nd == 0)
				return YZ_EINVAL;
			for (; nd < 3; nd++)
				frac *= 10;
		}
		if (*p == 'Z') {
			offset = 0;
			p++;
		} else if (*p == '+' || *p == '-') {
			int oh, om;
			if (strlen(p) != 6 || !digits(p + 1, 2, &oh) || p[3] != ':' ||
			    !digits(p + 4, 2, &om) || oh > 14 || om > 59)
				return YZ_EINVAL;
			offset = (oh * 60 + om) * 60000LL * (*p == '-' ? -1 : 1);
			p += 6;
		} else {
			return YZ_EINVAL;
		}
	}
	if (*p)
		return YZ_EINVAL;
	int64_t days = clock_days_from_civil(y, mo, d);
	*ms = days * 86400000 + h * 3600000LL + mi * 60000LL + sec * 1000LL + frac - offset;
	return YZ_OK;
}
