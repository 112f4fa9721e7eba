#include "core/conf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/slice.h"

typedef enum { OPT_STR, OPT_INT, OPT_BOOL } opt_type;

typedef struct opt {
	const char *key;
	opt_type type;
	size_t off, size;
	int min, max;
	const char *help;
} opt;

#define S(f, h)                                                                                    \
	{                                                                                          \
#f, OPT_STR, offsetof(yz_config, f), sizeof(((yz_config *)0)->f), 0, 0, h          \
	}
#define I(f, lo, hi, h)                                                                            \
	{                                                                                          \
#f, OPT_INT, offsetof(yz_config, f), sizeof(int), lo, hi, h                        \
	}
#define B(f, h)                                                                                    \
	{                                                                                          \
#f, OPT_BOOL, offsetof(yz_config, f), sizeof(bool), 0, 1, h                        \
	}

static const opt opts[] = {
    S(data, "data directory"),
    S(db, "database: empty for SQLite in the data directory, or postgresql://..."),
    S(listen, "address to serve on, host:port"),
    S(web, "directory with templates/ and static/"),
    S(packs, "directory with data packs"),
    S(log_level, "debug, info, warn, error or off"),
    S(log_file, "log file (default: standard error)"),
    S(city_name, "the city's name on the portal"),
    S(lang, "default page language (zh-CN or en)"),
    I(io_threads, 1, 64, "event-loop threads"),
    I(workers, 1, 512, "threads for blocking handlers"),
    I(max_body_kb, 1, 1024 * 1024, "largest request body in KiB"),
    I(session_idle_minutes, 1, 24 * 60, "idle minutes before a session ends"),
    I(session_max_hours, 1, 24 * 30, "longest session in hours"),
    I(lockout_failures, 1, 100, "failed logins before the account locks"),
    I(lockout_minutes, 1, 24 * 60, "minutes an account stays locked"),
    I(pbkdf2_iterations, 1000, 10000000, "PBKDF2-HMAC-SM3 iterations for new hashes"),
    I(writer_batch_max, 1, 100000, "most writes committed together"),
    S(smtp_host, "SMTP relay for e-mail notifications (empty: e-mail is not sent)"),
    I(smtp_port, 1, 65535, "port of the SMTP relay"),
    S(mail_from, "sender address of e-mail notifications"),
    S(office_hours, "office hours of a working day, for limits in working hours (default "
                    "9:00-12:00,13:30-17:30)"),
    S(sms_gateway, "http:// URL of the SMS gateway (empty: SMS is not sent)"),
    I(notify_max_tries, 1, 100, "delivery attempts before a notification fails and alerts"),
    I(notify_backoff_ms, 1, 3600000, "wait after a failed delivery; doubles each time"),
    I(notify_timeout_ms, 100, 600000, "deadline of one exchange with a mail server or gateway"),
    B(test_clock, "allow tests to move the clock through the API (never in production)"),
    S(test_clock_start, "with --test-clock: the clock starts at this ISO-8601 time"),
    B(bench_routes, "expose POST /api/v1/bench/rows for make bench (never in production)"),
    B(secure_cookies, "mark cookies Secure (when served behind TLS)"),
    S(public_url, "the platform's public base URL, the OpenID Connect issuer (default "
                  "http://<listen address>)"),
    S(totp_required_roles, "roles whose holders must sign in with TOTP, comma-separated "
                           "(default sys_admin,sec_admin,auditor: the 三员 of 等保 level 3; empty: "
                           "none)"),
    S(tls_listen, "also serve HTTPS on host:port (needs --tls-cert and --tls-key); client "
                  "certificates are asked for, for certificate sign-in"),
    S(tls_cert, "PEM file with the HTTPS server certificate (and its chain)"),
    S(tls_key, "PEM file with the HTTPS server's private key"),
};

#define NOPTS (sizeof opts / sizeof opts[0])

void conf_defaults(yz_config *c)
{
	memset(c, 0, sizeof *c);
	yz_strlcpy(c->data, "var", sizeof c->data);
	yz_strlcpy(c->listen, "127.0.0.1:8080", sizeof c->listen);
	/* 等保 level 3: two factors for the privileged roles, unless told otherwise */
	yz_strlcpy(c->totp_required_roles, "sys_admin,sec_admin,auditor",
	           sizeof c->totp_required_roles);
	yz_strlcpy(c->web, "web", sizeof c->web);
	yz_strlcpy(c->packs, "packs", sizeof c->packs);
	yz_strlcpy(c->log_level, "info", sizeof c->log_level);
	yz_strlcpy(c->lang, "zh-CN", sizeof c->lang);
	c->io_threads = 2;
	c->workers = 64;
	c->max_body_kb = 32 * 1024;
	c->session_idle_minutes = 30;
	c->session_max_hours = 12;
	c->lockout_failures = 5;
	c->lockout_minutes = 15;
	c->pbkdf2_iterations = 60000;
	c->writer_batch_max = 512;
	c->smtp_port = 25;
	yz_strlcpy(c->mail_from, "noreply@yizhan.localhost", sizeof c->mail_from);
	c->notify_max_tries = 8;
	c->notify_backoff_ms = 30000;
	c->notify_timeout_ms = 10000;
}

static const opt *find(const char *key)
{
	char k[64];
	size_t n = yz_strlcpy(k, key, sizeof k);
	for (size_t i = 0; i < n; i++)
		if (k[i] == '-')
			k[i] = '_';
	for (size_t i = 0; i < NOPTS; i++)
		if (!strcmp(opts[i].key, k))
			return &opts[i];
	return NULL;
}

yz_status conf_set(yz_config *c, const char *key, const char *value, yz_err *e)
{
	const opt *o = find(key);
	if (!o)
		return yz_field(e, key, "unknown-option", "a known option (see --help)", value);
	char *base = (char *)c + o->off;
	if (o->type == OPT_STR) {
		if (strlen(value) >= o->size)
			return yz_field(e, key, "max-length", "a shorter value", value);
		yz_strlcpy(base, value, o->size);
	} else if (o->type == OPT_INT) {
		int64_t v;
		if (slice_to_i64(slice_of(value), &v) != YZ_OK || v < o->min || v > o->max) {
			char exp[64];
			snprintf(exp, sizeof exp, "an integer %d..%d", o->min, o->max);
			return yz_field(e, key, "range", exp, value);
		}
		*(int *)(void *)base = (int)v;
	} else {
		bool v;
		if (!strcmp(value, "1") || !strcmp(value, "true") || !strcmp(value, "yes") ||
		    !strcmp(value, "on"))
			v = true;
		else if (!strcmp(value, "0") || !strcmp(value, "false") || !strcmp(value, "no") ||
		         !strcmp(value, "off"))
			v = false;
		else
			return yz_field(e, key, "boolean", "true or false", value);
		*(bool *)(void *)base = v;
	}
	return YZ_OK;
}

yz_status conf_load_file(yz_config *c, const char *path, yz_err *e)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return yz_fail(e, YZ_EIO, "cannot open configuration file %s", path);
	char line[1024];
	int lineno = 0;
	yz_status st = YZ_OK;
	while (fgets(line, sizeof line, f)) {
		lineno++;
		slice s = slice_trim(slice_of(line));
		if (!s.n || s.p[0] == '#')
			continue;
		long eq = slice_find(s, '=');
		if (eq < 0) {
			st = yz_fail(e, YZ_EINVAL, "%s:%d: expected key = value", path, lineno);
			break;
		}
		slice k = slice_trim(slice_make(s.p, (size_t)eq));
		slice v = slice_trim(slice_make(s.p + eq + 1, s.n - (size_t)eq - 1));
		char key[64], val[CONF_PATH_MAX];
		if (k.n >= sizeof key || v.n >= sizeof val) {
			st = yz_fail(e, YZ_EINVAL, "%s:%d: line too long", path, lineno);
			break;
		}
		memcpy(key, k.p, k.n);
		key[k.n] = '\0';
		memcpy(val, v.p, v.n);
		val[v.n] = '\0';
		st = conf_set(c, key, val, e);
		if (st != YZ_OK) {
			if (e)
				snprintf(e->msg, sizeof e->msg, "%s:%d: bad value for %s", path,
				         lineno, key);
			break;
		}
	}
	fclose(f);
	return st;
}

yz_status conf_load_env(yz_config *c, yz_err *e)
{
	for (size_t i = 0; i < NOPTS; i++) {
		char name[80] = "YIZHAN_";
		size_t n = strlen(name);
		for (const char *k = opts[i].key; *k && n + 1 < sizeof name; k++)
			name[n++] = (char)(*k >= 'a' && *k <= 'z' ? *k - 32 : *k);
		name[n] = '\0';
		const char *v = getenv(name);
		if (v) {
			yz_status s = conf_set(c, opts[i].key, v, e);
			if (s != YZ_OK) {
				if (e)
					snprintf(e->msg, sizeof e->msg, "bad value in %s", name);
				return s;
			}
		}
	}
	return YZ_OK;
}

yz_status conf_load_args(yz_config *c, int argc, char **argv, int *rest, yz_err *e)
{
	int out = 0;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (strncmp(a, "--", 2) != 0 || !strcmp(a, "--help") || !strcmp(a, "--")) {
			argv[out++] = argv[i];
			continue;
		}
		char key[64];
		const char *eq = strchr(a + 2, '=');
		const char *val;
		size_t kn = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
		if (kn >= sizeof key)
			return yz_fail(e, YZ_EINVAL, "option too long: %s", a);
		memcpy(key, a + 2, kn);
		key[kn] = '\0';
		const opt *o = find(key);
		if (!o) {
			/* not ours: leave it for the command */
			argv[out++] = argv[i];
			continue;
		}
		if (eq) {
			val = eq + 1;
		} else if (o->type == OPT_BOOL) {
			val = "true"; /* booleans take a value only as --flag=false */
		} else {
			if (i + 1 >= argc)
				return yz_fail(e, YZ_EINVAL, "option --%s needs a value", key);
			val = argv[++i];
		}
		yz_status s = conf_set(c, key, val, e);
		if (s != YZ_OK)
			return s;
	}
	*rest = out;
	return YZ_OK;
}

bool conf_is_postgres(const yz_config *c)
{
	return !strncmp(c->db, "postgresql://", 13) || !strncmp(c->db, "postgres://", 11);
}

void conf_db_target(const yz_config *c, char *out, size_t cap)
{
	if (c->db[0])
		yz_strlcpy(out, c->db, cap);
	else
		snprintf(out, cap, "%s/yizhan.db", c->data);
}

void conf_print_help(void)
{
	yz_config d;
	conf_defaults(&d);
	printf("Options (also YIZHAN_<NAME> in the environment, or name = value in a file):\n");
	for (size_t i = 0; i < NOPTS; i++) {
		const opt *o = &opts[i];
		char def[CONF_PATH_MAX + 16] = "";
		const char *base = (const char *)&d + o->off;
		if (o->type == OPT_STR)
			snprintf(def, sizeof def, "%s", base);
		else if (o->type == OPT_INT)
			snprintf(def, sizeof def, "%d", *(const int *)(const void *)base);
		else
			snprintf(def, sizeof def, "%s",
			         *(const bool *)(const void *)base ? "true" : "false");
		char flag[64];
		snprintf(flag, sizeof flag, "--%s", o->key);
		for (char *p = flag + 2; *p; p++)
			if (*p == '_')
				*p = '-';
		printf("  %-26s %s%s%s%s\n", flag, o->help, def[0] ? " [" : "", def,
		       def[0] ? "]" : "");
	}
}
