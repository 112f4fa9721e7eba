/*
 * pki_ra.c — the registration authority's procedure is a flow of the flow
 * engine (DESIGN §2; packs/demo-city/flows/pki.cert-request.json): the
 * acceptance point (受理点) checks the applicant's identity and evidence and
 * registers the request (the flow's form: holder, subject fields, profile,
 * PKCS#10 request, evidence), the RA reviews it, the CA operator issues it.
 *
 * This listener of the flow's events issues the certificate when the CA's
 * task ("issue") completes with the outcome "issue", inside the transaction
 * that completes the task: the certificate and the step commit together, and
 * a request the CA cannot issue (a request whose signature fails, a wrong
 * check character) fails the command with the field named as in the form,
 * so the CA operator sees why and refuses or the clerk corrects it.
 */
#include <string.h>

#include "core/jx.h"
#include "flow/flow.h"
#include "iam/iam.h"
#include "pki/pki_int.h"

#define RA_FLOW    "pki.cert-request"
#define RA_STEP    "issue"
#define RA_OUTCOME "issue"
#define RA_CA      "city" /* the CA of requests that name none */

yz_status pki_flow_event(store_conn *tx, const flow_event *ev, void *ctx, yz_err *e)
{
	(void)ctx;
	if (ev->kind != FLOW_EV_TASK_DONE || !ev->flow_key || strcmp(ev->flow_key, RA_FLOW) != 0 ||
	    !ev->step || strcmp(ev->step, RA_STEP) != 0 || !ev->outcome ||
	    strcmp(ev->outcome, RA_OUTCOME) != 0)
		return YZ_OK;
	yz_actor sys = actor_system("pki.ra");
	const yz_actor *who = ev->who ? ev->who : &sys;
	json_t *inst = NULL;
	yz_status st = flow_instance_get(tx, &sys, ev->instance_id, &inst, e);
	if (st != YZ_OK)
		return st;
	json_t *data = json_object_get(inst, "data");
	int64_t holder = 0, org = 0;
	char org_path[256];
	yz_err he = {0};
	const char *login = jx_str(data, "holder", "");
	if (iam_user_find(tx, login, &holder, &org, org_path, sizeof org_path, &he) != YZ_OK) {
		json_decref(inst);
		return yz_field(e, "holder", "exists", "the login of an active user", login);
	}
	json_t *in =
	    json_pack("{s:s, s:s, s:s, s:s, s:I}", "ca", jx_str(data, "ca", RA_CA), "profile",
	              jx_str(data, "profile", ""), "csr", jx_str(data, "csr", ""), "cn",
	              jx_str(data, "cn", ""), "holder_user", (json_int_t)holder);
	static const char *const optional[] = {"o", "ou", "id_number", "uscc", "email", NULL};
	for (const char *const *k = optional; *k; k++)
		if (jx_str(data, *k, "")[0])
			jx_set_str(in, *k, jx_str(data, *k, ""));
	json_t *out = NULL;
	st = pki_issue_tx(tx, who, in, &out, e);
	json_decref(out);
	json_decref(in);
	json_decref(inst);
	return st;
}
