/* Unit tests for iam's OpenID Connect provider on every backend: PKCE S256
 * (RFC 7636 Appendix B), the authorisation request checks, a code good once
 * (a replay revokes what it gave), refresh rotation with replay detection
 * that revokes the family, client credentials without a durable write,
 * introspection and revocation, and ES256 tokens checked by OpenSSL itself
 * (the raw JOSE signature turned into DER by hand, the key from the JWKS).
 * The audit chain must verify at the end of each test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "audit/audit.h"
#include "core/b64.h"
#include "core/clock.h"
#include "core/jx.h"
#include "crypto/crypto.h"
#include "iam/iam.h"
#include "iam/oidc.h"
#include "testutil.h"

#define ISSUER    "https://sso.example.gov.cn"
#define VERIFIER  "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
#define CHALLENGE "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
#define REDIRECT  "https://app.example.gov.cn/cb"

static const iam_policy policy = {
    .pbkdf2_iterations = 1000,
    .lockout_failures = 5,
    .lockout_minutes = 15,
    .session_idle_minutes = 30,
    .session_max_hours = 12,
};

typedef struct fx {
	store *s;
	char target[600];
	char *dir;
	char client_id[80], secret[120];
} fx;

static int64_t org_id(fx *f, const char *code)
{
	store_conn *c;
	assert_int_equal(store_reader(f->s, &c, NULL), YZ_OK);
	int64_t id = 0;
	store_val a[] = {sv_text(code)};
	assert_int_equal(
	    store_query_int(c, "SELECT id FROM iam_org WHERE code = ?", a, 1, &id, NULL), YZ_OK);
	return id;
}

static void open_fx(fx *f, const char *backend)
{
	memset(f, 0, sizeof *f);
	tu_register_pack_perms("packs/demo-city");
	f->s = tu_open_store(backend, f->target, sizeof f->target);
	f->dir = tu_tmpdir();
	yz_err e = {0};
	assert_int_equal(store_migrate(f->s, "audit", audit_migrations, audit_nmigrations, &e),
	                 YZ_OK);
	assert_int_equal(store_migrate(f->s, "iam", iam_migrations, iam_nmigrations, &e), YZ_OK);
	json_t *users;
	if (iam_load_pack(f->s, &policy, tu_src("packs/demo-city"), &users, &e) != YZ_OK)
		fail_msg("pack: %s", e.msg);
	json_decref(users);
	if (iam_keys_load(f->s, f->dir, &e) != YZ_OK)
		fail_msg("keys: %s", e.msg);
	/* a department application that may use every grant */
	yz_actor admin = actor_system("test");
	json_t *in =
	    json_pack("{s:s, s:I, s:[s], s:[s], s:[s,s,s], s:[s,s,s,s]}", "name", "发改委项目库",
	              "org_id", (json_int_t)org_id(f, "520100-fgw"), "redirect_uris", REDIRECT,
	              "post_logout_redirect_uris", "https://app.example.gov.cn/bye", "grant_types",
	              "authorization_code", "refresh_token", "client_credentials", "scopes",
	              "openid", "profile", "email", "projects.read");
	json_t *out = NULL;
	if (iam_oidc_client_create(f->s, &admin, in, &out, &e) != YZ_OK)
		fail_msg("client: %s (%s)", e.msg, e.nfield ? e.fields[0].field : "");
	json_decref(in);
	yz_strlcpy(f->client_id, jx_str(out, "client_id", ""), sizeof f->client_id);
	yz_strlcpy(f->secret, jx_str(out, "client_secret", ""), sizeof f->secret);
	assert_true(strlen(f->secret) > 40);
	json_decref(out);
}

static void close_fx(fx *f)
{
	audit_report rep;
	yz_err e = {0};
	assert_int_equal(audit_verify(f->s, &rep, &e), YZ_OK);
	if (!rep.ok)
		fail_msg("audit chain broken at %lld: %s", (long long)rep.first_bad, rep.reason);
	clock_use_real();
	iam_keys_unload();
	store_close(f->s);
	tu_drop_db(f->target);
	tu_rmtree(f->dir);
	free(f->dir);
}

static int64_t count(fx *f, const char *sql)
{
	store_conn *c;
	assert_int_equal(store_reader(f->s, &c, NULL), YZ_OK);
	int64_t n = -1;
	assert_int_equal(store_query_int(c, sql, NULL, 0, &n, NULL), YZ_OK);
	return n;
}

/* A signed-in user: their actor and session id. */
static yz_actor sign_in(fx *f, const char *login, const char *password, char sid[65])
{
	yz_actor from = actor_system("test");
	yz_strlcpy(from.ip, "127.0.0.1", sizeof from.ip);
	iam_login_result res;
	yz_err e = {0};
	if (iam_login(f->s, &policy, &from, login, password, "ua", &res, &e) != YZ_OK)
		fail_msg("login %s: %s", login, e.msg);
	iam_session_info si;
	assert_int_equal(iam_session_resolve(f->s, &policy, res.token, &si, &e), YZ_OK);
	memcpy(sid, si.session, 65);
	yz_actor who = actor_system("x");
	who.user_id = si.user_id;
	who.org_id = si.org_id;
	yz_strlcpy(who.login, si.login, sizeof who.login);
	return who;
}

static iam_oidc_authz_req authz_req(fx *f)
{
	iam_oidc_authz_req q = {.response_type = "code",
	                        .client_id = f->client_id,
	                        .redirect_uri = REDIRECT,
	                        .scope = "openid profile",
	                        .state = "st-1",
	                        .nonce = "n-0S6_WzA2Mj",
	                        .code_challenge = CHALLENGE,
	                        .code_challenge_method = "S256"};
	return q;
}

static void new_code(fx *f, const yz_actor *who, const char *sid, char code[64])
{
	iam_oidc_authz_req q = authz_req(f);
	bool redirect_ok = false;
	iam_oauth_err oe = {0};
	yz_err e = {0};
	assert_int_equal(iam_oidc_authorize_check(f->s, &q, &redirect_ok, &oe, &e), YZ_OK);
	assert_int_equal(iam_oidc_code_issue(f->s, who, sid, &q, code, 64, &e), YZ_OK);
	assert_true(strlen(code) >= 43);
}

static yz_status exchange(fx *f, const char *code, const char *verifier, json_t **out,
                          iam_oauth_err *oe)
{
	iam_oidc_client_auth ca = {f->client_id, f->secret, true};
	iam_oidc_token_req q = {.grant_type = "authorization_code",
	                        .code = code,
	                        .redirect_uri = REDIRECT,
	                        .code_verifier = verifier};
	yz_actor from = actor_system("rp");
	yz_err e = {0};
	memset(oe, 0, sizeof *oe);
	return iam_oidc_token(f->s, ISSUER, &from, &ca, &q, out, oe, &e);
}

static yz_status refresh(fx *f, const char *rt, json_t **out, iam_oauth_err *oe)
{
	iam_oidc_client_auth ca = {f->client_id, f->secret, false};
	iam_oidc_token_req q = {.grant_type = "refresh_token", .refresh_token = rt};
	yz_actor from = actor_system("rp");
	yz_err e = {0};
	memset(oe, 0, sizeof *oe);
	return iam_oidc_token(f->s, ISSUER, &from, &ca, &q, out, oe, &e);
}

static bool active(fx *f, const char *token)
{
	iam_oidc_client_auth ca = {f->client_id, f->secret, false};
	json_t *out = NULL;
	iam_oauth_err oe = {0};
	yz_err e = {0};
	assert_int_equal(iam_oidc_introspect(f->s, ISSUER, &ca, token, &out, &oe, &e), YZ_OK);
	bool a = jx_bool(out, "active", false);
	json_decref(out);
	return a;
}

/* ---- OpenSSL's own verdict on a JWT ---- */

static size_t unb64(const char *s, size_t n, unsigned char *out, size_t cap)
{
	size_t len = 0;
	assert_int_equal(b64_decode(s, n, true, out, cap, &len), YZ_OK);
	return len;
}

/* The public key of kid from the JWKS, as an EVP_PKEY built by OpenSSL from
 * the uncompressed point (not through our crypto module). */
static EVP_PKEY *jwks_key(const char *kid)
{
	json_t *jwks = iam_oidc_jwks();
	json_t *k = NULL;
	size_t i;
	json_t *x;
	json_array_foreach (json_object_get(jwks, "keys"), i, x)
		if (!strcmp(jx_str(x, "kid", ""), kid))
			k = x;
	assert_non_null(k);
	assert_string_equal(jx_str(k, "kty", ""), "EC");
	assert_string_equal(jx_str(k, "crv", ""), "P-256");
	assert_string_equal(jx_str(k, "alg", ""), "ES256");
	unsigned char pt[65];
	pt[0] = 4;
	const char *xs = jx_str(k, "x", ""), *ys = jx_str(k, "y", "");
	assert_int_equal(unb64(xs, strlen(xs), pt + 1, 32), 32);
	assert_int_equal(unb64(ys, strlen(ys), pt + 33, 32), 32);
	json_decref(jwks);
	static const unsigned char prefix[] = {0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48,
	                                       0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
	                                       0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00};
	unsigned char spki[sizeof prefix + 65];
	memcpy(spki, prefix, sizeof prefix);
	memcpy(spki + sizeof prefix, pt, 65);
	const unsigned char *p = spki;
	EVP_PKEY *pk = d2i_PUBKEY(NULL, &p, (long)sizeof spki);
	assert_non_null(pk);
	return pk;
}

/* Verify a compact JWS with OpenSSL and return its claims and header. */
static json_t *openssl_check_jwt(const char *jwt, json_t **header)
{
	const char *d1 = strchr(jwt, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	assert_non_null(d2);
	unsigned char raw_part[4096];
	size_t n = unb64(jwt, (size_t)(d1 - jwt), raw_part, sizeof raw_part);
	json_t *h = NULL, *claims = NULL;
	assert_int_equal(jx_parse_object((const char *)raw_part, n, &h, NULL), YZ_OK);
	assert_string_equal(jx_str(h, "alg", ""), "ES256");
	unsigned char raw[64];
	assert_int_equal(unb64(d2 + 1, strlen(d2 + 1), raw, sizeof raw), 64);
	ECDSA_SIG *sig = ECDSA_SIG_new();
	assert_int_equal(
	    ECDSA_SIG_set0(sig, BN_bin2bn(raw, 32, NULL), BN_bin2bn(raw + 32, 32, NULL)), 1);
	unsigned char *der = NULL;
	int dl = i2d_ECDSA_SIG(sig, &der);
	EVP_PKEY *pk = jwks_key(jx_str(h, "kid", ""));
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pk), 1);
	assert_int_equal(
	    EVP_DigestVerify(md, der, (size_t)dl, (const unsigned char *)jwt, (size_t)(d2 - jwt)),
	    1);
	/* and a changed payload does not verify */
	char *bad = strdup(jwt);
	bad[(d1 - jwt) + 5] = bad[(d1 - jwt) + 5] == 'A' ? 'B' : 'A';
	assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pk), 1);
	assert_int_not_equal(
	    EVP_DigestVerify(md, der, (size_t)dl, (const unsigned char *)bad, (size_t)(d2 - jwt)),
	    1);
	free(bad);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pk);
	OPENSSL_free(der);
	ECDSA_SIG_free(sig);
	n = unb64(d1 + 1, (size_t)(d2 - d1 - 1), raw_part, sizeof raw_part);
	assert_int_equal(jx_parse_object((const char *)raw_part, n, &claims, NULL), YZ_OK);
	if (header)
		*header = h;
	else
		json_decref(h);
	return claims;
}

/* ---- tests ---- */

static void pkce_s256(void **state)
{
	(void)state;
	/* RFC 7636 Appendix B */
	assert_true(iam_oidc_pkce_s256_ok(VERIFIER, CHALLENGE));
	assert_false(
	    iam_oidc_pkce_s256_ok("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK", CHALLENGE));
	/* plain (verifier == challenge) is not S256 */
	assert_false(iam_oidc_pkce_s256_ok(CHALLENGE, CHALLENGE));
	/* too short, too long, outside the alphabet */
	assert_false(iam_oidc_pkce_s256_ok("abc", CHALLENGE));
	char long_v[130];
	memset(long_v, 'a', 129);
	long_v[129] = '\0';
	assert_false(iam_oidc_pkce_s256_ok(long_v, CHALLENGE));
	assert_false(
	    iam_oidc_pkce_s256_ok("dBjftJeZ4CVP+mB92K27uhbUJU1p1r/wW1gFWFOEjXk", CHALLENGE));
	assert_false(iam_oidc_pkce_s256_ok(NULL, CHALLENGE));
	assert_false(iam_oidc_pkce_s256_ok(VERIFIER, NULL));
}

static void authorize_checks(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		fx f;
		open_fx(&f, be[b]);
		bool ok;
		iam_oauth_err oe;
		yz_err e = {0};
		iam_oidc_authz_req q = authz_req(&f);
		assert_int_equal(iam_oidc_authorize_check(f.s, &q, &ok, &oe, &e), YZ_OK);
		/* unknown client and unregistered redirect_uri: never redirected */
		q.client_id = "nobody";
		memset(&oe, 0, sizeof oe);
		assert_int_equal(iam_oidc_authorize_check(f.s, &q, &ok, &oe, &e), YZ_EINVAL);
		assert_false(ok);
		assert_string_equal(oe.error, "invalid_client");
		q = authz_req(&f);
		q.redirect_uri = "https://app.example.gov.cn/cb/";
		assert_int_equal(iam_oidc_authorize_check(f.s, &q, &ok, &oe, &e), YZ_EINVAL);
		assert_false(ok);
		/* the rest go back to the application */
		struct {
			const char *what, *error;
			void (*change)(iam_oidc_authz_req *);
		} cases[] = {{"plain PKCE", "invalid_request", NULL},
		             {"no PKCE", "invalid_request", NULL},
		             {"token flow", "unsupported_response_type", NULL},
		             {"foreign scope", "invalid_scope", NULL}};
		for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
			q = authz_req(&f);
			if (i == 0) {
				q.code_challenge_method = "plain";
				q.code_challenge = VERIFIER;
			} else if (i == 1) {
				q.code_challenge = NULL;
				q.code_challenge_method = NULL;
			} else if (i == 2) {
				q.response_type = "token";
			} else {
				q.scope = "openid admin.everything";
			}
			memset(&oe, 0, sizeof oe);
			assert_int_equal(iam_oidc_authorize_check(f.s, &q, &ok, &oe, &e),
			                 YZ_EINVAL);
			assert_true(ok);
			assert_string_equal(oe.error, cases[i].error);
		}
		close_fx(&f);
	}
}

static void code_flow_and_single_use(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		fx f;
		open_fx(&f, be[b]);
		char sid[65], code[64];
		yz_actor who = sign_in(&f, "chenjing.fgw", "Yizhan@2026", sid);
		new_code(&f, &who, sid, code);
		json_t *out = NULL;
		iam_oauth_err oe;
		assert_int_equal(exchange(&f, code, VERIFIER, &out, &oe), YZ_OK);
		const char *idt = jx_str(out, "id_token", NULL);
		const char *at = jx_str(out, "access_token", NULL);
		const char *rt = jx_str(out, "refresh_token", NULL);
		assert_non_null(idt);
		assert_non_null(at);
		assert_non_null(rt);
		assert_string_equal(jx_str(out, "token_type", ""), "Bearer");
		/* the ID token, checked by OpenSSL against the JWKS */
		json_t *h = NULL;
		json_t *claims = openssl_check_jwt(idt, &h);
		assert_string_equal(jx_str(h, "typ", ""), "JWT");
		assert_string_equal(jx_str(claims, "iss", ""), ISSUER);
		assert_string_equal(jx_str(claims, "aud", ""), f.client_id);
		assert_string_equal(jx_str(claims, "nonce", ""), "n-0S6_WzA2Mj");
		assert_string_equal(jx_str(claims, "name", ""), "陈静");
		assert_string_equal(jx_str(claims, "dept", ""), "520100-fgw");
		const char *sub = jx_str(claims, "sub", "");
		assert_true(strlen(sub) >= 16);
		assert_string_not_equal(sub, "chenjing.fgw");
		assert_true(jx_int(claims, "exp", 0) > jx_int(claims, "iat", 0));
		assert_true(jx_int(claims, "auth_time", 0) > 0);
		assert_string_equal(
		    json_string_value(json_array_get(json_object_get(claims, "amr"), 0)), "pwd");
		json_decref(h);
		/* the access token: an at+jwt with a jti, also OpenSSL-checked */
		json_t *ac = openssl_check_jwt(at, &h);
		assert_string_equal(jx_str(h, "typ", ""), "at+jwt");
		assert_string_equal(jx_str(ac, "sub", ""), sub);
		assert_string_equal(jx_str(ac, "client_id", ""), f.client_id);
		assert_true(strlen(jx_str(ac, "jti", "")) >= 16);
		json_decref(h);
		json_decref(ac);
		/* the same subject next time */
		char code2[64];
		new_code(&f, &who, sid, code2);
		json_t *out2 = NULL;
		assert_int_equal(exchange(&f, code2, VERIFIER, &out2, &oe), YZ_OK);
		json_t *c2 = openssl_check_jwt(jx_str(out2, "id_token", ""), NULL);
		assert_string_equal(jx_str(c2, "sub", ""), sub);
		json_decref(c2);
		json_decref(out2);
		/* userinfo with the access token */
		json_t *ui = NULL;
		yz_err e = {0};
		assert_int_equal(iam_oidc_userinfo(f.s, ISSUER, at, &ui, &oe, &e), YZ_OK);
		assert_string_equal(jx_str(ui, "sub", ""), sub);
		assert_string_equal(jx_str(ui, "preferred_username", ""), "chenjing.fgw");
		json_decref(ui);
		/* another issuer's name: not our token */
		assert_int_equal(iam_oidc_userinfo(f.s, "https://other", at, &ui, &oe, &e),
		                 YZ_EUNAUTH);
		/* the code again: refused, and what it gave is revoked */
		json_t *again = NULL;
		assert_true(active(&f, rt));
		assert_true(active(&f, at));
		assert_int_equal(exchange(&f, code, VERIFIER, &again, &oe), YZ_EINVAL);
		assert_string_equal(oe.error, "invalid_grant");
		assert_null(again);
		assert_false(active(&f, rt));
		assert_false(active(&f, at));
		assert_int_equal(iam_oidc_userinfo(f.s, ISSUER, at, &ui, &oe, &e), YZ_EUNAUTH);
		assert_string_equal(oe.error, "invalid_token");
		assert_int_equal(count(&f, "SELECT COUNT(*) FROM audit_log WHERE action = "
		                           "'iam.oidc.code_replayed'"),
		                 1);
		/* a wrong verifier spends the code: the right one afterwards is too late */
		char code3[64];
		new_code(&f, &who, sid, code3);
		assert_int_equal(exchange(&f, code3, "x" VERIFIER, &again, &oe), YZ_EINVAL);
		assert_string_equal(oe.error, "invalid_grant");
		assert_int_equal(exchange(&f, code3, VERIFIER, &again, &oe), YZ_EINVAL);
		assert_string_equal(oe.error, "invalid_grant");
		/* a code is good for 60 seconds */
		char code4[64];
		new_code(&f, &who, sid, code4);
		clock_set_fake(clock_now_ms() + 61000);
		assert_int_equal(exchange(&f, code4, VERIFIER, &again, &oe), YZ_EINVAL);
		assert_string_equal(oe.error, "invalid_grant");
		clock_use_real();
		/* a wrong secret, an unknown client */
		iam_oidc_client_auth bad = {f.client_id, "yzs_wrong", true};
		iam_oidc_token_req q = {.grant_type = "client_credentials"};
		yz_actor from = actor_system("rp");
		assert_int_equal(iam_oidc_token(f.s, ISSUER, &from, &bad, &q, &again, &oe, &e),
		                 YZ_EUNAUTH);
		assert_string_equal(oe.error, "invalid_client");
		bad.client_id = "nobody";
		assert_int_equal(iam_oidc_token(f.s, ISSUER, &from, &bad, &q, &again, &oe, &e),
		                 YZ_EUNAUTH);
		json_decref(claims);
		json_decref(out);
		close_fx(&f);
	}
}

static void refresh_rotation_and_replay(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		fx f;
		open_fx(&f, be[b]);
		char sid[65], code[64];
		yz_actor who = sign_in(&f, "chenjing.fgw", "Yizhan@2026", sid);
		new_code(&f, &who, sid, code);
		json_t *t0 = NULL, *t1 = NULL, *t2 = NULL, *x = NULL;
		iam_oauth_err oe;
		assert_int_equal(exchange(&f, code, VERIFIER, &t0, &oe), YZ_OK);
		const char *rt0 = jx_str(t0, "refresh_token", "");
		/* each use gives a new refresh token of the same family */
		assert_int_equal(refresh(&f, rt0, &t1, &oe), YZ_OK);
		const char *rt1 = jx_str(t1, "refresh_token", "");
		assert_string_not_equal(rt0, rt1);
		assert_non_null(jx_str(t1, "id_token", NULL));
		assert_false(active(&f, rt0));
		assert_true(active(&f, rt1));
		assert_int_equal(refresh(&f, rt1, &t2, &oe), YZ_OK);
		const char *rt2 = jx_str(t2, "refresh_token", "");
		const char *at2 = jx_str(t2, "access_token", "");
		assert_true(active(&f, rt2));
		assert_true(active(&f, at2));
		/* an old one again: refused, and the whole family with its access token */
		assert_int_equal(refresh(&f, rt0, &x, &oe), YZ_EINVAL);
		assert_string_equal(oe.error, "invalid_grant");
		assert_false(active(&f, rt2));
		assert_false(active(&f, at2));
		assert_int_equal(refresh(&f, rt2, &x, &oe), YZ_EINVAL);
		assert_int_equal(count(&f, "SELECT COUNT(*) FROM audit_log WHERE action = "
		                           "'iam.oidc.refresh_replayed'"),
		                 1);
		/* a fresh family is untouched by the other's revocation; revoking
		 * it (RFC 7009) ends it */
		char code2[64];
		new_code(&f, &who, sid, code2);
		json_t *u0 = NULL, *u1 = NULL;
		assert_int_equal(exchange(&f, code2, VERIFIER, &u0, &oe), YZ_OK);
		assert_true(active(&f, jx_str(u0, "refresh_token", "")));
		iam_oidc_client_auth ca = {f.client_id, f.secret, false};
		yz_actor from = actor_system("rp");
		yz_err e = {0};
		assert_int_equal(iam_oidc_revoke(f.s, ISSUER, &from, &ca,
		                                 jx_str(u0, "refresh_token", ""), &oe, &e),
		                 YZ_OK);
		assert_false(active(&f, jx_str(u0, "refresh_token", "")));
		assert_false(active(&f, jx_str(u0, "access_token", "")));
		assert_int_equal(refresh(&f, jx_str(u0, "refresh_token", ""), &u1, &oe), YZ_EINVAL);
		/* signing out of the platform ends what applications got under the session */
		char code3[64];
		new_code(&f, &who, sid, code3);
		json_t *v0 = NULL;
		assert_int_equal(exchange(&f, code3, VERIFIER, &v0, &oe), YZ_OK);
		assert_true(active(&f, jx_str(v0, "refresh_token", "")));
		assert_int_equal(iam_logout(f.s, &who, sid, &e), YZ_OK);
		assert_false(active(&f, jx_str(v0, "refresh_token", "")));
		assert_false(active(&f, jx_str(v0, "access_token", "")));
		json_decref(v0);
		json_decref(u0);
		json_decref(t0);
		json_decref(t1);
		json_decref(t2);
		close_fx(&f);
	}
}

static void client_credentials_write_nothing(void **state)
{
	(void)state;
	const char *be[2];
	int nb = tu_backends(be);
	for (int b = 0; b < nb; b++) {
		fx f;
		open_fx(&f, be[b]);
		iam_oidc_client_auth ca = {f.client_id, f.secret, true};
		yz_actor from = actor_system("rp");
		yz_err e = {0};
		iam_oauth_err oe = {0};
		store_flush(f.s);
		store_stats before, after;
		store_get_stats(f.s, &before);
		json_t *out = NULL;
		for (int i = 0; i < 200; i++) {
			iam_oidc_token_req q = {.grant_type = "client_credentials"};
			json_decref(out);
			out = NULL;
			assert_int_equal(iam_oidc_token(f.s, ISSUER, &from, &ca, &q, &out, &oe, &e),
			                 YZ_OK);
		}
		store_get_stats(f.s, &after);
		assert_int_equal(after.jobs, before.jobs);
		/* the default scope: the client's own, none of the user scopes */
		assert_string_equal(jx_str(out, "scope", ""), "projects.read");
		assert_null(json_object_get(out, "refresh_token"));
		assert_null(json_object_get(out, "id_token"));
		const char *at = jx_str(out, "access_token", "");
		json_t *claims = openssl_check_jwt(at, NULL);
		assert_string_equal(jx_str(claims, "sub", ""), f.client_id);
		json_decref(claims);
		assert_true(active(&f, at));
		/* no userinfo for a client's own token */
		json_t *ui = NULL;
		assert_int_equal(iam_oidc_userinfo(f.s, ISSUER, at, &ui, &oe, &e), YZ_EUNAUTH);
		/* user scopes cannot be had this way */
		iam_oidc_token_req q = {.grant_type = "client_credentials", .scope = "openid"};
		json_t *x = NULL;
		assert_int_equal(iam_oidc_token(f.s, ISSUER, &from, &ca, &q, &x, &oe, &e),
		                 YZ_EINVAL);
		assert_string_equal(oe.error, "invalid_scope");
		/* revoked: inactive from then on, one row in the revocation list */
		assert_int_equal(iam_oidc_revoke(f.s, ISSUER, &from, &ca, at, &oe, &e), YZ_OK);
		assert_false(active(&f, at));
		assert_int_equal(count(&f, "SELECT COUNT(*) FROM iam_oidc_revoked"), 1);
		/* a token signed by someone else's key is nobody's */
		char forged[4096];
		snprintf(forged, sizeof forged, "%s", at);
		char *last = strrchr(forged, '.');
		last[3] = last[3] == 'A' ? 'B' : 'A';
		assert_false(active(&f, forged));
		json_decref(out);
		/* the sweep forgets revocations once the tokens would have expired */
		clock_set_fake(clock_now_ms() + (IAM_OIDC_ACCESS_TTL_S + 5) * 1000LL);
		assert_int_equal(iam_sweep(f.s, &e), YZ_OK);
		assert_int_equal(count(&f, "SELECT COUNT(*) FROM iam_oidc_revoked"), 0);
		close_fx(&f);
	}
}

static void client_registration_rules(void **state)
{
	(void)state;
	fx f;
	open_fx(&f, "sqlite");
	yz_actor admin = actor_system("test");
	yz_err e = {0};
	json_t *out = NULL;
	/* plain http to another host, a fragment, an unknown grant: all refused at once */
	json_t *in = json_pack("{s:s, s:I, s:[s,s], s:[s]}", "name", "x", "org_id",
	                       (json_int_t)org_id(&f, "520100-fgw"), "redirect_uris",
	                       "http://app.example.gov.cn/cb", "https://a.example/cb#x",
	                       "grant_types", "implicit");
	assert_int_equal(iam_oidc_client_create(f.s, &admin, in, &out, &e), YZ_EINVAL);
	assert_true(e.nfield >= 2);
	json_decref(in);
	/* a department administrator registers only within the department */
	yz_actor dept = actor_system("dept");
	int64_t fgw = org_id(&f, "520100-fgw");
	const char *paths[1];
	char path[64];
	store_conn *c;
	assert_int_equal(store_reader(f.s, &c, NULL), YZ_OK);
	assert_int_equal(iam_org_path(c, fgw, path, sizeof path, NULL), YZ_OK);
	paths[0] = path;
	dept.scope = (yz_scope){.all = false, .n = 1, .orgs = &fgw, .paths = paths};
	yz_err e2 = {0};
	in = json_pack("{s:s, s:I, s:[s]}", "name", "x", "org_id",
	               (json_int_t)org_id(&f, "520100-gaj"), "redirect_uris",
	               "https://gaj.example/cb");
	assert_int_equal(iam_oidc_client_create(f.s, &dept, in, &out, &e2), YZ_EINVAL);
	assert_string_equal(e2.fields[0].field, "org_id");
	json_decref(in);
	/* the list within scope holds the fgw client */
	json_t *list = NULL;
	assert_int_equal(iam_oidc_client_list(c, &dept.scope, &list, NULL), YZ_OK);
	assert_int_equal(json_array_size(json_object_get(list, "items")), 1);
	json_decref(list);
	/* a new secret: the old one stops working */
	json_t *ns = NULL;
	assert_int_equal(iam_oidc_client_new_secret(f.s, &admin, f.client_id, &ns, &e), YZ_OK);
	iam_oidc_client_auth old = {f.client_id, f.secret, true};
	iam_oidc_client_auth now = {f.client_id, jx_str(ns, "client_secret", ""), true};
	iam_oidc_token_req q = {.grant_type = "client_credentials"};
	yz_actor from = actor_system("rp");
	iam_oauth_err oe = {0};
	assert_int_equal(iam_oidc_token(f.s, ISSUER, &from, &old, &q, &out, &oe, &e), YZ_EUNAUTH);
	assert_int_equal(iam_oidc_token(f.s, ISSUER, &from, &now, &q, &out, &oe, &e), YZ_OK);
	json_decref(out);
	/* disabled: no more tokens */
	in = json_pack("{s:s}", "status", "disabled");
	assert_int_equal(iam_oidc_client_update(f.s, &admin, f.client_id, 0, in, &e), YZ_OK);
	json_decref(in);
	assert_int_equal(iam_oidc_token(f.s, ISSUER, &from, &now, &q, &out, &oe, &e), YZ_EUNAUTH);
	json_decref(ns);
	/* secrets are stored hashed only */
	assert_int_equal(count(&f, "SELECT COUNT(*) FROM iam_oidc_client WHERE secret_hash LIKE "
	                           "'sm3:%'"),
	                 1);
	close_fx(&f);
}

static void logout_checks(void **state)
{
	(void)state;
	fx f;
	open_fx(&f, "sqlite");
	char sid[65], code[64];
	yz_actor who = sign_in(&f, "chenjing.fgw", "Yizhan@2026", sid);
	new_code(&f, &who, sid, code);
	json_t *out = NULL;
	iam_oauth_err oe = {0};
	assert_int_equal(exchange(&f, code, VERIFIER, &out, &oe), YZ_OK);
	const char *idt = jx_str(out, "id_token", "");
	int64_t uid = 0;
	yz_err e = {0};
	assert_int_equal(iam_oidc_logout_check(f.s, ISSUER, idt, NULL,
	                                       "https://app.example.gov.cn/bye", &uid, &oe, &e),
	                 YZ_OK);
	assert_int_equal(uid, who.user_id);
	/* an unregistered address is never redirected to */
	assert_int_equal(
	    iam_oidc_logout_check(f.s, ISSUER, idt, NULL, "https://evil.example/", &uid, &oe, &e),
	    YZ_EINVAL);
	/* without a hint or client_id, no address at all */
	assert_int_equal(iam_oidc_logout_check(f.s, ISSUER, NULL, NULL,
	                                       "https://app.example.gov.cn/bye", &uid, &oe, &e),
	                 YZ_EINVAL);
	/* an access token is not an ID token */
	assert_int_equal(iam_oidc_logout_check(f.s, ISSUER, jx_str(out, "access_token", ""), NULL,
	                                       NULL, &uid, &oe, &e),
	                 YZ_EINVAL);
	json_decref(out);
	close_fx(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(pkce_s256),
	    cmocka_unit_test(authorize_checks),
	    cmocka_unit_test(code_flow_and_single_use),
	    cmocka_unit_test(refresh_rotation_and_replay),
	    cmocka_unit_test(client_credentials_write_nothing),
	    cmocka_unit_test(client_registration_rules),
	    cmocka_unit_test(logout_checks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
