/*
 * pki.h — the city's certification authority: a CA hierarchy (a root that
 * stands in for the provincial root, the city CA under it), certificate
 * profiles as data, issuance from PKCS#10 requests or public keys,
 * revocation and suspension with RFC 5280 reason codes, CRLs (RFC 5280) and
 * an OCSP responder (RFC 6960) with pre-signed responses.
 *
 * 国密 by default: SM2 keys and SM3withSM2 signatures with the standard ID
 * 1234567812345678 (GM/T 0015; DESIGN §7), with the ID-card and unified
 * social credit code extensions of GM/T 0015 (1.2.156.10260.4.1.1 and
 * 1.2.156.10260.4.4, each a PrintableString). ECDSA P-256 with SHA-256 is an
 * option per CA.
 *
 * Keys at rest: a CA's private key is stored in pki_ca sealed (crypto_seal:
 * SM4-CTR + HMAC-SM3, the CA's name as associated data) under the
 * key-encryption key in <data>/keys/pki.kek (48 random bytes, mode 0600),
 * made by the first pki_ca_create. pki_load opens the keys into this
 * process; every node of a PostgreSQL deployment needs the same file.
 *
 * Revocation reaches the status services at once on the node that records
 * it (its CRL is signed again and its cached OCSP answers dropped in the
 * same call), and on other nodes through pki_refresh, a background job run
 * every 10 s: within 60 s everywhere.
 *
 * Tables (owned here): pki_ca, pki_cert, pki_crl, pki_profile. Every change
 * appends to the audit chain in the same transaction.
 *
 * Threads: after pki_load every function may be called from any thread.
 */
#ifndef YZ_PKI_PKI_H
#define YZ_PKI_PKI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/actor.h"
#include "core/buf.h"
#include "core/status.h"
#include "crypto/crypto.h"
#include "store/store.h"

extern const store_migration pki_migrations[];
extern const int pki_nmigrations;

/* RFC 5280 CRLReason codes that a revocation may carry (7 is unused there;
 * 8, removeFromCRL, is what a lifted suspension becomes). */
typedef enum pki_reason {
	PKI_UNSPECIFIED = 0,
	PKI_KEY_COMPROMISE = 1,
	PKI_CA_COMPROMISE = 2,
	PKI_AFFILIATION_CHANGED = 3,
	PKI_SUPERSEDED = 4,
	PKI_CESSATION = 5,
	PKI_CERTIFICATE_HOLD = 6,
	PKI_PRIVILEGE_WITHDRAWN = 9,
	PKI_AA_COMPROMISE = 10,
} pki_reason;

/* "keyCompromise" etc. ↔ code; -1 when unknown. */
int pki_reason_parse(const char *name);
const char *pki_reason_name(int code);

/* Make a CA: in is {name, title, cn, o?, alg? ("sm2" default, "ecdsa-p256"),
 * parent? (a CA's name; absent: a self-signed root), years? (root 20, others
 * 10)}. The key is generated here and sealed under the KEK (made when
 * missing). The new CA is usable in this process at once. */
YZ_MUST_USE yz_status pki_ca_create(store *s, const char *data_dir, const yz_actor *who, json_t *in,
                                    json_t **out, yz_err *e);

/* Replace the certificate profiles with doc {"profiles": [...]}; each
 * {name, title, validity_days, key_usage[], ext_key_usage[], subject:{cn,
 * o, ou, id_number, uscc, email, dns: "required"|"optional"}, ocsp_nocheck?}.
 * Faults are named by path. */
YZ_MUST_USE yz_status pki_profiles_set(store *s, const yz_actor *who, json_t *doc, yz_err *e);
YZ_MUST_USE yz_status pki_profiles_get(store_conn *c, json_t **out, yz_err *e);

/* Load every CA with its key into this process (after migrations). Without a
 * KEK file (no CA yet) it loads nothing and succeeds. */
YZ_MUST_USE yz_status pki_load(store *s, const char *data_dir, yz_err *e);
void pki_unload(void);
/* Pick up CAs, revocations and CRLs recorded by other processes. */
YZ_MUST_USE yz_status pki_refresh(store *s, yz_err *e);

/* The CAs as a JSON array (public facts: name, title, alg, subject, serial,
 * validity, parent, where the certificate and CRL are). */
json_t *pki_ca_index(void);
/* A CA's certificate, DER, into out. YZ_ENOTFOUND for an unknown CA. */
YZ_MUST_USE yz_status pki_ca_cert(const char *name, buf *out, yz_err *e);

/* Issue a certificate. in: {ca, profile, csr? (PKCS#10, PEM), public_key?
 * (SubjectPublicKeyInfo, PEM), cn?, o?, ou?, id_number?, uscc?, email?,
 * dns?: [..], holder_user?, validity_days?}. Exactly one of csr and
 * public_key; a CSR's own signature must verify (SM2 with the standard ID)
 * and its CN is used when cn is absent. The subject's fields are checked
 * against the profile (required / allowed) and by their rules (GB 11643
 * citizen ID, GB 32100 USCC). out: the certificate's record with "pem". */
YZ_MUST_USE yz_status pki_issue(store *s, const yz_actor *who, json_t *in, json_t **out, yz_err *e);
/* The same inside a write job (the RA flow issues in the transaction that
 * completes the CA's task, so the certificate and the step commit together). */
YZ_MUST_USE yz_status pki_issue_tx(store_conn *tx, const yz_actor *who, json_t *in, json_t **out,
                                   yz_err *e);
/* Revoke (reason != 6) or suspend (reason 6, certificateHold). A revoked
 * certificate cannot change again: YZ_ECONFLICT. */
YZ_MUST_USE yz_status pki_revoke(store *s, const yz_actor *who, const char *ca, const char *serial,
                                 int reason, yz_err *e);
/* Renew a valid certificate: a new one for the same holder, key, profile
 * and subject, with a new serial and validity; with supersede the old one is
 * revoked as superseded. out: the new certificate's record. */
YZ_MUST_USE yz_status pki_renew(store *s, const yz_actor *who, const char *ca, const char *serial,
                                bool supersede, json_t **out, yz_err *e);
/* Lift a suspension (certificateHold): the certificate is valid again. */
YZ_MUST_USE yz_status pki_resume(store *s, const yz_actor *who, const char *ca, const char *serial,
                                 yz_err *e);

/* Certificates: filter {q (CN, serial or key id prefix), ca, status,
 * profile, holder_user, limit, before (id)}; newest first. */
YZ_MUST_USE yz_status pki_cert_list(store_conn *c, json_t *filter, json_t **out, yz_err *e);
/* One certificate by CA and serial (hex, any case) or, with ca NULL, by
 * serial alone; with_der adds "pem". */
YZ_MUST_USE yz_status pki_cert_get(store_conn *c, const char *ca, const char *serial, bool with_der,
                                   json_t **out, yz_err *e);
YZ_MUST_USE yz_status pki_cert_der(store_conn *c, const char *ca, const char *serial, buf *out,
                                   yz_err *e);

/* The CA's current CRL, DER. Signed anew when missing or due. */
YZ_MUST_USE yz_status pki_crl(store *s, const char *ca, buf *out, yz_err *e);
/* Sign a new CRL for every CA whose CRL is stale: a revocation after it, or
 * its next update less than half its period away. */
YZ_MUST_USE yz_status pki_crl_refresh(store *s, int *signed_n, yz_err *e);

/* Answer a DER OCSPRequest with a DER OCSPResponse (always a response:
 * malformedRequest for bytes that do not parse, unauthorized for a CA we do
 * not serve). Answers for one certificate are signed once and reused until
 * the certificate changes or the answer is a quarter of its validity old. */
YZ_MUST_USE yz_status pki_ocsp_answer(store *s, const void *req, size_t n, buf *out, yz_err *e);

/* Verify, with our own code, signatures OpenSSL 3.0 cannot check for SM2
 * (DESIGN §7): a DER CRL or OCSPResponse against the issuing CA's
 * certificate (DER). YZ_ECRYPTO names what failed. */
YZ_MUST_USE yz_status pki_verify_crl(const void *crl, size_t n, const void *ca_cert, size_t cn,
                                     yz_err *e);
YZ_MUST_USE yz_status pki_verify_ocsp(const void *resp, size_t n, const void *ca_cert, size_t cn,
                                      json_t **status, yz_err *e);
/* A certificate (DER) against its issuer's (DER), and its validity now. */
YZ_MUST_USE yz_status pki_verify_cert(const void *cert, size_t n, const void *issuer, size_t in,
                                      yz_err *e);

/* The flow engine's listener that issues the certificate of an RA request
 * when the CA's task completes (pki_ra.c); the program adds it with
 * flow_on_event. */
struct flow_event;
YZ_MUST_USE yz_status pki_flow_event(store_conn *tx, const struct flow_event *ev, void *ctx,
                                     yz_err *e);

/* Set up from a document {base_url?, cas: [CA as for pki_ca_create, parents
 * first]}: the profiles from profiles_file, then every CA not made yet.
 * report (may be NULL) receives the CAs made. */
YZ_MUST_USE yz_status pki_install(store *s, const char *data_dir, const yz_actor *who, json_t *doc,
                                  const char *profiles_file, json_t *report, yz_err *e);

/* ---- the time-stamping authority (RFC 3161, RFC 5816; pki_tsa.c) ----
 *
 * One TSA signer per CA: a key generated here and sealed under the KEK like
 * a CA key, and a certificate from the CA under the "tsa" profile (the one
 * extended key usage timeStamping, critical), recorded in pki_cert so that
 * CRL and OCSP cover it. Tables (owned here too): pki_tsa (the signers),
 * pki_tsa_log (every token issued: serial, time, imprint, signer).
 *
 * Tokens are SignedData encoded by our own DER writer for SM2 (OpenSSL 3.0
 * cannot, DESIGN §7) and ECDSA P-256 alike; SM2 signs with SM3 and the ID
 * 1234567812345678. SM2 answers by default; ECDSA when asked (alg "ecdsa")
 * or when the request's reqPolicy is PKI_TSA_POLICY_ECDSA. pki_tsa.c's
 * header says the rest (signer choice, serials, accuracy, failure codes).
 *
 * The policy OIDs are PLACEHOLDERS under 1.3.6.1.4.1.32473, the enterprise
 * number RFC 5612 reserves for documentation: a city must register its own
 * arc and put it here before it issues time-stamps in earnest. */
#define PKI_TSA_POLICY_SM2   "1.3.6.1.4.1.32473.3161.1"
#define PKI_TSA_POLICY_ECDSA "1.3.6.1.4.1.32473.3161.2"

/* Make a TSA signer for a CA (key, certificate under the "tsa" profile,
 * sealed key, pki_tsa row, audit record); usable in this process at once.
 * The newest signer of a CA is the one that signs. out (may be NULL): the
 * signer as in pki_tsa_index. */
YZ_MUST_USE yz_status pki_tsa_create(store *s, const char *data_dir, const yz_actor *who,
                                     const char *ca, json_t **out, yz_err *e);
/* Whether a CA has a TSA signer loaded. */
bool pki_tsa_has(const char *ca);
/* The signers as a JSON array: {ca, alg, serial, subject, not_after, policy,
 * default (whether it answers for its algorithm)}. */
json_t *pki_tsa_index(void);
/* The TSA certificate (DER) of a CA's signer. YZ_ENOTFOUND when none. */
YZ_MUST_USE yz_status pki_tsa_cert(const char *ca, buf *out, yz_err *e);

/* Answer a DER TimeStampReq with a DER TimeStampResp, always: granted with a
 * token, or rejection with a failInfo (badAlg, badRequest, badDataFormat for
 * bytes that do not parse, unacceptedPolicy, unacceptedExtension) and a
 * statusString; those return YZ_OK. Only a failure of ours (signing, the
 * token's record) returns an error, with a systemFailure answer in out.
 * Every token is recorded in pki_tsa_log through store_write before it is
 * returned. pki_tsa_answer_as takes the signer's algorithm: NULL or "" (SM2
 * unless the reqPolicy names ECDSA), "sm2", "ecdsa" (or "ecdsa-p256");
 * anything else is a rejection with badRequest. */
YZ_MUST_USE yz_status pki_tsa_answer(store *s, const void *req, size_t n, buf *out, yz_err *e);
YZ_MUST_USE yz_status pki_tsa_answer_as(store *s, const char *alg, const void *req, size_t n,
                                        buf *out, yz_err *e);

/* Our verifier of a time-stamp (a DER TimeStampResp or a bare token): the
 * signature (SM2 with the ID 1234567812345678 and SM3, or ECDSA P-256 with
 * SHA-256) over the signed attributes, the messageDigest attribute against
 * the TSTInfo, the signing-certificate(-v2) attribute against the TSA
 * certificate, the certificate's extended key usage (timeStamping alone,
 * critical), the certificate against ca_cert (DER or PEM; NULL: the CA of
 * this process that issued it) and its validity, genTime within it, and,
 * when data is given, the message imprint against the data's hash. The TSA
 * certificate comes from the token, or, when the token carries none, from
 * the signers loaded in this process. info (may be NULL): {serial,
 * gen_time (ISO-8601 UTC with milliseconds), gen_time_ms, policy, hash_alg,
 * hashed_message, accuracy_s, ordering, nonce?, signer (the TSA's subject),
 * signature, certificate_in_token, status?}. Failures name why: YZ_ECRYPTO
 * for a signature, digest or binding that does not hold, YZ_EINVAL for bytes
 * that are not a token, YZ_EREFUSED for a response that grants nothing. */
YZ_MUST_USE yz_status pki_tsa_verify(const void *token_or_resp, size_t n, const void *data,
                                     size_t dn, const void *ca_cert, size_t cn, json_t **info,
                                     yz_err *e);

/* ---- notary of the audit chain (pki_notary.c) ---- */
/* Attest the audit checkpoints that have no attestation yet: the platform
 * key's certificate (issued once by the SM2 city CA) and an SM2 time-stamp
 * over each checkpoint's signature. Does nothing before there is an SM2 CA
 * with a TSA. */
YZ_MUST_USE yz_status pki_notary_run(store *s, int *done, yz_err *e);
/* The audit chain's verifier of those attestations (audit_set_attest_check). */
bool pki_notary_check(void *ctx, const crypto_key *key, const void *sig, size_t siglen,
                      const void *cert, size_t certlen, const void *token, size_t toklen,
                      char *reason, size_t cap);

/* ---- certificate sign-in (pki_login.c) ---- */
/* Derive this process's challenge key from the KEK (pki_load does it). */
YZ_MUST_USE yz_status pki_login_init(const char *data_dir, yz_err *e);
/* A one-time challenge for a USB key to sign (good for two minutes). */
YZ_MUST_USE yz_status pki_login_challenge(char *out, size_t cap, yz_err *e);
/* The account a certificate (DER) signs in: one of ours, valid now, neither
 * revoked nor suspended (the reason named), with clientAuth, held by a user.
 * ref receives "<ca>/<serial>". Refusals are YZ_EUNAUTH, or YZ_EFORBIDDEN
 * for a revoked or suspended certificate. */
YZ_MUST_USE yz_status pki_login_check(store *s, const void *der, size_t n, int64_t *user_id,
                                      char *ref, size_t refcap, yz_err *e);
/* The same for a certificate in PEM that signed a challenge of ours (SM2 with
 * the standard ID, or ECDSA P-256); the challenge is good once. */
YZ_MUST_USE yz_status pki_login_signed(store *s, const char *cert_pem, const char *challenge,
                                       const void *sig, size_t siglen, int64_t *user_id, char *ref,
                                       size_t refcap, yz_err *e);

/* `yizhan pki …` (init, ca-add, issue, revoke, resume, list, crl, cas). */
int pki_cli_run(store *s, const char *data_dir, const char *profiles_file, int argc, char **argv);

/* The key management centre (data keys, encryption key pairs, recovery). */
#include "pki/kmc.h"

/* Signatures of files and electronic seals (GB/T 38540), and our verifier. */
#include "pki/pki_sign.h"

#endif
