/* Unit tests for the time-stamping authority (src/pki/pki_tsa.c) on every
 * backend: requests made by OpenSSL's TS encoder, answers read by OpenSSL's
 * TS decoder (an independent parser), SM2 and ECDSA tokens checked by our
 * verifier and the ECDSA ones also by OpenSSL's TS_RESP_verify_response;
 * unique serials under 8 threads × 200 requests, each recorded in
 * pki_tsa_log; rejections with the right failInfo; and the verifier
 * refusing an SM2 token re-signed with OpenSSL's empty default ID, a changed
 * TSTInfo, the wrong data, and any single changed byte of a token. The
 * openssl CLI checks are in tests/api/tsa.test.mjs. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/ts.h>
#include <openssl/x509.h>

#include "audit/audit.h"
#include "core/clock.h"
#include "core/jx.h"
#include "pki/pki.h"
#include "pki/pki_asn1.h"
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
	yz_status st =
	    pki_install(f->s, f->dir, &f->who, doc, tu_src("data/pki/profiles.json"), NULL, &e);
	if (st != YZ_OK)
		fail_msg("install: %s", e.msg);
	json_decref(doc);
}

static void teardown(fixture *f)
{
	clock_use_real();
	pki_unload();
	store_close(f->s);
	tu_drop_db(f->target);
	tu_rmtree(f->dir);
	free(f->dir);
}

/* A TimeStampReq made by OpenSSL's encoder. nonce 0: none. */
static void make_req(const EVP_MD *md, const void *data, size_t n, uint64_t nonce, bool cert_req,
                     const char *policy, buf *out)
{
	TS_REQ *rq = TS_REQ_new();
	TS_MSG_IMPRINT *mi = TS_MSG_IMPRINT_new();
	X509_ALGOR *alg = X509_ALGOR_new();
	assert_true(rq && mi && alg);
	assert_true(TS_REQ_set_version(rq, 1));
	assert_true(X509_ALGOR_set0(alg, OBJ_nid2obj(EVP_MD_get_type(md)), V_ASN1_NULL, NULL));
	assert_true(TS_MSG_IMPRINT_set_algo(mi, alg));
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned hl = 0;
	assert_int_equal(EVP_Digest(data, n, h, &hl, md, NULL), 1);
	assert_true(TS_MSG_IMPRINT_set_msg(mi, h, (int)hl));
	assert_true(TS_REQ_set_msg_imprint(rq, mi));
	if (policy) {
		ASN1_OBJECT *o = OBJ_txt2obj(policy, 1);
		assert_true(TS_REQ_set_policy_id(rq, o));
		ASN1_OBJECT_free(o);
	}
	if (nonce) {
		ASN1_INTEGER *i = ASN1_INTEGER_new();
		assert_true(ASN1_INTEGER_set_uint64(i, nonce));
		assert_true(TS_REQ_set_nonce(rq, i));
		ASN1_INTEGER_free(i);
	}
	assert_true(TS_REQ_set_cert_req(rq, cert_req));
	unsigned char *d = NULL;
	int dl = i2d_TS_REQ(rq, &d);
	assert_true(dl > 0);
	buf_reset(out);
	assert_int_equal(buf_append(out, d, (size_t)dl), YZ_OK);
	OPENSSL_free(d);
	X509_ALGOR_free(alg);
	TS_MSG_IMPRINT_free(mi);
	TS_REQ_free(rq);
}

/* The answer through OpenSSL's decoder: every byte must be one response. */
static TS_RESP *parse_resp(const buf *b)
{
	const unsigned char *p = (const unsigned char *)b->p;
	TS_RESP *r = d2i_TS_RESP(NULL, &p, (long)b->len);
	if (!r) {
		ERR_print_errors_fp(stderr);
		fail_msg("the answer does not parse as a TimeStampResp");
	}
	assert_ptr_equal(p, (const unsigned char *)b->p + b->len);
	return r;
}

static long resp_status(TS_RESP *r)
{
	return ASN1_INTEGER_get(TS_STATUS_INFO_get0_status(TS_RESP_get_status_info(r)));
}

/* A rejection (status 2) with exactly this failInfo bit; its text. */
static void expect_rejection(store *s, const char *alg, const void *req, size_t n, int bit,
                             const char *text_part)
{
	buf out;
	buf_init(&out, 1 << 16);
	yz_err e = {0};
	assert_int_equal(pki_tsa_answer_as(s, alg, req, n, &out, &e), YZ_OK);
	TS_RESP *r = parse_resp(&out);
	TS_STATUS_INFO *si = TS_RESP_get_status_info(r);
	assert_int_equal(resp_status(r), 2);
	assert_null(TS_RESP_get_token(r));
	const ASN1_BIT_STRING *fi = TS_STATUS_INFO_get0_failure_info(si);
	assert_non_null(fi);
	for (int i = 0; i < 32; i++)
		assert_int_equal(ASN1_BIT_STRING_get_bit(fi, i), i == bit);
	const STACK_OF(ASN1_UTF8STRING) *texts = TS_STATUS_INFO_get0_text(si);
	assert_int_equal(sk_ASN1_UTF8STRING_num(texts), 1);
	const char *t = (const char *)ASN1_STRING_get0_data(sk_ASN1_UTF8STRING_value(texts, 0));
	if (!strstr(t, text_part))
		fail_msg("statusString \"%s\" does not say \"%s\"", t, text_part);
	TS_RESP_free(r);
	buf_free(&out);
}

/* The token inside a TimeStampResp, with our reader. */
static void token_of(const buf *resp, buf *tok)
{
	pki_rd r = pki_rd_of(resp->p, resp->len);
	pki_tlv top, status, token;
	assert_true(pki_rd_get(&r, PKI_DER_SEQ, &top));
	pki_rd in = pki_rd_in(&top);
	assert_true(pki_rd_get(&in, PKI_DER_SEQ, &status));
	assert_true(pki_rd_get(&in, PKI_DER_SEQ, &token));
	buf_reset(tok);
	assert_int_equal(buf_append(tok, token.raw, token.rawn), YZ_OK);
}

static void ca_der(const char *name, buf *out)
{
	yz_err e = {0};
	buf_reset(out);
	assert_int_equal(pki_ca_cert(name, out, &e), YZ_OK);
}

static X509 *x509_of(const buf *b)
{
	const unsigned char *p = (const unsigned char *)b->p;
	X509 *x = d2i_X509(NULL, &p, (long)b->len);
	assert_non_null(x);
	return x;
}

/* OpenSSL's own verdict on an ECDSA time-stamp: the chain from a store of
 * root-ec and city-ec, the signature, the signer, the data's imprint. */
static int openssl_verify(const buf *resp, const void *data, size_t n)
{
	buf d;
	buf_init(&d, 1 << 16);
	X509_STORE *st = X509_STORE_new();
	const char *cas[] = {"root-ec", "city-ec"};
	for (int i = 0; i < 2; i++) {
		ca_der(cas[i], &d);
		X509 *x = x509_of(&d);
		assert_true(X509_STORE_add_cert(st, x));
		X509_free(x);
	}
	TS_VERIFY_CTX *ctx = TS_VERIFY_CTX_new(); /* owns the store and the data */
	TS_VERIFY_CTX_set_flags(ctx,
	                        TS_VFY_VERSION | TS_VFY_SIGNER | TS_VFY_SIGNATURE | TS_VFY_DATA);
	TS_VERIFY_CTX_set_store(ctx, st);
	assert_non_null(TS_VERIFY_CTX_set_data(ctx, BIO_new_mem_buf(data, (int)n)));
	TS_RESP *r = parse_resp(resp);
	int ok = TS_RESP_verify_response(ctx, r);
	ERR_clear_error();
	TS_RESP_free(r);
	TS_VERIFY_CTX_free(ctx);
	buf_free(&d);
	return ok;
}

/* A fixed time in the past (the certificates are made at it, and OpenSSL
 * checks them at the real time): 2026-01-15T01:55:48.120Z. */
#define T0 1768442148120LL

static const char DOC[] = "贵阳市人民政府关于公布 2026 年政务服务事项清单的通知";

static void tokens_on(const char *backend)
{
	fixture f;
	clock_set_fake(T0);
	setup(&f, backend);
	yz_err e = {0};
	/* every CA has a signer, and the subordinate CAs answer */
	json_t *idx = pki_tsa_index();
	assert_int_equal(json_array_size(idx), 4);
	size_t i;
	json_t *o;
	json_array_foreach (idx, i, o) {
		const char *ca = jx_str(o, "ca", "");
		assert_int_equal(jx_bool(o, "default", false),
		                 !strcmp(ca, "city") || !strcmp(ca, "city-ec"));
	}
	json_decref(idx);
	/* the TSA certificate: timeStamping alone, critical (RFC 3161 §2.3) */
	buf cert, city, city_ec, req, out, tok;
	buf_init(&cert, 1 << 16);
	buf_init(&city, 1 << 16);
	buf_init(&city_ec, 1 << 16);
	buf_init(&req, 1 << 16);
	buf_init(&out, 1 << 16);
	buf_init(&tok, 1 << 16);
	assert_int_equal(pki_tsa_cert("city", &cert, &e), YZ_OK);
	X509 *x = x509_of(&cert);
	int crit = -1;
	EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(x, NID_ext_key_usage, &crit, NULL);
	assert_non_null(eku);
	assert_int_equal(crit, 1);
	assert_int_equal(sk_ASN1_OBJECT_num(eku), 1);
	assert_int_equal(OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, 0)), NID_time_stamp);
	EXTENDED_KEY_USAGE_free(eku);
	X509_free(x);
	ca_der("city", &city);
	ca_der("city-ec", &city_ec);

	/* SM2 (the default) over a SHA-256 imprint, nonce and certReq; the
	 * clock at a time with 120 ms: genTime ends in .12Z */
	make_req(EVP_sha256(), DOC, strlen(DOC), 0x1122334455667788ULL, true, NULL, &req);
	assert_int_equal(pki_tsa_answer(f.s, req.p, req.len, &out, &e), YZ_OK);
	TS_RESP *r = parse_resp(&out);
	assert_int_equal(resp_status(r), 0);
	TS_TST_INFO *ti = TS_RESP_get_tst_info(r);
	assert_non_null(ti);
	assert_int_equal(TS_TST_INFO_get_version(ti), 1);
	char pol[80];
	OBJ_obj2txt(pol, sizeof pol, TS_TST_INFO_get_policy_id(ti), 1);
	assert_string_equal(pol, PKI_TSA_POLICY_SM2);
	assert_int_equal(ASN1_INTEGER_get(TS_TST_INFO_get_nonce(ti)), 0x1122334455667788LL);
	assert_int_equal(ASN1_INTEGER_get(TS_ACCURACY_get_seconds(TS_TST_INFO_get_accuracy(ti))),
	                 1);
	assert_false(TS_TST_INFO_get_ordering(ti));
	assert_non_null(TS_TST_INFO_get_tsa(ti));
	const ASN1_GENERALIZEDTIME *gt = TS_TST_INFO_get_time(ti);
	assert_int_equal(ASN1_STRING_length(gt), 18);
	assert_memory_equal(ASN1_STRING_get0_data(gt), "20260115015548.12Z", 18);
	TS_RESP_free(r);
	json_t *info = NULL;
	if (pki_tsa_verify(out.p, out.len, DOC, strlen(DOC), city.p, city.len, &info, &e) != YZ_OK)
		fail_msg("SM2 token does not verify: %s", e.msg);
	assert_string_equal(jx_str(info, "hash_alg", ""), "sha256");
	assert_string_equal(jx_str(info, "policy", ""), PKI_TSA_POLICY_SM2);
	assert_string_equal(jx_str(info, "gen_time", ""), "2026-01-15T01:55:48.120Z");
	assert_string_equal(jx_str(info, "nonce", ""), "1122334455667788");
	assert_string_equal(jx_str(info, "signature", ""), "SM3withSM2");
	assert_string_equal(jx_str(info, "status", ""), "granted");
	assert_true(json_real_value(json_object_get(info, "accuracy_s")) == 1.0);
	assert_non_null(strstr(jx_str(info, "signer", ""), "测试市 CA 时间戳服务"));
	char serial[80];
	yz_strlcpy(serial, jx_str(info, "serial", ""), sizeof serial);
	assert_int_equal(strlen(serial) >= 30, true);
	json_decref(info);
	/* the bare token verifies too, with the CA found among those loaded */
	token_of(&out, &tok);
	assert_int_equal(pki_tsa_verify(tok.p, tok.len, DOC, strlen(DOC), NULL, 0, NULL, &e),
	                 YZ_OK);
	/* other data does not */
	e = (yz_err){0};
	assert_int_equal(pki_tsa_verify(out.p, out.len, "x", 1, city.p, city.len, NULL, &e),
	                 YZ_ECRYPTO);
	assert_non_null(strstr(e.msg, "message imprint"));
	/* nor against the other CA */
	e = (yz_err){0};
	assert_int_not_equal(
	    pki_tsa_verify(out.p, out.len, DOC, strlen(DOC), city_ec.p, city_ec.len, NULL, &e),
	    YZ_OK);
	/* recorded */
	store_conn *c;
	assert_int_equal(store_reader(f.s, &c, &e), YZ_OK);
	int64_t n = 0;
	store_val sv[] = {sv_text(serial)};
	assert_int_equal(store_query_int(c,
	                                 "SELECT COUNT(*) FROM pki_tsa_log WHERE serial = ? AND "
	                                 "hash_alg = 'sha256' AND gen_time = 1768442148120",
	                                 sv, 1, &n, &e),
	                 YZ_OK);
	assert_int_equal(n, 1);
	clock_use_real();

	/* every accepted hash, without a nonce or a certificate: the verifier
	 * finds the signer among those loaded */
	const EVP_MD *mds[] = {EVP_sm3(), EVP_sha384(), EVP_sha512()};
	const char *names[] = {"sm3", "sha384", "sha512"};
	for (int k = 0; k < 3; k++) {
		make_req(mds[k], DOC, strlen(DOC), 0, false, NULL, &req);
		buf_reset(&out);
		assert_int_equal(pki_tsa_answer(f.s, req.p, req.len, &out, &e), YZ_OK);
		info = NULL;
		if (pki_tsa_verify(out.p, out.len, DOC, strlen(DOC), city.p, city.len, &info, &e) !=
		    YZ_OK)
			fail_msg("%s token does not verify: %s", names[k], e.msg);
		assert_string_equal(jx_str(info, "hash_alg", ""), names[k]);
		assert_false(jx_bool(info, "certificate_in_token", true));
		assert_null(json_object_get(info, "nonce"));
		json_decref(info);
	}

	/* ECDSA: asked for by alg, or by our ECDSA policy; OpenSSL agrees */
	for (int k = 0; k < 2; k++) {
		make_req(EVP_sha256(), DOC, strlen(DOC), k ? 0 : 42, true,
		         k ? PKI_TSA_POLICY_ECDSA : NULL, &req);
		buf_reset(&out);
		assert_int_equal(
		    pki_tsa_answer_as(f.s, k ? NULL : "ecdsa", req.p, req.len, &out, &e), YZ_OK);
		info = NULL;
		if (pki_tsa_verify(out.p, out.len, DOC, strlen(DOC), city_ec.p, city_ec.len, &info,
		                   &e) != YZ_OK)
			fail_msg("ECDSA token does not verify: %s", e.msg);
		assert_string_equal(jx_str(info, "signature", ""), "ecdsa-with-SHA256");
		assert_string_equal(jx_str(info, "policy", ""), PKI_TSA_POLICY_ECDSA);
		json_decref(info);
		assert_int_equal(openssl_verify(&out, DOC, strlen(DOC)), 1);
		assert_int_not_equal(openssl_verify(&out, "x", 1), 1);
	}
	/* an explicit SM2 choice */
	make_req(EVP_sm3(), DOC, strlen(DOC), 0, false, PKI_TSA_POLICY_SM2, &req);
	buf_reset(&out);
	assert_int_equal(pki_tsa_answer_as(f.s, "sm2", req.p, req.len, &out, &e), YZ_OK);
	assert_int_equal(
	    pki_tsa_verify(out.p, out.len, DOC, strlen(DOC), city.p, city.len, NULL, &e), YZ_OK);

	/* a fresh process loads the signers from their sealed keys */
	pki_unload();
	if (pki_load(f.s, f.dir, &e) != YZ_OK)
		fail_msg("load: %s", e.msg);
	idx = pki_tsa_index();
	assert_int_equal(json_array_size(idx), 4);
	json_decref(idx);
	make_req(EVP_sm3(), DOC, strlen(DOC), 7, false, NULL, &req);
	buf_reset(&out);
	assert_int_equal(pki_tsa_answer(f.s, req.p, req.len, &out, &e), YZ_OK);
	assert_int_equal(pki_tsa_verify(out.p, out.len, DOC, strlen(DOC), NULL, 0, NULL, &e),
	                 YZ_OK);
	assert_int_equal(store_reader(f.s, &c, &e), YZ_OK);
	assert_int_equal(store_query_int(c, "SELECT COUNT(*) FROM pki_tsa_log", NULL, 0, &n, &e),
	                 YZ_OK);
	assert_int_equal(n, 1 + 3 + 2 + 1 + 1);

	/* the audit chain holds the signers' creation */
	audit_report rep;
	assert_int_equal(audit_verify(f.s, &rep, &e), YZ_OK);
	assert_true(rep.ok);
	buf_free(&cert);
	buf_free(&city);
	buf_free(&city_ec);
	buf_free(&req);
	buf_free(&out);
	buf_free(&tok);
	teardown(&f);
}

static void test_tokens(void **state)
{
	(void)state;
	const char *b[2];
	int n = tu_backends(b);
	for (int i = 0; i < n; i++)
		tokens_on(b[i]);
}

/* ---- concurrency ---- */

#define THREADS 8
#define EACH    200

typedef struct worker {
	store *s;
	int index;
	char (*serials)[40];
	int failures;
} worker;

static void *work(void *arg)
{
	worker *w = arg;
	buf req, out;
	buf_init(&req, 1 << 16);
	buf_init(&out, 1 << 16);
	for (int i = 0; i < EACH; i++) {
		char data[64];
		snprintf(data, sizeof data, "document %d/%d", w->index, i);
		make_req(EVP_sha256(), data, strlen(data), (uint64_t)(w->index * EACH + i + 1),
		         false, NULL, &req);
		buf_reset(&out);
		yz_err e = {0};
		if (pki_tsa_answer_as(w->s, w->index % 2 ? "ecdsa" : NULL, req.p, req.len, &out,
		                      &e) != YZ_OK) {
			w->failures++;
			continue;
		}
		const unsigned char *p = (const unsigned char *)out.p;
		TS_RESP *r = d2i_TS_RESP(NULL, &p, (long)out.len);
		TS_TST_INFO *ti = r ? TS_RESP_get_tst_info(r) : NULL;
		if (!ti) {
			w->failures++;
			TS_RESP_free(r);
			continue;
		}
		BIGNUM *bn = ASN1_INTEGER_to_BN(TS_TST_INFO_get_serial(ti), NULL);
		char *h = BN_bn2hex(bn);
		yz_strlcpy(w->serials[w->index * EACH + i], h, 40);
		OPENSSL_free(h);
		BN_free(bn);
		TS_RESP_free(r);
		/* one in ten verified here too */
		if (i % 10 == 0 &&
		    pki_tsa_verify(out.p, out.len, data, strlen(data), NULL, 0, NULL, &e) != YZ_OK)
			w->failures++;
	}
	buf_free(&req);
	buf_free(&out);
	return NULL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void concurrency_on(const char *backend)
{
	fixture f;
	setup(&f, backend);
	char(*serials)[40] = calloc(THREADS * EACH, 40);
	assert_non_null(serials);
	pthread_t th[THREADS];
	worker w[THREADS];
	for (int i = 0; i < THREADS; i++) {
		w[i] = (worker){f.s, i, serials, 0};
		assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].failures, 0);
	}
	qsort(serials, THREADS * EACH, 40, cmp_str);
	for (int i = 0; i < THREADS * EACH; i++) {
		assert_true(serials[i][0]);
		if (i)
			assert_string_not_equal(serials[i - 1], serials[i]);
	}
	/* each one is in the log, and the log holds nothing else */
	store_conn *c;
	yz_err e = {0};
	assert_int_equal(store_reader(f.s, &c, &e), YZ_OK);
	store_rows *r;
	assert_int_equal(store_query(c, "SELECT serial FROM pki_tsa_log", NULL, 0, &r, &e), YZ_OK);
	int rows = 0;
	while (store_next(r)) {
		rows++;
		if (!bsearch(store_col_text(r, 0), serials, THREADS * EACH, 40, cmp_str))
			fail_msg("serial %s in the log was not handed out", store_col_text(r, 0));
	}
	assert_int_equal(store_rows_close(r, &e), YZ_OK);
	assert_int_equal(rows, THREADS * EACH);
	free(serials);
	teardown(&f);
}

static void test_concurrency(void **state)
{
	(void)state;
	const char *b[2];
	int n = tu_backends(b);
	for (int i = 0; i < n; i++)
		concurrency_on(b[i]);
}

/* ---- rejections ---- */

static void test_rejections(void **state)
{
	(void)state;
	fixture f;
	setup(&f, "sqlite");
	buf req;
	buf_init(&req, 1 << 16);
	/* a SHA-256 imprint of 31 bytes */
	pki_der w;
	pki_der_init(&w, 4096);
	unsigned char h[64] = {1, 2, 3};
	pki_der_begin(&w, PKI_DER_SEQ);
	pki_der_small(&w, 1);
	pki_der_begin(&w, PKI_DER_SEQ);
	pki_der_algid(&w, "2.16.840.1.101.3.4.2.1", true);
	pki_der_put(&w, PKI_DER_OCTETS, h, 31);
	pki_der_end(&w);
	pki_der_end(&w);
	assert_int_equal(pki_der_done(&w), YZ_OK);
	expect_rejection(f.s, NULL, w.b.p, w.b.len, 5, "hashedMessage has 31 bytes");
	pki_der_free(&w);
	/* an algorithm we do not take: SHA-1, and an OID nobody knows */
	make_req(EVP_sha1(), DOC, strlen(DOC), 0, false, NULL, &req);
	expect_rejection(f.s, NULL, req.p, req.len, 0, "1.3.14.3.2.26 is not accepted");
	pki_der_init(&w, 4096);
	pki_der_begin(&w, PKI_DER_SEQ);
	pki_der_small(&w, 1);
	pki_der_begin(&w, PKI_DER_SEQ);
	pki_der_algid(&w, "1.2.3.4.5", false);
	pki_der_put(&w, PKI_DER_OCTETS, h, 32);
	pki_der_end(&w);
	pki_der_end(&w);
	assert_int_equal(pki_der_done(&w), YZ_OK);
	expect_rejection(f.s, NULL, w.b.p, w.b.len, 0, "1.2.3.4.5");
	pki_der_free(&w);
	/* garbage, nothing, a truncated request, a trailing byte */
	expect_rejection(f.s, NULL, "garbage", 7, 5, "not a DER TimeStampReq");
	expect_rejection(f.s, NULL, "", 0, 5, "not a DER TimeStampReq");
	make_req(EVP_sha256(), DOC, strlen(DOC), 9, true, NULL, &req);
	expect_rejection(f.s, NULL, req.p, req.len - 1, 5, "not a DER TimeStampReq");
	assert_int_equal(buf_putc(&req, 0), YZ_OK);
	expect_rejection(f.s, NULL, req.p, req.len, 5, "not a DER TimeStampReq");
	/* version 2 */
	make_req(EVP_sha256(), DOC, strlen(DOC), 0, false, NULL, &req);
	assert_int_equal((unsigned char)req.p[4], 1); /* 30 len 02 01 01 */
	req.p[4] = 2;
	expect_rejection(f.s, NULL, req.p, req.len, 2, "version must be 1");
	/* policies: not ours, or against the algorithm asked for */
	make_req(EVP_sha256(), DOC, strlen(DOC), 0, false, "1.2.156.1", &req);
	expect_rejection(f.s, NULL, req.p, req.len, 15, "policy 1.2.156.1 is not ours");
	make_req(EVP_sha256(), DOC, strlen(DOC), 0, false, PKI_TSA_POLICY_SM2, &req);
	expect_rejection(f.s, "ecdsa", req.p, req.len, 15, "alg asks for ecdsa-p256");
	/* an algorithm nobody offers */
	make_req(EVP_sha256(), DOC, strlen(DOC), 0, false, NULL, &req);
	expect_rejection(f.s, "rsa", req.p, req.len, 2, "alg: sm2 or ecdsa");
	/* extensions: none is understood */
	pki_der_init(&w, 4096);
	pki_der_begin(&w, PKI_DER_SEQ);
	pki_der_small(&w, 1);
	pki_der_begin(&w, PKI_DER_SEQ);
	pki_der_algid(&w, "1.2.156.10197.1.401", true);
	pki_der_put(&w, PKI_DER_OCTETS, h, 32);
	pki_der_end(&w);
	pki_der_begin(&w, PKI_DER_CTX(0));
	pki_der_begin(&w, PKI_DER_SEQ);
	pki_der_oid(&w, "1.2.3.4");
	pki_der_put(&w, PKI_DER_OCTETS, h, 2);
	pki_der_end(&w);
	pki_der_end(&w);
	pki_der_end(&w);
	assert_int_equal(pki_der_done(&w), YZ_OK);
	expect_rejection(f.s, NULL, w.b.p, w.b.len, 16, "extensions");
	pki_der_free(&w);
	/* none of them was recorded as a token */
	store_conn *c;
	yz_err e = {0};
	int64_t n = -1;
	assert_int_equal(store_reader(f.s, &c, &e), YZ_OK);
	assert_int_equal(store_query_int(c, "SELECT COUNT(*) FROM pki_tsa_log", NULL, 0, &n, &e),
	                 YZ_OK);
	assert_int_equal(n, 0);
	/* the verifier refuses a rejection and what is not a token */
	buf out;
	buf_init(&out, 1 << 16);
	assert_int_equal(pki_tsa_answer(f.s, "garbage", 7, &out, &e), YZ_OK);
	e = (yz_err){0};
	assert_int_equal(pki_tsa_verify(out.p, out.len, NULL, 0, NULL, 0, NULL, &e), YZ_EREFUSED);
	assert_non_null(strstr(e.msg, "not a DER TimeStampReq"));
	e = (yz_err){0};
	assert_int_equal(pki_tsa_verify("garbage", 7, NULL, 0, NULL, 0, NULL, &e), YZ_EINVAL);
	buf_free(&out);
	buf_free(&req);
	teardown(&f);
}

/* ---- the verifier refuses what it must ---- */

/* The TSA key of a CA, from the sealed store as pki opens it. */
static crypto_key *sealed_tsa_key(fixture *f, const char *ca)
{
	store_conn *c;
	yz_err e = {0};
	assert_int_equal(store_reader(f->s, &c, &e), YZ_OK);
	store_rows *r;
	store_val v[] = {sv_text(ca)};
	assert_int_equal(store_query(c,
	                             "SELECT t.serial, t.key_sealed FROM pki_tsa t JOIN pki_ca a "
	                             "ON a.id = t.ca_id WHERE a.name = ? ORDER BY t.id DESC",
	                             v, 1, &r, &e),
	                 YZ_OK);
	assert_true(store_next(r));
	char aad[128];
	snprintf(aad, sizeof aad, "yizhan-pki-tsa:%s:%s", ca, store_col_text(r, 0));
	size_t kn;
	const void *sealed = store_col_blob(r, 1, &kn);
	unsigned char kek[CRYPTO_SEAL_KEY_LEN];
	char path[700];
	snprintf(path, sizeof path, "%s/keys/pki.kek", f->dir);
	FILE *kf = fopen(path, "rb");
	assert_non_null(kf);
	assert_int_equal(fread(kek, 1, sizeof kek, kf), sizeof kek);
	fclose(kf);
	buf pem;
	buf_init(&pem, 1 << 16);
	assert_int_equal(crypto_open(kek, aad, strlen(aad), sealed, kn, &pem), YZ_OK);
	assert_int_equal(store_rows_close(r, &e), YZ_OK);
	crypto_key *key;
	assert_int_equal(crypto_key_from_pem(pem.p, pem.len, NULL, &key, &e), YZ_OK);
	buf_free(&pem);
	return key;
}

static void *find_bytes(void *hay, size_t hn, const void *needle, size_t nn)
{
	for (size_t i = 0; i + nn <= hn; i++)
		if (!memcmp((char *)hay + i, needle, nn))
			return (char *)hay + i;
	return NULL;
}

static void test_refusals(void **state)
{
	(void)state;
	fixture f;
	clock_set_fake(T0);
	setup(&f, "sqlite");
	yz_err e = {0};
	buf req, out, tok, city;
	buf_init(&req, 1 << 16);
	buf_init(&out, 1 << 16);
	buf_init(&tok, 1 << 16);
	buf_init(&city, 1 << 16);
	ca_der("city", &city);
	make_req(EVP_sm3(), DOC, strlen(DOC), 99, true, NULL, &req);
	assert_int_equal(pki_tsa_answer(f.s, req.p, req.len, &out, &e), YZ_OK);
	token_of(&out, &tok);
	assert_int_equal(
	    pki_tsa_verify(tok.p, tok.len, DOC, strlen(DOC), city.p, city.len, NULL, &e), YZ_OK);

	/* the same signed attributes signed again by the same TSA key, but with
	 * OpenSSL's default (empty) SM2 ID, put in place of the signature */
	crypto_key *key = sealed_tsa_key(&f, "city");
	const unsigned char *p = (const unsigned char *)tok.p;
	PKCS7 *p7 = d2i_PKCS7(NULL, &p, (long)tok.len);
	assert_non_null(p7);
	PKCS7_SIGNER_INFO *si = sk_PKCS7_SIGNER_INFO_value(PKCS7_get_signer_info(p7), 0);
	assert_non_null(si);
	unsigned char *attrs = NULL;
	int alen =
	    ASN1_item_i2d((ASN1_VALUE *)si->auth_attr, &attrs, ASN1_ITEM_rptr(PKCS7_ATTR_VERIFY));
	assert_true(alen > 0);
	assert_int_equal(attrs[0], 0x31);
	const ASN1_OCTET_STRING *old = si->enc_digest;
	unsigned char *at =
	    find_bytes(tok.p, tok.len, ASN1_STRING_get0_data(old), (size_t)ASN1_STRING_length(old));
	assert_non_null(at);
	/* ours: standard ID; the empty ID does not verify the original */
	assert_int_equal(crypto_verify(key, attrs, (size_t)alen, ASN1_STRING_get0_data(old),
	                               (size_t)ASN1_STRING_length(old), &e),
	                 YZ_OK);
	unsigned char sig[128];
	size_t sl = 0;
	for (int tries = 0; tries < 200; tries++) {
		EVP_MD_CTX *m = EVP_MD_CTX_new();
		sl = sizeof sig;
		assert_int_equal(
		    EVP_DigestSignInit(m, NULL, EVP_sm3(), NULL, (EVP_PKEY *)crypto_key_evp(key)),
		    1);
		assert_int_equal(EVP_DigestSign(m, sig, &sl, attrs, (size_t)alen), 1);
		EVP_MD_CTX_free(m);
		if (sl == (size_t)ASN1_STRING_length(old))
			break;
	}
	assert_int_equal(sl, (size_t)ASN1_STRING_length(old));
	/* it is a good signature under the empty ID (so the refusal below is the ID's) */
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	assert_int_equal(
	    EVP_DigestVerifyInit(m, NULL, EVP_sm3(), NULL, (EVP_PKEY *)crypto_key_evp(key)), 1);
	assert_int_equal(EVP_DigestVerify(m, sig, sl, attrs, (size_t)alen), 1);
	EVP_MD_CTX_free(m);
	buf bad;
	buf_init(&bad, 1 << 16);
	assert_int_equal(buf_append(&bad, tok.p, tok.len), YZ_OK);
	memcpy(bad.p + (at - (unsigned char *)tok.p), sig, sl);
	e = (yz_err){0};
	assert_int_equal(
	    pki_tsa_verify(bad.p, bad.len, DOC, strlen(DOC), city.p, city.len, NULL, &e),
	    YZ_ECRYPTO);
	assert_non_null(strstr(e.msg, "1234567812345678"));
	OPENSSL_free(attrs);
	PKCS7_free(p7);

	/* a changed TSTInfo: the year of genTime */
	buf_reset(&bad);
	assert_int_equal(buf_append(&bad, tok.p, tok.len), YZ_OK);
	char *gt = find_bytes(bad.p, bad.len, "20260115015548.12Z", 18);
	assert_non_null(gt);
	gt[3] = '7';
	e = (yz_err){0};
	assert_int_equal(
	    pki_tsa_verify(bad.p, bad.len, DOC, strlen(DOC), city.p, city.len, NULL, &e),
	    YZ_ECRYPTO);
	assert_non_null(strstr(e.msg, "messageDigest"));
	/* the wrong data */
	e = (yz_err){0};
	assert_int_equal(
	    pki_tsa_verify(tok.p, tok.len, DOC, strlen(DOC) - 1, city.p, city.len, NULL, &e),
	    YZ_ECRYPTO);
	assert_non_null(strstr(e.msg, "sm3 hash differs from the token's message imprint"));

	/* any one changed byte of a token, SM2 and ECDSA, with the certificate */
	for (int k = 0; k < 2; k++) {
		if (k) {
			make_req(EVP_sha256(), DOC, strlen(DOC), 5, true, NULL, &req);
			buf_reset(&out);
			assert_int_equal(pki_tsa_answer_as(f.s, "ecdsa", req.p, req.len, &out, &e),
			                 YZ_OK);
			token_of(&out, &tok);
			ca_der("city-ec", &city);
		}
		assert_int_equal(
		    pki_tsa_verify(tok.p, tok.len, DOC, strlen(DOC), city.p, city.len, NULL, &e),
		    YZ_OK);
		for (size_t i = 0; i < tok.len; i++) {
			unsigned char flips[2] = {0x01, 0x80};
			for (int b = 0; b < 2; b++) {
				tok.p[i] ^= (char)flips[b];
				yz_err ve = {0};
				if (pki_tsa_verify(tok.p, tok.len, DOC, strlen(DOC), city.p,
				                   city.len, NULL, &ve) == YZ_OK)
					fail_msg("%s token with byte %zu ^ %02x verifies",
					         k ? "ECDSA" : "SM2", i, flips[b]);
				tok.p[i] ^= (char)flips[b];
			}
		}
	}
	crypto_key_free(key);
	buf_free(&bad);
	buf_free(&req);
	buf_free(&out);
	buf_free(&tok);
	buf_free(&city);
	teardown(&f);
}

/* A token made by OpenSSL's own TSA code (TS_RESP_CTX) with our ECDSA TSA
 * key and certificate passes our verifier: it reads others' tokens, not
 * only its own. */
static void test_openssl_token(void **state)
{
	(void)state;
	fixture f;
	setup(&f, "sqlite");
	yz_err e = {0};
	crypto_key *key = sealed_tsa_key(&f, "city-ec");
	buf cert, req, city;
	buf_init(&cert, 1 << 16);
	buf_init(&req, 1 << 16);
	buf_init(&city, 1 << 16);
	assert_int_equal(pki_tsa_cert("city-ec", &cert, &e), YZ_OK);
	ca_der("city-ec", &city);
	X509 *x = x509_of(&cert);
	TS_RESP_CTX *ctx = TS_RESP_CTX_new();
	assert_true(TS_RESP_CTX_set_signer_cert(ctx, x));
	assert_true(TS_RESP_CTX_set_signer_key(ctx, (EVP_PKEY *)crypto_key_evp(key)));
	assert_true(TS_RESP_CTX_set_signer_digest(ctx, EVP_sha256()));
	assert_true(TS_RESP_CTX_set_ess_cert_id_digest(ctx, EVP_sha256()));
	ASN1_OBJECT *pol = OBJ_txt2obj(PKI_TSA_POLICY_ECDSA, 1);
	assert_true(TS_RESP_CTX_set_def_policy(ctx, pol));
	assert_true(TS_RESP_CTX_add_md(ctx, EVP_sha256()));
	assert_true(TS_RESP_CTX_set_accuracy(ctx, 1, 0, 0));
	make_req(EVP_sha256(), DOC, strlen(DOC), 3, true, NULL, &req);
	BIO *in = BIO_new_mem_buf(req.p, (int)req.len);
	TS_RESP *r = TS_RESP_create_response(ctx, in);
	assert_non_null(r);
	unsigned char *d = NULL;
	int dl = i2d_TS_RESP(r, &d);
	assert_true(dl > 0);
	json_t *info = NULL;
	if (pki_tsa_verify(d, (size_t)dl, DOC, strlen(DOC), city.p, city.len, &info, &e) != YZ_OK)
		fail_msg("OpenSSL's token does not verify: %s", e.msg);
	assert_string_equal(jx_str(info, "policy", ""), PKI_TSA_POLICY_ECDSA);
	json_decref(info);
	OPENSSL_free(d);
	TS_RESP_free(r);
	BIO_free(in);
	ASN1_OBJECT_free(pol);
	TS_RESP_CTX_free(ctx);
	X509_free(x);
	crypto_key_free(key);
	buf_free(&cert);
	buf_free(&req);
	buf_free(&city);
	teardown(&f);
}

/* A tsa profile stored before ext_key_usage_critical existed makes a
 * certificate RFC 3161 verifiers refuse: no signer comes of it, and the
 * certificate issued for it is revoked. */
static void test_profile_without_critical_eku(void **state)
{
	(void)state;
	fixture f;
	setup(&f, "sqlite");
	yz_err e = {0};
	json_t *doc = json_load_file(tu_src("data/pki/profiles.json"), 0, NULL);
	assert_non_null(doc);
	size_t i;
	json_t *p;
	json_array_foreach (json_object_get(doc, "profiles"), i, p)
		json_object_del(p, "ext_key_usage_critical");
	assert_int_equal(pki_profiles_set(f.s, &f.who, doc, &e), YZ_OK);
	buf before;
	buf_init(&before, 1 << 16);
	assert_int_equal(pki_tsa_cert("city", &before, &e), YZ_OK);
	e = (yz_err){0};
	assert_int_equal(pki_tsa_create(f.s, f.dir, &f.who, "city", NULL, &e), YZ_EREFUSED);
	assert_non_null(strstr(e.msg, "ext_key_usage_critical"));
	/* the old signer still signs; the new certificate is revoked */
	buf now;
	buf_init(&now, 1 << 16);
	assert_int_equal(pki_tsa_cert("city", &now, &e), YZ_OK);
	assert_int_equal(now.len, before.len);
	assert_memory_equal(now.p, before.p, now.len);
	store_conn *c;
	assert_int_equal(store_reader(f.s, &c, &e), YZ_OK);
	int64_t n = 0;
	assert_int_equal(store_query_int(c,
	                                 "SELECT COUNT(*) FROM pki_cert c JOIN pki_ca a ON a.id = "
	                                 "c.ca_id WHERE a.name = 'city' AND c.profile = 'tsa' AND "
	                                 "c.status = 'revoked' AND c.reason = 5",
	                                 NULL, 0, &n, &e),
	                 YZ_OK);
	assert_int_equal(n, 1);
	assert_int_equal(store_query_int(c, "SELECT COUNT(*) FROM pki_tsa", NULL, 0, &n, &e),
	                 YZ_OK);
	assert_int_equal(n, 4);
	json_decref(doc);
	buf_free(&before);
	buf_free(&now);
	teardown(&f);
}

/* The DER writer and reader on their own. */
static void test_der(void **state)
{
	(void)state;
	pki_der w;
	pki_der_init(&w, 1 << 16);
	pki_der_begin(&w, PKI_DER_SEQ);
	unsigned char big[300];
	memset(big, 0xab, sizeof big);
	pki_der_put(&w, PKI_DER_OCTETS, big, sizeof big); /* long-form length inside */
	unsigned char hi[2] = {0x80, 0x01};
	pki_der_uint(&w, hi, 2);
	unsigned char zeros[3] = {0, 0, 5};
	pki_der_uint(&w, zeros, 3);
	pki_der_oid(&w, "1.2.840.113549.1.9.16.2.47");
	pki_der_gentime(&w, (T0 - 120));
	pki_der_gentime(&w, (T0 - 20));
	pki_der_bit(&w, 25);
	pki_der_end(&w);
	assert_int_equal(pki_der_done(&w), YZ_OK);
	/* OpenSSL reads what we wrote */
	const unsigned char *p = (const unsigned char *)w.b.p;
	long len;
	int tag, cls;
	assert_int_equal(ASN1_get_object(&p, &len, &tag, &cls, (long)w.b.len), V_ASN1_CONSTRUCTED);
	assert_int_equal(len, (long)w.b.len - 4);
	pki_rd r = pki_rd_of(w.b.p, w.b.len);
	pki_tlv top, t;
	assert_true(pki_rd_get(&r, PKI_DER_SEQ, &top));
	assert_false(pki_rd_more(&r));
	pki_rd in = pki_rd_in(&top);
	assert_true(pki_rd_get(&in, PKI_DER_OCTETS, &t));
	assert_int_equal(t.n, 300);
	char hex[40];
	assert_true(pki_rd_get(&in, PKI_DER_INT, &t));
	assert_int_equal(t.n, 3); /* 00 80 01 */
	assert_true(pki_tlv_uint_hex(&t, hex, sizeof hex));
	assert_string_equal(hex, "8001");
	int64_t v;
	assert_true(pki_rd_get(&in, PKI_DER_INT, &t));
	assert_true(pki_tlv_small(&t, &v));
	assert_int_equal(v, 5);
	assert_true(pki_rd_get(&in, PKI_DER_OID, &t));
	char oid[80];
	assert_true(pki_tlv_oid_text(&t, oid, sizeof oid));
	assert_string_equal(oid, "1.2.840.113549.1.9.16.2.47");
	assert_true(pki_rd_get(&in, PKI_DER_GENTIME, &t));
	assert_int_equal(t.n, 15); /* no fraction at .000 */
	assert_true(pki_tlv_gentime(&t, &v));
	assert_int_equal(v, (T0 - 120));
	assert_true(pki_rd_get(&in, PKI_DER_GENTIME, &t));
	assert_memory_equal(t.v, "20260115015548.1Z", 17);
	assert_true(pki_tlv_gentime(&t, &v));
	assert_int_equal(v, (T0 - 20));
	assert_true(pki_rd_get(&in, PKI_DER_BITS, &t));
	assert_int_equal(t.n, 5);
	assert_memory_equal(t.v, "\x06\x00\x00\x00\x40", 5);
	assert_false(pki_rd_more(&in));
	pki_der_free(&w);
	/* not DER: indefinite length, a long form that could be short, a
	 * length beyond the end, a non-minimal INTEGER, a trailing-zero fraction */
	pki_rd bad = pki_rd_of("\x30\x80\x00\x00", 4);
	assert_false(pki_rd_next(&bad, &t));
	bad = pki_rd_of("\x04\x81\x01\x00", 4);
	assert_false(pki_rd_next(&bad, &t));
	bad = pki_rd_of("\x04\x05\x00", 3);
	assert_false(pki_rd_next(&bad, &t));
	bad = pki_rd_of("\x02\x02\x00\x01", 4);
	assert_true(pki_rd_next(&bad, &t));
	assert_false(pki_tlv_int_ok(&t));
	bad = pki_rd_of("\x18\x12"
	                "20260115015548.10Z",
	                20);
	assert_true(pki_rd_next(&bad, &t));
	assert_false(pki_tlv_gentime(&t, &v));
	assert_int_equal(pki_oid_encode("1.2.x", (unsigned char *)hex, sizeof hex), 0);
	assert_int_equal(pki_oid_encode("3.1", (unsigned char *)hex, sizeof hex), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_der),
	    cmocka_unit_test(test_tokens),
	    cmocka_unit_test(test_rejections),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_openssl_token),
	    cmocka_unit_test(test_profile_without_critical_eku),
	    cmocka_unit_test(test_concurrency),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
