/*
 * pki_asn1.h — a small DER writer and a strict DER reader, for the
 * structures OpenSSL 3.0 cannot make with SM2 (RFC 3161 time-stamp tokens:
 * CMS SignedData signed with SM2 and the standard ID; DESIGN §7) and for
 * reading requests and tokens without trusting OpenSSL's lenient decoders.
 *
 * Writer: constructed values are opened with pki_der_begin and closed with
 * pki_der_end, which fixes their length afterwards, so callers write in
 * reading order. The first failure (too large, nesting too deep, a bad OID)
 * sticks: every later call does nothing and pki_der_done returns it, so a
 * whole structure is written without checking each call.
 *
 * Reader: slices over the caller's bytes, nothing is copied or allocated.
 * Only DER is accepted: single-byte tags (numbers below 31), definite and
 * minimal lengths, no length beyond the enclosing value. Callers check that
 * each constructed value is read to its end (pki_rd_more), so trailing or
 * smuggled bytes are refused.
 */
#ifndef YZ_PKI_PKI_ASN1_H
#define YZ_PKI_PKI_ASN1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/status.h"

/* universal tags, and the context-specific ones we use */
#define PKI_DER_BOOL    0x01
#define PKI_DER_INT     0x02
#define PKI_DER_BITS    0x03
#define PKI_DER_OCTETS  0x04
#define PKI_DER_NULL    0x05
#define PKI_DER_OID     0x06
#define PKI_DER_UTF8    0x0c
#define PKI_DER_PRINT   0x13
#define PKI_DER_IA5     0x16
#define PKI_DER_UTCTIME 0x17
#define PKI_DER_GENTIME 0x18
#define PKI_DER_SEQ     0x30
#define PKI_DER_SET     0x31
#define PKI_DER_CTX(n)  (0xa0 | (n)) /* [n], constructed */
#define PKI_DER_IMP(n)  (0x80 | (n)) /* [n], primitive */

#define PKI_DER_DEPTH 16

/* ---- writer ---- */

typedef struct pki_der {
	buf b;
	size_t open[PKI_DER_DEPTH]; /* where each open value's tag is */
	int depth;
	yz_status st;
} pki_der;

void pki_der_init(pki_der *w, size_t max);
void pki_der_free(pki_der *w);
/* Open a constructed value (SEQUENCE, SET, [n]); close it with pki_der_end. */
void pki_der_begin(pki_der *w, unsigned char tag);
void pki_der_end(pki_der *w);
/* A primitive value: tag, length, the bytes. */
void pki_der_put(pki_der *w, unsigned char tag, const void *p, size_t n);
/* Bytes that are DER already (a certificate, a Name, a copied field). */
void pki_der_raw(pki_der *w, const void *p, size_t n);
/* A non-negative INTEGER from its big-endian magnitude (leading zeros are
 * dropped, a 0x00 is put before a high bit). */
void pki_der_uint(pki_der *w, const unsigned char *be, size_t n);
void pki_der_small(pki_der *w, int64_t v); /* a non-negative INTEGER */
void pki_der_bool(pki_der *w, bool v);
void pki_der_null(pki_der *w);
void pki_der_oid(pki_der *w, const char *dotted);
/* AlgorithmIdentifier {oid, NULL} (null_params) or {oid}. */
void pki_der_algid(pki_der *w, const char *oid, bool null_params);
/* GeneralizedTime in UTC with milliseconds, trailing zeros of the fraction
 * (and a fraction of zero) left out as DER and RFC 3161 §2.4.2 require:
 * 20261123041548.12Z. */
void pki_der_gentime(pki_der *w, int64_t ms);
/* A named BIT STRING with one bit set (PKIFailureInfo): trailing zero
 * bits left out. */
void pki_der_bit(pki_der *w, unsigned bit);
void pki_der_utf8(pki_der *w, const char *s);
void pki_der_ia5(pki_der *w, const char *s);
/* A BIT STRING of whole bytes (no unused bits): signatures, hashes. */
void pki_der_bits(pki_der *w, const void *p, size_t n);
/* UTCTime "YYMMDDHHMMSSZ" (seconds; RFC 5652 §11.3 wants it for signingTime
 * from 1950 to 2049, GeneralizedTime outside). */
void pki_der_utctime(pki_der *w, int64_t ms);
/* The first failure, or YZ_EINTERNAL when a value is still open. */
YZ_MUST_USE yz_status pki_der_done(pki_der *w);

/* An OID in dotted text as DER contents (no tag or length); 0 when the text
 * is not an OID or does not fit. */
size_t pki_oid_encode(const char *dotted, unsigned char *out, size_t cap);

/* ---- reader ---- */

typedef struct pki_tlv {
	unsigned char tag;
	const unsigned char *v; /* contents */
	size_t n;
	const unsigned char *raw; /* the whole value, tag and length included */
	size_t rawn;
} pki_tlv;

typedef struct pki_rd {
	const unsigned char *p, *end;
} pki_rd;

pki_rd pki_rd_of(const void *p, size_t n);
/* A reader over the contents of t. */
pki_rd pki_rd_in(const pki_tlv *t);
bool pki_rd_more(const pki_rd *r);
/* The next value, whatever its tag; false at the end or when it is not DER. */
bool pki_rd_next(pki_rd *r, pki_tlv *t);
/* The next value, which must have this tag. */
bool pki_rd_get(pki_rd *r, unsigned char tag, pki_tlv *t);
/* The next value when it has this tag; otherwise false and r unchanged. */
bool pki_rd_opt(pki_rd *r, unsigned char tag, pki_tlv *t);

/* A DER INTEGER (minimal, any sign). */
bool pki_tlv_int_ok(const pki_tlv *t);
/* A non-negative INTEGER that fits an int64_t. */
bool pki_tlv_small(const pki_tlv *t, int64_t *out);
/* The magnitude of a non-negative INTEGER as upper-case hex without
 * leading zeros ("0" for zero). */
bool pki_tlv_uint_hex(const pki_tlv *t, char *out, size_t cap);
bool pki_tlv_bool(const pki_tlv *t, bool *out);
bool pki_tlv_oid_is(const pki_tlv *t, const char *dotted);
bool pki_tlv_oid_text(const pki_tlv *t, char *out, size_t cap);
/* GeneralizedTime "YYYYMMDDHHMMSS[.f…]Z" (UTC, DER form) → ms since the
 * epoch (fractions below a millisecond dropped). */
bool pki_tlv_gentime(const pki_tlv *t, int64_t *ms);
/* UTCTime "YYMMDDHHMMSSZ" (DER form: seconds, Z) → ms; years 50–99 are 19xx. */
bool pki_tlv_utctime(const pki_tlv *t, int64_t *ms);
/* A BIT STRING of whole bytes: its bytes after the unused-bits octet. */
bool pki_tlv_bits(const pki_tlv *t, const unsigned char **p, size_t *n);
/* An IA5String (7-bit characters, no NUL) as text: false when it does not
 * fit cap with its NUL. */
bool pki_tlv_ia5(const pki_tlv *t, char *out, size_t cap);

/* An AlgorithmIdentifier whose parameters are absent or NULL: its OID. */
bool pki_rd_algid(pki_rd *r, pki_tlv *oid);

#endif
