/* flow_fixture — what the flow and supervision unit tests stand on: a store
 * on the chosen backend with the engine's modules migrated, the demo city's
 * users and roles, the State Council's notices and their calendar in the
 * engine, the clock faked at Monday 2026-11-23 10:00 in the city. No
 * listener and no definition: each test file adds its own. */
#ifndef YZ_TESTS_FLOW_FIXTURE_H
#define YZ_TESTS_FLOW_FIXTURE_H

#include <jansson.h>
#include <stdint.h>

#include "flow/calendar.h"
#include "store/store.h"

typedef struct fx {
	store *s;
	char target[600];
	calendar *cal;
} fx;

/* hh:mm Asia/Shanghai on a day, as epoch milliseconds. */
int64_t fx_city_time(int y, int mo, int d, int hh, int mm);
/* Open as above; `extra` (may be NULL) is one more module's migrations. */
void fx_open(fx *f, const char *backend, const char *extra, const store_migration *m, int n);
/* The calendar as the store holds it now, into the engine. */
void fx_use_calendar(fx *f);
void fx_load_def_text(fx *f, const char *text);
/* A definition file relative to the source root. */
void fx_load_def_file(fx *f, const char *rel);
/* Verify the audit chain, then undo fx_open. */
void fx_close(fx *f);
json_t *fx_jparse(const char *text);
/* One integer from a query on a read connection. */
int64_t fx_count(fx *f, const char *sql);

#endif
