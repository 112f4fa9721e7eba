/*
 * pki_seal.c — electronic seals after GB/T 38540-2020 (the 2020 successor
 * of GM/T 0031-2014), version 4: making a department's seal, applying it
 * to a document's hash, and verifying an applied seal.
 *
 * The seal (SESeal), made by a seal administrator and signed by the
 * platform's seal-making system (制章系统: a "maker" signer per SM2 CA):
 *
 *   SESeal ::= SEQUENCE {
 *     eSealInfo SES_SealInfo ::= SEQUENCE {
 *       header   SEQUENCE {ID IA5String "ES", version INTEGER 4, Vid IA5String "yizhan"},
 *       esID     IA5String (32 random hex digits),
 *       property SEQUENCE {type INTEGER 1 (单位印章), name UTF8String,
 *                          certListType INTEGER 1, certList SEQUENCE OF OCTET STRING
 *                          (the seal's own certificate), createDate, validStart,
 *                          validEnd GeneralizedTime},
 *       picture  SEQUENCE {type IA5String "PNG" | "JPG", data OCTET STRING,
 *                          width INTEGER, height INTEGER (millimetres)}},
 *     cert        OCTET STRING (the maker's certificate),
 *     signAlgID   OBJECT IDENTIFIER 1.2.156.10197.1.501 (SM2 with SM3),
 *     signedValue BIT STRING (SM2 over the DER of eSealInfo) }
 *
 * The applied seal (SES_Signature), signed with the seal's own key:
 *
 *   SES_Signature ::= SEQUENCE {
 *     toSign TBS_Sign ::= SEQUENCE {version INTEGER 4, eseal SESeal,
 *                                   timeInfo GeneralizedTime, dataHash BIT STRING
 *                                   (the document's SM3), propertyInfo IA5String
 *                                   (the file name, percent-encoded UTF-8)},
 *     cert           OCTET STRING (the signer's certificate: the seal's),
 *     signatureAlgID OBJECT IDENTIFIER 1.2.156.10197.1.501,
 *     signature      BIT STRING (SM2 over the DER of toSign),
 *     timeStamp      [0] EXPLICIT BIT STRING OPTIONAL (our TSA's token over the
 *                    signature value) }
 *
 * What is signed follows the two independent implementations we could read
 * (ofdrw's SESV4Container and seal builder, and the gm_0031_38540 verifier):
 * for version 4 the maker signs eSealInfo alone and the signer signs
 * toSign alone, where version 1 (GM/T 0031-2014) signed SEQUENCE {info,
 * cert, algorithm}. We have not read the standard's text itself; a city
 * that interoperates with other vendors' seals should check this against
 * GB/T 38540-2020 §7–8. SM2 always takes SM3 and the ID 1234567812345678,
 * so an empty-ID signature (OpenSSL's default) is refused.
 *
 * The verifier checks, and names the first that fails: the format (version
 * 4, "ES"), the signature over toSign with the signer's certificate, that
 * certificate among the seal's certList, that the seal is one this platform
 * made (its DER as recorded under its esID: a seal made elsewhere, or by
 * someone who merely holds one of our certificates, is not taken), the
 * maker's signature on the seal,
 * the maker's and the signer's certificates (issued by a CA of ours, valid
 * at the signing time), the time-stamp (its genTime becomes the signing
 * time), the seal's validity then, the signer certificate's status then
 * (revoked after the signing time: valid when signed, revoked later), and
 * the document's SM3 against dataHash (alone: "tampered").
 */
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit.h"
#include "core/b64.h"
#include "core/clock.h"
#include "core/jx.h"
#include "iam/iam.h"
#include "pki/pki_signer.h"

#define SEAL_MAX        (PKI_SEAL_PICTURE_MAX + 64 * 1024)
#define SES_MAX         (SEAL_MAX + 128 * 1024)
#define ESID_BYTES      16
#define SEAL_TYPE_ORG   1 /* 单位印章 */
#define PROPERTY_MAX    600
#define FILE_NAME_CHARS 200

/* ---- the image ---- */

typedef struct picture {
	const char *type; /* "PNG" or "JPG" */
	int width, height;
} picture;

static bool png_size(const unsigned char *p, size_t n, picture *pic)
{
	static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
	if (n < 33 || memcmp(p, sig, 8) || memcmp(p + 12, "IHDR", 4))
		return false;
	uint32_t w = (uint32_t)p[16] << 24 | (uint32_t)p[17] << 16 | (uint32_t)p[18] << 8 | p[19];
	uint32_t h = (uint32_t)p[20] << 24 | (uint32_t)p[21] << 16 | (uint32_t)p[22] << 8 | p[23];
	if (w == 0 || h == 0 || w > PKI_SEAL_PIXELS_MAX || h > PKI_SEAL_PIXELS_MAX)
		return false;
	pic->type = "PNG";
	pic->width = (int)w;
	pic->height = (int)h;
	return true;
}

/* A JPEG's size from its first SOFn segment. */
static bool jpeg_size(const unsigned char *p, size_t n, picture *pic)
{
	if (n < 4 || p[0] != 0xff || p[1] != 0xd8)
		return false;
	size_t i = 2;
	while (i + 4 <= n) {
		if (p[i] != 0xff)
			return false;
		unsigned m = p[i + 1];
		if (m == 0xff) { /* fill byte */
			i++;
			continue;
		}
		if (m == 0x01 || (m >= 0xd0 && m <= 0xd7)) {
			i += 2;
			continue;
		}
		if (m == 0xd9 || m == 0xda)
			return false; /* the end or the scan before any frame header */
		size_t len = (size_t)p[i + 2] << 8 | p[i + 3];
		if (len < 2 || i + 2 + len > n)
			return false;
		if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc) {
			if (len < 7)
				return false;
			int h = p[i + 5] << 8 | p[i + 6], w = p[i + 7] << 8 | p[i + 8];
			if (w == 0 || h == 0 || w > PKI_SEAL_PIXELS_MAX || h > PKI_SEAL_PIXELS_MAX)
				return false;
			pic->type = "JPG";
			pic->width = w;
			pic->height = h;
			return true;
		}
		i += 2 + len;
	}
	return false;
}

static bool picture_of(const void *p, size_t n, picture *pic)
{
	return png_size(p, n, pic) || jpeg_size(p, n, pic);
}

/* The picture as a data: URI, when its bytes are what its type says. */
static void picture_uri(json_t *o, const char *type, const unsigned char *p, size_t n)
{
	picture pic;
	bool png = !strcmp(type, "PNG") && png_size(p, n, &pic);
	bool jpg = (!strcmp(type, "JPG") || !strcmp(type, "JPEG")) && jpeg_size(p, n, &pic);
	if (!png && !jpg)
		return;
	buf b;
	buf_init(&b, n * 2 + 64);
	if (buf_puts(&b, png ? "data:image/png;base64," : "data:image/jpeg;base64,") == YZ_OK &&
	    b64_encode(p, n, false, &b) == YZ_OK)
		jx_set_str(o, "picture", b.p);
	jx_set_str(o, "picture_type", png ? "PNG" : "JPG");
	buf_free(&b);
}

/* ---- reading a seal ---- */

typedef struct seal_view {
	pki_tlv raw;  /* the SESeal */
	pki_tlv info; /* eSealInfo */
	int64_t version, type, cert_list_type;
	char vid[64], es_id[80], name[256], pic_type[8];
	pki_tlv certs[8]; /* certList entries (certificates or CertDigestObj) */
	int ncerts;
	int64_t created, valid_start, valid_end, width, height;
	pki_tlv picture; /* OCTET STRING */
	pki_tlv maker;   /* the maker's certificate (OCTET STRING contents) */
	pki_tlv alg;
	const unsigned char *sig;
	size_t sig_len;
} seal_view;

static bool utf8_text(const pki_tlv *t, char *out, size_t cap)
{
	if (t->tag != PKI_DER_UTF8 || t->n >= cap || memchr(t->v, 0, t->n))
		return false;
	memcpy(out, t->v, t->n);
	out[t->n] = '\0';
	return true;
}

/* NULL when the SESeal parses, else the part that does not. */
static const char *seal_parse(const pki_tlv *seal, seal_view *v)
{
	memset(v, 0, sizeof *v);
	v->raw = *seal;
	pki_rd r = pki_rd_in(seal);
	pki_tlv t, h, prop, list, pic;
	if (!pki_rd_get(&r, PKI_DER_SEQ, &v->info))
		return "SESeal: eSealInfo";
	pki_rd in = pki_rd_in(&v->info);
	if (!pki_rd_get(&in, PKI_DER_SEQ, &h))
		return "SES_SealInfo: header";
	pki_rd hr = pki_rd_in(&h);
	char id[8];
	if (!pki_rd_get(&hr, PKI_DER_IA5, &t) || !pki_tlv_ia5(&t, id, sizeof id) ||
	    strcmp(id, "ES"))
		return "SES_Header: ID is not \"ES\"";
	if (!pki_rd_get(&hr, PKI_DER_INT, &t) || !pki_tlv_small(&t, &v->version))
		return "SES_Header: version";
	if (v->version != 4)
		return "SES_Header: only version 4 (GB/T 38540-2020) is read";
	if (!pki_rd_get(&hr, PKI_DER_IA5, &t) || !pki_tlv_ia5(&t, v->vid, sizeof v->vid) ||
	    pki_rd_more(&hr))
		return "SES_Header: Vid";
	if (!pki_rd_get(&in, PKI_DER_IA5, &t) || !pki_tlv_ia5(&t, v->es_id, sizeof v->es_id))
		return "SES_SealInfo: esID";
	if (!pki_rd_get(&in, PKI_DER_SEQ, &prop))
		return "SES_SealInfo: property";
	pki_rd pr = pki_rd_in(&prop);
	if (!pki_rd_get(&pr, PKI_DER_INT, &t) || !pki_tlv_small(&t, &v->type))
		return "SES_ESPropertyInfo: type";
	if (!pki_rd_get(&pr, PKI_DER_UTF8, &t) || !utf8_text(&t, v->name, sizeof v->name))
		return "SES_ESPropertyInfo: name";
	if (!pki_rd_get(&pr, PKI_DER_INT, &t) || !pki_tlv_small(&t, &v->cert_list_type) ||
	    (v->cert_list_type != 1 && v->cert_list_type != 2))
		return "SES_ESPropertyInfo: certListType (1 or 2)";
	if (!pki_rd_get(&pr, PKI_DER_SEQ, &list))
		return "SES_ESPropertyInfo: certList";
	pki_rd lr = pki_rd_in(&list);
	while (pki_rd_more(&lr)) {
		unsigned char want = v->cert_list_type == 1 ? PKI_DER_OCTETS : PKI_DER_SEQ;
		if (v->ncerts == 8 || !pki_rd_get(&lr, want, &v->certs[v->ncerts]))
			return "SES_ESPropertyInfo: certList (at most 8)";
		v->ncerts++;
	}
	if (!pki_rd_get(&pr, PKI_DER_GENTIME, &t) || !pki_tlv_gentime(&t, &v->created) ||
	    !pki_rd_get(&pr, PKI_DER_GENTIME, &t) || !pki_tlv_gentime(&t, &v->valid_start) ||
	    !pki_rd_get(&pr, PKI_DER_GENTIME, &t) || !pki_tlv_gentime(&t, &v->valid_end) ||
	    pki_rd_more(&pr))
		return "SES_ESPropertyInfo: createDate, validStart, validEnd";
	if (!pki_rd_get(&in, PKI_DER_SEQ, &pic))
		return "SES_SealInfo: picture";
	pki_rd pc = pki_rd_in(&pic);
	if (!pki_rd_get(&pc, PKI_DER_IA5, &t) ||
	    !pki_tlv_ia5(&t, v->pic_type, sizeof v->pic_type) ||
	    !pki_rd_get(&pc, PKI_DER_OCTETS, &v->picture) || !pki_rd_get(&pc, PKI_DER_INT, &t) ||
	    !pki_tlv_small(&t, &v->width) || !pki_rd_get(&pc, PKI_DER_INT, &t) ||
	    !pki_tlv_small(&t, &v->height) || pki_rd_more(&pc))
		return "SES_ESPictureInfo";
	(void)pki_rd_opt(&in, PKI_DER_SEQ, &t); /* extDatas */
	if (pki_rd_more(&in))
		return "SES_SealInfo: unexpected fields";
	if (!pki_rd_get(&r, PKI_DER_OCTETS, &v->maker))
		return "SESeal: cert";
	if (!pki_rd_get(&r, PKI_DER_OID, &v->alg))
		return "SESeal: signAlgID";
	if (!pki_rd_get(&r, PKI_DER_BITS, &t) || !pki_tlv_bits(&t, &v->sig, &v->sig_len) ||
	    pki_rd_more(&r))
		return "SESeal: signedValue";
	return NULL;
}

typedef struct ses_view {
	pki_tlv tbs;
	int64_t version, time_info;
	seal_view seal;
	const unsigned char *hash;
	size_t hash_len;
	char property[PROPERTY_MAX];
	pki_tlv cert, alg;
	const unsigned char *sig, *token;
	size_t sig_len, token_len;
} ses_view;

static const char *ses_parse(const void *p, size_t n, ses_view *v)
{
	memset(v, 0, sizeof *v);
	pki_rd r = pki_rd_of(p, n);
	pki_tlv top, t, seal;
	if (!pki_rd_get(&r, PKI_DER_SEQ, &top) || pki_rd_more(&r))
		return "SES_Signature: not one DER SEQUENCE";
	pki_rd in = pki_rd_in(&top);
	if (!pki_rd_get(&in, PKI_DER_SEQ, &v->tbs))
		return "SES_Signature: toSign";
	pki_rd tr = pki_rd_in(&v->tbs);
	if (!pki_rd_get(&tr, PKI_DER_INT, &t) || !pki_tlv_small(&t, &v->version))
		return "TBS_Sign: version";
	if (v->version != 4)
		return "TBS_Sign: only version 4 (GB/T 38540-2020) is read";
	if (!pki_rd_get(&tr, PKI_DER_SEQ, &seal))
		return "TBS_Sign: eseal";
	const char *why = seal_parse(&seal, &v->seal);
	if (why)
		return why;
	if (!pki_rd_get(&tr, PKI_DER_GENTIME, &t) || !pki_tlv_gentime(&t, &v->time_info))
		return "TBS_Sign: timeInfo";
	if (!pki_rd_get(&tr, PKI_DER_BITS, &t) || !pki_tlv_bits(&t, &v->hash, &v->hash_len))
		return "TBS_Sign: dataHash";
	if (!pki_rd_get(&tr, PKI_DER_IA5, &t) || !pki_tlv_ia5(&t, v->property, sizeof v->property))
		return "TBS_Sign: propertyInfo";
	(void)pki_rd_opt(&tr, PKI_DER_SEQ, &t); /* extDatas */
	if (pki_rd_more(&tr))
		return "TBS_Sign: unexpected fields";
	if (!pki_rd_get(&in, PKI_DER_OCTETS, &v->cert))
		return "SES_Signature: cert";
	if (!pki_rd_get(&in, PKI_DER_OID, &v->alg))
		return "SES_Signature: signatureAlgID";
	if (!pki_rd_get(&in, PKI_DER_BITS, &t) || !pki_tlv_bits(&t, &v->sig, &v->sig_len))
		return "SES_Signature: signature";
	if (pki_rd_opt(&in, PKI_DER_CTX(0), &t)) {
		pki_rd ts = pki_rd_in(&t);
		pki_tlv bits;
		if (!pki_rd_get(&ts, PKI_DER_BITS, &bits) ||
		    !pki_tlv_bits(&bits, &v->token, &v->token_len) || pki_rd_more(&ts) ||
		    v->token_len == 0)
			return "SES_Signature: timeStamp";
	}
	if (pki_rd_more(&in))
		return "SES_Signature: unexpected fields";
	return NULL;
}

/* ---- file names in propertyInfo (IA5String: ASCII only) ---- */

static bool plain_ascii(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '%';
}

/* At most FILE_NAME_CHARS characters, whole ones: printable ASCII as it is,
 * every other byte as %XX. */
static void property_encode(const char *name, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t k = 0, chars = 0;
	const unsigned char *p = (const unsigned char *)(name ? name : "");
	while (*p && chars < FILE_NAME_CHARS) {
		size_t len = *p < 0x80 ? 1 : *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 : 2, need = 0;
		for (size_t i = 0; i < len; i++) {
			if (!p[i])
				goto done; /* a cut sequence */
			need += plain_ascii(p[i]) ? 1 : 3;
		}
		if (k + need + 1 > cap)
			break;
		for (size_t i = 0; i < len; i++) {
			if (plain_ascii(p[i])) {
				out[k++] = (char)p[i];
			} else {
				out[k++] = '%';
				out[k++] = hex[p[i] >> 4];
				out[k++] = hex[p[i] & 15];
			}
		}
		p += len;
		chars++;
	}
done:
	out[k] = '\0';
}

/* Percent-decoding when it gives valid UTF-8 without controls, else as is. */
static void property_decode(const char *in, char *out, size_t cap)
{
	size_t k = 0;
	for (const char *p = in; *p && k + 1 < cap; p++) {
		if (*p == '%' && p[1] && p[2]) {
			char h[3] = {p[1], p[2], 0};
			char *end;
			unsigned long b = strtoul(h, &end, 16);
			if (*end == '\0' && b >= 0x20) {
				out[k++] = (char)b;
				p += 2;
				continue;
			}
		}
		out[k++] = *p;
	}
	out[k] = '\0';
	json_t *probe = json_string(out); /* NULL for invalid UTF-8 */
	if (!probe)
		yz_strlcpy(out, in, cap);
	json_decref(probe);
}

/* ---- making a seal ---- */

static const jx_field seal_fields[] = {
    {"org_id", JX_INT, true, 1, 0, NULL},
    {"name", JX_STRING, true, 1, 64, NULL},
    {"width_mm", JX_INT, false, 10, 100, NULL},
    {NULL, 0, false, 0, 0, NULL},
};

/* The seal-making system's signer of a CA: its newest, made when none. */
typedef struct maker_job {
	const yz_actor *who;
	pki_signer_rt *sr;
	const buf *sealed;
} maker_job;

static yz_status maker_job_fn(store_conn *tx, void *arg, yz_err *e)
{
	maker_job *j = arg;
	return pki_signer_record(tx, j->who, j->sr, j->sealed, e);
}

static yz_status maker_open(store *s, const char *data_dir, const yz_actor *who,
                            const pki_ca_rt *ca, pki_signer_rt *sr, yz_err *e)
{
	store_conn *c;
	yz_status st = store_reader(s, &c, e);
	int64_t id = 0;
	store_val v[] = {sv_int(ca->id)};
	if (st == YZ_OK) {
		st = store_query_int(
		    c,
		    "SELECT MAX(id) FROM pki_signer WHERE kind = 'maker' AND ca_id = ? "
		    "AND status = 'active'",
		    v, 1, &id, e);
		if (st == YZ_ENOTFOUND)
			st = YZ_OK;
	}
	if (st != YZ_OK)
		return st;
	if (id)
		return pki_signer_open(c, data_dir, id, sr, e);
	char cn[256];
	snprintf(cn, sizeof cn, "%s 电子印章制作系统", ca->title);
	size_t chars = 0;
	for (const char *p = cn; *p; p++)
		chars += ((unsigned char)*p & 0xc0) != 0x80;
	if (chars > 64)
		snprintf(cn, sizeof cn, "电子印章制作系统 %s", ca->name);
	json_t *sub = json_pack("{s:s}", "cn", cn);
	buf sealed;
	buf_init(&sealed, 64 * 1024);
	yz_strlcpy(sr->name, "电子印章制作系统", sizeof sr->name);
	st = pki_signer_make(s, data_dir, who, ca, "maker", "seal", sub, sr, &sealed, e);
	if (st == YZ_OK) {
		maker_job j = {who, sr, &sealed};
		st = store_write(s, maker_job_fn, &j, e);
		if (st != YZ_OK)
			pki_signer_abandon(s, who, sr);
	}
	json_decref(sub);
	buf_free(&sealed);
	return st;
}

/* Whole seconds: the times of a seal are written without a fraction. */
static int64_t seconds(int64_t ms)
{
	return ms - ms % 1000;
}

static void put_seal_info(pki_der *w, const char *es_id, const char *name, const buf *cert,
                          int64_t created, int64_t start, int64_t end, const picture *pic,
                          const void *data, size_t dn, int width_mm, int height_mm)
{
	pki_der_begin(w, PKI_DER_SEQ); /* SES_SealInfo */
	pki_der_begin(w, PKI_DER_SEQ); /* header */
	pki_der_ia5(w, "ES");
	pki_der_small(w, 4);
	pki_der_ia5(w, PKI_SEAL_VID);
	pki_der_end(w);
	pki_der_ia5(w, es_id);
	pki_der_begin(w, PKI_DER_SEQ); /* property */
	pki_der_small(w, SEAL_TYPE_ORG);
	pki_der_utf8(w, name);
	pki_der_small(w, 1); /* certListType: certificates */
	pki_der_begin(w, PKI_DER_SEQ);
	pki_der_put(w, PKI_DER_OCTETS, cert->p, cert->len);
	pki_der_end(w);
	pki_der_gentime(w, created);
	pki_der_gentime(w, start);
	pki_der_gentime(w, end);
	pki_der_end(w);
	pki_der_begin(w, PKI_DER_SEQ); /* picture */
	pki_der_ia5(w, pic->type);
	pki_der_put(w, PKI_DER_OCTETS, data, dn);
	pki_der_small(w, width_mm);
	pki_der_small(w, height_mm);
	pki_der_end(w);
	pki_der_end(w);
}

typedef struct seal_job {
	const yz_actor *who;
	pki_signer_rt *sr;
	const buf *sealed;
	int64_t maker_id, org_id, now, start, end;
	const char *es_id, *org_path, *org_name, *name, *pic_type;
	int wpx, hpx, wmm, hmm;
	const pki_der *der;
	int64_t id;
} seal_job;

static yz_status seal_job_fn(store_conn *tx, void *arg, yz_err *e)
{
	seal_job *j = arg;
	yz_status st = pki_signer_insert(tx, j->who, j->sr, j->sealed, e);
	if (st != YZ_OK)
		return st;
	store_val v[] = {sv_text(j->es_id),
	                 sv_int(j->sr->id),
	                 sv_int(j->maker_id),
	                 sv_int(j->org_id),
	                 sv_text(j->org_path),
	                 sv_text(j->org_name),
	                 sv_text(j->name),
	                 sv_text(j->pic_type),
	                 sv_int(j->wpx),
	                 sv_int(j->hpx),
	                 sv_int(j->wmm),
	                 sv_int(j->hmm),
	                 sv_int(j->start),
	                 sv_int(j->end),
	                 sv_blob(j->der->b.p, j->der->b.len),
	                 j->who->user_id ? sv_int(j->who->user_id) : sv_null(),
	                 sv_int(j->now),
	                 sv_int(j->now)};
	store_rows *r;
	st = store_query(tx,
	                 "INSERT INTO pki_seal (es_id, signer_id, maker_id, org_id, org_path, "
	                 "org_name, name, picture_type, width_px, height_px, width_mm, height_mm, "
	                 "valid_start, valid_end, der, created_by, created_at, changed_at) VALUES "
	                 "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
	                 v, SV_N(v), &r, e);
	if (st != YZ_OK)
		return st;
	j->id = store_next(r) ? store_col_int(r, 0) : 0;
	if ((st = store_rows_close(r, e)) != YZ_OK)
		return st;
	char object[64];
	snprintf(object, sizeof object, "pki_seal:%lld", (long long)j->id);
	json_t *change =
	    json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:s}", "es_id", j->es_id, "name", j->name,
	              "department", j->org_name, "signer", (json_int_t)j->sr->id, "ca",
	              j->sr->ca->name, "serial", j->sr->serial, "picture", j->pic_type);
	st = audit_append(tx, j->who, "pki.seal.create", object, j->org_path, change, e);
	json_decref(change);
	return st;
}

yz_status pki_seal_create(store *s, const char *data_dir, const yz_actor *who, json_t *in,
                          const void *data, size_t dn, json_t **out, yz_err *e)
{
	yz_status st = jx_validate(in, seal_fields, e);
	picture pic = {0};
	if (!data || dn == 0)
		yz_field(e, "picture", "required", "the seal's image (PNG or JPEG)", NULL);
	else if (dn > PKI_SEAL_PICTURE_MAX)
		yz_field(e, "picture", "max_size", "an image of at most 256 KiB", NULL);
	else if (!picture_of(data, dn, &pic))
		yz_field(e, "picture", "image", "a PNG or JPEG image of at most 4096 pixels a side",
		         NULL);
	if (st != YZ_OK || e->nfield)
		return YZ_EINVAL;
	const pki_ca_rt *ca = pki_signer_ca(CRYPTO_SM2);
	if (!ca)
		return yz_fail(e, YZ_EBUSY, "no SM2 CA is set up here");
	json_t *org = NULL;
	if ((st = pki_sign_org(s, &who->scope, jx_int(in, "org_id", 0), &org, e)) != YZ_OK)
		return st;
	int wmm = (int)jx_int(in, "width_mm", 40);
	int hmm = (int)((wmm * (int64_t)pic.height + pic.width / 2) / pic.width);
	if (hmm < 1)
		hmm = 1;
	pki_signer_rt maker, sr;
	pki_signer_init(&maker);
	pki_signer_init(&sr);
	buf sealed;
	buf_init(&sealed, 64 * 1024);
	pki_der info, seal;
	pki_der_init(&info, SEAL_MAX);
	pki_der_init(&seal, SEAL_MAX);
	buf sig;
	buf_init(&sig, 512);
	json_t *sub = NULL;
	unsigned char rnd[ESID_BYTES];
	char es_id[2 * ESID_BYTES + 1];
	static const char hex[] = "0123456789ABCDEF";
	if (crypto_random(rnd, sizeof rnd) != YZ_OK)
		st = yz_fail(e, YZ_ECRYPTO, "no randomness for a seal id");
	for (size_t i = 0; i < sizeof rnd; i++) {
		es_id[2 * i] = hex[rnd[i] >> 4];
		es_id[2 * i + 1] = hex[rnd[i] & 15];
	}
	es_id[sizeof es_id - 1] = '\0';
	if (st == YZ_OK)
		st = maker_open(s, data_dir, who, ca, &maker, e);
	bool made = false;
	if (st == YZ_OK) {
		yz_strlcpy(sr.name, jx_str(in, "name", ""), sizeof sr.name);
		sr.org_id = jx_int(org, "id", 0);
		yz_strlcpy(sr.org_path, jx_str(org, "path", ""), sizeof sr.org_path);
		sub = pki_sign_subject(org, sr.name);
		st = pki_signer_make(s, data_dir, who, ca, "seal", "seal", sub, &sr, &sealed, e);
		made = st == YZ_OK;
	}
	int64_t now = seconds(clock_now_ms()), end = 0;
	if (st == YZ_OK) {
		X509 *x = pki_x509_parse(sr.cert.p, sr.cert.len);
		end = x ? seconds(pki_asn1_ms(X509_get0_notAfter(x))) : 0;
		X509_free(x);
		if (!end)
			st = yz_fail(e, YZ_ECRYPTO, "cannot read the seal's certificate");
	}
	if (st == YZ_OK) {
		put_seal_info(&info, es_id, sr.name, &sr.cert, now, now, end, &pic, data, dn, wmm,
		              hmm);
		if ((st = pki_der_done(&info)) != YZ_OK)
			st = yz_fail(e, st, "cannot encode the seal");
	}
	if (st == YZ_OK)
		st = crypto_sign(maker.key, info.b.p, info.b.len, &sig, e);
	if (st == YZ_OK) {
		pki_der_begin(&seal, PKI_DER_SEQ);
		pki_der_raw(&seal, info.b.p, info.b.len);
		pki_der_put(&seal, PKI_DER_OCTETS, maker.cert.p, maker.cert.len);
		pki_der_oid(&seal, PKI_OID_SM2_SM3);
		pki_der_bits(&seal, sig.p, sig.len);
		pki_der_end(&seal);
		if ((st = pki_der_done(&seal)) != YZ_OK)
			st = yz_fail(e, st, "cannot encode the seal");
	}
	seal_job j = {.who = who,
	              .sr = &sr,
	              .sealed = &sealed,
	              .maker_id = maker.id,
	              .org_id = sr.org_id,
	              .now = now,
	              .start = now,
	              .end = end,
	              .es_id = es_id,
	              .org_path = sr.org_path,
	              .org_name = jx_str(org, "name", ""),
	              .name = sr.name,
	              .pic_type = pic.type,
	              .wpx = pic.width,
	              .hpx = pic.height,
	              .wmm = wmm,
	              .hmm = hmm,
	              .der = &seal};
	if (st == YZ_OK)
		st = store_write(s, seal_job_fn, &j, e);
	if (st != YZ_OK && made)
		pki_signer_abandon(s, who, &sr);
	if (st == YZ_OK && out) {
		store_conn *c;
		st = store_reader(s, &c, e);
		if (st == YZ_OK)
			st = pki_seal_get(c, NULL, j.id, false, out, e);
	}
	json_decref(sub);
	json_decref(org);
	buf_free(&sig);
	buf_free(&sealed);
	pki_der_free(&info);
	pki_der_free(&seal);
	pki_signer_close(&maker);
	pki_signer_close(&sr);
	return st;
}

/* ---- looking seals up ---- */

#define SEAL_COLS                                                                                  \
	"l.id, l.es_id, l.name, l.org_id, l.org_name, l.status, l.picture_type, l.width_mm, "      \
	"l.height_mm, l.valid_start, l.valid_end, g.ca_id, g.serial, l.created_at, l.org_path, "   \
	"l.width_px, l.height_px"

static json_t *seal_row(store_rows *r)
{
	json_t *o = json_object();
	jx_set_int(o, "id", store_col_int(r, 0));
	jx_set_str(o, "es_id", store_col_text(r, 1));
	jx_set_str(o, "name", store_col_text(r, 2));
	jx_set_int(o, "org_id", store_col_int(r, 3));
	jx_set_str(o, "org_name", store_col_text(r, 4));
	jx_set_str(o, "status", store_col_text(r, 5));
	jx_set_str(o, "picture_type", store_col_text(r, 6));
	jx_set_int(o, "width_mm", store_col_int(r, 7));
	jx_set_int(o, "height_mm", store_col_int(r, 8));
	pki_sign_time(o, "valid_start", store_col_int(r, 9));
	pki_sign_time(o, "valid_end", store_col_int(r, 10));
	const pki_ca_rt *ca = pki_ca_by_id(store_col_int(r, 11));
	jx_set_str(o, "ca", ca ? ca->name : "");
	jx_set_str(o, "serial", store_col_text(r, 12));
	pki_sign_time(o, "created_at", store_col_int(r, 13));
	jx_set_int(o, "width_px", store_col_int(r, 15));
	jx_set_int(o, "height_px", store_col_int(r, 16));
	return o;
}

yz_status pki_seal_list(store_conn *c, const yz_scope *scope, json_t *filter, json_t **out,
                        yz_err *e)
{
	const char *status = jx_str(filter, "status", "");
	int64_t org = jx_int(filter, "org_id", 0);
	store_val v[2];
	int n = 0;
	char sql[512];
	snprintf(sql, sizeof sql,
	         "SELECT " SEAL_COLS " FROM pki_seal l JOIN pki_signer g ON g.id = l.signer_id "
	         "WHERE 1 = 1%s%s ORDER BY l.id DESC LIMIT 500",
	         status[0] ? " AND l.status = ?" : "", org ? " AND l.org_id = ?" : "");
	if (status[0])
		v[n++] = sv_text(status);
	if (org)
		v[n++] = sv_int(org);
	store_rows *r;
	yz_status st = store_query(c, sql, v, n, &r, e);
	if (st != YZ_OK)
		return st;
	json_t *items = json_array();
	while (store_next(r))
		if (!scope || iam_path_in_scope(scope, store_col_text(r, 14)))
			json_array_append_new(items, seal_row(r));
	if ((st = store_rows_close(r, e)) != YZ_OK) {
		json_decref(items);
		return st;
	}
	*out = json_pack("{s:o}", "items", items);
	return YZ_OK;
}

yz_status pki_seal_get(store_conn *c, const yz_scope *scope, int64_t id, bool with_picture,
                       json_t **out, yz_err *e)
{
	store_val v[] = {sv_int(id)};
	store_rows *r;
	yz_status st = store_query(c,
	                           "SELECT " SEAL_COLS ", l.der FROM pki_seal l JOIN pki_signer g "
	                           "ON g.id = l.signer_id WHERE l.id = ?",
	                           v, 1, &r, e);
	if (st != YZ_OK)
		return st;
	json_t *o = NULL;
	if (store_next(r) && (!scope || iam_path_in_scope(scope, store_col_text(r, 14)))) {
		o = seal_row(r);
		size_t n = 0;
		const void *der = store_col_blob(r, 17, &n);
		seal_view sv;
		pki_rd rd = pki_rd_of(der, n);
		pki_tlv top;
		if (with_picture && pki_rd_get(&rd, PKI_DER_SEQ, &top) && !seal_parse(&top, &sv))
			picture_uri(o, sv.pic_type, sv.picture.v, sv.picture.n);
	}
	st = store_rows_close(r, e);
	if (st == YZ_OK && !o)
		st = yz_fail(e, YZ_ENOTFOUND, "no seal %lld within your scope", (long long)id);
	if (st != YZ_OK) {
		json_decref(o);
		return st;
	}
	*out = o;
	return YZ_OK;
}

typedef struct seal_revoke_job {
	const yz_actor *who;
	int64_t id;
	const char *org_path;
	int reason;
} seal_revoke_job;

static yz_status seal_revoke_fn(store_conn *tx, void *arg, yz_err *e)
{
	seal_revoke_job *j = arg;
	int64_t now = clock_now_ms();
	store_val v[] = {sv_int(now), sv_int(j->id)};
	yz_status st =
	    store_exec(tx,
	               "UPDATE pki_seal SET status = 'revoked', changed_at = ? WHERE id = ? "
	               "AND status = 'active'",
	               v, 2, e);
	if (st != YZ_OK)
		return st;
	if (store_changes(tx) != 1)
		return yz_fail(e, YZ_ECONFLICT, "the seal is revoked already");
	char object[64];
	snprintf(object, sizeof object, "pki_seal:%lld", (long long)j->id);
	json_t *change = json_pack("{s:s, s:s, s:s}", "from", "active", "to", "revoked", "reason",
	                           pki_reason_name(j->reason));
	st = audit_append(tx, j->who, "pki.seal.revoke", object, j->org_path, change, e);
	json_decref(change);
	return st;
}

yz_status pki_seal_revoke(store *s, const yz_actor *who, int64_t id, int reason, yz_err *e)
{
	if (reason < 0)
		reason = PKI_CESSATION;
	if (reason > 10 || reason == 7 || reason == 8 || reason == PKI_CERTIFICATE_HOLD)
		return yz_field(e, "reason", "enum", "an RFC 5280 reason code other than hold",
		                NULL);
	store_conn *c;
	json_t *seal = NULL;
	yz_status st = store_reader(s, &c, e);
	if (st == YZ_OK)
		st = pki_seal_get(c, &who->scope, id, false, &seal, e);
	if (st != YZ_OK)
		return st;
	char path[256] = "";
	store_val v[] = {sv_int(id)};
	store_rows *r;
	if ((st = store_query(c, "SELECT org_path FROM pki_seal WHERE id = ?", v, 1, &r, e)) ==
	    YZ_OK) {
		if (store_next(r))
			yz_strlcpy(path, store_col_text(r, 0), sizeof path);
		st = store_rows_close(r, e);
	}
	if (st == YZ_OK && strcmp(jx_str(seal, "status", ""), "active"))
		st = yz_fail(e, YZ_ECONFLICT, "the seal is revoked already");
	seal_revoke_job j = {who, id, path, reason};
	if (st == YZ_OK)
		st = store_write(s, seal_revoke_fn, &j, e);
	/* its certificate too, so every verifier learns it (CRL, OCSP, ours) */
	if (st == YZ_OK) {
		yz_err re = {0};
		yz_status rs = pki_revoke(s, who, jx_str(seal, "ca", ""),
		                          jx_str(seal, "serial", ""), reason, &re);
		if (rs != YZ_OK && rs != YZ_ECONFLICT) {
			*e = re;
			st = rs;
		}
	}
	json_decref(seal);
	return st;
}

/* ---- applying a seal ---- */

yz_status pki_seal_apply(store *s, const char *data_dir, const yz_actor *who,
                         const pki_seal_apply_in *in, buf *ses, json_t **out, yz_err *e)
{
	if (!in->data && !in->sm3)
		return yz_field(e, "file", "required", "the document (or its SM3 hash)", NULL);
	store_conn *c;
	yz_status st = store_reader(s, &c, e);
	store_val v[] = {sv_int(in->seal_id)};
	store_rows *r;
	if (st == YZ_OK)
		st = store_query(
		    c,
		    "SELECT signer_id, org_path, status, valid_start, valid_end, der, name, "
		    "org_name FROM pki_seal WHERE id = ?",
		    v, 1, &r, e);
	if (st != YZ_OK)
		return st;
	bool found = store_next(r);
	int64_t signer_id = 0, from = 0, to = 0;
	char path[256] = "", status[16] = "", name[256] = "", org_name[256] = "";
	buf seal;
	buf_init(&seal, SEAL_MAX);
	if (found) {
		signer_id = store_col_int(r, 0);
		yz_strlcpy(path, store_col_text(r, 1), sizeof path);
		yz_strlcpy(status, store_col_text(r, 2), sizeof status);
		from = store_col_int(r, 3);
		to = store_col_int(r, 4);
		size_t n = 0;
		const void *der = store_col_blob(r, 5, &n);
		if (buf_append(&seal, der, n) != YZ_OK)
			found = false;
		yz_strlcpy(name, store_col_text(r, 6), sizeof name);
		yz_strlcpy(org_name, store_col_text(r, 7), sizeof org_name);
	}
	st = store_rows_close(r, e);
	int64_t now = seconds(clock_now_ms());
	if (st == YZ_OK && (!found || !iam_path_in_scope(&who->scope, path)))
		st = yz_field(e, "seal_id", "scope", "a seal of a department within your scope",
		              NULL);
	else if (st == YZ_OK && strcmp(status, "active"))
		st = yz_fail(e, YZ_ECONFLICT, "the seal %s is %s", name, status);
	else if (st == YZ_OK && (now < from - 1000 || now > to))
		st = yz_fail(e, YZ_ECONFLICT, "the seal %s is outside its validity", name);
	pki_signer_rt sr;
	pki_signer_init(&sr);
	if (st == YZ_OK)
		st = pki_signer_open(c, data_dir, signer_id, &sr, e);
	if (st == YZ_OK)
		st = pki_signer_cert_ok(c, &sr, e);
	unsigned char hash[CRYPTO_SM3_LEN];
	if (in->data)
		crypto_sm3(in->data, in->n, hash);
	else
		memcpy(hash, in->sm3, sizeof hash);
	char property[PROPERTY_MAX];
	property_encode(in->file_name, property, sizeof property);
	pki_der tbs, w;
	pki_der_init(&tbs, SES_MAX);
	pki_der_init(&w, SES_MAX);
	buf sig, token;
	buf_init(&sig, 512);
	buf_init(&token, 256 * 1024);
	char tsa_serial[80] = "";
	if (st == YZ_OK) {
		pki_der_begin(&tbs, PKI_DER_SEQ); /* TBS_Sign */
		pki_der_small(&tbs, 4);
		pki_der_raw(&tbs, seal.p, seal.len);
		pki_der_gentime(&tbs, now);
		pki_der_bits(&tbs, hash, sizeof hash);
		pki_der_ia5(&tbs, property);
		pki_der_end(&tbs);
		if ((st = pki_der_done(&tbs)) != YZ_OK)
			st = yz_fail(e, st, "cannot encode TBS_Sign");
	}
	if (st == YZ_OK)
		st = crypto_sign(sr.key, tbs.b.p, tbs.b.len, &sig, e);
	if (st == YZ_OK)
		st = pki_signer_timestamp(s, CRYPTO_SM2, sig.p, sig.len, &token, tsa_serial,
		                          sizeof tsa_serial, e);
	if (st == YZ_OK) {
		pki_der_begin(&w, PKI_DER_SEQ); /* SES_Signature */
		pki_der_raw(&w, tbs.b.p, tbs.b.len);
		pki_der_put(&w, PKI_DER_OCTETS, sr.cert.p, sr.cert.len);
		pki_der_oid(&w, PKI_OID_SM2_SM3);
		pki_der_bits(&w, sig.p, sig.len);
		if (token.len) {
			pki_der_begin(&w, PKI_DER_CTX(0));
			pki_der_bits(&w, token.p, token.len);
			pki_der_end(&w);
		}
		pki_der_end(&w);
		if ((st = pki_der_done(&w)) != YZ_OK)
			st = yz_fail(e, st, "cannot encode SES_Signature");
	}
	int64_t id = 0;
	if (st == YZ_OK)
		st = pki_sign_record(s, who, "seal", signer_id, in->seal_id, path, now, "sm3", hash,
		                     sizeof hash, in->file_name, tsa_serial, &w.b, &id, e);
	if (st == YZ_OK && buf_append(ses, w.b.p, w.b.len) != YZ_OK)
		st = yz_fail(e, YZ_ETOOBIG, "the signed seal is too large");
	if (st == YZ_OK && out) {
		json_t *o = json_object();
		jx_set_int(o, "id", id);
		jx_set_int(o, "seal_id", in->seal_id);
		jx_set_str(o, "seal", name);
		jx_set_str(o, "department", org_name);
		jx_set_str(o, "file_name", in->file_name ? in->file_name : "");
		pki_sign_hex(o, "hash", hash, sizeof hash);
		pki_sign_time(o, "signed_at", now);
		if (tsa_serial[0])
			jx_set_str(o, "tsa_serial", tsa_serial);
		char url[96];
		snprintf(url, sizeof url, "/api/v1/pki/signatures/%lld.ses", (long long)id);
		jx_set_str(o, "download", url);
		*out = o;
	}
	buf_free(&seal);
	buf_free(&sig);
	buf_free(&token);
	pki_der_free(&tbs);
	pki_der_free(&w);
	pki_signer_close(&sr);
	return st;
}

yz_status pki_signature_get(store_conn *c, const yz_actor *who, const yz_scope *scope, int64_t id,
                            json_t **out, buf *der, yz_err *e)
{
	store_val v[] = {sv_int(id)};
	store_rows *r;
	yz_status st = store_query(
	    c,
	    "SELECT s.kind, s.signer_id, COALESCE(s.seal_id, 0), COALESCE(s.user_id, 0), s.login, "
	    "s.signed_at, s.hash_alg, s.hash, s.file_name, COALESCE(s.tsa_serial, ''), s.der, "
	    "COALESCE(l.org_path, g.org_path), COALESCE(l.name, g.name), COALESCE(l.org_name, '') "
	    "FROM pki_signature s JOIN pki_signer g ON g.id = s.signer_id LEFT JOIN pki_seal l ON "
	    "l.id = s.seal_id WHERE s.id = ?",
	    v, 1, &r, e);
	if (st != YZ_OK)
		return st;
	json_t *o = NULL;
	if (store_next(r) && ((who && who->user_id && store_col_int(r, 3) == who->user_id) ||
	                      !scope || iam_path_in_scope(scope, store_col_text(r, 11)))) {
		o = json_object();
		jx_set_int(o, "id", id);
		jx_set_str(o, "kind", store_col_text(r, 0));
		jx_set_int(o, "signer_id", store_col_int(r, 1));
		if (store_col_int(r, 2))
			jx_set_int(o, "seal_id", store_col_int(r, 2));
		jx_set_str(o, "signer", store_col_text(r, 12));
		if (store_col_text(r, 13)[0])
			jx_set_str(o, "department", store_col_text(r, 13));
		jx_set_str(o, "login", store_col_text(r, 4));
		pki_sign_time(o, "signed_at", store_col_int(r, 5));
		jx_set_str(o, "hash_alg", store_col_text(r, 6));
		size_t hn = 0;
		const void *h = store_col_blob(r, 7, &hn);
		pki_sign_hex(o, "hash", h, hn);
		jx_set_str(o, "file_name", store_col_text(r, 8));
		if (store_col_text(r, 9)[0])
			jx_set_str(o, "tsa_serial", store_col_text(r, 9));
		char url[96];
		snprintf(url, sizeof url, "/api/v1/pki/signatures/%lld.%s", (long long)id,
		         !strcmp(store_col_text(r, 0), "seal") ? "ses" : "p7s");
		jx_set_str(o, "download", url);
		size_t dn = 0;
		const void *d = store_col_blob(r, 10, &dn);
		if (der && buf_append(der, d, dn) != YZ_OK) {
			json_decref(o);
			o = NULL;
		}
	}
	st = store_rows_close(r, e);
	if (st == YZ_OK && !o)
		st = yz_fail(e, YZ_ENOTFOUND, "no signature %lld of yours", (long long)id);
	if (st != YZ_OK) {
		json_decref(o);
		return st;
	}
	*out = o;
	return YZ_OK;
}

/* ---- verifying an applied seal ---- */

static bool sm2_alg(const pki_tlv *oid)
{
	return pki_tlv_oid_is(oid, PKI_OID_SM2_SM3) || pki_tlv_oid_is(oid, PKI_OID_SM2_SIGN);
}

/* Whether the signer's certificate is one the seal lists. */
static bool cert_listed(const seal_view *sv, const pki_tlv *cert)
{
	unsigned char h[CRYPTO_SM3_LEN];
	crypto_sm3(cert->v, cert->n, h);
	for (int i = 0; i < sv->ncerts; i++) {
		const pki_tlv *t = &sv->certs[i];
		if (sv->cert_list_type == 1) {
			if (t->n == cert->n && !memcmp(t->v, cert->v, t->n))
				return true;
			continue;
		}
		/* CertDigestObj {type PrintableString, value OCTET STRING}: SM3 only */
		pki_rd r = pki_rd_in(t);
		pki_tlv type, value;
		if (pki_rd_get(&r, PKI_DER_PRINT, &type) &&
		    pki_rd_get(&r, PKI_DER_OCTETS, &value) && type.n == 3 &&
		    !strncasecmp((const char *)type.v, "sm3", 3) && value.n == sizeof h &&
		    !memcmp(value.v, h, sizeof h))
			return true;
	}
	return false;
}

/* Whether the seal is one of ours, byte for byte as recorded. */
static yz_status seal_known(store *s, const seal_view *sv, json_t *o, yz_err *e)
{
	store_conn *c;
	store_rows *r;
	store_val v[] = {sv_text(sv->es_id)};
	yz_status st = store_reader(s, &c, e);
	if (st == YZ_OK)
		st = store_query(c, "SELECT der, id FROM pki_seal WHERE es_id = ?", v, 1, &r, e);
	if (st != YZ_OK)
		return st;
	bool found = store_next(r), same = false;
	if (found) {
		size_t n = 0;
		const void *der = store_col_blob(r, 0, &n);
		same = n == sv->raw.rawn && !memcmp(der, sv->raw.raw, n);
		if (same)
			jx_set_int(json_object_get(o, "seal"), "id", store_col_int(r, 1));
	}
	if ((st = store_rows_close(r, e)) != YZ_OK)
		return st;
	jx_set_bool(json_object_get(o, "seal"), "ours", same);
	if (!found)
		pki_verify_fail(
		    o, "seal_unknown",
		    "the seal (esID) was not made by this platform's seal-making system");
	else if (!same)
		pki_verify_fail(o, "seal_unknown",
		                "the seal differs from the one this platform made under its esID");
	return YZ_OK;
}

yz_status pki_verify_seal(store *s, const void *in, size_t n, const void *data, size_t dn,
                          json_t **info, yz_err *e)
{
	if (!in || n == 0 || n > PKI_SIGNATURE_MAX)
		return yz_field(e, "signature", "ses", "an SES_Signature (GB/T 38540) in DER",
		                NULL);
	ses_view sv;
	const char *why = ses_parse(in, n, &sv);
	if (why)
		return yz_field(e, "signature", "ses", "an SES_Signature (GB/T 38540) in DER", why);
	pki_cert_view signer, maker;
	yz_err ve = {0};
	if (pki_cert_view_open(sv.cert.v, sv.cert.n, &signer, &ve) != YZ_OK)
		return yz_field(e, "signature", "ses", "SES_Signature: cert, a certificate",
		                ve.msg);
	ve = (yz_err){0};
	if (pki_cert_view_open(sv.seal.maker.v, sv.seal.maker.n, &maker, &ve) != YZ_OK) {
		pki_cert_view_close(&signer);
		return yz_field(e, "signature", "ses", "SESeal: cert, the maker's certificate",
		                ve.msg);
	}
	json_t *o = pki_verify_frame("seal");
	json_object_set_new(o, "signer", pki_cert_view_json(&signer));
	json_t *seal = json_object();
	jx_set_str(seal, "name", sv.seal.name);
	jx_set_str(seal, "es_id", sv.seal.es_id);
	jx_set_str(seal, "vid", sv.seal.vid);
	jx_set_int(seal, "type", sv.seal.type);
	jx_set_str(seal, "department", signer.o[0] ? signer.o : signer.cn);
	jx_set_int(seal, "width_mm", sv.seal.width);
	jx_set_int(seal, "height_mm", sv.seal.height);
	pki_sign_time(seal, "valid_start", sv.seal.valid_start);
	pki_sign_time(seal, "valid_end", sv.seal.valid_end);
	pki_sign_time(seal, "created_at", sv.seal.created);
	jx_set_str(seal, "maker", maker.subject);
	jx_set_str(seal, "picture_type", sv.seal.pic_type);
	picture_uri(seal, sv.seal.pic_type, sv.seal.picture.v, sv.seal.picture.n);
	json_object_set_new(o, "seal", seal);
	pki_sign_time(o, "signed_at", sv.time_info);
	/* the document */
	unsigned char h[CRYPTO_SM3_LEN];
	crypto_sm3(data ? data : "", data ? dn : 0, h);
	bool matches = sv.hash_len == sizeof h && !memcmp(sv.hash, h, sizeof h);
	json_t *doc = json_object();
	jx_set_str(doc, "hash_alg", "sm3");
	pki_sign_hex(doc, "hash", h, sizeof h);
	pki_sign_hex(doc, "signed_hash", sv.hash, sv.hash_len);
	jx_set_bool(doc, "matches", matches);
	char name[PROPERTY_MAX];
	property_decode(sv.property, name, sizeof name);
	jx_set_str(doc, "file_name", name);
	json_object_set_new(o, "document", doc);
	/* 1. the signature over toSign, by the signer's certificate */
	if (!sm2_alg(&sv.alg) || crypto_key_alg(signer.key) != CRYPTO_SM2)
		pki_verify_fail(o, "signature",
		                "the signature is not SM2 with SM3 (1.2.156.10197.1.501), the only "
		                "algorithm of a seal");
	else if (crypto_verify(signer.key, sv.tbs.raw, sv.tbs.rawn, sv.sig, sv.sig_len, NULL) !=
	         YZ_OK)
		pki_verify_fail(o, "signature",
		                "the signature over TBS_Sign does not verify with the signer's "
		                "certificate (SM2, ID 1234567812345678)");
	/* 2. the signer is the seal's holder */
	if (!cert_listed(&sv.seal, &sv.cert))
		pki_verify_fail(o, "signer_not_in_seal",
		                "the signer's certificate is not in the seal's certificate list");
	/* 3. a seal this platform made: the very bytes it recorded under the
	 * esID. Without this, anyone holding a certificate of one of our CAs
	 * could make a "seal" of any name and picture, sign it as its own
	 * maker, and pass every other check. */
	yz_status st = seal_known(s, &sv.seal, o, e);
	if (st != YZ_OK) {
		pki_cert_view_close(&signer);
		pki_cert_view_close(&maker);
		json_decref(o);
		return st;
	}
	/* 4. the maker's signature on the seal */
	if (!sm2_alg(&sv.seal.alg) || crypto_key_alg(maker.key) != CRYPTO_SM2 ||
	    crypto_verify(maker.key, sv.seal.info.raw, sv.seal.info.rawn, sv.seal.sig,
	                  sv.seal.sig_len, NULL) != YZ_OK)
		pki_verify_fail(o, "seal_signature",
		                "the maker's signature on the seal does not verify (SM2, ID "
		                "1234567812345678)");
	/* 5. when: the time-stamp over the signature, else the claimed time */
	int64_t when = sv.time_info;
	if (sv.token) {
		int64_t gen = 0;
		json_t *ts = NULL;
		ve = (yz_err){0};
		if (pki_signer_check_token(sv.token, sv.token_len, sv.sig, sv.sig_len, &gen, &ts,
		                           &ve) == YZ_OK) {
			json_object_set_new(o, "timestamp", ts);
			jx_set_bool(o, "trusted_time", true);
			when = gen;
		} else {
			pki_verify_fail(o, "timestamp", ve.msg);
		}
	}
	pki_sign_time(o, "time", when);
	/* 6. the certificates: ours and valid then */
	ve = (yz_err){0};
	if (pki_cert_view_check(&maker, when, &ve) != YZ_OK) {
		char why2[600];
		snprintf(why2, sizeof why2, "the seal maker's certificate: %s", ve.msg);
		pki_verify_fail(o, "maker_certificate", why2);
	}
	ve = (yz_err){0};
	if (pki_cert_view_check(&signer, when, &ve) != YZ_OK)
		pki_verify_fail(o, "certificate_chain", ve.msg);
	/* 7. the seal's own validity */
	if (when < sv.seal.valid_start - 1000 || when > sv.seal.valid_end)
		pki_verify_fail(o, "seal_validity", "the seal was not valid at the signing time");
	/* 8. the signer certificate's status then */
	json_t *status = NULL;
	bool bad_then = false;
	st = pki_cert_view_status(s, &signer, when, &status, &bad_then, e);
	if (st == YZ_OK) {
		if (bad_then) {
			char reason[200];
			snprintf(reason, sizeof reason,
			         "the seal's certificate was %s (%s) before the seal was applied",
			         jx_str(status, "status", ""), jx_str(status, "reason", ""));
			pki_verify_fail(o, "certificate_status", reason);
		}
		json_object_set_new(o, "certificate", status);
	}
	/* 9. the document */
	if (!matches)
		pki_verify_fail(o, "document_hash",
		                "the document's SM3 hash does not match the sealed hash");
	if (st == YZ_OK && !json_object_get(o, "failed_check")) {
		jx_set_str(o, "verdict", "valid");
		jx_set_bool(o, "valid", true);
	}
	pki_cert_view_close(&signer);
	pki_cert_view_close(&maker);
	if (st != YZ_OK) {
		json_decref(o);
		return st;
	}
	*info = o;
	return YZ_OK;
}
