/* PBKDF2-HMAC-SM3 and the stored password-hash format
 * "pbkdf2-sm3$<iterations>$<salt base64>$<hash base64>". */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "core/b64.h"
#include "crypto/crypto_int.h"

#define PW_PREFIX   "pbkdf2-sm3$"
#define PW_SALT_LEN 16
#define PW_HASH_LEN 32
/* What password_verify accepts from a stored string: room for other salt and
 * hash sizes, and an iteration count of at most 9 digits so that a planted
 * value cannot stall a login for hours. */
#define PW_MIN_SALT   8
#define PW_MAX_SALT   64
#define PW_MIN_HASH   16
#define PW_MAX_HASH   64
#define PW_MAX_DIGITS 9

yz_status crypto_pbkdf2_sm3(const char *pw, size_t pwlen, const unsigned char *salt, size_t saltlen,
                            int iterations, unsigned char *out, size_t outlen)
{
	static const char empty[1];
	const crypto_int_algs *a = crypto_int_get_algs();
	if (!a)
		return YZ_ECRYPTO;
	if ((!pw && pwlen) || (!salt && saltlen) || iterations < 1 || !out || outlen == 0)
		return YZ_EINVAL;
	uint64_t iter = (uint64_t)iterations;
	/* OSSL_PARAM refuses a NULL pointer even for an empty string. */
	OSSL_PARAM params[] = {
	    OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, (void *)(pwlen ? pw : empty),
	                                      pwlen),
	    OSSL_PARAM_construct_octet_string(
	        OSSL_KDF_PARAM_SALT, (void *)(saltlen ? (const void *)salt : empty), saltlen),
	    OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_ITER, &iter),
	    OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SM3", 0),
	    OSSL_PARAM_construct_end(),
	};
	EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(a->pbkdf2);
	int ok = ctx && EVP_KDF_derive(ctx, out, outlen, params) == 1;
	EVP_KDF_CTX_free(ctx);
	if (!ok) {
		OPENSSL_cleanse(out, outlen);
		crypto_int_clear_errors();
		return YZ_ECRYPTO;
	}
	return YZ_OK;
}

yz_status crypto_password_hash(const char *pw, int iterations, char *out, size_t cap)
{
	unsigned char salt[PW_SALT_LEN], hash[PW_HASH_LEN];
	if (!pw || iterations < 1 || !out || cap < 128)
		return YZ_EINVAL;
	out[0] = '\0';
	yz_status s = crypto_random(salt, sizeof salt);
	if (s == YZ_OK)
		s = crypto_pbkdf2_sm3(pw, strlen(pw), salt, sizeof salt, iterations, hash,
		                      sizeof hash);
	if (s != YZ_OK)
		return s;
	buf b;
	buf_init(&b, cap - 1);
	s = buf_printf(&b, PW_PREFIX "%d$", iterations);
	if (s == YZ_OK)
		s = b64_encode(salt, sizeof salt, false, &b);
	if (s == YZ_OK)
		s = buf_putc(&b, '$');
	if (s == YZ_OK)
		s = b64_encode(hash, sizeof hash, false, &b);
	if (s == YZ_OK)
		memcpy(out, buf_str(&b), b.len + 1);
	OPENSSL_cleanse(hash, sizeof hash);
	buf_free(&b);
	return s;
}

/* Split stored into its parts; YZ_EINVAL for anything not in our format. */
static yz_status parse_stored(const char *stored, int *iter, unsigned char *salt, size_t *saltlen,
                              unsigned char *hash, size_t *hashlen)
{
	size_t plen = strlen(PW_PREFIX);
	if (strncmp(stored, PW_PREFIX, plen) != 0)
		return YZ_EINVAL;
	const char *p = stored + plen;
	long v = 0;
	int digits = 0;
	for (; *p >= '0' && *p <= '9'; p++, digits++) {
		if (digits == PW_MAX_DIGITS)
			return YZ_EINVAL;
		v = v * 10 + (*p - '0');
	}
	if (digits == 0 || stored[plen] == '0' || *p != '$' || v < 1)
		return YZ_EINVAL;
	*iter = (int)v;
	const char *s = p + 1;
	const char *dollar = strchr(s, '$');
	if (!dollar)
		return YZ_EINVAL;
	const char *h = dollar + 1;
	if (b64_decode(s, (size_t)(dollar - s), false, salt, PW_MAX_SALT, saltlen) != YZ_OK ||
	    *saltlen < PW_MIN_SALT)
		return YZ_EINVAL;
	if (b64_decode(h, strlen(h), false, hash, PW_MAX_HASH, hashlen) != YZ_OK ||
	    *hashlen < PW_MIN_HASH)
		return YZ_EINVAL;
	return YZ_OK;
}

yz_status crypto_password_verify(const char *pw, const char *stored, int iterations, bool *rehash)
{
	unsigned char salt[PW_MAX_SALT], want[PW_MAX_HASH], got[PW_MAX_HASH];
	size_t saltlen = 0, hashlen = 0;
	int iter = 0;
	if (rehash)
		*rehash = false;
	if (!pw || !stored)
		return YZ_EINVAL;
	yz_status s = parse_stored(stored, &iter, salt, &saltlen, want, &hashlen);
	if (s != YZ_OK)
		return s;
	if (rehash)
		*rehash = iter < iterations;
	s = crypto_pbkdf2_sm3(pw, strlen(pw), salt, saltlen, iter, got, hashlen);
	if (s != YZ_OK)
		return s;
	bool match = CRYPTO_memcmp(got, want, hashlen) == 0;
	OPENSSL_cleanse(got, sizeof got);
	OPENSSL_cleanse(want, sizeof want);
	return match ? YZ_OK : YZ_EREFUSED;
}
