/*
 * supervise_int.h — what the supervision module's files share: the compiled
 * rules, the card columns and small helpers. Not for other modules.
 */
#ifndef YZ_SUPERVISE_INT_H
#define YZ_SUPERVISE_INT_H

#include "core/buf.h"
#include "supervise/supervise.h"

#define SV_MAX_FLOWS 16

typedef enum sv_colour { SV_PROMPT = 1, SV_YELLOW, SV_RED } sv_colour;

const char *sv_colour_name(sv_colour c);

/* One rule, compiled from the document. -1 in a condition means "any". */
typedef struct sv_rule {
	char code[64];
	char name[128];
	flow_event_kind event;
	sv_colour colour;
	int on_time;      /* instance_on_time must be (0 | 1), or -1 */
	int reason_empty; /* reason must be empty (1) or given (0), or -1 */
	int waited_hours; /* transferred: waited at least this many working hours (0 = any) */
	char flows[SV_MAX_FLOWS][64];
	int nflows; /* 0 = every flow */
	int respond_days;
	char escalate_to[64];
} sv_rule;

/* A set of rules as stored (version, digest of the document). Shared and
 * immutable once built: take it with sv_rules_current, give it back with
 * sv_rules_release. */
typedef struct sv_rules {
	int64_t version;
	char digest[65];
	int n;
	sv_rule *r;
	int refs;
} sv_rules;

/* The rules in force as tx sees them (NULL *out when none is stored),
 * compiled once per version and kept. */
YZ_MUST_USE yz_status sv_rules_current(store_conn *tx, sv_rules **out, yz_err *e);
void sv_rules_release(sv_rules *r);

/* Prefix test on materialised paths. */
bool sv_path_within(const char *path, const char *root);
/* The org id at the end of a materialised path ("/1/4/17/" → 17), 0 if none. */
int64_t sv_path_org(const char *path);
/* The name of an org (by its path), "" when unknown. */
YZ_MUST_USE yz_status sv_org_name(store_conn *c, const char *path, char *out, size_t cap,
                                  yz_err *e);

/* Shared by the queries and the export. */
#define SV_CARD_COLS                                                                               \
	"c.id, c.colour, c.rule_code, c.rule_name, c.rule_version, c.event, c.instance_id, "       \
	"c.token_id, c.flow_key, c.flow_name, c.title, c.step, c.step_name, c.org_path, "          \
	"c.unit_path, c.unit_name, c.issued_at, c.due_at, c.respond_by, c.escalate_to, c.detail, " \
	"r.at, x.at, s.at"
#define SV_CARD_FROM                                                                               \
	" FROM supervise_card c LEFT JOIN supervise_card_event r ON r.card_id = c.id AND r.kind "  \
	"= "                                                                                       \
	"'responded' LEFT JOIN supervise_card_event x ON x.card_id = c.id AND x.kind = "           \
	"'corrected' LEFT JOIN supervise_card_event s ON s.card_id = c.id AND s.kind = "           \
	"'escalated'"

struct store_rows;
/* A card row (SV_CARD_COLS) as JSON; now decides response_overdue. */
json_t *sv_card_json(store_rows *r, int64_t now);

/* Append the WHERE conditions of a filter and a scope to sql (which already
 * holds "... WHERE 1 = 1"); args grows. False when the scope allows nothing.
 * pats receives malloc'd LIKE patterns to free after the query. */
#define SV_MAX_ARGS 48
typedef struct sv_where {
	store_val args[SV_MAX_ARGS];
	int na;
	char *pats[40];
	int npats;
} sv_where;
bool sv_where_add(sv_where *w, buf *sql, const yz_scope *scope, const supervise_filter *f);
void sv_where_free(sv_where *w);

#endif
