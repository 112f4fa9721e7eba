/*
 * kmc_pages.c — the pages of the key management centre (密钥管理中心,
 * kmc.h); the same kmc functions serve the JSON API (kmc_api.c).
 *
 * For the KMC operators (pki.kmc.manage): the data keys (create, rotate;
 * their material is never shown), the archive of encryption keys, and the
 * issue of a dual certificate's encryption key pair for the holder of an
 * SM2 signing certificate, whose result page shows the encryption
 * certificate and offers the envelope as a file. The envelope is made once
 * and never stored, so that page is the POST's own answer (as a secret shown
 * once), not a redirect.
 *
 * Key recovery: an operator files a request (which archived key, why, to
 * which recipient certificate); the approvers (pki.kmc.approve) see the
 * requests and approve or refuse them with the same functions the API uses,
 * which complete or reject the approver tasks of the flow
 * KMC_RECOVERY_FLOW, so the KMC's rules (not the requester, once per
 * approver, two of three) hold here too and come back as refusals named by
 * their rule. After two approvals an operator releases the key once: the
 * answer is a page with the envelope to the recipient certificate; a second
 * release is refused (409).
 *
 * Threads: the GET pages only read; every POST writes durably and runs on
 * the workers as every POST does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "core/clock.h"
#include "core/jx.h"
#include "core/slice.h"
#include "iam/iam.h"
#include "pki/kmc.h"
#include "pki/pki_int.h"
#include "pki/pki_pages.h"

#define KMC_PAGE_LIMIT 50

static yz_app *app_of(http_req *r)
{
	return http_app(r);
}

/* The title of a CA by name. */
static const char *ca_title(json_t *cas, const char *name)
{
	size_t i;
	json_t *c;
	json_array_foreach (cas, i, c)
		if (!strcmp(jx_str(c, "name", ""), name))
			return jx_str(c, "title", name);
	return name;
}

/* The SM2 CAs as select options: an envelope is SM2, and so are the dual
 * certificates of the KMC. */
static json_t *sm2_ca_options(json_t *cas, const char *current)
{
	json_t *out = json_array();
	size_t i;
	json_t *c;
	json_array_foreach (cas, i, c) {
		if (strcmp(jx_str(c, "alg", ""), "sm2") != 0)
			continue;
		const char *name = jx_str(c, "name", "");
		json_array_append_new(out, json_pack("{s:s, s:s, s:b}", "value", name, "label",
		                                     jx_str(c, "title", name), "selected",
		                                     current && !strcmp(current, name)));
	}
	return out;
}

/* The name of a user for a page (names[id] caches it for the request); the
 * login when the user cannot be read. */
static const char *user_name(store_conn *c, json_t *names, int64_t id, const char *login)
{
	char key[24];
	snprintf(key, sizeof key, "%lld", (long long)id);
	const char *have = jx_str(names, key, NULL);
	if (have)
		return have;
	json_t *u = NULL;
	yz_scope all = {.all = true};
	if (id && iam_user_get(c, &all, id, &u, NULL) == YZ_OK && jx_str(u, "name", "")[0])
		jx_set_str(names, key, jx_str(u, "name", ""));
	else
		jx_set_str(names, key, login ? login : "");
	json_decref(u);
	return jx_str(names, key, "");
}

/* ---- errors ---- */

static bool is_select(const char *field)
{
	return !strcmp(field, "ca") || !strcmp(field, "recipient_ca");
}

/* A validation error as page data (the GOV.UK summary), one entry per
 * field: labels from kmc.field.<which>.<field>, the KMC's rules from
 * kmc.rule.<rule> (a choice not made, a serial that is not hex, a
 * certificate that is not valid, not a signing certificate, not archived),
 * the general rule messages for the rest. */
static json_t *error_data(http_req *r, const yz_err *in, const char *which)
{
	yz_err err = *in;
	int n = err.nfield < YZ_ERR_MAX_FIELDS ? err.nfield : YZ_ERR_MAX_FIELDS, k = 0;
	for (int i = 0; i < n; i++) {
		bool seen = false;
		for (int j = 0; j < k; j++)
			seen |= !strcmp(err.fields[j].field, err.fields[i].field);
		if (seen)
			continue;
		if (k != i)
			err.fields[k] = err.fields[i];
		k++;
	}
	err.nfield = k;
	json_t *labels = json_object();
	for (int i = 0; i < k; i++) {
		char key[96];
		snprintf(key, sizeof key, "kmc.field.%s.%s", which, err.fields[i].field);
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
		              (!strcmp(f->rule, "required") || !strcmp(f->rule, "pattern") ||
		               !strcmp(f->rule, "exists") || !strcmp(f->rule, "min-length"));
		snprintf(key, sizeof key, "kmc.rule.%s", choose ? "choose" : f->rule);
		const char *tmpl = http_t(r, key);
		if (strcmp(tmpl, key) != 0) {
			char text[512];
			pki_page_fill(tmpl, jx_str(labels, f->field, f->field), f->got, text,
			              sizeof text);
			jx_set_str(x, "text", text);
		}
		jx_set_str(map, f->field, jx_str(x, "text", ""));
	}
	json_object_set_new(d, "error_map", map);
	json_decref(labels);
	return d;
}

/* The form's non-empty fields, trimmed: an empty one counts as absent, so
 * that it is "required", not "too short". */
static json_t *form_input(const form *f, const char *const *names)
{
	json_t *in = json_object();
	for (int i = 0; names[i]; i++) {
		const char *v = form_get(f, names[i]);
		slice t = slice_trim(slice_of(v ? v : ""));
		if (t.n)
			json_object_set_new(in, names[i], json_stringn(t.p, t.n));
	}
	return in;
}

/* ---- 密钥管理中心 ---- */

static yz_status centre_page(http_req *r, int status, const yz_err *err, const char *purpose,
                             yz_err *e)
{
	json_t *f = json_pack("{s:i}", "limit", KMC_PAGE_LIMIT);
	const char *b = http_query(r, "before");
	int64_t before = 0;
	if (b && slice_to_i64(slice_of(b), &before) == YZ_OK && before > 0)
		jx_set_int(f, "before", before);
	store_conn *c;
	json_t *keys = NULL, *archive = NULL;
	yz_status st = store_reader(app_of(r)->db, &c, e);
	if (st == YZ_OK)
		st = kmc_data_key_list(c, &keys, e);
	if (st == YZ_OK)
		st = kmc_enc_key_list(c, f, &archive, e);
	json_decref(f);
	if (st != YZ_OK) {
		json_decref(keys);
		return st;
	}
	size_t i;
	json_t *x;
	json_array_foreach (json_object_get(keys, "items"), i, x) {
		pki_page_human_time(x, "created_at");
		json_t *versions = json_object_get(x, "versions");
		json_t *last = json_array_get(versions, json_array_size(versions) - 1);
		jx_set_str(x, "current_at", jx_str(last, "created_at", ""));
		pki_page_human_time(x, "current_at");
	}
	json_t *cas = pki_ca_index();
	json_array_foreach (json_object_get(archive, "items"), i, x) {
		pki_page_human_time(x, "archived_at");
		jx_set_str(x, "ca_title", ca_title(cas, jx_str(x, "ca", "")));
	}
	json_decref(cas);
	json_t *d = json_object();
	json_object_set_new(d, "keys", keys);
	json_object_set_new(d, "archive", archive);
	jx_set_str(d, "purpose", purpose ? purpose : "");
	if (err)
		json_object_set_new(d, "error", error_data(r, err, "datakey"));
	return http_reply_page(r, status, "pages/kmc_centre", d, e);
}

static yz_status centre_get(http_req *r, yz_err *e)
{
	return centre_page(r, 200, NULL, NULL, e);
}

static yz_status data_key_post(http_req *r, yz_err *e)
{
	yz_app *app = app_of(r);
	const form *f;
	yz_status st = http_form(r, &f, e);
	if (st != YZ_OK)
		return st;
	const char *v = form_get(f, "purpose");
	slice t = slice_trim(slice_of(v ? v : ""));
	char purpose[128] = "";
	if (t.n < sizeof purpose) {
		memcpy(purpose, t.p, t.n);
		purpose[t.n] = '\0';
	}
	char id[KMC_KEY_ID_MAX];
	yz_err fe = {0};
	if (!t.n)
		st = yz_field(&fe, "purpose", "required", "the purpose of the data key", NULL);
	else if (t.n >= sizeof purpose)
		st = yz_field(&fe, "purpose", "pattern",
		              "1 to 64 characters: a-z, 0-9, '.', '_', '-', ':'", NULL);
	else
		st = kmc_data_key_create(app->db, app->cfg.data, http_actor(r), purpose, id, &fe);
	if (st == YZ_OK) {
		http_flash(r, "kmc.flash.datakey_created");
		http_redirect(r, "/pki/kmc#data-keys");
		return YZ_OK;
	}
	if (st != YZ_EINVAL || !fe.nfield) {
		*e = fe;
		return st;
	}
	return centre_page(r, 400, &fe, v ? v : "", e);
}

static yz_status data_key_rotate_post(http_req *r, yz_err *e)
{
	yz_app *app = app_of(r);
	int version = 0;
	yz_status st = kmc_data_key_rotate(app->db, app->cfg.data, http_actor(r),
	                                   http_param(r, "key"), &version, e);
	if (st != YZ_OK)
		return st;
	http_flash(r, "kmc.flash.datakey_rotated");
	http_redirect(r, "/pki/kmc#data-keys");
	return YZ_OK;
}

/* ---- 签发加密密钥对 ---- */

static yz_status issue_page(http_req *r, int status, json_t *values, const yz_err *err, yz_err *e)
{
	if (!values)
		values = json_object();
	json_t *d = json_object();
	json_t *cas = pki_ca_index();
	json_object_set_new(d, "ca_options", sm2_ca_options(cas, jx_str(values, "ca", NULL)));
	json_decref(cas);
	if (err)
		json_object_set_new(d, "error", error_data(r, err, "issue"));
	json_object_set_new(d, "values", values);
	return http_reply_page(r, status, "pages/kmc_issue", d, e);
}

static yz_status issue_get(http_req *r, yz_err *e)
{
	json_t *v = json_object();
	const char *ca = http_query(r, "ca"), *serial = http_query(r, "serial");
	jx_set_str(v, "ca", ca ? ca : "");
	jx_set_str(v, "serial", serial ? serial : "");
	return issue_page(r, 200, v, NULL, e);
}

/* The envelope of a result page: base64 for a data: link (the page is the
 * only copy: the KMC does not keep envelopes) and a file name. */
static void envelope_data(json_t *d, json_t *out, const char *file, const char *which)
{
	char key[64];
	jx_set_str(d, "envelope", jx_str(out, "envelope", ""));
	jx_set_str(d, "envelope_format", jx_str(out, "envelope_format", ""));
	jx_set_str(d, "envelope_file", file);
	snprintf(key, sizeof key, "kmc.envelope.what_%s", which);
	jx_set_str(d, "envelope_what", key);
	snprintf(key, sizeof key, "kmc.envelope.once_%s", which);
	jx_set_str(d, "envelope_once", key);
}

static yz_status issue_post(http_req *r, yz_err *e)
{
	yz_app *app = app_of(r);
	const form *f;
	yz_status st = http_form(r, &f, e);
	if (st != YZ_OK)
		return st;
	static const char *const names[] = {"ca", "serial", NULL};
	json_t *in = form_input(f, names), *out = NULL;
	yz_err fe = {0};
	st = kmc_enc_key_issue(app->db, app->cfg.data, http_actor(r), in, &out, &fe);
	json_decref(in);
	if (st != YZ_OK) {
		if ((st != YZ_EINVAL && st != YZ_EREFUSED) || !fe.nfield) {
			*e = fe;
			return st;
		}
		return issue_page(r, yz_status_http(st), http_form_json(f), &fe, e);
	}
	json_t *cert = json_incref(json_object_get(out, "certificate"));
	json_t *cas = pki_ca_index();
	jx_set_str(cert, "ca_title", ca_title(cas, jx_str(cert, "ca", "")));
	json_t *rcpt = json_object_get(out, "recipient");
	json_t *d = json_object();
	json_object_set_new(d, "recipient",
	                    json_pack("{s:s, s:s, s:s}", "ca", jx_str(rcpt, "ca", ""), "serial",
	                              jx_str(rcpt, "serial", ""), "ca_title",
	                              ca_title(cas, jx_str(rcpt, "ca", ""))));
	json_decref(cas);
	pki_page_human_time(cert, "not_before");
	pki_page_human_time(cert, "not_after");
	char file[96], url[160];
	snprintf(file, sizeof file, "SM2EnvelopedKey-%s.der", jx_str(cert, "serial", ""));
	snprintf(url, sizeof url, "/api/v1/pki/certs/%s/%s.crt", jx_str(cert, "ca", ""),
	         jx_str(cert, "serial", ""));
	jx_set_str(cert, "download", url);
	envelope_data(d, out, file, "issued");
	jx_set_str(d, "key_id", jx_str(out, "key_id", ""));
	json_object_set_new(d, "cert", cert);
	json_decref(out);
	return http_reply_page(r, 200, "pages/kmc_issued", d, e);
}

/* ---- 密钥恢复 ---- */

static const char *const rec_statuses[] = {"open", "approved", "released", "refused", NULL};

/* The words of a request for a page: status label and tag, names, times,
 * approvals "n / 2". */
static void label_recovery(store_conn *c, json_t *names, json_t *cas, json_t *o)
{
	const char *status = jx_str(o, "status", "");
	jx_set_label(o, "status_label", "kmc.status", "status", "open");
	jx_set_str(o, "tag_class",
	           !strcmp(status, "refused")    ? "tag-red"
	           : !strcmp(status, "approved") ? "tag-yellow"
	                                         : "");
	json_t *req = json_object_get(o, "requester");
	jx_set_str(req, "name",
	           user_name(c, names, jx_int(req, "id", 0), jx_str(req, "login", "")));
	size_t i;
	json_t *a;
	json_array_foreach (json_object_get(o, "approvals"), i, a) {
		jx_set_str(a, "name",
		           user_name(c, names, jx_int(a, "user", 0), jx_str(a, "login", "")));
		pki_page_human_time(a, "at");
	}
	json_t *key = json_object_get(o, "key");
	jx_set_str(key, "ca_title", ca_title(cas, jx_str(key, "ca", "")));
	json_t *rc = json_object_get(o, "recipient");
	jx_set_str(rc, "ca_title", ca_title(cas, jx_str(rc, "ca", "")));
	pki_page_human_time(o, "created_at");
	pki_page_human_time(o, "closed_at");
	pki_page_human_time(o, "released_at");
}

static yz_status recoveries_page(http_req *r, yz_err *e)
{
	const char *tab = http_query(r, "status");
	bool known = false;
	for (int i = 0; tab && rec_statuses[i]; i++)
		known |= !strcmp(tab, rec_statuses[i]);
	if (!known && !(tab && !strcmp(tab, "all")))
		tab = "open";
	json_t *f = json_pack("{s:i}", "limit", KMC_PAGE_LIMIT);
	if (strcmp(tab, "all") != 0)
		jx_set_str(f, "status", tab);
	const char *b = http_query(r, "before");
	int64_t before = 0;
	if (b && slice_to_i64(slice_of(b), &before) == YZ_OK && before > 0)
		jx_set_int(f, "before", before);
	store_conn *c;
	json_t *list = NULL;
	yz_status st = store_reader(app_of(r)->db, &c, e);
	if (st == YZ_OK)
		st = kmc_recovery_list(c, f, &list, e);
	json_decref(f);
	if (st != YZ_OK)
		return st;
	json_t *names = json_object(), *cas = pki_ca_index();
	size_t i;
	json_t *x;
	int64_t last = 0;
	json_array_foreach (json_object_get(list, "items"), i, x) {
		label_recovery(c, names, cas, x);
		last = jx_int(x, "id", 0);
	}
	if (json_array_size(json_object_get(list, "items")) == KMC_PAGE_LIMIT)
		jx_set_int(list, "next_before", last);
	json_decref(names);
	json_decref(cas);
	json_t *tabs = json_array();
	static const char *const all_tabs[] = {"open", "approved", "released", "refused", "all"};
	for (size_t k = 0; k < sizeof all_tabs / sizeof all_tabs[0]; k++) {
		char key[48];
		snprintf(key, sizeof key, "kmc.recoveries.tab.%s", all_tabs[k]);
		json_array_append_new(tabs,
		                      json_pack("{s:s, s:s, s:b}", "tab", all_tabs[k], "label", key,
		                                "current", !strcmp(tab, all_tabs[k])));
	}
	json_t *d = json_object();
	json_object_set_new(d, "list", list);
	json_object_set_new(d, "tabs", tabs);
	jx_set_str(d, "tab", tab);
	jx_set_bool(d, "can_request", http_can(r, "pki.kmc.manage"));
	return http_reply_page(r, 200, "pages/kmc_recoveries", d, e);
}

static yz_status request_page(http_req *r, int status, json_t *values, const yz_err *err, yz_err *e)
{
	if (!values)
		values = json_object();
	json_t *d = json_object();
	json_t *cas = pki_ca_index();
	json_object_set_new(d, "ca_options", sm2_ca_options(cas, jx_str(values, "ca", NULL)));
	json_object_set_new(d, "recipient_ca_options",
	                    sm2_ca_options(cas, jx_str(values, "recipient_ca", NULL)));
	json_decref(cas);
	if (err)
		json_object_set_new(d, "error", error_data(r, err, "recovery"));
	json_object_set_new(d, "values", values);
	return http_reply_page(r, status, "pages/kmc_recovery_new", d, e);
}

static yz_status request_get(http_req *r, yz_err *e)
{
	json_t *v = json_object();
	const char *ca = http_query(r, "ca"), *serial = http_query(r, "serial");
	jx_set_str(v, "ca", ca ? ca : "");
	jx_set_str(v, "serial", serial ? serial : "");
	jx_set_str(v, "recipient_ca", ca ? ca : "");
	return request_page(r, 200, v, NULL, e);
}

static yz_status request_post(http_req *r, yz_err *e)
{
	const form *f;
	yz_status st = http_form(r, &f, e);
	if (st != YZ_OK)
		return st;
	static const char *const names[] = {"ca",           "serial",           "reason",
	                                    "recipient_ca", "recipient_serial", NULL};
	json_t *in = form_input(f, names), *out = NULL;
	yz_err fe = {0};
	st = kmc_recovery_request(app_of(r)->db, http_actor(r), in, &out, &fe);
	json_decref(in);
	if (st == YZ_OK) {
		char url[64];
		snprintf(url, sizeof url, "/pki/kmc/recoveries/%lld",
		         (long long)jx_int(out, "id", 0));
		json_decref(out);
		http_flash(r, "kmc.flash.requested");
		http_redirect(r, url);
		return YZ_OK;
	}
	if (st != YZ_EINVAL || !fe.nfield) {
		*e = fe;
		return st;
	}
	return request_page(r, 400, http_form_json(f), &fe, e);
}

/* One request with what the viewer may do: approve or refuse (an approver
 * who is not the requester and has not approved it, while it is open),
 * release (an operator, while it is open or approved: before two approvals
 * the refusal says how many there are). error: the summary of a refused
 * command; typed: what was typed into it. */
static yz_status recovery_page(http_req *r, int64_t id, int status, json_t *error, json_t *typed,
                               yz_err *e)
{
	store_conn *c;
	json_t *o = NULL;
	yz_status st = store_reader(app_of(r)->db, &c, e);
	if (st == YZ_OK)
		st = kmc_recovery_get(c, id, &o, e);
	if (st != YZ_OK) {
		json_decref(error);
		json_decref(typed);
		return st;
	}
	json_t *names = json_object(), *cas = pki_ca_index();
	label_recovery(c, names, cas, o);
	json_decref(names);
	json_decref(cas);
	const http_user *me = http_user_of(r);
	int64_t my_id = me ? me->id : 0;
	const char *status_s = jx_str(o, "status", "");
	bool open = !strcmp(status_s, "open"), approved = !strcmp(status_s, "approved");
	bool requester = jx_int(json_object_get(o, "requester"), "id", 0) == my_id;
	json_t *mine = NULL;
	size_t i;
	json_t *a;
	json_array_foreach (json_object_get(o, "approvals"), i, a)
		if (jx_int(a, "user", 0) == my_id)
			mine = a;
	bool approver = http_can(r, "pki.kmc.approve");
	json_t *d = json_object();
	jx_set_bool(d, "can_decide", open && approver && !requester && !mine);
	jx_set_bool(d, "own_request", open && approver && requester);
	if (open && approver && mine)
		jx_set_str(d, "approved_at", jx_str(mine, "at", ""));
	jx_set_bool(d, "can_release", http_can(r, "pki.kmc.manage") && (open || approved));
	jx_set_bool(d, "is_open", open);
	jx_set_bool(d, "is_released", !strcmp(status_s, "released"));
	jx_set_bool(d, "is_refused", !strcmp(status_s, "refused"));
	if (error)
		json_object_set_new(d, "error", error);
	json_object_set_new(d, "form", typed ? typed : json_object());
	json_object_set_new(d, "rec", o);
	return http_reply_page(r, status, "pages/kmc_recovery", d, e);
}

static yz_status recovery_get(http_req *r, yz_err *e)
{
	int64_t id;
	yz_status st = http_param_id(r, "id", &id, e);
	return st == YZ_OK ? recovery_page(r, id, 200, NULL, NULL, e) : st;
}

/* The approvals a request has now, as text for a refusal ("1"). */
static void approvals_now(http_req *r, int64_t id, char *out, size_t cap, char *status, size_t scap)
{
	store_conn *c;
	json_t *o = NULL;
	snprintf(out, cap, "0");
	status[0] = '\0';
	if (store_reader(app_of(r)->db, &c, NULL) == YZ_OK &&
	    kmc_recovery_get(c, id, &o, NULL) == YZ_OK) {
		snprintf(out, cap, "%lld", (long long)jx_int(o, "approved_by", 0));
		yz_strlcpy(status, jx_str(o, "status", ""), scap);
	}
	json_decref(o);
}

static yz_status decide_post(http_req *r, bool approve, yz_err *e)
{
	int64_t id;
	const form *f;
	yz_status st = http_param_id(r, "id", &id, e);
	if (st == YZ_OK)
		st = http_form(r, &f, e);
	if (st != YZ_OK)
		return st;
	static const char *const names[] = {"comment", "reason", NULL};
	json_t *in = form_input(f, names);
	yz_err fe = {0};
	const char *comment = jx_str(in, "comment", ""), *reason = jx_str(in, "reason", "");
	if (approve && strlen(comment) > 500)
		st = yz_field(&fe, "comment", "max-length", "at most 500 characters", NULL);
	else if (!approve && strlen(reason) > 500)
		st = yz_field(&fe, "reason", "max-length", "at most 500 characters", NULL);
	else
		st = approve ? kmc_recovery_approve(app_of(r)->db, http_actor(r), id, comment, &fe)
		             : kmc_recovery_refuse(app_of(r)->db, http_actor(r), id, reason, &fe);
	if (st == YZ_OK) {
		json_decref(in);
		char url[64], n[24], status[16];
		approvals_now(r, id, n, sizeof n, status, sizeof status);
		snprintf(url, sizeof url, "/pki/kmc/recoveries/%lld", (long long)id);
		http_flash(r, !approve                      ? "kmc.flash.refused"
		              : !strcmp(status, "approved") ? "kmc.flash.approved_quorum"
		                                            : "kmc.flash.approved");
		http_redirect(r, url);
		return YZ_OK;
	}
	json_t *error = NULL;
	if (st == YZ_EINVAL && fe.nfield) {
		error = error_data(r, &fe, "decide");
	} else if (st == YZ_EREFUSED && fe.nfield && !strcmp(fe.fields[0].field, "approver")) {
		/* the KMC's rules: not-requester, distinct, permission, person */
		char key[64];
		snprintf(key, sizeof key, "kmc.refusal.%s", fe.fields[0].rule);
		if (!strcmp(http_t(r, key), key))
			snprintf(key, sizeof key, "kmc.refusal.other");
		error = pki_page_refusal(r, key, "", NULL, "#recovery-approvals");
	} else if (st == YZ_ECONFLICT) {
		char n[24], status[16], key[48];
		approvals_now(r, id, n, sizeof n, status, sizeof status);
		snprintf(key, sizeof key, "kmc.status.%s", status[0] ? status : "open");
		error = pki_page_refusal(r, "kmc.refusal.closed", http_t(r, key), NULL,
		                         "#recovery-status");
	} else if (st == YZ_EFORBIDDEN) {
		error = pki_page_refusal(r, "kmc.refusal.no_task", "", NULL, "#recovery-approvals");
	} else {
		json_decref(in);
		*e = fe;
		return st;
	}
	return recovery_page(r, id, yz_status_http(st), error, in, e);
}

static yz_status approve_post(http_req *r, yz_err *e)
{
	return decide_post(r, true, e);
}

static yz_status refuse_post(http_req *r, yz_err *e)
{
	return decide_post(r, false, e);
}

static yz_status release_post(http_req *r, yz_err *e)
{
	yz_app *app = app_of(r);
	int64_t id;
	const form *f;
	yz_status st = http_param_id(r, "id", &id, e);
	if (st == YZ_OK)
		st = http_form(r, &f, e);
	if (st != YZ_OK)
		return st;
	json_t *out = NULL;
	yz_err fe = {0};
	st = kmc_recovery_release(app->db, app->cfg.data, http_actor(r), id, &out, &fe);
	if (st != YZ_OK) {
		/* which state or rule stood in the way, in the page's words */
		char n[24], status[16];
		approvals_now(r, id, n, sizeof n, status, sizeof status);
		const char *key = NULL;
		if (st == YZ_ECONFLICT)
			key = !strcmp(status, "open")       ? "kmc.refusal.quorum"
			      : !strcmp(status, "released") ? "kmc.refusal.released"
			      : !strcmp(status, "refused")  ? "kmc.refusal.refused"
			                                    : "kmc.refusal.other";
		else if (st == YZ_EINVAL && fe.nfield &&
		         !strcmp(fe.fields[0].field, "recipient_serial"))
			key = "kmc.refusal.recipient";
		if (!key) {
			*e = fe;
			return st;
		}
		return recovery_page(r, id, yz_status_http(st),
		                     pki_page_refusal(r, key, n, NULL, "#recovery-status"), NULL,
		                     e);
	}
	store_conn *c;
	json_t *o = NULL;
	st = store_reader(app->db, &c, e);
	if (st == YZ_OK)
		st = kmc_recovery_get(c, id, &o, e);
	if (st != YZ_OK) {
		json_decref(out);
		return st;
	}
	json_t *names = json_object(), *cas = pki_ca_index();
	label_recovery(c, names, cas, o);
	json_decref(names);
	json_decref(cas);
	json_t *d = json_object();
	char file[128];
	snprintf(file, sizeof file, "SM2EnvelopedKey-%s-recovery-%lld.der",
	         jx_str(out, "serial", ""), (long long)id);
	envelope_data(d, out, file, "released");
	json_decref(out);
	json_object_set_new(d, "rec", o);
	return http_reply_page(r, 200, "pages/kmc_released", d, e);
}

static const http_route routes[] = {
    {HTTP_GET, "/pki/kmc", centre_get, "pki.kmc.manage", HTTP_SCOPE_NONE, HTTP_PAGE, 0,
     "The key management centre: data keys and the archive of encryption keys"},
    {HTTP_POST, "/pki/kmc/data-keys", data_key_post, "pki.kmc.manage", HTTP_SCOPE_NONE, HTTP_PAGE,
     4096, "Create a data key"},
    {HTTP_POST, "/pki/kmc/data-keys/{key}/rotate", data_key_rotate_post, "pki.kmc.manage",
     HTTP_SCOPE_NONE, HTTP_PAGE, 4096, "Rotate a data key"},
    {HTTP_GET, "/pki/kmc/enc-keys/new", issue_get, "pki.kmc.manage", HTTP_SCOPE_NONE, HTTP_PAGE, 0,
     "The form for an encryption key pair of a dual certificate"},
    {HTTP_POST, "/pki/kmc/enc-keys/new", issue_post, "pki.kmc.manage", HTTP_SCOPE_NONE, HTTP_PAGE,
     4096,
     "Issue an encryption key pair for the holder of a signing certificate: the certificate "
     "and the envelope, once"},
    {HTTP_GET, "/pki/kmc/recoveries", recoveries_page, "pki.read", HTTP_SCOPE_NONE, HTTP_PAGE, 0,
     "Key recovery requests"},
    {HTTP_GET, "/pki/kmc/recoveries/new", request_get, "pki.kmc.manage", HTTP_SCOPE_NONE, HTTP_PAGE,
     0, "The form for a key recovery request"},
    {HTTP_POST, "/pki/kmc/recoveries/new", request_post, "pki.kmc.manage", HTTP_SCOPE_NONE,
     HTTP_PAGE, 8192, "File a key recovery request"},
    {HTTP_GET, "/pki/kmc/recoveries/{id}", recovery_get, "pki.read", HTTP_SCOPE_NONE, HTTP_PAGE, 0,
     "A key recovery request with its approvals"},
    {HTTP_POST, "/pki/kmc/recoveries/{id}/approve", approve_post, "pki.kmc.approve",
     HTTP_SCOPE_NONE, HTTP_PAGE, 8192, "Approve a key recovery"},
    {HTTP_POST, "/pki/kmc/recoveries/{id}/refuse", refuse_post, "pki.kmc.approve", HTTP_SCOPE_NONE,
     HTTP_PAGE, 8192, "Refuse a key recovery"},
    {HTTP_POST, "/pki/kmc/recoveries/{id}/release", release_post, "pki.kmc.manage", HTTP_SCOPE_NONE,
     HTTP_PAGE, 4096,
     "Release the key of an approved recovery, once: the envelope to the recipient"},
};

static const http_nav nav[] = {
    {"workbench", "nav.kmc", "/pki/kmc", "pki.kmc.manage", 80},
    {"workbench", "nav.kmc_recoveries", "/pki/kmc/recoveries", "pki.kmc.approve", 81},
};

yz_status kmc_page_routes(yz_app *app, yz_err *e)
{
	yz_status st =
	    http_routes_add(app->http, routes, (int)(sizeof routes / sizeof routes[0]), e);
	if (st == YZ_OK)
		http_add_nav(app->http, nav, (int)(sizeof nav / sizeof nav[0]));
	return st;
}
