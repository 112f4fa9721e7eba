/*
 * pki_ocsp.c — the OCSP responder (RFC 6960, with the RFC 5019 profile's
 * pre-signed answers) and our own verifiers for CRLs, OCSP responses and
 * certificates, which check SM2 signatures with the standard ID where
 * OpenSSL 3.0 cannot (DESIGN §7).
 *
 * The CA signs its own answers (no delegated responder), responder id by
 * key hash, no certificates in the answer. An answer for one certificate is
 * kept in a table of this process (by CA, serial and the request's hash
 * algorithm) and reused until the certificate changes (pki_ocsp_forget) or
 * a quarter of its validity has passed. Nonces are not echoed: a pre-signed
 * answer cannot carry one (RFC 5019 §2.1).
 */
#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "pki/pki_int.h"

#define CACHE_BUCKETS 8192
#define MAX_SINGLE    16

typedef struct answer {
	int64_t ca_id;
	char serial[PKI_SERIAL_HEX + 8];
	int64_t produced;
	unsigned char *der;
	int len;
} answer;

static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static answer *cache; /* CACHE_BUCKETS × 3 (one per hash algorithm) */

static unsigned bucket(int64_t ca_id, const char *serial)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)ca_id;
	for (const char *p = serial; *p; p++) {
		h ^= (unsigned char)*p;
		h *= 1099511628211ULL;
	}
	return (unsigned)(h % CACHE_BUCKETS);
}

void pki_ocsp_forget(int64_t ca_id, const char *serial)
{
	pthread_mutex_lock(&cache_mu);
	if (cache) {
		answer *a = &cache[bucket(ca_id, serial) * 3];
		for (int i = 0; i < 3; i++)
			if (a[i].der && a[i].ca_id == ca_id && !strcmp(a[i].serial, serial)) {
				free(a[i].der);
				a[i].der = NULL;
			}
	}
	pthread_mutex_unlock(&cache_mu);
}

void pki_ocsp_clear(void)
{
	pthread_mutex_lock(&cache_mu);
	if (cache)
		for (int i = 0; i < CACHE_BUCKETS * 3; i++)
			free(cache[i].der);
	free(cache);
	cache = NULL;
	pthread_mutex_unlock(&cache_mu);
}

static bool cache_get(int64_t ca_id, const char *serial, int md, int64_t now, buf *out)
{
	bool hit = false;
	pthread_mutex_lock(&cache_mu);
	if (cache) {
		answer *a = &cache[bucket(ca_id, serial) * 3 + md];
		hit = a->der && a->ca_id == ca_id && !strcmp(a->serial, serial) &&
		      now - a->produced < PKI_OCSP_PERIOD / 4 && now >= a->produced &&
		      buf_append(out, a->der, (size_t)a->len) == YZ_OK;
	}
	pthread_mutex_unlock(&cache_mu);
	return hit;
}

static void cache_put(int64_t ca_id, const char *serial, int md, int64_t now,
                      const unsigned char *der, int len)
{
	unsigned char *copy = malloc((size_t)len);
	if (!copy)
		return;
	memcpy(copy, der, (size_t)len);
	pthread_mutex_lock(&cache_mu);
	if (!cache)
		cache = calloc(CACHE_BUCKETS * 3, sizeof *cache);
	if (cache) {
		answer *a = &cache[bucket(ca_id, serial) * 3 + md];
		free(a->der);
		a->ca_id = ca_id;
		yz_strlcpy(a->serial, serial, sizeof a->serial);
		a->produced = now;
		a->der = copy;
		a->len = len;
		copy = NULL;
	}
	pthread_mutex_unlock(&cache_mu);
	free(copy);
}

static yz_status respond_status(int status, buf *out)
{
	OCSP_RESPONSE *r = OCSP_response_create(status, NULL);
	unsigned char *der = NULL;
	int len = r ? i2d_OCSP_RESPONSE(r, &der) : -1;
	yz_status st = len > 0 ? buf_append(out, der, (size_t)len) : YZ_ENOMEM;
	OPENSSL_free(der);
	OCSP_RESPONSE_free(r);
	return st;
}

/* The CA a CertID names, and which of our three hash algorithms it used. */
static pki_ca_rt *issuer_of(OCSP_CERTID *id, int *md)
{
	for (int i = 0; i < pki_ca_count(); i++) {
		pki_ca_rt *ca = pki_ca_at(i);
		for (int k = 0; k < 3; k++)
			if (OCSP_id_issuer_cmp(id, ca->ids[k]) == 0) {
				*md = k;
				return ca;
			}
	}
	return NULL;
}

typedef struct cert_state {
	int status; /* V_OCSP_CERTSTATUS_* */
	int reason;
	int64_t revoked_at;
} cert_state;

static yz_status lookup(store *s, pki_ca_rt *ca, const char *serial, cert_state *cs, yz_err *e)
{
	store_conn *c;
	yz_status st = store_reader(s, &c, e);
	if (st != YZ_OK)
		return st;
	store_val v[] = {sv_int(ca->id), sv_text(serial)};
	store_rows *r;
	st =
	    store_query(c,
	                "SELECT status, COALESCE(revoked_at, 0), COALESCE(reason, 0) FROM pki_cert "
	                "WHERE ca_id = ? AND serial = ?",
	                v, 2, &r, e);
	if (st != YZ_OK)
		return st;
	*cs = (cert_state){V_OCSP_CERTSTATUS_UNKNOWN, 0, 0};
	if (store_next(r)) {
		const char *status = store_col_text(r, 0);
		if (!strcmp(status, "valid")) {
			cs->status = V_OCSP_CERTSTATUS_GOOD;
		} else {
			cs->status = V_OCSP_CERTSTATUS_REVOKED;
			cs->revoked_at = store_col_int(r, 1);
			cs->reason = (int)store_col_int(r, 2);
		}
	}
	return store_rows_close(r, e);
}

yz_status pki_ocsp_answer(store *s, const void *req, size_t n, buf *out, yz_err *e)
{
	const unsigned char *p = req;
	OCSP_REQUEST *rq = n && n < 65536 ? d2i_OCSP_REQUEST(NULL, &p, (long)n) : NULL;
	int count = rq ? OCSP_request_onereq_count(rq) : 0;
	if (!rq || p != (const unsigned char *)req + n || count < 1 || count > MAX_SINGLE) {
		OCSP_REQUEST_free(rq);
		ERR_clear_error();
		return respond_status(OCSP_RESPONSE_STATUS_MALFORMEDREQUEST, out);
	}
	int64_t now = clock_now_ms();
	pki_ca_rt *ca = NULL;
	int md = 0;
	char serials[MAX_SINGLE][PKI_SERIAL_HEX + 8];
	for (int i = 0; i < count; i++) {
		OCSP_CERTID *id = OCSP_onereq_get0_id(OCSP_request_onereq_get0(rq, i));
		ASN1_INTEGER *sn = NULL;
		OCSP_id_get0_info(NULL, NULL, NULL, &sn, id);
		int m = 0;
		pki_ca_rt *c = issuer_of(id, &m);
		if (!c || (ca && c != ca)) {
			OCSP_REQUEST_free(rq);
			return respond_status(OCSP_RESPONSE_STATUS_UNAUTHORIZED, out);
		}
		ca = c;
		md = m;
		pki_serial_hex(sn, serials[i], sizeof serials[i]);
	}
	if (count == 1 && cache_get(ca->id, serials[0], md, now, out)) {
		OCSP_REQUEST_free(rq);
		return YZ_OK;
	}
	yz_status st = YZ_OK;
	OCSP_BASICRESP *bs = OCSP_BASICRESP_new();
	ASN1_TIME *tu = ASN1_TIME_set(NULL, (time_t)(now / 1000));
	ASN1_TIME *nu = ASN1_TIME_set(NULL, (time_t)((now + PKI_OCSP_PERIOD) / 1000));
	if (!bs || !tu || !nu)
		st = yz_fail(e, YZ_ENOMEM, "out of memory");
	for (int i = 0; st == YZ_OK && i < count; i++) {
		OCSP_CERTID *id = OCSP_onereq_get0_id(OCSP_request_onereq_get0(rq, i));
		cert_state cs;
		st = lookup(s, ca, serials[i], &cs, e);
		if (st != YZ_OK)
			break;
		ASN1_TIME *rt = cs.status == V_OCSP_CERTSTATUS_REVOKED
		                    ? ASN1_TIME_set(NULL, (time_t)(cs.revoked_at / 1000))
		                    : NULL;
		if (!OCSP_basic_add1_status(bs, id, cs.status,
		                            cs.status == V_OCSP_CERTSTATUS_REVOKED ? cs.reason : -1,
		                            rt, tu, nu))
			st = yz_fail(e, YZ_ECRYPTO, "cannot add a status to the OCSP answer");
		ASN1_TIME_free(rt);
	}
	void *ctx = NULL;
	if (st == YZ_OK)
		st = crypto_x509_ctx(ca->key, true, &ctx, e);
	if (st == YZ_OK &&
	    OCSP_basic_sign_ctx(bs, ca->cert, ctx, NULL, OCSP_NOCERTS | OCSP_RESPID_KEY) <= 0) {
		ERR_clear_error();
		st = yz_fail(e, YZ_ECRYPTO, "cannot sign the OCSP answer");
	}
	crypto_x509_ctx_free(ctx);
	OCSP_RESPONSE *resp = NULL;
	unsigned char *der = NULL;
	int len = -1;
	if (st == YZ_OK && (!(resp = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs)) ||
	                    (len = i2d_OCSP_RESPONSE(resp, &der)) <= 0))
		st = yz_fail(e, YZ_ECRYPTO, "cannot encode the OCSP answer");
	if (st == YZ_OK)
		st = buf_append(out, der, (size_t)len) == YZ_OK
		         ? YZ_OK
		         : yz_fail(e, YZ_ETOOBIG, "OCSP answer too large");
	if (st == YZ_OK && count == 1)
		cache_put(ca->id, serials[0], md, now, der, len);
	OPENSSL_free(der);
	OCSP_RESPONSE_free(resp);
	OCSP_BASICRESP_free(bs);
	ASN1_TIME_free(tu);
	ASN1_TIME_free(nu);
	OCSP_REQUEST_free(rq);
	if (st != YZ_OK) {
		buf_reset(out);
		(void)respond_status(OCSP_RESPONSE_STATUS_INTERNALERROR, out);
	}
	return st;
}

/* ---- our own verifiers ---- */

static yz_status issuer_key(const void *ca_cert, size_t cn, X509 **ca, crypto_key **key, yz_err *e)
{
	*ca = pki_x509_parse(ca_cert, cn);
	if (!*ca)
		return yz_fail(e, YZ_EINVAL, "the issuer's certificate does not parse");
	yz_status st = crypto_key_from_evp(X509_get0_pubkey(*ca), key, e);
	if (st != YZ_OK) {
		X509_free(*ca);
		*ca = NULL;
	}
	return st;
}

/* The signature algorithm must be the one the key makes. */
static bool alg_matches(const crypto_key *k, const X509_ALGOR *alg)
{
	const ASN1_OBJECT *oid = NULL;
	X509_ALGOR_get0(&oid, NULL, NULL, alg);
	int nid = OBJ_obj2nid(oid);
	return crypto_key_alg(k) == CRYPTO_SM2 ? nid == NID_SM2_with_SM3
	                                       : nid == NID_ecdsa_with_SHA256;
}

yz_status pki_verify_crl(const void *crl_der, size_t n, const void *ca_cert, size_t cn, yz_err *e)
{
	const unsigned char *p = crl_der;
	X509_CRL *crl = n ? d2i_X509_CRL(NULL, &p, (long)n) : NULL;
	if (!crl) {
		ERR_clear_error();
		return yz_fail(e, YZ_EINVAL, "not a DER CRL");
	}
	X509 *ca;
	crypto_key *key;
	yz_status st = issuer_key(ca_cert, cn, &ca, &key, e);
	if (st != YZ_OK) {
		X509_CRL_free(crl);
		return st;
	}
	const ASN1_BIT_STRING *sig;
	const X509_ALGOR *alg;
	X509_CRL_get0_signature(crl, &sig, &alg);
	unsigned char *tbs = NULL;
	int tl = i2d_re_X509_CRL_tbs(crl, &tbs);
	if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(ca)) != 0)
		st = yz_fail(e, YZ_ECRYPTO, "the CRL's issuer is not this CA");
	else if (!alg_matches(key, alg))
		st = yz_fail(e, YZ_ECRYPTO, "the CRL's signature algorithm is not the CA key's");
	else if (tl <= 0 || pki_sig_check(key, tbs, (size_t)tl, sig, e) != YZ_OK)
		st = yz_fail(
		    e, YZ_ECRYPTO, "the CRL's signature does not verify with the CA's key%s",
		    crypto_key_alg(key) == CRYPTO_SM2 ? " (SM2, ID 1234567812345678)" : "");
	OPENSSL_free(tbs);
	crypto_key_free(key);
	X509_free(ca);
	X509_CRL_free(crl);
	return st;
}

static const char *status_name(int s)
{
	return s == V_OCSP_CERTSTATUS_GOOD      ? "good"
	       : s == V_OCSP_CERTSTATUS_REVOKED ? "revoked"
	                                        : "unknown";
}

yz_status pki_verify_ocsp(const void *resp_der, size_t n, const void *ca_cert, size_t cn,
                          json_t **status, yz_err *e)
{
	const unsigned char *p = resp_der;
	OCSP_RESPONSE *resp = n ? d2i_OCSP_RESPONSE(NULL, &p, (long)n) : NULL;
	if (!resp) {
		ERR_clear_error();
		return yz_fail(e, YZ_EINVAL, "not a DER OCSP response");
	}
	int rs = OCSP_response_status(resp);
	if (rs != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
		OCSP_RESPONSE_free(resp);
		return yz_fail(e, YZ_EREFUSED, "the responder answered %s",
		               OCSP_response_status_str(rs));
	}
	OCSP_BASICRESP *bs = OCSP_response_get1_basic(resp);
	X509 *ca = NULL;
	crypto_key *key = NULL;
	yz_status st = bs ? issuer_key(ca_cert, cn, &ca, &key, e)
	                  : yz_fail(e, YZ_EINVAL, "not a basic OCSP response");
	unsigned char *tbs = NULL;
	int tl = -1;
	if (st == YZ_OK) {
		tl = i2d_OCSP_RESPDATA(OCSP_resp_get0_respdata(bs), &tbs);
		if (!alg_matches(key, OCSP_resp_get0_tbs_sigalg(bs)))
			st = yz_fail(e, YZ_ECRYPTO,
			             "the answer's signature algorithm is not the CA key's");
		else if (tl <= 0 || pki_sig_check(key, tbs, (size_t)tl,
		                                  OCSP_resp_get0_signature(bs), e) != YZ_OK)
			st = yz_fail(
			    e, YZ_ECRYPTO,
			    "the answer's signature does not verify with the CA's key%s",
			    crypto_key_alg(key) == CRYPTO_SM2 ? " (SM2, ID 1234567812345678)" : "");
	}
	if (st == YZ_OK && status) {
		json_t *a = json_array();
		for (int i = 0; i < OCSP_resp_count(bs); i++) {
			OCSP_SINGLERESP *sr = OCSP_resp_get0(bs, i);
			int reason = -1;
			ASN1_GENERALIZEDTIME *rev = NULL, *tu = NULL, *nu = NULL;
			int s = OCSP_single_get0_status(sr, &reason, &rev, &tu, &nu);
			ASN1_INTEGER *sn = NULL;
			OCSP_id_get0_info(NULL, NULL, NULL, &sn,
			                  (OCSP_CERTID *)OCSP_SINGLERESP_get0_id(sr));
			char serial[80];
			pki_serial_hex(sn, serial, sizeof serial);
			json_t *o =
			    json_pack("{s:s, s:s}", "serial", serial, "status", status_name(s));
			if (s == V_OCSP_CERTSTATUS_REVOKED)
				json_object_set_new(
				    o, "reason",
				    json_string(pki_reason_name(reason < 0 ? 0 : reason)));
			json_object_set_new(o, "this_update", json_integer(pki_asn1_ms(tu)));
			json_object_set_new(o, "next_update", json_integer(pki_asn1_ms(nu)));
			json_array_append_new(a, o);
		}
		*status = a;
	}
	OPENSSL_free(tbs);
	crypto_key_free(key);
	X509_free(ca);
	OCSP_BASICRESP_free(bs);
	OCSP_RESPONSE_free(resp);
	return st;
}

yz_status pki_verify_cert(const void *cert, size_t n, const void *issuer, size_t in, yz_err *e)
{
	X509 *x = pki_x509_parse(cert, n);
	if (!x)
		return yz_fail(e, YZ_EINVAL, "the certificate does not parse");
	X509 *ca;
	crypto_key *key;
	yz_status st = issuer_key(issuer, in, &ca, &key, e);
	if (st != YZ_OK) {
		X509_free(x);
		return st;
	}
	const ASN1_BIT_STRING *sig;
	const X509_ALGOR *alg;
	X509_get0_signature(&sig, &alg, x);
	unsigned char *tbs = NULL;
	int tl = i2d_re_X509_tbs(x, &tbs);
	int64_t now = clock_now_ms();
	if (X509_NAME_cmp(X509_get_issuer_name(x), X509_get_subject_name(ca)) != 0)
		st = yz_fail(e, YZ_ECRYPTO, "the certificate was not issued by this CA");
	else if (!alg_matches(key, alg))
		st = yz_fail(e, YZ_ECRYPTO, "the signature algorithm is not the CA key's");
	else if (tl <= 0 || pki_sig_check(key, tbs, (size_t)tl, sig, e) != YZ_OK)
		st = yz_fail(e, YZ_ECRYPTO, "the certificate's signature does not verify");
	else if (now < pki_asn1_ms(X509_get0_notBefore(x)))
		st = yz_fail(e, YZ_EREFUSED, "the certificate is not valid yet");
	else if (now > pki_asn1_ms(X509_get0_notAfter(x)))
		st = yz_fail(e, YZ_EREFUSED, "the certificate has expired");
	OPENSSL_free(tbs);
	crypto_key_free(key);
	X509_free(ca);
	X509_free(x);
	return st;
}
