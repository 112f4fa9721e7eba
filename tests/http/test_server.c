/* Unit tests for the http server and router in-process: guarded route
 * registration, matching with parameters, 404/405/413, authentication
 * outcomes for pages and the API, CSRF, static files with ETags and path
 * traversal, security headers and metrics. A raw socket client talks to a
 * server on an ephemeral port with a fake authenticator. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/jx.h"
#include "core/log.h"
#include "http/http.h"
#include "testutil.h"

static http_server *srv;
static yz_config cfg;
static char *webdir;

/* ---- fake authenticator: cookie "good-session" is user 7 with
 * "things.read" scoped to /1/2/ ---- */

static yz_status fake_session(void *ctx, const char *cookie, arena *a, http_user *u, yz_err *e)
{
	(void)ctx;
	(void)a;
	if (strcmp(cookie, "good-session") != 0)
		return yz_fail(e, YZ_EUNAUTH, "no");
	u->id = 7;
	yz_strlcpy(u->login, "tester", sizeof u->login);
	yz_strlcpy(u->name, "测试员", sizeof u->name);
	yz_strlcpy(u->csrf, "csrf-of-session", sizeof u->csrf);
	return YZ_OK;
}

static bool fake_allowed(void *ctx, const http_user *u, const char *perm, arena *a, yz_scope *sc)
{
	(void)ctx;
	(void)u;
	if (strcmp(perm, "things.read") != 0)
		return false;
	const char **paths = arena_alloc(a, sizeof *paths);
	int64_t *orgs = arena_alloc(a, sizeof *orgs);
	paths[0] = "/1/2/";
	orgs[0] = 2;
	*sc = (yz_scope){.all = false, .n = 1, .orgs = orgs, .paths = paths};
	return true;
}

/* ---- handlers ---- */

static yz_status thing_get(http_req *r, yz_err *e)
{
	(void)e;
	const yz_actor *a = http_actor(r);
	json_t *o = json_pack("{s:s, s:s, s:i, s:s}", "id", http_param(r, "id"), "sub",
	                      http_param(r, "sub") ? http_param(r, "sub") : "", "scope_n",
	                      a->scope.n, "path0", a->scope.n ? a->scope.paths[0] : "");
	http_reply_json(r, 200, o);
	return YZ_OK;
}

static yz_status echo_post(http_req *r, yz_err *e)
{
	json_t *in;
	yz_status st = http_json(r, &in, e);
	if (st != YZ_OK)
		return st;
	static const jx_field f[] = {{"name", JX_STRING, true, 1, 8, NULL},
	                             {NULL, 0, false, 0, 0, NULL}};
	st = jx_validate(in, f, e);
	if (st == YZ_OK)
		http_reply_json(r, 201, json_incref(in));
	json_decref(in);
	return st;
}

static yz_status page_form(http_req *r, yz_err *e)
{
	const form *f;
	yz_status st = http_form(r, &f, e);
	if (st != YZ_OK)
		return st;
	const char *v = form_get(f, "v");
	http_reply_text(r, 200, "text/plain; charset=utf-8", v ? v : "", v ? strlen(v) : 0);
	return YZ_OK;
}

static yz_status page_hello(http_req *r, yz_err *e)
{
	json_t *d = json_pack("{s:s}", "who", "<b>贵阳</b>");
	return http_reply_page(r, 200, "pages/hello", d, e);
}

static yz_status rest_get(http_req *r, yz_err *e)
{
	(void)e;
	const char *p = http_param(r, "rest");
	http_reply_text(r, 200, "text/plain", p, strlen(p));
	return YZ_OK;
}

/* An async route: answers from another thread after the handler returned. */
static void *answer_later(void *arg)
{
	http_req *r = arg;
	http_reply_json(r, 202, json_pack("{s:s}", "answered", "later"));
	http_resume(r);
	return NULL;
}

static yz_status async_post(http_req *r, yz_err *e)
{
	(void)e;
	http_defer(r);
	pthread_t t;
	pthread_create(&t, NULL, answer_later, r);
	pthread_detach(t);
	return YZ_OK;
}

static void write_file(const char *dir, const char *rel, const char *text)
{
	char path[600];
	snprintf(path, sizeof path, "%s/%s", dir, rel);
	char *slash = strrchr(path, '/');
	*slash = '\0';
	/* mkdir -p, one level at a time */
	for (char *p = path + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(path, 0700);
			*p = '/';
		}
	}
	mkdir(path, 0700);
	*slash = '/';
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	(void)state;
	webdir = tu_tmpdir();
	write_file(
	    webdir, "templates/layouts/base.html",
	    "<!DOCTYPE html><html lang=\"{{ lang }}\"><title>{{ slot \"title\" }}</title><body>"
	    "{{# if me }}<p>{{ me.name }}</p>{{/ if }}{{ slot \"content\" }}</body></html>\n");
	write_file(
	    webdir, "templates/pages/hello.html",
	    "{{ extends \"layouts/base\" }}{{# block \"title\" }}{{ t \"hello\" }}{{/ block }}"
	    "{{# block \"content\" }}<p>{{ who }}</p><input name=\"_csrf\" "
	    "value=\"{{ csrf }}\">{{/ block }}");
	write_file(
	    webdir, "templates/pages/error.html",
	    "{{ extends \"layouts/base\" }}{{# block \"title\" }}{{ t title_key }}{{/ block }}"
	    "{{# block \"content\" }}<p>{{ status }} {{ message }}</p>{{/ block }}");
	write_file(webdir, "i18n/zh-CN.json",
	           "{\"hello\": \"你好\", \"error\": {\"404\": \"页面不存在\"}}");
	write_file(webdir, "i18n/en.json", "{\"hello\": \"Hello\"}");
	write_file(webdir, "static/css/a.css", "body{color:red}");
	write_file(webdir, "secret.txt", "do not serve");

	log_set_level_name("warn");
	conf_defaults(&cfg);
	yz_strlcpy(cfg.listen, "127.0.0.1:0", sizeof cfg.listen);
	cfg.workers = 4;
	cfg.max_body_kb = 64;
	http_server_opts o = {.cfg = &cfg, .web_dir = webdir};
	yz_err e = {0};
	if (http_server_new(&o, &srv, &e) != YZ_OK)
		fail_msg("server: %s", e.msg);
	http_auth_hooks h = {.session = fake_session, .allowed = fake_allowed};
	http_set_auth(srv, &h);
	static const http_route routes[] = {
	    {HTTP_GET, "/api/v1/things/{id}", thing_get, "things.read", HTTP_SCOPE_ORG, 0, 0, "t"},
	    {HTTP_GET, "/api/v1/things/{id}/parts/{sub}", thing_get, "things.read", HTTP_SCOPE_ORG,
	     0, 0, "t"},
	    {HTTP_POST, "/api/v1/echo", echo_post, HTTP_PUBLIC, HTTP_SCOPE_NONE, 0, 64, "echo"},
	    {HTTP_POST, "/form", page_form, HTTP_PUBLIC, HTTP_SCOPE_NONE, 0, 0, "form"},
	    {HTTP_GET, "/hello", page_hello, HTTP_PUBLIC, HTTP_SCOPE_NONE, 0, 0, "hello"},
	    {HTTP_GET, "/private", page_hello, "things.write", HTTP_SCOPE_NONE, 0, 0, "private"},
	    {HTTP_GET, "/mine", page_hello, HTTP_SIGNED_IN, HTTP_SCOPE_NONE, 0, 0, "mine"},
	    {HTTP_GET, "/files/{rest...}", rest_get, HTTP_PUBLIC, HTTP_SCOPE_NONE, 0, 0, "rest"},
	    {HTTP_POST, "/api/v1/later", async_post, HTTP_PUBLIC, HTTP_SCOPE_NONE, HTTP_ASYNC, 0,
	     "async"},
	};
	assert_int_equal(http_routes_add(srv, routes, (int)(sizeof routes / sizeof routes[0]), &e),
	                 YZ_OK);
	assert_int_equal(http_server_start(srv, &e), YZ_OK);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	http_server_free(srv);
	tu_rmtree(webdir);
	free(webdir);
	return 0;
}

/* ---- a raw client ---- */

typedef struct resp {
	int status;
	char head[8192];
	char *body;
	size_t body_len;
	char raw[1 << 16];
} resp;

static void send_raw(const char *req, resp *out)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET,
	                         .sin_port = htons((uint16_t)http_server_port(srv))};
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	size_t n = strlen(req);
	assert_int_equal(write(fd, req, n), (ssize_t)n);
	size_t got = 0;
	ssize_t k;
	while (got < sizeof out->raw - 1 &&
	       (k = read(fd, out->raw + got, sizeof out->raw - 1 - got)) > 0)
		got += (size_t)k;
	out->raw[got] = '\0';
	close(fd);
	assert_int_equal(strncmp(out->raw, "HTTP/1.1 ", 9), 0);
	out->status = (int)strtol(out->raw + 9, NULL, 10);
	char *sep = strstr(out->raw, "\r\n\r\n");
	assert_non_null(sep);
	size_t hl = (size_t)(sep - out->raw);
	memcpy(out->head, out->raw, hl < sizeof out->head - 1 ? hl : sizeof out->head - 1);
	out->head[hl < sizeof out->head - 1 ? hl : sizeof out->head - 1] = '\0';
	out->body = sep + 4;
	out->body_len = got - hl - 4;
}

static void request(const char *method, const char *path, const char *headers, const char *body,
                    resp *out)
{
	char req[1 << 15];
	snprintf(
	    req, sizeof req,
	    "%s %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n%sContent-Length: %zu\r\n\r\n%s",
	    method, path, headers ? headers : "", body ? strlen(body) : 0, body ? body : "");
	send_raw(req, out);
}

static void copy_until(char *out, size_t cap, const char *from, char stop)
{
	size_t n = 0;
	while (from[n] && from[n] != stop && n + 1 < cap)
		n++;
	memcpy(out, from, n);
	out[n] = '\0';
	assert_true(n > 0);
}

static bool has_header(const resp *r, const char *line)
{
	return strstr(r->head, line) != NULL;
}

/* ---- tests ---- */

static void registration_is_guarded(void **state)
{
	(void)state;
	yz_err e = {0};
	http_route no_perm = {HTTP_GET, "/x", page_hello, NULL, HTTP_SCOPE_NONE, 0, 0, NULL};
	assert_int_equal(http_route_add(srv, &no_perm, &e), YZ_EFORBIDDEN);
	http_route no_scope = {HTTP_GET, "/x", page_hello, HTTP_PUBLIC, 0, 0, 0, NULL};
	assert_int_equal(http_route_add(srv, &no_scope, &e), YZ_EFORBIDDEN);
	http_route inline_private = {HTTP_GET,        "/x",        page_hello, "things.read",
	                             HTTP_SCOPE_NONE, HTTP_INLINE, 0,          NULL};
	assert_int_equal(http_route_add(srv, &inline_private, &e), YZ_EINTERNAL);
	http_route public_org = {HTTP_GET,       "/x", page_hello, HTTP_PUBLIC,
	                         HTTP_SCOPE_ORG, 0,    0,          NULL};
	assert_int_equal(http_route_add(srv, &public_org, &e), YZ_EINTERNAL);
	http_route dup = {HTTP_GET, "/hello", page_hello, HTTP_PUBLIC, HTTP_SCOPE_NONE, 0, 0, NULL};
	assert_int_equal(http_route_add(srv, &dup, &e), YZ_ECONFLICT);
	http_route bad = {HTTP_GET, "/a/{x...}/b", page_hello, HTTP_PUBLIC, HTTP_SCOPE_NONE, 0,
	                  0,        NULL};
	assert_int_equal(http_route_add(srv, &bad, &e), YZ_EINTERNAL);
}

static void matching_and_errors(void **state)
{
	(void)state;
	resp r;
	request("GET", "/api/v1/things/42", "Cookie: yz_sid=good-session\r\n", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\"id\":\"42\""));
	assert_non_null(strstr(r.body, "\"path0\":\"/1/2/\""));
	request("GET", "/api/v1/things/%E8%B4%B5/parts/a%2Fb", "Cookie: yz_sid=good-session\r\n",
	        NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\"id\":\"贵\""));
	assert_non_null(strstr(r.body, "\"sub\":\"a/b\""));
	request("GET", "/files/a/b/c.txt", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, 9);
	/* unknown path on the API: problem+json */
	request("GET", "/api/v1/nothing", NULL, NULL, &r);
	assert_int_equal(r.status, 404);
	assert_true(has_header(&r, "Content-Type: application/problem+json"));
	assert_non_null(strstr(r.body, "\"status\":404"));
	/* unknown page: the error template */
	request("GET", "/nothing", NULL, NULL, &r);
	assert_int_equal(r.status, 404);
	assert_non_null(strstr(r.body, "页面不存在"));
	/* wrong method: 405 with Allow */
	request("DELETE", "/hello", NULL, NULL, &r);
	assert_int_equal(r.status, 405);
	assert_true(has_header(&r, "Allow: GET, HEAD"));
	/* dot segments never match */
	request("GET", "/files/../secret.txt", NULL, NULL, &r);
	assert_int_equal(r.status, 404);
	request("GET", "/files/%2e%2e/secret.txt", NULL, NULL, &r);
	assert_int_equal(r.status, 404);
}

static void auth_outcomes(void **state)
{
	(void)state;
	resp r;
	request("GET", "/api/v1/things/1", NULL, NULL, &r);
	assert_int_equal(r.status, 401);
	assert_true(has_header(&r, "Content-Type: application/problem+json"));
	request("GET", "/api/v1/things/1", "Cookie: yz_sid=stale\r\n", NULL, &r);
	assert_int_equal(r.status, 401);
	assert_true(has_header(&r, "Set-Cookie: yz_sid=; Path=/; Max-Age=0"));
	request("GET", "/mine?x=1", NULL, NULL, &r);
	assert_int_equal(r.status, 302);
	assert_true(has_header(&r, "Location: /login?next=%2Fmine%3Fx%3D1"));
	request("GET", "/mine", "Cookie: yz_sid=good-session\r\n", NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "测试员"));
	request("GET", "/private", "Cookie: yz_sid=good-session\r\n", NULL, &r);
	assert_int_equal(r.status, 403);
}

static void csrf_and_bodies(void **state)
{
	(void)state;
	resp r;
	const char *fh = "Content-Type: application/x-www-form-urlencoded\r\n";
	/* no token */
	request("POST", "/form", fh, "v=1", &r);
	assert_int_equal(r.status, 403);
	/* signed out: the double-submit cookie */
	char h[256];
	snprintf(h, sizeof h, "%sCookie: yz_csrf=abcdefghijklmnopqrst\r\n", fh);
	request("POST", "/form", h, "v=ok&_csrf=abcdefghijklmnopqrst", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "ok");
	request("POST", "/form", h, "v=ok&_csrf=abcdefghijklmnopqrsX", &r);
	assert_int_equal(r.status, 403);
	/* signed in: the session's token, not the cookie's */
	snprintf(h, sizeof h, "%sCookie: yz_sid=good-session; yz_csrf=abcdefghijklmnopqrst\r\n",
	         fh);
	request("POST", "/form", h, "v=ok&_csrf=abcdefghijklmnopqrst", &r);
	assert_int_equal(r.status, 403);
	request("POST", "/form", h, "v=%E8%B4%B5&_csrf=csrf-of-session", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "贵");
	/* API: JSON only when signed out; header token when signed in */
	request("POST", "/api/v1/echo", fh, "name=x", &r);
	assert_int_equal(r.status, 403);
	const char *json = "Content-Type: application/json\r\n";
	request("POST", "/api/v1/echo", json, "{\"name\":\"贵阳\"}", &r);
	assert_int_equal(r.status, 201);
	request("POST", "/api/v1/echo",
	        "Content-Type: application/json\r\nCookie: yz_sid=good-session\r\n",
	        "{\"name\":\"x\"}", &r);
	assert_int_equal(r.status, 403);
	request("POST", "/api/v1/echo",
	        "Content-Type: application/json\r\nCookie: yz_sid=good-session\r\nX-CSRF-Token: "
	        "csrf-of-session\r\n",
	        "{\"name\":\"x\"}", &r);
	assert_int_equal(r.status, 201);
	/* malformed JSON: line and column */
	request("POST", "/api/v1/echo", json, "{\n\"name\": }", &r);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "line 2"));
	/* unknown fields are named */
	request("POST", "/api/v1/echo", json, "{\"name\":\"a\",\"bogus\":1}", &r);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "\"field\":\"bogus\""));
	assert_non_null(strstr(r.body, "\"rule\":\"unknown-field\""));
	/* the route's body limit (64 bytes) */
	char big[200];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	request("POST", "/api/v1/echo", json, big, &r);
	assert_int_equal(r.status, 413);
	assert_true(has_header(&r, "Content-Type: application/problem+json"));
}

static void pages_static_and_headers(void **state)
{
	(void)state;
	resp r;
	request("GET", "/hello", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "<title>你好</title>"));
	assert_non_null(strstr(r.body, "&lt;b&gt;贵阳&lt;/b&gt;"));
	assert_true(has_header(&r, "Content-Security-Policy: default-src 'self'"));
	assert_true(has_header(&r, "X-Frame-Options: DENY"));
	assert_true(has_header(&r, "X-Content-Type-Options: nosniff"));
	assert_true(has_header(&r, "Cache-Control: no-store"));
	assert_true(has_header(&r, "X-Request-Id: "));
	/* a signed-out page gets a CSRF cookie matching its form token */
	char *set = strstr(r.head, "Set-Cookie: yz_csrf=");
	assert_non_null(set);
	char tok[64];
	copy_until(tok, sizeof tok, set + strlen("Set-Cookie: yz_csrf="), ';');
	char want[128];
	snprintf(want, sizeof want, "value=\"%s\"", tok);
	assert_non_null(strstr(r.body, want));
	request("GET", "/hello", "Cookie: yz_lang=en\r\n", NULL, &r);
	assert_non_null(strstr(r.body, "<html lang=\"en\"><title>Hello</title>"));
	/* a request id from the client is echoed when it is sane */
	request("GET", "/hello", "X-Request-Id: trace-123\r\n", NULL, &r);
	assert_true(has_header(&r, "X-Request-Id: trace-123"));
	request("GET", "/hello", "X-Request-Id: bad id <x>\r\n", NULL, &r);
	assert_false(has_header(&r, "X-Request-Id: bad"));

	request("GET", "/static/css/a.css", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_true(has_header(&r, "Content-Type: text/css"));
	assert_true(has_header(&r, "Cache-Control: public, max-age=3600"));
	char *et = strstr(r.head, "ETag: ");
	assert_non_null(et);
	char etag[64];
	copy_until(etag, sizeof etag, et + 6, '\r');
	char h[128];
	snprintf(h, sizeof h, "If-None-Match: %s\r\n", etag);
	request("GET", "/static/css/a.css", h, NULL, &r);
	assert_int_equal(r.status, 304);
	request("GET", "/static/../secret.txt", NULL, NULL, &r);
	assert_int_equal(r.status, 404);
	request("GET", "/static/css/../../secret.txt", NULL, NULL, &r);
	assert_int_equal(r.status, 404);
	request("GET", "/static/%2e%2e/secret.txt", NULL, NULL, &r);
	assert_int_equal(r.status, 404);
	request("GET", "/static/css/..%2f..%2fsecret.txt", NULL, NULL, &r);
	assert_int_equal(r.status, 404);

	request("GET", "/healthz", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "ok\n");
	request("GET", "/metrics", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(
	    strstr(r.body, "yizhan_http_requests_total{route=\"GET /hello\",status=\"200\"}"));
	assert_non_null(strstr(r.body, "yizhan_http_request_duration_seconds_bucket"));
	request("GET", "/api/v1/openapi.json", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	json_t *doc = json_loadb(r.body, r.body_len, 0, NULL);
	assert_non_null(doc);
	assert_string_equal(jx_str(doc, "openapi", ""), "3.1.0");
	json_t *op = json_object_get(
	    json_object_get(json_object_get(doc, "paths"), "/api/v1/things/{id}"), "get");
	assert_non_null(op);
	assert_string_equal(jx_str(op, "x-permission", ""), "things.read");
	assert_string_equal(jx_str(op, "x-scope", ""), "org");
	/* pages are not in the API document */
	assert_null(json_object_get(json_object_get(doc, "paths"), "/hello"));
	json_decref(doc);
}

static void deferred_answers(void **state)
{
	(void)state;
	for (int i = 0; i < 20; i++) {
		resp r;
		request("POST", "/api/v1/later", "Content-Type: application/json\r\n", "{}", &r);
		assert_int_equal(r.status, 202);
		assert_string_equal(r.body, "{\"answered\":\"later\"}");
		assert_true(has_header(&r, "X-Content-Type-Options: nosniff"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(deferred_answers),    cmocka_unit_test(registration_is_guarded),
	    cmocka_unit_test(matching_and_errors), cmocka_unit_test(auth_outcomes),
	    cmocka_unit_test(csrf_and_bodies),     cmocka_unit_test(pages_static_and_headers),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
