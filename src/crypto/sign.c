/* Signatures (SM2 with SM3 and a distinguishing ID, ECDSA P-256 with SHA-256,
 * pure Ed25519) and the SM2 Z_A value. Every call builds its own
 * EVP_MD_CTX/EVP_PKEY_CTX, so keys are shared between threads safely. */
#include <string.h>

#include "crypto/crypto_int.h"

#define SIG_MAX 160
/* ENTL is two bytes holding the ID length in bits. */
#define SM2_ID_MAX (0xFFFF / 8)

static const char *digest_for(crypto_alg alg)
{
	switch (alg) {
	case CRYPTO_SM2:
		return "SM3";
	case CRYPTO_ECDSA_P256:
		return "SHA256";
	case CRYPTO_ED25519:
		return NULL;
	}
	return NULL;
}

/* id is set (SM2 only) on the EVP_PKEY_CTX that EVP_DigestSignInit_ex
 * creates, before any data goes in: that is where OpenSSL 3.0 reads it when
 * it computes Z. A "distid" parameter to the init call does not work in 3.0. */
static yz_status setup(EVP_MD_CTX *mctx, const crypto_key *k, bool sign, const void *id,
                       size_t idlen, yz_err *e)
{
	EVP_PKEY_CTX *pctx = NULL;
	int ok =
	    sign
	        ? EVP_DigestSignInit_ex(mctx, &pctx, digest_for(k->alg), NULL, NULL, k->pk, NULL)
	        : EVP_DigestVerifyInit_ex(mctx, &pctx, digest_for(k->alg), NULL, NULL, k->pk, NULL);
	if (ok != 1)
		return crypto_int_fail(e, YZ_ECRYPTO,
		                       sign ? "cannot start signing" : "cannot start verification");
	if (k->alg == CRYPTO_SM2) {
		/* An EC-typed key answers -2 here; it never gets this far
		 * (crypto_int_wrap), but refusing is cheaper than an
		 * ECDSA-with-SM3 signature. */
		if (!EVP_PKEY_is_a(k->pk, "SM2") || EVP_PKEY_CTX_set1_id(pctx, id, (int)idlen) != 1)
			return crypto_int_fail(e, YZ_ECRYPTO, "cannot set the SM2 ID");
	}
	return YZ_OK;
}

static yz_status do_sign(const crypto_key *k, const void *id, size_t idlen, const void *msg,
                         size_t n, buf *sig, yz_err *e)
{
	if (!k || !sig || (!msg && n))
		return yz_fail(e, YZ_EINVAL, "missing key, message or output");
	if (!k->priv)
		return yz_fail(e, YZ_EINVAL, "key has no private part");
	unsigned char out[SIG_MAX];
	size_t outlen = sizeof out;
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	if (!mctx)
		return crypto_int_fail(e, YZ_ENOMEM, "out of memory");
	yz_status s = setup(mctx, k, true, id, idlen, e);
	if (s == YZ_OK && EVP_DigestSign(mctx, out, &outlen, n ? msg : (const void *)"", n) != 1)
		s = crypto_int_fail(e, YZ_ECRYPTO, "signing failed");
	EVP_MD_CTX_free(mctx);
	if (s == YZ_OK) {
		s = buf_append(sig, out, outlen);
		if (s != YZ_OK)
			yz_fail(e, s, "signature does not fit in the output buffer");
	}
	return s;
}

static yz_status do_verify(const crypto_key *k, const void *id, size_t idlen, const void *msg,
                           size_t n, const void *sig, size_t siglen, yz_err *e)
{
	if (!k || (!msg && n))
		return yz_fail(e, YZ_EINVAL, "missing key or message");
	if (!sig || siglen == 0 || siglen > SIG_MAX)
		return yz_fail(e, YZ_ECRYPTO, "signature does not verify");
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	if (!mctx)
		return crypto_int_fail(e, YZ_ENOMEM, "out of memory");
	yz_status s = setup(mctx, k, false, id, idlen, e);
	if (s == YZ_OK && EVP_DigestVerify(mctx, sig, siglen, n ? msg : (const void *)"", n) != 1) {
		crypto_int_clear_errors();
		s = yz_fail(e, YZ_ECRYPTO, "signature does not verify");
	}
	EVP_MD_CTX_free(mctx);
	return s;
}

yz_status crypto_sign(const crypto_key *k, const void *msg, size_t n, buf *sig, yz_err *e)
{
	return do_sign(k, CRYPTO_SM2_DEFAULT_ID, CRYPTO_SM2_DEFAULT_ID_LEN, msg, n, sig, e);
}

yz_status crypto_verify(const crypto_key *k, const void *msg, size_t n, const void *sig,
                        size_t siglen, yz_err *e)
{
	return do_verify(k, CRYPTO_SM2_DEFAULT_ID, CRYPTO_SM2_DEFAULT_ID_LEN, msg, n, sig, siglen,
	                 e);
}

yz_status crypto_x509_ctx(const crypto_key *k, bool sign, void **out, yz_err *e)
{
	if (!k || !out)
		return yz_fail(e, YZ_EINVAL, "missing key");
	if (k->alg == CRYPTO_ED25519)
		return yz_fail(e, YZ_EINVAL, "Ed25519 keys do not sign certificates here");
	if (sign && !k->priv)
		return yz_fail(e, YZ_EINVAL, "key has no private part");
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	if (!mctx)
		return crypto_int_fail(e, YZ_ENOMEM, "out of memory");
	yz_status s = setup(mctx, k, sign, CRYPTO_SM2_DEFAULT_ID, CRYPTO_SM2_DEFAULT_ID_LEN, e);
	if (s != YZ_OK) {
		EVP_MD_CTX_free(mctx);
		return s;
	}
	*out = mctx;
	return YZ_OK;
}

void crypto_x509_ctx_free(void *ctx)
{
	EVP_MD_CTX_free(ctx);
}

static yz_status check_sm2_id(const crypto_key *k, const void *id, size_t idlen, yz_err *e)
{
	if (!k || k->alg != CRYPTO_SM2)
		return yz_fail(e, YZ_EINVAL, "not an SM2 key");
	if (!id || idlen == 0 || idlen > SM2_ID_MAX)
		return yz_fail(e, YZ_EINVAL, "SM2 ID must be 1..%d bytes", SM2_ID_MAX);
	return YZ_OK;
}

yz_status crypto_sm2_sign_id(const crypto_key *k, const void *id, size_t idlen, const void *msg,
                             size_t n, buf *sig, yz_err *e)
{
	yz_status s = check_sm2_id(k, id, idlen, e);
	return s != YZ_OK ? s : do_sign(k, id, idlen, msg, n, sig, e);
}

yz_status crypto_sm2_verify_id(const crypto_key *k, const void *id, size_t idlen, const void *msg,
                               size_t n, const void *sig, size_t siglen, yz_err *e)
{
	yz_status s = check_sm2_id(k, id, idlen, e);
	return s != YZ_OK ? s : do_verify(k, id, idlen, msg, n, sig, siglen, e);
}

/* The recommended curve of GB/T 32918.5: a, b and the base point G. */
static const unsigned char sm2_curve_abg[4][32] = {
    {0xFF, 0xFF, 0xFF, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
     0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00,
     0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFC},
    {0x28, 0xE9, 0xFA, 0x9E, 0x9D, 0x9F, 0x5E, 0x34, 0x4D, 0x5A, 0x9E,
     0x4B, 0xCF, 0x65, 0x09, 0xA7, 0xF3, 0x97, 0x89, 0xF5, 0x15, 0xAB,
     0x8F, 0x92, 0xDD, 0xBC, 0xBD, 0x41, 0x4D, 0x94, 0x0E, 0x93},
    {0x32, 0xC4, 0xAE, 0x2C, 0x1F, 0x19, 0x81, 0x19, 0x5F, 0x99, 0x04,
     0x46, 0x6A, 0x39, 0xC9, 0x94, 0x8F, 0xE3, 0x0B, 0xBF, 0xF2, 0x66,
     0x0B, 0xE1, 0x71, 0x5A, 0x45, 0x89, 0x33, 0x4C, 0x74, 0xC7},
    {0xBC, 0x37, 0x36, 0xA2, 0xF4, 0xF6, 0x77, 0x9C, 0x59, 0xBD, 0xCE,
     0xE3, 0x6B, 0x69, 0x21, 0x53, 0xD0, 0xA9, 0x87, 0x7C, 0xC6, 0x2A,
     0x47, 0x40, 0x02, 0xDF, 0x32, 0xE5, 0x21, 0x39, 0xF0, 0xA0},
};

yz_status crypto_sm2_za(const crypto_key *k, const void *id, size_t idlen,
                        unsigned char out[CRYPTO_SM3_LEN])
{
	if (check_sm2_id(k, id, idlen, NULL) != YZ_OK || !out)
		return YZ_EINVAL;
	unsigned char x[32], y[32];
	if (crypto_int_ec_xy(k->pk, x, y) != YZ_OK)
		return YZ_ECRYPTO;
	unsigned bits = (unsigned)idlen * 8;
	unsigned char entl[2] = {(unsigned char)(bits >> 8), (unsigned char)bits};
	crypto_sm3_ctx *c = crypto_sm3_new();
	if (!c)
		return YZ_ENOMEM;
	crypto_sm3_update(c, entl, sizeof entl);
	crypto_sm3_update(c, id, idlen);
	for (size_t i = 0; i < 4; i++)
		crypto_sm3_update(c, sm2_curve_abg[i], 32);
	crypto_sm3_update(c, x, sizeof x);
	crypto_sm3_update(c, y, sizeof y);
	crypto_sm3_final(c, out);
	crypto_sm3_free(c);
	return YZ_OK;
}
