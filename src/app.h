/*
 * app.h — the running program as the module table sees it: configuration,
 * the store, the web server and policy. Only main.c and the modules' api.c /
 * pages.c include it; module logic takes explicit arguments instead, so it
 * can run from the CLI, tests and background jobs alike.
 *
 * The module table (src/main.c) is the one list of what Yizhan is made of,
 * in layer order: each module names its migrations, the permissions it
 * defines, its routes and navigation, how it loads a data pack, and its
 * background jobs.
 */
#ifndef YZ_APP_H
#define YZ_APP_H

#include "core/conf.h"
#include "http/http.h"
#include "iam/iam.h"
#include "store/store.h"

typedef struct yz_app {
	yz_config cfg;
	store *db;
	http_server *http;
	iam_policy policy;
	json_t *site; /* city name etc. for pages */
} yz_app;

typedef struct yz_job {
	const char *name;
	int every_seconds;
	yz_status (*run)(yz_app *app, yz_err *e);
} yz_job;

typedef struct yz_module {
	const char *name;
	const store_migration *migrations;
	const int *nmigrations;
	const iam_perm_decl *perms;
	int nperms;
	/* register routes and navigation */
	yz_status (*routes)(yz_app *app, yz_err *e);
	/* load this module's part of a pack directory (NULL: nothing to load) */
	yz_status (*load_pack)(yz_app *app, const char *dir, json_t *report, yz_err *e);
	const yz_job *jobs;
	int njobs;
} yz_module;

/* Route registration entry points of each module (api.c / pages.c). */
yz_status iam_routes(yz_app *app, yz_err *e);
yz_status audit_routes(yz_app *app, yz_err *e);
yz_status portal_routes(yz_app *app, yz_err *e);
yz_status bench_routes(yz_app *app, yz_err *e);
yz_status notify_routes(yz_app *app, yz_err *e);
yz_status notify_job(yz_app *app, yz_err *e);
yz_status supervise_routes(yz_app *app, yz_err *e);
yz_status supervise_job(yz_app *app, yz_err *e);
yz_status supervise_pack(yz_app *app, const char *dir, json_t *report, yz_err *e);
yz_status pki_api_routes(yz_app *app, yz_err *e);
yz_status pki_routes(yz_app *app, yz_err *e);
extern const store_migration bench_migrations[];
extern const int bench_nmigrations;

#endif
