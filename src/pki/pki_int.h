/*
 * pki_int.h — what the pki module's files share: the CAs loaded into this
 * process, and the X.509 helpers over OpenSSL. Not for other modules.
 */
#ifndef YZ_PKI_PKI_INT_H
#define YZ_PKI_PKI_INT_H

#include <openssl/ocsp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "pki/pki.h"

#define PKI_MAX_CAS     32
#define PKI_NAME_MAX    32
#define PKI_SERIAL_HEX  32 /* 16 random bytes */
#define PKI_CERT_MAX    (64 * 1024)
#define PKI_CRL_PERIOD  (24LL * 3600 * 1000) /* a CRL's nextUpdate: one day on */
#define PKI_OCSP_PERIOD (4LL * 3600 * 1000)  /* an OCSP answer's nextUpdate */
#define PKI_KEK_FILE    "keys/pki.kek"

/* One CA as this process holds it. Entries are never freed while the module
 * is loaded, so pointers stay valid; fields after load change only under
 * the CA's own mutex (its CRL). */
typedef struct pki_ca_rt {
	int64_t id;
	char name[PKI_NAME_MAX];
	char title[128];
	char parent[PKI_NAME_MAX];
	char base_url[256];
	crypto_alg alg;
	crypto_key *key; /* private */
	X509 *cert;
	unsigned char *der;
	int der_len;
	OCSP_CERTID *ids[3]; /* this CA as issuer, by SHA-1, SHA-256 and SM3 */

	pthread_mutex_t mu; /* the cached CRL */
	unsigned char *crl;
	int crl_len;
	int64_t crl_number, crl_this, crl_next;
	int64_t changed_seen; /* newest certificate change the CRL includes */
} pki_ca_rt;

/* The loaded CA by name or by database id; NULL when unknown. */
pki_ca_rt *pki_ca_find(const char *name);
pki_ca_rt *pki_ca_by_id(int64_t id);
int pki_ca_count(void);
pki_ca_rt *pki_ca_at(int i);

/* The KEK in <data>/keys/pki.kek; create makes it when missing. */
YZ_MUST_USE yz_status pki_kek(const char *data_dir, bool create,
                              unsigned char kek[CRYPTO_SEAL_KEY_LEN], yz_err *e);

/* ---- X.509 helpers (pki_x509.c) ---- */

/* Sign x (a certificate) with the CA key the way this CA signs. */
YZ_MUST_USE yz_status pki_x509_sign(X509 *x, const crypto_key *k, yz_err *e);
YZ_MUST_USE yz_status pki_crl_sign(X509_CRL *crl, const crypto_key *k, yz_err *e);
/* 16 random bytes, top bit clear and first byte non-zero: hex (upper) and
 * the ASN.1 integer. */
YZ_MUST_USE yz_status pki_new_serial(char hex[PKI_SERIAL_HEX + 1], ASN1_INTEGER **out, yz_err *e);
/* "C=CN,O=…,CN=…" style name from subject fields {c?, o?, ou?, cn}. */
YZ_MUST_USE yz_status pki_name_build(json_t *subject, X509_NAME **out, yz_err *e);
/* One-line RFC 2253 form of a name (UTF-8). */
void pki_name_text(const X509_NAME *n, char *out, size_t cap);
/* Add an extension by NID from its OpenSSL config text ("critical,CA:TRUE"). */
YZ_MUST_USE yz_status pki_ext_add(X509 *x, X509 *issuer, int nid, const char *value, yz_err *e);
/* A PrintableString extension under a GM/T 0015 OID. */
YZ_MUST_USE yz_status pki_ext_printable(X509 *x, const char *oid, const char *value, yz_err *e);
/* Serial of a certificate as upper-case hex. */
void pki_serial_hex(const ASN1_INTEGER *s, char *out, size_t cap);
/* Milliseconds since the epoch of an ASN1_TIME (0 when unreadable). */
int64_t pki_asn1_ms(const ASN1_TIME *t);
/* Normalise a user-given serial: hex digits only, upper case, no leading
 * zero pairs beyond what DER keeps. false when it is not hex. */
bool pki_serial_norm(const char *in, char *out, size_t cap);
/* Parse PEM or DER into a certificate / request; NULL on failure. */
X509 *pki_x509_parse(const void *p, size_t n);
/* The subject's public key of a certificate being built (SM2 or P-256). */
YZ_MUST_USE yz_status pki_set_pubkey(X509 *x, const crypto_key *k, yz_err *e);
/* PEM text ("-----BEGIN <label>-----", base64 in lines of 64) of DER. */
YZ_MUST_USE yz_status pki_pem(const void *der, size_t n, const char *label, buf *out);
/* Verify a signature over tbs made by key (SM2 with the standard ID). */
YZ_MUST_USE yz_status pki_sig_check(const crypto_key *key, const unsigned char *tbs, size_t tbslen,
                                    const ASN1_BIT_STRING *sig, yz_err *e);

/* ---- status services ---- */
/* Drop this process's cached OCSP answer for a certificate. */
void pki_ocsp_forget(int64_t ca_id, const char *serial);
void pki_ocsp_clear(void);
/* Sign a new CRL for ca now (after a revocation) and store it. */
YZ_MUST_USE yz_status pki_crl_resign(store *s, pki_ca_rt *ca, yz_err *e);

/* ---- the time-stamping authority (pki_tsa.c) ---- */
/* Load the TSA signers recorded since the last call (pki_load, pki_refresh;
 * after the CAs). Without data_dir it loads nothing. */
YZ_MUST_USE yz_status pki_tsa_load(store *s, const char *data_dir, yz_err *e);
void pki_tsa_unload(void);

/* ---- signatures and seals over HTTP (seal_api.c, seal_pages.c) ---- */
/* The JSON API (api.c's pki_api_routes calls it) and the pages (pages.c's
 * pki_routes). */
struct yz_app;
YZ_MUST_USE yz_status pki_seal_api_routes(struct yz_app *app, yz_err *e);
YZ_MUST_USE yz_status pki_seal_page_routes(struct yz_app *app, yz_err *e);

#endif
