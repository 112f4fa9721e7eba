/*
 * sqlite.c — the SQLite engine of the store: WAL, synchronous=FULL on the
 * writer (a commit is on disk when it returns), query_only on readers, and a
 * per-connection cache of prepared statements keyed by SQL text.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

#define CACHE_SLOTS 512 /* power of two */

typedef struct cached {
	uint64_t hash;
	char *sql;
	sqlite3_stmt *st;
} cached;

/* The writer's checkpoints run on a thread and a connection of their own,
 * so that copying WAL pages into the database file (and syncing it) is not
 * on the path of every commit; see ckpt_main. */
typedef struct checkpointer {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool wanted, stopping;
	sqlite3 *db;
} checkpointer;

typedef struct sl_conn {
	struct store_conn base;
	sqlite3 *db;
	cached cache[CACHE_SLOTS];
	int ncached;
	checkpointer *ck; /* the writer's; NULL on readers */
} sl_conn;

typedef struct sl_rows {
	struct store_rows base;
	sqlite3_stmt *st;
	bool owned; /* finalize on close (not in the cache) */
	bool done;
} sl_rows;

static yz_status sl_error(sqlite3 *db, int rc, yz_err *e, const char *what)
{
	int prim = rc & 0xff;
	yz_status code = YZ_EDB;
	if (prim == SQLITE_CONSTRAINT)
		code = YZ_ECONFLICT;
	else if (prim == SQLITE_BUSY || prim == SQLITE_LOCKED)
		code = YZ_EBUSY;
	else if (prim == SQLITE_NOMEM)
		code = YZ_ENOMEM;
	else if (prim == SQLITE_TOOBIG)
		code = YZ_ETOOBIG;
	return yz_fail(e, code, "%s: %s", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

static yz_status sl_simple(sqlite3 *db, const char *sql, yz_err *e)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		yz_status st = sl_error(db, rc, e, "SQL");
		if (msg && e)
			yz_fail(e, st, "%s", msg);
		sqlite3_free(msg);
		return st;
	}
	return YZ_OK;
}

/* No global memory statistics: they take a process-wide mutex on every
 * SQLite allocation, and every connection here belongs to one thread. Must
 * run before SQLite initialises, hence once, before the first open. */
static void sl_configure(void)
{
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/* ---- checkpoints ---- */

#define CKPT_PAGES 1000 /* a WAL this long asks for a checkpoint (SQLite's default) */
/* the writer checkpoints itself past this (≈ 400 MiB), should its thread fall behind */
#define CKPT_WRITER_PAGES 100000

/* After each commit on the writer: hand the checkpoint to its thread. */
static int sl_wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	checkpointer *k = arg;
	if (pages >= CKPT_WRITER_PAGES) {
		(void)sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	} else if (pages >= CKPT_PAGES) {
		pthread_mutex_lock(&k->mu);
		k->wanted = true;
		pthread_cond_signal(&k->cv);
		pthread_mutex_unlock(&k->mu);
	}
	return SQLITE_OK;
}

/* PASSIVE checkpoints: copy what is committed into the database file and
 * sync it, while the writer goes on committing to the WAL. The log starts
 * again from its beginning when a write begins with everything in it copied
 * and no reader in it, as with SQLite's own automatic checkpoints (a RESTART
 * checkpoint would force that, but it holds the writer for hundreds of ms
 * while readers are busy: measured, and left out). The file keeps
 * its largest size and is written over from its start (cheaper to sync than
 * a file that grows again: measured, so no journal_size_limit). */
static void *ckpt_main(void *arg)
{
	checkpointer *k = arg;
	pthread_mutex_lock(&k->mu);
	for (;;) {
		while (!k->wanted && !k->stopping)
			pthread_cond_wait(&k->cv, &k->mu);
		if (k->stopping)
			break;
		k->wanted = false;
		pthread_mutex_unlock(&k->mu);
		(void)sqlite3_wal_checkpoint_v2(k->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		pthread_mutex_lock(&k->mu);
	}
	pthread_mutex_unlock(&k->mu);
	return NULL;
}

static void ckpt_stop(checkpointer *k)
{
	if (!k)
		return;
	pthread_mutex_lock(&k->mu);
	k->stopping = true;
	pthread_cond_signal(&k->cv);
	pthread_mutex_unlock(&k->mu);
	pthread_join(k->th, NULL);
	sqlite3_close(k->db);
	pthread_cond_destroy(&k->cv);
	pthread_mutex_destroy(&k->mu);
	free(k);
}

/* The writer's checkpointer; without one (it could not start) SQLite's own
 * automatic checkpoints on the writer stay on. */
static void ckpt_start(sl_conn *c, const char *target)
{
	checkpointer *k = calloc(1, sizeof *k);
	if (!k)
		return;
	if (sqlite3_open_v2(target, &k->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
	    SQLITE_OK) {
		sqlite3_close(k->db);
		free(k);
		return;
	}
	sqlite3_busy_timeout(k->db, 10000);
	/* a connection that has read nothing does not know the file is in WAL
	 * mode, and its checkpoints do nothing */
	if (sqlite3_exec(k->db, "SELECT COUNT(*) FROM sqlite_master", NULL, NULL, NULL) !=
	    SQLITE_OK) {
		sqlite3_close(k->db);
		free(k);
		return;
	}
	pthread_mutex_init(&k->mu, NULL);
	pthread_cond_init(&k->cv, NULL);
	if (pthread_create(&k->th, NULL, ckpt_main, k) != 0) {
		sqlite3_close(k->db);
		pthread_cond_destroy(&k->cv);
		pthread_mutex_destroy(&k->mu);
		free(k);
		return;
	}
	c->ck = k;
	sqlite3_wal_hook(c->db, sl_wal_hook, k); /* replaces the automatic checkpoints */
}

static yz_status sl_connect(store *s, const char *target, bool writer, store_conn **out, yz_err *e)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, sl_configure);
	(void)s;
	sl_conn *c = calloc(1, sizeof *c);
	if (!c)
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	c->base.be = &store_sqlite_backend;
	c->base.writer = writer;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (writer ? SQLITE_OPEN_CREATE : 0);
	int rc = sqlite3_open_v2(target, &c->db, flags, NULL);
	if (rc != SQLITE_OK) {
		yz_status st = yz_fail(e, YZ_EDB, "cannot open SQLite database %s: %s", target,
		                       c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
		sqlite3_close(c->db);
		free(c);
		return st;
	}
	sqlite3_extended_result_codes(c->db, 1);
	sqlite3_busy_timeout(c->db, 10000);
	/* The writer keeps 64 MiB of pages (the indexes a transition touches stay
	 * in memory), readers 16 MiB each (SQLite's default is 2 MiB). Page
	 * cache, not durability: WAL with synchronous=FULL still syncs every
	 * commit. No mmap: remapping a growing file costs more than it saves. */
	const char *setup = writer ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
	                             "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY; "
	                             "PRAGMA cache_size=-65536;"
	                           : "PRAGMA query_only=1; PRAGMA temp_store=MEMORY; "
	                             "PRAGMA cache_size=-16384;";
	yz_status st = sl_simple(c->db, setup, e);
	if (st != YZ_OK) {
		sqlite3_close(c->db);
		free(c);
		return st;
	}
	if (writer)
		ckpt_start(c, target);
	*out = &c->base;
	return YZ_OK;
}

static void sl_disconnect(store_conn *bc)
{
	sl_conn *c = (sl_conn *)bc;
	ckpt_stop(c->ck);
	for (int i = 0; i < CACHE_SLOTS; i++) {
		if (c->cache[i].st) {
			sqlite3_finalize(c->cache[i].st);
			free(c->cache[i].sql);
		}
	}
	sqlite3_close(c->db);
	free(c);
}

/* A prepared statement for sql: from the cache when it is idle, else fresh.
 * *owned tells the caller to finalize it after use. */
static yz_status sl_prepare(sl_conn *c, const char *sql, sqlite3_stmt **out, bool *owned, yz_err *e)
{
	uint64_t h = store_hash_sql(sql, NULL, 0);
	unsigned i = (unsigned)h & (CACHE_SLOTS - 1);
	for (int probe = 0; probe < 8; probe++, i = (i + 1) & (CACHE_SLOTS - 1)) {
		cached *k = &c->cache[i];
		if (!k->st)
			break;
		if (k->hash == h && !strcmp(k->sql, sql)) {
			if (sqlite3_stmt_busy(k->st))
				break; /* in use by an open cursor: use a fresh one */
			*out = k->st;
			*owned = false;
			return YZ_OK;
		}
	}
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return sl_error(c->db, rc, e, "prepare");
	*out = st;
	*owned = true;
	/* cache it in the first free probe slot */
	i = (unsigned)h & (CACHE_SLOTS - 1);
	for (int probe = 0; probe < 8; probe++, i = (i + 1) & (CACHE_SLOTS - 1)) {
		cached *k = &c->cache[i];
		if (k->st)
			continue;
		k->sql = strdup(sql);
		if (!k->sql)
			break;
		k->hash = h;
		k->st = st;
		c->ncached++;
		*owned = false;
		break;
	}
	return YZ_OK;
}

static yz_status sl_bind(sl_conn *c, sqlite3_stmt *st, const store_val *args, int nargs, yz_err *e)
{
	int want = sqlite3_bind_parameter_count(st);
	if (want != nargs)
		return yz_fail(e, YZ_EINTERNAL, "SQL expects %d parameters, got %d", want, nargs);
	for (int i = 0; i < nargs; i++) {
		const store_val *v = &args[i];
		int rc;
		switch (v->t) {
		case SV_INT:
			rc = sqlite3_bind_int64(st, i + 1, v->i);
			break;
		case SV_TEXT:
			rc = sqlite3_bind_text64(st, i + 1, v->p, v->n, SQLITE_STATIC, SQLITE_UTF8);
			break;
		case SV_BLOB:
			rc = sqlite3_bind_blob64(st, i + 1, v->p, v->n, SQLITE_STATIC);
			break;
		default:
			rc = sqlite3_bind_null(st, i + 1);
		}
		if (rc != SQLITE_OK)
			return sl_error(c->db, rc, e, "bind");
	}
	return YZ_OK;
}

static void sl_release_stmt(sqlite3_stmt *st, bool owned)
{
	if (owned) {
		sqlite3_finalize(st);
	} else {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
}

static yz_status sl_exec(store_conn *bc, const char *sql, const store_val *args, int nargs,
                         yz_err *e)
{
	sl_conn *c = (sl_conn *)bc;
	sqlite3_stmt *st;
	bool owned;
	yz_status s = sl_prepare(c, sql, &st, &owned, e);
	if (s != YZ_OK)
		return s;
	s = sl_bind(c, st, args, nargs, e);
	if (s == YZ_OK) {
		int rc;
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			;
		if (rc != SQLITE_DONE)
			s = sl_error(c->db, rc, e, "exec");
		else
			bc->changes = sqlite3_changes64(c->db);
	}
	sl_release_stmt(st, owned);
	return s;
}

static yz_status sl_query(store_conn *bc, const char *sql, const store_val *args, int nargs,
                          store_rows **out, yz_err *e)
{
	sl_conn *c = (sl_conn *)bc;
	sl_rows *r = malloc(sizeof *r);
	if (!r)
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	memset(r, 0, sizeof *r);
	yz_status s = sl_prepare(c, sql, &r->st, &r->owned, e);
	if (s != YZ_OK) {
		free(r);
		return s;
	}
	s = sl_bind(c, r->st, args, nargs, e);
	if (s != YZ_OK) {
		sl_release_stmt(r->st, r->owned);
		free(r);
		return s;
	}
	r->base.c = bc;
	*out = &r->base;
	return YZ_OK;
}

static bool sl_next(store_rows *br)
{
	sl_rows *r = (sl_rows *)br;
	if (r->done)
		return false;
	int rc = sqlite3_step(r->st);
	if (rc == SQLITE_ROW)
		return true;
	r->done = true;
	if (rc != SQLITE_DONE)
		br->st = sl_error(((sl_conn *)br->c)->db, rc, &br->err, "query");
	return false;
}

static int sl_ncols(store_rows *br)
{
	return sqlite3_column_count(((sl_rows *)br)->st);
}

static bool sl_col_null(store_rows *br, int col)
{
	return sqlite3_column_type(((sl_rows *)br)->st, col) == SQLITE_NULL;
}

static int64_t sl_col_int(store_rows *br, int col)
{
	return sqlite3_column_int64(((sl_rows *)br)->st, col);
}

static const char *sl_col_text(store_rows *br, int col)
{
	const unsigned char *t = sqlite3_column_text(((sl_rows *)br)->st, col);
	return t ? (const char *)t : "";
}

static size_t sl_col_len(store_rows *br, int col)
{
	sqlite3_stmt *st = ((sl_rows *)br)->st;
	(void)sqlite3_column_text(st, col);
	return (size_t)sqlite3_column_bytes(st, col);
}

static const void *sl_col_blob(store_rows *br, int col, size_t *n)
{
	sqlite3_stmt *st = ((sl_rows *)br)->st;
	const void *p = sqlite3_column_blob(st, col);
	*n = (size_t)sqlite3_column_bytes(st, col);
	return p ? p : "";
}

static void sl_rows_free(store_rows *br)
{
	sl_rows *r = (sl_rows *)br;
	sl_release_stmt(r->st, r->owned);
	free(r);
}

static yz_status sl_script(store_conn *bc, const char *sql, yz_err *e)
{
	return sl_simple(((sl_conn *)bc)->db, sql, e);
}

static yz_status sl_begin(store_conn *c, yz_err *e)
{
	return sl_exec(c, "BEGIN IMMEDIATE", NULL, 0, e);
}

static yz_status sl_commit(store_conn *c, yz_err *e)
{
	return sl_exec(c, "COMMIT", NULL, 0, e);
}

static yz_status sl_rollback(store_conn *c, yz_err *e)
{
	return sl_exec(c, "ROLLBACK", NULL, 0, e);
}

static yz_status sl_savepoint(store_conn *c, yz_err *e)
{
	return sl_exec(c, "SAVEPOINT yz_job", NULL, 0, e);
}

static yz_status sl_release(store_conn *c, yz_err *e)
{
	return sl_exec(c, "RELEASE yz_job", NULL, 0, e);
}

static yz_status sl_rollback_to(store_conn *c, yz_err *e)
{
	return sl_exec(c, "ROLLBACK TO yz_job", NULL, 0, e);
}

static yz_status sl_migration_lock(store_conn *c, yz_err *e)
{
	(void)c;
	(void)e;
	return YZ_OK; /* one writer per database file, and BEGIN IMMEDIATE holds the lock */
}

const store_backend store_sqlite_backend = {
    .name = "sqlite",
    .connect = sl_connect,
    .disconnect = sl_disconnect,
    .exec = sl_exec,
    .query = sl_query,
    .next = sl_next,
    .ncols = sl_ncols,
    .col_null = sl_col_null,
    .col_int = sl_col_int,
    .col_text = sl_col_text,
    .col_len = sl_col_len,
    .col_blob = sl_col_blob,
    .rows_free = sl_rows_free,
    .script = sl_script,
    .begin = sl_begin,
    .commit = sl_commit,
    .rollback = sl_rollback,
    .savepoint = sl_savepoint,
    .release = sl_release,
    .rollback_to = sl_rollback_to,
    .migration_lock = sl_migration_lock,
    .id_type = "INTEGER PRIMARY KEY",
    .blob_type = "BLOB",
};
