/* Unit tests for the JOSE helpers of src/crypto: ES256 in the raw r || s
 * form of JWS, checked against OpenSSL's own ECDSA code (an independent
 * path: EVP_DigestSign/Verify with DER signatures converted by hand through
 * ECDSA_SIG) and against the published example of RFC 7515 Appendix A.3;
 * and HMAC-SHA1 (for TOTP) against RFC 2202.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "core/b64.h"
#include "core/buf.h"
#include "core/slice.h"
#include "crypto/crypto.h"

static void assert_hex(const unsigned char *got, size_t n, const char *want)
{
	char h[256];
	assert_true(2 * n < sizeof h);
	hex_encode(got, n, h);
	assert_string_equal(h, want);
}

static void hmac_sha1_rfc2202(void **state)
{
	(void)state;
	unsigned char mac[CRYPTO_SHA1_LEN], k[20];
	memset(k, 0x0b, sizeof k);
	crypto_hmac_sha1(k, sizeof k, "Hi There", 8, mac);
	assert_hex(mac, sizeof mac, "b617318655057264e28bc0b6fb378c8ef146be00");
	crypto_hmac_sha1("Jefe", 4, "what do ya want for nothing?", 28, mac);
	assert_hex(mac, sizeof mac, "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
	/* test case 6: a key longer than the block is hashed first */
	unsigned char big[80];
	memset(big, 0xaa, sizeof big);
	const char *m6 = "Test Using Larger Than Block-Size Key - Hash Key First";
	crypto_hmac_sha1(big, sizeof big, m6, strlen(m6), mac);
	assert_hex(mac, sizeof mac, "aa4ae5e15272d00e95705637ce8a3b55ed402112");
}

/* OpenSSL's verdict on a raw ES256 signature: r and s into an ECDSA_SIG,
 * DER, then EVP_DigestVerify with SHA-256. */
static int openssl_verify_raw(const crypto_key *k, const char *msg, const unsigned char raw[64])
{
	ECDSA_SIG *sig = ECDSA_SIG_new();
	assert_non_null(sig);
	assert_int_equal(
	    ECDSA_SIG_set0(sig, BN_bin2bn(raw, 32, NULL), BN_bin2bn(raw + 32, 32, NULL)), 1);
	unsigned char *der = NULL;
	int len = i2d_ECDSA_SIG(sig, &der);
	assert_true(len > 0);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	assert_int_equal(
	    EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, (EVP_PKEY *)crypto_key_evp(k)), 1);
	int ok = EVP_DigestVerify(md, der, (size_t)len, (const unsigned char *)msg, strlen(msg));
	EVP_MD_CTX_free(md);
	OPENSSL_free(der);
	ECDSA_SIG_free(sig);
	return ok;
}

static void es256_checked_by_openssl(void **state)
{
	(void)state;
	yz_err e = {0};
	crypto_key *k;
	assert_int_equal(crypto_key_generate(CRYPTO_ECDSA_P256, &k, &e), YZ_OK);
	const char *msg = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0";
	for (int i = 0; i < 50; i++) {
		unsigned char sig[64];
		assert_int_equal(crypto_es256_sign(k, msg, strlen(msg), sig, &e), YZ_OK);
		assert_int_equal(openssl_verify_raw(k, msg, sig), 1);
		assert_int_equal(crypto_es256_verify(k, msg, strlen(msg), sig, &e), YZ_OK);
		sig[i % 64] ^= 0x01;
		assert_int_not_equal(openssl_verify_raw(k, msg, sig), 1);
		assert_int_equal(crypto_es256_verify(k, msg, strlen(msg), sig, &e), YZ_ECRYPTO);
	}
	/* OpenSSL signs (DER), we convert and verify */
	for (int i = 0; i < 50; i++) {
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		unsigned char der[80];
		size_t dl = sizeof der;
		assert_int_equal(
		    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, (EVP_PKEY *)crypto_key_evp(k)),
		    1);
		assert_int_equal(
		    EVP_DigestSign(md, der, &dl, (const unsigned char *)msg, strlen(msg)), 1);
		EVP_MD_CTX_free(md);
		unsigned char raw[64];
		assert_int_equal(crypto_ecdsa_der_to_raw(der, dl, raw), YZ_OK);
		assert_int_equal(crypto_es256_verify(k, msg, strlen(msg), raw, &e), YZ_OK);
		assert_int_equal(crypto_es256_verify(k, "other", 5, raw, &e), YZ_ECRYPTO);
		buf back;
		buf_init(&back, 128);
		assert_int_equal(crypto_ecdsa_raw_to_der(raw, &back), YZ_OK);
		assert_int_equal(back.len, dl);
		assert_memory_equal(back.p, der, dl);
		buf_free(&back);
	}
	crypto_key_free(k);
}

static void der_raw_conversions(void **state)
{
	(void)state;
	/* small r and s are left-padded to 32 bytes */
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *r = BN_new(), *s = BN_new();
	BN_set_word(r, 1);
	BN_set_word(s, 0x0203);
	assert_int_equal(ECDSA_SIG_set0(sig, r, s), 1);
	unsigned char *der = NULL;
	int len = i2d_ECDSA_SIG(sig, &der);
	ECDSA_SIG_free(sig);
	unsigned char raw[64], want[64] = {0};
	want[31] = 1;
	want[62] = 2;
	want[63] = 3;
	assert_int_equal(crypto_ecdsa_der_to_raw(der, (size_t)len, raw), YZ_OK);
	assert_memory_equal(raw, want, 64);
	/* trailing bytes, truncation and garbage are refused */
	unsigned char longer[100];
	memcpy(longer, der, (size_t)len);
	longer[len] = 0;
	assert_int_equal(crypto_ecdsa_der_to_raw(longer, (size_t)len + 1, raw), YZ_EINVAL);
	assert_int_equal(crypto_ecdsa_der_to_raw(der, (size_t)len - 1, raw), YZ_EINVAL);
	assert_int_equal(crypto_ecdsa_der_to_raw("\x30\x00", 2, raw), YZ_EINVAL);
	assert_int_equal(crypto_ecdsa_der_to_raw(NULL, 0, raw), YZ_EINVAL);
	OPENSSL_free(der);
	/* an integer of 33 significant bytes cannot be a P-256 scalar */
	sig = ECDSA_SIG_new();
	r = BN_new();
	s = BN_new();
	BN_set_bit(r, 263);
	BN_set_word(s, 5);
	assert_int_equal(ECDSA_SIG_set0(sig, r, s), 1);
	der = NULL;
	len = i2d_ECDSA_SIG(sig, &der);
	ECDSA_SIG_free(sig);
	assert_int_equal(crypto_ecdsa_der_to_raw(der, (size_t)len, raw), YZ_EINVAL);
	OPENSSL_free(der);
}

static void b64url(const char *s, unsigned char *out, size_t cap, size_t *n)
{
	assert_int_equal(b64_decode(s, strlen(s), true, out, cap, n), YZ_OK);
}

/* RFC 7515 Appendix A.3: the ES256 example with its published key and
 * signature (ECDSA is randomised, so only verification can be checked). */
static void rfc7515_a3_example_verifies(void **state)
{
	(void)state;
	unsigned char x[32], y[32], sig[64];
	size_t n;
	b64url("f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", x, sizeof x, &n);
	assert_int_equal(n, 32);
	b64url("x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0", y, sizeof y, &n);
	assert_int_equal(n, 32);
	b64url("DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-"
	       "Kg6NU1Q",
	       sig, sizeof sig, &n);
	assert_int_equal(n, 64);
	/* SubjectPublicKeyInfo of a P-256 point: fixed prefix, then 04 || x || y */
	static const unsigned char prefix[] = {
	    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
	    0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04};
	unsigned char spki[sizeof prefix + 64];
	memcpy(spki, prefix, sizeof prefix);
	memcpy(spki + sizeof prefix, x, 32);
	memcpy(spki + sizeof prefix + 32, y, 32);
	yz_err e = {0};
	crypto_key *k;
	assert_int_equal(crypto_key_from_spki_der(spki, sizeof spki, &k, &e), YZ_OK);
	assert_int_equal(crypto_key_alg(k), CRYPTO_ECDSA_P256);
	const char *input =
	    "eyJhbGciOiJFUzI1NiJ9."
	    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNv"
	    "bS9pc19yb290Ijp0cnVlfQ";
	assert_int_equal(crypto_es256_verify(k, input, strlen(input), sig, &e), YZ_OK);
	sig[0] ^= 0x80;
	assert_int_equal(crypto_es256_verify(k, input, strlen(input), sig, &e), YZ_ECRYPTO);
	crypto_key_free(k);
}

static void es256_refuses_other_keys(void **state)
{
	(void)state;
	yz_err e = {0};
	crypto_key *k;
	assert_int_equal(crypto_key_generate(CRYPTO_SM2, &k, &e), YZ_OK);
	unsigned char sig[64] = {1};
	assert_int_equal(crypto_es256_sign(k, "x", 1, sig, &e), YZ_EINVAL);
	assert_int_equal(crypto_es256_verify(k, "x", 1, sig, &e), YZ_EINVAL);
	crypto_key_free(k);
	assert_int_equal(crypto_es256_sign(NULL, "x", 1, sig, &e), YZ_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(hmac_sha1_rfc2202),
	    cmocka_unit_test(es256_checked_by_openssl),
	    cmocka_unit_test(der_raw_conversions),
	    cmocka_unit_test(rfc7515_a3_example_verifies),
	    cmocka_unit_test(es256_refuses_other_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
