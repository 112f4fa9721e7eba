/*
 * rules.c — the supervision rules: checking a document with JSON paths,
 * storing it as a new version, reading the one in force, and the compiled
 * form the flow listener uses (built once per version, shared).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "core/clock.h"
#include "core/jx.h"
#include "core/slice.h"
#include "crypto/crypto.h"
#include "iam/iam.h"
#include "supervise/supervise_int.h"

/* ---- names ---- */

static const struct {
	flow_event_kind kind;
	const char *name;
} event_names[] = {
    {FLOW_EV_REMINDER, "reminder"},         {FLOW_EV_INST_REMINDER, "inst_reminder"},
    {FLOW_EV_OVERDUE, "overdue"},           {FLOW_EV_TWO_THIRDS, "two_thirds"},
    {FLOW_EV_INST_OVERDUE, "inst_overdue"}, {FLOW_EV_STATUTORY_OVERDUE, "statutory_overdue"},
    {FLOW_EV_REJECTED, "rejected"},         {FLOW_EV_RETURNED, "returned"},
    {FLOW_EV_TRANSFERRED, "transferred"},
};
#define NEVENTS ((int)(sizeof event_names / sizeof event_names[0]))

const char *supervise_event_name(flow_event_kind k)
{
	for (int i = 0; i < NEVENTS; i++)
		if (event_names[i].kind == k)
			return event_names[i].name;
	return NULL;
}

flow_event_kind supervise_event_parse(const char *name)
{
	for (int i = 0; name && i < NEVENTS; i++)
		if (!strcmp(event_names[i].name, name))
			return event_names[i].kind;
	return 0;
}

const char *sv_colour_name(sv_colour c)
{
	switch (c) {
	case SV_PROMPT:
		return "prompt";
	case SV_YELLOW:
		return "yellow";
	case SV_RED:
		return "red";
	}
	return "";
}

static sv_colour colour_parse(const char *s)
{
	if (!s)
		return 0;
	if (!strcmp(s, "prompt"))
		return SV_PROMPT;
	if (!strcmp(s, "yellow"))
		return SV_YELLOW;
	if (!strcmp(s, "red"))
		return SV_RED;
	return 0;
}

/* ---- checking ---- */

/* Copy the field errors of t into e, each named "<prefix>.<field>". */
static void add_prefixed(yz_err *e, const char *prefix, const yz_err *t)
{
	int n = t->nfield < YZ_ERR_MAX_FIELDS ? t->nfield : YZ_ERR_MAX_FIELDS;
	for (int i = 0; i < n; i++) {
		char f[160];
		if (snprintf(f, sizeof f, "%s.%s", prefix, t->fields[i].field) >= (int)sizeof f)
			f[sizeof f - 1] = '\0'; /* a path this long is shown cut */
		yz_field(e, f, t->fields[i].rule, t->fields[i].expected, t->fields[i].got);
	}
	if (!n && t->code != YZ_OK)
		yz_field(e, prefix, "type", "an object", NULL);
}

static bool code_chars(json_t *v, const char **rule, const char **expected)
{
	for (const char *p = json_string_value(v); *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' ||
		      *p == '_' || *p == '-')) {
			*rule = "pattern";
			*expected = "a-z, 0-9, '.', '_' and '-'";
			return false;
		}
	return true;
}

static bool event_known(json_t *v, const char **rule, const char **expected)
{
	if (supervise_event_parse(json_string_value(v)))
		return true;
	*rule = "enum";
	*expected = "reminder, inst_reminder, overdue, two_thirds, inst_overdue, "
	            "statutory_overdue, rejected, returned or transferred";
	return false;
}

static bool colour_known(json_t *v, const char **rule, const char **expected)
{
	if (colour_parse(json_string_value(v)))
		return true;
	*rule = "enum";
	*expected = "prompt, yellow or red";
	return false;
}

static const jx_field doc_fields[] = {
    {"rules", JX_ARRAY, true, 1, SUPERVISE_MAX_RULES, NULL},
    {"description", JX_STRING, false, 0, 500, NULL},
    {NULL, 0, false, 0, 0, NULL},
};

static const jx_field rule_fields[] = {
    {"code", JX_STRING, true, 1, 48, code_chars},
    {"name", JX_STRING, true, 1, 100, NULL},
    {"description", JX_STRING, false, 0, 500, NULL},
    {"event", JX_STRING, true, 0, 0, event_known},
    {"colour", JX_STRING, true, 0, 0, colour_known},
    {"enabled", JX_BOOL, false, 0, 0, NULL},
    {"conditions", JX_OBJECT, false, 0, 0, NULL},
    {"respond_within", JX_OBJECT, false, 0, 0, NULL},
    {"escalate_to", JX_STRING, false, 1, 64, NULL},
    {NULL, 0, false, 0, 0, NULL},
};

static const jx_field cond_fields[] = {
    {"instance_on_time", JX_BOOL, false, 0, 0, NULL},
    {"reason_empty", JX_BOOL, false, 0, 0, NULL},
    {"waited_workhours_at_least", JX_INT, false, 1, 10000, NULL},
    {"flows", JX_ARRAY, false, 1, SV_MAX_FLOWS, NULL},
    {NULL, 0, false, 0, 0, NULL},
};

static const jx_field within_fields[] = {
    {"workdays", JX_INT, true, 1, 60, NULL},
    {NULL, 0, false, 0, 0, NULL},
};

static const char *json_type_name_of(json_t *v)
{
	return json_is_object(v)   ? "object"
	       : json_is_array(v)  ? "array"
	       : json_is_string(v) ? "string"
	                           : "value";
}

static void check_conditions(store_conn *c, json_t *cond, const char *path, flow_event_kind ev,
                             yz_err *e)
{
	yz_err t = {0};
	if (jx_validate(cond, cond_fields, &t) != YZ_OK) {
		add_prefixed(e, path, &t);
		return;
	}
	(void)c;
	char f[256];
	bool has_reason =
	    ev == FLOW_EV_REJECTED || ev == FLOW_EV_RETURNED || ev == FLOW_EV_TRANSFERRED;
	if (json_object_get(cond, "reason_empty") && !has_reason) {
		snprintf(f, sizeof f, "%s.reason_empty", path);
		yz_field(e, f, "applies", "only for rejected, returned and transferred", NULL);
	}
	if (json_object_get(cond, "waited_workhours_at_least") && ev != FLOW_EV_TRANSFERRED) {
		snprintf(f, sizeof f, "%s.waited_workhours_at_least", path);
		yz_field(e, f, "applies", "only for transferred", NULL);
	}
	size_t k;
	json_t *x;
	json_array_foreach (json_object_get(cond, "flows"), k, x) {
		snprintf(f, sizeof f, "%s.flows[%zu]", path, k);
		if (!json_is_string(x))
			yz_field(e, f, "type", "a flow key", json_type_name_of(x));
		else if (!flow_def_get(json_string_value(x), 0))
			yz_field(e, f, "exists", "the key of a loaded flow", json_string_value(x));
	}
}

yz_status supervise_rules_check(store_conn *c, json_t *doc, yz_err *eout)
{
	if (!json_is_object(doc))
		return yz_fail(eout, YZ_EINVAL,
		               "a rules document is a JSON object {\"rules\": [...]}");
	yz_err acc = {0}, *e = &acc;
	yz_err t = {0};
	if (jx_validate(doc, doc_fields, &acc) != YZ_OK) {
		if (eout)
			*eout = acc;
		return yz_fail(eout, YZ_EINVAL, "the rules document is not valid");
	}
	json_t *rules = json_object_get(doc, "rules");
	size_t i;
	json_t *r;
	json_array_foreach (rules, i, r) {
		char path[32], f[160];
		snprintf(path, sizeof path, "rules[%zu]", i);
		if (!json_is_object(r)) {
			yz_field(e, path, "type", "an object", json_type_name_of(r));
			continue;
		}
		memset(&t, 0, sizeof t);
		if (jx_validate(r, rule_fields, &t) != YZ_OK) {
			add_prefixed(e, path, &t);
			continue;
		}
		const char *code = jx_str(r, "code", "");
		for (size_t k = 0; k < i; k++)
			if (!strcmp(code, jx_str(json_array_get(rules, k), "code", ""))) {
				snprintf(f, sizeof f, "%s.code", path);
				yz_field(e, f, "unique", "a code no other rule has", code);
				break;
			}
		flow_event_kind ev = supervise_event_parse(jx_str(r, "event", ""));
		sv_colour col = colour_parse(jx_str(r, "colour", ""));
		json_t *within = json_object_get(r, "respond_within");
		const char *esc = jx_str(r, "escalate_to", NULL);
		if (col == SV_PROMPT) {
			/* a prompt informs; nobody answers it, so nothing escalates */
			if (within) {
				snprintf(f, sizeof f, "%s.respond_within", path);
				yz_field(e, f, "absent", "nothing: a prompt needs no response",
				         NULL);
			}
			if (esc) {
				snprintf(f, sizeof f, "%s.escalate_to", path);
				yz_field(e, f, "absent", "nothing: a prompt is not escalated", esc);
			}
		} else {
			snprintf(f, sizeof f, "%s.respond_within", path);
			if (!within) {
				yz_field(e, f, "required",
				         "{\"workdays\": n} for a yellow or red card", NULL);
			} else {
				memset(&t, 0, sizeof t);
				if (jx_validate(within, within_fields, &t) != YZ_OK)
					add_prefixed(e, f, &t);
			}
			snprintf(f, sizeof f, "%s.escalate_to", path);
			if (!esc)
				yz_field(e, f, "required", "the org code of the supervising unit",
				         NULL);
			else if (c && !iam_org_exists(c, esc))
				yz_field(e, f, "exists", "the code of an organisation", esc);
		}
		json_t *cond = json_object_get(r, "conditions");
		if (cond) {
			snprintf(f, sizeof f, "%s.conditions", path);
			check_conditions(c, cond, f, ev, e);
		}
	}
	if (acc.nfield) {
		if (eout)
			*eout = acc;
		return yz_fail(eout, YZ_EINVAL, "the rules document is not valid");
	}
	return YZ_OK;
}

/* ---- compiling ---- */

static void rules_free(sv_rules *r)
{
	if (!r)
		return;
	free(r->r);
	free(r);
}

/* From a checked document. */
static sv_rules *compile(json_t *doc, int64_t version, const char *digest)
{
	sv_rules *rs = calloc(1, sizeof *rs);
	if (!rs)
		return NULL;
	json_t *rules = json_object_get(doc, "rules");
	size_t n = json_array_size(rules);
	rs->r = calloc(n ? n : 1, sizeof *rs->r);
	if (!rs->r) {
		free(rs);
		return NULL;
	}
	rs->version = version;
	yz_strlcpy(rs->digest, digest, sizeof rs->digest);
	size_t i;
	json_t *x;
	json_array_foreach (rules, i, x) {
		if (!jx_bool(x, "enabled", true))
			continue;
		sv_rule *r = &rs->r[rs->n];
		memset(r, 0, sizeof *r);
		yz_strlcpy(r->code, jx_str(x, "code", ""), sizeof r->code);
		yz_strlcpy(r->name, jx_str(x, "name", ""), sizeof r->name);
		r->event = supervise_event_parse(jx_str(x, "event", ""));
		r->colour = colour_parse(jx_str(x, "colour", ""));
		if (!r->event || !r->colour)
			continue;
		json_t *cond = json_object_get(x, "conditions");
		json_t *v = json_object_get(cond, "instance_on_time");
		r->on_time = json_is_boolean(v) ? json_is_true(v) : -1;
		v = json_object_get(cond, "reason_empty");
		r->reason_empty = json_is_boolean(v) ? json_is_true(v) : -1;
		r->waited_hours = (int)jx_int(cond, "waited_workhours_at_least", 0);
		size_t k;
		json_t *fk;
		json_array_foreach (json_object_get(cond, "flows"), k, fk) {
			if (r->nflows < SV_MAX_FLOWS && json_is_string(fk))
				yz_strlcpy(r->flows[r->nflows++], json_string_value(fk),
				           sizeof r->flows[0]);
		}
		r->respond_days = (int)jx_int(json_object_get(x, "respond_within"), "workdays", 0);
		yz_strlcpy(r->escalate_to, jx_str(x, "escalate_to", ""), sizeof r->escalate_to);
		rs->n++;
	}
	return rs;
}

/* The compiled rules of the newest version this process has seen. The flow
 * listener runs on the writer thread, pages on others: a set is handed out
 * with a reference and freed by whoever drops the last one. */
static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static sv_rules *cache;

void sv_rules_release(sv_rules *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&cache_mu);
	bool last = --r->refs == 0;
	pthread_mutex_unlock(&cache_mu);
	if (last)
		rules_free(r);
}

yz_status sv_rules_current(store_conn *tx, sv_rules **out, yz_err *e)
{
	*out = NULL;
	store_rows *rows;
	yz_status st = store_query(
	    tx, "SELECT version, digest FROM supervise_ruleset ORDER BY version DESC LIMIT 1", NULL,
	    0, &rows, e);
	if (st != YZ_OK)
		return st;
	int64_t version = 0;
	char digest[65] = "";
	if (store_next(rows)) {
		version = store_col_int(rows, 0);
		yz_strlcpy(digest, store_col_text(rows, 1), sizeof digest);
	}
	st = store_rows_close(rows, e);
	if (st != YZ_OK || !version)
		return st;
	pthread_mutex_lock(&cache_mu);
	if (cache && cache->version == version && !strcmp(cache->digest, digest)) {
		cache->refs++;
		*out = cache;
	}
	pthread_mutex_unlock(&cache_mu);
	if (*out)
		return YZ_OK;
	store_val a[] = {sv_int(version)};
	st = store_query(tx, "SELECT doc FROM supervise_ruleset WHERE version = ?", a, 1, &rows, e);
	if (st != YZ_OK)
		return st;
	json_t *doc = NULL;
	if (store_next(rows))
		doc = json_loads(store_col_text(rows, 0), 0, NULL);
	st = store_rows_close(rows, e);
	if (st != YZ_OK || !doc) {
		json_decref(doc);
		return st != YZ_OK ? st
		                   : yz_fail(e, YZ_EINTERNAL, "rules version %lld unreadable",
		                             (long long)version);
	}
	sv_rules *rs = compile(doc, version, digest);
	json_decref(doc);
	if (!rs)
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	rs->refs = 2; /* the cache's and the caller's */
	pthread_mutex_lock(&cache_mu);
	sv_rules *old = cache;
	cache = rs;
	bool free_old = old && --old->refs == 0;
	pthread_mutex_unlock(&cache_mu);
	if (free_old)
		rules_free(old);
	*out = rs;
	return YZ_OK;
}

/* ---- storing ---- */

static void digest_of(json_t *doc, char out[65])
{
	char *canon = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	unsigned char h[CRYPTO_SM3_LEN];
	crypto_sm3(canon ? canon : "", canon ? strlen(canon) : 0, h);
	free(canon);
	hex_encode(h, sizeof h, out);
}

typedef struct replace_job {
	const yz_actor *who;
	json_t *doc;
	const char *text, *digest;
	int64_t if_version;
	int64_t version; /* out */
} replace_job;

static yz_status replace_fn(store_conn *tx, void *arg, yz_err *e)
{
	replace_job *j = arg;
	j->version = 0;
	/* org codes are checked again where the write happens */
	yz_status st = supervise_rules_check(tx, j->doc, e);
	if (st != YZ_OK)
		return st;
	store_rows *rows;
	st = store_query(
	    tx, "SELECT version, digest FROM supervise_ruleset ORDER BY version DESC LIMIT 1", NULL,
	    0, &rows, e);
	if (st != YZ_OK)
		return st;
	int64_t newest = 0;
	bool same = false;
	if (store_next(rows)) {
		newest = store_col_int(rows, 0);
		same = !strcmp(store_col_text(rows, 1), j->digest);
	}
	st = store_rows_close(rows, e);
	if (st != YZ_OK)
		return st;
	if (j->if_version > 0 && j->if_version != newest)
		return yz_fail(e, YZ_ECONFLICT,
		               "the rules changed meanwhile: version %lld is in force, not %lld",
		               (long long)newest, (long long)j->if_version);
	if (same) {
		j->version = newest;
		return YZ_OK;
	}
	j->version = newest + 1;
	store_val a[] = {sv_int(j->version), sv_text(j->text), sv_text(j->digest),
	                 sv_int(clock_now_ms()), sv_text(j->who->login)};
	st = store_exec(tx,
	                "INSERT INTO supervise_ruleset (version, doc, digest, created_at, "
	                "created_by) VALUES (?, ?, ?, ?, ?)",
	                a, 5, e);
	if (st != YZ_OK)
		return st;
	char obj[48];
	snprintf(obj, sizeof obj, "supervise-rules:%lld", (long long)j->version);
	json_t *c =
	    json_pack("{s:I, s:s, s:I}", "version", (json_int_t)j->version, "digest", j->digest,
	              "rules", (json_int_t)json_array_size(json_object_get(j->doc, "rules")));
	st = audit_append(tx, j->who, "supervise.rules.replace", obj, NULL, c, e);
	json_decref(c);
	return st;
}

yz_status supervise_rules_replace(store *s, const yz_actor *who, json_t *doc, int64_t if_version,
                                  int64_t *version, yz_err *e)
{
	*version = 0;
	if (!who->scope.all)
		return yz_fail(
		    e, YZ_EFORBIDDEN,
		    "the rules are city-wide: supervise.manage for the whole city is needed");
	store_conn *c;
	yz_status st = store_reader(s, &c, e);
	if (st == YZ_OK)
		st = supervise_rules_check(c, doc, e);
	if (st != YZ_OK)
		return st;
	char *text = json_dumps(doc, JSON_COMPACT);
	if (!text)
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	char digest[65];
	digest_of(doc, digest);
	replace_job j = {
	    .who = who, .doc = doc, .text = text, .digest = digest, .if_version = if_version};
	st = store_write(s, replace_fn, &j, e);
	free(text);
	if (st == YZ_OK)
		*version = j.version;
	return st;
}

yz_status supervise_rules_get(store_conn *c, json_t **out, yz_err *e)
{
	*out = NULL;
	store_rows *rows;
	yz_status st = store_query(c,
	                           "SELECT version, doc, created_at, created_by FROM "
	                           "supervise_ruleset ORDER BY version DESC LIMIT 1",
	                           NULL, 0, &rows, e);
	if (st != YZ_OK)
		return st;
	json_t *o = json_object();
	if (store_next(rows)) {
		jx_set_int(o, "version", store_col_int(rows, 0));
		json_t *doc = json_loads(store_col_text(rows, 1), 0, NULL);
		json_t *rules = json_object_get(doc, "rules");
		json_object_set(o, "rules", rules ? rules : json_array());
		if (json_is_string(json_object_get(doc, "description")))
			json_object_set(o, "description", json_object_get(doc, "description"));
		json_decref(doc);
		char t[40];
		clock_format_city(store_col_int(rows, 2), t, sizeof t);
		jx_set_str(o, "created_at", t);
		jx_set_str(o, "created_by", store_col_text(rows, 3));
	} else {
		jx_set_int(o, "version", 0);
		json_object_set_new(o, "rules", json_array());
		json_object_set_new(o, "created_at", json_null());
		json_object_set_new(o, "created_by", json_null());
	}
	st = store_rows_close(rows, e);
	if (st != YZ_OK) {
		json_decref(o);
		return st;
	}
	*out = o;
	return YZ_OK;
}

yz_status supervise_rules_load_file(store *s, const char *path, int64_t *version, yz_err *e)
{
	*version = 0;
	json_error_t je;
	json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!doc) {
		FILE *f = fopen(path, "r");
		if (!f && errno == ENOENT)
			return YZ_OK;
		if (f)
			fclose(f);
		return yz_fail(e, YZ_EINVAL, "%s: %s (line %d)", path, je.text, je.line);
	}
	yz_actor who = actor_system("pack");
	yz_status st = supervise_rules_replace(s, &who, doc, 0, version, e);
	json_decref(doc);
	if (st != YZ_OK && e) {
		char msg[sizeof e->msg + 800];
		snprintf(msg, sizeof msg, "%s: %s", path, e->msg);
		yz_strlcpy(e->msg, msg, sizeof e->msg);
	}
	return st;
}

/* ---- small shared helpers ---- */

bool sv_path_within(const char *path, const char *root)
{
	return path && root && !strncmp(path, root, strlen(root));
}

int64_t sv_path_org(const char *path)
{
	if (!path)
		return 0;
	size_t n = strlen(path);
	if (n < 2 || path[n - 1] != '/')
		return 0;
	size_t i = n - 1;
	while (i > 0 && path[i - 1] >= '0' && path[i - 1] <= '9')
		i--;
	int64_t v = 0;
	for (size_t k = i; k < n - 1; k++) {
		if (v > (INT64_MAX - 9) / 10)
			return 0;
		v = v * 10 + (path[k] - '0');
	}
	return v;
}

yz_status sv_org_name(store_conn *c, const char *path, char *out, size_t cap, yz_err *e)
{
	out[0] = '\0';
	int64_t id = sv_path_org(path);
	if (!id)
		return YZ_OK;
	static const yz_scope all = {.all = true};
	json_t *o = NULL;
	yz_err t = {0};
	yz_status st = iam_org_get(c, &all, id, &o, &t);
	if (st == YZ_ENOTFOUND)
		return YZ_OK;
	if (st != YZ_OK) {
		if (e)
			*e = t;
		return st;
	}
	yz_strlcpy(out, jx_str(o, "name", ""), cap);
	json_decref(o);
	return YZ_OK;
}
