/*
 * supervise.h — electronic supervision (电子监察) of the flow engine: rules
 * as data turn the engine's events into cards, the units answer them, and the
 * supervising unit watches on-time rates.
 *
 * Rules. A rules document {"rules": [...]} lists, per rule: code, name, the
 * flow event it watches (by a stable name: reminder, inst_reminder, overdue,
 * two_thirds, inst_overdue, statutory_overdue, rejected, returned,
 * transferred), a colour (prompt | yellow | red), conditions (instance_on_time,
 * reason_empty, waited_workhours_at_least, flows), whether it is enabled, and
 * for yellow and red cards respond_within {workdays} and escalate_to (the org
 * code of the supervising unit). Every version of the document is kept
 * (supervise_ruleset, never updated); the newest applies. Faults are field
 * errors named by their JSON path ("rules[2].escalate_to").
 *
 * Cards. supervise_flow_event is a flow listener (flow_on_event): inside the
 * transaction of the flow event it writes one card per matching rule, so a
 * card commits with its cause. A card is a row that is never changed; what
 * happens to it is a list of card events, also never changed: issued,
 * responded, corrected, escalated (each at most once). Its state follows from
 * them: a prompt (提示) is "info" and needs nothing; a yellow or red card is
 * "open" until the unit responds ("responded"), and is cleared only by a
 * recorded correction ("cleared"), which needs a response first. A yellow or
 * red card not responded to within respond_within working days is escalated
 * to the supervising unit, once (supervise_escalate_due; its due times are
 * rows of supervise_pending, a work queue, so escalation survives restarts).
 *
 * The unit of a card is where the task is handled (the event's task org path;
 * the instance's handling org for instance events). Responding and correcting
 * are for holders of supervise.respond whose scope for it covers the unit and
 * whose own organisation lies within the unit. Viewing is for holders of
 * supervise.read whose scope covers the unit, and for those who may respond.
 * New yellow and red cards are told to those who may respond, escalations to
 * the staff of the supervising unit (in-app messages, in the same
 * transaction). Every change is audited in its transaction.
 *
 * Owns supervise_ruleset, supervise_card, supervise_card_event and
 * supervise_pending. Module logic only: api.c and pages.c hold the HTTP side.
 */
#ifndef YZ_SUPERVISE_SUPERVISE_H
#define YZ_SUPERVISE_SUPERVISE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/actor.h"
#include "core/status.h"
#include "flow/flow.h"
#include "store/store.h"

extern const store_migration supervise_migrations[];
extern const int supervise_nmigrations;

#define SUPERVISE_MAX_RULES 64
#define SUPERVISE_TEXT_MAX  1000 /* characters of a response or a correction */

/* ---- rules ---- */

/* Check a rules document: structure, names, events, colours, conditions,
 * org codes of escalate_to (against c) and flow keys (registered flows).
 * Faults as field errors with JSON paths. */
YZ_MUST_USE yz_status supervise_rules_check(store_conn *c, json_t *doc, yz_err *e);
/* Check and store doc as the next version, unless the newest stored version
 * has the same content (then *version is that version). if_version > 0 must
 * be the newest version (YZ_ECONFLICT otherwise). Rules are city-wide: who
 * needs an unrestricted scope (YZ_EFORBIDDEN). Audited
 * "supervise.rules.replace". */
YZ_MUST_USE yz_status supervise_rules_replace(store *s, const yz_actor *who, json_t *doc,
                                              int64_t if_version, int64_t *version, yz_err *e);
/* The rules in force: {"version", "created_at", "created_by", "rules": [...]}
 * (version 0 and no rules when none was ever stored). */
YZ_MUST_USE yz_status supervise_rules_get(store_conn *c, json_t **out, yz_err *e);
/* Load a pack's rules file (a rules document) as the system. A missing file
 * is no error (*version 0). */
YZ_MUST_USE yz_status supervise_rules_load_file(store *s, const char *path, int64_t *version,
                                                yz_err *e);

/* ---- the flow listener and escalation ---- */

/* flow_event_fn: writes the cards of the event with tx. Fails only on
 * database errors (which abort the flow transition). */
YZ_MUST_USE yz_status supervise_flow_event(store_conn *tx, const flow_event *ev, void *ctx,
                                           yz_err *e);
/* Escalate the yellow and red cards whose response is due at `now` and did
 * not come: one write job each, at most max; *escalated gets how many. A card
 * is escalated once, whatever runs it (another node, a rerun). */
YZ_MUST_USE yz_status supervise_escalate_due(store *s, int64_t now, int max, int *escalated,
                                             yz_err *e);

/* ---- commands of the unit ---- */

/* in: {"text": what the unit says (1..1000 characters)}. who->scope is
 * who's scope for supervise.respond. YZ_ENOTFOUND when who may not see the
 * card, YZ_EFORBIDDEN when who may see but not answer it, YZ_ECONFLICT when
 * the card's state does not allow it (a prompt; responded already; corrected
 * already; a correction before the response). Audited
 * "supervise.card.respond" / "supervise.card.correct". */
YZ_MUST_USE yz_status supervise_respond(store *s, const yz_actor *who, int64_t card, json_t *in,
                                        yz_err *e);
YZ_MUST_USE yz_status supervise_correct(store *s, const yz_actor *who, int64_t card, json_t *in,
                                        yz_err *e);

/* ---- reading ---- */

/* Who looks: the scope of supervise.read (NULL when not held), the scope of
 * supervise.respond (NULL when not held), and the viewer's own org path ("" or
 * NULL when none). */
typedef struct supervise_viewer {
	const yz_scope *read;
	const yz_scope *respond;
	const char *own_org_path;
} supervise_viewer;

typedef struct supervise_filter {
	const char *state;  /* info | open | responded | cleared | active (open or responded); NULL
	                       = all */
	const char *colour; /* prompt | yellow | red; NULL = all */
	const char *org_path; /* the unit lies within this subtree; NULL = all */
	const char *flow;     /* flow key; NULL = all */
	bool escalated;       /* only escalated cards */
	int64_t from, to;     /* issued in [from, to); 0 = unbounded */
	int64_t before;       /* cursor: cards with id < before (0 = newest) */
	int limit;            /* 1..200, default 50 */
} supervise_filter;

/* Validate the filter's words (state, colour): field errors otherwise. */
YZ_MUST_USE yz_status supervise_filter_check(const supervise_filter *f, yz_err *e);

/* Cards the viewer may see, newest first: with v->read, those whose unit lies
 * in it; else those v may respond to. {"items": [card], "next": cursor|null}.
 * A card: {id, colour, state, escalated, rule {code, name, version}, event,
 * instance {id, title, flow, flow_name}, step, step_name, unit {path, name},
 * org_path, issued_at, due_at, respond_by, response_overdue, escalate_to,
 * detail {...}, responded_at, corrected_at, escalated_at}. */
YZ_MUST_USE yz_status supervise_cards_list(store_conn *c, const supervise_viewer *v,
                                           const supervise_filter *f, json_t **out, yz_err *e);
/* One card with its events [{kind, at, actor, actor_name, text}] and the
 * commands the viewer may give now ("actions": ["respond"] or ["correct"]).
 * YZ_ENOTFOUND when the viewer may not see it. */
YZ_MUST_USE yz_status supervise_card_get(store_conn *c, const supervise_viewer *v, int64_t id,
                                         json_t **out, yz_err *e);

/* Counts of the cards within scope issued in [from, to) (0 = unbounded):
 * {"totals": {prompt, yellow, red, open, responded, cleared, escalated,
 * response_overdue}, "by_unit": [{path, name, ...same counts}], "by_flow":
 * [{flow, flow_name, ...same counts}]}, busiest first. */
YZ_MUST_USE yz_status supervise_summary(store_conn *c, const yz_scope *scope, int64_t from,
                                        int64_t to, json_t **out, yz_err *e);

/* On-time figures of the 12 months up to the month of now, within scope (from
 * flow_stats), with the cards issued per month: {"months": [{month "YYYY-MM",
 * tasks_done, tasks_on_time, task_rate, closed, closed_on_time, closed_rate,
 * prompt, yellow, red}], "by_unit": [{path, name, tasks_done, tasks_on_time,
 * task_rate, open, overdue}], "by_flow": [{flow, tasks_done, tasks_on_time,
 * task_rate, closed, closed_on_time, closed_rate}], "totals": {...}}. Rates
 * are percentages with one decimal, null when nothing was counted. */
YZ_MUST_USE yz_status supervise_stats(store_conn *c, const yz_scope *scope, int64_t now,
                                      json_t **out, yz_err *e);

/* Write an Excel workbook to path: the sheet 监察卡片 with the cards of the
 * filter within scope (at most 20000, newest first), 按月按时率 with the 12
 * months of supervise_stats and 按单位按时率 with its units. */
#define SUPERVISE_EXPORT_MAX 20000
YZ_MUST_USE yz_status supervise_export_xlsx(store_conn *c, const yz_scope *scope,
                                            const supervise_filter *f, int64_t now,
                                            const char *path, yz_err *e);

/* The stable name of a supervised flow event ("overdue"), NULL for events no
 * rule can watch; and back (0 when unknown). */
const char *supervise_event_name(flow_event_kind k);
flow_event_kind supervise_event_parse(const char *name);

#endif
