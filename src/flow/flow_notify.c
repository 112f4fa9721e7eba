/*
 * flow_notify.c — who hears about a flow's transitions, written into the
 * notification outbox in the transaction of the transition itself.
 *
 *  - a task opens, is due tomorrow, is overdue or is handed on: its handlers
 *    (the assignee, else the named user, else the holders of the role within
 *    the org, else the members of the department) get an in-app message;
 *  - a task opens for the applicant (补正): in-app, and an SMS to the phone
 *    the account holds;
 *  - an overdue task is escalated: in-app and e-mail to the escalation role's
 *    holders;
 *  - the flow ends: in-app and SMS to the applicant.
 *
 * Every message's key names the instance, the task, the event and the
 * recipient, so a transition that runs twice (the writer's fallback re-runs
 * jobs) writes each message once.
 */
#include <stdio.h>
#include <string.h>

#include "core/arena.h"
#include "core/clock.h"
#include "flow/flow.h"
#include "flow/flow_int.h"
#include "iam/iam.h"
#include "notify/notify.h"

#define MAX_RECIPIENTS 50

typedef struct task_row {
	int64_t assignee, cand_user;
	char role[64], org[256], dept[256];
} task_row;

static yz_status read_task(store_conn *tx, int64_t id, task_row *t, yz_err *e)
{
	memset(t, 0, sizeof *t);
	store_rows *r;
	store_val a[] = {sv_int(id)};
	yz_status st = store_query(tx,
	                           "SELECT COALESCE(assignee, 0), COALESCE(cand_user, 0), "
	                           "COALESCE(cand_role, ''), COALESCE(cand_org_path, ''), "
	                           "COALESCE(cand_dept_path, '') FROM flow_token WHERE id = ?",
	                           a, 1, &r, e);
	if (st != YZ_OK)
		return st;
	if (store_next(r)) {
		t->assignee = store_col_int(r, 0);
		t->cand_user = store_col_int(r, 1);
		yz_strlcpy(t->role, store_col_text(r, 2), sizeof t->role);
		yz_strlcpy(t->org, store_col_text(r, 3), sizeof t->org);
		yz_strlcpy(t->dept, store_col_text(r, 4), sizeof t->dept);
	}
	return store_rows_close(r, e);
}

/* The handlers of a task. */
static yz_status handlers(store_conn *tx, int64_t task, arena *a, int64_t **ids, int *n, yz_err *e)
{
	task_row t;
	yz_status st = read_task(tx, task, &t, e);
	*ids = NULL;
	*n = 0;
	if (st != YZ_OK)
		return st;
	int64_t one = t.assignee ? t.assignee : t.cand_user;
	if (one) {
		*ids = arena_alloc(a, sizeof **ids);
		if (!*ids)
			return yz_fail(e, YZ_ENOMEM, "out of memory");
		(*ids)[0] = one;
		*n = 1;
		return YZ_OK;
	}
	if (t.role[0]) {
		st = iam_role_holders(tx, t.role, t.org, a, ids, n, e);
		if (*n > MAX_RECIPIENTS)
			*n = MAX_RECIPIENTS;
		return st;
	}
	if (t.dept[0])
		return iam_org_members(tx, t.dept, MAX_RECIPIENTS, a, ids, n, e);
	return YZ_OK;
}

static yz_status starter_of(store_conn *tx, int64_t instance, int64_t *starter, yz_err *e)
{
	store_val a[] = {sv_int(instance)};
	return store_query_int(tx, "SELECT starter_id FROM flow_instance WHERE id = ?", a, 1,
	                       starter, e);
}

static yz_status send_inapp(store_conn *tx, int64_t user, const char *subject, const char *body,
                            const char *link, const char *key, yz_err *e)
{
	notify_msg m = {.channel = NOTIFY_INAPP,
	                .user_id = user,
	                .subject = subject,
	                .body = body,
	                .link = link,
	                .key = key};
	return notify_enqueue(tx, &m, e);
}

/* An SMS or e-mail to a user's own contact, when the account has one. */
static yz_status send_contact(store_conn *tx, int64_t user, notify_channel ch, const char *subject,
                              const char *body, const char *key, yz_err *e)
{
	char phone[64], email[256];
	yz_status st = iam_user_contact(tx, user, phone, sizeof phone, email, sizeof email, e);
	const char *to = ch == NOTIFY_SMS ? phone : email;
	if (st != YZ_OK || !to[0])
		return st;
	notify_msg m = {
	    .channel = ch, .user_id = user, .to = to, .subject = subject, .body = body, .key = key};
	/* a malformed contact in the account must not stop the flow */
	if (notify_msg_validate(&m, NULL) != YZ_OK)
		return YZ_OK;
	return notify_enqueue(tx, &m, e);
}

static const char *end_name(const flow_event *ev)
{
	const flow_def *d = flow_def_get(ev->flow_key, 0);
	if (!strcmp(ev->outcome ? ev->outcome : "", "withdrawn"))
		return "已撤回";
	if (!strcmp(ev->outcome ? ev->outcome : "", "rejected"))
		return "已退回（不予办理）";
	for (int i = 0; d && i < d->nsteps; i++)
		if (d->steps[i].kind == STEP_END && ev->outcome &&
		    !strcmp(d->steps[i].outcome, ev->outcome))
			return d->steps[i].name;
	return ev->outcome ? ev->outcome : "";
}

yz_status flow_notify_event(store_conn *tx, const flow_event *ev, void *ctx, yz_err *e)
{
	(void)ctx;
	const char *what = NULL;
	switch (ev->kind) {
	case FLOW_EV_TASK_OPENED:
		what = "open";
		break;
	case FLOW_EV_REMINDER:
		what = "remind";
		break;
	case FLOW_EV_OVERDUE:
		what = "overdue";
		break;
	case FLOW_EV_TRANSFERRED:
		what = "transfer";
		break;
	case FLOW_EV_ESCALATED:
		what = "escalate";
		break;
	case FLOW_EV_CLOSED:
		what = "closed";
		break;
	default:
		return YZ_OK;
	}
	arena *a = arena_new(1u << 16);
	if (!a)
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	char link[64], due[40] = "", subject[300], body[800], key[160];
	snprintf(link, sizeof link, "/flows/instances/%lld", (long long)ev->instance_id);
	if (ev->due_at)
		clock_format_city_human(ev->due_at, due, sizeof due);
	const char *title = ev->title && *ev->title ? ev->title : ev->flow_name;
	const char *step = ev->step_name ? ev->step_name : "";
	int64_t starter = 0;
	yz_status st = starter_of(tx, ev->instance_id, &starter, e);
	int64_t *ids = NULL;
	int n = 0;
	if (st == YZ_OK && ev->kind == FLOW_EV_CLOSED) {
		snprintf(subject, sizeof subject, "办结：%s", title);
		snprintf(body, sizeof body, "您办理的“%s”（%s，办件编号 %lld）已办结，结果：%s。",
		         title, ev->flow_name, (long long)ev->instance_id, end_name(ev));
		snprintf(key, sizeof key, "flow.%lld.closed", (long long)ev->instance_id);
		if (starter)
			st = send_inapp(tx, starter, subject, body, link, key, e);
		snprintf(key, sizeof key, "flow.%lld.closed.sms", (long long)ev->instance_id);
		if (st == YZ_OK && starter)
			st = send_contact(tx, starter, NOTIFY_SMS, subject, body, key, e);
		arena_free(a);
		return st;
	}
	if (st == YZ_OK && ev->kind == FLOW_EV_ESCALATED)
		st = iam_role_holders(tx, ev->reason, ev->task_org_path, a, &ids, &n, e);
	else if (st == YZ_OK)
		st = handlers(tx, ev->token_id, a, &ids, &n, e);
	if (n > MAX_RECIPIENTS)
		n = MAX_RECIPIENTS;
	switch (ev->kind) {
	case FLOW_EV_TASK_OPENED:
		snprintf(subject, sizeof subject, "新待办：%s · %s", title, step);
		snprintf(body, sizeof body, "“%s”的“%s”环节待您办理%s%s。", title, step,
		         due[0] ? "，办理时限 " : "", due);
		break;
	case FLOW_EV_REMINDER:
		snprintf(subject, sizeof subject, "即将到期：%s · %s", title, step);
		snprintf(body, sizeof body, "“%s”的“%s”环节将于 %s 到期，请及时办理。", title, step,
		         due);
		break;
	case FLOW_EV_OVERDUE:
		snprintf(subject, sizeof subject, "已超期：%s · %s", title, step);
		snprintf(body, sizeof body, "“%s”的“%s”环节已于 %s 超过办理时限。", title, step,
		         due);
		break;
	case FLOW_EV_TRANSFERRED:
		snprintf(subject, sizeof subject, "转办待办：%s · %s", title, step);
		snprintf(body, sizeof body, "“%s”的“%s”环节已转给您办理%s%s。", title, step,
		         ev->reason[0] ? "，转办理由：" : "", ev->reason);
		break;
	default: /* escalated */
		snprintf(subject, sizeof subject, "督办：%s · %s 已超期", title, step);
		snprintf(body, sizeof body,
		         "“%s”（%s）的“%s”环节已于 %s 超过办理时限，请督促办理。", title,
		         ev->flow_name, step, due);
		break;
	}
	/* the number of the case, so that cases of the same title stay apart */
	size_t bl = strlen(body);
	snprintf(body + bl, sizeof body - bl, "（办件编号 %lld）", (long long)ev->instance_id);
	for (int i = 0; st == YZ_OK && i < n; i++) {
		if (ev->kind == FLOW_EV_TRANSFERRED)
			snprintf(key, sizeof key, "flow.%lld.task.%lld.%s.%lld.%lld",
			         (long long)ev->instance_id, (long long)ev->token_id, what,
			         (long long)ev->at, (long long)ids[i]);
		else
			snprintf(key, sizeof key, "flow.%lld.task.%lld.%s.%lld",
			         (long long)ev->instance_id, (long long)ev->token_id, what,
			         (long long)ids[i]);
		st = send_inapp(tx, ids[i], subject, body, link, key, e);
		/* the applicant is told by SMS too when the task is theirs (补正) */
		if (st == YZ_OK && ids[i] == starter && ev->kind == FLOW_EV_TASK_OPENED) {
			char k2[180];
			snprintf(k2, sizeof k2, "%s.sms", key);
			st = send_contact(tx, ids[i], NOTIFY_SMS, subject, body, k2, e);
		}
		if (st == YZ_OK && ev->kind == FLOW_EV_ESCALATED) {
			char k2[180];
			snprintf(k2, sizeof k2, "%s.email", key);
			st = send_contact(tx, ids[i], NOTIFY_EMAIL, subject, body, k2, e);
		}
	}
	arena_free(a);
	return st;
}
