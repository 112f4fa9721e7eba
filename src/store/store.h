/*
 * store.h — the database interface over SQLite (WAL) and PostgreSQL.
 *
 * One `store` is one database. It owns:
 *  - per-thread read connections, opened lazily the first time a thread asks
 *    (store_reader) and closed by store_close; a read connection refuses
 *    writes (SQLite: PRAGMA query_only; PostgreSQL: default_transaction_read_only);
 *  - one writer thread with its own connection, the group-commit writer: any
 *    thread hands it a write job (store_write); the writer runs the jobs that
 *    have queued up meanwhile inside one transaction, each job in its own
 *    savepoint so a failing job rolls back alone, commits once (SQLite:
 *    synchronous=FULL, so the commit is on disk; PostgreSQL: synchronous_commit
 *    as the server is configured, on by default) and only then answers each
 *    caller. A caller that got YZ_OK from store_write knows its change is
 *    durable; one that got an error knows its change is not there.
 *
 * SQL is written once for both engines: `?` placeholders (turned into $1, $2 …
 * for PostgreSQL), bound parameters only (there is no way to splice values
 * into SQL text through this API), and the common dialect (INSERT … ON
 * CONFLICT, RETURNING, LIMIT/OFFSET). Migrations may use two macros that
 * differ between engines: {{id}} (an auto-increment 64-bit integer primary
 * key) and {{blob}} (BLOB / BYTEA). Times are stored as BIGINT milliseconds
 * since the epoch in UTC; booleans as INTEGER 0/1.
 *
 * Each module owns its tables and migrates them with store_migrate(module,
 * steps); other modules read them only through the owner's C API.
 *
 * Errors: a constraint violation (unique, foreign key, check) is
 * YZ_ECONFLICT; other engine failures are YZ_EDB with the engine's message.
 * The store never logs.
 */
#ifndef YZ_STORE_STORE_H
#define YZ_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef struct store store;
typedef struct store_conn store_conn;
typedef struct store_rows store_rows;

typedef enum store_kind { STORE_SQLITE = 1, STORE_PG = 2 } store_kind;

typedef enum store_val_type { SV_NULL = 0, SV_INT, SV_TEXT, SV_BLOB } store_val_type;

/* A bound parameter. Text and blob values are borrowed for the call. */
typedef struct store_val {
	store_val_type t;
	int64_t i;
	const void *p;
	size_t n;
} store_val;

store_val sv_int(int64_t v);
store_val sv_text(const char *s); /* NULL gives SQL NULL */
store_val sv_textn(const char *s, size_t n);
store_val sv_blob(const void *p, size_t n);
store_val sv_null(void);
/* Number of elements of a store_val array literal. */
#define SV_N(arr) ((int)(sizeof(arr) / sizeof((arr)[0])))

typedef struct store_opts {
	int batch_max;  /* most jobs in one commit; 0 = 512 */
	bool read_only; /* open for reading only: no writer thread, store_write fails */
} store_opts;

/* target: a file path for SQLite (created if missing) or a postgresql:// URL. */
YZ_MUST_USE yz_status store_open(const char *target, const store_opts *o, store **out, yz_err *e);
/* Stops the writer after the queued jobs are done and closes every connection.
 * No other thread may use the store while or after it closes. */
void store_close(store *s);
store_kind store_kind_of(const store *s);
const char *store_kind_name(const store *s); /* "sqlite" or "postgresql" */

/* The calling thread's read connection (opened on first use). */
YZ_MUST_USE yz_status store_reader(store *s, store_conn **out, yz_err *e);

YZ_MUST_USE yz_status store_exec(store_conn *c, const char *sql, const store_val *args, int nargs,
                                 yz_err *e);
/* Rows changed by the last store_exec on this connection. */
int64_t store_changes(store_conn *c);

/* Run a query; iterate with store_next; always store_rows_close. */
YZ_MUST_USE yz_status store_query(store_conn *c, const char *sql, const store_val *args, int nargs,
                                  store_rows **out, yz_err *e);
/* true when a row is available; false at the end or on error (the error is
 * reported by store_rows_close). */
bool store_next(store_rows *r);
int store_ncols(store_rows *r);
bool store_col_null(store_rows *r, int col);
int64_t store_col_int(store_rows *r, int col);
/* NUL-terminated text, "" for NULL; valid until the next store_next/close. */
const char *store_col_text(store_rows *r, int col);
size_t store_col_len(store_rows *r, int col);
/* Bytes of a blob column, valid until the next store_next/close; blobs of
 * several columns of one row may be held at once (PostgreSQL: the first 64
 * columns). */
const void *store_col_blob(store_rows *r, int col, size_t *n);
/* Releases the result; returns the first error met while iterating. */
YZ_MUST_USE yz_status store_rows_close(store_rows *r, yz_err *e);

/* Close a result on an error path where its own status no longer matters. */
void store_rows_discard(store_rows *r);

/* One row, first column as integer: YZ_ENOTFOUND when there is no row. */
YZ_MUST_USE yz_status store_query_int(store_conn *c, const char *sql, const store_val *args,
                                      int nargs, int64_t *out, yz_err *e);

/* A write job. Runs on the writer thread inside a transaction (its own
 * savepoint), with tx the writer's connection. Return YZ_OK to keep its
 * changes; anything else rolls them back and becomes store_write's result.
 * The function must only touch the database and its ctx: it runs on another
 * thread while the caller waits, and it must not call store_write. It must be
 * re-runnable: when another job of the same batch fails, the batch is rolled
 * back and run again with a savepoint per job, so a job may run twice (only
 * the last run's effects and ctx outputs count). */
typedef yz_status (*store_write_fn)(store_conn *tx, void *ctx, yz_err *e);

/* Queue fn and wait until its transaction is durable (or failed). */
YZ_MUST_USE yz_status store_write(store *s, store_write_fn fn, void *ctx, yz_err *e);
/* Queue fn and return at once; then(arg, status, err) is called on the
 * writer thread once fn's transaction is durable (or failed). For callers
 * that must not block, such as an event loop answering many requests: then
 * must be quick (hand the result to another thread) and must not call
 * store_write. ctx must live until then is called. When queueing fails,
 * then is not called. */
typedef void (*store_done_fn)(void *arg, yz_status st, const yz_err *e);
YZ_MUST_USE yz_status store_write_then(store *s, store_write_fn fn, void *ctx, store_done_fn then,
                                       void *arg, yz_err *e);
/* Queue fn without waiting (for bookkeeping such as a session's last-seen
 * time). ctx_size bytes of ctx are copied. Failures only count in stats. */
YZ_MUST_USE yz_status store_write_detached(store *s, store_write_fn fn, const void *ctx,
                                           size_t ctx_size, yz_err *e);
/* Wait until every job queued before this call is done (tests, shutdown). */
void store_flush(store *s);

/* Migrations: steps with increasing versions. Those above the module's
 * recorded version run in order, each in its own transaction together with
 * the record of it. Concurrent nodes on PostgreSQL serialise on an advisory
 * lock. */
typedef struct store_migration {
	int version;
	const char *sql; /* one or more statements; may use {{id}} and {{blob}} */
} store_migration;
YZ_MUST_USE yz_status store_migrate(store *s, const char *module, const store_migration *steps,
                                    int nsteps, yz_err *e);
/* Recorded migration version of a module (0 when none). */
YZ_MUST_USE yz_status store_migration_version(store *s, const char *module, int *version,
                                              yz_err *e);

/* The engine's type for an auto-increment 64-bit primary key (what {{id}}
 * expands to), for tables a module creates at run time. */
const char *store_id_type(store_conn *c);

/* Run a script of several statements without parameters (tests, tooling). */
YZ_MUST_USE yz_status store_exec_script(store_conn *c, const char *sql, yz_err *e);

typedef struct store_stats {
	uint64_t batches;         /* commits by the writer */
	uint64_t jobs;            /* jobs committed or failed */
	uint64_t jobs_failed;     /* jobs whose fn failed or whose commit failed */
	uint64_t detached_failed; /* detached jobs that failed */
	uint64_t batch_hist[8];   /* batch sizes: 1, 2-3, 4-7, 8-15, 16-31, 32-63, 64-127, 128+ */
	uint64_t commit_ns_total; /* time spent in COMMIT */
	uint64_t queries;         /* store_query/store_exec calls on read connections */
	uint64_t writer_queries;  /* the same on the writer's connection (inside jobs) */
	int read_conns;           /* open read connections */
	int queue_depth;          /* jobs waiting now */
} store_stats;
void store_get_stats(store *s, store_stats *out);
extern const char *const store_batch_bucket_names[8];

#endif
