/*
 * pki_notary.c — the pki as notary of the audit chain: each signed
 * checkpoint gets the certificate of the platform key that signed it (issued
 * by the city's SM2 CA under the "application" profile, once per key, found
 * again by its key id) and an SM2 time-stamp of our TSA over the
 * checkpoint's signature, so that a checkpoint proves who signed it and
 * since when it existed. audit stores them (audit_attest_pending) and checks
 * them with pki_notary_check during audit_verify.
 *
 * The job runs after checkpoints commit (every minute), never inside one, so
 * the TSA's own durable record of each token is a write of its own.
 */
#include <stdio.h>
#include <string.h>

#include "audit/audit.h"
#include "core/jx.h"
#include "pki/pki_asn1.h"
#include "pki/pki_int.h"

#define OID_SM3 "1.2.156.10197.1.401"

/* The SM2 CA that certifies the platform: the first subordinate SM2 CA, or
 * a root when there is none (as the TSA chooses its signer). */
static pki_ca_rt *platform_ca(void)
{
	pki_ca_rt *root = NULL;
	for (int i = 0; i < pki_ca_count(); i++) {
		pki_ca_rt *c = pki_ca_at(i);
		if (c->alg != CRYPTO_SM2)
			continue;
		if (c->parent[0])
			return c;
		if (!root)
			root = c;
	}
	return root;
}

static void key_hex(const crypto_key *key, char out[2 * CRYPTO_SM3_LEN + 1])
{
	unsigned char id[CRYPTO_SM3_LEN];
	out[0] = '\0';
	if (crypto_key_id(key, id) != YZ_OK)
		return;
	for (int i = 0; i < CRYPTO_SM3_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", id[i]);
}

/* The valid certificate of the key, issued now when there is none. */
static yz_status platform_cert(store *s, const crypto_key *key, buf *der, yz_err *e)
{
	pki_ca_rt *ca = platform_ca();
	if (!ca)
		return yz_fail(e, YZ_ENOTFOUND, "no SM2 CA to certify the platform key");
	char kid[2 * CRYPTO_SM3_LEN + 1];
	key_hex(key, kid);
	store_conn *c;
	yz_status st = store_reader(s, &c, e);
	if (st != YZ_OK)
		return st;
	store_val v[] = {sv_text(kid), sv_int(ca->id)};
	store_rows *r;
	st = store_query(c,
	                 "SELECT der FROM pki_cert WHERE key_id = ? AND ca_id = ? AND status = "
	                 "'valid' ORDER BY id DESC LIMIT 1",
	                 v, 2, &r, e);
	if (st != YZ_OK)
		return st;
	bool found = store_next(r);
	if (found) {
		size_t n;
		const void *d = store_col_blob(r, 0, &n);
		if (buf_append(der, d, n) != YZ_OK)
			found = false;
	}
	if ((st = store_rows_close(r, e)) != YZ_OK || found)
		return st;
	buf pem;
	buf_init(&pem, 4096);
	st = crypto_key_to_pem(key, false, NULL, &pem, e);
	json_t *in = NULL, *out = NULL;
	if (st == YZ_OK) {
		in = json_pack("{s:s, s:s, s:s, s:s#}", "ca", ca->name, "profile", "application",
		               "cn", "一站平台审计签名", "public_key", pem.p, pem.len);
		yz_actor who = actor_system("pki.notary");
		st = pki_issue(s, &who, in, &out, e);
	}
	if (st == YZ_OK)
		st = pki_cert_der(c, ca->name, jx_str(out, "serial", ""), der, e);
	json_decref(in);
	json_decref(out);
	buf_free(&pem);
	return st;
}

static yz_status attest(void *ctx, int64_t seq, const crypto_key *key, const void *sig,
                        size_t siglen, buf *cert, buf *token, yz_err *e)
{
	(void)seq;
	store *s = ctx;
	yz_status st = platform_cert(s, key, cert, e);
	if (st != YZ_OK)
		return st;
	/* TimeStampReq {version 1, messageImprint {SM3, SM3(signature)}, certReq} */
	unsigned char h[CRYPTO_SM3_LEN];
	crypto_sm3(sig, siglen, h);
	pki_der w;
	pki_der_init(&w, 1024);
	pki_der_begin(&w, PKI_DER_SEQ);
	pki_der_small(&w, 1);
	pki_der_begin(&w, PKI_DER_SEQ);
	pki_der_algid(&w, OID_SM3, false);
	pki_der_put(&w, PKI_DER_OCTETS, h, sizeof h);
	pki_der_end(&w);
	pki_der_bool(&w, true);
	pki_der_end(&w);
	st = pki_der_done(&w);
	if (st == YZ_OK)
		st = pki_tsa_answer_as(s, "sm2", w.b.p, w.b.len, token, e);
	pki_der_free(&w);
	/* a rejection is an answer too: keep only a token that holds */
	yz_err ve = {0};
	if (st == YZ_OK &&
	    pki_tsa_verify(token->p, token->len, sig, siglen, NULL, 0, NULL, &ve) != YZ_OK)
		st = yz_fail(e, YZ_ECRYPTO, "the time-stamp does not verify: %s", ve.msg);
	return st;
}

yz_status pki_notary_run(store *s, int *done, yz_err *e)
{
	*done = 0;
	if (!platform_ca() || !pki_tsa_has(platform_ca()->name))
		return YZ_OK; /* nothing to attest with yet */
	return audit_attest_pending(s, attest, s, 64, done, e);
}

static bool same_key(X509 *x, const crypto_key *key)
{
	crypto_key *ck = NULL;
	buf a, b;
	buf_init(&a, 1024);
	buf_init(&b, 1024);
	bool same = crypto_key_from_evp(X509_get0_pubkey(x), &ck, NULL) == YZ_OK &&
	            crypto_key_spki_der(ck, &a) == YZ_OK && crypto_key_spki_der(key, &b) == YZ_OK &&
	            a.len == b.len && !memcmp(a.p, b.p, a.len);
	crypto_key_free(ck);
	buf_free(&a);
	buf_free(&b);
	return same;
}

bool pki_notary_check(void *ctx, const crypto_key *key, const void *sig, size_t siglen,
                      const void *cert, size_t certlen, const void *token, size_t toklen,
                      char *reason, size_t cap)
{
	(void)ctx;
	X509 *x = pki_x509_parse(cert, certlen);
	if (!x) {
		snprintf(reason, cap, "the certificate does not parse");
		return false;
	}
	pki_ca_rt *ca = NULL;
	for (int i = 0; i < pki_ca_count() && !ca; i++)
		if (X509_NAME_cmp(X509_get_issuer_name(x),
		                  X509_get_subject_name(pki_ca_at(i)->cert)) == 0)
			ca = pki_ca_at(i);
	bool ok = same_key(x, key);
	X509_free(x);
	if (!ok) {
		snprintf(reason, cap,
		         "the certificate is not of the key that signed the checkpoint");
		return false;
	}
	if (!ca) {
		snprintf(reason, cap, "the certificate's CA is not one of this platform");
		return false;
	}
	yz_err e = {0};
	yz_status st = pki_verify_cert(cert, certlen, ca->der, (size_t)ca->der_len, &e);
	/* expiry since does not undo a time-stamped signature */
	if (st != YZ_OK && st != YZ_EREFUSED) {
		snprintf(reason, cap, "certificate: %s", e.msg);
		return false;
	}
	e = (yz_err){0};
	if (pki_tsa_verify(token, toklen, sig, siglen, NULL, 0, NULL, &e) != YZ_OK) {
		snprintf(reason, cap, "time-stamp: %s", e.msg);
		return false;
	}
	return true;
}
