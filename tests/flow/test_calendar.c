/* Unit tests for src/flow/calendar: the project's notice file against the
 * independent reference data (shared/reference/holidays-cn) for every date
 * of 2007–2026, a million random additions against a naive day-by-day count,
 * hand-computed golden dates, working hours, deadlines, the notice file's
 * syntax errors, the database side (seed, load, import, versions, audit) on
 * every backend, and the command line. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "audit/audit.h"
#include "core/clock.h"
#include "core/jx.h"
#include "flow/calendar.h"
#include "testutil.h"

/* ---- the reference: holiday-cn JSON files, read here independently ---- */

#define REF_FIRST_YEAR 2007
#define REF_LAST_YEAR  2026

typedef struct ref_cal {
	int64_t first; /* day number of off[0] */
	int n;
	signed char *listed; /* -1 unlisted, 0 work, 1 off */
	char (*name)[96];
} ref_cal;

static int64_t ymd(int y, int m, int d)
{
	return clock_days_from_civil(y, m, d);
}

static void ref_load(ref_cal *r)
{
	r->first = ymd(2003, 1, 1);
	r->n = (int)(ymd(2031, 1, 1) - r->first);
	r->listed = malloc((size_t)r->n);
	r->name = calloc((size_t)r->n, sizeof *r->name);
	assert_non_null(r->listed);
	assert_non_null(r->name);
	memset(r->listed, -1, (size_t)r->n);
	for (int y = REF_FIRST_YEAR; y <= REF_LAST_YEAR; y++) {
		char rel[128];
		snprintf(rel, sizeof rel, "../shared/reference/holidays-cn/%d.json", y);
		json_error_t je;
		json_t *doc = json_load_file(tu_src(rel), 0, &je);
		if (!doc)
			fail_msg("reference %s: %s (the reference data set must be beside the "
			         "repository)",
			         tu_src(rel), je.text);
		assert_int_equal(json_integer_value(json_object_get(doc, "year")), y);
		size_t i;
		json_t *d;
		json_array_foreach (json_object_get(doc, "days"), i, d) {
			int64_t day;
			assert_int_equal(calendar_parse_date(
			                     json_string_value(json_object_get(d, "date")), &day),
			                 YZ_OK);
			int k = (int)(day - r->first);
			assert_true(k >= 0 && k < r->n);
			/* no date is listed by two files of the reference */
			assert_int_equal(r->listed[k], -1);
			r->listed[k] = json_is_true(json_object_get(d, "isOffDay")) ? 1 : 0;
			snprintf(r->name[k], sizeof r->name[k], "%s",
			         json_string_value(json_object_get(d, "name")));
		}
		json_decref(doc);
	}
}

static void ref_free(ref_cal *r)
{
	free(r->listed);
	free(r->name);
}

static bool ref_workday(const ref_cal *r, int64_t day)
{
	int64_t k = day - r->first;
	if (k >= 0 && k < r->n && r->listed[k] >= 0)
		return r->listed[k] == 0;
	return clock_weekday(day) < 5;
}

/* The Nth working day after day by stepping one day at a time. */
static int64_t ref_add(const ref_cal *r, int64_t day, int n)
{
	int step = n > 0 ? 1 : -1;
	int left = n > 0 ? n : -n;
	while (left > 0) {
		day += step;
		if (ref_workday(r, day))
			left--;
	}
	return day;
}

static calendar *project_calendar(void)
{
	calendar *c = NULL;
	yz_err e = {0};
	yz_status st = calendar_from_file(tu_src("data/calendar/cn-notices.txt"), &c, &e);
	if (st != YZ_OK)
		fail_msg("calendar_from_file: %s", e.msg);
	return c;
}

static void check_every_date(const calendar *c, const ref_cal *r)
{
	int listed = 0;
	for (int64_t d = ymd(REF_FIRST_YEAR, 1, 1); d <= ymd(REF_LAST_YEAR, 12, 31); d++) {
		if (calendar_is_workday(c, d) != ref_workday(r, d)) {
			char s[16];
			calendar_format_date(d, s, sizeof s);
			fail_msg("%s: calendar says %s, the reference %s", s,
			         calendar_is_workday(c, d) ? "work" : "off",
			         ref_workday(r, d) ? "work" : "off");
		}
		int k = (int)(d - r->first);
		const char *nm = calendar_day_name(c, d);
		if (r->listed[k] >= 0) {
			listed++;
			assert_non_null(nm);
			assert_string_equal(nm, r->name[k]);
		} else {
			assert_null(nm);
		}
	}
	assert_true(listed > 600);
}

static void file_agrees_with_reference(void **state)
{
	(void)state;
	ref_cal r;
	ref_load(&r);
	calendar *c = project_calendar();
	check_every_date(c, &r);
	/* the days listed before 2007 (the 2007 notice's 元旦) agree too */
	assert_true(calendar_is_workday(c, ymd(2006, 12, 30)));
	assert_true(calendar_is_workday(c, ymd(2006, 12, 31)));
	int y0, y1;
	calendar_years(c, &y0, &y1);
	assert_int_equal(y0, 2007);
	assert_int_equal(y1, 2026);
	calendar_free(c);
	ref_free(&r);
}

/* splitmix64: deterministic, so a failure can be replayed */
static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static void random_additions(void **state)
{
	(void)state;
	ref_cal r;
	ref_load(&r);
	calendar *c = project_calendar();
	uint64_t seed = 20240920;
	int64_t lo = ymd(REF_FIRST_YEAR, 1, 1), span = ymd(REF_LAST_YEAR, 12, 31) - lo + 1;
	for (int i = 0; i < 1000000; i++) {
		int64_t d = lo + (int64_t)(rng_next(&seed) % (uint64_t)span);
		int n = (int)(rng_next(&seed) % 801) - 400;
		int64_t got = calendar_add_workdays(c, d, n);
		int64_t want = n == 0 ? d : ref_add(&r, d, n);
		if (got != want) {
			char s[16], g[16], w[16];
			calendar_format_date(d, s, sizeof s);
			calendar_format_date(got, g, sizeof g);
			calendar_format_date(want, w, sizeof w);
			fail_msg("case %d: %s %+d gave %s, naive count %s", i, s, n, g, w);
		}
		if (n == 0)
			continue;
		/* add then subtract: back to the last working day <= d */
		int64_t back = calendar_add_workdays(c, got, -n);
		int64_t last = ref_workday(&r, d) ? d : ref_add(&r, d, -1);
		if (n > 0)
			assert_true(back == last);
		else /* subtract then add: the first working day >= d */
			assert_true(back == (ref_workday(&r, d) ? d : ref_add(&r, d, 1)));
		/* workdays_between agrees with add */
		if (n > 0)
			assert_int_equal(calendar_workdays_between(c, d, got), n);
		else
			assert_int_equal(calendar_workdays_between(c, got, d),
			                 -n - 1 + (ref_workday(&r, d) ? 1 : 0));
		assert_int_equal(calendar_workdays_between(c, got, d),
		                 -calendar_workdays_between(c, d, got));
	}
	calendar_free(c);
	ref_free(&r);
}

static void expect_add(const calendar *c, int64_t from, int n, int64_t want)
{
	int64_t got = calendar_add_workdays(c, from, n);
	if (got != want) {
		char f[16], g[16], w[16];
		calendar_format_date(from, f, sizeof f);
		calendar_format_date(got, g, sizeof g);
		calendar_format_date(want, w, sizeof w);
		fail_msg("%s %+d: got %s, expected %s", f, n, g, w);
	}
}

static void golden_dates(void **state)
{
	(void)state;
	calendar *c = project_calendar();
	/* National Day 2024: 9月29日 (Sun) and 10月12日 (Sat) work, 10月1日–7日 off.
	 * After Fri 9月20日: 23–27 (5), 29 Sun (6), 30 (7), 8–11 Oct (11),
	 * 12 Sat (12), 14–18 (17), 21, 22, 23 (20). */
	expect_add(c, ymd(2024, 9, 20), 20, ymd(2024, 10, 23));
	expect_add(c, ymd(2024, 10, 23), -20, ymd(2024, 9, 20));
	expect_add(c, ymd(2024, 9, 27), 1, ymd(2024, 9, 29));
	expect_add(c, ymd(2024, 9, 30), 1, ymd(2024, 10, 8));
	assert_int_equal(calendar_workdays_between(c, ymd(2024, 9, 20), ymd(2024, 10, 23)), 20);
	/* Spring Festival 2024: 2月10日–17日 off, 2月4日 (Sun) and 2月18日 (Sun)
	 * work, 除夕 2月9日 (Fri) an ordinary working day. */
	assert_true(calendar_is_workday(c, ymd(2024, 2, 4)));
	assert_true(calendar_is_workday(c, ymd(2024, 2, 9)));
	assert_false(calendar_is_workday(c, ymd(2024, 2, 12)));
	assert_true(calendar_is_workday(c, ymd(2024, 2, 18)));
	expect_add(c, ymd(2024, 2, 2), 1, ymd(2024, 2, 4));
	expect_add(c, ymd(2024, 2, 1), 5, ymd(2024, 2, 7));  /* 2, 4, 5, 6, 7 */
	expect_add(c, ymd(2024, 2, 7), 3, ymd(2024, 2, 18)); /* 8, 9, 18 */
	expect_add(c, ymd(2024, 2, 18), -1, ymd(2024, 2, 9));
	expect_add(c, ymd(2024, 2, 19), -2, ymd(2024, 2, 9));
	expect_add(c, ymd(2024, 2, 12), 0, ymd(2024, 2, 12));
	/* 2020: the first notice had 1月24日–30日 off, 1月19日 (Sun) and 2月1日 (Sat)
	 * work; the second extended the holiday to 2月2日, work from 2月3日. */
	assert_true(calendar_is_workday(c, ymd(2020, 1, 19)));
	assert_false(calendar_is_workday(c, ymd(2020, 1, 31)));
	assert_false(calendar_is_workday(c, ymd(2020, 2, 1)));
	assert_true(calendar_is_workday(c, ymd(2020, 2, 3)));
	expect_add(c, ymd(2020, 1, 17), 1, ymd(2020, 1, 19));
	expect_add(c, ymd(2020, 1, 23), 1, ymd(2020, 2, 3));
	expect_add(c, ymd(2020, 1, 23), 2, ymd(2020, 2, 4));
	expect_add(c, ymd(2020, 2, 3), -1, ymd(2020, 1, 23));
	/* 2015: 9月3日–5日 off, 9月6日 (Sun) work; 2019: 劳动节 5月1日–4日 */
	assert_false(calendar_is_workday(c, ymd(2015, 9, 3)));
	assert_true(calendar_is_workday(c, ymd(2015, 9, 6)));
	assert_false(calendar_is_workday(c, ymd(2019, 5, 2)));
	assert_true(calendar_is_workday(c, ymd(2019, 5, 5)));
	/* before the data: 2006年12月30日 (Sat) and 31日 (Sun) work, 2007年1月1日–3日 off.
	 * From Fri 2006-12-01: 4 weeks (20), Dec 30 (21), 31 (22), Jan 4 (23), 5 (24),
	 * 8–12 (29), 15 (30). */
	expect_add(c, ymd(2006, 12, 1), 30, ymd(2007, 1, 15));
	expect_add(c, ymd(2007, 1, 15), -30, ymd(2006, 12, 1));
	expect_add(c, ymd(2001, 3, 2), 1, ymd(2001, 3, 5)); /* by the week */
	expect_add(c, ymd(2001, 3, 5), -1, ymd(2001, 3, 2));
	/* after the data: 2027 follows the week (provisional) */
	expect_add(c, ymd(2026, 12, 25), 10, ymd(2027, 1, 8));
	expect_add(c, ymd(2027, 1, 8), -10, ymd(2026, 12, 25));
	expect_add(c, ymd(2040, 6, 1), 5, ymd(2040, 6, 8));
	assert_true(calendar_is_workday(c, ymd(2027, 1, 1)));
	assert_false(calendar_is_workday(c, ymd(2027, 1, 2)));
	/* before 1970 the arithmetic holds too */
	expect_add(c, ymd(1969, 12, 26), 1, ymd(1969, 12, 29));
	expect_add(c, ymd(1969, 12, 29), -1, ymd(1969, 12, 26));
	calendar_free(c);
}

static void dates_parse_and_format(void **state)
{
	(void)state;
	int64_t d;
	assert_int_equal(calendar_parse_date("2024-02-29", &d), YZ_OK);
	assert_true(d == ymd(2024, 2, 29));
	const char *bad[] = {"2023-02-29", "2024-13-01",  "2024-00-10", "2024-1-01", "2024-01-32",
	                     "20240101",   "2024-01-01x", "",           "2024/01/01"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(calendar_parse_date(bad[i], &d), YZ_EINVAL);
	char s[16];
	calendar_format_date(ymd(1999, 1, 9), s, sizeof s);
	assert_string_equal(s, "1999-01-09");
	int64_t ms;
	assert_int_equal(clock_parse_iso("2024-09-20T23:59:59+08:00", &ms), YZ_OK);
	assert_true(calendar_day_of(ms) == ymd(2024, 9, 20));
	assert_int_equal(clock_parse_iso("2024-09-20T16:00:00Z", &ms), YZ_OK); /* 00:00 city */
	assert_true(calendar_day_of(ms) == ymd(2024, 9, 21));
	assert_true(calendar_day_of(ms - 1) == ymd(2024, 9, 20));
}

/* ---- working hours ---- */

static int64_t at(const char *iso)
{
	int64_t ms;
	if (clock_parse_iso(iso, &ms) != YZ_OK)
		fail_msg("bad time %s", iso);
	return ms;
}

static void expect_time(int64_t got, const char *want)
{
	if (got != at(want)) {
		char g[40];
		clock_format_city(got, g, sizeof g);
		fail_msg("got %s, expected %s", g, want);
	}
}

static void hours_parse(void **state)
{
	(void)state;
	calendar_hours d = calendar_default_hours(), h;
	yz_err e = {0};
	assert_int_equal(calendar_hours_minutes(&d), 420);
	assert_int_equal(calendar_parse_hours("9:00-12:00,13:30-17:30", &h, &e), YZ_OK);
	assert_memory_equal(&h, &d, sizeof h);
	assert_int_equal(calendar_parse_hours(" 08:30 \xe2\x80\x93 12:00 , 14:00-18:00 ", &h, &e),
	                 YZ_OK);
	assert_int_equal(h.n, 2);
	assert_int_equal(h.r[0].from_min, 510);
	assert_int_equal(h.r[1].to_min, 1080);
	char s[64];
	calendar_format_hours(&h, s, sizeof s);
	assert_string_equal(s, "8:30-12:00,14:00-18:00");
	assert_int_equal(calendar_parse_hours("0:00-24:00", &h, &e), YZ_OK);
	assert_int_equal(calendar_hours_minutes(&h), 1440);
	const char *bad[] = {"",
	                     "9:00",
	                     "9-17",
	                     "9:00-8:00",
	                     "9:00-9:00",
	                     "9:00-12:00,11:00-13:00",
	                     "13:00-14:00,9:00-12:00",
	                     "25:00-26:00",
	                     "9:60-10:00",
	                     "24:00-24:00",
	                     "9:00-12:00;13:00-14:00",
	                     "9:00-12:00,",
	                     "1:00-2:00,3:00-4:00,5:00-6:00,7:00-8:00,9:00-10:00"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		e = (yz_err){0};
		h = d;
		if (calendar_parse_hours(bad[i], &h, &e) != YZ_EINVAL)
			fail_msg("hours %s accepted", bad[i]);
		assert_int_equal(e.nfield, 1);
		assert_string_equal(e.fields[0].field, "hours");
		assert_memory_equal(&h, &d, sizeof h); /* untouched on failure */
	}
	e = (yz_err){0};
	assert_int_equal(calendar_parse_hours(NULL, &h, &e), YZ_EINVAL);
}

static void work_minutes(void **state)
{
	(void)state;
	calendar *c = project_calendar();
	calendar_hours h = calendar_default_hours();
	/* across lunch: Mon 2024-09-23 */
	expect_time(calendar_add_work_minutes(c, &h, at("2024-09-23T11:00:00+08:00"), 90),
	            "2024-09-23T14:00:00+08:00");
	expect_time(calendar_add_work_minutes(c, &h, at("2024-09-23T11:00:00+08:00"), 60),
	            "2024-09-23T12:00:00+08:00"); /* the end of the period, not 13:30 */
	expect_time(calendar_add_work_minutes(c, &h, at("2024-09-23T12:40:00+08:00"), 10),
	            "2024-09-23T13:40:00+08:00");
	expect_time(calendar_add_work_minutes(c, &h, at("2024-09-23T14:00:00+08:00"), -90),
	            "2024-09-23T11:00:00+08:00");
	expect_time(calendar_add_work_minutes(c, &h, at("2024-09-23T14:00:00+08:00"), -30),
	            "2024-09-23T13:30:00+08:00"); /* the start of the period, not 12:00 */
	/* evenings and mornings */
	expect_time(calendar_add_work_minutes(c, &h, at("2024-09-23T17:00:00+08:00"), 60),
	            "2024-09-24T09:30:00+08:00");
	expect_time(calendar_add_work_minutes(c, &h, at("2024-09-23T20:00:00+08:00"), 60),
	            "2024-09-24T10:00:00+08:00");
	expect_time(calendar_add_work_minutes(c, &h, at("2024-09-24T07:00:00+08:00"), 60),
	            "2024-09-24T10:00:00+08:00");
	expect_time(calendar_add_work_minutes(c, &h, at("2024-09-24T07:00:00+08:00"), -60),
	            "2024-09-23T16:30:00+08:00");
	/* weekends: Fri 2024-09-27 → the make-up Sunday 9月29日 */
	expect_time(calendar_add_work_minutes(c, &h, at("2024-09-27T17:00:00+08:00"), 60),
	            "2024-09-29T09:30:00+08:00");
	expect_time(calendar_add_work_minutes(c, &h, at("2024-09-21T10:00:00+08:00"), 30),
	            "2024-09-23T09:30:00+08:00");
	/* holidays: National Day 2024 */
	expect_time(calendar_add_work_minutes(c, &h, at("2024-09-30T16:00:00+08:00"), 120),
	            "2024-10-08T09:30:00+08:00");
	expect_time(calendar_add_work_minutes(c, &h, at("2024-10-08T09:30:00+08:00"), -120),
	            "2024-09-30T16:00:00+08:00");
	/* 20 working days from the start of Fri 9月20日 end with Tue 10月22日 */
	expect_time(calendar_add_work_minutes(c, &h, at("2024-09-20T09:00:00+08:00"), 20 * 420),
	            "2024-10-22T17:30:00+08:00");
	expect_time(calendar_add_work_minutes(c, NULL, at("2024-09-20T09:00:00+08:00"), 420),
	            "2024-09-20T17:30:00+08:00");
	/* zero and seconds */
	assert_true(calendar_add_work_minutes(c, &h, at("2024-09-21T10:00:00+08:00"), 0) ==
	            at("2024-09-21T10:00:00+08:00"));
	expect_time(calendar_add_work_minutes(c, &h, at("2024-09-23T11:59:30+08:00"), 1),
	            "2024-09-23T13:30:30+08:00");
	/* other office hours */
	calendar_hours o;
	yz_err e = {0};
	assert_int_equal(calendar_parse_hours("8:30-12:00,14:00-18:00", &o, &e), YZ_OK);
	expect_time(calendar_add_work_minutes(c, &o, at("2024-09-30T16:00:00+08:00"), 60),
	            "2024-09-30T17:00:00+08:00");
	expect_time(calendar_add_work_minutes(c, &o, at("2024-09-30T17:30:00+08:00"), 60),
	            "2024-10-08T09:00:00+08:00");
	/* minutes between */
	assert_int_equal(calendar_work_minutes_between(c, &h, at("2024-09-23T11:00:00+08:00"),
	                                               at("2024-09-23T14:00:00+08:00")),
	                 90);
	assert_int_equal(calendar_work_minutes_between(c, &h, at("2024-09-30T16:00:00+08:00"),
	                                               at("2024-10-08T09:30:00+08:00")),
	                 120);
	assert_int_equal(calendar_work_minutes_between(c, &h, at("2024-10-08T09:30:00+08:00"),
	                                               at("2024-09-30T16:00:00+08:00")),
	                 -120);
	assert_int_equal(calendar_work_minutes_between(c, &h, at("2024-09-21T10:00:00+08:00"),
	                                               at("2024-09-23T10:00:00+08:00")),
	                 60);
	assert_int_equal(calendar_work_minutes_between(c, &h, at("2024-10-02T10:00:00+08:00"),
	                                               at("2024-10-05T10:00:00+08:00")),
	                 0);
	assert_int_equal(calendar_work_minutes_between(c, NULL, at("2024-09-20T00:00:00+08:00"),
	                                               at("2024-10-23T00:00:00+08:00")),
	                 20 * 420);
	/* random round trips */
	uint64_t seed = 7;
	int64_t t0 = at("2018-01-01T00:00:00+08:00");
	for (int i = 0; i < 100000; i++) {
		int64_t t = t0 + (int64_t)(rng_next(&seed) % (8ULL * 365 * 1440)) * 60000;
		int64_t m = (int64_t)(rng_next(&seed) % 20001) - 10000;
		int64_t r = calendar_add_work_minutes(c, &h, t, m);
		if (m > 0) {
			assert_true(r > t);
			assert_int_equal(calendar_work_minutes_between(c, &h, t, r), m);
		} else if (m < 0) {
			assert_true(r < t);
			assert_int_equal(calendar_work_minutes_between(c, &h, r, t), -m);
		} else {
			assert_true(r == t);
		}
	}
	calendar_free(c);
}

static void deadlines(void **state)
{
	(void)state;
	calendar *c = project_calendar();
	assert_true(calendar_deadline_workdays(c, at("2024-09-20T10:00:00+08:00"), 20) ==
	            at("2024-10-23T23:59:59.999+08:00"));
	/* a start late in the city's day still counts from that day */
	assert_true(calendar_deadline_workdays(c, at("2024-09-20T23:30:00+08:00"), 1) ==
	            at("2024-09-23T23:59:59.999+08:00"));
	assert_true(calendar_deadline_workdays(c, at("2024-09-20T16:30:00Z"), 1) ==
	            at("2024-09-23T23:59:59.999+08:00")); /* 00:30 on 9月21日 in the city */
	/* natural days: the last day 10月1日 is a holiday, so 10月8日 */
	assert_true(calendar_deadline_days(c, at("2024-09-28T10:00:00+08:00"), 3) ==
	            at("2024-10-08T23:59:59.999+08:00"));
	assert_true(calendar_deadline_days(c, at("2024-09-20T10:00:00+08:00"), 5) ==
	            at("2024-09-25T23:59:59.999+08:00"));
	/* last day a Saturday that is a make-up working day: no extension */
	assert_true(calendar_deadline_days(c, at("2024-10-02T10:00:00+08:00"), 10) ==
	            at("2024-10-12T23:59:59.999+08:00"));
	calendar_free(c);
}

/* ---- the notice file's syntax ---- */

static char *write_tmp(const char *dir, const char *name, const char *text)
{
	char *p = malloc(strlen(dir) + strlen(name) + 2);
	assert_non_null(p);
	snprintf(p, strlen(dir) + strlen(name) + 2, "%s/%s", dir, name);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return p;
}

static void notice_file_errors(void **state)
{
	(void)state;
	char *dir = tu_tmpdir();
	static const struct {
		const char *text, *msg;
	} cases[] = {
	    {"2024-01-01 off 元旦\n", "x.txt:1: a day before the first `notice` line"},
	    {"notice 2024 n 2023-10-25 u\n2024-02-30 off 春节\n", "x.txt:2: 2024-02-30 is not"},
	    {"notice 2024 n 2023-10-25 u\n2024-02-10 rest 春节\n", "x.txt:2: expected `off`"},
	    {"notice 2024 n 2023-10-25 u\n2024-02-10 off\n", "x.txt:2: the holiday name"},
	    {"# c\n\nnotice 2024 n 2023-10-25 u\n2024-02-10 off 春节\n2024-02-10 work 春节\n",
	     "x.txt:5: 2024-02-10 is listed twice"},
	    {"notice 2024 n 2023-10-25\n", "x.txt:1: expected `notice <year>"},
	    {"notice 20x4 n 2023-10-25 u\n", "x.txt:1: year 20x4"},
	    {"notice 2024 n 2023-13-25 u\n", "x.txt:1: issued date"},
	    {"notice 2024 n unknown u\n2021-02-10 off 春节\n", "x.txt:2: 2021-02-10 is far"},
	    {"notice 2024 n unknown u\nnotice 2025 n unknown u\n2025-01-01 off 元旦\n",
	     "x.txt:1: the notice before lists no day"},
	    {"notice 2024 n unknown u\n", "x.txt:1: the last notice lists no day"},
	    {"# only comments\n", "no notice in the file"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *p = write_tmp(dir, "x.txt", cases[i].text);
		calendar *c = (calendar *)&c;
		yz_err e = {0};
		assert_int_equal(calendar_from_file(p, &c, &e), YZ_EINVAL);
		assert_null(c);
		if (!strstr(e.msg, cases[i].msg))
			fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, e.msg, cases[i].msg);
		free(p);
	}
	calendar *c = NULL;
	yz_err e = {0};
	assert_int_equal(calendar_from_file("/nonexistent/cn-notices.txt", &c, &e), YZ_EIO);
	/* a later notice supersedes an earlier one only for the dates it lists,
	 * whatever its order relative to other years */
	char *p = write_tmp(dir, "ok.txt",
	                    "notice 2020 a 2019-11-21 u1\n"
	                    "2020-01-19 work 春节\n2020-01-24 off  春节\n2020-01-30 off 春节\n"
	                    "2020-02-01 work 春节\n"
	                    "notice 2021 b unknown u2\n2021-01-01 off 元旦\n"
	                    "notice 2020 c 2020-01-26 u3\n"
	                    "2020-01-31 off 春节\n2020-02-01 off 春节\n\r\n");
	assert_int_equal(calendar_from_file(p, &c, &e), YZ_OK);
	assert_true(calendar_is_workday(c, ymd(2020, 1, 19)));
	assert_false(calendar_is_workday(c, ymd(2020, 1, 30)));
	assert_true(calendar_is_workday(c, ymd(2020, 1, 29))); /* not listed here */
	assert_false(calendar_is_workday(c, ymd(2020, 1, 31)));
	assert_false(calendar_is_workday(c, ymd(2020, 2, 1)));
	assert_false(calendar_is_workday(c, ymd(2021, 1, 1)));
	int y0, y1;
	calendar_years(c, &y0, &y1);
	assert_int_equal(y0, 2020);
	assert_int_equal(y1, 2021);
	calendar_free(c);
	free(p);
	tu_rmtree(dir);
	free(dir);
}

/* ---- the database ---- */

typedef struct dbfix {
	store *s;
	char target[600];
	char *dir;
} dbfix;

static void db_open(dbfix *f, const char *backend)
{
	f->s = tu_open_store(backend, f->target, sizeof f->target);
	f->dir = tu_tmpdir();
	yz_err e = {0};
	assert_int_equal(store_migrate(f->s, "audit", audit_migrations, audit_nmigrations, &e),
	                 YZ_OK);
	assert_int_equal(
	    store_migrate(f->s, "calendar", calendar_migrations, calendar_nmigrations, &e), YZ_OK);
}

static void db_close(dbfix *f)
{
	store_close(f->s);
	tu_drop_db(f->target);
	tu_rmtree(f->dir);
	free(f->dir);
}

static json_t *notices(store *s)
{
	store_conn *c;
	json_t *a;
	yz_err e = {0};
	assert_int_equal(store_reader(s, &c, &e), YZ_OK);
	assert_int_equal(calendar_notices_json(c, &a, &e), YZ_OK);
	return a;
}

static int audit_count(store *s, const char *action)
{
	store_conn *c;
	json_t *out;
	yz_err e = {0};
	yz_scope all = {.all = true};
	audit_filter f = {.limit = 200, .action = action};
	assert_int_equal(store_reader(s, &c, &e), YZ_OK);
	assert_int_equal(audit_list(c, &all, &f, &out, &e), YZ_OK);
	int n = (int)json_array_size(json_object_get(out, "items"));
	json_decref(out);
	return n;
}

static calendar *db_calendar(store *s)
{
	calendar *c = NULL;
	yz_err e = {0};
	yz_status st = calendar_load(s, &c, &e);
	if (st != YZ_OK)
		fail_msg("calendar_load: %s", e.msg);
	return c;
}

/* The reference file for `year` with `extra` days appended to its list (a
 * listed date replaced when it is there already). */
static char *holiday_cn_file(const char *dir, const char *name, int year, const char *extra_json)
{
	char rel[128];
	snprintf(rel, sizeof rel, "../shared/reference/holidays-cn/%d.json", year);
	json_error_t je;
	json_t *doc = json_load_file(tu_src(rel), 0, &je);
	assert_non_null(doc);
	json_t *days = json_object_get(doc, "days");
	json_t *extra = json_loads(extra_json, 0, &je);
	assert_non_null(extra);
	size_t i, k;
	json_t *x, *d;
	json_array_foreach (extra, i, x) {
		bool replaced = false;
		json_array_foreach (days, k, d)
			if (!strcmp(json_string_value(json_object_get(d, "date")),
			            json_string_value(json_object_get(x, "date")))) {
				json_array_set(days, k, x);
				replaced = true;
			}
		if (!replaced)
			json_array_append(days, x);
	}
	char *text = json_dumps(doc, JSON_INDENT(1));
	char *p = write_tmp(dir, name, text);
	free(text);
	json_decref(extra);
	json_decref(doc);
	return p;
}

static void expect_changed(const int64_t *got, int n, const char *const *want, int nwant)
{
	if (n != nwant)
		fail_msg("%d days changed, expected %d", n, nwant);
	for (int i = 0; i < n; i++) {
		char s[16];
		calendar_format_date(got[i], s, sizeof s);
		assert_string_equal(s, want[i]);
	}
}

static void db_seed_load_import(void **state)
{
	(void)state;
	ref_cal r;
	ref_load(&r);
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		dbfix f;
		db_open(&f, be[b]);
		yz_err e = {0};
		/* an empty database: the week alone */
		calendar *c = db_calendar(f.s);
		assert_true(calendar_is_workday(c, ymd(2024, 10, 1)));
		assert_false(calendar_is_workday(c, ymd(2024, 10, 5)));
		assert_true(calendar_is_workday(c, ymd(2024, 10, 7)));
		expect_add(c, ymd(2024, 9, 20), 20, ymd(2024, 10, 18));
		calendar_free(c);

		const char *file = tu_src("data/calendar/cn-notices.txt");
		assert_int_equal(calendar_seed(f.s, file, &e), YZ_OK);
		json_t *list = notices(f.s);
		assert_int_equal(json_array_size(list), 23); /* 20 years, 3 second notices */
		json_t *n20 = json_array_get(list, 16);      /* 2020's extension */
		assert_int_equal(json_integer_value(json_object_get(n20, "year")), 2020);
		assert_string_equal(jx_str(n20, "number", ""), "国办发明电〔2020〕1号");
		assert_string_equal(jx_str(n20, "origin", ""), "seed");
		assert_int_equal(json_integer_value(json_object_get(n20, "days")), 4);
		/* against what the first notice said: 1月31日 and 2月1日 flipped */
		json_t *ch = json_object_get(n20, "changed");
		assert_int_equal(json_array_size(ch), 2);
		assert_string_equal(json_string_value(json_array_get(ch, 0)), "2020-01-31");
		assert_string_equal(json_string_value(json_array_get(ch, 1)), "2020-02-01");
		json_decref(list);
		assert_int_equal(audit_count(f.s, "calendar.seed"), 1);
		/* seeding again adds nothing */
		assert_int_equal(calendar_seed(f.s, file, &e), YZ_OK);
		list = notices(f.s);
		assert_int_equal(json_array_size(list), 23);
		json_decref(list);
		assert_int_equal(audit_count(f.s, "calendar.seed"), 1);

		int64_t seq;
		assert_int_equal(calendar_stored_seq(f.s, &seq, &e), YZ_OK);
		assert_int_equal(seq, 23);

		c = db_calendar(f.s);
		check_every_date(c, &r);
		int y0, y1;
		calendar_years(c, &y0, &y1);
		assert_int_equal(y0, 2007);
		assert_int_equal(y1, 2026);
		calendar_free(c);

		/* a modified 2026 notice: an extra holiday on Mon 3月2日, and the
		 * make-up Saturday 2月28日 made a rest day; 2月14日 listed unchanged */
		char *mod = holiday_cn_file(
		    f.dir, "2026-mod.json", 2026,
		    "[{\"name\":\"测试假日\",\"date\":\"2026-03-02\",\"isOffDay\":true},"
		    " {\"name\":\"春节\",\"date\":\"2026-02-28\",\"isOffDay\":true}]");
		yz_actor who = actor_system("test");
		int64_t *changed = NULL;
		int nch = -1;
		assert_int_equal(calendar_import_holiday_cn(f.s, &who, mod, &changed, &nch, &e),
		                 YZ_OK);
		static const char *const want[] = {"2026-02-28", "2026-03-02"};
		expect_changed(changed, nch, want, 2);
		free(changed);
		list = notices(f.s);
		assert_int_equal(json_array_size(list), 24);
		json_t *last = json_array_get(list, 23);
		assert_int_equal(json_integer_value(json_object_get(last, "seq")), 24);
		assert_int_equal(json_integer_value(json_object_get(last, "year")), 2026);
		assert_string_equal(jx_str(last, "origin", ""), "import");
		assert_string_equal(jx_str(last, "imported_by", ""), "system:test");
		assert_string_equal(
		    jx_str(last, "source", ""),
		    "https://www.gov.cn/zhengce/zhengceku/202511/content_7047091.htm");
		assert_int_equal(json_integer_value(json_object_get(last, "days")), 40);
		assert_int_equal(json_array_size(json_object_get(last, "changed")), 2);
		/* the seeded 2026 notice is kept */
		json_t *old = json_array_get(list, 22);
		assert_int_equal(json_integer_value(json_object_get(old, "year")), 2026);
		assert_string_equal(jx_str(old, "origin", ""), "seed");
		json_decref(list);
		assert_int_equal(audit_count(f.s, "calendar.import"), 1);
		assert_int_equal(calendar_stored_seq(f.s, &seq, &e), YZ_OK);
		assert_int_equal(seq, 24);

		c = db_calendar(f.s);
		assert_false(calendar_is_workday(c, ymd(2026, 3, 2)));
		assert_false(calendar_is_workday(c, ymd(2026, 2, 28)));
		assert_string_equal(calendar_day_name(c, ymd(2026, 3, 2)), "测试假日");
		assert_true(calendar_is_workday(c, ymd(2026, 2, 14)));
		assert_true(calendar_is_workday(c, ymd(2026, 3, 3)));
		expect_add(c, ymd(2026, 2, 27), 1, ymd(2026, 3, 3));
		for (int64_t d = ymd(2007, 1, 1); d <= ymd(2026, 12, 31); d++)
			if (d != ymd(2026, 3, 2) && d != ymd(2026, 2, 28))
				assert_int_equal(calendar_is_workday(c, d), ref_workday(&r, d));
		calendar_free(c);

		/* the same file again: no new version */
		assert_int_equal(calendar_import_holiday_cn(f.s, &who, mod, &changed, &nch, &e),
		                 YZ_OK);
		assert_int_equal(nch, 0);
		assert_null(changed);
		list = notices(f.s);
		assert_int_equal(json_array_size(list), 24);
		json_decref(list);
		/* the original notice again: a new version. It flips 2月28日 back; 3月2日,
		 * which it does not list, stays as the newest notice that lists it says */
		char *orig = holiday_cn_file(f.dir, "2026.json", 2026, "[]");
		assert_int_equal(calendar_import_holiday_cn(f.s, &who, orig, &changed, &nch, &e),
		                 YZ_OK);
		static const char *const want_back[] = {"2026-02-28"};
		expect_changed(changed, nch, want_back, 1);
		free(changed);
		c = db_calendar(f.s);
		assert_true(calendar_is_workday(c, ymd(2026, 2, 28)));
		assert_false(calendar_is_workday(c, ymd(2026, 3, 2)));
		calendar_free(c);
		/* a correction that lists 3月2日 as a working day restores it */
		char *fix = holiday_cn_file(
		    f.dir, "2026-fix.json", 2026,
		    "[{\"name\":\"测试假日\",\"date\":\"2026-03-02\",\"isOffDay\":false}]");
		assert_int_equal(calendar_import_holiday_cn(f.s, &who, fix, &changed, &nch, &e),
		                 YZ_OK);
		static const char *const want_fix[] = {"2026-03-02"};
		expect_changed(changed, nch, want_fix, 1);
		free(changed);
		list = notices(f.s);
		assert_int_equal(json_array_size(list), 26);
		json_decref(list);
		assert_int_equal(audit_count(f.s, "calendar.import"), 3);
		c = db_calendar(f.s);
		for (int64_t d = ymd(2007, 1, 1); d <= ymd(2026, 12, 31); d++)
			assert_int_equal(calendar_is_workday(c, d), ref_workday(&r, d));
		calendar_free(c);
		free(fix);
		free(mod);
		free(orig);
		db_close(&f);
	}
	ref_free(&r);
}

static void db_second_notice_2020(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		dbfix f;
		db_open(&f, be[b]);
		/* the project file as it stood before 2020-01-26: the first notice only */
		char *first = write_tmp(f.dir, "first.txt",
		                        "notice 2020 国办发明电〔2019〕16号 2019-11-21 u\n"
		                        "2020-01-01 off 元旦\n2020-01-19 work 春节\n"
		                        "2020-01-24 off 春节\n2020-01-25 off 春节\n"
		                        "2020-01-26 off 春节\n2020-01-27 off 春节\n"
		                        "2020-01-28 off 春节\n2020-01-29 off 春节\n"
		                        "2020-01-30 off 春节\n2020-02-01 work 春节\n");
		yz_err e = {0};
		assert_int_equal(calendar_seed(f.s, first, &e), YZ_OK);
		calendar *c = db_calendar(f.s);
		expect_add(c, ymd(2020, 1, 23), 1, ymd(2020, 1, 31));
		expect_add(c, ymd(2020, 1, 23), 2, ymd(2020, 2, 1));
		calendar_free(c);
		/* the extension arrives as holiday-cn JSON */
		char *ext =
		    write_tmp(f.dir, "ext.json",
		              "{\"year\": 2020, \"papers\": [\"http://www.gov.cn/zhengce/"
		              "zhengceku/2020-01/27/content_5472352.htm\"], \"days\": ["
		              "{\"name\":\"春节\",\"date\":\"2020-01-31\",\"isOffDay\":true},"
		              "{\"name\":\"春节\",\"date\":\"2020-02-01\",\"isOffDay\":true},"
		              "{\"name\":\"春节\",\"date\":\"2020-02-02\",\"isOffDay\":true},"
		              "{\"name\":\"春节\",\"date\":\"2020-02-03\",\"isOffDay\":false}]}");
		yz_actor who = actor_system("test");
		int64_t *changed = NULL;
		int nch = 0;
		assert_int_equal(calendar_import_holiday_cn(f.s, &who, ext, &changed, &nch, &e),
		                 YZ_OK);
		static const char *const want[] = {"2020-01-31", "2020-02-01"};
		expect_changed(changed, nch, want, 2);
		free(changed);
		c = db_calendar(f.s);
		expect_add(c, ymd(2020, 1, 23), 1, ymd(2020, 2, 3));
		assert_true(
		    calendar_is_workday(c, ymd(2020, 1, 19))); /* first notice still holds */
		calendar_free(c);
		json_t *list = notices(f.s);
		assert_int_equal(json_array_size(list), 2);
		json_decref(list);
		free(first);
		free(ext);
		db_close(&f);
	}
}

typedef struct seed_arg {
	store *s;
	yz_status st;
	yz_err e;
} seed_arg;

static void *seed_thread(void *p)
{
	seed_arg *a = p;
	a->st = calendar_seed(a->s, tu_src("data/calendar/cn-notices.txt"), &a->e);
	return NULL;
}

/* Two nodes (two stores on one database) seeding at the same moment: both
 * succeed and every notice is stored once. */
static void db_concurrent_seed(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		dbfix f;
		db_open(&f, be[b]);
		store *other = NULL;
		yz_err e = {0};
		assert_int_equal(store_open(f.target, NULL, &other, &e), YZ_OK);
		seed_arg a[2] = {{.s = f.s}, {.s = other}};
		pthread_t t[2];
		for (int i = 0; i < 2; i++)
			assert_int_equal(pthread_create(&t[i], NULL, seed_thread, &a[i]), 0);
		for (int i = 0; i < 2; i++) {
			pthread_join(t[i], NULL);
			if (a[i].st != YZ_OK)
				fail_msg("%s: seed %d: %s", be[b], i, a[i].e.msg);
		}
		store_close(other);
		json_t *list = notices(f.s);
		assert_int_equal(json_array_size(list), 23);
		json_decref(list);
		assert_int_equal(audit_count(f.s, "calendar.seed"), 1);
		db_close(&f);
	}
}

static void db_import_refuses_bad_files(void **state)
{
	(void)state;
	dbfix f;
	db_open(&f, "sqlite");
	yz_actor who = actor_system("test");
	static const struct {
		const char *json, *field;
	} cases[] = {
	    {"{\"year\": 2030, \"days\": "
	     "[{\"name\":\"x\",\"date\":\"2030-02-30\",\"isOffDay\":true}]}",
	     "days[0].date"},
	    {"{\"year\": 2030, \"days\": "
	     "[{\"name\":\"x\",\"date\":\"2032-01-01\",\"isOffDay\":true}]}",
	     "days[0].date"},
	    {"{\"year\": 2030, \"days\": "
	     "[{\"name\":\"x\",\"date\":\"2030-01-01\",\"isOffDay\":true},"
	     "{\"name\":\"x\",\"date\":\"2030-01-01\",\"isOffDay\":false}]}",
	     "days[1].date"},
	    {"{\"year\": 2030, \"days\": [{\"name\":\"x\",\"date\":\"2030-01-01\"}]}",
	     "days[0].isOffDay"},
	    {"{\"year\": 2030, \"days\": "
	     "[{\"name\":\"\",\"date\":\"2030-01-01\",\"isOffDay\":true}]}",
	     "days[0].name"},
	    {"{\"year\": 2030, \"days\": [7]}", "days[0]"},
	    {"{\"year\": 1800, \"days\": "
	     "[{\"name\":\"x\",\"date\":\"1800-01-01\",\"isOffDay\":true}]}",
	     "year"},
	    {"{\"year\": 2030, \"days\": []}", "days"},
	    {"{\"year\": 2030, \"extra\": 1, \"days\": [{\"name\":\"x\",\"date\":\"2030-01-01\","
	     "\"isOffDay\":true}]}",
	     "extra"},
	    {"{\"year\": 2030, \"papers\": [5], \"days\": [{\"name\":\"x\",\"date\":\"2030-01-01\","
	     "\"isOffDay\":true}]}",
	     "papers[0]"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *p = write_tmp(f.dir, "bad.json", cases[i].json);
		int64_t *changed = (int64_t *)&changed;
		int n = -1;
		yz_err e = {0};
		assert_int_equal(calendar_import_holiday_cn(f.s, &who, p, &changed, &n, &e),
		                 YZ_EINVAL);
		assert_null(changed);
		assert_int_equal(n, 0);
		bool found = false;
		for (int k = 0; k < e.nfield && k < YZ_ERR_MAX_FIELDS; k++)
			found = found || !strcmp(e.fields[k].field, cases[i].field);
		if (!found)
			fail_msg("case %zu: no field error on %s (first: %s)", i, cases[i].field,
			         e.nfield ? e.fields[0].field : e.msg);
		free(p);
	}
	char *p = write_tmp(f.dir, "bad.json", "{\"year\": 2030, \"days\": [");
	int64_t *changed;
	int n;
	yz_err e = {0};
	assert_int_equal(calendar_import_holiday_cn(f.s, &who, p, &changed, &n, &e), YZ_EINVAL);
	assert_non_null(strstr(e.msg, "line"));
	free(p);
	e = (yz_err){0};
	assert_int_equal(
	    calendar_import_holiday_cn(f.s, &who, "/nonexistent.json", &changed, &n, &e), YZ_EIO);
	json_t *list = notices(f.s);
	assert_int_equal(json_array_size(list), 0);
	json_decref(list);
	assert_int_equal(audit_count(f.s, "calendar"), 0);
	db_close(&f);
}

/* ---- the command line ---- */

typedef struct cli_out {
	int rc;
	char out[4096], err[4096];
} cli_out;

static void slurp(FILE *f, char *dst, size_t cap)
{
	rewind(f);
	size_t n = fread(dst, 1, cap - 1, f);
	dst[n] = '\0';
	fclose(f);
}

typedef struct hook_log {
	int calls;
	int64_t days[8];
	int n;
} hook_log;

static yz_status hook(void *arg, store *s, const int64_t *days, int n, FILE *out, yz_err *e)
{
	(void)s;
	(void)e;
	hook_log *h = arg;
	h->calls++;
	h->n = n;
	for (int i = 0; i < n && i < 8; i++)
		h->days[i] = days[i];
	fputs("deadlines recomputed\n", out);
	return YZ_OK;
}

static cli_out run_cli(store *s, hook_log *h, const char *const *rest)
{
	cli_out r;
	const char *args[8] = {"calendar"};
	int argc = 1;
	while (argc < 8 && rest[argc - 1])
		args[argc] = rest[argc - 1], argc++;
	calendar_cli_opts o = {tmpfile(), tmpfile(), h ? hook : NULL, h};
	assert_non_null(o.out);
	assert_non_null(o.err);
	r.rc = calendar_cli_run(s, tu_src("data/calendar/cn-notices.txt"), argc, (char **)args, &o);
	slurp(o.out, r.out, sizeof r.out);
	slurp(o.err, r.err, sizeof r.err);
	return r;
}

#define ARGS(...) ((const char *[]){__VA_ARGS__, NULL})
#define CLI(...)  run_cli(NULL, NULL, ARGS(__VA_ARGS__))

static void cli_answers(void **state)
{
	(void)state;
	cli_out r = CLI("is-workday", "2024-02-04");
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out, "2024-02-04 Sun: working day (make-up working day, 春节)\n");
	r = CLI("is-workday", "2024-02-12");
	assert_int_equal(r.rc, 1);
	assert_string_equal(r.out, "2024-02-12 Mon: not a working day (春节)\n");
	r = CLI("is-workday", "2024-09-21");
	assert_int_equal(r.rc, 1);
	assert_string_equal(r.out, "2024-09-21 Sat: not a working day (weekend)\n");
	r = CLI("is-workday", "2020-02-01");
	assert_int_equal(r.rc, 1);
	r = CLI("is-workday", "2024-09-23");
	assert_int_equal(r.rc, 0);
	r = CLI("is-workday", "2027-01-04");
	assert_int_equal(r.rc, 0);
	assert_non_null(strstr(r.err, "no notice for 2027"));
	r = CLI("is-workday", "2024-02-30");
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "2024-02-30"));
	r = CLI("is-workday", NULL);
	assert_int_equal(r.rc, 2);
	r = CLI("add-workdays", "2024-09-20", "20");
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out, "2024-10-23\n");
	r = CLI("add-workdays", "2024-02-19", "-2");
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out, "2024-02-09\n");
	r = CLI("add-workdays", "2020-01-23", "1");
	assert_string_equal(r.out, "2020-02-03\n");
	r = CLI("add-workdays", "2024-09-20", "x");
	assert_int_equal(r.rc, 2);
	r = CLI("workdays-between", "2024-09-20", "2024-10-23");
	assert_string_equal(r.out, "20\n");
	r = CLI("add-work-minutes", "2024-09-30 16:00", "120");
	assert_int_equal(r.rc, 0);
	assert_string_equal(r.out, "2024-10-08T09:30:00+08:00\n");
	r = CLI("add-work-minutes", "2024-09-30T16:00", "60", "--hours", "8:30-12:00,14:00-18:00");
	assert_string_equal(r.out, "2024-09-30T17:00:00+08:00\n");
	r = CLI("add-work-minutes", "2024-09-30T16:00", "60", "--hours", "8-12");
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "hours: format"));
	r = CLI("work-minutes-between", "2024-09-30T08:00:00Z", "2024-10-08T09:30");
	assert_string_equal(r.out, "120\n");
	r = CLI("deadline", "2024-09-20T10:00", "20");
	assert_string_equal(r.out, "2024-10-23T23:59:59+08:00\n");
	r = CLI("deadline", "2024-09-28", "3", "--days");
	assert_string_equal(r.out, "2024-10-08T23:59:59+08:00\n");
	r = CLI("frobnicate", "1");
	assert_int_equal(r.rc, 2);
	r = CLI("--help", NULL);
	assert_int_equal(r.rc, 0);
	assert_non_null(strstr(r.out, "add-workdays DATE N"));
	r = run_cli(NULL, NULL, ARGS(NULL));
	assert_int_equal(r.rc, 2);
	r = CLI("import", "x.json");
	assert_int_equal(r.rc, 2);
	assert_non_null(strstr(r.err, "installation"));
}

static void cli_with_database(void **state)
{
	(void)state;
	dbfix f;
	db_open(&f, "sqlite");
	/* an empty database: answers come from the project file */
	cli_out o = run_cli(f.s, NULL, ARGS("add-workdays", "2024-09-20", "20"));
	assert_string_equal(o.out, "2024-10-23\n");
	char *mod = holiday_cn_file(f.dir, "m.json", 2026,
	                            "[{\"name\":\"测试假日\",\"date\":\"2026-03-02\","
	                            "\"isOffDay\":true}]");
	hook_log h = {0};
	o = run_cli(f.s, &h, ARGS("import", mod));
	assert_int_equal(o.rc, 0);
	assert_non_null(strstr(o.out, "notice version 24 for 2026, 40 days; 1 changed: 2026-03-02\n"
	                              "deadlines recomputed\n"));
	assert_int_equal(h.calls, 1);
	assert_int_equal(h.n, 1);
	assert_true(h.days[0] == ymd(2026, 3, 2));
	/* now the database answers, with the imported holiday */
	o = run_cli(f.s, NULL, ARGS("is-workday", "2026-03-02"));
	assert_int_equal(o.rc, 1);
	assert_string_equal(o.out, "2026-03-02 Mon: not a working day (测试假日)\n");
	o = run_cli(f.s, &h, ARGS("import", mod));
	assert_int_equal(o.rc, 0);
	assert_int_equal(h.calls, 1); /* nothing changed, no recomputation */
	assert_non_null(strstr(o.out, "0 changed"));
	o = run_cli(f.s, NULL, ARGS("notices"));
	assert_int_equal(o.rc, 0);
	assert_non_null(strstr(o.out, "国办发明电〔2020〕1号"));
	assert_non_null(strstr(o.out, "import"));
	char *bad = write_tmp(f.dir, "bad.json", "{\"year\": 2030, \"days\": [{}]}");
	o = run_cli(f.s, NULL, ARGS("import", bad));
	assert_int_equal(o.rc, 1);
	assert_non_null(strstr(o.err, "days[0].name"));
	free(bad);
	free(mod);
	db_close(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(file_agrees_with_reference),
	    cmocka_unit_test(random_additions),
	    cmocka_unit_test(golden_dates),
	    cmocka_unit_test(dates_parse_and_format),
	    cmocka_unit_test(hours_parse),
	    cmocka_unit_test(work_minutes),
	    cmocka_unit_test(deadlines),
	    cmocka_unit_test(notice_file_errors),
	    cmocka_unit_test(db_seed_load_import),
	    cmocka_unit_test(db_second_notice_2020),
	    cmocka_unit_test(db_concurrent_seed),
	    cmocka_unit_test(db_import_refuses_bad_files),
	    cmocka_unit_test(cli_answers),
	    cmocka_unit_test(cli_with_database),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
