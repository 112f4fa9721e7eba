/*
 * store_int.h — what store.c shares with the two engine back ends
 * (sqlite.c, pg.c). Not for other modules.
 */
#ifndef YZ_STORE_INT_H
#define YZ_STORE_INT_H

#include <pthread.h>

#include "store/store.h"

typedef struct store_backend store_backend;

struct store_conn {
	store *s;
	const store_backend *be;
	bool writer;
	int64_t changes;
	uint64_t queries;
	struct store_conn *next_all; /* every connection of the store, for closing */
};

struct store_rows {
	store_conn *c;
	yz_status st;
	yz_err err;
};

struct store_backend {
	const char *name;
	yz_status (*connect)(store *s, const char *target, bool writer, store_conn **out,
	                     yz_err *e);
	void (*disconnect)(store_conn *c);
	yz_status (*exec)(store_conn *c, const char *sql, const store_val *args, int nargs,
	                  yz_err *e);
	yz_status (*query)(store_conn *c, const char *sql, const store_val *args, int nargs,
	                   store_rows **out, yz_err *e);
	bool (*next)(store_rows *r);
	int (*ncols)(store_rows *r);
	bool (*col_null)(store_rows *r, int col);
	int64_t (*col_int)(store_rows *r, int col);
	const char *(*col_text)(store_rows *r, int col);
	size_t (*col_len)(store_rows *r, int col);
	const void *(*col_blob)(store_rows *r, int col, size_t *n);
	void (*rows_free)(store_rows *r);
	yz_status (*script)(store_conn *c, const char *sql, yz_err *e);
	/* Transaction control on the writer connection. */
	yz_status (*begin)(store_conn *c, yz_err *e);
	yz_status (*commit)(store_conn *c, yz_err *e);
	yz_status (*rollback)(store_conn *c, yz_err *e);
	yz_status (*savepoint)(store_conn *c, yz_err *e);
	yz_status (*release)(store_conn *c, yz_err *e);
	yz_status (*rollback_to)(store_conn *c, yz_err *e);
	/* Serialise migrations across nodes (no-op on SQLite: one writer). */
	yz_status (*migration_lock)(store_conn *c, yz_err *e);
	/* Replace {{id}} and {{blob}} for this engine; returns malloc'd SQL. */
	const char *id_type;
	const char *blob_type;
};

extern const store_backend store_sqlite_backend;
extern const store_backend store_pg_backend;

/* FNV-1a over SQL text and a parameter-type signature: statement cache key. */
uint64_t store_hash_sql(const char *sql, const store_val *args, int nargs);

#endif
