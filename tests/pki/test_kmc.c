/* Unit tests for the key management centre (src/pki/kmc.c) on every
 * backend: data keys (create, rotate, the old version still readable, the
 * associated data binding a wrapped key to its id, version and purpose, the
 * KEK file), the GB/T 35276 envelope (round trip, another recipient, a
 * changed private key, garbage), an encryption key pair for the holder of a
 * signing certificate (certified under user-enc, archived, the envelope
 * opened with the signing key and matching the certificate; signing keys
 * never escrowed), and recovery on the flow engine: refused with one
 * approval, refused to the requester approving themselves and to an
 * approver approving twice, done with two, released once in an envelope to
 * the recipient, and refused by one approver's no. The demo city's users,
 * roles and recovery flow are the ones the program ships. The openssl CLI
 * checks are in tests/api/kmc.test.mjs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "audit/audit.h"
#include "core/b64.h"
#include "core/jx.h"
#include "flow/flow.h"
#include "flow/flow_fixture.h"
#include "iam/iam.h"
#include "pki/kmc.h"
#include "pki/pki.h"
#include "testutil.h"

typedef struct kfx {
	fx f;
	char *dir;
	yz_actor sys;
} kfx;

static void kfx_open(kfx *k, const char *backend)
{
	fx_open(&k->f, backend, "pki", pki_migrations, pki_nmigrations);
	k->dir = tu_tmpdir();
	k->sys = actor_system("test");
	json_t *doc =
	    json_pack("{s:s, s:[{s:s, s:s, s:s}, {s:s, s:s, s:s, s:s}]}", "base_url",
	              "http://pki.test", "cas", "name", "root", "title", "根", "cn", "测试根 CA",
	              "name", "city", "title", "市 CA", "cn", "测试市 CA", "parent", "root");
	yz_err e = {0};
	if (pki_install(k->f.s, k->dir, &k->sys, doc, tu_src("data/pki/profiles.json"), NULL, &e) !=
	    YZ_OK)
		fail_msg("install: %s", e.msg);
	json_decref(doc);
	fx_load_def_file(&k->f, "packs/demo-city/flows/pki.kmc.recovery.json");
	flow_on_event(kmc_flow_event, NULL);
}

static void kfx_close(kfx *k)
{
	pki_unload();
	fx_close(&k->f); /* verifies the audit chain first */
	tu_rmtree(k->dir);
	free(k->dir);
}

/* A demo user as the HTTP layer would make them an actor. */
static yz_actor person(kfx *k, const char *login)
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
	return a;
}

static int64_t count(kfx *k, const char *sql)
{
	return fx_count(&k->f, sql);
}

/* ---- data keys ---- */

static void data_keys_on(const char *backend)
{
	kfx k;
	kfx_open(&k, backend);
	yz_actor op = person(&k, "fangqing.kmc");
	yz_err e = {0};
	char a[KMC_KEY_ID_MAX], b[KMC_KEY_ID_MAX];
	unsigned char k1[KMC_DATA_KEY_LEN], k2[KMC_DATA_KEY_LEN], again[KMC_DATA_KEY_LEN];
	int got = 0, version = 0;

	/* the KEK is made on first use: 48 bytes, 0600, not the CA's */
	char path[700];
	snprintf(path, sizeof path, "%s/keys/kmc.kek", k.dir);
	struct stat sb;
	assert_int_not_equal(stat(path, &sb), 0);
	assert_int_equal(kmc_data_key_create(k.f.s, k.dir, &op, "registry.person.id_number", a, &e),
	                 YZ_OK);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, 48);
	assert_int_equal(sb.st_mode & 0777, 0600);
	unsigned char kek[CRYPTO_SEAL_KEY_LEN], pkek[CRYPTO_SEAL_KEY_LEN];
	assert_int_equal(kmc_kek(k.dir, false, kek, &e), YZ_OK);
	snprintf(path, sizeof path, "%s/keys/pki.kek", k.dir);
	FILE *pf = fopen(path, "rb");
	assert_non_null(pf);
	assert_int_equal(fread(pkek, 1, sizeof pkek, pf), sizeof pkek);
	fclose(pf);
	assert_memory_not_equal(kek, pkek, sizeof kek);

	assert_int_equal(strncmp(a, "dk-", 3), 0);
	assert_int_equal(strlen(a), 19);
	assert_int_equal(kmc_data_key_get(k.f.s, k.dir, &op, a, 0, k1, &got, &e), YZ_OK);
	assert_int_equal(got, 1);
	/* rotate: version 2 is current and differs; version 1 still opens */
	assert_int_equal(kmc_data_key_rotate(k.f.s, k.dir, &op, a, &version, &e), YZ_OK);
	assert_int_equal(version, 2);
	assert_int_equal(kmc_data_key_get(k.f.s, k.dir, &op, a, 0, k2, &got, &e), YZ_OK);
	assert_int_equal(got, 2);
	assert_memory_not_equal(k1, k2, sizeof k1);
	assert_int_equal(kmc_data_key_get(k.f.s, k.dir, &op, a, 1, again, &got, &e), YZ_OK);
	assert_int_equal(got, 1);
	assert_memory_equal(k1, again, sizeof k1);
	/* what version 1 sealed still opens after the rotation */
	buf ct, pt;
	buf_init(&ct, 4096);
	buf_init(&pt, 4096);
	assert_int_equal(crypto_seal(k1, "col", 3, "11010519491231002X", 18, &ct), YZ_OK);
	assert_int_equal(kmc_data_key_get(k.f.s, k.dir, &op, a, 1, again, NULL, &e), YZ_OK);
	assert_int_equal(crypto_open(again, "col", 3, ct.p, ct.len, &pt), YZ_OK);
	assert_memory_equal(pt.p, "11010519491231002X", 18);
	/* the blind-index key: stable per label, different between labels and keys */
	unsigned char bi1[CRYPTO_SM3_LEN], bi2[CRYPTO_SM3_LEN], bi3[CRYPTO_SM3_LEN];
	kmc_blind_key(k1, "id_number", bi1);
	kmc_blind_key(k1, "id_number", bi2);
	assert_memory_equal(bi1, bi2, sizeof bi1);
	kmc_blind_key(k1, "phone", bi2);
	kmc_blind_key(k2, "id_number", bi3);
	assert_memory_not_equal(bi1, bi2, sizeof bi1);
	assert_memory_not_equal(bi1, bi3, sizeof bi1);

	/* unknown keys and versions, bad purposes */
	e = (yz_err){0};
	assert_int_equal(kmc_data_key_get(k.f.s, k.dir, &op, a, 3, again, NULL, &e), YZ_ENOTFOUND);
	assert_int_equal(
	    kmc_data_key_get(k.f.s, k.dir, &op, "dk-0000000000000000", 0, again, NULL, &e),
	    YZ_ENOTFOUND);
	assert_int_equal(kmc_data_key_rotate(k.f.s, k.dir, &op, "nope", NULL, &e), YZ_ENOTFOUND);
	e = (yz_err){0};
	assert_int_equal(kmc_data_key_create(k.f.s, k.dir, &op, "Has Spaces", b, &e), YZ_EINVAL);
	assert_string_equal(e.fields[0].field, "purpose");

	/* associated data: a wrapped key moved to another key id does not open,
	 * nor one whose purpose was changed */
	assert_int_equal(kmc_data_key_create(k.f.s, k.dir, &op, "registry.person.phone", b, &e),
	                 YZ_OK);
	assert_int_equal(kmc_data_key_get(k.f.s, k.dir, &op, b, 0, again, NULL, &e), YZ_OK);
	char sql[512];
	snprintf(sql, sizeof sql,
	         "UPDATE kmc_data_key SET wrapped = (SELECT wrapped FROM kmc_data_key WHERE key_id "
	         "= '%s' AND version = 1) WHERE key_id = '%s'",
	         a, b);
	tu_exec_sql(k.f.s, sql);
	e = (yz_err){0};
	assert_int_equal(kmc_data_key_get(k.f.s, k.dir, &op, b, 0, again, NULL, &e), YZ_ECRYPTO);
	assert_non_null(strstr(e.msg, "moved"));
	snprintf(sql, sizeof sql,
	         "UPDATE kmc_data_key SET purpose = 'registry.other' WHERE key_id = '%s' AND "
	         "version = 1",
	         a);
	tu_exec_sql(k.f.s, sql);
	assert_int_equal(kmc_data_key_get(k.f.s, k.dir, &op, a, 1, again, NULL, &e), YZ_ECRYPTO);
	assert_int_equal(kmc_data_key_get(k.f.s, k.dir, &op, a, 2, again, NULL, &e), YZ_OK);

	/* the list shows no material, and both versions */
	store_conn *c;
	json_t *list = NULL;
	assert_int_equal(store_reader(k.f.s, &c, &e), YZ_OK);
	assert_int_equal(kmc_data_key_list(c, &list, &e), YZ_OK);
	json_t *items = json_object_get(list, "items");
	assert_int_equal(json_array_size(items), 2);
	char *text = json_dumps(list, 0);
	assert_null(strstr(text, "wrapped"));
	free(text);
	size_t i;
	json_t *it;
	json_array_foreach (items, i, it)
		if (!strcmp(jx_str(it, "key_id", ""), a)) {
			assert_int_equal(jx_int(it, "version", 0), 2);
			assert_int_equal(json_array_size(json_object_get(it, "versions")), 2);
		}
	json_decref(list);

	/* audited: 2 creates, 1 rotate, every successful unwrap */
	assert_int_equal(count(&k, "SELECT COUNT(*) FROM audit_log WHERE action = "
	                           "'pki.kmc.datakey.create'"),
	                 2);
	assert_int_equal(count(&k, "SELECT COUNT(*) FROM audit_log WHERE action = "
	                           "'pki.kmc.datakey.rotate'"),
	                 1);
	assert_int_equal(count(&k, "SELECT COUNT(*) FROM audit_log WHERE action = "
	                           "'pki.kmc.datakey.unwrap'"),
	                 6);
	buf_free(&ct);
	buf_free(&pt);
	kfx_close(&k);
}

static void test_data_keys(void **state)
{
	(void)state;
	const char *b[2];
	int n = tu_backends(b);
	for (int i = 0; i < n; i++)
		data_keys_on(b[i]);
}

/* ---- the envelope ---- */

static bool same_public(const crypto_key *a, const crypto_key *b)
{
	unsigned char pa[CRYPTO_EC_POINT_LEN], pb[CRYPTO_EC_POINT_LEN];
	return crypto_key_ec_point(a, pa) == YZ_OK && crypto_key_ec_point(b, pb) == YZ_OK &&
	       !memcmp(pa, pb, sizeof pa);
}

static void test_envelope(void **state)
{
	(void)state;
	yz_err e = {0};
	crypto_key *enc, *holder, *other, *ec, *back = NULL;
	assert_int_equal(crypto_key_generate(CRYPTO_SM2, &enc, &e), YZ_OK);
	assert_int_equal(crypto_key_generate(CRYPTO_SM2, &holder, &e), YZ_OK);
	assert_int_equal(crypto_key_generate(CRYPTO_SM2, &other, &e), YZ_OK);
	assert_int_equal(crypto_key_generate(CRYPTO_ECDSA_P256, &ec, &e), YZ_OK);
	buf env;
	buf_init(&env, 4096);
	assert_int_equal(kmc_envelope_seal(enc, holder, &env, &e), YZ_OK);
	/* SM2EnvelopedKey: SEQUENCE { SEQUENCE { sm4-ecb }, SM2Cipher, BIT STRING
	 * (65 bytes), BIT STRING (32 bytes) } */
	const unsigned char *p = (const unsigned char *)env.p;
	assert_int_equal(p[0], 0x30);
	static const unsigned char alg[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x81,
	                                    0x1c, 0xcf, 0x55, 0x01, 0x68, 0x01};
	size_t hl = p[1] < 0x80 ? 2 : 2 + (p[1] & 0x7f);
	assert_memory_equal(p + hl, alg, sizeof alg);
	assert_memory_equal(p + env.len - 35, "\x03\x21\x00", 3);
	assert_memory_equal(p + env.len - 35 - 68, "\x03\x42\x00\x04", 4);
	/* opened by the recipient: the same key pair */
	assert_int_equal(kmc_envelope_open(env.p, env.len, holder, &back, &e), YZ_OK);
	assert_true(crypto_key_is_private(back));
	assert_true(same_public(back, enc));
	unsigned char d1[32], d2[32];
	assert_int_equal(crypto_sm2_private_raw(enc, d1, &e), YZ_OK);
	assert_int_equal(crypto_sm2_private_raw(back, d2, &e), YZ_OK);
	assert_memory_equal(d1, d2, 32);
	crypto_key_free(back);
	back = NULL;
	/* not by another key */
	assert_int_equal(kmc_envelope_open(env.p, env.len, other, &back, &e), YZ_ECRYPTO);
	assert_null(back);
	/* a changed encrypted private key fails the d·G check; a changed public
	 * key too */
	((unsigned char *)env.p)[env.len - 5] ^= 0x40;
	e = (yz_err){0};
	assert_int_equal(kmc_envelope_open(env.p, env.len, holder, &back, &e), YZ_ECRYPTO);
	assert_non_null(strstr(e.msg, "does not match"));
	((unsigned char *)env.p)[env.len - 5] ^= 0x40;
	((unsigned char *)env.p)[env.len - 40] ^= 0x01;
	assert_int_not_equal(kmc_envelope_open(env.p, env.len, holder, &back, &e), YZ_OK);
	((unsigned char *)env.p)[env.len - 40] ^= 0x01;
	assert_int_equal(kmc_envelope_open(env.p, env.len, holder, &back, &e), YZ_OK);
	crypto_key_free(back);
	back = NULL;
	/* garbage, truncation, trailing bytes, wrong key types */
	assert_int_equal(kmc_envelope_open("\x30\x00", 2, holder, &back, &e), YZ_EINVAL);
	assert_int_equal(kmc_envelope_open(env.p, env.len - 1, holder, &back, &e), YZ_EINVAL);
	assert_int_equal(buf_append(&env, "\x00", 1), YZ_OK);
	assert_int_equal(kmc_envelope_open(env.p, env.len, holder, &back, &e), YZ_EINVAL);
	buf_reset(&env);
	assert_int_equal(kmc_envelope_seal(enc, ec, &env, &e), YZ_EINVAL);
	assert_int_equal(kmc_envelope_seal(ec, holder, &env, &e), YZ_EINVAL);
	buf_free(&env);
	crypto_key_free(enc);
	crypto_key_free(holder);
	crypto_key_free(other);
	crypto_key_free(ec);
}

/* ---- encryption key pairs and recovery ---- */

/* A signing certificate under "user" for a new SM2 key of a demo user. */
static json_t *signing_cert(kfx *k, const char *holder_login, crypto_key **key)
{
	yz_err e = {0};
	assert_int_equal(crypto_key_generate(CRYPTO_SM2, key, &e), YZ_OK);
	buf pem;
	buf_init(&pem, 8192);
	assert_int_equal(crypto_key_to_pem(*key, false, NULL, &pem, &e), YZ_OK);
	yz_actor holder = person(k, holder_login);
	json_t *in =
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I}", "ca", "city", "profile", "user",
	              "public_key", pem.p, "cn", "陈静", "o", "贵阳市发展和改革委员会", "id_number",
	              "11010519491231002X", "email", "chenjing.fgw@example.gov.cn", "holder_user",
	              (json_int_t)holder.user_id);
	json_t *out = NULL;
	if (pki_issue(k->f.s, &k->sys, in, &out, &e) != YZ_OK)
		fail_msg("signing certificate: %s", e.msg);
	json_decref(in);
	buf_free(&pem);
	return out;
}

static crypto_key *cert_key(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	assert_non_null(x);
	crypto_key *k = NULL;
	yz_err e = {0};
	assert_int_equal(crypto_key_from_evp(X509_get0_pubkey(x), &k, &e), YZ_OK);
	X509_free(x);
	return k;
}

static crypto_key *open_b64(const char *b64, const crypto_key *recipient)
{
	size_t n = strlen(b64), len = 0;
	unsigned char *der = malloc(n);
	assert_int_equal(b64_decode(b64, n, false, der, n, &len), YZ_OK);
	crypto_key *k = NULL;
	yz_err e = {0};
	if (kmc_envelope_open(der, len, recipient, &k, &e) != YZ_OK)
		fail_msg("envelope: %s", e.msg);
	free(der);
	return k;
}

static void grant(kfx *k, const char *login, const char *r1, const char *r2)
{
	store_conn *c;
	yz_err e = {0};
	int64_t org = 0;
	assert_int_equal(store_reader(k->f.s, &c, &e), YZ_OK);
	assert_int_equal(iam_org_find_code(c, "520100", &org, &e), YZ_OK);
	yz_actor a = person(k, login);
	json_t *in = json_pack("[{s:s, s:I}, {s:s, s:I}]", "role", r1, "scope", (json_int_t)org,
	                       "role", r2, "scope", (json_int_t)org);
	if (iam_user_set_roles(k->f.s, &k->sys, a.user_id, in, &e) != YZ_OK)
		fail_msg("roles: %s", e.msg);
	json_decref(in);
}

static json_t *recovery(kfx *k, int64_t id)
{
	store_conn *c;
	yz_err e = {0};
	json_t *o = NULL;
	assert_int_equal(store_reader(k->f.s, &c, &e), YZ_OK);
	assert_int_equal(kmc_recovery_get(c, id, &o, &e), YZ_OK);
	return o;
}

static const char *status_of(kfx *k, int64_t id)
{
	static char s[16];
	json_t *o = recovery(k, id);
	yz_strlcpy(s, jx_str(o, "status", ""), sizeof s);
	json_decref(o);
	return s;
}

static void enc_and_recovery_on(const char *backend)
{
	kfx k;
	kfx_open(&k, backend);
	yz_actor op = person(&k, "fangqing.kmc"), luo = person(&k, "luowei.dsjj"),
	         zhou = person(&k, "zhoumin.bgt"), tian = person(&k, "tianjing.gaj"),
	         clerk = person(&k, "chenjing.fgw");
	yz_err e = {0};
	crypto_key *sign_key, *new_key;
	json_t *sign = signing_cert(&k, "chenjing.fgw", &sign_key);

	/* the encryption key pair for the holder of the signing certificate */
	json_t *in = json_pack("{s:s, s:s}", "ca", "city", "serial", jx_str(sign, "serial", ""));
	json_t *out = NULL;
	if (kmc_enc_key_issue(k.f.s, k.dir, &op, in, &out, &e) != YZ_OK)
		fail_msg("enc key: %s (%s)", e.msg, e.nfield ? e.fields[0].field : "");
	json_t *cert = json_object_get(out, "certificate");
	assert_string_equal(jx_str(cert, "profile", ""), "user-enc");
	assert_string_equal(jx_str(cert, "cn", ""), "陈静");
	assert_int_equal(jx_int(cert, "holder_user", 0), clerk.user_id);
	assert_string_equal(jx_str(cert, "id_number", ""), "11010519491231002X");
	assert_string_equal(jx_str(out, "envelope_format", ""), KMC_ENVELOPE_FORMAT);
	assert_string_equal(jx_str(cert, "key_id", ""), jx_str(out, "key_id", ""));
	char enc_serial[80];
	yz_strlcpy(enc_serial, jx_str(cert, "serial", ""), sizeof enc_serial);
	/* the certificate: signed by the city CA, for encryption, same subject */
	BIO *bio = BIO_new_mem_buf(jx_str(cert, "pem", ""), -1);
	X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	assert_non_null(x);
	uint32_t ku = X509_get_key_usage(x);
	assert_true(ku & KU_KEY_ENCIPHERMENT);
	assert_false(ku & (KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION));
	unsigned char *der = NULL;
	int dn = i2d_X509(x, &der);
	buf ca;
	buf_init(&ca, 1 << 16);
	assert_int_equal(pki_ca_cert("city", &ca, &e), YZ_OK);
	if (pki_verify_cert(der, (size_t)dn, ca.p, ca.len, &e) != YZ_OK)
		fail_msg("encryption certificate: %s", e.msg);
	OPENSSL_free(der);
	X509_free(x);
	/* the envelope opens with the holder's signing key, to the certified key */
	crypto_key *enc_pub = cert_key(jx_str(cert, "pem", ""));
	crypto_key *enc = open_b64(jx_str(out, "envelope", ""), sign_key);
	assert_true(same_public(enc, enc_pub));
	/* but not with another key */
	{
		crypto_key *stranger;
		assert_int_equal(crypto_key_generate(CRYPTO_SM2, &stranger, &e), YZ_OK);
		size_t n = strlen(jx_str(out, "envelope", "")), len = 0;
		unsigned char *raw = malloc(n);
		assert_int_equal(b64_decode(jx_str(out, "envelope", ""), n, false, raw, n, &len),
		                 YZ_OK);
		crypto_key *none = NULL;
		assert_int_equal(kmc_envelope_open(raw, len, stranger, &none, &e), YZ_ECRYPTO);
		free(raw);
		crypto_key_free(stranger);
	}
	assert_int_equal(count(&k, "SELECT COUNT(*) FROM kmc_enc_key"), 1);
	assert_int_equal(count(&k, "SELECT COUNT(*) FROM audit_log WHERE action = "
	                           "'pki.kmc.enckey.archive'"),
	                 1);

	/* signing keys are never escrowed; an encryption certificate is no
	 * holder's signing certificate; unknown certificates */
	json_t *bad = json_pack("{s:s, s:s, s:s}", "ca", "city", "serial",
	                        jx_str(sign, "serial", ""), "profile", "user");
	e = (yz_err){0};
	assert_int_equal(kmc_enc_key_issue(k.f.s, k.dir, &op, bad, NULL, &e), YZ_EREFUSED);
	assert_string_equal(e.fields[0].rule, "no-signing-key-escrow");
	json_decref(bad);
	bad = json_pack("{s:s, s:s}", "ca", "city", "serial", enc_serial);
	e = (yz_err){0};
	assert_int_equal(kmc_enc_key_issue(k.f.s, k.dir, &op, bad, NULL, &e), YZ_EINVAL);
	assert_string_equal(e.fields[0].rule, "signing-certificate");
	json_decref(bad);
	bad = json_pack("{s:s, s:s}", "ca", "city", "serial", "ABCDEF");
	e = (yz_err){0};
	assert_int_equal(kmc_enc_key_issue(k.f.s, k.dir, &op, bad, NULL, &e), YZ_EINVAL);
	assert_string_equal(e.fields[0].field, "serial");
	json_decref(bad);
	assert_int_equal(count(&k, "SELECT COUNT(*) FROM kmc_enc_key"), 1);

	/* the holder lost the device: a new signing certificate receives the
	 * recovered key */
	json_t *renewed = signing_cert(&k, "chenjing.fgw", &new_key);
	json_t *req = json_pack("{s:s, s:s, s:s, s:s, s:s}", "ca", "city", "serial", enc_serial,
	                        "reason", "持有人 USBKey 丢失，需解密历史公文", "recipient_ca",
	                        "city", "recipient_serial", jx_str(renewed, "serial", ""));
	json_t *r1 = NULL;
	if (kmc_recovery_request(k.f.s, &op, req, &r1, &e) != YZ_OK)
		fail_msg("request: %s (%s)", e.msg, e.nfield ? e.fields[0].field : "");
	int64_t id1 = jx_int(r1, "id", 0);
	assert_string_equal(jx_str(r1, "status", ""), "open");
	assert_int_equal(jx_int(r1, "needed", 0), 2);
	assert_true(jx_int(r1, "instance_id", 0) > 0);
	assert_string_equal(jx_str(json_object_get(r1, "requester"), "login", ""), "fangqing.kmc");

	/* the requester is no approver here; one approval is not enough */
	e = (yz_err){0};
	assert_int_equal(kmc_recovery_approve(k.f.s, &op, id1, NULL, &e), YZ_EFORBIDDEN);
	assert_int_equal(kmc_recovery_approve(k.f.s, &luo, id1, "核实无误", &e), YZ_OK);
	json_t *rel = NULL;
	e = (yz_err){0};
	assert_int_equal(kmc_recovery_release(k.f.s, k.dir, &op, id1, &rel, &e), YZ_ECONFLICT);
	assert_null(rel);
	assert_string_equal(e.fields[0].rule, "quorum");
	assert_string_equal(e.fields[0].got, "1 approval");
	/* the same approver twice does not count twice */
	e = (yz_err){0};
	assert_int_equal(kmc_recovery_approve(k.f.s, &luo, id1, NULL, &e), YZ_EREFUSED);
	assert_string_equal(e.fields[0].rule, "distinct");
	assert_string_equal(status_of(&k, id1), "open");
	/* a second approver: approved; the third comes too late */
	assert_int_equal(kmc_recovery_approve(k.f.s, &zhou, id1, NULL, &e), YZ_OK);
	json_t *r = recovery(&k, id1);
	assert_string_equal(jx_str(r, "status", ""), "approved");
	assert_int_equal(json_array_size(json_object_get(r, "approvals")), 2);
	json_decref(r);
	e = (yz_err){0};
	assert_int_equal(kmc_recovery_approve(k.f.s, &tian, id1, NULL, &e), YZ_ECONFLICT);
	/* approvers cannot release; the KMC operator can, once */
	rel = NULL;
	assert_int_equal(kmc_recovery_release(k.f.s, k.dir, &op, id1, &rel, &e), YZ_OK);
	crypto_key *recovered = open_b64(jx_str(rel, "envelope", ""), new_key);
	assert_true(same_public(recovered, enc_pub));
	unsigned char d1[32], d2[32];
	assert_int_equal(crypto_sm2_private_raw(recovered, d1, &e), YZ_OK);
	assert_int_equal(crypto_sm2_private_raw(enc, d2, &e), YZ_OK);
	assert_memory_equal(d1, d2, 32);
	/* the old signing key cannot open the recovery envelope */
	{
		size_t n = strlen(jx_str(rel, "envelope", "")), len = 0;
		unsigned char *raw = malloc(n);
		assert_int_equal(b64_decode(jx_str(rel, "envelope", ""), n, false, raw, n, &len),
		                 YZ_OK);
		crypto_key *none = NULL;
		assert_int_equal(kmc_envelope_open(raw, len, sign_key, &none, &e), YZ_ECRYPTO);
		free(raw);
	}
	json_decref(rel);
	rel = NULL;
	e = (yz_err){0};
	assert_int_equal(kmc_recovery_release(k.f.s, k.dir, &op, id1, &rel, &e), YZ_ECONFLICT);
	assert_non_null(strstr(e.msg, "released once"));
	assert_string_equal(status_of(&k, id1), "released");

	/* an operator who is also an approver cannot approve their own request;
	 * one approver's no ends it */
	grant(&k, "luowei.dsjj", "kmc_approver", "kmc_operator");
	luo = person(&k, "luowei.dsjj");
	json_t *r2 = NULL;
	assert_int_equal(kmc_recovery_request(k.f.s, &luo, req, &r2, &e), YZ_OK);
	int64_t id2 = jx_int(r2, "id", 0);
	e = (yz_err){0};
	assert_int_equal(kmc_recovery_approve(k.f.s, &luo, id2, NULL, &e), YZ_EREFUSED);
	assert_string_equal(e.fields[0].rule, "not-requester");
	assert_int_equal(count(&k, "SELECT COUNT(*) FROM kmc_recovery_approval"), 2);
	e = (yz_err){0};
	assert_int_equal(kmc_recovery_refuse(k.f.s, &tian, id2, "", &e), YZ_EINVAL);
	assert_int_equal(kmc_recovery_refuse(k.f.s, &tian, id2, "理由不充分", &e), YZ_OK);
	assert_string_equal(status_of(&k, id2), "refused");
	e = (yz_err){0};
	assert_int_equal(kmc_recovery_release(k.f.s, k.dir, &luo, id2, &rel, &e), YZ_ECONFLICT);
	assert_int_equal(kmc_recovery_approve(k.f.s, &zhou, id2, NULL, &e), YZ_ECONFLICT);

	/* what cannot be asked for: a key not archived, a recipient that is not
	 * valid, a requester without pki.kmc.manage */
	json_t *nokey = json_deep_copy(req);
	jx_set_str(nokey, "serial", jx_str(sign, "serial", ""));
	e = (yz_err){0};
	assert_int_equal(kmc_recovery_request(k.f.s, &op, nokey, NULL, &e), YZ_EINVAL);
	assert_string_equal(e.fields[0].rule, "archived");
	assert_int_equal(
	    pki_revoke(k.f.s, &k.sys, "city", jx_str(sign, "serial", ""), PKI_KEY_COMPROMISE, &e),
	    YZ_OK);
	json_t *revoked = json_deep_copy(req);
	jx_set_str(revoked, "recipient_serial", jx_str(sign, "serial", ""));
	e = (yz_err){0};
	assert_int_equal(kmc_recovery_request(k.f.s, &op, revoked, NULL, &e), YZ_EINVAL);
	assert_string_equal(e.fields[0].field, "recipient_serial");
	assert_string_equal(e.fields[0].rule, "valid");
	e = (yz_err){0};
	assert_int_not_equal(kmc_recovery_request(k.f.s, &zhou, req, NULL, &e), YZ_OK);
	assert_int_equal(count(&k, "SELECT COUNT(*) FROM kmc_recovery"), 2);

	/* every step in the audit chain */
	assert_int_equal(count(&k, "SELECT COUNT(*) FROM audit_log WHERE action = "
	                           "'pki.kmc.recovery.request'"),
	                 2);
	assert_int_equal(count(&k, "SELECT COUNT(*) FROM audit_log WHERE action = "
	                           "'pki.kmc.recovery.approve'"),
	                 2);
	assert_int_equal(count(&k, "SELECT COUNT(*) FROM audit_log WHERE action = "
	                           "'pki.kmc.recovery.approved'"),
	                 1);
	assert_int_equal(count(&k, "SELECT COUNT(*) FROM audit_log WHERE action = "
	                           "'pki.kmc.recovery.refused'"),
	                 1);
	assert_int_equal(count(&k, "SELECT COUNT(*) FROM audit_log WHERE action = "
	                           "'pki.kmc.recovery.release'"),
	                 1);

	json_decref(nokey);
	json_decref(revoked);
	json_decref(r1);
	json_decref(r2);
	json_decref(req);
	json_decref(renewed);
	json_decref(in);
	json_decref(out);
	json_decref(sign);
	buf_free(&ca);
	crypto_key_free(recovered);
	crypto_key_free(enc);
	crypto_key_free(enc_pub);
	crypto_key_free(sign_key);
	crypto_key_free(new_key);
	kfx_close(&k);
}

static void test_enc_keys_and_recovery(void **state)
{
	(void)state;
	const char *b[2];
	int n = tu_backends(b);
	for (int i = 0; i < n; i++)
		enc_and_recovery_on(b[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_envelope),
	    cmocka_unit_test(test_data_keys),
	    cmocka_unit_test(test_enc_keys_and_recovery),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
