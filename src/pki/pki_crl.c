/*
 * pki_crl.c — certificate revocation lists (RFC 5280 §5): version 2, the CA
 * as issuer, CRL number and authority key identifier, each listed
 * certificate with its revocation time and reason (certificateHold for a
 * suspension). Signed in a write job so that two nodes never publish the
 * same number; the newest CRL of each CA is kept in memory.
 */
#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "pki/pki_int.h"

typedef struct crl_job {
	pki_ca_rt *ca;
	int64_t now;
	int64_t number, changes_to;
	unsigned char *der;
	int len;
} crl_job;

static yz_status add_revoked(X509_CRL *crl, const char *serial, int64_t at, int reason, yz_err *e)
{
	BIGNUM *bn = NULL;
	X509_REVOKED *rv = X509_REVOKED_new();
	ASN1_INTEGER *sn = NULL;
	ASN1_TIME *t = ASN1_TIME_set(NULL, (time_t)(at / 1000));
	ASN1_ENUMERATED *re = ASN1_ENUMERATED_new();
	bool ok = rv && t && re && BN_hex2bn(&bn, serial) && (sn = BN_to_ASN1_INTEGER(bn, NULL)) &&
	          X509_REVOKED_set_serialNumber(rv, sn) && X509_REVOKED_set_revocationDate(rv, t);
	/* RFC 5280 §5.3.1: leave the reason out rather than say unspecified */
	if (ok && reason != PKI_UNSPECIFIED)
		ok = ASN1_ENUMERATED_set(re, reason) &&
		     X509_REVOKED_add1_ext_i2d(rv, NID_crl_reason, re, 0, 0);
	if (ok)
		ok = X509_CRL_add0_revoked(crl, rv);
	BN_free(bn);
	ASN1_INTEGER_free(sn);
	ASN1_TIME_free(t);
	ASN1_ENUMERATED_free(re);
	if (!ok) {
		X509_REVOKED_free(rv);
		ERR_clear_error();
		return yz_fail(e, YZ_ECRYPTO, "cannot list certificate %s in the CRL", serial);
	}
	return YZ_OK;
}

static yz_status crl_job_fn(store_conn *tx, void *arg, yz_err *e)
{
	crl_job *j = arg;
	pki_ca_rt *ca = j->ca;
	OPENSSL_free(j->der); /* a job may run twice */
	j->der = NULL;
	store_val k[] = {sv_int(ca->id)};
	int64_t last = 0;
	yz_status st = store_query_int(
	    tx, "SELECT COALESCE(MAX(number), 0) FROM pki_crl WHERE ca_id = ?", k, 1, &last, e);
	if (st == YZ_OK)
		st = store_query_int(
		    tx, "SELECT COALESCE(MAX(changed_at), 0) FROM pki_cert WHERE ca_id = ?", k, 1,
		    &j->changes_to, e);
	if (st != YZ_OK)
		return st;
	j->number = last + 1;
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *tu = ASN1_TIME_set(NULL, (time_t)(j->now / 1000));
	ASN1_TIME *nu = ASN1_TIME_set(NULL, (time_t)((j->now + PKI_CRL_PERIOD) / 1000));
	ASN1_INTEGER *num = ASN1_INTEGER_new();
	AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();
	const ASN1_OCTET_STRING *skid = X509_get0_subject_key_id(ca->cert);
	if (!crl || !tu || !nu || !num || !akid || !X509_CRL_set_version(crl, 1) ||
	    !X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca->cert)) ||
	    !X509_CRL_set1_lastUpdate(crl, tu) || !X509_CRL_set1_nextUpdate(crl, nu) ||
	    !ASN1_INTEGER_set_int64(num, j->number) ||
	    !X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0) ||
	    (skid && (!(akid->keyid = ASN1_OCTET_STRING_dup(skid)) ||
	              !X509_CRL_add1_ext_i2d(crl, NID_authority_key_identifier, akid, 0, 0))))
		st = yz_fail(e, YZ_ECRYPTO, "cannot build the CRL");
	store_rows *r = NULL;
	if (st == YZ_OK)
		st = store_query(tx,
		                 "SELECT serial, revoked_at, COALESCE(reason, 0) FROM pki_cert "
		                 "WHERE ca_id = ? AND status <> 'valid'",
		                 k, 1, &r, e);
	while (st == YZ_OK && store_next(r))
		st = add_revoked(crl, store_col_text(r, 0), store_col_int(r, 1),
		                 (int)store_col_int(r, 2), e);
	if (r) {
		yz_status cst = store_rows_close(r, st == YZ_OK ? e : NULL);
		if (st == YZ_OK)
			st = cst;
	}
	if (st == YZ_OK) {
		X509_CRL_sort(crl);
		st = pki_crl_sign(crl, ca->key, e);
	}
	if (st == YZ_OK && (j->len = i2d_X509_CRL(crl, &j->der)) <= 0)
		st = yz_fail(e, YZ_ECRYPTO, "cannot encode the CRL");
	X509_CRL_free(crl);
	ASN1_TIME_free(tu);
	ASN1_TIME_free(nu);
	ASN1_INTEGER_free(num);
	AUTHORITY_KEYID_free(akid);
	if (st != YZ_OK)
		return st;
	store_val v[] = {sv_int(ca->id),        sv_int(j->number),
	                 sv_int(j->now),        sv_int(j->now + PKI_CRL_PERIOD),
	                 sv_int(j->changes_to), sv_blob(j->der, (size_t)j->len)};
	return store_exec(tx,
	                  "INSERT INTO pki_crl (ca_id, number, this_update, next_update, "
	                  "includes_changes_to, der) VALUES (?, ?, ?, ?, ?, ?)",
	                  v, SV_N(v), e);
}

static void cache_set(pki_ca_rt *ca, const void *der, int len, int64_t number, int64_t this_u,
                      int64_t next_u, int64_t changes_to)
{
	unsigned char *copy = malloc((size_t)len);
	if (!copy)
		return;
	memcpy(copy, der, (size_t)len);
	pthread_mutex_lock(&ca->mu);
	if (number > ca->crl_number) {
		free(ca->crl);
		ca->crl = copy;
		copy = NULL;
		ca->crl_len = len;
		ca->crl_number = number;
		ca->crl_this = this_u;
		ca->crl_next = next_u;
		ca->changed_seen = changes_to;
	}
	pthread_mutex_unlock(&ca->mu);
	free(copy);
}

yz_status pki_crl_resign(store *s, pki_ca_rt *ca, yz_err *e)
{
	crl_job j = {.ca = ca, .now = clock_now_ms()};
	yz_status st = store_write(s, crl_job_fn, &j, e);
	if (st == YZ_OK)
		cache_set(ca, j.der, j.len, j.number, j.now, j.now + PKI_CRL_PERIOD, j.changes_to);
	OPENSSL_free(j.der);
	return st;
}

/* The newest stored CRL into the cache; *missing when there is none. */
static yz_status load_latest(store *s, pki_ca_rt *ca, bool *missing, yz_err *e)
{
	store_conn *c;
	yz_status st = store_reader(s, &c, e);
	if (st != YZ_OK)
		return st;
	store_val k[] = {sv_int(ca->id)};
	store_rows *r;
	st = store_query(c,
	                 "SELECT number, this_update, next_update, includes_changes_to, der "
	                 "FROM pki_crl WHERE ca_id = ? ORDER BY number DESC LIMIT 1",
	                 k, 1, &r, e);
	if (st != YZ_OK)
		return st;
	*missing = !store_next(r);
	if (!*missing) {
		size_t n;
		const void *der = store_col_blob(r, 4, &n);
		cache_set(ca, der, (int)n, store_col_int(r, 0), store_col_int(r, 1),
		          store_col_int(r, 2), store_col_int(r, 3));
	}
	return store_rows_close(r, e);
}

static bool due(pki_ca_rt *ca, int64_t now)
{
	pthread_mutex_lock(&ca->mu);
	bool d = !ca->crl || ca->crl_next - now < PKI_CRL_PERIOD / 2;
	pthread_mutex_unlock(&ca->mu);
	return d;
}

yz_status pki_crl(store *s, const char *name, buf *out, yz_err *e)
{
	pki_ca_rt *ca = pki_ca_find(name);
	if (!ca)
		return yz_fail(e, YZ_ENOTFOUND, "no CA named %s", name ? name : "");
	bool missing = false;
	yz_status st = YZ_OK;
	if (due(ca, clock_now_ms()))
		st = load_latest(s, ca, &missing, e);
	if (st == YZ_OK && due(ca, clock_now_ms()))
		st = pki_crl_resign(s, ca, e);
	if (st != YZ_OK)
		return st;
	pthread_mutex_lock(&ca->mu);
	st = buf_append(out, ca->crl, (size_t)ca->crl_len);
	pthread_mutex_unlock(&ca->mu);
	return st == YZ_OK ? YZ_OK : yz_fail(e, st, "CRL too large");
}

/* What other processes changed: newer CRLs into the cache, cached OCSP
 * answers of changed certificates dropped, stale CRLs signed anew. */
static int64_t changes_seen;

yz_status pki_crl_refresh(store *s, int *signed_n, yz_err *e)
{
	*signed_n = 0;
	store_conn *c;
	yz_status st = store_reader(s, &c, e);
	if (st != YZ_OK)
		return st;
	store_val since[] = {sv_int(changes_seen)};
	store_rows *r;
	st = store_query(c,
	                 "SELECT ca_id, serial, changed_at FROM pki_cert WHERE changed_at > ? "
	                 "ORDER BY changed_at LIMIT 10000",
	                 since, 1, &r, e);
	if (st != YZ_OK)
		return st;
	int64_t newest = changes_seen;
	while (store_next(r)) {
		pki_ocsp_forget(store_col_int(r, 0), store_col_text(r, 1));
		newest = store_col_int(r, 2);
	}
	if ((st = store_rows_close(r, e)) != YZ_OK)
		return st;
	changes_seen = newest;
	int64_t now = clock_now_ms();
	for (int i = 0; i < pki_ca_count() && st == YZ_OK; i++) {
		pki_ca_rt *ca = pki_ca_at(i);
		bool missing;
		int64_t changed = 0;
		store_val k[] = {sv_int(ca->id)};
		st = load_latest(s, ca, &missing, e);
		if (st == YZ_OK)
			st = store_query_int(
			    c, "SELECT COALESCE(MAX(changed_at), 0) FROM pki_cert WHERE ca_id = ?",
			    k, 1, &changed, e);
		if (st != YZ_OK)
			break;
		pthread_mutex_lock(&ca->mu);
		bool stale = !ca->crl || ca->changed_seen < changed;
		pthread_mutex_unlock(&ca->mu);
		if (stale || due(ca, now)) {
			st = pki_crl_resign(s, ca, e);
			if (st == YZ_OK)
				(*signed_n)++;
		}
	}
	return st;
}
