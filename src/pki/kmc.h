/*
 * kmc.h — the key management centre (密钥管理中心, KMC) of the pki module:
 *
 *  1. Data keys for the platform's own modules (sensitive columns: SM4 with
 *     an HMAC-SM3 blind index, DESIGN §7). A data key is 48 random bytes,
 *     CRYPTO_SEAL_KEY_LEN: it is a crypto_seal key, from which crypto_seal
 *     derives the SM4-CTR key (16 bytes, so 128-bit SM4 strength) and the
 *     HMAC-SM3 key; a module derives its blind-index key from it with
 *     kmc_blind_key. A bare 16-byte SM4 key would leave integrity and the
 *     blind index without a key of their own. Data keys are versioned: a
 *     rotation makes a new version current; the old versions stay readable so
 *     that what they encrypted can still be decrypted (a module stores the
 *     version beside its ciphertext).
 *
 *  2. Encryption key pairs of dual certificates (GM/T 0015, GB/T 35276): the
 *     holder keeps their signing key; the KMC generates the SM2 encryption
 *     key pair, archives the private key, has the CA certify the public key
 *     under an encryption profile ("user-enc"), and delivers the private key
 *     to the holder in an envelope encrypted to the public key of the
 *     holder's signing certificate. Signing keys are never escrowed: a
 *     request under a profile whose key usage includes digitalSignature or
 *     nonRepudiation is refused (YZ_EREFUSED).
 *
 *  3. Key recovery (恢复) of an archived encryption key: a request (who, which
 *     key, why, for which recipient certificate) starts an instance of the
 *     flow KMC_RECOVERY_FLOW (packs/<city>/flows/pki.kmc.recovery.json:
 *     three parallel approver tasks and a join that fires on two of them).
 *     kmc_flow_event, a listener of the flow engine, holds the KMC's rules
 *     in the transactions of that flow: an approval comes from a holder of
 *     "pki.kmc.approve" who is not the requester and has not approved this
 *     request before; the flow may end "approved" only with
 *     KMC_RECOVERY_QUORUM such approvals. kmc_recovery_release then hands the
 *     key out once, in an envelope to the named recipient certificate, and
 *     closes the request; a second release, or one before the approvals, is
 *     refused with YZ_ECONFLICT naming the rule.
 *
 * Keys at rest: every secret (data keys, archived private keys) is sealed
 * with crypto_seal (SM4-CTR + HMAC-SM3) under the KMC's own key-encryption
 * key in <data>/keys/kmc.kek (48 random bytes, mode 0600, made on first use;
 * separate from the CA's pki.kek). The associated data binds each sealed
 * value to its row: "yizhan-kmc-dk:<key id>:<version>:<purpose>" for a data
 * key, "yizhan-kmc-enc:<key id>" for an archived private key, so a sealed
 * value moved to another row does not open. Every node of a PostgreSQL
 * deployment needs the same kmc.kek.
 *
 * The envelope is GB/T 35276-2017 §7.4 (GM/T 0009-2012 §7.4) SM2EnvelopedKey,
 * DER:
 *     SM2EnvelopedKey ::= SEQUENCE {
 *         symAlgID               AlgorithmIdentifier, -- sm4-ecb 1.2.156.10197.1.104.1
 *         symEncryptedKey        SM2Cipher,           -- a random SM4 key, SM2-encrypted
 *         Sm2PublicKey           BIT STRING,          -- 04 || x || y of the key pair
 *         Sm2EncryptedPrivateKey BIT STRING }         -- SM4-ECB of d (32 bytes)
 * The standard gives the private key no integrity of its own beyond what
 * SM2Cipher's C3 gives the SM4 key; kmc_envelope_open therefore checks that
 * d·G is the enclosed public key, and the holder checks that public key
 * against the encryption certificate. Where we differ: nothing in the
 * structure; the JSON API carries it base64-encoded beside the certificate,
 * where GM/T 0014's online protocol would carry it in its own messages.
 *
 * Audit: every data-key create, rotate and unwrap (a module taking a key out
 * of the KMC), every archive, and every step of a recovery appends to the
 * audit chain in the same transaction as the change (never the key itself).
 *
 * Tables (owned here): kmc_data_key, kmc_enc_key, kmc_recovery,
 * kmc_recovery_approval (pki_schema.c, migration 3).
 */
#ifndef YZ_PKI_KMC_H
#define YZ_PKI_KMC_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/actor.h"
#include "core/buf.h"
#include "core/status.h"
#include "crypto/crypto.h"
#include "store/store.h"

#define KMC_KEK_FILE        "keys/kmc.kek"
#define KMC_DATA_KEY_LEN    CRYPTO_SEAL_KEY_LEN /* 48 */
#define KMC_KEY_ID_MAX      40
#define KMC_RECOVERY_FLOW   "pki.kmc.recovery"
#define KMC_RECOVERY_QUORUM 2
#define KMC_ENVELOPE_FORMAT "GB/T 35276 SM2EnvelopedKey (DER, base64)"

/* The KMC's key-encryption key; create makes it when missing. */
YZ_MUST_USE yz_status kmc_kek(const char *data_dir, bool create,
                              unsigned char kek[CRYPTO_SEAL_KEY_LEN], yz_err *e);

/* ---- data keys ---- */

/* A new data key (version 1) for purpose (1..64 characters: a-z 0-9 . _ -
 * :, e.g. "registry.person.id_number"); key_id receives "dk-" and 16 hex
 * digits. */
YZ_MUST_USE yz_status kmc_data_key_create(store *s, const char *data_dir, const yz_actor *who,
                                          const char *purpose, char key_id[KMC_KEY_ID_MAX],
                                          yz_err *e);
/* A new version of key_id becomes current; *version (may be NULL) gets it. */
YZ_MUST_USE yz_status kmc_data_key_rotate(store *s, const char *data_dir, const yz_actor *who,
                                          const char *key_id, int *version, yz_err *e);
/* Unwrap a data key for a module of this process: version 0 is the current
 * one; *got (may be NULL) receives the version handed out. Audited (action
 * pki.kmc.datakey.unwrap) in the transaction that reads it, so a module
 * should keep the key rather than ask for every row. YZ_ENOTFOUND for an
 * unknown key or version, YZ_ECRYPTO when it does not open (another KEK, or
 * a wrapped key moved to another key id). */
YZ_MUST_USE yz_status kmc_data_key_get(store *s, const char *data_dir, const yz_actor *who,
                                       const char *key_id, int version,
                                       unsigned char key[KMC_DATA_KEY_LEN], int *got, yz_err *e);
/* The data keys without their material: {items: [{key_id, purpose, version
 * (current), versions: [{version, created_at}], created_at}]}. */
YZ_MUST_USE yz_status kmc_data_key_list(store_conn *c, json_t **out, yz_err *e);
/* The blind-index key of a data key: HMAC-SM3(key, "yizhan-blind-index:" ||
 * label), so one data key serves a column's encryption and its look-up. */
void kmc_blind_key(const unsigned char key[KMC_DATA_KEY_LEN], const char *label,
                   unsigned char out[CRYPTO_SM3_LEN]);

/* ---- envelopes ---- */

/* The SM2EnvelopedKey (DER, appended to out) carrying the SM2 private key
 * priv to the holder of recipient (an SM2 public key). */
YZ_MUST_USE yz_status kmc_envelope_seal(const crypto_key *priv, const crypto_key *recipient,
                                        buf *out, yz_err *e);
/* Open an envelope with the recipient's private key: the private key it
 * carries, checked against the public key it encloses (d·G). YZ_ECRYPTO for
 * another recipient or damage, YZ_EINVAL for bytes that are not one. */
YZ_MUST_USE yz_status kmc_envelope_open(const void *der, size_t n, const crypto_key *recipient,
                                        crypto_key **out, yz_err *e);

/* ---- encryption key pairs ---- */

/* Generate, archive and certify an encryption key pair for the holder of a
 * signing certificate. in: {ca, serial (the holder's signing certificate:
 * valid, SM2, key usage digitalSignature), profile? ("user-enc")}. The
 * encryption certificate comes from the same CA with the subject fields of
 * the signing certificate that the profile allows, and the same holder.
 * Certificate and archive commit in one transaction. out: {certificate (the
 * record with "pem"), key_id, envelope (base64 DER), envelope_format,
 * recipient: {ca, serial}}. */
YZ_MUST_USE yz_status kmc_enc_key_issue(store *s, const char *data_dir, const yz_actor *who,
                                        json_t *in, json_t **out, yz_err *e);
/* The archive without key material: filter {holder_user, ca, serial (of
 * either certificate), limit, before}; newest first. */
YZ_MUST_USE yz_status kmc_enc_key_list(store_conn *c, json_t *filter, json_t **out, yz_err *e);

/* ---- recovery ---- */

/* Ask for the recovery of an archived key: starts the recovery flow with
 * in: {ca, serial (the encryption certificate), reason, recipient_ca,
 * recipient_serial (the certificate whose key will open the envelope)}; the
 * KMC's request is recorded by kmc_flow_event in the flow's first
 * transaction. out: the request as kmc_recovery_get. */
YZ_MUST_USE yz_status kmc_recovery_request(store *s, const yz_actor *who, json_t *in, json_t **out,
                                           yz_err *e);
/* Approve (complete one of the open approver tasks `who` may take) or refuse
 * (reject the flow: the request is closed, nothing is released). */
YZ_MUST_USE yz_status kmc_recovery_approve(store *s, const yz_actor *who, int64_t id,
                                           const char *comment, yz_err *e);
YZ_MUST_USE yz_status kmc_recovery_refuse(store *s, const yz_actor *who, int64_t id,
                                          const char *reason, yz_err *e);
/* Release the key of an approved request, once: out {id, key_id, ca, serial,
 * recipient: {ca, serial}, envelope, envelope_format}. */
YZ_MUST_USE yz_status kmc_recovery_release(store *s, const char *data_dir, const yz_actor *who,
                                           int64_t id, json_t **out, yz_err *e);
/* {id, status (open, approved, refused, released), key: {ca, serial,
 * key_id, cn}, reason, requester, recipient, instance_id, approvals: [{user,
 * login, step, at}], needed, created_at, closed_at?, released_at?,
 * released_by?}. */
YZ_MUST_USE yz_status kmc_recovery_get(store_conn *c, int64_t id, json_t **out, yz_err *e);
/* filter {status, limit, before}; newest first: {items: [...]}. */
YZ_MUST_USE yz_status kmc_recovery_list(store_conn *c, json_t *filter, json_t **out, yz_err *e);

/* The flow engine's listener for KMC_RECOVERY_FLOW (the program adds it with
 * flow_on_event): records the request when the flow starts, checks and
 * records each approval, and settles the request when the flow closes. */
struct flow_event;
YZ_MUST_USE yz_status kmc_flow_event(store_conn *tx, const struct flow_event *ev, void *ctx,
                                     yz_err *e);

/* The KMC's JSON API under /api/v1/pki/kmc/ (kmc_api.c); pki_api_routes
 * calls it. */
struct yz_app;
YZ_MUST_USE yz_status kmc_api_routes(struct yz_app *app, yz_err *e);
/* Its pages under /pki/kmc (kmc_pages.c); pki_routes calls it. */
YZ_MUST_USE yz_status kmc_page_routes(struct yz_app *app, yz_err *e);

#endif
