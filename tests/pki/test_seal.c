/* Unit tests for signatures and electronic seals (src/pki/pki_sign.c,
 * pki_seal.c, pki_cms.c) on every backend, with the demo city's users,
 * roles and departments: the seal administrator makes a department's seal
 * from a PNG (a key and a certificate under the "seal" profile, the
 * SESeal signed by the seal-making system), a clerk of the department
 * applies it to a document (others are refused by scope), and our verifier
 * says valid with the seal's picture, the TSA's time and the certificate's
 * status then; a changed document is "tampered" naming the SM3 hash; no
 * single changed byte of an SES_Signature verifies; a signature re-made
 * with OpenSSL's empty default SM2 ID is refused; a seal revoked after it
 * was applied is "valid when signed, revoked later", one revoked before is
 * invalid; detached CMS signatures by SM2 and ECDSA application signers
 * round-trip, the ECDSA ones also through OpenSSL's CMS_verify over the
 * P-256 chain. The HTTP and openssl CLI checks are in
 * tests/api/seal.test.mjs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "audit/audit.h"
#include "core/clock.h"
#include "core/jx.h"
#include "flow/flow_fixture.h"
#include "iam/iam.h"
#include "pki/pki.h"
#include "pki/pki_asn1.h"
#include "testutil.h"

typedef struct sfx {
	fx f;
	char *dir;
	yz_actor sys;
	/* scopes of the actors below live here */
	int64_t orgs[4];
	const char *paths[4];
	char pathbuf[4][256];
} sfx;

static void sfx_open(sfx *k, const char *backend)
{
	memset(k, 0, sizeof *k);
	fx_open(&k->f, backend, "pki", pki_migrations, pki_nmigrations);
	k->dir = tu_tmpdir();
	k->sys = actor_system("test");
	json_t *doc = json_pack(
	    "{s:s, s:[{s:s, s:s, s:s}, {s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s}, {s:s, s:s, "
	    "s:s, s:s, s:s}]}",
	    "base_url", "http://pki.test", "cas", "name", "root", "title", "根", "cn", "测试根 CA",
	    "name", "city", "title", "市 CA", "cn", "测试市 CA", "parent", "root", "name",
	    "root-ec", "title", "EC 根", "cn", "Test Root EC", "alg", "ecdsa-p256", "name",
	    "city-ec", "title", "EC 市", "cn", "Test City EC", "alg", "ecdsa-p256", "parent",
	    "root-ec");
	yz_err e = {0};
	if (pki_install(k->f.s, k->dir, &k->sys, doc, tu_src("data/pki/profiles.json"), NULL, &e) !=
	    YZ_OK)
		fail_msg("install: %s", e.msg);
	json_decref(doc);
}

static void sfx_close(sfx *k)
{
	clock_use_real();
	pki_unload();
	fx_close(&k->f); /* verifies the audit chain first */
	tu_rmtree(k->dir);
	free(k->dir);
}

/* A demo user as the HTTP layer makes them an actor, with the scope of one
 * org subtree (their role's), in slot i of the fixture. */
static yz_actor person(sfx *k, int i, const char *login, const char *scope_code)
{
	store_conn *c;
	yz_err e = {0};
	assert_int_equal(store_reader(k->f.s, &c, &e), YZ_OK);
	yz_actor a = actor_system("x");
	char path[256];
	if (iam_user_find(c, login, &a.user_id, &a.org_id, path, sizeof path, &e) != YZ_OK)
		fail_msg("no demo user %s: %s", login, e.msg);
	yz_strlcpy(a.login, login, sizeof a.login);
	yz_strlcpy(a.name, login, sizeof a.name);
	assert_int_equal(iam_org_find_code(c, scope_code, &k->orgs[i], &e), YZ_OK);
	assert_int_equal(iam_org_path(c, k->orgs[i], k->pathbuf[i], sizeof k->pathbuf[i], &e),
	                 YZ_OK);
	k->paths[i] = k->pathbuf[i];
	a.scope.all = false;
	a.scope.n = 1;
	a.scope.orgs = &k->orgs[i];
	a.scope.paths = &k->paths[i];
	return a;
}

static int64_t org_id(sfx *k, const char *code)
{
	store_conn *c;
	yz_err e = {0};
	int64_t id = 0;
	assert_int_equal(store_reader(k->f.s, &c, &e), YZ_OK);
	assert_int_equal(iam_org_find_code(c, code, &id, &e), YZ_OK);
	return id;
}

/* A 4 × 2 red PNG. */
static const unsigned char PNG[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44,
    0x52, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x02, 0x08, 0x02, 0x00, 0x00, 0x00, 0xf0,
    0xca, 0xea, 0x34, 0x00, 0x00, 0x00, 0x10, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x38,
    0xc1, 0xc0, 0x00, 0x47, 0x0c, 0xc8, 0x1c, 0x00, 0x57, 0x9a, 0x06, 0x41, 0xb9, 0x5f, 0x58,
    0xab, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};

/* A tiny JPEG header: SOI, an APP0, SOF0 of 30 × 60. */
static const unsigned char JPEG[] = {0xff, 0xd8, 0xff, 0xe0, 0x00, 0x04, 0x4a, 0x46,
                                     0xff, 0xc0, 0x00, 0x0b, 0x08, 0x00, 0x3c, 0x00,
                                     0x1e, 0x01, 0x01, 0x11, 0x00, 0xff, 0xd9};

static const char DOC[] = "%PDF-1.4\n贵阳市发展和改革委员会关于 2026 年重点项目的通知\n%%EOF\n";

static int64_t make_seal(sfx *k, const yz_actor *admin, const char *org_code, const char *name)
{
	json_t *in =
	    json_pack("{s:I, s:s}", "org_id", (json_int_t)org_id(k, org_code), "name", name);
	json_t *out = NULL;
	yz_err e = {0};
	if (pki_seal_create(k->f.s, k->dir, admin, in, PNG, sizeof PNG, &out, &e) != YZ_OK)
		fail_msg("make seal: %s", e.msg);
	int64_t id = jx_int(out, "id", 0);
	assert_true(id > 0);
	json_decref(in);
	json_decref(out);
	return id;
}

static json_t *verify(sfx *k, const buf *sig, const void *data, size_t n)
{
	json_t *info = NULL;
	yz_err e = {0};
	if (pki_verify_file(k->f.s, sig->p, sig->len, data, n, &info, &e) != YZ_OK)
		fail_msg("verify: %s", e.msg);
	return info;
}

static void expect_verdict(json_t *info, const char *verdict, const char *check,
                           const char *reason_part)
{
	if (strcmp(jx_str(info, "verdict", ""), verdict)) {
		char *t = json_dumps(info, JSON_INDENT(1));
		fail_msg("verdict %s expected: %s", verdict, t);
	}
	if (check)
		assert_string_equal(jx_str(info, "failed_check", ""), check);
	if (reason_part && !strstr(jx_str(info, "reason", ""), reason_part))
		fail_msg("reason \"%s\" does not say \"%s\"", jx_str(info, "reason", ""),
		         reason_part);
}

/* ---- a seal made, applied, verified ---- */

static void seals_on(const char *backend)
{
	sfx k;
	sfx_open(&k, backend);
	yz_actor admin = person(&k, 0, "taoran.bgt", "520100");
	yz_actor clerk = person(&k, 1, "chenjing.fgw", "520100-fgw");
	yz_actor other = person(&k, 2, "huangli.jyj", "520100-jyj");
	yz_err e = {0};

	/* the image is checked: size read from the header, junk refused */
	json_t *in = json_pack("{s:I, s:s, s:i}", "org_id", (json_int_t)org_id(&k, "520100-fgw"),
	                       "name", "贵阳市发展和改革委员会公章", "width_mm", 42);
	json_t *out = NULL;
	assert_int_equal(pki_seal_create(k.f.s, k.dir, &admin, in, "GIF89a...", 9, &out, &e),
	                 YZ_EINVAL);
	assert_string_equal(e.fields[0].field, "picture");
	/* a department outside the administrator's scope is refused */
	yz_actor narrow = person(&k, 3, "taoran.bgt", "520100-jyj");
	e = (yz_err){0};
	assert_int_equal(pki_seal_create(k.f.s, k.dir, &narrow, in, PNG, sizeof PNG, &out, &e),
	                 YZ_EINVAL);
	assert_string_equal(e.fields[0].field, "org_id");
	e = (yz_err){0};
	if (pki_seal_create(k.f.s, k.dir, &admin, in, PNG, sizeof PNG, &out, &e) != YZ_OK)
		fail_msg("make seal: %s", e.msg);
	json_decref(in);
	int64_t seal = jx_int(out, "id", 0);
	assert_string_equal(jx_str(out, "picture_type", ""), "PNG");
	assert_int_equal(jx_int(out, "width_px", 0), 4);
	assert_int_equal(jx_int(out, "height_px", 0), 2);
	assert_int_equal(jx_int(out, "width_mm", 0), 42);
	assert_int_equal(jx_int(out, "height_mm", 0), 21);
	assert_string_equal(jx_str(out, "org_name", ""), "贵阳市发展和改革委员会");
	assert_string_equal(jx_str(out, "ca", ""), "city");
	assert_int_equal(strlen(jx_str(out, "es_id", "")), 32);
	json_decref(out);
	/* a JPEG is read too */
	in = json_pack("{s:I, s:s}", "org_id", (json_int_t)org_id(&k, "520100-jyj"), "name",
	               "贵阳市教育局公章");
	assert_int_equal(pki_seal_create(k.f.s, k.dir, &admin, in, JPEG, sizeof JPEG, &out, &e),
	                 YZ_OK);
	assert_string_equal(jx_str(out, "picture_type", ""), "JPG");
	assert_int_equal(jx_int(out, "width_px", 0), 30);
	assert_int_equal(jx_int(out, "height_mm", 0), 80);
	json_decref(out);
	json_decref(in);
	/* the seal's certificate, and one seal-making system for the CA */
	assert_int_equal(
	    fx_count(&k.f,
	             "SELECT COUNT(*) FROM pki_cert WHERE profile = 'seal' AND status = 'valid'"),
	    3);
	assert_int_equal(fx_count(&k.f, "SELECT COUNT(*) FROM pki_signer WHERE kind = 'maker'"), 1);
	/* listed within scope */
	store_conn *c;
	assert_int_equal(store_reader(k.f.s, &c, &e), YZ_OK);
	json_t *list = NULL;
	assert_int_equal(pki_seal_list(c, &clerk.scope, NULL, &list, &e), YZ_OK);
	assert_int_equal(json_array_size(json_object_get(list, "items")), 1);
	json_decref(list);
	assert_int_equal(pki_seal_list(c, NULL, NULL, &list, &e), YZ_OK);
	assert_int_equal(json_array_size(json_object_get(list, "items")), 2);
	json_decref(list);
	json_t *got = NULL;
	assert_int_equal(pki_seal_get(c, &clerk.scope, seal, true, &got, &e), YZ_OK);
	assert_int_equal(strncmp(jx_str(got, "picture", ""), "data:image/png;base64,iVBORw0K", 30),
	                 0);
	json_decref(got);
	e = (yz_err){0};
	assert_int_equal(pki_seal_get(c, &other.scope, seal, false, &got, &e), YZ_ENOTFOUND);

	/* applied by the department's clerk; not by another department's */
	buf ses;
	buf_init(&ses, 1 << 20);
	pki_seal_apply_in ap = {.seal_id = seal,
	                        .data = DOC,
	                        .n = strlen(DOC),
	                        .file_name = "关于 2026 年重点项目的通知.pdf"};
	e = (yz_err){0};
	assert_int_equal(pki_seal_apply(k.f.s, k.dir, &other, &ap, &ses, NULL, &e), YZ_EINVAL);
	assert_string_equal(e.fields[0].field, "seal_id");
	e = (yz_err){0};
	if (pki_seal_apply(k.f.s, k.dir, &clerk, &ap, &ses, &out, &e) != YZ_OK)
		fail_msg("apply: %s", e.msg);
	int64_t sig_id = jx_int(out, "id", 0);
	assert_true(jx_str(out, "tsa_serial", NULL) != NULL);
	json_decref(out);
	assert_int_equal(
	    fx_count(&k.f, "SELECT COUNT(*) FROM pki_signature WHERE kind = 'seal' AND file_name "
	                   "LIKE '%重点项目%'"),
	    1);
	/* the signature can be read again by its maker, not by another department */
	buf again;
	buf_init(&again, 1 << 20);
	assert_int_equal(pki_signature_get(c, &clerk, &clerk.scope, sig_id, &got, &again, &e),
	                 YZ_OK);
	assert_int_equal(again.len, ses.len);
	assert_memory_equal(again.p, ses.p, ses.len);
	json_decref(got);
	e = (yz_err){0};
	assert_int_equal(pki_signature_get(c, &other, &other.scope, sig_id, &got, NULL, &e),
	                 YZ_ENOTFOUND);

	/* our reader sees GB/T 38540 v4: TBS_Sign {4, SESeal {SES_SealInfo {header {"ES", 4,
	 * vid}, ...}}, ...} */
	pki_rd r = pki_rd_of(ses.p, ses.len);
	pki_tlv top, tbs, t;
	assert_true(pki_rd_get(&r, PKI_DER_SEQ, &top));
	pki_rd in1 = pki_rd_in(&top);
	assert_true(pki_rd_get(&in1, PKI_DER_SEQ, &tbs));
	pki_rd tr = pki_rd_in(&tbs);
	int64_t v = 0;
	assert_true(pki_rd_get(&tr, PKI_DER_INT, &t) && pki_tlv_small(&t, &v));
	assert_int_equal(v, 4);

	/* verified: valid, with the picture, the TSA's time, the status then */
	json_t *info = verify(&k, &ses, DOC, strlen(DOC));
	expect_verdict(info, "valid", NULL, NULL);
	assert_string_equal(jx_str(info, "kind", ""), "seal");
	json_t *sl = json_object_get(info, "seal");
	assert_string_equal(jx_str(sl, "name", ""), "贵阳市发展和改革委员会公章");
	assert_string_equal(jx_str(sl, "department", ""), "贵阳市发展和改革委员会");
	assert_int_equal(strncmp(jx_str(sl, "picture", ""), "data:image/png;base64,", 22), 0);
	assert_true(jx_bool(info, "trusted_time", false));
	assert_non_null(
	    strstr(jx_str(json_object_get(info, "timestamp"), "tsa", ""), "时间戳服务"));
	json_t *cert = json_object_get(info, "certificate");
	assert_string_equal(jx_str(cert, "status", ""), "valid");
	assert_string_equal(jx_str(cert, "at_signing", ""), "valid");
	json_t *doc = json_object_get(info, "document");
	assert_true(jx_bool(doc, "matches", false));
	assert_string_equal(jx_str(doc, "file_name", ""), "关于 2026 年重点项目的通知.pdf");
	assert_true(jx_bool(json_object_get(info, "signer"), "ours", false));
	json_decref(info);

	/* a tampered document: the SM3 hash named */
	char *bad = strdup(DOC);
	bad[10] = '8';
	info = verify(&k, &ses, bad, strlen(bad));
	expect_verdict(info, "tampered", "document_hash",
	               "the document's SM3 hash does not match the sealed hash");
	assert_false(jx_bool(json_object_get(info, "document"), "matches", true));
	json_decref(info);
	free(bad);
	/* bytes that are not a seal: a field error naming the part */
	e = (yz_err){0};
	assert_int_equal(pki_verify_file(k.f.s, "\x30\x03\x02\x01\x05", 5, DOC, 3, &info, &e),
	                 YZ_EINVAL);
	assert_string_equal(e.fields[0].field, "signature");
	assert_non_null(strstr(e.fields[0].got, "toSign"));

	/* a revoked seal cannot be applied; the one applied before stays valid
	 * when signed, revoked later */
	clock_set_fake(clock_now_ms() + 60000);
	assert_int_equal(pki_seal_revoke(k.f.s, &admin, seal, -1, &e), YZ_OK);
	e = (yz_err){0};
	assert_int_equal(pki_seal_apply(k.f.s, k.dir, &clerk, &ap, &again, NULL, &e), YZ_ECONFLICT);
	info = verify(&k, &ses, DOC, strlen(DOC));
	expect_verdict(info, "valid", NULL, NULL);
	cert = json_object_get(info, "certificate");
	assert_string_equal(jx_str(cert, "status", ""), "revoked");
	assert_string_equal(jx_str(cert, "at_signing", ""), "valid");
	assert_true(jx_bool(cert, "revoked_later", false));
	assert_string_equal(jx_str(cert, "reason", ""), "cessationOfOperation");
	json_decref(info);
	/* the same revocation dated before the seal was applied: invalid */
	char sql[300];
	snprintf(sql, sizeof sql,
	         "UPDATE pki_cert SET revoked_at = %lld, reason = 1 WHERE profile = 'seal' AND "
	         "status = 'revoked'",
	         (long long)(clock_now_ms() - 3600 * 1000));
	tu_exec_sql(k.f.s, sql);
	info = verify(&k, &ses, DOC, strlen(DOC));
	expect_verdict(info, "invalid", "certificate_status", "before the seal was applied");
	assert_string_equal(jx_str(json_object_get(info, "certificate"), "at_signing", ""),
	                    "revoked");
	json_decref(info);

	buf_free(&ses);
	buf_free(&again);
	sfx_close(&k);
}

static void test_seals(void **state)
{
	(void)state;
	const char *b[2];
	int n = tu_backends(b);
	for (int i = 0; i < n; i++)
		seals_on(b[i]);
}

/* ---- refusals: every byte, the empty ID ---- */

/* The private key of the newest signer of a kind, opened as pki does. */
static crypto_key *sealed_key(sfx *k, const char *kind)
{
	store_conn *c;
	yz_err e = {0};
	assert_int_equal(store_reader(k->f.s, &c, &e), YZ_OK);
	store_rows *r;
	store_val v[] = {sv_text(kind)};
	assert_int_equal(
	    store_query(c,
	                "SELECT a.name, g.serial, g.key_sealed FROM pki_signer g JOIN "
	                "pki_ca a ON a.id = g.ca_id WHERE g.kind = ? ORDER BY g.id DESC",
	                v, 1, &r, &e),
	    YZ_OK);
	assert_true(store_next(r));
	char aad[160];
	snprintf(aad, sizeof aad, "yizhan-pki-signer:%s:%s", store_col_text(r, 0),
	         store_col_text(r, 1));
	size_t kn;
	const void *sealed = store_col_blob(r, 2, &kn);
	unsigned char kek[CRYPTO_SEAL_KEY_LEN];
	char path[700];
	snprintf(path, sizeof path, "%s/keys/pki.kek", k->dir);
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

/* An SM2 signature of msg with OpenSSL's default (empty) ID, of length len. */
static size_t empty_id_sign(crypto_key *key, const void *msg, size_t n, unsigned char *sig,
                            size_t len)
{
	size_t sl = 0;
	for (int tries = 0; tries < 500; tries++) {
		EVP_MD_CTX *m = EVP_MD_CTX_new();
		sl = 128;
		assert_int_equal(
		    EVP_DigestSignInit(m, NULL, EVP_sm3(), NULL, (EVP_PKEY *)crypto_key_evp(key)),
		    1);
		assert_int_equal(EVP_DigestSign(m, sig, &sl, msg, n), 1);
		EVP_MD_CTX_free(m);
		if (sl == len)
			break;
	}
	assert_int_equal(sl, len);
	/* a good signature under the empty ID, so the refusal is the ID's */
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	assert_int_equal(
	    EVP_DigestVerifyInit(m, NULL, EVP_sm3(), NULL, (EVP_PKEY *)crypto_key_evp(key)), 1);
	assert_int_equal(EVP_DigestVerify(m, sig, sl, msg, n), 1);
	EVP_MD_CTX_free(m);
	return sl;
}

static void test_refusals(void **state)
{
	(void)state;
	sfx k;
	sfx_open(&k, "sqlite");
	yz_actor admin = person(&k, 0, "taoran.bgt", "520100");
	yz_actor clerk = person(&k, 1, "chenjing.fgw", "520100-fgw");
	yz_err e = {0};
	int64_t seal = make_seal(&k, &admin, "520100-fgw", "贵阳市发展和改革委员会公章");
	buf ses;
	buf_init(&ses, 1 << 20);
	pki_seal_apply_in ap = {
	    .seal_id = seal, .data = DOC, .n = strlen(DOC), .file_name = "a.pdf"};
	assert_int_equal(pki_seal_apply(k.f.s, k.dir, &clerk, &ap, &ses, NULL, &e), YZ_OK);
	json_t *info = verify(&k, &ses, DOC, strlen(DOC));
	expect_verdict(info, "valid", NULL, NULL);
	json_decref(info);

	/* the signature over TBS_Sign made again with the empty ID */
	pki_rd r = pki_rd_of(ses.p, ses.len);
	pki_tlv top, tbs, cert, alg, bits;
	assert_true(pki_rd_get(&r, PKI_DER_SEQ, &top));
	pki_rd in = pki_rd_in(&top);
	assert_true(pki_rd_get(&in, PKI_DER_SEQ, &tbs) && pki_rd_get(&in, PKI_DER_OCTETS, &cert) &&
	            pki_rd_get(&in, PKI_DER_OID, &alg) && pki_rd_get(&in, PKI_DER_BITS, &bits));
	crypto_key *key = sealed_key(&k, "seal");
	assert_int_equal(crypto_verify(key, tbs.raw, tbs.rawn, bits.v + 1, bits.n - 1, &e), YZ_OK);
	unsigned char sig[128];
	size_t sl = empty_id_sign(key, tbs.raw, tbs.rawn, sig, bits.n - 1);
	buf bad;
	buf_init(&bad, 1 << 20);
	assert_int_equal(buf_append(&bad, ses.p, ses.len), YZ_OK);
	memcpy(bad.p + (bits.v + 1 - (const unsigned char *)ses.p), sig, sl);
	info = verify(&k, &bad, DOC, strlen(DOC));
	expect_verdict(info, "invalid", "signature", "1234567812345678");
	json_decref(info);
	crypto_key_free(key);
	/* the maker's signature on the seal, the same way */
	key = sealed_key(&k, "maker");
	pki_rd tr = pki_rd_in(&tbs);
	pki_tlv ver, sealt, infot, mcert, malg, mbits;
	assert_true(pki_rd_get(&tr, PKI_DER_INT, &ver) && pki_rd_get(&tr, PKI_DER_SEQ, &sealt));
	pki_rd sr = pki_rd_in(&sealt);
	assert_true(pki_rd_get(&sr, PKI_DER_SEQ, &infot) &&
	            pki_rd_get(&sr, PKI_DER_OCTETS, &mcert) &&
	            pki_rd_get(&sr, PKI_DER_OID, &malg) && pki_rd_get(&sr, PKI_DER_BITS, &mbits));
	sl = empty_id_sign(key, infot.raw, infot.rawn, sig, mbits.n - 1);
	buf_reset(&bad);
	assert_int_equal(buf_append(&bad, ses.p, ses.len), YZ_OK);
	memcpy(bad.p + (mbits.v + 1 - (const unsigned char *)ses.p), sig, sl);
	info = verify(&k, &bad, DOC, strlen(DOC));
	/* the seal's signature changed inside TBS_Sign: the outer signature fails first, the
	 * maker's is named among the reasons only when it is the first */
	expect_verdict(info, "invalid", "signature", NULL);
	json_decref(info);
	crypto_key_free(key);

	/* a "seal" made by someone who merely holds a certificate of our CA: every
	 * signature holds, but the seal is not one the platform made */
	crypto_key *mine = NULL;
	assert_int_equal(crypto_key_generate(CRYPTO_SM2, &mine, &e), YZ_OK);
	buf pub;
	buf_init(&pub, 1 << 16);
	assert_int_equal(crypto_key_to_pem(mine, false, NULL, &pub, &e), YZ_OK);
	store_conn *c0;
	json_t *ireq = json_pack("{s:s, s:s, s:s, s:s}", "ca", "city", "profile", "user", "cn",
	                         "某人", "public_key", pub.p);
	json_t *rec = NULL;
	if (pki_issue(k.f.s, &k.sys, ireq, &rec, &e) != YZ_OK)
		fail_msg("issue: %s", e.msg);
	buf mycert;
	buf_init(&mycert, 1 << 16);
	assert_int_equal(store_reader(k.f.s, &c0, &e), YZ_OK);
	assert_int_equal(pki_cert_der(c0, "city", jx_str(rec, "serial", ""), &mycert, &e), YZ_OK);
	json_decref(ireq);
	json_decref(rec);
	buf_free(&pub);
	pki_der fi, fs, ft, fw;
	pki_der_init(&fi, 1 << 16);
	pki_der_init(&fs, 1 << 16);
	pki_der_init(&ft, 1 << 16);
	pki_der_init(&fw, 1 << 16);
	int64_t now = clock_now_ms() / 1000 * 1000;
	pki_der_begin(&fi, PKI_DER_SEQ);
	pki_der_begin(&fi, PKI_DER_SEQ);
	pki_der_ia5(&fi, "ES");
	pki_der_small(&fi, 4);
	pki_der_ia5(&fi, "forger");
	pki_der_end(&fi);
	pki_der_ia5(&fi, "0123456789ABCDEF0123456789ABCDEF");
	pki_der_begin(&fi, PKI_DER_SEQ);
	pki_der_small(&fi, 1);
	pki_der_utf8(&fi, "贵阳市人民政府公章");
	pki_der_small(&fi, 1);
	pki_der_begin(&fi, PKI_DER_SEQ);
	pki_der_put(&fi, PKI_DER_OCTETS, mycert.p, mycert.len);
	pki_der_end(&fi);
	pki_der_gentime(&fi, now);
	pki_der_gentime(&fi, now - 1000);
	pki_der_gentime(&fi, now + 86400000LL);
	pki_der_end(&fi);
	pki_der_begin(&fi, PKI_DER_SEQ);
	pki_der_ia5(&fi, "PNG");
	pki_der_put(&fi, PKI_DER_OCTETS, PNG, sizeof PNG);
	pki_der_small(&fi, 40);
	pki_der_small(&fi, 20);
	pki_der_end(&fi);
	pki_der_end(&fi);
	assert_int_equal(pki_der_done(&fi), YZ_OK);
	buf fsig;
	buf_init(&fsig, 512);
	assert_int_equal(crypto_sign(mine, fi.b.p, fi.b.len, &fsig, &e), YZ_OK);
	pki_der_begin(&fs, PKI_DER_SEQ);
	pki_der_raw(&fs, fi.b.p, fi.b.len);
	pki_der_put(&fs, PKI_DER_OCTETS, mycert.p, mycert.len);
	pki_der_oid(&fs, "1.2.156.10197.1.501");
	pki_der_bits(&fs, fsig.p, fsig.len);
	pki_der_end(&fs);
	unsigned char h[32];
	crypto_sm3(DOC, strlen(DOC), h);
	pki_der_begin(&ft, PKI_DER_SEQ);
	pki_der_small(&ft, 4);
	pki_der_raw(&ft, fs.b.p, fs.b.len);
	pki_der_gentime(&ft, now);
	pki_der_bits(&ft, h, sizeof h);
	pki_der_ia5(&ft, "forged.pdf");
	pki_der_end(&ft);
	buf_reset(&fsig);
	assert_int_equal(crypto_sign(mine, ft.b.p, ft.b.len, &fsig, &e), YZ_OK);
	pki_der_begin(&fw, PKI_DER_SEQ);
	pki_der_raw(&fw, ft.b.p, ft.b.len);
	pki_der_put(&fw, PKI_DER_OCTETS, mycert.p, mycert.len);
	pki_der_oid(&fw, "1.2.156.10197.1.501");
	pki_der_bits(&fw, fsig.p, fsig.len);
	pki_der_end(&fw);
	assert_int_equal(pki_der_done(&fw), YZ_OK);
	buf forged;
	buf_init(&forged, 1 << 16);
	assert_int_equal(buf_append(&forged, fw.b.p, fw.b.len), YZ_OK);
	info = verify(&k, &forged, DOC, strlen(DOC));
	expect_verdict(info, "invalid", "seal_unknown", "not made by this platform");
	assert_false(jx_bool(json_object_get(info, "seal"), "ours", true));
	json_decref(info);
	buf_free(&forged);
	buf_free(&fsig);
	buf_free(&mycert);
	pki_der_free(&fi);
	pki_der_free(&fs);
	pki_der_free(&ft);
	pki_der_free(&fw);
	crypto_key_free(mine);

	/* any one changed byte of the SES_Signature: never valid */
	int parse = 0, checked = 0;
	for (size_t i = 0; i < ses.len; i++) {
		ses.p[i] ^= 0x01;
		json_t *vi = NULL;
		yz_err ve = {0};
		yz_status st = pki_verify_file(k.f.s, ses.p, ses.len, DOC, strlen(DOC), &vi, &ve);
		if (st == YZ_OK) {
			checked++;
			if (jx_bool(vi, "valid", false))
				fail_msg("SES_Signature with byte %zu ^ 01 verifies", i);
		} else {
			parse++;
			assert_int_equal(st, YZ_EINVAL);
		}
		json_decref(vi);
		ses.p[i] ^= 0x01;
	}
	assert_true(checked > 100);
	assert_true(parse > 10);

	/* a detached SM2 signature made again with the empty ID */
	json_t *sin = json_pack("{s:I, s:s}", "org_id", (json_int_t)org_id(&k, "520100-fgw"),
	                        "name", "发展改革委公文系统");
	json_t *out = NULL;
	assert_int_equal(pki_signer_create(k.f.s, k.dir, &admin, sin, &out, &e), YZ_OK);
	int64_t signer = jx_int(out, "id", 0);
	json_decref(sin);
	json_decref(out);
	buf cms;
	buf_init(&cms, 1 << 20);
	pki_sign_req req = {.signer_id = signer, .data = DOC, .n = strlen(DOC)};
	assert_int_equal(pki_sign_detached(k.f.s, k.dir, &clerk, &req, &cms, NULL, &e), YZ_OK);
	const unsigned char *p = (const unsigned char *)cms.p;
	CMS_ContentInfo *ci = d2i_CMS_ContentInfo(NULL, &p, (long)cms.len);
	assert_non_null(ci);
	CMS_SignerInfo *si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(ci), 0);
	ASN1_OCTET_STRING *old = CMS_SignerInfo_get0_signature(si);
	/* the signed attributes as a SET, from our reader */
	pki_rd cr = pki_rd_of(cms.p, cms.len);
	pki_tlv ctop, t, sd, sis = {0}, sinfo, sattrs = {0};
	assert_true(pki_rd_get(&cr, PKI_DER_SEQ, &ctop));
	pki_rd c1 = pki_rd_in(&ctop);
	assert_true(pki_rd_get(&c1, PKI_DER_OID, &t) && pki_rd_get(&c1, PKI_DER_CTX(0), &t));
	pki_rd c2 = pki_rd_in(&t);
	assert_true(pki_rd_get(&c2, PKI_DER_SEQ, &sd));
	pki_rd c3 = pki_rd_in(&sd);
	while (pki_rd_next(&c3, &t))
		if (t.tag == PKI_DER_SET)
			sis = t;
	pki_rd c4 = pki_rd_in(&sis);
	assert_true(pki_rd_get(&c4, PKI_DER_SEQ, &sinfo));
	pki_rd c5 = pki_rd_in(&sinfo);
	while (pki_rd_next(&c5, &t))
		if (t.tag == PKI_DER_CTX(0))
			sattrs = t;
	buf set;
	buf_init(&set, 1 << 16);
	assert_int_equal(buf_putc(&set, 0x31), YZ_OK);
	assert_int_equal(buf_append(&set, sattrs.raw + 1, sattrs.rawn - 1), YZ_OK);
	key = sealed_key(&k, "app");
	sl = empty_id_sign(key, set.p, set.len, sig, (size_t)ASN1_STRING_length(old));
	unsigned char *at =
	    find_bytes(cms.p, cms.len, ASN1_STRING_get0_data(old), (size_t)ASN1_STRING_length(old));
	assert_non_null(at);
	memcpy(at, sig, sl);
	info = verify(&k, &cms, DOC, strlen(DOC));
	expect_verdict(info, "invalid", "signature", "1234567812345678");
	json_decref(info);
	crypto_key_free(key);
	CMS_ContentInfo_free(ci);
	buf_free(&set);
	buf_free(&cms);
	buf_free(&bad);
	buf_free(&ses);
	sfx_close(&k);
}

/* ---- detached signatures, SM2 and ECDSA ---- */

static void ca_der(const char *name, buf *out)
{
	yz_err e = {0};
	buf_reset(out);
	assert_int_equal(pki_ca_cert(name, out, &e), YZ_OK);
}

/* OpenSSL's verdict on a detached CMS signature over the P-256 chain. */
static int openssl_cms_verify(const buf *cms, const void *data, size_t n)
{
	buf d;
	buf_init(&d, 1 << 16);
	X509_STORE *st = X509_STORE_new();
	const char *cas[] = {"root-ec", "city-ec"};
	for (int i = 0; i < 2; i++) {
		ca_der(cas[i], &d);
		const unsigned char *p = (const unsigned char *)d.p;
		X509 *x = d2i_X509(NULL, &p, (long)d.len);
		assert_non_null(x);
		assert_true(X509_STORE_add_cert(st, x));
		X509_free(x);
	}
	const unsigned char *p = (const unsigned char *)cms->p;
	CMS_ContentInfo *ci = d2i_CMS_ContentInfo(NULL, &p, (long)cms->len);
	assert_non_null(ci);
	BIO *content = BIO_new_mem_buf(data, (int)n);
	int ok = CMS_verify(ci, NULL, st, content, NULL, CMS_BINARY);
	if (ok != 1 && getenv("SEAL_DEBUG"))
		ERR_print_errors_fp(stderr);
	ERR_clear_error();
	BIO_free(content);
	CMS_ContentInfo_free(ci);
	X509_STORE_free(st);
	buf_free(&d);
	return ok;
}

static void cms_on(const char *backend)
{
	sfx k;
	sfx_open(&k, backend);
	yz_actor admin = person(&k, 0, "taoran.bgt", "520100");
	yz_actor clerk = person(&k, 1, "chenjing.fgw", "520100-fgw");
	yz_actor other = person(&k, 2, "huangli.jyj", "520100-jyj");
	yz_err e = {0};
	const char *algs[] = {"sm2", "ecdsa-p256"};
	for (int a = 0; a < 2; a++) {
		e = (yz_err){0};
		json_t *in =
		    json_pack("{s:I, s:s, s:s}", "org_id", (json_int_t)org_id(&k, "520100-fgw"),
		              "name", "发展改革委公文系统", "alg", algs[a]);
		json_t *out = NULL;
		if (pki_signer_create(k.f.s, k.dir, &admin, in, &out, &e) != YZ_OK)
			fail_msg("signer: %s %s %s %s", e.msg, e.fields[0].field, e.fields[0].rule,
			         e.fields[0].expected);
		int64_t signer = jx_int(out, "id", 0);
		assert_string_equal(jx_str(out, "ca", ""), a ? "city-ec" : "city");
		json_decref(in);
		json_decref(out);
		buf cms;
		buf_init(&cms, 1 << 20);
		pki_sign_req req = {
		    .signer_id = signer, .data = DOC, .n = strlen(DOC), .file_name = "通知.pdf"};
		e = (yz_err){0};
		assert_int_equal(pki_sign_detached(k.f.s, k.dir, &other, &req, &cms, NULL, &e),
		                 YZ_EINVAL);
		e = (yz_err){0};
		json_t *made = NULL;
		if (pki_sign_detached(k.f.s, k.dir, &clerk, &req, &cms, &made, &e) != YZ_OK)
			fail_msg("sign: %s", e.msg);
		assert_non_null(jx_str(made, "tsa_serial", NULL));
		json_decref(made);
		json_t *info = verify(&k, &cms, DOC, strlen(DOC));
		expect_verdict(info, "valid", NULL, NULL);
		assert_string_equal(jx_str(info, "kind", ""), "signature");
		assert_string_equal(jx_str(json_object_get(info, "signer"), "cn", ""),
		                    "发展改革委公文系统");
		assert_string_equal(jx_str(json_object_get(info, "signer"), "kind", ""), "app");
		assert_true(jx_bool(info, "trusted_time", false));
		assert_string_equal(jx_str(json_object_get(info, "document"), "hash_alg", ""),
		                    a ? "sha256" : "sm3");
		json_decref(info);
		/* by its hash alone, the same */
		unsigned char h[32];
		if (a)
			crypto_sha256(DOC, strlen(DOC), h);
		else
			crypto_sm3(DOC, strlen(DOC), h);
		pki_sign_req byhash = {.signer_id = signer,
		                       .hash = h,
		                       .hash_len = 32,
		                       .hash_alg = a ? "sha256" : "sm3"};
		buf cms2;
		buf_init(&cms2, 1 << 20);
		assert_int_equal(pki_sign_detached(k.f.s, k.dir, &clerk, &byhash, &cms2, NULL, &e),
		                 YZ_OK);
		info = verify(&k, &cms2, DOC, strlen(DOC));
		expect_verdict(info, "valid", NULL, NULL);
		json_decref(info);
		byhash.hash_alg = a ? "sm3" : "sha256";
		e = (yz_err){0};
		assert_int_equal(pki_sign_detached(k.f.s, k.dir, &clerk, &byhash, &cms2, NULL, &e),
		                 YZ_EINVAL);
		buf_free(&cms2);
		/* tampered */
		info = verify(&k, &cms, DOC, strlen(DOC) - 1);
		expect_verdict(info, "tampered", "document_hash",
		               a ? "SHA-256 hash does not match the signed messageDigest"
		                 : "SM3 hash does not match the signed messageDigest");
		json_decref(info);
		/* OpenSSL agrees on ECDSA (and cannot check SM2 with the standard ID) */
		if (a) {
			assert_int_equal(openssl_cms_verify(&cms, DOC, strlen(DOC)), 1);
			assert_int_not_equal(openssl_cms_verify(&cms, DOC, strlen(DOC) - 1), 1);
		}
		/* no single changed byte verifies */
		if (!strcmp(backend, "sqlite")) {
			for (size_t i = 0; i < cms.len; i += 1) {
				cms.p[i] ^= 0x80;
				json_t *vi = NULL;
				yz_err ve = {0};
				if (pki_verify_file(k.f.s, cms.p, cms.len, DOC, strlen(DOC), &vi,
				                    &ve) == YZ_OK &&
				    jx_bool(vi, "valid", false)) {
					cms.p[i] ^= 0x80;
					FILE *df = fopen("/tmp/cms-debug.der", "wb");
					fwrite(cms.p, 1, cms.len, df);
					fclose(df);
					fail_msg("CMS (%s) with byte %zu ^ 80 verifies", algs[a],
					         i);
				}
				json_decref(vi);
				cms.p[i] ^= 0x80;
			}
		}
		buf_free(&cms);
	}
	/* a seal's key signs detached too */
	int64_t seal = make_seal(&k, &admin, "520100-fgw", "贵阳市发展和改革委员会公章");
	buf cms;
	buf_init(&cms, 1 << 20);
	pki_sign_req req = {.seal_id = seal, .data = DOC, .n = strlen(DOC)};
	assert_int_equal(pki_sign_detached(k.f.s, k.dir, &clerk, &req, &cms, NULL, &e), YZ_OK);
	json_t *info = verify(&k, &cms, DOC, strlen(DOC));
	expect_verdict(info, "valid", NULL, NULL);
	assert_string_equal(jx_str(json_object_get(info, "signer"), "seal", ""),
	                    "贵阳市发展和改革委员会公章");
	json_decref(info);
	buf_free(&cms);
	assert_int_equal(fx_count(&k.f, "SELECT COUNT(*) FROM pki_signature WHERE kind = 'cms'"),
	                 5);
	sfx_close(&k);
}

static void test_cms(void **state)
{
	(void)state;
	const char *b[2];
	int n = tu_backends(b);
	for (int i = 0; i < n; i++)
		cms_on(b[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_seals),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_cms),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
