/*
 * pki_cms.h — CMS SignedData (RFC 5652) with one SignerInfo, written by our
 * DER writer and read by our strict reader, for SM2 (which OpenSSL 3.0's
 * CMS code cannot sign with; DESIGN §7) and ECDSA P-256 alike. The RFC 3161
 * time-stamp tokens (pki_tsa.c) and the detached signatures of files
 * (pki_sign.c) are both made and checked here. Internal to the pki module.
 *
 * Written: ContentInfo {id-signedData, SignedData {version (3 when the
 * content type is not id-data, else 1), digestAlgorithms {SM3 or SHA-256,
 * NULL parameters}, encapContentInfo with the content (attached) or without
 * it (detached), the signer's certificate when asked, one SignerInfo
 * (version 1, issuerAndSerialNumber read from the certificate) whose signed
 * attributes are, in DER SET OF order, contentType, messageDigest,
 * signingTime (UTCTime; when given) and signingCertificateV2 (RFC 5035 and
 * 5816: one ESSCertIDv2 with the certificate's SM3 hash and the
 * hashAlgorithm field for SM2; SHA-256, the default, and no hashAlgorithm
 * field for ECDSA); the signature through crypto_sign — SM2 with SM3 and the
 * ID 1234567812345678 (signatureAlgorithm 1.2.156.10197.1.501) or ECDSA
 * P-256 with SHA-256 (ecdsa-with-SHA256) — over the DER of the attributes as
 * a SET; and the unsigned attributes the caller makes from the signature
 * value (a time-stamp token, RFC 3161 appendix A)}}.
 *
 * Read: a ContentInfo with SignedData under id-signedData or GM/T 0010's
 * 1.2.156.10197.6.1.4.2.2, at most PKI_CMS_MAX_CERTS certificates, no CRLs
 * (a changed tag must not turn the certificates into ignored CRLs), exactly one SignerInfo of
 * version 1 with signed attributes; unsigned attributes are kept for the caller.
 */
#ifndef YZ_PKI_PKI_CMS_H
#define YZ_PKI_PKI_CMS_H

#include "pki/pki_asn1.h"
#include "pki/pki_int.h"

#define PKI_OID_DATA            "1.2.840.113549.1.7.1"
#define PKI_OID_SIGNED_DATA     "1.2.840.113549.1.7.2"
#define PKI_OID_GM_DATA         "1.2.156.10197.6.1.4.2.1" /* GM/T 0010 */
#define PKI_OID_GM_SIGNED_DATA  "1.2.156.10197.6.1.4.2.2"
#define PKI_OID_TST_INFO        "1.2.840.113549.1.9.16.1.4"
#define PKI_OID_CONTENT_TYPE    "1.2.840.113549.1.9.3"
#define PKI_OID_MESSAGE_DIGEST  "1.2.840.113549.1.9.4"
#define PKI_OID_SIGNING_TIME    "1.2.840.113549.1.9.5"
#define PKI_OID_SIGNING_CERT    "1.2.840.113549.1.9.16.2.12"
#define PKI_OID_SIGNING_CERT_V2 "1.2.840.113549.1.9.16.2.47"
#define PKI_OID_TS_TOKEN        "1.2.840.113549.1.9.16.2.14" /* id-aa-timeStampToken */
#define PKI_OID_SM3             "1.2.156.10197.1.401"
#define PKI_OID_SM2_SM3         "1.2.156.10197.1.501"
#define PKI_OID_SM2_SIGN        "1.2.156.10197.1.301.1" /* GM/T 0010 peers put this one */
#define PKI_OID_SHA1            "1.3.14.3.2.26"
#define PKI_OID_SHA256          "2.16.840.1.101.3.4.2.1"
#define PKI_OID_SHA384          "2.16.840.1.101.3.4.2.2"
#define PKI_OID_SHA512          "2.16.840.1.101.3.4.2.3"
#define PKI_OID_ECDSA_SHA256    "1.2.840.10045.4.3.2"
#define PKI_OID_EC_PUBLIC_KEY   "1.2.840.10045.2.1"

#define PKI_CMS_MAX_CERTS 8

/* ---- hashes ---- */

typedef struct pki_hash {
	const char *name, *oid;
	size_t len;
} pki_hash;

/* SM3, SHA-256, SHA-384 and SHA-512 (the ones we accept); NULL otherwise. */
const pki_hash *pki_hash_by_oid(const pki_tlv *oid);
const pki_hash *pki_hash_by_name(const char *name);
/* The hash of p by name ("sm3", "sha256", "sha384", "sha512", "sha1"). */
bool pki_hash_data(const char *name, const void *p, size_t n, unsigned char *out);
/* The digest of data the way key signs (SM3 for SM2, SHA-256 for ECDSA). */
void pki_cms_digest(const crypto_key *key, const void *p, size_t n,
                    unsigned char out[CRYPTO_SM3_LEN]);

/* The issuer Name and serialNumber of a DER certificate, as raw TLVs. */
bool pki_cert_issuer_serial(const void *der, size_t n, pki_tlv *issuer, pki_tlv *serial);

/* ---- writing ---- */

typedef struct pki_cms_out {
	const crypto_key *key; /* the signer's private key */
	const void *cert;      /* its certificate, DER */
	size_t cert_len;
	const char *content_type; /* OID text */
	const void *content;      /* encapsulated content; NULL for a detached signature */
	size_t content_len;
	const unsigned char *digest; /* detached: the content's digest (pki_cms_digest) */
	bool with_cert;              /* put the certificate into certificates */
	int64_t signing_time;        /* ms; 0: no signingTime attribute */
	/* Unsigned attributes made from the signature value (may be NULL): the
	 * callback writes whole Attribute values into w, or nothing. */
	yz_status (*unsigned_attrs)(void *ctx, const void *sig, size_t n, pki_der *w, yz_err *e);
	void *ctx;
} pki_cms_out;

/* The ContentInfo, appended to w. */
YZ_MUST_USE yz_status pki_cms_sign(const pki_cms_out *p, pki_der *w, yz_err *e);

/* ---- reading ---- */

typedef struct pki_cms {
	bool gm; /* GM/T 0010 OIDs */
	int64_t version;
	pki_tlv digest_algs;  /* SET */
	pki_tlv content_type; /* eContentType OID */
	bool has_content;
	pki_tlv content; /* the eContent OCTET STRING: v, n are the content */
	pki_tlv certs[PKI_CMS_MAX_CERTS];
	int ncerts;
	pki_tlv sid_issuer, sid_serial;
	pki_tlv digest_oid, sig_oid;
	pki_tlv attrs; /* [0] IMPLICIT SET OF Attribute */
	pki_tlv sig;   /* OCTET STRING */
	bool has_unsigned;
	pki_tlv unsigned_attrs; /* [1] IMPLICIT SET OF Attribute */
} pki_cms;

/* Parse the contents of a ContentInfo SEQUENCE (ci) strictly. NULL when it
 * parses, else what is wrong ("digestAlgorithms", "not exactly one
 * SignerInfo", ...). */
const char *pki_cms_parse(const pki_tlv *ci, pki_cms *k);
/* Whether the content type is id-data (or GM/T 0010's data). */
bool pki_cms_is_data(const pki_cms *k);
/* The certificate of k whose issuer and serial are the SignerInfo's: its
 * index, or -1. */
int pki_cms_signer_cert(const pki_cms *k);
/* The single value of attribute oid in a SET OF Attribute (signed or
 * unsigned attributes); count receives how often the OID occurs. false
 * when it occurs other than once, has other than one value, or the set
 * does not parse. */
bool pki_cms_attr(const pki_tlv *attrs, const char *oid, pki_tlv *value, int *count);

/* Which check of pki_cms_check failed. */
typedef enum pki_cms_fail {
	PKI_CMS_PASSED = 0,
	PKI_CMS_FAIL_ALG,          /* algorithms that are not the key's */
	PKI_CMS_FAIL_SIGNATURE,    /* the signature over the signed attributes */
	PKI_CMS_FAIL_CONTENT_TYPE, /* the contentType attribute */
	PKI_CMS_FAIL_DIGEST,       /* the messageDigest attribute against the content */
	PKI_CMS_FAIL_ESS,          /* the signing-certificate attribute */
} pki_cms_fail;

/* Check k's SignerInfo: the digest and signature algorithms are the key's
 * (SM3 and SM2 — 1.2.156.10197.1.501 or GM/T 0010's 1.2.156.10197.1.301.1;
 * SHA-256 and ECDSA), the signature over the signed attributes verifies with
 * key (SM2: the ID 1234567812345678, so an empty-ID signature fails), the
 * contentType attribute is eContentType, the messageDigest attribute is
 * digest (the content's, pki_cms_digest), and the signing-certificate(-v2)
 * attribute names cert (required when ess_required, else checked when
 * present). Checks run in that order. what names the object in messages
 * ("the token", "the signature"). YZ_ECRYPTO naming what failed; *failed
 * (may be NULL) says which check. */
YZ_MUST_USE yz_status pki_cms_check(const pki_cms *k, const crypto_key *key, const void *cert,
                                    size_t cert_len, const unsigned char *digest, bool ess_required,
                                    const char *what, pki_cms_fail *failed, yz_err *e);

#endif
