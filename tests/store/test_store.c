/* Unit tests for src/store on every backend the run offers: values, errors,
 * migrations, the group-commit writer (batching, savepoint isolation) and
 * durability of acknowledged writes across kill -9. */
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/store.h"
#include "testutil.h"

static const store_migration steps[] = {
    {1, "CREATE TABLE t_item (id {{id}}, name TEXT NOT NULL UNIQUE, n BIGINT, data {{blob}});"
        "CREATE INDEX t_item_n ON t_item (n);"},
    {2, "ALTER TABLE t_item ADD COLUMN note TEXT"},
};

static store *open_migrated(const char *backend, char *target, size_t cap)
{
	store *s = tu_open_store(backend, target, cap);
	yz_err e = {0};
	assert_int_equal(store_migrate(s, "test", steps, 2, &e), YZ_OK);
	return s;
}

typedef struct ins {
	const char *name;
	int64_t n;
	const void *data;
	size_t len;
	int64_t id;
} ins;

static yz_status insert_job(store_conn *tx, void *arg, yz_err *e)
{
	ins *x = arg;
	store_val a[] = {sv_text(x->name), sv_int(x->n), sv_blob(x->data, x->len)};
	return store_query_int(tx,
	                       "INSERT INTO t_item (name, n, data) VALUES (?, ?, ?) RETURNING id",
	                       a, 3, &x->id, e);
}

static void values_round_trip(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		char target[600];
		store *s = open_migrated(be[b], target, sizeof target);
		assert_string_equal(store_kind_name(s), be[b]);
		static const unsigned char blob[] = {0, 1, 2, 0xff, 0, '\\', 'x'};
		ins x = {"贵阳市 'quoted' ?", INT64_MIN + 1, blob, sizeof blob, 0};
		yz_err e = {0};
		assert_int_equal(store_write(s, insert_job, &x, &e), YZ_OK);
		assert_true(x.id > 0);
		ins y = {"second", 42, "", 0, 0};
		assert_int_equal(store_write(s, insert_job, &y, &e), YZ_OK);
		assert_true(y.id > x.id);

		store_conn *c;
		assert_int_equal(store_reader(s, &c, &e), YZ_OK);
		store_rows *r;
		store_val a[] = {sv_int(x.id)};
		assert_int_equal(store_query(c,
		                             "SELECT name, n, data, note, 'lit?' FROM t_item WHERE "
		                             "id = ?",
		                             a, 1, &r, &e),
		                 YZ_OK);
		assert_true(store_next(r));
		assert_int_equal(store_ncols(r), 5);
		assert_string_equal(store_col_text(r, 0), "贵阳市 'quoted' ?");
		assert_int_equal(store_col_len(r, 0), strlen("贵阳市 'quoted' ?"));
		assert_true(store_col_int(r, 1) == INT64_MIN + 1);
		size_t n;
		const void *d = store_col_blob(r, 2, &n);
		assert_int_equal(n, sizeof blob);
		assert_memory_equal(d, blob, sizeof blob);
		assert_true(store_col_null(r, 3));
		assert_string_equal(store_col_text(r, 3), "");
		assert_string_equal(store_col_text(r, 4), "lit?");
		assert_false(store_next(r));
		assert_int_equal(store_rows_close(r, &e), YZ_OK);

		/* a slice that is not NUL-terminated binds only its bytes */
		const char *longer = "secondXYZ";
		store_val sl[] = {sv_textn(longer, 6)};
		int64_t id;
		assert_int_equal(
		    store_query_int(c, "SELECT id FROM t_item WHERE name = ?", sl, 1, &id, &e),
		    YZ_OK);
		assert_true(id == y.id);
		store_val none[] = {sv_text("absent")};
		assert_int_equal(
		    store_query_int(c, "SELECT id FROM t_item WHERE name = ?", none, 1, &id, &e),
		    YZ_ENOTFOUND);

		/* read connections refuse writes */
		e = (yz_err){0};
		assert_int_not_equal(store_exec(c, "DELETE FROM t_item", NULL, 0, &e), YZ_OK);
		/* wrong parameter count is a bug, reported */
		e = (yz_err){0};
		assert_int_equal(
		    store_query_int(c, "SELECT id FROM t_item WHERE name = ?", NULL, 0, &id, &e),
		    YZ_EINTERNAL);
		store_close(s);
		tu_drop_db(target);
	}
}

static void constraint_is_conflict(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		char target[600];
		store *s = open_migrated(be[b], target, sizeof target);
		ins x = {"dup", 1, "", 0, 0};
		yz_err e = {0};
		assert_int_equal(store_write(s, insert_job, &x, &e), YZ_OK);
		e = (yz_err){0};
		assert_int_equal(store_write(s, insert_job, &x, &e), YZ_ECONFLICT);
		assert_true(strlen(e.msg) > 0);
		store_close(s);
		tu_drop_db(target);
	}
}

static void migrations_are_recorded_once(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		char target[600];
		store *s = open_migrated(be[b], target, sizeof target);
		yz_err e = {0};
		int v;
		assert_int_equal(store_migration_version(s, "test", &v, &e), YZ_OK);
		assert_int_equal(v, 2);
		/* running again is a no-op */
		assert_int_equal(store_migrate(s, "test", steps, 2, &e), YZ_OK);
		static const store_migration bad[] = {
		    {1, "CREATE TABLE t_other (x INTEGER)"},
		    {2, "CREATE TABLE t_other2 (x INTEGER); THIS IS NOT SQL"},
		};
		e = (yz_err){0};
		assert_int_not_equal(store_migrate(s, "other", bad, 2, &e), YZ_OK);
		assert_non_null(strstr(e.msg, "migration other 2"));
		assert_int_equal(store_migration_version(s, "other", &v, &e), YZ_OK);
		assert_int_equal(v, 1);
		/* the failed step left nothing behind */
		store_conn *c;
		assert_int_equal(store_reader(s, &c, &e), YZ_OK);
		e = (yz_err){0};
		assert_int_not_equal(store_exec(c, "SELECT x FROM t_other2", NULL, 0, &e), YZ_OK);
		static const store_migration unordered[] = {{2, "SELECT 1"}, {1, "SELECT 1"}};
		assert_int_equal(store_migrate(s, "third", unordered, 2, &e), YZ_EINTERNAL);
		store_close(s);
		tu_drop_db(target);
	}
}

/* A job that holds the writer until released, so that other jobs queue up
 * behind it deterministically. */
typedef struct gate {
	sem_t entered, release;
} gate;

static yz_status gate_job(store_conn *tx, void *arg, yz_err *e)
{
	(void)tx;
	(void)e;
	gate *g = arg;
	sem_post(&g->entered);
	while (sem_wait(&g->release) != 0)
		;
	return YZ_OK;
}

typedef struct writer_arg {
	store *s;
	gate *g;
	ins x;
	yz_status st;
	yz_err e;
} writer_arg;

static void *gate_thread(void *arg)
{
	writer_arg *w = arg;
	w->st = store_write(w->s, gate_job, w->g, &w->e);
	return NULL;
}

static void *insert_thread(void *arg)
{
	writer_arg *w = arg;
	w->st = store_write(w->s, insert_job, &w->x, &w->e);
	return NULL;
}

static void wait_queue_depth(store *s, int depth)
{
	store_stats st;
	do {
		sched_yield();
		store_get_stats(s, &st);
	} while (st.queue_depth < depth);
}

/* A failing job inside a batch rolls back alone: fails with its own error,
 * its partial changes vanish, its neighbours commit. */
typedef struct half {
	int64_t id;
} half;

static yz_status half_then_fail(store_conn *tx, void *arg, yz_err *e)
{
	(void)arg;
	store_val a[] = {sv_text("partial")};
	yz_status st = store_exec(tx, "INSERT INTO t_item (name, n) VALUES (?, 0)", a, 1, e);
	if (st != YZ_OK)
		return st;
	store_val b[] = {sv_text("keep-1")};
	/* duplicate of a row inserted by an earlier job of the same batch */
	return store_exec(tx, "INSERT INTO t_item (name, n) VALUES (?, 0)", b, 1, e);
}

static void *half_thread(void *arg)
{
	writer_arg *w = arg;
	w->st = store_write(w->s, half_then_fail, NULL, &w->e);
	return NULL;
}

static void batch_isolation_and_grouping(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		char target[600];
		store *s = open_migrated(be[b], target, sizeof target);
		gate g;
		sem_init(&g.entered, 0, 0);
		sem_init(&g.release, 0, 0);
		writer_arg gw = {.s = s, .g = &g};
		pthread_t gt;
		pthread_create(&gt, NULL, gate_thread, &gw);
		while (sem_wait(&g.entered) != 0)
			;
		/* the writer is busy: queue keep-1, a failing job, keep-2 ... keep-20 */
		enum { N = 20 };
		writer_arg w[N + 1];
		pthread_t t[N + 1];
		char names[N][16];
		for (int i = 0; i < N; i++) {
			snprintf(names[i], sizeof names[i], "keep-%d", i + 1);
			w[i] = (writer_arg){.s = s, .x = {names[i], i, "", 0, 0}};
			pthread_create(&t[i], NULL, insert_thread, &w[i]);
			wait_queue_depth(s, i + 1);
			if (i == 0) {
				w[N] = (writer_arg){.s = s};
				pthread_create(&t[N], NULL, half_thread, &w[N]);
				wait_queue_depth(s, 2);
			}
		}
		wait_queue_depth(s, N + 1);
		sem_post(&g.release);
		pthread_join(gt, NULL);
		for (int i = 0; i <= N; i++)
			pthread_join(t[i], NULL);
		assert_int_equal(gw.st, YZ_OK);
		for (int i = 0; i < N; i++)
			assert_int_equal(w[i].st, YZ_OK);
		assert_int_equal(w[N].st, YZ_ECONFLICT);

		store_stats st;
		store_get_stats(s, &st);
		/* the 21 queued jobs went in one batch (bucket 16-31) */
		assert_true(st.batch_hist[4] >= 1);
		assert_true(st.jobs_failed >= 1);

		store_conn *c;
		yz_err e = {0};
		assert_int_equal(store_reader(s, &c, &e), YZ_OK);
		int64_t count;
		assert_int_equal(
		    store_query_int(c, "SELECT COUNT(*) FROM t_item WHERE name LIKE 'keep-%'", NULL,
		                    0, &count, &e),
		    YZ_OK);
		assert_int_equal(count, N);
		assert_int_equal(
		    store_query_int(c, "SELECT COUNT(*) FROM t_item WHERE name = 'partial'", NULL,
		                    0, &count, &e),
		    YZ_OK);
		assert_int_equal(count, 0);
		sem_destroy(&g.entered);
		sem_destroy(&g.release);
		store_close(s);
		tu_drop_db(target);
	}
}

static yz_status count_job(store_conn *tx, void *arg, yz_err *e)
{
	(void)arg;
	return store_exec(tx, "UPDATE t_item SET n = n + 1 WHERE name = 'counter'", NULL, 0, e);
}

static void detached_and_flush(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		char target[600];
		store *s = open_migrated(be[b], target, sizeof target);
		ins x = {"counter", 0, "", 0, 0};
		yz_err e = {0};
		assert_int_equal(store_write(s, insert_job, &x, &e), YZ_OK);
		for (int i = 0; i < 100; i++)
			assert_int_equal(store_write_detached(s, count_job, NULL, 0, &e), YZ_OK);
		store_flush(s);
		store_conn *c;
		assert_int_equal(store_reader(s, &c, &e), YZ_OK);
		int64_t n;
		assert_int_equal(store_query_int(c, "SELECT n FROM t_item WHERE name = 'counter'",
		                                 NULL, 0, &n, &e),
		                 YZ_OK);
		assert_int_equal(n, 100);
		store_close(s);
		tu_drop_db(target);
	}
}

typedef struct loop_arg {
	store *s;
	int thread, count;
	int ack_fd; /* -1: do not report */
	yz_status st;
} loop_arg;

static void *loop_thread(void *arg)
{
	loop_arg *l = arg;
	for (int i = 0; l->count < 0 || i < l->count; i++) {
		char name[32];
		snprintf(name, sizeof name, "d-%d-%d", l->thread, i);
		ins x = {name, i, "", 0, 0};
		yz_err e = {0};
		l->st = store_write(l->s, insert_job, &x, &e);
		if (l->st != YZ_OK)
			return NULL;
		if (l->ack_fd >= 0) {
			char line[40];
			int n = snprintf(line, sizeof line, "%s\n", name);
			if (write(l->ack_fd, line, (size_t)n) != n)
				return NULL;
		}
	}
	return NULL;
}

static void many_threads_many_writes(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		char target[600];
		store *s = open_migrated(be[b], target, sizeof target);
		enum { T = 16, PER = 100 };
		loop_arg l[T];
		pthread_t t[T];
		for (int i = 0; i < T; i++) {
			l[i] = (loop_arg){.s = s, .thread = i, .count = PER, .ack_fd = -1};
			pthread_create(&t[i], NULL, loop_thread, &l[i]);
		}
		for (int i = 0; i < T; i++) {
			pthread_join(t[i], NULL);
			assert_int_equal(l[i].st, YZ_OK);
		}
		store_stats st;
		store_get_stats(s, &st);
		assert_true(st.jobs >= T * PER);
		store_conn *c;
		yz_err e = {0};
		assert_int_equal(store_reader(s, &c, &e), YZ_OK);
		int64_t count;
		assert_int_equal(store_query_int(c, "SELECT COUNT(DISTINCT name) FROM t_item", NULL,
		                                 0, &count, &e),
		                 YZ_OK);
		assert_int_equal(count, T * PER);
		store_close(s);
		tu_drop_db(target);
	}
}

/* Writers in a child process report each acknowledged write on a pipe; the
 * parent kills the child with SIGKILL in the middle of the load and then
 * checks that every acknowledged row is in the database. */
static void acknowledged_writes_survive_kill9(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		char target[600];
		store *s = open_migrated(be[b], target, sizeof target);
		store_close(s);
		int fds[2];
		assert_int_equal(pipe(fds), 0);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			store *cs;
			yz_err e = {0};
			if (store_open(target, NULL, &cs, &e) != YZ_OK)
				_exit(2);
			enum { T = 8 };
			loop_arg l[T];
			pthread_t t[T];
			for (int i = 0; i < T; i++) {
				l[i] =
				    (loop_arg){.s = cs, .thread = i, .count = -1, .ack_fd = fds[1]};
				pthread_create(&t[i], NULL, loop_thread, &l[i]);
			}
			for (int i = 0; i < T; i++)
				pthread_join(t[i], NULL);
			_exit(3); /* only reached when a write failed */
		}
		close(fds[1]);
		FILE *acks = fdopen(fds[0], "r");
		char line[64];
		char(*names)[32] = calloc(100000, 32);
		int n = 0;
		while (n < 400 && fgets(line, sizeof line, acks)) {
			line[strcspn(line, "\n")] = '\0';
			yz_strlcpy(names[n++], line, 32);
		}
		assert_int_equal(n, 400);
		kill(pid, SIGKILL);
		int status;
		waitpid(pid, &status, 0);
		assert_true(WIFSIGNALED(status));
		/* acknowledgements already in the pipe count too */
		while (n < 100000 && fgets(line, sizeof line, acks)) {
			line[strcspn(line, "\n")] = '\0';
			yz_strlcpy(names[n++], line, 32);
		}
		fclose(acks);

		yz_err e = {0};
		assert_int_equal(store_open(target, NULL, &s, &e), YZ_OK);
		store_conn *c;
		assert_int_equal(store_reader(s, &c, &e), YZ_OK);
		int missing = 0;
		for (int i = 0; i < n; i++) {
			store_val a[] = {sv_text(names[i])};
			int64_t id;
			if (store_query_int(c, "SELECT id FROM t_item WHERE name = ?", a, 1, &id,
			                    &e) != YZ_OK) {
				print_error("acknowledged but missing: %s\n", names[i]);
				missing++;
			}
		}
		assert_int_equal(missing, 0);
		free(names);
		store_close(s);
		tu_drop_db(target);
	}
}

typedef struct then_state {
	sem_t done;
	yz_status st;
	int calls;
	ins x;
} then_state;

static void then_cb(void *arg, yz_status st, const yz_err *e)
{
	then_state *t = arg;
	(void)e;
	t->st = st;
	t->calls++;
	sem_post(&t->done);
}

/* store_write_then answers after the commit, on the writer thread, with the
 * job's own status; the row is readable by then. */
static void write_then_answers_after_commit(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		char target[600];
		store *s = open_migrated(be[b], target, sizeof target);
		then_state t = {.x = {"then-1", 5, "", 0, 0}};
		sem_init(&t.done, 0, 0);
		yz_err e = {0};
		assert_int_equal(store_write_then(s, insert_job, &t.x, then_cb, &t, &e), YZ_OK);
		while (sem_wait(&t.done) != 0)
			;
		assert_int_equal(t.st, YZ_OK);
		assert_int_equal(t.calls, 1);
		assert_true(t.x.id > 0);
		store_conn *c;
		assert_int_equal(store_reader(s, &c, &e), YZ_OK);
		int64_t n;
		store_val a[] = {sv_text("then-1")};
		assert_int_equal(
		    store_query_int(c, "SELECT n FROM t_item WHERE name = ?", a, 1, &n, &e), YZ_OK);
		assert_int_equal(n, 5);
		/* a failing job reports its own error through the callback */
		assert_int_equal(store_write_then(s, insert_job, &t.x, then_cb, &t, &e), YZ_OK);
		while (sem_wait(&t.done) != 0)
			;
		assert_int_equal(t.st, YZ_ECONFLICT);
		assert_int_equal(t.calls, 2);
		sem_destroy(&t.done);
		store_close(s);
		tu_drop_db(target);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(values_round_trip),
	    cmocka_unit_test(constraint_is_conflict),
	    cmocka_unit_test(migrations_are_recorded_once),
	    cmocka_unit_test(batch_isolation_and_grouping),
	    cmocka_unit_test(detached_and_flush),
	    cmocka_unit_test(many_threads_many_writes),
	    cmocka_unit_test(acknowledged_writes_survive_kill9),
	    cmocka_unit_test(write_then_answers_after_commit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
