/*
 * kmc_api.c — the key management centre over HTTP, under /api/v1/pki/kmc/:
 * data keys (metadata, create, rotate: their material never leaves the
 * process), encryption key pairs for dual certificates with their envelope,
 * and key recoveries (request, approve, refuse, release) whose approvals run
 * on the flow engine (kmc.h).
 */
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "core/jx.h"
#include "core/slice.h"
#include "pki/kmc.h"

static store *db_of(http_req *r)
{
	yz_app *app = http_app(r);
	return app->db;
}

static yz_status id_param(http_req *r, int64_t *id, yz_err *e)
{
	const char *s = http_param(r, "id");
	if (!s || slice_to_i64(slice_of(s), id) != YZ_OK || *id <= 0)
		return yz_fail(e, YZ_ENOTFOUND, "no such request");
	return YZ_OK;
}

static void int_query(http_req *r, json_t *f, const char *name)
{
	int64_t v;
	const char *s = http_query(r, name);
	if (s && slice_to_i64(slice_of(s), &v) == YZ_OK)
		jx_set_int(f, name, v);
}

/* ---- data keys ---- */

static yz_status data_keys_list(http_req *r, yz_err *e)
{
	store_conn *c;
	json_t *out;
	yz_status st = store_reader(db_of(r), &c, e);
	if (st == YZ_OK)
		st = kmc_data_key_list(c, &out, e);
	if (st == YZ_OK)
		http_reply_json(r, 200, out);
	return st;
}

static yz_status data_keys_create(http_req *r, yz_err *e)
{
	yz_app *app = http_app(r);
	json_t *in;
	yz_status st = http_json(r, &in, e);
	if (st != YZ_OK)
		return st;
	static const jx_field f[] = {{"purpose", JX_STRING, true, 1, 64, NULL},
	                             {NULL, 0, false, 0, 0, NULL}};
	char id[KMC_KEY_ID_MAX];
	st = jx_validate(in, f, e);
	if (st == YZ_OK)
		st = kmc_data_key_create(app->db, app->cfg.data, http_actor(r),
		                         jx_str(in, "purpose", ""), id, e);
	if (st == YZ_OK) {
		char loc[96];
		snprintf(loc, sizeof loc, "/api/v1/pki/kmc/data-keys/%s", id);
		http_set_header(r, "Location", loc);
		http_reply_json(r, 201,
		                json_pack("{s:s, s:s, s:i}", "key_id", id, "purpose",
		                          jx_str(in, "purpose", ""), "version", 1));
	}
	json_decref(in);
	return st;
}

static yz_status data_keys_rotate(http_req *r, yz_err *e)
{
	yz_app *app = http_app(r);
	const char *id = http_param(r, "key");
	int version = 0;
	yz_status st = kmc_data_key_rotate(app->db, app->cfg.data, http_actor(r), id, &version, e);
	if (st == YZ_OK)
		http_reply_json(r, 200, json_pack("{s:s, s:i}", "key_id", id, "version", version));
	return st;
}

/* ---- encryption key pairs ---- */

static yz_status enc_keys_create(http_req *r, yz_err *e)
{
	yz_app *app = http_app(r);
	json_t *in, *out = NULL;
	yz_status st = http_json(r, &in, e);
	if (st != YZ_OK)
		return st;
	st = kmc_enc_key_issue(app->db, app->cfg.data, http_actor(r), in, &out, e);
	json_decref(in);
	if (st == YZ_OK) {
		json_t *cert = json_object_get(out, "certificate");
		char loc[160];
		snprintf(loc, sizeof loc, "/api/v1/pki/certs/%s/%s", jx_str(cert, "ca", ""),
		         jx_str(cert, "serial", ""));
		http_set_header(r, "Location", loc);
		http_reply_json(r, 201, out);
	}
	return st;
}

static yz_status enc_keys_list(http_req *r, yz_err *e)
{
	json_t *f = json_object();
	const char *keys[] = {"ca", "serial"};
	for (int i = 0; i < 2; i++)
		if (http_query(r, keys[i]))
			jx_set_str(f, keys[i], http_query(r, keys[i]));
	int_query(r, f, "holder_user");
	int_query(r, f, "before");
	int_query(r, f, "limit");
	store_conn *c;
	json_t *out;
	yz_status st = store_reader(db_of(r), &c, e);
	if (st == YZ_OK)
		st = kmc_enc_key_list(c, f, &out, e);
	json_decref(f);
	if (st == YZ_OK)
		http_reply_json(r, 200, out);
	return st;
}

/* ---- recovery ---- */

static yz_status recovery_reply(http_req *r, int status, int64_t id, yz_err *e)
{
	store_conn *c;
	json_t *out;
	yz_status st = store_reader(db_of(r), &c, e);
	if (st == YZ_OK)
		st = kmc_recovery_get(c, id, &out, e);
	if (st == YZ_OK)
		http_reply_json(r, status, out);
	return st;
}

static yz_status recoveries_create(http_req *r, yz_err *e)
{
	json_t *in, *out = NULL;
	yz_status st = http_json(r, &in, e);
	if (st != YZ_OK)
		return st;
	st = kmc_recovery_request(db_of(r), http_actor(r), in, &out, e);
	json_decref(in);
	if (st == YZ_OK) {
		char loc[96];
		snprintf(loc, sizeof loc, "/api/v1/pki/kmc/recoveries/%lld",
		         (long long)jx_int(out, "id", 0));
		http_set_header(r, "Location", loc);
		http_reply_json(r, 201, out);
	}
	return st;
}

static yz_status recoveries_list(http_req *r, yz_err *e)
{
	json_t *f = json_object();
	if (http_query(r, "status"))
		jx_set_str(f, "status", http_query(r, "status"));
	int_query(r, f, "before");
	int_query(r, f, "limit");
	store_conn *c;
	json_t *out;
	yz_status st = store_reader(db_of(r), &c, e);
	if (st == YZ_OK)
		st = kmc_recovery_list(c, f, &out, e);
	json_decref(f);
	if (st == YZ_OK)
		http_reply_json(r, 200, out);
	return st;
}

static yz_status recovery_get(http_req *r, yz_err *e)
{
	int64_t id;
	yz_status st = id_param(r, &id, e);
	return st == YZ_OK ? recovery_reply(r, 200, id, e) : st;
}

/* {comment?} for approve, {reason} for refuse */
static yz_status recovery_decide(http_req *r, bool approve, yz_err *e)
{
	int64_t id;
	json_t *in;
	yz_status st = id_param(r, &id, e);
	if (st != YZ_OK || (st = http_json(r, &in, e)) != YZ_OK)
		return st;
	static const jx_field fa[] = {{"comment", JX_STRING, false, 0, 500, NULL},
	                              {NULL, 0, false, 0, 0, NULL}};
	static const jx_field fr[] = {{"reason", JX_STRING, true, 1, 500, NULL},
	                              {NULL, 0, false, 0, 0, NULL}};
	st = jx_validate(in, approve ? fa : fr, e);
	if (st == YZ_OK)
		st = approve ? kmc_recovery_approve(db_of(r), http_actor(r), id,
		                                    jx_str(in, "comment", ""), e)
		             : kmc_recovery_refuse(db_of(r), http_actor(r), id,
		                                   jx_str(in, "reason", ""), e);
	json_decref(in);
	return st == YZ_OK ? recovery_reply(r, 200, id, e) : st;
}

static yz_status recovery_approve(http_req *r, yz_err *e)
{
	return recovery_decide(r, true, e);
}

static yz_status recovery_refuse(http_req *r, yz_err *e)
{
	return recovery_decide(r, false, e);
}

static yz_status recovery_release(http_req *r, yz_err *e)
{
	yz_app *app = http_app(r);
	int64_t id;
	json_t *out;
	yz_status st = id_param(r, &id, e);
	if (st == YZ_OK)
		st = kmc_recovery_release(app->db, app->cfg.data, http_actor(r), id, &out, e);
	if (st == YZ_OK) {
		http_reply_json(r, 200, out);
	}
	return st;
}

static const http_route routes[] = {
    {HTTP_GET, "/api/v1/pki/kmc/data-keys", data_keys_list, "pki.kmc.manage", HTTP_SCOPE_NONE, 0, 0,
     "KMC data keys: id, purpose and versions (never the key material)"},
    {HTTP_POST, "/api/v1/pki/kmc/data-keys", data_keys_create, "pki.kmc.manage", HTTP_SCOPE_NONE, 0,
     0, "Create a data key ({purpose}) for the platform's modules, wrapped under the KMC KEK"},
    {HTTP_POST, "/api/v1/pki/kmc/data-keys/{key}/rotate", data_keys_rotate, "pki.kmc.manage",
     HTTP_SCOPE_NONE, 0, 0,
     "Rotate a data key: a new version becomes current, older versions stay for decryption"},
    {HTTP_POST, "/api/v1/pki/kmc/enc-keys", enc_keys_create, "pki.kmc.manage", HTTP_SCOPE_NONE, 0,
     0,
     "Generate, archive and certify an SM2 encryption key pair for the holder of a signing "
     "certificate ({ca, serial, profile?}); the private key comes back in a GB/T 35276 "
     "envelope to the signing key"},
    {HTTP_GET, "/api/v1/pki/kmc/enc-keys", enc_keys_list, "pki.kmc.manage", HTTP_SCOPE_NONE, 0, 0,
     "The archive of encryption keys (ca, serial, holder_user, before, limit), without keys"},
    {HTTP_POST, "/api/v1/pki/kmc/recoveries", recoveries_create, "pki.kmc.manage", HTTP_SCOPE_NONE,
     0, 0,
     "Ask for the recovery of an archived encryption key ({ca, serial, reason, recipient_ca, "
     "recipient_serial}); starts the 2-of-3 approval flow"},
    {HTTP_GET, "/api/v1/pki/kmc/recoveries", recoveries_list, "pki.read", HTTP_SCOPE_NONE, 0, 0,
     "Key recovery requests (status, before, limit)"},
    {HTTP_GET, "/api/v1/pki/kmc/recoveries/{id}", recovery_get, "pki.read", HTTP_SCOPE_NONE, 0, 0,
     "One key recovery request with its approvals"},
    {HTTP_POST, "/api/v1/pki/kmc/recoveries/{id}/approve", recovery_approve, "pki.kmc.approve",
     HTTP_SCOPE_NONE, 0, 0,
     "Approve a key recovery ({comment?}): one of the flow's approver tasks; not the requester, "
     "once per approver"},
    {HTTP_POST, "/api/v1/pki/kmc/recoveries/{id}/refuse", recovery_refuse, "pki.kmc.approve",
     HTTP_SCOPE_NONE, 0, 0, "Refuse a key recovery ({reason}): the request is closed"},
    {HTTP_POST, "/api/v1/pki/kmc/recoveries/{id}/release", recovery_release, "pki.kmc.manage",
     HTTP_SCOPE_NONE, 0, 0,
     "Release the recovered key of an approved request, once, in an envelope to the recipient "
     "certificate (409 before two approvals and after the release)"},
};

yz_status kmc_api_routes(yz_app *app, yz_err *e)
{
	return http_routes_add(app->http, routes, (int)(sizeof routes / sizeof routes[0]), e);
}
