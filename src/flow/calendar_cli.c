/*
 * calendar_cli.c — `yizhan calendar ...`: answer working-day questions from
 * the shell and import new holiday notices (see calendar.h for the commands
 * and exit codes). Output goes to the streams in calendar_cli_opts so that
 * tests can read it.
 */
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/jx.h"
#include "core/slice.h"
#include "flow/calendar.h"

static const char usage_text[] =
    "usage: yizhan calendar <command> [arguments]\n"
    "  is-workday DATE                      exit 0 for a working day, 1 otherwise\n"
    "  add-workdays DATE N                  the Nth working day after DATE (N < 0: before)\n"
    "  workdays-between FROM TO             working days in (FROM, TO]\n"
    "  add-work-minutes TIME MINUTES [--hours SPEC]\n"
    "  work-minutes-between FROM TO [--hours SPEC]\n"
    "  deadline TIME N [--days]             end of the Nth working day (--days: natural days)\n"
    "  import FILE                          import a holiday-cn JSON notice as a new version\n"
    "  notices                              list the stored notice versions\n"
    "DATE is YYYY-MM-DD; TIME is ISO-8601 or YYYY-MM-DD[ HH:MM[:SS]] in Asia/Shanghai;\n"
    "SPEC is office hours such as 9:00-12:00,13:30-17:30 (the default).\n";

typedef struct cli {
	store *s;
	const char *data_file;
	FILE *out, *err;
	const calendar_cli_opts *o;
	const char *pos[4];
	int npos;
	const char *hours;
	bool days;
} cli;

static int fail_err(cli *c, const yz_err *e, const char *what)
{
	fprintf(c->err, "yizhan calendar: %s: %s\n", what, e->msg[0] ? e->msg : "failed");
	int n = e->nfield < YZ_ERR_MAX_FIELDS ? e->nfield : YZ_ERR_MAX_FIELDS;
	for (int i = 0; i < n; i++)
		fprintf(c->err, "  %s: %s%s%s%s%s%s\n", e->fields[i].field, e->fields[i].rule,
		        e->fields[i].expected[0] ? " (expected " : "", e->fields[i].expected,
		        e->fields[i].got[0] ? ", got " : "", e->fields[i].got,
		        e->fields[i].expected[0] ? ")" : "");
	if (e->nfield > n)
		fprintf(c->err, "  and %d more\n", e->nfield - n);
	return 2;
}

static int bad_arg(cli *c, const char *fmt, const char *arg)
{
	fputs("yizhan calendar: ", c->err);
	fprintf(c->err, fmt, arg);
	fputc('\n', c->err);
	return 2;
}

static bool parse_int(const char *s, int lim, int *out)
{
	int64_t v;
	if (slice_to_i64(slice_of(s), &v) != YZ_OK || v < -lim || v > lim)
		return false;
	*out = (int)v;
	return true;
}

/* ISO-8601 with an offset, or a city time "YYYY-MM-DD[( |T)HH:MM[:SS]]". */
static bool parse_time(const char *s, int64_t *ms)
{
	if (clock_parse_iso(s, ms) == YZ_OK)
		return true;
	size_t n = strlen(s);
	int64_t day;
	if (n < 10 || !(n == 10 || s[10] == ' ' || s[10] == 'T'))
		return false;
	char d[11];
	memcpy(d, s, 10);
	d[10] = '\0';
	if (calendar_parse_date(d, &day) != YZ_OK)
		return false;
	int hh = 0, mm = 0, ss = 0;
	if (n > 10) {
		const char *t = s + 11;
		size_t tn = n - 11;
		if (!(tn == 5 || tn == 8) || t[2] != ':' || (tn == 8 && t[5] != ':'))
			return false;
		for (size_t i = 0; i < tn; i++)
			if (i != 2 && i != 5 && (t[i] < '0' || t[i] > '9'))
				return false;
		hh = (t[0] - '0') * 10 + (t[1] - '0');
		mm = (t[3] - '0') * 10 + (t[4] - '0');
		if (tn == 8)
			ss = (t[6] - '0') * 10 + (t[7] - '0');
		if (hh > 23 || mm > 59 || ss > 59)
			return false;
	}
	*ms = day * 86400000LL + hh * 3600000LL + mm * 60000LL + ss * 1000LL - CLOCK_CITY_OFFSET_MS;
	return true;
}

static const char *weekday_name(int64_t day)
{
	static const char *n[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
	return n[clock_weekday(day)];
}

/* The calendar in force: the database's when it holds notices, else the
 * project file. */
static yz_status get_calendar(cli *c, calendar **cal, yz_err *e)
{
	if (c->s) {
		store_conn *conn;
		int64_t n = 0;
		yz_status st = store_reader(c->s, &conn, e);
		if (st == YZ_OK)
			st = store_query_int(conn, "SELECT COUNT(*) FROM calendar_notice", NULL, 0,
			                     &n, e);
		if (st != YZ_OK)
			return st;
		if (n > 0 || !c->data_file)
			return calendar_load(c->s, cal, e);
	}
	if (!c->data_file)
		return yz_fail(e, YZ_ENOTFOUND, "no calendar data (neither database nor file)");
	return calendar_from_file(c->data_file, cal, e);
}

static void note_provisional(cli *c, const calendar *cal, int64_t day)
{
	int y0, y1, y, m, d;
	calendar_years(cal, &y0, &y1);
	clock_civil_from_days(day, &y, &m, &d);
	if (y > y1)
		fprintf(c->err, "note: no notice for %d is known yet; days then follow the week\n",
		        y);
}

static int cmd_is_workday(cli *c, const calendar *cal)
{
	int64_t day;
	if (c->npos != 1 || calendar_parse_date(c->pos[0], &day) != YZ_OK)
		return bad_arg(c, "is-workday needs one date YYYY-MM-DD (got %s)",
		               c->npos ? c->pos[0] : "nothing");
	bool w = calendar_is_workday(cal, day);
	const char *name = calendar_day_name(cal, day);
	bool weekend = clock_weekday(day) >= 5;
	char ymd[16];
	calendar_format_date(day, ymd, sizeof ymd);
	if (w && name && weekend)
		fprintf(c->out, "%s %s: working day (make-up working day, %s)\n", ymd,
		        weekday_name(day), name);
	else if (w)
		fprintf(c->out, "%s %s: working day\n", ymd, weekday_name(day));
	else
		fprintf(c->out, "%s %s: not a working day (%s)\n", ymd, weekday_name(day),
		        name ? name : "weekend");
	note_provisional(c, cal, day);
	return w ? 0 : 1;
}

static int cmd_add_workdays(cli *c, const calendar *cal)
{
	int64_t day;
	int n;
	if (c->npos != 2 || calendar_parse_date(c->pos[0], &day) != YZ_OK)
		return bad_arg(c, "add-workdays needs DATE N (DATE as YYYY-MM-DD, got %s)",
		               c->npos ? c->pos[0] : "nothing");
	if (!parse_int(c->pos[1], 100000, &n))
		return bad_arg(c, "N must be an integer between -100000 and 100000 (got %s)",
		               c->pos[1]);
	int64_t r = calendar_add_workdays(cal, day, n);
	char ymd[16];
	calendar_format_date(r, ymd, sizeof ymd);
	fprintf(c->out, "%s\n", ymd);
	note_provisional(c, cal, r);
	return 0;
}

static int cmd_between(cli *c, const calendar *cal)
{
	int64_t a, b;
	if (c->npos != 2 || calendar_parse_date(c->pos[0], &a) != YZ_OK ||
	    calendar_parse_date(c->pos[1], &b) != YZ_OK)
		return bad_arg(c, "%s needs two dates YYYY-MM-DD", "workdays-between");
	fprintf(c->out, "%d\n", calendar_workdays_between(cal, a, b));
	return 0;
}

static int get_hours(cli *c, calendar_hours *h)
{
	*h = calendar_default_hours();
	if (!c->hours)
		return 0;
	yz_err e = {0};
	if (calendar_parse_hours(c->hours, h, &e) != YZ_OK)
		return fail_err(c, &e, "bad --hours");
	return 0;
}

static int cmd_add_minutes(cli *c, const calendar *cal)
{
	int64_t t;
	int m;
	calendar_hours h;
	if (c->npos != 2 || !parse_time(c->pos[0], &t))
		return bad_arg(c, "add-work-minutes needs TIME MINUTES (TIME: %s)",
		               c->npos ? c->pos[0] : "missing");
	if (!parse_int(c->pos[1], 10000000, &m))
		return bad_arg(c, "MINUTES must be an integer (got %s)", c->pos[1]);
	int rc = get_hours(c, &h);
	if (rc)
		return rc;
	char iso[40];
	clock_format_city(calendar_add_work_minutes(cal, &h, t, m), iso, sizeof iso);
	fprintf(c->out, "%s\n", iso);
	return 0;
}

static int cmd_minutes_between(cli *c, const calendar *cal)
{
	int64_t a, b;
	calendar_hours h;
	if (c->npos != 2 || !parse_time(c->pos[0], &a) || !parse_time(c->pos[1], &b))
		return bad_arg(c, "%s needs two times", "work-minutes-between");
	int rc = get_hours(c, &h);
	if (rc)
		return rc;
	fprintf(c->out, "%lld\n", (long long)calendar_work_minutes_between(cal, &h, a, b));
	return 0;
}

static int cmd_deadline(cli *c, const calendar *cal)
{
	int64_t t;
	int n;
	if (c->npos != 2 || !parse_time(c->pos[0], &t) || !parse_int(c->pos[1], 100000, &n))
		return bad_arg(c, "%s needs TIME N", "deadline");
	int64_t d =
	    c->days ? calendar_deadline_days(cal, t, n) : calendar_deadline_workdays(cal, t, n);
	char iso[40];
	clock_format_city(d, iso, sizeof iso);
	fprintf(c->out, "%s\n", iso);
	note_provisional(c, cal, calendar_day_of(d));
	return 0;
}

static int cmd_import(cli *c)
{
	if (c->npos != 1)
		return bad_arg(c, "import needs one holiday-cn JSON file%s", "");
	if (!c->s)
		return bad_arg(c, "import needs an installation (--data DIR)%s", "");
	yz_err e = {0};
	/* the project's notices first, so that changes are measured against them */
	if (c->data_file && calendar_seed(c->s, c->data_file, &e) != YZ_OK)
		return fail_err(c, &e, "cannot load the project's notices");
	yz_actor who = actor_system("calendar.import");
	int64_t *changed = NULL;
	int n = 0;
	if (calendar_import_holiday_cn(c->s, &who, c->pos[0], &changed, &n, &e) != YZ_OK)
		return e.code == YZ_EINVAL ? (fail_err(c, &e, c->pos[0]), 1)
		                           : fail_err(c, &e, c->pos[0]);
	store_conn *conn;
	json_t *list = NULL;
	int rc = 0;
	if (store_reader(c->s, &conn, &e) != YZ_OK ||
	    calendar_notices_json(conn, &list, &e) != YZ_OK)
		rc = fail_err(c, &e, "cannot list the notices");
	if (rc == 0) {
		json_t *last = json_array_get(list, json_array_size(list) - 1);
		fprintf(c->out, "imported %s: notice version %lld for %lld, %lld days; %d changed",
		        c->pos[0], (long long)json_integer_value(json_object_get(last, "seq")),
		        (long long)json_integer_value(json_object_get(last, "year")),
		        (long long)json_integer_value(json_object_get(last, "days")), n);
		for (int i = 0; i < n; i++) {
			char ymd[16];
			calendar_format_date(changed[i], ymd, sizeof ymd);
			fprintf(c->out, "%s%s", i ? ", " : ": ", ymd);
		}
		fputc('\n', c->out);
		if (n == 0)
			fprintf(c->out,
			        "(a file equal to the newest version for its year adds none)\n");
	}
	if (rc == 0 && n > 0 && c->o && c->o->on_change &&
	    c->o->on_change(c->o->arg, c->s, changed, n, c->out, &e) != YZ_OK)
		rc = fail_err(c, &e, "the notice is stored, but recomputing deadlines failed");
	json_decref(list);
	free(changed);
	return rc;
}

static int cmd_notices(cli *c)
{
	if (!c->s)
		return bad_arg(c, "notices needs an installation (--data DIR)%s", "");
	yz_err e = {0};
	store_conn *conn;
	json_t *list;
	if (store_reader(c->s, &conn, &e) != YZ_OK ||
	    calendar_notices_json(conn, &list, &e) != YZ_OK)
		return fail_err(c, &e, "cannot list the notices");
	size_t i;
	json_t *v;
	fprintf(c->out, "%-4s %-5s %-6s %-10s %-24s %-5s %s\n", "seq", "year", "origin", "issued",
	        "number", "days", "changed");
	json_array_foreach (list, i, v) {
		fprintf(c->out, "%-4lld %-5lld %-6s %-10s %-24s %-5lld %zu\n",
		        (long long)json_integer_value(json_object_get(v, "seq")),
		        (long long)json_integer_value(json_object_get(v, "year")),
		        jx_str(v, "origin", ""), jx_str(v, "issued", ""), jx_str(v, "number", ""),
		        (long long)json_integer_value(json_object_get(v, "days")),
		        json_array_size(json_object_get(v, "changed")));
	}
	json_decref(list);
	return 0;
}

int calendar_cli_run(store *s, const char *data_file, int argc, char **argv,
                     const calendar_cli_opts *o)
{
	cli c = {.s = s, .data_file = data_file, .o = o};
	c.out = o && o->out ? o->out : stdout;
	c.err = o && o->err ? o->err : stderr;
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		fputs(usage_text, argc < 2 ? c.err : c.out);
		return argc < 2 ? 2 : 0;
	}
	const char *sub = argv[1];
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--hours") && i + 1 < argc)
			c.hours = argv[++i];
		else if (!strcmp(argv[i], "--days"))
			c.days = true;
		else if (!strcmp(argv[i], "--help")) {
			fputs(usage_text, c.out);
			return 0;
		} else if (c.npos < 4 &&
		           (argv[i][0] != '-' || (argv[i][1] >= '0' && argv[i][1] <= '9')))
			c.pos[c.npos++] = argv[i];
		else
			return bad_arg(&c, "unexpected argument %s (try --help)", argv[i]);
	}
	if (!strcmp(sub, "import"))
		return cmd_import(&c);
	if (!strcmp(sub, "notices"))
		return cmd_notices(&c);
	static const struct {
		const char *name;
		int (*run)(cli *, const calendar *);
	} cmds[] = {
	    {"is-workday", cmd_is_workday},
	    {"add-workdays", cmd_add_workdays},
	    {"workdays-between", cmd_between},
	    {"add-work-minutes", cmd_add_minutes},
	    {"work-minutes-between", cmd_minutes_between},
	    {"deadline", cmd_deadline},
	};
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		if (strcmp(sub, cmds[i].name) != 0)
			continue;
		calendar *cal = NULL;
		yz_err e = {0};
		if (get_calendar(&c, &cal, &e) != YZ_OK)
			return fail_err(&c, &e, "cannot read the calendar");
		int rc = cmds[i].run(&c, cal);
		calendar_free(cal);
		return rc;
	}
	return bad_arg(&c, "unknown command %s (try --help)", sub);
}

int calendar_cli(store *s, const char *data_file, int argc, char **argv)
{
	return calendar_cli_run(s, data_file, argc, argv, NULL);
}
