/*
 * http.h — the web layer: server, router, requests and responses, sessions
 * hook, CSRF, problem+json, pages through templates, static files, metrics.
 * It knows no domain; modules register routes from their api.c / pages.c.
 *
 * Threads: `io_threads` libevent loops (one event_base each) accept and parse
 * connections; handlers run on a pool of `workers` threads so that they may
 * block (durable writes through the group-commit writer, remote database
 * reads) without stalling a loop. Routes flagged HTTP_INLINE (which must be
 * PUBLIC and must not touch the database) run directly on the loop; so do
 * GET/HEAD requests when the server was told reads are local and quick
 * (inline_reads, set for SQLite), except routes flagged HTTP_SLOW. A GET
 * handler therefore must never wait for a durable write (detached writes
 * are fine).
 *
 * Guarded routes: every route declares a permission — HTTP_PUBLIC,
 * HTTP_SIGNED_IN, or a permission name such as "iam.user.manage" — and a data
 * scope. http_route_add refuses a route without them. Before a handler runs
 * the router has: matched path and method (404/405 otherwise); checked the
 * body size against the route's limit (413); authenticated the caller through
 * the auth hooks (pages: redirect to /login?next=…, API: 401 problem+json);
 * checked the permission (403) and put the scope for it into the actor; for
 * unsafe methods checked CSRF (403): on pages the form field `_csrf`, on the
 * API the `X-CSRF-Token` header when the caller is signed in by cookie, and
 * for signed-out forms a double-submit cookie.
 *
 * Errors: a handler returns a yz_status; when it is not YZ_OK and no response
 * was set, the router answers from the yz_err: problem+json (RFC 9457, with
 * `errors: [{field, rule, expected, got}]`) for API routes, an error page for
 * page routes.
 *
 * Memory: each request has an arena (http_arena) freed after the response
 * is sent; strings returned by accessors live in it.
 */
#ifndef YZ_HTTP_HTTP_H
#define YZ_HTTP_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/actor.h"
#include "core/arena.h"
#include "core/buf.h"
#include "core/conf.h"
#include "core/status.h"
#include "http/cookie.h"
#include "http/form.h"
#include "http/tmpl.h"

typedef struct http_server http_server;
typedef struct http_req http_req;

enum {
	HTTP_GET = 1 << 0,
	HTTP_POST = 1 << 1,
	HTTP_PUT = 1 << 2,
	HTTP_DELETE = 1 << 3,
	HTTP_PATCH = 1 << 4,
	HTTP_HEAD = 1 << 5,
	HTTP_OPTIONS = 1 << 6,
};

#define HTTP_PUBLIC    "public"    /* anyone, signed in or not */
#define HTTP_SIGNED_IN "signed-in" /* any signed-in user */

typedef enum http_scope_kind {
	HTTP_SCOPE_NONE = 1, /* the route touches no scoped data (or only the caller's own) */
	HTTP_SCOPE_ORG, /* data limited to the org subtrees where the caller holds the permission */
} http_scope_kind;

enum {
	HTTP_INLINE = 1 << 0, /* run on the event loop: PUBLIC, no database, no blocking */
	HTTP_API = 1 << 1, /* errors as problem+json, 401 instead of redirect (default for /api/) */
	HTTP_PAGE = 1 << 2, /* errors as pages (default elsewhere) */
	/* standard protocol endpoints that carry their own proof (OCSP, TSA) */
	HTTP_NO_CSRF = 1 << 3,
	/* a GET that may take long: always on a worker, never inline */
	HTTP_SLOW = 1 << 4,
	/* the handler never blocks: it may answer later (http_defer/http_resume),
	 * e.g. after store_write_then; it runs on the event loop when reads are
	 * inline, else on a worker */
	HTTP_ASYNC = 1 << 5,
	/* the route's {name...} parameter may hold encoded slashes (%2F), as the
	 * base64 of an OCSP request by GET does (RFC 6960 A.1); elsewhere an
	 * encoded slash never matches, so it cannot pass for a separator */
	HTTP_REST_SLASH = 1 << 6,
};

/* A handler sets a response (http_reply_*) and returns YZ_OK, or returns an
 * error (filling e) and lets the router answer. */
typedef yz_status (*http_handler)(http_req *r, yz_err *e);

typedef struct http_route {
	unsigned methods;    /* HTTP_GET | HTTP_POST ... (GET also answers HEAD) */
	const char *pattern; /* "/api/v1/users/{id}": {name} matches one segment */
	http_handler fn;
	const char *perm;      /* HTTP_PUBLIC, HTTP_SIGNED_IN or a permission name */
	http_scope_kind scope; /* must be set */
	unsigned flags;
	size_t max_body;     /* bytes; 0 = 1 MiB */
	const char *summary; /* one line for the OpenAPI document */
} http_route;

/* The signed-in user of a request, as the auth hooks describe them. */
typedef struct http_user {
	int64_t id;
	int64_t org_id;
	int kind;
	char login[64];
	char name[64];
	char kind_name[32];
	char csrf[48];    /* the session's CSRF token */
	char session[65]; /* the session id (SM3 hex of the token), for logout */
	void *authz;      /* the hook's permission data, in the request arena */
} http_user;

/* How the router authenticates and authorises; provided by iam at start. */
typedef struct http_auth_hooks {
	void *ctx;
	/* Session cookie value → user. YZ_EUNAUTH when unknown or expired. May
	 * queue bookkeeping writes (last seen). */
	yz_status (*session)(void *ctx, const char *cookie_value, arena *a, http_user *u,
	                     yz_err *e);
	/* Whether u holds perm; on true fill scope (arrays in arena a). */
	bool (*allowed)(void *ctx, const http_user *u, const char *perm, arena *a, yz_scope *scope);
} http_auth_hooks;

/* A navigation entry of the workbench or the portal, from the module table. */
typedef struct http_nav {
	const char *section; /* "workbench", "admin" or "portal" */
	const char *label;   /* message key */
	const char *href;
	const char *perm; /* shown only to users who hold it; HTTP_PUBLIC / HTTP_SIGNED_IN */
	int order;        /* place within its section, lower first (ties: module order) */
} http_nav;

/* ---- server ---- */

typedef struct http_server_opts {
	const yz_config *cfg; /* listen, io_threads, workers, max_body_kb, secure_cookies */
	void *app;            /* handed to handlers through http_app() */
	const char *web_dir;  /* templates/, static/, i18n/ */
	json_t *site;         /* site-wide data for every page (city name …); not stolen */
	bool inline_reads;    /* run GET/HEAD handlers on the event loop (local, quick reads as with
	                         SQLite), except routes flagged HTTP_SLOW */
} http_server_opts;

YZ_MUST_USE yz_status http_server_new(const http_server_opts *o, http_server **out, yz_err *e);
void http_server_free(http_server *s);
YZ_MUST_USE yz_status http_route_add(http_server *s, const http_route *rt, yz_err *e);
YZ_MUST_USE yz_status http_routes_add(http_server *s, const http_route *rts, int n, yz_err *e);
void http_set_auth(http_server *s, const http_auth_hooks *h);
void http_add_nav(http_server *s, const http_nav *items, int n);
/* Bind (port 0 picks a free port) and start the threads; returns when ready. */
YZ_MUST_USE yz_status http_server_start(http_server *s, yz_err *e);
int http_server_port(const http_server *s);
/* The HTTPS port (0 without TLS). */
int http_server_tls_port(const http_server *s);
/* Block until http_server_stop (or SIGINT/SIGTERM when install_signals). */
void http_server_wait(http_server *s);
void http_server_stop(http_server *s);
/* The compiled templates (to render outside a request, e.g. mail). */
const tmpl_set *http_templates(const http_server *s);
/* Route table as JSON [{method, pattern, perm, scope, summary}] for OpenAPI. */
json_t *http_route_table(const http_server *s);
/* The OpenAPI 3.1 document of the API routes (also served at
 * /api/v1/openapi.json). New reference. */
json_t *http_openapi(const http_server *s, const char *title);
/* Text of /metrics, appended to out; extra is called to add module metrics. */
typedef void (*http_metrics_fn)(void *ctx, buf *out);
void http_set_metrics_extra(http_server *s, http_metrics_fn fn, void *ctx);
/* Readiness check run by /readyz (e.g. a database ping). */
typedef yz_status (*http_ready_fn)(void *ctx, yz_err *e);
void http_set_ready(http_server *s, http_ready_fn fn, void *ctx);

/* ---- request ---- */

void *http_app(http_req *r);
arena *http_arena(http_req *r);
unsigned http_method(http_req *r);
const char *http_method_name(http_req *r);
const char *http_path(http_req *r);                    /* decoded path without the query */
const char *http_uri(http_req *r);                     /* path and query as received */
const char *http_param(http_req *r, const char *name); /* path parameter, or NULL */
YZ_MUST_USE yz_status http_param_id(http_req *r, const char *name, int64_t *out, yz_err *e);
const char *http_query(http_req *r, const char *name); /* query parameter, or NULL */
const char *http_header(http_req *r, const char *name);
const char *http_cookie(http_req *r, const char *name);
/* Whether the request came over TLS, and the DER of the client certificate
 * the peer presented in the handshake (NULL when none). The TLS layer asks
 * for a certificate but does not judge it: the handler decides (pki checks
 * the chain and the status). */
bool http_is_tls(http_req *r);
const void *http_client_cert(http_req *r, size_t *n);
const void *http_body(http_req *r, size_t *n);
/* Body as a form (urlencoded or multipart by Content-Type), parsed once. */
YZ_MUST_USE yz_status http_form(http_req *r, const form **out, yz_err *e);
/* Body as a JSON object (Content-Type must be application/json); new reference. */
YZ_MUST_USE yz_status http_json(http_req *r, json_t **out, yz_err *e);
const http_user *http_user_of(http_req *r); /* NULL when signed out */
yz_actor *http_actor(http_req *r);          /* user, request id, ip and scope */
const char *http_request_id(http_req *r);
const char *http_lang(http_req *r); /* "zh-CN" or "en" */
bool http_is_api(http_req *r);
/* Does the signed-in user hold perm (any scope)? */
bool http_can(http_req *r, const char *perm);
/* Whether the signed-in user holds perm, and the scope where (for a route
 * whose own permission is broader, e.g. a page anyone signed in may open but
 * which shows more to holders of perm). */
bool http_scope_for(http_req *r, const char *perm, yz_scope *out);
/* Translate a message key for the request's language. */
const char *http_t(http_req *r, const char *key);
const http_server *http_server_of(http_req *r);

/* ---- response ---- */

/* JSON body (steals body). */
void http_reply_json(http_req *r, int status, json_t *body);
/* A page: render template `name` with data (stolen) merged into the standard
 * page context: site, me (user or null), csrf, nav, lang, elder, path, flash. */
YZ_MUST_USE yz_status http_reply_page(http_req *r, int status, const char *tmpl, json_t *data,
                                      yz_err *e);
void http_reply_text(http_req *r, int status, const char *content_type, const void *data, size_t n);
/* 303 See Other (after POST) or 302 for GET; url must be a local path. */
void http_redirect(http_req *r, const char *url);
/* Answer with the error as problem+json or as an error page. */
void http_reply_error(http_req *r, const yz_err *e);
/* problem+json with extension members (RFC 9457 §3.2) from extra (stolen;
 * members the problem already has are kept). The handler then returns
 * YZ_OK: it has answered. */
void http_reply_problem_with(http_req *r, const yz_err *e, json_t *extra);
void http_set_header(http_req *r, const char *name, const char *value);
YZ_MUST_USE yz_status http_set_cookie(http_req *r, const char *name, const char *value,
                                      long max_age, bool http_only);
/* The handler will answer later, from any thread: it calls http_defer
 * before it hands r to anyone else (the answer may come before the handler
 * returns), returns YZ_OK and
 * later sets the response (http_reply_* or http_reply_error) and calls
 * http_resume, exactly once, after which r is gone. Only in routes flagged
 * HTTP_ASYNC. */
void http_defer(http_req *r);
void http_resume(http_req *r);
/* A one-time message key shown on the next page (after a redirect). */
void http_flash(http_req *r, const char *message_key);
/* A validation error as page data for the GOV.UK pattern:
 * {"message", "errors": [{field, href: "#f-<field>", text}], "error_map":
 * {field: text}} where text is the translated rule message for the field's
 * label (message keys "field.<scope>.<name>" when label_scope is given and
 * present, else "field.<name>"; and "rule.<rule>"). */
json_t *http_error_data(http_req *r, const yz_err *e, const char *label_scope);
/* The same with labels given for some fields ({field: label}), e.g. the
 * labels a flow definition declares for its form. */
json_t *http_error_data_with(http_req *r, const yz_err *e, const char *label_scope, json_t *labels);
/* For a form whose one control holds a whole document (a JSON definition, an
 * uploaded file): every error of error_data (from http_error_data) links to
 * that control ("f-definition") and names its path in the document; the
 * control shows the first. */
void http_errors_point_to(json_t *error_data, const char *control_id);
/* The form's fields as a JSON object of strings (first value of each name,
 * without _csrf), to re-fill a form or to hand to a domain function. */
json_t *http_form_json(const form *f);

#endif
