/*
 * flow_engine.c — instances and their transitions: start, the commands,
 * automatic steps (parallel, join, decision, timer, subflow, end), deadlines,
 * suspensions, extensions, the timer sweep.
 *
 * Every function here that changes state runs inside one write job, after
 * lock_instance() took the instance row; so an instance's transitions never
 * interleave, even across nodes on PostgreSQL.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "core/clock.h"
#include "core/jx.h"
#include "core/slice.h"
#include "flow/flow_store.h"
#include "iam/iam.h"

/* ---- environment ---- */

static flow_env env;
#define FLOW_MAX_LISTENERS 8
typedef struct listener {
	flow_event_fn fn;
	void *ctx;
} listener;
static listener listeners[FLOW_MAX_LISTENERS];
static int nlisteners;

void flow_set_env(const flow_env *e)
{
	env = *e;
}

void flow_on_event(flow_event_fn fn, void *ctx)
{
	if (!fn) {
		nlisteners = 0;
		return;
	}
	if (nlisteners < FLOW_MAX_LISTENERS)
		listeners[nlisteners++] = (listener){fn, ctx};
}

/* Tell every listener, in the order they were added; the first failure
 * aborts the transition. */
static yz_status tell(store_conn *tx, const flow_event *ev, yz_err *e)
{
	yz_status st = YZ_OK;
	for (int i = 0; i < nlisteners && st == YZ_OK; i++)
		st = listeners[i].fn(tx, ev, listeners[i].ctx, e);
	return st;
}

const calendar *flow_calendar(void)
{
	return __atomic_load_n(&env.cal, __ATOMIC_ACQUIRE);
}

void flow_set_calendar(const calendar *cal)
{
	__atomic_store_n(&env.cal, cal, __ATOMIC_RELEASE);
}

const calendar_hours *flow_hours(void)
{
	return &env.hours;
}

static const char *const cmd_names[] = {"",       "claim",    "complete", "return",
                                        "reject", "transfer", "suspend",  "resume",
                                        "extend", "withdraw", "comment"};

const char *flow_cmd_name(flow_cmd c)
{
	return c >= FLOW_CLAIM && c <= FLOW_COMMENT ? cmd_names[c] : "";
}

flow_cmd flow_cmd_parse(const char *name)
{
	for (int i = FLOW_CLAIM; name && i <= FLOW_COMMENT; i++)
		if (!strcmp(cmd_names[i], name))
			return (flow_cmd)i;
	return 0;
}

static int64_t city_day(int64_t ms)
{
	int64_t t = ms + CLOCK_CITY_OFFSET_MS;
	return (t >= 0 ? t : t - 86399999) / 86400000;
}

/* Move a time by n working days, keeping its time of day. */
static int64_t shift_workdays(int64_t ms, int n)
{
	const calendar *cal = flow_calendar();
	if (!n || !cal)
		return ms;
	int64_t day = city_day(ms);
	int64_t to = calendar_add_workdays(cal, day, n);
	return ms + (to - day) * 86400000;
}

int64_t flow_deadline(const flow_limit *l, int64_t start)
{
	const calendar *cal = flow_calendar();
	switch (l->unit) {
	case LIMIT_WORKDAYS:
		return cal ? calendar_deadline_workdays(cal, start, l->n)
		           : start + (int64_t)l->n * 86400000;
	case LIMIT_WORKHOURS:
		return cal ? calendar_add_work_minutes(cal, &env.hours, start, (int64_t)l->n * 60)
		           : start + (int64_t)l->n * 3600000;
	case LIMIT_DAYS: {
		/* natural days; a last day that is a rest day moves to the next working
		 * day (民法典 Art. 203) */
		if (cal)
			return calendar_deadline_days(cal, start, l->n);
		int64_t day = city_day(start) + l->n;
		return (day + 1) * 86400000 - CLOCK_CITY_OFFSET_MS - 1;
	}
	default:
		return 0;
	}
}

/* ---- the instance being changed ---- */

typedef struct inst {
	int64_t id;
	const flow_def *def;
	char status[16];
	char outcome[48];
	char title[256];
	json_t *data;
	int64_t starter;
	char starter_org[256];
	char org_path[256];
	int64_t parent_id, parent_token;
	int64_t started_at, due_at, statutory_at, suspended_at, suspended_ms;
	char suspend_kind[16];
	int extended_days;
	int shift_days; /* working days deadlines were pushed by suspensions */
	bool closed_now;
} inst;

typedef struct run {
	store_conn *tx;
	const yz_actor *who;
	int64_t now;
	yz_err *e;
	arena *a;
	iam_grant *grants; /* the actor's roles, loaded on first need */
	int ngrants;
	bool grants_loaded;
	char who_path[256];
	bool who_path_loaded;
	int steps_run; /* guard against definitions that loop without waiting */
	/* history entries of this job, written together when it succeeds
	 * (flush_history): one INSERT for the lot, one audit record per
	 * instance */
	struct hist {
		flow_history_row row;
		const char *key, *org_path;
	} * hist;
	int nhist, hist_cap;
} run;

static yz_status read_instance(run *r, int64_t id, inst *in, bool lock);

static yz_status lock_instance(run *r, int64_t id, inst *in)
{
	return read_instance(r, id, in, true);
}

static void inst_free(inst *in)
{
	json_decref(in->data);
	in->data = NULL;
}

#define INST_COLS                                                                                  \
	"def_key, def_version, status, COALESCE(outcome, ''), title, data, starter_id, "           \
	"starter_org_path, org_path, COALESCE(parent_id, 0), COALESCE(parent_token, 0), "          \
	"started_at, "                                                                             \
	"COALESCE(due_at, 0), COALESCE(statutory_at, 0), COALESCE(suspended_at, 0), "              \
	"COALESCE(suspend_kind, ''), suspended_ms, extended_days, shift_days"

/* Read the instance; with lock, take its row first (a lock until commit). */
static yz_status read_instance(run *r, int64_t id, inst *in, bool lock)
{
	memset(in, 0, sizeof *in);
	store_rows *rows;
	store_val a[] = {sv_int(id)};
	yz_status st = store_query(r->tx,
	                           lock ? "UPDATE flow_instance SET seq = seq + 1 WHERE id = ? "
	                                  "RETURNING " INST_COLS
	                                : "SELECT " INST_COLS " FROM flow_instance WHERE id = ?",
	                           a, 1, &rows, r->e);
	if (st != YZ_OK)
		return st;
	bool found = store_next(rows);
	if (found) {
		in->id = id;
		in->def = flow_def_get(store_col_text(rows, 0), (int)store_col_int(rows, 1));
		yz_strlcpy(in->status, store_col_text(rows, 2), sizeof in->status);
		yz_strlcpy(in->outcome, store_col_text(rows, 3), sizeof in->outcome);
		yz_strlcpy(in->title, store_col_text(rows, 4), sizeof in->title);
		in->data = json_loads(store_col_text(rows, 5), 0, NULL);
		in->starter = store_col_int(rows, 6);
		yz_strlcpy(in->starter_org, store_col_text(rows, 7), sizeof in->starter_org);
		yz_strlcpy(in->org_path, store_col_text(rows, 8), sizeof in->org_path);
		in->parent_id = store_col_int(rows, 9);
		in->parent_token = store_col_int(rows, 10);
		in->started_at = store_col_int(rows, 11);
		in->due_at = store_col_int(rows, 12);
		in->statutory_at = store_col_int(rows, 13);
		in->suspended_at = store_col_int(rows, 14);
		yz_strlcpy(in->suspend_kind, store_col_text(rows, 15), sizeof in->suspend_kind);
		in->suspended_ms = store_col_int(rows, 16);
		in->extended_days = (int)store_col_int(rows, 17);
		in->shift_days = (int)store_col_int(rows, 18);
	}
	st = store_rows_close(rows, r->e);
	if (st != YZ_OK)
		return st;
	if (!found)
		return yz_fail(r->e, YZ_ENOTFOUND, "no flow instance %lld", (long long)id);
	if (!in->def)
		return yz_fail(r->e, YZ_EINTERNAL, "the definition of instance %lld is not loaded",
		               (long long)id);
	if (!in->data)
		in->data = json_object();
	return YZ_OK;
}

static yz_status save_instance(run *r, inst *in)
{
	char *data = json_dumps(in->data, JSON_COMPACT | JSON_SORT_KEYS);
	if (!data)
		return yz_fail(r->e, YZ_ENOMEM, "out of memory");
	store_val a[] = {sv_text(in->status),
	                 sv_text(in->outcome[0] ? in->outcome : NULL),
	                 sv_text(data),
	                 in->due_at ? sv_int(in->due_at) : sv_null(),
	                 in->statutory_at ? sv_int(in->statutory_at) : sv_null(),
	                 in->suspended_at ? sv_int(in->suspended_at) : sv_null(),
	                 sv_text(in->suspend_kind[0] ? in->suspend_kind : NULL),
	                 sv_int(in->suspended_ms),
	                 sv_int(in->extended_days),
	                 sv_int(in->shift_days),
	                 in->closed_now ? sv_int(r->now) : sv_null(),
	                 sv_int(in->id)};
	yz_status st =
	    store_exec(r->tx,
	               "UPDATE flow_instance SET status = ?, outcome = ?, data = ?, due_at = "
	               "?, statutory_at = ?, suspended_at = ?, suspend_kind = ?, "
	               "suspended_ms = ?, extended_days = ?, shift_days = ?, closed_at = "
	               "COALESCE(?, closed_at) WHERE id = ?",
	               a, SV_N(a), r->e);
	free(data);
	return st;
}

static yz_status emit(run *r, const inst *in, flow_event_kind kind, int64_t tok, const char *step,
                      int64_t opened, int64_t due, const char *task_org, const char *reason,
                      const char *outcome)
{
	if (!nlisteners)
		return YZ_OK;
	int si = step ? flow_def_step_index(in->def, step) : -1;
	flow_event ev = {.kind = kind,
	                 .instance_id = in->id,
	                 .flow_key = in->def->key,
	                 .flow_name = in->def->name,
	                 .title = in->title,
	                 .org_path = in->org_path,
	                 .token_id = tok,
	                 .step = step,
	                 .step_name = si >= 0 ? in->def->steps[si].name : NULL,
	                 .task_org_path = task_org && *task_org ? task_org : in->org_path,
	                 .opened_at = opened,
	                 .due_at = due,
	                 .at = r->now,
	                 .who = r->who,
	                 .reason = reason ? reason : "",
	                 .outcome = outcome,
	                 .instance_on_time = !in->due_at || r->now <= in->due_at};
	return tell(r->tx, &ev, r->e);
}

/* An entry of the instance's history (and of the audit chain), kept until
 * the job ends: flush_history writes them. */
static yz_status history(run *r, const inst *in, const char *command, const char *step, int64_t tok,
                         json_t *detail)
{
	if (r->nhist == r->hist_cap) {
		int cap = r->hist_cap ? r->hist_cap * 2 : 16;
		struct hist *h = arena_alloc(r->a, sizeof *h * (size_t)cap);
		if (!h)
			return yz_fail(r->e, YZ_ENOMEM, "out of memory");
		if (r->nhist)
			memcpy(h, r->hist, sizeof *h * (size_t)r->nhist);
		r->hist = h;
		r->hist_cap = cap;
	}
	struct hist *h = &r->hist[r->nhist];
	h->row.instance_id = in->id;
	h->row.command = arena_strdup(r->a, command);
	h->row.step = step ? arena_strdup(r->a, step) : NULL;
	h->row.token_id = tok;
	h->row.detail = detail ? json_incref(detail) : NULL;
	h->key = in->def->key;
	h->org_path = arena_strdup(r->a, in->org_path);
	if (!h->row.command || (step && !h->row.step) || !h->org_path) {
		json_decref(h->row.detail);
		return yz_fail(r->e, YZ_ENOMEM, "out of memory");
	}
	r->nhist++;
	return YZ_OK;
}

/* Write the job's history: the entries in one go, then one audit record
 * per instance with every entry of it ("flow.<its first command>"). */
static yz_status flush_history(run *r)
{
	if (!r->nhist)
		return YZ_OK;
	flow_history_row *rows = arena_alloc(r->a, sizeof *rows * (size_t)r->nhist);
	if (!rows)
		return yz_fail(r->e, YZ_ENOMEM, "out of memory");
	for (int i = 0; i < r->nhist; i++)
		rows[i] = r->hist[i].row;
	yz_status st = flow_history_add_rows(r->tx, r->now, r->who, rows, r->nhist, r->e);
	for (int i = 0; st == YZ_OK && i < r->nhist; i++) {
		int64_t id = r->hist[i].row.instance_id;
		bool seen = false;
		for (int k = 0; k < i && !seen; k++)
			seen = r->hist[k].row.instance_id == id;
		if (seen)
			continue;
		json_t *entries = json_array();
		for (int k = i; k < r->nhist; k++) {
			const struct hist *h = &r->hist[k];
			if (h->row.instance_id != id)
				continue;
			json_t *x = json_pack("{s:s, s:s?, s:I}", "command", h->row.command, "step",
			                      h->row.step, "token", (json_int_t)h->row.token_id);
			if (h->row.detail)
				json_object_set(x, "detail", h->row.detail);
			json_array_append_new(entries, x);
		}
		char obj[40], action[64];
		snprintf(obj, sizeof obj, "flow:%lld", (long long)id);
		snprintf(action, sizeof action, "flow.%s", r->hist[i].row.command);
		json_t *c = json_pack("{s:s, s:o}", "flow", r->hist[i].key, "entries", entries);
		const char *org = r->hist[i].org_path;
		st = audit_append(r->tx, r->who, action, obj, org[0] ? org : NULL, c, r->e);
		json_decref(c);
	}
	return st;
}

static void hist_free(run *r)
{
	for (int i = 0; i < r->nhist; i++)
		json_decref(r->hist[i].row.detail);
	r->nhist = 0;
}

/* The end of a job: its history when it succeeded, and what it held. */
static yz_status end_run(run *r, yz_status st)
{
	if (st == YZ_OK)
		st = flush_history(r);
	hist_free(r);
	arena_free(r->a);
	r->a = NULL;
	return st;
}

/* ---- candidates ---- */

static yz_status org_path_of_code(run *r, const char *code, char *out, size_t cap)
{
	int64_t id;
	yz_status st = iam_org_find_code(r->tx, code, &id, r->e);
	if (st == YZ_OK)
		st = iam_org_path(r->tx, id, out, cap, r->e);
	return st;
}

static yz_status load_grants(run *r)
{
	if (r->grants_loaded)
		return YZ_OK;
	r->grants_loaded = true;
	if (!r->who || !r->who->user_id)
		return YZ_OK;
	yz_status st = iam_user_roles(r->tx, r->who->user_id, r->a, &r->grants, &r->ngrants, r->e);
	if (st == YZ_OK && r->who->org_id)
		st = iam_org_path(r->tx, r->who->org_id, r->who_path, sizeof r->who_path, r->e);
	r->who_path_loaded = true;
	return st;
}

static bool prefix(const char *path, const char *pre)
{
	return pre && *pre && path && !strncmp(path, pre, strlen(pre));
}

typedef struct token {
	int64_t id;
	char step[64];
	char kind[16];
	char status[16];
	int64_t grp, prev, cand_user, assignee, created_at, due_at, child_id;
	char cand_role[64], cand_org[256], cand_dept[256];
} token;

static bool is_candidate(run *r, const token *t)
{
	if (!r->who || !r->who->user_id)
		return false;
	if (t->assignee)
		return t->assignee == r->who->user_id;
	if (load_grants(r) != YZ_OK)
		return false;
	if (t->cand_user && t->cand_user == r->who->user_id)
		return true;
	if (t->cand_dept[0] && prefix(r->who_path, t->cand_dept))
		return true;
	for (int i = 0; t->cand_role[0] && i < r->ngrants; i++)
		if (!strcmp(r->grants[i].role, t->cand_role) &&
		    prefix(t->cand_org, r->grants[i].path))
			return true;
	return false;
}

static bool holds_role(run *r, const char *role, const char *org_path)
{
	if (load_grants(r) != YZ_OK)
		return false;
	for (int i = 0; i < r->ngrants; i++)
		if (!strcmp(r->grants[i].role, role) && prefix(org_path, r->grants[i].path))
			return true;
	return false;
}

#define TOKEN_COLS                                                                                 \
	"id, step, kind, status, COALESCE(grp, 0), COALESCE(prev_token, 0), COALESCE(cand_user, "  \
	"0), "                                                                                     \
	"COALESCE(assignee, 0), created_at, COALESCE(due_at, 0), COALESCE(child_id, 0), "          \
	"COALESCE(cand_role, ''), COALESCE(cand_org_path, ''), COALESCE(cand_dept_path, '')"

static void read_token(store_rows *rows, token *t)
{
	t->id = store_col_int(rows, 0);
	yz_strlcpy(t->step, store_col_text(rows, 1), sizeof t->step);
	yz_strlcpy(t->kind, store_col_text(rows, 2), sizeof t->kind);
	yz_strlcpy(t->status, store_col_text(rows, 3), sizeof t->status);
	t->grp = store_col_int(rows, 4);
	t->prev = store_col_int(rows, 5);
	t->cand_user = store_col_int(rows, 6);
	t->assignee = store_col_int(rows, 7);
	t->created_at = store_col_int(rows, 8);
	t->due_at = store_col_int(rows, 9);
	t->child_id = store_col_int(rows, 10);
	yz_strlcpy(t->cand_role, store_col_text(rows, 11), sizeof t->cand_role);
	yz_strlcpy(t->cand_org, store_col_text(rows, 12), sizeof t->cand_org);
	yz_strlcpy(t->cand_dept, store_col_text(rows, 13), sizeof t->cand_dept);
}

static yz_status get_token(run *r, int64_t instance_id, int64_t id, token *t)
{
	store_rows *rows;
	store_val a[] = {sv_int(id), sv_int(instance_id)};
	yz_status st = store_query(r->tx,
	                           "SELECT " TOKEN_COLS " FROM flow_token WHERE id = ? AND "
	                           "instance_id = ?",
	                           a, 2, &rows, r->e);
	if (st != YZ_OK)
		return st;
	bool found = store_next(rows);
	if (found)
		read_token(rows, t);
	st = store_rows_close(rows, r->e);
	if (st == YZ_OK && !found)
		st = yz_fail(r->e, YZ_ENOTFOUND, "no task %lld in flow %lld", (long long)id,
		             (long long)instance_id);
	return st;
}

/* ---- creating positions ---- */

/* Timers of the instance (tok 0) or of one of its positions, in one
 * statement. */
static yz_status add_timers(run *r, const inst *in, int64_t tok, const char *const *kind,
                            const int64_t *due, int n)
{
	if (n <= 0)
		return YZ_OK;
	static const char *const sql[] = {
	    "INSERT INTO flow_timer (instance_id, token_id, kind, due_at) VALUES (?, ?, ?, ?)",
	    "INSERT INTO flow_timer (instance_id, token_id, kind, due_at) VALUES (?, ?, ?, ?), "
	    "(?, ?, ?, ?)",
	    "INSERT INTO flow_timer (instance_id, token_id, kind, due_at) VALUES (?, ?, ?, ?), "
	    "(?, ?, ?, ?), (?, ?, ?, ?)"};
	store_val a[12];
	int na = 0;
	for (int i = 0; i < n && i < 3; i++) {
		a[na++] = sv_int(in->id);
		a[na++] = tok ? sv_int(tok) : sv_null();
		a[na++] = sv_text(kind[i]);
		a[na++] = sv_int(due[i]);
	}
	return store_exec(r->tx, sql[(n > 3 ? 3 : n) - 1], a, na, r->e);
}

static yz_status add_timer(run *r, const inst *in, int64_t tok, const char *kind, int64_t due)
{
	return add_timers(r, in, tok, &kind, &due, 1);
}

/* A position ended: its timers go (a timer row lives only while pending). */
static yz_status settle_timers(run *r, int64_t instance_id, int64_t tok)
{
	store_val a[] = {sv_int(instance_id), sv_int(tok)};
	return store_exec(r->tx, "DELETE FROM flow_timer WHERE instance_id = ? AND token_id = ?", a,
	                  2, r->e);
}

static yz_status advance(run *r, inst *in, int step, int64_t grp, int64_t prev);
static yz_status close_instance(run *r, inst *in, const char *outcome, const char *command,
                                json_t *detail);
static yz_status set_suspended(run *r, inst *in, const char *kind, bool on);
static yz_status start_subflow(run *r, inst *in, const flow_step *s, int64_t grp, int64_t prev);

static yz_status insert_token(run *r, const inst *in, const flow_step *s, const char *kind,
                              const char *status, int64_t grp, int64_t prev, int64_t due,
                              const char *role, const char *org, const char *dept, int64_t user,
                              int64_t assignee, int64_t *id)
{
	store_val a[] = {sv_int(in->id),
	                 sv_text(s->id),
	                 sv_text(kind),
	                 sv_text(status),
	                 grp ? sv_int(grp) : sv_null(),
	                 prev ? sv_int(prev) : sv_null(),
	                 sv_text(role && *role ? role : NULL),
	                 sv_text(org && *org ? org : NULL),
	                 sv_text(dept && *dept ? dept : NULL),
	                 user ? sv_int(user) : sv_null(),
	                 assignee ? sv_int(assignee) : sv_null(),
	                 sv_int(r->now),
	                 due ? sv_int(due) : sv_null()};
	return store_query_int(
	    r->tx,
	    "INSERT INTO flow_token (instance_id, step, kind, status, grp, "
	    "prev_token, cand_role, cand_org_path, cand_dept_path, cand_user, "
	    "assignee, created_at, due_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
	    "?, ?, ?) RETURNING id",
	    a, SV_N(a), id, r->e);
}

/* Copy the instance (抄送) to the active holders of role within org_path;
 * *n (may be NULL) receives how many. */
static yz_status copy_to_role(run *r, inst *in, const char *role, const char *org_path, int *n)
{
	int64_t *ids;
	int k = 0;
	yz_status st = iam_role_holders(r->tx, role, org_path, r->a, &ids, &k, r->e);
	for (int i = 0; st == YZ_OK && i < k; i++) {
		store_val a[] = {sv_int(in->id), sv_int(ids[i]), sv_int(r->now)};
		st = store_exec(r->tx,
		                "INSERT INTO flow_cc (instance_id, user_id, at) VALUES (?, ?, ?) "
		                "ON CONFLICT DO NOTHING",
		                a, 3, r->e);
	}
	if (n)
		*n = k;
	return st;
}

/* A task: candidates from the step's assignee rule, a deadline and its
 * timers, copies to the cc role, a suspension while it is open. */
static yz_status open_task(run *r, inst *in, const flow_step *s, int64_t grp, int64_t prev,
                           int64_t direct)
{
	char org[256] = "", dept[256] = "";
	const char *role = NULL;
	int64_t user = 0;
	yz_status st = YZ_OK;
	if (s->assignee == ASSIGN_ROLE) {
		role = s->role;
		if (!strcmp(s->org, "$owner"))
			st = in->def->owner ? org_path_of_code(r, in->def->owner, org, sizeof org)
			                    : (yz_strlcpy(org, in->org_path, sizeof org), YZ_OK);
		else if (!strcmp(s->org, "$starter_org"))
			yz_strlcpy(org, in->starter_org, sizeof org);
		else
			st = org_path_of_code(r, s->org, org, sizeof org);
	} else if (s->assignee == ASSIGN_DEPT) {
		st = org_path_of_code(r, s->org, dept, sizeof dept);
	} else {
		user = in->starter;
	}
	if (st != YZ_OK)
		return st;
	int64_t due = s->limit.unit ? flow_deadline(&s->limit, r->now) : 0;
	int64_t id;
	st = insert_token(r, in, s, "task", "active", grp, prev, due, role, org, dept, user, direct,
	                  &id);
	if (st == YZ_OK && due) {
		const char *kinds[3];
		int64_t at[3];
		int nt = 0;
		kinds[nt] = "reminder";
		at[nt++] = shift_workdays(due, -1);
		/* two thirds of a limit of working days used (supervision may warn) */
		if (s->limit.unit == LIMIT_WORKDAYS && s->limit.n >= 3 && flow_calendar()) {
			int64_t tt = calendar_deadline_workdays(flow_calendar(), r->now,
			                                        (2 * s->limit.n + 2) / 3);
			if (tt < due) {
				kinds[nt] = "twothirds";
				at[nt++] = tt;
			}
		}
		kinds[nt] = "overdue";
		at[nt++] = due;
		st = add_timers(r, in, id, kinds, at, nt);
	}
	if (st == YZ_OK && s->cc_role)
		st = copy_to_role(r, in, s->cc_role, org[0] ? org : in->org_path, NULL);
	if (st == YZ_OK && s->suspends && strcmp(in->status, "suspended") != 0)
		st = set_suspended(r, in, s->suspends, true);
	json_t *d = json_pack("{s:I}", "task", (json_int_t)id);
	if (due) {
		char t[40];
		clock_format_city(due, t, sizeof t);
		jx_set_str(d, "due", t);
	}
	if (st == YZ_OK)
		st = history(r, in, "task.open", s->id, id, d);
	json_decref(d);
	if (st == YZ_OK)
		st = emit(r, in, FLOW_EV_TASK_OPENED, id, s->id, r->now, due, org[0] ? org : dept,
		          NULL, NULL);
	return st;
}

/* Cancel every active position of a group and of the groups nested in it. */
static yz_status cancel_group(run *r, inst *in, int64_t grp)
{
	int64_t stack[64];
	int top = 0;
	stack[top++] = grp;
	yz_status st = YZ_OK;
	while (top && st == YZ_OK) {
		int64_t g = stack[--top];
		store_val a[] = {sv_int(r->now), sv_int(in->id), sv_int(g)};
		st = store_exec(r->tx,
		                "UPDATE flow_token SET status = 'cancelled', done_at = ? WHERE "
		                "instance_id = ? AND grp = ? AND status IN ('active', 'waiting')",
		                a, 3, r->e);
		if (st != YZ_OK)
			break;
		store_val b[] = {sv_int(in->id), sv_int(in->id), sv_int(g)};
		st = store_exec(r->tx,
		                "DELETE FROM flow_timer WHERE instance_id = ? AND token_id IN "
		                "(SELECT id FROM flow_token WHERE instance_id = ? AND grp = ?)",
		                b, 3, r->e);
		store_rows *rows;
		store_val c[] = {sv_int(in->id), sv_int(g)};
		if (st == YZ_OK)
			st = store_query(
			    r->tx,
			    "SELECT id FROM flow_group WHERE instance_id = ? AND parent_grp = ?", c,
			    2, &rows, r->e);
		if (st != YZ_OK)
			break;
		while (store_next(rows) && top < 64)
			stack[top++] = store_col_int(rows, 0);
		st = store_rows_close(rows, r->e);
	}
	return st;
}

static yz_status arrive_join(run *r, inst *in, int join, int64_t grp, int64_t prev)
{
	const flow_step *s = &in->def->steps[join];
	if (!grp)
		return yz_fail(r->e, YZ_EINTERNAL, "join %s reached outside its split", s->id);
	store_rows *rows;
	store_val a[] = {sv_int(grp), sv_int(in->id)};
	yz_status st =
	    store_query(r->tx,
	                "UPDATE flow_group SET arrived = arrived + 1 WHERE id = ? AND "
	                "instance_id = ? RETURNING arrived, need, fired, COALESCE(parent_grp, "
	                "0)",
	                a, 2, &rows, r->e);
	if (st != YZ_OK)
		return st;
	int64_t arrived = 0, need = 0, fired = 1, parent = 0;
	if (store_next(rows)) {
		arrived = store_col_int(rows, 0);
		need = store_col_int(rows, 1);
		fired = store_col_int(rows, 2);
		parent = store_col_int(rows, 3);
	}
	st = store_rows_close(rows, r->e);
	if (st != YZ_OK)
		return st;
	json_t *d = json_pack("{s:I, s:I, s:I}", "group", (json_int_t)grp, "arrived",
	                      (json_int_t)arrived, "need", (json_int_t)need);
	st = history(r, in, "join.arrive", s->id, prev, d);
	json_decref(d);
	if (st != YZ_OK || fired || arrived < need)
		return st;
	store_val b[] = {sv_int(grp)};
	st = store_exec(r->tx, "UPDATE flow_group SET fired = 1 WHERE id = ?", b, 1, r->e);
	if (st == YZ_OK)
		st = cancel_group(r, in, grp); /* the branches still running (any / n of m) */
	if (st == YZ_OK)
		st = history(r, in, "join.fire", s->id, 0, NULL);
	if (st == YZ_OK)
		st = advance(r, in, s->next, parent, prev);
	return st;
}

/* Run from `step` on: automatic steps run now; a task, a timer or a subflow
 * waits; an end closes the instance. */
static yz_status advance(run *r, inst *in, int step, int64_t grp, int64_t prev)
{
	if (++r->steps_run > 1000)
		return yz_fail(r->e, YZ_EINTERNAL,
		               "flow %s loops through more than 1000 steps without waiting",
		               in->def->key);
	if (in->closed_now || !strcmp(in->status, "closed"))
		return YZ_OK;
	const flow_step *s = &in->def->steps[step];
	yz_status st;
	switch (s->kind) {
	case STEP_TASK:
		return open_task(r, in, s, grp, prev, 0);
	case STEP_PARALLEL: {
		const flow_step *j = &in->def->steps[s->join];
		int64_t g;
		int need = j->need ? j->need : s->nbranches;
		store_val a[] = {sv_int(in->id),       sv_text(s->id),
		                 sv_text(j->id),       grp ? sv_int(grp) : sv_null(),
		                 sv_int(s->nbranches), sv_int(need)};
		st = store_query_int(
		    r->tx,
		    "INSERT INTO flow_group (instance_id, split, join_step, parent_grp, "
		    "branches, need) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
		    a, SV_N(a), &g, r->e);
		json_t *d =
		    json_pack("{s:I, s:i}", "group", (json_int_t)g, "branches", s->nbranches);
		if (st == YZ_OK)
			st = history(r, in, "split", s->id, prev, d);
		json_decref(d);
		for (int i = 0; st == YZ_OK && i < s->nbranches; i++)
			st = advance(r, in, s->branches[i], g, prev);
		return st;
	}
	case STEP_JOIN:
		return arrive_join(r, in, step, grp, prev);
	case STEP_DECISION: {
		int next = s->next;
		int matched = -1;
		for (int i = 0; i < s->nrules && matched < 0; i++)
			if (s->rules[i].when && flow_rule_matches(s->rules[i].when, in->data))
				matched = i;
		if (matched >= 0)
			next = s->rules[matched].next;
		json_t *d =
		    json_pack("{s:i, s:s}", "rule", matched, "next", in->def->steps[next].id);
		st = history(r, in, "decide", s->id, prev, d);
		json_decref(d);
		return st == YZ_OK ? advance(r, in, next, grp, prev) : st;
	}
	case STEP_TIMER: {
		int64_t due = flow_deadline(&s->limit, r->now), id;
		st = insert_token(r, in, s, "timer", "waiting", grp, prev, due, NULL, NULL, NULL, 0,
		                  0, &id);
		if (st == YZ_OK)
			st = add_timer(r, in, id, "step", due);
		return st == YZ_OK ? history(r, in, "timer.wait", s->id, id, NULL) : st;
	}
	case STEP_SUBFLOW:
		return start_subflow(r, in, s, grp, prev);
	case STEP_END:
		return close_instance(r, in, s->outcome, "end", NULL);
	}
	return yz_fail(r->e, YZ_EINTERNAL, "unknown step kind");
}

/* ---- suspension, closing ---- */

/* Push every open deadline of the instance by the working days a suspension
 * lasted. */
static yz_status shift_deadlines(run *r, inst *in, int days)
{
	if (!days)
		return YZ_OK;
	store_rows *rows;
	store_val a[] = {sv_int(in->id)};
	yz_status st =
	    store_query(r->tx,
	                "SELECT id, due_at FROM flow_token WHERE instance_id = ? AND status "
	                "IN ('active', 'waiting') AND due_at IS NOT NULL",
	                a, 1, &rows, r->e);
	if (st != YZ_OK)
		return st;
	int64_t ids[256], dues[256];
	int n = 0;
	while (store_next(rows) && n < 256) {
		ids[n] = store_col_int(rows, 0);
		dues[n++] = store_col_int(rows, 1);
	}
	st = store_rows_close(rows, r->e);
	for (int i = 0; st == YZ_OK && i < n; i++) {
		int64_t nd = shift_workdays(dues[i], days);
		store_val b[] = {sv_int(nd), sv_int(days), sv_int(ids[i])};
		st = store_exec(
		    r->tx,
		    "UPDATE flow_token SET due_at = ?, shift_days = shift_days + ? WHERE id = ?", b,
		    3, r->e);
		store_val c[] = {sv_int(nd), sv_int(in->id), sv_int(ids[i])};
		if (st == YZ_OK)
			st = store_exec(r->tx,
			                "UPDATE flow_timer SET due_at = ? WHERE instance_id = ? "
			                "AND token_id = ? "
			                "AND kind = 'overdue' AND fired_at IS NULL",
			                c, 3, r->e);
		store_val d[] = {sv_int(shift_workdays(nd, -1)), sv_int(in->id), sv_int(ids[i])};
		if (st == YZ_OK)
			st = store_exec(r->tx,
			                "UPDATE flow_timer SET due_at = ? WHERE instance_id = ? "
			                "AND token_id = ? "
			                "AND kind = 'reminder' AND fired_at IS NULL",
			                d, 3, r->e);
	}
	if (st != YZ_OK)
		return st;
	if (in->due_at)
		in->due_at = shift_workdays(in->due_at, days);
	if (in->statutory_at)
		in->statutory_at = shift_workdays(in->statutory_at, days);
	in->shift_days += days;
	/* the instance's own timers follow */
	const char *kinds[] = {"inst_overdue", "inst_reminder", "statutory"};
	int64_t at[] = {in->due_at, in->due_at ? shift_workdays(in->due_at, -1) : 0,
	                in->statutory_at};
	for (int k = 0; st == YZ_OK && k < 3; k++) {
		if (!at[k])
			continue;
		store_val e2[] = {sv_int(at[k]), sv_int(in->id), sv_text(kinds[k])};
		st = store_exec(
		    r->tx,
		    "UPDATE flow_timer SET due_at = ? WHERE instance_id = ? AND token_id IS "
		    "NULL AND kind = ? AND fired_at IS NULL",
		    e2, 3, r->e);
	}
	return st;
}

static yz_status set_suspended(run *r, inst *in, const char *kind, bool on)
{
	if (on) {
		yz_strlcpy(in->status, "suspended", sizeof in->status);
		in->suspended_at = r->now;
		yz_strlcpy(in->suspend_kind, kind, sizeof in->suspend_kind);
		json_t *d = json_pack("{s:s}", "kind", kind);
		yz_status st = history(r, in, "suspend", NULL, 0, d);
		json_decref(d);
		return st == YZ_OK ? emit(r, in, FLOW_EV_SUSPENDED, 0, NULL, 0, 0, NULL, NULL, NULL)
		                   : st;
	}
	/* the working days the clock stood still: from the day after the
	 * suspension began up to and including the day it ends */
	int days = 0;
	const calendar *cal = flow_calendar();
	if (cal && in->suspended_at)
		days = calendar_workdays_between(cal, city_day(in->suspended_at), city_day(r->now));
	in->suspended_ms += r->now - in->suspended_at;
	yz_strlcpy(in->status, "open", sizeof in->status);
	char was[16];
	yz_strlcpy(was, in->suspend_kind, sizeof was);
	in->suspended_at = 0;
	in->suspend_kind[0] = '\0';
	yz_status st = shift_deadlines(r, in, days);
	json_t *d = json_pack("{s:s, s:i}", "kind", was, "workdays_added", days);
	if (st == YZ_OK)
		st = history(r, in, "resume", NULL, 0, d);
	json_decref(d);
	return st == YZ_OK ? emit(r, in, FLOW_EV_RESUMED, 0, NULL, 0, 0, NULL, NULL, NULL) : st;
}

static yz_status continue_parent(run *r, inst *child);

static yz_status close_instance(run *r, inst *in, const char *outcome, const char *command,
                                json_t *detail)
{
	store_val a[] = {sv_int(r->now), sv_int(in->id)};
	yz_status st = store_exec(r->tx,
	                          "UPDATE flow_token SET status = 'cancelled', done_at = ? WHERE "
	                          "instance_id = ? AND status IN ('active', 'waiting')",
	                          a, 2, r->e);
	store_val b[] = {sv_int(in->id)};
	if (st == YZ_OK)
		st = store_exec(r->tx, "DELETE FROM flow_timer WHERE instance_id = ?", b, 1, r->e);
	if (st != YZ_OK)
		return st;
	if (!strcmp(in->status, "suspended"))
		in->suspended_ms += r->now - in->suspended_at;
	yz_strlcpy(in->status, "closed", sizeof in->status);
	yz_strlcpy(in->outcome, outcome, sizeof in->outcome);
	in->suspended_at = 0;
	in->suspend_kind[0] = '\0';
	in->closed_now = true;
	json_t *d = detail ? json_incref(detail) : json_object();
	jx_set_str(d, "outcome", outcome);
	st = history(r, in, command, NULL, 0, d);
	json_decref(d);
	if (st == YZ_OK)
		st = emit(r, in, FLOW_EV_CLOSED, 0, NULL, in->started_at, in->due_at, NULL, NULL,
		          outcome);
	if (st == YZ_OK && in->parent_id)
		st = continue_parent(r, in);
	return st;
}

/* ---- start ---- */

static bool may_start(run *r, const flow_def *d)
{
	if (!d->starters)
		return r->who && r->who->user_id; /* anyone signed in */
	size_t i;
	json_t *x;
	json_array_foreach (d->starters, i, x) {
		const char *s = json_string_value(x);
		if (!s)
			continue;
		if (!strcmp(s, "public") || (!strcmp(s, "signed-in") && r->who && r->who->user_id))
			return true;
		if (r->who && r->who->user_id && load_grants(r) == YZ_OK)
			for (int k = 0; k < r->ngrants; k++)
				if (!strcmp(r->grants[k].role, s))
					return true;
	}
	return false;
}

static yz_status start_in(run *r, const flow_def *d, json_t *in_doc, int64_t parent,
                          int64_t parent_token, int64_t *id)
{
	json_t *data = json_object_get(in_doc, "data");
	yz_status st = flow_form_validate(d->form, data, false, r->e);
	if (st != YZ_OK)
		return st;
	inst in = {0};
	in.def = d;
	yz_strlcpy(in.status, "open", sizeof in.status);
	in.data = data ? json_deep_copy(data) : json_object();
	in.starter = r->who ? r->who->user_id : 0;
	in.parent_id = parent;
	in.parent_token = parent_token;
	in.started_at = r->now;
	yz_strlcpy(in.title, jx_str(in_doc, "title", d->name), sizeof in.title);
	st = load_grants(r);
	yz_strlcpy(in.starter_org, r->who_path, sizeof in.starter_org);
	const char *org = jx_str(in_doc, "org", d->owner);
	if (st == YZ_OK && org)
		st = org_path_of_code(r, org, in.org_path, sizeof in.org_path);
	else if (st == YZ_OK)
		yz_strlcpy(in.org_path, in.starter_org, sizeof in.org_path);
	if (st != YZ_OK) {
		inst_free(&in);
		return st;
	}
	in.due_at = d->limit.unit ? flow_deadline(&d->limit, r->now) : 0;
	in.statutory_at = d->statutory.unit ? flow_deadline(&d->statutory, r->now) : 0;
	char *text = json_dumps(in.data, JSON_COMPACT | JSON_SORT_KEYS);
	store_val a[] = {sv_text(d->key),
	                 sv_int(d->version),
	                 sv_text(in.title),
	                 sv_text(text ? text : "{}"),
	                 sv_int(in.starter),
	                 sv_text(in.starter_org),
	                 sv_text(in.org_path),
	                 parent ? sv_int(parent) : sv_null(),
	                 parent_token ? sv_int(parent_token) : sv_null(),
	                 sv_int(r->now),
	                 in.due_at ? sv_int(in.due_at) : sv_null(),
	                 in.statutory_at ? sv_int(in.statutory_at) : sv_null()};
	st = store_query_int(
	    r->tx,
	    "INSERT INTO flow_instance (def_key, def_version, title, status, data, "
	    "starter_id, starter_org_path, org_path, parent_id, parent_token, "
	    "started_at, due_at, statutory_at) VALUES (?, ?, ?, 'open', ?, ?, ?, ?, ?, "
	    "?, ?, ?, ?) RETURNING id",
	    a, SV_N(a), &in.id, r->e);
	free(text);
	if (st == YZ_OK) {
		const char *kinds[3];
		int64_t at[3];
		int nt = 0;
		if (in.due_at) {
			kinds[nt] = "inst_reminder";
			at[nt++] = shift_workdays(in.due_at, -1);
			kinds[nt] = "inst_overdue";
			at[nt++] = in.due_at;
		}
		if (in.statutory_at) {
			kinds[nt] = "statutory";
			at[nt++] = in.statutory_at;
		}
		st = add_timers(r, &in, 0, kinds, at, nt);
	}
	json_t *h = json_pack("{s:i, s:O}", "version", d->version, "data", in.data);
	if (st == YZ_OK)
		st = history(r, &in, "start", NULL, 0, h);
	json_decref(h);
	if (st == YZ_OK)
		st = emit(r, &in, FLOW_EV_STARTED, 0, NULL, r->now, in.due_at, NULL, NULL, NULL);
	if (st == YZ_OK)
		st = advance(r, &in, d->start, 0, 0);
	if (st == YZ_OK)
		st = save_instance(r, &in);
	*id = in.id;
	inst_free(&in);
	return st;
}

/* A subflow step: start the child, the parent's position waits for it. */
static yz_status start_subflow(run *r, inst *in, const flow_step *s, int64_t grp, int64_t prev)
{
	const flow_def *child = flow_def_get(s->subflow, 0);
	if (!child)
		return yz_fail(r->e, YZ_EINTERNAL, "subflow %s is not loaded", s->subflow);
	int64_t due = s->limit.unit ? flow_deadline(&s->limit, r->now) : 0, tok;
	yz_status st = insert_token(r, in, s, "subflow", "waiting", grp, prev, due, NULL, NULL,
	                            NULL, 0, 0, &tok);
	if (st != YZ_OK)
		return st;
	json_t *doc = json_pack("{s:s, s:O}", "title", child->name, "data", in->data);
	int64_t cid = 0;
	/* the child sees the parent's data as far as its own form declares it */
	json_t *cdata = json_object();
	size_t i;
	json_t *f;
	json_array_foreach (child->form, i, f) { /* none: json_array_size(NULL) is 0 */
		json_t *v = json_object_get(in->data, jx_str(f, "name", ""));
		if (v)
			json_object_set(cdata, jx_str(f, "name", ""), v);
	}
	json_object_set_new(doc, "data", cdata);
	st = start_in(r, child, doc, in->id, tok, &cid);
	json_decref(doc);
	store_val a[] = {sv_int(cid), sv_int(tok)};
	if (st == YZ_OK)
		st = store_exec(r->tx, "UPDATE flow_token SET child_id = ? WHERE id = ?", a, 2,
		                r->e);
	json_t *d = json_pack("{s:I}", "child", (json_int_t)cid);
	if (st == YZ_OK)
		st = history(r, in, "subflow.start", s->id, tok, d);
	json_decref(d);
	return st;
}

static yz_status continue_parent(run *r, inst *child)
{
	inst p;
	yz_status st = lock_instance(r, child->parent_id, &p);
	if (st != YZ_OK)
		return st;
	token t;
	st = get_token(r, p.id, child->parent_token, &t);
	if (st == YZ_OK && !strcmp(t.status, "waiting")) {
		store_val a[] = {sv_int(r->now), sv_text(child->outcome), sv_int(t.id)};
		st = store_exec(
		    r->tx,
		    "UPDATE flow_token SET status = 'done', done_at = ?, outcome = ? WHERE id "
		    "= ?",
		    a, 3, r->e);
		if (st == YZ_OK)
			st = settle_timers(r, p.id, t.id);
		json_t *d = json_pack("{s:I, s:s}", "child", (json_int_t)child->id, "outcome",
		                      child->outcome);
		if (st == YZ_OK)
			st = history(r, &p, "subflow.end", t.step, t.id, d);
		json_decref(d);
		int si = flow_def_step_index(p.def, t.step);
		if (st == YZ_OK && si >= 0)
			st = advance(r, &p, p.def->steps[si].next, t.grp, t.id);
		if (st == YZ_OK)
			st = save_instance(r, &p);
	}
	inst_free(&p);
	return st;
}

/* ---- commands ---- */

/* The commands `who` may give now, for the 409 message and the instance page. */
static void legal_commands(run *r, inst *in, json_t *out_list)
{
	if (!strcmp(in->status, "closed"))
		return;
	store_rows *rows;
	store_val a[] = {sv_int(in->id)};
	if (store_query(r->tx,
	                "SELECT " TOKEN_COLS " FROM flow_token WHERE instance_id = ? AND status = "
	                "'active' AND kind = 'task' ORDER BY id",
	                a, 1, &rows, NULL) != YZ_OK)
		return;
	token toks[64];
	int n = 0;
	while (store_next(rows) && n < 64)
		read_token(rows, &toks[n++]);
	store_rows_discard(rows);
	bool suspended = !strcmp(in->status, "suspended");
	bool handler = false;
	for (int i = 0; i < n; i++) {
		if (!is_candidate(r, &toks[i]))
			continue;
		handler = true;
		int si = flow_def_step_index(in->def, toks[i].step);
		bool correction_task = si >= 0 && in->def->steps[si].suspends;
		char c[96];
		if (!toks[i].assignee) {
			snprintf(c, sizeof c, "claim %lld", (long long)toks[i].id);
			json_array_append_new(out_list, json_string(c));
		}
		if (!suspended || correction_task) {
			static const char *const per_task[] = {"complete", "return", "reject",
			                                       "transfer"};
			for (int k = 0; k < 4; k++) {
				if (k == 1 && !toks[i].prev)
					continue;
				snprintf(c, sizeof c, "%s %lld", per_task[k],
				         (long long)toks[i].id);
				json_array_append_new(out_list, json_string(c));
			}
		}
	}
	bool starter = r->who && r->who->user_id == in->starter;
	if (!suspended && handler)
		json_array_append_new(out_list, json_string("suspend"));
	if (suspended && (handler || starter))
		json_array_append_new(out_list, json_string("resume"));
	for (int k = 0; k < in->def->next_ext; k++)
		if (holds_role(r, in->def->ext[k].role, in->org_path)) {
			json_array_append_new(out_list, json_string("extend"));
			break;
		}
	if (starter)
		json_array_append_new(out_list, json_string("withdraw"));
	json_array_append_new(out_list, json_string("comment"));
}

/* Whether `who` may give the (instance-wide) command now. */
static bool command_allowed(run *r, inst *in, const char *command)
{
	json_t *legal = json_array();
	legal_commands(r, in, legal);
	bool allowed = false;
	size_t i;
	json_t *x;
	json_array_foreach (legal, i, x)
		allowed |= !strcmp(json_string_value(x), command);
	json_decref(legal);
	return allowed;
}

static yz_status refuse(run *r, inst *in, const char *why)
{
	json_t *legal = json_array();
	legal_commands(r, in, legal);
	char list[512] = "";
	size_t i;
	json_t *x;
	json_array_foreach (legal, i, x) {
		size_t n = strlen(list);
		snprintf(list + n, sizeof list - n, "%s%s", n ? ", " : "", json_string_value(x));
	}
	json_decref(legal);
	return yz_fail(r->e, YZ_ECONFLICT, "%s; allowed now: %s", why, list[0] ? list : "nothing");
}

typedef struct cmd_job {
	const yz_actor *who;
	int64_t instance_id, task_id;
	flow_cmd cmd;
	json_t *in;
	const char *idem;
	const char *key; /* start */
	int64_t out_id;
	bool replayed;
} cmd_job;

static const char *arg_str(json_t *in, const char *k)
{
	const char *s = jx_str(in, k, "");
	return s ? s : "";
}

static yz_status check_args(json_t *in, const char *const *allowed, yz_err *e)
{
	const char *k;
	json_t *v;
	yz_status st = YZ_OK;
	json_object_foreach (in, k, v) {
		bool ok = false;
		for (int i = 0; allowed[i] && !ok; i++)
			ok = !strcmp(allowed[i], k);
		if (!ok)
			st = yz_field(e, k, "unknown-field", "an argument of this command", NULL);
	}
	return st;
}

static yz_status task_done(run *r, inst *in, const token *t, const char *outcome, int64_t *done_ok)
{
	store_val a[] = {sv_int(r->now), sv_int(r->who ? r->who->user_id : 0), sv_text(outcome),
	                 sv_int(t->id)};
	yz_status st =
	    store_exec(r->tx,
	               "UPDATE flow_token SET status = 'done', done_at = ?, done_by = ?, "
	               "outcome = ? WHERE id = ? AND status = 'active'",
	               a, 4, r->e);
	if (st == YZ_OK && store_changes(r->tx) != 1)
		st = yz_fail(r->e, YZ_ECONFLICT, "the task is no longer open");
	if (st == YZ_OK)
		st = settle_timers(r, in->id, t->id);
	if (done_ok)
		*done_ok = t->id;
	return st;
}

static yz_status do_command(run *r, cmd_job *j)
{
	inst in;
	yz_status st = lock_instance(r, j->instance_id, &in);
	if (st != YZ_OK)
		return st;
	json_t *args = j->in; /* may be NULL: every reader of it takes NULL as empty */
	if (!strcmp(in.status, "closed")) {
		st = yz_fail(r->e, YZ_ECONFLICT, "the flow is closed (%s): no command applies",
		             in.outcome);
		goto out;
	}
	token t = {0};
	const flow_step *s = NULL;
	bool needs_task = j->cmd == FLOW_CLAIM || j->cmd == FLOW_COMPLETE ||
	                  j->cmd == FLOW_RETURN || j->cmd == FLOW_REJECT || j->cmd == FLOW_TRANSFER;
	if (needs_task) {
		st = get_token(r, in.id, j->task_id, &t);
		if (st != YZ_OK)
			goto out;
		if (strcmp(t.status, "active") != 0 || strcmp(t.kind, "task") != 0) {
			st = refuse(r, &in, "that task is not open");
			goto out;
		}
		int si = flow_def_step_index(in.def, t.step);
		if (si < 0) {
			st =
			    yz_fail(r->e, YZ_EINTERNAL, "step %s is not in the definition", t.step);
			goto out;
		}
		s = &in.def->steps[si];
		if (!is_candidate(r, &t)) {
			st = yz_fail(r->e, YZ_EFORBIDDEN, "you are not a handler of this task");
			goto out;
		}
		if (!strcmp(in.status, "suspended") && !s->suspends && j->cmd != FLOW_CLAIM &&
		    j->cmd != FLOW_TRANSFER) {
			st = refuse(r, &in, "the flow is suspended");
			goto out;
		}
	}
	json_t *detail = json_object();
	switch (j->cmd) {
	case FLOW_CLAIM: {
		static const char *const ok[] = {NULL};
		st = check_args(args, ok, r->e);
		if (st != YZ_OK)
			break;
		if (t.assignee) {
			st = refuse(r, &in, "the task is already claimed");
			break;
		}
		store_val a[] = {sv_int(r->who->user_id), sv_int(t.id)};
		st = store_exec(
		    r->tx, "UPDATE flow_token SET assignee = ? WHERE id = ? AND assignee IS NULL",
		    a, 2, r->e);
		if (st == YZ_OK)
			st = history(r, &in, "claim", t.step, t.id, NULL);
		break;
	}
	case FLOW_COMPLETE: {
		static const char *const ok[] = {"outcome", "data", "comment", NULL};
		st = check_args(args, ok, r->e);
		if (st != YZ_OK)
			break;
		const char *name =
		    jx_str(args, "outcome", s->noutcomes == 1 ? s->outcomes[0].name : "");
		const flow_outcome *o = NULL;
		for (int i = 0; i < s->noutcomes && !o; i++)
			if (!strcmp(s->outcomes[i].name, name))
				o = &s->outcomes[i];
		if (!o) {
			char exp[256] = "";
			for (int i = 0; i < s->noutcomes; i++) {
				size_t n = strlen(exp);
				snprintf(exp + n, sizeof exp - n, "%s%s", i ? ", " : "",
				         s->outcomes[i].name);
			}
			st = yz_field(r->e, "outcome", "enum", exp, name);
			break;
		}
		if (o->reason_required && !*arg_str(args, "comment")) {
			st = yz_field(r->e, "comment", "required", "a reason for this outcome",
			              NULL);
			break;
		}
		json_t *data = json_object_get(args, "data");
		if (data || s->form) {
			st = flow_form_validate(s->form, data, false, r->e);
			if (st != YZ_OK)
				break;
			if (data)
				json_object_update(in.data, data);
		}
		st = task_done(r, &in, &t, o->name, NULL);
		jx_set_str(detail, "outcome", o->name);
		if (data)
			json_object_set(detail, "data", data);
		if (*arg_str(args, "comment"))
			jx_set_str(detail, "comment", arg_str(args, "comment"));
		if (st == YZ_OK)
			st = history(r, &in, "complete", t.step, t.id, detail);
		if (st == YZ_OK)
			st = emit(r, &in, FLOW_EV_TASK_DONE, t.id, t.step, t.created_at, t.due_at,
			          t.cand_org[0] ? t.cand_org : t.cand_dept, NULL, o->name);
		if (st == YZ_OK && s->suspends && !strcmp(in.status, "suspended"))
			st = set_suspended(r, &in, NULL, false);
		if (st == YZ_OK)
			st = advance(r, &in, o->next, t.grp, t.id);
		break;
	}
	case FLOW_RETURN: {
		static const char *const ok[] = {"reason", NULL};
		st = check_args(args, ok, r->e);
		if (st != YZ_OK)
			break;
		token p;
		if (!t.prev) {
			st = refuse(r, &in, "this task has no step before it to return to");
			break;
		}
		st = get_token(r, in.id, t.prev, &p);
		if (st != YZ_OK)
			break;
		int pi = flow_def_step_index(in.def, p.step);
		if (pi < 0 || in.def->steps[pi].kind != STEP_TASK) {
			st = refuse(r, &in, "the step before is not a task to return to");
			break;
		}
		st = task_done(r, &in, &t, "returned", NULL);
		jx_set_str(detail, "reason", arg_str(args, "reason"));
		jx_set_str(detail, "to", p.step);
		if (st == YZ_OK)
			st = history(r, &in, "return", t.step, t.id, detail);
		if (st == YZ_OK)
			st = emit(r, &in, FLOW_EV_RETURNED, t.id, t.step, t.created_at, t.due_at,
			          t.cand_org, arg_str(args, "reason"), NULL);
		/* the previous handler gets the task back directly */
		if (st == YZ_OK)
			st = open_task(r, &in, &in.def->steps[pi], t.grp, t.id,
			               p.assignee ? p.assignee : 0);
		break;
	}
	case FLOW_REJECT: {
		static const char *const ok[] = {"reason", NULL};
		st = check_args(args, ok, r->e);
		if (st != YZ_OK)
			break;
		st = task_done(r, &in, &t, "rejected", NULL);
		jx_set_str(detail, "reason", arg_str(args, "reason"));
		if (st == YZ_OK)
			st = emit(r, &in, FLOW_EV_REJECTED, t.id, t.step, t.created_at, t.due_at,
			          t.cand_org, arg_str(args, "reason"), "rejected");
		if (st == YZ_OK)
			st = close_instance(r, &in, "rejected", "reject", detail);
		break;
	}
	case FLOW_TRANSFER: {
		static const char *const ok[] = {"user", "org", "reason", NULL};
		st = check_args(args, ok, r->e);
		if (st != YZ_OK)
			break;
		const char *user = jx_str(args, "user", NULL), *org = jx_str(args, "org", NULL);
		if (!user == !org) {
			st = yz_field(r->e, "user", "one-of",
			              "either user (a login) or org (a code)", NULL);
			break;
		}
		int64_t uid = 0, uorg;
		char path[256] = "";
		if (user) {
			st = iam_user_find(r->tx, user, &uid, &uorg, path, sizeof path, r->e);
			if (st == YZ_ENOTFOUND) {
				*r->e = (yz_err){0};
				st = yz_field(r->e, "user", "exists", "the login of an active user",
				              user);
			}
		} else {
			st = org_path_of_code(r, org, path, sizeof path);
			if (st == YZ_ENOTFOUND) {
				*r->e = (yz_err){0};
				st = yz_field(r->e, "org", "exists", "an organisation code", org);
			}
		}
		if (st != YZ_OK)
			break;
		store_val a[] = {uid ? sv_int(uid) : sv_null(), uid ? sv_null() : sv_text(path),
		                 uid ? sv_int(uid) : sv_null(), sv_int(t.id)};
		st = store_exec(
		    r->tx,
		    "UPDATE flow_token SET assignee = ?, cand_dept_path = ?, cand_role = NULL, "
		    "cand_org_path = NULL, cand_user = ? WHERE id = ?",
		    a, 4, r->e);
		jx_set_str(detail, user ? "user" : "org", user ? user : org);
		jx_set_str(detail, "reason", arg_str(args, "reason"));
		if (st == YZ_OK)
			st = history(r, &in, "transfer", t.step, t.id, detail);
		if (st == YZ_OK && nlisteners) {
			int si = flow_def_step_index(in.def, t.step);
			flow_event ev = {.kind = FLOW_EV_TRANSFERRED,
			                 .instance_id = in.id,
			                 .flow_key = in.def->key,
			                 .flow_name = in.def->name,
			                 .title = in.title,
			                 .org_path = in.org_path,
			                 .token_id = t.id,
			                 .step = t.step,
			                 .step_name = si >= 0 ? in.def->steps[si].name : t.step,
			                 .task_org_path = t.cand_org[0] ? t.cand_org : t.cand_dept,
			                 .opened_at = t.created_at,
			                 .due_at = t.due_at,
			                 .at = r->now,
			                 .who = r->who,
			                 .reason = arg_str(args, "reason"),
			                 .instance_on_time = !in.due_at || r->now <= in.due_at,
			                 .waited_ms = r->now - t.created_at};
			st = tell(r->tx, &ev, r->e);
		}
		break;
	}
	case FLOW_SUSPEND: {
		static const char *const ok[] = {"kind", "reason", NULL};
		st = check_args(args, ok, r->e);
		if (st != YZ_OK)
			break;
		const char *kind = jx_str(args, "kind", "");
		if (strcmp(kind, "correction") && strcmp(kind, "hearing") &&
		    strcmp(kind, "testing") && strcmp(kind, "expert")) {
			st = yz_field(r->e, "kind", "enum",
			              "correction, hearing, testing or expert", kind);
			break;
		}
		if (!strcmp(in.status, "suspended")) {
			st = refuse(r, &in, "the flow is already suspended");
			break;
		}
		/* handlers of an open task may stop the clock */
		if (!command_allowed(r, &in, "suspend")) {
			st = yz_fail(r->e, YZ_EFORBIDDEN,
			             "only a handler of an open task may suspend");
			break;
		}
		st = set_suspended(r, &in, kind, true);
		break;
	}
	case FLOW_RESUME: {
		static const char *const ok[] = {"reason", NULL};
		st = check_args(args, ok, r->e);
		if (st != YZ_OK)
			break;
		if (strcmp(in.status, "suspended") != 0) {
			st = refuse(r, &in, "the flow is not suspended");
			break;
		}
		if (!command_allowed(r, &in, "resume")) {
			st = yz_fail(r->e, YZ_EFORBIDDEN,
			             "only a handler or the applicant may resume");
			break;
		}
		st = set_suspended(r, &in, NULL, false);
		break;
	}
	case FLOW_EXTEND: {
		static const char *const ok[] = {"workdays", "reason", NULL};
		st = check_args(args, ok, r->e);
		if (st != YZ_OK)
			break;
		int64_t n = jx_int(args, "workdays", 0);
		int max = -1;
		for (int k = 0; k < in.def->next_ext; k++)
			if (holds_role(r, in.def->ext[k].role, in.org_path) &&
			    in.def->ext[k].max_workdays > max)
				max = in.def->ext[k].max_workdays;
		if (max < 0) {
			st = yz_fail(r->e, YZ_EFORBIDDEN,
			             "you may not extend this flow's time limit");
			break;
		}
		if (n < 1 || in.extended_days + n > max) {
			char exp[64], got[32];
			snprintf(exp, sizeof exp, "1..%d working days", max - in.extended_days);
			snprintf(got, sizeof got, "%lld", (long long)n);
			st = yz_field(r->e, "workdays", "range", exp, got);
			break;
		}
		if (!*arg_str(args, "reason")) {
			st =
			    yz_field(r->e, "reason", "required", "why the limit is extended", NULL);
			break;
		}
		in.extended_days += (int)n;
		if (in.due_at)
			in.due_at = shift_workdays(in.due_at, (int)n);
		if (in.statutory_at)
			in.statutory_at = shift_workdays(in.statutory_at, (int)n);
		const char *kinds[] = {"inst_overdue", "inst_reminder", "statutory"};
		int64_t at[] = {in.due_at, in.due_at ? shift_workdays(in.due_at, -1) : 0,
		                in.statutory_at};
		for (int k = 0; st == YZ_OK && k < 3; k++) {
			if (!at[k])
				continue;
			store_val a[] = {sv_int(at[k]), sv_int(in.id), sv_text(kinds[k])};
			st = store_exec(
			    r->tx,
			    "UPDATE flow_timer SET due_at = ? WHERE instance_id = ? AND token_id "
			    "IS NULL AND kind = ? AND fired_at IS NULL",
			    a, 3, r->e);
		}
		jx_set_int(detail, "workdays", n);
		jx_set_str(detail, "reason", arg_str(args, "reason"));
		if (st == YZ_OK)
			st = history(r, &in, "extend", NULL, 0, detail);
		if (st == YZ_OK)
			st = emit(r, &in, FLOW_EV_EXTENDED, 0, NULL, in.started_at, in.due_at, NULL,
			          arg_str(args, "reason"), NULL);
		break;
	}
	case FLOW_WITHDRAW: {
		static const char *const ok[] = {"reason", NULL};
		st = check_args(args, ok, r->e);
		if (st != YZ_OK)
			break;
		if (!r->who || r->who->user_id != in.starter) {
			st = yz_fail(r->e, YZ_EFORBIDDEN, "only the applicant withdraws");
			break;
		}
		jx_set_str(detail, "reason", arg_str(args, "reason"));
		st = close_instance(r, &in, "withdrawn", "withdraw", detail);
		break;
	}
	case FLOW_COMMENT: {
		static const char *const ok[] = {"text", NULL};
		st = check_args(args, ok, r->e);
		if (st == YZ_OK && !*arg_str(args, "text"))
			st = yz_field(r->e, "text", "required", "the comment", NULL);
		if (st != YZ_OK)
			break;
		jx_set_str(detail, "text", arg_str(args, "text"));
		st = history(r, &in, "comment", NULL, 0, detail);
		break;
	}
	default:
		st = yz_fail(r->e, YZ_EINVAL, "unknown command");
	}
	json_decref(detail);
	if (st == YZ_OK)
		st = save_instance(r, &in);
out:
	inst_free(&in);
	return st;
}

/* The idempotency record: (actor, key) → instance. */
static yz_status idem_seen(run *r, const char *idem, int64_t *instance, bool *seen)
{
	*seen = false;
	if (!idem)
		return YZ_OK;
	char k[200];
	snprintf(k, sizeof k, "%lld:%s", (long long)(r->who ? r->who->user_id : 0), idem);
	store_val a[] = {sv_text(k)};
	yz_status st = store_query_int(r->tx, "SELECT instance_id FROM flow_command WHERE idem = ?",
	                               a, 1, instance, NULL);
	if (st == YZ_OK)
		*seen = true;
	return st == YZ_ENOTFOUND || st == YZ_OK ? YZ_OK : yz_fail(r->e, st, "idempotency look-up");
}

static yz_status idem_record(run *r, const char *idem, int64_t instance)
{
	if (!idem)
		return YZ_OK;
	char k[200];
	snprintf(k, sizeof k, "%lld:%s", (long long)(r->who ? r->who->user_id : 0), idem);
	store_val a[] = {sv_text(k), sv_int(instance), sv_int(r->now)};
	return store_exec(
	    r->tx, "INSERT INTO flow_command (idem, instance_id, at) VALUES (?, ?, ?)", a, 3, r->e);
}

static yz_status cmd_job_fn(store_conn *tx, void *arg, yz_err *e)
{
	cmd_job *j = arg;
	arena *a = arena_new(1u << 20);
	if (!a)
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	run r = {.tx = tx, .who = j->who, .now = clock_now_ms(), .e = e, .a = a};
	int64_t prior = 0;
	bool seen;
	yz_status st = idem_seen(&r, j->idem, &prior, &seen);
	j->replayed = seen;
	if (st == YZ_OK && seen) {
		j->out_id = prior;
	} else if (st == YZ_OK && j->key) {
		const flow_def *d = flow_def_get(j->key, 0);
		if (!d)
			st = yz_fail(e, YZ_ENOTFOUND, "no flow definition %s", j->key);
		else if (!may_start(&r, d))
			st = yz_fail(e, YZ_EFORBIDDEN, "you may not start %s", d->name);
		else {
			json_t *none = j->in ? NULL : json_object();
			st = start_in(&r, d, j->in ? j->in : none, 0, 0, &j->out_id);
			json_decref(none);
		}
		if (st == YZ_OK)
			st = idem_record(&r, j->idem, j->out_id);
	} else if (st == YZ_OK) {
		st = do_command(&r, j);
		j->out_id = j->instance_id;
		if (st == YZ_OK)
			st = idem_record(&r, j->idem, j->instance_id);
	}
	return end_run(&r, st);
}

yz_status flow_start(store *s, const yz_actor *who, const char *key, json_t *in,
                     const char *idem_key, int64_t *id, yz_err *e)
{
	if (in && !json_is_object(in))
		return yz_fail(e, YZ_EINVAL, "the start request is a JSON object");
	static const char *const ok[] = {"title", "data", "org", NULL};
	if (in && check_args(in, ok, e) != YZ_OK)
		return YZ_EINVAL;
	if (in && json_object_get(in, "title") &&
	    (!json_is_string(json_object_get(in, "title")) ||
	     utf8_len(jx_str(in, "title", ""), strlen(jx_str(in, "title", ""))) > 100))
		return yz_field(e, "title", "max-length", "text of at most 100 characters", NULL);
	cmd_job j = {.who = who, .key = key, .in = in, .idem = idem_key};
	yz_status st = store_write(s, cmd_job_fn, &j, e);
	if (st == YZ_OK)
		*id = j.out_id;
	return st;
}

yz_status flow_command(store *s, const yz_actor *who, int64_t instance_id, int64_t task_id,
                       flow_cmd cmd, json_t *in, const char *idem_key, yz_err *e)
{
	if (in && !json_is_object(in))
		return yz_fail(e, YZ_EINVAL, "command arguments are a JSON object");
	cmd_job j = {.who = who,
	             .instance_id = instance_id,
	             .task_id = task_id,
	             .cmd = cmd,
	             .in = in,
	             .idem = idem_key};
	return store_write(s, cmd_job_fn, &j, e);
}

/* ---- timers ---- */

/* An overdue task goes up: to the step's escalation, else the flow's. */
static yz_status escalate(run *r, inst *in, const token *t)
{
	int si = flow_def_step_index(in->def, t->step);
	const flow_escalation *x = si >= 0 && in->def->steps[si].escalate.role
	                               ? &in->def->steps[si].escalate
	                               : &in->def->escalate;
	if (!x->role)
		return YZ_OK;
	char org[256] = "";
	yz_status st = YZ_OK;
	if (!strcmp(x->org, "$owner"))
		st = in->def->owner ? org_path_of_code(r, in->def->owner, org, sizeof org)
		                    : (yz_strlcpy(org, in->org_path, sizeof org), YZ_OK);
	else
		st = org_path_of_code(r, x->org, org, sizeof org);
	int n = 0;
	if (st == YZ_OK)
		st = copy_to_role(r, in, x->role, org, &n);
	json_t *d = json_pack("{s:s, s:i}", "role", x->role, "copied_to", n);
	if (st == YZ_OK)
		st = history(r, in, "escalate", t->step, t->id, d);
	json_decref(d);
	if (st == YZ_OK)
		st = emit(r, in, FLOW_EV_ESCALATED, t->id, t->step, t->created_at, t->due_at, org,
		          x->role, NULL);
	return st;
}

typedef struct fire_job {
	int64_t timer, instance, token;
	char kind[24];
	int64_t due;
	int64_t now;
} fire_job;

static yz_status fire_fn(store_conn *tx, void *arg, yz_err *e)
{
	fire_job *f = arg;
	arena *a = arena_new(1u << 20);
	if (!a)
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	yz_actor sys = actor_system("timer");
	run r = {.tx = tx, .who = &sys, .now = f->now, .e = e, .a = a};
	inst in;
	yz_status st = lock_instance(&r, f->instance, &in);
	if (st != YZ_OK)
		return end_run(&r, st);
	/* fire once: only a timer still pending (it goes as it fires) */
	store_val m[] = {sv_int(f->timer)};
	st = store_exec(tx, "DELETE FROM flow_timer WHERE id = ? AND fired_at IS NULL", m, 1, e);
	bool mine = st == YZ_OK && store_changes(tx) == 1;
	token t = {0};
	if (st == YZ_OK && mine && f->token)
		st = get_token(&r, in.id, f->token, &t);
	bool open = !strcmp(in.status, "open");
	if (st == YZ_OK && mine && strcmp(in.status, "closed") != 0) {
		if (!strcmp(f->kind, "step") && !strcmp(t.status, "waiting")) {
			store_val d[] = {sv_int(f->now), sv_int(t.id)};
			st = store_exec(
			    tx, "UPDATE flow_token SET status = 'done', done_at = ? WHERE id = ?",
			    d, 2, e);
			int si = flow_def_step_index(in.def, t.step);
			if (st == YZ_OK)
				st = history(&r, &in, "timer.fire", t.step, t.id, NULL);
			if (st == YZ_OK && si >= 0)
				st = advance(&r, &in, in.def->steps[si].next, t.grp, t.id);
		} else if (!strcmp(f->kind, "twothirds") && !strcmp(t.status, "active") && open) {
			st = emit(&r, &in, FLOW_EV_TWO_THIRDS, t.id, t.step, t.created_at, t.due_at,
			          t.cand_org[0] ? t.cand_org : t.cand_dept, NULL, NULL);
		} else if (!strcmp(f->kind, "reminder") && !strcmp(t.status, "active") && open) {
			st = emit(&r, &in, FLOW_EV_REMINDER, t.id, t.step, t.created_at, t.due_at,
			          t.cand_org[0] ? t.cand_org : t.cand_dept, NULL, NULL);
		} else if (!strcmp(f->kind, "overdue") && !strcmp(t.status, "active")) {
			store_val d[] = {sv_int(t.id)};
			st = store_exec(tx, "UPDATE flow_token SET overdue = 1 WHERE id = ?", d, 1,
			                e);
			if (st == YZ_OK)
				st = history(&r, &in, "overdue", t.step, t.id, NULL);
			if (st == YZ_OK)
				st = emit(&r, &in, FLOW_EV_OVERDUE, t.id, t.step, t.created_at,
				          t.due_at, t.cand_org[0] ? t.cand_org : t.cand_dept, NULL,
				          NULL);
			if (st == YZ_OK)
				st = escalate(&r, &in, &t);
		} else if (!strcmp(f->kind, "inst_reminder") && open) {
			st = emit(&r, &in, FLOW_EV_INST_REMINDER, 0, NULL, in.started_at, in.due_at,
			          NULL, NULL, NULL);
		} else if (!strcmp(f->kind, "inst_overdue")) {
			st = history(&r, &in, "overdue", NULL, 0, NULL);
			if (st == YZ_OK)
				st = emit(&r, &in, FLOW_EV_INST_OVERDUE, 0, NULL, in.started_at,
				          in.due_at, NULL, NULL, NULL);
		} else if (!strcmp(f->kind, "statutory")) {
			st = history(&r, &in, "statutory.overdue", NULL, 0, NULL);
			if (st == YZ_OK)
				st = emit(&r, &in, FLOW_EV_STATUTORY_OVERDUE, 0, NULL,
				          in.started_at, in.statutory_at, NULL, NULL, NULL);
		}
	}
	if (st == YZ_OK)
		st = save_instance(&r, &in);
	inst_free(&in);
	return end_run(&r, st);
}

/* The fires of one sweep, handed to the writer together so that they
 * commit in a few group commits instead of one commit each. */
typedef struct sweep_wait {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int left, fired;
	yz_status st;
	yz_err err;
} sweep_wait;

static void fire_done(void *arg, yz_status st, const yz_err *e)
{
	sweep_wait *w = arg;
	pthread_mutex_lock(&w->mu);
	if (st == YZ_OK) {
		w->fired++;
	} else if (w->st == YZ_OK) {
		w->st = st;
		if (e)
			w->err = *e;
	}
	if (--w->left == 0)
		pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

yz_status flow_sweep(store *s, int64_t now, int max, int *fired, yz_err *e)
{
	*fired = 0;
	store_conn *c;
	yz_status st = store_reader(s, &c, e);
	if (st != YZ_OK)
		return st;
	store_rows *r;
	store_val a[] = {sv_int(now), sv_int(max > 0 ? max : 1000)};
	st = store_query(
	    c,
	    "SELECT id, instance_id, COALESCE(token_id, 0), kind, due_at FROM flow_timer "
	    "WHERE fired_at IS NULL AND due_at <= ? ORDER BY due_at LIMIT ?",
	    a, 2, &r, e);
	if (st != YZ_OK)
		return st;
	fire_job *jobs = calloc((size_t)(max > 0 ? max : 1000), sizeof *jobs);
	int n = 0;
	while (jobs && store_next(r)) {
		fire_job *f = &jobs[n++];
		f->timer = store_col_int(r, 0);
		f->instance = store_col_int(r, 1);
		f->token = store_col_int(r, 2);
		yz_strlcpy(f->kind, store_col_text(r, 3), sizeof f->kind);
		f->due = store_col_int(r, 4);
		f->now = now;
	}
	st = store_rows_close(r, e);
	if (st == YZ_OK && !jobs)
		st = yz_fail(e, YZ_ENOMEM, "out of memory");
	if (st != YZ_OK || !n) {
		free(jobs);
		return st;
	}
	/* in due order, as one queue: fires of one instance keep their order */
	sweep_wait w = {.left = n};
	pthread_mutex_init(&w.mu, NULL);
	pthread_cond_init(&w.cv, NULL);
	for (int i = 0; i < n; i++) {
		yz_err qe = {0};
		if (store_write_then(s, fire_fn, &jobs[i], fire_done, &w, &qe) != YZ_OK) {
			/* not queued (the store is closing): neither is the rest */
			pthread_mutex_lock(&w.mu);
			w.left -= n - i;
			if (w.st == YZ_OK) {
				w.st = qe.code ? qe.code : YZ_EBUSY;
				w.err = qe;
			}
			pthread_mutex_unlock(&w.mu);
			break;
		}
	}
	pthread_mutex_lock(&w.mu);
	while (w.left > 0)
		pthread_cond_wait(&w.cv, &w.mu);
	pthread_mutex_unlock(&w.mu);
	pthread_cond_destroy(&w.cv);
	pthread_mutex_destroy(&w.mu);
	*fired = w.fired;
	st = w.st;
	if (st != YZ_OK && e)
		*e = w.err;
	free(jobs);
	return st;
}

/* ---- calendar changes and migrations ---- */

typedef struct recompute_job {
	int64_t id;
	int64_t moved; /* out */
	const yz_actor *who;
} recompute_job;

/* A deadline as it follows from the limits and today's calendar. */
static int64_t due_now(const flow_limit *l, int64_t from, int shift)
{
	return l->unit ? shift_workdays(flow_deadline(l, from), shift) : 0;
}

static yz_status recompute_fn(store_conn *tx, void *arg, yz_err *e)
{
	recompute_job *j = arg;
	j->moved = 0;
	arena *a = arena_new(1u << 20);
	if (!a)
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	run r = {.tx = tx, .who = j->who, .now = clock_now_ms(), .e = e, .a = a};
	inst in;
	yz_status st = lock_instance(&r, j->id, &in);
	if (st != YZ_OK || !strcmp(in.status, "closed")) {
		if (st == YZ_OK)
			inst_free(&in);
		return end_run(&r, st);
	}
	json_t *moved = json_array();
	int64_t nd = due_now(&in.def->limit, in.started_at, in.shift_days + in.extended_days);
	int64_t ns = due_now(&in.def->statutory, in.started_at, in.shift_days + in.extended_days);
	if (nd != in.due_at || ns != in.statutory_at) {
		json_array_append_new(moved,
		                      json_pack("{s:s, s:I, s:I}", "what", "instance", "from",
		                                (json_int_t)in.due_at, "to", (json_int_t)nd));
		in.due_at = nd;
		in.statutory_at = ns;
		j->moved++;
		const char *kinds[] = {"inst_overdue", "inst_reminder", "statutory"};
		int64_t at[] = {nd, nd ? shift_workdays(nd, -1) : 0, ns};
		for (int k = 0; st == YZ_OK && k < 3; k++) {
			if (!at[k])
				continue;
			store_val b[] = {sv_int(at[k]), sv_int(in.id), sv_text(kinds[k])};
			st = store_exec(
			    tx,
			    "UPDATE flow_timer SET due_at = ? WHERE instance_id = ? AND token_id "
			    "IS NULL AND kind = ? AND fired_at IS NULL",
			    b, 3, e);
		}
	}
	store_rows *rows;
	store_val q[] = {sv_int(in.id)};
	if (st == YZ_OK)
		st = store_query(
		    tx,
		    "SELECT id, step, created_at, COALESCE(due_at, 0), shift_days FROM "
		    "flow_token WHERE instance_id = ? AND status = 'active' AND due_at IS NOT "
		    "NULL",
		    q, 1, &rows, e);
	struct {
		int64_t id, due;
	} upd[256];
	int nu = 0;
	if (st == YZ_OK) {
		while (store_next(rows) && nu < 256) {
			int si = flow_def_step_index(in.def, store_col_text(rows, 1));
			if (si < 0)
				continue;
			int64_t want = due_now(&in.def->steps[si].limit, store_col_int(rows, 2),
			                       (int)store_col_int(rows, 4));
			if (want && want != store_col_int(rows, 3)) {
				upd[nu].id = store_col_int(rows, 0);
				upd[nu++].due = want;
			}
		}
		st = store_rows_close(rows, e);
	}
	for (int i = 0; st == YZ_OK && i < nu; i++) {
		store_val b[] = {sv_int(upd[i].due), sv_int(upd[i].id)};
		st = store_exec(tx, "UPDATE flow_token SET due_at = ? WHERE id = ?", b, 2, e);
		store_val c[] = {sv_int(upd[i].due), sv_int(in.id), sv_int(upd[i].id)};
		if (st == YZ_OK)
			st = store_exec(tx,
			                "UPDATE flow_timer SET due_at = ? WHERE instance_id = ? "
			                "AND token_id = ? "
			                "AND kind = 'overdue' AND fired_at IS NULL",
			                c, 3, e);
		store_val d[] = {sv_int(shift_workdays(upd[i].due, -1)), sv_int(in.id),
		                 sv_int(upd[i].id)};
		if (st == YZ_OK)
			st = store_exec(tx,
			                "UPDATE flow_timer SET due_at = ? WHERE instance_id = ? "
			                "AND token_id = ? "
			                "AND kind = 'reminder' AND fired_at IS NULL",
			                d, 3, e);
		json_array_append_new(moved, json_pack("{s:s, s:I, s:I}", "what", "task", "task",
		                                       (json_int_t)upd[i].id, "to",
		                                       (json_int_t)upd[i].due));
		j->moved++;
	}
	if (st == YZ_OK && json_array_size(moved)) {
		json_t *d = json_pack("{s:O}", "moved", moved);
		st = history(&r, &in, "deadline.recompute", NULL, 0, d);
		json_decref(d);
		if (st == YZ_OK)
			st = save_instance(&r, &in);
	}
	json_decref(moved);
	inst_free(&in);
	return end_run(&r, st);
}

yz_status flow_recompute_deadlines(store *s, const yz_actor *who, int64_t *recomputed, yz_err *e)
{
	*recomputed = 0;
	store_conn *c;
	yz_status st = store_reader(s, &c, e);
	if (st != YZ_OK)
		return st;
	int64_t after = 0;
	for (;;) {
		store_rows *r;
		store_val a[] = {sv_int(after)};
		st = store_query(
		    c,
		    "SELECT id FROM flow_instance WHERE status <> 'closed' AND id > ? ORDER "
		    "BY id LIMIT 500",
		    a, 1, &r, e);
		if (st != YZ_OK)
			return st;
		int64_t ids[500];
		int n = 0;
		while (store_next(r) && n < 500)
			ids[n++] = store_col_int(r, 0);
		st = store_rows_close(r, e);
		for (int i = 0; st == YZ_OK && i < n; i++) {
			recompute_job j = {.id = ids[i], .who = who};
			st = store_write(s, recompute_fn, &j, e);
			*recomputed += j.moved;
		}
		if (st != YZ_OK || n < 500)
			return st;
		after = ids[n - 1];
	}
}

typedef struct migrate_job {
	const yz_actor *who;
	int64_t id;
	const flow_def *to;
	json_t *map;
} migrate_job;

static yz_status migrate_fn(store_conn *tx, void *arg, yz_err *e)
{
	migrate_job *j = arg;
	arena *a = arena_new(1u << 20);
	if (!a)
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	run r = {.tx = tx, .who = j->who, .now = clock_now_ms(), .e = e, .a = a};
	inst in;
	yz_status st = lock_instance(&r, j->id, &in);
	if (st != YZ_OK)
		return end_run(&r, st);
	store_rows *rows;
	store_val q[] = {sv_int(in.id)};
	st = store_query(tx,
	                 "SELECT id, step FROM flow_token WHERE instance_id = ? AND status IN "
	                 "('active', 'waiting')",
	                 q, 1, &rows, e);
	struct {
		int64_t id;
		char to[64];
	} moves[256];
	int n = 0;
	while (st == YZ_OK && store_next(rows) && n < 256) {
		const char *from = store_col_text(rows, 1);
		const char *to = jx_str(j->map, from, NULL);
		char field[96];
		snprintf(field, sizeof field, "step_map.%s", from);
		if (!to)
			st = yz_field(e, field, "required", "the step of the new version", NULL);
		else if (flow_def_step_index(j->to, to) < 0)
			st = yz_field(e, field, "exists", "a step of the new version", to);
		else if (j->to->steps[flow_def_step_index(j->to, to)].kind !=
		         in.def
		             ->steps[flow_def_step_index(in.def, from) >= 0
		                         ? flow_def_step_index(in.def, from)
		                         : 0]
		             .kind)
			st = yz_field(e, field, "kind", "a step of the same kind", to);
		else {
			moves[n].id = store_col_int(rows, 0);
			yz_strlcpy(moves[n++].to, to, sizeof moves[0].to);
		}
	}
	yz_status cst = store_rows_close(rows, e);
	if (st == YZ_OK)
		st = cst;
	for (int i = 0; st == YZ_OK && i < n; i++) {
		store_val b[] = {sv_text(moves[i].to), sv_int(moves[i].id)};
		st = store_exec(tx, "UPDATE flow_token SET step = ? WHERE id = ?", b, 2, e);
	}
	store_val v[] = {sv_int(j->to->version), sv_int(in.id)};
	if (st == YZ_OK)
		st = store_exec(tx, "UPDATE flow_instance SET def_version = ? WHERE id = ?", v, 2,
		                e);
	json_t *d = json_pack("{s:i, s:i, s:O}", "from", in.def->version, "to", j->to->version,
	                      "step_map", j->map);
	if (st == YZ_OK) {
		in.def = j->to;
		st = history(&r, &in, "migrate", NULL, 0, d);
	}
	json_decref(d);
	inst_free(&in);
	return end_run(&r, st);
}

yz_status flow_migrate(store *s, const yz_actor *who, const char *key, int from_version,
                       int to_version, json_t *step_map, int *moved, yz_err *e)
{
	*moved = 0;
	const flow_def *to = flow_def_get(key, to_version);
	if (!to || !flow_def_get(key, from_version))
		return yz_fail(e, YZ_ENOTFOUND, "no definition %s@%d or @%d", key, from_version,
		               to_version);
	if (!json_is_object(step_map))
		return yz_field(e, "step_map", "type", "an object {old step: new step}", NULL);
	store_conn *c;
	yz_status st = store_reader(s, &c, e);
	if (st != YZ_OK)
		return st;
	store_rows *r;
	store_val a[] = {sv_text(key), sv_int(from_version)};
	st = store_query(c,
	                 "SELECT id FROM flow_instance WHERE def_key = ? AND def_version = ? AND "
	                 "status <> 'closed' ORDER BY id",
	                 a, 2, &r, e);
	if (st != YZ_OK)
		return st;
	int64_t *ids = NULL;
	int n = 0, cap = 0;
	while (store_next(r)) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			int64_t *x = realloc(ids, sizeof *x * (size_t)cap);
			if (!x)
				break;
			ids = x;
		}
		ids[n++] = store_col_int(r, 0);
	}
	st = store_rows_close(r, e);
	for (int i = 0; st == YZ_OK && i < n; i++) {
		migrate_job j = {who, ids[i], to, step_map};
		st = store_write(s, migrate_fn, &j, e);
		if (st == YZ_OK)
			(*moved)++;
	}
	free(ids);
	return st;
}

yz_status flow_actions(store_conn *c, const yz_actor *who, int64_t id, json_t *out, yz_err *e)
{
	arena *a = arena_new(1u << 20);
	if (!a)
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	run r = {.tx = c, .who = who, .now = clock_now_ms(), .e = e, .a = a};
	inst in;
	yz_status st = read_instance(&r, id, &in, false);
	if (st == YZ_OK)
		legal_commands(&r, &in, out);
	inst_free(&in);
	arena_free(a);
	return st;
}
