/*
 * pki_x509.c — X.509 building blocks over OpenSSL: names, extensions,
 * serials, times, signing with a crypto_key (through crypto_x509_ctx, so SM2
 * always carries the standard ID) and checking a signature over a TBS.
 */
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <string.h>

#include "core/b64.h"
#include "core/clock.h"
#include "core/jx.h"
#include "crypto/crypto.h"
#include "pki/pki_int.h"

static yz_status ossl_fail(yz_err *e, yz_status code, const char *what)
{
	unsigned long err = ERR_peek_last_error();
	char detail[160] = "";
	if (err)
		ERR_error_string_n(err, detail, sizeof detail);
	ERR_clear_error();
	return yz_fail(e, code, "%s%s%s", what, detail[0] ? ": " : "", detail);
}

yz_status pki_x509_sign(X509 *x, const crypto_key *k, yz_err *e)
{
	void *ctx;
	yz_status st = crypto_x509_ctx(k, true, &ctx, e);
	if (st != YZ_OK)
		return st;
	if (X509_sign_ctx(x, ctx) <= 0)
		st = ossl_fail(e, YZ_ECRYPTO, "cannot sign the certificate");
	crypto_x509_ctx_free(ctx);
	return st;
}

yz_status pki_crl_sign(X509_CRL *crl, const crypto_key *k, yz_err *e)
{
	void *ctx;
	yz_status st = crypto_x509_ctx(k, true, &ctx, e);
	if (st != YZ_OK)
		return st;
	if (X509_CRL_sign_ctx(crl, ctx) <= 0)
		st = ossl_fail(e, YZ_ECRYPTO, "cannot sign the CRL");
	crypto_x509_ctx_free(ctx);
	return st;
}

yz_status pki_new_serial(char hex[PKI_SERIAL_HEX + 1], ASN1_INTEGER **out, yz_err *e)
{
	unsigned char r[PKI_SERIAL_HEX / 2];
	if (crypto_random(r, sizeof r) != YZ_OK)
		return yz_fail(e, YZ_ECRYPTO, "no randomness for a serial number");
	r[0] &= 0x7f;
	if (r[0] == 0)
		r[0] = 0x01;
	static const char digits[] = "0123456789ABCDEF";
	for (size_t i = 0; i < sizeof r; i++) {
		hex[2 * i] = digits[r[i] >> 4];
		hex[2 * i + 1] = digits[r[i] & 15];
	}
	hex[PKI_SERIAL_HEX] = '\0';
	BIGNUM *bn = BN_bin2bn(r, sizeof r, NULL);
	*out = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
	BN_free(bn);
	return *out ? YZ_OK : ossl_fail(e, YZ_ENOMEM, "out of memory");
}

yz_status pki_name_build(json_t *subject, X509_NAME **out, yz_err *e)
{
	static const struct {
		const char *key, *attr;
	} order[] = {{"c", "C"}, {"st", "ST"}, {"l", "L"}, {"o", "O"}, {"ou", "OU"}, {"cn", "CN"}};
	X509_NAME *n = X509_NAME_new();
	if (!n)
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
		const char *v = jx_str(subject, order[i].key, "");
		if (!v[0])
			continue;
		if (!X509_NAME_add_entry_by_txt(n, order[i].attr, MBSTRING_UTF8,
		                                (const unsigned char *)v, -1, -1, 0)) {
			X509_NAME_free(n);
			ERR_clear_error();
			return yz_field(e, order[i].key, "x500", "a value an X.500 name can hold",
			                v);
		}
	}
	*out = n;
	return YZ_OK;
}

void pki_name_text(const X509_NAME *n, char *out, size_t cap)
{
	out[0] = '\0';
	BIO *b = BIO_new(BIO_s_mem());
	if (!b)
		return;
	X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
	char *p;
	long len = BIO_get_mem_data(b, &p);
	if (len > 0) {
		size_t m = (size_t)len < cap - 1 ? (size_t)len : cap - 1;
		memcpy(out, p, m);
		out[m] = '\0';
	}
	BIO_free(b);
}

yz_status pki_ext_add(X509 *x, X509 *issuer, int nid, const char *value, yz_err *e)
{
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return ossl_fail(e, YZ_EINVAL, "bad certificate extension");
	int ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? YZ_OK : ossl_fail(e, YZ_ENOMEM, "cannot add an extension");
}

yz_status pki_ext_printable(X509 *x, const char *oid, const char *value, yz_err *e)
{
	ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
	ASN1_STRING *ps = ASN1_STRING_type_new(V_ASN1_PRINTABLESTRING);
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	yz_status st = YZ_OK;
	unsigned char *der = NULL;
	int len = -1;
	if (!obj || !ps || !os || !ASN1_STRING_set(ps, value, (int)strlen(value)))
		st = ossl_fail(e, YZ_ENOMEM, "cannot build an extension");
	if (st == YZ_OK && (len = i2d_ASN1_PRINTABLESTRING(ps, &der)) <= 0)
		st = ossl_fail(e, YZ_EINVAL, "cannot encode an extension");
	if (st == YZ_OK && !ASN1_OCTET_STRING_set(os, der, len))
		st = ossl_fail(e, YZ_ENOMEM, "out of memory");
	X509_EXTENSION *ext = NULL;
	if (st == YZ_OK && !(ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os)))
		st = ossl_fail(e, YZ_ENOMEM, "cannot build an extension");
	if (st == YZ_OK && !X509_add_ext(x, ext, -1))
		st = ossl_fail(e, YZ_ENOMEM, "cannot add an extension");
	X509_EXTENSION_free(ext);
	OPENSSL_free(der);
	ASN1_OCTET_STRING_free(os);
	ASN1_STRING_free(ps);
	ASN1_OBJECT_free(obj);
	return st;
}

void pki_serial_hex(const ASN1_INTEGER *s, char *out, size_t cap)
{
	out[0] = '\0';
	BIGNUM *bn = ASN1_INTEGER_to_BN(s, NULL);
	char *h = bn ? BN_bn2hex(bn) : NULL;
	if (h)
		snprintf(out, cap, "%s", h);
	OPENSSL_free(h);
	BN_free(bn);
}

bool pki_serial_norm(const char *in, char *out, size_t cap)
{
	size_t n = 0;
	while (*in == '0' && in[1]) /* BN_bn2hex keeps no leading zero nibbles beyond a pair */
		in++;
	for (; *in; in++) {
		char c = *in;
		if (c == ':' || c == ' ')
			continue;
		if (c >= 'a' && c <= 'f')
			c = (char)(c - 'a' + 'A');
		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F')) || n + 1 >= cap)
			return false;
		out[n++] = c;
	}
	out[n] = '\0';
	if (n == 0)
		return false;
	/* BN_bn2hex prints whole bytes: an odd count gets a leading zero */
	if (n % 2 == 1) {
		if (n + 2 > cap)
			return false;
		memmove(out + 1, out, n + 1);
		out[0] = '0';
	}
	return true;
}

int64_t pki_asn1_ms(const ASN1_TIME *t)
{
	struct tm tm;
	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	int64_t days = clock_days_from_civil(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
	return ((days * 24 + tm.tm_hour) * 60 + tm.tm_min) * 60000LL + tm.tm_sec * 1000LL;
}

X509 *pki_x509_parse(const void *p, size_t n)
{
	if (!p || n == 0 || n > PKI_CERT_MAX)
		return NULL;
	X509 *x = NULL;
	if (n > 10 && !memcmp(p, "-----BEGIN", 10)) {
		BIO *b = BIO_new_mem_buf(p, (int)n);
		x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
		BIO_free(b);
	} else {
		const unsigned char *q = p;
		x = d2i_X509(NULL, &q, (long)n);
		if (x && q != (const unsigned char *)p + n) {
			X509_free(x);
			x = NULL;
		}
	}
	ERR_clear_error();
	return x;
}

yz_status pki_set_pubkey(X509 *x, const crypto_key *k, yz_err *e)
{
	unsigned char point[CRYPTO_EC_POINT_LEN];
	if (crypto_key_ec_point(k, point) != YZ_OK)
		return yz_fail(e, YZ_EINVAL, "an SM2 or P-256 public key is needed");
	/* id-ecPublicKey with the named curve, and the point as the key bits:
	 * X509_set_pubkey would encode the key with OpenSSL's encoders and
	 * decode it again, which costs more than the CA's signature */
	int curve = crypto_key_alg(k) == CRYPTO_SM2 ? NID_sm2 : NID_X9_62_prime256v1;
	X509_PUBKEY *pub = X509_get_X509_PUBKEY(x);
	unsigned char *bits = OPENSSL_memdup(point, sizeof point);
	if (!pub || !bits ||
	    !X509_PUBKEY_set0_param(pub, OBJ_nid2obj(NID_X9_62_id_ecPublicKey), V_ASN1_OBJECT,
	                            OBJ_nid2obj(curve), bits, (int)sizeof point)) {
		OPENSSL_free(bits);
		return ossl_fail(e, YZ_ECRYPTO, "cannot set the public key");
	}
	return YZ_OK;
}

yz_status pki_pem(const void *der, size_t n, const char *label, buf *out)
{
	buf b64;
	buf_init(&b64, n * 2 + 16);
	yz_status st = b64_encode(der, n, false, &b64);
	BUF_TRY(st, buf_printf(out, "-----BEGIN %s-----\n", label));
	for (size_t i = 0; st == YZ_OK && i < b64.len; i += 64) {
		BUF_TRY(st, buf_append(out, b64.p + i, b64.len - i < 64 ? b64.len - i : 64));
		BUF_TRY(st, buf_putc(out, '\n'));
	}
	BUF_TRY(st, buf_printf(out, "-----END %s-----\n", label));
	buf_free(&b64);
	return st;
}

yz_status pki_sig_check(const crypto_key *key, const unsigned char *tbs, size_t tbslen,
                        const ASN1_BIT_STRING *sig, yz_err *e)
{
	if (!sig)
		return yz_fail(e, YZ_ECRYPTO, "no signature");
	return crypto_verify(key, tbs, tbslen, ASN1_STRING_get0_data(sig),
	                     (size_t)ASN1_STRING_length(sig), e);
}
