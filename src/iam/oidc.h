/*
 * oidc.h — iam as an OpenID Connect provider (single sign-on) for the city's
 * department applications: registered clients, the authorisation code flow
 * with PKCE (S256 only), refresh tokens, client credentials, userinfo,
 * introspection (RFC 7662), revocation (RFC 7009) and RP-initiated logout.
 *
 * Tokens:
 *  - ID tokens and access tokens are ES256 JWTs (no JWS algorithm is
 *    registered for SM2) signed with iam's key (iam_keys.c), kid = RFC 7638
 *    thumbprint. Access tokens follow RFC 9068 (typ "at+jwt", iss, sub, aud =
 *    the issuer, client_id, scope, iat, exp, jti); they are checked without
 *    the database except for the revocation list, which holds the jti of
 *    revoked tokens only until they would have expired anyway. So issuing an
 *    access token by client credentials writes nothing at all.
 *  - Authorisation codes and refresh tokens are opaque random values of
 *    which only the SM3 is stored. A code is good once, for 60 s; using it a
 *    second time revokes what the first use issued. Refresh tokens rotate:
 *    each use gives a new one of the same family, and presenting one already
 *    used revokes the whole family (and its latest access token).
 *  - `sub` is a random, stable identifier per user (iam_oidc_subject), never
 *    the login; for client credentials it is the client_id.
 *
 * Client secrets are random 256-bit values shown once; only their SM3 is
 * stored (a slow password hash buys nothing for a secret of full entropy,
 * and the token endpoint must stay fast). Redirect URIs and post-logout URIs
 * match exactly, byte for byte.
 *
 * Errors of the protocol endpoints are OAuth's own: functions return
 * YZ_EINVAL (HTTP 400), YZ_EUNAUTH (401: invalid_client, invalid_token) or
 * YZ_EFORBIDDEN (403: insufficient_scope) with the OAuth error code and
 * description in an iam_oauth_err; other statuses are server errors.
 *
 * Module logic only: the HTTP endpoints are in oidc_api.c and oidc_pages.c.
 */
#ifndef YZ_IAM_OIDC_H
#define YZ_IAM_OIDC_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/actor.h"
#include "core/buf.h"
#include "core/status.h"
#include "store/store.h"

#define IAM_OIDC_CODE_TTL_S    60
#define IAM_OIDC_ACCESS_TTL_S  600
#define IAM_OIDC_ID_TTL_S      600
#define IAM_OIDC_REFRESH_TTL_S (12 * 3600)
#define IAM_OIDC_ISSUER_MAX    256

typedef struct iam_oauth_err {
	char error[40]; /* "invalid_grant", "invalid_client", ... */
	char description[200];
} iam_oauth_err;

/* ---- keys (iam_keys.c) ---- */

/* Load iam's key-encryption key (made on first use) and the OpenID Connect
 * signing keys (one is made when there is none). Start-up only. */
YZ_MUST_USE yz_status iam_keys_load(store *s, const char *data_dir, yz_err *e);
void iam_keys_unload(void);
/* {"keys": [JWK...]} of the active signing keys. New reference. */
json_t *iam_oidc_jwks(void);
/* The discovery document for an issuer. New reference. */
json_t *iam_oidc_discovery(const char *issuer);

/* ---- clients ---- */

/* in: {name, org_id, redirect_uris: [..], post_logout_redirect_uris?: [..],
 * grant_types?: [..] (default ["authorization_code", "refresh_token"]),
 * scopes?: [..] (default ["openid", "profile"]), client_id?}. The owning
 * department must lie within who->scope. *out is the client with
 * "client_secret" — the only time the secret is ever shown. */
YZ_MUST_USE yz_status iam_oidc_client_create(store *s, const yz_actor *who, json_t *in,
                                             json_t **out, yz_err *e);
/* Field checks of create (or of an update when create is false) alone. */
YZ_MUST_USE yz_status iam_oidc_client_validate(json_t *in, bool create, yz_err *e);
/* in: any of {name, redirect_uris, post_logout_redirect_uris, grant_types,
 * scopes, status ("active"|"disabled")}; version must match (0 skips). */
YZ_MUST_USE yz_status iam_oidc_client_update(store *s, const yz_actor *who, const char *client_id,
                                             int64_t version, json_t *in, yz_err *e);
/* A new secret replaces the old one at once; *out = {client_id,
 * client_secret}. */
YZ_MUST_USE yz_status iam_oidc_client_new_secret(store *s, const yz_actor *who,
                                                 const char *client_id, json_t **out, yz_err *e);
YZ_MUST_USE yz_status iam_oidc_client_get(store_conn *c, const yz_scope *scope,
                                          const char *client_id, json_t **out, yz_err *e);
/* {"items": [...]} within scope, by name. */
YZ_MUST_USE yz_status iam_oidc_client_list(store_conn *c, const yz_scope *scope, json_t **out,
                                           yz_err *e);
extern const char *const iam_oidc_grant_types[]; /* NULL-terminated */

/* ---- the authorisation endpoint ---- */

typedef struct iam_oidc_authz_req {
	const char *response_type, *client_id, *redirect_uri, *scope, *state, *nonce;
	const char *code_challenge, *code_challenge_method, *prompt;
} iam_oidc_authz_req;

/* Check a request before anyone is asked to sign in. *redirect_ok tells
 * whether errors may go back to redirect_uri: never for an unknown or
 * disabled client or a redirect_uri that is not registered (the page shows
 * the error instead); then a failure with oe filled. */
YZ_MUST_USE yz_status iam_oidc_authorize_check(store *s, const iam_oidc_authz_req *q,
                                               bool *redirect_ok, iam_oauth_err *oe, yz_err *e);
/* For a checked request and a signed-in user with session session_id: a
 * new code (written into code, cap >= 64). Audited as iam.oidc.authorize. */
YZ_MUST_USE yz_status iam_oidc_code_issue(store *s, const yz_actor *who, const char *session_id,
                                          const iam_oidc_authz_req *q, char *code, size_t cap,
                                          yz_err *e);

/* ---- the token endpoint and the other protocol endpoints ---- */

/* The client as it authenticated: client_secret_basic (basic = true) or
 * client_secret_post. */
typedef struct iam_oidc_client_auth {
	const char *client_id, *client_secret;
	bool basic;
} iam_oidc_client_auth;

typedef struct iam_oidc_token_req {
	const char *grant_type, *code, *redirect_uri, *code_verifier, *refresh_token, *scope;
} iam_oidc_token_req;

/* Any grant (from: who asks, for the audit records of replays): *out is the
 * token response (access_token, token_type,
 * expires_in, scope, id_token?, refresh_token?). */
YZ_MUST_USE yz_status iam_oidc_token(store *s, const char *issuer, const yz_actor *from,
                                     const iam_oidc_client_auth *ca, const iam_oidc_token_req *q,
                                     json_t **out, iam_oauth_err *oe, yz_err *e);
/* Claims about the user of a bearer access token, by its scopes. */
YZ_MUST_USE yz_status iam_oidc_userinfo(store *s, const char *issuer, const char *access_token,
                                        json_t **out, iam_oauth_err *oe, yz_err *e);
/* RFC 7662: {"active": false} for anything not currently valid. */
YZ_MUST_USE yz_status iam_oidc_introspect(store *s, const char *issuer,
                                          const iam_oidc_client_auth *ca, const char *token,
                                          json_t **out, iam_oauth_err *oe, yz_err *e);
/* RFC 7009: revokes a refresh token (its whole family) or an access token
 * issued to this client; unknown tokens are not an error. */
YZ_MUST_USE yz_status iam_oidc_revoke(store *s, const char *issuer, const yz_actor *from,
                                      const iam_oidc_client_auth *ca, const char *token,
                                      iam_oauth_err *oe, yz_err *e);

/* RP-initiated logout: checks id_token_hint (signature and issuer; it may
 * have expired), client_id and post_logout_redirect_uri (registered for the
 * client). *user_id is the hint's user (0 without a hint). YZ_EINVAL with oe
 * when the request is bad: then nobody is redirected anywhere. */
YZ_MUST_USE yz_status iam_oidc_logout_check(store *s, const char *issuer, const char *id_token_hint,
                                            const char *client_id, const char *post_logout_uri,
                                            int64_t *user_id, iam_oauth_err *oe, yz_err *e);

/* Inside a write job that ends a session: revoke the refresh tokens issued
 * under it. */
YZ_MUST_USE yz_status iam_oidc_session_ended_tx(store_conn *tx, const char *session_id, yz_err *e);
/* Delete expired codes, refresh tokens, revocation entries and waiting
 * sign-ins (a background job). */
YZ_MUST_USE yz_status iam_sweep(store *s, yz_err *e);

/* ---- JWTs (exposed for tests) ---- */

/* Sign claims as a compact JWS with the current key; typ is the header's
 * typ ("JWT", "at+jwt"). Appends to out. */
YZ_MUST_USE yz_status iam_oidc_jwt_sign(json_t *claims, const char *typ, buf *out, yz_err *e);
/* Verify a compact JWS made here: ES256, a known kid, the signature; *claims
 * (new reference) and typ (cap bytes) on success. Does not look at times. */
YZ_MUST_USE yz_status iam_oidc_jwt_verify(const char *jwt, json_t **claims, char *typ, size_t cap,
                                          yz_err *e);
/* PKCE: whether BASE64URL(SHA-256(verifier)) equals challenge, verifier
 * being 43-128 characters of [A-Za-z0-9-._~] (RFC 7636 §4.1). */
bool iam_oidc_pkce_s256_ok(const char *verifier, const char *challenge);

#endif
