/*
 * crypto.h — the only wrapper over OpenSSL for hashing, MACs, password
 * hashing, symmetric encryption, signatures and randomness. Nothing else in
 * the program calls OpenSSL's SM2/SM3/SM4/ECDSA/Ed25519 primitives directly.
 *
 * SM2 rules handled here once (DESIGN §7, reference notes identity-pki §5):
 *  - SM2 keys are generated as type "SM2" and every SM2 key that enters
 *    through this API is checked with EVP_PKEY_is_a(k, "SM2"); an EC key on
 *    the SM2 curve is refused (it would silently sign ECDSA-with-SM3).
 *  - Every SM2 sign and verify sets the distinguishing ID, by default
 *    "1234567812345678" with length 16 (not 17), and uses SM3 only.
 *  - A private key always carries its public key.
 *
 * Signatures are DER-encoded ECDSA-Sig-Value (r, s) for SM2 and P-256, and
 * the raw 64 bytes for Ed25519. Verification returns YZ_OK for a valid
 * signature and YZ_ECRYPTO (message "signature does not verify") otherwise.
 *
 * Keys are opaque (crypto_key) and immutable after creation, so one key may be
 * used from many threads at once.
 */
#ifndef YZ_CRYPTO_CRYPTO_H
#define YZ_CRYPTO_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/status.h"

#define CRYPTO_SM3_LEN            32
#define CRYPTO_SHA256_LEN         32
#define CRYPTO_SHA1_LEN           20
#define CRYPTO_SM4_KEY_LEN        16
#define CRYPTO_SM4_BLOCK          16
#define CRYPTO_SM2_DEFAULT_ID     "1234567812345678"
#define CRYPTO_SM2_DEFAULT_ID_LEN 16

/* ---- randomness ---- */
YZ_MUST_USE yz_status crypto_random(void *out, size_t n);
/* n random bytes as lower-case hex into out (cap >= 2n+1). */
YZ_MUST_USE yz_status crypto_random_hex(size_t n, char *out, size_t cap);
/* Random token of n bytes in base64url without padding (session ids, CSRF). */
YZ_MUST_USE yz_status crypto_random_token(size_t n, char *out, size_t cap);

/* ---- hashes and MACs ---- */
void crypto_sm3(const void *data, size_t n, unsigned char out[CRYPTO_SM3_LEN]);
void crypto_sha256(const void *data, size_t n, unsigned char out[CRYPTO_SHA256_LEN]);

/* Incremental SM3. */
typedef struct crypto_sm3_ctx crypto_sm3_ctx;
crypto_sm3_ctx *crypto_sm3_new(void);
void crypto_sm3_update(crypto_sm3_ctx *c, const void *data, size_t n);
void crypto_sm3_final(crypto_sm3_ctx *c, unsigned char out[CRYPTO_SM3_LEN]); /* also resets */
void crypto_sm3_free(crypto_sm3_ctx *c);

void crypto_hmac_sm3(const void *key, size_t klen, const void *data, size_t n,
                     unsigned char out[CRYPTO_SM3_LEN]);
void crypto_hmac_sha256(const void *key, size_t klen, const void *data, size_t n,
                        unsigned char out[CRYPTO_SHA256_LEN]);
/* HMAC-SHA1: only for TOTP (RFC 6238), whose authenticator apps compute
 * nothing else; never for new designs. */
void crypto_hmac_sha1(const void *key, size_t klen, const void *data, size_t n,
                      unsigned char out[CRYPTO_SHA1_LEN]);
/* Constant-time comparison. */
bool crypto_equal(const void *a, const void *b, size_t n);

/* ---- passwords: PBKDF2-HMAC-SM3 ---- */
YZ_MUST_USE yz_status crypto_pbkdf2_sm3(const char *pw, size_t pwlen, const unsigned char *salt,
                                        size_t saltlen, int iterations, unsigned char *out,
                                        size_t outlen);
/* Stored form: "pbkdf2-sm3$<iterations>$<salt base64>$<hash base64>" with a
 * 16-byte random salt and a 32-byte hash. cap >= 128. */
YZ_MUST_USE yz_status crypto_password_hash(const char *pw, int iterations, char *out, size_t cap);
/* YZ_OK when pw matches; YZ_EREFUSED when it does not; YZ_EINVAL when stored
 * is not a hash this function understands. *rehash (may be NULL) is set when
 * the stored iteration count is below `iterations`. Constant-time compare. */
YZ_MUST_USE yz_status crypto_password_verify(const char *pw, const char *stored, int iterations,
                                             bool *rehash);

/* ---- SM4 ---- */
/* CBC with PKCS#7 padding; appends to out. */
YZ_MUST_USE yz_status crypto_sm4_cbc_encrypt(const unsigned char key[16],
                                             const unsigned char iv[16], const void *in, size_t n,
                                             buf *out);
YZ_MUST_USE yz_status crypto_sm4_cbc_decrypt(const unsigned char key[16],
                                             const unsigned char iv[16], const void *in, size_t n,
                                             buf *out);
/* Single-block ECB without padding, for known-answer tests. */
YZ_MUST_USE yz_status crypto_sm4_ecb_block(const unsigned char key[16], const unsigned char in[16],
                                           unsigned char out[16], bool encrypt);
/* Authenticated encryption for data at rest: SM4-CTR with a random 16-byte
 * IV, then HMAC-SM3 over (u64 aad length || aad || iv || ciphertext); the
 * encryption and MAC keys are both derived from all 48 bytes of key (HMAC-SM3
 * with the labels "yizhan-seal-enc" and "yizhan-seal-mac"), so a key wrong in
 * any byte fails. Output appended to out: iv(16) || ciphertext || tag(32).
 * aad may be NULL. */
#define CRYPTO_SEAL_KEY_LEN  48
#define CRYPTO_SEAL_OVERHEAD 48
YZ_MUST_USE yz_status crypto_seal(const unsigned char key[CRYPTO_SEAL_KEY_LEN], const void *aad,
                                  size_t aadlen, const void *in, size_t n, buf *out);
/* Fails with YZ_ECRYPTO when the tag does not match (tampered or wrong key). */
YZ_MUST_USE yz_status crypto_open(const unsigned char key[CRYPTO_SEAL_KEY_LEN], const void *aad,
                                  size_t aadlen, const void *in, size_t n, buf *out);

/* ---- asymmetric keys ---- */
typedef enum crypto_alg {
	CRYPTO_SM2 = 1,
	CRYPTO_ECDSA_P256 = 2,
	CRYPTO_ED25519 = 3,
} crypto_alg;

typedef struct crypto_key crypto_key;

const char *crypto_alg_name(crypto_alg a); /* "sm2", "ecdsa-p256", "ed25519" */
YZ_MUST_USE yz_status crypto_alg_parse(const char *name, crypto_alg *out);

YZ_MUST_USE yz_status crypto_key_generate(crypto_alg alg, crypto_key **out, yz_err *e);
void crypto_key_free(crypto_key *k);
crypto_alg crypto_key_alg(const crypto_key *k);
bool crypto_key_is_private(const crypto_key *k);
/* PEM: private keys as PKCS#8, encrypted with SM4-CBC under PBKDF2 when a
 * passphrase is given; public keys as SubjectPublicKeyInfo. */
YZ_MUST_USE yz_status crypto_key_to_pem(const crypto_key *k, bool private_part,
                                        const char *passphrase, buf *out, yz_err *e);
/* Loads either form. SM2 keys come back SM2-typed; an EC key on the SM2 curve
 * is converted to SM2 (PEM carries the same OID), never used as ECDSA. */
YZ_MUST_USE yz_status crypto_key_from_pem(const char *pem, size_t n, const char *passphrase,
                                          crypto_key **out, yz_err *e);
/* SubjectPublicKeyInfo DER of the public part. */
YZ_MUST_USE yz_status crypto_key_spki_der(const crypto_key *k, buf *out);
YZ_MUST_USE yz_status crypto_key_from_spki_der(const void *der, size_t n, crypto_key **out,
                                               yz_err *e);
/* The public point of an SM2 or P-256 key, uncompressed: 0x04 || x || y. */
#define CRYPTO_EC_POINT_LEN 65
YZ_MUST_USE yz_status crypto_key_ec_point(const crypto_key *k,
                                          unsigned char out[CRYPTO_EC_POINT_LEN]);
/* SM3 over the SPKI DER: a stable key identifier. */
YZ_MUST_USE yz_status crypto_key_id(const crypto_key *k, unsigned char out[CRYPTO_SM3_LEN]);

/* Sign msg. SM2: SM3 with the default ID; P-256: SHA-256; Ed25519: pure. */
YZ_MUST_USE yz_status crypto_sign(const crypto_key *k, const void *msg, size_t n, buf *sig,
                                  yz_err *e);
YZ_MUST_USE yz_status crypto_verify(const crypto_key *k, const void *msg, size_t n, const void *sig,
                                    size_t siglen, yz_err *e);
/* SM2 with an explicit distinguishing ID (GB/T 32918 vectors, peers that use
 * another ID). Refuses non-SM2 keys and an empty ID. */
YZ_MUST_USE yz_status crypto_sm2_sign_id(const crypto_key *k, const void *id, size_t idlen,
                                         const void *msg, size_t n, buf *sig, yz_err *e);
YZ_MUST_USE yz_status crypto_sm2_verify_id(const crypto_key *k, const void *id, size_t idlen,
                                           const void *msg, size_t n, const void *sig,
                                           size_t siglen, yz_err *e);
/* SM2 public key from raw affine coordinates (32-byte big-endian x, y), and
 * private key from d (32 bytes) — for standard test vectors and imports. */
YZ_MUST_USE yz_status crypto_sm2_key_from_raw(const unsigned char *d, const unsigned char x[32],
                                              const unsigned char y[32], crypto_key **out,
                                              yz_err *e);
/* Z_A = SM3(ENTL || ID || a || b || xG || yG || xA || yA) per GB/T 32918.2. */
YZ_MUST_USE yz_status crypto_sm2_za(const crypto_key *k, const void *id, size_t idlen,
                                    unsigned char out[CRYPTO_SM3_LEN]);

/* SM2 public-key encryption (GB/T 32918.4) with SM3: the ciphertext is the
 * GM/T 0009 ASN.1 form SM2Cipher ::= SEQUENCE {XCoordinate INTEGER,
 * YCoordinate INTEGER, HASH OCTET STRING (C3, 32 bytes), CipherText OCTET
 * STRING (C2)}, i.e. C1C3C2, as OpenSSL 3.0 writes it. Refuses non-SM2 keys.
 * Decryption fails with YZ_ECRYPTO for another key or a changed byte (C3 is
 * checked). Appends to out. */
#define CRYPTO_SM2_ENC_MAX 65536
YZ_MUST_USE yz_status crypto_sm2_encrypt(const crypto_key *k, const void *in, size_t n, buf *out,
                                         yz_err *e);
YZ_MUST_USE yz_status crypto_sm2_decrypt(const crypto_key *k, const void *in, size_t n, buf *out,
                                         yz_err *e);
/* The private scalar d of an SM2 key, 32 bytes big-endian (the key envelope
 * of GB/T 35276 carries it encrypted; crypto_sm2_key_from_raw is the way
 * back). */
YZ_MUST_USE yz_status crypto_sm2_private_raw(const crypto_key *k, unsigned char d[32], yz_err *e);

/* ---- JOSE (RFC 7515/7518): ES256 ----
 * JWS carries an ECDSA signature as the raw 64 bytes r || s (each 32 bytes,
 * big-endian, left-padded), not as DER. These take and give that form over
 * a P-256 key with SHA-256; other keys are refused (no JWS algorithm is
 * registered for SM2). */
#define CRYPTO_ES256_SIG_LEN 64
YZ_MUST_USE yz_status crypto_es256_sign(const crypto_key *k, const void *msg, size_t n,
                                        unsigned char sig[CRYPTO_ES256_SIG_LEN], yz_err *e);
/* YZ_OK for a valid signature, YZ_ECRYPTO otherwise. */
YZ_MUST_USE yz_status crypto_es256_verify(const crypto_key *k, const void *msg, size_t n,
                                          const unsigned char sig[CRYPTO_ES256_SIG_LEN], yz_err *e);
/* The conversions themselves: DER ECDSA-Sig-Value <-> r || s of 32 bytes
 * each. der_to_raw refuses trailing bytes and integers longer than 32 bytes. */
YZ_MUST_USE yz_status crypto_ecdsa_der_to_raw(const void *der, size_t n,
                                              unsigned char raw[CRYPTO_ES256_SIG_LEN]);
YZ_MUST_USE yz_status crypto_ecdsa_raw_to_der(const unsigned char raw[CRYPTO_ES256_SIG_LEN],
                                              buf *out);

/* For modules that must hand a key to OpenSSL's X.509 code (pki only):
 * the underlying EVP_PKEY*, borrowed. Declared as void* so that including
 * this header does not pull OpenSSL into every module. */
void *crypto_key_evp(const crypto_key *k);
/* For pki's X.509 structures (certificates, CRLs, OCSP responses): an
 * EVP_MD_CTX* (as void*) set up to sign (sign = true) or verify with k the
 * way they are signed here: SM2 with SM3 and the standard ID
 * 1234567812345678 (OpenSSL's own X509_sign would use an empty ID), P-256
 * with SHA-256. Hand it to X509_sign_ctx / X509_CRL_sign_ctx /
 * OCSP_basic_sign_ctx; free with crypto_x509_ctx_free. */
YZ_MUST_USE yz_status crypto_x509_ctx(const crypto_key *k, bool sign, void **out, yz_err *e);
void crypto_x509_ctx_free(void *ctx);
/* The reverse, for keys OpenSSL hands over (a certificate's public key):
 * evp is an EVP_PKEY*, borrowed; the new crypto_key takes its own reference.
 * The same rules as every other entry: an EC key on the SM2 curve becomes
 * SM2-typed, other curves and key types are refused. */
YZ_MUST_USE yz_status crypto_key_from_evp(void *evp, crypto_key **out, yz_err *e);

#endif
