#include "testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <ftw.h>
#include <libpq-fe.h>

#include "core/log.h"
#include "iam/iam.h"

char *tu_tmpdir(void)
{
	char tmpl[] = "/tmp/yz-test-XXXXXX";
	char *d = mkdtemp(tmpl);
	assert_non_null(d);
	return strdup(d);
}

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void tu_rmtree(const char *path)
{
	nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

int tu_backends(const char *names[2])
{
	int n = 0;
	names[n++] = "sqlite";
	const char *pg = getenv("YIZHAN_TEST_PG");
	if (pg && *pg)
		names[n++] = "postgresql";
	else if (getenv("YIZHAN_REQUIRE_PG") && !strcmp(getenv("YIZHAN_REQUIRE_PG"), "1"))
		fail_msg("YIZHAN_REQUIRE_PG=1 but YIZHAN_TEST_PG is not set");
	return n;
}

static int db_counter;

static void pg_admin(const char *sql)
{
	PGconn *c = PQconnectdb(getenv("YIZHAN_TEST_PG"));
	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("cannot reach the test PostgreSQL: %s", PQerrorMessage(c));
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		fail_msg("%s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(c);
}

void tu_new_db(const char *name, char *out, size_t cap)
{
	if (!strcmp(name, "sqlite")) {
		char *d = tu_tmpdir();
		snprintf(out, cap, "%s/test.db", d);
		free(d);
		return;
	}
	char db[64], sql[128];
	snprintf(db, sizeof db, "yzt_%d_%d", (int)getpid(), db_counter++);
	snprintf(sql, sizeof sql, "CREATE DATABASE %s", db);
	pg_admin(sql);
	/* replace the database name at the end of the admin URL */
	const char *base = getenv("YIZHAN_TEST_PG");
	const char *slash = strrchr(base, '/');
	snprintf(out, cap, "%.*s/%s", (int)(slash - base), base, db);
}

void tu_drop_db(const char *target)
{
	if (!strncmp(target, "postgresql://", 13)) {
		const char *slash = strrchr(target, '/');
		char sql[128];
		snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", slash + 1);
		pg_admin(sql);
		return;
	}
	char path[600];
	snprintf(path, sizeof path, "%s", target);
	char *slash = strrchr(path, '/');
	if (slash) {
		*slash = '\0';
		tu_rmtree(path);
	}
}

store *tu_open_store(const char *backend, char *target, size_t cap)
{
	tu_new_db(backend, target, cap);
	store *s = NULL;
	yz_err e = {0};
	yz_status st = store_open(target, NULL, &s, &e);
	if (st != YZ_OK)
		fail_msg("store_open(%s): %s", target, e.msg);
	return s;
}

const char *tu_src(const char *rel)
{
	static char path[1024];
	const char *root = getenv("YIZHAN_SOURCE_ROOT");
	snprintf(path, sizeof path, "%s/%s", root ? root : ".", rel);
	return path;
}

static yz_status exec_job(store_conn *tx, void *arg, yz_err *e)
{
	return store_exec_script(tx, arg, e);
}

void tu_exec_sql(store *s, const char *sql)
{
	yz_err e = {0};
	if (store_write(s, exec_job, (void *)sql, &e) != YZ_OK)
		fail_msg("%s: %s", sql, e.msg);
}

/* Tests log at the level YIZHAN_LOG_LEVEL names (meson sets warn). */
__attribute__((constructor)) static void tu_log_level(void)
{
	const char *l = getenv("YIZHAN_LOG_LEVEL");
	if (l)
		log_set_level_name(l);
}

void tu_register_pack_perms(const char *pack_rel)
{
	static char names[128][64];
	static iam_perm_decl decl[128];
	char rel[512];
	snprintf(rel, sizeof rel, "%s/roles.json", pack_rel);
	json_error_t je;
	json_t *doc = json_load_file(tu_src(rel), 0, &je);
	if (!doc)
		fail_msg("%s: %s", rel, je.text);
	json_t *roles = json_is_array(doc) ? doc : json_object_get(doc, "roles");
	int n = 0;
	size_t i, k;
	json_t *r, *p;
	json_array_foreach (roles, i, r) {
		json_array_foreach (json_object_get(r, "permissions"), k, p) {
			const char *name = json_string_value(p);
			bool seen = false;
			for (int j = 0; j < n && !seen; j++)
				seen = !strcmp(names[j], name);
			if (!seen && name && n < 128) {
				yz_strlcpy(names[n], name, sizeof names[n]);
				decl[n] = (iam_perm_decl){names[n], ""};
				n++;
			}
		}
	}
	json_decref(doc);
	iam_perms_register(decl, n);
}
