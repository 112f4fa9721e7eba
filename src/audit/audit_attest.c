/*
 * audit_attest.c — checkpoints attested by a notary (see audit.h): the
 * certificate of the key that signed a checkpoint and a time-stamp over its
 * signature, written after the checkpoint commits, and checked with the
 * notary's verifier during audit_verify.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "core/clock.h"

static pthread_mutex_t check_mu = PTHREAD_MUTEX_INITIALIZER;
static audit_attest_check_fn check_fn;
static void *check_ctx;

void audit_set_attest_check(audit_attest_check_fn fn, void *ctx)
{
	pthread_mutex_lock(&check_mu);
	check_fn = fn;
	check_ctx = ctx;
	pthread_mutex_unlock(&check_mu);
}

#define ATTEST_MAX 64

typedef struct pending {
	int64_t seq;
	char key_id[65];
	unsigned char sig[160];
	size_t siglen;
	buf cert, token;
	bool ready;
} pending;

typedef struct attest_job {
	pending *p;
	int n;
} attest_job;

static yz_status attest_job_fn(store_conn *tx, void *arg, yz_err *e)
{
	attest_job *j = arg;
	int64_t now = clock_now_ms();
	yz_status st = YZ_OK;
	for (int i = 0; i < j->n && st == YZ_OK; i++) {
		if (!j->p[i].ready)
			continue;
		store_val v[] = {sv_int(j->p[i].seq), sv_blob(j->p[i].cert.p, j->p[i].cert.len),
		                 sv_blob(j->p[i].token.p, j->p[i].token.len), sv_int(now)};
		st = store_exec(
		    tx,
		    "INSERT INTO audit_attest (seq, cert, token, at) VALUES (?, ?, ?, ?) "
		    "ON CONFLICT (seq) DO NOTHING",
		    v, 4, e);
	}
	return st;
}

yz_status audit_attest_pending(store *s, audit_attest_fn fn, void *ctx, int max, int *done,
                               yz_err *e)
{
	*done = 0;
	if (max < 1 || max > ATTEST_MAX)
		max = ATTEST_MAX;
	store_conn *c;
	yz_status st = store_reader(s, &c, e);
	if (st != YZ_OK)
		return st;
	store_rows *r;
	store_val lim[] = {sv_int(max)};
	st = store_query(c,
	                 "SELECT cp.seq, cp.key_id, cp.signature FROM audit_checkpoint cp "
	                 "LEFT JOIN audit_attest a ON a.seq = cp.seq WHERE a.seq IS NULL "
	                 "ORDER BY cp.seq LIMIT ?",
	                 lim, 1, &r, e);
	if (st != YZ_OK)
		return st;
	pending *p = calloc((size_t)max, sizeof *p);
	if (!p) {
		store_rows_discard(r);
		return yz_fail(e, YZ_ENOMEM, "out of memory");
	}
	int n = 0;
	while (n < max && store_next(r)) {
		size_t sl;
		const void *sig = store_col_blob(r, 2, &sl);
		if (sl > sizeof p[n].sig)
			continue;
		p[n].seq = store_col_int(r, 0);
		yz_strlcpy(p[n].key_id, store_col_text(r, 1), sizeof p[n].key_id);
		memcpy(p[n].sig, sig, sl);
		p[n].siglen = sl;
		n++;
	}
	st = store_rows_close(r, e);
	/* the keys, to hand the notary the one that signed */
	crypto_key **keys = calloc((size_t)(n ? n : 1), sizeof *keys);
	for (int i = 0; st == YZ_OK && keys && i < n; i++) {
		store_val k[] = {sv_text(p[i].key_id)};
		store_rows *kr;
		if ((st = store_query(c, "SELECT public_pem FROM audit_key WHERE key_id = ?", k, 1,
		                      &kr, e)) != YZ_OK)
			break;
		if (store_next(kr)) {
			const char *pem = store_col_text(kr, 0);
			if (crypto_key_from_pem(pem, strlen(pem), NULL, &keys[i], NULL) != YZ_OK)
				keys[i] = NULL;
		}
		st = store_rows_close(kr, e);
	}
	int ready = 0;
	for (int i = 0; st == YZ_OK && keys && i < n; i++) {
		buf_init(&p[i].cert, 64 * 1024);
		buf_init(&p[i].token, 64 * 1024);
		yz_err fe = {0};
		if (keys[i] && fn(ctx, p[i].seq, keys[i], p[i].sig, p[i].siglen, &p[i].cert,
		                  &p[i].token, &fe) == YZ_OK) {
			p[i].ready = true;
			ready++;
		}
	}
	if (st == YZ_OK && ready) {
		attest_job j = {p, n};
		st = store_write(s, attest_job_fn, &j, e);
	}
	if (st == YZ_OK)
		*done = ready;
	for (int i = 0; i < n; i++) {
		buf_free(&p[i].cert);
		buf_free(&p[i].token);
		if (keys)
			crypto_key_free(keys[i]);
	}
	free(keys);
	free(p);
	return st;
}

yz_status audit_attest_verify(store_conn *c, audit_key_lookup_fn keys, void *kctx,
                              audit_report *out, yz_err *e)
{
	store_rows *r;
	yz_status st = store_query(c,
	                           "SELECT a.seq, cp.key_id, cp.signature, a.cert, a.token FROM "
	                           "audit_attest a JOIN audit_checkpoint cp ON cp.seq = a.seq "
	                           "ORDER BY a.seq",
	                           NULL, 0, &r, e);
	if (st != YZ_OK)
		return st;
	pthread_mutex_lock(&check_mu);
	audit_attest_check_fn fn = check_fn;
	void *ctx = check_ctx;
	pthread_mutex_unlock(&check_mu);
	int64_t unchecked = 0;
	while (store_next(r)) {
		int64_t seq = store_col_int(r, 0);
		size_t sl, cl, tl;
		const void *sig = store_col_blob(r, 2, &sl);
		const void *cert = store_col_blob(r, 3, &cl);
		const void *token = store_col_blob(r, 4, &tl);
		if (!fn) {
			unchecked++;
			continue;
		}
		const crypto_key *k = keys(kctx, store_col_text(r, 1));
		char why[200] = "";
		if (!k || !fn(ctx, k, sig, sl, cert, cl, token, tl, why, sizeof why)) {
			out->ok = false;
			out->first_bad = seq;
			snprintf(out->reason, sizeof out->reason,
			         "checkpoint at record %lld: its attestation does not hold: %s",
			         (long long)seq, why[0] ? why : "unknown key");
			break;
		}
		out->attested++;
	}
	st = store_rows_close(r, e);
	if (st == YZ_OK && out->ok && unchecked)
		snprintf(out->reason, sizeof out->reason,
		         "%lld attested checkpoints were not checked: no notary loaded",
		         (long long)unchecked);
	return st;
}
