/*
 * bench.c — a route for `make bench` only (enabled by --bench-routes): one
 * durable row per request through the group-commit writer, so the writer
 * can be compared with pgbench's single-row inserts. Not a platform feature;
 * never enabled in production. Owns the table bench_row.
 */
#include "app.h"
#include "core/clock.h"
#include "core/jx.h"
#include "store/store.h"

const store_migration bench_migrations[] = {
    {1, "CREATE TABLE bench_row (id {{id}}, at BIGINT NOT NULL, note TEXT NOT NULL)"},
};
const int bench_nmigrations = 1;

typedef struct row_job {
	const char *note;
	int64_t id;
	http_req *r; /* answered when the row is durable */
} row_job;

static yz_status insert_row(store_conn *tx, void *arg, yz_err *e)
{
	row_job *j = arg;
	store_val a[] = {sv_int(clock_now_ms()), sv_text(j->note)};
	return store_query_int(tx, "INSERT INTO bench_row (at, note) VALUES (?, ?) RETURNING id", a,
	                       2, &j->id, e);
}

/* Called on the writer thread once the row is durable (or not). */
static void row_done(void *arg, yz_status st, const yz_err *e)
{
	row_job *j = arg;
	if (st == YZ_OK)
		http_reply_json(j->r, 201, json_pack("{s:I}", "id", (json_int_t)j->id));
	else
		http_reply_error(j->r, e);
	http_resume(j->r);
}

/* The event loop never waits: the row goes to the group-commit writer and the
 * answer follows its commit. */
static yz_status bench_rows(http_req *r, yz_err *e)
{
	yz_app *app = http_app(r);
	row_job *j = arena_zalloc(http_arena(r), sizeof *j);
	if (!j)
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	j->note = http_request_id(r);
	j->r = r;
	/* defer before handing r over: the answer may come before we return */
	http_defer(r);
	yz_err qe = {0};
	if (store_write_then(app->db, insert_row, j, row_done, j, &qe) != YZ_OK) {
		http_reply_error(r, &qe);
		http_resume(r);
	}
	(void)e;
	return YZ_OK;
}

yz_status bench_routes(yz_app *app, yz_err *e)
{
	if (!app->cfg.bench_routes)
		return YZ_OK;
	static const http_route rt = {HTTP_POST,
	                              "/api/v1/bench/rows",
	                              bench_rows,
	                              HTTP_PUBLIC,
	                              HTTP_SCOPE_NONE,
	                              HTTP_NO_CSRF | HTTP_ASYNC,
	                              1024,
	                              "Benchmark only (--bench-routes): insert one durable row"};
	return http_route_add(app->http, &rt, e);
}
