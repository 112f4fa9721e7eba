/*
 * pg.c — the PostgreSQL engine of the store, over libpq. Statements are
 * prepared once per connection (named, keyed by SQL text and parameter
 * types); `?` placeholders become $n; integers travel as int8 text, blobs as
 * binary bytea; results come back in text format.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/slice.h"
#include "store/store_int.h"

#define CACHE_SLOTS 512
#define MAX_PARAMS  256
#define INT8OID     20
#define BYTEAOID    17

typedef struct prepared {
	uint64_t hash;
	char *sql; /* the original text, for collision checks */
	char name[24];
	int nargs;
} prepared;

typedef struct pg_conn {
	struct store_conn base;
	PGconn *pg;
	prepared cache[CACHE_SLOTS];
	unsigned next_name;
} pg_conn;

#define PG_BLOB_COLS 64

typedef struct pg_rows {
	struct store_rows base;
	PGresult *res;
	int row, nrows;
	/* decoded bytea per column of the current row, so that two blobs of
	 * one row can be held at once (as SQLite's pointers can) */
	unsigned char *scratch[PG_BLOB_COLS];
	size_t scratch_cap[PG_BLOB_COLS];
} pg_rows;

static yz_status pg_result_error(PGconn *pg, PGresult *res, yz_err *e, const char *what)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(pg);
	yz_status code = YZ_EDB;
	if (state && !strncmp(state, "23", 2))
		code = YZ_ECONFLICT;
	else if (state && (!strcmp(state, "40001") || !strcmp(state, "40P01")))
		code = YZ_EBUSY;
	else if (state && !strcmp(state, "54000"))
		code = YZ_ETOOBIG;
	char clean[200];
	yz_strlcpy(clean, msg ? msg : "unknown error", sizeof clean);
	size_t n = strlen(clean);
	while (n && (clean[n - 1] == '\n' || clean[n - 1] == ' '))
		clean[--n] = '\0';
	return yz_fail(e, code, "%s: %s%s%s%s", what, clean, state ? " (SQLSTATE " : "",
	               state ? state : "", state ? ")" : "");
}

/* `?` → `$n` outside quotes and comments. */
static char *translate(const char *sql, int *count)
{
	size_t n = strlen(sql);
	char *out = malloc(n * 4 + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	int k = 0;
	char quote = 0;
	for (size_t i = 0; i < n; i++) {
		char ch = sql[i];
		if (quote) {
			out[o++] = ch;
			if (ch == quote)
				quote = 0;
			continue;
		}
		if (ch == '\'' || ch == '"') {
			quote = ch;
			out[o++] = ch;
		} else if (ch == '-' && sql[i + 1] == '-') {
			while (i < n && sql[i] != '\n')
				out[o++] = sql[i++];
			if (i < n)
				out[o++] = '\n';
		} else if (ch == '?') {
			o += (size_t)snprintf(out + o, 8, "$%d", ++k);
		} else {
			out[o++] = ch;
		}
	}
	out[o] = '\0';
	*count = k;
	return out;
}

static yz_status pg_connect(store *s, const char *target, bool writer, store_conn **out, yz_err *e)
{
	(void)s;
	pg_conn *c = calloc(1, sizeof *c);
	if (!c)
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	c->base.be = &store_pg_backend;
	c->base.writer = writer;
	c->pg = PQconnectdb(target);
	if (PQstatus(c->pg) != CONNECTION_OK) {
		char msg[200];
		yz_strlcpy(msg, PQerrorMessage(c->pg), sizeof msg);
		msg[strcspn(msg, "\n")] = '\0';
		PQfinish(c->pg);
		free(c);
		return yz_fail(e, YZ_EDB, "cannot connect to PostgreSQL: %s", msg);
	}
	const char *setup = writer ? "SET client_min_messages = warning; SET TIME ZONE 'UTC'"
	                           : "SET client_min_messages = warning; SET TIME ZONE 'UTC'; "
	                             "SET default_transaction_read_only = on";
	PGresult *res = PQexec(c->pg, setup);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		yz_status st = pg_result_error(c->pg, res, e, "session setup");
		PQclear(res);
		PQfinish(c->pg);
		free(c);
		return st;
	}
	PQclear(res);
	*out = &c->base;
	return YZ_OK;
}

static void pg_disconnect(store_conn *bc)
{
	pg_conn *c = (pg_conn *)bc;
	for (int i = 0; i < CACHE_SLOTS; i++)
		free(c->cache[i].sql);
	PQfinish(c->pg);
	free(c);
}

typedef struct params {
	const char *values[MAX_PARAMS];
	int lengths[MAX_PARAMS];
	int formats[MAX_PARAMS];
	unsigned int types[MAX_PARAMS];
	char ints[MAX_PARAMS][24];
} params;

static yz_status fill_params(params *p, const store_val *args, int nargs, yz_err *e)
{
	if (nargs > MAX_PARAMS)
		return yz_fail(e, YZ_EINTERNAL, "too many SQL parameters (%d)", nargs);
	for (int i = 0; i < nargs; i++) {
		const store_val *v = &args[i];
		p->formats[i] = 0;
		p->lengths[i] = 0;
		p->types[i] = 0;
		switch (v->t) {
		case SV_INT:
			snprintf(p->ints[i], sizeof p->ints[i], "%lld", (long long)v->i);
			p->values[i] = p->ints[i];
			p->types[i] = INT8OID;
			break;
		case SV_TEXT:
			if (memchr(v->p, '\0', v->n))
				return yz_fail(e, YZ_EINVAL,
				               "text parameter %d contains a NUL byte", i + 1);
			p->values[i] = v->p;
			p->lengths[i] = (int)v->n;
			break;
		case SV_BLOB:
			p->values[i] = v->p;
			p->lengths[i] = (int)v->n;
			p->formats[i] = 1;
			p->types[i] = BYTEAOID;
			break;
		default:
			p->values[i] = NULL;
		}
	}
	return YZ_OK;
}

/* Text parameters that are slices (not NUL-terminated where they end) must be
 * copied: libpq ignores lengths for text-format parameters. */
static char **terminate_texts(params *p, const store_val *args, int nargs)
{
	char **copies = NULL;
	for (int i = 0; i < nargs; i++) {
		/* sv_text marks C strings (i == 1); slices from sv_textn may not end in NUL */
		if (args[i].t != SV_TEXT || args[i].i == 1)
			continue;
		if (!copies) {
			copies = calloc((size_t)nargs, sizeof *copies);
			if (!copies)
				return NULL;
		}
		copies[i] = strndup(args[i].p, args[i].n);
		p->values[i] = copies[i];
	}
	return copies;
}

static void free_copies(char **copies, int nargs)
{
	if (!copies)
		return;
	for (int i = 0; i < nargs; i++)
		free(copies[i]);
	free(copies);
}

/* Run sql with args and return the result (caller clears). */
static yz_status pg_run(pg_conn *c, const char *sql, const store_val *args, int nargs,
                        PGresult **out, yz_err *e)
{
	params p;
	yz_status st = fill_params(&p, args, nargs, e);
	if (st != YZ_OK)
		return st;
	uint64_t h = store_hash_sql(sql, args, nargs);
	unsigned slot = (unsigned)h & (CACHE_SLOTS - 1);
	prepared *hit = NULL, *free_slot = NULL;
	for (int probe = 0; probe < 8; probe++, slot = (slot + 1) & (CACHE_SLOTS - 1)) {
		prepared *k = &c->cache[slot];
		if (!k->sql) {
			free_slot = k;
			break;
		}
		if (k->hash == h && !strcmp(k->sql, sql) && k->nargs == nargs) {
			hit = k;
			break;
		}
	}
	char **copies = terminate_texts(&p, args, nargs);
	PGresult *res;
	if (hit) {
		res = PQexecPrepared(c->pg, hit->name, nargs, p.values, p.lengths, p.formats, 0);
	} else {
		int count;
		char *tsql = translate(sql, &count);
		if (!tsql) {
			free_copies(copies, nargs);
			return yz_fail(e, YZ_ENOMEM, "out of memory");
		}
		if (count != nargs) {
			free(tsql);
			free_copies(copies, nargs);
			return yz_fail(e, YZ_EINTERNAL, "SQL expects %d parameters, got %d", count,
			               nargs);
		}
		if (free_slot && (free_slot->sql = strdup(sql)) != NULL) {
			snprintf(free_slot->name, sizeof free_slot->name, "yz%u", c->next_name++);
			PGresult *pr = PQprepare(c->pg, free_slot->name, tsql, nargs, p.types);
			if (PQresultStatus(pr) != PGRES_COMMAND_OK) {
				st = pg_result_error(c->pg, pr, e, "prepare");
				PQclear(pr);
				free(free_slot->sql);
				free_slot->sql = NULL;
				free(tsql);
				free_copies(copies, nargs);
				return st;
			}
			PQclear(pr);
			free_slot->hash = h;
			free_slot->nargs = nargs;
			res = PQexecPrepared(c->pg, free_slot->name, nargs, p.values, p.lengths,
			                     p.formats, 0);
		} else {
			res = PQexecParams(c->pg, tsql, nargs, p.types, p.values, p.lengths,
			                   p.formats, 0);
		}
		free(tsql);
	}
	free_copies(copies, nargs);
	ExecStatusType rs = PQresultStatus(res);
	if (rs != PGRES_COMMAND_OK && rs != PGRES_TUPLES_OK) {
		st = pg_result_error(c->pg, res, e, "SQL");
		PQclear(res);
		return st;
	}
	*out = res;
	return YZ_OK;
}

static yz_status pg_exec(store_conn *bc, const char *sql, const store_val *args, int nargs,
                         yz_err *e)
{
	PGresult *res;
	yz_status st = pg_run((pg_conn *)bc, sql, args, nargs, &res, e);
	if (st != YZ_OK)
		return st;
	const char *t = PQcmdTuples(res);
	bc->changes = t && *t ? strtoll(t, NULL, 10) : 0;
	PQclear(res);
	return YZ_OK;
}

static yz_status pg_query(store_conn *bc, const char *sql, const store_val *args, int nargs,
                          store_rows **out, yz_err *e)
{
	pg_rows *r = calloc(1, sizeof *r);
	if (!r)
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	yz_status st = pg_run((pg_conn *)bc, sql, args, nargs, &r->res, e);
	if (st != YZ_OK) {
		free(r);
		return st;
	}
	r->base.c = bc;
	r->row = -1;
	r->nrows = PQntuples(r->res);
	*out = &r->base;
	return YZ_OK;
}

static bool pg_next(store_rows *br)
{
	pg_rows *r = (pg_rows *)br;
	if (r->row + 1 >= r->nrows)
		return false;
	r->row++;
	return true;
}

static int pg_ncols(store_rows *br)
{
	return PQnfields(((pg_rows *)br)->res);
}

static bool pg_col_null(store_rows *br, int col)
{
	pg_rows *r = (pg_rows *)br;
	return PQgetisnull(r->res, r->row, col);
}

static int64_t pg_col_int(store_rows *br, int col)
{
	pg_rows *r = (pg_rows *)br;
	if (PQgetisnull(r->res, r->row, col))
		return 0;
	const char *v = PQgetvalue(r->res, r->row, col);
	if (v[0] == 't' && v[1] == '\0')
		return 1; /* boolean results (EXISTS, comparisons) */
	if (v[0] == 'f' && v[1] == '\0')
		return 0;
	return strtoll(v, NULL, 10);
}

static const char *pg_col_text(store_rows *br, int col)
{
	pg_rows *r = (pg_rows *)br;
	return PQgetvalue(r->res, r->row, col);
}

static size_t pg_col_len(store_rows *br, int col)
{
	pg_rows *r = (pg_rows *)br;
	return (size_t)PQgetlength(r->res, r->row, col);
}

static const void *pg_col_blob(store_rows *br, int col, size_t *n)
{
	pg_rows *r = (pg_rows *)br;
	const char *v = PQgetvalue(r->res, r->row, col);
	size_t len = (size_t)PQgetlength(r->res, r->row, col);
	*n = 0;
	if (PQftype(r->res, col) != BYTEAOID) {
		*n = len;
		return v;
	}
	if (len < 2 || v[0] != '\\' || v[1] != 'x')
		return "";
	size_t out = (len - 2) / 2;
	if (col < 0 || col >= PG_BLOB_COLS)
		return "";
	if (out + 1 > r->scratch_cap[col]) {
		unsigned char *s = realloc(r->scratch[col], out + 1);
		if (!s)
			return "";
		r->scratch[col] = s;
		r->scratch_cap[col] = out + 1;
	}
	long got = hex_decode(v + 2, len - 2, r->scratch[col], r->scratch_cap[col]);
	if (got < 0)
		return "";
	*n = (size_t)got;
	return r->scratch[col];
}

static void pg_rows_free(store_rows *br)
{
	pg_rows *r = (pg_rows *)br;
	PQclear(r->res);
	for (int i = 0; i < PG_BLOB_COLS; i++)
		free(r->scratch[i]);
	free(r);
}

static yz_status pg_script(store_conn *bc, const char *sql, yz_err *e)
{
	pg_conn *c = (pg_conn *)bc;
	PGresult *res = PQexec(c->pg, sql);
	ExecStatusType rs = PQresultStatus(res);
	yz_status st = YZ_OK;
	if (rs != PGRES_COMMAND_OK && rs != PGRES_TUPLES_OK)
		st = pg_result_error(c->pg, res, e, "SQL");
	PQclear(res);
	return st;
}

static yz_status pg_begin(store_conn *c, yz_err *e)
{
	return pg_script(c, "BEGIN", e);
}

static yz_status pg_commit(store_conn *c, yz_err *e)
{
	pg_conn *pc = (pg_conn *)c;
	PGresult *res = PQexec(pc->pg, "COMMIT");
	yz_status st = YZ_OK;
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		st = pg_result_error(pc->pg, res, e, "COMMIT");
	else if (strcmp(PQcmdStatus(res), "COMMIT") != 0)
		st = yz_fail(e, YZ_EDB, "the transaction was rolled back by the server");
	PQclear(res);
	return st;
}

static yz_status pg_rollback(store_conn *c, yz_err *e)
{
	return pg_script(c, "ROLLBACK", e);
}

static yz_status pg_savepoint(store_conn *c, yz_err *e)
{
	return pg_script(c, "SAVEPOINT yz_job", e);
}

static yz_status pg_release(store_conn *c, yz_err *e)
{
	return pg_script(c, "RELEASE SAVEPOINT yz_job", e);
}

static yz_status pg_rollback_to(store_conn *c, yz_err *e)
{
	return pg_script(c, "ROLLBACK TO SAVEPOINT yz_job", e);
}

static yz_status pg_migration_lock(store_conn *c, yz_err *e)
{
	/* one constant key for all migrations: "yizhan" as an integer */
	return pg_script(c, "SELECT pg_advisory_xact_lock(7955089212543820) ", e);
}

const store_backend store_pg_backend = {
    .name = "postgresql",
    .connect = pg_connect,
    .disconnect = pg_disconnect,
    .exec = pg_exec,
    .query = pg_query,
    .next = pg_next,
    .ncols = pg_ncols,
    .col_null = pg_col_null,
    .col_int = pg_col_int,
    .col_text = pg_col_text,
    .col_len = pg_col_len,
    .col_blob = pg_col_blob,
    .rows_free = pg_rows_free,
    .script = pg_script,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .savepoint = pg_savepoint,
    .release = pg_release,
    .rollback_to = pg_rollback_to,
    .migration_lock = pg_migration_lock,
    .id_type = "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
    .blob_type = "BYTEA",
};
