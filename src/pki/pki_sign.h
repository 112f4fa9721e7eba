/*
 * pki_sign.h — signatures and electronic seals: detached signatures of
 * files (CMS SignedData, RFC 5652), electronic seals after GB/T 38540-2020
 * (SESeal and SES_Signature, version 4), and our verifier of both, which
 * says who signed, when (the time of our TSA's token when there is one),
 * and the status the signer's certificate had at that time.
 *
 * Keys. Every signature is made with a key the platform holds (a signer):
 * generated here, certified by a CA of this platform, sealed under the KEK
 * like a CA key (crypto_seal, associated data
 * "yizhan-pki-signer:<ca>:<certificate serial>") in pki_signer, and opened
 * only for the moment it signs. Kinds: "seal" (a department's seal: SM2,
 * profile "seal", subject CN the seal's name and O the department), "maker"
 * (the seal-making system that signs every seal, one per SM2 CA, made on
 * first use, profile "seal") and "app" (an application's document-signing
 * key: SM2 or ECDSA P-256, profile "signing"). The "seal" and "signing"
 * profiles carry key usage digitalSignature and nonRepudiation and no
 * extended key usage, so OpenSSL's S/MIME purpose check (what
 * `openssl cms -verify` applies) accepts an ECDSA signer's certificate.
 *
 * Who may do what (the caller's route permission puts the scope into
 * who->scope; these functions check it against the department):
 *   pki.seal.manage — make seals and application signers for departments
 *                     within scope, list them, revoke a seal;
 *   pki.seal.use    — apply a department's seal, or sign detached with its
 *                     seal or its application signers, within scope.
 * Every seal made, seal applied, signature made and seal revoked is
 * audited in the transaction that records it. The documents themselves are
 * never stored: pki_signature keeps their hash, the file name and the
 * signature.
 *
 * Time-stamps. Each signature carries a token of our TSA over its signature
 * value (SM2 signers get the SM2 TSA's, ECDSA the ECDSA TSA's): in a CMS
 * signature as the unsigned attribute id-aa-timeStampToken
 * (1.2.840.113549.1.9.16.2.14, RFC 3161 appendix A), in an SES_Signature as
 * its timeStamp field. Without a TSA signer the signature has none, and
 * the verifier says the time is only the signer's claim.
 *
 * Tables (owned here): pki_signer, pki_seal, pki_signature.
 */
#ifndef YZ_PKI_PKI_SIGN_H
#define YZ_PKI_PKI_SIGN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/actor.h"
#include "core/buf.h"
#include "core/status.h"
#include "store/store.h"

#define PKI_SEAL_PICTURE_MAX (256 * 1024)  /* bytes of a seal's image */
#define PKI_SEAL_PIXELS_MAX  4096          /* its width and height */
#define PKI_SIGN_DOC_MAX     (30 << 20)    /* bytes of a document signed or verified here */
#define PKI_SIGNATURE_MAX    (1024 * 1024) /* bytes of a CMS or SES signature read */
#define PKI_SEAL_VID         "yizhan"      /* SES_Header.vid: who made the seal format */

/* ---- application signers (pki_sign.c) ---- */

/* Make an application signer: in {org_id, name (1–64), alg? ("sm2",
 * "ecdsa-p256")}. The department must lie within who->scope. out: the
 * signer as pki_signer_list shows it. */
YZ_MUST_USE yz_status pki_signer_create(store *s, const char *data_dir, const yz_actor *who,
                                        json_t *in, json_t **out, yz_err *e);
/* Application signers within scope (NULL: all): {items: [{id, name, alg,
 * org_id, org_name?, ca, serial, subject, created_at}]}. */
YZ_MUST_USE yz_status pki_signer_list(store_conn *c, const yz_scope *scope, json_t **out,
                                      yz_err *e);

/* ---- detached signatures (pki_sign.c) ---- */

typedef struct pki_sign_req {
	int64_t signer_id; /* an application signer, or 0 with seal_id */
	int64_t seal_id;   /* or a seal's key */
	const void *data;  /* the document, or NULL with hash */
	size_t n;
	const unsigned char *hash; /* its hash: SM3 for SM2 signers, SHA-256 for ECDSA */
	size_t hash_len;
	const char *hash_alg;  /* "sm3" or "sha256": must be the signer's */
	const char *file_name; /* recorded (may be NULL) */
} pki_sign_req;

/* Sign a document detached: cms receives the DER ContentInfo. The signer
 * must be usable by who (its department within who->scope, the seal
 * active and within its validity). info (may be NULL): {id, signer,
 * hash_alg, hash, signed_at, timestamp?}. */
YZ_MUST_USE yz_status pki_sign_detached(store *s, const char *data_dir, const yz_actor *who,
                                        const pki_sign_req *req, buf *cms, json_t **info,
                                        yz_err *e);

/* ---- electronic seals (pki_seal.c) ---- */

/* Make a department's seal: in {org_id, name (1–64 characters), width_mm?
 * (10–100, default 40; the height follows the image's proportions)} and the
 * image (PNG or JPEG, at most PKI_SEAL_PICTURE_MAX bytes and
 * PKI_SEAL_PIXELS_MAX pixels a side; its size read from its header). The
 * department must lie within who->scope. A seal key and certificate are
 * made for it, the SESeal is signed by the seal-making system. Field
 * errors name org_id, name, picture, width_mm. out: the seal as listed. */
YZ_MUST_USE yz_status pki_seal_create(store *s, const char *data_dir, const yz_actor *who,
                                      json_t *in, const void *picture, size_t pn, json_t **out,
                                      yz_err *e);
/* Seals within scope (NULL: all), newest first; filter {status?, org_id?}:
 * {items: [{id, es_id, name, org_id, org_name, status, picture_type,
 * width_mm, height_mm, valid_start, valid_end, ca, serial, created_at}]}. */
YZ_MUST_USE yz_status pki_seal_list(store_conn *c, const yz_scope *scope, json_t *filter,
                                    json_t **out, yz_err *e);
/* One seal within scope; with_picture adds "picture" (a data: URI). */
YZ_MUST_USE yz_status pki_seal_get(store_conn *c, const yz_scope *scope, int64_t id,
                                   bool with_picture, json_t **out, yz_err *e);
/* Revoke a seal: its certificate is revoked (reason as pki_revoke; default
 * cessationOfOperation) and it can no longer be applied. */
YZ_MUST_USE yz_status pki_seal_revoke(store *s, const yz_actor *who, int64_t id, int reason,
                                      yz_err *e);

typedef struct pki_seal_apply_in {
	int64_t seal_id;
	const void *data; /* the document, or NULL with sm3 */
	size_t n;
	const unsigned char *sm3; /* its SM3 hash (32 bytes) */
	const char *file_name;    /* recorded in propertyInfo (percent-encoded UTF-8) */
} pki_seal_apply_in;

/* Apply a seal to a document: ses receives the SES_Signature (DER). out
 * (may be NULL): {id, seal_id, seal, file_name, hash, signed_at,
 * timestamp?, download}. */
YZ_MUST_USE yz_status pki_seal_apply(store *s, const char *data_dir, const yz_actor *who,
                                     const pki_seal_apply_in *in, buf *ses, json_t **out,
                                     yz_err *e);
/* A signature made here (seal or detached), if who may see it: its own
 * maker, or a holder of the permission within scope (scope NULL: all).
 * der (may be NULL) receives the signature. */
YZ_MUST_USE yz_status pki_signature_get(store_conn *c, const yz_actor *who, const yz_scope *scope,
                                        int64_t id, json_t **out, buf *der, yz_err *e);

/* ---- our verifier (pki_seal.c for seals, pki_sign.c for CMS) ---- */

/* Verify sig (an SES_Signature or a CMS SignedData, DER, told apart by
 * their structure; PEM of a CMS is taken too) over the document data.
 * info: {kind ("seal" | "signature"), verdict ("valid" | "tampered" |
 * "invalid"), valid, reason?, failed_check?, signer {subject, cn, o?,
 * serial, ca?, issuer, ours}, seal? {name, es_id, department, picture
 * (data: URI), picture_type, width_mm, height_mm, valid_start, valid_end,
 * maker}, signed_at (the claimed time), timestamp? {gen_time, serial, tsa,
 * policy}, time (the time the checks use), trusted_time, certificate
 * {status, at_signing, reason?, revoked_at?, revoked_later, not_before,
 * not_after}, document {hash_alg, hash, signed_hash, matches, file_name?}}.
 * A signature that does not hold is YZ_OK with verdict "invalid" (or
 * "tampered" when only the document changed) and the failing check named;
 * bytes that are neither structure are YZ_EINVAL with a field error on
 * "signature" saying which part does not parse. */
YZ_MUST_USE yz_status pki_verify_file(store *s, const void *sig, size_t n, const void *data,
                                      size_t dn, json_t **info, yz_err *e);
YZ_MUST_USE yz_status pki_verify_detached(store *s, const void *cms, size_t n, const void *data,
                                          size_t dn, json_t **info, yz_err *e);
YZ_MUST_USE yz_status pki_verify_seal(store *s, const void *ses, size_t n, const void *data,
                                      size_t dn, json_t **info, yz_err *e);

#endif
