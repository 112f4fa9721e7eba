/*
 * pki_ca.c — the CA hierarchy: the key-encryption key, making a CA (key,
 * certificate signed by its parent or by itself, sealed key), loading the
 * CAs into this process, and their public index.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit/audit.h"
#include "core/clock.h"
#include "core/jx.h"
#include "pki/pki_int.h"

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static pki_ca_rt *_Atomic reg[PKI_MAX_CAS];
static _Atomic int reg_n;

int pki_ca_count(void)
{
	return atomic_load(&reg_n);
}

pki_ca_rt *pki_ca_at(int i)
{
	return i >= 0 && i < atomic_load(&reg_n) ? atomic_load(&reg[i]) : NULL;
}

pki_ca_rt *pki_ca_find(const char *name)
{
	int n = atomic_load(&reg_n);
	for (int i = 0; name && i < n; i++) {
		pki_ca_rt *c = atomic_load(&reg[i]);
		if (!strcmp(c->name, name))
			return c;
	}
	return NULL;
}

pki_ca_rt *pki_ca_by_id(int64_t id)
{
	int n = atomic_load(&reg_n);
	for (int i = 0; i < n; i++) {
		pki_ca_rt *c = atomic_load(&reg[i]);
		if (c->id == id)
			return c;
	}
	return NULL;
}

static void ca_free(pki_ca_rt *c)
{
	if (!c)
		return;
	crypto_key_free(c->key);
	X509_free(c->cert);
	OPENSSL_free(c->der);
	for (int i = 0; i < 3; i++)
		OCSP_CERTID_free(c->ids[i]);
	free(c->crl);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

void pki_unload(void)
{
	pthread_mutex_lock(&reg_mu);
	int n = atomic_load(&reg_n);
	atomic_store(&reg_n, 0);
	for (int i = 0; i < n; i++) {
		ca_free(atomic_load(&reg[i]));
		atomic_store(&reg[i], NULL);
	}
	pthread_mutex_unlock(&reg_mu);
	pki_ocsp_clear();
	pki_tsa_unload();
}

/* ---- the key-encryption key ---- */

yz_status pki_kek(const char *data_dir, bool create, unsigned char kek[CRYPTO_SEAL_KEY_LEN],
                  yz_err *e)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/" PKI_KEK_FILE, data_dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && create) {
		char dir[1024];
		snprintf(dir, sizeof dir, "%s/keys", data_dir);
		if (mkdir(dir, 0700) != 0 && errno != EEXIST)
			return yz_fail(e, YZ_EIO, "cannot create %s: %s", dir, strerror(errno));
		if (crypto_random(kek, CRYPTO_SEAL_KEY_LEN) != YZ_OK)
			return yz_fail(e, YZ_ECRYPTO, "no randomness for the key-encryption key");
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0)
			return yz_fail(e, YZ_EIO, "cannot create %s: %s", path, strerror(errno));
		ssize_t w = write(fd, kek, CRYPTO_SEAL_KEY_LEN);
		int synced = fsync(fd);
		close(fd);
		if (w != CRYPTO_SEAL_KEY_LEN || synced != 0)
			return yz_fail(e, YZ_EIO, "cannot write %s", path);
		return YZ_OK;
	}
	if (fd < 0)
		return yz_fail(e, errno == ENOENT ? YZ_ENOTFOUND : YZ_EIO,
		               "cannot read the key-encryption key %s: %s", path, strerror(errno));
	ssize_t r = read(fd, kek, CRYPTO_SEAL_KEY_LEN);
	close(fd);
	if (r != CRYPTO_SEAL_KEY_LEN)
		return yz_fail(e, YZ_EIO, "%s: not a key-encryption key", path);
	return YZ_OK;
}

static void kek_aad(const char *name, char *out, size_t cap)
{
	snprintf(out, cap, "yizhan-pki-ca:%s", name);
}

/* ---- one CA into the registry ---- */

static yz_status ca_prepare(pki_ca_rt *c, yz_err *e)
{
	unsigned char *der = NULL;
	int len = i2d_X509(c->cert, &der);
	if (len <= 0)
		return yz_fail(e, YZ_ECRYPTO, "cannot encode the CA certificate");
	c->der = der;
	c->der_len = len;
	const EVP_MD *mds[3] = {EVP_sha1(), EVP_sha256(), EVP_sm3()};
	for (int i = 0; i < 3; i++)
		if (!(c->ids[i] = OCSP_cert_to_id(mds[i], NULL, c->cert)))
			return yz_fail(e, YZ_ECRYPTO, "cannot make the CA's OCSP issuer id");
	pthread_mutex_init(&c->mu, NULL);
	return YZ_OK;
}

static yz_status reg_add(pki_ca_rt *c, yz_err *e)
{
	pthread_mutex_lock(&reg_mu);
	int n = atomic_load(&reg_n);
	yz_status st = YZ_OK;
	for (int i = 0; i < n; i++)
		if (!strcmp(atomic_load(&reg[i])->name, c->name))
			st = yz_fail(e, YZ_ECONFLICT, "CA %s is loaded already", c->name);
	if (st == YZ_OK && n >= PKI_MAX_CAS)
		st = yz_fail(e, YZ_ETOOBIG, "at most %d CAs", PKI_MAX_CAS);
	if (st == YZ_OK) {
		atomic_store(&reg[n], c);
		atomic_store(&reg_n, n + 1);
	}
	pthread_mutex_unlock(&reg_mu);
	return st;
}

/* ---- making a CA ---- */

static bool check_ca_name(json_t *v, const char **rule, const char **expected)
{
	const char *s = json_string_value(v);
	*rule = "pattern";
	*expected = "lower-case letters, digits and '-', 1 to 31 characters";
	size_t n = strlen(s);
	if (n == 0 || n >= PKI_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

static bool check_alg(json_t *v, const char **rule, const char **expected)
{
	const char *s = json_string_value(v);
	*rule = "enum";
	*expected = "sm2 or ecdsa-p256";
	return !strcmp(s, "sm2") || !strcmp(s, "ecdsa-p256");
}

static const jx_field ca_fields[] = {
    {"name", JX_STRING, true, 0, 0, check_ca_name},
    {"title", JX_STRING, true, 1, 64, NULL},
    {"cn", JX_STRING, true, 1, 64, NULL},
    {"o", JX_STRING, false, 0, 64, NULL},
    {"alg", JX_STRING, false, 0, 0, check_alg},
    {"parent", JX_STRING, false, 0, 0, check_ca_name},
    {"years", JX_INT, false, 1, 30, NULL},
    {"base_url", JX_STRING, false, 0, 200, NULL},
    {NULL, 0, false, 0, 0, NULL},
};

typedef struct ca_job {
	pki_ca_rt *c;
	const yz_actor *who;
	buf *sealed;
	int64_t now, not_before, not_after;
	char subject[256], serial[PKI_SERIAL_HEX + 1];
} ca_job;

static yz_status ca_job_fn(store_conn *tx, void *arg, yz_err *e)
{
	ca_job *j = arg;
	pki_ca_rt *c = j->c;
	store_val v[] = {sv_text(c->name),
	                 sv_text(c->title),
	                 sv_text(crypto_alg_name(c->alg)),
	                 sv_text(c->parent[0] ? c->parent : NULL),
	                 sv_text(j->subject),
	                 sv_text(j->serial),
	                 sv_int(j->not_before),
	                 sv_int(j->not_after),
	                 sv_blob(c->der, (size_t)c->der_len),
	                 sv_blob(j->sealed->p, j->sealed->len),
	                 sv_text(c->base_url),
	                 sv_int(j->now)};
	int64_t id;
	store_rows *rows;
	yz_status st = store_query(tx,
	                           "INSERT INTO pki_ca (name, title, alg, parent, subject, serial, "
	                           "not_before, not_after, cert, key_sealed, base_url, created_at) "
	                           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
	                           v, SV_N(v), &rows, e);
	if (st != YZ_OK)
		return st == YZ_ECONFLICT
		           ? yz_fail(e, YZ_ECONFLICT, "a CA named %s exists", c->name)
		           : st;
	bool got = store_next(rows);
	id = got ? store_col_int(rows, 0) : 0;
	st = store_rows_close(rows, e);
	if (st == YZ_OK && !got)
		st = yz_fail(e, YZ_EDB, "no id for the new CA");
	if (st != YZ_OK)
		return st;
	c->id = id;
	char object[64];
	snprintf(object, sizeof object, "pki_ca:%s", c->name);
	json_t *change = json_pack("{s:s, s:s, s:s, s:s, s:s?}", "subject", j->subject, "serial",
	                           j->serial, "alg", crypto_alg_name(c->alg), "title", c->title,
	                           "parent", c->parent[0] ? c->parent : NULL);
	st = audit_append(tx, j->who, "pki.ca.create", object, NULL, change, e);
	json_decref(change);
	return st;
}

yz_status pki_ca_create(store *s, const char *data_dir, const yz_actor *who, json_t *in,
                        json_t **out, yz_err *e)
{
	yz_status st = jx_validate(in, ca_fields, e);
	if (st != YZ_OK)
		return st;
	const char *name = jx_str(in, "name", "");
	const char *parent_name = jx_str(in, "parent", "");
	if (pki_ca_find(name))
		return yz_fail(e, YZ_ECONFLICT, "a CA named %s exists", name);
	pki_ca_rt *parent = NULL;
	if (parent_name[0] && !(parent = pki_ca_find(parent_name)))
		return yz_field(e, "parent", "exists", "the name of a CA", parent_name);
	crypto_alg alg = CRYPTO_SM2;
	if (crypto_alg_parse(jx_str(in, "alg", "sm2"), &alg) != YZ_OK)
		return yz_field(e, "alg", "enum", "sm2 or ecdsa-p256", jx_str(in, "alg", ""));
	unsigned char kek[CRYPTO_SEAL_KEY_LEN];
	if ((st = pki_kek(data_dir, true, kek, e)) != YZ_OK)
		return st;

	pki_ca_rt *c = calloc(1, sizeof *c);
	if (!c)
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	yz_strlcpy(c->name, name, sizeof c->name);
	yz_strlcpy(c->title, jx_str(in, "title", ""), sizeof c->title);
	yz_strlcpy(c->parent, parent_name, sizeof c->parent);
	yz_strlcpy(c->base_url,
	           jx_str(in, "base_url", parent ? parent->base_url : "http://127.0.0.1:8080"),
	           sizeof c->base_url);
	c->alg = alg;
	ca_job j = {.c = c, .who = who, .now = clock_now_ms()};
	int years = (int)jx_int(in, "years", parent ? 10 : 20);
	j.not_before = j.now - 60000;
	j.not_after = j.now + (int64_t)years * 365 * 86400000LL;
	if (parent && j.not_after > pki_asn1_ms(X509_get0_notAfter(parent->cert)))
		j.not_after = pki_asn1_ms(X509_get0_notAfter(parent->cert));

	X509_NAME *subj = NULL;
	ASN1_INTEGER *serial = NULL;
	buf pem, sealed;
	buf_init(&pem, 16384);
	buf_init(&sealed, 16384);
	json_t *sn = json_pack("{s:s, s:s, s:s}", "c", "CN", "o", jx_str(in, "o", ""), "cn",
	                       jx_str(in, "cn", ""));
	if ((st = crypto_key_generate(alg, &c->key, e)) == YZ_OK &&
	    (st = pki_name_build(sn, &subj, e)) == YZ_OK &&
	    (st = pki_new_serial(j.serial, &serial, e)) == YZ_OK) {
		c->cert = X509_new();
		if (!c->cert || !X509_set_version(c->cert, 2) ||
		    !X509_set_serialNumber(c->cert, serial) ||
		    !X509_set_subject_name(c->cert, subj) ||
		    !X509_set_issuer_name(c->cert,
		                          parent ? X509_get_subject_name(parent->cert) : subj) ||
		    !ASN1_TIME_set(X509_getm_notBefore(c->cert), (time_t)(j.not_before / 1000)) ||
		    !ASN1_TIME_set(X509_getm_notAfter(c->cert), (time_t)(j.not_after / 1000)) ||
		    !X509_set_pubkey(c->cert, crypto_key_evp(c->key)))
			st = yz_fail(e, YZ_ECRYPTO, "cannot build the CA certificate");
	}
	X509 *issuer = parent ? parent->cert : c->cert;
	if (st == YZ_OK)
		st = pki_ext_add(c->cert, issuer, NID_basic_constraints,
		                 parent ? "critical,CA:TRUE,pathlen:0" : "critical,CA:TRUE", e);
	if (st == YZ_OK)
		st = pki_ext_add(c->cert, issuer, NID_key_usage,
		                 "critical,keyCertSign,cRLSign,digitalSignature", e);
	if (st == YZ_OK)
		st = pki_ext_add(c->cert, issuer, NID_subject_key_identifier, "hash", e);
	if (st == YZ_OK && parent) {
		char url[400];
		st = pki_ext_add(c->cert, issuer, NID_authority_key_identifier, "keyid:always", e);
		snprintf(url, sizeof url, "URI:%s/pki/crl/%s.crl", parent->base_url, parent->name);
		if (st == YZ_OK)
			st = pki_ext_add(c->cert, issuer, NID_crl_distribution_points, url, e);
	}
	if (st == YZ_OK)
		st = pki_x509_sign(c->cert, parent ? parent->key : c->key, e);
	if (st == YZ_OK)
		st = ca_prepare(c, e);
	if (st == YZ_OK) {
		pki_name_text(subj, j.subject, sizeof j.subject);
		char aad[64];
		kek_aad(c->name, aad, sizeof aad);
		st = crypto_key_to_pem(c->key, true, NULL, &pem, e);
		if (st == YZ_OK)
			st = crypto_seal(kek, aad, strlen(aad), pem.p, pem.len, &sealed);
	}
	if (st == YZ_OK) {
		j.sealed = &sealed;
		st = store_write(s, ca_job_fn, &j, e);
	}
	if (st == YZ_OK)
		st = reg_add(c, e);
	if (st == YZ_OK)
		st = pki_login_init(data_dir, e);
	if (st == YZ_OK && out) {
		json_t *idx = pki_ca_index();
		size_t i;
		json_t *o;
		*out = NULL;
		json_array_foreach (idx, i, o)
			if (!strcmp(jx_str(o, "name", ""), c->name))
				*out = json_incref(o);
		json_decref(idx);
	}
	if (st != YZ_OK)
		ca_free(c);
	json_decref(sn);
	X509_NAME_free(subj);
	ASN1_INTEGER_free(serial);
	if (pem.p)
		memset(pem.p, 0, pem.len);
	buf_free(&pem);
	buf_free(&sealed);
	memset(kek, 0, sizeof kek);
	return st;
}

/* ---- loading ---- */

static yz_status load_one(store_rows *r, const unsigned char kek[CRYPTO_SEAL_KEY_LEN], yz_err *e)
{
	pki_ca_rt *c = calloc(1, sizeof *c);
	if (!c)
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	c->id = store_col_int(r, 0);
	yz_strlcpy(c->name, store_col_text(r, 1), sizeof c->name);
	yz_strlcpy(c->title, store_col_text(r, 2), sizeof c->title);
	yz_strlcpy(c->parent, store_col_text(r, 4), sizeof c->parent);
	yz_strlcpy(c->base_url, store_col_text(r, 7), sizeof c->base_url);
	yz_status st = crypto_alg_parse(store_col_text(r, 3), &c->alg);
	size_t n = 0, kn = 0;
	const void *der = store_col_blob(r, 5, &n);
	const void *sealed = store_col_blob(r, 6, &kn);
	buf pem;
	buf_init(&pem, 16384);
	char aad[64];
	kek_aad(c->name, aad, sizeof aad);
	if (st != YZ_OK)
		st = yz_fail(e, YZ_EDB, "CA %s: unknown algorithm", c->name);
	if (st == YZ_OK && !(c->cert = pki_x509_parse(der, n)))
		st = yz_fail(e, YZ_EDB, "CA %s: the stored certificate does not parse", c->name);
	if (st == YZ_OK && crypto_open(kek, aad, strlen(aad), sealed, kn, &pem) != YZ_OK)
		st = yz_fail(e, YZ_ECRYPTO,
		             "CA %s: its key does not open with this key-encryption key "
		             "(" PKI_KEK_FILE " from another installation?)",
		             c->name);
	if (st == YZ_OK)
		st = crypto_key_from_pem(pem.p, pem.len, NULL, &c->key, e);
	if (pem.p)
		memset(pem.p, 0, pem.len);
	buf_free(&pem);
	if (st == YZ_OK)
		st = ca_prepare(c, e);
	if (st == YZ_OK)
		st = reg_add(c, e);
	if (st != YZ_OK)
		ca_free(c);
	return st;
}

static yz_status load_new(store *s, const char *data_dir, bool kek_needed, yz_err *e)
{
	store_conn *c;
	yz_status st = store_reader(s, &c, e);
	if (st != YZ_OK)
		return st;
	int64_t known = 0;
	int n = pki_ca_count();
	for (int i = 0; i < n; i++)
		if (pki_ca_at(i)->id > known)
			known = pki_ca_at(i)->id;
	store_rows *r;
	store_val v[] = {sv_int(known)};
	st = store_query(c,
	                 "SELECT id, name, title, alg, COALESCE(parent, ''), cert, key_sealed, "
	                 "base_url FROM pki_ca WHERE id > ? ORDER BY id",
	                 v, 1, &r, e);
	if (st != YZ_OK)
		return st;
	unsigned char kek[CRYPTO_SEAL_KEY_LEN];
	bool have_kek = false;
	while (st == YZ_OK && store_next(r)) {
		if (!have_kek) {
			if (!data_dir)
				break; /* refresh without a data dir: nothing to open keys with */
			st = pki_kek(data_dir, false, kek, e);
			if (st != YZ_OK)
				break;
			have_kek = true;
		}
		st = load_one(r, kek, e);
	}
	(void)kek_needed;
	yz_status cst = store_rows_close(r, st == YZ_OK ? e : NULL);
	memset(kek, 0, sizeof kek);
	return st != YZ_OK ? st : cst;
}

static char loaded_dir[1024];

yz_status pki_load(store *s, const char *data_dir, yz_err *e)
{
	pki_unload();
	yz_strlcpy(loaded_dir, data_dir, sizeof loaded_dir);
	yz_status st = load_new(s, data_dir, false, e);
	if (st == YZ_OK)
		st = pki_tsa_load(s, data_dir, e);
	return st == YZ_OK ? pki_login_init(data_dir, e) : st;
}

yz_status pki_refresh(store *s, yz_err *e)
{
	yz_status st = load_new(s, loaded_dir[0] ? loaded_dir : NULL, false, e);
	if (st == YZ_OK)
		st = pki_tsa_load(s, loaded_dir[0] ? loaded_dir : NULL, e);
	int signed_n = 0;
	if (st == YZ_OK)
		st = pki_crl_refresh(s, &signed_n, e);
	return st;
}

/* ---- public facts ---- */

json_t *pki_ca_index(void)
{
	json_t *a = json_array();
	int n = pki_ca_count();
	for (int i = 0; i < n; i++) {
		pki_ca_rt *c = pki_ca_at(i);
		char subject[256], serial[80], nb[40], na[40], url[400];
		pki_name_text(X509_get_subject_name(c->cert), subject, sizeof subject);
		pki_serial_hex(X509_get0_serialNumber(c->cert), serial, sizeof serial);
		clock_format_city(pki_asn1_ms(X509_get0_notBefore(c->cert)), nb, sizeof nb);
		clock_format_city(pki_asn1_ms(X509_get0_notAfter(c->cert)), na, sizeof na);
		json_t *o = json_object();
		jx_set_str(o, "name", c->name);
		jx_set_str(o, "title", c->title);
		jx_set_str(o, "alg", crypto_alg_name(c->alg));
		jx_set_str(o, "signature",
		           c->alg == CRYPTO_SM2 ? "SM3withSM2" : "ecdsa-with-SHA256");
		jx_set_str(o, "subject", subject);
		jx_set_str(o, "serial", serial);
		jx_set_str(o, "not_before", nb);
		jx_set_str(o, "not_after", na);
		if (c->parent[0])
			jx_set_str(o, "parent", c->parent);
		else
			json_object_set_new(o, "parent", json_null());
		snprintf(url, sizeof url, "/pki/ca/%s.crt", c->name);
		jx_set_str(o, "certificate", url);
		snprintf(url, sizeof url, "/pki/crl/%s.crl", c->name);
		jx_set_str(o, "crl", url);
		jx_set_str(o, "ocsp", "/pki/ocsp");
		json_array_append_new(a, o);
	}
	return a;
}

yz_status pki_ca_cert(const char *name, buf *out, yz_err *e)
{
	pki_ca_rt *c = pki_ca_find(name);
	if (!c)
		return yz_fail(e, YZ_ENOTFOUND, "no CA named %s", name ? name : "");
	yz_status st = buf_append(out, c->der, (size_t)c->der_len);
	return st == YZ_OK ? YZ_OK : yz_fail(e, st, "certificate too large");
}
