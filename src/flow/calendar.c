/*
 * calendar.c — the working-day calendar: the notice file, the tables, the
 * O(1) day arithmetic, working hours and the database side (see calendar.h).
 *
 * Counting. W(d) is the number of working days up to and including day d,
 * counted from an arbitrary origin. Before the table it is the Monday–Friday
 * count C(d) (closed form); inside it, C(first - 1) plus a prefix sum; after
 * it, the prefix total plus the Monday–Friday count since the table's end.
 * W is non-decreasing and steps by one exactly on working days, so the k-th
 * working day (the inverse) is again a closed form outside the table and a
 * direct index into the list of the table's working days inside it. Every
 * day question is then one or two evaluations of W or its inverse.
 */
#include "flow/calendar.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/jx.h"
#include "core/slice.h"
#include "crypto/crypto.h"

#define DAY_MS        86400000LL
#define ANCHOR_MONDAY 4             /* 1970-01-05, a Monday */
#define MAX_SPAN_DAYS (300 * 366)   /* a table over at most ~300 years */
#define MAX_NAMES     60000         /* distinct holiday names (uint16 index) */
#define IMPORT_MAX    (1024 * 1024) /* bytes of one holiday-cn file */
#define IMPORT_DAYS   1000          /* days in one notice */
#define NAME_MAX_CH   64            /* characters of a holiday name */
#define PAPERS_MAX    16            /* addresses of one notice */
#define MIN_YEAR      1949
#define MAX_YEAR      2200

struct calendar {
	int64_t first;  /* day number of the table's first day */
	int32_t n;      /* days in the table */
	int32_t nwd;    /* working days in the table */
	int64_t wb;     /* W(first - 1) */
	int64_t clast;  /* C(first + n - 1) */
	int32_t *cum;   /* n + 1 entries: working days in [first, first + i) */
	int32_t *wd;    /* nwd entries: table index of each working day */
	uint8_t *work;  /* n: 1 for a working day */
	uint16_t *name; /* n: 0 for an unlisted day, else 1 + index into names */
	char **names;
	int nnames;
	int year_first, year_last;
};

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Monday–Friday days in [ANCHOR_MONDAY, d], extended below the anchor so
 * that C(d) - C(d - 1) is 1 exactly when d is a weekday. */
static int64_t wk_count(int64_t d)
{
	int64_t x = d - ANCHOR_MONDAY;
	int64_t q = floor_div(x, 7);
	int64_t r = x - 7 * q;
	return 5 * q + (r < 5 ? r + 1 : 5);
}

/* The weekday d with wk_count(d) == k (the smallest day with that count). */
static int64_t wk_inv(int64_t k)
{
	int64_t q = floor_div(k - 1, 5);
	int64_t s = k - 5 * q; /* 1..5 */
	return ANCHOR_MONDAY + 7 * q + (s - 1);
}

static int64_t cal_w(const calendar *c, int64_t d)
{
	if (d < c->first)
		return wk_count(d);
	int64_t i = d - c->first;
	if (i < c->n)
		return c->wb + c->cum[i + 1];
	return c->wb + c->nwd + wk_count(d) - c->clast;
}

/* The k-th working day: the day d with W(d) == k that is a working day. */
static int64_t cal_winv(const calendar *c, int64_t k)
{
	if (k <= c->wb)
		return wk_inv(k);
	if (k <= c->wb + c->nwd)
		return c->first + c->wd[k - c->wb - 1];
	return wk_inv(k - c->wb - c->nwd + c->clast);
}

bool calendar_is_workday(const calendar *c, int64_t day)
{
	int64_t i = day - c->first;
	if (i >= 0 && i < c->n)
		return c->work[i] != 0;
	return clock_weekday(day) < 5;
}

const char *calendar_day_name(const calendar *c, int64_t day)
{
	int64_t i = day - c->first;
	if (i < 0 || i >= c->n || c->name[i] == 0)
		return NULL;
	return c->names[c->name[i] - 1];
}

int64_t calendar_add_workdays(const calendar *c, int64_t day, int n)
{
	if (n == 0)
		return day;
	if (n > 0)
		return cal_winv(c, cal_w(c, day) + n);
	return cal_winv(c, cal_w(c, day - 1) + n + 1);
}

int calendar_workdays_between(const calendar *c, int64_t from_day, int64_t to_day)
{
	return (int)(cal_w(c, to_day) - cal_w(c, from_day));
}

void calendar_years(const calendar *c, int *first, int *last)
{
	*first = c->year_first;
	*last = c->year_last;
}

void calendar_free(calendar *c)
{
	if (!c)
		return;
	free(c->cum);
	free(c->wd);
	free(c->work);
	free(c->name);
	for (int i = 0; i < c->nnames; i++)
		free(c->names[i]);
	free(c->names);
	free(c);
}

/* ---- dates ---- */

int64_t calendar_day_of(int64_t ms)
{
	return floor_div(ms + CLOCK_CITY_OFFSET_MS, DAY_MS);
}

static int days_in_month(int y, int m)
{
	static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return dm[m - 1];
}

static bool digits(const char *s, int n)
{
	for (int i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* "YYYY-MM-DD" in the first 10 bytes of p (n bytes available). */
static bool parse_ymd(const char *p, size_t n, int64_t *day)
{
	if (n != 10 || !digits(p, 4) || p[4] != '-' || !digits(p + 5, 2) || p[7] != '-' ||
	    !digits(p + 8, 2))
		return false;
	int y = (p[0] - '0') * 1000 + (p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0');
	int m = (p[5] - '0') * 10 + (p[6] - '0');
	int d = (p[8] - '0') * 10 + (p[9] - '0');
	if (m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
		return false;
	*day = clock_days_from_civil(y, m, d);
	return true;
}

yz_status calendar_parse_date(const char *s, int64_t *day)
{
	if (!s || !parse_ymd(s, strlen(s), day))
		return YZ_EINVAL;
	return YZ_OK;
}

void calendar_format_date(int64_t day, char *out, size_t cap)
{
	int y, m, d;
	clock_civil_from_days(day, &y, &m, &d);
	snprintf(out, cap, "%04d-%02d-%02d", y, m, d);
}

static int year_of(int64_t day)
{
	int y, m, d;
	clock_civil_from_days(day, &y, &m, &d);
	return y;
}

/* ---- building a calendar from listed days ---- */

typedef struct cal_entry {
	int64_t day;
	bool off;
	const char *name;
} cal_entry;

static int name_index(calendar *c, const char *name, yz_err *e)
{
	for (int i = 0; i < c->nnames; i++)
		if (!strcmp(c->names[i], name))
			return i;
	if (c->nnames >= MAX_NAMES) {
		yz_fail(e, YZ_ETOOBIG, "more than %d distinct holiday names", MAX_NAMES);
		return -1;
	}
	char **nn = realloc(c->names, sizeof *nn * (size_t)(c->nnames + 1));
	if (!nn) {
		yz_fail(e, YZ_ENOMEM, "out of memory");
		return -1;
	}
	c->names = nn;
	if (!(c->names[c->nnames] = strdup(name))) {
		yz_fail(e, YZ_ENOMEM, "out of memory");
		return -1;
	}
	return c->nnames++;
}

/* Entries apply in order: a later entry for a day replaces an earlier one. */
static yz_status cal_build(const cal_entry *ents, int ne, int year_first, int year_last,
                           calendar **out, yz_err *e)
{
	*out = NULL;
	calendar *c = calloc(1, sizeof *c);
	if (!c)
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	c->year_first = year_first;
	c->year_last = year_last;
	if (ne > 0) {
		int64_t lo = ents[0].day, hi = ents[0].day;
		for (int i = 1; i < ne; i++) {
			if (ents[i].day < lo)
				lo = ents[i].day;
			if (ents[i].day > hi)
				hi = ents[i].day;
		}
		if (hi - lo + 1 > MAX_SPAN_DAYS) {
			calendar_free(c);
			return yz_fail(e, YZ_ETOOBIG, "listed days span more than %d days",
			               MAX_SPAN_DAYS);
		}
		c->first = lo;
		c->n = (int32_t)(hi - lo + 1);
	}
	size_t n = (size_t)c->n;
	c->cum = calloc(n + 1, sizeof *c->cum);
	c->wd = calloc(n + 1, sizeof *c->wd);
	c->work = calloc(n + 1, 1);
	c->name = calloc(n + 1, sizeof *c->name);
	if (!c->cum || !c->wd || !c->work || !c->name) {
		calendar_free(c);
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++)
		c->work[i] = clock_weekday(c->first + (int64_t)i) < 5;
	for (int i = 0; i < ne; i++) {
		size_t k = (size_t)(ents[i].day - c->first);
		c->work[k] = !ents[i].off;
		int ni = name_index(c, ents[i].name ? ents[i].name : "", e);
		if (ni < 0) {
			calendar_free(c);
			return e ? e->code : YZ_ENOMEM;
		}
		c->name[k] = (uint16_t)(ni + 1);
	}
	int32_t nwd = 0;
	for (size_t i = 0; i < n; i++) {
		c->cum[i] = nwd;
		if (c->work[i])
			c->wd[nwd++] = (int32_t)i;
	}
	c->cum[n] = nwd;
	c->nwd = nwd;
	c->wb = wk_count(c->first - 1);
	c->clast = wk_count(c->first + c->n - 1);
	*out = c;
	return YZ_OK;
}

/* ---- the notice file ---- */

typedef struct cal_notice {
	int year;
	const char *number, *issued, *url;
	int first, count; /* entries[first .. first + count) */
} cal_notice;

typedef struct cal_set {
	arena *a;
	cal_notice *nv;
	int nn, capn;
	cal_entry *ev;
	int ne, cape;
} cal_set;

static void set_free(cal_set *s)
{
	arena_free(s->a);
	free(s->nv);
	free(s->ev);
	memset(s, 0, sizeof *s);
}

static yz_status set_add_notice(cal_set *s, yz_err *e)
{
	if (s->nn == s->capn) {
		int cap = s->capn ? s->capn * 2 : 32;
		cal_notice *nv = realloc(s->nv, sizeof *nv * (size_t)cap);
		if (!nv)
			return yz_fail(e, YZ_ENOMEM, "out of memory");
		s->nv = nv;
		s->capn = cap;
	}
	memset(&s->nv[s->nn], 0, sizeof s->nv[0]);
	s->nv[s->nn].first = s->ne;
	s->nn++;
	return YZ_OK;
}

static yz_status set_add_entry(cal_set *s, int64_t day, bool off, const char *name, yz_err *e)
{
	if (s->ne == s->cape) {
		int cap = s->cape ? s->cape * 2 : 256;
		cal_entry *ev = realloc(s->ev, sizeof *ev * (size_t)cap);
		if (!ev)
			return yz_fail(e, YZ_ENOMEM, "out of memory");
		s->ev = ev;
		s->cape = cap;
	}
	s->ev[s->ne++] = (cal_entry){day, off, name};
	if (s->nn > 0)
		s->nv[s->nn - 1].count++;
	return YZ_OK;
}

/* Next space-separated token of *rest (tabs count as spaces). */
static slice next_token(slice *rest)
{
	size_t i = 0;
	while (i < rest->n && (rest->p[i] == ' ' || rest->p[i] == '\t'))
		i++;
	size_t j = i;
	while (j < rest->n && rest->p[j] != ' ' && rest->p[j] != '\t')
		j++;
	slice t = slice_make(rest->p + i, j - i);
	*rest = slice_make(rest->p + j, rest->n - j);
	return t;
}

static yz_status parse_notice_line(cal_set *s, slice rest, const char *path, int line, yz_err *e)
{
	slice ty = next_token(&rest), tn = next_token(&rest), ti = next_token(&rest),
	      tu = next_token(&rest);
	slice extra = next_token(&rest);
	int64_t year, day;
	if (!ty.n || !tn.n || !ti.n || !tu.n || extra.n)
		return yz_fail(e, YZ_EINVAL,
		               "%s:%d: expected `notice <year> <number> <issued> <url>`", path,
		               line);
	if (slice_to_i64(ty, &year) != YZ_OK || year < MIN_YEAR || year > MAX_YEAR)
		return yz_fail(e, YZ_EINVAL, "%s:%d: year %.*s is not between %d and %d", path,
		               line, (int)ty.n, ty.p, MIN_YEAR, MAX_YEAR);
	if (!slice_eq_str(ti, "unknown") && !parse_ymd(ti.p, ti.n, &day))
		return yz_fail(e, YZ_EINVAL, "%s:%d: issued date %.*s is not YYYY-MM-DD or unknown",
		               path, line, (int)ti.n, ti.p);
	if (tn.n > 128 || tu.n > 512 || !utf8_valid(tn.p, tn.n) || !utf8_valid(tu.p, tu.n))
		return yz_fail(e, YZ_EINVAL, "%s:%d: number or address too long or not UTF-8", path,
		               line);
	if (s->nn > 0 && s->nv[s->nn - 1].count == 0)
		return yz_fail(e, YZ_EINVAL, "%s:%d: the notice before lists no day", path,
		               line - 1);
	yz_status st = set_add_notice(s, e);
	if (st != YZ_OK)
		return st;
	cal_notice *n = &s->nv[s->nn - 1];
	n->year = (int)year;
	n->number = slice_dup(s->a, tn);
	n->issued = slice_dup(s->a, ti);
	n->url = slice_dup(s->a, tu);
	if (!n->number || !n->issued || !n->url)
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	return YZ_OK;
}

static yz_status parse_day_line(cal_set *s, slice rest, const char *path, int line, yz_err *e)
{
	slice td = next_token(&rest), tk = next_token(&rest);
	slice name = slice_trim(rest);
	int64_t day;
	if (s->nn == 0)
		return yz_fail(e, YZ_EINVAL, "%s:%d: a day before the first `notice` line", path,
		               line);
	if (!parse_ymd(td.p, td.n, &day))
		return yz_fail(e, YZ_EINVAL, "%s:%d: %.*s is not a date YYYY-MM-DD", path, line,
		               (int)td.n, td.p);
	bool off;
	if (slice_eq_str(tk, "off"))
		off = true;
	else if (slice_eq_str(tk, "work"))
		off = false;
	else
		return yz_fail(e, YZ_EINVAL, "%s:%d: expected `off` or `work` after the date", path,
		               line);
	if (!name.n || !utf8_valid(name.p, name.n) || utf8_len(name.p, name.n) > NAME_MAX_CH)
		return yz_fail(e, YZ_EINVAL,
		               "%s:%d: the holiday name is missing, too long or not UTF-8", path,
		               line);
	cal_notice *n = &s->nv[s->nn - 1];
	int y = year_of(day);
	if (y < n->year - 1 || y > n->year + 1)
		return yz_fail(e, YZ_EINVAL, "%s:%d: %.*s is far from the notice's year %d", path,
		               line, (int)td.n, td.p, n->year);
	for (int i = n->first; i < n->first + n->count; i++)
		if (s->ev[i].day == day)
			return yz_fail(e, YZ_EINVAL, "%s:%d: %.*s is listed twice in this notice",
			               path, line, (int)td.n, td.p);
	char *nm = slice_dup(s->a, name);
	if (!nm)
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	return set_add_entry(s, day, off, nm, e);
}

static yz_status parse_file(const char *path, cal_set *s, yz_err *e)
{
	memset(s, 0, sizeof *s);
	if (!(s->a = arena_new(0)))
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	FILE *f = fopen(path, "r");
	if (!f) {
		yz_status st = yz_fail(e, YZ_EIO, "cannot open %s: %s", path, strerror(errno));
		set_free(s);
		return st;
	}
	char text[2048];
	int line = 0;
	yz_status st = YZ_OK;
	while (st == YZ_OK && fgets(text, sizeof text, f)) {
		line++;
		size_t n = strlen(text);
		if (n == sizeof text - 1 && text[n - 1] != '\n' && !feof(f)) {
			st = yz_fail(e, YZ_EINVAL, "%s:%d: line too long", path, line);
			break;
		}
		while (n && (text[n - 1] == '\n' || text[n - 1] == '\r'))
			text[--n] = '\0';
		slice l = slice_make(text, n);
		slice t = slice_trim(l);
		if (t.n == 0 || t.p[0] == '#')
			continue;
		slice rest = l;
		slice first = next_token(&rest);
		if (slice_eq_str(first, "notice"))
			st = parse_notice_line(s, rest, path, line, e);
		else
			st = parse_day_line(s, l, path, line, e);
	}
	if (st == YZ_OK && ferror(f))
		st = yz_fail(e, YZ_EIO, "cannot read %s", path);
	fclose(f);
	if (st == YZ_OK && s->nn > 0 && s->nv[s->nn - 1].count == 0)
		st = yz_fail(e, YZ_EINVAL, "%s:%d: the last notice lists no day", path, line);
	if (st == YZ_OK && s->nn == 0)
		st = yz_fail(e, YZ_EINVAL, "%s: no notice in the file", path);
	if (st != YZ_OK)
		set_free(s);
	return st;
}

static void set_years(const cal_set *s, int *y0, int *y1)
{
	*y0 = *y1 = 0;
	for (int i = 0; i < s->nn; i++) {
		if (!*y0 || s->nv[i].year < *y0)
			*y0 = s->nv[i].year;
		if (s->nv[i].year > *y1)
			*y1 = s->nv[i].year;
	}
}

yz_status calendar_from_file(const char *path, calendar **out, yz_err *e)
{
	*out = NULL;
	cal_set s;
	yz_status st = parse_file(path, &s, e);
	if (st != YZ_OK)
		return st;
	int y0, y1;
	set_years(&s, &y0, &y1);
	st = cal_build(s.ev, s.ne, y0, y1, out, e);
	set_free(&s);
	return st;
}

/* ---- working hours ---- */

calendar_hours calendar_default_hours(void)
{
	calendar_hours h = {0};
	h.n = 2;
	h.r[0].from_min = 9 * 60;
	h.r[0].to_min = 12 * 60;
	h.r[1].from_min = 13 * 60 + 30;
	h.r[1].to_min = 17 * 60 + 30;
	return h;
}

static bool hours_ok(const calendar_hours *h)
{
	if (h->n < 1 || h->n > CALENDAR_HOURS_MAX)
		return false;
	int prev = 0;
	for (int i = 0; i < h->n; i++) {
		if (h->r[i].from_min < prev || h->r[i].to_min <= h->r[i].from_min ||
		    h->r[i].to_min > 24 * 60)
			return false;
		prev = h->r[i].to_min;
	}
	return true;
}

int calendar_hours_minutes(const calendar_hours *h)
{
	int m = 0;
	for (int i = 0; i < h->n && i < CALENDAR_HOURS_MAX; i++)
		m += h->r[i].to_min - h->r[i].from_min;
	return m;
}

/* "H:MM" or "HH:MM" at the start of *p; advances it. */
static bool parse_hm(const char **p, int *min)
{
	const char *s = *p;
	int h = 0, nd = 0;
	while (*s >= '0' && *s <= '9' && nd < 2) {
		h = h * 10 + (*s++ - '0');
		nd++;
	}
	if (!nd || *s != ':' || !(s[1] >= '0' && s[1] <= '5') || !(s[2] >= '0' && s[2] <= '9'))
		return false;
	int m = (s[1] - '0') * 10 + (s[2] - '0');
	if (h > 24 || (h == 24 && m != 0))
		return false;
	*min = h * 60 + m;
	*p = s + 3;
	return true;
}

static void skip_spaces(const char **p)
{
	while (**p == ' ' || **p == '\t')
		(*p)++;
}

yz_status calendar_parse_hours(const char *spec, calendar_hours *out, yz_err *e)
{
	static const char *expect = "H:MM-H:MM, up to 4 ascending ranges separated by commas";
	calendar_hours h = {0};
	const char *p = spec ? spec : "";
	char got[128];
	yz_strlcpy(got, p, sizeof got);
	for (;;) {
		skip_spaces(&p);
		int a, b;
		if (h.n == CALENDAR_HOURS_MAX || !parse_hm(&p, &a))
			return yz_field(e, "hours", "format", expect, got);
		skip_spaces(&p);
		if (*p == '-')
			p++;
		else if (!strncmp(p, "\xe2\x80\x93", 3)) /* en dash */
			p += 3;
		else
			return yz_field(e, "hours", "format", expect, got);
		skip_spaces(&p);
		if (!parse_hm(&p, &b))
			return yz_field(e, "hours", "format", expect, got);
		h.r[h.n].from_min = a;
		h.r[h.n].to_min = b;
		h.n++;
		skip_spaces(&p);
		if (*p == '\0')
			break;
		if (*p != ',')
			return yz_field(e, "hours", "format", expect, got);
		p++;
	}
	if (h.r[0].from_min == 24 * 60 || !hours_ok(&h))
		return yz_field(e, "hours", "order",
		                "each range ends after it starts, ranges ascending without overlap",
		                got);
	*out = h;
	return YZ_OK;
}

void calendar_format_hours(const calendar_hours *h, char *out, size_t cap)
{
	size_t used = 0;
	if (cap)
		out[0] = '\0';
	for (int i = 0; i < h->n && i < CALENDAR_HOURS_MAX && used < cap; i++) {
		int w = snprintf(out + used, cap - used, "%s%d:%02d-%d:%02d", i ? "," : "",
		                 h->r[i].from_min / 60, h->r[i].from_min % 60, h->r[i].to_min / 60,
		                 h->r[i].to_min % 60);
		if (w < 0)
			break;
		used += (size_t)w;
	}
}

/* Working milliseconds of a working day before ms-of-day t. */
static int64_t inday_ms(const calendar_hours *h, int64_t t)
{
	int64_t v = 0;
	for (int i = 0; i < h->n; i++) {
		int64_t a = h->r[i].from_min * 60000LL, b = h->r[i].to_min * 60000LL;
		if (t > a)
			v += (t < b ? t : b) - a;
	}
	return v;
}

/* Working milliseconds up to instant t since the counting origin:
 * T(t) = W(day - 1) * (working ms per day) + the part of t's own day. */
static int64_t work_t(const calendar *c, const calendar_hours *h, int64_t per_day, int64_t t)
{
	int64_t local = t + CLOCK_CITY_OFFSET_MS;
	int64_t d = floor_div(local, DAY_MS);
	int64_t v = cal_w(c, d - 1) * per_day;
	if (calendar_is_workday(c, d))
		v += inday_ms(h, local - d * DAY_MS);
	return v;
}

/* The instant where T reaches x: the earliest such instant when `late` is
 * false (ends of periods), the latest when true (starts of periods). */
static int64_t work_t_inv(const calendar *c, const calendar_hours *h, int64_t per_day, int64_t x,
                          bool late)
{
	int64_t q = late ? floor_div(x, per_day) : floor_div(x - 1, per_day);
	int64_t rem = x - q * per_day; /* late: [0, per_day); early: (0, per_day] */
	int64_t day = cal_winv(c, q + 1);
	int64_t cum = 0;
	for (int i = 0; i < h->n; i++) {
		int64_t a = h->r[i].from_min * 60000LL, b = h->r[i].to_min * 60000LL;
		int64_t dur = b - a;
		if (late ? cum + dur > rem : cum + dur >= rem)
			return day * DAY_MS + a + (rem - cum) - CLOCK_CITY_OFFSET_MS;
		cum += dur;
	}
	/* not reached for valid hours */
	return day * DAY_MS + h->r[h->n - 1].to_min * 60000LL - CLOCK_CITY_OFFSET_MS;
}

int64_t calendar_add_work_minutes(const calendar *c, const calendar_hours *h, int64_t start_ms,
                                  int64_t minutes)
{
	calendar_hours def;
	if (!h) {
		def = calendar_default_hours();
		h = &def;
	}
	if (minutes == 0 || !hours_ok(h))
		return start_ms;
	int64_t per_day = calendar_hours_minutes(h) * 60000LL;
	int64_t x = work_t(c, h, per_day, start_ms) + minutes * 60000LL;
	return work_t_inv(c, h, per_day, x, minutes < 0);
}

int64_t calendar_work_minutes_between(const calendar *c, const calendar_hours *h, int64_t from_ms,
                                      int64_t to_ms)
{
	calendar_hours def;
	if (!h) {
		def = calendar_default_hours();
		h = &def;
	}
	if (!hours_ok(h))
		return 0;
	int64_t per_day = calendar_hours_minutes(h) * 60000LL;
	return (work_t(c, h, per_day, to_ms) - work_t(c, h, per_day, from_ms)) / 60000;
}

/* ---- deadlines ---- */

static int64_t end_of_day(int64_t day)
{
	return (day + 1) * DAY_MS - CLOCK_CITY_OFFSET_MS - 1;
}

int64_t calendar_deadline_workdays(const calendar *c, int64_t start_ms, int n)
{
	return end_of_day(calendar_add_workdays(c, calendar_day_of(start_ms), n));
}

int64_t calendar_deadline_days(const calendar *c, int64_t start_ms, int n)
{
	int64_t d = calendar_day_of(start_ms) + n;
	if (!calendar_is_workday(c, d))
		d = calendar_add_workdays(c, d, 1);
	return end_of_day(d);
}

/* ---- database ---- */

const store_migration calendar_migrations[] = {
    {1, "CREATE TABLE calendar_notice ("
        " id {{id}},"
        " seq BIGINT NOT NULL UNIQUE," /* application order: later wins */
        " year INTEGER NOT NULL,"      /* the year the notice arranges */
        " number TEXT NOT NULL,"       /* 发文字号 or 'unknown' */
        " issued TEXT NOT NULL,"       /* YYYY-MM-DD or 'unknown' */
        " source TEXT NOT NULL,"       /* addresses, one per line */
        " origin TEXT NOT NULL,"       /* 'seed' (project file) or 'import' */
        " digest TEXT NOT NULL,"       /* SM3 of year and days, hex */
        " changed TEXT NOT NULL,"      /* JSON array of the dates it flipped */
        " imported_at BIGINT NOT NULL,"
        " imported_by TEXT NOT NULL);"
        "CREATE INDEX calendar_notice_year ON calendar_notice (year, seq);"
        "CREATE TABLE calendar_day ("
        " notice_id BIGINT NOT NULL REFERENCES calendar_notice (id),"
        " day_num BIGINT NOT NULL," /* days since 1970-01-01 */
        " ymd TEXT NOT NULL,"       /* the same day, readable */
        " is_off INTEGER NOT NULL," /* 1 holiday / rest, 0 make-up working day */
        " name TEXT NOT NULL,"
        " PRIMARY KEY (notice_id, day_num));"
        "CREATE INDEX calendar_day_day ON calendar_day (day_num);"},
};
const int calendar_nmigrations = (int)(sizeof calendar_migrations / sizeof calendar_migrations[0]);

static int entry_cmp(const void *a, const void *b)
{
	const cal_entry *x = a, *y = b;
	return x->day < y->day ? -1 : x->day > y->day;
}

/* SM3 over the year and the listed days in date order: two versions with the
 * same digest say the same thing. */
static yz_status notice_digest(int year, const cal_entry *ents, int n, char hex[65], yz_err *e)
{
	cal_entry *sorted = malloc(sizeof *sorted * (size_t)(n ? n : 1));
	if (!sorted)
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	memcpy(sorted, ents, sizeof *sorted * (size_t)n);
	qsort(sorted, (size_t)n, sizeof *sorted, entry_cmp);
	crypto_sm3_ctx *h = crypto_sm3_new();
	if (!h) {
		free(sorted);
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	}
	char line[400];
	int w = snprintf(line, sizeof line, "yizhan-calendar-v1\n%d\n", year);
	crypto_sm3_update(h, line, (size_t)w);
	for (int i = 0; i < n; i++) {
		char ymd[16];
		calendar_format_date(sorted[i].day, ymd, sizeof ymd);
		w = snprintf(line, sizeof line, "%s %s %s\n", ymd, sorted[i].off ? "off" : "work",
		             sorted[i].name);
		crypto_sm3_update(h, line, (size_t)w < sizeof line ? (size_t)w : sizeof line - 1);
	}
	unsigned char md[CRYPTO_SM3_LEN];
	crypto_sm3_final(h, md);
	crypto_sm3_free(h);
	free(sorted);
	hex_encode(md, sizeof md, hex);
	return YZ_OK;
}

/* Whether `day` is off now, by the latest stored notice that lists it, else
 * by the week. */
static yz_status stored_off(store_conn *tx, int64_t day, bool *off, yz_err *e)
{
	store_val a[] = {sv_int(day)};
	int64_t v;
	yz_err le = {0};
	yz_status st = store_query_int(tx,
	                               "SELECT d.is_off FROM calendar_day d JOIN calendar_notice n"
	                               " ON n.id = d.notice_id WHERE d.day_num = ?"
	                               " ORDER BY n.seq DESC LIMIT 1",
	                               a, 1, &v, &le);
	if (st == YZ_ENOTFOUND) {
		*off = clock_weekday(day) >= 5;
		return YZ_OK;
	}
	if (st == YZ_OK)
		*off = v != 0;
	else if (e)
		*e = le;
	return st;
}

/* Versions are numbered in one sequence: on PostgreSQL, nodes that seed or
 * import at the same moment take turns (SQLite's BEGIN IMMEDIATE already
 * serialises writers). The lock ends with the transaction. */
static yz_status lock_versions(store_conn *tx, store_kind kind, yz_err *e)
{
	if (kind != STORE_PG)
		return YZ_OK;
	store_rows *r;
	store_val a[] = {sv_int(0x63616c656e646172LL)}; /* "calendar" */
	yz_status st = store_query(tx, "SELECT pg_advisory_xact_lock(?)", a, 1, &r, e);
	if (st != YZ_OK)
		return st;
	while (store_next(r))
		;
	return store_rows_close(r, e);
}

/* One notice version to store. */
typedef struct notice_in {
	int year;
	const char *number, *issued, *source, *origin;
	const cal_entry *ents;
	int n;
	char digest[65];
} notice_in;

typedef struct changes {
	int64_t *days;
	int n, cap;
} changes;

static yz_status changes_add(changes *c, int64_t day, yz_err *e)
{
	if (c->n == c->cap) {
		int cap = c->cap ? c->cap * 2 : 16;
		int64_t *d = realloc(c->days, sizeof *d * (size_t)cap);
		if (!d)
			return yz_fail(e, YZ_ENOMEM, "out of memory");
		c->days = d;
		c->cap = cap;
	}
	c->days[c->n++] = day;
	return YZ_OK;
}

static int i64_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static json_t *dates_json(const int64_t *days, int n)
{
	json_t *a = json_array();
	for (int i = 0; i < n; i++) {
		char ymd[16];
		calendar_format_date(days[i], ymd, sizeof ymd);
		json_array_append_new(a, json_string(ymd));
	}
	return a;
}

/* Insert one version inside a write job: compares each listed day with what
 * is in force, appends the flipped ones to ch, stores the version and its
 * days. *seq gets its sequence number. */
static yz_status store_notice(store_conn *tx, const yz_actor *who, const notice_in *in, int64_t now,
                              changes *ch, int64_t *seq, yz_err *e)
{
	int64_t maxseq = 0;
	yz_status st = store_query_int(tx, "SELECT COALESCE(MAX(seq), 0) FROM calendar_notice",
	                               NULL, 0, &maxseq, e);
	if (st != YZ_OK)
		return st;
	int first_change = ch->n;
	for (int i = 0; i < in->n && st == YZ_OK; i++) {
		bool off;
		st = stored_off(tx, in->ents[i].day, &off, e);
		if (st == YZ_OK && off != in->ents[i].off)
			st = changes_add(ch, in->ents[i].day, e);
	}
	if (st != YZ_OK)
		return st;
	qsort(ch->days + first_change, (size_t)(ch->n - first_change), sizeof *ch->days, i64_cmp);
	json_t *cj = dates_json(ch->days + first_change, ch->n - first_change);
	char *changed = json_dumps(cj, JSON_COMPACT);
	json_decref(cj);
	if (!changed)
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	*seq = maxseq + 1;
	int64_t id = 0;
	store_val a[] = {sv_int(*seq),        sv_int(in->year),    sv_text(in->number),
	                 sv_text(in->issued), sv_text(in->source), sv_text(in->origin),
	                 sv_text(in->digest), sv_text(changed),    sv_int(now),
	                 sv_text(who->login)};
	st = store_query_int(
	    tx,
	    "INSERT INTO calendar_notice (seq, year, number, issued, source, origin,"
	    " digest, changed, imported_at, imported_by)"
	    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
	    a, SV_N(a), &id, e);
	free(changed);
	for (int i = 0; i < in->n && st == YZ_OK; i++) {
		char ymd[16];
		calendar_format_date(in->ents[i].day, ymd, sizeof ymd);
		store_val d[] = {sv_int(id), sv_int(in->ents[i].day), sv_text(ymd),
		                 sv_int(in->ents[i].off), sv_text(in->ents[i].name)};
		st = store_exec(tx,
		                "INSERT INTO calendar_day (notice_id, day_num, ymd, is_off, name)"
		                " VALUES (?, ?, ?, ?, ?)",
		                d, SV_N(d), e);
	}
	return st;
}

/* ---- seeding ---- */

typedef struct seed_job {
	store_kind kind;
	const cal_set *set;
	char (*digests)[65];
	const char *path;
	yz_actor who;
	int64_t now;
	int added; /* out */
} seed_job;

static yz_status seed_fn(store_conn *tx, void *arg, yz_err *e)
{
	seed_job *j = arg;
	j->added = 0;
	changes ch = {0};
	yz_status st = lock_versions(tx, j->kind, e);
	for (int i = 0; i < j->set->nn && st == YZ_OK; i++) {
		const cal_notice *n = &j->set->nv[i];
		store_val a[] = {sv_text(j->digests[i])};
		int64_t one;
		yz_err le = {0};
		st = store_query_int(
		    tx, "SELECT 1 FROM calendar_notice WHERE origin = 'seed' AND digest = ?", a, 1,
		    &one, &le);
		if (st == YZ_OK)
			continue; /* stored before */
		if (st != YZ_ENOTFOUND) {
			if (e)
				*e = le;
			break;
		}
		notice_in in = {n->year,  n->number, n->issued,
		                n->url,   "seed",    j->set->ev + n->first,
		                n->count, ""};
		memcpy(in.digest, j->digests[i], sizeof in.digest);
		int64_t seq;
		st = store_notice(tx, &j->who, &in, j->now, &ch, &seq, e);
		if (st == YZ_OK)
			j->added++;
	}
	if (st == YZ_OK && j->added > 0) {
		json_t *c = json_pack("{s:s, s:i, s:i}", "file", j->path, "notices", j->added,
		                      "changed_days", ch.n);
		st = audit_append(tx, &j->who, "calendar.seed", "calendar", NULL, c, e);
		json_decref(c);
	}
	free(ch.days);
	return st;
}

yz_status calendar_seed(store *s, const char *path, yz_err *e)
{
	cal_set set;
	yz_status st = parse_file(path, &set, e);
	if (st != YZ_OK)
		return st;
	seed_job j = {.kind = store_kind_of(s),
	              .set = &set,
	              .path = path,
	              .who = actor_system("calendar.seed"),
	              .now = clock_now_ms()};
	j.digests = calloc((size_t)set.nn, sizeof *j.digests);
	if (!j.digests)
		st = yz_fail(e, YZ_ENOMEM, "out of memory");
	for (int i = 0; i < set.nn && st == YZ_OK; i++)
		st = notice_digest(set.nv[i].year, set.ev + set.nv[i].first, set.nv[i].count,
		                   j.digests[i], e);
	if (st == YZ_OK)
		st = store_write(s, seed_fn, &j, e);
	free(j.digests);
	set_free(&set);
	return st;
}

/* ---- loading ---- */

yz_status calendar_load(store *s, calendar **out, yz_err *e)
{
	*out = NULL;
	store_conn *c;
	yz_status st = store_reader(s, &c, e);
	if (st != YZ_OK)
		return st;
	int64_t y0 = 0, y1 = 0;
	store_rows *r;
	st = store_query(c, "SELECT MIN(year), MAX(year) FROM calendar_notice", NULL, 0, &r, e);
	if (st != YZ_OK)
		return st;
	if (store_next(r) && !store_col_null(r, 0)) {
		y0 = store_col_int(r, 0);
		y1 = store_col_int(r, 1);
	}
	if ((st = store_rows_close(r, e)) != YZ_OK)
		return st;
	cal_set set = {0};
	if (!(set.a = arena_new(0)))
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	st = store_query(c,
	                 "SELECT d.day_num, d.is_off, d.name FROM calendar_day d"
	                 " JOIN calendar_notice n ON n.id = d.notice_id ORDER BY n.seq, d.day_num",
	                 NULL, 0, &r, e);
	if (st == YZ_OK) {
		while (st == YZ_OK && store_next(r)) {
			char *name = arena_strdup(set.a, store_col_text(r, 2));
			if (!name)
				st = yz_fail(e, YZ_ENOMEM, "out of memory");
			else
				st = set_add_entry(&set, store_col_int(r, 0),
				                   store_col_int(r, 1) != 0, name, e);
		}
		if (st == YZ_OK)
			st = store_rows_close(r, e);
		else
			store_rows_discard(r);
	}
	if (st == YZ_OK)
		st = cal_build(set.ev, set.ne, (int)y0, (int)y1, out, e);
	set_free(&set);
	return st;
}

/* ---- importing holiday-cn JSON ---- */

static yz_status read_file(const char *path, size_t max, buf *b, yz_err *e)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return yz_fail(e, YZ_EIO, "cannot open %s: %s", path, strerror(errno));
	buf_init(b, max);
	char chunk[8192];
	size_t n;
	yz_status st = YZ_OK;
	while (st == YZ_OK && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
		st = buf_append(b, chunk, n);
	if (st == YZ_ETOOBIG)
		st = yz_fail(e, YZ_ETOOBIG, "%s is larger than %zu bytes", path, max);
	else if (st == YZ_OK && ferror(f))
		st = yz_fail(e, YZ_EIO, "cannot read %s", path);
	else if (st != YZ_OK)
		st = yz_fail(e, st, "cannot read %s", path);
	fclose(f);
	if (st != YZ_OK)
		buf_free(b);
	return st;
}

/* Checks a holiday-cn document; fills entries (names borrowed from doc) and
 * the source text (addresses, one per line). Every fault is a field error. */
static yz_status check_holiday_cn(json_t *doc, cal_entry **ents, int *n, buf *source, yz_err *e)
{
	static const jx_field top[] = {
	    {"$schema", JX_STRING, false, 0, 512, NULL},
	    {"$id", JX_STRING, false, 0, 512, NULL},
	    {"year", JX_INT, true, MIN_YEAR, MAX_YEAR, NULL},
	    {"papers", JX_ARRAY, false, 0, PAPERS_MAX, NULL},
	    {"days", JX_ARRAY, true, 1, IMPORT_DAYS, NULL},
	    {NULL, 0, false, 0, 0, NULL},
	};
	*ents = NULL;
	*n = 0;
	yz_status st = jx_validate(doc, top, e);
	if (st != YZ_OK)
		return st;
	int year = (int)jx_int(doc, "year", 0);
	int bad = 0;
	json_t *papers = json_object_get(doc, "papers");
	size_t i;
	json_t *v;
	json_array_foreach (papers, i, v) {
		char f[32];
		snprintf(f, sizeof f, "papers[%zu]", i);
		const char *p = json_string_value(v);
		if (!p || !*p || strlen(p) > 512 || strchr(p, '\n')) {
			yz_field(e, f, "address", "an address of at most 512 bytes", NULL);
			bad++;
			continue;
		}
		if (buf_printf(source, "%s%s", source->len ? "\n" : "", p) != YZ_OK)
			return yz_fail(e, YZ_ETOOBIG, "papers too long");
	}
	json_t *days = json_object_get(doc, "days");
	cal_entry *ev = calloc(json_array_size(days), sizeof *ev);
	if (!ev)
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	int ne = 0;
	json_array_foreach (days, i, v) {
		static const jx_field df[] = {
		    {"name", JX_STRING, true, 1, NAME_MAX_CH, NULL},
		    {"date", JX_STRING, true, 10, 10, NULL},
		    {"isOffDay", JX_BOOL, true, 0, 0, NULL},
		    {NULL, 0, false, 0, 0, NULL},
		};
		char f[48];
		snprintf(f, sizeof f, "days[%zu]", i);
		if (!json_is_object(v)) {
			yz_field(e, f, "type", "an object {name, date, isOffDay}", NULL);
			bad++;
			continue;
		}
		yz_err de = {0};
		if (jx_validate(v, df, &de) != YZ_OK) {
			int nf = de.nfield < YZ_ERR_MAX_FIELDS ? de.nfield : YZ_ERR_MAX_FIELDS;
			for (int k = 0; k < nf; k++) {
				char ff[128];
				snprintf(ff, sizeof ff, "%s.%s", f, de.fields[k].field);
				yz_field(e, ff, de.fields[k].rule, de.fields[k].expected,
				         de.fields[k].got);
			}
			bad++;
			continue;
		}
		const char *ds = jx_str(v, "date", "");
		int64_t day;
		char fd[64];
		snprintf(fd, sizeof fd, "%s.date", f);
		if (!parse_ymd(ds, strlen(ds), &day)) {
			yz_field(e, fd, "date", "a date YYYY-MM-DD", ds);
			bad++;
			continue;
		}
		int y = year_of(day);
		if (y < year - 1 || y > year + 1) {
			char ex[64];
			snprintf(ex, sizeof ex, "a date in %d-%d", year - 1, year + 1);
			yz_field(e, fd, "range", ex, ds);
			bad++;
			continue;
		}
		bool dup = false;
		for (int k = 0; k < ne; k++)
			dup = dup || ev[k].day == day;
		if (dup) {
			yz_field(e, fd, "unique", "each date listed once", ds);
			bad++;
			continue;
		}
		ev[ne++] = (cal_entry){day, jx_bool(v, "isOffDay", false), jx_str(v, "name", "")};
	}
	if (bad) {
		free(ev);
		if (e && !e->msg[0])
			yz_fail(e, YZ_EINVAL, "not a valid holiday-cn notice (%d fault%s)", bad,
			        bad > 1 ? "s" : "");
		return YZ_EINVAL;
	}
	*ents = ev;
	*n = ne;
	return YZ_OK;
}

typedef struct import_job {
	store_kind kind;
	notice_in in;
	yz_actor who;
	int64_t now;
	json_t *papers;
	/* out */
	changes ch;
	bool same;
	int64_t seq;
} import_job;

static yz_status import_fn(store_conn *tx, void *arg, yz_err *e)
{
	import_job *j = arg;
	j->ch.n = 0;
	j->same = false;
	j->seq = 0;
	yz_status st = lock_versions(tx, j->kind, e);
	if (st != YZ_OK)
		return st;
	store_rows *r;
	store_val a[] = {sv_int(j->in.year)};
	st = store_query(tx,
	                 "SELECT digest FROM calendar_notice WHERE year = ?"
	                 " ORDER BY seq DESC LIMIT 1",
	                 a, 1, &r, e);
	if (st != YZ_OK)
		return st;
	if (store_next(r))
		j->same = !strcmp(store_col_text(r, 0), j->in.digest);
	if ((st = store_rows_close(r, e)) != YZ_OK || j->same)
		return st;
	st = store_notice(tx, &j->who, &j->in, j->now, &j->ch, &j->seq, e);
	if (st != YZ_OK)
		return st;
	char object[48];
	snprintf(object, sizeof object, "calendar-notice:%lld", (long long)j->seq);
	json_t *c = json_pack("{s:i, s:I, s:O, s:i, s:o}", "year", j->in.year, "seq",
	                      (json_int_t)j->seq, "papers", j->papers, "days", j->in.n, "changed",
	                      dates_json(j->ch.days, j->ch.n));
	st = audit_append(tx, &j->who, "calendar.import", object, NULL, c, e);
	json_decref(c);
	return st;
}

yz_status calendar_import_holiday_cn(store *s, const yz_actor *who, const char *json_path,
                                     int64_t **changed, int *nchanged, yz_err *e)
{
	*changed = NULL;
	*nchanged = 0;
	buf raw;
	yz_status st = read_file(json_path, IMPORT_MAX, &raw, e);
	if (st != YZ_OK)
		return st;
	st = calendar_import_holiday_cn_text(s, who, raw.p ? raw.p : "", raw.len, changed, nchanged,
	                                     e);
	buf_free(&raw);
	return st;
}

yz_status calendar_import_holiday_cn_text(store *s, const yz_actor *who, const char *text,
                                          size_t len, int64_t **changed, int *nchanged, yz_err *e)
{
	*changed = NULL;
	*nchanged = 0;
	if (len > IMPORT_MAX)
		return yz_fail(e, YZ_ETOOBIG, "a notice file is at most %d bytes", (int)IMPORT_MAX);
	json_t *doc = NULL;
	yz_status st = jx_parse_object(text, len, &doc, e);
	if (st != YZ_OK)
		return st;
	cal_entry *ents = NULL;
	int n = 0;
	buf source;
	buf_init(&source, 16 * 1024);
	st = check_holiday_cn(doc, &ents, &n, &source, e);
	import_job j = {.kind = store_kind_of(s), .who = *who, .now = clock_now_ms()};
	if (st == YZ_OK) {
		j.in = (notice_in){(int)jx_int(doc, "year", 0),
		                   "unknown",
		                   "unknown",
		                   buf_str(&source),
		                   "import",
		                   ents,
		                   n,
		                   ""};
		j.papers = json_object_get(doc, "papers");
		if (!j.papers)
			j.papers = json_array();
		else
			json_incref(j.papers);
		st = notice_digest(j.in.year, ents, n, j.in.digest, e);
	}
	if (st == YZ_OK)
		st = store_write(s, import_fn, &j, e);
	if (st == YZ_OK && j.ch.n > 0) {
		*changed = j.ch.days;
		*nchanged = j.ch.n;
		j.ch.days = NULL;
	}
	free(j.ch.days);
	json_decref(j.papers);
	free(ents);
	buf_free(&source);
	json_decref(doc);
	return st;
}

yz_status calendar_notices_json(store_conn *c, json_t **out, yz_err *e)
{
	*out = NULL;
	store_rows *r;
	yz_status st = store_query(c,
	                           "SELECT n.seq, n.year, n.number, n.issued, n.source, n.origin,"
	                           " n.imported_at, n.imported_by, n.changed,"
	                           " (SELECT COUNT(*) FROM calendar_day d WHERE d.notice_id = n.id)"
	                           " FROM calendar_notice n ORDER BY n.seq",
	                           NULL, 0, &r, e);
	if (st != YZ_OK)
		return st;
	json_t *a = json_array();
	while (store_next(r)) {
		char at[40];
		clock_format_city(store_col_int(r, 6), at, sizeof at);
		json_t *changed = json_loads(store_col_text(r, 8), 0, NULL);
		json_array_append_new(
		    a, json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:o}", "seq",
		                 (json_int_t)store_col_int(r, 0), "year",
		                 (json_int_t)store_col_int(r, 1), "number", store_col_text(r, 2),
		                 "issued", store_col_text(r, 3), "source", store_col_text(r, 4),
		                 "origin", store_col_text(r, 5), "imported_at", at, "imported_by",
		                 store_col_text(r, 7), "days", (json_int_t)store_col_int(r, 9),
		                 "changed", changed ? changed : json_array()));
	}
	if ((st = store_rows_close(r, e)) != YZ_OK) {
		json_decref(a);
		return st;
	}
	*out = a;
	return YZ_OK;
}

yz_status calendar_stored_seq(store *s, int64_t *seq, yz_err *e)
{
	store_conn *c;
	*seq = 0;
	yz_status st = store_reader(s, &c, e);
	if (st == YZ_OK)
		st = store_query_int(c, "SELECT COALESCE(MAX(seq), 0) FROM calendar_notice", NULL,
		                     0, seq, e);
	return st;
}
