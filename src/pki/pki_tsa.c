/*
 * pki_tsa.c — the time-stamping authority (RFC 3161, with the ESS
 * signing-certificate-v2 attribute of RFC 5816; GB/T 20520 follows the same
 * messages).
 *
 * Signers. Each CA has one TSA signer: a key generated here (the CA's
 * algorithm), a certificate issued by the CA under the "tsa" profile (key
 * usage digitalSignature and nonRepudiation, the one extended key usage
 * timeStamping, critical, as RFC 3161 §2.3 requires) and recorded in
 * pki_cert like any other, so that the CA's CRL and OCSP answer for it; the
 * private key sealed under the KEK like a CA key (crypto_seal, associated
 * data "yizhan-pki-tsa:<ca>:<certificate serial>") in pki_tsa. The newest
 * row of a CA signs. pki_load and pki_refresh load them.
 *
 * Which signer answers. SM2 by default: the signer of the first
 * subordinate SM2 CA (in the demo city, "city"; a root's only when there is
 * no subordinate CA of the algorithm). A request is answered with ECDSA
 * P-256 (the first subordinate ECDSA CA, "city-p256") when
 *   - its reqPolicy is our ECDSA policy, or
 *   - the route is asked for it: POST /pki/tsa?alg=ecdsa (pki_tsa_answer_as).
 * A reqPolicy that is our SM2 policy picks SM2; any other reqPolicy, or one
 * that contradicts ?alg=, is refused with unacceptedPolicy. The hash of the
 * message imprint does not choose: SM3, SHA-256, SHA-384 and SHA-512 are all
 * accepted by both signers (a SHA-256 imprint may get an SM2 token).
 *
 * Policy OIDs. PKI_TSA_POLICY_SM2 and PKI_TSA_POLICY_ECDSA (pki.h) sit under
 * 1.3.6.1.4.1.32473, the private enterprise number that RFC 5612 reserves
 * for documentation: they are PLACEHOLDERS. A city that runs this TSA in
 * earnest must register its own arc (an IANA private enterprise number, or
 * one under its national registration authority) and put it there.
 *
 * Tokens. TSTInfo: version 1, our policy, the request's messageImprint
 * copied as it came, a 128-bit random serial number, genTime in UTC with
 * milliseconds (trailing zeros left out, as DER requires), accuracy
 * {seconds 1} (the platform's clock is kept by chrony within well under a
 * second; one second is what we state), ordering false (left out: it is
 * the default), the request's nonce when it had one, and tsa naming the
 * signer's certificate subject. SignedData is encoded by pki_cms.c, with our
 * DER writer, for both algorithms (OpenSSL 3.0's CMS and TS code cannot sign
 * with SM2, DESIGN §7, and one encoder for both keeps them alike): version
 * 3, the digest (SM3 for SM2, SHA-256 for ECDSA), the TSTInfo as
 * encapsulated content, the TSA certificate when the request asked for it
 * (certReq), and one SignerInfo (version 1, issuerAndSerialNumber) with
 * signed attributes contentType, messageDigest and signingCertificateV2
 * (ESSCertIDv2 with the certificate's SM3 hash and the hashAlgorithm field
 * for SM2; SHA-256 and no hashAlgorithm field for ECDSA), signed through
 * crypto_sign: SM2 with SM3 and the ID 1234567812345678
 * (signatureAlgorithm 1.2.156.10197.1.501) or ECDSA P-256 with SHA-256
 * (ecdsa-with-SHA256), over the DER of the attributes as a SET.
 *
 * Serial numbers are unique under any concurrency, on any number of nodes:
 * 128 random bits, and every token is recorded (serial as the primary key
 * of pki_tsa_log, with the time, the imprint and the SM3 of the token)
 * through store_write before it is handed out; a clash (never seen, but
 * possible in principle) is signed again with a new serial. Tokens are
 * signed per request: SM2 signing costs about 0.3 ms.
 *
 * Answers are always a TimeStampResp: granted (0) with a token, or
 * rejection (2) with a failInfo bit (badAlg for a hash we do not take,
 * badRequest, badDataFormat for bytes that do not parse or a hash of the
 * wrong length, unacceptedPolicy, unacceptedExtension for any request
 * extension, systemFailure when we fail) and a statusString saying why.
 */
#include <openssl/err.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "core/clock.h"
#include "core/jx.h"
#include "pki/pki_cms.h"

#define TSA_MAX       64
#define TSA_REQ_MAX   (64 * 1024)
#define TSA_TOKEN_MAX (64 * 1024)
#define NONCE_MAX     64 /* bytes of a request's nonce */
#define SERIAL_BYTES  16

/* PKIFailureInfo bits (RFC 3161 §2.4.2) */
enum {
	FAIL_BAD_ALG = 0,
	FAIL_BAD_REQUEST = 2,
	FAIL_BAD_DATA_FORMAT = 5,
	FAIL_UNACCEPTED_POLICY = 15,
	FAIL_UNACCEPTED_EXTENSION = 16,
	FAIL_SYSTEM = 25,
};

static void hex_of(const unsigned char *p, size_t n, char *out, size_t cap)
{
	static const char digits[] = "0123456789abcdef";
	size_t k = 0;
	for (size_t i = 0; i < n && k + 2 < cap; i++) {
		out[k++] = digits[p[i] >> 4];
		out[k++] = digits[p[i] & 15];
	}
	out[k] = '\0';
}

static bool tsa_eku(X509 *x);

/* ---- the signers loaded into this process ---- */

typedef struct tsa_rt {
	int64_t id;
	pki_ca_rt *ca;
	crypto_alg alg;
	crypto_key *key;
	X509 *cert;
	unsigned char *der, *issuer, *subject, *serial; /* certificate; Names; INTEGER */
	int der_len, issuer_len, subject_len, serial_len;
	char subject_text[256];
	char serial_hex[80];
} tsa_rt;

static pthread_mutex_t tsa_mu = PTHREAD_MUTEX_INITIALIZER;
static tsa_rt *_Atomic tsas[TSA_MAX];
static _Atomic int tsa_n;

static void tsa_free(tsa_rt *t)
{
	if (!t)
		return;
	crypto_key_free(t->key);
	X509_free(t->cert);
	OPENSSL_free(t->der);
	OPENSSL_free(t->issuer);
	OPENSSL_free(t->subject);
	OPENSSL_free(t->serial);
	free(t);
}

void pki_tsa_unload(void)
{
	pthread_mutex_lock(&tsa_mu);
	int n = atomic_load(&tsa_n);
	atomic_store(&tsa_n, 0);
	for (int i = 0; i < n; i++) {
		tsa_free(atomic_load(&tsas[i]));
		atomic_store(&tsas[i], NULL);
	}
	pthread_mutex_unlock(&tsa_mu);
}

/* The signer of a CA: its newest. */
static tsa_rt *tsa_of(const pki_ca_rt *ca)
{
	tsa_rt *best = NULL;
	int n = atomic_load(&tsa_n);
	for (int i = 0; i < n; i++) {
		tsa_rt *t = atomic_load(&tsas[i]);
		if (t->ca == ca && (!best || t->id > best->id))
			best = t;
	}
	return best;
}

/* The signer that answers for an algorithm: the first subordinate CA's,
 * else the first root's. */
static tsa_rt *tsa_pick(crypto_alg alg)
{
	tsa_rt *root = NULL;
	for (int i = 0; i < pki_ca_count(); i++) {
		pki_ca_rt *ca = pki_ca_at(i);
		tsa_rt *t = ca && ca->alg == alg ? tsa_of(ca) : NULL;
		if (t && ca->parent[0])
			return t;
		if (t && !root)
			root = t;
	}
	return root;
}

static bool der_of(int len, unsigned char **p, int *n)
{
	*n = len;
	return len > 0 && *p;
}

/* Fill a signer's derived fields from its certificate. */
static yz_status tsa_prepare(tsa_rt *t, const void *cert, size_t n, yz_err *e)
{
	if (!(t->cert = pki_x509_parse(cert, n)))
		return yz_fail(e, YZ_EDB, "a TSA certificate does not parse");
	if (!der_of(i2d_X509(t->cert, &t->der), &t->der, &t->der_len) ||
	    !der_of(i2d_X509_NAME(X509_get_issuer_name(t->cert), &t->issuer), &t->issuer,
	            &t->issuer_len) ||
	    !der_of(i2d_X509_NAME(X509_get_subject_name(t->cert), &t->subject), &t->subject,
	            &t->subject_len) ||
	    !der_of(i2d_ASN1_INTEGER(X509_get0_serialNumber(t->cert), &t->serial), &t->serial,
	            &t->serial_len)) {
		ERR_clear_error();
		return yz_fail(e, YZ_ECRYPTO, "cannot encode the TSA certificate");
	}
	pki_name_text(X509_get_subject_name(t->cert), t->subject_text, sizeof t->subject_text);
	pki_serial_hex(X509_get0_serialNumber(t->cert), t->serial_hex, sizeof t->serial_hex);
	if (X509_check_private_key(t->cert, crypto_key_evp(t->key)) != 1) {
		ERR_clear_error();
		return yz_fail(e, YZ_ECRYPTO, "TSA %s: the key is not the certificate's",
		               t->serial_hex);
	}
	return YZ_OK;
}

/* YZ_ECONFLICT when this signer is loaded already (a refresh raced with
 * pki_tsa_create). */
static yz_status tsa_register(tsa_rt *t, yz_err *e)
{
	yz_status st = YZ_OK;
	pthread_mutex_lock(&tsa_mu);
	int n = atomic_load(&tsa_n);
	for (int i = 0; i < n; i++)
		if (atomic_load(&tsas[i])->id == t->id)
			st = YZ_ECONFLICT;
	if (st == YZ_OK && n >= TSA_MAX)
		st = yz_fail(e, YZ_ETOOBIG, "at most %d TSA signers", TSA_MAX);
	if (st == YZ_OK) {
		atomic_store(&tsas[n], t);
		atomic_store(&tsa_n, n + 1);
	}
	pthread_mutex_unlock(&tsa_mu);
	return st;
}

static void kek_aad(const char *ca, const char *serial, char *out, size_t cap)
{
	snprintf(out, cap, "yizhan-pki-tsa:%s:%s", ca, serial);
}

yz_status pki_tsa_load(store *s, const char *data_dir, yz_err *e)
{
	store_conn *c;
	yz_status st = store_reader(s, &c, e);
	if (st != YZ_OK)
		return st;
	int64_t known = 0;
	int n = atomic_load(&tsa_n);
	for (int i = 0; i < n; i++)
		if (atomic_load(&tsas[i])->id > known)
			known = atomic_load(&tsas[i])->id;
	store_val v[] = {sv_int(known)};
	store_rows *r;
	st =
	    store_query(c,
	                "SELECT id, ca_id, alg, serial, cert, key_sealed FROM pki_tsa WHERE id > ? "
	                "ORDER BY id",
	                v, 1, &r, e);
	if (st != YZ_OK)
		return st;
	unsigned char kek[CRYPTO_SEAL_KEY_LEN];
	bool have_kek = false;
	while (st == YZ_OK && store_next(r)) {
		pki_ca_rt *ca = pki_ca_by_id(store_col_int(r, 1));
		if (!ca)
			continue; /* its CA is not loaded yet: the next refresh */
		if (!have_kek) {
			if (!data_dir)
				break;
			if ((st = pki_kek(data_dir, false, kek, e)) != YZ_OK)
				break;
			have_kek = true;
		}
		tsa_rt *t = calloc(1, sizeof *t);
		if (!t) {
			st = yz_fail(e, YZ_ENOMEM, "out of memory");
			break;
		}
		t->id = store_col_int(r, 0);
		t->ca = ca;
		char aad[128];
		kek_aad(ca->name, store_col_text(r, 3), aad, sizeof aad);
		size_t cn = 0, kn = 0;
		const void *cert = store_col_blob(r, 4, &cn);
		const void *sealed = store_col_blob(r, 5, &kn);
		buf pem;
		buf_init(&pem, 16384);
		if (crypto_alg_parse(store_col_text(r, 2), &t->alg) != YZ_OK)
			st = yz_fail(e, YZ_EDB, "TSA of %s: unknown algorithm", ca->name);
		if (st == YZ_OK && crypto_open(kek, aad, strlen(aad), sealed, kn, &pem) != YZ_OK)
			st =
			    yz_fail(e, YZ_ECRYPTO,
			            "TSA of %s: its key does not open with this key-encryption key",
			            ca->name);
		if (st == YZ_OK)
			st = crypto_key_from_pem(pem.p, pem.len, NULL, &t->key, e);
		if (pem.p)
			memset(pem.p, 0, pem.len);
		buf_free(&pem);
		if (st == YZ_OK)
			st = tsa_prepare(t, cert, cn, e);
		if (st == YZ_OK) {
			st = tsa_register(t, e);
			if (st == YZ_ECONFLICT) {
				st = YZ_OK;
				tsa_free(t);
			}
		} else {
			tsa_free(t);
		}
	}
	yz_status cst = store_rows_close(r, st == YZ_OK ? e : NULL);
	memset(kek, 0, sizeof kek);
	return st != YZ_OK ? st : cst;
}

/* ---- making a signer ---- */

typedef struct tsa_job {
	tsa_rt *t;
	const yz_actor *who;
	const buf *sealed;
	int64_t now, not_after;
} tsa_job;

static yz_status tsa_job_fn(store_conn *tx, void *arg, yz_err *e)
{
	tsa_job *j = arg;
	tsa_rt *t = j->t;
	store_val v[] = {sv_int(t->ca->id),
	                 sv_text(crypto_alg_name(t->alg)),
	                 sv_text(t->serial_hex),
	                 sv_text(t->subject_text),
	                 sv_int(j->not_after),
	                 sv_blob(t->der, (size_t)t->der_len),
	                 sv_blob(j->sealed->p, j->sealed->len),
	                 sv_int(j->now)};
	store_rows *r;
	yz_status st = store_query(tx,
	                           "INSERT INTO pki_tsa (ca_id, alg, serial, subject, not_after, "
	                           "cert, key_sealed, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
	                           "RETURNING id",
	                           v, SV_N(v), &r, e);
	if (st != YZ_OK)
		return st;
	t->id = store_next(r) ? store_col_int(r, 0) : 0;
	if ((st = store_rows_close(r, e)) != YZ_OK)
		return st;
	if (!t->id)
		return yz_fail(e, YZ_EDB, "no id for the new TSA signer");
	char object[128];
	snprintf(object, sizeof object, "pki_tsa:%s/%s", t->ca->name, t->serial_hex);
	json_t *change =
	    json_pack("{s:s, s:s, s:s, s:s}", "ca", t->ca->name, "alg", crypto_alg_name(t->alg),
	              "subject", t->subject_text, "policy",
	              t->alg == CRYPTO_SM2 ? PKI_TSA_POLICY_SM2 : PKI_TSA_POLICY_ECDSA);
	st = audit_append(tx, j->who, "pki.tsa.create", object, NULL, change, e);
	json_decref(change);
	return st;
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

static size_t utf8_chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

static json_t *tsa_json(const tsa_rt *t)
{
	char na[40];
	clock_format_city(pki_asn1_ms(X509_get0_notAfter(t->cert)), na, sizeof na);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "ca", t->ca->name, "alg",
	                 crypto_alg_name(t->alg), "serial", t->serial_hex, "subject",
	                 t->subject_text, "not_after", na, "policy",
	                 t->alg == CRYPTO_SM2 ? PKI_TSA_POLICY_SM2 : PKI_TSA_POLICY_ECDSA,
	                 "default", tsa_pick(t->alg) == t);
}

yz_status pki_tsa_create(store *s, const char *data_dir, const yz_actor *who, const char *ca_name,
                         json_t **out, yz_err *e)
{
	pki_ca_rt *ca = pki_ca_find(ca_name);
	if (!ca)
		return yz_fail(e, YZ_ENOTFOUND, "no CA named %s", ca_name ? ca_name : "");
	unsigned char kek[CRYPTO_SEAL_KEY_LEN];
	yz_status st = pki_kek(data_dir, false, kek, e);
	if (st != YZ_OK)
		return st;
	tsa_rt *t = calloc(1, sizeof *t);
	if (!t)
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	t->ca = ca;
	t->alg = ca->alg;
	buf pub, pem, sealed;
	buf_init(&pub, 16384);
	buf_init(&pem, 16384);
	buf_init(&sealed, 16384);
	json_t *in = NULL, *rec = NULL;
	st = crypto_key_generate(ca->alg, &t->key, e);
	if (st == YZ_OK)
		st = crypto_key_to_pem(t->key, false, NULL, &pub, e);
	if (st == YZ_OK) {
		/* the subject: the CA's CN with 时间戳服务, and its O */
		char cn[256], o[256], tsa_cn[300];
		name_entry(X509_get_subject_name(ca->cert), NID_commonName, cn, sizeof cn);
		name_entry(X509_get_subject_name(ca->cert), NID_organizationName, o, sizeof o);
		snprintf(tsa_cn, sizeof tsa_cn, "%s 时间戳服务", cn);
		if (!cn[0] || utf8_chars(tsa_cn) > 64)
			snprintf(tsa_cn, sizeof tsa_cn, "时间戳服务 %s", ca->name);
		in = json_pack("{s:s, s:s, s:s, s:s}", "ca", ca->name, "profile", "tsa",
		               "public_key", pub.p, "cn", tsa_cn);
		if (o[0] && utf8_chars(o) <= 64)
			jx_set_str(in, "o", o);
		st = pki_issue(s, who, in, &rec, e);
	}
	bool issued = st == YZ_OK, recorded = false;
	if (st == YZ_OK) {
		const char *cpem = jx_str(rec, "pem", "");
		st = tsa_prepare(t, cpem, strlen(cpem), e);
	}
	/* profiles stored before ext_key_usage_critical existed make a
	 * certificate that RFC 3161 verifiers refuse */
	if (st == YZ_OK && !tsa_eku(t->cert))
		st =
		    yz_fail(e, YZ_EREFUSED,
		            "the tsa profile must make timeStamping the only extended key usage, "
		            "critical (\"ext_key_usage_critical\": true): load the profiles again");
	if (st == YZ_OK) {
		char aad[128];
		kek_aad(ca->name, t->serial_hex, aad, sizeof aad);
		st = crypto_key_to_pem(t->key, true, NULL, &pem, e);
		if (st == YZ_OK &&
		    crypto_seal(kek, aad, strlen(aad), pem.p, pem.len, &sealed) != YZ_OK)
			st = yz_fail(e, YZ_ECRYPTO, "cannot seal the TSA key");
	}
	if (st == YZ_OK) {
		tsa_job j = {t, who, &sealed, clock_now_ms(),
		             pki_asn1_ms(X509_get0_notAfter(t->cert))};
		st = store_write(s, tsa_job_fn, &j, e);
		recorded = st == YZ_OK;
	}
	if (st == YZ_OK)
		st = tsa_register(t, e);
	if (st == YZ_OK && out)
		*out = tsa_json(t);
	/* a certificate issued for a signer that did not come to be: its key is
	 * gone, so it is revoked rather than left valid */
	yz_err ignored = {0};
	if (st != YZ_OK && issued && !recorded &&
	    pki_revoke(s, who, ca->name, jx_str(rec, "serial", ""), PKI_CESSATION, &ignored) !=
	        YZ_OK)
		(void)ignored;
	if (st != YZ_OK)
		tsa_free(t);
	json_decref(in);
	json_decref(rec);
	if (pem.p)
		memset(pem.p, 0, pem.len);
	buf_free(&pub);
	buf_free(&pem);
	buf_free(&sealed);
	memset(kek, 0, sizeof kek);
	return st;
}

bool pki_tsa_has(const char *ca_name)
{
	pki_ca_rt *ca = pki_ca_find(ca_name);
	return ca && tsa_of(ca);
}

json_t *pki_tsa_index(void)
{
	json_t *a = json_array();
	for (int i = 0; i < pki_ca_count(); i++) {
		tsa_rt *t = tsa_of(pki_ca_at(i));
		if (t)
			json_array_append_new(a, tsa_json(t));
	}
	return a;
}

yz_status pki_tsa_cert(const char *ca_name, buf *out, yz_err *e)
{
	pki_ca_rt *ca = pki_ca_find(ca_name);
	tsa_rt *t = ca ? tsa_of(ca) : NULL;
	if (!t)
		return yz_fail(e, YZ_ENOTFOUND, "no TSA signer for CA %s", ca_name ? ca_name : "");
	yz_status st = buf_append(out, t->der, (size_t)t->der_len);
	return st == YZ_OK ? YZ_OK : yz_fail(e, st, "certificate too large");
}

/* ---- answering ---- */

typedef struct tsa_req {
	const pki_hash *hash;
	pki_tlv imprint; /* the whole MessageImprint, copied into the TSTInfo */
	pki_tlv hashed;
	bool has_policy, has_nonce, cert_req;
	pki_tlv policy, nonce;
} tsa_req;

/* -1 when the request is good, else the failInfo bit with why. */
static int parse_req(const void *p, size_t n, tsa_req *q, char *why, size_t cap)
{
	memset(q, 0, sizeof *q);
	pki_rd r = pki_rd_of(p, n);
	pki_tlv top, t, oid;
	int64_t version = 0;
	if (n == 0 || n > TSA_REQ_MAX || !pki_rd_get(&r, PKI_DER_SEQ, &top) || pki_rd_more(&r)) {
		snprintf(why, cap, "not a DER TimeStampReq");
		return FAIL_BAD_DATA_FORMAT;
	}
	pki_rd in = pki_rd_in(&top);
	if (!pki_rd_get(&in, PKI_DER_INT, &t) || !pki_tlv_int_ok(&t) ||
	    !pki_rd_get(&in, PKI_DER_SEQ, &q->imprint)) {
		snprintf(why, cap, "not a DER TimeStampReq: version and messageImprint expected");
		return FAIL_BAD_DATA_FORMAT;
	}
	if (!pki_tlv_small(&t, &version) || version != 1) {
		snprintf(why, cap, "version must be 1");
		return FAIL_BAD_REQUEST;
	}
	pki_rd mi = pki_rd_in(&q->imprint);
	if (!pki_rd_algid(&mi, &oid) || !pki_rd_get(&mi, PKI_DER_OCTETS, &q->hashed) ||
	    pki_rd_more(&mi)) {
		snprintf(why, cap, "messageImprint: {hashAlgorithm, hashedMessage} expected");
		return FAIL_BAD_DATA_FORMAT;
	}
	if (!(q->hash = pki_hash_by_oid(&oid))) {
		char text[80] = "?";
		if (!pki_tlv_oid_text(&oid, text, sizeof text))
			snprintf(text, sizeof text, "(not an OID)");
		snprintf(why, cap,
		         "hash algorithm %s is not accepted: SM3, SHA-256, SHA-384 or SHA-512",
		         text);
		return FAIL_BAD_ALG;
	}
	if (q->hashed.n != q->hash->len) {
		snprintf(why, cap, "hashedMessage has %zu bytes; a %s hash has %zu", q->hashed.n,
		         q->hash->name, q->hash->len);
		return FAIL_BAD_DATA_FORMAT;
	}
	q->has_policy = pki_rd_opt(&in, PKI_DER_OID, &q->policy);
	char text[80];
	if (q->has_policy && !pki_tlv_oid_text(&q->policy, text, sizeof text)) {
		snprintf(why, cap, "reqPolicy is not an OID");
		return FAIL_BAD_DATA_FORMAT;
	}
	if ((q->has_nonce = pki_rd_opt(&in, PKI_DER_INT, &q->nonce)) &&
	    (!pki_tlv_int_ok(&q->nonce) || q->nonce.n > NONCE_MAX)) {
		snprintf(why, cap, "nonce: an INTEGER of at most %d bytes", NONCE_MAX);
		return FAIL_BAD_DATA_FORMAT;
	}
	if (pki_rd_opt(&in, PKI_DER_BOOL, &t) && !pki_tlv_bool(&t, &q->cert_req)) {
		snprintf(why, cap, "certReq: a DER BOOLEAN");
		return FAIL_BAD_DATA_FORMAT;
	}
	if (pki_rd_opt(&in, PKI_DER_CTX(0), &t)) {
		snprintf(why, cap, "request extensions are not supported");
		return FAIL_UNACCEPTED_EXTENSION;
	}
	if (pki_rd_more(&in)) {
		snprintf(why, cap, "not a DER TimeStampReq: unexpected fields");
		return FAIL_BAD_DATA_FORMAT;
	}
	return -1;
}

static int choose(const char *alg, const tsa_req *q, tsa_rt **out, char *why, size_t cap)
{
	crypto_alg want = 0;
	if (alg && alg[0]) {
		if (!strcmp(alg, "sm2"))
			want = CRYPTO_SM2;
		else if (!strcmp(alg, "ecdsa") || !strcmp(alg, "ecdsa-p256"))
			want = CRYPTO_ECDSA_P256;
		else {
			snprintf(why, cap, "alg: sm2 or ecdsa");
			return FAIL_BAD_REQUEST;
		}
	}
	if (q->has_policy) {
		crypto_alg pa = pki_tlv_oid_is(&q->policy, PKI_TSA_POLICY_SM2) ? CRYPTO_SM2
		                : pki_tlv_oid_is(&q->policy, PKI_TSA_POLICY_ECDSA)
		                    ? CRYPTO_ECDSA_P256
		                    : 0;
		char text[80] = "";
		(void)pki_tlv_oid_text(&q->policy, text, sizeof text);
		if (!pa) {
			snprintf(why, cap,
			         "policy %s is not ours: " PKI_TSA_POLICY_SM2
			         " (SM2) or " PKI_TSA_POLICY_ECDSA " (ECDSA P-256)",
			         text);
			return FAIL_UNACCEPTED_POLICY;
		}
		if (want && want != pa) {
			snprintf(why, cap, "policy %s is the %s signer's, but alg asks for %s",
			         text, crypto_alg_name(pa), crypto_alg_name(want));
			return FAIL_UNACCEPTED_POLICY;
		}
		want = pa;
	}
	if (!want)
		want = CRYPTO_SM2;
	if (!(*out = tsa_pick(want))) {
		snprintf(why, cap, "no %s time-stamping signer is set up here",
		         want == CRYPTO_SM2 ? "SM2" : "ECDSA");
		return q->has_policy ? FAIL_UNACCEPTED_POLICY : FAIL_SYSTEM;
	}
	return -1;
}

static yz_status reject(buf *out, int bit, const char *why)
{
	pki_der w;
	pki_der_init(&w, 4096);
	pki_der_begin(&w, PKI_DER_SEQ);
	pki_der_begin(&w, PKI_DER_SEQ);
	pki_der_small(&w, 2); /* rejection */
	pki_der_begin(&w, PKI_DER_SEQ);
	pki_der_utf8(&w, why);
	pki_der_end(&w);
	pki_der_bit(&w, (unsigned)bit);
	pki_der_end(&w);
	pki_der_end(&w);
	yz_status st = pki_der_done(&w);
	if (st == YZ_OK)
		st = buf_append(out, w.b.p, w.b.len);
	pki_der_free(&w);
	return st;
}

static void put_tstinfo(pki_der *w, const tsa_rt *t, const tsa_req *q,
                        const unsigned char serial[SERIAL_BYTES], int64_t now)
{
	pki_der_begin(w, PKI_DER_SEQ);
	pki_der_small(w, 1);
	pki_der_oid(w, t->alg == CRYPTO_SM2 ? PKI_TSA_POLICY_SM2 : PKI_TSA_POLICY_ECDSA);
	pki_der_raw(w, q->imprint.raw, q->imprint.rawn);
	pki_der_uint(w, serial, SERIAL_BYTES);
	pki_der_gentime(w, now);
	pki_der_begin(w, PKI_DER_SEQ); /* accuracy */
	pki_der_small(w, 1);
	pki_der_end(w);
	/* ordering: FALSE, the default, so absent */
	if (q->has_nonce)
		pki_der_raw(w, q->nonce.raw, q->nonce.rawn);
	pki_der_begin(w, PKI_DER_CTX(0)); /* tsa: GeneralName directoryName */
	pki_der_begin(w, PKI_DER_CTX(4));
	pki_der_raw(w, t->subject, (size_t)t->subject_len);
	pki_der_end(w);
	pki_der_end(w);
	pki_der_end(w);
}

/* The serial as the log and OpenSSL show it: upper-case hex of the
 * magnitude, whole bytes, no leading zero bytes. */
static void serial_text(const unsigned char serial[SERIAL_BYTES], char out[2 * SERIAL_BYTES + 2])
{
	static const char digits[] = "0123456789ABCDEF";
	size_t i = 0, k = 0;
	while (i + 1 < SERIAL_BYTES && serial[i] == 0)
		i++;
	for (; i < SERIAL_BYTES; i++) {
		out[k++] = digits[serial[i] >> 4];
		out[k++] = digits[serial[i] & 15];
	}
	out[k] = '\0';
}

/* ContentInfo{SignedData} over the TSTInfo tst, into token (pki_cms.c). */
static yz_status sign_token(const tsa_rt *t, bool with_cert, const void *tst, size_t tn,
                            pki_der *token, yz_err *e)
{
	pki_cms_out p = {.key = t->key,
	                 .cert = t->der,
	                 .cert_len = (size_t)t->der_len,
	                 .content_type = PKI_OID_TST_INFO,
	                 .content = tst,
	                 .content_len = tn,
	                 .with_cert = with_cert};
	yz_status st = pki_cms_sign(&p, token, e);
	return st == YZ_OK ? YZ_OK
	                   : yz_fail(e, st, "cannot encode the time-stamp token: %s", e->msg);
}

typedef struct log_job {
	const tsa_rt *t;
	const char *serial;
	int64_t now;
	const tsa_req *q;
	unsigned char token_sm3[CRYPTO_SM3_LEN];
} log_job;

static yz_status log_job_fn(store_conn *tx, void *arg, yz_err *e)
{
	log_job *j = arg;
	store_val v[] = {sv_text(j->serial),
	                 sv_int(j->t->id),
	                 sv_int(j->now),
	                 sv_text(j->q->hash->name),
	                 sv_blob(j->q->hashed.v, j->q->hashed.n),
	                 sv_blob(j->token_sm3, sizeof j->token_sm3)};
	return store_exec(tx,
	                  "INSERT INTO pki_tsa_log (serial, tsa_id, gen_time, hash_alg, hash, "
	                  "token_sm3) VALUES (?, ?, ?, ?, ?, ?)",
	                  v, SV_N(v), e);
}

yz_status pki_tsa_answer_as(store *s, const char *alg, const void *req, size_t n, buf *out,
                            yz_err *e)
{
	tsa_req q;
	tsa_rt *t = NULL;
	char why[200];
	int bit = parse_req(req, n, &q, why, sizeof why);
	if (bit < 0)
		bit = choose(alg, &q, &t, why, sizeof why);
	if (bit >= 0) {
		yz_status st = reject(out, bit, why);
		return st == YZ_OK ? YZ_OK : yz_fail(e, st, "cannot encode the answer");
	}
	yz_status st = YZ_OK;
	pki_der tst, token;
	pki_der_init(&tst, TSA_TOKEN_MAX);
	pki_der_init(&token, TSA_TOKEN_MAX);
	for (int attempt = 0; attempt < 3; attempt++) {
		unsigned char serial[SERIAL_BYTES];
		if (crypto_random(serial, sizeof serial) != YZ_OK) {
			st = yz_fail(e, YZ_ECRYPTO, "no randomness for a serial number");
			break;
		}
		int64_t now = clock_now_ms();
		buf_reset(&tst.b);
		buf_reset(&token.b);
		put_tstinfo(&tst, t, &q, serial, now);
		if ((st = pki_der_done(&tst)) != YZ_OK) {
			st = yz_fail(e, st, "cannot encode the TSTInfo");
			break;
		}
		if ((st = sign_token(t, q.cert_req, tst.b.p, tst.b.len, &token, e)) != YZ_OK)
			break;
		char hex[2 * SERIAL_BYTES + 2];
		serial_text(serial, hex);
		log_job j = {.t = t, .serial = hex, .now = now, .q = &q};
		crypto_sm3(token.b.p, token.b.len, j.token_sm3);
		st = store_write(s, log_job_fn, &j, e);
		if (st != YZ_ECONFLICT)
			break;
	}
	if (st == YZ_OK) {
		pki_der resp;
		pki_der_init(&resp, TSA_TOKEN_MAX + 64);
		pki_der_begin(&resp, PKI_DER_SEQ);
		pki_der_begin(&resp, PKI_DER_SEQ);
		pki_der_small(&resp, 0); /* granted */
		pki_der_end(&resp);
		pki_der_raw(&resp, token.b.p, token.b.len);
		pki_der_end(&resp);
		st = pki_der_done(&resp);
		if (st == YZ_OK)
			st = buf_append(out, resp.b.p, resp.b.len);
		if (st != YZ_OK)
			st = yz_fail(e, st, "cannot encode the answer");
		pki_der_free(&resp);
	}
	pki_der_free(&tst);
	pki_der_free(&token);
	if (st != YZ_OK) {
		buf_reset(out);
		(void)reject(out, FAIL_SYSTEM, "the time-stamping authority failed; try again");
	}
	return st;
}

yz_status pki_tsa_answer(store *s, const void *req, size_t n, buf *out, yz_err *e)
{
	return pki_tsa_answer_as(s, NULL, req, n, out, e);
}

/* ---- our verifier ---- */

#define BAD(why) yz_fail(e, YZ_EINVAL, "not a time-stamp token: %s", why)

/* The token's SignedData: ours or any RFC 3161 token (version 3, a TSTInfo
 * inside). */
static yz_status parse_token(const pki_tlv *ci, pki_cms *k, yz_err *e)
{
	const char *why = pki_cms_parse(ci, k);
	if (why)
		return BAD(why);
	if (k->version != 3)
		return BAD("SignedData version is not 3");
	if (!pki_tlv_oid_is(&k->content_type, PKI_OID_TST_INFO) || !k->has_content)
		return BAD("the content is not a TSTInfo (id-ct-TSTInfo)");
	return YZ_OK;
}

typedef struct tst_info {
	char policy[80], serial[80], hash_alg[16];
	const pki_hash *hash;
	pki_tlv hashed;
	int64_t gen_time;
	double accuracy_s;
	bool has_accuracy, ordering, has_nonce;
	pki_tlv nonce;
} tst_info;

/* An [n] IMPLICIT INTEGER within lo..hi. */
static bool implicit_int(pki_tlv f, int64_t lo, int64_t hi, int64_t *out)
{
	f.tag = PKI_DER_INT;
	return pki_tlv_small(&f, out) && *out >= lo && *out <= hi;
}

static bool parse_tst(const pki_tlv *octets, tst_info *ti)
{
	memset(ti, 0, sizeof *ti);
	pki_rd r = pki_rd_in(octets);
	pki_tlv top, t, mi, oid;
	int64_t v;
	if (!pki_rd_get(&r, PKI_DER_SEQ, &top) || pki_rd_more(&r))
		return false;
	pki_rd in = pki_rd_in(&top);
	if (!pki_rd_get(&in, PKI_DER_INT, &t) || !pki_tlv_small(&t, &v) || v != 1 ||
	    !pki_rd_get(&in, PKI_DER_OID, &t) ||
	    !pki_tlv_oid_text(&t, ti->policy, sizeof ti->policy) ||
	    !pki_rd_get(&in, PKI_DER_SEQ, &mi))
		return false;
	pki_rd m = pki_rd_in(&mi);
	if (!pki_rd_algid(&m, &oid) || !(ti->hash = pki_hash_by_oid(&oid)) ||
	    !pki_rd_get(&m, PKI_DER_OCTETS, &ti->hashed) || pki_rd_more(&m) ||
	    ti->hashed.n != ti->hash->len)
		return false;
	yz_strlcpy(ti->hash_alg, ti->hash->name, sizeof ti->hash_alg);
	if (!pki_rd_get(&in, PKI_DER_INT, &t) ||
	    !pki_tlv_uint_hex(&t, ti->serial, sizeof ti->serial) ||
	    !pki_rd_get(&in, PKI_DER_GENTIME, &t) || !pki_tlv_gentime(&t, &ti->gen_time))
		return false;
	if (pki_rd_opt(&in, PKI_DER_SEQ, &t)) {
		pki_rd a = pki_rd_in(&t);
		pki_tlv f;
		int64_t secs = 0, millis = 0, micros = 0;
		if (pki_rd_opt(&a, PKI_DER_INT, &f) && !pki_tlv_small(&f, &secs))
			return false;
		if (pki_rd_opt(&a, PKI_DER_IMP(0), &f) && !implicit_int(f, 1, 999, &millis))
			return false;
		if (pki_rd_opt(&a, PKI_DER_IMP(1), &f) && !implicit_int(f, 1, 999, &micros))
			return false;
		if (pki_rd_more(&a))
			return false;
		ti->has_accuracy = true;
		ti->accuracy_s = (double)secs + (double)millis / 1e3 + (double)micros / 1e6;
	}
	if (pki_rd_opt(&in, PKI_DER_BOOL, &t) && !pki_tlv_bool(&t, &ti->ordering))
		return false;
	if ((ti->has_nonce = pki_rd_opt(&in, PKI_DER_INT, &ti->nonce)) &&
	    !pki_tlv_int_ok(&ti->nonce))
		return false;
	(void)pki_rd_opt(&in, PKI_DER_CTX(0), &t); /* tsa */
	(void)pki_rd_opt(&in, PKI_DER_CTX(1), &t); /* extensions */
	return !pki_rd_more(&in);
}

/* RFC 3161 §2.3: the extended key usage is timeStamping alone, critical. */
static bool tsa_eku(X509 *x)
{
	int crit = -1;
	EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(x, NID_ext_key_usage, &crit, NULL);
	bool ok = eku && crit == 1 && sk_ASN1_OBJECT_num(eku) == 1 &&
	          OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, 0)) == NID_time_stamp;
	EXTENDED_KEY_USAGE_free(eku);
	ERR_clear_error();
	return ok;
}

static bool same_bytes(const void *a, size_t an, const void *b, size_t bn)
{
	return an == bn && !memcmp(a, b, an);
}

/* The signer's certificate: in the token, or one of our signers when the
 * token carries none. der and dn: its bytes as the token has them. */
static yz_status find_signer(const pki_cms *k, X509 **out, const unsigned char **der, size_t *dn,
                             yz_err *e)
{
	for (int i = 0; i < k->ncerts; i++) {
		X509 *x = pki_x509_parse(k->certs[i].raw, k->certs[i].rawn);
		if (!x)
			return yz_fail(e, YZ_EINVAL, "a certificate in the token does not parse");
		unsigned char *iss = NULL, *ser = NULL;
		int il = i2d_X509_NAME(X509_get_issuer_name(x), &iss);
		int sl = i2d_ASN1_INTEGER(X509_get0_serialNumber(x), &ser);
		bool match = il > 0 && sl > 0 &&
		             same_bytes(iss, (size_t)il, k->sid_issuer.raw, k->sid_issuer.rawn) &&
		             same_bytes(ser, (size_t)sl, k->sid_serial.raw, k->sid_serial.rawn);
		OPENSSL_free(iss);
		OPENSSL_free(ser);
		if (match) {
			*out = x;
			*der = k->certs[i].raw;
			*dn = k->certs[i].rawn;
			return YZ_OK;
		}
		X509_free(x);
	}
	if (k->ncerts)
		return yz_fail(e, YZ_ECRYPTO,
		               "the token's signer is not the certificate the token carries");
	int n = atomic_load(&tsa_n);
	for (int i = 0; i < n; i++) {
		tsa_rt *t = atomic_load(&tsas[i]);
		if (same_bytes(t->issuer, (size_t)t->issuer_len, k->sid_issuer.raw,
		               k->sid_issuer.rawn) &&
		    same_bytes(t->serial, (size_t)t->serial_len, k->sid_serial.raw,
		               k->sid_serial.rawn)) {
			X509_up_ref(t->cert);
			*out = t->cert;
			*der = t->der;
			*dn = (size_t)t->der_len;
			return YZ_OK;
		}
	}
	return yz_fail(e, YZ_ENOTFOUND,
	               "the token carries no certificate and its signer is not a TSA of this "
	               "platform (ask with certReq)");
}

/* The issuing CA's certificate among those loaded, for a TSA certificate. */
static const pki_ca_rt *loaded_issuer(X509 *x)
{
	for (int i = 0; i < pki_ca_count(); i++) {
		pki_ca_rt *ca = pki_ca_at(i);
		if (!X509_NAME_cmp(X509_get_subject_name(ca->cert), X509_get_issuer_name(x)))
			return ca;
	}
	return NULL;
}

yz_status pki_tsa_verify(const void *in, size_t n, const void *data, size_t dn, const void *ca_cert,
                         size_t cn, json_t **info, yz_err *e)
{
	if (!in || n == 0 || n > TSA_TOKEN_MAX)
		return yz_fail(e, YZ_EINVAL, "not a time-stamp token or response");
	pki_rd r = pki_rd_of(in, n);
	pki_tlv top, first, ci;
	if (!pki_rd_get(&r, PKI_DER_SEQ, &top) || pki_rd_more(&r))
		return yz_fail(e, YZ_EINVAL, "not a time-stamp token or response (not DER)");
	pki_rd tr = pki_rd_in(&top);
	if (!pki_rd_next(&tr, &first))
		return yz_fail(e, YZ_EINVAL, "not a time-stamp token or response");
	const char *status = NULL;
	if (first.tag == PKI_DER_SEQ) {
		/* TimeStampResp {PKIStatusInfo, token} */
		pki_rd si = pki_rd_in(&first);
		pki_tlv t, text = {0};
		int64_t code;
		if (!pki_rd_get(&si, PKI_DER_INT, &t) || !pki_tlv_small(&t, &code))
			return yz_fail(e, YZ_EINVAL, "not a TimeStampResp: PKIStatusInfo");
		pki_tlv strings;
		if (pki_rd_opt(&si, PKI_DER_SEQ, &strings)) {
			pki_rd sr = pki_rd_in(&strings);
			(void)pki_rd_get(&sr, PKI_DER_UTF8, &text);
		}
		if (code != 0 && code != 1)
			return yz_fail(
			    e, YZ_EREFUSED, "the TSA did not grant a time-stamp (status %d%s%.*s)",
			    (int)code, text.n ? ": " : "", (int)(text.n > 160 ? 160 : text.n),
			    text.v ? (const char *)text.v : "");
		status = code == 0 ? "granted" : "grantedWithMods";
		if (!pki_rd_get(&tr, PKI_DER_SEQ, &ci) || pki_rd_more(&tr))
			return yz_fail(e, YZ_EINVAL, "a granted TimeStampResp without a token");
	} else {
		ci = top;
	}
	pki_cms k;
	yz_status st = parse_token(&ci, &k, e);
	if (st != YZ_OK)
		return st;
	X509 *x = NULL;
	const unsigned char *xder = NULL;
	size_t xn = 0;
	if ((st = find_signer(&k, &x, &xder, &xn, e)) != YZ_OK)
		return st;
	crypto_key *key = NULL;
	tst_info ti;
	if ((st = crypto_key_from_evp(X509_get0_pubkey(x), &key, e)) != YZ_OK)
		st = yz_fail(e, YZ_ECRYPTO, "the TSA certificate's key is neither SM2 nor P-256");
	bool sm2 = st == YZ_OK && crypto_key_alg(key) == CRYPTO_SM2;
	/* the signature over the signed attributes, which bind the TSTInfo
	 * (messageDigest) and the TSA certificate (ESSCertIDv2) */
	if (st == YZ_OK) {
		unsigned char md[CRYPTO_SM3_LEN];
		pki_cms_digest(key, k.content.v, k.content.n, md);
		pki_cms_fail why = PKI_CMS_PASSED;
		st = pki_cms_check(&k, key, xder, xn, md, true, "the token", &why, e);
		if (why == PKI_CMS_FAIL_DIGEST)
			st = yz_fail(e, YZ_ECRYPTO,
			             "the messageDigest attribute does not match the TSTInfo (the "
			             "time-stamp was altered)");
	}
	/* the TSA certificate: for time-stamping, issued by the CA */
	if (st == YZ_OK && !tsa_eku(x))
		st = yz_fail(e, YZ_ECRYPTO,
		             "the signer's certificate is not a TSA's (extended key usage "
		             "timeStamping alone, critical: RFC 3161 §2.3)");
	if (st == YZ_OK) {
		const void *cad = ca_cert;
		size_t cal = cn;
		if (!cad) {
			const pki_ca_rt *ca = loaded_issuer(x);
			if (ca) {
				cad = ca->der;
				cal = (size_t)ca->der_len;
			}
		}
		if (!cad)
			st = yz_fail(e, YZ_ENOTFOUND,
			             "no CA certificate to check the TSA's against");
		else {
			yz_err ce = {0};
			if (pki_verify_cert(xder, xn, cad, cal, &ce) != YZ_OK)
				st = yz_fail(e, ce.code ? ce.code : YZ_ECRYPTO,
				             "the TSA certificate: %s", ce.msg);
		}
	}
	if (st == YZ_OK && !parse_tst(&k.content, &ti))
		st = yz_fail(e, YZ_EINVAL, "the TSTInfo does not parse");
	if (st == YZ_OK && (ti.gen_time < pki_asn1_ms(X509_get0_notBefore(x)) - 1000 ||
	                    ti.gen_time > pki_asn1_ms(X509_get0_notAfter(x))))
		st = yz_fail(e, YZ_ECRYPTO, "genTime is outside the TSA certificate's validity");
	if (st == YZ_OK && data) {
		unsigned char h[64];
		if (!pki_hash_data(ti.hash->name, data, dn, h) ||
		    !same_bytes(h, ti.hash->len, ti.hashed.v, ti.hashed.n))
			st = yz_fail(e, YZ_ECRYPTO,
			             "the data's %s hash differs from the token's message imprint",
			             ti.hash->name);
	}
	if (st == YZ_OK && info) {
		char t[40], hx[2 * 64 + 1], subject[256];
		json_t *o = json_object();
		jx_set_str(o, "serial", ti.serial);
		clock_format_utc(ti.gen_time, t, sizeof t);
		jx_set_str(o, "gen_time", t);
		jx_set_int(o, "gen_time_ms", ti.gen_time);
		jx_set_str(o, "policy", ti.policy);
		jx_set_str(o, "hash_alg", ti.hash_alg);
		hex_of(ti.hashed.v, ti.hashed.n, hx, sizeof hx);
		jx_set_str(o, "hashed_message", hx);
		json_object_set_new(o, "accuracy_s",
		                    ti.has_accuracy ? json_real(ti.accuracy_s) : json_null());
		jx_set_bool(o, "ordering", ti.ordering);
		if (ti.has_nonce) {
			hex_of(ti.nonce.v, ti.nonce.n, hx, sizeof hx);
			jx_set_str(o, "nonce", hx);
		}
		pki_name_text(X509_get_subject_name(x), subject, sizeof subject);
		jx_set_str(o, "signer", subject);
		jx_set_str(o, "signature", sm2 ? "SM3withSM2" : "ecdsa-with-SHA256");
		jx_set_bool(o, "certificate_in_token", k.ncerts > 0);
		if (status)
			jx_set_str(o, "status", status);
		*info = o;
	}
	crypto_key_free(key);
	X509_free(x);
	return st;
}
