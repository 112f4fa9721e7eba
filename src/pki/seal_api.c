/*
 * seal_api.c — signatures and electronic seals over HTTP (pki_sign.h):
 *
 *   POST /api/v1/pki/seals              make a seal (pki.seal.manage): multipart
 *                                       {org_id, name, width_mm?, picture (file)} or JSON
 *                                       with the picture in base64
 *   GET  /api/v1/pki/seals[/{id}]       the seals where one may make or apply them
 *   POST /api/v1/pki/seals/{id}/revoke  revoke a seal and its certificate (pki.seal.manage)
 *   POST /api/v1/pki/seals/{id}/apply   apply it (pki.seal.use): multipart {file} or JSON
 *                                       {sm3, file_name}; the SES_Signature comes back (DER)
 *   POST /api/v1/pki/signers            an application's signing key (pki.seal.manage)
 *   GET  /api/v1/pki/signers            the application signers one may use or manage
 *   POST /api/v1/pki/sign               a detached CMS signature (pki.seal.use): multipart
 *                                       {signer_id | seal_id, file} or JSON {signer_id |
 *                                       seal_id, sm3 | sha256, file_name}
 *   GET  /api/v1/pki/signatures/{file}  one made here: <id> (JSON), <id>.ses / <id>.p7s
 *   POST /api/v1/verify                 public: multipart {file, signature} (or JSON in
 *                                       base64) → who signed, when, the certificate then
 *
 * Signing with a seal's key or an application's needs pki.seal.use within
 * its department: the same right as applying the seal, since either speaks
 * for the department.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/b64.h"
#include "core/jx.h"
#include "core/slice.h"
#include "pki/seal_http.h"

#define UPLOAD_MAX ((size_t)PKI_SIGN_DOC_MAX + (2u << 20))

static yz_app *app_of(http_req *r)
{
	return http_app(r);
}

bool pki_seal_scope(http_req *r, yz_scope *out, bool *all)
{
	yz_scope a = {0}, b = {0};
	bool ha = http_scope_for(r, "pki.seal.manage", &a);
	bool hb = http_scope_for(r, "pki.seal.use", &b);
	*all = (ha && a.all) || (hb && b.all);
	if (!ha && !hb)
		return false;
	if (*all)
		return true;
	int n = (ha ? a.n : 0) + (hb ? b.n : 0);
	int64_t *orgs = arena_alloc(http_arena(r), sizeof *orgs * (size_t)(n ? n : 1));
	const char **paths = arena_alloc(http_arena(r), sizeof *paths * (size_t)(n ? n : 1));
	if (!orgs || !paths)
		return false;
	int k = 0;
	for (int i = 0; ha && i < a.n; i++, k++) {
		orgs[k] = a.orgs[i];
		paths[k] = a.paths[i];
	}
	for (int i = 0; hb && i < b.n; i++, k++) {
		orgs[k] = b.orgs[i];
		paths[k] = b.paths[i];
	}
	*out = (yz_scope){.all = false, .n = k, .orgs = orgs, .paths = paths};
	return true;
}

bool pki_seal_unhex(const char *s, unsigned char *out, size_t n)
{
	if (!s || strlen(s) != 2 * n)
		return false;
	for (size_t i = 0; i < n; i++) {
		int v = 0;
		for (int j = 0; j < 2; j++) {
			char c = s[2 * i + (size_t)j];
			int d = c >= '0' && c <= '9'   ? c - '0'
			        : c >= 'a' && c <= 'f' ? c - 'a' + 10
			        : c >= 'A' && c <= 'F' ? c - 'A' + 10
			                               : -1;
			if (d < 0)
				return false;
			v = v * 16 + d;
		}
		out[i] = (unsigned char)v;
	}
	return true;
}

const char *pki_seal_file_name(http_req *r, const char *name)
{
	if (!name)
		return "document";
	const char *base = name;
	for (const char *p = name; *p; p++)
		if (*p == '/' || *p == '\\')
			base = p + 1;
	size_t bytes = 0, chars = 0;
	while (base[bytes] && chars < 200) {
		unsigned char c = (unsigned char)base[bytes];
		size_t len = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
		bytes += len;
		chars++;
	}
	if (!bytes)
		return "document";
	char *out = arena_alloc(http_arena(r), bytes + 1);
	if (!out)
		return "document";
	memcpy(out, base, bytes);
	out[bytes] = '\0';
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == '"')
			*p = '_';
	return out;
}

static bool is_multipart(http_req *r)
{
	const char *ct = http_header(r, "Content-Type");
	return ct && !strncasecmp(ct, "multipart/form-data", 19);
}

static yz_status id_param(http_req *r, int64_t *id, yz_err *e)
{
	const char *s = http_param(r, "id");
	if (!s || slice_to_i64(slice_of(s), id) != YZ_OK || *id <= 0)
		return yz_fail(e, YZ_ENOTFOUND, "no such seal");
	return YZ_OK;
}

/* A form's number field into in (a field error when it is not one). */
static void form_int(const form *f, const char *name, json_t *in, yz_err *e)
{
	const char *s = form_get(f, name);
	int64_t v;
	if (!s || !*s)
		return;
	if (slice_to_i64(slice_of(s), &v) != YZ_OK)
		yz_field(e, name, "integer", "a number", s);
	else
		jx_set_int(in, name, v);
}

/* base64 text into the arena. */
static bool unbase64(http_req *r, const char *s, const unsigned char **out, size_t *n)
{
	size_t len = s ? strlen(s) : 0;
	unsigned char *p = arena_alloc(http_arena(r), len + 4);
	if (!p || b64_decode(s ? s : "", len, false, p, len + 4, n) != YZ_OK)
		return false;
	*out = p;
	return true;
}

/* "Content-Disposition: attachment" with an ASCII fallback name and the
 * UTF-8 one (RFC 6266 / 5987). */
static void attachment(http_req *r, const char *name, const char *ext)
{
	char *enc = form_percent_encode(http_arena(r), name, strlen(name));
	char cd[1400];
	snprintf(cd, sizeof cd, "attachment; filename=\"signature%s\"; filename*=UTF-8''%s%s", ext,
	         enc ? enc : "signature", ext);
	http_set_header(r, "Content-Disposition", cd);
}

/* ---- seals ---- */

static yz_status seals_create(http_req *r, yz_err *e)
{
	yz_app *app = app_of(r);
	json_t *in = NULL;
	const unsigned char *pic = NULL;
	size_t pn = 0;
	yz_status st;
	if (is_multipart(r)) {
		const form *f;
		if ((st = http_form(r, &f, e)) != YZ_OK)
			return st;
		in = json_object();
		form_int(f, "org_id", in, e);
		form_int(f, "width_mm", in, e);
		if (form_get(f, "name"))
			jx_set_str(in, "name", form_get(f, "name"));
		const form_field *file = form_get_field(f, "picture");
		if (file && file->filename) {
			pic = (const unsigned char *)file->value;
			pn = file->len;
		}
	} else {
		if ((st = http_json(r, &in, e)) != YZ_OK)
			return st;
		const char *b64 = jx_str(in, "picture", NULL);
		if (b64 && !unbase64(r, b64, &pic, &pn))
			yz_field(e, "picture", "base64", "the image in base64", NULL);
		json_object_del(in, "picture");
	}
	json_t *out = NULL;
	st = e->nfield
	         ? YZ_EINVAL
	         : pki_seal_create(app->db, app->cfg.data, http_actor(r), in, pic, pn, &out, e);
	json_decref(in);
	if (st != YZ_OK)
		return st;
	char loc[96];
	snprintf(loc, sizeof loc, "/api/v1/pki/seals/%lld", (long long)jx_int(out, "id", 0));
	http_set_header(r, "Location", loc);
	http_reply_json(r, 201, out);
	return YZ_OK;
}

static yz_status seals_list(http_req *r, yz_err *e)
{
	yz_scope scope;
	bool all = false;
	if (!pki_seal_scope(r, &scope, &all))
		return yz_fail(e, YZ_EFORBIDDEN,
		               "seals are for holders of pki.seal.manage or "
		               "pki.seal.use");
	json_t *f = json_object();
	if (http_query(r, "status"))
		jx_set_str(f, "status", http_query(r, "status"));
	int64_t org;
	const char *o = http_query(r, "org_id");
	if (o && slice_to_i64(slice_of(o), &org) == YZ_OK)
		jx_set_int(f, "org_id", org);
	store_conn *c;
	json_t *out = NULL;
	yz_status st = store_reader(app_of(r)->db, &c, e);
	if (st == YZ_OK)
		st = pki_seal_list(c, all ? NULL : &scope, f, &out, e);
	json_decref(f);
	if (st == YZ_OK)
		http_reply_json(r, 200, out);
	return st;
}

static yz_status seals_get(http_req *r, yz_err *e)
{
	yz_scope scope;
	bool all = false;
	int64_t id;
	yz_status st = id_param(r, &id, e);
	if (st != YZ_OK)
		return st;
	if (!pki_seal_scope(r, &scope, &all))
		return yz_fail(e, YZ_ENOTFOUND, "no seal %lld within your scope", (long long)id);
	store_conn *c;
	json_t *out = NULL;
	st = store_reader(app_of(r)->db, &c, e);
	if (st == YZ_OK)
		st = pki_seal_get(c, all ? NULL : &scope, id, true, &out, e);
	if (st == YZ_OK)
		http_reply_json(r, 200, out);
	return st;
}

static yz_status seals_revoke(http_req *r, yz_err *e)
{
	int64_t id;
	yz_status st = id_param(r, &id, e);
	if (st != YZ_OK)
		return st;
	int reason = -1;
	size_t bn = 0;
	http_body(r, &bn);
	if (bn) {
		json_t *in;
		if ((st = http_json(r, &in, e)) != YZ_OK)
			return st;
		const char *rn = jx_str(in, "reason", NULL);
		if (rn && (reason = pki_reason_parse(rn)) < 0)
			st = yz_field(e, "reason", "enum",
			              "keyCompromise, affiliationChanged, superseded, "
			              "cessationOfOperation or privilegeWithdrawn",
			              rn);
		json_decref(in);
		if (st != YZ_OK)
			return st;
	}
	if ((st = pki_seal_revoke(app_of(r)->db, http_actor(r), id, reason, e)) != YZ_OK)
		return st;
	store_conn *c;
	json_t *out = NULL;
	st = store_reader(app_of(r)->db, &c, e);
	if (st == YZ_OK)
		st = pki_seal_get(c, NULL, id, false, &out, e);
	if (st == YZ_OK)
		http_reply_json(r, 200, out);
	return st;
}

/* The document of a signing request: a multipart file, or {<alg>: hex,
 * file_name} in JSON; in->data/hash point into the request. */
typedef struct doc_in {
	const void *data;
	size_t n;
	unsigned char hash[32];
	const char *hash_alg;
	const char *file_name;
	int64_t seal_id, signer_id;
} doc_in;

static yz_status doc_of(http_req *r, doc_in *d, yz_err *e)
{
	memset(d, 0, sizeof *d);
	yz_status st;
	if (is_multipart(r)) {
		const form *f;
		if ((st = http_form(r, &f, e)) != YZ_OK)
			return st;
		const form_field *file = form_get_field(f, "file");
		if (!file || !file->filename)
			return yz_field(e, "file", "required", "the document to sign", NULL);
		d->data = file->value ? file->value : "";
		d->n = file->len;
		d->file_name = pki_seal_file_name(r, file->filename);
		const char *ids[2] = {"seal_id", "signer_id"};
		int64_t *dst[2] = {&d->seal_id, &d->signer_id};
		for (int i = 0; i < 2; i++) {
			const char *s = form_get(f, ids[i]);
			if (s && *s && slice_to_i64(slice_of(s), dst[i]) != YZ_OK)
				yz_field(e, ids[i], "integer", "a number", s);
		}
		return e->nfield ? YZ_EINVAL : YZ_OK;
	}
	json_t *in;
	if ((st = http_json(r, &in, e)) != YZ_OK)
		return st;
	static const jx_field fields[] = {{"sm3", JX_STRING, false, 64, 64, NULL},
	                                  {"sha256", JX_STRING, false, 64, 64, NULL},
	                                  {"file_name", JX_STRING, false, 0, 200, NULL},
	                                  {"seal_id", JX_INT, false, 1, 0, NULL},
	                                  {"signer_id", JX_INT, false, 1, 0, NULL},
	                                  {NULL, 0, false, 0, 0, NULL}};
	st = jx_validate(in, fields, e);
	const char *alg = json_object_get(in, "sm3") ? "sm3" : "sha256";
	if (st == YZ_OK && !json_object_get(in, "sm3") == !json_object_get(in, "sha256"))
		st = yz_field(e, "sm3", "one-of",
		              "exactly one of sm3 and sha256 (the document's hash)", NULL);
	if (st == YZ_OK && !pki_seal_unhex(jx_str(in, alg, ""), d->hash, sizeof d->hash))
		st = yz_field(e, alg, "hex", "64 hexadecimal digits", jx_str(in, alg, ""));
	if (st == YZ_OK) {
		d->hash_alg = alg;
		d->file_name = pki_seal_file_name(r, jx_str(in, "file_name", NULL));
		d->seal_id = jx_int(in, "seal_id", 0);
		d->signer_id = jx_int(in, "signer_id", 0);
	}
	json_decref(in);
	return st;
}

static yz_status seals_apply(http_req *r, yz_err *e)
{
	yz_app *app = app_of(r);
	int64_t id;
	doc_in d;
	yz_status st = id_param(r, &id, e);
	if (st == YZ_OK)
		st = doc_of(r, &d, e);
	if (st == YZ_OK && d.hash_alg && strcmp(d.hash_alg, "sm3"))
		st = yz_field(e, "sm3", "required", "the document's SM3 hash: seals take SM3 only",
		              NULL);
	if (st != YZ_OK)
		return st;
	pki_seal_apply_in in = {.seal_id = id,
	                        .data = d.data,
	                        .n = d.n,
	                        .sm3 = d.data ? NULL : d.hash,
	                        .file_name = d.file_name};
	buf ses;
	buf_init(&ses, 4u << 20);
	json_t *out = NULL;
	st = pki_seal_apply(app->db, app->cfg.data, http_actor(r), &in, &ses, &out, e);
	if (st == YZ_OK) {
		char v[64];
		snprintf(v, sizeof v, "%lld", (long long)jx_int(out, "id", 0));
		http_set_header(r, "X-Signature-Id", v);
		http_set_header(r, "Location", jx_str(out, "download", ""));
		attachment(r, d.file_name, ".ses");
		http_reply_text(r, 201, "application/octet-stream", ses.p, ses.len);
	}
	json_decref(out);
	buf_free(&ses);
	return st;
}

/* ---- application signers and detached signatures ---- */

static yz_status signers_create(http_req *r, yz_err *e)
{
	yz_app *app = app_of(r);
	json_t *in, *out = NULL;
	yz_status st = http_json(r, &in, e);
	if (st != YZ_OK)
		return st;
	st = pki_signer_create(app->db, app->cfg.data, http_actor(r), in, &out, e);
	json_decref(in);
	if (st == YZ_OK)
		http_reply_json(r, 201, out);
	return st;
}

static yz_status signers_list(http_req *r, yz_err *e)
{
	yz_scope scope;
	bool all = false;
	if (!pki_seal_scope(r, &scope, &all))
		return yz_fail(e, YZ_EFORBIDDEN,
		               "signers are for holders of pki.seal.manage or "
		               "pki.seal.use");
	store_conn *c;
	json_t *out = NULL;
	yz_status st = store_reader(app_of(r)->db, &c, e);
	if (st == YZ_OK)
		st = pki_signer_list(c, all ? NULL : &scope, &out, e);
	if (st == YZ_OK)
		http_reply_json(r, 200, out);
	return st;
}

static yz_status sign_post(http_req *r, yz_err *e)
{
	yz_app *app = app_of(r);
	doc_in d;
	yz_status st = doc_of(r, &d, e);
	if (st != YZ_OK)
		return st;
	pki_sign_req req = {.signer_id = d.signer_id,
	                    .seal_id = d.seal_id,
	                    .data = d.data,
	                    .n = d.n,
	                    .hash = d.data ? NULL : d.hash,
	                    .hash_len = sizeof d.hash,
	                    .hash_alg = d.hash_alg,
	                    .file_name = d.file_name};
	buf cms;
	buf_init(&cms, 4u << 20);
	json_t *out = NULL;
	st = pki_sign_detached(app->db, app->cfg.data, http_actor(r), &req, &cms, &out, e);
	if (st == YZ_OK) {
		char v[64], loc[96];
		snprintf(v, sizeof v, "%lld", (long long)jx_int(out, "id", 0));
		snprintf(loc, sizeof loc, "/api/v1/pki/signatures/%s.p7s", v);
		http_set_header(r, "X-Signature-Id", v);
		http_set_header(r, "Location", loc);
		attachment(r, d.file_name, ".p7s");
		http_reply_text(r, 201, "application/pkcs7-signature", cms.p, cms.len);
	}
	json_decref(out);
	buf_free(&cms);
	return st;
}

/* One signature made here: JSON, or its DER for <id>.ses / <id>.p7s. The
 * one who made it may read it, and holders of pki.seal.use within its
 * department. */
static yz_status signature_get(http_req *r, yz_err *e)
{
	const char *file = http_param(r, "file");
	size_t n = strlen(file);
	bool der = n > 4 && (!strcmp(file + n - 4, ".ses") || !strcmp(file + n - 4, ".p7s"));
	char idtext[32];
	snprintf(idtext, sizeof idtext, "%.*s", (int)(der ? n - 4 : n), file);
	int64_t id = 0;
	if (slice_to_i64(slice_of(idtext), &id) != YZ_OK || id <= 0)
		return yz_fail(e, YZ_ENOTFOUND, "no such signature");
	yz_scope scope, none = {0};
	bool has = http_scope_for(r, "pki.seal.use", &scope);
	/* without the permission, only one's own */
	const yz_scope *sc = has ? (scope.all ? NULL : &scope) : &none;
	store_conn *c;
	json_t *out = NULL;
	buf b;
	buf_init(&b, 4u << 20);
	yz_status st = store_reader(app_of(r)->db, &c, e);
	if (st == YZ_OK)
		st = pki_signature_get(c, http_actor(r), sc, id, &out, der ? &b : NULL, e);
	if (st == YZ_OK && der) {
		bool seal = !strcmp(jx_str(out, "kind", ""), "seal");
		if (strcmp(file + n - 4, seal ? ".ses" : ".p7s")) {
			st = yz_fail(e, YZ_ENOTFOUND, "signature %lld is a %s", (long long)id,
			             seal ? ".ses" : ".p7s");
		} else {
			attachment(r, jx_str(out, "file_name", "document"), seal ? ".ses" : ".p7s");
			http_reply_text(r, 200,
			                seal ? "application/octet-stream"
			                     : "application/pkcs7-signature",
			                b.p, b.len);
		}
	} else if (st == YZ_OK) {
		http_reply_json(r, 200, out);
		out = NULL;
	}
	json_decref(out);
	buf_free(&b);
	return st;
}

/* ---- the public verifier ---- */

static yz_status verify_post(http_req *r, yz_err *e)
{
	const void *data = NULL, *sig = NULL;
	size_t dn = 0, sn = 0;
	const char *file_name = NULL;
	yz_status st;
	json_t *in = NULL;
	if (is_multipart(r)) {
		const form *f;
		if ((st = http_form(r, &f, e)) != YZ_OK)
			return st;
		const form_field *file = form_get_field(f, "file");
		const form_field *s = form_get_field(f, "signature");
		if (!file || !file->filename)
			yz_field(e, "file", "required", "the signed document", NULL);
		if (!s || !s->filename || !s->len)
			yz_field(e, "signature", "required", "its seal (.ses) or signature (.p7s)",
			         NULL);
		if (e->nfield)
			return YZ_EINVAL;
		data = file->value ? file->value : "";
		dn = file->len;
		file_name = pki_seal_file_name(r, file->filename);
		sig = s->value;
		sn = s->len;
	} else {
		if ((st = http_json(r, &in, e)) != YZ_OK)
			return st;
		const unsigned char *p = NULL;
		if (!unbase64(r, jx_str(in, "file", NULL), &p, &dn))
			yz_field(e, "file", "base64", "the signed document in base64", NULL);
		data = p;
		if (!unbase64(r, jx_str(in, "signature", NULL), &p, &sn) || !sn)
			yz_field(e, "signature", "base64", "the seal or signature in base64", NULL);
		sig = p;
		json_decref(in);
		if (e->nfield)
			return YZ_EINVAL;
	}
	if (dn > PKI_SIGN_DOC_MAX)
		return yz_fail(e, YZ_ETOOBIG, "file: at most %d bytes", PKI_SIGN_DOC_MAX);
	json_t *out = NULL;
	st = pki_verify_file(app_of(r)->db, sig, sn, data, dn, &out, e);
	if (st != YZ_OK)
		return st;
	if (file_name)
		jx_set_str(json_object_get(out, "document"), "uploaded_name", file_name);
	http_set_header(r, "Cache-Control", "no-store");
	http_reply_json(r, 200, out);
	return YZ_OK;
}

static const http_route routes[] = {
    {HTTP_POST, "/api/v1/pki/seals", seals_create, "pki.seal.manage", HTTP_SCOPE_ORG, 0, 1u << 20,
     "Make a department's electronic seal (GB/T 38540): multipart {org_id, name, width_mm, "
     "picture} or JSON with the picture in base64"},
    {HTTP_GET, "/api/v1/pki/seals", seals_list, HTTP_SIGNED_IN, HTTP_SCOPE_NONE, 0, 0,
     "The seals within the caller's scope of pki.seal.manage or pki.seal.use (status, org_id)"},
    {HTTP_GET, "/api/v1/pki/seals/{id}", seals_get, HTTP_SIGNED_IN, HTTP_SCOPE_NONE, 0, 0,
     "One seal, with its picture as a data: URI"},
    {HTTP_POST, "/api/v1/pki/seals/{id}/revoke", seals_revoke, "pki.seal.manage", HTTP_SCOPE_ORG, 0,
     4096, "Revoke a seal ({reason}); its certificate is revoked too"},
    {HTTP_POST, "/api/v1/pki/seals/{id}/apply", seals_apply, "pki.seal.use", HTTP_SCOPE_ORG, 0,
     UPLOAD_MAX,
     "Apply a seal: multipart {file} or JSON {sm3, file_name}; answers the SES_Signature (DER)"},
    {HTTP_POST, "/api/v1/pki/signers", signers_create, "pki.seal.manage", HTTP_SCOPE_ORG, 0, 4096,
     "Make an application's signing key and certificate ({org_id, name, alg})"},
    {HTTP_GET, "/api/v1/pki/signers", signers_list, HTTP_SIGNED_IN, HTTP_SCOPE_NONE, 0, 0,
     "The application signers within the caller's scope"},
    {HTTP_POST, "/api/v1/pki/sign", sign_post, "pki.seal.use", HTTP_SCOPE_ORG, 0, UPLOAD_MAX,
     "A detached CMS signature by an application's or a seal's key: multipart {signer_id | "
     "seal_id, file} or JSON {signer_id | seal_id, sm3 | sha256, file_name}"},
    {HTTP_GET, "/api/v1/pki/signatures/{file}", signature_get, HTTP_SIGNED_IN, HTTP_SCOPE_NONE, 0,
     0, "A signature made here: <id> as JSON, <id>.ses or <id>.p7s as DER"},
    {HTTP_POST, "/api/v1/verify", verify_post, HTTP_PUBLIC, HTTP_SCOPE_NONE,
     HTTP_API | HTTP_NO_CSRF, UPLOAD_MAX,
     "Verify a seal (.ses) or a detached signature (.p7s) over a file: multipart {file, "
     "signature}; who signed, when, the certificate's status then"},
};

yz_status pki_seal_api_routes(yz_app *app, yz_err *e)
{
	return http_routes_add(app->http, routes, (int)(sizeof routes / sizeof routes[0]), e);
}
