/*
 * http_int.h — structures shared by the files of the http module (server.c,
 * router.c, request.c, response.c, static.c, metrics.c). Not for others.
 */
#ifndef YZ_HTTP_INT_H
#define YZ_HTTP_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "http/http.h"

struct evhttp_request;
struct event_base;
struct evhttp;

#define HTTP_MAX_SEGMENTS    16
#define HTTP_MAX_PARAMS      8
#define HTTP_MAX_HEADERS     64
#define HTTP_MAX_OUT_HEADERS 24
#define HTTP_DEFAULT_BODY    (1u << 20)
#define HTTP_MAX_RESPONSE    ((size_t)64 << 20)

/* Status codes counted one by one in metrics; others go to "other". */
#define HTTP_STATUS_SLOTS 20
extern const int http_status_slots[HTTP_STATUS_SLOTS - 1];
#define HTTP_LAT_BUCKETS 12
extern const double http_lat_bounds[HTTP_LAT_BUCKETS]; /* seconds; last is +Inf */

typedef struct route_stats {
	_Atomic uint64_t by_status[HTTP_STATUS_SLOTS];
	_Atomic uint64_t lat[HTTP_LAT_BUCKETS];
	_Atomic uint64_t lat_sum_us;
} route_stats;

typedef struct seg {
	const char *text; /* literal, or the parameter name */
	size_t len;
	bool param;
	bool rest; /* {name...}: the rest of the path */
} seg;

typedef struct route {
	http_route r;
	char *pattern; /* owned copy */
	seg segs[HTTP_MAX_SEGMENTS];
	int nsegs;
	route_stats stats;
	char label[160]; /* "GET /api/v1/users/{id}" for logs and metrics */
} route;

typedef struct static_file {
	char *path; /* relative to static/, e.g. "css/site.css" */
	unsigned char *data;
	size_t len;
	char etag[24];
	const char *type;
} static_file;

typedef struct io_thread io_thread;

struct http_server {
	const yz_config *cfg;
	void *app;
	char web_dir[CONF_PATH_MAX];
	json_t *site;
	tmpl_set *tmpl;
	http_auth_hooks auth;
	bool has_auth;

	route *routes;
	int nroutes, cap_routes;
	http_nav *nav;
	int nnav;

	static_file *files;
	size_t nfiles;

	http_metrics_fn metrics_extra;
	void *metrics_ctx;
	bool inline_reads;
	http_ready_fn ready;
	void *ready_ctx;
	route_stats unmatched; /* requests that matched no route */

	/* threads */
	int listen_fd;
	int port;
	int tls_fd; /* -1 without TLS */
	int tls_port;
	struct ssl_ctx_st *tls_ctx;
	io_thread *io;
	int nio;
	pthread_t *workers;
	int nworkers;
	pthread_mutex_t q_mu;
	pthread_cond_t q_cv;
	http_req *q_head, *q_tail;
	bool stopping;
	pthread_mutex_t stop_mu;
	pthread_cond_t stop_cv;
	bool stopped;
	char rid_prefix[12];
	_Atomic uint64_t rid_counter;
	_Atomic uint64_t in_flight;
};

typedef struct kv {
	const char *name;
	const char *value;
} kv;

struct http_req {
	http_server *srv;
	io_thread *io; /* the loop that owns the connection (and the pool it returns to) */
	struct evhttp_request *ev;
	struct event_base *base;
	arena *a;
	http_req *next_q;
	uint64_t t0;

	unsigned method;
	const char *method_name;
	char *uri;
	char *path;
	const char *query_raw;
	kv headers[HTTP_MAX_HEADERS];
	int nheaders;
	const char *body;
	size_t body_len;
	char peer[48];
	bool tls;                   /* arrived on the HTTPS listener */
	unsigned char *client_cert; /* DER of the TLS client certificate (arena), or NULL */
	size_t client_cert_len;

	route *route;
	const char *param_names[HTTP_MAX_PARAMS];
	const char *param_values[HTTP_MAX_PARAMS];
	int nparams;
	unsigned allowed_methods; /* for 405 */

	form query;
	bool query_parsed;
	const form *form;
	bool form_parsed;
	yz_status form_status;
	yz_err form_err;
	cookie_pair *cookies;
	size_t ncookies;
	bool cookies_parsed;

	http_user user;
	bool signed_in;
	yz_actor actor;
	const char *lang;
	bool elder;
	char csrf_anon[48]; /* double-submit token for signed-out forms */
	bool set_csrf_cookie;

	/* response */
	bool deferred;     /* http_defer: the answer comes through http_resume */
	_Atomic int holds; /* deferred: the dispatcher's and http_resume's; the last one sends */
	int status;
	bool replied;
	kv out_headers[HTTP_MAX_OUT_HEADERS];
	int nout;
	buf out;
	const char *content_type;
	bool cacheable; /* static file: do not add no-store */
};

/* router.c */
yz_status http_router_compile(route *rt, yz_err *e);
route *http_router_match(http_server *s, http_req *r);

/* request.c */
void http_req_parse_cookies(http_req *r);
const char *http_req_header_raw(http_req *r, const char *name);

/* response.c */
void http_finish_response(http_req *r);
void http_default_error_page(http_req *r, const yz_err *e);
int http_status_of(const yz_err *e);
void http_cookie_internal(http_req *r, const char *name, const char *value, long max_age);

/* static.c */
yz_status http_static_load(http_server *s, const char *dir, yz_err *e);
void http_static_free(http_server *s);
yz_status http_static_handler(http_req *r, yz_err *e);

/* metrics.c */
void http_metrics_record(http_server *s, route *rt, int status, uint64_t dur_ns);
yz_status http_metrics_handler(http_req *r, yz_err *e);

/* openapi.c */
yz_status http_openapi_handler(http_req *r, yz_err *e);

/* server.c */
yz_status http_dispatch_guarded(http_req *r);

#endif
