/*
 * flow_def.c — definitions: checking, compiling and the registry of loaded
 * versions.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/jx.h"
#include "flow/flow_int.h"

/* ---- small helpers ---- */

static void fault(yz_err *e, const char *path, const char *rule, const char *expected,
                  const char *got)
{
	yz_field(e, path, rule, expected, got);
	if (e && (!e->msg[0] || !strcmp(e->msg, "invalid input")))
		yz_strlcpy(e->msg, "the flow definition is not valid", sizeof e->msg);
}

static bool id_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > 48)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.'))
			return false;
	}
	return true;
}

/* Members of obj must be among allowed (NULL-terminated). */
static bool only_keys(json_t *obj, const char *const *allowed, const char *path, yz_err *e)
{
	bool ok = true;
	const char *k;
	json_t *v;
	json_object_foreach (obj, k, v) {
		bool found = false;
		for (int i = 0; allowed[i] && !found; i++)
			found = !strcmp(allowed[i], k);
		if (!found) {
			char p[160];
			snprintf(p, sizeof p, "%s.%s", path, k);
			fault(e, p, "unknown-field", "a member this step kind knows", NULL);
			ok = false;
		}
	}
	return ok;
}

static bool parse_limit(json_t *v, const char *path, flow_limit *out, yz_err *e)
{
	*out = (flow_limit){0};
	if (!v)
		return true;
	if (!json_is_object(v) || json_object_size(v) != 1) {
		fault(e, path, "limit", "{\"workdays\": n}, {\"workhours\": n} or {\"days\": n}",
		      NULL);
		return false;
	}
	static const struct {
		const char *name;
		limit_unit unit;
	} units[] = {
	    {"workdays", LIMIT_WORKDAYS}, {"workhours", LIMIT_WORKHOURS}, {"days", LIMIT_DAYS}};
	for (size_t i = 0; i < 3; i++) {
		json_t *n = json_object_get(v, units[i].name);
		if (!n)
			continue;
		if (!json_is_integer(n) || json_integer_value(n) < 1 ||
		    json_integer_value(n) > 3650) {
			fault(e, path, "limit", "a whole number 1..3650", NULL);
			return false;
		}
		out->unit = units[i].unit;
		out->n = (int)json_integer_value(n);
		return true;
	}
	fault(e, path, "limit", "workdays, workhours or days", NULL);
	return false;
}

int flow_def_step_index(const flow_def *d, const char *id)
{
	for (int i = 0; i < d->nsteps; i++)
		if (!strcmp(d->steps[i].id, id))
			return i;
	return -1;
}

/* A reference to a step by name: its index, or -1 with a fault. */
static int ref(const flow_def *d, json_t *v, const char *path, yz_err *e)
{
	if (!json_is_string(v)) {
		fault(e, path, "required", "the id of a step", NULL);
		return -1;
	}
	int i = flow_def_step_index(d, json_string_value(v));
	if (i < 0)
		fault(e, path, "exists", "the id of a step in steps", json_string_value(v));
	return i;
}

/* ---- compiling one step ---- */

static const char *const task_keys[] = {"kind",     "name",     "assignee", "limit",
                                        "outcomes", "next",     "form",     "suspends",
                                        "cc_role",  "escalate", NULL};
static const char *const parallel_keys[] = {"kind", "name", "branches", "join", NULL};
static const char *const join_keys[] = {"kind", "name", "need", "next", NULL};
static const char *const decision_keys[] = {"kind", "name", "rules", "default", NULL};
static const char *const timer_keys[] = {"kind", "name", "after", "next", NULL};
static const char *const subflow_keys[] = {"kind", "name", "flow", "next", "limit", NULL};
static const char *const end_keys[] = {"kind", "name", "outcome", NULL};

static bool suspension_kind_ok(const char *k)
{
	return !strcmp(k, "correction") || !strcmp(k, "hearing") || !strcmp(k, "testing") ||
	       !strcmp(k, "expert");
}

typedef struct checks {
	flow_name_check role_known, org_known;
	void *ctx;
} checks;

/* {"role": code, "org": code | "$owner"} */
static void parse_escalation(json_t *j, const char *path, const checks *ck, flow_escalation *out,
                             yz_err *e)
{
	if (!j)
		return;
	static const char *const ek[] = {"role", "org", NULL};
	if (!json_is_object(j) || !json_is_string(json_object_get(j, "role"))) {
		fault(e, path, "type", "{\"role\": code, \"org\": code}", NULL);
		return;
	}
	only_keys(j, ek, path, e);
	out->role = jx_str(j, "role", "");
	out->org = jx_str(j, "org", "$owner");
	char p[256];
	if (ck->role_known && !ck->role_known(ck->ctx, out->role)) {
		snprintf(p, sizeof p, "%s.role", path);
		fault(e, p, "known", "a role code that exists", out->role);
	}
	if (out->org[0] != '$' && ck->org_known && !ck->org_known(ck->ctx, out->org)) {
		snprintf(p, sizeof p, "%s.org", path);
		fault(e, p, "known", "an organisation code that exists", out->org);
	} else if (out->org[0] == '$' && strcmp(out->org, "$owner") != 0) {
		snprintf(p, sizeof p, "%s.org", path);
		fault(e, p, "enum", "an organisation code or \"$owner\"", out->org);
	}
}

static void compile_task(flow_def *d, flow_step *s, json_t *j, const char *p, const checks *ck,
                         yz_err *e)
{
	char path[192];
	only_keys(j, task_keys, p, e);
	snprintf(path, sizeof path, "%s.assignee", p);
	json_t *a = json_object_get(j, "assignee");
	if (!json_is_object(a)) {
		fault(e, path, "required",
		      "{\"role\": code, \"org\": code}, {\"department\": code} or {\"starter\": "
		      "true}",
		      NULL);
	} else if (json_is_string(json_object_get(a, "role"))) {
		static const char *const ak[] = {"role", "org", NULL};
		only_keys(a, ak, path, e);
		s->assignee = ASSIGN_ROLE;
		s->role = jx_str(a, "role", "");
		s->org = jx_str(a, "org", "$owner");
		if (ck->role_known && !ck->role_known(ck->ctx, s->role)) {
			char rp[200];
			snprintf(rp, sizeof rp, "%s.role", path);
			fault(e, rp, "known", "a role code that exists", s->role);
		}
	} else if (json_is_string(json_object_get(a, "department"))) {
		static const char *const ak[] = {"department", NULL};
		only_keys(a, ak, path, e);
		s->assignee = ASSIGN_DEPT;
		s->org = jx_str(a, "department", "");
	} else if (json_is_true(json_object_get(a, "starter"))) {
		static const char *const ak[] = {"starter", NULL};
		only_keys(a, ak, path, e);
		s->assignee = ASSIGN_STARTER;
	} else {
		fault(e, path, "assignee", "role, department or starter", NULL);
	}
	if (s->org && s->org[0] != '$' && ck->org_known && !ck->org_known(ck->ctx, s->org)) {
		char op[256];
		snprintf(op, sizeof op, "%s.%s", path,
		         s->assignee == ASSIGN_DEPT ? "department" : "org");
		fault(e, op, "known", "an organisation code that exists", s->org);
	}
	snprintf(path, sizeof path, "%s.limit", p);
	parse_limit(json_object_get(j, "limit"), path, &s->limit, e);
	json_t *sus = json_object_get(j, "suspends");
	if (sus) {
		snprintf(path, sizeof path, "%s.suspends", p);
		if (!json_is_string(sus) || !suspension_kind_ok(json_string_value(sus)))
			fault(e, path, "enum", "correction, hearing, testing or expert", NULL);
		else
			s->suspends = json_string_value(sus);
	}
	json_t *cc = json_object_get(j, "cc_role");
	if (cc) {
		snprintf(path, sizeof path, "%s.cc_role", p);
		if (!json_is_string(cc))
			fault(e, path, "type", "a role code", NULL);
		else if (ck->role_known && !ck->role_known(ck->ctx, json_string_value(cc)))
			fault(e, path, "known", "a role code that exists", json_string_value(cc));
		else
			s->cc_role = json_string_value(cc);
	}
	snprintf(path, sizeof path, "%s.escalate", p);
	parse_escalation(json_object_get(j, "escalate"), path, ck, &s->escalate, e);
	json_t *form = json_object_get(j, "form");
	if (form) {
		snprintf(path, sizeof path, "%s.form", p);
		if (flow_form_check_def(form, path, e) == YZ_OK)
			s->form = form;
	}
	json_t *outs = json_object_get(j, "outcomes");
	json_t *next = json_object_get(j, "next");
	if (outs && next) {
		fault(e, p, "one-of", "either outcomes or next", NULL);
	} else if (next) {
		snprintf(path, sizeof path, "%s.next", p);
		s->outcomes[0] = (flow_outcome){"done", NULL, ref(d, next, path, e), false};
		s->noutcomes = 1;
	} else if (json_is_object(outs) && json_object_size(outs) >= 1 &&
	           json_object_size(outs) <= FLOW_MAX_OUTCOMES) {
		const char *name;
		json_t *o;
		json_object_foreach (outs, name, o) {
			snprintf(path, sizeof path, "%s.outcomes.%s", p, name);
			flow_outcome *fo = &s->outcomes[s->noutcomes++];
			fo->name = name;
			if (!id_ok(name))
				fault(e, path, "pattern", "letters, digits, _ - .", name);
			if (json_is_string(o)) {
				fo->next = ref(d, o, path, e);
			} else if (json_is_object(o)) {
				static const char *const ok[] = {"next", "label", "reason_required",
				                                 NULL};
				only_keys(o, ok, path, e);
				char np[220];
				snprintf(np, sizeof np, "%s.next", path);
				fo->next = ref(d, json_object_get(o, "next"), np, e);
				fo->label = jx_str(o, "label", NULL);
				fo->reason_required = jx_bool(o, "reason_required", false);
			} else {
				fault(e, path, "type",
				      "a step id or {next, label, reason_required}", NULL);
			}
		}
	} else {
		fault(e, p, "required", "outcomes (1..16) or next", NULL);
	}
}

static void compile_step(flow_def *d, flow_step *s, json_t *j, const checks *ck, yz_err *e)
{
	char p[128], path[192];
	snprintf(p, sizeof p, "steps.%s", s->id);
	if (!json_is_object(j)) {
		fault(e, p, "type", "an object", NULL);
		return;
	}
	s->name = jx_str(j, "name", s->id);
	const char *kind = jx_str(j, "kind", "");
	s->join = s->split = s->next = -1;
	if (!strcmp(kind, "task")) {
		s->kind = STEP_TASK;
		compile_task(d, s, j, p, ck, e);
	} else if (!strcmp(kind, "parallel")) {
		s->kind = STEP_PARALLEL;
		only_keys(j, parallel_keys, p, e);
		json_t *br = json_object_get(j, "branches");
		snprintf(path, sizeof path, "%s.branches", p);
		if (!json_is_array(br) || json_array_size(br) < 2 ||
		    json_array_size(br) > FLOW_MAX_BRANCHES) {
			fault(e, path, "count", "2..32 step ids", NULL);
		} else {
			size_t i;
			json_t *b;
			json_array_foreach (br, i, b) {
				char bp[220];
				snprintf(bp, sizeof bp, "%s[%zu]", path, i);
				s->branches[s->nbranches++] = ref(d, b, bp, e);
			}
		}
		snprintf(path, sizeof path, "%s.join", p);
		s->join = ref(d, json_object_get(j, "join"), path, e);
	} else if (!strcmp(kind, "join")) {
		s->kind = STEP_JOIN;
		only_keys(j, join_keys, p, e);
		json_t *need = json_object_get(j, "need");
		snprintf(path, sizeof path, "%s.need", p);
		if (!need || (json_is_string(need) && !strcmp(json_string_value(need), "all")))
			s->need = 0;
		else if (json_is_string(need) && !strcmp(json_string_value(need), "any"))
			s->need = 1;
		else if (json_is_integer(need) && json_integer_value(need) >= 1 &&
		         json_integer_value(need) <= FLOW_MAX_BRANCHES)
			s->need = (int)json_integer_value(need);
		else
			fault(e, path, "enum", "\"all\", \"any\" or a number of branches", NULL);
		snprintf(path, sizeof path, "%s.next", p);
		s->next = ref(d, json_object_get(j, "next"), path, e);
	} else if (!strcmp(kind, "decision")) {
		s->kind = STEP_DECISION;
		only_keys(j, decision_keys, p, e);
		json_t *rules = json_object_get(j, "rules");
		snprintf(path, sizeof path, "%s.rules", p);
		if (!json_is_array(rules) || json_array_size(rules) < 1 ||
		    json_array_size(rules) > FLOW_MAX_OUTCOMES) {
			fault(e, path, "count", "1..16 rules {when, next}", NULL);
		} else {
			size_t i;
			json_t *r;
			json_array_foreach (rules, i, r) {
				char rp[220], wp[240];
				snprintf(rp, sizeof rp, "%s[%zu]", path, i);
				static const char *const rk[] = {"when", "next", NULL};
				if (!json_is_object(r)) {
					fault(e, rp, "type", "{when, next}", NULL);
					continue;
				}
				only_keys(r, rk, rp, e);
				snprintf(wp, sizeof wp, "%s.when", rp);
				if (flow_rule_check(json_object_get(r, "when"), wp, e) == YZ_OK)
					s->rules[s->nrules].when = json_object_get(r, "when");
				snprintf(wp, sizeof wp, "%s.next", rp);
				s->rules[s->nrules].next =
				    ref(d, json_object_get(r, "next"), wp, e);
				s->nrules++;
			}
		}
		snprintf(path, sizeof path, "%s.default", p);
		s->next = ref(d, json_object_get(j, "default"), path, e);
	} else if (!strcmp(kind, "timer")) {
		s->kind = STEP_TIMER;
		only_keys(j, timer_keys, p, e);
		snprintf(path, sizeof path, "%s.after", p);
		if (!json_object_get(j, "after"))
			fault(e, path, "required", "a limit such as {\"workdays\": 3}", NULL);
		else
			parse_limit(json_object_get(j, "after"), path, &s->limit, e);
		snprintf(path, sizeof path, "%s.next", p);
		s->next = ref(d, json_object_get(j, "next"), path, e);
	} else if (!strcmp(kind, "subflow")) {
		s->kind = STEP_SUBFLOW;
		only_keys(j, subflow_keys, p, e);
		snprintf(path, sizeof path, "%s.flow", p);
		if (!json_is_string(json_object_get(j, "flow")))
			fault(e, path, "required", "the key of another definition", NULL);
		else
			s->subflow = jx_str(j, "flow", "");
		snprintf(path, sizeof path, "%s.limit", p);
		parse_limit(json_object_get(j, "limit"), path, &s->limit, e);
		snprintf(path, sizeof path, "%s.next", p);
		s->next = ref(d, json_object_get(j, "next"), path, e);
	} else if (!strcmp(kind, "end")) {
		s->kind = STEP_END;
		only_keys(j, end_keys, p, e);
		s->outcome = jx_str(j, "outcome", "done");
	} else {
		snprintf(path, sizeof path, "%s.kind", p);
		fault(e, path, "enum", "task, parallel, join, decision, timer, subflow or end",
		      kind);
	}
}

/* ---- graph checks ---- */

static int successors(const flow_step *s, int out[FLOW_MAX_BRANCHES + FLOW_MAX_OUTCOMES + 1])
{
	int n = 0;
	switch (s->kind) {
	case STEP_TASK:
		for (int i = 0; i < s->noutcomes; i++)
			out[n++] = s->outcomes[i].next;
		break;
	case STEP_PARALLEL:
		for (int i = 0; i < s->nbranches; i++)
			out[n++] = s->branches[i];
		break;
	case STEP_DECISION:
		for (int i = 0; i < s->nrules; i++)
			out[n++] = s->rules[i].next;
		out[n++] = s->next;
		break;
	case STEP_JOIN:
	case STEP_TIMER:
	case STEP_SUBFLOW:
		out[n++] = s->next;
		break;
	default:
		break;
	}
	return n;
}

/* reach[i] = 1 when i is reachable from `from`, not passing through `stop`
 * (-1 for none). */
static void reach_from(const flow_def *d, int from, int stop, unsigned char *reach)
{
	memset(reach, 0, (size_t)d->nsteps);
	int stack[FLOW_MAX_STEPS * 4], top = 0;
	if (from < 0)
		return;
	stack[top++] = from;
	reach[from] = 1;
	while (top) {
		int i = stack[--top];
		if (i == stop)
			continue;
		int succ[FLOW_MAX_BRANCHES + FLOW_MAX_OUTCOMES + 1];
		int n = successors(&d->steps[i], succ);
		for (int k = 0; k < n; k++) {
			int j = succ[k];
			if (j >= 0 && !reach[j] && top < (int)(sizeof stack / sizeof stack[0])) {
				reach[j] = 1;
				stack[top++] = j;
			}
		}
	}
}

static void graph_checks(flow_def *d, yz_err *e)
{
	unsigned char reach[FLOW_MAX_STEPS], r2[FLOW_MAX_STEPS];
	reach_from(d, d->start, -1, reach);
	char p[128];
	for (int i = 0; i < d->nsteps; i++) {
		if (!reach[i]) {
			snprintf(p, sizeof p, "steps.%s", d->steps[i].id);
			fault(e, p, "unreachable", "a step reachable from start", NULL);
		}
	}
	/* joins belong to exactly one split; every branch reaches its join */
	for (int i = 0; i < d->nsteps; i++) {
		flow_step *s = &d->steps[i];
		if (s->kind == STEP_PARALLEL && s->join >= 0) {
			flow_step *j = &d->steps[s->join];
			snprintf(p, sizeof p, "steps.%s.join", s->id);
			if (j->kind != STEP_JOIN) {
				fault(e, p, "kind", "the id of a join step", j->id);
				continue;
			}
			if (j->split >= 0 && j->split != i) {
				fault(e, p, "unique", "a join of its own (one split per join)",
				      j->id);
				continue;
			}
			j->split = i;
			if (j->need > s->nbranches)
				fault(e, p, "need", "a need no larger than the number of branches",
				      j->id);
			for (int b = 0; b < s->nbranches; b++) {
				if (s->branches[b] < 0)
					continue;
				reach_from(d, s->branches[b], s->join, r2);
				if (!r2[s->join]) {
					snprintf(p, sizeof p, "steps.%s.branches[%d]", s->id, b);
					fault(e, p, "reaches-join",
					      "a branch that leads to the join",
					      d->steps[s->branches[b]].id);
				}
			}
		}
	}
	for (int i = 0; i < d->nsteps; i++) {
		if (d->steps[i].kind == STEP_JOIN && d->steps[i].split < 0) {
			snprintf(p, sizeof p, "steps.%s", d->steps[i].id);
			fault(e, p, "split", "a parallel step that names this join",
			      "a join without a split");
		}
	}
	/* no loop without exit: from every reachable step some end is reachable */
	for (int i = 0; i < d->nsteps; i++) {
		if (!reach[i] || d->steps[i].kind == STEP_END)
			continue;
		reach_from(d, i, -1, r2);
		bool end = false;
		for (int k = 0; k < d->nsteps && !end; k++)
			end = r2[k] && d->steps[k].kind == STEP_END;
		if (!end) {
			snprintf(p, sizeof p, "steps.%s", d->steps[i].id);
			fault(e, p, "exit", "a way to an end step", "a loop without exit");
		}
	}
}

/* ---- the whole document ---- */

static const char *const top_keys[] = {"key",         "name",     "start", "steps",      "limit",
                                       "statutory",   "owner",    "form",  "extensions", "starters",
                                       "description", "escalate", NULL};

static yz_status compile(json_t *doc, const checks *ck, flow_def **out, yz_err *e)
{
	*out = NULL;
	int before = e ? e->nfield : 0;
	if (!json_is_object(doc))
		return yz_fail(e, YZ_EINVAL, "a flow definition is a JSON object");
	flow_def *d = calloc(1, sizeof *d);
	if (!d)
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	d->doc = json_incref(doc);
	only_keys(doc, top_keys, "$", e);
	const char *key = jx_str(doc, "key", NULL);
	if (!key || !id_ok(key))
		fault(e, "key", "pattern", "1-48 letters, digits, _ - .", key);
	d->key = strdup(key ? key : "");
	d->name = jx_str(doc, "name", key ? key : "");
	d->owner = jx_str(doc, "owner", NULL);
	if (d->owner && ck->org_known && !ck->org_known(ck->ctx, d->owner))
		fault(e, "owner", "known", "an organisation code that exists", d->owner);
	parse_limit(json_object_get(doc, "limit"), "limit", &d->limit, e);
	parse_limit(json_object_get(doc, "statutory"), "statutory", &d->statutory, e);
	json_t *form = json_object_get(doc, "form");
	if (form && flow_form_check_def(form, "form", e) == YZ_OK)
		d->form = form;
	json_t *ext = json_object_get(doc, "extensions");
	if (ext) {
		if (!json_is_array(ext) || json_array_size(ext) > 8) {
			fault(e, "extensions", "count", "up to 8 {role, max_workdays}", NULL);
		} else {
			size_t i;
			json_t *x;
			json_array_foreach (ext, i, x) {
				char p[64];
				snprintf(p, sizeof p, "extensions[%zu]", i);
				const char *role = jx_str(x, "role", NULL);
				int64_t max = jx_int(x, "max_workdays", 0);
				if (!role || max < 1 || max > 365) {
					fault(e, p, "extension", "{role, max_workdays 1..365}",
					      NULL);
					continue;
				}
				if (ck->role_known && !ck->role_known(ck->ctx, role))
					fault(e, p, "known", "a role code that exists", role);
				d->ext[d->next_ext++] = (flow_extension){role, (int)max};
			}
		}
	}
	parse_escalation(json_object_get(doc, "escalate"), "escalate", ck, &d->escalate, e);
	d->starters = json_object_get(doc, "starters");
	if (d->starters && !json_is_array(d->starters))
		fault(e, "starters", "type", "an array of role codes, \"public\" or \"signed-in\"",
		      NULL);
	json_t *steps = json_object_get(doc, "steps");
	if (!json_is_object(steps) || json_object_size(steps) < 1 ||
	    json_object_size(steps) > FLOW_MAX_STEPS) {
		fault(e, "steps", "count", "an object of 1..200 steps", NULL);
	} else {
		d->steps = calloc(json_object_size(steps), sizeof *d->steps);
		if (!d->steps) {
			flow_def_free(d);
			return yz_fail(e, YZ_ENOMEM, "out of memory");
		}
		const char *id;
		json_t *s;
		json_object_foreach (steps, id, s) {
			d->steps[d->nsteps++].id = id;
			if (!id_ok(id)) {
				char p[128];
				snprintf(p, sizeof p, "steps.%.60s", id);
				fault(e, p, "pattern", "1-48 letters, digits, _ - .", id);
			}
		}
		int i = 0;
		json_object_foreach (steps, id, s)
			compile_step(d, &d->steps[i++], s, ck, e);
		d->start = ref(d, json_object_get(doc, "start"), "start", e);
		bool any_end = false;
		for (int k = 0; k < d->nsteps; k++)
			any_end |= d->steps[k].kind == STEP_END;
		if (!any_end)
			fault(e, "steps", "end", "at least one end step", NULL);
		if (!(e && e->nfield > before) && d->start >= 0)
			graph_checks(d, e);
	}
	if (e && e->nfield > before) {
		flow_def_free(d);
		return YZ_EINVAL;
	}
	*out = d;
	return YZ_OK;
}

yz_status flow_def_check(json_t *doc, flow_name_check role_known, flow_name_check org_known,
                         void *ctx, yz_err *e)
{
	checks ck = {role_known, org_known, ctx};
	flow_def *d;
	yz_status st = compile(doc, &ck, &d, e);
	if (st == YZ_OK)
		flow_def_free(d);
	return st;
}

yz_status flow_def_compile(json_t *doc, flow_def **out, yz_err *e)
{
	checks ck = {0};
	yz_status st = compile(doc, &ck, out, e);
	json_decref(doc);
	return st;
}

void flow_def_free(flow_def *d)
{
	if (!d)
		return;
	free(d->steps);
	free(d->key);
	json_decref(d->doc);
	free(d);
}

/* ---- the registry: a list that only grows while serving ---- */

static pthread_rwlock_t reg_lock = PTHREAD_RWLOCK_INITIALIZER;
static flow_def *registry;

void flow_registry_add(flow_def *d)
{
	pthread_rwlock_wrlock(&reg_lock);
	for (flow_def *x = registry; x; x = x->next_in_registry) {
		if (!strcmp(x->key, d->key) && x->version == d->version) {
			pthread_rwlock_unlock(&reg_lock);
			flow_def_free(d);
			return;
		}
	}
	d->next_in_registry = registry;
	registry = d;
	pthread_rwlock_unlock(&reg_lock);
}

int flow_defs_count(void)
{
	int n = 0;
	pthread_rwlock_rdlock(&reg_lock);
	for (flow_def *x = registry; x; x = x->next_in_registry)
		n++;
	pthread_rwlock_unlock(&reg_lock);
	return n;
}

const flow_def *flow_def_get(const char *key, int version)
{
	const flow_def *best = NULL;
	pthread_rwlock_rdlock(&reg_lock);
	for (flow_def *x = registry; x; x = x->next_in_registry) {
		if (strcmp(x->key, key) != 0)
			continue;
		if (version ? x->version == version : (!best || x->version > best->version))
			best = x;
	}
	pthread_rwlock_unlock(&reg_lock);
	return best;
}

void flow_defs_clear(void)
{
	pthread_rwlock_wrlock(&reg_lock);
	while (registry) {
		flow_def *n = registry->next_in_registry;
		flow_def_free(registry);
		registry = n;
	}
	pthread_rwlock_unlock(&reg_lock);
}

const char *flow_def_key(const flow_def *d)
{
	return d->key;
}

int flow_def_version(const flow_def *d)
{
	return d->version;
}

json_t *flow_def_doc(const flow_def *d)
{
	return json_incref(d->doc);
}

json_t *flow_defs_json(void)
{
	json_t *arr = json_array();
	pthread_rwlock_rdlock(&reg_lock);
	for (flow_def *x = registry; x; x = x->next_in_registry) {
		const flow_def *newest = NULL;
		for (flow_def *y = registry; y; y = y->next_in_registry)
			if (!strcmp(y->key, x->key) && (!newest || y->version > newest->version))
				newest = y;
		if (newest != x)
			continue;
		json_t *o = json_object();
		jx_set_str(o, "key", x->key);
		jx_set_int(o, "version", x->version);
		jx_set_str(o, "name", x->name);
		jx_set_str(o, "owner", x->owner);
		json_object_set(o, "starters", x->starters ? x->starters : json_null());
		json_array_append_new(arr, o);
	}
	pthread_rwlock_unlock(&reg_lock);
	return arr;
}
