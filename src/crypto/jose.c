/* ES256 for JOSE: ECDSA P-256 with SHA-256, the signature in the raw
 * r || s form that JWS uses (RFC 7518 §3.4) instead of OpenSSL's DER. */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>

#include "crypto/crypto_int.h"

#define HALF    (CRYPTO_ES256_SIG_LEN / 2)
#define DER_MAX 80 /* SEQUENCE of two INTEGERs of at most 33 bytes each */

yz_status crypto_ecdsa_der_to_raw(const void *der, size_t n,
                                  unsigned char raw[CRYPTO_ES256_SIG_LEN])
{
	if (!der || n == 0 || n > DER_MAX)
		return YZ_EINVAL;
	const unsigned char *p = der;
	ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)n);
	yz_status st = YZ_OK;
	if (!sig || p != (const unsigned char *)der + n) {
		st = YZ_EINVAL;
	} else {
		const BIGNUM *r, *s;
		ECDSA_SIG_get0(sig, &r, &s);
		if (BN_is_negative(r) || BN_is_negative(s) || BN_num_bytes(r) > HALF ||
		    BN_num_bytes(s) > HALF || BN_bn2binpad(r, raw, HALF) != HALF ||
		    BN_bn2binpad(s, raw + HALF, HALF) != HALF)
			st = YZ_EINVAL;
	}
	ECDSA_SIG_free(sig);
	crypto_int_clear_errors();
	return st;
}

yz_status crypto_ecdsa_raw_to_der(const unsigned char raw[CRYPTO_ES256_SIG_LEN], buf *out)
{
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(raw, HALF, NULL), *s = BN_bin2bn(raw + HALF, HALF, NULL);
	yz_status st = YZ_ENOMEM;
	if (sig && r && s && ECDSA_SIG_set0(sig, r, s) == 1) {
		r = s = NULL; /* owned by sig now */
		unsigned char tmp[DER_MAX], *p = tmp;
		int len = i2d_ECDSA_SIG(sig, NULL);
		if (len > 0 && len <= (int)sizeof tmp && i2d_ECDSA_SIG(sig, &p) == len)
			st = buf_append(out, tmp, (size_t)len);
		else
			st = YZ_ECRYPTO;
	}
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(sig);
	crypto_int_clear_errors();
	return st;
}

static yz_status need_p256(const crypto_key *k, yz_err *e)
{
	if (!k || crypto_key_alg(k) != CRYPTO_ECDSA_P256)
		return yz_fail(e, YZ_EINVAL, "ES256 needs an ECDSA P-256 key");
	return YZ_OK;
}

yz_status crypto_es256_sign(const crypto_key *k, const void *msg, size_t n,
                            unsigned char sig[CRYPTO_ES256_SIG_LEN], yz_err *e)
{
	yz_status st = need_p256(k, e);
	if (st != YZ_OK)
		return st;
	buf der;
	buf_init(&der, 256);
	st = crypto_sign(k, msg, n, &der, e);
	if (st == YZ_OK && crypto_ecdsa_der_to_raw(der.p, der.len, sig) != YZ_OK)
		st = yz_fail(e, YZ_ECRYPTO, "the signature is not an ECDSA-Sig-Value");
	buf_free(&der);
	return st;
}

yz_status crypto_es256_verify(const crypto_key *k, const void *msg, size_t n,
                              const unsigned char sig[CRYPTO_ES256_SIG_LEN], yz_err *e)
{
	yz_status st = need_p256(k, e);
	if (st != YZ_OK)
		return st;
	buf der;
	buf_init(&der, 256);
	if (crypto_ecdsa_raw_to_der(sig, &der) != YZ_OK)
		st = yz_fail(e, YZ_ECRYPTO, "signature does not verify");
	else
		st = crypto_verify(k, msg, n, der.p, der.len, e);
	buf_free(&der);
	return st;
}
