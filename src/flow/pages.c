/*
 * pages.c — the flow engine's pages: the work inbox (待办 / 已办 / 我发起的 /
 * 抄送), starting a flow from its form, an instance with its timeline and the
 * forms of the commands the viewer may give, and the definitions page for
 * administrators. The same flow functions serve the JSON API.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/jx.h"
#include "core/slice.h"
#include "flow/flow.h"
#include "flow/flow_api.h"
#include "flow/flow_int.h"

static yz_app *app_of(http_req *r)
{
	return http_app(r);
}

/* ISO times of the JSON API as "2026-11-23 10:00" on pages. */
static void human_time(json_t *o, const char *key)
{
	const char *iso = jx_str(o, key, NULL);
	int64_t ms;
	if (iso && clock_parse_iso(iso, &ms) == YZ_OK) {
		char t[40];
		clock_format_city_human(ms, t, sizeof t);
		jx_set_str(o, key, t);
	}
}

/* ---- forms declared in definitions ---- */

/* Page data for a definition's form fields: input types and current values. */
static json_t *form_fields(json_t *fields, json_t *values, json_t *error_map)
{
	json_t *out = json_array();
	size_t i;
	json_t *f;
	json_array_foreach (fields, i, f) {
		json_t *x = json_deep_copy(f);
		/* every key the template asks for is set, so that no lookup walks
		 * out to an enclosing context (the page's own "error", say) */
		jx_set_str(x, "value", "");
		jx_set_bool(x, "checked", false);
		jx_set_bool(x, "error", false);
		jx_set_bool(x, "required", jx_bool(f, "required", false));
		json_object_set_new(x, "choices", json_array());
		const char *type = jx_str(f, "type", "string");
		const char *name = jx_str(f, "name", "");
		jx_set_bool(x, "is_text", !strcmp(type, "text"));
		jx_set_bool(x, "is_enum", !strcmp(type, "enum"));
		jx_set_bool(x, "is_bool", !strcmp(type, "boolean"));
		jx_set_str(x, "input_type",
		           !strcmp(type, "integer") || !strcmp(type, "number") ? "text"
		           : !strcmp(type, "date")                             ? "date"
		                                                               : "text");
		jx_set_str(x, "inputmode",
		           !strcmp(type, "integer")  ? "numeric"
		           : !strcmp(type, "number") ? "decimal"
		                                     : "text");
		if (!json_object_get(x, "label"))
			jx_set_str(x, "label", name);
		json_t *v = values ? json_object_get(values, name) : NULL;
		if (json_is_string(v))
			jx_set_str(x, "value", json_string_value(v));
		else if (json_is_integer(v))
			json_object_set_new(x, "value",
			                    json_sprintf("%lld", (long long)json_integer_value(v)));
		else if (json_is_real(v))
			json_object_set_new(x, "value", json_sprintf("%g", json_real_value(v)));
		else if (json_is_true(v))
			jx_set_bool(x, "checked", true);
		if (!strcmp(type, "enum")) {
			json_t *opts = json_array();
			size_t k;
			json_t *o;
			json_array_foreach (json_object_get(f, "options"), k, o) {
				const char *ov = json_is_string(o) ? json_string_value(o) : "";
				json_array_append_new(
				    opts, json_pack("{s:s, s:b}", "value", ov, "selected",
				                    json_is_string(v) &&
				                        !strcmp(json_string_value(v), ov)));
			}
			json_object_set_new(x, "choices", opts);
		}
		char key[80];
		snprintf(key, sizeof key, "data.%s", name);
		const char *err = error_map ? jx_str(error_map, key, NULL) : NULL;
		if (err)
			jx_set_str(x, "error", err);
		json_array_append_new(out, x);
	}
	return out;
}

/* {"data.<name>": label} for error messages about a definition's form. */
static json_t *form_labels(json_t *fields)
{
	json_t *l = json_object();
	size_t i;
	json_t *f;
	json_array_foreach (fields, i, f) {
		char key[80];
		snprintf(key, sizeof key, "data.%s", jx_str(f, "name", ""));
		jx_set_str(l, key, jx_str(f, "label", jx_str(f, "name", "")));
	}
	return l;
}

/* Form strings → typed data as the fields declare; a number that does not
 * parse stays a string so that validation names it. */
static json_t *form_data(json_t *fields, const form *f)
{
	json_t *data = json_object();
	size_t i;
	json_t *fd;
	json_array_foreach (fields, i, fd) {
		const char *name = jx_str(fd, "name", "");
		const char *type = jx_str(fd, "type", "string");
		char key[80];
		snprintf(key, sizeof key, "f_%s", name);
		const char *v = form_get(f, key);
		if (!strcmp(type, "boolean")) {
			json_object_set_new(data, name, json_boolean(v && *v));
			continue;
		}
		if (!v || !*v)
			continue;
		if (!strcmp(type, "integer")) {
			int64_t n;
			json_object_set_new(data, name,
			                    slice_to_i64(slice_of(v), &n) == YZ_OK
			                        ? json_integer(n)
			                        : json_string(v));
		} else if (!strcmp(type, "number")) {
			char *end;
			double d = strtod(v, &end);
			json_object_set_new(data, name, *end ? json_string(v) : json_real(d));
		} else {
			json_object_set_new(data, name, json_string(v));
		}
	}
	return data;
}

/* ---- the inbox ---- */

static yz_status inbox_page(http_req *r, yz_err *e)
{
	const char *box = http_query(r, "box"), *deadline = http_query(r, "deadline");
	if (!box || !*box)
		box = "todo";
	int64_t before = 0;
	const char *b = http_query(r, "before");
	if (b && slice_to_i64(slice_of(b), &before) != YZ_OK)
		before = 0;
	store_conn *c;
	json_t *list;
	yz_status st = store_reader(app_of(r)->db, &c, e);
	if (st == YZ_OK)
		st = flow_inbox(c, http_actor(r), box, deadline, before, 50, &list, e);
	if (st != YZ_OK)
		return st;
	json_t *d = json_object();
	json_object_set_new(d, "list", list);
	jx_set_str(d, "box", box);
	jx_set_str(d, "deadline", deadline ? deadline : "");
	static const char *const boxes[] = {"todo", "done", "mine", "cc"};
	json_t *tabs = json_array();
	for (int i = 0; i < 4; i++) {
		char label[32];
		snprintf(label, sizeof label, "inbox.%s", boxes[i]);
		json_array_append_new(tabs, json_pack("{s:s, s:s, s:b}", "box", boxes[i], "label",
		                                      label, "current", !strcmp(box, boxes[i])));
	}
	json_object_set_new(d, "tabs", tabs);
	jx_set_bool(d, "is_todo", !strcmp(box, "todo"));
	json_t *filters = json_array();
	static const char *const states[] = {"", "overdue", "soon", "ok"};
	for (int i = 0; i < 4; i++) {
		char label[40];
		snprintf(label, sizeof label, "inbox.deadline.%s",
		         states[i][0] ? states[i] : "all");
		json_array_append_new(
		    filters, json_pack("{s:s, s:s, s:b}", "value", states[i], "label", label,
		                       "current", !strcmp(deadline ? deadline : "", states[i])));
	}
	json_object_set_new(d, "filters", filters);
	size_t i;
	json_t *it;
	json_array_foreach (json_object_get(list, "items"), i, it) {
		jx_set_label(it, "deadline_label", "deadline", "deadline", "none");
		jx_set_label(it, "status_label", "flowstatus", "status", "");
		human_time(it, "due_at");
		human_time(it, "opened_at");
		human_time(it, "done_at");
	}
	return http_reply_page(r, 200, "pages/inbox", d, e);
}

/* ---- starting ---- */

static yz_status start_list(http_req *r, yz_err *e)
{
	json_t *d = json_object();
	json_object_set_new(d, "flows", flow_defs_json());
	return http_reply_page(r, 200, "pages/flow_start_list", d, e);
}

static yz_status start_form(http_req *r, int status, const flow_def *d, json_t *values,
                            const yz_err *err, yz_err *e)
{
	json_t *data = json_object();
	jx_set_str(data, "key", d->key);
	jx_set_str(data, "name", d->name);
	jx_set_str(data, "description", jx_str(d->doc, "description", NULL));
	json_t *emap = NULL;
	if (err) {
		json_t *labels = form_labels(d->form);
		json_t *ed = http_error_data_with(r, err, "flow", labels);
		json_decref(labels);
		emap = json_object_get(ed, "error_map");
		json_object_set_new(data, "error", ed);
	}
	json_object_set_new(data, "fields", form_fields(d->form, values, emap));
	jx_set_str(data, "title_value", values ? jx_str(values, "_title", "") : "");
	return http_reply_page(r, status, "pages/flow_start", data, e);
}

static yz_status start_get(http_req *r, yz_err *e)
{
	const flow_def *d = flow_def_get(http_param(r, "key"), 0);
	if (!d)
		return yz_fail(e, YZ_ENOTFOUND, "no flow %s", http_param(r, "key"));
	return start_form(r, 200, d, NULL, NULL, e);
}

static yz_status start_post(http_req *r, yz_err *e)
{
	const flow_def *d = flow_def_get(http_param(r, "key"), 0);
	if (!d)
		return yz_fail(e, YZ_ENOTFOUND, "no flow %s", http_param(r, "key"));
	const form *f;
	yz_status st = http_form(r, &f, e);
	if (st != YZ_OK)
		return st;
	json_t *data = form_data(d->form, f);
	json_t *in = json_pack("{s:O}", "data", data);
	const char *title = form_get(f, "title");
	if (title && *title)
		jx_set_str(in, "title", title);
	int64_t id = 0;
	yz_err fe = {0};
	/* the form's one-time token doubles as the idempotency key: a double
	 * click starts one flow */
	st = flow_start(app_of(r)->db, http_actor(r), d->key, in, form_get(f, "_once"), &id, &fe);
	json_decref(in);
	if (st == YZ_OK) {
		json_decref(data);
		char url[64];
		snprintf(url, sizeof url, "/flows/instances/%lld", (long long)id);
		http_flash(r, "flash.flow_started");
		http_redirect(r, url);
		return YZ_OK;
	}
	if (st != YZ_EINVAL) {
		json_decref(data);
		*e = fe;
		return st;
	}
	if (title)
		jx_set_str(data, "_title", title);
	st = start_form(r, 400, d, data, &fe, e);
	json_decref(data);
	return st;
}

/* The label a definition gives an outcome of a step ("材料齐全，受理"), or
 * NULL for the one outcome of a step without choices. */
static const char *outcome_label(const flow_def *d, const char *step, const char *name)
{
	int si = d && step ? flow_def_step_index(d, step) : -1;
	for (int k = 0; si >= 0 && name && k < d->steps[si].noutcomes; k++)
		if (!strcmp(d->steps[si].outcomes[k].name, name))
			return d->steps[si].outcomes[k].label;
	return NULL;
}

/* ---- one instance ---- */

static yz_status instance_page(http_req *r, int64_t id, int status, const yz_err *err,
                               const char *failed_task, yz_err *e)
{
	store_conn *c;
	json_t *o;
	yz_status st = store_reader(app_of(r)->db, &c, e);
	if (st == YZ_OK)
		st = flow_instance_get(c, flow_viewer(r), id, &o, e);
	if (st != YZ_OK)
		return st;
	const char *key = jx_str(json_object_get(o, "flow"), "key", "");
	int version = (int)jx_int(json_object_get(o, "flow"), "version", 0);
	const flow_def *d = flow_def_get(key, version);
	json_t *emap = NULL;
	json_t *data = json_object();
	if (err) {
		json_t *ed = http_error_data(r, err, "flow");
		emap = json_object_get(ed, "error_map");
		json_object_set_new(data, "error", ed);
	}
	/* the viewer's tasks get their forms and outcomes */
	size_t i;
	json_t *t;
	bool any_mine = false;
	json_array_foreach (json_object_get(o, "tasks"), i, t) {
		jx_set_label(t, "status_label", "taskstatus", "status", "");
		const char *ol =
		    outcome_label(d, jx_str(t, "step", NULL), jx_str(t, "outcome", NULL));
		if (ol)
			jx_set_str(t, "outcome", ol);
		else if (json_is_string(json_object_get(t, "outcome")))
			jx_set_str(t, "outcome_key", "flows.outcome_done");
		human_time(t, "opened_at");
		human_time(t, "due_at");
		human_time(t, "done_at");
		if (!jx_bool(t, "mine", false) || !d)
			continue;
		any_mine = true;
		int si = flow_def_step_index(d, jx_str(t, "step", ""));
		if (si < 0)
			continue;
		const flow_step *s = &d->steps[si];
		json_t *outs = json_array();
		for (int k = 0; k < s->noutcomes; k++)
			json_array_append_new(
			    outs, json_pack("{s:s, s:s?, s:b}", "name", s->outcomes[k].name,
			                    "label", s->outcomes[k].label, "first", k == 0));
		json_object_set_new(t, "outcomes", outs);
		bool failed_here =
		    failed_task && jx_int(t, "id", 0) == strtoll(failed_task, NULL, 10);
		json_object_set_new(t, "fields",
		                    form_fields(s->form, NULL, failed_here ? emap : NULL));
		jx_set_bool(t, "claimable", !json_object_get(t, "assignee_id"));
		jx_set_bool(t, "can_return", true);
	}
	jx_set_bool(data, "any_mine", any_mine);
	json_array_foreach (json_object_get(o, "timeline"), i, t) {
		jx_set_label(t, "command_label", "flowcmd", "command", "");
		if (d && json_is_string(json_object_get(t, "step")))
			jx_set_str(
			    t, "step_name",
			    flow_def_step_index(d, jx_str(t, "step", "")) >= 0
			        ? d->steps[flow_def_step_index(d, jx_str(t, "step", ""))].name
			        : jx_str(t, "step", ""));
		const char *reason = jx_str(json_object_get(t, "detail"), "reason", NULL);
		const char *comment = jx_str(json_object_get(t, "detail"), "comment", NULL);
		const char *text = jx_str(json_object_get(t, "detail"), "text", NULL);
		const char *outcome = jx_str(json_object_get(t, "detail"), "outcome", NULL);
		jx_set_str(t, "note", reason ? reason : comment ? comment : text);
		if (outcome) {
			const char *ol = outcome_label(d, jx_str(t, "step", NULL), outcome);
			if (ol)
				jx_set_str(t, "outcome", ol);
		}
		human_time(t, "at");
		if (!*jx_str(t, "actor_name", ""))
			jx_set_str(t, "actor_name", NULL);
	}
	/* data as label/value rows in the order of the start form */
	json_t *rows = json_array();
	json_t *vals = json_object_get(o, "data");
	json_array_foreach (d ? d->form : NULL, i, t) {
		json_t *v = json_object_get(vals, jx_str(t, "name", ""));
		if (!v)
			continue;
		char *txt = json_dumps(v, JSON_ENCODE_ANY);
		const char *shown = json_is_string(v) ? json_string_value(v) : (txt ? txt : "");
		json_array_append_new(rows, json_pack("{s:s, s:s}", "label",
		                                      jx_str(t, "label", jx_str(t, "name", "")),
		                                      "value", shown));
		free(txt);
	}
	json_object_set_new(data, "rows", rows);
	human_time(o, "started_at");
	human_time(o, "due_at");
	human_time(o, "statutory_at");
	human_time(o, "closed_at");
	if (json_is_object(json_object_get(o, "suspended")))
		human_time(json_object_get(o, "suspended"), "since");
	/* the end's name for the outcome ("准予许可") */
	for (int k = 0; d && k < d->nsteps; k++)
		if (d->steps[k].kind == STEP_END &&
		    !strcmp(d->steps[k].outcome, jx_str(o, "outcome", "")))
			jx_set_str(o, "outcome_label", d->steps[k].name);
	if (!json_object_get(o, "outcome_label") && json_is_string(json_object_get(o, "outcome"))) {
		char ok[48];
		snprintf(ok, sizeof ok, "flowoutcome.%s", jx_str(o, "outcome", ""));
		jx_set_str(o, "outcome_key", ok);
	}
	char sk[48];
	snprintf(sk, sizeof sk, "flowstatus.%s", jx_str(o, "status", ""));
	jx_set_str(o, "status_label", sk);
	snprintf(sk, sizeof sk, "deadline.%s", jx_str(o, "deadline", "none"));
	jx_set_str(o, "deadline_label", sk);
	bool starter = http_actor(r)->user_id == jx_int(o, "starter_id", -1);
	bool open = strcmp(jx_str(o, "status", ""), "closed") != 0;
	(void)starter;
	static const char *const general[] = {"withdraw", "suspend", "resume", "extend", "comment"};
	for (int k = 0; k < 5; k++) {
		bool has = false;
		json_array_foreach (json_object_get(o, "actions"), i, t)
			has |= json_is_string(t) && !strcmp(json_string_value(t), general[k]);
		char flag[32];
		snprintf(flag, sizeof flag, "can_%s", general[k]);
		jx_set_bool(data, flag, has);
	}
	jx_set_bool(data, "open", open);
	json_object_set_new(data, "inst", o);
	return http_reply_page(r, status, "pages/flow_instance", data, e);
}

static yz_status instance_get(http_req *r, yz_err *e)
{
	int64_t id;
	yz_status st = http_param_id(r, "id", &id, e);
	return st == YZ_OK ? instance_page(r, id, 200, NULL, NULL, e) : st;
}

/* One form posts every command: `cmd`, `task`, and the command's fields. */
static yz_status command_post(http_req *r, yz_err *e)
{
	int64_t id;
	const form *f;
	yz_status st = http_param_id(r, "id", &id, e);
	if (st == YZ_OK)
		st = http_form(r, &f, e);
	if (st != YZ_OK)
		return st;
	const char *cmdname = form_get(f, "cmd");
	flow_cmd cmd = flow_cmd_parse(cmdname);
	if (!cmd)
		return yz_field(e, "cmd", "enum", "a flow command", cmdname);
	int64_t task = 0;
	const char *ts = form_get(f, "task");
	if (ts && *ts && slice_to_i64(slice_of(ts), &task) != YZ_OK)
		return yz_field(e, "task", "type", "a task id", ts);
	json_t *in = json_object();
	const char *v;
	switch (cmd) {
	case FLOW_COMPLETE: {
		if ((v = form_get(f, "outcome")))
			jx_set_str(in, "outcome", v);
		if ((v = form_get(f, "comment")) && *v)
			jx_set_str(in, "comment", v);
		/* the task's own form fields */
		store_conn *c;
		json_t *o = NULL;
		if (store_reader(app_of(r)->db, &c, NULL) == YZ_OK &&
		    flow_instance_get(c, flow_viewer(r), id, &o, NULL) == YZ_OK) {
			const flow_def *d =
			    flow_def_get(jx_str(json_object_get(o, "flow"), "key", ""),
			                 (int)jx_int(json_object_get(o, "flow"), "version", 0));
			size_t i;
			json_t *t;
			json_array_foreach (json_object_get(o, "tasks"), i, t) {
				if (jx_int(t, "id", 0) != task || !d)
					continue;
				int si = flow_def_step_index(d, jx_str(t, "step", ""));
				if (si >= 0 && d->steps[si].form)
					json_object_set_new(in, "data",
					                    form_data(d->steps[si].form, f));
			}
		}
		json_decref(o);
		break;
	}
	case FLOW_RETURN:
	case FLOW_REJECT:
	case FLOW_WITHDRAW:
	case FLOW_RESUME:
		if ((v = form_get(f, "reason")) && *v)
			jx_set_str(in, "reason", v);
		break;
	case FLOW_TRANSFER:
		if ((v = form_get(f, "user")) && *v)
			jx_set_str(in, "user", v);
		if ((v = form_get(f, "org")) && *v)
			jx_set_str(in, "org", v);
		if ((v = form_get(f, "reason")) && *v)
			jx_set_str(in, "reason", v);
		break;
	case FLOW_SUSPEND:
		jx_set_str(in, "kind", form_get(f, "kind") ? form_get(f, "kind") : "");
		if ((v = form_get(f, "reason")) && *v)
			jx_set_str(in, "reason", v);
		break;
	case FLOW_EXTEND: {
		int64_t n = 0;
		v = form_get(f, "workdays");
		if (v && slice_to_i64(slice_of(v), &n) == YZ_OK)
			jx_set_int(in, "workdays", n);
		else
			jx_set_str(in, "workdays", v ? v : "");
		if ((v = form_get(f, "reason")) && *v)
			jx_set_str(in, "reason", v);
		break;
	}
	case FLOW_COMMENT:
		jx_set_str(in, "text", form_get(f, "text") ? form_get(f, "text") : "");
		break;
	default:
		break;
	}
	yz_err fe = {0};
	st = flow_command(app_of(r)->db, http_actor(r), id, task, cmd, in, form_get(f, "_once"),
	                  &fe);
	json_decref(in);
	char url[64];
	snprintf(url, sizeof url, "/flows/instances/%lld", (long long)id);
	if (st == YZ_OK) {
		char key[40];
		snprintf(key, sizeof key, "flash.flow_%s", cmdname);
		http_flash(r, key);
		/* after finishing a task, back to the inbox; otherwise stay */
		http_redirect(r, cmd == FLOW_COMPLETE || cmd == FLOW_RETURN || cmd == FLOW_REJECT ||
		                         cmd == FLOW_TRANSFER
		                     ? "/inbox"
		                     : url);
		return YZ_OK;
	}
	if (st == YZ_EINVAL || st == YZ_ECONFLICT || st == YZ_EFORBIDDEN)
		return instance_page(r, id, yz_status_http(st), &fe, ts, e);
	*e = fe;
	return st;
}

/* ---- administration ---- */

static yz_status admin_page(http_req *r, int status, const char *text, const yz_err *err, yz_err *e)
{
	json_t *d = json_object();
	json_object_set_new(d, "flows", flow_defs_json());
	jx_set_str(d, "text", text ? text : "");
	if (err) {
		json_t *ed = http_error_data(r, err, "flowdef");
		http_errors_point_to(ed, "f-definition");
		json_object_set_new(d, "error", ed);
	}
	return http_reply_page(r, status, "pages/admin_flows", d, e);
}

static yz_status admin_get(http_req *r, yz_err *e)
{
	return admin_page(r, 200, NULL, NULL, e);
}

static yz_status admin_post(http_req *r, yz_err *e)
{
	const form *f;
	yz_status st = http_form(r, &f, e);
	if (st != YZ_OK)
		return st;
	const char *text = form_get(f, "definition");
	yz_err fe = {0};
	json_t *doc = NULL;
	st = jx_parse_object(text ? text : "", text ? strlen(text) : 0, &doc, &fe);
	int version = 0;
	if (st == YZ_OK)
		st = flow_def_load(app_of(r)->db, http_actor(r), doc, &version, &fe);
	json_decref(doc);
	if (st == YZ_OK) {
		http_flash(r, "flash.flow_loaded");
		http_redirect(r, "/admin/flows");
		return YZ_OK;
	}
	if (st != YZ_EINVAL) {
		*e = fe;
		return st;
	}
	return admin_page(r, 400, text, &fe, e);
}

static const http_route routes[] = {
    {HTTP_GET, "/inbox", inbox_page, HTTP_SIGNED_IN, HTTP_SCOPE_NONE, 0, 0, "My work inbox"},
    {HTTP_GET, "/flows", start_list, HTTP_SIGNED_IN, HTTP_SCOPE_NONE, 0, 0, "Flows one may start"},
    {HTTP_GET, "/flows/{key}/start", start_get, HTTP_SIGNED_IN, HTTP_SCOPE_NONE, 0, 0,
     "The start form of a flow"},
    {HTTP_POST, "/flows/{key}/start", start_post, HTTP_SIGNED_IN, HTTP_SCOPE_NONE, 0, 256u << 10,
     "Start a flow"},
    {HTTP_GET, "/flows/instances/{id}", instance_get, HTTP_SIGNED_IN, HTTP_SCOPE_NONE, 0, 0,
     "A flow instance"},
    {HTTP_POST, "/flows/instances/{id}", command_post, HTTP_SIGNED_IN, HTTP_SCOPE_NONE, 0,
     256u << 10, "A command on a flow instance"},
    {HTTP_GET, "/admin/flows", admin_get, "flow.admin", HTTP_SCOPE_NONE, 0, 0, "Flow definitions"},
    {HTTP_POST, "/admin/flows", admin_post, "flow.admin", HTTP_SCOPE_NONE, 0, 1u << 20,
     "Load a flow definition"},
};

static const http_nav nav[] = {
    {"workbench", "nav.inbox", "/inbox", HTTP_SIGNED_IN, 20},
    {"workbench", "nav.flows", "/flows", HTTP_SIGNED_IN, 30},
    {"admin", "nav.flowdefs", "/admin/flows", "flow.admin", 60},
};

yz_status flow_routes(yz_app *app, yz_err *e)
{
	yz_status st = flow_api_routes(app, e);
	if (st == YZ_OK)
		st = http_routes_add(app->http, routes, (int)(sizeof routes / sizeof routes[0]), e);
	if (st == YZ_OK)
		http_add_nav(app->http, nav, (int)(sizeof nav / sizeof nav[0]));
	return st;
}

yz_status flow_timer_job(yz_app *app, yz_err *e)
{
	int fired = 0;
	return flow_sweep(app->db, clock_now_ms(), 1000, &fired, e);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

yz_status flow_load_pack(yz_app *app, const char *dir, json_t *report, yz_err *e)
{
	char path[700];
	snprintf(path, sizeof path, "%s/flows", dir);
	DIR *dd = opendir(path);
	if (!dd)
		return YZ_OK; /* a pack without flows */
	struct dirent *de;
	char names[64][128];
	int n = 0;
	while ((de = readdir(dd)) != NULL && n < 64) {
		size_t l = strlen(de->d_name);
		if (l > 5 && !strcmp(de->d_name + l - 5, ".json"))
			yz_strlcpy(names[n++], de->d_name, sizeof names[0]);
	}
	closedir(dd);
	qsort(names, (size_t)n, sizeof names[0], by_name);
	yz_actor who = actor_system("pack");
	json_t *loaded = json_array();
	yz_status st = YZ_OK;
	for (int i = 0; i < n && st == YZ_OK; i++) {
		char file[900];
		if (snprintf(file, sizeof file, "%s/%s", path, names[i]) >= (int)sizeof file) {
			st = yz_fail(e, YZ_EINVAL, "flow file path too long: %s", names[i]);
			break;
		}
		json_error_t je;
		json_t *doc = json_load_file(file, JSON_REJECT_DUPLICATES, &je);
		if (!doc) {
			st = yz_fail(e, YZ_EINVAL, "%s: %s (line %d)", file, je.text, je.line);
			break;
		}
		int version = 0;
		st = flow_def_load(app->db, &who, doc, &version, e);
		if (st != YZ_OK && e) {
			char msg[sizeof e->msg];
			yz_strlcpy(msg, e->msg, sizeof msg);
			size_t k = yz_strlcpy(e->msg, names[i], sizeof e->msg);
			if (k + 2 < sizeof e->msg) {
				yz_strlcpy(e->msg + k, ": ", sizeof e->msg - k);
				yz_strlcpy(e->msg + k + 2, msg, sizeof e->msg - k - 2);
			}
		}
		if (st == YZ_OK)
			json_array_append_new(loaded,
			                      json_pack("{s:s, s:i}", "key", jx_str(doc, "key", ""),
			                                "version", version));
		json_decref(doc);
	}
	json_object_set_new(report, "flows", loaded);
	return st;
}
