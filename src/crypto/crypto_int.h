/*
 * crypto_int.h — private to src/crypto: the body of crypto_key and helpers
 * shared by the module's .c files. Nothing outside src/crypto includes it.
 *
 * A crypto_key owns one reference to its EVP_PKEY. The EVP_PKEY is never
 * modified after the crypto_key is built; every operation creates its own
 * EVP_MD_CTX / EVP_PKEY_CTX, which is what makes a key shareable between
 * threads.
 */
#ifndef YZ_CRYPTO_CRYPTO_INT_H
#define YZ_CRYPTO_CRYPTO_INT_H

#include <openssl/evp.h>

#include "crypto/crypto.h"

struct crypto_key {
	EVP_PKEY *pk;
	crypto_alg alg;
	bool priv;
};

/* Algorithms fetched once from the default provider and shared by all
 * threads. crypto_int_get_algs returns NULL when the install lacks one of
 * them; crypto_int_need_algs aborts instead (for the void hash functions,
 * which cannot report and must never return a wrong digest). */
typedef struct crypto_int_algs {
	EVP_MD *sm3, *sha256;
	EVP_MAC *hmac;
	EVP_KDF *pbkdf2;
	EVP_CIPHER *sm4_cbc, *sm4_ecb, *sm4_ctr;
} crypto_int_algs;
const crypto_int_algs *crypto_int_get_algs(void);
const crypto_int_algs *crypto_int_need_algs(void);

/* Fill e with "<what>: <OpenSSL reason>" and empty this thread's OpenSSL
 * error queue (a stale entry would confuse later SSL_get_error calls).
 * Returns code. */
yz_status crypto_int_fail(yz_err *e, yz_status code, const char *what);

/* Drop whatever OpenSSL left in this thread's error queue. */
void crypto_int_clear_errors(void);

/* Shorten b back to len, wiping the bytes that are cut off (they may be
 * plaintext or key material). */
void crypto_int_buf_cut(buf *b, size_t len);

/* Wrap pk (takes the caller's reference on success and on failure): decide
 * the algorithm, turn an EC key on the SM2 curve into an SM2-typed key,
 * refuse anything else, and check that a private key carries its public key. */
yz_status crypto_int_wrap(EVP_PKEY *pk, crypto_key **out, yz_err *e);

/* The 32-byte big-endian affine coordinates of an SM2 or P-256 public key. */
yz_status crypto_int_ec_xy(const EVP_PKEY *pk, unsigned char x[32], unsigned char y[32]);

#endif
