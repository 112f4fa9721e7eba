/*
 * server.c — threads and the life of a request.
 *
 * IO threads each run an event_base with an evhttp bound to the one
 * listening socket. A request is copied (method, target, headers, body) into
 * an http_req with its own arena on the IO thread, matched against the
 * routes, and then either handled right there (HTTP_INLINE routes) or queued
 * to the worker pool. The worker authenticates, checks the route's guard,
 * runs the handler and posts the finished response back to the IO thread
 * that owns the connection (event_base_once is safe across threads once
 * evthread_use_pthreads() has run), which sends it, records metrics and the
 * access log line, and frees the request.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/jx.h"
#include "core/log.h"
#include "core/slice.h"
#include "crypto/crypto.h"
#include "http/http_int.h"

struct io_thread {
	http_server *srv;
	pthread_t tid;
	struct event_base *base;
	struct evhttp *http;
	struct evhttp *https; /* the TLS listener's, or NULL */
	http_req *pool;       /* finished requests kept for reuse; touched only by this loop */
	int npool;
};

#define REQ_POOL_MAX 128

/* ---- built-in routes ---- */

static yz_status healthz(http_req *r, yz_err *e)
{
	(void)e;
	http_reply_text(r, 200, "text/plain; charset=utf-8", "ok\n", 3);
	return YZ_OK;
}

static yz_status readyz(http_req *r, yz_err *e)
{
	if (r->srv->ready) {
		yz_status st = r->srv->ready(r->srv->ready_ctx, e);
		if (st != YZ_OK) {
			http_reply_text(r, 503, "text/plain; charset=utf-8", "not ready\n", 10);
			return YZ_OK;
		}
	}
	http_reply_text(r, 200, "text/plain; charset=utf-8", "ready\n", 6);
	return YZ_OK;
}

static const http_route builtin_routes[] = {
    {HTTP_GET, "/healthz", healthz, HTTP_PUBLIC, HTTP_SCOPE_NONE, HTTP_INLINE | HTTP_API, 0,
     "Liveness: the process answers"},
    {HTTP_GET, "/readyz", readyz, HTTP_PUBLIC, HTTP_SCOPE_NONE, HTTP_API, 0,
     "Readiness: the database answers"},
    {HTTP_GET, "/metrics", http_metrics_handler, HTTP_PUBLIC, HTTP_SCOPE_NONE,
     HTTP_INLINE | HTTP_API, 0, "Prometheus metrics"},
    {HTTP_GET, "/api/v1/openapi.json", http_openapi_handler, HTTP_PUBLIC, HTTP_SCOPE_NONE, HTTP_API,
     0, "This document: the OpenAPI 3.1 description of the API"},
    {HTTP_GET, "/static/{path...}", http_static_handler, HTTP_PUBLIC, HTTP_SCOPE_NONE,
     HTTP_INLINE | HTTP_PAGE, 0, "Static files"},
};

/* ---- setup ---- */

static yz_status load_messages(http_server *s, const char *dir, yz_err *e)
{
	static const char *langs[] = {"zh-CN", "en"};
	for (size_t i = 0; i < 2; i++) {
		char path[CONF_PATH_MAX + 32];
		snprintf(path, sizeof path, "%s/i18n/%s.json", dir, langs[i]);
		json_error_t je;
		json_t *t = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
		if (!t)
			return yz_fail(e, YZ_EIO, "messages %s: %s (line %d)", path, je.text,
			               je.line);
		yz_status st = tmpl_set_messages(s->tmpl, langs[i], t, e);
		json_decref(t);
		if (st != YZ_OK)
			return st;
	}
	return YZ_OK;
}

yz_status http_server_new(const http_server_opts *o, http_server **out, yz_err *e)
{
	*out = NULL;
	http_server *s = calloc(1, sizeof *s);
	if (!s)
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	s->cfg = o->cfg;
	s->app = o->app;
	s->listen_fd = -1;
	s->tls_fd = -1;
	yz_strlcpy(s->web_dir, o->web_dir ? o->web_dir : o->cfg->web, sizeof s->web_dir);
	s->site = o->site ? json_incref(o->site) : json_object();
	s->inline_reads = o->inline_reads;
	pthread_mutex_init(&s->q_mu, NULL);
	pthread_cond_init(&s->q_cv, NULL);
	pthread_mutex_init(&s->stop_mu, NULL);
	pthread_cond_init(&s->stop_cv, NULL);
	unsigned char rnd[4];
	if (crypto_random(rnd, sizeof rnd) != YZ_OK)
		memset(rnd, 0x5a, sizeof rnd);
	hex_encode(rnd, sizeof rnd, s->rid_prefix);

	s->tmpl = tmpl_set_new();
	char dir[CONF_PATH_MAX + 16];
	snprintf(dir, sizeof dir, "%s/templates", s->web_dir);
	yz_status st = s->tmpl ? YZ_OK : yz_fail(e, YZ_ENOMEM, "out of memory");
	if (st == YZ_OK)
		st = tmpl_set_load_dir(s->tmpl, dir, e);
	if (st == YZ_OK)
		st = load_messages(s, s->web_dir, e);
	if (st == YZ_OK)
		st = tmpl_set_link(s->tmpl, e);
	snprintf(dir, sizeof dir, "%s/static", s->web_dir);
	if (st == YZ_OK)
		st = http_static_load(s, dir, e);
	if (st == YZ_OK)
		st = http_routes_add(s, builtin_routes,
		                     (int)(sizeof builtin_routes / sizeof builtin_routes[0]), e);
	if (st != YZ_OK) {
		http_server_free(s);
		return st;
	}
	*out = s;
	return YZ_OK;
}

void http_set_auth(http_server *s, const http_auth_hooks *h)
{
	s->auth = *h;
	s->has_auth = true;
}

void http_add_nav(http_server *s, const http_nav *items, int n)
{
	http_nav *nn = realloc(s->nav, sizeof *nn * (size_t)(s->nnav + n));
	if (!nn)
		return;
	s->nav = nn;
	/* insert each after every entry of a lower or equal order: stable */
	for (int k = 0; k < n; k++) {
		int at = s->nnav;
		while (at > 0 && s->nav[at - 1].order > items[k].order)
			at--;
		memmove(s->nav + at + 1, s->nav + at, sizeof *nn * (size_t)(s->nnav - at));
		s->nav[at] = items[k];
		s->nnav++;
	}
}

void http_set_ready(http_server *s, http_ready_fn fn, void *ctx)
{
	s->ready = fn;
	s->ready_ctx = ctx;
}

const tmpl_set *http_templates(const http_server *s)
{
	return s->tmpl;
}

int http_server_port(const http_server *s)
{
	return s->port;
}

int http_server_tls_port(const http_server *s)
{
	return s->tls_fd >= 0 ? s->tls_port : 0;
}

/* ---- request intake (IO thread) ---- */

static unsigned method_of(enum evhttp_cmd_type c, const char **name)
{
	switch (c) {
	case EVHTTP_REQ_GET:
		*name = "GET";
		return HTTP_GET;
	case EVHTTP_REQ_POST:
		*name = "POST";
		return HTTP_POST;
	case EVHTTP_REQ_HEAD:
		*name = "HEAD";
		return HTTP_HEAD;
	case EVHTTP_REQ_PUT:
		*name = "PUT";
		return HTTP_PUT;
	case EVHTTP_REQ_DELETE:
		*name = "DELETE";
		return HTTP_DELETE;
	case EVHTTP_REQ_PATCH:
		*name = "PATCH";
		return HTTP_PATCH;
	case EVHTTP_REQ_OPTIONS:
		*name = "OPTIONS";
		return HTTP_OPTIONS;
	default:
		*name = "OTHER";
		return 0;
	}
}

static bool rid_ok(const char *v)
{
	size_t n = strlen(v);
	if (n == 0 || n > 40)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = v[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return false;
	}
	return true;
}

static void send_now(http_req *r);

static void req_free(http_req *r)
{
	buf_free(&r->out);
	arena_free(r->a);
	free(r);
}

/* A request object from the loop's pool (arena kept, reset), or a new one. */
static http_req *req_get(io_thread *io)
{
	http_req *r = io->pool;
	if (r) {
		io->pool = r->next_q;
		io->npool--;
		arena *a = r->a;
		arena_reset(a);
		memset(r, 0, sizeof *r);
		r->a = a;
		return r;
	}
	r = calloc(1, sizeof *r);
	if (r && !(r->a = arena_new(16u << 20))) {
		free(r);
		r = NULL;
	}
	return r;
}

/* Back to the pool of the loop that owns it (only ever called on that loop). */
static void req_put(http_req *r)
{
	io_thread *io = r->io;
	if (!io || io->npool >= REQ_POOL_MAX) {
		req_free(r);
		return;
	}
	buf_free(&r->out);
	r->next_q = io->pool;
	io->pool = r;
	io->npool++;
}

static void process(http_req *r);
static void process_here(http_req *r);
static void send_cb(evutil_socket_t fd, short what, void *arg);
static void post_send(http_req *r);

static void enqueue(http_server *s, http_req *r)
{
	pthread_mutex_lock(&s->q_mu);
	r->next_q = NULL;
	if (s->q_tail)
		s->q_tail->next_q = r;
	else
		s->q_head = r;
	s->q_tail = r;
	pthread_cond_signal(&s->q_cv);
	pthread_mutex_unlock(&s->q_mu);
}

static void gencb(struct evhttp_request *ev, void *arg)
{
	io_thread *io = arg;
	http_server *s = io->srv;
	http_req *r = req_get(io);
	if (!r) {
		evhttp_send_error(ev, 503, "Service Unavailable");
		return;
	}
	arena *a = r->a;
	atomic_fetch_add(&s->in_flight, 1);
	r->io = io;
	r->srv = s;
	r->ev = ev;
	r->base = io->base;
	r->t0 = clock_mono_ns();
	buf_init(&r->out, HTTP_MAX_RESPONSE);
	r->method = method_of(evhttp_request_get_command(ev), &r->method_name);
	r->lang = s->cfg->lang;
	r->actor.scope = (yz_scope){0};

	r->tls = false;
	r->client_cert = NULL;
	r->client_cert_len = 0;
	if (io->https) {
		struct evhttp_connection *conn = evhttp_request_get_connection(ev);
		struct bufferevent *bev = conn ? evhttp_connection_get_bufferevent(conn) : NULL;
		SSL *ssl = bev ? bufferevent_openssl_get_ssl(bev) : NULL;
		if (ssl) {
			r->tls = true;
			X509 *peer = SSL_get1_peer_certificate(ssl);
			int len = peer ? i2d_X509(peer, NULL) : 0;
			unsigned char *der = len > 0 ? arena_alloc(a, (size_t)len) : NULL;
			unsigned char *p = der;
			if (der && i2d_X509(peer, &p) == len) {
				r->client_cert = der;
				r->client_cert_len = (size_t)len;
			}
			X509_free(peer);
		}
	}
	const char *uri = evhttp_request_get_uri(ev);
	r->uri = arena_strdup(a, uri ? uri : "/");
	char *q = strchr(r->uri, '?');
	r->path = q ? arena_strndup(a, r->uri, (size_t)(q - r->uri)) : r->uri;
	r->query_raw = q ? q + 1 : NULL;

	struct evkeyvalq *hs = evhttp_request_get_input_headers(ev);
	for (struct evkeyval *h = hs->tqh_first; h && r->nheaders < HTTP_MAX_HEADERS;
	     h = h->next.tqe_next) {
		r->headers[r->nheaders].name = arena_strdup(a, h->key);
		r->headers[r->nheaders].value = arena_strdup(a, h->value);
		r->nheaders++;
	}
	struct evbuffer *in = evhttp_request_get_input_buffer(ev);
	size_t blen = evbuffer_get_length(in);
	if (blen) {
		char *body = arena_alloc(a, blen + 1);
		if (body) {
			evbuffer_copyout(in, body, blen);
			body[blen] = '\0';
			r->body = body;
			r->body_len = blen;
		}
	}
	struct evhttp_connection *conn = evhttp_request_get_connection(ev);
	if (conn) {
		char *addr = NULL;
		ev_uint16_t port = 0;
		evhttp_connection_get_peer(conn, &addr, &port);
		yz_strlcpy(r->peer, addr ? addr : "", sizeof r->peer);
	}
	const char *rid = http_req_header_raw(r, "X-Request-Id");
	if (rid && rid_ok(rid))
		yz_strlcpy(r->actor.request_id, rid, sizeof r->actor.request_id);
	else
		snprintf(r->actor.request_id, sizeof r->actor.request_id, "%s-%llx", s->rid_prefix,
		         (unsigned long long)atomic_fetch_add(&s->rid_counter, 1));
	yz_strlcpy(r->actor.ip, r->peer, sizeof r->actor.ip);

	if (r->path[0] != '/') {
		yz_err e = {0};
		yz_fail(&e, YZ_EINVAL, "the request target must be a path");
		r->route = NULL;
		http_reply_error(r, &e);
		http_finish_response(r);
		send_now(r);
		return;
	}
	r->route = http_router_match(s, r);
	if (r->route && !(r->route->r.flags & HTTP_INLINE) && s->inline_reads &&
	    (((r->method & (HTTP_GET | HTTP_HEAD)) && !(r->route->r.flags & HTTP_SLOW)) ||
	     (r->route->r.flags & HTTP_ASYNC))) {
		/* a quick local read: no hand-off to a worker and back */
		process_here(r);
		return;
	}
	if (r->route && (r->route->r.flags & HTTP_INLINE)) {
		yz_err e = {0};
		yz_status st = r->route->r.fn(r, &e);
		if (st != YZ_OK && !r->replied)
			http_reply_error(r, &e);
		http_finish_response(r);
		send_now(r);
		return;
	}
	enqueue(s, r);
}

/* ---- worker side ---- */

static const char *unsafe_reason(http_req *r)
{
	if (r->method & (HTTP_GET | HTTP_HEAD | HTTP_OPTIONS))
		return NULL;
	if (r->route && (r->route->r.flags & HTTP_NO_CSRF))
		return NULL;
	bool api = http_is_api(r);
	if (api) {
		if (r->signed_in) {
			const char *h = http_header(r, "X-CSRF-Token");
			if (!h || !crypto_equal(h, r->user.csrf, strlen(r->user.csrf) + 1))
				return "missing or wrong X-CSRF-Token header";
			return NULL;
		}
		/* signed out: only JSON bodies, which a cross-site form cannot send
		 * without a CORS preflight */
		const char *ct = http_header(r, "Content-Type");
		if (r->body_len && (!ct || strncmp(ct, "application/json", 16) != 0))
			return "signed-out API calls must send application/json";
		return NULL;
	}
	const form *f;
	yz_err fe = {0};
	if (http_form(r, &f, &fe) != YZ_OK)
		return "the form could not be read";
	const char *tok = form_get(f, "_csrf");
	const char *want = r->signed_in ? r->user.csrf : http_cookie(r, "yz_csrf");
	if (!tok || !want || !*want || strlen(tok) != strlen(want) ||
	    !crypto_equal(tok, want, strlen(want)))
		return "missing or wrong form token (CSRF); reload the page and try again";
	return NULL;
}

static void authenticate(http_req *r)
{
	const char *sid = http_cookie(r, "yz_sid");
	if (sid && *sid && r->srv->has_auth) {
		yz_err e = {0};
		if (r->srv->auth.session(r->srv->auth.ctx, sid, r->a, &r->user, &e) == YZ_OK) {
			r->signed_in = true;
			r->actor.user_id = r->user.id;
			r->actor.org_id = r->user.org_id;
			r->actor.kind = r->user.kind;
			yz_strlcpy(r->actor.login, r->user.login, sizeof r->actor.login);
			yz_strlcpy(r->actor.name, r->user.name, sizeof r->actor.name);
		} else {
			/* a stale cookie: forget it */
			http_cookie_internal(r, "yz_sid", "", 0);
		}
	}
	if (!r->signed_in && !http_is_api(r)) {
		const char *c = http_cookie(r, "yz_csrf");
		if (c && strlen(c) >= 16 && strlen(c) < sizeof r->csrf_anon) {
			yz_strlcpy(r->csrf_anon, c, sizeof r->csrf_anon);
		} else if (crypto_random_token(18, r->csrf_anon, sizeof r->csrf_anon) == YZ_OK) {
			r->set_csrf_cookie = true;
		}
	}
	const char *lang = http_cookie(r, "yz_lang");
	if (lang && (!strcmp(lang, "en") || !strcmp(lang, "zh-CN")))
		r->lang = !strcmp(lang, "en") ? "en" : "zh-CN";
	const char *elder = http_cookie(r, "yz_elder");
	r->elder = elder && !strcmp(elder, "1");
}

static void deny_unauthenticated(http_req *r)
{
	if (http_is_api(r)) {
		yz_err e = {0};
		yz_fail(&e, YZ_EUNAUTH, "sign in first");
		http_set_header(r, "WWW-Authenticate", "Cookie realm=\"yizhan\"");
		http_reply_error(r, &e);
		return;
	}
	char *next = form_percent_encode(r->a, r->uri, strlen(r->uri));
	char *url = arena_printf(r->a, "/login?next=%s", next ? next : "%2F");
	http_redirect(r, url ? url : "/login");
}

/* Route guard and handler; returns when a response is set. */
yz_status http_dispatch_guarded(http_req *r)
{
	yz_err e = {0};
	route *rt = r->route;
	authenticate(r);
	if (!rt) {
		if (r->allowed_methods) {
			yz_fail(&e, YZ_EMETHOD, "method %s is not allowed here", r->method_name);
		} else {
			yz_fail(&e, YZ_ENOTFOUND, "no such page or resource: %s", r->path);
		}
		http_reply_error(r, &e);
		return e.code;
	}
	if (r->body_len > rt->r.max_body) {
		yz_fail(&e, YZ_ETOOBIG, "the request body is larger than %zu bytes",
		        rt->r.max_body);
		http_reply_error(r, &e);
		return e.code;
	}
	const char *perm = rt->r.perm;
	if (strcmp(perm, HTTP_PUBLIC) != 0) {
		if (!r->signed_in) {
			deny_unauthenticated(r);
			return YZ_EUNAUTH;
		}
		if (strcmp(perm, HTTP_SIGNED_IN) != 0) {
			yz_scope sc = {0};
			if (!r->srv->has_auth ||
			    !r->srv->auth.allowed(r->srv->auth.ctx, &r->user, perm, r->a, &sc)) {
				yz_fail(&e, YZ_EFORBIDDEN, "you do not have the permission %s",
				        perm);
				http_reply_error(r, &e);
				return e.code;
			}
			r->actor.scope = sc;
		}
	}
	const char *bad = unsafe_reason(r);
	if (bad) {
		yz_fail(&e, YZ_EFORBIDDEN, "%s", bad);
		http_reply_error(r, &e);
		return e.code;
	}
	yz_status st = rt->r.fn(r, &e);
	if (st != YZ_OK && !r->replied)
		http_reply_error(r, &e);
	return st;
}

static void send_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	send_now(arg);
}

static void process_here(http_req *r)
{
	log_set_request_id(r->actor.request_id);
	(void)http_dispatch_guarded(r);
	log_set_request_id(NULL);
	if (r->deferred) {
		/* the answer may already be ready: whoever lets go last sends it */
		if (atomic_fetch_sub(&r->holds, 1) == 1)
			send_now(r);
		return;
	}
	http_finish_response(r);
	send_now(r);
}

static void post_send(http_req *r)
{
	struct timeval zero = {0, 0};
	if (event_base_once(r->base, -1, EV_TIMEOUT, send_cb, r, &zero) != 0)
		log_warn("could not hand a response back to its event loop");
}

void http_defer(http_req *r)
{
	r->deferred = true;
	r->replied = true;
	atomic_store(&r->holds, 2);
}

void http_resume(http_req *r)
{
	http_finish_response(r);
	if (atomic_fetch_sub(&r->holds, 1) == 1)
		post_send(r);
}

static void process(http_req *r)
{
	log_set_request_id(r->actor.request_id);
	(void)http_dispatch_guarded(r);
	log_set_request_id(NULL);
	if (r->deferred) {
		if (atomic_fetch_sub(&r->holds, 1) == 1)
			post_send(r);
		return;
	}
	http_finish_response(r);
	struct timeval zero = {0, 0};
	if (event_base_once(r->base, -1, EV_TIMEOUT, send_cb, r, &zero) != 0) {
		/* the loop is gone (shutting down): drop the request */
		log_warn("could not hand a response back to its event loop");
	}
}

static void *worker_main(void *arg)
{
	http_server *s = arg;
	for (;;) {
		pthread_mutex_lock(&s->q_mu);
		while (!s->q_head && !s->stopping)
			pthread_cond_wait(&s->q_cv, &s->q_mu);
		http_req *r = s->q_head;
		if (!r) {
			pthread_mutex_unlock(&s->q_mu);
			break;
		}
		s->q_head = r->next_q;
		if (!s->q_head)
			s->q_tail = NULL;
		pthread_mutex_unlock(&s->q_mu);
		process(r);
	}
	return NULL;
}

static void free_body(const void *data, size_t len, void *arg)
{
	(void)len;
	(void)arg;
	free((void *)data);
}

static void access_log(http_req *r, uint64_t dur_ns, size_t bytes)
{
	if (LOG_INFO < log_threshold)
		return;
	json_t *o = json_object();
	jx_set_str(o, "event", "access");
	jx_set_str(o, "method", r->method_name);
	jx_set_str(o, "path", r->path);
	jx_set_int(o, "status", r->status);
	jx_set_str(o, "route", r->route ? r->route->label : "unmatched");
	json_object_set_new(o, "ms", json_real((double)dur_ns / 1e6));
	jx_set_int(o, "bytes", (int64_t)bytes);
	if (r->signed_in)
		jx_set_str(o, "user", r->user.login);
	jx_set_str(o, "ip", r->peer);
	jx_set_str(o, "rid", r->actor.request_id);
	log_json(LOG_INFO, o);
	json_decref(o);
}

static void send_now(http_req *r)
{
	struct evkeyvalq *oh = evhttp_request_get_output_headers(r->ev);
	for (int i = 0; i < r->nout; i++)
		evhttp_add_header(oh, r->out_headers[i].name, r->out_headers[i].value);
	size_t n = r->out.len;
	if (n) {
		size_t len;
		char *body = buf_take(&r->out, &len);
		struct evbuffer *ob = evhttp_request_get_output_buffer(r->ev);
		if (evbuffer_add_reference(ob, body, len, free_body, NULL) != 0)
			free(body);
	}
	evhttp_send_reply(r->ev, r->status ? r->status : 500, NULL, NULL);
	uint64_t dur = clock_mono_ns() - r->t0;
	http_metrics_record(r->srv, r->route, r->status, dur);
	access_log(r, dur, n);
	atomic_fetch_sub(&r->srv->in_flight, 1);
	req_put(r);
}

/* ---- lifecycle ---- */

static void *io_main(void *arg)
{
	io_thread *io = arg;
	event_base_loop(io->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

static yz_status make_listener(const char *addr, int *fd_out, int *port_out, yz_err *e)
{
	char host[128];
	yz_strlcpy(host, addr, sizeof host);
	char *colon = strrchr(host, ':');
	if (!colon)
		return yz_fail(e, YZ_EINVAL, "listen address must be host:port, got %s", host);
	*colon = '\0';
	int64_t port;
	if (slice_to_i64(slice_of(colon + 1), &port) != YZ_OK || port < 0 || port > 65535)
		return yz_fail(e, YZ_EINVAL, "bad port in %s", addr);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (inet_pton(AF_INET, host[0] ? host : "0.0.0.0", &sa.sin_addr) != 1)
		return yz_fail(e, YZ_EINVAL, "listen host must be an IPv4 address, got %s", host);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return yz_fail(e, YZ_EIO, "socket: %s", strerror(errno));
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 1024) != 0) {
		int err = errno;
		close(fd);
		return yz_fail(e, YZ_EIO, "cannot listen on %s: %s", addr, strerror(err));
	}
	socklen_t sl = sizeof sa;
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	*port_out = ntohs(sa.sin_port);
	*fd_out = fd;
	return YZ_OK;
}

/* ---- TLS ---- */

/* The handshake asks for a client certificate and takes whatever comes (or
 * nothing): whether a certificate signs someone in is the pki's decision,
 * with the chain, the validity and the revocation status checked there. */
static int accept_any(int ok, X509_STORE_CTX *ctx)
{
	(void)ok;
	(void)ctx;
	return 1;
}

static yz_status tls_setup(http_server *s, yz_err *e)
{
	const yz_config *c = s->cfg;
	if (!c->tls_listen[0])
		return YZ_OK;
	if (!c->tls_cert[0] || !c->tls_key[0])
		return yz_fail(e, YZ_EINVAL, "--tls-listen needs --tls-cert and --tls-key");
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	static const unsigned char sid[] = "yizhan";
	if (!ctx || SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_use_certificate_chain_file(ctx, c->tls_cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, c->tls_key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1 ||
	    SSL_CTX_set_session_id_context(ctx, sid, sizeof sid - 1) != 1) {
		char detail[160] = "";
		ERR_error_string_n(ERR_get_error(), detail, sizeof detail);
		ERR_clear_error();
		SSL_CTX_free(ctx);
		return yz_fail(e, YZ_EINVAL, "TLS: cannot use %s / %s: %s", c->tls_cert, c->tls_key,
		               detail);
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, accept_any);
	s->tls_ctx = ctx;
	return make_listener(c->tls_listen, &s->tls_fd, &s->tls_port, e);
}

static struct bufferevent *tls_bev(struct event_base *base, void *arg)
{
	http_server *s = arg;
	SSL *ssl = SSL_new(s->tls_ctx);
	return ssl ? bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
	                                            BEV_OPT_CLOSE_ON_FREE)
	           : NULL;
}

static struct evhttp *new_evhttp(io_thread *io)
{
	http_server *s = io->srv;
	struct evhttp *h = evhttp_new(io->base);
	if (!h)
		return NULL;
	evhttp_set_allowed_methods(h, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
	                                  EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH |
	                                  EVHTTP_REQ_OPTIONS);
	evhttp_set_max_body_size(h, (ev_ssize_t)s->cfg->max_body_kb * 1024);
	evhttp_set_max_headers_size(h, 32 * 1024);
	evhttp_set_timeout(h, 60);
	evhttp_set_gencb(h, gencb, io);
	return h;
}

/* each evhttp closes its listener's descriptor when freed: give each its
 * own duplicate of the listening socket */
static bool accept_on(struct evhttp *h, int listen_fd)
{
	int fd = dup(listen_fd);
	if (fd < 0)
		return false;
	if (!evhttp_accept_socket_with_handle(h, fd)) {
		close(fd);
		return false;
	}
	return true;
}

yz_status http_server_start(http_server *s, yz_err *e)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, (void (*)(void))evthread_use_pthreads);
	signal(SIGPIPE, SIG_IGN);
	yz_status st = make_listener(s->cfg->listen, &s->listen_fd, &s->port, e);
	if (st == YZ_OK)
		st = tls_setup(s, e);
	if (st != YZ_OK)
		return st;
	/* The threads inherit a mask that blocks SIGINT and SIGTERM, so that
	 * http_server_wait is the one place that receives them. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	s->nio = s->cfg->io_threads;
	s->io = calloc((size_t)s->nio, sizeof *s->io);
	s->nworkers = s->cfg->workers;
	s->workers = calloc((size_t)s->nworkers, sizeof *s->workers);
	if (!s->io || !s->workers)
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 512u << 10);
	for (int i = 0; i < s->nio; i++) {
		io_thread *io = &s->io[i];
		io->srv = s;
		io->base = event_base_new();
		io->http = io->base ? new_evhttp(io) : NULL;
		if (!io->http)
			return yz_fail(e, YZ_EINTERNAL, "cannot create event loop");
		if (!accept_on(io->http, s->listen_fd))
			return yz_fail(e, YZ_EIO, "cannot accept on the listening socket");
		if (s->tls_ctx) {
			io->https = new_evhttp(io);
			if (!io->https)
				return yz_fail(e, YZ_EINTERNAL, "cannot create the TLS listener");
			evhttp_set_bevcb(io->https, tls_bev, s);
			if (!accept_on(io->https, s->tls_fd))
				return yz_fail(e, YZ_EIO, "cannot accept on the TLS socket");
		}
		if (pthread_create(&io->tid, &attr, io_main, io) != 0)
			return yz_fail(e, YZ_EINTERNAL, "cannot start an IO thread");
	}
	for (int i = 0; i < s->nworkers; i++)
		if (pthread_create(&s->workers[i], &attr, worker_main, s) != 0)
			return yz_fail(e, YZ_EINTERNAL, "cannot start a worker thread");
	pthread_attr_destroy(&attr);
	return YZ_OK;
}

void http_server_stop(http_server *s)
{
	pthread_mutex_lock(&s->stop_mu);
	s->stopped = true;
	pthread_cond_broadcast(&s->stop_cv);
	pthread_mutex_unlock(&s->stop_mu);
}

void http_server_wait(http_server *s)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	for (;;) {
		pthread_mutex_lock(&s->stop_mu);
		bool done = s->stopped;
		pthread_mutex_unlock(&s->stop_mu);
		if (done)
			break;
		struct timespec ts = {0, 200 * 1000 * 1000};
		int sig = sigtimedwait(&set, NULL, &ts);
		if (sig == SIGINT || sig == SIGTERM) {
			log_info("signal %d: stopping", sig);
			break;
		}
	}
}

void http_server_free(http_server *s)
{
	if (!s)
		return;
	/* workers finish what is queued and post it to the loops, which are
	 * still running; then the loops stop */
	pthread_mutex_lock(&s->q_mu);
	s->stopping = true;
	pthread_cond_broadcast(&s->q_cv);
	pthread_mutex_unlock(&s->q_mu);
	for (int i = 0; s->workers && i < s->nworkers; i++)
		if (s->workers[i])
			pthread_join(s->workers[i], NULL);
	for (int i = 0; s->io && i < s->nio; i++) {
		if (s->io[i].tid) {
			event_base_loopexit(s->io[i].base, NULL);
			pthread_join(s->io[i].tid, NULL);
		}
	}
	for (int i = 0; s->io && i < s->nio; i++) {
		while (s->io[i].pool) {
			http_req *r = s->io[i].pool;
			s->io[i].pool = r->next_q;
			req_free(r);
		}
		if (s->io[i].http)
			evhttp_free(s->io[i].http);
		if (s->io[i].https)
			evhttp_free(s->io[i].https);
		if (s->io[i].base)
			event_base_free(s->io[i].base);
	}
	/* requests still queued (none once workers drained) */
	while (s->q_head) {
		http_req *r = s->q_head;
		s->q_head = r->next_q;
		req_free(r);
	}
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->tls_fd >= 0)
		close(s->tls_fd);
	SSL_CTX_free(s->tls_ctx);
	for (int i = 0; i < s->nroutes; i++)
		free(s->routes[i].pattern);
	free(s->routes);
	free(s->nav);
	free(s->io);
	free(s->workers);
	http_static_free(s);
	tmpl_set_free(s->tmpl);
	json_decref(s->site);
	pthread_mutex_destroy(&s->q_mu);
	pthread_cond_destroy(&s->q_cv);
	pthread_mutex_destroy(&s->stop_mu);
	pthread_cond_destroy(&s->stop_cv);
	free(s);
}
