/*
 * iam_int.h — helpers shared by the iam source files. Not for other modules.
 */
#ifndef YZ_IAM_INT_H
#define YZ_IAM_INT_H

#include "audit/audit.h"
#include "core/jx.h"
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

/* After a write that may change who may do what: drop the request cache. */
static inline yz_status iam_changed(yz_status st)
{
	iam_cache_invalidate();
	return st;
}

#endif
