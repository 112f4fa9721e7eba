/*
 * fuzz_der.c — libFuzzer target for the pki's own DER reader (pki_asn1) and
 * what is built on it and on OpenSSL's parsers without a database: the
 * time-stamp verifier (a TimeStampResp or a token from anyone) and the CRL
 * and OCSP verifiers. Invariants: the reader never reads outside its input
 * (ASan) and every value it returns lies inside its parent; the verifiers
 * refuse garbage with an error and never accept it. The CMS SignedData
 * reader (tokens, detached signatures) runs on every input too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pki/pki.h"
#include "pki/pki_asn1.h"
#include "pki/pki_cms.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			abort();                                                                   \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Walk every value, nested too, checking that each lies in its parent. */
static void walk(pki_rd r, const unsigned char *lo, const unsigned char *hi, int depth)
{
	pki_tlv t;
	while (depth < 32 && pki_rd_next(&r, &t)) {
		CHECK(t.raw >= lo && t.raw + t.rawn <= hi);
		CHECK(t.v >= t.raw && t.v + t.n <= t.raw + t.rawn);
		char text[256];
		(void)pki_tlv_oid_text(&t, text, sizeof text);
		(void)pki_tlv_uint_hex(&t, text, sizeof text);
		int64_t v;
		(void)pki_tlv_small(&t, &v);
		if (t.tag & 0x20)
			walk(pki_rd_in(&t), t.v, t.v + t.n, depth + 1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	walk(pki_rd_of(data, size), data, data + size, 0);
	/* the CMS reader (time-stamp tokens, detached signatures) over a
	 * ContentInfo */
	pki_rd r = pki_rd_of(data, size);
	pki_tlv ci;
	if (pki_rd_next(&r, &ci)) {
		pki_cms k;
		if (!pki_cms_parse(&ci, &k)) {
			(void)pki_cms_is_data(&k);
			(void)pki_cms_signer_cert(&k);
		}
	}
	/* a copy, so that no verifier can rely on bytes past the end */
	unsigned char *copy = malloc(size ? size : 1);
	CHECK(copy);
	memcpy(copy, data, size);
	yz_err e = {0};
	json_t *info = NULL;
	/* nothing here is signed by a CA of ours: nothing may verify */
	CHECK(pki_tsa_verify(copy, size, "x", 1, NULL, 0, &info, &e) != YZ_OK);
	json_decref(info);
	CHECK(pki_verify_crl(copy, size, copy, size, &e) != YZ_OK);
	CHECK(pki_verify_ocsp(copy, size, copy, size, NULL, &e) != YZ_OK);
	free(copy);
	return 0;
}
