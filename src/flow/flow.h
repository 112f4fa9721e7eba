/*
 * flow.h — the flow engine: every procedure as a durable flow of steps owned
 * by departments, with legal deadlines in working days.
 *
 * Definitions are JSON documents (key + version), validated when loaded: every
 * fault names its path ("steps.review.next"). A loaded definition is compiled
 * into an immutable flow_def held in a process-wide registry; instances are
 * pinned to the version they started with.
 *
 * Step kinds: task (an assignee rule: a role within an org, a department, or
 * the instance's starter; claimed by a candidate or assigned directly),
 * parallel (split into branches) and join (all, any, or n of them), decision
 * (rules over the instance's data, first match wins, a default), timer (wait),
 * subflow (start an instance of another definition and wait for its end), end
 * (an outcome).
 *
 * Every command (start, claim, complete, return, reject, transfer, suspend,
 * resume, extend, withdraw, comment) is one write job through the store's
 * group-commit writer. The job first takes the instance row (UPDATE … RETURNING,
 * a row lock on PostgreSQL), so transitions of one instance never interleave:
 * a parallel join counts each arrival exactly once. Commands may carry an
 * idempotency key: the same key answers the first result again. Each
 * transition appends to the instance's history and to the audit chain, and
 * writes its notifications into the outbox in the same transaction. A command
 * that the instance's state does not allow fails with YZ_ECONFLICT and a
 * message listing the commands that are allowed.
 *
 * Time: deadlines are absolute times computed with the working-day calendar
 * (calendar.h) at the moment a step starts; time during which the clock does
 * not run (suspensions: 补正 waiting for the applicant, hearings, testing,
 * expert review — 行政许可法 Art. 45) pushes every open deadline of the
 * instance by the working time it lasted; extensions push the instance's
 * deadline. Timers are rows with a due time: a sweeper fires those that are
 * due (at start, then every second), so they survive restarts.
 *
 * Module logic only; api.c and pages.c hold the HTTP side.
 */
#ifndef YZ_FLOW_FLOW_H
#define YZ_FLOW_FLOW_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/actor.h"
#include "core/arena.h"
#include "core/status.h"
#include "flow/calendar.h"
#include "store/store.h"

extern const store_migration flow_migrations[];
extern const int flow_nmigrations;

/* ---- definitions ---- */

typedef struct flow_def flow_def;

/* Checks a definition document without loading it: structure, references,
 * reachability, joins, loops without exit, forms. `role_known` (may be NULL)
 * tells whether a role code exists, `org_known` an org code. Faults go into
 * e as field errors whose field is the JSON path. */
typedef bool (*flow_name_check)(void *ctx, const char *name);
YZ_MUST_USE yz_status flow_def_check(json_t *doc, flow_name_check role_known,
                                     flow_name_check org_known, void *ctx, yz_err *e);

/* Load a definition: checks it (roles and orgs against iam), stores it as the
 * next version of its key unless the newest stored version has the same
 * content, and registers it. *version receives the version number. */
YZ_MUST_USE yz_status flow_def_load(store *s, const yz_actor *who, json_t *doc, int *version,
                                    yz_err *e);
/* Load every stored version into the registry (at start). */
YZ_MUST_USE yz_status flow_defs_restore(store *s, yz_err *e);
/* The registered definition key@version (version 0 = newest), or NULL. The
 * pointer stays valid until flow_defs_clear. */
const flow_def *flow_def_get(const char *key, int version);
void flow_defs_clear(void);
/* How many definitions (key@version) the registry holds. */
int flow_defs_count(void);
/* Register the definitions another node stored since (cheap when none):
 * *added (may be NULL) gets how many. */
YZ_MUST_USE yz_status flow_defs_sync(store *s, int *added, yz_err *e);
const char *flow_def_key(const flow_def *d);
int flow_def_version(const flow_def *d);
/* [{key, version, name, ...}] of the newest versions. */
json_t *flow_defs_json(void);
/* The document of key@version (new reference), or NULL. */
json_t *flow_def_doc(const flow_def *d);

/* ---- the engine ---- */

/* What the engine needs besides the store: the calendar, office hours, and
 * whether to write notifications. Set once at start. */
typedef struct flow_env {
	const calendar *cal;
	calendar_hours hours;
} flow_env;
void flow_set_env(const flow_env *env);
/* Swap in a newer calendar while the engine runs (another node or the
 * command line imported a notice). The old one must stay alive: the caller
 * keeps it until the engine stops. */
void flow_set_calendar(const calendar *cal);
/* The calendar the engine computes with now (NULL before start). */
const calendar *flow_calendar(void);
/* Load the calendar the database holds now when its notices changed since
 * the last load (always with force) and swap it in; *changed (may be NULL)
 * tells whether it did. Thread-safe. flow_calendars_free releases every
 * calendar loaded so (when the engine stops). */
YZ_MUST_USE yz_status flow_calendar_reload(store *s, bool force, bool *changed, yz_err *e);
void flow_calendars_free(void);

typedef enum flow_cmd {
	FLOW_CLAIM = 1,
	FLOW_COMPLETE,
	FLOW_RETURN,
	FLOW_REJECT,
	FLOW_TRANSFER,
	FLOW_SUSPEND,
	FLOW_RESUME,
	FLOW_EXTEND,
	FLOW_WITHDRAW,
	FLOW_COMMENT,
} flow_cmd;
const char *flow_cmd_name(flow_cmd c);
flow_cmd flow_cmd_parse(const char *name); /* 0 when unknown */

/* Events of the engine, told to a listener inside the transaction that
 * causes them (electronic supervision writes its cards there, so a card
 * commits with its cause). */
typedef enum flow_event_kind {
	FLOW_EV_STARTED = 1,
	FLOW_EV_TASK_OPENED,
	FLOW_EV_TASK_DONE,
	FLOW_EV_REMINDER,          /* one working day before a task's deadline */
	FLOW_EV_OVERDUE,           /* a task's deadline passed */
	FLOW_EV_INST_REMINDER,     /* one working day before the promised deadline */
	FLOW_EV_INST_OVERDUE,      /* the promised deadline passed */
	FLOW_EV_STATUTORY_OVERDUE, /* the statutory deadline passed */
	FLOW_EV_REJECTED,
	FLOW_EV_RETURNED,
	FLOW_EV_TRANSFERRED,
	FLOW_EV_SUSPENDED,
	FLOW_EV_RESUMED,
	FLOW_EV_EXTENDED,
	FLOW_EV_CLOSED,
	FLOW_EV_ESCALATED,  /* an overdue task was escalated (reason: the role) */
	FLOW_EV_TWO_THIRDS, /* two thirds of a task's limit (≥ 3 working days) used */
} flow_event_kind;

typedef struct flow_event {
	flow_event_kind kind;
	int64_t instance_id;
	const char *flow_key, *flow_name, *title;
	const char *org_path; /* the handling org of the instance */
	int64_t token_id;     /* the task, when the event is about one */
	const char *step, *step_name;
	const char *task_org_path; /* where the task is handled (its candidates' org) */
	int64_t opened_at, due_at; /* of the task (or of the instance for INST_ events) */
	int64_t at;
	const yz_actor *who; /* NULL for timers */
	const char *reason;  /* reject/return/transfer/suspend reason, may be "" */
	const char *outcome;
	bool instance_on_time; /* for task events: the instance's promised deadline not passed */
	int64_t waited_ms;     /* transfer: how long the task waited before it was forwarded */
} flow_event;
typedef yz_status (*flow_event_fn)(store_conn *tx, const flow_event *ev, void *ctx, yz_err *e);
/* Add a listener (start-up only; up to 8, told in the order added); NULL
 * removes them all. */
void flow_on_event(flow_event_fn fn, void *ctx);

/* The listener that writes the flow's notifications into the outbox
 * (flow_notify.c): handlers hear of new, due, overdue and handed-on tasks,
 * the escalation role of escalations, the applicant of 补正 and of the end. */
YZ_MUST_USE yz_status flow_notify_event(store_conn *tx, const flow_event *ev, void *ctx, yz_err *e);

/* Start an instance of key (newest version). in: {"title"?, "data": {...form
 * fields...}, "org"? (handling org code, default the definition's owner)}.
 * idem_key may be NULL. *id receives the instance id. */
YZ_MUST_USE yz_status flow_start(store *s, const yz_actor *who, const char *key, json_t *in,
                                 const char *idem_key, int64_t *id, yz_err *e);

/* A command on an instance. task_id names the task for claim, complete,
 * return, reject and transfer (0 otherwise). in holds the command's
 * arguments: complete {"outcome", "data"}, return/reject {"reason"},
 * transfer {"user" (login) | "org" (code), "reason"}, suspend {"kind":
 * "correction"|"hearing"|"testing"|"expert", "reason"}, resume {}, extend
 * {"workdays", "reason"}, withdraw {"reason"}, comment {"text"}. Unknown
 * members are refused. `who` must be entitled (a candidate of the task, the
 * starter for withdraw/resume of a correction, a granted role for extend). */
YZ_MUST_USE yz_status flow_command(store *s, const yz_actor *who, int64_t instance_id,
                                   int64_t task_id, flow_cmd cmd, json_t *in, const char *idem_key,
                                   yz_err *e);

/* The instance as JSON: state, data, open tasks with deadlines and the
 * working time left, the timeline (history with who, when, time used), and the
 * commands `who` may give now. YZ_ENOTFOUND when outside who's view. */
YZ_MUST_USE yz_status flow_instance_get(store_conn *c, const yz_actor *who, int64_t id,
                                        json_t **out, yz_err *e);

/* The work inbox of `who`: "todo" (open tasks assigned to or claimable by
 * them), "done" (tasks they completed), "mine" (instances they started),
 * "cc" (instances copied to them). deadline: NULL, "overdue", "soon" (due
 * within one working day) or "ok". {"items": [...], "next": cursor|null}. */
YZ_MUST_USE yz_status flow_inbox(store_conn *c, const yz_actor *who, const char *box,
                                 const char *deadline, int64_t before, int limit, json_t **out,
                                 yz_err *e);

/* On-time figures of [from_ms, to_ms) within org_prefix (an org path, NULL or
 * "" = all): {"tasks": [{month "YYYY-MM", org_path, flow, done, on_time}],
 * "instances": [{month, org_path, flow, closed, on_time}], "open": [{month
 * "now", org_path, flow, open, overdue}]}. Tasks of the applicant (补正) are
 * not counted: their time is not a unit's. */
YZ_MUST_USE yz_status flow_stats(store_conn *c, int64_t from_ms, int64_t to_ms,
                                 const char *org_prefix, json_t **out, yz_err *e);

/* Fire the timers that are due at `now` (deadlines passed, reminders,
 * timer steps). Returns how many fired. */
YZ_MUST_USE yz_status flow_sweep(store *s, int64_t now, int max, int *fired, yz_err *e);

/* After the calendar changed for some days: recompute the deadlines of open
 * tasks and instances that depend on them, record it in each instance's
 * history. *recomputed receives how many deadlines moved. */
YZ_MUST_USE yz_status flow_recompute_deadlines(store *s, const yz_actor *who, int64_t *recomputed,
                                               yz_err *e);

/* Move the open instances of key from one version to another through an
 * explicit step map {"old step": "new step", ...}; every open step must be
 * mapped. *moved receives the number of instances. */
YZ_MUST_USE yz_status flow_migrate(store *s, const yz_actor *who, const char *key, int from_version,
                                   int to_version, json_t *step_map, int *moved, yz_err *e);

#endif
