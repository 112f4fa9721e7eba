/*
 * metrics.c — per-route request counters by status and a latency histogram,
 * written as Prometheus text at /metrics. Counters are atomics updated when a
 * response is sent; nothing is locked on the request path.
 */
#include <stdio.h>
#include <string.h>

#include "http/http_int.h"

const int http_status_slots[HTTP_STATUS_SLOTS - 1] = {
    200, 201, 204, 301, 302, 303, 304, 400, 401, 403, 404, 405, 409, 413, 422, 423, 429, 500, 503};
const double http_lat_bounds[HTTP_LAT_BUCKETS] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                  0.05,   0.1,   0.25,   0.5,   1.0,  -1};

static int status_slot(int status)
{
	for (int i = 0; i < HTTP_STATUS_SLOTS - 1; i++)
		if (http_status_slots[i] == status)
			return i;
	return HTTP_STATUS_SLOTS - 1;
}

void http_metrics_record(http_server *s, route *rt, int status, uint64_t dur_ns)
{
	route_stats *st = rt ? &rt->stats : &s->unmatched;
	atomic_fetch_add_explicit(&st->by_status[status_slot(status)], 1, memory_order_relaxed);
	double sec = (double)dur_ns / 1e9;
	int b = 0;
	while (b < HTTP_LAT_BUCKETS - 1 && sec > http_lat_bounds[b])
		b++;
	atomic_fetch_add_explicit(&st->lat[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&st->lat_sum_us, dur_ns / 1000, memory_order_relaxed);
}

static void write_route(buf *b, const char *label, const route_stats *st, yz_status *ok)
{
	for (int i = 0; i < HTTP_STATUS_SLOTS; i++) {
		uint64_t n = atomic_load(&st->by_status[i]);
		if (!n)
			continue;
		char code[8];
		if (i < HTTP_STATUS_SLOTS - 1)
			snprintf(code, sizeof code, "%d", http_status_slots[i]);
		else
			snprintf(code, sizeof code, "other");
		BUF_TRY(*ok, buf_printf(
		                 b, "yizhan_http_requests_total{route=\"%s\",status=\"%s\"} %llu\n",
		                 label, code, (unsigned long long)n));
	}
}

static void write_latency(buf *b, const char *label, const route_stats *st, yz_status *ok)
{
	uint64_t cum = 0;
	for (int i = 0; i < HTTP_LAT_BUCKETS; i++) {
		cum += atomic_load(&st->lat[i]);
		if (http_lat_bounds[i] < 0)
			BUF_TRY(*ok, buf_printf(
			                 b,
			                 "yizhan_http_request_duration_seconds_bucket{route=\"%s\","
			                 "le=\"+Inf\"} %llu\n",
			                 label, (unsigned long long)cum));
		else
			BUF_TRY(*ok, buf_printf(
			                 b,
			                 "yizhan_http_request_duration_seconds_bucket{route=\"%s\","
			                 "le=\"%g\"} %llu\n",
			                 label, http_lat_bounds[i], (unsigned long long)cum));
	}
	BUF_TRY(*ok, buf_printf(b, "yizhan_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n",
	                        label, (double)atomic_load(&st->lat_sum_us) / 1e6));
	BUF_TRY(*ok,
	        buf_printf(b, "yizhan_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
	                   label, (unsigned long long)cum));
}

static bool has_traffic(const route_stats *st)
{
	for (int i = 0; i < HTTP_STATUS_SLOTS; i++)
		if (atomic_load(&st->by_status[i]))
			return true;
	return false;
}

yz_status http_metrics_handler(http_req *r, yz_err *e)
{
	http_server *s = r->srv;
	buf b;
	buf_init(&b, 8u << 20);
	yz_status ok = YZ_OK;
	BUF_TRY(ok, buf_puts(
	                &b, "# HELP yizhan_http_requests_total HTTP requests by route and status.\n"
	                    "# TYPE yizhan_http_requests_total counter\n"));
	for (int i = 0; i < s->nroutes; i++)
		write_route(&b, s->routes[i].label, &s->routes[i].stats, &ok);
	write_route(&b, "unmatched", &s->unmatched, &ok);
	BUF_TRY(ok,
	        buf_puts(&b, "# HELP yizhan_http_request_duration_seconds Time from request to "
	                     "response.\n# TYPE yizhan_http_request_duration_seconds histogram\n"));
	for (int i = 0; i < s->nroutes; i++)
		if (has_traffic(&s->routes[i].stats))
			write_latency(&b, s->routes[i].label, &s->routes[i].stats, &ok);
	BUF_TRY(ok, buf_printf(&b,
	                       "# HELP yizhan_http_in_flight Requests being handled now.\n"
	                       "# TYPE yizhan_http_in_flight gauge\nyizhan_http_in_flight %llu\n",
	                       (unsigned long long)atomic_load(&s->in_flight)));
	if (s->metrics_extra)
		s->metrics_extra(s->metrics_ctx, &b);
	if (ok != YZ_OK) {
		buf_free(&b);
		return yz_fail(e, ok, "the metrics text is too large");
	}
	http_reply_text(r, 200, "text/plain; version=0.0.4; charset=utf-8", buf_str(&b), b.len);
	buf_free(&b);
	return YZ_OK;
}

void http_set_metrics_extra(http_server *s, http_metrics_fn fn, void *ctx)
{
	s->metrics_extra = fn;
	s->metrics_ctx = ctx;
}
