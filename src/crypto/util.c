/* Error reporting and small buffer helpers shared inside src/crypto. */
#include <pthread.h>
#include <stdlib.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/kdf.h>

#include "crypto/crypto_int.h"

yz_status crypto_int_fail(yz_err *e, yz_status code, const char *what)
{
	unsigned long err = ERR_peek_last_error();
	const char *reason = err ? ERR_reason_error_string(err) : NULL;
	ERR_clear_error();
	if (reason)
		return yz_fail(e, code, "%s: %s", what, reason);
	return yz_fail(e, code, "%s", what);
}

void crypto_int_clear_errors(void)
{
	ERR_clear_error();
}

void crypto_int_buf_cut(buf *b, size_t len)
{
	if (!b->p || b->len <= len)
		return;
	OPENSSL_cleanse(b->p + len, b->len - len);
	b->len = len;
	b->p[len] = '\0';
}

/* Algorithms are fetched once: an implicit fetch on every call (EVP_sm3())
 * takes the provider store's lock each time. Fetched objects are immutable
 * and reference-counted, so all threads share them. They live until exit. */
static pthread_once_t algs_once = PTHREAD_ONCE_INIT;
static crypto_int_algs algs;
static bool algs_ok;

static void algs_fetch(void)
{
	algs.sm3 = EVP_MD_fetch(NULL, "SM3", NULL);
	algs.sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	algs.hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	algs.pbkdf2 = EVP_KDF_fetch(NULL, "PBKDF2", NULL);
	algs.sm4_cbc = EVP_CIPHER_fetch(NULL, "SM4-CBC", NULL);
	algs.sm4_ecb = EVP_CIPHER_fetch(NULL, "SM4-ECB", NULL);
	algs.sm4_ctr = EVP_CIPHER_fetch(NULL, "SM4-CTR", NULL);
	algs_ok = algs.sm3 && algs.sha256 && algs.hmac && algs.pbkdf2 && algs.sm4_cbc &&
	          algs.sm4_ecb && algs.sm4_ctr;
	ERR_clear_error();
}

const crypto_int_algs *crypto_int_get_algs(void)
{
	pthread_once(&algs_once, algs_fetch);
	return algs_ok ? &algs : NULL;
}

const crypto_int_algs *crypto_int_need_algs(void)
{
	const crypto_int_algs *a = crypto_int_get_algs();
	if (!a)
		abort(); /* OpenSSL's default provider lacks SM3/SM4/HMAC: unusable install */
	return a;
}
