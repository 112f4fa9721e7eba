/*
 * iam.h — identity and access: the organisation tree, users, roles,
 * permissions with data scopes, password login with lockout, and sessions.
 *
 * Organisations form one tree: the city, its districts and counties, their
 * streets/towns, communities; departments (with GB/T 2260 division code and
 * USCC) and their units hang under the government level they belong to. Each
 * org stores its materialised path ("/1/4/17/"), so "within a subtree" is a
 * prefix test that any module can apply to rows that carry an org path.
 *
 * Users have a kind (operator, civil servant, leader, citizen, enterprise
 * representative), belong to at most one org, and hold roles, each role
 * assignment with a scope: the org subtree where the role's permissions
 * apply. A permission check for (user, perm) yields the union of those
 * subtrees — the data scope handed to the route (yz_scope).
 *
 * Separation of duties (等保 三员分立): creating and editing users needs
 * iam.user.manage within the user's org; granting roles needs iam.role.manage
 * covering the assignment's scope; nobody changes their own roles.
 *
 * Passwords are PBKDF2-HMAC-SM3 (crypto_password_*), rehashed on login when
 * the configured iteration count rises; N consecutive failures lock the
 * account for M minutes. Sessions are random 32-byte tokens of which only the
 * SM3 hash is stored; they end on logout, after the idle timeout, or at their
 * maximum age.
 *
 * Every change is appended to the audit chain in the same transaction.
 * Module logic only: no HTTP here (see api.c and pages.c).
 */
#ifndef YZ_IAM_IAM_H
#define YZ_IAM_IAM_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/actor.h"
#include "core/arena.h"
#include "core/status.h"
#include "store/store.h"

extern const store_migration iam_migrations[];
extern const int iam_nmigrations;

typedef enum iam_kind {
	IAM_OPERATOR = 1,
	IAM_CIVIL_SERVANT,
	IAM_LEADER,
	IAM_CITIZEN,
	IAM_ENTERPRISE,
} iam_kind;

const char *iam_kind_name(int kind);  /* "operator", "civil_servant", ... or "" */
int iam_kind_parse(const char *name); /* 0 when unknown */
bool iam_kind_is_staff(int kind);     /* operator, civil servant, leader */

/* Policy knobs, from configuration. */
typedef struct iam_policy {
	int pbkdf2_iterations;
	int lockout_failures;
	int lockout_minutes;
	int session_idle_minutes;
	int session_max_hours;
	/* role codes, comma-separated, whose holders must sign in with TOTP
	 * (等保 level 3: the 三员); NULL or "" = nobody is obliged */
	const char *totp_required_roles;
} iam_policy;

/* ---- permissions declared by modules ---- */

typedef struct iam_perm_decl {
	const char *name;        /* "iam.user.manage" */
	const char *description; /* message key or text */
} iam_perm_decl;

/* Register the permissions a module defines (called once per module at start,
 * before roles are loaded or edited). Not thread-safe; start-up only. */
void iam_perms_register(const iam_perm_decl *perms, int n);
bool iam_perm_known(const char *name);
/* [{name, description}] of every registered permission. */
json_t *iam_perms_json(void);

/* ---- organisations ---- */

/* in: {code, name, kind, parent_id, division_code?, uscc?, sort?}. The actor
 * needs the parent within scope (checked by the caller's route permission
 * iam.org.manage and here against who->scope). */
YZ_MUST_USE yz_status iam_org_create(store *s, const yz_actor *who, json_t *in, int64_t *id,
                                     yz_err *e);
/* in: any of {name, division_code, uscc, sort, status}. */
YZ_MUST_USE yz_status iam_org_update(store *s, const yz_actor *who, int64_t id, json_t *in,
                                     yz_err *e);
YZ_MUST_USE yz_status iam_org_get(store_conn *c, const yz_scope *scope, int64_t id, json_t **out,
                                  yz_err *e);
/* Orgs within scope, ordered as a tree (depth-first by sort), each with
 * depth; filter by kind (NULL = all) and text (name contains). */
YZ_MUST_USE yz_status iam_org_list(store_conn *c, const yz_scope *scope, const char *kind,
                                   const char *q, json_t **out, yz_err *e);
YZ_MUST_USE yz_status iam_org_find_code(store_conn *c, const char *code, int64_t *id, yz_err *e);
/* The org's materialised path, e.g. "/1/4/". */
YZ_MUST_USE yz_status iam_org_path(store_conn *c, int64_t id, char *out, size_t cap, yz_err *e);
bool iam_path_in_scope(const yz_scope *scope, const char *path);
extern const char *const iam_org_kinds[]; /* NULL-terminated */

/* ---- users ---- */

/* in: {login, name, kind, org_id?, password, phone?, email?}. */
YZ_MUST_USE yz_status iam_user_create(store *s, const iam_policy *p, const yz_actor *who,
                                      json_t *in, int64_t *id, yz_err *e);
/* The field checks of iam_user_create alone, without writing (forms that add
 * checks of their own report everything at once). */
YZ_MUST_USE yz_status iam_user_validate(json_t *in, yz_err *e);
/* in: any of {name, kind, org_id, phone, email, status ("active"|"disabled")};
 * version must match the stored version (optimistic concurrency; 0 skips). */
YZ_MUST_USE yz_status iam_user_update(store *s, const yz_actor *who, int64_t id, int64_t version,
                                      json_t *in, yz_err *e);
/* An administrator sets a new password (and unlocks). */
YZ_MUST_USE yz_status iam_user_set_password(store *s, const iam_policy *p, const yz_actor *who,
                                            int64_t id, const char *password, yz_err *e);
/* The user changes their own password, giving the current one. Their other
 * sessions end; keep_session (the session making the change, may be NULL)
 * stays. An administrator's reset ends every session of the user. */
YZ_MUST_USE yz_status iam_user_change_password(store *s, const iam_policy *p, const yz_actor *who,
                                               const char *current, const char *next,
                                               const char *keep_session, yz_err *e);
YZ_MUST_USE yz_status iam_user_unlock(store *s, const yz_actor *who, int64_t id, yz_err *e);
/* Replace a user's role assignments: in is [{role (code), scope (org id)}].
 * who->scope is the actor's scope for iam.role.manage. */
YZ_MUST_USE yz_status iam_user_set_roles(store *s, const yz_actor *who, int64_t id, json_t *in,
                                         yz_err *e);
YZ_MUST_USE yz_status iam_user_get(store_conn *c, const yz_scope *scope, int64_t id, json_t **out,
                                   yz_err *e);
typedef struct iam_user_filter {
	const char *q;    /* login or name contains */
	const char *kind; /* kind name */
	int64_t org_id;   /* within this org's subtree */
	int64_t after;    /* cursor: id > after */
	int limit;        /* default 50, at most 200 */
} iam_user_filter;
/* {"items": [...], "next": cursor|null}. Users without an org (citizens,
 * enterprise representatives) are listed only for an unrestricted scope. */
YZ_MUST_USE yz_status iam_user_list(store_conn *c, const yz_scope *scope, const iam_user_filter *f,
                                    json_t **out, yz_err *e);
/* Password policy check alone (for forms): fills field errors on `field`. */
YZ_MUST_USE yz_status iam_password_policy(const char *password, const char *login,
                                          const char *field, yz_err *e);

/* ---- roles ---- */

/* in: {code, name, description?, permissions: [names]} */
YZ_MUST_USE yz_status iam_role_create(store *s, const yz_actor *who, json_t *in, int64_t *id,
                                      yz_err *e);
/* in: any of {name, description, permissions} */
YZ_MUST_USE yz_status iam_role_update(store *s, const yz_actor *who, int64_t id, json_t *in,
                                      yz_err *e);
YZ_MUST_USE yz_status iam_role_get(store_conn *c, int64_t id, json_t **out, yz_err *e);
YZ_MUST_USE yz_status iam_role_list(store_conn *c, json_t **out, yz_err *e);

/* ---- login and sessions ---- */

enum {
	IAM_LOGIN_DONE = 0,   /* a session is open: token and csrf are set */
	IAM_LOGIN_TOTP,       /* the password was right; the TOTP code must follow */
	IAM_LOGIN_TOTP_ENROL, /* the password was right; the user must first set up TOTP */
};

typedef struct iam_login_result {
	char token[64]; /* the session cookie value (only ever held by the client) */
	char csrf[48];
	int64_t user_id;
	int64_t locked_until; /* when YZ_ELOCKED: until when (ms) */
	int next_step;        /* IAM_LOGIN_DONE, or what the sign-in still needs */
	char pending[64];     /* then: the token of the waiting sign-in (10 minutes) */
} iam_login_result;

/* Check a password and open a session. Wrong login or password → YZ_EUNAUTH
 * (one message for both); a locked account → YZ_ELOCKED; a disabled one →
 * YZ_EFORBIDDEN. Each outcome is audited. The PBKDF2 work happens on the
 * calling thread, never inside the writer. */
YZ_MUST_USE yz_status iam_login(store *s, const iam_policy *p, const yz_actor *from,
                                const char *login, const char *password, const char *user_agent,
                                iam_login_result *out, yz_err *e);

/* The same with the TOTP code (may be NULL) given at once. A user with TOTP
 * who gives no code, or one whose role requires TOTP and who has none yet,
 * gets no session but YZ_OK with next_step IAM_LOGIN_TOTP or
 * IAM_LOGIN_TOTP_ENROL and a pending token for iam_login_totp. A wrong or
 * replayed code is YZ_EUNAUTH with a field error on "totp" and counts as a
 * failed login (lockout). */
YZ_MUST_USE yz_status iam_login_ex(store *s, const iam_policy *p, const yz_actor *from,
                                   const char *login, const char *password, const char *totp,
                                   const char *user_agent, iam_login_result *out, yz_err *e);
/* The second step: the code for a pending sign-in. For IAM_LOGIN_TOTP_ENROL
 * the code confirms the secret iam_login_enrol_secret gave. Opens the
 * session (amr "pwd otp"). A wrong code counts as a failed login; after five
 * the pending sign-in ends; an expired or unknown pending token is
 * YZ_EUNAUTH. */
YZ_MUST_USE yz_status iam_login_totp(store *s, const iam_policy *p, const yz_actor *from,
                                     const char *pending, const char *code, const char *user_agent,
                                     iam_login_result *out, yz_err *e);

/* ---- TOTP (RFC 6238: HMAC-SHA1, 6 digits, 30 s, one step either way) ----
 * Secrets are 20 random bytes sealed under iam's key (iam_keys_load must
 * have run); a step once used is never accepted again for that user. */
typedef struct iam_totp_secret {
	char secret[40]; /* base32, as authenticator apps take it */
	char uri[512];   /* otpauth://totp/... for a QR code or a link */
} iam_totp_secret;
/* The secret a pending sign-in of stage IAM_LOGIN_TOTP_ENROL is to confirm
 * (made on first call, the same afterwards). issuer: the name apps show. */
YZ_MUST_USE yz_status iam_login_enrol_secret(store *s, const char *pending, const char *issuer,
                                             iam_totp_secret *out, yz_err *e);
/* A signed-in user starts (or restarts) setting up TOTP: a new unconfirmed
 * secret. YZ_ECONFLICT when a confirmed one exists (remove it first). */
YZ_MUST_USE yz_status iam_totp_begin(store *s, const yz_actor *who, const char *issuer,
                                     iam_totp_secret *out, yz_err *e);
/* The unconfirmed secret shown again (YZ_ENOTFOUND when none). */
YZ_MUST_USE yz_status iam_totp_pending_secret(store *s, const yz_actor *who, const char *issuer,
                                              iam_totp_secret *out, yz_err *e);
/* Confirm the secret with a current code (field error "code" otherwise). */
YZ_MUST_USE yz_status iam_totp_confirm(store *s, const yz_actor *who, const char *code, yz_err *e);
/* The user removes their own TOTP with a current code; refused (YZ_EREFUSED)
 * when a role of theirs requires it. */
YZ_MUST_USE yz_status iam_totp_remove(store *s, const iam_policy *p, const yz_actor *who,
                                      const char *code, yz_err *e);
/* An administrator (iam.user.manage over the user's org in who->scope)
 * removes a user's TOTP, e.g. after a lost phone. */
YZ_MUST_USE yz_status iam_totp_reset(store *s, const yz_actor *who, int64_t user_id, yz_err *e);
/* {"enrolled": bool, "pending": bool, "required": bool} */
YZ_MUST_USE yz_status iam_totp_status(store_conn *c, const iam_policy *p, int64_t user_id,
                                      json_t **out, yz_err *e);
/* RFC 4226 HOTP value for a counter (TOTP: the 30-second step). */
uint32_t iam_totp_code(const unsigned char *key, size_t n, int64_t counter, int digits);

/* Open a session for a user another module has authenticated (the pki, by
 * a certificate): method ("tls-certificate", "sm2-challenge") and the
 * certificate ("<ca>/<serial>") go into the audit record. A disabled account
 * → YZ_EFORBIDDEN, a locked one → YZ_ELOCKED, no such user → YZ_EUNAUTH. */
YZ_MUST_USE yz_status iam_login_verified(store *s, const iam_policy *p, const yz_actor *from,
                                         int64_t user_id, const char *method,
                                         const char *certificate, const char *user_agent,
                                         iam_login_result *out, yz_err *e);

/* The session behind a cookie value, with the user. Touches last-seen
 * (detached write at most once a minute). YZ_EUNAUTH when unknown, idle too
 * long, too old, or the user is disabled. */
typedef struct iam_session_info {
	int64_t user_id, org_id;
	int kind;
	char login[64], name[64], csrf[48], session[65];
} iam_session_info;
YZ_MUST_USE yz_status iam_session_resolve(store *s, const iam_policy *p, const char *token,
                                          iam_session_info *out, yz_err *e);
YZ_MUST_USE yz_status iam_logout(store *s, const yz_actor *who, const char *session, yz_err *e);

/* What the router needs on every request: the session behind a cookie and
 * the user's grants. Answers come from a small in-process cache for up to
 * IAM_CACHE_MS, and the cache is dropped at once whenever this process
 * changes a user, a role, a grant or a session (iam_cache_invalidate); other
 * nodes of a PostgreSQL deployment notice such a change within IAM_CACHE_MS.
 * *authz is built in the arena. */
#define IAM_CACHE_MS 2000
typedef struct iam_authz iam_authz;
YZ_MUST_USE yz_status iam_request_auth(store *s, const iam_policy *p, const char *token, arena *a,
                                       iam_session_info *out, iam_authz **authz, yz_err *e);
void iam_cache_invalidate(void);

/* ---- authorisation ---- */

/* A user's grants, loaded once per request into an arena. */
typedef struct iam_authz iam_authz;
YZ_MUST_USE yz_status iam_authz_load(store_conn *c, int64_t user_id, arena *a, iam_authz **out,
                                     yz_err *e);
/* Whether the grants include perm; fills scope (in the arena) when they do. */
bool iam_authz_allows(const iam_authz *z, const char *perm, arena *a, yz_scope *scope);
/* {perm: [org paths]} for /api/v1/me. */
json_t *iam_authz_json(const iam_authz *z);

/* ---- for engines that route work to people ---- */

/* A user's role assignments: role code and the org subtree it applies to. */
typedef struct iam_grant {
	const char *role;
	int64_t org_id;
	const char *path;
} iam_grant;
YZ_MUST_USE yz_status iam_user_roles(store_conn *c, int64_t user_id, arena *a, iam_grant **out,
                                     int *n, yz_err *e);
/* id, org and org path of an active user by login (YZ_ENOTFOUND otherwise). */
YZ_MUST_USE yz_status iam_user_find(store_conn *c, const char *login, int64_t *id, int64_t *org_id,
                                    char *org_path, size_t cap, yz_err *e);
/* Active users holding role within a scope covering org_path (for copies and
 * alerts): ids in the arena. */
YZ_MUST_USE yz_status iam_role_holders(store_conn *c, const char *role, const char *org_path,
                                       arena *a, int64_t **ids, int *n, yz_err *e);
/* Active staff (not citizens) whose own org lies within org_path (for tasks
 * given to a department): at most max ids, in the arena. */
YZ_MUST_USE yz_status iam_org_members(store_conn *c, const char *org_path, int max, arena *a,
                                      int64_t **ids, int *n, yz_err *e);
/* The phone and e-mail of an active user ("" when none or not active), for
 * notifications. */
YZ_MUST_USE yz_status iam_user_contact(store_conn *c, int64_t id, char *phone, size_t pcap,
                                       char *email, size_t ecap, yz_err *e);
/* Whether a role or an org code exists (for definition checks). */
bool iam_role_exists(store_conn *c, const char *code);
bool iam_org_exists(store_conn *c, const char *code);

/* ---- data packs and first operator ---- */

/* Load orgs.json, roles.json and users.json from a pack directory. */
YZ_MUST_USE yz_status iam_load_pack(store *s, const iam_policy *p, const char *dir,
                                    json_t **users_out, yz_err *e);
/* An installation without a pack: the city root org "root" and one operator
 * "admin" with a random password written into password_out. */
YZ_MUST_USE yz_status iam_bootstrap(store *s, const iam_policy *p, const char *city_name,
                                    char *password_out, size_t cap, yz_err *e);

#endif
