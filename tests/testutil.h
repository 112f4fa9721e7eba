/*
 * testutil.h — shared helpers for unit tests: temporary directories and
 * fresh databases on each backend the run offers. SQLite always; PostgreSQL
 * when YIZHAN_TEST_PG holds the URL of a throwaway cluster (scripts/test
 * starts one). With YIZHAN_REQUIRE_PG=1 a missing cluster fails the test
 * instead of skipping it, so CI cannot pass by silently testing less.
 */
#ifndef YZ_TESTUTIL_H
#define YZ_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>

#include "store/store.h"

/* A new empty directory under /tmp; the path is malloc'd. */
char *tu_tmpdir(void);
/* Remove a directory tree (best effort). */
void tu_rmtree(const char *path);

/* Backends to run a test on: fills names ("sqlite", "postgresql") and returns
 * how many. Fails the test when PostgreSQL is required but absent. */
int tu_backends(const char *names[2]);

/* A fresh, empty database on backend `name`; writes its target (file path or
 * URL) into out. */
void tu_new_db(const char *name, char *out, size_t cap);
/* Drop a database made by tu_new_db (PostgreSQL: DROP DATABASE; SQLite: the
 * file and its -wal/-shm). */
void tu_drop_db(const char *target);

/* Open a store on a fresh database of the backend (asserts success). */
store *tu_open_store(const char *backend, char *target, size_t cap);

/* Run SQL through the store's writer (tests that tamper with rows); asserts
 * success. */
void tu_exec_sql(store *s, const char *sql);

/* Path of a file in the source tree (YIZHAN_SOURCE_ROOT). Static buffer. */
const char *tu_src(const char *rel);

/* Register every permission the roles of a pack (a path under the source
 * root, e.g. "packs/demo-city") grant, as the modules would at start. */
void tu_register_pack_perms(const char *pack_rel);

#endif
