/* flow_bench — the flow engine's benchmarks (bench/run, sections 5–7), through
 * the C API, on a fresh database with the demo city: the migrations of audit,
 * iam, calendar, notify, flow and supervise, the demo pack's users and roles,
 * the State Council's notices, the notification and supervision listeners on
 * with the demo supervision rules (as `yizhan serve` runs),
 * and packs/demo-city/flows/approval.parallel3.json. Every command is a
 * durable commit through the store's group-commit writer (SQLite: WAL,
 * synchronous=FULL; PostgreSQL: as the server is configured).
 *
 *   flow_bench instances [--clients N] [--duration S] [--warmup S]
 *       N threads each run whole approvals: start as the applicant (wangfang),
 *       accept (linfang.zwfw), the three department reviews with their
 *       opinions (chenjing.fgw, sunjian.zrzyj, mayan.zjj), sign (liuhongbo.city)
 *       → instances/s, transitions/s and per-command latency (closed loop).
 *   flow_bench complete [--clients N] [--duration S] [--warmup S] [--rate R]
 *       Instances are brought to the parallel review through the engine first;
 *       then N threads complete their department tasks (in random order) as
 *       fast as they go → durable task completions/s; then a paced open-loop
 *       run at R completions/s (default: half the measured maximum), each
 *       completion's latency counted from the moment it was due to start, so
 *       a backlog shows → p50/p99 per transition.
 *   flow_bench sweep [--open N] [--due N]
 *       A database with N (default 1,000,000) pending deadline timers of open
 *       tasks and instances: a template of instances is brought to the review
 *       through the engine, then its rows are copied with SQL (INSERT … SELECT
 *       over the engine's own rows, ids shifted) until N timers are pending.
 *       Then (i) one sweep pass when none is due, and (ii) the time to fire
 *       --due (default 10,000) timers, picked at random among the pending
 *       ones and made due now, through flow_sweep in passes of 1,000 (the
 *       timer job's batch).
 *   flow_bench state [--instances K]
 *       K approvals run to the end, then the bytes per closed instance of the
 *       engine's state tables and their indexes (flow_instance, flow_token,
 *       flow_group, flow_timer, flow_command, flow_cc), SQLite's dbstat pages;
 *       the monthly history tables, the audit chain and the outbox are kept
 *       apart and reported for information.
 *
 * Common options: --db TARGET (a postgresql:// URL of an empty database;
 * default a fresh SQLite file in a temporary directory, removed at the end),
 * --dir DIR (where to make the SQLite file), --source DIR (the source root,
 * for packs/ and data/; default "."), --retries N (instances: measure again
 * while other work disturbs the window; default 1).
 *
 * Figures go to stdout as "result KEY VALUE" lines (bench/run reads them),
 * progress to stderr. A benchmark, not a test: exit 0 whenever it ran. */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit/audit.h"
#include "core/clock.h"
#include "flow/calendar.h"
#include "flow/flow.h"
#include "iam/iam.h"
#include "notify/notify.h"
#include "store/store.h"
#include "supervise/supervise.h"

#define FLOW_KEY "approval.parallel3"

/* ---- options, errors, time ---- */

typedef struct opts {
	const char *mode;
	const char *db;
	const char *dir;
	const char *root;
	int clients;
	double duration, warmup, rate;
	long open, due;
	int instances;
	int retries;
} opts;

static opts O = {.root = ".",
                 .clients = 64,
                 .duration = 10,
                 .warmup = 2,
                 .open = 1000000,
                 .due = 10000,
                 .instances = 10000,
                 .retries = 1};

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("flow_bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static _Noreturn void die(const char *what, const yz_err *e)
{
	say("%s%s%s", what, e ? ": " : "", e ? e->msg : "");
	if (e && e->nfield)
		say("  field %s: %s (expected %s)", e->fields[0].field, e->fields[0].rule,
		    e->fields[0].expected);
	exit(1);
}

static double now_s(void)
{
	return (double)clock_mono_ns() / 1e9;
}

static void sleep_until(double t)
{
	double d = t - now_s();
	if (d <= 0)
		return;
	struct timespec ts = {.tv_sec = (time_t)d,
	                      .tv_nsec = (long)((d - (double)(time_t)d) * 1e9)};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ---- CPU during a window: ours, other processes', the kernel's, stolen ---- */

typedef struct cpu_mark {
	double t;
	long long self, others, busy, steal;
	long long written; /* bytes this process caused to be written to storage */
} cpu_mark;

/* write_bytes of /proc/self/io (WAL, database file and checkpoints alike);
 * -1 where the kernel does not count them */
static long long io_written(void)
{
	FILE *f = fopen("/proc/self/io", "r");
	if (!f)
		return -1;
	char line[128];
	long long v = -1;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, "write_bytes:", 12))
			v = strtoll(line + 12, NULL, 10);
	fclose(f);
	return v;
}

/* utime+stime(+cutime+cstime with children) of one /proc/PID/stat; -1 when
 * the process is gone. */
static long long proc_ticks(const char *path, bool children, long *ppid)
{
	char text[1024];
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(text, 1, sizeof text - 1, f);
	fclose(f);
	text[n] = '\0';
	char *p = strrchr(text, ')');
	if (!p)
		return -1;
	p += 2;
	long long v[16] = {0};
	for (int i = 0; i < 15 && *p; i++) {
		char *end;
		v[i] = strtoll(p, &end, 10);
		if (end == p) /* the state letter */
			end = p + 1;
		p = end;
		while (*p == ' ')
			p++;
	}
	if (ppid)
		*ppid = (long)v[1];
	return v[11] + v[12] + (children ? v[13] + v[14] : 0);
}

static void cpu_take(cpu_mark *m)
{
	m->t = now_s();
	m->self = proc_ticks("/proc/self/stat", false, NULL);
	m->written = io_written();
	/* everyone else's user-space processes: not us, not the script that ran
	 * us, not kernel threads (they show as kernel time) */
	long me = (long)getpid(), parent = (long)getppid();
	m->others = 0;
	DIR *d = opendir("/proc");
	struct dirent *de;
	while (d && (de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0 || pid == me || pid == parent || pid == 2)
			continue;
		char path[64];
		snprintf(path, sizeof path, "/proc/%ld/stat", pid);
		long pp = 0;
		long long t = proc_ticks(path, true, &pp);
		if (t > 0 && pp != 2 && pp != me && pp != parent)
			m->others += t;
	}
	if (d)
		closedir(d);
	m->busy = m->steal = 0;
	FILE *f = fopen("/proc/stat", "r");
	char line[512];
	if (f && fgets(line, sizeof line, f)) {
		long long v[10] = {0};
		char *p = line + 3;
		for (int i = 0; i < 10; i++) {
			char *end;
			v[i] = strtoll(p, &end, 10);
			p = end;
		}
		/* user nice system irq softirq; steal */
		m->busy = v[0] + v[1] + v[2] + v[5] + v[6];
		m->steal = v[7];
	}
	if (f)
		fclose(f);
}

/* "flow_bench X%, others Y%, kernel Z%, steal W%" (of one core) between two
 * marks, as bench/run prints its other runs; *disturbed when other work or
 * the hypervisor took more than a quarter of a core. */
static void cpu_split(const cpu_mark *a, const cpu_mark *b, char *out, size_t cap, bool *disturbed)
{
	double hz = (double)sysconf(_SC_CLK_TCK), d = b->t - a->t;
	if (d <= 0)
		d = 1e-9;
	double self = 100.0 * (double)(b->self - a->self) / hz / d;
	double oth = 100.0 * (double)(b->others - a->others) / hz / d;
	double steal = 100.0 * (double)(b->steal - a->steal) / hz / d;
	double busy = 100.0 * (double)(b->busy - a->busy) / hz / d;
	if (oth < 0)
		oth = 0;
	double k = busy - self - oth;
	if (k < 0)
		k = 0;
	*disturbed = oth > 25 || steal > 25;
	snprintf(out, cap, "flow_bench %.0f%%, others %.0f%%, kernel %.0f%%, steal %.0f%%%s", self,
	         oth, k, steal, *disturbed ? ", DISTURBED" : "");
}

static double cpu_self_s(const cpu_mark *a, const cpu_mark *b)
{
	return (double)(b->self - a->self) / (double)sysconf(_SC_CLK_TCK);
}

/* ---- latencies ---- */

static float *lat_ms;
static atomic_long nlat;
static long lat_cap;
static atomic_int recording;

static void lat_reset(long cap)
{
	free(lat_ms);
	lat_cap = cap;
	lat_ms = malloc(sizeof *lat_ms * (size_t)cap);
	if (!lat_ms)
		die("out of memory for latencies", NULL);
	atomic_store(&nlat, 0);
}

static void lat_add(double ms)
{
	if (!atomic_load_explicit(&recording, memory_order_relaxed))
		return;
	long i = atomic_fetch_add(&nlat, 1);
	if (i < lat_cap)
		lat_ms[i] = (float)ms;
}

static int by_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x > y) - (x < y);
}

/* p50, p99, p99.9 and max of what was recorded. */
static void lat_pct(double *p50, double *p99, double *p999, double *max)
{
	long n = atomic_load(&nlat);
	if (n > lat_cap)
		n = lat_cap;
	*p50 = *p99 = *p999 = *max = 0;
	if (n <= 0)
		return;
	qsort(lat_ms, (size_t)n, sizeof *lat_ms, by_float);
	*p50 = lat_ms[(long)((double)(n - 1) * 0.50)];
	*p99 = lat_ms[(long)((double)(n - 1) * 0.99)];
	*p999 = lat_ms[(long)((double)(n - 1) * 0.999)];
	*max = lat_ms[n - 1];
}

/* ---- the demo city ---- */

static store *S;
static calendar *CAL;
static char *tmpdir;

enum { W_STARTER, W_CLERK, W_FGW, W_ZRZY, W_ZJJ, W_LEADER, NWHO };
static const char *const logins[NWHO] = {"wangfang",      "linfang.zwfw", "chenjing.fgw",
                                         "sunjian.zrzyj", "mayan.zjj",    "liuhongbo.city"};
static yz_actor who[NWHO];

static const char *src_path(const char *rel)
{
	static _Thread_local char path[1024];
	snprintf(path, sizeof path, "%s/%s", O.root, rel);
	return path;
}

/* Every permission the demo pack's roles grant, as the modules would declare
 * them at start (iam refuses a pack that grants an unknown one). */
static void register_pack_perms(void)
{
	static char names[256][64];
	static iam_perm_decl decl[256];
	json_error_t je;
	json_t *doc = json_load_file(src_path("packs/demo-city/roles.json"), 0, &je);
	if (!doc) {
		say("packs/demo-city/roles.json: %s (run from the source root or give --source)",
		    je.text);
		exit(1);
	}
	json_t *roles = json_is_array(doc) ? doc : json_object_get(doc, "roles");
	int n = 0;
	size_t i, k;
	json_t *r, *p;
	json_array_foreach (roles, i, r) {
		json_array_foreach (json_object_get(r, "permissions"), k, p) {
			const char *name = json_string_value(p);
			bool seen = !name;
			for (int j = 0; j < n && !seen; j++)
				seen = !strcmp(names[j], name);
			if (!seen && n < 256) {
				yz_strlcpy(names[n], name, sizeof names[n]);
				decl[n] = (iam_perm_decl){names[n], ""};
				n++;
			}
		}
	}
	json_decref(doc);
	iam_perms_register(decl, n);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void cleanup(void)
{
	if (S)
		store_close(S);
	S = NULL;
	if (tmpdir) {
		nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
		free(tmpdir);
		tmpdir = NULL;
	}
}

static bool is_pg(void)
{
	return S && store_kind_of(S) == STORE_PG;
}

/* A fresh database with the demo city, the calendar, the listener and the
 * approval definition. */
static void setup(void)
{
	char target[1024];
	if (O.db) {
		yz_strlcpy(target, O.db, sizeof target);
	} else {
		char tpl[512];
		snprintf(tpl, sizeof tpl, "%s/flow-bench.XXXXXX", O.dir ? O.dir : "/tmp");
		if (!mkdtemp(tpl)) {
			say("mkdtemp %s: %s", tpl, strerror(errno));
			exit(1);
		}
		tmpdir = strdup(tpl);
		snprintf(target, sizeof target, "%s/flow.db", tpl);
	}
	atexit(cleanup);
	yz_err e = {0};
	if (store_open(target, NULL, &S, &e) != YZ_OK)
		die("cannot open the database", &e);
	struct {
		const char *name;
		const store_migration *m;
		int n;
	} mods[] = {{"audit", audit_migrations, audit_nmigrations},
	            {"iam", iam_migrations, iam_nmigrations},
	            {"calendar", calendar_migrations, calendar_nmigrations},
	            {"notify", notify_migrations, notify_nmigrations},
	            {"flow", flow_migrations, flow_nmigrations},
	            {"supervise", supervise_migrations, supervise_nmigrations}};
	for (size_t i = 0; i < sizeof mods / sizeof mods[0]; i++)
		if (store_migrate(S, mods[i].name, mods[i].m, mods[i].n, &e) != YZ_OK)
			die("migration failed", &e);
	register_pack_perms();
	/* the pack's passwords are hashed once at load; the benchmark never signs in */
	iam_policy pol = {.pbkdf2_iterations = 1000,
	                  .lockout_failures = 5,
	                  .lockout_minutes = 15,
	                  .session_idle_minutes = 30,
	                  .session_max_hours = 12};
	json_t *users = NULL;
	if (iam_load_pack(S, &pol, src_path("packs/demo-city"), &users, &e) != YZ_OK)
		die("cannot load the demo pack", &e);
	json_decref(users);
	if (calendar_seed(S, src_path("data/calendar/cn-notices.txt"), &e) != YZ_OK)
		die("cannot seed the calendar", &e);
	if (calendar_load(S, &CAL, &e) != YZ_OK)
		die("cannot load the calendar", &e);
	flow_env env = {.cal = CAL, .hours = calendar_default_hours()};
	flow_set_env(&env);
	int64_t rules_version = 0;
	if (supervise_rules_load_file(S, src_path("packs/demo-city/supervise/rules.json"),
	                              &rules_version, &e) != YZ_OK)
		die("cannot load the supervision rules", &e);
	flow_on_event(NULL, NULL);
	flow_on_event(flow_notify_event, NULL);
	flow_on_event(supervise_flow_event, NULL);
	json_error_t je;
	json_t *doc =
	    json_load_file(src_path("packs/demo-city/flows/approval.parallel3.json"), 0, &je);
	if (!doc) {
		say("approval.parallel3.json: %s", je.text);
		exit(1);
	}
	yz_actor sys = actor_system("bench");
	int version = 0;
	if (flow_def_load(S, &sys, doc, &version, &e) != YZ_OK)
		die("cannot load the approval definition", &e);
	json_decref(doc);
	store_conn *c;
	if (store_reader(S, &c, &e) != YZ_OK)
		die("no read connection", &e);
	for (int i = 0; i < NWHO; i++) {
		int64_t id = 0, org = 0;
		char path[256];
		if (iam_user_find(c, logins[i], &id, &org, path, sizeof path, &e) != YZ_OK)
			die(logins[i], &e);
		who[i] = actor_system("bench");
		who[i].user_id = id;
		who[i].org_id = org;
		who[i].kind = 1;
		yz_strlcpy(who[i].login, logins[i], sizeof who[i].login);
		yz_strlcpy(who[i].name, logins[i], sizeof who[i].name);
		who[i].scope = (yz_scope){0};
	}
	say("%s: demo city, calendar and %s loaded", store_kind_name(S), FLOW_KEY);
}

/* ---- one approval, step by step ---- */

/* What each handler sends, parsed once per thread (a command reads its
 * arguments and never changes them). */
typedef struct inputs {
	json_t *start, *accept, *review[3], *sign;
} inputs;

static json_t *parse(const char *text)
{
	json_error_t je;
	json_t *j = json_loads(text, 0, &je);
	if (!j) {
		say("bad JSON %s: %s", text, je.text);
		exit(1);
	}
	return j;
}

static void inputs_new(inputs *in)
{
	in->start = parse("{\"title\": \"花果园学校新建项目\", \"data\": {\"applicant\": "
	                  "\"贵阳某建设有限公司\", \"project\": \"花果园学校\", \"investment\": "
	                  "12000, \"phone\": \"0851-85551234\"}}");
	in->accept = parse("{\"outcome\": \"accept\"}");
	in->review[0] = parse("{\"data\": {\"fgw_opinion\": \"同意\"}}");
	in->review[1] = parse("{\"data\": {\"zrzy_opinion\": \"同意\"}}");
	in->review[2] = parse("{\"data\": {\"zjj_opinion\": \"同意\"}}");
	in->sign = parse("{\"outcome\": \"approve\"}");
}

static void inputs_free(inputs *in)
{
	json_decref(in->start);
	json_decref(in->accept);
	for (int i = 0; i < 3; i++)
		json_decref(in->review[i]);
	json_decref(in->sign);
}

typedef struct task_ref {
	int64_t instance, id;
	int8_t step; /* 0 accept, 1-3 fgw zrzy zjj, 4 sign */
} task_ref;

static int step_of(const char *s)
{
	static const char *const steps[] = {"accept", "fgw", "zrzy", "zjj", "sign"};
	for (int i = 0; i < 5; i++)
		if (!strcmp(s, steps[i]))
			return i;
	return -1;
}

/* The open tasks of an instance: what a handler's inbox shows. A read on
 * the thread's own connection (flow_instance_get would also build the
 * timeline; the HTTP client of a real handler reads its inbox). */
static int open_tasks(store_conn *c, int64_t instance, task_ref *out, int cap)
{
	store_rows *r;
	yz_err e = {0};
	store_val a[] = {sv_int(instance)};
	if (store_query(c,
	                "SELECT id, step FROM flow_token WHERE instance_id = ? AND status = "
	                "'active' AND kind = 'task' ORDER BY id",
	                a, 1, &r, &e) != YZ_OK)
		die("open tasks", &e);
	int n = 0;
	while (store_next(r) && n < cap) {
		out[n].instance = instance;
		out[n].id = store_col_int(r, 0);
		out[n].step = (int8_t)step_of(store_col_text(r, 1));
		if (out[n].step < 0)
			die("an unexpected step is open", NULL);
		n++;
	}
	if (store_rows_close(r, &e) != YZ_OK)
		die("open tasks", &e);
	return n;
}

static atomic_long ncommands;

/* Complete one task as its handler would; returns the latency in ms. */
static double complete(const inputs *in, const task_ref *t)
{
	static const int actor[] = {W_CLERK, W_FGW, W_ZRZY, W_ZJJ, W_LEADER};
	json_t *arg = t->step == 0 ? in->accept : t->step == 4 ? in->sign : in->review[t->step - 1];
	yz_err e = {0};
	double t0 = now_s();
	if (flow_command(S, &who[actor[t->step]], t->instance, t->id, FLOW_COMPLETE, arg, NULL,
	                 &e) != YZ_OK)
		die("complete", &e);
	double ms = (now_s() - t0) * 1000;
	atomic_fetch_add_explicit(&ncommands, 1, memory_order_relaxed);
	return ms;
}

static int64_t start_one(const inputs *in)
{
	yz_err e = {0};
	int64_t id = 0;
	double t0 = now_s();
	if (flow_start(S, &who[W_STARTER], FLOW_KEY, in->start, NULL, &id, &e) != YZ_OK)
		die("start", &e);
	lat_add((now_s() - t0) * 1000);
	atomic_fetch_add_explicit(&ncommands, 1, memory_order_relaxed);
	return id;
}

/* Start an approval and bring it to the parallel review (accept done);
 * the three review tasks go into out. */
static void to_review(const inputs *in, store_conn *c, task_ref out[3])
{
	int64_t id = start_one(in);
	task_ref t[4];
	if (open_tasks(c, id, t, 4) != 1 || t[0].step != 0)
		die("after start: not one accept task", NULL);
	lat_add(complete(in, &t[0]));
	if (open_tasks(c, id, out, 3) != 3)
		die("after accept: not three review tasks", NULL);
}

/* One approval from start to end: six commands. */
static void run_approval(const inputs *in, store_conn *c)
{
	task_ref t[4];
	to_review(in, c, t);
	for (int i = 0; i < 3; i++)
		lat_add(complete(in, &t[i]));
	task_ref s;
	if (open_tasks(c, t[0].instance, &s, 1) != 1 || s.step != 4)
		die("after the reviews: no sign task", NULL);
	lat_add(complete(in, &s));
	if (open_tasks(c, t[0].instance, &s, 1) != 0)
		die("after signing: tasks still open", NULL);
}

/* ---- threads ---- */

static atomic_int stop;
static atomic_long ninstances;
static atomic_long tickets;   /* instances still to run (state, setup) */
static atomic_bool unlimited; /* instances: run until told to stop */

static store_conn *thread_reader(void)
{
	store_conn *c;
	yz_err e = {0};
	if (store_reader(S, &c, &e) != YZ_OK)
		die("no read connection", &e);
	return c;
}

static bool take_ticket(void)
{
	if (atomic_load(&unlimited))
		return true;
	return atomic_fetch_sub(&tickets, 1) > 0;
}

static void *approval_worker(void *arg)
{
	(void)arg;
	inputs in;
	inputs_new(&in);
	store_conn *c = thread_reader();
	while (!atomic_load(&stop) && take_ticket()) {
		run_approval(&in, c);
		atomic_fetch_add(&ninstances, 1);
	}
	inputs_free(&in);
	return NULL;
}

static void run_threads(int n, void *(*fn)(void *), void *arg, pthread_t *th)
{
	for (int i = 0; i < n; i++)
		if (pthread_create(&th[i], NULL, fn, arg) != 0)
			die("cannot start a thread", NULL);
}

static void join_threads(int n, pthread_t *th)
{
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
}

static void batch_line(const store_stats *a, const store_stats *b)
{
	uint64_t batches = b->batches - a->batches, jobs = b->jobs - a->jobs;
	printf("result batch_mean %.1f\n", batches ? (double)jobs / (double)batches : 0.0);
	printf("result commits %llu\nresult jobs %llu\n", (unsigned long long)batches,
	       (unsigned long long)jobs);
	printf("result statements_per_job %.1f\n",
	       jobs ? (double)(b->writer_queries - a->writer_queries) / (double)jobs : 0.0);
}

/* ---- instances ---- */

static void mode_instances(void)
{
	setup();
	int n = O.clients;
	pthread_t *th = calloc((size_t)n, sizeof *th);
	lat_reset(8L << 20);
	atomic_store(&unlimited, true);
	run_threads(n, approval_worker, NULL, th);
	say("instances: %d clients, warm-up %.0f s", n, O.warmup);
	sleep_until(now_s() + O.warmup);
	double rate = 0, cmd_rate = 0, cpu_us = 0;
	char split[200] = "";
	store_stats s0, s1;
	for (int try = 0;; try++) {
		cpu_mark a, b;
		store_get_stats(S, &s0);
		atomic_store(&nlat, 0);
		long i0 = atomic_load(&ninstances), c0 = atomic_load(&ncommands);
		cpu_take(&a);
		atomic_store(&recording, 1);
		sleep_until(a.t + O.duration);
		atomic_store(&recording, 0);
		long i1 = atomic_load(&ninstances), c1 = atomic_load(&ncommands);
		cpu_take(&b);
		store_get_stats(S, &s1);
		double d = b.t - a.t;
		rate = (double)(i1 - i0) / d;
		cmd_rate = (double)(c1 - c0) / d;
		cpu_us = i1 > i0 ? cpu_self_s(&a, &b) * 1e6 / (double)(i1 - i0) : 0;
		bool disturbed;
		cpu_split(&a, &b, split, sizeof split, &disturbed);
		say("instances: %.1f/s, %.0f commands/s (%s)", rate, cmd_rate, split);
		if (!disturbed || try >= O.retries)
			break;
		say("instances: disturbed by other work; measuring again");
		printf("result retried 1\n");
	}
	atomic_store(&stop, 1);
	join_threads(n, th);
	free(th);
	double p50, p99, p999, max;
	lat_pct(&p50, &p99, &p999, &max);
	printf("result backend %s\n", store_kind_name(S));
	printf("result instances_per_s %.1f\n", rate);
	printf("result commands_per_s %.0f\n", cmd_rate);
	printf("result cpu_us_per_instance %.0f\n", cpu_us);
	printf("result cmd_p50_ms %.2f\nresult cmd_p99_ms %.2f\nresult cmd_max_ms %.1f\n", p50, p99,
	       max);
	batch_line(&s0, &s1);
	printf("result cpu %s\n", split);
}

/* ---- complete ---- */

static task_ref *pool;
static long npool, pool_cap;
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;

static void *review_maker(void *arg)
{
	(void)arg;
	inputs in;
	inputs_new(&in);
	store_conn *c = thread_reader();
	while (take_ticket()) {
		task_ref t[3];
		to_review(&in, c, t);
		pthread_mutex_lock(&pool_mu);
		for (int i = 0; i < 3 && npool < pool_cap; i++)
			pool[npool++] = t[i];
		pthread_mutex_unlock(&pool_mu);
	}
	inputs_free(&in);
	return NULL;
}

/* Bring k more instances to the review; their tasks join the pool, which is
 * then shuffled from `from` on (departments work independently). */
static void make_reviews(long k, int threads)
{
	long from = npool;
	if (npool + 3 * k > pool_cap) {
		pool_cap = npool + 3 * k;
		task_ref *p = realloc(pool, sizeof *p * (size_t)pool_cap);
		if (!p)
			die("out of memory for tasks", NULL);
		pool = p;
	}
	double t0 = now_s();
	atomic_store(&unlimited, false);
	atomic_store(&tickets, k);
	pthread_t *th = calloc((size_t)threads, sizeof *th);
	run_threads(threads, review_maker, NULL, th);
	join_threads(threads, th);
	free(th);
	uint64_t x = 0x9E3779B97F4A7C15ULL ^ (uint64_t)from;
	for (long i = npool - 1; i > from; i--) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		long j = from + (long)(x % (uint64_t)(i - from + 1));
		task_ref tmp = pool[i];
		pool[i] = pool[j];
		pool[j] = tmp;
	}
	say("complete: %ld instances brought to the review in %.1f s (%ld open tasks)", k,
	    now_s() - t0, npool - from);
}

static atomic_long next_task;
static long task_end;

static void *completer(void *arg)
{
	(void)arg;
	inputs in;
	inputs_new(&in);
	long i;
	while (!atomic_load(&stop) && (i = atomic_fetch_add(&next_task, 1)) < task_end)
		lat_add(complete(&in, &pool[i]));
	inputs_free(&in);
	return NULL;
}

/* Open loop: completion i is due at t0 + i/rate, whoever is free takes it;
 * its latency counts from when it was due. */
static double pace_t0, pace_rate, pace_measure_from, pace_end;
static long pace_base;
static atomic_long paced_done;

static void *pacer(void *arg)
{
	(void)arg;
	inputs in;
	inputs_new(&in);
	for (;;) {
		long i = atomic_fetch_add(&next_task, 1);
		if (i >= task_end)
			break;
		double due = pace_t0 + (double)(i - pace_base) / pace_rate;
		if (due >= pace_end)
			break;
		sleep_until(due);
		complete(&in, &pool[i]);
		double done = now_s();
		if (due >= pace_measure_from) {
			long k = atomic_fetch_add(&nlat, 1);
			if (k < lat_cap)
				lat_ms[k] = (float)((done - due) * 1000);
			atomic_fetch_add(&paced_done, 1);
		}
	}
	inputs_free(&in);
	return NULL;
}

static void mode_complete(void)
{
	setup();
	/* enough tasks for the maximum run at up to 30,000/s; fewer only
	 * shorten its window (said so) */
	double span = O.warmup + O.duration;
	long want = (long)(30000 * span / 3) + 1000;
	say("complete: bringing %ld approvals to the parallel review (3 open tasks each)", want);
	make_reviews(want, O.clients);

	/* 1. as fast as they go */
	int n = O.clients;
	pthread_t *th = calloc((size_t)(n > 256 ? n : 256), sizeof *th);
	lat_reset(4L << 20);
	atomic_store(&next_task, 0);
	task_end = npool;
	atomic_store(&stop, 0);
	run_threads(n, completer, NULL, th);
	sleep_until(now_s() + O.warmup);
	cpu_mark a, b;
	store_stats s0, s1;
	store_get_stats(S, &s0);
	long c0 = atomic_load(&ncommands);
	cpu_take(&a);
	atomic_store(&recording, 1);
	while (now_s() < a.t + O.duration && atomic_load(&next_task) < task_end)
		sleep_until(now_s() + 0.05);
	atomic_store(&recording, 0);
	long c1 = atomic_load(&ncommands);
	cpu_take(&b);
	store_get_stats(S, &s1);
	atomic_store(&stop, 1);
	join_threads(n, th);
	double d = b.t - a.t, rate = (double)(c1 - c0) / d;
	char split[200];
	bool disturbed;
	cpu_split(&a, &b, split, sizeof split, &disturbed);
	double p50, p99, p999, max;
	lat_pct(&p50, &p99, &p999, &max);
	if (d < O.duration * 0.9)
		say("complete: the pool of tasks ran out after %.1f s", d);
	say("complete: %.0f completions/s over %.1f s, p50 %.2f ms, p99 %.2f ms (%s)", rate, d, p50,
	    p99, split);
	printf("result backend %s\n", store_kind_name(S));
	printf("result completions_per_s %.0f\n", rate);
	printf("result window_s %.1f\n", d);
	printf("result cpu_us_per_completion %.1f\n",
	       c1 > c0 ? cpu_self_s(&a, &b) * 1e6 / (double)(c1 - c0) : 0);
	printf("result closed_p50_ms %.2f\nresult closed_p99_ms %.2f\n", p50, p99);
	if (c1 > c0 && a.written >= 0 && b.written >= a.written)
		printf("result written_kb_per_completion %.1f\n",
		       (double)(b.written - a.written) / 1024.0 / (double)(c1 - c0));
	batch_line(&s0, &s1);
	printf("result cpu %s\n", split);

	/* 2. paced at half that (or --rate), open loop */
	pace_rate = O.rate > 0 ? O.rate : rate / 2;
	if (pace_rate < 1)
		pace_rate = 1;
	long left = npool - atomic_load(&next_task);
	if (left < 0)
		left = 0;
	long need = (long)(pace_rate * span * 1.05) + 100;
	if (need > left) {
		say("complete: bringing %ld more approvals to the review for the paced run",
		    (need - left) / 3 + 1);
		make_reviews((need - left) / 3 + 1, O.clients);
	}
	long base = atomic_load(&next_task);
	if (base > npool)
		base = npool;
	atomic_store(&next_task, base);
	pace_base = base;
	task_end = npool;
	lat_reset(4L << 20);
	atomic_store(&paced_done, 0);
	int np = 256;
	pace_t0 = now_s() + 0.2;
	pace_measure_from = pace_t0 + O.warmup;
	pace_end = pace_measure_from + O.duration;
	say("complete: paced at %.0f completions/s, %d handlers, open loop", pace_rate, np);
	store_get_stats(S, &s0);
	run_threads(np, pacer, NULL, th);
	sleep_until(pace_measure_from);
	cpu_take(&a);
	join_threads(np, th);
	cpu_take(&b);
	store_get_stats(S, &s1);
	free(th);
	cpu_split(&a, &b, split, sizeof split, &disturbed);
	long got = atomic_load(&paced_done);
	lat_pct(&p50, &p99, &p999, &max);
	say("complete: paced %.0f/s asked, %.0f/s done: p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, "
	    "max %.1f ms (%s)",
	    pace_rate, (double)got / O.duration, p50, p99, p999, max, split);
	printf("result paced_rate %.0f\n", pace_rate);
	printf("result paced_done_per_s %.0f\n", (double)got / O.duration);
	printf("result paced_p50_ms %.2f\nresult paced_p99_ms %.2f\nresult paced_p999_ms %.2f\n"
	       "result paced_max_ms %.1f\n",
	       p50, p99, p999, max);
	printf("result paced_cpu %s\n", split);
}

/* ---- sweep ---- */

typedef struct clone_job {
	int64_t k, di, dt, dg, dm, shift;
	int64_t mi, mt, mg, mm;
} clone_job;

/* Copy of the template's rows, ids shifted by k times the template's
 * largest id; deadlines spread by a minute per copy. */
static yz_status clone_fn(store_conn *tx, void *arg, yz_err *e)
{
	clone_job *j = arg;
	int64_t di = j->k * j->di, dt = j->k * j->dt, dg = j->k * j->dg, dm = j->k * j->dm,
	        sh = j->k * j->shift;
	store_val a[] = {sv_int(di), sv_int(j->mi)};
	yz_status st = store_exec(
	    tx,
	    "INSERT INTO flow_instance (id, def_key, def_version, title, status, outcome, data, "
	    "starter_id, starter_org_path, org_path, parent_id, parent_token, started_at, "
	    "closed_at, due_at, statutory_at, suspended_at, suspend_kind, suspended_ms, "
	    "extended_days, shift_days, seq) SELECT id + ?, def_key, def_version, title, status, "
	    "outcome, data, starter_id, starter_org_path, org_path, parent_id, parent_token, "
	    "started_at, closed_at, due_at, statutory_at, suspended_at, suspend_kind, "
	    "suspended_ms, extended_days, shift_days, seq FROM flow_instance WHERE id <= ?",
	    a, 2, e);
	store_val b[] = {sv_int(dt), sv_int(di), sv_int(dg), sv_int(dt), sv_int(j->mt)};
	if (st == YZ_OK)
		st = store_exec(
		    tx,
		    "INSERT INTO flow_token (id, instance_id, step, kind, status, grp, prev_token, "
		    "cand_role, cand_org_path, cand_dept_path, cand_user, assignee, created_at, "
		    "due_at, shift_days, overdue, done_at, done_by, outcome, child_id) SELECT id + "
		    "?, instance_id + ?, step, kind, status, grp + ?, prev_token + ?, cand_role, "
		    "cand_org_path, cand_dept_path, cand_user, assignee, created_at, due_at, "
		    "shift_days, overdue, done_at, done_by, outcome, child_id FROM flow_token "
		    "WHERE "
		    "id <= ?",
		    b, 5, e);
	store_val g[] = {sv_int(dg), sv_int(di), sv_int(dg), sv_int(j->mg)};
	if (st == YZ_OK)
		st = store_exec(
		    tx,
		    "INSERT INTO flow_group (id, instance_id, split, join_step, parent_grp, "
		    "branches, need, arrived, fired) SELECT id + ?, instance_id + ?, split, "
		    "join_step, parent_grp + ?, branches, need, arrived, fired FROM flow_group "
		    "WHERE id <= ?",
		    g, 4, e);
	store_val m[] = {sv_int(dm), sv_int(di), sv_int(dt), sv_int(sh), sv_int(j->mm)};
	if (st == YZ_OK)
		st = store_exec(tx,
		                "INSERT INTO flow_timer (id, instance_id, token_id, kind, due_at, "
		                "fired_at) SELECT id + ?, instance_id + ?, token_id + ?, kind, "
		                "due_at + ?, fired_at FROM flow_timer WHERE id <= ?",
		                m, 5, e);
	return st;
}

static int64_t q_int(store_conn *c, const char *sql, const store_val *a, int n)
{
	int64_t v = 0;
	yz_err e = {0};
	if (store_query_int(c, sql, a, n, &v, &e) != YZ_OK)
		die(sql, &e);
	return v;
}

typedef struct due_job {
	int64_t at;
	long n;
} due_job;

static yz_status make_due_fn(store_conn *tx, void *arg, yz_err *e)
{
	due_job *j = arg;
	store_val a[] = {sv_int(j->at), sv_int(j->n)};
	return store_exec(tx,
	                  "UPDATE flow_timer SET due_at = ? WHERE id IN (SELECT id FROM "
	                  "flow_timer WHERE fired_at IS NULL ORDER BY random() LIMIT ?)",
	                  a, 2, e);
}

static int by_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void mode_sweep(void)
{
	setup();
	store_conn *c = thread_reader();
	/* the template: instances at the review, through the engine */
	long tmpl = 1000;
	make_reviews(tmpl, O.clients);
	int64_t per = q_int(c, "SELECT COUNT(*) FROM flow_timer WHERE fired_at IS NULL", NULL, 0);
	if (per <= 0)
		die("the template has no pending timers", NULL);
	clone_job j = {
	    .di = q_int(c, "SELECT MAX(id) FROM flow_instance", NULL, 0),
	    .dt = q_int(c, "SELECT MAX(id) FROM flow_token", NULL, 0),
	    .dg = q_int(c, "SELECT MAX(id) FROM flow_group", NULL, 0),
	    .dm = q_int(c, "SELECT MAX(id) FROM flow_timer", NULL, 0),
	    .shift = 60000,
	};
	j.mi = j.di;
	j.mt = j.dt;
	j.mg = j.dg;
	j.mm = j.dm;
	long copies = (O.open + per - 1) / per;
	say("sweep: %lld pending timers in %ld template instances; %ld copies of their rows",
	    (long long)per, tmpl, copies - 1);
	double t0 = now_s();
	for (long k = 1; k < copies; k++) {
		j.k = k;
		yz_err e = {0};
		if (store_write(S, clone_fn, &j, &e) != YZ_OK)
			die("copying the template", &e);
	}
	int64_t pending =
	    q_int(c, "SELECT COUNT(*) FROM flow_timer WHERE fired_at IS NULL", NULL, 0);
	int64_t open_tasks_n =
	    q_int(c, "SELECT COUNT(*) FROM flow_token WHERE status = 'active' AND kind = 'task'",
	          NULL, 0);
	int64_t open_inst =
	    q_int(c, "SELECT COUNT(*) FROM flow_instance WHERE status = 'open'", NULL, 0);
	say("sweep: %lld pending timers of %lld open tasks in %lld open instances (%.1f s)",
	    (long long)pending, (long long)open_tasks_n, (long long)open_inst, now_s() - t0);

	/* (i) a pass when nothing is due */
	int64_t now = clock_now_ms();
	store_val nv[] = {sv_int(now)};
	if (q_int(c, "SELECT COUNT(*) FROM flow_timer WHERE fired_at IS NULL AND due_at <= ?", nv,
	          1) != 0)
		die("timers are due before the measurement", NULL);
	double idle[21];
	for (int i = 0; i < 21; i++) {
		int fired = 0;
		yz_err e = {0};
		double s = now_s();
		if (flow_sweep(S, clock_now_ms(), 1000, &fired, &e) != YZ_OK)
			die("sweep", &e);
		idle[i] = (now_s() - s) * 1000;
		if (fired)
			die("a sweep fired timers when none was due", NULL);
	}
	qsort(idle, 21, sizeof idle[0], by_double);

	/* (ii) --due of them come due now: fire them all */
	now = clock_now_ms();
	due_job dj = {.at = now - 1000, .n = O.due};
	yz_err e = {0};
	if (store_write(S, make_due_fn, &dj, &e) != YZ_OK)
		die("making timers due", &e);
	store_val nv2[] = {sv_int(now)};
	int64_t due = q_int(
	    c, "SELECT COUNT(*) FROM flow_timer WHERE fired_at IS NULL AND due_at <= ?", nv2, 1);
	char kinds[400] = "";
	{
		store_rows *r;
		if (store_query(c,
		                "SELECT kind, COUNT(*) FROM flow_timer WHERE fired_at IS NULL AND "
		                "due_at <= ? GROUP BY kind ORDER BY kind",
		                nv2, 1, &r, &e) != YZ_OK)
			die("kinds", &e);
		while (store_next(r)) {
			size_t l = strlen(kinds);
			snprintf(kinds + l, sizeof kinds - l, "%s%s %lld", l ? ", " : "",
			         store_col_text(r, 0), (long long)store_col_int(r, 1));
		}
		if (store_rows_close(r, &e) != YZ_OK)
			die("kinds", &e);
	}
	say("sweep: %lld timers due now (%s)", (long long)due, kinds);
	store_stats s0, s1;
	store_get_stats(S, &s0);
	cpu_mark a, b;
	cpu_take(&a);
	long fired_total = 0;
	int passes = 0;
	for (;;) {
		int fired = 0;
		if (flow_sweep(S, now, 1000, &fired, &e) != YZ_OK)
			die("sweep", &e);
		fired_total += fired;
		passes++;
		if (fired < 1000)
			break;
	}
	cpu_take(&b);
	store_get_stats(S, &s1);
	double fire_s = b.t - a.t;
	char split[200];
	bool disturbed;
	cpu_split(&a, &b, split, sizeof split, &disturbed);
	int64_t left = q_int(
	    c, "SELECT COUNT(*) FROM flow_timer WHERE fired_at IS NULL AND due_at <= ?", nv2, 1);
	say("sweep: fired %ld in %.3f s (%d passes; %lld still due) (%s)", fired_total, fire_s,
	    passes, (long long)left, split);
	printf("result pending %lld\n", (long long)pending);
	printf("result open_tasks %lld\n", (long long)open_tasks_n);
	printf("result idle_pass_ms %.3f\nresult idle_pass_max_ms %.3f\n", idle[10], idle[20]);
	printf("result due %lld\n", (long long)due);
	printf("result due_kinds %s\n", kinds);
	printf("result fired %ld\n", fired_total);
	printf("result fire_s %.3f\n", fire_s);
	printf("result fire_per_s %.0f\n", fire_s > 0 ? (double)fired_total / fire_s : 0);
	printf("result passes %d\n", passes);
	batch_line(&s0, &s1);
	printf("result cpu %s\n", split);
}

/* ---- state ---- */

static const char *const state_tables[] = {"flow_instance", "flow_token",   "flow_group",
                                           "flow_timer",    "flow_command", "flow_cc"};

typedef struct obj_size {
	char name[64], table[64];
	int64_t bytes, used, rows;
} obj_size;

/* Sizes of every table and index (dbstat), into out; returns how many. */
static int sqlite_sizes(store_conn *c, obj_size *out, int cap)
{
	store_rows *r;
	yz_err e = {0};
	if (store_query(c,
	                "SELECT d.name, m.tbl_name, SUM(d.pgsize), SUM(d.pgsize - d.unused), "
	                "SUM(d.ncell) FROM dbstat d JOIN sqlite_schema m ON m.name = d.name "
	                "GROUP BY d.name ORDER BY d.name",
	                NULL, 0, &r, &e) != YZ_OK) {
		say("dbstat is not available in this SQLite (%s)", e.msg);
		return -1;
	}
	int n = 0;
	while (store_next(r) && n < cap) {
		yz_strlcpy(out[n].name, store_col_text(r, 0), sizeof out[n].name);
		yz_strlcpy(out[n].table, store_col_text(r, 1), sizeof out[n].table);
		out[n].bytes = store_col_int(r, 2);
		out[n].used = store_col_int(r, 3);
		out[n].rows = store_col_int(r, 4);
		n++;
	}
	if (store_rows_close(r, &e) != YZ_OK)
		die("dbstat", &e);
	return n;
}

static bool is_state_table(const char *t)
{
	for (size_t i = 0; i < sizeof state_tables / sizeof state_tables[0]; i++)
		if (!strcmp(t, state_tables[i]))
			return true;
	return false;
}

static int64_t before_of(const obj_size *b, int nb, const char *name, bool used)
{
	for (int i = 0; i < nb; i++)
		if (!strcmp(b[i].name, name))
			return used ? b[i].used : b[i].bytes;
	return 0;
}

static void mode_state(void)
{
	setup();
	if (is_pg()) {
		say("state: measured on SQLite only (dbstat)");
		exit(0);
	}
	store_conn *c = thread_reader();
	static obj_size before[512], after[512];
	int nb = sqlite_sizes(c, before, 512);
	int k = O.instances;
	say("state: running %d approvals to the end", k);
	atomic_store(&unlimited, false);
	atomic_store(&tickets, k);
	int n = O.clients;
	pthread_t *th = calloc((size_t)n, sizeof *th);
	lat_reset(1024);
	double t0 = now_s();
	run_threads(n, approval_worker, NULL, th);
	join_threads(n, th);
	free(th);
	say("state: %ld approvals closed in %.1f s", atomic_load(&ninstances), now_s() - t0);
	int64_t closed =
	    q_int(c, "SELECT COUNT(*) FROM flow_instance WHERE status = 'closed'", NULL, 0);
	if (closed != k)
		die("not every approval closed", NULL);
	if (nb < 0) {
		printf("result state_bytes_per_instance n/a\n");
		return;
	}
	int na = sqlite_sizes(c, after, 512);
	int64_t state = 0, state_used = 0, hist = 0, audit = 0, notif = 0, other = 0;
	say("state: per closed instance, bytes in pages (bytes in use), rows:");
	for (int i = 0; i < na; i++) {
		int64_t d = after[i].bytes - before_of(before, nb, after[i].name, false);
		int64_t u = after[i].used - before_of(before, nb, after[i].name, true);
		if (is_state_table(after[i].table)) {
			state += d;
			state_used += u;
			say("  %-28s %7.0f (%5.0f)  %s", after[i].name, (double)d / k,
			    (double)u / k, after[i].table);
		} else if (!strncmp(after[i].table, "flow_history_", 13)) {
			hist += d;
		} else if (!strncmp(after[i].table, "audit", 5)) {
			audit += d;
		} else if (!strncmp(after[i].table, "notify", 6)) {
			notif += d;
		} else {
			other += d;
		}
	}
	say("state: %.0f bytes per closed instance in the state tables (%.0f in use); kept apart: "
	    "history %.0f, audit %.0f, notifications %.0f, other %.0f",
	    (double)state / k, (double)state_used / k, (double)hist / k, (double)audit / k,
	    (double)notif / k, (double)other / k);
	printf("result instances %d\n", k);
	printf("result state_bytes_per_instance %.0f\n", (double)state / k);
	printf("result state_used_bytes_per_instance %.0f\n", (double)state_used / k);
	printf("result history_bytes_per_instance %.0f\n", (double)hist / k);
	printf("result audit_bytes_per_instance %.0f\n", (double)audit / k);
	printf("result notify_bytes_per_instance %.0f\n", (double)notif / k);
}

/* ---- main ---- */

static void usage(void)
{
	fprintf(stderr, "usage: flow_bench instances|complete|sweep|state [--db URL] [--dir DIR] "
	                "[--source DIR]\n"
	                "       [--clients N] [--duration S] [--warmup S] [--rate R] [--open N] "
	                "[--due N]\n"
	                "       [--instances K] [--retries N]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	O.mode = argv[1];
	for (int i = 2; i < argc; i++) {
		const char *k = argv[i];
		if (i + 1 >= argc)
			usage();
		const char *v = argv[++i];
		char *end = NULL;
		double num = strtod(v, &end);
		bool isnum = end && end != v && !*end;
		if (!strcmp(k, "--db"))
			O.db = v;
		else if (!strcmp(k, "--dir"))
			O.dir = v;
		else if (!strcmp(k, "--source"))
			O.root = v;
		else if (!isnum || num < 0)
			usage();
		else if (!strcmp(k, "--clients"))
			O.clients = (int)num;
		else if (!strcmp(k, "--duration"))
			O.duration = num;
		else if (!strcmp(k, "--warmup"))
			O.warmup = num;
		else if (!strcmp(k, "--rate"))
			O.rate = num;
		else if (!strcmp(k, "--open"))
			O.open = (long)num;
		else if (!strcmp(k, "--due"))
			O.due = (long)num;
		else if (!strcmp(k, "--instances"))
			O.instances = (int)num;
		else if (!strcmp(k, "--retries"))
			O.retries = (int)num;
		else
			usage();
	}
	if (O.clients < 1 || O.duration <= 0 || O.instances < 1)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(O.mode, "instances"))
		mode_instances();
	else if (!strcmp(O.mode, "complete"))
		mode_complete();
	else if (!strcmp(O.mode, "sweep"))
		mode_sweep();
	else if (!strcmp(O.mode, "state"))
		mode_state();
	else
		usage();
	flow_on_event(NULL, NULL);
	flow_defs_clear();
	cleanup();
	calendar_free(CAL);
	return 0;
}
