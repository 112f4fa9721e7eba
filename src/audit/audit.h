/*
 * audit.h — the audit chain: an append-only SM3 hash chain of every state
 * change, with checkpoints signed by the platform key.
 *
 * Every module that changes state calls audit_append() inside the same write
 * job (the same transaction) as the change, so a change and its audit record
 * commit together or not at all. Each record holds: sequence number, time,
 * actor (id and login), action ("iam.user.create"), object ("user:42"), the
 * org path of the object (for scoped browsing), the change document and its
 * SM3 digest, request id and client address, the previous record's hash, and
 * its own hash:
 *
 *   hash = SM3("yizhan-audit-v1" 0x00 || u64 seq || i64 at || i64 actor_id ||
 *              lp(actor) || lp(action) || lp(object) || lp(org_path) ||
 *              lp(digest) || lp(request_id) || lp(ip) || prev[32])
 *
 * (integers big-endian, lp = u32 big-endian length then bytes; the first
 * record's prev is 32 zero bytes.) Sequence numbers are dense from 1; the
 * head row (audit_head) is updated in the same transaction, which on
 * PostgreSQL also serialises appends from several nodes.
 *
 * Checkpoints: every AUDIT_CHECKPOINT_EVERY records, and on demand (a
 * background job each minute, and at shutdown), the hash at a sequence number
 * is signed with the platform's SM2 key (created by `yizhan init`, private
 * part in <data>/keys/platform.key, public part in audit_key). An attacker who
 * edits a record and recomputes every later hash still cannot forge the
 * checkpoint signatures.
 *
 * audit_verify() recomputes everything and names the first bad record.
 * Records are never updated or deleted by the program.
 */
#ifndef YZ_AUDIT_AUDIT_H
#define YZ_AUDIT_AUDIT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/actor.h"
#include "core/status.h"
#include "crypto/crypto.h"
#include "store/store.h"

#define AUDIT_CHECKPOINT_EVERY 256

extern const store_migration audit_migrations[];
extern const int audit_nmigrations;

/* Create the platform signing key (SM2), store its public part and write the
 * private part to <data_dir>/keys/platform.key (mode 0600). Fails if a key
 * already exists there. */
YZ_MUST_USE yz_status audit_init_keys(store *s, const char *data_dir, yz_err *e);
/* Load the platform key for signing checkpoints in this process. Until this
 * is called appends still chain, but no checkpoint is signed. */
YZ_MUST_USE yz_status audit_load_signer(store *s, const char *data_dir, yz_err *e);
/* Forget the loaded signer (shutdown, tests). */
void audit_unload_signer(void);

/* Append one record inside a write job. change (may be NULL) is a JSON
 * object describing what changed; it must not hold secrets. Not stolen. */
YZ_MUST_USE yz_status audit_append(store_conn *tx, const yz_actor *who, const char *action,
                                   const char *object, const char *org_path, json_t *change,
                                   yz_err *e);

/* Sign the current head if it moved since the last checkpoint. */
YZ_MUST_USE yz_status audit_checkpoint(store *s, yz_err *e);

typedef struct audit_report {
	bool ok;
	int64_t records;
	int64_t checkpoints;
	int64_t attested;  /* checkpoints with a notary's certificate and time-stamp, checked */
	int64_t first_bad; /* sequence number of the first bad record, 0 if none */
	char reason[256];  /* what is wrong with it */
} audit_report;

/* Recompute the chain from the start. Returns YZ_OK when the check ran (the
 * verdict is in the report), or an error when it could not run. */
YZ_MUST_USE yz_status audit_verify(store *s, audit_report *out, yz_err *e);

/* ---- attestation by a notary (audit_attest.c) ----
 *
 * A module above audit (the pki) attests checkpoints after they are signed:
 * the certificate of the key that signed a checkpoint (issued by the city
 * CA) and a trusted time-stamp over the checkpoint's signature, stored in
 * audit_attest. audit cannot judge certificates or time-stamps itself, so
 * the notary registers a verifier; audit_verify then checks every
 * attestation with it (and counts them in audit_report.attested). */

/* Fill cert (DER) and token (DER) for a checkpoint's signature, signed by
 * key; return an error to leave the checkpoint for a later pass. */
typedef yz_status (*audit_attest_fn)(void *ctx, int64_t seq, const crypto_key *key, const void *sig,
                                     size_t siglen, buf *cert, buf *token, yz_err *e);
/* Attest up to max checkpoints that have no attestation yet. */
YZ_MUST_USE yz_status audit_attest_pending(store *s, audit_attest_fn fn, void *ctx, int max,
                                           int *done, yz_err *e);
/* Check one attestation: the certificate holds key, is the CA's, and the
 * time-stamp covers sig. false with a reason when it does not. */
typedef bool (*audit_attest_check_fn)(void *ctx, const crypto_key *key, const void *sig,
                                      size_t siglen, const void *cert, size_t certlen,
                                      const void *token, size_t toklen, char *reason, size_t cap);
/* Register the verifier (NULL: attestations are counted but not checked —
 * audit_verify then says so in the reason of a sound report). */
void audit_set_attest_check(audit_attest_check_fn fn, void *ctx);
/* For audit_verify: check the attestations on connection c. */
typedef const crypto_key *(*audit_key_lookup_fn)(void *ctx, const char *key_id);
YZ_MUST_USE yz_status audit_attest_verify(store_conn *c, audit_key_lookup_fn keys, void *kctx,
                                          audit_report *out, yz_err *e);

typedef struct audit_filter {
	int64_t before;     /* cursor: records with seq < before (0 = newest) */
	int limit;          /* 1..200, default 50 */
	const char *actor;  /* login, exact */
	const char *action; /* prefix, e.g. "iam.user" */
	const char *object; /* exact, e.g. "user:42" */
} audit_filter;

/* Newest first, within the scope (by org path prefix; records without an org
 * path are visible only to an unrestricted scope). *out gets {"items": [...],
 * "next": cursor or null}. */
YZ_MUST_USE yz_status audit_list(store_conn *c, const yz_scope *scope, const audit_filter *f,
                                 json_t **out, yz_err *e);
YZ_MUST_USE yz_status audit_get(store_conn *c, const yz_scope *scope, int64_t seq, json_t **out,
                                yz_err *e);

#endif
