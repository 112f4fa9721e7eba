/*
 * oidc.c — the OpenID Connect provider's logic (see oidc.h): JWTs, PKCE,
 * clients, the authorisation code, refresh and client-credentials grants,
 * userinfo, introspection, revocation, logout checks and the sweep.
 *
 * Durable writes: an authorisation (the code, audited), a code exchange and
 * a refresh (one transaction each: the old value spent, the new one stored),
 * a revocation. A client-credentials grant writes nothing: its access token
 * is a signed JWT whose jti only enters iam_oidc_revoked if it is revoked.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/b64.h"
#include "core/clock.h"
#include "core/slice.h"
#include "crypto/crypto.h"
#include "iam/iam_int.h"
#include "iam/oidc.h"

#define JWT_MAX       8192
#define TOKEN_BYTES   32
#define MAX_URIS      10
#define URI_MAX       512
#define MAX_SCOPES    20
#define SCOPE_MAX     64
#define SCOPE_STR_MAX 1024
#define SECRET_PREFIX "sm3:"
#define ACR_PWD       "urn:yizhan:acr:pwd"
#define ACR_MFA       "urn:yizhan:acr:mfa"

const char *const iam_oidc_grant_types[] = {"authorization_code", "refresh_token",
                                            "client_credentials", NULL};

/* scopes about a user: meaningless for a client acting for itself */
static const char *const user_scopes[] = {"openid", "profile",        "email", "phone",
                                          "dept",   "offline_access", NULL};

static yz_status oauth(iam_oauth_err *oe, yz_status st, const char *error, const char *fmt, ...)
    YZ_PRINTF(4, 5);

static yz_status oauth(iam_oauth_err *oe, yz_status st, const char *error, const char *fmt, ...)
{
	if (oe) {
		yz_strlcpy(oe->error, error, sizeof oe->error);
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(oe->description, sizeof oe->description, fmt, ap);
		va_end(ap);
	}
	return st;
}

static void sm3_hex(const char *s, char out[65])
{
	unsigned char d[CRYPTO_SM3_LEN];
	crypto_sm3(s, strlen(s), d);
	hex_encode(d, sizeof d, out);
}

static yz_status b64url_append(buf *out, const void *p, size_t n)
{
	return b64_encode(p, n, true, out);
}

static bool is_user_scope(const char *s, size_t n)
{
	for (int i = 0; user_scopes[i]; i++)
		if (strlen(user_scopes[i]) == n && !memcmp(user_scopes[i], s, n))
			return true;
	return false;
}

/* Does the space-separated list hold word? */
static bool scope_has(const char *list, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = list; p && *p;) {
		while (*p == ' ')
			p++;
		const char *end = strchr(p, ' ');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == n && !memcmp(p, word, n))
			return true;
		p += len;
	}
	return false;
}

static bool json_has_str(const json_t *arr, const char *s, size_t n)
{
	size_t i;
	json_t *v;
	json_array_foreach (arr, i, v) {
		const char *x = json_string_value(v);
		if (x && strlen(x) == n && !memcmp(x, s, n))
			return true;
	}
	return false;
}

static bool scope_char_ok(unsigned char c)
{
	/* RFC 6749 §3.3: %x21 / %x23-5B / %x5D-7E */
	return c == 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e);
}

/* requested ⊆ allowed, normalised into out (duplicates dropped, one space
 * between words); no_user refuses the user scopes (client credentials). */
static bool scope_normalise(const char *requested, const json_t *allowed, bool no_user, char *out,
                            size_t cap, char *bad, size_t bcap)
{
	out[0] = bad[0] = '\0';
	size_t k = 0;
	int count = 0;
	for (const char *p = requested; p && *p;) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		const char *end = strchr(p, ' ');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		bool ok = len <= SCOPE_MAX && ++count <= MAX_SCOPES;
		for (size_t i = 0; ok && i < len; i++)
			ok = scope_char_ok((unsigned char)p[i]);
		if (ok)
			ok = json_has_str(allowed, p, len) && !(no_user && is_user_scope(p, len));
		if (!ok) {
			snprintf(bad, bcap, "%.*s", (int)(len > 64 ? 64 : len), p);
			return false;
		}
		char word[SCOPE_MAX + 1];
		memcpy(word, p, len);
		word[len] = '\0';
		if (!scope_has(out, word) && k + len + 2 < cap) {
			if (k)
				out[k++] = ' ';
			memcpy(out + k, word, len);
			k += len;
			out[k] = '\0';
		}
		p += len;
	}
	return true;
}

/* ---- JWT ---- */

yz_status iam_oidc_jwt_sign(json_t *claims, const char *typ, buf *out, yz_err *e)
{
	const char *kid = NULL;
	const crypto_key *k = iam_oidc_signer(&kid);
	if (!k)
		return yz_fail(e, YZ_EINTERNAL, "no OpenID Connect signing key is loaded");
	size_t start = out->len;
	json_t *h = json_pack("{s:s, s:s, s:s}", "alg", "ES256", "typ", typ, "kid", kid);
	buf tmp;
	buf_init(&tmp, JWT_MAX);
	yz_status st = h ? jx_dump(h, &tmp) : YZ_ENOMEM;
	if (st == YZ_OK)
		st = b64url_append(out, tmp.p, tmp.len);
	if (st == YZ_OK)
		st = buf_putc(out, '.');
	buf_reset(&tmp);
	if (st == YZ_OK)
		st = jx_dump(claims, &tmp);
	if (st == YZ_OK)
		st = b64url_append(out, tmp.p, tmp.len);
	buf_free(&tmp);
	json_decref(h);
	if (st != YZ_OK)
		return yz_fail(e, st, "the token does not fit");
	unsigned char sig[CRYPTO_ES256_SIG_LEN];
	st = crypto_es256_sign(k, out->p + start, out->len - start, sig, e);
	if (st == YZ_OK &&
	    (buf_putc(out, '.') != YZ_OK || b64url_append(out, sig, sizeof sig) != YZ_OK))
		st = yz_fail(e, YZ_ETOOBIG, "the token does not fit");
	return st;
}

static yz_status decode_json(const char *p, size_t n, json_t **out)
{
	unsigned char raw[JWT_MAX];
	size_t len = 0;
	if (b64_decode(p, n, true, raw, sizeof raw, &len) != YZ_OK)
		return YZ_EINVAL;
	return jx_parse_object((const char *)raw, len, out, NULL) == YZ_OK ? YZ_OK : YZ_EINVAL;
}

yz_status iam_oidc_jwt_verify(const char *jwt, json_t **claims, char *typ, size_t cap, yz_err *e)
{
	*claims = NULL;
	if (typ && cap)
		typ[0] = '\0';
	size_t n = jwt ? strlen(jwt) : 0;
	const char *d1 = n && n <= JWT_MAX ? memchr(jwt, '.', n) : NULL;
	const char *d2 = d1 ? memchr(d1 + 1, '.', n - (size_t)(d1 + 1 - jwt)) : NULL;
	if (!d1 || !d2 || memchr(d2 + 1, '.', n - (size_t)(d2 + 1 - jwt)))
		return yz_fail(e, YZ_EINVAL, "not a compact JWS");
	json_t *h = NULL;
	if (decode_json(jwt, (size_t)(d1 - jwt), &h) != YZ_OK)
		return yz_fail(e, YZ_EINVAL, "the JWS header does not parse");
	const char *alg = jx_str(h, "alg", ""), *kid = jx_str(h, "kid", "");
	const crypto_key *k = iam_oidc_key_by_kid(kid, strlen(kid));
	yz_status st = YZ_OK;
	if (strcmp(alg, "ES256") != 0 || !k)
		st = yz_fail(e, YZ_ECRYPTO, "not signed by a key of this provider");
	if (st == YZ_OK && typ)
		yz_strlcpy(typ, jx_str(h, "typ", ""), cap);
	json_decref(h);
	unsigned char sig[CRYPTO_ES256_SIG_LEN + 4];
	size_t sl = 0;
	if (st == YZ_OK &&
	    (b64_decode(d2 + 1, n - (size_t)(d2 + 1 - jwt), true, sig, sizeof sig, &sl) != YZ_OK ||
	     sl != CRYPTO_ES256_SIG_LEN))
		st = yz_fail(e, YZ_ECRYPTO, "signature does not verify");
	if (st == YZ_OK)
		st = crypto_es256_verify(k, jwt, (size_t)(d2 - jwt), sig, e);
	if (st == YZ_OK && decode_json(d1 + 1, (size_t)(d2 - d1 - 1), claims) != YZ_OK)
		st = yz_fail(e, YZ_EINVAL, "the JWS payload does not parse");
	return st;
}

bool iam_oidc_pkce_s256_ok(const char *verifier, const char *challenge)
{
	size_t n = verifier ? strlen(verifier) : 0;
	if (n < 43 || n > 128 || !challenge || strlen(challenge) != 43)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = verifier[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.' || c == '_' || c == '~'))
			return false;
	}
	unsigned char d[CRYPTO_SHA256_LEN];
	crypto_sha256(verifier, n, d);
	buf b;
	buf_init(&b, 64);
	bool ok = b64url_append(&b, d, sizeof d) == YZ_OK && b.len == 43 &&
	          crypto_equal(b.p, challenge, 43);
	buf_free(&b);
	return ok;
}

static yz_status sign_to(json_t *claims, const char *typ, char **out, yz_err *e)
{
	buf b;
	buf_init(&b, JWT_MAX);
	yz_status st = iam_oidc_jwt_sign(claims, typ, &b, e);
	if (st == YZ_OK) {
		size_t n;
		*out = buf_take(&b, &n);
	}
	buf_free(&b);
	return st;
}

/* ---- clients ---- */

typedef struct client_rec {
	bool found;
	int64_t id, org_id, version;
	char client_id[72], name[200], secret_hash[80], status[16], org_path[IAM_PATH_MAX];
	json_t *redirect, *post_logout, *grants, *scopes;
} client_rec;

static void client_clear(client_rec *c)
{
	json_decref(c->redirect);
	json_decref(c->post_logout);
	json_decref(c->grants);
	json_decref(c->scopes);
	memset(c, 0, sizeof *c);
}

static json_t *json_list(const char *text)
{
	json_t *v = NULL;
	if (jx_parse(text, strlen(text), 4, &v, NULL) != YZ_OK || !json_is_array(v)) {
		json_decref(v);
		return json_array();
	}
	return v;
}

#define CLIENT_COLS                                                                                \
	"c.id, c.client_id, c.name, c.org_id, o.name, o.code, o.path, c.redirect_uris, "           \
	"c.post_logout_uris, c.grant_types, c.scopes, c.status, c.created_at, c.updated_at, "      \
	"c.version, c.secret_hash"

static yz_status client_read(store_conn *c, const char *client_id, client_rec *out, yz_err *e)
{
	memset(out, 0, sizeof *out);
	if (!client_id || !*client_id || strlen(client_id) >= sizeof out->client_id)
		return YZ_OK;
	store_rows *r;
	store_val a[] = {sv_text(client_id)};
	yz_status st =
	    store_query(c,
	                "SELECT " CLIENT_COLS " FROM iam_oidc_client c JOIN iam_org o ON "
	                "o.id = c.org_id WHERE c.client_id = ?",
	                a, 1, &r, e);
	if (st != YZ_OK)
		return st;
	if (store_next(r)) {
		out->found = true;
		out->id = store_col_int(r, 0);
		yz_strlcpy(out->client_id, store_col_text(r, 1), sizeof out->client_id);
		yz_strlcpy(out->name, store_col_text(r, 2), sizeof out->name);
		out->org_id = store_col_int(r, 3);
		yz_strlcpy(out->org_path, store_col_text(r, 6), sizeof out->org_path);
		out->redirect = json_list(store_col_text(r, 7));
		out->post_logout = json_list(store_col_text(r, 8));
		out->grants = json_list(store_col_text(r, 9));
		out->scopes = json_list(store_col_text(r, 10));
		yz_strlcpy(out->status, store_col_text(r, 11), sizeof out->status);
		out->version = store_col_int(r, 14);
		yz_strlcpy(out->secret_hash, store_col_text(r, 15), sizeof out->secret_hash);
	}
	return store_rows_close(r, e);
}

static json_t *client_json(store_rows *r)
{
	json_t *o = json_object();
	jx_set_int(o, "id", store_col_int(r, 0));
	jx_set_str(o, "client_id", store_col_text(r, 1));
	jx_set_str(o, "name", store_col_text(r, 2));
	jx_set_int(o, "org_id", store_col_int(r, 3));
	jx_set_str(o, "org_name", store_col_text(r, 4));
	jx_set_str(o, "org_code", store_col_text(r, 5));
	json_object_set_new(o, "redirect_uris", json_list(store_col_text(r, 7)));
	json_object_set_new(o, "post_logout_redirect_uris", json_list(store_col_text(r, 8)));
	json_object_set_new(o, "grant_types", json_list(store_col_text(r, 9)));
	json_object_set_new(o, "scopes", json_list(store_col_text(r, 10)));
	jx_set_str(o, "status", store_col_text(r, 11));
	char t[40];
	clock_format_city(store_col_int(r, 12), t, sizeof t);
	jx_set_str(o, "created_at", t);
	clock_format_city(store_col_int(r, 13), t, sizeof t);
	jx_set_str(o, "updated_at", t);
	jx_set_int(o, "version", store_col_int(r, 14));
	return o;
}

yz_status iam_oidc_client_get(store_conn *c, const yz_scope *scope, const char *client_id,
                              json_t **out, yz_err *e)
{
	*out = NULL;
	store_rows *r;
	store_val a[] = {sv_text(client_id)};
	yz_status st =
	    store_query(c,
	                "SELECT " CLIENT_COLS " FROM iam_oidc_client c JOIN iam_org o ON "
	                "o.id = c.org_id WHERE c.client_id = ?",
	                a, 1, &r, e);
	if (st != YZ_OK)
		return st;
	json_t *o = NULL;
	if (store_next(r) && iam_path_in_scope(scope, store_col_text(r, 6)))
		o = client_json(r);
	st = store_rows_close(r, e);
	if (st == YZ_OK && !o)
		st = yz_fail(e, YZ_ENOTFOUND, "no client %s", client_id);
	if (st != YZ_OK) {
		json_decref(o);
		return st;
	}
	*out = o;
	return YZ_OK;
}

yz_status iam_oidc_client_list(store_conn *c, const yz_scope *scope, json_t **out, yz_err *e)
{
	*out = NULL;
	store_rows *r;
	yz_status st =
	    store_query(c,
	                "SELECT " CLIENT_COLS " FROM iam_oidc_client c JOIN iam_org o ON "
	                "o.id = c.org_id ORDER BY c.name, c.client_id",
	                NULL, 0, &r, e);
	if (st != YZ_OK)
		return st;
	json_t *items = json_array();
	while (store_next(r))
		if (iam_path_in_scope(scope, store_col_text(r, 6)))
			json_array_append_new(items, client_json(r));
	st = store_rows_close(r, e);
	if (st != YZ_OK) {
		json_decref(items);
		return st;
	}
	*out = json_pack("{s:o}", "items", items);
	return YZ_OK;
}

/* https anywhere; http only to this machine (development and tests). No
 * fragment, no user part, no white space or control characters. */
static bool uri_ok(const char *u)
{
	size_t n = strlen(u);
	if (n < 10 || n > URI_MAX || strchr(u, '#'))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)u[i] <= 0x20 || u[i] == 0x7f || u[i] == '\\')
			return false;
	const char *host;
	bool https = !strncmp(u, "https://", 8);
	if (https)
		host = u + 8;
	else if (!strncmp(u, "http://", 7))
		host = u + 7;
	else
		return false;
	size_t hl = strcspn(host, "/?");
	if (hl == 0 || memchr(host, '@', hl))
		return false;
	if (https)
		return true;
	static const char *const loop[] = {"127.0.0.1", "localhost", "[::1]"};
	for (size_t i = 0; i < 3; i++) {
		size_t ln = strlen(loop[i]);
		if (hl >= ln && !strncmp(host, loop[i], ln) && (hl == ln || host[ln] == ':'))
			return true;
	}
	return false;
}

static bool check_uris(json_t *v, const char **rule, const char **expected)
{
	*rule = "pattern";
	*expected = "absolute https:// URLs without a fragment (http:// only for 127.0.0.1 or "
	            "localhost), each at most 512 characters";
	size_t i;
	json_t *x;
	json_array_foreach (v, i, x) {
		if (!json_is_string(x) || !uri_ok(json_string_value(x)))
			return false;
		for (size_t k = 0; k < i; k++)
			if (json_equal(json_array_get(v, k), x)) {
				*rule = "unique";
				*expected = "each URL once";
				return false;
			}
	}
	return true;
}

static bool check_grants(json_t *v, const char **rule, const char **expected)
{
	*rule = "enum";
	*expected = "authorization_code, refresh_token or client_credentials, each once";
	size_t i;
	json_t *x;
	json_array_foreach (v, i, x) {
		bool known = false;
		for (int k = 0; json_is_string(x) && iam_oidc_grant_types[k]; k++)
			known |= !strcmp(iam_oidc_grant_types[k], json_string_value(x));
		if (!known)
			return false;
		for (size_t k = 0; k < i; k++)
			if (json_equal(json_array_get(v, k), x))
				return false;
	}
	return true;
}

static bool check_scopes(json_t *v, const char **rule, const char **expected)
{
	*rule = "pattern";
	*expected = "scope names (1-64 printable ASCII characters without space, quote or "
	            "backslash), each once";
	size_t i;
	json_t *x;
	json_array_foreach (v, i, x) {
		const char *s = json_string_value(x);
		size_t n = s ? strlen(s) : 0;
		if (n < 1 || n > SCOPE_MAX)
			return false;
		for (size_t k = 0; k < n; k++)
			if (!scope_char_ok((unsigned char)s[k]))
				return false;
		for (size_t k = 0; k < i; k++)
			if (json_equal(json_array_get(v, k), x))
				return false;
	}
	return true;
}

static bool check_client_id(json_t *v, const char **rule, const char **expected)
{
	const char *s = json_string_value(v);
	size_t n = strlen(s);
	*rule = "pattern";
	*expected = "3-64 lower-case letters, digits, '.', '_' or '-', starting with a letter or "
	            "digit";
	if (n < 3 || n > 64 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '.' ||
		      s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

static bool check_status(json_t *v, const char **rule, const char **expected)
{
	*rule = "enum";
	*expected = "active or disabled";
	const char *s = json_string_value(v);
	return !strcmp(s, "active") || !strcmp(s, "disabled");
}

yz_status iam_oidc_client_validate(json_t *in, bool create, yz_err *e)
{
	static const jx_field create_fields[] = {
	    {"client_id", JX_STRING, false, 3, 64, check_client_id},
	    {"name", JX_STRING, true, 1, 100, NULL},
	    {"org_id", JX_INT, true, 1, 0, NULL},
	    {"redirect_uris", JX_ARRAY, false, 0, MAX_URIS, check_uris},
	    {"post_logout_redirect_uris", JX_ARRAY, false, 0, MAX_URIS, check_uris},
	    {"grant_types", JX_ARRAY, false, 1, 3, check_grants},
	    {"scopes", JX_ARRAY, false, 1, MAX_SCOPES, check_scopes},
	    {NULL, 0, false, 0, 0, NULL}};
	static const jx_field update_fields[] = {
	    {"name", JX_STRING, false, 1, 100, NULL},
	    {"redirect_uris", JX_ARRAY, false, 0, MAX_URIS, check_uris},
	    {"post_logout_redirect_uris", JX_ARRAY, false, 0, MAX_URIS, check_uris},
	    {"grant_types", JX_ARRAY, false, 1, 3, check_grants},
	    {"scopes", JX_ARRAY, false, 1, MAX_SCOPES, check_scopes},
	    {"status", JX_STRING, false, 1, 16, check_status},
	    {NULL, 0, false, 0, 0, NULL}};
	if (!json_is_object(in))
		return yz_fail(e, YZ_EINVAL, "a JSON object is expected");
	yz_status st = jx_validate(in, create ? create_fields : update_fields, e);
	if (st != YZ_OK)
		return st;
	/* the code flow needs somewhere to send the code */
	json_t *g = json_object_get(in, "grant_types"), *ru = json_object_get(in, "redirect_uris");
	bool code = !g || json_has_str(g, "authorization_code", 18);
	if (create && code && json_array_size(ru) == 0)
		return yz_field(e, "redirect_uris", "required",
		                "at least one redirect URI for the authorization_code grant", NULL);
	return YZ_OK;
}

static char *dump_list(json_t *in, const char *key, const char *const *def)
{
	json_t *v = json_object_get(in, key);
	json_t *tmp = NULL;
	if (!v) {
		tmp = json_array();
		for (int i = 0; def && def[i]; i++)
			json_array_append_new(tmp, json_string(def[i]));
		v = tmp;
	}
	char *s = json_dumps(v, JSON_COMPACT);
	json_decref(tmp);
	return s;
}

static yz_status new_secret(char *secret, size_t cap, char hash[80])
{
	char raw[64];
	if (crypto_random_token(TOKEN_BYTES, raw, sizeof raw) != YZ_OK)
		return YZ_ECRYPTO;
	snprintf(secret, cap, "yzs_%s", raw);
	char hex[65];
	sm3_hex(secret, hex);
	snprintf(hash, 80, SECRET_PREFIX "%s", hex);
	return YZ_OK;
}

typedef struct client_job {
	const yz_actor *who;
	json_t *in;
	const char *client_id, *secret_hash;
	int64_t version;
	char path[IAM_PATH_MAX]; /* out */
} client_job;

static yz_status client_create_fn(store_conn *tx, void *arg, yz_err *e)
{
	client_job *j = arg;
	int64_t org = jx_int(j->in, "org_id", 0);
	bool covers = false;
	yz_status st = iam_org_path_tx(tx, org, j->path, sizeof j->path, NULL);
	if (st == YZ_ENOTFOUND)
		return yz_field(e, "org_id", "exists", "an organisation", NULL);
	if (st == YZ_OK)
		st = iam_scope_covers_org(tx, &j->who->scope, org, &covers, e);
	if (st != YZ_OK)
		return st;
	if (!covers)
		return yz_field(e, "org_id", "scope", "an organisation within your scope", NULL);
	static const char *const def_grants[] = {"authorization_code", "refresh_token", NULL};
	static const char *const def_scopes[] = {"openid", "profile", NULL};
	char *ru = dump_list(j->in, "redirect_uris", NULL);
	char *pl = dump_list(j->in, "post_logout_redirect_uris", NULL);
	char *gt = dump_list(j->in, "grant_types", def_grants);
	char *sc = dump_list(j->in, "scopes", def_scopes);
	int64_t now = clock_now_ms();
	store_val a[] = {sv_text(j->client_id), sv_text(jx_str(j->in, "name", "")),
	                 sv_int(org),           sv_text(j->secret_hash),
	                 sv_text(ru),           sv_text(pl),
	                 sv_text(gt),           sv_text(sc),
	                 sv_int(now),           sv_int(now)};
	st = store_exec(tx,
	                "INSERT INTO iam_oidc_client (client_id, name, org_id, secret_hash, "
	                "redirect_uris, post_logout_uris, grant_types, scopes, created_at, "
	                "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	                a, SV_N(a), e);
	if (st == YZ_ECONFLICT)
		st = yz_field(e, "client_id", "unique", "a client_id no other client has",
		              j->client_id);
	if (st == YZ_OK) {
		char obj[96];
		snprintf(obj, sizeof obj, "oidc-client:%s", j->client_id);
		json_t *ch = json_pack(
		    "{s:s, s:I, s:o, s:o, s:o, s:o}", "name", jx_str(j->in, "name", ""), "org_id",
		    (json_int_t)org, "redirect_uris", json_list(ru), "post_logout_redirect_uris",
		    json_list(pl), "grant_types", json_list(gt), "scopes", json_list(sc));
		st = audit_append(tx, j->who, "iam.oidc.client.create", obj, j->path, ch, e);
		json_decref(ch);
	}
	free(ru);
	free(pl);
	free(gt);
	free(sc);
	return st;
}

yz_status iam_oidc_client_create(store *s, const yz_actor *who, json_t *in, json_t **out, yz_err *e)
{
	*out = NULL;
	yz_status st = iam_oidc_client_validate(in, true, e);
	if (st != YZ_OK)
		return st;
	char client_id[72];
	if (json_object_get(in, "client_id")) {
		yz_strlcpy(client_id, jx_str(in, "client_id", ""), sizeof client_id);
	} else {
		char hex[24];
		if (crypto_random_hex(8, hex, sizeof hex) != YZ_OK)
			return yz_fail(e, YZ_ECRYPTO, "no randomness for a client_id");
		snprintf(client_id, sizeof client_id, "app-%s", hex);
	}
	char secret[96], hash[80];
	if (new_secret(secret, sizeof secret, hash) != YZ_OK)
		return yz_fail(e, YZ_ECRYPTO, "no randomness for a client secret");
	client_job j = {.who = who, .in = in, .client_id = client_id, .secret_hash = hash};
	st = store_write(s, client_create_fn, &j, e);
	store_conn *c;
	if (st == YZ_OK)
		st = store_reader(s, &c, e);
	yz_scope all = {.all = true};
	if (st == YZ_OK)
		st = iam_oidc_client_get(c, &all, client_id, out, e);
	if (st == YZ_OK)
		jx_set_str(*out, "client_secret", secret);
	memset(secret, 0, sizeof secret);
	return st;
}

/* The client's org path and version inside a write job, within scope. */
static yz_status client_for_change(store_conn *tx, const yz_actor *who, const char *client_id,
                                   char *path, size_t cap, int64_t *version, yz_err *e)
{
	store_rows *r;
	store_val a[] = {sv_text(client_id)};
	yz_status st = store_query(tx,
	                           "SELECT o.path, c.version FROM iam_oidc_client c JOIN iam_org o "
	                           "ON o.id = c.org_id WHERE c.client_id = ?",
	                           a, 1, &r, e);
	if (st != YZ_OK)
		return st;
	bool found = store_next(r);
	if (found) {
		yz_strlcpy(path, store_col_text(r, 0), cap);
		*version = store_col_int(r, 1);
	}
	st = store_rows_close(r, e);
	if (st == YZ_OK && (!found || !iam_path_in_scope(&who->scope, path)))
		st = yz_fail(e, YZ_ENOTFOUND, "no client %s", client_id);
	return st;
}

static yz_status client_update_fn(store_conn *tx, void *arg, yz_err *e)
{
	client_job *j = arg;
	int64_t version = 0;
	yz_status st =
	    client_for_change(tx, j->who, j->client_id, j->path, sizeof j->path, &version, e);
	if (st != YZ_OK)
		return st;
	if (j->version && j->version != version)
		return yz_fail(e, YZ_ECONFLICT,
		               "the client was changed by someone else (version %lld, now %lld); "
		               "reload and try again",
		               (long long)j->version, (long long)version);
	char *ru = json_object_get(j->in, "redirect_uris") ? dump_list(j->in, "redirect_uris", NULL)
	                                                   : NULL;
	char *pl = json_object_get(j->in, "post_logout_redirect_uris")
	               ? dump_list(j->in, "post_logout_redirect_uris", NULL)
	               : NULL;
	char *gt =
	    json_object_get(j->in, "grant_types") ? dump_list(j->in, "grant_types", NULL) : NULL;
	char *sc = json_object_get(j->in, "scopes") ? dump_list(j->in, "scopes", NULL) : NULL;
	store_val a[] = {sv_text(jx_str(j->in, "name", NULL)),
	                 sv_text(ru),
	                 sv_text(pl),
	                 sv_text(gt),
	                 sv_text(sc),
	                 sv_text(jx_str(j->in, "status", NULL)),
	                 sv_int(clock_now_ms()),
	                 sv_text(j->client_id)};
	st =
	    store_exec(tx,
	               "UPDATE iam_oidc_client SET name = COALESCE(?, name), redirect_uris = "
	               "COALESCE(?, redirect_uris), post_logout_uris = COALESCE(?, "
	               "post_logout_uris), grant_types = COALESCE(?, grant_types), scopes = "
	               "COALESCE(?, scopes), status = COALESCE(?, status), updated_at = ?, version "
	               "= version + 1 WHERE client_id = ?",
	               a, SV_N(a), e);
	free(ru);
	free(pl);
	free(gt);
	free(sc);
	if (st != YZ_OK)
		return st;
	char obj[96];
	snprintf(obj, sizeof obj, "oidc-client:%s", j->client_id);
	return audit_append(tx, j->who, "iam.oidc.client.update", obj, j->path, j->in, e);
}

yz_status iam_oidc_client_update(store *s, const yz_actor *who, const char *client_id,
                                 int64_t version, json_t *in, yz_err *e)
{
	yz_status st = iam_oidc_client_validate(in, false, e);
	if (st != YZ_OK)
		return st;
	client_job j = {.who = who, .in = in, .client_id = client_id, .version = version};
	return store_write(s, client_update_fn, &j, e);
}

static yz_status client_secret_fn(store_conn *tx, void *arg, yz_err *e)
{
	client_job *j = arg;
	int64_t version = 0;
	yz_status st =
	    client_for_change(tx, j->who, j->client_id, j->path, sizeof j->path, &version, e);
	if (st != YZ_OK)
		return st;
	store_val a[] = {sv_text(j->secret_hash), sv_int(clock_now_ms()), sv_text(j->client_id)};
	st = store_exec(tx,
	                "UPDATE iam_oidc_client SET secret_hash = ?, updated_at = ?, version = "
	                "version + 1 WHERE client_id = ?",
	                a, SV_N(a), e);
	if (st != YZ_OK)
		return st;
	char obj[96];
	snprintf(obj, sizeof obj, "oidc-client:%s", j->client_id);
	return audit_append(tx, j->who, "iam.oidc.client.secret", obj, j->path, NULL, e);
}

yz_status iam_oidc_client_new_secret(store *s, const yz_actor *who, const char *client_id,
                                     json_t **out, yz_err *e)
{
	*out = NULL;
	char secret[96], hash[80];
	if (new_secret(secret, sizeof secret, hash) != YZ_OK)
		return yz_fail(e, YZ_ECRYPTO, "no randomness for a client secret");
	client_job j = {.who = who, .client_id = client_id, .secret_hash = hash};
	yz_status st = store_write(s, client_secret_fn, &j, e);
	if (st == YZ_OK)
		*out = json_pack("{s:s, s:s}", "client_id", client_id, "client_secret", secret);
	memset(secret, 0, sizeof secret);
	return st;
}

/* The client of a protocol request, authenticated by its secret. */
static yz_status client_authenticate(store *s, const iam_oidc_client_auth *ca, client_rec *cl,
                                     iam_oauth_err *oe, yz_err *e)
{
	memset(cl, 0, sizeof *cl);
	if (!ca || !ca->client_id || !*ca->client_id)
		return oauth(oe, YZ_EUNAUTH, "invalid_client", "client authentication is required");
	store_conn *c;
	yz_status st = store_reader(s, &c, e);
	if (st == YZ_OK)
		st = client_read(c, ca->client_id, cl, e);
	if (st != YZ_OK)
		return st;
	char want[80];
	char hex[65];
	sm3_hex(ca->client_secret ? ca->client_secret : "", hex);
	snprintf(want, sizeof want, SECRET_PREFIX "%s", hex);
	bool ok = cl->found && !strcmp(cl->status, "active") && ca->client_secret &&
	          strlen(cl->secret_hash) == strlen(want) &&
	          crypto_equal(cl->secret_hash, want, strlen(want));
	if (!ok) {
		client_clear(cl);
		return oauth(oe, YZ_EUNAUTH, "invalid_client", "client authentication failed");
	}
	return YZ_OK;
}

/* ---- discovery ---- */

json_t *iam_oidc_discovery(const char *issuer)
{
	char u[8][IAM_OIDC_ISSUER_MAX + 40];
	static const char *const paths[] = {
	    "/oidc/authorize",  "/oidc/token",  "/oidc/userinfo", "/.well-known/jwks.json",
	    "/oidc/introspect", "/oidc/revoke", "/oidc/logout",   NULL};
	for (int i = 0; paths[i]; i++)
		snprintf(u[i], sizeof u[i], "%s%s", issuer, paths[i]);
	json_t *auth = json_pack("[s,s]", "client_secret_basic", "client_secret_post");
	json_t *d = json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:[s], s:[s], s:[s,s,s], s:[s], s:[s], s:O, "
	    "s:O, s:O, s:[s], s:[s,s,s,s,s,s], s:[s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s], s:[s,s], s:b, "
	    "s:b, s:b, s:b, s:b}",
	    "issuer", issuer, "authorization_endpoint", u[0], "token_endpoint", u[1],
	    "userinfo_endpoint", u[2], "jwks_uri", u[3], "introspection_endpoint", u[4],
	    "revocation_endpoint", u[5], "end_session_endpoint", u[6], "response_types_supported",
	    "code", "response_modes_supported", "query", "grant_types_supported",
	    "authorization_code", "refresh_token", "client_credentials", "subject_types_supported",
	    "public", "id_token_signing_alg_values_supported", "ES256",
	    "token_endpoint_auth_methods_supported", auth,
	    "introspection_endpoint_auth_methods_supported", auth,
	    "revocation_endpoint_auth_methods_supported", auth, "code_challenge_methods_supported",
	    "S256", "scopes_supported", "openid", "profile", "email", "phone", "dept",
	    "offline_access", "claims_supported", "sub", "iss", "aud", "exp", "iat", "auth_time",
	    "nonce", "amr", "acr", "azp", "name", "preferred_username", "dept", "dept_name",
	    "email", "phone_number", "acr_values_supported", ACR_PWD, ACR_MFA,
	    "authorization_response_iss_parameter_supported", 1, "claims_parameter_supported", 0,
	    "request_parameter_supported", 0, "request_uri_parameter_supported", 0,
	    "frontchannel_logout_supported", 0);
	json_decref(auth);
	return d;
}

/* ---- the authorisation endpoint ---- */

static bool printable(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;
	if (n > max || !utf8_valid(s ? s : "", n))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

static bool challenge_ok(const char *c)
{
	if (!c || strlen(c) != 43)
		return false;
	for (const char *p = c; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
			return false;
	return true;
}

yz_status iam_oidc_authorize_check(store *s, const iam_oidc_authz_req *q, bool *redirect_ok,
                                   iam_oauth_err *oe, yz_err *e)
{
	*redirect_ok = false;
	if (!q->client_id || !*q->client_id)
		return oauth(oe, YZ_EINVAL, "invalid_request", "client_id is missing");
	client_rec cl;
	store_conn *c;
	yz_status st = store_reader(s, &c, e);
	if (st == YZ_OK)
		st = client_read(c, q->client_id, &cl, e);
	if (st != YZ_OK)
		return st;
	if (!cl.found || strcmp(cl.status, "active") != 0) {
		client_clear(&cl);
		return oauth(oe, YZ_EINVAL, "invalid_client", "no such client, or it is disabled");
	}
	if (!q->redirect_uri || !*q->redirect_uri)
		st = oauth(oe, YZ_EINVAL, "invalid_request", "redirect_uri is missing");
	else if (!json_has_str(cl.redirect, q->redirect_uri, strlen(q->redirect_uri)))
		st = oauth(oe, YZ_EINVAL, "invalid_request",
		           "redirect_uri is not registered for this client");
	if (st != YZ_OK) {
		client_clear(&cl);
		return st;
	}
	*redirect_ok = true;
	char scope[SCOPE_STR_MAX], bad[80];
	if (!q->response_type || strcmp(q->response_type, "code") != 0)
		st = oauth(oe, YZ_EINVAL, "unsupported_response_type", "only response_type=code");
	else if (!json_has_str(cl.grants, "authorization_code", 18))
		st = oauth(oe, YZ_EINVAL, "unauthorized_client",
		           "the client may not use the authorization code grant");
	else if (!q->code_challenge || !*q->code_challenge)
		st = oauth(oe, YZ_EINVAL, "invalid_request",
		           "PKCE is required: code_challenge with code_challenge_method=S256");
	else if (!q->code_challenge_method || strcmp(q->code_challenge_method, "S256") != 0)
		st = oauth(oe, YZ_EINVAL, "invalid_request",
		           "code_challenge_method must be S256 (plain is not allowed)");
	else if (!challenge_ok(q->code_challenge))
		st = oauth(oe, YZ_EINVAL, "invalid_request",
		           "code_challenge must be 43 characters of base64url");
	else if (!printable(q->state, 512) || !printable(q->nonce, 255))
		st = oauth(oe, YZ_EINVAL, "invalid_request",
		           "state or nonce is too long or not text");
	else if (!q->scope || !*q->scope)
		st = oauth(oe, YZ_EINVAL, "invalid_scope", "scope is missing");
	else if (strlen(q->scope) >= SCOPE_STR_MAX ||
	         !scope_normalise(q->scope, cl.scopes, false, scope, sizeof scope, bad, sizeof bad))
		st = oauth(oe, YZ_EINVAL, "invalid_scope",
		           "scope %s is not allowed for this client", bad);
	client_clear(&cl);
	return st;
}

typedef struct code_issue_job {
	const yz_actor *who;
	const char *code_id, *sub, *session_id, *scope, *amr, *org_path;
	const iam_oidc_authz_req *q;
	int64_t auth_time;
} code_issue_job;

static yz_status code_issue_fn(store_conn *tx, void *arg, yz_err *e)
{
	code_issue_job *j = arg;
	int64_t now = clock_now_ms();
	store_val a[] = {sv_int(j->who->user_id), sv_text(j->sub)};
	yz_status st = store_exec(tx,
	                          "INSERT INTO iam_oidc_subject (user_id, sub) VALUES (?, ?) ON "
	                          "CONFLICT (user_id) DO NOTHING",
	                          a, 2, e);
	if (st != YZ_OK)
		return st;
	store_val b[] = {sv_text(j->code_id),
	                 sv_text(j->q->client_id),
	                 sv_int(j->who->user_id),
	                 sv_text(j->session_id),
	                 sv_text(j->q->redirect_uri),
	                 sv_text(j->scope),
	                 sv_text(j->q->nonce ? j->q->nonce : ""),
	                 sv_text(j->q->code_challenge),
	                 sv_int(j->auth_time),
	                 sv_text(j->amr),
	                 sv_int(now),
	                 sv_int(now + IAM_OIDC_CODE_TTL_S * 1000LL)};
	st = store_exec(
	    tx,
	    "INSERT INTO iam_oidc_code (id, client_id, user_id, session_id, redirect_uri, "
	    "scope, nonce, challenge, auth_time, amr, created_at, expires_at) VALUES (?, "
	    "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	    b, SV_N(b), e);
	if (st != YZ_OK)
		return st;
	char obj[32];
	snprintf(obj, sizeof obj, "user:%lld", (long long)j->who->user_id);
	json_t *ch = json_pack("{s:s, s:s}", "client_id", j->q->client_id, "scope", j->scope);
	st = audit_append(tx, j->who, "iam.oidc.authorize", obj,
	                  j->org_path[0] ? j->org_path : NULL, ch, e);
	json_decref(ch);
	return st;
}

yz_status iam_oidc_code_issue(store *s, const yz_actor *who, const char *session_id,
                              const iam_oidc_authz_req *q, char *code, size_t cap, yz_err *e)
{
	code[0] = '\0';
	store_conn *c;
	client_rec cl;
	int64_t uid = 0, auth_time = 0;
	char amr[32] = "";
	yz_status st = store_reader(s, &c, e);
	if (st == YZ_OK)
		st = iam_session_auth(c, session_id, &uid, &auth_time, amr, sizeof amr, e);
	if (st == YZ_OK && uid != who->user_id)
		st = yz_fail(e, YZ_EUNAUTH, "the session is not this user's");
	if (st == YZ_OK)
		st = client_read(c, q->client_id, &cl, e);
	if (st != YZ_OK)
		return st;
	char scope[SCOPE_STR_MAX], bad[80];
	bool ok = cl.found &&
	          scope_normalise(q->scope, cl.scopes, false, scope, sizeof scope, bad, sizeof bad);
	client_clear(&cl);
	if (!ok)
		return yz_fail(e, YZ_EINVAL, "the request was not checked");
	char path[IAM_PATH_MAX] = "";
	if (who->org_id && iam_org_path_tx(c, who->org_id, path, sizeof path, NULL) != YZ_OK)
		path[0] = '\0';
	char tok[64], sub[40];
	if (crypto_random_token(TOKEN_BYTES, tok, sizeof tok) != YZ_OK ||
	    crypto_random_token(16, sub, sizeof sub) != YZ_OK)
		return yz_fail(e, YZ_ECRYPTO, "no randomness for a code");
	char id[65];
	sm3_hex(tok, id);
	code_issue_job j = {.who = who,
	                    .code_id = id,
	                    .sub = sub,
	                    .session_id = session_id,
	                    .scope = scope,
	                    .amr = amr,
	                    .org_path = path,
	                    .q = q,
	                    .auth_time = auth_time};
	st = store_write(s, code_issue_fn, &j, e);
	if (st == YZ_OK)
		yz_strlcpy(code, tok, cap);
	return st;
}

/* ---- tokens ---- */

static yz_status subject_of(store_conn *c, int64_t user_id, char *sub, size_t cap, yz_err *e)
{
	store_rows *r;
	store_val a[] = {sv_int(user_id)};
	yz_status st =
	    store_query(c, "SELECT sub FROM iam_oidc_subject WHERE user_id = ?", a, 1, &r, e);
	if (st != YZ_OK)
		return st;
	bool found = store_next(r);
	if (found)
		yz_strlcpy(sub, store_col_text(r, 0), cap);
	st = store_rows_close(r, e);
	if (st == YZ_OK && !found)
		st = yz_fail(e, YZ_ENOTFOUND, "no subject for user %lld", (long long)user_id);
	return st;
}

/* The claims about a user that scope allows, into o; false when the user is
 * not active (or gone). */
static yz_status user_claims(store_conn *c, int64_t user_id, const char *scope, json_t *o,
                             bool *active, yz_err *e)
{
	*active = false;
	store_rows *r;
	store_val a[] = {sv_int(user_id)};
	yz_status st = store_query(c,
	                           "SELECT u.login, u.name, COALESCE(u.email, ''), "
	                           "COALESCE(u.phone, ''), COALESCE(o.code, ''), "
	                           "COALESCE(o.name, ''), u.status FROM iam_user u LEFT JOIN "
	                           "iam_org o ON o.id = u.org_id WHERE u.id = ?",
	                           a, 1, &r, e);
	if (st != YZ_OK)
		return st;
	if (store_next(r)) {
		*active = !strcmp(store_col_text(r, 6), "active");
		bool profile = scope_has(scope, "profile");
		if (profile) {
			jx_set_str(o, "name", store_col_text(r, 1));
			jx_set_str(o, "preferred_username", store_col_text(r, 0));
		}
		if ((profile || scope_has(scope, "dept")) && *store_col_text(r, 4)) {
			jx_set_str(o, "dept", store_col_text(r, 4));
			jx_set_str(o, "dept_name", store_col_text(r, 5));
		}
		if (scope_has(scope, "email") && *store_col_text(r, 2))
			jx_set_str(o, "email", store_col_text(r, 2));
		if (scope_has(scope, "phone") && *store_col_text(r, 3))
			jx_set_str(o, "phone_number", store_col_text(r, 3));
	}
	return store_rows_close(r, e);
}

static json_t *amr_array(const char *amr)
{
	json_t *a = json_array();
	for (const char *p = amr; p && *p;) {
		while (*p == ' ')
			p++;
		size_t n = strcspn(p, " ");
		if (n)
			json_array_append_new(a, json_stringn(p, n));
		p += n;
	}
	if (json_array_size(a) > 1)
		json_array_append_new(a, json_string("mfa"));
	return a;
}

typedef struct grant_out {
	int64_t user_id, auth_time, now_s;
	char scope[SCOPE_STR_MAX], nonce[256], amr[32], jti[40];
	char refresh[64]; /* the new refresh token, "" for none */
} grant_out;

/* The token response for a user's grant: access token, ID token when the
 * scope has openid, the refresh token when one was made. */
static yz_status user_tokens(store *s, const char *issuer, const client_rec *cl, const grant_out *g,
                             json_t **out, iam_oauth_err *oe, yz_err *e)
{
	store_conn *c;
	char sub[40];
	yz_status st = store_reader(s, &c, e);
	if (st == YZ_OK)
		st = subject_of(c, g->user_id, sub, sizeof sub, e);
	if (st != YZ_OK)
		return st;
	json_t *at = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s}", "iss", issuer, "sub",
	                       sub, "aud", issuer, "client_id", cl->client_id, "scope", g->scope,
	                       "iat", (json_int_t)g->now_s, "exp",
	                       (json_int_t)(g->now_s + IAM_OIDC_ACCESS_TTL_S), "jti", g->jti);
	if (g->auth_time)
		jx_set_int(at, "auth_time", g->auth_time / 1000);
	char *access = NULL, *idt = NULL;
	st = sign_to(at, "at+jwt", &access, e);
	json_decref(at);
	if (st == YZ_OK && scope_has(g->scope, "openid")) {
		json_t *id = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "iss", issuer, "sub",
		                       sub, "aud", cl->client_id, "azp", cl->client_id, "iat",
		                       (json_int_t)g->now_s, "exp",
		                       (json_int_t)(g->now_s + IAM_OIDC_ID_TTL_S), "auth_time",
		                       (json_int_t)(g->auth_time / 1000));
		if (g->nonce[0])
			jx_set_str(id, "nonce", g->nonce);
		if (g->amr[0]) {
			json_t *amr = amr_array(g->amr);
			jx_set_str(id, "acr", json_array_size(amr) > 1 ? ACR_MFA : ACR_PWD);
			json_object_set_new(id, "amr", amr);
		}
		bool active = false;
		st = user_claims(c, g->user_id, g->scope, id, &active, e);
		if (st == YZ_OK && !active)
			st = oauth(oe, YZ_EINVAL, "invalid_grant", "the account is not active");
		if (st == YZ_OK)
			st = sign_to(id, "JWT", &idt, e);
		json_decref(id);
	}
	if (st == YZ_OK) {
		*out = json_pack("{s:s, s:s, s:i, s:s}", "access_token", access, "token_type",
		                 "Bearer", "expires_in", IAM_OIDC_ACCESS_TTL_S, "scope", g->scope);
		if (idt)
			jx_set_str(*out, "id_token", idt);
		if (g->refresh[0])
			jx_set_str(*out, "refresh_token", g->refresh);
	}
	free(access);
	free(idt);
	return st;
}

/* Every access token issued in a refresh family (and by its code), and the
 * family's refresh tokens, revoked. */
static yz_status revoke_family_tx(store_conn *tx, const char *family, int64_t now, yz_err *e)
{
	store_val a[] = {sv_text(family), sv_int(now)};
	yz_status st =
	    store_exec(tx,
	               "INSERT INTO iam_oidc_revoked (jti, expires_at) SELECT access_jti, "
	               "access_exp FROM iam_oidc_refresh WHERE family = ? AND access_exp "
	               "> ? ON CONFLICT (jti) DO NOTHING",
	               a, 2, e);
	if (st == YZ_OK)
		st = store_exec(tx,
		                "INSERT INTO iam_oidc_revoked (jti, expires_at) SELECT access_jti, "
		                "access_exp FROM iam_oidc_code WHERE id = ? AND access_exp > ? AND "
		                "access_jti <> '' ON CONFLICT (jti) DO NOTHING",
		                a, 2, e);
	store_val b[] = {sv_int(now), sv_text(family)};
	if (st == YZ_OK)
		st = store_exec(tx,
		                "UPDATE iam_oidc_refresh SET revoked_at = ? WHERE family = ? AND "
		                "revoked_at = 0",
		                b, 2, e);
	return st;
}

yz_status iam_oidc_session_ended_tx(store_conn *tx, const char *session_id, yz_err *e)
{
	int64_t now = clock_now_ms();
	store_val a[] = {sv_text(session_id), sv_int(now)};
	yz_status st =
	    store_exec(tx,
	               "INSERT INTO iam_oidc_revoked (jti, expires_at) SELECT access_jti, "
	               "access_exp FROM iam_oidc_refresh WHERE session_id = ? AND "
	               "access_exp > ? ON CONFLICT (jti) DO NOTHING",
	               a, 2, e);
	if (st == YZ_OK)
		st = store_exec(
		    tx,
		    "INSERT INTO iam_oidc_revoked (jti, expires_at) SELECT access_jti, "
		    "access_exp FROM iam_oidc_code WHERE session_id = ? AND access_exp > "
		    "? AND access_jti <> '' ON CONFLICT (jti) DO NOTHING",
		    a, 2, e);
	store_val b[] = {sv_int(now), sv_text(session_id)};
	if (st == YZ_OK)
		st = store_exec(
		    tx,
		    "UPDATE iam_oidc_refresh SET revoked_at = ? WHERE session_id = ? AND "
		    "revoked_at = 0",
		    b, 2, e);
	return st;
}

enum { GRANT_OK = 1, GRANT_BAD, GRANT_REPLAY, GRANT_BAD_SCOPE };

typedef struct exchange_job {
	const yz_actor *from;
	const client_rec *cl;
	const iam_oidc_token_req *q;
	const char *id;         /* SM3 of the presented code or refresh token */
	const char *refresh_id; /* SM3 of the new refresh token, or NULL */
	int64_t now;
	int result;    /* out */
	char why[128]; /* out: for GRANT_BAD */
	grant_out *g;  /* out */
} exchange_job;

static yz_status replayed_tx(store_conn *tx, exchange_job *j, const char *family, const char *what,
                             int64_t user_id, yz_err *e)
{
	yz_status st = revoke_family_tx(tx, family, j->now, e);
	if (st != YZ_OK)
		return st;
	char obj[32];
	snprintf(obj, sizeof obj, "user:%lld", (long long)user_id);
	json_t *ch = json_pack("{s:s}", "client_id", j->cl->client_id);
	st = audit_append(tx, j->from, what, obj, NULL, ch, e);
	json_decref(ch);
	j->result = GRANT_REPLAY;
	return st;
}

static bool user_active_tx(store_conn *tx, int64_t user_id)
{
	int64_t n = 0;
	store_val a[] = {sv_int(user_id)};
	return store_query_int(tx,
	                       "SELECT COUNT(*) FROM iam_user WHERE id = ? AND status = 'active'",
	                       a, 1, &n, NULL) == YZ_OK &&
	       n == 1;
}

static yz_status insert_refresh_tx(store_conn *tx, exchange_job *j, const char *family,
                                   const char *session_id, int64_t expires, yz_err *e)
{
	grant_out *g = j->g;
	store_val a[] = {sv_text(j->refresh_id),
	                 sv_text(family),
	                 sv_text(j->cl->client_id),
	                 sv_int(g->user_id),
	                 sv_text(session_id),
	                 sv_text(g->scope),
	                 sv_int(g->auth_time),
	                 sv_text(g->amr),
	                 sv_int(j->now),
	                 sv_int(expires),
	                 sv_text(g->jti),
	                 sv_int(j->now + IAM_OIDC_ACCESS_TTL_S * 1000LL)};
	return store_exec(
	    tx,
	    "INSERT INTO iam_oidc_refresh (id, family, client_id, user_id, session_id, "
	    "scope, auth_time, amr, created_at, expires_at, access_jti, access_exp) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	    a, SV_N(a), e);
}

static yz_status code_fn(store_conn *tx, void *arg, yz_err *e)
{
	exchange_job *j = arg;
	j->result = GRANT_BAD;
	yz_strlcpy(j->why, "the authorization code is invalid or has expired", sizeof j->why);
	store_rows *r;
	store_val a[] = {sv_text(j->id)};
	yz_status st = store_query(tx,
	                           "SELECT client_id, user_id, session_id, redirect_uri, scope, "
	                           "nonce, challenge, auth_time, amr, expires_at, used_at FROM "
	                           "iam_oidc_code WHERE id = ?",
	                           a, 1, &r, e);
	if (st != YZ_OK)
		return st;
	bool found = store_next(r);
	char client[72] = "", session[65] = "", redirect[URI_MAX + 1] = "", challenge[64] = "";
	int64_t expires = 0, used = 0;
	grant_out *g = j->g;
	if (found) {
		yz_strlcpy(client, store_col_text(r, 0), sizeof client);
		g->user_id = store_col_int(r, 1);
		yz_strlcpy(session, store_col_text(r, 2), sizeof session);
		yz_strlcpy(redirect, store_col_text(r, 3), sizeof redirect);
		yz_strlcpy(g->scope, store_col_text(r, 4), sizeof g->scope);
		yz_strlcpy(g->nonce, store_col_text(r, 5), sizeof g->nonce);
		yz_strlcpy(challenge, store_col_text(r, 6), sizeof challenge);
		g->auth_time = store_col_int(r, 7);
		yz_strlcpy(g->amr, store_col_text(r, 8), sizeof g->amr);
		expires = store_col_int(r, 9);
		used = store_col_int(r, 10);
	}
	st = store_rows_close(r, e);
	if (st != YZ_OK || !found)
		return st;
	/* a code shown by another client is not spent: its owner may still use it */
	if (strcmp(client, j->cl->client_id) != 0)
		return YZ_OK;
	if (used)
		return replayed_tx(tx, j, j->id, "iam.oidc.code_replayed", g->user_id, e);
	/* one attempt per code, right or wrong */
	store_val b[] = {sv_int(j->now), sv_text(j->id)};
	st = store_exec(tx, "UPDATE iam_oidc_code SET used_at = ? WHERE id = ? AND used_at = 0", b,
	                2, e);
	if (st != YZ_OK)
		return st;
	if (j->now >= expires)
		return YZ_OK;
	if (!j->q->redirect_uri || strcmp(j->q->redirect_uri, redirect) != 0) {
		yz_strlcpy(j->why, "redirect_uri differs from the authorization request",
		           sizeof j->why);
		return YZ_OK;
	}
	if (!iam_oidc_pkce_s256_ok(j->q->code_verifier, challenge)) {
		yz_strlcpy(j->why, "PKCE verification failed (code_verifier)", sizeof j->why);
		return YZ_OK;
	}
	if (!user_active_tx(tx, g->user_id)) {
		yz_strlcpy(j->why, "the account is not active", sizeof j->why);
		return YZ_OK;
	}
	store_val c[] = {sv_text(g->jti), sv_int(j->now + IAM_OIDC_ACCESS_TTL_S * 1000LL),
	                 sv_text(j->id)};
	st = store_exec(tx, "UPDATE iam_oidc_code SET access_jti = ?, access_exp = ? WHERE id = ?",
	                c, 3, e);
	if (st == YZ_OK && j->refresh_id)
		st = insert_refresh_tx(tx, j, j->id, session,
		                       j->now + IAM_OIDC_REFRESH_TTL_S * 1000LL, e);
	if (st == YZ_OK)
		j->result = GRANT_OK;
	return st;
}

static yz_status refresh_fn(store_conn *tx, void *arg, yz_err *e)
{
	exchange_job *j = arg;
	j->result = GRANT_BAD;
	yz_strlcpy(j->why, "the refresh token is invalid, expired or revoked", sizeof j->why);
	store_rows *r;
	store_val a[] = {sv_text(j->id)};
	yz_status st =
	    store_query(tx,
	                "SELECT family, client_id, user_id, session_id, scope, auth_time, "
	                "amr, expires_at, used_at, revoked_at FROM iam_oidc_refresh WHERE "
	                "id = ?",
	                a, 1, &r, e);
	if (st != YZ_OK)
		return st;
	bool found = store_next(r);
	char family[65] = "", client[72] = "", session[65] = "", scope[SCOPE_STR_MAX] = "";
	int64_t expires = 0, used = 0, revoked = 0;
	grant_out *g = j->g;
	if (found) {
		yz_strlcpy(family, store_col_text(r, 0), sizeof family);
		yz_strlcpy(client, store_col_text(r, 1), sizeof client);
		g->user_id = store_col_int(r, 2);
		yz_strlcpy(session, store_col_text(r, 3), sizeof session);
		yz_strlcpy(scope, store_col_text(r, 4), sizeof scope);
		g->auth_time = store_col_int(r, 5);
		yz_strlcpy(g->amr, store_col_text(r, 6), sizeof g->amr);
		expires = store_col_int(r, 7);
		used = store_col_int(r, 8);
		revoked = store_col_int(r, 9);
	}
	st = store_rows_close(r, e);
	if (st != YZ_OK || !found || strcmp(client, j->cl->client_id) != 0 || revoked)
		return st;
	if (used)
		return replayed_tx(tx, j, family, "iam.oidc.refresh_replayed", g->user_id, e);
	if (j->now >= expires)
		return YZ_OK;
	/* a narrower scope may be asked for, never a wider one */
	if (j->q->scope && *j->q->scope) {
		json_t *orig = json_array();
		for (const char *p = scope; *p;) {
			size_t n = strcspn(p, " ");
			if (n)
				json_array_append_new(orig, json_stringn(p, n));
			p += n;
			while (*p == ' ')
				p++;
		}
		char bad[80];
		bool ok = scope_normalise(j->q->scope, orig, false, g->scope, sizeof g->scope, bad,
		                          sizeof bad);
		json_decref(orig);
		if (!ok) {
			j->result = GRANT_BAD_SCOPE;
			snprintf(j->why, sizeof j->why, "scope %s was not granted", bad);
			return YZ_OK;
		}
	} else {
		yz_strlcpy(g->scope, scope, sizeof g->scope);
	}
	if (!user_active_tx(tx, g->user_id)) {
		yz_strlcpy(j->why, "the account is not active", sizeof j->why);
		return YZ_OK;
	}
	store_val b[] = {sv_int(j->now), sv_text(j->id)};
	st = store_exec(tx, "UPDATE iam_oidc_refresh SET used_at = ? WHERE id = ? AND used_at = 0",
	                b, 2, e);
	if (st == YZ_OK)
		st = insert_refresh_tx(tx, j, family, session, expires, e);
	if (st == YZ_OK)
		j->result = GRANT_OK;
	return st;
}

static yz_status grant_exchange(store *s, const char *issuer, const yz_actor *from,
                                const client_rec *cl, const iam_oidc_token_req *q, bool by_code,
                                json_t **out, iam_oauth_err *oe, yz_err *e)
{
	const char *presented = by_code ? q->code : q->refresh_token;
	if (!presented || !*presented)
		return oauth(oe, YZ_EINVAL, "invalid_request",
		             by_code ? "code is missing" : "refresh_token is missing");
	if (by_code && (!q->redirect_uri || !*q->redirect_uri))
		return oauth(oe, YZ_EINVAL, "invalid_request", "redirect_uri is missing");
	if (strlen(presented) > 128)
		return oauth(oe, YZ_EINVAL, "invalid_grant", "no such grant");
	grant_out g;
	memset(&g, 0, sizeof g);
	char id[65], new_id[65];
	sm3_hex(presented, id);
	bool refresh = json_has_str(cl->grants, "refresh_token", 13);
	if (crypto_random_token(16, g.jti, sizeof g.jti) != YZ_OK ||
	    (refresh && crypto_random_token(TOKEN_BYTES, g.refresh, sizeof g.refresh) != YZ_OK))
		return yz_fail(e, YZ_ECRYPTO, "no randomness for a token");
	if (refresh)
		sm3_hex(g.refresh, new_id);
	exchange_job j = {.from = from,
	                  .cl = cl,
	                  .q = q,
	                  .id = id,
	                  .refresh_id = refresh ? new_id : NULL,
	                  .now = clock_now_ms(),
	                  .g = &g};
	g.now_s = j.now / 1000;
	yz_status st = store_write(s, by_code ? code_fn : refresh_fn, &j, e);
	if (st != YZ_OK)
		return st;
	if (j.result == GRANT_REPLAY)
		return oauth(oe, YZ_EINVAL, "invalid_grant",
		             by_code ? "the authorization code was used already; what it gave is "
		                       "revoked"
		                     : "the refresh token was used already; its family is revoked");
	if (j.result == GRANT_BAD_SCOPE)
		return oauth(oe, YZ_EINVAL, "invalid_scope", "%s", j.why);
	if (j.result != GRANT_OK)
		return oauth(oe, YZ_EINVAL, "invalid_grant", "%s", j.why);
	if (!by_code)
		g.nonce[0] = '\0';
	return user_tokens(s, issuer, cl, &g, out, oe, e);
}

static yz_status grant_client_credentials(const char *issuer, const client_rec *cl,
                                          const iam_oidc_token_req *q, json_t **out,
                                          iam_oauth_err *oe, yz_err *e)
{
	char scope[SCOPE_STR_MAX] = "", bad[80];
	if (q->scope && *q->scope) {
		if (strlen(q->scope) >= SCOPE_STR_MAX ||
		    !scope_normalise(q->scope, cl->scopes, true, scope, sizeof scope, bad,
		                     sizeof bad))
			return oauth(oe, YZ_EINVAL, "invalid_scope",
			             "scope %s is not allowed for this client", bad);
	} else {
		/* by default every scope the client holds that is not about a user */
		size_t i, k = 0;
		json_t *v;
		json_array_foreach (cl->scopes, i, v) {
			const char *w = json_string_value(v);
			size_t n = w ? strlen(w) : 0;
			if (!n || is_user_scope(w, n) || k + n + 2 >= sizeof scope)
				continue;
			if (k)
				scope[k++] = ' ';
			memcpy(scope + k, w, n);
			k += n;
			scope[k] = '\0';
		}
	}
	char jti[40];
	if (crypto_random_token(16, jti, sizeof jti) != YZ_OK)
		return yz_fail(e, YZ_ECRYPTO, "no randomness for a token");
	int64_t now = clock_now_ms() / 1000;
	json_t *at =
	    json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s}", "iss", issuer, "sub", cl->client_id,
	              "aud", issuer, "client_id", cl->client_id, "iat", (json_int_t)now, "exp",
	              (json_int_t)(now + IAM_OIDC_ACCESS_TTL_S), "jti", jti);
	if (scope[0])
		jx_set_str(at, "scope", scope);
	char *access = NULL;
	yz_status st = sign_to(at, "at+jwt", &access, e);
	json_decref(at);
	if (st != YZ_OK)
		return st;
	*out = json_pack("{s:s, s:s, s:i}", "access_token", access, "token_type", "Bearer",
	                 "expires_in", IAM_OIDC_ACCESS_TTL_S);
	if (scope[0])
		jx_set_str(*out, "scope", scope);
	free(access);
	return YZ_OK;
}

yz_status iam_oidc_token(store *s, const char *issuer, const yz_actor *from,
                         const iam_oidc_client_auth *ca, const iam_oidc_token_req *q, json_t **out,
                         iam_oauth_err *oe, yz_err *e)
{
	*out = NULL;
	if (!q->grant_type || !*q->grant_type)
		return oauth(oe, YZ_EINVAL, "invalid_request", "grant_type is missing");
	client_rec cl;
	yz_status st = client_authenticate(s, ca, &cl, oe, e);
	if (st != YZ_OK)
		return st;
	const char *gt = q->grant_type;
	bool known = false;
	for (int i = 0; iam_oidc_grant_types[i]; i++)
		known |= !strcmp(gt, iam_oidc_grant_types[i]);
	if (!known)
		st = oauth(oe, YZ_EINVAL, "unsupported_grant_type",
		           "grant_type %.40s is not supported", gt);
	else if (!json_has_str(cl.grants, gt, strlen(gt)))
		st = oauth(oe, YZ_EINVAL, "unauthorized_client",
		           "the client may not use the %s grant", gt);
	else if (!strcmp(gt, "client_credentials"))
		st = grant_client_credentials(issuer, &cl, q, out, oe, e);
	else
		st = grant_exchange(s, issuer, from, &cl, q, !strcmp(gt, "authorization_code"), out,
		                    oe, e);
	client_clear(&cl);
	return st;
}

/* ---- access tokens presented back ---- */

/* A currently valid access token of this issuer: *claims on success; any
 * other outcome is YZ_EUNAUTH (invalid_token). */
static yz_status access_check(store_conn *c, const char *issuer, const char *token, json_t **claims,
                              yz_err *e)
{
	*claims = NULL;
	char typ[32];
	json_t *cl = NULL;
	if (iam_oidc_jwt_verify(token, &cl, typ, sizeof typ, NULL) != YZ_OK)
		return YZ_EUNAUTH;
	int64_t now = clock_now_ms() / 1000;
	const char *jti = jx_str(cl, "jti", "");
	if (strcmp(typ, "at+jwt") != 0 || strcmp(jx_str(cl, "iss", ""), issuer) != 0 ||
	    jx_int(cl, "exp", 0) <= now || !*jti) {
		json_decref(cl);
		return YZ_EUNAUTH;
	}
	int64_t n = 0;
	store_val a[] = {sv_text(jti)};
	yz_status st =
	    store_query_int(c, "SELECT COUNT(*) FROM iam_oidc_revoked WHERE jti = ?", a, 1, &n, e);
	if (st != YZ_OK || n) {
		json_decref(cl);
		return st != YZ_OK ? st : YZ_EUNAUTH;
	}
	*claims = cl;
	return YZ_OK;
}

static yz_status user_of_sub(store_conn *c, const char *sub, int64_t *user_id, yz_err *e)
{
	*user_id = 0;
	store_val a[] = {sv_text(sub)};
	yz_status st = store_query_int(c, "SELECT user_id FROM iam_oidc_subject WHERE sub = ?", a,
	                               1, user_id, e);
	return st == YZ_ENOTFOUND ? YZ_OK : st;
}

yz_status iam_oidc_userinfo(store *s, const char *issuer, const char *access_token, json_t **out,
                            iam_oauth_err *oe, yz_err *e)
{
	*out = NULL;
	store_conn *c;
	json_t *cl = NULL;
	yz_status st = store_reader(s, &c, e);
	if (st == YZ_OK)
		st = access_check(c, issuer, access_token, &cl, e);
	if (st == YZ_EUNAUTH)
		return oauth(oe, YZ_EUNAUTH, "invalid_token",
		             "the access token is invalid, expired or revoked");
	if (st != YZ_OK)
		return st;
	int64_t uid = 0;
	const char *sub = jx_str(cl, "sub", "");
	const char *scope = jx_str(cl, "scope", "");
	st = user_of_sub(c, sub, &uid, e);
	if (st == YZ_OK && !uid)
		st = oauth(oe, YZ_EUNAUTH, "invalid_token", "the token is not about a user");
	else if (st == YZ_OK && !scope_has(scope, "openid"))
		st = oauth(oe, YZ_EFORBIDDEN, "insufficient_scope", "the token lacks scope openid");
	json_t *o = NULL;
	if (st == YZ_OK) {
		o = json_pack("{s:s}", "sub", sub);
		bool active = false;
		st = user_claims(c, uid, scope, o, &active, e);
		if (st == YZ_OK && !active)
			st = oauth(oe, YZ_EUNAUTH, "invalid_token", "the account is not active");
	}
	json_decref(cl);
	if (st != YZ_OK) {
		json_decref(o);
		return st;
	}
	*out = o;
	return YZ_OK;
}

static bool is_jwt(const char *t)
{
	return t && strchr(t, '.') != NULL;
}

yz_status iam_oidc_introspect(store *s, const char *issuer, const iam_oidc_client_auth *ca,
                              const char *token, json_t **out, iam_oauth_err *oe, yz_err *e)
{
	*out = NULL;
	client_rec cl;
	yz_status st = client_authenticate(s, ca, &cl, oe, e);
	if (st != YZ_OK)
		return st;
	if (!token || !*token) {
		client_clear(&cl);
		return oauth(oe, YZ_EINVAL, "invalid_request", "token is missing");
	}
	store_conn *c;
	st = store_reader(s, &c, e);
	if (st == YZ_OK && is_jwt(token)) {
		json_t *claims = NULL;
		st = access_check(c, issuer, token, &claims, e);
		if (st == YZ_OK) {
			json_object_set_new(claims, "active", json_true());
			jx_set_str(claims, "token_type", "Bearer");
			*out = claims;
		} else if (st == YZ_EUNAUTH) {
			st = YZ_OK;
		}
	} else if (st == YZ_OK) {
		/* a refresh token: only the client it was issued to learns about it */
		char id[65];
		sm3_hex(token, id);
		store_rows *r;
		store_val a[] = {sv_text(id), sv_text(cl.client_id)};
		st = store_query(
		    c,
		    "SELECT r.scope, r.created_at, r.expires_at, r.used_at, r.revoked_at, "
		    "COALESCE(s.sub, '') FROM iam_oidc_refresh r LEFT JOIN "
		    "iam_oidc_subject s ON s.user_id = r.user_id WHERE r.id = ? AND "
		    "r.client_id = ?",
		    a, 2, &r, e);
		if (st == YZ_OK) {
			int64_t now = clock_now_ms();
			if (store_next(r) && !store_col_int(r, 3) && !store_col_int(r, 4) &&
			    store_col_int(r, 2) > now)
				*out = json_pack("{s:b, s:s, s:s, s:s, s:I, s:I, s:s}", "active", 1,
				                 "scope", store_col_text(r, 0), "client_id",
				                 cl.client_id, "sub", store_col_text(r, 5), "iat",
				                 (json_int_t)(store_col_int(r, 1) / 1000), "exp",
				                 (json_int_t)(store_col_int(r, 2) / 1000), "iss",
				                 issuer);
			st = store_rows_close(r, e);
		}
	}
	client_clear(&cl);
	if (st != YZ_OK) {
		json_decref(*out);
		*out = NULL;
		return st;
	}
	if (!*out)
		*out = json_pack("{s:b}", "active", 0);
	return YZ_OK;
}

typedef struct revoke_job {
	const yz_actor *from;
	const char *client_id, *jti, *refresh_id;
	int64_t exp_ms, now;
	bool done; /* out */
} revoke_job;

static yz_status revoke_fn(store_conn *tx, void *arg, yz_err *e)
{
	revoke_job *j = arg;
	j->done = false;
	yz_status st = YZ_OK;
	if (j->jti) {
		store_val a[] = {sv_text(j->jti), sv_int(j->exp_ms)};
		st = store_exec(tx,
		                "INSERT INTO iam_oidc_revoked (jti, expires_at) VALUES (?, ?) ON "
		                "CONFLICT (jti) DO NOTHING",
		                a, 2, e);
		j->done = st == YZ_OK && store_changes(tx) > 0;
	} else {
		char family[65] = "";
		store_rows *r;
		store_val a[] = {sv_text(j->refresh_id), sv_text(j->client_id)};
		st = store_query(
		    tx,
		    "SELECT family FROM iam_oidc_refresh WHERE id = ? AND client_id = ? "
		    "AND revoked_at = 0",
		    a, 2, &r, e);
		if (st != YZ_OK)
			return st;
		if (store_next(r))
			yz_strlcpy(family, store_col_text(r, 0), sizeof family);
		st = store_rows_close(r, e);
		if (st == YZ_OK && family[0]) {
			st = revoke_family_tx(tx, family, j->now, e);
			j->done = st == YZ_OK;
		}
	}
	if (st != YZ_OK || !j->done)
		return st;
	char obj[96];
	snprintf(obj, sizeof obj, "oidc-client:%s", j->client_id);
	json_t *ch = json_pack("{s:s}", "token", j->jti ? "access_token" : "refresh_token");
	st = audit_append(tx, j->from, "iam.oidc.revoke", obj, NULL, ch, e);
	json_decref(ch);
	return st;
}

yz_status iam_oidc_revoke(store *s, const char *issuer, const yz_actor *from,
                          const iam_oidc_client_auth *ca, const char *token, iam_oauth_err *oe,
                          yz_err *e)
{
	client_rec cl;
	yz_status st = client_authenticate(s, ca, &cl, oe, e);
	if (st != YZ_OK)
		return st;
	if (!token || !*token) {
		client_clear(&cl);
		return oauth(oe, YZ_EINVAL, "invalid_request", "token is missing");
	}
	revoke_job j = {.from = from, .client_id = cl.client_id, .now = clock_now_ms()};
	char id[65];
	json_t *claims = NULL;
	if (is_jwt(token)) {
		/* only a signature of ours and only the client's own tokens */
		char typ[32];
		if (iam_oidc_jwt_verify(token, &claims, typ, sizeof typ, NULL) != YZ_OK ||
		    strcmp(typ, "at+jwt") != 0 || strcmp(jx_str(claims, "iss", ""), issuer) != 0 ||
		    strcmp(jx_str(claims, "client_id", ""), cl.client_id) != 0 ||
		    jx_int(claims, "exp", 0) * 1000 <= j.now) {
			json_decref(claims);
			client_clear(&cl);
			return YZ_OK; /* RFC 7009 §2.2: invalid tokens are not an error */
		}
		j.jti = jx_str(claims, "jti", "");
		j.exp_ms = jx_int(claims, "exp", 0) * 1000;
	} else {
		sm3_hex(token, id);
		j.refresh_id = id;
	}
	st = store_write(s, revoke_fn, &j, e);
	json_decref(claims);
	client_clear(&cl);
	return st;
}

/* ---- logout ---- */

yz_status iam_oidc_logout_check(store *s, const char *issuer, const char *id_token_hint,
                                const char *client_id, const char *post_logout_uri,
                                int64_t *user_id, iam_oauth_err *oe, yz_err *e)
{
	*user_id = 0;
	char aud[72] = "";
	store_conn *c;
	yz_status st = store_reader(s, &c, e);
	if (st != YZ_OK)
		return st;
	if (id_token_hint && *id_token_hint) {
		json_t *claims = NULL;
		char typ[32];
		if (iam_oidc_jwt_verify(id_token_hint, &claims, typ, sizeof typ, NULL) != YZ_OK ||
		    strcmp(typ, "JWT") != 0 || strcmp(jx_str(claims, "iss", ""), issuer) != 0) {
			json_decref(claims);
			return oauth(oe, YZ_EINVAL, "invalid_request",
			             "id_token_hint is not an ID token of this provider");
		}
		yz_strlcpy(aud, jx_str(claims, "aud", ""), sizeof aud);
		st = user_of_sub(c, jx_str(claims, "sub", ""), user_id, e);
		json_decref(claims);
		if (st != YZ_OK)
			return st;
	}
	if (client_id && *client_id && aud[0] && strcmp(client_id, aud) != 0)
		return oauth(oe, YZ_EINVAL, "invalid_request",
		             "client_id differs from the audience of id_token_hint");
	const char *who = client_id && *client_id ? client_id : aud;
	if (!post_logout_uri || !*post_logout_uri)
		return YZ_OK;
	if (!*who)
		return oauth(oe, YZ_EINVAL, "invalid_request",
		             "post_logout_redirect_uri needs id_token_hint or client_id");
	client_rec cl;
	st = client_read(c, who, &cl, e);
	if (st != YZ_OK)
		return st;
	bool ok = cl.found && !strcmp(cl.status, "active") &&
	          json_has_str(cl.post_logout, post_logout_uri, strlen(post_logout_uri));
	client_clear(&cl);
	if (!ok)
		return oauth(oe, YZ_EINVAL, "invalid_request",
		             "post_logout_redirect_uri is not registered for this client");
	return YZ_OK;
}

/* ---- sweep ---- */

static yz_status sweep_fn(store_conn *tx, void *arg, yz_err *e)
{
	(void)arg;
	int64_t now = clock_now_ms();
	/* spent codes are kept a day so that a late replay still revokes */
	store_val day[] = {sv_int(now - 86400000LL)};
	store_val at[] = {sv_int(now)};
	yz_status st = store_exec(tx, "DELETE FROM iam_oidc_code WHERE expires_at < ?", day, 1, e);
	if (st == YZ_OK)
		st = store_exec(tx, "DELETE FROM iam_oidc_refresh WHERE expires_at < ?", at, 1, e);
	if (st == YZ_OK)
		st = store_exec(tx, "DELETE FROM iam_oidc_revoked WHERE expires_at < ?", at, 1, e);
	if (st == YZ_OK)
		st = store_exec(tx, "DELETE FROM iam_login_pending WHERE expires_at < ?", at, 1, e);
	return st;
}

yz_status iam_sweep(store *s, yz_err *e)
{
	return store_write(s, sweep_fn, NULL, e);
}
