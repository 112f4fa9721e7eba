/*
 * api.c — the PKI over HTTP: the standard places (CA certificates and their
 * index at /pki/ca/, CRLs at /pki/crl/<ca>.crl, OCSP at /pki/ocsp by POST
 * and by GET) and the JSON API for profiles, issuance, revocation and
 * look-ups.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "core/b64.h"
#include "core/jx.h"
#include "core/log.h"
#include "core/slice.h"
#include "pki/pki_int.h"

/* "<name>.<ext>" → name (in the arena) when ext matches. */
static const char *strip_ext(http_req *r, const char *file, const char *ext)
{
	size_t n = strlen(file), m = strlen(ext);
	if (n <= m || strcmp(file + n - m, ext) != 0)
		return NULL;
	char *name = arena_alloc(http_arena(r), n - m + 1);
	if (!name)
		return NULL;
	memcpy(name, file, n - m);
	name[n - m] = '\0';
	return name;
}

static yz_status ca_index(http_req *r, yz_err *e)
{
	(void)e;
	http_set_header(r, "Cache-Control", "max-age=300");
	http_reply_json(r, 200, json_pack("{s:o}", "cas", pki_ca_index()));
	return YZ_OK;
}

static yz_status ca_file(http_req *r, yz_err *e)
{
	const char *file = http_param(r, "file");
	const char *name = strip_ext(r, file, ".crt");
	bool pem = false;
	if (!name && (name = strip_ext(r, file, ".pem")))
		pem = true;
	if (!name)
		return yz_fail(e, YZ_ENOTFOUND, "CA certificates are at /pki/ca/<name>.crt");
	buf b;
	buf_init(&b, 1 << 20);
	yz_status st = pki_ca_cert(name, &b, e);
	if (st == YZ_OK && pem) {
		buf p;
		buf_init(&p, 2 << 20);
		st = pki_pem(b.p, b.len, "CERTIFICATE", &p);
		if (st == YZ_OK)
			http_reply_text(r, 200, "application/x-pem-file", p.p, p.len);
		else
			yz_fail(e, st, "cannot encode the certificate");
		buf_free(&p);
	} else if (st == YZ_OK) {
		http_set_header(r, "Cache-Control", "max-age=3600");
		http_reply_text(r, 200, "application/pkix-cert", b.p, b.len);
	}
	buf_free(&b);
	return st;
}

static yz_status crl_file(http_req *r, yz_err *e)
{
	yz_app *app = http_app(r);
	const char *name = strip_ext(r, http_param(r, "file"), ".crl");
	if (!name)
		return yz_fail(e, YZ_ENOTFOUND, "CRLs are at /pki/crl/<name>.crl");
	buf b;
	buf_init(&b, 64 << 20);
	yz_status st = pki_crl(app->db, name, &b, e);
	if (st == YZ_OK) {
		http_set_header(r, "Cache-Control", "max-age=60");
		http_reply_text(r, 200, "application/pkix-crl", b.p, b.len);
	}
	buf_free(&b);
	return st;
}

static yz_status ocsp_reply(http_req *r, const void *req, size_t n, yz_err *e)
{
	yz_app *app = http_app(r);
	buf out;
	buf_init(&out, 1 << 20);
	/* the answer is always an OCSPResponse, errors included (RFC 6960 §2.3):
	 * on failure pki_ocsp_answer has put internalError there */
	yz_err failed = {0};
	if (pki_ocsp_answer(app->db, req, n, &out, &failed) != YZ_OK)
		log_error("ocsp: %s", failed.msg);
	(void)e;
	http_set_header(r, "Cache-Control", "max-age=60, public, no-transform, must-revalidate");
	http_reply_text(r, 200, "application/ocsp-response", out.p, out.len);
	buf_free(&out);
	return YZ_OK;
}

static yz_status ocsp_post(http_req *r, yz_err *e)
{
	size_t n;
	const void *body = http_body(r, &n);
	return ocsp_reply(r, body, n, e);
}

static yz_status ocsp_get(http_req *r, yz_err *e)
{
	const char *enc = http_param(r, "req");
	size_t n = enc ? strlen(enc) : 0;
	unsigned char *der = arena_alloc(http_arena(r), n + 4);
	size_t len = 0;
	if (!der || b64_decode(enc ? enc : "", n, false, der, n + 4, &len) != YZ_OK)
		len = 0; /* answered as malformedRequest */
	return ocsp_reply(r, der, len, e);
}

/* RFC 3161 over HTTP (§3.4): a DER TimeStampReq in, a DER TimeStampResp
 * out, always (rejections and our own failures are answers too). ?alg=ecdsa
 * asks for the ECDSA P-256 signer; SM2 answers otherwise, unless the
 * request's policy names ECDSA (pki_tsa.c). */
static yz_status tsa_post(http_req *r, yz_err *e)
{
	yz_app *app = http_app(r);
	size_t n;
	const void *body = http_body(r, &n);
	buf out;
	buf_init(&out, 1 << 20);
	yz_err failed = {0};
	if (pki_tsa_answer_as(app->db, http_query(r, "alg"), body, n, &out, &failed) != YZ_OK)
		log_error("tsa: %s", failed.msg);
	(void)e;
	http_set_header(r, "Cache-Control", "no-store");
	http_reply_text(r, 200, "application/timestamp-reply", out.p, out.len);
	buf_free(&out);
	return YZ_OK;
}

/* ---- JSON API ---- */

static yz_status profiles_get(http_req *r, yz_err *e)
{
	yz_app *app = http_app(r);
	store_conn *c;
	json_t *out;
	yz_status st = store_reader(app->db, &c, e);
	if (st == YZ_OK)
		st = pki_profiles_get(c, &out, e);
	if (st == YZ_OK)
		http_reply_json(r, 200, json_pack("{s:o}", "profiles", out));
	return st;
}

static yz_status profiles_put(http_req *r, yz_err *e)
{
	yz_app *app = http_app(r);
	json_t *in;
	yz_status st = http_json(r, &in, e);
	if (st != YZ_OK)
		return st;
	st = pki_profiles_set(app->db, http_actor(r), in, e);
	json_decref(in);
	return st == YZ_OK ? profiles_get(r, e) : st;
}

static yz_status certs_post(http_req *r, yz_err *e)
{
	yz_app *app = http_app(r);
	json_t *in, *out;
	yz_status st = http_json(r, &in, e);
	if (st != YZ_OK)
		return st;
	st = pki_issue(app->db, http_actor(r), in, &out, e);
	json_decref(in);
	if (st == YZ_OK) {
		char loc[160];
		snprintf(loc, sizeof loc, "/api/v1/pki/certs/%s/%s", jx_str(out, "ca", ""),
		         jx_str(out, "serial", ""));
		http_set_header(r, "Location", loc);
		http_reply_json(r, 201, out);
	}
	return st;
}

static yz_status certs_list(http_req *r, yz_err *e)
{
	yz_app *app = http_app(r);
	json_t *f = json_object();
	const char *keys[] = {"q", "ca", "status", "profile"};
	for (int i = 0; i < 4; i++)
		if (http_query(r, keys[i]))
			jx_set_str(f, keys[i], http_query(r, keys[i]));
	const char *ints[] = {"holder_user", "before", "limit"};
	for (int i = 0; i < 3; i++) {
		int64_t v;
		const char *s = http_query(r, ints[i]);
		if (s && slice_to_i64(slice_of(s), &v) == YZ_OK)
			jx_set_int(f, ints[i], v);
	}
	store_conn *c;
	json_t *out;
	yz_status st = store_reader(app->db, &c, e);
	if (st == YZ_OK)
		st = pki_cert_list(c, f, &out, e);
	json_decref(f);
	if (st == YZ_OK)
		http_reply_json(r, 200, out);
	return st;
}

static yz_status cert_get(http_req *r, yz_err *e)
{
	yz_app *app = http_app(r);
	const char *ca = http_param(r, "ca"), *file = http_param(r, "serial");
	const char *serial = strip_ext(r, file, ".crt");
	store_conn *c;
	yz_status st = store_reader(app->db, &c, e);
	if (st != YZ_OK)
		return st;
	if (serial) {
		buf b;
		buf_init(&b, 1 << 20);
		st = pki_cert_der(c, ca, serial, &b, e);
		if (st == YZ_OK) {
			char cd[96];
			snprintf(cd, sizeof cd, "attachment; filename=\"%s.crt\"", serial);
			http_set_header(r, "Content-Disposition", cd);
			http_reply_text(r, 200, "application/pkix-cert", b.p, b.len);
		}
		buf_free(&b);
		return st;
	}
	json_t *out;
	st = pki_cert_get(c, ca, file, true, &out, e);
	if (st == YZ_OK)
		http_reply_json(r, 200, out);
	return st;
}

static yz_status status_change(http_req *r, bool resume, yz_err *e)
{
	yz_app *app = http_app(r);
	const char *ca = http_param(r, "ca"), *serial = http_param(r, "serial");
	int reason = -1;
	yz_status st = YZ_OK;
	if (!resume) {
		json_t *in;
		if ((st = http_json(r, &in, e)) != YZ_OK)
			return st;
		static const jx_field f[] = {{"reason", JX_STRING, false, 1, 32, NULL},
		                             {NULL, 0, false, 0, 0, NULL}};
		st = jx_validate(in, f, e);
		const char *rn = jx_str(in, "reason", "unspecified");
		reason = pki_reason_parse(rn);
		if (st == YZ_OK && reason < 0)
			st = yz_field(
			    e, "reason", "enum",
			    "unspecified, keyCompromise, cACompromise, affiliationChanged, "
			    "superseded, cessationOfOperation, certificateHold, "
			    "privilegeWithdrawn or aACompromise",
			    rn);
		json_decref(in);
		if (st == YZ_OK)
			st = pki_revoke(app->db, http_actor(r), ca, serial, reason, e);
	} else {
		st = pki_resume(app->db, http_actor(r), ca, serial, e);
	}
	if (st != YZ_OK)
		return st;
	store_conn *c;
	json_t *out;
	st = store_reader(app->db, &c, e);
	if (st == YZ_OK)
		st = pki_cert_get(c, ca, serial, false, &out, e);
	if (st == YZ_OK)
		http_reply_json(r, 200, out);
	return st;
}

/* {supersede?: bool} → 201 with the new certificate. */
static yz_status cert_renew(http_req *r, yz_err *e)
{
	yz_app *app = http_app(r);
	json_t *in, *out = NULL;
	yz_status st = http_json(r, &in, e);
	if (st != YZ_OK)
		return st;
	static const jx_field f[] = {{"supersede", JX_BOOL, false, 0, 0, NULL},
	                             {NULL, 0, false, 0, 0, NULL}};
	st = jx_validate(in, f, e);
	if (st == YZ_OK)
		st = pki_renew(app->db, http_actor(r), http_param(r, "ca"), http_param(r, "serial"),
		               jx_bool(in, "supersede", false), &out, e);
	json_decref(in);
	if (st == YZ_OK)
		http_reply_json(r, 201, out);
	return st;
}

static yz_status cert_revoke(http_req *r, yz_err *e)
{
	return status_change(r, false, e);
}

static yz_status cert_resume(http_req *r, yz_err *e)
{
	return status_change(r, true, e);
}

/* ---- the holder's own certificates ---- */

static yz_status mine_list(http_req *r, yz_err *e)
{
	yz_app *app = http_app(r);
	json_t *f = json_pack("{s:I, s:i}", "holder_user", (json_int_t)http_actor(r)->user_id,
	                      "limit", 200);
	store_conn *c;
	json_t *out;
	yz_status st = store_reader(app->db, &c, e);
	if (st == YZ_OK)
		st = pki_cert_list(c, f, &out, e);
	json_decref(f);
	if (st == YZ_OK)
		http_reply_json(r, 200, out);
	return st;
}

/* One of the caller's certificates: JSON, or DER for <serial>.crt. Someone
 * else's answers 404, as an unknown one does. */
static yz_status mine_get(http_req *r, yz_err *e)
{
	yz_app *app = http_app(r);
	const char *ca = http_param(r, "ca"), *file = http_param(r, "serial");
	const char *serial = strip_ext(r, file, ".crt");
	store_conn *c;
	json_t *o = NULL;
	yz_status st = store_reader(app->db, &c, e);
	if (st == YZ_OK)
		st = pki_cert_get(c, ca, serial ? serial : file, !serial, &o, e);
	if (st == YZ_OK && jx_int(o, "holder_user", 0) != http_actor(r)->user_id)
		st = yz_fail(e, YZ_ENOTFOUND, "no such certificate of yours");
	if (st == YZ_OK && serial) {
		buf b;
		buf_init(&b, 1 << 20);
		st = pki_cert_der(c, ca, serial, &b, e);
		if (st == YZ_OK) {
			char cd[96];
			snprintf(cd, sizeof cd, "attachment; filename=\"%s.crt\"", serial);
			http_set_header(r, "Content-Disposition", cd);
			http_reply_text(r, 200, "application/pkix-cert", b.p, b.len);
		}
		buf_free(&b);
	} else if (st == YZ_OK) {
		http_reply_json(r, 200, o);
		o = NULL;
	}
	json_decref(o);
	return st;
}

/* ---- certificate sign-in ---- */

static yz_status login_challenge(http_req *r, yz_err *e)
{
	char c[160];
	yz_status st = pki_login_challenge(c, sizeof c, e);
	if (st == YZ_OK) {
		http_set_header(r, "Cache-Control", "no-store");
		http_reply_json(r, 200, json_pack("{s:s, s:i}", "challenge", c, "expires_in", 120));
	}
	return st;
}

/* With a TLS client certificate and no body, or with {certificate (PEM),
 * challenge, signature (base64)} from a USB key: a session, as the password
 * sign-in gives one. */
static yz_status login_certificate(http_req *r, yz_err *e)
{
	yz_app *app = http_app(r);
	size_t bn = 0, cn = 0;
	http_body(r, &bn);
	const void *tls_cert = http_client_cert(r, &cn);
	int64_t user = 0;
	char ref[128] = "", method[24];
	yz_status st;
	if (bn == 0) {
		if (!tls_cert)
			return yz_fail(
			    e, YZ_EUNAUTH,
			    "no client certificate: connect over HTTPS with one, or send a "
			    "signed challenge");
		yz_strlcpy(method, "tls-certificate", sizeof method);
		st = pki_login_check(app->db, tls_cert, cn, &user, ref, sizeof ref, e);
	} else {
		json_t *in;
		if ((st = http_json(r, &in, e)) != YZ_OK)
			return st;
		static const jx_field f[] = {{"certificate", JX_STRING, true, 1, 16384, NULL},
		                             {"challenge", JX_STRING, true, 1, 160, NULL},
		                             {"signature", JX_STRING, true, 1, 400, NULL},
		                             {NULL, 0, false, 0, 0, NULL}};
		st = jx_validate(in, f, e);
		unsigned char sig[300];
		size_t sl = 0;
		const char *b64 = jx_str(in, "signature", "");
		if (st == YZ_OK &&
		    b64_decode(b64, strlen(b64), false, sig, sizeof sig, &sl) != YZ_OK)
			st = yz_field(e, "signature", "base64", "the signature in base64", NULL);
		yz_strlcpy(method, "sm2-challenge", sizeof method);
		if (st == YZ_OK)
			st = pki_login_signed(app->db, jx_str(in, "certificate", ""),
			                      jx_str(in, "challenge", ""), sig, sl, &user, ref,
			                      sizeof ref, e);
		json_decref(in);
	}
	iam_login_result res;
	if (st == YZ_OK)
		st = iam_login_verified(app->db, &app->policy, http_actor(r), user, method, ref,
		                        http_header(r, "User-Agent"), &res, e);
	if (st != YZ_OK)
		return st;
	if (http_set_cookie(r, "yz_sid", res.token, -1, true) != YZ_OK)
		return yz_fail(e, YZ_EINTERNAL, "could not set the session cookie");
	http_reply_json(r, 201,
	                json_pack("{s:I, s:s, s:s, s:s}", "user_id", (json_int_t)user, "csrf",
	                          res.csrf, "method", method, "certificate", ref));
	return YZ_OK;
}

static const http_route routes[] = {
    {HTTP_GET, "/pki/ca/", ca_index, HTTP_PUBLIC, HTTP_SCOPE_NONE, HTTP_API, 0,
     "The CAs of this platform as JSON (name, algorithm, subject, validity, URLs)"},
    {HTTP_GET, "/pki/ca/{file}", ca_file, HTTP_PUBLIC, HTTP_SCOPE_NONE, HTTP_API, 0,
     "A CA's certificate: <name>.crt (DER) or <name>.pem"},
    {HTTP_GET, "/pki/crl/{file}", crl_file, HTTP_PUBLIC, HTTP_SCOPE_NONE, HTTP_API | HTTP_SLOW, 0,
     "A CA's current CRL (RFC 5280, DER): <name>.crl"},
    {HTTP_POST, "/pki/ocsp", ocsp_post, HTTP_PUBLIC, HTTP_SCOPE_NONE, HTTP_API | HTTP_NO_CSRF,
     65536, "OCSP (RFC 6960): a DER OCSPRequest in, a DER OCSPResponse out"},
    {HTTP_POST, "/pki/tsa", tsa_post, HTTP_PUBLIC, HTTP_SCOPE_NONE, HTTP_API | HTTP_NO_CSRF, 65536,
     "Time-stamping (RFC 3161): a DER TimeStampReq in, a DER TimeStampResp out; SM2 by "
     "default, ?alg=ecdsa for ECDSA P-256"},
    {HTTP_GET, "/pki/ocsp/{req...}", ocsp_get, HTTP_PUBLIC, HTTP_SCOPE_NONE,
     HTTP_API | HTTP_REST_SLASH, 0, "OCSP by GET (RFC 6960 A.1): the base64 request in the path"},
    {HTTP_GET, "/api/v1/pki/profiles", profiles_get, "pki.read", HTTP_SCOPE_NONE, 0, 0,
     "Certificate profiles"},
    {HTTP_PUT, "/api/v1/pki/profiles", profiles_put, "pki.manage", HTTP_SCOPE_NONE, 0, 0,
     "Replace the certificate profiles ({profiles: [...]}); faults named by path"},
    {HTTP_POST, "/api/v1/pki/certs", certs_post, "pki.issue", HTTP_SCOPE_NONE, 0, 0,
     "Issue a certificate from a PKCS#10 request or a public key under a profile"},
    {HTTP_GET, "/api/v1/pki/certs", certs_list, "pki.read", HTTP_SCOPE_NONE, 0, 0,
     "Search certificates (q, ca, status, profile, holder_user, before, limit)"},
    {HTTP_GET, "/api/v1/pki/certs/{ca}/{serial}", cert_get, "pki.read", HTTP_SCOPE_NONE, 0, 0,
     "One certificate as JSON with its PEM; <serial>.crt downloads the DER"},
    {HTTP_POST, "/api/v1/pki/certs/{ca}/{serial}/revoke", cert_revoke, "pki.revoke",
     HTTP_SCOPE_NONE, 0, 0,
     "Revoke ({reason}: an RFC 5280 reason; certificateHold suspends); CRL and OCSP change at "
     "once"},
    {HTTP_GET, "/api/v1/session/certificate/challenge", login_challenge, HTTP_PUBLIC,
     HTTP_SCOPE_NONE, 0, 0, "A one-time challenge for a USB key to sign (two minutes)"},
    {HTTP_POST, "/api/v1/session/certificate", login_certificate, HTTP_PUBLIC, HTTP_SCOPE_NONE, 0,
     32768,
     "Sign in by certificate: a TLS client certificate (no body), or {certificate, challenge, "
     "signature}"},
    {HTTP_GET, "/api/v1/pki/mine", mine_list, HTTP_SIGNED_IN, HTTP_SCOPE_NONE, 0, 0,
     "The caller's own certificates (holder)"},
    {HTTP_GET, "/api/v1/pki/mine/{ca}/{serial}", mine_get, HTTP_SIGNED_IN, HTTP_SCOPE_NONE, 0, 0,
     "One of the caller's certificates; <serial>.crt downloads the DER"},
    {HTTP_POST, "/api/v1/pki/certs/{ca}/{serial}/renew", cert_renew, "pki.issue", HTTP_SCOPE_NONE,
     0, 0, "Renew: the same holder, key and subject with a new serial and validity ({supersede})"},
    {HTTP_POST, "/api/v1/pki/certs/{ca}/{serial}/resume", cert_resume, "pki.revoke",
     HTTP_SCOPE_NONE, 0, 0, "Lift a suspension (certificateHold)"},
};

yz_status pki_api_routes(yz_app *app, yz_err *e)
{
	yz_status st =
	    http_routes_add(app->http, routes, (int)(sizeof routes / sizeof routes[0]), e);
	if (st == YZ_OK)
		st = kmc_api_routes(app, e);
	/* signatures, electronic seals and the public verifier (seal_api.c) */
	return st == YZ_OK ? pki_seal_api_routes(app, e) : st;
}
