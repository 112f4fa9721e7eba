/*
 * pki_signer.h — what pki_sign.c and pki_seal.c share: the platform-held
 * signing keys (pki_signer rows) opened for a moment, made and recorded;
 * time-stamps of our TSA over a signature value; and the verifier's view
 * of a certificate (its issuing CA among ours, its validity and its status
 * at a time). Internal to the pki module.
 */
#ifndef YZ_PKI_PKI_SIGNER_H
#define YZ_PKI_PKI_SIGNER_H

#include "pki/pki_cms.h"
#include "pki/pki_int.h"
#include "pki/pki_sign.h"

/* A signer opened (its key in the clear in this process until closed), or
 * one just made and not recorded yet. */
typedef struct pki_signer_rt {
	int64_t id;
	char kind[16];
	char name[256];
	int64_t org_id;
	char org_path[256];
	const pki_ca_rt *ca;
	crypto_key *key;
	buf cert; /* DER */
	char serial[PKI_SERIAL_HEX + 8];
	char subject[256];
} pki_signer_rt;

void pki_signer_init(pki_signer_rt *sr);
void pki_signer_close(pki_signer_rt *sr);
/* Open signer id (its row, its key under the KEK of data_dir). */
YZ_MUST_USE yz_status pki_signer_open(store_conn *c, const char *data_dir, int64_t id,
                                      pki_signer_rt *sr, yz_err *e);
/* The signer's certificate is valid now on our register (not revoked,
 * suspended or expired): YZ_ECONFLICT naming why not. */
YZ_MUST_USE yz_status pki_signer_cert_ok(store_conn *c, const pki_signer_rt *sr, yz_err *e);
/* The CA that certifies the platform's keys of alg: the first subordinate
 * CA of the algorithm, else its first root; NULL when there is none. */
const pki_ca_rt *pki_signer_ca(crypto_alg alg);
/* Make a key under ca and have it certified under profile with subject
 * {cn, o?, ou?, uscc?}; sealed receives the key sealed under the KEK. The
 * row is written by pki_signer_insert in the caller's transaction; when
 * that does not happen, pki_signer_abandon revokes the certificate. */
YZ_MUST_USE yz_status pki_signer_make(store *s, const char *data_dir, const yz_actor *who,
                                      const pki_ca_rt *ca, const char *kind, const char *profile,
                                      json_t *subject, pki_signer_rt *sr, buf *sealed, yz_err *e);
YZ_MUST_USE yz_status pki_signer_insert(store_conn *tx, const yz_actor *who, pki_signer_rt *sr,
                                        const buf *sealed, yz_err *e);
/* pki_signer_insert and its audit record (pki.signer.create). */
YZ_MUST_USE yz_status pki_signer_record(store_conn *tx, const yz_actor *who, pki_signer_rt *sr,
                                        const buf *sealed, yz_err *e);
void pki_signer_abandon(store *s, const yz_actor *who, const pki_signer_rt *sr);

/* A token of our TSA over a signature value (the imprint: SM3 of it for
 * alg SM2, SHA-256 for ECDSA; the TSA certificate inside), appended to
 * token, and its serial; nothing (and YZ_OK) when no TSA signer of that
 * algorithm is set up. */
YZ_MUST_USE yz_status pki_signer_timestamp(store *s, crypto_alg alg, const void *sig, size_t n,
                                           buf *token, char *serial, size_t cap, yz_err *e);

/* The verifier's view of a certificate. */
typedef struct pki_cert_view {
	X509 *x;
	crypto_key *key;
	const pki_ca_rt *ca; /* the CA of this platform that issued it, or NULL */
	const unsigned char *der;
	size_t der_len;
	char subject[256], cn[128], o[128], issuer[256];
	char serial[80];
	int64_t not_before, not_after;
} pki_cert_view;

/* Parse a certificate (DER) and its public key (SM2 or P-256). */
YZ_MUST_USE yz_status pki_cert_view_open(const void *der, size_t n, pki_cert_view *v, yz_err *e);
void pki_cert_view_close(pki_cert_view *v);
/* Issued by a CA of this platform (its signature checks out with our
 * verifier), for signing (key usage digitalSignature or nonRepudiation,
 * when it has a key usage) and valid at `at`. YZ_ECRYPTO saying why not. */
YZ_MUST_USE yz_status pki_cert_view_check(const pki_cert_view *v, int64_t at, yz_err *e);
/* {subject, cn, o?, serial, ca?, issuer, ours} */
json_t *pki_cert_view_json(const pki_cert_view *v);
/* The status of the certificate then: {status (now: valid, revoked,
 * suspended, unknown), at_signing, reason?, revoked_at?, revoked_later,
 * not_before, not_after}; *bad_then is set when it was revoked or
 * suspended at `at`. */
YZ_MUST_USE yz_status pki_cert_view_status(store *s, const pki_cert_view *v, int64_t at,
                                           json_t **out, bool *bad_then, yz_err *e);

/* Verify a time-stamp token over a signature value: *ms its genTime, ts
 * {gen_time, serial, tsa, policy}. YZ_ECRYPTO naming why. */
YZ_MUST_USE yz_status pki_signer_check_token(const void *token, size_t n, const void *sig,
                                             size_t sn, int64_t *ms, json_t **ts, yz_err *e);

/* The org (an iam record: id, name, path, uscc, ...) when it lies within
 * scope; else a field error on org_id. */
YZ_MUST_USE yz_status pki_sign_org(store *s, const yz_scope *scope, int64_t org_id, json_t **org,
                                   yz_err *e);
/* {cn, o?, uscc?} for a certificate of org's (an iam org record): o when it
 * fits 64 characters, uscc when its check character is right. */
json_t *pki_sign_subject(json_t *org, const char *cn);
/* Record a signature made (pki_signature) with its audit record (action
 * pki.seal.apply for kind "seal", pki.sign for "cms"); *id its row. */
YZ_MUST_USE yz_status pki_sign_record(store *s, const yz_actor *who, const char *kind,
                                      int64_t signer_id, int64_t seal_id, const char *org_path,
                                      int64_t now, const char *hash_alg, const unsigned char *hash,
                                      size_t hash_len, const char *file_name,
                                      const char *tsa_serial, const buf *der, int64_t *id,
                                      yz_err *e);
/* A verification result's frame (verdict invalid until settled), and the
 * first failed check: it makes the verdict "invalid", or "tampered" when
 * the check is "document_hash". A later failure replaces only a
 * "document_hash" one (a signature that does not hold is invalid whether or
 * not the document changed too). */
json_t *pki_verify_frame(const char *kind);
void pki_verify_fail(json_t *o, const char *check, const char *reason);

/* ISO-8601 in the city's zone. */
void pki_sign_time(json_t *o, const char *key, int64_t ms);
/* Lower-case hex of bytes into o[key]. */
void pki_sign_hex(json_t *o, const char *key, const void *p, size_t n);

#endif
