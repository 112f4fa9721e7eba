/* SM3, SHA-256, HMAC and constant-time comparison.
 *
 * These functions return void because the only way they can fail is an
 * allocation failure inside OpenSSL; returning a wrong digest would be worse
 * than stopping, so they abort in that case. */
#include <stdlib.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>

#include "crypto/crypto_int.h"

struct crypto_sm3_ctx {
	EVP_MD_CTX *md;
};

static void digest(const EVP_MD *md, const void *data, size_t n, unsigned char *out)
{
	if (EVP_Digest(data, n, out, NULL, md, NULL) != 1)
		abort();
}

void crypto_sm3(const void *data, size_t n, unsigned char out[CRYPTO_SM3_LEN])
{
	digest(crypto_int_need_algs()->sm3, data, n, out);
}

void crypto_sha256(const void *data, size_t n, unsigned char out[CRYPTO_SHA256_LEN])
{
	digest(crypto_int_need_algs()->sha256, data, n, out);
}

crypto_sm3_ctx *crypto_sm3_new(void)
{
	const crypto_int_algs *a = crypto_int_get_algs();
	if (!a)
		return NULL;
	crypto_sm3_ctx *c = malloc(sizeof *c);
	if (!c)
		return NULL;
	c->md = EVP_MD_CTX_new();
	if (!c->md || EVP_DigestInit_ex2(c->md, a->sm3, NULL) != 1) {
		EVP_MD_CTX_free(c->md);
		free(c);
		crypto_int_clear_errors();
		return NULL;
	}
	return c;
}

void crypto_sm3_update(crypto_sm3_ctx *c, const void *data, size_t n)
{
	if (n && EVP_DigestUpdate(c->md, data, n) != 1)
		abort();
}

void crypto_sm3_final(crypto_sm3_ctx *c, unsigned char out[CRYPTO_SM3_LEN])
{
	if (EVP_DigestFinal_ex(c->md, out, NULL) != 1 || EVP_DigestInit_ex2(c->md, NULL, NULL) != 1)
		abort();
}

void crypto_sm3_free(crypto_sm3_ctx *c)
{
	if (!c)
		return;
	EVP_MD_CTX_free(c->md);
	free(c);
}

static void hmac(const char *mdname, const void *key, size_t klen, const void *data, size_t n,
                 unsigned char *out, size_t outlen)
{
	static const unsigned char empty[1];
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(crypto_int_need_algs()->hmac);
	OSSL_PARAM params[] = {
	    OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)mdname, 0),
	    OSSL_PARAM_construct_end(),
	};
	size_t got = 0;
	/* A NULL key means "keep the previous key" to EVP_MAC_init; an empty
	 * key must still be a key. */
	if (!ctx || EVP_MAC_init(ctx, klen ? key : empty, klen, params) != 1 ||
	    (n && EVP_MAC_update(ctx, data, n) != 1) ||
	    EVP_MAC_final(ctx, out, &got, outlen) != 1 || got != outlen)
		abort();
	EVP_MAC_CTX_free(ctx);
}

void crypto_hmac_sm3(const void *key, size_t klen, const void *data, size_t n,
                     unsigned char out[CRYPTO_SM3_LEN])
{
	hmac("SM3", key, klen, data, n, out, CRYPTO_SM3_LEN);
}

void crypto_hmac_sha256(const void *key, size_t klen, const void *data, size_t n,
                        unsigned char out[CRYPTO_SHA256_LEN])
{
	hmac("SHA256", key, klen, data, n, out, CRYPTO_SHA256_LEN);
}

void crypto_hmac_sha1(const void *key, size_t klen, const void *data, size_t n,
                      unsigned char out[CRYPTO_SHA1_LEN])
{
	hmac("SHA1", key, klen, data, n, out, CRYPTO_SHA1_LEN);
}

bool crypto_equal(const void *a, const void *b, size_t n)
{
	return n == 0 || CRYPTO_memcmp(a, b, n) == 0;
}
