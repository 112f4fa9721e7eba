/*
 * clock.h — time. Stored as UTC milliseconds since the epoch; shown in the
 * city's zone, Asia/Shanghai, which has been a fixed UTC+08:00 without
 * daylight saving since 1991 (so a fixed offset is exact for every date the
 * platform handles).
 *
 * The wall clock is injectable: tests and the `--test-clock` server mode can
 * pin it or move it forward, and every module reads time only through
 * clock_now_ms(), so deadlines and timers follow. Monotonic time for
 * latencies is separate and never faked.
 */
#ifndef YZ_CORE_CLOCK_H
#define YZ_CORE_CLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

#define CLOCK_CITY_OFFSET_MS (8LL * 3600 * 1000)

int64_t clock_now_ms(void);
/* Tests: from now on the wall clock reads `ms` plus whatever is advanced. */
void clock_set_fake(int64_t ms);
/* Move the (fake or real) wall clock forward by delta ms. */
void clock_advance(int64_t delta_ms);
/* Back to the system clock with no offset. */
void clock_use_real(void);
bool clock_is_fake(void);

uint64_t clock_mono_ns(void);

/* 2026-11-23T04:45:48.123Z */
void clock_format_utc(int64_t ms, char *out, size_t cap);
/* 2026-11-23T12:45:48+08:00 (ISO-8601 with the city's offset, for APIs) */
void clock_format_city(int64_t ms, char *out, size_t cap);
/* 2026-11-23 12:45 (for pages) */
void clock_format_city_human(int64_t ms, char *out, size_t cap);
/* Parse ISO-8601 "YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)" or "YYYY-MM-DD" (a
 * date alone is midnight in the city). */
YZ_MUST_USE yz_status clock_parse_iso(const char *s, int64_t *ms);

/* Proleptic Gregorian day arithmetic (days since 1970-01-01). */
int64_t clock_days_from_civil(int y, int m, int d);
void clock_civil_from_days(int64_t days, int *y, int *m, int *d);
/* 0 = Monday ... 6 = Sunday */
int clock_weekday(int64_t days);

#endif
