/*
 * portal.c — site settings of the portal.
 */
#include "portal/portal.h"

#include <string.h>

#include "audit/audit.h"
#include "core/jx.h"

const store_migration portal_migrations[] = {
    {1, "CREATE TABLE portal_setting (key TEXT PRIMARY KEY, value TEXT NOT NULL)"},
};
const int portal_nmigrations = 1;

static const char *const keys[] = {"city_name",     "city_name_en", "portal_title",
                                   "division_code", "pack",         NULL};

yz_status portal_settings(store *s, json_t **out, yz_err *e)
{
	*out = NULL;
	store_conn *c;
	yz_status st = store_reader(s, &c, e);
	if (st != YZ_OK)
		return st;
	store_rows *r;
	st = store_query(c, "SELECT key, value FROM portal_setting", NULL, 0, &r, e);
	if (st != YZ_OK)
		return st;
	json_t *o = json_object();
	while (store_next(r))
		jx_set_str(o, store_col_text(r, 0), store_col_text(r, 1));
	st = store_rows_close(r, e);
	if (st != YZ_OK) {
		json_decref(o);
		return st;
	}
	*out = o;
	return YZ_OK;
}

typedef struct set_job {
	const yz_actor *who;
	json_t *in;
} set_job;

static yz_status set_fn(store_conn *tx, void *arg, yz_err *e)
{
	set_job *j = arg;
	json_t *changed = json_object();
	yz_status st = YZ_OK;
	for (int i = 0; keys[i] && st == YZ_OK; i++) {
		const char *v = jx_str(j->in, keys[i], NULL);
		if (!v)
			continue;
		store_val a[] = {sv_text(keys[i]), sv_text(v)};
		st = store_exec(
		    tx,
		    "INSERT INTO portal_setting (key, value) VALUES (?, ?) ON CONFLICT (key) "
		    "DO UPDATE SET value = excluded.value",
		    a, 2, e);
		jx_set_str(changed, keys[i], v);
	}
	if (st == YZ_OK)
		st = audit_append(tx, j->who, "portal.settings", "portal:settings", NULL, changed,
		                  e);
	json_decref(changed);
	return st;
}

yz_status portal_settings_set(store *s, const yz_actor *who, json_t *in, yz_err *e)
{
	set_job j = {who, in};
	return store_write(s, set_fn, &j, e);
}
