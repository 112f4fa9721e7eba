/*
 * iam_keys.c — iam's keys: the key-encryption key in <data>/keys/iam.kek
 * (48 random bytes, mode 0600) that seals what iam must keep secret but able
 * to use (the OpenID Connect signing keys, TOTP secrets), and the ES256
 * signing keys themselves.
 *
 * Signing keys live in iam_oidc_key, the private half sealed (crypto_seal)
 * under the KEK with the kid as associated data, the public half as a JWK.
 * The first load on an installation without a key makes one. Every node of
 * a PostgreSQL deployment needs the same iam.kek (copy it with the data
 * directory); two nodes that both found no key at once both make one, and
 * both then sign with the oldest, so they agree. The JWKS lists every active
 * key. Rotation (a new key published before it signs, the old one kept until
 * the last token it signed has expired) is not done yet.
 *
 * Loaded once before serving and read without locks afterwards: the loaded
 * set is immutable until iam_keys_unload, which runs after the server has
 * stopped.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/b64.h"
#include "core/clock.h"
#include "crypto/crypto.h"
#include "iam/iam_int.h"
#include "iam/oidc.h"

#define KEK_FILE "keys/iam.kek"
#define MAX_KEYS 8

typedef struct sign_key {
	char kid[48];
	crypto_key *k;
	json_t *jwk; /* public, with kid, use, alg */
	int64_t created_at;
} sign_key;

static pthread_mutex_t keys_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned char kek[CRYPTO_SEAL_KEY_LEN];
static bool kek_loaded;
static sign_key keys[MAX_KEYS];
static int nkeys;

static yz_status kek_load(const char *data_dir, yz_err *e)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/" KEK_FILE, data_dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		char dir[1024];
		snprintf(dir, sizeof dir, "%s/keys", data_dir);
		if (mkdir(dir, 0700) != 0 && errno != EEXIST)
			return yz_fail(e, YZ_EIO, "cannot create %s: %s", dir, strerror(errno));
		if (crypto_random(kek, sizeof kek) != YZ_OK)
			return yz_fail(e, YZ_ECRYPTO, "no randomness for iam's key-encryption key");
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 && errno == EEXIST) {
			fd = open(path, O_RDONLY | O_CLOEXEC); /* another process made it first */
		} else if (fd >= 0) {
			ssize_t w = write(fd, kek, sizeof kek);
			int synced = fsync(fd);
			close(fd);
			if (w != (ssize_t)sizeof kek || synced != 0)
				return yz_fail(e, YZ_EIO, "cannot write %s", path);
			kek_loaded = true;
			return YZ_OK;
		}
	}
	if (fd < 0)
		return yz_fail(e, YZ_EIO, "cannot read iam's key-encryption key %s: %s", path,
		               strerror(errno));
	ssize_t r = read(fd, kek, sizeof kek);
	close(fd);
	if (r != (ssize_t)sizeof kek)
		return yz_fail(e, YZ_EIO, "%s: not a key-encryption key", path);
	kek_loaded = true;
	return YZ_OK;
}

bool iam_kek_copy(unsigned char out[CRYPTO_SEAL_KEY_LEN])
{
	if (!kek_loaded)
		return false;
	memcpy(out, kek, CRYPTO_SEAL_KEY_LEN);
	return true;
}

static void b64url_into(const void *p, size_t n, char *out, size_t cap)
{
	buf b;
	buf_init(&b, 256);
	out[0] = '\0';
	if (b64_encode(p, n, true, &b) == YZ_OK)
		yz_strlcpy(out, buf_str(&b), cap);
	buf_free(&b);
}

/* The public JWK of a P-256 key and its RFC 7638 thumbprint as kid. */
static yz_status jwk_of(const crypto_key *k, json_t **jwk, char *kid, size_t cap, yz_err *e)
{
	unsigned char pt[CRYPTO_EC_POINT_LEN];
	if (crypto_key_ec_point(k, pt) != YZ_OK)
		return yz_fail(e, YZ_ECRYPTO, "the signing key has no EC point");
	char x[64], y[64];
	b64url_into(pt + 1, 32, x, sizeof x);
	b64url_into(pt + 33, 32, y, sizeof y);
	char canon[200];
	snprintf(canon, sizeof canon,
	         "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", x, y);
	unsigned char d[CRYPTO_SHA256_LEN];
	crypto_sha256(canon, strlen(canon), d);
	b64url_into(d, sizeof d, kid, cap);
	*jwk = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "kty", "EC", "crv", "P-256", "x", x,
	                 "y", y, "kid", kid, "use", "sig", "alg", "ES256");
	return *jwk ? YZ_OK : yz_fail(e, YZ_ENOMEM, "out of memory");
}

static void aad_of(const char *kid, char *out, size_t cap)
{
	snprintf(out, cap, "yizhan-oidc-key:%s", kid);
}

typedef struct key_row {
	const char *kid, *jwk;
	const buf *sealed;
} key_row;

static yz_status key_insert(store_conn *tx, void *arg, yz_err *e)
{
	key_row *k = arg;
	store_val a[] = {sv_text(k->kid), sv_text("ES256"), sv_text(k->jwk),
	                 sv_blob(k->sealed->p, k->sealed->len), sv_int(clock_now_ms())};
	yz_status st = store_exec(tx,
	                          "INSERT INTO iam_oidc_key (kid, alg, public_jwk, key_sealed, "
	                          "created_at) VALUES (?, ?, ?, ?, ?)",
	                          a, SV_N(a), e);
	if (st != YZ_OK)
		return st;
	yz_actor sys = actor_system("iam");
	char obj[80];
	snprintf(obj, sizeof obj, "oidc-key:%s", k->kid);
	return audit_append(tx, &sys, "iam.oidc.key_created", obj, NULL, NULL, e);
}

static yz_status key_generate(store *s, yz_err *e)
{
	crypto_key *k;
	yz_status st = crypto_key_generate(CRYPTO_ECDSA_P256, &k, e);
	if (st != YZ_OK)
		return st;
	json_t *jwk = NULL;
	char kid[48];
	buf pem, sealed, jtext;
	buf_init(&pem, 16384);
	buf_init(&sealed, 16384);
	buf_init(&jtext, 4096);
	st = jwk_of(k, &jwk, kid, sizeof kid, e);
	if (st == YZ_OK)
		st = crypto_key_to_pem(k, true, NULL, &pem, e);
	if (st == YZ_OK) {
		char aad[96];
		aad_of(kid, aad, sizeof aad);
		if (crypto_seal(kek, aad, strlen(aad), pem.p, pem.len, &sealed) != YZ_OK ||
		    jx_dump(jwk, &jtext) != YZ_OK)
			st = yz_fail(e, YZ_ECRYPTO, "cannot seal the signing key");
	}
	if (st == YZ_OK) {
		key_row row = {kid, buf_str(&jtext), &sealed};
		st = store_write(s, key_insert, &row, e);
	}
	if (pem.p)
		memset(pem.p, 0, pem.len);
	buf_free(&pem);
	buf_free(&sealed);
	buf_free(&jtext);
	json_decref(jwk);
	crypto_key_free(k);
	return st;
}

static void keys_clear(void)
{
	for (int i = 0; i < nkeys; i++) {
		crypto_key_free(keys[i].k);
		json_decref(keys[i].jwk);
	}
	memset(keys, 0, sizeof keys);
	nkeys = 0;
}

/* Active keys, oldest first (the oldest signs). */
static yz_status keys_read(store *s, yz_err *e)
{
	store_conn *c;
	yz_status st = store_reader(s, &c, e);
	store_rows *r;
	if (st == YZ_OK)
		st = store_query(
		    c,
		    "SELECT kid, key_sealed, created_at FROM iam_oidc_key WHERE status = "
		    "'active' ORDER BY created_at, kid",
		    NULL, 0, &r, e);
	if (st != YZ_OK)
		return st;
	while (st == YZ_OK && nkeys < MAX_KEYS && store_next(r)) {
		sign_key *k = &keys[nkeys];
		yz_strlcpy(k->kid, store_col_text(r, 0), sizeof k->kid);
		k->created_at = store_col_int(r, 2);
		size_t n = 0;
		const void *sealed = store_col_blob(r, 1, &n);
		char aad[96];
		aad_of(k->kid, aad, sizeof aad);
		buf pem;
		buf_init(&pem, 16384);
		if (crypto_open(kek, aad, strlen(aad), sealed, n, &pem) != YZ_OK)
			st = yz_fail(e, YZ_ECRYPTO,
			             "OpenID Connect key %s does not open with " KEK_FILE
			             " (a key-encryption key from another installation?)",
			             k->kid);
		if (st == YZ_OK)
			st = crypto_key_from_pem(pem.p, pem.len, NULL, &k->k, e);
		if (pem.p)
			memset(pem.p, 0, pem.len);
		buf_free(&pem);
		char kid[48];
		if (st == YZ_OK)
			st = jwk_of(k->k, &k->jwk, kid, sizeof kid, e);
		if (st == YZ_OK && strcmp(kid, k->kid) != 0)
			st = yz_fail(e, YZ_ECRYPTO, "OpenID Connect key %s: the kid does not match",
			             k->kid);
		if (st == YZ_OK)
			nkeys++;
		else {
			crypto_key_free(k->k);
			json_decref(k->jwk);
			memset(k, 0, sizeof *k);
		}
	}
	yz_status cst = store_rows_close(r, st == YZ_OK ? e : NULL);
	return st != YZ_OK ? st : cst;
}

yz_status iam_keys_load(store *s, const char *data_dir, yz_err *e)
{
	pthread_mutex_lock(&keys_mu);
	keys_clear();
	yz_status st = kek_load(data_dir, e);
	if (st == YZ_OK)
		st = keys_read(s, e);
	if (st == YZ_OK && nkeys == 0) {
		st = key_generate(s, e);
		if (st == YZ_OK)
			st = keys_read(s, e);
		if (st == YZ_OK && nkeys == 0)
			st = yz_fail(e, YZ_EINTERNAL,
			             "no OpenID Connect signing key after making one");
	}
	if (st != YZ_OK)
		keys_clear();
	pthread_mutex_unlock(&keys_mu);
	return st;
}

void iam_keys_unload(void)
{
	pthread_mutex_lock(&keys_mu);
	keys_clear();
	memset(kek, 0, sizeof kek);
	kek_loaded = false;
	pthread_mutex_unlock(&keys_mu);
}

const crypto_key *iam_oidc_signer(const char **kid)
{
	if (!nkeys)
		return NULL;
	*kid = keys[0].kid;
	return keys[0].k;
}

const crypto_key *iam_oidc_key_by_kid(const char *kid, size_t n)
{
	for (int i = 0; i < nkeys; i++)
		if (strlen(keys[i].kid) == n && !memcmp(keys[i].kid, kid, n))
			return keys[i].k;
	return NULL;
}

json_t *iam_oidc_jwks(void)
{
	json_t *arr = json_array();
	for (int i = 0; i < nkeys; i++)
		json_array_append(arr, keys[i].jwk);
	return json_pack("{s:o}", "keys", arr);
}
