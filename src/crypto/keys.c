/* Asymmetric keys: generation, classification (the SM2 type rules), PEM and
 * SubjectPublicKeyInfo import/export, raw SM2 import and key ids. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "crypto/crypto_int.h"

#define MAX_KEY_TEXT (1u << 20)

const char *crypto_alg_name(crypto_alg a)
{
	switch (a) {
	case CRYPTO_SM2:
		return "sm2";
	case CRYPTO_ECDSA_P256:
		return "ecdsa-p256";
	case CRYPTO_ED25519:
		return "ed25519";
	}
	return "unknown";
}

yz_status crypto_alg_parse(const char *name, crypto_alg *out)
{
	static const crypto_alg all[] = {CRYPTO_SM2, CRYPTO_ECDSA_P256, CRYPTO_ED25519};
	if (!name || !out)
		return YZ_EINVAL;
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		if (strcmp(name, crypto_alg_name(all[i])) == 0) {
			*out = all[i];
			return YZ_OK;
		}
	}
	return YZ_EINVAL;
}

static bool has_bn_param(const EVP_PKEY *pk, const char *name)
{
	BIGNUM *bn = NULL;
	int ok = EVP_PKEY_get_bn_param(pk, name, &bn) == 1;
	BN_clear_free(bn);
	return ok;
}

static bool has_octet_param(const EVP_PKEY *pk, const char *name)
{
	size_t len = 0;
	return EVP_PKEY_get_octet_string_param(pk, name, NULL, 0, &len) == 1 && len > 0;
}

/* An EC key on the SM2 curve, rebuilt as an SM2-typed key from its exported
 * parameters (the same curve, point and scalar). Frees nothing. */
static EVP_PKEY *ec_to_sm2(EVP_PKEY *ec, bool priv)
{
	int sel = priv ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY;
	OSSL_PARAM *params = NULL;
	EVP_PKEY *sm2 = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	if (EVP_PKEY_todata(ec, sel, &params) != 1)
		goto done;
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "SM2", NULL);
	if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &sm2, sel, params) != 1)
		goto done;
done:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return sm2;
}

yz_status crypto_int_wrap(EVP_PKEY *pk, crypto_key **out, yz_err *e)
{
	crypto_alg alg;
	bool priv;
	yz_status s = YZ_OK;
	*out = NULL;
	if (!pk)
		return yz_fail(e, YZ_EINVAL, "no key");
	if (EVP_PKEY_is_a(pk, "SM2") || EVP_PKEY_is_a(pk, "EC")) {
		char group[64] = "";
		if (EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, group,
		                                   sizeof group, NULL) != 1) {
			s = crypto_int_fail(e, YZ_EINVAL, "EC key without a named curve");
			goto fail;
		}
		priv = has_bn_param(pk, OSSL_PKEY_PARAM_PRIV_KEY);
		if (priv && !has_octet_param(pk, OSSL_PKEY_PARAM_PUB_KEY)) {
			s = yz_fail(e, YZ_EINVAL, "private key does not carry its public key");
			goto fail;
		}
		if (strcmp(group, "SM2") == 0) {
			alg = CRYPTO_SM2;
			if (!EVP_PKEY_is_a(pk, "SM2")) {
				/* An EC-typed key here would sign ECDSA-with-SM3. */
				EVP_PKEY *sm2 = ec_to_sm2(pk, priv);
				if (!sm2) {
					s = crypto_int_fail(
					    e, YZ_ECRYPTO,
					    "cannot convert EC key on the SM2 curve");
					goto fail;
				}
				EVP_PKEY_free(pk);
				pk = sm2;
			}
		} else if (EVP_PKEY_is_a(pk, "EC") &&
		           (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0)) {
			alg = CRYPTO_ECDSA_P256;
		} else {
			s = yz_fail(e, YZ_EINVAL, "unsupported elliptic curve %s", group);
			goto fail;
		}
	} else if (EVP_PKEY_is_a(pk, "ED25519")) {
		alg = CRYPTO_ED25519;
		priv = has_octet_param(pk, OSSL_PKEY_PARAM_PRIV_KEY);
	} else {
		const char *t = EVP_PKEY_get0_type_name(pk);
		s = yz_fail(e, YZ_EINVAL, "unsupported key type %s", t ? t : "(unknown)");
		goto fail;
	}
	if (alg == CRYPTO_SM2 && !EVP_PKEY_is_a(pk, "SM2")) {
		s = yz_fail(e, YZ_EINTERNAL, "SM2 key is not SM2-typed");
		goto fail;
	}
	crypto_key *k = malloc(sizeof *k);
	if (!k) {
		s = yz_fail(e, YZ_ENOMEM, "out of memory");
		goto fail;
	}
	k->pk = pk;
	k->alg = alg;
	k->priv = priv;
	*out = k;
	crypto_int_clear_errors();
	return YZ_OK;
fail:
	EVP_PKEY_free(pk);
	crypto_int_clear_errors();
	return s;
}

yz_status crypto_key_generate(crypto_alg alg, crypto_key **out, yz_err *e)
{
	EVP_PKEY *pk = NULL;
	if (!out)
		return yz_fail(e, YZ_EINVAL, "no output");
	*out = NULL;
	switch (alg) {
	case CRYPTO_SM2:
		/* Type "SM2", never "EC" with curve SM2 (DESIGN §7). */
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "SM2");
		break;
	case CRYPTO_ECDSA_P256:
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		break;
	case CRYPTO_ED25519:
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		break;
	default:
		return yz_fail(e, YZ_EINVAL, "unknown algorithm %d", (int)alg);
	}
	if (!pk)
		return crypto_int_fail(e, YZ_ECRYPTO, "key generation failed");
	yz_status s = crypto_int_wrap(pk, out, e);
	if (s == YZ_OK && ((*out)->alg != alg || !(*out)->priv)) {
		crypto_key_free(*out);
		*out = NULL;
		return yz_fail(e, YZ_EINTERNAL, "generated key has the wrong type");
	}
	return s;
}

void crypto_key_free(crypto_key *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pk);
	free(k);
}

crypto_alg crypto_key_alg(const crypto_key *k)
{
	return k->alg;
}

bool crypto_key_is_private(const crypto_key *k)
{
	return k->priv;
}

void *crypto_key_evp(const crypto_key *k)
{
	return k->pk;
}

yz_status crypto_key_from_evp(void *evp, crypto_key **out, yz_err *e)
{
	if (!out)
		return yz_fail(e, YZ_EINVAL, "no output");
	*out = NULL;
	if (!evp || EVP_PKEY_up_ref(evp) != 1)
		return yz_fail(e, YZ_EINVAL, "no key");
	return crypto_int_wrap(evp, out, e);
}

/* ---- PEM ---- */

yz_status crypto_key_to_pem(const crypto_key *k, bool private_part, const char *passphrase,
                            buf *out, yz_err *e)
{
	if (!k || !out)
		return yz_fail(e, YZ_EINVAL, "no key");
	if (private_part && !k->priv)
		return yz_fail(e, YZ_EINVAL, "key has no private part");
	size_t plen = passphrase ? strlen(passphrase) : 0;
	if (private_part && passphrase && (plen == 0 || plen > INT_MAX))
		return yz_fail(e, YZ_EINVAL, "passphrase must not be empty");
	/* The secure-memory BIO wipes what it held when freed. */
	BIO *bio = BIO_new(private_part ? BIO_s_secmem() : BIO_s_mem());
	if (!bio)
		return crypto_int_fail(e, YZ_ENOMEM, "out of memory");
	int ok;
	if (!private_part)
		ok = PEM_write_bio_PUBKEY(bio, k->pk);
	else if (passphrase)
		ok = PEM_write_bio_PKCS8PrivateKey(bio, k->pk, EVP_sm4_cbc(), passphrase, (int)plen,
		                                   NULL, NULL);
	else
		ok = PEM_write_bio_PKCS8PrivateKey(bio, k->pk, NULL, NULL, 0, NULL, NULL);
	yz_status s = YZ_OK;
	if (ok != 1) {
		s = crypto_int_fail(e, YZ_ECRYPTO, "cannot write PEM");
	} else {
		char *data = NULL;
		long len = BIO_get_mem_data(bio, &data);
		s = len > 0 ? buf_append(out, data, (size_t)len) : YZ_ECRYPTO;
		if (s != YZ_OK)
			yz_fail(e, s, "PEM does not fit in the output buffer");
	}
	BIO_free(bio);
	return s;
}

typedef struct pass_ctx {
	const char *pass;
	bool asked;
} pass_ctx;

/* Never prompts: OpenSSL's default callback would read the terminal. */
static int pass_cb(char *b, int size, int rwflag, void *u)
{
	(void)rwflag;
	pass_ctx *p = u;
	p->asked = true;
	if (!p->pass)
		return -1;
	size_t n = strlen(p->pass);
	if (n == 0 || n > (size_t)size)
		return -1;
	memcpy(b, p->pass, n);
	return (int)n;
}

static const char *find_pem_label(const char *pem, size_t n)
{
	static const char begin[] = "-----BEGIN ";
	size_t bl = sizeof begin - 1;
	for (size_t i = 0; i + bl <= n; i++) {
		if (memcmp(pem + i, begin, bl) == 0)
			return pem + i + bl;
	}
	return NULL;
}

yz_status crypto_key_from_pem(const char *pem, size_t n, const char *passphrase, crypto_key **out,
                              yz_err *e)
{
	static const char pub_label[] = "PUBLIC KEY-----";
	if (!out)
		return yz_fail(e, YZ_EINVAL, "no output");
	*out = NULL;
	if (!pem || n == 0 || n > MAX_KEY_TEXT)
		return yz_fail(e, YZ_EINVAL, "no PEM text, or too long");
	const char *label = find_pem_label(pem, n);
	if (!label)
		return yz_fail(e, YZ_EINVAL, "not PEM: no BEGIN line");
	size_t rest = n - (size_t)(label - pem);
	bool pub =
	    rest >= sizeof pub_label - 1 && memcmp(label, pub_label, sizeof pub_label - 1) == 0;
	BIO *bio = BIO_new_mem_buf(pem, (int)n);
	if (!bio)
		return crypto_int_fail(e, YZ_ENOMEM, "out of memory");
	if (pub) {
		/* PEM is base64 of the DER: read it without OpenSSL's decoders */
		char *name = NULL, *header = NULL;
		unsigned char *data = NULL;
		long len = 0;
		int got = PEM_read_bio(bio, &name, &header, &data, &len);
		BIO_free(bio);
		yz_status s = got == 1 && !strcmp(name, "PUBLIC KEY")
		                  ? crypto_key_from_spki_der(data, (size_t)len, out, e)
		                  : crypto_int_fail(e, YZ_EINVAL, "cannot read PEM public key");
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(data);
		return s;
	}
	pass_ctx pc = {passphrase, false};
	EVP_PKEY *pk = PEM_read_bio_PrivateKey_ex(bio, NULL, pass_cb, &pc, NULL, NULL);
	BIO_free(bio);
	if (!pk) {
		if (pc.asked && !passphrase)
			return crypto_int_fail(
			    e, YZ_EINVAL, "private key is encrypted and no passphrase was given");
		if (pc.asked)
			return crypto_int_fail(
			    e, YZ_ECRYPTO,
			    "cannot decrypt private key: wrong passphrase or damaged key");
		return crypto_int_fail(e, YZ_EINVAL, "cannot read PEM private key");
	}
	yz_status s = crypto_int_wrap(pk, out, e);
	if (s == YZ_OK && !(*out)->priv) {
		crypto_key_free(*out);
		*out = NULL;
		return yz_fail(e, YZ_EINVAL, "PEM private key without its private part");
	}
	return s;
}

/* ---- SubjectPublicKeyInfo ---- */

/* The SubjectPublicKeyInfo of an uncompressed point on SM2 or P-256 is a
 * fixed 27-byte prefix and the point's 64 bytes. Such keys are built from
 * the point directly: OpenSSL 3.0's generic decoder looks every provider's
 * decoders up under locks and costs more than an SM2 signature. The point
 * is checked to lie on the curve (EC_POINT_oct2point inside fromdata). */
static const unsigned char spki_sm2[27] = {0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48,
                                           0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x81, 0x1c,
                                           0xcf, 0x55, 0x01, 0x82, 0x2d, 0x03, 0x42, 0x00, 0x04};
static const unsigned char spki_p256[27] = {0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48,
                                            0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
                                            0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00, 0x04};

yz_status crypto_key_ec_point(const crypto_key *k, unsigned char out[CRYPTO_EC_POINT_LEN])
{
	if (!k || (k->alg != CRYPTO_SM2 && k->alg != CRYPTO_ECDSA_P256))
		return YZ_EINVAL;
	size_t len = 0;
	if (EVP_PKEY_get_octet_string_param(k->pk, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, out,
	                                    CRYPTO_EC_POINT_LEN, &len) != 1 ||
	    len != CRYPTO_EC_POINT_LEN || out[0] != 0x04) {
		crypto_int_clear_errors();
		return YZ_ECRYPTO;
	}
	return YZ_OK;
}

yz_status crypto_key_spki_der(const crypto_key *k, buf *out)
{
	if (!k || !out)
		return YZ_EINVAL;
	unsigned char point[CRYPTO_EC_POINT_LEN];
	if (crypto_key_ec_point(k, point) == YZ_OK) {
		/* the fixed prefix and the point: no trip through OpenSSL's encoders */
		yz_status s = buf_append(out, k->alg == CRYPTO_SM2 ? spki_sm2 : spki_p256,
		                         sizeof spki_sm2 - 1);
		return s == YZ_OK ? buf_append(out, point, sizeof point) : s;
	}
	unsigned char *der = NULL;
	int len = i2d_PUBKEY(k->pk, &der);
	if (len <= 0) {
		crypto_int_clear_errors();
		return YZ_ECRYPTO;
	}
	yz_status s = buf_append(out, der, (size_t)len);
	OPENSSL_free(der);
	return s;
}

static EVP_PKEY *ec_public_from_point(const char *type, const char *group,
                                      const unsigned char pub[65])
{
	OSSL_PARAM params[3] = {
	    OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)group, 0),
	    OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)pub, 65),
	    OSSL_PARAM_construct_end()};
	EVP_PKEY *pk = NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1)
		pk = NULL;
	EVP_PKEY_CTX_free(ctx);
	return pk;
}

yz_status crypto_key_from_spki_der(const void *der, size_t n, crypto_key **out, yz_err *e)
{
	if (!out)
		return yz_fail(e, YZ_EINVAL, "no output");
	*out = NULL;
	if (!der || n == 0 || n > MAX_KEY_TEXT)
		return yz_fail(e, YZ_EINVAL, "no SubjectPublicKeyInfo, or too long");
	if (n == 91) {
		bool sm2 = !memcmp(der, spki_sm2, sizeof spki_sm2);
		if (sm2 || !memcmp(der, spki_p256, sizeof spki_p256)) {
			EVP_PKEY *pk =
			    ec_public_from_point(sm2 ? "SM2" : "EC", sm2 ? "SM2" : "prime256v1",
			                         (const unsigned char *)der + 26);
			if (!pk)
				return crypto_int_fail(
				    e, YZ_EINVAL,
				    "not a valid public key (point not on the curve?)");
			return crypto_int_wrap(pk, out, e);
		}
	}
	const unsigned char *p = der;
	EVP_PKEY *pk = d2i_PUBKEY_ex(NULL, &p, (long)n, NULL, NULL);
	if (!pk)
		return crypto_int_fail(e, YZ_EINVAL, "cannot read SubjectPublicKeyInfo");
	if (p != (const unsigned char *)der + n) {
		EVP_PKEY_free(pk);
		return yz_fail(e, YZ_EINVAL, "trailing bytes after SubjectPublicKeyInfo");
	}
	return crypto_int_wrap(pk, out, e);
}

yz_status crypto_key_id(const crypto_key *k, unsigned char out[CRYPTO_SM3_LEN])
{
	buf b;
	buf_init(&b, 4096);
	yz_status s = crypto_key_spki_der(k, &b);
	if (s == YZ_OK)
		crypto_sm3(b.p, b.len, out);
	buf_free(&b);
	return s;
}

/* ---- raw SM2 ---- */

/* n − 1 of the SM2 curve (GB/T 32918.5): a private key d must satisfy
 * 1 <= d <= n − 2, i.e. 0 < d < n − 1. */
static const unsigned char sm2_n_minus_1[32] = {
    0xFF, 0xFF, 0xFF, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0x72, 0x03, 0xDF, 0x6B, 0x21, 0xC6, 0x05, 0x2B, 0x53, 0xBB, 0xF4, 0x09, 0x39, 0xD5, 0x41, 0x22};

/* 0 < d < n − 1, without branching on the secret. */
static bool sm2_d_in_range(const unsigned char d[32])
{
	unsigned nonzero = 0, lt = 0, gt = 0;
	for (size_t i = 0; i < 32; i++) {
		unsigned a = d[i], b = sm2_n_minus_1[i];
		unsigned undecided = 1u & ~(lt | gt);
		lt |= undecided & ((a - b) >> 8 & 1u); /* a < b */
		gt |= undecided & ((b - a) >> 8 & 1u); /* a > b */
		nonzero |= a;
	}
	return (nonzero != 0) & (lt == 1);
}

yz_status crypto_sm2_key_from_raw(const unsigned char *d, const unsigned char x[32],
                                  const unsigned char y[32], crypto_key **out, yz_err *e)
{
	if (!out)
		return yz_fail(e, YZ_EINVAL, "no output");
	*out = NULL;
	if (!x || !y)
		return yz_fail(e, YZ_EINVAL, "SM2 public key coordinates missing");
	if (d && !sm2_d_in_range(d))
		return yz_fail(e, YZ_EINVAL, "SM2 private key out of range [1, n-2]");
	unsigned char pub[65];
	pub[0] = 0x04;
	memcpy(pub + 1, x, 32);
	memcpy(pub + 33, y, 32);
	yz_status s = YZ_OK;
	BIGNUM *bd = NULL;
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pk = NULL;
	if (!bld ||
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "SM2", 0) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof pub) != 1) {
		s = crypto_int_fail(e, YZ_ENOMEM, "out of memory");
		goto done;
	}
	if (d) {
		bd = BN_secure_new();
		if (!bd || !BN_bin2bn(d, 32, bd) ||
		    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, bd) != 1) {
			s = crypto_int_fail(e, YZ_ENOMEM, "out of memory");
			goto done;
		}
	}
	params = OSSL_PARAM_BLD_to_param(bld);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "SM2", NULL);
	if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pk, d ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params) != 1) {
		s = crypto_int_fail(e, YZ_EINVAL, "not a valid SM2 key (point not on the curve?)");
		goto done;
	}
	if (d) {
		/* The given public key must be d·G. */
		EVP_PKEY_CTX *chk = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
		int ok = chk && EVP_PKEY_pairwise_check(chk) == 1;
		EVP_PKEY_CTX_free(chk);
		if (!ok) {
			s = crypto_int_fail(e, YZ_EINVAL, "SM2 public key does not match d");
			goto done;
		}
	}
	s = crypto_int_wrap(pk, out, e);
	pk = NULL;
done:
	EVP_PKEY_free(pk);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_clear_free(bd);
	return s;
}

yz_status crypto_int_ec_xy(const EVP_PKEY *pk, unsigned char x[32], unsigned char y[32])
{
	BIGNUM *bx = NULL, *by = NULL;
	int ok = EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_EC_PUB_X, &bx) == 1 &&
	         EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_EC_PUB_Y, &by) == 1 &&
	         BN_bn2binpad(bx, x, 32) == 32 && BN_bn2binpad(by, y, 32) == 32;
	BN_free(bx);
	BN_free(by);
	if (!ok) {
		crypto_int_clear_errors();
		return YZ_ECRYPTO;
	}
	return YZ_OK;
}
