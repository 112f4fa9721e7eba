/*
 * seal_pages.c — the pages of electronic seals and signatures:
 *
 *   /seals       电子印章: the seal administrator's list of seals within scope and the
 *                form that makes one (department, name, width, the image), and
 *                revocation (pki.seal.manage)
 *   /seal        盖章: a staff member chooses a seal of their department and uploads a
 *                document; /seal/done/<id> confirms with the reference and the .ses to
 *                download (pki.seal.use)
 *   /verify      签章验证, public: a file and its .ses or .p7s → the verdict in Chinese
 *                (签章有效 / 文件已被篡改 / 签名无效, with the reason), who, which seal
 *                (its picture), when (the TSA's trusted time), the certificate then
 *
 * The same pki functions serve the JSON API (seal_api.c). Forms are
 * POST-redirect-GET except /verify, which changes nothing and shows its
 * result on the page it answers with.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/jx.h"
#include "core/slice.h"
#include "pki/pki_pages.h"
#include "pki/seal_http.h"

#define PAGE_UPLOAD ((size_t)PKI_SIGN_DOC_MAX + (2u << 20))

static yz_app *app_of(http_req *r)
{
	return http_app(r);
}

/* A data: URI split for the template (whose src values cannot start with
 * a scheme other than http(s)): picture_png/picture_jpeg and picture_b64. */
static void picture_parts(json_t *o)
{
	const char *uri = jx_str(o, "picture", NULL);
	static const char png[] = "data:image/png;base64,", jpeg[] = "data:image/jpeg;base64,";
	if (!uri)
		return;
	if (!strncmp(uri, png, sizeof png - 1)) {
		jx_set_bool(o, "picture_png", true);
		jx_set_str(o, "picture_b64", uri + sizeof png - 1);
	} else if (!strncmp(uri, jpeg, sizeof jpeg - 1)) {
		jx_set_bool(o, "picture_jpeg", true);
		jx_set_str(o, "picture_b64", uri + sizeof jpeg - 1);
	}
}

/* A validation error as page data (GOV.UK summary): labels from
 * seal.field.<name>, and our own messages seal.rule.<field>.<rule> or
 * seal.rule.<rule> where the general table has none that fits. */
static json_t *error_data(http_req *r, const yz_err *err)
{
	json_t *labels = json_object();
	int n = err->nfield < YZ_ERR_MAX_FIELDS ? err->nfield : YZ_ERR_MAX_FIELDS;
	for (int i = 0; i < n; i++) {
		char key[96];
		snprintf(key, sizeof key, "seal.field.%s", err->fields[i].field);
		const char *l = http_t(r, key);
		if (strcmp(l, key) != 0)
			jx_set_str(labels, err->fields[i].field, l);
	}
	json_t *d = http_error_data_with(r, err, NULL, labels);
	json_t *map = json_object();
	size_t i;
	json_t *x;
	json_array_foreach (json_object_get(d, "errors"), i, x) {
		if ((int)i >= n)
			break;
		const yz_field_err *f = &err->fields[i];
		const char *keys[2];
		char k1[128], k2[96];
		snprintf(k1, sizeof k1, "seal.rule.%s.%s", f->field, f->rule);
		snprintf(k2, sizeof k2, "seal.rule.%s", f->rule);
		keys[0] = k1;
		keys[1] = k2;
		for (int j = 0; j < 2; j++) {
			const char *tmpl = http_t(r, keys[j]);
			if (strcmp(tmpl, keys[j]) != 0) {
				char text[512];
				pki_page_fill(tmpl, jx_str(labels, f->field, f->field), NULL, text,
				              sizeof text);
				jx_set_str(x, "text", text);
				break;
			}
		}
		if (!json_object_get(map, f->field))
			jx_set_str(map, f->field, jx_str(x, "text", ""));
	}
	json_object_set_new(d, "error_map", map);
	json_decref(labels);
	return d;
}

static yz_status read_form(http_req *r, const form **f, yz_err *e)
{
	return http_form(r, f, e);
}

/* ---- 电子印章 ---- */

static json_t *org_options(store_conn *c, const yz_scope *scope, int64_t current)
{
	json_t *orgs = NULL, *out = json_array();
	yz_err e = {0};
	if (iam_org_list(c, scope, NULL, NULL, &orgs, &e) != YZ_OK)
		return out;
	size_t i;
	json_t *o;
	json_array_foreach (orgs, i, o) {
		const char *kind = jx_str(o, "kind", "");
		if (!strcmp(kind, "community"))
			continue;
		int64_t id = jx_int(o, "id", 0);
		/* the tree's depth as ideographic spaces, which HTML keeps */
		char label[400] = "";
		size_t k = 0;
		for (int d = (int)jx_int(o, "depth", 0); d > 0 && k + 4 < 40; d--)
			k += yz_strlcpy(label + k, "\u3000", sizeof label - k);
		yz_strlcpy(label + k, jx_str(o, "name", ""), sizeof label - k);
		json_array_append_new(out, json_pack("{s:I, s:s, s:b}", "value", (json_int_t)id,
		                                     "label", label, "selected", id == current));
	}
	json_decref(orgs);
	return out;
}

static yz_status seals_page(http_req *r, int status, json_t *values, const yz_err *err,
                            json_t *refusal, yz_err *e)
{
	const yz_scope *scope = &http_actor(r)->scope;
	store_conn *c;
	json_t *list = NULL;
	yz_status st = store_reader(app_of(r)->db, &c, e);
	if (st == YZ_OK)
		st = pki_seal_list(c, scope->all ? NULL : scope, NULL, &list, e);
	if (st != YZ_OK) {
		json_decref(values);
		json_decref(refusal);
		return st;
	}
	size_t i;
	json_t *x;
	json_array_foreach (json_object_get(list, "items"), i, x) {
		json_t *full = NULL;
		yz_err ge = {0};
		if (pki_seal_get(c, NULL, jx_int(x, "id", 0), true, &full, &ge) == YZ_OK) {
			jx_set_str(x, "picture", jx_str(full, "picture", NULL));
			json_decref(full);
		}
		picture_parts(x);
		jx_set_bool(x, "active", !strcmp(jx_str(x, "status", ""), "active"));
		jx_set_label(x, "status_label", "seal.status", "status", "active");
		pki_page_human_time(x, "valid_end");
		pki_page_human_time(x, "created_at");
	}
	json_t *d = json_object();
	json_object_set_new(d, "list", list);
	json_object_set_new(d, "org_options", org_options(c, scope, jx_int(values, "org_id", 0)));
	json_object_set_new(d, "values", values ? values : json_object());
	if (err)
		json_object_set_new(d, "error", error_data(r, err));
	if (refusal)
		json_object_set_new(d, "error", refusal);
	return http_reply_page(r, status, "pages/pki_seals", d, e);
}

static yz_status seals_get(http_req *r, yz_err *e)
{
	return seals_page(r, 200, NULL, NULL, NULL, e);
}

static yz_status seals_post(http_req *r, yz_err *e)
{
	yz_app *app = app_of(r);
	const form *f;
	yz_status st = read_form(r, &f, e);
	if (st != YZ_OK)
		return st;
	json_t *in = json_object(), *values = json_object();
	yz_err fe = {0};
	const char *ints[] = {"org_id", "width_mm"};
	for (int i = 0; i < 2; i++) {
		const char *s = form_get(f, ints[i]);
		int64_t v;
		if (s)
			jx_set_str(values, ints[i], s);
		if (!s || !*s)
			continue;
		if (slice_to_i64(slice_of(s), &v) != YZ_OK)
			yz_field(&fe, ints[i], "type", "a number", s);
		else
			jx_set_int(in, ints[i], v);
	}
	jx_set_int(values, "org_id", jx_int(in, "org_id", 0));
	const char *name = form_get(f, "name");
	if (name && *name)
		jx_set_str(in, "name", name);
	jx_set_str(values, "name", name ? name : "");
	const form_field *pic = form_get_field(f, "picture");
	json_t *out = NULL;
	if (!fe.nfield)
		st = pki_seal_create(app->db, app->cfg.data, http_actor(r), in,
		                     pic && pic->filename ? pic->value : NULL,
		                     pic && pic->filename ? pic->len : 0, &out, &fe);
	else
		st = YZ_EINVAL;
	json_decref(in);
	if (st == YZ_OK) {
		json_decref(values);
		json_decref(out);
		http_flash(r, "seal.flash.created");
		http_redirect(r, "/seals");
		return YZ_OK;
	}
	if (st != YZ_EINVAL || !fe.nfield) {
		json_decref(values);
		*e = fe;
		return st;
	}
	return seals_page(r, 400, values, &fe, NULL, e);
}

static yz_status seal_revoke_post(http_req *r, yz_err *e)
{
	int64_t id = 0;
	yz_status st = http_param_id(r, "id", &id, e);
	if (st != YZ_OK)
		return st;
	const form *f;
	if ((st = read_form(r, &f, e)) != YZ_OK)
		return st;
	yz_err fe = {0};
	st = pki_seal_revoke(app_of(r)->db, http_actor(r), id, -1, &fe);
	if (st == YZ_OK) {
		http_flash(r, "seal.flash.revoked");
		http_redirect(r, "/seals");
		return YZ_OK;
	}
	if (st == YZ_ECONFLICT)
		return seals_page(
		    r, 409, NULL, NULL,
		    pki_page_refusal(r, "seal.refused.revoked", NULL, fe.msg, "#seals"), e);
	*e = fe;
	return st;
}

/* ---- 盖章 ---- */

static yz_status apply_page(http_req *r, int status, int64_t chosen, const yz_err *err,
                            json_t *refusal, yz_err *e)
{
	const yz_scope *scope = &http_actor(r)->scope;
	store_conn *c;
	json_t *list = NULL, *f = json_pack("{s:s}", "status", "active");
	yz_status st = store_reader(app_of(r)->db, &c, e);
	if (st == YZ_OK)
		st = pki_seal_list(c, scope->all ? NULL : scope, f, &list, e);
	json_decref(f);
	if (st != YZ_OK) {
		json_decref(refusal);
		return st;
	}
	size_t i;
	json_t *x;
	json_t *items = json_object_get(list, "items");
	json_array_foreach (items, i, x) {
		json_t *full = NULL;
		yz_err ge = {0};
		if (pki_seal_get(c, NULL, jx_int(x, "id", 0), true, &full, &ge) == YZ_OK) {
			jx_set_str(x, "picture", jx_str(full, "picture", NULL));
			json_decref(full);
		}
		picture_parts(x);
		jx_set_bool(x, "checked",
		            chosen ? jx_int(x, "id", 0) == chosen : json_array_size(items) == 1);
		pki_page_human_time(x, "valid_end");
	}
	json_t *d = json_object();
	json_object_set_new(d, "list", list);
	if (err)
		json_object_set_new(d, "error", error_data(r, err));
	if (refusal)
		json_object_set_new(d, "error", refusal);
	return http_reply_page(r, status, "pages/pki_seal_apply", d, e);
}

static yz_status apply_get(http_req *r, yz_err *e)
{
	return apply_page(r, 200, 0, NULL, NULL, e);
}

static yz_status apply_post(http_req *r, yz_err *e)
{
	yz_app *app = app_of(r);
	const form *f;
	yz_status st = read_form(r, &f, e);
	if (st != YZ_OK)
		return st;
	yz_err fe = {0};
	int64_t seal = 0;
	const char *s = form_get(f, "seal_id");
	if (!s || !*s || slice_to_i64(slice_of(s), &seal) != YZ_OK || seal <= 0)
		yz_field(&fe, "seal_id", "required", "a seal", NULL);
	const form_field *file = form_get_field(f, "file");
	if (!file || !file->filename || !file->filename[0])
		yz_field(&fe, "file", "required", "the document", NULL);
	if (fe.nfield)
		return apply_page(r, 400, seal, &fe, NULL, e);
	pki_seal_apply_in in = {.seal_id = seal,
	                        .data = file->value ? file->value : "",
	                        .n = file->len,
	                        .file_name = pki_seal_file_name(r, file->filename)};
	buf ses;
	buf_init(&ses, 4u << 20);
	json_t *out = NULL;
	st = pki_seal_apply(app->db, app->cfg.data, http_actor(r), &in, &ses, &out, &fe);
	buf_free(&ses);
	if (st == YZ_OK) {
		char url[64];
		snprintf(url, sizeof url, "/seal/done/%lld", (long long)jx_int(out, "id", 0));
		json_decref(out);
		http_flash(r, "seal.flash.applied");
		http_redirect(r, url);
		return YZ_OK;
	}
	if (st == YZ_EINVAL && fe.nfield)
		return apply_page(r, 400, seal, &fe, NULL, e);
	if (st == YZ_ECONFLICT)
		return apply_page(
		    r, 409, seal, NULL,
		    pki_page_refusal(r, "seal.refused.unusable", NULL, fe.msg, "#f-seal_id"), e);
	*e = fe;
	return st;
}

static yz_status done_get(http_req *r, yz_err *e)
{
	int64_t id = 0;
	yz_status st = http_param_id(r, "id", &id, e);
	if (st != YZ_OK)
		return st;
	const yz_scope *scope = &http_actor(r)->scope;
	store_conn *c;
	json_t *sig = NULL;
	st = store_reader(app_of(r)->db, &c, e);
	if (st == YZ_OK)
		st = pki_signature_get(c, http_actor(r), scope->all ? NULL : scope, id, &sig, NULL,
		                       e);
	if (st != YZ_OK)
		return st;
	pki_page_human_time(sig, "signed_at");
	char name[300];
	snprintf(name, sizeof name, "%s.ses", jx_str(sig, "file_name", "document"));
	jx_set_str(sig, "ses_name", name);
	json_t *d = json_pack("{s:o}", "sig", sig);
	return http_reply_page(r, 200, "pages/pki_seal_done", d, e);
}

/* ---- 签章验证 ---- */

/* The verifier's answer as the page shows it. */
static json_t *result_view(json_t *info)
{
	const char *verdict = jx_str(info, "verdict", "invalid");
	char key[96];
	snprintf(key, sizeof key, "verify.verdict.%s", verdict);
	jx_set_str(info, "heading", key);
	jx_set_bool(info, "is_valid", !strcmp(verdict, "valid"));
	jx_set_bool(info, "is_tampered", !strcmp(verdict, "tampered"));
	jx_set_bool(info, "is_seal", !strcmp(jx_str(info, "kind", ""), "seal"));
	if (json_object_get(info, "failed_check")) {
		snprintf(key, sizeof key, "verify.check.%s", jx_str(info, "failed_check", ""));
		jx_set_str(info, "check_label", key);
	}
	pki_page_human_time(info, "time");
	pki_page_human_time(info, "signed_at");
	json_t *seal = json_object_get(info, "seal");
	if (seal) {
		picture_parts(seal);
		pki_page_human_time(seal, "valid_start");
		pki_page_human_time(seal, "valid_end");
	}
	json_t *ts = json_object_get(info, "timestamp");
	if (json_is_object(ts))
		pki_page_human_time(ts, "gen_time");
	json_t *cert = json_object_get(info, "certificate");
	if (cert) {
		jx_set_label(cert, "then_label", "verify.status", "at_signing", "unknown");
		jx_set_label(cert, "now_label", "verify.status", "status", "unknown");
		if (json_object_get(cert, "reason"))
			jx_set_label(cert, "reason_label", "pki.reason", "reason", "unspecified");
		pki_page_human_time(cert, "revoked_at");
		pki_page_human_time(cert, "not_before");
		pki_page_human_time(cert, "not_after");
	}
	json_t *signer = json_object_get(info, "signer");
	if (signer && !jx_str(signer, "display", NULL))
		jx_set_str(
		    signer, "display",
		    jx_str(signer, "department", jx_str(signer, "o", jx_str(signer, "cn", ""))));
	return info;
}

static yz_status verify_page(http_req *r, int status, json_t *result, const yz_err *err, yz_err *e)
{
	json_t *d = json_object();
	if (result)
		json_object_set_new(d, "result", result_view(result));
	if (err)
		json_object_set_new(d, "error", error_data(r, err));
	return http_reply_page(r, status, "pages/pki_verify", d, e);
}

static yz_status verify_get(http_req *r, yz_err *e)
{
	return verify_page(r, 200, NULL, NULL, e);
}

static yz_status verify_post(http_req *r, yz_err *e)
{
	const form *f;
	yz_status st = read_form(r, &f, e);
	if (st != YZ_OK)
		return st;
	yz_err fe = {0};
	const form_field *file = form_get_field(f, "file");
	const form_field *sig = form_get_field(f, "signature");
	if (!file || !file->filename || !file->filename[0])
		yz_field(&fe, "file", "required", "the signed document", NULL);
	if (!sig || !sig->filename || !sig->filename[0] || !sig->len)
		yz_field(&fe, "signature", "required", "its .ses or .p7s", NULL);
	if (!fe.nfield && file->len > PKI_SIGN_DOC_MAX)
		yz_field(&fe, "file", "max_size", "at most 30 MiB", NULL);
	if (fe.nfield)
		return verify_page(r, 400, NULL, &fe, e);
	json_t *info = NULL;
	st = pki_verify_file(app_of(r)->db, sig->value, sig->len, file->value ? file->value : "",
	                     file->len, &info, &fe);
	if (st == YZ_EINVAL || st == YZ_ETOOBIG) {
		if (!fe.nfield)
			yz_field(&fe, "signature", "der", "a seal or a signature", NULL);
		return verify_page(r, 400, NULL, &fe, e);
	}
	if (st != YZ_OK) {
		*e = fe;
		return st;
	}
	jx_set_str(json_object_get(info, "document"), "uploaded_name",
	           pki_seal_file_name(r, file->filename));
	http_set_header(r, "Cache-Control", "no-store");
	return verify_page(r, 200, info, NULL, e);
}

static const http_route routes[] = {
    {HTTP_GET, "/seals", seals_get, "pki.seal.manage", HTTP_SCOPE_ORG, HTTP_PAGE, 0,
     "电子印章: the seals within scope and the form that makes one"},
    {HTTP_POST, "/seals", seals_post, "pki.seal.manage", HTTP_SCOPE_ORG, HTTP_PAGE, 1u << 20,
     "Make a department's seal from an image"},
    {HTTP_POST, "/seals/{id}/revoke", seal_revoke_post, "pki.seal.manage", HTTP_SCOPE_ORG,
     HTTP_PAGE, 4096, "Revoke a seal"},
    {HTTP_GET, "/seal", apply_get, "pki.seal.use", HTTP_SCOPE_ORG, HTTP_PAGE, 0,
     "盖章: choose a seal of one's department and a document"},
    {HTTP_POST, "/seal", apply_post, "pki.seal.use", HTTP_SCOPE_ORG, HTTP_PAGE, PAGE_UPLOAD,
     "Apply a seal to a document"},
    {HTTP_GET, "/seal/done/{id}", done_get, "pki.seal.use", HTTP_SCOPE_ORG, HTTP_PAGE, 0,
     "The seal applied: its reference and the .ses to download"},
    {HTTP_GET, "/verify", verify_get, HTTP_PUBLIC, HTTP_SCOPE_NONE, HTTP_PAGE, 0,
     "签章验证: verify a seal or a signature over a file"},
    {HTTP_POST, "/verify", verify_post, HTTP_PUBLIC, HTTP_SCOPE_NONE, HTTP_PAGE, PAGE_UPLOAD,
     "The verdict on a file and its seal or signature"},
};

static const http_nav nav[] = {
    {"workbench", "seal.nav.seals", "/seals", "pki.seal.manage", 80},
    {"workbench", "seal.nav.apply", "/seal", "pki.seal.use", 81},
};

yz_status pki_seal_page_routes(yz_app *app, yz_err *e)
{
	yz_status st =
	    http_routes_add(app->http, routes, (int)(sizeof routes / sizeof routes[0]), e);
	if (st == YZ_OK)
		http_add_nav(app->http, nav, (int)(sizeof nav / sizeof nav[0]));
	return st;
}
