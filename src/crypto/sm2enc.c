/* SM2 public-key encryption (GB/T 32918.4) through OpenSSL's EVP_PKEY_encrypt
 * with an SM2-typed key, and the raw private scalar of an SM2 key (for the
 * GB/T 35276 key envelope). */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>

#include "crypto/crypto_int.h"

/* Only SM2-typed keys: an EC key on the SM2 curve never reaches here
 * (crypto_int_wrap converts it), but the check costs nothing. */
static yz_status sm2_ctx(const crypto_key *k, bool need_private, EVP_PKEY_CTX **out, yz_err *e)
{
	*out = NULL;
	if (!k)
		return yz_fail(e, YZ_EINVAL, "no key");
	if (k->alg != CRYPTO_SM2 || !EVP_PKEY_is_a(k->pk, "SM2"))
		return yz_fail(e, YZ_EINVAL, "SM2 encryption needs an SM2 key, not %s",
		               crypto_alg_name(k->alg));
	if (need_private && !k->priv)
		return yz_fail(e, YZ_EINVAL, "SM2 decryption needs the private key");
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k->pk, NULL);
	if (!ctx)
		return crypto_int_fail(e, YZ_ENOMEM, "out of memory");
	*out = ctx;
	return YZ_OK;
}

/* SM3 is the hash of C3 and of the KDF (GB/T 32918.4 with the SM3 of
 * GB/T 32905); OpenSSL's default is SM3 too, set here so that no provider
 * default can change it. */
static yz_status set_sm3(EVP_PKEY_CTX *ctx, yz_err *e)
{
	OSSL_PARAM p[2] = {
	    OSSL_PARAM_construct_utf8_string(OSSL_ASYM_CIPHER_PARAM_DIGEST, (char *)"SM3", 0),
	    OSSL_PARAM_construct_end()};
	if (EVP_PKEY_CTX_set_params(ctx, p) != 1)
		return crypto_int_fail(e, YZ_ECRYPTO, "cannot set SM3 for SM2 encryption");
	return YZ_OK;
}

yz_status crypto_sm2_encrypt(const crypto_key *k, const void *in, size_t n, buf *out, yz_err *e)
{
	if (!out || (!in && n))
		return yz_fail(e, YZ_EINVAL, "no input or output");
	if (n == 0 || n > CRYPTO_SM2_ENC_MAX)
		return yz_fail(e, YZ_EINVAL, "SM2 encrypts 1 to %d bytes", CRYPTO_SM2_ENC_MAX);
	EVP_PKEY_CTX *ctx;
	yz_status s = sm2_ctx(k, false, &ctx, e);
	if (s != YZ_OK)
		return s;
	size_t len = 0;
	unsigned char *tmp = NULL;
	if (EVP_PKEY_encrypt_init(ctx) != 1 || (s = set_sm3(ctx, e)) != YZ_OK ||
	    EVP_PKEY_encrypt(ctx, NULL, &len, in, n) != 1) {
		s = s != YZ_OK ? s : crypto_int_fail(e, YZ_ECRYPTO, "SM2 encryption failed");
		goto done;
	}
	if (!(tmp = OPENSSL_malloc(len))) {
		s = yz_fail(e, YZ_ENOMEM, "out of memory");
		goto done;
	}
	if (EVP_PKEY_encrypt(ctx, tmp, &len, in, n) != 1) {
		s = crypto_int_fail(e, YZ_ECRYPTO, "SM2 encryption failed");
		goto done;
	}
	if ((s = buf_append(out, tmp, len)) != YZ_OK)
		yz_fail(e, s, "SM2 ciphertext does not fit");
done:
	OPENSSL_free(tmp);
	EVP_PKEY_CTX_free(ctx);
	crypto_int_clear_errors();
	return s;
}

yz_status crypto_sm2_decrypt(const crypto_key *k, const void *in, size_t n, buf *out, yz_err *e)
{
	if (!out || !in || n == 0)
		return yz_fail(e, YZ_EINVAL, "no ciphertext");
	if (n > CRYPTO_SM2_ENC_MAX + 256)
		return yz_fail(e, YZ_ETOOBIG, "SM2 ciphertext too long");
	EVP_PKEY_CTX *ctx;
	yz_status s = sm2_ctx(k, true, &ctx, e);
	if (s != YZ_OK)
		return s;
	size_t len = 0;
	unsigned char *tmp = NULL;
	if (EVP_PKEY_decrypt_init(ctx) != 1 || (s = set_sm3(ctx, e)) != YZ_OK ||
	    EVP_PKEY_decrypt(ctx, NULL, &len, in, n) != 1 || len == 0) {
		s = s != YZ_OK ? s
		               : crypto_int_fail(e, YZ_ECRYPTO,
		                                 "SM2 decryption failed (not an SM2Cipher, or the "
		                                 "wrong key)");
		goto done;
	}
	if (!(tmp = OPENSSL_malloc(len))) {
		s = yz_fail(e, YZ_ENOMEM, "out of memory");
		goto done;
	}
	/* OpenSSL checks C3 = SM3(x2 || M || y2) and fails on a mismatch: a
	 * changed byte anywhere, or another key */
	if (EVP_PKEY_decrypt(ctx, tmp, &len, in, n) != 1) {
		s = crypto_int_fail(e, YZ_ECRYPTO,
		                    "SM2 decryption failed (damaged ciphertext or the wrong key)");
		goto done;
	}
	if ((s = buf_append(out, tmp, len)) != YZ_OK)
		yz_fail(e, s, "SM2 plaintext does not fit");
done:
	if (tmp) {
		OPENSSL_cleanse(tmp, len);
		OPENSSL_free(tmp);
	}
	EVP_PKEY_CTX_free(ctx);
	crypto_int_clear_errors();
	return s;
}

yz_status crypto_sm2_private_raw(const crypto_key *k, unsigned char d[32], yz_err *e)
{
	if (!k || k->alg != CRYPTO_SM2 || !k->priv)
		return yz_fail(e, YZ_EINVAL, "not an SM2 private key");
	BIGNUM *bn = NULL;
	if (EVP_PKEY_get_bn_param(k->pk, OSSL_PKEY_PARAM_PRIV_KEY, &bn) != 1)
		return crypto_int_fail(e, YZ_ECRYPTO, "cannot read the SM2 private key");
	yz_status s = BN_bn2binpad(bn, d, 32) == 32
	                  ? YZ_OK
	                  : yz_fail(e, YZ_ECRYPTO, "SM2 private key longer than 32 bytes");
	BN_clear_free(bn);
	crypto_int_clear_errors();
	return s;
}
