/*
 * conf.h — configuration: defaults, then a file, then YIZHAN_* environment
 * variables, then command-line flags, each overriding the one before
 * (DESIGN §6). One table of options drives all four sources, so a new option
 * is one line here and one in conf.c.
 *
 * File format: `key = value` lines, `#` comments. Keys use underscores
 * (`listen`, `data`, `db`, `session_idle_minutes`); the environment form is
 * YIZHAN_<KEY upper-cased> and the flag form `--key value` or `--key=value`
 * with underscores written as dashes; booleans are `--flag` (true) or
 * `--flag=false`, never `--flag value`.
 */
#ifndef YZ_CORE_CONF_H
#define YZ_CORE_CONF_H

#include <stdbool.h>
#include <stddef.h>

#include "core/status.h"

#define CONF_PATH_MAX 512

typedef struct yz_config {
	char data[CONF_PATH_MAX];  /* data directory (var/) */
	char db[CONF_PATH_MAX];    /* "" = SQLite at <data>/yizhan.db, or postgresql://... */
	char listen[128];          /* host:port */
	char web[CONF_PATH_MAX];   /* directory holding templates/ and static/ */
	char packs[CONF_PATH_MAX]; /* directory holding packs */
	char log_level[16];
	char log_file[CONF_PATH_MAX]; /* "" = stderr */
	char city_name[128];          /* shown on the portal; the pack sets it at init */
	char lang[8];                 /* default page language: zh-CN or en */
	int io_threads;               /* event loops serving connections */
	int workers;                  /* threads that run blocking handlers */
	int max_body_kb;              /* global request body ceiling */
	int session_idle_minutes;
	int session_max_hours;
	int lockout_failures; /* failed logins before lockout */
	int lockout_minutes;
	int pbkdf2_iterations;
	int writer_batch_max;      /* most jobs committed together */
	bool test_clock;           /* expose the test clock control (never in production) */
	char test_clock_start[64]; /* with test_clock: the clock starts at this ISO-8601 time */
	char office_hours[96];     /* empty: 9:00-12:00,13:30-17:30 */
	bool bench_routes;         /* expose the benchmark write route (never in production) */
	bool secure_cookies;       /* set Secure on cookies (behind TLS) */
	/* the base URL people and applications reach the platform at, which is
	 * the OpenID Connect issuer; "" = http://<listen address> */
	char public_url[256];
	/* role codes whose holders must sign in with a second factor (TOTP),
	 * comma-separated; "" = nobody is obliged (等保 level 3: the 三员) */
	char totp_required_roles[256];
	/* TLS (an HTTPS listener beside the plain one; client certificates are
	 * asked for and handed to handlers, which decide) */
	char tls_listen[128];         /* host:port; "" = no TLS listener */
	char tls_cert[CONF_PATH_MAX]; /* PEM: the server's certificate (and chain) */
	char tls_key[CONF_PATH_MAX];  /* PEM: its private key */

	/* notifications (notify) */
	char smtp_host[256]; /* SMTP relay for e-mail; "" = none configured */
	int smtp_port;
	char mail_from[256];             /* sender address of e-mail notifications */
	char sms_gateway[CONF_PATH_MAX]; /* http:// URL of the SMS gateway; "" = none configured */
	int notify_max_tries;            /* attempts before a notification fails and alerts */
	int notify_backoff_ms;           /* wait after a first failed attempt; doubles */
	int notify_timeout_ms;           /* deadline of one exchange with a server */
} yz_config;

void conf_defaults(yz_config *c);
/* Set one option by key (underscore or dash form). Unknown key or bad value
 * → YZ_EINVAL naming it. */
YZ_MUST_USE yz_status conf_set(yz_config *c, const char *key, const char *value, yz_err *e);
YZ_MUST_USE yz_status conf_load_file(yz_config *c, const char *path, yz_err *e);
YZ_MUST_USE yz_status conf_load_env(yz_config *c, yz_err *e);
/* Consume --key value / --key=value flags from argv (starting at argv[0]);
 * arguments that are not options are left, compacted, in argv and their
 * count returned in *rest. `--help` is left in place for the caller. */
YZ_MUST_USE yz_status conf_load_args(yz_config *c, int argc, char **argv, int *rest, yz_err *e);
/* Path of the SQLite file or the PostgreSQL URL that c selects. */
void conf_db_target(const yz_config *c, char *out, size_t cap);
bool conf_is_postgres(const yz_config *c);
/* Print option names and defaults (for --help). */
void conf_print_help(void);

#endif
