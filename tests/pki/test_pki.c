/* Unit tests for src/pki on every backend: a CA hierarchy in SM2 and in
 * ECDSA P-256, issuance from PKCS#10 requests (SM2 with the standard ID),
 * revocation and suspension seen in the CRL and in OCSP answers checked by
 * our own verifiers, the verifiers refusing empty-ID SM2 signatures, and bad
 * input refused with reasons. The independent checks with the openssl CLI
 * are in tests/api/pki.test.mjs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "audit/audit.h"
#include "core/idcodes.h"
#include "core/jx.h"
#include "pki/pki.h"
#include "testutil.h"

typedef struct fixture {
	store *s;
	char target[600];
	char *dir;
	yz_actor who;
} fixture;

static void setup(fixture *f, const char *backend)
{
	f->s = tu_open_store(backend, f->target, sizeof f->target);
	yz_err e = {0};
	assert_int_equal(store_migrate(f->s, "audit", audit_migrations, audit_nmigrations, &e),
	                 YZ_OK);
	assert_int_equal(store_migrate(f->s, "pki", pki_migrations, pki_nmigrations, &e), YZ_OK);
	f->dir = tu_tmpdir();
	f->who = actor_system("test");
	json_t *doc = json_pack(
	    "{s:s, s:[{s:s, s:s, s:s}, {s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s}, {s:s, s:s, "
	    "s:s, s:s, s:s}]}",
	    "base_url", "http://pki.test", "cas", "name", "root", "title", "根", "cn", "测试根 CA",
	    "name", "city", "title", "市 CA", "cn", "测试市 CA", "parent", "root", "name",
	    "root-ec", "title", "EC 根", "cn", "Test Root EC", "alg", "ecdsa-p256", "name",
	    "city-ec", "title", "EC 市", "cn", "Test City EC", "alg", "ecdsa-p256", "parent",
	    "root-ec");
	json_t *made = json_array();
	yz_status st =
	    pki_install(f->s, f->dir, &f->who, doc, tu_src("data/pki/profiles.json"), made, &e);
	if (st != YZ_OK)
		fail_msg("install: %s", e.msg);
	assert_int_equal(json_array_size(made), 4);
	json_decref(made);
	json_decref(doc);
}

static void teardown(fixture *f)
{
	pki_unload();
	store_close(f->s);
	tu_drop_db(f->target);
	tu_rmtree(f->dir);
	free(f->dir);
}

/* A PKCS#10 request in PEM signed by a new key of the algorithm; with_id
 * false signs SM2 with OpenSSL's empty default ID (what a careless client
 * does). The key comes back through *key. */
static char *make_csr(const char *alg, const char *cn, bool with_id, EVP_PKEY **key)
{
	EVP_PKEY *k = !strcmp(alg, "sm2") ? EVP_PKEY_Q_keygen(NULL, NULL, "SM2")
	                                  : EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_non_null(k);
	X509_REQ *rq = X509_REQ_new();
	X509_NAME *n = X509_NAME_new();
	assert_true(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *)cn,
	                                       -1, -1, 0));
	assert_true(X509_REQ_set_subject_name(rq, n));
	assert_true(X509_REQ_set_pubkey(rq, k));
	EVP_MD_CTX *mctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	bool sm2 = !strcmp(alg, "sm2");
	assert_int_equal(
	    EVP_DigestSignInit_ex(mctx, &pctx, sm2 ? "SM3" : "SHA256", NULL, NULL, k, NULL), 1);
	if (sm2 && with_id)
		assert_int_equal(EVP_PKEY_CTX_set1_id(pctx, "1234567812345678", 16), 1);
	assert_true(X509_REQ_sign_ctx(rq, mctx) > 0);
	EVP_MD_CTX_free(mctx);
	BIO *b = BIO_new(BIO_s_mem());
	assert_true(PEM_write_bio_X509_REQ(b, rq));
	char *p;
	long len = BIO_get_mem_data(b, &p);
	char *out = strndup(p, (size_t)len);
	BIO_free(b);
	X509_REQ_free(rq);
	X509_NAME_free(n);
	*key = k;
	return out;
}

static json_t *issue(fixture *f, const char *ca, const char *profile, const char *csr,
                     json_t *extra, yz_err *e)
{
	json_t *in = json_pack("{s:s, s:s, s:s}", "ca", ca, "profile", profile, "csr", csr);
	if (extra)
		json_object_update(in, extra);
	json_t *out = NULL;
	yz_status st = pki_issue(f->s, &f->who, in, &out, e);
	json_decref(in);
	return st == YZ_OK ? out : NULL;
}

static X509 *pem_cert(const char *pem)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	assert_non_null(x);
	return x;
}

static void der_of(X509 *x, buf *out)
{
	unsigned char *d = NULL;
	int n = i2d_X509(x, &d);
	assert_true(n > 0);
	assert_int_equal(buf_append(out, d, (size_t)n), YZ_OK);
	OPENSSL_free(d);
}

/* An OCSPRequest (DER) for cert issued by issuer, CertID by md. */
static void ocsp_request(X509 *cert, X509 *issuer, const EVP_MD *md, buf *out)
{
	OCSP_REQUEST *rq = OCSP_REQUEST_new();
	OCSP_CERTID *id = OCSP_cert_to_id(md, cert, issuer);
	assert_non_null(OCSP_request_add0_id(rq, id));
	unsigned char *d = NULL;
	int n = i2d_OCSP_REQUEST(rq, &d);
	assert_true(n > 0);
	assert_int_equal(buf_append(out, d, (size_t)n), YZ_OK);
	OPENSSL_free(d);
	OCSP_REQUEST_free(rq);
}

static const char *ocsp_status(fixture *f, X509 *cert, const char *ca, const EVP_MD *md,
                               char *reason, size_t cap)
{
	buf ca_der, rq, resp;
	buf_init(&ca_der, 1 << 20);
	buf_init(&rq, 1 << 20);
	buf_init(&resp, 1 << 20);
	yz_err e = {0};
	assert_int_equal(pki_ca_cert(ca, &ca_der, &e), YZ_OK);
	const unsigned char *p = (const unsigned char *)ca_der.p;
	X509 *issuer = d2i_X509(NULL, &p, (long)ca_der.len);
	ocsp_request(cert, issuer, md, &rq);
	assert_int_equal(pki_ocsp_answer(f->s, rq.p, rq.len, &resp, &e), YZ_OK);
	json_t *st = NULL;
	if (pki_verify_ocsp(resp.p, resp.len, ca_der.p, ca_der.len, &st, &e) != YZ_OK)
		fail_msg("OCSP answer does not verify: %s", e.msg);
	static char status[16];
	json_t *one = json_array_get(st, 0);
	yz_strlcpy(status, jx_str(one, "status", "?"), sizeof status);
	if (reason)
		yz_strlcpy(reason, jx_str(one, "reason", ""), cap);
	json_decref(st);
	X509_free(issuer);
	buf_free(&ca_der);
	buf_free(&rq);
	buf_free(&resp);
	return status;
}

static bool crl_lists(fixture *f, const char *ca, const char *serial)
{
	buf crl, ca_der;
	buf_init(&crl, 1 << 20);
	buf_init(&ca_der, 1 << 20);
	yz_err e = {0};
	assert_int_equal(pki_crl(f->s, ca, &crl, &e), YZ_OK);
	assert_int_equal(pki_ca_cert(ca, &ca_der, &e), YZ_OK);
	if (pki_verify_crl(crl.p, crl.len, ca_der.p, ca_der.len, &e) != YZ_OK)
		fail_msg("CRL does not verify: %s", e.msg);
	const unsigned char *p = (const unsigned char *)crl.p;
	X509_CRL *c = d2i_X509_CRL(NULL, &p, (long)crl.len);
	assert_non_null(c);
	bool found = false;
	STACK_OF(X509_REVOKED) *rv = X509_CRL_get_REVOKED(c);
	for (int i = 0; i < sk_X509_REVOKED_num(rv); i++) {
		BIGNUM *bn = ASN1_INTEGER_to_BN(
		    X509_REVOKED_get0_serialNumber(sk_X509_REVOKED_value(rv, i)), NULL);
		char *h = BN_bn2hex(bn);
		found = found || !strcmp(h, serial);
		OPENSSL_free(h);
		BN_free(bn);
	}
	X509_CRL_free(c);
	buf_free(&crl);
	buf_free(&ca_der);
	return found;
}

static void issue_revoke_on(const char *backend, const char *ca, const char *alg)
{
	fixture f;
	setup(&f, backend);
	EVP_PKEY *k;
	char *csr = make_csr(alg, "张三", true, &k);
	yz_err e = {0};
	json_t *extra = json_pack("{s:s, s:s}", "id_number", "11010519491231002X", "o", "贵阳市");
	json_t *c = issue(&f, ca, "user", csr, extra, &e);
	if (!c)
		fail_msg("issue on %s: %s (%s)", ca, e.msg, e.nfield ? e.fields[0].field : "");
	assert_string_equal(jx_str(c, "cn", ""), "张三");
	assert_string_equal(jx_str(c, "status", ""), "valid");
	X509 *x = pem_cert(jx_str(c, "pem", ""));
	char serial[80];
	yz_strlcpy(serial, jx_str(c, "serial", ""), sizeof serial);

	/* the certificate verifies against its CA with our code, and its CA
	 * against the root */
	buf der, ca_der, root_der;
	buf_init(&der, 1 << 20);
	buf_init(&ca_der, 1 << 20);
	buf_init(&root_der, 1 << 20);
	der_of(x, &der);
	assert_int_equal(pki_ca_cert(ca, &ca_der, &e), YZ_OK);
	assert_int_equal(pki_ca_cert(!strcmp(alg, "sm2") ? "root" : "root-ec", &root_der, &e),
	                 YZ_OK);
	if (pki_verify_cert(der.p, der.len, ca_der.p, ca_der.len, &e) != YZ_OK)
		fail_msg("certificate does not verify: %s", e.msg);
	assert_int_equal(pki_verify_cert(ca_der.p, ca_der.len, root_der.p, root_der.len, &e),
	                 YZ_OK);
	/* but not against the other CA */
	assert_int_not_equal(pki_verify_cert(der.p, der.len, root_der.p, root_der.len, &e), YZ_OK);
	/* the ID number travels in the GM/T 0015 extension */
	ASN1_OBJECT *oid = OBJ_txt2obj("1.2.156.10260.4.1.1", 1);
	assert_true(X509_get_ext_by_OBJ(x, oid, -1) >= 0);
	ASN1_OBJECT_free(oid);

	/* status: good by every CertID hash, then suspended, resumed, revoked */
	assert_string_equal(ocsp_status(&f, x, ca, EVP_sha1(), NULL, 0), "good");
	assert_string_equal(ocsp_status(&f, x, ca, EVP_sha256(), NULL, 0), "good");
	assert_string_equal(ocsp_status(&f, x, ca, EVP_sm3(), NULL, 0), "good");
	assert_false(crl_lists(&f, ca, serial));
	assert_int_equal(pki_revoke(f.s, &f.who, ca, serial, PKI_CERTIFICATE_HOLD, &e), YZ_OK);
	char reason[32];
	assert_string_equal(ocsp_status(&f, x, ca, EVP_sha1(), reason, sizeof reason), "revoked");
	assert_string_equal(reason, "certificateHold");
	assert_true(crl_lists(&f, ca, serial));
	assert_int_equal(pki_revoke(f.s, &f.who, ca, serial, PKI_CERTIFICATE_HOLD, &e),
	                 YZ_ECONFLICT);
	assert_int_equal(pki_resume(f.s, &f.who, ca, serial, &e), YZ_OK);
	assert_string_equal(ocsp_status(&f, x, ca, EVP_sha1(), NULL, 0), "good");
	assert_false(crl_lists(&f, ca, serial));
	assert_int_equal(pki_revoke(f.s, &f.who, ca, serial, PKI_KEY_COMPROMISE, &e), YZ_OK);
	assert_string_equal(ocsp_status(&f, x, ca, EVP_sha256(), reason, sizeof reason), "revoked");
	assert_string_equal(reason, "keyCompromise");
	assert_true(crl_lists(&f, ca, serial));
	/* revoked is final */
	assert_int_equal(pki_resume(f.s, &f.who, ca, serial, &e), YZ_ECONFLICT);
	assert_int_equal(pki_revoke(f.s, &f.who, ca, serial, PKI_SUPERSEDED, &e), YZ_ECONFLICT);

	/* a fresh process (unload, load) sees the same state */
	pki_unload();
	if (pki_load(f.s, f.dir, &e) != YZ_OK)
		fail_msg("load on %s: %s", backend, e.msg);
	json_t *idx = pki_ca_index();
	assert_int_equal(json_array_size(idx), 4);
	json_decref(idx);
	assert_string_equal(ocsp_status(&f, x, ca, EVP_sha1(), NULL, 0), "revoked");
	assert_true(crl_lists(&f, ca, serial));

	/* the audit chain holds every step */
	audit_report rep;
	assert_int_equal(audit_verify(f.s, &rep, &e), YZ_OK);
	assert_true(rep.ok);
	assert_true(rep.records >= 4 + 1 + 1 + 3); /* CAs, profiles, issue, hold, resume, revoke */

	buf_free(&der);
	buf_free(&ca_der);
	buf_free(&root_der);
	X509_free(x);
	EVP_PKEY_free(k);
	json_decref(c);
	json_decref(extra);
	free(csr);
	teardown(&f);
}

static void test_sm2_issue_revoke(void **state)
{
	(void)state;
	const char *b[2];
	int n = tu_backends(b);
	for (int i = 0; i < n; i++)
		issue_revoke_on(b[i], "city", "sm2");
}

static void test_ecdsa_issue_revoke(void **state)
{
	(void)state;
	issue_revoke_on("sqlite", "city-ec", "ecdsa-p256");
}

/* The verifiers use the standard ID: a CRL signed with OpenSSL's default
 * (empty) ID by the very same CA key is refused. */
static void test_empty_id_refused(void **state)
{
	(void)state;
	fixture f;
	setup(&f, "sqlite");
	buf crl, ca_der;
	buf_init(&crl, 1 << 20);
	buf_init(&ca_der, 1 << 20);
	yz_err e = {0};
	assert_int_equal(pki_crl(f.s, "city", &crl, &e), YZ_OK);
	assert_int_equal(pki_ca_cert("city", &ca_der, &e), YZ_OK);
	assert_int_equal(pki_verify_crl(crl.p, crl.len, ca_der.p, ca_der.len, &e), YZ_OK);

	/* re-sign the same CRL with the CA's key but the empty ID: the key is
	 * in the sealed store, so open it as pki does */
	store_conn *c;
	assert_int_equal(store_reader(f.s, &c, &e), YZ_OK);
	store_rows *r;
	store_val v[] = {sv_text("city")};
	assert_int_equal(
	    store_query(c, "SELECT key_sealed FROM pki_ca WHERE name = ?", v, 1, &r, &e), YZ_OK);
	assert_true(store_next(r));
	size_t kn;
	const void *sealed = store_col_blob(r, 0, &kn);
	unsigned char kek[CRYPTO_SEAL_KEY_LEN];
	char path[700];
	snprintf(path, sizeof path, "%s/keys/pki.kek", f.dir);
	FILE *kf = fopen(path, "rb");
	assert_non_null(kf);
	assert_int_equal(fread(kek, 1, sizeof kek, kf), sizeof kek);
	fclose(kf);
	buf pem;
	buf_init(&pem, 1 << 16);
	assert_int_equal(crypto_open(kek, "yizhan-pki-ca:city", 18, sealed, kn, &pem), YZ_OK);
	assert_int_equal(store_rows_close(r, &e), YZ_OK);
	crypto_key *key;
	assert_int_equal(crypto_key_from_pem(pem.p, pem.len, NULL, &key, &e), YZ_OK);
	const unsigned char *p = (const unsigned char *)crl.p;
	X509_CRL *x = d2i_X509_CRL(NULL, &p, (long)crl.len);
	assert_true(X509_CRL_sign(x, crypto_key_evp(key), EVP_sm3()) > 0);
	unsigned char *d = NULL;
	int dn = i2d_X509_CRL(x, &d);
	e = (yz_err){0};
	assert_int_equal(pki_verify_crl(d, (size_t)dn, ca_der.p, ca_der.len, &e), YZ_ECRYPTO);
	assert_non_null(strstr(e.msg, "1234567812345678"));
	/* a flipped byte in the good CRL fails too */
	((unsigned char *)crl.p)[crl.len / 2] ^= 1;
	assert_int_not_equal(pki_verify_crl(crl.p, crl.len, ca_der.p, ca_der.len, &e), YZ_OK);
	OPENSSL_free(d);
	X509_CRL_free(x);
	crypto_key_free(key);
	buf_free(&pem);
	buf_free(&crl);
	buf_free(&ca_der);
	teardown(&f);
}

static void test_bad_input(void **state)
{
	(void)state;
	fixture f;
	setup(&f, "sqlite");
	EVP_PKEY *k, *k2;
	char *good = make_csr("sm2", "李四", true, &k);
	char *empty_id = make_csr("sm2", "李四", false, &k2);
	yz_err e = {0};
	/* an SM2 request signed with the empty ID */
	assert_null(issue(&f, "city", "user", empty_id, NULL, &e));
	assert_int_equal(e.code, YZ_EINVAL);
	assert_string_equal(e.fields[0].field, "csr");
	assert_string_equal(e.fields[0].rule, "signature");
	/* garbage */
	e = (yz_err){0};
	assert_null(
	    issue(&f, "city", "user", "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n", NULL, &e));
	assert_string_equal(e.fields[0].rule, "pkcs10");
	/* a wrong check character names the right one */
	e = (yz_err){0};
	json_t *bad_id = json_pack("{s:s}", "id_number", "110105194912310021");
	assert_null(issue(&f, "city", "user", good, bad_id, &e));
	assert_string_equal(e.fields[0].field, "id_number");
	assert_non_null(strstr(e.fields[0].expected, "X"));
	/* a field the profile does not have, and one it requires */
	e = (yz_err){0};
	json_t *uscc = json_pack("{s:s}", "uscc", "91520100MA6DKXXX1X");
	assert_null(issue(&f, "city", "user", good, uscc, &e));
	assert_string_equal(e.fields[0].field, "uscc");
	e = (yz_err){0};
	assert_null(issue(&f, "city", "server", good, NULL, &e));
	assert_string_equal(e.fields[0].field, "dns");
	/* unknown CA and profile */
	e = (yz_err){0};
	assert_null(issue(&f, "nowhere", "user", good, NULL, &e));
	assert_string_equal(e.fields[0].field, "ca");
	e = (yz_err){0};
	assert_null(issue(&f, "city", "nothing", good, NULL, &e));
	assert_string_equal(e.fields[0].field, "profile");
	/* revoking what does not exist */
	assert_int_equal(pki_revoke(f.s, &f.who, "city", "ABCDEF", 1, &e), YZ_ENOTFOUND);
	e = (yz_err){0};
	assert_int_equal(pki_revoke(f.s, &f.who, "city", "xyz", 1, &e), YZ_EINVAL);
	/* OCSP: garbage → malformedRequest; a CA we do not serve → unauthorized */
	buf resp;
	buf_init(&resp, 1 << 16);
	assert_int_equal(pki_ocsp_answer(f.s, "\x30\x03\x02\x01\x01", 5, &resp, &e), YZ_OK);
	const unsigned char *p = (const unsigned char *)resp.p;
	OCSP_RESPONSE * or = d2i_OCSP_RESPONSE(NULL, &p, (long)resp.len);
	assert_int_equal(OCSP_response_status(or), OCSP_RESPONSE_STATUS_MALFORMEDREQUEST);
	OCSP_RESPONSE_free(or);
	X509 *self = X509_new();
	EVP_PKEY *sk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509_set_pubkey(self, sk);
	X509_NAME *nm = X509_get_subject_name(self);
	X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_UTF8, (const unsigned char *)"other", -1, -1,
	                           0);
	X509_set_issuer_name(self, nm);
	buf rq;
	buf_init(&rq, 1 << 16);
	ocsp_request(self, self, EVP_sha1(), &rq);
	buf_reset(&resp);
	assert_int_equal(pki_ocsp_answer(f.s, rq.p, rq.len, &resp, &e), YZ_OK);
	p = (const unsigned char *)resp.p;
	or = d2i_OCSP_RESPONSE(NULL, &p, (long)resp.len);
	assert_int_equal(OCSP_response_status(or), OCSP_RESPONSE_STATUS_UNAUTHORIZED);
	OCSP_RESPONSE_free(or);
	/* profiles: faults named by path */
	json_t *doc = json_pack("{s:[{s:s, s:s, s:i, s:[s], s:{s:s}}]}", "profiles", "name", "x",
	                        "title", "X", "validity_days", 30, "key_usage", "signEverything",
	                        "subject", "cn", "maybe");
	e = (yz_err){0};
	assert_int_equal(pki_profiles_set(f.s, &f.who, doc, &e), YZ_EINVAL);
	assert_string_equal(e.fields[0].field, "profiles[0].key_usage[0]");
	assert_string_equal(e.fields[1].field, "profiles[0].subject.cn");
	/* a key-encryption key from elsewhere does not open the CA keys */
	pki_unload();
	char path[700];
	snprintf(path, sizeof path, "%s/keys/pki.kek", f.dir);
	FILE *kf = fopen(path, "r+b");
	assert_non_null(kf);
	fputc('!', kf);
	fclose(kf);
	e = (yz_err){0};
	assert_int_equal(pki_load(f.s, f.dir, &e), YZ_ECRYPTO);
	assert_non_null(strstr(e.msg, "key-encryption key"));
	json_decref(doc);
	buf_free(&rq);
	buf_free(&resp);
	X509_free(self);
	EVP_PKEY_free(sk);
	json_decref(bad_id);
	json_decref(uscc);
	EVP_PKEY_free(k);
	EVP_PKEY_free(k2);
	free(good);
	free(empty_id);
	teardown(&f);
}

static void test_idcodes(void **state)
{
	(void)state;
	char exp;
	assert_true(idcode_citizen_ok("11010519491231002X", &exp));
	assert_true(idcode_citizen_ok("11010519491231002x", &exp));
	assert_false(idcode_citizen_ok("110105194912310021", &exp));
	assert_int_equal(exp, 'X');
	assert_false(idcode_citizen_ok("1101051949123100", &exp));
	assert_int_equal(exp, '\0');
	assert_false(idcode_citizen_ok("A1010519491231002X", &exp));
	/* every single-character change of a valid number is caught */
	const char *id = "440524188001010014";
	assert_true(idcode_citizen_ok(id, NULL));
	char m[19];
	for (int i = 0; i < 18; i++)
		for (const char *c = "0123456789X"; *c; c++) {
			if (*c == id[i])
				continue;
			memcpy(m, id, 19);
			m[i] = *c;
			assert_false(idcode_citizen_ok(m, NULL));
		}
	assert_true(idcode_uscc_ok("91350100M000100Y43", &exp));
	assert_false(idcode_uscc_ok("91350100M000100Y44", &exp));
	assert_int_equal(exp, '3');
	assert_false(idcode_uscc_ok("91350100M000100I43", &exp)); /* I is not in the alphabet */
}

/* The audit chain's checkpoints get the platform key's certificate and a
 * time-stamp; audit_verify checks them with the pki's verifier, and a token
 * or certificate swapped for another is found. */
static void notary_on(const char *backend)
{
	fixture f;
	setup(&f, backend);
	yz_err e = {0};
	assert_int_equal(audit_init_keys(f.s, f.dir, &e), YZ_OK);
	assert_int_equal(audit_load_signer(f.s, f.dir, &e), YZ_OK);
	assert_int_equal(audit_checkpoint(f.s, &e), YZ_OK);
	int done = 0;
	if (pki_notary_run(f.s, &done, &e) != YZ_OK)
		fail_msg("notary on %s: %s", backend, e.msg);
	assert_int_equal(done, 1);
	/* more records, another checkpoint, attested by the same certificate */
	EVP_PKEY *k;
	char *csr = make_csr("sm2", "王五", true, &k);
	json_t *c = issue(&f, "city", "user", csr, NULL, &e);
	assert_non_null(c);
	assert_int_equal(audit_checkpoint(f.s, &e), YZ_OK);
	assert_int_equal(pki_notary_run(f.s, &done, &e), YZ_OK);
	assert_int_equal(done, 1);
	assert_int_equal(pki_notary_run(f.s, &done, &e), YZ_OK);
	assert_int_equal(done, 0); /* nothing left */
	audit_set_attest_check(pki_notary_check, NULL);
	audit_report rep;
	assert_int_equal(audit_verify(f.s, &rep, &e), YZ_OK);
	if (!rep.ok)
		fail_msg("verify: %s", rep.reason);
	assert_int_equal(rep.attested, 2);
	/* one platform certificate for the key, from the SM2 city CA */
	store_conn *rc;
	assert_int_equal(store_reader(f.s, &rc, &e), YZ_OK);
	int64_t n = 0;
	assert_int_equal(
	    store_query_int(rc, "SELECT COUNT(*) FROM pki_cert WHERE cn = '一站平台审计签名'", NULL,
	                    0, &n, &e),
	    YZ_OK);
	assert_int_equal(n, 1);
	/* swap the two checkpoints' tokens: each covers the other's signature */
	tu_exec_sql(f.s, "UPDATE audit_attest SET token = (SELECT token FROM audit_attest a2 WHERE "
	                 "a2.seq <> audit_attest.seq)");
	assert_int_equal(audit_verify(f.s, &rep, &e), YZ_OK);
	assert_false(rep.ok);
	assert_non_null(strstr(rep.reason, "time-stamp"));
	/* without the pki's verifier the attestations are counted as unchecked */
	audit_set_attest_check(NULL, NULL);
	assert_int_equal(audit_verify(f.s, &rep, &e), YZ_OK);
	assert_true(rep.ok);
	assert_non_null(strstr(rep.reason, "not checked"));
	json_decref(c);
	free(csr);
	EVP_PKEY_free(k);
	audit_unload_signer();
	teardown(&f);
}

static void test_notary(void **state)
{
	(void)state;
	const char *b[2];
	int n = tu_backends(b);
	for (int i = 0; i < n; i++)
		notary_on(b[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_idcodes),
	    cmocka_unit_test(test_sm2_issue_revoke),
	    cmocka_unit_test(test_ecdsa_issue_revoke),
	    cmocka_unit_test(test_empty_id_refused),
	    cmocka_unit_test(test_bad_input),
	    cmocka_unit_test(test_notary),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
