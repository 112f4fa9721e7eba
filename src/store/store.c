/*
 * store.c — engine-independent parts of the store: opening, per-thread read
 * connections, the group-commit writer, migrations and statistics.
 */
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "store/store_int.h"

typedef struct job {
	store_write_fn fn;
	void *ctx;
	yz_status st;
	yz_err *err; /* caller's, may be NULL (detached) */
	sem_t *done; /* NULL for detached jobs */
	bool detached;
	bool barrier;       /* store_flush marker: no fn */
	store_done_fn then; /* store_write_then: called after the commit */
	void *then_arg;
	yz_err own_err; /* the error of a store_write_then job */
	struct job *next;
} job;

struct store {
	const store_backend *be;
	char *target;
	uint64_t gen; /* distinguishes stores in thread-local caches */
	int batch_max;
	bool read_only;

	pthread_mutex_t conns_mu;
	store_conn *all_conns;
	int read_conns;

	/* writer */
	store_conn *wconn;
	pthread_t writer;
	bool writer_started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	job *head, *tail;
	int depth;
	bool stopping;

	/* stats */
	_Atomic uint64_t batches, jobs, jobs_failed, detached_failed, commit_ns;
	_Atomic uint64_t hist[8];
};

const char *const store_batch_bucket_names[8] = {"1",     "2-3",   "4-7",    "8-15",
                                                 "16-31", "32-63", "64-127", "128+"};

static _Atomic uint64_t store_gen_counter = 1;

/* ---- bound values ---- */

store_val sv_int(int64_t v)
{
	return (store_val){SV_INT, v, NULL, 0};
}

store_val sv_text(const char *s)
{
	/* i = 1 records that the text is NUL-terminated (pg.c need not copy it) */
	return s ? (store_val){SV_TEXT, 1, s, strlen(s)} : (store_val){SV_NULL, 0, NULL, 0};
}

store_val sv_textn(const char *s, size_t n)
{
	return s ? (store_val){SV_TEXT, 0, s, n} : (store_val){SV_NULL, 0, NULL, 0};
}

store_val sv_blob(const void *p, size_t n)
{
	return (store_val){SV_BLOB, 0, p ? p : "", n};
}

store_val sv_null(void)
{
	return (store_val){SV_NULL, 0, NULL, 0};
}

uint64_t store_hash_sql(const char *sql, const store_val *args, int nargs)
{
	uint64_t h = 1469598103934665603ULL;
	for (const unsigned char *p = (const unsigned char *)sql; *p; p++) {
		h ^= *p;
		h *= 1099511628211ULL;
	}
	for (int i = 0; i < nargs; i++) {
		h ^= (uint64_t)args[i].t + 0x9e;
		h *= 1099511628211ULL;
	}
	return h;
}

/* ---- connections ---- */

static void register_conn(store *s, store_conn *c)
{
	pthread_mutex_lock(&s->conns_mu);
	c->next_all = s->all_conns;
	s->all_conns = c;
	if (!c->writer)
		s->read_conns++;
	pthread_mutex_unlock(&s->conns_mu);
}

#define TL_SLOTS 4
static _Thread_local struct {
	uint64_t gen;
	store_conn *c;
} tl_readers[TL_SLOTS];

yz_status store_reader(store *s, store_conn **out, yz_err *e)
{
	for (int i = 0; i < TL_SLOTS; i++) {
		if (tl_readers[i].gen == s->gen) {
			*out = tl_readers[i].c;
			return YZ_OK;
		}
	}
	store_conn *c;
	yz_status st = s->be->connect(s, s->target, false, &c, e);
	if (st != YZ_OK)
		return st;
	c->s = s;
	register_conn(s, c);
	/* A free slot, else drop the oldest entry (its connection stays open
	 * and is closed with its store). */
	int slot = -1;
	for (int i = 0; i < TL_SLOTS && slot < 0; i++)
		if (tl_readers[i].gen == 0)
			slot = i;
	if (slot < 0) {
		memmove(&tl_readers[0], &tl_readers[1], sizeof tl_readers[0] * (TL_SLOTS - 1));
		slot = TL_SLOTS - 1;
	}
	tl_readers[slot].gen = s->gen;
	tl_readers[slot].c = c;
	*out = c;
	return YZ_OK;
}

/* ---- statements, routed to the engine ---- */

yz_status store_exec(store_conn *c, const char *sql, const store_val *args, int nargs, yz_err *e)
{
	c->queries++;
	return c->be->exec(c, sql, args, nargs, e);
}

int64_t store_changes(store_conn *c)
{
	return c->changes;
}

yz_status store_query(store_conn *c, const char *sql, const store_val *args, int nargs,
                      store_rows **out, yz_err *e)
{
	c->queries++;
	return c->be->query(c, sql, args, nargs, out, e);
}

bool store_next(store_rows *r)
{
	return r->c->be->next(r);
}

int store_ncols(store_rows *r)
{
	return r->c->be->ncols(r);
}

bool store_col_null(store_rows *r, int col)
{
	return r->c->be->col_null(r, col);
}

int64_t store_col_int(store_rows *r, int col)
{
	return r->c->be->col_int(r, col);
}

const char *store_col_text(store_rows *r, int col)
{
	return r->c->be->col_text(r, col);
}

size_t store_col_len(store_rows *r, int col)
{
	return r->c->be->col_len(r, col);
}

const void *store_col_blob(store_rows *r, int col, size_t *n)
{
	return r->c->be->col_blob(r, col, n);
}

yz_status store_rows_close(store_rows *r, yz_err *e)
{
	if (!r)
		return YZ_OK;
	yz_status st = r->st;
	if (st != YZ_OK && e)
		*e = r->err;
	r->c->be->rows_free(r);
	return st;
}

void store_rows_discard(store_rows *r)
{
	if (r)
		r->c->be->rows_free(r);
}

yz_status store_query_int(store_conn *c, const char *sql, const store_val *args, int nargs,
                          int64_t *out, yz_err *e)
{
	store_rows *r;
	yz_status st = store_query(c, sql, args, nargs, &r, e);
	if (st != YZ_OK)
		return st;
	bool found = store_next(r);
	if (found)
		*out = store_col_int(r, 0);
	st = store_rows_close(r, e);
	if (st != YZ_OK)
		return st;
	return found ? YZ_OK : yz_fail(e, YZ_ENOTFOUND, "no row");
}

const char *store_id_type(store_conn *c)
{
	return c->be->id_type;
}

yz_status store_exec_script(store_conn *c, const char *sql, yz_err *e)
{
	return c->be->script(c, sql, e);
}

/* ---- the group-commit writer ---- */

static int bucket_of(int n)
{
	int b = 0;
	while (b < 7 && n >= (2 << b))
		b++;
	return b;
}

static void finish(store *s, job *j)
{
	if (j->st != YZ_OK) {
		atomic_fetch_add(&s->jobs_failed, 1);
		if (j->detached)
			atomic_fetch_add(&s->detached_failed, 1);
	}
	if (j->then) {
		j->then(j->then_arg, j->st, &j->own_err);
		free(j);
		return;
	}
	if (j->detached) {
		free(j);
		return;
	}
	sem_post(j->done);
}

/* The common case first: every job of the batch straight into one
 * transaction, no savepoints. True when all succeeded and the transaction
 * is open for the commit. When one job fails, everything is rolled back and
 * the batch runs again with a savepoint per job (so a job may run twice:
 * store.h asks jobs to be re-runnable). */
static bool run_plain(store *s, job *batch)
{
	store_conn *c = s->wconn;
	yz_err e = {0};
	if (c->be->begin(c, &e) != YZ_OK)
		return false;
	for (job *j = batch; j; j = j->next) {
		if (j->barrier) {
			j->st = YZ_OK;
			continue;
		}
		yz_err local = {0};
		yz_err *je = j->err ? j->err : &local;
		j->st = j->fn(c, j->ctx, je);
		if (j->st == YZ_OK && je->code != YZ_OK)
			*je = (yz_err){0};
		if (j->st != YZ_OK) {
			yz_err ignore = {0};
			(void)c->be->rollback(c, &ignore);
			for (job *k = batch; k; k = k->next) {
				k->st = YZ_OK;
				if (k->err)
					*k->err = (yz_err){0};
			}
			return false;
		}
	}
	return true;
}

/* Run one batch: one commit for all its jobs, each failing job rolled back
 * alone. */
static void run_batch(store *s, job *batch, int n)
{
	store_conn *c = s->wconn;
	yz_err e = {0};
	yz_status st = YZ_OK;
	if (n > 1 && run_plain(s, batch)) {
		uint64_t t0 = clock_mono_ns();
		st = c->be->commit(c, &e);
		atomic_fetch_add(&s->commit_ns, clock_mono_ns() - t0);
		goto answer;
	}
	st = c->be->begin(c, &e);
	if (st == YZ_OK) {
		for (job *j = batch; j; j = j->next) {
			if (j->barrier) {
				j->st = YZ_OK;
				continue;
			}
			yz_err local = {0};
			yz_err *je = j->err ? j->err : &local;
			bool single = n == 1;
			if (!single && (j->st = c->be->savepoint(c, je)) != YZ_OK)
				continue;
			j->st = j->fn(c, j->ctx, je);
			if (j->st == YZ_OK && je->code != YZ_OK)
				*je = (yz_err){0}; /* a recovered error inside the job */
			if (single)
				continue;
			if (j->st == YZ_OK) {
				j->st = c->be->release(c, je);
			} else {
				yz_err ignore = {0};
				if (c->be->rollback_to(c, &ignore) != YZ_OK ||
				    c->be->release(c, &ignore) != YZ_OK) {
					/* the transaction is unusable: fail what remains */
					st = yz_fail(&e, YZ_EDB, "rollback to savepoint failed: %s",
					             ignore.msg);
					break;
				}
			}
		}
		if (st == YZ_OK && n == 1 && batch->st != YZ_OK && !batch->barrier) {
			/* a lone failed job: nothing worth committing */
			yz_err ignore = {0};
			(void)c->be->rollback(c, &ignore);
			atomic_fetch_add(&s->jobs, 1);
			finish(s, batch);
			return;
		}
		if (st == YZ_OK) {
			uint64_t t0 = clock_mono_ns();
			st = c->be->commit(c, &e);
			atomic_fetch_add(&s->commit_ns, clock_mono_ns() - t0);
		} else {
			yz_err ignore = {0};
			(void)c->be->rollback(c, &ignore);
		}
	}
answer:
	atomic_fetch_add(&s->batches, 1);
	atomic_fetch_add(&s->hist[bucket_of(n)], 1);
	for (job *j = batch, *next; j; j = next) {
		next = j->next;
		atomic_fetch_add(&s->jobs, 1);
		if (st != YZ_OK) {
			j->st = st;
			if (j->err)
				*j->err = e;
		}
		finish(s, j);
	}
}

static void *writer_main(void *arg)
{
	store *s = arg;
	for (;;) {
		pthread_mutex_lock(&s->mu);
		while (!s->head && !s->stopping)
			pthread_cond_wait(&s->cv, &s->mu);
		if (!s->head && s->stopping) {
			pthread_mutex_unlock(&s->mu);
			break;
		}
		job *batch = s->head, *last = s->head;
		int n = 1;
		while (last->next && n < s->batch_max) {
			last = last->next;
			n++;
		}
		s->head = last->next;
		if (!s->head)
			s->tail = NULL;
		last->next = NULL;
		s->depth -= n;
		pthread_mutex_unlock(&s->mu);
		run_batch(s, batch, n);
	}
	return NULL;
}

static yz_status enqueue(store *s, job *j, yz_err *e)
{
	pthread_mutex_lock(&s->mu);
	if (s->stopping || !s->writer_started) {
		pthread_mutex_unlock(&s->mu);
		return yz_fail(e, YZ_EBUSY,
		               s->read_only ? "the store is open read-only"
		                            : "the store is closing");
	}
	j->next = NULL;
	if (s->tail)
		s->tail->next = j;
	else
		s->head = j;
	s->tail = j;
	s->depth++;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return YZ_OK;
}

yz_status store_write(store *s, store_write_fn fn, void *ctx, yz_err *e)
{
	sem_t done;
	sem_init(&done, 0, 0);
	yz_err local = {0};
	job j = {.fn = fn, .ctx = ctx, .err = e ? e : &local, .done = &done};
	yz_status st = enqueue(s, &j, e);
	if (st == YZ_OK) {
		while (sem_wait(&done) != 0)
			;
		st = j.st;
	}
	sem_destroy(&done);
	return st;
}

yz_status store_write_detached(store *s, store_write_fn fn, const void *ctx, size_t ctx_size,
                               yz_err *e)
{
	job *j = malloc(sizeof *j + ctx_size);
	if (!j)
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	*j = (job){.fn = fn, .detached = true};
	j->ctx = j + 1;
	if (ctx_size)
		memcpy(j->ctx, ctx, ctx_size);
	yz_status st = enqueue(s, j, e);
	if (st != YZ_OK)
		free(j);
	return st;
}

yz_status store_write_then(store *s, store_write_fn fn, void *ctx, store_done_fn then, void *arg,
                           yz_err *e)
{
	job *j = malloc(sizeof *j);
	if (!j)
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	*j = (job){.fn = fn, .ctx = ctx, .then = then, .then_arg = arg};
	j->err = &j->own_err;
	yz_status st = enqueue(s, j, e);
	if (st != YZ_OK)
		free(j);
	return st;
}

void store_flush(store *s)
{
	sem_t done;
	sem_init(&done, 0, 0);
	job j = {.barrier = true, .done = &done};
	if (enqueue(s, &j, NULL) == YZ_OK)
		while (sem_wait(&done) != 0)
			;
	sem_destroy(&done);
}

/* ---- open / close ---- */

yz_status store_open(const char *target, const store_opts *o, store **out, yz_err *e)
{
	*out = NULL;
	store *s = calloc(1, sizeof *s);
	if (!s)
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	bool pg = !strncmp(target, "postgresql://", 13) || !strncmp(target, "postgres://", 11);
	s->be = pg ? &store_pg_backend : &store_sqlite_backend;
	s->target = strdup(target);
	s->gen = atomic_fetch_add(&store_gen_counter, 1);
	s->batch_max = o && o->batch_max > 0 ? o->batch_max : 512;
	s->read_only = o && o->read_only;
	pthread_mutex_init(&s->conns_mu, NULL);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	if (!s->target) {
		store_close(s);
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	}
	if (!s->read_only) {
		yz_status st = s->be->connect(s, s->target, true, &s->wconn, e);
		if (st != YZ_OK) {
			store_close(s);
			return st;
		}
		s->wconn->s = s;
		register_conn(s, s->wconn);
		if (pthread_create(&s->writer, NULL, writer_main, s) != 0) {
			store_close(s);
			return yz_fail(e, YZ_EINTERNAL, "cannot start the writer thread");
		}
		s->writer_started = true;
	} else {
		/* fail early when the database cannot be reached at all */
		store_conn *c;
		yz_status st = store_reader(s, &c, e);
		if (st != YZ_OK) {
			store_close(s);
			return st;
		}
	}
	*out = s;
	return YZ_OK;
}

void store_close(store *s)
{
	if (!s)
		return;
	if (s->writer_started) {
		pthread_mutex_lock(&s->mu);
		s->stopping = true;
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->writer, NULL);
	}
	/* forget this thread's cached reader; other threads' entries die with
	 * the generation number, which is never reused */
	for (int i = 0; i < TL_SLOTS; i++)
		if (tl_readers[i].gen == s->gen)
			tl_readers[i].gen = 0;
	for (store_conn *c = s->all_conns, *n; c; c = n) {
		n = c->next_all;
		c->be->disconnect(c);
	}
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->conns_mu);
	free(s->target);
	free(s);
}

store_kind store_kind_of(const store *s)
{
	return s->be == &store_pg_backend ? STORE_PG : STORE_SQLITE;
}

const char *store_kind_name(const store *s)
{
	return s->be->name;
}

void store_get_stats(store *s, store_stats *out)
{
	memset(out, 0, sizeof *out);
	out->batches = atomic_load(&s->batches);
	out->jobs = atomic_load(&s->jobs);
	out->jobs_failed = atomic_load(&s->jobs_failed);
	out->detached_failed = atomic_load(&s->detached_failed);
	out->commit_ns_total = atomic_load(&s->commit_ns);
	for (int i = 0; i < 8; i++)
		out->batch_hist[i] = atomic_load(&s->hist[i]);
	pthread_mutex_lock(&s->conns_mu);
	out->read_conns = s->read_conns;
	for (store_conn *c = s->all_conns; c; c = c->next_all) {
		if (!c->writer)
			out->queries += c->queries;
		else
			out->writer_queries += __atomic_load_n(&c->queries, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&s->conns_mu);
	pthread_mutex_lock(&s->mu);
	out->queue_depth = s->depth;
	pthread_mutex_unlock(&s->mu);
}

/* ---- migrations ---- */

static char *expand_macros(const store_backend *be, const char *sql)
{
	size_t cap = strlen(sql) * 2 + 256, o = 0;
	char *out = malloc(cap);
	if (!out)
		return NULL;
	for (const char *p = sql; *p;) {
		const char *rep = NULL;
		size_t skip = 0;
		if (!strncmp(p, "{{id}}", 6)) {
			rep = be->id_type;
			skip = 6;
		} else if (!strncmp(p, "{{blob}}", 8)) {
			rep = be->blob_type;
			skip = 8;
		}
		size_t need = rep ? strlen(rep) : 1;
		if (o + need + 1 > cap) {
			cap = (o + need + 1) * 2;
			char *n = realloc(out, cap);
			if (!n) {
				free(out);
				return NULL;
			}
			out = n;
		}
		if (rep) {
			memcpy(out + o, rep, need);
			o += need;
			p += skip;
		} else {
			out[o++] = *p++;
		}
	}
	out[o] = '\0';
	return out;
}

static const char migrations_table[] =
    "CREATE TABLE IF NOT EXISTS store_migrations (module TEXT NOT NULL, version INTEGER NOT "
    "NULL, applied_at BIGINT NOT NULL, PRIMARY KEY (module, version))";

typedef struct migrate_ctx {
	const char *module;
	const store_migration *step;
	char *sql;
	bool applied;
} migrate_ctx;

static yz_status migrate_job(store_conn *tx, void *arg, yz_err *e)
{
	migrate_ctx *m = arg;
	yz_status st = tx->be->migration_lock(tx, e);
	if (st != YZ_OK)
		return st;
	st = store_exec(tx, migrations_table, NULL, 0, e);
	if (st != YZ_OK)
		return st;
	int64_t have = 0;
	store_val a[] = {sv_text(m->module)};
	st = store_query_int(
	    tx, "SELECT COALESCE(MAX(version), 0) FROM store_migrations WHERE module = ?", a, 1,
	    &have, e);
	if (st != YZ_OK)
		return st;
	if (have >= m->step->version)
		return YZ_OK; /* another node got there first */
	st = tx->be->script(tx, m->sql, e);
	if (st != YZ_OK) {
		char msg[sizeof e->msg];
		yz_strlcpy(msg, e ? e->msg : "", sizeof msg);
		return yz_fail(e, st, "migration %s %d failed: %s", m->module, m->step->version,
		               msg);
	}
	store_val ins[] = {sv_text(m->module), sv_int(m->step->version), sv_int(clock_now_ms())};
	st = store_exec(
	    tx, "INSERT INTO store_migrations (module, version, applied_at) VALUES (?, ?, ?)", ins,
	    3, e);
	if (st == YZ_OK)
		m->applied = true;
	return st;
}

static yz_status ensure_table_job(store_conn *tx, void *arg, yz_err *e)
{
	(void)arg;
	return store_exec(tx, migrations_table, NULL, 0, e);
}

yz_status store_migration_version(store *s, const char *module, int *version, yz_err *e)
{
	*version = 0;
	if (!s->read_only) {
		yz_status st = store_write(s, ensure_table_job, NULL, e);
		if (st != YZ_OK)
			return st;
	}
	store_conn *c;
	yz_status st = store_reader(s, &c, e);
	if (st != YZ_OK)
		return st;
	int64_t v = 0;
	store_val a[] = {sv_text(module)};
	st = store_query_int(
	    c, "SELECT COALESCE(MAX(version), 0) FROM store_migrations WHERE module = ?", a, 1, &v,
	    e);
	if (st != YZ_OK)
		return st;
	*version = (int)v;
	return YZ_OK;
}

yz_status store_migrate(store *s, const char *module, const store_migration *steps, int nsteps,
                        yz_err *e)
{
	int have;
	yz_status st = store_migration_version(s, module, &have, e);
	if (st != YZ_OK)
		return st;
	int prev = 0;
	for (int i = 0; i < nsteps; i++) {
		if (steps[i].version <= prev)
			return yz_fail(e, YZ_EINTERNAL,
			               "migrations of %s are not in increasing order", module);
		prev = steps[i].version;
		if (steps[i].version <= have)
			continue;
		migrate_ctx m = {.module = module, .step = &steps[i]};
		m.sql = expand_macros(s->be, steps[i].sql);
		if (!m.sql)
			return yz_fail(e, YZ_ENOMEM, "out of memory");
		st = store_write(s, migrate_job, &m, e);
		free(m.sql);
		if (st != YZ_OK)
			return st;
	}
	return YZ_OK;
}
