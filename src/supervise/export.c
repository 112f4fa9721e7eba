/*
 * export.c — the supervision workbook for civil servants (libxlsxwriter):
 * the cards of a filter within a scope, and the on-time rates of twelve
 * months and of each unit.
 */
#include <stdio.h>
#include <string.h>

#include <xlsxwriter.h>

#include "core/clock.h"
#include "core/jx.h"
#include "supervise/supervise_int.h"

static const char *colour_zh(const char *c)
{
	return !strcmp(c, "red") ? "红牌" : !strcmp(c, "yellow") ? "黄牌" : "提示";
}

static const char *state_zh(const char *s)
{
	return !strcmp(s, "open")        ? "待说明"
	       : !strcmp(s, "responded") ? "待整改"
	       : !strcmp(s, "cleared")   ? "已整改"
	                                 : "仅提示";
}

/* "2026-11-23T12:45:00+08:00" as "2026-11-23 12:45". */
static void human(const char *iso, char *out, size_t cap)
{
	int64_t ms;
	if (iso && clock_parse_iso(iso, &ms) == YZ_OK)
		clock_format_city_human(ms, out, cap);
	else
		out[0] = '\0';
}

static void put_str(lxw_worksheet *ws, int row, int col, const char *s, lxw_format *f)
{
	if (s && *s)
		worksheet_write_string(ws, (lxw_row_t)row, (lxw_col_t)col, s, f);
}

static void put_time(lxw_worksheet *ws, int row, int col, json_t *o, const char *key)
{
	char t[40];
	human(jx_str(o, key, NULL), t, sizeof t);
	put_str(ws, row, col, t, NULL);
}

static void put_num(lxw_worksheet *ws, int row, int col, json_t *v)
{
	if (json_is_number(v))
		worksheet_write_number(ws, (lxw_row_t)row, (lxw_col_t)col, json_number_value(v),
		                       NULL);
}

static void header(lxw_worksheet *ws, const char *const *names, int n, lxw_format *bold)
{
	for (int i = 0; i < n; i++)
		worksheet_write_string(ws, 0, (lxw_col_t)i, names[i], bold);
	worksheet_freeze_panes(ws, 1, 0);
}

static yz_status cards_sheet(store_conn *c, const yz_scope *scope, const supervise_filter *f,
                             lxw_worksheet *ws, lxw_format *bold, yz_err *e)
{
	static const char *const cols[] = {"编号",     "颜色",     "规则",     "状态",
	                                   "已督办",   "办件",     "流程",     "环节",
	                                   "责任单位", "亮牌时间", "办理时限", "说明期限",
	                                   "说明时间", "整改时间", "说明内容", "整改情况"};
	header(ws, cols, 16, bold);
	worksheet_set_column(ws, 0, 4, 9, NULL);
	worksheet_set_column(ws, 5, 8, 24, NULL);
	worksheet_set_column(ws, 9, 13, 17, NULL);
	worksheet_set_column(ws, 14, 15, 40, NULL);
	supervise_viewer v = {.read = scope};
	supervise_filter page = *f;
	page.limit = 200;
	page.before = 0;
	int row = 1;
	yz_status st = YZ_OK;
	while (st == YZ_OK && row <= SUPERVISE_EXPORT_MAX) {
		json_t *list = NULL;
		st = supervise_cards_list(c, &v, &page, &list, e);
		if (st != YZ_OK)
			break;
		size_t i;
		json_t *x;
		json_array_foreach (json_object_get(list, "items"), i, x) {
			if (row > SUPERVISE_EXPORT_MAX)
				break;
			/* the texts of the response and the correction */
			char rtext[2100] = "", ctext[2100] = "";
			int64_t id = jx_int(x, "id", 0);
			if (jx_str(x, "responded_at", NULL) || jx_str(x, "corrected_at", NULL)) {
				store_rows *r;
				store_val a[] = {sv_int(id)};
				st = store_query(
				    c,
				    "SELECT kind, text FROM supervise_card_event WHERE "
				    "card_id = ? AND kind IN ('responded', 'corrected')",
				    a, 1, &r, e);
				while (st == YZ_OK && store_next(r))
					yz_strlcpy(!strcmp(store_col_text(r, 0), "responded")
					               ? rtext
					               : ctext,
					           store_col_text(r, 1), sizeof rtext);
				if (st == YZ_OK)
					st = store_rows_close(r, e);
				if (st != YZ_OK)
					break;
			}
			json_t *inst = json_object_get(x, "instance");
			worksheet_write_number(ws, (lxw_row_t)row, 0, (double)id, NULL);
			put_str(ws, row, 1, colour_zh(jx_str(x, "colour", "")), NULL);
			put_str(ws, row, 2, jx_str(json_object_get(x, "rule"), "name", ""), NULL);
			put_str(ws, row, 3, state_zh(jx_str(x, "state", "")), NULL);
			put_str(ws, row, 4, jx_bool(x, "escalated", false) ? "是" : "否", NULL);
			put_str(ws, row, 5, jx_str(inst, "title", ""), NULL);
			put_str(ws, row, 6, jx_str(inst, "flow_name", ""), NULL);
			put_str(ws, row, 7, jx_str(x, "step_name", ""), NULL);
			put_str(ws, row, 8, jx_str(json_object_get(x, "unit"), "name", ""), NULL);
			put_time(ws, row, 9, x, "issued_at");
			put_time(ws, row, 10, x, "due_at");
			put_time(ws, row, 11, x, "respond_by");
			put_time(ws, row, 12, x, "responded_at");
			put_time(ws, row, 13, x, "corrected_at");
			put_str(ws, row, 14, rtext, NULL);
			put_str(ws, row, 15, ctext, NULL);
			row++;
		}
		json_t *next = json_object_get(list, "next");
		bool more = json_is_integer(next);
		page.before = more ? json_integer_value(next) : 0;
		json_decref(list);
		if (!more)
			break;
	}
	return st;
}

static void rates_sheets(json_t *stats, lxw_worksheet *months, lxw_worksheet *units,
                         lxw_format *bold)
{
	static const char *const mcols[] = {
	    "月份",     "办结环节",     "按时办结环节",    "环节按时率（%）",
	    "办结办件", "按时办结办件", "办件按时率（%）", "提示",
	    "黄牌",     "红牌"};
	header(months, mcols, 10, bold);
	worksheet_set_column(months, 0, 9, 14, NULL);
	size_t i;
	json_t *x;
	json_array_foreach (json_object_get(stats, "months"), i, x) {
		int row = (int)i + 1;
		put_str(months, row, 0, jx_str(x, "month", ""), NULL);
		put_num(months, row, 1, json_object_get(x, "tasks_done"));
		put_num(months, row, 2, json_object_get(x, "tasks_on_time"));
		put_num(months, row, 3, json_object_get(x, "task_rate"));
		put_num(months, row, 4, json_object_get(x, "closed"));
		put_num(months, row, 5, json_object_get(x, "closed_on_time"));
		put_num(months, row, 6, json_object_get(x, "closed_rate"));
		put_num(months, row, 7, json_object_get(x, "prompt"));
		put_num(months, row, 8, json_object_get(x, "yellow"));
		put_num(months, row, 9, json_object_get(x, "red"));
	}
	static const char *const ucols[] = {
	    "单位", "办结环节", "按时办结环节", "环节按时率（%）", "在办环节", "其中超期"};
	header(units, ucols, 6, bold);
	worksheet_set_column(units, 0, 0, 30, NULL);
	worksheet_set_column(units, 1, 5, 14, NULL);
	json_array_foreach (json_object_get(stats, "by_unit"), i, x) {
		int row = (int)i + 1;
		put_str(units, row, 0, jx_str(x, "name", jx_str(x, "path", "")), NULL);
		put_num(units, row, 1, json_object_get(x, "tasks_done"));
		put_num(units, row, 2, json_object_get(x, "tasks_on_time"));
		put_num(units, row, 3, json_object_get(x, "task_rate"));
		put_num(units, row, 4, json_object_get(x, "open"));
		put_num(units, row, 5, json_object_get(x, "overdue"));
	}
}

yz_status supervise_export_xlsx(store_conn *c, const yz_scope *scope, const supervise_filter *f,
                                int64_t now, const char *path, yz_err *e)
{
	yz_status st = supervise_filter_check(f, e);
	json_t *stats = NULL;
	if (st == YZ_OK)
		st = supervise_stats(c, scope, now, &stats, e);
	if (st != YZ_OK)
		return st;
	lxw_workbook *wb = workbook_new(path);
	if (!wb) {
		json_decref(stats);
		return yz_fail(e, YZ_EIO, "cannot create the workbook %s", path);
	}
	lxw_format *bold = workbook_add_format(wb);
	format_set_bold(bold);
	lxw_worksheet *cards = workbook_add_worksheet(wb, "监察卡片");
	lxw_worksheet *months = workbook_add_worksheet(wb, "按月按时率");
	lxw_worksheet *units = workbook_add_worksheet(wb, "按单位按时率");
	if (!cards || !months || !units)
		st = yz_fail(e, YZ_ENOMEM, "cannot add the worksheets");
	if (st == YZ_OK)
		st = cards_sheet(c, scope, f, cards, bold, e);
	if (st == YZ_OK)
		rates_sheets(stats, months, units, bold);
	json_decref(stats);
	lxw_error err = workbook_close(wb);
	if (st == YZ_OK && err != LXW_NO_ERROR)
		st = yz_fail(e, YZ_EIO, "cannot write the workbook: %s", lxw_strerror(err));
	return st;
}
