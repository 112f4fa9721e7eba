/* SM4: CBC with PKCS#7 padding, single-block ECB for known-answer tests, and
 * crypto_seal/crypto_open (SM4-CTR then HMAC-SM3, encrypt-then-MAC). */
#include <limits.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>

#include "crypto/crypto_int.h"

#define CHUNK 4096

/* Run a cipher over in[0..n) and append the result to out. On failure out
 * is returned to its original length (wiped), so a caller never sees half a
 * plaintext. */
static yz_status cipher_run(const EVP_CIPHER *c, const unsigned char *key, const unsigned char *iv,
                            int enc, int padding, const unsigned char *in, size_t n, buf *out,
                            yz_err *e)
{
	unsigned char tmp[CHUNK + CRYPTO_SM4_BLOCK];
	size_t orig = out->len;
	yz_status s = YZ_OK;
	int outl = 0;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	if (!ctx || EVP_CipherInit_ex2(ctx, c, key, iv, enc, NULL) != 1 ||
	    EVP_CIPHER_CTX_set_padding(ctx, padding) != 1) {
		s = crypto_int_fail(e, YZ_ECRYPTO, "SM4 setup failed");
		goto done;
	}
	for (size_t off = 0; off < n;) {
		size_t chunk = n - off < CHUNK ? n - off : CHUNK;
		if (EVP_CipherUpdate(ctx, tmp, &outl, in + off, (int)chunk) != 1) {
			s = crypto_int_fail(e, YZ_ECRYPTO, "SM4 failed");
			goto done;
		}
		s = buf_append(out, tmp, (size_t)outl);
		if (s != YZ_OK) {
			yz_fail(e, s, "SM4 output does not fit");
			goto done;
		}
		off += chunk;
	}
	if (EVP_CipherFinal_ex(ctx, tmp, &outl) != 1) {
		s = crypto_int_fail(e, YZ_ECRYPTO,
		                    enc ? "SM4 failed"
		                        : "SM4 decryption failed (wrong key or corrupt data)");
		goto done;
	}
	s = buf_append(out, tmp, (size_t)outl);
	if (s != YZ_OK)
		yz_fail(e, s, "SM4 output does not fit");
done:
	OPENSSL_cleanse(tmp, sizeof tmp);
	EVP_CIPHER_CTX_free(ctx);
	if (s != YZ_OK)
		crypto_int_buf_cut(out, orig);
	return s;
}

yz_status crypto_sm4_cbc_encrypt(const unsigned char key[16], const unsigned char iv[16],
                                 const void *in, size_t n, buf *out)
{
	const crypto_int_algs *a = crypto_int_get_algs();
	if (!a)
		return YZ_ECRYPTO;
	if (!key || !iv || !out || (!in && n))
		return YZ_EINVAL;
	return cipher_run(a->sm4_cbc, key, iv, 1, 1, in, n, out, NULL);
}

yz_status crypto_sm4_cbc_decrypt(const unsigned char key[16], const unsigned char iv[16],
                                 const void *in, size_t n, buf *out)
{
	const crypto_int_algs *a = crypto_int_get_algs();
	if (!a)
		return YZ_ECRYPTO;
	if (!key || !iv || !out || (!in && n))
		return YZ_EINVAL;
	/* Padded CBC output is at least one whole block. */
	if (n == 0 || n % CRYPTO_SM4_BLOCK)
		return YZ_ECRYPTO;
	return cipher_run(a->sm4_cbc, key, iv, 0, 1, in, n, out, NULL);
}

yz_status crypto_sm4_ecb_block(const unsigned char key[16], const unsigned char in[16],
                               unsigned char out[16], bool encrypt)
{
	const crypto_int_algs *a = crypto_int_get_algs();
	if (!a)
		return YZ_ECRYPTO;
	if (!key || !in || !out)
		return YZ_EINVAL;
	int l1 = 0, l2 = 0;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int ok = ctx &&
	         EVP_CipherInit_ex2(ctx, a->sm4_ecb, key, NULL, encrypt ? 1 : 0, NULL) == 1 &&
	         EVP_CIPHER_CTX_set_padding(ctx, 0) == 1 &&
	         EVP_CipherUpdate(ctx, out, &l1, in, CRYPTO_SM4_BLOCK) == 1 &&
	         EVP_CipherFinal_ex(ctx, out + l1, &l2) == 1 && l1 + l2 == CRYPTO_SM4_BLOCK;
	EVP_CIPHER_CTX_free(ctx);
	if (!ok) {
		crypto_int_clear_errors();
		return YZ_ECRYPTO;
	}
	return YZ_OK;
}

/* HMAC-SM3 under mk (32 bytes) over u64be(aadlen) || aad || iv || ct. The
 * length binds where aad ends, so no (aad, iv) split can be shifted. */
static yz_status seal_tag(const crypto_int_algs *a, const unsigned char *mk, const void *aad,
                          size_t aadlen, const unsigned char *iv, const unsigned char *ct,
                          size_t ctlen, unsigned char tag[CRYPTO_SM3_LEN])
{
	OSSL_PARAM params[] = {
	    OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SM3", 0),
	    OSSL_PARAM_construct_end(),
	};
	size_t got = 0;
	EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(a->hmac);
	unsigned char alen[8];
	for (int i = 0; i < 8; i++)
		alen[i] = (unsigned char)((uint64_t)aadlen >> (56 - 8 * i));
	int ok = ctx && EVP_MAC_init(ctx, mk, 32, params) == 1 &&
	         EVP_MAC_update(ctx, alen, sizeof alen) == 1 &&
	         (!aadlen || EVP_MAC_update(ctx, aad, aadlen) == 1) &&
	         EVP_MAC_update(ctx, iv, CRYPTO_SM4_BLOCK) == 1 &&
	         (!ctlen || EVP_MAC_update(ctx, ct, ctlen) == 1) &&
	         EVP_MAC_final(ctx, tag, &got, CRYPTO_SM3_LEN) == 1 && got == CRYPTO_SM3_LEN;
	EVP_MAC_CTX_free(ctx);
	if (!ok) {
		crypto_int_clear_errors();
		return YZ_ECRYPTO;
	}
	return YZ_OK;
}

/* Both subkeys depend on all 48 key bytes: enc = HMAC-SM3(K, "yizhan-seal-enc")
 * truncated to 16 bytes, mac = HMAC-SM3(K, "yizhan-seal-mac"); so a key wrong
 * anywhere fails the tag check. */
static void seal_keys(const unsigned char key[CRYPTO_SEAL_KEY_LEN],
                      unsigned char ek[CRYPTO_SM3_LEN], unsigned char mk[CRYPTO_SM3_LEN])
{
	static const char enc[] = "yizhan-seal-enc", mac[] = "yizhan-seal-mac";
	crypto_hmac_sm3(key, CRYPTO_SEAL_KEY_LEN, enc, sizeof enc - 1, ek);
	crypto_hmac_sm3(key, CRYPTO_SEAL_KEY_LEN, mac, sizeof mac - 1, mk);
}

yz_status crypto_seal(const unsigned char key[CRYPTO_SEAL_KEY_LEN], const void *aad, size_t aadlen,
                      const void *in, size_t n, buf *out)
{
	const crypto_int_algs *a = crypto_int_get_algs();
	if (!a)
		return YZ_ECRYPTO;
	if (!key || !out || (!aad && aadlen) || (!in && n))
		return YZ_EINVAL;
	unsigned char iv[CRYPTO_SM4_BLOCK], tag[CRYPTO_SM3_LEN], ek[CRYPTO_SM3_LEN],
	    mk[CRYPTO_SM3_LEN];
	size_t orig = out->len;
	seal_keys(key, ek, mk);
	yz_status s = crypto_random(iv, sizeof iv);
	if (s == YZ_OK)
		s = buf_append(out, iv, sizeof iv);
	if (s == YZ_OK)
		s = cipher_run(a->sm4_ctr, ek, iv, 1, 0, in, n, out, NULL);
	if (s == YZ_OK)
		s = seal_tag(a, mk, aad, aadlen, iv,
		             (const unsigned char *)out->p + orig + sizeof iv, n, tag);
	OPENSSL_cleanse(ek, sizeof ek);
	OPENSSL_cleanse(mk, sizeof mk);
	if (s == YZ_OK)
		s = buf_append(out, tag, sizeof tag);
	if (s != YZ_OK)
		crypto_int_buf_cut(out, orig);
	return s;
}

yz_status crypto_open(const unsigned char key[CRYPTO_SEAL_KEY_LEN], const void *aad, size_t aadlen,
                      const void *in, size_t n, buf *out)
{
	const crypto_int_algs *a = crypto_int_get_algs();
	if (!a)
		return YZ_ECRYPTO;
	if (!key || !out || (!aad && aadlen) || (!in && n))
		return YZ_EINVAL;
	if (n < CRYPTO_SEAL_OVERHEAD)
		return YZ_ECRYPTO;
	const unsigned char *iv = in;
	const unsigned char *ct = iv + CRYPTO_SM4_BLOCK;
	size_t ctlen = n - CRYPTO_SEAL_OVERHEAD;
	const unsigned char *tag = ct + ctlen;
	unsigned char want[CRYPTO_SM3_LEN], ek[CRYPTO_SM3_LEN], mk[CRYPTO_SM3_LEN];
	seal_keys(key, ek, mk);
	yz_status s = seal_tag(a, mk, aad, aadlen, iv, ct, ctlen, want);
	if (s == YZ_OK && CRYPTO_memcmp(want, tag, sizeof want) != 0)
		s = YZ_ECRYPTO;
	if (s == YZ_OK)
		s = cipher_run(a->sm4_ctr, ek, iv, 0, 0, ct, ctlen, out, NULL);
	OPENSSL_cleanse(ek, sizeof ek);
	OPENSSL_cleanse(mk, sizeof mk);
	return s;
}
