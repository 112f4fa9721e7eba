/*
 * flow_sync.c — keeping a running node in step with the database: the
 * calendar the engine computes with (at start, after an import through the
 * API, and when another node or `yizhan calendar import` stored a newer
 * notice) and the definitions (loaded on another node).
 *
 * A replaced calendar stays alive until the engine stops, because a thread
 * may still be computing with it; imports are rare and a calendar is small,
 * so at most FLOW_CALENDARS_MAX are kept (beyond that a reload waits for the
 * next start).
 */
#include <pthread.h>

#include "core/log.h"
#include "flow/flow.h"
#include "flow/flow_int.h"

#define FLOW_CALENDARS_MAX 32

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static calendar *kept[FLOW_CALENDARS_MAX];
static int nkept;
static int64_t loaded_seq = -1;

yz_status flow_calendar_reload(store *s, bool force, bool *changed, yz_err *e)
{
	if (changed)
		*changed = false;
	int64_t seq = 0;
	yz_status st = calendar_stored_seq(s, &seq, e);
	if (st != YZ_OK)
		return st;
	pthread_mutex_lock(&mu);
	if ((!force && seq == loaded_seq) || nkept == FLOW_CALENDARS_MAX) {
		if (nkept == FLOW_CALENDARS_MAX && seq != loaded_seq)
			log_warn("calendar: %d versions loaded since start; restart to load notice "
			         "version %lld",
			         nkept, (long long)seq);
		pthread_mutex_unlock(&mu);
		return YZ_OK;
	}
	calendar *cal;
	st = calendar_load(s, &cal, e);
	if (st == YZ_OK) {
		kept[nkept++] = cal;
		loaded_seq = seq;
		flow_set_calendar(cal);
		if (changed)
			*changed = true;
	}
	pthread_mutex_unlock(&mu);
	return st;
}

void flow_calendars_free(void)
{
	pthread_mutex_lock(&mu);
	flow_set_calendar(NULL);
	for (int i = 0; i < nkept; i++)
		calendar_free(kept[i]);
	nkept = 0;
	loaded_seq = -1;
	pthread_mutex_unlock(&mu);
}

yz_status flow_defs_sync(store *s, int *added, yz_err *e)
{
	if (added)
		*added = 0;
	store_conn *c;
	int64_t stored = 0;
	yz_status st = store_reader(s, &c, e);
	if (st == YZ_OK)
		st = store_query_int(c, "SELECT COUNT(*) FROM flow_def", NULL, 0, &stored, e);
	if (st != YZ_OK)
		return st;
	int known = flow_defs_count();
	if (stored <= known)
		return YZ_OK;
	st = flow_defs_restore(s, e);
	if (st == YZ_OK && added)
		*added = flow_defs_count() - known;
	return st;
}
