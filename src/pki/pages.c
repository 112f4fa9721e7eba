/*
 * pages.c — the PKI's pages: the public certificate repository (证书信息库:
 * the CAs with their certificates, CRLs and the OCSP address), and for the
 * CA operators the certificate search, one certificate with its revoke,
 * suspend and resume forms, and the issue form for a PKCS#10 request; for
 * everyone signed in 我的证书 (the certificates one holds, to download);
 * and 数字证书登录, the sign-in page for a TLS client certificate. The same
 * pki functions serve the JSON API (api.c).
 *
 * Threads: the GET pages only read (store_reader, the CAs in memory); the
 * POST handlers issue, revoke and resume, or open a session (certificate
 * sign-in), which write durably, and so run on the workers as every POST
 * does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "core/clock.h"
#include "core/jx.h"
#include "core/slice.h"
#include "pki/pki_int.h"
#include "pki/pki_pages.h"

static yz_app *app_of(http_req *r)
{
	return http_app(r);
}

/* Whether a name is written in Latin letters (a host name, say), so that the
 * page marks it lang="en" and a Chinese voice does not spell it out. */
static bool latin_text(const char *s)
{
	bool letters = false;
	for (; s && *s; s++) {
		if ((unsigned char)*s >= 0x80)
			return false;
		letters |= (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z');
	}
	return letters;
}

static const char *alg_label(const char *alg)
{
	return !strcmp(alg, "sm2") ? "SM2" : !strcmp(alg, "ecdsa-p256") ? "ECDSA P-256" : alg;
}

/* The words of a certificate's state for a page: label keys, the tag's
 * colour, and the human times. */
static void label_cert(json_t *c)
{
	const char *status = jx_str(c, "status", "");
	jx_set_label(c, "status_label", "pki.status", "status", "valid");
	jx_set_str(c, "tag_class",
	           !strcmp(status, "revoked")     ? "tag-red"
	           : !strcmp(status, "suspended") ? "tag-yellow"
	                                          : "");
	jx_set_bool(c, "is_suspended", !strcmp(status, "suspended"));
	jx_set_bool(c, "is_revoked", !strcmp(status, "revoked"));
	if (json_is_string(json_object_get(c, "reason")))
		jx_set_label(c, "reason_label", "pki.reason", "reason", "unspecified");
	jx_set_bool(c, "cn_latin", latin_text(jx_str(c, "cn", "")));
	pki_page_human_time(c, "not_before");
	pki_page_human_time(c, "not_after");
	pki_page_human_time(c, "revoked_at");
	pki_page_human_time(c, "issued_at");
}

/* ---- errors ---- */

static bool is_select(const char *field)
{
	return !strcmp(field, "ca") || !strcmp(field, "profile") || !strcmp(field, "reason");
}

/* A validation error as page data (the GOV.UK summary): labels from the pki
 * section of the message table, the DNS names' errors (dns[2]) as one error
 * of the dns field, and messages of our own for the rules of certificates
 * (a CSR that does not parse, a check digit) that the general table lacks. */
static json_t *error_data(http_req *r, const yz_err *in)
{
	yz_err err = *in;
	int n = err.nfield < YZ_ERR_MAX_FIELDS ? err.nfield : YZ_ERR_MAX_FIELDS, k = 0;
	bool dns_seen = false;
	for (int i = 0; i < n; i++) {
		yz_field_err *f = &err.fields[i];
		if (!strncmp(f->field, "dns[", 4)) {
			if (dns_seen)
				continue;
			yz_strlcpy(f->field, "dns", sizeof f->field);
		}
		dns_seen |= !strcmp(f->field, "dns");
		if (k != i)
			err.fields[k] = *f;
		k++;
	}
	err.nfield = k;
	json_t *labels = json_object();
	for (int i = 0; i < k; i++) {
		char key[96];
		snprintf(key, sizeof key, "pki.field.%s", err.fields[i].field);
		const char *l = http_t(r, key);
		if (strcmp(l, key) != 0)
			jx_set_str(labels, err.fields[i].field, l);
	}
	json_t *d = http_error_data_with(r, &err, NULL, labels);
	json_t *map = json_object();
	size_t i;
	json_t *x;
	json_array_foreach (json_object_get(d, "errors"), i, x) {
		if ((int)i >= k)
			break;
		const yz_field_err *f = &err.fields[i];
		char key[96];
		bool choose = is_select(f->field) &&
		              (!strcmp(f->rule, "required") || !strcmp(f->rule, "enum") ||
		               !strcmp(f->rule, "exists") || !strcmp(f->rule, "pattern"));
		snprintf(key, sizeof key, "pki.rule.%s", choose ? "choose" : f->rule);
		const char *tmpl = http_t(r, key);
		if (strcmp(tmpl, key) != 0) {
			char text[512];
			pki_page_fill(tmpl, jx_str(labels, f->field, f->field), f->got, text,
			              sizeof text);
			jx_set_str(x, "text", text);
		}
		if (!json_object_get(map, f->field))
			jx_set_str(map, f->field, jx_str(x, "text", ""));
	}
	json_object_set_new(d, "error_map", map);
	json_decref(labels);
	return d;
}

/* ---- select options ---- */

static json_t *ca_options(json_t *cas, const char *current)
{
	json_t *out = json_array();
	size_t i;
	json_t *c;
	json_array_foreach (cas, i, c) {
		const char *name = jx_str(c, "name", "");
		json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:b}", "value", name, "label",
		                                     jx_str(c, "title", name), "alg",
		                                     alg_label(jx_str(c, "alg", "")), "selected",
		                                     current && !strcmp(current, name)));
	}
	return out;
}

static json_t *profile_options(json_t *profiles, const char *current)
{
	json_t *out = json_array();
	size_t i;
	json_t *p;
	json_array_foreach (profiles, i, p) {
		const char *name = jx_str(p, "name", "");
		json_array_append_new(out, json_pack("{s:s, s:s, s:b}", "value", name, "label",
		                                     jx_str(p, "title", name), "selected",
		                                     current && !strcmp(current, name)));
	}
	return out;
}

static json_t *word_options(http_req *r, const char *const *words, const char *prefix,
                            const char *current)
{
	json_t *out = json_array();
	for (int i = 0; words[i]; i++) {
		char key[64];
		snprintf(key, sizeof key, "%s.%s", prefix, words[i]);
		json_array_append_new(out, json_pack("{s:s, s:s, s:b}", "value", words[i], "label",
		                                     http_t(r, key), "selected",
		                                     current && !strcmp(current, words[i])));
	}
	return out;
}

/* The title of a CA or a profile by name, from a list of either. */
static const char *title_of(json_t *list, const char *name)
{
	size_t i;
	json_t *x;
	json_array_foreach (list, i, x)
		if (!strcmp(jx_str(x, "name", ""), name))
			return jx_str(x, "title", name);
	return name;
}

/* ---- 证书信息库 (public) ---- */

static yz_status repo_page(http_req *r, yz_err *e)
{
	json_t *cas = pki_ca_index();
	size_t i;
	json_t *c;
	json_array_foreach (cas, i, c) {
		char url[160];
		snprintf(url, sizeof url, "/pki/ca/%s.pem", jx_str(c, "name", ""));
		jx_set_str(c, "pem", url);
		jx_set_str(c, "alg_label", alg_label(jx_str(c, "alg", "")));
		jx_set_bool(c, "is_root", !json_is_string(json_object_get(c, "parent")));
		if (!jx_bool(c, "is_root", true))
			jx_set_str(c, "parent_title", title_of(cas, jx_str(c, "parent", "")));
		pki_page_human_time(c, "not_before");
		pki_page_human_time(c, "not_after");
	}
	json_t *d = json_object();
	json_object_set_new(d, "cas", cas);
	jx_set_str(d, "ocsp", "/pki/ocsp");
	return http_reply_page(r, 200, "pages/pki", d, e);
}

/* ---- 证书查询 ---- */

static yz_status search_page(http_req *r, yz_err *e)
{
	static const char *const statuses[] = {"valid", "suspended", "revoked", NULL};
	const char *q = http_query(r, "q"), *ca = http_query(r, "ca"),
	           *status = http_query(r, "status"), *b = http_query(r, "before");
	json_t *f = json_object();
	json_t *qv = json_object();
	jx_set_str(qv, "q", q ? q : "");
	jx_set_str(qv, "ca", ca ? ca : "");
	jx_set_str(qv, "status", "");
	if (q && *q)
		jx_set_str(f, "q", q);
	if (ca && *ca)
		jx_set_str(f, "ca", ca);
	for (int i = 0; status && statuses[i]; i++)
		if (!strcmp(status, statuses[i])) {
			jx_set_str(f, "status", status);
			jx_set_str(qv, "status", status);
		}
	int64_t before = 0;
	if (b && slice_to_i64(slice_of(b), &before) == YZ_OK && before > 0)
		jx_set_int(f, "before", before);
	jx_set_int(f, "limit", 50);
	store_conn *c;
	json_t *list = NULL, *profiles = NULL;
	yz_status st = store_reader(app_of(r)->db, &c, e);
	if (st == YZ_OK)
		st = pki_cert_list(c, f, &list, e);
	if (st == YZ_OK)
		st = pki_profiles_get(c, &profiles, e);
	json_decref(f);
	if (st != YZ_OK) {
		json_decref(list);
		json_decref(qv);
		return st;
	}
	json_t *cas = pki_ca_index();
	size_t i;
	json_t *x;
	json_array_foreach (json_object_get(list, "items"), i, x) {
		label_cert(x);
		jx_set_str(x, "ca_title", title_of(cas, jx_str(x, "ca", "")));
		jx_set_str(x, "profile_title", title_of(profiles, jx_str(x, "profile", "")));
	}
	json_t *d = json_object();
	json_object_set_new(d, "ca_options", ca_options(cas, ca));
	json_object_set_new(d, "status_options",
	                    word_options(r, statuses, "pki.status", jx_str(qv, "status", "")));
	json_object_set_new(d, "q", qv);
	json_object_set_new(d, "list", list);
	jx_set_bool(d, "searched", (q && *q) || (ca && *ca) || (status && *status));
	json_decref(cas);
	json_decref(profiles);
	return http_reply_page(r, 200, "pages/pki_certs", d, e);
}

/* ---- one certificate ---- */

static const char *const page_reasons[] = {
    "keyCompromise",      "affiliationChanged", "superseded",  "cessationOfOperation",
    "privilegeWithdrawn", "certificateHold",    "unspecified", NULL};

/* The page of one certificate; err (a refused revocation) shows as the
 * summary, refusal names a message key for a state that did not allow it. */
static yz_status cert_page(http_req *r, const char *ca, const char *serial, int status,
                           const yz_err *err, const char *refusal, const char *reason, yz_err *e)
{
	store_conn *c;
	json_t *o = NULL, *profiles = NULL;
	yz_status st = store_reader(app_of(r)->db, &c, e);
	if (st == YZ_OK)
		st = pki_cert_get(c, ca, serial, true, &o, e);
	if (st == YZ_OK)
		st = pki_profiles_get(c, &profiles, e);
	if (st != YZ_OK) {
		json_decref(o);
		return st;
	}
	label_cert(o);
	json_t *cas = pki_ca_index();
	jx_set_str(o, "ca_title", title_of(cas, jx_str(o, "ca", "")));
	json_decref(cas);
	jx_set_str(o, "profile_title", title_of(profiles, jx_str(o, "profile", "")));
	json_decref(profiles);
	json_t *d = json_object();
	bool can = http_can(r, "pki.revoke");
	bool revoked = jx_bool(o, "is_revoked", false),
	     suspended = jx_bool(o, "is_suspended", false);
	jx_set_bool(d, "can_revoke", can && !revoked);
	jx_set_bool(d, "can_resume", can && suspended);
	/* a suspended certificate can be revoked for good, not suspended again */
	json_t *reasons = json_array();
	for (int i = 0; page_reasons[i]; i++) {
		if (suspended && !strcmp(page_reasons[i], "certificateHold"))
			continue;
		char key[64];
		snprintf(key, sizeof key, "pki.reason.%s", page_reasons[i]);
		json_array_append_new(reasons,
		                      json_pack("{s:s, s:s, s:b}", "value", page_reasons[i],
		                                "label", http_t(r, key), "selected",
		                                reason && !strcmp(reason, page_reasons[i])));
	}
	json_object_set_new(d, "reasons", reasons);
	if (err)
		json_object_set_new(d, "error", error_data(r, err));
	else if (refusal)
		json_object_set_new(d, "error",
		                    pki_page_refusal(r, refusal, NULL, NULL, "#cert-status"));
	json_object_set_new(d, "cert", o);
	return http_reply_page(r, status, "pages/pki_cert", d, e);
}

static yz_status cert_get(http_req *r, yz_err *e)
{
	return cert_page(r, http_param(r, "ca"), http_param(r, "serial"), 200, NULL, NULL, NULL, e);
}

/* After a refused change: which state stood in the way, for the message. */
static const char *refusal_key(http_req *r, const char *ca, const char *serial, bool resume,
                               int reason)
{
	store_conn *c;
	json_t *o = NULL;
	const char *key = "pki.error.conflict";
	if (store_reader(app_of(r)->db, &c, NULL) == YZ_OK &&
	    pki_cert_get(c, ca, serial, false, &o, NULL) == YZ_OK) {
		const char *s = jx_str(o, "status", "");
		if (!strcmp(s, "revoked"))
			key = "pki.error.revoked";
		else if (resume && strcmp(s, "suspended") != 0)
			key = "pki.error.not_suspended";
		else if (!resume && reason == PKI_CERTIFICATE_HOLD && !strcmp(s, "suspended"))
			key = "pki.error.suspended";
	}
	json_decref(o);
	return key;
}

static yz_status change_post(http_req *r, bool resume, yz_err *e)
{
	const char *ca = http_param(r, "ca"), *serial = http_param(r, "serial");
	const form *f;
	yz_status st = http_form(r, &f, e);
	if (st != YZ_OK)
		return st;
	const char *rn = resume ? NULL : form_get(f, "reason");
	int reason = -1;
	yz_err fe = {0};
	if (!resume) {
		bool listed = false;
		for (int i = 0; rn && page_reasons[i]; i++)
			listed |= !strcmp(rn, page_reasons[i]);
		if (!rn || !*rn)
			st = yz_field(&fe, "reason", "required", "a reason", NULL);
		else if (!listed)
			st = yz_field(&fe, "reason", "enum", "a reason of the list", rn);
		else
			reason = pki_reason_parse(rn);
		if (st == YZ_OK)
			st = pki_revoke(app_of(r)->db, http_actor(r), ca, serial, reason, &fe);
	} else {
		st = pki_resume(app_of(r)->db, http_actor(r), ca, serial, &fe);
	}
	if (st == YZ_OK) {
		/* the record's own spelling of the serial (the path may differ in case) */
		store_conn *c;
		json_t *o = NULL;
		char url[256];
		if (store_reader(app_of(r)->db, &c, NULL) == YZ_OK &&
		    pki_cert_get(c, ca, serial, false, &o, NULL) == YZ_OK)
			snprintf(url, sizeof url, "/pki/certs/%s/%s", jx_str(o, "ca", ""),
			         jx_str(o, "serial", ""));
		else
			snprintf(url, sizeof url, "/pki/certs");
		json_decref(o);
		http_flash(r, resume                           ? "pki.flash.resumed"
		              : reason == PKI_CERTIFICATE_HOLD ? "pki.flash.suspended"
		                                               : "pki.flash.revoked");
		http_redirect(r, url);
		return YZ_OK;
	}
	if (st == YZ_EINVAL && fe.nfield)
		return cert_page(r, ca, serial, 400, &fe, NULL, rn, e);
	if (st == YZ_ECONFLICT)
		return cert_page(r, ca, serial, 409, NULL,
		                 refusal_key(r, ca, serial, resume, reason), rn, e);
	*e = fe;
	return st;
}

static yz_status revoke_post(http_req *r, yz_err *e)
{
	return change_post(r, false, e);
}

static yz_status resume_post(http_req *r, yz_err *e)
{
	return change_post(r, true, e);
}

/* ---- 签发证书 ---- */

static const char *const issue_texts[] = {"cn", "o", "ou", "id_number", "uscc", "email", NULL};

static yz_status issue_page(http_req *r, int status, json_t *values, const yz_err *err, yz_err *e)
{
	store_conn *c;
	json_t *profiles = NULL;
	yz_status st = store_reader(app_of(r)->db, &c, e);
	if (st == YZ_OK)
		st = pki_profiles_get(c, &profiles, e);
	if (st != YZ_OK) {
		json_decref(values);
		return st;
	}
	json_t *d = json_object();
	json_t *cas = pki_ca_index();
	json_object_set_new(d, "ca_options", ca_options(cas, jx_str(values, "ca", NULL)));
	json_decref(cas);
	json_object_set_new(d, "profile_options",
	                    profile_options(profiles, jx_str(values, "profile", NULL)));
	json_decref(profiles);
	if (err)
		json_object_set_new(d, "error", error_data(r, err));
	json_object_set_new(d, "values", values ? values : json_object());
	return http_reply_page(r, status, "pages/pki_issue", d, e);
}

static yz_status issue_get(http_req *r, yz_err *e)
{
	return issue_page(r, 200, NULL, NULL, e);
}

/* "a.example.cn, b.example.cn\nc.example.cn" → ["a.example.cn", …]: names
 * separated by commas (also the full-width ，and 、), semicolons or white
 * space. */
static json_t *dns_names(const char *s)
{
	json_t *a = json_array();
	while (s && *s) {
		size_t skip = 0;
		if (*s == ',' || *s == ';' || *s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
			skip = 1;
		else if (!strncmp(s, "\xef\xbc\x8c", 3) || !strncmp(s, "\xe3\x80\x81", 3))
			skip = 3; /* ， 、 */
		if (skip) {
			s += skip;
			continue;
		}
		const char *end = s;
		while (*end && *end != ',' && *end != ';' && *end != ' ' && *end != '\t' &&
		       *end != '\r' && *end != '\n' && strncmp(end, "\xef\xbc\x8c", 3) != 0 &&
		       strncmp(end, "\xe3\x80\x81", 3) != 0)
			end++;
		json_array_append_new(a, json_stringn(s, (size_t)(end - s)));
		s = end;
	}
	return a;
}

/* What pki_issue takes, from the form: only the fields filled in, so that an
 * empty one counts as absent (required by the profile, or not part of it). */
static json_t *issue_input(const form *f)
{
	json_t *in = json_object();
	const char *v;
	if ((v = form_get(f, "ca")) && *v)
		jx_set_str(in, "ca", v);
	if ((v = form_get(f, "profile")) && *v)
		jx_set_str(in, "profile", v);
	if ((v = form_get(f, "csr")) && *v)
		jx_set_str(in, "csr", v);
	for (int i = 0; issue_texts[i]; i++) {
		v = form_get(f, issue_texts[i]);
		if (!v)
			continue;
		/* surrounding blanks are a slip of the hand, not part of a name */
		slice t = slice_trim(slice_of(v));
		if (t.n)
			json_object_set_new(in, issue_texts[i], json_stringn(t.p, t.n));
	}
	json_t *dns = dns_names(form_get(f, "dns"));
	if (json_array_size(dns))
		json_object_set_new(in, "dns", dns);
	else
		json_decref(dns);
	return in;
}

static yz_status issue_post(http_req *r, yz_err *e)
{
	const form *f;
	yz_status st = http_form(r, &f, e);
	if (st != YZ_OK)
		return st;
	json_t *in = issue_input(f), *out = NULL;
	yz_err fe = {0};
	st = pki_issue(app_of(r)->db, http_actor(r), in, &out, &fe);
	json_decref(in);
	if (st == YZ_OK) {
		char url[256];
		snprintf(url, sizeof url, "/pki/certs/%s/%s", jx_str(out, "ca", ""),
		         jx_str(out, "serial", ""));
		json_decref(out);
		http_flash(r, "pki.flash.issued");
		http_redirect(r, url);
		return YZ_OK;
	}
	if (st != YZ_EINVAL || !fe.nfield) {
		*e = fe;
		return st;
	}
	return issue_page(r, 400, http_form_json(f), &fe, e);
}

/* ---- 我的证书 ---- */

/* The signed-in holder's own certificates (as GET /api/v1/pki/mine), each
 * with its download from the holder's own API route. */
static yz_status mine_page(http_req *r, yz_err *e)
{
	json_t *f = json_pack("{s:I, s:i}", "holder_user", (json_int_t)http_actor(r)->user_id,
	                      "limit", 200);
	const char *b = http_query(r, "before");
	int64_t before = 0;
	if (b && slice_to_i64(slice_of(b), &before) == YZ_OK && before > 0)
		jx_set_int(f, "before", before);
	store_conn *c;
	json_t *list = NULL, *profiles = NULL;
	yz_status st = store_reader(app_of(r)->db, &c, e);
	if (st == YZ_OK)
		st = pki_cert_list(c, f, &list, e);
	if (st == YZ_OK)
		st = pki_profiles_get(c, &profiles, e);
	json_decref(f);
	if (st != YZ_OK) {
		json_decref(list);
		return st;
	}
	json_t *cas = pki_ca_index();
	size_t i;
	json_t *x;
	json_array_foreach (json_object_get(list, "items"), i, x) {
		label_cert(x);
		jx_set_str(x, "ca_title", title_of(cas, jx_str(x, "ca", "")));
		jx_set_str(x, "profile_title", title_of(profiles, jx_str(x, "profile", "")));
		char url[160];
		snprintf(url, sizeof url, "/api/v1/pki/mine/%s/%s.crt", jx_str(x, "ca", ""),
		         jx_str(x, "serial", ""));
		jx_set_str(x, "download", url);
	}
	json_decref(cas);
	json_decref(profiles);
	json_t *d = json_object();
	json_object_set_new(d, "list", list);
	return http_reply_page(r, 200, "pages/pki_mine", d, e);
}

/* ---- 数字证书登录 ---- */

/* Only local paths, never //host or a scheme (as the password sign-in). */
static const char *safe_next(const char *next)
{
	if (!next || next[0] != '/' || next[1] == '/' || next[1] == '\\' || strchr(next, ':'))
		return "/workbench";
	return next;
}

/* s percent-encoded for a query value (unreserved characters and '/' as they are). */
static void query_escape(const char *s, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;
	for (; *s && n + 4 < cap; s++) {
		unsigned char ch = (unsigned char)*s;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' || ch == '~' ||
		    ch == '/') {
			out[n++] = (char)ch;
		} else {
			out[n++] = '%';
			out[n++] = hex[ch >> 4];
			out[n++] = hex[ch & 15];
		}
	}
	out[n] = '\0';
}

/* The host of an authority ("example.cn:8080", "[::1]:8080") when it is a
 * plain host name or address; false for anything else. */
static bool host_of(const char *authority, char *out, size_t cap)
{
	if (!authority || !*authority)
		return false;
	size_t n;
	if (authority[0] == '[') {
		const char *end = strchr(authority, ']');
		if (!end)
			return false;
		n = (size_t)(end - authority) + 1;
	} else {
		const char *colon = strchr(authority, ':');
		n = colon ? (size_t)(colon - authority) : strlen(authority);
	}
	if (n == 0 || n >= cap)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = authority[i];
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		          (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '[' ||
		          ch == ']' || (ch == ':' && authority[0] == '[');
		if (!ok)
			return false;
	}
	memcpy(out, authority, n);
	out[n] = '\0';
	return true;
}

/* Where this page is over HTTPS: the host the browser asked for (or the TLS
 * listener's own, when it names one), at the TLS port; "" without a TLS
 * listener. */
static void https_url(http_req *r, const char *next, char *out, size_t cap)
{
	out[0] = '\0';
	int port = http_server_tls_port(http_server_of(r));
	if (port <= 0)
		return;
	char host[256];
	if (!host_of(http_header(r, "Host"), host, sizeof host)) {
		const char *l = app_of(r)->cfg.tls_listen;
		if (!host_of(l, host, sizeof host) || !strcmp(host, "0.0.0.0") ||
		    !strcmp(host, "[::]"))
			return;
	}
	char q[600];
	query_escape(next, q, sizeof q);
	int n = -1;
	if (strcmp(next, "/workbench") != 0)
		n = snprintf(out, cap, "https://%s:%d/login/certificate?next=%s", host, port, q);
	if (n < 0 || (size_t)n >= cap) /* the default, or a next too long to carry */
		snprintf(out, cap, "https://%s:%d/login/certificate", host, port);
}

/* What a page shows of the client certificate: subject, CN, issuer (the CA's
 * title when it is one of ours), serial, validity. NULL when it does not
 * parse. */
static json_t *client_cert_info(const void *der, size_t n)
{
	X509 *x = pki_x509_parse(der, n);
	if (!x)
		return NULL;
	json_t *o = json_object();
	char text[1024];
	pki_name_text(X509_get_subject_name(x), text, sizeof text);
	jx_set_str(o, "subject", text);
	pki_name_text(X509_get_issuer_name(x), text, sizeof text);
	jx_set_str(o, "issuer", text);
	pki_serial_hex(X509_get0_serialNumber(x), text, sizeof text);
	jx_set_str(o, "serial", text);
	int at = X509_NAME_get_index_by_NID(X509_get_subject_name(x), NID_commonName, -1);
	if (at >= 0) {
		unsigned char *cn = NULL;
		int len = ASN1_STRING_to_UTF8(&cn, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(
		                                       X509_get_subject_name(x), at)));
		if (len > 0) {
			json_object_set_new(o, "cn", json_stringn((const char *)cn, (size_t)len));
			jx_set_bool(o, "cn_latin", latin_text(jx_str(o, "cn", "")));
		}
		OPENSSL_free(cn);
	}
	for (int i = 0; i < pki_ca_count(); i++) {
		pki_ca_rt *ca = pki_ca_at(i);
		if (X509_NAME_cmp(X509_get_issuer_name(x), X509_get_subject_name(ca->cert)) == 0)
			jx_set_str(o, "ca_title", ca->title);
	}
	clock_format_city_human(pki_asn1_ms(X509_get0_notBefore(x)), text, sizeof text);
	jx_set_str(o, "not_before", text);
	clock_format_city_human(pki_asn1_ms(X509_get0_notAfter(x)), text, sizeof text);
	jx_set_str(o, "not_after", text);
	X509_free(x);
	return o;
}

/* A refused sign-in in words, from the error's code and message
 * (pki_login_check, iam_login_verified); a revoked certificate names its
 * reason. */
static void refusal_text(http_req *r, const yz_err *le, char *out, size_t cap)
{
	const char *m = le->msg, *key = "pki.login.refused.other", *label = "";
	char reason[48] = "", k[96];
	if (le->code == YZ_EFORBIDDEN && strstr(m, "revoked")) {
		key = "pki.login.refused.revoked";
		const char *p = strrchr(m, '('), *q = p ? strchr(p, ')') : NULL;
		if (p && q && (size_t)(q - p - 1) < sizeof reason) {
			memcpy(reason, p + 1, (size_t)(q - p - 1));
			reason[q - p - 1] = '\0';
		}
		snprintf(k, sizeof k, "pki.reason.%s", reason[0] ? reason : "unspecified");
		label = http_t(r, k);
		if (!strcmp(label, k))
			label = reason;
	} else if (le->code == YZ_EFORBIDDEN && strstr(m, "suspended")) {
		key = "pki.login.refused.suspended";
	} else if (le->code == YZ_EFORBIDDEN) {
		key = "pki.login.refused.disabled";
	} else if (le->code == YZ_ELOCKED) {
		key = "pki.login.refused.locked";
	} else if (strstr(m, "expired")) {
		key = "pki.login.refused.expired";
	} else if (strstr(m, "not valid yet")) {
		key = "pki.login.refused.not_yet";
	} else if (strstr(m, "not issued by a CA of this platform") || strstr(m, "register")) {
		key = "pki.login.refused.not_ours";
	} else if (strstr(m, "signature")) {
		key = "pki.login.refused.signature";
	} else if (strstr(m, "clientAuth")) {
		key = "pki.login.refused.usage";
	} else if (strstr(m, "account")) {
		key = "pki.login.refused.no_account";
	} else if (strstr(m, "no client certificate") || strstr(m, "does not parse")) {
		key = "pki.login.refused.no_cert";
	}
	pki_page_fill(http_t(r, key), label, "", out, cap);
}

/* The sign-in page: the client certificate with the button, or how to get
 * one here; err (a refusal) as the summary, with the technical reason. */
static yz_status cert_login_page(http_req *r, int status, const char *next, const yz_err *err,
                                 yz_err *e)
{
	json_t *d = json_object();
	size_t n = 0;
	const void *der = http_client_cert(r, &n);
	json_t *cert = der ? client_cert_info(der, n) : NULL;
	jx_set_bool(d, "tls", http_is_tls(r));
	if (cert)
		json_object_set_new(d, "cert", cert);
	char url[800];
	https_url(r, next, url, sizeof url);
	jx_set_str(d, "https_url", url);
	char q[600], login[640];
	query_escape(next, q, sizeof q);
	snprintf(login, sizeof login, "/login?next=%s", q);
	jx_set_str(d, "login_href", login);
	json_object_set_new(d, "values", json_pack("{s:s}", "next", next));
	if (err) {
		char text[512];
		refusal_text(r, err, text, sizeof text);
		json_t *ed = json_pack("{s:s, s:[{s:s, s:s}], s:{}, s:s}", "message", text,
		                       "errors", "href", cert ? "#cert-summary" : "#how-title",
		                       "text", text, "error_map", "detail", err->msg);
		json_object_set_new(d, "error", ed);
	}
	return http_reply_page(r, status, "pages/pki_login", d, e);
}

static yz_status cert_login_get(http_req *r, yz_err *e)
{
	const char *next = safe_next(http_query(r, "next"));
	if (http_user_of(r)) {
		http_redirect(r, next);
		return YZ_OK;
	}
	return cert_login_page(r, 200, next, NULL, e);
}

/* The TLS client certificate signs its holder in (as POST
 * /api/v1/session/certificate without a body): a session cookie and on to
 * next; a refusal shows the page again with the reason. */
static yz_status cert_login_post(http_req *r, yz_err *e)
{
	yz_app *app = app_of(r);
	const form *f;
	yz_status st = http_form(r, &f, e);
	if (st != YZ_OK)
		return st;
	const char *next = safe_next(form_get(f, "next"));
	size_t n = 0;
	const void *der = http_client_cert(r, &n);
	int64_t user = 0;
	char ref[128] = "";
	yz_err le = {0};
	if (!der)
		st = yz_fail(&le, YZ_EUNAUTH, "no client certificate: connect over HTTPS with one");
	else
		st = pki_login_check(app->db, der, n, &user, ref, sizeof ref, &le);
	iam_login_result res;
	if (st == YZ_OK)
		st = iam_login_verified(app->db, &app->policy, http_actor(r), user,
		                        "tls-certificate", ref, http_header(r, "User-Agent"), &res,
		                        &le);
	if (st == YZ_OK) {
		if (http_set_cookie(r, "yz_sid", res.token, -1, true) != YZ_OK)
			return yz_fail(e, YZ_EINTERNAL, "could not set the session cookie");
		http_redirect(r, next);
		return YZ_OK;
	}
	if (st != YZ_EUNAUTH && st != YZ_EFORBIDDEN && st != YZ_ELOCKED) {
		*e = le;
		return st;
	}
	return cert_login_page(r, yz_status_http(st), next, &le, e);
}

static const http_route routes[] = {
    {HTTP_GET, "/pki", repo_page, HTTP_PUBLIC, HTTP_SCOPE_NONE, HTTP_PAGE, 0,
     "The certificate repository: the CAs, their certificates and CRLs, the OCSP address"},
    {HTTP_GET, "/pki/certs", search_page, "pki.read", HTTP_SCOPE_NONE, HTTP_PAGE, 0,
     "Search certificates"},
    {HTTP_GET, "/pki/certs/{ca}/{serial}", cert_get, "pki.read", HTTP_SCOPE_NONE, HTTP_PAGE, 0,
     "A certificate, with its revoke and resume forms"},
    {HTTP_POST, "/pki/certs/{ca}/{serial}/revoke", revoke_post, "pki.revoke", HTTP_SCOPE_NONE,
     HTTP_PAGE, 16u << 10, "Revoke or suspend a certificate"},
    {HTTP_POST, "/pki/certs/{ca}/{serial}/resume", resume_post, "pki.revoke", HTTP_SCOPE_NONE,
     HTTP_PAGE, 16u << 10, "Lift a certificate's suspension"},
    {HTTP_GET, "/pki/issue", issue_get, "pki.issue", HTTP_SCOPE_NONE, HTTP_PAGE, 0,
     "The issue form"},
    {HTTP_POST, "/pki/issue", issue_post, "pki.issue", HTTP_SCOPE_NONE, HTTP_PAGE, 64u << 10,
     "Issue a certificate from a PKCS#10 request"},
    {HTTP_GET, "/pki/mine", mine_page, HTTP_SIGNED_IN, HTTP_SCOPE_NONE, HTTP_PAGE, 0,
     "My certificates: the ones I hold, to download"},
    {HTTP_GET, "/login/certificate", cert_login_get, HTTP_PUBLIC, HTTP_SCOPE_NONE, HTTP_PAGE, 0,
     "Sign in by certificate: the TLS client certificate, or how to get one"},
    {HTTP_POST, "/login/certificate", cert_login_post, HTTP_PUBLIC, HTTP_SCOPE_NONE, HTTP_PAGE,
     8192, "Sign in with the TLS client certificate"},
};

static const http_nav nav[] = {
    {"workbench", "nav.pki_issue", "/pki/issue", "pki.issue", 70},
    {"workbench", "nav.pki_certs", "/pki/certs", "pki.read", 75},
    {"workbench", "nav.pki_mine", "/pki/mine", HTTP_SIGNED_IN, 85},
};

yz_status pki_routes(yz_app *app, yz_err *e)
{
	yz_status st = pki_api_routes(app, e);
	if (st == YZ_OK)
		st = http_routes_add(app->http, routes, (int)(sizeof routes / sizeof routes[0]), e);
	if (st == YZ_OK)
		http_add_nav(app->http, nav, (int)(sizeof nav / sizeof nav[0]));
	if (st == YZ_OK)
		st = kmc_page_routes(app, e);
	return st == YZ_OK ? pki_seal_page_routes(app, e) : st; /* seal_pages.c */
}
