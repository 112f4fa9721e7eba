/*
 * main.c — the yizhan command and the module table.
 *
 *   yizhan init  [--pack NAME] [--data DIR] [--db URL]   create and fill a new installation
 *   yizhan serve [--data DIR] [--db URL] [--listen HOST:PORT]
 *   yizhan migrate                                       bring the schema up to date
 *   yizhan audit verify                                  check the audit chain (exit 0/1)
 *   yizhan routes                                        print the route table
 *
 * The module table below is the one place that lists what the program is
 * made of, in layer order (DESIGN §2-3).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "audit/audit.h"
#include "core/clock.h"
#include "core/jx.h"
#include "core/log.h"
#include "core/slice.h"
#include "flow/calendar.h"
#include "flow/flow.h"
#include "flow/flow_api.h"
#include "iam/oidc.h"
#include "notify/notify.h"
#include "pki/pki.h"
#include "portal/portal.h"
#include "supervise/supervise.h"

#define YIZHAN_VERSION "0.1.0"

/* ---- the module table ---- */

static const iam_perm_decl portal_perms[] = {
    {"workbench.use", "perm.workbench.use"},
};

static const iam_perm_decl iam_perms[] = {
    {"iam.org.read", "perm.iam.org.read"},           {"iam.org.manage", "perm.iam.org.manage"},
    {"iam.user.read", "perm.iam.user.read"},         {"iam.user.manage", "perm.iam.user.manage"},
    {"iam.role.read", "perm.iam.role.read"},         {"iam.role.manage", "perm.iam.role.manage"},
    {"iam.client.manage", "perm.iam.client.manage"},
};

/* Every 5 minutes: spent codes, expired tokens and abandoned sign-ins. */
static yz_status iam_sweep_job(yz_app *app, yz_err *e)
{
	return iam_sweep(app->db, e);
}

static const yz_job iam_jobs[] = {
    {"iam.sweep", 300, iam_sweep_job},
};

static const iam_perm_decl notify_perms[] = {
    {"notify.manage", "perm.notify.manage"},
};

static const yz_job notify_jobs[] = {
    {"notify.deliver", 1, notify_job},
};

static const iam_perm_decl flow_perms[] = {
    {"flow.read", "perm.flow.read"},
    {"flow.admin", "perm.flow.admin"},
};

static yz_status node_sync_job(yz_app *app, yz_err *e);

static const yz_job flow_jobs[] = {
    {"flow.timers", 1, flow_timer_job},
    {"flow.sync", 10, node_sync_job},
};

/* The project's own holiday data, beside the program like web/ and packs/. */
static char calendar_file[CONF_PATH_MAX + 64] = "data/calendar/cn-notices.txt";

static const iam_perm_decl supervise_perms[] = {
    {"supervise.read", "perm.supervise.read"},
    {"supervise.manage", "perm.supervise.manage"},
    {"supervise.respond", "perm.supervise.respond"},
};

static const yz_job supervise_jobs[] = {
    {"supervise.escalate", 2, supervise_job},
};

static const iam_perm_decl pki_perms[] = {
    {"pki.read", "perm.pki.read"},
    {"pki.issue", "perm.pki.issue"},
    {"pki.revoke", "perm.pki.revoke"},
    {"pki.manage", "perm.pki.manage"},
    {"pki.kmc.manage", "perm.pki.kmc.manage"},
    {"pki.kmc.approve", "perm.pki.kmc.approve"},
    {"pki.seal.manage", "perm.pki.seal.manage"},
    {"pki.seal.use", "perm.pki.seal.use"},
};

/* The certificate profiles shipped with this release. */
static char pki_profiles_file[CONF_PATH_MAX + 64] = "data/pki/profiles.json";

/* Every 10 s: CAs, revocations and CRLs recorded by other nodes or by
 * `yizhan pki`; stale CRLs signed anew. */
static yz_status pki_refresh_job(yz_app *app, yz_err *e)
{
	return pki_refresh(app->db, e);
}

/* Every minute: the checkpoints signed since get the platform certificate and
 * a time-stamp. */
static yz_status pki_notary_job(yz_app *app, yz_err *e)
{
	int done = 0;
	return pki_notary_run(app->db, &done, e);
}

static const yz_job pki_jobs[] = {
    {"pki.refresh", 10, pki_refresh_job},
    {"pki.notary", 60, pki_notary_job},
};

/* packs/<name>/pki/cas.json: the CA hierarchy of the pack. */
static yz_status pki_pack(yz_app *app, const char *dir, json_t *report, yz_err *e)
{
	char path[CONF_PATH_MAX + 700];
	snprintf(path, sizeof path, "%s/pki/cas.json", dir);
	if (access(path, R_OK) != 0)
		return YZ_OK;
	json_error_t je;
	json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!doc)
		return yz_fail(e, YZ_EINVAL, "%s: %s (line %d)", path, je.text, je.line);
	yz_actor who = actor_system("pack");
	json_t *made = json_array();
	yz_status st = pki_install(app->db, app->cfg.data, &who, doc, pki_profiles_file, made, e);
	json_object_set_new(report, "cas", made);
	json_decref(doc);
	return st;
}

static const iam_perm_decl audit_perms[] = {
    {"audit.read", "perm.audit.read"},
};

static yz_status audit_checkpoint_job(yz_app *app, yz_err *e)
{
	return audit_checkpoint(app->db, e);
}

static const yz_job audit_jobs[] = {
    {"audit.checkpoint", 60, audit_checkpoint_job},
};

static yz_status iam_pack(yz_app *app, const char *dir, json_t *report, yz_err *e)
{
	json_t *users = NULL;
	yz_status st = iam_load_pack(app->db, &app->policy, dir, &users, e);
	if (st == YZ_OK)
		json_object_set_new(report, "users", users);
	return st;
}

static yz_status portal_pack(yz_app *app, const char *dir, json_t *report, yz_err *e)
{
	(void)report;
	char path[700];
	snprintf(path, sizeof path, "%s/pack.json", dir);
	json_error_t je;
	json_t *p = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!p)
		return yz_fail(e, YZ_EINVAL, "%s: %s (line %d)", path, je.text, je.line);
	json_t *set = json_object();
	const char *keys[] = {"city_name", "city_name_en", "portal_title", "division_code"};
	for (size_t i = 0; i < 4; i++)
		if (json_is_string(json_object_get(p, keys[i])))
			json_object_set(set, keys[i], json_object_get(p, keys[i]));
	if (json_is_string(json_object_get(p, "name")))
		json_object_set(set, "pack", json_object_get(p, "name"));
	yz_actor who = actor_system("pack");
	yz_status st = portal_settings_set(app->db, &who, set, e);
	json_decref(set);
	json_decref(p);
	return st;
}

static const yz_module modules[] = {
    /* identity */
    {"audit", audit_migrations, &audit_nmigrations, audit_perms, 1, audit_routes, NULL, audit_jobs,
     1},
    {"iam", iam_migrations, &iam_nmigrations, iam_perms,
     (int)(sizeof iam_perms / sizeof iam_perms[0]), iam_routes, iam_pack, iam_jobs, 1},
    /* engines */
    {"notify", notify_migrations, &notify_nmigrations, notify_perms, 1, notify_routes, NULL,
     notify_jobs, 1},
    {"calendar", calendar_migrations, &calendar_nmigrations, NULL, 0, calendar_routes, NULL, NULL,
     0},
    {"flow", flow_migrations, &flow_nmigrations, flow_perms,
     (int)(sizeof flow_perms / sizeof flow_perms[0]), flow_routes, flow_load_pack, flow_jobs,
     (int)(sizeof flow_jobs / sizeof flow_jobs[0])},
    /* domains */
    {"supervise", supervise_migrations, &supervise_nmigrations, supervise_perms,
     (int)(sizeof supervise_perms / sizeof supervise_perms[0]), supervise_routes, supervise_pack,
     supervise_jobs, 1},
    {"pki", pki_migrations, &pki_nmigrations, pki_perms,
     (int)(sizeof pki_perms / sizeof pki_perms[0]), pki_routes, pki_pack, pki_jobs, 2},
    {"portal", portal_migrations, &portal_nmigrations, portal_perms, 1, portal_routes, portal_pack,
     NULL, 0},
    /* make bench only: its route exists only with --bench-routes */
    {"bench", bench_migrations, &bench_nmigrations, NULL, 0, bench_routes, NULL, NULL, 0},
};

#define NMODULES ((int)(sizeof modules / sizeof modules[0]))

/* ---- shared set-up ---- */

static int die(const yz_err *e, const char *what)
{
	fprintf(stderr, "yizhan: %s: %s\n", what, e->msg[0] ? e->msg : yz_status_name(e->code));
	int n = e->nfield < YZ_ERR_MAX_FIELDS ? e->nfield : YZ_ERR_MAX_FIELDS;
	for (int i = 0; i < n; i++)
		fprintf(stderr, "  %s: %s%s%s%s%s\n", e->fields[i].field, e->fields[i].rule,
		        e->fields[i].expected[0] ? " (expected " : "", e->fields[i].expected,
		        e->fields[i].got[0] ? ", got " : "",
		        e->fields[i].got[0] ? e->fields[i].got : "");
	if (e->fields[0].expected[0] && n)
		fputs("", stderr);
	return 2;
}

/* A relative web or packs directory that is not found from the working
 * directory is looked for beside the program: <exe dir>/.. (the source tree
 * when run as build/yizhan) and <exe dir>/../share/yizhan (installed). */
static void resolve_asset_dir(char *dir, size_t cap)
{
	if (dir[0] == '/' || access(dir, R_OK) == 0)
		return;
	char exe[CONF_PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return;
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (!slash)
		return;
	*slash = '\0';
	const char *bases[] = {"..", "../share/yizhan"};
	for (size_t i = 0; i < 2; i++) {
		char cand[CONF_PATH_MAX * 2 + 32];
		snprintf(cand, sizeof cand, "%s/%s/%s", exe, bases[i], dir);
		if (access(cand, R_OK) == 0 && strlen(cand) < cap) {
			yz_strlcpy(dir, cand, cap);
			return;
		}
	}
}

/* defaults → <data>/yizhan.conf → YIZHAN_* → flags */
static yz_status configure(yz_app *app, int *argc, char **argv, yz_err *e)
{
	conf_defaults(&app->cfg);
	/* a first pass over env and flags to find the data directory */
	yz_config probe;
	conf_defaults(&probe);
	int rest;
	char **copy = malloc(sizeof *copy * (size_t)(*argc + 1));
	if (!copy)
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	memcpy(copy, argv, sizeof *copy * (size_t)*argc);
	yz_status st = conf_load_env(&probe, e);
	if (st == YZ_OK)
		st = conf_load_args(&probe, *argc, copy, &rest, e);
	free(copy);
	if (st != YZ_OK)
		return st;
	char path[CONF_PATH_MAX + 32];
	snprintf(path, sizeof path, "%s/yizhan.conf", probe.data);
	yz_strlcpy(app->cfg.data, probe.data, sizeof app->cfg.data);
	if (access(path, R_OK) == 0 && (st = conf_load_file(&app->cfg, path, e)) != YZ_OK)
		return st;
	st = conf_load_env(&app->cfg, e);
	if (st == YZ_OK)
		st = conf_load_args(&app->cfg, *argc, argv, argc, e);
	if (st != YZ_OK)
		return st;
	log_set_level_name(app->cfg.log_level);
	resolve_asset_dir(app->cfg.web, sizeof app->cfg.web);
	resolve_asset_dir(app->cfg.packs, sizeof app->cfg.packs);
	resolve_asset_dir(calendar_file, sizeof calendar_file);
	resolve_asset_dir(pki_profiles_file, sizeof pki_profiles_file);
	app->policy = (iam_policy){
	    .pbkdf2_iterations = app->cfg.pbkdf2_iterations,
	    .lockout_failures = app->cfg.lockout_failures,
	    .lockout_minutes = app->cfg.lockout_minutes,
	    .session_idle_minutes = app->cfg.session_idle_minutes,
	    .session_max_hours = app->cfg.session_max_hours,
	};
	return YZ_OK;
}

static yz_status open_store(yz_app *app, bool create, yz_err *e)
{
	if (create && mkdir(app->cfg.data, 0750) != 0 && errno != EEXIST)
		return yz_fail(e, YZ_EIO, "cannot create %s: %s", app->cfg.data, strerror(errno));
	char target[CONF_PATH_MAX + 32];
	conf_db_target(&app->cfg, target, sizeof target);
	if (!create && !conf_is_postgres(&app->cfg) && access(target, F_OK) != 0)
		return yz_fail(e, YZ_ENOTFOUND,
		               "no installation at %s (run `yizhan init --data %s` first)", target,
		               app->cfg.data);
	store_opts o = {.batch_max = app->cfg.writer_batch_max};
	return store_open(target, &o, &app->db, e);
}

static yz_status migrate_all(yz_app *app, yz_err *e)
{
	for (int i = 0; i < NMODULES; i++) {
		const yz_module *m = &modules[i];
		if (m->migrations) {
			yz_status st =
			    store_migrate(app->db, m->name, m->migrations, *m->nmigrations, e);
			if (st != YZ_OK)
				return st;
		}
		iam_perms_register(m->perms, m->nperms);
	}
	/* the holiday notices shipped with this release (idempotent) */
	return calendar_seed(app->db, calendar_file, e);
}

/* The engine's calendar and definitions, as the database holds them now. */
static yz_status flow_ready(yz_app *app, yz_err *e)
{
	flow_env env = {.hours = calendar_default_hours()};
	if (app->cfg.office_hours[0]) {
		yz_err he = {0};
		if (calendar_parse_hours(app->cfg.office_hours, &env.hours, &he) != YZ_OK)
			return yz_fail(e, YZ_EINVAL, "--office-hours %s: %s", app->cfg.office_hours,
			               he.msg);
	}
	flow_set_env(&env);
	yz_status st = flow_calendar_reload(app->db, true, NULL, e);
	if (st != YZ_OK)
		return st;
	flow_on_event(NULL, NULL);
	flow_on_event(flow_notify_event, NULL);
	flow_on_event(supervise_flow_event, NULL);
	flow_on_event(pki_flow_event, NULL);
	flow_on_event(kmc_flow_event, NULL);
	flow_defs_clear();
	return flow_defs_restore(app->db, e);
}

/* Every 10 s: a notice imported or a definition loaded by another node (or
 * by `yizhan calendar import`) reaches this one. */
static yz_status node_sync_job(yz_app *app, yz_err *e)
{
	bool changed = false;
	int added = 0;
	yz_status st = flow_calendar_reload(app->db, false, &changed, e);
	if (st == YZ_OK && changed)
		log_info("calendar reloaded: a newer notice is stored");
	if (st == YZ_OK)
		st = flow_defs_sync(app->db, &added, e);
	if (st == YZ_OK && added)
		log_info("%d flow definition version(s) loaded from the database", added);
	return st;
}

static void flow_unready(void)
{
	flow_env none = {0};
	flow_set_env(&none);
	flow_on_event(NULL, NULL);
	flow_defs_clear();
	flow_calendars_free();
}

/* ---- init ---- */

static int cmd_init(yz_app *app, int argc, char **argv)
{
	const char *pack = NULL, *city = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--pack") && i + 1 < argc)
			pack = argv[++i];
		else if (!strcmp(argv[i], "--city-name") && i + 1 < argc)
			city = argv[++i];
		else if (!strcmp(argv[i], "--help")) {
			puts(
			    "yizhan init [--pack NAME] [--city-name NAME] [--data DIR] [--db URL]\n"
			    "Create a new installation: database, schema, the platform key, and "
			    "either a data pack\nor one operator account with a random password.");
			return 0;
		} else {
			fprintf(stderr, "yizhan init: unknown argument %s\n", argv[i]);
			return 2;
		}
	}
	yz_err e = {0};
	char target[CONF_PATH_MAX + 32];
	conf_db_target(&app->cfg, target, sizeof target);
	if (!conf_is_postgres(&app->cfg) && access(target, F_OK) == 0) {
		fprintf(stderr,
		        "yizhan init: %s already exists; this installation is initialised\n",
		        target);
		return 1;
	}
	char packdir[CONF_PATH_MAX + 64] = "";
	if (pack) {
		if (strchr(pack, '/') || strchr(pack, '.')) {
			fprintf(stderr,
			        "yizhan init: a pack is named by a plain name (e.g. demo-city)\n");
			return 2;
		}
		snprintf(packdir, sizeof packdir, "%s/%s", app->cfg.packs, pack);
		if (access(packdir, R_OK) != 0) {
			fprintf(stderr, "yizhan init: no pack %s in %s\n", pack, app->cfg.packs);
			return 2;
		}
	}
	if (open_store(app, true, &e) != YZ_OK)
		return die(&e, "cannot open the database");
	int rc = 0;
	uint64_t t0 = clock_mono_ns();
	if (migrate_all(app, &e) != YZ_OK) {
		rc = die(&e, "migration failed");
	} else if (audit_init_keys(app->db, app->cfg.data, &e) != YZ_OK) {
		rc = die(&e, "cannot create the platform key");
	} else if (audit_load_signer(app->db, app->cfg.data, &e) != YZ_OK) {
		rc = die(&e, "cannot load the platform key");
	} else if (flow_ready(app, &e) != YZ_OK) {
		rc = die(&e, "cannot load the calendar");
	}
	if (rc == 0 && conf_is_postgres(&app->cfg)) {
		/* remember the database so that `serve --data DIR` finds it */
		char path[CONF_PATH_MAX + 32];
		snprintf(path, sizeof path, "%s/yizhan.conf", app->cfg.data);
		FILE *f = fopen(path, "a");
		if (f) {
			fprintf(f, "db = %s\n", app->cfg.db);
			fclose(f);
		}
	}
	json_t *report = json_object();
	if (rc == 0 && pack) {
		for (int i = 0; i < NMODULES && rc == 0; i++)
			if (modules[i].load_pack &&
			    modules[i].load_pack(app, packdir, report, &e) != YZ_OK)
				rc = die(&e, "cannot load the pack");
	} else if (rc == 0) {
		char pw[64];
		json_t *set = json_pack("{s:s}", "city_name", city ? city : "本市");
		yz_actor who = actor_system("init");
		if (iam_bootstrap(app->db, &app->policy, city, pw, sizeof pw, &e) != YZ_OK ||
		    portal_settings_set(app->db, &who, set, &e) != YZ_OK) {
			rc = die(&e, "cannot create the first operator");
		} else {
			printf(
			    "Created the operator account. Sign in and change this password now;\n"
			    "it is shown only once.\n\n  login:    admin\n  password: %s\n\n",
			    pw);
		}
		json_decref(set);
	}
	if (rc == 0 && audit_checkpoint(app->db, &e) != YZ_OK)
		rc = die(&e, "cannot sign the first audit checkpoint");
	if (rc == 0 && pack) {
		json_t *users = json_object_get(report, "users");
		printf("Loaded pack %s into %s (%.1f s).\n", pack, target,
		       (double)(clock_mono_ns() - t0) / 1e9);
		printf("Demo users (demonstration passwords; see %s/README.md):\n", packdir);
		printf("  %-22s %-16s %s\n", "login", "kind", "password");
		size_t i;
		json_t *u;
		json_array_foreach (users, i, u)
			printf("  %-22s %-16s %s\n", jx_str(u, "login", ""), jx_str(u, "kind", ""),
			       jx_str(u, "password", ""));
	}
	json_decref(report);
	audit_unload_signer();
	pki_unload();
	flow_unready();
	store_close(app->db);
	return rc;
}

/* ---- serve ---- */

/* Every background job has a thread of its own, so that a slow one (a mail
 * server that does not answer) never delays another (the flow's timers). */
typedef struct jobs_ctx {
	yz_app *app;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
} jobs_ctx;

typedef struct job_thread {
	jobs_ctx *ctx;
	const yz_job *job;
	pthread_t th;
	bool started;
} job_thread;

static void *job_main(void *arg)
{
	job_thread *t = arg;
	jobs_ctx *j = t->ctx;
	for (;;) {
		pthread_mutex_lock(&j->mu);
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += t->job->every_seconds;
		while (!j->stop && pthread_cond_timedwait(&j->cv, &j->mu, &ts) == 0)
			;
		bool stop = j->stop;
		pthread_mutex_unlock(&j->mu);
		if (stop)
			break;
		yz_err e = {0};
		if (t->job->run(j->app, &e) != YZ_OK)
			log_error("job %s failed: %s", t->job->name, e.msg);
	}
	return NULL;
}

#define MAX_JOBS 32

static int jobs_start(jobs_ctx *j, job_thread *threads)
{
	int n = 0;
	for (int m = 0; m < NMODULES; m++)
		for (int k = 0; k < modules[m].njobs && n < MAX_JOBS; k++) {
			threads[n] = (job_thread){.ctx = j, .job = &modules[m].jobs[k]};
			threads[n].started =
			    pthread_create(&threads[n].th, NULL, job_main, &threads[n]) == 0;
			if (!threads[n].started)
				log_error("job %s: cannot start its thread",
				          modules[m].jobs[k].name);
			n++;
		}
	return n;
}

static void jobs_stop(jobs_ctx *j, job_thread *threads, int n)
{
	pthread_mutex_lock(&j->mu);
	j->stop = true;
	pthread_cond_broadcast(&j->cv);
	pthread_mutex_unlock(&j->mu);
	for (int i = 0; i < n; i++)
		if (threads[i].started)
			pthread_join(threads[i].th, NULL);
}

static yz_status db_ready(void *ctx, yz_err *e)
{
	yz_app *app = ctx;
	store_conn *c;
	yz_status st = store_reader(app->db, &c, e);
	int64_t one;
	if (st == YZ_OK)
		st = store_query_int(c, "SELECT 1", NULL, 0, &one, e);
	return st;
}

static void store_metrics(void *ctx, buf *b)
{
	yz_app *app = ctx;
	store_stats s;
	store_get_stats(app->db, &s);
	yz_status st = YZ_OK;
	BUF_TRY(st,
	        buf_printf(b,
	                   "# HELP yizhan_store_writer_batches_total Commits by the group-commit "
	                   "writer.\n# TYPE yizhan_store_writer_batches_total counter\n"
	                   "yizhan_store_writer_batches_total %llu\n"
	                   "# HELP yizhan_store_writer_jobs_total Write jobs run by the writer.\n"
	                   "# TYPE yizhan_store_writer_jobs_total counter\n"
	                   "yizhan_store_writer_jobs_total %llu\n"
	                   "yizhan_store_writer_jobs_failed_total %llu\n"
	                   "# HELP yizhan_store_writer_queue_depth Jobs waiting for the writer.\n"
	                   "# TYPE yizhan_store_writer_queue_depth gauge\n"
	                   "yizhan_store_writer_queue_depth %d\n"
	                   "# HELP yizhan_store_commit_seconds_total Time spent committing.\n"
	                   "# TYPE yizhan_store_commit_seconds_total counter\n"
	                   "yizhan_store_commit_seconds_total %.6f\n"
	                   "# HELP yizhan_store_read_queries_total Queries on read connections.\n"
	                   "# TYPE yizhan_store_read_queries_total counter\n"
	                   "yizhan_store_read_queries_total %llu\n"
	                   "yizhan_store_read_connections %d\n"
	                   "# HELP yizhan_store_writer_batch_size Jobs per commit.\n"
	                   "# TYPE yizhan_store_writer_batch_size histogram\n",
	                   (unsigned long long)s.batches, (unsigned long long)s.jobs,
	                   (unsigned long long)s.jobs_failed, s.queue_depth,
	                   (double)s.commit_ns_total / 1e9, (unsigned long long)s.queries,
	                   s.read_conns));
	static const int upper[8] = {1, 3, 7, 15, 31, 63, 127, -1};
	uint64_t cum = 0;
	for (int i = 0; i < 8; i++) {
		cum += s.batch_hist[i];
		if (upper[i] < 0)
			BUF_TRY(st,
			        buf_printf(
			            b, "yizhan_store_writer_batch_size_bucket{le=\"+Inf\"} %llu\n",
			            (unsigned long long)cum));
		else
			BUF_TRY(
			    st,
			    buf_printf(b, "yizhan_store_writer_batch_size_bucket{le=\"%d\"} %llu\n",
			               upper[i], (unsigned long long)cum));
	}
	BUF_TRY(st, buf_printf(b, "yizhan_store_writer_batch_size_count %llu\n",
	                       (unsigned long long)cum));
	BUF_TRY(st, buf_printf(b, "yizhan_store_writer_batch_size_sum %llu\n",
	                       (unsigned long long)s.jobs));
	(void)st; /* the caller's buffer cap bounds the text */
	notify_metrics(b);
}

/* POST /api/v1/test/clock {"advance_ms": n} or {"set": "ISO time"}: only with --test-clock. */
static yz_status test_clock(http_req *r, yz_err *e)
{
	json_t *in;
	yz_status st = http_json(r, &in, e);
	if (st != YZ_OK)
		return st;
	static const jx_field f[] = {{"advance_ms", JX_INT, false, 0, 0, NULL},
	                             {"set", JX_STRING, false, 0, 0, NULL},
	                             {NULL, 0, false, 0, 0, NULL}};
	st = jx_validate(in, f, e);
	int64_t ms;
	if (st == YZ_OK && json_object_get(in, "set")) {
		if (clock_parse_iso(jx_str(in, "set", ""), &ms) != YZ_OK)
			st = yz_field(e, "set", "iso8601", "an ISO-8601 time",
			              jx_str(in, "set", ""));
		else
			clock_set_fake(ms);
	}
	if (st == YZ_OK && json_object_get(in, "advance_ms"))
		clock_advance(jx_int(in, "advance_ms", 0));
	json_decref(in);
	if (st != YZ_OK)
		return st;
	char now[40];
	clock_format_city(clock_now_ms(), now, sizeof now);
	http_reply_json(r, 200, json_pack("{s:s}", "now", now));
	return YZ_OK;
}

static int cmd_serve(yz_app *app, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help")) {
			puts("yizhan serve [--data DIR] [--db URL] [--listen HOST:PORT] [options]");
			conf_print_help();
			return 0;
		}
		fprintf(stderr, "yizhan serve: unknown argument %s\n", argv[i]);
		return 2;
	}
	uint64_t t0 = clock_mono_ns();
	yz_err e = {0};
	if (open_store(app, false, &e) != YZ_OK)
		return die(&e, "cannot open the database");
	int rc = 0;
	if (migrate_all(app, &e) != YZ_OK)
		rc = die(&e, "migration failed");
	if (rc == 0 && audit_load_signer(app->db, app->cfg.data, &e) != YZ_OK)
		rc = die(&e, "cannot load the platform key");
	if (rc == 0 && pki_load(app->db, app->cfg.data, &e) != YZ_OK)
		rc = die(&e, "cannot load the certification authorities");
	audit_set_attest_check(pki_notary_check, NULL);
	if (rc == 0 && flow_ready(app, &e) != YZ_OK)
		rc = die(&e, "cannot load the calendar and the flow definitions");
	if (rc == 0 && app->cfg.test_clock && app->cfg.test_clock_start[0]) {
		int64_t ms;
		if (clock_parse_iso(app->cfg.test_clock_start, &ms) != YZ_OK) {
			yz_fail(&e, YZ_EINVAL, "--test-clock-start: not an ISO-8601 time");
			rc = die(&e, "bad option");
		} else {
			clock_set_fake(ms);
		}
	}
	/* timers that came due while the program was down fire before serving */
	int fired = 0;
	if (rc == 0 && flow_sweep(app->db, clock_now_ms(), 100000, &fired, &e) != YZ_OK)
		rc = die(&e, "cannot fire the timers that are due");
	json_t *site = NULL;
	if (rc == 0 && portal_settings(app->db, &site, &e) != YZ_OK)
		rc = die(&e, "cannot read the site settings");
	if (rc == 0) {
		if (!json_object_get(site, "portal_title"))
			jx_set_str(site, "portal_title", jx_str(site, "city_name", "Yizhan"));
		app->site = site;
		/* SQLite reads are local and take microseconds: answer GETs on the
		 * event loops; PostgreSQL reads cross the network: keep them on workers */
		http_server_opts o = {.cfg = &app->cfg,
		                      .app = app,
		                      .site = site,
		                      .inline_reads = !conf_is_postgres(&app->cfg)};
		if (http_server_new(&o, &app->http, &e) != YZ_OK)
			rc = die(&e, "cannot set up the web server");
	}
	for (int i = 0; rc == 0 && i < NMODULES; i++)
		if (modules[i].routes && modules[i].routes(app, &e) != YZ_OK)
			rc = die(&e, modules[i].name);
	if (rc == 0 && app->cfg.test_clock) {
		static const http_route tr = {HTTP_POST,
		                              "/api/v1/test/clock",
		                              test_clock,
		                              HTTP_PUBLIC,
		                              HTTP_SCOPE_NONE,
		                              0,
		                              1024,
		                              "Test only (--test-clock): set or advance the clock"};
		if (http_route_add(app->http, &tr, &e) != YZ_OK)
			rc = die(&e, "test clock");
		log_warn("the test clock is exposed: never run like this in production");
	}
	if (rc == 0) {
		http_set_ready(app->http, db_ready, app);
		http_set_metrics_extra(app->http, store_metrics, app);
		if (http_server_start(app->http, &e) != YZ_OK)
			rc = die(&e, "cannot start serving");
	}
	jobs_ctx jc = {.app = app};
	job_thread threads[MAX_JOBS];
	int njobs = 0;
	bool jobs_started = false;
	if (rc == 0) {
		pthread_mutex_init(&jc.mu, NULL);
		pthread_cond_init(&jc.cv, NULL);
		njobs = jobs_start(&jc, threads);
		jobs_started = true;
		char host[128];
		yz_strlcpy(host, app->cfg.listen, sizeof host);
		char *colon = strrchr(host, ':');
		if (colon)
			*colon = '\0';
		if (http_server_tls_port(app->http)) {
			/* before the plain line, which tools wait for */
			char th[128];
			yz_strlcpy(th, app->cfg.tls_listen, sizeof th);
			char *tc = strrchr(th, ':');
			if (tc)
				*tc = '\0';
			printf("yizhan: serving https://%s:%d\n", th[0] ? th : "0.0.0.0",
			       http_server_tls_port(app->http));
		}
		printf("yizhan: serving http://%s:%d\n", host[0] ? host : "0.0.0.0",
		       http_server_port(app->http));
		fflush(stdout);
		log_info("ready in %.1f ms on %s (%s)", (double)(clock_mono_ns() - t0) / 1e6,
		         app->cfg.listen, store_kind_name(app->db));
		http_server_wait(app->http);
	}
	if (jobs_started)
		jobs_stop(&jc, threads, njobs);
	http_server_free(app->http);
	if (app->db) {
		yz_err ce = {0};
		if (rc == 0 && audit_checkpoint(app->db, &ce) != YZ_OK)
			log_error("final audit checkpoint failed: %s", ce.msg);
	}
	audit_unload_signer();
	pki_unload();
	flow_unready();
	store_close(app->db);
	json_decref(app->site);
	return rc;
}

/* ---- small commands ---- */

static int cmd_audit(yz_app *app, int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "verify") != 0) {
		fputs("usage: yizhan audit verify [--data DIR] [--db URL]\n", stderr);
		return 2;
	}
	yz_err e = {0};
	if (open_store(app, false, &e) != YZ_OK)
		return die(&e, "cannot open the database");
	/* the pki checks the checkpoints' certificates and time-stamps */
	yz_err pe = {0};
	if (pki_load(app->db, app->cfg.data, &pe) == YZ_OK)
		audit_set_attest_check(pki_notary_check, NULL);
	audit_report rep;
	yz_status st = audit_verify(app->db, &rep, &e);
	audit_set_attest_check(NULL, NULL);
	pki_unload();
	store_close(app->db);
	if (st != YZ_OK)
		return die(&e, "verification could not run");
	if (rep.ok) {
		printf("audit chain sound: %lld records, %lld signed checkpoints, %lld attested "
		       "(certificate and time-stamp)\n",
		       (long long)rep.records, (long long)rep.checkpoints, (long long)rep.attested);
		if (rep.reason[0])
			printf("note: %s\n", rep.reason);
		return 0;
	}
	printf("audit chain BROKEN at record %lld: %s\n", (long long)rep.first_bad, rep.reason);
	return 1;
}

static int cmd_migrate(yz_app *app)
{
	yz_err e = {0};
	if (open_store(app, false, &e) != YZ_OK)
		return die(&e, "cannot open the database");
	int rc = migrate_all(app, &e) == YZ_OK ? 0 : die(&e, "migration failed");
	store_close(app->db);
	if (rc == 0)
		puts("schema up to date");
	return rc;
}

static int cmd_routes(yz_app *app)
{
	yz_err e = {0};
	http_server_opts o = {.cfg = &app->cfg, .app = app};
	if (http_server_new(&o, &app->http, &e) != YZ_OK)
		return die(&e, "cannot set up the web server");
	for (int i = 0; i < NMODULES; i++)
		if (modules[i].routes && modules[i].routes(app, &e) != YZ_OK)
			return die(&e, modules[i].name);
	json_t *t = http_route_table(app->http);
	size_t i;
	json_t *r;
	json_array_foreach (t, i, r)
		printf("%-7s %-40s %-18s %s\n", jx_str(r, "method", ""), jx_str(r, "pattern", ""),
		       jx_str(r, "perm", ""), jx_str(r, "scope", ""));
	json_decref(t);
	http_server_free(app->http);
	return 0;
}

/* After an imported notice changed days: the calendar and every open
 * deadline that depends on it. */
static yz_status calendar_changed(void *arg, store *s, const int64_t *days, int ndays, FILE *out,
                                  yz_err *e)
{
	yz_app *app = arg;
	(void)days;
	(void)s;
	yz_status st = flow_ready(app, e);
	int64_t moved = 0;
	yz_actor who = actor_system("calendar");
	if (st == YZ_OK)
		st = flow_recompute_deadlines(app->db, &who, &moved, e);
	if (st == YZ_OK)
		fprintf(out, "%d days changed; %lld deadlines of open flows recomputed\n", ndays,
		        (long long)moved);
	return st;
}

static int cmd_calendar(yz_app *app, int argc, char **argv)
{
	yz_err e = {0};
	store *s = NULL;
	if (open_store(app, false, &e) == YZ_OK && migrate_all(app, &e) == YZ_OK)
		s = app->db;
	else if (app->db) {
		store_close(app->db);
		app->db = NULL;
	}
	calendar_cli_opts o = {.on_change = calendar_changed, .arg = app};
	int rc = calendar_cli_run(s, calendar_file, argc, argv, &o);
	flow_unready();
	store_close(app->db);
	return rc;
}

static int cmd_pki(yz_app *app, int argc, char **argv)
{
	yz_err e = {0};
	store *s = NULL;
	if (argc >= 2 && strcmp(argv[1], "--help") && strcmp(argv[1], "help")) {
		if (open_store(app, false, &e) != YZ_OK || migrate_all(app, &e) != YZ_OK ||
		    pki_load(app->db, app->cfg.data, &e) != YZ_OK) {
			int rc = die(&e, "cannot open the installation");
			pki_unload();
			store_close(app->db);
			return rc;
		}
		s = app->db;
	}
	int rc = pki_cli_run(s, app->cfg.data, pki_profiles_file, argc, argv);
	pki_unload();
	if (s)
		store_close(s);
	return rc;
}

static void usage(void)
{
	puts("yizhan " YIZHAN_VERSION " — a city's e-government platform in one program\n\n"
	     "usage: yizhan <command> [options]\n\n"
	     "  init [--pack NAME]   create a new installation (database, key, pack or operator)\n"
	     "  serve                serve the portal, the workbench and the API\n"
	     "  migrate              bring the database schema up to date\n"
	     "  audit verify         check the audit chain; exit 0 when sound, 1 when not\n"
	     "  calendar ...         working days: is-workday DATE, add-workdays DATE N, import "
	     "FILE\n"
	     "  pki ...              the CA: init, ca-add, issue, revoke, resume, list, crl, cas\n"
	     "  routes               list every route with its permission and scope\n"
	     "  version              print the version\n\n"
	     "Common options: --data DIR (default var), --db postgresql://... (default SQLite in\n"
	     "the data directory), --listen HOST:PORT. `yizhan serve --help` lists all options.");
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
		usage();
		return argc < 2 ? 2 : 0;
	}
	const char *cmd = argv[1];
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
		puts("yizhan " YIZHAN_VERSION);
		return 0;
	}
	static yz_app app;
	int n = argc - 1;
	char **args = argv + 1;
	yz_err e = {0};
	if (configure(&app, &n, args, &e) != YZ_OK)
		return die(&e, "bad configuration");
	if (!strcmp(cmd, "init"))
		return cmd_init(&app, n, args);
	if (!strcmp(cmd, "serve"))
		return cmd_serve(&app, n, args);
	if (!strcmp(cmd, "audit"))
		return cmd_audit(&app, n, args);
	if (!strcmp(cmd, "migrate"))
		return cmd_migrate(&app);
	if (!strcmp(cmd, "routes"))
		return cmd_routes(&app);
	if (!strcmp(cmd, "calendar"))
		return cmd_calendar(&app, n, args);
	if (!strcmp(cmd, "pki"))
		return cmd_pki(&app, n, args);
	fprintf(stderr, "yizhan: unknown command %s (try yizhan --help)\n", cmd);
	return 2;
}
