/*
 * calendar.h — statutory working days: public holidays and 调休 make-up
 * working days from the State Council's notices, working hours, and the
 * deadlines built on them (行政许可法 20 working days, 政府信息公开条例, ...).
 *
 * Facts. A notice lists days of (mostly) one year, each either off (a
 * holiday, or a rest day moved there by 调休) or work (a make-up working day,
 * usually a weekend day). A day's status comes from the latest notice that
 * lists it; a day no notice lists follows the week (Monday–Friday work), and
 * so does every day outside the years the notices cover. A later notice for a
 * year therefore supersedes an earlier one only for the dates it lists (2020:
 * the Spring Festival extension). The project carries the notices for
 * 2007–2026 in data/calendar/cn-notices.txt (its format is documented at the
 * top of that file); further notices are imported at run time from the
 * holiday-cn JSON format, and every version is kept in the database.
 *
 * Days are "day numbers": days since 1970-01-01 (clock_days_from_civil), in
 * the city's calendar. Instants are UTC milliseconds; the city's zone,
 * Asia/Shanghai, is UTC+8 without daylight saving (core/clock.h).
 *
 * A `calendar` is built once (from the file or the database) and is
 * immutable afterwards, so one calendar may serve many threads at once. Its
 * day functions are O(1) and never allocate: a table over the listed range
 * holds the cumulative count of working days and the position of every
 * working day; outside it, arithmetic on weeks. Whoever builds a calendar
 * frees it with calendar_free. After an import, build a new calendar with
 * calendar_load and swap it in; the old one stays valid until freed.
 *
 * Database side: module "calendar" owns calendar_notice (one row per notice
 * version: year, number, issued, source, origin, digest, what it changed,
 * imported_at/by, sequence) and calendar_day (the days each version lists).
 * Rows are never updated or deleted. Seeding and imports are audited.
 */
#ifndef YZ_FLOW_CALENDAR_H
#define YZ_FLOW_CALENDAR_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/actor.h"
#include "core/status.h"
#include "store/store.h"

typedef struct calendar calendar; /* immutable once built: safe from many threads */

/* ---- building ---- */

/* Read the project's notice file (data/calendar/cn-notices.txt). Syntax
 * errors are YZ_EINVAL with "path:line: what". */
YZ_MUST_USE yz_status calendar_from_file(const char *path, calendar **out, yz_err *e);
/* Build from every notice version in the database (module "calendar",
 * migrated). With no notice stored the calendar follows the week alone. */
YZ_MUST_USE yz_status calendar_load(store *s, calendar **out, yz_err *e);
void calendar_free(calendar *c);

/* The first and last year a notice was given for (0, 0 when there is none).
 * Working days computed beyond the last year are provisional: the next
 * notice may move them. */
void calendar_years(const calendar *c, int *first, int *last);

/* ---- days ---- */

bool calendar_is_workday(const calendar *c, int64_t day);
/* The name of the holiday a listed day belongs to ("春节"), NULL for a day
 * no notice lists. Valid as long as c. */
const char *calendar_day_name(const calendar *c, int64_t day);
/* The Nth working day after day, day itself not counted (n > 0); n < 0
 * counts back the same way (-1: the last working day before day); n == 0
 * gives day. O(1), no allocation. */
int64_t calendar_add_workdays(const calendar *c, int64_t day, int n);
/* Working days in (from_day, to_day]; negative (minus those in
 * (to_day, from_day]) when to_day < from_day. Consistent with add:
 * between(d, add(d, n)) == n for n > 0. */
int calendar_workdays_between(const calendar *c, int64_t from_day, int64_t to_day);

/* Day number of an instant in the city's calendar. */
int64_t calendar_day_of(int64_t ms);
/* Strict "YYYY-MM-DD" with a real month and day; YZ_EINVAL otherwise. */
YZ_MUST_USE yz_status calendar_parse_date(const char *s, int64_t *day);
/* "YYYY-MM-DD"; cap >= 11 (years 0–9999). */
void calendar_format_date(int64_t day, char *out, size_t cap);

/* ---- working hours ---- */

/* Office hours of every working day as minute ranges of the city's day,
 * ascending and not overlapping, at most 4; default 9:00–12:00 and
 * 13:30–17:30 (420 minutes). */
#define CALENDAR_HOURS_MAX 4
typedef struct calendar_hours {
	int n;
	struct {
		int from_min, to_min;
	} r[CALENDAR_HOURS_MAX];
} calendar_hours;
calendar_hours calendar_default_hours(void);
/* "9:00-12:00,13:30-17:30" (an en dash "–" works too; spaces allowed; 24:00
 * only as an end). Faults are field errors on "hours". */
YZ_MUST_USE yz_status calendar_parse_hours(const char *spec, calendar_hours *out, yz_err *e);
/* "9:00-12:00,13:30-17:30" into out (cap >= 64). */
void calendar_format_hours(const calendar_hours *h, char *out, size_t cap);
/* Working minutes in one working day. */
int calendar_hours_minutes(const calendar_hours *h);

/* The instant at which `minutes` working minutes after start_ms have passed,
 * counting only office hours of working days. Landing exactly at the end of
 * an office period gives that end (9:00 + 180 min = 12:00, not 13:30).
 * minutes < 0 counts back and lands on a period's start rather than the end
 * of the period before. minutes == 0 gives start_ms. h NULL means the
 * default hours; h with no range gives start_ms. O(1). */
int64_t calendar_add_work_minutes(const calendar *c, const calendar_hours *h, int64_t start_ms,
                                  int64_t minutes);
/* Whole working minutes in [from_ms, to_ms) (negative when to < from). */
int64_t calendar_work_minutes_between(const calendar *c, const calendar_hours *h, int64_t from_ms,
                                      int64_t to_ms);

/* ---- deadlines ---- */

/* The end (23:59:59.999 Asia/Shanghai) of the Nth working day after the day
 * of start_ms, that day not counted. */
int64_t calendar_deadline_workdays(const calendar *c, int64_t start_ms, int n);
/* Natural days (自然日): the end of the Nth day after the day of start_ms;
 * when that last day is not a working day the period ends with the next
 * working day instead (民法典 第二百零三条: a period whose last day is a
 * statutory rest day ends on the day after the rest ends). */
int64_t calendar_deadline_days(const calendar *c, int64_t start_ms, int n);

/* ---- database ---- */

extern const store_migration calendar_migrations[];
extern const int calendar_nmigrations;

/* Store the notices of the project file that are not stored yet (compared by
 * content), each as a version with origin "seed", in file order. Idempotent:
 * call it at init and at every start, so that notices shipped with a newer
 * release arrive. Audited as "calendar.seed" when it added any. */
YZ_MUST_USE yz_status calendar_seed(store *s, const char *path, yz_err *e);

/* Import one holiday-cn JSON file ({year, papers, days: [{name, date,
 * isOffDay}]}) as a new notice version with origin "import". *changed gets a
 * malloc'd, ascending list of the day numbers whose status (working day or
 * not) differs from before the import, *nchanged its length (NULL when 0);
 * the caller frees it. The flow engine recomputes the deadlines that depend on
 * them. A file whose days equal the newest stored version for its year adds
 * no version (*nchanged = 0). Audited as "calendar.import" with the changed
 * dates; the version row records them too. Limits: 1 MiB, 1000 days, dates
 * within the year before to the year after `year`. */
YZ_MUST_USE yz_status calendar_import_holiday_cn(store *s, const yz_actor *who,
                                                 const char *json_path, int64_t **changed,
                                                 int *nchanged, yz_err *e);

/* The same from the file's text (an upload). */
YZ_MUST_USE yz_status calendar_import_holiday_cn_text(store *s, const yz_actor *who,
                                                      const char *text, size_t len,
                                                      int64_t **changed, int *nchanged, yz_err *e);

/* The sequence number of the newest stored version (0 when none): a server
 * checks it now and then and rebuilds its calendar (calendar_load) when it
 * grew, so an import from the command line reaches running nodes. */
YZ_MUST_USE yz_status calendar_stored_seq(store *s, int64_t *seq, yz_err *e);

/* Every stored notice version, oldest first: [{seq, year, number, issued,
 * source, origin, imported_at (ISO), imported_by, days, changed: [dates]}]. */
YZ_MUST_USE yz_status calendar_notices_json(store_conn *c, json_t **out, yz_err *e);

/* ---- command line ---- */

/* `yizhan calendar ...`: argv[0] is "calendar", argv[1] the subcommand:
 *   is-workday DATE                   exit 0 working day, 1 not
 *   add-workdays DATE N               prints the Nth working day after DATE
 *   workdays-between FROM TO          working days in (FROM, TO]
 *   add-work-minutes TIME MIN [--hours SPEC]      TIME: ISO-8601 or DATE
 *   work-minutes-between FROM TO [--hours SPEC]
 *   deadline TIME N [--days]          end of the Nth working (natural) day
 *   import FILE                       a holiday-cn JSON notice (needs s)
 *   notices                           the stored notice versions (needs s)
 * The calendar comes from the database when s is given and holds notices,
 * otherwise from data_file. Exit 0 done, 1 a "no" answer or a refused
 * import, 2 bad usage or an error. */
int calendar_cli(store *s, const char *data_file, int argc, char **argv);

/* The same with its streams and a hook run after an import changed days
 * (the program passes the flow engine's deadline recomputation). */
typedef yz_status (*calendar_changed_fn)(void *arg, store *s, const int64_t *days, int ndays,
                                         FILE *out, yz_err *e);
typedef struct calendar_cli_opts {
	FILE *out, *err; /* NULL: stdout, stderr */
	calendar_changed_fn on_change;
	void *arg;
} calendar_cli_opts;
int calendar_cli_run(store *s, const char *data_file, int argc, char **argv,
                     const calendar_cli_opts *o);

#endif
