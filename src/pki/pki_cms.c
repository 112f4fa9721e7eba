/*
 * pki_cms.c — SignedData written and read by our own DER code (pki_cms.h).
 */
#include "pki/pki_cms.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

/* ---- hashes ---- */

static const pki_hash hashes[] = {
    {"sm3", PKI_OID_SM3, 32},
    {"sha256", PKI_OID_SHA256, 32},
    {"sha384", PKI_OID_SHA384, 48},
    {"sha512", PKI_OID_SHA512, 64},
};

const pki_hash *pki_hash_by_oid(const pki_tlv *oid)
{
	for (size_t i = 0; i < sizeof hashes / sizeof hashes[0]; i++)
		if (pki_tlv_oid_is(oid, hashes[i].oid))
			return &hashes[i];
	return NULL;
}

const pki_hash *pki_hash_by_name(const char *name)
{
	for (size_t i = 0; name && i < sizeof hashes / sizeof hashes[0]; i++)
		if (!strcmp(hashes[i].name, name))
			return &hashes[i];
	return NULL;
}

bool pki_hash_data(const char *name, const void *p, size_t n, unsigned char *out)
{
	if (!strcmp(name, "sm3")) {
		crypto_sm3(p, n, out);
		return true;
	}
	if (!strcmp(name, "sha256")) {
		crypto_sha256(p, n, out);
		return true;
	}
	const EVP_MD *md = !strcmp(name, "sha384")   ? EVP_sha384()
	                   : !strcmp(name, "sha512") ? EVP_sha512()
	                   : !strcmp(name, "sha1")   ? EVP_sha1()
	                                             : NULL;
	if (!md || EVP_Digest(n ? p : "", n, out, NULL, md, NULL) != 1) {
		ERR_clear_error();
		return false;
	}
	return true;
}

void pki_cms_digest(const crypto_key *key, const void *p, size_t n,
                    unsigned char out[CRYPTO_SM3_LEN])
{
	if (crypto_key_alg(key) == CRYPTO_SM2)
		crypto_sm3(p, n, out);
	else
		crypto_sha256(p, n, out);
}

bool pki_cert_issuer_serial(const void *der, size_t n, pki_tlv *issuer, pki_tlv *serial)
{
	pki_rd r = pki_rd_of(der, n);
	pki_tlv cert, tbs, t;
	if (!pki_rd_get(&r, PKI_DER_SEQ, &cert) || pki_rd_more(&r))
		return false;
	pki_rd c = pki_rd_in(&cert);
	if (!pki_rd_get(&c, PKI_DER_SEQ, &tbs))
		return false;
	pki_rd in = pki_rd_in(&tbs);
	(void)pki_rd_opt(&in, PKI_DER_CTX(0), &t); /* version */
	return pki_rd_get(&in, PKI_DER_INT, serial) && pki_tlv_int_ok(serial) &&
	       pki_rd_get(&in, PKI_DER_SEQ, &t) && pki_rd_get(&in, PKI_DER_SEQ, issuer);
}

/* ---- writing ---- */

static int cmp_der(const void *a, const void *b)
{
	const pki_der *x = *(pki_der *const *)a, *y = *(pki_der *const *)b;
	size_t n = x->b.len < y->b.len ? x->b.len : y->b.len;
	int c = memcmp(x->b.p, y->b.p, n);
	return c ? c : (x->b.len > y->b.len) - (x->b.len < y->b.len);
}

static void attr_open(pki_der *w, const char *oid)
{
	pki_der_begin(w, PKI_DER_SEQ);
	pki_der_oid(w, oid);
	pki_der_begin(w, PKI_DER_SET);
}

static void attr_close(pki_der *w)
{
	pki_der_end(w);
	pki_der_end(w);
}

yz_status pki_cms_sign(const pki_cms_out *p, pki_der *w, yz_err *e)
{
	bool sm2 = crypto_key_alg(p->key) == CRYPTO_SM2;
	const char *md_oid = sm2 ? PKI_OID_SM3 : PKI_OID_SHA256;
	pki_tlv issuer, serial;
	if (!pki_cert_issuer_serial(p->cert, p->cert_len, &issuer, &serial))
		return yz_fail(e, YZ_EINVAL, "the signer's certificate does not parse");
	unsigned char md[CRYPTO_SM3_LEN], cert_hash[CRYPTO_SM3_LEN];
	if (p->content)
		pki_cms_digest(p->key, p->content, p->content_len, md);
	else if (p->digest)
		memcpy(md, p->digest, sizeof md);
	else
		return yz_fail(e, YZ_EINVAL, "neither the content nor its digest");
	pki_cms_digest(p->key, p->cert, p->cert_len, cert_hash);

	/* the signed attributes, each on its own, then in DER SET OF order */
	enum { NATTR = 4 };
	pki_der attr[NATTR], *sorted[NATTR], set;
	int na = 0;
	for (int i = 0; i < NATTR; i++)
		pki_der_init(&attr[i], 4096);
	pki_der_init(&set, 16384);
	attr_open(&attr[na], PKI_OID_CONTENT_TYPE);
	pki_der_oid(&attr[na], p->content_type);
	attr_close(&attr[na++]);
	attr_open(&attr[na], PKI_OID_MESSAGE_DIGEST);
	pki_der_put(&attr[na], PKI_DER_OCTETS, md, sizeof md);
	attr_close(&attr[na++]);
	if (p->signing_time) {
		attr_open(&attr[na], PKI_OID_SIGNING_TIME);
		pki_der_utctime(&attr[na], p->signing_time);
		attr_close(&attr[na++]);
	}
	attr_open(&attr[na], PKI_OID_SIGNING_CERT_V2);
	pki_der_begin(&attr[na], PKI_DER_SEQ); /* SigningCertificateV2 */
	pki_der_begin(&attr[na], PKI_DER_SEQ); /* certs */
	pki_der_begin(&attr[na], PKI_DER_SEQ); /* ESSCertIDv2 */
	if (sm2)                               /* SHA-256, the default, is left out */
		pki_der_algid(&attr[na], PKI_OID_SM3, true);
	pki_der_put(&attr[na], PKI_DER_OCTETS, cert_hash, sizeof cert_hash);
	pki_der_end(&attr[na]);
	pki_der_end(&attr[na]);
	pki_der_end(&attr[na]);
	attr_close(&attr[na++]);
	yz_status st = YZ_OK;
	for (int i = 0; i < na; i++) {
		if (st == YZ_OK)
			st = pki_der_done(&attr[i]);
		sorted[i] = &attr[i];
	}
	qsort(sorted, (size_t)na, sizeof sorted[0], cmp_der);
	pki_der_begin(&set, PKI_DER_SET);
	for (int i = 0; i < na; i++)
		pki_der_raw(&set, sorted[i]->b.p, sorted[i]->b.len);
	pki_der_end(&set);
	if (st == YZ_OK)
		st = pki_der_done(&set);
	buf sig;
	buf_init(&sig, 512);
	pki_der ua;
	pki_der_init(&ua, 256 * 1024);
	if (st != YZ_OK)
		st = yz_fail(e, st, "cannot encode the signed attributes");
	else
		st = crypto_sign(p->key, set.b.p, set.b.len, &sig, e);
	if (st == YZ_OK && p->unsigned_attrs)
		st = p->unsigned_attrs(p->ctx, sig.p, sig.len, &ua, e);
	if (st == YZ_OK && (st = pki_der_done(&ua)) != YZ_OK)
		st = yz_fail(e, st, "cannot encode the unsigned attributes");
	if (st == YZ_OK) {
		bool data = !strcmp(p->content_type, PKI_OID_DATA);
		pki_der_begin(w, PKI_DER_SEQ); /* ContentInfo */
		pki_der_oid(w, PKI_OID_SIGNED_DATA);
		pki_der_begin(w, PKI_DER_CTX(0));
		pki_der_begin(w, PKI_DER_SEQ); /* SignedData */
		pki_der_small(w, data ? 1 : 3);
		pki_der_begin(w, PKI_DER_SET);
		pki_der_algid(w, md_oid, true);
		pki_der_end(w);
		pki_der_begin(w, PKI_DER_SEQ); /* encapContentInfo */
		pki_der_oid(w, p->content_type);
		if (p->content) {
			pki_der_begin(w, PKI_DER_CTX(0));
			pki_der_put(w, PKI_DER_OCTETS, p->content, p->content_len);
			pki_der_end(w);
		}
		pki_der_end(w);
		if (p->with_cert) {
			pki_der_begin(w, PKI_DER_CTX(0));
			pki_der_raw(w, p->cert, p->cert_len);
			pki_der_end(w);
		}
		pki_der_begin(w, PKI_DER_SET); /* signerInfos */
		pki_der_begin(w, PKI_DER_SEQ);
		pki_der_small(w, 1);
		pki_der_begin(w, PKI_DER_SEQ); /* issuerAndSerialNumber */
		pki_der_raw(w, issuer.raw, issuer.rawn);
		pki_der_raw(w, serial.raw, serial.rawn);
		pki_der_end(w);
		pki_der_algid(w, md_oid, true);
		static const unsigned char implicit0 = PKI_DER_CTX(0); /* signedAttrs [0] */
		pki_der_raw(w, &implicit0, 1);
		pki_der_raw(w, set.b.p + 1, set.b.len - 1);
		pki_der_algid(w, sm2 ? PKI_OID_SM2_SM3 : PKI_OID_ECDSA_SHA256, false);
		pki_der_put(w, PKI_DER_OCTETS, sig.p, sig.len);
		if (ua.b.len) {
			pki_der_begin(w, PKI_DER_CTX(1)); /* unsignedAttrs [1] */
			pki_der_raw(w, ua.b.p, ua.b.len);
			pki_der_end(w);
		}
		pki_der_end(w);
		pki_der_end(w);
		pki_der_end(w);
		pki_der_end(w);
		pki_der_end(w);
		if ((st = pki_der_done(w)) != YZ_OK)
			st = yz_fail(e, st, "cannot encode the SignedData");
	}
	pki_der_free(&ua);
	buf_free(&sig);
	pki_der_free(&set);
	for (int i = 0; i < NATTR; i++)
		pki_der_free(&attr[i]);
	return st;
}

/* ---- reading ---- */

const char *pki_cms_parse(const pki_tlv *ci, pki_cms *k)
{
	memset(k, 0, sizeof *k);
	pki_rd r = pki_rd_in(ci);
	pki_tlv t, sd, eci, sis, si;
	if (!pki_rd_get(&r, PKI_DER_OID, &t))
		return "no SignedData";
	if (pki_tlv_oid_is(&t, PKI_OID_GM_SIGNED_DATA))
		k->gm = true;
	else if (!pki_tlv_oid_is(&t, PKI_OID_SIGNED_DATA))
		return "no SignedData";
	if (!pki_rd_get(&r, PKI_DER_CTX(0), &t) || pki_rd_more(&r))
		return "ContentInfo";
	pki_rd in0 = pki_rd_in(&t);
	if (!pki_rd_get(&in0, PKI_DER_SEQ, &sd) || pki_rd_more(&in0))
		return "SignedData";
	pki_rd s = pki_rd_in(&sd);
	if (!pki_rd_get(&s, PKI_DER_INT, &t) || !pki_tlv_small(&t, &k->version) || k->version < 1 ||
	    k->version > 5)
		return "SignedData version";
	if (!pki_rd_get(&s, PKI_DER_SET, &k->digest_algs))
		return "digestAlgorithms";
	pki_rd da = pki_rd_in(&k->digest_algs);
	while (pki_rd_more(&da))
		if (!pki_rd_algid(&da, &t))
			return "digestAlgorithms";
	if (!pki_rd_get(&s, PKI_DER_SEQ, &eci))
		return "encapContentInfo";
	pki_rd ec = pki_rd_in(&eci);
	if (!pki_rd_get(&ec, PKI_DER_OID, &k->content_type))
		return "encapContentInfo: eContentType";
	if (pki_rd_opt(&ec, PKI_DER_CTX(0), &t)) {
		pki_rd oc = pki_rd_in(&t);
		if (!pki_rd_get(&oc, PKI_DER_OCTETS, &k->content) || pki_rd_more(&oc))
			return "eContent";
		k->has_content = true;
	}
	if (pki_rd_more(&ec))
		return "encapContentInfo";
	if (pki_rd_opt(&s, PKI_DER_CTX(0), &t)) {
		pki_rd cs = pki_rd_in(&t);
		while (pki_rd_more(&cs)) {
			if (k->ncerts == PKI_CMS_MAX_CERTS ||
			    !pki_rd_get(&cs, PKI_DER_SEQ, &k->certs[k->ncerts]))
				return "certificates (at most 8)";
			k->ncerts++;
		}
	}
	if (!pki_rd_get(&s, PKI_DER_SET, &sis) || pki_rd_more(&s))
		return "signerInfos (CRLs are not taken)";
	pki_rd sr = pki_rd_in(&sis);
	if (!pki_rd_get(&sr, PKI_DER_SEQ, &si) || pki_rd_more(&sr))
		return "not exactly one SignerInfo";
	pki_rd x = pki_rd_in(&si);
	int64_t v;
	if (!pki_rd_get(&x, PKI_DER_INT, &t) || !pki_tlv_small(&t, &v) || v != 1)
		return "SignerInfo version is not 1 (issuerAndSerialNumber)";
	if (!pki_rd_get(&x, PKI_DER_SEQ, &t))
		return "SignerInfo sid";
	pki_rd ias = pki_rd_in(&t);
	if (!pki_rd_get(&ias, PKI_DER_SEQ, &k->sid_issuer) ||
	    !pki_rd_get(&ias, PKI_DER_INT, &k->sid_serial) || !pki_tlv_int_ok(&k->sid_serial) ||
	    pki_rd_more(&ias))
		return "SignerInfo sid";
	if (!pki_rd_algid(&x, &k->digest_oid))
		return "SignerInfo digestAlgorithm";
	if (!pki_rd_get(&x, PKI_DER_CTX(0), &k->attrs))
		return "no signed attributes";
	if (!pki_rd_algid(&x, &k->sig_oid))
		return "SignerInfo signatureAlgorithm";
	if (!pki_rd_get(&x, PKI_DER_OCTETS, &k->sig))
		return "SignerInfo signature";
	if ((k->has_unsigned = pki_rd_opt(&x, PKI_DER_CTX(1), &k->unsigned_attrs))) {
		pki_tlv a;
		pki_rd ur = pki_rd_in(&k->unsigned_attrs);
		if (!pki_rd_more(&ur))
			return "unsignedAttrs is empty";
		while (pki_rd_more(&ur)) {
			pki_tlv oid, set, one;
			if (!pki_rd_get(&ur, PKI_DER_SEQ, &a))
				return "unsignedAttrs";
			pki_rd ar = pki_rd_in(&a);
			if (!pki_rd_get(&ar, PKI_DER_OID, &oid) ||
			    !pki_rd_get(&ar, PKI_DER_SET, &set) || pki_rd_more(&ar))
				return "unsignedAttrs: an Attribute";
			pki_rd vr = pki_rd_in(&set);
			if (!pki_rd_next(&vr, &one))
				return "unsignedAttrs: an Attribute without a value";
		}
	}
	if (pki_rd_more(&x))
		return "SignerInfo: unexpected fields";
	return NULL;
}

bool pki_cms_is_data(const pki_cms *k)
{
	return pki_tlv_oid_is(&k->content_type, PKI_OID_DATA) ||
	       pki_tlv_oid_is(&k->content_type, PKI_OID_GM_DATA);
}

static bool same_bytes(const void *a, size_t an, const void *b, size_t bn)
{
	return an == bn && !memcmp(a, b, an);
}

int pki_cms_signer_cert(const pki_cms *k)
{
	for (int i = 0; i < k->ncerts; i++) {
		pki_tlv issuer, serial;
		if (pki_cert_issuer_serial(k->certs[i].raw, k->certs[i].rawn, &issuer, &serial) &&
		    same_bytes(issuer.raw, issuer.rawn, k->sid_issuer.raw, k->sid_issuer.rawn) &&
		    same_bytes(serial.raw, serial.rawn, k->sid_serial.raw, k->sid_serial.rawn))
			return i;
	}
	return -1;
}

bool pki_cms_attr(const pki_tlv *attrs, const char *oid, pki_tlv *value, int *count)
{
	pki_rd r = pki_rd_in(attrs);
	pki_tlv a, t, set;
	*count = 0;
	bool ok = true;
	while (pki_rd_next(&r, &a)) {
		pki_rd in = pki_rd_in(&a);
		if (a.tag != PKI_DER_SEQ || !pki_rd_get(&in, PKI_DER_OID, &t) ||
		    !pki_rd_get(&in, PKI_DER_SET, &set) || pki_rd_more(&in))
			return false;
		if (!pki_tlv_oid_is(&t, oid))
			continue;
		pki_rd vs = pki_rd_in(&set);
		if (!pki_rd_next(&vs, value) || pki_rd_more(&vs))
			ok = false;
		(*count)++;
	}
	return ok && !pki_rd_more(&r) && *count == 1;
}

/* The first certHash of a SigningCertificate(V2) value, and its algorithm. */
static bool ess_first(const pki_tlv *value, bool v2, const char **alg, pki_tlv *hash)
{
	pki_rd r = pki_rd_in(value);
	pki_tlv certs, id, oid;
	if (!pki_rd_get(&r, PKI_DER_SEQ, &certs))
		return false;
	pki_rd c = pki_rd_in(&certs);
	if (!pki_rd_get(&c, PKI_DER_SEQ, &id))
		return false;
	pki_rd in = pki_rd_in(&id);
	*alg = v2 ? "sha256" : "sha1";
	if (v2 && in.p < in.end && *in.p == PKI_DER_SEQ) {
		const pki_hash *h;
		if (!pki_rd_algid(&in, &oid) || !(h = pki_hash_by_oid(&oid)))
			return false;
		*alg = h->name;
	}
	return pki_rd_get(&in, PKI_DER_OCTETS, hash);
}

static yz_status fail_as(pki_cms_fail *failed, pki_cms_fail why, yz_err *e, const char *fmt,
                         const char *what, const char *extra)
{
	if (failed)
		*failed = why;
	return yz_fail(e, YZ_ECRYPTO, fmt, what, extra);
}

yz_status pki_cms_check(const pki_cms *k, const crypto_key *key, const void *cert, size_t cert_len,
                        const unsigned char *digest, bool ess_required, const char *what,
                        pki_cms_fail *failed, yz_err *e)
{
	if (failed)
		*failed = PKI_CMS_PASSED;
	bool sm2 = crypto_key_alg(key) == CRYPTO_SM2;
	const char *md_oid = sm2 ? PKI_OID_SM3 : PKI_OID_SHA256;
	if (crypto_key_alg(key) == CRYPTO_ED25519)
		return fail_as(failed, PKI_CMS_FAIL_ALG, e, "%s: the signer's key is %s", what,
		               "neither SM2 nor ECDSA P-256");
	if (!pki_tlv_oid_is(&k->digest_oid, md_oid))
		return fail_as(failed, PKI_CMS_FAIL_ALG, e, "%s: the digest algorithm is not %s",
		               what, sm2 ? "SM3 (the only digest of SM2)" : "SHA-256");
	bool listed = false;
	pki_rd da = pki_rd_in(&k->digest_algs);
	pki_tlv oid;
	while (pki_rd_algid(&da, &oid))
		listed = listed || pki_tlv_oid_is(&oid, md_oid);
	if (!listed)
		return fail_as(failed, PKI_CMS_FAIL_ALG, e, "%s: %s", what,
		               "the signer's digest algorithm is not in digestAlgorithms");
	if (!(sm2 ? pki_tlv_oid_is(&k->sig_oid, PKI_OID_SM2_SM3) ||
	                pki_tlv_oid_is(&k->sig_oid, PKI_OID_SM2_SIGN)
	          : pki_tlv_oid_is(&k->sig_oid, PKI_OID_ECDSA_SHA256) ||
	                pki_tlv_oid_is(&k->sig_oid, PKI_OID_EC_PUBLIC_KEY)))
		return fail_as(failed, PKI_CMS_FAIL_ALG, e,
		               "%s: the signature algorithm is not the key's (%s)", what,
		               sm2 ? "SM2 with SM3" : "ECDSA with SHA-256");
	/* the signature, over the signed attributes as a SET (RFC 5652 §5.4) */
	buf set;
	buf_init(&set, k->attrs.rawn + 8);
	static const unsigned char set_tag = PKI_DER_SET;
	yz_status st = YZ_OK;
	if (buf_append(&set, &set_tag, 1) != YZ_OK ||
	    buf_append(&set, k->attrs.raw + 1, k->attrs.rawn - 1) != YZ_OK)
		st = fail_as(failed, PKI_CMS_FAIL_SIGNATURE, e, "%s: %s", what,
		             "signed attributes too large");
	if (st == YZ_OK && crypto_verify(key, set.p, set.len, k->sig.v, k->sig.n, NULL) != YZ_OK)
		st =
		    fail_as(failed, PKI_CMS_FAIL_SIGNATURE, e,
		            "%s: the signature does not verify with the signer certificate's key%s",
		            what, sm2 ? " (SM2, ID 1234567812345678)" : "");
	buf_free(&set);
	if (st != YZ_OK)
		return st;
	/* the signed attributes bind the content and the certificate */
	pki_tlv value, hash;
	int count = 0;
	if (!pki_cms_attr(&k->attrs, PKI_OID_CONTENT_TYPE, &value, &count) ||
	    !same_bytes(value.raw, value.rawn, k->content_type.raw, k->content_type.rawn))
		return fail_as(failed, PKI_CMS_FAIL_CONTENT_TYPE, e, "%s: %s", what,
		               "the contentType attribute is not the content's type");
	if (!pki_cms_attr(&k->attrs, PKI_OID_MESSAGE_DIGEST, &value, &count) ||
	    value.tag != PKI_DER_OCTETS)
		return fail_as(failed, PKI_CMS_FAIL_DIGEST, e, "%s: %s", what,
		               "no single messageDigest attribute");
	if (!same_bytes(digest, CRYPTO_SM3_LEN, value.v, value.n))
		return fail_as(
		    failed, PKI_CMS_FAIL_DIGEST, e,
		    "%s: the messageDigest attribute does not match the content's %s hash", what,
		    sm2 ? "SM3" : "SHA-256");
	bool v2 = pki_cms_attr(&k->attrs, PKI_OID_SIGNING_CERT_V2, &value, &count);
	int v2_count = count;
	bool v1 =
	    !v2 && v2_count == 0 && pki_cms_attr(&k->attrs, PKI_OID_SIGNING_CERT, &value, &count);
	if (!v1 && !v2) {
		if (!ess_required && v2_count == 0 && count == 0)
			return YZ_OK;
		return fail_as(failed, PKI_CMS_FAIL_ESS, e, "%s: %s", what,
		               "no single signing-certificate attribute (RFC 5816 ESSCertIDv2)");
	}
	const char *alg = NULL;
	if (!ess_first(&value, v2, &alg, &hash))
		return fail_as(failed, PKI_CMS_FAIL_ESS, e, "%s: %s", what,
		               "the signing-certificate attribute does not parse");
	const pki_hash *ha = pki_hash_by_name(alg);
	size_t hl = ha ? ha->len : 20;
	unsigned char h[64];
	if (!pki_hash_data(alg, cert, cert_len, h) || !same_bytes(h, hl, hash.v, hash.n))
		return fail_as(failed, PKI_CMS_FAIL_ESS, e, "%s: %s", what,
		               "the signing-certificate attribute names another certificate");
	return YZ_OK;
}
