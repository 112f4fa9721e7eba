/* Unit tests for src/audit on every backend: appends chain, checkpoints are
 * signed, and every kind of tampering is found and named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "audit/audit.h"
#include "core/jx.h"
#include "testutil.h"

typedef struct fixture {
	store *s;
	char target[600];
	char *dir;
} fixture;

static void setup(fixture *f, const char *backend, int records)
{
	f->s = tu_open_store(backend, f->target, sizeof f->target);
	yz_err e = {0};
	assert_int_equal(store_migrate(f->s, "audit", audit_migrations, audit_nmigrations, &e),
	                 YZ_OK);
	f->dir = tu_tmpdir();
	assert_int_equal(audit_init_keys(f->s, f->dir, &e), YZ_OK);
	assert_int_equal(audit_load_signer(f->s, f->dir, &e), YZ_OK);
	/* a second init must not overwrite the key */
	e = (yz_err){0};
	assert_int_not_equal(audit_init_keys(f->s, f->dir, &e), YZ_OK);
	(void)records;
}

static void teardown(fixture *f)
{
	audit_unload_signer();
	store_close(f->s);
	tu_drop_db(f->target);
	tu_rmtree(f->dir);
	free(f->dir);
}

typedef struct append_ctx {
	int from, n;
	const char *org_path;
} append_ctx;

static yz_status append_job(store_conn *tx, void *arg, yz_err *e)
{
	append_ctx *a = arg;
	yz_actor who = actor_system("test");
	snprintf(who.request_id, sizeof who.request_id, "rid-%d", a->from);
	for (int i = a->from; i < a->from + a->n; i++) {
		char obj[32];
		snprintf(obj, sizeof obj, "thing:%d", i);
		json_t *c = json_pack("{s:i, s:s}", "i", i, "name", "贵阳");
		yz_status st = audit_append(tx, &who, "test.thing.create", obj, a->org_path, c, e);
		json_decref(c);
		if (st != YZ_OK)
			return st;
	}
	return YZ_OK;
}

static void add(fixture *f, int from, int n, const char *path)
{
	append_ctx a = {from, n, path};
	yz_err e = {0};
	assert_int_equal(store_write(f->s, append_job, &a, &e), YZ_OK);
}

static void tamper(fixture *f, const char *sql)
{
	tu_exec_sql(f->s, sql);
}

static audit_report verify(fixture *f)
{
	audit_report rep;
	yz_err e = {0};
	assert_int_equal(audit_verify(f->s, &rep, &e), YZ_OK);
	return rep;
}

static void chain_and_checkpoints(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		fixture f;
		setup(&f, be[b], 0);
		audit_report rep = verify(&f);
		assert_true(rep.ok);
		assert_int_equal(rep.records, 0);
		add(&f, 1, 300, "/1/");
		yz_err e = {0};
		assert_int_equal(audit_checkpoint(f.s, &e), YZ_OK);
		rep = verify(&f);
		assert_true(rep.ok);
		assert_int_equal(rep.records, 300);
		/* one automatic checkpoint at 256, one on demand at 300 */
		assert_int_equal(rep.checkpoints, 2);
		/* nothing new: no new checkpoint */
		assert_int_equal(audit_checkpoint(f.s, &e), YZ_OK);
		assert_int_equal(verify(&f).checkpoints, 2);
		teardown(&f);
	}
}

static void edits_are_named(void **state)
{
	(void)state;
	static const struct {
		const char *sql;
		int64_t bad;
		const char *words;
	} cases[] = {
	    {"UPDATE audit_log SET action = 'test.thing.delete' WHERE seq = 17", 17, "hash"},
	    {"UPDATE audit_log SET change = '{\"i\":999}' WHERE seq = 40", 40, "digest"},
	    {"DELETE FROM audit_log WHERE seq = 5", 5, "missing"},
	    {"UPDATE audit_log SET prev = hash WHERE seq = 9", 9, "link"},
	    {"DELETE FROM audit_log WHERE seq >= 59", 59, "deleted"},
	    {"UPDATE audit_checkpoint SET at = at + 1", 50, "checkpoint"},
	};
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
			fixture f;
			setup(&f, be[b], 0);
			add(&f, 1, 50, NULL);
			yz_err e = {0};
			assert_int_equal(audit_checkpoint(f.s, &e), YZ_OK);
			add(&f, 51, 10, NULL);
			assert_true(verify(&f).ok);
			tamper(&f, cases[c].sql);
			audit_report rep = verify(&f);
			if (rep.ok || rep.first_bad != cases[c].bad ||
			    !strstr(rep.reason, cases[c].words))
				fail_msg("%s on %s: ok=%d first_bad=%lld reason=%s", cases[c].sql,
				         be[b], rep.ok, (long long)rep.first_bad, rep.reason);
			teardown(&f);
		}
	}
}

/* Someone rewrites a record and recomputes every later hash consistently:
 * only the signed checkpoint can tell, and it does. */
static void rewritten_chain_fails_checkpoint(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		fixture f;
		setup(&f, be[b], 0);
		add(&f, 1, 20, NULL);
		yz_err e = {0};
		assert_int_equal(audit_checkpoint(f.s, &e), YZ_OK);
		/* build a second, consistent chain of 20 different records elsewhere
		 * and copy its rows over ours */
		fixture g;
		setup(&g, be[b], 0);
		add(&g, 1000, 20, NULL);
		store_conn *gc;
		assert_int_equal(store_reader(g.s, &gc, &e), YZ_OK);
		store_rows *r;
		assert_int_equal(store_query(gc,
		                             "SELECT seq, at, action, object, change, digest, "
		                             "request_id, prev, hash FROM audit_log ORDER BY seq",
		                             NULL, 0, &r, &e),
		                 YZ_OK);
		char sql[4096];
		while (store_next(r)) {
			snprintf(
			    sql, sizeof sql,
			    "UPDATE audit_log SET at = %lld, action = '%s', object = '%s', change "
			    "= '%s', digest = '%s', request_id = '%s', prev = '%s', hash = '%s' "
			    "WHERE seq = %lld",
			    (long long)store_col_int(r, 1), store_col_text(r, 2),
			    store_col_text(r, 3), store_col_text(r, 4), store_col_text(r, 5),
			    store_col_text(r, 6), store_col_text(r, 7), store_col_text(r, 8),
			    (long long)store_col_int(r, 0));
			tamper(&f, sql);
		}
		assert_int_equal(store_rows_close(r, &e), YZ_OK);
		snprintf(
		    sql, sizeof sql,
		    "UPDATE audit_head SET hash = (SELECT hash FROM audit_log WHERE seq = 20)");
		tamper(&f, sql);
		audit_report rep = verify(&f);
		assert_false(rep.ok);
		assert_int_equal(rep.first_bad, 20);
		assert_non_null(strstr(rep.reason, "checkpoint"));
		teardown(&g);
		teardown(&f);
	}
}

static void browse_within_scope(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		fixture f;
		setup(&f, be[b], 0);
		add(&f, 1, 5, "/1/2/");
		add(&f, 6, 3, "/1/3/");
		add(&f, 9, 2, NULL);
		store_conn *c;
		yz_err e = {0};
		assert_int_equal(store_reader(f.s, &c, &e), YZ_OK);
		json_t *out;
		yz_scope all = {.all = true};
		audit_filter flt = {.limit = 4};
		assert_int_equal(audit_list(c, &all, &flt, &out, &e), YZ_OK);
		json_t *items = json_object_get(out, "items");
		assert_int_equal(json_array_size(items), 4);
		assert_int_equal(jx_int(json_array_get(items, 0), "seq", 0), 10);
		int64_t next = jx_int(out, "next", 0);
		assert_int_equal(next, 7);
		json_decref(out);
		flt.before = next;
		assert_int_equal(audit_list(c, &all, &flt, &out, &e), YZ_OK);
		assert_int_equal(jx_int(json_array_get(json_object_get(out, "items"), 0), "seq", 0),
		                 6);
		json_decref(out);

		const char *paths[] = {"/1/3/"};
		int64_t orgs[] = {3};
		yz_scope part = {.all = false, .n = 1, .orgs = orgs, .paths = paths};
		audit_filter none = {0};
		assert_int_equal(audit_list(c, &part, &none, &out, &e), YZ_OK);
		items = json_object_get(out, "items");
		assert_int_equal(json_array_size(items), 3);
		assert_true(json_is_null(json_object_get(out, "next")));
		json_decref(out);

		audit_filter act = {.action = "test.thing", .object = "thing:2"};
		assert_int_equal(audit_list(c, &all, &act, &out, &e), YZ_OK);
		assert_int_equal(json_array_size(json_object_get(out, "items")), 1);
		json_decref(out);
		audit_filter wild = {.action = "test_thing"}; /* '_' is not a wildcard */
		assert_int_equal(audit_list(c, &all, &wild, &out, &e), YZ_OK);
		assert_int_equal(json_array_size(json_object_get(out, "items")), 0);
		json_decref(out);

		json_t *rec;
		assert_int_equal(audit_get(c, &part, 7, &rec, &e), YZ_OK);
		assert_string_equal(jx_str(rec, "object", ""), "thing:7");
		assert_string_equal(jx_str(json_object_get(rec, "change"), "name", ""), "贵阳");
		json_decref(rec);
		e = (yz_err){0};
		assert_int_equal(audit_get(c, &part, 2, &rec, &e), YZ_ENOTFOUND);
		assert_int_equal(audit_get(c, &part, 10, &rec, &e), YZ_ENOTFOUND);
		yz_scope empty = {0};
		assert_int_equal(audit_list(c, &empty, &none, &out, &e), YZ_OK);
		assert_int_equal(json_array_size(json_object_get(out, "items")), 0);
		json_decref(out);
		teardown(&f);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(chain_and_checkpoints),
	    cmocka_unit_test(edits_are_named),
	    cmocka_unit_test(rewritten_chain_fails_checkpoint),
	    cmocka_unit_test(browse_within_scope),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
