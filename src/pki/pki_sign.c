/*
 * pki_sign.c — the platform-held signing keys (pki_signer), time-stamps of
 * our TSA over signature values, detached signatures of files (CMS
 * SignedData through pki_cms.c, SM2 and ECDSA alike) and their verifier,
 * and the verifier's view of a certificate (issued by one of our CAs, valid
 * at the signing time, its status then). pki_sign.h says who may do what.
 *
 * A detached signature: ContentInfo {id-signedData, SignedData {version 1,
 * {SM3 | SHA-256}, encapContentInfo {id-data} without the content, the
 * signer's certificate, one SignerInfo with signed attributes contentType
 * (id-data), messageDigest (the document's SM3 or SHA-256 hash),
 * signingTime (UTCTime) and signingCertificateV2, the signature (SM2 with
 * SM3 and the ID 1234567812345678, or ECDSA P-256 with SHA-256), and the
 * unsigned attribute id-aa-timeStampToken with our TSA's token over the
 * signature value}}. The ECDSA ones are what `openssl cms -verify -binary
 * -content FILE -inform DER -CAfile chain.pem` accepts.
 *
 * The verifier takes our signatures and any CMS of the same shape: RFC 5652
 * or GM/T 0010 OIDs, the signer's certificate inside (one of our CAs must
 * have issued it for the signature to be valid), signingTime as UTCTime or
 * GeneralizedTime, a time-stamp token when there is one. The time the
 * checks use is the token's genTime when it verifies, else the claimed
 * signingTime, else now.
 */
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "core/b64.h"
#include "core/clock.h"
#include "core/idcodes.h"
#include "core/jx.h"
#include "iam/iam.h"
#include "pki/pki_signer.h"

#define KEY_PEM_MAX (16 * 1024)

/* ---- small helpers ---- */

void pki_sign_time(json_t *o, const char *key, int64_t ms)
{
	char t[40];
	clock_format_city(ms, t, sizeof t);
	jx_set_str(o, key, t);
}

void pki_sign_hex(json_t *o, const char *key, const void *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	char *h = malloc(2 * n + 1);
	if (!h)
		return;
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++) {
		h[2 * i] = digits[b[i] >> 4];
		h[2 * i + 1] = digits[b[i] & 15];
	}
	h[2 * n] = '\0';
	jx_set_str(o, key, h);
	free(h);
}

static void kek_aad(const char *ca, const char *serial, char *out, size_t cap)
{
	snprintf(out, cap, "yizhan-pki-signer:%s:%s", ca, serial);
}

/* The UTF-8 value of a name's attribute, "" when absent. */
static void name_entry(const X509_NAME *n, int nid, char *out, size_t cap)
{
	out[0] = '\0';
	int at = X509_NAME_get_index_by_NID(n, nid, -1);
	if (at < 0)
		return;
	unsigned char *u = NULL;
	int ul = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, at)));
	if (ul > 0 && (size_t)ul < cap) {
		memcpy(out, u, (size_t)ul);
		out[ul] = '\0';
	}
	OPENSSL_free(u);
	ERR_clear_error();
}

/* ---- signers ---- */

void pki_signer_init(pki_signer_rt *sr)
{
	memset(sr, 0, sizeof *sr);
	buf_init(&sr->cert, PKI_CERT_MAX);
}

void pki_signer_close(pki_signer_rt *sr)
{
	crypto_key_free(sr->key);
	sr->key = NULL;
	buf_free(&sr->cert);
}

const pki_ca_rt *pki_signer_ca(crypto_alg alg)
{
	const pki_ca_rt *root = NULL;
	for (int i = 0; i < pki_ca_count(); i++) {
		const pki_ca_rt *c = pki_ca_at(i);
		if (!c || c->alg != alg)
			continue;
		if (c->parent[0])
			return c;
		if (!root)
			root = c;
	}
	return root;
}

yz_status pki_signer_open(store_conn *c, const char *data_dir, int64_t id, pki_signer_rt *sr,
                          yz_err *e)
{
	store_val v[] = {sv_int(id)};
	store_rows *r;
	yz_status st =
	    store_query(c,
	                "SELECT kind, name, COALESCE(org_id, 0), org_path, ca_id, serial, "
	                "subject, cert, key_sealed FROM pki_signer WHERE id = ?",
	                v, 1, &r, e);
	if (st != YZ_OK)
		return st;
	if (!store_next(r)) {
		store_rows_discard(r);
		return yz_fail(e, YZ_ENOTFOUND, "no signer %lld", (long long)id);
	}
	sr->id = id;
	yz_strlcpy(sr->kind, store_col_text(r, 0), sizeof sr->kind);
	yz_strlcpy(sr->name, store_col_text(r, 1), sizeof sr->name);
	sr->org_id = store_col_int(r, 2);
	yz_strlcpy(sr->org_path, store_col_text(r, 3), sizeof sr->org_path);
	sr->ca = pki_ca_by_id(store_col_int(r, 4));
	yz_strlcpy(sr->serial, store_col_text(r, 5), sizeof sr->serial);
	yz_strlcpy(sr->subject, store_col_text(r, 6), sizeof sr->subject);
	size_t cn = 0, kn = 0;
	const void *cert = store_col_blob(r, 7, &cn);
	const void *sealed = store_col_blob(r, 8, &kn);
	if (!sr->ca)
		st = yz_fail(e, YZ_EBUSY, "the CA of signer %lld is not loaded", (long long)id);
	if (st == YZ_OK && buf_append(&sr->cert, cert, cn) != YZ_OK)
		st = yz_fail(e, YZ_EDB, "signer %lld: certificate too large", (long long)id);
	unsigned char kek[CRYPTO_SEAL_KEY_LEN];
	buf pem;
	buf_init(&pem, KEY_PEM_MAX);
	if (st == YZ_OK)
		st = pki_kek(data_dir, false, kek, e);
	if (st == YZ_OK) {
		char aad[128];
		kek_aad(sr->ca->name, sr->serial, aad, sizeof aad);
		if (crypto_open(kek, aad, strlen(aad), sealed, kn, &pem) != YZ_OK)
			st = yz_fail(
			    e, YZ_ECRYPTO,
			    "signer %lld: its key does not open with this key-encryption key",
			    (long long)id);
	}
	if (st == YZ_OK)
		st = crypto_key_from_pem(pem.p, pem.len, NULL, &sr->key, e);
	if (pem.p)
		memset(pem.p, 0, pem.len);
	buf_free(&pem);
	memset(kek, 0, sizeof kek);
	yz_status cst = store_rows_close(r, st == YZ_OK ? e : NULL);
	if (st == YZ_OK)
		st = cst;
	if (st != YZ_OK)
		pki_signer_close(sr);
	return st;
}

yz_status pki_signer_cert_ok(store_conn *c, const pki_signer_rt *sr, yz_err *e)
{
	store_val k[] = {sv_int(sr->ca->id), sv_text(sr->serial)};
	store_rows *r;
	yz_status st = store_query(c,
	                           "SELECT status, not_after, COALESCE(reason, 0) FROM pki_cert "
	                           "WHERE ca_id = ? AND serial = ?",
	                           k, 2, &r, e);
	if (st != YZ_OK)
		return st;
	char status[16] = "";
	int64_t not_after = 0, reason = 0;
	if (store_next(r)) {
		yz_strlcpy(status, store_col_text(r, 0), sizeof status);
		not_after = store_col_int(r, 1);
		reason = store_col_int(r, 2);
	}
	if ((st = store_rows_close(r, e)) != YZ_OK)
		return st;
	if (!status[0])
		return yz_fail(e, YZ_EDB, "the signing certificate %s is not on the register",
		               sr->serial);
	if (strcmp(status, "valid"))
		return yz_fail(e, YZ_ECONFLICT, "the signing certificate is %s (%s)", status,
		               pki_reason_name((int)reason));
	if (not_after < clock_now_ms())
		return yz_fail(e, YZ_ECONFLICT, "the signing certificate has expired");
	return YZ_OK;
}

yz_status pki_signer_make(store *s, const char *data_dir, const yz_actor *who, const pki_ca_rt *ca,
                          const char *kind, const char *profile, json_t *subject, pki_signer_rt *sr,
                          buf *sealed, yz_err *e)
{
	unsigned char kek[CRYPTO_SEAL_KEY_LEN];
	yz_status st = pki_kek(data_dir, false, kek, e);
	if (st != YZ_OK)
		return st;
	sr->ca = ca;
	yz_strlcpy(sr->kind, kind, sizeof sr->kind);
	buf pub, pem;
	buf_init(&pub, KEY_PEM_MAX);
	buf_init(&pem, KEY_PEM_MAX);
	json_t *in = NULL, *rec = NULL;
	X509 *x = NULL;
	st = crypto_key_generate(ca->alg, &sr->key, e);
	if (st == YZ_OK)
		st = crypto_key_to_pem(sr->key, false, NULL, &pub, e);
	if (st == YZ_OK) {
		in = json_deep_copy(subject);
		jx_set_str(in, "ca", ca->name);
		jx_set_str(in, "profile", profile);
		jx_set_str(in, "public_key", pub.p);
		st = pki_issue(s, who, in, &rec, e);
	}
	bool issued = st == YZ_OK;
	if (st == YZ_OK) {
		yz_strlcpy(sr->serial, jx_str(rec, "serial", ""), sizeof sr->serial);
		yz_strlcpy(sr->subject, jx_str(rec, "subject", ""), sizeof sr->subject);
		const char *cpem = jx_str(rec, "pem", "");
		unsigned char *der = NULL;
		int dl = (x = pki_x509_parse(cpem, strlen(cpem))) ? i2d_X509(x, &der) : -1;
		if (dl <= 0 || buf_append(&sr->cert, der, (size_t)dl) != YZ_OK)
			st = yz_fail(e, YZ_ECRYPTO, "cannot read the new certificate");
		OPENSSL_free(der);
		ERR_clear_error();
	}
	if (st == YZ_OK) {
		char aad[128];
		kek_aad(ca->name, sr->serial, aad, sizeof aad);
		st = crypto_key_to_pem(sr->key, true, NULL, &pem, e);
		if (st == YZ_OK &&
		    crypto_seal(kek, aad, strlen(aad), pem.p, pem.len, sealed) != YZ_OK)
			st = yz_fail(e, YZ_ECRYPTO, "cannot seal the signing key");
	}
	if (st != YZ_OK && issued)
		pki_signer_abandon(s, who, sr);
	X509_free(x);
	json_decref(in);
	json_decref(rec);
	if (pem.p)
		memset(pem.p, 0, pem.len);
	buf_free(&pub);
	buf_free(&pem);
	memset(kek, 0, sizeof kek);
	return st;
}

yz_status pki_signer_insert(store_conn *tx, const yz_actor *who, pki_signer_rt *sr,
                            const buf *sealed, yz_err *e)
{
	store_val v[] = {sv_text(sr->kind),
	                 sv_text(sr->name),
	                 sr->org_id ? sv_int(sr->org_id) : sv_null(),
	                 sv_text(sr->org_path),
	                 sv_int(sr->ca->id),
	                 sv_text(crypto_alg_name(sr->ca->alg)),
	                 sv_text(sr->serial),
	                 sv_text(sr->subject),
	                 sv_blob(sr->cert.p, sr->cert.len),
	                 sv_blob(sealed->p, sealed->len),
	                 who->user_id ? sv_int(who->user_id) : sv_null(),
	                 sv_int(clock_now_ms())};
	store_rows *r;
	yz_status st =
	    store_query(tx,
	                "INSERT INTO pki_signer (kind, name, org_id, org_path, ca_id, alg, "
	                "serial, subject, cert, key_sealed, created_by, created_at) VALUES "
	                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
	                v, SV_N(v), &r, e);
	if (st != YZ_OK)
		return st;
	sr->id = store_next(r) ? store_col_int(r, 0) : 0;
	if ((st = store_rows_close(r, e)) != YZ_OK)
		return st;
	return sr->id ? YZ_OK : yz_fail(e, YZ_EDB, "no id for the new signer");
}

void pki_signer_abandon(store *s, const yz_actor *who, const pki_signer_rt *sr)
{
	/* its key is gone with this process: the certificate must not stay valid */
	yz_err ignored = {0};
	if (sr->ca && sr->serial[0] &&
	    pki_revoke(s, who, sr->ca->name, sr->serial, PKI_CESSATION, &ignored) != YZ_OK)
		(void)ignored;
}

/* ---- time-stamps ---- */

yz_status pki_signer_timestamp(store *s, crypto_alg alg, const void *sig, size_t n, buf *token,
                               char *serial, size_t cap, yz_err *e)
{
	bool sm2 = alg == CRYPTO_SM2;
	unsigned char h[CRYPTO_SM3_LEN], nonce[8];
	if (sm2)
		crypto_sm3(sig, n, h);
	else
		crypto_sha256(sig, n, h);
	if (crypto_random(nonce, sizeof nonce) != YZ_OK)
		return yz_fail(e, YZ_ECRYPTO, "no randomness for a nonce");
	nonce[0] &= 0x7f;
	pki_der req;
	pki_der_init(&req, 1024);
	pki_der_begin(&req, PKI_DER_SEQ);
	pki_der_small(&req, 1);
	pki_der_begin(&req, PKI_DER_SEQ);
	pki_der_algid(&req, sm2 ? PKI_OID_SM3 : PKI_OID_SHA256, true);
	pki_der_put(&req, PKI_DER_OCTETS, h, sizeof h);
	pki_der_end(&req);
	pki_der_uint(&req, nonce, sizeof nonce);
	pki_der_bool(&req, true); /* certReq: the token carries the TSA certificate */
	pki_der_end(&req);
	yz_status st = pki_der_done(&req);
	buf resp;
	buf_init(&resp, 256 * 1024);
	if (st != YZ_OK)
		st = yz_fail(e, st, "cannot encode the time-stamp request");
	else
		st = pki_tsa_answer_as(s, sm2 ? "sm2" : "ecdsa", req.b.p, req.b.len, &resp, e);
	pki_tlv top, status, tok, code;
	int64_t granted = -1;
	if (st == YZ_OK) {
		pki_rd r = pki_rd_of(resp.p, resp.len);
		if (pki_rd_get(&r, PKI_DER_SEQ, &top)) {
			pki_rd in = pki_rd_in(&top);
			if (pki_rd_get(&in, PKI_DER_SEQ, &status)) {
				pki_rd si = pki_rd_in(&status);
				if (!pki_rd_get(&si, PKI_DER_INT, &code) ||
				    !pki_tlv_small(&code, &granted))
					granted = -1;
			}
			if (granted == 0 && pki_rd_get(&in, PKI_DER_SEQ, &tok) &&
			    buf_append(token, tok.raw, tok.rawn) != YZ_OK)
				st = yz_fail(e, YZ_ETOOBIG, "time-stamp token too large");
		}
	}
	/* no TSA signer of the algorithm (a rejection): no token */
	if (st == YZ_OK && granted == 0 && token->len) {
		json_t *info = NULL;
		yz_err ve = {0};
		if (pki_tsa_verify(token->p, token->len, sig, n, NULL, 0, &info, &ve) != YZ_OK)
			st = yz_fail(e, YZ_EINTERNAL, "our own time-stamp does not verify: %s",
			             ve.msg);
		else if (serial)
			yz_strlcpy(serial, jx_str(info, "serial", ""), cap);
		json_decref(info);
	}
	pki_der_free(&req);
	buf_free(&resp);
	return st;
}

yz_status pki_signer_check_token(const void *token, size_t n, const void *sig, size_t sn,
                                 int64_t *ms, json_t **ts, yz_err *e)
{
	json_t *info = NULL;
	yz_err ve = {0};
	if (pki_tsa_verify(token, n, sig, sn, NULL, 0, &info, &ve) != YZ_OK)
		return yz_fail(e, YZ_ECRYPTO, "the time-stamp does not hold: %s", ve.msg);
	*ms = jx_int(info, "gen_time_ms", 0);
	json_t *o = json_object();
	pki_sign_time(o, "gen_time", *ms);
	jx_set_str(o, "serial", jx_str(info, "serial", ""));
	jx_set_str(o, "tsa", jx_str(info, "signer", ""));
	jx_set_str(o, "policy", jx_str(info, "policy", ""));
	jx_set_str(o, "hash_alg", jx_str(info, "hash_alg", ""));
	json_decref(info);
	*ts = o;
	return YZ_OK;
}

/* ---- the verifier's view of a certificate ---- */

yz_status pki_cert_view_open(const void *der, size_t n, pki_cert_view *v, yz_err *e)
{
	memset(v, 0, sizeof *v);
	if (!der || n == 0 || n > PKI_CERT_MAX || ((const unsigned char *)der)[0] != PKI_DER_SEQ ||
	    !(v->x = pki_x509_parse(der, n)))
		return yz_fail(e, YZ_EINVAL, "the certificate does not parse");
	v->der = der;
	v->der_len = n;
	yz_err ke = {0};
	if (crypto_key_from_evp(X509_get0_pubkey(v->x), &v->key, &ke) != YZ_OK) {
		ERR_clear_error();
		pki_cert_view_close(v);
		return yz_fail(e, YZ_EINVAL, "the certificate's key is neither SM2 nor P-256");
	}
	pki_name_text(X509_get_subject_name(v->x), v->subject, sizeof v->subject);
	pki_name_text(X509_get_issuer_name(v->x), v->issuer, sizeof v->issuer);
	name_entry(X509_get_subject_name(v->x), NID_commonName, v->cn, sizeof v->cn);
	name_entry(X509_get_subject_name(v->x), NID_organizationName, v->o, sizeof v->o);
	pki_serial_hex(X509_get0_serialNumber(v->x), v->serial, sizeof v->serial);
	v->not_before = pki_asn1_ms(X509_get0_notBefore(v->x));
	v->not_after = pki_asn1_ms(X509_get0_notAfter(v->x));
	for (int i = 0; i < pki_ca_count(); i++) {
		const pki_ca_rt *ca = pki_ca_at(i);
		if (ca &&
		    !X509_NAME_cmp(X509_get_subject_name(ca->cert), X509_get_issuer_name(v->x)))
			v->ca = ca;
	}
	return YZ_OK;
}

void pki_cert_view_close(pki_cert_view *v)
{
	X509_free(v->x);
	crypto_key_free(v->key);
	memset(v, 0, sizeof *v);
}

yz_status pki_cert_view_check(const pki_cert_view *v, int64_t at, yz_err *e)
{
	if (!v->ca)
		return yz_fail(
		    e, YZ_ECRYPTO,
		    "the certificate (issuer %s) was not issued by a CA of this platform",
		    v->issuer);
	yz_err ce = {0};
	yz_status st = pki_verify_cert(v->der, v->der_len, v->ca->der, (size_t)v->ca->der_len, &ce);
	/* expiry since is judged at the signing time below */
	if (st != YZ_OK && st != YZ_EREFUSED)
		return yz_fail(e, YZ_ECRYPTO, "the certificate of %s: %s", v->subject, ce.msg);
	/* a certificate for encryption only (a dual pair's) does not sign */
	uint32_t ku = X509_get_key_usage(v->x);
	if (ku != UINT32_MAX && !(ku & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION)))
		return yz_fail(e, YZ_ECRYPTO,
		               "the certificate of %s is not for signing (key usage without "
		               "digitalSignature or nonRepudiation)",
		               v->subject);
	if (at < v->not_before - 1000)
		return yz_fail(e, YZ_ECRYPTO,
		               "the certificate of %s was not valid yet at the signing time",
		               v->subject);
	if (at > v->not_after)
		return yz_fail(e, YZ_ECRYPTO,
		               "the certificate of %s had expired at the signing time", v->subject);
	return YZ_OK;
}

json_t *pki_cert_view_json(const pki_cert_view *v)
{
	json_t *o = json_object();
	jx_set_str(o, "subject", v->subject);
	jx_set_str(o, "cn", v->cn);
	if (v->o[0])
		jx_set_str(o, "o", v->o);
	jx_set_str(o, "serial", v->serial);
	if (v->ca) {
		jx_set_str(o, "ca", v->ca->name);
		jx_set_str(o, "ca_title", v->ca->title);
	}
	jx_set_str(o, "issuer", v->issuer);
	jx_set_bool(o, "ours", v->ca != NULL);
	return o;
}

yz_status pki_cert_view_status(store *s, const pki_cert_view *v, int64_t at, json_t **out,
                               bool *bad_then, yz_err *e)
{
	*bad_then = false;
	json_t *o = json_object();
	pki_sign_time(o, "not_before", v->not_before);
	pki_sign_time(o, "not_after", v->not_after);
	jx_set_bool(o, "revoked_later", false);
	char status[16] = "unknown";
	int64_t revoked_at = 0, reason = 0;
	yz_status st = YZ_OK;
	if (v->ca) {
		store_conn *c;
		store_rows *r;
		store_val k[] = {sv_int(v->ca->id), sv_text(v->serial)};
		st = store_reader(s, &c, e);
		if (st == YZ_OK)
			st = store_query(
			    c,
			    "SELECT status, COALESCE(revoked_at, 0), COALESCE(reason, 0) "
			    "FROM pki_cert WHERE ca_id = ? AND serial = ?",
			    k, 2, &r, e);
		if (st == YZ_OK) {
			if (store_next(r)) {
				yz_strlcpy(status, store_col_text(r, 0), sizeof status);
				revoked_at = store_col_int(r, 1);
				reason = store_col_int(r, 2);
			}
			st = store_rows_close(r, e);
		}
	}
	if (st != YZ_OK) {
		json_decref(o);
		return st;
	}
	jx_set_str(o, "status", status);
	const char *then = status;
	if (!strcmp(status, "revoked") || !strcmp(status, "suspended")) {
		jx_set_str(o, "reason", pki_reason_name((int)reason));
		pki_sign_time(o, "revoked_at", revoked_at);
		if (revoked_at > at) {
			then = "valid";
			jx_set_bool(o, "revoked_later", true);
		} else {
			*bad_then = true;
		}
	}
	jx_set_str(o, "at_signing", then);
	*out = o;
	return YZ_OK;
}

/* ---- application signers ---- */

static bool check_alg(json_t *v, const char **rule, const char **expected)
{
	const char *s = json_string_value(v);
	*rule = "enum";
	*expected = "sm2 or ecdsa-p256";
	return !strcmp(s, "sm2") || !strcmp(s, "ecdsa-p256");
}

static const jx_field signer_fields[] = {
    {"org_id", JX_INT, true, 1, 0, NULL},
    {"name", JX_STRING, true, 1, 64, NULL},
    {"alg", JX_STRING, false, 0, 0, check_alg},
    {NULL, 0, false, 0, 0, NULL},
};

yz_status pki_sign_org(store *s, const yz_scope *scope, int64_t org_id, json_t **org, yz_err *e)
{
	store_conn *c;
	yz_status st = store_reader(s, &c, e);
	if (st != YZ_OK)
		return st;
	yz_err oe = {0};
	if (iam_org_get(c, scope, org_id, org, &oe) != YZ_OK)
		return yz_field(e, "org_id", "scope", "a department within your scope", NULL);
	return YZ_OK;
}

json_t *pki_sign_subject(json_t *org, const char *cn)
{
	json_t *sub = json_pack("{s:s}", "cn", cn);
	const char *o = jx_str(org, "name", "");
	size_t chars = 0;
	for (const char *p = o; *p; p++)
		chars += ((unsigned char)*p & 0xc0) != 0x80;
	if (o[0] && chars <= 64)
		jx_set_str(sub, "o", o);
	const char *uscc = jx_str(org, "uscc", NULL);
	char exp[2] = {0, 0};
	if (uscc && idcode_uscc_ok(uscc, exp))
		jx_set_str(sub, "uscc", uscc);
	return sub;
}

yz_status pki_signer_record(store_conn *tx, const yz_actor *who, pki_signer_rt *sr,
                            const buf *sealed, yz_err *e)
{
	yz_status st = pki_signer_insert(tx, who, sr, sealed, e);
	if (st != YZ_OK)
		return st;
	char object[64];
	snprintf(object, sizeof object, "pki_signer:%lld", (long long)sr->id);
	json_t *change =
	    json_pack("{s:s, s:s, s:s, s:s, s:s}", "kind", sr->kind, "name", sr->name, "ca",
	              sr->ca->name, "serial", sr->serial, "subject", sr->subject);
	st = audit_append(tx, who, "pki.signer.create", object,
	                  sr->org_path[0] ? sr->org_path : NULL, change, e);
	json_decref(change);
	return st;
}

typedef struct signer_job {
	const yz_actor *who;
	pki_signer_rt *sr;
	const buf *sealed;
} signer_job;

static yz_status signer_job_fn(store_conn *tx, void *arg, yz_err *e)
{
	signer_job *j = arg;
	return pki_signer_record(tx, j->who, j->sr, j->sealed, e);
}

static json_t *signer_row(store_rows *r)
{
	json_t *o = json_object();
	jx_set_int(o, "id", store_col_int(r, 0));
	jx_set_str(o, "name", store_col_text(r, 1));
	jx_set_str(o, "alg", store_col_text(r, 2));
	jx_set_int(o, "org_id", store_col_int(r, 3));
	const pki_ca_rt *ca = pki_ca_by_id(store_col_int(r, 4));
	jx_set_str(o, "ca", ca ? ca->name : "");
	jx_set_str(o, "serial", store_col_text(r, 5));
	jx_set_str(o, "subject", store_col_text(r, 6));
	pki_sign_time(o, "created_at", store_col_int(r, 7));
	return o;
}

#define SIGNER_COLS "id, name, alg, COALESCE(org_id, 0), ca_id, serial, subject, created_at"

yz_status pki_signer_create(store *s, const char *data_dir, const yz_actor *who, json_t *in,
                            json_t **out, yz_err *e)
{
	yz_status st = jx_validate(in, signer_fields, e);
	if (st != YZ_OK)
		return st;
	crypto_alg alg = CRYPTO_SM2;
	if (crypto_alg_parse(jx_str(in, "alg", "sm2"), &alg) != YZ_OK)
		return yz_field(e, "alg", "enum", "sm2 or ecdsa-p256", jx_str(in, "alg", ""));
	const pki_ca_rt *ca = pki_signer_ca(alg);
	if (!ca)
		return yz_fail(e, YZ_EBUSY, "no %s CA is set up here", crypto_alg_name(alg));
	json_t *org = NULL;
	if ((st = pki_sign_org(s, &who->scope, jx_int(in, "org_id", 0), &org, e)) != YZ_OK)
		return st;
	pki_signer_rt sr;
	pki_signer_init(&sr);
	yz_strlcpy(sr.name, jx_str(in, "name", ""), sizeof sr.name);
	sr.org_id = jx_int(org, "id", 0);
	yz_strlcpy(sr.org_path, jx_str(org, "path", ""), sizeof sr.org_path);
	json_t *sub = pki_sign_subject(org, sr.name);
	buf sealed;
	buf_init(&sealed, KEY_PEM_MAX * 2);
	st = pki_signer_make(s, data_dir, who, ca, "app", "signing", sub, &sr, &sealed, e);
	if (st == YZ_OK) {
		signer_job j = {who, &sr, &sealed};
		st = store_write(s, signer_job_fn, &j, e);
		if (st != YZ_OK)
			pki_signer_abandon(s, who, &sr);
	}
	if (st == YZ_OK && out) {
		store_conn *c;
		store_rows *r;
		store_val v[] = {sv_int(sr.id)};
		st = store_reader(s, &c, e);
		if (st == YZ_OK)
			st = store_query(c, "SELECT " SIGNER_COLS " FROM pki_signer WHERE id = ?",
			                 v, 1, &r, e);
		if (st == YZ_OK) {
			*out = store_next(r) ? signer_row(r) : NULL;
			st = store_rows_close(r, e);
			if (*out)
				jx_set_str(*out, "org_name", jx_str(org, "name", ""));
		}
	}
	json_decref(sub);
	json_decref(org);
	buf_free(&sealed);
	pki_signer_close(&sr);
	return st;
}

yz_status pki_signer_list(store_conn *c, const yz_scope *scope, json_t **out, yz_err *e)
{
	store_rows *r;
	yz_status st = store_query(c,
	                           "SELECT " SIGNER_COLS ", org_path FROM pki_signer WHERE kind = "
	                           "'app' AND status = 'active' ORDER BY id DESC LIMIT 500",
	                           NULL, 0, &r, e);
	if (st != YZ_OK)
		return st;
	json_t *items = json_array();
	while (store_next(r))
		if (!scope || iam_path_in_scope(scope, store_col_text(r, 8)))
			json_array_append_new(items, signer_row(r));
	if ((st = store_rows_close(r, e)) != YZ_OK) {
		json_decref(items);
		return st;
	}
	*out = json_pack("{s:o}", "items", items);
	return YZ_OK;
}

/* ---- detached signatures ---- */

typedef struct ts_ctx {
	store *s;
	crypto_alg alg;
	char serial[80];
	yz_status st;
} ts_ctx;

/* The unsigned attribute id-aa-timeStampToken with our TSA's token over
 * the signature value (RFC 3161 appendix A). */
static yz_status ts_attr(void *arg, const void *sig, size_t n, pki_der *w, yz_err *e)
{
	ts_ctx *t = arg;
	buf tok;
	buf_init(&tok, 256 * 1024);
	yz_status st =
	    pki_signer_timestamp(t->s, t->alg, sig, n, &tok, t->serial, sizeof t->serial, e);
	if (st == YZ_OK && tok.len) {
		pki_der_begin(w, PKI_DER_SEQ);
		pki_der_oid(w, PKI_OID_TS_TOKEN);
		pki_der_begin(w, PKI_DER_SET);
		pki_der_raw(w, tok.p, tok.len);
		pki_der_end(w);
		pki_der_end(w);
	}
	buf_free(&tok);
	return st;
}

typedef struct sign_job {
	const yz_actor *who;
	const char *kind;
	int64_t signer_id, seal_id, now;
	const char *hash_alg, *file_name, *tsa_serial, *org_path;
	const unsigned char *hash;
	size_t hash_len;
	const buf *der;
	int64_t id;
} sign_job;

static yz_status sign_job_fn(store_conn *tx, void *arg, yz_err *e)
{
	sign_job *j = arg;
	unsigned char sm3[CRYPTO_SM3_LEN];
	crypto_sm3(j->der->p, j->der->len, sm3);
	store_val v[] = {sv_text(j->kind),
	                 sv_int(j->signer_id),
	                 j->seal_id ? sv_int(j->seal_id) : sv_null(),
	                 j->who->user_id ? sv_int(j->who->user_id) : sv_null(),
	                 sv_text(j->who->login),
	                 sv_int(j->now),
	                 sv_text(j->hash_alg),
	                 sv_blob(j->hash, j->hash_len),
	                 sv_text(j->file_name ? j->file_name : ""),
	                 sv_text(j->tsa_serial && j->tsa_serial[0] ? j->tsa_serial : NULL),
	                 sv_blob(sm3, sizeof sm3),
	                 sv_blob(j->der->p, j->der->len)};
	store_rows *r;
	yz_status st =
	    store_query(tx,
	                "INSERT INTO pki_signature (kind, signer_id, seal_id, user_id, "
	                "login, signed_at, hash_alg, hash, file_name, tsa_serial, der_sm3, "
	                "der) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
	                v, SV_N(v), &r, e);
	if (st != YZ_OK)
		return st;
	j->id = store_next(r) ? store_col_int(r, 0) : 0;
	if ((st = store_rows_close(r, e)) != YZ_OK)
		return st;
	char object[64];
	snprintf(object, sizeof object, "pki_signature:%lld", (long long)j->id);
	json_t *change = json_object();
	jx_set_str(change, "kind", j->kind);
	jx_set_int(change, "signer", j->signer_id);
	if (j->seal_id)
		jx_set_int(change, "seal", j->seal_id);
	jx_set_str(change, "hash_alg", j->hash_alg);
	pki_sign_hex(change, "hash", j->hash, j->hash_len);
	jx_set_str(change, "file_name", j->file_name ? j->file_name : "");
	if (j->tsa_serial && j->tsa_serial[0])
		jx_set_str(change, "tsa_serial", j->tsa_serial);
	st = audit_append(tx, j->who, !strcmp(j->kind, "seal") ? "pki.seal.apply" : "pki.sign",
	                  object, j->org_path, change, e);
	json_decref(change);
	return st;
}

yz_status pki_sign_record(store *s, const yz_actor *who, const char *kind, int64_t signer_id,
                          int64_t seal_id, const char *org_path, int64_t now, const char *hash_alg,
                          const unsigned char *hash, size_t hash_len, const char *file_name,
                          const char *tsa_serial, const buf *der, int64_t *id, yz_err *e)
{
	sign_job j = {.who = who,
	              .kind = kind,
	              .signer_id = signer_id,
	              .seal_id = seal_id,
	              .now = now,
	              .hash_alg = hash_alg,
	              .file_name = file_name,
	              .tsa_serial = tsa_serial,
	              .org_path = org_path,
	              .hash = hash,
	              .hash_len = hash_len,
	              .der = der};
	yz_status st = store_write(s, sign_job_fn, &j, e);
	*id = j.id;
	return st;
}

/* The signer a detached signature is made with, when who may use it. */
static yz_status usable_signer(store_conn *c, const yz_actor *who, const pki_sign_req *req,
                               int64_t *signer_id, char *org_path, size_t cap, yz_err *e)
{
	store_val v[] = {sv_int(req->seal_id ? req->seal_id : req->signer_id)};
	store_rows *r;
	yz_status st = store_query(
	    c,
	    req->seal_id
	        ? "SELECT signer_id, org_path, status, valid_start, valid_end FROM pki_seal "
	          "WHERE id = ?"
	        : "SELECT id, org_path, status, 0, 0 FROM pki_signer WHERE id = ? AND "
	          "kind = 'app'",
	    v, 1, &r, e);
	if (st != YZ_OK)
		return st;
	bool found = store_next(r);
	char status[16] = "";
	int64_t from = 0, to = 0;
	if (found) {
		*signer_id = store_col_int(r, 0);
		yz_strlcpy(org_path, store_col_text(r, 1), cap);
		yz_strlcpy(status, store_col_text(r, 2), sizeof status);
		from = store_col_int(r, 3);
		to = store_col_int(r, 4);
	}
	if ((st = store_rows_close(r, e)) != YZ_OK)
		return st;
	const char *field = req->seal_id ? "seal_id" : "signer_id";
	if (!found || !iam_path_in_scope(&who->scope, org_path))
		return yz_field(e, field, "scope",
		                "a seal or signer of a department within your scope", NULL);
	if (strcmp(status, "active"))
		return yz_fail(e, YZ_ECONFLICT, "the %s is %s", req->seal_id ? "seal" : "signer",
		               status);
	int64_t now = clock_now_ms();
	if (req->seal_id && (now < from || now > to))
		return yz_fail(e, YZ_ECONFLICT, "the seal is outside its validity");
	return YZ_OK;
}

yz_status pki_sign_detached(store *s, const char *data_dir, const yz_actor *who,
                            const pki_sign_req *req, buf *cms, json_t **info, yz_err *e)
{
	if (!req->seal_id == !req->signer_id)
		return yz_field(e, "signer_id", "one-of", "exactly one of signer_id and seal_id",
		                NULL);
	if (!req->data && !req->hash)
		return yz_field(e, "file", "required", "the document or its hash", NULL);
	store_conn *c;
	yz_status st = store_reader(s, &c, e);
	int64_t signer_id = 0;
	char org_path[256] = "";
	if (st == YZ_OK)
		st = usable_signer(c, who, req, &signer_id, org_path, sizeof org_path, e);
	if (st != YZ_OK)
		return st;
	pki_signer_rt sr;
	pki_signer_init(&sr);
	if ((st = pki_signer_open(c, data_dir, signer_id, &sr, e)) != YZ_OK)
		return st;
	if ((st = pki_signer_cert_ok(c, &sr, e)) != YZ_OK) {
		pki_signer_close(&sr);
		return st;
	}
	bool sm2 = crypto_key_alg(sr.key) == CRYPTO_SM2;
	const char *alg = sm2 ? "sm3" : "sha256";
	unsigned char md[CRYPTO_SM3_LEN];
	if (req->data) {
		pki_cms_digest(sr.key, req->data, req->n, md);
	} else if (!req->hash_alg || strcmp(req->hash_alg, alg) || req->hash_len != sizeof md) {
		st = yz_field(
		    e, alg, "hash",
		    sm2 ? "the document's SM3 hash (64 hex digits) for an SM2 signer"
		        : "the document's SHA-256 hash (64 hex digits) for an ECDSA signer",
		    req->hash_alg);
	} else {
		memcpy(md, req->hash, sizeof md);
	}
	int64_t now = clock_now_ms();
	ts_ctx ts = {.s = s, .alg = crypto_key_alg(sr.key)};
	pki_der w;
	pki_der_init(&w, PKI_SIGNATURE_MAX);
	if (st == YZ_OK) {
		pki_cms_out p = {.key = sr.key,
		                 .cert = sr.cert.p,
		                 .cert_len = sr.cert.len,
		                 .content_type = PKI_OID_DATA,
		                 .digest = md,
		                 .with_cert = true,
		                 .signing_time = now,
		                 .unsigned_attrs = ts_attr,
		                 .ctx = &ts};
		st = pki_cms_sign(&p, &w, e);
	}
	int64_t id = 0;
	if (st == YZ_OK)
		st = pki_sign_record(s, who, "cms", signer_id, req->seal_id, org_path, now, alg, md,
		                     sizeof md, req->file_name, ts.serial, &w.b, &id, e);
	if (st == YZ_OK && buf_append(cms, w.b.p, w.b.len) != YZ_OK)
		st = yz_fail(e, YZ_ETOOBIG, "signature too large");
	if (st == YZ_OK && info) {
		json_t *o = json_object();
		jx_set_int(o, "id", id);
		json_object_set_new(o, "signer",
		                    json_pack("{s:I, s:s, s:s, s:s, s:s}", "id",
		                              (json_int_t)signer_id, "name", sr.name, "subject",
		                              sr.subject, "ca", sr.ca->name, "serial", sr.serial));
		jx_set_str(o, "hash_alg", alg);
		pki_sign_hex(o, "hash", md, sizeof md);
		pki_sign_time(o, "signed_at", now);
		if (ts.serial[0])
			jx_set_str(o, "tsa_serial", ts.serial);
		*info = o;
	}
	pki_der_free(&w);
	pki_signer_close(&sr);
	return st;
}

/* ---- verifying a detached signature ---- */

json_t *pki_verify_frame(const char *kind)
{
	json_t *o = json_object();
	jx_set_str(o, "kind", kind);
	jx_set_str(o, "verdict", "invalid");
	jx_set_bool(o, "valid", false);
	json_object_set_new(o, "timestamp", json_null());
	jx_set_bool(o, "trusted_time", false);
	return o;
}

void pki_verify_fail(json_t *o, const char *check, const char *reason)
{
	const char *had = jx_str(o, "failed_check", NULL);
	if (had && (strcmp(had, "document_hash") || !strcmp(check, "document_hash")))
		return;
	jx_set_str(o, "failed_check", check);
	jx_set_str(o, "reason", reason);
	jx_set_str(o, "verdict", !strcmp(check, "document_hash") ? "tampered" : "invalid");
	jx_set_bool(o, "valid", false);
}

/* A value of signingTime: UTCTime or GeneralizedTime. */
static bool time_of(const pki_tlv *t, int64_t *ms)
{
	return t->tag == PKI_DER_UTCTIME ? pki_tlv_utctime(t, ms) : pki_tlv_gentime(t, ms);
}

yz_status pki_verify_detached(store *s, const void *in, size_t n, const void *data, size_t dn,
                              json_t **info, yz_err *e)
{
	if (!in || n == 0 || n > PKI_SIGNATURE_MAX)
		return yz_field(e, "signature", "cms", "a CMS SignedData in DER", NULL);
	pki_rd r = pki_rd_of(in, n);
	pki_tlv top;
	if (!pki_rd_get(&r, PKI_DER_SEQ, &top) || pki_rd_more(&r))
		return yz_field(e, "signature", "der", "a CMS SignedData in DER",
		                "bytes that are not one DER value");
	pki_cms k;
	const char *why = pki_cms_parse(&top, &k);
	if (why)
		return yz_field(e, "signature", "cms", "a CMS SignedData in DER", why);
	if (!pki_cms_is_data(&k))
		return yz_field(e, "signature", "cms", "a signature of data (id-data)",
		                "another content type");
	if (k.has_content && !data) {
		data = k.content.v;
		dn = k.content.n;
	}
	json_t *o = pki_verify_frame("signature");
	int at = pki_cms_signer_cert(&k);
	if (at < 0) {
		pki_verify_fail(o, "certificate",
		                "the signature does not carry its signer's certificate");
		*info = o;
		return YZ_OK;
	}
	pki_cert_view v;
	yz_err ve = {0};
	if (pki_cert_view_open(k.certs[at].raw, k.certs[at].rawn, &v, &ve) != YZ_OK) {
		json_decref(o);
		return yz_field(e, "signature", "certificate", "a signer's certificate that parses",
		                ve.msg);
	}
	json_object_set_new(o, "signer", pki_cert_view_json(&v));
	bool sm2 = crypto_key_alg(v.key) == CRYPTO_SM2;
	unsigned char md[CRYPTO_SM3_LEN];
	pki_cms_digest(v.key, data ? data : "", data ? dn : 0, md);
	json_t *doc = json_object();
	jx_set_str(doc, "hash_alg", sm2 ? "sm3" : "sha256");
	pki_sign_hex(doc, "hash", md, sizeof md);
	pki_tlv value;
	int count;
	if (pki_cms_attr(&k.attrs, PKI_OID_MESSAGE_DIGEST, &value, &count) &&
	    value.tag == PKI_DER_OCTETS)
		pki_sign_hex(doc, "signed_hash", value.v, value.n);
	json_object_set_new(o, "document", doc);
	/* 1. the signature and its attributes */
	pki_cms_fail failed = PKI_CMS_PASSED;
	ve = (yz_err){0};
	bool matches = true;
	if (pki_cms_check(&k, v.key, v.der, v.der_len, md, false, "the signature", &failed, &ve) !=
	    YZ_OK) {
		if (failed == PKI_CMS_FAIL_DIGEST) {
			matches = false;
			pki_verify_fail(
			    o, "document_hash",
			    sm2 ? "the document's SM3 hash does not match the signed "
			          "messageDigest"
			        : "the document's SHA-256 hash does not match the signed "
			          "messageDigest");
		} else {
			pki_verify_fail(o,
			                failed == PKI_CMS_FAIL_SIGNATURE ? "signature"
			                : failed == PKI_CMS_FAIL_ESS     ? "signing_certificate"
			                                                 : "attributes",
			                ve.msg);
		}
	}
	jx_set_bool(doc, "matches", matches);
	/* 2. when: the claimed signingTime, the time-stamp's genTime */
	int64_t claimed = 0, when = clock_now_ms();
	if (pki_cms_attr(&k.attrs, PKI_OID_SIGNING_TIME, &value, &count) &&
	    time_of(&value, &claimed))
		pki_sign_time(o, "signed_at", claimed);
	if (claimed)
		when = claimed;
	/* unsigned attributes are not covered by the signature: only a
	 * time-stamp token is taken, so nothing else can pass for one */
	if (k.has_unsigned) {
		pki_rd ur = pki_rd_in(&k.unsigned_attrs);
		pki_tlv a, oid = {0};
		while (pki_rd_next(&ur, &a)) {
			pki_rd ar = pki_rd_in(&a);
			char text[80] = "?";
			if (!pki_rd_get(&ar, PKI_DER_OID, &oid) ||
			    !pki_tlv_oid_is(&oid, PKI_OID_TS_TOKEN)) {
				(void)pki_tlv_oid_text(&oid, text, sizeof text);
				char why2[160];
				snprintf(why2, sizeof why2,
				         "an unsigned attribute other than a time-stamp token (%s)",
				         text);
				pki_verify_fail(o, "attributes", why2);
			}
		}
		if (!pki_cms_attr(&k.unsigned_attrs, PKI_OID_TS_TOKEN, &value, &count) && count)
			pki_verify_fail(o, "timestamp", "more than one time-stamp token");
	}
	if (k.has_unsigned && pki_cms_attr(&k.unsigned_attrs, PKI_OID_TS_TOKEN, &value, &count)) {
		int64_t gen = 0;
		json_t *ts = NULL;
		ve = (yz_err){0};
		if (pki_signer_check_token(value.raw, value.rawn, k.sig.v, k.sig.n, &gen, &ts,
		                           &ve) == YZ_OK) {
			json_object_set_new(o, "timestamp", ts);
			jx_set_bool(o, "trusted_time", true);
			when = gen;
		} else {
			pki_verify_fail(o, "timestamp", ve.msg);
		}
	}
	pki_sign_time(o, "time", when);
	/* 3. the certificate: ours, valid then, its status then */
	ve = (yz_err){0};
	if (pki_cert_view_check(&v, when, &ve) != YZ_OK)
		pki_verify_fail(o, "certificate_chain", ve.msg);
	json_t *status = NULL;
	bool bad_then = false;
	yz_status st = pki_cert_view_status(s, &v, when, &status, &bad_then, e);
	if (st == YZ_OK) {
		if (bad_then) {
			char reason[200];
			snprintf(
			    reason, sizeof reason,
			    "the signer's certificate was %s (%s) before the signature was made",
			    jx_str(status, "status", ""), jx_str(status, "reason", ""));
			pki_verify_fail(o, "certificate_status", reason);
		}
		json_object_set_new(o, "certificate", status);
	}
	if (st == YZ_OK && !json_object_get(o, "failed_check")) {
		jx_set_str(o, "verdict", "valid");
		jx_set_bool(o, "valid", true);
	}
	/* the seal or signer of ours that made it, by its certificate */
	if (st == YZ_OK && v.ca) {
		store_conn *c;
		store_rows *rows;
		store_val kv[] = {sv_int(v.ca->id), sv_text(v.serial)};
		if (store_reader(s, &c, e) == YZ_OK &&
		    store_query(
		        c,
		        "SELECT g.kind, g.name, COALESCE(l.name, ''), COALESCE(l.org_name, '') "
		        "FROM pki_signer g LEFT JOIN pki_seal l ON l.signer_id = g.id WHERE "
		        "g.ca_id = ? AND g.serial = ?",
		        kv, 2, &rows, e) == YZ_OK) {
			if (store_next(rows)) {
				json_t *sg = json_object_get(o, "signer");
				jx_set_str(sg, "kind", store_col_text(rows, 0));
				jx_set_str(sg, "name", store_col_text(rows, 1));
				if (store_col_text(rows, 2)[0]) {
					jx_set_str(sg, "seal", store_col_text(rows, 2));
					jx_set_str(sg, "department", store_col_text(rows, 3));
				}
			}
			store_rows_discard(rows);
		}
	}
	pki_cert_view_close(&v);
	if (st != YZ_OK) {
		json_decref(o);
		return st;
	}
	*info = o;
	return YZ_OK;
}

/* PEM ("-----BEGIN CMS-----", PKCS7, SIGNED DATA) to DER; false when it is
 * not PEM. */
static bool pem_body(const void *p, size_t n, buf *der)
{
	const char *s = p;
	if (n < 11 || memcmp(s, "-----BEGIN ", 11) != 0)
		return false;
	const char *end = s + n, *at = memchr(s, '\n', n);
	if (!at)
		return false;
	at++;
	buf b64;
	buf_init(&b64, n);
	bool ok = true;
	while (at < end && ok) {
		const char *eol = memchr(at, '\n', (size_t)(end - at));
		size_t len = eol ? (size_t)(eol - at) : (size_t)(end - at);
		if (len >= 5 && !memcmp(at, "-----", 5))
			break;
		for (size_t i = 0; i < len && ok; i++)
			if (at[i] != '\r' && at[i] != ' ')
				ok = buf_putc(&b64, at[i]) == YZ_OK;
		at = eol ? eol + 1 : end;
	}
	unsigned char *out = ok ? malloc(b64.len + 4) : NULL;
	size_t ol = 0;
	ok = out &&
	     b64_decode(b64.p ? b64.p : "", b64.len, false, out, b64.len + 4, &ol) == YZ_OK &&
	     buf_append(der, out, ol) == YZ_OK;
	free(out);
	buf_free(&b64);
	return ok;
}

yz_status pki_verify_file(store *s, const void *sig, size_t n, const void *data, size_t dn,
                          json_t **info, yz_err *e)
{
	if (!sig || n == 0)
		return yz_field(e, "signature", "required", "a seal (.ses) or a signature (.p7s)",
		                NULL);
	if (n > PKI_SIGNATURE_MAX)
		return yz_fail(e, YZ_ETOOBIG, "signature: at most %d bytes", PKI_SIGNATURE_MAX);
	buf der;
	buf_init(&der, PKI_SIGNATURE_MAX);
	if (pem_body(sig, n, &der)) {
		sig = der.p;
		n = der.len;
	}
	/* ContentInfo {OID, [0]} or SES_Signature {TBS_Sign SEQUENCE, ...} */
	pki_rd r = pki_rd_of(sig, n);
	pki_tlv top, first;
	yz_status st;
	if (!pki_rd_get(&r, PKI_DER_SEQ, &top) || pki_rd_more(&r)) {
		st = yz_field(e, "signature", "der", "a seal (.ses) or a signature (.p7s) in DER",
		              "bytes that are not one DER value");
	} else {
		pki_rd in = pki_rd_in(&top);
		if (!pki_rd_next(&in, &first))
			st = yz_field(e, "signature", "der", "a seal (.ses) or a signature (.p7s)",
			              "an empty SEQUENCE");
		else if (first.tag == PKI_DER_OID)
			st = pki_verify_detached(s, sig, n, data, dn, info, e);
		else
			st = pki_verify_seal(s, sig, n, data, dn, info, e);
	}
	buf_free(&der);
	return st;
}
