/*
 * iam_int.h — helpers shared by the iam source files. Not for other modules.
 */
#ifndef YZ_IAM_INT_H
#define YZ_IAM_INT_H

#include "audit/audit.h"
#include "core/jx.h"
#include "crypto/crypto.h"
#include "iam/iam.h"

#define IAM_PATH_MAX 256

/* The org of a user or an org, for scope checks and audit: path into out. */
yz_status iam_org_path_tx(store_conn *c, int64_t org_id, char *out, size_t cap, yz_err *e);
/* Does the scope cover the org (by id)? Looks the path up. */
yz_status iam_scope_covers_org(store_conn *c, const yz_scope *scope, int64_t org_id, bool *covers,
                               yz_err *e);
/* The stored id of a session: SM3 hex of its cookie value. */
void iam_session_id_of(const char *token, char out[65]);

/* Validation rules shared by create/update. */
bool iam_check_login(json_t *v, const char **rule, const char **expected);
bool iam_check_phone(json_t *v, const char **rule, const char **expected);
bool iam_check_email(json_t *v, const char **rule, const char **expected);
bool iam_check_kind(json_t *v, const char **rule, const char **expected);
bool iam_check_org_kind(json_t *v, const char **rule, const char **expected);
bool iam_check_code(json_t *v, const char **rule, const char **expected);

/* Insert a user inside a write job (pack loading and the API share it).
 * pw_hash is already computed. */
yz_status iam_user_insert_tx(store_conn *tx, const yz_actor *who, json_t *in, const char *pw_hash,
                             int64_t *id, yz_err *e);
/* Insert role assignments [{role: code, scope: org id}] for a user. */
yz_status iam_user_roles_tx(store_conn *tx, const yz_actor *who, int64_t user_id, json_t *roles,
                            const yz_scope *grant_scope, yz_err *e);
yz_status iam_role_insert_tx(store_conn *tx, const yz_actor *who, json_t *in, int64_t *id,
                             yz_err *e);
yz_status iam_org_insert_tx(store_conn *tx, const yz_actor *who, json_t *in, int64_t *id,
                            yz_err *e);

/* Field validation of create inputs, shared by the API and pack loading. */
yz_status iam_org_validate_create(json_t *in, yz_err *e);
yz_status iam_user_validate_create(json_t *in, yz_err *e);
yz_status iam_role_validate_create(json_t *in, yz_err *e);

/* ---- keys (iam_keys.c) ---- */

/* A copy of iam's key-encryption key; false when iam_keys_load has not run. */
bool iam_kek_copy(unsigned char out[CRYPTO_SEAL_KEY_LEN]);
/* The key that signs (with its kid), or NULL before iam_keys_load. */
const crypto_key *iam_oidc_signer(const char **kid);
/* A loaded signing key by kid (n bytes), or NULL. */
const crypto_key *iam_oidc_key_by_kid(const char *kid, size_t n);

/* ---- sessions and sign-in (iam_auth.c, totp.c) ---- */

/* How long a sign-in may wait for its second factor. */
#define IAM_PENDING_MS (10 * 60000)

/* Open a session inside a write job: a new row in iam_session and the
 * user's successful sign-in (failures reset, last login, rehash when
 * new_hash), audited as iam.login with the methods used (amr: "pwd" or
 * "pwd otp"). */
yz_status iam_session_open_tx(store_conn *tx, const iam_policy *p, const yz_actor *who,
                              int64_t user_id, const char *org_path, const char *session_id,
                              const char *csrf, const char *amr, const char *new_hash,
                              const char *user_agent, yz_err *e);
/* A failed sign-in step inside a write job: the failure counts, and the
 * account locks after policy->lockout_failures (*locked_until then set). */
yz_status iam_login_failed_tx(store_conn *tx, const iam_policy *p, const yz_actor *who,
                              int64_t user_id, const char *org_path, const char *action,
                              int64_t *locked_until, yz_err *e);
/* When and how a session signed in (OpenID Connect auth_time and amr). */
yz_status iam_session_auth(store_conn *c, const char *session_id, int64_t *user_id,
                           int64_t *auth_time, char *amr, size_t cap, yz_err *e);

/* ---- TOTP (totp.c) ---- */

/* Whether the user holds a role that policy->totp_required_roles names. */
yz_status iam_totp_required_tx(store_conn *c, const iam_policy *p, int64_t user_id, bool *required,
                               yz_err *e);
/* The user's confirmed TOTP, if any: *enrolled, and the step of a code that
 * is right now and not older than the last one used (0 when code is wrong,
 * replayed or NULL). */
yz_status iam_totp_match(store_conn *c, int64_t user_id, const char *code, bool confirmed_only,
                         bool *enrolled, int64_t *step, yz_err *e);
/* Inside a write job: use the step (refused when an equal or later one was
 * used since: *used false), confirming an enrolment on the way. */
yz_status iam_totp_use_tx(store_conn *tx, int64_t user_id, int64_t step, bool *used, yz_err *e);

/* After a write that may change who may do what: drop the request cache. */
static inline yz_status iam_changed(yz_status st)
{
	iam_cache_invalidate();
	return st;
}

#endif
