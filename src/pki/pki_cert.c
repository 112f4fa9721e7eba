/*
 * pki_cert.c — certificate profiles, issuance, revocation and suspension,
 * and looking certificates up.
 */
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "core/clock.h"
#include "core/idcodes.h"
#include "core/jx.h"
#include "pki/pki_int.h"

/* ---- reasons ---- */

static const struct {
	int code;
	const char *name;
} reasons[] = {
    {PKI_UNSPECIFIED, "unspecified"},
    {PKI_KEY_COMPROMISE, "keyCompromise"},
    {PKI_CA_COMPROMISE, "cACompromise"},
    {PKI_AFFILIATION_CHANGED, "affiliationChanged"},
    {PKI_SUPERSEDED, "superseded"},
    {PKI_CESSATION, "cessationOfOperation"},
    {PKI_CERTIFICATE_HOLD, "certificateHold"},
    {PKI_PRIVILEGE_WITHDRAWN, "privilegeWithdrawn"},
    {PKI_AA_COMPROMISE, "aACompromise"},
};

int pki_reason_parse(const char *name)
{
	for (size_t i = 0; name && i < sizeof reasons / sizeof reasons[0]; i++)
		if (!strcmp(reasons[i].name, name))
			return reasons[i].code;
	return -1;
}

const char *pki_reason_name(int code)
{
	for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
		if (reasons[i].code == code)
			return reasons[i].name;
	return "unspecified";
}

/* ---- profiles ---- */

static const char *const key_usages[] = {"digitalSignature", "nonRepudiation", "keyEncipherment",
                                         "dataEncipherment", "keyAgreement",   NULL};
static const char *const ext_key_usages[] = {"serverAuth",  "clientAuth",   "emailProtection",
                                             "codeSigning", "timeStamping", "OCSPSigning",
                                             NULL};
static const char *const subject_fields[] = {"cn",   "o",     "ou",  "id_number",
                                             "uscc", "email", "dns", NULL};

static bool in_list(const char *const *list, const char *v)
{
	for (; *list; list++)
		if (!strcmp(*list, v))
			return true;
	return false;
}

static bool plain_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= PKI_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

static void check_names(json_t *arr, const char *path, const char *const *allowed,
                        const char *expected, yz_err *e)
{
	char p[96];
	if (arr && !json_is_array(arr)) {
		yz_field(e, path, "type", "an array of names", NULL);
		return;
	}
	size_t i;
	json_t *v;
	json_array_foreach (arr, i, v) {
		snprintf(p, sizeof p, "%s[%zu]", path, i);
		if (!json_is_string(v) || !in_list(allowed, json_string_value(v)))
			yz_field(e, p, "enum", expected, json_string_value(v));
	}
}

static yz_status profiles_check(json_t *doc, yz_err *e)
{
	json_t *list = json_object_get(doc, "profiles");
	if (!json_is_array(list) || json_array_size(list) == 0)
		return yz_field(e, "profiles", "required", "a non-empty array of profiles", NULL);
	size_t i;
	json_t *p;
	char path[96];
	json_array_foreach (list, i, p) {
		snprintf(path, sizeof path, "profiles[%zu]", i);
		if (!json_is_object(p)) {
			yz_field(e, path, "type", "an object", NULL);
			continue;
		}
		const char *name = jx_str(p, "name", "");
		snprintf(path, sizeof path, "profiles[%zu].name", i);
		if (!plain_name(name))
			yz_field(e, path, "pattern", "lower-case letters, digits and '-'", name);
		for (size_t k = 0; k < i; k++)
			if (!strcmp(jx_str(json_array_get(list, k), "name", ""), name))
				yz_field(e, path, "unique", "a name no other profile has", name);
		snprintf(path, sizeof path, "profiles[%zu].title", i);
		if (!jx_str(p, "title", "")[0])
			yz_field(e, path, "required", "a title", NULL);
		int64_t days = jx_int(p, "validity_days", 0);
		snprintf(path, sizeof path, "profiles[%zu].validity_days", i);
		if (days < 1 || days > 3650)
			yz_field(e, path, "range", "1 to 3650 days", NULL);
		snprintf(path, sizeof path, "profiles[%zu].key_usage", i);
		check_names(
		    json_object_get(p, "key_usage"), path, key_usages,
		    "digitalSignature, nonRepudiation, keyEncipherment, dataEncipherment or "
		    "keyAgreement",
		    e);
		snprintf(path, sizeof path, "profiles[%zu].ext_key_usage", i);
		check_names(json_object_get(p, "ext_key_usage"), path, ext_key_usages,
		            "serverAuth, clientAuth, emailProtection, codeSigning, timeStamping or "
		            "OCSPSigning",
		            e);
		/* RFC 3161 §2.3: a TSA certificate's only extended key usage is
		 * timeStamping, and the extension is critical */
		json_t *crit = json_object_get(p, "ext_key_usage_critical");
		snprintf(path, sizeof path, "profiles[%zu].ext_key_usage_critical", i);
		if (crit && !json_is_boolean(crit))
			yz_field(e, path, "type", "true or false", NULL);
		else if (json_is_true(crit) &&
		         !json_array_size(json_object_get(p, "ext_key_usage")))
			yz_field(e, path, "requires", "a non-empty ext_key_usage", NULL);
		json_t *subj = json_object_get(p, "subject");
		snprintf(path, sizeof path, "profiles[%zu].subject", i);
		if (!json_is_object(subj) || !json_object_get(subj, "cn")) {
			yz_field(e, path, "required", "an object naming at least cn", NULL);
			continue;
		}
		const char *k;
		json_t *v;
		json_object_foreach (subj, k, v) {
			snprintf(path, sizeof path, "profiles[%zu].subject.%s", i, k);
			if (!in_list(subject_fields, k))
				yz_field(e, path, "enum",
				         "cn, o, ou, id_number, uscc, email or dns", k);
			else if (!json_is_string(v) || (strcmp(json_string_value(v), "required") &&
			                                strcmp(json_string_value(v), "optional")))
				yz_field(e, path, "enum", "required or optional",
				         json_string_value(v));
		}
	}
	return e->nfield ? YZ_EINVAL : YZ_OK;
}

typedef struct profiles_job {
	json_t *doc;
	const yz_actor *who;
} profiles_job;

static yz_status profiles_job_fn(store_conn *tx, void *arg, yz_err *e)
{
	profiles_job *j = arg;
	yz_status st = store_exec(tx, "DELETE FROM pki_profile", NULL, 0, e);
	size_t i;
	json_t *p;
	int64_t now = clock_now_ms();
	json_array_foreach (json_object_get(j->doc, "profiles"), i, p) {
		if (st != YZ_OK)
			break;
		char *text = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS);
		if (!text)
			return yz_fail(e, YZ_ENOMEM, "out of memory");
		store_val v[] = {sv_text(jx_str(p, "name", "")), sv_text(jx_str(p, "title", "")),
		                 sv_text(text), sv_int(now)};
		st = store_exec(
		    tx,
		    "INSERT INTO pki_profile (name, title, doc, updated_at) VALUES (?, ?, "
		    "?, ?)",
		    v, SV_N(v), e);
		free(text);
	}
	if (st == YZ_OK) {
		json_t *change =
		    json_pack("{s:I}", "profiles",
		              (json_int_t)json_array_size(json_object_get(j->doc, "profiles")));
		st = audit_append(tx, j->who, "pki.profiles.set", "pki_profile:*", NULL, change, e);
		json_decref(change);
	}
	return st;
}

yz_status pki_profiles_set(store *s, const yz_actor *who, json_t *doc, yz_err *e)
{
	if (!json_is_object(doc))
		return yz_fail(e, YZ_EINVAL, "profiles: a JSON object {\"profiles\": [...]}");
	yz_status st = profiles_check(doc, e);
	if (st != YZ_OK)
		return st;
	profiles_job j = {doc, who};
	return store_write(s, profiles_job_fn, &j, e);
}

yz_status pki_profiles_get(store_conn *c, json_t **out, yz_err *e)
{
	store_rows *r;
	yz_status st = store_query(c, "SELECT doc FROM pki_profile ORDER BY name", NULL, 0, &r, e);
	if (st != YZ_OK)
		return st;
	json_t *a = json_array();
	while (store_next(r)) {
		json_t *p = json_loads(store_col_text(r, 0), 0, NULL);
		if (p)
			json_array_append_new(a, p);
	}
	st = store_rows_close(r, e);
	if (st != YZ_OK) {
		json_decref(a);
		return st;
	}
	*out = a;
	return YZ_OK;
}

static yz_status profile_get(store_conn *c, const char *name, json_t **out, yz_err *e)
{
	store_rows *r;
	store_val v[] = {sv_text(name)};
	yz_status st = store_query(c, "SELECT doc FROM pki_profile WHERE name = ?", v, 1, &r, e);
	if (st != YZ_OK)
		return st;
	*out = store_next(r) ? json_loads(store_col_text(r, 0), 0, NULL) : NULL;
	st = store_rows_close(r, e);
	if (st == YZ_OK && !*out)
		st = yz_field(e, "profile", "exists", "the name of a certificate profile", name);
	return st;
}

/* ---- issuance ---- */

static bool check_name(json_t *v, const char **rule, const char **expected)
{
	*rule = "pattern";
	*expected = "lower-case letters, digits and '-'";
	return plain_name(json_string_value(v));
}

static const jx_field issue_fields[] = {
    {"ca", JX_STRING, true, 0, 0, check_name},
    {"profile", JX_STRING, true, 0, 0, check_name},
    {"csr", JX_STRING, false, 1, 16384, NULL},
    {"public_key", JX_STRING, false, 1, 4096, NULL},
    {"cn", JX_STRING, false, 1, 64, NULL},
    {"o", JX_STRING, false, 1, 64, NULL},
    {"ou", JX_STRING, false, 1, 64, NULL},
    {"id_number", JX_STRING, false, 0, 18, NULL},
    {"uscc", JX_STRING, false, 0, 18, NULL},
    {"email", JX_STRING, false, 3, 128, NULL},
    {"dns", JX_ARRAY, false, 1, 20, NULL},
    {"holder_user", JX_INT, false, 1, 0, NULL},
    {"validity_days", JX_INT, false, 1, 3650, NULL},
    {NULL, 0, false, 0, 0, NULL},
};

/* The CSR's public key, after its own signature checked out. */
static yz_status csr_key(const char *pem, crypto_key **key, char *cn, size_t cncap, yz_err *e)
{
	BIO *b = BIO_new_mem_buf(pem, (int)strlen(pem));
	X509_REQ *rq = b ? PEM_read_bio_X509_REQ(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	if (!rq) {
		const unsigned char *q = (const unsigned char *)pem; /* not PEM: no DER in JSON */
		(void)q;
		ERR_clear_error();
		return yz_field(e, "csr", "pkcs10", "a PKCS#10 request in PEM", NULL);
	}
	yz_status st = crypto_key_from_evp(X509_REQ_get0_pubkey(rq), key, e);
	if (st != YZ_OK) {
		X509_REQ_free(rq);
		return yz_field(e, "csr", "key", "an SM2 or ECDSA P-256 public key", NULL);
	}
	unsigned char *tbs = NULL;
	int tbslen = i2d_re_X509_REQ_tbs(rq, &tbs);
	const ASN1_BIT_STRING *sig = NULL;
	X509_REQ_get0_signature(rq, &sig, NULL);
	yz_err ve = {0};
	if (tbslen <= 0 || pki_sig_check(*key, tbs, (size_t)tbslen, sig, &ve) != YZ_OK)
		st = yz_field(
		    e, "csr", "signature",
		    crypto_key_alg(*key) == CRYPTO_SM2
		        ? "a request signed by its own key (SM2 with the ID 1234567812345678)"
		        : "a request signed by its own key",
		    "a signature that does not verify");
	OPENSSL_free(tbs);
	cn[0] = '\0';
	X509_NAME *n = X509_REQ_get_subject_name(rq);
	int at = X509_NAME_get_index_by_NID(n, NID_commonName, -1);
	if (at >= 0) {
		unsigned char *u = NULL;
		int ul =
		    ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, at)));
		if (ul > 0 && (size_t)ul < cncap) {
			memcpy(cn, u, (size_t)ul);
			cn[ul] = '\0';
		}
		OPENSSL_free(u);
	}
	X509_REQ_free(rq);
	if (st != YZ_OK) {
		crypto_key_free(*key);
		*key = NULL;
	}
	return st;
}

static void mask_id(const char *id, char *out, size_t cap)
{
	size_t n = strlen(id);
	if (n < 10) {
		yz_strlcpy(out, id, cap);
		return;
	}
	snprintf(out, cap, "%.6s********%s", id, id + n - 4);
}

/* Subject fields against the profile: required present, absent ones
 * refused, codes checked. */
static void subject_check(json_t *prof, json_t *in, yz_err *e)
{
	json_t *spec = json_object_get(prof, "subject");
	for (const char *const *f = subject_fields; *f; f++) {
		const char *want = jx_str(spec, *f, "");
		json_t *v = json_object_get(in, *f);
		if (!strcmp(want, "required") && !v)
			yz_field(e, *f, "required", "required by the profile", NULL);
		else if (!want[0] && v && strcmp(*f, "cn"))
			yz_field(e, *f, "profile", "not part of this profile's subject", NULL);
	}
	char exp[2] = {0, 0};
	const char *id = jx_str(in, "id_number", NULL);
	if (id && !idcode_citizen_ok(id, exp)) {
		char want[96];
		snprintf(want, sizeof want,
		         exp[0] ? "check character %s (GB 11643)"
		                : "18 characters: 17 digits and a check character (GB 11643)%s",
		         exp);
		yz_field(e, "id_number", "gb11643", want, id);
	}
	const char *uscc = jx_str(in, "uscc", NULL);
	if (uscc && !idcode_uscc_ok(uscc, exp)) {
		char want[96];
		snprintf(want, sizeof want,
		         exp[0] ? "check character %s (GB 32100)"
		                : "18 characters of the GB 32100 alphabet%s",
		         exp);
		yz_field(e, "uscc", "gb32100", want, uscc);
	}
	const char *email = jx_str(in, "email", NULL);
	if (email && (!strchr(email, '@') || strchr(email, ',') || strchr(email, ' ')))
		yz_field(e, "email", "email", "an e-mail address", email);
	size_t i;
	json_t *d;
	json_array_foreach (json_object_get(in, "dns"), i, d) {
		const char *h = json_string_value(d);
		bool ok = h && h[0] && strlen(h) < 254;
		for (const char *p = h; ok && *p; p++)
			ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			     (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
			     (*p == '*' && p == h);
		if (!ok) {
			char path[32];
			snprintf(path, sizeof path, "dns[%zu]", i);
			yz_field(e, path, "hostname", "a DNS name", h);
		}
	}
}

static yz_status join_names(json_t *arr, char *out, size_t cap, const char *prefix)
{
	out[0] = '\0';
	size_t i, n = 0;
	json_t *v;
	json_array_foreach (arr, i, v) {
		int w = snprintf(out + n, cap - n, "%s%s%s", n ? "," : "", prefix,
		                 json_string_value(v));
		if (w < 0 || (size_t)w >= cap - n)
			return YZ_ETOOBIG;
		n += (size_t)w;
	}
	return YZ_OK;
}

typedef struct issue_job {
	pki_ca_rt *ca;
	const yz_actor *who;
	const char *profile, *subject, *cn, *id_number, *uscc;
	char serial[PKI_SERIAL_HEX + 1], key_id[2 * CRYPTO_SM3_LEN + 1];
	int64_t holder, not_before, not_after, now;
	unsigned char *der;
	int der_len;
	int64_t id;
} issue_job;

static yz_status issue_job_fn(store_conn *tx, void *arg, yz_err *e)
{
	issue_job *j = arg;
	store_val v[] = {sv_int(j->ca->id),
	                 sv_text(j->serial),
	                 sv_text(j->profile),
	                 sv_text(j->subject),
	                 sv_text(j->cn),
	                 sv_text(j->id_number),
	                 sv_text(j->uscc),
	                 j->holder ? sv_int(j->holder) : sv_null(),
	                 sv_text(j->key_id),
	                 sv_int(j->not_before),
	                 sv_int(j->not_after),
	                 sv_int(j->now),
	                 j->who->user_id ? sv_int(j->who->user_id) : sv_null(),
	                 sv_int(j->now),
	                 sv_blob(j->der, (size_t)j->der_len)};
	store_rows *r;
	yz_status st = store_query(
	    tx,
	    "INSERT INTO pki_cert (ca_id, serial, profile, subject, cn, id_number, uscc, "
	    "holder_user, key_id, not_before, not_after, changed_at, issued_by, issued_at, der) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
	    v, SV_N(v), &r, e);
	if (st != YZ_OK)
		return st;
	j->id = store_next(r) ? store_col_int(r, 0) : 0;
	if ((st = store_rows_close(r, e)) != YZ_OK)
		return st;
	char object[96];
	snprintf(object, sizeof object, "pki_cert:%s/%s", j->ca->name, j->serial);
	json_t *change = json_pack("{s:s, s:s, s:s, s:s}", "profile", j->profile, "subject",
	                           j->subject, "key_id", j->key_id, "ca", j->ca->name);
	st = audit_append(tx, j->who, "pki.cert.issue", object, NULL, change, e);
	json_decref(change);
	return st;
}

static yz_status build_cert(pki_ca_rt *ca, json_t *prof, json_t *in, const crypto_key *key,
                            issue_job *j, X509 **out, yz_err *e)
{
	X509_NAME *subj = NULL;
	ASN1_INTEGER *serial = NULL;
	json_t *sn = json_pack("{s:s}", "c", "CN");
	const char *keys[] = {"o", "ou", "cn"};
	for (int i = 0; i < 3; i++)
		if (json_object_get(in, keys[i]))
			jx_set_str(sn, keys[i], jx_str(in, keys[i], ""));
	X509 *x = NULL;
	yz_status st = pki_name_build(sn, &subj, e);
	if (st == YZ_OK)
		st = pki_new_serial(j->serial, &serial, e);
	if (st == YZ_OK) {
		x = X509_new();
		if (!x || !X509_set_version(x, 2) || !X509_set_serialNumber(x, serial) ||
		    !X509_set_subject_name(x, subj) ||
		    !X509_set_issuer_name(x, X509_get_subject_name(ca->cert)) ||
		    !ASN1_TIME_set(X509_getm_notBefore(x), (time_t)(j->not_before / 1000)) ||
		    !ASN1_TIME_set(X509_getm_notAfter(x), (time_t)(j->not_after / 1000)))
			st = yz_fail(e, YZ_ECRYPTO, "cannot build the certificate");
	}
	if (st == YZ_OK)
		st = pki_set_pubkey(x, key, e);
	char list[400], url[600];
	if (st == YZ_OK)
		st = pki_ext_add(x, ca->cert, NID_basic_constraints, "critical,CA:FALSE", e);
	if (st == YZ_OK && json_array_size(json_object_get(prof, "key_usage"))) {
		char ku[300] = "critical,";
		if (join_names(json_object_get(prof, "key_usage"), ku + 9, sizeof ku - 9, "") !=
		    YZ_OK)
			st = yz_fail(e, YZ_EINVAL, "profile: key usage too long");
		if (st == YZ_OK)
			st = pki_ext_add(x, ca->cert, NID_key_usage, ku, e);
	}
	if (st == YZ_OK && json_array_size(json_object_get(prof, "ext_key_usage"))) {
		size_t at = 0;
		if (jx_bool(prof, "ext_key_usage_critical", false))
			at = (size_t)snprintf(list, sizeof list, "critical,");
		if (join_names(json_object_get(prof, "ext_key_usage"), list + at, sizeof list - at,
		               "") != YZ_OK)
			st = yz_fail(e, YZ_EINVAL, "profile: extended key usage too long");
		if (st == YZ_OK)
			st = pki_ext_add(x, ca->cert, NID_ext_key_usage, list, e);
	}
	if (st == YZ_OK)
		st = pki_ext_add(x, ca->cert, NID_subject_key_identifier, "hash", e);
	if (st == YZ_OK)
		st = pki_ext_add(x, ca->cert, NID_authority_key_identifier, "keyid:always", e);
	if (st == YZ_OK && (json_object_get(in, "email") || json_object_get(in, "dns"))) {
		char san[1400] = "";
		size_t n = 0;
		if (json_object_get(in, "email"))
			n = (size_t)snprintf(san, sizeof san, "email:%s", jx_str(in, "email", ""));
		if (json_object_get(in, "dns")) {
			if (n)
				san[n++] = ',';
			if (join_names(json_object_get(in, "dns"), san + n, sizeof san - n,
			               "DNS:") != YZ_OK)
				st = yz_fail(e, YZ_EINVAL, "too many names");
		}
		if (st == YZ_OK)
			st = pki_ext_add(x, ca->cert, NID_subject_alt_name, san, e);
	}
	if (st == YZ_OK) {
		snprintf(url, sizeof url, "URI:%s/pki/crl/%s.crl", ca->base_url, ca->name);
		st = pki_ext_add(x, ca->cert, NID_crl_distribution_points, url, e);
	}
	if (st == YZ_OK) {
		snprintf(url, sizeof url, "OCSP;URI:%s/pki/ocsp,caIssuers;URI:%s/pki/ca/%s.crt",
		         ca->base_url, ca->base_url, ca->name);
		st = pki_ext_add(x, ca->cert, NID_info_access, url, e);
	}
	if (st == YZ_OK && jx_bool(prof, "ocsp_nocheck", false))
		st = pki_ext_add(x, ca->cert, NID_id_pkix_OCSP_noCheck, "ignored", e);
	/* GM/T 0015: the holder's ID number and the organisation's USCC */
	if (st == YZ_OK && json_object_get(in, "id_number"))
		st = pki_ext_printable(x, "1.2.156.10260.4.1.1", jx_str(in, "id_number", ""), e);
	if (st == YZ_OK && json_object_get(in, "uscc"))
		st = pki_ext_printable(x, "1.2.156.10260.4.4", jx_str(in, "uscc", ""), e);
	if (st == YZ_OK)
		st = pki_x509_sign(x, ca->key, e);
	json_decref(sn);
	X509_NAME_free(subj);
	ASN1_INTEGER_free(serial);
	if (st != YZ_OK) {
		X509_free(x);
		return st;
	}
	*out = x;
	return YZ_OK;
}

static json_t *record_of(store_rows *r, bool with_der);

/* Issue through the writer (tx NULL) or inside the caller's write job. */
static yz_status issue_common(store *s, store_conn *tx, const yz_actor *who, json_t *in,
                              json_t **out, yz_err *e)
{
	yz_status st = jx_validate(in, issue_fields, e);
	if (st != YZ_OK)
		return st;
	bool has_csr = json_object_get(in, "csr"), has_key = json_object_get(in, "public_key");
	if (has_csr == has_key)
		return yz_field(e, has_csr ? "public_key" : "csr", "one-of",
		                "exactly one of csr and public_key", NULL);
	pki_ca_rt *ca = pki_ca_find(jx_str(in, "ca", ""));
	if (!ca)
		return yz_field(e, "ca", "exists", "the name of a CA", jx_str(in, "ca", ""));
	store_conn *c = tx;
	json_t *prof = NULL;
	if ((!tx && (st = store_reader(s, &c, e)) != YZ_OK) ||
	    (st = profile_get(c, jx_str(in, "profile", ""), &prof, e)) != YZ_OK)
		return st;
	crypto_key *key = NULL;
	char csr_cn[128] = "";
	if (has_csr) {
		st = csr_key(jx_str(in, "csr", ""), &key, csr_cn, sizeof csr_cn, e);
	} else {
		const char *pem = jx_str(in, "public_key", "");
		yz_err ke = {0};
		if (crypto_key_from_pem(pem, strlen(pem), NULL, &key, &ke) != YZ_OK ||
		    crypto_key_is_private(key))
			st = yz_field(e, "public_key", "spki",
			              "an SM2 or ECDSA P-256 public key in PEM (no private key)",
			              NULL);
	}
	if (st == YZ_OK && crypto_key_alg(key) == CRYPTO_ED25519)
		st = yz_field(e, has_csr ? "csr" : "public_key", "key",
		              "an SM2 or ECDSA P-256 public key", "ed25519");
	json_t *input = json_deep_copy(in);
	if (st == YZ_OK && !json_object_get(input, "cn") && csr_cn[0])
		jx_set_str(input, "cn", csr_cn);
	if (st == YZ_OK && !json_object_get(input, "cn"))
		st = yz_field(e, "cn", "required", "a common name (or a CSR with one)", NULL);
	if (st == YZ_OK) {
		subject_check(prof, input, e);
		if (e->nfield)
			st = YZ_EINVAL;
	}
	issue_job j = {.ca = ca, .who = who, .now = clock_now_ms()};
	X509 *x = NULL;
	char subject[512];
	if (st == YZ_OK) {
		int64_t days = jx_int(input, "validity_days", jx_int(prof, "validity_days", 365));
		j.not_before = j.now - 60000;
		j.not_after = j.now + days * 86400000LL;
		int64_t ca_end = pki_asn1_ms(X509_get0_notAfter(ca->cert));
		if (j.not_after > ca_end)
			j.not_after = ca_end;
		st = build_cert(ca, prof, input, key, &j, &x, e);
	}
	if (st == YZ_OK) {
		unsigned char kid[CRYPTO_SM3_LEN];
		if (crypto_key_id(key, kid) != YZ_OK)
			st = yz_fail(e, YZ_ECRYPTO, "cannot identify the key");
		for (int i = 0; st == YZ_OK && i < CRYPTO_SM3_LEN; i++)
			snprintf(j.key_id + 2 * i, 3, "%02x", kid[i]);
		pki_name_text(X509_get_subject_name(x), subject, sizeof subject);
		j.der_len = i2d_X509(x, &j.der);
		if (st == YZ_OK && j.der_len <= 0)
			st = yz_fail(e, YZ_ECRYPTO, "cannot encode the certificate");
	}
	if (st == YZ_OK) {
		j.profile = jx_str(input, "profile", "");
		j.subject = subject;
		j.cn = jx_str(input, "cn", "");
		j.id_number = jx_str(input, "id_number", NULL);
		j.uscc = jx_str(input, "uscc", NULL);
		j.holder = jx_int(input, "holder_user", 0);
		st = tx ? issue_job_fn(tx, &j, e) : store_write(s, issue_job_fn, &j, e);
	}
	if (st == YZ_OK && out)
		st = pki_cert_get(c, ca->name, j.serial, true, out, e);
	OPENSSL_free(j.der);
	X509_free(x);
	crypto_key_free(key);
	json_decref(input);
	json_decref(prof);
	return st;
}

yz_status pki_issue(store *s, const yz_actor *who, json_t *in, json_t **out, yz_err *e)
{
	return issue_common(s, NULL, who, in, out, e);
}

yz_status pki_issue_tx(store_conn *tx, const yz_actor *who, json_t *in, json_t **out, yz_err *e)
{
	return issue_common(NULL, tx, who, in, out, e);
}

/* ---- revocation ---- */

typedef struct revoke_job {
	pki_ca_rt *ca;
	const yz_actor *who;
	const char *serial;
	int reason; /* -1: resume */
	int64_t now;
} revoke_job;

static yz_status revoke_job_fn(store_conn *tx, void *arg, yz_err *e)
{
	revoke_job *j = arg;
	store_val k[] = {sv_int(j->ca->id), sv_text(j->serial)};
	store_rows *r;
	yz_status st = store_query(
	    tx, "SELECT status, COALESCE(reason, 0) FROM pki_cert WHERE ca_id = ? AND serial = ?",
	    k, 2, &r, e);
	if (st != YZ_OK)
		return st;
	char status[16] = "";
	if (store_next(r))
		yz_strlcpy(status, store_col_text(r, 0), sizeof status);
	if ((st = store_rows_close(r, e)) != YZ_OK)
		return st;
	if (!status[0])
		return yz_fail(e, YZ_ENOTFOUND, "no certificate %s from CA %s", j->serial,
		               j->ca->name);
	if (!strcmp(status, "revoked"))
		return yz_fail(e, YZ_ECONFLICT, "certificate %s is revoked already", j->serial);
	if (j->reason == PKI_CERTIFICATE_HOLD && !strcmp(status, "suspended"))
		return yz_fail(e, YZ_ECONFLICT, "certificate %s is suspended already", j->serial);
	if (j->reason < 0 && strcmp(status, "suspended"))
		return yz_fail(e, YZ_ECONFLICT, "certificate %s is not suspended", j->serial);
	const char *to = j->reason < 0                       ? "valid"
	                 : j->reason == PKI_CERTIFICATE_HOLD ? "suspended"
	                                                     : "revoked";
	store_val v[] = {sv_text(to),
	                 j->reason < 0 ? sv_null() : sv_int(j->now),
	                 j->reason < 0 ? sv_null() : sv_int(j->reason),
	                 sv_int(j->now),
	                 sv_int(j->ca->id),
	                 sv_text(j->serial)};
	st =
	    store_exec(tx,
	               "UPDATE pki_cert SET status = ?, revoked_at = ?, reason = ?, changed_at = ? "
	               "WHERE ca_id = ? AND serial = ?",
	               v, SV_N(v), e);
	if (st != YZ_OK)
		return st;
	char object[96];
	snprintf(object, sizeof object, "pki_cert:%s/%s", j->ca->name, j->serial);
	json_t *change = json_pack("{s:s, s:s, s:s}", "from", status, "to", to, "reason",
	                           j->reason < 0 ? "removeFromCRL" : pki_reason_name(j->reason));
	st = audit_append(tx, j->who,
	                  j->reason < 0                       ? "pki.cert.resume"
	                  : j->reason == PKI_CERTIFICATE_HOLD ? "pki.cert.suspend"
	                                                      : "pki.cert.revoke",
	                  object, NULL, change, e);
	json_decref(change);
	return st;
}

static yz_status change_status(store *s, const yz_actor *who, const char *ca_name,
                               const char *serial, int reason, yz_err *e)
{
	pki_ca_rt *ca = pki_ca_find(ca_name);
	if (!ca)
		return yz_fail(e, YZ_ENOTFOUND, "no CA named %s", ca_name ? ca_name : "");
	char norm[PKI_SERIAL_HEX + 8];
	if (!serial || !pki_serial_norm(serial, norm, sizeof norm))
		return yz_field(e, "serial", "hex", "a serial number in hexadecimal", serial);
	if (reason != -1 && (reason < 0 || reason > 10 || reason == 7 || reason == 8))
		return yz_field(e, "reason", "enum", "an RFC 5280 reason code", NULL);
	revoke_job j = {ca, who, norm, reason, clock_now_ms()};
	yz_status st = store_write(s, revoke_job_fn, &j, e);
	if (st != YZ_OK)
		return st;
	/* the status services of this node change at once */
	pki_ocsp_forget(ca->id, norm);
	return pki_crl_resign(s, ca, e);
}

yz_status pki_revoke(store *s, const yz_actor *who, const char *ca, const char *serial, int reason,
                     yz_err *e)
{
	if (reason < 0)
		return yz_field(e, "reason", "enum", "an RFC 5280 reason code", NULL);
	return change_status(s, who, ca, serial, reason, e);
}

yz_status pki_resume(store *s, const yz_actor *who, const char *ca, const char *serial, yz_err *e)
{
	return change_status(s, who, ca, serial, -1, e);
}

/* ---- renewal ---- */

/* The UTF-8 text of a name's first entry of nid into in[key], if any. */
static void name_entry(X509_NAME *n, int nid, json_t *in, const char *key)
{
	int at = X509_NAME_get_index_by_NID(n, nid, -1);
	if (at < 0)
		return;
	unsigned char *u = NULL;
	int len = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(n, at)));
	if (len > 0)
		json_object_set_new(in, key, json_stringn((const char *)u, (size_t)len));
	OPENSSL_free(u);
}

/* The subject alternative names (e-mail, DNS) of x into in. */
static void san_entries(X509 *x, json_t *in)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	json_t *dns = json_array();
	for (int i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
		int type;
		ASN1_STRING *v = GENERAL_NAME_get0_value(g, &type);
		const char *text = (const char *)ASN1_STRING_get0_data(v);
		size_t len = (size_t)ASN1_STRING_length(v);
		if (type == GEN_EMAIL)
			json_object_set_new(in, "email", json_stringn(text, len));
		else if (type == GEN_DNS)
			json_array_append_new(dns, json_stringn(text, len));
	}
	if (json_array_size(dns))
		json_object_set(in, "dns", dns);
	json_decref(dns);
	GENERAL_NAMES_free(names);
}

yz_status pki_renew(store *s, const yz_actor *who, const char *ca, const char *serial,
                    bool supersede, json_t **out, yz_err *e)
{
	store_conn *c;
	json_t *old = NULL;
	yz_status st = store_reader(s, &c, e);
	if (st == YZ_OK)
		st = pki_cert_get(c, ca, serial, false, &old, e);
	if (st != YZ_OK)
		return st;
	const char *status = jx_str(old, "status", "");
	if (strcmp(status, "valid") != 0) {
		json_decref(old);
		return yz_fail(e, YZ_ECONFLICT, "certificate %s is %s: it cannot be renewed",
		               serial, status);
	}
	buf der, pem;
	buf_init(&der, PKI_CERT_MAX);
	buf_init(&pem, 4096);
	X509 *x = NULL;
	crypto_key *key = NULL;
	st = pki_cert_der(c, ca, serial, &der, e);
	if (st == YZ_OK && !(x = pki_x509_parse(der.p, der.len)))
		st = yz_fail(e, YZ_EDB, "the stored certificate does not parse");
	if (st == YZ_OK)
		st = crypto_key_from_evp(X509_get0_pubkey(x), &key, e);
	if (st == YZ_OK)
		st = crypto_key_to_pem(key, false, NULL, &pem, e);
	json_t *in = NULL;
	if (st == YZ_OK) {
		/* the same holder, key and subject; a new serial and validity */
		in = json_pack("{s:s, s:s, s:s#}", "ca", ca, "profile", jx_str(old, "profile", ""),
		               "public_key", pem.p, pem.len);
		X509_NAME *n = X509_get_subject_name(x);
		name_entry(n, NID_commonName, in, "cn");
		name_entry(n, NID_organizationName, in, "o");
		name_entry(n, NID_organizationalUnitName, in, "ou");
		san_entries(x, in);
		static const char *const keep[] = {"id_number", "uscc", NULL};
		for (const char *const *k = keep; *k; k++)
			if (json_object_get(old, *k))
				json_object_set(in, *k, json_object_get(old, *k));
		if (jx_int(old, "holder_user", 0))
			jx_set_int(in, "holder_user", jx_int(old, "holder_user", 0));
		st = pki_issue(s, who, in, out, e);
	}
	if (st == YZ_OK && supersede)
		st = pki_revoke(s, who, ca, serial, PKI_SUPERSEDED, e);
	json_decref(in);
	json_decref(old);
	crypto_key_free(key);
	X509_free(x);
	buf_free(&der);
	buf_free(&pem);
	return st;
}

/* ---- look-ups ---- */

#define CERT_COLS                                                                                  \
	"c.id, a.name, c.serial, c.profile, c.subject, c.cn, COALESCE(c.id_number, ''), "          \
	"COALESCE(c.uscc, ''), COALESCE(c.holder_user, 0), c.key_id, c.not_before, c.not_after, "  \
	"c.status, COALESCE(c.revoked_at, 0), COALESCE(c.reason, -1), c.issued_at"

static void set_time(json_t *o, const char *k, int64_t ms)
{
	char t[40];
	clock_format_city(ms, t, sizeof t);
	jx_set_str(o, k, t);
}

static json_t *record_of(store_rows *r, bool full)
{
	json_t *o = json_object();
	jx_set_int(o, "id", store_col_int(r, 0));
	jx_set_str(o, "ca", store_col_text(r, 1));
	jx_set_str(o, "serial", store_col_text(r, 2));
	jx_set_str(o, "profile", store_col_text(r, 3));
	jx_set_str(o, "subject", store_col_text(r, 4));
	jx_set_str(o, "cn", store_col_text(r, 5));
	const char *id = store_col_text(r, 6);
	if (id[0]) {
		char m[32];
		mask_id(id, m, sizeof m);
		jx_set_str(o, "id_number", full ? id : m);
	}
	if (store_col_text(r, 7)[0])
		jx_set_str(o, "uscc", store_col_text(r, 7));
	if (store_col_int(r, 8))
		jx_set_int(o, "holder_user", store_col_int(r, 8));
	jx_set_str(o, "key_id", store_col_text(r, 9));
	set_time(o, "not_before", store_col_int(r, 10));
	int64_t na = store_col_int(r, 11);
	set_time(o, "not_after", na);
	jx_set_str(o, "status", store_col_text(r, 12));
	jx_set_bool(o, "expired", na < clock_now_ms());
	if (store_col_int(r, 13)) {
		set_time(o, "revoked_at", store_col_int(r, 13));
		jx_set_str(o, "reason", pki_reason_name((int)store_col_int(r, 14)));
	}
	set_time(o, "issued_at", store_col_int(r, 15));
	char url[128];
	snprintf(url, sizeof url, "/api/v1/pki/certs/%s/%s.crt", store_col_text(r, 1),
	         store_col_text(r, 2));
	jx_set_str(o, "download", url);
	return o;
}

yz_status pki_cert_list(store_conn *c, json_t *f, json_t **out, yz_err *e)
{
	char sql[1024] = "SELECT " CERT_COLS " FROM pki_cert c JOIN pki_ca a ON a.id = c.ca_id "
	                 "WHERE 1 = 1";
	store_val v[8];
	int n = 0;
	char like[140], serial[PKI_SERIAL_HEX + 8];
	const char *q = jx_str(f, "q", "");
	size_t len = strlen(sql);
#define ADD(cond) (len += (size_t)snprintf(sql + len, sizeof sql - len, "%s", cond))
	if (q[0]) {
		snprintf(like, sizeof like, "%s%%", q);
		bool hex = pki_serial_norm(q, serial, sizeof serial);
		ADD(" AND (c.cn LIKE ? OR c.key_id LIKE ? OR c.serial = ?)");
		v[n++] = sv_text(like);
		v[n++] = sv_text(like);
		v[n++] = sv_text(hex ? serial : q);
	}
	if (jx_str(f, "ca", "")[0]) {
		ADD(" AND a.name = ?");
		v[n++] = sv_text(jx_str(f, "ca", ""));
	}
	if (jx_str(f, "status", "")[0]) {
		ADD(" AND c.status = ?");
		v[n++] = sv_text(jx_str(f, "status", ""));
	}
	if (jx_str(f, "profile", "")[0]) {
		ADD(" AND c.profile = ?");
		v[n++] = sv_text(jx_str(f, "profile", ""));
	}
	if (jx_int(f, "holder_user", 0)) {
		ADD(" AND c.holder_user = ?");
		v[n++] = sv_int(jx_int(f, "holder_user", 0));
	}
	if (jx_int(f, "before", 0)) {
		ADD(" AND c.id < ?");
		v[n++] = sv_int(jx_int(f, "before", 0));
	}
	int64_t limit = jx_int(f, "limit", 50);
	ADD(" ORDER BY c.id DESC LIMIT ?");
#undef ADD
	v[n++] = sv_int(limit < 1 ? 1 : limit > 200 ? 200 : limit);
	store_rows *r;
	yz_status st = store_query(c, sql, v, n, &r, e);
	if (st != YZ_OK)
		return st;
	json_t *items = json_array();
	int64_t last = 0;
	while (store_next(r)) {
		last = store_col_int(r, 0);
		json_array_append_new(items, record_of(r, false));
	}
	if ((st = store_rows_close(r, e)) != YZ_OK) {
		json_decref(items);
		return st;
	}
	json_t *o = json_pack("{s:o}", "items", items);
	if ((int64_t)json_array_size(items) == (limit < 1 ? 1 : limit > 200 ? 200 : limit))
		jx_set_int(o, "next_before", last);
	*out = o;
	return YZ_OK;
}

yz_status pki_cert_get(store_conn *c, const char *ca, const char *serial, bool with_der,
                       json_t **out, yz_err *e)
{
	char norm[PKI_SERIAL_HEX + 8];
	if (!serial || !pki_serial_norm(serial, norm, sizeof norm))
		return yz_fail(e, YZ_ENOTFOUND, "no such certificate");
	store_val v[] = {sv_text(norm), sv_text(ca)};
	store_rows *r;
	yz_status st = store_query(
	    c,
	    ca ? "SELECT " CERT_COLS ", c.der FROM pki_cert c JOIN pki_ca a ON a.id = c.ca_id "
	         "WHERE c.serial = ? AND a.name = ?"
	       : "SELECT " CERT_COLS ", c.der FROM pki_cert c JOIN pki_ca a ON a.id = c.ca_id "
	         "WHERE c.serial = ? ORDER BY c.id LIMIT 1",
	    v, ca ? 2 : 1, &r, e);
	if (st != YZ_OK)
		return st;
	json_t *o = NULL;
	if (store_next(r)) {
		o = record_of(r, true);
		if (with_der) {
			size_t n;
			const void *der = store_col_blob(r, 16, &n);
			buf pem;
			buf_init(&pem, PKI_CERT_MAX * 2);
			if (pki_pem(der, n, "CERTIFICATE", &pem) == YZ_OK)
				json_object_set_new(o, "pem", json_stringn(pem.p, pem.len));
			buf_free(&pem);
		}
	}
	st = store_rows_close(r, e);
	if (st == YZ_OK && !o)
		st = yz_fail(e, YZ_ENOTFOUND, "no certificate with serial %s", norm);
	if (st != YZ_OK) {
		json_decref(o);
		return st;
	}
	*out = o;
	return YZ_OK;
}

yz_status pki_cert_der(store_conn *c, const char *ca, const char *serial, buf *out, yz_err *e)
{
	char norm[PKI_SERIAL_HEX + 8];
	if (!serial || !pki_serial_norm(serial, norm, sizeof norm))
		return yz_fail(e, YZ_ENOTFOUND, "no such certificate");
	store_val v[] = {sv_text(norm), sv_text(ca)};
	store_rows *r;
	yz_status st = store_query(c,
	                           "SELECT c.der FROM pki_cert c JOIN pki_ca a ON a.id = c.ca_id "
	                           "WHERE c.serial = ? AND a.name = ?",
	                           v, 2, &r, e);
	if (st != YZ_OK)
		return st;
	bool found = store_next(r);
	if (found) {
		size_t n;
		const void *der = store_col_blob(r, 0, &n);
		if (buf_append(out, der, n) != YZ_OK)
			found = false;
	}
	st = store_rows_close(r, e);
	if (st == YZ_OK && !found)
		st = yz_fail(e, YZ_ENOTFOUND, "no certificate with serial %s", norm);
	return st;
}
