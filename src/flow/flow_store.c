/*
 * flow_store.c — the flow engine's tables, storing and restoring definitions,
 * and the history kept apart from instances in one table per month (so that
 * retention drops a month's table instead of deleting rows).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "core/clock.h"
#include "core/jx.h"
#include "core/slice.h"
#include "crypto/crypto.h"
#include "flow/flow_store.h"
#include "iam/iam.h"

const store_migration flow_migrations[] = {
    {1, "CREATE TABLE flow_def ("
        " id {{id}},"
        " key TEXT NOT NULL,"
        " version INTEGER NOT NULL,"
        " name TEXT NOT NULL,"
        " doc TEXT NOT NULL,"
        " digest TEXT NOT NULL,"
        " created_at BIGINT NOT NULL,"
        " UNIQUE (key, version));"
        "CREATE TABLE flow_instance ("
        " id {{id}},"
        " def_key TEXT NOT NULL,"
        " def_version INTEGER NOT NULL,"
        " title TEXT NOT NULL,"
        " status TEXT NOT NULL,"
        " outcome TEXT,"
        " data TEXT NOT NULL,"
        " starter_id BIGINT NOT NULL,"
        " starter_org_path TEXT NOT NULL DEFAULT '',"
        " org_path TEXT NOT NULL DEFAULT '',"
        " parent_id BIGINT,"
        " parent_token BIGINT,"
        " started_at BIGINT NOT NULL,"
        " closed_at BIGINT,"
        " due_at BIGINT,"
        " statutory_at BIGINT,"
        " suspended_at BIGINT,"
        " suspend_kind TEXT,"
        " suspended_ms BIGINT NOT NULL DEFAULT 0,"
        " extended_days INTEGER NOT NULL DEFAULT 0,"
        " shift_days INTEGER NOT NULL DEFAULT 0,"
        " seq INTEGER NOT NULL DEFAULT 0);"
        "CREATE INDEX flow_instance_starter ON flow_instance (starter_id, id);"
        "CREATE INDEX flow_instance_open ON flow_instance (status, due_at);"
        "CREATE TABLE flow_token ("
        " id {{id}},"
        " instance_id BIGINT NOT NULL REFERENCES flow_instance (id),"
        " step TEXT NOT NULL,"
        " kind TEXT NOT NULL,"
        " status TEXT NOT NULL,"
        " grp BIGINT,"
        " prev_token BIGINT,"
        " cand_role TEXT,"
        " cand_org_path TEXT,"
        " cand_dept_path TEXT,"
        " cand_user BIGINT,"
        " assignee BIGINT,"
        " created_at BIGINT NOT NULL,"
        " due_at BIGINT,"
        " shift_days INTEGER NOT NULL DEFAULT 0,"
        " overdue INTEGER NOT NULL DEFAULT 0,"
        " done_at BIGINT,"
        " done_by BIGINT,"
        " outcome TEXT,"
        " child_id BIGINT);"
        "CREATE INDEX flow_token_instance ON flow_token (instance_id, status);"
        "CREATE INDEX flow_token_open ON flow_token (status, kind, cand_role);"
        "CREATE INDEX flow_token_assignee ON flow_token (assignee, status);"
        "CREATE INDEX flow_token_done_by ON flow_token (done_by, id);"
        "CREATE TABLE flow_group ("
        " id {{id}},"
        " instance_id BIGINT NOT NULL,"
        " split TEXT NOT NULL,"
        " join_step TEXT NOT NULL,"
        " parent_grp BIGINT,"
        " branches INTEGER NOT NULL,"
        " need INTEGER NOT NULL,"
        " arrived INTEGER NOT NULL DEFAULT 0,"
        " fired INTEGER NOT NULL DEFAULT 0);"
        "CREATE INDEX flow_group_instance ON flow_group (instance_id, parent_grp);"
        "CREATE TABLE flow_timer ("
        " id {{id}},"
        " instance_id BIGINT NOT NULL,"
        " token_id BIGINT,"
        " kind TEXT NOT NULL,"
        " due_at BIGINT NOT NULL,"
        " fired_at BIGINT);"
        "CREATE INDEX flow_timer_pending ON flow_timer (due_at) WHERE fired_at IS NULL;"
        "CREATE INDEX flow_timer_token ON flow_timer (token_id);"
        "CREATE TABLE flow_command ("
        " idem TEXT PRIMARY KEY,"
        " instance_id BIGINT NOT NULL,"
        " at BIGINT NOT NULL);"
        "CREATE TABLE flow_cc ("
        " instance_id BIGINT NOT NULL,"
        " user_id BIGINT NOT NULL,"
        " at BIGINT NOT NULL,"
        " PRIMARY KEY (instance_id, user_id));"
        "CREATE INDEX flow_cc_user ON flow_cc (user_id, instance_id);"
        "CREATE TABLE flow_history_month (month TEXT PRIMARY KEY);"},
    /* Timers are deleted when they fire or their task ends (they were kept
     * with fired_at set, which made a closed instance carry them for ever);
     * they are found by instance and token (closing an instance looked at
     * every pending timer, and the instance's own timers, whose token is
     * NULL, at every other instance's too). */
    {2, "DELETE FROM flow_timer WHERE fired_at IS NOT NULL;"
        "DROP INDEX flow_timer_token;"
        "CREATE INDEX flow_timer_instance ON flow_timer (instance_id, token_id);"},
};
const int flow_nmigrations = 2;

/* ---- definitions ---- */

typedef struct def_job {
	const yz_actor *who;
	json_t *doc;
	const char *text, *digest;
	int version; /* out */
	bool stored; /* out: a new version was written */
} def_job;

static yz_status store_def_job(store_conn *tx, void *arg, yz_err *e)
{
	def_job *j = arg;
	j->stored = false;
	const char *key = jx_str(j->doc, "key", "");
	store_rows *r;
	store_val a[] = {sv_text(key)};
	yz_status st = store_query(tx,
	                           "SELECT version, digest FROM flow_def WHERE key = ? ORDER BY "
	                           "version DESC LIMIT 1",
	                           a, 1, &r, e);
	if (st != YZ_OK)
		return st;
	int newest = 0;
	bool same = false;
	if (store_next(r)) {
		newest = (int)store_col_int(r, 0);
		same = !strcmp(store_col_text(r, 1), j->digest);
	}
	st = store_rows_close(r, e);
	if (st != YZ_OK)
		return st;
	if (same) {
		j->version = newest;
		return YZ_OK;
	}
	j->version = newest + 1;
	store_val ins[] = {
	    sv_text(key),     sv_int(j->version), sv_text(jx_str(j->doc, "name", key)),
	    sv_text(j->text), sv_text(j->digest), sv_int(clock_now_ms())};
	st = store_exec(
	    tx,
	    "INSERT INTO flow_def (key, version, name, doc, digest, created_at) VALUES (?, ?, "
	    "?, ?, ?, ?)",
	    ins, 6, e);
	if (st != YZ_OK)
		return st;
	j->stored = true;
	char obj[96];
	snprintf(obj, sizeof obj, "flowdef:%s@%d", key, j->version);
	json_t *c =
	    json_pack("{s:s, s:i, s:s}", "key", key, "version", j->version, "digest", j->digest);
	st = audit_append(tx, j->who, "flow.def.load", obj, NULL, c, e);
	json_decref(c);
	return st;
}

static bool role_known(void *ctx, const char *code)
{
	return iam_role_exists(ctx, code);
}

static bool org_known(void *ctx, const char *code)
{
	return iam_org_exists(ctx, code);
}

yz_status flow_def_load(store *s, const yz_actor *who, json_t *doc, int *version, yz_err *e)
{
	store_conn *c;
	yz_status st = store_reader(s, &c, e);
	if (st != YZ_OK)
		return st;
	st = flow_def_check(doc, role_known, org_known, c, e);
	if (st != YZ_OK)
		return st;
	char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text)
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	unsigned char d[CRYPTO_SM3_LEN];
	crypto_sm3(text, strlen(text), d);
	char digest[65];
	hex_encode(d, sizeof d, digest);
	def_job j = {.who = who, .doc = doc, .text = text, .digest = digest};
	st = store_write(s, store_def_job, &j, e);
	if (st == YZ_OK) {
		flow_def *fd;
		json_t *copy = json_loads(text, 0, NULL);
		st = flow_def_compile(copy, &fd, e);
		if (st == YZ_OK) {
			fd->version = j.version;
			flow_registry_add(fd);
			*version = j.version;
		}
	}
	free(text);
	return st;
}

yz_status flow_defs_restore(store *s, yz_err *e)
{
	store_conn *c;
	yz_status st = store_reader(s, &c, e);
	if (st != YZ_OK)
		return st;
	store_rows *r;
	st = store_query(c, "SELECT key, version, doc FROM flow_def ORDER BY key, version", NULL, 0,
	                 &r, e);
	if (st != YZ_OK)
		return st;
	while (st == YZ_OK && store_next(r)) {
		json_error_t je;
		json_t *doc = json_loads(store_col_text(r, 2), 0, &je);
		if (!doc) {
			st = yz_fail(e, YZ_EINTERNAL, "stored definition %s@%lld is not JSON",
			             store_col_text(r, 0), (long long)store_col_int(r, 1));
			break;
		}
		flow_def *fd;
		int version = (int)store_col_int(r, 1);
		st = flow_def_compile(doc, &fd, e);
		if (st == YZ_OK) {
			fd->version = version;
			flow_registry_add(fd);
		}
	}
	yz_status st2 = store_rows_close(r, e);
	return st != YZ_OK ? st : st2;
}

/* ---- history, one table per month ---- */

void flow_history_table(int64_t at, char out[32])
{
	int y, m, d;
	clock_civil_from_days((at + CLOCK_CITY_OFFSET_MS) / 86400000, &y, &m, &d);
	snprintf(out, 32, "flow_history_%04d%02d", y, m);
}

/* The month's table exists (created, with its index, on first use). */
static yz_status history_month(store_conn *tx, const char *table, yz_err *e)
{
	int64_t known = 0;
	store_val m[] = {sv_text(table + 13)};
	yz_status st = store_query_int(
	    tx, "SELECT COUNT(*) FROM flow_history_month WHERE month = ?", m, 1, &known, e);
	if (st != YZ_OK || known)
		return st;
	char sql[512];
	/* the table name is made of digits by flow_history_table: safe to splice */
	snprintf(
	    sql, sizeof sql,
	    "CREATE TABLE IF NOT EXISTS %s (id {{id}}, instance_id BIGINT NOT NULL, at BIGINT "
	    "NOT NULL, actor_id BIGINT NOT NULL, actor TEXT NOT NULL, actor_name TEXT NOT NULL, "
	    "command TEXT NOT NULL, step TEXT, token_id BIGINT, detail TEXT NOT NULL)",
	    table);
	/* {{id}} is expanded by migrations only: write both forms here */
	char ddl[600];
	const char *id_type = store_id_type(tx);
	size_t o = 0;
	for (const char *p = sql; *p && o + 64 < sizeof ddl;) {
		if (!strncmp(p, "{{id}}", 6)) {
			o += (size_t)snprintf(ddl + o, sizeof ddl - o, "%s", id_type);
			p += 6;
		} else {
			ddl[o++] = *p++;
		}
	}
	ddl[o] = '\0';
	st = store_exec_script(tx, ddl, e);
	if (st == YZ_OK) {
		char idx[160];
		snprintf(idx, sizeof idx,
		         "CREATE INDEX IF NOT EXISTS %s_instance ON %s (instance_id, id)", table,
		         table);
		st = store_exec_script(tx, idx, e);
	}
	if (st == YZ_OK)
		st = store_exec(tx,
		                "INSERT INTO flow_history_month (month) VALUES (?) ON CONFLICT "
		                "DO NOTHING",
		                m, 1, e);
	return st;
}

yz_status flow_history_add(store_conn *tx, int64_t instance_id, int64_t at, const yz_actor *who,
                           const char *command, const char *step, int64_t token_id, json_t *detail,
                           yz_err *e)
{
	flow_history_row row = {instance_id, command, step, token_id, detail};
	return flow_history_add_rows(tx, at, who, &row, 1, e);
}

#define HISTORY_CHUNK 16 /* rows per INSERT */

yz_status flow_history_add_rows(store_conn *tx, int64_t at, const yz_actor *who,
                                const flow_history_row *rows, int n, yz_err *e)
{
	if (n <= 0)
		return YZ_OK;
	char table[32];
	flow_history_table(at, table);
	yz_status st = history_month(tx, table, e);
	const char *actor = who && who->login[0] ? who->login : "system";
	const char *actor_name = who && who->user_id ? who->name : "";
	for (int from = 0; st == YZ_OK && from < n; from += HISTORY_CHUNK) {
		int k = n - from < HISTORY_CHUNK ? n - from : HISTORY_CHUNK;
		char sql[160 + HISTORY_CHUNK * 32];
		int o = snprintf(sql, sizeof sql,
		                 "INSERT INTO %s (instance_id, at, actor_id, actor, actor_name, "
		                 "command, step, token_id, detail) VALUES ",
		                 table);
		store_val a[HISTORY_CHUNK * 9];
		char *text[HISTORY_CHUNK];
		int na = 0;
		for (int i = 0; i < k; i++) {
			const flow_history_row *h = &rows[from + i];
			o += snprintf(sql + o, sizeof sql - (size_t)o,
			              "%s(?, ?, ?, ?, ?, ?, ?, ?, ?)", i ? ", " : "");
			text[i] = h->detail ? json_dumps(h->detail, JSON_COMPACT | JSON_SORT_KEYS)
			                    : strdup("{}");
			if (!text[i])
				st = yz_fail(e, YZ_ENOMEM, "out of memory");
			a[na++] = sv_int(h->instance_id);
			a[na++] = sv_int(at);
			a[na++] = sv_int(who ? who->user_id : 0);
			a[na++] = sv_text(actor);
			a[na++] = sv_text(actor_name);
			a[na++] = sv_text(h->command);
			a[na++] = sv_text(h->step);
			a[na++] = h->token_id ? sv_int(h->token_id) : sv_null();
			a[na++] = sv_text(text[i] ? text[i] : "{}");
		}
		if (st == YZ_OK)
			st = store_exec(tx, sql, a, na, e);
		for (int i = 0; i < k; i++)
			free(text[i]);
	}
	return st;
}

yz_status flow_history_list(store_conn *c, int64_t instance_id, int64_t from, json_t **out,
                            yz_err *e)
{
	*out = json_array();
	char first[32];
	flow_history_table(from, first);
	store_rows *r;
	store_val a[] = {sv_text(first + 13)};
	yz_status st = store_query(c,
	                           "SELECT month FROM flow_history_month WHERE month >= ? ORDER BY "
	                           "month",
	                           a, 1, &r, e);
	if (st != YZ_OK)
		return st;
	char months[240][8];
	int nm = 0;
	while (store_next(r) && nm < 240)
		yz_strlcpy(months[nm++], store_col_text(r, 0), sizeof months[0]);
	st = store_rows_close(r, e);
	for (int i = 0; st == YZ_OK && i < nm; i++) {
		if (strlen(months[i]) != 6 || strspn(months[i], "0123456789") != 6)
			continue;
		char sql[256];
		snprintf(
		    sql, sizeof sql,
		    "SELECT at, actor_id, actor, command, step, token_id, detail, actor_name FROM "
		    "flow_history_%s WHERE instance_id = ? ORDER BY id",
		    months[i]);
		store_val b[] = {sv_int(instance_id)};
		st = store_query(c, sql, b, 1, &r, e);
		if (st != YZ_OK)
			break;
		while (store_next(r)) {
			json_t *h = json_object();
			jx_set_int(h, "at_ms", store_col_int(r, 0));
			char t[40];
			clock_format_city(store_col_int(r, 0), t, sizeof t);
			jx_set_str(h, "at", t);
			jx_set_int(h, "actor_id", store_col_int(r, 1));
			jx_set_str(h, "actor", store_col_text(r, 2));
			jx_set_str(h, "actor_name", store_col_text(r, 7));
			jx_set_str(h, "command", store_col_text(r, 3));
			jx_set_str(h, "step", store_col_null(r, 4) ? NULL : store_col_text(r, 4));
			if (!store_col_null(r, 5))
				jx_set_int(h, "token_id", store_col_int(r, 5));
			json_t *d = json_loads(store_col_text(r, 6), 0, NULL);
			json_object_set_new(h, "detail", d ? d : json_object());
			json_array_append_new(*out, h);
		}
		st = store_rows_close(r, e);
	}
	return st;
}
