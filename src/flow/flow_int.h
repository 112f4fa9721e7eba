/*
 * flow_int.h — the compiled form of a definition and what the flow engine's
 * files share. Not for other modules.
 */
#ifndef YZ_FLOW_INT_H
#define YZ_FLOW_INT_H

#include "flow/flow.h"

#define FLOW_MAX_STEPS    200
#define FLOW_MAX_OUTCOMES 16
#define FLOW_MAX_BRANCHES 32

typedef enum step_kind {
	STEP_TASK = 1,
	STEP_PARALLEL,
	STEP_JOIN,
	STEP_DECISION,
	STEP_TIMER,
	STEP_SUBFLOW,
	STEP_END,
} step_kind;

typedef enum limit_unit { LIMIT_NONE = 0, LIMIT_WORKDAYS, LIMIT_WORKHOURS, LIMIT_DAYS } limit_unit;

typedef struct flow_limit {
	limit_unit unit;
	int n;
} flow_limit;

typedef enum assignee_kind {
	ASSIGN_ROLE = 1, /* holders of a role whose scope covers the org */
	ASSIGN_DEPT,     /* staff of an org subtree */
	ASSIGN_STARTER,  /* the instance's starter (e.g. 补正 by the applicant) */
} assignee_kind;

typedef struct flow_outcome {
	const char *name;
	const char *label;
	int next; /* step index */
	bool reason_required;
} flow_outcome;

typedef struct flow_rule {
	json_t *when; /* borrowed from the document */
	int next;
} flow_rule;

/* Escalation when a task is overdue: the instance is copied to the holders of
 * role within org (a code or "$owner") and they are told. */
typedef struct flow_escalation {
	const char *role;
	const char *org;
} flow_escalation;

typedef struct flow_step {
	const char *id;
	const char *name;
	step_kind kind;
	flow_limit limit;
	/* task */
	assignee_kind assignee;
	const char *role;     /* ASSIGN_ROLE */
	const char *org;      /* org code, "$owner" or "$starter_org" */
	const char *suspends; /* a suspension kind while the task is open, or NULL */
	json_t *form;         /* fields of the task's form, or NULL */
	flow_outcome outcomes[FLOW_MAX_OUTCOMES];
	int noutcomes;
	const char *cc_role;      /* copy the instance to holders of this role (抄送), or NULL */
	flow_escalation escalate; /* when the task is overdue (role NULL: the flow's) */
	/* parallel */
	int branches[FLOW_MAX_BRANCHES];
	int nbranches;
	int join;
	/* join */
	int need; /* 0 = all branches, else this many (1 = any) */
	int split;
	/* decision */
	flow_rule rules[FLOW_MAX_OUTCOMES];
	int nrules;
	/* task (single outcome shortcut), join, decision default, timer, subflow */
	int next;
	/* subflow */
	const char *subflow;
	/* end */
	const char *outcome;
} flow_step;

typedef struct flow_extension {
	const char *role;
	int max_workdays;
} flow_extension;

struct flow_def {
	char *key;
	int version;
	int64_t id; /* row id in flow_def */
	const char *name;
	json_t *doc; /* owned; the strings below point into it */
	flow_step *steps;
	int nsteps;
	int start;
	flow_limit limit;     /* promised (承诺时限) */
	flow_limit statutory; /* statutory (法定时限) */
	const char *owner;    /* org code of the handling department */
	json_t *form;         /* the start form's fields */
	flow_extension ext[8];
	int next_ext;
	json_t *starters;         /* role codes, or "public" / "signed-in" */
	flow_escalation escalate; /* for every task without its own */
	struct flow_def *next_in_registry;
};

/* Compile a checked document (takes a reference). */
YZ_MUST_USE yz_status flow_def_compile(json_t *doc, flow_def **out, yz_err *e);
void flow_def_free(flow_def *d);
int flow_def_step_index(const flow_def *d, const char *id);
void flow_registry_add(flow_def *d);

/* Forms: validate data against fields [{name, label, type, required, min, max,
 * options}]; every fault as a field error "data.<name>". */
/* fields may be NULL: a form without fields */
YZ_MUST_USE yz_status flow_form_validate(json_t *fields, json_t *data, bool partial, yz_err *e);
YZ_MUST_USE yz_status flow_form_check_def(json_t *fields, const char *path, yz_err *e);

/* Decision rules: {"field","op","value"} | {"all":[...]} | {"any":[...]} |
 * {"not": rule}. */
bool flow_rule_matches(json_t *rule, json_t *data);
YZ_MUST_USE yz_status flow_rule_check(json_t *rule, const char *path, yz_err *e);

/* Deadlines with the engine's calendar. */
int64_t flow_deadline(const flow_limit *l, int64_t start_ms);
/* The office hours the engine counts working hours with. */
const calendar_hours *flow_hours(void);

/* The commands `who` may give on an instance now ("claim 12", "complete 12",
 * "suspend", …), appended to out. */
YZ_MUST_USE yz_status flow_actions(store_conn *c, const yz_actor *who, int64_t id, json_t *out,
                                   yz_err *e);

#endif
